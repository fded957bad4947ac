/* One event loop's state: listeners, routes, connections, timers, flush list. */
#include "autoconf.h"

#include <sys/epoll.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "control/config.h"
#include "hub/engine.h"
#include "hub/handlers.h"
#include "hub/hub.h"
#include "hub/server.h"
#include "proto/frame.h"
#include "proto/pmdeflate.h"
#include "transport/conn.h"
#include "transport/h2.h"
#include "transport/listener.h"
#include "transport/tls.h"
#include "util/log.h"
#include "util/msg.h"

static void	route_free(struct route *);

/* How long accepting stays paused after running out of descriptors. */
#define SERVER_ACCEPT_RETRY_MS	100

uint32_t
server_ticks(double seconds)
{
	if (seconds <= 0)
		return 0;
	return (uint32_t)ceil(seconds * 1000.0 / SERVER_TICK_MS);
}

uint64_t
server_next_id(struct server *srv)
{
	/*
	 * The low 40 bits count connections; the high 24 are random per
	 * process, so ids from a restarted or another node rarely collide.
	 */
	uint64_t id = srv->id_base | (srv->id_next++ & 0xffffffffffULL);

	return id != 0 ? id : server_next_id(srv);
}

void
server_timer_set(struct server *srv, struct conn *c, uint32_t when)
{
	/* A deadline past the wheel's horizon is re-checked when its slot comes. */
	if (when - srv->tick >= SERVER_WHEEL_SLOTS)
		when = srv->tick + SERVER_WHEEL_SLOTS - 1;
	if (when == srv->tick)
		when++;
	if (c->wheel_link.le_prev != NULL)
		LIST_REMOVE(c, wheel_link);
	c->deadline = when;
	LIST_INSERT_HEAD(&srv->wheel[when % SERVER_WHEEL_SLOTS], c, wheel_link);
}

/*
 * The epoll set of the connections is readable: take one batch of events
 * without waiting and hand each to its connection. More than a batch stays
 * ready, so libevent calls again in the next turn, after the flush pass.
 */
static void
server_on_conns(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct epoll_event evs[SERVER_EPOLL_BATCH];
	int n;

	n = epoll_wait(srv->epfd, evs, SERVER_EPOLL_BATCH, 0);
	for (int i = 0; i < n; i++)
		conn_on_event(evs[i].data.ptr, evs[i].events);
}

/*
 * Read the connections that must read on without a new edge. Those put
 * back on the list meanwhile (over their read budget again) wait for the
 * next turn, so one busy connection cannot hold the loop.
 */
static void
server_read_pending(struct server *srv)
{
	struct conn *c, *list = srv->read_pend;

	srv->read_pend = NULL;
	while ((c = list) != NULL) {
		list = c->read_next;
		c->read_next = NULL;
		conn_read_pending(c);
	}
}

static void
server_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct conn_list due;
	struct conn *c;

	srv->tick++;
	if (srv->tick % (1000 / SERVER_TICK_MS) == 0)
		hub_tick(srv);
	/*
	 * Move the slot aside first: conn_timer() may reschedule a conn into
	 * this same slot (one turn later), which must not loop forever.
	 */
	LIST_INIT(&due);
	while ((c = LIST_FIRST(&srv->wheel[srv->tick % SERVER_WHEEL_SLOTS]))) {
		LIST_REMOVE(c, wheel_link);
		LIST_INSERT_HEAD(&due, c, wheel_link);
	}
	while ((c = LIST_FIRST(&due)) != NULL) {
		LIST_REMOVE(c, wheel_link);
		c->wheel_link.le_prev = NULL;
		if (c->deadline != srv->tick)
			server_timer_set(srv, c, c->deadline);
		else
			conn_timer(c);
	}
}

void
server_want_flush(struct server *srv, struct conn *c)
{
	if (c->flags & CONN_F_FLUSH)
		return;
	c->flags |= CONN_F_FLUSH;
	c->flush_next = NULL;
	if (srv->flush_head == NULL)
		srv->flush_head = c;
	else
		srv->flush_tail->flush_next = c;
	srv->flush_tail = c;
}

