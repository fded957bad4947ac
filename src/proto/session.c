/* WebSocket messages, control frames and the close handshake (RFC 6455). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"
#include "proto/pmdeflate.h"
#include "proto/session.h"
#include "proto/utf8.h"

/* First allocation for a fragmented message; it doubles from there. */
#define SESSION_BUF_MIN	1024

/*
 * State semantics (see session.h):
 *  - WS_SS_OPEN: messages flow.
 *  - WS_SS_CLOSE_SENT: ws_session_close() sent our close; input is still
 *    read (messages are still delivered) until the peer's close arrives.
 *  - WS_SS_CLOSE_RECEIVED: the peer started the close and we have already
 *    echoed it through send_control; the owner should flush and drop the
 *    connection.
 *  - WS_SS_CLOSED: we started the close and the peer has answered.
 * In the last two states all further input is ignored.
 */

/* Zero-length messages are delivered with a valid pointer, never NULL. */
static uint8_t session_empty[1];

/*
 * Every connection embeds a session (docs/ARCHITECTURE.md, "Memory per
 * connection"), so its size is part of what an idle connection costs;
 * this keeps it from growing unnoticed. 120 bytes on LP64, less elsewhere.
 */
_Static_assert(sizeof(struct ws_session) <= 120,
    "struct ws_session grew: it is embedded in every connection");

/*
 * What one ws_session_feed() call knows about the frame in hand. Payload
 * found whole in the caller's input is used from there rather than copied;
 * a pointer into that input must not outlive the call, so it is kept on the
 * call's stack instead of in the session. This works because such a
 * frame's header, payload and end are all handled by the same call: the
 * parser returns END without needing more input.
 */
struct session_feed {
	uint8_t		*data;		/* the frame's payload, or NULL */
	size_t		 len;
	int		 direct;	/* a whole data message in this input */
};

/* Drop the message being assembled and its buffer. */
static void
session_msg_clear(struct ws_session *s)
{
	free(s->msg_buf);
	s->msg_buf = NULL;
	s->msg_len = 0;
	s->msg_cap = 0;
	s->msg_opcode = 0;
	s->utf8_state = UTF8_ACCEPT;
	s->msg_compressed = 0;
	s->msg_wire = 0;
	/* Without context takeover nothing is kept between messages. */
	if (s->znoctx) {
		pmd_inflater_free(s->zin);
		s->zin = NULL;
	}
}

/* Record an error; it is sticky, and the partial message is released. */
static int
session_fail(struct ws_session *s, uint16_t code, const char *reason)
{
	s->err_code = code;
	s->err_reason = reason;
	session_msg_clear(s);
	return -1;
}

void
ws_session_init(struct ws_session *s, const struct ws_session_config *cfg,
    const struct ws_session_callbacks *cb, void *arg)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->cb = cb;
	s->arg = arg;
	s->state = WS_SS_OPEN;
	s->utf8_state = UTF8_ACCEPT;
	ws_frame_parser_init(&s->fp, cfg->role, cfg->max_frame_size);
}

void
ws_session_reset(struct ws_session *s)
{
	session_msg_clear(s);
	free(s->ctl_heap);
	s->ctl_heap = NULL;
	pmd_inflater_free(s->zin);
	s->zin = NULL;
}

void
ws_session_enable_deflate(struct ws_session *s, unsigned window_bits,
    int no_context_takeover)
{
	if (window_bits < PMD_BITS_MIN || window_bits > PMD_BITS_MAX)
		window_bits = PMD_BITS_MAX;
	s->zbits = (uint8_t)window_bits;
	s->znoctx = no_context_takeover != 0;
	s->fp.rsv_allowed |= WS_RSV1;
}

int
ws_close_code_valid(unsigned code)
{
	/*
	 * 1004-1006 and 1015 are reserved for local use and must never be
	 * sent; 1012-1014 are registered with IANA after RFC 6455; 3000-4999
	 * belong to libraries and applications.
	 */
	if (code >= 1000 && code <= 1003)
		return 1;
	if (code >= 1007 && code <= 1014)
		return 1;
	if (code >= 3000 && code <= 4999)
		return 1;
	return 0;
}

/*
 * Make room for |need| bytes of message, doubling the buffer so a message
 * arriving in many small pieces costs a logarithmic number of copies.
 */
