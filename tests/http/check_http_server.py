#!/usr/bin/env python3
"""Drives examples/http_server (callback or, with --coro, coroutine handlers) with curl (keep-alive, HEAD, --http1.0, chunked upload -T -,
TLS with --cacert, the router's 405 with Allow), short h2load --h1 (pipelined) and wrk runs, and raw sockets (pipelining in order, smuggling
attempts: 400 + close and the following bytes never answered, a body trickled past
--body-timeout: 408 + close). Usage: check_http_server.py HTTP_SERVER [--coro]"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

SERVER = sys.argv[1]
EXTRA = sys.argv[2:]  # e.g. --coro: the same checks against the coroutine handlers
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def start(*args):
    p = subprocess.Popen([SERVER, "--port", "0", *EXTRA, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if not line.startswith("listening on "):
        p.kill()
        raise SystemExit("no listening line: %r %s" % (line, p.stderr.read()))
    return p, int(line.rsplit(":", 1)[1])


def stop(p):
    p.terminate()
    try:
        check(p.wait(timeout=10) == 0, "server exits 0 on SIGTERM")
    except subprocess.TimeoutExpired:
        p.kill()
        check(False, "server exits on SIGTERM")


def curl(*args, data=None):
    r = subprocess.run(["curl", "-s", "--max-time", "10", *args], input=data, capture_output=True, timeout=20)
    return r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def raw(port, payload, wait=2.0):
    """Sends `payload`, reads until the server closes (or `wait`); returns (bytes, closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    s.sendall(payload)
    got = b""
    closed = False
    deadline = time.time() + wait
    try:
        while time.time() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            got += chunk
    except socket.timeout:
        pass
    s.close()
    return got, closed


root = tempfile.mkdtemp()
with open(os.path.join(root, "index.html"), "w") as f:
    f.write("<p>hi</p>\n")
os.symlink("/etc/passwd", os.path.join(root, "escape"))
p, port = start("--root", root)
base = "http://127.0.0.1:%d" % port
try:
    out, err = curl("-v", base + "/hello", base + "/hello")
    check(out == "Hello, world!Hello, world!", "two GET /hello: %r" % out)
    check("Re-using existing connection" in err, "curl reuses the keep-alive connection")
    out, _ = curl("-I", base + "/hello")
    check(out.startswith("HTTP/1.1 200 OK") and "Content-Length: 13" in out, "HEAD /hello: %r" % out)
    out, _ = curl("-i", "--http1.0", base + "/hello")
    check(out.startswith("HTTP/1.1 200 OK") and "Connection: close" in out and out.endswith("Hello, world!"),
          "HTTP/1.0: %r" % out)
    out, _ = curl("-T", "-", base + "/upload", data=b"x" * 100000)
    check(out == "received 100000 bytes\n", "chunked upload with -T -: %r" % out)
    out, _ = curl("-i", "-X", "POST", base + "/hello")
    check(out.startswith("HTTP/1.1 405 ") and "Allow: GET, HEAD\r\n" in out, "POST /hello: 405 with Allow: %r" % out)
    out, _ = curl("-i", base + "/upload")
    check(out.startswith("HTTP/1.1 405 ") and "Allow: POST, PUT\r\n" in out, "GET /upload: 405 with Allow: %r" % out)
    out, _ = curl("-s", "-o", "/dev/null", "-w", "%{http_code}", base + "/hello/")
    check(out == "404", "/hello/ is another path: %s" % out)
    out, _ = curl(base + "/index.html")
    check(out == "<p>hi</p>\n", "a file under --root: %r" % out)
    big = os.path.join(root, "big.bin")
    with open(big, "wb") as f:
        f.write(bytes(range(256)) * 8192)  # 2 MiB
    out = subprocess.run(["curl", "-s", "--max-time", "10", base + "/big.bin"], capture_output=True).stdout
    check(out == bytes(range(256)) * 8192, "a 2 MiB file whole (%d bytes)" % len(out))
    out, _ = curl("-s", "-i", "-r", "10-19", base + "/big.bin")
    check("206 Partial Content" in out and "Content-Range: bytes 10-19/2097152" in out, "Range 10-19: %r" % out[:200])
    out = subprocess.run(["curl", "-s", "-r", "-5", base + "/big.bin"], capture_output=True).stdout
    check(out == bytes([251, 252, 253, 254, 255]), "suffix Range -5: %r" % out)
    out, _ = curl("-s", "-o", "/dev/null", "-w", "%{http_code}", "-r", "3000000-", base + "/big.bin")
    check(out == "416", "unsatisfiable Range: %s" % out)
    out, _ = curl("-s", "-I", base + "/index.html")
    check("Last-Modified: " in out and "Content-Type: text/html; charset=utf-8" in out and "Content-Length: 10" in out,
          "HEAD of a file: %r" % out)
    out, _ = curl("-s", "-o", "/dev/null", "-w", "%{http_code}", "-z", "Fri, 01 Jan 2100 00:00:00 GMT", base + "/index.html")
    check(out == "304", "If-Modified-Since in the future: %s" % out)
    out, _ = curl("-s", "-o", "/dev/null", "-w", "%{http_code}", "-z", "Thu, 01 Jan 1970 00:00:01 GMT", base + "/index.html")
    check(out == "200", "If-Modified-Since long ago: %s" % out)
    for bad in ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/%2E%2E/etc/passwd", "/escape", "/",
                "/index.html%00.txt", "/..%2fetc/passwd"]:
        out, _ = curl("--path-as-is", "-o", "/dev/null", "-w", "%{http_code}", base + bad)
        check(out == "404", "refused path %s: %s" % (bad, out))

    # Pipelining: three requests in one write, three answers in order.
    got, _ = raw(port, b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\nGET /nope HTTP/1.1\r\nHost: a\r\n\r\n"
                       b"GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    codes = re.findall(rb"HTTP/1\.1 (\d{3}) ", got)
    check(codes == [b"200", b"404", b"200"], "pipelined answers in order: %r" % codes)

    # Smuggling attempts: 400, the connection closed, the request after them never answered.
    follow = b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"
    attempts = {
        "CL.TE": b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "TE.CL": b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
        "TE obfuscated": b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
        "TE space before colon": b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        "duplicate CL": b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n",
        "obs-fold TE": b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
        "bare LF": b"GET /hello HTTP/1.1\nHost: a\n\n",
        "chunk size overflow": b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                               b"10000000000000001\r\nx\r\n0\r\n\r\n",
        "no Host": b"GET /hello HTTP/1.1\r\n\r\n",
    }
    for name, payload in attempts.items():
        got, closed = raw(port, payload + follow)
        check(got.startswith(b"HTTP/1.1 400 "), "%s: 400 (%r)" % (name, got[:40]))
        check(b"Hello, world!" not in got, "%s: the following request is never answered" % name)
        check(b"Connection: close" in got and closed, "%s: Connection: close and closed" % name)
    got, closed = raw(port, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n")
    check(got.startswith(b"HTTP/1.1 414 ") and closed, "long request line: 414 (%r)" % got[:40])
    got, closed = raw(port, b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"b" * 40000 + b"\r\n\r\n")
    check(got.startswith(b"HTTP/1.1 431 ") and closed, "large header section: 431 (%r)" % got[:40])
    got, closed = raw(port, b"PUT /upload HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n", 0.5)
    check(got == b"HTTP/1.1 100 Continue\r\n\r\n", "100 Continue before the body (%r)" % got)

    # Load generators (short, bounded runs; speed is measured in bench/run_http.py, not here).
    r = subprocess.run(["h2load", "--h1", "-n", "2000", "-c", "10", "-m", "10", base + "/hello"],
                       capture_output=True, text=True, timeout=60)
    check("2000 succeeded, 0 failed, 0 errored" in r.stdout, "h2load --h1 pipelined: %r" % r.stdout[-400:])
    r = subprocess.run(["wrk", "-t1", "-c10", "-d1s", base + "/hello"], capture_output=True, text=True, timeout=60)
    done = re.search(r"(\d+) requests in", r.stdout)
    check(done and int(done.group(1)) > 0 and "Non-2xx" not in r.stdout and "Socket errors" not in r.stdout,
          "wrk keep-alive: %r" % r.stdout[-400:])
finally:
    stop(p)



def trickle_body(port, head, piece, seconds):
    """Sends `head`, then `piece` every 0.2 s for up to `seconds`; returns (bytes, closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=seconds)
    s.sendall(head)
    s.settimeout(0.2)
    got, closed = b"", False
    deadline = time.time() + seconds
    while time.time() < deadline and not closed and not got:  # stop sending once answered
        try:
            s.sendall(piece)
        except OSError:
            break
        try:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
            got += chunk
        except socket.timeout:
            pass
        except OSError:
            closed = True
    if not closed:  # the server may have answered and closed after our last send
        s.settimeout(2)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    closed = True
                    break
                got += chunk
        except (socket.timeout, OSError):
            pass
    s.close()
    return got, closed


# Slowloris on the body: trickling bytes does not extend --body-timeout; 408 and close.
p, port = start("--body-timeout", "1")
try:
    for name, head, piece in [
            ("content-length", b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n", b"x"),
            ("chunked", b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", b"1\r\nx\r\n")]:
        # 1000 bytes at 5 per second never finish within the 8 s: only the deadline ends this.
        got, closed = trickle_body(port, head, piece, 8)
        check(got.startswith(b"HTTP/1.1 408 ") and closed, "slow %s body: 408 and close (%r)" % (name, got[:60]))
    out, _ = curl("-T", "-", "http://127.0.0.1:%d/upload" % port, data=b"y" * 200000)
    check(out == "received 200000 bytes\n", "a body sent at once is within --body-timeout: %r" % out)
finally:
    stop(p)

# TLS with a certificate made now; curl verifies it with --cacert.
tls_dir = tempfile.mkdtemp()
cert, key = os.path.join(tls_dir, "cert.pem"), os.path.join(tls_dir, "key.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
               check=True, capture_output=True)
p, port = start("--tls-cert", cert, "--tls-key", key)
try:
    out, err = curl("-v", "--cacert", cert, "https://127.0.0.1:%d/hello" % port)
    check(out == "Hello, world!", "TLS GET /hello: %r %s" % (out, err[-300:]))
    check("ALPN: server accepted http/1.1" in err or "ALPN, server accepted to use http/1.1" in err,
          "ALPN http/1.1 accepted")
finally:
    stop(p)

r = subprocess.run([SERVER, "--bogus"], capture_output=True, text=True)
check(r.returncode == 2 and "--bogus" in r.stderr and "usage" in r.stderr, "unknown option: exit 2, named")
r = subprocess.run([SERVER, "--body-timeout", "soon"], capture_output=True, text=True)
check(r.returncode == 2 and "--body-timeout" in r.stderr, "bad --body-timeout: exit 2, named")
if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
print("ok")