/*
 * The write pass: every message queued for a connection since its last
 * write goes out in one writev(). It takes at most SERVER_FLUSH_SLICE
 * connections, oldest first, then lets the loop poll again (without
 * waiting) before the next slice: input that arrives while a thousand
 * subscribers are written reaches the ones not yet written in the same
 * round instead of waiting for the whole round to end, which halves the
 * delivery latency under load. Dead connections are freed here, when no
 * callback can hold them, unless still queued for a slice.
 */
static void
server_flush(struct server *srv)
{
	struct route *r, *rnext;
	struct timeval tv;
	struct conn *c, *cnext;
	unsigned n;

	if (srv->flush_head != NULL) {
		/* One clock read per slice: the "write" end of the latencies. */
		gettimeofday(&tv, NULL);
		srv->flush_us = (uint32_t)((uint64_t)tv.tv_sec * 1000000 +
		    (uint64_t)tv.tv_usec);
		srv->in_flush = 1;
	}
	for (n = 0; n < SERVER_FLUSH_SLICE &&
	    (c = srv->flush_head) != NULL; n++) {
		srv->flush_head = c->flush_next;
		c->flags &= ~CONN_F_FLUSH;
		conn_flush(c);
	}
	/* HTTP/2 connections write once all their streams have queued. */
	if (srv->h2 != NULL)
		h2_flush_sessions(srv);
	srv->in_flush = 0;
	for (c = TAILQ_FIRST(&srv->dead); c != NULL; c = cnext) {
		cnext = TAILQ_NEXT(c, route_link);
		if (c->flags & (CONN_F_FLUSH | CONN_F_READ_PEND))
			continue;
		TAILQ_REMOVE(&srv->dead, c, route_link);
		conn_free(c);
	}
	/* A retired route goes with its last connection, never mid-callback. */
	for (r = TAILQ_FIRST(&srv->retired); r != NULL; r = rnext) {
		rnext = TAILQ_NEXT(r, retired_link);
		if (r->nconns > 0)
			continue;
		TAILQ_REMOVE(&srv->retired, r, retired_link);
		log_info("route %s%s retired: its last connection closed",
		    r->cfg->path, r->cfg->prefix ? "*" : "");
		route_free(r);
	}
	if (srv->stopping && srv->nconns == 0)
		srv->done = 1;
}

void
server_pause_accept(struct server *srv, int retry)
{
	if (!srv->accept_paused) {
		for (size_t i = 0; i < srv->nlisteners; i++)
			listener_disable(srv->listeners[i]);
		srv->accept_paused = 1;
		if (!retry)
			log_notice("max_connections (%" PRIu64 ") reached; "
			    "accepting paused", srv->cfg->max_connections);
	}
	if (retry) {
		struct timeval tv = { 0, SERVER_ACCEPT_RETRY_MS * 1000 };

		evtimer_add(&srv->accept_retry_ev, &tv);
	}
}

static void
server_resume_accept(struct server *srv)
{
	if (!srv->accept_paused || srv->stopping)
		return;
	for (size_t i = 0; i < srv->nlisteners; i++)
		listener_enable(srv->listeners[i]);
	srv->accept_paused = 0;
}

static void
server_on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	if (srv->nconns < srv->cfg->max_connections)
		server_resume_accept(srv);
}

void
server_conn_gone(struct server *srv)
{
	if (srv->accept_paused && srv->nconns < srv->cfg->max_connections &&
	    !evtimer_pending(&srv->accept_retry_ev, NULL))
		server_resume_accept(srv);
}

struct route *
server_route_match(struct server *srv, const char *path, size_t len)
{
	struct route *best = NULL;
	size_t bestlen = 0;

	for (size_t i = 0; i < srv->nroutes; i++) {
		struct route *r = srv->routes[i];
		size_t plen = strlen(r->cfg->path);

		if (!r->cfg->prefix) {
			if (plen == len && memcmp(path, r->cfg->path, len) == 0)
				return r;
		} else if (len > plen && memcmp(path, r->cfg->path, plen) == 0 &&
		    plen > bestlen) {
			/* The longest matching prefix wins. */
			best = r;
			bestlen = plen;
		}
	}
	return best;
}

