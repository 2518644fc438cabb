/* Congestion control tests: NewReno (RFC 9002 §7.3) and CUBIC (RFC 9438)
 * through the ops table, driven by hand-built RTT samples and virtual time.
 * Expected windows are hand-computed; see the comment on each table. */
#include <math.h>
#include "check.h"
#include "cc.h"

#define MSS 1000
#define T0 (5 * TERN_SEC)

static struct tern_rtt rtt_of(tern_time srtt)
{
	struct tern_rtt r = {.latest = srtt,
	                     .smoothed = srtt,
	                     .var = srtt / 2,
	                     .min = srtt,
	                     .max_ack_delay = 25 * TERN_MS,
	                     .has_sample = true};
	return r;
}

static void ack(struct tern_cc *cc, size_t bytes, tern_time sent, const struct tern_rtt *rtt,
                tern_time now)
{
	cc->ops->on_ack(cc, bytes, sent, rtt, now);
}

/* One RTT: every packet of the window at its start is acked, one mss each,
 * all sent after any current recovery began. Returns the new time. */
static tern_time ack_round(struct tern_cc *cc, const struct tern_rtt *rtt, tern_time now)
{
	uint64_t n = cc->cwnd / cc->mss;

	now += rtt->smoothed;
	for (uint64_t i = 0; i < n; i++)
		ack(cc, cc->mss, now - rtt->smoothed + 1, rtt, now);
	return now;
}

static void test_find(void)
{
	CHECK(tern_cc_find("newreno") == &tern_cc_newreno);
	CHECK(tern_cc_find("cubic") == &tern_cc_cubic);
	CHECK(tern_cc_find("bbr") == &tern_cc_bbr);
	CHECK(tern_cc_find("vegas") == NULL);
	CHECK(tern_cc_find("") == NULL);
	CHECK(tern_cc_find(NULL) == NULL);
}

/* Behaviour both algorithms share: initial window, slow start doubling the
 * window per RTT of acks, one reduction per recovery period, no growth from
 * acks of packets sent before it, persistent congestion. */
static void test_common(const struct tern_cc_ops *ops, uint64_t after_loss, uint64_t from_3mss)
{
	static const uint64_t doubling[] = {20000, 40000, 80000, 160000};
	struct tern_rtt rtt = rtt_of(50 * TERN_MS);
	struct tern_cc cc;
	tern_time now = T0, loss_at;

	tern_cc_init(&cc, ops, MSS, now);
	CHECK(cc.ops == ops);
	CHECK_EQ(cc.cwnd, 10 * MSS);
	CHECK(cc.ssthresh == UINT64_MAX);
	CHECK(cc.recovery_start == TERN_TIME_NEVER);
	for (size_t i = 0; i < TERN_ARRAY_LEN(doubling); i++) {
		now = ack_round(&cc, &rtt, now);
		CHECK_EQ(cc.cwnd, doubling[i]);
	}
	/* Loss of a packet sent in the last round: one reduction. */
	loss_at = now;
	ops->on_loss(&cc, now - 10, now);
	CHECK_EQ(cc.cwnd, after_loss);
	CHECK_EQ(cc.ssthresh, after_loss);
	CHECK_EQ(cc.recovery_start, loss_at);
	CHECK_EQ(cc.congestion_events, 1);
	/* More losses from the same flight, even declared later: ignored. */
	ops->on_loss(&cc, now - 5, now + 1000);
	ops->on_loss(&cc, loss_at, now + 2000);
	CHECK_EQ(cc.cwnd, after_loss);
	CHECK_EQ(cc.congestion_events, 1);
	/* Acks of packets sent up to the start of recovery do not grow cwnd. */
	ack(&cc, MSS, now - 10, &rtt, now + 3000);
	ack(&cc, 50 * MSS, loss_at, &rtt, now + 3000);
	CHECK_EQ(cc.cwnd, after_loss);
	/* A packet sent after recovery began grows it again. */
	now = ack_round(&cc, &rtt, now);
	CHECK(cc.cwnd > after_loss);
	/* Persistent congestion: minimum window, recovery over, ssthresh kept;
	 * slow start resumes even for old packets. */
	ops->on_persistent_congestion(&cc, now);
	CHECK_EQ(cc.cwnd, 2 * MSS);
	CHECK(cc.recovery_start == TERN_TIME_NEVER);
	CHECK_EQ(cc.ssthresh, after_loss);
	ack(&cc, MSS, loss_at - 1, &rtt, now + 1);
	CHECK_EQ(cc.cwnd, 3 * MSS);
	/* A new loss reduces again and starts a new period. */
	ops->on_loss(&cc, loss_at - 1, now + 2);
	CHECK_EQ(cc.congestion_events, 2);
	CHECK_EQ(cc.cwnd, from_3mss);
}

