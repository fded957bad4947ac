/* auth_jwt.so: JSON Web Tokens (HS256/384/512, RS256, ES256) verified with OpenSSL. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "wshub/auth.h"

#include "jwt_parse.h"
#include "plugin_util.h"

/* Keys one JWKS file may hold. */
#define JWTA_KEYS_MAX		64
/* Bytes of a key file. */
#define JWTA_FILE_MAX		(1024 * 1024)

enum jwta_kind { JWTA_HMAC, JWTA_RSA, JWTA_EC };

struct jwta_key {
	char		 kid[JWT_KID_MAX + 1];	/* "" when none */
	enum jwta_kind	 kind;
	enum jwt_alg	 alg;		/* a JWK's "alg", or JWT_ALG_UNKNOWN */
	unsigned char	*secret;	/* HMAC */
	size_t		 secret_len;
	EVP_PKEY	*pkey;		/* RSA, EC P-256 */
};

struct jwta_keys {
	struct jwta_key	*k;
	size_t		 n;
};

struct jwta_state {
	struct jwta_keys keys;
	unsigned	 algs;		/* bit per enum jwt_alg allowed */
	char		*issuer, *audience;
	char		*user_claim, *channels_claim, *api_claim;
	char		*param;
	char		**def_sub, **def_pub;
	long		 leeway;
	size_t		 max_size;
	int		 require_exp;
};

static const char *const jwta_options[] = {
	"secret", "secret_file", "key_file", "jwks_file", "algorithms",
	"issuer", "audience", "leeway", "user_claim", "channels_claim",
	"api_claim", "query_param", "max_token_size", "require_exp",
	"default_subscribe", "default_publish", NULL
};

static void
jwta_keys_free(struct jwta_keys *ks)
{
	for (size_t i = 0; i < ks->n; i++) {
		if (ks->k[i].secret != NULL)
			OPENSSL_clear_free(ks->k[i].secret,
			    ks->k[i].secret_len);
		EVP_PKEY_free(ks->k[i].pkey);
	}
	free(ks->k);
	ks->k = NULL;
	ks->n = 0;
}

static void
jwta_state_clear(struct jwta_state *st)
{
	jwta_keys_free(&st->keys);
	free(st->issuer);
	free(st->audience);
	free(st->user_claim);
	free(st->channels_claim);
	free(st->api_claim);
	free(st->param);
	plug_split_free(st->def_sub);
	plug_split_free(st->def_pub);
	memset(st, 0, sizeof(*st));
}

static struct jwta_key *
jwta_key_add(struct jwta_keys *ks)
{
	struct jwta_key *n;

	if (ks->n == JWTA_KEYS_MAX ||
	    (n = realloc(ks->k, (ks->n + 1) * sizeof(*n))) == NULL)
		return NULL;
	ks->k = n;
	memset(&n[ks->n], 0, sizeof(n[0]));
	n[ks->n].alg = JWT_ALG_UNKNOWN;
	return &n[ks->n++];
}

