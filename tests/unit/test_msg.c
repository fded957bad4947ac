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
	struct subscription *subs_a = NULL, *subs_b = NULL;
	struct conn *a = (struct conn *)0x1, *b = (struct conn *)0x2;
	struct channel *x, *y;

	channel_index_init(&ix);
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

static Suite *
msg_suite(void)
{
	Suite *s = suite_create("msg");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, TU_TIMEOUT);
	tcase_add_test(tc, msg_frame_small);
	tcase_add_test(tc, msg_frame_lengths);
	tcase_add_test(tc, idmap_churn);
	tcase_add_test(tc, channel_names);
	tcase_add_test(tc, channel_index_lifecycle);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(msg_suite());
}
