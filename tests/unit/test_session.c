/* Tests of the session: fragments, control frames, close handshake, limits. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"
#include "proto/session.h"
#include "proto/utf8.h"
#include "testutil.h"

/* What the callbacks saw, as a log comparable across splits. */
struct rec {
	struct tu_buf		 log;
	struct ws_session	*s;
	const uint8_t		*in_lo;		/* the piece being fed */
	const uint8_t		*in_hi;
	int			 nmsg;
	int			 ndirect;	/* messages pointing into input */
	int			 stop_at;	/* on_message fails on this one */
	int			 close_in_msg;	/* close from inside on_message */
	size_t			 cap_seen;	/* msg_cap during delivery */
};

static int
rec_message(void *arg, unsigned opcode, uint8_t *data, size_t len)
{
	struct rec	*r = arg;

	ck_assert_ptr_nonnull(data);
	r->nmsg++;
	if (data >= r->in_lo && data < r->in_hi) {
		r->ndirect++;
		/* The zero-copy path allocates nothing. */
		ck_assert_ptr_null(r->s->msg_buf);
	}
	r->cap_seen = r->s->msg_cap;
	tu_buf_addf(&r->log, "[M %u %zu]", opcode, len);
	tu_buf_add(&r->log, data, len);
	if (r->close_in_msg)
		ws_session_close(r->s, 1000, NULL);
	return r->nmsg == r->stop_at ? -1 : 0;
}

static void
rec_ping(void *arg, const uint8_t *data, size_t len)
{
	struct rec	*r = arg;

	tu_buf_addf(&r->log, "[PING %zu]", len);
	tu_buf_add(&r->log, data, len);
}

static void
rec_pong(void *arg, const uint8_t *data, size_t len)
{
	struct rec	*r = arg;

	tu_buf_addf(&r->log, "[PONG %zu]", len);
	tu_buf_add(&r->log, data, len);
}

static void
rec_close(void *arg, uint16_t code, const char *reason, size_t reason_len)
{
	struct rec	*r = arg;

	tu_buf_addf(&r->log, "[C %u %zu]", code, reason_len);
	tu_buf_add(&r->log, reason, reason_len);
}

static void
rec_send(void *arg, unsigned opcode, const uint8_t *data, size_t len)
{
	struct rec	*r = arg;

	ck_assert_uint_le(len, WS_CONTROL_MAX);
	tu_buf_addf(&r->log, "[S %u %zu]", opcode, len);
	tu_buf_add(&r->log, data, len);
}

static const struct ws_session_callbacks rec_cb = {
	.on_message = rec_message,
	.on_ping = rec_ping,
	.on_pong = rec_pong,
	.on_close = rec_close,
	.send_control = rec_send,
};

static struct ws_session_config
cfg_default(void)
{
	struct ws_session_config c;

	memset(&c, 0, sizeof(c));
	c.role = WS_ROLE_SERVER;
	c.auto_pong = 1;
	return c;
}

/*
 * Feed |in| in pieces (see tu_piece_end) to a fresh session and log what
 * happened, ending with "[ERR code]" on failure and the final state.
 */
static void
sess_run(const struct ws_session_config *cfg, const uint8_t *in, size_t len,
    size_t k, struct rec *r)
{
	struct ws_session	 s;
	uint8_t			*buf = tu_dup(in, len);
	size_t			 off = 0, end;

	ws_session_init(&s, cfg, &rec_cb, r);
	r->s = &s;
	while (off < len) {
		end = tu_piece_end(len, k, off);
		r->in_lo = buf + off;
		r->in_hi = buf + end;
		if (ws_session_feed(&s, buf + off, end - off) == -1) {
			ck_assert_ptr_nonnull(s.err_reason);
			tu_buf_addf(&r->log, "[ERR %u]", s.err_code);
			/* Errors are sticky and leave no buffer behind. */
			ck_assert_int_eq(ws_session_feed(&s, buf, len), -1);
			ck_assert_ptr_null(s.msg_buf);
			break;
		}
		off = end;
	}
	tu_buf_addf(&r->log, "[state %d]", (int)s.state);
	ws_session_reset(&s);
	ck_assert_ptr_null(s.msg_buf);
	r->s = NULL;
	free(buf);
}

/* Every split of |in| must produce exactly |expect|. */
static void
sess_check_splits(const struct ws_session_config *cfg, const uint8_t *in,
    size_t len, const struct tu_buf *expect)
{
	struct rec	 r;
	size_t		 k;

	for (k = 0; k <= len; k++) {
		memset(&r, 0, sizeof(r));
		sess_run(cfg, in, len, k, &r);
		if (!tu_buf_eq(&r.log, expect))
			ck_abort_msg("split %zu of %zu: got \"%s\", want \"%s\"",
			    k, len, r.log.p, expect->p);
		tu_buf_free(&r.log);
	}
}

