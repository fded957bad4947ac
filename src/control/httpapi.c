/* The HTTP API on the listeners: one table of endpoints, JSON answers. */
#include "autoconf.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "control/auth.h"
#include "control/config.h"
#include "control/httpapi.h"
#include "control/metrics.h"
#include "hub/channel.h"
#include "hub/engine.h"
#include "hub/hub.h"
#include "hub/ident.h"
#include "hub/server.h"
#include "proto/frame.h"
#include "proto/http1.h"
#include "proto/session.h"
#include "proto/utf8.h"
#include "transport/conn.h"
#include "transport/h1.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/msg.h"

/* Bytes of a decoded path parameter or query value. */
#define HTTPAPI_ARG_MAX		256
/* Bytes of a close reason: a close frame's payload is at most 125. */
#define HTTPAPI_REASON_MAX	123

/* Endpoint flags. */
#define HTTPAPI_OPEN	0x01	/* answered without the API key */
#define HTTPAPI_BODY	0x02	/* the body is a message; a length is needed */

#define HTTPAPI_JSON	"application/json"

/* One request being served. */
struct httpapi_call {
	struct conn			*conn;
	struct server			*srv;
	const struct http_request	*req;
	const uint8_t			*body;
	size_t				 body_len;
	char				 arg[HTTPAPI_ARG_MAX + 1];
	size_t				 arg_len;	/* {param} decoded */
};

struct httpapi_endpoint {
	const char	*method;	/* GET endpoints answer HEAD too */
	const char	*pattern;	/* a path; {name} matches a segment */
	int		 flags;		/* HTTPAPI_* */
	void		(*handler)(struct httpapi_call *);
	const char	*doc;
};

static void	httpapi_healthz(struct httpapi_call *);
static void	httpapi_metrics(struct httpapi_call *);
static void	httpapi_publish(struct httpapi_call *);
static void	httpapi_channel(struct httpapi_call *);
static void	httpapi_channels(struct httpapi_call *);
static void	httpapi_connections(struct httpapi_call *);
static void	httpapi_send(struct httpapi_call *);
static void	httpapi_disconnect(struct httpapi_call *);
static void	httpapi_broadcast(struct httpapi_call *);
static void	httpapi_send_user(struct httpapi_call *);
static void	httpapi_presence(struct httpapi_call *);
static void	httpapi_nodes(struct httpapi_call *);
static void	httpapi_forward(struct httpapi_call *, int, const char *,
		    struct cluster_cb *);
static struct conn *httpapi_waiting(struct server *, const struct cluster_cb *,
		    const struct cluster_result *);

/*
 * Every endpoint of the API. The docs (docs/HTTP-API.md, wshubd(8)) and
 * httpapi_print_endpoints() follow these rows.
 */
static const struct httpapi_endpoint httpapi_endpoints[] = {
	{ "GET", "/healthz", HTTPAPI_OPEN, httpapi_healthz,
	  "Liveness: 200 with the text \"ok\"; needs no API key." },
	{ "GET", "/metrics", HTTPAPI_OPEN, httpapi_metrics,
	  "Prometheus metrics (text format 0.0.4); needs no API key." },
	{ "POST", "/pub/{channel}", HTTPAPI_BODY, httpapi_publish,
	  "Publish the body as one message on a channel; answers its "
	  "sequence number and how many subscribers it was queued for." },
	{ "POST", "/api/v1/channels/{channel}/publish", HTTPAPI_BODY,
	  httpapi_publish, "The same as POST /pub/{channel}." },
	{ "GET", "/api/v1/channels", 0, httpapi_channels,
	  "List the channels that exist, with subscribers and history." },
	{ "GET", "/api/v1/channels/{channel}", 0, httpapi_channel,
	  "One channel: subscribers (on every node), last sequence number, "
	  "epoch, history." },
	{ "GET", "/api/v1/channels/{channel}/presence", 0, httpapi_presence,
	  "Who is subscribed to a channel, on every node: connection ids "
	  "and users." },
	{ "GET", "/api/v1/nodes", 0, httpapi_nodes,
	  "The running nodes with their WebSockets, users and channels." },
	{ "GET", "/api/v1/connections", 0, httpapi_connections,
	  "List the open WebSocket connections: id, route and peer." },
	{ "POST", "/api/v1/connections/{id}/send", HTTPAPI_BODY,
	  httpapi_send, "sendOne: the body as one message to one connection." },
	{ "POST", "/api/v1/connections/{id}/disconnect", 0,
	  httpapi_disconnect, "Close one connection with ?code= (default "
	  "1000) and ?reason=." },
	{ "DELETE", "/api/v1/connections/{id}", 0, httpapi_disconnect,
	  "The same as POST /api/v1/connections/{id}/disconnect." },
	{ "POST", "/api/v1/users/{user}/send", HTTPAPI_BODY,
	  httpapi_send_user, "The body as one message to every connection of "
	  "an authenticated user." },
	{ "POST", "/api/v1/broadcast", HTTPAPI_BODY, httpapi_broadcast,
	  "sendAll: the body as one message to every connection of the "
	  "route ?route= (its path as configured, such as /broadcast)." },
};

#define HTTPAPI_NENDPOINTS \
	(sizeof(httpapi_endpoints) / sizeof(httpapi_endpoints[0]))

/*
 * Match |path| against |pattern|; a {name} takes one non-empty segment,
 * stored (still escaped) in |*arg|.
 */
static int
httpapi_match(const char *pattern, struct http_str path, struct http_str *arg)
{
	const char *pat = pattern;
	size_t i = 0, start;

	arg->p = NULL;
	arg->len = 0;
	while (*pat != '\0') {
		if (*pat == '{') {
			for (start = i; i < path.len && path.p[i] != '/'; i++)
				;
			if (i == start)
				return 0;
			arg->p = path.p + start;
			arg->len = i - start;
			pat = strchr(pat, '}') + 1;
			continue;
		}
		if (i >= path.len || path.p[i] != *pat)
			return 0;
		i++;
		pat++;
	}
	return i == path.len;
}

