/* WebSocket frame decoding and encoding without I/O (RFC 6455 section 5.2). */
#include <stdint.h>
#include <string.h>

#include "proto/frame.h"

void
ws_frame_parser_init(struct ws_frame_parser *p, enum ws_role role,
    uint64_t max_frame)
{
	memset(p, 0, sizeof(*p));
	p->state = WS_FS_HEADER;
	p->role = role;
	p->max_frame = max_frame;
}

/* Make the error sticky and report it. */
static size_t
frame_fail(struct ws_frame_parser *p, struct ws_frame_event *ev, size_t used,
    uint16_t code, const char *reason)
{
	p->state = WS_FS_ERROR;
	p->err_code = code;
	p->err_reason = reason;
	ev->type = WS_FEV_ERROR;
	return used;
}

/*
 * Check the two fixed header bytes as soon as they are in, so a bad frame
 * fails before its extended length or mask arrives.
 */
static int
frame_check_fixed(struct ws_frame_parser *p, const char **reason,
    uint16_t *code)
{
	uint8_t	 b0 = p->hdr[0], b1 = p->hdr[1];
	uint8_t	 rsv = (b0 >> 4) & 0x7;
	uint8_t	 opcode = b0 & 0xf;
	uint8_t	 len7 = b1 & 0x7f;

	*code = WS_CLOSE_PROTOCOL;
	if ((rsv & ~p->rsv_allowed) != 0) {
		*reason = "reserved bit set without a negotiated extension";
		return -1;
	}
	if ((opcode >= 0x3 && opcode <= 0x7) || opcode >= 0xb) {
		*reason = "reserved opcode";
		return -1;
	}
	if (ws_opcode_is_control(opcode)) {
		if (!(b0 & 0x80)) {
			*reason = "fragmented control frame";
			return -1;
		}
		if (len7 > WS_CONTROL_MAX) {
			*reason = "control frame payload longer than 125 bytes";
			return -1;
		}
	}
	if (p->role == WS_ROLE_SERVER && !(b1 & 0x80)) {
		*reason = "unmasked frame from a client";
		return -1;
	}
	if (p->role == WS_ROLE_CLIENT && (b1 & 0x80)) {
		*reason = "masked frame from a server";
		return -1;
	}
	return 0;
}

/* Bytes the whole header takes, known once the fixed two bytes are in. */
static uint8_t
frame_header_need(const struct ws_frame_parser *p)
{
	uint8_t	 len7 = p->hdr[1] & 0x7f;
	uint8_t	 need = 2;

	if (len7 == 126)
		need += 2;
	else if (len7 == 127)
		need += 8;
	if (p->hdr[1] & 0x80)
		need += 4;
	return need;
}

/* Decode a complete header; returns -1 with |*reason| set if it is bad. */
static int
frame_header_decode(struct ws_frame_parser *p, const char **reason,
    uint16_t *code)
{
	const uint8_t	*h = p->hdr;
	uint8_t		 len7 = h[1] & 0x7f;
	uint64_t	 length;
	size_t		 off = 2;
	int		 i;

	*code = WS_CLOSE_PROTOCOL;
	if (len7 == 126) {
		length = ((uint64_t)h[2] << 8) | h[3];
		off = 4;
		if (length < 126) {
			*reason = "16-bit length used for a short payload";
			return -1;
		}
	} else if (len7 == 127) {
		length = 0;
		for (i = 0; i < 8; i++)
			length = (length << 8) | h[2 + i];
		off = 10;
		if (length >> 63) {
			*reason = "64-bit length with the high bit set";
			return -1;
		}
		if (length <= 0xffff) {
			*reason = "64-bit length used for a short payload";
			return -1;
		}
	} else
		length = len7;

	if (p->max_frame != 0 && length > p->max_frame) {
		*code = WS_CLOSE_TOO_BIG;
		*reason = "frame larger than the limit";
		return -1;
	}

	p->fin = (h[0] & 0x80) != 0;
	p->rsv = (h[0] >> 4) & 0x7;
	p->opcode = h[0] & 0xf;
	p->masked = (h[1] & 0x80) != 0;
	if (p->masked)
		memcpy(p->mask, h + off, 4);
	else
		memset(p->mask, 0, sizeof(p->mask));
	p->mask_pos = 0;
	p->length = length;
	p->remaining = length;
	return 0;
}

size_t
ws_frame_parse(struct ws_frame_parser *p, uint8_t *in, size_t len,
    struct ws_frame_event *ev)
{
	const char	*reason;
	uint16_t	 code;
	size_t		 used = 0, n;
	uint8_t		 need;

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
		if (p->masked)
			ws_mask(in, n, p->mask, &p->mask_pos);
		p->remaining -= n;
		if (p->remaining == 0)
			p->state = WS_FS_END;
		ev->type = WS_FEV_PAYLOAD;
		ev->data = in;
		ev->len = n;
		return n;
	case WS_FS_HEADER:
		if (len == 0)
			return 0;
		break;
	}

	/* Take the fixed two bytes first, then exactly what they announce. */
	while (p->hdr_len < 2 && used < len)
		p->hdr[p->hdr_len++] = in[used++];
	if (p->hdr_len < 2)
		return used;
	if (p->hdr_len == 2 && frame_check_fixed(p, &reason, &code) == -1)
		return frame_fail(p, ev, used, code, reason);
	need = frame_header_need(p);
	n = need - p->hdr_len;
	if (n > len - used)
		n = len - used;
	if (n > 0) {
		memcpy(p->hdr + p->hdr_len, in + used, n);
		p->hdr_len += (uint8_t)n;
		used += n;
	}
	if (p->hdr_len < need)
		return used;

	if (frame_header_decode(p, &reason, &code) == -1)
		return frame_fail(p, ev, used, code, reason);
	p->state = p->length == 0 ? WS_FS_END : WS_FS_PAYLOAD;
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
