/* Identities: a user and its channel permissions, interned and shared by connections. */
#ifndef WSH_HUB_IDENT_H
#define WSH_HUB_IDENT_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

struct conn;

LIST_HEAD(ident_conns, conn);

/*
 * Who a connection is and what it may do. Connections that authenticated
 * as the same user with the same permissions and expiry share one
 * identity, so an idle connection pays a pointer and a list link for it.
 */
struct ident {
	LIST_ENTRY(ident)	 link;		/* its bucket in the table */
	struct ident_conns	 conns;		/* connections holding it */
	unsigned		 refs;		/* holders: connections, requests */
	uint32_t		 hash;		/* of the user name */
	int64_t			 expires;	/* Epoch seconds, 0 = never */
	size_t			 heap_idx;	/* in the expiry heap, or SIZE_MAX */
	char			*user;
	char			**sub;		/* patterns, NULL-terminated */
	char			**pub;
};

LIST_HEAD(ident_bucket, ident);

/* Every identity of one event loop, by user name, and by expiry. */
struct ident_table {
	struct ident_bucket	*buckets;
	size_t			 nbuckets;	/* a power of two */
	size_t			 count;
	struct ident		**heap;		/* with an expiry, soonest first */
	size_t			 heap_len;
	size_t			 heap_cap;
};

void	ident_table_init(struct ident_table *t);
/* Free the table; every identity must have been released. */
void	ident_table_clear(struct ident_table *t);

/*
 * The identity for |user| with patterns |sub| and |pub| (NULL-terminated;
 * copied) and |expires|, shared with an equal one when it exists; one
 * reference is the caller's. NULL when out of memory.
 */
struct ident *ident_intern(struct ident_table *t, const char *user,
	    char *const *sub, char *const *pub, int64_t expires);

/* Take or drop a reference; the last drop frees it. */
struct ident *ident_ref(struct ident *id);
void	ident_release(struct ident_table *t, struct ident *id);

/*
 * Give |c| identity |id| (a reference is taken), leaving its old one, and
 * list it among |id|'s connections; |id| NULL makes it anonymous. Returns
 * 0, or -1 when out of memory (nothing changed); |id| NULL never fails.
 */
int	ident_attach(struct ident_table *t, struct conn *c, struct ident *id);

/* Whether |id| may subscribe to, or publish on, channel |name|. */
int	ident_may_subscribe(const struct ident *id, const char *name,
	    size_t len);
int	ident_may_publish(const struct ident *id, const char *name,
	    size_t len);

/* Whether |pattern| matches channel |name| (fnmatch(3), no flags). */
int	ident_match(char *const *patterns, const char *name, size_t len);

/*
 * Call |fn| for each open connection of |user|; returns how many there
 * were. |fn| must not free or re-identify connections.
 */
size_t	ident_foreach_conn(struct ident_table *t, const char *user,
	    void (*fn)(struct conn *, void *), void *arg);

/*
 * The identity whose expiry is soonest and not after |now|, or NULL. The
 * caller acts on its connections; each one it closes detaches itself.
 */
struct ident *ident_expired(struct ident_table *t, int64_t now);

/* Take |id| out of the expiry heap (it was dealt with). */
void	ident_unexpire(struct ident_table *t, struct ident *id);

/*
 * The user name of connection |c|, or NULL when it is anonymous (no
 * authenticator, or none is configured). For listings (wshubctl conns).
 */
const char *ident_conn_user(const struct conn *c);

#endif
