/* The HTTP/1.1 phase of a connection: request heads, plain requests, the upgrade. */
#include "autoconf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/config.h"
#include "hub/handlers.h"
#include "hub/server.h"
#include "proto/handshake.h"
#include "proto/http1.h"
#include "transport/conn.h"
#include "transport/h1.h"
#include "util/log.h"
#include "util/msg.h"

/* Answer a plain HTTP request or a refused handshake, then close. */
void
h1_reply(struct conn *c, int status, const char *extra, const char *body)
{
	char buf[1024];
	struct msg *m;
	int n;

	n = snprintf(buf, sizeof(buf),
	    "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n"
	    "Connection: close\r\n"
	    "%s"
	    "\r\n%s",
	    status, http_status_text(status), strlen(body) + 1,
	    extra ? extra : "", body);
	if (n < 0 || (size_t)n >= sizeof(buf) - 1) {
		conn_destroy(c, "response too long");
		return;
	}
	buf[n++] = '\n';
	if (status >= 400)
		c->srv->stats.handshakes_failed++;
	if ((m = msg_new((size_t)n)) == NULL) {
		conn_destroy(c, "out of memory");
		return;
	}
	memcpy(m->data, buf, (size_t)n);
	c->flags |= CONN_F_SHUT_AFTER;
	conn_closing(c, CONN_CLOSING);
	conn_queue(c, m);
	msg_unref(m);
}

void
h1_error(struct conn *c, int status, const char *reason)
{
	const char *extra = NULL;

	if (status == 426)
		extra = "Sec-WebSocket-Version: 13\r\n";
	else if (status == 405)
		extra = "Allow: GET\r\n";
	log_debug("conn %016" PRIx64 ": handshake refused: %d %s", c->id,
	    status, reason);
	h1_reply(c, status, extra, reason);
}

/* Decide what a complete request head asks for. */
static void
h1_dispatch(struct conn *c, const struct http_request *req,
    uint8_t *rest, size_t rest_len)
{
	struct ws_upgrade up;
	struct route *r;
	const char *reason = NULL;
	int status;

	r = server_route_match(c->srv, req->path.p, req->path.len);
	if (!ws_handshake_is_upgrade(req)) {
		if (http_str_eq(req->path, "/healthz")) {
			if (!http_str_eq(req->method, "GET") &&
			    !http_str_eq(req->method, "HEAD"))
				h1_reply(c, 405, "Allow: GET, HEAD\r\n",
				    "method not allowed");
			else
				h1_reply(c, 200, NULL, "ok");
		} else if (r != NULL)
			h1_reply(c, 426,
			    "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
			    "this is a WebSocket endpoint");
		else
			h1_reply(c, 404, NULL, "not found");
		return;
	}
	if (r == NULL) {
		h1_error(c, 404, "no route for this path");
		return;
	}
	if ((status = ws_handshake_check(req, &up, &reason)) != 0) {
		h1_error(c, status, reason);
		return;
	}
	if (r->handler->check != NULL &&
	    (status = r->handler->check(r, req, &reason)) != 0) {
		h1_error(c, status, reason);
		return;
	}
	if ((status = conn_ws_start(c, r, req, &up)) != 0) {
		h1_error(c, status, "internal error");
		return;
	}
	conn_ws_feed(c, rest, rest_len);
}

void
h1_read(struct conn *c, uint8_t *buf, size_t n)
{
	const struct config *cfg = c->srv->cfg;
	struct http_limits lim = {
		.max_head = cfg->max_header_size,
		.max_headers = (unsigned)cfg->max_headers,
	};
	struct http_request *req;
	const char *reason = NULL;
	size_t room, take;
	int rv;

	if (c->head == NULL && (c->head = malloc(cfg->max_header_size)) == NULL) {
		conn_destroy(c, "out of memory");
		return;
	}
	room = cfg->max_header_size - c->head_len;
	take = n < room ? n : room;
	memcpy(c->head + c->head_len, buf, take);
	c->head_len += (uint32_t)take;
	if ((req = malloc(sizeof(*req))) == NULL) {
		conn_destroy(c, "out of memory");
		return;
	}
	rv = http_parse_request(c->head, c->head_len, &lim, req, &reason);
	if (rv == 0 && c->head_len >= cfg->max_header_size) {
		rv = -431;
		reason = "request header too large";
	}
	if (rv < 0)
		h1_error(c, -rv, reason ? reason : "bad request");
	else if (rv > 0) {
		/*
		 * Frames may follow the head in the same read: hand the bytes
		 * after the head to the session once it exists. They sit at the
		 * end of the head buffer and, beyond it, in |buf|.
		 */
		size_t extra = c->head_len - (size_t)rv + (n - take);
		uint8_t *rest = NULL;

		if (extra > 0 && (rest = malloc(extra)) == NULL) {
			free(req);
			conn_destroy(c, "out of memory");
			return;
		}
		if (extra > 0) {
			memcpy(rest, c->head + rv, c->head_len - (size_t)rv);
			memcpy(rest + c->head_len - (size_t)rv, buf + take, n - take);
		}
		h1_dispatch(c, req, rest, extra);
		free(rest);
		if (c->state != CONN_DEAD) {
			free(c->head);
			c->head = NULL;
			c->head_len = 0;
		}
	}
	free(req);
}
