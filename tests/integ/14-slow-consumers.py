#!/usr/bin/python3
"""Slow consumers: a subscriber that does not read never slows the others
and never grows the daemon's memory; the route's policy decides its fate
(disconnect with 1008, or drop the oldest queued messages and keep going);
the soft limit applies after its grace period."""

import asyncio
import socket
import struct
import time

import websockets

import wshtest
from wshtest import RawWS, OP_CLOSE, OP_TEXT, OP_BINARY

wshtest.require_daemon()
wshtest.overall_alarm(120)
rep = wshtest.Report()

ROUTES = [
    {"path": "/drop/*", "handler": "pubsub", "allow_publish": True,
     "slow_consumer_policy": "drop_oldest", "send_buffer_limit": "256k"},
    {"path": "/kick/*", "handler": "pubsub", "allow_publish": True,
     "send_buffer_limit": "256k"},
    {"path": "/soft/*", "handler": "pubsub", "allow_publish": True,
     "send_buffer_limit": "64M", "send_buffer_soft_limit": "64k",
     "send_buffer_soft_seconds": "1s"},
]
MSG = 16 * 1024
COUNT = 1500          # 24 MiB: far more than socket buffers plus the limit


def numbered(i):
    return struct.pack("!I", i) + b"x" * (MSG - 4)


def slow_client(port, path):
    # Not reading is enough; shrinking SO_RCVBUF after connect would only
    # send TCP into zero-window back-off.
    return RawWS(port, path)


async def publish_all(url, fast_url, count):
    """Publish |count| numbered messages while a fast subscriber reads them
    all; returns the indices the fast one got."""
    got = []
    async with websockets.connect(fast_url, max_size=None, compression=None,
                                  ping_interval=None) as fast, \
            websockets.connect(url, max_size=None, compression=None,
                               ping_interval=None) as pub:
        async def reader():
            while len(got) < count:
                m = await fast.recv()
                got.append(struct.unpack("!I", m[:4])[0])
        async def own_echoes():
            # The publisher is a subscriber too: keep it a fast one.
            try:
                while True:
                    await pub.recv()
            except websockets.ConnectionClosed:
                pass
        task = asyncio.create_task(reader())
        echo_task = asyncio.create_task(own_echoes())
        for i in range(count):
            await pub.send(numbered(i))
            # Stay close to the fast reader so only the slow one lags.
            while i - len(got) > 8:
                await asyncio.sleep(0.001)
        await asyncio.wait_for(task, 30)
        echo_task.cancel()
    return got


def drain(ws, timeout=10.0):
    """Read frames until close or EOF; returns (indices, close code)."""
    idx, code = [], None
    ws.sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            f = ws.recv_frame(timeout)
        except (socket.timeout, ConnectionResetError):
            break
        if f is None:
            break
        if f.opcode == OP_CLOSE:
            code = f.close_code()
            break
        if f.opcode in (OP_TEXT, OP_BINARY):
            idx.append(struct.unpack("!I", f.payload[:4])[0])
    return idx, code


with wshtest.Daemon(routes=ROUTES) as d:
    base = d.rss_kib()

    def drop_oldest():
        slow = slow_client(d.port, "/drop/c1")
        got = asyncio.run(publish_all(d.url("/drop/c1"), d.url("/drop/c1"), COUNT))
        if got != list(range(COUNT)):
            return "the fast subscriber lost or reordered messages"
        rss = d.rss_kib()
        # Now read: still connected, messages in order, the newest kept.
        ws_idx, code = [], None
        slow.sock.settimeout(2.0)
        while True:
            f = slow.recv_frame(2.0)
            if f is None or f.opcode == OP_CLOSE:
                code = f.close_code() if f is not None else None
                break
            ws_idx.append(struct.unpack("!I", f.payload[:4])[0])
            if ws_idx[-1] == COUNT - 1:
                break
        print("# drop_oldest: slow client got %d of %d, RSS %d -> %d KiB"
              % (len(ws_idx), COUNT, base, rss))
        if code is not None:
            return "slow client was closed (%r) under drop_oldest" % code
        if ws_idx != sorted(ws_idx) or len(set(ws_idx)) != len(ws_idx):
            return "slow client got messages out of order"
        if not ws_idx or ws_idx[-1] != COUNT - 1:
            return "the newest message did not reach the slow client"
        if len(ws_idx) >= COUNT:
            return "nothing was dropped: the test did not make the client slow"
        if rss - base > wshtest.rss_bound(32 * 1024):
            return "daemon RSS grew by %d KiB" % (rss - base)
        # Still usable: a new message arrives.
        async def one_more():
            async with websockets.connect(d.url("/drop/c1"), compression=None) as p:
                await p.send(numbered(COUNT))
        asyncio.run(one_more())
        f = slow.recv_frame(5.0)
        if f is None or struct.unpack("!I", f.payload[:4])[0] != COUNT:
            return "slow client unusable after the drops: %r" % (f,)
        slow.close()
    rep.run("drop_oldest: slow subscriber keeps the newest, in order, connected",
            drop_oldest)

    def disconnect():
        slow = slow_client(d.port, "/kick/c2")
        got = asyncio.run(publish_all(d.url("/kick/c2"), d.url("/kick/c2"), COUNT))
        if got != list(range(COUNT)):
            return "the fast subscriber lost or reordered messages"
        idx, code = drain(slow)
        if code != 1008:
            return "expected close 1008 after %d messages, got %r" % (len(idx), code)
        if idx != list(range(len(idx))):
            return "messages before the close were not a gapless prefix"
    rep.run("disconnect: slow subscriber closed with 1008, others unaffected",
            disconnect)

    def soft_limit():
        slow = slow_client(d.port, "/soft/c3")

        async def trickle():
            async with websockets.connect(d.url("/soft/c3"), max_size=None,
                                          compression=None) as pub:
                # 512 KiB per 100 ms: the kernel buffers fill within a
                # couple of seconds, then the queue stays above 64k and
                # one second later the policy applies.
                for i in range(50):
                    await pub.send(numbered(i) + b"y" * (512 * 1024 - MSG))
                    await asyncio.sleep(0.1)
                    try:
                        await asyncio.wait_for(pub.recv(), 0.001)
                    except asyncio.TimeoutError:
                        pass
        t0 = time.monotonic()
        asyncio.run(trickle())
        idx, code = drain(slow)
        if code != 1008:
            return "expected 1008 from the soft limit, got %r (%d messages)" % (code, len(idx))
        if time.monotonic() - t0 < 1.0:
            return "closed before send_buffer_soft_seconds"
    rep.run("soft limit: over send_buffer_soft_limit for its seconds -> 1008",
            soft_limit)
    log = d.stderr_text()
    rep.check("slow consumers are logged", "slow consumer" in log, log[-2000:])
rep.done()
