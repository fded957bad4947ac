/* Unit tests for the wshub.v1 JSON envelope: commands, messages, replies, base64. */
#include "autoconf.h"

#include <jansson.h>

#include "proto/envelope.h"
#include "proto/frame.h"

#include "testutil.h"

#define TE_EPOCH	"0123456789abcdef"

/* Decode |text|; returns the result and leaves the code in |*code|. */
static int
te_decode(const char *text, struct envelope_cmd *cmd, const char **code)
{
	char msg[160];
	uint8_t *in = tu_dup(text, strlen(text));	/* no NUL after it */
	int rv;

	*code = NULL;
	msg[0] = '\0';
	rv = envelope_decode(in, strlen(text), cmd, code, msg, sizeof(msg));
	if (rv == -1) {
		ck_assert_ptr_nonnull(*code);
		ck_assert_uint_gt(strlen(msg), 0);
	}
	free(in);
	return rv;
}

/* |text| must fail with |want|; the id, when |id| is set, must survive. */
static void
te_fail(const char *text, const char *want, const char *id)
{
	struct envelope_cmd cmd;
	const char *code;

	ck_assert_msg(te_decode(text, &cmd, &code) == -1, "accepted %s", text);
	ck_assert_msg(strcmp(code, want) == 0, "%s: got %s, want %s", text,
	    code, want);
	if (id != NULL) {
		ck_assert_ptr_nonnull(cmd.id);
		ck_assert_str_eq(json_string_value(cmd.id), id);
	}
	envelope_cmd_clear(&cmd);
	envelope_cmd_clear(&cmd);
}

START_TEST(decode_subscribe)
{
	struct envelope_cmd cmd;
	const char *code;

	ck_assert_int_eq(te_decode("{\"op\":\"subscribe\",\"channel\":\"news\","
	    "\"id\":7}", &cmd, &code), 0);
	ck_assert_int_eq(cmd.op, ENVELOPE_SUBSCRIBE);
	ck_assert_uint_eq(cmd.channel_len, 4);
	ck_assert_int_eq(memcmp(cmd.channel, "news", 4), 0);
	ck_assert_int_eq(json_integer_value(cmd.id), 7);
	ck_assert_int_eq(cmd.has_since, 0);
	envelope_cmd_clear(&cmd);

	ck_assert_int_eq(te_decode("{\"op\":\"subscribe\",\"channel\":\"n\","
	    "\"since\":{\"epoch\":\"" TE_EPOCH "\",\"seq\":42},\"x\":[1]}",
	    &cmd, &code), 0);
	ck_assert_int_eq(cmd.has_since, 1);
	ck_assert_uint_eq(cmd.since_epoch, 0x0123456789abcdefULL);
	ck_assert_uint_eq(cmd.since_seq, 42);
	ck_assert_ptr_null(cmd.id);
	envelope_cmd_clear(&cmd);

	/* The URL form of a position is accepted too; hex in either case. */
	ck_assert_int_eq(te_decode("{\"op\":\"subscribe\",\"channel\":\"n\","
	    "\"since\":\"0123456789ABCDEF:0\"}", &cmd, &code), 0);
	ck_assert_uint_eq(cmd.since_epoch, 0x0123456789abcdefULL);
	ck_assert_uint_eq(cmd.since_seq, 0);
	envelope_cmd_clear(&cmd);

	ck_assert_int_eq(te_decode("{\"op\":\"unsubscribe\",\"channel\":\"n\","
	    "\"id\":\"u1\"}", &cmd, &code), 0);
	ck_assert_int_eq(cmd.op, ENVELOPE_UNSUBSCRIBE);
	ck_assert_str_eq(json_string_value(cmd.id), "u1");
	envelope_cmd_clear(&cmd);

	ck_assert_int_eq(te_decode("{\"op\":\"ping\",\"id\":1.5}", &cmd,
	    &code), 0);
	ck_assert_int_eq(cmd.op, ENVELOPE_PING);
	envelope_cmd_clear(&cmd);
}
END_TEST

