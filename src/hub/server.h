/* One event loop's state: listeners, routes, connections, timers, flush list. */
#ifndef WSH_HUB_SERVER_H
#define WSH_HUB_SERVER_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "hub/channel.h"
#include "proto/session.h"
#include "util/idmap.h"

struct admin;
struct auth;
struct cluster;
struct notify;
struct config;
struct config_route;
struct conn;
struct h2_loop;
struct handler;
struct listener;
struct listener_passed_set;
struct msg;
struct pmd_deflater;

/* Timer resolution and wheel size: 100 ms ticks, about 51 s per turn. */
#define SERVER_TICK_MS		100
#define SERVER_WHEEL_SLOTS	512

/* Seconds to wait for a peer's close frame or FIN after ours. */
#define SERVER_CLOSE_TIMEOUT_S	3

/* Connections written per flush slice before the loop polls again. */
#define SERVER_FLUSH_SLICE	64

/* Connection events taken from the epoll set per wakeup. */
#define SERVER_EPOLL_BATCH	256

/* Largest read from a socket in one go, and per connection per loop turn. */
#define SERVER_READ_BUF		(64 * 1024)

/* Buckets of the publish-to-write latency histogram (server_lat_bounds_us). */
#define SERVER_LAT_BUCKETS	14

/* Handshake refusals are counted per status 400..431; others under 500. */
#define SERVER_HS_STATUS_MIN	400
#define SERVER_HS_STATUS_MAX	431

TAILQ_HEAD(conn_tailq, conn);
LIST_HEAD(conn_list, conn);

/*
 * A route lives as long as a connection uses it, which may be longer than
 * the config that made it: a reload re-points |cfg| of a route whose path
 * is still configured, and retires a removed one, which keeps serving its
 * connections until the last closes. |owner| is the config |cfg| points
 * into; the route holds a reference to it.
 */
struct route {
	struct server		*srv;
	const struct config_route *cfg;
	struct config		*owner;
	const struct handler	*handler;
	struct conn_tailq	 conns;		/* open WebSockets on this route */
	size_t			 nconns;
	void			*hstate;	/* the handler's route state */
	int			 retired;	/* gone from the config */
	TAILQ_ENTRY(route)	 retired_link;
};

TAILQ_HEAD(route_tailq, route);

struct server_stats {
	uint64_t	 accepted;
	uint64_t	 handshakes_ok;
	uint64_t	 handshakes_failed;
	uint64_t	 handshake_status[SERVER_HS_STATUS_MAX -
			    SERVER_HS_STATUS_MIN + 2];	/* last: 5xx */
	uint64_t	 msgs_in;
	uint64_t	 bytes_in;
	uint64_t	 bytes_out;		/* written to sockets */
	uint64_t	 msgs_out;		/* deliveries queued */
	uint64_t	 slow_kicks;		/* slow consumers disconnected */
	uint64_t	 drops;			/* queued messages dropped */
	uint64_t	 auth_allowed;		/* requests the plugin let in */
	uint64_t	 auth_denied;		/* requests it refused */
	uint64_t	 auth_timeouts;		/* decisions not made in time */
	uint64_t	 auth_expired;		/* WebSockets closed 4401 */
	uint64_t	 authz_denied;		/* subscribes, publishes, API calls
						   outside the permissions */
	uint64_t	 origin_denied;		/* handshakes refused for Origin */
	/* permessage-deflate: compressions made, and deliveries of them. */
	uint64_t	 deflate_msgs;		/* messages compressed */
	uint64_t	 deflate_bytes_in;	/* payload bytes before */
	uint64_t	 deflate_bytes_out;	/* payload bytes after */
	uint64_t	 deflate_deliveries;	/* compressed frames queued */
	uint64_t	 inflate_msgs;		/* compressed messages received */
	uint64_t	 inflate_bytes_in;	/* their payload bytes on the wire */
	uint64_t	 inflate_bytes_out;	/* and once inflated */
	uint64_t	 reloads;		/* configs applied */
	uint64_t	 reload_failures;	/* configs refused */
	uint64_t	 lat_buckets[SERVER_LAT_BUCKETS];	/* per bucket, not cumulative */
	uint64_t	 lat_count;
	uint64_t	 lat_sum_us;
	/* The Redis engine (cluster.c); all 0 on a single node. */
	uint64_t	 cluster_up;		/* gauge: 1 while Redis is usable */
	uint64_t	 cluster_connects;	/* connections made (first and re-) */
	uint64_t	 cluster_outages;	/* connections lost or timed out */
	uint64_t	 cluster_publish_errors;	/* publishes refused or failed */
	uint64_t	 cluster_msgs_in;	/* messages received from Redis */
	uint64_t	 cluster_resyncs;	/* channel syncs after a loss or gap */
	uint64_t	 cluster_gaps;		/* gaps subscribers were told of */
	uint64_t	 cluster_forwarded;	/* sendOne/kick/broadcast sent on */
};

struct server {
	struct event_base	*base;
	struct config		*cfg;

	struct listener		**listeners;
	size_t			 nlisteners;
	struct listener_passed_set *passed;	/* sockets from systemd, or NULL */
	struct route		**routes;	/* those of the current config */
	size_t			 nroutes;
	struct route_tailq	 retired;	/* removed, still with conns */

	struct idmap		 conns;		/* id -> conn, every live conn */
	size_t			 nconns;
	uint64_t		 id_base;	/* random high bits of every id */
	uint64_t		 id_next;

	/*
	 * Connections with output to write, first queued first written: the
	 * flush pass takes a slice of them per loop turn (see server_run()).
	 */
	struct conn		*flush_head;
	struct conn		*flush_tail;
	struct conn_tailq	 dead;		/* freed after this loop turn */

