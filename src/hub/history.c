/* A channel's history: a bounded ring of the frames it published, for recovery. */
#include "autoconf.h"

#include <stdlib.h>

#include "hub/history.h"
#include "util/msg.h"

void
history_init(struct history *h)
{
	h->ring = NULL;
	h->head = h->count = h->cap = 0;
	h->bytes = 0;
}

void
history_clear(struct history *h)
{
	for (uint32_t i = 0; i < h->count; i++)
		msg_unref(h->ring[(h->head + i) & (h->cap - 1)].msg);
	free(h->ring);
	history_init(h);
}

/* Drop the oldest entry. */
static void
history_pop(struct history *h)
{
	struct history_entry *e = &h->ring[h->head];

	h->bytes -= e->plen;
	msg_unref(e->msg);
	e->msg = NULL;
	h->head = (h->head + 1) & (h->cap - 1);
	h->count--;
}

/* Double the ring, keeping the entries in order. */
static int
history_grow(struct history *h)
{
	uint32_t ncap = h->cap ? h->cap * 2 : HISTORY_RING_MIN;
	struct history_entry *n;

	if (ncap < h->cap || (n = malloc(ncap * sizeof(*n))) == NULL)
		return -1;
	for (uint32_t i = 0; i < h->count; i++)
		n[i] = h->ring[(h->head + i) & (h->cap - 1)];
	free(h->ring);
	h->ring = n;
	h->head = 0;
	h->cap = ncap;
	return 0;
}

uint64_t
history_first_seq(const struct history *h)
{
	return h->count ? history_at(h, 0)->msg->seq : 0;
}

uint64_t
history_last_seq(const struct history *h)
{
	return h->count ? history_at(h, h->count - 1)->msg->seq : 0;
}

size_t
history_expire(struct history *h, uint64_t now,
    const struct history_limits *lim)
{
	size_t n = 0;

	if (lim->ttl_ms == 0)
		return 0;
	while (h->count > 0) {
		uint64_t t = h->ring[h->head].time;

		/* A clock that went backwards makes an entry young, not old. */
		if (now <= t || now - t <= lim->ttl_ms)
			break;
		history_pop(h);
		n++;
	}
	/* An idle channel whose history aged out keeps no ring. */
	if (h->count == 0 && h->ring != NULL)
		history_clear(h);
	return n;
}

int
history_add(struct history *h, struct msg *m, unsigned opcode, size_t plen,
    uint64_t now, const struct history_limits *lim)
{
	struct history_entry *e;

	/*
	 * What is held must stay a run of consecutive sequence numbers that
	 * ends at the newest, or recovery could skip a message: a message
	 * that cannot be kept therefore takes the older ones with it.
	 */
	if (lim->size == 0 || plen > lim->bytes || plen > UINT32_MAX ||
	    (h->count > 0 && m->seq != history_last_seq(h) + 1)) {
		history_clear(h);
		if (lim->size == 0 || plen > lim->bytes || plen > UINT32_MAX)
			return 0;
	}
	history_expire(h, now, lim);
	while (h->count > 0 &&
	    (h->count >= lim->size || h->bytes + plen > lim->bytes))
		history_pop(h);
	if (h->count == h->cap && history_grow(h) == -1) {
		history_clear(h);
		return -1;
	}
	e = &h->ring[(h->head + h->count) & (h->cap - 1)];
	e->msg = msg_ref(m);
	e->time = now;
	e->plen = (uint32_t)plen;
	e->opcode = (uint8_t)opcode;
	h->count++;
	h->bytes += plen;
	return 0;
}

int
history_after(const struct history *h, uint64_t seq, uint32_t *first)
{
	uint64_t lo = history_first_seq(h), hi = history_last_seq(h);

	if (h->count == 0 || seq + 1 < lo || seq > hi)
		return 0;
	*first = (uint32_t)(seq + 1 - lo);
	return 1;
}
