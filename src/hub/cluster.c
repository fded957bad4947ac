/* The Redis engine: channels, sequence numbers and history shared by every node through Redis. */
#include "autoconf.h"

#include <sys/queue.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-align"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <hiredis/adapters/libevent.h>
#pragma GCC diagnostic pop
#include <openssl/rand.h>

#include "control/auth.h"
#include "control/config.h"
#include "hub/channel.h"
#include "hub/engine.h"
#include "hub/handlers.h"
#include "hub/history.h"
#include "hub/hub.h"
#include "hub/ident.h"
#include "hub/server.h"
#include "proto/envelope.h"
#include "proto/frame.h"
#include "transport/conn.h"
#include "util/idmap.h"
#include "util/log.h"
#include "util/msg.h"

/* Reconnection backoff: from 100 ms, doubling, capped, with jitter. */
#define CLUSTER_BACKOFF_MIN_MS	100
#define CLUSTER_BACKOFF_MAX_MS	5000
/* How often commands are checked for their timeout, and Redis pinged. */
#define CLUSTER_TICK_MS		100
#define CLUSTER_PING_MS		1000
/*
 * A channel's sequence number and epoch (its meta key) outlive its last
 * publish by this long; after that the channel starts again, with a new
 * epoch, as a single node's channel does once it is freed.
 */
#define CLUSTER_META_TTL_MS	(24 * 3600 * 1000)
/* Live messages held for one channel while it syncs. */
#define CLUSTER_BUFFER_MAX	100000
/* Bytes of a key or pub/sub channel name we build. */
#define CLUSTER_KEY_MAX		(CHANNEL_NAME_MAX + 128)
/*
 * A node tells Redis it runs every second; one not heard of for three is
 * gone, and the first node to notice removes its presence entries.
 */
#define CLUSTER_BEAT_MS		1000
#define CLUSTER_NODE_TTL_MS	3000
/* Nodes kept from a heartbeat's answer. */
#define CLUSTER_NODES_MAX	1024
/* Bytes of a user name or route path carried in a control message. */
#define CLUSTER_CTL_ARG_MAX	256

/*
 * Publish: number the message (HINCRBY on the channel's meta hash, which
 * also holds the epoch, created on first use from the candidate the node
 * sends), keep it in the channel's stream under the ID <seq>-0 and evict
 * the oldest entries past the count, byte and age limits (the same rules
 * as a single node's history: a message larger than the byte limit is not
 * kept and takes the older ones with it), then PUBLISH it with its epoch
 * and sequence number to every node subscribed. One script, so the
 * number, the history and the pub/sub order are the same: Redis runs
 * scripts one at a time.
 */
static const char cluster_lua_publish[] =
"local meta, stream = KEYS[1], KEYS[2]\n"
"local op, data = ARGV[1], ARGV[2]\n"
"local size, maxb, ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])\n"
"local epoch = redis.call('HGET', meta, 'epoch')\n"
"if not epoch then\n"
"  epoch = ARGV[6]\n"
"  redis.call('DEL', stream)\n"
"  redis.call('HSET', meta, 'epoch', epoch, 'seq', 0, 'bytes', 0)\n"
"end\n"
"local seq = redis.call('HINCRBY', meta, 'seq', 1)\n"
"local t = redis.call('TIME')\n"
"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
"local plen = string.len(data)\n"
"if size == 0 or plen > maxb then\n"
"  redis.call('DEL', stream)\n"
"  redis.call('HSET', meta, 'bytes', 0)\n"
"else\n"
"  redis.call('XADD', stream, seq .. '-0', 'o', op, 't', now, 'd', data)\n"
"  local bytes = redis.call('HINCRBY', meta, 'bytes', plen)\n"
"  local len = redis.call('XLEN', stream)\n"
"  while len > 1 do\n"
"    local e = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]\n"
"    local b = string.len(e[2][6])\n"
"    if not (len > size or bytes > maxb or\n"
"        (ttl > 0 and now - tonumber(e[2][4]) > ttl)) then break end\n"
"    redis.call('XDEL', stream, e[1])\n"
"    bytes = redis.call('HINCRBY', meta, 'bytes', -b)\n"
"    len = len - 1\n"
"  end\n"
"  if ttl > 0 then redis.call('PEXPIRE', stream, ttl + 1000) end\n"
"end\n"
"redis.call('PEXPIRE', meta, tonumber(ARGV[8]))\n"
"local n = redis.call('PUBLISH', ARGV[7],\n"
"  epoch .. ':' .. seq .. ':' .. op .. ':' .. data)\n"
"return {seq, epoch, n}\n";

/*
 * Sync: a node's view of a channel, read atomically with respect to
 * publishes: the epoch, the last sequence number and the held entries
 * (aged ones evicted first), all of them, or only those after the
 * position the node already has when the stream still reaches back to
 * it. Creates the channel's epoch when it has none yet.
 */
static const char cluster_lua_sync[] =
"local meta, stream = KEYS[1], KEYS[2]\n"
"local sseq, ttl = tonumber(ARGV[2]), tonumber(ARGV[3])\n"
"local epoch = redis.call('HGET', meta, 'epoch')\n"
"if not epoch then\n"
"  epoch = ARGV[4]\n"
"  redis.call('DEL', stream)\n"
"  redis.call('HSET', meta, 'epoch', epoch, 'seq', 0, 'bytes', 0)\n"
"end\n"
"redis.call('PEXPIRE', meta, tonumber(ARGV[5]))\n"
"local seq = tonumber(redis.call('HGET', meta, 'seq'))\n"
"local t = redis.call('TIME')\n"
"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
"if ttl > 0 then\n"
"  while true do\n"
"    local e = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]\n"
"    if not e or now - tonumber(e[2][4]) <= ttl then break end\n"
"    redis.call('XDEL', stream, e[1])\n"
"    redis.call('HINCRBY', meta, 'bytes', -string.len(e[2][6]))\n"
"  end\n"
"end\n"
"local from, full = '-', 1\n"
"if epoch == ARGV[1] and sseq <= seq then\n"
"  if sseq == seq then return {epoch, seq, 0, now, {}} end\n"
"  local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]\n"
"  if first and tonumber(string.match(first[1], '^%d+')) <= sseq + 1 then\n"
"    from, full = '(' .. sseq .. '-0', 0\n"
"  end\n"
"end\n"
"return {epoch, seq, full, now, redis.call('XRANGE', stream, from, '+')}\n";

enum cluster_op_kind {
	OP_SETUP,		/* AUTH, SCRIPT LOAD: must succeed */
	OP_PING,
	OP_PUBLISH,
	OP_SYNC,
	OP_CTL,			/* PUBLISH of a request to other nodes */
	OP_QUIET,		/* replies, presence writes: no answer needed */
	OP_BEAT,		/* the heartbeat script */
	OP_PRESENCE		/* the presence query script */
};

/*
 * A command waiting for its reply on the command connection. hiredis
 * calls back exactly once per command, with NULL when the connection went
 * away first; the list is ours, oldest first, for the timeouts.
 */
struct cluster_op {
	TAILQ_ENTRY(cluster_op)	 link;
	struct cluster		*cl;
	enum cluster_op_kind	 kind;
	uint64_t		 deadline;	/* ms, monotonic */
	struct hub_publish_cb	 cb;		/* OP_PUBLISH with a callback */
	int			 has_cb;
	int			 script;	/* OP_SETUP: 0 none, 1 publish, 2 sync */
	struct cluster_chan	*cc;		/* OP_SYNC */
	uint64_t		 serial;	/* OP_CTL, OP_PRESENCE: its request */
	size_t			 name_len;
	char			 name[CHANNEL_NAME_MAX + 1];
};

TAILQ_HEAD(cluster_op_list, cluster_op);

/* A live message received while its channel syncs. */
struct cluster_live {
	struct cluster_live	*next;
	uint64_t		 seq;
	uint64_t		 epoch;
	unsigned		 opcode;
	size_t			 len;
	uint8_t			 data[];
};

/*
 * The engine's side of a channel a local client subscribes to. It lives
 * while the channel has local subscribers or Redis still has to hear that
 * it has none any more.
 */
struct cluster_chan {
	struct cluster		*cl;
	struct channel		*ch;		/* NULL once unwanted */
	struct cluster_chan	*hash_next;
	TAILQ_ENTRY(cluster_chan) link;
	TAILQ_ENTRY(cluster_chan) dirty_link;
	uint64_t		 hash;
	int			 dirty;		/* on the batch list */
	int			 subscribed;	/* SUBSCRIBE sent on this link */
	int			 confirmed;	/* and Redis confirmed it */
	int			 ready;		/* synced: joins are served now */
	int			 syncing;	/* a sync is out: buffer live */
	int			 need_sync;	/* sync once commands can go */
	struct cluster_live	*buf, **buf_tail;
	size_t			 nbuf;
	size_t			 name_len;
	char			 name[];
};

TAILQ_HEAD(cluster_chan_list, cluster_chan);

struct cluster {
	struct server		*srv;
	struct config		*cfg;		/* held: the section we run */
	const struct config_cluster *cc;
	redisAsyncContext	*cmd;		/* commands, pipelined */
	redisAsyncContext	*sub;		/* pub/sub only */
	int			 cmd_up;	/* authenticated, scripts loaded */
	int			 sub_up;
	int			 setup_left;	/* setup replies still due */
	size_t			 addr;		/* index in cc->redis */
	uint32_t		 backoff_ms;
	uint64_t		 connect_deadline;	/* 0 when up or idle */
	uint64_t		 next_ping;
	uint64_t		 down_since;	/* ms, 0 when up */
	int			 ever_up;
	struct event		 retry_ev;
	struct event		 tick_ev;
	struct event		 batch_ev;
	int			 batch_pending;
	struct cluster_op_list	 ops;
	struct idmap		 map;		/* name hash -> cluster_chan chain */
	struct cluster_chan_list all;
	struct cluster_chan_list dirty;
	char			 sha_publish[41];
	char			 sha_sync[41];
	char			 prefix[128];
	size_t			 prefix_len;

	/* Control channels and presence (see the section below). */
	uint32_t		 tag;		/* the high 24 bits of our ids */
	char			 ctl_chan[CLUSTER_KEY_MAX];	/* ours */
	char			 all_chan[CLUSTER_KEY_MAX];	/* every node's */
	uint64_t		 req_next;
	TAILQ_HEAD(, cluster_req) reqs;
	struct cluster_pres	*pres, **pres_tail;	/* changes this turn */
	int			 pres_resend;	/* Redis may have lost ours */
	int			 beats;		/* heartbeats sent */
	uint64_t		 next_beat;
	struct cluster_node	*nodes;
	size_t			 nnodes;
};