/* Congestion avoidance adds exactly one mss per cwnd of acked bytes. */
static void test_reno_avoidance(void)
{
	static const struct {
		int acks;
		size_t bytes;
		uint64_t cwnd, acc;
	} rows[] = {
	        {19, 1000, 20000, 19000}, /* 19 kB of a 20 kB window: no growth */
	        {1, 1000, 21000, 0},      /* the window's worth: +1 mss */
	        {1, 20999, 21000, 20999}, /* one byte short */
	        {1, 1, 22000, 0},
	        {1, 50000, 24000, 5000}, /* 50 kB spans two windows: 22 kB, 23 kB */
	};
	struct tern_rtt rtt = rtt_of(50 * TERN_MS);
	struct tern_cc cc;
	tern_time now = T0;

	tern_cc_init(&cc, &tern_cc_newreno, MSS, now);
	for (int i = 0; i < 2; i++)
		now = ack_round(&cc, &rtt, now); /* 40 kB */
	tern_cc_newreno.on_loss(&cc, now - 1, now);
	CHECK_EQ(cc.cwnd, 20000);
	CHECK_EQ(cc.ssthresh, 20000);
	for (size_t i = 0; i < TERN_ARRAY_LEN(rows); i++) {
		for (int j = 0; j < rows[i].acks; j++)
			ack(&cc, rows[i].bytes, now + 1, &rtt, now + 100);
		CHECK_EQ(cc.cwnd, rows[i].cwnd);
		CHECK_EQ(cc.u.reno.bytes_acked, rows[i].acc);
	}
}

/* Repeated losses, each in a new period, halve down to the 2·mss floor. */
static void test_reno_floor(void)
{
	static const struct {
		uint64_t cwnd, ssthresh;
	} rows[] = {{5000, 5000}, {2500, 2500}, {2000, 1250}, {2000, 1000}, {2000, 1000}};
	struct tern_cc cc;
	tern_time now = T0;

	tern_cc_init(&cc, &tern_cc_newreno, MSS, now);
	for (size_t i = 0; i < TERN_ARRAY_LEN(rows); i++) {
		now += 1000;
		tern_cc_newreno.on_loss(&cc, now - 1, now);
		CHECK_EQ(cc.cwnd, rows[i].cwnd);
		CHECK_EQ(cc.ssthresh, rows[i].ssthresh);
	}
	CHECK_EQ(cc.congestion_events, 5);
}

/* Sets cwnd, declares a loss in a new period, and starts the epoch with an
 * empty ack of a packet sent after it. Returns the epoch start time. */
static tern_time cubic_loss_at(struct tern_cc *cc, uint64_t cwnd, const struct tern_rtt *rtt,
                               tern_time now)
{
	cc->cwnd = cwnd;
	tern_cc_cubic.on_loss(cc, now - 1, now);
	now += rtt->smoothed;
	ack(cc, 0, now - rtt->smoothed + 1, rtt, now);
	return now;
}

/* W_max, beta and K (seconds) after successive losses, hand-computed:
 * K = cbrt((W_max − cwnd_epoch)/0.4) with windows in segments. */
