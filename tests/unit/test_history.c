/* Unit tests for channel history: the ring's limits, lookups, epochs and recovery. */
#include "autoconf.h"

#include "hub/channel.h"
#include "hub/history.h"
#include "proto/frame.h"
#include "util/msg.h"

#include "testutil.h"

/* A channel frame of |plen| bytes of 'x' with sequence number |seq|. */
static struct msg *
th_msg(uint64_t seq, size_t plen)
{
	struct msg *m;
	uint8_t *p;

	m = msg_frame_alloc_channel(WS_OP_TEXT, plen, &p, "ch", 2, seq);
	ck_assert_ptr_nonnull(m);
	memset(p, 'x', plen);
	return m;
}

/* Add message |seq| of |plen| bytes at |now| and drop our reference. */
static void
th_add(struct history *h, uint64_t seq, size_t plen, uint64_t now,
    const struct history_limits *lim)
{
	struct msg *m = th_msg(seq, plen);

	ck_assert_int_eq(history_add(h, m, WS_OP_TEXT, plen, now, lim), 0);
	msg_unref(m);
}

/* The held sequence numbers must be exactly lo..hi, in order. */
static void
th_expect(const struct history *h, uint64_t lo, uint64_t hi)
{
	uint64_t bytes = 0;

	if (lo > hi) {
		ck_assert_uint_eq(h->count, 0);
		ck_assert_uint_eq(h->bytes, 0);
		ck_assert_uint_eq(history_first_seq(h), 0);
		return;
	}
	ck_assert_uint_eq(h->count, hi - lo + 1);
	ck_assert_uint_eq(history_first_seq(h), lo);
	ck_assert_uint_eq(history_last_seq(h), hi);
	for (uint32_t i = 0; i < h->count; i++) {
		ck_assert_uint_eq(history_at(h, i)->msg->seq, lo + i);
		bytes += history_at(h, i)->plen;
	}
	ck_assert_uint_eq(h->bytes, bytes);
}

START_TEST(history_count_limit)
{
	struct history_limits lim = { 3, 1000, 0 };
	struct history h;

	history_init(&h);
	th_expect(&h, 1, 0);
	for (uint64_t s = 1; s <= 5; s++)
		th_add(&h, s, 4, 0, &lim);
	th_expect(&h, 3, 5);
	history_clear(&h);
	th_expect(&h, 1, 0);
	ck_assert_ptr_null(h.ring);
}
END_TEST

START_TEST(history_ring_wraps)
{
	/* A limit that is not a power of two, many times round the ring. */
	struct history_limits lim = { 21, UINT64_MAX, 0 };
	struct history h;

	history_init(&h);
	for (uint64_t s = 1; s <= 1000; s++) {
		th_add(&h, s, s % 7, 0, &lim);
		th_expect(&h, s > 21 ? s - 20 : 1, s);
	}
	ck_assert_uint_le(h.cap, 32);
	history_clear(&h);
}
END_TEST

START_TEST(history_bytes_limit)
{
	struct history_limits lim = { 100, 10, 0 };
	struct history h;

	history_init(&h);
	th_add(&h, 1, 4, 0, &lim);
	th_add(&h, 2, 4, 0, &lim);
	th_expect(&h, 1, 2);
	th_add(&h, 3, 4, 0, &lim);	/* 12 > 10: the oldest goes */
	th_expect(&h, 2, 3);
	th_add(&h, 4, 10, 0, &lim);	/* exactly the limit: alone */
	th_expect(&h, 4, 4);
	th_add(&h, 5, 0, 0, &lim);	/* empty messages cost nothing */
	th_expect(&h, 4, 5);
	/* Bigger than the limit: not kept, and nothing older either. */
	th_add(&h, 6, 11, 0, &lim);
	th_expect(&h, 1, 0);
	th_add(&h, 7, 1, 0, &lim);
	th_expect(&h, 7, 7);
	history_clear(&h);
}
END_TEST

START_TEST(history_age_limit)
{
	struct history_limits lim = { 100, 1000, 1000 };
	struct history h;

	history_init(&h);
	th_add(&h, 1, 1, 0, &lim);
	th_add(&h, 2, 1, 500, &lim);
	th_add(&h, 3, 1, 1000, &lim);	/* 1 is exactly 1000 ms old: kept */
	th_expect(&h, 1, 3);
	th_add(&h, 4, 1, 1001, &lim);	/* now 1 is too old */
	th_expect(&h, 2, 4);
	ck_assert_uint_eq(history_expire(&h, 1500, &lim), 0);
	ck_assert_uint_eq(history_expire(&h, 2001, &lim), 2);
	th_expect(&h, 4, 4);
	/* A clock that went backwards expires nothing. */
	ck_assert_uint_eq(history_expire(&h, 10, &lim), 0);
	ck_assert_uint_eq(history_expire(&h, 5000, &lim), 1);
	th_expect(&h, 1, 0);
	/* An emptied history gives its ring back. */
	ck_assert_ptr_null(h.ring);
	lim.ttl_ms = 0;
	th_add(&h, 5, 1, 0, &lim);
	ck_assert_uint_eq(history_expire(&h, UINT64_MAX, &lim), 0);
	th_expect(&h, 5, 5);
	history_clear(&h);
}
END_TEST

