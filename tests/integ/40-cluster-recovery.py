#!/usr/bin/python3
"""Cluster recovery: history lives in Redis streams, so a client that drops
from one node and reconnects to another with its last position (JSON
"since", or ?since= in raw mode) gets exactly the messages it missed, then
the live stream, with no gap and no duplicate while publishing goes on;
too old a position or another epoch is an explicit gap."""

import threading
import time

import wshtest
import wshcluster as wc
from wshtest import RawWS

wc.require_cluster()
wshtest.overall_alarm(120)
rep = wshtest.Report()

CHANNELS = [{"pattern": "small.*", "history_size": 5}]

with wc.Redis() as redis, \
        wc.Node(redis, "a", channels=CHANNELS) as A, \
        wc.Node(redis, "b", channels=CHANNELS) as B, \
        wc.Node(redis, "c", channels=CHANNELS) as C:
    rep.check("every node connects to Redis",
              all(wc.wait_up(n) for n in (A, B, C)))

    def move_while_publishing():
        total = 300
        stop = threading.Event()
        errors = []

        def publisher():
            for i in range(total):
                st, _ = wc.publish(B, "live", "p%d" % i)
                if st != 200:
                    errors.append((i, st))
                time.sleep(0.002)
            stop.set()

        ws = wc.jws(A)
        ack, _ = wc.subscribe(ws, "live")
        epoch = ack["epoch"]
        t = threading.Thread(target=publisher)
        t.start()
        got = wc.messages(ws, 40, timeout=10)
        ws.sock.close()          # dropped without a close handshake
        last = got[-1]["seq"]
        time.sleep(0.2)          # messages go on meanwhile
        ws2 = wc.jws(C)
        ack2, ev = wc.subscribe(ws2, "live", since={"epoch": epoch,
                                                     "seq": last})
        if ev.get("op") != "recovered" or ev.get("from") != last + 1:
            return "recovery answer %r (ack %r)" % (ev, ack2)
        t.join()
        rest = total - len(got)
        more = wc.messages(ws2, rest, timeout=15)
        seqs = [m["seq"] for m in got + more]
        if seqs != list(range(1, total + 1)):
            missing = sorted(set(range(1, total + 1)) - set(seqs))
            return "seqs not exactly 1..%d: %d received, missing %r" % (
                total, len(seqs), missing[:10])
        if [m["data"] for m in got + more] != ["p%d" % i for i in
                                              range(total)]:
            return "payloads differ"
        if errors:
            return "publish errors %r" % errors[:5]
        ws2.close()

    rep.run("a client moved from A to C mid-stream gets every message "
            "exactly once", move_while_publishing)

    def raw_since_other_node():
        st, first = wc.publish(A, "rawch", "r0")
        epoch = first["epoch"]
        for i in range(1, 5):
            wc.publish(A, "rawch", "r%d" % i)
        raw = RawWS(B.port, "/ws/rawch?since=%s:2" % epoch)
        got = [raw.recv_message(5)[1] for _ in range(3)]
        if got != [b"r2", b"r3", b"r4"]:
            return "raw replay %r" % got
        time.sleep(0.2)
        wc.publish(C, "rawch", "r5")
        if raw.recv_message(5)[1] != b"r5":
            return "no live message after the replay"
        raw.close()

    rep.run("a raw client with ?since= on another node gets the replay",
            raw_since_other_node)

    def too_old():
        st, first = wc.publish(A, "small.x", "s0")
        for i in range(1, 10):
            wc.publish(A, "small.x", "s%d" % i)
        ws = wc.jws(C)
        ack, ev = wc.subscribe(ws, "small.x", since={"epoch": first["epoch"],
                                                      "seq": 1})
        if ev.get("op") != "gap" or \
                ev.get("reason") != "history does not reach back":
            return "got %r" % ev
        if ev.get("seq") != 10:
            return "gap gives position %r, not 10" % ev
        ack, ev = wc.subscribe(wc.jws(B), "small.x",
                               since={"epoch": first["epoch"], "seq": 6})
        if ev.get("op") != "recovered" or (ev["from"], ev["to"]) != (7, 10):
            return "within the last 5: %r" % ev

    rep.run("a position older than the Redis stream is a gap", too_old)

    def other_epoch():
        ws = wc.jws(A)
        ack, ev = wc.subscribe(ws, "live", since="0123456789abcdef:3")
        if ev.get("op") != "gap" or ev.get("reason") != "epoch changed":
            return "got %r" % ev

    rep.run("another epoch is a gap", other_epoch)

rep.done()
