/* The deterministic simulated network (io/sim.h): endpoints, directed paths
 * with impairments, and a virtual clock that only moves in tern_sim_advance.
 *
 * Why it is shaped so:
 * - Replay: every random choice comes from one xoshiro256** generator seeded
 *   by splitmix64, drawn in a fixed order per packet (loss, burst, jitter,
 *   reorder, corruption, then the duplicate's own jitter/reorder/corruption),
 *   and only for impairments a path enables. Same seed, same config, same
 *   calls: the same packets arrive at the same microsecond.
 * - Each endpoint has its own binary min-heap of arrivals keyed by (arrival
 *   time, global send sequence), so equal arrival times keep send order and
 *   a receive costs O(log n) whatever else is in flight.
 * - Packet records (header + TERN_MAX_PACKET bytes) come from one bounded
 *   tern_pool (core/pool.h) shared by arrivals and the adapter's tx buffers;
 *   once warm, sending and receiving allocate nothing. A full pool drops the
 *   packet (counted in dropped_pool), as a router out of buffers would.
 *   Records handed out by tern_sim_recv sit on a "lent" list and go back to
 *   the pool at the start of the next tern_sim_recv or tern_sim_advance.
 * - The bottleneck is a serialising link plus a tail-drop queue: the link is
 *   busy until link_free_ns; the bytes queued at `now` are the bytes whose
 *   transmission has not finished, (link_free_ns - now) * rate. Nanosecond
 *   link time keeps multi-gigabit serialisation exact enough; arrivals are
 *   rounded up to the microsecond.
 * - A queue limit of 0 means max(1 BDP, 64 KiB), with BDP = rate * 2 * delay.
 * - Paths are created lazily (first set_path or send) and kept in a
 *   pointer matrix; an address hash maps destinations to endpoints. */
#include "io/sim.h"
#include "core/pool.h"
#include "core/proto.h"

#include <math.h>
#include <stdlib.h>

/* Records that may exist at once (about 400 MiB at most). Above what any
 * test holds in flight at once: the Gilbert–Elliott test queues 200000. */
#ifndef TERN_SIM_MAX_RECS
#define TERN_SIM_MAX_RECS (1u << 18) /* -D override: tests of the full-pool path */
#endif
#define DEFAULT_QUEUE (64u * 1024)

struct rec {
	struct rec *next;  /* lent-list link; owned by the sim */
	struct path *path; /* path travelled, for delivery stats; NULL for tx buffers */
	tern_time at;      /* arrival time */
	uint64_t seq;      /* global send order, the heap's tie-break */
	int from;
	uint16_t len;
	uint8_t data[TERN_MAX_PACKET];
};

struct path {
	struct tern_sim_path_cfg cfg;
	struct tern_sim_path_stats stats;
	size_t queue_limit;    /* effective tail-drop limit in bytes */
	size_t mtu;            /* effective MTU, at most TERN_MAX_PACKET */
	uint64_t link_free_ns; /* when the bottleneck finishes its last packet */
	bool ge_bad;           /* Gilbert–Elliott state */
};

struct endpoint {
	struct tern_addr addr;
	struct rec **heap; /* arrivals, min-heap on (at, seq) */
	size_t n, cap;
};

struct tern_sim {
	uint64_t rng[4];
	tern_time now;
	uint64_t seq;
	struct endpoint *eps;
	int neps, eps_cap;
	struct path **paths; /* eps_cap * eps_cap, [from * eps_cap + to], NULL = not yet used */
	int *hash;           /* endpoint index + 1 per slot, 0 = empty; hash_cap slots */
	size_t hash_cap;
	struct tern_pool recs; /* every packet record: queued arrivals, lent, tx buffers */
	struct rec *lent;      /* records whose data the last tern_sim_recv handed out */
	size_t path_count;     /* paths allocated */
	struct tern_sim_path_stats zero_stats;
};

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

static uint64_t rng_next(uint64_t *s)
{
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
static double rng_unit(struct tern_sim *sim)
{
	return (double)(rng_next(sim->rng) >> 11) * 0x1.0p-53;
}

/* True with probability p; draws nothing when p is 0. */
static bool rng_chance(struct tern_sim *sim, double p)
{
	return p > 0 && rng_unit(sim) < p;
}

/* Uniform in [0, n); n > 0. */
static uint64_t rng_below(struct tern_sim *sim, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)rng_next(sim->rng) * n) >> 64);
}

