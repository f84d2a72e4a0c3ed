#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Drives examples/udp_echo_server and udp_echo_client with real peers (socat, raw sockets).

usage: test_udp_echo.py TEST UDP_ECHO_SERVER UDP_ECHO_CLIENT

TEST is one of: socat, sizes, coro, count, ipv6, unix, client, options. Loopback only (127.0.0.1, ::1,
Unix sockets in a temporary directory). Every program must exit with the expected status and,
when it succeeds, write nothing to stderr (so sanitizer reports fail the test).
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

LISTENING = re.compile(r"^listening on (.+)$")
SIZES = [0, 1, 1400, 9000, 65507]


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


def log(*args):
    print(*args, flush=True)


class Server:
    """A udp_echo_server process; `address` is what it printed."""

    def __init__(self, exe, *args):
        self.cmd = [exe, *map(str, args)]
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        m = LISTENING.match(line)
        if not m:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise CheckFailed(f"{self.cmd}: expected 'listening on ...', got {line!r}\n{out}{err}")
        self.address = m.group(1)
        self.port = int(self.address.rsplit(":", 1)[1]) if ":" in self.address else None

    def stop(self):
        """SIGTERM; returns (received, sent, errors) from its last line; checks exit 0, no stderr."""
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=30)
        check(self.proc.returncode == 0, f"{self.cmd}: exit {self.proc.returncode}\n{out}{err}")
        check(err == "", f"{self.cmd}: stderr:\n{err}")
        m = re.search(r"received (\d+) sent (\d+) errors (\d+)", out)
        check(m, f"{self.cmd}: no counts in {out!r}")
        return tuple(int(x) for x in m.groups())

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def run(cmd, rc=0, timeout=60, stdin=None):
    p = subprocess.run([*map(str, cmd)], capture_output=True, text=True, timeout=timeout, input=stdin)
    check(p.returncode == rc, f"{cmd}: exit {p.returncode}, expected {rc}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    check(rc != 0 or p.stderr == "", f"{cmd}: wrote to stderr:\n{p.stderr}")
    return p


def payload(n, seed):
    return bytes((i * 7 + seed) % 251 for i in range(n))


def sizes_round_trip(family, server_addr, bind_addr=None):
    """Sends every size, then reads every echo: each comes back whole, separately, in order."""
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        if bind_addr is not None:
            s.bind(bind_addr)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.settimeout(5)
        for i, n in enumerate(SIZES):
            check(s.sendto(payload(n, i), server_addr) == n, f"short send of {n} bytes")
        for i, n in enumerate(SIZES):
            data, sender = s.recvfrom(70000)
            check(data == payload(n, i), f"echo {i}: got {len(data)} bytes, expected {n} (whole and in order)")
    log(f"  sizes {SIZES} came back whole over {server_addr}")


def socket_drops(port, proto="udp"):
    """The kernel's drop counter of the socket bound to `port` (/proc/net/udp[6] 'drops')."""
    for table in (f"/proc/net/{proto}", f"/proc/net/{proto}6"):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                if int(fields[1].split(":")[1], 16) == port:
                    return int(fields[-1])
    raise CheckFailed(f"no socket on port {port} in /proc/net/{proto}")


# --- tests ------------------------------------------------------------------------------------

def test_socat(server_exe, client_exe):
    srv = Server(server_exe, "--port", 0)
    try:
        p = run(["socat", "-t", "2", "-", f"UDP:127.0.0.1:{srv.port}"], stdin="hello over socat\n", timeout=30)
        check(p.stdout == "hello over socat\n", f"socat got {p.stdout!r}")
        counts = srv.stop()
        check(counts == (1, 1, 0), f"server counts {counts}")
    finally:
        srv.kill()


def test_sizes(server_exe, client_exe):
    srv = Server(server_exe, "--port", 0)
    try:
        sizes_round_trip(socket.AF_INET, ("127.0.0.1", srv.port))
        counts = srv.stop()
        check(counts == (len(SIZES), len(SIZES), 0), f"server counts {counts}")
    finally:
        srv.kill()


def test_coro(server_exe, client_exe):
    """The same server written with the coroutine DatagramSocket (--coro)."""
    srv = Server(server_exe, "--coro", "--port", 0)
    try:
        sizes_round_trip(socket.AF_INET, ("127.0.0.1", srv.port))
        p = run(["socat", "-t", "2", "-", f"UDP:127.0.0.1:{srv.port}"], stdin="coroutines\n", timeout=30)
        check(p.stdout == "coroutines\n", f"socat got {p.stdout!r}")
        p = run([client_exe, "--port", srv.port, "--count", 2000, "--size", 1400, "--quiet"])
        check("sent 2000 received 2000 lost 0" in p.stdout, p.stdout)
        counts = srv.stop()
        check(counts == (len(SIZES) + 2001, len(SIZES) + 2001, 0), f"server counts {counts}")
    finally:
        srv.kill()


def test_ipv6(server_exe, client_exe):
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        log("SKIP: no IPv6 loopback")
        sys.exit(77)
    srv = Server(server_exe, "--host", "::1", "--port", 0)
    try:
        check(srv.address.startswith("[::1]:"), f"address {srv.address}")
        sizes_round_trip(socket.AF_INET6, ("::1", srv.port))
        p = run(["socat", "-t", "2", "-", f"UDP6:[::1]:{srv.port}"], stdin="six\n", timeout=30)
        check(p.stdout == "six\n", f"socat over ::1 got {p.stdout!r}")
        p = run([client_exe, "--host", "::1", "--port", srv.port, "--count", 100, "--size", 200, "--quiet"])
        check("received 100 lost 0" in p.stdout, p.stdout)
        srv.stop()
    finally:
        srv.kill()


def test_unix(server_exe, client_exe):
    with tempfile.TemporaryDirectory(prefix="bulb-udp-") as d:
        path = os.path.join(d, "echo.sock")
        srv = Server(server_exe, "--unix", path)
        try:
            check(srv.address == path, f"address {srv.address}")
            sizes_round_trip(socket.AF_UNIX, path, bind_addr=os.path.join(d, "raw.sock"))
            p = run(["socat", "-t", "2", "-", f"UNIX-SENDTO:{path},bind={os.path.join(d, 'socat.sock')}"],
                    stdin="over a unix datagram socket\n", timeout=30)
            check(p.stdout == "over a unix datagram socket\n", f"socat got {p.stdout!r}")
            p = run([client_exe, "--unix", path, "--count", 200, "--size", 1000, "--quiet"])
            check("received 200 lost 0" in p.stdout, p.stdout)
            # An unnamed sender cannot be answered: counted as an error, the server goes on.
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as anon:
                anon.sendto(b"no return address", path)
            time.sleep(0.2)
            received, sent, errors = srv.stop()
            check(errors == 1 and received == sent + 1, f"server counts {(received, sent, errors)}")
            check(not os.path.exists(path), "the socket file was left behind")
        finally:
            srv.kill()
        # A stale socket file is replaced.
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as old:
            old.bind(path)
        srv = Server(server_exe, "--unix", path)
        srv.stop()


def test_count(server_exe, client_exe):
    """100,000 datagrams from a fast sender: every one is echoed or counted as dropped by a kernel."""
    total = 100_000
    srv = Server(server_exe, "--port", 0)
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind(("127.0.0.1", 0))
        my_port = s.getsockname()[1]
        got = [0]
        sizes_ok = [True]
        last = [time.monotonic()]

        def receive():
            s.settimeout(0.2)
            while True:
                try:
                    data = s.recv(2048)
                except socket.timeout:
                    if time.monotonic() - last[0] > 1.5:
                        return
                    continue
                sizes_ok[0] = sizes_ok[0] and len(data) == 64
                got[0] += 1
                last[0] = time.monotonic()

        t = threading.Thread(target=receive)
        t.start()
        start = time.monotonic()
        msg = b"x" * 64
        dest = ("127.0.0.1", srv.port)
        for _ in range(total):
            s.sendto(msg, dest)
        last[0] = time.monotonic()
        t.join(timeout=60)
        check(not t.is_alive(), "the receiver never went quiet")
        elapsed = time.monotonic() - start
        server_drops = socket_drops(srv.port)
        my_drops = socket_drops(my_port)
        received, sent, errors = srv.stop()
        s.close()
        log(f"  sent {total} in {elapsed:.2f} s: server received {received} (kernel dropped {server_drops}), "
            f"echoed {sent}; we received {got[0]} (kernel dropped {my_drops})")
        check(sizes_ok[0], "an echo was not 64 bytes")
        check(received + server_drops == total, f"server: {received} received + {server_drops} dropped != {total}")
        check(sent == received and errors == 0, f"server echoed {sent} of {received}, {errors} errors")
        check(got[0] + my_drops == sent, f"client: {got[0]} received + {my_drops} dropped != {sent} echoed")
        check(elapsed < 60, f"took {elapsed:.1f} s")
    finally:
        srv.kill()


def test_client(server_exe, client_exe):
    srv = Server(server_exe, "--port", 0)
    try:
        p = run([client_exe, "--port", srv.port, "--count", 3, "--size", 100])
        replies = [l for l in p.stdout.splitlines() if l.startswith("reply ")]
        check(len(replies) == 3 and all("bytes=100" in l for l in replies), p.stdout)
        check(re.search(r"sent 3 received 3 lost 0 corrupt 0 rtt min/median/max [\d.]+/[\d.]+/[\d.]+ ms", p.stdout),
              p.stdout)
        for size in (0, 1, 65507):
            p = run([client_exe, "--port", srv.port, "--count", 5, "--size", size, "--quiet"])
            check("sent 5 received 5 lost 0 corrupt 0" in p.stdout, p.stdout)
        p = run([client_exe, "--port", srv.port, "--count", 5000, "--size", 1400, "--window", 32, "--quiet"])
        check("sent 5000 received 5000 lost 0" in p.stdout, p.stdout)
        srv.stop()
    finally:
        srv.kill()
    # Nobody there: ICMP port unreachable → "Connection refused" reported, replies missing → exit 1.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as gone:
        gone.bind(("127.0.0.1", 0))
        port = gone.getsockname()[1]
    p = run([client_exe, "--port", port, "--count", 2, "--timeout", 0.5], rc=1)
    check("Connection refused" in p.stderr and f"127.0.0.1:{port}" in p.stderr, p.stderr)
    check("sent 2 received 0 lost 2" in p.stdout, p.stdout)


def test_options(server_exe, client_exe):
    for exe, args in ((server_exe, ["--bogus"]), (server_exe, ["--port"]), (server_exe, ["--port", "70000"]),
                      (client_exe, ["--bogus", "--port", "9"]), (client_exe, []), (client_exe, ["--port", "9", "--size", "70000"]),
                      (client_exe, ["--port", "9", "--timeout", "x"])):
        p = run([exe, *args], rc=2)
        check("usage:" in p.stderr, f"{exe} {args}: {p.stderr}")
        if args and args[0] == "--bogus":
            check("'--bogus'" in p.stderr, f"{exe} {args}: option not named: {p.stderr}")
    srv = Server(server_exe, "--port", 0)
    try:
        p = run([server_exe, "--port", srv.port], rc=1)
        check(f"127.0.0.1:{srv.port}" in p.stderr and "in use" in p.stderr, p.stderr)
        srv.stop()
    finally:
        srv.kill()
    p = run([server_exe, "--unix", "/nonexistent-bulb-dir/echo.sock"], rc=1)
    check("/nonexistent-bulb-dir/echo.sock" in p.stderr and "No such file" in p.stderr, p.stderr)
    p = run([client_exe, "--host", "no such host (refused locally)", "--port", 9], rc=1, timeout=60)
    check("no such host (refused locally)" in p.stderr, p.stderr)


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    name, server_exe, client_exe = sys.argv[1:]
    if not shutil.which("socat"):
        log("SKIP: socat is needed (scripts/lib.sh installs it)")
        return 77
    try:
        globals()["test_" + name](server_exe, client_exe)
    except CheckFailed as e:
        log("FAIL:", e)
        return 1
    log("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
