/* Tests of the opening handshake: the RFC 6455 example, each failure status. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proto/handshake.h"
#include "proto/http1.h"
#include "testutil.h"

#define REQ_LINE	"GET /chat HTTP/1.1\r\n"
#define H_HOST		"Host: server.example.com\r\n"
#define H_UPGRADE	"Upgrade: websocket\r\n"
#define H_CONN		"Connection: Upgrade\r\n"
#define H_KEY		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define H_ORIGIN	"Origin: http://example.com\r\n"
#define H_PROTO		"Sec-WebSocket-Protocol: chat, superchat\r\n"
#define H_VERSION	"Sec-WebSocket-Version: 13\r\n"

static int
slice_is(struct http_str s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

/*
 * Parse |head| (which must be a valid HTTP head) and run the handshake
 * check on it; returns the check's status.
 */
static int
check(const char *head, struct ws_upgrade *up, const char **why)
{
	struct http_request	*req = malloc(sizeof(*req));
	struct http_limits	 lim = { 8192, 64 };
	int			 rc;

	ck_assert_ptr_nonnull(req);
	ck_assert_int_eq(http_parse_request(head, strlen(head), &lim, req,
	    NULL), (int)strlen(head));
	*why = NULL;
	rc = ws_handshake_check(req, up, why);
	if (rc != 0)
		ck_assert_ptr_nonnull(*why);
	free(req);
	return rc;
}

START_TEST(rfc_example)
{
	static const char head[] = REQ_LINE H_HOST H_UPGRADE H_CONN H_KEY
	    H_ORIGIN H_PROTO H_VERSION "\r\n";
	struct ws_upgrade	 up;
	const char		*why;
	char			 accept[WS_KEY_ACCEPT_LEN + 1];

	ck_assert_int_eq(check(head, &up, &why), 0);
	ck_assert(slice_is(up.key, "dGhlIHNhbXBsZSBub25jZQ=="));
	ck_assert(slice_is(up.host, "server.example.com"));
	ck_assert(slice_is(up.origin, "http://example.com"));
	ck_assert(slice_is(up.protocols, "chat, superchat"));
	ck_assert_uint_eq(up.extensions.len, 0);
	ck_assert_int_eq(ws_accept_key(up.key.p, up.key.len, accept), 0);
	ck_assert_str_eq(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}
END_TEST

START_TEST(accept_key_vector)
{
	char	 accept[WS_KEY_ACCEPT_LEN + 1];

	ck_assert_int_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, accept),
	    0);
	ck_assert_str_eq(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	ck_assert_uint_eq(strlen(accept), WS_KEY_ACCEPT_LEN);
}
END_TEST

START_TEST(lenient_but_valid)
{
	static const char head[] = REQ_LINE H_HOST
	    "upgrade: foo, WebSocket\r\n"
	    "connection: keep-alive, UPGRADE\r\n"
	    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
	    H_KEY H_VERSION "\r\n";
	struct ws_upgrade	 up;
	const char		*why;

	ck_assert_int_eq(check(head, &up, &why), 0);
	ck_assert(slice_is(up.extensions, "permessage-deflate"));
	ck_assert_uint_eq(up.protocols.len, 0);
	ck_assert_uint_eq(up.origin.len, 0);
}
END_TEST

static const struct {
	const char	*head;
	int		 status;
} bad_handshakes[] = {
	{ "POST /chat HTTP/1.1\r\n" H_HOST H_UPGRADE H_CONN H_KEY H_VERSION
	    "\r\n", 405 },
	{ "get /chat HTTP/1.1\r\n" H_HOST H_UPGRADE H_CONN H_KEY H_VERSION
	    "\r\n", 405 },
	{ "GET /chat HTTP/1.0\r\n" H_HOST H_UPGRADE H_CONN H_KEY H_VERSION
	    "\r\n", 400 },
	{ REQ_LINE H_UPGRADE H_CONN H_KEY H_VERSION "\r\n", 400 },
	{ REQ_LINE H_HOST H_HOST H_UPGRADE H_CONN H_KEY H_VERSION "\r\n",
	    400 },
	{ REQ_LINE H_HOST H_CONN H_KEY H_VERSION "\r\n", 400 },
	{ REQ_LINE H_HOST "Upgrade: h2c\r\n" H_CONN H_KEY H_VERSION "\r\n",
	    400 },
	{ REQ_LINE H_HOST "Upgrade: websocket2\r\n" H_CONN H_KEY H_VERSION
	    "\r\n", 400 },
	{ REQ_LINE H_HOST H_UPGRADE H_KEY H_VERSION "\r\n", 400 },
	{ REQ_LINE H_HOST H_UPGRADE "Connection: keep-alive\r\n" H_KEY
	    H_VERSION "\r\n", 400 },
	{ REQ_LINE H_HOST H_UPGRADE H_CONN H_KEY "\r\n", 426 },
	{ REQ_LINE H_HOST H_UPGRADE H_CONN H_KEY
	    "Sec-WebSocket-Version: 8\r\n\r\n", 426 },
	{ REQ_LINE H_HOST H_UPGRADE H_CONN H_KEY
	    "Sec-WebSocket-Version: 13, 8\r\n\r\n", 426 },
	{ REQ_LINE H_HOST H_UPGRADE H_CONN H_KEY
	    "Sec-WebSocket-Version: 013\r\n\r\n", 426 },
	{ REQ_LINE H_HOST H_UPGRADE H_CONN H_KEY H_VERSION H_VERSION "\r\n",
	    426 },
	{ REQ_LINE H_HOST H_UPGRADE H_CONN H_VERSION "\r\n", 400 },
	{ REQ_LINE H_HOST H_UPGRADE H_CONN H_KEY H_KEY H_VERSION "\r\n", 400 },
	{ REQ_LINE H_HOST H_UPGRADE H_CONN
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n" H_VERSION "\r\n",
	    400 },
	{ REQ_LINE H_HOST H_UPGRADE H_CONN
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\n" H_VERSION "\r\n",
	    400 },
	{ REQ_LINE H_HOST H_UPGRADE H_CONN
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ===\r\n" H_VERSION
	    "\r\n", 400 },
	{ REQ_LINE H_HOST H_UPGRADE H_CONN
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ-==\r\n" H_VERSION
	    "\r\n", 400 },
	{ REQ_LINE H_HOST H_UPGRADE H_CONN
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j=Q==\r\n" H_VERSION
	    "\r\n", 400 },
	{ REQ_LINE H_HOST H_UPGRADE H_CONN
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ.=\r\n" H_VERSION
	    "\r\n", 400 },
	{ REQ_LINE H_HOST H_UPGRADE H_CONN "Sec-WebSocket-Key:\r\n"
	    H_VERSION "\r\n", 400 },
	/* 32 bytes of key, properly padded: the wrong length. */
	{ REQ_LINE H_HOST H_UPGRADE H_CONN
	    "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n"
	    H_VERSION "\r\n", 400 },
};

