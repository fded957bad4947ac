/* The libwshub client: connection state machine, reconnection and public API. */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/bufferevent_ssl.h>
#include <event2/thread.h>
#include <openssl/rand.h>

#include "wshub/wshub.h"
#include "client/backoff.h"
#include "client/client.h"
#include "client/response.h"
#include "client/url.h"
#include "proto/envelope.h"
#include "proto/frame.h"
#include "proto/handshake.h"
#include "proto/session.h"

/* Calls queued from another thread (struct client_cmd op). */
enum {
	CMD_SEND,
	CMD_FRAGMENT,
	CMD_PING,
	CMD_PONG,
	CMD_CLOSE,
	CMD_SUBSCRIBE,
	CMD_UNSUBSCRIBE,
	CMD_PUBLISH,
	CMD_STOP
};

static void	client_attempt(struct wsh_client *);
static void	client_end(struct wsh_client *);
static void	client_heartbeat_arm(struct wsh_client *, uint64_t);

static pthread_once_t client_threads_once = PTHREAD_ONCE_INIT;

const char *
wsh_version(void)
{
	return PACKAGE_VERSION;
}

uint64_t
client_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
client_now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
client_stat_add(struct wsh_client *c, enum wsh_stat which, uint64_t n)
{
	__atomic_fetch_add(&c->stats[which], n, __ATOMIC_RELAXED);
}

/* Random bytes for masks and jitter, fetched from OpenSSL in batches. */
static void
client_random(struct wsh_client *c, void *out, size_t n)
{
	if (c->rnd_pos + n > sizeof(c->rnd)) {
		if (RAND_bytes(c->rnd, sizeof(c->rnd)) != 1) {
			/* Masks need not be secret, only unpredictable enough. */
			size_t	 i;

			for (i = 0; i < sizeof(c->rnd); i++)
				c->rnd[i] = (uint8_t)random();
		}
		c->rnd_pos = 0;
	}
	memcpy(out, c->rnd + c->rnd_pos, n);
	c->rnd_pos += n;
}

static void
client_set_ready(struct wsh_client *c, enum wsh_ready_state s)
{
	__atomic_store_n(&c->ready, (int)s, __ATOMIC_RELEASE);
}

/* Whether the call comes from a thread other than the client's own. */
static int
client_foreign(struct wsh_client *c)
{
	return c->threaded && !pthread_equal(pthread_self(), c->thread);
}

void
client_emit(struct wsh_client *c, struct wsh_event *ev)
{
	if (c->cb != NULL)
		c->cb(c, ev, c->cbarg);
}

static void
client_timer_set(struct wsh_client *c, uint32_t ms)
{
	struct timeval	 tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(c->ev_timer, &tv);
}

/* ------------------------------------------------------------------ */
/* Sending */

int
client_send_frame(struct wsh_client *c, unsigned opcode, int fin,
    const void *data, size_t len)
{
	return client_send_frame_rsv(c, opcode, fin, 0, data, len);
}

int
client_send_frame_rsv(struct wsh_client *c, unsigned opcode, int fin,
    unsigned rsv, const void *data, size_t len)
{
	struct evbuffer		*dst;
	struct evbuffer_iovec	 iov;
	uint8_t			 mask[4], *p, pos = 0;
	size_t			 hlen;
	uint64_t		 t0;

	if (c->bev == NULL)
		return -1;
	t0 = client_now_us();
	dst = c->is_h2 ? c->h2out : bufferevent_get_output(c->bev);
	if (dst == NULL)
		return -1;
	client_random(c, mask, sizeof(mask));
	hlen = ws_frame_header_size(len, 1);
	/* One copy: the payload is masked where the transport reads it. */
	if (evbuffer_reserve_space(dst, (ev_ssize_t)(hlen + len), &iov, 1) < 1)
		return -1;
	p = iov.iov_base;
	ws_frame_header_encode(p, fin, rsv, opcode, len, mask);
	if (len > 0) {
		memcpy(p + hlen, data, len);
		ws_mask(p + hlen, len, mask, &pos);
	}
	iov.iov_len = hlen + len;
	if (evbuffer_commit_space(dst, &iov, 1) == -1)
		return -1;
	client_stat_add(c, WSH_STAT_BYTES_SENT, hlen + len);
	if (c->is_h2)
		h2_data_queued(c);
	client_stat_add(c, WSH_STAT_US_SENT, client_now_us() - t0);
	return 0;
}

static void
session_send_control(void *arg, unsigned opcode, const uint8_t *data,
    size_t len)
{
	struct wsh_client	*c = arg;

	(void)client_send_frame(c, opcode, 1, data, len);
}

/* ------------------------------------------------------------------ */
/* Receiving */

static int
session_on_message(void *arg, unsigned opcode, uint8_t *data, size_t len)
{
	struct wsh_client	*c = arg;
	struct wsh_event	 ev;

	client_stat_add(c, WSH_STAT_MSGS_RECV, 1);
	if (c->pubsub && c->subproto != NULL &&
	    strcmp(c->subproto, ENVELOPE_PROTOCOL) == 0 &&
	    opcode == WS_OP_TEXT)
		return pubsub_message(c, data, len);
	memset(&ev, 0, sizeof(ev));
	ev.type = WSH_EV_MESSAGE;
	ev.data = data;
	ev.len = len;
	ev.binary = opcode == WS_OP_BINARY;
	ev.reason = "";
	client_emit(c, &ev);
	return 0;
}

static void
session_on_ping(void *arg, const uint8_t *data, size_t len)
{
	struct wsh_client	*c = arg;
	struct wsh_event	 ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = WSH_EV_PING;
	ev.data = data;
	ev.len = len;
	ev.reason = "";
	client_emit(c, &ev);
}

static void
session_on_pong(void *arg, const uint8_t *data, size_t len)
{
	struct wsh_client	*c = arg;
	struct wsh_event	 ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = WSH_EV_PONG;
	ev.data = data;
	ev.len = len;
	ev.reason = "";
	client_emit(c, &ev);
}

static void
session_on_close(void *arg, uint16_t code, const char *reason,
    size_t reason_len)
{
	struct wsh_client	*c = arg;

	c->close_code = code;
	if (reason_len >= sizeof(c->close_reason))
		reason_len = sizeof(c->close_reason) - 1;
	memcpy(c->close_reason, reason != NULL ? reason : "", reason_len);
	c->close_reason[reason_len] = '\0';
}

static const struct ws_session_callbacks client_session_cb = {
	.on_message = session_on_message,
	.on_ping = session_on_ping,
	.on_pong = session_on_pong,
	.on_close = session_on_close,
	.send_control = session_send_control
};

/* Enter the closing phase: wait a bounded time for the peer to finish. */
static void
client_closing(struct wsh_client *c)
{
	if (c->phase == PH_CLOSING)
		return;
	c->phase = PH_CLOSING;
	client_set_ready(c, WSH_STATE_CLOSING);
	evtimer_del(c->ev_ping);
	client_timer_set(c, CLIENT_CLOSE_MS);
	if (c->is_h2)
		h2_end_stream(c);
}