/* The name of the parameter in |pattern| ("channel", "id"), or NULL. */
static const char *
httpapi_param(const char *pattern)
{
	const char *p = strchr(pattern, '{');

	return p != NULL ? p + 1 : NULL;
}

static int
httpapi_param_is(const char *pattern, const char *name)
{
	const char *p = httpapi_param(pattern);
	size_t len = strlen(name);

	return p != NULL && strncmp(p, name, len) == 0 && p[len] == '}';
}

static int
httpapi_method_is(const struct httpapi_endpoint *ep,
    const struct http_request *req)
{
	if (http_str_eq(req->method, ep->method))
		return 1;
	return strcmp(ep->method, "GET") == 0 &&
	    http_str_eq(req->method, "HEAD");
}

/*
 * The endpoint for |req|, or NULL. When the path matches endpoints but the
 * method none of them, |allow| lists their methods and |*matched| is set.
 */
static const struct httpapi_endpoint *
httpapi_find(const struct http_request *req, struct http_str *arg,
    char *allow, size_t allowsz, int *matched)
{
	const struct httpapi_endpoint *ep;
	struct http_str a;

	*matched = 0;
	allow[0] = '\0';
	for (size_t i = 0; i < HTTPAPI_NENDPOINTS; i++) {
		ep = &httpapi_endpoints[i];
		if (!httpapi_match(ep->pattern, req->path, &a))
			continue;
		if (httpapi_method_is(ep, req)) {
			*arg = a;
			return ep;
		}
		/* Each method once; the table lists an endpoint per method. */
		if (strstr(allow, ep->method) == NULL) {
			size_t used = strlen(allow);

			snprintf(allow + used, allowsz - used, "%s%s%s",
			    *matched ? ", " : "", ep->method,
			    strcmp(ep->method, "GET") == 0 ? ", HEAD" : "");
		}
		*matched = 1;
	}
	return NULL;
}

/*
 * Percent-decode |len| bytes of |s| into |out| (NUL-terminated); with
 * |plus| a '+' is a space, as in a query. Returns 0, or -1 for a broken
 * escape, an encoded NUL or a result over HTTPAPI_ARG_MAX bytes.
 */
static int
httpapi_unescape(const char *s, size_t len, int plus, char *out,
    size_t *outlen)
{
	long n = http_percent_decode(s, len, plus, out, HTTPAPI_ARG_MAX + 1);

	if (n < 0)
		return -1;
	*outlen = (size_t)n;
	return 0;
}

/*
 * Find the query parameter |name| of |req| and decode its value into
 * |out| (HTTPAPI_ARG_MAX + 1 bytes). Returns 1 when found, 0 when absent,
 * -1 when its value is malformed or too long.
 */
static int
httpapi_query(const struct http_request *req, const char *name, char *out,
    size_t *outlen)
{
	long n = http_query_param(req->query, name, out, HTTPAPI_ARG_MAX + 1);

	if (n < 0)
		return n == -1 ? 0 : -1;
	*outlen = (size_t)n;
	return 1;
}

/* Parse a connection id: 16 hex digits, as the handshake header shows it. */
static int
httpapi_parse_id(const char *s, size_t len, uint64_t *id)
{
	if (len != 16 || hex_u64(s, len, id) == -1 || *id == 0)
		return -1;
	return 0;
}

/* Check the {parameter} of |ep| in |call|; answers 400 when it is bad. */
static int
httpapi_check_arg(struct conn *c, const struct httpapi_endpoint *ep,
    struct httpapi_call *call)
{
	uint64_t id;

	if (httpapi_param_is(ep->pattern, "channel") &&
	    !channel_name_valid(call->arg, call->arg_len)) {
		httpapi_error(c, 400, NULL, "invalid channel name (1-%d "
		    "characters of A-Z a-z 0-9 _ . : @ = + -)",
		    CHANNEL_NAME_MAX);
		return -1;
	}
	if (httpapi_param_is(ep->pattern, "id") &&
	    httpapi_parse_id(call->arg, call->arg_len, &id) == -1) {
		httpapi_error(c, 400, NULL, "invalid connection id (16 hex "
		    "digits, as in the %s header)",
		    c->srv->cfg->connection_id_header);
		return -1;
	}
	return 0;
}

/* Compare an API key in constant time, whatever the two lengths. */
static int
httpapi_key_eq(const char *key, const char *given, size_t len)
{
	unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
	unsigned int alen, blen;

	/*
	 * Comparing digests instead of the strings keeps the time from
	 * depending on where, or whether in length, the two differ.
	 */
	if (EVP_Digest(key, strlen(key), a, &alen, EVP_sha256(), NULL) != 1 ||
	    EVP_Digest(given, len, b, &blen, EVP_sha256(), NULL) != 1 ||
	    alen != blen)
		return 0;
	return CRYPTO_memcmp(a, b, alen) == 0;
}

/* Whether |req| carries the API key, as a Bearer token or in X-Api-Key. */
static int
httpapi_authorized(const struct config *cfg, const struct http_request *req)
{
	const struct http_header *h;
	struct http_str scheme;
	size_t i;

	if (cfg->api_key == NULL || cfg->api_key[0] == '\0')
		return 1;
	for (unsigned n = 0; n < req->nheaders; n++) {
		h = &req->headers[n];
		if (http_str_eq(h->name, "x-api-key") &&
		    httpapi_key_eq(cfg->api_key, h->value.p, h->value.len))
			return 1;
		if (!http_str_eq(h->name, "authorization") || h->value.len < 7)
			continue;
		scheme.p = h->value.p;
		scheme.len = 6;
		if (!http_str_eq(scheme, "bearer") ||
		    (h->value.p[6] != ' ' && h->value.p[6] != '\t'))
			continue;
		for (i = 7; i < h->value.len &&
		    (h->value.p[i] == ' ' || h->value.p[i] == '\t'); i++)
			;
		if (httpapi_key_eq(cfg->api_key, h->value.p + i,
		    h->value.len - i))
			return 1;
	}
	return 0;
}

