/* The pubsub handler: channels by URL (/ws/a,b,c) or by wshub.v1 command, recovery, publish. */
#include "autoconf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "control/auth.h"
#include "control/config.h"
#include "hub/channel.h"
#include "hub/handlers.h"
#include "hub/hub.h"
#include "hub/ident.h"
#include "hub/server.h"
#include "proto/envelope.h"
#include "proto/frame.h"
#include "proto/handshake.h"
#include "proto/http1.h"
#include "transport/conn.h"
#include "util/log.h"
#include "util/msg.h"

/* Channels one URL may name. */
#define PUBSUB_URL_CHANNELS_MAX	64
/* Channels one connection may subscribe to, by URL and command together. */
#define PUBSUB_CONN_CHANNELS_MAX 1024
/* Bytes of a since= value or Last-Event-ID header: a position per channel. */
#define PUBSUB_SINCE_MAX	(PUBSUB_URL_CHANNELS_MAX * (ENVELOPE_POSITION_MAX + 1))
/* Bytes of an error message in a reply. */
#define PUBSUB_ERR_MAX		160

#define PUBSUB_BAD_NAME		"invalid channel name (1-128 characters of " \
				"A-Z a-z 0-9 _ . : @ = + -)"

/*
 * A subscription waiting for its channel to be in step with Redis: what
 * to answer once it is (the command's id, or a URL channel's
 * "subscribed") and the position to recover from.
 */
struct pubsub_wait {
	struct pubsub_wait	*next;
	struct channel		*chan;
	json_t			*id;		/* a command's, or NULL */
	int			 cmd;		/* "ack", else "subscribed" */
	int			 has_since;
	uint64_t		 epoch;
	uint64_t		 seq;
};

/*
 * A connection's state, allocated with its first subscription: an idle
 * subscriber of one channel costs one 56-byte block (a 64-byte malloc
 * chunk) here. Small fields go last, into what would be padding.
 */
struct pubsub_conn {
	struct subscription	 subs;		/* head of the list, see channel.h */
	struct pubsub_wait	*waits;		/* with Redis only */
	uint16_t		 nsubs;
	uint8_t			 json;		/* wshub.v1 was negotiated */
};

_Static_assert(PUBSUB_CONN_CHANNELS_MAX + PUBSUB_URL_CHANNELS_MAX <= UINT16_MAX,
    "nsubs holds every subscription of a connection");

/* The channels of a URL, each with the position to recover from, if any. */
struct pubsub_url {
	size_t		 n;
	int		 since;		/* some position was given */
	struct {
		const char	*name;
		size_t		 len;
		int		 has_since;
		uint64_t	 epoch;
		uint64_t	 seq;
	} ch[PUBSUB_URL_CHANNELS_MAX];
};

/* Whether the handshake on |r| selects the wshub.v1 subprotocol. */
static int
pubsub_is_json(const struct route *r, const struct http_request *req)
{
	const struct http_header *h;
	const char *sel;

	/* The same choice conn_ws_start() makes for the 101 response. */
	h = http_header_get(req, "sec-websocket-protocol");
	if (h == NULL || h->value.len == 0 || r->cfg->protocols == NULL)
		return 0;
	sel = ws_handshake_select_protocol(h->value,
	    (const char *const *)r->cfg->protocols);
	return sel != NULL && strcmp(sel, ENVELOPE_PROTOCOL) == 0;
}

/*
 * Fill |url| with the positions in |s| (|len| bytes): one "<epoch>:<seq>"
 * for every channel, or a comma list with one (possibly empty) element per
 * URL channel in order. Returns 0, or 400.
 */
static int
pubsub_parse_since(struct pubsub_url *url, const char *s, size_t len,
    const char **reason)
{
	const char *p = s, *end = s + len;
	size_t k = 0, commas = 0;

	for (size_t i = 0; i < len; i++)
		commas += s[i] == ',';
	if (commas != 0 && commas + 1 != url->n) {
		*reason = "since lists a position for each URL channel, "
		    "or one for all";
		return 400;
	}
	for (;;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t elen = (size_t)((comma ? comma : end) - p);
		uint64_t e, q;

		if (elen > 0 || commas == 0) {
			if (envelope_position_parse(p, elen, &e, &q) == -1) {
				*reason = "invalid since position "
				    "(want <16 hex digit epoch>:<seq>)";
				return 400;
			}
			for (size_t i = commas ? k : 0;
			    i < (commas ? k + 1 : url->n); i++) {
				url->ch[i].has_since = 1;
				url->ch[i].epoch = e;
				url->ch[i].seq = q;
			}
			url->since = 1;
		}
		if (comma == NULL)
			break;
		p = comma + 1;
		k++;
	}
	return 0;
}

