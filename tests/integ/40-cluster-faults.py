#!/usr/bin/python3
"""Cluster faults: Redis killed mid-stream and started again (its state is
lost: no persistence) and a node killed mid-stream. Nodes survive and keep
their clients; publishes during the outage fail clearly (HTTP 503 with a
JSON error, "unavailable" for a JSON client); afterwards the stream
resumes, live JSON subscribers hear "gap" and positions from before are
answered with a gap. A killed node's clients reconnect to another node and
recover exactly, while the other nodes' subscribers miss nothing."""

import signal
import threading
import time

import wshtest
import wshcluster as wc

wc.require_cluster()
wshtest.overall_alarm(150)
rep = wshtest.Report()

redis = wc.Redis().start()
try:
    with wc.Node(redis, "a") as A, wc.Node(redis, "b") as B:
        rep.check("both nodes connect", wc.wait_up(A) and wc.wait_up(B))
        sa, sb = wc.jws(A), wc.jws(B)
        ack, _ = wc.subscribe(sa, "f")
        wc.subscribe(sb, "f")
        for i in range(5):
            wc.publish(A, "f", "before%d" % i)
        wc.messages(sa, 5)
        wc.messages(sb, 5)

        redis.kill()
        time.sleep(0.3)

        def outage_503():
            st, ans = wc.publish(A, "f", "during")
            if st != 503 or "error" not in ans or ans.get("status") != 503:
                return "publish during the outage: %r %r" % (st, ans)
            pub = wc.jws(B)
            wc.jsend(pub, {"op": "publish", "channel": "f", "data": "x",
                           "id": 3})
            err = wc.jexpect(pub, "error")
            if err.get("code") != "unavailable" or err.get("id") != 3:
                return "JSON publish during the outage: %r" % err
            pub.close()

        rep.run("publishes during the outage fail with 503 / unavailable",
                outage_503)
        rep.check("nodes survive the outage",
                  A.proc.poll() is None and B.proc.poll() is None)

        def ping_still_works():
            wc.jsend(sa, {"op": "ping", "id": 1})
            return wc.jexpect(sa, "ack").get("id") == 1

        rep.run("a client keeps its connection during the outage",
                ping_still_works)
        rep.check("the outage is logged",
                  "publishes fail until it is back" in A.stderr_text())

        redis.start()

        def resumed():
            if not wc.wait_for(lambda: "is back after" in A.stderr_text()
                               and "is back after" in B.stderr_text(), 15):
                return "nodes did not report Redis back"
            gap = wc.jexpect(sa, "gap", 10)
            if gap.get("reason") != "epoch changed":
                return "live subscriber heard %r" % gap
            wc.jexpect(sb, "gap", 10)
            st, ans = wc.wait_for(
                lambda: (lambda r: r if r[0] == 200 else None)(
                    wc.publish(A, "f", "after")), 10) or (None, None)
            if st != 200:
                return "publish after the outage: %r" % (ans,)
            for ws in (sa, sb):
                m = wc.messages(ws, 1, 10)[0]
                if m["data"] != "after" or m["epoch"] != gap["epoch"]:
                    return "after the outage got %r (gap %r)" % (m, gap)
            ws = wc.jws(B)
            a2, ev = wc.subscribe(ws, "f", since={"epoch": ack["epoch"],
                                                  "seq": 5})
            if ev.get("op") != "gap" or ev.get("reason") != "epoch changed":
                return "old position after the restart: %r" % ev
            ws.close()

        rep.run("after Redis restarts the stream resumes and gaps are told",
                resumed)
        sa.close()
        sb.close()

    with wc.Node(redis, "a2") as A, wc.Node(redis, "b2", check_exit=False) as B, \
            wc.Node(redis, "c2") as C:
        rep.check("three nodes connect",
                  all(wc.wait_up(n) for n in (A, B, C)))

        def node_killed():
            sa, sb, sc = wc.jws(A), wc.jws(B), wc.jws(C)
            for ws in (sa, sb, sc):
                ack, _ = wc.subscribe(ws, "k")
            total = 200
            errors = []

            def publisher():
                for i in range(total):
                    st, _ = wc.publish(A, "k", "k%d" % i)
                    if st != 200:
                        errors.append((i, st))
                    time.sleep(0.002)

            t = threading.Thread(target=publisher)
            t.start()
            got_b = wc.messages(sb, 30, 10)
            B.proc.send_signal(signal.SIGKILL)
            B.proc.wait(5)
            ws = wc.jws(C)
            a2, ev = wc.subscribe(ws, "k", since={"epoch": ack["epoch"],
                                                  "seq": got_b[-1]["seq"]})
            if ev.get("op") != "recovered":
                return "recovery on C: %r" % ev
            t.join()
            rest = wc.messages(ws, total - len(got_b), 15)
            if [m["seq"] for m in got_b + rest] != \
                    list(range(1, total + 1)):
                return "B's client did not recover exactly"
            for name, s in (("A", sa), ("C", sc)):
                seqs = [m["seq"] for m in wc.messages(s, total, 15)]
                if seqs != list(range(1, total + 1)):
                    return "%s's subscriber missed messages" % name
            if errors:
                return "publish errors %r" % errors[:5]
            for s in (sa, sc, ws):
                s.close()

        rep.run("a node killed mid-stream: others unaffected, its clients "
                "recover on another node", node_killed)
finally:
    redis.cleanup()

rep.done()