/* Answer |obj| (consumed; NULL after a failed allocation) as JSON. */
static int
httpapi_json(struct conn *c, int status, const char *extra, json_t *obj)
{
	static const char oom[] =
	    "{\"error\":\"out of memory\",\"status\":500}\n";
	char *text = NULL;
	size_t len = 0;
	int rv;

	if (obj != NULL && (len = json_dumpb(obj, NULL, 0, JSON_COMPACT)) > 0 &&
	    (text = malloc(len + 1)) != NULL)
		len = json_dumpb(obj, text, len, JSON_COMPACT);
	json_decref(obj);
	if (text == NULL)
		return h1_respond(c, 500, HTTPAPI_JSON, NULL, oom,
		    sizeof(oom) - 1);
	/* A newline ends the document, for people reading it in a terminal. */
	text[len++] = '\n';
	rv = h1_respond(c, status, HTTPAPI_JSON, extra, text, len);
	free(text);
	return rv;
}

int
httpapi_error(struct conn *c, int status, const char *extra,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* The text may quote the request; JSON strings must be UTF-8. */
	for (char *p = msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	log_debug("conn %016" PRIx64 ": %d %s", c->id, status, msg);
	return httpapi_json(c, status, extra, json_pack("{s:s, s:i}",
	    "error", msg, "status", status));
}

/*
 * Decide whether the body is a text or a binary message from its
 * Content-Type: text types, JSON, XML, JavaScript and any type with a charset
 * (which must be UTF-8) are text; no type, or curl's default
 * application/x-www-form-urlencoded, is text when the body is valid UTF-8
 * and binary otherwise; every other type is binary. Answers 400 or 415 and
 * returns -1 when the body cannot be sent as asked.
 */
static int
httpapi_opcode(struct httpapi_call *call, unsigned *opcode)
{
	const struct http_header *h;
	struct http_str type, sub, v;
	size_t i, slash;
	int text = -1, valid;

	valid = utf8_is_valid(call->body, call->body_len);
	h = http_header_get(call->req, "content-type");
	if (h == NULL) {
		*opcode = valid ? WS_OP_TEXT : WS_OP_BINARY;
		return 0;
	}
	v = h->value;
	for (i = 0; i < v.len && v.p[i] != ';' && v.p[i] != ' ' &&
	    v.p[i] != '\t'; i++)
		;
	for (slash = 0; slash < i && v.p[slash] != '/'; slash++)
		;
	type = (struct http_str){ v.p, slash };
	sub = (struct http_str){ v.p + slash + (slash < i),
	    i - slash - (slash < i) };
	/* Parameters: only charset matters, and only UTF-8 is text. */
	while (i < v.len) {
		struct http_str name, val;
		size_t s;

		while (i < v.len && (v.p[i] == ';' || v.p[i] == ' ' ||
		    v.p[i] == '\t'))
			i++;
		for (s = i; i < v.len && v.p[i] != '=' && v.p[i] != ';'; i++)
			;
		name = (struct http_str){ v.p + s, i - s };
		if (i < v.len && v.p[i] == '=')
			i++;
		for (s = i; i < v.len && v.p[i] != ';'; i++)
			;
		val = (struct http_str){ v.p + s, i - s };
		while (val.len > 0 && (val.p[val.len - 1] == ' ' ||
		    val.p[val.len - 1] == '\t'))
			val.len--;
		if (val.len >= 2 && val.p[0] == '"' &&
		    val.p[val.len - 1] == '"') {
			val.p++;
			val.len -= 2;
		}
		if (!http_str_eq(name, "charset"))
			continue;
		if (!http_str_eq(val, "utf-8") && !http_str_eq(val, "utf8") &&
		    !http_str_eq(val, "us-ascii")) {
			httpapi_error(call->conn, 415, NULL, "unsupported "
			    "charset %.*s: text messages are UTF-8",
			    (int)val.len, val.p);
			return -1;
		}
		text = 1;
	}
	if (text == -1) {
		if (http_str_eq(type, "text") ||
		    (http_str_eq(type, "application") &&
		    (http_str_eq(sub, "json") || http_str_eq(sub, "xml") ||
		    http_str_eq(sub, "javascript"))) ||
		    (sub.len > 5 && (http_str_eq((struct http_str){
		    sub.p + sub.len - 5, 5 }, "+json") ||
		    http_str_eq((struct http_str){ sub.p + sub.len - 4, 4 },
		    "+xml"))))
			text = 1;
		else if (http_str_eq(type, "application") &&
		    http_str_eq(sub, "x-www-form-urlencoded"))
			text = valid;
		else
			text = 0;
	}
	if (text && !valid) {
		httpapi_error(call->conn, 400, NULL, "the body is not valid "
		    "UTF-8, as a text message (Content-Type %.*s) must be",
		    (int)v.len, v.p);
		return -1;
	}
	*opcode = text ? WS_OP_TEXT : WS_OP_BINARY;
	return 0;
}

static void
httpapi_epoch(uint64_t epoch, char *buf, size_t len)
{
	snprintf(buf, len, "%016" PRIx64, epoch);
}

/* A connection id as the handshake shows it. */
static void
httpapi_id(uint64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "%016" PRIx64, id);
}

static void
httpapi_healthz(struct httpapi_call *call)
{
	h1_respond(call->conn, 200, "text/plain; charset=utf-8", NULL, "ok\n",
	    3);
}

static void
httpapi_metrics(struct httpapi_call *call)
{
	char *text;
	size_t len;

	if ((text = metrics_render(call->srv, &len)) == NULL) {
		httpapi_error(call->conn, 500, NULL, "out of memory");
		return;
	}
	h1_respond(call->conn, 200, METRICS_CONTENT_TYPE, NULL, text, len);
	free(text);
}

/* Answer a publish with what it did. */
static void
httpapi_publish_answer(struct conn *c, int status, const char *reason,
    const struct hub_publish_result *res)
{
	char epoch[HUB_EPOCH_HEXLEN + 1];

	if (status != 0) {
		httpapi_error(c, status, NULL, "%s", reason);
		return;
	}
	httpapi_epoch(res->epoch, epoch, sizeof(epoch));
	httpapi_json(c, 200, NULL, json_pack("{s:s%, s:I, s:s, s:I}",
	    "channel", res->channel, res->channel_len, "seq",
	    (json_int_t)res->seq, "epoch", epoch, "delivered",
	    (json_int_t)res->delivered));
}