/* Shorthand: the expected log as a C string (no NULs in it). */
static void
sess_expect(const struct ws_session_config *cfg, const struct tu_buf *in,
    const char *expect)
{
	struct tu_buf	 e = { 0 };

	tu_buf_add(&e, expect, strlen(expect));
	sess_check_splits(cfg, in->p, in->len, &e);
	tu_buf_free(&e);
}

START_TEST(single_text)
{
	struct ws_session_config	 cfg = cfg_default();
	struct tu_buf			 in = { 0 };

	tu_cframe(&in, 1, WS_OP_TEXT, "Hello", 5);
	sess_expect(&cfg, &in, "[M 1 5]Hello[state 0]");
	tu_buf_free(&in);
}
END_TEST

START_TEST(rfc_masked_hello)
{
	static const uint8_t raw[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
	    0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	struct ws_session_config	 cfg = cfg_default();
	struct tu_buf			 e = { 0 };

	tu_buf_addf(&e, "[M 1 5]Hello[state 0]");
	sess_check_splits(&cfg, raw, sizeof(raw), &e);
	tu_buf_free(&e);
}
END_TEST

START_TEST(empty_messages)
{
	struct ws_session_config	 cfg = cfg_default();
	struct tu_buf			 in = { 0 };

	tu_cframe(&in, 1, WS_OP_TEXT, "", 0);
	tu_cframe(&in, 1, WS_OP_BINARY, "", 0);
	tu_cframe(&in, 0, WS_OP_TEXT, "", 0);
	tu_cframe(&in, 1, WS_OP_CONT, "", 0);
	sess_expect(&cfg, &in, "[M 1 0][M 2 0][M 1 0][state 0]");
	tu_buf_free(&in);
}
END_TEST

START_TEST(fragments_with_ping)
{
	struct ws_session_config	 cfg = cfg_default();
	struct tu_buf			 in = { 0 };

	tu_cframe(&in, 0, WS_OP_TEXT, "Hel", 3);
	tu_cframe(&in, 1, WS_OP_PING, "ping", 4);
	tu_cframe(&in, 0, WS_OP_CONT, "l", 1);
	tu_cframe(&in, 1, WS_OP_PONG, "pong", 4);
	tu_cframe(&in, 1, WS_OP_CONT, "o", 1);
	tu_cframe(&in, 1, WS_OP_BINARY, "\x01\x02", 2);
	sess_expect(&cfg, &in, "[S 10 4]ping[PING 4]ping[PONG 4]pong"
	    "[M 1 5]Hello[M 2 2]\x01\x02[state 0]");
	tu_buf_free(&in);
}
END_TEST

START_TEST(utf8_across_fragments)
{
	struct ws_session_config	 cfg = cfg_default();
	struct tu_buf			 in = { 0 };

	/* A character split between fragments is fine. */
	tu_cframe(&in, 0, WS_OP_TEXT, "\xce", 1);
	tu_cframe(&in, 0, WS_OP_CONT, "\xba\xe1", 2);
	tu_cframe(&in, 1, WS_OP_CONT, "\xbd\xb9", 2);
	sess_expect(&cfg, &in, "[M 1 5]\xce\xba\xe1\xbd\xb9[state 0]");
	tu_buf_free(&in);
}
END_TEST

START_TEST(protocol_errors)
{
	struct ws_session_config	 cfg = cfg_default();
	struct tu_buf			 in = { 0 };

	tu_cframe(&in, 1, WS_OP_CONT, "x", 1);
	sess_expect(&cfg, &in, "[ERR 1002][state 0]");

	in.len = 0;
	tu_cframe(&in, 0, WS_OP_TEXT, "a", 1);
	tu_cframe(&in, 1, WS_OP_TEXT, "b", 1);
	sess_expect(&cfg, &in, "[ERR 1002][state 0]");

	in.len = 0;
	tu_cframe(&in, 0, WS_OP_BINARY, "a", 1);
	tu_cframe(&in, 1, WS_OP_PING, "", 0);
	tu_cframe(&in, 0, WS_OP_BINARY, "b", 1);
	sess_expect(&cfg, &in, "[S 10 0][PING 0][ERR 1002][state 0]");

	/* A finished message frees the slot: a new one may start. */
	in.len = 0;
	tu_cframe(&in, 1, WS_OP_TEXT, "a", 1);
	tu_cframe(&in, 1, WS_OP_CONT, "b", 1);
	sess_expect(&cfg, &in, "[M 1 1]a[ERR 1002][state 0]");

	/* Frame-level errors come through with their code. */
	in.len = 0;
	tu_frame(&in, 1, 0, WS_OP_TEXT, "a", 1, NULL);
	sess_expect(&cfg, &in, "[ERR 1002][state 0]");
	in.len = 0;
	tu_frame(&in, 1, WS_RSV1, WS_OP_TEXT, "a", 1, TU_MASK);
	sess_expect(&cfg, &in, "[ERR 1002][state 0]");
	in.len = 0;
	tu_frame(&in, 1, 0, 0x3, "a", 1, TU_MASK);
	sess_expect(&cfg, &in, "[ERR 1002][state 0]");
	tu_buf_free(&in);
}
END_TEST

START_TEST(error_reason_propagates)
{
	struct ws_session_config	 cfg = cfg_default();
	struct ws_session		 s;
	struct rec			 r;
	const char			*reason;
	uint8_t				 in[] = { 0x81, 0x01, 'a' };

	memset(&r, 0, sizeof(r));
	ws_session_init(&s, &cfg, &rec_cb, &r);
	r.s = &s;
	ck_assert_int_eq(ws_session_feed(&s, in, sizeof(in)), -1);
	ck_assert_uint_eq(s.err_code, 1002);
	ck_assert_uint_eq(ws_frame_parser_error(&s.fp, &reason), 1002);
	ck_assert_ptr_eq(s.err_reason, reason);
	ws_session_reset(&s);
	tu_buf_free(&r.log);
}
END_TEST

START_TEST(bad_utf8)
{
	struct ws_session_config	 cfg = cfg_default();
	struct tu_buf			 in = { 0 };

	tu_cframe(&in, 1, WS_OP_TEXT, "ab\xed\xa0\x80", 5);
	sess_expect(&cfg, &in, "[ERR 1007][state 0]");
	/* Valid so far, but the message ends inside a character. */
	in.len = 0;
	tu_cframe(&in, 1, WS_OP_TEXT, "ab\xe2\x82", 4);
	sess_expect(&cfg, &in, "[ERR 1007][state 0]");
	in.len = 0;
	tu_cframe(&in, 0, WS_OP_TEXT, "\xf4", 1);
	tu_cframe(&in, 1, WS_OP_CONT, "\x90\x80\x80", 3);
	sess_expect(&cfg, &in, "[ERR 1007][state 0]");
	/* Binary messages are not checked. */
	in.len = 0;
	tu_cframe(&in, 1, WS_OP_BINARY, "\xff", 1);
	sess_expect(&cfg, &in, "[M 2 1]\xff[state 0]");
	tu_buf_free(&in);
}
END_TEST

/*
 * The feed must fail in the very call that carries the first bad byte,
 * not when the message ends: split everywhere and look at the first call.
 */
static void
check_fail_fast(const struct tu_buf *in, size_t bad)
{
	struct ws_session_config	 cfg = cfg_default();
	struct ws_session		 s;
	struct rec			 r;
	uint8_t				*buf;
	size_t				 k;
	int				 rc;

	for (k = 1; k <= in->len; k++) {
		memset(&r, 0, sizeof(r));
		buf = tu_dup(in->p, in->len);
		ws_session_init(&s, &cfg, &rec_cb, &r);
		r.s = &s;
		r.in_lo = buf;
		r.in_hi = buf + k;
		rc = ws_session_feed(&s, buf, k);
		if (k > bad) {
			ck_assert_int_eq(rc, -1);
			ck_assert_uint_eq(s.err_code, WS_CLOSE_BAD_DATA);
		} else
			ck_assert_int_eq(rc, 0);
		ws_session_reset(&s);
		tu_buf_free(&r.log);
		free(buf);
	}
}

START_TEST(fail_fast_utf8)
{
	struct tu_buf	 in = { 0 };
	size_t		 hl = 6;	/* a short masked header */

	/* In one frame, with bytes after the bad one still to come. */
	tu_cframe(&in, 1, WS_OP_TEXT, "hello\xff world", 12);
	check_fail_fast(&in, hl + 5);

	/* In a later fragment, completing a bad sequence. */
	in.len = 0;
	tu_cframe(&in, 0, WS_OP_TEXT, "abc\xed", 4);
	tu_cframe(&in, 0, WS_OP_CONT, "\xa0\x80 more text", 12);
	tu_cframe(&in, 1, WS_OP_CONT, "end", 3);
	check_fail_fast(&in, hl + 4 + hl);

	/* Mid-fragment of a fragment that is not the last. */
	in.len = 0;
	tu_cframe(&in, 0, WS_OP_TEXT, "abcd", 4);
	tu_cframe(&in, 0, WS_OP_CONT, "0123456789\xc0\x80", 12);
	tu_cframe(&in, 1, WS_OP_CONT, "end", 3);
	check_fail_fast(&in, hl + 4 + hl + 10);
	tu_buf_free(&in);
}
END_TEST

START_TEST(message_limit)
{
	struct ws_session_config	 cfg = cfg_default();
	struct tu_buf			 in = { 0 };

	cfg.max_message_size = 10;
	tu_cframe(&in, 1, WS_OP_BINARY, "0123456789", 10);
	sess_expect(&cfg, &in, "[M 2 10]0123456789[state 0]");
	in.len = 0;
	tu_cframe(&in, 1, WS_OP_BINARY, "0123456789a", 11);
	sess_expect(&cfg, &in, "[ERR 1009][state 0]");
	in.len = 0;
	tu_cframe(&in, 0, WS_OP_TEXT, "012345", 6);
	tu_cframe(&in, 1, WS_OP_PING, "p", 1);
	tu_cframe(&in, 1, WS_OP_CONT, "6789", 4);
	sess_expect(&cfg, &in, "[S 10 1]p[PING 1]p[M 1 10]0123456789[state 0]");
	in.len = 0;
	tu_cframe(&in, 0, WS_OP_TEXT, "012345", 6);
	tu_cframe(&in, 1, WS_OP_CONT, "6789a", 5);
	sess_expect(&cfg, &in, "[ERR 1009][state 0]");
	/* Control frames do not count towards the message. */
	cfg.max_message_size = 2;
	in.len = 0;
	tu_cframe(&in, 1, WS_OP_PING, "12345", 5);
	sess_expect(&cfg, &in, "[S 10 5]12345[PING 5]12345[state 0]");
	tu_buf_free(&in);
}
END_TEST

START_TEST(frame_limit)
{
	struct ws_session_config	 cfg = cfg_default();
	struct tu_buf			 in = { 0 };

	cfg.max_frame_size = 4;
	tu_cframe(&in, 0, WS_OP_TEXT, "0123", 4);
	tu_cframe(&in, 1, WS_OP_CONT, "4567", 4);
	sess_expect(&cfg, &in, "[M 1 8]01234567[state 0]");
	in.len = 0;
	tu_cframe(&in, 1, WS_OP_TEXT, "01234", 5);
	sess_expect(&cfg, &in, "[ERR 1009][state 0]");
	tu_buf_free(&in);
}
END_TEST

START_TEST(limit_before_payload)
{
	struct ws_session_config	 cfg = cfg_default();
	struct ws_session		 s;
	struct rec			 r;
	uint8_t				 hdr[WS_HEADER_MAX];
	size_t				 n;

	/* A huge announced length fails on the header, allocating nothing. */
	cfg.max_message_size = 1 << 20;
	memset(&r, 0, sizeof(r));
	ws_session_init(&s, &cfg, &rec_cb, &r);
	r.s = &s;
	n = ws_frame_header_encode(hdr, 1, 0, WS_OP_BINARY, 1ULL << 40,
	    TU_MASK);
	ck_assert_int_eq(ws_session_feed(&s, hdr, n), -1);
	ck_assert_uint_eq(s.err_code, WS_CLOSE_TOO_BIG);
	ck_assert_ptr_null(s.msg_buf);
	ws_session_reset(&s);
	tu_buf_free(&r.log);
}
END_TEST

/* Close codes on the wire: |valid| says whether the peer may send it. */
static const struct {
	unsigned	 code;
	int		 valid;
} close_codes[] = {
	{ 0, 0 }, { 999, 0 }, { 1000, 1 }, { 1001, 1 }, { 1002, 1 },
	{ 1003, 1 }, { 1004, 0 }, { 1005, 0 }, { 1006, 0 }, { 1007, 1 },
	{ 1008, 1 }, { 1009, 1 }, { 1010, 1 }, { 1011, 1 }, { 1012, 1 },
	{ 1013, 1 }, { 1014, 1 }, { 1015, 0 }, { 1016, 0 }, { 1100, 0 },
	{ 2000, 0 }, { 2999, 0 }, { 3000, 1 }, { 3999, 1 }, { 4000, 1 },
	{ 4999, 1 }, { 5000, 0 }, { 65535, 0 },
};

START_TEST(close_codes_table)
{
	struct ws_session_config	 cfg = cfg_default();
	struct tu_buf			 in = { 0 }, e = { 0 };
	unsigned			 code = close_codes[_i].code;
	uint8_t				 p[2];

	ck_assert_int_eq(ws_close_code_valid(code), close_codes[_i].valid);
	p[0] = (uint8_t)(code >> 8);
	p[1] = (uint8_t)code;
	tu_cframe(&in, 1, WS_OP_CLOSE, p, 2);
	if (close_codes[_i].valid) {
		tu_buf_addf(&e, "[S 8 2]");
		tu_buf_add(&e, p, 2);
		tu_buf_addf(&e, "[C %u 0][state %d]", code,
		    WS_SS_CLOSE_RECEIVED);
	} else
		tu_buf_addf(&e, "[ERR 1002][state 0]");
	sess_check_splits(&cfg, in.p, in.len, &e);
	tu_buf_free(&in);
	tu_buf_free(&e);
}
END_TEST

START_TEST(close_payloads)
{
	struct ws_session_config	 cfg = cfg_default();
	struct tu_buf			 in = { 0 };

	/* No payload: echo an empty close, report 1005. */
	tu_cframe(&in, 1, WS_OP_CLOSE, "", 0);
	sess_expect(&cfg, &in, "[S 8 0][C 1005 0][state 2]");
	/* One byte is not a code. */
	in.len = 0;
	tu_cframe(&in, 1, WS_OP_CLOSE, "\x03", 1);
	sess_expect(&cfg, &in, "[ERR 1002][state 0]");
	/* A reason is echoed only as the code. */
	in.len = 0;
	tu_cframe(&in, 1, WS_OP_CLOSE, "\x03\xe8" "bye \xce\xba", 8);
	sess_expect(&cfg, &in, "[S 8 2]\x03\xe8[C 1000 6]bye \xce\xba[state 2]");
	/* A reason that is not UTF-8. */
	in.len = 0;
	tu_cframe(&in, 1, WS_OP_CLOSE, "\x03\xe8" "a\xed\xa0\x80", 6);
	sess_expect(&cfg, &in, "[ERR 1007][state 0]");
	in.len = 0;
	tu_cframe(&in, 1, WS_OP_CLOSE, "\x03\xe8\xce", 3);
	sess_expect(&cfg, &in, "[ERR 1007][state 0]");
	tu_buf_free(&in);
}
END_TEST

START_TEST(input_after_close_ignored)
{
	struct ws_session_config	 cfg = cfg_default();
	struct tu_buf			 in = { 0 };

	tu_cframe(&in, 0, WS_OP_TEXT, "part", 4);
	tu_cframe(&in, 1, WS_OP_CLOSE, "\x03\xe9", 2);
	tu_cframe(&in, 1, WS_OP_TEXT, "late", 4);
	tu_cframe(&in, 1, WS_OP_PING, "late", 4);
	/* Even garbage after the close is not looked at. */
	tu_buf_add(&in, "\xff\xff\xff", 3);
	sess_expect(&cfg, &in, "[S 8 2]\x03\xe9[C 1001 0][state 2]");
	tu_buf_free(&in);
}
END_TEST

START_TEST(peer_close_state)
{
	struct ws_session_config	 cfg = cfg_default();
	struct ws_session		 s;
	struct rec			 r;
	struct tu_buf			 in = { 0 };

	memset(&r, 0, sizeof(r));
	ws_session_init(&s, &cfg, &rec_cb, &r);
	r.s = &s;
	ck_assert_int_eq(s.state, WS_SS_OPEN);
	ck_assert(ws_session_can_send(&s));
	tu_cframe(&in, 1, WS_OP_CLOSE, "\x03\xe8", 2);
	ck_assert_int_eq(ws_session_feed(&s, in.p, in.len), 0);
	ck_assert_int_eq(s.state, WS_SS_CLOSE_RECEIVED);
	ck_assert(!ws_session_can_send(&s));
	/* We have answered already: no second close. */
	ck_assert_int_eq(ws_session_close(&s, 1000, NULL), -1);
	in.len = 0;
	tu_cframe(&in, 1, WS_OP_TEXT, "x", 1);
	ck_assert_int_eq(ws_session_feed(&s, in.p, in.len), 0);
	ck_assert_str_eq((char *)r.log.p, "[S 8 2]\x03\xe8[C 1000 0]");
	ws_session_reset(&s);
	tu_buf_free(&in);
	tu_buf_free(&r.log);
}
END_TEST

START_TEST(our_close_state)
{
	struct ws_session_config	 cfg = cfg_default();
	struct ws_session		 s;
	struct rec			 r;
	struct tu_buf			 in = { 0 };

	memset(&r, 0, sizeof(r));
	ws_session_init(&s, &cfg, &rec_cb, &r);
	r.s = &s;
	ck_assert_int_eq(ws_session_close(&s, 1001, "bye"), 0);
	ck_assert_int_eq(s.state, WS_SS_CLOSE_SENT);
	ck_assert(!ws_session_can_send(&s));
	ck_assert_int_eq(ws_session_close(&s, 1000, NULL), -1);
	/* Messages still arrive; pings are no longer answered. */
	tu_cframe(&in, 1, WS_OP_TEXT, "x", 1);
	tu_cframe(&in, 1, WS_OP_PING, "p", 1);
	tu_cframe(&in, 1, WS_OP_CLOSE, "\x03\xe9", 2);
	tu_cframe(&in, 1, WS_OP_TEXT, "late", 4);
	r.in_lo = in.p;
	r.in_hi = in.p + in.len;
	ck_assert_int_eq(ws_session_feed(&s, in.p, in.len), 0);
	ck_assert_int_eq(s.state, WS_SS_CLOSED);
	ck_assert_str_eq((char *)r.log.p,
	    "[S 8 5]\x03\xe9" "bye[M 1 1]x[PING 1]p[C 1001 0]");
	ws_session_reset(&s);
	tu_buf_free(&in);
	tu_buf_free(&r.log);
}
END_TEST

START_TEST(close_without_code)
{
	struct ws_session_config	 cfg = cfg_default();
	struct ws_session		 s;
	struct rec			 r;

	memset(&r, 0, sizeof(r));
	ws_session_init(&s, &cfg, &rec_cb, &r);
	r.s = &s;
	ck_assert_int_eq(ws_session_close(&s, 0, "ignored"), 0);
	ck_assert_uint_eq(r.log.len, strlen("[S 8 0]"));
	ck_assert_str_eq((char *)r.log.p, "[S 8 0]");
	ws_session_reset(&s);
	tu_buf_free(&r.log);
}
END_TEST

START_TEST(close_reason_truncated)
{
	struct ws_session_config	 cfg = cfg_default();
	struct ws_session		 s;
	struct rec			 r;
	char				 reason[301];
	size_t				 i, plen;
	const uint8_t			*p;

	/* 150 two-byte characters: a cut at 123 bytes would split one. */
	for (i = 0; i < 300; i += 2) {
		reason[i] = '\xc3';
		reason[i + 1] = '\xa9';
	}
	reason[300] = '\0';
	memset(&r, 0, sizeof(r));
	ws_session_init(&s, &cfg, &rec_cb, &r);
	r.s = &s;
	ck_assert_int_eq(ws_session_close(&s, 1000, reason), 0);
	/* The log is "[S 8 n]" then the payload. */
	p = (const uint8_t *)strchr((char *)r.log.p, ']') + 1;
	plen = r.log.len - (size_t)(p - r.log.p);
	ck_assert_uint_le(plen, WS_CONTROL_MAX);
	ck_assert_uint_ge(plen, WS_CONTROL_MAX - 3);
	ck_assert_int_eq(utf8_is_valid(p + 2, plen - 2), 1);
	ws_session_reset(&s);
	tu_buf_free(&r.log);
}
END_TEST

START_TEST(ping_pong)
{
	struct ws_session_config	 cfg = cfg_default();
	struct tu_buf			 in = { 0 }, e = { 0 };
	uint8_t				 payload[125];
	size_t				 i;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 3);
	/* The pong carries the ping's payload, byte for byte. */
	tu_cframe(&in, 1, WS_OP_PING, payload, sizeof(payload));
	tu_buf_addf(&e, "[S 10 125]");
	tu_buf_add(&e, payload, sizeof(payload));
	tu_buf_addf(&e, "[PING 125]");
	tu_buf_add(&e, payload, sizeof(payload));
	tu_buf_addf(&e, "[state 0]");
	sess_check_splits(&cfg, in.p, in.len, &e);

	/* Without auto_pong the owner answers. */
	cfg.auto_pong = 0;
	in.len = 0;
	tu_cframe(&in, 1, WS_OP_PING, "abc", 3);
	tu_cframe(&in, 1, WS_OP_PONG, "def", 3);
	sess_expect(&cfg, &in, "[PING 3]abc[PONG 3]def[state 0]");
	tu_buf_free(&in);
	tu_buf_free(&e);
}
END_TEST

