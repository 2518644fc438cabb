/* Pacer tests: exact next-send times (no drift over long runs), the burst cap
 * after idle, rate 0 as "unpaced", and the rate derived from cwnd and srtt. */
#include "check.h"
#include "pacer.h"

#define T0 (10 * TERN_SEC)

static void test_rate_from_cwnd(void)
{
	static const struct {
		uint64_t cwnd;
		tern_time srtt;
		unsigned num, den;
		uint64_t rate;
	} rows[] = {
	        {100000, 125000, 5, 4, 1000000},            /* 1.25·100 kB / 125 ms */
	        {12000, 100 * TERN_MS, 5, 4, 150000},       /* initial window, 100 ms */
	        {1000, 3, 1, 1, 333333333},                 /* rounds down */
	        {1ull << 40, 1, 5, 4, 1374389534720000000}, /* no overflow */
	        {1ull << 60, 1, 5, 4, UINT64_MAX},          /* saturates */
	        {100000, 0, 5, 4, 0},                       /* no srtt: unpaced */
	        {100000, 1000, 5, 0, 0},                    /* bad gain: unpaced */
	};
	struct tern_pacer p;

	for (size_t i = 0; i < TERN_ARRAY_LEN(rows); i++) {
		tern_pacer_init(&p, 10000);
		tern_pacer_update(&p, rows[i].cwnd, rows[i].srtt, rows[i].num, rows[i].den);
		CHECK(p.rate == rows[i].rate);
	}
}

static void test_unpaced_never_delays(void)
{
	struct tern_pacer p;

	tern_pacer_init(&p, 10000);
	for (int i = 0; i < 1000; i++) {
		CHECK_EQ(tern_pacer_next(&p, 1200, T0), T0);
		tern_pacer_on_sent(&p, 1200, T0);
	}
	CHECK_EQ(tern_pacer_next(&p, 1000000, T0), T0);
	tern_pacer_update(&p, 100000, 0, 5, 4);
	CHECK_EQ(tern_pacer_next(&p, 1200, T0), T0);
}

/* A full bucket sends `burst` at once; then sends are spaced exactly. */
static void test_exact_times(void)
{
	static const struct {
		size_t bytes;
		tern_time at; /* relative to T0 */
	} rows[] = {
	        {1000, 0},    {1000, 0},    {1000, 0},   {1000, 0}, {1000, 0},
	        {1000, 0},    {1000, 0},    {1000, 0},   {1000, 0}, {1000, 0}, /* the burst of 10 */
	        {1000, 1000}, {1000, 2000}, {500, 2500}, {1, 2501}, {1200, 3701},
	};
	struct tern_pacer p;

	tern_pacer_init(&p, 10000);
	tern_pacer_update(&p, 100000, 125000, 5, 4); /* 1 byte per µs */
	CHECK(p.rate == 1000000);
	for (size_t i = 0; i < TERN_ARRAY_LEN(rows); i++) {
		tern_time t = tern_pacer_next(&p, rows[i].bytes, T0 + (i ? rows[i - 1].at : 0));
		CHECK_EQ(t - T0, rows[i].at);
		CHECK_EQ(tern_pacer_next(&p, rows[i].bytes, t), t);
		tern_pacer_on_sent(&p, rows[i].bytes, t);
	}
}

/* At a rate that is not a whole number of bytes per µs, sub-byte credit is
 * carried: the k-th packet leaves at exactly ceil((k·size − burst)/rate). */