static void	cluster_connect(struct cluster *);
static void	cluster_down(struct cluster *, const char *);
static void	cluster_sync_start(struct cluster_chan *);
static void	cluster_batch_want(struct cluster *);
static void	cluster_ctl_on_message(struct cluster *, const char *, size_t);
static void	cluster_ctl_reply(struct cluster_op *, redisReply *);
static void	cluster_beat(struct cluster *);
static void	cluster_beat_reply(struct cluster *, redisReply *);
static void	cluster_presence_reply(struct cluster_op *, redisReply *);
static void	cluster_pres_flush(struct cluster *);
static void	cluster_pres_clear(struct cluster *);
static void	cluster_pres_chan(struct cluster *, const char *, size_t, int);
static void	cluster_req_tick(struct cluster *, uint64_t);

static uint64_t
cluster_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
cluster_random(void)
{
	uint64_t r = 0;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = cluster_now_ms() * 0x9e3779b97f4a7c15ULL;
	return r;
}

/* FNV-1a, never 0 (the id map reserves it). */
static uint64_t
cluster_hash(const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 0x100000001b3ULL;
	}
	return h != 0 ? h : 1;
}

/* Build "<prefix><tag><name>" (|brace|: "{name}", a Redis Cluster hash tag). */
static size_t
cluster_key(const struct cluster *cl, char *buf, const char *tag,
    const char *name, size_t len, int brace)
{
	int n;

	n = snprintf(buf, CLUSTER_KEY_MAX, "%s%s%s%.*s%s", cl->prefix, tag,
	    brace ? "{" : "", (int)len, name, brace ? "}" : "");
	return n < 0 ? 0 : (size_t)n;
}

static struct cluster_chan *
cluster_chan_find(struct cluster *cl, const char *name, size_t len)
{
	struct cluster_chan *cc;

	for (cc = idmap_get(&cl->map, cluster_hash(name, len)); cc != NULL;
	    cc = cc->hash_next)
		if (cc->name_len == len && memcmp(cc->name, name, len) == 0)
			return cc;
	return NULL;
}

static struct cluster_chan *
cluster_chan_new(struct cluster *cl, const char *name, size_t len)
{
	struct cluster_chan *cc;
	uint64_t h = cluster_hash(name, len);

	if ((cc = calloc(1, sizeof(*cc) + len + 1)) == NULL)
		return NULL;
	cc->cl = cl;
	cc->hash = h;
	cc->name_len = len;
	memcpy(cc->name, name, len);
	cc->buf_tail = &cc->buf;
	cc->hash_next = idmap_get(&cl->map, h);
	if (idmap_put(&cl->map, h, cc) == -1) {
		free(cc);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&cl->all, cc, link);
	return cc;
}

static void
cluster_buf_clear(struct cluster_chan *cc)
{
	struct cluster_live *l;

	while ((l = cc->buf) != NULL) {
		cc->buf = l->next;
		free(l);
	}
	cc->buf_tail = &cc->buf;
	cc->nbuf = 0;
}

static void
cluster_chan_free(struct cluster_chan *cc)
{
	struct cluster *cl = cc->cl;
	struct cluster_chan *head = idmap_get(&cl->map, cc->hash), **pp;

	if (head == cc) {
		if (cc->hash_next != NULL)
			idmap_put(&cl->map, cc->hash, cc->hash_next);
		else
			idmap_del(&cl->map, cc->hash);
	} else {
		for (pp = &head->hash_next; *pp != cc; pp = &(*pp)->hash_next)
			;
		*pp = cc->hash_next;
	}
	if (cc->dirty)
		TAILQ_REMOVE(&cl->dirty, cc, dirty_link);
	TAILQ_REMOVE(&cl->all, cc, link);
	if (cc->ch != NULL)
		cc->ch->cl = NULL;
	cluster_buf_clear(cc);
	free(cc);
}

/* Whether |cc| is still needed: wanted, or Redis must hear it is not. */
static void
cluster_chan_gc(struct cluster_chan *cc)
{
	if (cc->ch == NULL && !cc->subscribed && !cc->confirmed &&
	    !cc->dirty && !cc->syncing)
		cluster_chan_free(cc);
}

/* Mark |cc| for the once-a-turn SUBSCRIBE/UNSUBSCRIBE batch. */
static void
cluster_chan_dirty(struct cluster_chan *cc)
{
	if (!cc->dirty) {
		cc->dirty = 1;
		TAILQ_INSERT_TAIL(&cc->cl->dirty, cc, dirty_link);
	}
	cluster_batch_want(cc->cl);
}

int
cluster_chan_ready(const struct channel *ch)
{
	return ch->cl != NULL && ch->cl->ready;
}

/*
 * The channel index tells us when a channel gets its first local
 * subscriber and loses its last: only those channels are subscribed in
 * Redis, so no node receives traffic it has no one for.
 */
static void
cluster_on_channel(void *arg, struct channel *ch, int up)
{
	struct cluster *cl = arg;
	struct cluster_chan *cc;

	if (up) {
		if ((cc = cluster_chan_find(cl, ch->name, ch->name_len)) ==
		    NULL && (cc = cluster_chan_new(cl, ch->name,
		    ch->name_len)) == NULL) {
			/* The subscriber stays pending until a resync. */
			log_warn("cluster: out of memory for channel %s",
			    ch->name);
			return;
		}
		cc->ch = ch;
		ch->cl = cc;
		cc->ready = 0;
		cluster_pres_chan(cl, ch->name, ch->name_len, 1);
		/* What the node held before is stale: it was not listening. */
		history_clear(&ch->hist);
		if (cc->confirmed)
			cluster_sync_start(cc);
		else
			cluster_chan_dirty(cc);
		return;
	}
	if ((cc = ch->cl) == NULL)
		return;
	/*
	 * The mirror of the stream goes with the last subscriber, so the
	 * channel is freed now and a later subscriber syncs afresh.
	 */
	history_clear(&ch->hist);
	cluster_pres_chan(cl, ch->name, ch->name_len, 0);
	ch->cl = NULL;
	cc->ch = NULL;
	cc->ready = 0;
	cluster_buf_clear(cc);
	cluster_chan_dirty(cc);
}

/* An op for the command connection; NULL when out of memory. */
static struct cluster_op *
cluster_op_new(struct cluster *cl, enum cluster_op_kind kind)
{
	struct cluster_op *op;

	if ((op = calloc(1, sizeof(*op))) == NULL)
		return NULL;
	op->cl = cl;
	op->kind = kind;
	op->deadline = cluster_now_ms() +
	    (uint64_t)(cl->cc->command_timeout * 1000.0);
	TAILQ_INSERT_TAIL(&cl->ops, op, link);
	return op;
}

static void
cluster_op_free(struct cluster_op *op)
{
	TAILQ_REMOVE(&op->cl->ops, op, link);
	free(op);
}

static void	cluster_on_reply(redisAsyncContext *, void *, void *);

/* Send argv on the command connection for |op|; frees |op| on failure. */
static int
cluster_op_send(struct cluster_op *op, int argc, const char **argv,
    const size_t *argvlen)
{
	struct cluster *cl = op->cl;

	if (cl->cmd == NULL || redisAsyncCommandArgv(cl->cmd, cluster_on_reply,
	    op, argc, argv, argvlen) != REDIS_OK) {
		cluster_op_free(op);
		return -1;
	}
	return 0;
}

/* Parse a 16 hex digit epoch. */
static int
cluster_parse_epoch(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len != HUB_EPOCH_HEXLEN)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i], d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return -1;
		v = v << 4 | (unsigned)d;
	}
	*out = v;
	return 0;
}

static void
cluster_publish_reply(struct cluster_op *op, redisReply *r)
{
	struct cluster *cl = op->cl;
	struct hub_publish_result res;
	const char *reason = NULL;

	memset(&res, 0, sizeof(res));
	res.channel = op->name;
	res.channel_len = op->name_len;
	if (r == NULL)
		reason = "Redis is unreachable: the message was not published";
	else if (r->type == REDIS_REPLY_ERROR) {
		log_warn("cluster: publish on %s: %s", op->name, r->str);
		reason = "Redis refused the publish";
	} else if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER ||
	    r->element[1]->type != REDIS_REPLY_STRING ||
	    r->element[2]->type != REDIS_REPLY_INTEGER ||
	    cluster_parse_epoch(r->element[1]->str, r->element[1]->len,
	    &res.epoch) == -1)
		reason = "unexpected answer from Redis";
	else {
		res.seq = (uint64_t)r->element[0]->integer;
		res.delivered = (size_t)r->element[2]->integer;
	}
	if (reason != NULL)
		cl->srv->stats.cluster_publish_errors++;
	if (op->has_cb)
		op->cb.fn(cl->srv, &op->cb, reason != NULL ? 503 : 0, reason,
		    &res);
}

/* A frame for held entry |seq| built from Redis's copy. */
static int
cluster_hist_add(struct channel *ch, uint64_t seq, unsigned opcode,
    const void *data, size_t len, uint64_t when)
{
	struct msg *m;
	uint8_t *p;
	int rv;

	if ((m = msg_frame_alloc_channel(opcode, len, &p, ch->name,
	    ch->name_len, seq)) == NULL)
		return -1;
	if (len > 0)
		memcpy(p, data, len);
	rv = history_add(&ch->hist, m, opcode, len, when, &ch->lim);
	msg_unref(m);
	return rv;
}

/* Tell every active subscriber of |ch| that messages were lost. */
static void
cluster_tell_gap(struct cluster *cl, struct channel *ch, const char *reason)
{
	struct subscription *s, *next;

	for (int m = 0; m < SUB_NMODES; m++)
		for (s = TAILQ_FIRST(&ch->subs[m]); s != NULL; s = next) {
			next = TAILQ_NEXT(s, chan_link);
			cl->srv->stats.cluster_gaps++;
			if (s->conn->route->handler->gap != NULL)
				s->conn->route->handler->gap(s->conn, s,
				    reason);
		}
}

/* Fan out a live message on |ch| and count it. */
static void
cluster_deliver(struct cluster *cl, struct channel *ch, uint64_t seq,
    unsigned opcode, const void *data, size_t len)
{
	long n;

	n = channel_publish_at(ch, seq, opcode, data, len, hub_now(cl->srv));
	if (n < 0) {
		/* The history could not keep it either; a recovery says gap. */
		log_warn("cluster: out of memory delivering %s:%" PRIu64,
		    ch->name, seq);
		ch->seq = seq;
		return;
	}
	cl->srv->stats.msgs_out += (uint64_t)n;
}

/*
 * Apply the live messages that came while |cc| synced: those after the
 * synced position, in order. A hole among them starts another sync.
 */
