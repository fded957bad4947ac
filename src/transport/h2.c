/* HTTP/2 with nghttp2: sessions on connections, WebSockets on streams (RFC 8441). */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <nghttp2/nghttp2.h>

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
#include "transport/tls.h"
#include "util/log.h"
#include "util/msg.h"

/* The client connection preface begins with this (RFC 9113 3.4). */
#define H2_PREFACE_START	"PRI "
/* Message slices one DATA frame may carry. */
#define H2_FLY_MAX		64
/* Queued leftovers of the carrying connection written per writev(). */
#define H2_LEFT_BATCH		64

/* h2_stream->flags */
#define H2S_F_WS		0x01	/* extended CONNECT for a WebSocket */
#define H2S_F_DEFERRED		0x02	/* our data source waits for data */
#define H2S_F_PROVIDER		0x04	/* a response with a body is out */
#define H2S_F_CLOSED		0x08	/* nghttp2 closed the stream */
#define H2S_F_ENDED		0x10	/* the client ended its side */
#define H2S_F_ANSWERED		0x20	/* the response is submitted */

/* h2_session->flags */
#define H2_F_DIRTY		0x01	/* on the loop's dirty list */
#define H2_F_GOAWAY		0x02	/* GOAWAY submitted; no new streams */
#define H2_F_FREEING		0x04	/* h2_session_free() is running */
#define H2_F_GOAWAY_LATER	0x08	/* GOAWAY once the streams are gone */

/*
 * One stream as nghttp2 knows it. Its conn (a WebSocket or an HTTP
 * request) is made when the request's headers begin and may go first
 * (timeouts, slow consumers); the stream stays until nghttp2 closes it.
 */
struct h2_stream {
	struct h2_session	*sess;
	struct conn		*c;		/* NULL once the conn is gone */
	int32_t			 id;
	uint8_t			 flags;
	uint16_t		 status;	/* refuse with this, 0 = fine */
	char			 method[16];
	char			 protocol[16];
	char			*path;
	char			*authority;
	char			*hdrs;		/* "name: value\r\n"... */
	size_t			 hdrs_len;
	size_t			 hdrs_size;
	size_t			 list;		/* header list size, RFC 9113 */
	unsigned		 nhdrs;
	char			*body;
	size_t			 body_len;
	TAILQ_ENTRY(h2_stream)	 link;
};

TAILQ_HEAD(h2_stream_list, h2_stream);

struct h2_session {
	nghttp2_session		*ng;
	struct conn		*c;		/* the carrying connection */
	struct h2_stream_list	 streams;
	size_t			 nstreams;
	uint8_t			 flags;
	/*
	 * The DATA frame nghttp2 is sending: its payload as slices of queued
	 * messages, referenced here from the read callback (which consumed
	 * them from the stream's queue) until the send callback hands them
	 * to the write. nghttp2 sends one frame at a time per session.
	 */
	struct iovec		 fly[H2_FLY_MAX];
	struct msg		*fly_ref[H2_FLY_MAX];
	int			 fly_cnt;
	/* Stream resets by the client in the current second. */
	uint32_t		 rst_tick;
	uint32_t		 rst_count;
	LIST_ENTRY(h2_session)	 dirty_link;
};

static struct h2_loop *
h2_loop_get(struct server *srv)
{
	if (srv->h2 == NULL && (srv->h2 = calloc(1, sizeof(*srv->h2))) != NULL)
		LIST_INIT(&srv->h2->dirty);
	return srv->h2;
}

void
h2_loop_free(struct server *srv)
{
	free(srv->h2);
	srv->h2 = NULL;
}

/* Write |s| in this turn's flush pass, after every stream has queued. */
static void
h2_dirty(struct h2_session *s)
{
	struct h2_loop *hl;

	if ((s->flags & H2_F_DIRTY) ||
	    (hl = h2_loop_get(s->c->srv)) == NULL)
		return;
	s->flags |= H2_F_DIRTY;
	LIST_INSERT_HEAD(&hl->dirty, s, dirty_link);
}

int
h2_wanted(const struct conn *c, const uint8_t *buf, size_t n)
{
	if ((c->flags & CONN_F_H2_OK) == 0)
		return 0;
	if (tls_alpn_h2(c))
		return 1;
	return n >= 4 && memcmp(buf, H2_PREFACE_START, 4) == 0;
}

const struct conn *
h2_stream_carrier(const struct conn *c)
{
	struct h2_stream *st = c->ext->h2.stream;

	return st != NULL && st->sess != NULL ? st->sess->c : NULL;
}

static void
h2_stream_free(struct h2_stream *st)
{
	free(st->path);
	free(st->authority);
	free(st->hdrs);
	free(st->body);
	free(st);
}

/* ----- output ----- */

/* Release the slices of the gathered write. */
static void
h2_batch_reset(struct h2_loop *hl)
{
	for (int i = 0; i < hl->cnt; i++)
		msg_unref(hl->refs[i]);
	hl->cnt = 0;
	hl->total = 0;
	hl->blen = 0;
}

/* Append |len| bytes copied into the scratch; -1 when full. */
static int
h2_batch_copy(struct h2_loop *hl, const uint8_t *p, size_t len)
{
	uint8_t *dst = hl->bytes + hl->blen;

	if (len > H2_BYTES_MAX - hl->blen)
		return -1;
	memcpy(dst, p, len);
	hl->blen += len;
	hl->total += len;
	/* Consecutive frames in the scratch are one piece. */
	if (hl->cnt > 0 && hl->refs[hl->cnt - 1] == NULL &&
	    (uint8_t *)hl->iov[hl->cnt - 1].iov_base +
	    hl->iov[hl->cnt - 1].iov_len == dst) {
		hl->iov[hl->cnt - 1].iov_len += len;
		return 0;
	}
	if (hl->cnt == H2_IOV_MAX) {
		hl->blen -= len;
		hl->total -= len;
		return -1;
	}
	hl->iov[hl->cnt].iov_base = dst;
	hl->iov[hl->cnt].iov_len = len;
	hl->refs[hl->cnt++] = NULL;
	return 0;
}