void
client_ws_input(struct wsh_client *c, uint8_t *data, size_t len)
{
	struct wsh_event	 ev;

	if (c->phase != PH_OPEN && c->phase != PH_CLOSING)
		return;
	c->last_rx_ms = client_now_ms();
	c->ping_sent_ms = 0;
	if (ws_session_feed(&c->ws, data, len) == -1) {
		if (c->ws.err_code == 0 || c->phase == PH_CLOSING)
			return;
		/* The server broke the protocol: say why and close. */
		memset(&ev, 0, sizeof(ev));
		ev.type = WSH_EV_ERROR;
		ev.reason = c->ws.err_reason;
		ev.code = c->ws.err_code;
		ev.retries = c->retries;
		client_emit(c, &ev);
		c->close_local = 1;
		c->close_code = c->ws.err_code;
		(void)snprintf(c->close_reason, sizeof(c->close_reason), "%s",
		    c->ws.err_reason);
		/* The session refuses to close twice; send ours directly. */
		if (c->ws.state == WS_SS_OPEN) {
			uint8_t	 b[2] = { (uint8_t)(c->ws.err_code >> 8),
			    (uint8_t)c->ws.err_code };

			c->ws.state = WS_SS_CLOSE_SENT;
			(void)client_send_frame(c, WS_OP_CLOSE, 1, b, 2);
		}
		client_closing(c);
		return;
	}
	if (c->ws.state == WS_SS_CLOSE_RECEIVED || c->ws.state == WS_SS_CLOSED)
		client_closing(c);
}

/* ------------------------------------------------------------------ */
/* Connection life */

static void
client_free_str(char **p)
{
	free(*p);
	*p = NULL;
}

/* Release the transport of the current attempt; emits nothing. */
void
client_teardown(struct wsh_client *c)
{
	evtimer_del(c->ev_timer);
	evtimer_del(c->ev_ping);
	h2_free(c);
	if (c->ev_read != NULL) {
		event_free(c->ev_read);
		c->ev_read = NULL;
	}
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	if (c->ai != NULL) {
		freeaddrinfo(c->ai);
		c->ai = c->ai_next = NULL;
	}
	if (c->ws_ready) {
		ws_session_reset(&c->ws);
		c->ws_ready = 0;
	}
	client_free_str(&c->head);
	memset(&c->resp, 0, sizeof(c->resp));
	if (c->zout != NULL) {
		pmd_deflater_free(c->zout);
		c->zout = NULL;
	}
	c->pmd_on = 0;
	c->frag_open = 0;
	c->is_h2 = 0;
}

/* After the end of an attempt or a connection: reconnect, or stop. */
static void
client_after(struct wsh_client *c, uint32_t wait)
{
	if (wait > 0 && !c->user_closed && !c->stopping && c->reconnect) {
		c->phase = PH_WAITING;
		client_timer_set(c, wait);
		return;
	}
	c->phase = PH_IDLE;
	if (c->stopping && c->own_base)
		event_base_loopbreak(c->base);
}

/* The wait before the next attempt, counting it; 0 when none follows. */
static uint32_t
client_next_wait(struct wsh_client *c)
{
	uint32_t	 rnd;

	if (!c->reconnect || c->user_closed || c->stopping)
		return 0;
	if (c->bo_max_retries != 0 && c->retries >= c->bo_max_retries)
		return 0;
	client_random(c, &rnd, sizeof(rnd));
	return backoff_delay(c->bo_min, c->bo_max, c->bo_jitter, c->retries,
	    rnd);
}

void
client_fail(struct wsh_client *c, const char *reason, int status)
{
	struct wsh_event	 ev;
	char			 why[256];
	uint32_t		 wait;

	(void)snprintf(why, sizeof(why), "%s", reason);
	c->retries++;
	wait = client_next_wait(c);
	memset(&ev, 0, sizeof(ev));
	ev.type = WSH_EV_ERROR;
	ev.reason = why;
	ev.retries = c->retries;
	ev.wait_ms = wait;
	ev.http_status = status;
	if (c->head != NULL || c->h2resp.status != 0)
		ev.resp = c->is_h2 ? &c->h2resp : &c->resp;
	client_set_ready(c, WSH_STATE_CLOSED);
	client_emit(c, &ev);
	client_teardown(c);
	client_after(c, wait);
}

/* An open connection is over: tell the caller and maybe reconnect. */
static void
client_end(struct wsh_client *c)
{
	struct wsh_event	 ev;
	uint16_t		 code = c->close_code;
	uint32_t		 wait;

	/* Without a close frame from the server the closure is abnormal. */
	if (code == 0)
		code = WS_CLOSE_ABNORMAL;
	client_teardown(c);
	client_set_ready(c, WSH_STATE_CLOSED);
	c->retries = 1;
	wait = client_next_wait(c);
	memset(&ev, 0, sizeof(ev));
	ev.type = WSH_EV_CLOSE;
	ev.code = code;
	ev.reason = c->close_reason;
	ev.local = c->close_local || c->user_closed;
	ev.wait_ms = wait;
	ev.protocol = c->protocol;
	client_emit(c, &ev);
	client_after(c, wait);
}

static void
client_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsh_client	*c = arg;

	switch (c->phase) {
	case PH_CONNECTING:
	case PH_H1_HANDSHAKE:
	case PH_H2_SETTINGS:
	case PH_H2_CONNECT:
		client_fail(c, "handshake timed out", 0);
		break;
	case PH_OPEN:
	case PH_CLOSING:
		client_end(c);
		break;
	case PH_WAITING:
		client_attempt(c);
		break;
	case PH_IDLE:
		break;
	}
}

static void
client_heartbeat_arm(struct wsh_client *c, uint64_t ms)
{
	struct timeval	 tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(c->ev_ping, &tv);
}

static void
client_ping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsh_client	*c = arg;
	uint64_t		 now = client_now_ms(), timeout;
	char			 buf[32];
	int			 n;

	if (c->phase != PH_OPEN || c->ping_ms == 0)
		return;
	timeout = c->pong_timeout_ms != 0 ? c->pong_timeout_ms : c->ping_ms;
	if (c->ping_sent_ms != 0) {
		if (now - c->ping_sent_ms >= timeout) {
			/* Silence after a ping: the peer or the path is dead. */
			c->close_local = 1;
			c->close_code = WS_CLOSE_ABNORMAL;
			(void)snprintf(c->close_reason,
			    sizeof(c->close_reason), "no pong within %llu ms",
			    (unsigned long long)timeout);
			client_end(c);
			return;
		}
		client_heartbeat_arm(c, c->ping_sent_ms + timeout - now);
		return;
	}
	if (now - c->last_rx_ms >= c->ping_ms) {
		n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)now);
		(void)client_send_frame(c, WS_OP_PING, 1, buf, (size_t)n);
		c->ping_sent_ms = now;
		client_heartbeat_arm(c, timeout);
		return;
	}
	client_heartbeat_arm(c, c->last_rx_ms + c->ping_ms - now);
}

size_t
client_deflate_offer(struct wsh_client *c, char *out, size_t len)
{
	if (!c->deflate)
		return 0;
	/* Offer the bare client_max_window_bits: any window we can take. */
	memset(&c->pmd_conf, 0, sizeof(c->pmd_conf));
	return pmd_client_offer(&c->pmd_conf, out, len);
}

