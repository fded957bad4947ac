/* One event loop's state: listeners, routes, connections, timers, flush list. */
#ifndef WSH_HUB_SERVER_H
#define WSH_HUB_SERVER_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "hub/channel.h"
#include "proto/session.h"
#include "util/idmap.h"

struct config;
struct config_route;
struct conn;
struct handler;
struct listener;
struct msg;

/* Timer resolution and wheel size: 100 ms ticks, about 51 s per turn. */
#define SERVER_TICK_MS		100
#define SERVER_WHEEL_SLOTS	512

/* Seconds to wait for a peer's close frame or FIN after ours. */
#define SERVER_CLOSE_TIMEOUT_S	3

/* Largest read from a socket in one go. */
#define SERVER_READ_BUF		(64 * 1024)

TAILQ_HEAD(conn_tailq, conn);
LIST_HEAD(conn_list, conn);

struct route {
	struct server		*srv;
	const struct config_route *cfg;
	const struct handler	*handler;
	struct conn_tailq	 conns;		/* open WebSockets on this route */
	size_t			 nconns;
	void			*hstate;	/* the handler's route state */
};

struct server_stats {
	uint64_t	 accepted;
	uint64_t	 handshakes_ok;
	uint64_t	 handshakes_failed;
	uint64_t	 msgs_in;
	uint64_t	 bytes_in;
	uint64_t	 msgs_out;		/* deliveries queued */
	uint64_t	 slow_kicks;		/* slow consumers disconnected */
	uint64_t	 drops;			/* queued messages dropped */
};

struct server {
	struct event_base	*base;
	struct config		*cfg;

	struct listener		**listeners;
	size_t			 nlisteners;
	struct route		*routes;
	size_t			 nroutes;

	struct idmap		 conns;		/* id -> conn, every live conn */
	size_t			 nconns;
	uint64_t		 id_base;	/* random high bits of every id */
	uint64_t		 id_next;

	struct conn		*flush_head;	/* conns with output to write */
	struct conn_tailq	 dead;		/* freed after this loop turn */

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
	struct ws_session_config wscfg;		/* shared by every session */

	uint8_t			*rbuf;		/* shared read buffer */
	struct server_stats	 stats;
};

/*
 * Create the loop state for |cfg| (not owned): binds every listener and sets
 * up routes. Returns NULL and a malloc'd |*cause| on failure.
 */
struct server *server_new(struct event_base *base, struct config *cfg,
	    char **cause);
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

/* Allocate a new connection id, unique in this process and unlikely to clash across nodes. */
uint64_t server_next_id(struct server *srv);

#endif
