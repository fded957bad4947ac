/* Channels: the two-way index between channels and their subscribers. */
#ifndef WSH_HUB_CHANNEL_H
#define WSH_HUB_CHANNEL_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include "util/idmap.h"

struct conn;
struct msg;
struct server;

/* Channel names: 1..CHANNEL_NAME_MAX bytes of [A-Za-z0-9_.:@=+-]. */
#define CHANNEL_NAME_MAX	128

struct subscription {
	struct conn		*conn;
	struct channel		*chan;
	TAILQ_ENTRY(subscription) chan_link;	/* the channel's subscribers */
	struct subscription	*conn_next;	/* the connection's channels */
};

TAILQ_HEAD(subscription_list, subscription);

struct channel {
	struct channel_index	*index;
	uint64_t		 hash;
	struct channel		*hash_next;	/* names whose hashes collide */
	struct subscription_list subs;
	size_t			 nsubs;
	uint64_t		 seq;		/* last sequence number published */
	size_t			 name_len;
	char			 name[];
};

struct channel_index {
	struct idmap		 map;		/* name hash -> channel chain */
	size_t			 count;
};

void	channel_index_init(struct channel_index *ix);
void	channel_index_clear(struct channel_index *ix);

/* Whether |name| is a valid channel name. */
int	channel_name_valid(const char *name, size_t len);

/* The channel named |name|, created when |create| is set; NULL otherwise. */
struct channel *channel_get(struct channel_index *ix, const char *name,
	    size_t len, int create);

/*
 * Subscribe |c| to |ch|, linking the subscription at the head of
 * |*conn_subs|. Returns 0, 1 when already subscribed, -1 when out of memory.
 */
int	channel_subscribe(struct channel *ch, struct conn *c,
	    struct subscription **conn_subs);

/* Drop every subscription in |*conn_subs|; frees channels left empty. */
void	channel_unsubscribe_all(struct subscription **conn_subs);

/*
 * Queue |m| for every subscriber of |ch| (one shared reference each) and
 * return how many it reached.
 */
size_t	channel_publish(struct channel *ch, struct msg *m);

#endif
