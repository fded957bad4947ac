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
	size_t		 delivered;	/* subscribers it was queued for */
};

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
 * deliveries. Returns 0, or -1 when out of memory. The caller frees an
 * unused channel afterwards (channel_release()).
 */
int	hub_channel_publish(struct server *srv, struct channel *ch,
	    unsigned opcode, const void *data, size_t dlen,
	    struct hub_publish_result *res);

/* Epochs as text: 16 lowercase hex digits. */
#define HUB_EPOCH_HEXLEN	16

#endif
