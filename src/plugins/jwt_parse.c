/* JSON Web Tokens without I/O or keys: split, decode and check the claims of a compact JWS. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jwt_parse.h"

static const struct {
	const char	*name;
	enum jwt_alg	 alg;
} jwt_algs[] = {
	{ "HS256", JWT_HS256 },
	{ "HS384", JWT_HS384 },
	{ "HS512", JWT_HS512 },
	{ "RS256", JWT_RS256 },
	{ "ES256", JWT_ES256 },
};

enum jwt_alg
jwt_alg_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(jwt_algs) / sizeof(jwt_algs[0]); i++)
		if (strcmp(jwt_algs[i].name, name) == 0)
			return jwt_algs[i].alg;
	return JWT_ALG_UNKNOWN;
}

const char *
jwt_alg_name(enum jwt_alg alg)
{
	for (size_t i = 0; i < sizeof(jwt_algs) / sizeof(jwt_algs[0]); i++)
		if (jwt_algs[i].alg == alg)
			return jwt_algs[i].name;
	return "unknown";
}

static int
jwt_b64val(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '-')
		return 62;
	if (ch == '_')
		return 63;
	return -1;
}

long
jwt_b64url_decode(const char *in, size_t len, unsigned char *out)
{
	uint32_t acc = 0;
	size_t o = 0, bits = 0;
	int v;

	/* One character left over carries less than a byte. */
	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if ((v = jwt_b64val((unsigned char)in[i])) < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* The spare bits of the last character must be zero (canonical). */
	if (acc != 0)
		return -1;
	return (long)o;
}

/* Decode base64url JSON into an object. */
static json_t *
jwt_json(const char *in, size_t len, const char *what, char *err,
    size_t errlen)
{
	unsigned char *buf;
	json_error_t je;
	json_t *o;
	long n;

	if ((buf = malloc(len * 3 / 4 + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((n = jwt_b64url_decode(in, len, buf)) < 0) {
		free(buf);
		snprintf(err, errlen, "malformed base64url in the %s", what);
		return NULL;
	}
	o = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES,
	    &je);
	free(buf);
	if (o == NULL) {
		snprintf(err, errlen, "malformed JSON in the %s", what);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		snprintf(err, errlen, "the %s is not a JSON object", what);
		return NULL;
	}
	return o;
}

void
jwt_clear(struct jwt *jwt)
{
	json_decref(jwt->header);
	json_decref(jwt->claims);
	free(jwt->sig);
	memset(jwt, 0, sizeof(*jwt));
}

int
jwt_parse(const char *tok, size_t len, size_t max, struct jwt *jwt,
    char *err, size_t errlen)
{
	const char *d1, *d2;
	json_t *alg, *kid;
	long n;

	memset(jwt, 0, sizeof(*jwt));
	if (len == 0) {
		snprintf(err, errlen, "empty token");
		return -1;
	}
	if (len > max) {
		snprintf(err, errlen, "token over %zu bytes", max);
		return -1;
	}
	if ((d1 = memchr(tok, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok))) == NULL ||
	    memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) != NULL) {
		snprintf(err, errlen, "not a compact JWS (three parts "
		    "separated by dots)");
		return -1;
	}
	if (d1 == tok || d2 == d1 + 1 || d2 + 1 == tok + len) {
		snprintf(err, errlen, "empty part in the token");
		goto fail;
	}
	if ((jwt->header = jwt_json(tok, (size_t)(d1 - tok), "header", err,
	    errlen)) == NULL)
		goto fail;
	alg = json_object_get(jwt->header, "alg");
	if (!json_is_string(alg)) {
		snprintf(err, errlen, "no alg in the header");
		goto fail;
	}
	/* "none" and every algorithm we do not implement end here. */
	if ((jwt->alg = jwt_alg_parse(json_string_value(alg))) ==
	    JWT_ALG_UNKNOWN) {
		snprintf(err, errlen, "unsupported algorithm '%.16s'",
		    json_string_value(alg));
		goto fail;
	}
	if (json_object_get(jwt->header, "crit") != NULL) {
		snprintf(err, errlen, "critical header parameters are not "
		    "supported");
		goto fail;
	}
	if ((kid = json_object_get(jwt->header, "kid")) != NULL) {
		if (!json_is_string(kid) ||
		    json_string_length(kid) > JWT_KID_MAX ||
		    strlen(json_string_value(kid)) != json_string_length(kid)) {
			snprintf(err, errlen, "bad kid in the header");
			goto fail;
		}
		memcpy(jwt->kid, json_string_value(kid),
		    json_string_length(kid) + 1);
	}
	if ((jwt->claims = jwt_json(d1 + 1, (size_t)(d2 - d1 - 1), "payload",
	    err, errlen)) == NULL)
		goto fail;
	jwt->signed_len = (size_t)(d2 - tok);
	if ((jwt->sig = malloc((size_t)(tok + len - d2) * 3 / 4 + 1)) ==
	    NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((n = jwt_b64url_decode(d2 + 1, (size_t)(tok + len - d2 - 1),
	    jwt->sig)) <= 0) {
		snprintf(err, errlen, "malformed base64url in the signature");
		goto fail;
	}
	jwt->sig_len = (size_t)n;
	return 0;
fail:
	jwt_clear(jwt);
	return -1;
}

/* A NumericDate claim: an integer or a finite number, in seconds. */
static int
jwt_date(const json_t *v, int64_t *out)
{
	double d;

	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_real(v))
		return -1;
	d = json_real_value(v);
	if (!isfinite(d) || d < -9.2e18 || d > 9.2e18)
		return -1;
	/* Rounded down, without libm. */
	*out = (int64_t)d;
	if ((double)*out > d)
		(*out)--;
	return 0;
}

