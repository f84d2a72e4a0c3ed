#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Drives a chat server (examples/chat_server or chat_server_callbacks) with real peers.

usage: check_chat.py CHAT_SERVER CHAT_CLIENT [TEST...]

Tests: commands, long_line, slow, burst, stuck, controls, idle, client, socat, tls, tls_options (all when none is
named).
Raw-socket clients check every protocol line; chat_client and socat are driven with piped stdin;
the slow test has 20 clients, one of which never reads, exchanging 10,000 messages while the
server's RSS stays bounded. The TLS tests make a throwaway CA and a certificate for localhost /
127.0.0.1 with the openssl CLI (installed with apt-get when missing) and chat through Python's
ssl, openssl s_client and chat_client --tls-ca, with a plain-TCP client dropped on the way; bad
--tls-* options exit 2 (usage) or 1 (files). A server must exit 0 on SIGTERM and write nothing
to stderr (so sanitizer reports fail).
"""
import os
import re
import select
import selectors
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

LISTENING = re.compile(r"^chat server listening on (.+):(\d+)( \(TLS\))?$")
TIMEOUT = 10.0
CUT_LOG = re.compile(r"^chat_server(_callbacks)?: cut \S+ \(.*\): .*; \d+ bytes queued, --max-behind [\d.]+ s$")


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


def log(*args):
    print(*args, flush=True)


class Server:
    def __init__(self, exe, *args):
        self.errfile = tempfile.TemporaryFile()
        # Under AddressSanitizer, freed blocks stay resident in its quarantine (256 MiB by
        # default): a small one keeps the RSS bound meaningful. Other builds ignore the variable.
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "quarantine_size_mb=8"]))
        self.proc = subprocess.Popen([exe, "--port", "0", *args], stdout=subprocess.PIPE,
                                     stderr=self.errfile, text=True, env=env)
        line = self.proc.stdout.readline().strip()
        m = LISTENING.match(line)
        check(m is not None, f"server announced {line!r}")
        self.port = int(m.group(2))
        self.tls = m.group(3) is not None

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self, cuts=0):
        """Stops the server; `cuts` is how many "cut NICK" lines its stderr may hold (the
        clients it cut for being too slow, one line each with the reason)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise CheckFailed("server did not exit on SIGTERM")
        self.errfile.seek(0)
        err = self.errfile.read().decode(errors="replace")
        check(rc == 0, f"server exited {rc}; stderr: {err}")
        lines = err.splitlines()
        logged = [x for x in lines if CUT_LOG.match(x)]
        check(len(logged) == len(lines) and len(logged) <= cuts, f"server wrote to stderr: {err}")
        return logged


