/* libwshub: a WebSocket client (RFC 6455, RFC 8441) with reconnection and wshub.v1 pub/sub. */
#ifndef WSHUB_WSHUB_H
#define WSHUB_WSHUB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A client is one logical WebSocket to one URL. It connects, reconnects
 * with backoff when the connection is lost without the caller asking, and
 * reports everything through one event callback. It runs either on an
 * event_base the caller owns and drives (wsh_client_attach()), in which
 * case every call must come from that base's thread, or on a background
 * thread of its own (wsh_client_start() / wsh_client_stop()), in which case
 * the send and close calls may come from any thread and the callback runs
 * on the background thread.
 *
 * All types are opaque; the ABI grows by adding functions.
 */
struct wsh_client;
struct wsh_event;
struct event_base;

#define WSH_VERSION_MAJOR	0
#define WSH_VERSION_MINOR	1

enum wsh_event_type {
	WSH_EV_OPEN = 1,	/* handshake done: headers, subprotocol, protocol */
	WSH_EV_MESSAGE,		/* a text or binary message (or a pub/sub message) */
	WSH_EV_PING,		/* a ping from the server (already answered) */
	WSH_EV_PONG,		/* a pong from the server */
	WSH_EV_CLOSE,		/* the connection is closed: code and reason */
	WSH_EV_ERROR,		/* a connect or protocol failure: reason, retries, wait */
	WSH_EV_REPLY		/* pub/sub: a wshub.v1 reply or notice (ack, error, gap, ...) */
};

enum wsh_ready_state {
	WSH_STATE_CONNECTING = 0,
	WSH_STATE_OPEN,
	WSH_STATE_CLOSING,
	WSH_STATE_CLOSED
};

/* How the client uses HTTP/2 (RFC 8441 extended CONNECT). */
enum wsh_http2 {
	WSH_HTTP2_AUTO = 0,	/* offer h2 by ALPN on wss; HTTP/1.1 on ws */
	WSH_HTTP2_NEVER,	/* HTTP/1.1 only */
	WSH_HTTP2_PREFER,	/* also try h2 prior knowledge on ws; fall back */
	WSH_HTTP2_REQUIRE	/* fail unless the server speaks RFC 8441 */
};

/* Counters of wsh_client_stat(). */
enum wsh_stat {
	WSH_STAT_BYTES_SENT = 0,	/* bytes handed to the transport */
	WSH_STAT_BYTES_RECV,		/* bytes read from the transport */
	WSH_STAT_US_SENT,		/* microseconds spent sending */
	WSH_STAT_US_RECV,		/* microseconds spent receiving */
	WSH_STAT_MSGS_SENT,		/* data messages sent */
	WSH_STAT_MSGS_RECV,		/* data messages received */
	WSH_STAT_CONNECTS,		/* successful handshakes */
	WSH_STAT_MAX
};

/* Close codes (RFC 6455 7.4.1). */
#define WSH_CLOSE_NORMAL	1000
#define WSH_CLOSE_GOING_AWAY	1001
#define WSH_CLOSE_PROTOCOL	1002
#define WSH_CLOSE_NO_STATUS	1005
#define WSH_CLOSE_ABNORMAL	1006
#define WSH_CLOSE_BAD_DATA	1007
#define WSH_CLOSE_POLICY	1008
#define WSH_CLOSE_TOO_BIG	1009
#define WSH_CLOSE_INTERNAL	1011

/*
 * The event callback. |ev| is valid only during the call. The callback may
 * call any wsh_client_* function except wsh_client_free() and
 * wsh_client_stop().
 */
typedef void (*wsh_event_cb)(struct wsh_client *c, const struct wsh_event *ev,
    void *arg);

/* Library version as "major.minor.patch". */
const char	*wsh_version(void);

/*
 * A new client for |url| (ws://, wss://; http:// and https:// mean the
 * same). Returns NULL and, when |cause| is not NULL, a malloc'd message in
 * |*cause| when the URL is malformed or memory is short.
 */
struct wsh_client *wsh_client_new(const char *url, char **cause);

/* Stop and free |c|; NULL is a no-op. Never from inside the callback. */
void		 wsh_client_free(struct wsh_client *c);

/* Options: set before connecting; they apply from the next connection on. */
void		 wsh_client_set_callback(struct wsh_client *c, wsh_event_cb cb,
		    void *arg);
/* Change the URL. Returns 0, or -1 with |*cause| set when it is malformed. */
int		 wsh_client_set_url(struct wsh_client *c, const char *url,
		    char **cause);
