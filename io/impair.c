/* Per-packet impairment decisions (io/impair.h), factored out of the
 * simulator so the tern-impair proxy applies exactly the same model.
 *
 * Why it is shaped so:
 * - Replay: draws happen in a fixed order and only for impairments a path
 *   enables (loss, burst, then per copy jitter, reorder, corruption, then the
 *   duplicate decision); the simulator's traces depend on that order, so it
 *   must not change.
 * - The bottleneck is a serialising link plus a tail-drop queue: the link is
 *   busy until link_free_ns; the bytes queued at `now` are the bytes whose
 *   transmission has not finished, (link_free_ns - now) * rate. Nanosecond
 *   link time keeps multi-gigabit serialisation exact enough; departures are
 *   rounded up to the microsecond. */
#include "io/impair.h"

#define DEFAULT_QUEUE (64u * 1024)

/* ---- random numbers: xoshiro256** seeded by splitmix64 ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void tern_impair_rng_seed(struct tern_impair_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

uint64_t tern_impair_rng_next(struct tern_impair_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, 1). */
static double rng_unit(struct tern_impair_rng *r)
{
	return (double)(tern_impair_rng_next(r) >> 11) * 0x1.0p-53;
}

/* True with probability p; draws nothing when p is 0. */
static bool rng_chance(struct tern_impair_rng *r, double p)
{
	return p > 0 && rng_unit(r) < p;
}

/* Uniform in [0, n); n > 0. */
static uint64_t rng_below(struct tern_impair_rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)tern_impair_rng_next(r) * n) >> 64);
}

static tern_time sat_add(tern_time a, tern_time b)
{
	return a > TERN_TIME_NEVER - b ? TERN_TIME_NEVER : a + b;
}

/* ---- configuration ---- */

static bool prob_ok(double p)
{
	return p >= 0.0 && p <= 1.0; /* false for NaN */
}

bool tern_impair_cfg_valid(const struct tern_sim_path_cfg *c)
{
	double probs[] = {c->loss,        c->ge_p_good_bad, c->ge_p_bad_good, c->ge_loss_good,
	                  c->ge_loss_bad, c->reorder,       c->duplicate,     c->corrupt};
	for (size_t i = 0; i < TERN_ARRAY_LEN(probs); i++)
		if (!prob_ok(probs[i]))
			return false;
	for (int i = 0; i < TERN_SIM_MAX_BLACKHOLES; i++)
		if (c->blackhole[i].start > c->blackhole[i].end)
			return false;
	return true;
}

void tern_impair_configure(struct tern_impair *p, const struct tern_sim_path_cfg *cfg,
                           size_t max_mtu)
{
	p->cfg = *cfg;
	p->mtu = cfg->mtu && cfg->mtu < max_mtu ? cfg->mtu : max_mtu;
	p->queue_limit = cfg->queue_bytes;
	if (!p->queue_limit) {
		double bdp = (double)cfg->rate_bps * 2.0 * (double)cfg->delay_us / 8e6;
		p->queue_limit = bdp > DEFAULT_QUEUE ? (size_t)bdp : DEFAULT_QUEUE;
	}
}

/* ---- per packet ---- */

static bool in_blackhole(const struct tern_impair *p, tern_time t)
{
	for (int i = 0; i < TERN_SIM_MAX_BLACKHOLES; i++)
		if (t >= p->cfg.blackhole[i].start && t < p->cfg.blackhole[i].end)
			return true;
	return false;
}

/* Gilbert–Elliott: move the chain one step, then lose with the new state's
 * loss probability. Returns true if the packet is lost. */
static bool ge_lost(struct tern_impair *p)
{
	const struct tern_sim_path_cfg *c = &p->cfg;
	if (c->ge_p_good_bad <= 0 && c->ge_loss_good <= 0 && !p->ge_bad)
		return false;
	p->ge_bad = p->ge_bad ? !rng_chance(p->rng, c->ge_p_bad_good)
	                      : rng_chance(p->rng, c->ge_p_good_bad);
	return rng_chance(p->rng, p->ge_bad ? c->ge_loss_bad : c->ge_loss_good);
}

/* Drop decisions before the bottleneck; counts the drop and returns its reason. */
static int dropped_early(struct tern_impair *p, tern_time now, size_t len)
{
	if (len > p->mtu) {
		p->stats.dropped_mtu++;
		return TERN_IMPAIR_DROP_MTU;
	}
	if (in_blackhole(p, now)) {
		p->stats.dropped_blackhole++;
		return TERN_IMPAIR_DROP_BLACKHOLE;
	}
	if (rng_chance(p->rng, p->cfg.loss)) {
		p->stats.dropped_loss++;
		return TERN_IMPAIR_DROP_LOSS;
	}
	if (ge_lost(p)) {
		p->stats.dropped_burst++;
		return TERN_IMPAIR_DROP_BURST;
	}
	return TERN_IMPAIR_PASS;
}

/* Serialises len bytes at the bottleneck. Sets *depart (µs) and returns
 * true, or counts a tail drop and returns false. */
static bool bottleneck(struct tern_impair *p, tern_time now, size_t len, tern_time *depart)
{
	uint64_t rate = p->cfg.rate_bps;
	if (!rate) {
		*depart = now;
		return true;
	}
	uint64_t now_ns = now > UINT64_MAX / 1000 ? UINT64_MAX : now * 1000;
	uint64_t start = TERN_MAX(now_ns, p->link_free_ns);
	unsigned __int128 busy = start - now_ns;
	size_t queued = (size_t)(busy * rate / 8000000000u);
	if (queued + len > p->queue_limit) {
		p->stats.dropped_queue++;
		return false;
	}
	p->stats.queue_peak = TERN_MAX(p->stats.queue_peak, queued + len);
	uint64_t tx_ns = (uint64_t)(((unsigned __int128)len * 8000000000u + rate - 1) / rate);
	p->link_free_ns = start + tx_ns;
	*depart = (p->link_free_ns + 999) / 1000;
	return true;
}

int tern_impair_admit(struct tern_impair *p, tern_time now, size_t len, tern_time *depart)
{
	p->stats.sent++;
	int why = dropped_early(p, now, len);
	if (why != TERN_IMPAIR_PASS)
		return why;
	return bottleneck(p, now, len, depart) ? TERN_IMPAIR_PASS : TERN_IMPAIR_DROP_QUEUE;
}

tern_time tern_impair_arrival(struct tern_impair *p, tern_time depart)
{
	const struct tern_sim_path_cfg *c = &p->cfg;
	tern_time at = sat_add(depart, c->delay_us);
	if (c->jitter_us)
		at = sat_add(at, rng_below(p->rng, c->jitter_us + 1));
	if (rng_chance(p->rng, c->reorder)) {
		at = sat_add(at, c->reorder_us);
		p->stats.reordered++;
	}
	if (at < p->stall_end)
		return p->stall_end; /* taken, in order, when the stall ends */
	if (c->stall_us && rng_chance(p->rng, c->stall)) {
		p->stall_end = sat_add(at, c->stall_us); /* this one is taken, then nothing */
		p->stats.stalls++;
	}
	return at;
}

bool tern_impair_corrupt(struct tern_impair *p, uint8_t *data, size_t len)
{
	if (!len || !rng_chance(p->rng, p->cfg.corrupt))
		return false;
	uint64_t bit = rng_below(p->rng, (uint64_t)len * 8);
	data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	p->stats.corrupted++;
	return true;
}

bool tern_impair_duplicate(struct tern_impair *p)
{
	if (!rng_chance(p->rng, p->cfg.duplicate))
		return false;
	p->stats.duplicated++;
	return true;
}
