#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Drives examples/echo_server and examples/echo_client with real peers (socat, OpenBSD nc).

usage: test_echo.py TEST ECHO_SERVER ECHO_CLIENT ECHO_STRESS

TEST is one of: server_tcp, server_unix, server_signals, server_options, client, stress, streams,
tls. socat, netcat-openbsd and openssl are installed with apt-get when missing (exit 77, "skipped", if that
fails). Every program must exit with the expected status and, when it succeeds, write nothing
to stderr (so sanitizer reports fail the test).
"""
import os
import random
import re
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

LISTENING = re.compile(r"^listening on (.+?)( \(TLS\))?$")


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


def log(*args):
    print(*args, flush=True)


# --- tools ------------------------------------------------------------------------------------

def nc_is_openbsd():
    try:
        p = subprocess.run(["nc", "-h"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "-N" in p.stdout + p.stderr and "-U" in p.stdout + p.stderr


def ensure_tools():
    if shutil.which("socat") and nc_is_openbsd() and shutil.which("openssl"):
        return
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    cmd = sudo + ["apt-get", "install", "-y", "socat", "netcat-openbsd", "openssl"]
    log("installing:", " ".join(cmd))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(cmd, env=env).returncode != 0:
        subprocess.run(sudo + ["apt-get", "update"], env=env)
        subprocess.run(cmd, env=env)
    if not (shutil.which("socat") and nc_is_openbsd() and shutil.which("openssl")):
        log("SKIP: socat, netcat-openbsd and openssl are needed and could not be installed")
        sys.exit(77)


# --- processes --------------------------------------------------------------------------------

def lower_fd_limit(soft=1024):
    """preexec_fn: start a program with a small soft RLIMIT_NOFILE (it must raise it itself)."""
    def fn():
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, hard), hard))
    return fn


class EchoServer:
    """An echo_server process; `address` is what it printed, `port` its TCP port."""

    def __init__(self, exe, *args, preexec_fn=None):
        self.cmd = [exe, *map(str, args)]
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     preexec_fn=preexec_fn)
        line = self.proc.stdout.readline()  # flushed by the server once it listens
        m = LISTENING.match(line.rstrip("\n"))
        if not m:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise CheckFailed(f"{self.cmd}: expected 'listening on ...', got {line!r}\n{out}{err}")
        self.address = m.group(1)
        self.tls = m.group(2) is not None
        self.port = int(self.address.rsplit(":", 1)[1]) if ":" in self.address else None

    def stop(self, sig=signal.SIGTERM, within=5.0):
        """Sends `sig`; checks that the server exits 0 within `within` seconds, silently."""
        start = time.monotonic()
        self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=within)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise CheckFailed(f"{self.cmd}: still running {within} s after signal {sig}\n{err}")
        took = time.monotonic() - start
        check(self.proc.returncode == 0, f"{self.cmd}: exit status {self.proc.returncode} after signal {sig}\n{err}")
        check(err == "", f"{self.cmd}: wrote to stderr:\n{err}")
        check(out == "", f"{self.cmd}: printed more than the listening line:\n{out}")
        return took

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def run(cmd, data=b"", rc=0, timeout=60, quiet_ok=True):
    p = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)
    check(p.returncode == rc, f"{cmd}: exit status {p.returncode}, expected {rc}\nstderr:\n{p.stderr.decode(errors='replace')}")
    if rc == 0 and quiet_ok:
        check(p.stderr == b"", f"{cmd}: wrote to stderr:\n{p.stderr.decode(errors='replace')}")
    return p


def check_echo(cmd, data, timeout=60):
    p = run(cmd, data, timeout=timeout)
    check(p.stdout == data, f"{cmd}: sent {len(data)} bytes, got {len(p.stdout)} back"
                            f"{' (different bytes)' if len(p.stdout) == len(data) else ''}")


def free_port():
    """A TCP port that was free a moment ago (bind to port 0, read it, close)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def payload(size, seed):
    rnd = random.Random(seed)
    return rnd.randbytes(size)


def lines(n, seed):
    return b"".join(b"line %d of %d: %x\n" % (i, n, random.Random(seed * 7919 + i).getrandbits(64)) for i in range(n))


