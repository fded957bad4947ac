/* One client connection: socket, HTTP/1.1 head, WebSocket session, output queue. */
#ifndef WSH_TRANSPORT_CONN_H
#define WSH_TRANSPORT_CONN_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/session.h"

struct h2_session;
struct h2_stream;
struct ident;
struct iovec;
struct msg;
struct pmd_deflater;
struct route;
struct server;
struct tls_conn;

/* Frames remembered by a connection with debugging on (conn_debug_set). */
#define CONN_DEBUG_RING		32

/* One frame in a connection's debug ring. */
struct conn_debug_event {
	uint32_t		 us;		/* server_now_us() when seen */
	uint32_t		 size;		/* payload or frame bytes */
	uint8_t			 out;		/* 1 = written to the peer */
	uint8_t			 opcode;
};

/*
 * Debug information of one connection (the seed's debug info collection),
 * allocated only while an operator has debugging on for it, so an idle
 * connection pays one pointer.
 */
struct conn_debug {
	uint64_t		 in_ops[16];	/* messages received per opcode */
	uint64_t		 out_ops[16];	/* frames written per opcode */
	uint64_t		 in_max;	/* largest message received */
	uint64_t		 out_max;	/* largest frame written */
	uint32_t		 since_us;	/* when debugging was switched on */
	uint32_t		 head;		/* next slot of ring */
	uint32_t		 count;		/* events in ring */
	struct conn_debug_event	 ring[CONN_DEBUG_RING];
	char			 last_error[96];
};

enum conn_state {
	CONN_HTTP,		/* reading the request head */
	CONN_WS,		/* WebSocket open */
	CONN_CLOSING,		/* close frame or response queued; no more data */
	CONN_LINGER,		/* our side shut down; draining input until EOF */
	CONN_DEAD		/* unlinked; freed after this loop turn */
};

/* conn->flags */
#define CONN_F_FLUSH		0x0001	/* on the server's flush list */
#define CONN_F_WRITE_WAIT	0x0002	/* writev stopped short: wait for EPOLLOUT */
#define CONN_F_SHUT_AFTER	0x0004	/* shut down once the queue drains */
#define CONN_F_SLOW		0x0008	/* exceeded the send-buffer limit */
#define CONN_F_PING_SENT	0x0010	/* a ping is out since last_rx */
#define CONN_F_READ_PEND	0x0020	/* on the server's read-pending list */
#define CONN_F_H2_OK		0x0040	/* its listener speaks HTTP/2 */
#define CONN_F_READ_PAUSED	0x0080	/* input waits for an auth decision */
#define CONN_F_WS		0x0100	/* |ws| is live; the h1 members are not */
#define CONN_F_CLOSE_NOW	0x0200	/* the peer closed first: close() after our answer */

/*
 * conn->io: how bytes reach the peer. 0 is a plain socket (read() and
 * writev() in conn.c, the benchmarked path); anything else goes through
 * tls.c or h2.c, so the plain path pays one test of this byte.
 */
#define CONN_IO_TLS		0x01	/* TLS on the socket (ext->tls) */
#define CONN_IO_H2		0x02	/* the socket carries an h2 session */
#define CONN_IO_STREAM		0x04	/* an HTTP/2 stream of another conn */

/*
 * What only some connections use, in one allocation made on first need
 * (conn_ext()) and freed with the connection: TLS, HTTP/2, a compressor
 * of its own (context takeover), an identity (authentication), debugging.
 * An anonymous cleartext WebSocket has none: it pays one pointer.
 */
struct conn_ext {
	struct conn_debug	*dbg;		/* NULL unless debugging */
	struct pmd_deflater	*zout;		/* context takeover only */
	struct tls_conn		*tls;		/* CONN_IO_TLS */
	/*
	 * CONN_IO_H2: the session the socket carries; CONN_IO_STREAM: the
	 * stream this conn is (its |fd| is the carrying socket's, not its
	 * own: it is never closed or polled through this conn).
	 */
	union {
		struct h2_session *sess;
		struct h2_stream *stream;
	}			 h2;
	LIST_ENTRY(conn)	 ident_link;	/* the identity's connections */
};

