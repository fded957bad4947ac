/* Refcounted wire messages: a frame built once and shared by every receiver. */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"
#include "util/msg.h"

/* A msg of |len| bytes with |extra| bytes of room after them. */
static struct msg *
msg_alloc(size_t len, size_t extra)
{
	struct msg *m;

	if (len > MSG_MAX_LEN || extra > MSG_MAX_LEN - len)
		return NULL;
	if ((m = malloc(sizeof(*m) + len + extra)) == NULL)
		return NULL;
	m->refs = 1;
	m->len = (uint32_t)len;
	m->seq = 0;
	m->channel = NULL;
	m->deflated = NULL;
	m->zbits = 0;
	return m;
}

struct msg *
msg_new(size_t len)
{
	return msg_alloc(len, 0);
}

static struct msg *
msg_frame_build(unsigned opcode, size_t len, uint8_t **payload, size_t extra)
{
	uint8_t hdr[WS_HEADER_MAX];
	size_t hlen;
	struct msg *m;

	hlen = ws_frame_header_encode(hdr, 1, 0, opcode, len, NULL);
	if (len > MSG_MAX_LEN - hlen || (m = msg_alloc(hlen + len, extra)) == NULL)
		return NULL;
	memcpy(m->data, hdr, hlen);
	*payload = m->data + hlen;
	return m;
}

struct msg *
msg_frame_alloc(unsigned opcode, size_t len, uint8_t **payload)
{
	return msg_frame_build(opcode, len, payload, 0);
}

struct msg *
msg_frame_alloc_channel(unsigned opcode, size_t len, uint8_t **payload,
    const char *name, size_t name_len, uint64_t seq)
{
	struct msg *m;
	char *copy;

	if ((m = msg_frame_build(opcode, len, payload, name_len + 1)) == NULL)
		return NULL;
	copy = (char *)m->data + m->len;
	memcpy(copy, name, name_len);
	copy[name_len] = '\0';
	m->channel = copy;
	m->seq = seq;
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

const uint8_t *
msg_frame_payload(const struct msg *m, size_t *len, unsigned *opcode)
{
	size_t hlen = 2;
	uint8_t len7 = m->data[1] & 0x7f;

	if (len7 == 126)
		hlen += 2;
	else if (len7 == 127)
		hlen += 8;
	*opcode = m->data[0] & 0x0f;
	*len = m->len - hlen;
	return m->data + hlen;
}

struct msg *
msg_deflated_get(const struct msg *m, unsigned bits)
{
	struct msg *z;

	for (z = m->deflated; z != NULL; z = z->deflated)
		if (z->zbits == bits)
			return z;
	return NULL;
}

struct msg *
msg_deflated_add(struct msg *m, unsigned bits, const uint8_t *zdata,
    size_t len)
{
	uint8_t hdr[WS_HEADER_MAX];
	size_t hlen, nlen = 0;
	struct msg *z;
	char *copy;

	if (m->channel != NULL)
		nlen = strlen(m->channel) + 1;
	hlen = ws_frame_header_encode(hdr, 1, WS_RSV1, m->data[0] & 0x0f, len,
	    NULL);
	if (len > MSG_MAX_LEN - hlen || (z = msg_alloc(hlen + len, nlen)) == NULL)
		return NULL;
	memcpy(z->data, hdr, hlen);
	memcpy(z->data + hlen, zdata, len);
	/* A slow consumer that drops it must still name what it lost. */
	if (m->channel != NULL) {
		copy = (char *)z->data + z->len;
		memcpy(copy, m->channel, nlen);
		z->channel = copy;
	}
	z->seq = m->seq;
	z->zbits = (uint8_t)bits;
	z->deflated = m->deflated;
	m->deflated = z;
	return z;
}

void
msg_unref(struct msg *m)
{
	struct msg *next;

	/* Each form holds the next one of the chain: release them in turn. */
	while (m != NULL && --m->refs == 0) {
		next = m->deflated;
		free(m);
		m = next;
	}
}
