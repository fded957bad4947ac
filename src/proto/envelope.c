/* The wshub.v1 JSON envelope: commands decoded, messages and replies encoded. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "proto/envelope.h"
#include "proto/frame.h"
#include "util/hex.h"

static const char envelope_hex[] = "0123456789abcdef";
static const char envelope_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The fixed parts of a "message" envelope. */
#define ENV_MSG_HEAD	"{\"op\":\"message\",\"channel\":\""
#define ENV_MSG_SEQ	"\",\"seq\":"
#define ENV_MSG_EPOCH	",\"epoch\":\""
#define ENV_MSG_TEXT	"\",\"data\":\""
#define ENV_MSG_BIN	"\",\"data_b64\":\""
#define ENV_MSG_TAIL	"\"}"
#define ENV_LIT(s)	(sizeof(s) - 1)

void
envelope_epoch_format(uint64_t epoch, char out[ENVELOPE_EPOCH_LEN + 1])
{
	for (int i = ENVELOPE_EPOCH_LEN - 1; i >= 0; i--) {
		out[i] = envelope_hex[epoch & 0xf];
		epoch >>= 4;
	}
	out[ENVELOPE_EPOCH_LEN] = '\0';
}

int
envelope_epoch_parse(const char *s, size_t len, uint64_t *epoch)
{
	if (len != ENVELOPE_EPOCH_LEN)
		return -1;
	return hex_u64(s, len, epoch);
}

/* Parse a decimal uint64 of 1..20 digits with no sign; 0 or -1. */
static int
envelope_u64_parse(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int
envelope_position_parse(const char *s, size_t len, uint64_t *epoch,
    uint64_t *seq)
{
	if (len < ENVELOPE_EPOCH_LEN + 2 || s[ENVELOPE_EPOCH_LEN] != ':')
		return -1;
	if (envelope_epoch_parse(s, ENVELOPE_EPOCH_LEN, epoch) == -1)
		return -1;
	return envelope_u64_parse(s + ENVELOPE_EPOCH_LEN + 1,
	    len - ENVELOPE_EPOCH_LEN - 1, seq);
}

/* Bytes a JSON string needs for byte |c| (valid UTF-8 passes as is). */
static inline size_t
envelope_esc_len(uint8_t c)
{
	if (c >= 0x20 && c != '"' && c != '\\')
		return 1;
	switch (c) {
	case '"': case '\\': case '\b': case '\f': case '\n': case '\r':
	case '\t':
		return 2;
	}
	return 6;
}

static size_t
envelope_esc_size(const uint8_t *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += envelope_esc_len(s[i]);
	return n;
}

static uint8_t *
envelope_esc_write(uint8_t *o, const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t c = s[i];

		if (c >= 0x20 && c != '"' && c != '\\') {
			*o++ = c;
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"':	*o++ = '"'; break;
		case '\\':	*o++ = '\\'; break;
		case '\b':	*o++ = 'b'; break;
		case '\f':	*o++ = 'f'; break;
		case '\n':	*o++ = 'n'; break;
		case '\r':	*o++ = 'r'; break;
		case '\t':	*o++ = 't'; break;
		default:
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = (uint8_t)envelope_hex[c >> 4];
			*o++ = (uint8_t)envelope_hex[c & 0xf];
		}
	}
	return o;
}

static size_t
envelope_u64_digits(uint64_t v)
{
	size_t n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

size_t
envelope_b64_size(size_t len)
{
	return (len + 2) / 3 * 4;
}

void
envelope_b64_encode(uint8_t *out, const uint8_t *in, size_t len)
{
	size_t i;

	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];

		*out++ = (uint8_t)envelope_b64[v >> 18];
		*out++ = (uint8_t)envelope_b64[(v >> 12) & 63];
		*out++ = (uint8_t)envelope_b64[(v >> 6) & 63];
		*out++ = (uint8_t)envelope_b64[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		*out++ = (uint8_t)envelope_b64[v >> 18];
		*out++ = (uint8_t)envelope_b64[(v >> 12) & 63];
		*out++ = i + 1 < len ?
		    (uint8_t)envelope_b64[(v >> 6) & 63] : '=';
		*out++ = '=';
	}
}