START_TEST(zero_copy)
{
	struct ws_session_config	 cfg = cfg_default();
	struct ws_session		 s;
	struct rec			 r;
	struct tu_buf			 in = { 0 };

	memset(&r, 0, sizeof(r));
	ws_session_init(&s, &cfg, &rec_cb, &r);
	r.s = &s;

	/* Two whole frames in one input: both delivered in place. */
	tu_cframe(&in, 1, WS_OP_TEXT, "one", 3);
	tu_cframe(&in, 1, WS_OP_BINARY, "two", 3);
	r.in_lo = in.p;
	r.in_hi = in.p + in.len;
	ck_assert_int_eq(ws_session_feed(&s, in.p, in.len), 0);
	ck_assert_int_eq(r.nmsg, 2);
	ck_assert_int_eq(r.ndirect, 2);
	ck_assert_ptr_null(s.msg_buf);

	/* A frame cut across inputs is copied, then freed. */
	in.len = 0;
	tu_cframe(&in, 1, WS_OP_TEXT, "three", 5);
	ck_assert_int_eq(ws_session_feed(&s, in.p, 8), 0);
	ck_assert_ptr_nonnull(s.msg_buf);
	r.in_lo = in.p + 8;
	r.in_hi = in.p + in.len;
	ck_assert_int_eq(ws_session_feed(&s, in.p + 8, in.len - 8), 0);
	ck_assert_int_eq(r.nmsg, 3);
	ck_assert_int_eq(r.ndirect, 2);
	ck_assert_ptr_null(s.msg_buf);
	ck_assert_uint_eq(s.msg_cap, 0);

	/* Fragments are copied even when all are present. */
	in.len = 0;
	tu_cframe(&in, 0, WS_OP_TEXT, "fo", 2);
	tu_cframe(&in, 1, WS_OP_CONT, "ur", 2);
	r.in_lo = in.p;
	r.in_hi = in.p + in.len;
	ck_assert_int_eq(ws_session_feed(&s, in.p, in.len), 0);
	ck_assert_int_eq(r.nmsg, 4);
	ck_assert_int_eq(r.ndirect, 2);
	ck_assert_ptr_null(s.msg_buf);
	ck_assert_str_eq((char *)r.log.p, "[M 1 3]one[M 2 3]two[M 1 5]three"
	    "[M 1 4]four");
	ws_session_reset(&s);
	tu_buf_free(&in);
	tu_buf_free(&r.log);
}
END_TEST

