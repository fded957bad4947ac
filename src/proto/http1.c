/* HTTP/1.1 request-head parsing with limits and no I/O (RFC 9110, RFC 9112). */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "proto/http1.h"
#include "util/hex.h"

/* Used when the caller passes no limits or zeros. */
#define HTTP_DEFAULT_MAX_HEAD		8192
#define HTTP_DEFAULT_MAX_HEADERS	64

/* The result of looking for the blank line that ends a head. */
enum http_scan {
	HTTP_SCAN_FOUND,
	HTTP_SCAN_MORE,
	HTTP_SCAN_BAD
};

static int
http_is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static unsigned char
http_lower(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return (unsigned char)(c - 'A' + 'a');
	return c;
}

static int
http_is_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

long
http_percent_decode(const char *s, size_t len, int plus, char *out,
    size_t outsz)
{
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (o + 1 >= outsz)
			return -1;
		if (s[i] == '%') {
			if (len - i < 3 ||
			    (hi = hex_digit((unsigned char)s[i + 1])) < 0 ||
			    (lo = hex_digit((unsigned char)s[i + 2])) < 0 ||
			    (hi == 0 && lo == 0))
				return -1;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (plus && s[i] == '+')
			out[o++] = ' ';
		else
			out[o++] = s[i];
	}
	if (outsz > 0)
		out[o] = '\0';
	return outsz > 0 ? (long)o : -1;
}

long
http_query_param(struct http_str query, const char *name, char *out,
    size_t outsz)
{
	const char *p = query.p, *end = query.p + query.len, *amp, *eq;
	size_t nlen = strlen(name);
	long n;

	for (; p < end; p = amp + 1) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		eq = memchr(p, '=', (size_t)(amp - p));
		if ((size_t)((eq != NULL ? eq : amp) - p) != nlen ||
		    memcmp(p, name, nlen) != 0)
			continue;
		n = eq == NULL ? http_percent_decode("", 0, 1, out, outsz) :
		    http_percent_decode(eq + 1, (size_t)(amp - eq - 1), 1, out,
		    outsz);
		return n < 0 ? -2 : n;
	}
	return -1;
}

int
http_str_eq(struct http_str s, const char *cstr)
{
	size_t	 i;

	for (i = 0; i < s.len; i++) {
		if (cstr[i] == '\0' ||
		    http_lower((unsigned char)s.p[i]) !=
		    http_lower((unsigned char)cstr[i]))
			return 0;
	}
	return cstr[i] == '\0';
}

/*
 * Find the end of the head in the first |n| bytes. Every LF must follow a
 * CR and every CR must precede an LF: accepting bare line ends is how
 * request smuggling between disagreeing parsers starts (RFC 9112 2.2).
 */
static enum http_scan
http_scan_head(const char *buf, size_t n, size_t *end, const char **why)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (buf[i] == '\r') {
			if (i + 1 < n && buf[i + 1] != '\n') {
				*why = "CR not followed by LF";
				return HTTP_SCAN_BAD;
			}
		} else if (buf[i] == '\n') {
			if (i == 0 || buf[i - 1] != '\r') {
				*why = "bare LF line ending";
				return HTTP_SCAN_BAD;
			}
			/* CRLF CRLF: the LF two bytes back had its CR checked. */
			if (i >= 3 && buf[i - 2] == '\n') {
				*end = i + 1;
				return HTTP_SCAN_FOUND;
			}
		}
	}
	return HTTP_SCAN_MORE;
}

/* Parse "method SP request-target SP HTTP-version" (RFC 9112 3). */
static int
http_parse_request_line(const char *l, size_t ll, struct http_request *req,
    const char **why)
{
	const char	*v;
	size_t		 i = 0, start, q;

	while (i < ll && http_is_tchar((unsigned char)l[i]))
		i++;
	if (i == 0 || i >= ll || l[i] != ' ') {
		*why = "malformed method in request line";
		return -400;
	}
	req->method.p = l;
	req->method.len = i;

	start = ++i;
	while (i < ll && l[i] != ' ') {
		/* Only visible ASCII; no controls, no raw UTF-8. */
		if ((unsigned char)l[i] <= 0x20 || (unsigned char)l[i] >= 0x7f) {
			*why = "invalid character in request-target";
			return -400;
		}
		i++;
	}
	if (i == start || i >= ll) {
		*why = "malformed request-target in request line";
		return -400;
	}
	req->target.p = l + start;
	req->target.len = i - start;
	i++;

	if (ll - i != 8 || memcmp(l + i, "HTTP/", 5) != 0 ||
	    l[i + 5] < '0' || l[i + 5] > '9' || l[i + 6] != '.' ||
	    l[i + 7] < '0' || l[i + 7] > '9') {
		*why = "malformed HTTP version";
		return -400;
	}
	v = l + i + 5;
	if (v[0] != '1') {
		*why = "HTTP major version is not 1";
		return -505;
	}
	req->version_minor = (unsigned)(v[2] - '0');

	/* Only origin-form: a WebSocket server has no use for the others. */
	if (req->target.p[0] != '/') {
		*why = "request-target is not an absolute path";
		return -400;
	}
	for (q = 0; q < req->target.len && req->target.p[q] != '?'; q++)
		;
	req->path.p = req->target.p;
	req->path.len = q;
	if (q < req->target.len) {
		req->query.p = req->target.p + q + 1;
		req->query.len = req->target.len - q - 1;
	} else {
		req->query.p = req->target.p + q;
		req->query.len = 0;
	}
	return 0;
}

