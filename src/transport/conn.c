/* One client connection: socket, HTTP/1.1 head, WebSocket session, output queue. */
#include "autoconf.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "control/auth.h"
#include "control/config.h"
#include "hub/handlers.h"
#include "hub/server.h"
#include "proto/handshake.h"
#include "proto/http1.h"
#include "proto/pmdeflate.h"
#include "proto/wsext.h"
#include "transport/conn.h"
#include "transport/h1.h"
#include "transport/h2.h"
#include "transport/tls.h"
#include "util/log.h"
#include "util/msg.h"

/* Messages written by one writev(); well under IOV_MAX. */
#define CONN_IOV_BATCH		128
/* First size of the output ring; it doubles as needed. */
#define CONN_OQ_MIN		8

static void	conn_read(struct conn *, int);
static int	conn_ws_on_message(void *, unsigned, uint8_t *, size_t);
static void	conn_ws_on_close(void *, uint16_t, const char *, size_t);
static void	conn_ws_send_control(void *, unsigned, const uint8_t *, size_t);

static const struct ws_session_callbacks conn_ws_callbacks = {
	.on_message = conn_ws_on_message,
	.on_close = conn_ws_on_close,
	.send_control = conn_ws_send_control,
};

/*
 * Read |c| again in this loop turn although no new edge may come: input
 * may wait in the kernel (or in OpenSSL) that the edge reported earlier.
 */
static void
conn_read_later(struct conn *c)
{
	struct server *srv = c->srv;

	if (c->flags & CONN_F_READ_PEND)
		return;
	c->flags |= CONN_F_READ_PEND;
	c->read_next = srv->read_pend;
	srv->read_pend = c;
}

void
conn_pause_read(struct conn *c, int pause)
{
	if (c->state == CONN_DEAD)
		return;
	if (pause) {
		c->flags |= CONN_F_READ_PAUSED;
		return;
	}
	if ((c->flags & CONN_F_READ_PAUSED) == 0)
		return;
	c->flags &= ~CONN_F_READ_PAUSED;
	/* A stream has no socket of its own; h2.c feeds it. */
	if ((c->io & CONN_IO_STREAM) == 0)
		conn_read_later(c);
}

struct conn *
conn_new(struct server *srv, int fd)
{
	struct epoll_event ee;
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return NULL;
	}
	c->srv = srv;
	c->fd = fd;
	c->state = CONN_HTTP;
	c->id = server_next_id(srv);
	c->born = c->last_rx = srv->tick;
	if (idmap_put(&srv->conns, c->id, c) == -1) {
		close(fd);
		free(c);
		return NULL;
	}
	/*
	 * Once, edge-triggered, for both directions: no epoll_ctl() is made
	 * again for this socket (close() takes it out of the set), whether
	 * it waits for room or not (CONN_F_WRITE_WAIT says whether an
	 * EPOLLOUT edge matters).
	 */
	memset(&ee, 0, sizeof(ee));
	ee.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ee.data.ptr = c;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ee) == -1) {
		log_warn("conn %016" PRIx64 ": epoll_ctl: %s", c->id,
		    strerror(errno));
		idmap_del(&srv->conns, c->id);
		close(fd);
		free(c);
		return NULL;
	}
	srv->nconns++;
	server_timer_set(srv, c,
	    srv->tick + server_ticks(srv->cfg->handshake_timeout));
	return c;
}

struct conn *
conn_new_stream(struct conn *carrier)
{
	struct server *srv = carrier->srv;
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	/* A stream always has an ext: it holds the stream (h2.c). */
	if ((c->ext = calloc(1, sizeof(*c->ext))) == NULL) {
		free(c);
		return NULL;
	}
	c->srv = srv;
	c->fd = carrier->fd;
	c->io = CONN_IO_STREAM;
	c->state = CONN_HTTP;
	c->flags = carrier->flags & CONN_F_H2_OK;
	c->id = server_next_id(srv);
	c->born = c->last_rx = srv->tick;
	if (idmap_put(&srv->conns, c->id, c) == -1) {
		free(c->ext);
		free(c);
		return NULL;
	}
	srv->nconns++;
	server_timer_set(srv, c,
	    srv->tick + server_ticks(srv->cfg->handshake_timeout));
	return c;
}

void
conn_free(struct conn *c)
{
	if (c->ext != NULL)
		free(c->ext->dbg);
	free(c->ext);
	free(c);
}

struct conn_ext *
conn_ext(struct conn *c)
{
	if (c->ext == NULL)
		c->ext = calloc(1, sizeof(*c->ext));
	return c->ext;
}

int
conn_debug_set(struct conn *c, int on)
{
	struct conn_ext *x;

	if (!on) {
		if (c->ext != NULL) {
			free(c->ext->dbg);
			c->ext->dbg = NULL;
		}
		return 0;
	}
	if ((x = conn_ext(c)) == NULL)
		return -1;
	if (x->dbg == NULL) {
		if ((x->dbg = calloc(1, sizeof(*x->dbg))) == NULL)
			return -1;
		x->dbg->since_us = server_now_us(c->srv);
	}
	return 0;
}

