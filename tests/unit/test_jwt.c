/* Unit tests of the JWT parser and claim checks (src/plugins/jwt_parse.c). */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/hmac.h>

#include "jwt_parse.h"
#include "testutil.h"

/* Made by python3-jwt: HS256, key "s" x 40, kid k1, exp 2000000000. */
static const char tok_hs256[] =
    "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0."
    "eyJzdWIiOiJhbGljZSIsImV4cCI6MjAwMDAwMDAwMCwiaXNzIjoiaXNzIiwiYXVkIjoi"
    "YXVkIn0.OHNcQZ3ve5jWD9N5gKx7IJlIgoTx2sPv-0HZETNH-jg";

static int
parse(const char *tok, struct jwt *j, char *err)
{
	return jwt_parse(tok, strlen(tok), JWT_DEFAULT_MAX, j, err, 128);
}

START_TEST(good_token)
{
	unsigned char mac[32], key[40];
	unsigned int len = 0;
	struct jwt j;
	char err[128];

	ck_assert_int_eq(parse(tok_hs256, &j, err), 0);
	ck_assert_int_eq(j.alg, JWT_HS256);
	ck_assert_str_eq(j.kid, "k1");
	ck_assert_str_eq(json_string_value(json_object_get(j.claims, "sub")),
	    "alice");
	ck_assert_uint_eq(j.sig_len, 32);
	/* The signature covers exactly header.payload. */
	memset(key, 's', sizeof(key));
	HMAC(EVP_sha256(), key, sizeof(key), (const unsigned char *)tok_hs256,
	    j.signed_len, mac, &len);
	ck_assert_uint_eq(len, 32);
	ck_assert_int_eq(memcmp(mac, j.sig, 32), 0);
	jwt_clear(&j);
	jwt_clear(&j);
}
END_TEST

static const struct {
	const char	*tok;
	const char	*why;	/* a word of the expected error */
} bad_vecs[] = {
	{ "", "empty" },
	{ "abc", "three parts" },
	{ "a.b", "three parts" },
	{ "a.b.c.d", "three parts" },
	{ ".eyJ9.AAAA", "empty part" },
	/* alg none, with and without a signature */
	{ "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.", "empty part" },
	{ "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.AAAA", "unsupported" },
	/* {"alg":"HS256","crit":["x"]} */
	{ "eyJhbGciOiJIUzI1NiIsImNyaXQiOlsieCJdfQ.eyJzdWIiOiJhIn0.AAAA",
	  "critical" },
	/* padding and characters outside base64url */
	{ "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0=.AAAA", "base64url" },
	{ "eyJhbGciOiJIUzI1NiJ9.eyJzdWIi+OiJhIn0.AAAA", "base64url" },
	{ "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.A", "base64url" },
	/* non-zero spare bits: "AB" decodes only with "AA" canonical */
	{ "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.AB", "base64url" },
	/* payload "{nope" and "[1]" */
	{ "eyJhbGciOiJIUzI1NiJ9.e25vcGU.AAAA", "JSON" },
	{ "eyJhbGciOiJIUzI1NiJ9.WzFd.AAAA", "object" },
	/* duplicate keys: {"sub":"a","sub":"b"} */
	{ "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIiwic3ViIjoiYiJ9.AAAA", "JSON" },
	/* header without alg, alg not a string */
	{ "e30.eyJzdWIiOiJhIn0.AAAA", "no alg" },
	{ "eyJhbGciOjF9.eyJzdWIiOiJhIn0.AAAA", "no alg" },
	/* lowercase hs256 is not HS256 */
	{ "eyJhbGciOiJoczI1NiJ9.eyJzdWIiOiJhIn0.AAAA", "unsupported" },
};

START_TEST(bad_token)
{
	struct jwt j;
	char err[128];

	ck_assert_int_eq(parse(bad_vecs[_i].tok, &j, err), -1);
	ck_assert_msg(strstr(err, bad_vecs[_i].why) != NULL,
	    "vector %d: '%s' lacks '%s'", _i, err, bad_vecs[_i].why);
	ck_assert_ptr_null(j.claims);
	ck_assert_ptr_null(j.sig);
}
END_TEST

START_TEST(huge_token)
{
	size_t n = JWT_DEFAULT_MAX + 1;
	char *t = malloc(n), err[128];
	struct jwt j;

	memset(t, 'A', n);
	t[10] = t[20] = '.';
	ck_assert_int_eq(jwt_parse(t, n, JWT_DEFAULT_MAX, &j, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "over"));
	free(t);
}
END_TEST

/* Every prefix of a valid token is refused, none crashes. */
START_TEST(every_prefix)
{
	struct jwt j;
	char err[128];

	for (size_t n = 0; n < strlen(tok_hs256); n++) {
		if (jwt_parse(tok_hs256, n, JWT_DEFAULT_MAX, &j, err,
		    sizeof(err)) == 0) {
			/* Only cuts inside the signature can still parse. */
			ck_assert_uint_lt(j.signed_len, n);
			jwt_clear(&j);
		}
	}
}
END_TEST