/* Read a whole (small) file. */
static unsigned char *
jwta_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	unsigned char *buf;
	FILE *fp;
	size_t n;

	if ((fp = fopen(path, "rb")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(JWTA_FILE_MAX + 1)) == NULL) {
		fclose(fp);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	n = fread(buf, 1, JWTA_FILE_MAX + 1, fp);
	fclose(fp);
	if (n > JWTA_FILE_MAX) {
		free(buf);
		snprintf(err, errlen, "%s: over %d bytes", path, JWTA_FILE_MAX);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static int
jwta_pkey_kind(EVP_PKEY *pk, enum jwta_kind *kind)
{
	char group[64];
	size_t glen;

	if (EVP_PKEY_is_a(pk, "RSA")) {
		*kind = JWTA_RSA;
		return 0;
	}
	if (EVP_PKEY_is_a(pk, "EC") &&
	    EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) == 1 &&
	    (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)) {
		*kind = JWTA_EC;
		return 0;
	}
	return -1;
}

/* A PEM public key (or certificate-less SubjectPublicKeyInfo). */
static int
jwta_load_pem(struct jwta_keys *ks, const char *path, char *err,
    size_t errlen)
{
	struct jwta_key *k;
	EVP_PKEY *pk;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	pk = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
	fclose(fp);
	if (pk == NULL) {
		snprintf(err, errlen, "%s: not a PEM public key", path);
		return -1;
	}
	if ((k = jwta_key_add(ks)) == NULL) {
		EVP_PKEY_free(pk);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	k->pkey = pk;
	if (jwta_pkey_kind(pk, &k->kind) == -1) {
		snprintf(err, errlen, "%s: only RSA and EC P-256 keys are "
		    "supported", path);
		return -1;
	}
	return 0;
}

static int
jwta_add_secret(struct jwta_keys *ks, const unsigned char *s, size_t len,
    char *err, size_t errlen)
{
	struct jwta_key *k;

	/* RFC 7518 3.2: a key at least as long as the hash; 32 bytes here. */
	if (len < 32) {
		snprintf(err, errlen, "HMAC secret shorter than 32 bytes");
		return -1;
	}
	if ((k = jwta_key_add(ks)) == NULL ||
	    (k->secret = malloc(len)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(k->secret, s, len);
	k->secret_len = len;
	k->kind = JWTA_HMAC;
	return 0;
}

/* A base64url member of a JWK, decoded. */
static unsigned char *
jwta_jwk_bytes(json_t *jwk, const char *name, size_t *len)
{
	json_t *v = json_object_get(jwk, name);
	unsigned char *out;
	long n;

	if (!json_is_string(v) ||
	    (out = malloc(json_string_length(v) * 3 / 4 + 1)) == NULL)
		return NULL;
	if ((n = jwt_b64url_decode(json_string_value(v),
	    json_string_length(v), out)) <= 0) {
		free(out);
		return NULL;
	}
	*len = (size_t)n;
	return out;
}

static EVP_PKEY *
jwta_jwk_pkey(json_t *jwk, const char *kty)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;
	BIGNUM *n = NULL, *e = NULL;
	unsigned char *a = NULL, *b = NULL, pub[65];
	size_t alen = 0, blen = 0;
	json_t *crv;

	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		goto out;
	if (strcmp(kty, "RSA") == 0) {
		if ((a = jwta_jwk_bytes(jwk, "n", &alen)) == NULL ||
		    (b = jwta_jwk_bytes(jwk, "e", &blen)) == NULL ||
		    (n = BN_bin2bn(a, (int)alen, NULL)) == NULL ||
		    (e = BN_bin2bn(b, (int)blen, NULL)) == NULL ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
			goto out;
	} else {
		crv = json_object_get(jwk, "crv");
		if (!json_is_string(crv) ||
		    strcmp(json_string_value(crv), "P-256") != 0 ||
		    (a = jwta_jwk_bytes(jwk, "x", &alen)) == NULL ||
		    (b = jwta_jwk_bytes(jwk, "y", &blen)) == NULL ||
		    alen != 32 || blen != 32)
			goto out;
		pub[0] = 0x04;
		memcpy(pub + 1, a, 32);
		memcpy(pub + 33, b, 32);
		if (!OSSL_PARAM_BLD_push_utf8_string(bld,
		    OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld,
		    OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)))
			goto out;
	}
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, kty, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pk = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	free(a);
	free(b);
	return pk;
}

/* A JWK Set: {"keys": [ {"kty": "RSA"|"EC"|"oct", "kid": ..., ...} ]}. */
static int
jwta_load_jwks(struct jwta_keys *ks, const char *path, char *err,
    size_t errlen)
{
	json_t *root, *keys, *jwk, *v;
	json_error_t je;
	size_t i;
	int rv = -1;

	if ((root = json_load_file(path, JSON_REJECT_DUPLICATES, &je)) ==
	    NULL) {
		snprintf(err, errlen, "%s:%d: %s", path, je.line, je.text);
		return -1;
	}
	keys = json_object_get(root, "keys");
	if (!json_is_array(keys) || json_array_size(keys) == 0) {
		snprintf(err, errlen, "%s: no \"keys\" array", path);
		goto out;
	}
	json_array_foreach(keys, i, jwk) {
		const char *kty;
		struct jwta_key *k;

		v = json_object_get(jwk, "kty");
		if (!json_is_string(v)) {
			snprintf(err, errlen, "%s: key %zu has no kty", path, i);
			goto out;
		}
		kty = json_string_value(v);
		if (strcmp(kty, "oct") == 0) {
			unsigned char *s;
			size_t len;

			if ((s = jwta_jwk_bytes(jwk, "k", &len)) == NULL) {
				snprintf(err, errlen, "%s: key %zu: bad k",
				    path, i);
				goto out;
			}
			rv = jwta_add_secret(ks, s, len, err, errlen);
			OPENSSL_clear_free(s, len);
			if (rv == -1)
				goto out;
			rv = -1;
			k = &ks->k[ks->n - 1];
		} else if (strcmp(kty, "RSA") == 0 || strcmp(kty, "EC") == 0) {
			EVP_PKEY *pk = jwta_jwk_pkey(jwk, kty);

			if (pk == NULL) {
				snprintf(err, errlen, "%s: key %zu: bad %s key "
				    "(EC keys must be P-256)", path, i, kty);
				goto out;
			}
			if ((k = jwta_key_add(ks)) == NULL) {
				EVP_PKEY_free(pk);
				snprintf(err, errlen, "%s: too many keys", path);
				goto out;
			}
			k->pkey = pk;
			k->kind = strcmp(kty, "RSA") == 0 ? JWTA_RSA : JWTA_EC;
		} else {
			snprintf(err, errlen, "%s: key %zu: unsupported kty "
			    "'%.16s'", path, i, kty);
			goto out;
		}
		if ((v = json_object_get(jwk, "kid")) != NULL) {
			if (!json_is_string(v) ||
			    json_string_length(v) > JWT_KID_MAX) {
				snprintf(err, errlen, "%s: key %zu: bad kid",
				    path, i);
				goto out;
			}
			snprintf(k->kid, sizeof(k->kid), "%s",
			    json_string_value(v));
		}
		if ((v = json_object_get(jwk, "alg")) != NULL &&
		    (!json_is_string(v) || (k->alg =
		    jwt_alg_parse(json_string_value(v))) == JWT_ALG_UNKNOWN)) {
			snprintf(err, errlen, "%s: key %zu: unsupported alg",
			    path, i);
			goto out;
		}
	}
	rv = 0;
out:
	json_decref(root);
	return rv;
}

static enum jwta_kind
jwta_alg_kind(enum jwt_alg alg)
{
	switch (alg) {
	case JWT_RS256:
		return JWTA_RSA;
	case JWT_ES256:
		return JWTA_EC;
	default:
		return JWTA_HMAC;
	}
}

static char *
jwta_dup_opt(const struct wsh_auth_setup *setup, const char *key,
    const char *def)
{
	const char *v = plug_opt(setup, key, def);

	return v != NULL && v[0] != '\0' ? strdup(v) : NULL;
}

static int
jwta_configure(struct jwta_state *st, const struct wsh_auth_setup *setup,
    char *err, size_t errlen)
{
	const char *v;
	char **algs = NULL, *end;
	unsigned have = 0;

	memset(st, 0, sizeof(*st));
	if (plug_opts_known(setup, jwta_options, err, errlen) == -1)
		return -1;
	if ((v = plug_opt(setup, "secret", NULL)) != NULL &&
	    jwta_add_secret(&st->keys, (const unsigned char *)v, strlen(v),
	    err, errlen) == -1)
		goto fail;
	if ((v = plug_opt(setup, "secret_file", NULL)) != NULL) {
		unsigned char *s;
		size_t len;
		int rv;

		if ((s = jwta_read_file(v, &len, err, errlen)) == NULL)
			goto fail;
		/* A trailing newline is an editor's, not the key's. */
		while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
			len--;
		rv = jwta_add_secret(&st->keys, s, len, err, errlen);
		OPENSSL_clear_free(s, JWTA_FILE_MAX + 1);
		if (rv == -1)
			goto fail;
	}
	if ((v = plug_opt(setup, "key_file", NULL)) != NULL &&
	    jwta_load_pem(&st->keys, v, err, errlen) == -1)
		goto fail;
	if ((v = plug_opt(setup, "jwks_file", NULL)) != NULL &&
	    jwta_load_jwks(&st->keys, v, err, errlen) == -1)
		goto fail;
	if (st->keys.n == 0) {
		snprintf(err, errlen, "no key: set secret, secret_file, "
		    "key_file or jwks_file");
		goto fail;
	}
	for (size_t i = 0; i < st->keys.n; i++)
		have |= 1u << st->keys.k[i].kind;
	/*
	 * Each key only ever verifies its own family of algorithms, so an
	 * RSA public key can never be used as an HMAC secret.
	 */
	if ((v = plug_opt(setup, "algorithms", NULL)) != NULL) {
		if ((algs = plug_split(v)) == NULL)
			goto oom;
		for (size_t i = 0; algs[i] != NULL; i++) {
			enum jwt_alg a = jwt_alg_parse(algs[i]);

			if (a == JWT_ALG_UNKNOWN) {
				snprintf(err, errlen, "unsupported algorithm "
				    "'%s' (HS256, HS384, HS512, RS256, ES256)",
				    algs[i]);
				goto fail;
			}
			st->algs |= 1u << a;
		}
	} else
		for (enum jwt_alg a = JWT_HS256; a <= JWT_ES256; a++)
			if (have & (1u << jwta_alg_kind(a)))
				st->algs |= 1u << a;
	plug_split_free(algs);
	algs = NULL;
	st->issuer = jwta_dup_opt(setup, "issuer", NULL);
	st->audience = jwta_dup_opt(setup, "audience", NULL);
	if ((st->user_claim = jwta_dup_opt(setup, "user_claim", "sub")) ==
	    NULL ||
	    (st->channels_claim = jwta_dup_opt(setup, "channels_claim",
	    "channels")) == NULL ||
	    (st->api_claim = jwta_dup_opt(setup, "api_claim", "wshub_api")) ==
	    NULL)
		goto oom;
	st->param = jwta_dup_opt(setup, "query_param", "token");
	if ((st->def_sub = plug_split(plug_opt(setup, "default_subscribe",
	    ""))) == NULL ||
	    (st->def_pub = plug_split(plug_opt(setup, "default_publish",
	    ""))) == NULL)
		goto oom;
	v = plug_opt(setup, "leeway", "30");
	st->leeway = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || st->leeway < 0 ||
	    st->leeway > 86400) {
		snprintf(err, errlen, "leeway must be 0-86400 seconds");
		goto fail;
	}
	v = plug_opt(setup, "max_token_size", "8192");
	st->max_size = (size_t)strtoul(v, &end, 10);
	if (*v == '\0' || *end != '\0' || st->max_size < 64 ||
	    st->max_size > 65536) {
		snprintf(err, errlen, "max_token_size must be 64-65536");
		goto fail;
	}
	v = plug_opt(setup, "require_exp", "false");
	if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
		snprintf(err, errlen, "require_exp must be true or false");
		goto fail;
	}
	st->require_exp = strcmp(v, "true") == 0;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	plug_split_free(algs);
	jwta_state_clear(st);
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

int
wsh_auth_plugin_init(void **state, const struct wsh_auth_setup *setup,
    char *err, size_t errlen)
{
	struct jwta_state *st;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (jwta_configure(st, setup, err, errlen) == -1) {
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
	struct jwta_state next;

	/* Keys are read again; on any problem the old ones stay. */
	if (jwta_configure(&next, setup, err, errlen) == -1)
		return -1;
	jwta_state_clear(state);
	memcpy(state, &next, sizeof(next));
	return 0;
}

void
wsh_auth_plugin_cleanup(void *state)
{
	if (state == NULL)
		return;
	jwta_state_clear(state);
	free(state);
}

/* ES256 signatures are r||s; OpenSSL verifies DER. */
static int
jwta_es256_der(const unsigned char *sig, size_t len, unsigned char **der,
    int *derlen)
{
	ECDSA_SIG *es;
	BIGNUM *r, *s;

	if (len != 64 || (es = ECDSA_SIG_new()) == NULL)
		return -1;
	r = BN_bin2bn(sig, 32, NULL);
	s = BN_bin2bn(sig + 32, 32, NULL);
	if (r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return -1;
	}
	*der = NULL;
	*derlen = i2d_ECDSA_SIG(es, der);
	ECDSA_SIG_free(es);
	return *derlen > 0 ? 0 : -1;
}

static int
jwta_verify(const struct jwta_key *k, const struct jwt *jwt, const char *tok)
{
	unsigned char mac[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int maclen = 0;
	const EVP_MD *md;
	EVP_MD_CTX *ctx;
	int derlen = 0, ok = 0;

	if (k->kind != jwta_alg_kind(jwt->alg) ||
	    (k->alg != JWT_ALG_UNKNOWN && k->alg != jwt->alg))
		return 0;
	switch (jwt->alg) {
	case JWT_HS256:
	case JWT_HS384:
	case JWT_HS512:
		md = jwt->alg == JWT_HS256 ? EVP_sha256() :
		    jwt->alg == JWT_HS384 ? EVP_sha384() : EVP_sha512();
		if (HMAC(md, k->secret, (int)k->secret_len,
		    (const unsigned char *)tok, jwt->signed_len, mac,
		    &maclen) == NULL)
			return 0;
		return maclen == jwt->sig_len &&
		    CRYPTO_memcmp(mac, jwt->sig, maclen) == 0;
	case JWT_RS256:
	case JWT_ES256:
		if ((ctx = EVP_MD_CTX_new()) == NULL)
			return 0;
		if (jwt->alg == JWT_ES256) {
			if (jwta_es256_der(jwt->sig, jwt->sig_len, &der,
			    &derlen) == -1) {
				EVP_MD_CTX_free(ctx);
				return 0;
			}
		}
		ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL,
		    k->pkey) == 1 && EVP_DigestVerify(ctx,
		    der != NULL ? der : jwt->sig,
		    der != NULL ? (size_t)derlen : jwt->sig_len,
		    (const unsigned char *)tok, jwt->signed_len) == 1;
		OPENSSL_free(der);
		EVP_MD_CTX_free(ctx);
		return ok;
	default:
		return 0;
	}
}

static int
jwta_deny(struct wsh_auth_request *req, int status, const char *why)
{
	wsh_auth_log(WSH_AUTH_LOG_INFO, "jwt: connection %016llx refused: %s",
	    (unsigned long long)wsh_auth_request_connection_id(req), why);
	wsh_auth_set_deny(req, status, why);
	return WSH_AUTH_DENY;
}

/* Add the strings of array |list| (or the defaults) as patterns. */
static int
jwta_patterns(struct wsh_auth_request *req, json_t *list, char **def,
    int (*add)(struct wsh_auth_request *, const char *))
{
	size_t i;
	json_t *v;

	if (list == NULL) {
		for (i = 0; def[i] != NULL; i++)
			if (add(req, def[i]) == -1)
				return -1;
		return 0;
	}
	if (!json_is_array(list))
		return -1;
	json_array_foreach(list, i, v)
		if (!json_is_string(v) || add(req, json_string_value(v)) == -1)
			return -1;
	return 0;
}

int
wsh_auth_plugin_decide(void *state, struct wsh_auth_request *req)
{
	const struct jwta_state *st = state;
	struct jwt_rules rules;
	struct jwt jwt;
	const char *tok;
	char *owned, err[128];
	json_t *user, *ch, *api;
	int64_t exp;
	int ok = 0, rv;

	if ((tok = plug_token(req, st->param, &owned)) == NULL)
		return jwta_deny(req, 401, "a token is required");
	if (jwt_parse(tok, strlen(tok), st->max_size, &jwt, err,
	    sizeof(err)) == -1) {
		free(owned);
		return jwta_deny(req, 401, err);
	}
	if ((st->algs & (1u << jwt.alg)) == 0) {
		rv = jwta_deny(req, 401, "algorithm not allowed");
		goto out;
	}
	for (size_t i = 0; i < st->keys.n && !ok; i++)
		if (jwt.kid[0] == '\0' || st->keys.k[i].kid[0] == '\0' ||
		    strcmp(jwt.kid, st->keys.k[i].kid) == 0)
			ok = jwta_verify(&st->keys.k[i], &jwt, tok);
	if (!ok) {
		rv = jwta_deny(req, 401, "invalid signature");
		goto out;
	}
	memset(&rules, 0, sizeof(rules));
	rules.now = (int64_t)time(NULL);
	rules.leeway = st->leeway;
	rules.issuer = st->issuer;
	rules.audience = st->audience;
	rules.require_exp = st->require_exp;
	if (jwt_check_claims(&jwt, &rules, &exp, err, sizeof(err)) == -1) {
		rv = jwta_deny(req, 401, err);
		goto out;
	}
	user = json_object_get(jwt.claims, st->user_claim);
	if (!json_is_string(user) || wsh_auth_set_user(req,
	    json_string_value(user)) == -1) {
		rv = jwta_deny(req, 401, "token has no valid user claim");
		goto out;
	}
	if (wsh_auth_request_kind(req) == WSH_AUTH_KIND_API &&
	    ((api = json_object_get(jwt.claims, st->api_claim)) == NULL ||
	    !json_is_true(api))) {
		rv = jwta_deny(req, 403, "this token may not use the API");
		goto out;
	}
	ch = json_object_get(jwt.claims, st->channels_claim);
	if (ch != NULL && !json_is_object(ch)) {
		rv = jwta_deny(req, 401, "channels claim is not an object");
		goto out;
	}
	if (jwta_patterns(req, ch != NULL ? json_object_get(ch, "subscribe") :
	    NULL, st->def_sub, wsh_auth_add_subscribe) == -1 ||
	    jwta_patterns(req, ch != NULL ? json_object_get(ch, "publish") :
	    NULL, st->def_pub, wsh_auth_add_publish) == -1) {
		rv = jwta_deny(req, 401, "bad channel patterns in the token");
		goto out;
	}
	wsh_auth_set_expiry(req, exp);
	rv = WSH_AUTH_ALLOW;
out:
	jwt_clear(&jwt);
	free(owned);
	return rv;
}
