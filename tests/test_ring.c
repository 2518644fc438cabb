/* Tests for core/ring: capacity rounding, full and empty rings, burst
 * prefixes, message contents; then threads: one SPSC producer and 2-4 MPSC
 * producers pass 1M messages, each delivered exactly once and in order per
 * producer, in bursts of varying size, some carrying heap objects whose
 * ownership moves with the message (what TSan checks). The assertions do
 * not depend on how the threads interleave. */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "check.h"
#include "ring.h"

#define TOTAL 1000000u
#define MAX_PRODUCERS 4
#define BURST 32

static struct tern_msg msg(uint32_t producer, uint32_t seq)
{
	struct tern_msg m = {.type = TERN_MSG_USER, .len = (uint16_t)producer, .aux = seq};
	for (int i = 0; i < TERN_MSG_INLINE; i++)
		m.data[i] = (uint8_t)(seq * 31 + (uint32_t)i + producer);
	return m;
}

static bool msg_ok(const struct tern_msg *m)
{
	struct tern_msg want = msg(m->len, m->aux);
	return m->type == TERN_MSG_USER && memcmp(m->data, want.data, TERN_MSG_INLINE) == 0;
}

static void test_basics(void)
{
	struct tern_ring *r = (struct tern_ring *)1;
	CHECK_EQ(tern_ring_new(&r, 0, TERN_RING_SPSC), TERN_EINVAL);
	CHECK(r == NULL);
	CHECK_EQ(tern_ring_new(&r, (1u << 30) + 1, TERN_RING_SPSC), TERN_EINVAL);
	CHECK_EQ(tern_ring_new(&r, 4, (enum tern_ring_mode)7), TERN_EINVAL);
	static const struct {
		unsigned asked, capacity;
	} caps[] = {{1, 1}, {2, 3}, {3, 3}, {5, 7}, {7, 7}, {8, 15}, {1000, 1023}};
	for (size_t i = 0; i < TERN_ARRAY_LEN(caps); i++) {
		CHECK_EQ(tern_ring_new(&r, caps[i].asked, TERN_RING_MPSC), TERN_OK);
		CHECK_EQ(tern_ring_capacity(r), caps[i].capacity);
		tern_ring_free(r);
	}
	tern_ring_free(NULL);
}

static void test_single_thread(enum tern_ring_mode mode)
{
	struct tern_ring *r;
	CHECK_EQ(tern_ring_new(&r, 7, mode), TERN_OK);
	struct tern_msg in[10], out[10];
	for (uint32_t i = 0; i < 10; i++)
		in[i] = msg(0, i);
	CHECK_EQ(tern_ring_dequeue(r, &out[0]), TERN_EAGAIN);
	CHECK_EQ(tern_ring_dequeue_burst(r, out, 10), 0);
	CHECK_EQ(tern_ring_enqueue_burst(r, in, 5), 5);
	CHECK_EQ(tern_ring_count(r), 5);
	CHECK_EQ(tern_ring_enqueue_burst(r, in + 5, 5), 2); /* only 7 fit */
	CHECK_EQ(tern_ring_enqueue(r, &in[9]), TERN_EAGAIN);
	CHECK_EQ(tern_ring_count(r), 7);
	CHECK_EQ(tern_ring_dequeue(r, &out[0]), TERN_OK);
	CHECK_EQ(out[0].aux, 0);
	CHECK_EQ(tern_ring_dequeue_burst(r, out + 1, 3), 3);
	CHECK_EQ(tern_ring_enqueue_burst(r, in + 7, 3), 3); /* wraps */
	CHECK_EQ(tern_ring_dequeue_burst(r, out + 4, 10), 6);
	for (uint32_t i = 0; i < 10; i++) {
		CHECK_EQ(out[i].aux, i);
		CHECK(memcmp(&out[i], &in[i], sizeof(in[i])) == 0);
	}
	CHECK_EQ(tern_ring_count(r), 0);
	tern_ring_free(r);
}