/* Remember one frame of a connection that has debugging on. */
static void
conn_debug_note(struct conn *c, int out, unsigned opcode, size_t size)
{
	struct conn_debug *d = c->ext->dbg;
	struct conn_debug_event *e = &d->ring[d->head];

	e->us = server_now_us(c->srv);
	e->size = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
	e->out = (uint8_t)out;
	e->opcode = (uint8_t)(opcode & 0x0f);
	d->head = (d->head + 1) % CONN_DEBUG_RING;
	if (d->count < CONN_DEBUG_RING)
		d->count++;
	if (out) {
		d->out_ops[opcode & 0x0f]++;
		if (size > d->out_max)
			d->out_max = size;
	} else {
		d->in_ops[opcode & 0x0f]++;
		if (size > d->in_max)
			d->in_max = size;
	}
}

const char *
conn_peer(const struct conn *c, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	unsigned port = 0;

	snprintf(buf, len, "?");
	if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) == -1)
		return buf;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
		snprintf(buf, len, "%s:%u", host, port);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
	}
	return buf;
}

int
conn_queue(struct conn *c, struct msg *m)
{
	if (c->state >= CONN_LINGER)
		return -1;
	if (c->oq_count == c->oq_cap) {
		uint32_t ncap = c->oq_cap ? c->oq_cap * 2 : CONN_OQ_MIN;
		struct msg **nq;

		if ((nq = malloc(ncap * sizeof(*nq))) == NULL)
			return -1;
		/* Unroll the ring into the new array, oldest first. */
		for (uint32_t i = 0; i < c->oq_count; i++)
			nq[i] = c->oq[(c->oq_head + i) & (c->oq_cap - 1)];
		free(c->oq);
		c->oq = nq;
		c->oq_head = 0;
		c->oq_cap = ncap;
	}
	/* The wait of the oldest queued message is what metrics sample. */
	if (c->oq_count == 0)
		c->oq_since = server_now_us(c->srv);
	c->oq[(c->oq_head + c->oq_count) & (c->oq_cap - 1)] = msg_ref(m);
	c->oq_count++;
	c->out_bytes += m->len;
	if ((c->flags & CONN_F_WRITE_WAIT) == 0)
		server_want_flush(c->srv, c);
	return 0;
}

/*
 * Drop queued messages from the oldest on (a message already partly
 * written stays, or the stream would be corrupt) until |need| bytes are
 * free; UINT64_MAX drops everything. The handler hears which channel
 * sequence numbers were lost, after the ring is consistent again.
 */
static void
conn_drop_oldest(struct conn *c, uint64_t need)
{
	struct msg *partial = NULL, **gone;
	uint64_t freed = 0;
	uint32_t n = 0;

	if (c->oq_count == 0)
		return;
	/*
	 * With context takeover each queued compressed frame may refer to
	 * those before it, so dropping some would corrupt the rest: all go,
	 * and the compressor starts afresh.
	 */
	if (conn_zout(c) != NULL) {
		need = UINT64_MAX;
		pmd_deflater_reset(c->ext->zout);
	}
	if ((gone = malloc(c->oq_count * sizeof(*gone))) == NULL) {
		c->flags |= CONN_F_SLOW;	/* cannot even drop: disconnect */
		return;
	}
	if (c->out_off > 0) {
		partial = c->oq[c->oq_head];
		c->oq_head = (c->oq_head + 1) & (c->oq_cap - 1);
		c->oq_count--;
	}
	while (c->oq_count > 0 && freed < need) {
		struct msg *m = c->oq[c->oq_head];

		c->oq_head = (c->oq_head + 1) & (c->oq_cap - 1);
		c->oq_count--;
		c->out_bytes -= m->len;
		freed += m->len;
		gone[n++] = m;
	}
	if (partial != NULL) {
		c->oq_head = (c->oq_head - 1) & (c->oq_cap - 1);
		c->oq[c->oq_head] = partial;
		c->oq_count++;
	}
	c->srv->stats.drops += n;
	log_debug("conn %016" PRIx64 ": slow consumer: dropped %u queued "
	    "message(s), %" PRIu64 " bytes", c->id, n, freed);
	/* Report runs of consecutive messages of one channel. */
	for (uint32_t i = 0; i < n; ) {
		uint32_t j = i + 1;

		if (gone[i]->channel != NULL) {
			while (j < n && gone[j]->channel != NULL &&
			    strcmp(gone[j]->channel, gone[i]->channel) == 0)
				j++;
			if (c->route != NULL && c->route->handler->dropped != NULL)
				c->route->handler->dropped(c, gone[i]->channel,
				    gone[i]->seq, gone[j - 1]->seq);
		}
		for (; i < j; i++)
			msg_unref(gone[i]);
	}
	free(gone);
}

