/* The HTTP/1.1 side of a connection: requests, bodies, keep-alive, upgrade. */
#include "autoconf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/auth.h"
#include "control/config.h"
#include "control/httpapi.h"
#include "hub/handlers.h"
#include "hub/server.h"
#include "proto/handshake.h"
#include "proto/http1.h"
#include "transport/conn.h"
#include "transport/h1.h"
#include "transport/h2.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/msg.h"

/* What the connection is reading (conn->h1_phase). */
enum h1_phase {
	H1_HEAD,		/* a request head */
	H1_BODY,		/* a Content-Length body */
	H1_CHUNK_SIZE,		/* the hex digits of a chunk size */
	H1_CHUNK_BWS,		/* blanks after the size; ';' must follow */
	H1_CHUNK_EXT,		/* a chunk extension, ignored */
	H1_CHUNK_SIZE_LF,	/* the LF ending a chunk-size line */
	H1_CHUNK_DATA,		/* chunk data */
	H1_CHUNK_DATA_CR,	/* the CRLF after chunk data */
	H1_CHUNK_DATA_LF,
	H1_TRAILER,		/* the start of a trailer line */
	H1_TRAILER_LINE,	/* inside a trailer field, ignored */
	H1_TRAILER_LF,		/* the LF ending a trailer field */
	H1_TRAILER_END_LF	/* the LF of the blank line ending the body */
};

/* conn->h1_flags */
#define H1_F_KEEP	0x01	/* keep the connection after this answer */
#define H1_F_HEAD	0x02	/* a HEAD request: headers only */
#define H1_F_ANSWERED	0x04	/* the current request is answered */
#define H1_F_CLOSING	0x08	/* last answer queued; input dropped */
#define H1_F_SERVED	0x10	/* an earlier request was answered */
#define H1_F_DEFERRED	0x20	/* the answer comes later (h1_defer) */

/* Bytes of a chunk-size line with its extensions. */
#define H1_CHUNK_LINE_MAX	1024
/* Bytes of the trailer section of a chunked body (trailers are dropped). */
#define H1_TRAILER_MAX		8192

static void	h1_accept(struct conn *, const struct http_request *, size_t);
static void	h1_resume(struct conn *);
static void	h1_stash(struct conn *, const uint8_t *, size_t);

static const char h1_continue[] = "HTTP/1.1 100 Continue\r\n\r\n";

/* The largest request body: a message, as for a WebSocket. */
static uint32_t
h1_body_limit(const struct conn *c)
{
	uint64_t max = c->srv->cfg->max_message_size;

	return max > MSG_MAX_LEN / 2 ? MSG_MAX_LEN / 2 : (uint32_t)max;
}

static void
h1_deadline(struct conn *c, double seconds)
{
	server_timer_set(c->srv, c, c->srv->tick + server_ticks(seconds));
}

/* Queue |m| as written; shut down after it unless the connection is kept. */
static void
h1_queue(struct conn *c, struct msg *m, int keep)
{
	if (!keep) {
		/*
		 * The connection stays in CONN_HTTP while its last answer is
		 * written: input is dropped here, and once the queue drains
		 * conn.c shuts our side down and lingers until the peer's FIN.
		 */
		c->h1_flags |= H1_F_CLOSING;
		c->flags |= CONN_F_SHUT_AFTER;
		h1_deadline(c, SERVER_CLOSE_TIMEOUT_S);
	}
	conn_queue(c, m);
}

int
h1_respond(struct conn *c, int status, const char *ctype, const char *extra,
    const void *body, size_t len)
{
	char head[1024];
	struct msg *m;
	size_t blen;
	int keep, n;

	/* A request that came on an HTTP/2 stream is answered there. */
	if (c->io & CONN_IO_STREAM)
		return h2_respond(c, status, ctype, extra, body, len);
	if (c->state != CONN_HTTP || (c->h1_flags & H1_F_CLOSING))
		return -1;
	keep = (c->h1_flags & H1_F_KEEP) && !c->srv->stopping;
	n = snprintf(head, sizeof(head),
	    "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "Connection: %s\r\n"
	    "%s"
	    "\r\n",
	    status, http_status_text(status), ctype, len,
	    keep ? "keep-alive" : "close", extra != NULL ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(head)) {
		conn_destroy(c, "response head too long");
		return -1;
	}
	blen = (c->h1_flags & H1_F_HEAD) ? 0 : len;
	if (blen > MSG_MAX_LEN - (size_t)n ||
	    (m = msg_new((size_t)n + blen)) == NULL) {
		conn_destroy(c, "out of memory for a response");
		return -1;
	}
	memcpy(m->data, head, (size_t)n);
	if (blen > 0)
		memcpy(m->data + n, body, blen);
	c->h1_flags |= H1_F_ANSWERED;
	h1_queue(c, m, keep);
	msg_unref(m);
	if (c->h1_flags & H1_F_DEFERRED)
		h1_resume(c);
	return 0;
}

