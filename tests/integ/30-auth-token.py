#!/usr/bin/python3
"""auth_token.so: static tokens from a file; where a token may come from
(header, query, subprotocol entry never echoed); channel permissions over
every way in (URL, JSON subscribe and publish, raw publish, broadcast, the
HTTP API); API keys beside the plugin; send to a user; user in the
connection list; Origin allow-list; allow/deny metrics; reload of the
tokens file by SIGHUP without dropping connections; a bad plugin path is a
config error with its line."""

import json
import os
import signal
import subprocess
import tempfile
import time

import wshtest
from wshtest import OP_TEXT, OP_CLOSE
from authtest import plugin, upgrade, bearer, cmd, api

wshtest.require_daemon()
wshtest.overall_alarm(120)
rep = wshtest.Report()
TMP = tempfile.mkdtemp(prefix="wsh30t-")
TOKENS = os.path.join(TMP, "tokens")


def write_tokens(extra=""):
    with open(TOKENS, "w") as f:
        f.write("# token user subscribe publish flags\n"
                "tok-alice alice news,chat.* chat.*,/broadcast\n"
                "tok-bob bob news -\n"
                "tok-server server * * api\n" + extra)


write_tokens()
ROUTES = [
    {"path": "/ws/*", "handler": "pubsub", "allow_publish": True,
     "protocols": ["wshub.v1"]},
    {"path": "/broadcast", "handler": "broadcast"},
    {"path": "/o/*", "handler": "pubsub",
     "origins": ["https://app.example.com", "https://*.example.org"]},
]
AUTH = {"plugin": plugin("auth_token"), "options": {"file": TOKENS},
        "timeout": "2s"}

