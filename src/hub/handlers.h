/* The handler registry: what a route does with its WebSocket connections. */
#ifndef WSH_HUB_HANDLERS_H
#define WSH_HUB_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

struct conn;
struct route;
struct subscription;
struct http_request;

/* Room for the extra response headers a handler may add to the 101. */
#define HANDLER_HEADERS_MAX	4096

/*
 * A handler gets the events of every connection on its routes, like the
 * seed's WebSocketHandler: open after the 101 response is queued, each
 * complete message, and close once when the connection goes away (for any
 * reason). Per-connection state hangs off conn->hdata; per-route state off
 * route->hstate.
 */
struct handler {
	const char	*name;
	/* Route set-up and teardown; may be NULL. */
	int		(*route_init)(struct route *r, char **cause);
	void		(*route_free)(struct route *r);
	/*
	 * Decide on a handshake before it is answered: return 0 to accept, or
	 * an HTTP status (and a static |*reason|) to refuse. May be NULL.
	 */
	int		(*check)(struct route *r, const struct http_request *req,
			    const char **reason);
	/*
	 * Extra header lines ("Name: value\r\n" each) for the 101 response
	 * of an accepted handshake on |r|, written to |buf| (|len| bytes,
	 * HANDLER_HEADERS_MAX); returns the bytes written, only whole lines.
	 * Called just before open, in the same turn. May be NULL.
	 */
	size_t		(*response_headers)(struct conn *c, struct route *r,
			    const struct http_request *req, char *buf,
			    size_t len);
	/* Return 0, or -1 to close the connection (1011). May be NULL. */
	int		(*open)(struct conn *c, const struct http_request *req);
	void		(*message)(struct conn *c, unsigned opcode, uint8_t *data,
			    size_t len);
	void		(*close)(struct conn *c);
	/*
	 * The slow-consumer policy dropped queued messages of |channel| with
	 * sequence numbers |from| to |to| (inclusive) from |c|'s queue; the
	 * handler may tell the client. May be NULL.
	 */
	void		(*dropped)(struct conn *c, const char *channel,
			    uint64_t from, uint64_t to);
	/*
	 * With the Redis engine only; may be NULL. synced: the channel of
	 * pending subscription |s| (see SUB_PENDING) is now in step, so the
	 * handler can answer the subscribe and replay; it activates |s|
	 * (channel_sub_activate()), else the engine does. gap: the channel
	 * of active |s| skipped messages that cannot be replayed (Redis lost
	 * them or was unreachable); |reason| says why.
	 */
	void		(*synced)(struct conn *c, struct subscription *s);
	void		(*gap)(struct conn *c, struct subscription *s,
			    const char *reason);
	/*
	 * For an authenticated connection (c->ident set), before the 101:
	 * return 0 when its permissions cover what the handshake asks (the
	 * URL's channels), or an HTTP status (403) and a static |*reason|.
	 * May be NULL.
	 */
	int		(*authorize)(struct conn *c, struct route *r,
			    const struct http_request *req, const char **reason);
};

/* The handler named |name|, or NULL. */
const struct handler *handler_find(const char *name);

#endif
