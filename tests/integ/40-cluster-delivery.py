#!/usr/bin/python3
"""Cluster delivery: three wshubd nodes on one real Redis. A message
published on any node (HTTP API, JSON client, raw client) reaches every
subscriber on every node exactly once, in the channel's global order, with
global sequence numbers and one epoch; concurrent publishers on different
nodes are seen in the same order everywhere; only channels with local
subscribers are subscribed in Redis."""

import threading
import time

import wshtest
import wshcluster as wc
from wshtest import RawWS

wc.require_cluster()
wshtest.overall_alarm(120)
rep = wshtest.Report()

with wc.Redis() as redis, wc.Node(redis, "a") as A, wc.Node(redis, "b") as B, \
        wc.Node(redis, "c") as C:
    nodes = [A, B, C]
    rep.check("every node connects to Redis",
              all(wc.wait_up(n) for n in nodes))

    def cross_node_http():
        subs = [wc.jws(n) for n in nodes]
        acks = [wc.subscribe(ws, "news")[0] for ws in subs]
        raw = RawWS(C.port, "/ws/news")
        epochs = {a["epoch"] for a in acks}
        if len(epochs) != 1:
            return "epochs differ across nodes: %r" % acks
        n = 50
        seqs = []
        for i in range(n):
            st, ans = wc.publish(A, "news", "m%d" % i)
            if st != 200:
                return "publish %d: %r %r" % (i, st, ans)
            seqs.append(ans["seq"])
        if seqs != list(range(1, n + 1)):
            return "HTTP answers carry seqs %r" % seqs[:10]
        for ws, node in zip(subs, "ABC"):
            got = wc.messages(ws, n)
            if [m["seq"] for m in got] != seqs:
                return "node %s: seqs %r" % (node, [m["seq"] for m in got])
            if [m["data"] for m in got] != ["m%d" % i for i in range(n)]:
                return "node %s: payloads out of order" % node
            if {m["epoch"] for m in got} != epochs:
                return "node %s: other epoch" % node
            try:
                extra = wc.jrecv(ws, 0.3)
                return "node %s: extra event %r" % (node, extra)
            except OSError:
                pass
        for i in range(n):
            op, data = raw.recv_message(5)
            if data != b"m%d" % i:
                return "raw on C: %r at %d" % (data, i)
        for ws in subs + [raw]:
            ws.close()

    rep.run("HTTP publish on A reaches A, B, C exactly once, in order",
            cross_node_http)

    def client_publish():
        pub = wc.jws(B)
        sub = wc.jws(C)
        wc.subscribe(sub, "chat")
        wc.jsend(pub, {"op": "publish", "channel": "chat", "data": "hi",
                       "id": 9})
        ack = wc.jexpect(pub, "ack")
        if ack.get("id") != 9 or ack.get("seq") != 1:
            return "publish ack %r" % ack
        m = wc.messages(sub, 1)[0]
        if m["data"] != "hi" or m["seq"] != 1 or m["epoch"] != ack["epoch"]:
            return "got %r for ack %r" % (m, ack)
        # A raw client publishing on its URL channel.
        rawpub = RawWS(A.port, "/ws/chat")
        # With Redis a subscription takes effect once the node is in step
        # with the channel; a raw client has no event that says when.
        time.sleep(0.3)
        rawpub.send_text(b"raw hello")
        m = wc.messages(sub, 1)[0]
        if m["data"] != "raw hello" or m["seq"] != 2:
            return "raw publish arrived as %r" % m
        op, data = rawpub.recv_message(5)
        if data != b"raw hello":
            return "the raw publisher got %r back" % data
        for ws in (pub, sub, rawpub):
            ws.close()

    rep.run("client publishes (JSON on B, raw on A) reach C with global "
            "sequence numbers", client_publish)

    def concurrent_order():
        subs = [wc.jws(n) for n in nodes]
        for ws in subs:
            wc.subscribe(ws, "race")
        n = 100
        errors = []

        def pub(node, tag):
            for i in range(n):
                st, _ = wc.publish(node, "race", "%s%d" % (tag, i))
                if st != 200:
                    errors.append((tag, i, st))

        ts = [threading.Thread(target=pub, args=(node, tag))
              for node, tag in zip(nodes, "xyz")]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errors:
            return "publish errors %r" % errors[:5]
        seen = []
        for ws in subs:
            got = wc.messages(ws, 3 * n, timeout=15)
            seen.append([(m["seq"], m["data"]) for m in got])
        if seen[0] != seen[1] or seen[1] != seen[2]:
            return "the nodes saw different orders"
        if [s for s, _ in seen[0]] != list(range(1, 3 * n + 1)):
            return "sequence numbers are not 1..%d" % (3 * n)
        for tag in "xyz":
            mine = [d for _, d in seen[0] if d[0] == tag]
            if mine != ["%s%d" % (tag, i) for i in range(n)]:
                return "publisher %s's messages out of its order" % tag
        for ws in subs:
            ws.close()

    rep.run("concurrent publishers on three nodes: one order everywhere",
            concurrent_order)

    def only_wanted():
        def numsub(ch):
            out = redis.command("PUBSUB", "NUMSUB", "wshub:c:" + ch).split()
            return int(out[1]) if len(out) == 2 else -1

        ws = wc.jws(B)
        wc.subscribe(ws, "lonely")
        if not wc.wait_for(lambda: numsub("lonely") == 1, 5):
            return "NUMSUB is %d with one node subscribed" % numsub("lonely")
        st, ans = wc.publish(A, "lonely", "x")
        if st != 200 or ans.get("delivered") != 1:
            return "publish reached %r nodes" % ans
        ws.close()
        if not wc.wait_for(lambda: numsub("lonely") == 0, 5):
            return "still subscribed in Redis after the last subscriber left"

    rep.run("only channels with local subscribers are subscribed in Redis",
            only_wanted)

    def ids_unique():
        ids = set()
        for n in nodes:
            for _ in range(3):
                ws = wc.jws(n)
                ids.add(ws.response.header("wshub-connection-id"))
                ws.close()
        if len(ids) != 9:
            return "connection ids repeat across nodes: %r" % ids
        if len({i[:6] for i in ids}) != 3:
            return "ids do not carry their node: %r" % ids

    rep.run("connection ids are unique across nodes", ids_unique)

rep.done()
