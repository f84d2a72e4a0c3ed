#!/usr/bin/env python3
"""chat_server --workers 2 over real sockets: members on both loops (each client is told its
loop) are one room. Nicknames are unique across loops, /list names everyone, joins, /nick and
leaving reach the other loop, and 8 members (4 per loop) each send 300 numbered lines at once:
every member sees every other sender's lines complete, unduplicated and in the order sent.
SIGTERM exits 0 with nothing on stderr. For both chat servers (streams and callbacks).
Usage: check_chat_workers.py CHAT_SERVER"""
import re
import signal
import socket
import subprocess
import sys
import threading

exe = sys.argv[1]
LINES = 300
PER_LOOP = 4


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.file = self.sock.makefile("rb")
        where = self.readline()
        m = re.fullmatch(r"\*\*\* loop (\d+) of 2", where)
        assert m, where
        self.loop = int(m.group(1))
        assert self.readline() == "*** Welcome! Choose a nickname:"

    def readline(self):
        line = self.file.readline()
        assert line.endswith(b"\n"), "connection closed early: %r" % line
        return line[:-1].decode()

    def send(self, text):
        self.sock.sendall(text.encode() + b"\n")

    def expect(self, want):
        """Reads lines until `want` (skipping the room's other notices); returns those skipped."""
        skipped = []
        while True:
            line = self.readline()
            if line == want:
                return skipped
            skipped.append(line)

    def name(self, nick):
        self.send(nick)
        self.expect("*** you are %s; commands: /nick NAME, /list, /me ACTION, /quit" % nick)
        self.nick = nick


p = subprocess.Popen([exe, "--port", "0", "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
try:
    line = p.stdout.readline().strip()
    m = re.fullmatch(r"chat server listening on 127\.0\.0\.1:(\d+) \(2 loops\)", line)
    assert m, line
    port = int(m.group(1))
    # The kernel spreads connections over the two listeners: connect until each loop has 4.
    by_loop = {0: [], 1: []}
    spare = []
    for _ in range(200):
        if all(len(v) >= PER_LOOP for v in by_loop.values()):
            break
        c = Client(port)
        (by_loop[c.loop] if len(by_loop[c.loop]) < PER_LOOP else spare).append(c)
    assert all(len(v) >= PER_LOOP for v in by_loop.values()), "connections did not reach both loops: %s" % {
        k: len(v) for k, v in by_loop.items()}
    a, b = by_loop[0][0], by_loop[1][0]
    # A nickname taken on loop 0 is taken on loop 1.
    a.name("alice")
    b.send("alice")
    b.expect("*** nickname taken, try again:")
    b.name("bob")
    a.expect("*** bob joined")  # a join on loop 1 reaches loop 0
    b.send("/nick alice")
    b.expect("*** nickname taken")
    members = [c for v in by_loop.values() for c in v]
    for i, c in enumerate(c for c in members if c not in (a, b)):
        c.name("m%d" % i)
    everyone = sorted(c.nick for c in members)
    b.send("/list")
    while True:
        line = b.readline()
        if line.startswith("*** users: "):
            break
    assert sorted(line[len("*** users: "):].split(", ")) == everyone, line
    # /nick on loop 1 is seen on loop 0; the old name is free again, on either loop.
    b.send("/nick bobby")
    a.expect("*** bob is now known as bobby")
    b.nick = "bobby"
    # Lines at once from everyone: each member sees each other sender's lines in order.
    errors = []
    done = threading.Barrier(len(members) + 1)

    def read_all(c):
        try:
            seen = {o.nick: [] for o in members if o is not c}
            want_total = LINES * len(seen)
            total = 0
            while total < want_total:
                line = c.readline()
                m = re.fullmatch(r"(\S+): n (\d+)", line)
                if not m:
                    continue
                assert m.group(1) in seen, "%s got its own or an unknown line: %s" % (c.nick, line)
                seen[m.group(1)].append(int(m.group(2)))
                total += 1
            for sender, ns in seen.items():
                assert ns == list(range(LINES)), "%s (loop %d) saw %s's (loop %d) lines out of order or lost" % (
                    c.nick, c.loop, sender, next(o.loop for o in members if o.nick == sender))
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            errors.append("%s: %r" % (c.nick, e))
        finally:
            done.wait()

    readers = [threading.Thread(target=read_all, args=(c,), daemon=True) for c in members]
    for t in readers:
        t.start()
    for c in members:
        c.sock.sendall(b"".join(b"n %d\n" % n for n in range(LINES)))
    done.wait(timeout=120)
    assert not errors, errors
    # Leaving on loop 0 is seen on loop 1.
    a.send("/quit")
    a.expect("*** bye")
    b.expect("*** alice left")
    # Her name is free again, on the other loop too.
    for _ in range(200):
        if any(c.loop == 1 for c in spare):
            break
        spare.append(Client(port))
    # A nickname and a line in one write: the line waits for loop 0's answer to the claim.
    c = next(c for c in spare if c.loop == 1)
    c.send("alice\nback again")
    c.expect("*** you are alice; commands: /nick NAME, /list, /me ACTION, /quit")
    assert b.expect("*** alice joined") == []
    assert b.readline() == "alice: back again"
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=20) == 0, p.returncode
    err = p.stderr.read()
    assert err == "", err
finally:
    if p.poll() is None:
        p.kill()
        p.wait()

for bad in (["--workers", "0"], ["--workers", "x"], ["--workers"]):
    r = subprocess.run([exe] + bad, capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "usage: " in r.stderr and "[--workers N]" in r.stderr, (bad, r.returncode, r.stderr)
print("ok")
