/* libFuzzer target: Sec-WebSocket-Extensions negotiation (RFC 6455 9, RFC 7692). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pmdeflate.h"
#include "proto/wsext.h"

/*
 * The input is one or more header values separated by newlines; the first
 * byte picks the server's settings. Whatever comes in, the server must
 * answer with a header value that parses again and records parameters in
 * range; the client-side check must take that answer without harm.
 */
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ws_extension *const exts[] = { &pmd_extension };
	struct http_str values[WS_EXT_HEADERS_MAX], answer;
	struct pmd_server_conf conf;
	struct pmd_params agreed, confirmed;
	struct pmd_client_conf any = { 0, 0, 0, 0 };
	const void *confs[] = { &conf };
	void *agreedp[] = { &agreed };
	char out[WS_EXT_RESPONSE_MAX];
	const char *reason = NULL, *text;
	unsigned accepted = 0;
	size_t n = 0, start, i, pos;
	struct ws_ext_offer o;
	int rc;

	if (size < 1)
		return 0;
	conf.server_no_context_takeover = data[0] & 1;
	conf.client_no_context_takeover = (data[0] >> 1) & 1;
	conf.window_bits = 8 + ((data[0] >> 2) % 8);
	text = (const char *)data + 1;
	size--;
	for (start = 0, i = 0; i <= size && n < WS_EXT_HEADERS_MAX; i++) {
		if (i == size || text[i] == '\n') {
			values[n].p = text + start;
			values[n].len = i - start;
			n++;
			start = i + 1;
		}
	}
	rc = ws_ext_server_negotiate(exts, confs, agreedp, 1, values, n, out,
	    sizeof(out), &accepted, &reason);
	if (rc == -1) {
		if (reason == NULL)
			abort();
		return 0;
	}
	if (memchr(out, '\0', sizeof(out)) == NULL)
		abort();
	if (!accepted) {
		if (out[0] != '\0')
			abort();
		return 0;
	}
	/* Our own answer must be well formed... */
	answer.p = out;
	answer.len = strlen(out);
	pos = 0;
	if (ws_ext_parse_next(answer, &pos, &o, &reason) != 1)
		abort();
	/* ...and agree with what we recorded. */
	if (agreed.server_max_window_bits < 8 ||
	    agreed.server_max_window_bits > 15)
		abort();
	/* The client side must digest any answer without harm. */
	(void)pmd_client_confirm(&any, &answer, 1, &confirmed, &reason);
	return 0;
}