# --- echo_server with socat and nc ------------------------------------------------------------

def socat_tcp(port):
    return ["socat", "-t", "10", "-", f"TCP:127.0.0.1:{port}"]


def nc_tcp(port):
    return ["nc", "-N", "127.0.0.1", str(port)]


def clients_against(server_args, connect_cmds, exe):
    server = EchoServer(exe, *server_args)
    try:
        for name, cmd in connect_cmds(server):
            check_echo(cmd, b"hello\n")
            check_echo(cmd, lines(1000, 1))
            check_echo(cmd, b"no newline at the end")
            check_echo(cmd, payload(4 << 20, 2))  # 4 MiB: many partial writes, backpressure
            log(f"  {name}: ok (small, lines, no newline, 4 MiB)")
        # Several at once: 20 socat clients in parallel, each with its own data.
        procs = []
        for i in range(20):
            name, cmd = connect_cmds(server)[0]
            data = payload(100_000 + i, 100 + i)
            procs.append((subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE), data))
        for proc, data in procs:
            out, err = proc.communicate(data, timeout=60)
            check(proc.returncode == 0 and out == data,
                  f"parallel client: status {proc.returncode}, {len(out)}/{len(data)} bytes\n{err.decode()}")
        log("  20 parallel socat clients: ok")
        took = server.stop()
        log(f"  SIGTERM: exit 0 in {took:.3f} s")
    finally:
        server.kill()


def test_server_tcp(exe, _client, _stress):
    clients_against(["--port", 0], lambda s: [("socat", socat_tcp(s.port)), ("nc", nc_tcp(s.port))], exe)
    # IPv6, when the machine has it.
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        log("  ::1: no IPv6 here, skipped")
        return
    server = EchoServer(exe, "--host", "::1", "--port", 0)
    try:
        check(server.address.startswith("[::1]:"), f"listening on {server.address}, expected [::1]:PORT")
        check_echo(["socat", "-t", "10", "-", f"TCP6:[::1]:{server.port}"], b"over IPv6\n")
        check_echo(["nc", "-N", "::1", str(server.port)], b"over IPv6 with nc\n")
        server.stop()
        log("  ::1 (socat, nc): ok")
    finally:
        server.kill()


def test_server_unix(exe, client, _stress):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "echo.sock")
        clients_against(["--unix", path],
                        lambda s: [("socat", ["socat", "-t", "10", "-", f"UNIX-CONNECT:{s.address}"]),
                                   ("nc", ["nc", "-N", "-U", s.address])], exe)
        check(not os.path.exists(path), f"{path} left behind after the server closed")
        # A stale socket file (a killed server) is replaced.
        server = EchoServer(exe, "--unix", path)
        server.proc.kill()
        server.proc.communicate()
        check(os.path.exists(path), "expected the killed server's socket file")
        server = EchoServer(exe, "--unix", path)
        try:
            check_echo(["nc", "-N", "-U", path], b"after a stale socket\n")
            server.stop()
        finally:
            server.kill()
        log("  stale socket file replaced: ok")
        # An empty path is an error, not "no --unix" (which would listen on TCP).
        for prog in (exe, client):
            p = run([prog, "--unix", ""], rc=2, timeout=10)
            name = os.path.basename(prog).encode()
            check(p.stderr.startswith(name + b": --unix needs a path\nusage: ") and p.stdout == b"",
                  f"--unix '': {p.stderr!r} {p.stdout!r}")
        # A regular file is not replaced, and the message says what is wrong with it.
        regular = os.path.join(d, "notes.txt")
        with open(regular, "w") as f:
            f.write("keep me\n")
        p = run([exe, "--unix", regular], rc=1, timeout=10)
        check(p.stderr.decode() == f"echo_server: cannot listen on Unix socket {regular}, which exists and is "
                                   "not a socket: File exists\n", f"--unix on a file: {p.stderr!r}")
        check(open(regular).read() == "keep me\n", "the regular file was changed")
        # A client connecting to a missing socket says why once.
        p = run([client, "--unix", path], rc=1, timeout=10)
        check(p.stderr.decode() == f"echo_client: connect to {path}: No such file or directory\n",
              f"echo_client --unix MISSING: {p.stderr!r}")
        log("  --unix '': exit 2; --unix FILE: exit 1 (not a socket); missing socket: one message: ok")


