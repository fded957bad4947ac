/* Parsing ws:// and wss:// URLs into host, port, path and Host header. */
#include "autoconf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/url.h"

void
url_clear(struct url *u)
{
	free(u->host);
	free(u->port);
	free(u->path);
	free(u->authority);
	memset(u, 0, sizeof(*u));
}

/* Characters allowed in a path and query (RFC 3986 pchar, '/', '?', '%'). */
static int
url_path_char(unsigned char ch)
{
	if (isalnum(ch))
		return 1;
	return strchr("-._~!$&'()*+,;=:@/?%", ch) != NULL && ch != '\0';
}

static int
url_host_char(unsigned char ch)
{
	return isalnum(ch) || ch == '-' || ch == '.' || ch == '_';
}

static char *
url_strndup(const char *s, size_t n)
{
	char	*p;

	if ((p = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

int
url_parse(const char *s, struct url *u, const char **reason)
{
	const char	*p, *host, *hend, *port = NULL, *pend, *path, *end;
	size_t		 hlen, plen, i;
	unsigned long	 pn = 0;
	int		 bracket = 0, dport;
	char		 pbuf[8];

	memset(u, 0, sizeof(*u));
	if (strlen(s) > URL_MAX) {
		*reason = "URL too long";
		return -1;
	}
	if (strncasecmp(s, "ws://", 5) == 0) {
		p = s + 5;
	} else if (strncasecmp(s, "wss://", 6) == 0) {
		u->tls = 1;
		p = s + 6;
	} else if (strncasecmp(s, "http://", 7) == 0) {
		u->http = 1;
		p = s + 7;
	} else if (strncasecmp(s, "https://", 8) == 0) {
		u->http = u->tls = 1;
		p = s + 8;
	} else {
		*reason = "scheme must be ws, wss, http or https";
		return -1;
	}
	dport = u->tls ? 443 : 80;

	/* The authority ends at the path, the query or the fragment. */
	end = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(end - p)) != NULL) {
		*reason = "user information in the URL is not supported";
		return -1;
	}
	if (*p == '[') {
		bracket = 1;
		host = p + 1;
		if ((hend = memchr(host, ']', (size_t)(end - host))) == NULL) {
			*reason = "unterminated IPv6 address";
			return -1;
		}
		for (i = 0; host + i < hend; i++) {
			if (!isxdigit((unsigned char)host[i]) && host[i] != ':' &&
			    host[i] != '.') {
				*reason = "bad character in IPv6 address";
				return -1;
			}
		}
		pend = hend + 1;
	} else {
		host = p;
		hend = memchr(p, ':', (size_t)(end - p));
		if (hend == NULL)
			hend = end;
		for (i = 0; host + i < hend; i++) {
			if (!url_host_char((unsigned char)host[i])) {
				*reason = "bad character in host";
				return -1;
			}
		}
		pend = hend;
	}
	hlen = (size_t)(hend - host);
	if (hlen == 0) {
		*reason = "empty host";
		return -1;
	}
	if (pend < end) {
		if (*pend != ':') {
			*reason = "junk after the host";
			return -1;
		}
		port = pend + 1;
		if (port == end) {
			*reason = "empty port";
			return -1;
		}
		for (i = 0; port + i < end; i++) {
			if (!isdigit((unsigned char)port[i]) || i >= 5) {
				*reason = "bad port";
				return -1;
			}
			pn = pn * 10 + (unsigned long)(port[i] - '0');
		}
		if (pn == 0 || pn > 65535) {
			*reason = "port out of range";
			return -1;
		}
	} else
		pn = (unsigned long)dport;

	path = end;
	plen = strcspn(path, "#");
	for (i = 0; i < plen; i++) {
		if (!url_path_char((unsigned char)path[i])) {
			*reason = "bad character in path or query";
			return -1;
		}
	}

	(void)snprintf(pbuf, sizeof(pbuf), "%lu", pn);
	u->host = url_strndup(host, hlen);
	u->port = strdup(pbuf);
	if (plen == 0 || path[0] == '?') {
		/* "ws://h?x" has an empty path: the request target is "/?x". */
		if ((u->path = malloc(plen + 2)) != NULL) {
			u->path[0] = '/';
			memcpy(u->path + 1, path, plen);
			u->path[plen + 1] = '\0';
		}
	} else
		u->path = url_strndup(path, plen);
	/* The Host header omits the scheme's default port (RFC 9110 7.2). */
	if ((u->authority = malloc(hlen + 16)) != NULL) {
		(void)snprintf(u->authority, hlen + 16, "%s%.*s%s", bracket ?
		    "[" : "", (int)hlen, host, bracket ? "]" : "");
		if (pn != (unsigned long)dport)
			(void)snprintf(u->authority + strlen(u->authority), 8,
			    ":%lu", pn);
	}
	if (u->host == NULL || u->port == NULL || u->path == NULL ||
	    u->authority == NULL) {
		url_clear(u);
		*reason = "out of memory";
		return -1;
	}
	/* Host names compare without case; keep them lower case. */
	for (i = 0; u->host[i] != '\0'; i++)
		u->host[i] = (char)tolower((unsigned char)u->host[i]);
	return 0;
}
