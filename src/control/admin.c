/* The admin socket: a Unix socket with peer credentials checked, a versioned line protocol and one command table. */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "control/admin.h"
#include "control/config.h"
#include "control/metrics.h"
#include "control/notify.h"
#include "control/reload.h"
#include "hub/channel.h"
#include "hub/engine.h"
#include "hub/handlers.h"
#include "hub/hub.h"
#include "hub/ident.h"
#include "hub/server.h"
#include "transport/tls.h"
#include "proto/frame.h"
#include "proto/session.h"
#include "proto/utf8.h"
#include "transport/conn.h"
#include "transport/listener.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/msg.h"

/* Words of a command line, the command included. */
#define ADMIN_ARGS_MAX		8
/* Output a session may have unread before its input is paused. */
#define ADMIN_OUT_HIGH		(4 * 1024 * 1024)
/* Bytes of a close reason (a close frame carries at most 125). */
#define ADMIN_REASON_MAX	123
/* A command line besides its message: a base64 message takes 4/3. */
#define ADMIN_LINE_SLACK	4096

/* Command flags. */
#define ADMIN_F_REST	0x01	/* the last argument is the rest of the line */
#define ADMIN_F_PAYLOAD	0x02	/* -b / -t may come first: base64 message */

struct admin_client {
	struct admin		*admin;
	struct bufferevent	*bev;
	uid_t			 uid;
	LIST_ENTRY(admin_client) link;
	int			 closing;	/* close once output is written */
	uint64_t		 serial;	/* finds it again, see admin_defer() */
	int			 waiting;	/* for other nodes' answer */
};

struct admin {
	struct server		*srv;
	int			 fd;
	struct event		 ev;
	char			*path;		/* the file we bound, or NULL */
	struct listener_passed	*passed;	/* systemd's socket, or NULL */
	uid_t			*uids;		/* admin_allow_users */
	size_t			 nuids;
	gid_t			*gids;		/* admin_allow_groups */
	size_t			 ngids;
	LIST_HEAD(, admin_client) clients;
	size_t			 nclients;
	uint64_t		 next_serial;
};

/* One command being run. */
struct admin_call {
	struct server		*srv;
	struct admin_client	*client;	/* NULL from admin_exec_line() */
	int			 argc;		/* after the command name */
	char			*argv[ADMIN_ARGS_MAX];
	int			 binary;	/* -b: the message is base64 */
	int			 b64text;	/* -t: base64 of a text message */
	json_t			*result;	/* the answer of a command */
	char			*error;		/* or its error, malloc'd */
	const char		*code;		/* the error's code */
	int			 close;		/* end the session after */
	int			 deferred;	/* answered later (admin_defer) */
};

struct admin_cmd {
	const char	*name;
	const char	*usage;
	int		 minargs;	/* arguments after the name */
	int		 maxargs;
	int		 flags;		/* ADMIN_F_* */
	void		(*exec)(struct admin_call *);
	const char	*doc;
};

static int	admin_id_arg(struct admin_call *, const char *, uint64_t *);
static void	admin_cmd_help(struct admin_call *);
static void	admin_cmd_version(struct admin_call *);
static void	admin_cmd_stats(struct admin_call *);
static void	admin_cmd_conns(struct admin_call *);
static void	admin_cmd_conn(struct admin_call *);
static void	admin_cmd_channels(struct admin_call *);
static void	admin_cmd_channel(struct admin_call *);
static void	admin_cmd_send(struct admin_call *);
static void	admin_cmd_broadcast(struct admin_call *);
static void	admin_cmd_publish(struct admin_call *);
static void	admin_cmd_kick(struct admin_call *);
static void	admin_cmd_reload(struct admin_call *);
static void	admin_cmd_loglevel(struct admin_call *);
static void	admin_cmd_shutdown(struct admin_call *);
static void	admin_cmd_quit(struct admin_call *);

/*
 * Every admin command. `help`, wshubctl's completion, docs/ADMIN.md and
 * wshubctl(8) follow these rows.
 */
static const struct admin_cmd admin_cmds[] = {
	{ "help", "help [COMMAND]", 0, 1, 0, admin_cmd_help,
	  "List the commands, or show one." },
	{ "version", "version", 0, 0, 0, admin_cmd_version,
	  "The daemon's version and the admin protocol version." },
	{ "stats", "stats", 0, 0, 0, admin_cmd_stats,
	  "Counters: connections per route, channels, messages, bytes, drops, "
	  "reloads, memory." },
	{ "conns", "conns [ROUTE|CHANNEL]", 0, 1, 0, admin_cmd_conns,
	  "List open WebSocket connections, all or those of a route (a path "
	  "starting with /) or of a channel." },
	{ "conn", "conn ID [debug on|off]", 1, 3, 0, admin_cmd_conn,
	  "Debug information of one connection; 'debug on' records its "
	  "recent frames until 'debug off'." },
	{ "channels", "channels", 0, 0, 0, admin_cmd_channels,
	  "List channels with subscribers, last sequence number and history." },
	{ "channel", "channel NAME", 1, 1, 0, admin_cmd_channel,
	  "One channel: subscribers, sequence number, epoch, history." },
	{ "send", "send [-b|-t] ID MSG", 2, 2, ADMIN_F_REST | ADMIN_F_PAYLOAD,
	  admin_cmd_send, "sendOne: MSG (the rest of the line) to one "
	  "connection." },
	{ "broadcast", "broadcast [-b|-t] ROUTE MSG", 2, 2,
	  ADMIN_F_REST | ADMIN_F_PAYLOAD, admin_cmd_broadcast,
	  "sendAll: MSG to every connection of a route." },
	{ "publish", "publish [-b|-t] CHANNEL MSG", 2, 2,
	  ADMIN_F_REST | ADMIN_F_PAYLOAD, admin_cmd_publish,
	  "Publish MSG on a channel (kept in its history)." },
	{ "kick", "kick ID [CODE [REASON]]", 1, 3, ADMIN_F_REST,
	  admin_cmd_kick, "Close a connection with CODE (default 1000) and "
	  "REASON." },
	{ "reload", "reload", 0, 0, 0, admin_cmd_reload,
	  "Re-read the config file and apply it without dropping connections; "
	  "reports what could not be applied." },
	{ "loglevel", "loglevel [LEVEL]", 0, 1, 0, admin_cmd_loglevel,
	  "Show or set the log level: error, warning, notice, info, debug." },
	{ "shutdown", "shutdown [GRACE]", 0, 1, 0, admin_cmd_shutdown,
	  "Stop gracefully: close 1001 to every client, exit within GRACE "
	  "seconds (default shutdown_timeout)." },
	{ "quit", "quit", 0, 0, 0, admin_cmd_quit,
	  "End this admin session." },
};

#define ADMIN_NCMDS	(sizeof(admin_cmds) / sizeof(admin_cmds[0]))

static void	admin_fail(struct admin_call *, const char *, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static char	*admin_answer(struct admin_call *);
static void	 admin_call_clear(struct admin_call *);
static void	 admin_on_read(struct bufferevent *, void *);
static void	 admin_defer(struct admin_call *, int, const char *,
		    struct cluster_cb *);
static uint64_t	 admin_cookie(const struct admin_call *);
static void	 admin_channel_done(struct server *, const struct cluster_cb *,
		    const struct cluster_result *);
static json_t	*admin_cluster_json(struct server *);

static void
admin_fail(struct admin_call *call, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (call->error != NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&call->error, fmt, ap) == -1)
		call->error = NULL;
	va_end(ap);
	call->code = code;
}

static void
admin_ok(struct admin_call *call, json_t *res)
{
	if (res == NULL) {
		admin_fail(call, "internal", "out of memory");
		return;
	}
	call->result = res;
}

static const struct admin_cmd *
admin_cmd_find(const char *name)
{
	for (size_t i = 0; i < ADMIN_NCMDS; i++)
		if (strcmp(admin_cmds[i].name, name) == 0)
			return &admin_cmds[i];
	return NULL;
}

