#!/usr/bin/env python3
"""echo_server --workers 2 (callbacks and --streams): 20 clients echoed, SIGTERM closes them
all and exits 0; bad --workers values exit 2. Usage: check_echo_workers.py ECHO_SERVER"""
import signal
import socket
import subprocess
import sys

exe = sys.argv[1]
for extra in ([], ["--streams"]):
    p = subprocess.Popen([exe, "--port", "0", "--workers", "2"] + extra, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    assert line.startswith("listening on 127.0.0.1:"), line
    port = int(line.rsplit(":", 1)[1])
    socks = []
    for i in range(20):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"hi%d" % i)
        assert s.recv(100) == b"hi%d" % i
        socks.append(s)
    p.send_signal(signal.SIGTERM)
    for s in socks:
        assert s.recv(100) == b"", "connection not closed on SIGTERM"
        s.close()
    rc = p.wait(timeout=10)
    assert rc == 0, rc
for bad in (["--workers", "0"], ["--workers", "x"], ["--workers", "2", "--unix", "/tmp/bulb-no-such.sock"]):
    r = subprocess.run([exe] + bad, capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "usage" in r.stderr, (bad, r.returncode, r.stderr)
print("ok")
