#!/usr/bin/python3
"""Helpers of the 30-auth-* tests: plugin paths, upgrades that may be
refused, JSON commands and HTTP API calls with credentials."""

import json
import os
import sys

import wshtest
from wshtest import RawWS, HandshakeError, http_request, OP_TEXT


def plugin(name):
    """The built plugin |name| (auth_token, auth_jwt); SKIP when missing."""
    d = os.environ.get("WSH_PLUGINDIR") or os.path.join(os.getcwd(), ".libs")
    p = os.path.join(d, name + ".so")
    if not os.path.isfile(p):
        print("# SKIP: plugin not built: %s" % p)
        sys.exit(77)
    return p


def upgrade(port, path, headers=(), protocols=None):
    """(status, RawWS or None, response) of a handshake on |path|."""
    try:
        ws = RawWS(port, path, protocols=protocols, extra=list(headers))
        return 101, ws, ws.response
    except HandshakeError as e:
        r = e.response
        return (r.status if r is not None else None), None, r


def bearer(tok):
    return ["Authorization: Bearer " + tok]


def cmd(ws, obj):
    """Send a wshub.v1 command; return the first reply with its id."""
    ws.send_text(json.dumps(obj))
    while True:
        op, data = ws.recv_message(timeout=5)
        m = json.loads(data)
        if m.get("id") == obj.get("id") and m.get("op") in ("ack", "error"):
            return m


def api(port, method, path, headers=(), body=b""):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: x",
             "Content-Length: %d" % len(body), "Connection: close"]
    lines += list(headers)
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    return http_request(port, raw)
