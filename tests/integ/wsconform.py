#!/usr/bin/python3
"""wsconform: a WebSocket server conformance suite (RFC 6455), run against an
echo endpoint.

Its cases are modelled on the categories and case numbering of the Autobahn
testsuite's fuzzingclient (1 framing, 2 ping/pong, 3 reserved bits, 4 opcodes,
5 fragmentation, 6 UTF-8, 7 close handling, 9 limits/performance, 12
permessage-deflate echo of messages of growing sizes, 13 the same under
each combination of negotiated parameters); the implementation here is
independent (its permessage-deflate side is Python's zlib). Verdicts are
strict:

- expected echoes/pongs must arrive exactly, in order, and nothing else;
- a protocol violation must be answered with a close frame carrying 1002
  (1007 for invalid UTF-8) -- dropping TCP without a close frame fails;
- fail-fast cases (6.4.x) require the close before the rest of the message
  is sent;
- server frames must be unmasked, RSV=0, control frames unfragmented and
  <= 125 bytes, close codes valid, nothing sent after the server's close;
- after the close handshake the server must close the TCP connection;
- 12/13: the server must accept the offer with a response RFC 7692 allows
  for it, set RSV1 only on the first frame of a message, honour the window
  and context-takeover parameters it agreed to (we inflate with exactly
  those), and compress at least the larger echoes.

Usage: wsconform.py ws://127.0.0.1:PORT/echo [--cases 1.*,6.4.*] [-v] [--list]

The transport is the URL's scheme: ws:// is HTTP/1.1 Upgrade; h2c://
(cleartext, prior knowledge) and h2s:// (TLS, ALPN h2) carry every case on
an extended CONNECT stream (RFC 8441), one connection per case (h2ws.py).
"""

import argparse
import fnmatch
import os
import socket
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wshtest import (RawWS, encode_frame, close_payload, OP_CONT, OP_TEXT,  # noqa: E402
                     OP_BINARY, OP_CLOSE, OP_PING, OP_PONG)

OK = "ok"          # runner closes with 1000 after the expected items
FRAME = "frame"    # chop mode: one write per frame, small pause after each
OCTET = 1          # chop mode: one write per byte

FRAME_DELAY = 0.02
OCTET_DELAY = 0.0005


class Case:
    def __init__(self, cid, desc, fn, expect=(), close=OK, timeout=10.0,
                 expect_any=None, offer=None, accept=None, min_compressed=0):
        self.offer = offer                # Sec-WebSocket-Extensions values
        self.accept = accept              # check of the agreed parameters
        self.min_compressed = min_compressed
        self.id = cid
        self.desc = desc
        self.fn = fn
        self.expect = list(expect)
        self.expect_any = expect_any      # list of alternative item lists
        self.close = close                # OK or set of acceptable codes
        self.timeout = timeout

    @property
    def category(self):
        return self.id.split(".")[0]


def M(op, payload):
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return ("msg", op, payload)


def P(payload):
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return ("pong", payload)


def F(opcode, payload=b"", fin=True, rsv=0, length=None):
    return encode_frame(opcode, payload, fin=fin, rsv=rsv, length=length)


def short(b, n=48):
    if isinstance(b, tuple):
        if b[0] == "msg":
            return "msg(op=%d, %s)" % (b[1], short(b[2], n))
        return "pong(%s)" % short(b[1], n)
    if len(b) > n:
        return "%r...(%d bytes)" % (b[:n], len(b))
    return repr(b)


# ---------------------------------------------------------------------------
# per-case runner