static json_t *
admin_cmd_json(const struct admin_cmd *cmd)
{
	return json_pack("{s:s, s:s, s:s}", "command", cmd->name, "usage",
	    cmd->usage, "doc", cmd->doc);
}

static void
admin_cmd_help(struct admin_call *call)
{
	const struct admin_cmd *cmd;
	json_t *list;

	if (call->argc == 1) {
		if ((cmd = admin_cmd_find(call->argv[0])) == NULL) {
			admin_fail(call, "not_found", "no such command: %s",
			    call->argv[0]);
			return;
		}
		admin_ok(call, admin_cmd_json(cmd));
		return;
	}
	if ((list = json_array()) == NULL) {
		admin_ok(call, NULL);
		return;
	}
	for (size_t i = 0; i < ADMIN_NCMDS; i++)
		json_array_append_new(list, admin_cmd_json(&admin_cmds[i]));
	admin_ok(call, json_pack("{s:i, s:o}", "protocol", ADMIN_PROTOCOL,
	    "commands", list));
}

static void
admin_cmd_version(struct admin_call *call)
{
	admin_ok(call, json_pack("{s:s, s:s, s:i, s:b}", "server", "wshubd",
	    "version", PACKAGE_VERSION, "protocol", ADMIN_PROTOCOL,
	    "systemd", notify_supported()));
}

/* A connection id as the handshake header shows it. */
static void
admin_id_text(uint64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "%016" PRIx64, id);
}

/* The connection named by |s| (16 hex digits), or NULL after an error. */
static struct conn *
admin_conn_arg(struct admin_call *call, const char *s, int ws_only)
{
	uint64_t id;
	struct conn *c;

	if (admin_id_arg(call, s, &id) == -1)
		return NULL;
	c = idmap_get(&call->srv->conns, id);
	if (c == NULL || (ws_only && (c->state != CONN_WS ||
	    c->route == NULL))) {
		admin_fail(call, "not_found", "no such WebSocket connection: %s",
		    s);
		return NULL;
	}
	return c;
}

/* The route configured as |path|; a prefix route may omit its star. */
static struct route *
admin_route_arg(struct server *srv, const char *path)
{
	size_t len = strlen(path);

	for (size_t i = 0; i < srv->nroutes; i++) {
		const struct config_route *rc = srv->routes[i]->cfg;
		size_t plen = strlen(rc->path);

		if (strcmp(path, rc->path) == 0)
			return srv->routes[i];
		if (rc->prefix && len == plen + 1 &&
		    memcmp(path, rc->path, plen) == 0 && path[plen] == '*')
			return srv->routes[i];
	}
	return NULL;
}

/* Seconds a connection has been open. */
static double
admin_age(const struct server *srv, const struct conn *c)
{
	return (double)(srv->tick - c->born) * SERVER_TICK_MS / 1000.0;
}

static void
admin_cmd_stats(struct admin_call *call)
{
	struct server *srv = call->srv;
	const struct server_stats *st = &srv->stats;
	struct metrics_process proc;
	json_t *routes, *res;
	struct route *r;
	size_t ws = 0;

	if ((routes = json_array()) == NULL) {
		admin_ok(call, NULL);
		return;
	}
	for (size_t i = 0; i < srv->nroutes; i++) {
		r = srv->routes[i];
		ws += r->nconns;
		json_array_append_new(routes, json_pack("{s:s+, s:s, s:I}",
		    "route", r->cfg->path, r->cfg->prefix ? "*" : "",
		    "handler", r->handler->name,
		    "connections", (json_int_t)r->nconns));
	}
	TAILQ_FOREACH(r, &srv->retired, retired_link) {
		ws += r->nconns;
		json_array_append_new(routes, json_pack("{s:s+, s:s, s:I}",
		    "route", r->cfg->path, r->cfg->prefix ? "* (retired)" :
		    " (retired)", "handler", r->handler->name,
		    "connections", (json_int_t)r->nconns));
	}
	metrics_process(&proc);
	res = json_pack("{s:s, s:i, s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
	    "version", PACKAGE_VERSION,
	    "pid", (int)getpid(),
	    "uptime", (json_int_t)(time(NULL) - srv->started),
	    "config", srv->cfg->file,
	    "log_level", log_level_name(log_get_level()),
	    "connections", (json_int_t)srv->nconns,
	    "websockets", (json_int_t)ws,
	    "channels", (json_int_t)srv->channels.count,
	    "accepted", (json_int_t)st->accepted,
	    "handshakes_ok", (json_int_t)st->handshakes_ok,
	    "handshakes_failed", (json_int_t)st->handshakes_failed,
	    "messages_in", (json_int_t)st->msgs_in,
	    "bytes_in", (json_int_t)st->bytes_in,
	    "deliveries", (json_int_t)st->msgs_out,
	    "bytes_out", (json_int_t)st->bytes_out,
	    "drops", (json_int_t)st->drops,
	    "slow_kicks", (json_int_t)st->slow_kicks,
	    "reloads", (json_int_t)st->reloads,
	    "reload_failures", (json_int_t)st->reload_failures,
	    "rss_bytes", (json_int_t)proc.rss_bytes,
	    "open_fds", (json_int_t)proc.open_fds,
	    "cpu_seconds", proc.cpu_seconds);
	if (res != NULL)
		json_object_set_new(res, "routes", routes);
	else
		json_decref(routes);
	if (res != NULL && srv->cluster != NULL)
		json_object_set_new(res, "cluster", admin_cluster_json(srv));
	admin_ok(call, res);
}

/*
 * The channels of every connection, found by walking the channel index
 * once: conn id -> JSON array of names. Costs one pass over all
 * subscriptions per listing and nothing per connection otherwise.
 */
static int
admin_conn_channels(struct server *srv, struct idmap *map)
{
	struct subscription *s;
	struct channel *ch;
	json_t *list;

	idmap_init(map);
	TAILQ_FOREACH(ch, &srv->channels.all, link)
		for (int m = 0; m < SUB_NMODES; m++)
			TAILQ_FOREACH(s, &ch->subs[m], chan_link) {
				if ((list = idmap_get(map, s->conn->id)) ==
				    NULL) {
					if ((list = json_array()) == NULL ||
					    idmap_put(map, s->conn->id, list) ==
					    -1) {
						json_decref(list);
						return -1;
					}
				}
				json_array_append_new(list,
				    json_string(ch->name));
			}
	return 0;
}

static void
admin_conn_channels_free(struct idmap *map)
{
	for (size_t i = 0; map->slots != NULL && i <= map->mask; i++)
		if (map->slots[i].key != 0)
			json_decref(map->slots[i].val);
	idmap_clear(map);
}

/* The row of one connection in `conns`, and the head of `conn ID`. */
static json_t *
admin_conn_json(struct server *srv, struct conn *c, struct idmap *chans)
{
	char id[17], peer[80];
	json_t *list, *o;

	admin_id_text(c->id, id, sizeof(id));
	list = chans != NULL ? idmap_get(chans, c->id) : NULL;
	o = json_pack("{s:s, s:s, s:s+, s:s, s:b, s:s?, s:O?, s:I, s:I, s:I, "
	    "s:I, s:I, s:f}",
	    "id", id,
	    "peer", conn_peer(c, peer, sizeof(peer)),
	    "route", c->route != NULL ? c->route->cfg->path : "-",
	    c->route != NULL && c->route->cfg->prefix ? "*" : "",
	    "protocol", (c->io & (CONN_IO_STREAM | CONN_IO_H2)) ? "h2" : "h1",
	    "tls", tls_used(c),
	    "user", ident_conn_user(c),
	    "channels", list,
	    "msgs_in", (json_int_t)c->msgs_in,
	    "bytes_in", (json_int_t)c->bytes_in,
	    "msgs_out", (json_int_t)c->msgs_out,
	    "bytes_out", (json_int_t)c->bytes_out,
	    "queued", (json_int_t)c->out_bytes,
	    "age", admin_age(srv, c));
	if (o != NULL && list == NULL)
		json_object_set_new(o, "channels", json_array());
	return o;
}