START_TEST(big_fragmented)
{
	struct ws_session_config	 cfg = cfg_default();
	struct ws_session		 s;
	struct rec			 r;
	struct tu_buf			 in = { 0 };
	uint8_t				 chunk[1000];
	size_t				 i, cap;

	memset(chunk, 'k', sizeof(chunk));
	for (i = 0; i < 100; i++)
		tu_cframe(&in, i == 99, i ? WS_OP_CONT : WS_OP_BINARY, chunk,
		    sizeof(chunk));
	memset(&r, 0, sizeof(r));
	ws_session_init(&s, &cfg, &rec_cb, &r);
	r.s = &s;
	r.in_lo = in.p;
	r.in_hi = in.p + in.len;
	ck_assert_int_eq(ws_session_feed(&s, in.p, in.len), 0);
	ck_assert_int_eq(r.nmsg, 1);
	ck_assert_uint_eq(r.log.len, strlen("[M 2 100000]") + 100000);
	/* The buffer grew by doubling: 1024 << n. */
	ck_assert_uint_ge(r.cap_seen, 100000);
	for (cap = 1024; cap < r.cap_seen; cap *= 2)
		;
	ck_assert_uint_eq(cap, r.cap_seen);
	ck_assert_ptr_null(s.msg_buf);
	ws_session_reset(&s);
	tu_buf_free(&in);
	tu_buf_free(&r.log);
}
END_TEST

