/* A hash map from 64-bit ids to pointers (open addressing, backward-shift delete). */
#ifndef WSH_UTIL_IDMAP_H
#define WSH_UTIL_IDMAP_H

#include <stddef.h>
#include <stdint.h>

/*
 * A slot holds the value alone. |key| aliases it so that a walk over the
 * slots reads "slots[i].key != 0" for "in use" and "slots[i].val" for the
 * value whatever the map's kind: it is not the key (see below), only
 * non-zero exactly when the slot is in use. Values are never NULL.
 */
struct idmap_slot {
	union {
		void		*val;
		uintptr_t	 key;
	};
};

/*
 * Two kinds of map share the code. A map made by idmap_init() keeps the
 * keys in an array of their own beside the slots (16 bytes an entry, as
 * a key/value pair would take). A map made by idmap_init_keyed() keeps
 * no key: each value holds its own 64-bit key at byte |key_off|, and a
 * probe reads it there, so an entry costs 8 bytes. The second suits a map
 * of objects that carry their id (connections), where memory per entry
 * counts more than a load per probe.
 */
struct idmap {
	struct idmap_slot *slots;
	uint64_t	*keys;		/* NULL in a keyed map */
	size_t		 mask;		/* capacity - 1; capacity is a power of 2 */
	size_t		 count;
	size_t		 key_off;	/* a keyed map's key offset, else SIZE_MAX */
};

void	idmap_init(struct idmap *m);

/*
 * A map whose values each hold their key: a uint64_t at |key_off| bytes
 * into the object. The key of a stored object must not change while it
 * is in the map.
 */
void	idmap_init_keyed(struct idmap *m, size_t key_off);

/* Free the table; the map stays usable, of the same kind, and empty. */
void	idmap_clear(struct idmap *m);

/*
 * Insert or replace |key| (non-zero) with |val| (non-NULL; in a keyed map
 * an object whose key is |key|). Returns 0, or -1 when out of memory.
 */
int	idmap_put(struct idmap *m, uint64_t key, void *val);

/* The value of |key|, or NULL. */
void	*idmap_get(const struct idmap *m, uint64_t key);

/* Remove |key|; returns its value or NULL when absent. */
void	*idmap_del(struct idmap *m, uint64_t key);

#endif
