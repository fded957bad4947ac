/* The hub's entry points for publishers: the HTTP API, the admin socket, clients. */
#ifndef WSH_HUB_HUB_H
#define WSH_HUB_HUB_H

#include <stddef.h>
#include <stdint.h>

struct channel;
struct server;

/* What a publish did. */
struct hub_publish_result {
	uint64_t	 seq;		/* sequence number given to the message */
	uint64_t	 epoch;		/* the channel's epoch */
	size_t		 delivered;	/* subscribers it was queued for; with
					   Redis, the nodes it was sent to */
	const char	*channel;	/* its name (not NUL-terminated) */
	size_t		 channel_len;
};

/*
 * Where the result of a publish goes when it comes later (the Redis
 * engine answers asynchronously): |fn| is called once with |status| 0 and
 * |res|, or an HTTP status and a static |reason|. |cookie| and |arg| are
 * the caller's, such as a connection id (the connection may be gone by
 * then, so it is looked up again) and something to free.
 */
struct hub_publish_cb {
	void		(*fn)(struct server *, const struct hub_publish_cb *,
			    int status, const char *reason,
			    const struct hub_publish_result *res);
	uint64_t	 cookie;
	void		*arg;
};

/* hub_publish_async() returns this when |cb| will get the result. */
#define HUB_PUBLISH_LATER	1

/* A snapshot of one channel, valid until the loop runs again. */
struct hub_channel_info {
	const char	*name;
	size_t		 name_len;
	size_t		 subscribers;
	uint64_t	 seq;		/* last sequence number */
	uint64_t	 epoch;
	size_t		 history_count;	/* messages held for recovery */
	size_t		 history_bytes;
	uint64_t	 history_first_seq;	/* oldest held, 0 when empty */
};

/*
 * Publish |dlen| bytes of |data| as a text or binary (|opcode|) message on
 * channel |name|: give it the next sequence number, keep it in the history
 * and queue it for every subscriber. Returns 0, or an HTTP status with a
 * static |*reason|: 400 for an invalid channel name, 413 for a message over
 * max_message_size, 500 when out of memory.
 */
int	hub_publish(struct server *srv, const char *name, size_t len,
	    unsigned opcode, const void *data, size_t dlen,
	    struct hub_publish_result *res, const char **reason);

/*
 * hub_publish() for callers that can wait: on a single node it returns 0
 * with |res| filled at once; with the Redis engine it returns
 * HUB_PUBLISH_LATER and |cb| gets the result. An error status is returned
 * at once either way (503: Redis is unreachable).
 */
int	hub_publish_async(struct server *srv, const char *name, size_t len,
	    unsigned opcode, const void *data, size_t dlen,
	    const struct hub_publish_cb *cb, struct hub_publish_result *res,
	    const char **reason);

/*
 * Whether a new subscriber to |ch| can be served its position and
 * recovery now: always on a single node; with Redis once the channel is
 * in step (see cluster_chan_ready()).
 */
int	hub_channel_ready(const struct server *srv, const struct channel *ch);

/* Fill |info| for channel |name|. Returns 0, or -1 when it does not exist. */
int	hub_channel_info(struct server *srv, const char *name, size_t len,
	    struct hub_channel_info *info);

/* Call |fn| for every channel, in no particular order. */
void	hub_channels_foreach(struct server *srv,
	    void (*fn)(void *, const struct hub_channel_info *), void *arg);

/*
 * Called about once a second (server_on_tick): expire old history and free
 * channels left with neither subscribers nor history.
 */
void	hub_tick(struct server *srv);

/*
 * For the hub's own handlers. The clock of history ages, in milliseconds:
 * the loop's tick, so a publish costs no system call.
 */
uint64_t hub_now(const struct server *srv);

/*
 * The channel named |name| (already validated), created when |create| is
 * set with the history limits the config gives that name (the first
 * matching `channels` pattern, else the top-level history options). NULL
 * when it does not exist or, with |create|, when out of memory.
 */
struct channel *hub_channel(struct server *srv, const char *name, size_t len,
	    int create);

/*
 * Publish on existing channel |ch| (no validation) and count the
 * deliveries. Returns 0, or -1 when out of memory or, with Redis, when it
 * is unreachable. The caller frees an unused channel afterwards
 * (channel_release()). With Redis the message is only sent there and
 * |res|, when not NULL, has no sequence number yet (0).
 */
int	hub_channel_publish(struct server *srv, struct channel *ch,
	    unsigned opcode, const void *data, size_t dlen,
	    struct hub_publish_result *res);

/* Epochs as text: 16 lowercase hex digits. */
#define HUB_EPOCH_HEXLEN	16

/*
 * The config changed (a reload): give every channel the history limits the
 * new srv->cfg sets for its name.
 */
void	hub_reconfigure(struct server *srv);

#endif