static int
envelope_b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long
envelope_b64_decode(uint8_t *out, const char *in, size_t len)
{
	size_t o = 0;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4], pad = 0;

		for (int k = 0; k < 4; k++) {
			/* Padding only at the very end: "xx==" or "xxx=". */
			if (in[i + k] == '=' && i + 4 == len && k >= 2 &&
			    (k == 3 || in[i + 3] == '=')) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0 || (v[k] = envelope_b64_val(in[i + k])) < 0)
				return -1;
		}
		out[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[o++] = (uint8_t)((v[1] & 15) << 4 | v[2] >> 2);
		if (pad < 1)
			out[o++] = (uint8_t)((v[2] & 3) << 6 | v[3]);
	}
	return (long)o;
}

size_t
envelope_message_size(const char *channel, size_t chlen, uint64_t seq,
    int binary, const uint8_t *data, size_t len)
{
	size_t fixed, max;

	if (chlen > SIZE_MAX / 8)
		return SIZE_MAX;
	fixed = ENV_LIT(ENV_MSG_HEAD) + ENV_LIT(ENV_MSG_SEQ) +
	    envelope_u64_digits(seq) + ENV_LIT(ENV_MSG_EPOCH) +
	    ENVELOPE_EPOCH_LEN + ENV_LIT(ENV_MSG_TAIL) +
	    envelope_esc_size((const uint8_t *)channel, chlen);
	/* Base64 takes 4/3 and escaping 6 bytes per byte at most. */
	max = (SIZE_MAX - fixed - ENV_LIT(ENV_MSG_TEXT)) / 6;
	if (len > max)
		return SIZE_MAX;
	if (binary)
		return fixed + ENV_LIT(ENV_MSG_BIN) + envelope_b64_size(len);
	return fixed + ENV_LIT(ENV_MSG_TEXT) + envelope_esc_size(data, len);
}

size_t
envelope_message_write(uint8_t *out, const char *channel, size_t chlen,
    uint64_t seq, uint64_t epoch, int binary, const uint8_t *data,
    size_t len)
{
	uint8_t *o = out;
	char digits[20];
	size_t nd = 0;

#define ENV_PUT(s)	do {						\
	memcpy(o, (s), ENV_LIT(s));					\
	o += ENV_LIT(s);						\
} while (0)
	ENV_PUT(ENV_MSG_HEAD);
	o = envelope_esc_write(o, (const uint8_t *)channel, chlen);
	ENV_PUT(ENV_MSG_SEQ);
	do {
		digits[nd++] = (char)('0' + seq % 10);
		seq /= 10;
	} while (seq > 0);
	while (nd > 0)
		*o++ = (uint8_t)digits[--nd];
	ENV_PUT(ENV_MSG_EPOCH);
	for (int i = ENVELOPE_EPOCH_LEN - 1; i >= 0; i--)
		*o++ = (uint8_t)envelope_hex[(epoch >> (i * 4)) & 0xf];
	if (binary) {
		ENV_PUT(ENV_MSG_BIN);
		envelope_b64_encode(o, data, len);
		o += envelope_b64_size(len);
	} else {
		ENV_PUT(ENV_MSG_TEXT);
		o = envelope_esc_write(o, data, len);
	}
	ENV_PUT(ENV_MSG_TAIL);
#undef ENV_PUT
	return (size_t)(o - out);
}