with wshtest.Daemon(routes=ROUTES, auth=AUTH, api_key="k3y",
                    admin_socket="admin.sock") as d:
    p = d.port

    def no_token():
        st, ws, r = upgrade(p, "/ws/news")
        assert st == 401, r
    rep.run("no token: 401", no_token)

    def bad_token():
        st, ws, r = upgrade(p, "/ws/news", bearer("tok-nobody"))
        assert st == 401, r
        st, ws, r = upgrade(p, "/ws/news", bearer("tok-alic"))
        assert st == 401, r
    rep.run("unknown token, prefix of a token: 401", bad_token)

    def header_ok():
        st, ws, r = upgrade(p, "/ws/news", bearer("tok-alice"))
        assert st == 101, r
        ws.close()
    rep.run("Authorization: Bearer token: 101", header_ok)

    def query_ok():
        st, ws, r = upgrade(p, "/ws/news?token=tok-alice")
        assert st == 101, r
        ws.close()
    rep.run("token in ?token=: 101", query_ok)

    def proto_ok():
        st, ws, r = upgrade(p, "/ws/news",
                            protocols=["wshub.v1", "wshub.bearer.tok-alice"])
        assert st == 101, r
        sel = r.header("sec-websocket-protocol")
        assert sel == "wshub.v1", sel
        ws.close()
    rep.run("token in a Sec-WebSocket-Protocol entry, never echoed", proto_ok)

    def url_denied():
        st, ws, r = upgrade(p, "/ws/news,secret", bearer("tok-alice"))
        assert st == 403, r
        st, ws, r = upgrade(p, "/ws/chat.room1", bearer("tok-bob"))
        assert st == 403, r
    rep.run("URL channel outside the subscribe patterns: 403", url_denied)

    def json_perms():
        st, ws, r = upgrade(p, "/ws/news", bearer("tok-alice"),
                            protocols=["wshub.v1"])
        assert st == 101, r
        op, data = ws.recv_message(timeout=5)
        assert json.loads(data)["op"] == "subscribed", data
        a = cmd(ws, {"op": "subscribe", "channel": "chat.x", "id": 1})
        assert a["op"] == "ack", a
        a = cmd(ws, {"op": "subscribe", "channel": "sport", "id": 2})
        assert a["op"] == "error" and a["code"] == "forbidden", a
        a = cmd(ws, {"op": "publish", "channel": "chat.x", "data": "hi",
                     "id": 3})
        assert a["op"] == "ack", a
        a = cmd(ws, {"op": "publish", "channel": "news", "data": "no",
                     "id": 4})
        assert a["op"] == "error" and a["code"] == "forbidden", a
        ws.close()
    rep.run("JSON subscribe and publish follow the patterns", json_perms)

    def raw_publish_denied():
        st, ws, r = upgrade(p, "/ws/news", bearer("tok-alice"))
        assert st == 101, r
        ws.send_text("not allowed")
        f = ws.expect_close()
        assert f[0] == 1008, f
    rep.run("raw publish outside the publish patterns: close 1008",
            raw_publish_denied)

    def broadcast_perms():
        st, ws, r = upgrade(p, "/broadcast", bearer("tok-alice"))
        assert st == 101, r
        ws.send_text("to all")
        op, data = ws.recv_message(timeout=5)
        assert data == b"to all", data
        st, ws2, r = upgrade(p, "/broadcast", bearer("tok-bob"))
        assert st == 101, r
        ws2.send_text("bob may not")
        f = ws2.expect_close()
        assert f[0] == 1008, f
        ws.close()
    rep.run("broadcast route: publish pattern on the route path",
            broadcast_perms)

    st, alice, r = upgrade(p, "/ws/news", bearer("tok-alice"))
    st2, alice2, r2 = upgrade(p, "/ws/chat.a", bearer("tok-alice"))

    def api_perms():
        r = api(p, "POST", "/pub/news", bearer("tok-alice"), b"x")
        assert r.status == 403, r
        r = api(p, "POST", "/pub/news", bearer("tok-nobody"), b"x")
        assert r.status == 401, r
        r = api(p, "POST", "/pub/news", bearer("tok-server"), b"hello")
        assert r.status == 200, r
        op, data = alice.recv_message(timeout=5)
        assert data == b"hello", data
        r = api(p, "POST", "/pub/news", ["X-Api-Key: k3y"], b"key")
        assert r.status == 200, r
        op, data = alice.recv_message(timeout=5)
        assert data == b"key", data
    rep.run("HTTP API: plugin token with the api flag, or the API key",
            api_perms)

    def user_list_and_send():
        r = api(p, "GET", "/api/v1/connections", ["X-Api-Key: k3y"])
        conns = json.loads(r.body)["connections"]
        users = sorted(c.get("user", "") for c in conns)
        assert users.count("alice") == 2, conns
        r = api(p, "POST", "/api/v1/users/alice/send", ["X-Api-Key: k3y"],
                b"for alice")
        assert r.status == 200, r
        j = json.loads(r.body)
        assert j["connections"] == 2 and j["delivered"] == 2, j
        for ws in (alice, alice2):
            op, data = ws.recv_message(timeout=5)
            assert data == b"for alice", data
        r = api(p, "POST", "/api/v1/users/nobody/send", ["X-Api-Key: k3y"],
                b"x")
        assert r.status == 404, r
        # The operator sees the same user in wshubctl conns.
        ctl = os.path.join(os.path.dirname(wshtest.daemon_path()), "wshubctl")
        out = subprocess.run([ctl, "-s", os.path.join(d.tmp, "admin.sock"),
                              "--json", "conns"], capture_output=True,
                             timeout=10)
        assert out.returncode == 0, out
        rows = json.loads(out.stdout)
        rows = rows.get("connections", rows) if isinstance(rows, dict) else rows
        assert sorted(r.get("user") or "" for r in rows).count("alice") == 2, rows
    rep.run("user in GET /api/v1/connections; POST /api/v1/users/U/send",
            user_list_and_send)

    def origins():
        tok = bearer("tok-alice")
        st, ws, r = upgrade(p, "/o/news", tok + ["Origin: https://evil.com"])
        assert st == 403, r
        st, ws, r = upgrade(p, "/o/news",
                            tok + ["Origin: https://app.example.com"])
        assert st == 101, r
        ws.close()
        st, ws, r = upgrade(p, "/o/news",
                            tok + ["Origin: https://a.b.example.org"])
        assert st == 101, r
        ws.close()
        st, ws, r = upgrade(p, "/o/news",
                            tok + ["Origin: https://example.org"])
        assert st == 403, r
        st, ws, r = upgrade(p, "/o/news",
                            tok + ["Origin: https://evilexample.org"])
        assert st == 403, r
        st, ws, r = upgrade(p, "/o/news", tok)
        assert st == 101, r
        ws.close()
    rep.run("Origin allow-list: exact, wildcard, mismatch 403, none passes",
            origins)

    def reload_tokens():
        st, ws, r = upgrade(p, "/ws/news", bearer("tok-carol"))
        assert st == 401, r
        write_tokens("tok-carol carol news\n")
        d.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            st, ws, r = upgrade(p, "/ws/news", bearer("tok-carol"))
            if st == 101:
                break
            time.sleep(0.1)
        assert st == 101, r
        # alice's connection survived the reload and still gets messages
        r = api(p, "POST", "/pub/news", ["X-Api-Key: k3y"], b"after")
        op, data = alice.recv_message(timeout=5)
        assert data == b"after", data
        ws.close()
    rep.run("SIGHUP re-reads the tokens file; connections stay",
            reload_tokens)

    def reload_bad_keeps_old():
        with open(TOKENS, "w") as f:
            f.write("only-one-field\n")
        d.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        st, ws, r = upgrade(p, "/ws/news", bearer("tok-carol"))
        assert st == 101, r
        ws.close()
        assert "reload failed" in d.stderr_text()
    rep.run("a broken tokens file on reload keeps the old tokens",
            reload_bad_keeps_old)

    def metrics():
        r = api(p, "GET", "/metrics", ["X-Api-Key: k3y"])
        if r.status != 200:
            return
        txt = r.body.decode()
        assert "auth" in txt, txt[:500]
    rep.run("metrics mention auth decisions", metrics)
    alice.close()
    alice2.close()


def bad_plugin():
    conf = os.path.join(TMP, "bad.conf")
    with open(conf, "w") as f:
        f.write('listeners = ( { address = "127.0.0.1"; port = %d; } );\n'
                'routes = ( { path = "/echo"; handler = "echo"; } );\n'
                'auth = {\n  plugin = "%s/nonexistent.so";\n};\n'
                % (wshtest.free_port(), TMP))
    r = subprocess.run([wshtest.daemon_path(), "-t", "-c", conf],
                       capture_output=True, timeout=10)
    err = r.stderr.decode()
    assert r.returncode != 0, err
    assert "bad.conf:3" in err and "cannot load auth plugin" in err, err
    # a plugin whose init fails (no tokens file) is refused by -t too
    with open(conf, "w") as f:
        f.write('listeners = ( { address = "127.0.0.1"; port = %d; } );\n'
                'routes = ( { path = "/echo"; handler = "echo"; } );\n'
                'auth = { plugin = "%s"; options = { file = "/nonexistent"; '
                '}; };\n' % (wshtest.free_port(), plugin("auth_token")))
    r = subprocess.run([wshtest.daemon_path(), "-t", "-c", conf],
                       capture_output=True, timeout=10)
    err = r.stderr.decode()
    assert r.returncode != 0 and "/nonexistent" in err, err
rep.run("wshubd -t: missing plugin (with line) and failing init", bad_plugin)

rep.done()
