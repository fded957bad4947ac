/* Live reload: re-read the config file and apply it without dropping a connection. */
#include "autoconf.h"

#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "control/admin.h"
#include "control/auth.h"
#include "control/config.h"
#include "control/notify.h"
#include "control/reload.h"
#include "hub/handlers.h"
#include "hub/hub.h"
#include "hub/server.h"
#include "transport/listener.h"
#include "transport/tls.h"
#include "util/log.h"

/* What a reload did, gathered as it goes. */
struct reload_report {
	json_t		*applied;	/* option or object names */
	json_t		*new_only;	/* applied to new connections only */
	json_t		*not_applied;	/* { "what", "why" } */
};

static void
reload_not(struct reload_report *rep, const char *what, const char *why)
{
	log_warn("reload: %s not applied: %s", what, why);
	json_array_append_new(rep->not_applied, json_pack("{s:s, s:s}",
	    "what", what, "why", why));
}

static void
reload_option(void *arg, const char *name, enum config_reload how)
{
	struct reload_report *rep = arg;

	switch (how) {
	case CONFIG_RELOAD_LIVE:
		json_array_append_new(rep->applied, json_string(name));
		break;
	case CONFIG_RELOAD_NEW:
		json_array_append_new(rep->new_only, json_string(name));
		break;
	case CONFIG_RELOAD_RESTART:
		reload_not(rep, name, "needs a restart: privileges are dropped "
		    "once, at startup");
		break;
	}
}

/* The route of the current config serving the same path as |rc|, or NULL. */
static struct route *
reload_find_route(struct server *srv, const struct config_route *rc,
    const char *const *taken)
{
	for (size_t i = 0; i < srv->nroutes; i++) {
		struct route *r = srv->routes[i];

		if (taken[i] == NULL && r->cfg->prefix == rc->prefix &&
		    strcmp(r->cfg->path, rc->path) == 0)
			return r;
	}
	return NULL;
}

/* Whether |ncfg| still has a route for the path of |rc|. */
static int
reload_path_stays(const struct config *ncfg, const struct config_route *rc)
{
	for (size_t i = 0; i < ncfg->nroutes; i++)
		if (ncfg->routes[i].prefix == rc->prefix &&
		    strcmp(ncfg->routes[i].path, rc->path) == 0)
			return 1;
	return 0;
}

static char *
reload_route_name(const struct config_route *rc, char *buf, size_t len)
{
	snprintf(buf, len, "route %s%s", rc->path, rc->prefix ? "*" : "");
	return buf;
}

/*
 * Work out the new route array: a route whose path and handler stay is
 * kept (its connections keep their pointer and see the new options), any
 * other gets a new route. Nothing is changed until reload_routes_commit().
 */
static struct route **
reload_routes_plan(struct server *srv, struct config *ncfg, const char **taken,
    char **cause)
{
	struct route **nr;

	if ((nr = calloc(ncfg->nroutes, sizeof(*nr))) == NULL) {
		*cause = strdup("out of memory");
		return NULL;
	}
	for (size_t i = 0; i < ncfg->nroutes; i++) {
		const struct config_route *rc = &ncfg->routes[i];
		struct route *old = reload_find_route(srv, rc, taken);

		if (old != NULL && strcmp(old->handler->name, rc->handler) == 0) {
			for (size_t j = 0; j < srv->nroutes; j++)
				if (srv->routes[j] == old)
					taken[j] = "kept";
			nr[i] = old;
			continue;
		}
		if ((nr[i] = route_new(srv, ncfg, i, cause)) == NULL) {
			/* Undo: free only the routes made here. */
			for (size_t j = 0; j < i; j++)
				if (nr[j]->owner == ncfg)
					route_retire(nr[j]);
			free(nr);
			return NULL;
		}
	}
	return nr;
}

static void
reload_routes_commit(struct server *srv, struct config *ncfg,
    struct route **nr, const char **taken, struct reload_report *rep)
{
	char name[300], why[200];