static ssize_t
h2_send_cb(nghttp2_session *ng, const uint8_t *data, size_t len, int flags,
    void *arg)
{
	struct h2_session *s = arg;
	struct h2_loop *hl = s->c->srv->h2;

	(void)ng;
	(void)flags;
	if (len > H2_BYTES_MAX - hl->blen && hl->blen == 0)
		len = H2_BYTES_MAX;	/* the rest comes in the next call */
	if (h2_batch_copy(hl, data, len) == -1)
		return NGHTTP2_ERR_WOULDBLOCK;
	return (ssize_t)len;
}

static int
h2_send_data_cb(nghttp2_session *ng, nghttp2_frame *frame,
    const uint8_t *framehd, size_t length, nghttp2_data_source *src,
    void *arg)
{
	struct h2_session *s = arg;
	struct h2_loop *hl = s->c->srv->h2;
	size_t blen = hl->blen, total = hl->total;
	int cnt = hl->cnt;

	(void)ng;
	(void)src;
	(void)length;
	if (hl->cnt + 1 + s->fly_cnt > H2_IOV_MAX ||
	    h2_batch_copy(hl, framehd, 9) == -1)
		return NGHTTP2_ERR_WOULDBLOCK;
	if (frame->data.padlen > 0) {
		/* We never pad; nghttp2 would only if asked to. */
		hl->blen = blen;
		hl->total = total;
		hl->cnt = cnt;
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	/* The slices change hands: the write now holds the references. */
	for (int i = 0; i < s->fly_cnt; i++) {
		hl->iov[hl->cnt] = s->fly[i];
		hl->refs[hl->cnt++] = s->fly_ref[i];
		hl->total += s->fly[i].iov_len;
	}
	s->fly_cnt = 0;
	return 0;
}

/*
 * nghttp2 wants up to |length| bytes of stream |sid|'s DATA: offer the
 * stream's queued messages in place (NO_COPY). The slices are taken off
 * the queue now and held by the session, so a slow-consumer drop in
 * between cannot change what the frame carries.
 */
static ssize_t
h2_data_read_cb(nghttp2_session *ng, int32_t sid, uint8_t *buf, size_t length,
    uint32_t *dflags, nghttp2_data_source *src, void *arg)
{
	struct h2_stream *st = src->ptr;
	struct h2_session *s = arg;
	struct conn *c = st->c;
	size_t n = 0;
	uint32_t off;

	(void)ng;
	(void)sid;
	(void)buf;
	if (c == NULL) {
		*dflags |= NGHTTP2_DATA_FLAG_EOF;
		return 0;
	}
	off = c->out_off;
	for (uint32_t i = 0; i < c->oq_count && n < length &&
	    s->fly_cnt < H2_FLY_MAX; i++) {
		struct msg *m = c->oq[(c->oq_head + i) & (c->oq_cap - 1)];
		size_t take = m->len - off;

		if (take > length - n)
			take = length - n;
		s->fly[s->fly_cnt].iov_base = m->data + off;
		s->fly[s->fly_cnt].iov_len = take;
		s->fly_ref[s->fly_cnt++] = msg_ref(m);
		n += take;
		off = 0;
	}
	if (n > 0)
		conn_consume(c, n);
	if (c->oq_count == 0) {
		free(c->oq);
		c->oq = NULL;
		c->oq_cap = c->oq_head = 0;
		if (c->flags & CONN_F_SHUT_AFTER) {
			/* The last frame of the WebSocket or the response. */
			c->flags &= ~CONN_F_SHUT_AFTER;
			*dflags |= NGHTTP2_DATA_FLAG_EOF;
			if (c->state == CONN_WS || c->state == CONN_CLOSING)
				conn_closing(c, CONN_LINGER);
		}
	}
	if (n == 0 && (*dflags & NGHTTP2_DATA_FLAG_EOF) == 0) {
		st->flags |= H2S_F_DEFERRED;
		return NGHTTP2_ERR_DEFERRED;
	}
	*dflags |= NGHTTP2_DATA_FLAG_NO_COPY;
	return (ssize_t)n;
}

/*
 * Write the carrying connection's leftovers (bytes of a gathered write the
 * socket did not take). Returns 1 when nothing waits, 0 when the socket is
 * full, -1 when the connection died.
 */
static int
h2_write_left(struct conn *c)
{
	struct iovec iov[H2_LEFT_BATCH];

	while (c->oq_count > 0 || tls_pending_write(c)) {
		size_t want = 0;
		ssize_t n;
		int cnt = 0;

		for (uint32_t i = 0; i < c->oq_count && cnt < H2_LEFT_BATCH;
		    i++, cnt++) {
			struct msg *m = c->oq[(c->oq_head + i) &
			    (c->oq_cap - 1)];
			size_t off = i == 0 ? c->out_off : 0;

			iov[cnt].iov_base = m->data + off;
			iov[cnt].iov_len = m->len - off;
			want += iov[cnt].iov_len;
		}
		if ((n = conn_io_writev(c, iov, cnt)) < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			conn_destroy(c, "write failed");
			return -1;
		}
		if (n > 0)
			conn_consume(c, (size_t)n);
		if ((size_t)n < want || tls_pending_write(c))
			return c->oq_count == 0 && !tls_pending_write(c);
	}
	free(c->oq);
	c->oq = NULL;
	c->oq_cap = c->oq_head = 0;
	return 1;
}

/*
 * Write the gathered frames in one go; what the socket does not take is
 * copied to the connection's queue (the only copy, and only when full).
 * Returns 1 when all was written, 0 when some waits, -1 on death.
 */
static int
h2_batch_write(struct conn *c, struct h2_loop *hl)
{
	size_t left, skip;
	ssize_t n;
	struct msg *m;
	uint8_t *p;

	if (hl->cnt == 0)
		return 1;
	n = conn_io_writev(c, hl->iov, hl->cnt);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR) {
			h2_batch_reset(hl);
			conn_destroy(c, "write failed");
			return -1;
		}
		n = 0;
	}
	c->bytes_out += (size_t)n;
	if ((size_t)n == hl->total) {
		h2_batch_reset(hl);
		return 1;
	}
	left = hl->total - (size_t)n;
	if ((m = msg_new(left)) == NULL) {
		h2_batch_reset(hl);
		conn_destroy(c, "out of memory for output");
		return -1;
	}
	p = m->data;
	skip = (size_t)n;
	for (int i = 0; i < hl->cnt; i++) {
		size_t len = hl->iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		memcpy(p, (uint8_t *)hl->iov[i].iov_base + skip, len - skip);
		p += len - skip;
		skip = 0;
	}
	h2_batch_reset(hl);
	conn_queue(c, m);
	msg_unref(m);
	return 0;
}