START_TEST(b64url)
{
	unsigned char out[8];

	ck_assert_int_eq(jwt_b64url_decode("", 0, out), 0);
	ck_assert_int_eq(jwt_b64url_decode("Zg", 2, out), 1);
	ck_assert_int_eq(out[0], 'f');
	ck_assert_int_eq(jwt_b64url_decode("Zm8", 3, out), 2);
	ck_assert_int_eq(jwt_b64url_decode("Zm9v", 4, out), 3);
	ck_assert_int_eq(jwt_b64url_decode("_-8", 3, out), 2);
	ck_assert_int_eq(out[0], 0xff);
	ck_assert_int_eq(jwt_b64url_decode("Zh", 2, out), -1);
	ck_assert_int_eq(jwt_b64url_decode("Z", 1, out), -1);
	ck_assert_int_eq(jwt_b64url_decode("Zg==", 4, out), -1);
	ck_assert_int_eq(jwt_b64url_decode("Z/8", 3, out), -1);
}
END_TEST

/* Parse a token whose payload is |json| (base64url-encoded here). */
static int
claims_of(const char *json, struct jwt *j)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char tok[1024], err[128];
	size_t o, len = strlen(json);
	uint32_t v;

	o = (size_t)snprintf(tok, sizeof(tok), "eyJhbGciOiJIUzI1NiJ9.");
	for (size_t i = 0; i < len; i += 3) {
		size_t n = len - i < 3 ? len - i : 3;

		v = (uint32_t)(unsigned char)json[i] << 16;
		if (n > 1)
			v |= (uint32_t)(unsigned char)json[i + 1] << 8;
		if (n > 2)
			v |= (unsigned char)json[i + 2];
		for (size_t k = 0; k <= n; k++)
			tok[o++] = b64[(v >> (18 - 6 * k)) & 63];
	}
	memcpy(tok + o, ".AAAA", 6);
	return jwt_parse(tok, strlen(tok), JWT_DEFAULT_MAX, j, err,
	    sizeof(err));
}

static const struct {
	const char	*json;
	int		 ok;
	int64_t		 exp;
	const char	*why;
} claim_vecs[] = {
	{ "{\"exp\":1000}", 0, 1030, NULL },
	{ "{\"exp\":969}", -1, 0, "expired" },
	{ "{\"exp\":970}", -1, 0, "expired" },
	{ "{\"exp\":971.9}", 0, 1001, NULL },
	{ "{\"exp\":\"1000\"}", -1, 0, "exp is not" },
	{ "{\"nbf\":1030}", -1, 0, "no exp" },
	{ "{\"exp\":2000,\"nbf\":1030}", 0, 2030, NULL },
	{ "{\"exp\":2000,\"nbf\":1031}", -1, 0, "not valid yet" },
	{ "{\"exp\":2000,\"iat\":null}", -1, 0, "iat" },
};

START_TEST(claims)
{
	struct jwt_rules r = { .now = 1000, .leeway = 30, .require_exp = 1 };
	struct jwt j;
	int64_t exp = -1;
	char err[128] = "";
	int rv;

	ck_assert_int_eq(claims_of(claim_vecs[_i].json, &j), 0);
	rv = jwt_check_claims(&j, &r, &exp, err, sizeof(err));
	ck_assert_msg(rv == claim_vecs[_i].ok, "vector %d: %d %s", _i, rv,
	    err);
	if (rv == 0)
		ck_assert_int_eq(exp, claim_vecs[_i].exp);
	else
		ck_assert_ptr_nonnull(strstr(err, claim_vecs[_i].why));
	jwt_clear(&j);
}
END_TEST

START_TEST(issuer)
{
	struct jwt_rules r = { .now = 1000, .issuer = "iss" };
	struct jwt j;
	int64_t exp;
	char err[128];

	ck_assert_int_eq(claims_of("{\"iss\":\"iss\"}", &j), 0);
	ck_assert_int_eq(jwt_check_claims(&j, &r, &exp, err, sizeof(err)), 0);
	ck_assert_int_eq(exp, 0);
	jwt_clear(&j);
	ck_assert_int_eq(claims_of("{\"iss\":1}", &j), 0);
	ck_assert_int_eq(jwt_check_claims(&j, &r, &exp, err, sizeof(err)), -1);
	jwt_clear(&j);
	ck_assert_int_eq(claims_of("{\"iss\":\"other\"}", &j), 0);
	ck_assert_int_eq(jwt_check_claims(&j, &r, &exp, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "issuer"));
	jwt_clear(&j);
	r.issuer = NULL;
	r.audience = "aud";
	ck_assert_int_eq(claims_of("{\"aud\":[\"x\",\"aud\"]}", &j), 0);
	ck_assert_int_eq(jwt_check_claims(&j, &r, &exp, err, sizeof(err)), 0);
	jwt_clear(&j);
	ck_assert_int_eq(claims_of("{\"aud\":\"x\"}", &j), 0);
	ck_assert_int_eq(jwt_check_claims(&j, &r, &exp, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "audience"));
	jwt_clear(&j);
}
END_TEST

static Suite *
jwt_suite(void)
{
	Suite *s = suite_create("jwt");
	TCase *tc = tcase_create("parse");

	tcase_set_timeout(tc, TU_TIMEOUT);
	tcase_add_test(tc, good_token);
	tcase_add_loop_test(tc, bad_token, 0,
	    (int)(sizeof(bad_vecs) / sizeof(bad_vecs[0])));
	tcase_add_test(tc, huge_token);
	tcase_add_test(tc, every_prefix);
	tcase_add_test(tc, b64url);
	suite_add_tcase(s, tc);
	tc = tcase_create("claims");
	tcase_add_loop_test(tc, claims, 0,
	    (int)(sizeof(claim_vecs) / sizeof(claim_vecs[0])));
	tcase_add_test(tc, issuer);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(jwt_suite());
}