/*
 * Parse the channel list after the route's prefix and the recovery
 * position (?since= first, else Last-Event-ID). A connection that speaks
 * wshub.v1 may name no channel. Returns 0, or an HTTP status.
 */
static int
pubsub_url_parse(const struct route *r, const struct http_request *req,
    struct pubsub_url *url, const char **reason)
{
	size_t plen = strlen(r->cfg->path);
	const char *p = req->path.p + plen, *end = req->path.p + req->path.len;
	const struct http_header *h;
	char buf[PUBSUB_SINCE_MAX + 1];
	long n;

	url->n = 0;
	url->since = 0;
	if (req->path.len <= plen) {
		if (pubsub_is_json(r, req))
			return 0;
		*reason = "no channel in the URL";
		return 400;
	}
	while (p <= end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t len = (size_t)((comma ? comma : end) - p);

		if (!channel_name_valid(p, len)) {
			*reason = PUBSUB_BAD_NAME;
			return 400;
		}
		if (url->n == PUBSUB_URL_CHANNELS_MAX) {
			*reason = "too many channels in the URL";
			return 400;
		}
		url->ch[url->n].name = p;
		url->ch[url->n].len = len;
		url->ch[url->n].has_since = 0;
		url->n++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	n = http_query_param(req->query, "since", buf, sizeof(buf));
	if (n == -2) {
		*reason = "malformed since parameter";
		return 400;
	}
	if (n >= 0)
		return pubsub_parse_since(url, buf, (size_t)n, reason);
	if ((h = http_header_get(req, "last-event-id")) != NULL)
		return pubsub_parse_since(url, h->value.p, h->value.len,
		    reason);
	return 0;
}

static int
pubsub_check(struct route *r, const struct http_request *req,
    const char **reason)
{
	struct pubsub_url url;

	return pubsub_url_parse(r, req, &url, reason);
}

/* An authenticated client may only name channels it may subscribe to. */
static int
pubsub_authorize(struct conn *c, struct route *r,
    const struct http_request *req, const char **reason)
{
	struct pubsub_url url;
	int status;

	if ((status = pubsub_url_parse(r, req, &url, reason)) != 0)
		return status;
	for (size_t i = 0; i < url.n; i++)
		if (!ident_may_subscribe(c->ident, url.ch[i].name,
		    url.ch[i].len)) {
			log_info("conn %016" PRIx64 ": may not subscribe to "
			    "%.*s", c->id, (int)url.ch[i].len, url.ch[i].name);
			*reason = "not allowed to subscribe to a channel of "
			    "the URL";
			return 403;
		}
	return 0;
}

/*
 * Tell raw clients where each URL channel stands, and how recovery went,
 * in the 101 response: they have no other way to learn it. The channels
 * are created here so that the epoch shown is the one open() will use.
 */
static size_t
pubsub_response_headers(struct conn *c, struct route *r,
    const struct http_request *req, char *buf, size_t len)
{
	struct pubsub_url url;
	struct channel *chans[PUBSUB_URL_CHANNELS_MAX];
	enum channel_recover rec[PUBSUB_URL_CHANNELS_MAX];
	const char *reason;
	char hex[ENVELOPE_EPOCH_LEN + 1];
	size_t o = 0;
	int gap = 0, pending = 0, n;

	if (pubsub_url_parse(r, req, &url, &reason) != 0 || url.n == 0)
		return 0;
	for (size_t i = 0; i < url.n; i++) {
		uint32_t first;

		chans[i] = hub_channel(c->srv, url.ch[i].name, url.ch[i].len,
		    1);
		/*
		 * With Redis a channel not yet in step has no position to
		 * show: its line is left out and the outcome is "pending".
		 */
		if (chans[i] != NULL && !hub_channel_ready(c->srv, chans[i])) {
			pending |= url.ch[i].has_since;
			chans[i] = NULL;
			continue;
		}
		rec[i] = CHANNEL_RECOVER_OK;
		if (chans[i] != NULL && url.ch[i].has_since)
			rec[i] = channel_recover_check(chans[i],
			    url.ch[i].epoch, url.ch[i].seq, hub_now(c->srv),
			    &first);
		gap |= chans[i] == NULL || rec[i] != CHANNEL_RECOVER_OK;
	}
	if (url.since) {
		n = snprintf(buf, len, "Wshub-Recovery: %s\r\n",
		    gap ? "gap" : pending ? "pending" : "ok");
		if (n < 0 || (size_t)n >= len)
			return 0;
		o = (size_t)n;
	}
	for (size_t i = 0; i < url.n; i++) {
		if (chans[i] == NULL)
			continue;
		envelope_epoch_format(chans[i]->epoch, hex);
		n = snprintf(buf + o, len - o,
		    "Wshub-Channel-Seq: %.*s=%s:%" PRIu64 "%s\r\n",
		    (int)url.ch[i].len, url.ch[i].name, hex, chans[i]->seq,
		    !url.ch[i].has_since ? "" :
		    rec[i] == CHANNEL_RECOVER_OK ? "; recovery=ok" :
		    "; recovery=gap");
		/* Only whole lines: the rest of the channels go unlisted. */
		if (n < 0 || (size_t)n >= len - o)
			break;
		o += (size_t)n;
	}
	return o;
}

/*
 * Queue the JSON value |o| (consumed) for |c|; |force| bypasses the send
 * limits, for notices sent while the limits are being applied.
 */
static void
pubsub_send_json(struct conn *c, json_t *o, int force)
{
	struct msg *m = NULL;
	uint8_t *p;
	size_t n;

	if (o != NULL && (n = envelope_dump(o, NULL, 0)) > 0 &&
	    (m = msg_frame_alloc(WS_OP_TEXT, n, &p)) != NULL)
		envelope_dump(o, p, n);
	json_decref(o);
	if (m == NULL) {
		log_warn("conn %016" PRIx64 ": out of memory for a reply",
		    c->id);
		conn_close(c, WS_CLOSE_INTERNAL, "out of memory");
		return;
	}
	if (force)
		conn_queue(c, m);
	else
		conn_send(c, m);
	msg_unref(m);
}

static void
pubsub_send_error(struct conn *c, json_t *id, const char *code,
    const char *message)
{
	pubsub_send_json(c, envelope_error(id, code, message), 0);
}

/* A reply or event {"op": |op|, "channel": ..., "epoch": ..., "seq": ...}. */
static json_t *
pubsub_position(const char *op, json_t *id, const struct channel *ch)
{
	json_t *o = envelope_reply(op, id);

	if (o != NULL && (json_object_set_new(o, "channel",
	    json_stringn(ch->name, ch->name_len)) == -1 ||
	    envelope_set_position(o, ch->epoch, ch->seq) == -1)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/*
 * Replay to |c| what it missed on |ch| after |seq| of |epoch|, before any
 * new publish can come between: the loop runs one callback at a time. A
 * JSON client first hears "recovered" with the range, or "gap" with the
 * channel's position when the history cannot fill it. Returns whether the
 * recovery succeeded.
 */
static int
pubsub_recover(struct conn *c, struct pubsub_conn *pc, struct channel *ch,
    uint64_t epoch, uint64_t seq)
{
	enum channel_recover r;
	uint32_t first = 0;
	json_t *o;

	r = channel_recover_check(ch, epoch, seq, hub_now(c->srv), &first);
	if (r != CHANNEL_RECOVER_OK) {
		log_debug("conn %016" PRIx64 ": %s: no recovery after %" PRIu64
		    ": %s", c->id, ch->name, seq, channel_recover_reason(r));
		if (pc->json) {
			o = pubsub_position("gap", NULL, ch);
			if (o != NULL && json_object_set_new(o, "reason",
			    json_string(channel_recover_reason(r))) == -1) {
				json_decref(o);
				o = NULL;
			}
			pubsub_send_json(c, o, 0);
		}
		return 0;
	}
	if (pc->json) {
		o = envelope_reply("recovered", NULL);
		if (o != NULL && (json_object_set_new(o, "channel",
		    json_stringn(ch->name, ch->name_len)) == -1 ||
		    json_object_set_new(o, "from",
		    json_integer((json_int_t)(seq + 1))) == -1 ||
		    json_object_set_new(o, "to",
		    json_integer((json_int_t)ch->seq)) == -1)) {
			json_decref(o);
			o = NULL;
		}
		pubsub_send_json(c, o, 0);
	}
	for (uint32_t i = first; i < ch->hist.count; i++) {
		const struct history_entry *e = history_at(&ch->hist, i);
		struct msg *m;

		if (!pc->json) {
			conn_send(c, e->msg);
			continue;
		}
		/* Rare path: the envelope of a replayed message is rebuilt. */
		if ((m = channel_envelope(ch, e)) == NULL) {
			conn_close(c, WS_CLOSE_INTERNAL, "out of memory");
			return 0;
		}
		conn_send(c, m);
		msg_unref(m);
	}
	c->srv->stats.msgs_out += ch->hist.count - first;
	return 1;
}

/*
 * Subscribe |c| to |ch|: at once when the channel is in step (always on a
 * single node), else pending until the Redis engine calls pubsub_synced(),
 * remembering what to answer then. Returns what channel_subscribe_mode()
 * returns, and sets |*later| when the answer waits.
 */
static int
pubsub_join(struct conn *c, struct pubsub_conn *pc, struct channel *ch,
    json_t *id, int cmd, int has_since, uint64_t epoch, uint64_t seq,
    int *later)
{
	enum sub_mode mode = pc->json ? SUB_JSON : SUB_RAW;
	struct pubsub_wait *w;
	int rv;

	*later = !hub_channel_ready(c->srv, ch);
	if (!*later)
		return channel_subscribe_mode(ch, c, mode, &pc->subs);
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	rv = channel_subscribe_mode(ch, c, (enum sub_mode)(mode + SUB_PENDING),
	    &pc->subs);
	if (rv != 0) {
		free(w);
		*later = 0;
		return rv;
	}
	w->chan = ch;
	w->id = id != NULL ? json_incref(id) : NULL;
	w->cmd = cmd;
	w->has_since = has_since;
	w->epoch = epoch;
	w->seq = seq;
	w->next = pc->waits;
	pc->waits = w;
	return 0;
}

/* Take the wait for |ch| off |pc|'s list; NULL when there is none. */
static struct pubsub_wait *
pubsub_wait_take(struct pubsub_conn *pc, const struct channel *ch)
{
	struct pubsub_wait **pp, *w;

	for (pp = &pc->waits; (w = *pp) != NULL; pp = &w->next)
		if (w->chan == ch) {
			*pp = w->next;
			return w;
		}
	return NULL;
}

static void
pubsub_wait_free(struct pubsub_wait *w)
{
	if (w != NULL) {
		json_decref(w->id);
		free(w);
	}
}

/*
 * The Redis engine has the channel of pending |s| in step: answer the
 * subscribe as a single node would have at once, replay, go live.
 */
static void
pubsub_synced(struct conn *c, struct subscription *s)
{
	struct pubsub_conn *pc = c->hdata;
	struct pubsub_wait *w;

	if (pc == NULL || (w = pubsub_wait_take(pc, s->chan)) == NULL) {
		channel_sub_activate(s);
		return;
	}
	if (pc->json)
		pubsub_send_json(c, pubsub_position(w->cmd ? "ack" :
		    "subscribed", w->id, s->chan), 0);
	if (w->has_since)
		pubsub_recover(c, pc, s->chan, w->epoch, w->seq);
	channel_sub_activate(s);
	pubsub_wait_free(w);
}

/* Messages of live |s| were lost in Redis: a JSON client hears "gap". */
static void
pubsub_gap(struct conn *c, struct subscription *s, const char *reason)
{
	struct pubsub_conn *pc = c->hdata;
	json_t *o;

	if (pc == NULL || !pc->json)
		return;
	o = pubsub_position("gap", NULL, s->chan);
	if (o != NULL && json_object_set_new(o, "reason",
	    json_string(reason)) == -1) {
		json_decref(o);
		o = NULL;
	}
	pubsub_send_json(c, o, 0);
}

static int
pubsub_open(struct conn *c, const struct http_request *req)
{
	struct pubsub_conn *pc;
	struct pubsub_url url;
	const char *reason;

	if ((pc = calloc(1, sizeof(*pc))) == NULL)
		return -1;
	channel_subs_init(&pc->subs);
	c->hdata = pc;
	pc->json = (uint8_t)pubsub_is_json(c->route, req);
	if (pubsub_url_parse(c->route, req, &url, &reason) != 0)
		return -1;
	for (size_t i = 0; i < url.n; i++) {
		struct channel *ch;
		int rv, later;

		ch = hub_channel(c->srv, url.ch[i].name, url.ch[i].len, 1);
		if (ch == NULL)
			return -1;
		rv = pubsub_join(c, pc, ch, NULL, 0, url.ch[i].has_since,
		    url.ch[i].epoch, url.ch[i].seq, &later);
		if (rv == -1) {
			channel_release(ch);
			return -1;
		}
		/* A channel named twice in the URL is subscribed once. */
		if (rv == 1)
			continue;
		pc->nsubs++;
		if (later)
			continue;
		if (pc->json)
			pubsub_send_json(c, pubsub_position("subscribed", NULL,
			    ch), 0);
		if (url.ch[i].has_since)
			pubsub_recover(c, pc, ch, url.ch[i].epoch,
			    url.ch[i].seq);
	}
	return 0;
}

static void
pubsub_cmd_subscribe(struct conn *c, struct pubsub_conn *pc,
    const struct envelope_cmd *cmd)
{
	struct channel *ch;
	int later;

	if (!channel_name_valid(cmd->channel, cmd->channel_len)) {
		pubsub_send_error(c, cmd->id, "bad_channel", PUBSUB_BAD_NAME);
		return;
	}
	if (!ident_may_subscribe(c->ident, cmd->channel, cmd->channel_len)) {
		c->srv->stats.authz_denied++;
		pubsub_send_error(c, cmd->id, "forbidden",
		    "not allowed to subscribe to this channel");
		return;
	}
	ch = hub_channel(c->srv, cmd->channel, cmd->channel_len, 0);
	if (ch != NULL && channel_find_sub(&pc->subs, ch) != NULL) {
		pubsub_send_error(c, cmd->id, "already_subscribed",
		    "already subscribed to this channel");
		return;
	}
	if (pc->nsubs >= PUBSUB_CONN_CHANNELS_MAX) {
		pubsub_send_error(c, cmd->id, "too_many_channels",
		    "too many subscriptions on this connection");
		return;
	}
	if ((ch = hub_channel(c->srv, cmd->channel, cmd->channel_len,
	    1)) == NULL || pubsub_join(c, pc, ch, cmd->id, 1, cmd->has_since,
	    cmd->since_epoch, cmd->since_seq, &later) == -1) {
		if (ch != NULL)
			channel_release(ch);
		pubsub_send_error(c, cmd->id, "internal", "out of memory");
		return;
	}
	pc->nsubs++;
	/* With Redis, the ack comes once the channel is in step. */
	if (later)
		return;
	pubsub_send_json(c, pubsub_position("ack", cmd->id, ch), 0);
	if (cmd->has_since)
		pubsub_recover(c, pc, ch, cmd->since_epoch, cmd->since_seq);
}

static void
pubsub_cmd_unsubscribe(struct conn *c, struct pubsub_conn *pc,
    const struct envelope_cmd *cmd)
{
	struct channel *ch;
	json_t *o;

	if (!channel_name_valid(cmd->channel, cmd->channel_len)) {
		pubsub_send_error(c, cmd->id, "bad_channel", PUBSUB_BAD_NAME);
		return;
	}
	ch = hub_channel(c->srv, cmd->channel, cmd->channel_len, 0);
	if (ch != NULL)
		pubsub_wait_free(pubsub_wait_take(pc, ch));
	/* The channel may be freed with this last subscription. */
	if (ch == NULL || channel_unsubscribe(ch, &pc->subs) == -1) {
		pubsub_send_error(c, cmd->id, "not_subscribed",
		    "not subscribed to this channel");
		return;
	}
	pc->nsubs--;
	o = envelope_reply("ack", cmd->id);
	if (o != NULL && json_object_set_new(o, "channel",
	    json_stringn(cmd->channel, cmd->channel_len)) == -1) {
		json_decref(o);
		o = NULL;
	}
	pubsub_send_json(c, o, 0);
}

/* The ack of a publish: now, or when Redis has numbered the message. */
static void
pubsub_publish_ack(struct conn *c, json_t *id, int status, const char *reason,
    const struct hub_publish_result *res)
{
	json_t *o;

	if (status != 0) {
		pubsub_send_error(c, id, status == 413 ? "too_big" :
		    status == 400 ? "bad_request" : status == 503 ?
		    "unavailable" : "internal", reason);
		return;
	}
	o = envelope_reply("ack", id);
	if (o != NULL && (json_object_set_new(o, "channel",
	    json_stringn(res->channel, res->channel_len)) == -1 ||
	    envelope_set_position(o, res->epoch, res->seq) == -1)) {
		json_decref(o);
		o = NULL;
	}
	pubsub_send_json(c, o, 0);
}

/* Redis answered a client's publish; the client may have gone since. */
static void
pubsub_publish_done(struct server *srv, const struct hub_publish_cb *cb,
    int status, const char *reason, const struct hub_publish_result *res)
{
	struct conn *c = idmap_get(&srv->conns, cb->cookie);

	if (c != NULL && c->state == CONN_WS && c->hdata != NULL)
		pubsub_publish_ack(c, cb->arg, status, reason, res);
	json_decref(cb->arg);
}

static void
pubsub_cmd_publish(struct conn *c, const struct envelope_cmd *cmd)
{
	struct hub_publish_result res;
	struct hub_publish_cb cb;
	const char *reason;
	int status;

	if (!c->route->cfg->allow_publish) {
		pubsub_send_error(c, cmd->id, "not_allowed",
		    "publishing is not allowed here");
		return;
	}
	if (!channel_name_valid(cmd->channel, cmd->channel_len)) {
		pubsub_send_error(c, cmd->id, "bad_channel", PUBSUB_BAD_NAME);
		return;
	}
	if (!ident_may_publish(c->ident, cmd->channel, cmd->channel_len)) {
		c->srv->stats.authz_denied++;
		pubsub_send_error(c, cmd->id, "forbidden",
		    "not allowed to publish on this channel");
		return;
	}
	cb.fn = pubsub_publish_done;
	cb.cookie = c->id;
	cb.arg = cmd->id != NULL ? json_incref(cmd->id) : NULL;
	status = hub_publish_async(c->srv, cmd->channel, cmd->channel_len,
	    cmd->opcode, cmd->data, cmd->data_len, &cb, &res, &reason);
	/* With Redis the ack comes from pubsub_publish_done(). */
	if (status == HUB_PUBLISH_LATER)
		return;
	json_decref(cb.arg);
	pubsub_publish_ack(c, cmd->id, status, reason, &res);
}

/* The authenticator's answer to a refresh; |arg| is the command's id. */
static void
pubsub_refresh_done(struct conn *c, void *arg, int ok, const char *reason)
{
	json_t *id = arg;

	if (c != NULL && c->state == CONN_WS) {
		if (ok)
			pubsub_send_json(c, envelope_reply("ack", id), 0);
		else
			pubsub_send_error(c, id, "unauthorized", reason);
	}
	json_decref(id);
}

/*
 * A wshub.v1 command. Every command gets exactly one reply, "ack" or
 * "error", carrying its id; a bad command never costs the connection.
 */
static void
pubsub_command(struct conn *c, struct pubsub_conn *pc, unsigned opcode,
    const uint8_t *data, size_t len)
{
	struct envelope_cmd cmd;
	const char *code;
	char msg[PUBSUB_ERR_MAX];

	if (opcode != WS_OP_TEXT) {
		pubsub_send_error(c, NULL, "bad_request",
		    "commands are JSON in text messages");
		return;
	}
	if (envelope_decode(data, len, &cmd, &code, msg, sizeof(msg)) == -1) {
		pubsub_send_error(c, cmd.id, code, msg);
		envelope_cmd_clear(&cmd);
		return;
	}
	switch (cmd.op) {
	case ENVELOPE_SUBSCRIBE:
		pubsub_cmd_subscribe(c, pc, &cmd);
		break;
	case ENVELOPE_UNSUBSCRIBE:
		pubsub_cmd_unsubscribe(c, pc, &cmd);
		break;
	case ENVELOPE_PUBLISH:
		pubsub_cmd_publish(c, &cmd);
		break;
	case ENVELOPE_REFRESH:
		/* The reply may come later; the id is kept until then. */
		auth_refresh(c, cmd.token, cmd.token_len, pubsub_refresh_done,
		    cmd.id != NULL ? json_incref(cmd.id) : NULL);
		break;
	case ENVELOPE_PING:
		pubsub_send_json(c, envelope_reply("ack", cmd.id), 0);
		break;
	}
	envelope_cmd_clear(&cmd);
}

static void
pubsub_message(struct conn *c, unsigned opcode, uint8_t *data, size_t len)
{
	struct pubsub_conn *pc = c->hdata;
	struct subscription *s;

	if (pc->json) {
		pubsub_command(c, pc, opcode, data, len);
		return;
	}
	if (!c->route->cfg->allow_publish) {
		conn_close(c, WS_CLOSE_POLICY, "publishing is not allowed here");
		return;
	}
	/*
	 * Raw mode: the message goes to every channel of the URL, each
	 * giving it its own sequence number (and so its own frame).
	 */
	for (s = channel_subs_first(&pc->subs); s != NULL;
	    s = channel_subs_next(&pc->subs, s))
		if (!ident_may_publish(c->ident, s->chan->name,
		    s->chan->name_len)) {
			c->srv->stats.authz_denied++;
			conn_close(c, WS_CLOSE_POLICY,
			    "not allowed to publish on this channel");
			return;
		}
	for (s = channel_subs_first(&pc->subs); s != NULL;
	    s = channel_subs_next(&pc->subs, s))
		if (hub_channel_publish(c->srv, s->chan, opcode, data, len,
		    NULL) == -1) {
			log_warn("conn %016" PRIx64 ": out of memory "
			    "publishing %zu bytes", c->id, len);
			conn_close(c, WS_CLOSE_INTERNAL, "out of memory");
			return;
		}
}

/*
 * The slow-consumer policy dropped queued messages: a JSON client hears
 * which, so it can fetch them again with "since". Queued past the limits,
 * which are being applied right now.
 */
static void
pubsub_dropped(struct conn *c, const char *channel, uint64_t from,
    uint64_t to)
{
	struct pubsub_conn *pc = c->hdata;
	json_t *o;

	if (pc == NULL || !pc->json)
		return;
	o = envelope_reply("dropped", NULL);
	if (o != NULL && (json_object_set_new(o, "channel",
	    json_string(channel)) == -1 ||
	    json_object_set_new(o, "from", json_integer((json_int_t)from)) ==
	    -1 || json_object_set_new(o, "to", json_integer((json_int_t)to)) ==
	    -1)) {
		json_decref(o);
		o = NULL;
	}
	pubsub_send_json(c, o, 1);
}

static void
pubsub_close(struct conn *c)
{
	struct pubsub_conn *pc = c->hdata;

	if (pc == NULL)
		return;
	while (pc->waits != NULL)
		pubsub_wait_free(pubsub_wait_take(pc, pc->waits->chan));
	channel_unsubscribe_all(&pc->subs);
	free(pc);
	c->hdata = NULL;
}

const struct handler pubsub_handler = {
	.name = "pubsub",
	.check = pubsub_check,
	.authorize = pubsub_authorize,
	.response_headers = pubsub_response_headers,
	.open = pubsub_open,
	.message = pubsub_message,
	.dropped = pubsub_dropped,
	.close = pubsub_close,
	.synced = pubsub_synced,
	.gap = pubsub_gap,
};
