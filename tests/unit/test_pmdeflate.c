/* Tests of permessage-deflate: RFC 7692 examples, negotiation, the codec and compressed sessions. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"
#include "proto/pmdeflate.h"
#include "proto/session.h"
#include "proto/wsext.h"
#include "testutil.h"

/* ---- the codec against RFC 7692 section 7.2.3 ---- */

static const uint8_t hello_z[] = { 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00 };
static const uint8_t hello_z2[] = { 0xf2, 0x00, 0x11, 0x00, 0x00 };

/* Inflate one whole message with |z| into |out|; returns its length or -1. */
static long
inflate_all(struct pmd_inflater *z, const uint8_t *in, size_t len,
    uint8_t *out, size_t room)
{
	size_t	 n;
	int	 rc;

	rc = pmd_inflate(z, &in, &len, out, room, &n, 1);
	if (rc != PMD_DONE)
		return -1;
	return (long)n;
}

START_TEST(rfc_hello)
{
	struct pmd_deflater	*d;
	struct pmd_inflater	*z;
	const uint8_t		*out;
	uint8_t			 buf[64];
	size_t			 n;

	d = pmd_deflater_new(6, 8, 15);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(pmd_deflate(d, (const uint8_t *)"Hello", 5, 0, &out, &n), 0);
	ck_assert_uint_eq(n, sizeof(hello_z));
	ck_assert_mem_eq(out, hello_z, n);
	/* 7.2.3.2: the same message again refers to the first. */
	ck_assert_int_eq(pmd_deflate(d, (const uint8_t *)"Hello", 5, 1, &out, &n), 0);
	ck_assert_uint_eq(n, sizeof(hello_z2));
	ck_assert_mem_eq(out, hello_z2, n);
	/* After a reset (no context takeover) it stands alone again. */
	ck_assert_int_eq(pmd_deflate(d, (const uint8_t *)"Hello", 5, 1, &out, &n), 0);
	ck_assert_mem_eq(out, hello_z, n);
	pmd_deflater_free(d);

	z = pmd_inflater_new(15);
	ck_assert_ptr_nonnull(z);
	ck_assert_int_eq(inflate_all(z, hello_z, sizeof(hello_z), buf, sizeof(buf)), 5);
	ck_assert_mem_eq(buf, "Hello", 5);
	ck_assert_int_eq(inflate_all(z, hello_z2, sizeof(hello_z2), buf, sizeof(buf)), 5);
	ck_assert_mem_eq(buf, "Hello", 5);
	pmd_inflater_free(z);
}
END_TEST

/* 7.2.3.3 - 7.2.3.6: other encodings a receiver must take. */
START_TEST(rfc_other_blocks)
{
	static const uint8_t stored[] = { 0x00, 0x05, 0x00, 0xfa, 0xff,
	    0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00 };
	static const uint8_t stored_final[] = { 0x01, 0x05, 0x00, 0xfa, 0xff,
	    0x48, 0x65, 0x6c, 0x6c, 0x6f };
	static const uint8_t bfinal[] = { 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07,
	    0x00, 0x00 };
	static const uint8_t two_blocks[] = { 0xf2, 0x48, 0x05, 0x00, 0x00,
	    0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00 };
	static const uint8_t empty[] = { 0x00 };
	struct pmd_inflater	*z;
	uint8_t			 buf[64];

	z = pmd_inflater_new(15);
	ck_assert_int_eq(inflate_all(z, stored, sizeof(stored), buf, sizeof(buf)), 5);
	ck_assert_mem_eq(buf, "Hello", 5);
	ck_assert_int_eq(inflate_all(z, stored_final, sizeof(stored_final), buf,
	    sizeof(buf)), 5);
	ck_assert_mem_eq(buf, "Hello", 5);
	/* After a final block the window is kept: 7.2.3.2 still decodes. */
	ck_assert_int_eq(inflate_all(z, bfinal, sizeof(bfinal), buf, sizeof(buf)), 5);
	ck_assert_int_eq(inflate_all(z, hello_z2, sizeof(hello_z2), buf, sizeof(buf)), 5);
	ck_assert_mem_eq(buf, "Hello", 5);
	ck_assert_int_eq(inflate_all(z, two_blocks, sizeof(two_blocks), buf,
	    sizeof(buf)), 5);
	ck_assert_mem_eq(buf, "Hello", 5);
	ck_assert_int_eq(inflate_all(z, empty, sizeof(empty), buf, sizeof(buf)), 0);
	pmd_inflater_free(z);
}
END_TEST