/* Apply the route's slow-consumer policy to a connection over its limits. */
static void
conn_slow(struct conn *c, uint64_t need)
{
	if (c->route->cfg->slow_consumer_policy == SLOW_DROP_OLDEST)
		conn_drop_oldest(c, need);
	else {
		/* Only mark it: we may be inside a loop over a route's list. */
		c->flags |= CONN_F_SLOW;
		server_want_flush(c->srv, c);
	}
}

/*
 * Apply the send-buffer limits to a delivery of |len| bytes. Returns 0,
 * or -1 when the connection is marked slow.
 */
static int
conn_send_limits(struct conn *c, uint64_t len)
{
	const struct config_route *rc;
	uint64_t after;

	rc = c->route->cfg;
	after = c->out_bytes + len;
	if (after > rc->send_buffer_soft_limit) {
		/*
		 * Above the soft limit a connection gets a grace period (like
		 * Redis's client-output-buffer-limit); above the hard limit
		 * none. The first crossing is recorded as tick + 1 so that 0
		 * keeps meaning "below".
		 */
		if (c->soft_since == 0)
			c->soft_since = c->srv->tick + 1;
		else if (c->srv->tick + 1 - c->soft_since >=
		    server_ticks(rc->send_buffer_soft_seconds)) {
			c->soft_since = 0;
			conn_slow(c, UINT64_MAX);
		}
	}
	if (c->out_bytes > 0 && c->out_bytes + len > rc->send_buffer_limit)
		conn_slow(c, c->out_bytes + len - rc->send_buffer_limit);
	return (c->flags & CONN_F_SLOW) ? -1 : 0;
}

/*
 * conn_send() on a connection with permessage-deflate. Without context
 * takeover every connection with the same window queues one shared
 * compressed form, made by the loop's compressor on the first such
 * delivery and kept on |m| until |m| is freed: a broadcast costs one
 * compression per window size, not one per subscriber. With context
 * takeover the output depends on what this connection was sent before,
 * so its own compressor makes a frame per delivery. Small messages,
 * frames already compressed and failures go out as they are: a receiver
 * takes uncompressed messages at any time.
 */
static int
conn_send_deflate(struct conn *c, struct msg *m)
{
	struct server *srv = c->srv;
	const struct config *cfg = srv->cfg;
	struct pmd_deflater **dp, *zout;
	const uint8_t *p, *z;
	struct msg *zm;
	size_t len, zlen;
	unsigned opcode;
	uint8_t *zp;
	int rv;

	p = msg_frame_payload(m, &len, &opcode);
	if (len < cfg->deflate_min_size || (m->data[0] & 0x70) != 0 ||
	    (opcode != WS_OP_TEXT && opcode != WS_OP_BINARY))
		goto plain;
	if (!c->zctx) {
		if ((zm = msg_deflated_get(m, c->zbits)) == NULL) {
			dp = &srv->zshared[c->zbits];
			if (*dp == NULL && (*dp = pmd_deflater_new(
			    (int)cfg->deflate_level, (int)cfg->deflate_mem_level,
			    c->zbits)) == NULL)
				goto plain;
			if (pmd_deflate(*dp, p, len, 1, &z, &zlen) == -1 ||
			    (zm = msg_deflated_add(m, c->zbits, z, zlen)) == NULL)
				goto plain;
			srv->stats.deflate_msgs++;
			srv->stats.deflate_bytes_in += len;
			srv->stats.deflate_bytes_out += zlen;
		}
		if (conn_send_limits(c, zm->len) == -1)
			return -1;
		c->msgs_out++;
		srv->stats.deflate_deliveries++;
		return conn_queue(c, zm);
	}

	/* Limits first: a drop resets the context this frame would use. */
	if (conn_send_limits(c, m->len) == -1)
		return -1;
	if ((zout = conn_zout(c)) == NULL) {
		if (conn_ext(c) == NULL || (zout = pmd_deflater_new(
		    (int)cfg->deflate_level, (int)cfg->deflate_mem_level,
		    c->zbits)) == NULL)
			goto queue_plain;
		c->ext->zout = zout;
	}
	if (pmd_deflate(zout, p, len, 0, &z, &zlen) == -1)
		goto queue_plain;
	zm = m->channel != NULL ?
	    msg_frame_alloc_channel(opcode, zlen, &zp, m->channel,
	    strlen(m->channel), m->seq) : msg_frame_alloc(opcode, zlen, &zp);
	if (zm == NULL) {
		/* The peer will never see what the context now holds. */
		pmd_deflater_reset(zout);
		goto queue_plain;
	}
	zm->data[0] |= WS_RSV1 << 4;
	memcpy(zp, z, zlen);
	/* Idle connections keep only zlib's state, not an output buffer. */
	pmd_deflater_trim(zout);
	srv->stats.deflate_msgs++;
	srv->stats.deflate_bytes_in += len;
	srv->stats.deflate_bytes_out += zlen;
	srv->stats.deflate_deliveries++;
	c->msgs_out++;
	if ((rv = conn_queue(c, zm)) == -1)
		pmd_deflater_reset(zout);
	msg_unref(zm);
	return rv;

plain:
	if (conn_send_limits(c, m->len) == -1)
		return -1;
queue_plain:
	c->msgs_out++;
	return conn_queue(c, m);
}

