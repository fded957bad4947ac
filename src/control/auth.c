/* The authenticator: plugin loading, decisions on upgrades and API calls, token expiry. */
#include "autoconf.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "wshub/auth.h"

#include "control/auth.h"
#include "control/config.h"
#include "hub/ident.h"
#include "hub/server.h"
#include "proto/http1.h"
#include "transport/conn.h"
#include "transport/h1.h"
#include "transport/tls.h"
#include "util/hex.h"
#include "util/log.h"

/* ABI versions this daemon speaks, best first. */
static const int auth_abi_versions[] = { WSH_AUTH_ABI_VERSION };

/* How often pending decisions and credential expiry are looked at. */
#define AUTH_SWEEP_MS		100
/* Patterns one request may set, each way. */
#define AUTH_PATTERNS_MAX	256
/* Bytes of a user name or a pattern. */
#define AUTH_NAME_MAX		255
/* Bytes of input kept while a request waits: one read. */
#define AUTH_STASH_MAX		SERVER_READ_BUF
/* Bytes of a credential offered in a refresh. */
#define AUTH_TOKEN_MAX		16384

typedef int	(*auth_version_fn)(int, const int *);
typedef int	(*auth_init_fn)(void **, const struct wsh_auth_setup *, char *,
		    size_t);
typedef int	(*auth_reload_fn)(void *, const struct wsh_auth_setup *,
		    char *, size_t);
typedef int	(*auth_decide_fn)(void *, struct wsh_auth_request *);
typedef void	(*auth_cancel_fn)(void *, struct wsh_auth_request *);
typedef void	(*auth_cleanup_fn)(void *);

/* One loaded and started plugin. */
struct auth_plugin {
	void		*dl;
	char		*path;
	void		*state;
	int		 abi;
	unsigned	 refs;		/* the server's, and each request's */
	auth_init_fn	 init;
	auth_reload_fn	 reload;
	auth_decide_fn	 decide;
	auth_cancel_fn	 cancel;
	auth_cleanup_fn	 cleanup;
};

TAILQ_HEAD(auth_reqs, wsh_auth_request);

struct auth {
	struct server		*srv;
	struct auth_plugin	*plugin;
	double			 timeout;
	struct ident_table	 idents;
	struct auth_reqs	 pending;	/* oldest first = soonest deadline */
	struct event		 sweep_ev;
};

/* The thread-safe hand-off of wsh_auth_notify(): one per process. */
struct auth_note {
	void		(*fn)(void *);
	void		*arg;
	struct auth_note *next;
};

static pthread_mutex_t	 auth_note_lock = PTHREAD_MUTEX_INITIALIZER;
static struct auth_note	*auth_notes;
static int		 auth_note_pipe[2] = { -1, -1 };
static struct event	*auth_note_ev;

struct wsh_auth_request {
	TAILQ_ENTRY(wsh_auth_request) link;
	struct auth		*auth;		/* NULL once detached */
	struct auth_plugin	*plugin;
	uint64_t		 conn_id;
	int			 kind;
	int			 in_decide;	/* decide() is running */
	int			 verdict;	/* -1 until answered */
	int			 pending;
	uint64_t		 deadline_ms;
	const struct http_request *hreq;
	struct http_request	*own;		/* a copy, once pending */
	char			*head;		/* the bytes |own| points into */
	char			 route[256];
	char			 peer[64];
	int			 peer_port;
	char			 listener[80];
	char			 tls_subject[TLS_SUBJECT_MAX];
	char			**strs;		/* strings handed out */
	size_t			 nstrs;
	/* The result. */
	char			*user;
	char			*sub[AUTH_PATTERNS_MAX + 1];
	char			*pub[AUTH_PATTERNS_MAX + 1];
	size_t			 nsub, npub;
	int64_t			 expires;
	int			 deny_status;
	char			 deny_reason[AUTH_REASON_MAX];
	/* Input read while waiting. */
	uint8_t			*stash;
	size_t			 stash_len;
	/* A refresh's continuation. */
	void			(*done)(struct conn *, void *, int,
				    const char *);
	void			*done_arg;
};

static uint64_t
auth_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static char *
auth_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
auth_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);
	return s;
}

/* Plugin loading. */

static void
auth_plugin_unload(struct auth_plugin *p)
{
	if (p == NULL)
		return;
	if (p->dl != NULL)
		dlclose(p->dl);
	free(p->path);
	free(p);
}