static void
admin_cmd_conns(struct admin_call *call)
{
	struct server *srv = call->srv;
	const char *filter = call->argc > 0 ? call->argv[0] : NULL;
	struct route *only = NULL;
	struct channel *chf = NULL;
	struct idmap chans;
	struct conn *c;
	json_t *list;

	if (filter != NULL && filter[0] == '/') {
		if ((only = admin_route_arg(srv, filter)) == NULL) {
			admin_fail(call, "not_found", "no such route: %s",
			    filter);
			return;
		}
	} else if (filter != NULL) {
		if (!channel_name_valid(filter, strlen(filter)) ||
		    (chf = hub_channel(srv, filter, strlen(filter), 0)) ==
		    NULL) {
			admin_fail(call, "not_found", "no such route or "
			    "channel: %s (routes start with /)", filter);
			return;
		}
	}
	if ((list = json_array()) == NULL ||
	    admin_conn_channels(srv, &chans) == -1) {
		json_decref(list);
		admin_ok(call, NULL);
		return;
	}
	for (size_t i = 0; srv->conns.slots != NULL && i <= srv->conns.mask;
	    i++) {
		if (srv->conns.slots[i].key == 0)
			continue;
		c = srv->conns.slots[i].val;
		if (c->state != CONN_WS || c->route == NULL)
			continue;
		if (only != NULL && c->route != only)
			continue;
		if (chf != NULL) {
			struct subscription *s;
			int found = 0;

			for (int m = 0; m < SUB_NMODES && !found; m++)
				TAILQ_FOREACH(s, &chf->subs[m], chan_link)
					if (s->conn == c) {
						found = 1;
						break;
					}
			if (!found)
				continue;
		}
		json_array_append_new(list, admin_conn_json(srv, c, &chans));
	}
	admin_conn_channels_free(&chans);
	admin_ok(call, json_pack("{s:I, s:o}", "count",
	    (json_int_t)json_array_size(list), "connections", list));
}

static const char *
admin_opcode_name(unsigned op)
{
	switch (op) {
	case WS_OP_CONT:
		return "continuation";
	case WS_OP_TEXT:
		return "text";
	case WS_OP_BINARY:
		return "binary";
	case WS_OP_CLOSE:
		return "close";
	case WS_OP_PING:
		return "ping";
	case WS_OP_PONG:
		return "pong";
	default:
		return "other";
	}
}

static const char *
admin_state_name(const struct conn *c)
{
	switch (c->state) {
	case CONN_HTTP:
		return "http";
	case CONN_WS:
		return "open";
	case CONN_CLOSING:
		return "closing";
	case CONN_LINGER:
		return "linger";
	default:
		return "dead";
	}
}

/* The debug part of `conn ID`: counts per frame type and recent frames. */
static json_t *
admin_debug_json(struct server *srv, const struct conn_debug *d)
{
	uint32_t now = server_now_us(srv);
	json_t *o, *in, *out, *recent;

	in = json_object();
	out = json_object();
	recent = json_array();
	if (in == NULL || out == NULL || recent == NULL)
		goto fail;
	for (unsigned op = 0; op < 16; op++) {
		if (d->in_ops[op] > 0)
			json_object_set_new(in, admin_opcode_name(op),
			    json_integer((json_int_t)d->in_ops[op]));
		if (d->out_ops[op] > 0)
			json_object_set_new(out, admin_opcode_name(op),
			    json_integer((json_int_t)d->out_ops[op]));
	}
	/* Oldest first, as a person reads a log. */
	for (uint32_t i = 0; i < d->count; i++) {
		const struct conn_debug_event *e = &d->ring[(d->head +
		    CONN_DEBUG_RING - d->count + i) % CONN_DEBUG_RING];

		json_array_append_new(recent, json_pack("{s:s, s:s, s:I, s:f}",
		    "dir", e->out ? "out" : "in",
		    "type", admin_opcode_name(e->opcode),
		    "size", (json_int_t)e->size,
		    "ago", (double)(uint32_t)(now - e->us) / 1e6));
	}
	o = json_pack("{s:f, s:o, s:o, s:I, s:I, s:o}",
	    "for", (double)(uint32_t)(now - d->since_us) / 1e6,
	    "in", in, "out", out,
	    "largest_in", (json_int_t)d->in_max,
	    "largest_out", (json_int_t)d->out_max,
	    "recent", recent);
	return o;
fail:
	json_decref(in);
	json_decref(out);
	json_decref(recent);
	return NULL;
}

static void
admin_cmd_conn(struct admin_call *call)
{
	struct server *srv = call->srv;
	struct idmap chans;
	const char *err = NULL;
	struct conn *c;
	json_t *o;

	if ((c = admin_conn_arg(call, call->argv[0], 0)) == NULL)
		return;
	if (call->argc >= 2) {
		if (strcmp(call->argv[1], "debug") != 0 || call->argc != 3 ||
		    (strcmp(call->argv[2], "on") != 0 &&
		    strcmp(call->argv[2], "off") != 0)) {
			admin_fail(call, "usage", "usage: conn ID [debug on|off]");
			return;
		}
		if (conn_debug_set(c, strcmp(call->argv[2], "on") == 0) == -1) {
			admin_fail(call, "internal", "out of memory");
			return;
		}
		log_info("conn %016" PRIx64 ": debugging %s from the admin "
		    "socket", c->id, call->argv[2]);
	}
	if (admin_conn_channels(srv, &chans) == -1) {
		admin_ok(call, NULL);
		return;
	}
	o = admin_conn_json(srv, c, &chans);
	admin_conn_channels_free(&chans);
	if (o == NULL) {
		admin_ok(call, NULL);
		return;
	}
	if ((err = conn_ws_error(c)) == NULL && conn_dbg(c) != NULL &&
	    conn_dbg(c)->last_error[0] != '\0')
		err = conn_dbg(c)->last_error;
	json_object_set_new(o, "state", json_string(admin_state_name(c)));
	json_object_set_new(o, "idle", json_real((double)(srv->tick -
	    c->last_rx) * SERVER_TICK_MS / 1000.0));
	json_object_set_new(o, "queued_msgs", json_integer(c->oq_count));
	json_object_set_new(o, "close_code", json_integer(c->close_code));
	json_object_set_new(o, "last_error", err != NULL ? json_string(err) :
	    json_null());
	json_object_set_new(o, "debug", conn_dbg(c) != NULL ?
	    admin_debug_json(srv, conn_dbg(c)) : json_false());
	admin_ok(call, o);
}

static json_t *
admin_channel_json(const struct hub_channel_info *info)
{
	char epoch[HUB_EPOCH_HEXLEN + 1];

	snprintf(epoch, sizeof(epoch), "%016" PRIx64, info->epoch);
	return json_pack("{s:s%, s:I, s:I, s:s, s:I, s:I, s:I}",
	    "channel", info->name, info->name_len,
	    "subscribers", (json_int_t)info->subscribers,
	    "seq", (json_int_t)info->seq, "epoch", epoch,
	    "history", (json_int_t)info->history_count,
	    "history_bytes", (json_int_t)info->history_bytes,
	    "first_seq", (json_int_t)info->history_first_seq);
}

static void
admin_channels_add(void *arg, const struct hub_channel_info *info)
{
	json_array_append_new(arg, admin_channel_json(info));
}

static void
admin_cmd_channels(struct admin_call *call)
{
	json_t *list;

	if ((list = json_array()) == NULL) {
		admin_ok(call, NULL);
		return;
	}
	hub_channels_foreach(call->srv, admin_channels_add, list);
	admin_ok(call, json_pack("{s:I, s:o}", "count",
	    (json_int_t)json_array_size(list), "channels", list));
}