int
client_negotiate(struct wsh_client *c, const struct response *r,
    const char **reason)
{
	struct http_str	 values[WS_EXT_HEADERS_MAX];
	size_t		 n = 0;
	unsigned	 i;
	int		 rc;

	c->pmd_on = 0;
	for (i = 0; i < r->nheaders && n < WS_EXT_HEADERS_MAX; i++) {
		if (http_str_eq(r->headers[i].name, "sec-websocket-extensions"))
			values[n++] = r->headers[i].value;
	}
	if (n == 0)
		return 0;
	if (!c->deflate) {
		*reason = "server accepted an extension we did not offer";
		return -1;
	}
	rc = pmd_client_confirm(&c->pmd_conf, values, n, &c->pmd, reason);
	if (rc == -1)
		return -1;
	c->pmd_on = rc == 1;
	return 0;
}

static void	client_event_cb(struct bufferevent *, short, void *);

/*
 * Reads of an open ws:// stream over HTTP/1.1, straight from the socket.
 * libevent 2.1 reads at most 4096 bytes per call into a bufferevent, so a
 * 4 KiB message took two reads (and two ACKs); one read here takes up to
 * CLIENT_READ_MAX. End of stream and errors go the bufferevent's way.
 */
static void
client_direct_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsh_client	*c = arg;
	uint8_t			 buf[CLIENT_READ_MAX];
	uint64_t		 t0 = client_now_us();
	ssize_t			 n;

	n = recv(fd, buf, sizeof(buf), 0);
	if (n > 0) {
		client_stat_add(c, WSH_STAT_BYTES_RECV, (uint64_t)n);
		client_ws_input(c, buf, (size_t)n);
		client_stat_add(c, WSH_STAT_US_RECV, client_now_us() - t0);
		return;
	}
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	client_event_cb(c->bev, BEV_EVENT_READING | (n == 0 ?
	    BEV_EVENT_EOF : BEV_EVENT_ERROR), c);
}

/* Take the reads of a plaintext HTTP/1.1 stream from the bufferevent. */
static void
client_direct_start(struct wsh_client *c)
{
	evutil_socket_t	 fd;

	if (c->url.tls || c->is_h2 || c->bev == NULL ||
	    (fd = bufferevent_getfd(c->bev)) == -1)
		return;
	if ((c->ev_read = event_new(c->base, fd, EV_READ | EV_PERSIST,
	    client_direct_read_cb, c)) == NULL)
		return;
	if (event_add(c->ev_read, NULL) == -1) {
		event_free(c->ev_read);
		c->ev_read = NULL;
		return;
	}
	bufferevent_disable(c->bev, EV_READ);
}

void
client_opened(struct wsh_client *c, const struct response *r)
{
	const struct http_header	*h;
	struct ws_session_config	*cfg = &c->ws_cfg;
	struct wsh_event		 ev;

	client_free_str(&c->subproto);
	client_free_str(&c->extensions);
	if ((h = response_header(r, "sec-websocket-protocol")) != NULL)
		c->subproto = strndup(h->value.p, h->value.len);
	if ((h = response_header(r, "sec-websocket-extensions")) != NULL)
		c->extensions = strndup(h->value.p, h->value.len);
	c->protocol = c->is_h2 ? "h2" : "http/1.1";

	memset(cfg, 0, sizeof(*cfg));
	cfg->role = WS_ROLE_CLIENT;
	cfg->max_message_size = c->max_message;
	cfg->auto_pong = 1;
	ws_session_init(&c->ws, cfg, &client_session_cb, c);
	if (c->pmd_on)
		ws_session_enable_deflate(&c->ws, c->pmd.server_max_window_bits,
		    c->pmd.server_no_context_takeover);
	c->ws_ready = 1;
	c->phase = PH_OPEN;
	c->was_open = 1;
	client_direct_start(c);
	c->retries = 0;
	c->close_code = 0;
	c->close_reason[0] = '\0';
	c->close_local = 0;
	c->last_rx_ms = client_now_ms();
	c->ping_sent_ms = 0;
	evtimer_del(c->ev_timer);
	if (c->ping_ms != 0)
		client_heartbeat_arm(c, c->ping_ms);
	client_set_ready(c, WSH_STATE_OPEN);
	client_stat_add(c, WSH_STAT_CONNECTS, 1);

	/*
	 * Resubscribe before the caller hears of the connection: a channel
	 * it subscribes to from the callback is then sent once, not twice.
	 */
	if (c->pubsub)
		pubsub_opened(c);
	memset(&ev, 0, sizeof(ev));
	ev.type = WSH_EV_OPEN;
	ev.resp = r;
	ev.http_status = r->status;
	ev.subprotocol = c->subproto;
	ev.protocol = c->protocol;
	ev.reason = "";
	client_emit(c, &ev);
}

/* The HTTP/1.1 upgrade request. */
static int
client_send_request(struct wsh_client *c)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	char		 leid[4096];
	size_t		 i;
	int		 have_ua = 0;

	if (ws_key_generate(c->key) == -1)
		return -1;
	evbuffer_add_printf(out, "GET %s HTTP/1.1\r\nHost: %s\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n",
	    c->url.path, c->url.authority, c->key);
	for (i = 0; i < c->nprotos; i++)
		evbuffer_add_printf(out, "%s%s%s", i == 0 ?
		    "Sec-WebSocket-Protocol: " : ", ", c->protos[i],
		    i + 1 == c->nprotos ? "\r\n" : "");
	for (i = 0; i < c->nheaders; i++) {
		if (strcasecmp(c->headers[i].name, "user-agent") == 0)
			have_ua = 1;
		evbuffer_add_printf(out, "%s: %s\r\n", c->headers[i].name,
		    c->headers[i].value);
	}
	if (!have_ua)
		evbuffer_add_printf(out, "User-Agent: wshub/%s\r\n",
		    PACKAGE_VERSION);
	if (pubsub_last_event_id(c, leid, sizeof(leid)))
		evbuffer_add_printf(out, "Last-Event-ID: %s\r\n", leid);
	if (client_deflate_offer(c, leid, sizeof(leid)) > 0)
		evbuffer_add_printf(out, "Sec-WebSocket-Extensions: %s\r\n",
		    leid);
	evbuffer_add(out, "\r\n", 2);
	return 0;
}

