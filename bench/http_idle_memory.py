#!/usr/bin/env python3
"""Memory per idle keep-alive connection of examples/http_server (callback and --coro): RSS of the
server before and after N connections that each made one request and stay open. User-space
memory only (the kernel's socket buffers are not in RSS). Usage: bench/http_idle_memory.py BUILD_DIR"""
import socket, subprocess, sys, time, resource
resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
def rss(pid):
    for l in open("/proc/%d/status" % pid):
        if l.startswith("VmRSS"): return int(l.split()[1])
def run(cmd, n=2000):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192)))
    port = int(p.stdout.readline().rsplit(":", 1)[1])
    socks=[]
    def batch(k):
        for _ in range(k):
            s = socket.create_connection(("127.0.0.1", port)); s.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"); socks.append(s)
        for s in socks[-k:]:
            got=b""
            while not got.endswith(b"Hello, world!"): got += s.recv(4096)
    batch(100); time.sleep(0.3); r0 = rss(p.pid)
    batch(n); time.sleep(0.3); r1 = rss(p.pid)
    print(cmd[1:], "RSS KiB before", r0, "after", r1, "per idle connection: %.2f KiB" % ((r1 - r0) / n))
    p.terminate(); p.wait()
run([sys.argv[1] + "/examples/http_server", "--port", "0"])
run([sys.argv[1] + "/examples/http_server", "--port", "0", "--coro"])
