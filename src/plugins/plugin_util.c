/* Helpers shared by the plugins of this tree: options and where a credential is found. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wshub/auth.h"

#include "plugin_util.h"

const char *
plug_opt(const struct wsh_auth_setup *setup, const char *key, const char *def)
{
	for (int i = 0; i < setup->noptions; i++)
		if (strcmp(setup->options[i].key, key) == 0)
			return setup->options[i].value;
	return def;
}

int
plug_opts_known(const struct wsh_auth_setup *setup, const char *const *known,
    char *err, size_t errlen)
{
	for (int i = 0; i < setup->noptions; i++) {
		size_t k;

		for (k = 0; known[k] != NULL; k++)
			if (strcmp(known[k], setup->options[i].key) == 0)
				break;
		if (known[k] == NULL) {
			snprintf(err, errlen, "unknown option '%s'",
			    setup->options[i].key);
			return -1;
		}
	}
	return 0;
}

void
plug_split_free(char **list)
{
	for (size_t i = 0; list != NULL && list[i] != NULL; i++)
		free(list[i]);
	free(list);
}

char **
plug_split(const char *s)
{
	size_t n = 1, k = 0;
	char **list;

	for (const char *p = s; *p != '\0'; p++)
		n += *p == ',';
	if ((list = calloc(n + 1, sizeof(*list))) == NULL)
		return NULL;
	while (*s != '\0') {
		const char *end = strchr(s, ',');
		size_t len = end != NULL ? (size_t)(end - s) : strlen(s);
		const char *b = s;

		while (len > 0 && (*b == ' ' || *b == '\t')) {
			b++;
			len--;
		}
		while (len > 0 && (b[len - 1] == ' ' || b[len - 1] == '\t'))
			len--;
		if (len > 0 && (list[k++] = strndup(b, len)) == NULL) {
			plug_split_free(list);
			return NULL;
		}
		if (end == NULL)
			break;
		s = end + 1;
	}
	return list;
}

const char *
plug_token(struct wsh_auth_request *req, const char *param, char **owned)
{
	const char *h, *p, *q;
	size_t plen = sizeof(PLUG_PROTOCOL_PREFIX) - 1;

	*owned = NULL;
	if ((h = wsh_auth_request_header(req, "authorization")) != NULL &&
	    strncasecmp(h, "bearer", 6) == 0 && (h[6] == ' ' || h[6] == '\t')) {
		for (h += 6; *h == ' ' || *h == '\t'; h++)
			;
		if (*h != '\0')
			return h;
	}
	if (param != NULL && param[0] != '\0' &&
	    (q = wsh_auth_request_query_param(req, param)) != NULL &&
	    q[0] != '\0')
		return q;
	if ((h = wsh_auth_request_header(req, "sec-websocket-protocol")) ==
	    NULL)
		return NULL;
	/* The offered list: "wshub.v1, wshub.bearer.eyJ...". */
	for (p = h; *p != '\0'; ) {
		const char *end;
		size_t len;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		for (end = p; *end != '\0' && *end != ',' && *end != ' ' &&
		    *end != '\t'; end++)
			;
		len = (size_t)(end - p);
		if (len > plen && strncmp(p, PLUG_PROTOCOL_PREFIX, plen) == 0)
			return *owned = strndup(p + plen, len - plen);
		p = end;
	}
	return NULL;
}