int
h1_reply(struct conn *c, int status, const char *extra, const char *body)
{
	char text[512];
	int n;

	n = snprintf(text, sizeof(text), "%s\n", body);
	if (n < 0)
		n = 0;
	else if ((size_t)n >= sizeof(text))
		n = sizeof(text) - 1;
	return h1_respond(c, status, "text/plain; charset=utf-8", extra, text,
	    (size_t)n);
}

void
h1_last(struct conn *c)
{
	if (c->state == CONN_HTTP)
		c->h1_flags &= ~H1_F_KEEP;
}

void
h1_error(struct conn *c, int status, const char *reason)
{
	const char *extra = NULL;

	if (status == 426)
		extra = "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";
	else if (status == 405)
		extra = "Allow: GET\r\n";
	log_debug("conn %016" PRIx64 ": handshake refused: %d %s", c->id,
	    status, reason);
	server_handshake_failed(c->srv, status);
	h1_last(c);
	h1_reply(c, status, extra, reason);
}

/* Forget the request just answered; memory is released until the next. */
static void
h1_reset(struct conn *c)
{
	free(c->head);
	c->head = NULL;
	c->head_len = c->body_len = c->h1_size = c->h1_left = 0;
	c->h1_line = 0;
	c->h1_phase = H1_HEAD;
}

/* The request is answered: get ready for the next one on this connection. */
static void
h1_done(struct conn *c)
{
	const struct config *cfg = c->srv->cfg;

	if (c->state != CONN_HTTP)
		return;
	h1_reset(c);
	/* Each API call is authenticated on its own. */
	auth_conn_reset(c);
	c->h1_flags = (c->h1_flags & H1_F_CLOSING) | H1_F_SERVED;
	if (c->h1_flags & H1_F_CLOSING)
		return;
	if (c->out_bytes > cfg->send_buffer_limit) {
		/*
		 * A client that pipelines requests without reading the answers
		 * would grow our queue without bound: it gets what is queued,
		 * then the connection is closed.
		 */
		log_info("conn %016" PRIx64 ": %" PRIu64 " bytes of answers "
		    "unread, closing", c->id, c->out_bytes);
		c->h1_flags |= H1_F_CLOSING;
		c->flags |= CONN_F_SHUT_AFTER;
		h1_deadline(c, SERVER_CLOSE_TIMEOUT_S);
		server_want_flush(c->srv, c);
		return;
	}
	/* An idle persistent connection gets handshake_timeout to go on. */
	h1_deadline(c, cfg->handshake_timeout);
}

/* A request that cannot be read on: answer, close, drop what follows. */
static size_t
h1_fail(struct conn *c, int status, const char *reason, size_t n)
{
	log_debug("conn %016" PRIx64 ": bad request body: %d %s", c->id,
	    status, reason);
	h1_last(c);
	httpapi_error(c, status, NULL, "%s", reason);
	h1_done(c);
	return n;
}

/* Whether the connection may carry another request after this one. */
static int
h1_persistent(const struct http_request *req)
{
	int close = 0, keep = 0;

	for (unsigned i = 0; i < req->nheaders; i++) {
		if (!http_str_eq(req->headers[i].name, "connection"))
			continue;
		if (http_list_has_token(req->headers[i].value, "close"))
			close = 1;
		if (http_list_has_token(req->headers[i].value, "keep-alive"))
			keep = 1;
	}
	if (close)
		return 0;
	/* HTTP/1.1 persists by default; HTTP/1.0 only when asked to. */
	return req->version_minor >= 1 || keep;
}

