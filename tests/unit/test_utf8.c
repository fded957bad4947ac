/* Tests of the UTF-8 validator: RFC 3629 vectors, fail-fast at every split. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/utf8.h"
#include "testutil.h"

#include "utf8_ref.h"

/* What the validator must say about |s| according to the reference. */
static uint8_t
ref_state_class(const uint8_t *s, size_t len)
{
	int	 complete;

	if (ref_first_bad(s, len, &complete) < len)
		return UTF8_REJECT;
	return complete ? UTF8_ACCEPT : 1;
}

static uint8_t
state_class(uint8_t st)
{
	return st == UTF8_ACCEPT || st == UTF8_REJECT ? st : 1;
}

/*
 * Feed |s| split at every offset and byte by byte: the validator must
 * reject in exactly the call that holds the first bad byte, and agree
 * with the reference at the end.
 */
static void
check_all_splits(const uint8_t *s, size_t len)
{
	uint8_t	*c = tu_dup(s, len);
	uint8_t	 st, want = ref_state_class(s, len);
	size_t	 k, i, bad;
	int	 complete;

	bad = ref_first_bad(s, len, &complete);
	for (k = 0; k <= len; k++) {
		st = UTF8_ACCEPT;
		utf8_validate(&st, c, k);
		if ((st == UTF8_REJECT) != (bad < k))
			ck_abort_msg("len %zu split %zu: first bad %zu, state %u",
			    len, k, bad, st);
		utf8_validate(&st, c + k, len - k);
		ck_assert_uint_eq(state_class(st), want);
	}
	st = UTF8_ACCEPT;
	for (i = 0; i < len; i++) {
		uint8_t r = utf8_validate(&st, c + i, 1);

		ck_assert_uint_eq(r, st);
		if ((st == UTF8_REJECT) != (bad <= i))
			ck_abort_msg("byte by byte: first bad %zu, at %zu state %u",
			    bad, i, st);
	}
	ck_assert_int_eq(utf8_is_valid(c, len), want == UTF8_ACCEPT);
	free(c);
}

struct vec {
	const char	*s;
	size_t		 bad;	/* index of the first bad byte, or SIZE_MAX */
};

#define OK	SIZE_MAX

static const struct vec valid_vecs[] = {
	{ "", OK },
	{ "Hello, world", OK },
	{ "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", OK },	/* kosme */
	{ "\xc2\x80", OK },			/* U+0080 */
	{ "\xdf\xbf", OK },			/* U+07FF */
	{ "\xe0\xa0\x80", OK },			/* U+0800 */
	{ "\xed\x9f\xbf", OK },			/* U+D7FF */
	{ "\xee\x80\x80", OK },			/* U+E000 */
	{ "\xef\xbf\xbd", OK },			/* U+FFFD */
	{ "\xef\xbf\xbf", OK },			/* U+FFFF */
	{ "\xf0\x90\x80\x80", OK },		/* U+10000 */
	{ "\xf4\x8f\xbf\xbf", OK },		/* U+10FFFF */
	{ "abcdefgh\xf0\x9f\x98\x80ijklmnopqrstuvw\xc3\xa9", OK },
};

static const struct vec invalid_vecs[] = {
	{ "\x80", 0 },				/* lone continuation */
	{ "\xbf", 0 },
	{ "a\x80" "b", 1 },
	{ "\xc0\x80", 0 },			/* overlong NUL */
	{ "\xc1\xbf", 0 },			/* overlong 2-byte */
	{ "\xe0\x80\x80", 1 },			/* overlong 3-byte */
	{ "\xe0\x9f\xbf", 1 },
	{ "\xf0\x80\x80\x80", 1 },		/* overlong 4-byte */
	{ "\xf0\x8f\xbf\xbf", 1 },
	{ "\xed\xa0\x80", 1 },			/* U+D800 */
	{ "\xed\xbf\xbf", 1 },			/* U+DFFF */
	{ "\xed\xa0\x80\xed\xb0\x80", 1 },	/* surrogate pair */
	{ "\xf4\x90\x80\x80", 1 },		/* U+110000 */
	{ "\xf5\x80\x80\x80", 0 },
	{ "\xf7\xbf\xbf\xbf", 0 },
	{ "\xf8\x88\x80\x80\x80", 0 },		/* 5-byte form */
	{ "\xfc\x84\x80\x80\x80\x80", 0 },	/* 6-byte form */
	{ "\xfe", 0 },
	{ "\xff", 0 },
	{ "\xc2" "a", 1 },			/* truncated, then ASCII */
	{ "\xe2\x82" "a", 2 },
	{ "\xf0\x9f\x98" "a", 3 },
	{ "\xc2\xc2\x80", 1 },			/* truncated, then a lead */
	{ "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80" "edited",
	    12 },
	{ "0123456789abcdef01234567\x80", 24 },	/* after the fast path */
	{ "0123456789abcdef\xc3\xa9xyz\xe0\x80", 22 },
};

