/* A hash map from 64-bit ids to pointers (open addressing, backward-shift delete). */
#ifndef WSH_UTIL_IDMAP_H
#define WSH_UTIL_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap_slot {
	uint64_t	 key;		/* 0 marks an empty slot; 0 is never a key */
	void		*val;
};

struct idmap {
	struct idmap_slot *slots;
	size_t		 mask;		/* capacity - 1; capacity is a power of 2 */
	size_t		 count;
};

void	idmap_init(struct idmap *m);
void	idmap_clear(struct idmap *m);

/* Insert or replace |key| (non-zero). Returns 0, or -1 when out of memory. */
int	idmap_put(struct idmap *m, uint64_t key, void *val);

/* The value of |key|, or NULL. */
void	*idmap_get(const struct idmap *m, uint64_t key);

/* Remove |key|; returns its value or NULL when absent. */
void	*idmap_del(struct idmap *m, uint64_t key);

#endif