int
conn_send(struct conn *c, struct msg *m)
{
	if (c->state != CONN_WS || (c->flags & CONN_F_SLOW))
		return -1;
	if (c->zbits != 0)
		return conn_send_deflate(c, m);
	if (conn_send_limits(c, m->len) == -1)
		return -1;
	c->msgs_out++;
	return conn_queue(c, m);
}

int
conn_send_frame(struct conn *c, unsigned opcode, const void *data, size_t len)
{
	struct msg *m;
	int rv;

	if ((m = msg_frame(opcode, data, len)) == NULL) {
		log_warn("conn %016" PRIx64 ": out of memory for a %zu byte frame",
		    c->id, len);
		return -1;
	}
	rv = conn_send(c, m);
	msg_unref(m);
	return rv;
}

/* Drop every queued message except one already partly on the wire. */
static void
conn_drop_queue(struct conn *c, int keep_partial)
{
	uint32_t keep = (keep_partial && c->out_off > 0 && c->oq_count > 0);

	while (c->oq_count > keep) {
		uint32_t last = (c->oq_head + c->oq_count - 1) & (c->oq_cap - 1);

		c->out_bytes -= c->oq[last]->len;
		msg_unref(c->oq[last]);
		c->oq_count--;
	}
	if (c->oq_count == 0) {
		free(c->oq);
		c->oq = NULL;
		c->oq_cap = c->oq_head = c->out_off = 0;
		c->out_bytes = 0;
	}
}

/*
 * The access log line of a connection that is going away, written when it
 * leaves the open state: later the peer's address may be gone already.
 */
static void
conn_access_log(struct conn *c, const char *why)
{
	char peer[64];

	log_info("access: conn %016" PRIx64 " peer %s route %s%s duration "
	    "%.1fs in %" PRIu64 "B/%" PRIu32 "msg out %" PRIu64 "B/%" PRIu32
	    "msg close %u (%s)", c->id, conn_peer(c, peer, sizeof(peer)),
	    c->route != NULL ? c->route->cfg->path : "-",
	    c->route != NULL && c->route->cfg->prefix ? "*" : "",
	    (double)(c->srv->tick - c->born) * SERVER_TICK_MS / 1000.0,
	    c->bytes_in, c->msgs_in, c->bytes_out, c->msgs_out,
	    (unsigned)c->close_code, why);
}

void
conn_closing(struct conn *c, enum conn_state st)
{
	if (c->state <= CONN_WS && c->srv->cfg->access_log)
		conn_access_log(c, c->state == CONN_HTTP ? "http, answered" :
		    conn_ws_error(c) != NULL ? conn_ws_error(c) :
		    "closing handshake");
	c->state = st;
	server_timer_set(c->srv, c,
	    c->srv->tick + server_ticks(SERVER_CLOSE_TIMEOUT_S));
}

void
conn_close(struct conn *c, uint16_t code, const char *reason)
{
	if (c->state == CONN_HTTP) {
		conn_destroy(c, reason);
		return;
	}
	if (c->state != CONN_WS)
		return;
	c->close_code = code;
	ws_session_close(&c->ws, code, reason);
	conn_closing(c, CONN_CLOSING);
}

static void
conn_unlink_route(struct conn *c)
{
	struct route *r = c->route;

	if (r == NULL)
		return;
	TAILQ_REMOVE(&r->conns, c, route_link);
	r->nconns--;
	c->route = NULL;
	if (r->handler->close != NULL)
		r->handler->close(c);
}

