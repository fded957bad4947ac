/*
 * Hexadecimal digits, read the same way everywhere: connection ids and
 * epochs (16 digits), percent escapes, chunk sizes. Header-only, so the
 * protocol core, the daemon, the library and the tools share it without a
 * link dependency.
 */
#ifndef WSH_UTIL_HEX_H
#define WSH_UTIL_HEX_H

#include <stddef.h>
#include <stdint.h>

/* The value of hex digit |c| (either case), or -1. */
static inline int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Exactly |len| (1 to 16) hex digits at |s| as a number: 0, or -1 when
 * |len| is out of range or a character is not a hex digit.
 */
static inline int
hex_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	int d;

	if (len == 0 || len > 16)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if ((d = hex_digit((unsigned char)s[i])) < 0)
			return -1;
		v = v << 4 | (unsigned)d;
	}
	*out = v;
	return 0;
}

#endif