static void
client_read_h1_head(struct wsh_client *c, struct evbuffer *in)
{
	const char	*reason;
	size_t		 avail = evbuffer_get_length(in), n;
	char		*p;
	int		 rc;
	unsigned	 i;

	n = avail < RESPONSE_HEAD_MAX ? avail : RESPONSE_HEAD_MAX;
	p = (char *)evbuffer_pullup(in, (ev_ssize_t)n);
	rc = response_parse(p, n, &c->resp, &reason);
	if (rc == 0)
		return;
	if (rc < 0) {
		client_fail(c, reason, 0);
		return;
	}
	/* Keep our own copy so headers outlive the input buffer. */
	if ((c->head = malloc((size_t)rc + 1)) == NULL) {
		client_fail(c, "out of memory", 0);
		return;
	}
	memcpy(c->head, p, (size_t)rc);
	c->head[rc] = '\0';
	evbuffer_drain(in, (size_t)rc);
	(void)response_parse(c->head, (size_t)rc, &c->resp, &reason);
	/*
	 * Terminate each name and value in place: a name is followed by its
	 * ':' and a trimmed value by a blank or the CR of its line.
	 */
	for (i = 0; i < c->resp.nheaders; i++) {
		((char *)c->resp.headers[i].name.p)[c->resp.headers[i].name.len] =
		    '\0';
		((char *)c->resp.headers[i].value.p)[c->resp.headers[i].value.len] =
		    '\0';
	}
	if (response_validate(&c->resp, c->key,
	    (const char *const *)c->protos, c->deflate, &reason) == -1 ||
	    client_negotiate(c, &c->resp, &reason) == -1) {
		client_fail(c, reason, c->resp.status);
		return;
	}
	client_opened(c, &c->resp);
}

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	struct wsh_client	*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	uint64_t		 t0 = client_now_us();
	size_t			 n;
	uint8_t			*p;

	client_stat_add(c, WSH_STAT_BYTES_RECV, evbuffer_get_length(in));
	if (c->phase == PH_H1_HANDSHAKE) {
		client_read_h1_head(c, in);
		if (c->bev != bev)
			goto out;
	}
	while (c->bev == bev && (n = evbuffer_get_contiguous_space(in)) > 0) {
		p = evbuffer_pullup(in, (ev_ssize_t)n);
		if (c->is_h2) {
			if (h2_input(c, p, n) == -1) {
				evbuffer_drain(in, n);
				goto out;
			}
		} else if (c->phase == PH_OPEN || c->phase == PH_CLOSING)
			client_ws_input(c, p, n);
		if (c->bev != bev)
			goto out;
		evbuffer_drain(in, n);
	}
	if (c->bev == bev && c->is_h2)
		(void)h2_flush(c);
out:
	client_stat_add(c, WSH_STAT_US_RECV, client_now_us() - t0);
}

static void
client_write_cb(struct bufferevent *bev, void *arg)
{
	struct wsh_client	*c = arg;

	/*
	 * Once the close handshake is over on HTTP/1.1 and everything is
	 * written, the connection has nothing left to carry.
	 */
	if (c->phase == PH_CLOSING && !c->is_h2 &&
	    c->ws.state == WS_SS_CLOSED)
		client_end(c);
}

static void
client_connect_next(struct wsh_client *c);

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct wsh_client	*c = arg;
	const unsigned char	*alpn = NULL;
	unsigned int		 alpn_len = 0;
	const char		*reason;
	char			 buf[256];
	int			 one = 1, err;
	SSL			*ssl;

	if (what & BEV_EVENT_CONNECTED) {
		(void)setsockopt(bufferevent_getfd(bev), IPPROTO_TCP,
		    TCP_NODELAY, &one, sizeof(one));
		if (c->url.tls) {
			ssl = bufferevent_openssl_get_ssl(bev);
			SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
			c->is_h2 = c->try_h2 && alpn_len == 2 &&
			    memcmp(alpn, "h2", 2) == 0;
		} else
			c->is_h2 = c->try_h2;
		if (c->try_h2 && !c->is_h2 && c->http2 == WSH_HTTP2_REQUIRE) {
			client_fail(c, "server does not offer HTTP/2", 0);
			return;
		}
		if (c->is_h2) {
			c->phase = PH_H2_SETTINGS;
			if (h2_start(c) == -1)
				client_fail(c, "cannot start HTTP/2", 0);
			return;
		}
		c->phase = PH_H1_HANDSHAKE;
		if (client_send_request(c) == -1)
			client_fail(c, "cannot build the request", 0);
		return;
	}
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;

	err = EVUTIL_SOCKET_ERROR();
	if (c->url.tls && (reason = tls_error(c, bev)) != NULL)
		(void)snprintf(buf, sizeof(buf), "TLS: %s", reason);
	else if (what & BEV_EVENT_EOF)
		(void)snprintf(buf, sizeof(buf), "connection closed by the "
		    "server");
	else
		(void)snprintf(buf, sizeof(buf), "%s", strerror(err));

	switch (c->phase) {
	case PH_CONNECTING:
		/* Try the host's next address before giving up. */
		if (c->ai_next != NULL && c->ai_next->ai_next != NULL &&
		    !(c->url.tls && tls_error(c, bev) != NULL)) {
			c->ai_next = c->ai_next->ai_next;
			bufferevent_free(c->bev);
			c->bev = NULL;
			client_connect_next(c);
			return;
		}
		client_fail(c, buf, 0);
		return;
	case PH_H2_SETTINGS:
		/*
		 * A server that closes on the HTTP/2 preface speaks only
		 * HTTP/1.1: try again at once with it, unless h2 is required.
		 */
		if (!c->url.tls && c->http2 != WSH_HTTP2_REQUIRE) {
			c->h2_refused = 1;
			client_teardown(c);
			client_reattempt(c);
			return;
		}
		client_fail(c, buf, 0);
		return;
	case PH_H1_HANDSHAKE:
	case PH_H2_CONNECT:
		client_fail(c, buf, 0);
		return;
	case PH_OPEN:
	case PH_CLOSING:
		if (c->close_code == 0 && !(what & BEV_EVENT_EOF)) {
			c->close_code = WS_CLOSE_ABNORMAL;
			(void)snprintf(c->close_reason,
			    sizeof(c->close_reason), "%.120s", buf);
		}
		client_end(c);
		return;
	default:
		return;
	}
}

/*
 * Give the attempt's bufferevent a socket bound to the source address.
 * The port is left to connect(), so that many connections to one server
 * can share an address (IP_BIND_ADDRESS_NO_PORT). Returns 0, or -1 when
 * the family differs from the source's or the socket cannot be bound.
 */
static int
client_bind_source(struct wsh_client *c, int family)
{
	evutil_socket_t	 fd;
	int		 one = 1;

	if (family != c->src.ss_family)
		return -1;
	if ((fd = socket(family, SOCK_STREAM, 0)) == -1)
		return -1;
#ifdef IP_BIND_ADDRESS_NO_PORT
	(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
	    sizeof(one));
#else
	(void)one;
#endif
	if (evutil_make_socket_nonblocking(fd) == -1 ||
	    evutil_make_socket_closeonexec(fd) == -1 ||
	    bind(fd, (struct sockaddr *)&c->src, c->srclen) == -1 ||
	    bufferevent_setfd(c->bev, fd) == -1) {
		evutil_closesocket(fd);
		return -1;
	}
	return 0;
}

