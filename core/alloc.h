/* The heap allocations of core/ (sessions, streams and their buffers, range
 * sets, the sent-packet ring, datagram queues, pools, the control plane's
 * tables, the worker's tables and rings) go through these wrappers, so that
 * a test can make any of them fail (tests/test_spin.c injects failures from
 * a seeded generator) and prove that every caller copes: an error code, a
 * dropped packet, or a session closed with a named code, never a crash or a
 * leak. With no hook set they are malloc, calloc and realloc behind one
 * predicted-untaken branch; allocations are never per packet, so the branch
 * costs nothing measurable. Freeing is plain free(). */
#ifndef TERN_ALLOC_H
#define TERN_ALLOC_H

#include <stdlib.h>
#include "common.h"

/* Returns true to make the allocation of `size` bytes fail. */
typedef bool (*tern_alloc_fail_fn)(void *ctx, size_t size);

struct tern_alloc_hook {
	tern_alloc_fail_fn fail; /* NULL: never fail (the default) */
	void *ctx;
};

/* Set only by tests, while no other thread allocates through core/: a plain
 * global, read without synchronisation. */
extern struct tern_alloc_hook tern_alloc_hook;

/* Tests: makes core/'s allocations consult fail(ctx, size) first; NULL
 * restores plain allocation. */
void tern_alloc_set_fail(tern_alloc_fail_fn fail, void *ctx);

static inline bool tern_alloc_refused(size_t size)
{
	return tern_unlikely(tern_alloc_hook.fail != NULL) &&
	       tern_alloc_hook.fail(tern_alloc_hook.ctx, size);
}

static inline void *tern_malloc(size_t size)
{
	return tern_alloc_refused(size) ? NULL : malloc(size);
}

static inline void *tern_calloc(size_t n, size_t size)
{
	return tern_alloc_refused(n * size) ? NULL : calloc(n, size);
}

/* On failure p is untouched, as with realloc. */
static inline void *tern_realloc(void *p, size_t size)
{
	return tern_alloc_refused(size) ? NULL : realloc(p, size);
}

#endif
