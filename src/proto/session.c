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
	s->direct = 0;
	s->direct_data = NULL;
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
	s->ctl_data = NULL;
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

/* A frame header arrived; |avail| is how much input follows it. */
static int
session_on_header(struct ws_session *s, size_t avail)
{
	struct ws_frame_parser	*fp = &s->fp;
	uint64_t		 limit = s->cfg->max_message_size;

	/* The parser only lets RSV1 through once deflate is negotiated. */
	if (ws_opcode_is_control(fp->opcode)) {
		if (fp->rsv & WS_RSV1)
			return session_fail(s, WS_CLOSE_PROTOCOL,
			    "RSV1 set on a control frame");
		s->ctl_len = 0;
		s->ctl_data = session_empty;
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

		if (fp->length > wire_limit - s->msg_wire)
			return session_fail(s, WS_CLOSE_TOO_BIG,
			    "compressed message larger than the limit");
		s->msg_wire += fp->length;
		s->direct = 0;
		s->direct_data = NULL;
		return 0;
	}

	/* Refuse an oversized message on its header, before any copying. */
	if (fp->length > limit - s->msg_len)
		return session_fail(s, WS_CLOSE_TOO_BIG,
		    "message larger than the limit");

	/*
	 * An unfragmented message whose payload is all in this input needs
	 * no copy: it is delivered from the caller's buffer.
	 */
	s->direct = fp->opcode != WS_OP_CONT && fp->fin && fp->length <= avail;
	s->direct_data = NULL;
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
session_on_payload(struct ws_session *s, uint8_t *data, size_t len)
{
	if (ws_opcode_is_control(s->fp.opcode)) {
		/* The usual case: the whole payload in one piece, no copy. */
		if (s->ctl_len == 0 && len == s->fp.length) {
			s->ctl_data = data;
			s->ctl_len = (uint8_t)len;
			return 0;
		}
		/* Split across reads: collect up to the 125 bytes allowed. */
		if (s->ctl_heap == NULL &&
		    (s->ctl_heap = malloc(WS_CONTROL_MAX)) == NULL)
			return session_fail(s, WS_CLOSE_INTERNAL,
			    "out of memory for a control frame");
		memcpy(s->ctl_heap + s->ctl_len, data, len);
		s->ctl_len += (uint8_t)len;
		s->ctl_data = s->ctl_heap;
		return 0;
	}
	if (s->msg_compressed)
		return session_inflate(s, data, len, 0);
	/* Check text as it arrives, so bad bytes fail the feed at once. */
	if (s->msg_opcode == WS_OP_TEXT &&
	    utf8_validate(&s->utf8_state, data, len) == UTF8_REJECT)
		return session_fail(s, WS_CLOSE_BAD_DATA,
		    "invalid UTF-8 in a text message");
	if (s->direct) {
		/* The parser returns a present payload in one piece. */
		s->direct_data = data;
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
session_deliver(struct ws_session *s)
{
	uint8_t		*data;
	size_t		 len;
	unsigned	 opcode = s->msg_opcode;
	int		 rc = 0;

	if (opcode == WS_OP_TEXT && s->utf8_state != UTF8_ACCEPT)
		return session_fail(s, WS_CLOSE_BAD_DATA,
		    "text message ends inside a UTF-8 sequence");
	if (s->direct) {
		data = s->direct_data;
		len = (size_t)s->fp.length;
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

/* The peer's close frame is complete. */
static int
session_on_close(struct ws_session *s)
{
	const char	*reason = NULL;
	size_t		 reason_len = 0;
	uint16_t	 code = WS_CLOSE_NO_STATUS;

	if (s->ctl_len == 1)
		return session_fail(s, WS_CLOSE_PROTOCOL,
		    "close frame with a one-byte payload");
	if (s->ctl_len >= 2) {
		code = (uint16_t)((s->ctl_data[0] << 8) | s->ctl_data[1]);
		if (!ws_close_code_valid(code))
			return session_fail(s, WS_CLOSE_PROTOCOL,
			    "invalid close code");
		reason = (const char *)s->ctl_data + 2;
		reason_len = s->ctl_len - 2u;
		if (!utf8_is_valid(s->ctl_data + 2, reason_len))
			return session_fail(s, WS_CLOSE_BAD_DATA,
			    "close reason is not valid UTF-8");
	}

	/* A message cut short by the close is dropped. */
	session_msg_clear(s);
	if (s->state == WS_SS_OPEN) {
		/* Echo the code (RFC 6455 5.5.1); nothing if none was sent. */
		s->state = WS_SS_CLOSE_RECEIVED;
		s->cb->send_control(s->arg, WS_OP_CLOSE, s->ctl_data,
		    s->ctl_len >= 2 ? 2 : 0);
	} else
		s->state = WS_SS_CLOSED;
	if (s->cb->on_close != NULL)
		s->cb->on_close(s->arg, code, reason, reason_len);
	return 0;
}

static int	session_on_control_end(struct ws_session *);

/* A frame is complete. */
static int
session_on_end(struct ws_session *s)
{
	if (ws_opcode_is_control(s->fp.opcode)) {
		int rc = session_on_control_end(s);

		free(s->ctl_heap);
		s->ctl_heap = NULL;
		s->ctl_data = NULL;
		return rc;
	}
	if (!s->fp.fin)
		return 0;
	if (s->msg_compressed && session_inflate(s, NULL, 0, 1) == -1)
		return -1;
	return session_deliver(s);
}

/* A control frame is complete; its payload is at ctl_data. */
static int
session_on_control_end(struct ws_session *s)
{
	switch (s->fp.opcode) {
	case WS_OP_PING:
		/* Once we have sent a close, we send no more frames. */
		if (s->cfg->auto_pong && s->state == WS_SS_OPEN)
			s->cb->send_control(s->arg, WS_OP_PONG, s->ctl_data,
			    s->ctl_len);
		if (s->cb->on_ping != NULL)
			s->cb->on_ping(s->arg, s->ctl_data, s->ctl_len);
		return 0;
	case WS_OP_PONG:
		if (s->cb->on_pong != NULL)
			s->cb->on_pong(s->arg, s->ctl_data, s->ctl_len);
		return 0;
	case WS_OP_CLOSE:
		return session_on_close(s);
	default:
		return 0;
	}
}

int
ws_session_feed(struct ws_session *s, uint8_t *in, size_t len)
{
	struct ws_frame_event	 ev;
	size_t			 off = 0;
	int			 rc;

	if (s->err_reason != NULL)
		return -1;
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
			return session_fail(s, s->fp.err_code,
			    s->fp.err_reason);
		case WS_FEV_HEADER:
			rc = session_on_header(s, len - off);
			break;
		case WS_FEV_PAYLOAD:
			rc = session_on_payload(s, ev.data, ev.len);
			break;
		case WS_FEV_END:
			rc = session_on_end(s);
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