/* Open |path| and agree on a version; the plugin is not started. */
static struct auth_plugin *
auth_plugin_open(const char *path, char *why, size_t len)
{
	struct auth_plugin *p;
	auth_version_fn version;
	const char *err;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->path = strdup(path)) == NULL) {
		snprintf(why, len, "out of memory");
		auth_plugin_unload(p);
		return NULL;
	}
	/* RTLD_LOCAL: two plugins may define the same helper names. */
	if ((p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		err = dlerror();
		snprintf(why, len, "cannot load auth plugin: %s",
		    err != NULL ? err : path);
		auth_plugin_unload(p);
		return NULL;
	}
	/* Casting through a union keeps -Wpedantic quiet about dlsym. */
#define AUTH_SYM(field, type, name) do {				\
		union { void *v; type f; } u;				\
		u.v = dlsym(p->dl, name);				\
		p->field = u.f;						\
	} while (0)
	{
		union { void *v; auth_version_fn f; } u;

		u.v = dlsym(p->dl, "wsh_auth_plugin_version");
		version = u.f;
	}
	AUTH_SYM(init, auth_init_fn, "wsh_auth_plugin_init");
	AUTH_SYM(reload, auth_reload_fn, "wsh_auth_plugin_reload");
	AUTH_SYM(decide, auth_decide_fn, "wsh_auth_plugin_decide");
	AUTH_SYM(cancel, auth_cancel_fn, "wsh_auth_plugin_cancel");
	AUTH_SYM(cleanup, auth_cleanup_fn, "wsh_auth_plugin_cleanup");
#undef AUTH_SYM
	if (version == NULL || p->init == NULL || p->decide == NULL ||
	    p->cleanup == NULL) {
		snprintf(why, len, "%s is not a wshub auth plugin (it must "
		    "export wsh_auth_plugin_version, _init, _decide and "
		    "_cleanup)", path);
		auth_plugin_unload(p);
		return NULL;
	}
	p->abi = version((int)(sizeof(auth_abi_versions) /
	    sizeof(auth_abi_versions[0])), auth_abi_versions);
	for (size_t i = 0; i < sizeof(auth_abi_versions) /
	    sizeof(auth_abi_versions[0]); i++)
		if (p->abi == auth_abi_versions[i])
			return p;
	snprintf(why, len, "auth plugin %s wants ABI version %d; this wshubd "
	    "speaks version %d", path, p->abi, WSH_AUTH_ABI_VERSION);
	auth_plugin_unload(p);
	return NULL;
}

int
auth_probe(const char *path, char *why, size_t len)
{
	struct auth_plugin *p;

	if ((p = auth_plugin_open(path, why, len)) == NULL)
		return -1;
	auth_plugin_unload(p);
	return 0;
}

static void
auth_setup_fill(struct wsh_auth_setup *s, const struct config *cfg, int abi)
{
	memset(s, 0, sizeof(*s));
	s->size = sizeof(*s);
	s->abi_version = abi;
	s->options = (const struct wsh_auth_option *)cfg->auth.options;
	s->noptions = (int)cfg->auth.noptions;
	s->config_file = cfg->file;
}

/* Load and start the plugin of |cfg|. */
static struct auth_plugin *
auth_plugin_start(const struct config *cfg, char **cause)
{
	struct wsh_auth_setup setup;
	struct auth_plugin *p;
	char why[512];

	why[0] = '\0';
	if ((p = auth_plugin_open(cfg->auth.plugin, why, sizeof(why))) ==
	    NULL) {
		*cause = auth_printf("%s: %s", cfg->file, why);
		return NULL;
	}
	auth_setup_fill(&setup, cfg, p->abi);
	if (p->init(&p->state, &setup, why, sizeof(why)) != 0) {
		*cause = auth_printf("%s: auth plugin %s: %s", cfg->file,
		    p->path, why[0] != '\0' ? why : "initialisation failed");
		auth_plugin_unload(p);
		return NULL;
	}
	p->refs = 1;
	return p;
}

static void
auth_plugin_unref(struct auth_plugin *p)
{
	if (p == NULL || --p->refs > 0)
		return;
	p->cleanup(p->state);
	auth_plugin_unload(p);
}

int
auth_check_config(const struct config *cfg, char **cause)
{
	struct auth_plugin *p;

	*cause = NULL;
	if (cfg->auth.plugin == NULL || cfg->auth.plugin[0] == '\0')
		return 0;
	if ((p = auth_plugin_start(cfg, cause)) == NULL)
		return -1;
	auth_plugin_unref(p);
	return 0;
}

/* Notifications from other threads. */

static void
auth_on_note(evutil_socket_t fd, short what, void *arg)
{
	struct auth_note *n, *next, *rev;
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&auth_note_lock);
	n = auth_notes;
	auth_notes = NULL;
	pthread_mutex_unlock(&auth_note_lock);
	/* The list was pushed at its head: run it oldest first. */
	for (rev = NULL; n != NULL; n = next) {
		next = n->next;
		n->next = rev;
		rev = n;
	}
	n = rev;
	for (; n != NULL; n = next) {
		next = n->next;
		n->fn(n->arg);
		free(n);
	}
}

int
wsh_auth_notify(void (*fn)(void *), void *arg)
{
	struct auth_note *n;

	if ((n = malloc(sizeof(*n))) == NULL)
		return -1;
	n->fn = fn;
	n->arg = arg;
	pthread_mutex_lock(&auth_note_lock);
	n->next = auth_notes;
	auth_notes = n;
	pthread_mutex_unlock(&auth_note_lock);
	if (auth_note_pipe[1] != -1)
		(void)write(auth_note_pipe[1], "", 1);
	return 0;
}

