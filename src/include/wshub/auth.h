/* The wshubd authenticator plugin ABI: versioned, opaque handles, accessors. */
#ifndef WSHUB_AUTH_H
#define WSHUB_AUTH_H

/*
 * A plugin is a shared object that wshubd loads with dlopen(3) when the
 * configuration says
 *
 *	auth = { plugin = "/usr/lib/wshub/auth_jwt.so";
 *		 options = { key_file = "/etc/wshub/jwt.pem"; };
 *		 timeout = "2s"; };
 *
 * It exports the functions declared under "What a plugin exports" and calls
 * the wsh_auth_* functions that wshubd exports to read each request and give
 * its answer. Every structure a plugin sees is opaque or starts with a size,
 * so later versions of wshubd add accessors and fields without breaking a
 * plugin built against this version. See wshub-auth(3).
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes. */
#define WSH_AUTH_ABI_VERSION	1

/* What a request asks for (wsh_auth_request_kind()). */
#define WSH_AUTH_KIND_UPGRADE	1	/* a WebSocket handshake */
#define WSH_AUTH_KIND_API	2	/* a call of the HTTP API */
#define WSH_AUTH_KIND_REFRESH	3	/* a new token for an open WebSocket */

/* What decide() returns, and what wsh_auth_complete() takes. */
#define WSH_AUTH_ALLOW		0	/* let it in, with the result set */
#define WSH_AUTH_DENY		1	/* refuse (status and reason set, or 403) */
#define WSH_AUTH_PENDING	2	/* decided later by wsh_auth_complete() */

/* Log levels of wsh_auth_log(), as syslog(3). */
#define WSH_AUTH_LOG_ERR	3
#define WSH_AUTH_LOG_WARNING	4
#define WSH_AUTH_LOG_INFO	6
#define WSH_AUTH_LOG_DEBUG	7

/* One decision in progress; valid from decide() until it is answered. */
struct wsh_auth_request;

/* One "key = value" of the auth.options group of the configuration. */
struct wsh_auth_option {
	const char	*key;
	const char	*value;		/* numbers and booleans as text */
};

/*
 * What wshubd hands to init() and reload(). |size| is sizeof the structure
 * wshubd was built with: read a field only when |size| shows it is there.
 */
struct wsh_auth_setup {
	size_t				 size;
	int				 abi_version;	/* the one agreed */
	const struct wsh_auth_option	*options;
	int				 noptions;
	const char			*config_file;	/* for messages */
	void				*spare[8];	/* NULL; for later */
};

/*
 * What a plugin exports. Required: wsh_auth_plugin_version,
 * wsh_auth_plugin_init, wsh_auth_plugin_decide and wsh_auth_plugin_cleanup.
 * Optional: wsh_auth_plugin_reload and wsh_auth_plugin_cancel.
 *
 * All of them are called on wshubd's event loop thread, one at a time, and
 * must not block: a decision that needs I/O returns WSH_AUTH_PENDING.
 */

/*
 * The version handshake: |versions| lists the |count| ABI versions wshubd
 * supports, best first. Return the one the plugin will speak, or -1 when it
 * speaks none of them (wshubd then refuses the configuration).
 */
int	wsh_auth_plugin_version(int count, const int *versions);

/*
 * Start: read the options, load keys or tokens, and store what decide()
 * needs in |*state|. Return 0, or -1 with a message in |err| (|errlen|
 * bytes) that wshubd shows as a configuration error.
 */
int	wsh_auth_plugin_init(void **state, const struct wsh_auth_setup *setup,
	    char *err, size_t errlen);

/*
 * The configuration was reloaded (SIGHUP) with the same plugin: re-read
 * keys or tokens from the new options. Return 0, or -1 with a message and
 * the old state left as it was, still in use. Optional: without it wshubd
 * loads a fresh instance and frees the old one.
 */
int	wsh_auth_plugin_reload(void *state, const struct wsh_auth_setup *setup,
	    char *err, size_t errlen);

/*
 * Decide |req|: read it with the accessors, set the result with the setters
 * and return WSH_AUTH_ALLOW or WSH_AUTH_DENY; or keep |req| and return
 * WSH_AUTH_PENDING, then call wsh_auth_complete(req, ...) exactly once,
 * later, from the event loop thread (see wsh_auth_notify()).
 */
int	wsh_auth_plugin_decide(void *state, struct wsh_auth_request *req);

/*
 * Optional: wshubd no longer waits for pending |req| (its timeout passed,
 * or the client went away). The plugin should stop work on it; it must
 * still call wsh_auth_complete() for it, whose answer is then ignored.
 */
