/* auth_token.so: static tokens from a file, each naming a user and its channel patterns. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "wshub/auth.h"

#include "plugin_util.h"

/* Longest line of the tokens file. */
#define TOKEN_LINE_MAX	4096
/* Most tokens one file may hold. */
#define TOKEN_MAX	100000

/* One line of the file: the token is kept only as its SHA-256 digest. */
struct token_entry {
	unsigned char	 digest[32];
	char		*user;
	char		**sub;
	char		**pub;
	int		 api;		/* may call the HTTP API */
};

struct token_table {
	struct token_entry *e;
	size_t		 n;
};

struct token_state {
	char		*file;
	char		*param;		/* query parameter; "" = none */
	struct token_table tab;
};

static const char *const token_options[] = { "file", "query_param", NULL };

static int
token_digest(const char *s, size_t len, unsigned char out[32])
{
	unsigned int n = 0;

	return EVP_Digest(s, len, out, &n, EVP_sha256(), NULL) == 1 &&
	    n == 32 ? 0 : -1;
}

static void
token_table_free(struct token_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->e[i].user);
		plug_split_free(t->e[i].sub);
		plug_split_free(t->e[i].pub);
	}
	free(t->e);
	t->e = NULL;
	t->n = 0;
}

/* A field of "-" means none. */
static char **
token_patterns(const char *field)
{
	return plug_split(field == NULL || strcmp(field, "-") == 0 ? "" :
	    field);
}

/*
 * Read |file|: one token per line, "TOKEN USER [SUBSCRIBE [PUBLISH
 * [FLAGS]]]" separated by blanks, patterns in comma lists, "-" for none,
 * FLAGS "api" to allow the HTTP API; '#' starts a comment line.
 */