static void test_cubic_reduction_and_k(void)
{
	static const struct {
		uint64_t cwnd_at_loss, cwnd;
		double w_max, k;
	} rows[] = {
	        {100000, 70000, 100, 4.2171633265087465}, /* cbrt(30/0.4) */
	        {80000, 56000, 68, 3.107232505953859},    /* fast convergence: 80·1.7/2 */
	        {200000, 140000, 200, 5.313292845913056}, /* above W_max: plain */
	        {2500, 2000, 2.125, 0.6786044041487266},  /* fast conv.; cwnd floored at 2·mss */
	};
	struct tern_rtt rtt = rtt_of(100 * TERN_MS);
	struct tern_cc cc;
	tern_time now = T0;

	tern_cc_init(&cc, &tern_cc_cubic, MSS, now);
	for (size_t i = 0; i < TERN_ARRAY_LEN(rows); i++) {
		now = cubic_loss_at(&cc, rows[i].cwnd_at_loss, &rtt, now + TERN_SEC);
		CHECK_EQ(cc.cwnd, rows[i].cwnd);
		CHECK_EQ(cc.ssthresh, rows[i].cwnd);
		CHECK_EQ(cc.u.cubic.cwnd_prior, rows[i].cwnd_at_loss);
		CHECK(fabs(cc.u.cubic.w_max - rows[i].w_max) < 1e-9);
		CHECK(fabs(cc.u.cubic.k - rows[i].k) < 1e-9);
		CHECK_EQ(cc.u.cubic.epoch_start, now);
	}
	CHECK_EQ(cc.congestion_events, 4);
}

/* One ack of 7 kB (a tenth of the window) at epoch time t after a loss at
 * 100 kB: cwnd grows by (W_cubic(t + RTT) − cwnd)/10, target capped at
 * 1.5·cwnd; W_cubic(t) = 0.4·(t − 4.21716)³ + 100 segments. At t = 0 the
 * cubic curve (70) is below W_est (70 + 0.529·0.1): Reno-friendly. */
static void test_cubic_window_values(void)
{
	static const struct {
		tern_time t;
		uint64_t cwnd;
	} rows[] = {
	        {0, 70052},               /* W_est = 70.0529 segments */
	        {900 * TERN_MS, 71668},   /* W(1.0) = 86.6807 */
	        {1900 * TERN_MS, 72564},  /* W(2.0) = 95.6403 */
	        {4900 * TERN_MS, 73019},  /* W(5.0) = 100.1918 */
	        {5900 * TERN_MS, 73226},  /* W(6.0) = 102.2667 */
	        {20000 * TERN_MS, 73500}, /* W(20.1) = 1702: capped at 105 */
	};
	struct tern_rtt rtt = rtt_of(100 * TERN_MS);
	struct tern_cc base, cc;
	tern_time epoch;

	tern_cc_init(&base, &tern_cc_cubic, MSS, T0);
	epoch = cubic_loss_at(&base, 100000, &rtt, T0);
	CHECK_EQ(base.cwnd, 70000);
	for (size_t i = 0; i < TERN_ARRAY_LEN(rows); i++) {
		cc = base;
		ack(&cc, 7000, epoch, &rtt, epoch + rows[i].t);
		CHECK_EQ(cc.cwnd, rows[i].cwnd);
	}
}

/* Per-second growth at RTT 100 ms after a loss at 1000 segments (K = 9.09 s):
 * shrinking while approaching W_max (concave), flat around K, then growing
 * again (convex); W_est (+0.53 segments per RTT) stays far below. */
static void test_cubic_concave_convex(void)
{
	struct tern_rtt rtt = rtt_of(100 * TERN_MS);
	struct tern_cc cc;
	uint64_t at_sec[15];
	tern_time now, epoch;

	tern_cc_init(&cc, &tern_cc_cubic, MSS, T0);
	epoch = now = cubic_loss_at(&cc, 1000000, &rtt, T0);
	CHECK(fabs(cc.u.cubic.k - 9.085602964160698) < 1e-9); /* cbrt(750) */
	at_sec[0] = cc.cwnd;
	for (int s = 1; s <= 14; s++) {
		for (int r = 0; r < 10; r++) {
			now = ack_round(&cc, &rtt, now);
			if (now - epoch + rtt.smoothed < 9080 * TERN_MS)
				CHECK(cc.cwnd < 1000000); /* below the plateau before K */
			CHECK(cc.cwnd > cc.u.cubic.w_est * MSS + 1000); /* cubic region */
		}
		at_sec[s] = cc.cwnd;
	}
	for (int s = 1; s < 8; s++)
		CHECK(at_sec[s] - at_sec[s - 1] > at_sec[s + 1] - at_sec[s]);
	CHECK(at_sec[9] > 999000 && at_sec[9] < 1000000);
	CHECK(at_sec[10] - at_sec[9] < 1000); /* the plateau */
	CHECK(at_sec[10] > 1000000);
	for (int s = 10; s < 14; s++)
		CHECK(at_sec[s] - at_sec[s - 1] < at_sec[s + 1] - at_sec[s]);
}

