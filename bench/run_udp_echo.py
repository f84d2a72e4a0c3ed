#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""UDP echo request/response benchmark: bulb's udp_echo_server (callback API, and --coro for the
coroutine DatagramSocket) next to a raw epoll recvfrom/sendto server in C (the floor), asyncio
and uvloop DatagramProtocol servers, in the same run.

usage: bench/run_udp_echo.py [BUILD_DIR]     (default: build)
environment: REPEAT (3), DURATION (2 s), CASES ("1x64 1x1400 64x64 64x1400": CLIENTSxBYTES),
             ONLY (space-separated server names), CPU_SERVER (0), CPU_LOAD (1)

The server runs pinned to CPU_SERVER, the load generator (bench/udp_echo_load.c: CLIENTS
connected sockets, one datagram outstanding each) to CPU_LOAD. Reported per case and server:
requests per second and server CPU per request (utime+stime from /proc/PID/stat over the
measured seconds), the median over REPEAT runs interleaved across servers, and its ratio to
the floor's median.
"""
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TICK = os.sysconf("SC_CLK_TCK")


def build_c(build):
    out = os.path.join(build, "bench")
    os.makedirs(out, exist_ok=True)
    for name in ("udp_epoll_echo", "udp_echo_load"):
        exe = os.path.join(out, name)
        src = os.path.join(HERE, name + ".c")
        if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
            subprocess.run(["cc", "-O2", "-o", exe, src], check=True)
    return out


def servers(build, cbin):
    py = "/usr/bin/python3"
    s = {
        "epoll_floor": [os.path.join(cbin, "udp_epoll_echo"), "--port", "0"],
        "bulb": [os.path.join(build, "examples", "udp_echo_server"), "--port", "0"],
        "bulb_coro": [os.path.join(build, "examples", "udp_echo_server"), "--coro", "--port", "0"],
        "asyncio": [py, os.path.join(HERE, "asyncio_udp_echo.py"), "--port", "0"],
    }
    if subprocess.run([py, "-c", "import uvloop"], capture_output=True).returncode == 0:
        s["uvloop"] = [py, os.path.join(HERE, "asyncio_udp_echo.py"), "--uvloop", "--port", "0"]
    only = os.environ.get("ONLY")
    if only:
        s = {k: v for k, v in s.items() if k in only.split()}
    return s


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def run_one(cmd, load, clients, size, duration):
    cpu_s = os.environ.get("CPU_SERVER", "0")
    cpu_l = os.environ.get("CPU_LOAD", "1")
    srv = subprocess.Popen(["taskset", "-c", cpu_s, *cmd], stdout=subprocess.PIPE, text=True)
    try:
        line = srv.stdout.readline()
        m = re.search(r"listening on .*:(\d+)", line)
        if not m:
            raise RuntimeError(f"{cmd}: {line!r}")
        port = m.group(1)
        warmup = 0.5
        lp = subprocess.Popen(["taskset", "-c", cpu_l, load, "--port", port, "--clients", str(clients), "--size",
                               str(size), "--duration", str(duration), "--warmup", str(warmup)],
                              stdout=subprocess.PIPE, text=True)
        time.sleep(warmup)
        c0 = cpu_ticks(srv.pid)
        out, _ = lp.communicate(timeout=duration + 30)
        c1 = cpu_ticks(srv.pid)
        m = re.search(r"requests (\d+) lost (\d+)", out)
        requests, lost = int(m.group(1)), int(m.group(2))
        cpu = (c1 - c0) / TICK
        return requests / duration, (cpu / requests * 1e6 if requests else float("inf")), lost
    finally:
        srv.terminate()
        try:
            srv.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            srv.kill()


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
    cbin = build_c(build)
    load = os.path.join(cbin, "udp_echo_load")
    srvs = servers(build, cbin)
    repeat = int(os.environ.get("REPEAT", "3"))
    duration = float(os.environ.get("DURATION", "2"))
    cases = [tuple(map(int, c.split("x"))) for c in os.environ.get("CASES", "1x64 1x1400 64x64 64x1400").split()]
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at start, REPEAT={repeat} DURATION={duration}")
    print("| clients x bytes | server | req/s (median) | server CPU us/req (median) | ratio to floor | lost |")
    print("|---|---|---|---|---|---|")
    for clients, size in cases:
        results = {name: [] for name in srvs}
        for _ in range(repeat):
            for name, cmd in srvs.items():  # interleaved: a slow spell hits every server
                results[name].append(run_one(cmd, load, clients, size, duration))
        floor = statistics.median(r[1] for r in results["epoll_floor"]) if "epoll_floor" in results else None
        for name, rs in results.items():
            rps = statistics.median(r[0] for r in rs)
            us = statistics.median(r[1] for r in rs)
            lost = sum(r[2] for r in rs)
            ratio = f"{us / floor:.2f}x" if floor else "-"
            print(f"| {clients} x {size} | {name} | {rps:,.0f} | {us:.2f} | {ratio} | {lost} |", flush=True)
    print(f"# load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