class Run:
    def __init__(self, url, case, verbose=False):
        self.url = url
        self.case = case
        self.verbose = verbose
        self.items = []           # received messages and pongs, in order
        self.errors = []          # verdict problems
        self.close_frame = None   # (code, reason) of the server's close
        self.close_at = None      # "early" when closed before a checkpoint
        self.sent_close = False
        self.frag_op = None
        self.frag_parts = []
        self.after_close = []
        self.ws = None
        self.pmd = None           # PMD when permessage-deflate was agreed
        self.frag_z = False       # the message being received is compressed
        self.compressed = 0       # compressed messages received

    def log(self, msg):
        if self.verbose:
            sys.stdout.write("#     [%s] %s\n" % (self.case.id, msg))

    # ---- sending, as cases use it
    def send(self, *frames, chop=None, delay=None):
        if self.close_frame is not None:
            return
        if chop == FRAME:
            for fr in frames:
                self.ws.send_raw(fr)
                time.sleep(FRAME_DELAY if delay is None else delay)
        elif chop:
            self.ws.send_raw(b"".join(frames), chop=chop,
                             delay=OCTET_DELAY if delay is None else delay)
        else:
            self.ws.send_raw(b"".join(frames))
        if chop is None and delay:
            time.sleep(delay)

    def send_msg(self, op, data, frag=None, compress=True, chop=None):
        """Send one message, compressed when deflate was agreed, in
        fragments of |frag| bytes of (compressed) payload."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        z = compress and self.pmd is not None
        payload = self.pmd.compress(data) if z else data
        if not frag or len(payload) <= frag:
            self.send(F(op, payload, rsv=4 if z else 0), chop=chop)
            return
        frames = []
        for k in range(0, len(payload), frag):
            frames.append(F(op if k == 0 else OP_CONT, payload[k:k + frag],
                            fin=k + frag >= len(payload), rsv=4 if z and k == 0 else 0))
        self.send(*frames, chop=chop)

    def send_close(self, code=1000, reason=b"", raw=None):
        payload = raw if raw is not None else close_payload(code, reason)
        self.sent_close = True
        self.send(F(OP_CLOSE, payload))

    def sleep(self, s):
        time.sleep(s)

    def expect_no_close(self, wait):
        """The server must not fail the connection yet."""
        self.read(wait, until=lambda: False)
        if self.close_frame is not None:
            self.errors.append("server closed (code %r) before the invalid part was sent"
                               % (self.close_frame[0],))
            self.close_at = "early"

    def expect_close_now(self, codes, wait=2.0):
        """Fail-fast checkpoint: the close must arrive now, before we send more."""
        self.read(wait, until=lambda: self.close_frame is not None)
        if self.close_frame is None:
            self.errors.append("no close frame within %.1fs of the invalid data "
                               "(not fail-fast; expected close %s before the rest "
                               "of the message)" % (wait, sorted(codes, key=str)))

    def roundtrip(self, op, payload, timeout=5.0):
        """Send one message and wait for its echo (used by 9.7/9.8)."""
        n = len(self.items)
        self.send(F(op, payload))
        self.read(timeout, until=lambda: len(self.items) > n or self.close_frame)
        if len(self.items) <= n:
            self.errors.append("no echo within %.1fs" % timeout)
            return False
        got = self.items.pop()
        if got != ("msg", op, payload):
            self.errors.append("wrong echo: got %s, expected %s"
                               % (short(got), short(("msg", op, payload))))
            return False
        return True

    # ---- receiving
    def read(self, timeout, until):
        deadline = time.monotonic() + timeout
        while not until():
            if self.ws.eof:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                f = self.ws.recv_frame(remaining)
            except socket.timeout:
                return
            if f is None:
                self.log("TCP closed by server")
                return
            self.on_frame(f)

    def on_frame(self, f):
        self.log("recv %r" % f)
        if self.close_frame is not None:
            self.after_close.append(f)
            return
        if f.masked:
            self.errors.append("server sent a masked frame: %r" % f)
        if f.rsv and not (f.rsv == 4 and self.pmd is not None
                          and f.opcode in (OP_TEXT, OP_BINARY)):
            self.errors.append("server sent a frame with RSV bits %d set: %r" % (f.rsv, f))
        if f.opcode >= 8:
            if not f.fin:
                self.errors.append("server sent a fragmented control frame: %r" % f)
            if len(f.payload) > 125:
                self.errors.append("server sent a control frame > 125 bytes: %r" % f)
        if f.opcode == OP_PING:
            self.ws.send_raw(F(OP_PONG, f.payload))
        elif f.opcode == OP_PONG:
            self.items.append(("pong", f.payload))
        elif f.opcode == OP_CLOSE:
            code = f.close_code()
            reason = f.close_reason()
            if len(f.payload) == 1:
                self.errors.append("server close frame with a 1-byte payload")
            elif code is not None and not valid_close_code(code):
                self.errors.append("server sent invalid close code %d" % code)
            try:
                reason.decode("utf-8")
            except UnicodeDecodeError:
                self.errors.append("server close reason is not UTF-8: %r" % reason)
            self.close_frame = (code, reason)
        elif f.opcode in (OP_TEXT, OP_BINARY):
            if self.frag_op is not None:
                self.errors.append("server started a new message inside a fragmented one")
            self.frag_z = f.rsv == 4 and self.pmd is not None
            if f.fin:
                self.deliver(f.opcode, f.payload)
            else:
                self.frag_op, self.frag_parts = f.opcode, [f.payload]
        elif f.opcode == OP_CONT:
            if self.frag_op is None:
                self.errors.append("server sent a continuation frame with nothing to continue")
                return
            self.frag_parts.append(f.payload)
            if f.fin:
                op, data = self.frag_op, b"".join(self.frag_parts)
                self.frag_op, self.frag_parts = None, []
                self.deliver(op, data)
        else:
            self.errors.append("server sent reserved opcode %d" % f.opcode)

    def deliver(self, op, data):
        if self.frag_z:
            self.frag_z = False
            self.compressed += 1
            try:
                data = self.pmd.decompress(data)
            except zlib.error as e:
                self.errors.append("cannot inflate a compressed message with the agreed "
                                   "parameters %s: %s" % (self.pmd, e))
                return
        if op == OP_TEXT:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                self.errors.append("server sent a text message that is not UTF-8")
        self.items.append(("msg", op, data))

    # ---- the whole case
    def execute(self):
        c = self.case
        t0 = time.monotonic()
        try:
            extra = ["Sec-WebSocket-Extensions: %s" % o for o in c.offer or []]
            if self.url.startswith(("h2c://", "h2s://")):
                # the same frames on an HTTP/2 stream (RFC 8441)
                import h2ws
                self.ws = h2ws.H2WS(url=self.url, timeout=5.0, extra=extra)
            else:
                self.ws = RawWS(url=self.url, timeout=5.0, extra=extra)
        except Exception as e:
            return ["handshake failed: %s" % e]
        try:
            if c.offer:
                resp = self.ws.response.header_all("sec-websocket-extensions")
                try:
                    self.pmd = PMD.from_response(c.offer, resp)
                except ValueError as e:
                    self.errors.append("bad extension response %r: %s" % (resp, e))
                    return self.errors
                if self.pmd is None:
                    self.errors.append("server did not accept permessage-deflate "
                                       "(offer %r)" % (c.offer,))
                    return self.errors
                if c.accept is not None:
                    why = c.accept(self.pmd)
                    if why:
                        self.errors.append("agreed parameters %s: %s" % (self.pmd, why))
            c.fn(self)
            expected_alts = c.expect_any or [c.expect]
            need = max(len(a) for a in expected_alts)
            if c.close == OK:
                self.read(c.timeout, until=lambda: len(self.items) >= need
                          or self.close_frame is not None)
                if self.close_frame is not None:
                    self.errors.append("server closed the connection unexpectedly (code %r, "
                                       "reason %r)" % self.close_frame)
                else:
                    # nothing more must come: anything before our close's answer counts
                    self.send_close(1000)
                    self.read(5.0, until=lambda: self.close_frame is not None)
                    if self.close_frame is None:
                        self.errors.append("no close frame in answer to our close 1000%s"
                                           % (" (TCP closed)" if self.ws.eof else ""))
                    elif self.close_frame[0] != 1000:
                        self.errors.append("answer to close 1000 has code %r"
                                           % (self.close_frame[0],))
            else:
                self.read(c.timeout, until=lambda: self.close_frame is not None)
                if self.close_frame is None:
                    self.errors.append("expected close %s, got %s" % (
                        "/".join(str(x) if x is not None else "(empty)"
                                 for x in sorted(c.close, key=lambda v: v or 0)),
                        "TCP close without close frame" if self.ws.eof else "nothing (timeout)"))
                elif self.close_frame[0] not in c.close:
                    self.errors.append("expected close code %s, got %r (reason %r)" % (
                        "/".join(str(x) for x in sorted(c.close, key=lambda v: v or 0)),
                        self.close_frame[0], self.close_frame[1]))
                if self.close_frame is not None and not self.sent_close:
                    code = self.close_frame[0]
                    self.ws.send_raw(F(OP_CLOSE, close_payload(
                        code if code is not None and valid_close_code(code) else 1000)))
                    self.sent_close = True
            # after the close handshake the server closes TCP
            if self.close_frame is not None and not self.ws.eof:
                deadline = time.monotonic() + 3.0
                while not self.ws.eof and time.monotonic() < deadline:
                    try:
                        f = self.ws.recv_frame(max(0.01, deadline - time.monotonic()))
                    except socket.timeout:
                        break
                    if f is not None:
                        self.after_close.append(f)
                if not self.ws.eof:
                    self.errors.append("server did not close TCP within 3s after the "
                                       "close handshake")
            if self.after_close:
                self.errors.append("server sent frames after its close frame: %s"
                                   % self.after_close[:3])
            if self.frag_op is not None:
                self.errors.append("server left a fragmented message unfinished")
            if self.compressed < c.min_compressed:
                self.errors.append("only %d of the echoes came compressed, expected at "
                                   "least %d" % (self.compressed, c.min_compressed))
            if self.items not in expected_alts:
                self.errors.append("received %s, expected %s" % (
                    "[" + ", ".join(short(i) for i in self.items[:6])
                    + (", ... %d items" % len(self.items) if len(self.items) > 6 else "") + "]",
                    " or ".join("[" + ", ".join(short(i) for i in a[:6])
                                + (", ... %d items" % len(a) if len(a) > 6 else "") + "]"
                                for a in expected_alts)))
        except Exception as e:
            import traceback
            self.errors.append("exception: %s: %s\n%s" % (type(e).__name__, e,
                                                          traceback.format_exc()))
        finally:
            self.ws.close()
        self.elapsed = time.monotonic() - t0
        return self.errors


def valid_close_code(code):
    if 1000 <= code <= 1003 or 1007 <= code <= 1011:
        return True
    if 1012 <= code <= 1014:   # registered with IANA after RFC 6455
        return True
    return 3000 <= code <= 4999


# ---------------------------------------------------------------------------
# the cases

FAIL = {1002}
FAIL_UTF8 = {1007}

CASES = []


def case(cid, desc, expect=(), close=OK, timeout=10.0, expect_any=None):
    def deco(fn):
        CASES.append(Case(cid, desc, fn, expect, close, timeout, expect_any))
        return fn
    return deco


def add(cid, desc, fn, expect=(), close=OK, timeout=10.0, expect_any=None, **kw):
    CASES.append(Case(cid, desc, fn, expect, close, timeout, expect_any, **kw))


# ---------------------------------------------------------------------------
# permessage-deflate, the client's side (RFC 7692), with Python's zlib

TAIL = b"\x00\x00\xff\xff"
PMD_PARAMS = ("server_no_context_takeover", "client_no_context_takeover",
              "server_max_window_bits", "client_max_window_bits")


def parse_extensions(values):
    """[(name, {param: value or None})] of header values (no quoted commas)."""
    out = []
    for v in values:
        for elem in v.split(","):
            if not elem.strip():
                continue
            parts = [p.strip() for p in elem.split(";")]
            params = {}
            for p in parts[1:]:
                if not p:
                    raise ValueError("empty parameter")
                k, eq, val = p.partition("=")
                k = k.strip().lower()
                if k in params:
                    raise ValueError("parameter %s repeated" % k)
                params[k] = val.strip().strip('"') if eq else None
            out.append((parts[0].lower(), params))
    return out


def _bits(v):
    if v is None or not v.isdigit() or v.startswith("0") or not 8 <= int(v) <= 15:
        raise ValueError("bad window bits %r" % (v,))
    return int(v)


class PMD:
    """The agreed parameters and the client's compressor/decompressor."""

    def __init__(self, params):
        self.params = params
        self.snct = "server_no_context_takeover" in params
        self.cnct = "client_no_context_takeover" in params
        self.sbits = _bits(params["server_max_window_bits"]) \
            if "server_max_window_bits" in params else 15
        self.cbits = _bits(params["client_max_window_bits"]) \
            if "client_max_window_bits" in params else 15
        self.comp = None
        self.decomp = None

    def __repr__(self):
        return "{%s}" % "; ".join(k if v is None else "%s=%s" % (k, v)
                                  for k, v in self.params.items()) or "{}"

    @classmethod
    def from_response(cls, offers, values):
        """Validate the response against our offers as a client must
        (RFC 7692 5.1, 7.1); None when the server declined."""
        got = parse_extensions(values)
        if not got:
            return None
        if len(got) > 1:
            raise ValueError("more than one extension accepted")
        name, params = got[0]
        if name != "permessage-deflate":
            raise ValueError("extension %r was not offered" % name)
        for k, v in params.items():
            if k not in PMD_PARAMS:
                raise ValueError("unknown parameter %r" % k)
            if k.endswith("takeover") and v is not None:
                raise ValueError("%s with a value" % k)
        # the response answers one of our offers: some offer must allow it
        for o_name, o in parse_extensions(offers):
            if o_name != "permessage-deflate" or any(k not in PMD_PARAMS for k in o):
                continue
            try:
                if "server_max_window_bits" in o and (
                        "server_max_window_bits" not in params or
                        _bits(params["server_max_window_bits"]) >
                        _bits(o["server_max_window_bits"])):
                    continue
                if "client_max_window_bits" in params:
                    if "client_max_window_bits" not in o:
                        continue
                    if o["client_max_window_bits"] is not None and \
                            _bits(params["client_max_window_bits"]) > \
                            _bits(o["client_max_window_bits"]):
                        continue
            except ValueError:
                continue       # an offer the server had to decline
            return cls(params)
        raise ValueError("the response fits none of our offers")

    def compress(self, data):
        if self.comp is None or self.cnct:
            # zlib cannot make an 8-bit window: Huffman only has no matches
            huff = self.cbits == 8
            self.comp = zlib.compressobj(6, zlib.DEFLATED, -max(self.cbits, 9), 8,
                                         zlib.Z_HUFFMAN_ONLY if huff else
                                         zlib.Z_DEFAULT_STRATEGY)
        out = self.comp.compress(data) + self.comp.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(TAIL)
        return out[:-4]

    def decompress(self, data):
        # exactly the agreed window: a server that exceeds it fails here
        if self.decomp is None or self.snct:
            self.decomp = zlib.decompressobj(-self.sbits)
        return self.decomp.decompress(data + TAIL)