	for (size_t i = 0; i < ncfg->nroutes; i++) {
		if (nr[i]->owner != ncfg)
			route_repoint(nr[i], ncfg, &ncfg->routes[i]);
		else if (reload_find_route(srv, &ncfg->routes[i], taken) !=
		    NULL) {
			snprintf(why, sizeof(why), "the handler changed to %s: "
			    "new connections get it, open ones keep the old",
			    ncfg->routes[i].handler);
			json_array_append_new(rep->new_only, json_string(
			    reload_route_name(&ncfg->routes[i], name,
			    sizeof(name))));
			log_notice("reload: %s: %s", name, why);
		} else {
			json_array_append_new(rep->applied, json_sprintf(
			    "%s added", reload_route_name(&ncfg->routes[i],
			    name, sizeof(name))));
			log_notice("reload: %s added", name);
		}
	}
	for (size_t i = 0; i < srv->nroutes; i++) {
		struct route *r = srv->routes[i];

		if (taken[i] != NULL)
			continue;
		reload_route_name(r->cfg, name, sizeof(name));
		if (!reload_path_stays(ncfg, r->cfg))
			json_array_append_new(rep->applied, json_sprintf(
			    "%s removed (its %zu open connection(s) stay until "
			    "they close)", name, r->nconns));
		log_notice("reload: %s retired with %zu open connection(s); "
		    "they stay until they close", name, r->nconns);
		route_retire(r);
	}
	free(srv->routes);
	srv->routes = nr;
	srv->nroutes = ncfg->nroutes;
}

/*
 * Listeners: keep those whose address stays (re-pointed at the new
 * config), close removed ones (open connections are not theirs), bind new
 * ones. A listener that cannot be bound is reported, the rest applies.
 */
static void
reload_listeners(struct server *srv, struct config *ncfg,
    struct reload_report *rep)
{
	struct listener **nl;
	size_t n = 0;
	char *cause = NULL, what[128];
	int *kept;

	nl = calloc(ncfg->nlisteners + srv->nlisteners, sizeof(*nl));
	kept = calloc(srv->nlisteners + 1, sizeof(*kept));
	if (nl == NULL || kept == NULL) {
		reload_not(rep, "listeners", "out of memory");
		free(nl);
		free(kept);
		return;
	}
	for (size_t i = 0; i < ncfg->nlisteners; i++) {
		const struct config_listener *lc = &ncfg->listeners[i];
		struct listener *l = NULL;

		for (size_t j = 0; j < srv->nlisteners; j++)
			if (!kept[j] && listener_same(srv->listeners[j], lc)) {
				kept[j] = 1;
				l = srv->listeners[j];
				break;
			}
		if (l != NULL) {
			if (lc->reuseport != l->cfg->reuseport) {
				snprintf(what, sizeof(what), "listener %s "
				    "reuseport", l->name);
				reload_not(rep, what, "a bound socket keeps its "
				    "SO_REUSEPORT; restart to change it");
			}
			if (lc->backlog != l->cfg->backlog && l->passed == NULL)
				listen(l->fd, lc->backlog);
			/* Certificates are read again; open conns keep theirs. */
			if (tls_reload(l, lc, &cause) == -1) {
				snprintf(what, sizeof(what), "listener %s TLS",
				    l->name);
				reload_not(rep, what, cause != NULL ? cause :
				    "out of memory");
				free(cause);
				cause = NULL;
			}
			l->cfg = lc;
			nl[n++] = l;
			continue;
		}
		if ((l = listener_new(srv, lc, &cause)) == NULL) {
			snprintf(what, sizeof(what), "listener %s port %d",
			    lc->address, lc->port);
			reload_not(rep, what, cause != NULL ? cause :
			    "out of memory");
			free(cause);
			cause = NULL;
			continue;
		}
		if (!srv->accept_paused && !srv->stopping)
			listener_enable(l);
		log_notice("reload: listening on %s", l->name);
		json_array_append_new(rep->applied, json_sprintf(
		    "listening on %s", l->name));
		nl[n++] = l;
	}
	for (size_t j = 0; j < srv->nlisteners; j++) {
		struct listener *l = srv->listeners[j];

		if (kept[j])
			continue;
		log_notice("reload: no longer listening on %s", l->name);
		json_array_append_new(rep->applied, json_sprintf(
		    "no longer listening on %s", l->name));
		listener_free(l);
	}
	free(srv->listeners);
	free(kept);
	srv->listeners = nl;
	srv->nlisteners = n;
	if (n == 0)
		log_warn("reload: no listener is open");
}

