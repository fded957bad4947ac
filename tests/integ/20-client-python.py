#!/usr/bin/python3
"""The wshub client against a server nobody here wrote: python3-websockets.
Text, binary, fragmented messages both ways, ping/pong, close codes,
subprotocols, headers, permessage-deflate with its parameters."""

import asyncio
import os
import re
import tempfile

import websockets

import time

import wshtest
from wshclient import PyServer, run_cli


def wait_for(pred, secs=5.0):
    end = time.monotonic() + secs
    while time.monotonic() < end and not pred():
        time.sleep(0.02)
    return pred()

wshtest.overall_alarm(240)
rep = wshtest.Report()
got = {}


async def handler(ws, path):
    got.setdefault("paths", []).append(path)
    got["headers"] = dict(ws.request_headers)
    got["subprotocol"] = ws.subprotocol
    if path == "/binary":
        await ws.send(bytes(range(40)))
    elif path == "/fragmented":
        await ws.send(["frag", "men", "ted"])
    elif path == "/ping":
        await asyncio.wait_for(ws.ping(b"are-you-there"), 5)
        await ws.send("pong-ok")
    elif path == "/close4000":
        await ws.close(4000, "bye now")
        return
    elif path == "/big":
        await ws.send("z" * 200000)
    try:
        async for m in ws:
            got.setdefault("msgs", []).append(m)
            await ws.send(m)
    finally:
        got["close_code"] = ws.close_code
        got["close_reason"] = ws.close_reason


def msgs(out):
    return [l.split("< ", 1)[1] for l in out.splitlines() if "] < " in l]


with PyServer(handler, compression=None, subprotocols=["chat.v1"]) as s:
    rc, out, err = run_cli(["connect", "-n", "2", s.url("/echo")],
                           b"hello\nworld\n")
    rep.check("text messages echoed", rc == 0 and msgs(out) == ["hello", "world"],
              out + err)
    rep.check("output has timestamps",
              re.search(r"^\[\d\d:\d\d:\d\d\.\d{3}\] < hello$", out, re.M), out)

    rc, out, err = run_cli(["connect", "-n", "1", s.url("/binary")], b"")
    rep.check("binary message received",
              "[binary 40 bytes] 000102030405" in out, out)

    rc, out, err = run_cli(["connect", "-n", "1", s.url("/fragmented")], b"")
    rep.check("fragmented message assembled", msgs(out) == ["fragmented"], out)

    rc, out, err = run_cli(["connect", "-n", "1", s.url("/ping")], b"")
    rep.check("server ping answered with pong", msgs(out) == ["pong-ok"] and
              "ping (13 bytes)" in out, out + err)

    rc, out, err = run_cli(["connect", "-n", "1", s.url("/echo")],
                           b"/ping abc\nx\n")
    rep.check("client ping gets a pong", "pong (3 bytes)" in out, out)

    rc, out, err = run_cli(["connect", "-n", "1", "--no-reconnect",
                            s.url("/close4000")], b"")
    rep.check("server close code and reason reported",
              "closed: code 4000, reason: bye now" in out and "(by us)" not in out,
              out + err)

    got.clear()
    rc, out, err = run_cli(["connect", "-n", "1", s.url("/echo")],
                           b"a\n/close 4001 done here\n")
    rep.check("client close code and reason sent",
              wait_for(lambda: "close_code" in got) and got.get("close_code") == 4001 and got.get("close_reason") == "done here",
              repr(got))

    with tempfile.NamedTemporaryFile() as f:
        data = os.urandom(100000)
        f.write(data)
        f.flush()
        got.clear()
        rc, out, err = run_cli(["send", "-b", "--fragment", "7000", s.url("/echo"), f.name])
        rep.check("fragmented binary send arrives whole",
                  rc == 0 and wait_for(lambda: got.get("msgs") == [data]), err)
        got.clear()
        txt = ("\u00e9t\u00e9 " * 5000).encode()
        f.seek(0)
        f.truncate()
        f.write(txt)
        f.flush()
        rc, out, err = run_cli(["send", "--fragment", "333", s.url("/echo"), f.name])
        rep.check("fragmented text split inside characters arrives whole",
                  rc == 0 and wait_for(lambda: got.get("msgs") == [txt.decode()]), err)

    rc, out, err = run_cli(["connect", "-n", "1", s.url("/big")], b"")
    rep.check("200 kB message received", msgs(out) == ["z" * 200000], err)

    got.clear()
    rc, out, err = run_cli(["connect", "-n", "1", "-P", "chat.v1", "-H",
                            "X-Token: abc", s.url("/echo?q=1")], b"hi\n")
    rep.check("subprotocol negotiated", "subprotocol chat.v1" in out and
              got.get("subprotocol") == "chat.v1", out)
    rep.check("extra header sent", got.get("headers", {}).get("x-token") == "abc",
              repr(got.get("headers")))
    rep.check("query kept in the request", "/echo?q=1" in got.get("paths", []),
              repr(got.get("paths")))
    rc, out, err = run_cli(["connect", "--no-reconnect", "-P", "other",
                            s.url("/echo")], b"")
    rep.check("no subprotocol chosen when none matches",
              "connected" in out and "subprotocol" not in out, out + err)

# permessage-deflate with each parameter the server may answer with.
for name, ext in [
        ("defaults", None),
        ("server_no_context_takeover", dict(server_no_context_takeover=True)),
        ("client_no_context_takeover", dict(client_no_context_takeover=True)),
        ("server_max_window_bits=9", dict(server_max_window_bits=9)),
        ("client_max_window_bits=10", dict(client_max_window_bits=10)),
]:
    from websockets.extensions import permessage_deflate as pmd
    exts = [pmd.ServerPerMessageDeflateFactory(**ext)] if ext else None
    kw = {"extensions": exts} if exts else {}
    with PyServer(handler, **kw) as s:
        lines = [("msg %d " % i) + ("abcdefgh" * (20 + i)) for i in range(5)]
        rc, out, err = run_cli(["connect", "-n", "5", "-v", s.url("/echo")],
                               ("\n".join(lines) + "\n").encode())
        rep.check("permessage-deflate %s: negotiated" % name,
                  "extensions: permessage-deflate" in out, out)
        rep.check("permessage-deflate %s: messages round-trip" % name,
                  msgs(out) == lines, out + err)
        m = re.search(r"sent 5 msgs (\d+) bytes", err)
        rep.check("permessage-deflate %s: client compressed" % name,
                  m is not None and int(m.group(1)) < sum(len(l) for l in lines) // 2,
                  err)

with PyServer(handler) as s:
    rc, out, err = run_cli(["connect", "-n", "1", "-v", "--no-deflate",
                            s.url("/echo")], b"plain\n")
    rep.check("--no-deflate offers no extension",
              "extensions:" not in out and msgs(out) == ["plain"], out)

rep.done()