int
server_send_one(struct server *srv, uint64_t id, unsigned opcode,
    const void *data, size_t len)
{
	struct conn *c = idmap_get(&srv->conns, id);

	if (c == NULL || c->state != CONN_WS)
		return -1;
	return conn_send_frame(c, opcode, data, len);
}

size_t
route_send_all(struct route *r, struct msg *m)
{
	struct conn *c;
	size_t n = 0;

	TAILQ_FOREACH(c, &r->conns, route_link)
		if (conn_send(c, m) == 0)
			n++;
	r->srv->stats.msgs_out += n;
	return n;
}

static void
server_on_stop_timer(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct conn *c;

	log_notice("shutdown grace period over; closing %zu connection(s)",
	    srv->nconns);
	for (size_t i = 0; srv->conns.slots != NULL && i <= srv->conns.mask; i++)
		while (srv->conns.slots[i].key != 0) {
			c = srv->conns.slots[i].val;
			conn_destroy(c, "shutdown");
		}
	srv->done = 1;
}

void
server_stop(struct server *srv, double grace)
{
	struct timeval tv;
	struct conn **all;
	size_t n = 0;

	if (srv->stopping)
		return;
	srv->stopping = 1;
	log_notice("shutting down: %zu connection(s), grace %.1fs",
	    srv->nconns, grace);
	if (srv->on_stopping != NULL)
		srv->on_stopping(srv);
	for (size_t i = 0; i < srv->nlisteners; i++)
		listener_disable(srv->listeners[i]);
	/* Collect first: closing may change the id map under the loop. */
	if ((all = calloc(srv->nconns + 1, sizeof(*all))) != NULL) {
		for (size_t i = 0; srv->conns.slots != NULL &&
		    i <= srv->conns.mask; i++)
			if (srv->conns.slots[i].key != 0)
				all[n++] = srv->conns.slots[i].val;
		for (size_t i = 0; i < n; i++) {
			if (all[i]->state == CONN_WS)
				conn_close(all[i], WS_CLOSE_GOING_AWAY,
				    "server shutting down");
			else if (all[i]->io & CONN_IO_H2)
				h2_shutdown(all[i]);	/* its streams, GOAWAY */
			else if (all[i]->state == CONN_HTTP)
				conn_destroy(all[i], "shutdown");
		}
		free(all);
	}
	tv.tv_sec = (time_t)grace;
	tv.tv_usec = (suseconds_t)((grace - (double)tv.tv_sec) * 1e6);
	evtimer_assign(&srv->stop_ev, srv->base, server_on_stop_timer, srv);
	evtimer_add(&srv->stop_ev, &tv);
	if (srv->nconns == 0)
		srv->done = 1;
}

static void
server_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;

	log_notice("received %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	server_stop(srv, srv->cfg->shutdown_timeout);
}

int
server_run(struct server *srv)
{
	/*
	 * Like Redis's beforeSleep: run every ready callback once, then write
	 * a slice of what they queued; while output is left, poll without
	 * waiting, so new input joins the round in progress. The connections'
	 * epoll set is one of the descriptors polled, so that poll sees their
	 * input too; connections that read on without an edge do so before
	 * the flush.
	 */
	while (!srv->done) {
		if (event_base_loop(srv->base, srv->flush_head != NULL ||
		    srv->read_pend != NULL ? EVLOOP_ONCE | EVLOOP_NONBLOCK :
		    EVLOOP_ONCE) == -1)
			return -1;
		server_read_pending(srv);
		server_flush(srv);
	}
	while (srv->flush_head != NULL)
		server_flush(srv);
	return 0;
}

struct config *
server_config_hold(struct config *cfg)
{
	cfg->refs++;
	return cfg;
}

void
server_config_release(struct config *cfg)
{
	if (cfg != NULL && --cfg->refs == 0)
		config_free(cfg);
}

