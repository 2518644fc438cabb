/* CUBIC after RFC 9438. Windows in the cubic function are in segments and
 * time in seconds, as in the RFC, so the formulas read like the spec; cwnd
 * itself stays in bytes and grows through an integer accumulator so repeated
 * small acks add up exactly. Slow start and the recovery-period rule are the
 * same as NewReno's (cc.c). Fast convergence (§4.7) is always on; K uses the
 * window at the start of the epoch (§4.2 eq. 2), which with fast convergence
 * is not W_max·beta. */
#include <math.h>
#include "cc.h"

#define CUBIC_C 0.4
#define CUBIC_BETA 0.7
#define CUBIC_BETA_NUM 7
#define CUBIC_BETA_DEN 10
/* Reno-friendly additive increase before W_est reaches cwnd_prior (§4.3). */
#define CUBIC_ALPHA (3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA))
#define CUBIC_DEFAULT_RTT (100 * TERN_MS)

/* 128-bit intermediates: GCC/Clang extension, marked so -Wpedantic accepts it. */
__extension__ typedef unsigned __int128 u128;

static double segments(const struct tern_cc *cc, uint64_t bytes)
{
	return (double)bytes / (double)cc->mss;
}

static uint64_t to_bytes(const struct tern_cc *cc, double segs)
{
	double b = segs * (double)cc->mss;
	if (b <= 0)
		return 0;
	if (b >= 18446744073709549568.0) /* largest double below 2^64 */
		return UINT64_MAX;
	return (uint64_t)b;
}

/* floor(bytes · 0.7) in integers, without overflow. */
static uint64_t times_beta(uint64_t bytes)
{
	return bytes / CUBIC_BETA_DEN * CUBIC_BETA_NUM +
	       bytes % CUBIC_BETA_DEN * CUBIC_BETA_NUM / CUBIC_BETA_DEN;
}

/* W_cubic(t) = C·(t − K)³ + W_max, eq. 1. */
static double w_cubic(const struct tern_cc *cc, double t)
{
	double d = t - cc->u.cubic.k;
	return CUBIC_C * d * d * d + cc->u.cubic.w_max;
}

static double rtt_seconds(const struct tern_rtt *rtt)
{
	tern_time r = CUBIC_DEFAULT_RTT;
	if (rtt && rtt->has_sample && rtt->smoothed)
		r = rtt->smoothed;
	return (double)r / (double)TERN_SEC;
}

static void cubic_init(struct tern_cc *cc, tern_time now)
{
	(void)now;
	cc->cwnd = TERN_CC_INITIAL_WINDOW(cc->mss);
	cc->ssthresh = UINT64_MAX;
	cc->u.cubic.w_max = 0;
	cc->u.cubic.k = 0;
	cc->u.cubic.w_est = 0;
	cc->u.cubic.epoch_start = TERN_TIME_NEVER;
	cc->u.cubic.cwnd_prior = 0;
	cc->u.cubic.bytes_acked = 0;
}

/* First congestion-avoidance ack after slow start or a reduction. When no
 * loss has set W_max above the current window (e.g. ssthresh reached from
 * persistent congestion after growth), the plateau is the window itself. */
static void start_epoch(struct tern_cc *cc, tern_time now)
{
	double cwnd_epoch = segments(cc, cc->cwnd);

	cc->u.cubic.epoch_start = now;
	cc->u.cubic.w_est = cwnd_epoch;
	cc->u.cubic.bytes_acked = 0;
	if (cc->u.cubic.w_max <= cwnd_epoch) {
		cc->u.cubic.w_max = cwnd_epoch;
		cc->u.cubic.k = 0;
	} else {
		cc->u.cubic.k = cbrt((cc->u.cubic.w_max - cwnd_epoch) / CUBIC_C);
	}
}

