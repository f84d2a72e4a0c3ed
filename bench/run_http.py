#!/usr/bin/env python3
"""HTTP/1.1 /hello against nginx (nginx-light, one worker, access_log off, return 200) in the
same run: wrk -t1 -c50 -d10s and h2load --h1 -n N -c 50 -m 10 (pipelined). Servers are pinned
to CPU 0, clients to CPU 1; server CPU per request comes from /proc/PID/stat (utime+stime).
Usage: bench/run_http.py BUILD_DIR [SECONDS] [H2LOAD_REQUESTS]   (a person runs it; not a test)"""
import os
import re
import subprocess
import sys
import tempfile
import time

build = sys.argv[1]
seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
h2n = int(sys.argv[3]) if len(sys.argv) > 3 else 500000
tick = os.sysconf("SC_CLK_TCK")


def cpu(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick


def start_bulb(extra):
    p = subprocess.Popen(["taskset", "-c", "0", os.path.join(build, "examples/http_server"), "--port", "0", *extra],
                         stdout=subprocess.PIPE, text=True)
    port = int(p.stdout.readline().rsplit(":", 1)[1])
    return p, port


def start_nginx():
    d = tempfile.mkdtemp()
    port = 18000 + os.getpid() % 1000
    conf = os.path.join(d, "nginx.conf")
    open(conf, "w").write("""worker_processes 1; daemon off; master_process off; pid %s/nginx.pid;
error_log %s/error.log; events { worker_connections 4096; }
http { access_log off; client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s; uwsgi_temp_path %s;
scgi_temp_path %s; keepalive_requests 1000000;
server { listen 127.0.0.1:%d; location = /hello { default_type text/plain; return 200 "Hello, world!"; } } }
""" % (d, d, d, d, d, d, d, port))
    p = subprocess.Popen(["taskset", "-c", "0", "nginx", "-c", conf, "-p", d])
    time.sleep(0.5)
    return p, port


def measure(name, p, port):
    url = "http://127.0.0.1:%d/hello" % port
    rows = []
    c0 = cpu(p.pid)
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c50", "-d%ds" % seconds, url],
                         capture_output=True, text=True).stdout
    c1 = cpu(p.pid)
    reqs = int(re.search(r"(\d+) requests in", out).group(1))
    rows.append((name, "wrk -c50", reqs / seconds, (c1 - c0) / reqs * 1e6))
    c0 = cpu(p.pid)
    t0 = time.time()
    out = subprocess.run(["taskset", "-c", "1", "h2load", "--h1", "-n", str(h2n), "-c", "50", "-m", "10", url],
                         capture_output=True, text=True).stdout
    c1 = cpu(p.pid)
    m = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", out)
    rps = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    done = int(m.group(2)) if m else 0
    rows.append((name, "h2load -m10", float(rps.group(1)) if rps else 0, (c1 - c0) / max(done, 1) * 1e6))
    return rows


rows = []
for name, starter in [("nginx", start_nginx), ("bulb callback", lambda: start_bulb([])),
                      ("bulb coroutine", lambda: start_bulb(["--coro"]))]:
    p, port = starter()
    try:
        rows += measure(name, p, port)
    finally:
        p.terminate()
        p.wait(timeout=10)
print("%-16s %-12s %12s %14s" % ("server", "client", "req/s", "CPU us/req"))
for r in rows:
    print("%-16s %-12s %12.0f %14.2f" % r)