/* Parse one "name: value" line into |h| (RFC 9112 5). */
static int
http_parse_field(const char *l, size_t ll, struct http_header *h,
    const char **why)
{
	size_t	 i = 0, vs, ve;

	if (ll > 0 && http_is_blank((unsigned char)l[0])) {
		*why = "obsolete line folding";
		return -400;
	}
	while (i < ll && http_is_tchar((unsigned char)l[i]))
		i++;
	if (i == ll || l[i] != ':') {
		if (i < ll && http_is_blank((unsigned char)l[i]))
			*why = "whitespace before colon in header field";
		else
			*why = "invalid header field name";
		return -400;
	}
	if (i == 0) {
		*why = "empty header field name";
		return -400;
	}
	h->name.p = l;
	h->name.len = i;

	vs = i + 1;
	while (vs < ll && http_is_blank((unsigned char)l[vs]))
		vs++;
	for (ve = vs; ve < ll; ve++) {
		unsigned char c = (unsigned char)l[ve];

		/* field-vchar, SP, HTAB and obs-text; no other controls. */
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			*why = "invalid character in header field value";
			return -400;
		}
	}
	while (ve > vs && http_is_blank((unsigned char)l[ve - 1]))
		ve--;
	h->value.p = l + vs;
	h->value.len = ve - vs;
	return 0;
}

/* Read a Content-Length value: digits only, no sign, no list. */
static int
http_parse_length(struct http_str v, int64_t *out)
{
	int64_t	 n = 0;
	size_t	 i;

	if (v.len == 0)
		return -1;
	for (i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
		if (n > (INT64_MAX - (v.p[i] - '0')) / 10)
			return -1;
		n = n * 10 + (v.p[i] - '0');
	}
	*out = n;
	return 0;
}

/* Interpret the framing headers (RFC 9112 6.1-6.3). */
static int
http_parse_framing(struct http_request *req, const char **why)
{
	const struct http_header	*h;
	struct http_str			 elem;
	int64_t				 n;
	size_t				 pos;
	unsigned			 i;
	int				 te = 0;

	for (i = 0; i < req->nheaders; i++) {
		h = &req->headers[i];
		if (http_str_eq(h->name, "content-length")) {
			if (http_parse_length(h->value, &n) == -1) {
				*why = "invalid Content-Length";
				return -400;
			}
			if (req->content_length != -1 &&
			    req->content_length != n) {
				*why = "conflicting Content-Length values";
				return -400;
			}
			req->content_length = n;
		} else if (http_str_eq(h->name, "transfer-encoding")) {
			te = 1;
			pos = 0;
			while (http_list_next(h->value, &pos, &elem)) {
				if (!http_str_eq(elem, "chunked")) {
					*why = "unsupported transfer coding";
					return -501;
				}
				if (req->chunked) {
					*why = "chunked coding applied twice";
					return -400;
				}
				req->chunked = 1;
			}
		}
	}
	if (te && !req->chunked) {
		*why = "empty Transfer-Encoding";
		return -400;
	}
	/* Both framings at once is the classic smuggling vector: refuse it. */
	if (te && req->content_length != -1) {
		*why = "both Transfer-Encoding and Content-Length";
		return -400;
	}
	if (te && req->version_minor == 0) {
		*why = "Transfer-Encoding in an HTTP/1.0 request";
		return -400;
	}
	return 0;
}

int
http_parse_request(const char *buf, size_t len, const struct http_limits *lim,
    struct http_request *req, const char **reason)
{
	const char	*why = NULL, *l, *eol;
	size_t		 max_head = HTTP_DEFAULT_MAX_HEAD, end = 0, off;
	unsigned	 max_headers = HTTP_DEFAULT_MAX_HEADERS;
	int		 rc;

