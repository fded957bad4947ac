/* Channels: the two-way index between channels and subscribers, sequence numbers, history. */
#ifndef WSH_HUB_CHANNEL_H
#define WSH_HUB_CHANNEL_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include "hub/history.h"
#include "util/idmap.h"

struct cluster_chan;
struct conn;
struct msg;
struct server;

/* Channel names: 1..CHANNEL_NAME_MAX bytes of [A-Za-z0-9_.:@=+-]. */
#define CHANNEL_NAME_MAX	128

/* How a subscriber gets a channel's messages. */
enum sub_mode {
	SUB_RAW,		/* the payload alone, as published */
	SUB_JSON,		/* a wshub.v1 "message" envelope */
	SUB_NMODES
};

/*
 * A subscription waiting for its channel to be in step with the engine
 * (cluster.c) sits in a list of its own, SUB_PENDING + mode, which a
 * publish does not walk; channel_sub_activate() moves it to its mode's.
 */
#define SUB_PENDING	SUB_NMODES
#define SUB_NLISTS	(2 * SUB_NMODES)

/*
 * A connection's subscriptions form a list headed by a subscription its
 * owner embeds in its own state (most connections subscribe to one
 * channel, which then costs no allocation of its own). The head is
 * "vacant" (|chan| NULL) when not in use; the others are allocated and
 * follow it. The list index of a subscription in its channel (enum
 * sub_mode, + SUB_PENDING while pending) sits in the two low bits of
 * |next_mode|, since a subscription is at least 4-byte aligned: a mode
 * byte of its own would pad it from 40 bytes to 48, and a 64-byte malloc
 * chunk instead of 48.
 */
struct subscription {
	struct conn		*conn;
	struct channel		*chan;		/* NULL: a vacant head */
	TAILQ_ENTRY(subscription) chan_link;	/* the channel's subscribers */
	uintptr_t		 next_mode;	/* the connection's next | list */
};

#define SUB_LIST_MASK	((uintptr_t)3)

_Static_assert(SUB_NLISTS <= SUB_LIST_MASK + 1, "list index takes 2 bits");
_Static_assert(_Alignof(struct subscription) > SUB_LIST_MASK,
    "subscriptions leave 2 low address bits free");

TAILQ_HEAD(subscription_list, subscription);
TAILQ_HEAD(channel_list, channel);

/*
 * A channel lives while it has subscribers or history. Its subscribers are
 * kept in one list per mode, so a publish walks each list in a tight loop
 * handing every subscriber the one frame of its mode.
 */
struct channel {
	struct channel_index	*index;
	uint64_t		 hash;
	struct channel		*hash_next;	/* names whose hashes collide */
	TAILQ_ENTRY(channel)	 link;		/* the index's list of all */
	struct subscription_list subs[SUB_NLISTS];
	size_t			 nsubs;		/* pending ones included */
	struct cluster_chan	*cl;		/* the Redis engine's state */
	uint64_t		 seq;		/* last sequence number published */
	uint64_t		 epoch;		/* random, chosen at creation */
	struct history		 hist;
	struct history_limits	 lim;
	size_t			 name_len;
	char			 name[];	/* NUL-terminated */
};

struct channel_index {
	struct idmap		 map;		/* name hash -> channel chain */
	struct channel_list	 all;
	size_t			 count;
	/*
	 * Told when a channel gets its first subscriber (|up| = 1) and
	 * loses its last (0): the Redis engine subscribes to what local
	 * clients want. NULL on a single node.
	 */
	void			(*hook)(void *, struct channel *, int up);
	void			*hook_arg;
	/*
	 * Told of every subscription made (|up| = 1) and ended (0), before
	 * it is freed: the Redis engine keeps the channel's presence across
	 * nodes. NULL on a single node.
	 */
	void			(*sub_hook)(void *, struct subscription *, int up);
};

void	channel_index_init(struct channel_index *ix);

/* Free every channel left (subscriptions must be gone) with its history. */
void	channel_index_clear(struct channel_index *ix);

/* Whether |name| is a valid channel name. */
int	channel_name_valid(const char *name, size_t len);

/*
 * The channel named |name|, created when |create| is set (with sequence
 * number 0, a new random epoch and no history until the caller sets
 * |lim|); NULL when missing, or out of memory.
 */
struct channel *channel_get(struct channel_index *ix, const char *name,
	    size_t len, int create);

/* Whether |ch| has neither subscribers nor history, so it may be freed. */
static inline int
channel_unused(const struct channel *ch)
{
	return ch->nsubs == 0 && ch->hist.count == 0;
}

/* Free |ch| if it is unused; returns 1 when it was freed. */
int	channel_release(struct channel *ch);