static void
admin_cmd_channel(struct admin_call *call)
{
	struct hub_channel_info info;
	const char *name = call->argv[0];

	/* admin_exec_line() cannot wait: it gets this node's view. */
	if (call->srv->cluster != NULL && call->client != NULL &&
	    channel_name_valid(name, strlen(name))) {
		struct cluster_cb cb = { admin_channel_done,
		    admin_cookie(call), 0, 0, strdup(name) };
		const char *reason = "out of memory";
		int status = 500;

		if (cb.name != NULL)
			status = cluster_presence(call->srv->cluster, name,
			    strlen(name), &cb, &reason);
		if (status == 0) {
			admin_defer(call, status, reason, &cb);
			return;
		}
		/* Redis is down: this node's view. */
		free(cb.name);
	}
	if (hub_channel_info(call->srv, name, strlen(name), &info) == -1) {
		admin_fail(call, "not_found", "no such channel: %s", name);
		return;
	}
	admin_ok(call, admin_channel_json(&info));
}

/*
 * The message argument: literal UTF-8 text, or with -b / -t base64 of a
 * binary or text message. Decoded in place; returns 0 and the opcode, or
 * -1 after an error.
 */
static int
admin_payload(struct admin_call *call, char *arg, size_t *len,
    unsigned *opcode)
{
	size_t n = strlen(arg), pad = 0;
	unsigned char *out;
	int dec;

	if (!call->binary && !call->b64text) {
		if (!utf8_is_valid((const uint8_t *)arg, n)) {
			admin_fail(call, "invalid", "the message is not valid "
			    "UTF-8: send binary data with -b and base64");
			return -1;
		}
		*len = n;
		*opcode = WS_OP_TEXT;
		return 0;
	}
	if (n % 4 != 0) {
		admin_fail(call, "invalid", "invalid base64 message");
		return -1;
	}
	if (n > 0 && arg[n - 1] == '=')
		pad++;
	if (n > 1 && arg[n - 2] == '=')
		pad++;
	out = (unsigned char *)arg;
	/* Decoding in place is safe: the output never overtakes the input. */
	if (n > 0 && (dec = EVP_DecodeBlock(out, (const unsigned char *)arg,
	    (int)n)) < 0) {
		admin_fail(call, "invalid", "invalid base64 message");
		return -1;
	} else if (n == 0)
		dec = 0;
	*len = (size_t)dec - pad;
	if (call->b64text && !utf8_is_valid(out, *len)) {
		admin_fail(call, "invalid", "the -t message is not valid UTF-8");
		return -1;
	}
	*opcode = call->binary ? WS_OP_BINARY : WS_OP_TEXT;
	return 0;
}

/* Refuse a message over max_message_size, as every other way in does. */
static int
admin_size_ok(struct admin_call *call, size_t len)
{
	if (len > call->srv->cfg->max_message_size) {
		admin_fail(call, "invalid", "message of %zu bytes is over "
		    "max_message_size (%" PRIu64 ")", len,
		    call->srv->cfg->max_message_size);
		return 0;
	}
	return 1;
}

/*
 * With Redis, commands on connections of other nodes, broadcasts and
 * channel presence wait for other nodes' answers. The session reads no
 * more commands meanwhile, so answers keep the order of commands; the
 * answer comes through one of the *_done callbacks below.
 */
static void
admin_defer(struct admin_call *call, int status, const char *reason,
    struct cluster_cb *cb)
{
	if (status != 0) {
		free(cb->name);
		admin_fail(call, status == 404 ? "not_found" :
		    status == 400 ? "usage" : "unavailable", "%s", reason);
		return;
	}
	if (call->client == NULL) {
		/* admin_exec_line() has nowhere to wait: it was sent on. */
		admin_ok(call, json_pack("{s:b}", "forwarded", 1));
		return;
	}
	call->deferred = 1;
}

/* The cookie that finds |call|'s session again, if still open. */
static uint64_t
admin_cookie(const struct admin_call *call)
{
	return call->client != NULL ? call->client->serial : 0;
}

/*
 * The session waiting for |res|, with |call| set up to answer it; NULL
 * when it is gone. An error in |res| is already in |call|.
 */
static struct admin_client *
admin_waiting(struct server *srv, const struct cluster_cb *cb,
    const struct cluster_result *res, struct admin_call *call)
{
	struct admin_client *cl;

	if (srv->admin == NULL || cb->cookie == 0)
		return NULL;
	LIST_FOREACH(cl, &srv->admin->clients, link)
		if (cl->serial == cb->cookie)
			break;
	if (cl == NULL || !cl->waiting)
		return NULL;
	memset(call, 0, sizeof(*call));
	call->srv = srv;
	call->client = cl;
	if (res->status != 0)
		admin_fail(call, res->status == 404 ? "not_found" :
		    "unavailable", "%s", res->reason);
	return cl;
}

/* Write the answer of |call| and take the commands that came meanwhile. */
static void
admin_resume(struct admin_client *cl, struct admin_call *call)
{
	char *answer;

	if ((answer = admin_answer(call)) != NULL) {
		evbuffer_add_printf(bufferevent_get_output(cl->bev), "%s\n",
		    answer);
		free(answer);
	}
	admin_call_clear(call);
	cl->waiting = 0;
	bufferevent_enable(cl->bev, EV_READ);
	admin_on_read(cl->bev, cl);
}

static void
admin_send_done(struct server *srv, const struct cluster_cb *cb,
    const struct cluster_result *res)
{
	struct admin_client *cl;
	struct admin_call call;
	char id[17];

	if ((cl = admin_waiting(srv, cb, res, &call)) == NULL)
		return;
	admin_id_text(cb->id, id, sizeof(id));
	if (call.error == NULL && res->delivered == 0)
		admin_fail(&call, "failed", "connection %s takes no more "
		    "messages (send buffer full or closing)", id);
	if (call.error == NULL)
		admin_ok(&call, json_pack("{s:s, s:i}", "id", id,
		    "delivered", 1));
	admin_resume(cl, &call);
}

static void
admin_kick_done(struct server *srv, const struct cluster_cb *cb,
    const struct cluster_result *res)
{
	struct admin_client *cl;
	struct admin_call call;
	char id[17];

	if ((cl = admin_waiting(srv, cb, res, &call)) == NULL)
		return;
	admin_id_text(cb->id, id, sizeof(id));
	if (call.error == NULL)
		admin_ok(&call, json_pack("{s:s, s:i}", "id", id, "code",
		    (int)cb->code));
	admin_resume(cl, &call);
}

static void
admin_broadcast_done(struct server *srv, const struct cluster_cb *cb,
    const struct cluster_result *res)
{
	struct admin_client *cl;
	struct admin_call call;

	if ((cl = admin_waiting(srv, cb, res, &call)) == NULL)
		return;
	if (call.error == NULL)
		admin_ok(&call, json_pack("{s:s, s:I, s:I, s:I}", "route",
		    cb->name, "connections", (json_int_t)res->connections,
		    "delivered", (json_int_t)res->delivered,
		    "nodes", (json_int_t)(res->nodes + 1)));
	admin_resume(cl, &call);
}