/* Whether the connection waits for the authenticator's decision. */
#define H1_WAITING(c)	(((c)->flags & CONN_F_READ_PAUSED) != 0)

/*
 * The handshake is authenticated: check the identity's permissions for
 * what the URL asks (its channels), answer 101 and start the WebSocket.
 */
static void
h1_upgrade_finish(struct conn *c, struct route *r,
    const struct http_request *req, const struct ws_upgrade *up,
    uint8_t *rest, size_t rest_len)
{
	const char *reason = NULL;
	int status;

	if (c->ident != NULL && r->handler->authorize != NULL &&
	    (status = r->handler->authorize(c, r, req, &reason)) != 0) {
		c->srv->stats.authz_denied++;
		h1_error(c, status, reason);
		return;
	}
	if ((status = conn_ws_start(c, r, req, up)) != 0) {
		h1_error(c, status, "internal error");
		return;
	}
	/* conn_ws_start() released the head. Frames may follow it in the same read. */
	conn_ws_feed(c, rest, rest_len);
}

/*
 * The WebSocket upgrade. Returns 1 when |rest| was used, 0 when the
 * handshake waits for the authenticator (|rest| is then read again, into
 * the stash).
 */
static int
h1_upgrade(struct conn *c, const struct http_request *req, uint8_t *rest,
    size_t rest_len)
{
	struct auth_denial deny;
	struct ws_upgrade up;
	struct route *r;
	const char *reason = NULL;
	int status;

	if ((r = server_route_match(c->srv, req->path.p, req->path.len)) ==
	    NULL) {
		h1_error(c, 404, "no route for this path");
		return 1;
	}
	if ((status = ws_handshake_check(req, &up, &reason)) != 0) {
		h1_error(c, status, reason);
		return 1;
	}
	if (r->handler->check != NULL &&
	    (status = r->handler->check(r, req, &reason)) != 0) {
		h1_error(c, status, reason);
		return 1;
	}
	if (!auth_origin_ok(r->cfg->origins, up.origin.p, up.origin.len)) {
		c->srv->stats.origin_denied++;
		h1_error(c, 403, "origin not allowed");
		return 1;
	}
	switch (auth_decide(c, AUTH_KIND_UPGRADE, r, req, &deny)) {
	case AUTH_DENY:
		h1_error(c, deny.status, deny.reason);
		return 1;
	case AUTH_PENDING:
		return 0;
	case AUTH_ALLOW:
		break;
	}
	h1_upgrade_finish(c, r, req, &up, rest, rest_len);
	return 1;
}

/* Hand a complete request to the API; it answers before returning. */
static void
h1_serve(struct conn *c, const struct http_request *req, const uint8_t *body,
    size_t len)
{
	httpapi_serve(c, req, body, len);
	if (c->state == CONN_HTTP &&
	    (c->h1_flags & (H1_F_ANSWERED | H1_F_DEFERRED)) == 0)
		httpapi_error(c, 500, NULL, "the request got no answer");
}

/* The body is complete: parse the head again and serve the request. */
static void
h1_complete(struct conn *c)
{
	struct http_limits lim = {
		.max_head = c->head_len,
		.max_headers = HTTP_MAX_HEADERS_HARD,
	};
	struct http_request *req;

	/*
	 * The head was parsed when it arrived; parsing it again costs little
	 * and keeps the parsed request (several KiB) out of struct conn.
	 */
	if ((req = malloc(sizeof(*req))) == NULL) {
		conn_destroy(c, "out of memory");
		return;
	}
	if (http_parse_request(c->head, c->head_len, &lim, req, NULL) !=
	    (int)c->head_len) {
		free(req);
		conn_destroy(c, "request head changed");
		return;
	}
	h1_serve(c, req, (uint8_t *)c->head + c->head_len, c->body_len);
	free(req);
	/* A deferred answer finishes the request (h1_resume()). */
	if ((c->h1_flags & H1_F_DEFERRED) == 0)
		h1_done(c);
}

/*
 * A complete request head that is not an upgrade: refuse it, serve it, or
 * get ready to read its body.
 */
