#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""echo_server --idle-timeout over real loopback sockets, in both styles (callbacks, --streams).

usage: check_idle.py ECHO_SERVER

A silent client is closed after the limit (FIN); a client that keeps sending is not; a client
that sends but never reads (its echoes stuck in the server's buffer) is reset after the limit;
without the option (the default) a silent client stays connected.
"""
import re
import signal
import socket
import subprocess
import sys
import time

LIMIT = 0.3


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAIL: {what}")


def start(exe, *args):
    p = subprocess.Popen([exe, "--port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    m = re.match(r"^listening on 127\.0\.0\.1:(\d+)$", p.stdout.readline().strip())
    check(m, "no listening line")
    return p, int(m.group(1))


def stop(p):
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=20)
    check(p.returncode == 0 and err == "", f"server exit {p.returncode}, stderr {err!r}")


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s


def closed_after(s, t0, timeout=5.0):
    """Seconds from t0 until the server closes `s` ("fin" or "rst"), reading what arrives."""
    s.settimeout(timeout)
    while True:
        try:
            data = s.recv(1 << 20)
        except ConnectionResetError:
            return time.monotonic() - t0, "rst"
        except socket.timeout:
            return None, "open"
        if not data:
            return time.monotonic() - t0, "fin"


def run(exe, style):
    p, port = start(exe, "--idle-timeout", str(LIMIT), *style)
    try:
        # Silent: closed gracefully after the limit.
        t0 = time.monotonic()
        silent = connect(port)
        talker = connect(port)
        silent_at = None
        silent.setblocking(False)  # polled below without waiting
        for i in range(20):  # a byte every 0.05 s for 1 s: 3x the limit, never idle
            talker.sendall(b"x")
            r = talker.recv(1)
            check(r == b"x", f"no echo at {i}: {r!r} after {time.monotonic() - t0:.3f} s")
            time.sleep(0.05)
            if silent_at is None:
                try:
                    if silent.recv(1, socket.MSG_DONTWAIT) == b"":
                        silent_at = time.monotonic() - t0
                except BlockingIOError:
                    pass
        at, how = (silent_at, "fin") if silent_at is not None else closed_after(silent, t0)
        check(how == "fin" and LIMIT <= at < LIMIT + 0.4, f"{style} silent client: {how} after {at}")
        # The talker was not cut while talking; it is once it stops.
        t1 = time.monotonic()
        at, how = closed_after(talker, t1)
        check(how == "fin" and LIMIT - 0.11 <= at < LIMIT + 0.4, f"{style} talker after it stopped: {how} after {at}")
        # Sends until its kernel buffers are full, reads nothing: the server stops reading it (backpressure), then resets it.
        stuck = connect(port)
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.setblocking(False)
        chunk = b"y" * 65536
        sent = 0
        t2 = last_progress = time.monotonic()
        while time.monotonic() - last_progress < 0.1 and sent < (64 << 20):  # until the kernel is full
            try:
                sent += stuck.send(chunk)
                last_progress = time.monotonic()
            except BlockingIOError:
                time.sleep(0.01)
            except (ConnectionResetError, BrokenPipeError):
                break
        t2 = last_progress
        at, how = closed_after(stuck, t2)
        check(how == "rst", f"{style} stuck client: {how} after {at} ({sent} bytes sent)")
        print(f"  {style or ['callbacks']}: silent closed, talker kept, stuck client reset ({sent} bytes sent)")
    finally:
        stop(p)
    # Default: no idle timeout.
    p, port = start(exe, *style)
    try:
        silent = connect(port)
        at, how = closed_after(silent, time.monotonic(), timeout=1.0)
        check(how == "open", f"{style} without --idle-timeout: {how} after {at}")
    finally:
        stop(p)
    for bad in ("-1", "", "z"):
        r = subprocess.run([exe, "--idle-timeout", bad], capture_output=True, text=True, timeout=10)
        check(r.returncode == 2 and r.stderr.startswith("usage: echo_server"), f"--idle-timeout {bad!r}: {r.returncode}")


def main():
    exe = sys.argv[1]
    for style in ([], ["--streams"]):
        run(exe, style)
    print("ok")


if __name__ == "__main__":
    main()
