/* Channels: the two-way index between channels and subscribers, sequence numbers, history. */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "hub/channel.h"
#include "proto/envelope.h"
#include "proto/frame.h"
#include "transport/conn.h"
#include "util/msg.h"

void
channel_index_init(struct channel_index *ix)
{
	idmap_init(&ix->map);
	TAILQ_INIT(&ix->all);
	ix->count = 0;
	ix->hook = NULL;
	ix->hook_arg = NULL;
	ix->sub_hook = NULL;
}

void
channel_index_clear(struct channel_index *ix)
{
	struct channel *ch;

	/* Subscriptions are gone by now; channels may still hold history. */
	while ((ch = TAILQ_FIRST(&ix->all)) != NULL) {
		TAILQ_REMOVE(&ix->all, ch, link);
		history_clear(&ch->hist);
		free(ch);
	}
	idmap_clear(&ix->map);
	ix->count = 0;
}

int
channel_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > CHANNEL_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("_.:@=+-", ch) != NULL) ||
		    ch == '\0')
			return 0;
	}
	return 1;
}

/* FNV-1a, then never 0 (the id map reserves it). */
static uint64_t
channel_hash(const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 0x100000001b3ULL;
	}
	return h != 0 ? h : 1;
}

/*
 * A new epoch. It only has to differ from every earlier epoch of the same
 * channel name, here or on a restarted daemon, so a random 64-bit value
 * does; 0 is avoided so that it never looks unset.
 */
static uint64_t
channel_new_epoch(const struct channel *ch)
{
	uint64_t e = 0;

	if (RAND_bytes((unsigned char *)&e, sizeof(e)) != 1) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		e = ((uint64_t)ts.tv_sec << 30 ^ (uint64_t)ts.tv_nsec) *
		    0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)ch;
	}
	return e != 0 ? e : 1;
}

struct channel *
channel_get(struct channel_index *ix, const char *name, size_t len,
    int create)
{
	uint64_t h = channel_hash(name, len);
	struct channel *head, *ch;

	head = idmap_get(&ix->map, h);
	for (ch = head; ch != NULL; ch = ch->hash_next)
		if (ch->name_len == len && memcmp(ch->name, name, len) == 0)
			return ch;
	if (!create)
		return NULL;
	if ((ch = calloc(1, sizeof(*ch) + len + 1)) == NULL)
		return NULL;
	ch->index = ix;
	ch->hash = h;
	ch->name_len = len;
	memcpy(ch->name, name, len);
	for (int i = 0; i < SUB_NLISTS; i++)
		TAILQ_INIT(&ch->subs[i]);
	history_init(&ch->hist);
	ch->epoch = channel_new_epoch(ch);
	ch->hash_next = head;
	if (idmap_put(&ix->map, h, ch) == -1) {
		free(ch);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&ix->all, ch, link);
	ix->count++;
	return ch;
}

static void
channel_free(struct channel *ch)
{
	struct channel_index *ix = ch->index;
	struct channel *head = idmap_get(&ix->map, ch->hash), **pp;

	if (head == ch) {
		if (ch->hash_next != NULL)
			idmap_put(&ix->map, ch->hash, ch->hash_next);
		else
			idmap_del(&ix->map, ch->hash);
	} else {
		for (pp = &head->hash_next; *pp != ch; pp = &(*pp)->hash_next)
			;
		*pp = ch->hash_next;
	}
	TAILQ_REMOVE(&ix->all, ch, link);
	ix->count--;
	history_clear(&ch->hist);
	free(ch);
}

int
channel_release(struct channel *ch)
{
	if (!channel_unused(ch))
		return 0;
	channel_free(ch);
	return 1;
}

void
channel_subs_init(struct subscription *head)
{
	head->conn = NULL;
	head->chan = NULL;
	head->next_mode = 0;
}

/* Point |s| at |next| in its connection's list, keeping its list index. */
static inline void
channel_sub_set_next(struct subscription *s, struct subscription *next)
{
	s->next_mode = (uintptr_t)next | (s->next_mode & SUB_LIST_MASK);
}

static inline void
channel_sub_set_list(struct subscription *s, unsigned list)
{
	s->next_mode = (s->next_mode & ~SUB_LIST_MASK) | list;
}

struct subscription *
channel_find_sub(struct subscription *head, const struct channel *ch)
{
	struct subscription *s;

	/* A vacant head has no channel, so it never matches. */
	for (s = head; s != NULL; s = channel_sub_next(s))
		if (s->chan == ch)
			return s;
	return NULL;
}

int
channel_subscribe(struct channel *ch, struct conn *c,
    struct subscription *head)
{
	return channel_subscribe_mode(ch, c, SUB_RAW, head);
}

int
channel_subscribe_mode(struct channel *ch, struct conn *c, enum sub_mode mode,
    struct subscription *head)
{
	struct subscription *s;

	if (channel_find_sub(head, ch) != NULL)
		return 1;
	if (head->chan == NULL)
		s = head;
	else {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return -1;
		/* Newest first after the head, as a plain list would be. */
		channel_sub_set_next(s, channel_sub_next(head));
		channel_sub_set_next(head, s);
	}
	s->conn = c;
	s->chan = ch;
	channel_sub_set_list(s, (unsigned)mode);
	TAILQ_INSERT_TAIL(&ch->subs[mode], s, chan_link);
	ch->nsubs++;
	if (ch->nsubs == 1 && ch->index->hook != NULL)
		ch->index->hook(ch->index->hook_arg, ch, 1);
	if (ch->index->sub_hook != NULL)
		ch->index->sub_hook(ch->index->hook_arg, s, 1);
	return 0;
}