static void
cluster_buf_apply(struct cluster_chan *cc)
{
	struct channel *ch = cc->ch;
	struct cluster_live *l;

	while ((l = cc->buf) != NULL) {
		if (l->epoch == ch->epoch && l->seq <= ch->seq) {
			/* Already in what the sync returned. */
		} else if (l->epoch == ch->epoch && l->seq == ch->seq + 1)
			cluster_deliver(cc->cl, ch, l->seq, l->opcode, l->data,
			    l->len);
		else {
			cluster_buf_clear(cc);
			cluster_sync_start(cc);
			return;
		}
		cc->buf = l->next;
		free(l);
		cc->nbuf--;
	}
	cc->buf_tail = &cc->buf;
}

/* Pending subscribers of |ch| can now be answered and replayed to. */
static void
cluster_serve_pending(struct channel *ch)
{
	struct subscription *s;

	for (int m = SUB_PENDING; m < SUB_NLISTS; m++)
		while ((s = TAILQ_FIRST(&ch->subs[m])) != NULL) {
			const struct handler *h = s->conn->route->handler;

			if (h->synced != NULL)
				h->synced(s->conn, s);
			if (TAILQ_FIRST(&ch->subs[m]) == s)
				channel_sub_activate(s);
		}
}

static void
cluster_sync_reply(struct cluster_op *op, redisReply *r)
{
	struct cluster *cl = op->cl;
	struct cluster_chan *cc = op->cc;
	struct channel *ch;
	redisReply *entries;
	uint64_t epoch, seq, rnow, now, old_seq;
	const char *gap = NULL;
	int full, resync, live;

	cc->syncing = 0;
	if ((ch = cc->ch) == NULL) {
		cluster_buf_clear(cc);
		cluster_chan_gc(cc);
		return;
	}
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 5 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    cluster_parse_epoch(r->element[0]->str, r->element[0]->len,
	    &epoch) == -1 || r->element[1]->type != REDIS_REPLY_INTEGER ||
	    r->element[2]->type != REDIS_REPLY_INTEGER ||
	    r->element[3]->type != REDIS_REPLY_INTEGER ||
	    r->element[4]->type != REDIS_REPLY_ARRAY) {
		if (r != NULL)
			log_warn("cluster: sync of %s: %s", ch->name,
			    r->type == REDIS_REPLY_ERROR ? r->str :
			    "unexpected answer");
		/* Again once Redis is back (or at once if it still is). */
		cluster_buf_clear(cc);
		cc->need_sync = 1;
		return;
	}
	seq = (uint64_t)r->element[1]->integer;
	full = r->element[2]->integer != 0;
	rnow = (uint64_t)r->element[3]->integer;
	entries = r->element[4];
	now = hub_now(cl->srv);
	old_seq = ch->seq;
	live = !TAILQ_EMPTY(&ch->subs[SUB_RAW]) ||
	    !TAILQ_EMPTY(&ch->subs[SUB_JSON]);
	/*
	 * Subscribers already live must get what they missed, or hear of a
	 * gap: entries after their position, in the same epoch, with none
	 * missing, are delivered as if live.
	 */
	resync = live && (epoch != ch->epoch || seq != old_seq);
	if (resync) {
		int filled = epoch == ch->epoch && seq >= old_seq;
		uint64_t want = old_seq + 1;

		for (size_t i = 0; filled && i < entries->elements; i++) {
			redisReply *e = entries->element[i];
			uint64_t es = strtoull(e->element[0]->str, NULL, 10);

			if (es < want)
				continue;
			filled = es == want;
			want++;
		}
		filled = filled && want == seq + 1;
		cl->srv->stats.cluster_resyncs++;
		if (!filled) {
			log_notice("cluster: %s: messages after %" PRIu64
			    " were lost while out of step", ch->name, old_seq);
			gap = epoch != ch->epoch ? "epoch changed" :
			    "history does not reach back";
			full = 1;
		}
		if (filled) {
			full = 0;
			old_seq = ch->seq;
		}
	}
	if (full || epoch != ch->epoch) {
		history_clear(&ch->hist);
		ch->epoch = epoch;
	}
	for (size_t i = 0; i < entries->elements; i++) {
		redisReply *e = entries->element[i], *f;
		uint64_t es, t, age;
		unsigned opcode;

		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    (f = e->element[1])->type != REDIS_REPLY_ARRAY ||
		    f->elements != 6)
			continue;
		es = strtoull(e->element[0]->str, NULL, 10);
		opcode = (unsigned)atoi(f->element[1]->str);
		if (opcode != WS_OP_TEXT && opcode != WS_OP_BINARY)
			continue;
		t = strtoull(f->element[3]->str, NULL, 10);
		age = rnow > t ? rnow - t : 0;
		if (resync && !full && es > old_seq && es == ch->seq + 1) {
			cluster_deliver(cl, ch, es, opcode, f->element[5]->str,
			    f->element[5]->len);
			continue;
		}
		if (es <= ch->seq && !full)
			continue;
		cluster_hist_add(ch, es, opcode, f->element[5]->str,
		    f->element[5]->len, now > age ? now - age : 0);
	}
	ch->seq = seq;
	/* Told with the position to go on from, before what follows it. */
	if (gap != NULL)
		cluster_tell_gap(cl, ch, gap);
	cluster_buf_apply(cc);
	if (cc->syncing)
		return;
	cc->ready = 1;
	cluster_serve_pending(ch);
}

static void
cluster_setup_reply(struct cluster_op *op, redisReply *r)
{
	struct cluster *cl = op->cl;
	struct cluster_chan *cc;

	if (r == NULL)
		return;
	if (r->type == REDIS_REPLY_ERROR) {
		log_warn("cluster: Redis refused setup: %s", r->str);
		cluster_down(cl, "setup refused");
		return;
	}
	if (op->script == 1 && r->type == REDIS_REPLY_STRING)
		snprintf(cl->sha_publish, sizeof(cl->sha_publish), "%s", r->str);
	if (op->script == 2 && r->type == REDIS_REPLY_STRING)
		snprintf(cl->sha_sync, sizeof(cl->sha_sync), "%s", r->str);
	if (--cl->setup_left > 0)
		return;
	cl->cmd_up = 1;
	/* Tell the others we run (and re-add our presence) first. */
	cluster_beat(cl);
	/* Channels whose SUBSCRIBE was confirmed first sync now. */
	TAILQ_FOREACH(cc, &cl->all, link)
		if (cc->need_sync && cc->confirmed)
			cluster_sync_start(cc);
	if (cl->sub_up) {
		cl->connect_deadline = 0;
		cl->srv->stats.cluster_up = 1;
	}
}

static void
cluster_on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct cluster_op *op = privdata;
	redisReply *r = reply;

	if (op == NULL)
		return;
	switch (op->kind) {
	case OP_SETUP:
		cluster_setup_reply(op, r);
		break;
	case OP_PING:
	case OP_QUIET:
		break;
	case OP_CTL:
		cluster_ctl_reply(op, r);
		break;
	case OP_BEAT:
		cluster_beat_reply(op->cl, r);
		break;
	case OP_PRESENCE:
		cluster_presence_reply(op, r);
		break;
	case OP_PUBLISH:
		cluster_publish_reply(op, r);
		break;
	case OP_SYNC:
		if (r != NULL && r->type == REDIS_REPLY_ERROR &&
		    strncmp(r->str, "NOSCRIPT", 8) == 0) {
			struct cluster *cl = op->cl;

			/* The script cache was flushed: start over. */
			op->cc->syncing = 0;
			op->cc->need_sync = 1;
			cluster_op_free(op);
			cluster_down(cl, "scripts flushed");
			return;
		}
		cluster_sync_reply(op, r);
		break;
	}
	cluster_op_free(op);
}

static void
cluster_sync_start(struct cluster_chan *cc)
{
	struct cluster *cl = cc->cl;
	struct channel *ch = cc->ch;
	struct cluster_op *op;
	char meta[CLUSTER_KEY_MAX], stream[CLUSTER_KEY_MAX];
	char sepoch[HUB_EPOCH_HEXLEN + 1], sseq[24], ttl[24], cand[24],
	    mttl[24];
	const char *argv[9];
	size_t argvlen[9];

	if (ch == NULL || cc->syncing)
		return;
	if (!cl->cmd_up) {
		cc->need_sync = 1;
		return;
	}
	cc->need_sync = 0;
	if ((op = cluster_op_new(cl, OP_SYNC)) == NULL) {
		cc->need_sync = 1;
		return;
	}
	op->cc = cc;
	argv[0] = "EVALSHA";
	argv[1] = cl->sha_sync;
	argv[2] = "2";
	argv[3] = meta;
	argvlen[3] = cluster_key(cl, meta, "m:", cc->name, cc->name_len, 1);
	argv[4] = stream;
	argvlen[4] = cluster_key(cl, stream, "s:", cc->name, cc->name_len, 1);
	/* The position the node has: only the rest is fetched. */
	if (ch->hist.count > 0 || !TAILQ_EMPTY(&ch->subs[SUB_RAW]) ||
	    !TAILQ_EMPTY(&ch->subs[SUB_JSON])) {
		envelope_epoch_format(ch->epoch, sepoch);
		snprintf(sseq, sizeof(sseq), "%" PRIu64, ch->seq);
	} else {
		sepoch[0] = '\0';
		snprintf(sseq, sizeof(sseq), "0");
	}
	argv[5] = sepoch;
	argv[6] = sseq;
	snprintf(ttl, sizeof(ttl), "%" PRIu64, ch->lim.ttl_ms);
	argv[7] = ttl;
	snprintf(cand, sizeof(cand), "%016" PRIx64, cluster_random() | 1);
	argv[8] = cand;
	for (int i = 0; i < 9; i++)
		if (i < 3 || i > 4)
			argvlen[i] = strlen(argv[i]);
	snprintf(mttl, sizeof(mttl), "%d", CLUSTER_META_TTL_MS);
	{
		const char *av[10];
		size_t al[10];

		memcpy(av, argv, sizeof(argv));
		memcpy(al, argvlen, sizeof(argvlen));
		av[9] = mttl;
		al[9] = strlen(mttl);
		if (cluster_op_send(op, 10, av, al) == -1) {
			cc->need_sync = 1;
			return;
		}
	}
	cc->syncing = 1;
	cluster_buf_clear(cc);
}

