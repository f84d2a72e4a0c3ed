#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The examples through the impairment proxy (tests/support/impair_proxy.py), on 127.0.0.1 only.

usage: check_impair.py CASE EXAMPLES_DIR

CASE:
  echo     echo_server (callbacks and --streams) and echo_client: 1-byte segments, delays,
           stalls and throttling deliver every byte (SHA-256); a FIN or RST injected mid-stream
           makes echo_client exit 1 saying what was lost, never 0; a client truncated by FIN
           gets back exactly the prefix the server received; the server serves the next client.
  tls      the same over TLS (echo_server --tls-cert/--tls-key, both styles, Python ssl and
           echo_client --tls-ca): a truncated or reset TLS stream is an error for echo_client.
  kv       kv_server (callbacks and --streams): redis-cli and a raw RESP pipeline through 1-byte
           segments and delays give byte-exact replies; a command cut by FIN or RST is never
           executed (the key stays unset), and the server serves the next client.
"""
import hashlib
import os
import random
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from impair_proxy import Impair, ImpairProxy  # noqa: E402

EX = None
TIMEOUT = 30


def fail(msg):
    print("FAIL:", msg, flush=True)
    sys.exit(1)


def ok(msg):
    print("ok:", msg, flush=True)


class Server:
    def __init__(self, *args):
        self.proc = subprocess.Popen([*args, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening on 127\.0\.0\.1:(\d+)( \(TLS\))?$", line.strip())
        if not m:
            fail(f"{args[0]} printed {line!r}")
        self.port = int(m.group(1))
        self.name = " ".join(os.path.basename(a) for a in args if not a.startswith("/tmp"))

    def stop(self, allowed_stderr=()):
        if self.proc.poll() is not None:
            fail(f"{self.name} died (exit {self.proc.returncode}): {self.proc.stderr.read()}")
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=20)
        bad = [line for line in err.splitlines() if not any(a in line for a in allowed_stderr)]
        if self.proc.returncode != 0 or bad:
            fail(f"{self.name}: exit {self.proc.returncode}, stderr {bad[:5]!r}")


def payload(n, seed):
    return random.Random(seed).randbytes(n)


def sha(b):
    return hashlib.sha256(b).hexdigest()[:16]


def raw_exchange(port, data, tls=None, half_close=True):
    """Sends `data`, half-closes (plain) or waits for all of it (TLS), returns what came back and
    how the stream ended ('eof' or the error)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    if tls:
        s = tls.wrap_socket(s, server_hostname="localhost")
    got = bytearray()
    end = "eof"
    try:
        s.sendall(data)
        if half_close and not tls:
            s.shutdown(socket.SHUT_WR)
        while True:
            if tls and len(got) >= len(data):
                break
            b = s.recv(65536)
            if not b:
                break
            got += b
    except (OSError, ssl.SSLError) as e:
        end = f"{type(e).__name__}: {e}"
    finally:
        s.close()
    return bytes(got), end


def intact_cases():
    # (name, up, down, payload size)
    return [
        ("1-byte segments both ways", Impair(split=1), Impair(split=1), 3000),
        ("512-byte segments, 2 ms apart", Impair(split=512, delay=0.002), Impair(split=512, delay=0.002), 40000),
        ("throttled to 400 kB/s", Impair(throttle=400e3), Impair(throttle=400e3), 120000),
        ("stalled 0.5 s each way", Impair(stall_at=1000, stall_for=0.5), Impair(stall_at=7000, stall_for=0.5), 20000),
    ]


def echo_intact(server, tls_ctx=None):
    for i, (name, up, down, size) in enumerate(intact_cases()):
        data = payload(size, i)
        with ImpairProxy(("127.0.0.1", server.port), up=up, down=down) as p:
            got, end = raw_exchange(p.port, data, tls_ctx)
        if got != data:
            fail(f"{server.name}, {name}: {len(got)} of {len(data)} bytes back, sha {sha(got)} != {sha(data)} ({end})")
        ok(f"{server.name}, {name}: {size} bytes back intact")


def echo_client(port, data, tls_args=()):
    return subprocess.run([os.path.join(EX, "echo_client"), "--port", str(port), *tls_args], input=data,
                          capture_output=True, timeout=TIMEOUT)