static void
h1_begin(struct conn *c, const struct http_request *req, size_t rest_len)
{
	const struct http_header *h;
	int has_body, keep;

	c->h1_flags &= ~(H1_F_KEEP | H1_F_HEAD | H1_F_ANSWERED);
	keep = h1_persistent(req) ? H1_F_KEEP : 0;
	if (http_str_eq(req->method, "HEAD"))
		c->h1_flags |= H1_F_HEAD;
	has_body = req->chunked || req->content_length > 0;
	/*
	 * An answer given before the body is read leaves the body on the
	 * wire, so such an answer is the connection's last.
	 */
	if (!has_body)
		c->h1_flags |= keep;
	h = req->version_minor >= 1 ? http_header_get(req, "expect") : NULL;
	if (h != NULL && !http_str_eq(h->value, "100-continue")) {
		httpapi_error(c, 417, NULL, "unsupported expectation "
		    "(only 100-continue is)");
		return;
	}
	if (req->content_length > (int64_t)h1_body_limit(c)) {
		httpapi_error(c, 413, NULL, "request body of %" PRId64 " bytes "
		    "is over the limit of %" PRIu32 " bytes (max_message_size)",
		    req->content_length, h1_body_limit(c));
		return;
	}
	switch (httpapi_check(c, req, 0)) {
	case HTTPAPI_ANSWERED:
	case HTTPAPI_WAIT:
		return;
	case HTTPAPI_PASS:
		if (server_route_match(c->srv, req->path.p, req->path.len) !=
		    NULL)
			h1_error(c, 426, "this is a WebSocket endpoint");
		else
			httpapi_error(c, 404, NULL, "no such endpoint: %.*s",
			    (int)req->path.len, req->path.p);
		return;
	case HTTPAPI_READ_BODY:
		break;
	}
	h1_accept(c, req, rest_len);
}

/*
 * The API accepted the request (endpoint, method, credentials): serve it
 * now, or get ready to read its body.
 */
static void
h1_accept(struct conn *c, const struct http_request *req, size_t rest_len)
{
	const struct http_header *h;
	int has_body, keep;

	keep = h1_persistent(req) ? H1_F_KEEP : 0;
	has_body = req->chunked || req->content_length > 0;
	h = req->version_minor >= 1 ? http_header_get(req, "expect") : NULL;
	c->h1_flags |= keep;
	if (!has_body) {
		h1_serve(c, req, NULL, 0);
		return;
	}
	if (h != NULL && rest_len == 0) {
		struct msg *m;

		/* curl waits a second for this before it sends a body. */
		if ((m = msg_new(sizeof(h1_continue) - 1)) == NULL) {
			conn_destroy(c, "out of memory");
			return;
		}
		memcpy(m->data, h1_continue, sizeof(h1_continue) - 1);
		conn_queue(c, m);
		msg_unref(m);
	}
	if (req->chunked) {
		c->h1_phase = H1_CHUNK_SIZE;
		c->h1_left = 0;
		c->h1_line = 0;
	} else {
		c->h1_phase = H1_BODY;
		c->h1_left = (uint32_t)req->content_length;
	}
}

