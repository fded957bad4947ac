/* Internal state of a libwshub client, shared by its source files. */
#ifndef WSH_CLIENT_CLIENT_H
#define WSH_CLIENT_CLIENT_H

#include <sys/queue.h>

#include <sys/socket.h>

#include <netdb.h>
#include <pthread.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "wshub/wshub.h"
#include "client/response.h"
#include "client/url.h"
#include "proto/pmdeflate.h"
#include "proto/session.h"

#define CLIENT_HANDSHAKE_MS	10000	/* default handshake timeout */
#define CLIENT_CLOSE_MS		2000	/* wait for the close handshake */
#define CLIENT_MAX_MESSAGE	(64ULL << 20)
#define CLIENT_RND_SIZE		512	/* random bytes fetched at once for masks */
#define CLIENT_CHANNEL_MAX	128	/* longest channel name (PROTOCOL.md) */
#define CLIENT_DEFLATE_MIN	64	/* smaller messages are sent as they are */
#define CLIENT_DEFLATE_LEVEL	6
#define CLIENT_DEFLATE_MEM	8
#define CLIENT_READ_MAX		65536	/* one direct read of an open stream */

/* Where one connection attempt is. */
enum client_phase {
	PH_IDLE,		/* nothing: not started, or stopped */
	PH_CONNECTING,		/* TCP connect and TLS handshake */
	PH_H1_HANDSHAKE,	/* upgrade request sent, reading the response */
	PH_H2_SETTINGS,		/* h2 preface sent, waiting for the server's SETTINGS */
	PH_H2_CONNECT,		/* extended CONNECT sent, waiting for the response */
	PH_OPEN,		/* WebSocket open */
	PH_CLOSING,		/* close handshake under way */
	PH_WAITING		/* waiting to reconnect */
};

struct client_header {
	char		*name;
	char		*value;
};

/* A pub/sub channel the caller wants, and the last position seen on it. */
struct client_channel {
	TAILQ_ENTRY(client_channel) entry;
	char		*name;
	int		 url;		/* subscribed by the URL, not by command */
	int		 have_pos;
	uint64_t	 epoch;
	uint64_t	 seq;
};
TAILQ_HEAD(client_channels, client_channel);

/* A call made from another thread, run on the client's own thread. */
struct client_cmd {
	TAILQ_ENTRY(client_cmd) entry;
	int		 op;
	int		 binary;
	int		 fin;
	uint16_t	 code;
	char		*channel;
	size_t		 len;
	uint8_t		 data[];
};
TAILQ_HEAD(client_cmds, client_cmd);

struct wsh_event {
	enum wsh_event_type type;
	const uint8_t	*data;
	size_t		 len;
	int		 binary;
	uint16_t	 code;
	int		 local;
	const char	*reason;
	unsigned	 retries;
	uint32_t	 wait_ms;
	int		 http_status;
	const struct response *resp;
	const char	*subprotocol;
	const char	*protocol;
	const char	*channel;
	uint64_t	 seq;
	uint64_t	 epoch;
	const char	*op;
	/* Header strings copied out of |resp|, made on demand. */
	char		**hdr_strs;
	size_t		 nhdr_strs;
};

struct wsh_client {
	/* Options. */
	char		*url_str;
	struct url	 url;
	struct client_header *headers;
	size_t		 nheaders;
	char		**protos;	/* NULL-terminated */
	size_t		 nprotos;
	char		*tls_ca;
	char		*tls_cert;
	char		*tls_key;
	int		 tls_verify_host;
	int		 deflate;
	enum wsh_http2	 http2;
	uint32_t	 hs_timeout_ms;
	uint32_t	 ping_ms;
	uint32_t	 pong_timeout_ms;
	int		 reconnect;
	uint32_t	 bo_min, bo_max;
	unsigned	 bo_jitter, bo_max_retries;
	uint64_t	 max_message;
	int		 pubsub;
	struct sockaddr_storage src;	/* local address to bind, if srclen */
	socklen_t	 srclen;
	wsh_event_cb	 cb;
	void		*cbarg;

	/* The loop: the caller's, or ours on a thread. */
	struct event_base *base;
	int		 own_base;
	int		 threaded;
	pthread_t	 thread;
	pthread_mutex_t	 lock;		/* cmds and stats */
	struct client_cmds cmds;
	struct event	*ev_wake;	/* runs cmds */
	struct event	*ev_timer;	/* handshake, close or reconnect deadline */
	struct event	*ev_ping;	/* heartbeat */
	struct event	*ev_read;	/* direct reads of an open ws:// stream */
	int		 stopping;	/* stop() asked: end the thread when closed */