static void test_no_drift(void)
{
	const uint64_t rate = 1234567, burst = 10000, size = 1000;
	struct tern_pacer p;
	tern_time now = T0;
	int bad = 0;

	tern_pacer_init(&p, burst);
	p.rate = rate;
	CHECK_EQ(tern_pacer_next(&p, size, now), now);
	tern_pacer_on_sent(&p, burst, now); /* empty the bucket at T0 */
	CHECK_EQ(tern_pacer_next(&p, size, now), now + 811);
	for (uint64_t k = 1; k <= 100000; k++) {
		tern_time want = T0 + (k * size * TERN_SEC + rate - 1) / rate;
		now = tern_pacer_next(&p, size, now);
		bad += now != want;
		tern_pacer_on_sent(&p, size, now);
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(now - T0, (100000 * size * TERN_SEC + rate - 1) / rate);
}

static void test_burst_cap_after_idle(void)
{
	const uint64_t rate = 12500000000ull; /* 100 Gbit/s */
	struct tern_pacer p;
	tern_time now = T0;

	tern_pacer_init(&p, 15000);
	p.rate = rate;
	tern_pacer_on_sent(&p, 15000, now);
	CHECK_EQ(p.tokens, 0);
	now += 3 * 3600 * TERN_SEC; /* rate · gap overflows 64 bits */
	CHECK_EQ(tern_pacer_next(&p, 15000, now), now);
	CHECK_EQ(p.tokens, 15000);
	tern_pacer_on_sent(&p, 15000, now);
	CHECK_EQ(tern_pacer_next(&p, 1500, now), now + 1); /* 12.5 kB per µs */
	/* A send larger than the bucket waits for a full bucket, no longer. */
	tern_pacer_init(&p, 10000);
	p.rate = 1000000;
	tern_pacer_on_sent(&p, 10000, T0);
	CHECK_EQ(tern_pacer_next(&p, 65000, T0), T0 + 10000);
	CHECK_EQ(tern_pacer_next(&p, 65000, T0 + 10000), T0 + 10000);
	tern_pacer_on_sent(&p, 65000, T0 + 10000);
	CHECK_EQ(p.tokens, 0);
}

/* The bucket is two send quanta (1 ms at the rate, at most 64 KiB), at
 * least the floor. */
static void test_quantum(void)
{
	static const struct {
		uint64_t rate, burst;
	} cases[] = {
	        {0, 14520},            /* unpaced: the floor */
	        {1250000, 14520},      /* 10 Mbit/s: 1.25 KB per ms, the floor */
	        {25000000, 50000},     /* 200 Mbit/s: 25 KB per ms */
	        {125000000, 131072},   /* 1 Gbit/s: 125 KB per ms, capped at 64 KiB */
	        {12500000000, 131072}, /* 100 Gbit/s */
	};
	struct tern_pacer p;

	for (size_t i = 0; i < TERN_ARRAY_LEN(cases); i++) {
		tern_pacer_init(&p, 14520);
		tern_pacer_set_rate(&p, cases[i].rate, 14520);
		CHECK_EQ(p.rate, cases[i].rate);
		CHECK_EQ(p.burst, cases[i].burst);
	}
	/* at 1 Gbit/s a worker that wakes 400 us late for a train finds the
	 * quantum and the 50 KB it lost, and sends both at once; the next train
	 * starts when a quantum is there again (524.3 us) */
	tern_pacer_init(&p, 14520);
	tern_pacer_set_rate(&p, 125000000, 14520);
	tern_pacer_on_sent(&p, p.burst, T0); /* empty */
	CHECK_EQ(tern_pacer_next(&p, 1452, T0), T0 + 525);
	CHECK_EQ(tern_pacer_next(&p, 65536 + 50000, T0 + 925), T0 + 925);
	tern_pacer_on_sent(&p, 65536 + 50000, T0 + 925);
	CHECK(!p.in_train);
	CHECK_EQ(tern_pacer_next(&p, 1452, T0 + 925), T0 + 925 + 524); /* 89 bytes were left */
}

/* Trains: at 1 Gbit/s (a 64 KiB quantum) a train of 1452-byte packets starts
 * only once 64 KiB of credit is there (524.3 us after an empty bucket), then
 * all 45 of them go at once; at 10 Mbit/s (a quantum under one packet) each
 * packet goes as soon as its own credit is there. */
static void test_trains(void)
{
	struct tern_pacer p;
	int sent = 0;

	tern_pacer_init(&p, 14520);
	tern_pacer_set_rate(&p, 125000000, 14520);
	tern_pacer_on_sent(&p, p.burst, T0); /* empty */
	CHECK(!p.in_train);
	CHECK_EQ(tern_pacer_next(&p, 1452, T0 + 12), T0 + 525);
	while (tern_pacer_next(&p, 1452, T0 + 525) == T0 + 525 && sent < 100) {
		tern_pacer_on_sent(&p, 1452, T0 + 525);
		sent++;
	}
	CHECK_EQ(sent, 45);
	CHECK(!p.in_train);
	/* 196 bytes were left: 65,340 more take 522.7 us */
	CHECK_EQ(tern_pacer_next(&p, 1452, T0 + 525), T0 + 525 + 523);

	tern_pacer_init(&p, 14520);
	tern_pacer_set_rate(&p, 1250000, 14520);
	tern_pacer_on_sent(&p, 14520, T0);
	CHECK_EQ(tern_pacer_next(&p, 1452, T0), T0 + 1162);
}

int main(void)
{
	test_rate_from_cwnd();
	test_unpaced_never_delays();
	test_exact_times();
	test_no_drift();
	test_burst_cap_after_idle();
	test_quantum();
	test_trains();
	return tern_check_result("pacer");
}