json_t *
envelope_reply(const char *op, json_t *id)
{
	json_t *o;

	if ((o = json_object()) == NULL)
		return NULL;
	if (json_object_set_new(o, "op", json_string(op)) == -1 ||
	    (id != NULL && json_object_set(o, "id", id) == -1)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
envelope_error(json_t *id, const char *code, const char *message)
{
	json_t *o, *msg;

	if ((o = envelope_reply("error", id)) == NULL)
		return NULL;
	/* A message quoting client text might not be UTF-8 after truncation. */
	if ((msg = json_string(message)) == NULL)
		msg = json_string("(message not shown: not UTF-8)");
	if (json_object_set_new(o, "code", json_string(code)) == -1 ||
	    json_object_set_new(o, "message", msg) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int
envelope_set_position(json_t *obj, uint64_t epoch, uint64_t seq)
{
	char hex[ENVELOPE_EPOCH_LEN + 1];

	envelope_epoch_format(epoch, hex);
	if (json_object_set_new(obj, "epoch", json_string(hex)) == -1 ||
	    json_object_set_new(obj, "seq",
	    json_integer((json_int_t)seq)) == -1)
		return -1;
	return 0;
}

size_t
envelope_dump(const json_t *obj, uint8_t *out, size_t len)
{
	return json_dumpb(obj, (char *)out, len,
	    JSON_COMPACT | JSON_ENCODE_ANY);
}

/* Record a decoding error for envelope_decode(). */
static int
envelope_fail(const char **code, char *msg, size_t msglen, const char *c,
    const char *text)
{
	*code = c;
	snprintf(msg, msglen, "%s", text);
	return -1;
}

/* A subscribe's "since": {"epoch": "<16 hex>", "seq": N} or "<epoch>:<seq>". */
static int
envelope_decode_since(json_t *since, struct envelope_cmd *cmd)
{
	json_t *e, *s;

	if (json_is_string(since))
		return envelope_position_parse(json_string_value(since),
		    json_string_length(since), &cmd->since_epoch,
		    &cmd->since_seq);
	if (!json_is_object(since))
		return -1;
	e = json_object_get(since, "epoch");
	s = json_object_get(since, "seq");
	if (!json_is_string(e) || !json_is_integer(s) ||
	    json_integer_value(s) < 0)
		return -1;
	cmd->since_seq = (uint64_t)json_integer_value(s);
	return envelope_epoch_parse(json_string_value(e), json_string_length(e),
	    &cmd->since_epoch);
}

/* The payload of a publish: "data" (any JSON value) or "data_b64". */
static int
envelope_decode_data(struct envelope_cmd *cmd, const char **code, char *msg,
    size_t msglen)
{
	json_t *d = json_object_get(cmd->root, "data");
	json_t *b = json_object_get(cmd->root, "data_b64");
	size_t n;
	long got;

	if ((d == NULL) == (b == NULL))
		return envelope_fail(code, msg, msglen, "bad_request",
		    "publish needs exactly one of data and data_b64");
	if (b != NULL) {
		if (!json_is_string(b))
			return envelope_fail(code, msg, msglen, "bad_request",
			    "data_b64 must be a base64 string");
		n = json_string_length(b);
		if ((cmd->buf = malloc(n / 4 * 3 + 1)) == NULL)
			return envelope_fail(code, msg, msglen, "internal",
			    "out of memory");
		got = envelope_b64_decode(cmd->buf, json_string_value(b), n);
		if (got < 0)
			return envelope_fail(code, msg, msglen, "bad_request",
			    "data_b64 is not valid base64");
		cmd->opcode = WS_OP_BINARY;
		cmd->data = cmd->buf;
		cmd->data_len = (size_t)got;
		return 0;
	}
	cmd->opcode = WS_OP_TEXT;
	if (json_is_string(d)) {
		/* A string is the text itself, not its JSON form. */
		cmd->data = (const uint8_t *)json_string_value(d);
		cmd->data_len = json_string_length(d);
		return 0;
	}
	/* Any other value is published as its compact JSON text. */
	if ((n = envelope_dump(d, NULL, 0)) == 0 ||
	    (cmd->buf = malloc(n)) == NULL ||
	    envelope_dump(d, cmd->buf, n) != n)
		return envelope_fail(code, msg, msglen, "internal",
		    "out of memory");
	cmd->data = cmd->buf;
	cmd->data_len = n;
	return 0;
}

static const struct {
	const char	*name;
	enum envelope_op op;
	int		 channel;	/* needs a channel */
} envelope_ops[] = {
	{ "subscribe",		ENVELOPE_SUBSCRIBE,	1 },
	{ "unsubscribe",	ENVELOPE_UNSUBSCRIBE,	1 },
	{ "publish",		ENVELOPE_PUBLISH,	1 },
	{ "ping",		ENVELOPE_PING,		0 },
	{ "refresh",		ENVELOPE_REFRESH,	0 },
};

int
envelope_decode(const uint8_t *in, size_t len, struct envelope_cmd *cmd,
    const char **code, char *msg, size_t msglen)
{
	json_error_t err;
	json_t *op, *id, *ch, *since;
	size_t i;

	memset(cmd, 0, sizeof(*cmd));
	cmd->root = json_loadb((const char *)in, len,
	    JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, &err);
	if (cmd->root == NULL) {
		*code = "bad_json";
		snprintf(msg, msglen, "invalid JSON at line %d column %d: %s",
		    err.line, err.column, err.text);
		return -1;
	}
	if (!json_is_object(cmd->root))
		return envelope_fail(code, msg, msglen, "bad_request",
		    "a command must be a JSON object");
	id = json_object_get(cmd->root, "id");
	if (id != NULL) {
		if (!json_is_string(id) && !json_is_number(id))
			return envelope_fail(code, msg, msglen, "bad_request",
			    "id must be a string or a number");
		cmd->id = id;
	}
	op = json_object_get(cmd->root, "op");
	if (!json_is_string(op))
		return envelope_fail(code, msg, msglen, "bad_request",
		    "op must be a string");
	for (i = 0; i < sizeof(envelope_ops) / sizeof(envelope_ops[0]); i++)
		if (strcmp(envelope_ops[i].name, json_string_value(op)) == 0)
			break;
	if (i == sizeof(envelope_ops) / sizeof(envelope_ops[0])) {
		*code = "unknown_op";
		snprintf(msg, msglen, "unknown op '%.64s'",
		    json_string_value(op));
		return -1;
	}
	cmd->op = envelope_ops[i].op;
	if (envelope_ops[i].channel) {
		ch = json_object_get(cmd->root, "channel");
		if (!json_is_string(ch))
			return envelope_fail(code, msg, msglen, "bad_request",
			    "channel must be a string");
		cmd->channel = json_string_value(ch);
		cmd->channel_len = json_string_length(ch);
	}
	if (cmd->op == ENVELOPE_SUBSCRIBE &&
	    (since = json_object_get(cmd->root, "since")) != NULL) {
		if (envelope_decode_since(since, cmd) == -1)
			return envelope_fail(code, msg, msglen, "bad_request",
			    "since must be {\"epoch\": \"<16 hex digits>\", "
			    "\"seq\": <integer >= 0>}");
		cmd->has_since = 1;
	}
	if (cmd->op == ENVELOPE_REFRESH) {
		json_t *tok = json_object_get(cmd->root, "token");

		if (!json_is_string(tok) || json_string_length(tok) == 0)
			return envelope_fail(code, msg, msglen, "bad_request",
			    "token must be a non-empty string");
		cmd->token = json_string_value(tok);
		cmd->token_len = json_string_length(tok);
	}
	if (cmd->op == ENVELOPE_PUBLISH)
		return envelope_decode_data(cmd, code, msg, msglen);
	return 0;
}

void
envelope_cmd_clear(struct envelope_cmd *cmd)
{
	json_decref(cmd->root);
	free(cmd->buf);
	cmd->root = cmd->id = NULL;
	cmd->buf = NULL;
	cmd->data = NULL;
}
