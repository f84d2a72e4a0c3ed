#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The soak driver behind scripts/soak.sh (RELIABILITY.md test 31): bounded, seeded, self-stopping.

usage: soak.py BUILDDIR SECONDS [--seed N] [--sample S]

Starts echo_server (callbacks), echo_server --streams, echo_server over TLS and chat_server on
loopback ports, then until the deadline runs a mixed client population in threads: echo
round-trips of random sizes with SHA-256 checks, connect/close churn, resets mid-transfer,
chat talkers and readers, a slow chat reader, TLS echo sessions. Every S seconds (default 10) it
samples each server's RSS and descriptor count. At the end it stops the servers (exit 0, nothing
on stderr) and passes when every well-behaved exchange was byte-exact and, over the second half
of the run, each server's descriptors returned to their level and its RSS grew by less than
max(2 MiB, 5 %). Prints the samples and the seed.
"""
import argparse
import hashlib
import os
import random
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time


def rss_fds(pid):
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


class Servers:
    def __init__(self, build, tmp):
        ex = os.path.join(build, "examples")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                        "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", f"{tmp}/key.pem", "-out", f"{tmp}/cert.pem"], check=True, capture_output=True)
        self.cert = f"{tmp}/cert.pem"
        specs = {"echo": [f"{ex}/echo_server"], "echo_streams": [f"{ex}/echo_server", "--streams"],
                 "echo_tls": [f"{ex}/echo_server", "--tls-cert", self.cert, "--tls-key", f"{tmp}/key.pem"],
                 "chat": [f"{ex}/chat_server", "--max-behind", "2"]}
        self.procs, self.ports, self.errs = {}, {}, {}
        for name, cmd in specs.items():
            err = tempfile.TemporaryFile()
            p = subprocess.Popen(cmd + ["--port", "0"], stdout=subprocess.PIPE, stderr=err, text=True)
            m = re.search(r"127\.0\.0\.1:(\d+)", p.stdout.readline())
            if not m:
                raise SystemExit(f"FAIL: {name} did not start")
            self.procs[name], self.ports[name], self.errs[name] = p, int(m.group(1)), err

    def stop(self):
        problems = []
        for name, p in self.procs.items():
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                problems.append(f"{name}: no exit on SIGTERM")
            self.errs[name].seek(0)
            err = self.errs[name].read().decode(errors="replace")
            # chat_server logs the clients it cuts for not reading (the slow reader): expected.
            err = "\n".join(l for l in err.splitlines() if not l.startswith("chat_server: cut "))
            if p.returncode != 0 or err:
                problems.append(f"{name}: exit {p.returncode}, stderr {err[:300]!r}")
        return problems


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.errors = []

    def add(self, what, n=1):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + n

    def error(self, what):
        with self.lock:
            self.errors.append(what)


def echo_round(port, rnd, tls_ctx=None):
    data = rnd.randbytes(rnd.choice([1, 100, 4096, 65536, 1 << 20]))
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    if tls_ctx:
        s = tls_ctx.wrap_socket(s, server_hostname="localhost")
    got = bytearray()
    sent = 0
    while sent < len(data):
        n = s.send(data[sent:sent + 65536])
        sent += n
        s.setblocking(False)
        try:
            while True:
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                got += chunk
        except (BlockingIOError, ssl.SSLWantReadError):
            pass
        s.setblocking(True)
        s.settimeout(20)
    while len(got) < len(data):
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        got += chunk
    s.close()
    return hashlib.sha256(got).digest() == hashlib.sha256(data).digest(), len(data)


def worker(kind, servers, deadline, seed, stats, tls_ctx):
    rnd = random.Random(seed)
    while time.monotonic() < deadline:
        try:
            if kind in ("echo", "echo_streams"):
                ok, n = echo_round(servers.ports[kind], rnd)
                stats.add(f"{kind} rounds")
                stats.add("bytes", n)
                if not ok:
                    stats.error(f"{kind}: echo differs")
            elif kind == "echo_tls":
                ok, n = echo_round(servers.ports[kind], rnd, tls_ctx)
                stats.add("tls rounds")
                if not ok:
                    stats.error("tls: echo differs")
            elif kind == "churn":
                for _ in range(50):
                    s = socket.create_connection(("127.0.0.1", servers.ports[rnd.choice(["echo", "echo_streams"])]))
                    if rnd.random() < 0.5:  # reset instead of FIN, sometimes mid-transfer
                        s.sendall(b"x" * rnd.randint(0, 100000))
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    s.close()
                    stats.add("churn")
            elif kind == "chat":
                s = socket.create_connection(("127.0.0.1", servers.ports["chat"]), timeout=20)
                nick = f"u{rnd.randrange(1 << 30)}"
                s.sendall(f"{nick}\n".encode() + b"".join(f"msg {i}\n".encode() for i in range(rnd.randint(1, 2000))))
                s.sendall(b"/quit\n")
                buf = b""
                while b"*** bye" not in buf:
                    chunk = s.recv(1 << 20)
                    if not chunk:
                        break
                    buf = buf[-64:] + chunk
                s.close()
                stats.add("chat sessions")
            elif kind == "chat_slow":  # joins, reads nothing for a while, leaves (or is cut)
                s = socket.create_connection(("127.0.0.1", servers.ports["chat"]), timeout=20)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.sendall(f"slow{rnd.randrange(1 << 30)}\n".encode())
                time.sleep(min(3, max(0, deadline - time.monotonic())))
                s.close()
                stats.add("slow chat readers")
        except OSError as e:
            if kind not in ("chat_slow", "churn"):
                stats.error(f"{kind}: {type(e).__name__}: {e}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("seconds", type=float)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--sample", type=float, default=10)
    a = ap.parse_args()
    print(f"soak: {a.seconds:.0f} s, seed {a.seed}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        servers = Servers(a.build, tmp)
        tls_ctx = ssl.create_default_context(cafile=servers.cert)
        stats = Stats()
        start = time.monotonic()
        deadline = start + a.seconds
        kinds = ["echo", "echo", "echo_streams", "echo_streams", "echo_tls", "churn", "chat", "chat", "chat_slow"]
        threads = [threading.Thread(target=worker, args=(k, servers, deadline, a.seed + i, stats, tls_ctx), daemon=True)
                   for i, k in enumerate(kinds)]
        for t in threads:
            t.start()
        samples = []  # (t, {name: (rss, fds)})
        while True:
            now = time.monotonic()
            samples.append((now - start, {n: rss_fds(p.pid) for n, p in servers.procs.items()}))
            line = "  ".join(f"{n} {r / 2**20:.1f}MiB/{f}fd" for n, (r, f) in samples[-1][1].items())
            print(f"  t={now - start:6.0f}s  {line}", flush=True)
            if now >= deadline:
                break
            time.sleep(min(a.sample, max(0.1, deadline - now)))
        for t in threads:
            t.join(60)
        time.sleep(1.5)  # connections closing, chat_server's memory settling
        final = {n: rss_fds(p.pid) for n, p in servers.procs.items()}
        problems = servers.stop()
    print("  totals:", ", ".join(f"{k} {v}" for k, v in sorted(stats.counts.items())), flush=True)
    problems += stats.errors[:20]
    half = [s for s in samples if s[0] >= a.seconds / 2] or samples[-1:]
    for name in final:
        mid_rss, mid_fds = half[0][1][name]
        end_rss, end_fds = final[name]
        base_fds = samples[0][1][name][1]
        if end_fds > base_fds:
            problems.append(f"{name}: {end_fds} descriptors at the end, {base_fds} at the start")
        if end_rss - mid_rss > max(2 << 20, mid_rss // 20):
            problems.append(f"{name}: RSS grew {(end_rss - mid_rss) / 2**20:.1f} MiB over the second half")
        print(f"  {name}: RSS mid {mid_rss / 2**20:.1f} -> end {end_rss / 2**20:.1f} MiB; fds start {base_fds}, "
              f"end {end_fds}", flush=True)
    if problems:
        print("FAIL:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print(f"ok (seed {a.seed})")


if __name__ == "__main__":
    main()