static tern_time sat_add(tern_time a, tern_time b)
{
	return a > TERN_TIME_NEVER - b ? TERN_TIME_NEVER : a + b;
}

/* ---- packet records ---- */

/* Returns a record, or NULL with *err set: TERN_ELIMIT when TERN_SIM_MAX_RECS are
 * in use, TERN_ENOMEM when malloc failed while warming up. */
static struct rec *rec_get(struct tern_sim *sim, int *err)
{
	struct rec *r = tern_pool_get(&sim->recs);

	if (tern_unlikely(!r))
		*err = sim->recs.in_use >= sim->recs.max ? TERN_ELIMIT : TERN_ENOMEM;
	return r;
}

static void rec_put(struct tern_sim *sim, struct rec *r)
{
	tern_pool_put(&sim->recs, r);
}

/* Returns the previous receive batch to the pool. */
static void recycle_lent(struct tern_sim *sim)
{
	while (sim->lent) {
		struct rec *r = sim->lent;
		sim->lent = r->next;
		rec_put(sim, r);
	}
}

/* ---- per-endpoint arrival heap ---- */

static bool rec_before(const struct rec *a, const struct rec *b)
{
	return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static int heap_push(struct endpoint *ep, struct rec *r)
{
	if (ep->n == ep->cap) {
		size_t cap = ep->cap ? ep->cap * 2 : 64;
		struct rec **h = realloc(ep->heap, cap * sizeof(*h));
		if (!h)
			return TERN_ENOMEM;
		ep->heap = h;
		ep->cap = cap;
	}
	size_t i = ep->n++;
	while (i > 0 && rec_before(r, ep->heap[(i - 1) / 2])) {
		ep->heap[i] = ep->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	ep->heap[i] = r;
	return 0;
}

static struct rec *heap_pop(struct endpoint *ep)
{
	struct rec *top = ep->heap[0], *last = ep->heap[--ep->n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= ep->n)
			break;
		if (c + 1 < ep->n && rec_before(ep->heap[c + 1], ep->heap[c]))
			c++;
		if (!rec_before(ep->heap[c], last))
			break;
		ep->heap[i] = ep->heap[c];
		i = c;
	}
	if (ep->n > 0)
		ep->heap[i] = last;
	return top;
}

/* ---- endpoints and the address hash ---- */

static size_t addr_iplen(const struct tern_addr *a)
{
	return a->family == 4 ? 4 : 16;
}

static bool addr_eq(const struct tern_addr *a, const struct tern_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->ip, b->ip, addr_iplen(a)) == 0;
}

static size_t addr_hash(const struct tern_addr *a)
{
	uint64_t h = 0xcbf29ce484222325ull;
	uint8_t head[3] = {a->family, (uint8_t)(a->port >> 8), (uint8_t)a->port};
	for (size_t i = 0; i < sizeof(head); i++)
		h = (h ^ head[i]) * 0x100000001b3ull;
	for (size_t i = 0; i < addr_iplen(a); i++)
		h = (h ^ a->ip[i]) * 0x100000001b3ull;
	return (size_t)(h ^ (h >> 29));
}

static int lookup(const struct tern_sim *sim, const struct tern_addr *a)
{
	if (!sim->hash_cap)
		return -1;
	for (size_t i = addr_hash(a) & (sim->hash_cap - 1);; i = (i + 1) & (sim->hash_cap - 1)) {
		int e = sim->hash[i];
		if (e == 0)
			return -1;
		if (addr_eq(&sim->eps[e - 1].addr, a))
			return e - 1;
	}
}

static void hash_insert(struct tern_sim *sim, int ep)
{
	size_t i = addr_hash(&sim->eps[ep].addr) & (sim->hash_cap - 1);
	while (sim->hash[i])
		i = (i + 1) & (sim->hash_cap - 1);
	sim->hash[i] = ep + 1;
}

/* Keeps the hash at most half full, rebuilding it when it grows. */
static int hash_reserve(struct tern_sim *sim, int n)
{
	if ((size_t)n * 2 <= sim->hash_cap)
		return 0;
	size_t cap = sim->hash_cap ? sim->hash_cap * 2 : 64;
	int *h = calloc(cap, sizeof(*h));
	if (!h)
		return TERN_ENOMEM;
	free(sim->hash);
	sim->hash = h;
	sim->hash_cap = cap;
	for (int i = 0; i < sim->neps; i++)
		hash_insert(sim, i);
	return 0;
}

