#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A silent peer (RELIABILITY.md §0): echo_server --idle-timeout closes a connection whose client
vanished without FIN or RST.

usage: check_silent_peer.py ECHO_SERVER

Makes two network namespaces of its own joined by a veth pair (10.77.0.1 and 10.77.0.2 exist only
inside them; nothing in the machine's own namespace is touched), runs the server in one and a
client in the other, then sets the client's link down: the client is now a blackhole. The server
must drop the connection (its descriptor count back to the baseline) within the idle limit plus
a margin. Skips (exit 77) with a message when namespaces cannot be made (not root, no netns).
"""
import os
import re
import socket
import subprocess
import sys
import time

LIMIT = 1.0
ns_srv, ns_cli = f"bulb_srv_{os.getpid()}", f"bulb_cli_{os.getpid()}"


def ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def main():
    exe = os.path.abspath(sys.argv[1])
    try:
        ip("netns", "add", ns_srv)
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        print(f"SKIP: cannot make a network namespace ({getattr(e, 'stderr', e)!s})".strip())
        sys.exit(77)
    server = None
    try:
        ip("netns", "add", ns_cli)
        ip("-n", ns_srv, "link", "add", "v_srv", "type", "veth", "peer", "name", "v_cli", "netns", ns_cli)
        ip("-n", ns_srv, "addr", "add", "10.77.0.1/30", "dev", "v_srv")
        ip("-n", ns_cli, "addr", "add", "10.77.0.2/30", "dev", "v_cli")
        for ns, dev in ((ns_srv, "v_srv"), (ns_cli, "v_cli"), (ns_srv, "lo"), (ns_cli, "lo")):
            ip("-n", ns, "link", "set", dev, "up")
        server = subprocess.Popen(["ip", "netns", "exec", ns_srv, exe, "--host", "10.77.0.1", "--port", "0",
                                   "--idle-timeout", str(LIMIT)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        m = re.match(r"^listening on 10\.77\.0\.1:(\d+)$", server.stdout.readline().strip())
        if not m:
            raise SystemExit("FAIL: no listening line")
        port = int(m.group(1))
        pid = server.pid  # `ip netns exec` execs the program: same pid
        base = len(os.listdir(f"/proc/{pid}/fd"))
        client = subprocess.Popen(["ip", "netns", "exec", ns_cli, sys.executable, "-c",
                                   "import socket,sys,time\n"
                                   f"s=socket.create_connection(('10.77.0.1',{port}),timeout=5)\n"
                                   "s.sendall(b'ping\\n'); assert s.recv(5)==b'ping\\n'\n"
                                   "print('connected',flush=True); time.sleep(30)"],
                                  stdout=subprocess.PIPE, text=True)
        if client.stdout.readline().strip() != "connected":
            raise SystemExit("FAIL: the client did not get its echo")
        t_echo = time.monotonic()  # the connection's last activity
        if len(os.listdir(f"/proc/{pid}/fd")) != base + 1:
            raise SystemExit("FAIL: the server does not hold the connection")
        ip("-n", ns_cli, "link", "set", "v_cli", "down")  # silent from now on: no FIN, no RST
        t0 = time.monotonic()
        while len(os.listdir(f"/proc/{pid}/fd")) > base:
            if time.monotonic() - t0 > LIMIT + 3:
                raise SystemExit(f"FAIL: the server still holds the silent peer after {LIMIT + 3} s")
            time.sleep(0.02)
        took = time.monotonic() - t_echo
        if took < LIMIT - 0.05:
            raise SystemExit(f"FAIL: dropped {took:.2f} s after its last echo, before the {LIMIT} s limit")
        print(f"  silent peer dropped {took:.2f} s after its last echo ({time.monotonic() - t0:.2f} s after "
              f"its link went down; limit {LIMIT} s)")
        client.kill()
        client.wait()
        server.terminate()
        _, err = server.communicate(timeout=20)
        if server.returncode != 0 or err:
            raise SystemExit(f"FAIL: server exit {server.returncode}, stderr {err!r}")
        print("ok")
    finally:
        if server and server.poll() is None:
            server.kill()
        ip("netns", "del", ns_cli, check=False)
        ip("netns", "del", ns_srv, check=False)


if __name__ == "__main__":
    main()
