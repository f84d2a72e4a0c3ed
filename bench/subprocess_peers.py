#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""asyncio / uvloop peers of bench_subprocess (bench/run_subprocess.sh).

usage: subprocess_peers.py asyncio|uvloop spawn N PARALLEL
       subprocess_peers.py asyncio|uvloop pipe FILE
Prints `wall_s=... cpu_s=...` like bench_subprocess (this process's user+system time).
"""
import asyncio
import resource
import sys
import time


def cpu():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def spawn(n, par):
    sem = asyncio.Semaphore(par)

    async def one():
        async with sem:
            p = await asyncio.create_subprocess_exec("/bin/true")
            await p.wait()

    await asyncio.gather(*(one() for _ in range(n)))


async def pipe(path):
    p = await asyncio.create_subprocess_exec("cat", path, stdin=asyncio.subprocess.DEVNULL,
                                             stdout=asyncio.subprocess.PIPE)
    total = 0
    while True:
        chunk = await p.stdout.read(256 * 1024)
        if not chunk:
            break
        total += len(chunk)
    await p.wait()
    return total


def main():
    peer, mode = sys.argv[1], sys.argv[2]
    if peer == "uvloop":
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    run = asyncio.run
    t0, c0 = time.monotonic(), cpu()
    if mode == "spawn":
        run(spawn(int(sys.argv[3]), int(sys.argv[4])))
        print(f"wall_s={time.monotonic() - t0:.4f} cpu_s={cpu() - c0:.4f}")
    else:
        total = run(pipe(sys.argv[3]))
        print(f"wall_s={time.monotonic() - t0:.4f} cpu_s={cpu() - c0:.4f} bytes={total}")


if __name__ == "__main__":
    main()
