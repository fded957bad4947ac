/* Sans-I/O HTTP/1.1 request-head parser with limits (RFC 9112). */
#ifndef WSH_PROTO_HTTP1_H
#define WSH_PROTO_HTTP1_H

#include <stddef.h>
#include <stdint.h>

/* A string slice pointing into the parsed buffer; not NUL-terminated. */
struct http_str {
	const char	*p;
	size_t		 len;
};

struct http_header {
	struct http_str	 name;
	struct http_str	 value;		/* leading and trailing blanks removed */
};

#define HTTP_MAX_HEADERS_HARD	256	/* array size; config may lower it */

struct http_limits {
	size_t		 max_head;	/* bytes of request line + headers */
	unsigned	 max_headers;	/* header fields, <= HTTP_MAX_HEADERS_HARD */
};

struct http_request {
	struct http_str	 method;
	struct http_str	 target;	/* request-target as sent */
	struct http_str	 path;		/* target without the query */
	struct http_str	 query;		/* after '?', empty when absent */
	unsigned	 version_minor;	/* HTTP/1.x */
	unsigned	 nheaders;
	struct http_header headers[HTTP_MAX_HEADERS_HARD];
	int64_t		 content_length;	/* -1 when absent */
	int		 chunked;	/* Transfer-Encoding: chunked */
	size_t		 head_len;	/* bytes up to and including the blank line */
};

/*
 * Parse a request head from the start of |buf|. Returns the head length
 * (> 0) when a complete head was found and parsed into |req|, 0 when more
 * bytes are needed (and |len| is still within limits), or a negative HTTP
 * status: -400 malformed, -431 head too large or too many headers, -505
 * version not supported, -501 unsupported transfer coding. |*reason| (may
 * be NULL) is set to a static text naming the problem. |req| points into
 * |buf|, which must outlive it.
 */
int	http_parse_request(const char *buf, size_t len,
	    const struct http_limits *lim, struct http_request *req,
	    const char **reason);

/* The first header named |name| (case-insensitive), or NULL. */
const struct http_header *http_header_get(const struct http_request *req,
	    const char *name);

/* Number of headers named |name|. */
unsigned http_header_count(const struct http_request *req, const char *name);

/*
 * Whether the comma-separated list in |value| contains |token|
 * (case-insensitive, blanks around elements ignored).
 */
int	http_list_has_token(struct http_str value, const char *token);

/*
 * Iterate over the elements of a comma-separated list: returns 1 and sets
 * |*elem| to the next non-empty trimmed element, advancing |*pos|; 0 at the
 * end.
 */
int	http_list_next(struct http_str value, size_t *pos, struct http_str *elem);

/* Case-insensitive comparison of a slice with a C string. */
int	http_str_eq(struct http_str s, const char *cstr);

/*
 * Percent-decode |len| bytes of |s| into |out|, which has room for |outsz|
 * bytes including a terminating NUL; with |plus| a '+' is a space, as in
 * a query (form encoding). Returns the decoded length, or -1 for a broken
 * escape, an encoded NUL (%00) or a result that does not fit.
 */
long	http_percent_decode(const char *s, size_t len, int plus, char *out,
	    size_t outsz);

/*
 * Find parameter |name| in |query| (a=1&b=2, without the '?') and decode
 * its value as http_percent_decode() does with |plus| set. A name without
 * '=' has the empty value. Returns the decoded length, -1 when the name is
 * absent, -2 when its value is malformed or does not fit.
 */
long	http_query_param(struct http_str query, const char *name, char *out,
	    size_t outsz);

/* Reason phrase of a status code ("Bad Request"), "" when unknown. */
const char *http_status_text(int status);

#endif
