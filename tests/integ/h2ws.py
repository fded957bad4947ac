#!/usr/bin/python3
"""HTTP/2 and RFC 8441 WebSockets driven by hand with python3-h2.

- H2Conn: one HTTP/2 connection, h2c prior knowledge or TLS with ALPN h2;
  requests, responses, raw frames, the server's SETTINGS.
- H2WS: one WebSocket on an extended CONNECT stream, with the interface of
  wshtest.RawWS (send_raw, recv_frame, eof, response, close) so the
  wsconform suite and the tests run over HTTP/2 unchanged.

python3-h2 is an independent implementation (not nghttp2): it checks every
frame we get, the pseudo-headers and the flow control.
"""

import re
import socket
import ssl
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

from wshtest import (HandshakeError, RawWS, HttpResponse)


class Stream:
    def __init__(self, sid):
        self.sid = sid
        self.headers = None       # response headers, [(name, value)] str
        self.data = bytearray()
        self.ended = False        # END_STREAM from the server
        self.reset = None         # error code of RST_STREAM from the server


class H2Conn:
    def __init__(self, host, port, tls=False, timeout=5.0, certfile=None,
                 keyfile=None, cafile=None, window=None):
        self.host, self.port, self.timeout = host, port, timeout
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.alpn = None
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            if cafile:
                ctx.load_verify_locations(cafile)
                ctx.verify_mode = ssl.CERT_REQUIRED
            else:
                ctx.verify_mode = ssl.CERT_NONE
            if certfile:
                ctx.load_cert_chain(certfile, keyfile)
            ctx.set_alpn_protocols(["h2", "http/1.1"])
            sock = ctx.wrap_socket(sock, server_hostname="localhost")
            self.alpn = sock.selected_alpn_protocol()
        self.sock = sock
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                        validate_inbound_headers=True)
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.initiate_connection()
        if window:
            self.conn.increment_flow_control_window(window)
        self.streams = {}
        self.settings = None      # the server's SETTINGS, once received
        self.goaway = None        # (error_code, last_stream_id)
        self.eof = False
        self.events = []
        self.auto_ack_data = True
        self.no_ack = set()       # streams whose window is never reopened
        self.flush()

    # ---- I/O
    def flush(self):
        out = self.conn.data_to_send()
        if out:
            try:
                self.sock.sendall(out)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                self.eof = True

    def send_bytes(self, data):
        """Raw bytes on the connection (for malformed or flood frames)."""
        self.sock.sendall(data)

    def pump(self, timeout):
        """Read once (up to |timeout| seconds) and process what came."""
        if self.eof:
            return False
        self.sock.settimeout(max(0.001, timeout))
        try:
            chunk = self.sock.recv(1 << 20)
        except (socket.timeout, ssl.SSLWantReadError):
            return True
        except (ConnectionResetError, ssl.SSLError, OSError):
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        for ev in self.conn.receive_data(chunk):
            self.on_event(ev)
        self.flush()
        return True

    def on_event(self, ev):
        self.events.append(ev)
        if isinstance(ev, h2.events.RemoteSettingsChanged):
            if self.settings is None:
                self.settings = {}
            for k, v in ev.changed_settings.items():
                self.settings[int(k)] = v.new_value
        elif isinstance(ev, h2.events.ResponseReceived):
            self.stream(ev.stream_id).headers = list(ev.headers)
        elif isinstance(ev, h2.events.DataReceived):
            st = self.stream(ev.stream_id)
            st.data += ev.data
            if ev.flow_controlled_length and ev.stream_id in self.no_ack:
                # a stream that does not read: only the connection's
                # window is given back, so the other streams go on
                self.conn.increment_flow_control_window(
                    ev.flow_controlled_length)
            elif self.auto_ack_data and ev.flow_controlled_length:
                self.conn.acknowledge_received_data(ev.flow_controlled_length,
                                                    ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            self.stream(ev.stream_id).ended = True
        elif isinstance(ev, h2.events.StreamReset):
            self.stream(ev.stream_id).reset = ev.error_code
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = (ev.error_code, ev.last_stream_id)

    def stream(self, sid):
        if sid not in self.streams:
            self.streams[sid] = Stream(sid)
        return self.streams[sid]

    def wait(self, cond, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not cond():
            left = deadline - time.monotonic()
            if left <= 0 or self.eof:
                return cond()
            self.pump(left)
        return True

    def wait_settings(self, timeout=None):
        self.wait(lambda: self.settings is not None, timeout)
        return self.settings

    # ---- requests
    def request(self, method, path, headers=(), body=None, end=True,
                authority=None):
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":scheme", "https" if self.alpn else "http"),
                (":authority", authority or "%s:%d" % (self.host, self.port)),
                (":path", path)] + list(headers)
        self.conn.send_headers(sid, hdrs, end_stream=end and body is None)
        if body is not None:
            self.conn.send_data(sid, body, end_stream=end)
        self.flush()
        return sid

    def response(self, sid, timeout=None):
        """(status, headers dict (last value wins), body) once the stream
        ended or was reset; status None when reset without headers."""
        st = self.stream(sid)
        self.wait(lambda: st.ended or st.reset is not None, timeout)
        hdrs = dict(st.headers or [])
        status = int(hdrs[":status"]) if ":status" in hdrs else None
        return status, hdrs, bytes(st.data)

    def connect_websocket(self, path, headers=(), protocol="websocket",
                          authority=None, version="13"):
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", "CONNECT"), (":protocol", protocol),
                (":scheme", "https" if self.alpn else "http"),
                (":path", path),
                (":authority", authority or "%s:%d" % (self.host, self.port))]
        if version is not None:
            hdrs.append(("sec-websocket-version", version))
        hdrs += list(headers)
        self.conn.send_headers(sid, hdrs, end_stream=False)
        self.flush()
        return sid

    def lift_stream_limit(self, n=100000):
        """Let us open more streams than the server allows (to test that
        it refuses them)."""
        rs = self.conn.remote_settings
        rs[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] = n
        rs.acknowledge()

    def close(self):
        try:
            self.conn.close_connection()
            self.flush()
        except Exception:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


