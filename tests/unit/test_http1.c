/* Tests of the HTTP/1.1 head parser: good heads, every error status, limits. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http1.h"
#include "testutil.h"

static const struct http_limits lim_default = { 8192, 64 };

#define RFC_REQUEST \
	"GET /chat HTTP/1.1\r\n" \
	"Host: server.example.com\r\n" \
	"Upgrade: websocket\r\n" \
	"Connection: Upgrade\r\n" \
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" \
	"Origin: http://example.com\r\n" \
	"Sec-WebSocket-Protocol: chat, superchat\r\n" \
	"Sec-WebSocket-Version: 13\r\n" \
	"\r\n"

/* Parse a copy of exactly |len| bytes, so ASan sees any overread. */
static int
parse(const char *s, size_t len, const struct http_limits *lim,
    struct http_request *req, const char **reason, char **copy)
{
	*copy = (char *)tu_dup(s, len);
	return http_parse_request(*copy, len, lim, req, reason);
}

static int
slice_is(struct http_str s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

/*
 * Every proper prefix of a complete head is "need more" (or, past the
 * limit, an error), and the whole gives the same result at every split.
 */
static void
check_prefixes(const char *s, size_t len, const struct http_limits *lim,
    int want)
{
	struct http_request	*req = malloc(sizeof(*req));
	const char		*why;
	char			*c;
	size_t			 k;
	int			 rc;

	ck_assert_ptr_nonnull(req);
	for (k = 0; k < len; k++) {
		rc = parse(s, k, lim, req, &why, &c);
		free(c);
		if (want > 0 && rc != 0)
			ck_abort_msg("prefix %zu of %zu: got %d", k, len, rc);
		/* An error may show up early, but only the same one. */
		if (want < 0 && rc != 0 && rc != want)
			ck_abort_msg("prefix %zu of %zu: got %d want %d", k,
			    len, rc, want);
	}
	rc = parse(s, len, lim, req, &why, &c);
	free(c);
	ck_assert_int_eq(rc, want);
	free(req);
}

START_TEST(rfc_request)
{
	struct http_request	*req = malloc(sizeof(*req));
	const struct http_header *h;
	const char		*why = NULL;
	char			*c;
	size_t			 len = strlen(RFC_REQUEST);

	ck_assert_ptr_nonnull(req);
	ck_assert_int_eq(parse(RFC_REQUEST, len, &lim_default, req, &why, &c),
	    (int)len);
	ck_assert_uint_eq(req->head_len, len);
	ck_assert(slice_is(req->method, "GET"));
	ck_assert(slice_is(req->target, "/chat"));
	ck_assert(slice_is(req->path, "/chat"));
	ck_assert_uint_eq(req->query.len, 0);
	ck_assert_uint_eq(req->version_minor, 1);
	ck_assert_uint_eq(req->nheaders, 7);
	ck_assert(slice_is(req->headers[0].name, "Host"));
	ck_assert(slice_is(req->headers[0].value, "server.example.com"));
	ck_assert_int_eq(req->content_length, -1);
	ck_assert_int_eq(req->chunked, 0);
	h = http_header_get(req, "sec-websocket-protocol");
	ck_assert_ptr_nonnull(h);
	ck_assert(slice_is(h->value, "chat, superchat"));
	ck_assert_ptr_null(http_header_get(req, "cookie"));
	ck_assert_uint_eq(http_header_count(req, "HOST"), 1);
	ck_assert_uint_eq(http_header_count(req, "x"), 0);
	free(c);
	free(req);
	check_prefixes(RFC_REQUEST, len, &lim_default, (int)len);
}
END_TEST

START_TEST(body_follows)
{
	static const char s[] = "POST /p?x=1&y HTTP/1.0\r\n"
	    "Content-Length: 4\r\ncontent-length: 4\r\n\r\nbody";
	struct http_request	*req = malloc(sizeof(*req));
	const char		*why;
	char			*c;

	ck_assert_ptr_nonnull(req);
	ck_assert_int_eq(parse(s, sizeof(s) - 1, &lim_default, req, &why, &c),
	    (int)(sizeof(s) - 1 - 4));
	ck_assert(slice_is(req->path, "/p"));
	ck_assert(slice_is(req->query, "x=1&y"));
	ck_assert_uint_eq(req->version_minor, 0);
	ck_assert_int_eq(req->content_length, 4);
	free(c);
	free(req);
}
END_TEST

START_TEST(values_trimmed)
{
	static const char s[] = "GET /a? HTTP/1.1\r\n"
	    "X-A:   a b \t \r\nX-B:\r\nX-C: \t\r\nX-D:\xc3\xa9\r\n"
	    "Transfer-Encoding: Chunked\r\n\r\n";
	struct http_request	*req = malloc(sizeof(*req));
	const char		*why;
	char			*c;

	ck_assert_ptr_nonnull(req);
	ck_assert_int_gt(parse(s, sizeof(s) - 1, &lim_default, req, &why, &c),
	    0);
	ck_assert(slice_is(req->path, "/a"));
	ck_assert_uint_eq(req->query.len, 0);
	ck_assert(slice_is(req->headers[0].value, "a b"));
	ck_assert_uint_eq(req->headers[1].value.len, 0);
	ck_assert_uint_eq(req->headers[2].value.len, 0);
	ck_assert(slice_is(req->headers[3].value, "\xc3\xa9"));
	ck_assert_int_eq(req->chunked, 1);
	free(c);
	free(req);
}
END_TEST

/* A request head and the status the parser must return for it. */
static const struct {
	const char	*req;
	int		 status;
} bad_heads[] = {
	{ "GET / HTTP/2.0\r\n\r\n", -505 },
	{ "GET / HTTP/0.9\r\n\r\n", -505 },
	{ "GET / HTTP/3.0\r\nHost: x\r\n\r\n", -505 },
	{ "GET / HTTP/1.10\r\n\r\n", -400 },
	{ "GET / HTTP/1\r\n\r\n", -400 },
	{ "GET / http/1.1\r\n\r\n", -400 },
	{ "GET / HTTP/1.1 \r\n\r\n", -400 },
	{ "GET /\r\n\r\n", -400 },
	{ "GET\r\n\r\n", -400 },
	{ "\r\n\r\n", -400 },
	{ "\r\nGET / HTTP/1.1\r\n\r\n", -400 },
	{ "GET  / HTTP/1.1\r\n\r\n", -400 },
	{ " GET / HTTP/1.1\r\n\r\n", -400 },
	{ "G(T / HTTP/1.1\r\n\r\n", -400 },
	{ "GET http://h/ HTTP/1.1\r\n\r\n", -400 },
	{ "GET * HTTP/1.1\r\n\r\n", -400 },
	{ "GET h/ HTTP/1.1\r\n\r\n", -400 },
	{ "GET /\x7f HTTP/1.1\r\n\r\n", -400 },
	{ "GET /\xc3\xa9 HTTP/1.1\r\n\r\n", -400 },
	{ "GET /\t HTTP/1.1\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nHost : x\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nHost: x\r\n\tfolded\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\n Host: x\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nHo(st: x\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\n: x\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nNoColon\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nX: a\x01" "b\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\nHost: x\n\n", -400 },
	{ "GET / HTTP/1.1\r\nHost: x\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nHost: x\r\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nContent-Length:\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
	    -400 },
	{ "GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	    -400 },
	{ "GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", -501 },
	{ "GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", -501 },
	{ "GET / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
	    -400 },
	{ "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nTransfer-Encoding: ,\r\n\r\n", -400 },
	{ "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Length: 3\r\n\r\n", -400 },
	{ "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", -400 },
};

START_TEST(bad_head)
{
	struct http_request	*req = malloc(sizeof(*req));
	const char		*s = bad_heads[_i].req;
	const char		*why = NULL;
	char			*c;

	ck_assert_ptr_nonnull(req);
	ck_assert_int_eq(parse(s, strlen(s), &lim_default, req, &why, &c),
	    bad_heads[_i].status);
	ck_assert_ptr_nonnull(why);
	ck_assert_str_ne(http_status_text(-bad_heads[_i].status), "");
	free(c);
	free(req);
	check_prefixes(s, strlen(s), &lim_default, bad_heads[_i].status);
}
END_TEST

START_TEST(bare_lf_fails_early)
{
	static const char s[] = "GET / HTTP/1.1\nHost";
	struct http_request	*req = malloc(sizeof(*req));
	const char		*why;
	char			*c;

	/* No need to wait for the end of a head that cannot be valid. */
	ck_assert_ptr_nonnull(req);
	ck_assert_int_eq(parse(s, sizeof(s) - 1, &lim_default, req, &why, &c),
	    -400);
	free(c);
	free(req);
}
END_TEST

START_TEST(head_limit)
{
	struct http_limits	 lim = { 64, 8 };
	struct http_request	*req = malloc(sizeof(*req));
	const char		*why = NULL;
	char			 s[200], *c;
	size_t			 n;

	ck_assert_ptr_nonnull(req);
	/* A head of exactly max_head bytes is accepted. */
	strcpy(s, "GET / HTTP/1.1\r\nX: ");
	n = strlen(s);
	memset(s + n, 'a', 64 - n - 4);
	memcpy(s + 64 - 4, "\r\n\r\n", 5);
	ck_assert_uint_eq(strlen(s), 64);
	ck_assert_int_eq(parse(s, 64, &lim, req, &why, &c), 64);
	free(c);
	check_prefixes(s, 64, &lim, 64);

	/* One byte more is too large, complete or not. */
	memmove(s + 20, s + 19, 46);
	ck_assert_uint_eq(strlen(s), 65);
	ck_assert_int_eq(parse(s, 65, &lim, req, &why, &c), -431);
	ck_assert_ptr_nonnull(why);
	free(c);
	ck_assert_int_eq(parse(s, 64, &lim, req, &why, &c), -431);
	free(c);
	ck_assert_int_eq(parse(s, 63, &lim, req, &why, &c), 0);
	free(c);
	free(req);
}
END_TEST

START_TEST(header_count_limit)
{
	struct http_limits	 lim = { 8192, 3 };
	struct http_request	*req = malloc(sizeof(*req));
	const char		*why = NULL;
	const char		*three = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
	const char		*four = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n"
	    "D: 4\r\n\r\n";
	char			*c;

	ck_assert_ptr_nonnull(req);
	ck_assert_int_gt(parse(three, strlen(three), &lim, req, &why, &c), 0);
	ck_assert_uint_eq(req->nheaders, 3);
	free(c);
	ck_assert_int_eq(parse(four, strlen(four), &lim, req, &why, &c), -431);
	ck_assert_ptr_nonnull(why);
	free(c);
	free(req);
}
END_TEST

START_TEST(hard_header_cap)
{
	struct http_limits	 lim = { 1 << 20, 100000 };
	struct http_request	*req = malloc(sizeof(*req));
	struct tu_buf		 b = { 0 };
	const char		*why;
	char			*c;
	unsigned		 i;

	/* More than the array holds is refused even if the config says yes. */
	ck_assert_ptr_nonnull(req);
	tu_buf_addf(&b, "GET / HTTP/1.1\r\n");
	for (i = 0; i < HTTP_MAX_HEADERS_HARD; i++)
		tu_buf_addf(&b, "H%u: v\r\n", i);
	tu_buf_addf(&b, "\r\n");
	ck_assert_int_gt(parse((char *)b.p, b.len, &lim, req, &why, &c), 0);
	ck_assert_uint_eq(req->nheaders, HTTP_MAX_HEADERS_HARD);
	free(c);
	b.len -= 2;
	tu_buf_addf(&b, "Extra: v\r\n\r\n");
	ck_assert_int_eq(parse((char *)b.p, b.len, &lim, req, &why, &c), -431);
	free(c);
	tu_buf_free(&b);
	free(req);
}
END_TEST

START_TEST(framing_headers)
{
	struct http_request	*req = malloc(sizeof(*req));
	const char		*why;
	const char		*s;
	char			*c;

	ck_assert_ptr_nonnull(req);
	s = "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
	ck_assert_int_gt(parse(s, strlen(s), &lim_default, req, &why, &c), 0);
	ck_assert_int_eq(req->content_length, 0);
	free(c);
	s = "POST / HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\n";
	ck_assert_int_gt(parse(s, strlen(s), &lim_default, req, &why, &c), 0);
	ck_assert_int_eq(req->content_length, INT64_MAX);
	free(c);
	s = "POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n";
	ck_assert_int_eq(parse(s, strlen(s), &lim_default, req, &why, &c),
	    -400);
	free(c);
	s = "POST / HTTP/1.1\r\nTransfer-Encoding:  chunked \r\n\r\n";
	ck_assert_int_gt(parse(s, strlen(s), &lim_default, req, &why, &c), 0);
	ck_assert_int_eq(req->chunked, 1);
	ck_assert_int_eq(req->content_length, -1);
	free(c);
	free(req);
}
END_TEST

START_TEST(no_limits_given)
{
	struct http_request	*req = malloc(sizeof(*req));
	const char		*why;
	char			*c;

	ck_assert_ptr_nonnull(req);
	ck_assert_int_gt(parse(RFC_REQUEST, strlen(RFC_REQUEST), NULL, req,
	    &why, &c), 0);
	free(c);
	ck_assert_int_eq(http_parse_request("GET / HTTP/2.0\r\n\r\n", 18,
	    NULL, req, NULL), -505);
	free(req);
}
END_TEST

static struct http_str
str(const char *s)
{
	struct http_str	 r = { s, strlen(s) };

	return r;
}

START_TEST(list_next)
{
	struct http_str	 v = str(" a, ,b,,  c ,"), e;
	struct http_str	 q = str("x; p=\"a,b\\\"\", y");
	size_t		 pos = 0;

	ck_assert_int_eq(http_list_next(v, &pos, &e), 1);
	ck_assert(slice_is(e, "a"));
	ck_assert_int_eq(http_list_next(v, &pos, &e), 1);
	ck_assert(slice_is(e, "b"));
	ck_assert_int_eq(http_list_next(v, &pos, &e), 1);
	ck_assert(slice_is(e, "c"));
	ck_assert_int_eq(http_list_next(v, &pos, &e), 0);
	ck_assert_int_eq(http_list_next(v, &pos, &e), 0);

	pos = 0;
	ck_assert_int_eq(http_list_next(q, &pos, &e), 1);
	ck_assert(slice_is(e, "x; p=\"a,b\\\"\""));
	ck_assert_int_eq(http_list_next(q, &pos, &e), 1);
	ck_assert(slice_is(e, "y"));
	ck_assert_int_eq(http_list_next(q, &pos, &e), 0);

	pos = 0;
	ck_assert_int_eq(http_list_next(str(""), &pos, &e), 0);
	pos = 0;
	ck_assert_int_eq(http_list_next(str(" , \t,"), &pos, &e), 0);
}
END_TEST

START_TEST(list_has_token)
{
	ck_assert(http_list_has_token(str("keep-alive, Upgrade"), "upgrade"));
	ck_assert(http_list_has_token(str("UPGRADE"), "upgrade"));
	ck_assert(!http_list_has_token(str("upgrade2"), "upgrade"));
	ck_assert(!http_list_has_token(str("upgrad"), "upgrade"));
	ck_assert(!http_list_has_token(str(""), "upgrade"));
	ck_assert(http_list_has_token(str("a,\tb\t"), "b"));
}
END_TEST

START_TEST(str_eq)
{
	ck_assert(http_str_eq(str("Content-Length"), "content-length"));
	ck_assert(!http_str_eq(str("Content-Lengt"), "content-length"));
	ck_assert(!http_str_eq(str("Content-Lengths"), "content-length"));
	ck_assert(http_str_eq(str(""), ""));
	ck_assert(!http_str_eq(str("["), "{"));
}
END_TEST

START_TEST(status_text)
{
	ck_assert_str_eq(http_status_text(101), "Switching Protocols");
	ck_assert_str_eq(http_status_text(400), "Bad Request");
	ck_assert_str_eq(http_status_text(405), "Method Not Allowed");
	ck_assert_str_eq(http_status_text(426), "Upgrade Required");
	ck_assert_str_eq(http_status_text(431),
	    "Request Header Fields Too Large");
	ck_assert_str_eq(http_status_text(501), "Not Implemented");
	ck_assert_str_eq(http_status_text(505), "HTTP Version Not Supported");
	ck_assert_str_eq(http_status_text(999), "");
}
END_TEST

START_TEST(percent_decode)
{
	char	 out[8];
	struct {
		const char	*in;
		int		 plus;
		long		 want;
		const char	*out;
	} v[] = {
		{ "abc", 0, 3, "abc" },
		{ "a%20b", 0, 3, "a b" },
		{ "a+b", 0, 3, "a+b" },
		{ "a+b", 1, 3, "a b" },
		{ "%e2%82%AC", 0, 3, "\xe2\x82\xac" },
		{ "%41%4a%4A", 0, 3, "AJJ" },
		{ "", 0, 0, "" },
		{ "%", 0, -1, NULL },		/* broken escapes */
		{ "%4", 0, -1, NULL },
		{ "%4g", 0, -1, NULL },
		{ "%g4", 0, -1, NULL },
		{ "ab%", 0, -1, NULL },
		{ "%00", 0, -1, NULL },		/* an encoded NUL */
		{ "1234567", 0, 7, "1234567" },	/* fits with its NUL */
		{ "12345678", 0, -1, NULL },	/* does not */
		{ "%31%32%33%34%35%36%37", 0, 7, "1234567" },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		long n = http_percent_decode(v[i].in, strlen(v[i].in),
		    v[i].plus, out, sizeof(out));

		ck_assert_msg(n == v[i].want, "%s: %ld", v[i].in, n);
		if (n >= 0) {
			ck_assert_mem_eq(out, v[i].out, (size_t)n);
			ck_assert_int_eq(out[n], '\0');
		}
	}
	ck_assert_int_eq(http_percent_decode("a", 1, 0, out, 0), -1);
	ck_assert_int_eq(http_percent_decode("", 0, 0, out, 1), 0);
}
END_TEST

START_TEST(query_param)
{
	const char	*q = "since=abc%3A12&empty=&flag&x=a+b&bad=%zz&"
	    "since=second&long=0123456789";
	struct http_str	 qs = { q, strlen(q) };
	char		 out[8];

	ck_assert_int_eq(http_query_param(qs, "since", out, sizeof(out)), 6);
	ck_assert_str_eq(out, "abc:12");	/* the first one wins */
	ck_assert_int_eq(http_query_param(qs, "empty", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(http_query_param(qs, "flag", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(http_query_param(qs, "x", out, sizeof(out)), 3);
	ck_assert_str_eq(out, "a b");
	ck_assert_int_eq(http_query_param(qs, "bad", out, sizeof(out)), -2);
	ck_assert_int_eq(http_query_param(qs, "long", out, sizeof(out)), -2);
	ck_assert_int_eq(http_query_param(qs, "missing", out, sizeof(out)),
	    -1);
	ck_assert_int_eq(http_query_param(qs, "sinc", out, sizeof(out)), -1);
	ck_assert_int_eq(http_query_param(qs, "since=", out, sizeof(out)), -1);
	qs.len = 0;
	ck_assert_int_eq(http_query_param(qs, "since", out, sizeof(out)), -1);
}
END_TEST

static Suite *
http1_suite(void)
{
	Suite	*s = suite_create("http1");
	TCase	*tc;

	tc = tcase_create("parse");
	tcase_set_timeout(tc, TU_TIMEOUT);
	tcase_add_test(tc, rfc_request);
	tcase_add_test(tc, body_follows);
	tcase_add_test(tc, values_trimmed);
	tcase_add_loop_test(tc, bad_head, 0,
	    (int)(sizeof(bad_heads) / sizeof(bad_heads[0])));
	tcase_add_test(tc, bare_lf_fails_early);
	tcase_add_test(tc, framing_headers);
	tcase_add_test(tc, no_limits_given);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, head_limit);
	tcase_add_test(tc, header_count_limit);
	tcase_add_test(tc, hard_header_cap);
	suite_add_tcase(s, tc);

	tc = tcase_create("helpers");
	tcase_add_test(tc, list_next);
	tcase_add_test(tc, list_has_token);
	tcase_add_test(tc, str_eq);
	tcase_add_test(tc, status_text);
	tcase_add_test(tc, percent_decode);
	tcase_add_test(tc, query_param);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(http1_suite());
}