/* Sequences that are fine so far but incomplete. */
static const char *const truncated_vecs[] = {
	"\xc2", "\xe2", "\xe2\x82", "\xf0", "\xf0\x9f", "\xf0\x9f\x98",
	"\xf4\x8f\xbf", "abc\xe0\xa0", "\xed", "\xed\x9f",
};

START_TEST(valid)
{
	const struct vec *v = &valid_vecs[_i];
	uint8_t st = UTF8_ACCEPT;

	ck_assert_int_eq(utf8_validate(&st, (const uint8_t *)v->s,
	    strlen(v->s)), UTF8_ACCEPT);
	ck_assert_int_eq(utf8_is_valid((const uint8_t *)v->s, strlen(v->s)),
	    1);
	check_all_splits((const uint8_t *)v->s, strlen(v->s));
}
END_TEST

START_TEST(invalid)
{
	const struct vec	*v = &invalid_vecs[_i];
	const uint8_t		*s = (const uint8_t *)v->s;
	size_t			 len = strlen(v->s);
	uint8_t			 st = UTF8_ACCEPT;
	int			 complete;

	/* The hand-written index and the reference agree. */
	ck_assert_uint_eq(ref_first_bad(s, len, &complete), v->bad);
	ck_assert_int_eq(utf8_validate(&st, s, len), UTF8_REJECT);
	ck_assert_int_eq(utf8_is_valid(s, len), 0);
	/* Rejection is sticky. */
	ck_assert_int_eq(utf8_validate(&st, (const uint8_t *)"a", 1),
	    UTF8_REJECT);
	/* The prefix before the bad byte is not rejected; with it, it is. */
	st = UTF8_ACCEPT;
	ck_assert_int_ne(utf8_validate(&st, s, v->bad), UTF8_REJECT);
	ck_assert_int_eq(utf8_validate(&st, s + v->bad, 1), UTF8_REJECT);
	check_all_splits(s, len);
}
END_TEST

START_TEST(truncated)
{
	const char	*t = truncated_vecs[_i];
	uint8_t		 st = UTF8_ACCEPT, r;

	r = utf8_validate(&st, (const uint8_t *)t, strlen(t));
	ck_assert_int_ne(r, UTF8_ACCEPT);
	ck_assert_int_ne(r, UTF8_REJECT);
	ck_assert_int_eq(utf8_is_valid((const uint8_t *)t, strlen(t)), 0);
	check_all_splits((const uint8_t *)t, strlen(t));
}
END_TEST

START_TEST(empty_keeps_state)
{
	uint8_t	 st = UTF8_ACCEPT;

	ck_assert_int_eq(utf8_validate(&st, NULL, 0), UTF8_ACCEPT);
	utf8_validate(&st, (const uint8_t *)"\xe2", 1);
	ck_assert_int_eq(utf8_validate(&st, (const uint8_t *)"", 0), st);
	ck_assert_int_ne(st, UTF8_ACCEPT);
	ck_assert_int_eq(utf8_validate(&st, (const uint8_t *)"\x82\xac", 2),
	    UTF8_ACCEPT);
}
END_TEST

/* Every 1-, 2- and 3-byte string, against the reference. */
START_TEST(exhaustive_short)
{
	uint8_t		 s[3];
	uint8_t		 st;
	unsigned	 a, b, c;

	for (a = 0; a < 256; a++) {
		s[0] = (uint8_t)a;
		st = UTF8_ACCEPT;
		ck_assert_uint_eq(state_class(utf8_validate(&st, s, 1)),
		    ref_state_class(s, 1));
		for (b = 0; b < 256; b++) {
			s[1] = (uint8_t)b;
			st = UTF8_ACCEPT;
			ck_assert_uint_eq(state_class(utf8_validate(&st, s, 2)),
			    ref_state_class(s, 2));
			for (c = 0; c < 256; c++) {
				s[2] = (uint8_t)c;
				st = UTF8_ACCEPT;
				if (state_class(utf8_validate(&st, s, 3)) !=
				    ref_state_class(s, 3))
					ck_abort_msg("%02x %02x %02x", a, b, c);
			}
		}
	}
}
END_TEST

