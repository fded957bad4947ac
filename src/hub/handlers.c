/* The handler registry and the built-in echo and broadcast handlers. */
#include "autoconf.h"

#include <inttypes.h>
#include <string.h>

#include "control/config.h"
#include "hub/handlers.h"
#include "hub/ident.h"
#include "hub/server.h"
#include "transport/conn.h"
#include "util/log.h"
#include "util/msg.h"

/* echo: every message goes back to its sender, text as text, binary as binary. */
static void
echo_message(struct conn *c, unsigned opcode, uint8_t *data, size_t len)
{
	conn_send_frame(c, opcode, data, len);
}

/*
 * broadcast: every message goes to every connection on the route, the
 * sender included (the seed's sendAll). The frame is built once and shared.
 */
static void
broadcast_message(struct conn *c, unsigned opcode, uint8_t *data, size_t len)
{
	struct msg *m;

	/* An authenticated client needs a publish pattern for the route. */
	if (!ident_may_publish(c->ident, c->route->cfg->path,
	    strlen(c->route->cfg->path))) {
		c->srv->stats.authz_denied++;
		conn_close(c, WS_CLOSE_POLICY, "not allowed to publish here");
		return;
	}
	if ((m = msg_frame(opcode, data, len)) == NULL) {
		log_warn("conn %016" PRIx64 ": out of memory broadcasting %zu bytes",
		    c->id, len);
		return;
	}
	route_send_all(c->route, m);
	msg_unref(m);
}

extern const struct handler pubsub_handler;

static const struct handler echo_handler = {
	.name = "echo",
	.message = echo_message,
};

static const struct handler broadcast_handler = {
	.name = "broadcast",
	.message = broadcast_message,
};

static const struct handler *const handlers[] = {
	&echo_handler,
	&broadcast_handler,
	&pubsub_handler,
};

const struct handler *
handler_find(const char *name)
{
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (strcmp(handlers[i]->name, name) == 0)
			return handlers[i];
	return NULL;
}
