/* A hash map from 64-bit ids to pointers (open addressing, backward-shift delete). */
#include "autoconf.h"

#include <stdlib.h>

#include "util/idmap.h"

#define IDMAP_MIN	16

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

void
idmap_init(struct idmap *m)
{
	m->slots = NULL;
	m->mask = 0;
	m->count = 0;
}

void
idmap_clear(struct idmap *m)
{
	free(m->slots);
	idmap_init(m);
}

static void
idmap_insert_slot(struct idmap_slot *slots, size_t mask, uint64_t key, void *val)
{
	size_t i = idmap_hash(key) & mask;

	while (slots[i].key != 0 && slots[i].key != key)
		i = (i + 1) & mask;
	slots[i].key = key;
	slots[i].val = val;
}

static int
idmap_grow(struct idmap *m)
{
	size_t cap = m->slots == NULL ? IDMAP_MIN : (m->mask + 1) * 2;
	struct idmap_slot *ns;

	if ((ns = calloc(cap, sizeof(*ns))) == NULL)
		return -1;
	if (m->slots != NULL) {
		for (size_t i = 0; i <= m->mask; i++)
			if (m->slots[i].key != 0)
				idmap_insert_slot(ns, cap - 1, m->slots[i].key,
				    m->slots[i].val);
		free(m->slots);
	}
	m->slots = ns;
	m->mask = cap - 1;
	return 0;
}

int
idmap_put(struct idmap *m, uint64_t key, void *val)
{
	/* Keep the load under 3/4 so probe sequences stay short. */
	if (m->slots == NULL || (m->count + 1) * 4 > (m->mask + 1) * 3)
		if (idmap_grow(m) == -1)
			return -1;
	if (idmap_get(m, key) == NULL)
		m->count++;
	idmap_insert_slot(m->slots, m->mask, key, val);
	return 0;
}

void *
idmap_get(const struct idmap *m, uint64_t key)
{
	size_t i;

	if (m->slots == NULL || key == 0)
		return NULL;
	for (i = idmap_hash(key) & m->mask; m->slots[i].key != 0;
	    i = (i + 1) & m->mask)
		if (m->slots[i].key == key)
			return m->slots[i].val;
	return NULL;
}

void *
idmap_del(struct idmap *m, uint64_t key)
{
	size_t i, j;
	void *val;

	if (m->slots == NULL || key == 0)
		return NULL;
	for (i = idmap_hash(key) & m->mask; m->slots[i].key != key;
	    i = (i + 1) & m->mask)
		if (m->slots[i].key == 0)
			return NULL;
	val = m->slots[i].val;
	/*
	 * Shift later members of the probe run back into the hole, so no
	 * tombstones accumulate in a map that sees constant churn.
	 */
	for (j = (i + 1) & m->mask; m->slots[j].key != 0; j = (j + 1) & m->mask) {
		size_t home = idmap_hash(m->slots[j].key) & m->mask;

		/* Move j to i only if its home is not within (i, j]. */
		if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].key = 0;
	m->slots[i].val = NULL;
	m->count--;
	return val;
}
