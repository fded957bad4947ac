#!/usr/bin/python3
"""No message lost across a reconnect while the server still has it: the
wshub client subscribes (wshub.v1) through a TCP proxy written here; the
proxy's connections are cut in the middle of a stream of publications
and refused for a while (the daemon keeps running, its history intact),
messages are published while the client is away, and the client comes
back on its own with backoff, resubscribes with "since" and must have
received every message exactly once, in order."""

import os
import re
import socket
import subprocess
import tempfile
import threading
import time

import wshtest
from wshclient import cli_path, run_cli

wshtest.require_daemon()
wshtest.overall_alarm(150)
rep = wshtest.Report()


class Proxy:
    """A TCP proxy on a free port to 127.0.0.1:|target|. cut() drops every
    connection (RST, mid-stream); while refusing, new ones are closed at
    once, so the client's attempts fail and it backs off."""

    def __init__(self, target):
        self.target = target
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs = []
        self.refusing = False
        self.accepted = 0
        self.refused = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            with self.lock:
                if self.refusing:
                    self.refused += 1
                    self._reset(c)
                    continue
                self.accepted += 1
            try:
                u = socket.create_connection(("127.0.0.1", self.target), 5)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.pairs.append((c, u))
            threading.Thread(target=self._pump, args=(c, u), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c), daemon=True).start()

    @staticmethod
    def _reset(s):
        # SO_LINGER 0: close() sends RST, like a connection that just dies.
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass
        s.close()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self, refuse=True):
        # shutdown() wakes the pumps blocked in recv() (a close() from
        # here would not); both ends see the stream end mid-message.
        with self.lock:
            self.refusing = refuse
            pairs, self.pairs = self.pairs, []
        for c, u in pairs:
            for s in (c, u):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def allow(self):
        with self.lock:
            self.refusing = False

    def close(self):
        self.closed = True
        self.cut(False)
        self.lsock.close()


def text(f):
    f.flush()
    with open(f.name, "rb") as g:
        return g.read().decode("utf-8", "replace")


def wait_for(pred, secs=10.0):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def received(f):
    """The payloads delivered on channel "feed", in order."""
    return re.findall(r"^feed \d+ (m\d+)$", text(f), re.M)


ROUTES = wshtest.DEFAULT_ROUTES + [
    {"path": "/ps", "handler": "pubsub", "allow_publish": True,
     "protocols": ["wshub.v1"]}]
tmp = tempfile.mkdtemp(prefix="wshclient-r-")
out_f = open(os.path.join(tmp, "out"), "w+b")
err_f = open(os.path.join(tmp, "err"), "w+b")
published = []
pub_errors = []


def publisher(port, names):
    """Publish |names| over a raw TCP socket to the HTTP API, one by one."""
    for name in names:
        body = name.encode()
        req = (b"POST /pub/feed HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
               b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)) + body
        r = wshtest.http_request(port, req)
        if r.status // 100 == 2:
            published.append(name)
        else:
            pub_errors.append((name, r.status))
        time.sleep(0.005)


with wshtest.Daemon(routes=ROUTES, history_size=10000) as d:
    proxy = Proxy(d.port)
    sub = subprocess.Popen([cli_path(), "sub", "-v", "--backoff", "100:800:20",
                            "ws://127.0.0.1:%d/ps" % proxy.port, "feed"],
                           stdout=out_f, stderr=err_f, stdin=subprocess.DEVNULL)
    try:
        rep.check("subscriber connected through the proxy",
                  wait_for(lambda: re.search(r"ack: .*\"seq\"", text(err_f)))
                  is not None, text(err_f))

        # A stream of 300 publications; the proxy cuts the client off in
        # the middle and refuses it for 1.5 s while 100 more are published.
        stream = threading.Thread(target=publisher, args=(
            d.port, ["m%d" % i for i in range(1, 301)]))
        stream.start()
        rep.check("messages flow before the cut",
                  wait_for(lambda: len(received(out_f)) >= 50), text(out_f)[-500:])
        proxy.cut(refuse=True)
        n_at_cut = len(received(out_f))
        time.sleep(1.5)
        refused = proxy.refused
        proxy.allow()
        stream.join(60)
        rep.check("all 300 published", len(published) == 300 and not pub_errors,
                  repr(pub_errors[:5]))
        rep.check("the cut came mid-stream (%d of 300 received)" % n_at_cut,
                  0 < n_at_cut < 300, "")
        rep.check("the client kept trying while refused (%d attempts)" % refused,
                  refused >= 2, text(err_f))
        rep.check("reconnected", wait_for(
            lambda: len(re.findall(r"connected to ", text(err_f))) >= 2, 15),
                  text(err_f))

        # More while the client is back, then a second cut without refusal.
        publisher(d.port, ["m%d" % i for i in range(301, 321)])
        proxy.cut(refuse=False)
        publisher(d.port, ["m%d" % i for i in range(321, 341)])
        want = ["m%d" % i for i in range(1, 341)]
        wait_for(lambda: len(received(out_f)) >= len(want), 20)
        got = received(out_f)
        rep.check("every message received exactly once, in order (%d of %d)" % (
            len(got), len(want)), got == want,
            "missing %r; duplicated %r" % (
                sorted(set(want) - set(got), key=lambda s: int(s[1:]))[:10],
                sorted({m for m in got if got.count(m) > 1})[:10]))
        seqs = [int(s) for s in re.findall(r"^feed (\d+) ", text(out_f), re.M)]
        rep.check("sequence numbers contiguous", seqs == list(range(seqs[0], seqs[0] + len(seqs)))
                  if seqs else False, repr(seqs[:20]))

        err = text(err_f)
        waits = [(int(r), int(w)) for r, w in
                 re.findall(r"retries (\d+), next in (\d+) ms", err)]
        waits += [(1, int(w)) for w in
                  re.findall(r"closed: code 1006; reconnecting in (\d+) ms", err)]
        ok = len(waits) >= 2
        for r, w in waits:
            base = min(100 * 2 ** (r - 1), 800)
            if not (base * 0.8 - 1 <= w <= base):
                ok = False
        rep.check("backoff observed: waits within [0.8, 1] x 100 ms doubling, "
                  "capped at 800 ms", ok and len(waits) >= 4 and
                  any(r == 1 for r, w in waits), repr(waits))
        rep.check("no gap reported: recovery from the history",
                  "gap:" not in err and "epoch changed" not in err, err[-2000:])
        rep.check("resubscribed with since after each cut",
                  len(re.findall(r"ack: ", err)) >= 3, err[-2000:])
    finally:
        sub.terminate()
        try:
            sub.wait(10)
        except subprocess.TimeoutExpired:
            sub.kill()
        proxy.close()
rep.done()