	/*
	 * Connection sockets are not libevent's: they sit, edge-triggered,
	 * in this epoll set, which sits in libevent's loop as one readable
	 * descriptor (see server_on_conns()). |read_pend| lists connections
	 * to read again in this turn without a new edge: resumed after a
	 * pause, or stopped by the per-turn read budget.
	 */
	int			 epfd;
	struct event		 conns_ev;
	struct conn		*read_pend;

	struct event		 tick_ev;
	uint32_t		 tick;
	struct conn_list	 wheel[SERVER_WHEEL_SLOTS];

	int			 accept_paused;
	struct event		 accept_retry_ev;
	int			 stopping;
	int			 done;
	struct event		 stop_ev;
	struct event		*sig_evs[3];

	struct channel_index	 channels;	/* pubsub channels by name */
	struct cluster		*cluster;	/* Redis engine, NULL = single node */
	struct ws_session_config wscfg;		/* shared by every session */
	struct auth		*auth;		/* NULL: no authentication */

	uint8_t			*rbuf;		/* shared read buffer */
	uint8_t			*tls_wbuf;	/* TLS record scratch (tls.c) */
	struct h2_loop		*h2;		/* HTTP/2 write state (h2.c) */
	/*
	 * The compressors that make the shared compressed form of a message
	 * (no context takeover), one per window size, made when first needed.
	 */
	struct pmd_deflater	*zshared[16];
	struct server_stats	 stats;

	int			 in_flush;	/* server_flush() is running */
	uint32_t		 flush_us;	/* its clock, see server_now_us() */
	time_t			 started;	/* wall clock at server_new() */

	/*
	 * Set by the control layer, which the hub never calls directly: the
	 * admin socket, and a hook run once when a shutdown begins.
	 */
	struct admin		*admin;
	struct notify		*notify;
	void			(*on_stopping)(struct server *);
};

/* Upper bounds of the latency buckets in microseconds, for metrics. */
extern const uint32_t server_lat_bounds_us[SERVER_LAT_BUCKETS];

/*
 * Create the loop state for |cfg|, which it takes a reference to (see
 * server_config_hold()): binds every listener, or takes its socket from
 * |passed| (not owned; may be NULL), and sets up routes. Returns NULL and a
 * malloc'd |*cause| on failure.
 */
struct server *server_new(struct event_base *base, struct config *cfg,
	    struct listener_passed_set *passed, char **cause);
void	server_free(struct server *srv);

/* Run the loop until server_stop() has finished draining. */
int	server_run(struct server *srv);

/*
 * Begin a graceful shutdown: stop accepting, send close 1001 to every
 * WebSocket and exit the loop once all are gone or |grace| seconds passed.
 */
void	server_stop(struct server *srv, double grace);

/* The route serving |path|, or NULL. */
struct route *server_route_match(struct server *srv, const char *path,
	    size_t len);

/*
 * sendOne: queue a data message for connection |id|. Returns 0, or -1 when
 * there is no such open WebSocket.
 */
int	server_send_one(struct server *srv, uint64_t id, unsigned opcode,
	    const void *data, size_t len);

/*
 * sendAll: queue the frame |m| (one reference is taken per receiver; the
 * caller keeps its own) for every open WebSocket on |r|. Returns the number
 * of connections it was queued for.
 */
size_t	route_send_all(struct route *r, struct msg *m);

/* Ask for |c| to be written in this loop turn's flush pass. */
void	server_want_flush(struct server *srv, struct conn *c);

/* Schedule |c|'s timer check at tick |when|. */
void	server_timer_set(struct server *srv, struct conn *c, uint32_t when);

/* Seconds to ticks, rounded up; 0 stays 0. */
uint32_t server_ticks(double seconds);

/*
 * Stop accepting: at max_connections (|retry| = 0, resumed when a
 * connection closes) or when out of descriptors (|retry| = 1, resumed by a
 * timer).
 */
void	server_pause_accept(struct server *srv, int retry);

/* A connection went away: resume accepting if it was paused at the limit. */
void	server_conn_gone(struct server *srv);

/*
 * Configs are shared by the server (its current one) and by the routes
 * whose options point into them, so a reload can swap the config while
 * connections on old routes keep valid pointers. Take a reference; drop
 * one, freeing the config with the last.
 */
struct config *server_config_hold(struct config *cfg);
void	server_config_release(struct config *cfg);

/*
 * A route for |cfg|->routes[|i|] (which must outlive it: a reference to
 * |cfg| is taken). Returns NULL and a malloc'd |*cause| on failure.
 */
struct route *route_new(struct server *srv, struct config *cfg, size_t i,
	    char **cause);

/* Point |r| at |rc| of config |cfg| (same path and handler) instead. */
void	route_repoint(struct route *r, struct config *cfg,
	    const struct config_route *rc);

/*
 * Take |r| out of service: it keeps its connections, and is freed in the
 * flush pass once the last has gone (at once when it has none). The caller
 * removes it from srv->routes.
 */
void	route_retire(struct route *r);

/*
 * Wall-clock microseconds (wrapping), cheap: libevent's cached time of
 * this loop turn inside callbacks, one clock read per flush pass outside.
 */
uint32_t server_now_us(struct server *srv);

/* Record a publish-to-write latency of |us| microseconds. */
void	server_latency_sample(struct server *srv, uint32_t us);

/* Count a refused handshake with HTTP status |status|. */
void	server_handshake_failed(struct server *srv, int status);

/* Allocate a new connection id, unique in this process and unlikely to clash across nodes. */
uint64_t server_next_id(struct server *srv);

#endif