/* channel NAME with Redis: this node's view, and who is on every node. */
static void
admin_channel_done(struct server *srv, const struct cluster_cb *cb,
    const struct cluster_result *res)
{
	struct hub_channel_info info;
	struct admin_client *cl;
	struct admin_call call;
	json_t *o, *per_node, *n;
	json_int_t total = 0;
	size_t local = 0;
	char node[7];

	if ((cl = admin_waiting(srv, cb, res, &call)) == NULL)
		return;
	if (call.error != NULL) {
		admin_resume(cl, &call);
		return;
	}
	memset(&info, 0, sizeof(info));
	if (hub_channel_info(srv, cb->name, strlen(cb->name), &info) == 0)
		local = info.subscribers;
	else {
		info.name = cb->name;
		info.name_len = strlen(cb->name);
	}
	if ((per_node = json_object()) == NULL) {
		admin_ok(&call, NULL);
		admin_resume(cl, &call);
		return;
	}
	/* Ours from memory: a subscription of a moment ago shows. */
	if (local > 0) {
		snprintf(node, sizeof(node), "%06" PRIx64, srv->id_base >> 40);
		json_object_set_new(per_node, node,
		    json_integer((json_int_t)local));
	}
	total = (json_int_t)local;
	for (size_t i = 0; i < res->nmembers; i++) {
		if (!CLUSTER_ID_REMOTE(srv, res->members[i].id))
			continue;
		snprintf(node, sizeof(node), "%06" PRIx64,
		    res->members[i].id >> 40);
		n = json_object_get(per_node, node);
		json_object_set_new(per_node, node, json_integer(n != NULL ?
		    json_integer_value(n) + 1 : 1));
		total++;
	}
	if (total == 0 && info.seq == 0 && info.history_count == 0)
		admin_fail(&call, "not_found", "no such channel: %s",
		    cb->name);
	else if ((o = admin_channel_json(&info)) != NULL) {
		json_object_set_new(o, "subscribers", json_integer(total));
		json_object_set_new(o, "local_subscribers",
		    json_integer((json_int_t)local));
		json_object_set(o, "nodes", per_node);
		admin_ok(&call, o);
	} else
		admin_ok(&call, NULL);
	json_decref(per_node);
	admin_resume(cl, &call);
}

/* Parse a connection id (16 hex digits); -1 after an error. */
static int
admin_id_arg(struct admin_call *call, const char *s, uint64_t *id)
{
	if (strlen(s) != 16 || hex_u64(s, 16, id) == -1 || *id == 0) {
		admin_fail(call, "usage", "invalid connection id '%s' (16 hex "
		    "digits)", s);
		return -1;
	}
	return 0;
}

/* The cluster section of stats: Redis, and the nodes seen running. */
static json_t *
admin_cluster_json(struct server *srv)
{
	const struct server_stats *st = &srv->stats;
	const struct cluster_node *nodes;
	size_t n = cluster_nodes(srv->cluster, &nodes);
	json_t *list;
	char tag[7];

	if ((list = json_array()) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		snprintf(tag, sizeof(tag), "%06" PRIx32, nodes[i].tag);
		json_array_append_new(list, json_pack("{s:s, s:s, s:b, s:I, "
		    "s:I, s:I}", "node", tag, "name", nodes[i].name,
		    "self", nodes[i].self,
		    "websockets", (json_int_t)nodes[i].websockets,
		    "users", (json_int_t)nodes[i].users,
		    "channels", (json_int_t)nodes[i].channels));
	}
	snprintf(tag, sizeof(tag), "%06" PRIx64, srv->id_base >> 40);
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:o}", "node", tag, "redis", st->cluster_up ? "up" : "down",
	    "outages", (json_int_t)st->cluster_outages,
	    "connects", (json_int_t)st->cluster_connects,
	    "publish_errors", (json_int_t)st->cluster_publish_errors,
	    "messages_in", (json_int_t)st->cluster_msgs_in,
	    "resyncs", (json_int_t)st->cluster_resyncs,
	    "gaps", (json_int_t)st->cluster_gaps,
	    "forwarded", (json_int_t)st->cluster_forwarded,
	    "nodes_seen", (json_int_t)n, "nodes", list);
}

static void
admin_cmd_send(struct admin_call *call)
{
	struct cluster_cb cb = { admin_send_done, admin_cookie(call), 0, 0,
	    NULL };
	const char *reason = NULL;
	struct conn *c;
	unsigned opcode;
	size_t len;
	int status;

	if (admin_id_arg(call, call->argv[0], &cb.id) == -1)
		return;
	if (CLUSTER_ID_REMOTE(call->srv, cb.id)) {
		if (admin_payload(call, call->argv[1], &len, &opcode) == -1 ||
		    !admin_size_ok(call, len))
			return;
		status = cluster_send_one(call->srv->cluster, cb.id, opcode,
		    call->argv[1], len, &cb, &reason);
		admin_defer(call, status, reason, &cb);
		return;
	}
	if ((c = admin_conn_arg(call, call->argv[0], 1)) == NULL ||
	    admin_payload(call, call->argv[1], &len, &opcode) == -1 ||
	    !admin_size_ok(call, len))
		return;
	if (server_send_one(call->srv, c->id, opcode, call->argv[1], len) ==
	    -1) {
		admin_fail(call, "failed", "connection %s takes no more "
		    "messages (send buffer full or closing)", call->argv[0]);
		return;
	}
	admin_ok(call, json_pack("{s:s, s:i}", "id", call->argv[0],
	    "delivered", 1));
}

static void
admin_cmd_broadcast(struct admin_call *call)
{
	struct route *r;
	struct msg *m;
	unsigned opcode;
	size_t len, n;

	if ((r = admin_route_arg(call->srv, call->argv[0])) == NULL) {
		admin_fail(call, "not_found", "no such route: %s",
		    call->argv[0]);
		return;
	}
	if (admin_payload(call, call->argv[1], &len, &opcode) == -1 ||
	    !admin_size_ok(call, len))
		return;
	if ((m = msg_frame(opcode, call->argv[1], len)) == NULL) {
		admin_fail(call, "internal", "out of memory");
		return;
	}
	n = route_send_all(r, m);
	msg_unref(m);
	if (call->srv->cluster != NULL) {
		struct cluster_result local = { .connections = r->nconns,
		    .delivered = n };
		struct cluster_cb cb = { admin_broadcast_done,
		    admin_cookie(call), 0, 1, strdup(r->cfg->path) };
		const char *reason = "out of memory";
		int status = 500;

		if (cb.name != NULL)
			status = cluster_broadcast(call->srv->cluster,
			    r->cfg->path, opcode, call->argv[1], len, &local,
			    &cb, &reason);
		admin_defer(call, status, reason, &cb);
		return;
	}
	admin_ok(call, json_pack("{s:s, s:I}", "route", r->cfg->path,
	    "delivered", (json_int_t)n));
}

static void
admin_cmd_publish(struct admin_call *call)
{
	struct hub_publish_result res;
	const char *reason = "publish failed", *name = call->argv[0];
	char epoch[HUB_EPOCH_HEXLEN + 1];
	unsigned opcode;
	size_t len;
	int status;

	if (admin_payload(call, call->argv[1], &len, &opcode) == -1)
		return;
	memset(&res, 0, sizeof(res));
	status = hub_publish(call->srv, name, strlen(name), opcode,
	    call->argv[1], len, &res, &reason);
	if (status != 0) {
		admin_fail(call, status == 500 ? "internal" : "invalid", "%s",
		    reason);
		return;
	}
	snprintf(epoch, sizeof(epoch), "%016" PRIx64, res.epoch);
	admin_ok(call, json_pack("{s:s, s:I, s:s, s:I}", "channel", name,
	    "seq", (json_int_t)res.seq, "epoch", epoch,
	    "delivered", (json_int_t)res.delivered));
}

static void
admin_cmd_kick(struct admin_call *call)
{
	unsigned long code = WS_CLOSE_NORMAL;
	const char *reason = call->argc > 2 ? call->argv[2] : "", *why = NULL;
	int status;
	struct cluster_cb cb = { admin_kick_done, admin_cookie(call), 0, 0,
	    NULL };
	struct conn *c = NULL;
	char *end;

	if (admin_id_arg(call, call->argv[0], &cb.id) == -1 ||
	    (!CLUSTER_ID_REMOTE(call->srv, cb.id) &&
	    (c = admin_conn_arg(call, call->argv[0], 1)) == NULL))
		return;
	if (call->argc > 1) {
		errno = 0;
		code = strtoul(call->argv[1], &end, 10);
		if (*end != '\0' || call->argv[1][0] < '0' ||
		    call->argv[1][0] > '9' || errno != 0 || code > 4999 ||
		    !ws_close_code_valid((unsigned)code)) {
			admin_fail(call, "usage", "invalid close code %s "
			    "(1000-1003, 1007-1014 or 3000-4999)",
			    call->argv[1]);
			return;
		}
	}
	if (strlen(reason) > ADMIN_REASON_MAX ||
	    !utf8_is_valid((const uint8_t *)reason, strlen(reason))) {
		admin_fail(call, "usage", "invalid reason (at most %d bytes of "
		    "UTF-8)", ADMIN_REASON_MAX);
		return;
	}
	if (c == NULL) {
		cb.code = (unsigned)code;
		status = cluster_kick(call->srv->cluster, cb.id, cb.code,
		    reason, &cb, &why);
		admin_defer(call, status, why, &cb);
		return;
	}
	log_info("conn %016" PRIx64 ": kicked from the admin socket with %lu",
	    c->id, code);
	conn_close(c, (uint16_t)code, reason);
	admin_ok(call, json_pack("{s:s, s:i}", "id", call->argv[0], "code",
	    (int)code));
}