/* Four-byte strings: every lead and second byte, edge values after. */
START_TEST(exhaustive_four)
{
	static const uint8_t edge[] = { 0x00, 0x7f, 0x80, 0x8f, 0x90, 0xbf,
	    0xc0, 0xf4, 0xff };
	uint8_t		 s[4];
	uint8_t		 st;
	unsigned	 a, b, c, d;

	for (a = 0xe0; a < 256; a++) {
		for (b = 0; b < 256; b++) {
			for (c = 0; c < sizeof(edge); c++) {
				for (d = 0; d < sizeof(edge); d++) {
					s[0] = (uint8_t)a;
					s[1] = (uint8_t)b;
					s[2] = edge[c];
					s[3] = edge[d];
					st = UTF8_ACCEPT;
					if (state_class(utf8_validate(&st, s,
					    4)) != ref_state_class(s, 4))
						ck_abort_msg("%02x %02x %02x %02x",
						    a, b, s[2], s[3]);
				}
			}
		}
	}
}
END_TEST

/* Pseudo-random mixes of good and bad pieces, each split every way. */
START_TEST(random_strings)
{
	static const char *const pieces[] = {
		"a", "0123456789", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
		"\xf4\x8f\xbf\xbf", "\xed\x9f\xbf", "\xc2", "\x80", "\xed\xa0",
		"\xf4\x90", "\xe0\x9f", "\xff", " ", "\xef\xbf\xbf",
	};
	uint8_t		 s[64];
	uint32_t	 seed = 12345;
	size_t		 len, n;
	unsigned	 round;

	for (round = 0; round < 3000; round++) {
		len = 0;
		for (;;) {
			const char *p;

			seed = seed * 1103515245u + 12345u;
			p = pieces[(seed >> 16) % (sizeof(pieces) /
			    sizeof(pieces[0]))];
			/* Mostly good pieces, so errors land late too. */
			if ((seed >> 8) % 4 != 0 && round % 2 == 0 &&
			    (p[0] == '\x80' || p[0] == '\xff' ||
			    (p[1] == '\0' && (uint8_t)p[0] >= 0x80)))
				continue;
			n = strlen(p);
			if (len + n > sizeof(s))
				break;
			memcpy(s + len, p, n);
			len += n;
			if ((seed >> 20) % 8 == 0)
				break;
		}
		check_all_splits(s, len);
	}
}
END_TEST

START_TEST(long_ascii_fast_path)
{
	uint8_t		 buf[1030];
	size_t		 pos;

	/*
	 * One bad byte at each position of a long ASCII run: in each lane of
	 * the first 32-byte blocks, and in the 8-byte and byte tails.
	 */
	for (pos = 0; pos < sizeof(buf) - 1;
	    pos = pos == 100 ? sizeof(buf) - 41 : pos + 1) {
		memset(buf, 'x', sizeof(buf));
		ck_assert_int_eq(utf8_is_valid(buf, sizeof(buf)), 1);
		buf[pos] = 0x80;
		ck_assert_int_eq(utf8_is_valid(buf, sizeof(buf)), 0);
		check_all_splits(buf, 48);
		buf[pos] = 0xc3;
		buf[pos + 1] = 0xa9;
		ck_assert_int_eq(utf8_is_valid(buf, sizeof(buf)), 1);
	}
	buf[sizeof(buf) - 1] = 0xc3;
	ck_assert_int_eq(utf8_is_valid(buf, sizeof(buf)), 0);
}
END_TEST

static Suite *
utf8_suite(void)
{
	Suite	*s = suite_create("utf8");
	TCase	*tc;

	tc = tcase_create("vectors");
	tcase_set_timeout(tc, TU_TIMEOUT);
	tcase_add_loop_test(tc, valid, 0,
	    (int)(sizeof(valid_vecs) / sizeof(valid_vecs[0])));
	tcase_add_loop_test(tc, invalid, 0,
	    (int)(sizeof(invalid_vecs) / sizeof(invalid_vecs[0])));
	tcase_add_loop_test(tc, truncated, 0,
	    (int)(sizeof(truncated_vecs) / sizeof(truncated_vecs[0])));
	tcase_add_test(tc, empty_keeps_state);
	tcase_add_test(tc, long_ascii_fast_path);
	suite_add_tcase(s, tc);

	tc = tcase_create("reference");
	tcase_set_timeout(tc, TU_TIMEOUT);
	tcase_add_test(tc, exhaustive_short);
	tcase_add_test(tc, exhaustive_four);
	tcase_add_test(tc, random_strings);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(utf8_suite());
}
