#!/usr/bin/python3
"""The wshub.v1 JSON subprotocol: negotiation, subscribe / unsubscribe /
publish / ping acks, message envelopes (text, JSON values, binary), every
error code with the connection staying usable, raw and JSON subscribers on
one channel each getting their form, URL channels in JSON mode."""

import asyncio
import base64
import json
import re
import socket

import websockets

import wshtest
from wshtest import RawWS, OP_TEXT, OP_BINARY

wshtest.require_daemon()
wshtest.overall_alarm(120)
rep = wshtest.Report()

ROUTES = [
    {"path": "/ws/*", "handler": "pubsub", "allow_publish": True,
     "protocols": ["wshub.v1"]},
    {"path": "/ps", "handler": "pubsub", "allow_publish": True,
     "protocols": ["wshub.v1"]},
]
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def jws(d, path="/ps"):
    return RawWS(d.port, path, protocols=["wshub.v1"])


def jrecv(ws, timeout=5):
    op, data = ws.recv_message(timeout)
    assert op == OP_TEXT, "expected text, got opcode %r: %r" % (op, data)
    return json.loads(data)


def jsend(ws, obj):
    ws.send_text(json.dumps(obj).encode())


def silent(ws, timeout=0.3):
    try:
        m = ws.recv_message(timeout)
    except socket.timeout:
        return True
    return m is None


def usable(ws, id_="alive"):
    jsend(ws, {"op": "ping", "id": id_})
    r = jrecv(ws)
    assert r == {"op": "ack", "id": id_}, "after the error: %r" % r


