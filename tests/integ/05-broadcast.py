#!/usr/bin/python3
"""Broadcast handler: 20 clients each send 50 messages; every client gets all
1000, each sender's messages in order, text/binary preserved."""

import asyncio

import websockets

import wshtest

wshtest.require_daemon()
wshtest.overall_alarm(90)
rep = wshtest.Report()
N, K = 20, 50


def payload(i, j):
    s = "client-%02d msg-%03d" % (i, j)
    return s if j % 2 == 0 else s.encode() + b"\x00\xff"


async def scenario(url):
    conns = [await websockets.connect(url, max_size=None, compression=None,
                                      ping_interval=None, open_timeout=5, close_timeout=5)
             for _ in range(N)]
    received = [[] for _ in range(N)]

    async def reader(idx):
        ws = conns[idx]
        while len(received[idx]) < N * K:
            received[idx].append(await ws.recv())

    async def writer(idx):
        for j in range(K):
            await conns[idx].send(payload(idx, j))

    try:
        readers = [asyncio.create_task(reader(i)) for i in range(N)]
        # every client is connected before anyone sends
        await asyncio.gather(*[writer(i) for i in range(N)])
        done, pending = await asyncio.wait(readers, timeout=30)
        for t in pending:
            t.cancel()
        for t in done:
            if t.exception():
                return "reader failed: %r" % (t.exception(),)
    finally:
        await asyncio.gather(*[c.close() for c in conns], return_exceptions=True)

    problems = []
    for idx in range(N):
        got = received[idx]
        if len(got) != N * K:
            problems.append("client %d received %d of %d messages" % (idx, len(got), N * K))
            continue
        per_sender = {i: [] for i in range(N)}
        for m in got:
            s = m.decode(errors="replace") if isinstance(m, bytes) else m
            try:
                sender = int(s.split()[0].split("-")[1])
                j = int(s.split()[1].split("-")[1][:3])
            except (IndexError, ValueError):
                problems.append("client %d got unexpected message %r" % (idx, m))
                break
            if m != payload(sender, j):
                problems.append("client %d: message %r has wrong type/content" % (idx, m))
            per_sender[sender].append(j)
        for sender, seq in per_sender.items():
            if seq != list(range(K)):
                problems.append("client %d: messages of sender %d out of order/missing: %r"
                                % (idx, sender, seq[:10]))
                break
    return "\n".join(problems[:20]) or None


with wshtest.Daemon() as d:
    rep.run("%d clients x %d messages: everyone gets all %d, in per-sender order, types kept"
            % (N, K, N * K), lambda: asyncio.run(asyncio.wait_for(scenario(d.url("/broadcast")),
                                                                  60)))

    async def echo_route_isolated():
        # a client on /echo does not see broadcast traffic
        async with websockets.connect(d.url("/echo"), open_timeout=5) as e, \
                websockets.connect(d.url("/broadcast"), open_timeout=5) as b:
            await b.send("to broadcast only")
            if await asyncio.wait_for(b.recv(), 5) != "to broadcast only":
                return "broadcast sender did not get its own message"
            await e.send("echo me")
            got = await asyncio.wait_for(e.recv(), 5)
            if got != "echo me":
                return "echo client received %r" % (got,)
    rep.run("broadcast traffic stays on its route; sender receives its own message",
            lambda: asyncio.run(echo_route_isolated()))

    async def leaver():
        # a client leaving does not disturb the rest
        a = await websockets.connect(d.url("/broadcast"), open_timeout=5)
        b = await websockets.connect(d.url("/broadcast"), open_timeout=5)
        c = await websockets.connect(d.url("/broadcast"), open_timeout=5)
        await c.close()
        await a.send(b"after leave")
        for ws in (a, b):
            if await asyncio.wait_for(ws.recv(), 5) != b"after leave":
                return "message lost after a client left"
        await a.close()
        await b.close()
    rep.run("a client leaving does not disturb the others", lambda: asyncio.run(leaver()))
rep.done()
