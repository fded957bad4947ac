/* TLS on listeners and connections with OpenSSL: contexts, handshake, I/O, reload. */
#ifndef WSH_TRANSPORT_TLS_H
#define WSH_TRANSPORT_TLS_H

#include <sys/types.h>
#include <stddef.h>

struct config_listener;
struct conn;
struct iovec;
struct listener;
struct server;

/*
 * Plaintext bytes given to one SSL_write(): a full TLS record, so a flush
 * of many small messages costs one record and one send(), not one each.
 */
#define TLS_RECORD_MAX		16384

/* Bytes of a certificate subject as handed to handlers and plugins. */
#define TLS_SUBJECT_MAX		512

/* A TLS listener's settings made ready (an SSL_CTX), shared by its conns. */
struct tls_ctx;

/*
 * Build the context of TLS listener |lc|: certificate, key and chain,
 * client CAs, versions, ciphers, ALPN (h2 when |lc|->http2, http/1.1).
 * Returns NULL with a malloc'd |*cause| naming the file and problem.
 */
struct tls_ctx *tls_ctx_new(const struct config_listener *lc, char **cause);

/* Drop the listener's hold; connections keep the context they use. */
void	tls_ctx_free(struct tls_ctx *t);

/*
 * Reload listener |l|'s certificates and settings from |lc| (SIGHUP):
 * new connections get the new context, open ones keep theirs; without
 * TLS in |lc| new connections are cleartext. Returns 0, or -1 with a malloc'd
 * |*cause|, the old context still in use.
 */
int	tls_reload(struct listener *l, const struct config_listener *lc,
	    char **cause);

/*
 * Put accepted connection |c| under TLS with |t|. The handshake runs as
 * the first reads happen. Returns 0, or -1 when out of memory.
 */
int	tls_conn_start(struct conn *c, struct tls_ctx *t);

/* Free the TLS state of |c| (no close_notify: the socket is going). */
void	tls_conn_free(struct conn *c);

/* Read as read(2); see conn_io_read(). */
ssize_t	tls_read(struct conn *c, void *buf, size_t len);

/*
 * Write as writev(2), gathering |iov| into records of TLS_RECORD_MAX bytes
 * in the loop's scratch buffer. Bytes of a record OpenSSL has taken but
 * not yet sent count as written (see tls_pending_write()).
 */
ssize_t	tls_writev(struct conn *c, const struct iovec *iov, int cnt);

/* conn_flush() of a TLS connection (HTTP/1.1 or WebSocket). */
void	tls_flush(struct conn *c);

/* Send close_notify before the socket is shut down (best effort). */
void	tls_close_notify(struct conn *c);

/* Whether |c|, or the connection carrying stream |c|, speaks TLS. */
int	tls_used(const struct conn *c);

/* Whether decrypted input is buffered in OpenSSL. */
int	tls_pending(const struct conn *c);

/* Whether a record was taken by OpenSSL and waits for the socket. */
int	tls_pending_write(const struct conn *c);

/* Whether the last read stopped because the socket was full (handshake). */
int	tls_read_wants_write(const struct conn *c);

/* Whether the client chose HTTP/2 with ALPN. */
int	tls_alpn_h2(const struct conn *c);

/*
 * The subject of the client certificate of |c| (or of the connection
 * carrying stream |c|), one line in RFC 2253 form, in |buf|; "" when there
 * is none or no TLS.
 */
const char *tls_subject(const struct conn *c, char *buf, size_t len);

/* The protocol and cipher of |c|'s TLS ("TLSv1.3 TLS_AES_128_GCM_SHA256"). */
const char *tls_describe(const struct conn *c, char *buf, size_t len);

/* Free the loop's scratch buffer at exit. */
void	tls_loop_free(struct server *srv);

#endif