def test_server_signals(exe, _client, _stress):
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Idle connected clients are closed gracefully (they see EOF, not a reset) and the
        # server exits 0 promptly.
        server = EchoServer(exe, "--port", 0)
        try:
            socks = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(5)]
            for i, s in enumerate(socks):
                s.sendall(b"ping %d\n" % i)
                check(s.recv(100) == b"ping %d\n" % i, "no echo before the signal")
            # A client in the middle of a big echo (sending and reading in threads): the server
            # stops reading and closes after sending what it buffered; unread input may make that
            # close a reset, so the client checks only that what it got is a prefix, in order.
            busy = socket.create_connection(("127.0.0.1", server.port))
            big = payload(1 << 20, 3)
            got = bytearray()

            def send():
                try:
                    busy.sendall(big)
                except OSError:
                    pass

            def receive():
                try:
                    while chunk := busy.recv(1 << 16):
                        got.extend(chunk)
                except OSError:
                    pass

            threads = [threading.Thread(target=send), threading.Thread(target=receive)]
            for t in threads:
                t.start()
            deadline = time.monotonic() + 10
            while len(got) < 1000 and time.monotonic() < deadline:
                time.sleep(0.01)
            check(len(got) >= 1000, "the busy client got no echo within 10 s")
            took = server.stop(sig, within=5.0)
            check(took < 2.0, f"exit took {took:.3f} s after {sig.name}")
            for s in socks:
                s.settimeout(5)
                check(s.recv(100) == b"", "an idle client did not see EOF after the signal")
                s.close()
            for t in threads:
                t.join(10)
            busy.close()
            check(bytes(got) == big[:len(got)], "the busy client got wrong bytes")
            log(f"  {sig.name}: exit 0 in {took:.3f} s; 5 idle clients saw EOF; busy client got "
                f"{len(got)} of {len(big)} bytes, in order")
        finally:
            server.kill()
    # Port 0 prints the port chosen, and it is the port that echoes.
    server = EchoServer(exe, "--port", 0)
    try:
        check(re.fullmatch(r"127\.0\.0\.1:\d+", server.address) and server.port > 0,
              f"listening on {server.address}")
        check_echo(nc_tcp(server.port), b"port 0\n")
        server.stop()
        log(f"  --port 0: printed {server.address}: ok")
    finally:
        server.kill()
    # Started with a soft descriptor limit of 1024: it raises it to the hard limit.
    server = EchoServer(exe, "--port", 0, preexec_fn=lower_fd_limit(1024))
    try:
        with open(f"/proc/{server.proc.pid}/limits") as f:
            row = next(line for line in f if line.startswith("Max open files"))
        soft, hard = row.split()[3:5]
        check(soft == hard, f"server's descriptor limit {soft} (hard {hard}): not raised")
        server.stop()
        log(f"  RLIMIT_NOFILE raised from 1024 to {soft}: ok")
    finally:
        server.kill()


def test_server_options(exe, _client, _stress):
    port = free_port()
    server = EchoServer(exe, "--port", port)
    try:
        check(server.address == f"127.0.0.1:{port}", f"--port {port}: listening on {server.address}")
        # The port is taken now: a second server fails with status 1 and says why.
        p = run([exe, "--port", str(port)], rc=1, timeout=10)
        check(b"echo_server:" in p.stderr, f"no error message for a busy port: {p.stderr!r}")
        check(p.stdout == b"", "printed a listening line for a busy port")
        server.stop()
        log(f"  --port {port}: ok; busy port: exit 1 ({p.stderr.decode().strip()})")
    finally:
        server.kill()
    for args in (["--bogus"], ["--port"], ["--port", "abc"], ["--port", "70000"], ["--port", "-1"],
                 ["--host"], ["extra"]):
        p = run([exe, *args], rc=2, timeout=10)
        check(b"usage: echo_server" in p.stderr, f"{args}: no usage on stderr: {p.stderr!r}")
        check(p.stdout == b"", f"{args}: printed {p.stdout!r}")
    log("  bad options: exit 2 with usage: ok")
    p = run([exe, "--host", "no such host", "--port", "0"], rc=1, timeout=30)
    check(b"echo_server:" in p.stderr, f"unresolvable host: {p.stderr!r}")
    log(f"  unresolvable host: exit 1 ({p.stderr.decode().strip()})")