with wshtest.Daemon(routes=ROUTES, max_message_size=6000) as d:
    def negotiation():
        async def run():
            async with websockets.connect(d.url("/ps"), subprotocols=["other", "wshub.v1"],
                                          open_timeout=5) as ws:
                if ws.subprotocol != "wshub.v1":
                    return "negotiated %r" % ws.subprotocol
                await ws.send(json.dumps({"op": "ping", "id": "p"}))
                r = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if r != {"op": "ack", "id": "p"}:
                    return "ping: %r" % r
        return asyncio.run(run())
    rep.run("wshub.v1 is negotiated (websockets client); ping -> ack with the id",
            negotiation)

    def subscribe_publish():
        a = jws(d)
        b = jws(d)
        jsend(a, {"op": "subscribe", "channel": "news", "id": 1})
        ack = jrecv(a)
        if ack.get("op") != "ack" or ack.get("id") != 1 or ack.get("channel") != "news" \
                or not HEX16.match(ack.get("epoch", "")) or ack.get("seq") != 0:
            return "subscribe ack %r" % ack
        jsend(b, {"op": "publish", "channel": "news", "data": "hello \"world\"\n", "id": "x"})
        pack = jrecv(b)
        msg = jrecv(a)
        want = {"op": "message", "channel": "news", "seq": 1, "epoch": ack["epoch"],
                "data": "hello \"world\"\n"}
        if msg != want:
            return "envelope %r, want %r" % (msg, want)
        if pack != {"op": "ack", "id": "x", "channel": "news", "epoch": ack["epoch"],
                    "seq": 1}:
            return "publish ack %r" % pack
        if not silent(b):
            return "a publisher not subscribed got its message"
        # JSON values are published as their compact text
        jsend(b, {"op": "publish", "channel": "news", "data": {"k": [1, True, None]}, "id": 2})
        jrecv(b)
        m2 = jrecv(a)
        if m2.get("data") != '{"k":[1,true,null]}' or m2.get("seq") != 2:
            return "JSON value: %r" % m2
        jsend(a, {"op": "unsubscribe", "channel": "news", "id": 3})
        un = jrecv(a)
        if un != {"op": "ack", "id": 3, "channel": "news"}:
            return "unsubscribe ack %r" % un
        jsend(b, {"op": "publish", "channel": "news", "data": "after", "id": 4})
        jrecv(b)
        if not silent(a):
            return "message after unsubscribe"
        a.close()
        b.close()
    rep.run("subscribe ack (channel, epoch, seq), publish ack, message envelope "
            "fields, JSON value as text, unsubscribe stops delivery", subscribe_publish)

    def raw_and_json_same_channel():
        r = RawWS(d.port, "/ws/mix")
        j = jws(d, "/ws/mix")
        ev = jrecv(j)
        if ev.get("op") != "subscribed" or ev.get("channel") != "mix" or ev.get("seq") != 0:
            return "URL subscription in JSON mode: %r" % ev
        p = jws(d)
        blob = bytes(range(256))
        jsend(p, {"op": "publish", "channel": "mix", "data": "text one", "id": 1})
        jsend(p, {"op": "publish", "channel": "mix",
                  "data_b64": base64.b64encode(blob).decode(), "id": 2})
        acks = [jrecv(p), jrecv(p)]
        rr = [r.recv_message(), r.recv_message()]
        jj = [jrecv(j), jrecv(j)]
        if rr != [(OP_TEXT, b"text one"), (OP_BINARY, blob)]:
            return "raw subscriber got %r" % rr
        if jj[0].get("data") != "text one" or "data_b64" in jj[0]:
            return "JSON text %r" % jj[0]
        if base64.b64decode(jj[1].get("data_b64", "")) != blob or "data" in jj[1]:
            return "JSON binary %r" % jj[1]
        if [a.get("seq") for a in acks] != [1, 2]:
            return "acks %r" % acks
        # a raw client publishing: JSON subscribers get envelopes
        r.send_binary(b"\x01\x02")
        r.recv_message()
        m = jrecv(j)
        if m.get("data_b64") != "AQI=" or m.get("seq") != 3:
            return "raw binary publish seen by JSON: %r" % m
        for w in (r, j, p):
            w.close()
    rep.run("raw and JSON subscribers of one channel: payload vs envelope, text "
            "and binary (data_b64) both ways", raw_and_json_same_channel)

    def errors_keep_connection():
        w = jws(d)
        cases = [
            (b"{not json", None, "bad_json"),
            (b"[1,2]", None, "bad_request"),
            (json.dumps({"op": "fly", "id": 9}).encode(), 9, "unknown_op"),
            (json.dumps({"id": 10}).encode(), 10, "bad_request"),
            (json.dumps({"op": "subscribe", "id": 11}).encode(), 11, "bad_request"),
            (json.dumps({"op": "subscribe", "channel": "a b", "id": 12}).encode(), 12,
             "bad_channel"),
            (json.dumps({"op": "subscribe", "channel": "", "id": 13}).encode(), 13,
             "bad_channel"),
            (json.dumps({"op": "subscribe", "channel": "x" * 129, "id": 14}).encode(), 14,
             "bad_channel"),
            (json.dumps({"op": "subscribe", "channel": "ok", "since": {"epoch": "zz",
                                                                       "seq": 1},
                         "id": 15}).encode(), 15, "bad_request"),
            (json.dumps({"op": "unsubscribe", "channel": "never", "id": 16}).encode(), 16,
             "not_subscribed"),
            (json.dumps({"op": "publish", "channel": "p", "id": 17}).encode(), 17,
             "bad_request"),
            (json.dumps({"op": "publish", "channel": "p", "data_b64": "***",
                         "id": 18}).encode(), 18, "bad_request"),
            (json.dumps({"op": "publish", "channel": "p/q", "data": "x",
                         "id": 19}).encode(), 19, "bad_channel"),
            # 1e5 grows to 100000.0: the published text passes max_message_size
            (json.dumps({"op": "publish", "channel": "p", "data": [1e5] * 1100,
                         "id": 20}).encode().replace(b"100000.0", b"1e5"), 20, "too_big"),
        ]
        for raw, id_, code in cases:
            w.send_text(raw)
            e = jrecv(w)
            if e.get("op") != "error" or e.get("code") != code or e.get("id") != id_ \
                    or not e.get("message"):
                return "%r -> %r, want %s" % (raw[:60], e, code)
        w.send_binary(b'{"op":"ping","id":1}')
        e = jrecv(w)
        if e.get("code") != "bad_request":
            return "binary command -> %r" % e
        jsend(w, {"op": "subscribe", "channel": "twice", "id": 1})
        jrecv(w)
        jsend(w, {"op": "subscribe", "channel": "twice", "id": 2})
        e = jrecv(w)
        if e.get("code") != "already_subscribed" or e.get("id") != 2:
            return "second subscribe %r" % e
        usable(w)
        w.close()
    rep.run("malformed JSON, unknown op, bad fields, bad names, bad base64, "
            "too_big, binary command, double subscribe: error replies with the "
            "id; the connection stays usable", errors_keep_connection)

    def invalid_utf8_closes():
        w = jws(d)
        w.send_text(b'{"op":"ping","id":"\xff"}')
        code, _, _ = w.expect_close()
        w.close()
        if code != 1007:
            return "invalid UTF-8 -> close %r" % code
    rep.run("invalid UTF-8 in a command is still a 1007 close (protocol layer)",
            invalid_utf8_closes)

    def url_channels_json():
        w = jws(d, "/ws/u1,u2")
        evs = [jrecv(w), jrecv(w)]
        if sorted(e["channel"] for e in evs) != ["u1", "u2"] or \
                any(e["op"] != "subscribed" for e in evs):
            return "subscribed events %r" % evs
        jsend(w, {"op": "publish", "channel": "u2", "data": "to u2", "id": 1})
        got = [jrecv(w), jrecv(w)]
        ops = sorted(g["op"] for g in got)
        msg = [g for g in got if g["op"] == "message"]
        if ops != ["ack", "message"] or msg[0]["channel"] != "u2":
            return "got %r" % got
        jsend(w, {"op": "unsubscribe", "channel": "u1", "id": 2})
        if jrecv(w).get("op") != "ack":
            return "unsubscribe from a URL channel failed"
        w.close()
    rep.run("URL channels in JSON mode: a subscribed event each, envelopes, "
            "unsubscribe by command", url_channels_json)

    def many_subscriptions():
        w = jws(d)
        for i in range(300):
            jsend(w, {"op": "subscribe", "channel": "many.%d" % i, "id": i})
        acks = [jrecv(w) for _ in range(300)]
        if any(a.get("op") != "ack" for a in acks):
            return "not all acked"
        p = jws(d)
        jsend(p, {"op": "publish", "channel": "many.299", "data": "last", "id": 1})
        jrecv(p)
        m = jrecv(w)
        w.close()
        p.close()
        if m.get("channel") != "many.299":
            return "got %r" % m
    rep.run("300 subscriptions on one connection by command", many_subscriptions)
rep.done()
