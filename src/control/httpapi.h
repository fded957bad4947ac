/* The HTTP API on the listeners: one table of endpoints, JSON answers. */
#ifndef WSH_CONTROL_HTTPAPI_H
#define WSH_CONTROL_HTTPAPI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct conn;
struct http_request;

/* What the API makes of a request head, before its body is read. */
enum httpapi_verdict {
	HTTPAPI_PASS,		/* not the API's path: the caller answers */
	HTTPAPI_ANSWERED,	/* refused (400, 401, 404, 405, 411) */
	HTTPAPI_READ_BODY,	/* accepted: read the body, then serve it */
	HTTPAPI_WAIT		/* the authenticator decides later
				   (h1_auth_done()) */
};

/*
 * Look |req| up in the endpoint table and decide what can be decided
 * from the head alone: the endpoint and method, the API key, the path
 * parameter and whether a body length was given. A refusal is answered
 * through h1_respond() before the body is read, so a client that sent
 * Expect: 100-continue never has to send it. Callers pass |authed| 0; the
 * authenticator's late "allow" comes back with 1, skipping credentials.
 */
enum httpapi_verdict httpapi_check(struct conn *c,
	    const struct http_request *req, int authed);

/*
 * Serve |req|, which httpapi_check() accepted, with its |len| byte |body|
 * (NULL when empty). Always queues exactly one answer on |c|.
 */
void	httpapi_serve(struct conn *c, const struct http_request *req,
	    const uint8_t *body, size_t len);

/*
 * Answer with |status| and the JSON error {"error": message, "status":
 * status}, the message made from |fmt| (bytes outside printable ASCII are
 * shown as '?'), and the extra header lines |extra| (may be NULL).
 */
int	httpapi_error(struct conn *c, int status, const char *extra,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Print every endpoint from the table, one per line: method, path pattern,
 * whether the API key is needed, and what it does.
 */
void	httpapi_print_endpoints(FILE *fp);

#endif