static int
auth_note_init(struct event_base *base)
{
	if (auth_note_ev != NULL)
		return 0;
	if (pipe2(auth_note_pipe, O_NONBLOCK | O_CLOEXEC) == -1)
		return -1;
	auth_note_ev = event_new(base, auth_note_pipe[0], EV_READ | EV_PERSIST,
	    auth_on_note, NULL);
	if (auth_note_ev == NULL || event_add(auth_note_ev, NULL) == -1)
		return -1;
	return 0;
}

static void
auth_note_free(void)
{
	if (auth_note_ev != NULL)
		event_free(auth_note_ev);
	auth_note_ev = NULL;
	for (int i = 0; i < 2; i++) {
		if (auth_note_pipe[i] != -1)
			close(auth_note_pipe[i]);
		auth_note_pipe[i] = -1;
	}
}

/* Requests. */

static void
auth_request_free(struct wsh_auth_request *q)
{
	for (size_t i = 0; i < q->nstrs; i++)
		free(q->strs[i]);
	free(q->strs);
	for (size_t i = 0; i < q->nsub; i++)
		free(q->sub[i]);
	for (size_t i = 0; i < q->npub; i++)
		free(q->pub[i]);
	free(q->user);
	free(q->own);
	free(q->head);
	free(q->stash);
	auth_plugin_unref(q->plugin);
	free(q);
}

/* Remember a string handed to the plugin; it lives with the request. */
static const char *
auth_keep(struct wsh_auth_request *q, const char *p, size_t len)
{
	char **n, *s;

	if ((n = realloc(q->strs, (q->nstrs + 1) * sizeof(*n))) == NULL)
		return "";
	q->strs = n;
	if ((s = malloc(len + 1)) == NULL)
		return "";
	memcpy(s, p, len);
	s[len] = '\0';
	q->strs[q->nstrs++] = s;
	return s;
}

static void
auth_addr_text(const struct sockaddr_storage *ss, char *buf, size_t len,
    int *port)
{
	snprintf(buf, len, "?");
	*port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, buf, (socklen_t)len);
		*port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, buf, (socklen_t)len);
		*port = ntohs(sin6->sin6_port);
	}
}

static struct wsh_auth_request *
auth_request_new(struct auth *a, struct conn *c, int kind,
    const struct route *r, const struct http_request *req)
{
	struct wsh_auth_request *q;
	struct sockaddr_storage ss;
	socklen_t sl;
	char host[64];
	int port;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	q->auth = a;
	q->plugin = a->plugin;
	q->plugin->refs++;
	q->conn_id = c->id;
	q->kind = kind;
	q->verdict = -1;
	q->hreq = req;
	if (r != NULL)
		snprintf(q->route, sizeof(q->route), "%s%s", r->cfg->path,
		    r->cfg->prefix ? "*" : "");
	sl = sizeof(ss);
	if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) == 0)
		auth_addr_text(&ss, q->peer, sizeof(q->peer), &q->peer_port);
	sl = sizeof(ss);
	if (getsockname(c->fd, (struct sockaddr *)&ss, &sl) == 0) {
		auth_addr_text(&ss, host, sizeof(host), &port);
		snprintf(q->listener, sizeof(q->listener),
		    ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, port);
	}
	tls_subject(c, q->tls_subject, sizeof(q->tls_subject));
	return q;
}

/*
 * The request outlives the caller's parsed head: copy the head and parse
 * the copy, so the accessors keep working while the plugin waits.
 */
static int
auth_request_own(struct wsh_auth_request *q)
{
	struct http_limits lim = { .max_headers = HTTP_MAX_HEADERS_HARD };
	size_t len = q->hreq->head_len;

	if (q->own != NULL)
		return 0;
	lim.max_head = len;
	if ((q->head = malloc(len)) == NULL ||
	    (q->own = malloc(sizeof(*q->own))) == NULL)
		return -1;
	memcpy(q->head, q->hreq->method.p, len);
	if (http_parse_request(q->head, len, &lim, q->own, NULL) != (int)len)
		return -1;
	q->hreq = q->own;
	return 0;
}

/* Turn an allowed request's result into the connection's identity. */
static int
auth_apply(struct auth *a, struct conn *c, struct wsh_auth_request *q,
    struct auth_denial *deny)
{
	struct ident *id;