	if (lim != NULL && lim->max_head != 0)
		max_head = lim->max_head;
	if (lim != NULL && lim->max_headers != 0)
		max_headers = lim->max_headers;
	if (max_headers > HTTP_MAX_HEADERS_HARD)
		max_headers = HTTP_MAX_HEADERS_HARD;
	/* The head length is returned as an int. */
	if (max_head > INT_MAX)
		max_head = INT_MAX;

	memset(&req->method, 0, sizeof(req->method));
	req->target = req->path = req->query = req->method;
	req->version_minor = 0;
	req->nheaders = 0;
	req->content_length = -1;
	req->chunked = 0;
	req->head_len = 0;

	switch (http_scan_head(buf, len < max_head ? len : max_head, &end,
	    &why)) {
	case HTTP_SCAN_BAD:
		rc = -400;
		goto fail;
	case HTTP_SCAN_MORE:
		if (len < max_head)
			return 0;
		why = "request head larger than the limit";
		rc = -431;
		goto fail;
	case HTTP_SCAN_FOUND:
		break;
	}

	/* Every line in [0, end) now ends in CRLF; the last one is empty. */
	l = buf;
	eol = memchr(l, '\r', end);
	if ((rc = http_parse_request_line(l, (size_t)(eol - l), req,
	    &why)) != 0)
		goto fail;
	off = (size_t)(eol - buf) + 2;
	while (off < end - 2) {
		l = buf + off;
		eol = memchr(l, '\r', end - off);
		if (req->nheaders >= max_headers) {
			why = "too many header fields";
			rc = -431;
			goto fail;
		}
		if ((rc = http_parse_field(l, (size_t)(eol - l),
		    &req->headers[req->nheaders], &why)) != 0)
			goto fail;
		req->nheaders++;
		off = (size_t)(eol - buf) + 2;
	}
	if ((rc = http_parse_framing(req, &why)) != 0)
		goto fail;
	req->head_len = end;
	return (int)end;

fail:
	if (reason != NULL)
		*reason = why;
	return rc;
}

const struct http_header *
http_header_get(const struct http_request *req, const char *name)
{
	unsigned	 i;

	for (i = 0; i < req->nheaders; i++) {
		if (http_str_eq(req->headers[i].name, name))
			return &req->headers[i];
	}
	return NULL;
}

unsigned
http_header_count(const struct http_request *req, const char *name)
{
	unsigned	 i, n = 0;

	for (i = 0; i < req->nheaders; i++) {
		if (http_str_eq(req->headers[i].name, name))
			n++;
	}
	return n;
}

int
http_list_next(struct http_str value, size_t *pos, struct http_str *elem)
{
	size_t	 i, start, end;
	int	 quoted;

	while (*pos < value.len) {
		start = *pos;
		quoted = 0;
		/*
		 * A comma inside a quoted-string (an extension parameter,
		 * say) does not end the element.
		 */
		for (i = start; i < value.len; i++) {
			if (quoted) {
				if (value.p[i] == '\\' && i + 1 < value.len)
					i++;
				else if (value.p[i] == '"')
					quoted = 0;
			} else if (value.p[i] == '"')
				quoted = 1;
			else if (value.p[i] == ',')
				break;
		}
		*pos = i < value.len ? i + 1 : value.len;
		end = i;
		while (start < end && http_is_blank((unsigned char)value.p[start]))
			start++;
		while (end > start && http_is_blank((unsigned char)value.p[end - 1]))
			end--;
		if (end > start) {
			elem->p = value.p + start;
			elem->len = end - start;
			return 1;
		}
	}
	return 0;
}

int
http_list_has_token(struct http_str value, const char *token)
{
	struct http_str	 elem;
	size_t		 pos = 0;

	while (http_list_next(value, &pos, &elem)) {
		if (http_str_eq(elem, token))
			return 1;
	}
	return 0;
}

static const struct {
	int		 status;
	const char	*text;
} http_statuses[] = {
	{ 101, "Switching Protocols" },
	{ 200, "OK" },
	{ 204, "No Content" },
	{ 301, "Moved Permanently" },
	{ 302, "Found" },
	{ 304, "Not Modified" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 408, "Request Timeout" },
	{ 411, "Length Required" },
	{ 413, "Content Too Large" },
	{ 414, "URI Too Long" },
	{ 415, "Unsupported Media Type" },
	{ 417, "Expectation Failed" },
	{ 426, "Upgrade Required" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 505, "HTTP Version Not Supported" },
};

const char *
http_status_text(int status)
{
	size_t	 i;

	for (i = 0; i < sizeof(http_statuses) / sizeof(http_statuses[0]); i++) {
		if (http_statuses[i].status == status)
			return http_statuses[i].text;
	}
	return "";
}