static void
admin_cmd_reload(struct admin_call *call)
{
	json_t *report = NULL;
	char *cause = NULL;

	if (reload_run(call->srv, &report, &cause) == -1) {
		admin_fail(call, "invalid_config", "%s", cause != NULL ? cause :
		    "reload failed");
		free(cause);
		return;
	}
	admin_ok(call, report);
}

static void
admin_cmd_loglevel(struct admin_call *call)
{
	const char *was = log_level_name(log_get_level());
	int level;

	if (call->argc == 0) {
		admin_ok(call, json_pack("{s:s}", "log_level", was));
		return;
	}
	if ((level = config_log_level_parse(call->argv[0])) == -1) {
		admin_fail(call, "usage", "unknown log level '%s' (error, "
		    "warning, notice, info or debug)", call->argv[0]);
		return;
	}
	log_set_level(level);
	log_notice("log level set to %s from the admin socket (was %s)",
	    call->argv[0], was);
	admin_ok(call, json_pack("{s:s, s:s}", "log_level", call->argv[0],
	    "was", was));
}

/* The admin_exec_line() state of a shutdown: run once the answer is out. */
static void
admin_cmd_shutdown(struct admin_call *call)
{
	double grace = call->srv->cfg->shutdown_timeout;
	char *end;

	if (call->argc == 1) {
		grace = strtod(call->argv[0], &end);
		if (*end != '\0' || end == call->argv[0] || !(grace >= 0) ||
		    grace > 3600) {
			admin_fail(call, "usage", "invalid grace period '%s' "
			    "(seconds, 0 to 3600)", call->argv[0]);
			return;
		}
	}
	admin_ok(call, json_pack("{s:b, s:f}", "shutting_down", 1, "grace",
	    grace));
	if (call->result == NULL)
		return;
	log_notice("shutdown requested from the admin socket");
	/*
	 * The loop may end within this turn when no client is connected, so
	 * the answer is written now, before the daemon starts to stop.
	 */
	call->close = 1;
	if (call->client != NULL) {
		char *text = json_dumps(call->result, JSON_COMPACT);
		struct evbuffer *out = bufferevent_get_output(call->client->bev);

		if (text != NULL) {
			evbuffer_add_printf(out, "ok %s\n", text);
			evbuffer_write(out, bufferevent_getfd(call->client->bev));
			free(text);
		}
		json_decref(call->result);
		call->result = NULL;
	}
	server_stop(call->srv, grace < 0.1 ? 0.1 : grace);
}

static void
admin_cmd_quit(struct admin_call *call)
{
	call->close = 1;
	admin_ok(call, json_object());
}

/*
 * Split |line| into the command and its arguments, with the rest of the
 * line as the last argument of a command that takes one, and run it.
 */
