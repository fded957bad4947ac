/* The authenticator: plugin loading, decisions on upgrades and API calls, token expiry. */
#ifndef WSH_CONTROL_AUTH_H
#define WSH_CONTROL_AUTH_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct conn;
struct http_request;
struct route;
struct server;

/* Close code of a WebSocket whose credential expired (4000 + HTTP 401). */
#define AUTH_CLOSE_EXPIRED	4401

/* Sec-WebSocket-Protocol entries of this prefix carry a credential. */
#define AUTH_PROTOCOL_PREFIX	"wshub.bearer."

/* Bytes of a denial reason. */
#define AUTH_REASON_MAX		128

/* Kinds of request, as in wshub/auth.h. */
#define AUTH_KIND_UPGRADE	1
#define AUTH_KIND_API		2
#define AUTH_KIND_REFRESH	3

enum auth_verdict {
	AUTH_ALLOW,
	AUTH_DENY,
	AUTH_PENDING	/* the connection's input is paused until decided */
};

/* Why a request was refused. */
struct auth_denial {
	int	 status;			/* HTTP status */
	char	 reason[AUTH_REASON_MAX];
};

/*
 * Check that |path| is a plugin this daemon can use: it loads, exports the
 * required functions and agrees on an ABI version. Returns 0, or -1 with
 * the problem in |why| (|len| bytes). Used while reading a configuration.
 */
int	auth_probe(const char *path, char *why, size_t len);

/*
 * What `wshubd -t` does: load and start the plugin of |cfg| (if any) with
 * its options, then stop it. Returns 0, or -1 with a malloc'd |*cause|.
 */
int	auth_check_config(const struct config *cfg, char **cause);

/*
 * Set up authentication of |srv| for |cfg|: load and start its plugin.
 * With no plugin configured |srv->auth| stays NULL (no authentication).
 * Returns 0, or -1 with a malloc'd |*cause|.
 */
int	auth_new(struct server *srv, const struct config *cfg, char **cause);

/*
 * Apply the auth section of a reloaded |cfg|: the same plugin gets its
 * reload callback with the new options, another one is loaded and started.
 * On failure returns -1 with a malloc'd |*cause| and the old plugin stays
 * in use; connections keep their identities either way.
 */
int	auth_reload(struct server *srv, const struct config *cfg, char **cause);

/* Whether an authenticator plugin is in use on |srv|. */
int	auth_enabled(const struct server *srv);

/* Stop the plugin and free everything; auth_free(NULL-auth server) is fine. */
void	auth_free(struct server *srv);

/*
 * Ask the plugin about the request |req| of kind |kind| on |c| (|r| is the
 * route of an upgrade, else NULL). On AUTH_ALLOW the connection's identity
 * is set; on AUTH_DENY |deny| says how to answer; on AUTH_PENDING the
 * connection stops reading and h1_auth_done() is called once decided.
 * Without a plugin every request is allowed.
 */
enum auth_verdict auth_decide(struct conn *c, int kind, const struct route *r,
	    const struct http_request *req, struct auth_denial *deny);

/*
 * Keep |len| bytes read after the head of a request that is waiting for a
 * decision; they are handed back to h1_auth_done(). Returns 0 or -1.
 */
int	auth_stash(struct conn *c, const uint8_t *buf, size_t len);

/*
 * A client on an open WebSocket offers the new credential |token|. |done|
 * is called once with the outcome (|c| NULL when the connection went away
 * meanwhile), maybe before auth_refresh() returns.
 */
void	auth_refresh(struct conn *c, const char *token, size_t len,
	    void (*done)(struct conn *c, void *arg, int ok, const char *reason),
	    void *arg);

/* Connection |c| is going away: drop its identity and pending decision. */
void	auth_conn_gone(struct conn *c);

/* Drop the identity of a request's connection (an HTTP API call ended). */
void	auth_conn_reset(struct conn *c);

/*
 * Whether the Origin |origin| (|len| bytes) passes the allow-list |origins|
 * (NULL-terminated; NULL or empty allows every origin). Entries are
 * "scheme://host[:port]" compared without case, or a host of "*.domain"
 * (as in "https:" "//" "*.example.com") for any host below the domain.
 * A request without Origin passes.
 */
int	auth_origin_ok(char *const *origins, const char *origin, size_t len);

/* Check one allow-list entry for the configuration reader. */
int	auth_origin_valid(const char *entry);

/*
 * Call |fn| for each open WebSocket of |user|; returns how many there were
 * (0 without an authenticator).
 */
size_t	auth_user_foreach(struct server *srv, const char *user,
	    void (*fn)(struct conn *, void *), void *arg);

/* Identities with open connections: about the number of distinct users. */
size_t	auth_user_count(const struct server *srv);

/* Whether |proto| (|len| bytes) is a credential, never to be selected. */
int	auth_protocol_is_credential(const char *proto, size_t len);

#endif
