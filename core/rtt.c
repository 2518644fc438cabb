/* RTT estimator after RFC 9002 §5.
 *
 * Pure arithmetic on injected samples: no clock, no state beyond struct
 * tern_rtt. Integer microseconds throughout, so results are exact and the
 * tests can check them to the microsecond (divisions truncate). The ack delay
 * the peer reports is capped at its max_ack_delay and only subtracted when
 * that keeps the sample at or above min_rtt, so a lying or late peer cannot
 * shrink the estimate below what the path has shown. */
#include "rtt.h"
#include "proto.h"

void tern_rtt_init(struct tern_rtt *rtt, tern_time initial_rtt, tern_time max_ack_delay)
{
	rtt->latest = 0;
	rtt->min = 0;
	rtt->smoothed = initial_rtt;
	rtt->var = initial_rtt / 2;
	rtt->max_ack_delay = max_ack_delay;
	rtt->has_sample = false;
}

void tern_rtt_update(struct tern_rtt *rtt, tern_time sample, tern_time ack_delay)
{
	rtt->latest = sample;
	if (!rtt->has_sample) {
		rtt->has_sample = true;
		rtt->min = sample;
		rtt->smoothed = sample;
		rtt->var = sample / 2;
		return;
	}
	rtt->min = TERN_MIN(rtt->min, sample);
	ack_delay = TERN_MIN(ack_delay, rtt->max_ack_delay);
	tern_time adjusted = sample;
	if (sample - rtt->min >= ack_delay)
		adjusted = sample - ack_delay;
	tern_time diff =
	        rtt->smoothed > adjusted ? rtt->smoothed - adjusted : adjusted - rtt->smoothed;
	rtt->var = (3 * rtt->var + diff) / 4;
	rtt->smoothed = (7 * rtt->smoothed + adjusted) / 8;
}

tern_time tern_rtt_pto(const struct tern_rtt *rtt)
{
	return rtt->smoothed + TERN_MAX(4 * rtt->var, (tern_time)TERN_GRANULARITY_US) +
	       rtt->max_ack_delay;
}