/* Close a session's connection whose work is over, kindly. */
static void
h2_finish(struct conn *c)
{
	if (c->state != CONN_HTTP)
		return;
	if (conn_tls(c) != NULL)
		tls_close_notify(c);
	shutdown(c->fd, SHUT_WR);
	conn_closing(c, CONN_LINGER);
}

void
h2_session_flush(struct conn *c)
{
	struct h2_session *s = c->ext->h2.sess;
	struct h2_loop *hl;
	int rv;

	if (c->state == CONN_DEAD || s == NULL)
		return;
	if ((hl = h2_loop_get(c->srv)) == NULL) {
		conn_destroy(c, "out of memory");
		return;
	}
	if ((rv = h2_write_left(c)) <= 0) {
		if (rv == 0)
			c->flags |= CONN_F_WRITE_WAIT;
		return;
	}
	if (c->state == CONN_LINGER)
		return;
again:
	for (;;) {
		if ((rv = nghttp2_session_send(s->ng)) != 0) {
			h2_batch_reset(hl);
			conn_destroy(c, nghttp2_strerror(rv));
			return;
		}
		if (hl->cnt == 0)
			break;
		if ((rv = h2_batch_write(c, hl)) == -1)
			return;
		if (rv == 0) {
			c->flags |= CONN_F_WRITE_WAIT;
			return;
		}
	}
	if ((s->flags & H2_F_GOAWAY_LATER) && s->nstreams == 0) {
		/*
		 * Some clients (python-h2) take GOAWAY for the end of every
		 * stream, so it comes once the WebSockets have closed (or timed
		 * out), not before their close frames (nghttp2 would send it
		 * first: control frames go before DATA).
		 */
		s->flags &= ~H2_F_GOAWAY_LATER;
		nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE,
		    nghttp2_session_get_last_proc_stream_id(s->ng),
		    NGHTTP2_NO_ERROR, NULL, 0);
		goto again;
	}
	c->flags &= ~CONN_F_WRITE_WAIT;
	if ((!nghttp2_session_want_read(s->ng) &&
	    !nghttp2_session_want_write(s->ng)) ||
	    ((s->flags & H2_F_GOAWAY) && s->nstreams == 0))
		h2_finish(c);
}

void
h2_flush_sessions(struct server *srv)
{
	struct h2_loop *hl = srv->h2;
	struct h2_session *s;

	if (hl == NULL)
		return;
	while ((s = LIST_FIRST(&hl->dirty)) != NULL) {
		LIST_REMOVE(s, dirty_link);
		s->flags &= ~H2_F_DIRTY;
		/* One waiting for room is written on its EPOLLOUT edge. */
		if ((s->c->flags & CONN_F_WRITE_WAIT) == 0)
			h2_session_flush(s->c);
	}
}

void
h2_stream_flush(struct conn *c)
{
	struct h2_stream *st = c->ext->h2.stream;
	struct h2_session *s;

	if (st == NULL || (s = st->sess) == NULL)
		return;
	if (c->flags & CONN_F_SLOW)
		conn_kick_slow(c);
	if (c->state == CONN_DEAD)
		return;
	if ((st->flags & H2S_F_DEFERRED) &&
	    (c->oq_count > 0 || (c->flags & CONN_F_SHUT_AFTER))) {
		st->flags &= ~H2S_F_DEFERRED;
		nghttp2_session_resume_data(s->ng, st->id);
	}
	h2_dirty(s);
}

/* ----- responses ----- */

/* Header lines "Name: value\r\n" as nghttp2 pairs (names lowercased). */
static size_t
h2_lines_to_nv(char *lines, size_t len, nghttp2_nv *nv, size_t max)
{
	char *p = lines, *end = lines + len;
	size_t n = 0;

	while (p < end && n < max) {
		char *eol = memchr(p, '\n', (size_t)(end - p)), *colon, *v;
		size_t vlen;

		if (eol == NULL)
			eol = end;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon != NULL && colon > p) {
			for (char *q = p; q < colon; q++)
				if (*q >= 'A' && *q <= 'Z')
					*q = (char)(*q - 'A' + 'a');
			v = colon + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			vlen = (size_t)(eol - v);
			while (vlen > 0 && (v[vlen - 1] == '\r' ||
			    v[vlen - 1] == ' '))
				vlen--;
			/* Connection-specific fields have no place in h2. */
			if (!((colon - p == 10 &&
			    memcmp(p, "connection", 10) == 0) ||
			    (colon - p == 7 && memcmp(p, "upgrade", 7) == 0) ||
			    (colon - p == 10 &&
			    memcmp(p, "keep-alive", 10) == 0))) {
				nv[n].name = (uint8_t *)p;
				nv[n].namelen = (size_t)(colon - p);
				nv[n].value = (uint8_t *)v;
				nv[n].valuelen = vlen;
				nv[n].flags = NGHTTP2_NV_FLAG_NONE;
				n++;
			}
		}
		p = eol + 1;
	}
	return n;
}

#define H2_RESP_NV_MAX		32

/* Submit the response headers of |st|, with our data source unless |eos|. */
static int
h2_submit(struct h2_stream *st, int status, const char *ctype,
    const char *clen, const char *lines, size_t len, int eos)
{
	nghttp2_nv nv[H2_RESP_NV_MAX];
	nghttp2_data_provider prd;
	char sbuf[8], *copy = NULL;
	size_t n = 0;
	int rv;

	if (st->flags & (H2S_F_ANSWERED | H2S_F_CLOSED))
		return -1;
	snprintf(sbuf, sizeof(sbuf), "%d", status);
	nv[n++] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)sbuf, 7,
	    strlen(sbuf), NGHTTP2_NV_FLAG_NONE };
	if (ctype != NULL)
		nv[n++] = (nghttp2_nv){ (uint8_t *)"content-type",
		    (uint8_t *)ctype, 12, strlen(ctype), NGHTTP2_NV_FLAG_NONE };
	if (clen != NULL)
		nv[n++] = (nghttp2_nv){ (uint8_t *)"content-length",
		    (uint8_t *)clen, 14, strlen(clen), NGHTTP2_NV_FLAG_NONE };
	if (lines != NULL && len > 0) {
		if ((copy = malloc(len)) == NULL)
			return -1;
		memcpy(copy, lines, len);
		n += h2_lines_to_nv(copy, len, nv + n, H2_RESP_NV_MAX - n);
	}
	prd.source.ptr = st;
	prd.read_callback = h2_data_read_cb;
	/* nghttp2 copies the header block before returning. */
	rv = nghttp2_submit_response(st->sess->ng, st->id, nv, n,
	    eos ? NULL : &prd);
	free(copy);
	if (rv != 0)
		return -1;
	st->flags |= H2S_F_ANSWERED | (eos ? 0 : H2S_F_PROVIDER);
	h2_dirty(st->sess);
	return 0;
}