/* Make |head| an empty list of a connection's subscriptions. */
void	channel_subs_init(struct subscription *head);

/* The next subscription after |s| in its connection's list, or NULL. */
static inline struct subscription *
channel_sub_next(const struct subscription *s)
{
	return (struct subscription *)(s->next_mode & ~SUB_LIST_MASK);
}

/* The list of its channel that |s| is in: SUB_RAW ... SUB_NLISTS - 1. */
static inline unsigned
channel_sub_list(const struct subscription *s)
{
	return (unsigned)(s->next_mode & SUB_LIST_MASK);
}

/*
 * Walk the subscriptions of the list headed by |head|, newest first:
 * for (s = channel_subs_first(head); s != NULL;
 *     s = channel_subs_next(head, s)). The head, the oldest or a vacant
 * one filled again, comes last.
 */
static inline struct subscription *
channel_subs_first(struct subscription *head)
{
	struct subscription *s = channel_sub_next(head);

	return s != NULL ? s : head->chan != NULL ? head : NULL;
}

static inline struct subscription *
channel_subs_next(struct subscription *head, const struct subscription *s)
{
	struct subscription *n;

	if (s == head)
		return NULL;
	n = channel_sub_next(s);
	return n != NULL ? n : head->chan != NULL ? head : NULL;
}

/*
 * Subscribe |c| to |ch| in |mode| in the list headed by |head|: in the
 * head itself when it is vacant, else in a new subscription. Returns 0,
 * 1 when already subscribed, -1 when out of memory.
 */
int	channel_subscribe_mode(struct channel *ch, struct conn *c,
	    enum sub_mode mode, struct subscription *head);

/* channel_subscribe_mode() in raw mode. */
int	channel_subscribe(struct channel *ch, struct conn *c,
	    struct subscription *head);

/*
 * Drop the subscription to |ch| from the list headed by |head| (the head
 * is left vacant, the others are freed) and free the channel if it is
 * left unused. Returns 0, or -1 when there was none.
 */
int	channel_unsubscribe(struct channel *ch, struct subscription *head);

/*
 * Drop every subscription of the list headed by |head|, which is left
 * empty; frees channels left unused.
 */
void	channel_unsubscribe_all(struct subscription *head);

/* The subscription to |ch| in the list headed by |head|, or NULL. */
struct subscription *channel_find_sub(struct subscription *head,
	    const struct channel *ch);

/*
 * Publish |len| bytes of |data| as a text or binary (|opcode|) message at
 * time |now| (ms): give it the next sequence number, keep it in the
 * history and queue it for every subscriber. The raw frame is built once,
 * the JSON envelope once and only when JSON subscribers exist; every
 * subscriber gets a reference, never a copy. Stores the sequence number in
 * |*seq| and returns how many subscribers it was queued for, or -1 when out
 * of memory (nothing was published).
 */
long	channel_publish(struct channel *ch, unsigned opcode, const void *data,
	    size_t len, uint64_t now, uint64_t *seq);

/*
 * channel_publish() with sequence number |seq| given by someone else (the
 * Redis engine, where numbers are global): the channel moves to |seq|.
 */
long	channel_publish_at(struct channel *ch, uint64_t seq, unsigned opcode,
	    const void *data, size_t len, uint64_t now);

/* Move pending subscription |s| to the list its mode's publishes walk. */
void	channel_sub_activate(struct subscription *s);

/* Whether |s| waits in a pending list. */
static inline int
channel_sub_pending(const struct subscription *s)
{
	return channel_sub_list(s) >= SUB_PENDING;
}

/*
 * The wshub.v1 "message" envelope frame for held entry |e| of |ch|, built
 * for a replay; NULL when out of memory.
 */
struct msg *channel_envelope(const struct channel *ch,
	    const struct history_entry *e);

/*
 * The outcome of a recovery request: whether every message after |seq| of
 * epoch |epoch| can be replayed (CHANNEL_RECOVER_OK, with the index of the
 * first held entry to send in |*first|; h->count when nothing was missed),
 * or why not. Expires aged history at |now| first.
 */
enum channel_recover {
	CHANNEL_RECOVER_OK,
	CHANNEL_RECOVER_EPOCH,		/* the epoch changed: history was lost */
	CHANNEL_RECOVER_AHEAD,		/* |seq| was never published */
	CHANNEL_RECOVER_TOO_OLD		/* history does not reach back */
};

enum channel_recover channel_recover_check(struct channel *ch, uint64_t epoch,
	    uint64_t seq, uint64_t now, uint32_t *first);

/* A short text for a recovery outcome ("epoch changed", ...). */
const char *channel_recover_reason(enum channel_recover r);

#endif
