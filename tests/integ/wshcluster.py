#!/usr/bin/python3
"""Shared harness for the cluster (Redis scale-out) integration tests.

- require_cluster(): exit 77 (SKIP) unless wshubd was built --with-redis and
  redis-server is installed
- Redis: a private redis-server on a free port, in a temp dir, no
  persistence; kill() / start() again on the same port (state is lost, as
  after a crash without persistence)
- Node: a wshtest.Daemon with a cluster section pointing at a Redis
- jws()/jrecv()/jsend(), publish(): JSON clients and HTTP publishing
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import wshtest
from wshtest import RawWS, OP_TEXT

ROUTES = [
    {"path": "/ws/*", "handler": "pubsub", "allow_publish": True,
     "protocols": ["wshub.v1"]},
    {"path": "/ps", "handler": "pubsub", "allow_publish": True,
     "protocols": ["wshub.v1"]},
]


def require_cluster():
    binary = wshtest.require_daemon()
    if shutil.which("redis-server") is None:
        print("# SKIP: redis-server is not installed")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="wshcl-")
    try:
        conf = os.path.join(tmp, "c.conf")
        with open(conf, "w") as f:
            f.write(wshtest.render_config({
                "listeners": [{"address": "127.0.0.1", "port": 1}],
                "routes": ROUTES,
                "cluster": {"redis": ["tcp://127.0.0.1:1"]},
            }))
        p = subprocess.run([binary, "-t", "-c", conf], capture_output=True,
                           timeout=10)
        if p.returncode != 0 and b"--with-redis" in p.stdout + p.stderr:
            print("# SKIP: wshubd was built without --with-redis")
            sys.exit(77)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class Redis:
    """A private redis-server: no persistence, so a restart loses state."""

    def __init__(self, port=None):
        self.port = port or wshtest.free_port()
        self.tmp = tempfile.mkdtemp(prefix="wshredis-")
        self.proc = None

    @property
    def url(self):
        return "tcp://127.0.0.1:%d" % self.port

    def start(self):
        self.log = open(os.path.join(self.tmp, "redis.log"), "ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.tmp,
             "--protected-mode", "no"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        if not wshtest.wait_port(self.port, 10, proc=self.proc):
            raise RuntimeError("redis-server did not start on %d" % self.port)
        return self

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc = None

    def command(self, *args):
        """One command with redis-cli; its output."""
        return subprocess.run(["redis-cli", "-p", str(self.port)] +
                              [str(a) for a in args], capture_output=True,
                              timeout=10).stdout.decode()

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.cleanup()
        return False


def Node(redis, node_id=None, **opts):
    """A wshubd node of the cluster on |redis| (a Redis or a list of urls)."""
    urls = redis if isinstance(redis, list) else [redis.url]
    cl = {"redis": urls, "connect_timeout": "1s", "command_timeout": "1s"}
    if node_id:
        cl["node_id"] = node_id
    opts.setdefault("routes", ROUTES)
    return wshtest.Daemon(cluster=cl, **opts)


def wait_up(node, timeout=10):
    """Wait until |node| logs that Redis is usable."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        t = node.stderr_text()
        if "cluster: connected to Redis" in t or "is back after" in t:
            return True
        time.sleep(0.05)
    return False


def jws(node, path="/ps", **kw):
    return RawWS(node.port, path, protocols=["wshub.v1"], **kw)


def jrecv(ws, timeout=5):
    op, data = ws.recv_message(timeout)
    assert op == OP_TEXT, "expected text, got opcode %r" % op
    return json.loads(data)


def jsend(ws, obj):
    ws.send_text(json.dumps(obj).encode())


def jexpect(ws, op, timeout=5, skip=()):
    """The next event |op|, skipping events whose op is in |skip|."""
    while True:
        m = jrecv(ws, timeout)
        if m.get("op") == op:
            return m
        if m.get("op") not in skip:
            raise AssertionError("expected %s, got %r" % (op, m))


def subscribe(ws, channel, since=None, id=1, timeout=5):
    """Subscribe by command; returns the ack (and the recovered/gap event
    when a position was given)."""
    cmd = {"op": "subscribe", "channel": channel, "id": id}
    if since is not None:
        cmd["since"] = since
    jsend(ws, cmd)
    ack = jexpect(ws, "ack", timeout)
    if since is None:
        return ack, None
    ev = jrecv(ws, timeout)
    return ack, ev


def publish(node, channel, body, timeout=5):
    """POST /pub/{channel}; returns (status, JSON answer)."""
    if isinstance(body, str):
        body = body.encode()
    req = urllib.request.Request("http://127.0.0.1:%d/pub/%s" % (node.port,
                                 channel), data=body, method="POST",
                                 headers={"Content-Type": "text/plain"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")
    except (urllib.error.URLError, socket.timeout, ConnectionError) as e:
        return None, {"error": str(e)}


def messages(ws, n, timeout=5):
    """The next |n| "message" events (others are skipped)."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("got %d of %d messages" % (len(out), n))
        m = jrecv(ws, left)
        if m.get("op") == "message":
            out.append(m)
    return out


def wait_for(fn, timeout=10, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()
