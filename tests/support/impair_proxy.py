#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""An impairment proxy (RELIABILITY.md test 31, "chaos"): a TCP relay on 127.0.0.1 that forwards
each accepted connection to a target and impairs either direction on the way. There is no
`tc netem` on these machines; this stands in for it at the byte-stream level.

Per direction (`up` = client to target, `down` = target to client):

  split N        forward in sends of at most N bytes (TCP_NODELAY: one segment each)
  delay S        wait S seconds before each send
  throttle BPS   at most BPS bytes per second
  stall_at OFF, stall_for S
                 after OFF bytes, forward nothing for S seconds (S < 0: never again; the
                 bytes are held, no FIN, no RST: a blackhole)
  fin_at OFF     after OFF bytes, half-close towards the destination (FIN) and drop the rest
                 of that direction: the stream is truncated at OFF
  rst_at OFF     after OFF bytes, reset both connections (SO_LINGER 0, then close)

A FIN from a source is passed on once its bytes are forwarded; a reset on either side resets the
other. One thread per connection, nonblocking sockets and select(): a reset never waits behind a
blocked recv.

Library use:   with ImpairProxy(("127.0.0.1", port), down=Impair(split=1)) as p: connect to p.port
Command line:  impair_proxy.py --target 127.0.0.1:PORT [--listen PORT] [--up-split N]
               [--down-rst-at OFF] ... ; prints `listening on 127.0.0.1:PORT`, then one line per
               connection when it ends (`conn N up=BYTES down=BYTES end=REASON`); stops on SIGTERM
               or when its standard input closes.
"""
import argparse
import dataclasses
import errno
import select
import signal
import socket
import struct
import sys
import threading
import time

CHUNK = 65536
MAX_HELD = 256 * 1024  # bytes read ahead per direction before the source is no longer read


@dataclasses.dataclass
class Impair:
    split: int = 0          # 0: as read
    delay: float = 0.0
    throttle: float = 0.0   # bytes per second; 0: unlimited
    stall_at: int = -1
    stall_for: float = 0.0
    fin_at: int = -1
    rst_at: int = -1


class _Direction:
    def __init__(self, src, dst, imp):
        self.src, self.dst, self.imp = src, dst, imp
        self.buf = bytearray()
        self.sent = 0            # bytes forwarded
        self.src_eof = False
        self.fin_sent = False
        self.dead = False        # truncated by fin_at: input is read and dropped
        self.blackhole = False   # stalled forever
        self.stalled = False
        self.next_time = 0.0

    def next_event(self):
        """The offset of the next impairment event at or after `sent`, and its kind."""
        best = None
        for kind, off in (("stall", self.imp.stall_at if not self.stalled else -1),
                          ("fin", self.imp.fin_at), ("rst", self.imp.rst_at)):
            if off >= 0 and off >= self.sent and (best is None or off < best[0]):
                best = (off, kind)
        return best

    def wants_read(self):
        return not self.src_eof and (self.dead or len(self.buf) < MAX_HELD)

    def wants_write(self, now):
        return bool(self.buf) and not self.dead and not self.blackhole and now >= self.next_time


def _linger_zero(s):
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass


class _Connection(threading.Thread):
    def __init__(self, proxy, number, client, target):
        super().__init__(daemon=True)
        self.proxy, self.number, self.client, self.target = proxy, number, client, target
        self.end = "open"
        self.up = self.down = None

    def run(self):
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError as e:
            _linger_zero(self.client)
            self.client.close()
            self.end = f"connect failed: {e}"
            self.proxy._finished(self)
            return
        for s in (self.client, server):
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.up = _Direction(self.client, server, self.proxy.up)
        self.down = _Direction(server, self.client, self.proxy.down)
        try:
            self.end = self._pump()
        except OSError as e:
            self.end = f"error: {e}"
            self._reset()
        finally:
            for s in (self.client, server):
                try:
                    s.close()
                except OSError:
                    pass
            self.proxy._finished(self)

    def _reset(self):
        for s in (self.up.src, self.up.dst):
            _linger_zero(s)
            try:
                s.close()
            except OSError:
                pass

    def _pump(self):
        dirs = (self.up, self.down)
        while not self.proxy._stopping:
            now = time.monotonic()
            if all(d.src_eof and (d.fin_sent or d.dead or d.blackhole) for d in dirs) and \
                    not any(d.blackhole and d.buf for d in dirs):
                return "closed"
            for d in dirs:
                end = self._event(d)
                if end:
                    return end
            readers = {d.src for d in dirs if d.wants_read()}
            writers = {d.dst for d in dirs if d.wants_write(now)}
            waits = [d.next_time - now for d in dirs if d.buf and not d.dead and not d.blackhole
                     and d.next_time > now]
            timeout = max(0.0, min(waits)) if waits else 0.1
            if writers:
                timeout = 0.0
            r, w, _ = select.select(list(readers), list(writers), [], timeout)
            for d in dirs:
                if d.src in r and d.wants_read():
                    try:
                        data = d.src.recv(CHUNK)
                    except ConnectionResetError:
                        self._reset()
                        return f"reset by the {'client' if d is self.up else 'target'}"
                    if not data:
                        d.src_eof = True
                    elif not d.dead:
                        d.buf += data
                if d.dst in w or (d.buf and d.wants_write(time.monotonic())):
                    end = self._send(d)
                    if end:
                        return end
                if d.src_eof and not d.buf and not d.fin_sent and not d.dead and not d.blackhole:
                    try:
                        d.dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    d.fin_sent = True
        self._reset()
        return "proxy stopped"

    def _event(self, d):
        """Applies the impairment due at `d`'s offset, if any. Returns an end reason or None."""
        ev = d.next_event()
        if ev and ev[0] == d.sent and not d.dead and not d.blackhole:
            off, kind = ev
            if kind == "rst":
                self._reset()
                return f"rst injected after {off} bytes {'up' if d is self.up else 'down'}"
            if kind == "fin":
                try:
                    d.dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                d.fin_sent = True
                d.dead = True
                d.buf.clear()
                return None
            if kind == "stall":
                d.stalled = True
                if d.imp.stall_for < 0:
                    d.blackhole = True
                else:
                    d.next_time = time.monotonic() + d.imp.stall_for
        return None

    def _send(self, d):
        """Forwards the next piece of `d` (one send at most). Returns an end reason or None."""
        end = self._event(d)
        if end or d.dead or d.blackhole or time.monotonic() < d.next_time:
            return end
        ev = d.next_event()
        n = len(d.buf)
        if d.imp.split > 0:
            n = min(n, d.imp.split)
        if ev:
            n = min(n, ev[0] - d.sent)
        if d.imp.throttle > 0:
            n = min(n, max(1, int(d.imp.throttle / 50)))  # pieces of ~20 ms each
        try:
            sent = d.dst.send(bytes(d.buf[:n]))
        except BlockingIOError:
            return None
        except (ConnectionResetError, BrokenPipeError):
            self._reset()
            return f"reset by the {'target' if d is self.up else 'client'}"
        del d.buf[:sent]
        d.sent += sent
        pause = d.imp.delay
        if d.imp.throttle > 0:
            pause = max(pause, sent / d.imp.throttle)
        if pause > 0:
            d.next_time = time.monotonic() + pause
        return None


