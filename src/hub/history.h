/* A channel's history: a bounded ring of the frames it published, for recovery. */
#ifndef WSH_HUB_HISTORY_H
#define WSH_HUB_HISTORY_H

#include <stddef.h>
#include <stdint.h>

struct msg;

/* First size of a history ring; it doubles up to the count limit. */
#define HISTORY_RING_MIN	8

/*
 * How much a history may hold: |size| messages (0 = none), |bytes| payload
 * bytes and messages no older than |ttl_ms| milliseconds (0 = no age limit).
 */
struct history_limits {
	uint64_t	 size;
	uint64_t	 bytes;
	uint64_t	 ttl_ms;
};

/*
 * One held message: a reference to the raw-mode frame that was sent to
 * subscribers (it carries the channel name and the sequence number), so a
 * replay queues the very same msg again.
 */
struct history_entry {
	struct msg	*msg;
	uint64_t	 time;		/* when it was published, ms */
	uint32_t	 plen;		/* payload bytes (frame minus header) */
	uint8_t		 opcode;
};

/*
 * Entries are kept oldest first with consecutive sequence numbers, so the
 * entry for a sequence number is found by subtraction.
 */
struct history {
	struct history_entry *ring;
	uint32_t	 head;
	uint32_t	 count;
	uint32_t	 cap;		/* a power of two, 0 when no ring */
	uint64_t	 bytes;		/* payload bytes held */
};

void	history_init(struct history *h);

/* Drop every entry and release the ring. */
void	history_clear(struct history *h);

/*
 * Append frame |m| (a channel msg: m->seq set) holding |plen| payload bytes
 * of |opcode|, published at |now| ms, and evict what |lim| no longer allows
 * (oldest first). A message larger than lim->bytes leaves the history empty,
 * so what is held is always a run that ends at the newest sequence number.
 * A sequence number that does not follow the newest held one clears the
 * history first. Returns 0, or -1 when out of memory (the history is then
 * emptied, for the same reason).
 */
int	history_add(struct history *h, struct msg *m, unsigned opcode,
	    size_t plen, uint64_t now, const struct history_limits *lim);

/* Evict the entries older than lim->ttl_ms at |now|; returns how many. */
size_t	history_expire(struct history *h, uint64_t now,
	    const struct history_limits *lim);

/* The |i|th held entry, oldest first (|i| < h->count). */
static inline const struct history_entry *
history_at(const struct history *h, uint32_t i)
{
	return &h->ring[(h->head + i) & (h->cap - 1)];
}

/* The sequence number of the oldest held entry, 0 when empty. */
uint64_t history_first_seq(const struct history *h);

/* The sequence number of the newest held entry, 0 when empty. */
uint64_t history_last_seq(const struct history *h);

/*
 * Find the entries after |seq|: returns 1 and sets |*first| to the index of
 * the entry with sequence number |seq| + 1 (h->count when |seq| is the
 * newest held) when every message after |seq| up to the newest is held;
 * 0 when the history is empty, does not reach back to |seq| + 1, or |seq|
 * is past the newest.
 */
int	history_after(const struct history *h, uint64_t seq, uint32_t *first);

#endif
