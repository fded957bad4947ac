/* Identities: a user and its channel permissions, interned and shared by connections. */
#include "autoconf.h"

#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/ident.h"
#include "transport/conn.h"

/* First size of the table; it doubles when it holds twice as many. */
#define IDENT_BUCKETS_MIN	64
/* Longest channel name a permission check looks at (CHANNEL_NAME_MAX). */
#define IDENT_NAME_MAX		128

static uint32_t
ident_hash(const char *s)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

void
ident_table_init(struct ident_table *t)
{
	memset(t, 0, sizeof(*t));
}

void
ident_table_clear(struct ident_table *t)
{
	free(t->buckets);
	free(t->heap);
	memset(t, 0, sizeof(*t));
}

static size_t
ident_list_len(char *const *l)
{
	size_t n = 0;

	while (l != NULL && l[n] != NULL)
		n++;
	return n;
}

static int
ident_list_eq(char *const *a, char *const *b)
{
	size_t n = ident_list_len(a);

	if (n != ident_list_len(b))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	return 1;
}

static void
ident_list_free(char **l)
{
	for (size_t i = 0; l != NULL && l[i] != NULL; i++)
		free(l[i]);
	free(l);
}

static char **
ident_list_dup(char *const *l)
{
	size_t n = ident_list_len(l);
	char **d;

	if ((d = calloc(n + 1, sizeof(*d))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((d[i] = strdup(l[i])) == NULL) {
			ident_list_free(d);
			return NULL;
		}
	return d;
}

/* The expiry heap: a binary min-heap on |expires| with back indexes. */
static void
ident_heap_set(struct ident_table *t, size_t i, struct ident *id)
{
	t->heap[i] = id;
	id->heap_idx = i;
}

static void
ident_heap_up(struct ident_table *t, size_t i)
{
	struct ident *id = t->heap[i];

	while (i > 0 && t->heap[(i - 1) / 2]->expires > id->expires) {
		ident_heap_set(t, i, t->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	ident_heap_set(t, i, id);
}

static void
ident_heap_down(struct ident_table *t, size_t i)
{
	struct ident *id = t->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= t->heap_len)
			break;
		if (c + 1 < t->heap_len &&
		    t->heap[c + 1]->expires < t->heap[c]->expires)
			c++;
		if (t->heap[c]->expires >= id->expires)
			break;
		ident_heap_set(t, i, t->heap[c]);
		i = c;
	}
	ident_heap_set(t, i, id);
}

static int
ident_heap_push(struct ident_table *t, struct ident *id)
{
	if (t->heap_len == t->heap_cap) {
		size_t ncap = t->heap_cap ? t->heap_cap * 2 : 16;
		struct ident **nh;

		if ((nh = realloc(t->heap, ncap * sizeof(*nh))) == NULL)
			return -1;
		t->heap = nh;
		t->heap_cap = ncap;
	}
	t->heap[t->heap_len] = id;
	ident_heap_up(t, t->heap_len++);
	return 0;
}

void
ident_unexpire(struct ident_table *t, struct ident *id)
{
	struct ident *moved;
	size_t i = id->heap_idx;

	if (i == SIZE_MAX)
		return;
	id->heap_idx = SIZE_MAX;
	if (i == --t->heap_len)
		return;
	moved = t->heap[t->heap_len];
	ident_heap_set(t, i, moved);
	ident_heap_up(t, i);
	ident_heap_down(t, moved->heap_idx);
}

struct ident *
ident_expired(struct ident_table *t, int64_t now)
{
	if (t->heap_len == 0 || t->heap[0]->expires > now)
		return NULL;
	return t->heap[0];
}

static int
ident_grow(struct ident_table *t)
{
	size_t n = t->nbuckets ? t->nbuckets * 2 : IDENT_BUCKETS_MIN;
	struct ident_bucket *nb;
	struct ident *id;

	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		return -1;
	for (size_t i = 0; i < t->nbuckets; i++)
		while ((id = LIST_FIRST(&t->buckets[i])) != NULL) {
			LIST_REMOVE(id, link);
			LIST_INSERT_HEAD(&nb[id->hash & (n - 1)], id, link);
		}
	free(t->buckets);
	t->buckets = nb;
	t->nbuckets = n;
	return 0;
}

struct ident *
ident_intern(struct ident_table *t, const char *user, char *const *sub,
    char *const *pub, int64_t expires)
{
	uint32_t h = ident_hash(user);
	struct ident *id;

	if (t->nbuckets == 0 || t->count >= t->nbuckets * 2)
		if (ident_grow(t) == -1 && t->nbuckets == 0)
			return NULL;
	LIST_FOREACH(id, &t->buckets[h & (t->nbuckets - 1)], link)
		if (id->hash == h && id->expires == expires &&
		    strcmp(id->user, user) == 0 && ident_list_eq(id->sub, sub) &&
		    ident_list_eq(id->pub, pub))
			return ident_ref(id);
	if ((id = calloc(1, sizeof(*id))) == NULL)
		return NULL;
	id->refs = 1;
	id->hash = h;
	id->expires = expires;
	id->heap_idx = SIZE_MAX;
	LIST_INIT(&id->conns);
	if ((id->user = strdup(user)) == NULL ||
	    (id->sub = ident_list_dup(sub)) == NULL ||
	    (id->pub = ident_list_dup(pub)) == NULL ||
	    (expires != 0 && ident_heap_push(t, id) == -1)) {
		ident_list_free(id->sub);
		ident_list_free(id->pub);
		free(id->user);
		free(id);
		return NULL;
	}
	LIST_INSERT_HEAD(&t->buckets[h & (t->nbuckets - 1)], id, link);
	t->count++;
	return id;
}

struct ident *
ident_ref(struct ident *id)
{
	id->refs++;
	return id;
}

void
ident_release(struct ident_table *t, struct ident *id)
{
	if (id == NULL || --id->refs > 0)
		return;
	ident_unexpire(t, id);
	LIST_REMOVE(id, link);
	t->count--;
	ident_list_free(id->sub);
	ident_list_free(id->pub);
	free(id->user);
	free(id);
}

int
ident_attach(struct ident_table *t, struct conn *c, struct ident *id)
{
	struct ident *old = c->ident;

	if (old == id)
		return 0;
	/* The link lives in the conn's ext, which anonymous conns lack. */
	if (id != NULL && conn_ext(c) == NULL)
		return -1;
	if (old != NULL)
		LIST_REMOVE(c, ext->ident_link);
	c->ident = id != NULL ? ident_ref(id) : NULL;
	if (id != NULL)
		LIST_INSERT_HEAD(&id->conns, c, ext->ident_link);
	ident_release(t, old);
	return 0;
}

int
ident_match(char *const *patterns, const char *name, size_t len)
{
	char buf[IDENT_NAME_MAX + 1];

	if (len > IDENT_NAME_MAX)
		return 0;
	memcpy(buf, name, len);
	buf[len] = '\0';
	for (size_t i = 0; patterns != NULL && patterns[i] != NULL; i++)
		if (fnmatch(patterns[i], buf, 0) == 0)
			return 1;
	return 0;
}

int
ident_may_subscribe(const struct ident *id, const char *name, size_t len)
{
	return id == NULL || ident_match(id->sub, name, len);
}

int
ident_may_publish(const struct ident *id, const char *name, size_t len)
{
	return id == NULL || ident_match(id->pub, name, len);
}

size_t
ident_foreach_conn(struct ident_table *t, const char *user,
    void (*fn)(struct conn *, void *), void *arg)
{
	uint32_t h = ident_hash(user);
	struct ident *id;
	struct conn *c;
	size_t n = 0;

	if (t->nbuckets == 0)
		return 0;
	LIST_FOREACH(id, &t->buckets[h & (t->nbuckets - 1)], link) {
		if (id->hash != h || strcmp(id->user, user) != 0)
			continue;
		LIST_FOREACH(c, &id->conns, ext->ident_link) {
			if (c->state != CONN_WS)
				continue;
			fn(c, arg);
			n++;
		}
	}
	return n;
}

const char *
ident_conn_user(const struct conn *c)
{
	return c->ident != NULL ? c->ident->user : NULL;
}