int
cluster_publish(struct cluster *cl, const char *name, size_t len,
    unsigned opcode, const void *data, size_t dlen,
    const struct history_limits *lim, const struct hub_publish_cb *cb,
    const char **reason)
{
	struct cluster_op *op;
	char meta[CLUSTER_KEY_MAX], stream[CLUSTER_KEY_MAX],
	    chan[CLUSTER_KEY_MAX];
	char op_s[4], size[24], bytes[24], ttl[24], cand[24], mttl[24];
	const char *argv[13];
	size_t argvlen[13];

	if (!cl->cmd_up) {
		cl->srv->stats.cluster_publish_errors++;
		*reason = "Redis is unreachable: the message was not published";
		return 503;
	}
	if ((op = cluster_op_new(cl, OP_PUBLISH)) == NULL) {
		*reason = "out of memory";
		return 500;
	}
	memcpy(op->name, name, len);
	op->name[len] = '\0';
	op->name_len = len;
	if (cb != NULL) {
		op->cb = *cb;
		op->has_cb = 1;
	}
	snprintf(op_s, sizeof(op_s), "%u", opcode);
	snprintf(size, sizeof(size), "%" PRIu64, lim->size);
	snprintf(bytes, sizeof(bytes), "%" PRIu64, lim->bytes);
	snprintf(ttl, sizeof(ttl), "%" PRIu64, lim->ttl_ms);
	snprintf(cand, sizeof(cand), "%016" PRIx64, cluster_random() | 1);
	snprintf(mttl, sizeof(mttl), "%d", CLUSTER_META_TTL_MS);
	argv[0] = "EVALSHA";
	argv[1] = cl->sha_publish;
	argv[2] = "2";
	argv[3] = meta;
	argvlen[3] = cluster_key(cl, meta, "m:", name, len, 1);
	argv[4] = stream;
	argvlen[4] = cluster_key(cl, stream, "s:", name, len, 1);
	argv[5] = op_s;
	argv[6] = data != NULL ? data : "";
	argvlen[6] = dlen;
	argv[7] = size;
	argv[8] = bytes;
	argv[9] = ttl;
	argv[10] = cand;
	argv[11] = chan;
	argvlen[11] = cluster_key(cl, chan, "c:", name, len, 0);
	argv[12] = mttl;
	for (int i = 0; i < 13; i++)
		if (i != 3 && i != 4 && i != 6 && i != 11)
			argvlen[i] = strlen(argv[i]);
	if (cluster_op_send(op, 13, argv, argvlen) == -1) {
		cl->srv->stats.cluster_publish_errors++;
		*reason = "Redis is unreachable: the message was not published";
		return 503;
	}
	return 0;
}

/* A message on a channel's pub/sub channel: "<epoch>:<seq>:<op>:<payload>". */
static void
cluster_on_message(struct cluster *cl, const char *name, size_t nlen,
    const char *p, size_t len)
{
	struct cluster_chan *cc;
	struct channel *ch;
	struct cluster_live *l;
	const char *end = p + len, *q;
	uint64_t epoch, seq = 0;
	unsigned opcode;

	cl->srv->stats.cluster_msgs_in++;
	if ((cc = cluster_chan_find(cl, name, nlen)) == NULL ||
	    (ch = cc->ch) == NULL)
		return;
	if (len < HUB_EPOCH_HEXLEN + 6 || cluster_parse_epoch(p,
	    HUB_EPOCH_HEXLEN, &epoch) == -1 || p[HUB_EPOCH_HEXLEN] != ':')
		goto bad;
	for (q = p + HUB_EPOCH_HEXLEN + 1; q < end && *q >= '0' && *q <= '9';
	    q++)
		seq = seq * 10 + (uint64_t)(*q - '0');
	if (end - q < 3 || q[0] != ':' || q[2] != ':' ||
	    (q[1] != '1' && q[1] != '2'))
		goto bad;
	opcode = (unsigned)(q[1] - '0');
	q += 3;
	if (!cc->syncing && (epoch != ch->epoch || seq > ch->seq + 1) &&
	    cc->ready) {
		/* Pub/sub lost something (or the epoch moved): catch up. */
		log_info("cluster: %s: gap before %" PRIu64 ", syncing",
		    ch->name, seq);
		cluster_sync_start(cc);
	}
	if (cc->syncing || !cc->ready) {
		if (cc->nbuf >= CLUSTER_BUFFER_MAX ||
		    (l = malloc(sizeof(*l) + (size_t)(end - q))) == NULL) {
			/* The sync is redone; its answer has these messages. */
			cluster_buf_clear(cc);
			return;
		}
		l->next = NULL;
		l->seq = seq;
		l->epoch = epoch;
		l->opcode = opcode;
		l->len = (size_t)(end - q);
		memcpy(l->data, q, l->len);
		*cc->buf_tail = l;
		cc->buf_tail = &l->next;
		cc->nbuf++;
		return;
	}
	if (seq <= ch->seq)
		return;		/* a duplicate of what a sync returned */
	cluster_deliver(cl, ch, seq, opcode, q, (size_t)(end - q));
	return;
bad:
	log_warn("cluster: malformed message on %.*s", (int)nlen, name);
}

static void
cluster_on_sub(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct cluster *cl = privdata;
	struct cluster_chan *cc;
	redisReply *r = reply, *kind, *chan;
	const char *name;
	size_t nlen;

	if (r == NULL || cl == NULL || ac != cl->sub ||
	    r->type != REDIS_REPLY_ARRAY || r->elements < 3)
		return;
	kind = r->element[0];
	chan = r->element[1];
	if (kind->type == REDIS_REPLY_STRING &&
	    chan->type == REDIS_REPLY_STRING &&
	    strcmp(kind->str, "message") == 0 &&
	    r->element[2]->type == REDIS_REPLY_STRING &&
	    (strcmp(chan->str, cl->ctl_chan) == 0 ||
	    strcmp(chan->str, cl->all_chan) == 0)) {
		cluster_ctl_on_message(cl, r->element[2]->str,
		    r->element[2]->len);
		return;
	}
	if (kind->type != REDIS_REPLY_STRING ||
	    chan->type != REDIS_REPLY_STRING ||
	    chan->len < cl->prefix_len + 2 ||
	    memcmp(chan->str, cl->prefix, cl->prefix_len) != 0 ||
	    memcmp(chan->str + cl->prefix_len, "c:", 2) != 0)
		return;
	name = chan->str + cl->prefix_len + 2;
	nlen = chan->len - cl->prefix_len - 2;
	if (strcmp(kind->str, "message") == 0 &&
	    r->element[2]->type == REDIS_REPLY_STRING) {
		cluster_on_message(cl, name, nlen, r->element[2]->str,
		    r->element[2]->len);
		return;
	}
	if ((cc = cluster_chan_find(cl, name, nlen)) == NULL)
		return;
	if (strcmp(kind->str, "unsubscribe") == 0) {
		cc->confirmed = 0;
		cluster_chan_gc(cc);
		return;
	}
	if (strcmp(kind->str, "subscribe") == 0 && cc->subscribed) {
		cc->confirmed = 1;
		/* From now on Redis sends us every publish: sync. */
		if (cc->ch != NULL)
			cluster_sync_start(cc);
	}
}

/* Send the SUBSCRIBE/UNSUBSCRIBE changes of this loop turn. */
static void
cluster_on_batch(evutil_socket_t fd, short what, void *arg)
{
	struct cluster *cl = arg;
	struct cluster_chan *cc;
	const char **sv = NULL, **uv = NULL;
	size_t *sl = NULL, *ul = NULL, ns = 1, nu = 1, n = 0;
	char *keys = NULL;

	cl->batch_pending = 0;
	cluster_pres_flush(cl);
	TAILQ_FOREACH(cc, &cl->dirty, dirty_link)
		n++;
	if (n == 0)
		return;
	if (!cl->sub_up) {
		/* The resubscription after connecting covers them. */
		while ((cc = TAILQ_FIRST(&cl->dirty)) != NULL) {
			TAILQ_REMOVE(&cl->dirty, cc, dirty_link);
			cc->dirty = 0;
			cluster_chan_gc(cc);
		}
		return;
	}
	if ((sv = calloc(n + 1, sizeof(*sv))) == NULL ||
	    (uv = calloc(n + 1, sizeof(*uv))) == NULL ||
	    (sl = calloc(n + 1, sizeof(*sl))) == NULL ||
	    (ul = calloc(n + 1, sizeof(*ul))) == NULL ||
	    (keys = malloc(n * CLUSTER_KEY_MAX)) == NULL) {
		/* Try again next turn. */
		cluster_batch_want(cl);
		goto out;
	}
	sv[0] = "SUBSCRIBE";
	sl[0] = 9;
	uv[0] = "UNSUBSCRIBE";
	ul[0] = 11;
	n = 0;
	while ((cc = TAILQ_FIRST(&cl->dirty)) != NULL) {
		char *k = keys + n++ * CLUSTER_KEY_MAX;
		size_t klen = cluster_key(cl, k, "c:", cc->name, cc->name_len,
		    0);

		TAILQ_REMOVE(&cl->dirty, cc, dirty_link);
		cc->dirty = 0;
		if (cc->ch != NULL && !cc->subscribed) {
			cc->subscribed = 1;
			sv[ns] = k;
			sl[ns++] = klen;
		} else if (cc->ch == NULL && cc->subscribed) {
			cc->subscribed = 0;
			uv[nu] = k;
			ul[nu++] = klen;
		}
		cluster_chan_gc(cc);
	}
	if (ns > 1)
		redisAsyncCommandArgv(cl->sub, cluster_on_sub, cl, (int)ns, sv,
		    sl);
	if (nu > 1)
		redisAsyncCommandArgv(cl->sub, cluster_on_sub, cl, (int)nu, uv,
		    ul);
out:
	free(sv);
	free(uv);
	free(sl);
	free(ul);
	free(keys);
}

static void
cluster_batch_want(struct cluster *cl)
{
	if (cl->batch_pending)
		return;
	cl->batch_pending = 1;
	event_active(&cl->batch_ev, EV_TIMEOUT, 1);
}

static void
cluster_schedule_retry(struct cluster *cl)
{
	struct timeval tv;
	uint32_t ms;

	/* Jitter keeps a fleet of nodes from reconnecting in lockstep. */
	ms = cl->backoff_ms / 2 + (uint32_t)(cluster_random() %
	    (cl->backoff_ms / 2 + 1));
	cl->backoff_ms = cl->backoff_ms * 2 > CLUSTER_BACKOFF_MAX_MS ?
	    CLUSTER_BACKOFF_MAX_MS : cl->backoff_ms * 2;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(&cl->retry_ev, &tv);
}

/*
 * Drop both connections (a node needs both: commands and pub/sub) and
 * try again later. Every command waiting gets its callback with no reply
 * (publishes answer 503); every channel must sync again once back, since
 * pub/sub does not keep what was sent while we were away.
 */