/*
 * The connection is laid out for memory: an idle WebSocket holds no heap
 * besides this struct (the head buffer is freed after the handshake, the
 * output ring once it drains, the message buffer between messages), and
 * the struct has no padding hole but the one its odd count of 32-bit
 * members leaves. Check with `gdb -batch -ex "ptype /o struct conn"
 * wshubd` after adding a member.
 */
struct conn {
	struct server		*srv;
	uint64_t		 id;
	int			 fd;		/* a stream's: its carrier's */
	uint8_t			 state;
	uint8_t			 io;		/* CONN_IO_* */
	uint16_t		 flags;		/* CONN_F_* */
	uint16_t		 close_code;	/* code we sent or received */
	/*
	 * permessage-deflate on our side: the window our compressor uses
	 * (0 = extension not negotiated) and whether we keep the context
	 * between messages, in which case ext->zout is this connection's own
	 * compressor; without context takeover messages share a compressed
	 * form made once (see conn_send()).
	 */
	uint8_t			 zbits;
	uint8_t			 zctx;

	uint32_t		 last_rx;	/* tick of the last input */
	uint32_t		 deadline;	/* tick of the next timer check */
	uint32_t		 born;		/* tick of accept */
	uint32_t		 ping_tick;	/* tick our last ping was sent */
	uint32_t		 soft_since;	/* tick + 1 the soft limit was passed */
	uint32_t		 oq_since;	/* server_now_us() the queue filled */
	uint32_t		 msgs_in;
	uint32_t		 msgs_out;

	struct conn		*flush_next;
	struct conn		*read_next;	/* server's read-pending list */
	LIST_ENTRY(conn)	 wheel_link;
	TAILQ_ENTRY(conn)	 route_link;	/* route's list, or dead list */
	struct route		*route;
	void			*hdata;		/* the handler's state */
	struct ident		*ident;		/* who it is; NULL = anonymous */
	struct conn_ext		*ext;		/* NULL until needed */

	/* Output: a ring of message references and the offset in the first. */
	struct msg		**oq;
	uint32_t		 oq_head;
	uint32_t		 oq_count;
	uint32_t		 oq_cap;
	uint32_t		 out_off;
	uint64_t		 out_bytes;	/* queued bytes not yet written */

	uint64_t		 bytes_in;
	uint64_t		 bytes_out;

	/*
	 * The HTTP/1.1 phase (h1.c; h2.c for a stream's request) and the
	 * WebSocket are never live together: the request head is released
	 * when the session starts (conn_ws_start()), and a kept-alive HTTP
	 * connection never gets a session. CONN_F_WS says which one is.
	 */
	union {
		struct ws_session ws;
		/*
		 * One request at a time. Its head and then its decoded body
		 * share one buffer, freed once the request is answered.
		 */
		struct {
			char	*head;		/* request head, then the body */
			uint32_t head_len;	/* bytes of the head */
			uint32_t body_len;	/* body bytes stored after the head */
			uint32_t h1_size;	/* bytes allocated at head */
			uint32_t h1_left;	/* body or chunk bytes still to come */
			uint16_t h1_line;	/* bytes of the chunk line or trailers */
			uint8_t	 h1_phase;	/* what is being read (h1.c) */
			uint8_t	 h1_flags;	/* H1_F_* (h1.c) */
		};
	};
};

/* The connection's rarely used members, allocating them; NULL when out of memory. */
struct conn_ext *conn_ext(struct conn *c);

/* Its debug information, TLS state, or own compressor; NULL when it has none. */
static inline struct conn_debug *
conn_dbg(const struct conn *c)
{
	return c->ext != NULL ? c->ext->dbg : NULL;
}

static inline struct tls_conn *
conn_tls(const struct conn *c)
{
	return c->ext != NULL ? c->ext->tls : NULL;
}

static inline struct pmd_deflater *
conn_zout(const struct conn *c)
{
	return c->ext != NULL ? c->ext->zout : NULL;
}

/* The session's reason for the close code it chose, or NULL. */
static inline const char *
conn_ws_error(const struct conn *c)
{
	return (c->flags & CONN_F_WS) && c->ws.err_code != 0 ?
	    c->ws.err_reason : NULL;
}

struct http_request;
struct ws_upgrade;

/* Take ownership of accepted socket |fd|. Returns NULL on failure (fd closed). */
struct conn *conn_new(struct server *srv, int fd);

/*
 * A conn for an HTTP/2 stream carried by |carrier| (h2.c): its own id,
 * queue and timers, no socket of its own. Returns NULL when out of memory.
 */
