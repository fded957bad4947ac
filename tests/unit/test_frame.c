/* Tests of the frame codec: RFC 6455 vectors at every split, each error. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"
#include "testutil.h"

/*
 * Parse |len| bytes fed in pieces (see tu_piece_end) and log the events as
 * text: "[H fin rsv op len]" for a header, the payload bytes as they come
 * (so chunks merge whatever the split), "[E]" at a frame end and "[X code]"
 * on error. Runs that see the same frames produce the same log.
 */
static void
frame_log(const uint8_t *in, size_t len, size_t k, enum ws_role role,
    uint64_t max_frame, uint8_t rsv_allowed, struct tu_buf *log)
{
	struct ws_frame_parser	 p;
	struct ws_frame_event	 ev;
	uint8_t			*buf = tu_dup(in, len);
	const char		*reason;
	size_t			 off = 0, end, n;
	uint16_t		 code;

	ws_frame_parser_init(&p, role, max_frame);
	p.rsv_allowed = rsv_allowed;
	for (;;) {
		end = tu_piece_end(len, k, off);
		for (;;) {
			n = ws_frame_parse(&p, buf + off, end - off, &ev);
			ck_assert_uint_le(n, end - off);
			if (ev.type == WS_FEV_PAYLOAD) {
				ck_assert_ptr_eq(ev.data, buf + off);
				ck_assert_uint_eq(ev.len, n);
				ck_assert_uint_gt(n, 0);
			}
			off += n;
			if (ev.type == WS_FEV_NONE)
				break;
			switch (ev.type) {
			case WS_FEV_HEADER:
				tu_buf_addf(log, "[H %u %u %u %llu]", p.fin,
				    p.rsv, p.opcode,
				    (unsigned long long)p.remaining);
				break;
			case WS_FEV_PAYLOAD:
				tu_buf_add(log, ev.data, ev.len);
				break;
			case WS_FEV_END:
				tu_buf_addf(log, "[E]");
				break;
			default:
				ck_assert_int_eq(ev.type, WS_FEV_ERROR);
				code = ws_frame_parser_error(&p, &reason);
				ck_assert_ptr_nonnull(reason);
				tu_buf_addf(log, "[X %u]", code);
				/* The error is sticky. */
				n = ws_frame_parse(&p, buf, len, &ev);
				ck_assert_uint_eq(n, 0);
				ck_assert_int_eq(ev.type, WS_FEV_ERROR);
				free(buf);
				return;
			}
		}
		/* More input needed means all of this piece was taken. */
		ck_assert_uint_eq(off, end);
		if (end >= len)
			break;
	}
	free(buf);
}

/* Assert that every way of splitting |in| gives |expect|. */
static void
frame_check_splits(const uint8_t *in, size_t len, enum ws_role role,
    uint64_t max_frame, uint8_t rsv_allowed, const struct tu_buf *expect,
    size_t stride)
{
	struct tu_buf	 log = { 0 };
	size_t		 k;

	for (k = 0; k <= len; k++) {
		/* Long inputs: every offset near the ends, a stride between. */
		if (stride > 1 && k > 64 && k + 64 < len && k % stride != 0)
			continue;
		log.len = 0;
		frame_log(in, len, k, role, max_frame, rsv_allowed, &log);
		if (!tu_buf_eq(&log, expect))
			ck_abort_msg("split %zu of %zu: got \"%s\", want \"%s\"",
			    k, len, log.p, expect->p);
	}
	tu_buf_free(&log);
}

/* Expected log of one complete frame. */
static void
expect_frame(struct tu_buf *e, unsigned fin, unsigned rsv, unsigned op,
    const void *payload, size_t len)
{
	tu_buf_addf(e, "[H %u %u %u %zu]", fin, rsv, op, len);
	tu_buf_add(e, payload, len);
	tu_buf_addf(e, "[E]");
}

