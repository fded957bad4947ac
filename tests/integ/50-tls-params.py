#!/usr/bin/python3
"""TLS listeners checked with clients nobody here wrote: openssl s_client for
the protocol versions, ALPN, ciphers and client certificates, and
python3-websockets for wss (HTTP/1.1 Upgrade over TLS); certificates are
reloaded on SIGHUP while a TLS connection stays open."""

import asyncio
import os
import re
import shutil
import signal
import ssl
import subprocess
import time

import websockets

import tlstest
import wshtest

wshtest.require_daemon()
wshtest.overall_alarm(180)
rep = wshtest.Report()
certs = tlstest.Certs()


def s_client(port, *args, data=b"", timeout=10):
    """Run openssl s_client; returns (exit status, stdout + stderr)."""
    # -ign_eof waits for the server's answer to |data|; without data
    # s_client ends after the handshake.
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                        "-servername", "localhost"] + (["-ign_eof"] if data else [])
                       + list(args),
                       input=data, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


GET = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def wss_ctx(cafile=None, cert=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile or certs.path("ca.pem"))
    if cert:
        ctx.load_cert_chain(*cert)
    return ctx


async def wss_echo(port, msg, ctx=None):
    async with websockets.connect("wss://localhost:%d/echo" % port,
                                  ssl=ctx or wss_ctx(), max_size=None,
                                  compression=None, open_timeout=5,
                                  close_timeout=5, ping_interval=None) as ws:
        await ws.send(msg)
        got = await asyncio.wait_for(ws.recv(), 20)
        if got != msg:
            return "echo differs (%d bytes back, %d sent)" % (len(got), len(msg))
    return None


d = tlstest.tls_daemon(certs)
with d:
    port = d.tls_port

    def tls11_refused():
        rc, out = s_client(port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0",
                           data=GET)
        if rc == 0 or "200 OK" in out:
            return "TLS 1.1 was accepted:\n" + out[-600:]
        if not re.search(r"protocol version|unsupported protocol|no protocols",
                         out, re.I):
            return "refused, but not for the version:\n" + out[-600:]
    rep.run("TLS 1.1 is refused (protocol version)", tls11_refused)

    def tls12():
        rc, out = s_client(port, "-tls1_2", data=GET)
        m = re.search(r"Cipher is (\S+)", out)
        if rc != 0 or "200 OK" not in out or not m:
            return "TLS 1.2 failed:\n" + out[-800:]
        if "GCM" not in m.group(1) and "CHACHA20" not in m.group(1):
            return "cipher %s is not AEAD" % m.group(1)
        if not m.group(1).startswith(("ECDHE", "DHE")):
            return "cipher %s is not forward secret" % m.group(1)
    rep.run("TLS 1.2 with a forward-secret AEAD cipher, HTTP/1.1 answered", tls12)

    def tls12_weak_cipher():
        rc, out = s_client(port, "-tls1_2", "-cipher", "AES128-SHA", data=GET)
        if rc == 0 and "200 OK" in out:
            return "a non-forward-secret CBC cipher was accepted"
    rep.run("TLS 1.2 with only AES128-SHA (RSA kx, CBC) is refused",
            tls12_weak_cipher)

    def tls13():
        rc, out = s_client(port, "-tls1_3", data=GET)
        if rc != 0 or "TLSv1.3" not in out or "200 OK" not in out:
            return "TLS 1.3 failed:\n" + out[-800:]
    rep.run("TLS 1.3 works", tls13)

    def alpn(offer, want):
        rc, out = s_client(port, "-alpn", offer, data=b"")
        m = re.search(r"ALPN protocol: (\S+)", out)
        got = m.group(1) if m else None
        if got != want:
            return "offered %s: got %r, expected %r\n%s" % (offer, got, want,
                                                             out[-600:])
    rep.run("ALPN h2 selected when offered", alpn, "h2,http/1.1", "h2")
    rep.run("ALPN http/1.1 selected when h2 is not offered", alpn,
            "http/1.1", "http/1.1")

    def chain_sent():
        rc, out = s_client(port, "-CAfile", certs.path("ca.pem"), data=b"")
        if "Verify return code: 0 (ok)" not in out:
            return "certificate does not verify against the test CA:\n" + out[-800:]
    rep.run("the certificate verifies against the test CA", chain_sent)

    rep.run("wss echo (python3-websockets, HTTP/1.1 over TLS)",
            lambda: asyncio.run(wss_echo(port, "hello over TLS")))
    rep.run("wss echo of 4 MiB (many TLS records per flush)",
            lambda: asyncio.run(wss_echo(port, os.urandom(4 << 20))))

    async def many_small():
        async with websockets.connect("wss://localhost:%d/echo" % port,
                                      ssl=wss_ctx(), compression=None,
                                      ping_interval=None) as ws:
            for i in range(2000):
                await ws.send("m%d" % i)
            for i in range(2000):
                got = await asyncio.wait_for(ws.recv(), 10)
                if got != "m%d" % i:
                    return "message %d is %r" % (i, got)
    rep.run("2000 small messages echoed in order over TLS",
            lambda: asyncio.run(many_small()))

    def plain_beside():
        r = wshtest.http_request(d.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                 b"Connection: close\r\n\r\n")
        if r.status != 200:
            return "cleartext listener: %r" % r
    rep.run("the cleartext listener beside it still answers", plain_beside)

    # Certificate reload on SIGHUP: a connection opened before keeps working.
    async def reload_keeps_connection():
        async with websockets.connect("wss://localhost:%d/echo" % port,
                                      ssl=wss_ctx(), compression=None,
                                      ping_interval=None) as ws:
            await ws.send("before")
            if await asyncio.wait_for(ws.recv(), 5) != "before":
                return "no echo before the reload"
            leaf, key = certs.leaf("reloaded", "/CN=reloaded.localhost",
                                   "subjectAltName=DNS:localhost\n"
                                   "basicConstraints=CA:FALSE\n")
            shutil.copy(leaf, certs.path("leaf.pem"))
            shutil.copy(key, certs.path("leaf.key"))
            d.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 5
            subj = ""
            while time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                rc, out = s_client(port, data=b"")
                m = re.search(r"subject=(.*)", out)
                subj = m.group(1) if m else ""
                if "reloaded" in subj:
                    break
            if "reloaded" not in subj:
                return "new connections still get %r" % subj
            await ws.send("after")
            if await asyncio.wait_for(ws.recv(), 5) != "after":
                return "the connection opened before the reload lost its echo"
    rep.run("SIGHUP reloads the certificate; open TLS connections stay",
            lambda: asyncio.run(reload_keeps_connection()))

    def http2_off_listener_note():
        if "TLS certificate and settings reloaded" not in d.stderr_text():
            return "no reload message in the log"
    rep.run("the reload is logged", http2_off_listener_note)