# --- echo_client ------------------------------------------------------------------------------

def socat_echo_server(address_fmt):
    """A socat echo server (PIPE echoes; fork: one child per connection) on a free port."""
    for _ in range(5):
        port = free_port()
        proc = subprocess.Popen(["socat", address_fmt.format(port=port), "PIPE"], stderr=subprocess.PIPE)
        for _ in range(100):  # until it listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return proc, port
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.05)
        proc.kill()
        proc.communicate()
    raise CheckFailed("could not start a socat echo server")


def client_round(client, target, name, big_size=8 << 20):
    msgs = ["hello", "with spaces and ünïcode", ""]
    p = run([client, *target, *[a for m in msgs for a in ("--message", m)]])
    check(p.stdout == "".join(m + "\n" for m in msgs).encode(), f"{name} --message: got {p.stdout!r}")
    check_echo([client, *target], lines(1000, 5))               # stdin is a pipe
    check_echo([client, *target], b"")                          # empty stdin
    big = payload(big_size, 6)                                   # flow control both ways
    check_echo([client, *target], big, timeout=120)
    with tempfile.NamedTemporaryFile() as f:                     # stdin is a regular file
        f.write(big)
        f.flush()
        with open(f.name, "rb") as stdin:
            p = subprocess.run([client, *target], stdin=stdin, capture_output=True, timeout=60)
        check(p.returncode == 0 and p.stdout == big and p.stderr == b"",
              f"{name} with a file on stdin: status {p.returncode}, {len(p.stdout)} bytes\n{p.stderr.decode()}")
    with open(os.devnull, "rb") as stdin:                        # stdin is /dev/null
        p = subprocess.run([client, *target], stdin=stdin, capture_output=True, timeout=60)
    check(p.returncode == 0 and p.stdout == b"" and p.stderr == b"", f"{name} with /dev/null: {p}")
    log(f"  echo_client -> {name}: ok (--message, pipe, empty, {big_size} bytes from a pipe and "
        f"from a file, /dev/null)")


# socat's PIPE echo writes into its own pipe with blocking writes: past ~64 KiB in flight it
# deadlocks itself, whatever the client does. Its payloads stay below that.
SOCAT_BIG = 48 << 10