START_TEST(empty_message_deflates_to_one_byte)
{
	struct pmd_deflater	*d = pmd_deflater_new(1, 8, 15);
	const uint8_t		*out;
	size_t			 n;

	ck_assert_int_eq(pmd_deflate(d, NULL, 0, 1, &out, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(out[0], 0x00);
	pmd_deflater_free(d);
}
END_TEST

/* Round trips for every window, with and without context takeover. */
START_TEST(roundtrip_windows)
{
	unsigned		 bits = (unsigned)_i;
	struct pmd_deflater	*d;
	struct pmd_inflater	*z;
	const uint8_t		*out;
	uint8_t			*msg, *back;
	size_t			 n, len = 70000;
	uint32_t		 x = 12345;

	msg = malloc(len);
	back = malloc(len + 1);
	/* Text with repeats at every distance, and some noise. */
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245 + 12345;
		msg[i] = (x >> 16) % 7 == 0 ? (uint8_t)(x >> 8) :
		    (uint8_t)("the quick brown fox "[i % 20]);
	}
	for (int ctx = 0; ctx < 2; ctx++) {
		d = pmd_deflater_new(1, 8, bits);
		z = pmd_inflater_new(bits);
		ck_assert_ptr_nonnull(d);
		ck_assert_ptr_nonnull(z);
		for (int k = 0; k < 3; k++) {
			size_t mlen = len - (size_t)k * 1000;

			ck_assert_int_eq(pmd_deflate(d, msg, mlen, !ctx, &out, &n), 0);
			ck_assert_int_eq(inflate_all(z, out, n, back, len + 1),
			    (long)mlen);
			ck_assert_mem_eq(back, msg, mlen);
		}
		pmd_deflater_free(d);
		pmd_inflater_free(z);
	}
	free(msg);
	free(back);
}
END_TEST

/* The output never passes the room given, whatever the input expands to. */
START_TEST(inflate_bounded)
{
	struct pmd_deflater	*d = pmd_deflater_new(9, 8, 15);
	struct pmd_inflater	*z = pmd_inflater_new(15);
	const uint8_t		*out, *in;
	uint8_t			*zeros, buf[1000];
	size_t			 n, inlen, total = 0;
	int			 rc;

	zeros = calloc(1, 4 << 20);
	ck_assert_int_eq(pmd_deflate(d, zeros, 4 << 20, 1, &out, &n), 0);
	ck_assert_uint_lt(n, 8192);
	in = out;
	inlen = n;
	rc = pmd_inflate(z, &in, &inlen, buf, sizeof(buf), &n, 1);
	ck_assert_int_eq(rc, PMD_FULL);
	ck_assert_uint_eq(n, sizeof(buf));
	total += n;
	/* A caller that keeps going gets the rest, 1000 bytes at a time. */
	while ((rc = pmd_inflate(z, &in, &inlen, buf, sizeof(buf), &n, 1)) ==
	    PMD_FULL)
		total += n;
	ck_assert_int_eq(rc, PMD_DONE);
	total += n;
	ck_assert_uint_eq(total, 4 << 20);
	free(zeros);
	pmd_deflater_free(d);
	pmd_inflater_free(z);
}
END_TEST

START_TEST(inflate_garbage)
{
	static const uint8_t bad[] = { 0xff, 0xff, 0xff, 0xff, 0xff };
	struct pmd_inflater	*z = pmd_inflater_new(15);
	uint8_t			 buf[64];

	ck_assert_int_eq(inflate_all(z, bad, sizeof(bad), buf, sizeof(buf)), -1);
	pmd_inflater_free(z);
}
END_TEST

/* Window 8 is Huffman only: no back-reference, so any window decodes it. */
START_TEST(window_8_has_no_matches)
{
	struct pmd_deflater	*d = pmd_deflater_new(9, 8, 8);
	const uint8_t		*out;
	uint8_t			 msg[4096], back[4097];
	struct pmd_inflater	*z = pmd_inflater_new(8);
	size_t			 n;

	memset(msg, 'a', sizeof(msg));
	ck_assert_int_eq(pmd_deflate(d, msg, sizeof(msg), 0, &out, &n), 0);
	/* Without matches each byte still costs at least one bit. */
	ck_assert_uint_ge(n, sizeof(msg) / 8);
	ck_assert_int_eq(inflate_all(z, out, n, back, sizeof(back)),
	    (long)sizeof(msg));
	ck_assert_mem_eq(back, msg, sizeof(msg));
	pmd_deflater_free(d);
	pmd_inflater_free(z);
}
END_TEST

/* ---- header syntax and negotiation ---- */

static int
negotiate(const char *h1, const char *h2, const struct pmd_server_conf *sc,
    struct pmd_params *p, char *out, size_t outlen)
{
	const struct ws_extension *exts[] = { &pmd_extension };
	const void		*confs[] = { sc };
	void			*agreed[] = { p };
	struct http_str		 v[2];
	const char		*why;
	unsigned		 acc;
	size_t			 nv = 0;

	v[nv].p = h1;
	v[nv++].len = strlen(h1);
	if (h2 != NULL) {
		v[nv].p = h2;
		v[nv++].len = strlen(h2);
	}
	if (ws_ext_server_negotiate(exts, confs, agreed, 1, v, nv, out, outlen,
	    &acc, &why) == -1)
		return -1;
	return (int)acc;
}

struct neg_case {
	const char	*offer;
	const char	*offer2;
	int		 snct, cnct;	/* server settings */
	unsigned	 bits;
	int		 rc;		/* -1 syntax error, 0 declined, 1 */
	const char	*response;
};

static const struct neg_case neg_cases[] = {
	{ "permessage-deflate", NULL, 0, 0, 15, 1, "permessage-deflate" },
	{ "permessage-deflate", NULL, 1, 0, 15, 1,
	  "permessage-deflate; server_no_context_takeover" },
	{ "permessage-deflate", NULL, 1, 1, 15, 1,
	  "permessage-deflate; server_no_context_takeover; "
	  "client_no_context_takeover" },
	{ "permessage-deflate; client_max_window_bits", NULL, 1, 0, 15, 1,
	  "permessage-deflate; server_no_context_takeover" },
	{ "permessage-deflate; client_max_window_bits=10", NULL, 0, 0, 15, 1,
	  "permessage-deflate" },
	{ "permessage-deflate; server_no_context_takeover", NULL, 0, 0, 15, 1,
	  "permessage-deflate; server_no_context_takeover" },
	{ "permessage-deflate;client_no_context_takeover", NULL, 0, 0, 15, 1,
	  "permessage-deflate; client_no_context_takeover" },
	{ "permessage-deflate; server_max_window_bits=10", NULL, 0, 0, 15, 1,
	  "permessage-deflate; server_max_window_bits=10" },
	{ "permessage-deflate; server_max_window_bits=\"12\"", NULL, 0, 0, 10, 1,
	  "permessage-deflate; server_max_window_bits=10" },
	{ "permessage-deflate; server_max_window_bits=8", NULL, 0, 0, 15, 1,
	  "permessage-deflate; server_max_window_bits=8" },
	{ "PerMessage-Deflate ; Server_Max_Window_Bits = 9 ", NULL, 0, 0, 15, 1,
	  "permessage-deflate; server_max_window_bits=9" },
	/* Declined: invalid values, unknown or repeated parameters. */
	{ "permessage-deflate; server_max_window_bits=16", NULL, 0, 0, 15, 0, "" },
	{ "permessage-deflate; server_max_window_bits=7", NULL, 0, 0, 15, 0, "" },
	{ "permessage-deflate; server_max_window_bits=010", NULL, 0, 0, 15, 0, "" },
	{ "permessage-deflate; server_max_window_bits", NULL, 0, 0, 15, 0, "" },
	{ "permessage-deflate; client_max_window_bits=0", NULL, 0, 0, 15, 0, "" },
	{ "permessage-deflate; client_max_window_bits=abc", NULL, 0, 0, 15, 0, "" },
	{ "permessage-deflate; server_no_context_takeover=1", NULL, 0, 0, 15, 0, "" },
	{ "permessage-deflate; server_no_context_takeover; "
	  "server_no_context_takeover", NULL, 0, 0, 15, 0, "" },
	{ "permessage-deflate; foo", NULL, 0, 0, 15, 0, "" },
	{ "permessage-deflate; server_max_window_bits=1234567890123456789",
	  NULL, 0, 0, 15, 0, "" },
	{ "x-webkit-deflate-frame", NULL, 0, 0, 15, 0, "" },
	/* Several offers: the first acceptable one wins. */
	{ "permessage-deflate; server_max_window_bits=16, "
	  "permessage-deflate; client_no_context_takeover, permessage-deflate",
	  NULL, 0, 0, 15, 1, "permessage-deflate; client_no_context_takeover" },
	{ "foo, permessage-deflate; bar", "permessage-deflate; "
	  "server_max_window_bits=11", 0, 0, 15, 1,
	  "permessage-deflate; server_max_window_bits=11" },
	{ ", ,permessage-deflate,", NULL, 0, 0, 15, 1, "permessage-deflate" },
	/* Syntax errors fail the handshake. */
	{ "permessage-deflate;", NULL, 0, 0, 15, -1, NULL },
	{ "permessage-deflate; server_max_window_bits=", NULL, 0, 0, 15, -1, NULL },
	{ "permessage-deflate; server_max_window_bits=\"10", NULL, 0, 0, 15, -1,
	  NULL },
	{ "permessage-deflate; a=\"1 0\"", NULL, 0, 0, 15, -1, NULL },
	{ "permessage-deflate x", NULL, 0, 0, 15, -1, NULL },
	{ "=permessage-deflate", NULL, 0, 0, 15, -1, NULL },
	{ "permessage-deflate", "permessage-deflate;;", 0, 0, 15, -1, NULL },
};

START_TEST(negotiation_table)
{
	const struct neg_case	*nc = &neg_cases[_i];
	struct pmd_server_conf	 sc = { nc->snct, nc->cnct, nc->bits };
	struct pmd_params	 p;
	char			 out[WS_EXT_RESPONSE_MAX];
	int			 rc;

	rc = negotiate(nc->offer, nc->offer2, &sc, &p, out, sizeof(out));
	ck_assert_msg(rc == nc->rc, "offer \"%s\": got %d, want %d", nc->offer,
	    rc, nc->rc);
	if (rc >= 0)
		ck_assert_str_eq(out, nc->response);
}
END_TEST

START_TEST(negotiated_params)
{
	struct pmd_server_conf	 sc = { 1, 0, 12 };
	struct pmd_params	 p;
	char			 out[WS_EXT_RESPONSE_MAX];

	ck_assert_int_eq(negotiate("permessage-deflate; client_no_context_takeover; "
	    "server_max_window_bits=14; client_max_window_bits", NULL, &sc, &p,
	    out, sizeof(out)), 1);
	ck_assert_uint_eq(p.server_no_context_takeover, 1);
	ck_assert_uint_eq(p.client_no_context_takeover, 1);
	ck_assert_uint_eq(p.server_max_window_bits, 12);
	ck_assert_uint_eq(p.client_max_window_bits, 15);
	ck_assert_str_eq(out, "permessage-deflate; server_no_context_takeover; "
	    "client_no_context_takeover; server_max_window_bits=12");
	/* Not asking: our window is ours and is not announced. */
	ck_assert_int_eq(negotiate("permessage-deflate", NULL, &sc, &p, out,
	    sizeof(out)), 1);
	ck_assert_uint_eq(p.server_max_window_bits, 12);
	ck_assert_str_eq(out, "permessage-deflate; server_no_context_takeover");
}
END_TEST

START_TEST(client_offer_and_confirm)
{
	struct pmd_client_conf	 cc = { 0, 1, 10, 0 };
	struct pmd_params	 p;
	struct http_str		 v;
	const char		*why = NULL;
	char			 offer[128];

	ck_assert_uint_gt(pmd_client_offer(&cc, offer, sizeof(offer)), 0);
	ck_assert_str_eq(offer, "permessage-deflate; client_no_context_takeover; "
	    "server_max_window_bits=10; client_max_window_bits");
	ck_assert_uint_eq(pmd_client_offer(&cc, offer, 10), 0);

#define CONFIRM(s) (v.p = (s), v.len = strlen(s), \
	pmd_client_confirm(&cc, &v, 1, &p, &why))
	ck_assert_int_eq(CONFIRM(""), 0);
	ck_assert_int_eq(CONFIRM("permessage-deflate; server_max_window_bits=9; "
	    "server_no_context_takeover; client_max_window_bits=8"), 1);
	ck_assert_uint_eq(p.server_max_window_bits, 9);
	ck_assert_uint_eq(p.client_max_window_bits, 8);
	ck_assert_uint_eq(p.server_no_context_takeover, 1);
	ck_assert_uint_eq(p.client_no_context_takeover, 1);
	/* We asked for a window: the answer must name one, no larger. */
	ck_assert_int_eq(CONFIRM("permessage-deflate"), -1);
	ck_assert_int_eq(CONFIRM("permessage-deflate; server_max_window_bits=11"), -1);
	ck_assert_int_eq(CONFIRM("permessage-deflate; server_max_window_bits=10, "
	    "permessage-deflate; server_max_window_bits=10"), -1);
	ck_assert_int_eq(CONFIRM("x-foo"), -1);
	ck_assert_int_eq(CONFIRM("permessage-deflate; server_max_window_bits=10; "
	    "client_max_window_bits"), -1);
	ck_assert_int_eq(CONFIRM("permessage-deflate; server_max_window_bits=10; "
	    "mystery"), -1);
	ck_assert_int_eq(CONFIRM("permessage-deflate;"), -1);
	ck_assert_ptr_nonnull(why);

	/* Without a window request, any valid one is accepted. */
	cc.server_max_window_bits = 0;
	cc.client_max_window_bits = 12;
	ck_assert_int_eq(CONFIRM("permessage-deflate"), 1);
	ck_assert_uint_eq(p.server_max_window_bits, 15);
	ck_assert_uint_eq(p.client_max_window_bits, 12);
	ck_assert_int_eq(CONFIRM("permessage-deflate; client_max_window_bits=13"), -1);
#undef CONFIRM
}
END_TEST