	if (q->kind == AUTH_KIND_REFRESH && c->ident != NULL &&
	    strcmp(c->ident->user, q->user != NULL ? q->user : "") != 0) {
		deny->status = 403;
		snprintf(deny->reason, sizeof(deny->reason),
		    "a refresh cannot change the user");
		return -1;
	}
	q->sub[q->nsub] = NULL;
	q->pub[q->npub] = NULL;
	id = ident_intern(&a->idents, q->user != NULL ? q->user : "", q->sub,
	    q->pub, q->expires);
	if (id == NULL) {
		deny->status = 500;
		snprintf(deny->reason, sizeof(deny->reason), "out of memory");
		return -1;
	}
	if (ident_attach(&a->idents, c, id) == -1) {
		ident_release(&a->idents, id);
		deny->status = 500;
		snprintf(deny->reason, sizeof(deny->reason), "out of memory");
		return -1;
	}
	ident_release(&a->idents, id);
	return 0;
}

/* Turn the plugin's answer into a verdict for the connection. */
static enum auth_verdict
auth_conclude(struct auth *a, struct conn *c, struct wsh_auth_request *q,
    int verdict, struct auth_denial *deny)
{
	if (verdict == WSH_AUTH_ALLOW && q->expires != 0 &&
	    q->expires <= (int64_t)time(NULL)) {
		verdict = WSH_AUTH_DENY;
		q->deny_status = 401;
		snprintf(q->deny_reason, sizeof(q->deny_reason),
		    "credential expired");
	}
	if (verdict == WSH_AUTH_ALLOW && auth_apply(a, c, q, deny) == 0) {
		a->srv->stats.auth_allowed++;
		log_debug("conn %016" PRIx64 ": authenticated as '%s'", c->id,
		    q->user != NULL ? q->user : "");
		return AUTH_ALLOW;
	}
	if (verdict != WSH_AUTH_ALLOW) {
		if (verdict != WSH_AUTH_DENY)
			log_warn("auth plugin %s: decide returned %d; denied",
			    q->plugin->path, verdict);
		deny->status = q->deny_status != 0 ? q->deny_status : 403;
		snprintf(deny->reason, sizeof(deny->reason), "%s",
		    q->deny_reason[0] != '\0' ? q->deny_reason :
		    deny->status == 401 ? "authentication required" :
		    "forbidden");
	}
	a->srv->stats.auth_denied++;
	log_info("conn %016" PRIx64 ": authentication refused: %d %s", c->id,
	    deny->status, deny->reason);
	return AUTH_DENY;
}

static void
auth_pause(struct conn *c, int pause)
{
	if (c->state == CONN_HTTP)
		conn_pause_read(c, pause);
}

/* A pending request is answered, timed out or abandoned: finish it. */
static void
auth_finish(struct wsh_auth_request *q, int verdict, int timed_out)
{
	struct auth *a = q->auth;
	struct auth_denial deny = { 0, "" };
	enum auth_verdict v;
	struct conn *c;

	TAILQ_REMOVE(&a->pending, q, link);
	q->auth = NULL;
	c = idmap_get(&a->srv->conns, q->conn_id);
	if (c != NULL && c->state == CONN_DEAD)
		c = NULL;
	if (timed_out) {
		a->srv->stats.auth_timeouts++;
		deny.status = 503;
		snprintf(deny.reason, sizeof(deny.reason),
		    "authentication timed out");
		v = AUTH_DENY;
		if (c != NULL)
			log_warn("conn %016" PRIx64 ": auth plugin gave no "
			    "answer within %.1fs", c->id, a->timeout);
	} else if (c != NULL)
		v = auth_conclude(a, c, q, verdict, &deny);
	else
		v = AUTH_DENY;
	if (q->kind == AUTH_KIND_REFRESH) {
		if (q->done != NULL)
			q->done(c, q->done_arg, v == AUTH_ALLOW,
			    v == AUTH_ALLOW ? NULL : deny.reason);
		q->done = NULL;
	} else if (c != NULL) {
		uint8_t *stash = q->stash;
		size_t stash_len = q->stash_len;

		q->stash = NULL;
		auth_pause(c, 0);
		h1_auth_done(c, q->kind, v == AUTH_ALLOW, &deny, stash,
		    stash_len);
		free(stash);
	}
}

void
wsh_auth_complete(struct wsh_auth_request *q, int verdict)
{
	if (q->verdict != -1) {
		log_warn("auth plugin %s: request completed twice",
		    q->plugin->path);
		return;
	}
	q->verdict = verdict;
	/* Answered inside decide(): decide's caller takes it from there. */
	if (q->in_decide)
		return;
	if (q->auth != NULL)
		auth_finish(q, verdict, 0);
	auth_request_free(q);
}

/* Run decide(); returns the plugin's verdict. */
static int
auth_call(struct wsh_auth_request *q)
{
	int v;

	q->in_decide = 1;
	v = q->plugin->decide(q->plugin->state, q);
	q->in_decide = 0;
	/* wsh_auth_complete() during decide() answers the request. */
	if (q->verdict != -1)
		return q->verdict;
	if (v == WSH_AUTH_PENDING)
		return v;
	q->verdict = v;
	return v;
}

