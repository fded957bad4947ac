/* A slow reference UTF-8 validator from the definition, shared by the unit test and the fuzzer. */
#ifndef WSH_TESTS_UTF8_REF_H
#define WSH_TESTS_UTF8_REF_H

#include <stddef.h>
#include <stdint.h>

/*
 * An independent reference, written from the definition rather than as a
 * table: after k bytes of an n-byte sequence the code point lies in an
 * interval; the sequence is dead as soon as that interval misses the
 * code points an n-byte form may carry (no overlongs, no surrogates,
 * nothing above U+10FFFF). Returns the index of the first byte that no
 * valid string can have there, or |len| with |*complete| telling whether
 * the input ended on a character boundary.
 */
static size_t
ref_first_bad(const uint8_t *s, size_t len, int *complete)
{
	uint32_t	 v, lo, hi, min;
	size_t		 i = 0, k, n;
	unsigned	 r;

	*complete = 1;
	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xc0 && s[i] < 0xe0) {
			n = 2;
			v = s[i] & 0x1f;
			min = 0x80;
		} else if (s[i] >= 0xe0 && s[i] < 0xf0) {
			n = 3;
			v = s[i] & 0x0f;
			min = 0x800;
		} else if (s[i] >= 0xf0 && s[i] < 0xf8) {
			n = 4;
			v = s[i] & 0x07;
			min = 0x10000;
		} else
			return i;
		for (k = 1;; k++) {
			r = 6 * (unsigned)(n - k);
			lo = v << r;
			hi = lo | ((1u << r) - 1);
			if (hi < min || lo > 0x10ffff ||
			    (lo >= 0xd800 && hi <= 0xdfff))
				return i + k - 1;
			if (k == n)
				break;
			if (i + k >= len) {
				*complete = 0;
				return len;
			}
			if ((s[i + k] & 0xc0) != 0x80)
				return i + k;
			v = (v << 6) | (s[i + k] & 0x3f);
		}
		i += n;
	}
	return len;
}

#endif