START_TEST(owner_stops)
{
	struct ws_session_config	 cfg = cfg_default();
	struct ws_session		 s;
	struct rec			 r;
	struct tu_buf			 in = { 0 };

	memset(&r, 0, sizeof(r));
	r.stop_at = 1;
	ws_session_init(&s, &cfg, &rec_cb, &r);
	r.s = &s;
	tu_cframe(&in, 1, WS_OP_TEXT, "a", 1);
	tu_cframe(&in, 1, WS_OP_TEXT, "b", 1);
	ck_assert_int_eq(ws_session_feed(&s, in.p, in.len), -1);
	ck_assert_uint_eq(s.err_code, 0);
	ck_assert_ptr_nonnull(s.err_reason);
	ck_assert_int_eq(r.nmsg, 1);
	ck_assert_int_eq(ws_session_feed(&s, in.p, 0), -1);
	ws_session_reset(&s);
	tu_buf_free(&in);
	tu_buf_free(&r.log);
}
END_TEST

START_TEST(close_from_callback)
{
	struct ws_session_config	 cfg = cfg_default();
	struct ws_session		 s;
	struct rec			 r;
	struct tu_buf			 in = { 0 };

	memset(&r, 0, sizeof(r));
	r.close_in_msg = 1;
	ws_session_init(&s, &cfg, &rec_cb, &r);
	r.s = &s;
	tu_cframe(&in, 1, WS_OP_TEXT, "a", 1);
	tu_cframe(&in, 1, WS_OP_CLOSE, "\x03\xe8", 2);
	ck_assert_int_eq(ws_session_feed(&s, in.p, in.len), 0);
	ck_assert_int_eq(s.state, WS_SS_CLOSED);
	ck_assert_str_eq((char *)r.log.p, "[M 1 1]a[S 8 2]\x03\xe8[C 1000 0]");
	ws_session_reset(&s);
	tu_buf_free(&in);
	tu_buf_free(&r.log);
}
END_TEST