/* Redis numbered the message (or failed to): answer the deferred request. */
static void
httpapi_publish_done(struct server *srv, const struct hub_publish_cb *cb,
    int status, const char *reason, const struct hub_publish_result *res)
{
	struct conn *c = idmap_get(&srv->conns, cb->cookie);

	if (c != NULL && c->state == CONN_HTTP)
		httpapi_publish_answer(c, status, reason, res);
}

static void
httpapi_publish(struct httpapi_call *call)
{
	struct hub_publish_result res;
	struct hub_publish_cb cb = { httpapi_publish_done, call->conn->id,
	    NULL };
	const char *reason = "publish failed";
	unsigned opcode;
	int status;

	if (httpapi_opcode(call, &opcode) == -1)
		return;
	memset(&res, 0, sizeof(res));
	status = hub_publish_async(call->srv, call->arg, call->arg_len, opcode,
	    call->body, call->body_len, &cb, &res, &reason);
	/* With Redis the answer waits for the sequence number it gives. */
	if (status == HUB_PUBLISH_LATER) {
		h1_defer(call->conn);
		return;
	}
	httpapi_publish_answer(call->conn, status, reason, &res);
}

static json_t *
httpapi_channel_json(const struct hub_channel_info *info)
{
	char epoch[HUB_EPOCH_HEXLEN + 1];

	httpapi_epoch(info->epoch, epoch, sizeof(epoch));
	return json_pack("{s:s%, s:I, s:I, s:s, s:{s:I, s:I, s:I}}",
	    "channel", info->name, info->name_len,
	    "subscribers", (json_int_t)info->subscribers,
	    "seq", (json_int_t)info->seq, "epoch", epoch,
	    "history", "count", (json_int_t)info->history_count,
	    "bytes", (json_int_t)info->history_bytes,
	    "first_seq", (json_int_t)info->history_first_seq);
}


/* Add |id| of |user| to a presence list and its node's count. */
static void
httpapi_member_add(json_t *list, json_t *per_node, uint64_t id,
    const char *user, size_t user_len)
{
	char ids[17], node[7];
	json_t *one, *n;

	httpapi_id(id, ids, sizeof(ids));
	snprintf(node, sizeof(node), "%06" PRIx64, id >> 40);
	if ((one = json_pack("{s:s, s:s}", "id", ids, "node", node)) == NULL)
		return;
	if (user != NULL && user_len > 0)
		json_object_set_new(one, "user", json_stringn(user, user_len));
	json_array_append_new(list, one);
	n = json_object_get(per_node, node);
	json_object_set_new(per_node, node, json_integer(n != NULL ?
	    json_integer_value(n) + 1 : 1));
}

/*
 * The subscribers of channel |name|: this node's from memory (so a
 * subscription made a moment ago shows), the other nodes' from |res|
 * (NULL on a single node). Fills |per_node|; NULL when out of memory.
 */
static json_t *
httpapi_members(struct server *srv, const char *name,
    const struct cluster_result *res, json_t *per_node)
{
	struct channel *ch;
	struct subscription *s;
	json_t *list;
	const char *user;

	if ((list = json_array()) == NULL)
		return NULL;
	if ((ch = hub_channel(srv, name, strlen(name), 0)) != NULL)
		for (int m = 0; m < SUB_NLISTS; m++)
			TAILQ_FOREACH(s, &ch->subs[m], chan_link) {
				user = ident_conn_user(s->conn);
				httpapi_member_add(list, per_node, s->conn->id,
				    user, user != NULL ? strlen(user) : 0);
			}
	for (size_t i = 0; res != NULL && i < res->nmembers; i++)
		if (CLUSTER_ID_REMOTE(srv, res->members[i].id))
			httpapi_member_add(list, per_node, res->members[i].id,
			    res->members[i].user, res->members[i].user_len);
	return list;
}

/* GET a channel, with Redis: its subscribers on every node. */
static void
httpapi_channel_done(struct server *srv, const struct cluster_cb *cb,
    const struct cluster_result *res)
{
	struct hub_channel_info info;
	json_t *o, *list, *per_node;
	struct conn *c;
	size_t local = 0;

	if ((c = httpapi_waiting(srv, cb, res)) == NULL)
		return;
	memset(&info, 0, sizeof(info));
	if (hub_channel_info(srv, cb->name, strlen(cb->name), &info) == 0)
		local = info.subscribers;
	else {
		info.name = cb->name;
		info.name_len = strlen(cb->name);
	}
	per_node = json_object();
	list = per_node != NULL ? httpapi_members(srv, cb->name, res,
	    per_node) : NULL;
	if (list != NULL && json_array_size(list) == 0 &&
	    info.seq == 0 && info.history_count == 0 && local == 0) {
		json_decref(list);
		json_decref(per_node);
		httpapi_error(c, 404, NULL, "no such channel: %s", cb->name);
		return;
	}
	if ((o = httpapi_channel_json(&info)) != NULL && list != NULL) {
		json_object_set_new(o, "subscribers", json_integer(
		    (json_int_t)json_array_size(list)));
		json_object_set_new(o, "local_subscribers",
		    json_integer((json_int_t)local));
		json_object_set(o, "nodes", per_node);
	}
	json_decref(list);
	json_decref(per_node);
	httpapi_json(c, 200, NULL, list != NULL ? o : (json_decref(o), NULL));
}

/* The presence list of a channel, on every node. */
static void
httpapi_presence_done(struct server *srv, const struct cluster_cb *cb,
    const struct cluster_result *res)
{
	json_t *list, *per_node;
	struct conn *c;

	if ((c = httpapi_waiting(srv, cb, res)) == NULL)
		return;
	per_node = json_object();
	list = per_node != NULL ? httpapi_members(srv, cb->name, res,
	    per_node) : NULL;
	if (list == NULL) {
		json_decref(per_node);
		httpapi_json(c, 500, NULL, NULL);
		return;
	}
	httpapi_json(c, 200, NULL, json_pack("{s:s, s:I, s:o, s:o}",
	    "channel", cb->name, "count", (json_int_t)json_array_size(list),
	    "nodes", per_node, "subscribers", list));
}

