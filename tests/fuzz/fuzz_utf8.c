/* libFuzzer target: incremental UTF-8 validation against a reference. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "proto/utf8.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * A slow reference built from the definition (RFC 3629): after k bytes of
 * an n-byte form the code point lies in an interval, and the form is dead
 * once that interval misses what n bytes may encode. Returns the index of
 * the first byte no valid string can have, or |len|; |*complete| tells
 * whether the input ends on a character boundary.
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t		 whole = UTF8_ACCEPT, split = UTF8_ACCEPT;
	size_t		 cut, bad;
	int		 complete;

	if (size < 1)
		return 0;
	cut = (size_t)data[0] * (size - 1) / 255;
	data++;
	size--;

	utf8_validate(&whole, data, size);
	utf8_validate(&split, data, cut);
	bad = ref_first_bad(data, size, &complete);
	/* Fail fast: the first piece is rejected iff it holds the bad byte. */
	if ((split == UTF8_REJECT) != (bad < cut))
		abort();
	utf8_validate(&split, data + cut, size - cut);
	if (split != whole)
		abort();
	if ((whole == UTF8_REJECT) != (bad < size))
		abort();
	if ((whole == UTF8_ACCEPT) != (bad == size && complete))
		abort();
	if (utf8_is_valid(data, size) != (whole == UTF8_ACCEPT))
		abort();
	return 0;
}
