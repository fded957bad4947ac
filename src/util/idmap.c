/* A hash map from 64-bit ids to pointers (open addressing, backward-shift delete). */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "util/idmap.h"

#define IDMAP_MIN	16
#define IDMAP_PLAIN	SIZE_MAX	/* key_off of a map that stores keys */

_Static_assert(sizeof(struct idmap_slot) == sizeof(void *),
    "a slot is one pointer");

/* A 64-bit mixer, so sequential ids spread over the table. */
static inline size_t
idmap_hash(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return (size_t)k;
}

/* The key of used slot |i| of |slots| (|keys| when the map stores them). */
static inline uint64_t
idmap_key(const struct idmap_slot *slots, const uint64_t *keys, size_t off,
    size_t i)
{
	uint64_t k;

	if (keys != NULL)
		return keys[i];
	/* memcpy: the offset is the caller's, not known aligned here. */
	memcpy(&k, (const char *)slots[i].val + off, sizeof(k));
	return k;
}

void
idmap_init(struct idmap *m)
{
	m->slots = NULL;
	m->keys = NULL;
	m->mask = 0;
	m->count = 0;
	m->key_off = IDMAP_PLAIN;
}

void
idmap_init_keyed(struct idmap *m, size_t key_off)
{
	idmap_init(m);
	m->key_off = key_off;
}

void
idmap_clear(struct idmap *m)
{
	size_t off = m->key_off;

	free(m->slots);
	free(m->keys);
	idmap_init(m);
	m->key_off = off;
}

/*
 * Slot |i| of the table holding |key|, or of the empty slot that ends its
 * probe run.
 */
static size_t
idmap_find(const struct idmap_slot *slots, const uint64_t *keys, size_t off,
    size_t mask, uint64_t key)
{
	size_t i = idmap_hash(key) & mask;

	while (slots[i].val != NULL && idmap_key(slots, keys, off, i) != key)
		i = (i + 1) & mask;
	return i;
}

static int
idmap_grow(struct idmap *m)
{
	size_t cap = m->slots == NULL ? IDMAP_MIN : (m->mask + 1) * 2;
	struct idmap_slot *ns;
	uint64_t *nk = NULL;

	if ((ns = calloc(cap, sizeof(*ns))) == NULL)
		return -1;
	if (m->key_off == IDMAP_PLAIN &&
	    (nk = calloc(cap, sizeof(*nk))) == NULL) {
		free(ns);
		return -1;
	}
	for (size_t i = 0; m->slots != NULL && i <= m->mask; i++) {
		uint64_t k;
		size_t j;

		if (m->slots[i].val == NULL)
			continue;
		k = idmap_key(m->slots, m->keys, m->key_off, i);
		j = idmap_find(ns, nk, m->key_off, cap - 1, k);
		ns[j].val = m->slots[i].val;
		if (nk != NULL)
			nk[j] = k;
	}
	free(m->slots);
	free(m->keys);
	m->slots = ns;
	m->keys = nk;
	m->mask = cap - 1;
	return 0;
}

int
idmap_put(struct idmap *m, uint64_t key, void *val)
{
	size_t i;

	/* Keep the load under 3/4 so probe sequences stay short. */
	if (m->slots == NULL || (m->count + 1) * 4 > (m->mask + 1) * 3)
		if (idmap_grow(m) == -1)
			return -1;
	i = idmap_find(m->slots, m->keys, m->key_off, m->mask, key);
	if (m->slots[i].val == NULL)
		m->count++;
	m->slots[i].val = val;
	if (m->keys != NULL)
		m->keys[i] = key;
	return 0;
}

void *
idmap_get(const struct idmap *m, uint64_t key)
{
	if (m->slots == NULL || key == 0)
		return NULL;
	return m->slots[idmap_find(m->slots, m->keys, m->key_off, m->mask,
	    key)].val;
}

void *
idmap_del(struct idmap *m, uint64_t key)
{
	size_t i, j;
	void *val;

	if (m->slots == NULL || key == 0)
		return NULL;
	i = idmap_find(m->slots, m->keys, m->key_off, m->mask, key);
	if ((val = m->slots[i].val) == NULL)
		return NULL;
	/*
	 * Shift later members of the probe run back into the hole, so no
	 * tombstones accumulate in a map that sees constant churn.
	 */
	for (j = (i + 1) & m->mask; m->slots[j].val != NULL;
	    j = (j + 1) & m->mask) {
		uint64_t k = idmap_key(m->slots, m->keys, m->key_off, j);
		size_t home = idmap_hash(k) & m->mask;

		/* Move j to i only if its home is not within (i, j]. */
		if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
			m->slots[i] = m->slots[j];
			if (m->keys != NULL)
				m->keys[i] = k;
			i = j;
		}
	}
	m->slots[i].val = NULL;
	if (m->keys != NULL)
		m->keys[i] = 0;
	m->count--;
	return val;
}