START_TEST(bad_handshake)
{
	struct ws_upgrade	 up;
	const char		*why;

	ck_assert_int_eq(check(bad_handshakes[_i].head, &up, &why),
	    bad_handshakes[_i].status);
}
END_TEST

START_TEST(is_upgrade)
{
	struct http_request	*req = malloc(sizeof(*req));
	const char		*a = "GET / HTTP/1.1\r\nHost: h\r\n"
	    "Upgrade: WebSocket\r\n\r\n";
	const char		*b = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";

	ck_assert_ptr_nonnull(req);
	ck_assert_int_gt(http_parse_request(a, strlen(a), NULL, req, NULL), 0);
	ck_assert(ws_handshake_is_upgrade(req));
	ck_assert_int_gt(http_parse_request(b, strlen(b), NULL, req, NULL), 0);
	ck_assert(!ws_handshake_is_upgrade(req));
	free(req);
}
END_TEST

static struct http_str
str(const char *s)
{
	struct http_str	 r = { s, strlen(s) };

	return r;
}

START_TEST(select_protocol)
{
	static const char *const pref[] = { "superchat", "chat", NULL };
	static const char *const upper[] = { "CHAT", NULL };
	static const char *const none[] = { NULL };

	/* The server's preference wins over the client's order. */
	ck_assert_ptr_eq(ws_handshake_select_protocol(str("chat, superchat"),
	    pref), pref[0]);
	ck_assert_ptr_eq(ws_handshake_select_protocol(str(" chat "), pref),
	    pref[1]);
	/* Names are case-sensitive. */
	ck_assert_ptr_null(ws_handshake_select_protocol(str("chat"), upper));
	ck_assert_ptr_null(ws_handshake_select_protocol(str("superchat2"),
	    pref));
	ck_assert_ptr_null(ws_handshake_select_protocol(str(""), pref));
	ck_assert_ptr_null(ws_handshake_select_protocol(str("chat"), none));
	ck_assert_ptr_null(ws_handshake_select_protocol(str("chat"), NULL));
}
END_TEST

START_TEST(key_generate)
{
	char			 k1[25], k2[25], accept[WS_KEY_ACCEPT_LEN + 1];
	char			 head[256];
	struct ws_upgrade	 up;
	const char		*why;

	ck_assert_int_eq(ws_key_generate(k1), 0);
	ck_assert_int_eq(ws_key_generate(k2), 0);
	ck_assert_uint_eq(strlen(k1), 24);
	ck_assert_str_ne(k1, k2);
	/* A generated key passes our own server check. */
	snprintf(head, sizeof(head), REQ_LINE H_HOST H_UPGRADE H_CONN
	    "Sec-WebSocket-Key: %s\r\n" H_VERSION "\r\n", k1);
	ck_assert_int_eq(check(head, &up, &why), 0);
	ck_assert_int_eq(ws_accept_key(k1, 24, accept), 0);
	ck_assert_uint_eq(strlen(accept), WS_KEY_ACCEPT_LEN);
}
END_TEST

static Suite *
handshake_suite(void)
{
	Suite	*s = suite_create("handshake");
	TCase	*tc;

	tc = tcase_create("check");
	tcase_add_test(tc, rfc_example);
	tcase_add_test(tc, accept_key_vector);
	tcase_add_test(tc, lenient_but_valid);
	tcase_add_loop_test(tc, bad_handshake, 0,
	    (int)(sizeof(bad_handshakes) / sizeof(bad_handshakes[0])));
	tcase_add_test(tc, is_upgrade);
	suite_add_tcase(s, tc);

	tc = tcase_create("helpers");
	tcase_add_test(tc, select_protocol);
	tcase_add_test(tc, key_generate);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(handshake_suite());
}