static int
token_load(const char *file, struct token_table *t, char *err, size_t errlen)
{
	char line[TOKEN_LINE_MAX], *f[6], *save;
	struct token_entry *e;
	unsigned lineno = 0;
	size_t cap = 0;
	FILE *fp;
	int nf;

	memset(t, 0, sizeof(*t));
	if ((fp = fopen(file, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			snprintf(err, errlen, "%s:%u: line too long", file,
			    lineno);
			goto fail;
		}
		nf = 0;
		for (char *p = strtok_r(line, " \t\r\n", &save); p != NULL &&
		    nf < 6; p = strtok_r(NULL, " \t\r\n", &save))
			f[nf++] = p;
		if (nf == 0 || f[0][0] == '#')
			continue;
		if (nf < 2 || nf > 5) {
			snprintf(err, errlen, "%s:%u: want TOKEN USER "
			    "[SUBSCRIBE [PUBLISH [api]]]", file, lineno);
			goto fail;
		}
		if (nf == 5 && strcmp(f[4], "api") != 0 &&
		    strcmp(f[4], "-") != 0) {
			snprintf(err, errlen, "%s:%u: unknown flag '%s' (only "
			    "api)", file, lineno, f[4]);
			goto fail;
		}
		if (t->n == TOKEN_MAX) {
			snprintf(err, errlen, "%s: more than %d tokens", file,
			    TOKEN_MAX);
			goto fail;
		}
		if (t->n == cap) {
			size_t ncap = cap ? cap * 2 : 16;

			if ((e = realloc(t->e, ncap * sizeof(*e))) == NULL)
				goto oom;
			t->e = e;
			cap = ncap;
		}
		e = &t->e[t->n];
		memset(e, 0, sizeof(*e));
		t->n++;
		if (token_digest(f[0], strlen(f[0]), e->digest) == -1 ||
		    (e->user = strdup(f[1])) == NULL ||
		    (e->sub = token_patterns(nf > 2 ? f[2] : NULL)) == NULL ||
		    (e->pub = token_patterns(nf > 3 ? f[3] : NULL)) == NULL)
			goto oom;
		e->api = nf == 5 && strcmp(f[4], "api") == 0;
	}
	fclose(fp);
	return 0;
oom:
	snprintf(err, errlen, "%s: out of memory", file);
fail:
	fclose(fp);
	token_table_free(t);
	return -1;
}

int
wsh_auth_plugin_version(int count, const int *versions)
{
	for (int i = 0; i < count; i++)
		if (versions[i] == WSH_AUTH_ABI_VERSION)
			return WSH_AUTH_ABI_VERSION;
	return -1;
}

static int
token_configure(struct token_state *st, const struct wsh_auth_setup *setup,
    char *err, size_t errlen)
{
	struct token_table tab;
	const char *file;
	char *nfile, *nparam;

	if (plug_opts_known(setup, token_options, err, errlen) == -1)
		return -1;
	if ((file = plug_opt(setup, "file", NULL)) == NULL || file[0] == '\0') {
		snprintf(err, errlen, "option 'file' (the tokens file) is "
		    "required");
		return -1;
	}
	if (token_load(file, &tab, err, errlen) == -1)
		return -1;
	nfile = strdup(file);
	nparam = strdup(plug_opt(setup, "query_param", "token"));
	if (nfile == NULL || nparam == NULL) {
		free(nfile);
		free(nparam);
		token_table_free(&tab);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* Only now, with everything read, does the new table replace the old. */
	token_table_free(&st->tab);
	free(st->file);
	free(st->param);
	st->tab = tab;
	st->file = nfile;
	st->param = nparam;
	return 0;
}

int
wsh_auth_plugin_init(void **state, const struct wsh_auth_setup *setup,
    char *err, size_t errlen)
{
	struct token_state *st;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (token_configure(st, setup, err, errlen) == -1) {
		free(st);
		return -1;
	}
	*state = st;
	return 0;
}

int
wsh_auth_plugin_reload(void *state, const struct wsh_auth_setup *setup,
    char *err, size_t errlen)
{
	return token_configure(state, setup, err, errlen);
}

/*
 * Find |token| by comparing its digest with every entry's, all of them,
 * in constant time: neither where a token differs nor which one matched
 * shows in the time taken.
 */
static const struct token_entry *
token_find(const struct token_state *st, const char *token)
{
	const struct token_entry *found = NULL;
	unsigned char d[32];

	if (token_digest(token, strlen(token), d) == -1)
		return NULL;
	for (size_t i = 0; i < st->tab.n; i++)
		if (CRYPTO_memcmp(d, st->tab.e[i].digest, sizeof(d)) == 0)
			found = &st->tab.e[i];
	return found;
}

int
wsh_auth_plugin_decide(void *state, struct wsh_auth_request *req)
{
	const struct token_state *st = state;
	const struct token_entry *e;
	const char *token;
	char *owned;

	token = plug_token(req, st->param, &owned);
	if (token == NULL) {
		wsh_auth_set_deny(req, 401, "a token is required");
		return WSH_AUTH_DENY;
	}
	e = token_find(st, token);
	free(owned);
	if (e == NULL) {
		wsh_auth_set_deny(req, 401, "invalid token");
		return WSH_AUTH_DENY;
	}
	if (wsh_auth_request_kind(req) == WSH_AUTH_KIND_API && !e->api) {
		wsh_auth_set_deny(req, 403, "this token may not use the API");
		return WSH_AUTH_DENY;
	}
	if (wsh_auth_set_user(req, e->user) == -1)
		return WSH_AUTH_DENY;
	for (size_t i = 0; e->sub[i] != NULL; i++)
		if (wsh_auth_add_subscribe(req, e->sub[i]) == -1)
			return WSH_AUTH_DENY;
	for (size_t i = 0; e->pub[i] != NULL; i++)
		if (wsh_auth_add_publish(req, e->pub[i]) == -1)
			return WSH_AUTH_DENY;
	return WSH_AUTH_ALLOW;
}

void
wsh_auth_plugin_cleanup(void *state)
{
	struct token_state *st = state;

	if (st == NULL)
		return;
	token_table_free(&st->tab);
	free(st->file);
	free(st->param);
	free(st);
}
