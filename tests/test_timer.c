/* Timer wheel tests: exact firing at every level boundary and beyond the top
 * span, random timers against a sorted reference, callbacks that arm and
 * cancel, next() as a lower bound, long idle gaps, deadlines in the past. */
#include <stdlib.h>
#include "check.h"
#include "timer.h"

#define L1 64ull
#define L2 (64ull * 64)
#define L3 (64ull * 64 * 64)
#define L4 (L3 * 64)
#define L5 (L4 * 64)
#define L6 (L5 * 64) /* 2^36: the wheel's whole span */

struct rec {
	struct tern_timer t;
	unsigned fired;
	tern_time fired_now; /* the now passed to the callback */
	unsigned order;      /* position in the global firing sequence */
	unsigned advance;    /* which advance call fired it */
};

static unsigned fire_seq, cur_advance;

static void on_fire(struct tern_timer *t, tern_time now)
{
	struct rec *r = (struct rec *)t;
	r->fired++;
	r->fired_now = now;
	r->order = fire_seq++;
	r->advance = cur_advance;
}

/* One timer at start + delta: nothing fires a µs early, it fires exactly at
 * its expiry, and stepping only to next() reaches it in a few steps. */
static void check_boundary(tern_time start, tern_time delta)
{
	struct tern_wheel w;
	struct rec r = {0};
	tern_time expire = start + delta, n;
	unsigned steps = 0;

	tern_wheel_init(&w, start);
	tern_timer_init(&r.t, on_fire, NULL);
	tern_timer_arm(&w, &r.t, expire);
	CHECK_EQ(w.count, 1);
	CHECK(tern_wheel_next(&w) <= expire);
	if (delta > 0)
		CHECK_EQ(tern_wheel_advance(&w, expire - 1), 0);
	CHECK_EQ(r.fired, 0);
	CHECK(tern_timer_armed(&r.t));
	CHECK(tern_wheel_next(&w) <= expire);
	CHECK_EQ(tern_wheel_advance(&w, expire), 1);
	CHECK_EQ(r.fired, 1);
	CHECK_EQ(r.fired_now, expire);
	CHECK(!tern_timer_armed(&r.t));
	CHECK_EQ(w.count, 0);
	CHECK(tern_wheel_next(&w) == TERN_TIME_NEVER);

	/* Again, stepping the wheel only to the times next() reports. */
	tern_wheel_init(&w, start);
	r.fired = 0;
	tern_timer_arm(&w, &r.t, expire);
	while (!r.fired && steps < 100) {
		n = tern_wheel_next(&w);
		CHECK(n <= expire);
		CHECK(n >= w.now);
		tern_wheel_advance(&w, n);
		steps++;
	}
	CHECK_EQ(r.fired, 1);
	CHECK_EQ(r.fired_now, expire);
	CHECK(steps <= 6 + 2 * (delta / L6 + 1));
}