START_TEST(decode_publish)
{
	struct envelope_cmd cmd;
	const char *code;

	/* A string is the text itself. */
	ck_assert_int_eq(te_decode("{\"op\":\"publish\",\"channel\":\"n\","
	    "\"data\":\"a\\\"b\\u0000c\"}", &cmd, &code), 0);
	ck_assert_int_eq(cmd.op, ENVELOPE_PUBLISH);
	ck_assert_uint_eq(cmd.opcode, WS_OP_TEXT);
	ck_assert_uint_eq(cmd.data_len, 5);
	ck_assert_int_eq(memcmp(cmd.data, "a\"b\0c", 5), 0);
	envelope_cmd_clear(&cmd);

	/* Any other value is published as its compact JSON text. */
	ck_assert_int_eq(te_decode("{\"op\":\"publish\",\"channel\":\"n\","
	    "\"data\": { \"k\" : [1, 2.5, null, true] }}", &cmd, &code), 0);
	ck_assert_uint_eq(cmd.opcode, WS_OP_TEXT);
	ck_assert_uint_eq(cmd.data_len, strlen("{\"k\":[1,2.5,null,true]}"));
	ck_assert_int_eq(memcmp(cmd.data, "{\"k\":[1,2.5,null,true]}",
	    cmd.data_len), 0);
	envelope_cmd_clear(&cmd);

	ck_assert_int_eq(te_decode("{\"op\":\"publish\",\"channel\":\"n\","
	    "\"data\":17}", &cmd, &code), 0);
	ck_assert_uint_eq(cmd.data_len, 2);
	envelope_cmd_clear(&cmd);

	ck_assert_int_eq(te_decode("{\"op\":\"publish\",\"channel\":\"n\","
	    "\"data_b64\":\"AP8A\"}", &cmd, &code), 0);
	ck_assert_uint_eq(cmd.opcode, WS_OP_BINARY);
	ck_assert_uint_eq(cmd.data_len, 3);
	ck_assert_int_eq(memcmp(cmd.data, "\x00\xff\x00", 3), 0);
	envelope_cmd_clear(&cmd);

	ck_assert_int_eq(te_decode("{\"op\":\"publish\",\"channel\":\"n\","
	    "\"data_b64\":\"\"}", &cmd, &code), 0);
	ck_assert_uint_eq(cmd.opcode, WS_OP_BINARY);
	ck_assert_uint_eq(cmd.data_len, 0);
	envelope_cmd_clear(&cmd);
}
END_TEST

START_TEST(decode_errors)
{
	te_fail("", "bad_json", NULL);
	te_fail("{\"op\":\"ping\"", "bad_json", NULL);
	te_fail("{\"op\":\"ping\"} x", "bad_json", NULL);
	te_fail("{\"op\":\"ping\",\"op\":\"ping\"}", "bad_json", NULL);
	te_fail("[1]", "bad_request", NULL);
	te_fail("\"ping\"", "bad_request", NULL);
	te_fail("{}", "bad_request", NULL);
	te_fail("{\"op\":1,\"id\":\"a\"}", "bad_request", "a");
	te_fail("{\"op\":\"dance\",\"id\":\"a\"}", "unknown_op", "a");
	te_fail("{\"op\":\"ping\",\"id\":{}}", "bad_request", NULL);
	te_fail("{\"op\":\"ping\",\"id\":[1]}", "bad_request", NULL);
	te_fail("{\"op\":\"subscribe\",\"id\":\"a\"}", "bad_request", "a");
	te_fail("{\"op\":\"subscribe\",\"channel\":5}", "bad_request", NULL);
	te_fail("{\"op\":\"subscribe\",\"channel\":\"n\",\"since\":5}",
	    "bad_request", NULL);
	te_fail("{\"op\":\"subscribe\",\"channel\":\"n\",\"since\":{\"epoch\":"
	    "\"0123456789abcde\",\"seq\":1},\"id\":\"s\"}", "bad_request", "s");
	te_fail("{\"op\":\"subscribe\",\"channel\":\"n\",\"since\":{\"epoch\":"
	    "\"0123456789abcdeg\",\"seq\":1}}", "bad_request", NULL);
	te_fail("{\"op\":\"subscribe\",\"channel\":\"n\",\"since\":{\"epoch\":"
	    "\"" TE_EPOCH "\",\"seq\":-1}}", "bad_request", NULL);
	te_fail("{\"op\":\"subscribe\",\"channel\":\"n\",\"since\":{\"epoch\":"
	    "\"" TE_EPOCH "\",\"seq\":\"1\"}}", "bad_request", NULL);
	te_fail("{\"op\":\"subscribe\",\"channel\":\"n\",\"since\":{\"epoch\":"
	    "\"" TE_EPOCH "\"}}", "bad_request", NULL);
	te_fail("{\"op\":\"subscribe\",\"channel\":\"n\",\"since\":\"x:1\"}",
	    "bad_request", NULL);
	te_fail("{\"op\":\"publish\",\"channel\":\"n\",\"id\":\"p\"}",
	    "bad_request", "p");
	te_fail("{\"op\":\"publish\",\"channel\":\"n\",\"data\":1,"
	    "\"data_b64\":\"AA==\"}", "bad_request", NULL);
	te_fail("{\"op\":\"publish\",\"channel\":\"n\",\"data_b64\":1}",
	    "bad_request", NULL);
	te_fail("{\"op\":\"publish\",\"channel\":\"n\",\"data_b64\":\"AA=\"}",
	    "bad_request", NULL);
	te_fail("{\"op\":\"publish\",\"channel\":\"n\",\"data_b64\":\"A!==\"}",
	    "bad_request", NULL);
}
END_TEST