/* ---- compressed messages in a session ---- */

struct zrec {
	struct tu_buf	 log;
	int		 nmsg;
};

static int
zrec_message(void *arg, unsigned opcode, uint8_t *data, size_t len)
{
	struct zrec *r = arg;

	r->nmsg++;
	tu_buf_addf(&r->log, "[M %u %zu]", opcode, len);
	tu_buf_add(&r->log, data, len);
	return 0;
}

static void
zrec_send(void *arg, unsigned opcode, const uint8_t *data, size_t len)
{
	struct zrec *r = arg;

	tu_buf_addf(&r->log, "[S %u %zu]", opcode, len);
}

static const struct ws_session_callbacks zrec_cb = {
	.on_message = zrec_message,
	.send_control = zrec_send,
};

/*
 * Feed |in| split at |k| (see tu_piece_end) to a fresh session; returns
 * the session's result, the log in |r|.
 */
static int
zfeed(const struct ws_session_config *cfg, unsigned bits, int noctx,
    const uint8_t *in, size_t len, size_t k, struct zrec *r,
    uint16_t *code)
{
	struct ws_session	 s;
	size_t			 off = 0, end;
	int			 rc = 0;

	memset(r, 0, sizeof(*r));
	ws_session_init(&s, cfg, &zrec_cb, r);
	if (bits != 0)
		ws_session_enable_deflate(&s, bits, noctx);
	while (off < len && rc == 0) {
		uint8_t *piece;

		end = tu_piece_end(len, k, off);
		piece = tu_dup(in + off, end - off);
		rc = ws_session_feed(&s, piece, end - off);
		free(piece);
		off = end;
		/* Without context takeover nothing is held between messages. */
		if (rc == 0 && noctx && s.msg_opcode == 0)
			ck_assert_ptr_null(s.zin);
	}
	*code = s.err_code;
	ws_session_reset(&s);
	return rc;
}

