/* The server's side of the opening handshake: response head parser and checks. */
#ifndef WSH_CLIENT_RESPONSE_H
#define WSH_CLIENT_RESPONSE_H

#include <stddef.h>

#include "proto/http1.h"

#define RESPONSE_HEADERS_MAX	100	/* header fields in a response */
#define RESPONSE_HEAD_MAX	16384	/* bytes of a response head */

struct response {
	int		 status;
	unsigned	 version_minor;
	struct http_str	 reason;
	unsigned	 nheaders;
	struct http_header headers[RESPONSE_HEADERS_MAX];
	size_t		 head_len;	/* bytes up to and including the blank line */
};

/*
 * Parse an HTTP/1.x response head from the start of |buf|. Returns the
 * head length (> 0) when complete, 0 when more bytes are needed, -1 when
 * it is malformed or larger than RESPONSE_HEAD_MAX (|*reason| says why).
 * |r| points into |buf|.
 */
int	response_parse(const char *buf, size_t len, struct response *r,
	    const char **reason);

/* The first header named |name| (case-insensitive), or NULL. */
const struct http_header *response_header(const struct response *r,
	    const char *name);

/*
 * Check the answer to our opening handshake. Over HTTP/1.1 (|key| is the
 * Sec-WebSocket-Key we sent) the status must be 101 with Upgrade:
 * websocket, Connection: upgrade and the right Sec-WebSocket-Accept; over
 * HTTP/2 (|key| NULL, RFC 8441) the status must be 2xx. In both, a
 * subprotocol must be a single one of |protocols| (NULL-terminated, may be
 * NULL) and every extension one we offered (permessage-deflate when
 * |deflate| is set). Returns 0, or -1 with |*reason| naming the problem.
 */
int	response_validate(const struct response *r, const char *key,
	    const char *const *protocols, int deflate, const char **reason);

#endif