/*
 * Ask Redis for the presence of the call's channel; |fn| answers. Returns
 * 0 (the answer is deferred), or an HTTP status and a static |*reason|
 * with nothing answered.
 */
static int
httpapi_presence_ask(struct httpapi_call *call,
    void (*fn)(struct server *, const struct cluster_cb *,
    const struct cluster_result *), const char **reason)
{
	struct cluster_cb cb = { fn, call->conn->id, 0, 0, NULL };
	int status = 500;

	*reason = "out of memory";
	if ((cb.name = strdup(call->arg)) != NULL)
		status = cluster_presence(call->srv->cluster, call->arg,
		    call->arg_len, &cb, reason);
	if (status == 0) {
		h1_defer(call->conn);
		return 0;
	}
	free(cb.name);
	return status;
}

static void
httpapi_presence(struct httpapi_call *call)
{
	struct cluster_cb cb = { NULL, call->conn->id, 0, 0, call->arg };
	struct cluster_result none;

	const char *reason;
	int status;

	if (call->srv->cluster != NULL) {
		if ((status = httpapi_presence_ask(call, httpapi_presence_done,
		    &reason)) != 0)
			httpapi_error(call->conn, status, NULL, "%s", reason);
		return;
	}
	memset(&none, 0, sizeof(none));
	httpapi_presence_done(call->srv, &cb, &none);
}

static void
httpapi_nodes(struct httpapi_call *call)
{
	const struct cluster_node *nodes;
	struct server *srv = call->srv;
	const struct server_stats *st = &srv->stats;
	size_t n = cluster_nodes(srv->cluster, &nodes), ws = 0;
	char tag[7];
	json_t *list;

	if ((list = json_array()) == NULL) {
		httpapi_json(call->conn, 500, NULL, NULL);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(tag, sizeof(tag), "%06" PRIx32, nodes[i].tag);
		json_array_append_new(list, json_pack("{s:s, s:s, s:b, s:I, "
		    "s:I, s:I}", "node", tag, "name", nodes[i].name,
		    "self", nodes[i].self,
		    "websockets", (json_int_t)nodes[i].websockets,
		    "users", (json_int_t)nodes[i].users,
		    "channels", (json_int_t)nodes[i].channels));
	}
	if (srv->cluster == NULL) {
		/* A single node: this one, as it is now. */
		for (size_t i = 0; i < srv->nroutes; i++)
			ws += srv->routes[i]->nconns;
		snprintf(tag, sizeof(tag), "%06" PRIx64, srv->id_base >> 40);
		json_array_append_new(list, json_pack("{s:s, s:s, s:b, s:I, "
		    "s:I, s:I}", "node", tag, "name", tag, "self", 1,
		    "websockets", (json_int_t)ws,
		    "users", (json_int_t)auth_user_count(srv),
		    "channels", (json_int_t)srv->channels.count));
	}
	httpapi_json(call->conn, 200, NULL, json_pack("{s:b, s:b, s:I, s:I, "
	    "s:o}", "cluster", srv->cluster != NULL, "redis_up",
	    st->cluster_up != 0, "outages", (json_int_t)st->cluster_outages,
	    "count", (json_int_t)json_array_size(list), "nodes", list));
}

static void
httpapi_channel(struct httpapi_call *call)
{
	struct hub_channel_info info;
	const char *reason = NULL;
	json_t *o;

	/* With Redis down, this node's view, said to be incomplete. */
	if (call->srv->cluster != NULL && httpapi_presence_ask(call,
	    httpapi_channel_done, &reason) == 0)
		return;
	if (hub_channel_info(call->srv, call->arg, call->arg_len, &info) ==
	    -1) {
		httpapi_error(call->conn, 404, NULL, "no such channel: %s",
		    call->arg);
		return;
	}
	o = httpapi_channel_json(&info);
	if (o != NULL && reason != NULL)
		json_object_set_new(o, "incomplete", json_string(reason));
	httpapi_json(call->conn, 200, NULL, o);
}

static void
httpapi_channels_add(void *arg, const struct hub_channel_info *info)
{
	json_t *list = arg, *one;

	/* A channel left out for want of memory shows in the count. */
	if ((one = httpapi_channel_json(info)) != NULL)
		json_array_append_new(list, one);
}

static void
httpapi_channels(struct httpapi_call *call)
{
	json_t *list;

	if ((list = json_array()) != NULL)
		hub_channels_foreach(call->srv, httpapi_channels_add, list);
	httpapi_json(call->conn, 200, NULL, list == NULL ? NULL :
	    json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(list),
	    "channels", list));
}

static void
httpapi_connections(struct httpapi_call *call)
{
	const struct idmap *map = &call->srv->conns;
	struct conn *c;
	char id[17], peer[64];
	json_t *list, *one;

	if ((list = json_array()) == NULL) {
		httpapi_json(call->conn, 500, NULL, NULL);
		return;
	}
	for (size_t i = 0; map->slots != NULL && i <= map->mask; i++) {
		if (map->slots[i].key == 0)
			continue;
		c = map->slots[i].val;
		/* Only WebSockets: HTTP clients like this one come and go. */
		if (c->state != CONN_WS || c->route == NULL)
			continue;
		httpapi_id(c->id, id, sizeof(id));
		one = json_pack("{s:s, s:s, s:s}", "id", id,
		    "route", c->route->cfg->path,
		    "peer", conn_peer(c, peer, sizeof(peer)));
		/* Authenticated connections show their user. */
		if (one != NULL && ident_conn_user(c) != NULL &&
		    ident_conn_user(c)[0] != '\0')
			json_object_set_new(one, "user",
			    json_string(ident_conn_user(c)));
		if (one != NULL)
			json_array_append_new(list, one);
	}
	httpapi_json(call->conn, 200, NULL, json_pack("{s:I, s:o}", "count",
	    (json_int_t)json_array_size(list), "connections", list));
}

