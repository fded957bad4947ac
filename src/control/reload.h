/* Live reload: re-read the config file and apply it without dropping a connection. */
#ifndef WSH_CONTROL_RELOAD_H
#define WSH_CONTROL_RELOAD_H

#include <jansson.h>

struct server;

/*
 * Read srv->cfg->file again and, when the whole file is valid, switch to
 * it: routes, limits, log level, listeners added and removed, channels,
 * admin options. Open connections are never closed by a reload. Returns 0
 * and a report in |*report| (JSON: "applied", "new_connections_only" and
 * "not_applied" with the reason of each), or -1 and a malloc'd "FILE:LINE:
 * problem" in |*cause|, the old config still in force.
 */
int	reload_run(struct server *srv, json_t **report, char **cause);

/* Reload on SIGHUP, logging the outcome. Returns 0, or -1 when out of memory. */
int	reload_on_sighup(struct server *srv);

#endif
