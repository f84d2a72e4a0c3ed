#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""examples/kv_server driven by the real redis-cli and redis-benchmark (package redis-tools) and by
raw sockets, on 127.0.0.1 only.

    check_kv_server.py CASE KV_SERVER [SERVER_OPTION...]

CASE: basic, errors, resp3, pipe, big_values, slow_reader, slow_reader_streams, protocol_error,
benchmark, expiry, options. Each starts its own server on port 0 (with SERVER_OPTION..., e.g.
--streams) and bounds itself to seconds.
"""
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

KV = None
KV_FLAGS = []


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok:", msg)


class Server:
    def __init__(self, *args):
        self.proc = subprocess.Popen([KV, "--port", "0", *KV_FLAGS, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening on 127\.0\.0\.1:(\d+)$", line.strip())
        if not m:
            fail(f"kv_server printed {line!r}, stderr: {self.proc.stderr.read()}")
        self.port = int(m.group(1))

    def cli(self, *args, stdin=None, extra=()):
        r = subprocess.run(["redis-cli", "-p", str(self.port), *extra, *args], input=stdin, capture_output=True,
                           timeout=30)
        return r.stdout.decode(errors="replace").rstrip("\n")

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return s

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return -1

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("kv_server did not exit on SIGTERM")
        err = self.proc.stderr.read()
        check(self.proc.returncode == 0, f"kv_server exits 0 on SIGTERM (stderr: {err.strip()[:300]!r})")
        return err


def recv_until(sock, predicate, limit=10.0):
    data = bytearray()
    deadline = time.time() + limit
    while not predicate(data):
        if time.time() > deadline:
            fail(f"timed out waiting for a reply; got {data[:200]!r}")
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    return bytes(data)


def resp_command(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def case_basic():
    s = Server()
    check(s.cli("SET", "k", "v") == "OK", "SET k v -> OK")
    check(s.cli("GET", "k") == "v", "GET k -> v")
    check(s.cli("GET", "missing") == "", "GET of a missing key -> nil")
    check(s.cli("PING") == "PONG", "PING -> PONG")
    check(s.cli("ECHO", "hello world") == "hello world", "ECHO")
    check(s.cli("SET", "n", "41") == "OK" and s.cli("INCR", "n") == "42", "INCR")
    check(s.cli("INCRBY", "n", "-50") == "-8" and s.cli("DECR", "n") == "-9", "INCRBY, DECR")
    check(s.cli("MSET", "a", "1", "b", "2") == "OK", "MSET")
    check(s.cli("MGET", "a", "b", "nope") == "1\n2", "MGET with a missing key")
    check(s.cli("EXISTS", "a", "b", "nope", "a") == "3", "EXISTS counts")
    check(s.cli("DEL", "a", "nope") == "1", "DEL counts what it removed")
    check(s.cli("SET", "k", "w", "NX") == "" and s.cli("GET", "k") == "v", "SET NX on an existing key")
    check(s.cli("SET", "new", "x", "XX") == "" and s.cli("EXISTS", "new") == "0", "SET XX on a missing key")
    check(s.cli("SET", "k", "w", "XX", "EX", "100") == "OK" and s.cli("TTL", "k") == "100", "SET XX EX, TTL")
    check(s.cli("PERSIST", "k") == "1" and s.cli("TTL", "k") == "-1", "PERSIST")
    check(s.cli("EXPIRE", "k", "50") == "1" and s.cli("TTL", "k") == "50", "EXPIRE")
    check(s.cli("TTL", "nope") == "-2", "TTL of a missing key")
    check(s.cli("CLIENT", "SETNAME", "me") == "OK", "CLIENT SETNAME")
    check(s.cli("DBSIZE") == "3", "DBSIZE")
    check(s.cli("CONFIG", "GET", "save") == "save", "CONFIG GET save")
    check(s.cli("FLUSHALL") == "OK" and s.cli("DBSIZE") == "0", "FLUSHALL")
    # Inline commands, as redis-cli sends what it reads from a pipe.
    with s.connect() as c:
        c.sendall(b'SET q "a b"\r\nGET q\r\nQUIT\r\n')
        check(recv_until(c, lambda d: False) == b"+OK\r\n$3\r\na b\r\n+OK\r\n", "inline commands, then QUIT closes")
    s.stop()


def case_errors():
    s = Server()
    check(s.cli("FOO", "a", "b") == "ERR unknown command 'FOO', with args beginning with: 'a' 'b' ",
          "unknown command: redis-server's text")
    check(s.cli("GET") == "ERR wrong number of arguments for 'get' command", "wrong arity: redis-server's text")
    check(s.cli("MSET", "a", "1", "b") == "ERR wrong number of arguments for 'mset' command", "MSET with an odd count")
    s.cli("SET", "s", "abc")
    check(s.cli("INCR", "s") == "ERR value is not an integer or out of range", "INCR of a non-integer")
    s.cli("SET", "m", "9223372036854775807")
    check(s.cli("INCR", "m") == "ERR increment or decrement would overflow", "INCR overflow")
    check(s.cli("SET", "k", "v", "EX", "0") == "ERR invalid expire time in 'set' command", "SET EX 0")
    check(s.cli("SET", "k", "v", "EX", "x") == "ERR value is not an integer or out of range", "SET EX x")
    check(s.cli("SET", "k", "v", "NX", "XX") == "ERR syntax error", "SET NX XX")
    check(s.cli("HELLO", "4") == "NOPROTO unsupported protocol version", "HELLO 4")
    check(s.cli("CLIENT", "NOPE") == "ERR unknown subcommand 'NOPE'. Try CLIENT HELP.", "CLIENT NOPE")
    s.stop()


def case_resp3():
    s = Server()
    out = s.cli("HELLO", "3", extra=("-3",))
    check("proto 3" in out.split("\n"), f"redis-cli -3 HELLO 3 gets a map with proto 3: {out!r}")
    with s.connect() as c:
        c.sendall(resp_command("HELLO", "3") + resp_command("GET", "nope") + resp_command("HELLO", "2") +
                  resp_command("GET", "nope"))
        data = recv_until(c, lambda d: d.endswith(b"$-1\r\n"))
        check(data.startswith(b"%7\r\n") and b"_\r\n" in data, "RESP3: a map reply and the null '_'")
        check(data.count(b"*14\r\n") == 1, "HELLO 2 switches back: the map is a flat array")
    s.stop()


def case_pipe():
    s = Server()
    n = 100_000
    cmds = b"".join(resp_command("SET", f"key:{i}", f"value:{i}") for i in range(n))
    t0 = time.time()
    r = subprocess.run(["redis-cli", "-p", str(s.port), "--pipe"], input=cmds, capture_output=True, timeout=60)
    out = r.stdout.decode()
    print(out.strip(), f"({time.time() - t0:.2f} s)")
    check(r.returncode == 0 and f"errors: 0, replies: {n}" in out, f"redis-cli --pipe: {n} commands, all replies")
    check(s.cli("DBSIZE") == str(n), f"DBSIZE is {n}")
    check(s.cli("GET", "key:99999") == "value:99999", "the last key")
    s.stop()


def case_big_values():
    s = Server()
    value = random.Random(7).randbytes(1 << 20)
    with tempfile.NamedTemporaryFile() as f:
        f.write(value)
        f.flush()
        with open(f.name, "rb") as stdin:
            out = subprocess.run(["redis-cli", "-p", str(s.port), "-x", "SET", "big"], stdin=stdin,
                                 capture_output=True, timeout=30).stdout
    check(out.strip() == b"OK", "redis-cli -x SET big (1 MiB)")
    with s.connect() as c:
        c.sendall(resp_command("GET", "big") * 3)
        expect = b"$%d\r\n%s\r\n" % (len(value), value)
        data = recv_until(c, lambda d: len(d) >= 3 * len(expect))
        check(data == expect * 3, "three pipelined GETs return the 1 MiB value byte for byte")
        c.sendall(resp_command("SET", "big2", value) + resp_command("STRLEN", "big2") + resp_command("GET", "big2"))
        data = recv_until(c, lambda d: d.endswith(value + b"\r\n"))
        check(data.startswith(b"+OK\r\n") and data.endswith(expect), "SET and GET of 1 MiB over one socket")
    check(s.cli("EXISTS", "big", "big2") == "2", "both keys exist")
    s.stop()


def case_slow_reader():
    limit = 4 << 20
    s = Server("--max-output-buffer", str(limit))
    s.cli("SET", "big", "x" * 100_000)  # 100 kB value
    rss_before = s.rss_kib()
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.connect(("127.0.0.1", s.port))
    c.settimeout(10)
    # 2,000 GETs = 200 MB of replies the client never reads while it pipelines.
    request = resp_command("GET", "big") * 2000
    try:
        c.sendall(request)
    except (BrokenPipeError, ConnectionResetError):
        pass
    deadline = time.time() + 10
    while time.time() < deadline:  # until the server cuts the client (reset or EOF)
        if s.cli("PING") != "PONG":
            fail("another client cannot PING while one client is stuck")
        try:
            c.setblocking(False)
            if c.recv(1) == b"":
                break
        except BlockingIOError:
            pass
        except OSError:  # reset by the server
            break
        time.sleep(0.1)
    rss_after = s.rss_kib()
    got = 0
    c.setblocking(True)
    try:
        while True:
            chunk = c.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
    except (ConnectionResetError, OSError):
        pass
    c.close()
    check(got < 200_000_000 // 2, f"the never-reading client was cut off (it read {got} bytes of 200 MB)")
    check(rss_after - rss_before < 64 * 1024, f"server memory stayed bounded (+{rss_after - rss_before} KiB)")
    check(s.cli("PING") == "PONG", "other clients never noticed")
    err = s.stop()
    check(re.search(r"disconnecting client id=\d+ addr=127\.0\.0\.1:\d+: \d+ bytes of replies not read "
                    r"\(over --max-output-buffer 4194304\)", err) is not None, f"the reason is logged: {err.strip()!r}")


def case_slow_reader_streams():
    # With --streams a client that does not read makes its task wait in drain(): the server
    # buffers no more than the transport's high-water mark and nothing is lost.
    s = Server()
    s.cli("SET", "big", "x" * 100_000)
    rss_before = s.rss_kib()
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.connect(("127.0.0.1", s.port))
    count = 100  # 10 MB of replies
    c.sendall(resp_command("GET", "big") * count)
    time.sleep(1)
    check(s.cli("PING") == "PONG", "other clients are served meanwhile")
    rss_after = s.rss_kib()
    check(rss_after - rss_before < 4 * 1024, f"server memory stayed bounded (+{rss_after - rss_before} KiB)")
    reply = b"$100000\r\n" + b"x" * 100_000 + b"\r\n"
    data = recv_until(c, lambda d: len(d) >= count * len(reply), limit=90)
    check(data == reply * count, f"then all {count} replies arrive, none lost")
    c.close()
    s.stop()


def case_protocol_error():
    s = Server()
    other = s.connect()
    other.sendall(resp_command("SET", "k", "v"))
    check(recv_until(other, lambda d: d.endswith(b"\r\n")) == b"+OK\r\n", "a second client works")
    for bad, text in [(b"*1\r\n$x\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
                      (b"*1\r\n:1\r\n", b"-ERR Protocol error: expected '$', got ':'\r\n"),
                      (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
                      (b'GET "k\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n")]:
        with s.connect() as c:
            c.sendall(resp_command("PING") + bad)
            data = recv_until(c, lambda d: False)
            check(data == b"+PONG\r\n" + text, f"{bad!r} -> {text!r} and the connection closes")
    other.sendall(resp_command("GET", "k"))
    check(recv_until(other, lambda d: d.endswith(b"v\r\n")) == b"$1\r\nv\r\n", "the other client never noticed")
    other.close()
    s.stop()


def case_benchmark():
    # redis-benchmark 7.0 has no "mget" test: MGET of 10 keys runs as a custom command.
    s = Server()
    mget = ["MGET"] + ["key:__rand_int__"] * 10
    for pipeline in ("1", "16"):
        base = ["redis-benchmark", "-p", str(s.port), "-n", "20000", "-c", "20", "-r", "10000", "-P", pipeline, "-q"]
        r = subprocess.run(base + ["-t", "set,get,incr,mset"], capture_output=True, timeout=120)
        r2 = subprocess.run(base + mget, capture_output=True, timeout=120)
        out = (r.stdout + r2.stdout).decode(errors="replace").replace("\r", "\n")
        rates = re.findall(r"^(SET|GET|INCR|MSET \(10 keys\)|MGET.*?): ([\d.]+) requests per second", out, re.M)
        print(f"-P {pipeline}:", rates)
        check(r.returncode == 0 and r2.returncode == 0 and len(rates) == 5,
              f"redis-benchmark -P {pipeline}: SET, GET, INCR, MSET and MGET ran")
    check(int(s.cli("DBSIZE")) > 1000, "the benchmark's keys are there")
    s.stop()


def case_expiry():
    s = Server()
    with s.connect() as c:
        c.sendall(b"".join(resp_command("SET", f"e{i}", "v", "PX", "300") for i in range(1000)) +
                  resp_command("SET", "keep", "v") + resp_command("PING"))
        data = recv_until(c, lambda d: d.endswith(b"+PONG\r\n"))
    check(data.count(b"+OK") == 1001, "1,001 SETs")
    deadline = time.time() + 5
    while s.cli("DBSIZE") != "1" and time.time() < deadline:  # DBSIZE reads no key
        time.sleep(0.05)
    check(s.cli("DBSIZE") == "1", "active expiry removed the 1,000 keys nobody read (DBSIZE 1)")
    s.cli("SET", "lazy", "v", "PX", "50")
    time.sleep(0.1)
    check(s.cli("GET", "lazy") == "" and s.cli("TTL", "lazy") == "-2", "an expired key reads as missing")
    s.stop()


def case_options():
    r = subprocess.run([KV, "--bogus"], capture_output=True, text=True, timeout=10)
    check(r.returncode == 2 and "--bogus" in r.stderr and "usage" in r.stderr, "unknown option: its name, usage, exit 2")
    r = subprocess.run([KV, "--port", "x"], capture_output=True, text=True, timeout=10)
    check(r.returncode == 2 and "invalid value 'x' for --port" in r.stderr, "bad number: exit 2")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    r = subprocess.run([KV, "--port", str(busy.getsockname()[1])], capture_output=True, text=True, timeout=10)
    busy.close()
    check(r.returncode == 1 and r.stderr.startswith("kv_server: "), f"a busy port: error on stderr, exit 1 ({r.stderr.strip()})")
    s = Server("--max-clients", "1")
    with s.connect() as a, s.connect() as b:
        a.sendall(resp_command("PING"))
        check(recv_until(a, lambda d: d.endswith(b"\r\n")) == b"+PONG\r\n", "the first client is served")
        check(recv_until(b, lambda d: False) == b"-ERR max number of clients reached\r\n", "--max-clients 1")
    s.stop()
    d = tempfile.mkdtemp()
    try:
        path = os.path.join(d, "kv.sock")
        p = subprocess.Popen([KV, "--unix", path], stdout=subprocess.PIPE, text=True)
        check(p.stdout.readline().strip() == f"listening on {path}", "--unix prints its path")
        out = subprocess.run(["redis-cli", "-s", path, "PING"], capture_output=True, text=True, timeout=10).stdout
        check(out.strip() == "PONG", "redis-cli -s PATH PING")
        p.terminate()
        p.wait(timeout=10)
    finally:
        shutil.rmtree(d)
    s = Server("--max-memory", "50000")
    s.cli("SET", "a", "x" * 100_000)
    check(s.cli("SET", "b", "x") == "OOM command not allowed when used memory > 'maxmemory'.", "--max-memory")
    check(s.cli("GET", "b") == "" and s.cli("DEL", "a") == "1" and s.cli("SET", "b", "x") == "OK",
          "reads and deletes still work; writes again after DEL")
    s.stop()


def main():
    global KV, KV_FLAGS
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    KV = os.path.abspath(sys.argv[2])
    KV_FLAGS = sys.argv[3:]
    for tool in ("redis-cli", "redis-benchmark"):
        if shutil.which(tool) is None:
            fail(f"{tool} is missing (Debian package redis-tools; scripts/lib.sh installs it)")
    case = globals().get("case_" + sys.argv[1])
    if case is None:
        fail(f"unknown case {sys.argv[1]}")
    case()
    print("PASS")


if __name__ == "__main__":
    main()