static const struct ws_session_config srv_cfg = {
	.role = WS_ROLE_SERVER, .max_message_size = 1 << 20, .auto_pong = 1,
};
static const struct ws_session_config cli_cfg = {
	.role = WS_ROLE_CLIENT, .max_message_size = 1 << 20, .auto_pong = 1,
};

/* RFC 7692 7.2.3.1/7.2.3.2 frames, from a server, at every split. */
START_TEST(session_rfc_frames)
{
	static const uint8_t one[] = { 0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9,
	    0x07, 0x00 };
	static const uint8_t frag[] = { 0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80,
	    0x04, 0xc9, 0xc9, 0x07, 0x00 };
	static const uint8_t shared[] = { 0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9,
	    0xc9, 0x07, 0x00, 0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00 };
	struct zrec	 r;
	uint16_t	 code;

	for (size_t k = 0; k <= sizeof(shared); k++) {
		ck_assert_int_eq(zfeed(&cli_cfg, 15, 1, one, sizeof(one), k, &r,
		    &code), 0);
		ck_assert_str_eq((char *)r.log.p, "[M 1 5]Hello");
		tu_buf_free(&r.log);
		ck_assert_int_eq(zfeed(&cli_cfg, 15, 1, frag, sizeof(frag), k, &r,
		    &code), 0);
		ck_assert_str_eq((char *)r.log.p, "[M 1 5]Hello");
		tu_buf_free(&r.log);
		ck_assert_int_eq(zfeed(&cli_cfg, 15, 0, shared, sizeof(shared), k,
		    &r, &code), 0);
		ck_assert_str_eq((char *)r.log.p, "[M 1 5]Hello[M 1 5]Hello");
		tu_buf_free(&r.log);
	}
	/* Without negotiation RSV1 is a protocol error. */
	ck_assert_int_eq(zfeed(&cli_cfg, 0, 0, one, sizeof(one), 0, &r, &code), -1);
	ck_assert_uint_eq(code, WS_CLOSE_PROTOCOL);
	tu_buf_free(&r.log);
}
END_TEST

