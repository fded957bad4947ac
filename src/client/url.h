/* WebSocket URL parsing for the client (RFC 6455 section 3). */
#ifndef WSH_CLIENT_URL_H
#define WSH_CLIENT_URL_H

/* Longest URL the client accepts. */
#define URL_MAX		8192

struct url {
	int	 tls;		/* wss:// or https:// */
	int	 http;		/* the scheme was http or https */
	char	*host;		/* host name or address, without brackets */
	char	*port;		/* decimal port, the scheme's default if absent */
	char	*path;		/* path and query, starting with '/' */
	char	*authority;	/* Host header: host[:port], brackets kept */
};

/*
 * Parse |s| into |u|: a scheme of ws, wss, http or https (any case), a
 * host (a name, an IPv4 address or a bracketed IPv6 address), an optional
 * port 1..65535, and an optional path and query; a fragment is dropped.
 * Userinfo is refused. Returns 0, or -1 with |*reason| naming the problem
 * (|u| is then left empty). Free with url_clear().
 */
int	url_parse(const char *s, struct url *u, const char **reason);

/* Release what url_parse() allocated; a cleared url may be cleared again. */
void	url_clear(struct url *u);

#endif
