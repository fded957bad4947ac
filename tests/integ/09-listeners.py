#!/usr/bin/python3
"""Several listeners, IPv4 and IPv6: one daemon serves all of them, and a
broadcast reaches clients whichever listener they came in through."""

import asyncio
import socket

import websockets

import wshtest

wshtest.require_daemon()
wshtest.overall_alarm(60)
rep = wshtest.Report()


def have_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


p1, p2 = wshtest.free_port(), wshtest.free_port()
listeners = [{"address": "127.0.0.1", "port": p1},
             {"address": "127.0.0.2", "port": p2}]
urls = ["ws://127.0.0.1:%d/broadcast" % p1, "ws://127.0.0.2:%d/broadcast" % p2]
if have_ipv6():
    # Same port as the first IPv4 listener: the IPv6 socket must be v6-only.
    listeners.append({"address": "::1", "port": p1})
    urls.append("ws://[::1]:%d/broadcast" % p1)
else:
    print("# no IPv6 loopback here: testing IPv4 listeners only")

d = wshtest.Daemon()
d.port = p1
d.opts["listeners"] = listeners


async def scenario():
    conns = [await websockets.connect(u, compression=None, ping_interval=None,
                                      open_timeout=5) for u in urls]
    ids = {c.response_headers["Wshub-Connection-Id"] for c in conns}
    if len(ids) != len(conns):
        return "connection ids are not unique across listeners"
    await conns[0].send("from the first listener")
    for i, c in enumerate(conns):
        got = await asyncio.wait_for(c.recv(), 5)
        if got != "from the first listener":
            return "client on %s got %r" % (urls[i], got)
    await conns[-1].send(b"\x01\x02")
    for i, c in enumerate(conns):
        got = await asyncio.wait_for(c.recv(), 5)
        if got != b"\x01\x02":
            return "client on %s got %r" % (urls[i], got)
    for c in conns:
        await c.close()


with d:
    rep.run("broadcast across %d listeners" % len(urls), lambda: asyncio.run(scenario()))
    log = d.stderr_text()
    rep.check("every listener is logged", all(
        ("listening on %s" % n) in log for n in
        ["127.0.0.1:%d" % p1, "127.0.0.2:%d" % p2] +
        (["[::1]:%d" % p1] if len(urls) == 3 else [])), log)

# A port that is taken makes startup fail with a message naming it.
with socket.socket() as busy:
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    d2 = wshtest.Daemon(check_exit=False)
    d2.opts["listeners"] = [{"address": "127.0.0.1", "port": port}]
    try:
        d2.start_timeout = 2
        d2.start()
        rep.check("startup fails on a busy port", False, "daemon started")
        d2.stop()
    except RuntimeError:
        log = d2.stderr_text()
        rep.check("startup fails on a busy port, naming it",
                  ("127.0.0.1:%d" % port) in log and "bind" in log, log)
        d2.cleanup()
rep.done()