/* Queue a request the plugin will answer later; -1 when it cannot wait. */
static int
auth_wait(struct auth *a, struct wsh_auth_request *q)
{
	if (auth_request_own(q) == -1)
		return -1;
	q->pending = 1;
	q->deadline_ms = auth_now_ms() + (uint64_t)(a->timeout * 1000);
	TAILQ_INSERT_TAIL(&a->pending, q, link);
	return 0;
}

enum auth_verdict
auth_decide(struct conn *c, int kind, const struct route *r,
    const struct http_request *req, struct auth_denial *deny)
{
	struct auth *a = c->srv->auth;
	struct wsh_auth_request *q;
	enum auth_verdict v;
	int rv;

	deny->status = 0;
	deny->reason[0] = '\0';
	if (a == NULL || a->plugin == NULL)
		return AUTH_ALLOW;
	if ((q = auth_request_new(a, c, kind, r, req)) == NULL) {
		deny->status = 500;
		snprintf(deny->reason, sizeof(deny->reason), "out of memory");
		return AUTH_DENY;
	}
	rv = auth_call(q);
	if (rv == WSH_AUTH_PENDING) {
		if (auth_wait(a, q) == 0) {
			auth_pause(c, 1);
			return AUTH_PENDING;
		}
		/* The plugin keeps |q| and completes it later: detach it. */
		q->auth = NULL;
		q->pending = 1;
		deny->status = 500;
		snprintf(deny->reason, sizeof(deny->reason), "out of memory");
		if (q->plugin->cancel != NULL)
			q->plugin->cancel(q->plugin->state, q);
		return AUTH_DENY;
	}
	v = auth_conclude(a, c, q, rv, deny);
	q->hreq = NULL;
	auth_request_free(q);
	return v;
}

int
auth_stash(struct conn *c, const uint8_t *buf, size_t len)
{
	struct auth *a = c->srv->auth;
	struct wsh_auth_request *q;
	uint8_t *p;

	if (a == NULL)
		return -1;
	TAILQ_FOREACH(q, &a->pending, link)
		if (q->conn_id == c->id && q->kind != AUTH_KIND_REFRESH)
			break;
	if (q == NULL || q->stash_len + len > AUTH_STASH_MAX ||
	    (p = realloc(q->stash, q->stash_len + len)) == NULL)
		return -1;
	memcpy(p + q->stash_len, buf, len);
	q->stash = p;
	q->stash_len += len;
	return 0;
}

void
auth_refresh(struct conn *c, const char *token, size_t len,
    void (*done)(struct conn *, void *, int, const char *), void *arg)
{
	struct auth *a = c->srv->auth;
	struct http_limits lim = { .max_headers = HTTP_MAX_HEADERS_HARD };
	struct http_request *req = NULL;
	struct wsh_auth_request *q = NULL;
	struct auth_denial deny;
	char *head = NULL;
	int n, rv;

	if (a == NULL || a->plugin == NULL) {
		done(c, arg, 0, "no authenticator is configured");
		return;
	}
	if (len == 0 || len > AUTH_TOKEN_MAX ||
	    memchr(token, '\r', len) != NULL ||
	    memchr(token, '\n', len) != NULL ||
	    memchr(token, '\0', len) != NULL) {
		done(c, arg, 0, "invalid token");
		return;
	}
	/*
	 * A refresh reaches the plugin as a request whose only header is
	 * Authorization: Bearer, so a plugin that reads bearer tokens needs
	 * nothing more for it.
	 */
	n = asprintf(&head, "REFRESH %s HTTP/1.1\r\nAuthorization: Bearer "
	    "%.*s\r\n\r\n", c->route != NULL ? c->route->cfg->path : "/",
	    (int)len, token);
	if (n < 0 || (req = malloc(sizeof(*req))) == NULL) {
		if (n < 0)
			head = NULL;
		goto oom;
	}
	lim.max_head = (size_t)n;
	if (http_parse_request(head, (size_t)n, &lim, req, NULL) != n) {
		free(head);
		free(req);
		done(c, arg, 0, "invalid token");
		return;
	}
	if ((q = auth_request_new(a, c, AUTH_KIND_REFRESH, c->route, req)) ==
	    NULL)
		goto oom;
	q->head = head;
	q->own = req;
	q->done = done;
	q->done_arg = arg;
	rv = auth_call(q);
	if (rv == WSH_AUTH_PENDING) {
		auth_wait(a, q);
		return;
	}
	if (auth_conclude(a, c, q, rv, &deny) == AUTH_ALLOW)
		done(c, arg, 1, NULL);
	else
		done(c, arg, 0, deny.reason);
	auth_request_free(q);
	return;
oom:
	free(head);
	free(req);
	done(c, arg, 0, "out of memory");
}

