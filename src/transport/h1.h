/* The HTTP/1.1 side of a connection: requests, bodies, keep-alive, upgrade. */
#ifndef WSH_TRANSPORT_H1_H
#define WSH_TRANSPORT_H1_H

#include <stddef.h>
#include <stdint.h>

struct auth_denial;
struct conn;

/*
 * Bytes read from a connection that is still speaking HTTP/1.1. Collects
 * each request head within max_header_size and its body (Content-Length or
 * chunked) within max_message_size, then either upgrades to WebSocket
 * (bytes after the head go to the session) or answers the request through
 * the HTTP API. Requests on a persistent connection are answered in order;
 * bytes after one request are the start of the next.
 */
void	h1_read(struct conn *c, uint8_t *buf, size_t n);

/*
 * Answer the request being served with |status|, a body of |len| bytes of
 * |body| with type |ctype|, and the extra header lines |extra| (each
 * ending in CRLF; may be NULL). A HEAD request gets the headers only. The
 * connection stays open for the next request when both the request and the
 * server allow it, and is shut down once the answer is written otherwise.
 * Returns 0, or -1 when the connection failed (it is then dead).
 */
int	h1_respond(struct conn *c, int status, const char *ctype,
	    const char *extra, const void *body, size_t len);

/* h1_respond() with a plain-text |body| (a newline is added). */
int	h1_reply(struct conn *c, int status, const char *extra,
	    const char *body);

/*
 * A refused handshake or an unreadable request: a plain-text answer with
 * the headers |status| requires, then the connection is closed.
 */
void	h1_error(struct conn *c, int status, const char *reason);

/*
 * The request being served will be answered later, by a call to
 * h1_respond() (or httpapi_error()) from another callback, such as the
 * reply of a Redis command: until then the connection reads nothing more,
 * so answers stay in request order. The caller keeps the connection's id,
 * not the pointer, and looks it up again: it may be gone by then.
 */
void	h1_defer(struct conn *c);

/*
 * Make the answer to the current request the last one on the connection;
 * for an error that leaves the request's body unread.
 */
void	h1_last(struct conn *c);

/*
 * The authenticator decided on the request |c| waits with (|kind| is
 * AUTH_KIND_UPGRADE or AUTH_KIND_API): go on with it, or answer |deny|.
 * |stash| holds the |len| bytes read after its head meanwhile (the caller
 * frees it).
 */
void	h1_auth_done(struct conn *c, int kind, int allowed,
	    const struct auth_denial *deny, uint8_t *stash, size_t len);

#endif