/* At RTT 1 ms the cubic curve barely moves in 0.1 s, so cwnd follows the
 * Reno estimate: +0.529 mss per RTT until it reaches cwnd_prior (100 kB),
 * then +1 mss per RTT. At RTT 100 ms the same rounds stay in the cubic
 * region, above W_est. */
static void test_cubic_reno_friendly(void)
{
	struct tern_rtt fast = rtt_of(1 * TERN_MS), slow = rtt_of(100 * TERN_MS);
	struct tern_cc cc;
	tern_time now;
	uint64_t before;

	tern_cc_init(&cc, &tern_cc_cubic, MSS, T0);
	now = cubic_loss_at(&cc, 100000, &fast, T0);
	for (int r = 0; r < 20; r++)
		now = ack_round(&cc, &fast, now);
	CHECK_EQ(cc.cwnd, (uint64_t)(cc.u.cubic.w_est * MSS));
	CHECK(cc.cwnd >= 70000 + 20 * 500 && cc.cwnd <= 70000 + 20 * 530);
	while (cc.cwnd < 105000)
		now = ack_round(&cc, &fast, now);
	before = cc.cwnd;
	for (int r = 0; r < 10; r++)
		now = ack_round(&cc, &fast, now);
	CHECK(cc.cwnd - before >= 9500 && cc.cwnd - before <= 10000);

	tern_cc_init(&cc, &tern_cc_cubic, MSS, T0);
	now = cubic_loss_at(&cc, 100000, &slow, T0);
	for (int r = 0; r < 20; r++)
		now = ack_round(&cc, &slow, now);
	CHECK(cc.cwnd > (uint64_t)(cc.u.cubic.w_est * MSS) + 5000);
}

/* Persistent congestion resets the epoch; after slow start back to ssthresh
 * the cubic curve restarts toward the remembered W_max. */
static void test_cubic_persistent(void)
{
	struct tern_rtt rtt = rtt_of(100 * TERN_MS);
	struct tern_cc cc;
	tern_time now;

	tern_cc_init(&cc, &tern_cc_cubic, MSS, T0);
	now = cubic_loss_at(&cc, 100000, &rtt, T0);
	tern_cc_cubic.on_persistent_congestion(&cc, now);
	CHECK_EQ(cc.cwnd, 2000);
	CHECK(cc.u.cubic.epoch_start == TERN_TIME_NEVER);
	CHECK(cc.recovery_start == TERN_TIME_NEVER);
	now = ack_round(&cc, &rtt, now);
	CHECK_EQ(cc.cwnd, 4000); /* slow start again */
	CHECK(cc.u.cubic.epoch_start == TERN_TIME_NEVER);
	while (cc.cwnd < cc.ssthresh)
		now = ack_round(&cc, &rtt, now);
	now = ack_round(&cc, &rtt, now);
	CHECK(cc.u.cubic.epoch_start != TERN_TIME_NEVER);
	CHECK(fabs(cc.u.cubic.w_max - 100) < 1e-9);
	CHECK(cc.u.cubic.k > 0);
}

/* Without an RTT sample CUBIC assumes 100 ms. */
static void test_cubic_default_rtt(void)
{
	struct tern_rtt rtt = rtt_of(100 * TERN_MS), none = {0};
	struct tern_cc a, b;
	tern_time epoch;

	tern_cc_init(&a, &tern_cc_cubic, MSS, T0);
	epoch = cubic_loss_at(&a, 100000, &rtt, T0);
	b = a;
	ack(&a, 7000, epoch, &rtt, epoch + TERN_SEC);
	ack(&b, 7000, epoch, &none, epoch + TERN_SEC);
	CHECK_EQ(a.cwnd, b.cwnd);
	CHECK(a.cwnd > 70000);
}

int main(void)
{
	test_find();
	test_common(&tern_cc_newreno, 80000, 2000); /* 1500 floored at 2·mss */
	test_common(&tern_cc_cubic, 112000, 2100);  /* 0.7 · 3000 */
	test_reno_avoidance();
	test_reno_floor();
	test_cubic_reduction_and_k();
	test_cubic_window_values();
	test_cubic_concave_convex();
	test_cubic_reno_friendly();
	test_cubic_persistent();
	test_cubic_default_rtt();
	return tern_check_result("cc");
}
