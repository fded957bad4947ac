/* Unit tests for the client's check of the handshake response (src/client/response.c). */
#include "autoconf.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "client/response.h"
#include "proto/handshake.h"
#include "testutil.h"

/* The key and accept value of RFC 6455 1.3. */
#define KEY	"dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT	"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

#define OK_HEAD	"HTTP/1.1 101 Switching Protocols\r\n" \
	"Upgrade: websocket\r\nConnection: Upgrade\r\n" \
	"Sec-WebSocket-Accept: " ACCEPT "\r\n"

static const char *const protos[] = { "chat.v2", "chat.v1", NULL };

static int
check(const char *text, const char *key, int deflate, const char **reason)
{
	struct response	 r;
	int		 rc;

	rc = response_parse(text, strlen(text), &r, reason);
	ck_assert_msg(rc > 0, "%s: parse %d (%s)", text, rc,
	    rc < 0 ? *reason : "incomplete");
	ck_assert_int_eq(rc, (int)strlen(text));
	return response_validate(&r, key, protos, deflate, reason);
}

START_TEST(rfc_example)
{
	const char	*reason = NULL;
	char		 accept[WS_KEY_ACCEPT_LEN + 1];

	ck_assert_int_eq(ws_accept_key(KEY, strlen(KEY), accept), 0);
	ck_assert_str_eq(accept, ACCEPT);
	ck_assert_int_eq(check(OK_HEAD "\r\n", KEY, 0, &reason), 0);
	ck_assert_int_eq(check(OK_HEAD "Sec-WebSocket-Protocol: chat.v1\r\n"
	    "\r\n", KEY, 0, &reason), 0);
	ck_assert_int_eq(check("HTTP/1.1 101 OK\r\nupgrade:  WebSocket \r\n"
	    "connection: keep-alive, upgrade\r\nsec-websocket-accept:"
	    ACCEPT "\r\nSec-WebSocket-Extensions: permessage-deflate; "
	    "server_no_context_takeover\r\n\r\n", KEY, 1, &reason), 0);
}
END_TEST

