/* WebSocket extension negotiation: Sec-WebSocket-Extensions syntax and the extension interface (RFC 6455 9). */
#ifndef WSH_PROTO_WSEXT_H
#define WSH_PROTO_WSEXT_H

#include <stddef.h>
#include <stdint.h>

#include "proto/http1.h"

/*
 * An offer is one element of a Sec-WebSocket-Extensions list: a name and
 * its parameters. Values are kept unescaped (a quoted-string must unescape
 * to a token, RFC 6455 9.1) in a small buffer, since every parameter we
 * know takes a short number; a longer value marks the offer as one no
 * extension can accept instead of failing the handshake.
 */
#define WS_EXT_PARAMS_MAX	8	/* parameters kept per offer */
#define WS_EXT_VALUE_MAX	15	/* characters kept per value */
#define WS_EXT_HEADERS_MAX	16	/* Sec-WebSocket-Extensions headers read */
#define WS_EXT_RESPONSE_MAX	256	/* bytes of a response header value */

struct ws_ext_param {
	struct http_str	 name;		/* points into the header */
	int		 has_value;
	char		 value[WS_EXT_VALUE_MAX + 1];	/* unescaped, NUL-terminated */
};

struct ws_ext_offer {
	struct http_str	 name;
	unsigned	 nparams;
	int		 oversize;	/* a parameter or value did not fit */
	struct ws_ext_param params[WS_EXT_PARAMS_MAX];
};

/*
 * Parse the next element of the extension list |value| from |*pos|.
 * Returns 1 and fills |o|, 0 at the end of the list, or -1 when the text
 * breaks the grammar of RFC 6455 9.1 (|*reason| names the problem).
 * Empty list elements are skipped, as HTTP lists allow.
 */
int	ws_ext_parse_next(struct http_str value, size_t *pos,
	    struct ws_ext_offer *o, const char **reason);

/* Whether |p|'s name is |name| (case-insensitive). */
int	ws_ext_param_is(const struct ws_ext_param *p, const char *name);

/*
 * What an extension implements to take part in negotiation. A second
 * extension is one more of these in the list handed to the negotiation;
 * the frame codec never sees them, only the RSV bits they claim.
 */
struct ws_extension {
	const char	*name;		/* the extension token */
	unsigned	 rsv;		/* WS_RSV* bits its frames use */
	/*
	 * Server side: accept |offer| under the server's settings |conf|,
	 * storing what was agreed in |agreed| and writing the response
	 * element (name and parameters) to |out| (|outlen| bytes with the
	 * NUL). Returns 1 when accepted, 0 to decline this offer (the next
	 * offer of the same extension is then tried).
	 */
	int	(*server_accept)(const void *conf,
		    const struct ws_ext_offer *offer, void *agreed, char *out,
		    size_t outlen);
};

/*
 * Server negotiation over every Sec-WebSocket-Extensions value of a
 * request (|values|, |nvalues|, in header order, which is one list). For
 * each of the |n| extensions |exts[i]| (with settings |confs[i]| and result
 * |agreed[i]|), the first offer it accepts wins, in the client's order of
 * preference; extensions whose RSV bits clash with one already accepted
 * are not considered. Writes the response header value (empty when
 * nothing was accepted) to |out| and a bit per accepted extension to
 * |*accepted|. Returns 0, or -1 when a value breaks the grammar (the
 * handshake then fails with 400, RFC 6455 4.2.1; |*reason| says why).
 */
int	ws_ext_server_negotiate(const struct ws_extension *const *exts,
	    const void *const *confs, void *const *agreed, size_t n,
	    const struct http_str *values, size_t nvalues, char *out,
	    size_t outlen, unsigned *accepted, const char **reason);

/*
 * Collect the values of every Sec-WebSocket-Extensions header of |req|
 * into |values| (at most |max|). Returns the number found, or -1 when
 * there are more than |max|.
 */
int	ws_ext_request_values(const struct http_request *req,
	    struct http_str *values, size_t max);

#endif