static void
cluster_down(struct cluster *cl, const char *why)
{
	redisAsyncContext *cmd = cl->cmd, *sub = cl->sub;
	struct cluster_chan *cc, *next;
	int was_up = cl->cmd_up && cl->sub_up;

	if (cmd == NULL && sub == NULL)
		return;
	cl->cmd = cl->sub = NULL;
	cl->cmd_up = cl->sub_up = 0;
	cl->connect_deadline = 0;
	cl->srv->stats.cluster_up = 0;
	if (was_up || cl->down_since == 0) {
		cl->srv->stats.cluster_outages += was_up;
		cl->down_since = cluster_now_ms();
		log_warn("cluster: Redis %s: %s; publishes fail until it is "
		    "back", cl->cc->redis[cl->addr], why);
	}
	/* Redis may lose our presence entries, or another node sweep them. */
	cluster_pres_clear(cl);
	cl->pres_resend = 1;
	for (cc = TAILQ_FIRST(&cl->all); cc != NULL; cc = next) {
		next = TAILQ_NEXT(cc, link);
		cc->subscribed = 0;
		cc->confirmed = 0;
		cc->ready = 0;
		cc->need_sync = 0;
		cluster_buf_clear(cc);
		cluster_chan_gc(cc);
	}
	if (cmd != NULL) {
		cmd->data = NULL;
		redisAsyncFree(cmd);
	}
	if (sub != NULL) {
		sub->data = NULL;
		redisAsyncFree(sub);
	}
	/* The next address, if there are several. */
	if (cl->cc->redis[cl->addr + 1] != NULL)
		cl->addr++;
	else
		cl->addr = 0;
	cluster_schedule_retry(cl);
}

static void
cluster_on_disconnect(const redisAsyncContext *ac, int status)
{
	struct cluster *cl = ac->data;

	/* hiredis frees |ac| after this; it must not be freed again. */
	if (cl == NULL)
		return;
	if (ac == cl->cmd)
		cl->cmd = NULL;
	else if (ac == cl->sub)
		cl->sub = NULL;
	cluster_down(cl, ac->errstr[0] != '\0' ? ac->errstr :
	    "connection closed");
}

static void
cluster_auth(struct cluster *cl, redisAsyncContext *ac, int is_cmd)
{
	const struct config_cluster *cc = cl->cc;
	const char *argv[3];
	struct cluster_op *op;
	int argc = 0;

	if (cc->password == NULL || cc->password[0] == '\0')
		return;
	argv[argc++] = "AUTH";
	if (cc->user != NULL && cc->user[0] != '\0')
		argv[argc++] = cc->user;
	argv[argc++] = cc->password;
	if (!is_cmd) {
		/* The pub/sub link: an error there shows in its replies. */
		redisAsyncCommandArgv(ac, NULL, NULL, argc, argv, NULL);
		return;
	}
	if ((op = cluster_op_new(cl, OP_SETUP)) != NULL) {
		cl->setup_left++;
		cluster_op_send(op, argc, argv, NULL);
	}
}

static void
cluster_on_connect(const redisAsyncContext *cac, int status)
{
	redisAsyncContext *ac = (redisAsyncContext *)(uintptr_t)cac;
	struct cluster *cl = ac->data;
	struct cluster_chan *cc;
	struct cluster_op *op;
	const char *argv[3];
	size_t n = 1, i;
	const char **sv;
	size_t *sl;
	char *keys;

	if (cl == NULL)
		return;
	if (status != REDIS_OK) {
		/* hiredis frees the context after a failed connect. */
		if (ac == cl->cmd)
			cl->cmd = NULL;
		else if (ac == cl->sub)
			cl->sub = NULL;
		cluster_down(cl, ac->errstr);
		return;
	}
	if (ac == cl->cmd) {
		cl->setup_left = 0;
		cluster_auth(cl, ac, 1);
		argv[0] = "SCRIPT";
		argv[1] = "LOAD";
		for (int s = 1; s <= 2; s++) {
			if ((op = cluster_op_new(cl, OP_SETUP)) == NULL)
				break;
			op->script = s;
			argv[2] = s == 1 ? cluster_lua_publish :
			    cluster_lua_sync;
			cl->setup_left++;
			cluster_op_send(op, 3, argv, NULL);
		}
		return;
	}
	/* The pub/sub link: subscribe to every channel local clients want. */
	cluster_auth(cl, ac, 0);
	TAILQ_FOREACH(cc, &cl->all, link)
		n += cc->ch != NULL;
	n += 2;		/* our control channel and every node's */
	sv = calloc(n, sizeof(*sv));
	sl = calloc(n, sizeof(*sl));
	keys = malloc(n * CLUSTER_KEY_MAX);
	if (sv == NULL || sl == NULL || keys == NULL) {
		free(sv);
		free(sl);
		free(keys);
		cluster_down(cl, "out of memory");
		return;
	}
	sv[0] = "SUBSCRIBE";
	sl[0] = 9;
	sv[1] = cl->ctl_chan;
	sl[1] = strlen(cl->ctl_chan);
	sv[2] = cl->all_chan;
	sl[2] = strlen(cl->all_chan);
	i = 3;
	TAILQ_FOREACH(cc, &cl->all, link) {
		if (cc->ch == NULL)
			continue;
		sv[i] = keys + i * CLUSTER_KEY_MAX;
		sl[i] = cluster_key(cl, keys + i * CLUSTER_KEY_MAX, "c:",
		    cc->name, cc->name_len, 0);
		cc->subscribed = 1;
		i++;
	}
	if (i > 1)
		redisAsyncCommandArgv(ac, cluster_on_sub, cl, (int)i, sv, sl);
	free(sv);
	free(sl);
	free(keys);
	cl->sub_up = 1;
	if (cl->cmd_up) {
		cl->connect_deadline = 0;
		cl->srv->stats.cluster_up = 1;
	}
}

/* Open a context to the current address, attached to our loop. */
static redisAsyncContext *
cluster_open(struct cluster *cl)
{
	const char *a = cl->cc->redis[cl->addr];
	redisAsyncContext *ac;
	char host[256];
	const char *colon;
	size_t hlen;

	if (strncmp(a, "unix:", 5) == 0)
		ac = redisAsyncConnectUnix(a + 5);
	else {
		colon = strrchr(a + 6, ':');
		hlen = (size_t)(colon - (a + 6));
		if (hlen >= sizeof(host))
			return NULL;
		memcpy(host, a + 6, hlen);
		host[hlen] = '\0';
		/* "[::1]" style brackets are not for getaddrinfo. */
		if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
			memmove(host, host + 1, hlen - 2);
			host[hlen - 2] = '\0';
		}
		ac = redisAsyncConnect(host, atoi(colon + 1));
	}
	if (ac == NULL)
		return NULL;
	if (ac->err) {
		log_warn("cluster: %s: %s", a, ac->errstr);
		redisAsyncFree(ac);
		return NULL;
	}
	ac->data = cl;
	redisLibeventAttach(ac, cl->srv->base);
	redisAsyncSetConnectCallback(ac, cluster_on_connect);
	redisAsyncSetDisconnectCallback(ac, cluster_on_disconnect);
	return ac;
}

static void
cluster_connect(struct cluster *cl)
{
	cl->cmd_up = cl->sub_up = 0;
	cl->cmd = cluster_open(cl);
	cl->sub = cl->cmd != NULL ? cluster_open(cl) : NULL;
	if (cl->cmd == NULL || cl->sub == NULL) {
		cluster_down(cl, "cannot start a connection");
		if (cl->cmd == NULL && cl->sub == NULL &&
		    !evtimer_pending(&cl->retry_ev, NULL))
			cluster_schedule_retry(cl);
		return;
	}
	cl->connect_deadline = cluster_now_ms() +
	    (uint64_t)(cl->cc->connect_timeout * 1000.0);
}

static void
cluster_on_retry(evutil_socket_t fd, short what, void *arg)
{
	cluster_connect(arg);
}

static void
cluster_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct cluster *cl = arg;
	struct cluster_op *op;
	uint64_t now = cluster_now_ms();
	const char *argv[1] = { "PING" };

	if (cl->connect_deadline != 0 && now > cl->connect_deadline) {
		cluster_down(cl, "connect timeout");
		return;
	}
	if (cl->cmd_up && cl->sub_up) {
		if (cl->down_since != 0 || !cl->ever_up) {
			if (cl->ever_up)
				log_notice("cluster: Redis %s is back after "
				    "%.1fs", cl->cc->redis[cl->addr],
				    (double)(now - cl->down_since) / 1000.0);
			else
				log_notice("cluster: connected to Redis %s",
				    cl->cc->redis[cl->addr]);
			cl->srv->stats.cluster_connects++;
			cl->ever_up = 1;
			cl->down_since = 0;
		}
		cl->backoff_ms = CLUSTER_BACKOFF_MIN_MS;
	}
	/* Replies come in order: the oldest command tells whether it hangs. */
	if ((op = TAILQ_FIRST(&cl->ops)) != NULL && now > op->deadline) {
		cluster_down(cl, "command timeout");
		return;
	}
	cluster_req_tick(cl, now);
	if (cl->cmd_up && now >= cl->next_beat)
		cluster_beat(cl);
	if (cl->cmd_up && now >= cl->next_ping) {
		/* A dead peer that never resets shows as a ping timing out. */
		cl->next_ping = now + CLUSTER_PING_MS;
		if ((op = cluster_op_new(cl, OP_PING)) != NULL)
			cluster_op_send(op, 1, argv, NULL);
	}
}

/*
 * Control channels: acting on connections of other nodes.
 *
 * Every node subscribes, on its pub/sub connection, to its own control
 * channel "<prefix>n:<tag>" (the tag is the high 24 bits of the ids it
 * gives, six hex digits) and to "<prefix>all". A request for a connection
 * id goes to the channel of the id's node; one for a user or a route to
 * every node. PUBLISH answers how many nodes received it, so a request
 * for an id whose node is not running is answered 404 at once; the nodes
 * that received one answer on the asker's channel, and the asker answers
 * its caller when all have, or when command_timeout is over.
 *
 * Messages are text headers with ':' between fields; a user name or route
 * carries its length, and the payload is the rest:
 *
 *	s:<from>:<req>:<id>:<opcode>:<payload>		sendOne
 *	k:<from>:<req>:<id>:<code>:<reason>		kick
 *	u:<from>:<req>:<opcode>:<len>:<user><payload>	to a user
 *	b:<from>:<req>:<opcode>:<len>:<route><payload>	sendAll on a route
 *	r:<from>:<req>:<connections>:<delivered>	the answer
 */

/* A request waiting for other nodes' answers. */
struct cluster_req {
	TAILQ_ENTRY(cluster_req) link;
	uint64_t		 serial;
	uint64_t		 deadline;	/* ms, monotonic */
	long			 expected;	/* answers due; -1: not known */
	int			 one;		/* for one connection id */
	struct cluster_result	 res;
	struct cluster_cb	 cb;
};

/* A presence change waiting for the once-a-turn batch. */
enum cluster_pres_kind {
	PRES_ADD,		/* HSET p:{chan} <id> <user> */
	PRES_DEL,		/* HDEL p:{chan} <id> */
	PRES_CHAN_ADD,		/* SADD pn:<tag> chan: where ours are */
	PRES_CHAN_DEL		/* SREM pn:<tag> chan */
};