void
conn_destroy(struct conn *c, const char *why)
{
	struct server *srv = c->srv;

	if (c->state == CONN_DEAD)
		return;
	log_debug("conn %016" PRIx64 ": closed: %s", c->id, why);
	if (srv->cfg->access_log && c->state <= CONN_WS)
		conn_access_log(c, why);
	if (conn_dbg(c) != NULL)
		snprintf(c->ext->dbg->last_error,
		    sizeof(c->ext->dbg->last_error), "%s", why);
	conn_unlink_route(c);
	auth_conn_gone(c);
	if (c->io & CONN_IO_STREAM)
		h2_stream_gone(c);
	else {
		/* Streams go first: they are conns of their own. */
		if (c->io & CONN_IO_H2)
			h2_session_free(c);
		tls_conn_free(c);
		/* This also takes the socket out of the server's epoll set. */
		close(c->fd);
	}
	c->fd = -1;
	idmap_del(&srv->conns, c->id);
	srv->nconns--;
	if (c->wheel_link.le_prev != NULL) {
		LIST_REMOVE(c, wheel_link);
		c->wheel_link.le_prev = NULL;
	}
	conn_drop_queue(c, 0);
	if (c->flags & CONN_F_WS)
		ws_session_reset(&c->ws);
	else {
		free(c->head);
		c->head = NULL;
	}
	if (c->ext != NULL) {
		pmd_deflater_free(c->ext->zout);
		c->ext->zout = NULL;
	}
	c->state = CONN_DEAD;
	TAILQ_INSERT_TAIL(&srv->dead, c, route_link);
	server_conn_gone(srv);
}

void
conn_consume(struct conn *c, size_t n)
{
	int sampled = 0;

	c->bytes_out += n;
	c->srv->stats.bytes_out += n;
	c->out_bytes -= n;
	while (n > 0) {
		struct msg *m = c->oq[c->oq_head];
		size_t left = m->len - c->out_off;

		if (n < left) {
			c->out_off += (uint32_t)n;
			return;
		}
		n -= left;
		/*
		 * One latency sample per write, not per message: the wait of
		 * the oldest message, queued when the queue last filled.
		 */
		if (!sampled && c->state != CONN_HTTP) {
			server_latency_sample(c->srv,
			    server_now_us(c->srv) - c->oq_since);
			sampled = 1;
		}
		if (c->ext != NULL && c->ext->dbg != NULL &&
		    c->state != CONN_HTTP && m->len > 0)
			conn_debug_note(c, 1, m->data[0], m->len);
		msg_unref(m);
		c->out_off = 0;
		c->oq_head = (c->oq_head + 1) & (c->oq_cap - 1);
		c->oq_count--;
	}
	if (c->soft_since != 0 && c->route != NULL &&
	    c->out_bytes <= c->route->cfg->send_buffer_soft_limit)
		c->soft_since = 0;
}

void
conn_flush_done(struct conn *c)
{
	/* An idle connection keeps no output ring. */
	free(c->oq);
	c->oq = NULL;
	c->oq_cap = c->oq_head = 0;
	c->flags &= ~CONN_F_WRITE_WAIT;
	if (c->flags & CONN_F_SHUT_AFTER) {
		c->flags &= ~CONN_F_SHUT_AFTER;
		/*
		 * The peer started the closing handshake and our answer is
		 * written: it sends nothing after its close frame (RFC 6455
		 * 5.5.1), and the read that brought the frame left the socket
		 * empty (or the connection would be on the read-pending list),
		 * so close() cannot reset the connection and destroy the
		 * answer. This saves the shutdown(), the wait for the peer's
		 * FIN and the read that sees it.
		 */
		if (c->io == 0 && (c->flags & (CONN_F_CLOSE_NOW |
		    CONN_F_READ_PEND)) == CONN_F_CLOSE_NOW) {
			conn_destroy(c, "closing handshake done");
			return;
		}
		/*
		 * Otherwise half-close and keep reading until the peer's FIN:
		 * closing with unread input would send a reset that can
		 * destroy our last frame before the peer reads it.
		 */
		shutdown(c->fd, SHUT_WR);
		conn_closing(c, CONN_LINGER);
	}
}

void
conn_kick_slow(struct conn *c)
{
	c->flags &= ~CONN_F_SLOW;
	if (c->state != CONN_WS)
		return;
	c->srv->stats.slow_kicks++;
	log_info("conn %016" PRIx64 ": slow consumer (%" PRIu64 " bytes "
	    "queued), disconnecting", c->id, c->out_bytes);
	conn_drop_queue(c, 1);
	conn_close(c, WS_CLOSE_POLICY, "send buffer limit exceeded");
}

void
conn_flush(struct conn *c)
{
	struct iovec iov[CONN_IOV_BATCH];

	if (c->state == CONN_DEAD)
		return;
	/* TLS and HTTP/2 write through their own layers. */
	if (c->io != 0) {
		if (c->io & CONN_IO_STREAM)
			h2_stream_flush(c);
		else if (c->io & CONN_IO_H2)
			h2_session_flush(c);
		else
			tls_flush(c);
		return;
	}
	if (c->flags & CONN_F_SLOW)
		conn_kick_slow(c);
	while (c->oq_count > 0) {
		size_t want = 0;
		ssize_t n;
		int cnt = 0;

		for (uint32_t i = 0; i < c->oq_count && cnt < CONN_IOV_BATCH;
		    i++, cnt++) {
			struct msg *m = c->oq[(c->oq_head + i) & (c->oq_cap - 1)];
			size_t off = i == 0 ? c->out_off : 0;

			iov[cnt].iov_base = m->data + off;
			iov[cnt].iov_len = m->len - off;
			want += iov[cnt].iov_len;
		}
		n = writev(c->fd, iov, cnt);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_destroy(c, strerror(errno));
			return;
		}
		conn_consume(c, (size_t)n);
		if ((size_t)n < want)
			break;
	}
	/*
	 * A socket that took less than offered is full: the EPOLLOUT edge
	 * that comes when the peer's acknowledgements make room writes the
	 * rest (the edge cannot be missed: it follows this write).
	 */
	if (c->oq_count == 0)
		conn_flush_done(c);
	else
		c->flags |= CONN_F_WRITE_WAIT;
}

