/* Parsing and checking the server's answer to the WebSocket opening handshake. */
#include "autoconf.h"

#include <ctype.h>
#include <string.h>

#include "client/response.h"
#include "proto/handshake.h"
#include "proto/http1.h"

/* Token characters of a header name (RFC 9110 5.6.2). */
static int
response_tchar(unsigned char ch)
{
	return isalnum(ch) || (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) !=
	    NULL);
}

static struct http_str
response_trim(const char *p, size_t len)
{
	struct http_str	 s;

	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	s.p = p;
	s.len = len;
	return s;
}

int
response_parse(const char *buf, size_t len, struct response *r,
    const char **reason)
{
	const char	*end, *line, *eol, *colon;
	size_t		 n, i;

	memset(r, 0, sizeof(*r));
	/* Find the blank line that ends the head. */
	end = NULL;
	for (i = 0; i + 3 < len && i + 4 <= RESPONSE_HEAD_MAX; i++) {
		if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' &&
		    buf[i + 3] == '\n') {
			end = buf + i + 4;
			break;
		}
	}
	if (end == NULL) {
		if (len >= RESPONSE_HEAD_MAX) {
			*reason = "response head too large";
			return -1;
		}
		/* A head that cannot be HTTP fails before it is complete. */
		n = len < 5 ? len : 5;
		if (memcmp(buf, "HTTP/", n) != 0) {
			*reason = "response is not HTTP";
			return -1;
		}
		return 0;
	}
	r->head_len = (size_t)(end - buf);

	/* Status line: HTTP/1.x SP 3DIGIT [SP reason] CRLF. */
	if (memchr(buf, '\0', r->head_len) != NULL) {
		*reason = "NUL byte in the response head";
		return -1;
	}
	for (eol = buf; !(eol[0] == '\r' && eol[1] == '\n'); eol++)
		;
	if (eol - buf < 12 || memcmp(buf, "HTTP/1.", 7) != 0 ||
	    !isdigit((unsigned char)buf[7]) || buf[8] != ' ' ||
	    !isdigit((unsigned char)buf[9]) ||
	    !isdigit((unsigned char)buf[10]) ||
	    !isdigit((unsigned char)buf[11]) ||
	    (eol - buf > 12 && buf[12] != ' ')) {
		*reason = "malformed status line";
		return -1;
	}
	r->version_minor = (unsigned)(buf[7] - '0');
	r->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 +
	    (buf[11] - '0');
	if (eol - buf > 12)
		r->reason = response_trim(buf + 13, (size_t)(eol - buf - 13));

	for (line = eol + 2; line < end - 2; line = eol + 2) {
		eol = line;
		while (eol < end - 2 && !(eol[0] == '\r' && eol[1] == '\n'))
			eol++;
		if (*line == ' ' || *line == '\t') {
			*reason = "obsolete line folding in the response";
			return -1;
		}
		colon = memchr(line, ':', (size_t)(eol - line));
		if (colon == NULL || colon == line) {
			*reason = "malformed header line";
			return -1;
		}
		for (i = 0; line + i < colon; i++) {
			if (!response_tchar((unsigned char)line[i])) {
				*reason = "bad character in a header name";
				return -1;
			}
		}
		for (i = 0; colon + 1 + i < eol; i++) {
			if (colon[1 + i] == '\0' || colon[1 + i] == '\n' ||
			    colon[1 + i] == '\r') {
				*reason = "bad character in a header value";
				return -1;
			}
		}
		if (r->nheaders == RESPONSE_HEADERS_MAX) {
			*reason = "too many response headers";
			return -1;
		}
		r->headers[r->nheaders].name.p = line;
		r->headers[r->nheaders].name.len = (size_t)(colon - line);
		r->headers[r->nheaders].value = response_trim(colon + 1,
		    (size_t)(eol - colon - 1));
		r->nheaders++;
	}
	return (int)r->head_len;
}

const struct http_header *
response_header(const struct response *r, const char *name)
{
	unsigned	 i;

	for (i = 0; i < r->nheaders; i++) {
		if (http_str_eq(r->headers[i].name, name))
			return &r->headers[i];
	}
	return NULL;
}

