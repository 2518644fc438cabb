/* Pacing as a token bucket (RFC 9002 §7.7). The bucket holds at most `burst`
 * bytes and refills at `rate` bytes per second. All arithmetic is integer:
 * credit is kept in byte·µs with the sub-byte remainder carried in `frac`,
 * so a long run at a fixed rate releases exactly rate·elapsed bytes, and
 * products go through 128 bits so 100 Gbit/s rates and hours-long idle gaps
 * cannot overflow. The pacer reads no clock; every call takes `now`. */
#include "pacer.h"

/* 128-bit intermediates: GCC/Clang extension, marked so -Wpedantic accepts it. */
__extension__ typedef unsigned __int128 u128;

void tern_pacer_init(struct tern_pacer *p, uint64_t burst)
{
	p->rate = 0;
	p->burst = burst;
	p->tokens = burst;
	p->last = 0;
	p->frac = 0;
	p->quantum = 0;
	p->in_train = false;
}

void tern_pacer_update(struct tern_pacer *p, uint64_t cwnd, tern_time srtt, unsigned gain_num,
                       unsigned gain_den)
{
	u128 rate;

	if (srtt == 0 || gain_den == 0) {
		p->rate = 0;
		return;
	}
	rate = (u128)cwnd * gain_num * TERN_SEC / ((u128)srtt * gain_den);
	p->rate = rate > UINT64_MAX ? UINT64_MAX : (uint64_t)rate;
}

#define PACER_QUANTUM_MAX (64u << 10)

void tern_pacer_set_rate(struct tern_pacer *p, uint64_t rate, uint64_t min_burst)
{
	uint64_t q = TERN_MIN(rate / 1000, (uint64_t)PACER_QUANTUM_MAX);

	p->rate = rate;
	/* two quanta: a train waits for one, and a worker that wakes late for
	 * it finds the time it lost in the second instead of losing it */
	p->burst = TERN_MAX(2 * q, min_burst);
	p->quantum = q;
}

/* Brings tokens forward to now. Unpaced, the bucket is simply full. */
static void refill(struct tern_pacer *p, tern_time now)
{
	u128 credit, add;

	if (p->rate == 0) {
		p->tokens = p->burst;
		p->frac = 0;
		p->last = TERN_MAX(p->last, now);
		return;
	}
	if (now <= p->last)
		return;
	credit = (u128)p->rate * (now - p->last) + p->frac;
	add = credit / TERN_SEC;
	p->last = now;
	if (add >= p->burst - TERN_MIN(p->tokens, p->burst)) {
		p->tokens = p->burst;
		p->frac = 0;
		return;
	}
	p->tokens += (uint64_t)add;
	p->frac = (uint64_t)(credit % TERN_SEC);
}

tern_time tern_pacer_next(struct tern_pacer *p, size_t bytes, tern_time now)
{
	uint64_t need;
	u128 deficit, wait;

	refill(p, now);
	/* A send larger than the bucket waits only for a full bucket. */
	need = p->in_train ? (uint64_t)bytes : TERN_MAX((uint64_t)bytes, p->quantum);
	need = TERN_MIN(need, p->burst);
	if (p->rate == 0 || p->tokens >= need)
		return now;
	deficit = (u128)(need - p->tokens) * TERN_SEC - p->frac;
	wait = (deficit + p->rate - 1) / p->rate;
	if (wait >= TERN_TIME_NEVER - now)
		return TERN_TIME_NEVER - 1;
	return now + (tern_time)wait;
}

void tern_pacer_on_sent(struct tern_pacer *p, size_t bytes, tern_time now)
{
	refill(p, now);
	if (p->rate == 0)
		return;
	/* Saturate: a send the bucket could not cover leaves no debt. */
	p->tokens = p->tokens > bytes ? p->tokens - bytes : 0;
	p->in_train = p->tokens >= bytes; /* another packet this size goes at once */
}