int
h2_stream_accept(struct conn *c, const char *lines, size_t len)
{
	struct h2_stream *st = c->ext->h2.stream;

	if (st == NULL || st->sess == NULL)
		return -1;
	return h2_submit(st, 200, NULL, NULL, lines, len, 0);
}

int
h2_respond(struct conn *c, int status, const char *ctype, const char *extra,
    const void *body, size_t len)
{
	struct h2_stream *st = c->ext->h2.stream;
	char clen[24];
	struct msg *m = NULL;
	int head;

	if (st == NULL || st->sess == NULL || c->state != CONN_HTTP ||
	    (st->flags & H2S_F_ANSWERED))
		return -1;
	head = strcmp(st->method, "HEAD") == 0;
	snprintf(clen, sizeof(clen), "%zu", len);
	if (!head && len > 0) {
		if (len > MSG_MAX_LEN || (m = msg_new(len)) == NULL) {
			conn_destroy(c, "out of memory for a response");
			return -1;
		}
		memcpy(m->data, body, len);
		conn_queue(c, m);
		msg_unref(m);
	}
	/* The data source ends the stream once the body is out. */
	c->flags |= CONN_F_SHUT_AFTER;
	if (h2_submit(st, status, ctype, clen, extra,
	    extra != NULL ? strlen(extra) : 0, m == NULL) == -1) {
		conn_destroy(c, "cannot submit a response");
		return -1;
	}
	if (m == NULL)
		c->flags &= ~CONN_F_SHUT_AFTER;
	/* A deferred answer (h1_defer()) lets the stream read again. */
	c->flags &= ~CONN_F_READ_PAUSED;
	return 0;
}

/* Refuse the request of |st| with |status| and a one-line text. */
static void
h2_refuse(struct h2_stream *st, int status, const char *why)
{
	char body[256];
	int n;

	if (st->c == NULL)
		return;
	log_debug("conn %016" PRIx64 ": refused on HTTP/2 stream %d: %d %s",
	    st->c->id, st->id, status, why);
	server_handshake_failed(st->c->srv, status);
	n = snprintf(body, sizeof(body), "%s\n", why);
	if (n < 0)
		n = 0;
	else if ((size_t)n >= sizeof(body))
		n = sizeof(body) - 1;
	h2_respond(st->c, status, "text/plain; charset=utf-8",
	    status == 400 && (st->flags & H2S_F_WS) ?
	    "Sec-WebSocket-Version: 13\r\n" : NULL, body, (size_t)n);
}

/* ----- requests ----- */

/*
 * Build the request of |st| as an HTTP/1.1 head in its conn's head buffer,
 * followed by its body, and parse it: every check, route, handler, the API
 * and the authenticator then see the request exactly as over HTTP/1.1.
 */
static int
h2_build_request(struct h2_stream *st, struct http_request *req)
{
	struct conn *c = st->c;
	struct http_limits lim;
	const char *reason = NULL;
	const char *method = (st->flags & H2S_F_WS) ? "GET" : st->method;
	size_t size;
	char *p;
	int n, rv;

	/* Room for the request line, Host, the fields and Content-Length. */
	size = strlen(method) + strlen(st->path) + strlen(st->authority) +
	    st->hdrs_len + 80;
	if ((p = malloc(size + st->body_len)) == NULL) {
		conn_destroy(c, "out of memory");
		return -1;
	}
	n = snprintf(p, size, "%s %s HTTP/1.1\r\nHost: %s\r\n%.*s",
	    method, st->path, st->authority, (int)st->hdrs_len,
	    st->hdrs != NULL ? st->hdrs : "");
	if (st->body_len > 0 || strcmp(method, "POST") == 0 ||
	    strcmp(method, "PUT") == 0)
		n += snprintf(p + n, size - (size_t)n,
		    "Content-Length: %zu\r\n", st->body_len);
	n += snprintf(p + n, size - (size_t)n, "\r\n");
	if (st->body_len > 0)
		memcpy(p + n, st->body, st->body_len);
	free(c->head);
	c->head = p;
	c->head_len = (uint32_t)n;
	c->body_len = (uint32_t)st->body_len;
	c->h1_size = (uint32_t)(size + st->body_len);
	lim.max_head = (size_t)n;
	lim.max_headers = HTTP_MAX_HEADERS_HARD;
	rv = http_parse_request(c->head, (size_t)n, &lim, req, &reason);
	if (rv != n) {
		h2_refuse(st, rv < 0 ? -rv : 400,
		    reason != NULL ? reason : "bad request");
		return -1;
	}
	return 0;
}

/* Serve an API request whose body is complete. */
static void
h2_serve(struct h2_stream *st, struct http_request *req, int authed)
{
	struct conn *c = st->c;
	enum httpapi_verdict v;

	v = httpapi_check(c, req, authed);
	if (c->state != CONN_HTTP)
		return;
	switch (v) {
	case HTTPAPI_ANSWERED:
	case HTTPAPI_WAIT:
		return;
	case HTTPAPI_PASS:
		if (server_route_match(c->srv, req->path.p, req->path.len) !=
		    NULL)
			h2_refuse(st, 400, "this is a WebSocket endpoint: use "
			    "extended CONNECT with :protocol websocket");
		else
			httpapi_error(c, 404, NULL, "no such endpoint: %.*s",
			    (int)req->path.len, req->path.p);
		return;
	case HTTPAPI_READ_BODY:
		break;
	}
	httpapi_serve(c, req, c->body_len > 0 ?
	    (const uint8_t *)c->head + c->head_len : NULL, c->body_len);
	if (c->state == CONN_HTTP && (st->flags & H2S_F_ANSWERED) == 0 &&
	    (c->flags & CONN_F_READ_PAUSED) == 0)
		httpapi_error(c, 500, NULL, "the request got no answer");
}

