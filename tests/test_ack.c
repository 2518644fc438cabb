/* Tests for core/ack: when an ACK becomes owed (every 2 ack-eliciting
 * packets, max_ack_delay, reordering), that non-eliciting packets never make
 * one due, duplicate detection (including below the floor), the bound on the
 * number of ranges, the exact contents of the written frame, and trimming
 * after the peer acknowledged one of our ACKs. Pure logic, table-driven
 * where it can be; times are plain numbers. */
#include "core/ack.h"
#include "core/proto.h"
#include "core/wire.h"
#include "check.h"

#define MAD 25000 /* max_ack_delay used throughout, µs */

/* ---- when an ACK is due ---- */

struct rx_step {
	uint64_t pn;
	bool eliciting;
	tern_time at;
	/* after this packet: due at `at`, due just before the delayed-ACK
	 * deadline, due at the deadline, pending */
	bool due_now, due_before_deadline, due_at_deadline, pending;
	bool write_after; /* write an ACK after checking (resets owed state) */
};

struct due_case {
	const char *name;
	struct rx_step steps[6];
	size_t n;
};

/* The deadline is max_ack_delay after the first unacknowledged eliciting
 * packet; every step's `at` in one case is chosen so that the first
 * eliciting packet since the last ACK arrived at time 1000. */
static const struct due_case due_cases[] = {
        {"one eliciting: only after max_ack_delay",
         {{0, true, 1000, false, false, true, true, false}},
         1},
        {"two eliciting in order: at once",
         {{0, true, 1000, false, false, true, true, false},
          {1, true, 1100, true, true, true, true, false}},
         2},
        {"non-eliciting never due",
         {{0, false, 1000, false, false, false, true, false},
          {1, false, 1100, false, false, false, true, false},
          {2, false, 1200, false, false, false, true, false}},
         3},
        {"non-eliciting out of order never due",
         {{0, false, 1000, false, false, false, true, false},
          {5, false, 1100, false, false, false, true, false}},
         2},
        {"non-eliciting does not count toward the threshold",
         {{0, true, 1000, false, false, true, true, false},
          {1, false, 1100, false, false, true, true, false}},
         2},
        {"gap created: at once",
         {{0, true, 1000, false, false, true, true, false},
          {2, true, 1100, true, true, true, true, true}},
         2},
        {"gap filled: at once",
         {{0, true, 1000, false, false, true, true, false},
          {2, true, 1100, true, true, true, true, true},
          {1, true, 1000, true, true, true, true, false}},
         3},
        {"write resets; the count starts over",
         {{0, true, 1000, false, false, true, true, false},
          {1, true, 1000, true, true, true, true, true},
          {2, true, 1000, false, false, true, true, false},
          {3, true, 1000, true, true, true, true, true}},
         4},
};

static void run_due_case(const struct due_case *c)
{
	struct tern_ackgen a;
	uint8_t buf[512];

	CHECK_EQ(tern_ackgen_init(&a, MAD), 0);
	CHECK(!tern_ackgen_pending(&a));
	CHECK(!tern_ackgen_due(&a, 1u << 30));
	for (size_t i = 0; i < c->n; i++) {
		const struct rx_step *s = &c->steps[i];
		uint64_t largest = 0;
		CHECK_EQ(tern_ackgen_on_packet(&a, s->pn, s->eliciting, s->at), 0);
		if (tern_ackgen_due(&a, s->at) != s->due_now ||
		    tern_ackgen_due(&a, 1000 + MAD - 1) != s->due_before_deadline ||
		    tern_ackgen_due(&a, 1000 + MAD) != s->due_at_deadline ||
		    tern_ackgen_pending(&a) != s->pending)
			fprintf(stderr, "due case \"%s\", step %zu:\n", c->name, i);
		CHECK_EQ(tern_ackgen_due(&a, s->at), s->due_now);
		CHECK_EQ(tern_ackgen_due(&a, 1000 + MAD - 1), s->due_before_deadline);
		CHECK_EQ(tern_ackgen_due(&a, 1000 + MAD), s->due_at_deadline);
		CHECK_EQ(tern_ackgen_pending(&a), s->pending);
		if (s->write_after) {
			CHECK(tern_ackgen_write(&a, buf, sizeof(buf), s->at, &largest) > 0);
			CHECK(!tern_ackgen_due(&a, 1u << 30));
			CHECK(!tern_ackgen_pending(&a));
		}
	}
	tern_ackgen_free(&a);
}