/* The open WebSocket named by the call's {id}, or NULL after a 404. */
static struct conn *
httpapi_target(struct httpapi_call *call)
{
	struct conn *c;
	uint64_t id;

	if (httpapi_parse_id(call->arg, call->arg_len, &id) == -1 ||
	    (c = idmap_get(&call->srv->conns, id)) == NULL ||
	    c->state != CONN_WS) {
		httpapi_error(call->conn, 404, NULL,
		    "no such WebSocket connection: %s", call->arg);
		return NULL;
	}
	return c;
}

/*
 * With Redis, whether the call's {id} names a connection another node
 * gave: the request then goes to that node, which answers.
 */
static int
httpapi_remote_id(struct httpapi_call *call, uint64_t *id)
{
	return call->srv->cluster != NULL &&
	    httpapi_parse_id(call->arg, call->arg_len, id) == 0 &&
	    CLUSTER_ID_REMOTE(call->srv, *id);
}

/* Defer the answer to the other nodes', or answer the refusal now. */
static void
httpapi_forward(struct httpapi_call *call, int status, const char *reason,
    struct cluster_cb *cb)
{
	if (status == 0) {
		h1_defer(call->conn);
		return;
	}
	free(cb->name);
	httpapi_error(call->conn, status, NULL, "%s", reason);
}

/*
 * The request waiting for other nodes' answer |res|, or NULL when it is
 * gone or was answered with the error |res| carries.
 */
static struct conn *
httpapi_waiting(struct server *srv, const struct cluster_cb *cb,
    const struct cluster_result *res)
{
	struct conn *c = idmap_get(&srv->conns, cb->cookie);

	if (c == NULL || c->state != CONN_HTTP)
		return NULL;
	if (res->status != 0) {
		httpapi_error(c, res->status, NULL, "%s", res->reason);
		return NULL;
	}
	return c;
}

static void
httpapi_send_done(struct server *srv, const struct cluster_cb *cb,
    const struct cluster_result *res)
{
	struct conn *c;
	char id[17];

	if ((c = httpapi_waiting(srv, cb, res)) == NULL)
		return;
	httpapi_id(cb->id, id, sizeof(id));
	if (res->delivered == 0) {
		httpapi_error(c, 503, NULL, "connection %s takes no more "
		    "messages (send buffer full or closing)", id);
		return;
	}
	httpapi_json(c, 200, NULL, json_pack("{s:s, s:i}", "id", id,
	    "delivered", 1));
}

static void
httpapi_kick_done(struct server *srv, const struct cluster_cb *cb,
    const struct cluster_result *res)
{
	struct conn *c;
	char id[17];

	if ((c = httpapi_waiting(srv, cb, res)) == NULL)
		return;
	httpapi_id(cb->id, id, sizeof(id));
	httpapi_json(c, 200, NULL, json_pack("{s:s, s:i}", "id", id,
	    "code", (int)cb->code));
}

/* sendOne and sendAll answers: totals over the nodes that answered. */
static void
httpapi_fanout_done(struct server *srv, const struct cluster_cb *cb,
    const struct cluster_result *res)
{
	const int user = cb->code == 0;
	struct conn *c;
	json_t *o;

	if ((c = httpapi_waiting(srv, cb, res)) == NULL)
		return;
	if (user && res->connections == 0) {
		httpapi_error(c, 404, NULL, "no open connection of user %s on "
		    "any node", cb->name);
		return;
	}
	o = json_pack("{s:s, s:I, s:I, s:I}", user ? "user" : "route",
	    cb->name, "connections", (json_int_t)res->connections,
	    "delivered", (json_int_t)res->delivered,
	    "nodes", (json_int_t)(res->nodes + 1));
	/* Nodes that got the request but did not answer in time. */
	if (o != NULL && res->nodes < res->nodes_asked)
		json_object_set_new(o, "nodes_silent",
		    json_integer((json_int_t)(res->nodes_asked - res->nodes)));
	httpapi_json(c, 200, NULL, o);
}

/*
 * Hand a user or route message, delivered here as |local| says, on to
 * the other nodes. Redis being down leaves what was done here: the answer
 * says so ("incomplete"), or is 503 when nothing was.
 */
static void
httpapi_fanout(struct httpapi_call *call, const char *name, int user,
    unsigned opcode, const struct cluster_result *local)
{
	struct cluster_cb cb = { httpapi_fanout_done, call->conn->id, 0,
	    user ? 0 : 1, NULL };
	const char *reason = "out of memory";
	int status = 500;

	if ((cb.name = strdup(name)) != NULL)
		status = user ? cluster_send_user(call->srv->cluster, name,
		    opcode, call->body, call->body_len, local, &cb, &reason) :
		    cluster_broadcast(call->srv->cluster, name, opcode,
		    call->body, call->body_len, local, &cb, &reason);
	if (status == 0) {
		h1_defer(call->conn);
		return;
	}
	free(cb.name);
	if (local->connections == 0) {
		httpapi_error(call->conn, status, NULL, "%s", reason);
		return;
	}
	httpapi_json(call->conn, 200, NULL, json_pack("{s:s, s:I, s:I, s:i, "
	    "s:s}", user ? "user" : "route", name,
	    "connections", (json_int_t)local->connections,
	    "delivered", (json_int_t)local->delivered, "nodes", 1,
	    "incomplete", reason));
}

