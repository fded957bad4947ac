/* The HTTP/1.1 phase of a connection: request heads, plain requests, the upgrade. */
#ifndef WSH_TRANSPORT_H1_H
#define WSH_TRANSPORT_H1_H

#include <stddef.h>
#include <stdint.h>

struct conn;

/*
 * Bytes read from a connection that is still speaking HTTP/1.1. Collects
 * the request head within max_header_size, then either upgrades to
 * WebSocket (bytes after the head go to the session) or answers the
 * request.
 */
void	h1_read(struct conn *c, uint8_t *buf, size_t n);

/*
 * Answer with |status|, the extra header lines |extra| (each ending in
 * CRLF; may be NULL) and a plain-text |body| (a newline is added), then
 * close the connection once the answer is written.
 */
void	h1_reply(struct conn *c, int status, const char *extra,
	    const char *body);

/* A refused handshake: h1_reply() with the headers |status| requires. */
void	h1_error(struct conn *c, int status, const char *reason);

#endif