def parse_url(url):
    """h2c://host:port/path or h2s://host:port/path -> (tls, host, port, path)."""
    m = re.match(r"^(h2c|h2s)://([^/:]+):(\d+)(/.*)?$", url)
    if not m:
        raise ValueError("bad url %r" % url)
    return m.group(1) == "h2s", m.group(2), int(m.group(3)), m.group(4) or "/"


class H2WS(RawWS):
    """A WebSocket on an HTTP/2 stream (RFC 8441): RawWS's interface, with
    the frames carried in DATA frames of one stream. With |conn| several
    WebSockets share one connection."""

    def __init__(self, url=None, timeout=5.0, extra=None, protocols=None,
                 conn=None, path=None):
        if conn is None:
            tls, host, port, path = parse_url(url)
            conn = H2Conn(host, port, tls=tls, timeout=timeout)
            self.own = True
        else:
            self.own = False
        self.h2 = conn
        self.timeout = timeout
        self.buf = bytearray()
        self.eof = False
        self.path = path
        settings = conn.wait_settings()
        if not settings or settings.get(
                h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL) != 1:
            raise HandshakeError("server did not send SETTINGS_ENABLE_CONNECT_PROTOCOL=1")
        headers = []
        if protocols:
            headers.append(("sec-websocket-protocol", ", ".join(protocols)))
        for h in extra or []:
            k, v = h.split(":", 1)
            headers.append((k.strip().lower(), v.strip()))
        self.sid = conn.connect_websocket(path, headers)
        st = conn.stream(self.sid)
        conn.wait(lambda: st.headers is not None or st.reset is not None
                  or st.ended, timeout)
        if st.headers is None:
            raise HandshakeError("no response to extended CONNECT (reset %r)" % st.reset)
        hdrs = [(k, v) for k, v in st.headers]
        status = int(dict(hdrs)[":status"])
        self.response = HttpResponse("HTTP/2", status, "", [(k, v) for k, v in hdrs
                                                             if not k.startswith(":")],
                                     b"", b"")
        if status != 200:
            conn.wait(lambda: st.ended or st.reset is not None, 1.0)
            self.response.body = bytes(st.data)
            raise HandshakeError("status %d, expected 200" % status, self.response)

    # ---- sending
    def send_raw(self, data, chop=None, delay=0.0):
        st = self.h2.stream(self.sid)
        if st.reset is not None or self.h2.eof:
            return False
        try:
            mv = memoryview(bytes(data))
            step = chop or 16384
            for i in range(0, len(mv), step):
                piece = bytes(mv[i:i + step])
                # wait for window, as a real client must
                self.h2.wait(lambda: self.h2.conn.local_flow_control_window(self.sid)
                             >= len(piece) or st.reset is not None, self.timeout)
                if st.reset is not None:
                    return False
                self.h2.conn.send_data(self.sid, piece)
                self.h2.flush()
                if chop and delay:
                    time.sleep(delay)
            return True
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError,
                h2.exceptions.FlowControlError):
            return False

    def end_stream(self):
        try:
            self.h2.conn.end_stream(self.sid)
            self.h2.flush()
        except h2.exceptions.H2Error:
            pass

    # ---- receiving
    def _fill(self, n, deadline):
        st = self.h2.stream(self.sid)
        while len(self.buf) < n:
            if st.data:
                self.buf += st.data
                st.data.clear()
                continue
            if st.ended or st.reset is not None or self.h2.eof:
                if st.ended and not st.reset:
                    # the server ended its side: that is its "TCP close"
                    # once we have ended ours too
                    self.end_stream()
                self.eof = True
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("timed out waiting for data")
            self.h2.pump(remaining)
        return True

    def wait_eof(self, timeout=2.0):
        st = self.h2.stream(self.sid)
        self.h2.wait(lambda: st.ended or st.reset is not None, timeout)
        return st.ended or st.reset is not None

    def close(self):
        st = self.h2.stream(self.sid)
        if not st.ended and st.reset is None and not self.h2.eof:
            try:
                self.h2.conn.reset_stream(self.sid)
                self.h2.flush()
            except h2.exceptions.H2Error:
                pass
        if self.own:
            self.h2.close()