def echo_loss(server, tls_args=(), tls_ctx=None):
    data = payload(50000, 99)
    # A reset or a FIN towards the client mid-stream: echo_client reports the loss.
    for name, down in (("FIN after 20000 bytes towards the client", Impair(fin_at=20000)),
                       ("RST after 20000 bytes towards the client", Impair(rst_at=20000))):
        with ImpairProxy(("127.0.0.1", server.port), down=down) as p:
            r = echo_client(p.port, data, tls_args)
        err = r.stderr.decode(errors="replace").strip()
        if r.returncode != 1 or not err:
            fail(f"{server.name}, {name}: echo_client exit {r.returncode}, stderr {err!r} (want 1 and a reason)")
        if len(r.stdout) > 20000 or r.stdout != data[:len(r.stdout)]:
            fail(f"{server.name}, {name}: echo_client printed {len(r.stdout)} bytes, not a prefix of the echo")
        ok(f"{server.name}, {name}: echo_client exit 1, {len(r.stdout)} bytes printed: {err.splitlines()[-1]!r}")
    # The client's stream truncated by FIN on its way to the server.
    with ImpairProxy(("127.0.0.1", server.port), up=Impair(fin_at=12345)) as p:
        got, end = raw_exchange(p.port, data, tls_ctx, half_close=False)
    if tls_ctx:
        # TLS: a record cut in the middle never reaches the application; what comes back is a
        # prefix of what was sent and the stream then ends with an error or EOF.
        if got != data[:len(got)] or len(got) > 12345:
            fail(f"{server.name}, FIN mid-record towards the server: {len(got)} bytes back, not a prefix")
        ok(f"{server.name}, FIN after 12345 bytes towards the server: {len(got)}-byte prefix back, then {end}")
    else:
        if got != data[:12345]:
            fail(f"{server.name}, FIN after 12345 bytes towards the server: {len(got)} bytes back, want the prefix")
        ok(f"{server.name}, FIN after 12345 bytes towards the server: exactly that prefix back, then {end}")
    with ImpairProxy(("127.0.0.1", server.port), up=Impair(rst_at=12345)) as p:
        got, end = raw_exchange(p.port, data, tls_ctx, half_close=False)
    if got != data[:len(got)] or len(got) > 12345:
        fail(f"{server.name}, RST towards the server: {len(got)} bytes back, not a prefix")
    ok(f"{server.name}, RST after 12345 bytes towards the server: {len(got)}-byte prefix back, then {end}")
    # The server goes on serving.
    fresh = payload(10000, 7)
    got, end = raw_exchange(server.port, fresh, tls_ctx)
    if got != fresh:
        fail(f"{server.name}: a direct client after the faults got {len(got)} of {len(fresh)} bytes ({end})")
    ok(f"{server.name}: serves the next client intact")


def case_echo():
    for style in ([], ["--streams"]):
        s = Server(os.path.join(EX, "echo_server"), *style)
        echo_intact(s)
        for i, (name, up, down, size) in enumerate(intact_cases()[:2]):
            data = payload(size, 50 + i)
            with ImpairProxy(("127.0.0.1", s.port), up=up, down=down) as p:
                r = echo_client(p.port, data)
            if r.returncode != 0 or r.stdout != data:
                fail(f"{s.name}, echo_client, {name}: exit {r.returncode}, {len(r.stdout)} of {size} bytes")
            ok(f"{s.name}, echo_client, {name}: {size} bytes intact, exit 0")
        echo_loss(s)
        s.stop()


def make_pki(d):
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=bulb test CA",
            "-keyout", "ca.key", "-out", "ca.pem")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "key.pem", "-out", "req.pem")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "req.pem", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "ext.cnf", "-out", "cert.pem")


def case_tls():
    with tempfile.TemporaryDirectory() as d:
        make_pki(d)
        ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.pem"))
        tls_args = ["--tls-ca", os.path.join(d, "ca.pem"), "--tls-name", "localhost"]
        for style in ([], ["--streams"]):
            s = Server(os.path.join(EX, "echo_server"), *style, "--tls-cert", os.path.join(d, "cert.pem"),
                       "--tls-key", os.path.join(d, "key.pem"))
            s.name += " (TLS)"
            echo_intact(s, ctx)
            data = payload(40000, 3)
            with ImpairProxy(("127.0.0.1", s.port), up=Impair(split=1), down=Impair(split=7, delay=0.0005)) as p:
                r = echo_client(p.port, data, tls_args)
            if r.returncode != 0 or r.stdout != data:
                fail(f"{s.name}, echo_client, 1-byte segments: exit {r.returncode}, {len(r.stdout)} bytes, "
                     f"{r.stderr.decode(errors='replace')}")
            ok(f"{s.name}, echo_client, 1-byte segments up, 7-byte down: 40000 bytes intact, exit 0")
            echo_loss(s, tls_args, ctx)
            # A TLS server logs the handshakes and connections the faults broke: allowed, named.
            s.stop(allowed_stderr=("echo_server:",))