static void test_boundaries(void)
{
	static const tern_time starts[] = {0, 1, 63, 64, 4095, 123456789, L6 - 1, 5 * L6 + 77};
	static const tern_time deltas[] = {
	        0,    1,      62,     63,     64,     65,     4095,           4096,
	        4097, L3 - 1, L3,     L3 + 1, L4 - 1, L4,     L4 + 1,         L5 - 1,
	        L5,   L5 + 1, L6 - 1, L6,     L6 + 1, 2 * L6, 3 * L6 + 12345, 36000 * 1000000ull,
	};
	for (size_t i = 0; i < TERN_ARRAY_LEN(starts); i++)
		for (size_t j = 0; j < TERN_ARRAY_LEN(deltas); j++)
			check_boundary(starts[i], deltas[j]);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* A value spread over every scale from 1 µs to 2^max_bits µs. */
static uint64_t rng_scaled(unsigned max_bits)
{
	unsigned bits = (unsigned)(rng() % (max_bits + 1));
	return bits ? rng() & ((1ull << bits) - 1) : 0;
}

#define NRAND 3000

static void test_random_order(void)
{
	static struct rec r[NRAND];
	static tern_time targets[4096];
	struct tern_wheel w;
	tern_time start = 1000000, now = start, max_expire = 0;
	unsigned nadv = 0;

	tern_wheel_init(&w, start);
	fire_seq = 0;
	for (unsigned i = 0; i < NRAND; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		tern_timer_init(&r[i].t, on_fire, NULL);
		tern_timer_arm(&w, &r[i].t, start + rng_scaled(38));
		max_expire = TERN_MAX(max_expire, r[i].t.expire);
	}
	CHECK_EQ(w.count, NRAND);
	while (w.count && nadv < TERN_ARRAY_LEN(targets) - 1) {
		tern_time earliest = TERN_TIME_NEVER;
		for (unsigned i = 0; i < NRAND; i++)
			if (!r[i].fired)
				earliest = TERN_MIN(earliest, r[i].t.expire);
		CHECK(tern_wheel_next(&w) <= earliest);
		/* Half the steps land exactly on the earliest deadline. */
		now = (rng() & 1) ? earliest : now + rng_scaled(34);
		cur_advance = nadv;
		targets[nadv++] = now;
		tern_wheel_advance(&w, now);
	}
	CHECK_EQ(w.count, 0);
	CHECK_EQ(fire_seq, NRAND);
	for (unsigned i = 0; i < NRAND; i++) {
		CHECK_EQ(r[i].fired, 1);
		/* fired by the first advance whose target reached the expiry */
		CHECK(targets[r[i].advance] >= r[i].t.expire);
		CHECK(r[i].advance == 0 || targets[r[i].advance - 1] < r[i].t.expire);
	}
	/* the global firing order is nondecreasing in expiry */
	static struct rec *by_order[NRAND];
	for (unsigned i = 0; i < NRAND; i++)
		by_order[r[i].order] = &r[i];
	for (unsigned i = 1; i < NRAND; i++)
		CHECK(by_order[i - 1]->t.expire <= by_order[i]->t.expire);
}

/* Random timers whose callbacks re-arm themselves (possibly within the same
 * advance) and cancel random others; every firing is logged and checked:
 * nondecreasing expiry, first eligible advance, nothing cancelled fires. */
#define NCHURN 800
static struct tern_wheel churn_wheel;
static struct rec churn[NCHURN];
static unsigned churn_arms, churn_cancels, churn_bad;
static tern_time churn_last, churn_target, churn_prev_target;

static void on_churn(struct tern_timer *t, tern_time now)
{
	struct rec *r = (struct rec *)t;

	if (t->expire < churn_last || t->expire > churn_target || t->expire <= churn_prev_target)
		churn_bad++;
	churn_last = t->expire;
	on_fire(t, now);
	if (r->fired < 4) {
		tern_timer_arm(&churn_wheel, t, t->expire + 1 + rng_scaled(24));
		churn_arms++;
	}
	if (rng() % 4 == 0) {
		struct rec *o = &churn[rng() % NCHURN];
		if (tern_timer_armed(&o->t)) {
			tern_timer_cancel(&churn_wheel, &o->t);
			churn_cancels++;
		}
	}
}

static void test_random_churn(void)
{
	unsigned fired = 0, steps = 0;

	tern_wheel_init(&churn_wheel, 42);
	churn_arms = churn_cancels = churn_bad = 0;
	churn_last = churn_prev_target = 0;
	fire_seq = 0;
	for (unsigned i = 0; i < NCHURN; i++) {
		memset(&churn[i], 0, sizeof(churn[i]));
		tern_timer_init(&churn[i].t, on_churn, NULL);
		tern_timer_arm(&churn_wheel, &churn[i].t, 43 + rng_scaled(30));
		churn_arms++;
	}
	while (churn_wheel.count && steps++ < 100000) {
		churn_prev_target = churn_wheel.now;
		churn_target = churn_wheel.now + rng_scaled(26);
		fired += tern_wheel_advance(&churn_wheel, churn_target);
		CHECK(churn_wheel.count <= NCHURN);
	}
	CHECK_EQ(churn_wheel.count, 0);
	CHECK_EQ(churn_bad, 0);
	CHECK_EQ(fired, fire_seq);
	CHECK_EQ(fired + churn_cancels, churn_arms);
	CHECK(churn_cancels > 0);
	CHECK(fired > NCHURN);
}

/* Callbacks that re-arm themselves, arm others due in the same advance, and
 * cancel timers due in the same advance. */
static struct tern_wheel cb_wheel;
static struct rec a, b, c, d, e;
static tern_time log_expire[16];
static unsigned nlog;

static void on_a(struct tern_timer *t, tern_time now)
{
	log_expire[nlog++] = t->expire;
	on_fire(t, now);
	if (a.fired == 1) {
		tern_timer_arm(&cb_wheel, &a.t, 120); /* itself, later in this advance */
		tern_timer_arm(&cb_wheel, &b.t, 150); /* another, in this advance */
		tern_timer_cancel(&cb_wheel, &c.t);   /* same µs, not yet fired */
		tern_timer_cancel(&cb_wheel, &d.t);   /* later in this advance */
		tern_timer_arm(&cb_wheel, &e.t, 50);  /* in the past already */
	}
}

static void on_log(struct tern_timer *t, tern_time now)
{
	log_expire[nlog++] = t->expire;
	on_fire(t, now);
}

static void test_callbacks(void)
{
	struct tern_wheel *w = &cb_wheel;

	tern_wheel_init(w, 0);
	nlog = 0;
	tern_timer_init(&a.t, on_a, NULL);
	tern_timer_init(&b.t, on_log, NULL);
	tern_timer_init(&c.t, on_log, NULL);
	tern_timer_init(&d.t, on_log, NULL);
	tern_timer_init(&e.t, on_log, NULL);
	tern_timer_arm(w, &a.t, 100);
	tern_timer_arm(w, &c.t, 100);
	tern_timer_arm(w, &d.t, 5000);
	CHECK_EQ(w->count, 3);
	CHECK_EQ(tern_wheel_advance(w, 10000), 4); /* a, e, a again, b */
	CHECK_EQ(nlog, 4);
	CHECK_EQ(log_expire[0], 100);
	CHECK_EQ(log_expire[1], 50);
	CHECK_EQ(log_expire[2], 120);
	CHECK_EQ(log_expire[3], 150);
	CHECK_EQ(a.fired, 2);
	CHECK_EQ(a.fired_now, 10000);
	CHECK_EQ(b.fired, 1);
	CHECK_EQ(c.fired, 0);
	CHECK_EQ(d.fired, 0);
	CHECK_EQ(e.fired, 1);
	CHECK_EQ(w->count, 0);
	CHECK(!tern_timer_armed(&c.t));
	CHECK(!tern_timer_armed(&d.t));
}

static void test_arm_cancel(void)
{
	struct tern_wheel w;
	struct rec x = {0}, y = {0};

	tern_wheel_init(&w, 500);
	tern_timer_init(&x.t, on_fire, NULL);
	tern_timer_init(&y.t, on_fire, NULL);
	CHECK(!tern_timer_armed(&x.t));
	CHECK(tern_wheel_next(&w) == TERN_TIME_NEVER);
	tern_timer_cancel(&w, &x.t); /* cancelling an unarmed timer is a no-op */
	CHECK_EQ(w.count, 0);
	tern_timer_arm(&w, &x.t, 500 + L3);
	tern_timer_arm(&w, &x.t, 505); /* re-arm moves it */
	CHECK_EQ(w.count, 1);
	CHECK_EQ(tern_wheel_next(&w), 505); /* exact within level 0 */
	tern_timer_arm(&w, &y.t, 509);
	tern_timer_cancel(&w, &x.t);
	CHECK_EQ(w.count, 1);
	CHECK_EQ(tern_wheel_next(&w), 509);
	CHECK_EQ(tern_wheel_advance(&w, 10000), 1);
	CHECK_EQ(x.fired, 0);
	CHECK_EQ(y.fired, 1);
	CHECK(tern_wheel_next(&w) == TERN_TIME_NEVER);
	/* cancel every one of a slot's timers leaves the wheel empty */
	tern_timer_arm(&w, &x.t, 20000 + L4);
	tern_timer_arm(&w, &y.t, 20000 + L4);
	tern_timer_cancel(&w, &y.t);
	tern_timer_cancel(&w, &x.t);
	CHECK(tern_wheel_next(&w) == TERN_TIME_NEVER);
	CHECK_EQ(tern_wheel_advance(&w, 10 * L6), 0);
	CHECK_EQ(w.now, 10 * L6);
}

static void test_past(void)
{
	struct tern_wheel w;
	struct rec p[3] = {0};
	static const tern_time when[] = {1000, 10, 500};

	tern_wheel_init(&w, 1000);
	fire_seq = 0;
	for (unsigned i = 0; i < 3; i++) {
		tern_timer_init(&p[i].t, on_fire, NULL);
		tern_timer_arm(&w, &p[i].t, when[i]);
	}
	CHECK_EQ(tern_wheel_next(&w), 10);
	CHECK_EQ(tern_wheel_advance(&w, 1000), 3); /* without moving time */
	CHECK_EQ(p[1].order, 0);
	CHECK_EQ(p[2].order, 1);
	CHECK_EQ(p[0].order, 2);
	CHECK_EQ(p[1].fired_now, 1000);
	/* a wheel is never moved backwards */
	CHECK_EQ(tern_wheel_advance(&w, 5), 0);
	CHECK_EQ(w.now, 1000);
}

/* Ten idle hours in one call and in one-second steps, with a sparse timer per
 * hour: must finish promptly and fire each at the right call. */
static void test_idle_gap(void)
{
	struct tern_wheel w;
	struct rec h[10] = {0};
	const tern_time hour = 3600 * TERN_SEC;
	tern_time now;

	tern_wheel_init(&w, 7);
	CHECK_EQ(tern_wheel_advance(&w, 7 + 10 * hour), 0);
	for (unsigned i = 0; i < 10; i++) {
		tern_timer_init(&h[i].t, on_fire, NULL);
		tern_timer_arm(&w, &h[i].t, w.now + (i + 1) * hour);
	}
	for (now = w.now; w.count; now += TERN_SEC) {
		unsigned before = fire_seq, fired = tern_wheel_advance(&w, now);
		CHECK_EQ(fired, fire_seq - before);
	}
	for (unsigned i = 0; i < 10; i++) {
		CHECK_EQ(h[i].fired, 1);
		CHECK_EQ(h[i].fired_now, h[i].t.expire); /* whole seconds from the arm */
	}
	for (unsigned i = 0; i < 10; i++)
		tern_timer_arm(&w, &h[i].t, w.now + (i + 1) * hour + i);
	CHECK_EQ(tern_wheel_advance(&w, w.now + 10 * hour + 9), 10);
}

int main(void)
{
	test_boundaries();
	test_random_order();
	test_random_churn();
	test_callbacks();
	test_arm_cancel();
	test_past();
	test_idle_gap();
	return tern_check_result("timer");
}