/* A heap object handed from producer to consumer with its message. */
struct parcel {
	uint32_t producer, seq;
	uint64_t check;
};

struct producer {
	pthread_t th;
	struct tern_ring *ring;
	uint32_t id, count;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	struct tern_msg burst[BURST];
	uint32_t seq = 0;
	while (seq < p->count) {
		unsigned n = 1 + (seq * 7 + p->id) % BURST; /* burst sizes 1..32 */
		if (n > p->count - seq)
			n = p->count - seq;
		for (unsigned i = 0; i < n; i++) {
			burst[i] = msg(p->id, seq + i);
			if ((seq + i) % 64 == 0) {
				struct parcel *pc = malloc(sizeof(*pc));
				*pc = (struct parcel){p->id, seq + i,
				                      (uint64_t)(seq + i) * 3 + p->id};
				burst[i].ptr = pc;
			}
		}
		unsigned done = 0;
		while (done < n) {
			unsigned k = tern_ring_enqueue_burst(p->ring, burst + done, n - done);
			done += k;
			if (k == 0)
				sched_yield();
		}
		seq += n;
	}
	return NULL;
}

/* Checks one message; next[] is each producer's next expected seq. */
static bool consume_one(const struct tern_msg *m, uint32_t *next, unsigned nprod)
{
	bool ok = m->len < nprod && m->aux == next[m->len] && msg_ok(m);
	if (ok)
		next[m->len]++;
	struct parcel *pc = m->ptr;
	if (m->aux % 64 == 0) {
		ok = ok && pc && pc->producer == m->len && pc->seq == m->aux &&
		     pc->check == (uint64_t)m->aux * 3 + m->len;
		free(pc);
	} else {
		ok = ok && pc == NULL;
	}
	return ok;
}

static void run_threads(enum tern_ring_mode mode, unsigned nprod, unsigned ring_cap)
{
	struct tern_ring *r;
	CHECK_EQ(tern_ring_new(&r, ring_cap, mode), TERN_OK);
	struct producer prod[MAX_PRODUCERS];
	uint32_t next[MAX_PRODUCERS] = {0};
	for (unsigned i = 0; i < nprod; i++) {
		prod[i] = (struct producer){.ring = r, .id = i, .count = TOTAL / nprod};
		if (i == 0)
			prod[i].count += TOTAL % nprod;
		pthread_create(&prod[i].th, NULL, produce, &prod[i]);
	}
	struct tern_msg out[BURST];
	uint32_t got = 0, bad = 0, turn = 0;
	while (got < TOTAL) {
		unsigned want = 1 + turn++ % BURST;
		unsigned n = tern_ring_dequeue_burst(r, out, want);
		for (unsigned i = 0; i < n; i++)
			bad += !consume_one(&out[i], next, nprod);
		got += n;
		if (n == 0)
			sched_yield();
	}
	for (unsigned i = 0; i < nprod; i++) {
		pthread_join(prod[i].th, NULL);
		CHECK_EQ(next[i], prod[i].count);
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(got, TOTAL);
	CHECK_EQ(tern_ring_dequeue(r, &out[0]), TERN_EAGAIN); /* nothing extra */
	tern_ring_free(r);
}

int main(void)
{
	test_basics();
	test_single_thread(TERN_RING_SPSC);
	test_single_thread(TERN_RING_MPSC);
	run_threads(TERN_RING_SPSC, 1, 1023);
	run_threads(TERN_RING_SPSC, 1, 7); /* tiny: constant full/empty edges */
	run_threads(TERN_RING_MPSC, 1, 255);
	run_threads(TERN_RING_MPSC, 2, 255);
	run_threads(TERN_RING_MPSC, 3, 1023);
	run_threads(TERN_RING_MPSC, 4, 63);
	return tern_check_result("ring");
}
