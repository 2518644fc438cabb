/* Fixed-size object pools: bounded, with a high-water counter, allocation
 * only while warming up. Built with -Dmempool=false, every get is a malloc
 * and every put a free so ASan sees each object (ngtcp2's NOMEMPOOL). */
#ifndef TERN_POOL_H
#define TERN_POOL_H

#include "common.h"

struct tern_pool {
	size_t obj_size;
	size_t max;     /* objects that may exist at once */
	size_t created; /* objects allocated so far */
	size_t in_use, high_water;
	uint64_t exhausted; /* gets refused because max was reached */
	void **free_list;   /* stack of free objects, capacity max */
	size_t nfree;
};

/* Preallocates `prealloc` objects. Returns 0, TERN_EINVAL or TERN_ENOMEM. */
int tern_pool_init(struct tern_pool *p, size_t obj_size, size_t prealloc, size_t max);
/* Returns an object (contents unspecified) or NULL when max are in use. */
void *tern_pool_get(struct tern_pool *p);
void tern_pool_put(struct tern_pool *p, void *obj);
/* Frees every object; all must have been put back. */
void tern_pool_destroy(struct tern_pool *p);

#endif
