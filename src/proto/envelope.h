/* The wshub.v1 JSON envelope: commands decoded, messages and replies encoded. */
#ifndef WSH_PROTO_ENVELOPE_H
#define WSH_PROTO_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* The subprotocol name clients offer in Sec-WebSocket-Protocol. */
#define ENVELOPE_PROTOCOL	"wshub.v1"

/* Epochs as text: exactly 16 hex digits. */
#define ENVELOPE_EPOCH_LEN	16

/* A position as text, "<epoch>:<seq>": 16 + 1 + 20 digits. */
#define ENVELOPE_POSITION_MAX	(ENVELOPE_EPOCH_LEN + 1 + 20)

enum envelope_op {
	ENVELOPE_SUBSCRIBE,
	ENVELOPE_UNSUBSCRIBE,
	ENVELOPE_PUBLISH,
	ENVELOPE_PING,
	ENVELOPE_REFRESH	/* a new credential: "token" */
};

/*
 * A decoded client command. Strings point into |root| (or |buf|) and live
 * until envelope_cmd_clear().
 */
struct envelope_cmd {
	enum envelope_op op;
	json_t		*root;
	json_t		*id;		/* borrowed from root; NULL when absent */
	const char	*channel;	/* not validated beyond being a string */
	size_t		 channel_len;
	int		 has_since;
	uint64_t	 since_epoch;
	uint64_t	 since_seq;
	unsigned	 opcode;	/* publish: WS_OP_TEXT or WS_OP_BINARY */
	const uint8_t	*data;		/* publish payload */
	size_t		 data_len;
	uint8_t		*buf;		/* owned storage behind data, or NULL */
	const char	*token;		/* refresh: the new credential */
	size_t		 token_len;
};

/*
 * Decode the command in the |len| bytes of text at |in|. Returns 0 and
 * fills |cmd|, or -1 with a stable error code ("bad_json", "bad_request",
 * "unknown_op") in |*code| and a message in |msg| (|msglen| bytes). Either
 * way |cmd->id| is set when the text was an object with a usable "id", so
 * the error can name the command; call envelope_cmd_clear() in both cases.
 */
int	envelope_decode(const uint8_t *in, size_t len, struct envelope_cmd *cmd,
	    const char **code, char *msg, size_t msglen);

/* Release what envelope_decode() kept; a cleared command may be cleared again. */
void	envelope_cmd_clear(struct envelope_cmd *cmd);

/* Write |epoch| as 16 lowercase hex digits and a NUL into |out|. */
void	envelope_epoch_format(uint64_t epoch, char out[ENVELOPE_EPOCH_LEN + 1]);

/* Parse exactly 16 hex digits (either case). Returns 0 or -1. */
int	envelope_epoch_parse(const char *s, size_t len, uint64_t *epoch);

/*
 * Parse a position "<epoch>:<seq>" (16 hex digits, a colon, a decimal
 * sequence number without sign or leading blanks). Returns 0 or -1.
 */
int	envelope_position_parse(const char *s, size_t len, uint64_t *epoch,
	    uint64_t *seq);

/*
 * The size of the "message" envelope of |len| bytes of |data| published on
 * |channel| (|chlen| bytes) as |seq|: text goes in "data" as a JSON string,
 * binary (|binary| set) in "data_b64" as base64. SIZE_MAX when it would not
 * fit a size_t.
 */
size_t	envelope_message_size(const char *channel, size_t chlen, uint64_t seq,
	    int binary, const uint8_t *data, size_t len);

/*
 * Write that envelope into |out|, which has exactly the size computed by
 * envelope_message_size() for the same arguments; returns the bytes
 * written. The encoder makes two passes over |data| and never allocates,
 * so a publish encodes straight into the shared frame.
 */
size_t	envelope_message_write(uint8_t *out, const char *channel, size_t chlen,
	    uint64_t seq, uint64_t epoch, int binary, const uint8_t *data,
	    size_t len);

/*
 * A new reply object {"op": |op|} with "id" set to |id| when it is not
 * NULL, or NULL when out of memory. The caller adds fields and dumps it.
 */
json_t	*envelope_reply(const char *op, json_t *id);

/*
 * {"op":"error","id":|id|,"code":|code|,"message":|message|}, or NULL when
 * out of memory.
 */
json_t	*envelope_error(json_t *id, const char *code, const char *message);

/*
 * Set "epoch" of |obj| to |epoch| as 16 hex digits and "seq" to |seq|.
 * Returns 0, or -1 when out of memory.
 */
int	envelope_set_position(json_t *obj, uint64_t epoch, uint64_t seq);

/*
 * Dump |obj| compactly into |out| (|len| bytes); returns the size needed,
 * so a first call with |len| 0 sizes the buffer. 0 on failure.
 */
size_t	envelope_dump(const json_t *obj, uint8_t *out, size_t len);

/*
 * Base64 (RFC 4648, with padding): the encoded size of |len| bytes, and the
 * encoder writing exactly that many characters (no NUL).
 */
size_t	envelope_b64_size(size_t len);
void	envelope_b64_encode(uint8_t *out, const uint8_t *in, size_t len);

/*
 * Decode base64 text (padding required, no blanks) into |out|, which holds
 * at least |len| / 4 * 3 bytes. Returns the bytes written, or -1 when the
 * text is not base64.
 */
long	envelope_b64_decode(uint8_t *out, const char *in, size_t len);

#endif