# Client certificates: required and optional.
for mode in ("required", "optional"):
    d = tlstest.tls_daemon(certs, {"client_ca": certs.path("ca.pem"),
                                   "client_certificates": mode})
    with d:
        port = d.tls_port

        def without_cert():
            rc, out = s_client(port, data=GET)
            ok = "200 OK" in out
            if mode == "required" and ok:
                return "served without a client certificate"
            if mode == "optional" and not ok:
                return "refused without a client certificate:\n" + out[-600:]
        rep.run("client_certificates = %s: without a certificate %s" % (
            mode, "refused" if mode == "required" else "served"), without_cert)

        def with_cert():
            rc, out = s_client(port, "-cert", certs.path("client.pem"), "-key",
                               certs.path("client.key"), data=GET)
            if "200 OK" not in out:
                return "refused with a valid client certificate:\n" + out[-600:]
        rep.run("client_certificates = %s: a certificate of the CA is accepted"
                % mode, with_cert)

        def foreign_cert():
            other = tlstest.Certs()
            rc, out = s_client(port, "-cert", other.path("client.pem"), "-key",
                               other.path("client.key"), data=GET)
            if "200 OK" in out:
                return "served with a certificate of another CA"
        rep.run("client_certificates = %s: a certificate of another CA is "
                "refused" % mode, foreign_cert)

        if mode == "required":
            def subject_seen():
                asyncio.run(wss_echo(port, "who", wss_ctx(
                    cert=(certs.path("client.pem"), certs.path("client.key")))))
                if "client CN=alice,O=wshub tests" not in d.stderr_text():
                    return "subject not in the connection's debug line"
            rep.run("the client certificate's subject is known (RFC 2253)",
                    subject_seen)

# Misconfiguration is reported by -t with the file and problem.
def bad_key():
    cfg = wshtest.render_config({
        "listeners": [{"address": "127.0.0.1", "port": wshtest.free_port(),
                       "tls": True, "certificate": certs.path("leaf.pem")}],
        "routes": [{"path": "/echo", "handler": "echo"}]})
    path = os.path.join(certs.dir, "bad.conf")
    with open(path, "w") as f:
        f.write(cfg)
    p = subprocess.run([wshtest.daemon_path(), "-t", "-c", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.stdout.decode()
    if p.returncode == 0 or "certificate and key" not in out:
        return "status %d: %s" % (p.returncode, out)
rep.run("a TLS listener without key fails the config check", bad_key)


def missing_file():
    d = tlstest.tls_daemon(certs, {"key": certs.path("nonexistent.key")})
    try:
        d.start_timeout = 2
        d.start()
    except RuntimeError:
        if "key %s: No such file" % certs.path("nonexistent.key") \
                not in d.stderr_text():
            return "no clear message: " + d.stderr_text()[-400:]
        return None
    finally:
        d.kill()
    return "started with a missing key"
rep.run("a missing key file stops the start with the file named", missing_file)
rep.done()
