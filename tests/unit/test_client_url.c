/* Unit tests for the client's URL parser (src/client/url.c). */
#include "autoconf.h"

#include <check.h>
#include <string.h>

#include "client/url.h"
#include "testutil.h"

static const struct {
	const char	*in;
	int		 tls;
	const char	*host, *port, *path, *authority;
} good[] = {
	{ "ws://example.com", 0, "example.com", "80", "/", "example.com" },
	{ "ws://example.com/", 0, "example.com", "80", "/", "example.com" },
	{ "WSS://Example.COM/a/b?c=d", 1, "example.com", "443", "/a/b?c=d",
	    "Example.COM" },
	{ "ws://127.0.0.1:8080/echo", 0, "127.0.0.1", "8080", "/echo",
	    "127.0.0.1:8080" },
	{ "wss://h:443/x", 1, "h", "443", "/x", "h" },
	{ "ws://h:80", 0, "h", "80", "/", "h" },
	{ "ws://[::1]:9000/ws/news?since=ab:1", 0, "::1", "9000",
	    "/ws/news?since=ab:1", "[::1]:9000" },
	{ "wss://[2001:db8::1]/", 1, "2001:db8::1", "443", "/",
	    "[2001:db8::1]" },
	{ "ws://h?x=1", 0, "h", "80", "/?x=1", "h" },
	{ "ws://h/p#frag", 0, "h", "80", "/p", "h" },
	{ "http://h:8080/pub/chan", 0, "h", "8080", "/pub/chan", "h:8080" },
	{ "https://h/", 1, "h", "443", "/", "h" },
	{ "ws://h/%41b", 0, "h", "80", "/%41b", "h" },
};

START_TEST(parse_good)
{
	struct url	 u;
	const char	*reason = NULL;

	ck_assert_msg(url_parse(good[_i].in, &u, &reason) == 0, "%s: %s",
	    good[_i].in, reason);
	ck_assert_int_eq(u.tls, good[_i].tls);
	ck_assert_str_eq(u.host, good[_i].host);
	ck_assert_str_eq(u.port, good[_i].port);
	ck_assert_str_eq(u.path, good[_i].path);
	ck_assert_str_eq(u.authority, good[_i].authority);
	url_clear(&u);
	url_clear(&u);
}
END_TEST

static const char *const bad[] = {
	"", "example.com", "ftp://h/", "ws:/h", "ws://", "ws:///path",
	"ws://h:/", "ws://h:0/", "ws://h:65536/", "ws://h:123456/",
	"ws://h:8a/", "ws://user@h/", "ws://u:p@h/", "ws://[::1/",
	"ws://[zz::1]/", "ws://h h/", "ws://h/a b", "ws://h/\x01",
	"ws://h/\"", "ws://h]/", "ws://[::1]x/",
};

START_TEST(parse_bad)
{
	struct url	 u;
	const char	*reason = NULL;

	ck_assert_msg(url_parse(bad[_i], &u, &reason) == -1,
	    "accepted %s", bad[_i]);
	ck_assert_ptr_nonnull(reason);
	ck_assert_ptr_null(u.host);
	url_clear(&u);
}
END_TEST

START_TEST(parse_too_long)
{
	struct url	 u;
	const char	*reason = NULL;
	char		*s = malloc(URL_MAX + 32);

	ck_assert_ptr_nonnull(s);
	strcpy(s, "ws://h/");
	memset(s + 7, 'a', URL_MAX);
	s[URL_MAX + 7] = '\0';
	ck_assert_int_eq(url_parse(s, &u, &reason), -1);
	free(s);
}
END_TEST

static Suite *
url_suite(void)
{
	Suite	*s = suite_create("client_url");
	TCase	*tc = tcase_create("parse");

	tcase_add_loop_test(tc, parse_good, 0,
	    (int)(sizeof(good) / sizeof(good[0])));
	tcase_add_loop_test(tc, parse_bad, 0,
	    (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, parse_too_long);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(url_suite());
}
