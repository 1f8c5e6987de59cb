#!/usr/bin/env python3
"""cutproxy.py -- a fault-injecting TCP proxy in front of a Kafka broker,
for tests in any language: it cuts client connections at random points of
the Kafka exchange, so that a client's retries can be checked (the
idempotent producer must store every acknowledged record exactly once).

It listens on a free port of 127.0.0.1 and forwards every connection to the
broker.  It reads the Kafka framing (4-byte size, then the request header
with ApiKey) in both directions, and for each request of the chosen APIs
(default: Produce only) cuts the connection with probability `rate`, at one
of three points picked at random (and, with max_gap, also cuts the next
such request once max_gap seconds passed without a cut, so that a client
sending few large requests still sees cuts):

  mid-request   part of the request reaches the broker, then both sides
                are closed (the broker must drop the torn frame)
  after-request the whole request reaches the broker; the proxy waits for
                the broker's response and closes the client's side without
                passing it on (the request was served, the client does not
                know: a non-idempotent retry writes the records twice)
  mid-response  part of the response reaches the client, then both close

Clients learn broker addresses from Metadata: start the broker with
advertised.listeners=PLAINTEXT://127.0.0.1:<proxy port> (listen first, then
start the broker; both kfkd and Apache Kafka take the property), so every
connection of the client goes through the proxy.

Python:

    from cutproxy import CutProxy
    p = CutProxy(rate=0.05, max_gap=1.0, seed=1)   # listens now; p.port
    p.set_target("127.0.0.1", broker_port); p.start()
    ...; p.stats() -> {"connections": n, "mid-request": n, ...}; p.close()

Command line (prints "cutproxy listening on port N", then runs until
SIGTERM/SIGINT, printing its counts as one JSON line when it stops):

    cutproxy.py --target 127.0.0.1:9092 [--port 0] [--rate 0.05]
                [--max-gap SECS] [--apis 0,1] [--seed N]
                [--modes mid-request,after-request]

Python standard library only; one thread per direction of a connection.
"""

import argparse
import json
import random
import signal
import socket
import struct
import sys
import threading
import time

MODES = ("mid-request", "after-request", "mid-response")


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _read_frame(sock):
    """One Kafka frame (size prefix included), or None at EOF."""
    head = _recv_exact(sock, 4)
    if head is None:
        return None
    (size,) = struct.unpack(">i", head)
    if size < 0 or size > 256 * 1024 * 1024:
        return None
    body = _recv_exact(sock, size)
    if body is None:
        return None
    return head + body


def _close(*socks):
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            s.close()
        except OSError:
            pass


class _Conn:
    """One client connection and its upstream connection."""

    def __init__(self, proxy, client):
        self.proxy = proxy
        self.client = client
        self.upstream = None
        self.lock = threading.Lock()
        self.closed = False
        # Correlation ids whose response must be dropped (after-request)
        # or torn (mid-response); the response pump acts on them.
        self.doomed = {}

    def close(self):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        _close(self.client, *( [self.upstream] if self.upstream else []))
        self.proxy._forget(self)

    def run(self):
        try:
            self.upstream = socket.create_connection(self.proxy.target, 5)
            self.upstream.settimeout(None)
        except OSError:
            self.close()
            return
        t = threading.Thread(target=self._responses, daemon=True)
        t.start()
        self._requests()

    def _requests(self):
        p = self.proxy
        try:
            while not self.closed:
                frame = _read_frame(self.client)
                if frame is None:
                    break
                api = struct.unpack(">h", frame[4:6])[0] if len(frame) >= 6 else -1
                corr = struct.unpack(">i", frame[8:12])[0] if len(frame) >= 12 else -1
                mode = p._draw(api)
                if mode == "mid-request":
                    cut = p._rand_int(1, len(frame) - 1)
                    self.upstream.sendall(frame[:cut])
                    time.sleep(0.01)
                    p._count(mode)
                    break
                if mode is not None:
                    self.doomed[corr] = mode
                self.upstream.sendall(frame)
        except OSError:
            pass
        self.close()

    def _responses(self):
        p = self.proxy
        try:
            while not self.closed:
                frame = _read_frame(self.upstream)
                if frame is None:
                    break
                corr = struct.unpack(">i", frame[4:8])[0] if len(frame) >= 8 else -1
                mode = self.doomed.pop(corr, None)
                if mode == "after-request":
                    p._count(mode)
                    break
                if mode == "mid-response":
                    cut = p._rand_int(1, len(frame) - 1)
                    self.client.sendall(frame[:cut])
                    p._count(mode)
                    break
                self.client.sendall(frame)
        except OSError:
            pass
        self.close()


class CutProxy:
    def __init__(self, target=None, port=0, rate=0.05, apis=(0,), modes=MODES,
                 seed=None, max_gap=None):
        self.target = target
        self.rate = rate
        self.max_gap = max_gap
        self.last_cut = time.monotonic()
        self.apis = set(apis) if apis is not None else None
        self.modes = tuple(modes)
        self.rng = random.Random(seed)
        self.rng_lock = threading.Lock()
        self.counts = {"connections": 0}
        for m in MODES:
            self.counts[m] = 0
        self.conns = set()
        self.enabled = True
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.thread = None
        self.stopping = False

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def set_target(self, host, port):
        self.target = (host, int(port))

    def start(self):
        if self.target is None:
            raise RuntimeError("cutproxy: no target")
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        return self

    def pause(self):
        """Stop cutting (connections are still forwarded)."""
        self.enabled = False

    def resume(self):
        self.last_cut = time.monotonic()
        self.enabled = True

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(self, c)
            with self.rng_lock:
                self.counts["connections"] += 1
                self.conns.add(conn)
            threading.Thread(target=conn.run, daemon=True).start()

    def _forget(self, conn):
        with self.rng_lock:
            self.conns.discard(conn)

    def _draw(self, api):
        if not self.enabled or (self.apis is not None and api not in self.apis):
            return None
        with self.rng_lock:
            now = time.monotonic()
            late = self.max_gap is not None and now - self.last_cut >= self.max_gap
            if self.rng.random() >= self.rate and not late:
                return None
            self.last_cut = now
            return self.rng.choice(self.modes)

    def _rand_int(self, lo, hi):
        with self.rng_lock:
            return self.rng.randint(lo, max(lo, hi))

    def _count(self, mode):
        with self.rng_lock:
            self.counts[mode] += 1

    def stats(self):
        with self.rng_lock:
            return dict(self.counts)

    def cuts(self):
        s = self.stats()
        return sum(s[m] for m in MODES)

    def close(self):
        self.stopping = True
        _close(self.sock)
        with self.rng_lock:
            conns = list(self.conns)
        for c in conns:
            c.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", required=True, help="host:port of the broker")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--rate", type=float, default=0.05)
    ap.add_argument("--max-gap", type=float, default=None,
                    help="cut the next request after this many seconds "
                    "without a cut")
    ap.add_argument("--apis", default="0",
                    help="comma-separated ApiKeys to cut on, or 'all'")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args(argv[1:])
    host, _, port = a.target.rpartition(":")
    apis = None if a.apis == "all" else [int(x) for x in a.apis.split(",") if x]
    modes = [m for m in a.modes.split(",") if m]
    for m in modes:
        if m not in MODES:
            ap.error("unknown mode %r" % m)
    p = CutProxy((host or "127.0.0.1", int(port)), a.port, a.rate, apis, modes,
                 a.seed, a.max_gap)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    p.start()
    print("cutproxy listening on port %d" % p.port, flush=True)
    while not done.wait(0.5):
        pass
    p.close()
    print(json.dumps(p.stats()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