static void test_due(void)
{
	for (size_t i = 0; i < TERN_ARRAY_LEN(due_cases); i++)
		run_due_case(&due_cases[i]);
}

/* ---- duplicates ---- */

static void test_dup(void)
{
	static const uint64_t got[] = {0, 1, 2, 5, 7, 8};
	static const struct {
		uint64_t pn;
		bool dup;
	} want[] = {{0, true},  {1, true},  {2, true},    {3, false},
	            {4, false}, {5, true},  {6, false},   {7, true},
	            {8, true},  {9, false}, {100, false}, {UINT64_MAX - 1, false}};
	struct tern_ackgen a;

	CHECK_EQ(tern_ackgen_init(&a, MAD), 0);
	CHECK_EQ(tern_ackgen_largest(&a), UINT64_MAX);
	CHECK(!tern_ackgen_is_dup(&a, 0));
	for (size_t i = 0; i < TERN_ARRAY_LEN(got); i++)
		CHECK_EQ(tern_ackgen_on_packet(&a, got[i], true, 10), 0);
	CHECK_EQ(tern_ackgen_largest(&a), 8);
	for (size_t i = 0; i < TERN_ARRAY_LEN(want); i++) {
		if (tern_ackgen_is_dup(&a, want[i].pn) != want[i].dup)
			fprintf(stderr, "is_dup(%" PRIu64 ")\n", want[i].pn);
		CHECK_EQ(tern_ackgen_is_dup(&a, want[i].pn), want[i].dup);
	}
	tern_ackgen_free(&a);
}

/* A packet that overtakes earlier ones must not turn those earlier numbers
 * into duplicates: nothing was forgotten yet. */
static void test_dup_first_packets_reordered(void)
{
	struct tern_ackgen a;

	CHECK_EQ(tern_ackgen_init(&a, MAD), 0);
	CHECK_EQ(tern_ackgen_on_packet(&a, 3, true, 10), 0);
	CHECK(tern_ackgen_is_dup(&a, 3));
	CHECK(!tern_ackgen_is_dup(&a, 0));
	CHECK(!tern_ackgen_is_dup(&a, 1));
	CHECK(!tern_ackgen_is_dup(&a, 2));
	CHECK_EQ(a.floor, 0);
	tern_ackgen_free(&a);
}

/* ---- bounded ranges ---- */

static void test_range_bound(void)
{
	struct tern_ackgen a;
	uint8_t buf[4096];
	uint64_t largest = 0;
	const uint8_t *p = buf;
	struct tern_frame f;
	struct tern_ack_iter it;
	struct tern_ack_range r;
	size_t len, k = 0;

	CHECK_EQ(tern_ackgen_init(&a, MAD), 0);
	/* even numbers only: every packet is its own range */
	for (uint64_t i = 0; i < TERN_MAX_ACK_RANGES; i++)
		CHECK_EQ(tern_ackgen_on_packet(&a, 2 * i, true, 10), 0);
	CHECK_EQ(a.rx.n, TERN_MAX_ACK_RANGES);
	CHECK_EQ(a.rx.r[0].lo, 0);
	CHECK_EQ(a.floor, 0);
	CHECK(!tern_ackgen_is_dup(&a, 1));
	/* one more range evicts the lowest ([0,0]) and raises the floor to 2 */
	CHECK_EQ(tern_ackgen_on_packet(&a, 2 * TERN_MAX_ACK_RANGES, true, 10), 0);
	CHECK_EQ(a.rx.n, TERN_MAX_ACK_RANGES);
	CHECK_EQ(a.rx.r[0].lo, 2);
	CHECK_EQ(a.floor, 2);
	CHECK(tern_ackgen_is_dup(&a, 0));
	CHECK(tern_ackgen_is_dup(&a, 1)); /* never received, but below the floor */
	CHECK(tern_ackgen_is_dup(&a, 2));
	CHECK(!tern_ackgen_is_dup(&a, 3));
	CHECK_EQ(tern_ackgen_largest(&a), 2 * TERN_MAX_ACK_RANGES);
	/* the frame carries exactly the 256 ranges kept */
	len = tern_ackgen_write(&a, buf, sizeof(buf), 10, &largest);
	CHECK(len > 0);
	CHECK_EQ(largest, 2 * TERN_MAX_ACK_RANGES);
	CHECK_EQ(tern_frame_decode(&p, buf + len, &f), 0);
	CHECK_EQ(p - buf, (long long)len);
	CHECK_EQ(f.type, TERN_FRAME_ACK);
	tern_ack_iter_init(&it, &f);
	while (tern_ack_iter_next(&it, &r)) {
		uint64_t want = 2 * (TERN_MAX_ACK_RANGES - k);
		CHECK_EQ(r.lo, want);
		CHECK_EQ(r.hi, want);
		k++;
	}
	CHECK_EQ(k, TERN_MAX_ACK_RANGES);
	tern_ackgen_free(&a);
}

