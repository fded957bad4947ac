/* Sans-I/O WebSocket frame decoder and encoder (RFC 6455 section 5). */
#ifndef WSH_PROTO_FRAME_H
#define WSH_PROTO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define WS_OP_CONT	0x0
#define WS_OP_TEXT	0x1
#define WS_OP_BINARY	0x2
#define WS_OP_CLOSE	0x8
#define WS_OP_PING	0x9
#define WS_OP_PONG	0xa

#define WS_RSV1		0x4
#define WS_RSV2		0x2
#define WS_RSV3		0x1

/* Largest payload a control frame may carry (RFC 6455 5.5). */
#define WS_CONTROL_MAX	125
/* Largest frame header: 2 + 8 (length) + 4 (mask). */
#define WS_HEADER_MAX	14

/* Close codes used by the library (RFC 6455 7.4.1). */
#define WS_CLOSE_NORMAL		1000
#define WS_CLOSE_GOING_AWAY	1001
#define WS_CLOSE_PROTOCOL	1002
#define WS_CLOSE_UNSUPPORTED	1003
#define WS_CLOSE_NO_STATUS	1005
#define WS_CLOSE_ABNORMAL	1006
#define WS_CLOSE_BAD_DATA	1007
#define WS_CLOSE_POLICY		1008
#define WS_CLOSE_TOO_BIG	1009
#define WS_CLOSE_EXTENSION	1010
#define WS_CLOSE_INTERNAL	1011
#define WS_CLOSE_TLS		1015

/* Which side of the connection the parser sits on; decides the masking rule. */
enum ws_role {
	WS_ROLE_SERVER,		/* frames from the peer must be masked */
	WS_ROLE_CLIENT		/* frames from the peer must not be masked */
};

enum ws_frame_event_type {
	WS_FEV_NONE,		/* more input needed */
	WS_FEV_HEADER,		/* header complete: fin, rsv, opcode, remaining set */
	WS_FEV_PAYLOAD,		/* data/len hold unmasked payload bytes of the current frame */
	WS_FEV_END,		/* the current frame is complete */
	WS_FEV_ERROR		/* protocol error: see ws_frame_parser_error() */
};

struct ws_frame_event {
	enum ws_frame_event_type type;
	uint8_t		*data;	/* WS_FEV_PAYLOAD: points into the caller's input */
	size_t		 len;
};

enum ws_frame_state {
	WS_FS_HEADER,		/* collecting the fixed and extended header */
	WS_FS_PAYLOAD,		/* returning payload chunks */
	WS_FS_END,		/* frame complete; WS_FEV_END pending */
	WS_FS_ERROR		/* sticky after an error */
};

/*
 * A parser is embedded in every connection (through its ws_session), so it
 * keeps only what must survive between two calls, in as few bytes as that
 * takes: the header is decoded into the fields below as its bytes arrive
 * rather than copied first, and enums are stored in single bytes.
 */
struct ws_frame_parser {
	uint64_t	 max_frame;	/* 0 = no limit; larger frames fail with 1009 */
	/*
	 * Payload bytes of the current frame still to come: at WS_FEV_HEADER
	 * the frame's whole payload length, then counting down as
	 * WS_FEV_PAYLOAD chunks are returned. While an extended length is
	 * being collected it holds the bytes read so far.
	 */
	uint64_t	 remaining;

	uint8_t		 state;		/* enum ws_frame_state */
	uint8_t		 role;		/* enum ws_role */
	uint8_t		 rsv_allowed;	/* RSV bits an extension has negotiated */
	uint8_t		 hdr_len;	/* header bytes taken so far */

	/*
	 * The current frame, valid from WS_FEV_HEADER on. Whether it is
	 * masked is not kept: the role decides it, and a frame that breaks
	 * the rule is an error.
	 */
	uint8_t		 fin;
	uint8_t		 rsv;		/* RSV1..3 as WS_RSV* bits */
	uint8_t		 opcode;
	/*
	 * The 7-bit length field; below 126 it is the payload length itself,
	 * which is always the case for a control frame (at most 125 bytes).
	 */
	uint8_t		 len7;
	/*
	 * The masking key, turned after every payload chunk so that the next
	 * payload byte always pairs with mask[0]; no key position is kept.
	 */
	uint8_t		 mask[4];

	uint8_t		 err;		/* see ws_frame_parser_error() */
};

/*
 * Prepare |p| for a connection on side |role|. |max_frame| bounds the
 * payload length of one frame (0 = unbounded).
 */
void	ws_frame_parser_init(struct ws_frame_parser *p, enum ws_role role,
	    uint64_t max_frame);

/*
 * Consume bytes from |in| (|len| bytes) and return how many were used; at
 * most one event is stored in |ev|. Payload is unmasked in place, which is
 * why |in| is writable. The caller loops until all input is consumed or an
 * error is returned. WS_FEV_NONE with a zero return means more input is
 * needed. After WS_FEV_ERROR the parser stays in error.
 * WS_FEV_END is returned by a call that consumes nothing (also with |len|
 * 0), so the loop is: call until WS_FEV_NONE or WS_FEV_ERROR.
 */
size_t	ws_frame_parse(struct ws_frame_parser *p, uint8_t *in, size_t len,
	    struct ws_frame_event *ev);

/*
 * The close code of the error |p| stopped at (1002 or 1009), with static
 * text naming the problem in |*reason|; 0 and NULL when there was none.
 */
uint16_t ws_frame_parser_error(const struct ws_frame_parser *p,
	    const char **reason);

/* Whether |opcode| is a control opcode (close, ping, pong, reserved 0xb-0xf). */
static inline int
ws_opcode_is_control(unsigned opcode)
{
	return (opcode & 0x8) != 0;
}

/*
 * Write a frame header to |out| (at least WS_HEADER_MAX bytes) and return
 * its length. |rsv| holds WS_RSV* bits. When |mask| is non-NULL the mask bit
 * and key are written; the caller masks the payload with ws_mask().
 */
size_t	ws_frame_header_encode(uint8_t *out, int fin, unsigned rsv,
	    unsigned opcode, uint64_t length, const uint8_t mask[4]);

/* Header length that ws_frame_header_encode() would produce. */
size_t	ws_frame_header_size(uint64_t length, int masked);

/*
 * XOR |len| bytes of |buf| with |mask|, starting at key position |*pos|
 * (0..3); |*pos| is advanced so a payload can be masked in pieces.
 */
void	ws_mask(uint8_t *buf, size_t len, const uint8_t mask[4], uint8_t *pos);

#endif
