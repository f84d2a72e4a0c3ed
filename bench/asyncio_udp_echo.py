#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""asyncio (or uvloop with --uvloop) DatagramProtocol echo server, the peer of bench/run_udp_echo.sh.

usage: asyncio_udp_echo.py [--uvloop] [--port N]   (prints "listening on 127.0.0.1:PORT")
"""
import asyncio
import signal
import sys


class Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.transport.sendto(data, addr)


async def main(port):
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", port))
    print("listening on 127.0.0.1:%d" % transport.get_extra_info("sockname")[1], flush=True)
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    await stop
    transport.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    port = int(args[args.index("--port") + 1]) if "--port" in args else 0
    if "--uvloop" in args:
        import uvloop
        uvloop.install()
    asyncio.run(main(port))
