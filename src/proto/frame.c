/* WebSocket frame decoding and encoding without I/O (RFC 6455 section 5.2). */
#include <stdint.h>
#include <string.h>

#include "proto/frame.h"

/*
 * The errors a frame can fail with. The parser keeps only the index, one
 * byte instead of a code and a pointer, since it lives in every connection.
 */
enum frame_err {
	FRAME_OK,
	FRAME_ERR_RSV,
	FRAME_ERR_OPCODE,
	FRAME_ERR_CTL_FRAGMENTED,
	FRAME_ERR_CTL_LONG,
	FRAME_ERR_UNMASKED,
	FRAME_ERR_MASKED,
	FRAME_ERR_LEN16_SHORT,
	FRAME_ERR_LEN64_HIGH,
	FRAME_ERR_LEN64_SHORT,
	FRAME_ERR_TOO_BIG
};

static const struct {
	uint16_t	 code;
	const char	*reason;
} frame_errors[] = {
	[FRAME_OK] = { 0, NULL },
	[FRAME_ERR_RSV] = { WS_CLOSE_PROTOCOL,
	    "reserved bit set without a negotiated extension" },
	[FRAME_ERR_OPCODE] = { WS_CLOSE_PROTOCOL, "reserved opcode" },
	[FRAME_ERR_CTL_FRAGMENTED] = { WS_CLOSE_PROTOCOL,
	    "fragmented control frame" },
	[FRAME_ERR_CTL_LONG] = { WS_CLOSE_PROTOCOL,
	    "control frame payload longer than 125 bytes" },
	[FRAME_ERR_UNMASKED] = { WS_CLOSE_PROTOCOL,
	    "unmasked frame from a client" },
	[FRAME_ERR_MASKED] = { WS_CLOSE_PROTOCOL,
	    "masked frame from a server" },
	[FRAME_ERR_LEN16_SHORT] = { WS_CLOSE_PROTOCOL,
	    "16-bit length used for a short payload" },
	[FRAME_ERR_LEN64_HIGH] = { WS_CLOSE_PROTOCOL,
	    "64-bit length with the high bit set" },
	[FRAME_ERR_LEN64_SHORT] = { WS_CLOSE_PROTOCOL,
	    "64-bit length used for a short payload" },
	[FRAME_ERR_TOO_BIG] = { WS_CLOSE_TOO_BIG,
	    "frame larger than the limit" },
};

void
ws_frame_parser_init(struct ws_frame_parser *p, enum ws_role role,
    uint64_t max_frame)
{
	memset(p, 0, sizeof(*p));
	p->state = WS_FS_HEADER;
	p->role = (uint8_t)role;
	p->max_frame = max_frame;
}

uint16_t
ws_frame_parser_error(const struct ws_frame_parser *p, const char **reason)
{
	*reason = frame_errors[p->err].reason;
	return frame_errors[p->err].code;
}

/* Make the error sticky and report it. */
static size_t
frame_fail(struct ws_frame_parser *p, struct ws_frame_event *ev, size_t used,
    enum frame_err err)
{
	p->state = WS_FS_ERROR;
	p->err = (uint8_t)err;
	ev->type = WS_FEV_ERROR;
	return used;
}

/*
 * Check the two fixed header bytes as soon as they are in, so a bad frame
 * fails before its extended length or mask arrives. The first byte is
 * already decoded into fin, rsv and opcode; |b1| is the second.
 */
static enum frame_err
frame_check_fixed(const struct ws_frame_parser *p, uint8_t b1)
{
	uint8_t	 opcode = p->opcode;

	if ((p->rsv & ~p->rsv_allowed) != 0)
		return FRAME_ERR_RSV;
	if ((opcode >= 0x3 && opcode <= 0x7) || opcode >= 0xb)
		return FRAME_ERR_OPCODE;
	if (ws_opcode_is_control(opcode)) {
		if (!p->fin)
			return FRAME_ERR_CTL_FRAGMENTED;
		if ((b1 & 0x7f) > WS_CONTROL_MAX)
			return FRAME_ERR_CTL_LONG;
	}
	if (p->role == WS_ROLE_SERVER && !(b1 & 0x80))
		return FRAME_ERR_UNMASKED;
	if (p->role == WS_ROLE_CLIENT && (b1 & 0x80))
		return FRAME_ERR_MASKED;
	return FRAME_OK;
}

/* Bytes of extended length that the 7-bit length field announces. */
static uint8_t
frame_ext_len(uint8_t len7)
{
	if (len7 == 126)
		return 2;
	if (len7 == 127)
		return 8;
	return 0;
}

/*
 * Check the length of a complete header; below 126 the 7-bit field is the
 * length, else |remaining| holds the extended length read.
 */
static enum frame_err
frame_check_length(struct ws_frame_parser *p)
{
	if (p->len7 == 126) {
		if (p->remaining < 126)
			return FRAME_ERR_LEN16_SHORT;
	} else if (p->len7 == 127) {
		if (p->remaining >> 63)
			return FRAME_ERR_LEN64_HIGH;
		if (p->remaining <= 0xffff)
			return FRAME_ERR_LEN64_SHORT;
	} else
		p->remaining = p->len7;

	if (p->max_frame != 0 && p->remaining > p->max_frame)
		return FRAME_ERR_TOO_BIG;
	return FRAME_OK;
}

/*
 * Unmask a payload chunk, then turn the key by the chunk's length so the
 * next chunk starts at mask[0] again.
 */
