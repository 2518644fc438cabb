/* RTT estimator after RFC 9002 §5: latest, min, smoothed and variance. */
#ifndef TERN_RTT_H
#define TERN_RTT_H

#include "common.h"

struct tern_rtt {
	tern_time latest, smoothed, var, min;
	tern_time max_ack_delay; /* the peer's, used in PTO */
	bool has_sample;
};

void tern_rtt_init(struct tern_rtt *rtt, tern_time initial_rtt, tern_time max_ack_delay);
/* sample = now - send time of the largest newly acked packet; ack_delay as
 * reported by the peer (capped at max_ack_delay, ignored if it would push
 * the sample below min). */
void tern_rtt_update(struct tern_rtt *rtt, tern_time sample, tern_time ack_delay);
/* smoothed + max(4·var, granularity) + max_ack_delay. */
tern_time tern_rtt_pto(const struct tern_rtt *rtt);

#endif
