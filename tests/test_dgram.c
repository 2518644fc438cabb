/* Datagram tests: the bounded FIFO queue (lazy allocation, copies, full and
 * too-big rejection), per-lane sequence assignment on the send side, and the
 * receive side's stale-drop rule as a table of (lane, seq) -> verdict. The
 * per-lane tables exist only after the first sequenced datagram. */
#include "check.h"
#include "dgram.h"

static void test_queue_fifo(void)
{
	struct tern_dgram_queue q;
	uint8_t buf[TERN_MAX_DATAGRAM + 1];
	const struct tern_dgram_slot *s;

	tern_dgram_queue_init(&q, 3);
	CHECK(q.slots == NULL);
	CHECK(tern_dgram_peek(&q) == NULL);
	tern_dgram_pop(&q); /* empty: no-op */
	memset(buf, 0xab, sizeof(buf));
	CHECK_EQ(tern_dgram_push(&q, buf, TERN_MAX_DATAGRAM + 1, -1), TERN_ETOOBIG);
	CHECK(q.slots == NULL); /* rejected pushes allocate nothing */
	for (uint8_t i = 0; i < 3; i++) {
		buf[0] = i;
		CHECK_EQ(tern_dgram_push(&q, buf, 10u + i, -1), 0);
	}
	CHECK(q.slots != NULL);
	CHECK_EQ(tern_dgram_push(&q, buf, 5, -1), TERN_EAGAIN);
	CHECK_EQ(q.dropped_full, 1);
	buf[0] = 99; /* push copied: the caller's buffer is free to change */
	for (uint8_t i = 0; i < 2; i++) {
		s = tern_dgram_peek(&q);
		CHECK(s != NULL);
		CHECK_EQ(s->data[0], i);
		CHECK_EQ(s->len, 10 + i);
		CHECK_EQ(s->sequenced, 0);
		tern_dgram_pop(&q);
	}
	/* wrap around the ring */
	buf[0] = 3;
	CHECK_EQ(tern_dgram_push(&q, buf, TERN_MAX_DATAGRAM, -1), 0);
	buf[0] = 4;
	CHECK_EQ(tern_dgram_push(&q, NULL, 0, -1), 0); /* empty datagram */
	CHECK_EQ(tern_dgram_push(&q, buf, 1, -1), TERN_EAGAIN);
	CHECK_EQ(q.dropped_full, 2);
	s = tern_dgram_peek(&q);
	CHECK_EQ(s->data[0], 2);
	tern_dgram_pop(&q);
	s = tern_dgram_peek(&q);
	CHECK_EQ(s->len, TERN_MAX_DATAGRAM);
	CHECK_EQ(s->data[0], 3);
	CHECK_EQ(s->data[TERN_MAX_DATAGRAM - 1], 0xab);
	tern_dgram_pop(&q);
	CHECK_EQ(tern_dgram_peek(&q)->len, 0);
	tern_dgram_pop(&q);
	CHECK(tern_dgram_peek(&q) == NULL);
	tern_dgram_queue_free(&q);
	CHECK(q.slots == NULL);
}

static void test_lanes_send(void)
{
	struct tern_dgram_queue q;
	static const int lanes[] = {0, 5, 0, -1, 255, 5, 0};
	static const uint64_t want_seq[] = {0, 0, 1, 0, 0, 1, 2};
	uint8_t b = 7;

	tern_dgram_queue_init(&q, 8);
	CHECK_EQ(tern_dgram_push(&q, &b, 1, TERN_MAX_DGRAM_LANES), TERN_EINVAL);
	CHECK_EQ(tern_dgram_push(&q, &b, 1, 1000), TERN_EINVAL);
	CHECK_EQ(tern_dgram_push(&q, &b, 1, -1), 0); /* plain: no lane table yet */
	CHECK(q.next_seq == NULL);
	CHECK_EQ(tern_dgram_queue_mem(&q), 8 * sizeof(struct tern_dgram_slot));
	tern_dgram_pop(&q);
	for (size_t i = 0; i < TERN_ARRAY_LEN(lanes); i++)
		CHECK_EQ(tern_dgram_push(&q, &b, 1, lanes[i]), 0);
	CHECK(q.next_seq != NULL);
	CHECK_EQ(tern_dgram_queue_mem(&q), 8 * sizeof(struct tern_dgram_slot) + 2048);
	CHECK_EQ(tern_dgram_push(&q, &b, 1, 3), 0);
	CHECK_EQ(tern_dgram_push(&q, &b, 1, 3), TERN_EAGAIN); /* full: takes no seq */
	CHECK_EQ(q.next_seq[3], 1);
	for (size_t i = 0; i < TERN_ARRAY_LEN(lanes); i++) {
		const struct tern_dgram_slot *s = tern_dgram_peek(&q);
		CHECK_EQ(s->sequenced, lanes[i] >= 0);
		if (lanes[i] >= 0) {
			CHECK_EQ(s->lane, lanes[i]);
			CHECK_EQ(s->seq, want_seq[i]);
		}
		tern_dgram_pop(&q);
	}
	CHECK_EQ(tern_dgram_peek(&q)->lane, 3);
	tern_dgram_queue_free(&q);
	CHECK(q.next_seq == NULL);
	CHECK_EQ(tern_dgram_queue_mem(&q), 0);
}

static void test_lanes_recv(void)
{
	static const struct {
		uint64_t lane, seq;
		bool fresh;
	} steps[] = {
	        {0, 0, true},           {0, 0, false}, /* equal seq is stale */
	        {0, 5, true},           {0, 3, false},   {0, 5, false},
	        {0, 6, true},           {1, 2, true}, /* lanes are independent */
	        {1, 1, false},          {0, 7, true},    {255, 9, true},
	        {255, 9, false},        {256, 0, false}, /* out of range: refused, not counted stale */
	        {1ull << 40, 0, false},
	};
	struct tern_dgram_lanes l;
	uint64_t stale = 0;

	tern_dgram_lanes_init(&l);
	CHECK(l.next == NULL); /* no table until a sequenced datagram arrives */
	CHECK_EQ(tern_dgram_lanes_mem(&l), 0);
	CHECK(!tern_dgram_lanes_accept(&l, 256, 0)); /* out of range allocates nothing */
	CHECK(l.next == NULL);
	CHECK_EQ(l.stale_dropped, 0);
	for (size_t i = 0; i < TERN_ARRAY_LEN(steps); i++) {
		CHECK_EQ(tern_dgram_lanes_accept(&l, steps[i].lane, steps[i].seq), steps[i].fresh);
		if (!steps[i].fresh && steps[i].lane < TERN_MAX_DGRAM_LANES)
			stale++;
		CHECK_EQ(l.stale_dropped, stale);
	}
	CHECK_EQ(l.stale_dropped, 5);
	CHECK_EQ(l.next[0], 8);
	CHECK_EQ(l.next[1], 3);
	CHECK_EQ(l.next[255], 10);
	CHECK_EQ(tern_dgram_lanes_mem(&l), 2048);
	tern_dgram_lanes_free(&l);
	CHECK(l.next == NULL);
	CHECK_EQ(tern_dgram_lanes_mem(&l), 0);
}

int main(void)
{
	test_queue_fifo();
	test_lanes_send();
	test_lanes_recv();
	return tern_check_result("dgram");
}