	/* The current connection. */
	enum client_phase phase;
	volatile int	 ready;		/* enum wsh_ready_state */
	struct bufferevent *bev;
	SSL_CTX		*ssl_ctx;
	struct addrinfo	*ai, *ai_next;
	int		 try_h2;	/* this attempt offers HTTP/2 */
	int		 h2_refused;	/* the server has no RFC 8441: use h1 */
	int		 is_h2;
	int		 was_open;
	int		 user_closed;
	char		 key[25];
	char		*head;		/* the response head, kept while open */
	struct response	 resp;
	struct ws_session ws;
	struct ws_session_config ws_cfg;	/* the session points to it */
	int		 ws_ready;	/* ws is initialised */
	int		 frag_open;	/* a fragmented message is being sent */
	char		*subproto;
	char		*extensions;
	const char	*protocol;
	unsigned	 retries;
	uint16_t	 close_code;	/* the server's close, for the event */
	char		 close_reason[WS_CONTROL_MAX];
	int		 close_local;

	/* permessage-deflate, when the server accepted it. */
	struct pmd_client_conf pmd_conf;
	struct pmd_params pmd;
	int		 pmd_on;
	struct pmd_deflater *zout;

	/* Heartbeat. */
	uint64_t	 last_rx_ms;
	uint64_t	 ping_sent_ms;

	/* HTTP/2. */
	nghttp2_session	*h2;
	int32_t		 stream_id;
	struct evbuffer	*h2out;		/* WebSocket bytes for the stream */
	int		 h2_deferred;
	int		 h2_eof;	/* end the stream when h2out drains */
	int		 h2_in_recv;	/* inside nghttp2_session_mem_recv() */
	char		 h2_fail[128];	/* a failure to report after it */
	int		 h2_fail_status;
	uint8_t		*h2_scratch;
	struct response	 h2resp;	/* :status and headers of the CONNECT */
	char		*h2hdrs;	/* storage behind h2resp */
	size_t		 h2hdrs_len, h2hdrs_cap;

	/* Pub/sub. */
	struct client_channels channels;
	uint64_t	 next_id;

	uint64_t	 stats[WSH_STAT_MAX];
	uint8_t		 rnd[CLIENT_RND_SIZE];
	size_t		 rnd_pos;
};

/* client.c */
uint64_t client_now_ms(void);
uint64_t client_now_us(void);
void	client_emit(struct wsh_client *c, struct wsh_event *ev);
void	client_fail(struct wsh_client *c, const char *reason, int status);
void	client_reattempt(struct wsh_client *c);
void	client_teardown(struct wsh_client *c);
int	client_negotiate(struct wsh_client *c, const struct response *r,
	    const char **reason);
void	client_opened(struct wsh_client *c, const struct response *r);
size_t	client_deflate_offer(struct wsh_client *c, char *out, size_t len);
void	client_ws_input(struct wsh_client *c, uint8_t *data, size_t len);
int	client_send_frame(struct wsh_client *c, unsigned opcode, int fin,
	    const void *data, size_t len);
int	client_send_frame_rsv(struct wsh_client *c, unsigned opcode, int fin,
	    unsigned rsv, const void *data, size_t len);
void	client_flush_h2(struct wsh_client *c);

/* tls.c */
int	tls_ctx_build(struct wsh_client *c, const char **reason);
SSL	*tls_ssl_new(struct wsh_client *c, const char **reason);
const char *tls_error(struct wsh_client *c, struct bufferevent *bev);

/* h2.c */
int	h2_start(struct wsh_client *c);
int	h2_input(struct wsh_client *c, const uint8_t *data, size_t len);
int	h2_flush(struct wsh_client *c);
void	h2_data_queued(struct wsh_client *c);
void	h2_end_stream(struct wsh_client *c);
void	h2_free(struct wsh_client *c);

/* pubsub.c */
void	pubsub_opened(struct wsh_client *c);
int	pubsub_message(struct wsh_client *c, const uint8_t *data, size_t len);
int	pubsub_subscribe(struct wsh_client *c, const char *channel);
int	pubsub_unsubscribe(struct wsh_client *c, const char *channel);
int	pubsub_publish(struct wsh_client *c, const char *channel,
	    const void *data, size_t len, int binary);
int	pubsub_last_event_id(struct wsh_client *c, char *buf, size_t len);
void	pubsub_free(struct wsh_client *c);

#endif
