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
	uint64_t frac;    /* credit below one byte at `last`, in byte·µs (< 1e6), so
	                * refills never lose a fraction of a byte */
	uint64_t quantum; /* a train starts once this much credit is there */
	bool in_train;    /* a train is under way: each further packet needs only its size */
};

void tern_pacer_init(struct tern_pacer *p, uint64_t burst);
/* Sets the rate from cwnd and srtt with gain num/den (5/4 for cwnd-based CC). */
void tern_pacer_update(struct tern_pacer *p, uint64_t cwnd, tern_time srtt, unsigned gain_num,
                       unsigned gain_den);
/* Sets the rate (bytes/s; 0 = unpaced), the send quantum (1 ms of data at
 * that rate, at most 64 KiB) and the bucket: two quanta, at least
 * min_burst. At high rates a worker that wakes late (timer slack, a busy
 * core) then still catches up with the second quantum instead of losing the
 * time, and trains fill GSO batches; at low rates bursts stay at min_burst
 * (10 packets, RFC 9002). */
void tern_pacer_set_rate(struct tern_pacer *p, uint64_t rate, uint64_t min_burst);
/* Returns now if bytes may be sent at now, otherwise the earliest time they
 * may. Packets leave in trains, as Linux's fq paces TSO frames: a train
 * starts once the bucket holds a send quantum (1 ms at the rate, at most
 * 64 KiB; at low rates one packet), then runs while credit covers each
 * packet. At a few Gbit/s that is 45 packets per GSO send instead of the
 * few that trickle in between two polls. */
tern_time tern_pacer_next(struct tern_pacer *p, size_t bytes, tern_time now);
void tern_pacer_on_sent(struct tern_pacer *p, size_t bytes, tern_time now);

#endif