class Client:
    """A raw-socket client reading lines with a timeout; with `tls` (an ssl.SSLContext), over
    TLS to "localhost"."""

    def __init__(self, port, rcvbuf=None, tls=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(("127.0.0.1", port))
        if tls:
            self.sock = tls.wrap_socket(self.sock, server_hostname="localhost")
        self.buf = b""
        self.eof = False

    def send(self, text):
        self.sock.sendall(text.encode())

    def receive(self, timeout):
        """What arrives within `timeout` seconds: bytes, b"" at EOF, None if nothing came."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536)
        except socket.timeout:
            return None
        except ConnectionResetError:
            return b""

    def line(self, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            if self.eof:
                return None
            left = deadline - time.monotonic()
            check(left > 0, f"no line in {timeout} s (buffered {self.buf[:200]!r})")
            data = self.receive(left)
            if data is not None:
                self.eof = not data
                self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace")

    def expect(self, want, timeout=TIMEOUT):
        got = self.line(timeout)
        check(got == want, f"expected {want!r}, got {got!r}")

    def expect_eof(self, timeout=TIMEOUT):
        got = self.line(timeout)
        check(got is None, f"expected the connection to close, got {got!r}")

    def expect_silence(self, seconds=0.3):
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return
        check(False, f"unexpected data {data!r}")

    def close(self):
        self.sock.close()


def login(port, nick, others=(), motd=None, tls=None):
    c = Client(port, tls=tls)
    if motd:
        c.expect("*** " + motd)
    c.expect("*** Welcome! Choose a nickname:")
    c.send(nick + "\n")
    c.expect(f"*** you are {nick}; commands: /nick NAME, /list, /me ACTION, /quit")
    for o in others:
        o.expect(f"*** {nick} joined")
    return c


# --- tests ----------------------------------------------------------------------------------

def test_commands(exe, client_exe):
    motd = "hello from the test"
    srv = Server(exe, "--motd", motd)
    try:
        check(not srv.tls, "a server without --tls-cert says (TLS)")
        a = login(srv.port, "alice", motd=motd)
        b = Client(srv.port)
        b.expect("*** " + motd)
        b.expect("*** Welcome! Choose a nickname:")
        b.send("bad nick!\n")
        b.expect("*** invalid nickname (1-32 letters, digits, _ or -), try again:")
        b.send("alice\n")
        b.expect("*** nickname taken, try again:")
        b.send("bob\r\n")  # CRLF accepted
        b.expect("*** you are bob; commands: /nick NAME, /list, /me ACTION, /quit")
        a.expect("*** bob joined")
        c = login(srv.port, "carol", [a, b], motd=motd)

        a.send("hi all\n")
        b.expect("alice: hi all")
        c.expect("alice: hi all")
        a.expect_silence()  # no echo to the sender

        b.send("/list\n")
        b.expect("*** users: alice, bob, carol")
        b.send("/me waves\n")
        a.expect("* bob waves")
        c.expect("* bob waves")
        b.expect_silence()

        c.send("/nick dave\n")
        for x in (a, b, c):
            x.expect("*** carol is now known as dave")
        c.send("/nick alice\n")
        c.expect("*** nickname taken")
        c.send("/nick no way\n")
        c.expect("*** invalid nickname")
        c.send("/frobnicate\n")
        c.expect("*** unknown command /frobnicate")
        a.send("/list\n")
        a.expect("*** users: alice, bob, dave")
        c.send("after rename\n")
        a.expect("dave: after rename")
        b.expect("dave: after rename")

        b.send("/quit\n")
        b.expect("*** bye")
        b.expect_eof()
        a.expect("*** bob left")
        c.expect("*** bob left")
        c.close()  # EOF without /quit
        a.expect("*** dave left")
        a.send("/list\n")
        a.expect("*** users: alice")
        # the nickname of someone who left is free again
        login(srv.port, "bob", [a], motd=motd).close()
        a.expect("*** bob left")
        a.close()
    except BaseException:
        srv.proc.kill()
        raise
    srv.stop()


def test_long_line(exe, client_exe):
    srv = Server(exe, "--max-line", "100")
    try:
        a = login(srv.port, "alice")
        b = login(srv.port, "bob", [a])
        a.send("x" * 100 + "\n")  # exactly the limit: fine
        b.expect("alice: " + "x" * 100)
        a.send("y" * 101 + "\n")
        a.expect("*** line too long (max 100 bytes)")
        a.send("z" * 5000 + "\nstill here\n")
        a.expect("*** line too long (max 100 bytes)")
        b.expect("alice: still here")  # the connection survived; nothing of the long lines leaked
        a.send("/list\n")
        a.expect("*** users: alice, bob")
        b.expect_silence()
        a.close()
        b.expect("*** alice left")
        b.close()
    except BaseException:
        srv.proc.kill()
        raise
    srv.stop()


def test_slow(exe, client_exe, clients=20, total=10000, window=200):
    srv = Server(exe, "--max-backlog", "1000", "--max-behind", "2")
    try:
        time.sleep(0.1)
        base_rss = srv.rss_kib()
        start = time.monotonic()
        stalled = Client(srv.port, rcvbuf=4096)
        stalled.expect("*** Welcome! Choose a nickname:")
        stalled.send("stalled\n")
        stalled.expect("*** you are stalled; commands: /nick NAME, /list, /me ACTION, /quit")
        readers = []
        for i in range(clients - 1):
            readers.append(login(srv.port, f"r{i}", readers))
        # From now on the stalled client reads nothing at all.
        pad = "p" * 900  # ~9 MB for the stalled client: beyond the socket buffers (up to 4 MB)
        sel = selectors.DefaultSelector()
        state = {}
        for i, r in enumerate(readers):
            r.sock.setblocking(False)
            state[r] = {"i": i, "out": b"", "buf": b"", "got": {}, "left": 0, "other": [], "recv": 0}
            sel.register(r.sock, selectors.EVENT_READ, r)
        sent = 0
        next_seq = [0] * len(readers)
        max_rss = base_rss
        last_rss = 0.0
        while True:
            done = done_min(state, sent)
            if sent == total and all(st["recv"] == total - st["mine"] for st in state.values()):
                break
            # Send while fewer than `window` messages are still in flight to the slowest reader.
            while sent < total and sent - done < window:
                i = sent % len(readers)
                r = readers[i]
                state[r]["out"] += f"{next_seq[i]} {pad}\n".encode()
                next_seq[i] += 1
                sent += 1
                if sent == total:
                    for st in state.values():
                        st["mine"] = next_seq[st["i"]]
            for r, st in state.items():
                if st["out"]:
                    try:
                        n = r.sock.send(st["out"])
                        st["out"] = st["out"][n:]
                    except BlockingIOError:
                        pass
            for key, _ in sel.select(timeout=0.05):
                r = key.data
                st = state[r]
                try:
                    data = r.sock.recv(1 << 20)
                except BlockingIOError:
                    continue
                check(data, f"reader r{st['i']} was disconnected")
                st["buf"] += data
                *lines, st["buf"] = st["buf"].split(b"\n")
                for raw in lines:
                    line = raw.decode()
                    if line.startswith("*** "):
                        st["other"].append(line)
                        continue
                    nick, _, text = line.partition(": ")
                    seq, _, p = text.partition(" ")
                    check(nick.startswith("r") and p == pad, f"r{st['i']} got {line[:80]!r}")
                    want = st["got"].get(nick, 0)
                    check(int(seq) == want, f"r{st['i']} got {nick}'s message {seq}, expected {want}")
                    st["got"][nick] = want + 1
                    st["recv"] += 1
            now = time.monotonic()
            if now - last_rss > 0.1:
                max_rss = max(max_rss, srv.rss_kib())
                last_rss = now
            check(now - start < 60, f"slow test still running after 60 s ({sent} sent, slowest reader got {done})")
        elapsed = time.monotonic() - start
        max_rss = max(max_rss, srv.rss_kib())
        # The stalled client was cut off: after what the kernel holds, its connection ends.
        stalled.sock.settimeout(TIMEOUT)
        received = b""
        cut_off = True
        while True:
            try:
                data = stalled.sock.recv(1 << 20)
            except ConnectionResetError:
                break
            except socket.timeout:
                cut_off = False
                break
            if not data:
                break
            received += data
        check(len(received) < len(pad) * total // 2, f"the stalled client received {len(received)} bytes")
        growth = (max_rss - base_rss) / 1024
        log(f"  {total} messages to {len(readers)} readers in {elapsed:.1f} s; RSS {base_rss // 1024} MiB "
            f"-> max {max_rss // 1024} MiB (+{growth:.1f} MiB); stalled client got {len(received)} bytes"
            f"{'' if cut_off else ' and is still connected'}")
        check(cut_off, "the stalled client is still connected")
        for r, st in state.items():
            check(st["other"] == ["*** stalled left (too slow)"],
                  f"r{st['i']} notices: {st['other']}")
            for j, n in enumerate(next_seq):
                if j != st["i"]:
                    check(st["got"].get(f"r{j}") == n, f"r{st['i']} got {st['got'].get(f'r{j}')} of r{j}'s {n}")
        check(growth < 64, f"server RSS grew by {growth:.1f} MiB")
        a = login(srv.port, "after", readers)  # the server still works
        a.send("/list\n")
        a.expect("*** users: " + ", ".join([f"r{i}" for i in range(len(readers))] + ["after"]))
        for r in readers:
            r.close()
        a.close()
        stalled.close()
    except BaseException:
        srv.proc.kill()
        raise
    logged = srv.stop(cuts=1)
    check(len(logged) == 1 and " cut stalled " in logged[0], f"the server logged {logged}")


def read_lines(client, count, timeout=TIMEOUT):
    """The next `count` lines of `client` (failing if it is disconnected first)."""
    out = []
    for _ in range(count):
        line = client.line(timeout)
        check(line is not None, f"disconnected after {len(out)} of {count} lines (last {out[-1:]})")
        out.append(line)
    return out


def test_burst(exe, client_exe):
    """One member sends a burst: a 2 KB packet of 1,001 lines, then 10,000 lines pasted through
    chat_client. Every other member receives every line in order, and nobody is cut."""
    srv = Server(exe)
    try:
        a = login(srv.port, "alice")
        b = login(srv.port, "bob", [a])
        c = login(srv.port, "carol", [a, b])
        packet = "".join(f"{i % 10}\n" for i in range(1001))
        check(len(packet) == 2002, "the packet is 2 KB")
        a.send(packet)  # one send: one TCP segment on loopback
        for x in (b, c):
            got = read_lines(x, 1001)
            check(got == [f"alice: {i % 10}" for i in range(1001)], f"a member got {got[:3]}...{got[-3:]}")
        a.expect_silence()
        b.send("still here\n")
        a.expect("bob: still here")
        c.expect("bob: still here")
        # A 10,000-line paste through chat_client (stdin a file: read as fast as it can).
        paste = "paster\n" + "".join(f"line {i} of the paste\n" for i in range(10000))
        with tempfile.TemporaryFile() as f:
            f.write(paste.encode())
            f.seek(0)
            p = subprocess.Popen([client_exe, "--port", str(srv.port)], stdin=f, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            try:
                for x in (a, b, c):
                    x.expect("*** paster joined")
                for x in (a, b, c):
                    got = read_lines(x, 10000)
                    bad = [(i, g) for i, g in enumerate(got) if g != f"paster: line {i} of the paste"]
                    check(not bad, f"a member got {bad[:3]}")
                for x in (a, b, c):
                    x.expect("*** paster left")
                out, err = p.communicate(timeout=30)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        check(p.returncode == 0 and err == b"", f"chat_client exited {p.returncode}, stderr {err!r}")
        a.send("/list\n")
        a.expect("*** users: alice, bob, carol")
        for x in (a, b, c):
            x.close()
    except BaseException:
        srv.proc.kill()
        raise
    srv.stop()


def test_stuck(exe, client_exe):
    """A member that reads nothing while another floods the room: senders are held back (the
    streams server) or the member's queue fills (callbacks); either way only the stuck member is
    cut, within --max-behind, with the reason logged, and the readers get every line."""
    srv = Server(exe, "--max-line", "200", "--max-backlog", "50", "--max-behind", "1")
    try:
        stuck = Client(srv.port, rcvbuf=4096)
        stuck.expect("*** Welcome! Choose a nickname:")
        stuck.send("stuck\n")
        stuck.expect("*** you are stuck; commands: /nick NAME, /list, /me ACTION, /quit")
        a = login(srv.port, "alice", [stuck])
        b = login(srv.port, "bob", [stuck, a])
        lines = 40000  # 8 MB: past what the kernel buffers for the stuck client
        body = "x" * 190
        data = "".join(f"{i:06d} {body}\n" for i in range(lines)).encode()
        errors = []

        def pump():
            try:
                a.sock.settimeout(30)
                a.sock.sendall(data)
            except OSError as e:
                errors.append(e)
        t0 = time.monotonic()
        sender = threading.Thread(target=pump)
        sender.start()
        seen = 0
        notices = []
        while seen < lines:
            line = b.line(20)
            check(line is not None, f"bob was disconnected after {seen} lines")
            if line.startswith("*** "):
                notices.append(line)
                continue
            check(line == f"alice: {seen:06d} {body}", f"bob got {line[:40]!r} for line {seen}")
            seen += 1
        sender.join(30)
        check(not errors, f"alice's sending failed: {errors}")
        elapsed = time.monotonic() - t0
        check(notices == ["*** stuck left (too slow)"], f"bob's notices: {notices}")
        received = read_until_closed(stuck.sock)
        check(len(received) < len(data) // 2, f"the stuck client received {len(received)} bytes")
        log(f"  {lines} lines to bob in {elapsed:.1f} s; the stuck member got {len(received)} bytes, then was cut")
        a.expect("*** stuck left (too slow)")
        a.send("/list\n")
        a.expect("*** users: alice, bob")
        a.close()
        b.expect("*** alice left")
        b.close()
    except BaseException:
        srv.proc.kill()
        raise
    logged = srv.stop(cuts=1)
    check(len(logged) == 1 and " cut stuck " in logged[0], f"the server logged {logged}")


def test_controls(exe, client_exe):
    """Control characters never reach another user's terminal: the server escapes them (\\xHH),
    and chat_client escapes what a (hostile) server sends."""
    srv = Server(exe)
    try:
        a = login(srv.port, "alice")
        b = login(srv.port, "bob", [a])
        a.sock.sendall("hi\r*** bob left\x1b[2J\x00 tab\there é✓ c1:\u009b bad:\xff\x7f\n".encode("utf-8")
                       .replace("\xff".encode("utf-8"), b"\xff"))
        b.expect("alice: hi\\x0D*** bob left\\x1B[2J\\x00 tab\there é✓ c1:\\xC2\\x9B bad:\\xFF\\x7F")
        a.send("/me \x1b]0;owned\x07\n")
        b.expect("* alice \\x1B]0;owned\\x07")
        a.close()
        b.expect("*** alice left")
        b.close()
    except BaseException:
        srv.proc.kill()
        raise
    srv.stop()
    # A server sending control characters to chat_client.
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    # stdin is a pipe whose write end stays open until the client has exited: communicate() would
    # close it, and the client's stdin EOF could then race the server's close.
    stdin_r, stdin_w = os.pipe()
    p = subprocess.Popen([client_exe, "--port", str(lsock.getsockname()[1])], stdin=stdin_r,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(stdin_r)
    try:
        lsock.settimeout(TIMEOUT)
        conn, _ = lsock.accept()
        conn.sendall(b"plain\r\nfake\rnotice \x1b[31mred\x00\n\xc2\x85 last\n")
        conn.close()
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(stdin_w)
        lsock.close()
    # The server left first (its stdin still open): chat_client says so and exits 1.
    check(p.returncode == 1 and err == b"chat_client: the server closed the connection\n",
          f"chat_client exited {p.returncode}, stderr {err!r}")
    check(out == b"plain\nfake\\x0Dnotice \\x1B[31mred\\x00\n\\xC2\\x85 last\n", f"chat_client printed {out!r}")


def test_idle(exe, client_exe):
    """--idle-timeout: a member that sends no line for that long is told so, leaves and is
    closed; one that keeps talking (or sends only part of a long line now and then) stays."""
    srv = Server(exe, "--idle-timeout", "0.5")
    try:
        a = login(srv.port, "alice")
        b = login(srv.port, "bob", [a])
        t0 = time.monotonic()
        for i in range(6):  # bob talks every 0.2 s for 1.2 s: never idle
            time.sleep(0.2)
            b.send(f"talk {i}\n")
            if i == 1:
                a.expect("bob: talk 0")
        got = a.line()
        while got.startswith("bob: "):
            got = a.line()
        idle_at = time.monotonic() - t0
        check(got == "*** idle for 0.5 s: disconnecting", f"alice got {got!r}")
        a.expect_eof()
        check(0.45 <= idle_at < 1.5, f"alice was cut after {idle_at:.2f} s (limit 0.5 s)")
        b.expect("*** alice left (idle)")
        b.send("/list\n")
        b.expect("*** users: bob")
        b.close()
    except BaseException:
        srv.proc.kill()
        raise
    srv.stop()
    # 0 turns it off; a negative or empty value is a usage error.
    srv = Server(exe, "--idle-timeout", "0")
    srv.stop()
    for bad in ("-1", "", "x"):
        p = subprocess.run([exe, "--port", "0", "--idle-timeout", bad], capture_output=True, text=True, timeout=10)
        check(p.returncode == 2 and "usage: " in p.stderr, f"--idle-timeout {bad!r}: exit {p.returncode}")


def done_min(state, sent):
    """Messages the slowest reader has received, counting its own as received."""
    best = sent
    for st in state.values():
        own = (sent + len(state) - 1 - st["i"]) // len(state)  # its own messages among the first `sent`
        best = min(best, st["recv"] + own)
    return best


def run_chat_client(client_exe, port, stdin_text, as_file):
    if as_file:
        with tempfile.TemporaryFile() as f:
            f.write(stdin_text.encode())
            f.seek(0)
            p = subprocess.run([client_exe, "--port", str(port)], stdin=f, capture_output=True, timeout=30)
    else:
        p = subprocess.run([client_exe, "--port", str(port)], input=stdin_text.encode(),
                           capture_output=True, timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_client(exe, client_exe):
    srv = Server(exe, "--motd", "motd!")
    try:
        bob = login(srv.port, "bob", motd="motd!")
        for as_file in (False, True):
            nick = "alice_file" if as_file else "alice"
            rc, out, err = run_chat_client(client_exe, srv.port, f"{nick}\nhello\n/me smiles\n/list\n/quit\n", as_file)
            check(rc == 0 and err == "", f"chat_client exited {rc}, stderr {err!r}")
            want = ["*** motd!", "*** Welcome! Choose a nickname:",
                    f"*** you are {nick}; commands: /nick NAME, /list, /me ACTION, /quit",
                    f"*** users: bob, {nick}", "*** bye"]
            check(out.splitlines() == want, f"chat_client printed {out!r}")
            for line in (f"*** {nick} joined", f"{nick}: hello", f"* {nick} smiles", f"*** {nick} left"):
                bob.expect(line)
        # stdin EOF without /quit: the client leaves, the server sees it go
        rc, out, err = run_chat_client(client_exe, srv.port, "eve\nbye now\n", False)
        check(rc == 0 and err == "", f"chat_client exited {rc}, stderr {err!r}")
        bob.expect("*** eve joined")
        bob.expect("eve: bye now")
        bob.expect("*** eve left")
        # chat_client prints what others say; when the server closes first it says so, exit 1
        p = subprocess.Popen([client_exe, "--port", str(srv.port)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.stdin.write(b"frank\n")
        p.stdin.flush()
        bob.expect("*** frank joined")
        bob.send("to frank\n")
        time.sleep(0.3)
        srv.stop()
        try:
            out, err = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            raise CheckFailed("chat_client did not exit when the server closed")
        check(p.returncode == 1 and b"the server closed the connection" in err,
              f"chat_client exited {p.returncode}, stderr {err!r}")
        check("bob: to frank" in out.decode().splitlines(), f"chat_client printed {out!r}")
        bob.close()
        # no server: an error, exit 1
        rc, out, err = run_chat_client(client_exe, srv.port, "x\n", False)
        check(rc == 1 and "chat_client:" in err, f"chat_client without a server exited {rc}, stderr {err!r}")
    except BaseException:
        srv.proc.kill()
        raise
    srv.stop()


def test_socat(exe, client_exe):
    srv = Server(exe)
    try:
        bob = login(srv.port, "bob")
        tools = []
        if shutil.which("socat"):
            tools.append(("socat", ["socat", "-", f"TCP:127.0.0.1:{srv.port}"]))
        if shutil.which("nc"):
            tools.append(("nc", ["nc", "-N", "127.0.0.1", str(srv.port)]))  # OpenBSD nc: -N shuts down at EOF
        check(tools, "neither socat nor nc is installed")
        for name, cmd in tools:
            nick = "peer_" + name
            p = subprocess.run(cmd, input=f"{nick}\nhi from {name}\n/quit\n".encode(), capture_output=True, timeout=30)
            out = p.stdout.decode().splitlines()
            check(out == ["*** Welcome! Choose a nickname:",
                          f"*** you are {nick}; commands: /nick NAME, /list, /me ACTION, /quit", "*** bye"],
                  f"{name} printed {out!r} (exit {p.returncode}, stderr {p.stderr!r})")
            for line in (f"*** {nick} joined", f"{nick}: hi from {name}", f"*** {nick} left"):
                bob.expect(line)
        if shutil.which("socat") and shutil.which("bash"):
            # a here-string, and stdin EOF without /quit: socat half-closes, the server sees it leave
            p = subprocess.run(["bash", "-c", f'socat - TCP:127.0.0.1:{srv.port} <<< $\'heredoc\\n/me is here\''],
                               capture_output=True, timeout=30)
            out = p.stdout.decode().splitlines()
            check(p.returncode == 0 and out == ["*** Welcome! Choose a nickname:",
                                                "*** you are heredoc; commands: /nick NAME, /list, /me ACTION, /quit"],
                  f"socat printed {out!r} (exit {p.returncode}, stderr {p.stderr!r})")
            for line in ("*** heredoc joined", "* heredoc is here", "*** heredoc left"):
                bob.expect(line)
        bob.close()
    except BaseException:
        srv.proc.kill()
        raise
    srv.stop()


# --- TLS --------------------------------------------------------------------------------------

def ensure_openssl():
    """The openssl CLI makes the certificates and is one of the clients: apt-get installs it
    when missing."""
    if shutil.which("openssl"):
        return
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = sudo + ["apt-get", "install", "-y", "openssl"]
    log("installing:", " ".join(cmd))
    try:
        if subprocess.run(cmd, env=env, timeout=300).returncode != 0:
            subprocess.run(sudo + ["apt-get", "update"], env=env, timeout=300)
            subprocess.run(cmd, env=env, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        log(f"  {e}")
    check(shutil.which("openssl"), "the openssl command is missing and could not be installed")


def openssl(d, *args):
    p = subprocess.run(["openssl", *args], cwd=d, capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, f"openssl {' '.join(args)} exited {p.returncode}: {p.stderr}")


def make_pki(d):
    """In directory d: a throwaway CA (ca.pem, ca.key) and a certificate for localhost and
    127.0.0.1 signed by it (cert.pem, key.pem). Returns their paths."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl(d, "req", "-x509", *ec, "-days", "2", "-subj", "/CN=bulb chat test CA", "-keyout", "ca.key",
            "-out", "ca.pem", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl(d, "req", *ec, "-subj", "/CN=localhost", "-keyout", "key.pem", "-out", "server.csr")
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl(d, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "server.ext", "-out", "cert.pem")
    return tuple(os.path.join(d, n) for n in ("ca.pem", "ca.key", "cert.pem", "key.pem"))


class ProcessClient(Client):
    """A client program (openssl s_client) driven like a Client: lines go to its stdin, lines
    are read from its stdout."""

    def __init__(self, cmd):
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.buf = b""
        self.eof = False

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def receive(self, timeout):
        if not select.select([self.proc.stdout], [], [], timeout)[0]:
            return None
        return os.read(self.proc.stdout.fileno(), 65536)

    def expect_silence(self, seconds=0.3):
        if select.select([self.proc.stdout], [], [], seconds)[0]:
            check(False, f"unexpected data {os.read(self.proc.stdout.fileno(), 65536)!r}")

    def finish(self, timeout=TIMEOUT):
        """Waits for the program to exit (it writes little to stderr); returns its exit status
        and stderr."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.close()
            raise CheckFailed(f"{self.proc.args[0]} did not exit in {timeout} s")
        return self.proc.returncode, self.proc.stderr.read().decode(errors="replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:  # stdin: unsent data to a dead process
                pass


def read_until_closed(sock, timeout=TIMEOUT):
    """Everything a socket receives until its peer closes (or resets) it; fails after `timeout`."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        except socket.timeout:
            raise CheckFailed(f"the connection is still open after {timeout} s (received {data[:200]!r})")
        if not chunk:
            return data
        data += chunk


def test_tls(exe, client_exe):
    ensure_openssl()
    with tempfile.TemporaryDirectory(prefix="bulb-chat-tls-") as d:
        ca, _, cert, key = make_pki(d)
        motd = "over TLS"
        srv = Server(exe, "--motd", motd, "--tls-cert", cert, "--tls-key", key)
        peers = []
        try:
            check(srv.tls, "the listening line does not say (TLS)")
            # A plain-TCP connection that says nothing (a TLS server waits for its hello) does
            # not hold up anyone; it is still open when the server stops.
            silent = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
            peers.append(silent)
            ctx = ssl.create_default_context(cafile=ca)
            a = login(srv.port, "alice", motd=motd, tls=ctx)
            peers.append(a)
            check(a.sock.version() in ("TLSv1.2", "TLSv1.3"), f"negotiated {a.sock.version()}")

            # openssl s_client, verifying the certificate and the host name
            sc = ProcessClient(["openssl", "s_client", "-connect", f"127.0.0.1:{srv.port}", "-CAfile", ca,
                                "-verify_return_error", "-verify_hostname", "localhost", "-quiet"])
            peers.append(sc)
            sc.expect("*** " + motd)
            sc.expect("*** Welcome! Choose a nickname:")
            sc.send("sam\n")
            sc.expect("*** you are sam; commands: /nick NAME, /list, /me ACTION, /quit")
            a.expect("*** sam joined")
            a.send("hi sam\n")
            sc.expect("alice: hi sam")
            sc.send("/me waves\n")
            a.expect("* sam waves")

            # chat_client --tls-ca, reading a pipe
            cc = ProcessClient([client_exe, "--port", str(srv.port), "--tls-ca", ca])
            peers.append(cc)
            cc.expect("*** " + motd)
            cc.expect("*** Welcome! Choose a nickname:")
            cc.send("carol\n")
            cc.expect("*** you are carol; commands: /nick NAME, /list, /me ACTION, /quit")
            a.expect("*** carol joined")
            sc.expect("*** carol joined")
            cc.send("hello from carol\n")
            a.expect("carol: hello from carol")
            sc.expect("carol: hello from carol")
            sc.send("hi carol\n")
            cc.expect("sam: hi carol")
            a.expect("sam: hi carol")

            # A plain-TCP client on the TLS port is dropped; the others chat on.
            mallory = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
            peers.append(mallory)
            mallory.sendall(b"mallory\n/list\n")
            got = read_until_closed(mallory)
            check(b"Welcome" not in got and b"***" not in got, f"the plain client received {got!r}")
            a.send("still here\n")
            sc.expect("alice: still here")
            cc.expect("alice: still here")
            cc.send("/nick carla\n")
            for x in (a, sc, cc):
                x.expect("*** carol is now known as carla")
            sc.send("/list\n")
            sc.expect("*** users: alice, sam, carla")

            # chat_client's input ends without /quit: TLS cannot half-close, so the client quits
            # by itself and still prints the server's last line
            t0 = time.monotonic()
            cc.proc.stdin.close()
            cc.expect("*** bye")
            cc.expect_eof()
            rc, err = cc.finish()
            check(rc == 0 and err == "", f"chat_client exited {rc}, stderr {err!r}")
            check(time.monotonic() - t0 < 4, "chat_client waited out its grace period: the server did not close")
            a.expect("*** carla left")
            sc.expect("*** carla left")

            # chat_client reading a file whose last line lacks its "\n", and one ending in /quit
            for nick, text, args in (("dave", "dave\nfrom a file", ["--tls-name", "localhost"]),
                                     ("erin", "erin\nbye all\n/quit\n", ["--host", "localhost"])):
                with tempfile.TemporaryFile() as f:
                    f.write(text.encode())
                    f.seek(0)
                    p = subprocess.run([client_exe, "--port", str(srv.port), "--tls-ca", ca, *args], stdin=f,
                                       capture_output=True, timeout=30)
                out, err = p.stdout.decode().splitlines(), p.stderr.decode()
                check(p.returncode == 0 and err == "", f"chat_client ({nick}) exited {p.returncode}, stderr {err!r}")
                check(out == ["*** " + motd, "*** Welcome! Choose a nickname:",
                              f"*** you are {nick}; commands: /nick NAME, /list, /me ACTION, /quit", "*** bye"],
                      f"chat_client ({nick}) printed {out!r}")
                said = text.split("\n")[1]
                for x in (a, sc):
                    x.expect(f"*** {nick} joined")
                    x.expect(f"{nick}: {said}")
                    x.expect(f"*** {nick} left")

            # the input ends before a nickname was accepted: the server takes the client's /quit
            # for one, so the client closes after its grace period (5 s)
            t0 = time.monotonic()
            p = subprocess.run([client_exe, "--port", str(srv.port), "--tls-ca", ca], input=b"no nick!\n",
                               capture_output=True, timeout=30)
            elapsed = time.monotonic() - t0
            out, err = p.stdout.decode().splitlines(), p.stderr.decode()
            bad = "*** invalid nickname (1-32 letters, digits, _ or -), try again:"
            check(p.returncode == 0 and err == "" and out == ["*** " + motd, "*** Welcome! Choose a nickname:", bad, bad],
                  f"chat_client exited {p.returncode}, stdout {out!r}, stderr {err!r}")
            check(4.5 < elapsed < 15, f"chat_client closed after {elapsed:.1f} s, expected its 5 s grace period")
            a.expect_silence()

            # clients that must not get in: a wrong name, an untrusted CA (the system store), plain TCP
            for args, why in ((["--tls-ca", ca, "--tls-name", "wrong.test"], "hostname mismatch"),
                              (["--tls"], "certificate verify failed"),
                              ([], "")):
                p = subprocess.run([client_exe, "--port", str(srv.port), *args], input=b"intruder\nhello\n",
                                   capture_output=True, timeout=30)
                err = p.stderr.decode()
                check(p.returncode == 1 and err.startswith("chat_client: ") and why in err and p.stdout == b"",
                      f"chat_client {' '.join(args)} exited {p.returncode}, stdout {p.stdout!r}, stderr {err!r}")
            a.expect_silence()

            sc.send("/quit\n")
            sc.expect("*** bye")
            sc.expect_eof()
            rc, err = sc.finish()
            check(rc == 0, f"openssl s_client exited {rc}: {err}")
            a.expect("*** sam left")

            # a chat_client connected when the server stops exits cleanly: Server::close_clients
            # closes TLS connections with close_notify
            fc = ProcessClient([client_exe, "--port", str(srv.port), "--tls-ca", ca])
            peers.append(fc)
            fc.send("frank\n")
            a.expect("*** frank joined")
            a.send("to frank\n")
            fc.expect("*** " + motd)
            fc.expect("*** Welcome! Choose a nickname:")
            fc.expect("*** you are frank; commands: /nick NAME, /list, /me ACTION, /quit")
            fc.expect("alice: to frank")
            srv.stop()
            fc.expect_eof()
            rc, err = fc.finish()
            check(rc == 1 and "the server closed the connection" in err,
                  f"chat_client exited {rc} when the server stopped, stderr {err!r}")
        except BaseException:
            srv.proc.kill()
            raise
        finally:
            for x in peers:
                x.close()
        srv.stop()


def test_tls_options(exe, client_exe):
    ensure_openssl()
    with tempfile.TemporaryDirectory(prefix="bulb-chat-tls-") as d:
        ca, ca_key, cert, key = make_pki(d)
        missing = os.path.join(d, "missing.pem")

        def run(*args):
            p = subprocess.run([exe, "--port", "0", *args], capture_output=True, text=True, timeout=30)
            return p.returncode, p.stdout, p.stderr

        for args in (["--tls-cert", cert], ["--tls-key", key], ["--tls-cert", cert, "--tls-key"],
                     ["--tls", "--tls-cert", cert, "--tls-key", key], ["--tls-ca", ca]):
            rc, out, err = run(*args)
            check(rc == 2 and out == "" and "usage: " in err and "--tls-cert FILE --tls-key FILE" in err,
                  f"server {' '.join(args)} exited {rc}, stdout {out!r}, stderr {err!r}")
        for args, what in ((["--tls-cert", cert, "--tls-key", missing], "cannot read '" + missing + "'"),
                           (["--tls-cert", missing, "--tls-key", key], "cannot read '" + missing + "'"),
                           (["--tls-cert", cert, "--tls-key", ca_key], ca_key),   # not the certificate's key
                           (["--tls-cert", key, "--tls-key", key], key)):         # not a certificate
            rc, out, err = run(*args)
            name = os.path.basename(exe)
            check(rc == 1 and out == "" and err.startswith(f"{name}: TLS: ") and what in err
                  and err.count("\n") == 1,
                  f"server {' '.join(args)} exited {rc}, stdout {out!r}, stderr {err!r}")
        for args, want in ((["--tls-cert", cert], 2), (["--tls-name", "localhost"], 2), (["--tls-ca"], 2),
                           (["--tls-ca", missing], 1)):
            p = subprocess.run([client_exe, "--port", "1", *args], stdin=subprocess.DEVNULL, capture_output=True,
                               text=True, timeout=30)
            check(p.returncode == want and ("usage: " in p.stderr if want == 2 else p.stderr.startswith("chat_client: ")),
                  f"chat_client {' '.join(args)} exited {p.returncode}, stderr {p.stderr!r}")


TESTS = {"commands": test_commands, "long_line": test_long_line, "slow": test_slow, "burst": test_burst,
         "controls": test_controls, "idle": test_idle,
         "stuck": test_stuck,
         "client": test_client, "socat": test_socat, "tls": test_tls, "tls_options": test_tls_options}


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    exe, client_exe = sys.argv[1], sys.argv[2]
    names = sys.argv[3:] or list(TESTS)
    failed = []
    for name in names:
        log(f"--- {name} ({os.path.basename(exe)})")
        t0 = time.monotonic()
        try:
            TESTS[name](exe, client_exe)
            log(f"ok {name} ({time.monotonic() - t0:.1f} s)")
        except (CheckFailed, OSError, subprocess.SubprocessError) as e:
            log(f"FAIL {name}: {type(e).__name__}: {e}")
            failed.append(name)
    if failed:
        log("failed:", ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