/* A compressed message, fragmented at every compressed offset, fed at every split. */
START_TEST(session_fragmented_every_offset)
{
	struct pmd_deflater	*d = pmd_deflater_new(1, 8, 15);
	const char		*text = "permessage-deflate: a text message, "
	    "compressed once, fragmented anywhere \xce\xba\xe1\xbd\xb9\xcf\x83"
	    "\xce\xbc\xce\xb5 and sent to a server";
	const uint8_t		*z;
	size_t			 zlen, tlen = strlen(text);
	struct zrec		 r;
	struct tu_buf		 want = { 0 };
	uint16_t		 code;
	uint8_t			*zc;

	ck_assert_int_eq(pmd_deflate(d, (const uint8_t *)text, tlen, 1, &z,
	    &zlen), 0);
	zc = tu_dup(z, zlen);
	/* The pong is sent before the message is complete. */
	tu_buf_addf(&want, "[S %u 1][M 1 %zu]", WS_OP_PONG, tlen);
	tu_buf_add(&want, text, tlen);
	for (size_t cut = 0; cut <= zlen; cut++) {
		struct tu_buf	 in = { 0 };

		tu_frame(&in, 0, WS_RSV1, WS_OP_TEXT, zc, cut, TU_MASK);
		/* A ping between the fragments. */
		tu_frame(&in, 1, 0, WS_OP_PING, "p", 1, TU_MASK);
		tu_frame(&in, 1, 0, WS_OP_CONT, zc + cut, zlen - cut, TU_MASK);
		for (size_t k = 0; k <= in.len; k += (k < 8 ? 1 : 7)) {
			ck_assert_int_eq(zfeed(&srv_cfg, 15, 1, in.p, in.len, k,
			    &r, &code), 0);
			ck_assert_int_eq(r.nmsg, 1);
			ck_assert(tu_buf_eq(&r.log, &want));
			tu_buf_free(&r.log);
		}
		tu_buf_free(&in);
	}
	free(zc);
	tu_buf_free(&want);
	pmd_deflater_free(d);
}
END_TEST