/* The WebSocket is authenticated: check permissions, answer 200, open. */
static void
h2_ws_finish(struct h2_stream *st, struct route *r,
    const struct http_request *req, const struct ws_upgrade *up,
    uint8_t *rest, size_t rest_len)
{
	struct conn *c = st->c;
	const char *reason = NULL;
	int status;

	if (c->ident != NULL && r->handler->authorize != NULL &&
	    (status = r->handler->authorize(c, r, req, &reason)) != 0) {
		c->srv->stats.authz_denied++;
		h2_refuse(st, status, reason);
		return;
	}
	if ((status = conn_ws_start(c, r, req, up)) != 0) {
		h2_refuse(st, status, "internal error");
		return;
	}
	/* conn_ws_start() released the head. */
	log_debug("conn %016" PRIx64 ": WebSocket on HTTP/2 stream %d of conn "
	    "%016" PRIx64 " (RFC 8441)", c->id, st->id, st->sess->c->id);
	if (rest_len > 0)
		conn_ws_feed(c, rest, rest_len);
}

/* What RFC 6455's handshake fields say, as ws_handshake_check() would. */
static int
h2_ws_fields(const struct http_request *req, struct ws_upgrade *up,
    const char **reason)
{
	const struct http_header *h;

	memset(up, 0, sizeof(*up));
	h = http_header_get(req, "sec-websocket-version");
	if (h != NULL && !(h->value.len == 2 &&
	    memcmp(h->value.p, "13", 2) == 0)) {
		*reason = "unsupported Sec-WebSocket-Version (13 is)";
		return 400;
	}
	if (http_header_count(req, "sec-websocket-protocol") > 1 ||
	    http_header_count(req, "sec-websocket-version") > 1 ||
	    http_header_count(req, "origin") > 1) {
		*reason = "repeated WebSocket header";
		return 400;
	}
	if ((h = http_header_get(req, "sec-websocket-protocol")) != NULL)
		up->protocols = h->value;
	if ((h = http_header_get(req, "sec-websocket-extensions")) != NULL)
		up->extensions = h->value;
	if ((h = http_header_get(req, "origin")) != NULL)
		up->origin = h->value;
	if ((h = http_header_get(req, "host")) != NULL)
		up->host = h->value;
	return 0;
}

/* Extended CONNECT for a WebSocket, through the same checks as HTTP/1.1. */
static void
h2_ws_request(struct h2_stream *st, struct http_request *req)
{
	struct conn *c = st->c;
	struct auth_denial deny;
	struct ws_upgrade up;
	struct route *r;
	const char *reason = NULL;
	int status;

	if ((r = server_route_match(c->srv, req->path.p, req->path.len)) ==
	    NULL) {
		h2_refuse(st, 404, "no route for this path");
		return;
	}
	if ((status = h2_ws_fields(req, &up, &reason)) != 0) {
		h2_refuse(st, status, reason);
		return;
	}
	if (r->handler->check != NULL &&
	    (status = r->handler->check(r, req, &reason)) != 0) {
		h2_refuse(st, status, reason);
		return;
	}
	if (!auth_origin_ok(r->cfg->origins, up.origin.p, up.origin.len)) {
		c->srv->stats.origin_denied++;
		h2_refuse(st, 403, "origin not allowed");
		return;
	}
	switch (auth_decide(c, AUTH_KIND_UPGRADE, r, req, &deny)) {
	case AUTH_DENY:
		h2_refuse(st, deny.status, deny.reason);
		return;
	case AUTH_PENDING:
		return;
	case AUTH_ALLOW:
		break;
	}
	h2_ws_finish(st, r, req, &up, NULL, 0);
}

void
h2_auth_done(struct conn *c, int kind, int allowed,
    const struct auth_denial *deny, uint8_t *stash, size_t len)
{
	struct h2_stream *st = c->ext->h2.stream;
	struct http_limits lim = {
		.max_head = c->head_len,
		.max_headers = HTTP_MAX_HEADERS_HARD,
	};
	struct http_request *req;
	struct ws_upgrade up;
	struct route *r;
	const char *reason = NULL;

	if (st == NULL || c->state != CONN_HTTP || c->head == NULL)
		return;
	if ((req = malloc(sizeof(*req))) == NULL ||
	    http_parse_request(c->head, c->head_len, &lim, req, NULL) !=
	    (int)c->head_len) {
		free(req);
		conn_destroy(c, "request head lost during authentication");
		return;
	}
	if (kind == AUTH_KIND_UPGRADE) {
		if (!allowed)
			h2_refuse(st, deny->status, deny->reason);
		else if ((r = server_route_match(c->srv, req->path.p,
		    req->path.len)) == NULL)
			h2_refuse(st, 404, "no route for this path");
		else if (h2_ws_fields(req, &up, &reason) != 0)
			h2_refuse(st, 400, reason);
		else
			h2_ws_finish(st, r, req, &up, stash, len);
	} else if (!allowed)
		httpapi_error(c, deny->status, deny->status == 401 ?
		    "WWW-Authenticate: Bearer realm=\"wshub\"\r\n" : NULL,
		    "%s", deny->reason);
	else
		h2_serve(st, req, 1);
	free(req);
}

