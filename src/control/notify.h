/* Talking to the service manager: readiness, reload, stop, status, watchdog and passed sockets. */
#ifndef WSH_CONTROL_NOTIFY_H
#define WSH_CONTROL_NOTIFY_H

struct listener_passed_set;
struct notify;
struct server;

/*
 * Collect the sockets systemd passed (LISTEN_FDS, with their
 * FileDescriptorName) into |set|, which the caller frees with
 * notify_passed_free(). Returns their number (0 when none or when built
 * without libsystemd).
 */
int	notify_passed(struct listener_passed_set *set);

/* Log and forget passed sockets nothing used; free the set's memory. */
void	notify_passed_report(const struct listener_passed_set *set);
void	notify_passed_free(struct listener_passed_set *set);

/*
 * Start talking to the service manager for |srv|: a watchdog timer at half
 * of WATCHDOG_USEC when it asks for one, and a STATUS line with the counts
 * every few seconds. Returns NULL when out of memory (nothing is sent
 * then). Without NOTIFY_SOCKET every call below does nothing.
 */
struct notify *notify_new(struct server *srv);
void	notify_free(struct notify *n);

/* READY=1 with a STATUS line: startup or a reload has finished. */
void	notify_ready(struct notify *n);

/* RELOADING=1 with MONOTONIC_USEC: a reload begins. */
void	notify_reloading(struct notify *n);

/* STOPPING=1: a shutdown begins. */
void	notify_stopping(struct notify *n);

/* Whether this build can talk to systemd at all. */
int	notify_supported(void);

#endif