static int
jwt_aud_has(const json_t *aud, const char *want)
{
	size_t i;
	json_t *v;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	if (!json_is_array(aud))
		return 0;
	json_array_foreach(aud, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), want) ==
		    0)
			return 1;
	return 0;
}

int
jwt_check_claims(const struct jwt *jwt, const struct jwt_rules *r,
    int64_t *exp, char *err, size_t errlen)
{
	const json_t *v;
	int64_t t;

	*exp = 0;
	if ((v = json_object_get(jwt->claims, "exp")) != NULL) {
		if (jwt_date(v, &t) == -1) {
			snprintf(err, errlen, "exp is not a number");
			return -1;
		}
		if (t <= r->now - r->leeway) {
			snprintf(err, errlen, "token expired");
			return -1;
		}
		/* Past the leeway the connection is closed, not before. */
		*exp = t + r->leeway;
		if (*exp <= 0)
			*exp = 1;
	} else if (r->require_exp) {
		snprintf(err, errlen, "token has no exp");
		return -1;
	}
	if ((v = json_object_get(jwt->claims, "nbf")) != NULL) {
		if (jwt_date(v, &t) == -1) {
			snprintf(err, errlen, "nbf is not a number");
			return -1;
		}
		if (t > r->now + r->leeway) {
			snprintf(err, errlen, "token not valid yet");
			return -1;
		}
	}
	if ((v = json_object_get(jwt->claims, "iat")) != NULL &&
	    jwt_date(v, &t) == -1) {
		snprintf(err, errlen, "iat is not a number");
		return -1;
	}
	if (r->issuer != NULL) {
		v = json_object_get(jwt->claims, "iss");
		if (!json_is_string(v) ||
		    strcmp(json_string_value(v), r->issuer) != 0) {
			snprintf(err, errlen, "wrong issuer");
			return -1;
		}
	}
	if (r->audience != NULL &&
	    !jwt_aud_has(json_object_get(jwt->claims, "aud"), r->audience)) {
		snprintf(err, errlen, "wrong audience");
		return -1;
	}
	return 0;
}