/* Grows the endpoint array and the path matrix to hold n endpoints. */
static int eps_reserve(struct tern_sim *sim, int n)
{
	if (n <= sim->eps_cap)
		return 0;
	int cap = sim->eps_cap ? sim->eps_cap * 2 : 16;
	struct endpoint *eps = realloc(sim->eps, (size_t)cap * sizeof(*eps));
	if (!eps)
		return TERN_ENOMEM;
	sim->eps = eps;
	struct path **paths = calloc((size_t)cap * (size_t)cap, sizeof(*paths));
	if (!paths)
		return TERN_ENOMEM;
	for (int f = 0; f < sim->neps; f++)
		for (int t = 0; t < sim->neps; t++)
			paths[f * cap + t] = sim->paths[f * sim->eps_cap + t];
	free(sim->paths);
	sim->paths = paths;
	sim->eps_cap = cap;
	return 0;
}

int tern_sim_add_endpoint(struct tern_sim *sim, const struct tern_addr *addr)
{
	if (!sim || !addr || (addr->family != 4 && addr->family != 6) || lookup(sim, addr) >= 0)
		return TERN_EINVAL;
	if (eps_reserve(sim, sim->neps + 1) || hash_reserve(sim, sim->neps + 1))
		return TERN_ENOMEM;
	int ep = sim->neps++;
	sim->eps[ep] = (struct endpoint){.addr = *addr};
	hash_insert(sim, ep);
	return ep;
}

/* ---- paths ---- */

static bool valid_ep(const struct tern_sim *sim, int ep)
{
	return ep >= 0 && ep < sim->neps;
}

static void path_configure(struct path *p, const struct tern_sim_path_cfg *cfg)
{
	p->cfg = *cfg;
	p->mtu = cfg->mtu && cfg->mtu < TERN_MAX_PACKET ? cfg->mtu : TERN_MAX_PACKET;
	p->queue_limit = cfg->queue_bytes;
	if (!p->queue_limit) {
		double bdp = (double)cfg->rate_bps * 2.0 * (double)cfg->delay_us / 8e6;
		p->queue_limit = bdp > DEFAULT_QUEUE ? (size_t)bdp : DEFAULT_QUEUE;
	}
}

/* Returns the path from -> to, creating a perfect one on first use. */
static struct path *path_get(struct tern_sim *sim, int from, int to)
{
	struct path **slot = &sim->paths[from * sim->eps_cap + to];
	if (!*slot) {
		struct path *p = calloc(1, sizeof(*p));
		if (!p)
			return NULL;
		path_configure(p, &(struct tern_sim_path_cfg){0});
		*slot = p;
		sim->path_count++;
	}
	return *slot;
}

static bool prob_ok(double p)
{
	return p >= 0.0 && p <= 1.0; /* false for NaN */
}

static bool cfg_valid(const struct tern_sim_path_cfg *c)
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

int tern_sim_set_path(struct tern_sim *sim, int from, int to, const struct tern_sim_path_cfg *cfg)
{
	if (!sim || !cfg || !valid_ep(sim, from) || !valid_ep(sim, to) || !cfg_valid(cfg))
		return TERN_EINVAL;
	struct path *p = path_get(sim, from, to);
	if (!p)
		return TERN_ENOMEM;
	path_configure(p, cfg);
	return 0;
}

const struct tern_sim_path_stats *tern_sim_path_stats(const struct tern_sim *sim, int from, int to)
{
	if (!sim || !valid_ep(sim, from) || !valid_ep(sim, to))
		return NULL;
	const struct path *p = sim->paths[from * sim->eps_cap + to];
	return p ? &p->stats : &sim->zero_stats;
}

/* ---- sending ---- */

static bool in_blackhole(const struct path *p, tern_time t)
{
	for (int i = 0; i < TERN_SIM_MAX_BLACKHOLES; i++)
		if (t >= p->cfg.blackhole[i].start && t < p->cfg.blackhole[i].end)
			return true;
	return false;
}

/* Gilbert–Elliott: move the chain one step, then lose with the new state's
 * loss probability. Returns true if the packet is lost. */
