#!/usr/bin/python3
"""Cluster control: three wshubd nodes on one real Redis. The HTTP API and
the admin socket of one node act on connections of the others: sendOne by
connection id and by user, broadcast to a route on every node, disconnect
(kick); an id on a node that is not running is 404 at once. Presence: who
is subscribed to a channel, on every node, by id and user; the nodes with
their counts in `wshubctl stats`; a node killed drops out of both once its
heartbeat expires."""

import json
import os
import subprocess
import tempfile
import time

import wshtest
import wshcluster as wc
from wshtest import RawWS
from authtest import plugin, api

wc.require_cluster()
wshtest.overall_alarm(120)
rep = wshtest.Report()

TMP = tempfile.mkdtemp(prefix="wshctl-")
TOKENS = os.path.join(TMP, "tokens")
with open(TOKENS, "w") as f:
    f.write("tok-alice alice * *\n"
            "tok-bob bob * *\n")
AUTH = {"plugin": plugin("auth_token"), "options": {"file": TOKENS}}
ROUTES = wc.ROUTES + [{"path": "/bc", "handler": "broadcast"}]
KEY = ["X-Api-Key: k"]
WSHUBCTL = os.path.join(os.path.dirname(wshtest.daemon_path()), "wshubctl")


def node(redis, name):
    n = wc.Node(redis, name, routes=ROUTES, auth=AUTH, api_key="k",
                admin_socket="admin.sock", log_level="info")
    return n


def call(n, method, path, body=b""):
    r = api(n.port, method, path, KEY, body)
    try:
        return r.status, json.loads(r.body or b"{}")
    except ValueError:
        return r.status, {"raw": r.body}


def ctl(n, *args):
    r = subprocess.run([WSHUBCTL, "-s", os.path.join(n.tmp, "admin.sock"),
                        "--json"] + list(args), capture_output=True,
                       timeout=20)
    out = r.stdout.decode()
    return r.returncode, json.loads(out) if out.strip() else None


def ws(n, path="/bc", tok="tok-alice", protocols=None):
    s = RawWS(n.port, path, protocols=protocols,
              extra=["Authorization: Bearer " + tok])
    return s, s.response.header("Wshub-Connection-Id")


def text(s, timeout=5):
    op, data = s.recv_message(timeout)
    return data.decode()