struct cluster_pres {
	struct cluster_pres	*next;
	enum cluster_pres_kind	 kind;
	uint64_t		 id;
	size_t			 chan_len;
	size_t			 user_len;
	char			 data[];	/* channel, then user */
};

/*
 * The heartbeat: record this node (its description expires with it),
 * remove what nodes not heard of for CLUSTER_NODE_TTL_MS left in the
 * presence sets (and, with |fresh|, what an earlier run of this node with
 * the same node_id left), and return every running node. The first
 * element says whether our own record had expired meanwhile: other nodes
 * may then have removed our presence entries, which we add again.
 */
static const char cluster_lua_beat[] =
"local prefix, tag, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])\n"
"local info, fresh = ARGV[4], ARGV[5]\n"
"local nodes = prefix .. 'nodes'\n"
"local t = redis.call('TIME')\n"
"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
"local function sweep(d)\n"
"  local pn = prefix .. 'pn:' .. d\n"
"  for _, ch in ipairs(redis.call('SMEMBERS', pn)) do\n"
"    local k = prefix .. 'p:{' .. ch .. '}'\n"
"    for _, f in ipairs(redis.call('HKEYS', k)) do\n"
"      if string.sub(f, 1, 6) == d then redis.call('HDEL', k, f) end\n"
"    end\n"
"  end\n"
"  redis.call('DEL', pn, prefix .. 'node:' .. d)\n"
"  redis.call('ZREM', nodes, d)\n"
"end\n"
"local mine = redis.call('ZSCORE', nodes, tag)\n"
"local lost = 0\n"
"if fresh == '1' then sweep(tag)\n"
"elseif not mine or tonumber(mine) <= now then lost = 1 end\n"
"for _, d in ipairs(redis.call('ZRANGEBYSCORE', nodes, '-inf', now)) do\n"
"  if d ~= tag then sweep(d) end\n"
"end\n"
"redis.call('ZADD', nodes, now + ttl, tag)\n"
"redis.call('SET', prefix .. 'node:' .. tag, info, 'PX', ttl)\n"
"local out = {lost}\n"
"for _, d in ipairs(redis.call('ZRANGEBYSCORE', nodes, '(' .. now,\n"
"    '+inf')) do\n"
"  local v = redis.call('GET', prefix .. 'node:' .. d)\n"
"  if v then out[#out + 1] = d; out[#out + 1] = v end\n"
"end\n"
"return out\n";

/*
 * Presence: the entries of a channel's presence hash (connection id ->
 * user) whose node is still running.
 */
static const char cluster_lua_presence[] =
"local k, nodes = KEYS[1], KEYS[2]\n"
"local t = redis.call('TIME')\n"
"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
"local live, out = {}, {}\n"
"local h = redis.call('HGETALL', k)\n"
"for i = 1, #h, 2 do\n"
"  local d = string.sub(h[i], 1, 6)\n"
"  if live[d] == nil then\n"
"    local sc = redis.call('ZSCORE', nodes, d)\n"
"    live[d] = sc and tonumber(sc) > now or false\n"
"  end\n"
"  if live[d] then out[#out + 1] = h[i]; out[#out + 1] = h[i + 1] end\n"
"end\n"
"return out\n";

static struct cluster_req *
cluster_req_find(struct cluster *cl, uint64_t serial)
{
	struct cluster_req *rq;

	TAILQ_FOREACH(rq, &cl->reqs, link)
		if (rq->serial == serial)
			return rq;
	return NULL;
}

/* Answer the caller of |rq| and forget it. */
static void
cluster_req_done(struct cluster *cl, struct cluster_req *rq)
{
	TAILQ_REMOVE(&cl->reqs, rq, link);
	if (rq->res.status == 0 && rq->one && rq->res.connections == 0) {
		rq->res.status = rq->res.nodes < rq->res.nodes_asked ? 504 :
		    404;
		rq->res.reason = rq->res.status == 504 ?
		    "the connection's node did not answer in time" :
		    "no such WebSocket connection";
	}
	rq->cb.fn(cl->srv, &rq->cb, &rq->res);
	free(rq->cb.name);
	free(rq);
}

static void
cluster_req_tick(struct cluster *cl, uint64_t now)
{
	struct cluster_req *rq, *next;

	for (rq = TAILQ_FIRST(&cl->reqs); rq != NULL; rq = next) {
		next = TAILQ_NEXT(rq, link);
		if (now > rq->deadline)
			cluster_req_done(cl, rq);
	}
}

static int
cluster_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * The next ':'-ended field of [*p, end) as a number (|hex|: base 16).
 * Returns 0 and advances |*p| past the ':', or -1.
 */
static int
cluster_field(const char **p, const char *end, int hex, uint64_t *v)
{
	const char *q = *p;
	int d;

	*v = 0;
	for (; q < end && *q != ':'; q++) {
		if (hex ? (d = cluster_hexval((unsigned char)*q)) < 0 :
		    (*q < '0' || *q > '9'))
			return -1;
		*v = hex ? *v << 4 | (unsigned)d : *v * 10 +
		    (uint64_t)(*q - '0');
	}
	if (q == *p || q == end)
		return -1;
	*p = q + 1;
	return 0;
}

/* PUBLISH |len| bytes of |msg| to |chan| for request |serial| (0: none). */
static int
cluster_ctl_publish(struct cluster *cl, const char *chan, const char *msg,
    size_t len, uint64_t serial)
{
	struct cluster_op *op;
	const char *argv[3] = { "PUBLISH", chan, msg };
	size_t argvlen[3] = { 7, strlen(chan), len };

	if ((op = cluster_op_new(cl, serial != 0 ? OP_CTL : OP_QUIET)) == NULL)
		return -1;
	op->serial = serial;
	return cluster_op_send(op, 3, argv, argvlen);
}

/*
 * Send request |head| + |payload| to node |tag| (or every other node when
 * |tag| is 0), remembering |cb|. Returns 0 or an HTTP status.
 */
static int
cluster_ctl_request(struct cluster *cl, uint32_t tag, char kind,
    const char *args, const char *arg2, size_t arg2_len, const void *payload,
    size_t plen, const struct cluster_result *local,
    const struct cluster_cb *cb, const char **reason)
{
	struct cluster_req *rq;
	char chan[CLUSTER_KEY_MAX], head[64 + CLUSTER_CTL_ARG_MAX], *msg;
	int hlen;

	if (!cl->cmd_up || !cl->sub_up) {
		*reason = "Redis is unreachable: other nodes cannot be reached";
		return 503;
	}
	if ((rq = calloc(1, sizeof(*rq))) == NULL) {
		*reason = "out of memory";
		return 500;
	}
	rq->serial = ++cl->req_next;
	rq->expected = -1;
	rq->one = tag != 0;
	rq->cb = *cb;
	if (local != NULL)
		rq->res = *local;
	rq->deadline = cluster_now_ms() +
	    (uint64_t)(cl->cc->command_timeout * 1000.0);
	hlen = snprintf(head, sizeof(head), "%c:%06" PRIx32 ":%" PRIu64 ":%s",
	    kind, cl->tag, rq->serial, args);
	if (hlen < 0 || (size_t)hlen >= sizeof(head) - arg2_len ||
	    (msg = malloc((size_t)hlen + arg2_len + plen + 1)) == NULL) {
		free(rq);
		*reason = "out of memory";
		return 500;
	}
	memcpy(msg, head, (size_t)hlen);
	if (arg2_len > 0)
		memcpy(msg + hlen, arg2, arg2_len);
	if (plen > 0)
		memcpy(msg + (size_t)hlen + arg2_len, payload, plen);
	if (tag != 0)
		snprintf(chan, sizeof(chan), "%sn:%06" PRIx32, cl->prefix, tag);
	else
		snprintf(chan, sizeof(chan), "%s", cl->all_chan);
	if (cluster_ctl_publish(cl, chan, msg, (size_t)hlen + arg2_len + plen,
	    rq->serial) == -1) {
		free(msg);
		free(rq);
		*reason = "Redis is unreachable: other nodes cannot be reached";
		return 503;
	}
	free(msg);
	TAILQ_INSERT_TAIL(&cl->reqs, rq, link);
	cl->srv->stats.cluster_forwarded++;
	return 0;
}

/* PUBLISH answered: how many nodes got the request. */
static void
cluster_ctl_reply(struct cluster_op *op, redisReply *r)
{
	struct cluster *cl = op->cl;
	struct cluster_req *rq;
	long n;

	if ((rq = cluster_req_find(cl, op->serial)) == NULL)
		return;
	if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
		rq->res.status = 503;
		rq->res.reason = "Redis is unreachable: other nodes cannot be "
		    "reached";
		cluster_req_done(cl, rq);
		return;
	}
	/* Every node's channel reaches us too; we answered ourselves. */
	n = (long)r->integer - (rq->one ? 0 : 1);
	rq->expected = n > 0 ? n : 0;
	rq->res.nodes_asked += (size_t)rq->expected;
	if (rq->res.nodes >= (size_t)rq->expected)
		cluster_req_done(cl, rq);
}

/* The route configured as |path|; a prefix route may omit its star. */
static struct route *
cluster_route(struct server *srv, const char *path, size_t len)
{
	for (size_t i = 0; i < srv->nroutes; i++) {
		const struct config_route *rc = srv->routes[i]->cfg;
		size_t plen = strlen(rc->path);

		if (len == plen && memcmp(path, rc->path, len) == 0)
			return srv->routes[i];
		if (rc->prefix && len == plen + 1 &&
		    memcmp(path, rc->path, plen) == 0 && path[plen] == '*')
			return srv->routes[i];
	}
	return NULL;
}

struct cluster_user_send {
	struct msg	*m;
	size_t		 delivered;
};

static void
cluster_user_send_one(struct conn *c, void *arg)
{
	struct cluster_user_send *us = arg;

	if (conn_send(c, us->m) == 0)
		us->delivered++;
}

