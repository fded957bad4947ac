/* libFuzzer target: a session fed in pieces must act as if fed at once. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"
#include "proto/session.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Small limits, so the 1009 paths are reachable from short inputs. */
#define FUZZ_MAX_FRAME		4096
#define FUZZ_MAX_MESSAGE	16384

/* Everything the callbacks saw, folded into one FNV-1a hash. */
struct fuzz_seen {
	uint64_t	 h;
};

static void
fuzz_mix(struct fuzz_seen *f, const void *p, size_t n)
{
	const uint8_t	*b = p;
	size_t		 i;

	for (i = 0; i < n; i++) {
		f->h ^= b[i];
		f->h *= 0x100000001b3ULL;
	}
}

static void
fuzz_mix_event(struct fuzz_seen *f, unsigned tag, unsigned v, const void *p,
    size_t n)
{
	uint64_t	 hdr[3] = { tag, v, n };

	fuzz_mix(f, hdr, sizeof(hdr));
	fuzz_mix(f, p, n);
}

static int
fuzz_message(void *arg, unsigned opcode, uint8_t *data, size_t len)
{
	if (len > FUZZ_MAX_MESSAGE)
		abort();
	fuzz_mix_event(arg, 1, opcode, data, len);
	return 0;
}

static void
fuzz_ping(void *arg, const uint8_t *data, size_t len)
{
	fuzz_mix_event(arg, 2, 0, data, len);
}

static void
fuzz_pong(void *arg, const uint8_t *data, size_t len)
{
	fuzz_mix_event(arg, 3, 0, data, len);
}

static void
fuzz_close(void *arg, uint16_t code, const char *reason, size_t len)
{
	if (!ws_close_code_valid(code) && code != WS_CLOSE_NO_STATUS)
		abort();
	fuzz_mix_event(arg, 4, code, reason, len);
}

static void
fuzz_send(void *arg, unsigned opcode, const uint8_t *data, size_t len)
{
	if (len > WS_CONTROL_MAX)
		abort();
	fuzz_mix_event(arg, 5, opcode, data, len);
}

static const struct ws_session_callbacks fuzz_cb = {
	.on_message = fuzz_message,
	.on_ping = fuzz_ping,
	.on_pong = fuzz_pong,
	.on_close = fuzz_close,
	.send_control = fuzz_send,
};

/*
 * Feed |data| to a fresh session as pieces ending at |cut| and at |size|
 * (|step| > 0: in pieces of that size instead), and return the hash.
 */
static uint64_t
fuzz_run(const uint8_t *data, size_t size, size_t cut, size_t step)
{
	struct ws_session_config	 cfg;
	struct ws_session		 s;
	struct fuzz_seen		 seen = { 0xcbf29ce484222325ULL };
	uint8_t				*buf;
	size_t				 off = 0, end;
	int				 rc = 0;

	/* An exact-size copy: the session unmasks in place. */
	if ((buf = malloc(size ? size : 1)) == NULL)
		abort();
	memcpy(buf, data, size);
	memset(&cfg, 0, sizeof(cfg));
	cfg.role = WS_ROLE_SERVER;
	cfg.max_frame_size = FUZZ_MAX_FRAME;
	cfg.max_message_size = FUZZ_MAX_MESSAGE;
	cfg.auto_pong = 1;
	ws_session_init(&s, &cfg, &fuzz_cb, &seen);
	while (off < size) {
		if (step > 0)
			end = size - off < step ? size : off + step;
		else
			end = off < cut ? cut : size;
		if ((rc = ws_session_feed(&s, buf + off, end - off)) == -1)
			break;
		off = end;
	}
	if (rc == -1) {
		if (s.err_reason == NULL || (s.err_code != WS_CLOSE_PROTOCOL &&
		    s.err_code != WS_CLOSE_BAD_DATA &&
		    s.err_code != WS_CLOSE_TOO_BIG))
			abort();
		fuzz_mix_event(&seen, 6, s.err_code, NULL, 0);
		if (s.msg_buf != NULL)
			abort();
	}
	fuzz_mix_event(&seen, 7, (unsigned)s.state, NULL, 0);
	/* The owner may also close at any point; it must be harmless. */
	ws_session_close(&s, WS_CLOSE_NORMAL, "fuzz");
	ws_session_reset(&s);
	free(buf);
	return seen.h;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t	 whole, split;
	size_t		 cut;

	if (size < 1)
		return 0;
	/* The first byte picks where the input is cut. */
	cut = (size_t)data[0] * (size - 1) / 255;
	data++;
	size--;

	whole = fuzz_run(data, size, size, 0);
	split = fuzz_run(data, size, cut, 0);
	if (whole != split)
		abort();
	if (size <= 256 && fuzz_run(data, size, 0, 1) != whole)
		abort();
	return 0;
}
