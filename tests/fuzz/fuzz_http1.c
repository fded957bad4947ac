/* libFuzzer target: the HTTP/1.1 head parser and the handshake check. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/handshake.h"
#include "proto/http1.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Too big for the stack of a fuzzing thread; one is enough. */
static struct http_request fuzz_req;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const protos[] = { "chat", "superchat", "v1.wshub",
	    NULL };
	struct http_limits	 lim = { 4096, 32 };
	struct ws_upgrade	 up;
	struct http_str		 elem;
	const char		*why = NULL;
	char			*buf;
	char			 accept[WS_KEY_ACCEPT_LEN + 1];
	size_t			 pos;
	int			 rc;

	/* An exact-size copy, so reads past the end are caught. */
	if ((buf = malloc(size ? size : 1)) == NULL)
		abort();
	memcpy(buf, data, size);
	rc = http_parse_request(buf, size, &lim, &fuzz_req, &why);
	if (rc < 0) {
		if (why == NULL || http_status_text(-rc)[0] == '\0')
			abort();
	} else if (rc > 0) {
		if ((size_t)rc > size || (size_t)rc > lim.max_head ||
		    fuzz_req.head_len != (size_t)rc ||
		    fuzz_req.nheaders > lim.max_headers)
			abort();
		/* A complete head was incomplete one byte earlier. */
		if (http_parse_request(buf, (size_t)rc - 1, &lim, &fuzz_req,
		    NULL) != 0)
			abort();
		http_parse_request(buf, size, &lim, &fuzz_req, NULL);
		(void)ws_handshake_is_upgrade(&fuzz_req);
		rc = ws_handshake_check(&fuzz_req, &up, &why);
		if (rc == 0) {
			if (up.key.len != 24)
				abort();
			if (ws_accept_key(up.key.p, up.key.len, accept) != 0 ||
			    strlen(accept) != WS_KEY_ACCEPT_LEN)
				abort();
			(void)ws_handshake_select_protocol(up.protocols,
			    protos);
			pos = 0;
			while (http_list_next(up.extensions, &pos, &elem))
				if (elem.len == 0)
					abort();
		} else if (rc != 400 && rc != 405 && rc != 426)
			abort();
		/* Query parameters decode within bounds, or fail cleanly. */
		if (fuzz_req.query.len > 0) {
			char	 val[64];
			long	 n;

			n = http_query_param(fuzz_req.query, "since", val,
			    sizeof(val));
			if (n < -2 || n >= (long)sizeof(val) ||
			    (n >= 0 && val[n] != '\0'))
				abort();
			n = http_percent_decode(fuzz_req.query.p,
			    fuzz_req.query.len, 1, val, sizeof(val));
			if (n < -1 || n >= (long)sizeof(val))
				abort();
		}
	}
	free(buf);
	return 0;
}