/* Do what another node asked, on our connections; the counts found. */
static void
cluster_ctl_exec(struct cluster *cl, int kind, const char *p, const char *end,
    uint64_t *found, uint64_t *delivered)
{
	struct server *srv = cl->srv;
	struct cluster_user_send us;
	char arg[CLUSTER_CTL_ARG_MAX + 1], why[CLUSTER_CTL_ARG_MAX + 1];
	uint64_t id, v, alen;
	struct route *r;
	struct conn *c;

	*found = *delivered = 0;
	switch (kind) {
	case 's':
	case 'k':
		if (cluster_field(&p, end, 1, &id) == -1 ||
		    cluster_field(&p, end, 0, &v) == -1)
			goto bad;
		if ((c = idmap_get(&srv->conns, id)) == NULL ||
		    c->state != CONN_WS)
			return;
		*found = 1;
		if (kind == 's') {
			if (v != WS_OP_TEXT && v != WS_OP_BINARY)
				goto bad;
			*delivered = server_send_one(srv, id, (unsigned)v, p,
			    (size_t)(end - p)) == 0;
			srv->stats.msgs_out += *delivered;
			return;
		}
		if ((size_t)(end - p) > CLUSTER_CTL_ARG_MAX || v > 4999 ||
		    !ws_close_code_valid((unsigned)v))
			goto bad;
		memcpy(why, p, (size_t)(end - p));
		why[end - p] = '\0';
		log_info("conn %016" PRIx64 ": kicked from another node with "
		    "%" PRIu64, id, v);
		conn_close(c, (uint16_t)v, why);
		*delivered = 1;
		return;
	case 'u':
	case 'b':
		if (cluster_field(&p, end, 0, &v) == -1 ||
		    cluster_field(&p, end, 0, &alen) == -1 ||
		    alen > CLUSTER_CTL_ARG_MAX || alen > (uint64_t)(end - p) ||
		    (v != WS_OP_TEXT && v != WS_OP_BINARY))
			goto bad;
		memcpy(arg, p, (size_t)alen);
		arg[alen] = '\0';
		p += alen;
		if (kind == 'b' && (r = cluster_route(srv, arg,
		    (size_t)alen)) == NULL)
			return;
		if ((us.m = msg_frame((unsigned)v, p, (size_t)(end - p))) ==
		    NULL) {
			log_warn("cluster: out of memory for a control message");
			return;
		}
		us.delivered = 0;
		if (kind == 'b') {
			*found = r->nconns;
			us.delivered = route_send_all(r, us.m);
		} else {
			*found = auth_user_foreach(srv, arg,
			    cluster_user_send_one, &us);
			srv->stats.msgs_out += us.delivered;
		}
		*delivered = us.delivered;
		msg_unref(us.m);
		return;
	}
bad:
	log_warn("cluster: malformed control message");
}

/* A message on our control channel or every node's. */
static void
cluster_ctl_on_message(struct cluster *cl, const char *msg, size_t len)
{
	const char *p = msg + 2, *end = msg + len;
	struct cluster_req *rq;
	uint64_t from, serial, a, b;
	char chan[CLUSTER_KEY_MAX], ans[128];
	int n;

	/* cluster_field() needs a ':' after a field; the end stands for it. */
	if (len < 2 || msg[1] != ':' ||
	    cluster_field(&p, end, 1, &from) == -1 ||
	    cluster_field(&p, end, 0, &serial) == -1) {
		log_warn("cluster: malformed control message");
		return;
	}
	if (msg[0] == 'r') {
		if (cluster_field(&p, end, 0, &a) == -1 ||
		    (rq = cluster_req_find(cl, serial)) == NULL)
			return;
		for (b = 0; p < end && *p >= '0' && *p <= '9'; p++)
			b = b * 10 + (uint64_t)(*p - '0');
		rq->res.nodes++;
		rq->res.connections += a;
		rq->res.delivered += b;
		if (rq->expected >= 0 && rq->res.nodes >= (size_t)rq->expected)
			cluster_req_done(cl, rq);
		return;
	}
	/* Our own request to every node comes back to us too. */
	if ((uint32_t)from == cl->tag)
		return;
	cluster_ctl_exec(cl, msg[0], p, end, &a, &b);
	n = snprintf(ans, sizeof(ans), "r:%06" PRIx32 ":%" PRIu64 ":%" PRIu64
	    ":%" PRIu64, cl->tag, serial, a, b);
	snprintf(chan, sizeof(chan), "%sn:%06" PRIx64, cl->prefix, from);
	if (n > 0 && cl->cmd_up)
		cluster_ctl_publish(cl, chan, ans, (size_t)n, 0);
}

int
cluster_send_one(struct cluster *cl, uint64_t id, unsigned opcode,
    const void *data, size_t len, const struct cluster_cb *cb,
    const char **reason)
{
	char args[64];

	snprintf(args, sizeof(args), "%016" PRIx64 ":%u:", id, opcode);
	return cluster_ctl_request(cl, (uint32_t)(id >> 40), 's', args, NULL,
	    0, data, len, NULL, cb, reason);
}

int
cluster_kick(struct cluster *cl, uint64_t id, unsigned code, const char *why,
    const struct cluster_cb *cb, const char **reason)
{
	char args[64];
	size_t wlen = strlen(why);

	if (wlen > CLUSTER_CTL_ARG_MAX) {
		*reason = "close reason too long";
		return 400;
	}
	snprintf(args, sizeof(args), "%016" PRIx64 ":%u:", id, code);
	return cluster_ctl_request(cl, (uint32_t)(id >> 40), 'k', args, NULL,
	    0, why, wlen, NULL, cb, reason);
}

/* A request to every node, naming a user or a route. */
static int
cluster_ctl_named(struct cluster *cl, char kind, const char *name,
    unsigned opcode, const void *data, size_t len,
    const struct cluster_result *local, const struct cluster_cb *cb,
    const char **reason)
{
	char args[64];
	size_t nlen = strlen(name);

	if (nlen > CLUSTER_CTL_ARG_MAX) {
		*reason = kind == 'u' ? "user name too long" :
		    "route path too long";
		return 400;
	}
	snprintf(args, sizeof(args), "%u:%zu:", opcode, nlen);
	return cluster_ctl_request(cl, 0, kind, args, name, nlen, data, len,
	    local, cb, reason);
}

int
cluster_send_user(struct cluster *cl, const char *user, unsigned opcode,
    const void *data, size_t len, const struct cluster_result *local,
    const struct cluster_cb *cb, const char **reason)
{
	return cluster_ctl_named(cl, 'u', user, opcode, data, len, local, cb,
	    reason);
}

int
cluster_broadcast(struct cluster *cl, const char *route, unsigned opcode,
    const void *data, size_t len, const struct cluster_result *local,
    const struct cluster_cb *cb, const char **reason)
{
	return cluster_ctl_named(cl, 'b', route, opcode, data, len, local, cb,
	    reason);
}

/*
 * Presence. Each subscription made or ended is queued and written in the
 * loop turn's batch, pipelined: the channel's presence hash
 * "<prefix>p:{<channel>}" maps a connection id to its user, and the set
 * "<prefix>pn:<tag>" names the channels where this node has entries, so
 * that whoever finds the node gone can remove them.
 */
static void
cluster_pres_queue(struct cluster *cl, enum cluster_pres_kind kind,
    uint64_t id, const char *chan, size_t chan_len, const char *user)
{
	struct cluster_pres *pr;
	size_t ulen = user != NULL ? strlen(user) : 0;

	if (!cl->cmd_up || cl->pres_resend)
		return;		/* all of it is written once Redis is back */
	if ((pr = malloc(sizeof(*pr) + chan_len + ulen)) == NULL) {
		/* Presence would be wrong: write all of it again. */
		cluster_pres_clear(cl);
		cl->pres_resend = 1;
		return;
	}
	pr->next = NULL;
	pr->kind = kind;
	pr->id = id;
	pr->chan_len = chan_len;
	pr->user_len = ulen;
	memcpy(pr->data, chan, chan_len);
	if (ulen > 0)
		memcpy(pr->data + chan_len, user, ulen);
	*cl->pres_tail = pr;
	cl->pres_tail = &pr->next;
	cluster_batch_want(cl);
}

static void
cluster_pres_chan(struct cluster *cl, const char *name, size_t len, int up)
{
	cluster_pres_queue(cl, up ? PRES_CHAN_ADD : PRES_CHAN_DEL, 0, name,
	    len, NULL);
}

static void
cluster_on_subscription(void *arg, struct subscription *s, int up)
{
	struct cluster *cl = arg;

	cluster_pres_queue(cl, up ? PRES_ADD : PRES_DEL, s->conn->id,
	    s->chan->name, s->chan->name_len, up ? ident_conn_user(s->conn) :
	    NULL);
}

static void
cluster_pres_clear(struct cluster *cl)
{
	struct cluster_pres *pr;

	while ((pr = cl->pres) != NULL) {
		cl->pres = pr->next;
		free(pr);
	}
	cl->pres_tail = &cl->pres;
}

/* Send one presence change (pipelined with the others). */
static void
cluster_pres_send(struct cluster *cl, enum cluster_pres_kind kind,
    uint64_t id, const char *chan, size_t chan_len, const char *user,
    size_t user_len)
{
	static const char *const cmds[] = { "HSET", "HDEL", "SADD", "SREM" };
	struct cluster_op *op;
	char key[CLUSTER_KEY_MAX], field[17];
	const char *argv[4];
	size_t argvlen[4];
	int argc = 3;

	if ((op = cluster_op_new(cl, OP_QUIET)) == NULL)
		return;
	argv[0] = cmds[kind];
	argvlen[0] = 4;
	argv[1] = key;
	if (kind == PRES_ADD || kind == PRES_DEL) {
		argvlen[1] = cluster_key(cl, key, "p:", chan, chan_len, 1);
		snprintf(field, sizeof(field), "%016" PRIx64, id);
		argv[2] = field;
		argvlen[2] = 16;
		if (kind == PRES_ADD) {
			argv[3] = user != NULL ? user : "";
			argvlen[3] = user_len;
			argc = 4;
		}
	} else {
		argvlen[1] = (size_t)snprintf(key, sizeof(key), "%spn:%06"
		    PRIx32, cl->prefix, cl->tag);
		argv[2] = chan;
		argvlen[2] = chan_len;
	}
	cluster_op_send(op, argc, argv, argvlen);
}

/* Every local subscription, again: after Redis lost or swept ours. */
static void
cluster_pres_resend(struct cluster *cl)
{
	struct subscription *s;
	struct channel *ch;
	const char *user;

	cl->pres_resend = 0;
	cluster_pres_clear(cl);
	TAILQ_FOREACH(ch, &cl->srv->channels.all, link) {
		if (ch->nsubs == 0)
			continue;
		cluster_pres_send(cl, PRES_CHAN_ADD, 0, ch->name, ch->name_len,
		    NULL, 0);
		for (int m = 0; m < SUB_NLISTS; m++)
			TAILQ_FOREACH(s, &ch->subs[m], chan_link) {
				user = ident_conn_user(s->conn);
				cluster_pres_send(cl, PRES_ADD, s->conn->id,
				    ch->name, ch->name_len, user,
				    user != NULL ? strlen(user) : 0);
			}
	}
}

