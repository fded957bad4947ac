/* Unit tests for reconnection backoff with jitter (src/client/backoff.c). */
#include "autoconf.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "client/backoff.h"
#include "testutil.h"

/* The sequence IXWebSocket documents, which ours keeps without jitter. */
START_TEST(base_sequence)
{
	static const uint32_t	 want[] = { 100, 200, 400, 800, 1600, 3200,
	    6400, 10000, 10000, 10000 };
	unsigned		 i;

	ck_assert_uint_eq(backoff_base(100, 10000, 0), 0);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_uint_eq(backoff_base(BACKOFF_MIN_MS, BACKOFF_MAX_MS,
		    i + 1), want[i]);
	/* No overflow, however many retries. */
	ck_assert_uint_eq(backoff_base(100, 10000, 1000000), 10000);
	ck_assert_uint_eq(backoff_base(3000000000u, 4000000000u, 64),
	    4000000000u);
	ck_assert_uint_eq(backoff_base(50, 5000, 4), 400);
	ck_assert_uint_eq(backoff_base(50, 300, 4), 300);
}
END_TEST

START_TEST(no_jitter_is_exact)
{
	unsigned	 i;

	for (i = 1; i < 20; i++)
		ck_assert_uint_eq(backoff_delay(100, 10000, 0, i,
		    (uint32_t)rand()), backoff_base(100, 10000, i));
}
END_TEST

/* Every jittered wait lies in [base * (1 - j), base], and spreads out. */
START_TEST(jitter_bounds)
{
	unsigned	 retry, j, k;
	uint32_t	 base, w, lo, min, max;

	for (j = 0; j <= 100; j += 10) {
		for (retry = 1; retry <= 12; retry++) {
			base = backoff_base(100, 10000, retry);
			lo = base - (uint32_t)((uint64_t)base * j / 100);
			min = UINT32_MAX;
			max = 0;
			for (k = 0; k < 2000; k++) {
				w = backoff_delay(100, 10000, j, retry,
				    (uint32_t)rand() ^ ((uint32_t)rand() << 16));
				ck_assert_uint_ge(w, lo);
				ck_assert_uint_le(w, base);
				if (w < min)
					min = w;
				if (w > max)
					max = w;
			}
			if (j >= 10)
				ck_assert_msg(max - min > (base - lo) / 2,
				    "jitter %u%% at retry %u spreads only %u..%u",
				    j, retry, min, max);
		}
	}
	/* The extremes of the random word hit the ends of the range. */
	ck_assert_uint_eq(backoff_delay(100, 10000, 20, 1, 0), 100);
	ck_assert_uint_eq(backoff_delay(100, 10000, 20, 1, 20), 80);
	ck_assert_uint_eq(backoff_delay(100, 10000, 20, 8, 2000), 8000);
	ck_assert_uint_le(backoff_delay(100, 10000, 200, 3, UINT32_MAX), 400);
}
END_TEST

static Suite *
backoff_suite(void)
{
	Suite	*s = suite_create("client_backoff");
	TCase	*tc = tcase_create("backoff");

	tcase_add_test(tc, base_sequence);
	tcase_add_test(tc, no_jitter_is_exact);
	tcase_add_test(tc, jitter_bounds);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	srand(42);
	return tu_run(backoff_suite());
}
