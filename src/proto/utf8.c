/* Incremental UTF-8 validation: a byte-class DFA with an ASCII fast path. */
#include <stdint.h>
#include <string.h>

#include "proto/utf8.h"

/*
 * Every byte falls in one of twelve classes, chosen so that the second
 * byte of a three- or four-byte sequence can be range-checked by class
 * alone (RFC 3629 section 4; Unicode table 3-7). The DFA states are:
 *
 *	0	at a boundary (UTF8_ACCEPT)
 *	1..3	that many continuation bytes (80..BF) still needed
 *	4	after E0: need A0..BF, which rules out overlongs
 *	5	after ED: need 80..9F, which rules out surrogates
 *	6	after F0: need 90..BF, which rules out overlongs
 *	7	after F4: need 80..8F, which stops at U+10FFFF
 */
enum utf8_class {
	UC_ASCII,	/* 00..7F */
	UC_80_8F,
	UC_90_9F,
	UC_A0_BF,
	UC_LEAD2,	/* C2..DF */
	UC_E0,
	UC_LEAD3,	/* E1..EC, EE..EF */
	UC_ED,
	UC_F0,
	UC_LEAD4,	/* F1..F3 */
	UC_F4,
	UC_BAD,		/* C0, C1, F5..FF: never valid anywhere */
	UC_COUNT
};

#define R	UTF8_REJECT

static const uint8_t utf8_next[8][UC_COUNT] = {
	/* ASCII 80-8F 90-9F A0-BF  C2-DF E0 E1-EF ED  F0 F1-F3 F4  bad */
	{ 0,    R,    R,    R,     1,    4, 2,    5,  6, 3,    7,  R },
	{ R,    0,    0,    0,     R,    R, R,    R,  R, R,    R,  R },
	{ R,    1,    1,    1,     R,    R, R,    R,  R, R,    R,  R },
	{ R,    2,    2,    2,     R,    R, R,    R,  R, R,    R,  R },
	{ R,    R,    R,    1,     R,    R, R,    R,  R, R,    R,  R },
	{ R,    1,    1,    R,     R,    R, R,    R,  R, R,    R,  R },
	{ R,    R,    2,    2,     R,    R, R,    R,  R, R,    R,  R },
	{ R,    2,    R,    R,     R,    R, R,    R,  R, R,    R,  R },
};

#undef R

/* The class of every byte, as enum utf8_class values. */
static const uint8_t utf8_classes[256] = {
	/* 00 */  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	/* 10 */  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	/* 20 */  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	/* 30 */  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	/* 40 */  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	/* 50 */  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	/* 60 */  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	/* 70 */  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	/* 80 */  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,
	/* 90 */  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
	/* A0 */  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,
	/* B0 */  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,
	/* C0 */ 11, 11,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,
	/* D0 */  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,
	/* E0 */  5,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  7,  6,  6,
	/* F0 */  8,  9,  9,  9, 10, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11,
};

uint8_t
utf8_validate(uint8_t *state, const uint8_t *s, size_t len)
{
	const uint64_t	 high = 0x8080808080808080ULL;
	uint64_t	 w;
	uint8_t		 st = *state;
	size_t		 i = 0;

	if (st > 7) {
		*state = UTF8_REJECT;
		return UTF8_REJECT;
	}
	while (i < len) {
		/*
		 * At a boundary, skip eight ASCII bytes at a time: most
		 * text is ASCII and one test per word beats one per byte.
		 */
		if (st == UTF8_ACCEPT) {
			/*
			 * Thirty-two bytes per test while the text is long
			 * enough: four independent loads OR'ed, which compilers
			 * turn into vector code; then word by word.
			 */
			while (len - i >= 32) {
				uint64_t w0, w1, w2, w3;

				memcpy(&w0, s + i, sizeof(w0));
				memcpy(&w1, s + i + 8, sizeof(w1));
				memcpy(&w2, s + i + 16, sizeof(w2));
				memcpy(&w3, s + i + 24, sizeof(w3));
				if ((w0 | w1 | w2 | w3) & high)
					break;
				i += 32;
			}
			while (len - i >= 8) {
				memcpy(&w, s + i, sizeof(w));
				if (w & high)
					break;
				i += 8;
			}
			if (i == len)
				break;
		}
		st = utf8_next[st][utf8_classes[s[i]]];
		i++;
		/* Stop at the first bad byte: the rest cannot matter. */
		if (st == UTF8_REJECT)
			break;
	}
	*state = st;
	return st;
}

int
utf8_is_valid(const uint8_t *s, size_t len)
{
	uint8_t	 st = UTF8_ACCEPT;

	return utf8_validate(&st, s, len) == UTF8_ACCEPT;
}
