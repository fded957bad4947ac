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

#endif

#endif
