/* Channels: the two-way index between channels and their subscribers. */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "hub/channel.h"
#include "transport/conn.h"
#include "util/msg.h"

void
channel_index_init(struct channel_index *ix)
{
	idmap_init(&ix->map);
	ix->count = 0;
}

void
channel_index_clear(struct channel_index *ix)
{
	/* Subscriptions are gone by now; only empty chains could remain. */
	idmap_clear(&ix->map);
	ix->count = 0;
}

int
channel_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > CHANNEL_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("_.:@=+-", ch) != NULL) ||
		    ch == '\0')
			return 0;
	}
	return 1;
}

/* FNV-1a, then never 0 (the id map reserves it). */
static uint64_t
channel_hash(const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 0x100000001b3ULL;
	}
	return h != 0 ? h : 1;
}

struct channel *
channel_get(struct channel_index *ix, const char *name, size_t len, int create)
{
	uint64_t h = channel_hash(name, len);
	struct channel *head, *ch;

	head = idmap_get(&ix->map, h);
	for (ch = head; ch != NULL; ch = ch->hash_next)
		if (ch->name_len == len && memcmp(ch->name, name, len) == 0)
			return ch;
	if (!create)
		return NULL;
	if ((ch = calloc(1, sizeof(*ch) + len + 1)) == NULL)
		return NULL;
	ch->index = ix;
	ch->hash = h;
	ch->name_len = len;
	memcpy(ch->name, name, len);
	TAILQ_INIT(&ch->subs);
	ch->hash_next = head;
	if (idmap_put(&ix->map, h, ch) == -1) {
		free(ch);
		return NULL;
	}
	ix->count++;
	return ch;
}

static void
channel_free(struct channel *ch)
{
	struct channel_index *ix = ch->index;
	struct channel *head = idmap_get(&ix->map, ch->hash), **pp;

	if (head == ch) {
		if (ch->hash_next != NULL)
			idmap_put(&ix->map, ch->hash, ch->hash_next);
		else
			idmap_del(&ix->map, ch->hash);
	} else {
		for (pp = &head->hash_next; *pp != ch; pp = &(*pp)->hash_next)
			;
		*pp = ch->hash_next;
	}
	ix->count--;
	free(ch);
}

int
channel_subscribe(struct channel *ch, struct conn *c,
    struct subscription **conn_subs)
{
	struct subscription *s;

	for (s = *conn_subs; s != NULL; s = s->conn_next)
		if (s->chan == ch)
			return 1;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	s->conn = c;
	s->chan = ch;
	TAILQ_INSERT_TAIL(&ch->subs, s, chan_link);
	ch->nsubs++;
	s->conn_next = *conn_subs;
	*conn_subs = s;
	return 0;
}

void
channel_unsubscribe_all(struct subscription **conn_subs)
{
	struct subscription *s;

	while ((s = *conn_subs) != NULL) {
		struct channel *ch = s->chan;

		*conn_subs = s->conn_next;
		TAILQ_REMOVE(&ch->subs, s, chan_link);
		/* A channel lives while it has subscribers. */
		if (--ch->nsubs == 0)
			channel_free(ch);
		free(s);
	}
}

size_t
channel_publish(struct channel *ch, struct msg *m)
{
	struct subscription *s;
	size_t n = 0;

	ch->seq++;
	TAILQ_FOREACH(s, &ch->subs, chan_link)
		if (conn_send(s->conn, m) == 0)
			n++;
	return n;
}