START_TEST(session_rsv1_misuse)
{
	struct tu_buf	 in = { 0 };
	struct zrec	 r;
	uint16_t	 code;

	/* RSV1 on a continuation frame. */
	tu_frame(&in, 0, WS_RSV1, WS_OP_TEXT, hello_z, 3, TU_MASK);
	tu_frame(&in, 1, WS_RSV1, WS_OP_CONT, hello_z + 3, 4, TU_MASK);
	ck_assert_int_eq(zfeed(&srv_cfg, 15, 1, in.p, in.len, 0, &r, &code), -1);
	ck_assert_uint_eq(code, WS_CLOSE_PROTOCOL);
	tu_buf_free(&r.log);
	tu_buf_free(&in);
	/* RSV1 on a control frame. */
	tu_frame(&in, 1, WS_RSV1, WS_OP_PING, "x", 1, TU_MASK);
	ck_assert_int_eq(zfeed(&srv_cfg, 15, 1, in.p, in.len, 0, &r, &code), -1);
	ck_assert_uint_eq(code, WS_CLOSE_PROTOCOL);
	tu_buf_free(&r.log);
	tu_buf_free(&in);
	/* RSV2 stays reserved. */
	tu_frame(&in, 1, WS_RSV2, WS_OP_TEXT, "x", 1, TU_MASK);
	ck_assert_int_eq(zfeed(&srv_cfg, 15, 1, in.p, in.len, 0, &r, &code), -1);
	ck_assert_uint_eq(code, WS_CLOSE_PROTOCOL);
	tu_buf_free(&r.log);
	tu_buf_free(&in);
	/* Uncompressed messages still pass when deflate is on. */
	tu_frame(&in, 1, 0, WS_OP_TEXT, "plain", 5, TU_MASK);
	ck_assert_int_eq(zfeed(&srv_cfg, 15, 0, in.p, in.len, 0, &r, &code), 0);
	ck_assert_str_eq((char *)r.log.p, "[M 1 5]plain");
	tu_buf_free(&r.log);
	tu_buf_free(&in);
	/* Bad DEFLATE data: 1007. */
	tu_frame(&in, 1, WS_RSV1, WS_OP_BINARY, "\xff\xff\xff", 3, TU_MASK);
	ck_assert_int_eq(zfeed(&srv_cfg, 15, 0, in.p, in.len, 0, &r, &code), -1);
	ck_assert_uint_eq(code, WS_CLOSE_BAD_DATA);
	tu_buf_free(&r.log);
	tu_buf_free(&in);
}
END_TEST