class ImpairProxy:
    """Listens on 127.0.0.1 (an ephemeral port unless given) and relays to `target`."""

    def __init__(self, target, up=None, down=None, port=0, log=None):
        self.target = target
        self.up, self.down = up or Impair(), down or Impair()
        self.log = log
        self._stopping = False
        self._lock = threading.Lock()
        self._live = []
        self.finished = []  # (number, up bytes, down bytes, end reason) per ended connection
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(128)
        self.port = self._listener.getsockname()[1]
        self._accepter = threading.Thread(target=self._accept, daemon=True)

    def start(self):
        self._accepter.start()
        return self

    def _accept(self):
        n = 0
        while not self._stopping:
            r, _, _ = select.select([self._listener], [], [], 0.2)
            if not r:
                continue
            try:
                c, _ = self._listener.accept()
            except OSError:
                continue
            n += 1
            conn = _Connection(self, n, c, self.target)
            with self._lock:
                self._live.append(conn)
            conn.start()

    def _finished(self, conn):
        up = conn.up.sent if conn.up else 0
        down = conn.down.sent if conn.down else 0
        with self._lock:
            if conn in self._live:
                self._live.remove(conn)
            self.finished.append((conn.number, up, down, conn.end))
        if self.log:
            print(f"conn {conn.number} up={up} down={down} end={conn.end}", file=self.log, flush=True)

    def wait_idle(self, timeout=10):
        """Waits until no connection is open; True when none is."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._live:
                    return True
            time.sleep(0.01)
        return False

    def close(self):
        self._stopping = True
        self._accepter.join(timeout=5)
        self._listener.close()
        with self._lock:
            live = list(self._live)
        for c in live:
            c.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


def _impair_args(ap, prefix):
    ap.add_argument(f"--{prefix}-split", type=int, default=0)
    ap.add_argument(f"--{prefix}-delay", type=float, default=0.0)
    ap.add_argument(f"--{prefix}-throttle", type=float, default=0.0)
    ap.add_argument(f"--{prefix}-stall-at", type=int, default=-1)
    ap.add_argument(f"--{prefix}-stall-for", type=float, default=0.0)
    ap.add_argument(f"--{prefix}-fin-at", type=int, default=-1)
    ap.add_argument(f"--{prefix}-rst-at", type=int, default=-1)


def _impair_from(a, prefix):
    p = prefix + "_"
    return Impair(split=getattr(a, p + "split"), delay=getattr(a, p + "delay"),
                  throttle=getattr(a, p + "throttle"), stall_at=getattr(a, p + "stall_at"),
                  stall_for=getattr(a, p + "stall_for"), fin_at=getattr(a, p + "fin_at"),
                  rst_at=getattr(a, p + "rst_at"))


def main():
    ap = argparse.ArgumentParser(description="TCP relay on 127.0.0.1 that impairs the byte stream")
    ap.add_argument("--target", required=True, help="HOST:PORT on loopback")
    ap.add_argument("--listen", type=int, default=0, help="port (0: any free port)")
    _impair_args(ap, "up")
    _impair_args(ap, "down")
    a = ap.parse_args()
    host, _, port = a.target.rpartition(":")
    if host not in ("127.0.0.1", "localhost", "::1"):
        ap.error(f"--target {a.target}: loopback only")
    proxy = ImpairProxy((host, int(port)), _impair_from(a, "up"), _impair_from(a, "down"), a.listen, sys.stdout)
    proxy.start()
    print(f"listening on 127.0.0.1:{proxy.port}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait()
    proxy.close()


if __name__ == "__main__":
    main()