static void
httpapi_send(struct httpapi_call *call)
{
	struct cluster_cb cb = { httpapi_send_done, call->conn->id, 0, 0,
	    NULL };
	const char *reason = NULL;
	struct conn *c;
	unsigned opcode;
	char id[17];
	int status;

	if (httpapi_opcode(call, &opcode) == -1)
		return;
	if (httpapi_remote_id(call, &cb.id)) {
		status = cluster_send_one(call->srv->cluster, cb.id, opcode,
		    call->body, call->body_len, &cb, &reason);
		httpapi_forward(call, status, reason, &cb);
		return;
	}
	if ((c = httpapi_target(call)) == NULL)
		return;
	if (server_send_one(call->srv, c->id, opcode, call->body,
	    call->body_len) == -1) {
		httpapi_error(call->conn, 503, NULL, "connection %s takes no "
		    "more messages (send buffer full or closing)", call->arg);
		return;
	}
	httpapi_id(c->id, id, sizeof(id));
	httpapi_json(call->conn, 200, NULL, json_pack("{s:s, s:i}", "id", id,
	    "delivered", 1));
}

static void
httpapi_disconnect(struct httpapi_call *call)
{
	char val[HTTPAPI_ARG_MAX + 1], reason[HTTPAPI_ARG_MAX + 1], id[17];
	struct cluster_cb cb = { httpapi_kick_done, call->conn->id, 0, 0,
	    NULL };
	unsigned long code = WS_CLOSE_NORMAL;
	const char *why = NULL;
	size_t len, rlen = 0;
	struct conn *c;
	char *end;
	int rv;

	if ((rv = httpapi_query(call->req, "code", val, &len)) == 1) {
		code = strtoul(val, &end, 10);
		if (len == 0 || *end != '\0' || val[0] < '0' || val[0] > '9' ||
		    !ws_close_code_valid((unsigned)code) || code > 4999) {
			httpapi_error(call->conn, 400, NULL,
			    "invalid close code "
			    "%s (1000-1003, 1007-1014 or 3000-4999)", val);
			return;
		}
	} else if (rv == -1) {
		httpapi_error(call->conn, 400, NULL,
		    "malformed code parameter");
		return;
	}
	reason[0] = '\0';
	if ((rv = httpapi_query(call->req, "reason", reason, &rlen)) == -1 ||
	    rlen > HTTPAPI_REASON_MAX ||
	    !utf8_is_valid((const uint8_t *)reason, rlen)) {
		httpapi_error(call->conn, 400, NULL, "invalid reason (at most "
		    "%d bytes of UTF-8)", HTTPAPI_REASON_MAX);
		return;
	}
	if (httpapi_remote_id(call, &cb.id)) {
		cb.code = (unsigned)code;
		rv = cluster_kick(call->srv->cluster, cb.id, cb.code, reason,
		    &cb, &why);
		httpapi_forward(call, rv, why, &cb);
		return;
	}
	if ((c = httpapi_target(call)) == NULL)
		return;
	httpapi_id(c->id, id, sizeof(id));
	log_info("conn %016" PRIx64 ": disconnected through the API with %lu",
	    c->id, code);
	conn_close(c, (uint16_t)code, reason);
	httpapi_json(call->conn, 200, NULL, json_pack("{s:s, s:i}", "id", id,
	    "code", (int)code));
}

/* What httpapi_send_user() hands each connection of the user. */
struct httpapi_user_send {
	struct msg	*m;
	size_t		 delivered;
};

static void
httpapi_send_user_one(struct conn *c, void *arg)
{
	struct httpapi_user_send *us = arg;

	if (conn_send(c, us->m) == 0)
		us->delivered++;
}

static void
httpapi_send_user(struct httpapi_call *call)
{
	struct httpapi_user_send us = { NULL, 0 };
	unsigned opcode;
	size_t n;

	if (httpapi_opcode(call, &opcode) == -1)
		return;
	if ((us.m = msg_frame(opcode, call->body, call->body_len)) == NULL) {
		httpapi_error(call->conn, 500, NULL, "out of memory");
		return;
	}
	/* One frame, shared by every connection of the user. */
	n = auth_user_foreach(call->srv, call->arg, httpapi_send_user_one, &us);
	msg_unref(us.m);
	call->srv->stats.msgs_out += us.delivered;
	if (call->srv->cluster != NULL) {
		struct cluster_result local = { .connections = n,
		    .delivered = us.delivered };

		httpapi_fanout(call, call->arg, 1, opcode, &local);
		return;
	}
	if (n == 0) {
		httpapi_error(call->conn, 404, NULL, "no open connection of "
		    "user %s", call->arg);
		return;
	}
	httpapi_json(call->conn, 200, NULL, json_pack("{s:s, s:I, s:I}",
	    "user", call->arg, "connections", (json_int_t)n,
	    "delivered", (json_int_t)us.delivered));
}

/* The route configured as |path|; a prefix route may omit its star. */
static struct route *
httpapi_route(struct server *srv, const char *path, size_t len)
{
	for (size_t i = 0; i < srv->nroutes; i++) {
		const struct config_route *rc = srv->routes[i]->cfg;
		size_t plen = strlen(rc->path);

		if (len == plen && memcmp(path, rc->path, len) == 0)
			return srv->routes[i];
		if (rc->prefix && len == plen + 1 &&
		    memcmp(path, rc->path, plen) == 0 && path[plen] == '*')
			return srv->routes[i];
	}
	return NULL;
}

static void
httpapi_broadcast(struct httpapi_call *call)
{
	char path[HTTPAPI_ARG_MAX + 1];
	struct route *r;
	struct msg *m;
	unsigned opcode;
	size_t len, n;
	int rv;

	if ((rv = httpapi_query(call->req, "route", path, &len)) != 1) {
		httpapi_error(call->conn, 400, NULL, rv == 0 ?
		    "missing query parameter: route" :
		    "malformed route parameter");
		return;
	}
	if ((r = httpapi_route(call->srv, path, len)) == NULL) {
		httpapi_error(call->conn, 404, NULL, "no such route: %s", path);
		return;
	}
	if (httpapi_opcode(call, &opcode) == -1)
		return;
	if ((m = msg_frame(opcode, call->body, call->body_len)) == NULL) {
		httpapi_error(call->conn, 500, NULL, "out of memory");
		return;
	}
	n = route_send_all(r, m);
	msg_unref(m);
	if (call->srv->cluster != NULL) {
		struct cluster_result local = { .connections = r->nconns,
		    .delivered = n };

		httpapi_fanout(call, r->cfg->path, 0, opcode, &local);
		return;
	}
	httpapi_json(call->conn, 200, NULL, json_pack("{s:s, s:I}", "route",
	    r->cfg->path, "delivered", (json_int_t)n));
}