/* Collect a request head; returns the bytes of |buf| it used. */
static size_t
h1_read_head(struct conn *c, uint8_t *buf, size_t n)
{
	const struct config *cfg = c->srv->cfg;
	struct http_limits lim;
	struct http_request *req;
	const char *reason = NULL;
	size_t room, take, skip = 0, used;
	uint32_t h0;
	int rv;

	if (c->head == NULL) {
		/* Blank lines before a request are ignored (RFC 9112 2.2). */
		while (skip < n && (buf[skip] == '\r' || buf[skip] == '\n'))
			skip++;
		if (skip == n)
			return n;
		buf += skip;
		n -= skip;
		if ((c->head = malloc(cfg->max_header_size)) == NULL) {
			conn_destroy(c, "out of memory");
			return skip + n;
		}
		c->h1_size = (uint32_t)cfg->max_header_size;
		/* Each request on a kept connection has handshake_timeout. */
		if (c->h1_flags & H1_F_SERVED)
			h1_deadline(c, cfg->handshake_timeout);
	}
	h0 = c->head_len;
	room = c->h1_size - h0;
	take = n < room ? n : room;
	memcpy(c->head + h0, buf, take);
	c->head_len += (uint32_t)take;
	if ((req = malloc(sizeof(*req))) == NULL) {
		conn_destroy(c, "out of memory");
		return skip + n;
	}
	lim.max_head = c->h1_size;
	lim.max_headers = (unsigned)cfg->max_headers;
	rv = http_parse_request(c->head, c->head_len, &lim, req, &reason);
	if (rv == 0 && c->head_len >= c->h1_size) {
		rv = -431;
		reason = "request header too large";
	}
	if (rv <= 0) {
		if (rv < 0) {
			h1_error(c, -rv,
			    reason != NULL ? reason : "bad request");
			h1_done(c);
		}
		free(req);
		return skip + (rv < 0 ? n : take);
	}
	/* The head ends in this read: what follows it is not the head's. */
	c->head_len = (uint32_t)rv;
	used = (size_t)rv - h0;
	if (ws_handshake_is_upgrade(req)) {
		if (h1_upgrade(c, req, buf + used, n - used))
			used = n;
	} else
		h1_begin(c, req, n - used);
	free(req);
	if (c->state == CONN_HTTP && c->h1_phase == H1_HEAD && !H1_WAITING(c))
		h1_done(c);
	return skip + used;
}

/*
 * Make room for |more| body bytes, growing the buffer geometrically but
 * never past a body of |total| bytes.
 */
static int
h1_reserve(struct conn *c, size_t more, size_t total)
{
	size_t need = (size_t)c->head_len + c->body_len + more, size;
	char *p;

	if (need <= c->h1_size)
		return 0;
	size = (size_t)c->h1_size * 2;
	if (size < need)
		size = need;
	if (size > (size_t)c->head_len + total)
		size = (size_t)c->head_len + total;
	if ((p = realloc(c->head, size)) == NULL) {
		conn_destroy(c, "out of memory for a request body");
		return -1;
	}
	c->head = p;
	c->h1_size = (uint32_t)size;
	return 0;
}

static void
h1_store(struct conn *c, const uint8_t *buf, size_t n)
{
	memcpy(c->head + c->head_len + c->body_len, buf, n);
	c->body_len += (uint32_t)n;
	c->h1_left -= (uint32_t)n;
}

/* Collect a Content-Length body; returns the bytes of |buf| it used. */
static size_t
h1_read_body(struct conn *c, uint8_t *buf, size_t n)
{
	size_t take = n < c->h1_left ? n : c->h1_left;

	if (h1_reserve(c, take, (size_t)c->body_len + c->h1_left) == -1)
		return n;
	h1_store(c, buf, take);
	if (c->h1_left == 0)
		h1_complete(c);
	return take;
}

static int
h1_is_ctl(uint8_t ch)
{
	return (ch < 0x20 && ch != '\t') || ch == 0x7f;
}

/*
 * Decode a chunked body (RFC 9112 7.1) as it arrives, strictly: every line
 * ends in CRLF, sizes are hex digits within the body limit, extensions and
 * trailer fields are bounded and ignored. Returns the bytes of |buf| used.
 */
