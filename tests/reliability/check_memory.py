#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Chat server memory under a huge newline-less line and after bursts (issue 12, defect 3).

usage: check_memory.py CHAT_SERVER [--max-line MiB] [--line MiB] [--report]

Starts the server with --max-line, logs a client in, sends a 1 MiB line (it must arrive whole),
then one line of --line MiB without a
newline, sampling the server's RSS every 5 ms; then a newline and a normal line (the connection
still works, and the room gets only the normal line). Then 4 clients each send a 2,000-line burst
to the room while 8 readers read. Passes when the peak stays within 1.5x the limit over the
baseline (both servers peak near 1.1x) and, once idle, RSS is within 8 MiB of the
baseline.
"""
import argparse
import re
import signal
import socket
import subprocess
import sys
import threading
import time


def fail(what):
    print(f"FAIL: {what}", flush=True)
    sys.exit(1)


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class Client:
    def __init__(self, port, nick):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.buf = b""
        self.nick = nick
        self.expect_prefix("*** Welcome!")
        self.s.sendall(nick.encode() + b"\n")
        self.expect_prefix(f"*** you are {nick}")

    def line(self):
        while b"\n" not in self.buf:
            data = self.s.recv(1 << 20)
            if not data:
                fail(f"{self.nick}: connection closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace")

    def expect_prefix(self, prefix):
        got = self.line()
        if not got.startswith(prefix):
            fail(f"{self.nick}: expected {prefix!r}..., got {got[:100]!r}")
        return got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server")
    ap.add_argument("--max-line", type=int, default=16, help="MiB")
    ap.add_argument("--line", type=int, default=48, help="MiB")
    ap.add_argument("--max-peak", type=float, default=1.5, help="the bound on the peak, times --max-line")
    a = ap.parse_args()
    limit = a.max_line << 20
    srv = subprocess.Popen([a.server, "--port", "0", "--max-line", str(limit)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        m = re.match(r"^chat server listening on 127\.0\.0\.1:(\d+)$", srv.stdout.readline().strip())
        if not m:
            fail("no listening line")
        port = int(m.group(1))
        time.sleep(0.2)
        base = rss(srv.pid)
        sender = Client(port, "sender")
        watcher = Client(port, "watcher")
        sender.expect_prefix("*** watcher joined")
        # A long line within the limit (assembled from the reader's pieces) arrives whole.
        long_ok = "L" * (1 << 20) + "end"
        sender.s.sendall(long_ok.encode() + b"\n")
        got = watcher.line()
        if got != "sender: " + long_ok:
            fail(f"watcher got {len(got)} bytes for a 1 MiB line")
        peak = [rss(srv.pid)]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], rss(srv.pid))
                time.sleep(0.005)
        t = threading.Thread(target=sample)
        t.start()
        chunk = b"z" * (1 << 20)
        t0 = time.monotonic()
        for _ in range(a.line):
            sender.s.sendall(chunk)
        sender.s.sendall(b"\nafter the long line\n")
        sender.expect_prefix("*** line too long")
        got = watcher.line()
        if got != "sender: after the long line":
            fail(f"watcher got {got[:80]!r}")
        took = time.monotonic() - t0
        time.sleep(0.1)
        done.set()
        t.join()
        line_peak = peak[0]
        # Bursts: 8 senders x 2,000 lines of 200 bytes while 8 readers (and the watcher) read.
        readers = [Client(port, f"r{i}") for i in range(8)]
        total = 4 * 2000
        counts = []

        def drain(c, n):
            k = 0
            while k < n:
                if c.line().startswith("s"):
                    k += 1
            counts.append(k)
        senders = [Client(port, f"s{i}") for i in range(4)]
        threads = [threading.Thread(target=drain, args=(c, total)) for c in readers + [watcher]]
        threads += [threading.Thread(target=drain, args=(c, total - 2000)) for c in senders]
        for th in threads:
            th.start()
        body = "b" * 200
        for i in range(2000):
            for s in senders:
                s.s.sendall(f"{i} {body}\n".encode())
        for th in threads:
            th.join(60)
        if len(counts) != len(threads):
            fail("a reader did not get every burst line in 60 s")
        for c in readers + senders + [watcher, sender]:
            c.s.close()
        time.sleep(1.0)
        after = rss(srv.pid)
        print(f"  {a.server.rsplit('/', 1)[-1]}: baseline {base / 2**20:.1f} MiB; a {a.line} MiB line "
              f"(limit {a.max_line} MiB) in {took:.1f} s: peak +{(line_peak - base) / 2**20:.1f} MiB "
              f"= {(line_peak - base) / limit:.2f}x the limit; after bursts ({total} lines to 13 readers) "
              f"and 1 s idle: {after / 2**20:.1f} MiB (+{(after - base) / 2**20:.1f})", flush=True)
        if line_peak - base > a.max_peak * limit:
            fail(f"peak {(line_peak - base) / limit:.2f}x the limit")
        if after - base > 8 << 20:
            fail(f"RSS after the bursts is {(after - base) / 2**20:.1f} MiB over the baseline")
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            _, err = srv.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            srv.kill()
            fail("no exit on SIGTERM")
        if srv.returncode != 0 or err:
            fail(f"server exit {srv.returncode}, stderr {err!r}")
    print("ok")


if __name__ == "__main__":
    main()
