/* The admin socket: a Unix socket with peer credentials checked, a versioned line protocol and one command table. */
#ifndef WSH_CONTROL_ADMIN_H
#define WSH_CONTROL_ADMIN_H

#include <sys/types.h>
#include <stddef.h>
#include <stdio.h>

struct admin;
struct config;
struct server;

/* The version of the line protocol (docs/ADMIN.md), sent in the greeting. */
#define ADMIN_PROTOCOL		1

/* Admin sessions open at once; more are refused with an error line. */
#define ADMIN_CLIENTS_MAX	32

/*
 * Open the admin socket of |srv|'s config (or take the one systemd passed
 * named "admin") and store the admin state in srv->admin. With no admin
 * socket configured, succeeds and leaves srv->admin NULL. Returns -1 with a
 * malloc'd |*cause| on failure.
 */
int	admin_start(struct server *srv, char **cause);

/* Close the socket (removing its file) and every session. */
void	admin_free(struct admin *a);

/*
 * Apply the admin options of |cfg| (the config a reload is switching to):
 * allowed users and groups, the socket's mode and owner, a new path. What
 * cannot be applied is appended to |*not_applied| (malloc'd text, one
 * "option: why" per line); the old socket is kept then.
 */
void	admin_reconfigure(struct server *srv, const struct config *cfg,
	    char **not_applied);

/*
 * Give the admin socket's file to |uid|:|gid| (for the privilege drop,
 * when no owner is configured). Returns 0 or -1 with errno set.
 */
int	admin_chown(struct admin *a, uid_t uid, gid_t gid);

/*
 * Run one command line |line| (no newline) as an admin session would and
 * return the answer line ("ok {...}" or "err {...}", malloc'd, no newline).
 * The entry point for tests and fuzzers.
 */
char	*admin_exec_line(struct server *srv, const char *line, size_t len);

/* Print every command from the table: usage and what it does. */
void	admin_print_commands(FILE *fp);

#endif