void
auth_conn_gone(struct conn *c)
{
	struct auth *a = c->srv->auth;
	struct wsh_auth_request *q, *next;

	if (a == NULL)
		return;
	ident_attach(&a->idents, c, NULL);
	for (q = TAILQ_FIRST(&a->pending); q != NULL; q = next) {
		next = TAILQ_NEXT(q, link);
		if (q->conn_id != c->id)
			continue;
		/* The plugin still completes it; its answer is dropped. */
		TAILQ_REMOVE(&a->pending, q, link);
		q->auth = NULL;
		if (q->done != NULL)
			q->done(NULL, q->done_arg, 0, "connection closed");
		q->done = NULL;
		if (q->plugin->cancel != NULL)
			q->plugin->cancel(q->plugin->state, q);
	}
}

void
auth_conn_reset(struct conn *c)
{
	if (c->srv->auth != NULL && c->ident != NULL)
		ident_attach(&c->srv->auth->idents, c, NULL);
}

int
auth_enabled(const struct server *srv)
{
	return srv->auth != NULL && srv->auth->plugin != NULL;
}

size_t
auth_user_foreach(struct server *srv, const char *user,
    void (*fn)(struct conn *, void *), void *arg)
{
	if (srv->auth == NULL)
		return 0;
	return ident_foreach_conn(&srv->auth->idents, user, fn, arg);
}

size_t
auth_user_count(const struct server *srv)
{
	return srv->auth != NULL ? srv->auth->idents.count : 0;
}

/* Close every open WebSocket whose credential has expired. */
static void
auth_expire(struct auth *a)
{
	int64_t now = (int64_t)time(NULL);
	struct ident *id;
	struct conn *c, *next;

	while ((id = ident_expired(&a->idents, now)) != NULL) {
		ident_unexpire(&a->idents, id);
		/* Hold it: closing may detach its last connection. */
		ident_ref(id);
		for (c = LIST_FIRST(&id->conns); c != NULL; c = next) {
			next = LIST_NEXT(c, ext->ident_link);
			if (c->state != CONN_WS)
				continue;
			a->srv->stats.auth_expired++;
			log_info("conn %016" PRIx64 ": credential of '%s' "
			    "expired", c->id, id->user);
			conn_close(c, AUTH_CLOSE_EXPIRED, "credential expired");
		}
		ident_release(&a->idents, id);
	}
}

static void
auth_on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct auth *a = arg;
	struct wsh_auth_request *q;
	uint64_t now = auth_now_ms();

	while ((q = TAILQ_FIRST(&a->pending)) != NULL &&
	    q->deadline_ms <= now) {
		struct auth_plugin *p = q->plugin;

		auth_finish(q, WSH_AUTH_DENY, 1);
		if (p->cancel != NULL)
			p->cancel(p->state, q);
	}
	auth_expire(a);
}

int
auth_new(struct server *srv, const struct config *cfg, char **cause)
{
	struct timeval tv = { 0, AUTH_SWEEP_MS * 1000 };
	struct auth *a;

	*cause = NULL;
	srv->auth = NULL;
	if (cfg->auth.plugin == NULL || cfg->auth.plugin[0] == '\0')
		return 0;
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		*cause = strdup("out of memory");
		return -1;
	}
	a->srv = srv;
	a->timeout = cfg->auth.timeout;
	ident_table_init(&a->idents);
	TAILQ_INIT(&a->pending);
	if ((a->plugin = auth_plugin_start(cfg, cause)) == NULL) {
		free(a);
		return -1;
	}
	if (auth_note_init(srv->base) == -1) {
		*cause = auth_printf("cannot set up plugin notifications: %s",
		    strerror(errno));
		auth_plugin_unref(a->plugin);
		free(a);
		return -1;
	}
	event_assign(&a->sweep_ev, srv->base, -1, EV_PERSIST, auth_on_sweep, a);
	event_add(&a->sweep_ev, &tv);
	srv->auth = a;
	log_notice("auth plugin %s loaded (ABI version %d)", a->plugin->path,
	    a->plugin->abi);
	return 0;
}

int
auth_reload(struct server *srv, const struct config *cfg, char **cause)
{
	struct auth *a = srv->auth;
	struct auth_plugin *p;
	struct wsh_auth_setup setup;
	char why[512];

	*cause = NULL;
	if (a == NULL)
		return auth_new(srv, cfg, cause);
	a->timeout = cfg->auth.timeout;
	if (cfg->auth.plugin == NULL || cfg->auth.plugin[0] == '\0') {
		/*
		 * Authentication switched off: identities stay with their
		 * connections (and expire), new requests are all allowed.
		 */
		log_notice("auth plugin %s unloaded", a->plugin != NULL ?
		    a->plugin->path : "(none)");
		auth_plugin_unref(a->plugin);
		a->plugin = NULL;
		return 0;
	}
	p = a->plugin;
	if (p != NULL && p->reload != NULL &&
	    strcmp(p->path, cfg->auth.plugin) == 0) {
		why[0] = '\0';
		auth_setup_fill(&setup, cfg, p->abi);
		if (p->reload(p->state, &setup, why, sizeof(why)) != 0) {
			*cause = auth_printf("%s: auth plugin %s: %s", cfg->file,
			    p->path, why[0] != '\0' ? why : "reload failed");
			return -1;
		}
		log_notice("auth plugin %s reloaded", p->path);
		return 0;
	}
	if ((p = auth_plugin_start(cfg, cause)) == NULL)
		return -1;
	/* Pending requests hold the old one until they are answered. */
	auth_plugin_unref(a->plugin);
	a->plugin = p;
	log_notice("auth plugin %s loaded (ABI version %d)", p->path, p->abi);
	return 0;
}