START_TEST(positions)
{
	uint64_t e, s;
	char hex[ENVELOPE_EPOCH_LEN + 1];

	ck_assert_int_eq(envelope_position_parse(TE_EPOCH ":0", 18, &e, &s),
	    0);
	ck_assert_uint_eq(e, 0x0123456789abcdefULL);
	ck_assert_uint_eq(s, 0);
	ck_assert_int_eq(envelope_position_parse(
	    "ffffffffffffffff:18446744073709551615", 37, &e, &s), 0);
	ck_assert_uint_eq(e, UINT64_MAX);
	ck_assert_uint_eq(s, UINT64_MAX);
	ck_assert_int_eq(envelope_position_parse(
	    "ffffffffffffffff:18446744073709551616", 37, &e, &s), -1);
	ck_assert_int_eq(envelope_position_parse(TE_EPOCH ":", 17, &e, &s), -1);
	ck_assert_int_eq(envelope_position_parse(TE_EPOCH "-1", 18, &e, &s),
	    -1);
	ck_assert_int_eq(envelope_position_parse(TE_EPOCH ":+1", 19, &e, &s),
	    -1);
	ck_assert_int_eq(envelope_position_parse(TE_EPOCH ": 1", 19, &e, &s),
	    -1);
	ck_assert_int_eq(envelope_position_parse("123:4", 5, &e, &s), -1);
	envelope_epoch_format(0xabcdefULL, hex);
	ck_assert_str_eq(hex, "0000000000abcdef");
	ck_assert_int_eq(envelope_epoch_parse(hex, 16, &e), 0);
	ck_assert_uint_eq(e, 0xabcdef);
}
END_TEST

START_TEST(base64_vectors)
{
	/* RFC 4648 section 10. */
	static const char *vec[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	uint8_t out[16];

	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		size_t n = strlen(vec[i][0]), en = strlen(vec[i][1]);

		ck_assert_uint_eq(envelope_b64_size(n), en);
		envelope_b64_encode(out, (const uint8_t *)vec[i][0], n);
		ck_assert_int_eq(memcmp(out, vec[i][1], en), 0);
		ck_assert_int_eq(envelope_b64_decode(out, vec[i][1], en),
		    (long)n);
		ck_assert_int_eq(memcmp(out, vec[i][0], n), 0);
	}
	ck_assert_int_eq(envelope_b64_decode(out, "Zg=", 3), -1);
	ck_assert_int_eq(envelope_b64_decode(out, "Z===", 4), -1);
	ck_assert_int_eq(envelope_b64_decode(out, "Zg=a", 4), -1);
	ck_assert_int_eq(envelope_b64_decode(out, "Zg==Zg==", 8), -1);
	ck_assert_int_eq(envelope_b64_decode(out, "Zm 9", 4), -1);
}
END_TEST

