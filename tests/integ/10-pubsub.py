#!/usr/bin/python3
"""Pubsub by URL: several channels per URL, per-channel order with several
publishers, invalid names (400), allow_publish = false (1008), raw publish to
every URL channel, channel lifetime (freed with its last subscriber when it
keeps no history, kept while it has history), position headers."""

import json
import re
import socket
import threading

import wshtest
from wshtest import RawWS, HandshakeError, OP_TEXT, OP_BINARY

wshtest.require_daemon()
wshtest.overall_alarm(120)
rep = wshtest.Report()

ROUTES = [
    {"path": "/ws/*", "handler": "pubsub", "allow_publish": True,
     "protocols": ["wshub.v1"]},
    {"path": "/ro/*", "handler": "pubsub", "allow_publish": False,
     "protocols": ["wshub.v1"]},
    {"path": "/ps", "handler": "pubsub", "allow_publish": True,
     "protocols": ["wshub.v1"]},
]


def jws(d, path):
    return RawWS(d.port, path, protocols=["wshub.v1"])


def jrecv(ws, timeout=5):
    op, data = ws.recv_message(timeout)
    assert op == OP_TEXT, "expected text, got opcode %r" % op
    return json.loads(data)


def jsend(ws, obj):
    ws.send_text(json.dumps(obj).encode())


def silent(ws, timeout=0.3):
    """True when nothing arrives within |timeout|."""
    try:
        m = ws.recv_message(timeout)
    except socket.timeout:
        return True
    return m is None


def positions(resp):
    """{channel: (epoch, seq)} from the Wshub-Channel-Seq headers."""
    out = {}
    for v in resp.header_all("wshub-channel-seq"):
        m = re.match(r"^([^=]+)=([0-9a-f]{16}):(\d+)", v)
        if m:
            out[m.group(1)] = (m.group(2), int(m.group(3)))
    return out


