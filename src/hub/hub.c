/* The hub's entry points for publishers: the HTTP API, the admin socket, clients. */
#include "autoconf.h"

#include <string.h>

#include "control/config.h"
#include "hub/channel.h"
#include "hub/engine.h"
#include "hub/hub.h"
#include "hub/server.h"
#include "proto/frame.h"
#include "proto/utf8.h"

uint64_t
hub_now(const struct server *srv)
{
	return (uint64_t)srv->tick * SERVER_TICK_MS;
}

/* The history limits of channel |name| (NUL-terminated). */
static void
hub_limits(const struct config *cfg, const char *name,
    struct history_limits *lim)
{
	const struct config_channel *cc = config_channel_match(cfg, name);
	double ttl;

	if (cc != NULL) {
		lim->size = cc->history_size;
		lim->bytes = cc->history_bytes;
		ttl = cc->history_ttl;
	} else {
		lim->size = cfg->history_size;
		lim->bytes = cfg->history_bytes;
		ttl = cfg->history_ttl;
	}
	lim->ttl_ms = ttl > 0 ? (uint64_t)(ttl * 1000.0 + 0.5) : 0;
	/* A sub-millisecond age limit still means "has one". */
	if (ttl > 0 && lim->ttl_ms == 0)
		lim->ttl_ms = 1;
}

struct channel *
hub_channel(struct server *srv, const char *name, size_t len, int create)
{
	struct history_limits lim;
	struct channel *ch;
	char buf[CHANNEL_NAME_MAX + 1];

	ch = channel_get(&srv->channels, name, len, 0);
	if (ch != NULL || !create || len > CHANNEL_NAME_MAX)
		return ch;
	/* Patterns are matched once, when the channel is created. */
	memcpy(buf, name, len);
	buf[len] = '\0';
	hub_limits(srv->cfg, buf, &lim);
	if ((ch = channel_get(&srv->channels, name, len, 1)) != NULL)
		ch->lim = lim;
	return ch;
}

int
hub_channel_ready(const struct server *srv, const struct channel *ch)
{
	return srv->cluster == NULL || cluster_chan_ready(ch);
}

int
hub_channel_publish(struct server *srv, struct channel *ch, unsigned opcode,
    const void *data, size_t dlen, struct hub_publish_result *res)
{
	const char *reason;
	uint64_t seq;
	long n;

	if (srv->cluster != NULL) {
		/* Numbered by Redis and fanned out when it comes back. */
		if (res != NULL)
			memset(res, 0, sizeof(*res));
		return cluster_publish(srv->cluster, ch->name, ch->name_len,
		    opcode, data, dlen, &ch->lim, NULL, &reason) == 0 ? 0 : -1;
	}

	if ((n = channel_publish(ch, opcode, data, dlen, hub_now(srv),
	    &seq)) < 0)
		return -1;
	srv->stats.msgs_out += (uint64_t)n;
	if (res != NULL) {
		res->seq = seq;
		res->epoch = ch->epoch;
		res->delivered = (size_t)n;
	}
	return 0;
}

int
hub_publish(struct server *srv, const char *name, size_t len,
    unsigned opcode, const void *data, size_t dlen,
    struct hub_publish_result *res, const char **reason)
{
	struct hub_publish_result r;
	int rv;

	/* Without a callback the Redis engine's answer is not waited for. */
	rv = hub_publish_async(srv, name, len, opcode, data, dlen, NULL, &r,
	    reason);
	if (rv == HUB_PUBLISH_LATER) {
		memset(&r, 0, sizeof(r));
		rv = 0;
	}
	if (rv == 0 && res != NULL)
		*res = r;
	return rv;
}

int
hub_publish_async(struct server *srv, const char *name, size_t len,
    unsigned opcode, const void *data, size_t dlen,
    const struct hub_publish_cb *cb, struct hub_publish_result *res,
    const char **reason)
{
	struct history_limits lim;
	struct hub_publish_result r;
	struct channel *ch;
	char buf[CHANNEL_NAME_MAX + 1];
	int rv;

	if (!channel_name_valid(name, len)) {
		*reason = "invalid channel name (1-128 characters of "
		    "A-Z a-z 0-9 _ . : @ = + -)";
		return 400;
	}
	if (opcode != WS_OP_TEXT && opcode != WS_OP_BINARY) {
		*reason = "a message is text or binary";
		return 400;
	}
	if (dlen > srv->cfg->max_message_size) {
		*reason = "message larger than max_message_size";
		return 413;
	}
	/* Subscribers in raw mode would get a text frame they must reject. */
	if (opcode == WS_OP_TEXT && !utf8_is_valid(data, dlen)) {
		*reason = "text message is not valid UTF-8";
		return 400;
	}
	if (srv->cluster != NULL) {
		memcpy(buf, name, len);
		buf[len] = '\0';
		hub_limits(srv->cfg, buf, &lim);
		rv = cluster_publish(srv->cluster, name, len, opcode, data,
		    dlen, &lim, cb, reason);
		return rv == 0 ? HUB_PUBLISH_LATER : rv;
	}
	if ((ch = hub_channel(srv, name, len, 1)) == NULL) {
		*reason = "out of memory";
		return 500;
	}
	rv = hub_channel_publish(srv, ch, opcode, data, dlen, &r);
	/* With no subscribers and no history kept, the channel is done. */
	channel_release(ch);
	if (rv == -1) {
		*reason = "out of memory";
		return 500;
	}
	r.channel = name;
	r.channel_len = len;
	if (res != NULL)
		*res = r;
	return 0;
}

static void
hub_info_fill(const struct channel *ch, struct hub_channel_info *info)
{
	info->name = ch->name;
	info->name_len = ch->name_len;
	info->subscribers = ch->nsubs;
	info->seq = ch->seq;
	info->epoch = ch->epoch;
	info->history_count = ch->hist.count;
	info->history_bytes = ch->hist.bytes;
	info->history_first_seq = history_first_seq(&ch->hist);
}

int
hub_channel_info(struct server *srv, const char *name, size_t len,
    struct hub_channel_info *info)
{
	struct channel *ch;

	if (!channel_name_valid(name, len) ||
	    (ch = hub_channel(srv, name, len, 0)) == NULL)
		return -1;
	/* Report what a recovery would see now, not what the tick left. */
	history_expire(&ch->hist, hub_now(srv), &ch->lim);
	hub_info_fill(ch, info);
	/* The snapshot stays valid: the channel is freed by the next tick. */
	return 0;
}

void
hub_channels_foreach(struct server *srv,
    void (*fn)(void *, const struct hub_channel_info *), void *arg)
{
	struct hub_channel_info info;
	struct channel *ch;

	TAILQ_FOREACH(ch, &srv->channels.all, link) {
		hub_info_fill(ch, &info);
		fn(arg, &info);
	}
}

void
hub_tick(struct server *srv)
{
	struct channel *ch, *next;
	uint64_t now = hub_now(srv);

	for (ch = TAILQ_FIRST(&srv->channels.all); ch != NULL; ch = next) {
		next = TAILQ_NEXT(ch, link);
		history_expire(&ch->hist, now, &ch->lim);
		channel_release(ch);
	}
}

void
hub_reconfigure(struct server *srv)
{
	struct channel *ch;

	/* Trimming to smaller limits is left to the next publish or tick. */
	TAILQ_FOREACH(ch, &srv->channels.all, link)
		hub_limits(srv->cfg, ch->name, &ch->lim);
}
