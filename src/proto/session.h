/* Sans-I/O WebSocket message layer: fragments, control frames, close handshake. */
#ifndef WSH_PROTO_SESSION_H
#define WSH_PROTO_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/frame.h"

struct pmd_inflater;

/*
 * A session turns the bytes a peer sends into whole messages and control
 * events, and answers pings and closes by asking its owner to send frames.
 * It never touches a socket: the owner feeds input with ws_session_feed()
 * and receives events through callbacks, in order, before the call returns.
 */

enum ws_session_state {
	WS_SS_OPEN,		/* data flows both ways */
	WS_SS_CLOSE_SENT,	/* we sent a close, waiting for the peer's */
	WS_SS_CLOSE_RECEIVED,	/* peer's close received and answered */
	WS_SS_CLOSED		/* both closes exchanged */
};

struct ws_session_callbacks {
	/*
	 * A complete text or binary message. |data| is valid only during the
	 * call and may point into the caller's input buffer. Text is
	 * guaranteed valid UTF-8. Return 0, or -1 to stop feeding (the feed
	 * then returns -1 with err_code 0: the owner chose to stop).
	 */
	int	(*on_message)(void *arg, unsigned opcode, uint8_t *data,
		    size_t len);
	/* A ping (already answered when auto_pong is set) or a pong. */
	void	(*on_ping)(void *arg, const uint8_t *data, size_t len);
	void	(*on_pong)(void *arg, const uint8_t *data, size_t len);
	/*
	 * The peer's close frame, validated. |code| is WS_CLOSE_NO_STATUS
	 * when the frame had no payload.
	 */
	void	(*on_close)(void *arg, uint16_t code, const char *reason,
		    size_t reason_len);
	/*
	 * Send a control frame (pong, or close echo) with |len| <= 125 bytes
	 * of payload. Required.
	 */
	void	(*send_control)(void *arg, unsigned opcode, const uint8_t *data,
		    size_t len);
};

struct ws_session_config {
	enum ws_role	 role;
	uint64_t	 max_frame_size;	/* 0 = unbounded */
	uint64_t	 max_message_size;	/* 0 = unbounded */
	int		 auto_pong;		/* answer pings by itself */
};

/*
 * Every connection embeds one session, so the layout is kept tight: wide
 * members first, enums stored in single bytes, and nothing that lives only
 * during one ws_session_feed() call (payload found whole in the caller's
 * input is tracked on that call's stack).
 */
struct ws_session {
	struct ws_frame_parser		 fp;
	const struct ws_session_config	*cfg;	/* shared, outlives the session */
	const struct ws_session_callbacks *cb;
	void				*arg;

	/* The message being assembled. */
	uint8_t		*msg_buf;	/* malloc'd only while fragments arrive */
	size_t		 msg_len;
	size_t		 msg_cap;
	/*
	 * For a compressed message, how many compressed bytes it took; it
	 * stays valid during on_message, for statistics.
	 */
	uint64_t	 msg_wire;

	/*
	 * A control frame split across reads is collected here, held only
	 * until the frame is complete; one that arrives in one piece is used
	 * from the caller's input. Its length is fp.len7.
	 */
	uint8_t		*ctl_heap;

	const char	*err_reason;	/* static text naming the problem */

	/*
	 * permessage-deflate, once ws_session_enable_deflate() was called:
	 * the peer's window (zbits, 0 = no compression negotiated) and
	 * whether it resets its context per message (znoctx: the inflater
	 * then lives only while a compressed message arrives).
	 */
	struct pmd_inflater *zin;

	uint16_t	 err_code;	/* close code after a failed feed */
	uint8_t		 state;		/* enum ws_session_state */
	uint8_t		 msg_opcode;	/* 0 when no message is in progress */
	uint8_t		 utf8_state;
	/* Whether the message being assembled is compressed (see msg_wire). */
	uint8_t		 msg_compressed;
	uint8_t		 zbits;
	uint8_t		 znoctx;
};

/*
 * Initialise |s|; callbacks get |arg|. |cfg| is not copied: it must stay
 * valid for the life of the session (one shared config serves many
 * sessions, and changing it changes their limits). Allocates nothing.
 */
void	ws_session_init(struct ws_session *s, const struct ws_session_config *cfg,
	    const struct ws_session_callbacks *cb, void *arg);

/*
 * Accept compressed messages (RSV1 on a message's first frame) as agreed
 * by permessage-deflate: |window_bits| is the peer's compressor window
 * (8..15) and |no_context_takeover| says whether the peer resets its
 * context after every message. Compressed messages are inflated with
 * their size bounded by max_message_size (1009), and text is checked as
 * it is inflated (1007). Allocates nothing until a compressed message
 * arrives.
 */
void	ws_session_enable_deflate(struct ws_session *s, unsigned window_bits,
	    int no_context_takeover);

/* Release any partial message buffer (and the inflater). */
void	ws_session_reset(struct ws_session *s);

/*
 * Feed |len| bytes of peer input (modified in place by unmasking). Returns
 * 0 when all of it was consumed, -1 on a protocol error (err_code holds the
 * close code to send: 1002, 1007 or 1009; err_reason names the problem) or
 * when a callback asked to stop. Input after the peer's close is ignored.
 */
int	ws_session_feed(struct ws_session *s, uint8_t *in, size_t len);

/*
 * Start the close handshake from our side: sends a close frame with |code|
 * (0 = no status) and |reason| through send_control, once. Returns 0, or -1
 * when a close was already sent.
 */
int	ws_session_close(struct ws_session *s, uint16_t code, const char *reason);

/* Whether |code| may appear in a close frame on the wire (RFC 6455 7.4). */
int	ws_close_code_valid(unsigned code);

/* Whether data messages may still be sent. */
static inline int
ws_session_can_send(const struct ws_session *s)
{
	return s->state == WS_SS_OPEN;
}

#endif
