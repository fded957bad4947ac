/* Talking to the service manager: readiness, reload, stop, status, watchdog and passed sockets. */
#include "autoconf.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "control/notify.h"
#include "hub/server.h"
#include "transport/listener.h"
#include "util/log.h"

/* How often the STATUS line is refreshed, in seconds. */
#define NOTIFY_STATUS_INTERVAL_S	5

struct notify {
	struct server	*srv;
	int		 on;		/* NOTIFY_SOCKET is set */
	struct event	 wd_ev;		/* WATCHDOG=1 at half the interval */
	struct event	 status_ev;
	int		 wd_on;
};

int
notify_supported(void)
{
#ifdef HAVE_LIBSYSTEMD
	return 1;
#else
	return 0;
#endif
}

int
notify_passed(struct listener_passed_set *set)
{
	set->v = NULL;
	set->n = 0;
#ifdef HAVE_LIBSYSTEMD
	char **names = NULL;
	int n;

	/* Unset the variables: children must not think the fds are theirs. */
	if ((n = sd_listen_fds_with_names(1, &names)) < 0) {
		log_warn("sd_listen_fds: %s", strerror(-n));
		return 0;
	}
	if (n > 0 && (set->v = calloc((size_t)n, sizeof(*set->v))) == NULL) {
		log_err("out of memory for %d passed sockets", n);
		n = 0;
	}
	for (int i = 0; i < n; i++) {
		struct listener_passed *p = &set->v[i];

		p->fd = SD_LISTEN_FDS_START + i;
		fcntl(p->fd, F_SETFD, FD_CLOEXEC);
		if (names != NULL && names[i] != NULL &&
		    strcmp(names[i], "unknown") != 0)
			snprintf(p->name, sizeof(p->name), "%s", names[i]);
		set->n++;
	}
	if (names != NULL) {
		for (char **s = names; *s != NULL; s++)
			free(*s);
		free(names);
	}
	if (set->n > 0)
		log_info("systemd passed %zu socket(s)", set->n);
	return (int)set->n;
#else
	if (getenv("LISTEN_FDS") != NULL)
		log_warn("sockets passed by systemd are ignored: wshubd was "
		    "built without libsystemd");
	return 0;
#endif
}

void
notify_passed_report(const struct listener_passed_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		if (!set->v[i].used)
			log_warn("socket passed by systemd (fd %d%s%s) matches "
			    "no listener and no admin socket", set->v[i].fd,
			    set->v[i].name[0] != '\0' ? ", name " : "",
			    set->v[i].name);
}

void
notify_passed_free(struct listener_passed_set *set)
{
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

#ifdef HAVE_LIBSYSTEMD
static void
notify_send(struct notify *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
notify_send(struct notify *n, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int rv;

	if (n == NULL || !n->on)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if ((rv = sd_notify(0, buf)) < 0)
		log_debug("sd_notify: %s", strerror(-rv));
}

/* The STATUS= value: what systemctl status shows under the unit. */
static void
notify_status_text(struct notify *n, char *buf, size_t len)
{
	struct server *srv = n->srv;

	snprintf(buf, len, "%zu connection(s), %zu channel(s), %zu route(s)%s",
	    srv->nconns, srv->channels.count, srv->nroutes,
	    srv->stopping ? ", stopping" : "");
}

static void
notify_on_status(evutil_socket_t fd, short what, void *arg)
{
	struct notify *n = arg;
	char status[256];

	notify_status_text(n, status, sizeof(status));
	notify_send(n, "STATUS=%s", status);
}

static void
notify_on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	notify_send(arg, "WATCHDOG=1");
}
#endif

struct notify *
notify_new(struct server *srv)
{
	struct notify *n;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	n->srv = srv;
#ifdef HAVE_LIBSYSTEMD
	uint64_t usec = 0;
	struct timeval tv = { NOTIFY_STATUS_INTERVAL_S, 0 };

	n->on = getenv("NOTIFY_SOCKET") != NULL;
	if (!n->on)
		return n;
	event_assign(&n->status_ev, srv->base, -1, EV_PERSIST,
	    notify_on_status, n);
	event_add(&n->status_ev, &tv);
	/*
	 * The watchdog is fed from the event loop itself, so a loop that
	 * stops turning stops feeding it and systemd restarts the service.
	 */
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		uint64_t half = usec / 2;

		tv.tv_sec = (time_t)(half / 1000000);
		tv.tv_usec = (suseconds_t)(half % 1000000);
		event_assign(&n->wd_ev, srv->base, -1, EV_PERSIST,
		    notify_on_watchdog, n);
		event_add(&n->wd_ev, &tv);
		n->wd_on = 1;
		log_info("systemd watchdog: every %" PRIu64 " ms", half / 1000);
	}
#endif
	return n;
}

void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	if (n->on) {
		event_del(&n->status_ev);
		if (n->wd_on)
			event_del(&n->wd_ev);
	}
	free(n);
}

void
notify_ready(struct notify *n)
{
#ifdef HAVE_LIBSYSTEMD
	char status[256];

	if (n == NULL || !n->on)
		return;
	notify_status_text(n, status, sizeof(status));
	notify_send(n, "READY=1\nSTATUS=%s\nMAINPID=%d", status, (int)getpid());
#endif
}

void
notify_reloading(struct notify *n)
{
#ifdef HAVE_LIBSYSTEMD
	struct timespec ts;

	/* systemd >= 253 matches the reload to its request by this stamp. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	notify_send(n, "RELOADING=1\nSTATUS=reloading the configuration\n"
	    "MONOTONIC_USEC=%" PRIu64, (uint64_t)ts.tv_sec * 1000000 +
	    (uint64_t)ts.tv_nsec / 1000);
#endif
}

void
notify_stopping(struct notify *n)
{
#ifdef HAVE_LIBSYSTEMD
	notify_send(n, "STOPPING=1\nSTATUS=shutting down");
#endif
}
