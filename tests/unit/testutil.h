/* Helpers shared by the unit tests: a growable log, frames, a runner. */
#ifndef WSH_TESTS_TESTUTIL_H
#define WSH_TESTS_TESTUTIL_H

#include <check.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"

/* The masking key of the RFC 6455 5.7 examples. */
#define TU_MASK		((const uint8_t[4]){ 0x37, 0xfa, 0x21, 0x3d })

/* Seconds a test case may run; sanitizer builds are slow. */
#define TU_TIMEOUT	120

/* A growable byte string, used to log events and compare runs. */
struct tu_buf {
	uint8_t		*p;
	size_t		 len;
	size_t		 cap;
};

static inline void
tu_buf_add(struct tu_buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		ck_assert_ptr_nonnull(b->p);
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	/* Keep it NUL-terminated so a failing comparison prints sensibly. */
	b->p[b->len] = '\0';
}

static inline void tu_buf_addf(struct tu_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline void
tu_buf_addf(struct tu_buf *b, const char *fmt, ...)
{
	char	 tmp[512];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	ck_assert(n >= 0 && (size_t)n < sizeof(tmp));
	tu_buf_add(b, tmp, (size_t)n);
}

static inline void
tu_buf_free(struct tu_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static inline int
tu_buf_eq(const struct tu_buf *a, const struct tu_buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* A heap copy of exactly |n| bytes, so ASan catches reads past the end. */
static inline uint8_t *
tu_dup(const void *p, size_t n)
{
	uint8_t	*c = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(c);
	if (n > 0)
		memcpy(c, p, n);
	return c;
}

/*
 * Append one frame to |b|: header from the encoder, payload copied and,
 * when |mask| is given, masked as a client would.
 */
static inline void
tu_frame(struct tu_buf *b, int fin, unsigned rsv, unsigned opcode,
    const void *payload, size_t len, const uint8_t *mask)
{
	uint8_t	 hdr[WS_HEADER_MAX];
	uint8_t	 pos = 0;
	size_t	 hl, start;

	hl = ws_frame_header_encode(hdr, fin, rsv, opcode, len, mask);
	tu_buf_add(b, hdr, hl);
	start = b->len;
	tu_buf_add(b, payload, len);
	if (mask != NULL)
		ws_mask(b->p + start, len, mask, &pos);
}

/* A masked client frame, the common case for a server-side session. */
static inline void
tu_cframe(struct tu_buf *b, int fin, unsigned opcode, const void *payload,
    size_t len)
{
	tu_frame(b, fin, 0, opcode, payload, len, TU_MASK);
}

/*
 * Split points for feeding |len| bytes: |k| = 0 means the whole buffer,
 * 1..len-1 split there, len means byte by byte. Returns the end of the
 * piece that starts at |off|.
 */
static inline size_t
tu_piece_end(size_t len, size_t k, size_t off)
{
	if (k == 0 || k >= len)
		return k == len && len > 0 ? off + 1 : len;
	return off < k ? k : len;
}

/* Run a Check suite and turn its result into an exit status. */
static inline int
tu_run(Suite *s)
{
	SRunner	*sr = srunner_create(s);
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
