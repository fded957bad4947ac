/* Listening sockets: bind from config, accept with backpressure. */
#include "autoconf.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "control/config.h"
#include "hub/server.h"
#include "transport/conn.h"
#include "transport/listener.h"
#include "transport/tls.h"
#include "util/log.h"

/* At most this many accepts per readiness event, so reads are not starved. */
#define LISTENER_ACCEPT_BATCH	64

static void
listener_cause(char **cause, const char *name, const char *what, int err)
{
	if (asprintf(cause, "%s: %s: %s", name, what, strerror(err)) == -1)
		*cause = NULL;
}

static int
listener_resolve(const struct config_listener *lc,
    struct sockaddr_storage *ss, socklen_t *sl)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	const char *addr = strcmp(lc->address, "*") == 0 ? "0.0.0.0" :
	    lc->address;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)lc->port);
		*sl = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)lc->port);
		*sl = sizeof(*sin6);
		return 0;
	}
	return -1;
}

/*
 * Frames go out as they are written: no Nagle delay. Set on the listener,
 * because Linux copies it to every socket accepted from it (the new socket
 * is cloned from the listening one), which saves a setsockopt() per
 * connection.
 */
static void
listener_nodelay(struct listener *l)
{
	int one = 1;

	if (setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ==
	    -1)
		log_warn("%s: setsockopt TCP_NODELAY: %s", l->name,
		    strerror(errno));
}

static void
listener_on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	struct server *srv = l->srv;

	for (int i = 0; i < LISTENER_ACCEPT_BATCH; i++) {
		struct conn *c;
		int cfd;

		if (srv->nconns >= srv->cfg->max_connections) {
			server_pause_accept(srv, 0);
			return;
		}
		cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/*
				 * Out of descriptors: the pending connection
				 * stays in the backlog; retry shortly rather
				 * than spin on a socket that stays readable.
				 */
				log_warn("%s: accept: %s; pausing", l->name,
				    strerror(errno));
				server_pause_accept(srv, 1);
			}
			return;
		}
		srv->stats.accepted++;
		if ((c = conn_new(srv, cfd)) == NULL)
			continue;
		if (l->cfg->http2)
			c->flags |= CONN_F_H2_OK;
		if (l->tls != NULL && tls_conn_start(c, l->tls) == -1)
			conn_destroy(c, "out of memory for TLS");
		else
			conn_start(c);
	}
}

/* Whether the bound address of |fd| is |ss|. */
static int
listener_fd_is(int fd, const struct sockaddr_storage *ss, socklen_t sl)
{
	struct sockaddr_storage bound;
	socklen_t bl = sizeof(bound);

	memset(&bound, 0, sizeof(bound));
	if (getsockname(fd, (struct sockaddr *)&bound, &bl) == -1 || bl != sl)
		return 0;
	return memcmp(&bound, ss, sl) == 0;
}

/* The passed socket for |lc|: by name first, then by address. */
static struct listener_passed *
listener_find_passed(struct server *srv, const struct config_listener *lc,
    const struct sockaddr_storage *ss, socklen_t sl)
{
	struct listener_passed_set *set = srv->passed;

	if (set == NULL)
		return NULL;
	for (size_t i = 0; lc->name != NULL && lc->name[0] != '\0' &&
	    i < set->n; i++)
		if (!set->v[i].used && strcmp(set->v[i].name, lc->name) == 0)
			return &set->v[i];
	for (size_t i = 0; i < set->n; i++)
		if (!set->v[i].used && listener_fd_is(set->v[i].fd, ss, sl))
			return &set->v[i];
	return NULL;
}

/* Name a passed socket by the address it is bound to, which may differ. */
static void
listener_name_fd(struct listener *l)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	if (getsockname(l->fd, (struct sockaddr *)&ss, &sl) == -1)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(l->name, sizeof(l->name), "%s:%u", host,
		    ntohs(sin->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(l->name, sizeof(l->name), "[%s]:%u", host,
		    ntohs(sin6->sin6_port));
	}
}

int
listener_same(const struct listener *l, const struct config_listener *lc)
{
	struct sockaddr_storage a, b;
	socklen_t al, bl;

	if (listener_resolve(l->cfg, &a, &al) == -1 ||
	    listener_resolve(lc, &b, &bl) == -1)
		return 0;
	return al == bl && memcmp(&a, &b, al) == 0;
}

struct listener *
listener_new(struct server *srv, const struct config_listener *lc,
    char **cause)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct listener *l;
	struct listener_passed *p;
	int one = 1;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		*cause = strdup("out of memory");
		return NULL;
	}
	l->srv = srv;
	l->cfg = lc;
	if (strchr(lc->address, ':') != NULL)
		snprintf(l->name, sizeof(l->name), "[%s]:%d", lc->address,
		    lc->port);
	else
		snprintf(l->name, sizeof(l->name), "%s:%d", lc->address,
		    lc->port);
	if (listener_resolve(lc, &ss, &sl) == -1) {
		if (asprintf(cause, "%s: not an IP address", l->name) == -1)
			*cause = NULL;
		free(l);
		return NULL;
	}
	/* Certificates first: a listener that cannot speak TLS is not opened. */
	if (lc->tls && (l->tls = tls_ctx_new(lc, cause)) == NULL) {
		free(l);
		return NULL;
	}
	if ((p = listener_find_passed(srv, lc, &ss, sl)) != NULL) {
		/* systemd bound it; it only has to be non-blocking for us. */
		int fl = fcntl(p->fd, F_GETFL);

		if (fl == -1 || fcntl(p->fd, F_SETFL, fl | O_NONBLOCK) == -1) {
			listener_cause(cause, l->name, "fcntl", errno);
			tls_ctx_free(l->tls);
			free(l);
			return NULL;
		}
		p->used = 1;
		l->passed = p;
		l->fd = p->fd;
		listener_name_fd(l);
		listener_nodelay(l);
		log_info("%s: using the socket passed by systemd%s%s", l->name,
		    p->name[0] != '\0' ? " named " : "", p->name);
		event_assign(&l->ev, srv->base, l->fd, EV_READ | EV_PERSIST,
		    listener_on_accept, l);
		return l;
	}
	l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd == -1) {
		listener_cause(cause, l->name, "socket", errno);
		tls_ctx_free(l->tls);
		free(l);
		return NULL;
	}
	setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lc->reuseport)
		setsockopt(l->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	/* An IPv6 wildcard must not grab the IPv4 port another listener wants. */
	if (ss.ss_family == AF_INET6)
		setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(l->fd, (struct sockaddr *)&ss, sl) == -1) {
		listener_cause(cause, l->name, "bind", errno);
		close(l->fd);
		tls_ctx_free(l->tls);
		free(l);
		return NULL;
	}
	listener_nodelay(l);
	if (listen(l->fd, lc->backlog > 0 ? lc->backlog : 511) == -1) {
		listener_cause(cause, l->name, "listen", errno);
		close(l->fd);
		tls_ctx_free(l->tls);
		free(l);
		return NULL;
	}
	event_assign(&l->ev, srv->base, l->fd, EV_READ | EV_PERSIST,
	    listener_on_accept, l);
	return l;
}

void
listener_enable(struct listener *l)
{
	event_add(&l->ev, NULL);
}

void
listener_disable(struct listener *l)
{
	event_del(&l->ev);
}

void
listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	event_del(&l->ev);
	if (l->passed != NULL)
		l->passed->used = 0;
	else
		close(l->fd);
	tls_ctx_free(l->tls);
	free(l);
}