int
reload_run(struct server *srv, json_t **report, char **cause)
{
	struct reload_report rep;
	struct config *ncfg, *old = srv->cfg;
	struct route **nr;
	const char **taken;
	char *not_admin = NULL;

	*report = NULL;
	*cause = NULL;
	notify_reloading(srv->notify);
	log_notice("reloading %s", old->file);
	if (config_load(old->file, &ncfg, cause) == -1) {
		srv->stats.reload_failures++;
		log_err("reload failed, still running on the old configuration: "
		    "%s", *cause != NULL ? *cause : "out of memory");
		notify_ready(srv->notify);
		return -1;
	}
	server_config_hold(ncfg);
	/*
	 * The authenticator may refuse the whole reload (a plugin that fails
	 * to load or to re-read its keys); the old plugin then stays.
	 */
	if (auth_reload(srv, ncfg, cause) == -1) {
		srv->stats.reload_failures++;
		log_err("reload failed, still running on the old configuration: "
		    "%s", *cause != NULL ? *cause : "out of memory");
		server_config_release(ncfg);
		notify_ready(srv->notify);
		return -1;
	}
	rep.applied = json_array();
	rep.new_only = json_array();
	rep.not_applied = json_array();
	taken = calloc(srv->nroutes + 1, sizeof(*taken));
	if (rep.applied == NULL || rep.new_only == NULL ||
	    rep.not_applied == NULL || taken == NULL ||
	    (nr = reload_routes_plan(srv, ncfg, taken, cause)) == NULL) {
		if (*cause == NULL)
			*cause = strdup("out of memory");
		srv->stats.reload_failures++;
		log_err("reload failed, still running on the old configuration: "
		    "%s", *cause != NULL ? *cause : "out of memory");
		free(taken);
		json_decref(rep.applied);
		json_decref(rep.new_only);
		json_decref(rep.not_applied);
		server_config_release(ncfg);
		notify_ready(srv->notify);
		return -1;
	}

	/* From here on nothing fails as a whole: each part applies or says why. */
	config_diff(old, ncfg, reload_option, &rep);
	admin_reconfigure(srv, ncfg, &not_admin);
	for (char *line = not_admin, *nl; line != NULL && *line != '\0';
	    line = nl + 1) {
		char *colon;

		if ((nl = strchr(line, '\n')) == NULL)
			break;
		*nl = '\0';
		if ((colon = strstr(line, ": ")) != NULL) {
			*colon = '\0';
			reload_not(&rep, line, colon + 2);
		} else
			reload_not(&rep, "admin", line);
	}
	free(not_admin);
	reload_routes_commit(srv, ncfg, nr, taken, &rep);
	free(taken);
	reload_listeners(srv, ncfg, &rep);
	srv->cfg = ncfg;
	/* Every session reads its limits from here, so they apply at once. */
	srv->wscfg.max_frame_size = ncfg->max_frame_size;
	srv->wscfg.max_message_size = ncfg->max_message_size;
	server_config_release(old);
	log_set_level(ncfg->log_level);
	hub_reconfigure(srv);
	/* A larger max_connections may let a paused accept go on. */
	server_conn_gone(srv);
	srv->stats.reloads++;
	log_notice("reload done: %zu change(s) applied, %zu for new connections "
	    "only, %zu not applied", json_array_size(rep.applied),
	    json_array_size(rep.new_only), json_array_size(rep.not_applied));
	*report = json_pack("{s:s, s:o, s:o, s:o}", "config", ncfg->file,
	    "applied", rep.applied, "new_connections_only", rep.new_only,
	    "not_applied", rep.not_applied);
	notify_ready(srv->notify);
	return 0;
}

static void
reload_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	json_t *report = NULL;
	char *cause = NULL;

	log_notice("received SIGHUP");
	if (srv->stopping)
		return;
	if (reload_run(srv, &report, &cause) == -1)
		free(cause);
	json_decref(report);
}

int
reload_on_sighup(struct server *srv)
{
	struct event *ev;

	/* The server frees every event of sig_evs; its last slot is ours. */
	if ((ev = evsignal_new(srv->base, SIGHUP, reload_on_signal, srv)) ==
	    NULL)
		return -1;
	srv->sig_evs[2] = ev;
	return evsignal_add(ev, NULL);
}