START_TEST(history_disabled_and_gaps)
{
	struct history_limits off = { 0, 1000, 0 }, on = { 10, 1000, 0 };
	struct history h;

	history_init(&h);
	th_add(&h, 1, 1, 0, &off);
	th_expect(&h, 1, 0);
	ck_assert_ptr_null(h.ring);
	th_add(&h, 2, 1, 0, &on);
	th_add(&h, 3, 1, 0, &on);
	/* A sequence number that skips one clears what was held. */
	th_add(&h, 5, 1, 0, &on);
	th_expect(&h, 5, 5);
	th_add(&h, 6, 1, 0, &off);
	th_expect(&h, 1, 0);
	history_clear(&h);
}
END_TEST

START_TEST(history_refs)
{
	struct history_limits lim = { 2, 1000, 0 };
	struct msg *m[3];
	struct history h;

	history_init(&h);
	for (int i = 0; i < 3; i++) {
		m[i] = th_msg((uint64_t)i + 1, 3);
		ck_assert_int_eq(history_add(&h, m[i], WS_OP_BINARY, 3, 0,
		    &lim), 0);
	}
	/* The history holds references to the very frames, not copies. */
	ck_assert_uint_eq(m[0]->refs, 1);
	ck_assert_uint_eq(m[1]->refs, 2);
	ck_assert_uint_eq(m[2]->refs, 2);
	ck_assert_ptr_eq(history_at(&h, 0)->msg, m[1]);
	ck_assert_uint_eq(history_at(&h, 0)->opcode, WS_OP_BINARY);
	history_clear(&h);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(m[i]->refs, 1);
		msg_unref(m[i]);
	}
}
END_TEST

START_TEST(history_after_lookup)
{
	struct history_limits lim = { 3, 1000, 0 };
	struct history h;
	uint32_t first = 99;

	history_init(&h);
	ck_assert_int_eq(history_after(&h, 0, &first), 0);
	for (uint64_t s = 1; s <= 5; s++)
		th_add(&h, s, 1, 0, &lim);
	/* Held: 3, 4, 5. */
	ck_assert_int_eq(history_after(&h, 1, &first), 0);
	ck_assert_int_eq(history_after(&h, 2, &first), 1);
	ck_assert_uint_eq(first, 0);
	ck_assert_int_eq(history_after(&h, 4, &first), 1);
	ck_assert_uint_eq(first, 2);
	ck_assert_int_eq(history_after(&h, 5, &first), 1);
	ck_assert_uint_eq(first, 3);
	ck_assert_int_eq(history_after(&h, 6, &first), 0);
	ck_assert_int_eq(history_after(&h, UINT64_MAX, &first), 0);
	history_clear(&h);
}
END_TEST

START_TEST(channel_epochs)
{
	struct channel_index ix;
	struct channel *a, *b, *a2;
	uint64_t ea;

	channel_index_init(&ix);
	a = channel_get(&ix, "a", 1, 1);
	b = channel_get(&ix, "b", 1, 1);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_ne(a->epoch, 0);
	ck_assert_uint_ne(a->epoch, b->epoch);
	ck_assert_uint_eq(a->seq, 0);
	ea = a->epoch;
	/* Freed (no subscribers, no history) and made again: a new epoch. */
	ck_assert_int_eq(channel_release(a), 1);
	a2 = channel_get(&ix, "a", 1, 1);
	ck_assert_ptr_nonnull(a2);
	ck_assert_uint_ne(a2->epoch, ea);
	channel_index_clear(&ix);
}
END_TEST

