#!/usr/bin/python3
"""auth_jwt.so against tokens made by an independent implementation
(Debian's python3-jwt): HS256/384/512, RS256, ES256 from a JWKS file and a
PEM key; expired, not yet valid, wrong signature, alg none, HS/RS
confusion, malformed base64 and JSON, huge tokens, iss/aud; channel
claims; close 4401 at expiry unless refreshed over wshub.v1; keys
reloaded by SIGHUP without dropping connections."""

import base64
import json
import os
import signal
import tempfile
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import wshtest
from authtest import plugin, upgrade, bearer, cmd, api

wshtest.require_daemon()
wshtest.overall_alarm(150)
rep = wshtest.Report()
TMP = tempfile.mkdtemp(prefix="wsh30j-")

SECRET = b"s" * 40
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_PEM = RSA_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwk_rsa(kid):
    n = RSA_KEY.public_key().public_numbers()
    return {"kty": "RSA", "kid": kid, "n": b64u(n.n.to_bytes(256, "big")),
            "e": b64u(n.e.to_bytes(3, "big"))}


def jwk_ec(kid):
    n = EC_KEY.public_key().public_numbers()
    return {"kty": "EC", "kid": kid, "crv": "P-256",
            "x": b64u(n.x.to_bytes(32, "big")),
            "y": b64u(n.y.to_bytes(32, "big"))}


def write_jwks(secret=SECRET, kid="h1"):
    with open(os.path.join(TMP, "jwks.json"), "w") as f:
        json.dump({"keys": [{"kty": "oct", "kid": kid, "k": b64u(secret)},
                            jwk_rsa("r1"), jwk_ec("e1")]}, f)


write_jwks()
with open(os.path.join(TMP, "rsa.pem"), "wb") as f:
    f.write(RSA_PEM)


def claims(**kw):
    c = {"sub": "alice", "exp": int(time.time()) + 3600,
         "iss": "https://issuer.example", "aud": "wshub",
         "channels": {"subscribe": ["news", "chat.*"], "publish": ["chat.*"]}}
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


def hs(alg="HS256", kid="h1", key=SECRET, **kw):
    return jwt.encode(claims(**kw), key, algorithm=alg, headers={"kid": kid})


def rs(kid="r1", **kw):
    return jwt.encode(claims(**kw), RSA_KEY, algorithm="RS256",
                      headers={"kid": kid} if kid else None)


def es(kid="e1", **kw):
    return jwt.encode(claims(**kw), EC_KEY, algorithm="ES256",
                      headers={"kid": kid})


def forge(header, payload, sig=b"x"):
    return "%s.%s.%s" % (b64u(json.dumps(header).encode()),
                         b64u(json.dumps(payload).encode()), b64u(sig))


ROUTES = [{"path": "/ws/*", "handler": "pubsub", "allow_publish": True,
           "protocols": ["wshub.v1"]}]
AUTH = {"plugin": plugin("auth_jwt"),
        "options": {"jwks_file": os.path.join(TMP, "jwks.json"),
                    "issuer": "https://issuer.example", "audience": "wshub",
                    "leeway": 1}}