static const struct {
	const char	*text;
	const char	*why;
} bad[] = {
	{ "HTTP/1.1 200 OK\r\n\r\n", "did not switch" },
	{ "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
	    "did not switch" },
	{ "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n", "Upgrade" },
	{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
	    "Upgrade" },
	{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n", "Connection" },
	{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\n\r\n", "Accept" },
	{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Accept: "
	    "x3JJHMbDL1EzLkh9GBhXDw==\r\n\r\n", "wrong" },
	{ OK_HEAD "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n", "repeated" },
	{ OK_HEAD "Sec-WebSocket-Protocol: chat.v3\r\n\r\n", "did not offer" },
	{ OK_HEAD "Sec-WebSocket-Protocol: chat.v1, chat.v2\r\n\r\n",
	    "more than one" },
	{ OK_HEAD "Sec-WebSocket-Protocol: chat.v1\r\n"
	    "Sec-WebSocket-Protocol: chat.v1\r\n\r\n", "more than one" },
	{ OK_HEAD "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n\r\n",
	    "extension" },
	{ OK_HEAD "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
	    "extension" },
};

START_TEST(refused)
{
	const char	*reason = NULL;

	ck_assert_int_eq(check(bad[_i].text, KEY, 0, &reason), -1);
	ck_assert_ptr_nonnull(reason);
	ck_assert_msg(strstr(reason, bad[_i].why) != NULL,
	    "case %d: reason \"%s\" does not mention \"%s\"", _i, reason,
	    bad[_i].why);
}
END_TEST

/* RFC 8441: a 2xx answers the extended CONNECT; no accept key. */
START_TEST(http2_status)
{
	const char	*reason = NULL;

	ck_assert_int_eq(check("HTTP/1.1 200 OK\r\n\r\n", NULL, 0, &reason), 0);
	ck_assert_int_eq(check("HTTP/1.1 200 OK\r\nsec-websocket-protocol: "
	    "chat.v2\r\n\r\n", NULL, 0, &reason), 0);
	ck_assert_int_eq(check("HTTP/1.1 404 Not Found\r\n\r\n", NULL, 0,
	    &reason), -1);
	ck_assert_int_eq(check("HTTP/1.1 101 Switching\r\n\r\n", NULL, 0,
	    &reason), -1);
	ck_assert_int_eq(check("HTTP/1.1 200 OK\r\nsec-websocket-protocol: "
	    "nope\r\n\r\n", NULL, 0, &reason), -1);
}
END_TEST

/* Any split of a valid head gives "more" until the last byte. */
START_TEST(parse_every_split)
{
	const char	*text = OK_HEAD "X-Conn-Id: 42\r\n\r\n";
	struct response	 r;
	const char	*reason;
	size_t		 n, len = strlen(text);
	char		*copy;

	for (n = 0; n < len; n++) {
		copy = (char *)tu_dup(text, n);
		ck_assert_int_eq(response_parse(copy, n, &r, &reason), 0);
		free(copy);
	}
	copy = (char *)tu_dup(text, len);
	ck_assert_int_eq(response_parse(copy, len, &r, &reason), (int)len);
	ck_assert_int_eq(r.status, 101);
	ck_assert_uint_eq(r.nheaders, 4);
	ck_assert_ptr_nonnull(response_header(&r, "x-conn-id"));
	ck_assert_int_eq(response_header(&r, "x-conn-id")->value.len, 2);
	free(copy);
}
END_TEST

static const char *const malformed[] = {
	"GET / HTTP/1.1\r\n\r\n",
	"HTTP/2 101\r\n\r\n",
	"HTTP/1.1 10 Short\r\n\r\n",
	"HTTP/1.1 1O1 Letter\r\n\r\n",
	"HTTP/1.1 101 OK\r\nNoColon\r\n\r\n",
	"HTTP/1.1 101 OK\r\n: empty name\r\n\r\n",
	"HTTP/1.1 101 OK\r\nBad Name: x\r\n\r\n",
	"HTTP/1.1 101 OK\r\nA: b\r\n folded\r\n\r\n",
	"<html>",
};

START_TEST(parse_malformed)
{
	struct response	 r;
	const char	*reason = NULL;

	ck_assert_int_eq(response_parse(malformed[_i], strlen(malformed[_i]),
	    &r, &reason), -1);
	ck_assert_ptr_nonnull(reason);
}
END_TEST

START_TEST(parse_limits)
{
	struct response	 r;
	const char	*reason = NULL;
	char		*big;
	size_t		 n = 0, i;

	/* A head that never ends fails at the limit, not later. */
	big = malloc(RESPONSE_HEAD_MAX + 64);
	ck_assert_ptr_nonnull(big);
	n = (size_t)snprintf(big, 64, "HTTP/1.1 101 OK\r\nX: ");
	memset(big + n, 'a', RESPONSE_HEAD_MAX + 10 - n);
	ck_assert_int_eq(response_parse(big, RESPONSE_HEAD_MAX + 10, &r,
	    &reason), -1);
	/* Too many header lines. */
	n = (size_t)snprintf(big, 64, "HTTP/1.1 101 OK\r\n");
	for (i = 0; i <= RESPONSE_HEADERS_MAX; i++)
		n += (size_t)snprintf(big + n, 16, "A: b\r\n");
	n += (size_t)snprintf(big + n, 4, "\r\n");
	ck_assert_int_eq(response_parse(big, n, &r, &reason), -1);
	free(big);
}
END_TEST

static Suite *
response_suite(void)
{
	Suite	*s = suite_create("client_handshake");
	TCase	*tc = tcase_create("validate");

	tcase_add_test(tc, rfc_example);
	tcase_add_loop_test(tc, refused, 0,
	    (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, http2_status);
	suite_add_tcase(s, tc);
	tc = tcase_create("parse");
	tcase_add_test(tc, parse_every_split);
	tcase_add_loop_test(tc, parse_malformed, 0,
	    (int)(sizeof(malformed) / sizeof(malformed[0])));
	tcase_add_test(tc, parse_limits);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(response_suite());
}