/* An extra request header; returns 0 or -1 (bad name/value or no memory). */
int		 wsh_client_add_header(struct wsh_client *c, const char *name,
		    const char *value);
/* A subprotocol to offer, in preference order; returns 0 or -1. */
int		 wsh_client_add_subprotocol(struct wsh_client *c,
		    const char *name);
/*
 * Trusted CAs: "SYSTEM" (the default: the system trust store), "NONE" (no
 * verification; for testing), PEM text (when it contains
 * "-----BEGIN CERTIFICATE-----") or a file name. Returns 0 or -1.
 */
int		 wsh_client_set_tls_ca(struct wsh_client *c, const char *ca);
/* Client certificate and key: file names or PEM text. Returns 0 or -1. */
int		 wsh_client_set_tls_cert(struct wsh_client *c, const char *cert,
		    const char *key);
/* Check the server certificate's name against the URL host (default on). */
void		 wsh_client_set_tls_verify_host(struct wsh_client *c, int on);
/* Offer permessage-deflate (default on; used when the library has it). */
void		 wsh_client_set_deflate(struct wsh_client *c, int on);
void		 wsh_client_set_http2(struct wsh_client *c, enum wsh_http2 mode);
/* Time allowed for connect + TLS + handshake, ms (default 10 000). */
void		 wsh_client_set_handshake_timeout(struct wsh_client *c,
		    uint32_t ms);
/*
 * Heartbeat: send a ping after |interval_ms| without traffic from the
 * server (0 = off, the default), and treat the server as dead when nothing
 * at all arrives within |timeout_ms| after the ping (0 = one interval).
 */
void		 wsh_client_set_ping(struct wsh_client *c, uint32_t interval_ms,
		    uint32_t timeout_ms);
/* Automatic reconnection (default on). */
void		 wsh_client_set_reconnect(struct wsh_client *c, int on);
/*
 * Backoff: the first wait is |min_ms| (100), each next one doubles, capped
 * at |max_ms| (10 000); each wait is drawn uniformly from
 * [wait * (1 - |jitter_pct| / 100), wait] (jitter 20 % by default, 0..100).
 * |max_retries| 0 retries forever.
 */
void		 wsh_client_set_backoff(struct wsh_client *c, uint32_t min_ms,
		    uint32_t max_ms, unsigned jitter_pct, unsigned max_retries);
/* Largest message accepted from the server (default 64 MiB; 1009 past it). */
void		 wsh_client_set_max_message_size(struct wsh_client *c,
		    uint64_t max);
/*
 * wshub.v1 pub/sub mode: offer the subprotocol, decode message envelopes
 * into WSH_EV_MESSAGE with a channel and sequence number, track the last
 * position of every channel and resubscribe with "since" after a
 * reconnect, so no message the server still holds is lost.
 */
void		 wsh_client_set_pubsub(struct wsh_client *c, int on);

/*
 * Connect from the numeric local address |addr| (IPv4 or IPv6; NULL: the
 * system's choice), e.g. one of 127.0.0.0/8 to open more connections to
 * one server than one address has ports. Returns 0, or -1 when |addr| is
 * not a numeric address. Attempts to a server address of the other family
 * fail.
 */
int		 wsh_client_set_source_address(struct wsh_client *c,
		    const char *addr);

/* Run on |base|, owned and driven by the caller. Returns 0 or -1. */
int		 wsh_client_attach(struct wsh_client *c, struct event_base *base);
/* Start connecting (after wsh_client_attach()). Returns 0 or -1. */
int		 wsh_client_connect(struct wsh_client *c);
/* Run on a background thread of its own and connect. Returns 0 or -1. */
int		 wsh_client_start(struct wsh_client *c);
/*
 * Close (1000), stop reconnecting and, in background mode, wait for the
 * thread to end (bounded by about one second for the close handshake).
 */
void		 wsh_client_stop(struct wsh_client *c);

/*
 * Sending. Each returns 0 when the message was queued, -1 when the
 * connection is not open or the call is malformed (a control payload over
 * 125 bytes, a message while a fragmented one is open). Text is sent as
 * given: the caller makes sure it is UTF-8.
 */
int		 wsh_client_send_text(struct wsh_client *c, const void *data,
		    size_t len);
int		 wsh_client_send_binary(struct wsh_client *c, const void *data,
		    size_t len);
/*
 * One fragment of a message: the first call names text or |binary|, later
 * ones continue it, and |fin| ends it. Other messages may not be sent while
 * a fragmented one is open.
 */
int		 wsh_client_send_fragment(struct wsh_client *c, int binary,
		    const void *data, size_t len, int fin);