static int
session_reserve(struct ws_session *s, size_t need)
{
	uint8_t	*nb;
	size_t	 cap;

	if (need <= s->msg_cap)
		return 0;
	cap = s->msg_cap != 0 ? s->msg_cap : SESSION_BUF_MIN;
	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	/* Never hold more than the largest message we would accept. */
	if (s->cfg->max_message_size != 0 && cap > s->cfg->max_message_size)
		cap = (size_t)s->cfg->max_message_size;
	if ((nb = realloc(s->msg_buf, cap)) == NULL)
		return -1;
	s->msg_buf = nb;
	s->msg_cap = cap;
	return 0;
}

/*
 * A frame header arrived; |avail| is how much input follows it. The
 * parser's |remaining| is the frame's whole payload length here.
 */
static int
session_on_header(struct ws_session *s, size_t avail, struct session_feed *f)
{
	struct ws_frame_parser	*fp = &s->fp;
	uint64_t		 length = fp->remaining;
	uint64_t		 limit = s->cfg->max_message_size;

	f->data = NULL;
	f->len = 0;
	f->direct = 0;
	/* The parser only lets RSV1 through once deflate is negotiated. */
	if (ws_opcode_is_control(fp->opcode)) {
		if (fp->rsv & WS_RSV1)
			return session_fail(s, WS_CLOSE_PROTOCOL,
			    "RSV1 set on a control frame");
		return 0;
	}
	if (fp->opcode == WS_OP_CONT) {
		if (s->msg_opcode == 0)
			return session_fail(s, WS_CLOSE_PROTOCOL,
			    "continuation frame without a message to continue");
		if (fp->rsv & WS_RSV1)
			return session_fail(s, WS_CLOSE_PROTOCOL,
			    "RSV1 set on a continuation frame");
	} else {
		if (s->msg_opcode != 0)
			return session_fail(s, WS_CLOSE_PROTOCOL,
			    "new data frame inside a fragmented message");
		s->msg_opcode = fp->opcode;
		s->utf8_state = UTF8_ACCEPT;
		s->msg_len = 0;
		s->msg_compressed = (fp->rsv & WS_RSV1) != 0;
		s->msg_wire = 0;
	}

	if (limit == 0 || limit > SIZE_MAX)
		limit = SIZE_MAX;
	if (s->msg_compressed) {
		/*
		 * The inflated size is checked as bytes come out; the
		 * compressed size is bounded too, so a stream of blocks that
		 * produce nothing cannot go on forever: stored blocks cost 5
		 * bytes per 64 KiB, an eighth more is plenty.
		 */
		uint64_t wire_limit = limit == SIZE_MAX ? UINT64_MAX :
		    limit + limit / 8 + 1024;

		if (length > wire_limit - s->msg_wire)
			return session_fail(s, WS_CLOSE_TOO_BIG,
			    "compressed message larger than the limit");
		s->msg_wire += length;
		return 0;
	}

	/* Refuse an oversized message on its header, before any copying. */
	if (length > limit - s->msg_len)
		return session_fail(s, WS_CLOSE_TOO_BIG,
		    "message larger than the limit");

	/*
	 * An unfragmented message whose payload is all in this input needs
	 * no copy: it is delivered from the caller's buffer.
	 */
	f->direct = fp->opcode != WS_OP_CONT && fp->fin && length <= avail;
	return 0;
}

/*
 * Inflate compressed message bytes into the message buffer, growing it up
 * to max_message_size, and check text as it comes out. |fin| marks the end
 * of the message.
 */
static int
session_inflate(struct ws_session *s, const uint8_t *data, size_t len,
    int fin)
{
	uint64_t	 limit = s->cfg->max_message_size;
	uint8_t		 probe;
	size_t		 n;
	int		 rc;

	if (limit == 0 || limit > SIZE_MAX)
		limit = SIZE_MAX;
	if (s->zin == NULL && (s->zin = pmd_inflater_new(s->zbits)) == NULL)
		return session_fail(s, WS_CLOSE_INTERNAL,
		    "out of memory for an inflater");
	for (;;) {
		if (s->msg_len < s->msg_cap) {
			rc = pmd_inflate(s->zin, &data, &len,
			    s->msg_buf + s->msg_len, s->msg_cap - s->msg_len, &n,
			    fin);
			if (n > 0 && s->msg_opcode == WS_OP_TEXT &&
			    utf8_validate(&s->utf8_state, s->msg_buf + s->msg_len,
			    n) == UTF8_REJECT)
				return session_fail(s, WS_CLOSE_BAD_DATA,
				    "invalid UTF-8 in a text message");
			s->msg_len += n;
		} else if (s->msg_len < limit) {
			if (session_reserve(s, s->msg_len + 1) == -1)
				return session_fail(s, WS_CLOSE_INTERNAL,
				    "out of memory for a message");
			continue;
		} else {
			/*
			 * The buffer holds the largest message allowed: one
			 * more byte of output, whatever the input still is,
			 * means the message is too big.
			 */
			rc = pmd_inflate(s->zin, &data, &len, &probe, 1, &n, fin);
			if (n > 0)
				return session_fail(s, WS_CLOSE_TOO_BIG,
				    "inflated message larger than the limit");
		}
		switch (rc) {
		case PMD_MORE:
		case PMD_DONE:
			return 0;
		case PMD_FULL:
			break;
		case PMD_ENOMEM:
			return session_fail(s, WS_CLOSE_INTERNAL,
			    "out of memory inflating a message");
		default:
			return session_fail(s, WS_CLOSE_BAD_DATA,
			    "invalid compressed data");
		}
	}
}

