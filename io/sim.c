/* The deterministic simulated network (io/sim.h): endpoints, directed paths
 * with impairments, and a virtual clock that only moves in tern_sim_advance.
 *
 * Why it is shaped so:
 * - The per-packet impairment decisions live in io/impair.c, shared with the
 *   tern-impair proxy; this file owns endpoints, packets and the clock.
 * - Replay: every random choice comes from one xoshiro256** generator (shared
 *   by all paths), drawn in a fixed order per packet (loss, burst, jitter,
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
 * - Paths are created lazily (first set_path or send) and kept in a
 *   pointer matrix; an address hash maps destinations to endpoints. */
#include "io/sim.h"
#include "io/impair.h"
#include "core/pool.h"
#include "core/proto.h"

#include <math.h>
#include <stdlib.h>

/* Records that may exist at once (about 400 MiB at most). Above what any
 * test holds in flight at once: the Gilbert–Elliott test queues 200000. */
#ifndef TERN_SIM_MAX_RECS
#define TERN_SIM_MAX_RECS (1u << 18) /* -D override: tests of the full-pool path */
#endif

struct rec {
	struct rec *next;         /* lent-list link; owned by the sim */
	struct tern_impair *path; /* path travelled, for delivery stats; NULL for tx buffers */
	tern_time at;             /* arrival time */
	uint64_t seq;             /* global send order, the heap's tie-break */
	int from;
	uint16_t len;
	uint8_t data[TERN_MAX_PACKET];
};

struct endpoint {
	struct tern_addr addr;
	struct rec **heap; /* arrivals, min-heap on (at, seq) */
	size_t n, cap;
};

struct tern_sim {
	struct tern_impair_rng rng;
	tern_time now;
	uint64_t seq;
	struct endpoint *eps;
	int neps, eps_cap;
	struct tern_impair *
	        *paths; /* eps_cap * eps_cap, [from * eps_cap + to], NULL = not yet used */
	int *hash;      /* endpoint index + 1 per slot, 0 = empty; hash_cap slots */
	size_t hash_cap;
	struct tern_pool recs; /* every packet record: queued arrivals, lent, tx buffers */
	struct rec *lent;      /* records whose data the last tern_sim_recv handed out */
	size_t path_count;     /* paths allocated */
	struct tern_sim_path_stats zero_stats;
};

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
	struct tern_impair **paths = calloc((size_t)cap * (size_t)cap, sizeof(*paths));
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

int tern_sim_endpoints(const struct tern_sim *sim)
{
	return sim->neps;
}

/* ---- paths ---- */

static bool valid_ep(const struct tern_sim *sim, int ep)
{
	return ep >= 0 && ep < sim->neps;
}

/* Returns the path from -> to, creating a perfect one on first use. */
static struct tern_impair *path_get(struct tern_sim *sim, int from, int to)
{
	struct tern_impair **slot = &sim->paths[from * sim->eps_cap + to];
	if (!*slot) {
		struct tern_impair *p = calloc(1, sizeof(*p));
		if (!p)
			return NULL;
		tern_impair_configure(p, &(struct tern_sim_path_cfg){0}, TERN_MAX_PACKET);
		p->rng = &sim->rng;
		*slot = p;
		sim->path_count++;
	}
	return *slot;
}

int tern_sim_set_path(struct tern_sim *sim, int from, int to, const struct tern_sim_path_cfg *cfg)
{
	if (!sim || !cfg || !valid_ep(sim, from) || !valid_ep(sim, to) ||
	    !tern_impair_cfg_valid(cfg))
		return TERN_EINVAL;
	struct tern_impair *p = path_get(sim, from, to);
	if (!p)
		return TERN_ENOMEM;
	tern_impair_configure(p, cfg, TERN_MAX_PACKET);
	return 0;
}

const struct tern_sim_path_stats *tern_sim_path_stats(const struct tern_sim *sim, int from, int to)
{
	if (!sim || !valid_ep(sim, from) || !valid_ep(sim, to))
		return NULL;
	const struct tern_impair *p = sim->paths[from * sim->eps_cap + to];
	return p ? &p->stats : &sim->zero_stats;
}

/* ---- sending ---- */

/* Schedules one copy of the packet for arrival, drawing its jitter, reorder
 * hold-back and corruption. With no record free, the copy is dropped and
 * counted (the draws already made stay made, so replay is unaffected). */
static int schedule_copy(struct tern_sim *sim, struct tern_impair *p, int from, int to,
                         tern_time depart, const uint8_t *data, size_t len)
{
	tern_time at = tern_impair_arrival(p, depart);
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
	tern_impair_corrupt(p, r->data, len);
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
	struct tern_impair *p = path_get(sim, from, dst);
	if (!p)
		return TERN_ENOMEM;
	tern_time depart;
	if (tern_impair_admit(p, sim->now, len, &depart) != TERN_IMPAIR_PASS)
		return 0;
	int rc = schedule_copy(sim, p, from, dst, depart, data, len);
	if (rc == 0 && tern_impair_duplicate(p))
		rc = schedule_copy(sim, p, from, dst, depart, data, len);
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
	size_t bytes = sim->recs.high_water * sizeof(struct rec) +
	               sim->path_count * sizeof(struct tern_impair);
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
	tern_impair_rng_seed(&sim->rng, seed);
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