static size_t
h1_read_chunked(struct conn *c, uint8_t *buf, size_t n)
{
	uint32_t limit = h1_body_limit(c);
	size_t i = 0, take;
	uint64_t size;
	uint8_t ch;
	int d;

	while (i < n) {
		if (c->h1_phase == H1_CHUNK_DATA) {
			take = n - i < c->h1_left ? n - i : c->h1_left;
			if (h1_reserve(c, take, limit) == -1)
				return n;
			h1_store(c, buf + i, take);
			i += take;
			if (c->h1_left == 0)
				c->h1_phase = H1_CHUNK_DATA_CR;
			continue;
		}
		ch = buf[i++];
		switch (c->h1_phase) {
		case H1_CHUNK_SIZE:
			if ((d = hex_digit(ch)) >= 0) {
				size = (uint64_t)c->h1_left * 16 + (unsigned)d;
				if (size > limit - c->body_len) {
					char why[128];

					snprintf(why, sizeof(why), "request "
					    "body over the limit of %" PRIu32
					    " bytes (max_message_size)", limit);
					return h1_fail(c, 413, why, n);
				}
				c->h1_left = (uint32_t)size;
				c->h1_line++;
				break;
			}
			if (c->h1_line == 0)
				return h1_fail(c, 400,
				    "chunk size expected", n);
			if (ch == ';')
				c->h1_phase = H1_CHUNK_EXT;
			else if (ch == ' ' || ch == '\t')
				c->h1_phase = H1_CHUNK_BWS;
			else if (ch == '\r')
				c->h1_phase = H1_CHUNK_SIZE_LF;
			else
				return h1_fail(c, 400,
				    "invalid character in chunk size", n);
			break;
		case H1_CHUNK_BWS:
			if (ch == ';')
				c->h1_phase = H1_CHUNK_EXT;
			else if (ch != ' ' && ch != '\t')
				return h1_fail(c, 400,
				    "invalid character after chunk size", n);
			if (++c->h1_line > H1_CHUNK_LINE_MAX)
				return h1_fail(c, 400,
				    "chunk line too long", n);
			break;
		case H1_CHUNK_EXT:
			if (ch == '\r')
				c->h1_phase = H1_CHUNK_SIZE_LF;
			else if (h1_is_ctl(ch))
				return h1_fail(c, 400,
				    "invalid character in chunk extension", n);
			if (++c->h1_line > H1_CHUNK_LINE_MAX)
				return h1_fail(c, 400,
				    "chunk line too long", n);
			break;
		case H1_CHUNK_SIZE_LF:
			if (ch != '\n')
				return h1_fail(c, 400,
				    "chunk size line not ended by CRLF", n);
			c->h1_line = 0;
			c->h1_phase = c->h1_left == 0 ? H1_TRAILER :
			    H1_CHUNK_DATA;
			break;
		case H1_CHUNK_DATA_CR:
			if (ch != '\r')
				return h1_fail(c, 400,
				    "chunk data not followed by CRLF", n);
			c->h1_phase = H1_CHUNK_DATA_LF;
			break;
		case H1_CHUNK_DATA_LF:
			if (ch != '\n')
				return h1_fail(c, 400,
				    "chunk data not followed by CRLF", n);
			c->h1_phase = H1_CHUNK_SIZE;
			c->h1_left = 0;
			c->h1_line = 0;
			break;
		case H1_TRAILER:
			if (ch == '\r')
				c->h1_phase = H1_TRAILER_END_LF;
			else if (ch <= ' ' || ch >= 0x7f || ch == ':')
				return h1_fail(c, 400,
				    "malformed trailer field", n);
			else
				c->h1_phase = H1_TRAILER_LINE;
			break;
		case H1_TRAILER_LINE:
			if (ch == '\r')
				c->h1_phase = H1_TRAILER_LF;
			else if (h1_is_ctl(ch))
				return h1_fail(c, 400,
				    "invalid character in trailer field", n);
			break;
		case H1_TRAILER_LF:
			if (ch != '\n')
				return h1_fail(c, 400,
				    "trailer field not ended by CRLF", n);
			c->h1_phase = H1_TRAILER;
			break;
		case H1_TRAILER_END_LF:
			if (ch != '\n')
				return h1_fail(c, 400,
				    "chunked body not ended by CRLF", n);
			h1_complete(c);
			return i;
		default:
			return h1_fail(c, 500, "bad body state", n);
		}
		if (c->h1_phase >= H1_TRAILER && ++c->h1_line > H1_TRAILER_MAX)
			return h1_fail(c, 431, "trailer section too large", n);
	}
	return i;
}

void
h1_read(struct conn *c, uint8_t *buf, size_t n)
{
	size_t used;

	while (n > 0 && c->state == CONN_HTTP &&
	    (c->h1_flags & H1_F_CLOSING) == 0 && !H1_WAITING(c)) {
		if (c->h1_phase == H1_HEAD)
			used = h1_read_head(c, buf, n);
		else if (c->h1_phase == H1_BODY)
			used = h1_read_body(c, buf, n);
		else
			used = h1_read_chunked(c, buf, n);
		buf += used;
		n -= used;
	}
	/* Pipelined bytes after a request whose answer comes later. */
	if (n > 0 && c->state == CONN_HTTP && (c->h1_flags & H1_F_DEFERRED)) {
		h1_stash(c, buf, n);
		return;
	}
	/* What came with a head that waits for a decision is kept for it. */
	if (n > 0 && c->state == CONN_HTTP && H1_WAITING(c) &&
	    auth_stash(c, buf, n) == -1)
		conn_destroy(c, "out of memory keeping input during "
		    "authentication");
}

