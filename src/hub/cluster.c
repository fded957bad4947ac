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

#include "control/config.h"
#include "hub/channel.h"
#include "hub/engine.h"
#include "hub/handlers.h"
#include "hub/history.h"
#include "hub/hub.h"
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
	OP_SYNC
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
};

static void	cluster_connect(struct cluster *);
static void	cluster_down(struct cluster *, const char *);
static void	cluster_sync_start(struct cluster_chan *);
static void	cluster_batch_want(struct cluster *);

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
	i = 1;
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
	if (cl->cmd_up && now >= cl->next_ping) {
		/* A dead peer that never resets shows as a ping timing out. */
		cl->next_ping = now + CLUSTER_PING_MS;
		if ((op = cluster_op_new(cl, OP_PING)) != NULL)
			cluster_op_send(op, 1, argv, NULL);
	}
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
	srv->channels.hook = cluster_on_channel;
	srv->channels.hook_arg = cl;
	cl->down_since = cluster_now_ms();
	cluster_connect(cl);
	return cl;
}

void
cluster_free(struct cluster *cl)
{
	struct cluster_chan *cc;

	if (cl == NULL)
		return;
	cl->srv->channels.hook = NULL;
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
	while ((cc = TAILQ_FIRST(&cl->all)) != NULL)
		cluster_chan_free(cc);
	idmap_clear(&cl->map);
	event_del(&cl->tick_ev);
	event_del(&cl->retry_ev);
	event_del(&cl->batch_ev);
	server_config_release(cl->cfg);
	free(cl);
}
