/* WebSocket over HTTP/2 for the client: RFC 8441 extended CONNECT on nghttp2. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <nghttp2/nghttp2.h>

#include "client/client.h"

#define H2_SCRATCH	16384	/* largest DATA payload at the default SETTINGS */
#define H2_HDRS_MAX	16384	/* bytes of response headers kept */

/* The stream's DATA: WebSocket frames queued by client_send_frame(). */
static ssize_t
h2_read_cb(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct wsh_client	*c = arg;
	size_t			 have = evbuffer_get_length(c->h2out);
	int			 n;

	if (have == 0) {
		if (c->h2_eof) {
			*flags |= NGHTTP2_DATA_FLAG_EOF;
			return 0;
		}
		c->h2_deferred = 1;
		return NGHTTP2_ERR_DEFERRED;
	}
	n = evbuffer_remove(c->h2out, buf, len < have ? len : have);
	if (n < 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if ((size_t)n == have && c->h2_eof)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return n;
}

/*
 * Fail the attempt once nghttp2 has returned: the session must not be
 * freed inside its own callbacks.
 */
static void
h2_fail_later(struct wsh_client *c, const char *reason, int status)
{
	if (c->h2_fail[0] == '\0')
		(void)snprintf(c->h2_fail, sizeof(c->h2_fail), "%s", reason);
	c->h2_fail_status = status;
}

/* Remember one response header as "name\0value\0" in c->h2hdrs. */
static int
h2_keep_header(struct wsh_client *c, const uint8_t *name, size_t nlen,
    const uint8_t *value, size_t vlen)
{
	size_t	 need = c->h2hdrs_len + nlen + vlen + 2, cap;
	char	*p;

	if (need > H2_HDRS_MAX || c->h2resp.nheaders == RESPONSE_HEADERS_MAX)
		return -1;
	if (need > c->h2hdrs_cap) {
		cap = c->h2hdrs_cap != 0 ? c->h2hdrs_cap * 2 : 1024;
		while (cap < need)
			cap *= 2;
		if ((p = realloc(c->h2hdrs, cap)) == NULL)
			return -1;
		c->h2hdrs = p;
		c->h2hdrs_cap = cap;
	}
	/* Offsets for now; pointers once every header is in. */
	c->h2resp.headers[c->h2resp.nheaders].name.p = (const char *)
	    (uintptr_t)c->h2hdrs_len;
	c->h2resp.headers[c->h2resp.nheaders].name.len = nlen;
	memcpy(c->h2hdrs + c->h2hdrs_len, name, nlen);
	c->h2hdrs[c->h2hdrs_len + nlen] = '\0';
	c->h2hdrs_len += nlen + 1;
	c->h2resp.headers[c->h2resp.nheaders].value.p = (const char *)
	    (uintptr_t)c->h2hdrs_len;
	c->h2resp.headers[c->h2resp.nheaders].value.len = vlen;
	memcpy(c->h2hdrs + c->h2hdrs_len, value, vlen);
	c->h2hdrs[c->h2hdrs_len + vlen] = '\0';
	c->h2hdrs_len += vlen + 1;
	c->h2resp.nheaders++;
	return 0;
}

static int
h2_on_header(nghttp2_session *s, const nghttp2_frame *frame,
    const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen,
    uint8_t flags, void *arg)
{
	struct wsh_client	*c = arg;
	int			 st;

	if (frame->hd.type != NGHTTP2_HEADERS ||
	    frame->hd.stream_id != c->stream_id || c->phase != PH_H2_CONNECT)
		return 0;
	if (nlen == 7 && memcmp(name, ":status", 7) == 0) {
		if (vlen == 3 && sscanf((const char *)value, "%3d", &st) == 1)
			c->h2resp.status = st;
		return 0;
	}
	if (h2_keep_header(c, name, nlen, value, vlen) == -1)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	return 0;
}

/* The server's first SETTINGS: does it take extended CONNECT? */
static void
h2_on_settings(struct wsh_client *c)
{
	nghttp2_nv	 nv[16 + 8];
	size_t		 n = 0, i;
	char		 protos[1024], leid[4096], ext[256];
	size_t		 plen = 0;
	nghttp2_data_provider dp;
	int32_t		 id;

#define H2_NV(k, v) do {						\
	nv[n].name = (uint8_t *)(k);					\
	nv[n].namelen = strlen(k);					\
	nv[n].value = (uint8_t *)(v);					\
	nv[n].valuelen = strlen(v);					\
	nv[n].flags = NGHTTP2_NV_FLAG_NONE;				\
	n++;								\
} while (0)

	if (nghttp2_session_get_remote_settings(c->h2,
	    NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL) != 1) {
		if (c->http2 == WSH_HTTP2_REQUIRE) {
			h2_fail_later(c, "HTTP/2 server does not support "
			    "RFC 8441 extended CONNECT", 0);
			return;
		}
		/* Fall back: the next attempt offers HTTP/1.1 only, at once. */
		c->h2_refused = 1;
		h2_fail_later(c, "", 0);
		return;
	}
	H2_NV(":method", "CONNECT");
	H2_NV(":protocol", "websocket");
	H2_NV(":scheme", c->url.tls ? "https" : "http");
	H2_NV(":path", c->url.path);
	H2_NV(":authority", c->url.authority);
	H2_NV("sec-websocket-version", "13");
	protos[0] = '\0';
	for (i = 0; i < c->nprotos; i++) {
		plen += (size_t)snprintf(protos + plen, sizeof(protos) - plen,
		    "%s%s", i == 0 ? "" : ", ", c->protos[i]);
		if (plen >= sizeof(protos))
			break;
	}
	if (c->nprotos > 0 && plen < sizeof(protos))
		H2_NV("sec-websocket-protocol", protos);
	if (pubsub_last_event_id(c, leid, sizeof(leid)))
		H2_NV("last-event-id", leid);
	if (client_deflate_offer(c, ext, sizeof(ext)) > 0)
		H2_NV("sec-websocket-extensions", ext);
	/* HTTP/2 field names are lower case (RFC 9113 8.2.1). */
	for (i = 0; i < c->nheaders && n < sizeof(nv) / sizeof(nv[0]); i++) {
		nv[n].name = (uint8_t *)c->headers[i].name;
		nv[n].namelen = strlen(c->headers[i].name);
		nv[n].value = (uint8_t *)c->headers[i].value;
		nv[n].valuelen = strlen(c->headers[i].value);
		nv[n].flags = NGHTTP2_NV_FLAG_NONE;
		n++;
	}
#undef H2_NV

	dp.source.ptr = c;
	dp.read_callback = h2_read_cb;
	id = nghttp2_submit_request(c->h2, NULL, nv, n, &dp, c);
	if (id < 0) {
		h2_fail_later(c, nghttp2_strerror(id), 0);
		return;
	}
	c->stream_id = id;
	c->phase = PH_H2_CONNECT;
}

