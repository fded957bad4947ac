/* WebSocket extension negotiation: Sec-WebSocket-Extensions syntax and the extension interface (RFC 6455 9). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proto/http1.h"
#include "proto/wsext.h"

/* tchar of RFC 9110 5.6.2. */
static int
wsext_is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static void
wsext_skip_ows(struct http_str v, size_t *pos)
{
	while (*pos < v.len && (v.p[*pos] == ' ' || v.p[*pos] == '\t'))
		(*pos)++;
}

/* A token at |*pos|, possibly empty. */
static struct http_str
wsext_token(struct http_str v, size_t *pos)
{
	struct http_str	 t = { v.p + *pos, 0 };

	while (*pos < v.len && wsext_is_tchar((unsigned char)v.p[*pos])) {
		(*pos)++;
		t.len++;
	}
	return t;
}

/*
 * A parameter value: a token or a quoted-string that unescapes to a token.
 * The first WS_EXT_VALUE_MAX characters go to |p->value|; |*oversize| is
 * set when there were more.
 */
static int
wsext_value(struct http_str v, size_t *pos, struct ws_ext_param *p,
    int *oversize, const char **reason)
{
	size_t	 n = 0;
	char	 c;

	if (*pos < v.len && v.p[*pos] == '"') {
		(*pos)++;
		for (;;) {
			if (*pos >= v.len) {
				*reason = "unterminated quoted-string";
				return -1;
			}
			c = v.p[(*pos)++];
			if (c == '"')
				break;
			if (c == '\\') {
				if (*pos >= v.len) {
					*reason = "unterminated quoted-string";
					return -1;
				}
				c = v.p[(*pos)++];
			}
			if (!wsext_is_tchar((unsigned char)c)) {
				*reason = "quoted parameter value is not a token";
				return -1;
			}
			if (n < WS_EXT_VALUE_MAX)
				p->value[n] = c;
			n++;
		}
	} else {
		struct http_str t = wsext_token(v, pos);

		for (size_t i = 0; i < t.len; i++) {
			if (n < WS_EXT_VALUE_MAX)
				p->value[n] = t.p[i];
			n++;
		}
	}
	if (n == 0) {
		*reason = "empty parameter value";
		return -1;
	}
	if (n > WS_EXT_VALUE_MAX) {
		*oversize = 1;
		n = WS_EXT_VALUE_MAX;
	}
	p->value[n] = '\0';
	return 0;
}

int
ws_ext_parse_next(struct http_str v, size_t *pos, struct ws_ext_offer *o,
    const char **reason)
{
	struct ws_ext_param	 scratch, *p;
	struct http_str		 name;

	memset(o, 0, sizeof(*o));
	/* Empty elements ("a, , b") are allowed by the list syntax. */
	for (;;) {
		wsext_skip_ows(v, pos);
		if (*pos < v.len && v.p[*pos] == ',') {
			(*pos)++;
			continue;
		}
		break;
	}
	if (*pos >= v.len)
		return 0;
	o->name = wsext_token(v, pos);
	if (o->name.len == 0) {
		*reason = "extension name is not a token";
		return -1;
	}
	for (;;) {
		wsext_skip_ows(v, pos);
		if (*pos >= v.len)
			return 1;
		if (v.p[*pos] == ',') {
			(*pos)++;
			return 1;
		}
		if (v.p[*pos] != ';') {
			*reason = "junk after an extension or parameter";
			return -1;
		}
		(*pos)++;
		wsext_skip_ows(v, pos);
		name = wsext_token(v, pos);
		if (name.len == 0) {
			*reason = "parameter name is not a token";
			return -1;
		}
		/* Parameters beyond the array are parsed, then dropped. */
		if (o->nparams < WS_EXT_PARAMS_MAX)
			p = &o->params[o->nparams++];
		else {
			p = &scratch;
			o->oversize = 1;
		}
		memset(p, 0, sizeof(*p));
		p->name = name;
		wsext_skip_ows(v, pos);
		if (*pos < v.len && v.p[*pos] == '=') {
			(*pos)++;
			wsext_skip_ows(v, pos);
			p->has_value = 1;
			if (wsext_value(v, pos, p, &o->oversize, reason) == -1)
				return -1;
		}
	}
}

int
ws_ext_param_is(const struct ws_ext_param *p, const char *name)
{
	return http_str_eq(p->name, name);
}

int
ws_ext_request_values(const struct http_request *req, struct http_str *values,
    size_t max)
{
	size_t	 n = 0;

	for (unsigned i = 0; i < req->nheaders; i++) {
		if (!http_str_eq(req->headers[i].name, "sec-websocket-extensions"))
			continue;
		if (n == max)
			return -1;
		values[n++] = req->headers[i].value;
	}
	return (int)n;
}

int
ws_ext_server_negotiate(const struct ws_extension *const *exts,
    const void *const *confs, void *const *agreed, size_t n,
    const struct http_str *values, size_t nvalues, char *out, size_t outlen,
    unsigned *accepted, const char **reason)
{
	struct ws_ext_offer	 o;
	char			 elem[WS_EXT_RESPONSE_MAX];
	unsigned		 rsv_used = 0;
	size_t			 used = 0, pos, len;
	int			 rc;

	*accepted = 0;
	if (outlen > 0)
		out[0] = '\0';
	/*
	 * The whole header is checked even after every extension has found
	 * its offer: a malformed header fails the handshake wherever the
	 * error sits (RFC 6455 4.2.1).
	 */
	for (size_t h = 0; h < nvalues; h++) {
		pos = 0;
		while ((rc = ws_ext_parse_next(values[h], &pos, &o, reason)) == 1) {
			for (size_t i = 0; i < n; i++) {
				if ((*accepted & (1u << i)) ||
				    (exts[i]->rsv & rsv_used) ||
				    !http_str_eq(o.name, exts[i]->name))
					continue;
				if (!exts[i]->server_accept(confs[i], &o,
				    agreed[i], elem, sizeof(elem)))
					continue;
				len = strlen(elem);
				/* An element that does not fit is declined. */
				if (used + len + 3 > outlen)
					continue;
				if (used > 0) {
					memcpy(out + used, ", ", 2);
					used += 2;
				}
				memcpy(out + used, elem, len + 1);
				used += len;
				*accepted |= 1u << i;
				rsv_used |= exts[i]->rsv;
			}
		}
		if (rc == -1)
			return -1;
	}
	return 0;
}