static void
client_connect_next(struct wsh_client *c)
{
	const char	*reason;
	SSL		*ssl;
	char		 buf[256];

	for (; c->ai_next != NULL; c->ai_next = c->ai_next->ai_next) {
		if (c->url.tls) {
			if ((ssl = tls_ssl_new(c, &reason)) == NULL) {
				(void)snprintf(buf, sizeof(buf), "TLS: %s",
				    reason);
				client_fail(c, buf, 0);
				return;
			}
			c->bev = bufferevent_openssl_socket_new(c->base, -1, ssl,
			    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
			if (c->bev == NULL)
				SSL_free(ssl);
		} else
			c->bev = bufferevent_socket_new(c->base, -1,
			    BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL) {
			client_fail(c, "out of memory", 0);
			return;
		}
		if (c->srclen != 0 && client_bind_source(c,
		    c->ai_next->ai_family) == -1) {
			bufferevent_free(c->bev);
			c->bev = NULL;
			continue;
		}
		bufferevent_setcb(c->bev, client_read_cb, client_write_cb,
		    client_event_cb, c);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		if (bufferevent_socket_connect(c->bev, c->ai_next->ai_addr,
		    (int)c->ai_next->ai_addrlen) == 0)
			return;
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	client_fail(c, "cannot connect", 0);
}

/* Try again at once, for a fallback from HTTP/2 to HTTP/1.1. */
void
client_reattempt(struct wsh_client *c)
{
	evtimer_del(c->ev_timer);
	c->phase = PH_WAITING;
	client_timer_set(c, 0);
}

static void
client_attempt(struct wsh_client *c)
{
	struct addrinfo	 hints;
	const char	*reason;
	char		 buf[256];
	int		 rc;

	client_teardown(c);
	c->phase = PH_CONNECTING;
	client_set_ready(c, WSH_STATE_CONNECTING);
	c->close_code = 0;
	c->close_reason[0] = '\0';
	c->close_local = 0;
	memset(&c->h2resp, 0, sizeof(c->h2resp));
	if (c->h2_refused || c->http2 == WSH_HTTP2_NEVER)
		c->try_h2 = 0;
	else if (c->url.tls)
		c->try_h2 = 1;
	else
		c->try_h2 = c->http2 == WSH_HTTP2_PREFER ||
		    c->http2 == WSH_HTTP2_REQUIRE;
	if (c->url.tls && c->ssl_ctx == NULL &&
	    tls_ctx_build(c, &reason) == -1) {
		(void)snprintf(buf, sizeof(buf), "TLS: %s", reason);
		client_fail(c, buf, 0);
		return;
	}
	client_timer_set(c, c->hs_timeout_ms);

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	/* Resolution blocks; names in the hosts file or numbers do not wait. */
	if ((rc = getaddrinfo(c->url.host, c->url.port, &hints, &c->ai)) != 0) {
		c->ai = NULL;
		(void)snprintf(buf, sizeof(buf), "cannot resolve %s: %s",
		    c->url.host, gai_strerror(rc));
		client_fail(c, buf, 0);
		return;
	}
	c->ai_next = c->ai;
	client_connect_next(c);
}

/* ------------------------------------------------------------------ */
/* Calls from other threads */

static int
client_queue(struct wsh_client *c, int op, const void *data, size_t len,
    int binary, int fin, uint16_t code, const char *channel)
{
	struct client_cmd	*cmd;

	if ((cmd = calloc(1, sizeof(*cmd) + len + 1)) == NULL)
		return -1;
	cmd->op = op;
	cmd->binary = binary;
	cmd->fin = fin;
	cmd->code = code;
	cmd->len = len;
	if (len > 0)
		memcpy(cmd->data, data, len);
	if (channel != NULL && (cmd->channel = strdup(channel)) == NULL) {
		free(cmd);
		return -1;
	}
	pthread_mutex_lock(&c->lock);
	TAILQ_INSERT_TAIL(&c->cmds, cmd, entry);
	pthread_mutex_unlock(&c->lock);
	event_active(c->ev_wake, EV_READ, 0);
	return 0;
}

static int	client_do_send(struct wsh_client *, unsigned, const void *,
		    size_t);
static int	client_do_fragment(struct wsh_client *, int, const void *,
		    size_t, int);
static int	client_do_close(struct wsh_client *, uint16_t, const char *);

static void
client_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsh_client	*c = arg;
	struct client_cmd	*cmd;

	for (;;) {
		pthread_mutex_lock(&c->lock);
		if ((cmd = TAILQ_FIRST(&c->cmds)) != NULL)
			TAILQ_REMOVE(&c->cmds, cmd, entry);
		pthread_mutex_unlock(&c->lock);
		if (cmd == NULL)
			break;
		switch (cmd->op) {
		case CMD_SEND:
			(void)client_do_send(c, cmd->binary ? WS_OP_BINARY :
			    WS_OP_TEXT, cmd->data, cmd->len);
			break;
		case CMD_FRAGMENT:
			(void)client_do_fragment(c, cmd->binary, cmd->data,
			    cmd->len, cmd->fin);
			break;
		case CMD_PING:
			if (c->phase == PH_OPEN)
				(void)client_send_frame(c, WS_OP_PING, 1,
				    cmd->data, cmd->len);
			break;
		case CMD_PONG:
			if (c->phase == PH_OPEN)
				(void)client_send_frame(c, WS_OP_PONG, 1,
				    cmd->data, cmd->len);
			break;
		case CMD_CLOSE:
			(void)client_do_close(c, cmd->code,
			    (const char *)cmd->data);
			break;
		case CMD_SUBSCRIBE:
			(void)pubsub_subscribe(c, cmd->channel);
			break;
		case CMD_UNSUBSCRIBE:
			(void)pubsub_unsubscribe(c, cmd->channel);
			break;
		case CMD_PUBLISH:
			(void)pubsub_publish(c, cmd->channel, cmd->data,
			    cmd->len, cmd->binary);
			break;
		case CMD_STOP:
			c->stopping = 1;
			c->user_closed = 1;
			if (c->phase == PH_OPEN)
				(void)client_do_close(c, WS_CLOSE_NORMAL, NULL);
			else if (c->phase != PH_CLOSING) {
				client_teardown(c);
				client_after(c, 0);
			}
			break;
		}
		free(cmd->channel);
		free(cmd);
	}
}

/* ------------------------------------------------------------------ */
/* Public API */

struct wsh_client *
wsh_client_new(const char *url, char **cause)
{
	struct wsh_client	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto nomem;
	TAILQ_INIT(&c->cmds);
	TAILQ_INIT(&c->channels);
	pthread_mutex_init(&c->lock, NULL);
	c->tls_verify_host = 1;
	c->deflate = 1;
	c->http2 = WSH_HTTP2_AUTO;
	c->hs_timeout_ms = CLIENT_HANDSHAKE_MS;
	c->reconnect = 1;
	c->bo_min = BACKOFF_MIN_MS;
	c->bo_max = BACKOFF_MAX_MS;
	c->bo_jitter = BACKOFF_JITTER_PCT;
	c->max_message = CLIENT_MAX_MESSAGE;
	c->rnd_pos = sizeof(c->rnd);
	client_set_ready(c, WSH_STATE_CLOSED);
	if ((c->protos = calloc(1, sizeof(*c->protos))) == NULL)
		goto nomem;
	if (wsh_client_set_url(c, url, cause) == -1) {
		wsh_client_free(c);
		return NULL;
	}
	return c;
nomem:
	if (cause != NULL)
		*cause = strdup("out of memory");
	wsh_client_free(c);
	return NULL;
}

int
wsh_client_set_url(struct wsh_client *c, const char *url, char **cause)
{
	struct url	 u;
	const char	*reason;
	char		*s;

	if (url_parse(url, &u, &reason) == -1) {
		if (cause != NULL &&
		    asprintf(cause, "bad URL %s: %s", url, reason) == -1)
			*cause = NULL;
		return -1;
	}
	if ((s = strdup(url)) == NULL) {
		url_clear(&u);
		if (cause != NULL)
			*cause = strdup("out of memory");
		return -1;
	}
	url_clear(&c->url);
	free(c->url_str);
	c->url = u;
	c->url_str = s;
	c->h2_refused = 0;
	if (c->ssl_ctx != NULL) {
		SSL_CTX_free(c->ssl_ctx);
		c->ssl_ctx = NULL;
	}
	return 0;
}

void
wsh_client_free(struct wsh_client *c)
{
	struct client_cmd	*cmd;
	size_t			 i;

	if (c == NULL)
		return;
	if (c->threaded)
		wsh_client_stop(c);
	if (c->base != NULL) {
		client_teardown(c);
		event_free(c->ev_wake);
		event_free(c->ev_timer);
		event_free(c->ev_ping);
		if (c->own_base)
			event_base_free(c->base);
	}
	while ((cmd = TAILQ_FIRST(&c->cmds)) != NULL) {
		TAILQ_REMOVE(&c->cmds, cmd, entry);
		free(cmd->channel);
		free(cmd);
	}
	pubsub_free(c);
	for (i = 0; i < c->nheaders; i++) {
		free(c->headers[i].name);
		free(c->headers[i].value);
	}
	free(c->headers);
	for (i = 0; c->protos != NULL && i < c->nprotos; i++)
		free(c->protos[i]);
	free(c->protos);
	free(c->tls_ca);
	free(c->tls_cert);
	free(c->tls_key);
	if (c->ssl_ctx != NULL)
		SSL_CTX_free(c->ssl_ctx);
	free(c->subproto);
	free(c->extensions);
	free(c->h2hdrs);
	free(c->h2_scratch);
	url_clear(&c->url);
	free(c->url_str);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void
wsh_client_set_callback(struct wsh_client *c, wsh_event_cb cb, void *arg)
{
	c->cb = cb;
	c->cbarg = arg;
}

/* Whether |s| is safe in a header line: no CR, LF or NUL. */
static int
client_header_safe(const char *s)
{
	return strpbrk(s, "\r\n") == NULL;
}

int
wsh_client_add_header(struct wsh_client *c, const char *name,
    const char *value)
{
	struct client_header	*h;
	size_t			 i;

	if (*name == '\0' || strpbrk(name, ": \t\r\n") != NULL ||
	    !client_header_safe(value))
		return -1;
	for (i = 0; name[i] != '\0'; i++) {
		if ((unsigned char)name[i] <= 0x20 ||
		    (unsigned char)name[i] >= 0x7f)
			return -1;
	}
	h = reallocarray(c->headers, c->nheaders + 1, sizeof(*h));
	if (h == NULL)
		return -1;
	c->headers = h;
	h[c->nheaders].name = strdup(name);
	h[c->nheaders].value = strdup(value);
	if (h[c->nheaders].name == NULL || h[c->nheaders].value == NULL) {
		free(h[c->nheaders].name);
		free(h[c->nheaders].value);
		return -1;
	}
	c->nheaders++;
	return 0;
}

int
wsh_client_add_subprotocol(struct wsh_client *c, const char *name)
{
	char	**p;
	size_t	  i;

	if (*name == '\0')
		return -1;
	/* A subprotocol is an HTTP token (RFC 6455 4.1). */
	for (i = 0; name[i] != '\0'; i++) {
		if ((unsigned char)name[i] <= 0x20 ||
		    (unsigned char)name[i] >= 0x7f ||
		    strchr("()<>@,;:\\\"/[]?={}", name[i]) != NULL)
			return -1;
	}
	for (i = 0; i < c->nprotos; i++) {
		if (strcmp(c->protos[i], name) == 0)
			return 0;
	}
	if ((p = reallocarray(c->protos, c->nprotos + 2, sizeof(*p))) == NULL)
		return -1;
	c->protos = p;
	if ((p[c->nprotos] = strdup(name)) == NULL)
		return -1;
	c->nprotos++;
	p[c->nprotos] = NULL;
	return 0;
}

static int
client_set_str(char **dst, const char *src)
{
	char	*s = NULL;

	if (src != NULL && (s = strdup(src)) == NULL)
		return -1;
	free(*dst);
	*dst = s;
	return 0;
}

int
wsh_client_set_tls_ca(struct wsh_client *c, const char *ca)
{
	if (c->ssl_ctx != NULL) {
		SSL_CTX_free(c->ssl_ctx);
		c->ssl_ctx = NULL;
	}
	if (ca != NULL && strcasecmp(ca, "SYSTEM") == 0)
		ca = NULL;
	return client_set_str(&c->tls_ca, ca);
}

int
wsh_client_set_tls_cert(struct wsh_client *c, const char *cert,
    const char *key)
{
	if (c->ssl_ctx != NULL) {
		SSL_CTX_free(c->ssl_ctx);
		c->ssl_ctx = NULL;
	}
	if (client_set_str(&c->tls_cert, cert) == -1 ||
	    client_set_str(&c->tls_key, key != NULL ? key : cert) == -1)
		return -1;
	return 0;
}

void
wsh_client_set_tls_verify_host(struct wsh_client *c, int on)
{
	c->tls_verify_host = on != 0;
}

void
wsh_client_set_deflate(struct wsh_client *c, int on)
{
	c->deflate = on != 0;
}

void
wsh_client_set_http2(struct wsh_client *c, enum wsh_http2 mode)
{
	c->http2 = mode;
	c->h2_refused = 0;
	if (c->ssl_ctx != NULL) {
		SSL_CTX_free(c->ssl_ctx);
		c->ssl_ctx = NULL;
	}
}

void
wsh_client_set_handshake_timeout(struct wsh_client *c, uint32_t ms)
{
	c->hs_timeout_ms = ms != 0 ? ms : CLIENT_HANDSHAKE_MS;
}

void
wsh_client_set_ping(struct wsh_client *c, uint32_t interval_ms,
    uint32_t timeout_ms)
{
	c->ping_ms = interval_ms;
	c->pong_timeout_ms = timeout_ms;
}

void
wsh_client_set_reconnect(struct wsh_client *c, int on)
{
	c->reconnect = on != 0;
}

void
wsh_client_set_backoff(struct wsh_client *c, uint32_t min_ms, uint32_t max_ms,
    unsigned jitter_pct, unsigned max_retries)
{
	c->bo_min = min_ms != 0 ? min_ms : 1;
	c->bo_max = max_ms >= c->bo_min ? max_ms : c->bo_min;
	c->bo_jitter = jitter_pct > 100 ? 100 : jitter_pct;
	c->bo_max_retries = max_retries;
}

void
wsh_client_set_max_message_size(struct wsh_client *c, uint64_t max)
{
	c->max_message = max;
}

void
wsh_client_set_pubsub(struct wsh_client *c, int on)
{
	c->pubsub = on != 0;
	if (c->pubsub)
		(void)wsh_client_add_subprotocol(c, ENVELOPE_PROTOCOL);
}

int
wsh_client_set_source_address(struct wsh_client *c, const char *addr)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&c->src;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&c->src;

	memset(&c->src, 0, sizeof(c->src));
	c->srclen = 0;
	if (addr == NULL)
		return 0;
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		c->srclen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		c->srclen = sizeof(*sin6);
	} else
		return -1;
	return 0;
}

