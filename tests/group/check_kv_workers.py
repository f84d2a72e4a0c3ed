#!/usr/bin/env python3
"""kv_server --workers 2 (callbacks and --streams), driven by redis-cli: keys set from many
connections (spread over both loops by SO_REUSEPORT) are seen from any other; MGET/DEL/EXISTS
across loops, DBSIZE and FLUSHALL over all loops; a pipeline of 2,000 commands answered in order;
SIGTERM exits 0. Usage: check_kv_workers.py KV_SERVER"""
import signal
import socket
import subprocess
import sys

exe = sys.argv[1]


def cli(port, *args):
    r = subprocess.run(["redis-cli", "-p", str(port)] + list(args), capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, (args, r.stderr)
    return r.stdout.strip()


for extra in ([], ["--streams"]):
    p = subprocess.Popen([exe, "--port", "0", "--workers", "2"] + extra, stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline().strip()
        assert line.startswith("listening on 127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        for i in range(40):  # one connection each: the kernel spreads them over the loops
            assert cli(port, "SET", "k%d" % i, "v%d" % i) == "OK"
        for i in range(0, 40, 7):
            assert cli(port, "GET", "k%d" % i) == "v%d" % i
        keys = ["k%d" % i for i in range(40)]
        assert cli(port, "MGET", *keys, "nokey", "k0").split("\n") == ["v%d" % i for i in range(40)] + ["", "v0"]
        assert cli(port, "DBSIZE") == "40"
        assert cli(port, "EXISTS", "k1", "k2", "k3", "nokey") == "3"
        assert cli(port, "DEL", "k1", "k2", "k3", "nokey") == "3"
        assert cli(port, "DBSIZE") == "37"
        assert cli(port, "MSET", "a", "1", "b", "2", "c", "3") == "OK"
        assert cli(port, "MGET", "a", "b", "c") == "1\n2\n3"
        for _ in range(5):
            cli(port, "INCR", "counter")
        assert cli(port, "GET", "counter") == "5"
        # A pipeline on one connection: SET then GET of keys owned by both loops, in order.
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        req = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\np%d\r\n$%d\r\n%d\r\n*2\r\n$3\r\nGET\r\n$%d\r\np%d\r\n"
                       % (len(str(i)) + 1, i, len(str(i)), i, len(str(i)) + 1, i) for i in range(1000))
        s.sendall(req)
        want = b"".join(b"+OK\r\n$%d\r\n%d\r\n" % (len(str(i)), i) for i in range(1000))
        got = b""
        while len(got) < len(want):
            chunk = s.recv(65536)
            assert chunk, "connection closed early"
            got += chunk
        assert got == want, "pipelined replies out of order"
        s.close()
        assert cli(port, "FLUSHALL") == "OK"
        assert cli(port, "DBSIZE") == "0"
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 0
    finally:
        if p.poll() is None:
            p.kill()
for bad in (["--workers", "0"], ["--workers", "x"], ["--workers", "2", "--unix", "/tmp/bulb-no-such.sock"]):
    r = subprocess.run([exe] + bad, capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "usage" in r.stderr, (bad, r.returncode, r.stderr)
print("ok")
