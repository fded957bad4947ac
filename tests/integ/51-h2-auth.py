#!/usr/bin/python3
"""The authenticator on HTTP/2 streams: a plugin built here against the
public header decides asynchronously (from another thread) on extended
CONNECT requests and API calls made over h2, sees the TLS client
certificate's subject of the connection carrying the stream, and frames a
client sends before the answer are kept for the WebSocket; refusals are
the plugin's status on the stream, and the connection lives on."""

import os
import subprocess
import tempfile

import h2ws
import tlstest
import wshtest
from wshtest import OP_TEXT, encode_frame

wshtest.require_daemon()
wshtest.overall_alarm(120)
rep = wshtest.Report()
TMP = tempfile.mkdtemp(prefix="wsh51a-")

PLUGIN = r'''
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wshub/auth.h>

struct job { struct wsh_auth_request *req; int verdict; };

int wsh_auth_plugin_version(int count, const int *versions)
{
	(void)count; (void)versions;
	return 1;
}

int wsh_auth_plugin_init(void **state, const struct wsh_auth_setup *s,
    char *err, size_t errlen)
{
	(void)s; (void)err; (void)errlen;
	*state = NULL;
	return 0;
}

static void finish(void *arg)
{
	struct job *j = arg;
	wsh_auth_complete(j->req, j->verdict);
	free(j);
}

static void *worker(void *arg)
{
	usleep(150 * 1000);
	wsh_auth_notify(finish, arg);
	return NULL;
}

/* Allowed: x-let-in: yes, or a client certificate of CN=alice. */
int wsh_auth_plugin_decide(void *state, struct wsh_auth_request *req)
{
	const char *h = wsh_auth_request_header(req, "x-let-in");
	const char *subj = wsh_auth_request_tls_subject(req);
	struct job *j = calloc(1, sizeof(*j));
	pthread_t t;

	(void)state;
	j->req = req;
	if ((h != NULL && strcmp(h, "yes") == 0) ||
	    strncmp(subj, "CN=alice,", 9) == 0) {
		wsh_auth_set_user(req, subj[0] != '\0' ? "alice" : "guest");
		wsh_auth_add_subscribe(req, "*");
		wsh_auth_add_publish(req, "*");
		j->verdict = WSH_AUTH_ALLOW;
	} else {
		wsh_auth_set_deny(req, 403, "no entry");
		j->verdict = WSH_AUTH_DENY;
	}
	pthread_create(&t, NULL, worker, j);
	pthread_detach(t);
	return WSH_AUTH_PENDING;
}

void wsh_auth_plugin_cancel(void *state, struct wsh_auth_request *req)
{
	(void)state;
	wsh_auth_complete(req, WSH_AUTH_DENY);
}

void wsh_auth_plugin_cleanup(void *state)
{
	(void)state;
}
'''

src = os.path.join(TMP, "h2auth.c")
so = os.path.join(TMP, "h2auth.so")
with open(src, "w") as f:
    f.write(PLUGIN)
r = subprocess.run([os.environ.get("CC", "cc"), "-shared", "-fPIC", "-Wall",
                    "-Werror", "-I", os.path.join(wshtest.srcdir(), "src",
                                                  "include"),
                    "-o", so, src, "-pthread"], capture_output=True, timeout=60)
assert r.returncode == 0, r.stderr.decode()

certs = tlstest.Certs()
ROUTES = [{"path": "/echo", "handler": "echo"},
          {"path": "/ws/*", "handler": "pubsub", "allow_publish": True}]
d = tlstest.tls_daemon(certs, {"client_ca": certs.path("ca.pem"),
                               "client_certificates": "optional"},
                       routes=ROUTES, auth={"plugin": so, "timeout": "2s"})
with d:
    def allowed_late():
        c = h2ws.H2Conn("127.0.0.1", d.port)
        try:
            c.wait_settings()
            sid = c.connect_websocket("/echo", [("x-let-in", "yes")])
            # frames sent before the answer wait for the decision
            c.conn.send_data(sid, encode_frame(OP_TEXT, "early"))
            c.flush()
            st = c.stream(sid)
            c.wait(lambda: st.headers is not None or st.reset is not None, 5)
            if dict(st.headers or []).get(":status") != "200":
                return "status %r reset %r" % (st.headers, st.reset)
            ws = h2ws.H2WS.__new__(h2ws.H2WS)
            ws.h2, ws.sid, ws.buf, ws.eof, ws.timeout = c, sid, bytearray(), False, 5
            f = ws.recv_frame(5)
            if f is None or f.payload != b"early":
                return "the early frame was lost: %r" % f
        finally:
            c.close()
    rep.run("h2c: an asynchronous allow opens the WebSocket; an early frame "
            "is kept", allowed_late)

    def denied():
        c = h2ws.H2Conn("127.0.0.1", d.port)
        try:
            c.wait_settings()
            sid = c.connect_websocket("/echo")
            st, hdrs, body = c.response(sid, 5)
            if st != 403 or b"no entry" not in body:
                return "status %r %r" % (st, body)
            sid = c.request("GET", "/healthz")
            if c.response(sid)[0] != 200:
                return "the connection did not live on"
        finally:
            c.close()
    rep.run("h2c: an asynchronous deny gives the plugin's 403 on the stream",
            denied)

    def api_late():
        c = h2ws.H2Conn("127.0.0.1", d.port)
        try:
            c.wait_settings()
            sid = c.request("POST", "/pub/x", body=b"hi",
                            headers=[("x-let-in", "yes"),
                                     ("content-type", "text/plain")])
            st, hdrs, body = c.response(sid, 5)
            if st != 200:
                return "allowed API call: %r %r" % (st, body)
            sid = c.request("POST", "/pub/x", body=b"hi",
                            headers=[("content-type", "text/plain")])
            st, hdrs, body = c.response(sid, 5)
            if st != 403:
                return "refused API call: %r %r" % (st, body)
        finally:
            c.close()
    rep.run("h2c: API calls decided late, allowed and refused", api_late)

    def cert_subject():
        c = h2ws.H2Conn("127.0.0.1", d.tls_port, tls=True,
                        certfile=certs.path("client.pem"),
                        keyfile=certs.path("client.key"))
        try:
            ws = h2ws.H2WS(conn=c, path="/echo")
            ws.send_raw(encode_frame(OP_TEXT, "alice"))
            f = ws.recv_frame(5)
            if f is None or f.payload != b"alice":
                return "echo: %r" % f
        finally:
            c.close()
        c = h2ws.H2Conn("127.0.0.1", d.tls_port, tls=True)
        try:
            c.wait_settings()
            sid = c.connect_websocket("/echo")
            if c.response(sid, 5)[0] != 403:
                return "let in without the certificate"
        finally:
            c.close()
    rep.run("h2 over TLS: the plugin sees the client certificate's subject "
            "on each stream", cert_subject)
rep.done()