void	wsh_auth_plugin_cancel(void *state, struct wsh_auth_request *req);

/*
 * Stop: free |state|. Called at exit and when the plugin is replaced, after
 * every pending request of this instance was completed.
 */
void	wsh_auth_plugin_cleanup(void *state);

/*
 * What wshubd exports to plugins. Strings returned are NUL-terminated and
 * live as long as the request; a missing item is "" (never NULL), except
 * where said otherwise.
 */

/* WSH_AUTH_KIND_UPGRADE, _API or _REFRESH. */
int	wsh_auth_request_kind(const struct wsh_auth_request *req);

/* The request method ("GET", "POST"; "REFRESH" for a refresh). */
const char *wsh_auth_request_method(struct wsh_auth_request *req);

/* The path of the request target as sent (percent-encoding kept). */
const char *wsh_auth_request_path(struct wsh_auth_request *req);

/* The query after '?', as sent; "" when there is none. */
const char *wsh_auth_request_query(struct wsh_auth_request *req);

/*
 * The query parameter |name|, percent-decoded ('+' is a space); NULL when
 * it is absent or its encoding is broken.
 */
const char *wsh_auth_request_query_param(struct wsh_auth_request *req,
	    const char *name);

/*
 * The first header field named |name| (any case), blanks trimmed; NULL
 * when absent. A refresh carries one field: Authorization: Bearer TOKEN.
 */
const char *wsh_auth_request_header(struct wsh_auth_request *req,
	    const char *name);

/* Header fields: their number, and the name and value of the |i|th. */
int	wsh_auth_request_header_count(const struct wsh_auth_request *req);
const char *wsh_auth_request_header_at(struct wsh_auth_request *req, int i,
	    const char **value);

/* The client's address without the port ("192.0.2.7", "2001:db8::1"). */
const char *wsh_auth_request_peer_address(struct wsh_auth_request *req);
int	wsh_auth_request_peer_port(const struct wsh_auth_request *req);

/* The subject of the client's TLS certificate; "" without one. */
const char *wsh_auth_request_tls_subject(struct wsh_auth_request *req);

/* The listener the request came in on, as "ADDRESS:PORT". */
const char *wsh_auth_request_listener(struct wsh_auth_request *req);

/* The configured route path of an upgrade or refresh; "" for the API. */
const char *wsh_auth_request_route(struct wsh_auth_request *req);

/* The connection id (as in the Wshub-Connection-Id header). */
uint64_t wsh_auth_request_connection_id(const struct wsh_auth_request *req);

/*
 * Setters: the result of an allowed request. Each returns 0, or -1 when
 * out of memory or given a bad argument. A user name is 1 to 255 bytes of
 * UTF-8 without control characters. Patterns are fnmatch(3) patterns over
 * channel names ("news", "chat.*", "*"); a connection may subscribe to (or
 * publish on) a channel that matches one of its patterns, and to nothing
 * when it has none.
 */
int	wsh_auth_set_user(struct wsh_auth_request *req, const char *user);
int	wsh_auth_add_subscribe(struct wsh_auth_request *req,
	    const char *pattern);
int	wsh_auth_add_publish(struct wsh_auth_request *req, const char *pattern);

/*
 * When the credential stops being valid, in seconds since the Epoch; 0 (the
 * default) for never. An open WebSocket is closed with 4401 at that time,
 * unless a refresh moved it.
 */
int	wsh_auth_set_expiry(struct wsh_auth_request *req, int64_t when);

/*
 * The answer to a denied request: an HTTP status of 400-599 (401, 403,
 * 429 and 503 are the usual ones) and a short reason for the client, which
 * must not reveal secrets. Without it a denial is 403.
 */
int	wsh_auth_set_deny(struct wsh_auth_request *req, int status,
	    const char *reason);

/*
 * Answer a request for which decide() returned WSH_AUTH_PENDING, with
 * WSH_AUTH_ALLOW or WSH_AUTH_DENY; |req| is gone when this returns. Call
 * it on the event loop thread only.
 */
void	wsh_auth_complete(struct wsh_auth_request *req, int verdict);

/*
 * For plugins with threads: call |fn|(|arg|) on the event loop thread soon.
 * Safe from any thread; returns 0, or -1 when out of memory.
 */
int	wsh_auth_notify(void (*fn)(void *arg), void *arg);

/* Write a line to wshubd's log at |level| (WSH_AUTH_LOG_*). */
void	wsh_auth_log(int level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif

#endif
