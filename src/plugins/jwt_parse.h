/* JSON Web Tokens without I/O or keys: split, decode and check the claims of a compact JWS. */
#ifndef WSH_PLUGINS_JWT_PARSE_H
#define WSH_PLUGINS_JWT_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Bytes of a token accepted by default (auth_jwt's max_token_size). */
#define JWT_DEFAULT_MAX		8192
/* Bytes of a "kid". */
#define JWT_KID_MAX		128

/* Signature algorithms (RFC 7518); "none" and the rest are unknown. */
enum jwt_alg {
	JWT_ALG_UNKNOWN,
	JWT_HS256,
	JWT_HS384,
	JWT_HS512,
	JWT_RS256,
	JWT_ES256
};

struct jwt {
	enum jwt_alg	 alg;
	char		 kid[JWT_KID_MAX + 1];	/* "" when absent */
	json_t		*header;
	json_t		*claims;	/* the payload, a JSON object */
	size_t		 signed_len;	/* bytes of "header.payload" */
	unsigned char	*sig;		/* the decoded signature */
	size_t		 sig_len;
};

/*
 * Split and decode the compact JWS |tok| (|len| bytes, at most |max|):
 * three base64url parts without padding, a header object with a known
 * "alg" and no "crit", a payload object, duplicate keys refused. Returns 0
 * and fills |jwt| (release it with jwt_clear()), or -1 with the problem in
 * |err|. Nothing is verified here: the signature is over the first
 * |signed_len| bytes of |tok|.
 */
int	jwt_parse(const char *tok, size_t len, size_t max, struct jwt *jwt,
	    char *err, size_t errlen);

/* Release what jwt_parse() kept; a cleared jwt may be cleared again. */
void	jwt_clear(struct jwt *jwt);

/* The algorithm named |name| ("HS256", ...), or JWT_ALG_UNKNOWN. */
enum jwt_alg jwt_alg_parse(const char *name);
const char *jwt_alg_name(enum jwt_alg alg);

/* What the registered claims must satisfy (jwt_check_claims()). */
struct jwt_rules {
	int64_t		 now;		/* seconds since the Epoch */
	int64_t		 leeway;	/* seconds of clock skew allowed */
	const char	*issuer;	/* NULL: any */
	const char	*audience;	/* NULL: any */
	int		 require_exp;
};

/*
 * Check exp, nbf, iss and aud of |jwt| against |rules|. Returns 0 and the
 * expiry in |*exp| (0 when the token has none), or -1 with the problem in
 * |err|.
 */
int	jwt_check_claims(const struct jwt *jwt, const struct jwt_rules *rules,
	    int64_t *exp, char *err, size_t errlen);

/*
 * Strict base64url (RFC 4648 section 5) without padding: decode |len|
 * characters into |out| (room for len * 3 / 4 bytes). Returns the bytes
 * written, or -1 for a bad character, a bad length or non-zero spare bits.
 */
long	jwt_b64url_decode(const char *in, size_t len, unsigned char *out);

#endif