static void
admin_run(struct admin_call *call, char *line)
{
	const struct admin_cmd *cmd;
	char *p = line, *name;
	int max;

	while (*p == ' ' || *p == '\t')
		p++;
	name = p;
	while (*p != '\0' && *p != ' ' && *p != '\t')
		p++;
	if (*p != '\0')
		*p++ = '\0';
	if (*name == '\0') {
		admin_fail(call, "usage", "empty command: try 'help'");
		return;
	}
	if ((cmd = admin_cmd_find(name)) == NULL) {
		admin_fail(call, "unknown_command", "unknown command '%.64s': "
		    "try 'help'", name);
		return;
	}
	max = cmd->maxargs;
	for (;;) {
		char *arg;

		if (cmd->flags & ADMIN_F_REST && call->argc == max - 1 &&
		    *p != '\0') {
			/* One blank separates it; the rest is kept verbatim. */
			call->argv[call->argc++] = p;
			break;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		arg = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		if (*p != '\0')
			*p++ = '\0';
		if ((cmd->flags & ADMIN_F_PAYLOAD) && call->argc == 0 &&
		    !call->binary && !call->b64text &&
		    (strcmp(arg, "-b") == 0 || strcmp(arg, "-t") == 0)) {
			if (arg[1] == 'b')
				call->binary = 1;
			else
				call->b64text = 1;
			continue;
		}
		if (call->argc >= max) {
			admin_fail(call, "usage", "too many arguments; usage: %s",
			    cmd->usage);
			return;
		}
		call->argv[call->argc++] = arg;
	}
	/* A command ending in MSG may get an empty one: "publish ch ". */
	if (call->argc < cmd->minargs) {
		admin_fail(call, "usage", "missing arguments; usage: %s",
		    cmd->usage);
		return;
	}
	cmd->exec(call);
}

/* Format the answer of |call|: "ok JSON" or "err JSON". */
static char *
admin_answer(struct admin_call *call)
{
	json_t *o;
	char *text, *line;

	if (call->result == NULL && call->error == NULL)
		admin_fail(call, "internal", "out of memory");
	if (call->error != NULL)
		o = json_pack("{s:s, s:s}", "error", call->error, "code",
		    call->code);
	else
		o = json_incref(call->result);
	text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (text == NULL)
		return strdup("err {\"error\":\"out of memory\","
		    "\"code\":\"internal\"}");
	if (asprintf(&line, "%s %s", call->error != NULL ? "err" : "ok",
	    text) == -1)
		line = NULL;
	free(text);
	return line;
}

static void
admin_call_clear(struct admin_call *call)
{
	json_decref(call->result);
	free(call->error);
}

char *
admin_exec_line(struct server *srv, const char *line, size_t len)
{
	struct admin_call call;
	char *copy, *answer;

	memset(&call, 0, sizeof(call));
	call.srv = srv;
	if ((copy = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(copy, line, len);
	copy[len] = '\0';
	if (memchr(line, '\0', len) != NULL)
		admin_fail(&call, "usage", "NUL byte in the command line");
	else
		admin_run(&call, copy);
	answer = call.result == NULL && call.error == NULL ? NULL :
	    admin_answer(&call);
	if (answer == NULL && call.close)
		answer = strdup("ok {}");
	admin_call_clear(&call);
	free(copy);
	return answer;
}

static void
admin_client_free(struct admin_client *cl)
{
	LIST_REMOVE(cl, link);
	cl->admin->nclients--;
	bufferevent_free(cl->bev);
	free(cl);
}

/* The longest command line: a message of max_message_size in base64. */
static size_t
admin_line_max(const struct server *srv)
{
	return (size_t)(srv->cfg->max_message_size / 3 + 1) * 4 +
	    ADMIN_LINE_SLACK;
}

static void
admin_on_read(struct bufferevent *bev, void *arg)
{
	struct admin_client *cl = arg;
	struct server *srv = cl->admin->srv;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);
	struct admin_call call;
	size_t len;
	char *line, *answer;

	while (!cl->closing && !cl->waiting &&
	    (line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		memset(&call, 0, sizeof(call));
		call.srv = srv;
		call.client = cl;
		if (memchr(line, '\0', len) != NULL)
			admin_fail(&call, "usage", "NUL byte in the command");
		else {
			log_debug("admin: uid %u: %.80s", (unsigned)cl->uid,
			    line);
			admin_run(&call, line);
		}
		free(line);
		if (call.deferred) {
			/* Answered later; commands wait till then. */
			cl->waiting = 1;
			bufferevent_disable(bev, EV_READ);
			admin_call_clear(&call);
			break;
		}
		if (call.result != NULL || call.error != NULL) {
			if ((answer = admin_answer(&call)) != NULL) {
				evbuffer_add(out, answer, strlen(answer));
				evbuffer_add(out, "\n", 1);
				free(answer);
			}
		}
		if (call.close)
			cl->closing = 1;
		admin_call_clear(&call);
		/* A client that does not read its answers waits for them. */
		if (evbuffer_get_length(out) > ADMIN_OUT_HIGH) {
			bufferevent_disable(bev, EV_READ);
			break;
		}
	}
	if (!cl->closing && evbuffer_get_length(in) > admin_line_max(srv)) {
		evbuffer_add_printf(out, "err {\"error\":\"command line over "
		    "%zu bytes\",\"code\":\"too_long\"}\n", admin_line_max(srv));
		cl->closing = 1;
	}
	if (cl->closing) {
		bufferevent_disable(bev, EV_READ);
		if (evbuffer_get_length(out) == 0)
			admin_client_free(cl);
	}
}

static void
admin_on_write(struct bufferevent *bev, void *arg)
{
	struct admin_client *cl = arg;

	if (cl->closing) {
		admin_client_free(cl);
		return;
	}
	/* The answers were read: take commands again, and any that waited. */
	if (!cl->waiting && !(bufferevent_get_enabled(bev) & EV_READ)) {
		bufferevent_enable(bev, EV_READ);
		admin_on_read(bev, cl);
	}
}

static void
admin_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct admin_client *cl = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		/* Commands sent before EOF were answered; those are lost. */
		admin_client_free(cl);
	}
}

/*
 * Whether a peer may use the admin socket: root, our own user, a listed
 * user, or a member of a listed group (by the primary group the kernel
 * reports, or by the group's member list read at configuration time).
 */
static int
admin_allowed(const struct admin *a, const struct ucred *cr)
{
	if (cr->uid == 0 || cr->uid == geteuid())
		return 1;
	for (size_t i = 0; i < a->nuids; i++)
		if (a->uids[i] == cr->uid)
			return 1;
	for (size_t i = 0; i < a->ngids; i++)
		if (a->gids[i] == cr->gid)
			return 1;
	return 0;
}

static void
admin_refuse(int fd, const char *why, const char *code)
{
	char buf[256];
	int n;

	n = snprintf(buf, sizeof(buf), "err {\"error\":\"%s\",\"code\":\"%s\"}\n",
	    why, code);
	/* A fresh socket takes a short line; if not, the peer loses it. */
	if (n > 0 && write(fd, buf, (size_t)n) < 0)
		log_debug("admin: %s", strerror(errno));
	close(fd);
}

static void
admin_on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct admin *a = arg;
	struct admin_client *cl;
	struct ucred cr;
	socklen_t crl = sizeof(cr);
	int fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) == -1) {
		log_warn("admin: SO_PEERCRED: %s", strerror(errno));
		admin_refuse(fd, "permission denied: no peer credentials",
		    "denied");
		return;
	}
	if (!admin_allowed(a, &cr)) {
		log_warn("admin: refused uid %u gid %u pid %d", (unsigned)cr.uid,
		    (unsigned)cr.gid, (int)cr.pid);
		admin_refuse(fd, "permission denied: this user may not use the "
		    "admin socket", "denied");
		return;
	}
	if (a->nclients >= ADMIN_CLIENTS_MAX) {
		admin_refuse(fd, "too many admin sessions", "busy");
		return;
	}
	if ((cl = calloc(1, sizeof(*cl))) == NULL ||
	    (cl->bev = bufferevent_socket_new(a->srv->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(cl);
		admin_refuse(fd, "out of memory", "internal");
		return;
	}
	cl->admin = a;
	cl->serial = ++a->next_serial;
	cl->uid = cr.uid;
	LIST_INSERT_HEAD(&a->clients, cl, link);
	a->nclients++;
	bufferevent_setcb(cl->bev, admin_on_read, admin_on_write,
	    admin_on_event, cl);
	bufferevent_enable(cl->bev, EV_READ | EV_WRITE);
	evbuffer_add_printf(bufferevent_get_output(cl->bev),
	    "hello {\"protocol\":%d,\"server\":\"wshubd\",\"version\":\"%s\","
	    "\"pid\":%d}\n", ADMIN_PROTOCOL, PACKAGE_VERSION, (int)getpid());
	log_debug("admin: session of uid %u pid %d", (unsigned)cr.uid,
	    (int)cr.pid);
}

/*
 * Resolve the allowed users and groups of |cfg|; a group's listed members
 * count as allowed users. Returns 0, or -1 with |*cause|.
 */
static int
admin_resolve(struct admin *a, const struct config *cfg, char **cause)
{
	uid_t *uids = NULL;
	gid_t *gids = NULL;
	size_t nu = 0, ng = 0, cap = 0;
	char **p;

	for (p = cfg->admin_allow_users; p != NULL && *p != NULL; p++)
		cap++;
	for (p = cfg->admin_allow_groups; p != NULL && *p != NULL; p++) {
		struct group *gr = getgrnam(*p);

		cap++;
		for (char **m = gr != NULL ? gr->gr_mem : NULL; m != NULL &&
		    *m != NULL; m++)
			cap++;
	}
	if (cap > 0 && ((uids = calloc(cap, sizeof(*uids))) == NULL ||
	    (gids = calloc(cap, sizeof(*gids))) == NULL))
		goto oom;
	for (p = cfg->admin_allow_users; p != NULL && *p != NULL; p++)
		if (config_user_id(*p, &uids[nu], NULL) == 0)
			nu++;
		else {
			if (asprintf(cause, "no user %s", *p) == -1)
				*cause = NULL;
			goto fail;
		}
	for (p = cfg->admin_allow_groups; p != NULL && *p != NULL; p++) {
		struct group *gr;

		if (config_group_id(*p, &gids[ng]) == -1) {
			if (asprintf(cause, "no group %s", *p) == -1)
				*cause = NULL;
			goto fail;
		}
		ng++;
		if ((gr = getgrnam(*p)) == NULL)
			continue;
		for (char **m = gr->gr_mem; *m != NULL && nu < cap; m++)
			if (config_user_id(*m, &uids[nu], NULL) == 0)
				nu++;
	}
	free(a->uids);
	free(a->gids);
	a->uids = uids;
	a->nuids = nu;
	a->gids = gids;
	a->ngids = ng;
	return 0;
oom:
	*cause = strdup("out of memory");
fail:
	free(uids);
	free(gids);
	return -1;
}

/* Set the socket file's mode, owner and group from |cfg|. */
static int
admin_perms(const char *path, const struct config *cfg, char **cause)
{
	mode_t mode = (mode_t)strtoul(cfg->admin_socket_mode, NULL, 8);
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;

	if (chmod(path, mode) == -1) {
		if (asprintf(cause, "%s: chmod %s: %s", path,
		    cfg->admin_socket_mode, strerror(errno)) == -1)
			*cause = NULL;
		return -1;
	}
	if (cfg->admin_socket_owner[0] != '\0' &&
	    config_user_id(cfg->admin_socket_owner, &uid, NULL) == -1)
		uid = (uid_t)-1;
	if (cfg->admin_socket_group[0] != '\0' &&
	    config_group_id(cfg->admin_socket_group, &gid) == -1)
		gid = (gid_t)-1;
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    chown(path, uid, gid) == -1) {
		if (asprintf(cause, "%s: chown %s:%s: %s", path,
		    cfg->admin_socket_owner, cfg->admin_socket_group,
		    strerror(errno)) == -1)
			*cause = NULL;
		return -1;
	}
	return 0;
}