/* A decompression bomb stops at max_message_size with 1009, fragmented or not. */
START_TEST(session_bomb)
{
	struct pmd_deflater	*d = pmd_deflater_new(9, 9, 15);
	const uint8_t		*z;
	uint8_t			*zeros;
	size_t			 zlen, big = 64 << 20;
	struct tu_buf		 in = { 0 };
	struct ws_session	 s;
	struct zrec		 r;
	uint16_t		 code;

	zeros = calloc(1, big);
	ck_assert_int_eq(pmd_deflate(d, zeros, big, 1, &z, &zlen), 0);
	ck_assert_uint_lt(zlen, 128 << 10);
	tu_frame(&in, 1, WS_RSV1, WS_OP_BINARY, z, zlen, TU_MASK);
	memset(&r, 0, sizeof(r));
	ws_session_init(&s, &srv_cfg, &zrec_cb, &r);
	ws_session_enable_deflate(&s, 15, 0);
	ck_assert_int_eq(ws_session_feed(&s, in.p, in.len), -1);
	ck_assert_uint_eq(s.err_code, WS_CLOSE_TOO_BIG);
	ck_assert_int_eq(r.nmsg, 0);
	ws_session_reset(&s);
	tu_buf_free(&in);

	/* The same as many fragments: it fails as soon as the limit passes. */
	for (size_t off = 0; off < zlen; off += 1000) {
		size_t n = zlen - off < 1000 ? zlen - off : 1000;

		tu_frame(&in, off + n == zlen, off == 0 ? WS_RSV1 : 0,
		    off == 0 ? WS_OP_TEXT : WS_OP_CONT, z + off, n, TU_MASK);
	}
	ck_assert_int_eq(zfeed(&srv_cfg, 15, 1, in.p, in.len, 0, &r, &code), -1);
	ck_assert_uint_eq(code, WS_CLOSE_TOO_BIG);
	tu_buf_free(&in);
	tu_buf_free(&r.log);

	/* Exactly the limit is fine. */
	ck_assert_int_eq(pmd_deflate(d, zeros, 1 << 20, 1, &z, &zlen), 0);
	tu_frame(&in, 1, WS_RSV1, WS_OP_BINARY, z, zlen, TU_MASK);
	ck_assert_int_eq(zfeed(&srv_cfg, 15, 1, in.p, in.len, 0, &r, &code), 0);
	ck_assert_int_eq(r.nmsg, 1);
	tu_buf_free(&in);
	tu_buf_free(&r.log);
	free(zeros);
	pmd_deflater_free(d);
}
END_TEST