def build_cases():
    # ---- 1 framing
    for sub, op, fill in ((1, OP_TEXT, b"*"), (2, OP_BINARY, b"\xfe")):
        kind = "text" if op == OP_TEXT else "binary"
        for i, n in enumerate((0, 125, 126, 127, 128, 65535, 65536), 1):
            data = fill * n
            add("1.%d.%d" % (sub, i), "%s message, payload length %d" % (kind, n),
                lambda r, d=data, o=op: r.send(F(o, d)), [M(op, data)])
        data = fill * 65536
        add("1.%d.8" % sub, "%s message, payload length 65536, written in 997-byte chops" % kind,
            lambda r, d=data, o=op: r.send(F(o, d), chop=997), [M(op, data)])

    # ---- 2 ping/pong
    add("2.1", "ping without payload", lambda r: r.send(F(OP_PING)), [P(b"")])
    add("2.2", "ping with small text payload",
        lambda r: r.send(F(OP_PING, "Hello, world!")), [P("Hello, world!")])
    bin8 = b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff"
    add("2.3", "ping with small binary payload", lambda r: r.send(F(OP_PING, bin8)), [P(bin8)])
    add("2.4", "ping with 125-byte payload",
        lambda r: r.send(F(OP_PING, b"\xfe" * 125)), [P(b"\xfe" * 125)])
    add("2.5", "ping with 126-byte payload (too long for a control frame)",
        lambda r: r.send(F(OP_PING, b"\xfe" * 126)), [], FAIL)
    add("2.6", "ping with 125-byte payload, written one byte at a time",
        lambda r: r.send(F(OP_PING, b"\xfe" * 125), chop=OCTET), [P(b"\xfe" * 125)])
    add("2.7", "unsolicited pong without payload", lambda r: r.send(F(OP_PONG)), [])
    add("2.8", "unsolicited pong with payload",
        lambda r: r.send(F(OP_PONG, "unsolicited pong payload")), [])
    add("2.9", "unsolicited pong with payload, then ping with payload",
        lambda r: r.send(F(OP_PONG, "unsolicited pong payload"), F(OP_PING, "ping payload")),
        [P("ping payload")])
    pings = ["payload-%d" % i for i in range(10)]
    add("2.10", "10 pings with payload",
        lambda r: r.send(*[F(OP_PING, p) for p in pings]), [P(p) for p in pings])
    add("2.11", "10 pings with payload, written one byte at a time",
        lambda r: r.send(*[F(OP_PING, p) for p in pings], chop=OCTET), [P(p) for p in pings])

    # ---- 3 reserved bits
    hw = "Hello, world!"
    add("3.1", "text message with RSV=1", lambda r: r.send(F(OP_TEXT, hw, rsv=1)), [], FAIL)
    add("3.2", "text message, then text with RSV=2, then ping (one write)",
        lambda r: r.send(F(OP_TEXT, hw), F(OP_TEXT, hw, rsv=2), F(OP_PING, hw)),
        [M(OP_TEXT, hw)], FAIL)
    add("3.3", "text message, then text with RSV=3, then ping (frame by frame)",
        lambda r: r.send(F(OP_TEXT, hw), F(OP_TEXT, hw, rsv=3), F(OP_PING, hw), chop=FRAME),
        [M(OP_TEXT, hw)], FAIL)
    add("3.4", "text message, then text with RSV=4, then ping (byte by byte)",
        lambda r: r.send(F(OP_TEXT, hw), F(OP_TEXT, hw, rsv=4), F(OP_PING, hw), chop=OCTET),
        [M(OP_TEXT, hw)], FAIL)
    add("3.5", "binary message with RSV=5",
        lambda r: r.send(F(OP_BINARY, bytes(range(256)), rsv=5)), [], FAIL)
    add("3.6", "ping with RSV=6", lambda r: r.send(F(OP_PING, hw, rsv=6)), [], FAIL)
    add("3.7", "close with RSV=7",
        lambda r: r.send(F(OP_CLOSE, close_payload(1000), rsv=7)), [], FAIL)

    # ---- 4 opcodes
    for sub, ops in ((1, (3, 4, 5, 6, 7)), (2, (11, 12, 13, 14, 15))):
        kind = "non-control" if sub == 1 else "control"
        o = ops
        add("4.%d.1" % sub, "reserved %s opcode %d, empty payload" % (kind, o[0]),
            lambda r, x=o[0]: r.send(F(x)), [], FAIL)
        add("4.%d.2" % sub, "reserved %s opcode %d with payload" % (kind, o[1]),
            lambda r, x=o[1]: r.send(F(x, "reserved opcode payload")), [], FAIL)
        add("4.%d.3" % sub, "text, reserved %s opcode %d, ping" % (kind, o[2]),
            lambda r, x=o[2]: r.send(F(OP_TEXT, hw), F(x), F(OP_PING, hw)),
            [M(OP_TEXT, hw)], FAIL)
        add("4.%d.4" % sub, "text, reserved %s opcode %d with payload, ping (frame by frame)"
            % (kind, o[3]),
            lambda r, x=o[3]: r.send(F(OP_TEXT, hw), F(x, "reserved opcode payload"),
                                     F(OP_PING, hw), chop=FRAME),
            [M(OP_TEXT, hw)], FAIL)
        add("4.%d.5" % sub, "text, reserved %s opcode %d with payload, ping (byte by byte)"
            % (kind, o[4]),
            lambda r, x=o[4]: r.send(F(OP_TEXT, hw), F(x, "reserved opcode payload"),
                                     F(OP_PING, hw), chop=OCTET),
            [M(OP_TEXT, hw)], FAIL)

    # ---- 5 fragmentation
    add("5.1", "ping fragmented into 2 frames",
        lambda r: r.send(F(OP_PING, "fragment1", fin=False), F(OP_CONT, "fragment2")),
        [], FAIL)
    add("5.2", "pong fragmented into 2 frames",
        lambda r: r.send(F(OP_PONG, "fragment1", fin=False), F(OP_CONT, "fragment2")),
        [], FAIL)
    two = (F(OP_TEXT, "fragment1", fin=False), F(OP_CONT, "fragment2"))
    for cid, chop, how in (("5.3", None, "one write"), ("5.4", FRAME, "frame by frame"),
                           ("5.5", OCTET, "byte by byte")):
        add(cid, "text message in 2 fragments (%s)" % how,
            lambda r, c=chop: r.send(*two, chop=c), [M(OP_TEXT, "fragment1fragment2")])
    withping = (F(OP_TEXT, "fragment1", fin=False), F(OP_PING, "ping payload"),
                F(OP_CONT, "fragment2"))
    for cid, chop, how in (("5.6", None, "one write"), ("5.7", FRAME, "frame by frame"),
                           ("5.8", OCTET, "byte by byte")):
        add(cid, "text message in 2 fragments with a ping between them (%s)" % how,
            lambda r, c=chop: r.send(*withping, chop=c),
            [P("ping payload"), M(OP_TEXT, "fragment1fragment2")])
    nothing_fin = (F(OP_CONT, "non-continuation payload"), F(OP_TEXT, hw))
    for cid, chop, how in (("5.9", None, "one write"), ("5.10", FRAME, "frame by frame"),
                           ("5.11", OCTET, "byte by byte")):
        add(cid, "continuation frame (FIN=1) with nothing to continue, then text (%s)" % how,
            lambda r, c=chop: r.send(*nothing_fin, chop=c), [], FAIL)
    nothing_nofin = (F(OP_CONT, "non-continuation payload", fin=False), F(OP_TEXT, hw))
    for cid, chop, how in (("5.12", None, "one write"), ("5.13", FRAME, "frame by frame"),
                           ("5.14", OCTET, "byte by byte")):
        add(cid, "continuation frame (FIN=0) with nothing to continue, then text (%s)" % how,
            lambda r, c=chop: r.send(*nothing_nofin, chop=c), [], FAIL)
    add("5.15", "text in 2 fragments, then continuation (FIN=0) with nothing to continue, "
        "then text",
        lambda r: r.send(F(OP_TEXT, "fragment1", fin=False), F(OP_CONT, "fragment2"),
                         F(OP_CONT, "fragment3", fin=False), F(OP_TEXT, "fragment4")),
        [M(OP_TEXT, "fragment1fragment2")], FAIL)
    seq16 = (F(OP_CONT, "fragment1", fin=False), F(OP_TEXT, "fragment2", fin=False),
             F(OP_CONT, "fragment3"))
    add("5.16", "twice: continuation (FIN=0) with nothing to continue, then text in 2 "
        "fragments", lambda r: r.send(*(seq16 + seq16)), [], FAIL)
    seq17 = (F(OP_CONT, "fragment1"), F(OP_TEXT, "fragment2", fin=False),
             F(OP_CONT, "fragment3"))
    add("5.17", "twice: continuation (FIN=1) with nothing to continue, then text in 2 "
        "fragments", lambda r: r.send(*(seq17 + seq17)), [], FAIL)
    add("5.18", "text in 2 fragments where both frames have opcode text",
        lambda r: r.send(F(OP_TEXT, "fragment1", fin=False), F(OP_TEXT, "fragment2")),
        [], FAIL)

    def frag5(r, chop):
        r.send(F(OP_TEXT, "fragment1", fin=False), F(OP_CONT, "fragment2", fin=False),
               F(OP_PING, "pongme 1!"), chop=chop)
        r.sleep(0.3)
        r.send(F(OP_CONT, "fragment3", fin=False), F(OP_CONT, "fragment4", fin=False),
               F(OP_PING, "pongme 2!"), F(OP_CONT, "fragment5"), chop=chop)
    exp5 = [P("pongme 1!"), P("pongme 2!"),
            M(OP_TEXT, "fragment1fragment2fragment3fragment4fragment5")]
    add("5.19", "text in 5 fragments with 2 pings between, a pause in the middle",
        lambda r: frag5(r, None), exp5)
    add("5.20", "text in 5 fragments with 2 pings between, frame by frame, a pause",
        lambda r: frag5(r, FRAME), exp5)

    # ---- 6 UTF-8
    add("6.1.1", "empty text message", lambda r: r.send(F(OP_TEXT, b"")), [M(OP_TEXT, b"")])
    add("6.1.2", "text message of 3 empty fragments",
        lambda r: r.send(F(OP_TEXT, b"", fin=False), F(OP_CONT, b"", fin=False),
                         F(OP_CONT, b"")), [M(OP_TEXT, b"")])
    add("6.1.3", "text message of 3 fragments, first and last empty",
        lambda r: r.send(F(OP_TEXT, b"", fin=False), F(OP_CONT, "middle frame payload",
                                                      fin=False), F(OP_CONT, b"")),
        [M(OP_TEXT, "middle frame payload")])
    hello = "Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!".encode("utf-8")
    add("6.2.1", "valid UTF-8 text in one frame", lambda r: r.send(F(OP_TEXT, hello)),
        [M(OP_TEXT, hello)])
    cut = len("Hello-\u00b5@\u00df\u00f6\u00e4".encode("utf-8"))
    add("6.2.2", "valid UTF-8 text in 2 fragments split on a code point boundary",
        lambda r: r.send(F(OP_TEXT, hello[:cut], fin=False), F(OP_CONT, hello[cut:])),
        [M(OP_TEXT, hello)])

    def per_octet(payload):
        frames = []
        for i in range(len(payload)):
            frames.append(F(OP_TEXT if i == 0 else OP_CONT, payload[i:i + 1],
                            fin=(i == len(payload) - 1)))
        return frames
    add("6.2.3", "valid UTF-8 text, one fragment per byte (splitting code points)",
        lambda r: r.send(*per_octet(hello)), [M(OP_TEXT, hello)])
    kosme = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
    add("6.2.4", "valid UTF-8 text (kosme), one fragment per byte",
        lambda r: r.send(*per_octet(kosme)), [M(OP_TEXT, kosme)])
    bad = kosme + b"\xed\xa0\x80" + b"edited"
    add("6.3.1", "invalid UTF-8 text (surrogate) in one frame",
        lambda r: r.send(F(OP_TEXT, bad)), [], FAIL_UTF8)
    add("6.3.2", "invalid UTF-8 text (surrogate), one fragment per byte",
        lambda r: r.send(*per_octet(bad)), [], FAIL_UTF8)

    def failfast_frames(p1, p2, p3):
        def fn(r):
            r.send(F(OP_TEXT, p1, fin=False))
            r.expect_no_close(0.3)
            r.send(F(OP_CONT, p2, fin=False))
            r.expect_close_now(FAIL_UTF8, 2.0)
            r.send(F(OP_CONT, p3))
        return fn

    def failfast_chops(p1, p2, p3):
        def fn(r):
            whole = F(OP_TEXT, p1 + p2 + p3)
            hl = len(whole) - len(p1 + p2 + p3)
            a, b = hl + len(p1), hl + len(p1) + len(p2)
            r.send(whole[:a])
            r.expect_no_close(0.3)
            r.send(whole[a:b])
            r.expect_close_now(FAIL_UTF8, 2.0)
            r.send(whole[b:])
        return fn
    ff1 = (kosme, b"\xf4\x90\x80\x80", b"edited")
    ff2 = (kosme + b"\xf4", b"\x90", b"\x80\x80edited")
    add("6.4.1", "fail fast: 3 fragments, the 2nd holds an out-of-range code point "
        "(close before the 3rd is sent)", failfast_frames(*ff1), [], FAIL_UTF8)
    add("6.4.2", "fail fast: 3 fragments, the 2nd byte of a sequence in the 2nd is invalid",
        failfast_frames(*ff2), [], FAIL_UTF8)
    add("6.4.3", "fail fast: one frame written in 3 chops, the 2nd invalid "
        "(close before the 3rd is sent)", failfast_chops(*ff1), [], FAIL_UTF8)
    add("6.4.4", "fail fast: one frame written in 3 chops, invalid byte in the 2nd",
        failfast_chops(*ff2), [], FAIL_UTF8)

    for sub, (title, seqs) in enumerate(utf8_sequences(), 5):
        for j, (valid, payload) in enumerate(seqs, 1):
            desc = "%s: %s UTF-8 %s" % (title, "valid" if valid else "invalid",
                                        payload.hex() if len(payload) <= 24
                                        else payload[:24].hex() + "...")
            if valid:
                add("6.%d.%d" % (sub, j), desc, lambda r, p=payload: r.send(F(OP_TEXT, p)),
                    [M(OP_TEXT, payload)])
            else:
                add("6.%d.%d" % (sub, j), desc, lambda r, p=payload: r.send(F(OP_TEXT, p)),
                    [], FAIL_UTF8)

    # ---- 7 close handling
    hw2 = "Hello World!"
    add("7.1.1", "text message, then close 1000",
        lambda r: (r.send(F(OP_TEXT, hw2)), r.send_close(1000)), [M(OP_TEXT, hw2)], {1000})
    add("7.1.2", "close 1000 twice",
        lambda r: (r.send_close(1000), r.send(F(OP_CLOSE, close_payload(1000)))), [], {1000})
    add("7.1.3", "close 1000, then ping (no pong allowed)",
        lambda r: (r.send_close(1000), r.send(F(OP_PING, hw2))), [], {1000})
    add("7.1.4", "close 1000, then text (no echo allowed)",
        lambda r: (r.send_close(1000), r.send(F(OP_TEXT, hw2))), [], {1000})
    add("7.1.5", "first fragment of a text message, close 1000, then the last fragment",
        lambda r: (r.send(F(OP_TEXT, "fragment1", fin=False)), r.send_close(1000),
                   r.send(F(OP_CONT, "fragment2"))), [], {1000})
    big = (b"BAsd7&jh23" * 26215)[:262144]

    def c716(r):
        r.sent_close = True
        r.send(F(OP_TEXT, big), F(OP_CLOSE, close_payload(1000)), F(OP_PING, hw2))
    add("7.1.6", "256 KiB text, close 1000 and ping back to back (the echo may be dropped)",
        c716, close={1000}, expect_any=[[], [M(OP_TEXT, big)]])
    add("7.3.1", "close with empty payload",
        lambda r: r.send_close(raw=b""), [], {None, 1000})
    add("7.3.2", "close with a 1-byte payload", lambda r: r.send_close(raw=b"\x03"), [], FAIL)
    add("7.3.3", "close 1000 without reason", lambda r: r.send_close(1000), [], {1000})
    add("7.3.4", "close 1000 with reason", lambda r: r.send_close(1000, hw2), [], {1000})
    add("7.3.5", "close 1000 with a 123-byte reason (payload 125)",
        lambda r: r.send_close(1000, b"*" * 123), [], {1000})
    add("7.3.6", "close 1000 with a 124-byte reason (payload 126, too long)",
        lambda r: r.send_close(1000, b"*" * 124), [], FAIL)
    add("7.5.1", "close 1000 with a reason that is not UTF-8",
        lambda r: r.send_close(1000, bad), [], {1002, 1007})
    for i, code in enumerate((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                              3000, 3999, 4000, 4999), 1):
        add("7.7.%d" % i, "close with valid code %d (echoed)" % code,
            lambda r, c=code: r.send_close(c), [], {code})
    for i, code in enumerate((0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999), 1):
        add("7.9.%d" % i, "close with invalid code %d" % code,
            lambda r, c=code: r.send_close(c), [], FAIL)
    add("7.13.1", "close with code 5000 (outside every defined range)",
        lambda r: r.send_close(5000), [], FAIL)
    add("7.13.2", "close with code 65535 (outside every defined range)",
        lambda r: r.send_close(65535), [], FAIL)

    # ---- 9 limits / performance
    sizes = (64 << 10, 256 << 10, 1 << 20, 4 << 20, 8 << 20, 16 << 20)
    text_fill = b"BAsd7&jh23"

    def text_payload(n):
        return (text_fill * (n // len(text_fill) + 1))[:n]

    for sub, op in ((1, OP_TEXT), (2, OP_BINARY)):
        kind = "text" if op == OP_TEXT else "binary"
        for i, n in enumerate(sizes, 1):
            add("9.%d.%d" % (sub, i), "%s message of %d bytes" % (kind, n),
                lambda r, n=n, o=op: r.send(F(o, text_payload(n) if o == OP_TEXT
                                               else b"\xfe" * n)),
                [("lazy", op, n)], timeout=40.0)
    frags = (64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20)
    for sub, op in ((3, OP_TEXT), (4, OP_BINARY)):
        kind = "text" if op == OP_TEXT else "binary"
        for i, fs in enumerate(frags, 1):
            def fn(r, fs=fs, o=op):
                n = 4 << 20
                data = text_payload(n) if o == OP_TEXT else b"\xfe" * n
                frames = []
                for k in range(0, n, fs):
                    frames.append(F(o if k == 0 else OP_CONT, data[k:k + fs],
                                    fin=(k + fs >= n)))
                r.send(*frames)
            add("9.%d.%d" % (sub, i), "%s message of 4 MiB in %d-byte fragments" % (kind, fs),
                fn, [("lazy", op, 4 << 20)], timeout=40.0)
    chops = (64, 128, 256, 512, 1024, 2048)
    for sub, op in ((5, OP_TEXT), (6, OP_BINARY)):
        kind = "text" if op == OP_TEXT else "binary"
        for i, ch in enumerate(chops, 1):
            add("9.%d.%d" % (sub, i), "%s message of 1 MiB written in %d-byte chops"
                % (kind, ch),
                lambda r, ch=ch, o=op: r.send(F(o, text_payload(1 << 20) if o == OP_TEXT
                                                 else b"\xfe" * (1 << 20)), chop=ch, delay=0),
                [("lazy", op, 1 << 20)], timeout=40.0)
    for sub, op in ((7, OP_TEXT), (8, OP_BINARY)):
        kind = "text" if op == OP_TEXT else "binary"
        for i, n in enumerate((0, 16, 64, 256, 1024, 4096), 1):
            def fn(r, n=n, o=op):
                data = b"*" * n if o == OP_TEXT else b"\xfe" * n
                for _ in range(1000):
                    if not r.roundtrip(o, data):
                        break
            add("9.%d.%d" % (sub, i), "1000 %s messages of %d bytes, one at a time" % (kind, n),
                fn, [], timeout=30.0)


def pmd_payload(op, n, seed=0):
    """A message of |n| bytes: JSON-like text, or binary that is half
    repetitive and half noise."""
    if op == OP_TEXT:
        out, i = [], seed
        while sum(len(x) for x in out) < n:
            out.append('{"seq": %d, "user": "u%d", "text": "h\u00e9llo w\u00f6rld %d"}, '
                       % (i, i % 97, i * 7919 % 1000))
            i += 1
        b = "".join(out).encode("utf-8")[:n]
        # never cut inside a UTF-8 sequence
        return b.decode("utf-8", "ignore").encode("utf-8").ljust(n, b" ")
    x = (seed * 2654435761 + 1) & 0xffffffff
    out = bytearray(n)
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0xffffffff
        out[i] = (x >> 16) & 0xff if (i // 64) % 2 else i & 0x0f
    return bytes(out)


PMD_SIZES = (16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072, 262144)
PMD_DEFAULT_OFFER = ["permessage-deflate; client_max_window_bits"]


def pmd_echo(op, n, count, frag=None, chop=None):
    """Send |count| compressed messages of |n| bytes; expect their echoes."""
    msgs = [pmd_payload(op, n, k) for k in range(count)]

    def fn(r):
        for m in msgs:
            r.send_msg(op, m, frag=frag, chop=chop)
    return fn, [M(op, m) for m in msgs]


def build_deflate_cases():
    # ---- 12 compressed echo: sizes x payload kinds x fragmentation
    kinds = ((1, OP_TEXT, None, "text"), (2, OP_BINARY, None, "binary"),
             (3, OP_TEXT, 1024, "text in 1 KiB fragments"),
             (4, OP_BINARY, 256, "binary in 256-byte fragments"),
             (5, OP_TEXT, 17, "text in 17-byte fragments"))
    for sub, op, frag, kind in kinds:
        for i, n in enumerate(PMD_SIZES, 1):
            if frag == 17 and n > 16384:
                continue
            count = 10 if n <= 65536 else 3
            fn, exp = pmd_echo(op, n, count, frag)
            add("12.%d.%d" % (sub, i), "%d compressed %s messages of %d bytes"
                % (count, kind, n), fn, exp, timeout=30.0, offer=PMD_DEFAULT_OFFER,
                min_compressed=count if n >= 1024 else 0)
    # one message written a byte at a time, and an empty compressed message
    fn, exp = pmd_echo(OP_TEXT, 300, 2, 50, chop=OCTET)
    add("12.6.1", "2 compressed text messages of 300 bytes in 50-byte fragments, "
        "written one byte at a time", fn, exp, offer=PMD_DEFAULT_OFFER)
    add("12.6.2", "empty compressed text message (payload 0x00)",
        lambda r: r.send(F(OP_TEXT, b"\x00", rsv=4)), [M(OP_TEXT, b"")],
        offer=PMD_DEFAULT_OFFER)
    add("12.6.3", "compressed and uncompressed messages interleaved",
        lambda r: [r.send_msg(OP_TEXT, pmd_payload(OP_TEXT, 2000, k), compress=k % 2 == 0)
                   for k in range(6)],
        [M(OP_TEXT, pmd_payload(OP_TEXT, 2000, k)) for k in range(6)],
        offer=PMD_DEFAULT_OFFER)
    add("12.6.4", "compressed text with a ping between its fragments",
        lambda r: r.send(*pmd_split_with_ping(r, pmd_payload(OP_TEXT, 3000, 9))),
        [P("between"), M(OP_TEXT, pmd_payload(OP_TEXT, 3000, 9))],
        offer=PMD_DEFAULT_OFFER)
    add("12.6.5", "RSV1 on a continuation frame of a compressed message",
        lambda r: r.send(F(OP_TEXT, r.pmd.compress(b"Hello, world!")[:3], fin=False, rsv=4),
                         F(OP_CONT, b"\x00", rsv=4)),
        [], FAIL, offer=PMD_DEFAULT_OFFER)
    add("12.6.6", "RSV1 on a ping", lambda r: r.send(F(OP_PING, b"x", rsv=4)), [], FAIL,
        offer=PMD_DEFAULT_OFFER)
    add("12.6.7", "compressed text that inflates to invalid UTF-8",
        lambda r: r.send_msg(OP_TEXT, b"valid, then \xff invalid"), [], FAIL_UTF8,
        offer=PMD_DEFAULT_OFFER)
    add("12.6.8", "RSV1 data that is not DEFLATE",
        lambda r: r.send(F(OP_BINARY, b"\xff\xff\xff\xff", rsv=4)), [], {1007, 1002},
        offer=PMD_DEFAULT_OFFER)

    # ---- 13 the same under each combination of negotiated parameters
    combos = [
        (["permessage-deflate"], None),
        (["permessage-deflate; client_no_context_takeover"],
         lambda p: None if p.cnct else "client_no_context_takeover not confirmed"),
        (["permessage-deflate; server_no_context_takeover"],
         lambda p: None if p.snct else "server_no_context_takeover not confirmed"),
        (["permessage-deflate; server_max_window_bits=9"],
         lambda p: None if p.sbits <= 9 else "window above 9"),
        (["permessage-deflate; server_max_window_bits=15"], None),
        (["permessage-deflate; client_max_window_bits=9"], None),
        (["permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
          "server_max_window_bits=8; client_max_window_bits=8"],
         lambda p: None if p.snct and p.cnct and p.sbits == 8 else "not all agreed"),
        (["permessage-deflate; server_max_window_bits=10; client_max_window_bits; "
          "client_no_context_takeover"],
         lambda p: None if p.sbits <= 10 and p.cnct else "not all agreed"),
        (["permessage-deflate; server_max_window_bits=16, permessage-deflate; "
          "server_no_context_takeover; server_max_window_bits=12, permessage-deflate"],
         lambda p: None if p.snct and p.sbits <= 12 else "the second offer was not chosen"),
        (["x-webkit-deflate-frame", "permessage-deflate; mystery, "
          "permessage-deflate; client_max_window_bits=12"],
         None),
    ]
    sizes = (16, 256, 1024, 4096, 16384, 65536, 131072)
    for sub, (offer, check) in enumerate(combos, 1):
        desc = " / ".join(offer)
        j = 0
        for op in (OP_TEXT, OP_BINARY):
            for n in sizes:
                j += 1
                count = 8 if n <= 16384 else 3
                frag = None if j % 3 else 700
                fn, exp = pmd_echo(op, n, count, frag)
                add("13.%d.%d" % (sub, j), "offer [%s]: %d %s messages of %d bytes%s"
                    % (desc, count, "text" if op == OP_TEXT else "binary", n,
                       " in 700-byte fragments" if frag else ""),
                    fn, exp, timeout=30.0, offer=offer, accept=check,
                    min_compressed=count if n >= 1024 else 0)


def pmd_split_with_ping(r, data):
    z = r.pmd.compress(data)
    h = len(z) // 2
    return (F(OP_TEXT, z[:h], fin=False, rsv=4), F(OP_PING, b"between"),
            F(OP_CONT, z[h:]))


def utf8_sequences():
    """The UTF-8 decoder stress sequences (after Markus Kuhn's UTF-8 test
    file) grouped as in Autobahn's 6.5 .. 6.23; validity is computed with
    Python's strict decoder and double-checked against the intent."""
    kosme = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
    groups = []

    def g(title, payloads, intended=None):
        out = []
        for p in payloads:
            try:
                p.decode("utf-8")
                valid = True
            except UnicodeDecodeError:
                valid = False
            if intended is not None and valid != intended:
                raise AssertionError("self-check: %r expected valid=%s" % (p, intended))
            out.append((valid, p))
        groups.append((title, out))

    g("some valid sequences", [b"hello$world", b"hello\xc2\xa2world",
                               b"hello\xe2\x82\xacworld", b"hello\xf0\xa4\xad\xa2world",
                               kosme], True)
    g("prefixes of a valid multi-byte string", [kosme[:i] for i in range(1, len(kosme) + 1)])
    g("first sequence of each length", [b"\x00", b"\xc2\x80", b"\xe0\xa0\x80",
                                        b"\xf0\x90\x80\x80"], True)
    g("first 5/6-byte sequences (invalid)", [b"\xf8\x88\x80\x80\x80",
                                             b"\xfc\x84\x80\x80\x80\x80"], False)
    g("last sequence of each length", [b"\x7f", b"\xdf\xbf", b"\xef\xbf\xbf",
                                       b"\xf4\x8f\xbf\xbf"], True)
    g("last 4/5/6-byte sequences (invalid)", [b"\xf7\xbf\xbf\xbf", b"\xfb\xbf\xbf\xbf\xbf",
                                              b"\xfd\xbf\xbf\xbf\xbf\xbf"], False)
    g("other boundaries", [b"\xed\x9f\xbf", b"\xee\x80\x80", b"\xef\xbf\xbd",
                           b"\xf4\x8f\xbf\xbf", b"\xf4\x90\x80\x80"])
    cont = [b"\x80", b"\xbf", b"\x80\xbf", b"\x80\xbf\x80", b"\x80\xbf\x80\xbf",
            b"\x80\xbf\x80\xbf\x80", b"\x80\xbf\x80\xbf\x80\xbf", bytes(range(0x80, 0xbf))]
    g("unexpected continuation bytes", cont, False)
    lonely = []
    for lo, hi in ((0xc0, 0xdf), (0xe0, 0xef), (0xf0, 0xf7), (0xf8, 0xfb), (0xfc, 0xfd)):
        lonely.append(b"".join(bytes((x, 0x20)) for x in range(lo, hi)))
    g("lonely start bytes", lonely, False)
    missing = [b"\xc0", b"\xe0\x80", b"\xf0\x80\x80", b"\xf8\x80\x80\x80",
               b"\xfc\x80\x80\x80\x80", b"\xdf", b"\xef\xbf", b"\xf7\xbf\xbf",
               b"\xfb\xbf\xbf\xbf", b"\xfd\xbf\xbf\xbf\xbf"]
    g("sequences missing their last continuation byte", missing, False)
    g("concatenated incomplete sequences", [b"".join(missing)], False)
    g("impossible bytes", [b"\xfe", b"\xff", b"\xfe\xfe\xff\xff"], False)
    g("overlong ASCII", [b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf",
                         b"\xf8\x80\x80\x80\xaf", b"\xfc\x80\x80\x80\x80\xaf"], False)
    g("maximum overlong sequences", [b"\xc1\xbf", b"\xe0\x9f\xbf", b"\xf0\x8f\xbf\xbf",
                                     b"\xf8\x87\xbf\xbf\xbf", b"\xfc\x83\xbf\xbf\xbf\xbf"],
      False)
    g("overlong NUL", [b"\xc0\x80", b"\xe0\x80\x80", b"\xf0\x80\x80\x80",
                       b"\xf8\x80\x80\x80\x80", b"\xfc\x80\x80\x80\x80\x80"], False)
    single = [b"\xed\xa0\x80", b"\xed\xad\xbf", b"\xed\xae\x80", b"\xed\xaf\xbf",
              b"\xed\xb0\x80", b"\xed\xbe\x80", b"\xed\xbf\xbf"]
    g("single UTF-16 surrogates", single, False)
    g("paired UTF-16 surrogates", [a + b for a in single[:4] for b in (b"\xed\xb0\x80",
                                                                       b"\xed\xbf\xbf")],
      False)
    nonchars = [b"\xef\xbf\xbe", b"\xef\xbf\xbf"]
    for z1 in (0xf0, 0xf1, 0xf2, 0xf3, 0xf4):
        for z2 in (0x8f, 0x9f, 0xaf, 0xbf):
            if z1 == 0xf4 and z2 != 0x8f:
                continue
            for z3 in (0xbe, 0xbf):
                s = bytes((z1, z2, 0xbf, z3))
                if z1 == 0xf0 and z2 == 0x8f:
                    continue          # overlong
                nonchars.append(s)
    g("non-characters (valid UTF-8)", nonchars, True)
    g("Unicode specials", [bytes((0xef, 0xbf, x)) for x in range(0xb9, 0xc0)], True)
    return groups


build_cases()
build_deflate_cases()


# ---------------------------------------------------------------------------
# 9.x payloads are generated lazily (16 MiB each) and compared by content

def _materialize(case):
    out = []
    for it in case.expect:
        if it[0] == "lazy":
            _, op, n = it
            fill = b"BAsd7&jh23"
            data = (fill * (n // len(fill) + 1))[:n] if op == OP_TEXT else b"\xfe" * n
            out.append(("msg", op, data))
        else:
            out.append(it)
    return out


def select(patterns):
    if not patterns:
        return list(CASES)
    pats = [p.strip() for p in patterns.split(",") if p.strip()]
    return [c for c in CASES if any(fnmatch.fnmatchcase(c.id, p) or c.id == p
                                    or c.id.startswith(p + ".") for p in pats)]


def run_case(url, c, verbose=False):
    lazy = any(it[0] == "lazy" for it in c.expect)
    if lazy:
        saved = c.expect
        c.expect = _materialize(c)
    try:
        r = Run(url, c, verbose)
        errors = r.execute()
    finally:
        if lazy:
            c.expect = saved
    return errors, getattr(r, "elapsed", 0.0)


def run_suite(url, patterns=None, verbose=False, out=sys.stdout, on_result=None):
    """Run the selected cases sequentially; returns list of (case, errors, secs)."""
    results = []
    for c in select(patterns):
        errors, secs = run_case(url, c, verbose)
        results.append((c, errors, secs))
        if on_result:
            on_result(c, errors, secs)
    return results


def summarize(results, out=sys.stdout):
    cats = {}
    for c, errors, secs in results:
        a = cats.setdefault(c.category, [0, 0, 0.0])
        a[0 if not errors else 1] += 1
        a[2] += secs
    for cat in sorted(cats, key=int):
        p, f, s = cats[cat]
        out.write("# category %-2s: %3d passed, %3d failed  (%.1fs)\n" % (cat, p, f, s))
    npass = sum(1 for _, e, _ in results if not e)
    nfail = len(results) - npass
    out.write("%d passed, %d failed\n" % (npass, nfail))
    out.flush()
    return nfail


def main(argv=None):
    ap = argparse.ArgumentParser(description="WebSocket echo-server conformance suite")
    ap.add_argument("url", nargs="?", help="ws://, h2c:// or h2s://host:port/path "
                    "of an echo endpoint")
    ap.add_argument("--cases", help="comma-separated case ids or globs, e.g. 1.*,6.4.*")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    a = ap.parse_args(argv)
    if a.list:
        for c in select(a.cases):
            print("%-8s %s" % (c.id, c.desc))
        return 0
    if not a.url:
        ap.error("url required")

    def on_result(c, errors, secs):
        if errors or a.verbose:
            print("%s %-8s %s (%.2fs)" % ("ok    " if not errors else "FAILED", c.id, c.desc,
                                          secs))
            for e in errors:
                for line in e.splitlines():
                    print("         " + line)
            sys.stdout.flush()
    results = run_suite(a.url, a.cases, a.verbose, on_result=on_result)
    return 1 if summarize(results) else 0


if __name__ == "__main__":
    sys.exit(main())