/* Issue 13 item 2: whatever order packet numbers arrive in, recording one
 * shifts at most the whole bounded set twice (an eviction and an insertion),
 * never a growing number of ranges. */
static void test_range_cost_bound(void)
{
	enum { N = 8 * TERN_MAX_ACK_RANGES };
	struct tern_ackgen a;
	uint64_t worst = 0, pn;

	CHECK_EQ(tern_ackgen_init(&a, MAD), 0);
	for (uint64_t i = 0; i < N; i++) { /* top down with gaps: each lands below the rest */
		uint64_t before = a.rx.moved;
		pn = 4 * (uint64_t)N - 2 * i;
		if (!tern_ackgen_is_dup(&a, pn))
			CHECK_EQ(tern_ackgen_on_packet(&a, pn, true, 10), 0);
		worst = TERN_MAX(worst, a.rx.moved - before);
	}
	for (uint64_t i = 0; i < N; i++) { /* then the gaps from the middle out */
		uint64_t before = a.rx.moved;
		pn = 4 * (uint64_t)N - 2 * ((i * 7919) % N) - 1;
		if (!tern_ackgen_is_dup(&a, pn))
			CHECK_EQ(tern_ackgen_on_packet(&a, pn, true, 10), 0);
		worst = TERN_MAX(worst, a.rx.moved - before);
	}
	CHECK(a.rx.n <= TERN_MAX_ACK_RANGES);
	CHECK(worst <= 2 * TERN_MAX_ACK_RANGES);
	tern_ackgen_free(&a);
}

/* ---- the written frame ---- */

struct rx_pkt {
	uint64_t pn;
	tern_time at;
};

static void test_write_decodes(void)
{
	static const struct rx_pkt pkts[] = {{0, 100}, {1, 110}, {9, 120}, {2, 130}, {3, 140},
	                                     {5, 150}, {7, 160}, {8, 170}, {6, 180}, {12, 190}};
	static const struct tern_ack_range want[] = {{12, 12}, {5, 9}, {0, 3}};
	struct tern_ackgen a;
	uint8_t buf[256];
	uint64_t largest = 0;
	const uint8_t *p = buf;
	struct tern_frame f;
	struct tern_ack_iter it;
	struct tern_ack_range r;
	size_t len, k = 0;

	CHECK_EQ(tern_ackgen_init(&a, MAD), 0);
	CHECK_EQ(tern_ackgen_write(&a, buf, sizeof(buf), 0, &largest), 0); /* nothing yet */
	for (size_t i = 0; i < TERN_ARRAY_LEN(pkts); i++)
		CHECK_EQ(tern_ackgen_on_packet(&a, pkts[i].pn, true, pkts[i].at), 0);
	CHECK_EQ(tern_ackgen_write(&a, buf, 3, 1000, &largest), 0); /* does not fit */
	CHECK(tern_ackgen_pending(&a));
	CHECK(tern_ackgen_due(&a, 1000));
	len = tern_ackgen_write(&a, buf, sizeof(buf), 1190, &largest);
	CHECK(len > 0);
	CHECK_EQ(largest, 12);
	CHECK(!tern_ackgen_pending(&a));
	CHECK(!tern_ackgen_due(&a, 1u << 30));
	CHECK_EQ(a.deadline, TERN_TIME_NEVER);
	CHECK_EQ(tern_frame_decode(&p, buf + len, &f), 0);
	CHECK_EQ(p - buf, (long long)len);
	CHECK_EQ(f.type, TERN_FRAME_ACK);
	CHECK_EQ(f.u.ack.largest, 12);
	CHECK_EQ(f.u.ack.delay_us, 1000); /* 12 arrived at 190, written at 1190 */
	CHECK_EQ(f.u.ack.range_count, 2);
	tern_ack_iter_init(&it, &f);
	while (tern_ack_iter_next(&it, &r)) {
		CHECK(k < TERN_ARRAY_LEN(want));
		if (k < TERN_ARRAY_LEN(want)) {
			CHECK_EQ(r.lo, want[k].lo);
			CHECK_EQ(r.hi, want[k].hi);
		}
		k++;
	}
	CHECK_EQ(k, TERN_ARRAY_LEN(want));
	/* a late smaller pn does not move the delay's reference time */
	CHECK_EQ(tern_ackgen_on_packet(&a, 10, true, 5000), 0);
	p = buf;
	len = tern_ackgen_write(&a, buf, sizeof(buf), 6190, &largest);
	CHECK_EQ(tern_frame_decode(&p, buf + len, &f), 0);
	CHECK_EQ(f.u.ack.largest, 12);
	CHECK_EQ(f.u.ack.delay_us, 6000);
	tern_ackgen_free(&a);
}