/*
 * Decide whether the API may be used: the API key, when set, opens every
 * endpoint, as for a server; otherwise the authenticator decides, and its
 * publish patterns apply to the publish endpoints. With neither the API is
 * open.
 */
static enum httpapi_verdict
httpapi_auth(struct conn *c, const struct http_request *req)
{
	const struct config *cfg = c->srv->cfg;
	struct auth_denial deny;
	int has_key = cfg->api_key != NULL && cfg->api_key[0] != '\0';

	auth_conn_reset(c);
	if (has_key && httpapi_authorized(cfg, req))
		return HTTPAPI_READ_BODY;
	if (!auth_enabled(c->srv)) {
		if (!has_key)
			return HTTPAPI_READ_BODY;
		httpapi_error(c, 401,
		    "WWW-Authenticate: Bearer realm=\"wshub\"\r\n",
		    "missing or wrong API key (Authorization: Bearer KEY or "
		    "X-Api-Key: KEY)");
		return HTTPAPI_ANSWERED;
	}
	switch (auth_decide(c, AUTH_KIND_API, NULL, req, &deny)) {
	case AUTH_ALLOW:
		return HTTPAPI_READ_BODY;
	case AUTH_PENDING:
		return HTTPAPI_WAIT;
	case AUTH_DENY:
		break;
	}
	httpapi_error(c, deny.status, deny.status == 401 ?
	    "WWW-Authenticate: Bearer realm=\"wshub\"\r\n" : NULL, "%s",
	    deny.reason);
	return HTTPAPI_ANSWERED;
}

enum httpapi_verdict
httpapi_check(struct conn *c, const struct http_request *req, int authed)
{
	const struct httpapi_endpoint *ep;
	struct httpapi_call call;
	struct http_str arg;
	char allow[64], extra[96];
	int matched;

	if ((ep = httpapi_find(req, &arg, allow, sizeof(allow), &matched)) ==
	    NULL) {
		if (matched) {
			snprintf(extra, sizeof(extra), "Allow: %s\r\n", allow);
			httpapi_error(c, 405, extra, "method %.*s not allowed "
			    "on %.*s", (int)req->method.len, req->method.p,
			    (int)req->path.len, req->path.p);
			return HTTPAPI_ANSWERED;
		}
		/* Whatever is under the API prefixes, the API refuses. */
		if (req->path.len >= 5 &&
		    (memcmp(req->path.p, "/api/", 5) == 0 ||
		    memcmp(req->path.p, "/pub/", 5) == 0)) {
			httpapi_error(c, 404, NULL, "no such endpoint: %.*s",
			    (int)req->path.len, req->path.p);
			return HTTPAPI_ANSWERED;
		}
		return HTTPAPI_PASS;
	}
	if ((ep->flags & HTTPAPI_OPEN) == 0 && !authed) {
		enum httpapi_verdict v = httpapi_auth(c, req);

		if (v != HTTPAPI_READ_BODY)
			return v;
	}
	if (arg.p != NULL) {
		if (httpapi_unescape(arg.p, arg.len, 0, call.arg,
		    &call.arg_len) == -1) {
			httpapi_error(c, 400, NULL,
			    "malformed percent-encoding "
			    "in %.*s", (int)req->path.len, req->path.p);
			return HTTPAPI_ANSWERED;
		}
		if (httpapi_check_arg(c, ep, &call) == -1)
			return HTTPAPI_ANSWERED;
		/* Refused before the body is sent, like a wrong key. */
		if (ep->handler == httpapi_publish && !ident_may_publish(
		    c->ident, call.arg, call.arg_len)) {
			c->srv->stats.authz_denied++;
			httpapi_error(c, 403, NULL, "not allowed to publish on "
			    "%s", call.arg);
			return HTTPAPI_ANSWERED;
		}
	}
	if ((ep->flags & HTTPAPI_BODY) && req->content_length == -1 &&
	    !req->chunked) {
		httpapi_error(c, 411, NULL, "the message is the body: send "
		    "Content-Length or Transfer-Encoding: chunked");
		return HTTPAPI_ANSWERED;
	}
	return HTTPAPI_READ_BODY;
}

void
httpapi_serve(struct conn *c, const struct http_request *req,
    const uint8_t *body, size_t len)
{
	const struct httpapi_endpoint *ep;
	struct httpapi_call call;
	struct http_str arg;
	char allow[64];
	int matched;

	if ((ep = httpapi_find(req, &arg, allow, sizeof(allow), &matched)) ==
	    NULL) {
		httpapi_error(c, 404, NULL, "no such endpoint: %.*s",
		    (int)req->path.len, req->path.p);
		return;
	}
	memset(&call, 0, sizeof(call));
	call.conn = c;
	call.srv = c->srv;
	call.req = req;
	/* An empty body is still a message: never hand on a NULL pointer. */
	call.body = body != NULL ? body : (const uint8_t *)"";
	call.body_len = len;
	if (arg.p != NULL && httpapi_unescape(arg.p, arg.len, 0, call.arg,
	    &call.arg_len) == -1) {
		httpapi_error(c, 400, NULL,
		    "malformed percent-encoding in %.*s",
		    (int)req->path.len, req->path.p);
		return;
	}
	log_debug("conn %016" PRIx64 ": %.*s %.*s (%zu byte body)", c->id,
	    (int)req->method.len, req->method.p, (int)req->target.len,
	    req->target.p, len);
	ep->handler(&call);
}

void
httpapi_print_endpoints(FILE *fp)
{
	for (size_t i = 0; i < HTTPAPI_NENDPOINTS; i++) {
		const struct httpapi_endpoint *ep = &httpapi_endpoints[i];

		fprintf(fp, "%-6s %-36s %s  %s\n", ep->method, ep->pattern,
		    (ep->flags & HTTPAPI_OPEN) ? "open" : "key ", ep->doc);
	}
}