START_TEST(client_role)
{
	struct ws_session_config	 cfg = cfg_default();
	struct tu_buf			 in = { 0 };

	cfg.role = WS_ROLE_CLIENT;
	tu_frame(&in, 1, 0, WS_OP_TEXT, "srv", 3, NULL);
	sess_expect(&cfg, &in, "[M 1 3]srv[state 0]");
	in.len = 0;
	tu_cframe(&in, 1, WS_OP_TEXT, "srv", 3);
	sess_expect(&cfg, &in, "[ERR 1002][state 0]");
	tu_buf_free(&in);
}
END_TEST

START_TEST(reset_frees_partial)
{
	struct ws_session_config	 cfg = cfg_default();
	struct ws_session		 s;
	struct rec			 r;
	struct tu_buf			 in = { 0 };

	memset(&r, 0, sizeof(r));
	ws_session_init(&s, &cfg, &rec_cb, &r);
	r.s = &s;
	tu_cframe(&in, 0, WS_OP_BINARY, "partial", 7);
	ck_assert_int_eq(ws_session_feed(&s, in.p, in.len), 0);
	ck_assert_ptr_nonnull(s.msg_buf);
	ws_session_reset(&s);
	ck_assert_ptr_null(s.msg_buf);
	ws_session_reset(&s);
	tu_buf_free(&in);
	tu_buf_free(&r.log);
}
END_TEST