/* W_est += alpha · segments_acked / cwnd (segments), eq. 4. */
static void update_w_est(struct tern_cc *cc, size_t bytes)
{
	double alpha = CUBIC_ALPHA;
	if (to_bytes(cc, cc->u.cubic.w_est) >= cc->u.cubic.cwnd_prior)
		alpha = 1.0;
	cc->u.cubic.w_est += alpha * (double)bytes / (double)cc->cwnd;
}

/* cwnd += (target − cwnd) / cwnd per acked segment, in bytes, carrying the
 * remainder so the growth over many acks is exact. */
static void grow_toward(struct tern_cc *cc, uint64_t target, size_t bytes)
{
	u128 acc;

	if (target <= cc->cwnd)
		return;
	acc = (u128)(target - cc->cwnd) * bytes + cc->u.cubic.bytes_acked;
	cc->u.cubic.bytes_acked = (uint64_t)(acc % cc->cwnd);
	cc->cwnd += (uint64_t)(acc / cc->cwnd);
}

static void congestion_avoidance(struct tern_cc *cc, size_t bytes, const struct tern_rtt *rtt,
                                 tern_time now)
{
	double t, target;

	if (cc->u.cubic.epoch_start == TERN_TIME_NEVER)
		start_epoch(cc, now);
	t = now > cc->u.cubic.epoch_start ? (double)(now - cc->u.cubic.epoch_start) / TERN_SEC : 0;
	update_w_est(cc, bytes);
	if (w_cubic(cc, t) < cc->u.cubic.w_est) {
		/* Reno-friendly region: follow the Reno estimate. */
		cc->cwnd = TERN_MAX(cc->cwnd, to_bytes(cc, cc->u.cubic.w_est));
		return;
	}
	target = w_cubic(cc, t + rtt_seconds(rtt));
	target = TERN_MIN(target, 1.5 * segments(cc, cc->cwnd));
	grow_toward(cc, to_bytes(cc, target), bytes);
}

static void cubic_on_ack(struct tern_cc *cc, size_t bytes, tern_time sent_time,
                         const struct tern_rtt *rtt, tern_time now)
{
	if (tern_cc_in_recovery(cc, sent_time))
		return;
	if (cc->cwnd < cc->ssthresh) {
		cc->cwnd += bytes;
		return;
	}
	congestion_avoidance(cc, bytes, rtt, now);
}

static void cubic_on_loss(struct tern_cc *cc, tern_time sent_time, tern_time now)
{
	double cwnd_segs = segments(cc, cc->cwnd);

	if (!tern_cc_enter_recovery(cc, sent_time, now))
		return;
	cc->u.cubic.cwnd_prior = cc->cwnd;
	/* Fast convergence: a flow losing below its last plateau releases
	 * bandwidth by aiming lower (§4.7). */
	if (cwnd_segs < cc->u.cubic.w_max)
		cc->u.cubic.w_max = cwnd_segs * (1.0 + CUBIC_BETA) / 2.0;
	else
		cc->u.cubic.w_max = cwnd_segs;
	cc->ssthresh = TERN_MAX(times_beta(cc->cwnd), TERN_CC_MIN_WINDOW(cc->mss));
	cc->cwnd = cc->ssthresh;
	cc->u.cubic.epoch_start = TERN_TIME_NEVER;
	cc->u.cubic.bytes_acked = 0;
}

static void cubic_on_persistent_congestion(struct tern_cc *cc, tern_time now)
{
	(void)now;
	cc->cwnd = TERN_CC_MIN_WINDOW(cc->mss);
	cc->recovery_start = TERN_TIME_NEVER;
	cc->u.cubic.epoch_start = TERN_TIME_NEVER;
	cc->u.cubic.bytes_acked = 0;
}

const struct tern_cc_ops tern_cc_cubic = {
        .name = "cubic",
        .init = cubic_init,
        .on_ack = cubic_on_ack,
        .on_loss = cubic_on_loss,
        .on_persistent_congestion = cubic_on_persistent_congestion,
};