int		 wsh_client_ping(struct wsh_client *c, const void *data,
		    size_t len);
/* An unsolicited pong, a one-way keep-alive. */
int		 wsh_client_pong(struct wsh_client *c, const void *data,
		    size_t len);
/*
 * Start the close handshake with |code| (0: none) and |reason| (may be
 * NULL); no reconnection follows. Returns 0 or -1.
 */
int		 wsh_client_close(struct wsh_client *c, uint16_t code,
		    const char *reason);

/* Pub/sub (wshub.v1 mode). Each returns 0 or -1. */
int		 wsh_client_subscribe(struct wsh_client *c, const char *channel);
int		 wsh_client_unsubscribe(struct wsh_client *c,
		    const char *channel);
int		 wsh_client_publish(struct wsh_client *c, const char *channel,
		    const void *data, size_t len, int binary);
/*
 * The last position seen on |channel|: returns 0 and sets |*epoch| and
 * |*seq|, or -1 when the channel is not subscribed or has no position yet.
 */
int		 wsh_client_position(struct wsh_client *c, const char *channel,
		    uint64_t *epoch, uint64_t *seq);

/* State and connection info. */
enum wsh_ready_state wsh_client_ready_state(struct wsh_client *c);
const char	*wsh_ready_state_name(enum wsh_ready_state s);
const char	*wsh_client_url(struct wsh_client *c);
/* Whether the current connection is a WebSocket over HTTP/2. */
int		 wsh_client_is_http2(struct wsh_client *c);
/* "http/1.1" or "h2" of the current or last connection; NULL before. */
const char	*wsh_client_protocol(struct wsh_client *c);
/* The subprotocol the server chose, or NULL. */
const char	*wsh_client_subprotocol(struct wsh_client *c);
/* The extensions the server accepted (Sec-WebSocket-Extensions), or NULL. */
const char	*wsh_client_extensions(struct wsh_client *c);
/* Connection attempts since the last successful handshake. */
unsigned	 wsh_client_retries(struct wsh_client *c);

uint64_t	 wsh_client_stat(struct wsh_client *c, enum wsh_stat which);
void		 wsh_client_stats_clear(struct wsh_client *c);

/* Event accessors; strings are NUL-terminated and valid during the callback. */
enum wsh_event_type wsh_event_type(const struct wsh_event *ev);
/* Message, ping, pong or reply payload, and its length. */
const uint8_t	*wsh_event_data(const struct wsh_event *ev);
size_t		 wsh_event_len(const struct wsh_event *ev);
int		 wsh_event_is_binary(const struct wsh_event *ev);
/* Close code (WSH_EV_CLOSE), 1006 when the connection just dropped. */
uint16_t	 wsh_event_close_code(const struct wsh_event *ev);
/* Close reason or error text; "" when none. */
const char	*wsh_event_reason(const struct wsh_event *ev);
/* Whether the close was started by the caller (wsh_client_close/stop). */
int		 wsh_event_close_local(const struct wsh_event *ev);
/* WSH_EV_ERROR: attempts so far, the wait before the next (ms, 0: none). */
unsigned	 wsh_event_retries(const struct wsh_event *ev);
uint32_t	 wsh_event_wait_ms(const struct wsh_event *ev);
/* The HTTP status of a refused handshake (0 when none was received). */
int		 wsh_event_http_status(const struct wsh_event *ev);
/* WSH_EV_OPEN: the response headers; also on a refused handshake. */
size_t		 wsh_event_header_count(const struct wsh_event *ev);
int		 wsh_event_header_at(const struct wsh_event *ev, size_t i,
		    const char **name, const char **value);
/* The first response header named |name| (case-insensitive), or NULL. */
const char	*wsh_event_header(const struct wsh_event *ev, const char *name);
/* WSH_EV_OPEN: the subprotocol chosen (or NULL) and "http/1.1" or "h2". */
const char	*wsh_event_subprotocol(const struct wsh_event *ev);
const char	*wsh_event_protocol(const struct wsh_event *ev);
/* Pub/sub WSH_EV_MESSAGE: the channel (NULL in plain mode), seq, epoch. */
const char	*wsh_event_channel(const struct wsh_event *ev);
uint64_t	 wsh_event_seq(const struct wsh_event *ev);
uint64_t	 wsh_event_epoch(const struct wsh_event *ev);
/* Pub/sub WSH_EV_REPLY: the "op" of the reply ("ack", "error", "gap", ...). */
const char	*wsh_event_op(const struct wsh_event *ev);

#ifdef __cplusplus
}
#endif

#endif