static unsigned
response_count(const struct response *r, const char *name)
{
	unsigned	 i, n = 0;

	for (i = 0; i < r->nheaders; i++) {
		if (http_str_eq(r->headers[i].name, name))
			n++;
	}
	return n;
}

/* Whether any header named |name| lists |token|. */
static int
response_has_token(const struct response *r, const char *name,
    const char *token)
{
	unsigned	 i;

	for (i = 0; i < r->nheaders; i++) {
		if (http_str_eq(r->headers[i].name, name) &&
		    http_list_has_token(r->headers[i].value, token))
			return 1;
	}
	return 0;
}

/* Subprotocol and extensions, the same over HTTP/1.1 and HTTP/2. */
static int
response_check_negotiation(const struct response *r,
    const char *const *protocols, int deflate, const char **reason)
{
	const struct http_header	*h;
	struct http_str			 elem, name;
	size_t				 pos, i, n;
	unsigned			 k;

	if ((h = response_header(r, "sec-websocket-protocol")) != NULL) {
		/* RFC 6455 4.1: exactly one, and one we asked for. */
		if (response_count(r, "sec-websocket-protocol") != 1 ||
		    memchr(h->value.p, ',', h->value.len) != NULL ||
		    h->value.len == 0) {
			*reason = "server chose more than one subprotocol";
			return -1;
		}
		for (i = 0; protocols != NULL && protocols[i] != NULL; i++) {
			if (strlen(protocols[i]) == h->value.len &&
			    memcmp(protocols[i], h->value.p, h->value.len) == 0)
				break;
		}
		if (protocols == NULL || protocols[i] == NULL) {
			*reason = "server chose a subprotocol we did not offer";
			return -1;
		}
	}
	for (k = 0; k < r->nheaders; k++) {
		if (!http_str_eq(r->headers[k].name,
		    "sec-websocket-extensions"))
			continue;
		pos = 0;
		while (http_list_next(r->headers[k].value, &pos, &elem)) {
			/* The extension's name is what precedes ';'. */
			for (n = 0; n < elem.len && elem.p[n] != ';'; n++)
				;
			name.p = elem.p;
			name.len = n;
			while (name.len > 0 && (name.p[name.len - 1] == ' ' ||
			    name.p[name.len - 1] == '\t'))
				name.len--;
			if (!deflate || !http_str_eq(name, "permessage-deflate")) {
				*reason = "server accepted an extension we did "
				    "not offer";
				return -1;
			}
		}
	}
	return 0;
}

int
response_validate(const struct response *r, const char *key,
    const char *const *protocols, int deflate, const char **reason)
{
	const struct http_header	*h;
	char				 accept[WS_KEY_ACCEPT_LEN + 1];

	if (key == NULL) {
		/* RFC 8441 5: any 2xx status opens the stream. */
		if (r->status < 200 || r->status > 299) {
			*reason = "server refused the extended CONNECT";
			return -1;
		}
		return response_check_negotiation(r, protocols, deflate,
		    reason);
	}
	if (r->status != 101) {
		*reason = "server did not switch protocols";
		return -1;
	}
	if (!response_has_token(r, "upgrade", "websocket")) {
		*reason = "Upgrade header does not name websocket";
		return -1;
	}
	if (!response_has_token(r, "connection", "upgrade")) {
		*reason = "Connection header does not list upgrade";
		return -1;
	}
	h = response_header(r, "sec-websocket-accept");
	if (h == NULL || response_count(r, "sec-websocket-accept") != 1) {
		*reason = "missing or repeated Sec-WebSocket-Accept";
		return -1;
	}
	if (ws_accept_key(key, strlen(key), accept) == -1) {
		*reason = "cannot compute Sec-WebSocket-Accept";
		return -1;
	}
	if (h->value.len != WS_KEY_ACCEPT_LEN ||
	    memcmp(h->value.p, accept, WS_KEY_ACCEPT_LEN) != 0) {
		*reason = "wrong Sec-WebSocket-Accept";
		return -1;
	}
	return response_check_negotiation(r, protocols, deflate, reason);
}