static Suite *
session_suite(void)
{
	Suite	*s = suite_create("session");
	TCase	*tc;

	tc = tcase_create("messages");
	tcase_set_timeout(tc, TU_TIMEOUT);
	tcase_add_test(tc, single_text);
	tcase_add_test(tc, rfc_masked_hello);
	tcase_add_test(tc, empty_messages);
	tcase_add_test(tc, fragments_with_ping);
	tcase_add_test(tc, utf8_across_fragments);
	tcase_add_test(tc, zero_copy);
	tcase_add_test(tc, big_fragmented);
	tcase_add_test(tc, owner_stops);
	tcase_add_test(tc, client_role);
	tcase_add_test(tc, reset_frees_partial);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, TU_TIMEOUT);
	tcase_add_test(tc, protocol_errors);
	tcase_add_test(tc, error_reason_propagates);
	tcase_add_test(tc, bad_utf8);
	tcase_add_test(tc, fail_fast_utf8);
	tcase_add_test(tc, message_limit);
	tcase_add_test(tc, frame_limit);
	tcase_add_test(tc, limit_before_payload);
	suite_add_tcase(s, tc);

	tc = tcase_create("control");
	tcase_set_timeout(tc, TU_TIMEOUT);
	tcase_add_loop_test(tc, close_codes_table, 0,
	    (int)(sizeof(close_codes) / sizeof(close_codes[0])));
	tcase_add_test(tc, close_payloads);
	tcase_add_test(tc, input_after_close_ignored);
	tcase_add_test(tc, peer_close_state);
	tcase_add_test(tc, our_close_state);
	tcase_add_test(tc, close_without_code);
	tcase_add_test(tc, close_reason_truncated);
	tcase_add_test(tc, close_from_callback);
	tcase_add_test(tc, ping_pong);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(session_suite());
}
