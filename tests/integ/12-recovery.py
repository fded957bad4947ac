#!/usr/bin/python3
"""History and recovery: a client that drops (socket closed, or its process
killed with SIGKILL) and comes back with ?since=, Last-Event-ID or a JSON
subscribe "since" gets exactly the missed messages then live ones, with no
gap and no duplicate while publishing goes on; too old a position or another
epoch is an explicit gap; history limits by count, bytes and age; history
kept without subscribers; a restarted daemon has new epochs."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import wshtest
from wshtest import RawWS, OP_TEXT

wshtest.require_daemon()
wshtest.overall_alarm(150)
rep = wshtest.Report()

ROUTES = [
    {"path": "/ws/*", "handler": "pubsub", "allow_publish": True,
     "protocols": ["wshub.v1"]},
    {"path": "/ps", "handler": "pubsub", "allow_publish": True,
     "protocols": ["wshub.v1"]},
]
CHANNELS = [
    {"pattern": "small.*", "history_size": 5},
    {"pattern": "bytes.*", "history_bytes": 100},
    {"pattern": "age.*", "history_ttl": "2s"},
]


def jws(d, path="/ps", extra=None):
    return RawWS(d.port, path, protocols=["wshub.v1"], extra=extra)


def jrecv(ws, timeout=5):
    op, data = ws.recv_message(timeout)
    assert op == OP_TEXT, "expected text, got opcode %r" % op
    return json.loads(data)


def jsend(ws, obj):
    ws.send_text(json.dumps(obj).encode())


def silent(ws, timeout=0.3):
    try:
        m = ws.recv_message(timeout)
    except socket.timeout:
        return True
    return m is None


class Publisher:
    """A JSON client publishing numbered messages on one channel."""

    def __init__(self, d, channel):
        self.ws = jws(d)
        self.channel = channel
        self.n = 0
        self.epoch = None

    def publish(self, count=1, size=0):
        for _ in range(count):
            self.n += 1
            data = ("m%d" % self.n).ljust(size, ".")
            jsend(self.ws, {"op": "publish", "channel": self.channel, "data": data,
                            "id": self.n})
            a = jrecv(self.ws)
            assert a.get("op") == "ack" and a.get("seq") == self.n, a
            self.epoch = a["epoch"]

    def close(self):
        self.ws.close()


def subscribe(ws, channel, since=None, id_=1):
    cmd = {"op": "subscribe", "channel": channel, "id": id_}
    if since is not None:
        cmd["since"] = {"epoch": since[0], "seq": since[1]}
    jsend(ws, cmd)
    a = jrecv(ws)
    assert a.get("op") == "ack", a
    return a


def drop(ws):
    """Vanish without a close handshake."""
    ws.sock.shutdown(socket.SHUT_RDWR)
    ws.close()


with wshtest.Daemon(routes=ROUTES, channels=CHANNELS, history_size=100,
                    history_bytes="1M", history_ttl="5m") as d:
    probe = RawWS(d.port, "/ws/probe")
    HOOK = bool(probe.response.header_all("wshub-channel-seq"))
    probe.close()
    if not HOOK:
        rep.note("SKIP header checks: the 101 carries no Wshub-Recovery "
                 "(handler response_headers hook not wired in conn.c)")

    def json_since_under_load():
        ch = "live1"
        pub = Publisher(d, ch)
        s = jws(d)
        subscribe(s, ch)
        pub.publish(10)
        seen = [jrecv(s)["seq"] for _ in range(4)]
        drop(s)
        # publishing goes on, also while the client comes back
        stop = threading.Event()
        pub2 = jws(d)

        def keep_publishing():
            i = 0
            while not stop.is_set():
                i += 1
                jsend(pub2, {"op": "publish", "channel": ch, "data": "bg%d" % i})
                jrecv(pub2)
                time.sleep(0.002)
        t = threading.Thread(target=keep_publishing)
        t.start()
        time.sleep(0.2)
        s = jws(d)
        ack = subscribe(s, ch, since=(pub.epoch, seen[-1]))
        rec = jrecv(s)
        time.sleep(0.2)
        stop.set()
        t.join()
        # read up to the ack's position and a good way into the live stream
        last = None
        got = []
        try:
            while True:
                m = jrecv(s, 1.0)
                got.append(m["seq"])
        except socket.timeout:
            pass
        pub.close()
        pub2.close()
        s.close()
        if rec.get("op") != "recovered" or rec.get("from") != 5 or rec.get("to") != ack["seq"]:
            return "recovered event %r (ack %r)" % (rec, ack)
        if got != list(range(5, 5 + len(got))):
            return "not exactly 5.. in order: %r" % got
        if got[-1] <= ack["seq"]:
            return "no live messages after the replay (last %r, ack %r)" % (got[-1], ack)
        last = got[-1]
        return None if last else "nothing received"
    rep.run("JSON since: exactly the missed messages, then live ones while "
            "publishing continues (no gap, no duplicate)", json_since_under_load)

    def url_since_raw():
        ch = "raw1"
        pub = Publisher(d, ch)
        s = RawWS(d.port, "/ws/" + ch)
        pub.publish(6)
        got = [s.recv_message()[1].decode() for _ in range(3)]
        drop(s)
        pub.publish(4)
        s = RawWS(d.port, "/ws/%s?since=%s:3" % (ch, pub.epoch))
        pub.publish(1)
        msgs = [s.recv_message()[1].decode() for _ in range(8)]
        quiet = silent(s)
        hdr = s.response.header("wshub-recovery")
        pos = s.response.header_all("wshub-channel-seq")
        s.close()
        pub.close()
        if got != ["m1", "m2", "m3"] or msgs != ["m%d" % i for i in range(4, 12)] or not quiet:
            return "got %r then %r" % (got, msgs)
        if HOOK and (hdr != "ok" or pos != ["%s=%s:10; recovery=ok" % (ch, pub.epoch)]):
            return "headers %r %r" % (hdr, pos)
    rep.run("raw ?since=<epoch>:<seq>: the missed payloads then live ones "
            "(Wshub-Recovery: ok)", url_since_raw)

    def last_event_id():
        ch = "lei"
        pub = Publisher(d, ch)
        pub.publish(5)
        s = jws(d, "/ws/" + ch, extra=["Last-Event-ID: %s:2" % pub.epoch])
        evs = [jrecv(s) for _ in range(5)]
        s.close()
        pub.close()
        ops = [e["op"] for e in evs]
        if ops != ["subscribed", "recovered", "message", "message", "message"] or \
                [e["seq"] for e in evs[2:]] != [3, 4, 5]:
            return "got %r" % evs
    rep.run("Last-Event-ID header on a URL subscription (JSON mode): "
            "subscribed, recovered, messages 3..5", last_event_id)

    def multi_channel_since_list():
        pa, pb = Publisher(d, "la"), Publisher(d, "lb")
        pa.publish(3)
        pb.publish(3)
        s = jws(d, "/ws/la,lb?since=%s:1,%s%%3A2" % (pa.epoch, pb.epoch))
        evs = [jrecv(s) for _ in range(2 + 2 + 2 + 1)]
        s.close()
        pa.close()
        pb.close()
        msgs = [(e["channel"], e["seq"]) for e in evs if e["op"] == "message"]
        if sorted(msgs) != [("la", 2), ("la", 3), ("lb", 3)]:
            return "got %r" % evs
    rep.run("?since= with one position per URL channel (percent-encoded colon)",
            multi_channel_since_list)

    def killed_client_process():
        ch = "killed"
        pub = Publisher(d, ch)
        code = r"""
