#!/usr/bin/python3
"""Echo handler driven by an independent client: python3-websockets."""

import asyncio
import os
import re

import websockets

import wshtest

wshtest.require_daemon()
wshtest.overall_alarm(120)
rep = wshtest.Report()


def connect(url, **kw):
    kw.setdefault("max_size", None)
    kw.setdefault("compression", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("open_timeout", 5)
    kw.setdefault("close_timeout", 5)
    return websockets.connect(url, **kw)


async def echo_one(url, msg, timeout=20):
    async with connect(url) as ws:
        await ws.send(msg)
        got = await asyncio.wait_for(ws.recv(), timeout)
        if type(got) is not type(msg):
            return "type %s, expected %s" % (type(got).__name__, type(msg).__name__)
        if got != msg:
            return "payload differs (got %d, sent %d)" % (len(got), len(msg))
    return None


def run(name, coro_fn, *args, timeout=30):
    async def wrapped():
        return await asyncio.wait_for(coro_fn(*args), timeout)
    rep.run(name, lambda: asyncio.run(wrapped()))


with wshtest.Daemon(max_frame_size="16M", max_message_size="16M",
                    send_buffer_limit="32M") as d:
    url = d.url("/echo")
    run("text message", echo_one, url, "Hello, wshub!")
    run("binary message", echo_one, url, bytes(range(256)))
    run("empty text message", echo_one, url, "")
    run("empty binary message", echo_one, url, b"")
    for n in (125, 126, 65535, 65536):
        run("text message of %d bytes" % n, echo_one, url, "x" * n)
        run("binary message of %d bytes" % n, echo_one, url, os.urandom(n))
    run("binary message of 1 MiB", echo_one, url, os.urandom(1 << 20))
    run("text message of 1 MiB", echo_one, url, "abcdefgh" * (1 << 17))
    run("binary message of 8 MiB", echo_one, url, os.urandom(8 << 20))
    run("unicode text", echo_one, url,
        "\u03ba\u1f79\u03c3\u03bc\u03b5 \U0001F680 \u00f1 \u4e2d\u6587 \u0000 end")

    async def many_in_order():
        async with connect(url) as ws:
            msgs = ["m%d" % i if i % 2 else b"b%d" % i for i in range(500)]
            for m in msgs:
                await ws.send(m)
            for i, m in enumerate(msgs):
                got = await asyncio.wait_for(ws.recv(), 10)
                if got != m:
                    return "message %d: got %r, expected %r" % (i, got, m)
    run("500 mixed text/binary messages echoed in order", many_in_order)

    async def fragmented(parts, expect):
        async with connect(url) as ws:
            await ws.send(parts)
            got = await asyncio.wait_for(ws.recv(), 10)
            if got != expect:
                return "got %r, expected %r" % (got[:100], expect[:100])
    run("fragmented text (3 fragments) echoed as one message", fragmented,
        ["frag-one ", "frag-two ", "frag-three"], "frag-one frag-two frag-three")
    run("fragmented text splitting a code point", fragmented,
        iter(["caf\u00e9 ", "\u03ba\u1f79\u03c3", "\u03bc\u03b5"]),
        "caf\u00e9 \u03ba\u1f79\u03c3\u03bc\u03b5")
    run("fragmented binary (100 fragments) echoed as one message", fragmented,
        [bytes([i]) * 1000 for i in range(100)],
        b"".join(bytes([i]) * 1000 for i in range(100)))

    async def ping():
        async with connect(url) as ws:
            waiter = await ws.ping(b"ping-payload-123")
            await asyncio.wait_for(waiter, 5)
            waiter = await ws.ping(b"")
            await asyncio.wait_for(waiter, 5)
    run("ping with payload and empty ping are answered with pongs", ping)

    async def close_with(code, reason):
        async with connect(url) as ws:
            await ws.send("before close")
            await asyncio.wait_for(ws.recv(), 5)
            await ws.close(code=code, reason=reason)
            if ws.close_code != code:
                return "server answered close %r (reason %r), expected %d" % (
                    ws.close_code, ws.close_reason, code)
    for code in (1000, 3000, 4999):
        run("close %d is echoed" % code, close_with, code, "bye %d" % code)

    async def conn_id():
        async with connect(url) as ws:
            cid = ws.response_headers.get("Wshub-Connection-Id")
            if cid is None or not re.match(r"^[0-9a-f]{16}$", cid):
                return "Wshub-Connection-Id %r" % cid
    run("Wshub-Connection-Id header present", conn_id)

    chat = d.url("/chat")

    async def subproto(offer, expect, u=chat):
        async with connect(u, subprotocols=offer) as ws:
            if ws.subprotocol != expect:
                return "offered %r, got %r, expected %r" % (offer, ws.subprotocol, expect)
            await ws.send("hi")
            if await asyncio.wait_for(ws.recv(), 5) != "hi":
                return "no echo"
    run("subprotocol: offer chat.v1 -> chat.v1", subproto, ["chat.v1"], "chat.v1")
    run("subprotocol: offer chat.v1, chat.v2 -> chat.v2 (server order)", subproto,
        ["chat.v1", "chat.v2"], "chat.v2")
    run("subprotocol: offer other -> none", subproto, ["other.v9"], None)
    run("subprotocol: offer nothing -> none", subproto, None, None)
    run("subprotocol: none configured on /echo -> none", subproto, ["chat.v1"], None, url)
rep.done()