START_TEST(channel_history_recovery)
{
	struct history_limits lim = { 3, 1000, 1000 };
	struct channel_index ix;
	struct channel *ch;
	uint64_t seq = 0;
	uint32_t first = 99;

	channel_index_init(&ix);
	ch = channel_get(&ix, "news", 4, 1);
	ch->lim = lim;
	/* Nothing published yet: position 0 is up to date. */
	ck_assert_int_eq(channel_recover_check(ch, ch->epoch, 0, 0, &first),
	    CHANNEL_RECOVER_OK);
	ck_assert_uint_eq(first, 0);
	for (int i = 1; i <= 5; i++) {
		/* No subscribers: only the history sees it. */
		ck_assert_int_eq(channel_publish(ch, WS_OP_TEXT, "hello", 5,
		    (uint64_t)i * 100, &seq), 0);
		ck_assert_uint_eq(seq, (uint64_t)i);
	}
	ck_assert_uint_eq(ch->seq, 5);
	ck_assert_uint_eq(history_first_seq(&ch->hist), 3);
	/* The raw frame is kept: header, then the payload. */
	ck_assert_uint_eq(history_at(&ch->hist, 0)->msg->len, 7);
	ck_assert_str_eq(history_at(&ch->hist, 0)->msg->channel, "news");

	ck_assert_int_eq(channel_recover_check(ch, ch->epoch, 2, 600, &first),
	    CHANNEL_RECOVER_OK);
	ck_assert_uint_eq(first, 0);
	ck_assert_int_eq(channel_recover_check(ch, ch->epoch, 4, 600, &first),
	    CHANNEL_RECOVER_OK);
	ck_assert_uint_eq(first, 2);
	ck_assert_int_eq(channel_recover_check(ch, ch->epoch, 5, 600, &first),
	    CHANNEL_RECOVER_OK);
	ck_assert_uint_eq(first, 3);
	ck_assert_int_eq(channel_recover_check(ch, ch->epoch, 1, 600, &first),
	    CHANNEL_RECOVER_TOO_OLD);
	ck_assert_int_eq(channel_recover_check(ch, ch->epoch, 6, 600, &first),
	    CHANNEL_RECOVER_AHEAD);
	ck_assert_int_eq(channel_recover_check(ch, ch->epoch ^ 1, 5, 600,
	    &first), CHANNEL_RECOVER_EPOCH);
	ck_assert_str_eq(channel_recover_reason(CHANNEL_RECOVER_EPOCH),
	    "epoch changed");
	/* Age: at 1350 ms seq 3 is 1050 ms old and gone; 4 and 5 stay. */
	ck_assert_int_eq(channel_recover_check(ch, ch->epoch, 2, 1350,
	    &first), CHANNEL_RECOVER_TOO_OLD);
	ck_assert_int_eq(channel_recover_check(ch, ch->epoch, 3, 1350,
	    &first), CHANNEL_RECOVER_OK);
	ck_assert_uint_eq(first, 0);
	/* Everything aged out: up to date still recovers, older is a gap. */
	ck_assert_int_eq(channel_recover_check(ch, ch->epoch, 4, 9999,
	    &first), CHANNEL_RECOVER_TOO_OLD);
	ck_assert_int_eq(channel_recover_check(ch, ch->epoch, 5, 9999,
	    &first), CHANNEL_RECOVER_OK);
	ck_assert_uint_eq(first, 0);
	/* Neither subscribers nor history: the channel may go. */
	ck_assert_int_eq(channel_release(ch), 1);
	ck_assert_uint_eq(ix.count, 0);
	channel_index_clear(&ix);
}
END_TEST

START_TEST(channel_replay_envelope)
{
	struct history_limits lim = { 10, 1000, 0 };
	struct channel_index ix;
	struct channel *ch;
	struct msg *m;
	uint64_t seq;
	char want[128];
	char hex[17];

	channel_index_init(&ix);
	ch = channel_get(&ix, "n", 1, 1);
	ch->lim = lim;
	ck_assert_int_eq(channel_publish(ch, WS_OP_BINARY, "\x00\x01\x02", 3,
	    0, &seq), 0);
	m = channel_envelope(ch, history_at(&ch->hist, 0));
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->seq, 1);
	ck_assert_str_eq(m->channel, "n");
	for (int i = 15; i >= 0; i--)
		hex[15 - i] = "0123456789abcdef"[(ch->epoch >> (i * 4)) & 0xf];
	hex[16] = '\0';
	snprintf(want, sizeof(want), "{\"op\":\"message\",\"channel\":\"n\","
	    "\"seq\":1,\"epoch\":\"%s\",\"data_b64\":\"AAEC\"}", hex);
	ck_assert_uint_eq(m->data[0], 0x81);
	ck_assert_uint_eq(m->data[1], strlen(want));
	ck_assert_int_eq(memcmp(m->data + 2, want, strlen(want)), 0);
	msg_unref(m);
	/* channel_index_clear() frees channels that still hold history. */
	channel_index_clear(&ix);
}
END_TEST

static Suite *
history_suite(void)
{
	Suite *s = suite_create("history");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, TU_TIMEOUT);
	tcase_add_test(tc, history_count_limit);
	tcase_add_test(tc, history_ring_wraps);
	tcase_add_test(tc, history_bytes_limit);
	tcase_add_test(tc, history_age_limit);
	tcase_add_test(tc, history_disabled_and_gaps);
	tcase_add_test(tc, history_refs);
	tcase_add_test(tc, history_after_lookup);
	tcase_add_test(tc, channel_epochs);
	tcase_add_test(tc, channel_history_recovery);
	tcase_add_test(tc, channel_replay_envelope);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(history_suite());
}
