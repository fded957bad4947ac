/* Refcounted wire messages: a frame built once and shared by every receiver. */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"
#include "util/msg.h"

struct msg *
msg_new(size_t len)
{
	struct msg *m;

	if (len > MSG_MAX_LEN)
		return NULL;
	if ((m = malloc(sizeof(*m) + len)) == NULL)
		return NULL;
	m->refs = 1;
	m->len = (uint32_t)len;
	return m;
}

struct msg *
msg_frame_alloc(unsigned opcode, size_t len, uint8_t **payload)
{
	uint8_t hdr[WS_HEADER_MAX];
	size_t hlen;
	struct msg *m;

	hlen = ws_frame_header_encode(hdr, 1, 0, opcode, len, NULL);
	if (len > MSG_MAX_LEN - hlen || (m = msg_new(hlen + len)) == NULL)
		return NULL;
	memcpy(m->data, hdr, hlen);
	*payload = m->data + hlen;
	return m;
}

struct msg *
msg_frame(unsigned opcode, const void *payload, size_t len)
{
	struct msg *m;
	uint8_t *p;

	if ((m = msg_frame_alloc(opcode, len, &p)) == NULL)
		return NULL;
	if (len > 0)
		memcpy(p, payload, len);
	return m;
}

void
msg_unref(struct msg *m)
{
	if (m != NULL && --m->refs == 0)
		free(m);
}