static int
h2_on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *arg)
{
	struct wsh_client	*c = arg;
	const char		*reason;
	unsigned		 i;

	switch (frame->hd.type) {
	case NGHTTP2_SETTINGS:
		if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) &&
		    c->phase == PH_H2_SETTINGS)
			h2_on_settings(c);
		break;
	case NGHTTP2_HEADERS:
		if (frame->hd.stream_id != c->stream_id ||
		    c->phase != PH_H2_CONNECT ||
		    !(frame->hd.flags & NGHTTP2_FLAG_END_HEADERS))
			break;
		/* Offsets become pointers now that the storage is final. */
		for (i = 0; i < c->h2resp.nheaders; i++) {
			c->h2resp.headers[i].name.p = c->h2hdrs +
			    (uintptr_t)c->h2resp.headers[i].name.p;
			c->h2resp.headers[i].value.p = c->h2hdrs +
			    (uintptr_t)c->h2resp.headers[i].value.p;
		}
		if (response_validate(&c->h2resp, NULL,
		    (const char *const *)c->protos, c->deflate, &reason) == -1 ||
		    client_negotiate(c, &c->h2resp, &reason) == -1) {
			h2_fail_later(c, reason, c->h2resp.status);
			return 0;
		}
		client_opened(c, &c->h2resp);
		break;
	case NGHTTP2_GOAWAY:
		break;
	}
	return 0;
}

static int
h2_on_data(nghttp2_session *s, uint8_t flags, int32_t stream_id,
    const uint8_t *data, size_t len, void *arg)
{
	struct wsh_client	*c = arg;
	size_t			 n;

	if (stream_id != c->stream_id)
		return 0;
	/* The session unmasks in place; nghttp2's data is read-only. */
	if (c->h2_scratch == NULL &&
	    (c->h2_scratch = malloc(H2_SCRATCH)) == NULL)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	while (len > 0 && c->bev != NULL) {
		n = len < H2_SCRATCH ? len : H2_SCRATCH;
		memcpy(c->h2_scratch, data, n);
		client_ws_input(c, c->h2_scratch, n);
		data += n;
		len -= n;
	}
	return 0;
}

static int
h2_on_stream_close(nghttp2_session *s, int32_t stream_id,
    uint32_t error_code, void *arg)
{
	struct wsh_client	*c = arg;

	if (stream_id != c->stream_id)
		return 0;
	c->stream_id = -1;
	if (c->phase == PH_H2_CONNECT) {
		char	 buf[128];

		(void)snprintf(buf, sizeof(buf), "HTTP/2 stream closed: %s",
		    nghttp2_http2_strerror(error_code));
		h2_fail_later(c, buf, c->h2resp.status);
		return 0;
	}
	/* The stream carried the WebSocket: its end is the connection's. */
	(void)nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR);
	return 0;
}

