/* The engine seam: a publish is served here (local) or by Redis (cluster.c), and channels kept in step. */
#ifndef WSH_HUB_ENGINE_H
#define WSH_HUB_ENGINE_H

#include <stddef.h>
#include <stdint.h>

struct channel;
struct cluster;
struct history_limits;
struct hub_publish_cb;
struct server;

/* One subscriber of a channel somewhere in the cluster (presence). */
struct cluster_member {
	uint64_t	 id;		/* its connection id; the node is id >> 40 */
	const char	*user;		/* "" when anonymous */
	size_t		 user_len;
};

/*
 * What a request to other nodes found, summed over the nodes that
 * answered. |status| is 0, or an HTTP status with a static |reason|: 404
 * when the node of an id is not running or has no such connection, 504
 * when it did not answer within command_timeout, 503 when Redis is down.
 */
struct cluster_result {
	int				 status;
	const char			*reason;
	size_t				 nodes_asked;	/* other nodes reached */
	size_t				 nodes;		/* of them, answered */
	size_t				 connections;	/* connections found */
	size_t				 delivered;	/* messages queued, or
							   connections closed */
	const struct cluster_member	*members;	/* presence only */
	size_t				 nmembers;
};

/*
 * Where a result goes: |fn| once, later. The rest is the caller's: a
 * |cookie| such as the id of the connection to answer (looked up again:
 * it may be gone), what the answer names, and |name|, malloc'd or NULL,
 * which the engine frees after calling |fn| (the caller does when the
 * request is refused at once).
 */
struct cluster_cb {
	void		(*fn)(struct server *, const struct cluster_cb *,
			    const struct cluster_result *);
	uint64_t	 cookie;
	uint64_t	 id;
	unsigned	 code;
	char		*name;
};

/* A node as its last heartbeat described it. */
struct cluster_node {
	uint32_t	 tag;		/* the high 24 bits of its ids */
	char		 name[64];	/* node_id, or its tag in hex */
	uint64_t	 websockets;
	uint64_t	 users;
	uint64_t	 channels;
	int		 self;
};

/* Whether connection id |id| was given by another node than ours. */
#define CLUSTER_ID_REMOTE(srv, id) \
	((srv)->cluster != NULL && (((id) ^ (srv)->id_base) >> 40) != 0)

/*
 * The local engine is the hub's own code (hub.c, channel.c): a publish is
 * numbered, kept and fanned out in the same call. The Redis engine numbers
 * and keeps a message in Redis and fans it out when it comes back through
 * Redis pub/sub, on every node alike. srv->cluster is NULL on a single
 * node, which is all the hub ever tests: without --with-redis the calls
 * below are empty inlines and cost nothing.
 */
#ifdef HAVE_HIREDIS

/*
 * Start the Redis engine for srv->cfg's cluster section: connects in the
 * background (a node runs, and serves local connections, while Redis is
 * unreachable). Returns NULL and a malloc'd |*cause| on failure.
 */
struct cluster *cluster_new(struct server *srv, char **cause);
void	cluster_free(struct cluster *cl);

/*
 * Publish on channel |name| through Redis with history limits |lim|. The
 * result reaches |cb| (when not NULL) once Redis answers, never before
 * this returns. Returns 0, or 503 with a static |*reason| when Redis is
 * unreachable (nothing was sent and |cb| is not called).
 */
int	cluster_publish(struct cluster *cl, const char *name, size_t len,
	    unsigned opcode, const void *data, size_t dlen,
	    const struct history_limits *lim, const struct hub_publish_cb *cb,
	    const char **reason);

/*
 * Whether |ch| is in step with Redis, so a new subscriber can be served
 * its position and recovery at once; otherwise it waits, pending, for the
 * handler's synced() call.
 */
int	cluster_chan_ready(const struct channel *ch);

/*
 * Act on connections of other nodes through their control channels:
 * queue a message for connection |id| (sendOne), close it with |code| and
 * |reason| (kick), queue a message for every connection of |user| or of
 * the route configured as |route| (sendAll) on every other node. |local|,
 * when not NULL, is what this node did itself, added to the result. Each
 * returns 0 and calls |cb| once the nodes answered or the wait
 * (command_timeout) is over, never before returning; or an HTTP status
 * (503: Redis is unreachable) with a static |*reason|, |cb| not called.
 */
int	cluster_send_one(struct cluster *cl, uint64_t id, unsigned opcode,
	    const void *data, size_t len, const struct cluster_cb *cb,
	    const char **reason);
int	cluster_kick(struct cluster *cl, uint64_t id, unsigned code,
	    const char *why, const struct cluster_cb *cb, const char **reason);
int	cluster_send_user(struct cluster *cl, const char *user,
	    unsigned opcode, const void *data, size_t len,
	    const struct cluster_result *local, const struct cluster_cb *cb,
	    const char **reason);
int	cluster_broadcast(struct cluster *cl, const char *route,
	    unsigned opcode, const void *data, size_t len,
	    const struct cluster_result *local, const struct cluster_cb *cb,
	    const char **reason);

/*
 * Who is subscribed to channel |name| on every running node: |cb| gets
 * the members (valid during the call). Same returns as above.
 */
int	cluster_presence(struct cluster *cl, const char *name, size_t len,
	    const struct cluster_cb *cb, const char **reason);

/*
 * The running nodes as of the last heartbeat (every second), this one
 * included; sets |*nodes| to an array valid until the loop runs again.
 */
size_t	cluster_nodes(const struct cluster *cl,
	    const struct cluster_node **nodes);

#else

static inline struct cluster *
cluster_new(struct server *srv, char **cause)
{
	return NULL;
}

static inline void
cluster_free(struct cluster *cl)
{
}

static inline int
cluster_publish(struct cluster *cl, const char *name, size_t len,
    unsigned opcode, const void *data, size_t dlen,
    const struct history_limits *lim, const struct hub_publish_cb *cb,
    const char **reason)
{
	*reason = "built without Redis support";
	return 503;
}

static inline int
cluster_chan_ready(const struct channel *ch)
{
	return 1;
}

static inline int
cluster_send_one(struct cluster *cl, uint64_t id, unsigned opcode,
    const void *data, size_t len, const struct cluster_cb *cb,
    const char **reason)
{
	*reason = "built without Redis support";
	return 503;
}

static inline int
cluster_kick(struct cluster *cl, uint64_t id, unsigned code, const char *why,
    const struct cluster_cb *cb, const char **reason)
{
	*reason = "built without Redis support";
	return 503;
}

static inline int
cluster_send_user(struct cluster *cl, const char *user, unsigned opcode,
    const void *data, size_t len, const struct cluster_result *local,
    const struct cluster_cb *cb, const char **reason)
{
	*reason = "built without Redis support";
	return 503;
}

static inline int
cluster_broadcast(struct cluster *cl, const char *route, unsigned opcode,
    const void *data, size_t len, const struct cluster_result *local,
    const struct cluster_cb *cb, const char **reason)
{
	*reason = "built without Redis support";
	return 503;
}

static inline int
cluster_presence(struct cluster *cl, const char *name, size_t len,
    const struct cluster_cb *cb, const char **reason)
{
	*reason = "built without Redis support";
	return 503;
}

static inline size_t
cluster_nodes(const struct cluster *cl, const struct cluster_node **nodes)
{
	*nodes = NULL;
	return 0;
}

#endif

#endif