# --- kv_server ------------------------------------------------------------------------------------

def resp(*args):
    out = f"*{len(args)}\r\n".encode()
    for a in args:
        a = a if isinstance(a, bytes) else a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def bulk(v):
    return b"$%d\r\n%s\r\n" % (len(v), v)


def read_exact(s, n):
    got = bytearray()
    while len(got) < n:
        b = s.recv(n - len(got))
        if not b:
            break
        got += b
    return bytes(got)


def case_kv():
    for style in ([], ["--streams"]):
        s = Server(os.path.join(EX, "kv_server"), *style)
        name = s.name
        # redis-cli through 1-byte segments both ways.
        with ImpairProxy(("127.0.0.1", s.port), up=Impair(split=1), down=Impair(split=1)) as p:
            cli = ["redis-cli", "-p", str(p.port)]
            r1 = subprocess.run(cli + ["SET", "greeting", "hello world"], capture_output=True, timeout=TIMEOUT)
            r2 = subprocess.run(cli + ["GET", "greeting"], capture_output=True, timeout=TIMEOUT)
        if r1.stdout.strip() != b"OK" or r2.stdout.strip() != b"hello world":
            fail(f"{name}: redis-cli through 1-byte segments: {r1.stdout!r} {r2.stdout!r} {r2.stderr!r}")
        ok(f"{name}: redis-cli SET/GET through 1-byte segments")
        # A raw pipeline of 300 SET + GET with values up to 3000 bytes through small delayed segments.
        rng = random.Random(5)
        req, want = bytearray(), bytearray()
        for i in range(300):
            v = rng.randbytes(rng.randrange(0, 3000))
            req += resp("SET", f"k{i}", v) + resp("GET", f"k{i}")
            want += b"+OK\r\n" + bulk(v)
        for label, up, down in (("1-byte segments", Impair(split=1), Impair(split=1)),
                                ("97-byte segments 1 ms apart, a 0.3 s stall", Impair(split=97, delay=0.001),
                                 Impair(split=97, stall_at=5000, stall_for=0.3))):
            if label.startswith("1-byte"):
                small = bytearray()
                for i in range(20):  # Python relays one byte per send: keep it small
                    small += resp("SET", f"s{i}", b"v" * i) + resp("GET", f"s{i}")
                r, w = bytes(small), b"".join(b"+OK\r\n" + bulk(b"v" * i) for i in range(20))
            else:
                r, w = bytes(req), bytes(want)
            with ImpairProxy(("127.0.0.1", s.port), up=up, down=down) as p:
                c = socket.create_connection(("127.0.0.1", p.port), timeout=TIMEOUT)
                c.sendall(r)
                got = read_exact(c, len(w))
                c.close()
            if got != w:
                fail(f"{name}: RESP pipeline through {label}: {len(got)} of {len(w)} reply bytes, "
                     f"sha {sha(got)} != {sha(w)}")
            ok(f"{name}: RESP pipeline through {label}: {len(w)} reply bytes exact")
        # A command cut by FIN or RST is not executed.
        for kind in ("fin", "rst"):
            cmd = resp("SET", f"cut_{kind}", b"x" * 1000)
            cut = len(cmd) - 10
            imp = Impair(fin_at=cut) if kind == "fin" else Impair(rst_at=cut)
            with ImpairProxy(("127.0.0.1", s.port), up=imp) as p:
                c = socket.create_connection(("127.0.0.1", p.port), timeout=TIMEOUT)
                try:
                    c.sendall(cmd)
                    tail = c.recv(100)
                except OSError as e:
                    tail = f"{e}".encode()
                c.close()
                p.wait_idle()
            c = socket.create_connection(("127.0.0.1", s.port), timeout=TIMEOUT)
            c.sendall(resp("EXISTS", f"cut_{kind}"))
            got = c.recv(100)
            c.close()
            if got != b":0\r\n":
                fail(f"{name}: a SET cut by {kind.upper()} after {cut} of {len(cmd)} bytes: EXISTS says {got!r}")
            ok(f"{name}: a SET cut by {kind.upper()} mid-value was not executed (the client saw {tail[:60]!r})")
        s.stop(allowed_stderr=("kv_server:",))


def main():
    global EX
    if len(sys.argv) != 3 or sys.argv[1] not in ("echo", "tls", "kv"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    EX = os.path.abspath(sys.argv[2])
    t0 = time.monotonic()
    {"echo": case_echo, "tls": case_tls, "kv": case_kv}[sys.argv[1]]()
    print(f"all ok in {time.monotonic() - t0:.1f} s")


if __name__ == "__main__":
    main()
