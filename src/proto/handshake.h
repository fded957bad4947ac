/* Sans-I/O WebSocket opening handshake (RFC 6455 section 4). */
#ifndef WSH_PROTO_HANDSHAKE_H
#define WSH_PROTO_HANDSHAKE_H

#include <stddef.h>

#include "proto/http1.h"

#define WS_KEY_ACCEPT_LEN	28	/* base64 of a SHA-1 digest */
#define WS_VERSION		"13"

struct ws_upgrade {
	struct http_str	 key;		/* Sec-WebSocket-Key */
	struct http_str	 protocols;	/* Sec-WebSocket-Protocol, may be empty */
	struct http_str	 extensions;	/* Sec-WebSocket-Extensions, may be empty */
	struct http_str	 origin;	/* Origin, may be empty */
	struct http_str	 host;
};

/*
 * Whether |req| asks for a WebSocket upgrade at all (Upgrade: websocket),
 * used to tell a handshake from a plain HTTP request.
 */
int	ws_handshake_is_upgrade(const struct http_request *req);

/*
 * Check a client's opening handshake. Returns 0 and fills |up| when it is
 * valid; otherwise the HTTP status to answer: 405 (method is not GET),
 * 400 (missing/duplicate Host, bad Upgrade or Connection tokens, bad or
 * missing Sec-WebSocket-Key, HTTP/1.0), 426 (Sec-WebSocket-Version is not
 * 13; the response must carry "Sec-WebSocket-Version: 13"). |*reason| names
 * the problem.
 */
int	ws_handshake_check(const struct http_request *req, struct ws_upgrade *up,
	    const char **reason);

/*
 * Compute Sec-WebSocket-Accept for |key| into |out| (WS_KEY_ACCEPT_LEN
 * characters plus NUL). Returns 0, or -1 if hashing failed.
 */
int	ws_accept_key(const char *key, size_t key_len,
	    char out[WS_KEY_ACCEPT_LEN + 1]);

/*
 * Pick the subprotocol: the first entry of the server's |supported| list
 * (NULL-terminated, in preference order) that the client offered in
 * |offered|. Returns the server's string, or NULL when none matches.
 */
const char *ws_handshake_select_protocol(struct http_str offered,
	    const char *const *supported);

/*
 * Generate a new random Sec-WebSocket-Key (client side) into |out|
 * (24 characters plus NUL). Returns 0 or -1.
 */
int	ws_key_generate(char out[25]);

#endif
