#!/usr/bin/python3
"""permessage-deflate in wshubd: negotiation edge cases over raw sockets,
Python websockets (compression on by default) for echo and broadcast, a
shared compressed form for a fan-out, and decompression bombs (close 1009,
daemon memory bounded, other clients unaffected)."""

import asyncio
import time
import zlib

import wshtest
from wshtest import RawWS, OP_TEXT, OP_BINARY, OP_CONT, OP_CLOSE, encode_frame
import wsconform

wshtest.require_daemon()
wshtest.overall_alarm(120)
rep = wshtest.Report()


def offer_ws(d, path, *offers):
    return RawWS(url=d.url(path), extra=["Sec-WebSocket-Extensions: %s" % o for o in offers])


def ext_of(ws):
    return ws.response.header_all("sec-websocket-extensions")


def status_of(d, *offers):
    try:
        ws = offer_ws(d, "/echo", *offers)
        ws.close()
        return 101
    except wshtest.HandshakeError as e:
        return e.response.status if e.response else None


with wshtest.Daemon(max_message_size="1M", max_frame_size="1M", log_level="info") as d:
    def negotiation():
        ws = offer_ws(d, "/echo", "permessage-deflate; client_max_window_bits")
        got = ext_of(ws)
        ws.close()
        if got != ["permessage-deflate; server_no_context_takeover"]:
            return "response %r" % got
        ws = offer_ws(d, "/echo", "permessage-deflate; server_max_window_bits=20")
        got = ext_of(ws)
        ws.close()
        if got:
            return "an invalid offer was accepted: %r" % got
        ws = offer_ws(d, "/echo", "x-foo, permessage-deflate; a=b",
                      "permessage-deflate; server_max_window_bits=10")
        got = ext_of(ws)
        ws.close()
        if got != ["permessage-deflate; server_no_context_takeover; server_max_window_bits=10"]:
            return "several headers: %r" % got
    rep.run("negotiation: parameters, invalid offers declined, several headers", negotiation)
    rep.run("a malformed Sec-WebSocket-Extensions header fails the handshake with 400",
            lambda: None if status_of(d, "permessage-deflate; =x") == 400 and
            status_of(d, "permessage-deflate; a=\"unterminated") == 400 else "not 400")
    rep.run("no extension without an offer", lambda: None if not ext_of(
        RawWS(url=d.url("/echo"))) else "extension without an offer")

    # ---- Python websockets: compression="deflate" is its default
    try:
        import websockets
        import websockets.client
    except ImportError:
        websockets = None
        rep.note("SKIP python websockets checks: python3-websockets is not installed")

    if websockets is not None:
        async def py_echo():
            async with websockets.client.connect(d.url("/echo"), max_size=None) as ws:
                ext = ws.response_headers.get("Sec-WebSocket-Extensions", "")
                if "permessage-deflate" not in ext:
                    return "not negotiated: %r" % ext
                for n in (10, 1000, 100000, 1 << 20):
                    text = wsconform.pmd_payload(OP_TEXT, n, n).decode()
                    await ws.send(text)
                    if await asyncio.wait_for(ws.recv(), 10) != text:
                        return "text echo of %d bytes differs" % n
                    data = wsconform.pmd_payload(OP_BINARY, n, n)
                    await ws.send(data)
                    if await asyncio.wait_for(ws.recv(), 10) != data:
                        return "binary echo of %d bytes differs" % n
                await ws.send(["fragment-1 ", "fragment-2"])
                if await asyncio.wait_for(ws.recv(), 10) != "fragment-1 fragment-2":
                    return "fragmented echo differs"
        rep.run("python websockets: compressed echo up to 1 MiB, fragmented",
                lambda: asyncio.run(py_echo()))

        async def py_broadcast():
            subs = [await websockets.client.connect(
                d.url("/broadcast"), compression=None if i % 3 == 0 else "deflate")
                for i in range(9)]
            try:
                msgs = [wsconform.pmd_payload(OP_TEXT, n, n).decode() for n in (4096, 10, 70000)]
                for m in msgs:
                    await subs[1].send(m)
                for ws in subs:
                    for m in msgs:
                        if await asyncio.wait_for(ws.recv(), 10) != m:
                            return "a subscriber got a different message"
            finally:
                for ws in subs:
                    await ws.close()
        rep.run("python websockets: broadcast to compressed and plain subscribers",
                lambda: asyncio.run(py_broadcast()))

    # ---- a fan-out is compressed once: every subscriber gets the same bytes
    def shared_form():
        subs = [offer_ws(d, "/broadcast", "permessage-deflate") for _ in range(5)]
        plain = RawWS(url=d.url("/broadcast"))
        try:
            msg = wsconform.pmd_payload(OP_TEXT, 4096, 1)
            plain.send_frame(OP_TEXT, msg)
            frames = [s.recv_frame(5) for s in subs]
            if any(f.rsv != 4 for f in frames):
                return "a compressed subscriber got an uncompressed frame"
            if len({f.payload for f in frames}) != 1:
                return "subscribers got different compressed forms"
            if zlib.decompressobj(-15).decompress(frames[0].payload + wsconform.TAIL) != msg:
                return "compressed form does not inflate to the message"
            if len(frames[0].payload) * 2 > len(msg):
                return "poor compression: %d of %d" % (len(frames[0].payload), len(msg))
            f = plain.recv_frame(5)
            if f.rsv != 0 or f.payload != msg:
                return "the plain subscriber got %r" % f
        finally:
            for s in subs + [plain]:
                s.close()
    rep.run("a broadcast's compressed form is identical for every subscriber", shared_form)

    # ---- decompression bombs
    def bomb(fragmented):
        z = zlib.compressobj(9, zlib.DEFLATED, -15)
        payload = z.compress(b"\0" * (64 << 20)) + z.flush(zlib.Z_SYNC_FLUSH)
        payload = payload[:-4]
        other = offer_ws(d, "/echo", "permessage-deflate")
        ws = offer_ws(d, "/echo", "permessage-deflate")
        rss0 = d.rss_kib()
        try:
            if fragmented:
                frames = [encode_frame(OP_BINARY if k == 0 else OP_CONT, payload[k:k + 4096],
                                       fin=k + 4096 >= len(payload), rsv=4 if k == 0 else 0)
                          for k in range(0, len(payload), 4096)]
                ws.send_raw(b"".join(frames))
            else:
                ws.send_raw(encode_frame(OP_BINARY, payload, rsv=4))
            code, reason, _ = ws.expect_close(5)
            if code != 1009:
                return "close %r (%r), expected 1009" % (code, reason)
            rss1 = d.rss_kib()
            if rss0 is not None and rss1 is not None and rss1 - rss0 > wshtest.rss_bound(16 * 1024):
                return "daemon grew by %d KiB" % (rss1 - rss0)
            # the other client is fine
            other.send_frame(OP_TEXT, b"still here")
            f = other.recv_frame(5)
            if f.payload != b"still here":
                return "other client got %r" % f
        finally:
            ws.close()
            other.close()
    rep.run("bomb: %d KiB inflating to 64 MiB in one frame -> 1009" % (
        len(zlib.compress(b"\0" * (64 << 20), 9)) >> 10), lambda: bomb(False))
    rep.run("bomb: the same in 4 KiB fragments -> 1009", lambda: bomb(True))

    def many_bombs():
        socks = [offer_ws(d, "/echo", "permessage-deflate") for _ in range(20)]
        z = zlib.compressobj(9, zlib.DEFLATED, -15)
        payload = (z.compress(b"A" * (8 << 20)) + z.flush(zlib.Z_SYNC_FLUSH))[:-4]
        t0 = time.monotonic()
        for s in socks:
            s.send_raw(encode_frame(OP_TEXT, payload, rsv=4))
        bad = [s.expect_close(5)[0] for s in socks]
        for s in socks:
            s.close()
        if any(c != 1009 for c in bad):
            return "codes %r" % bad
        rep.note("20 bombs answered in %.2fs" % (time.monotonic() - t0))
    rep.run("20 concurrent bombs all get 1009", many_bombs)

    def bad_data():
        ws = offer_ws(d, "/echo", "permessage-deflate")
        ws.send_raw(encode_frame(OP_TEXT, b"\xff\xfe\xfd", rsv=4))
        code = ws.expect_close(5)[0]
        ws.close()
        return None if code == 1007 else "close %r" % code
    rep.run("data that is not DEFLATE -> 1007", bad_data)

    def rsv1_without_extension():
        ws = RawWS(url=d.url("/echo"))
        ws.send_raw(encode_frame(OP_TEXT, b"\xf2\x48\xcd\xc9\xc9\x07\x00", rsv=4))
        code = ws.expect_close(5)[0]
        ws.close()
        return None if code == 1002 else "close %r" % code
    rep.run("RSV1 without the extension -> 1002", rsv1_without_extension)

with wshtest.Daemon(log_level="info", deflate=False) as d:
    rep.run("deflate = false: offers are ignored", lambda: None if not ext_of(
        offer_ws(d, "/echo", "permessage-deflate")) else "extension accepted")
with wshtest.Daemon(log_level="info", routes=[{"path": "/echo", "handler": "echo",
                                               "deflate": False}]) as d:
    rep.run("route deflate = false: offers are ignored", lambda: None if not ext_of(
        offer_ws(d, "/echo", "permessage-deflate")) else "extension accepted")
rep.done()
