/* Helpers shared by the plugins of this tree: options and where a credential is found. */
#ifndef WSH_PLUGINS_PLUGIN_UTIL_H
#define WSH_PLUGINS_PLUGIN_UTIL_H

#include <stddef.h>

#include "wshub/auth.h"

/* A Sec-WebSocket-Protocol entry "wshub.bearer.TOKEN" carries TOKEN. */
#define PLUG_PROTOCOL_PREFIX	"wshub.bearer."

/* The value of option |key| in |setup|, or |def| when it is not set. */
const char *plug_opt(const struct wsh_auth_setup *setup, const char *key,
	    const char *def);

/*
 * Check that every option of |setup| is one of |known| (NULL-terminated).
 * Returns 0, or -1 with a message in |err|.
 */
int	plug_opts_known(const struct wsh_auth_setup *setup,
	    const char *const *known, char *err, size_t errlen);

/*
 * The credential of |req|, looked for in this order: "Authorization:
 * Bearer TOKEN", the query parameter |param| (unless NULL or empty), a
 * Sec-WebSocket-Protocol entry "wshub.bearer.TOKEN". NULL when there is
 * none. The string lives as long as |req| (or in |*owned|, freed by the
 * caller, for the protocol entry).
 */
const char *plug_token(struct wsh_auth_request *req, const char *param,
	    char **owned);

/*
 * Split the comma list |s| into a malloc'd NULL-terminated array of
 * trimmed, non-empty, malloc'd strings. NULL when out of memory.
 */
char	**plug_split(const char *s);
void	plug_split_free(char **list);

#endif
