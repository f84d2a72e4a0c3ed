#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""run_kv.py: examples/kv_server against redis-server (--save '' --appendonly no, io-threads 1) in
the same run, driven by redis-benchmark.

Both servers are pinned to CPU 0, redis-benchmark to CPU 1. For each round, pipeline depth and
test (SET, GET, INCR, MSET of 10 keys, MGET of 10 keys), the two servers run back to back;
the report gives medians over rounds of requests per second and of server CPU per request
(utime + stime of the server process over the run, from /proc), and the ratio bulb / redis.
Then KiB of RSS per idle client (N clients connected, each having sent one PING).

    bench/run_kv.py [--kv build/examples/kv_server] [-n 200000] [-c 50] [--rounds 3] [--idle 2000]

Loopback only. Needs redis-server and redis-tools (apt-get install redis-server redis-tools).
"""
import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")
TESTS = ["set", "get", "incr", "mset", "mget"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_port(port):
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on {port}")


def bench(port, test, n, clients, pipeline):
    cmd = ["taskset", "-c", "1", "redis-benchmark", "-p", str(port), "-n", str(n), "-c", str(clients), "-P",
           str(pipeline), "-r", "100000", "-q"]
    cmd += ["MGET"] + ["key:__rand_int__"] * 10 if test == "mget" else ["-t", test]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout.replace("\r", "\n")
    m = re.findall(r": ([\d.]+) requests per second", out)
    if not m:
        sys.exit(f"redis-benchmark printed no figure for {test}: {out[-300:]!r}")
    return float(m[-1])


def idle_memory(pid, port, count):
    before = rss_kib(pid)
    conns = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        conns.append(s)
    for s in conns:
        if s.recv(64) != b"+PONG\r\n":
            sys.exit("no PONG")
    time.sleep(0.5)
    after = rss_kib(pid)
    for s in conns:
        s.close()
    return (after - before) / count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kv", default="build/examples/kv_server")
    ap.add_argument("-n", type=int, default=200000)
    ap.add_argument("-c", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--idle", type=int, default=2000)
    ap.add_argument("--pipelines", default="1,16")
    a = ap.parse_args()

    rport, bport = free_port(), free_port()
    redis = subprocess.Popen(["taskset", "-c", "0", "redis-server", "--port", str(rport), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--io-threads", "1", "--maxclients", "20000",
                              "--logfile", "", "--loglevel", "warning"], stdout=subprocess.DEVNULL)
    bulb = subprocess.Popen(["taskset", "-c", "0", a.kv, "--port", str(bport), "--max-clients", "20000"],
                            stdout=subprocess.DEVNULL)
    servers = {"redis": (redis.pid, rport), "bulb": (bulb.pid, bport)}
    try:
        for _, port in servers.values():
            wait_port(port)
        version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.strip()
        print(f"# kv_server vs redis-server, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        print(f"{version}; kv_server {a.kv}; -n {a.n} -c {a.c}, {a.rounds} rounds; servers on CPU 0, "
              f"redis-benchmark on CPU 1; load average {os.getloadavg()[0]:.2f} at start\n")
        mem = {name: idle_memory(pid, port, a.idle) for name, (pid, port) in servers.items()}
        rows = []
        for pipeline in [int(p) for p in a.pipelines.split(",")]:
            results = {(t, s): ([], []) for t in TESTS for s in servers}
            for r in range(a.rounds):
                for test in TESTS:
                    order = list(servers) if r % 2 == 0 else list(reversed(servers))
                    for name in order:
                        pid, port = servers[name]
                        c0 = cpu_seconds(pid)
                        rps = bench(port, test, a.n, a.c, pipeline)
                        cpu = (cpu_seconds(pid) - c0) / a.n * 1e6
                        results[(test, name)][0].append(rps)
                        results[(test, name)][1].append(cpu)
                        print(f"  round {r + 1} -P {pipeline} {test:5} {name:5} {rps:12.0f} req/s "
                              f"{cpu:6.2f} us CPU/req", file=sys.stderr)
            for test in TESTS:
                med = {s: (statistics.median(results[(test, s)][0]), statistics.median(results[(test, s)][1]))
                       for s in servers}
                rows.append((pipeline, test, med))
        print("| -P | test | redis req/s | bulb req/s | bulb/redis | redis us CPU/req | bulb us CPU/req | bulb/redis |")
        print("|---:|---|---:|---:|---:|---:|---:|---:|")
        for pipeline, test, med in rows:
            (rr, rc), (br, bc) = med["redis"], med["bulb"]
            print(f"| {pipeline} | {test.upper()} | {rr:,.0f} | {br:,.0f} | {br / rr:.2f} | {rc:.2f} | {bc:.2f} | "
                  f"{bc / rc if rc else float('nan'):.2f} |")
        print(f"\nKiB of RSS per idle client ({a.idle} clients, one PING each): redis {mem['redis']:.2f}, "
              f"bulb {mem['bulb']:.2f}")
        print(f"load average at the end: {os.getloadavg()[0]:.2f} (2 cores shared with other builds: noisy)")
    finally:
        for p in (redis, bulb):
            p.terminate()
            p.wait(timeout=10)


if __name__ == "__main__":
    main()
