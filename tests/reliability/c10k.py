#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""10,000 concurrent connections to echo_server in a second process (RELIABILITY.md test 15,
T1): memory and CPU per connection, and descriptors back to the baseline afterwards.

usage: c10k.py ECHO_SERVER [--conns N] [--styles callbacks,streams] [--idle-timeout S]

For each server style with --idle-timeout (and, for the first style or with --price-all, also
without it, to price the IdleTimer): opens N
connections (at most 200 connecting at once; listen backlog 4096), each echoes a line carrying
its id; holds them 1 s and samples the server's RSS, descriptor count and CPU time; then every
connection echoes 1 KiB carrying its id and sequence twice, half close gracefully and half
reset (SO_LINGER 0). Passes when every echo is byte-exact, the server's descriptors return to
the baseline within 5 s, and its RSS stays below 300 MiB. Prints per-connection figures.
The hard descriptor limit here is 20,000: client and server are separate processes.
"""
import argparse
import os
import re
import resource
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time


def fail(what):
    print(f"FAIL: {what}", flush=True)
    sys.exit(1)


def proc_status(pid):
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return rss, fds, cpu


def run(exe, style, idle, conns):
    args = [exe, "--port", "0"] + (["--streams"] if style == "streams" else [])
    if idle:
        args += ["--idle-timeout", str(idle)]
    server = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        m = re.match(r"^listening on 127\.0\.0\.1:(\d+)$", server.stdout.readline().strip())
        if not m:
            fail("no listening line")
        port = int(m.group(1))
        time.sleep(0.2)
        base_rss, base_fds, base_cpu = proc_status(server.pid)
        deadline = time.monotonic() + 60
        sel = selectors.DefaultSelector()
        socks = []
        state = {}  # sock -> [expected bytes, received bytes]
        opened = connecting = 0
        t0 = time.monotonic()
        while opened < conns:
            while connecting < 200 and len(socks) < conns:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", port))
                i = len(socks)
                socks.append(s)
                state[s] = [f"hello {i}\n".encode(), b"", False]
                sel.register(s, selectors.EVENT_WRITE)
                connecting += 1
            if time.monotonic() > deadline:
                fail(f"only {opened} of {conns} connections open after 60 s")
            for key, ev in sel.select(timeout=0.5):
                s = key.fileobj
                st = state[s]
                if ev & selectors.EVENT_WRITE:
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        fail(f"connect: {os.strerror(err)}")
                    s.send(st[0])
                    sel.modify(s, selectors.EVENT_READ)
                elif ev & selectors.EVENT_READ:
                    data = s.recv(4096)
                    if not data:
                        fail("closed before its first echo")
                    st[1] += data
                    if len(st[1]) >= len(st[0]):
                        if st[1] != st[0]:
                            fail(f"wrong echo {st[1]!r}")
                        sel.unregister(s)
                        opened += 1
                        connecting -= 1
        open_took = time.monotonic() - t0
        time.sleep(1.0)
        rss1, fds1, cpu1 = proc_status(server.pid)
        time.sleep(1.0)
        rss2, fds2, cpu2 = proc_status(server.pid)  # 1 s of 10,000 idle connections
        if fds2 - base_fds < conns:
            fail(f"server holds {fds2 - base_fds} descriptors for {conns} connections")
        # Two rounds of 1 KiB echoes carrying id and sequence on every connection.
        for seq in range(2):
            for i, s in enumerate(socks):
                payload = struct.pack("!II", i, seq) * 128
                state[s] = [payload, b"", False]
                sel.register(s, selectors.EVENT_READ)
                s.send(payload)  # 1 KiB fits any empty socket buffer
            left = conns
            while left:
                if time.monotonic() > deadline:
                    fail(f"{left} echoes missing after 60 s")
                for key, ev in sel.select(timeout=0.5):
                    s = key.fileobj
                    st = state[s]
                    data = s.recv(4096)
                    if not data:
                        fail("closed during the echo round")
                    st[1] += data
                    if len(st[1]) >= len(st[0]):
                        if st[1] != st[0]:
                            fail("an echo came back different")
                        sel.unregister(s)
                        left -= 1
        rss3, _, cpu3 = proc_status(server.pid)
        for i, s in enumerate(socks):
            if i % 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        end = time.monotonic() + 5
        while True:
            rss4, fds4, cpu4 = proc_status(server.pid)
            if fds4 <= base_fds or time.monotonic() > end:
                break
            time.sleep(0.05)
        if fds4 > base_fds:
            fail(f"server descriptors {fds4} did not return to the baseline {base_fds} within 5 s")
        peak = max(rss1, rss2, rss3)
        if peak > 300 << 20:
            fail(f"server RSS {peak >> 20} MiB")
        per_conn = (rss2 - base_rss) / conns
        idle_cpu_ms = (cpu2 - cpu1) * 1000
        print(f"  {style:9} idle-timeout {str(idle or 'off'):4}: {conns} open in {open_took:.1f} s; RSS "
              f"{base_rss / 2**20:.1f} -> {rss2 / 2**20:.1f} MiB ({per_conn:.0f} B/conn), "
              f"CPU {idle_cpu_ms:.0f} ms over 1 s idle, {(cpu3 - cpu2) * 1000:.0f} ms for {2 * conns} echoes; "
              f"fds {base_fds} -> {fds2} -> {fds4}; RSS after {rss4 / 2**20:.1f} MiB", flush=True)
        return per_conn
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        try:
            _, err = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            fail("the server did not exit on SIGTERM")
        if server.returncode != 0 or err:
            fail(f"server exited {server.returncode}, stderr {err!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server")
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--styles", default="callbacks,streams")
    ap.add_argument("--idle-timeout", type=float, default=60)
    ap.add_argument("--price-all", action="store_true", help="compare with and without for every style")
    a = ap.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < a.conns + 100:
        print(f"SKIP: the hard descriptor limit ({hard}) is below {a.conns + 100}")
        sys.exit(77)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for i, style in enumerate(a.styles.split(",")):
        on = run(a.server, style, a.idle_timeout, a.conns)
        if i == 0 or a.price_all:  # the IdleTimer's price: one comparison is enough per run
            off = run(a.server, style, 0, a.conns)
            print(f"  {style}: IdleTimer adds {on - off:.0f} B per connection (noisy: RSS of two runs)", flush=True)
    print("ok")


if __name__ == "__main__":
    main()