/*
 * Bind a new socket at |path|. A file left by a daemon that died is
 * replaced; one that a running daemon answers on is not.
 */
static int
admin_bind(const char *path, const struct config *cfg, char **cause)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int fd, probe;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		if (asprintf(cause, "admin_socket: path %s is too long (at most "
		    "%zu bytes)", path, sizeof(sun.sun_path) - 1) == -1)
			*cause = NULL;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			if (asprintf(cause, "admin_socket: %s exists and is not "
			    "a socket", path) == -1)
				*cause = NULL;
			return -1;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe != -1 && connect(probe, (struct sockaddr *)&sun,
		    sizeof(sun)) == 0) {
			close(probe);
			if (asprintf(cause, "admin_socket: %s is in use by a "
			    "running daemon", path) == -1)
				*cause = NULL;
			return -1;
		}
		if (probe != -1)
			close(probe);
		unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		goto fail;
	/* Nobody may connect before the mode is set. */
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		close(fd);
		goto fail;
	}
	umask(old);
	if (admin_perms(path, cfg, cause) == -1 || listen(fd, 16) == -1) {
		if (*cause == NULL && asprintf(cause, "admin_socket: listen: %s",
		    strerror(errno)) == -1)
			*cause = NULL;
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
fail:
	if (asprintf(cause, "admin_socket: %s: %s", path, strerror(errno)) ==
	    -1)
		*cause = NULL;
	return -1;
}

/*
 * A socket systemd passed for the admin socket: one named "admin", or a
 * Unix socket bound to the configured path.
 */
static struct listener_passed *
admin_find_passed(struct server *srv)
{
	struct listener_passed_set *set = srv->passed;
	const char *path = srv->cfg->admin_socket;
	struct sockaddr_un sun;
	socklen_t sl;

	for (size_t i = 0; set != NULL && i < set->n; i++)
		if (!set->v[i].used && strcmp(set->v[i].name, "admin") == 0)
			return &set->v[i];
	for (size_t i = 0; set != NULL && path[0] != '\0' && i < set->n; i++) {
		sl = sizeof(sun);
		memset(&sun, 0, sizeof(sun));
		if (!set->v[i].used && getsockname(set->v[i].fd,
		    (struct sockaddr *)&sun, &sl) == 0 &&
		    sun.sun_family == AF_UNIX &&
		    strncmp(sun.sun_path, path, sizeof(sun.sun_path)) == 0)
			return &set->v[i];
	}
	return NULL;
}

int
admin_start(struct server *srv, char **cause)
{
	const struct config *cfg = srv->cfg;
	struct listener_passed *p;
	struct admin *a;

	*cause = NULL;
	p = admin_find_passed(srv);
	if (p == NULL && cfg->admin_socket[0] == '\0')
		return 0;
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		*cause = strdup("out of memory");
		return -1;
	}
	a->srv = srv;
	a->fd = -1;
	LIST_INIT(&a->clients);
	if (admin_resolve(a, cfg, cause) == -1)
		goto fail;
	if (p != NULL) {
		p->used = 1;
		a->passed = p;
		a->fd = p->fd;
		evutil_make_socket_nonblocking(a->fd);
		log_notice("admin socket: the one passed by systemd");
	} else {
		if ((a->fd = admin_bind(cfg->admin_socket, cfg, cause)) == -1)
			goto fail;
		if ((a->path = strdup(cfg->admin_socket)) == NULL) {
			*cause = strdup("out of memory");
			goto fail;
		}
		log_notice("admin socket: %s", a->path);
	}
	event_assign(&a->ev, srv->base, a->fd, EV_READ | EV_PERSIST,
	    admin_on_accept, a);
	event_add(&a->ev, NULL);
	srv->admin = a;
	return 0;
fail:
	if (a->fd != -1 && a->passed == NULL)
		close(a->fd);
	free(a->uids);
	free(a->gids);
	free(a);
	return -1;
}

/* Stop listening: close (or hand back to systemd) and remove the file. */
static void
admin_close_socket(struct admin *a)
{
	if (a->fd == -1)
		return;
	event_del(&a->ev);
	if (a->passed != NULL)
		a->passed->used = 0;
	else
		close(a->fd);
	if (a->path != NULL)
		unlink(a->path);
	free(a->path);
	a->path = NULL;
	a->passed = NULL;
	a->fd = -1;
}

void
admin_free(struct admin *a)
{
	struct admin_client *cl;

	if (a == NULL)
		return;
	while ((cl = LIST_FIRST(&a->clients)) != NULL)
		admin_client_free(cl);
	admin_close_socket(a);
	if (a->srv->admin == a)
		a->srv->admin = NULL;
	free(a->uids);
	free(a->gids);
	free(a);
}

int
admin_chown(struct admin *a, uid_t uid, gid_t gid)
{
	if (a == NULL || a->path == NULL)
		return 0;
	return chown(a->path, uid, gid);
}

static void
admin_note(char **list, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append one line to the malloc'd text |*list|. */
static void
admin_note(char **list, const char *fmt, ...)
{
	char *line, *joined;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) == -1)
		line = NULL;
	va_end(ap);
	if (line == NULL)
		return;
	if (asprintf(&joined, "%s%s\n", *list != NULL ? *list : "", line) ==
	    -1)
		joined = NULL;
	free(line);
	if (joined != NULL) {
		free(*list);
		*list = joined;
	}
}

void
admin_reconfigure(struct server *srv, const struct config *cfg,
    char **not_applied)
{
	const struct config *old = srv->cfg;
	struct admin *a = srv->admin;
	char *cause = NULL;
	int fd;

	if (a == NULL) {
		if (cfg->admin_socket[0] == '\0')
			return;
		/* Started without one: start it on the new config now. */
		srv->cfg = (struct config *)cfg;
		if (admin_start(srv, &cause) == -1) {
			admin_note(not_applied, "admin_socket: %s", cause);
			free(cause);
		}
		srv->cfg = (struct config *)old;
		return;
	}
	if (admin_resolve(a, cfg, &cause) == -1) {
		admin_note(not_applied, "admin_allow_users/groups: %s", cause);
		free(cause);
		cause = NULL;
	}
	if (a->passed != NULL) {
		if (strcmp(cfg->admin_socket, old->admin_socket) != 0)
			admin_note(not_applied, "admin_socket: the socket "
			    "passed by systemd stays in use");
		return;
	}
	if (cfg->admin_socket[0] == '\0') {
		admin_note(not_applied, "admin_socket: stays open until a "
		    "restart (reloads come through it)");
		return;
	}
	if (strcmp(cfg->admin_socket, a->path) != 0) {
		if ((fd = admin_bind(cfg->admin_socket, cfg, &cause)) == -1) {
			admin_note(not_applied, "admin_socket: kept %s: %s",
			    a->path, cause);
			free(cause);
			return;
		}
		/* Sessions already open stay on the old socket's connections. */
		admin_close_socket(a);
		a->fd = fd;
		a->path = strdup(cfg->admin_socket);
		event_assign(&a->ev, srv->base, a->fd, EV_READ | EV_PERSIST,
		    admin_on_accept, a);
		event_add(&a->ev, NULL);
		log_notice("admin socket moved to %s", cfg->admin_socket);
		return;
	}
	if (strcmp(cfg->admin_socket_mode, old->admin_socket_mode) != 0 ||
	    strcmp(cfg->admin_socket_owner, old->admin_socket_owner) != 0 ||
	    strcmp(cfg->admin_socket_group, old->admin_socket_group) != 0) {
		if (admin_perms(a->path, cfg, &cause) == -1) {
			admin_note(not_applied, "admin_socket_mode/owner/group: "
			    "%s", cause != NULL ? cause : "failed");
			free(cause);
		}
	}
}

void
admin_print_commands(FILE *fp)
{
	for (size_t i = 0; i < ADMIN_NCMDS; i++)
		fprintf(fp, "%-32s %s\n", admin_cmds[i].usage,
		    admin_cmds[i].doc);
}
