/* Unit tests for the shared pieces of the daemon: msg, idmap, channels. */
#include "autoconf.h"

#include "hub/channel.h"
#include "proto/frame.h"
#include "util/idmap.h"
#include "util/msg.h"

#include "testutil.h"

START_TEST(msg_frame_small)
{
	struct msg *m = msg_frame(WS_OP_TEXT, "Hello", 5);

	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->len, 7);
	ck_assert_uint_eq(m->data[0], 0x81);
	ck_assert_uint_eq(m->data[1], 0x05);
	ck_assert_int_eq(memcmp(m->data + 2, "Hello", 5), 0);
	ck_assert_uint_eq(m->refs, 1);
	msg_ref(m);
	ck_assert_uint_eq(m->refs, 2);
	msg_unref(m);
	msg_unref(m);
	msg_unref(NULL);
}
END_TEST

START_TEST(msg_frame_lengths)
{
	static const struct { size_t len, hdr; } cases[] = {
		{ 0, 2 }, { 125, 2 }, { 126, 4 }, { 65535, 4 }, { 65536, 10 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *payload = calloc(1, cases[i].len + 1);
		struct msg *m = msg_frame(WS_OP_BINARY, payload, cases[i].len);

		ck_assert_ptr_nonnull(m);
		ck_assert_uint_eq(m->len, cases[i].len + cases[i].hdr);
		ck_assert_uint_eq(m->data[0], 0x82);
		msg_unref(m);
		free(payload);
	}
}
END_TEST

START_TEST(idmap_churn)
{
	/* Compare against a plain array through inserts and deletes. */
	enum { N = 5000 };
	static void *ref[N + 1];
	struct idmap m;

	idmap_init(&m);
	memset(ref, 0, sizeof(ref));
	srand(7);
	for (int round = 0; round < 100000; round++) {
		uint64_t k = (uint64_t)(rand() % N) + 1;

		if (rand() % 3 == 0) {
			ck_assert_ptr_eq(idmap_del(&m, k), ref[k]);
			ref[k] = NULL;
		} else {
			void *v = (void *)(uintptr_t)(round + 1);

			ck_assert_int_eq(idmap_put(&m, k, v), 0);
			ref[k] = v;
		}
	}
	size_t count = 0;
	for (uint64_t k = 1; k <= N; k++) {
		ck_assert_ptr_eq(idmap_get(&m, k), ref[k]);
		count += ref[k] != NULL;
	}
	ck_assert_uint_eq(m.count, count);
	ck_assert_ptr_null(idmap_get(&m, 0));
	idmap_clear(&m);
}
END_TEST

/* An object that carries its own key, as a connection does. */
struct idmap_obj {
	uint32_t	 pad;
	uint64_t	 id;
	int		 live;
};

START_TEST(idmap_keyed_churn)
{
	/*
	 * The keyed map against a plain array through growth and deletion
	 * under churn; keys spread like connection ids (a node tag in the
	 * high bits, a counter below).
	 */
	enum { N = 5000 };
	static struct idmap_obj objs[N + 1];
	struct idmap m;
	size_t count, walked;

	idmap_init_keyed(&m, offsetof(struct idmap_obj, id));
	ck_assert_uint_eq(sizeof(m.slots[0]), sizeof(void *));
	memset(objs, 0, sizeof(objs));
	for (uint64_t k = 1; k <= N; k++)
		objs[k].id = (0xabcdefULL << 40) | k;
	srand(11);
	for (int round = 0; round < 200000; round++) {
		struct idmap_obj *o = &objs[rand() % N + 1];

		if (rand() % 3 == 0) {
			ck_assert_ptr_eq(idmap_del(&m, o->id),
			    o->live ? o : NULL);
			o->live = 0;
		} else {
			ck_assert_int_eq(idmap_put(&m, o->id, o), 0);
			o->live = 1;
		}
		/* Empty it now and then: growth from nothing again. */
		if (round % 50000 == 49999) {
			for (uint64_t k = 1; k <= N; k++)
				if (objs[k].live) {
					ck_assert_ptr_eq(idmap_del(&m,
					    objs[k].id), &objs[k]);
					objs[k].live = 0;
				}
			ck_assert_uint_eq(m.count, 0);
		}
	}
	count = 0;
	for (uint64_t k = 1; k <= N; k++) {
		ck_assert_ptr_eq(idmap_get(&m, objs[k].id),
		    objs[k].live ? &objs[k] : NULL);
		count += objs[k].live;
	}
	ck_assert_uint_eq(m.count, count);
	/* A key never stored, and the reserved 0. */
	ck_assert_ptr_null(idmap_get(&m, (0xabcdefULL << 40) | (N + 1)));
	ck_assert_ptr_null(idmap_get(&m, 0));
	ck_assert_ptr_null(idmap_del(&m, 0));
	/* A walk over the slots sees every value once, as server.c walks. */
	walked = 0;
	for (size_t i = 0; m.slots != NULL && i <= m.mask; i++) {
		if (m.slots[i].key == 0)
			continue;
		ck_assert_int_eq(((struct idmap_obj *)m.slots[i].val)->live,
		    1);
		walked++;
	}
	ck_assert_uint_eq(walked, count);
	/* Emptied by deleting from the walk, as server_free() does. */
	for (size_t i = 0; m.slots != NULL && i <= m.mask; i++)
		while (m.slots[i].key != 0) {
			struct idmap_obj *o = m.slots[i].val;

			ck_assert_ptr_eq(idmap_del(&m, o->id), o);
			o->live = 0;
		}
	ck_assert_uint_eq(m.count, 0);
	idmap_clear(&m);
	/* Still keyed after a clear. */
	ck_assert_int_eq(idmap_put(&m, objs[1].id, &objs[1]), 0);
	ck_assert_ptr_eq(idmap_get(&m, objs[1].id), &objs[1]);
	ck_assert_ptr_null(m.keys);
	idmap_clear(&m);
}
END_TEST

START_TEST(idmap_collisions)
{
	/*
	 * Keys that share their home slot, deleted from the front, the
	 * middle and the end of the probe run, in both kinds of map.
	 */
	enum { N = 12 };
	struct idmap_obj objs[N];
	struct idmap m;
	size_t n = 0;

	memset(objs, 0, sizeof(objs));
	/* 16 slots at first: find keys whose hash lands in slot 0... */
	for (uint64_t k = 1; n < N; k++) {
		struct idmap probe;

		idmap_init(&probe);
		ck_assert_int_eq(idmap_put(&probe, k, &objs[0]), 0);
		if (probe.keys[0] == k)
			objs[n++].id = k;
		idmap_clear(&probe);
	}
	for (int keyed = 0; keyed < 2; keyed++) {
		if (keyed)
			idmap_init_keyed(&m, offsetof(struct idmap_obj, id));
		else
			idmap_init(&m);
		/* ...under 3/4 of 16, so the table does not grow. */
		for (int i = 0; i < N; i++)
			ck_assert_int_eq(idmap_put(&m, objs[i].id, &objs[i]),
			    0);
		ck_assert_uint_eq(m.mask, 15);
		ck_assert_ptr_eq(idmap_del(&m, objs[0].id), &objs[0]);
		ck_assert_ptr_eq(idmap_del(&m, objs[5].id), &objs[5]);
		ck_assert_ptr_eq(idmap_del(&m, objs[N - 1].id), &objs[N - 1]);
		ck_assert_ptr_null(idmap_del(&m, objs[5].id));
		for (int i = 0; i < N; i++)
			ck_assert_ptr_eq(idmap_get(&m, objs[i].id),
			    i == 0 || i == 5 || i == N - 1 ? NULL : &objs[i]);
		ck_assert_uint_eq(m.count, N - 3);
		idmap_clear(&m);
	}
}
END_TEST

START_TEST(channel_names)
{
	ck_assert(channel_name_valid("news", 4));
	ck_assert(channel_name_valid("a.b:c@d=e+f-g_h", 15));
	ck_assert(!channel_name_valid("", 0));
	ck_assert(!channel_name_valid("a b", 3));
	ck_assert(!channel_name_valid("a,b", 3));
	ck_assert(!channel_name_valid("a/b", 3));
	ck_assert(!channel_name_valid("a\0b", 3));
	ck_assert(!channel_name_valid("caf\xc3\xa9", 5));
	char big[CHANNEL_NAME_MAX + 1];
	memset(big, 'x', sizeof(big));
	ck_assert(channel_name_valid(big, CHANNEL_NAME_MAX));
	ck_assert(!channel_name_valid(big, CHANNEL_NAME_MAX + 1));
}
END_TEST

START_TEST(channel_index_lifecycle)
{
	struct channel_index ix;
	struct subscription subs_a, subs_b;
	struct conn *a = (struct conn *)0x1, *b = (struct conn *)0x2;
	struct channel *x, *y;

	channel_index_init(&ix);
	channel_subs_init(&subs_a);
	channel_subs_init(&subs_b);
	ck_assert_ptr_null(channel_get(&ix, "x", 1, 0));
	x = channel_get(&ix, "x", 1, 1);
	y = channel_get(&ix, "y", 1, 1);
	ck_assert_ptr_nonnull(x);
	ck_assert_ptr_eq(channel_get(&ix, "x", 1, 0), x);
	ck_assert_uint_eq(ix.count, 2);
	ck_assert_int_eq(channel_subscribe(x, a, &subs_a), 0);
	ck_assert_int_eq(channel_subscribe(x, a, &subs_a), 1);
	ck_assert_int_eq(channel_subscribe(y, a, &subs_a), 0);
	ck_assert_int_eq(channel_subscribe(x, b, &subs_b), 0);
	ck_assert_uint_eq(x->nsubs, 2);
	channel_unsubscribe_all(&subs_a);
	/* y had only a: gone; x still has b. */
	ck_assert_ptr_null(channel_get(&ix, "y", 1, 0));
	ck_assert_ptr_eq(channel_get(&ix, "x", 1, 0), x);
	ck_assert_uint_eq(x->nsubs, 1);
	channel_unsubscribe_all(&subs_b);
	ck_assert_uint_eq(ix.count, 0);
	channel_index_clear(&ix);
}
END_TEST

/* The channels of the list headed by |head|, in walk order, as "abc". */
static void
subs_names(struct subscription *head, char *out)
{
	struct subscription *s;

	for (s = channel_subs_first(head); s != NULL;
	    s = channel_subs_next(head, s))
		*out++ = s->chan->name[0];
	*out = '\0';
}

START_TEST(channel_subs_embedded_head)
{
	struct channel_index ix;
	struct subscription head;
	struct conn *a = (struct conn *)0x10;
	struct channel *x, *y, *z;
	char names[8];

	/* Two pointers, a TAILQ entry and the tagged next: no padding. */
	ck_assert_uint_eq(sizeof(struct subscription), 5 * sizeof(void *));
	channel_index_init(&ix);
	channel_subs_init(&head);
	subs_names(&head, names);
	ck_assert_str_eq(names, "");
	x = channel_get(&ix, "x", 1, 1);
	y = channel_get(&ix, "y", 1, 1);
	z = channel_get(&ix, "z", 1, 1);

	/* The first subscription is the head itself. */
	ck_assert_int_eq(channel_subscribe_mode(x, a, SUB_JSON, &head), 0);
	ck_assert_ptr_eq(head.chan, x);
	ck_assert_ptr_eq(channel_find_sub(&head, x), &head);
	ck_assert_ptr_eq(TAILQ_FIRST(&x->subs[SUB_JSON]), &head);
	ck_assert_int_eq(channel_subscribe_mode(y, a, (enum sub_mode)(SUB_PENDING + SUB_JSON),
	    &head), 0);
	ck_assert_int_eq(channel_subscribe_mode(z, a, SUB_JSON, &head), 0);
	ck_assert_ptr_ne(channel_find_sub(&head, y), &head);
	subs_names(&head, names);
	ck_assert_str_eq(names, "zyx");	/* newest first, as before */
	ck_assert_uint_eq(channel_sub_list(&head), SUB_JSON);

	/* A pending one moves to its mode's list; its tag changes only. */
	struct subscription *sy = channel_find_sub(&head, y);
	ck_assert(channel_sub_pending(sy));
	ck_assert_ptr_eq(TAILQ_FIRST(&y->subs[SUB_PENDING + SUB_JSON]), sy);
	channel_sub_activate(sy);
	ck_assert(!channel_sub_pending(sy));
	ck_assert_ptr_eq(TAILQ_FIRST(&y->subs[SUB_JSON]), sy);
	subs_names(&head, names);
	ck_assert_str_eq(names, "zyx");

	/* Unsubscribing the head leaves it vacant and the others in place. */
	ck_assert_int_eq(channel_unsubscribe(x, &head), 0);
	ck_assert_ptr_null(head.chan);
	ck_assert_ptr_null(channel_get(&ix, "x", 1, 0));
	ck_assert_int_eq(channel_unsubscribe(x, &head), -1);
	subs_names(&head, names);
	ck_assert_str_eq(names, "zy");

	/* The next subscription fills the vacant head again. */
	x = channel_get(&ix, "x", 1, 1);
	ck_assert_int_eq(channel_subscribe_mode(x, a, SUB_RAW, &head), 0);
	ck_assert_ptr_eq(head.chan, x);
	ck_assert_uint_eq(channel_sub_list(&head), SUB_RAW);
	ck_assert_ptr_eq(TAILQ_FIRST(&x->subs[SUB_RAW]), &head);
	subs_names(&head, names);
	ck_assert_str_eq(names, "zyx");

	/* One in the middle, then the last of the chain. */
	ck_assert_int_eq(channel_unsubscribe(y, &head), 0);
	subs_names(&head, names);
	ck_assert_str_eq(names, "zx");
	ck_assert_int_eq(channel_unsubscribe(z, &head), 0);
	subs_names(&head, names);
	ck_assert_str_eq(names, "x");
	ck_assert_ptr_null(channel_sub_next(&head));
	ck_assert_uint_eq(ix.count, 1);

	/* All of them, the head included, with a chain behind it. */
	y = channel_get(&ix, "y", 1, 1);
	ck_assert_int_eq(channel_subscribe(y, a, &head), 0);
	channel_unsubscribe_all(&head);
	ck_assert_ptr_null(head.chan);
	ck_assert_ptr_null(channel_sub_next(&head));
	ck_assert_uint_eq(ix.count, 0);
	subs_names(&head, names);
	ck_assert_str_eq(names, "");

	/* A vacant head with a chain behind it is emptied too. */
	x = channel_get(&ix, "x", 1, 1);
	y = channel_get(&ix, "y", 1, 1);
	ck_assert_int_eq(channel_subscribe(x, a, &head), 0);
	ck_assert_int_eq(channel_subscribe(y, a, &head), 0);
	ck_assert_int_eq(channel_unsubscribe(x, &head), 0);
	channel_unsubscribe_all(&head);
	ck_assert_uint_eq(ix.count, 0);
	channel_index_clear(&ix);
}
END_TEST

static Suite *
msg_suite(void)
{
	Suite *s = suite_create("msg");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, TU_TIMEOUT);
	tcase_add_test(tc, msg_frame_small);
	tcase_add_test(tc, msg_frame_lengths);
	tcase_add_test(tc, idmap_churn);
	tcase_add_test(tc, idmap_keyed_churn);
	tcase_add_test(tc, idmap_collisions);
	tcase_add_test(tc, channel_names);
	tcase_add_test(tc, channel_index_lifecycle);
	tcase_add_test(tc, channel_subs_embedded_head);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(msg_suite());
}