void
auth_free(struct server *srv)
{
	struct auth *a = srv->auth;
	struct wsh_auth_request *q;

	if (a == NULL)
		return;
	while ((q = TAILQ_FIRST(&a->pending)) != NULL) {
		TAILQ_REMOVE(&a->pending, q, link);
		q->auth = NULL;
		if (q->done != NULL)
			q->done(NULL, q->done_arg, 0, "shutting down");
		q->done = NULL;
		if (q->plugin->cancel != NULL)
			q->plugin->cancel(q->plugin->state, q);
	}
	if (event_initialized(&a->sweep_ev))
		event_del(&a->sweep_ev);
	/* Connections may outlive us (they are freed later): forget them. */
	for (size_t i = 0; srv->conns.slots != NULL && i <= srv->conns.mask;
	    i++)
		if (srv->conns.slots[i].key != 0)
			ident_attach(&a->idents,
			    (struct conn *)srv->conns.slots[i].val, NULL);
	auth_plugin_unref(a->plugin);
	/* Connections are gone by now; what is left is unreferenced. */
	ident_table_clear(&a->idents);
	free(a);
	srv->auth = NULL;
	auth_note_free();
}

/* Origins. */

/* Split "scheme://host[:port]" at the host. */
static int
auth_origin_split(const char *s, size_t len, size_t *host, size_t *hostlen)
{
	const char *p = memchr(s, ':', len);
	size_t h;

	if (p == NULL || (size_t)(p - s) + 3 > len || p[1] != '/' ||
	    p[2] != '/')
		return -1;
	h = (size_t)(p - s) + 3;
	if (h >= len)
		return -1;
	*host = h;
	*hostlen = len - h;
	return 0;
}

int
auth_origin_valid(const char *e)
{
	size_t h, hl, len = strlen(e);

	if (auth_origin_split(e, len, &h, &hl) == -1)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (e[i] <= ' ' || e[i] >= 0x7f || (e[i] == '/' && i >= h))
			return 0;
	/* A star only as the whole first label. */
	for (size_t i = 0; i < len; i++)
		if (e[i] == '*' && (i != h || len - h < 3 || e[i + 1] != '.'))
			return 0;
	return 1;
}

static int
auth_origin_match(const char *e, const char *o, size_t olen)
{
	size_t elen = strlen(e), eh, ehl, oh, ohl, dl;

	if (e[0] == '*' && e[1] == '\0')
		return 1;
	if (auth_origin_split(e, elen, &eh, &ehl) == -1 ||
	    auth_origin_split(o, olen, &oh, &ohl) == -1)
		return 0;
	/* The schemes. */
	if (eh != oh || strncasecmp(e, o, eh) != 0)
		return 0;
	if (e[eh] != '*')
		return ehl == ohl && strncasecmp(e + eh, o + oh, ohl) == 0;
	/*
	 * "*.example.com" takes any host ending in ".example.com" with at
	 * least one label before it, and the same port.
	 */
	dl = ehl - 1;
	return ohl > dl && strncasecmp(e + eh + 1, o + olen - dl, dl) == 0 &&
	    memchr(o + oh, ':', ohl - dl) == NULL &&
	    memchr(o + oh, '/', ohl - dl) == NULL && o[olen - dl - 1] != '.';
}

int
auth_origin_ok(char *const *origins, const char *origin, size_t len)
{
	if (origins == NULL || origins[0] == NULL || len == 0)
		return 1;
	for (size_t i = 0; origins[i] != NULL; i++)
		if (auth_origin_match(origins[i], origin, len))
			return 1;
	return 0;
}

int
auth_protocol_is_credential(const char *p, size_t len)
{
	size_t n = sizeof(AUTH_PROTOCOL_PREFIX) - 1;

	return len >= n && strncasecmp(p, AUTH_PROTOCOL_PREFIX, n) == 0;
}

/* What plugins call. */

int
wsh_auth_request_kind(const struct wsh_auth_request *q)
{
	return q->kind;
}

static const char *
auth_str(struct wsh_auth_request *q, struct http_str s)
{
	return auth_keep(q, s.p != NULL ? s.p : "", s.p != NULL ? s.len : 0);
}

const char *
wsh_auth_request_method(struct wsh_auth_request *q)
{
	return q->hreq != NULL ? auth_str(q, q->hreq->method) : "";
}

const char *
wsh_auth_request_path(struct wsh_auth_request *q)
{
	return q->hreq != NULL ? auth_str(q, q->hreq->path) : "";
}