static int
session_on_payload(struct ws_session *s, uint8_t *data, size_t len,
    struct session_feed *f)
{
	if (ws_opcode_is_control(s->fp.opcode)) {
		/*
		 * A control frame's length is its 7-bit field, and the
		 * parser has already counted this piece off |remaining|, so
		 * what came before it is the difference.
		 */
		size_t	 before = s->fp.len7 - len -
		    (size_t)s->fp.remaining;

		/* The usual case: the whole payload in one piece, no copy. */
		if (before == 0 && s->fp.remaining == 0) {
			f->data = data;
			f->len = len;
			return 0;
		}
		/* Split across reads: collect up to the 125 bytes allowed. */
		if (s->ctl_heap == NULL &&
		    (s->ctl_heap = malloc(WS_CONTROL_MAX)) == NULL)
			return session_fail(s, WS_CLOSE_INTERNAL,
			    "out of memory for a control frame");
		memcpy(s->ctl_heap + before, data, len);
		return 0;
	}
	if (s->msg_compressed)
		return session_inflate(s, data, len, 0);
	/* Check text as it arrives, so bad bytes fail the feed at once. */
	if (s->msg_opcode == WS_OP_TEXT &&
	    utf8_validate(&s->utf8_state, data, len) == UTF8_REJECT)
		return session_fail(s, WS_CLOSE_BAD_DATA,
		    "invalid UTF-8 in a text message");
	if (f->direct) {
		/* The parser returns a present payload in one piece. */
		f->data = data;
		f->len = len;
		return 0;
	}
	if (session_reserve(s, s->msg_len + len) == -1)
		return session_fail(s, WS_CLOSE_INTERNAL,
		    "out of memory for a message");
	memcpy(s->msg_buf + s->msg_len, data, len);
	s->msg_len += len;
	return 0;
}

/* The last frame of a data message is complete: hand the message over. */
static int
session_deliver(struct ws_session *s, const struct session_feed *f)
{
	uint8_t		*data;
	size_t		 len;
	unsigned	 opcode = s->msg_opcode;
	int		 rc = 0;

	if (opcode == WS_OP_TEXT && s->utf8_state != UTF8_ACCEPT)
		return session_fail(s, WS_CLOSE_BAD_DATA,
		    "text message ends inside a UTF-8 sequence");
	if (f->direct) {
		data = f->data;
		len = f->len;
	} else {
		data = s->msg_buf;
		len = s->msg_len;
	}
	if (data == NULL)
		data = session_empty;
	if (s->cb->on_message != NULL)
		rc = s->cb->on_message(s->arg, opcode, data, len);
	/* Free the buffer now so an idle session holds no heap. */
	session_msg_clear(s);
	if (rc == -1)
		return session_fail(s, 0, "message callback asked to stop");
	return 0;
}

/* The peer's close frame is complete; its payload is |data|, |len| bytes. */
static int
session_on_close(struct ws_session *s, const uint8_t *data, size_t len)
{
	const char	*reason = NULL;
	size_t		 reason_len = 0;
	uint16_t	 code = WS_CLOSE_NO_STATUS;

	if (len == 1)
		return session_fail(s, WS_CLOSE_PROTOCOL,
		    "close frame with a one-byte payload");
	if (len >= 2) {
		code = (uint16_t)((data[0] << 8) | data[1]);
		if (!ws_close_code_valid(code))
			return session_fail(s, WS_CLOSE_PROTOCOL,
			    "invalid close code");
		reason = (const char *)data + 2;
		reason_len = len - 2;
		if (!utf8_is_valid(data + 2, reason_len))
			return session_fail(s, WS_CLOSE_BAD_DATA,
			    "close reason is not valid UTF-8");
	}

	/* A message cut short by the close is dropped. */
	session_msg_clear(s);
	if (s->state == WS_SS_OPEN) {
		/* Echo the code (RFC 6455 5.5.1); nothing if none was sent. */
		s->state = WS_SS_CLOSE_RECEIVED;
		s->cb->send_control(s->arg, WS_OP_CLOSE, data,
		    len >= 2 ? 2 : 0);
	} else
		s->state = WS_SS_CLOSED;
	if (s->cb->on_close != NULL)
		s->cb->on_close(s->arg, code, reason, reason_len);
	return 0;
}

