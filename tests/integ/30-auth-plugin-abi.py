#!/usr/bin/python3
"""A plugin built outside the tree, against the public header alone
(cc -shared -fPIC -I src/include): the version handshake, options,
asynchronous decisions completed from another thread through
wsh_auth_notify() (the handshake waits with reading paused, and frames sent
early are kept), the timeout (503) with the cancel callback, API calls
decided late; a plugin that wants another ABI version is refused by -t."""

import os
import socket
import subprocess
import tempfile
import time

import wshtest
from wshtest import RawWS, upgrade_request, encode_frame, OP_TEXT
from authtest import upgrade, api

wshtest.require_daemon()
wshtest.overall_alarm(90)
rep = wshtest.Report()
TMP = tempfile.mkdtemp(prefix="wsh30a-")

PLUGIN = r'''
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wshub/auth.h>

struct job { struct wsh_auth_request *req; int verdict; int cancelled; };
static int delay_ms = 200;

int wsh_auth_plugin_version(int count, const int *versions)
{
	for (int i = 0; i < count; i++)
		if (versions[i] == WANT_VERSION)
			return WANT_VERSION;
	return WANT_VERSION;
}

int wsh_auth_plugin_init(void **state, const struct wsh_auth_setup *s,
    char *err, size_t errlen)
{
	(void)err; (void)errlen;
	for (int i = 0; i < s->noptions; i++)
		if (strcmp(s->options[i].key, "delay_ms") == 0)
			delay_ms = atoi(s->options[i].value);
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
	usleep((useconds_t)delay_ms * 1000);
	wsh_auth_notify(finish, arg);
	return NULL;
}

int wsh_auth_plugin_decide(void *state, struct wsh_auth_request *req)
{
	const char *h = wsh_auth_request_header(req, "x-let-in");
	struct job *j;
	pthread_t t;

	(void)state;
	if (strncmp(wsh_auth_request_path(req), "/slow", 5) == 0)
		return WSH_AUTH_PENDING;	/* answered when cancelled */
	j = calloc(1, sizeof(*j));
	j->req = req;
	if (h != NULL && strcmp(h, "yes") == 0) {
		wsh_auth_set_user(req, "async-user");
		wsh_auth_add_subscribe(req, "*");
		wsh_auth_add_publish(req, "*");
		j->verdict = WSH_AUTH_ALLOW;
	} else {
		wsh_auth_set_deny(req, 401, "say x-let-in: yes");
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


def build(name, version):
    src = os.path.join(TMP, name + ".c")
    so = os.path.join(TMP, name + ".so")
    with open(src, "w") as f:
        f.write(PLUGIN)
    cc = os.environ.get("CC", "cc")
    r = subprocess.run([cc, "-shared", "-fPIC", "-Wall", "-Werror",
                        "-DWANT_VERSION=%d" % version, "-I",
                        os.path.join(wshtest.srcdir(), "src", "include"),
                        "-o", so, src, "-pthread"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    return so


good = build("async", 1)
bad = build("v99", 99)
ROUTES = [{"path": "/echo", "handler": "echo"},
          {"path": "/slow", "handler": "echo"},
          {"path": "/ws/*", "handler": "pubsub"}]
AUTH = {"plugin": good, "options": {"delay_ms": 200}, "timeout": "700ms"}

with wshtest.Daemon(routes=ROUTES, auth=AUTH) as d:
    p = d.port

    def async_allow():
        t0 = time.monotonic()
        st, ws, r = upgrade(p, "/echo", ["X-Let-In: yes"])
        assert st == 101, r
        assert time.monotonic() - t0 >= 0.15, "answered before the plugin"
        ws.send_text("hi")
        op, data = ws.recv_message(timeout=5)
        assert data == b"hi", data
        ws.close()
    rep.run("asynchronous allow: 101 after the plugin's answer", async_allow)

    def async_deny():
        st, ws, r = upgrade(p, "/echo", ["X-Let-In: no"])
        assert st == 401, r
    rep.run("asynchronous deny: the plugin's status", async_deny)

    def early_frames():
        s = socket.create_connection(("127.0.0.1", p), timeout=5)
        s.sendall(upgrade_request("/echo", extra=["X-Let-In: yes"]) +
                  encode_frame(OP_TEXT, b"early"))
        buf = b""
        while b"early" not in buf:
            chunk = s.recv(4096)
            assert chunk, buf
            buf += chunk
        assert buf.startswith(b"HTTP/1.1 101"), buf
        s.close()
    rep.run("a frame sent with the handshake waits for the decision",
            early_frames)

    def others_not_blocked():
        # while one handshake waits, other clients are served at once
        s = socket.create_connection(("127.0.0.1", p), timeout=5)
        s.sendall(upgrade_request("/slow"))
        t0 = time.monotonic()
        r = api(p, "GET", "/healthz")
        assert r.status == 200 and time.monotonic() - t0 < 0.3, r
        s.settimeout(3)
        head = s.recv(4096)
        assert head.startswith(b"HTTP/1.1 503"), head
        s.close()
    rep.run("timeout: 503 while the event loop serves others", others_not_blocked)

    def api_async():
        r = api(p, "GET", "/api/v1/connections", ["X-Let-In: yes"])
        assert r.status == 200, r
        r = api(p, "POST", "/pub/news", ["X-Let-In: no"], b"x")
        assert r.status == 401, r
    rep.run("API calls decided asynchronously", api_async)

    def counters():
        txt = d.stderr_text()
        assert "authentication refused" in txt, txt[-2000:]
        assert "no answer within" in txt, txt[-2000:]
    rep.run("decisions and timeouts are logged", counters)


def wrong_version():
    conf = os.path.join(TMP, "v99.conf")
    with open(conf, "w") as f:
        f.write('listeners = ( { address = "127.0.0.1"; port = %d; } );\n'
                'routes = ( { path = "/echo"; handler = "echo"; } );\n'
                'auth = { plugin = "%s"; };\n' % (wshtest.free_port(), bad))
    r = subprocess.run([wshtest.daemon_path(), "-t", "-c", conf],
                       capture_output=True, timeout=10)
    err = r.stderr.decode()
    assert r.returncode != 0 and "ABI version 99" in err, err
rep.run("a plugin wanting ABI version 99 is a config error", wrong_version)

rep.done()
