/* Incremental UTF-8 validation that fails at the first invalid byte. */
#ifndef WSH_PROTO_UTF8_H
#define WSH_PROTO_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * The validator state is one small integer kept by the caller across calls,
 * so a text message split into fragments (or TCP reads) is checked piece by
 * piece and rejected as soon as a byte cannot start or continue a valid
 * sequence (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
 */
#define UTF8_ACCEPT	0	/* at a character boundary */
#define UTF8_REJECT	0xff	/* invalid; sticky */

/*
 * Validate |len| bytes of |s| continuing from |*state|. Returns the new
 * state: UTF8_ACCEPT, UTF8_REJECT, or another value meaning "inside a
 * sequence" (valid so far, more bytes needed).
 */
uint8_t	utf8_validate(uint8_t *state, const uint8_t *s, size_t len);

/* Whether the whole of |s| is valid UTF-8. */
int	utf8_is_valid(const uint8_t *s, size_t len);

#endif