/* Encode a message envelope and parse it back with jansson. */
static json_t *
te_message(const char *ch, uint64_t seq, int binary, const void *data,
    size_t len)
{
	size_t n = envelope_message_size(ch, strlen(ch), seq, binary, data,
	    len);
	uint8_t *buf = malloc(n);
	json_error_t err;
	json_t *j;

	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(envelope_message_write(buf, ch, strlen(ch), seq,
	    0xfedcba9876543210ULL, binary, data, len), n);
	j = json_loadb((const char *)buf, n, JSON_ALLOW_NUL, &err);
	ck_assert_msg(j != NULL, "%.*s: %s", (int)n, buf, err.text);
	free(buf);
	ck_assert_str_eq(json_string_value(json_object_get(j, "op")),
	    "message");
	ck_assert_str_eq(json_string_value(json_object_get(j, "channel")), ch);
	ck_assert_str_eq(json_string_value(json_object_get(j, "epoch")),
	    "fedcba9876543210");
	return j;
}

START_TEST(message_envelopes)
{
	uint8_t all[256];
	json_t *j, *d;
	char text[] = "quote \" backslash \\ nl \n tab \t ctl \x01\x1f del \x7f "
	    "caf\xc3\xa9 \xe2\x82\xac";

	j = te_message("news", 0, 0, "", 0);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "seq")), 0);
	ck_assert_str_eq(json_string_value(json_object_get(j, "data")), "");
	json_decref(j);

	j = te_message("a.b:c@d=e+f-g_h", UINT64_MAX / 2, 0, text,
	    strlen(text));
	ck_assert_uint_eq((uint64_t)json_integer_value(json_object_get(j,
	    "seq")), UINT64_MAX / 2);
	ck_assert_str_eq(json_string_value(json_object_get(j, "data")), text);
	ck_assert_ptr_null(json_object_get(j, "data_b64"));
	json_decref(j);

	/* Every byte value, including NUL, survives text escaping. */
	for (int i = 0; i < 128; i++)
		all[i] = (uint8_t)i;
	j = te_message("n", 1, 0, all, 128);
	d = json_object_get(j, "data");
	ck_assert_uint_eq(json_string_length(d), 128);
	ck_assert_int_eq(memcmp(json_string_value(d), all, 128), 0);
	json_decref(j);

	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)(255 - i);
	for (size_t len = 0; len <= 7; len++) {
		uint8_t back[8];

		j = te_message("bin", 9, 1, all, len);
		d = json_object_get(j, "data_b64");
		ck_assert_ptr_nonnull(d);
		ck_assert_ptr_null(json_object_get(j, "data"));
		ck_assert_int_eq(envelope_b64_decode(back, json_string_value(d),
		    json_string_length(d)), (long)len);
		ck_assert_int_eq(memcmp(back, all, len), 0);
		json_decref(j);
	}
}
END_TEST

START_TEST(replies)
{
	json_t *id = json_integer(5), *o;
	uint8_t buf[256];
	size_t n;

	o = envelope_error(id, "bad_channel", "invalid channel name");
	ck_assert_ptr_nonnull(o);
	n = envelope_dump(o, NULL, 0);
	ck_assert_uint_lt(n, sizeof(buf));
	ck_assert_uint_eq(envelope_dump(o, buf, sizeof(buf)), n);
	ck_assert_int_eq(memcmp(buf, "{\"op\":\"error\",\"id\":5,\"code\":"
	    "\"bad_channel\",\"message\":\"invalid channel name\"}", n), 0);
	json_decref(o);

	/* A message that is not UTF-8 is replaced, not lost with the reply. */
	o = envelope_error(NULL, "unknown_op", "unknown op '\xc3'");
	ck_assert_ptr_nonnull(o);
	ck_assert_ptr_null(json_object_get(o, "id"));
	ck_assert_ptr_nonnull(json_object_get(o, "message"));
	json_decref(o);

	o = envelope_reply("ack", id);
	ck_assert_int_eq(envelope_set_position(o, 0x10, 3), 0);
	n = envelope_dump(o, buf, sizeof(buf));
	ck_assert_int_eq(memcmp(buf, "{\"op\":\"ack\",\"id\":5,\"epoch\":"
	    "\"0000000000000010\",\"seq\":3}", n), 0);
	json_decref(o);
	json_decref(id);
}
END_TEST

static Suite *
envelope_suite(void)
{
	Suite *s = suite_create("envelope");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, TU_TIMEOUT);
	tcase_add_test(tc, decode_subscribe);
	tcase_add_test(tc, decode_publish);
	tcase_add_test(tc, decode_errors);
	tcase_add_test(tc, positions);
	tcase_add_test(tc, base64_vectors);
	tcase_add_test(tc, message_envelopes);
	tcase_add_test(tc, replies);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(envelope_suite());
}