struct route *
route_new(struct server *srv, struct config *cfg, size_t i, char **cause)
{
	struct route *r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		*cause = strdup("out of memory");
		return NULL;
	}
	r->srv = srv;
	r->cfg = &cfg->routes[i];
	TAILQ_INIT(&r->conns);
	if ((r->handler = handler_find(r->cfg->handler)) == NULL) {
		if (asprintf(cause, "route %s: unknown handler '%s'",
		    r->cfg->path, r->cfg->handler) == -1)
			*cause = NULL;
		free(r);
		return NULL;
	}
	if (r->handler->route_init != NULL &&
	    r->handler->route_init(r, cause) == -1) {
		free(r);
		return NULL;
	}
	r->owner = server_config_hold(cfg);
	return r;
}

void
route_repoint(struct route *r, struct config *cfg,
    const struct config_route *rc)
{
	/* Hold the new config before letting go of the old: it may be the same. */
	server_config_hold(cfg);
	server_config_release(r->owner);
	r->owner = cfg;
	r->cfg = rc;
}

static void
route_free(struct route *r)
{
	if (r == NULL)
		return;
	if (r->handler->route_free != NULL)
		r->handler->route_free(r);
	server_config_release(r->owner);
	free(r);
}

void
route_retire(struct route *r)
{
	if (r->nconns == 0) {
		route_free(r);
		return;
	}
	r->retired = 1;
	TAILQ_INSERT_TAIL(&r->srv->retired, r, retired_link);
}

uint32_t
server_now_us(struct server *srv)
{
	struct timeval tv;

	if (srv->in_flush)
		return srv->flush_us;
	event_base_gettimeofday_cached(srv->base, &tv);
	return (uint32_t)((uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec);
}

const uint32_t server_lat_bounds_us[SERVER_LAT_BUCKETS] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
	250000, 1000000, 5000000, UINT32_MAX
};

void
server_latency_sample(struct server *srv, uint32_t us)
{
	size_t i = 0;

	while (i < SERVER_LAT_BUCKETS - 1 && us > server_lat_bounds_us[i])
		i++;
	srv->stats.lat_buckets[i]++;
	srv->stats.lat_count++;
	srv->stats.lat_sum_us += us;
}

void
server_handshake_failed(struct server *srv, int status)
{
	srv->stats.handshakes_failed++;
	if (status >= SERVER_HS_STATUS_MIN && status <= SERVER_HS_STATUS_MAX)
		srv->stats.handshake_status[status - SERVER_HS_STATUS_MIN]++;
	else
		srv->stats.handshake_status[SERVER_HS_STATUS_MAX -
		    SERVER_HS_STATUS_MIN + 1]++;
}

static int
server_routes_init(struct server *srv, char **cause)
{
	struct config *cfg = srv->cfg;

	if ((srv->routes = calloc(cfg->nroutes, sizeof(*srv->routes))) == NULL)
		return -1;
	for (size_t i = 0; i < cfg->nroutes; i++) {
		struct route *r = route_new(srv, cfg, i, cause);

		if (r == NULL)
			return -1;
		srv->routes[srv->nroutes++] = r;
	}
	return 0;
}

struct server *
server_new(struct event_base *base, struct config *cfg,
    struct listener_passed_set *passed, char **cause)
{
	static const int sigs[] = { SIGTERM, SIGINT };
	struct server *srv;
	struct timeval tick = { 0, SERVER_TICK_MS * 1000 };
	uint32_t rnd = 0;