START_TEST(rfc_single_unmasked)
{
	static const uint8_t in[] = { 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
	struct tu_buf e = { 0 };

	expect_frame(&e, 1, 0, WS_OP_TEXT, "Hello", 5);
	frame_check_splits(in, sizeof(in), WS_ROLE_CLIENT, 0, 0, &e, 1);
	tu_buf_free(&e);
}
END_TEST

START_TEST(rfc_single_masked)
{
	static const uint8_t in[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
	    0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	struct tu_buf e = { 0 };

	expect_frame(&e, 1, 0, WS_OP_TEXT, "Hello", 5);
	frame_check_splits(in, sizeof(in), WS_ROLE_SERVER, 0, 0, &e, 1);
	tu_buf_free(&e);
}
END_TEST

START_TEST(rfc_fragmented)
{
	static const uint8_t in[] = { 0x01, 0x03, 0x48, 0x65, 0x6c,
	    0x80, 0x02, 0x6c, 0x6f };
	struct tu_buf e = { 0 };

	expect_frame(&e, 0, 0, WS_OP_TEXT, "Hel", 3);
	expect_frame(&e, 1, 0, WS_OP_CONT, "lo", 2);
	frame_check_splits(in, sizeof(in), WS_ROLE_CLIENT, 0, 0, &e, 1);
	tu_buf_free(&e);
}
END_TEST

START_TEST(rfc_ping_pong)
{
	static const uint8_t ping[] = { 0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c,
	    0x6f };
	static const uint8_t pong[] = { 0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
	    0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	struct tu_buf e = { 0 };

	expect_frame(&e, 1, 0, WS_OP_PING, "Hello", 5);
	frame_check_splits(ping, sizeof(ping), WS_ROLE_CLIENT, 0, 0, &e, 1);
	e.len = 0;
	expect_frame(&e, 1, 0, WS_OP_PONG, "Hello", 5);
	frame_check_splits(pong, sizeof(pong), WS_ROLE_SERVER, 0, 0, &e, 1);
	tu_buf_free(&e);
}
END_TEST

/* A binary frame of |n| bytes in the RFC's 16- or 64-bit length form. */
static void
big_binary(size_t n, const uint8_t *hdr, size_t hl, size_t stride)
{
	struct tu_buf	 in = { 0 }, e = { 0 };
	uint8_t		*payload = malloc(n);
	size_t		 i;

	ck_assert_ptr_nonnull(payload);
	for (i = 0; i < n; i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	tu_buf_add(&in, hdr, hl);
	tu_buf_add(&in, payload, n);
	expect_frame(&e, 1, 0, WS_OP_BINARY, payload, n);
	frame_check_splits(in.p, in.len, WS_ROLE_CLIENT, 0, 0, &e, stride);

	/* The same frame masked, as a server receives it. */
	in.len = 0;
	tu_frame(&in, 1, 0, WS_OP_BINARY, payload, n, TU_MASK);
	ck_assert_mem_eq(in.p + 2, hdr + 2, hl - 2);
	frame_check_splits(in.p, in.len, WS_ROLE_SERVER, 0, 0, &e, stride);
	free(payload);
	tu_buf_free(&in);
	tu_buf_free(&e);
}

START_TEST(rfc_binary_256)
{
	static const uint8_t hdr[] = { 0x82, 0x7e, 0x01, 0x00 };

	big_binary(256, hdr, sizeof(hdr), 1);
}
END_TEST

START_TEST(rfc_binary_64k)
{
	static const uint8_t hdr[] = { 0x82, 0x7f, 0x00, 0x00, 0x00, 0x00,
	    0x00, 0x01, 0x00, 0x00 };

	/* Every offset would be quadratic in 64 KiB; see frame_check_splits. */
	big_binary(65536, hdr, sizeof(hdr), 499);
}
END_TEST

START_TEST(zero_length)
{
	static const uint8_t plain[] = { 0x81, 0x00, 0x82, 0x00 };
	static const uint8_t masked[] = { 0x89, 0x80, 1, 2, 3, 4 };
	struct tu_buf e = { 0 };

	/* HEADER then END, never an empty PAYLOAD. */
	tu_buf_addf(&e, "[H 1 0 1 0][E][H 1 0 2 0][E]");
	frame_check_splits(plain, sizeof(plain), WS_ROLE_CLIENT, 0, 0, &e, 1);
	e.len = 0;
	tu_buf_addf(&e, "[H 1 0 9 0][E]");
	frame_check_splits(masked, sizeof(masked), WS_ROLE_SERVER, 0, 0, &e, 1);
	tu_buf_free(&e);
}
END_TEST

START_TEST(many_frames)
{
	struct tu_buf	 in = { 0 }, e = { 0 };
	uint8_t		 payload[300];
	size_t		 i;

	memset(payload, 'x', sizeof(payload));
	for (i = 0; i < 6; i++) {
		size_t n = i * 50;

		tu_frame(&in, i & 1, 0, i ? WS_OP_CONT : WS_OP_BINARY,
		    payload, n, TU_MASK);
		expect_frame(&e, i & 1, 0, i ? WS_OP_CONT : WS_OP_BINARY,
		    payload, n);
		tu_frame(&in, 1, 0, WS_OP_PING, "p", 1, TU_MASK);
		expect_frame(&e, 1, 0, WS_OP_PING, "p", 1);
	}
	frame_check_splits(in.p, in.len, WS_ROLE_SERVER, 0, 0, &e, 1);
	tu_buf_free(&in);
	tu_buf_free(&e);
}
END_TEST

/* One bad input: every split must give |prefix| events and then |code|. */
struct bad_frame {
	const char	*name;
	uint8_t		 in[16];
	size_t		 len;
	enum ws_role	 role;
	uint64_t	 max_frame;
	unsigned	 code;
};

static const struct bad_frame bad_frames[] = {
	{ "16-bit length for 125", { 0x82, 0x7e, 0x00, 0x7d }, 4,
	    WS_ROLE_CLIENT, 0, 1002 },
	{ "16-bit length for 0", { 0x82, 0x7e, 0x00, 0x00 }, 4,
	    WS_ROLE_CLIENT, 0, 1002 },
	{ "64-bit length for 65535", { 0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff,
	    0xff }, 10, WS_ROLE_CLIENT, 0, 1002 },
	{ "64-bit length for 5", { 0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 5 }, 10,
	    WS_ROLE_CLIENT, 0, 1002 },
	{ "64-bit length with MSB", { 0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0,
	    0 }, 10, WS_ROLE_CLIENT, 0, 1002 },
	{ "all-ones 64-bit length", { 0x82, 0x7f, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff }, 10, WS_ROLE_CLIENT, 0, 1002 },
	{ "opcode 3", { 0x83, 0x00 }, 2, WS_ROLE_CLIENT, 0, 1002 },
	{ "opcode 4", { 0x84, 0x00 }, 2, WS_ROLE_CLIENT, 0, 1002 },
	{ "opcode 5", { 0x85, 0x00 }, 2, WS_ROLE_CLIENT, 0, 1002 },
	{ "opcode 6", { 0x86, 0x00 }, 2, WS_ROLE_CLIENT, 0, 1002 },
	{ "opcode 7", { 0x87, 0x00 }, 2, WS_ROLE_CLIENT, 0, 1002 },
	{ "opcode b", { 0x8b, 0x00 }, 2, WS_ROLE_CLIENT, 0, 1002 },
	{ "opcode c", { 0x8c, 0x00 }, 2, WS_ROLE_CLIENT, 0, 1002 },
	{ "opcode d", { 0x8d, 0x00 }, 2, WS_ROLE_CLIENT, 0, 1002 },
	{ "opcode e", { 0x8e, 0x00 }, 2, WS_ROLE_CLIENT, 0, 1002 },
	{ "opcode f", { 0x8f, 0x00 }, 2, WS_ROLE_CLIENT, 0, 1002 },
	{ "RSV1", { 0xc1, 0x00 }, 2, WS_ROLE_CLIENT, 0, 1002 },
	{ "RSV2", { 0xa1, 0x00 }, 2, WS_ROLE_CLIENT, 0, 1002 },
	{ "RSV3", { 0x91, 0x00 }, 2, WS_ROLE_CLIENT, 0, 1002 },
	{ "ping without FIN", { 0x09, 0x00 }, 2, WS_ROLE_CLIENT, 0, 1002 },
	{ "close without FIN", { 0x08, 0x00 }, 2, WS_ROLE_CLIENT, 0, 1002 },
	{ "ping of 126", { 0x89, 0x7e, 0x00, 0x7e }, 4, WS_ROLE_CLIENT, 0,
	    1002 },
	{ "pong of 127 form", { 0x8a, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0 }, 10,
	    WS_ROLE_CLIENT, 0, 1002 },
	{ "unmasked to server", { 0x81, 0x01, 'a' }, 3, WS_ROLE_SERVER, 0,
	    1002 },
	{ "masked to client", { 0x81, 0x81, 1, 2, 3, 4, 'a' }, 7,
	    WS_ROLE_CLIENT, 0, 1002 },
	{ "frame over max_frame", { 0x82, 0x65 }, 2, WS_ROLE_CLIENT, 100,
	    1009 },
	{ "16-bit frame over max_frame", { 0x82, 0x7e, 0x01, 0x00 }, 4,
	    WS_ROLE_CLIENT, 255, 1009 },
};

START_TEST(errors)
{
	const struct bad_frame	*b = &bad_frames[_i];
	struct tu_buf		 e = { 0 };

	tu_buf_addf(&e, "[X %u]", b->code);
	frame_check_splits(b->in, b->len, b->role, b->max_frame, 0, &e, 1);
	tu_buf_free(&e);
}
END_TEST

START_TEST(error_reasons)
{
	struct ws_frame_parser	 p;
	struct ws_frame_event	 ev;
	uint8_t			 in[16];
	const char		*reason;
	size_t			 i;

	for (i = 0; i < sizeof(bad_frames) / sizeof(bad_frames[0]); i++) {
		memcpy(in, bad_frames[i].in, bad_frames[i].len);
		ws_frame_parser_init(&p, bad_frames[i].role,
		    bad_frames[i].max_frame);
		ck_assert_uint_eq(ws_frame_parser_error(&p, &reason), 0);
		ck_assert_ptr_null(reason);
		ws_frame_parse(&p, in, bad_frames[i].len, &ev);
		ck_assert_int_eq(ev.type, WS_FEV_ERROR);
		ck_assert_uint_eq(ws_frame_parser_error(&p, &reason),
		    bad_frames[i].code);
		ck_assert_ptr_nonnull(reason);
		ck_assert_uint_gt(strlen(reason), 5);
		ck_assert_int_eq(p.state, WS_FS_ERROR);
	}
}
END_TEST

START_TEST(limits_edges)
{
	struct tu_buf	 e = { 0 };
	uint8_t		 in[200];
	uint8_t		 payload[125];

	/* A frame of exactly max_frame, and a 125-byte ping, are fine. */
	memset(payload, 'z', sizeof(payload));
	in[0] = 0x82;
	in[1] = 100;
	memcpy(in + 2, payload, 100);
	expect_frame(&e, 1, 0, WS_OP_BINARY, payload, 100);
	frame_check_splits(in, 102, WS_ROLE_CLIENT, 100, 0, &e, 1);

	e.len = 0;
	in[0] = 0x89;
	in[1] = 125;
	memcpy(in + 2, payload, 125);
	expect_frame(&e, 1, 0, WS_OP_PING, payload, 125);
	frame_check_splits(in, 127, WS_ROLE_CLIENT, 0, 0, &e, 1);

	/* 126 in the 16-bit form is the smallest legal one. */
	e.len = 0;
	in[0] = 0x82;
	in[1] = 126;
	in[2] = 0;
	in[3] = 126;
	memset(in + 4, 'q', 126);
	tu_buf_addf(&e, "[H 1 0 2 126]");
	tu_buf_add(&e, in + 4, 126);
	tu_buf_addf(&e, "[E]");
	frame_check_splits(in, 130, WS_ROLE_CLIENT, 0, 0, &e, 1);
	tu_buf_free(&e);
}
END_TEST

START_TEST(rsv_negotiated)
{
	static const uint8_t in[] = { 0xc1, 0x01, 'a' };
	static const uint8_t in2[] = { 0xe1, 0x01, 'a' };
	struct tu_buf e = { 0 };

	/* RSV1 passes once an extension allows it; RSV2 still does not. */
	expect_frame(&e, 1, WS_RSV1, WS_OP_TEXT, "a", 1);
	frame_check_splits(in, sizeof(in), WS_ROLE_CLIENT, 0, WS_RSV1, &e, 1);
	e.len = 0;
	tu_buf_addf(&e, "[X 1002]");
	frame_check_splits(in2, sizeof(in2), WS_ROLE_CLIENT, 0, WS_RSV1, &e,
	    1);
	tu_buf_free(&e);
}
END_TEST

START_TEST(error_before_rest_of_header)
{
	struct ws_frame_parser	 p;
	struct ws_frame_event	 ev;
	uint8_t			 in[2] = { 0x83, 0xfe };

	/* A bad opcode fails on the two fixed bytes alone. */
	ws_frame_parser_init(&p, WS_ROLE_SERVER, 0);
	ws_frame_parse(&p, in, 2, &ev);
	ck_assert_int_eq(ev.type, WS_FEV_ERROR);
}
END_TEST

START_TEST(header_size)
{
	ck_assert_uint_eq(ws_frame_header_size(0, 0), 2);
	ck_assert_uint_eq(ws_frame_header_size(125, 0), 2);
	ck_assert_uint_eq(ws_frame_header_size(126, 0), 4);
	ck_assert_uint_eq(ws_frame_header_size(65535, 0), 4);
	ck_assert_uint_eq(ws_frame_header_size(65536, 0), 10);
	ck_assert_uint_eq(ws_frame_header_size(0, 1), 6);
	ck_assert_uint_eq(ws_frame_header_size(126, 1), 8);
	ck_assert_uint_eq(ws_frame_header_size(1ULL << 40, 1), 14);
}
END_TEST

START_TEST(header_encode)
{
	static const uint8_t hello[] = { 0x81, 0x05 };
	static const uint8_t b256[] = { 0x82, 0x7e, 0x01, 0x00 };
	static const uint8_t b64k[] = { 0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0 };
	static const uint8_t masked[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d };
	static const uint8_t frag[] = { 0x01, 0x03 };
	static const uint8_t rsv[] = { 0xc2, 0x00 };
	uint8_t out[WS_HEADER_MAX];

	ck_assert_uint_eq(ws_frame_header_encode(out, 1, 0, WS_OP_TEXT, 5,
	    NULL), 2);
	ck_assert_mem_eq(out, hello, 2);
	ck_assert_uint_eq(ws_frame_header_encode(out, 1, 0, WS_OP_BINARY,
	    256, NULL), 4);
	ck_assert_mem_eq(out, b256, 4);
	ck_assert_uint_eq(ws_frame_header_encode(out, 1, 0, WS_OP_BINARY,
	    65536, NULL), 10);
	ck_assert_mem_eq(out, b64k, 10);
	ck_assert_uint_eq(ws_frame_header_encode(out, 1, 0, WS_OP_TEXT, 5,
	    TU_MASK), 6);
	ck_assert_mem_eq(out, masked, 6);
	ck_assert_uint_eq(ws_frame_header_encode(out, 0, 0, WS_OP_TEXT, 3,
	    NULL), 2);
	ck_assert_mem_eq(out, frag, 2);
	ck_assert_uint_eq(ws_frame_header_encode(out, 1, WS_RSV1,
	    WS_OP_BINARY, 0, NULL), 2);
	ck_assert_mem_eq(out, rsv, 2);
}
END_TEST

START_TEST(encode_parse_roundtrip)
{
	static const uint64_t lengths[] = { 0, 1, 125, 126, 127, 65535, 65536,
	    (1ULL << 32) + 5, (1ULL << 63) - 1 };
	struct ws_frame_parser	 p;
	struct ws_frame_event	 ev;
	uint8_t			 out[WS_HEADER_MAX];
	size_t			 i, n;

	for (i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		n = ws_frame_header_encode(out, 1, 0, WS_OP_BINARY,
		    lengths[i], TU_MASK);
		ck_assert_uint_eq(n, ws_frame_header_size(lengths[i], 1));
		ws_frame_parser_init(&p, WS_ROLE_SERVER, 0);
		ck_assert_uint_eq(ws_frame_parse(&p, out, n, &ev), n);
		ck_assert_int_eq(ev.type, WS_FEV_HEADER);
		ck_assert(p.remaining == lengths[i]);
		ck_assert_mem_eq(p.mask, TU_MASK, 4);
		ck_assert_uint_eq(p.opcode, WS_OP_BINARY);
	}
}
END_TEST

START_TEST(mask_word_at_a_time)
{
	uint8_t		 a[80], b[80], c[80];
	uint8_t		 pa, pb;
	size_t		 len, i, cut;
	unsigned	 start;

	for (start = 0; start < 4; start++) {
		for (len = 0; len <= 70; len++) {
			for (i = 0; i < len; i++)
				a[i] = b[i] = c[i] = (uint8_t)(i * 13 + len);
			/* Reference: one byte at a time. */
			for (i = 0; i < len; i++)
				b[i] ^= TU_MASK[(start + i) & 3];
			/* Unaligned start, to exercise the word loop. */
			memmove(a + 3, a, len);
			pa = (uint8_t)start;
			ws_mask(a + 3, len, TU_MASK, &pa);
			ck_assert_mem_eq(a + 3, b, len);
			ck_assert_uint_eq(pa, (start + len) & 3);
			/* In two pieces, at every cut. */
			for (cut = 0; cut <= len; cut++) {
				memcpy(a, c, len);
				pb = (uint8_t)start;
				ws_mask(a, cut, TU_MASK, &pb);
				ws_mask(a + cut, len - cut, TU_MASK, &pb);
				ck_assert_mem_eq(a, b, len);
			}
			/* Masking twice gives the original back. */
			pb = (uint8_t)start;
			ws_mask(b, len, TU_MASK, &pb);
			ck_assert_mem_eq(b, c, len);
		}
	}
}
END_TEST

START_TEST(need_more_input)
{
	struct ws_frame_parser	 p;
	struct ws_frame_event	 ev;
	uint8_t			 in[1] = { 0x81 };

	ws_frame_parser_init(&p, WS_ROLE_CLIENT, 0);
	ck_assert_uint_eq(ws_frame_parse(&p, in, 0, &ev), 0);
	ck_assert_int_eq(ev.type, WS_FEV_NONE);
	ck_assert_uint_eq(ws_frame_parse(&p, in, 1, &ev), 1);
	ck_assert_int_eq(ev.type, WS_FEV_NONE);
	ck_assert_uint_eq(ws_frame_parse(&p, in, 0, &ev), 0);
	ck_assert_int_eq(ev.type, WS_FEV_NONE);
}
END_TEST

static Suite *
frame_suite(void)
{
	Suite	*s = suite_create("frame");
	TCase	*tc;

	tc = tcase_create("rfc6455-5.7");
	tcase_set_timeout(tc, TU_TIMEOUT);
	tcase_add_test(tc, rfc_single_unmasked);
	tcase_add_test(tc, rfc_single_masked);
	tcase_add_test(tc, rfc_fragmented);
	tcase_add_test(tc, rfc_ping_pong);
	tcase_add_test(tc, rfc_binary_256);
	tcase_add_test(tc, rfc_binary_64k);
	tcase_add_test(tc, zero_length);
	tcase_add_test(tc, many_frames);
	tcase_add_test(tc, need_more_input);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, TU_TIMEOUT);
	tcase_add_loop_test(tc, errors, 0,
	    (int)(sizeof(bad_frames) / sizeof(bad_frames[0])));
	tcase_add_test(tc, error_reasons);
	tcase_add_test(tc, limits_edges);
	tcase_add_test(tc, rsv_negotiated);
	tcase_add_test(tc, error_before_rest_of_header);
	suite_add_tcase(s, tc);

	tc = tcase_create("encoder");
	tcase_add_test(tc, header_size);
	tcase_add_test(tc, header_encode);
	tcase_add_test(tc, encode_parse_roundtrip);
	tcase_add_test(tc, mask_word_at_a_time);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(frame_suite());
}