static void
cluster_pres_flush(struct cluster *cl)
{
	struct cluster_pres *pr;

	if (!cl->cmd_up) {
		cluster_pres_clear(cl);
		return;
	}
	if (cl->pres_resend) {
		cluster_pres_resend(cl);
		return;
	}
	for (pr = cl->pres; pr != NULL; pr = pr->next)
		cluster_pres_send(cl, pr->kind, pr->id, pr->data, pr->chan_len,
		    pr->data + pr->chan_len, pr->user_len);
	cluster_pres_clear(cl);
}

/* Open WebSockets of this node, retired routes included. */
static uint64_t
cluster_websockets(const struct server *srv)
{
	const struct route *r;
	uint64_t n = 0;

	for (size_t i = 0; i < srv->nroutes; i++)
		n += srv->routes[i]->nconns;
	TAILQ_FOREACH(r, &srv->retired, retired_link)
		n += r->nconns;
	return n;
}

static void
cluster_beat(struct cluster *cl)
{
	struct cluster_op *op;
	const char *argv[8];
	char tag[8], ttl[24], info[256];
	const char *name = cl->cc->node_id;

	cl->next_beat = cluster_now_ms() + CLUSTER_BEAT_MS;
	snprintf(tag, sizeof(tag), "%06" PRIx32, cl->tag);
	snprintf(ttl, sizeof(ttl), "%d", CLUSTER_NODE_TTL_MS);
	/* name, WebSockets, users, channels with local subscribers */
	snprintf(info, sizeof(info), "%.64s\t%" PRIu64 "\t%zu\t%zu",
	    name != NULL && name[0] != '\0' ? name : tag,
	    cluster_websockets(cl->srv), auth_user_count(cl->srv),
	    cl->srv->channels.count);
	if ((op = cluster_op_new(cl, OP_BEAT)) == NULL)
		return;
	argv[0] = "EVAL";
	argv[1] = cluster_lua_beat;
	argv[2] = "0";
	argv[3] = cl->prefix;
	argv[4] = tag;
	argv[5] = ttl;
	argv[6] = info;
	argv[7] = cl->beats++ == 0 ? "1" : "0";
	cluster_op_send(op, 8, argv, NULL);
	/*
	 * After an outage every local subscription is written again, behind
	 * the heartbeat (one pipeline, one order), which on our first run
	 * removed what an earlier run of this node left.
	 */
	if (cl->pres_resend)
		cluster_pres_resend(cl);
}

static void
cluster_beat_reply(struct cluster *cl, redisReply *r)
{
	struct cluster_node *nodes;
	size_t n = 0;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1) {
		if (r != NULL && r->type == REDIS_REPLY_ERROR)
			log_warn("cluster: heartbeat: %s", r->str);
		return;
	}
	if (r->element[0]->type == REDIS_REPLY_INTEGER &&
	    r->element[0]->integer == 1 && !cl->pres_resend) {
		log_notice("cluster: this node was taken for gone; writing "
		    "its presence again");
		cl->pres_resend = 1;
		cluster_batch_want(cl);
	}
	if ((nodes = calloc(CLUSTER_NODES_MAX, sizeof(*nodes))) == NULL)
		return;
	for (size_t i = 1; i + 1 < r->elements && n < CLUSTER_NODES_MAX;
	    i += 2) {
		redisReply *t = r->element[i], *v = r->element[i + 1];
		struct cluster_node *nd = &nodes[n];
		unsigned long long a = 0, b = 0, c = 0;
		char *tab;

		if (t->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING)
			continue;
		nd->tag = (uint32_t)strtoul(t->str, NULL, 16);
		nd->self = nd->tag == cl->tag;
		if ((tab = strchr(v->str, '\t')) == NULL)
			continue;
		snprintf(nd->name, sizeof(nd->name), "%.*s",
		    (int)(tab - v->str), v->str);
		if (sscanf(tab + 1, "%llu\t%llu\t%llu", &a, &b, &c) != 3)
			continue;
		nd->websockets = a;
		nd->users = b;
		nd->channels = c;
		n++;
	}
	free(cl->nodes);
	cl->nodes = nodes;
	cl->nnodes = n;
}

size_t
cluster_nodes(const struct cluster *cl, const struct cluster_node **nodes)
{
	*nodes = cl->nodes;
	return cl->nnodes;
}

int
cluster_presence(struct cluster *cl, const char *name, size_t len,
    const struct cluster_cb *cb, const char **reason)
{
	struct cluster_req *rq;
	struct cluster_op *op;
	char key[CLUSTER_KEY_MAX], nodes[CLUSTER_KEY_MAX];
	const char *argv[5];
	size_t argvlen[5];

	if (!cl->cmd_up) {
		*reason = "Redis is unreachable: presence is not known";
		return 503;
	}
	if ((rq = calloc(1, sizeof(*rq))) == NULL ||
	    (op = cluster_op_new(cl, OP_PRESENCE)) == NULL) {
		free(rq);
		*reason = "out of memory";
		return 500;
	}
	rq->serial = op->serial = ++cl->req_next;
	rq->cb = *cb;
	/* The command's own timeout answers it; this is a backstop. */
	rq->deadline = cluster_now_ms() +
	    (uint64_t)(cl->cc->command_timeout * 2000.0);
	argv[0] = "EVAL";
	argv[1] = cluster_lua_presence;
	argv[2] = "2";
	argv[3] = key;
	argvlen[3] = cluster_key(cl, key, "p:", name, len, 1);
	argv[4] = nodes;
	argvlen[4] = (size_t)snprintf(nodes, sizeof(nodes), "%snodes",
	    cl->prefix);
	for (int i = 0; i < 3; i++)
		argvlen[i] = strlen(argv[i]);
	if (cluster_op_send(op, 5, argv, argvlen) == -1) {
		free(rq);
		*reason = "Redis is unreachable: presence is not known";
		return 503;
	}
	TAILQ_INSERT_TAIL(&cl->reqs, rq, link);
	return 0;
}

static void
cluster_presence_reply(struct cluster_op *op, redisReply *r)
{
	struct cluster *cl = op->cl;
	struct cluster_member *m = NULL;
	struct cluster_req *rq;
	size_t n = 0;

	if ((rq = cluster_req_find(cl, op->serial)) == NULL)
		return;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		rq->res.status = 503;
		rq->res.reason = r == NULL ? "Redis is unreachable: presence "
		    "is not known" : "unexpected answer from Redis";
		if (r != NULL && r->type == REDIS_REPLY_ERROR)
			log_warn("cluster: presence: %s", r->str);
	} else if (r->elements > 0 &&
	    (m = calloc(r->elements / 2, sizeof(*m))) == NULL) {
		rq->res.status = 500;
		rq->res.reason = "out of memory";
	} else {
		for (size_t i = 0; i + 1 < r->elements; i += 2) {
			redisReply *f = r->element[i], *v = r->element[i + 1];

			if (f->type != REDIS_REPLY_STRING ||
			    v->type != REDIS_REPLY_STRING)
				continue;
			m[n].id = strtoull(f->str, NULL, 16);
			m[n].user = v->str;
			m[n].user_len = v->len;
			n++;
		}
		rq->res.members = m;
		rq->res.nmembers = n;
		rq->res.connections = n;
	}
	cluster_req_done(cl, rq);
	free(m);
}

struct cluster *
cluster_new(struct server *srv, char **cause)
{
	const struct config_cluster *cc = &srv->cfg->cluster;
	struct timeval tick = { 0, CLUSTER_TICK_MS * 1000 };
	struct cluster *cl;
	uint64_t h;

	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		*cause = strdup("out of memory");
		return NULL;
	}
	cl->srv = srv;
	cl->cfg = server_config_hold(srv->cfg);
	cl->cc = cc;
	snprintf(cl->prefix, sizeof(cl->prefix), "%s", cc->key_prefix);
	cl->prefix_len = strlen(cl->prefix);
	cl->backoff_ms = CLUSTER_BACKOFF_MIN_MS;
	TAILQ_INIT(&cl->ops);
	TAILQ_INIT(&cl->all);
	TAILQ_INIT(&cl->dirty);
	idmap_init(&cl->map);
	evtimer_assign(&cl->retry_ev, srv->base, cluster_on_retry, cl);
	event_assign(&cl->batch_ev, srv->base, -1, 0, cluster_on_batch, cl);
	event_assign(&cl->tick_ev, srv->base, -1, EV_PERSIST, cluster_on_tick,
	    cl);
	event_add(&cl->tick_ev, &tick);
	/*
	 * Connection ids carry 24 bits of their node: from node_id when it
	 * is set, so a node keeps them across restarts, else random.
	 */
	if (cc->node_id != NULL && cc->node_id[0] != '\0') {
		h = cluster_hash(cc->node_id, strlen(cc->node_id));
		srv->id_base = ((h ^ h >> 24 ^ h >> 48) & 0xffffff) << 40;
		if (srv->id_base == 0)
			srv->id_base = (uint64_t)1 << 40;
	}
	cl->tag = (uint32_t)(srv->id_base >> 40);
	snprintf(cl->ctl_chan, sizeof(cl->ctl_chan), "%sn:%06" PRIx32,
	    cl->prefix, cl->tag);
	snprintf(cl->all_chan, sizeof(cl->all_chan), "%sall", cl->prefix);
	TAILQ_INIT(&cl->reqs);
	cl->pres_tail = &cl->pres;
	/* Subscriptions made before Redis is reached are written then. */
	cl->pres_resend = 1;
	srv->channels.hook = cluster_on_channel;
	srv->channels.sub_hook = cluster_on_subscription;
	srv->channels.hook_arg = cl;
	cl->down_since = cluster_now_ms();
	cluster_connect(cl);
	return cl;
}

void
cluster_free(struct cluster *cl)
{
	struct cluster_chan *cc;
	struct cluster_req *rq;

	if (cl == NULL)
		return;
	cl->srv->channels.hook = NULL;
	cl->srv->channels.sub_hook = NULL;
	if (cl->cmd != NULL) {
		cl->cmd->data = NULL;
		redisAsyncFree(cl->cmd);
	}
	if (cl->sub != NULL) {
		cl->sub->data = NULL;
		redisAsyncFree(cl->sub);
	}
	/* Freeing the contexts answered every command; these are left. */
	while (!TAILQ_EMPTY(&cl->ops))
		cluster_op_free(TAILQ_FIRST(&cl->ops));
	/* Callers waiting are left unanswered: the loop is over. */
	while ((rq = TAILQ_FIRST(&cl->reqs)) != NULL) {
		TAILQ_REMOVE(&cl->reqs, rq, link);
		free(rq->cb.name);
		free(rq);
	}
	cluster_pres_clear(cl);
	free(cl->nodes);
	while ((cc = TAILQ_FIRST(&cl->all)) != NULL)
		cluster_chan_free(cc);
	idmap_clear(&cl->map);
	event_del(&cl->tick_ev);
	event_del(&cl->retry_ev);
	event_del(&cl->batch_ev);
	server_config_release(cl->cfg);
	free(cl);
}