static int	session_on_control_end(struct ws_session *, const uint8_t *,
		    size_t);

/* A frame is complete. */
static int
session_on_end(struct ws_session *s, const struct session_feed *f)
{
	if (ws_opcode_is_control(s->fp.opcode)) {
		const uint8_t	*data = session_empty;
		int		 rc;

		if (s->ctl_heap != NULL)
			data = s->ctl_heap;
		else if (f->data != NULL)
			data = f->data;
		rc = session_on_control_end(s, data, s->fp.len7);
		free(s->ctl_heap);
		s->ctl_heap = NULL;
		return rc;
	}
	if (!s->fp.fin)
		return 0;
	if (s->msg_compressed && session_inflate(s, NULL, 0, 1) == -1)
		return -1;
	return session_deliver(s, f);
}

/* A control frame is complete; its payload is |data|, |len| bytes. */
static int
session_on_control_end(struct ws_session *s, const uint8_t *data, size_t len)
{
	switch (s->fp.opcode) {
	case WS_OP_PING:
		/* Once we have sent a close, we send no more frames. */
		if (s->cfg->auto_pong && s->state == WS_SS_OPEN)
			s->cb->send_control(s->arg, WS_OP_PONG, data, len);
		if (s->cb->on_ping != NULL)
			s->cb->on_ping(s->arg, data, len);
		return 0;
	case WS_OP_PONG:
		if (s->cb->on_pong != NULL)
			s->cb->on_pong(s->arg, data, len);
		return 0;
	case WS_OP_CLOSE:
		return session_on_close(s, data, len);
	default:
		return 0;
	}
}

int
ws_session_feed(struct ws_session *s, uint8_t *in, size_t len)
{
	struct ws_frame_event	 ev;
	struct session_feed	 f = { NULL, 0, 0 };
	const char		*reason;
	uint16_t		 code;
	size_t			 off = 0;
	int			 rc;

	if (s->err_reason != NULL)
		return -1;
	/*
	 * The configuration is shared and may change between two reads (a
	 * reload): the next frame header is checked against today's limit.
	 */
	s->fp.max_frame = s->cfg->max_frame_size;
	for (;;) {
		/* After the peer's close, the rest of the input is ignored. */
		if (s->state == WS_SS_CLOSE_RECEIVED ||
		    s->state == WS_SS_CLOSED)
			return 0;
		off += ws_frame_parse(&s->fp, len > off ? in + off : NULL,
		    len - off, &ev);
		switch (ev.type) {
		case WS_FEV_NONE:
			return 0;
		case WS_FEV_ERROR:
			code = ws_frame_parser_error(&s->fp, &reason);
			return session_fail(s, code, reason);
		case WS_FEV_HEADER:
			rc = session_on_header(s, len - off, &f);
			break;
		case WS_FEV_PAYLOAD:
			rc = session_on_payload(s, ev.data, ev.len, &f);
			break;
		case WS_FEV_END:
			rc = session_on_end(s, &f);
			break;
		default:
			rc = -1;
			break;
		}
		if (rc == -1)
			return -1;
	}
}

int
ws_session_close(struct ws_session *s, uint16_t code, const char *reason)
{
	uint8_t	 buf[WS_CONTROL_MAX];
	size_t	 n = 0, rlen;

	if (s->state != WS_SS_OPEN)
		return -1;
	if (code != 0) {
		buf[0] = (uint8_t)(code >> 8);
		buf[1] = (uint8_t)code;
		n = 2;
		if (reason != NULL) {
			rlen = strlen(reason);
			/*
			 * Cut an overlong reason at a character boundary so
			 * the peer still receives valid UTF-8.
			 */
			if (rlen > WS_CONTROL_MAX - 2) {
				rlen = WS_CONTROL_MAX - 2;
				while (rlen > 0 &&
				    ((uint8_t)reason[rlen] & 0xc0) == 0x80)
					rlen--;
			}
			memcpy(buf + 2, reason, rlen);
			n += rlen;
		}
	}
	/* Change state first, in case the callback feeds us again. */
	s->state = WS_SS_CLOSE_SENT;
	s->cb->send_control(s->arg, WS_OP_CLOSE, buf, n);
	return 0;
}
