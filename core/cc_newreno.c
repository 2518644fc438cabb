/* NewReno after RFC 9002 §7.3 and Appendix B: slow start, congestion
 * avoidance, one halving per recovery period, collapse to the minimum window
 * on persistent congestion. Congestion avoidance counts acked bytes in an
 * accumulator and adds one mss per cwnd of them, which is the RFC's
 * mss * acked / cwnd with no rounding loss in integer math. */
#include "cc.h"

static void reno_init(struct tern_cc *cc, tern_time now)
{
	(void)now;
	cc->cwnd = TERN_CC_INITIAL_WINDOW(cc->mss);
	cc->ssthresh = UINT64_MAX;
	cc->u.reno.bytes_acked = 0;
}

static void reno_on_ack(struct tern_cc *cc, size_t bytes, tern_time sent_time,
                        const struct tern_rtt *rtt, tern_time now)
{
	(void)rtt;
	(void)now;
	if (tern_cc_in_recovery(cc, sent_time))
		return;
	if (cc->cwnd < cc->ssthresh) {
		cc->cwnd += bytes;
		return;
	}
	cc->u.reno.bytes_acked += bytes;
	while (cc->u.reno.bytes_acked >= cc->cwnd) {
		cc->u.reno.bytes_acked -= cc->cwnd;
		cc->cwnd += cc->mss;
	}
}

static void reno_on_loss(struct tern_cc *cc, tern_time sent_time, tern_time now)
{
	if (!tern_cc_enter_recovery(cc, sent_time, now))
		return;
	cc->ssthresh = cc->cwnd / 2;
	cc->cwnd = TERN_MAX(cc->ssthresh, TERN_CC_MIN_WINDOW(cc->mss));
	cc->u.reno.bytes_acked = 0;
}

static void reno_on_persistent_congestion(struct tern_cc *cc, tern_time now)
{
	(void)now;
	cc->cwnd = TERN_CC_MIN_WINDOW(cc->mss);
	cc->recovery_start = TERN_TIME_NEVER;
	cc->u.reno.bytes_acked = 0;
}

const struct tern_cc_ops tern_cc_newreno = {
        .name = "newreno",
        .init = reno_init,
        .on_ack = reno_on_ack,
        .on_loss = reno_on_loss,
        .on_persistent_congestion = reno_on_persistent_congestion,
};