def test_client(server_exe, client, _stress):
    server = EchoServer(server_exe, "--port", 0)
    try:
        client_round(client, ["--port", str(server.port)], "echo_server (TCP)")
        server.stop()
    finally:
        server.kill()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "echo.sock")
        server = EchoServer(server_exe, "--unix", path)
        try:
            client_round(client, ["--unix", path], "echo_server (Unix)")
            server.stop()
        finally:
            server.kill()
        proc = subprocess.Popen(["socat", f"UNIX-LISTEN:{path},fork", "PIPE"], stderr=subprocess.PIPE)
        try:
            for _ in range(100):
                if os.path.exists(path):
                    break
                time.sleep(0.05)
            client_round(client, ["--unix", path], "socat (Unix)", SOCAT_BIG)
        finally:
            proc.kill()
            proc.communicate()
    proc, port = socat_echo_server("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork")
    try:
        client_round(client, ["--port", str(port)], "socat (TCP)", SOCAT_BIG)
    finally:
        proc.kill()
        proc.communicate()
    # Nobody listening: exit 1 with the reason.
    p = run([client, "--port", str(free_port()), "--message", "x"], rc=1, timeout=30)
    check(b"echo_client:" in p.stderr and p.stdout == b"", f"connection refused: {p.stderr!r}")
    log(f"  refused: exit 1 ({p.stderr.decode().strip()})")
    # A server that closes before the input ends: exit 1 (nc -l answers nothing and quits).
    port = free_port()
    nc = subprocess.Popen(["nc", "-l", "127.0.0.1", str(port)], stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if f":{port:04X} " in open("/proc/net/tcp").read():
                break
            time.sleep(0.05)
        cl = subprocess.Popen([client, "--port", str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        time.sleep(0.3)
        nc.kill()  # the connection closes while the client still waits for input
        cl.wait(timeout=10)  # stdin still open (communicate() would close it)
        out, err = cl.communicate(timeout=10)
        check(cl.returncode == 1 and b"echo_client:" in err, f"server gone early: status {cl.returncode} {err!r}")
        log(f"  server closed first: exit 1 ({err.decode().strip()})")
    finally:
        nc.kill()
        nc.communicate()
    for args in (["--bogus"], ["--port"], ["--port", "0"], ["--message"]):
        p = run([client, *args], rc=2, timeout=10)
        check(b"usage: echo_client" in p.stderr, f"{args}: no usage: {p.stderr!r}")
    log("  bad options: exit 2 with usage: ok")


# --- echo_server --streams ----------------------------------------------------------------------

def test_streams(exe, client, stress_exe):
    """The coroutine-streams server passes what the callback one does, and takes 2,000 clients."""
    clients_against(["--port", 0, "--streams"], lambda s: [("socat", socat_tcp(s.port)), ("nc", nc_tcp(s.port))], exe)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "echo.sock")
        server = EchoServer(exe, "--unix", path, "--streams")
        try:
            client_round(client, ["--unix", path], "echo_server --streams (Unix)")
            server.stop()
        finally:
            server.kill()
    server = EchoServer(exe, "--port", 0, "--streams", preexec_fn=lower_fd_limit(1024))
    try:
        p = subprocess.run([stress_exe, "--port", str(server.port), "--conns", "2000", "--deadline", "60"],
                           capture_output=True, text=True, timeout=90)
        log(p.stdout.rstrip())
        check(p.returncode == 0 and p.stderr == "", f"stress client: status {p.returncode}\n{p.stderr}")
        server.stop(within=10)
    finally:
        server.kill()


# --- TLS ----------------------------------------------------------------------------------------

def openssl(*args, cwd):
    p = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, f"openssl {' '.join(args)}: {p.stderr}")


def make_pki(d):
    """A throwaway CA, a server certificate for localhost / 127.0.0.1 signed by it, and an
    unrelated second CA (made at test time: no keys in git)."""
    for ca in ("ca", "other_ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.pem",
                "-days", "2", "-subj", f"/CN=bulb test {ca}", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "server.csr",
            "-subj", "/CN=localhost", cwd=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "cert.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    return {name: os.path.join(d, name) for name in ("ca.pem", "other_ca.pem", "cert.pem", "key.pem", "ca.key")}


def python_tls_round(port, ca, data):
    """Python's ssl (OpenSSL) as the client: sends `data` while reading, then close_notify,
    and waits for the server's close_notify (unwrap)."""
    ctx = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            got = bytearray()
            for i in range(0, len(data), 16384):
                tls.sendall(data[i:i + 16384])
                while len(got) < i // 2:  # keep reading so neither side's buffers fill up
                    got += tls.recv(65536)
            while len(got) < len(data):
                chunk = tls.recv(65536)
                check(chunk, f"python ssl: EOF after {len(got)} of {len(data)} bytes")
                got += chunk
            check(bytes(got) == data, "python ssl: different bytes came back")
            version = tls.version()
            tls.unwrap()  # our close_notify, then the server's
    return version


def test_tls(exe, client, _stress):
    with tempfile.TemporaryDirectory() as d:
        pki = make_pki(d)
        ca, cert, key = pki["ca.pem"], pki["cert.pem"], pki["key.pem"]
        for style in ([], ["--streams"]):
            name = "echo_server" + "".join(" " + a for a in style) + " (TLS)"
            server = EchoServer(exe, "--port", 0, *style, "--tls-cert", cert, "--tls-key", key)
            try:
                check(server.tls, f"{name}: the listening line does not say TLS")
                port = str(server.port)
                client_round(client, ["--port", port, "--tls-ca", ca], name)
                socat = ["socat", "-t", "10", "-", f"OPENSSL:127.0.0.1:{port},cafile={ca},commonname=localhost"]
                check_echo(socat, lines(1000, 8))
                check_echo(socat, payload(4 << 20, 9), timeout=120)
                version = python_tls_round(server.port, ca, payload(2 << 20, 10))
                log(f"  {name}: socat OPENSSL (lines, 4 MiB), python ssl ({version}, 2 MiB, close_notify both ways): ok")
                # Verification failures are the client's error, with the reason.
                p = run([client, "--port", port, "--tls-ca", ca, "--tls-name", "wrong.example", "--message", "x"],
                        rc=1, timeout=30)
                check(b"hostname mismatch" in p.stderr, f"wrong host name: {p.stderr!r}")
                p = run([client, "--port", port, "--tls-ca", pki["other_ca.pem"], "--message", "x"], rc=1, timeout=30)
                check(b"certificate verify failed" in p.stderr, f"untrusted CA: {p.stderr!r}")
                # A plain-text client is dropped; the server goes on serving TLS.
                p = subprocess.run(["nc", "-N", "-w", "10", "127.0.0.1", port], input=b"GET / HTTP/1.0\r\n\r\n",
                                   capture_output=True, timeout=30)
                check(b"GET" not in p.stdout, f"a plain client got its bytes echoed: {p.stdout!r}")
                check_echo([client, "--port", port, "--tls-ca", ca], b"still serving\n")
                log(f"  {name}: wrong name, untrusted CA, plain-text client: refused, server unharmed")
                server.stop()
            finally:
                server.kill()
        # Bad TLS options: usage (2) or a clear error at start-up (1), never a listening server.
        for args in (["--tls-cert", cert], ["--tls-key", key], ["--tls-ca", ca], ["--tls-cert"]):
            p = run([exe, "--port", "0", *args], rc=2, timeout=10)
            check(b"usage: echo_server" in p.stderr, f"{args}: no usage: {p.stderr!r}")
        for bad_key in ("/nonexistent/key.pem", pki["ca.key"]):  # missing; not the certificate's key
            p = run([exe, "--port", "0", "--tls-cert", cert, "--tls-key", bad_key], rc=1, timeout=10)
            check(p.stderr.startswith(b"echo_server:") and p.stdout == b"", f"key {bad_key}: {p.stderr!r} {p.stdout!r}")
        p = run([client, "--port", "1", "--tls-cert", cert], rc=2, timeout=10)
        p = run([client, "--port", str(free_port()), "--tls-ca", "/nonexistent/ca.pem"], rc=1, timeout=10)
        check(b"echo_client:" in p.stderr, f"missing CA file: {p.stderr!r}")
        log("  bad TLS options and files: exit 2 / exit 1 with the reason: ok")


# --- 10,000 connections -----------------------------------------------------------------------

def test_stress(server_exe, _client, stress_exe, conns=10000):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < conns + 100:
        log(f"SKIP: the hard descriptor limit ({hard}) is below {conns + 100}")
        sys.exit(77)
    lo, hi = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    check(hi - lo + 1 > conns, f"ephemeral port range {lo}-{hi} is too small for {conns} connections")
    # Both start with a soft limit of 1024: each must raise its own.
    server = EchoServer(server_exe, "--port", 0, preexec_fn=lower_fd_limit(1024))
    try:
        start = time.monotonic()
        p = subprocess.run([stress_exe, "--port", str(server.port), "--conns", str(conns), "--deadline", "60"],
                           capture_output=True, text=True, timeout=90, preexec_fn=lower_fd_limit(1024))
        took = time.monotonic() - start
        log(p.stdout.rstrip())
        check(p.returncode == 0, f"stress client: status {p.returncode}\n{p.stderr}")
        check(p.stderr == "", f"stress client wrote to stderr:\n{p.stderr}")
        check(took < 60, f"took {took:.1f} s")
        took = server.stop(within=10)
        log(f"  server: SIGTERM, exit 0 in {took:.3f} s")
    finally:
        server.kill()


TESTS = {
    "server_tcp": test_server_tcp,
    "server_unix": test_server_unix,
    "server_signals": test_server_signals,
    "server_options": test_server_options,
    "client": test_client,
    "stress": test_stress,
    "streams": test_streams,
    "tls": test_tls,
}


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in TESTS:
        print(__doc__, file=sys.stderr)
        return 2
    ensure_tools()
    try:
        TESTS[sys.argv[1]](*sys.argv[2:])
    except CheckFailed as e:
        log(f"FAILED: {e}")
        return 1
    log("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