int
h2_start(struct wsh_client *c)
{
	nghttp2_session_callbacks	*cbs;
	nghttp2_settings_entry		 iv[1];
	int				 rc;

	if (nghttp2_session_callbacks_new(&cbs) != 0)
		return -1;
	nghttp2_session_callbacks_set_on_header_callback(cbs, h2_on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs,
	    h2_on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs,
	    h2_on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs,
	    h2_on_stream_close);
	rc = nghttp2_session_client_new(&c->h2, cbs, c);
	nghttp2_session_callbacks_del(cbs);
	if (rc != 0)
		return -1;
	if ((c->h2out = evbuffer_new()) == NULL)
		return -1;
	c->stream_id = -1;
	c->h2_eof = 0;
	c->h2_deferred = 0;
	c->h2hdrs_len = 0;
	memset(&c->h2resp, 0, sizeof(c->h2resp));
	iv[0].settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
	iv[0].value = 100;
	if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 1) != 0)
		return -1;
	return h2_flush(c);
}

int
h2_input(struct wsh_client *c, const uint8_t *data, size_t len)
{
	ssize_t		 rc;
	char		 buf[160];

	if (c->h2 == NULL)
		return -1;
	c->h2_fail[0] = '\0';
	c->h2_in_recv = 1;
	rc = nghttp2_session_mem_recv(c->h2, data, len);
	c->h2_in_recv = 0;
	if (c->h2_fail[0] != '\0' || (c->h2_refused && c->phase ==
	    PH_H2_SETTINGS)) {
		if (c->h2_refused && c->phase == PH_H2_SETTINGS) {
			/* No RFC 8441: reconnect over HTTP/1.1 at once. */
			client_teardown(c);
			client_reattempt(c);
			return -1;
		}
		(void)snprintf(buf, sizeof(buf), "%s", c->h2_fail);
		client_fail(c, buf, c->h2_fail_status);
		return -1;
	}
	if (rc < 0) {
		(void)snprintf(buf, sizeof(buf), "HTTP/2: %s",
		    nghttp2_strerror((int)rc));
		if (c->phase == PH_OPEN || c->phase == PH_CLOSING) {
			c->close_code = 0;
			(void)snprintf(c->close_reason, sizeof(c->close_reason),
			    "%.120s", buf);
			evtimer_del(c->ev_timer);
			/* Let the timer path end it outside the callback. */
			event_active(c->ev_timer, EV_TIMEOUT, 1);
			return -1;
		}
		if (c->phase == PH_H2_SETTINGS && !c->url.tls &&
		    c->http2 != WSH_HTTP2_REQUIRE) {
			/* Not an HTTP/2 server: fall back to HTTP/1.1. */
			c->h2_refused = 1;
			client_teardown(c);
			client_reattempt(c);
			return -1;
		}
		client_fail(c, buf, 0);
		return -1;
	}
	return 0;
}

int
h2_flush(struct wsh_client *c)
{
	const uint8_t	*data;
	ssize_t		 n;

	if (c->h2 == NULL || c->bev == NULL || c->h2_in_recv)
		return 0;
	while ((n = nghttp2_session_mem_send(c->h2, &data)) > 0)
		bufferevent_write(c->bev, data, (size_t)n);
	if (n < 0)
		return -1;
	/* Nothing more to say or hear: the stream and the session are over. */
	if (!nghttp2_session_want_read(c->h2) &&
	    !nghttp2_session_want_write(c->h2) &&
	    (c->phase == PH_OPEN || c->phase == PH_CLOSING)) {
		evtimer_del(c->ev_timer);
		event_active(c->ev_timer, EV_TIMEOUT, 1);
	}
	return 0;
}

void
h2_data_queued(struct wsh_client *c)
{
	if (c->h2 == NULL || c->stream_id < 0)
		return;
	if (c->h2_deferred) {
		c->h2_deferred = 0;
		(void)nghttp2_session_resume_data(c->h2, c->stream_id);
	}
	(void)h2_flush(c);
}

void
h2_end_stream(struct wsh_client *c)
{
	c->h2_eof = 1;
	h2_data_queued(c);
}

void
h2_free(struct wsh_client *c)
{
	if (c->h2 != NULL) {
		nghttp2_session_del(c->h2);
		c->h2 = NULL;
	}
	if (c->h2out != NULL) {
		evbuffer_free(c->h2out);
		c->h2out = NULL;
	}
	c->stream_id = -1;
}