with wshtest.Daemon(routes=ROUTES) as d:
    # Does this build carry the handshake header hook (conn.c)?
    probe = RawWS(d.port, "/ws/probe")
    HOOK = bool(positions(probe.response))
    probe.close()
    if not HOOK:
        rep.note("SKIP header checks: the 101 carries no Wshub-Channel-Seq "
                 "(handler response_headers hook not wired in conn.c)")

    def multi_channel_url():
        x = RawWS(d.port, "/ws/a,b")
        a = RawWS(d.port, "/ws/a")
        b = RawWS(d.port, "/ws/b")
        pa = jws(d, "/ps")
        for i in range(20):
            jsend(pa, {"op": "publish", "channel": "a", "data": "a%d" % i})
            jsend(pa, {"op": "publish", "channel": "b", "data": "b%d" % i})
        got_x = [x.recv_message()[1].decode() for _ in range(40)]
        got_a = [a.recv_message()[1].decode() for _ in range(20)]
        got_b = [b.recv_message()[1].decode() for _ in range(20)]
        for w in (x, a, b, pa):
            w.close()
        if got_a != ["a%d" % i for i in range(20)]:
            return "a got %r" % got_a
        if got_b != ["b%d" % i for i in range(20)]:
            return "b got %r" % got_b
        if [m for m in got_x if m[0] == "a"] != got_a or \
                [m for m in got_x if m[0] == "b"] != got_b:
            return "a,b subscriber got %r" % got_x
    rep.run("/ws/a,b gets both channels, each in order; /ws/a and /ws/b one each",
            multi_channel_url)

    def order_several_publishers():
        n_pub, k = 4, 200
        subs = [jws(d, "/ws/ord") for _ in range(3)] + \
            [RawWS(d.port, "/ws/ord") for _ in range(3)]
        for s in subs[:3]:
            ev = jrecv(s)
            assert ev["op"] == "subscribed", ev
        pubs = [RawWS(d.port, "/ws/ord") for _ in range(n_pub)]

        def publish(i):
            for j in range(k):
                pubs[i].send_text(("p%d-%d" % (i, j)).encode())
        ts = [threading.Thread(target=publish, args=(i,)) for i in range(n_pub)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        total = n_pub * k
        seqs, orders = [], []
        for s in subs[:3]:
            msgs = [jrecv(s, 10) for _ in range(total)]
            seqs.append([m["seq"] for m in msgs])
            orders.append([m["data"] for m in msgs])
        for s in subs[3:]:
            orders.append([s.recv_message(10)[1].decode() for _ in range(total)])
        for p in pubs:
            # publishers are subscribers too: drain nothing, just close
            p.close()
        for s in subs:
            s.close()
        for sq in seqs:
            if sq != list(range(1, total + 1)):
                return "sequence numbers not 1..%d: %r" % (total, sq[:20])
        for o in orders[1:]:
            if o != orders[0]:
                return "subscribers saw different orders"
        for i in range(n_pub):
            mine = [m for m in orders[0] if m.startswith("p%d-" % i)]
            if mine != ["p%d-%d" % (i, j) for j in range(k)]:
                return "publisher %d out of order" % i
    rep.run("4 publishers x 200 on one channel: one order for every subscriber, "
            "seq 1..800, each publisher's order kept", order_several_publishers)

    def bad_names():
        bad = ["/ws/a!b", "/ws/a,,b", "/ws/a,", "/ws/" + "x" * 129, "/ws/a/b",
               "/ws/caf%C3%A9", "/ws/" + ",".join("c%d" % i for i in range(65)),
               "/ps"]
        for path in bad:
            try:
                RawWS(d.port, path).close()
                return "%s was accepted" % path
            except HandshakeError as e:
                if e.response is None or e.response.status != 400:
                    return "%s: %r" % (path, e.response)
        ok = RawWS(d.port, "/ws/" + "y" * 128 + ",a.b:c@d=e+f-g_h")
        ok.close()
    rep.run("invalid channel names, empty names, >64 channels, no channel -> 400; "
            "128-byte name and every allowed character -> 101", bad_names)

    def read_only_route():
        sub = RawWS(d.port, "/ro/ro1")
        w = RawWS(d.port, "/ro/ro1")
        w.send_text(b"not allowed")
        code, reason, frames = w.expect_close()
        w.close()
        if code != 1008:
            return "raw publish on allow_publish=false: close %r %r" % (code, reason)
        if not silent(sub):
            return "the refused message was delivered"
        j = jws(d, "/ro/ro1")
        jrecv(j)
        jsend(j, {"op": "publish", "channel": "ro1", "data": "x", "id": 1})
        e = jrecv(j)
        jsend(j, {"op": "ping", "id": 2})
        p = jrecv(j)
        j.close()
        sub.close()
        if e.get("op") != "error" or e.get("code") != "not_allowed" or e.get("id") != 1:
            return "JSON publish on allow_publish=false: %r" % e
        if p != {"op": "ack", "id": 2}:
            return "connection not usable after not_allowed: %r" % p
    rep.run("allow_publish = false: raw publish -> close 1008, JSON publish -> "
            "not_allowed error and the connection stays", read_only_route)

    def raw_publish_every_channel():
        x = RawWS(d.port, "/ws/m1,m2")
        a = RawWS(d.port, "/ws/m1")
        b = RawWS(d.port, "/ws/m2")
        x.send_binary(b"\x00both\xff")
        res = [a.recv_message(), b.recv_message(), x.recv_message(), x.recv_message()]
        extra = silent(a) and silent(b) and silent(x)
        for w in (x, a, b):
            w.close()
        if any(r != (OP_BINARY, b"\x00both\xff") for r in res):
            return "got %r" % res
        if not extra:
            return "a duplicate was delivered"
    rep.run("raw publish goes once to each URL channel (binary kept); the sender "
            "subscribed to both gets it once per channel", raw_publish_every_channel)

    if HOOK:
        def header_positions():
            w = RawWS(d.port, "/ws/h1,h2")
            p0 = positions(w.response)
            w.send_text(b"one")
            w.recv_message()
            w.recv_message()
            v = RawWS(d.port, "/ws/h1,h2")
            p1 = positions(v.response)
            w.close()
            v.close()
            if set(p0) != {"h1", "h2"} or p0["h1"][1] != 0:
                return "first headers %r" % p0
            if p1["h1"] != (p0["h1"][0], 1) or p1["h2"] != (p0["h2"][0], 1):
                return "after one publish %r -> %r" % (p0, p1)
            if w.response.header("wshub-recovery") is not None:
                return "Wshub-Recovery without since"
        rep.run("Wshub-Channel-Seq: one header per URL channel with epoch:seq",
                header_positions)

    def lifetime_with_history():
        j = jws(d, "/ws/keep")
        e1 = jrecv(j)
        jsend(j, {"op": "publish", "channel": "keep", "data": "x", "id": 1})
        jrecv(j)
        jrecv(j)
        j.close()
        j = jws(d, "/ws/keep")
        e2 = jrecv(j)
        j.close()
        if (e2["epoch"], e2["seq"]) != (e1["epoch"], 1):
            return "channel with history changed: %r -> %r" % (e1, e2)
    rep.run("a channel with history outlives its subscribers (same epoch, seq)",
            lifetime_with_history)

with wshtest.Daemon(routes=ROUTES, history_size=0) as d:
    def lifetime_no_history():
        j = jws(d, "/ws/gone")
        e1 = jrecv(j)
        other = jws(d, "/ws/gone")
        jrecv(other)
        jsend(j, {"op": "publish", "channel": "gone", "data": "x", "id": 1})
        jrecv(j)
        a = jrecv(j)
        jrecv(other)
        j.close()
        # still one subscriber: the channel lives on
        j = jws(d, "/ws/gone")
        e2 = jrecv(j)
        j.close()
        other.close()
        j = jws(d, "/ws/gone")
        e3 = jrecv(j)
        j.close()
        if a.get("seq") != 1 or (e2["epoch"], e2["seq"]) != (e1["epoch"], 1):
            return "channel changed while subscribed: %r %r %r" % (e1, a, e2)
        if e3["epoch"] == e1["epoch"] or e3["seq"] != 0:
            return "channel without subscribers or history was kept: %r -> %r" % (e1, e3)
    rep.run("history_size = 0: the channel is freed with its last subscriber "
            "(new epoch, seq 0)", lifetime_no_history)

    def publish_without_subscribers():
        j = jws(d, "/ps")
        acks = []
        for i in range(2):
            jsend(j, {"op": "publish", "channel": "nobody", "data": "x", "id": i})
            acks.append(jrecv(j))
        j.close()
        if [a.get("seq") for a in acks] != [1, 1]:
            return "publishes to a channel that keeps nothing: %r" % acks
    rep.run("history_size = 0: a publish with no subscribers leaves no channel",
            publish_without_subscribers)
rep.done()