void
h1_auth_done(struct conn *c, int kind, int allowed,
    const struct auth_denial *deny, uint8_t *stash, size_t len)
{
	struct http_limits lim = {
		.max_head = c->head_len,
		.max_headers = HTTP_MAX_HEADERS_HARD,
	};
	struct http_request *req;
	struct ws_upgrade up;
	struct route *r;
	const char *reason = NULL;

	if (c->io & CONN_IO_STREAM) {
		h2_auth_done(c, kind, allowed, deny, stash, len);
		return;
	}
	if (c->state != CONN_HTTP || c->head == NULL)
		return;
	/* The head waited in its buffer; parse it again, as h1_complete(). */
	if ((req = malloc(sizeof(*req))) == NULL ||
	    http_parse_request(c->head, c->head_len, &lim, req, NULL) !=
	    (int)c->head_len) {
		free(req);
		conn_destroy(c, "request head lost during authentication");
		return;
	}
	if (kind == AUTH_KIND_UPGRADE) {
		if (!allowed)
			h1_error(c, deny->status, deny->reason);
		else if ((r = server_route_match(c->srv, req->path.p,
		    req->path.len)) == NULL)
			h1_error(c, 404, "no route for this path");
		else if (ws_handshake_check(req, &up, &reason) != 0)
			h1_error(c, 400, reason);
		else {
			h1_upgrade_finish(c, r, req, &up, stash, len);
			len = 0;
		}
	} else if (!allowed)
		httpapi_error(c, deny->status, deny->status == 401 ?
		    "WWW-Authenticate: Bearer realm=\"wshub\"\r\n" : NULL,
		    "%s", deny->reason);
	else if (httpapi_check(c, req, 1) == HTTPAPI_READ_BODY)
		h1_accept(c, req, len);
	free(req);
	if (c->state == CONN_HTTP && c->h1_phase == H1_HEAD)
		h1_done(c);
	if (len > 0)
		h1_read(c, stash, len);
}

void
h1_defer(struct conn *c)
{
	if (c->state != CONN_HTTP || (c->h1_flags & H1_F_ANSWERED))
		return;
	c->h1_flags |= H1_F_DEFERRED;
	/*
	 * The next request must not be read, let alone answered, before
	 * this one: input waits in the kernel, and what is already read
	 * waits after the request's body in its buffer (h1_stash()). The
	 * request's deadline (handshake_timeout) still bounds the wait.
	 */
	conn_pause_read(c, 1);
}

/*
 * Keep |n| bytes read after a deferred request, after its head and body
 * in the request buffer, counted in h1_left (no body is being read).
 * Reading is paused, so this is at most the rest of one read.
 */
static void
h1_stash(struct conn *c, const uint8_t *buf, size_t n)
{
	size_t used = (size_t)c->head_len + c->body_len + c->h1_left;
	char *p;

	if (c->head == NULL || used + n > UINT32_MAX ||
	    (p = realloc(c->head, used + n)) == NULL) {
		conn_destroy(c, "out of memory keeping pipelined input");
		return;
	}
	memcpy(p + used, buf, n);
	c->head = p;
	c->h1_left += (uint32_t)n;
	c->h1_size = (uint32_t)(used + n);
}

/* The deferred answer is queued: finish the request, read what waited. */
static void
h1_resume(struct conn *c)
{
	uint8_t *rest = NULL;
	size_t n = c->h1_left;

	c->h1_flags &= ~H1_F_DEFERRED;
	if (n > 0 && (rest = malloc(n)) == NULL) {
		conn_destroy(c, "out of memory");
		return;
	}
	if (n > 0)
		memcpy(rest, c->head + c->head_len + c->body_len, n);
	c->h1_left = 0;
	conn_pause_read(c, 0);
	h1_done(c);
	if (n > 0)
		h1_read(c, rest, n);
	free(rest);
}
