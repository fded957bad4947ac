/* HTTP/2 with nghttp2: sessions on connections, WebSockets on streams (RFC 8441). */
#ifndef WSH_TRANSPORT_H2_H
#define WSH_TRANSPORT_H2_H

#include <sys/queue.h>
#include <sys/uio.h>
#include <stddef.h>
#include <stdint.h>

struct auth_denial;
struct conn;
struct h2_session;
struct msg;
struct server;

/* Pieces of one gathered write of a session: frames and message slices. */
#define H2_IOV_MAX		256
/* Bytes of frames (headers, settings, DATA headers) copied per write. */
#define H2_BYTES_MAX		(64 * 1024)

LIST_HEAD(h2_session_list, h2_session);

/*
 * A loop's HTTP/2 state: the sessions with frames to send this turn, and
 * the scratch of the one gathered write being built (a session at a time,
 * so one per loop suffices).
 */
struct h2_loop {
	struct h2_session_list	 dirty;
	struct iovec		 iov[H2_IOV_MAX];
	struct msg		*refs[H2_IOV_MAX];	/* holds each slice */
	int			 cnt;
	size_t			 total;
	size_t			 blen;
	uint8_t			 bytes[H2_BYTES_MAX];
};

/*
 * Whether connection |c|, whose first |n| bytes are |buf|, speaks HTTP/2:
 * its listener allows it and TLS chose h2 with ALPN or the bytes begin the
 * client preface (h2c prior knowledge).
 */
int	h2_wanted(const struct conn *c, const uint8_t *buf, size_t n);

/*
 * Turn |c| into an HTTP/2 server session (our SETTINGS go out with
 * ENABLE_CONNECT_PROTOCOL) and feed it the |n| bytes read.
 */
void	h2_start(struct conn *c, uint8_t *buf, size_t n);

/* Bytes read on a session's connection. */
void	h2_read(struct conn *c, uint8_t *buf, size_t n);

/*
 * conn_flush() of a session's connection: write what waits, then the
 * frames nghttp2 has, gathered into one write.
 */
void	h2_session_flush(struct conn *c);

/* conn_flush() of a stream: let nghttp2 take its queue as DATA frames. */
void	h2_stream_flush(struct conn *c);

/* Write every session with frames to send; the end of the flush pass. */
void	h2_flush_sessions(struct server *srv);

/* The timer of a session's connection: idleness without streams. */
void	h2_timer(struct conn *c);

/*
 * Server shutdown: close 1001 on every WebSocket stream, then GOAWAY; the
 * connection closes when its streams are gone.
 */
void	h2_shutdown(struct conn *c);

/* Tear down the session of |c| and every stream on it (conn_destroy()). */
void	h2_session_free(struct conn *c);

/* Stream conn |c| is being destroyed: reset the stream if still open. */
void	h2_stream_gone(struct conn *c);

/*
 * Accept the WebSocket of stream |c| (RFC 8441): a 200 response with the
 * |len| bytes of header lines |lines| ("Name: value\r\n" each), after which
 * queued frames go out as DATA. Returns 0 or -1.
 */
int	h2_stream_accept(struct conn *c, const char *lines, size_t len);

/*
 * h1_respond() on a stream: |status|, content type |ctype|, the header
 * lines |extra| (may be NULL) and |len| bytes of |body|; the stream ends
 * with it. Returns 0, or -1 when the stream was answered already.
 */
int	h2_respond(struct conn *c, int status, const char *ctype,
	    const char *extra, const void *body, size_t len);

/* h1_auth_done() on a stream. */
void	h2_auth_done(struct conn *c, int kind, int allowed,
	    const struct auth_denial *deny, uint8_t *stash, size_t len);

/* The connection carrying stream |c|, or NULL once it is gone. */
const struct conn *h2_stream_carrier(const struct conn *c);

/* Free the loop's HTTP/2 state at exit. */
void	h2_loop_free(struct server *srv);

#endif