/*
 * Answer the client's permessage-deflate offers: returns 1 with |*zp| set
 * and the response header line in |out|, 0 when no offer is accepted (or
 * none was made), or -1 when the header is malformed (400).
 */
static int
conn_ws_negotiate(struct conn *c, const struct http_request *req,
    struct pmd_params *zp, char *out, size_t outlen)
{
	const struct config *cfg = c->srv->cfg;
	const struct ws_extension *exts[] = { &pmd_extension };
	struct pmd_server_conf sc;
	const void *confs[] = { &sc };
	void *agreed[] = { zp };
	struct http_str vals[WS_EXT_HEADERS_MAX];
	char value[WS_EXT_RESPONSE_MAX];
	const char *why = "too many Sec-WebSocket-Extensions headers";
	unsigned acc;
	int nv;

	if ((nv = ws_ext_request_values(req, vals, WS_EXT_HEADERS_MAX)) == 0)
		return 0;
	sc.server_no_context_takeover = cfg->deflate_no_context_takeover;
	sc.client_no_context_takeover = cfg->deflate_client_no_context_takeover;
	sc.window_bits = (unsigned)cfg->deflate_window_bits;
	if (nv == -1 || ws_ext_server_negotiate(exts, confs, agreed, 1, vals,
	    (size_t)nv, value, sizeof(value), &acc, &why) == -1) {
		log_debug("conn %016" PRIx64 ": bad Sec-WebSocket-Extensions: %s",
		    c->id, why);
		return -1;
	}
	if (acc == 0)
		return 0;
	snprintf(out, outlen, "Sec-WebSocket-Extensions: %s\r\n", value);
	return 1;
}

/* Send the 101 response and switch the connection to WebSocket framing. */
int
conn_ws_start(struct conn *c, struct route *r, const struct http_request *req,
    const struct ws_upgrade *up)
{
	const struct config *cfg = c->srv->cfg;
	char accept[WS_KEY_ACCEPT_LEN + 1], proto[256];
	char extra[HANDLER_HEADERS_MAX], buf[1024 + HANDLER_HEADERS_MAX];
	char ext[WS_EXT_RESPONSE_MAX + 40];
	struct pmd_params zp;
	size_t elen = 0;
	const char *sel = NULL;
	struct msg *m;
	char *head;
	int n, zok = 0;

	/* Over HTTP/2 (RFC 8441) there is no key and no 101. */
	if ((c->io & CONN_IO_STREAM) == 0 &&
	    ws_accept_key(up->key.p, up->key.len, accept) == -1)
		return 500;
	ext[0] = '\0';
	if (cfg->deflate && r->cfg->deflate &&
	    (zok = conn_ws_negotiate(c, req, &zp, ext, sizeof(ext))) == -1)
		return 400;
	proto[0] = '\0';
	if (r->cfg->protocols != NULL && up->protocols.len > 0 &&
	    (sel = ws_handshake_select_protocol(up->protocols,
	    (const char *const *)r->cfg->protocols)) != NULL)
		snprintf(proto, sizeof(proto),
		    "Sec-WebSocket-Protocol: %s\r\n", sel);
	if (r->handler->response_headers != NULL)
		elen = r->handler->response_headers(c, r, req, extra,
		    sizeof(extra));
	if (c->io & CONN_IO_STREAM) {
		n = snprintf(buf, sizeof(buf), "%s%s%s: %016" PRIx64 "\r\n"
		    "%.*s", proto, ext, cfg->connection_id_header, c->id,
		    (int)elen, extra);
		if (n < 0 || (size_t)n >= sizeof(buf) ||
		    h2_stream_accept(c, buf, (size_t)n) == -1)
			return 500;
		c->state = CONN_WS;
		goto started;
	}
	n = snprintf(buf, sizeof(buf),
	    "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n"
	    "%s"
	    "%s"
	    "%s: %016" PRIx64 "\r\n"
	    "%.*s"
	    "\r\n", accept, proto, ext, cfg->connection_id_header, c->id,
	    (int)elen, extra);
	if (n < 0 || (size_t)n >= sizeof(buf) || (m = msg_new((size_t)n)) == NULL)
		return 500;
	memcpy(m->data, buf, (size_t)n);
	c->state = CONN_WS;
	conn_queue(c, m);
	msg_unref(m);

started:
	/*
	 * The request is over and its members share memory with the
	 * session; |req| still points into the head buffer, which lives
	 * until the handler has opened.
	 */
	head = c->head;
	c->flags |= CONN_F_WS;
	ws_session_init(&c->ws, &c->srv->wscfg, &conn_ws_callbacks, c);
	if (zok) {
		/* We inflate what the client compresses, and the reverse. */
		ws_session_enable_deflate(&c->ws, zp.client_max_window_bits,
		    zp.client_no_context_takeover);
		c->zbits = zp.server_max_window_bits;
		c->zctx = !zp.server_no_context_takeover;
	}
	c->route = r;
	TAILQ_INSERT_TAIL(&r->conns, c, route_link);
	r->nconns++;
	c->srv->stats.handshakes_ok++;
	/* From now on the timer watches for idleness and pings. */
	server_timer_set(c->srv, c, c->srv->tick + 1);
	if (r->handler->open != NULL && r->handler->open(c, req) == -1)
		conn_close(c, WS_CLOSE_INTERNAL, "handler refused");
	free(head);
	return 0;
}

