/* Pacing: a token bucket refilled at the pacing rate (RFC 9002 §7.7:
 * rate = gain · cwnd / smoothed_rtt), allowing a small burst. */
#ifndef TERN_PACER_H
#define TERN_PACER_H

#include "common.h"

struct tern_pacer {
	uint64_t rate;   /* bytes per second; 0 = unpaced */
	uint64_t burst;  /* bucket size, bytes */
	uint64_t tokens; /* bytes available at `last` */
	tern_time last;
	uint64_t frac; /* credit below one byte at `last`, in byte·µs (< 1e6), so
	                * refills never lose a fraction of a byte */
};

void tern_pacer_init(struct tern_pacer *p, uint64_t burst);
/* Sets the rate from cwnd and srtt with gain num/den (5/4 for cwnd-based CC). */
void tern_pacer_update(struct tern_pacer *p, uint64_t cwnd, tern_time srtt, unsigned gain_num,
                       unsigned gain_den);
/* Returns now if bytes may be sent at now, otherwise the earliest time they may. */
tern_time tern_pacer_next(struct tern_pacer *p, size_t bytes, tern_time now);
void tern_pacer_on_sent(struct tern_pacer *p, size_t bytes, tern_time now);

#endif