void
channel_sub_activate(struct subscription *s)
{
	struct channel *ch = s->chan;
	unsigned list = channel_sub_list(s);

	if (!channel_sub_pending(s))
		return;
	TAILQ_REMOVE(&ch->subs[list], s, chan_link);
	list -= SUB_PENDING;
	channel_sub_set_list(s, list);
	TAILQ_INSERT_TAIL(&ch->subs[list], s, chan_link);
}

/*
 * Unlink |s|, already off its connection's list unless it is |head|,
 * from its channel; free it (a head is left vacant instead) and the
 * channel if it is left unused.
 */
static void
channel_sub_free(struct subscription *s, struct subscription *head)
{
	struct channel *ch = s->chan;

	if (ch->index->sub_hook != NULL)
		ch->index->sub_hook(ch->index->hook_arg, s, 0);
	TAILQ_REMOVE(&ch->subs[channel_sub_list(s)], s, chan_link);
	ch->nsubs--;
	if (s == head) {
		s->conn = NULL;
		s->chan = NULL;
		channel_sub_set_list(s, 0);
	} else
		free(s);
	if (ch->nsubs == 0 && ch->index->hook != NULL)
		ch->index->hook(ch->index->hook_arg, ch, 0);
	/* A channel lives while it has subscribers or history. */
	channel_release(ch);
}

int
channel_unsubscribe(struct channel *ch, struct subscription *head)
{
	struct subscription *prev, *s;

	if (head->chan == ch) {
		channel_sub_free(head, head);
		return 0;
	}
	for (prev = head; (s = channel_sub_next(prev)) != NULL; prev = s)
		if (s->chan == ch) {
			channel_sub_set_next(prev, channel_sub_next(s));
			channel_sub_free(s, head);
			return 0;
		}
	return -1;
}

void
channel_unsubscribe_all(struct subscription *head)
{
	struct subscription *s;

	/* Newest first, the head last, as the walk goes. */
	while ((s = channel_sub_next(head)) != NULL) {
		channel_sub_set_next(head, channel_sub_next(s));
		channel_sub_free(s, head);
	}
	if (head->chan != NULL)
		channel_sub_free(head, head);
}

/* The envelope frame of message |seq|, tagged like the raw frame. */
static struct msg *
channel_envelope_build(const struct channel *ch, uint64_t seq,
    unsigned opcode, const uint8_t *data, size_t len)
{
	int binary = opcode == WS_OP_BINARY;
	struct msg *m;
	uint8_t *p;
	size_t n;

	n = envelope_message_size(ch->name, ch->name_len, seq, binary, data,
	    len);
	if (n == SIZE_MAX || (m = msg_frame_alloc_channel(WS_OP_TEXT, n, &p,
	    ch->name, ch->name_len, seq)) == NULL)
		return NULL;
	envelope_message_write(p, ch->name, ch->name_len, seq, ch->epoch,
	    binary, data, len);
	return m;
}

struct msg *
channel_envelope(const struct channel *ch, const struct history_entry *e)
{
	const struct msg *m = e->msg;

	return channel_envelope_build(ch, m->seq, e->opcode,
	    m->data + (m->len - e->plen), e->plen);
}

long
channel_publish(struct channel *ch, unsigned opcode, const void *data,
    size_t len, uint64_t now, uint64_t *seq)
{
	*seq = ch->seq + 1;
	return channel_publish_at(ch, *seq, opcode, data, len, now);
}

long
channel_publish_at(struct channel *ch, uint64_t next, unsigned opcode,
    const void *data, size_t len, uint64_t now)
{
	struct subscription *s;
	struct msg *m, *jm = NULL;
	uint8_t *p;
	long n = 0;

	if ((m = msg_frame_alloc_channel(opcode, len, &p, ch->name,
	    ch->name_len, next)) == NULL)
		return -1;
	if (len > 0)
		memcpy(p, data, len);
	if (!TAILQ_EMPTY(&ch->subs[SUB_JSON]) &&
	    (jm = channel_envelope_build(ch, next, opcode, p, len)) == NULL) {
		msg_unref(m);
		return -1;
	}
	ch->seq = next;
	/*
	 * Without room in the history the message is still delivered; the
	 * history is emptied instead, so a later recovery reports the gap.
	 */
	history_add(&ch->hist, m, opcode, len, now, &ch->lim);
	TAILQ_FOREACH(s, &ch->subs[SUB_RAW], chan_link)
		if (conn_send(s->conn, m) == 0)
			n++;
	if (jm != NULL) {
		TAILQ_FOREACH(s, &ch->subs[SUB_JSON], chan_link)
			if (conn_send(s->conn, jm) == 0)
				n++;
		msg_unref(jm);
	}
	msg_unref(m);
	return n;
}

enum channel_recover
channel_recover_check(struct channel *ch, uint64_t epoch, uint64_t seq,
    uint64_t now, uint32_t *first)
{
	if (epoch != ch->epoch)
		return CHANNEL_RECOVER_EPOCH;
	if (seq > ch->seq)
		return CHANNEL_RECOVER_AHEAD;
	history_expire(&ch->hist, now, &ch->lim);
	if (seq == ch->seq) {
		*first = ch->hist.count;
		return CHANNEL_RECOVER_OK;
	}
	if (!history_after(&ch->hist, seq, first) ||
	    history_last_seq(&ch->hist) != ch->seq)
		return CHANNEL_RECOVER_TOO_OLD;
	return CHANNEL_RECOVER_OK;
}

const char *
channel_recover_reason(enum channel_recover r)
{
	switch (r) {
	case CHANNEL_RECOVER_OK:
		return "ok";
	case CHANNEL_RECOVER_EPOCH:
		return "epoch changed";
	case CHANNEL_RECOVER_AHEAD:
		return "sequence number ahead of the channel";
	case CHANNEL_RECOVER_TOO_OLD:
		return "history does not reach back";
	}
	return "?";
}