void
conn_ws_feed(struct conn *c, uint8_t *buf, size_t n)
{
	if (n == 0 || c->state >= CONN_LINGER)
		return;
	if (ws_session_feed(&c->ws, buf, n) == -1 && c->ws.err_code != 0 &&
	    c->state == CONN_WS) {
		log_debug("conn %016" PRIx64 ": protocol error %u: %s", c->id,
		    c->ws.err_code, c->ws.err_reason);
		c->close_code = c->ws.err_code;
		ws_session_close(&c->ws, c->ws.err_code, c->ws.err_reason);
		c->flags |= CONN_F_SHUT_AFTER;
		conn_closing(c, CONN_CLOSING);
	}
}

/*
 * Read what the socket holds. Edge-triggered epoll reports new input once,
 * so a read stops only on EAGAIN, on a short read (a plain socket returned
 * less than asked: its queue was empty then, and anything later raises a
 * new edge), when the connection is paused, or after SERVER_READ_BUF bytes
 * in this turn, for fairness, as level-triggered polling read one buffer
 * per connection per turn: then the connection goes on the read-pending
 * list and reads on in the next turn. |greedy| (the peer's FIN or an error
 * is pending, or no edge is known) disregards short reads. TLS is always
 * greedy: SSL_read() returns one record at most, and may hold decrypted
 * input the socket no longer signals.
 */
static void
conn_read(struct conn *c, int greedy)
{
	uint8_t *buf = c->srv->rbuf;
	size_t total = 0;
	ssize_t n;

	if (c->io & CONN_IO_TLS)
		greedy = 1;
	for (;;) {
		if (c->io != 0)
			n = conn_io_read(c, buf, SERVER_READ_BUF);
		else
			n = read(c->fd, buf, SERVER_READ_BUF);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			conn_destroy(c, strerror(errno));
			return;
		}
		if (n == 0) {
			conn_destroy(c, c->state == CONN_WS ?
			    "connection lost (1006)" : "peer closed");
			return;
		}
		c->last_rx = c->srv->tick;
		c->flags &= ~CONN_F_PING_SENT;
		c->bytes_in += (size_t)n;
		c->srv->stats.bytes_in += (size_t)n;
		if (c->io & CONN_IO_H2)
			h2_read(c, buf, (size_t)n);
		else if (c->state == CONN_HTTP) {
			/*
			 * The first bytes tell HTTP/2 (the client preface,
			 * which begins with a method no HTTP/1.1 request may
			 * use) from HTTP/1.1.
			 */
			if (c->bytes_in == (uint64_t)n &&
			    h2_wanted(c, buf, (size_t)n))
				h2_start(c, buf, (size_t)n);
			else
				h1_read(c, buf, (size_t)n);
		} else if (c->state == CONN_WS || c->state == CONN_CLOSING) {
			/* Only a WebSocket has a session. */
			if (c->route != NULL)
				conn_ws_feed(c, buf, (size_t)n);
		}
		/* Lingering, input is discarded until the peer's FIN. */
		if (c->state == CONN_DEAD ||
		    (c->flags & CONN_F_READ_PAUSED))
			return;
		if (!greedy && (size_t)n < SERVER_READ_BUF)
			return;
		total += (size_t)n;
		if (total >= SERVER_READ_BUF) {
			conn_read_later(c);
			return;
		}
	}
}

void
conn_start(struct conn *c)
{
	if (c->state != CONN_DEAD)
		conn_read(c, 0);
}

void
conn_read_pending(struct conn *c)
{
	c->flags &= ~CONN_F_READ_PEND;
	if (c->state != CONN_DEAD && (c->flags & CONN_F_READ_PAUSED) == 0)
		conn_read(c, 1);
}

