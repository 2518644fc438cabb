/* Congestion control glue: the name lookup, common initialisation, the
 * recovery-period rule NewReno and CUBIC share (RFC 9002 §7.3.2), the pacing
 * rate for either kind of controller, and the info report. Keeping the
 * "one reduction per period" decision here means NewReno and CUBIC cannot
 * disagree on it; each algorithm file only decides how far cwnd moves. */
#include "cc.h"
#include "proto.h"

/* 128-bit intermediates: GCC/Clang extension, marked so -Wpedantic accepts it. */
__extension__ typedef unsigned __int128 u128;

static const struct tern_cc_ops *const algorithms[] = {
        &tern_cc_newreno,
        &tern_cc_cubic,
        &tern_cc_bbr,
};

const struct tern_cc_ops *tern_cc_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < TERN_ARRAY_LEN(algorithms); i++) {
		if (strcmp(algorithms[i]->name, name) == 0)
			return algorithms[i];
	}
	return NULL;
}

void tern_cc_init(struct tern_cc *cc, const struct tern_cc_ops *ops, uint64_t mss, tern_time now)
{
	memset(cc, 0, sizeof(*cc));
	cc->ops = ops;
	cc->mss = mss;
	cc->recovery_start = TERN_TIME_NEVER;
	tern_delivery_init(&cc->delivery);
	ops->init(cc, now);
}

bool tern_cc_in_recovery(const struct tern_cc *cc, tern_time sent_time)
{
	return cc->recovery_start != TERN_TIME_NEVER && sent_time <= cc->recovery_start;
}

bool tern_cc_enter_recovery(struct tern_cc *cc, tern_time sent_time, tern_time now)
{
	if (tern_cc_in_recovery(cc, sent_time))
		return false;
	cc->recovery_start = now;
	cc->congestion_events++;
	return true;
}

uint64_t tern_cc_pacing_rate(const struct tern_cc *cc, const struct tern_rtt *rtt)
{
	tern_time srtt = rtt->has_sample && rtt->smoothed ? rtt->smoothed : TERN_INITIAL_RTT_US;
	u128 rate;

	if (cc->ops->pacing_rate)
		return TERN_MAX(cc->ops->pacing_rate(cc, rtt), 1);
	rate = (u128)cc->cwnd * 5 * TERN_SEC / ((u128)srtt * 4);
	return rate > UINT64_MAX ? UINT64_MAX : TERN_MAX((uint64_t)rate, 1);
}

static const char *window_state(const struct tern_cc *cc)
{
	return cc->cwnd < cc->ssthresh ? "slow_start" : "avoidance";
}

void tern_cc_get_info(const struct tern_cc *cc, const struct tern_rtt *rtt,
                      struct tern_cc_info *info)
{
	const struct tern_delivery *d = &cc->delivery;

	memset(info, 0, sizeof(*info));
	info->algorithm = cc->ops->name;
	info->state = cc->ops->state_name ? cc->ops->state_name(cc) : window_state(cc);
	info->bandwidth = cc->ops->bandwidth ? cc->ops->bandwidth(cc) : tern_winmax_get(&d->bw);
	info->min_rtt = rtt->has_sample ? rtt->min : 0;
	info->smoothed_rtt = rtt->has_sample ? rtt->smoothed : 0;
	info->pacing_rate = tern_cc_pacing_rate(cc, rtt);
	info->cwnd = cc->cwnd;
	info->bytes_in_flight = cc->bytes_in_flight;
	info->delivered = d->delivered;
	info->lost = d->lost;
	info->rounds = d->round_count;
	info->last_delivery_rate = d->last_rate;
	info->app_limited = d->app_limited != 0;
}

void tern_cc_on_app_limited(struct tern_cc *cc)
{
	tern_delivery_on_app_limited(&cc->delivery, cc->bytes_in_flight);
}