/* The request of |st| is complete (headers, and body unless CONNECT). */
static void
h2_request(struct h2_stream *st)
{
	struct http_request *req;

	if (st->c == NULL)
		return;
	if (st->status != 0) {
		h2_refuse(st, st->status, st->status == 431 ?
		    "request header too large" : "request body too large");
		return;
	}
	if (strcmp(st->method, "CONNECT") == 0 && !(st->flags & H2S_F_WS)) {
		/*
		 * Plain CONNECT asks for a tunnel, which we do not make; an
		 * extended CONNECT for another protocol likewise: 501, the
		 * method (or protocol) is not implemented here.
		 */
		h2_refuse(st, 501, st->protocol[0] != '\0' ?
		    "unsupported :protocol (websocket is)" :
		    "CONNECT is not supported (use :protocol websocket)");
		return;
	}
	if (st->path == NULL || st->authority == NULL) {
		/* nghttp2 checked the pseudo-headers; :authority may lack. */
		if (st->authority == NULL &&
		    (st->authority = strdup("")) == NULL) {
			conn_destroy(st->c, "out of memory");
			return;
		}
		if (st->path == NULL) {
			h2_refuse(st, 400, "no :path");
			return;
		}
	}
	if ((req = malloc(sizeof(*req))) == NULL) {
		conn_destroy(st->c, "out of memory");
		return;
	}
	if (h2_build_request(st, req) == 0) {
		if (st->flags & H2S_F_WS)
			h2_ws_request(st, req);
		else
			h2_serve(st, req, 0);
	}
	free(req);
	/* What the request was made of lives on in the conn's head buffer. */
	free(st->body);
	free(st->hdrs);
	free(st->path);
	free(st->authority);
	st->body = st->hdrs = st->path = st->authority = NULL;
	st->body_len = st->hdrs_len = st->hdrs_size = 0;
}

/* ----- nghttp2 callbacks ----- */

static struct h2_stream *
h2_stream_of(struct h2_session *s, int32_t sid)
{
	return nghttp2_session_get_stream_user_data(s->ng, sid);
}

static int
h2_on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame,
    void *arg)
{
	struct h2_session *s = arg;
	struct h2_stream *st;

	if (frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	/* Each stream is a connection for max_connections too. */
	if (s->c->srv->stopping || (s->flags & H2_F_GOAWAY) ||
	    s->c->srv->nconns >= s->c->srv->cfg->max_connections) {
		nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE,
		    frame->hd.stream_id, NGHTTP2_REFUSED_STREAM);
		return 0;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	st->sess = s;
	st->id = frame->hd.stream_id;
	if ((st->c = conn_new_stream(s->c)) == NULL) {
		free(st);
		nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE,
		    frame->hd.stream_id, NGHTTP2_INTERNAL_ERROR);
		return 0;
	}
	st->c->ext->h2.stream = st;
	TAILQ_INSERT_TAIL(&s->streams, st, link);
	s->nstreams++;
	nghttp2_session_set_stream_user_data(ng, st->id, st);
	return 0;
}

static int
h2_store(char **dst, const uint8_t *v, size_t len)
{
	free(*dst);
	if ((*dst = malloc(len + 1)) == NULL)
		return -1;
	memcpy(*dst, v, len);
	(*dst)[len] = '\0';
	return 0;
}

static int
h2_on_header(nghttp2_session *ng, const nghttp2_frame *frame,
    const uint8_t *name, size_t namelen, const uint8_t *value,
    size_t valuelen, uint8_t flags, void *arg)
{
	struct h2_session *s = arg;
	const struct config *cfg = s->c->srv->cfg;
	struct h2_stream *st;
	size_t need;

	(void)flags;
	(void)ng;
	if (frame->hd.type != NGHTTP2_HEADERS ||
	    (st = h2_stream_of(s, frame->hd.stream_id)) == NULL ||
	    st->c == NULL || st->status != 0)
		return 0;
	/* Our SETTINGS_MAX_HEADER_LIST_SIZE, counted as RFC 9113 6.5.2 does. */
	st->list += namelen + valuelen + 32;
	if (st->list > cfg->h2_max_header_list) {
		st->status = 431;
		return 0;
	}
	if (namelen > 0 && name[0] == ':') {
		if (namelen == 7 && memcmp(name, ":method", 7) == 0) {
			if (valuelen >= sizeof(st->method)) {
				st->status = 501;
				return 0;
			}
			memcpy(st->method, value, valuelen);
			st->method[valuelen] = '\0';
		} else if (namelen == 9 && memcmp(name, ":protocol", 9) == 0) {
			if (valuelen >= sizeof(st->protocol))
				valuelen = sizeof(st->protocol) - 1;
			memcpy(st->protocol, value, valuelen);
			st->protocol[valuelen] = '\0';
			if (strcasecmp(st->protocol, "websocket") == 0)
				st->flags |= H2S_F_WS;
		} else if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
			if (h2_store(&st->path, value, valuelen) == -1)
				return NGHTTP2_ERR_CALLBACK_FAILURE;
		} else if (namelen == 10 &&
		    memcmp(name, ":authority", 10) == 0) {
			if (h2_store(&st->authority, value, valuelen) == -1)
				return NGHTTP2_ERR_CALLBACK_FAILURE;
		}
		return 0;
	}
	/* Host is :authority's; content-length is recomputed. */
	if ((namelen == 4 && memcmp(name, "host", 4) == 0) ||
	    (namelen == 14 && memcmp(name, "content-length", 14) == 0))
		return 0;
	need = namelen + valuelen + 4;
	if (++st->nhdrs > cfg->max_headers) {
		st->status = 431;
		return 0;
	}
	if (st->hdrs_len + need > st->hdrs_size) {
		size_t size = st->hdrs_size ? st->hdrs_size * 2 : 512;
		char *p;

		while (size < st->hdrs_len + need)
			size *= 2;
		if ((p = realloc(st->hdrs, size)) == NULL)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		st->hdrs = p;
		st->hdrs_size = size;
	}
	memcpy(st->hdrs + st->hdrs_len, name, namelen);
	st->hdrs_len += namelen;
	memcpy(st->hdrs + st->hdrs_len, ": ", 2);
	st->hdrs_len += 2;
	memcpy(st->hdrs + st->hdrs_len, value, valuelen);
	st->hdrs_len += valuelen;
	memcpy(st->hdrs + st->hdrs_len, "\r\n", 2);
	st->hdrs_len += 2;
	return 0;
}