/* ---- after the peer acknowledged our ACK ---- */

static void test_ack_acked(void)
{
	static const uint64_t got[] = {0, 1, 2, 3, 5, 7, 8, 9};
	struct tern_ackgen a;
	uint8_t buf[256];
	uint64_t largest = 0;
	const uint8_t *p;
	struct tern_frame f;
	struct tern_ack_iter it;
	struct tern_ack_range r;
	size_t len;

	CHECK_EQ(tern_ackgen_init(&a, MAD), 0);
	for (size_t i = 0; i < TERN_ARRAY_LEN(got); i++)
		CHECK_EQ(tern_ackgen_on_packet(&a, got[i], true, 10), 0);
	CHECK_EQ(a.rx.n, 3);
	/* an ACK whose largest was 2 covered [0,3]: keep it (largest is in it) */
	tern_ackgen_on_ack_acked(&a, 2);
	CHECK_EQ(a.rx.n, 3);
	CHECK_EQ(a.floor, 0);
	/* largest 5: [0,3] need not be repeated; [5,5] stays */
	tern_ackgen_on_ack_acked(&a, 5);
	CHECK_EQ(a.rx.n, 2);
	CHECK_EQ(a.rx.r[0].lo, 5);
	CHECK_EQ(a.floor, 5);
	for (uint64_t pn = 0; pn <= 5; pn++)
		CHECK(tern_ackgen_is_dup(&a, pn)); /* old pns stay duplicates */
	CHECK(!tern_ackgen_is_dup(&a, 6));
	CHECK(tern_ackgen_is_dup(&a, 8));
	CHECK(!tern_ackgen_is_dup(&a, 10));
	len = tern_ackgen_write(&a, buf, sizeof(buf), 10, &largest);
	p = buf;
	CHECK_EQ(tern_frame_decode(&p, buf + len, &f), 0);
	CHECK_EQ(f.u.ack.largest, 9);
	CHECK_EQ(f.u.ack.range_count, 1);
	tern_ack_iter_init(&it, &f);
	CHECK(tern_ack_iter_next(&it, &r));
	CHECK_EQ(r.lo, 7);
	CHECK_EQ(r.hi, 9);
	CHECK(tern_ack_iter_next(&it, &r));
	CHECK_EQ(r.lo, 5);
	CHECK_EQ(r.hi, 5);
	CHECK(!tern_ack_iter_next(&it, &r));
	/* an older ACK acknowledged late changes nothing */
	tern_ackgen_on_ack_acked(&a, 1);
	CHECK_EQ(a.rx.n, 2);
	CHECK_EQ(a.floor, 5);
	/* largest 9: keep only [7,9] */
	tern_ackgen_on_ack_acked(&a, 9);
	CHECK_EQ(a.rx.n, 1);
	CHECK_EQ(a.floor, 7);
	CHECK(tern_ackgen_is_dup(&a, 6));
	CHECK_EQ(tern_ackgen_largest(&a), 9);
	tern_ackgen_free(&a);
}

int main(void)
{
	test_due();
	test_dup();
	test_dup_first_packets_reordered();
	test_range_bound();
	test_range_cost_bound();
	test_write_decodes();
	test_ack_acked();
	return tern_check_result("ack");
}