/* Invalid UTF-8 fails as soon as it is inflated, before the message ends. */
START_TEST(session_utf8_fail_fast)
{
	struct pmd_deflater	*d = pmd_deflater_new(1, 8, 15);
	uint8_t			 text[3000];
	const uint8_t		*z;
	size_t			 zlen;
	struct tu_buf		 in = { 0 };
	struct zrec		 r;
	uint16_t		 code;

	memset(text, 'a', sizeof(text));
	text[10] = 0xff;
	ck_assert_int_eq(pmd_deflate(d, text, sizeof(text), 1, &z, &zlen), 0);
	/* Only the first fragment: the error comes before the end. */
	tu_frame(&in, 0, WS_RSV1, WS_OP_TEXT, z, zlen, TU_MASK);
	ck_assert_int_eq(zfeed(&srv_cfg, 15, 1, in.p, in.len, 0, &r, &code), -1);
	ck_assert_uint_eq(code, WS_CLOSE_BAD_DATA);
	tu_buf_free(&in);
	tu_buf_free(&r.log);
	pmd_deflater_free(d);
}
END_TEST

/* Context takeover across many messages and both ends of a session. */
START_TEST(session_context_takeover)
{
	struct pmd_deflater	*d = pmd_deflater_new(1, 8, 10);
	struct tu_buf		 in = { 0 }, want = { 0 };
	const uint8_t		*z;
	size_t			 zlen;
	struct zrec		 r;
	uint16_t		 code;
	char			 msg[200];

	for (int i = 0; i < 20; i++) {
		int n = snprintf(msg, sizeof(msg), "{\"seq\": %d, \"data\": "
		    "\"the same words again and again\"}", i);

		ck_assert_int_eq(pmd_deflate(d, (uint8_t *)msg, (size_t)n, 0, &z,
		    &zlen), 0);
		tu_frame(&in, 1, WS_RSV1, WS_OP_TEXT, z, zlen, TU_MASK);
		tu_buf_addf(&want, "[M 1 %d]%s", n, msg);
	}
	for (size_t k = 0; k < 64; k++) {
		ck_assert_int_eq(zfeed(&srv_cfg, 10, 0, in.p, in.len, k, &r,
		    &code), 0);
		ck_assert(tu_buf_eq(&r.log, &want));
		tu_buf_free(&r.log);
	}
	tu_buf_free(&in);
	tu_buf_free(&want);
	pmd_deflater_free(d);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("pmdeflate");
	TCase	*tc = tcase_create("codec");

	tcase_set_timeout(tc, TU_TIMEOUT);
	tcase_add_test(tc, rfc_hello);
	tcase_add_test(tc, rfc_other_blocks);
	tcase_add_test(tc, empty_message_deflates_to_one_byte);
	tcase_add_loop_test(tc, roundtrip_windows, 8, 16);
	tcase_add_test(tc, inflate_bounded);
	tcase_add_test(tc, inflate_garbage);
	tcase_add_test(tc, window_8_has_no_matches);
	suite_add_tcase(s, tc);

	tc = tcase_create("negotiation");
	tcase_add_loop_test(tc, negotiation_table, 0,
	    sizeof(neg_cases) / sizeof(neg_cases[0]));
	tcase_add_test(tc, negotiated_params);
	tcase_add_test(tc, client_offer_and_confirm);
	suite_add_tcase(s, tc);

	tc = tcase_create("session");
	tcase_set_timeout(tc, TU_TIMEOUT);
	tcase_add_test(tc, session_rfc_frames);
	tcase_add_test(tc, session_fragmented_every_offset);
	tcase_add_test(tc, session_rsv1_misuse);
	tcase_add_test(tc, session_bomb);
	tcase_add_test(tc, session_utf8_fail_fast);
	tcase_add_test(tc, session_context_takeover);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