static void
frame_unmask(struct ws_frame_parser *p, uint8_t *buf, size_t len)
{
	uint8_t		 pos = 0, key[4];
	unsigned	 j;

	ws_mask(buf, len, p->mask, &pos);
	if (pos != 0) {
		for (j = 0; j < 4; j++)
			key[j] = p->mask[(pos + j) & 3];
		memcpy(p->mask, key, sizeof(key));
	}
}

size_t
ws_frame_parse(struct ws_frame_parser *p, uint8_t *in, size_t len,
    struct ws_frame_event *ev)
{
	enum frame_err	 err;
	size_t		 used = 0, n;
	uint8_t		 b, ext_end, need;

	ev->type = WS_FEV_NONE;
	ev->data = NULL;
	ev->len = 0;

	switch (p->state) {
	case WS_FS_ERROR:
		ev->type = WS_FEV_ERROR;
		return 0;
	case WS_FS_END:
		p->state = WS_FS_HEADER;
		p->hdr_len = 0;
		ev->type = WS_FEV_END;
		return 0;
	case WS_FS_PAYLOAD:
		if (len == 0)
			return 0;
		n = len;
		if (n > p->remaining)
			n = (size_t)p->remaining;
		/* Only a client masks; frame_check_fixed() made sure of it. */
		if (p->role == WS_ROLE_SERVER)
			frame_unmask(p, in, n);
		p->remaining -= n;
		if (p->remaining == 0)
			p->state = WS_FS_END;
		ev->type = WS_FEV_PAYLOAD;
		ev->data = in;
		ev->len = n;
		return n;
	case WS_FS_HEADER:
	default:
		if (len == 0)
			return 0;
		break;
	}

	/*
	 * Decode the header as its bytes arrive, whatever the pieces: the
	 * fixed two bytes first, then exactly what they announce.
	 */
	if (p->hdr_len == 0) {
		b = in[used++];
		p->fin = (b & 0x80) != 0;
		p->rsv = (b >> 4) & 0x7;
		p->opcode = b & 0xf;
		p->hdr_len = 1;
	}
	if (p->hdr_len == 1) {
		if (used == len)
			return used;
		b = in[used++];
		p->hdr_len = 2;
		if ((err = frame_check_fixed(p, b)) != FRAME_OK)
			return frame_fail(p, ev, used, err);
		p->len7 = b & 0x7f;
		p->remaining = 0;
	}
	ext_end = 2 + frame_ext_len(p->len7);
	for (; p->hdr_len < ext_end && used < len; p->hdr_len++)
		p->remaining = (p->remaining << 8) | in[used++];
	need = ext_end + (p->role == WS_ROLE_SERVER ? 4 : 0);
	n = need - p->hdr_len;
	if (n > len - used)
		n = len - used;
	if (n > 0) {
		memcpy(p->mask + (p->hdr_len - ext_end), in + used, n);
		p->hdr_len += (uint8_t)n;
		used += n;
	}
	if (p->hdr_len < need)
		return used;

	if ((err = frame_check_length(p)) != FRAME_OK)
		return frame_fail(p, ev, used, err);
	p->state = p->remaining == 0 ? WS_FS_END : WS_FS_PAYLOAD;
	ev->type = WS_FEV_HEADER;
	return used;
}

size_t
ws_frame_header_size(uint64_t length, int masked)
{
	size_t	 n = 2;

	if (length > 0xffff)
		n += 8;
	else if (length >= 126)
		n += 2;
	if (masked)
		n += 4;
	return n;
}

size_t
ws_frame_header_encode(uint8_t *out, int fin, unsigned rsv, unsigned opcode,
    uint64_t length, const uint8_t mask[4])
{
	size_t	 n = 2;
	int	 i;

	out[0] = (uint8_t)((fin ? 0x80 : 0) | ((rsv & 0x7) << 4) |
	    (opcode & 0xf));
	out[1] = mask != NULL ? 0x80 : 0;
	/* Always the shortest form: RFC 6455 5.2 requires it of a receiver's peer. */
	if (length > 0xffff) {
		out[1] |= 127;
		for (i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(length >> (56 - 8 * i));
		n += 8;
	} else if (length >= 126) {
		out[1] |= 126;
		out[2] = (uint8_t)(length >> 8);
		out[3] = (uint8_t)length;
		n += 2;
	} else
		out[1] |= (uint8_t)length;
	if (mask != NULL) {
		memcpy(out + n, mask, 4);
		n += 4;
	}
	return n;
}

void
ws_mask(uint8_t *buf, size_t len, const uint8_t mask[4], uint8_t *pos)
{
	uint8_t		 key[8];
	uint64_t	 kw, w;
	size_t		 i = 0;
	unsigned	 j;

	/*
	 * Rotate the key to the current position and repeat it to a word,
	 * so the loop XORs eight bytes at a time whatever the alignment;
	 * memcpy keeps the loads legal and compiles to plain moves.
	 */
	for (j = 0; j < 8; j++)
		key[j] = mask[(*pos + j) & 3];
	memcpy(&kw, key, sizeof(kw));
	for (; len - i >= 8; i += 8) {
		memcpy(&w, buf + i, sizeof(w));
		w ^= kw;
		memcpy(buf + i, &w, sizeof(w));
	}
	for (; i < len; i++)
		buf[i] ^= key[i & 3];
	*pos = (uint8_t)((*pos + len) & 3);
}
