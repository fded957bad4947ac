/* Listening sockets: bind from config, accept with backpressure. */
#ifndef WSH_TRANSPORT_LISTENER_H
#define WSH_TRANSPORT_LISTENER_H

#include <event2/event_struct.h>

struct config_listener;
struct server;

struct listener {
	struct server		*srv;
	const struct config_listener *cfg;
	int			 fd;
	struct event		 ev;
	char			 name[64];	/* "127.0.0.1:8080" */
};

/* Bind and listen on |lc|. Returns NULL with a malloc'd |*cause|. */
struct listener *listener_new(struct server *srv,
	    const struct config_listener *lc, char **cause);
void	listener_free(struct listener *l);

/* Start or stop taking connections (accept paused at the limit). */
void	listener_enable(struct listener *l);
void	listener_disable(struct listener *l);

#endif