void
conn_on_event(struct conn *c, uint32_t events)
{
	if (c->state == CONN_DEAD)
		return;
	/* Room (or an error, which the write reports) for waiting output. */
	if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) &&
	    (c->flags & CONN_F_WRITE_WAIT)) {
		conn_flush(c);
		if (c->state == CONN_DEAD)
			return;
	}
	/*
	 * A paused connection reads nothing; resuming puts it on the
	 * read-pending list, which reads what came meanwhile. A TLS
	 * handshake that stopped on a full socket goes on with room.
	 */
	if (c->flags & CONN_F_READ_PAUSED)
		return;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
		conn_read(c, (events & (EPOLLRDHUP | EPOLLERR | EPOLLHUP)) != 0);
	else if ((events & EPOLLOUT) && (c->io & CONN_IO_TLS) &&
	    tls_read_wants_write(c))
		conn_read(c, 1);
}

static int
conn_ws_on_message(void *arg, unsigned opcode, uint8_t *data, size_t len)
{
	struct conn *c = arg;

	if (c->state != CONN_WS)
		return 0;
	c->msgs_in++;
	c->srv->stats.msgs_in++;
	if (c->ws.msg_compressed) {
		c->srv->stats.inflate_msgs++;
		c->srv->stats.inflate_bytes_in += c->ws.msg_wire;
		c->srv->stats.inflate_bytes_out += len;
	}
	if (conn_dbg(c) != NULL)
		conn_debug_note(c, 0, opcode, len);
	c->route->handler->message(c, opcode, data, len);
	return 0;
}

static void
conn_ws_on_close(void *arg, uint16_t code, const char *reason, size_t len)
{
	struct conn *c = arg;

	log_debug("conn %016" PRIx64 ": peer closed with %u", c->id, code);
	if (c->state == CONN_WS) {
		c->close_code = code;
		c->flags |= CONN_F_CLOSE_NOW;
	}
	/* The session has queued its answer; finish once it is written. */
	c->flags |= CONN_F_SHUT_AFTER;
	if (c->state == CONN_WS)
		conn_closing(c, CONN_CLOSING);
	if ((c->flags & CONN_F_WRITE_WAIT) == 0)
		server_want_flush(c->srv, c);
}

static void
conn_ws_send_control(void *arg, unsigned opcode, const uint8_t *data,
    size_t len)
{
	struct conn *c = arg;
	struct msg *m;

	if ((m = msg_frame(opcode, data, len)) == NULL)
		return;
	conn_queue(c, m);
	msg_unref(m);
}

void
conn_timer(struct conn *c)
{
	const struct config *cfg = c->srv->cfg;
	uint32_t now = c->srv->tick, idle, ping, next = UINT32_MAX;

	if (c->io & CONN_IO_H2) {
		h2_timer(c);
		return;
	}
	switch (c->state) {
	case CONN_HTTP:
		conn_destroy(c, c->head_len > 0 ? "request timeout" :
		    "idle or handshake timeout");
		return;
	case CONN_CLOSING:
	case CONN_LINGER:
		conn_destroy(c, "close timeout");
		return;
	case CONN_WS:
		break;
	default:
		return;
	}
	idle = server_ticks(cfg->idle_timeout);
	ping = server_ticks(cfg->ping_interval);
	if (idle > 0) {
		if (now - c->last_rx >= idle) {
			conn_close(c, WS_CLOSE_GOING_AWAY, "idle timeout");
			return;
		}
		next = c->last_rx + idle;
	}
	if (ping > 0) {
		uint32_t when;

		if (c->flags & CONN_F_PING_SENT) {
			/* Silent for a whole interval after our ping: dead. */
			if (now - c->ping_tick >= ping) {
				conn_close(c, WS_CLOSE_INTERNAL, "ping timeout");
				return;
			}
			when = c->ping_tick + ping;
		} else if (now - c->last_rx >= ping) {
			struct msg *m = msg_frame(WS_OP_PING, NULL, 0);

			if (m != NULL) {
				conn_queue(c, m);
				msg_unref(m);
			}
			c->flags |= CONN_F_PING_SENT;
			c->ping_tick = now;
			when = now + ping;
		} else
			when = c->last_rx + ping;
		if (when < next)
			next = when;
	}
	if (next != UINT32_MAX)
		server_timer_set(c->srv, c, next);
}

ssize_t
conn_io_read(struct conn *c, void *buf, size_t len)
{
	if (c->io & CONN_IO_TLS)
		return tls_read(c, buf, len);
	return read(c->fd, buf, len);
}

ssize_t
conn_io_writev(struct conn *c, const struct iovec *iov, int cnt)
{
	if (c->io & CONN_IO_TLS)
		return tls_writev(c, iov, cnt);
	return writev(c->fd, iov, cnt);
}