static bool ge_lost(struct tern_sim *sim, struct path *p)
{
	const struct tern_sim_path_cfg *c = &p->cfg;
	if (c->ge_p_good_bad <= 0 && c->ge_loss_good <= 0 && !p->ge_bad)
		return false;
	p->ge_bad =
	        p->ge_bad ? !rng_chance(sim, c->ge_p_bad_good) : rng_chance(sim, c->ge_p_good_bad);
	return rng_chance(sim, p->ge_bad ? c->ge_loss_bad : c->ge_loss_good);
}

/* Drop decisions before the bottleneck; counts the drop and returns true. */
static bool dropped_early(struct tern_sim *sim, struct path *p, size_t len)
{
	if (len > p->mtu)
		p->stats.dropped_mtu++;
	else if (in_blackhole(p, sim->now))
		p->stats.dropped_blackhole++;
	else if (rng_chance(sim, p->cfg.loss))
		p->stats.dropped_loss++;
	else if (ge_lost(sim, p))
		p->stats.dropped_burst++;
	else
		return false;
	return true;
}

/* Serialises len bytes at the bottleneck. Sets *depart (µs) and returns
 * true, or counts a tail drop and returns false. */
static bool bottleneck(struct tern_sim *sim, struct path *p, size_t len, tern_time *depart)
{
	uint64_t rate = p->cfg.rate_bps;
	if (!rate) {
		*depart = sim->now;
		return true;
	}
	uint64_t now_ns = sim->now > UINT64_MAX / 1000 ? UINT64_MAX : sim->now * 1000;
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

/* Schedules one copy of the packet for arrival, drawing its jitter, reorder
 * hold-back and corruption. With no record free, the copy is dropped and
 * counted (the draws already made stay made, so replay is unaffected). */
static int schedule_copy(struct tern_sim *sim, struct path *p, int from, int to, tern_time depart,
                         const uint8_t *data, size_t len)
{
	const struct tern_sim_path_cfg *c = &p->cfg;
	tern_time at = sat_add(depart, c->delay_us);
	if (c->jitter_us)
		at = sat_add(at, rng_below(sim, c->jitter_us + 1));
	if (rng_chance(sim, c->reorder)) {
		at = sat_add(at, c->reorder_us);
		p->stats.reordered++;
	}
	int err;
	struct rec *r = rec_get(sim, &err);
	if (!r) {
		if (err != TERN_ELIMIT)
			return err;
		p->stats.dropped_pool++;
		return 0;
	}
	r->path = p;
	r->at = at;
	r->seq = sim->seq++;
	r->from = from;
	r->len = (uint16_t)len;
	memcpy(r->data, data, len);
	if (len && rng_chance(sim, c->corrupt)) {
		uint64_t bit = rng_below(sim, (uint64_t)len * 8);
		r->data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		p->stats.corrupted++;
	}
	if (heap_push(&sim->eps[to], r)) {
		rec_put(sim, r);
		return TERN_ENOMEM;
	}
	return 0;
}

int tern_sim_send(struct tern_sim *sim, int from, const struct tern_addr *to, const uint8_t *data,
                  size_t len)
{
	if (!sim || !to || !valid_ep(sim, from) || (len && !data))
		return TERN_EINVAL;
	int dst = lookup(sim, to);
	if (dst < 0)
		return TERN_EINVAL;
	struct path *p = path_get(sim, from, dst);
	if (!p)
		return TERN_ENOMEM;
	p->stats.sent++;
	tern_time depart;
	if (dropped_early(sim, p, len) || !bottleneck(sim, p, len, &depart))
		return 0;
	int rc = schedule_copy(sim, p, from, dst, depart, data, len);
	if (rc == 0 && rng_chance(sim, p->cfg.duplicate)) {
		p->stats.duplicated++;
		rc = schedule_copy(sim, p, from, dst, depart, data, len);
	}
	return rc;
}

/* ---- receiving and the clock ---- */

unsigned tern_sim_recv(struct tern_sim *sim, int ep, struct tern_pkt *pkts, unsigned n)
{
	if (!sim)
		return 0;
	recycle_lent(sim);
	if (!valid_ep(sim, ep) || !pkts)
		return 0;
	struct endpoint *e = &sim->eps[ep];
	unsigned got = 0;
	while (got < n && e->n > 0 && e->heap[0]->at <= sim->now) {
		struct rec *r = heap_pop(e);
		r->next = sim->lent;
		sim->lent = r;
		r->path->stats.delivered++;
		r->path->stats.bytes_delivered += r->len;
		pkts[got++] = (struct tern_pkt){.data = r->data,
		                                .len = r->len,
		                                .peer = sim->eps[r->from].addr,
		                                .rx_time = r->at,
		                                .owner = NULL};
	}
	return got;
}

tern_time tern_sim_now(const struct tern_sim *sim)
{
	return sim ? sim->now : 0;
}

tern_time tern_sim_next_event(const struct tern_sim *sim)
{
	tern_time t = TERN_TIME_NEVER;
	for (int i = 0; sim && i < sim->neps; i++)
		if (sim->eps[i].n > 0)
			t = TERN_MIN(t, sim->eps[i].heap[0]->at);
	return t;
}

void tern_sim_advance(struct tern_sim *sim, tern_time t)
{
	if (!sim)
		return;
	recycle_lent(sim);
	sim->now = TERN_MAX(sim->now, t);
}

size_t tern_sim_mem(const struct tern_sim *sim)
{
	if (!sim)
		return 0;
	size_t bytes =
	        sim->recs.high_water * sizeof(struct rec) + sim->path_count * sizeof(struct path);
	for (int i = 0; i < sim->neps; i++)
		bytes += sim->eps[i].cap * sizeof(struct rec *);
	return bytes;
}

/* ---- lifetime ---- */

struct tern_sim *tern_sim_new(uint64_t seed)
{
	struct tern_sim *sim = calloc(1, sizeof(*sim));
	if (!sim)
		return NULL;
	if (tern_pool_init(&sim->recs, sizeof(struct rec), 0, TERN_SIM_MAX_RECS) < 0) {
		free(sim);
		return NULL;
	}
	for (int i = 0; i < 4; i++)
		sim->rng[i] = splitmix64(&seed);
	return sim;
}

void tern_sim_free(struct tern_sim *sim)
{
	if (!sim)
		return;
	recycle_lent(sim);
	for (int i = 0; i < sim->neps; i++) {
		for (size_t j = 0; j < sim->eps[i].n; j++)
			rec_put(sim, sim->eps[i].heap[j]);
		free(sim->eps[i].heap);
	}
	tern_pool_destroy(&sim->recs); /* tx buffers still out leak: free them first */
	for (size_t i = 0; i < (size_t)sim->eps_cap * (size_t)sim->eps_cap; i++)
		free(sim->paths[i]);
	free(sim->paths);
	free(sim->hash);
	free(sim->eps);
	free(sim);
}

/* ---- backend adapter ---- */

static int port_rx(void *be, struct tern_pkt *pkts, unsigned n)
{
	struct tern_sim_port *port = be;
	return (int)tern_sim_recv(port->sim, port->ep, pkts, n);
}

static int port_buf_alloc(void *be, struct tern_pkt *pkt)
{
	struct tern_sim_port *port = be;
	int err;
	struct rec *r = rec_get(port->sim, &err);
	if (!r)
		return TERN_ENOMEM; /* the pool is full or malloc failed */
	r->path = NULL;
	pkt->data = r->data;
	pkt->owner = r;
	return 0;
}

/* Received packets carry owner NULL: the sim recycles them itself. */
static void port_buf_free(void *be, struct tern_pkt *pkt)
{
	struct tern_sim_port *port = be;
	if (pkt->owner)
		rec_put(port->sim, pkt->owner);
	pkt->owner = NULL;
	pkt->data = NULL;
}

/* Sends each packet (an unknown destination is taken and dropped, as UDP
 * would) and frees its buffer. */
static int port_tx(void *be, struct tern_pkt *pkts, unsigned n)
{
	struct tern_sim_port *port = be;
	for (unsigned i = 0; i < n; i++) {
		int rc = tern_sim_send(port->sim, port->ep, &pkts[i].peer, pkts[i].data,
		                       pkts[i].len);
		if (rc == TERN_ENOMEM)
			return i ? (int)i : rc;
		port_buf_free(be, &pkts[i]);
	}
	return (int)n;
}

static tern_time port_now(void *be)
{
	struct tern_sim_port *port = be;
	return tern_sim_now(port->sim);
}

const struct tern_backend_ops tern_sim_backend_ops = {
        .rx_burst = port_rx,
        .tx_burst = port_tx,
        .buf_alloc = port_buf_alloc,
        .buf_free = port_buf_free,
        .now = port_now,
};
