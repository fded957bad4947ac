/* libFuzzer target: the JWT parser and claim checks on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "jwt_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jwt_rules rules = { .now = 1700000000, .leeway = 30,
	    .issuer = "iss", .audience = "aud" };
	struct jwt jwt;
	char err[128];
	int64_t exp;

	if (jwt_parse((const char *)data, size, JWT_DEFAULT_MAX, &jwt, err,
	    sizeof(err)) == 0) {
		(void)jwt_check_claims(&jwt, &rules, &exp, err, sizeof(err));
		/* A parsed token always has a signature and a known alg. */
		if (jwt.sig_len == 0 || jwt.alg == JWT_ALG_UNKNOWN ||
		    jwt.signed_len >= size)
			__builtin_trap();
		jwt_clear(&jwt);
	}
	return 0;
}