struct conn *conn_new_stream(struct conn *carrier);

/* Release the memory of a dead conn; only the server's flush pass calls it. */
void	conn_free(struct conn *c);

/*
 * Queue a reference to |m| (the caller keeps its own). Never writes and
 * never frees: a connection over its send-buffer limit is only marked, and
 * the flush pass disconnects it. Returns 0, or -1 when the connection no
 * longer takes data.
 */
int	conn_send(struct conn *c, struct msg *m);

/* Build a frame for |data| and queue it: the echo path. */
int	conn_send_frame(struct conn *c, unsigned opcode, const void *data,
	    size_t len);

/* Write as much queued output as the socket takes; the flush pass calls it. */
void	conn_flush(struct conn *c);

/*
 * Start the closing handshake with |code| and |reason|; the connection is
 * torn down when the peer answers or after SERVER_CLOSE_TIMEOUT_S.
 */
void	conn_close(struct conn *c, uint16_t code, const char *reason);

/*
 * Queue |m| whatever the limits: responses and control frames. Returns 0,
 * or -1 when the connection takes no more output.
 */
int	conn_queue(struct conn *c, struct msg *m);

/* Enter |st| (closing or lingering) with a deadline for the peer. */
void	conn_closing(struct conn *c, enum conn_state st);

/*
 * Accept a checked WebSocket handshake on route |r|: queue the 101
 * response, start the session and tell the handler. Returns 0, or the HTTP
 * status to answer instead.
 */
int	conn_ws_start(struct conn *c, struct route *r,
	    const struct http_request *req, const struct ws_upgrade *up);

/* Feed bytes received on an open WebSocket to its session. */
void	conn_ws_feed(struct conn *c, uint8_t *buf, size_t n);

/* Tear down now: unlink from everything and queue for freeing. */
void	conn_destroy(struct conn *c, const char *why);

/* A timer tick reached this connection's deadline. */
void	conn_timer(struct conn *c);

/*
 * Switch per-connection debugging on (allocating the ring; -1 when out of
 * memory) or off (freeing it).
 */
int	conn_debug_set(struct conn *c, int on);

/*
 * Stop reading from the socket (|pause| set) or start again; writing goes
 * on. Input then waits in the kernel, as for a handshake whose
 * authentication is being decided; resuming reads what waits there in
 * this loop turn, without waiting for new input.
 */
void	conn_pause_read(struct conn *c, int pause);

/*
 * The server's epoll set reported |events| (EPOLL*) for the socket of |c|.
 * Sockets are registered edge-triggered once, at accept: an event means
 * new input or new room, so a connection that stops reading before EAGAIN
 * is put on the read-pending list (conn_read_pending()).
 */
void	conn_on_event(struct conn *c, uint32_t events);

/*
 * A connection just accepted: read its first bytes at once, since a client
 * usually sends its request with the handshake's last ACK.
 */
void	conn_start(struct conn *c);

/* Read again a connection on the read-pending list; server.c calls it. */
void	conn_read_pending(struct conn *c);

/*
 * For the I/O layers (tls.c, h2.c), which write a connection's queue their
 * own way: advance the queue past |n| bytes handed to the peer; finish a
 * drained flush (drop the ring, stop waiting for room, shut down when
 * asked); apply a pending slow-consumer disconnect. A layer whose write
 * stopped on a full socket sets CONN_F_WRITE_WAIT: the next EPOLLOUT edge
 * calls conn_flush() again.
 */
void	conn_consume(struct conn *c, size_t n);
void	conn_flush_done(struct conn *c);
void	conn_kick_slow(struct conn *c);

/*
 * Read up to |len| bytes from the connection's socket, through TLS when it
 * has it: > 0 bytes, 0 at end of stream, -1 with errno (EAGAIN: try later;
 * the TLS layer may have destroyed the connection with a better reason).
 */
ssize_t	conn_io_read(struct conn *c, void *buf, size_t len);

/* Write |iov| to the socket, through TLS when it has it, as writev(). */
ssize_t	conn_io_writev(struct conn *c, const struct iovec *iov, int cnt);

/* The peer's address as text ("127.0.0.1:40212"), in |buf|. */
const char *conn_peer(const struct conn *c, char *buf, size_t len);

#endif