static int
h2_on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t sid,
    const uint8_t *data, size_t len, void *arg)
{
	struct h2_session *s = arg;
	struct h2_stream *st = h2_stream_of(s, sid);
	struct conn *c;
	uint64_t limit;

	(void)ng;
	(void)flags;
	if (st == NULL || (c = st->c) == NULL || len == 0)
		return 0;
	c->last_rx = c->srv->tick;
	c->flags &= ~CONN_F_PING_SENT;
	c->bytes_in += len;
	if (st->flags & H2S_F_WS) {
		if (c->state == CONN_HTTP) {
			/* Frames sent before our answer wait for it. */
			if ((c->flags & CONN_F_READ_PAUSED) &&
			    auth_stash(c, data, len) == -1)
				conn_destroy(c, "out of memory");
			return 0;
		}
		/*
		 * The data points into the loop's read buffer, which we own;
		 * the session unmasks it in place as on HTTP/1.1.
		 */
		conn_ws_feed(c, (uint8_t *)(uintptr_t)data, len);
		return 0;
	}
	if (st->status != 0 || (st->flags & H2S_F_ANSWERED))
		return 0;
	limit = c->srv->cfg->max_message_size;
	if (st->body_len + len > limit) {
		st->status = 413;
		free(st->body);
		st->body = NULL;
		st->body_len = 0;
		return 0;
	}
	{
		char *p = realloc(st->body, st->body_len + len);

		if (p == NULL)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		st->body = p;
		memcpy(st->body + st->body_len, data, len);
		st->body_len += len;
	}
	return 0;
}

/* The client ended its side of |st|. */
static void
h2_stream_ended(struct h2_stream *st)
{
	struct conn *c = st->c;

	st->flags |= H2S_F_ENDED;
	if (c == NULL)
		return;
	if (strcmp(st->method, "CONNECT") != 0) {
		if ((st->flags & H2S_F_ANSWERED) == 0 &&
		    (c->flags & CONN_F_READ_PAUSED) == 0)
			h2_request(st);
		return;
	}
	/* END_STREAM is a WebSocket's FIN: without a close, a lost one. */
	if (c->state == CONN_WS)
		conn_destroy(c, "stream ended without a close (1006)");
	else if (c->state == CONN_HTTP && (st->flags & H2S_F_ANSWERED) == 0 &&
	    (c->flags & CONN_F_READ_PAUSED) == 0)
		h2_refuse(st, 400, "the stream ended before the WebSocket "
		    "opened");
}

static int
h2_on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *arg)
{
	struct h2_session *s = arg;
	struct h2_stream *st;
	uint32_t sec;

	switch (frame->hd.type) {
	case NGHTTP2_HEADERS:
		if ((st = h2_stream_of(s, frame->hd.stream_id)) == NULL ||
		    st->c == NULL)
			break;
		/* A CONNECT has no body to wait for: its data is a tunnel's. */
		if (frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
		    strcmp(st->method, "CONNECT") == 0)
			h2_request(st);
		if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
			h2_stream_ended(st);
		break;
	case NGHTTP2_DATA:
		if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
		    (st = h2_stream_of(s, frame->hd.stream_id)) != NULL)
			h2_stream_ended(st);
		break;
	case NGHTTP2_RST_STREAM:
		/*
		 * Rapid reset (CVE-2023-44487): opening and cancelling
		 * streams costs a client nothing and us the work of each
		 * request; more than h2_max_resets a second ends the session.
		 */
		sec = s->c->srv->tick / (1000 / SERVER_TICK_MS);
		if (sec != s->rst_tick) {
			s->rst_tick = sec;
			s->rst_count = 0;
		}
		if (++s->rst_count > s->c->srv->cfg->h2_max_resets &&
		    (s->flags & H2_F_GOAWAY) == 0) {
			log_info("conn %016" PRIx64 ": HTTP/2 rapid reset "
			    "flood, GOAWAY", s->c->id);
			s->flags |= H2_F_GOAWAY;
			nghttp2_session_terminate_session(ng,
			    NGHTTP2_ENHANCE_YOUR_CALM);
		}
		break;
	default:
		break;
	}
	return 0;
}

static int
h2_on_stream_close(nghttp2_session *ng, int32_t sid, uint32_t code,
    void *arg)
{
	struct h2_session *s = arg;
	struct h2_stream *st = h2_stream_of(s, sid);
	char why[64];

	(void)ng;
	if (st == NULL)
		return 0;
	st->flags |= H2S_F_CLOSED;
	nghttp2_session_set_stream_user_data(s->ng, sid, NULL);
	if (st->c != NULL) {
		snprintf(why, sizeof(why), code == NGHTTP2_NO_ERROR ?
		    "stream closed" : "stream reset (%s, 1006)",
		    nghttp2_http2_strerror(code));
		conn_destroy(st->c, st->c->state == CONN_LINGER ?
		    "closed" : why);
	}
	TAILQ_REMOVE(&s->streams, st, link);
	s->nstreams--;
	h2_stream_free(st);
	return 0;
}

void
h2_stream_gone(struct conn *c)
{
	struct h2_stream *st = c->ext->h2.stream;

	if (st == NULL)
		return;
	st->c = NULL;
	c->ext->h2.stream = NULL;
	if (st->sess == NULL || (st->flags & H2S_F_CLOSED) ||
	    (st->sess->flags & H2_F_FREEING))
		return;
	/*
	 * Our side ends: a stream whose response or WebSocket is over gets
	 * RST_STREAM NO_ERROR (its end is sent or it would be), others
	 * CANCEL.
	 */
	nghttp2_submit_rst_stream(st->sess->ng, NGHTTP2_FLAG_NONE, st->id,
	    (c->state == CONN_LINGER) ? NGHTTP2_NO_ERROR : NGHTTP2_CANCEL);
	if (st->flags & H2S_F_DEFERRED) {
		st->flags &= ~H2S_F_DEFERRED;
		nghttp2_session_resume_data(st->sess->ng, st->id);
	}
	h2_dirty(st->sess);
}

/* ----- the session ----- */