try:
    redis = wc.Redis().start()
    A, B, C = node(redis, "a").start(), node(redis, "b").start(), \
        node(redis, "c").start()
    nodes = [A, B, C]
    rep.check("every node connects to Redis",
              all(wc.wait_up(n) for n in nodes))
    # The control channels are subscribed with the rest, once up.
    wc.wait_for(lambda: all(call(n, "GET", "/api/v1/nodes")[1]
                            .get("count") == 3 for n in nodes), 10)

    def send_by_id():
        sb, idb = ws(B)
        if idb is None or idb[:6] == ws(A)[1][:6]:
            return "ids do not name their node: %r" % idb
        st, ans = call(A, "POST", "/api/v1/connections/%s/send" % idb,
                       b"hello B")
        if st != 200 or ans.get("delivered") != 1:
            return "send: %r %r" % (st, ans)
        if text(sb) != "hello B":
            return "B's client got something else"
        # B's node, no such connection there: B answers 404.
        other = idb[:6] + "00ffffffff"
        st, ans = call(A, "POST", "/api/v1/connections/%s/send" % other,
                       b"x")
        if st != 404:
            return "unknown id on B: %r %r" % (st, ans)
        # A node that does not run: 404 without waiting for anyone.
        t0 = time.monotonic()
        st, ans = call(A, "POST", "/api/v1/connections/abcdef0000000001/"
                       "send", b"x")
        if st != 404 or time.monotonic() - t0 > 0.5:
            return "id on no node: %r %r after %.2fs" % (
                st, ans, time.monotonic() - t0)
        # Single-node behaviour on the local node stays.
        st, ans = call(B, "POST", "/api/v1/connections/%s/send" % idb,
                       b"local")
        if st != 200 or text(sb) != "local":
            return "local send: %r %r" % (st, ans)
        sb.close()

    rep.run("sendOne by id to a connection on another node; 404 for an "
            "unknown id or a node not running", send_by_id)

    def send_by_user():
        s1, _ = ws(B, tok="tok-alice")
        s2, _ = ws(C, tok="tok-alice")
        s3, _ = ws(C, tok="tok-bob")
        st, ans = call(A, "POST", "/api/v1/users/alice/send", b"hi alice")
        if st != 200 or ans.get("connections") != 2 or \
                ans.get("delivered") != 2 or ans.get("nodes") != 3:
            return "user send: %r %r" % (st, ans)
        if text(s1) != "hi alice" or text(s2) != "hi alice":
            return "alice's clients missed it"
        try:
            got = s3.recv_message(0.3)
            return "bob got %r" % (got,)
        except OSError:
            pass
        st, ans = call(A, "POST", "/api/v1/users/nobody/send", b"x")
        if st != 404:
            return "unknown user: %r %r" % (st, ans)
        for s in (s1, s2, s3):
            s.close()

    rep.run("sendOne by user reaches the user's connections on every node",
            send_by_user)

    def broadcast():
        socks = [ws(n)[0] for n in nodes] + [ws(C)[0]]
        st, ans = call(A, "POST", "/api/v1/broadcast?route=/bc", b"to all")
        if st != 200 or ans.get("delivered") != 4 or ans.get("nodes") != 3:
            return "broadcast: %r %r" % (st, ans)
        for i, s in enumerate(socks):
            if text(s) != "to all":
                return "socket %d missed the broadcast" % i
            try:
                extra = s.recv_message(0.2)
                return "socket %d got it twice: %r" % (i, extra)
            except OSError:
                pass
        for s in socks:
            s.close()

    rep.run("broadcast to a route reaches its connections on every node, "
            "once", broadcast)

    def kick():
        sb, idb = ws(B)
        st, ans = call(A, "DELETE", "/api/v1/connections/%s?code=4000&"
                       "reason=bye" % idb)
        if st != 200 or ans.get("code") != 4000:
            return "DELETE: %r %r" % (st, ans)
        code, why, _ = sb.expect_close(5)
        if code != 4000 or why != b"bye":
            return "closed with %r %r" % (code, why)
        sc, idc = ws(C)
        st, ans = call(A, "POST", "/api/v1/connections/%s/disconnect" % idc)
        if st != 200:
            return "disconnect: %r %r" % (st, ans)
        if sc.expect_close(5)[0] != 1000:
            return "C's client not closed with 1000"
        # Gone now: 404 from its node.
        st, ans = call(A, "DELETE", "/api/v1/connections/%s" % idc)
        if st != 404:
            return "second kick: %r %r" % (st, ans)

    rep.run("disconnect (kick) a connection on another node", kick)

    def admin():
        sb, idb = ws(B)
        sc, idc = ws(C)
        rc, ans = ctl(A, "send", idb, "from admin")
        if rc != 0 or ans.get("delivered") != 1 or text(sb) != "from admin":
            return "admin send: %r %r" % (rc, ans)
        rc, ans = ctl(A, "broadcast", "/bc", "admin to all")
        if rc != 0 or ans.get("delivered") != 2 or ans.get("nodes") != 3:
            return "admin broadcast: %r %r" % (rc, ans)
        if text(sb) != "admin to all" or text(sc) != "admin to all":
            return "admin broadcast missed"
        rc, ans = ctl(A, "kick", idc, "4001", "admin says bye")
        if rc != 0 or sc.expect_close(5)[0] != 4001:
            return "admin kick: %r %r" % (rc, ans)
        rc, ans = ctl(A, "send", "abcdef0000000002", "x")
        if rc == 0:
            return "admin send to no node succeeded: %r" % ans
        sb.close()

    rep.run("admin socket: send, broadcast and kick across nodes", admin)

    held = {}

    def presence():
        sb, idb = ws(B, "/ps", "tok-alice", ["wshub.v1"])
        sc, idc = ws(C, "/ps", "tok-bob", ["wshub.v1"])
        wc.subscribe(sb, "room")
        wc.subscribe(sc, "room")

        def pres():
            st, ans = call(A, "GET", "/api/v1/channels/room/presence")
            return ans if st == 200 and ans.get("count") == 2 else None
        ans = wc.wait_for(pres, 5)
        if not ans:
            return "presence on A: %r" % (call(A, "GET",
                                          "/api/v1/channels/room/presence"),)
        got = {(m["id"], m.get("user")) for m in ans["subscribers"]}
        if got != {(idb, "alice"), (idc, "bob")}:
            return "presence lists %r" % got
        st, ans = call(A, "GET", "/api/v1/channels/room")
        if st != 200 or ans.get("subscribers") != 2 or \
                ans.get("local_subscribers") != 0:
            return "channel on A: %r %r" % (st, ans)
        rc, ans = ctl(A, "channel", "room")
        if rc != 0 or ans.get("subscribers") != 2:
            return "wshubctl channel: %r %r" % (rc, ans)
        # Counts come with the heartbeats, every second.
        def counts():
            rc, ans = ctl(A, "stats")
            cl = (ans or {}).get("cluster", {})
            per = {n["name"]: n for n in cl.get("nodes", [])}
            ok = rc == 0 and cl.get("redis") == "up" and \
                cl.get("nodes_seen") == 3 and \
                per.get("b", {}).get("websockets") == 1 and \
                per.get("c", {}).get("users") == 1 and \
                per.get("c", {}).get("channels") == 1
            return cl if ok else None
        if not wc.wait_for(counts, 5):
            return "wshubctl stats cluster: %r" % (ctl(A, "stats")[1] or
                                                   {}).get("cluster")
        # Unsubscribing shows at once.
        wc.jsend(sb, {"op": "unsubscribe", "channel": "room", "id": 9})
        if not wc.wait_for(lambda: call(A, "GET", "/api/v1/channels/room/"
                                        "presence")[1].get("count") == 1, 5):
            return "unsubscribe not seen"
        wc.subscribe(sb, "room", id=10)
        held.update(sb=sb, sc=sc, idb=idb, idc=idc)
        return None

    rep.run("presence across nodes: ids and users; channel and stats "
            "through wshubctl", presence)

    def redis_restarts():
        redis.kill()
        time.sleep(0.5)
        # The nodes answer what they can while Redis is away.
        st, ans = call(A, "GET", "/api/v1/channels/room/presence")
        if st != 503:
            return "presence without Redis: %r %r" % (st, ans)
        st, ans = call(A, "POST", "/api/v1/connections/%s/send" %
                       held["idb"], b"x")
        if st != 503:
            return "send without Redis: %r %r" % (st, ans)
        st, ans = call(B, "GET", "/api/v1/channels/room")
        if st != 200 or "incomplete" not in ans or ans["subscribers"] != 1:
            return "channel on B without Redis: %r %r" % (st, ans)
        redis.start()
        # A restart without persistence lost the presence: nodes write
        # theirs again once back.
        if not wc.wait_for(lambda: call(A, "GET", "/api/v1/channels/room/"
                                        "presence")[1].get("count") == 2, 10):
            return "presence after the restart: %r" % (call(
                A, "GET", "/api/v1/channels/room/presence"),)
        rc, ans = ctl(A, "stats")
        if ans["cluster"]["outages"] < 1:
            return "no outage counted: %r" % ans["cluster"]

    rep.run("Redis restarted: presence is written again; requests "
            "meanwhile fail with 503", redis_restarts)

    def node_dies():
        C.kill()
        t0 = time.monotonic()
        ok = wc.wait_for(lambda: call(A, "GET", "/api/v1/channels/room/"
                                      "presence")[1].get("count") == 1, 8)
        if not ok:
            return "C's subscriber still listed"
        took = time.monotonic() - t0
        if not wc.wait_for(lambda: call(A, "GET", "/api/v1/nodes")[1]
                           .get("count") == 2, 5):
            return "C still among the nodes"
        # Its entries are removed from Redis, not only hidden.
        if not wc.wait_for(lambda: redis.command(
                "HKEYS", "wshub:p:{room}").split() == [held["idb"]], 5):
            return "Redis still holds %r" % redis.command("HKEYS",
                                                          "wshub:p:{room}")
        # A connection of the dead node: 404 at once.
        st, ans = call(A, "POST", "/api/v1/connections/%s/send" %
                       held["idc"], b"x")
        if st != 404:
            return "send to the dead node: %r %r" % (st, ans)
        print("# C's entries expired after %.1fs" % took)

    rep.run("a node killed: its presence entries expire and it leaves the "
            "node list", node_dies)

    # Under the sanitizers a leak or an error makes the exit status non-zero.
    rcs = [n.stop() for n in (A, B)]
    rep.check("the other nodes stop cleanly", rcs == [0, 0],
              "%r\n%s" % (rcs, A.stderr_text()[-2000:] +
                           B.stderr_text()[-2000:]))
finally:
    for n in ("A", "B", "C"):
        if n in globals():
            globals()[n].cleanup()
    redis.cleanup()

rep.done()