	*cause = NULL;
	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		server_config_release(server_config_hold(cfg));
		goto oom;
	}
	srv->base = base;
	srv->epfd = -1;
	srv->passed = passed;
	srv->cfg = server_config_hold(cfg);
	srv->started = time(NULL);
	TAILQ_INIT(&srv->retired);
	srv->wscfg.role = WS_ROLE_SERVER;
	srv->wscfg.max_frame_size = cfg->max_frame_size;
	srv->wscfg.max_message_size = cfg->max_message_size;
	srv->wscfg.auto_pong = 1;
	idmap_init_keyed(&srv->conns, offsetof(struct conn, id));
	channel_index_init(&srv->channels);
	TAILQ_INIT(&srv->dead);
	for (size_t i = 0; i < SERVER_WHEEL_SLOTS; i++)
		LIST_INIT(&srv->wheel[i]);
	if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1)
		rnd = (uint32_t)getpid() ^ (uint32_t)time(NULL);
	srv->id_base = (uint64_t)(rnd & 0xffffff) << 40;
	srv->id_next = 1;
	if ((srv->rbuf = malloc(SERVER_READ_BUF)) == NULL)
		goto oom;
	if ((srv->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		if (asprintf(cause, "epoll_create1: %s", strerror(errno)) == -1)
			*cause = NULL;
		goto fail;
	}
	event_assign(&srv->conns_ev, base, srv->epfd, EV_READ | EV_PERSIST,
	    server_on_conns, srv);
	event_add(&srv->conns_ev, NULL);
	if (server_routes_init(srv, cause) == -1)
		goto fail;
	if (cfg->cluster.enabled &&
	    (srv->cluster = cluster_new(srv, cause)) == NULL)
		goto fail;
	srv->listeners = calloc(cfg->nlisteners, sizeof(*srv->listeners));
	if (srv->listeners == NULL)
		goto oom;
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		struct listener *l = listener_new(srv, &cfg->listeners[i], cause);

		if (l == NULL)
			goto fail;
		srv->listeners[srv->nlisteners++] = l;
		log_notice("listening on %s", l->name);
	}
	for (size_t i = 0; i < srv->nlisteners; i++)
		listener_enable(srv->listeners[i]);
	evtimer_assign(&srv->accept_retry_ev, base, server_on_accept_retry, srv);
	event_assign(&srv->tick_ev, base, -1, EV_PERSIST, server_on_tick, srv);
	event_add(&srv->tick_ev, &tick);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		srv->sig_evs[i] = evsignal_new(base, sigs[i], server_on_signal, srv);
		if (srv->sig_evs[i] == NULL)
			goto oom;
		evsignal_add(srv->sig_evs[i], NULL);
	}
	return srv;
oom:
	if (*cause == NULL)
		*cause = strdup("out of memory");
fail:
	server_free(srv);
	return NULL;
}

void
server_free(struct server *srv)
{
	struct route *r;
	struct conn *c;

	if (srv == NULL)
		return;
	for (size_t i = 0; srv->conns.slots != NULL && i <= srv->conns.mask; i++)
		while (srv->conns.slots[i].key != 0) {
			c = srv->conns.slots[i].val;
			conn_destroy(c, "exit");
		}
	while ((c = TAILQ_FIRST(&srv->dead)) != NULL) {
		TAILQ_REMOVE(&srv->dead, c, route_link);
		conn_free(c);
	}
	for (size_t i = 0; i < srv->nlisteners; i++)
		listener_free(srv->listeners[i]);
	free(srv->listeners);
	for (size_t i = 0; i < srv->nroutes; i++)
		route_free(srv->routes[i]);
	free(srv->routes);
	while ((r = TAILQ_FIRST(&srv->retired)) != NULL) {
		TAILQ_REMOVE(&srv->retired, r, retired_link);
		route_free(r);
	}
	for (size_t i = 0; i < sizeof(srv->sig_evs) / sizeof(srv->sig_evs[0]); i++)
		if (srv->sig_evs[i] != NULL)
			event_free(srv->sig_evs[i]);
	if (event_initialized(&srv->tick_ev))
		event_del(&srv->tick_ev);
	if (event_initialized(&srv->accept_retry_ev))
		event_del(&srv->accept_retry_ev);
	if (event_initialized(&srv->stop_ev))
		event_del(&srv->stop_ev);
	if (event_initialized(&srv->conns_ev))
		event_del(&srv->conns_ev);
	if (srv->epfd != -1)
		close(srv->epfd);
	/* After the connections, whose subscriptions it is told about. */
	cluster_free(srv->cluster);
	idmap_clear(&srv->conns);
	channel_index_clear(&srv->channels);
	free(srv->rbuf);
	tls_loop_free(srv);
	h2_loop_free(srv);
	for (size_t i = 0; i < sizeof(srv->zshared) / sizeof(srv->zshared[0]); i++)
		pmd_deflater_free(srv->zshared[i]);
	server_config_release(srv->cfg);
	free(srv);
}