import json, sys, wshtest
ws = wshtest.RawWS(%d, "/ps", protocols=["wshub.v1"])
ws.send_text(json.dumps({"op": "subscribe", "channel": "%s", "id": 1}).encode())
ws.recv_message()
print("ready", flush=True)
while True:
    op, data = ws.recv_message(30)
    m = json.loads(data)
    print(m["seq"], flush=True)
""" % (d.port, ch)
        env = dict(os.environ)
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                                env=env, text=True)
        try:
            assert proc.stdout.readline().strip() == "ready"
            pub.publish(5)
            seen = [int(proc.stdout.readline()) for _ in range(5)]
            proc.send_signal(signal.SIGKILL)
            proc.wait(5)
        finally:
            if proc.poll() is None:
                proc.kill()
        pub.publish(5)
        s = jws(d)
        subscribe(s, ch, since=(pub.epoch, seen[-1]))
        rec = jrecv(s)
        msgs = [jrecv(s)["seq"] for _ in range(5)]
        pub.publish(1)
        live = jrecv(s)["seq"]
        quiet = silent(s)
        s.close()
        pub.close()
        if seen != [1, 2, 3, 4, 5] or rec.get("op") != "recovered" or \
                msgs != [6, 7, 8, 9, 10] or live != 11 or not quiet:
            return "seen %r, %r, %r, live %r" % (seen, rec, msgs, live)
    rep.run("client process killed with SIGKILL, reconnects with since: "
            "6..10 replayed, then 11 live", killed_client_process)

    def gap_too_old_and_epoch():
        ch = "small.1"
        pub = Publisher(d, ch)
        pub.publish(20)
        s = jws(d)
        ack = subscribe(s, ch, since=(pub.epoch, 3))
        gap = jrecv(s)
        ok = subscribe(s, "small.2", since=(pub.epoch, 0), id_=2)
        gap2 = jrecv(s)
        pub.publish(1)
        nxt = jrecv(s)
        s.close()
        want = {"op": "gap", "channel": ch, "epoch": pub.epoch, "seq": 20,
                "reason": "history does not reach back"}
        if ack["seq"] != 20 or gap != want:
            return "too old: %r, want %r" % (gap, want)
        if gap2.get("op") != "gap" or gap2.get("reason") != "epoch changed" or \
                gap2.get("epoch") != ok["epoch"]:
            return "wrong epoch: %r" % gap2
        if nxt.get("seq") != 21:
            return "after a gap the stream goes on live: %r" % nxt
        # 17..21 are held: from 16 is recoverable, from 15 is not
        s = jws(d)
        subscribe(s, ch, since=(pub.epoch, 15))
        old = jrecv(s)
        subscribe(s, ch + "x", id_=2)
        s.close()
        s = jws(d)
        subscribe(s, ch, since=(pub.epoch, 16))
        rec = jrecv(s)
        msgs = [jrecv(s)["seq"] for _ in range(5)]
        s.close()
        if old.get("op") != "gap":
            return "from 15 with 17..21 held: %r" % old
        if rec.get("op") != "recovered" or msgs != [17, 18, 19, 20, 21]:
            return "from the oldest held: %r %r" % (rec, msgs)
        # a position ahead of the channel is a gap too
        s = jws(d)
        subscribe(s, ch, since=(pub.epoch, 99))
        ahead = jrecv(s)
        s.close()
        pub.close()
        if ahead.get("op") != "gap":
            return "ahead: %r" % ahead
    rep.run("history_size 5 (pattern): too old a position and another epoch "
            "-> explicit gap with the current position; the oldest held "
            "recovers", gap_too_old_and_epoch)

    if HOOK:
        def raw_gap_header():
            pub = Publisher(d, "small.raw")
            pub.publish(10)
            s = RawWS(d.port, "/ws/small.raw?since=%s:2" % pub.epoch)
            pub.publish(1)
            first = s.recv_message()[1].decode()
            hdr = s.response.header("wshub-recovery")
            pos = s.response.header_all("wshub-channel-seq")
            s.close()
            pub.close()
            if hdr != "gap" or pos != ["small.raw=%s:10; recovery=gap" % pub.epoch]:
                return "headers %r %r" % (hdr, pos)
            if first != "m11":
                return "nothing replayed on a gap, then live: got %r" % first
        rep.run("raw mode gap: Wshub-Recovery: gap, no replay, live goes on",
                raw_gap_header)

    def bytes_limit():
        pub = Publisher(d, "bytes.1")
        pub.publish(10, size=30)
        s = jws(d)
        subscribe(s, "bytes.1", since=(pub.epoch, 6))
        gap = jrecv(s)
        subscribe(s, "bytes.2", id_=2)
        s.close()
        s = jws(d)
        subscribe(s, "bytes.1", since=(pub.epoch, 7))
        rec = jrecv(s)
        msgs = [jrecv(s)["seq"] for _ in range(3)]
        s.close()
        pub.close()
        if gap.get("op") != "gap" or rec.get("op") != "recovered" or msgs != [8, 9, 10]:
            return "%r %r %r" % (gap, rec, msgs)
    rep.run("history_bytes 100 (pattern): three 30-byte messages held",
            bytes_limit)

    def age_limit():
        ch = "age.1"
        keep = jws(d)
        subscribe(keep, ch)        # keeps the channel (and its epoch) alive
        pub = Publisher(d, ch)
        pub.publish(3)
        s = jws(d)
        subscribe(s, ch, since=(pub.epoch, 0))
        rec = jrecv(s)
        s.close()
        time.sleep(3.5)
        s = jws(d)
        subscribe(s, ch, since=(pub.epoch, 0))
        gap = jrecv(s)
        subscribe(s, ch + "x", id_=2)
        s.close()
        s = jws(d)
        subscribe(s, ch, since=(pub.epoch, 3))
        uptodate = jrecv(s)
        s.close()
        keep.close()
        pub.close()
        if rec.get("op") != "recovered" or gap.get("op") != "gap" or \
                gap.get("reason") != "history does not reach back" or \
                uptodate.get("op") != "recovered" or uptodate.get("from") != 4:
            return "%r / %r / %r" % (rec, gap, uptodate)
    rep.run("history_ttl 2s (pattern): recoverable at once, a gap after 3.5 s; "
            "an up-to-date position still recovers", age_limit)

    def history_without_subscribers():
        pub = Publisher(d, "lonely")
        pub.publish(5)
        pub.close()
        time.sleep(1.5)            # a hub tick or more
        s = jws(d)
        subscribe(s, "lonely", since=(pub.epoch, 0))
        rec = jrecv(s)
        msgs = [jrecv(s) for _ in range(5)]
        s.close()
        if rec.get("op") != "recovered" or [m["data"] for m in msgs] != \
                ["m%d" % i for i in range(1, 6)]:
            return "%r %r" % (rec, msgs)
    rep.run("history survives with no subscriber at all; since 0 replays "
            "everything", history_without_subscribers)

# A restart loses the history: the epoch changes and a client is told.
d1 = wshtest.Daemon(routes=ROUTES)
with d1:
    pub = Publisher(d1, "restart")
    pub.publish(3)
    old_epoch = pub.epoch
    pub.close()
with wshtest.Daemon(routes=ROUTES) as d2:
    def restart_gap():
        s = jws(d2)
        ack = subscribe(s, "restart", since=(old_epoch, 3))
        gap = jrecv(s)
        s.close()
        if ack["epoch"] == old_epoch or gap.get("op") != "gap" or \
                gap.get("reason") != "epoch changed" or gap.get("seq") != 0:
            return "after a restart: %r %r" % (ack, gap)
    rep.run("daemon restart: new epoch, since the old one -> gap", restart_gap)
rep.done()