void
h2_start(struct conn *c, uint8_t *buf, size_t n)
{
	const struct config *cfg = c->srv->cfg;
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;
	struct h2_session *s;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
		    (uint32_t)cfg->h2_max_streams },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
		    (uint32_t)cfg->h2_window },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
		    (uint32_t)cfg->h2_max_header_list },
		{ NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1 },
	};
	int rv;

	if (conn_ext(c) == NULL || (s = calloc(1, sizeof(*s))) == NULL) {
		conn_destroy(c, "out of memory for HTTP/2");
		return;
	}
	TAILQ_INIT(&s->streams);
	s->c = c;
	if (nghttp2_session_callbacks_new(&cb) != 0) {
		free(s);
		conn_destroy(c, "out of memory for HTTP/2");
		return;
	}
	nghttp2_session_callbacks_set_send_callback(cb, h2_send_cb);
	nghttp2_session_callbacks_set_send_data_callback(cb, h2_send_data_cb);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb,
	    h2_on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, h2_on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
	    h2_on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb,
	    h2_on_frame_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb,
	    h2_on_stream_close);
	if (nghttp2_option_new(&opt) != 0) {
		nghttp2_session_callbacks_del(cb);
		free(s);
		conn_destroy(c, "out of memory for HTTP/2");
		return;
	}
	/*
	 * Floods: SETTINGS with many entries, and SETTINGS or PING frames
	 * whose acknowledgements pile up unread, end the session (nghttp2
	 * answers GOAWAY ENHANCE_YOUR_CALM); so does a reset rate above
	 * ours, counted again in h2_on_frame_recv().
	 */
	nghttp2_option_set_max_settings(opt, 32);
	nghttp2_option_set_max_outbound_ack(opt, 1000);
	nghttp2_option_set_stream_reset_rate_limit(opt,
	    cfg->h2_max_resets, cfg->h2_max_resets);
	nghttp2_option_set_max_continuations(opt, 8);
	/* Streams beyond our limit are refused by nghttp2 itself. */
	nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
	rv = nghttp2_session_server_new2(&s->ng, cb, s, opt);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	if (rv != 0) {
		free(s);
		conn_destroy(c, "out of memory for HTTP/2");
		return;
	}
	nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, iv,
	    sizeof(iv) / sizeof(iv[0]));
	/* The connection window: streams' windows share it. */
	nghttp2_session_set_local_window_size(s->ng, NGHTTP2_FLAG_NONE, 0,
	    (int32_t)(cfg->h2_window * 4 > INT32_MAX ? INT32_MAX :
	    cfg->h2_window * 4));
	c->ext->h2.sess = s;
	c->io |= CONN_IO_H2;
	log_debug("conn %016" PRIx64 ": HTTP/2%s", c->id,
	    conn_tls(c) != NULL ? " over TLS" : " (h2c)");
	server_timer_set(c->srv, c,
	    c->srv->tick + server_ticks(cfg->handshake_timeout));
	h2_read(c, buf, n);
}

void
h2_read(struct conn *c, uint8_t *buf, size_t n)
{
	struct h2_session *s = c->ext->h2.sess;
	ssize_t rv;

	if (c->state != CONN_HTTP || s == NULL)
		return;
	rv = nghttp2_session_mem_recv(s->ng, buf, n);
	if (c->state == CONN_DEAD)
		return;
	if (rv < 0) {
		if (rv == NGHTTP2_ERR_FLOODED)
			log_info("conn %016" PRIx64 ": HTTP/2 flood (control "
			    "frames whose answers are not read), GOAWAY",
			    c->id);
		else
			log_debug("conn %016" PRIx64 ": HTTP/2: %s", c->id,
			    nghttp2_strerror((int)rv));
		/* Say why if nghttp2 can still (GOAWAY), then go. */
		if (rv != NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
			nghttp2_session_terminate_session(s->ng,
			    rv == NGHTTP2_ERR_FLOODED ?
			    NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_PROTOCOL_ERROR);
			s->flags |= H2_F_GOAWAY;
			h2_session_flush(c);
		}
		conn_destroy(c, rv == NGHTTP2_ERR_FLOODED ? "HTTP/2 flood" :
		    nghttp2_strerror((int)rv));
		return;
	}
	h2_dirty(s);
}

void
h2_timer(struct conn *c)
{
	struct h2_session *s = c->ext->h2.sess;
	uint32_t idle = server_ticks(c->srv->cfg->handshake_timeout);

	if (c->state != CONN_HTTP || s == NULL) {
		conn_destroy(c, "close timeout");
		return;
	}
	/* A connection without streams may stay as long as a keep-alive. */
	if (s->nstreams == 0 && c->srv->tick - c->last_rx >= idle) {
		if (s->flags & H2_F_GOAWAY) {
			conn_destroy(c, "idle HTTP/2 connection");
			return;
		}
		s->flags |= H2_F_GOAWAY;
		nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE,
		    nghttp2_session_get_last_proc_stream_id(s->ng),
		    NGHTTP2_NO_ERROR, NULL, 0);
		h2_dirty(s);
		server_timer_set(c->srv, c,
		    c->srv->tick + server_ticks(SERVER_CLOSE_TIMEOUT_S));
		return;
	}
	server_timer_set(c->srv, c, (s->nstreams == 0 ? c->last_rx :
	    c->srv->tick) + idle);
}

void
h2_shutdown(struct conn *c)
{
	struct h2_session *s = c->ext->h2.sess;
	struct h2_stream *st;

	if (s == NULL || c->state != CONN_HTTP)
		return;
	TAILQ_FOREACH(st, &s->streams, link)
		if (st->c != NULL && st->c->state == CONN_WS)
			conn_close(st->c, WS_CLOSE_GOING_AWAY,
			    "server shutting down");
	/* No new streams from now on; GOAWAY follows the last stream. */
	if ((s->flags & H2_F_GOAWAY) == 0)
		s->flags |= H2_F_GOAWAY | H2_F_GOAWAY_LATER;
	h2_dirty(s);
}

void
h2_session_free(struct conn *c)
{
	struct h2_session *s = c->ext->h2.sess;
	struct h2_stream *st;

	if (s == NULL)
		return;
	s->flags |= H2_F_FREEING;
	TAILQ_FOREACH(st, &s->streams, link)
		if (st->c != NULL)
			conn_destroy(st->c, "connection closed (1006)");
	if (s->flags & H2_F_DIRTY)
		LIST_REMOVE(s, dirty_link);
	for (int i = 0; i < s->fly_cnt; i++)
		msg_unref(s->fly_ref[i]);
	nghttp2_session_del(s->ng);
	while ((st = TAILQ_FIRST(&s->streams)) != NULL) {
		TAILQ_REMOVE(&s->streams, st, link);
		h2_stream_free(st);
	}
	free(s);
	c->ext->h2.sess = NULL;
}
