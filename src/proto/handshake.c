/* The WebSocket opening handshake: request checks, key digests (RFC 6455 4). */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "proto/handshake.h"
#include "proto/http1.h"

/* The GUID every server appends to the client's key (RFC 6455 1.3). */
#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
/* A key is 16 random bytes in base64: 22 characters and "==". */
#define WS_KEY_LEN	24

static int
handshake_is_b64(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Whether |key| is base64 for exactly 16 bytes (RFC 6455 4.1, item 7). */
static int
handshake_key_valid(struct http_str key)
{
	size_t	 i;

	if (key.len != WS_KEY_LEN)
		return 0;
	for (i = 0; i < WS_KEY_LEN - 2; i++) {
		if (!handshake_is_b64((unsigned char)key.p[i]))
			return 0;
	}
	return key.p[22] == '=' && key.p[23] == '=';
}

/* Whether any header named |name| lists |token|. */
static int
handshake_has_token(const struct http_request *req, const char *name,
    const char *token)
{
	unsigned	 i;

	for (i = 0; i < req->nheaders; i++) {
		if (http_str_eq(req->headers[i].name, name) &&
		    http_list_has_token(req->headers[i].value, token))
			return 1;
	}
	return 0;
}

/* The value of the first header named |name|, or an empty slice. */
static struct http_str
handshake_value(const struct http_request *req, const char *name)
{
	const struct http_header	*h;
	struct http_str			 empty = { "", 0 };

	if ((h = http_header_get(req, name)) == NULL)
		return empty;
	return h->value;
}

int
ws_handshake_is_upgrade(const struct http_request *req)
{
	return handshake_has_token(req, "upgrade", "websocket");
}

int
ws_handshake_check(const struct http_request *req, struct ws_upgrade *up,
    const char **reason)
{
	const struct http_header	*h;
	const char			*why;
	int				 status;

	memset(up, 0, sizeof(*up));
	/* The method is case-sensitive (RFC 9110 9.1). */
	if (req->method.len != 3 || memcmp(req->method.p, "GET", 3) != 0) {
		why = "method is not GET";
		status = 405;
		goto fail;
	}
	if (req->version_minor < 1) {
		why = "WebSocket needs HTTP/1.1 or later";
		status = 400;
		goto fail;
	}
	if (http_header_count(req, "host") != 1) {
		why = "missing or repeated Host";
		status = 400;
		goto fail;
	}
	if (!ws_handshake_is_upgrade(req)) {
		why = "Upgrade does not name websocket";
		status = 400;
		goto fail;
	}
	if (!handshake_has_token(req, "connection", "upgrade")) {
		why = "Connection does not list upgrade";
		status = 400;
		goto fail;
	}
	h = http_header_get(req, "sec-websocket-version");
	if (h == NULL || http_header_count(req, "sec-websocket-version") != 1 ||
	    h->value.len != 2 || memcmp(h->value.p, WS_VERSION, 2) != 0) {
		why = "Sec-WebSocket-Version is not 13";
		status = 426;
		goto fail;
	}
	h = http_header_get(req, "sec-websocket-key");
	if (h == NULL || http_header_count(req, "sec-websocket-key") != 1 ||
	    !handshake_key_valid(h->value)) {
		why = "missing, repeated or malformed Sec-WebSocket-Key";
		status = 400;
		goto fail;
	}

	up->key = h->value;
	up->host = handshake_value(req, "host");
	/* Only the first of repeated protocol or extension headers is kept. */
	up->protocols = handshake_value(req, "sec-websocket-protocol");
	up->extensions = handshake_value(req, "sec-websocket-extensions");
	up->origin = handshake_value(req, "origin");
	return 0;

fail:
	if (reason != NULL)
		*reason = why;
	return status;
}

int
ws_accept_key(const char *key, size_t key_len, char out[WS_KEY_ACCEPT_LEN + 1])
{
	EVP_MD_CTX	*ctx;
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	int		 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, key, key_len) == 1 &&
	    EVP_DigestUpdate(ctx, WS_GUID, sizeof(WS_GUID) - 1) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 20;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	/* EVP_EncodeBlock writes 28 characters and a NUL for 20 bytes. */
	if (EVP_EncodeBlock((unsigned char *)out, md, 20) != WS_KEY_ACCEPT_LEN)
		return -1;
	return 0;
}

const char *
ws_handshake_select_protocol(struct http_str offered,
    const char *const *supported)
{
	struct http_str	 elem;
	size_t		 i, pos, len;

	if (supported == NULL)
		return NULL;
	/* The server's order wins; names compare exactly (RFC 6455 4.1). */
	for (i = 0; supported[i] != NULL; i++) {
		len = strlen(supported[i]);
		pos = 0;
		while (http_list_next(offered, &pos, &elem)) {
			if (elem.len == len &&
			    memcmp(elem.p, supported[i], len) == 0)
				return supported[i];
		}
	}
	return NULL;
}

int
ws_key_generate(char out[25])
{
	unsigned char	 raw[16];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	if (EVP_EncodeBlock((unsigned char *)out, raw, sizeof(raw)) !=
	    WS_KEY_LEN)
		return -1;
	return 0;
}