const char *
wsh_auth_request_query(struct wsh_auth_request *q)
{
	return q->hreq != NULL ? auth_str(q, q->hreq->query) : "";
}

const char *
wsh_auth_request_query_param(struct wsh_auth_request *q, const char *name)
{
	const char *s;
	char *out;
	long n;

	if (q->hreq == NULL)
		return NULL;
	/* A value decodes to no more bytes than the query has. */
	if ((out = malloc(q->hreq->query.len + 1)) == NULL)
		return NULL;
	n = http_query_param(q->hreq->query, name, out,
	    q->hreq->query.len + 1);
	s = n >= 0 ? auth_keep(q, out, (size_t)n) : NULL;
	free(out);
	return s;
}

const char *
wsh_auth_request_header(struct wsh_auth_request *q, const char *name)
{
	struct http_str v;

	if (q->hreq == NULL)
		return NULL;
	for (unsigned i = 0; i < q->hreq->nheaders; i++) {
		if (!http_str_eq(q->hreq->headers[i].name, name))
			continue;
		v = q->hreq->headers[i].value;
		while (v.len > 0 && (v.p[0] == ' ' || v.p[0] == '\t')) {
			v.p++;
			v.len--;
		}
		while (v.len > 0 && (v.p[v.len - 1] == ' ' ||
		    v.p[v.len - 1] == '\t'))
			v.len--;
		return auth_str(q, v);
	}
	return NULL;
}

int
wsh_auth_request_header_count(const struct wsh_auth_request *q)
{
	return q->hreq != NULL ? (int)q->hreq->nheaders : 0;
}

const char *
wsh_auth_request_header_at(struct wsh_auth_request *q, int i,
    const char **value)
{
	if (q->hreq == NULL || i < 0 || (unsigned)i >= q->hreq->nheaders) {
		if (value != NULL)
			*value = NULL;
		return NULL;
	}
	if (value != NULL)
		*value = auth_str(q, q->hreq->headers[i].value);
	return auth_str(q, q->hreq->headers[i].name);
}

const char *
wsh_auth_request_peer_address(struct wsh_auth_request *q)
{
	return q->peer;
}

int
wsh_auth_request_peer_port(const struct wsh_auth_request *q)
{
	return q->peer_port;
}

const char *
wsh_auth_request_tls_subject(struct wsh_auth_request *q)
{
	return q->tls_subject;
}

const char *
wsh_auth_request_listener(struct wsh_auth_request *q)
{
	return q->listener;
}

const char *
wsh_auth_request_route(struct wsh_auth_request *q)
{
	return q->route;
}

uint64_t
wsh_auth_request_connection_id(const struct wsh_auth_request *q)
{
	return q->conn_id;
}

/* A user name or pattern: 1-255 bytes, no control characters. */
static int
auth_name_ok(const char *s)
{
	size_t len;

	if (s == NULL || (len = strlen(s)) == 0 || len > AUTH_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

int
wsh_auth_set_user(struct wsh_auth_request *q, const char *user)
{
	char *u;

	if (!auth_name_ok(user) || (u = strdup(user)) == NULL)
		return -1;
	free(q->user);
	q->user = u;
	return 0;
}

static int
auth_add(char **list, size_t *n, const char *pattern)
{
	if (!auth_name_ok(pattern) || *n >= AUTH_PATTERNS_MAX)
		return -1;
	for (size_t i = 0; i < *n; i++)
		if (strcmp(list[i], pattern) == 0)
			return 0;
	if ((list[*n] = strdup(pattern)) == NULL)
		return -1;
	(*n)++;
	return 0;
}

int
wsh_auth_add_subscribe(struct wsh_auth_request *q, const char *pattern)
{
	return auth_add(q->sub, &q->nsub, pattern);
}

int
wsh_auth_add_publish(struct wsh_auth_request *q, const char *pattern)
{
	return auth_add(q->pub, &q->npub, pattern);
}

int
wsh_auth_set_expiry(struct wsh_auth_request *q, int64_t when)
{
	if (when < 0)
		return -1;
	q->expires = when;
	return 0;
}

int
wsh_auth_set_deny(struct wsh_auth_request *q, int status, const char *reason)
{
	if (status < 400 || status > 599)
		return -1;
	q->deny_status = status;
	snprintf(q->deny_reason, sizeof(q->deny_reason), "%s",
	    reason != NULL ? reason : "");
	/* The reason goes into a response: keep it to printable ASCII. */
	for (char *p = q->deny_reason; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return 0;
}

void
wsh_auth_log(int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	switch (level) {
	case WSH_AUTH_LOG_ERR:
		log_err("auth: %s", buf);
		break;
	case WSH_AUTH_LOG_WARNING:
		log_warn("auth: %s", buf);
		break;
	case WSH_AUTH_LOG_INFO:
		log_info("auth: %s", buf);
		break;
	default:
		log_debug("auth: %s", buf);
		break;
	}
}