int
wsh_client_attach(struct wsh_client *c, struct event_base *base)
{
	if (c->base != NULL)
		return -1;
	c->ev_wake = event_new(base, -1, 0, client_wake_cb, c);
	c->ev_timer = evtimer_new(base, client_timer_cb, c);
	c->ev_ping = evtimer_new(base, client_ping_cb, c);
	if (c->ev_wake == NULL || c->ev_timer == NULL || c->ev_ping == NULL) {
		if (c->ev_wake != NULL)
			event_free(c->ev_wake);
		if (c->ev_timer != NULL)
			event_free(c->ev_timer);
		if (c->ev_ping != NULL)
			event_free(c->ev_ping);
		c->ev_wake = c->ev_timer = c->ev_ping = NULL;
		return -1;
	}
	c->base = base;
	return 0;
}

int
wsh_client_connect(struct wsh_client *c)
{
	if (c->base == NULL)
		return -1;
	c->user_closed = 0;
	c->stopping = 0;
	c->retries = 0;
	client_attempt(c);
	return 0;
}

static void *
client_thread_main(void *arg)
{
	struct wsh_client	*c = arg;

	(void)wsh_client_connect(c);
	(void)event_base_loop(c->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static void
client_threads_init(void)
{
	(void)evthread_use_pthreads();
}

int
wsh_client_start(struct wsh_client *c)
{
	struct event_base	*base;

	if (c->base != NULL || c->threaded)
		return -1;
	(void)pthread_once(&client_threads_once, client_threads_init);
	if ((base = event_base_new()) == NULL)
		return -1;
	if (wsh_client_attach(c, base) == -1) {
		event_base_free(base);
		return -1;
	}
	c->own_base = 1;
	c->threaded = 1;
	c->stopping = 0;
	c->user_closed = 0;
	client_set_ready(c, WSH_STATE_CONNECTING);
	if (pthread_create(&c->thread, NULL, client_thread_main, c) != 0) {
		c->threaded = 0;
		event_free(c->ev_wake);
		event_free(c->ev_timer);
		event_free(c->ev_ping);
		c->base = NULL;
		c->own_base = 0;
		event_base_free(base);
		client_set_ready(c, WSH_STATE_CLOSED);
		return -1;
	}
	return 0;
}

void
wsh_client_stop(struct wsh_client *c)
{
	if (c->threaded) {
		if (!client_foreign(c))
			return;		/* not from the client's own thread */
		(void)client_queue(c, CMD_STOP, NULL, 0, 0, 0, 0, NULL);
		(void)pthread_join(c->thread, NULL);
		c->threaded = 0;
		client_teardown(c);
		event_free(c->ev_wake);
		event_free(c->ev_timer);
		event_free(c->ev_ping);
		c->ev_wake = c->ev_timer = c->ev_ping = NULL;
		event_base_free(c->base);
		c->base = NULL;
		c->own_base = 0;
		c->phase = PH_IDLE;
		client_set_ready(c, WSH_STATE_CLOSED);
		return;
	}
	if (c->base == NULL)
		return;
	c->user_closed = 1;
	if (c->phase == PH_OPEN)
		(void)client_do_close(c, WS_CLOSE_NORMAL, NULL);
	else if (c->phase != PH_CLOSING && c->phase != PH_IDLE) {
		client_teardown(c);
		c->phase = PH_IDLE;
		client_set_ready(c, WSH_STATE_CLOSED);
	}
}

static int
client_do_send(struct wsh_client *c, unsigned opcode, const void *data,
    size_t len)
{
	const uint8_t	*z;
	size_t		 zlen;

	if (c->phase != PH_OPEN || !ws_session_can_send(&c->ws) ||
	    c->frag_open)
		return -1;
	if (c->pmd_on && len >= CLIENT_DEFLATE_MIN) {
		if (c->zout == NULL)
			c->zout = pmd_deflater_new(CLIENT_DEFLATE_LEVEL,
			    CLIENT_DEFLATE_MEM, c->pmd.client_max_window_bits);
		if (c->zout != NULL && pmd_deflate(c->zout, data, len,
		    c->pmd.client_no_context_takeover, &z, &zlen) == 0) {
			if (client_send_frame_rsv(c, opcode, 1, WS_RSV1, z,
			    zlen) == -1)
				return -1;
			client_stat_add(c, WSH_STAT_MSGS_SENT, 1);
			return 0;
		}
	}
	if (client_send_frame(c, opcode, 1, data, len) == -1)
		return -1;
	client_stat_add(c, WSH_STAT_MSGS_SENT, 1);
	return 0;
}

static int
client_do_fragment(struct wsh_client *c, int binary, const void *data,
    size_t len, int fin)
{
	unsigned	 opcode;

	if (c->phase != PH_OPEN || !ws_session_can_send(&c->ws))
		return -1;
	opcode = c->frag_open ? WS_OP_CONT : binary ? WS_OP_BINARY :
	    WS_OP_TEXT;
	if (client_send_frame(c, opcode, fin, data, len) == -1)
		return -1;
	c->frag_open = !fin;
	if (fin)
		client_stat_add(c, WSH_STAT_MSGS_SENT, 1);
	return 0;
}

static int
client_do_close(struct wsh_client *c, uint16_t code, const char *reason)
{
	c->user_closed = 1;
	if (c->phase == PH_WAITING || c->phase == PH_CONNECTING ||
	    c->phase == PH_H1_HANDSHAKE || c->phase == PH_H2_SETTINGS ||
	    c->phase == PH_H2_CONNECT) {
		client_teardown(c);
		c->phase = PH_IDLE;
		client_set_ready(c, WSH_STATE_CLOSED);
		return 0;
	}
	if (c->phase != PH_OPEN)
		return -1;
	c->close_local = 1;
	if (ws_session_close(&c->ws, code, reason) == -1)
		return -1;
	client_closing(c);
	return 0;
}

int
wsh_client_send_text(struct wsh_client *c, const void *data, size_t len)
{
	if (client_foreign(c))
		return wsh_client_ready_state(c) == WSH_STATE_OPEN &&
		    client_queue(c, CMD_SEND, data, len, 0, 1, 0, NULL) == 0 ?
		    0 : -1;
	return client_do_send(c, WS_OP_TEXT, data, len);
}

int
wsh_client_send_binary(struct wsh_client *c, const void *data, size_t len)
{
	if (client_foreign(c))
		return wsh_client_ready_state(c) == WSH_STATE_OPEN &&
		    client_queue(c, CMD_SEND, data, len, 1, 1, 0, NULL) == 0 ?
		    0 : -1;
	return client_do_send(c, WS_OP_BINARY, data, len);
}

int
wsh_client_send_fragment(struct wsh_client *c, int binary, const void *data,
    size_t len, int fin)
{
	if (client_foreign(c))
		return wsh_client_ready_state(c) == WSH_STATE_OPEN &&
		    client_queue(c, CMD_FRAGMENT, data, len, binary, fin, 0,
		    NULL) == 0 ? 0 : -1;
	return client_do_fragment(c, binary, data, len, fin);
}

int
wsh_client_ping(struct wsh_client *c, const void *data, size_t len)
{
	if (len > WS_CONTROL_MAX)
		return -1;
	if (client_foreign(c))
		return wsh_client_ready_state(c) == WSH_STATE_OPEN &&
		    client_queue(c, CMD_PING, data, len, 0, 1, 0, NULL) == 0 ?
		    0 : -1;
	if (c->phase != PH_OPEN)
		return -1;
	return client_send_frame(c, WS_OP_PING, 1, data, len);
}

int
wsh_client_pong(struct wsh_client *c, const void *data, size_t len)
{
	if (len > WS_CONTROL_MAX)
		return -1;
	if (client_foreign(c))
		return wsh_client_ready_state(c) == WSH_STATE_OPEN &&
		    client_queue(c, CMD_PONG, data, len, 0, 1, 0, NULL) == 0 ?
		    0 : -1;
	if (c->phase != PH_OPEN)
		return -1;
	return client_send_frame(c, WS_OP_PONG, 1, data, len);
}

int
wsh_client_close(struct wsh_client *c, uint16_t code, const char *reason)
{
	if (code != 0 && !ws_close_code_valid(code))
		return -1;
	if (client_foreign(c))
		return client_queue(c, CMD_CLOSE, reason, reason != NULL ?
		    strlen(reason) : 0, 0, 1, code, NULL);
	return client_do_close(c, code, reason);
}

int
wsh_client_subscribe(struct wsh_client *c, const char *channel)
{
	if (client_foreign(c))
		return client_queue(c, CMD_SUBSCRIBE, NULL, 0, 0, 0, 0,
		    channel);
	return pubsub_subscribe(c, channel);
}

int
wsh_client_unsubscribe(struct wsh_client *c, const char *channel)
{
	if (client_foreign(c))
		return client_queue(c, CMD_UNSUBSCRIBE, NULL, 0, 0, 0, 0,
		    channel);
	return pubsub_unsubscribe(c, channel);
}

int
wsh_client_publish(struct wsh_client *c, const char *channel,
    const void *data, size_t len, int binary)
{
	if (client_foreign(c))
		return wsh_client_ready_state(c) == WSH_STATE_OPEN &&
		    client_queue(c, CMD_PUBLISH, data, len, binary, 1, 0,
		    channel) == 0 ? 0 : -1;
	return pubsub_publish(c, channel, data, len, binary);
}

enum wsh_ready_state
wsh_client_ready_state(struct wsh_client *c)
{
	return (enum wsh_ready_state)__atomic_load_n(&c->ready,
	    __ATOMIC_ACQUIRE);
}

const char *
wsh_ready_state_name(enum wsh_ready_state s)
{
	switch (s) {
	case WSH_STATE_CONNECTING:
		return "connecting";
	case WSH_STATE_OPEN:
		return "open";
	case WSH_STATE_CLOSING:
		return "closing";
	case WSH_STATE_CLOSED:
		return "closed";
	}
	return "unknown";
}

const char *
wsh_client_url(struct wsh_client *c)
{
	return c->url_str;
}

int
wsh_client_is_http2(struct wsh_client *c)
{
	return c->protocol != NULL && strcmp(c->protocol, "h2") == 0;
}

const char *
wsh_client_protocol(struct wsh_client *c)
{
	return c->protocol;
}

const char *
wsh_client_subprotocol(struct wsh_client *c)
{
	return c->subproto;
}

const char *
wsh_client_extensions(struct wsh_client *c)
{
	return c->extensions;
}

unsigned
wsh_client_retries(struct wsh_client *c)
{
	return c->retries;
}

uint64_t
wsh_client_stat(struct wsh_client *c, enum wsh_stat which)
{
	if ((unsigned)which >= WSH_STAT_MAX)
		return 0;
	return __atomic_load_n(&c->stats[which], __ATOMIC_RELAXED);
}

void
wsh_client_stats_clear(struct wsh_client *c)
{
	unsigned	 i;

	for (i = 0; i < WSH_STAT_MAX; i++)
		__atomic_store_n(&c->stats[i], 0, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------ */
/* Events */

enum wsh_event_type
wsh_event_type(const struct wsh_event *ev)
{
	return ev->type;
}

const uint8_t *
wsh_event_data(const struct wsh_event *ev)
{
	return ev->data;
}

size_t
wsh_event_len(const struct wsh_event *ev)
{
	return ev->len;
}

int
wsh_event_is_binary(const struct wsh_event *ev)
{
	return ev->binary;
}

uint16_t
wsh_event_close_code(const struct wsh_event *ev)
{
	return ev->code;
}

const char *
wsh_event_reason(const struct wsh_event *ev)
{
	return ev->reason != NULL ? ev->reason : "";
}

int
wsh_event_close_local(const struct wsh_event *ev)
{
	return ev->local;
}

unsigned
wsh_event_retries(const struct wsh_event *ev)
{
	return ev->retries;
}

uint32_t
wsh_event_wait_ms(const struct wsh_event *ev)
{
	return ev->wait_ms;
}

int
wsh_event_http_status(const struct wsh_event *ev)
{
	if (ev->http_status == 0 && ev->resp != NULL)
		return ev->resp->status;
	return ev->http_status;
}

size_t
wsh_event_header_count(const struct wsh_event *ev)
{
	return ev->resp != NULL ? ev->resp->nheaders : 0;
}

int
wsh_event_header_at(const struct wsh_event *ev, size_t i, const char **name,
    const char **value)
{
	if (ev->resp == NULL || i >= ev->resp->nheaders)
		return -1;
	/* The client keeps every name and value NUL-terminated. */
	*name = ev->resp->headers[i].name.p;
	*value = ev->resp->headers[i].value.p;
	return 0;
}

const char *
wsh_event_header(const struct wsh_event *ev, const char *name)
{
	const struct http_header	*h;

	if (ev->resp == NULL || (h = response_header(ev->resp, name)) == NULL)
		return NULL;
	return h->value.p;
}

const char *
wsh_event_subprotocol(const struct wsh_event *ev)
{
	return ev->subprotocol;
}

const char *
wsh_event_protocol(const struct wsh_event *ev)
{
	return ev->protocol;
}

const char *
wsh_event_channel(const struct wsh_event *ev)
{
	return ev->channel;
}

uint64_t
wsh_event_seq(const struct wsh_event *ev)
{
	return ev->seq;
}

uint64_t
wsh_event_epoch(const struct wsh_event *ev)
{
	return ev->epoch;
}

const char *
wsh_event_op(const struct wsh_event *ev)
{
	return ev->op;
}
