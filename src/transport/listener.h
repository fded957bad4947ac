/* Listening sockets: bind from config, accept with backpressure. */
#ifndef WSH_TRANSPORT_LISTENER_H
#define WSH_TRANSPORT_LISTENER_H

#include <event2/event_struct.h>

#include <stddef.h>

struct config_listener;
struct server;
struct tls_ctx;

/*
 * A socket passed by the service manager (socket activation), used by at
 * most one listener at a time; its owner is the passed set, which keeps it
 * open when a reload drops the listener, since systemd holds it bound.
 */
struct listener_passed {
	int			 fd;
	char			 name[64];	/* FileDescriptorName, or "" */
	int			 used;
};

struct listener_passed_set {
	struct listener_passed	*v;
	size_t			 n;
};

struct listener {
	struct server		*srv;
	const struct config_listener *cfg;
	int			 fd;
	struct event		 ev;
	struct listener_passed	*passed;	/* where fd came from, or NULL */
	struct tls_ctx		*tls;		/* TLS listeners: their context */
	char			 name[64];	/* "127.0.0.1:8080" */
};

/*
 * Listen on |lc|: on a passed socket of srv->passed whose name is the
 * listener's name or whose address is its address, else on a new socket
 * bound to its address. Returns NULL with a malloc'd |*cause|.
 */
struct listener *listener_new(struct server *srv,
	    const struct config_listener *lc, char **cause);
void	listener_free(struct listener *l);

/* Whether |l| listens on the address of |lc| (for a reload). */
int	listener_same(const struct listener *l,
	    const struct config_listener *lc);

/* Start or stop taking connections (accept paused at the limit). */
void	listener_enable(struct listener *l);
void	listener_disable(struct listener *l);

#endif
