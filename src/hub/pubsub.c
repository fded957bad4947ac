/* The pubsub handler: subscribe by URL (/ws/a,b,c), publish from clients. */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "control/config.h"
#include "hub/channel.h"
#include "hub/handlers.h"
#include "hub/server.h"
#include "proto/frame.h"
#include "proto/http1.h"
#include "transport/conn.h"
#include "util/log.h"
#include "util/msg.h"

/* Channels one URL may name. */
#define PUBSUB_URL_CHANNELS_MAX	64

struct pubsub_conn {
	struct subscription	*subs;
};

/*
 * Walk the comma-separated channel list that follows the route's prefix,
 * calling |fn| for each name. Returns 0, or an HTTP status when the list is
 * malformed.
 */
static int
pubsub_url_channels(const struct route *r, const struct http_request *req,
    int (*fn)(void *, const char *, size_t), void *arg, const char **reason)
{
	size_t plen = strlen(r->cfg->path), n = 0;
	const char *p = req->path.p + plen, *end = req->path.p + req->path.len;

	if (req->path.len <= plen) {
		*reason = "no channel in the URL";
		return 400;
	}
	while (p <= end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t len = (size_t)((comma ? comma : end) - p);

		if (!channel_name_valid(p, len)) {
			*reason = "invalid channel name (1-128 characters of "
			    "A-Z a-z 0-9 _ . : @ = + -)";
			return 400;
		}
		if (++n > PUBSUB_URL_CHANNELS_MAX) {
			*reason = "too many channels in the URL";
			return 400;
		}
		if (fn != NULL && fn(arg, p, len) == -1) {
			*reason = "out of memory";
			return 500;
		}
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return 0;
}

static int
pubsub_check(struct route *r, const struct http_request *req,
    const char **reason)
{
	return pubsub_url_channels(r, req, NULL, NULL, reason);
}

struct pubsub_open_arg {
	struct conn		*conn;
	struct pubsub_conn	*pc;
};

static int
pubsub_open_one(void *arg, const char *name, size_t len)
{
	struct pubsub_open_arg *oa = arg;
	struct channel *ch;

	ch = channel_get(&oa->conn->srv->channels, name, len, 1);
	if (ch == NULL || channel_subscribe(ch, oa->conn, &oa->pc->subs) == -1)
		return -1;
	return 0;
}

static int
pubsub_open(struct conn *c, const struct http_request *req)
{
	struct pubsub_open_arg oa = { c, NULL };
	const char *reason;

	if ((oa.pc = calloc(1, sizeof(*oa.pc))) == NULL)
		return -1;
	c->hdata = oa.pc;
	if (pubsub_url_channels(c->route, req, pubsub_open_one, &oa,
	    &reason) != 0)
		return -1;
	return 0;
}

static void
pubsub_message(struct conn *c, unsigned opcode, uint8_t *data, size_t len)
{
	struct pubsub_conn *pc = c->hdata;
	struct subscription *s;
	struct msg *m;

	if (!c->route->cfg->allow_publish) {
		conn_close(c, WS_CLOSE_POLICY, "publishing is not allowed here");
		return;
	}
	if ((m = msg_frame(opcode, data, len)) == NULL) {
		conn_close(c, WS_CLOSE_INTERNAL, "out of memory");
		return;
	}
	for (s = pc->subs; s != NULL; s = s->conn_next)
		c->srv->stats.msgs_out += channel_publish(s->chan, m);
	msg_unref(m);
}

static void
pubsub_close(struct conn *c)
{
	struct pubsub_conn *pc = c->hdata;

	if (pc == NULL)
		return;
	channel_unsubscribe_all(&pc->subs);
	free(pc);
	c->hdata = NULL;
}

const struct handler pubsub_handler = {
	.name = "pubsub",
	.check = pubsub_check,
	.open = pubsub_open,
	.message = pubsub_message,
	.close = pubsub_close,
};