with wshtest.Daemon(routes=ROUTES, auth=AUTH, max_header_size=65536) as d:
    p = d.port

    def ok(tok, path="/ws/news"):
        st, ws, r = upgrade(p, path, bearer(tok))
        assert st == 101, (st, r, d.stderr_text()[-800:])
        ws.close()

    def refused(tok, path="/ws/news", want=401):
        st, ws, r = upgrade(p, path, bearer(tok))
        assert st == want, (st, r)

    for alg in ("HS256", "HS384", "HS512"):
        rep.run("%s token accepted" % alg, ok, hs(alg))
    rep.run("RS256 token (JWKS RSA key) accepted", ok, rs())
    rep.run("ES256 token (JWKS P-256 key) accepted", ok, es())
    def query_tok():
        st, ws, r = upgrade(p, "/ws/news?token=" + es())
        assert st == 101, r
        ws.close()
    rep.run("token from ?token= accepted", query_tok)
    rep.run("expired token: 401", refused, hs(exp=int(time.time()) - 60))
    rep.run("expired within the leeway: accepted", ok,
            hs(exp=int(time.time())))
    rep.run("not yet valid (nbf): 401", refused,
            hs(nbf=int(time.time()) + 120))
    rep.run("wrong issuer: 401", refused, hs(iss="https://evil"))
    rep.run("wrong audience: 401", refused, hs(aud="other"))
    rep.run("wrong HMAC key: 401", refused, hs(key=b"t" * 40))
    t = rs()
    rep.run("RS256 signature altered: 401", refused,
            t[:-4] + ("AAAA" if t[-4:] != "AAAA" else "BBBB"))
    rep.run("alg none: 401", refused,
            forge({"alg": "none", "typ": "JWT"}, claims(), b""))
    rep.run("alg none with a trailing dot only: 401", refused,
            forge({"alg": "none"}, claims()).rsplit(".", 1)[0] + ".")
    rep.run("malformed base64 in the payload: 401", refused,
            hs().split(".")[0] + ".@@@." + hs().split(".")[2])
    rep.run("payload that is not JSON: 401", refused,
            "%s.%s.%s" % (hs().split(".")[0], b64u(b"{nope"),
                          hs().split(".")[2]))
    rep.run("padding in base64url: 401", refused, hs() + "==")
    rep.run("two parts only: 401", refused, ".".join(hs().split(".")[:2]))
    rep.run("huge token (40 KB): 401", refused,
            hs(pad="x" * 40000))
    rep.run("no user claim: 401", refused, hs(sub=None))
    rep.run("channel not in the token's claims: 403", refused, hs(),
            "/ws/secret", 403)

    def jwt_channels():
        st, ws, r = upgrade(p, "/ws/news", bearer(es()),
                            protocols=["wshub.v1"])
        assert st == 101, r
        ws.recv_message(timeout=5)
        a = cmd(ws, {"op": "publish", "channel": "news", "data": "x",
                     "id": 1})
        assert a.get("code") == "forbidden", a
        a = cmd(ws, {"op": "publish", "channel": "chat.1", "data": "x",
                     "id": 2})
        assert a["op"] == "ack", a
        ws.close()
    rep.run("channels claim governs JSON publish", jwt_channels)

    def api_claim():
        r = api(p, "POST", "/pub/chat.1", bearer(hs()), b"x")
        assert r.status == 403, r
        r = api(p, "POST", "/pub/chat.1", bearer(hs(wshub_api=True)), b"x")
        assert r.status == 200, r
        r = api(p, "POST", "/pub/news", bearer(hs(wshub_api=True)), b"x")
        assert r.status == 403, r
    rep.run("HTTP API needs the wshub_api claim and a publish pattern",
            api_claim)

    def expiry_close():
        st, ws, r = upgrade(p, "/ws/news",
                            bearer(hs(exp=int(time.time()) + 2)))
        assert st == 101, r
        code, reason, _ = ws.expect_close(timeout=6)
        assert code == 4401, (code, reason)
    rep.run("connection closed with 4401 when its token expires",
            expiry_close)

    def refresh():
        st, ws, r = upgrade(p, "/ws/news",
                            bearer(hs(exp=int(time.time()) + 2)),
                            protocols=["wshub.v1"])
        assert st == 101, r
        ws.recv_message(timeout=5)
        a = cmd(ws, {"op": "refresh", "token": "garbage", "id": 1})
        assert a["op"] == "error" and a["code"] == "unauthorized", a
        a = cmd(ws, {"op": "refresh", "token": hs(sub="mallory"), "id": 2})
        assert a["op"] == "error" and a["code"] == "unauthorized", a
        a = cmd(ws, {"op": "refresh", "token": rs(), "id": 3})
        assert a["op"] == "ack", a
        time.sleep(4)
        a = cmd(ws, {"op": "ping", "id": 4})
        assert a["op"] == "ack", a
        ws.close()
    rep.run("refresh over wshub.v1 keeps the connection past the old expiry",
            refresh)

    def reload_keys():
        st, keep, r = upgrade(p, "/ws/news", bearer(hs()))
        assert st == 101, r
        new = b"n" * 48
        refused(hs(key=new, kid="h2"))
        write_jwks(new, "h2")
        d.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while upgrade(p, "/ws/news", bearer(hs(key=new, kid="h2")))[0] != 101:
            assert time.monotonic() < deadline, d.stderr_text()[-1500:]
            time.sleep(0.1)
        refused(hs())
        r = api(p, "POST", "/pub/news", bearer(hs(key=new, kid="h2",
                                                  sub="srv", wshub_api=True,
                                                  channels={"publish": ["*"]})),
                b"still here")
        assert r.status == 200, r
        op, data = keep.recv_message(timeout=5)
        assert data == b"still here", data
        keep.close()
    rep.run("SIGHUP re-reads the JWKS; open connections stay", reload_keys)

AUTH2 = {"plugin": plugin("auth_jwt"),
         "options": {"key_file": os.path.join(TMP, "rsa.pem")}}
with wshtest.Daemon(routes=ROUTES, auth=AUTH2) as d:
    p = d.port

    def pem_rs():
        st, ws, r = upgrade(p, "/ws/news", bearer(rs(kid=None)))
        assert st == 101, r
        ws.close()
    rep.run("RS256 with a PEM key_file", pem_rs)

    def confusion():
        import hmac
        h = {"alg": "HS256", "typ": "JWT"}
        body = "%s.%s" % (b64u(json.dumps(h).encode()),
                          b64u(json.dumps(claims()).encode()))
        sig = hmac.new(RSA_PEM, body.encode(), "sha256").digest()
        st, ws, r = upgrade(p, "/ws/news", bearer(body + "." + b64u(sig)))
        assert st == 401, r
    rep.run("HS256 signed with the PEM public key: 401", confusion)

rep.done()
