/* The memory budget sessions share: every session's stream buffers (receive
 * rings and their bitmaps, message assembly buffers, send rings and their
 * message ends) add to one counter as they grow and shrink, so a host has a
 * single place to see how much its peers and applications make it hold,
 * and a limit past which it refuses new sessions and closes the greediest
 * (docs/protocol.md §7.4). An engine keeps one for all its workers; the
 * simulator's tests make their own. The counter moves once per buffer
 * growth (a relaxed atomic add), never per packet. The atomics are GCC's
 * __atomic builtins on plain integers, so C++ code (the benchmarks) can
 * include this header too. */
#ifndef TERN_BUDGET_H
#define TERN_BUDGET_H

#include "common.h"

/* Workers that publish their greediest session (an engine has at most 64). */
#define TERN_BUDGET_WORKERS 64

struct tern_budget {
	/* Bytes held by every session accounted here. Atomic, relaxed: a
	 * gauge each thread compares with the limit; it orders no other
	 * memory. */
	uint64_t used;
	uint64_t limit; /* 0: no limit */
	/* Worker i's greediest session at its last look (bytes), so the
	 * worker holding the greediest of all closes it. Relaxed, as used. */
	uint64_t top[TERN_BUDGET_WORKERS];
};

/* A session's share of a budget: what its buffers hold now. */
struct tern_memacct {
	uint64_t bytes;
	struct tern_budget *budget; /* NULL: counted here only */
};

/* Before any thread uses b. */
static inline void tern_budget_init(struct tern_budget *b, uint64_t limit)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit;
}

static inline uint64_t tern_budget_used(const struct tern_budget *b)
{
	return __atomic_load_n(&b->used, __ATOMIC_RELAXED);
}

/* True when b has a limit and the sessions hold at least that much. NULL
 * is never full. */
static inline bool tern_budget_full(const struct tern_budget *b)
{
	return b && b->limit && tern_budget_used(b) >= b->limit;
}

/* A buffer grew (delta > 0) or shrank (delta < 0). a may be NULL. */
static inline void tern_memacct_add(struct tern_memacct *a, int64_t delta)
{
	if (!a || !delta)
		return;
	a->bytes += (uint64_t)delta; /* unsigned wrap: a shrink never exceeds a growth */
	if (a->budget)
		__atomic_fetch_add(&a->budget->used, (uint64_t)delta, __ATOMIC_RELAXED);
}

#endif
