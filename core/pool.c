/* Fixed-size object pools. Objects are malloc'd one by one while the pool
 * warms up (or up front with prealloc) and then recycled through a LIFO free
 * stack whose capacity is max, so after warm-up get and put never allocate
 * and can never fail for lack of stack room. With TERN_NOMEMPOOL (meson
 * -Dmempool=false) there is no free stack: get mallocs and put frees, so
 * ASan sees every object's lifetime, while the max bound and the in_use /
 * high_water / exhausted counters behave exactly as in pool mode. */
#include <stdlib.h>
#include "alloc.h"
#include "pool.h"

static void *take_new(struct tern_pool *p)
{
	void *obj = tern_malloc(p->obj_size);

	if (obj)
		p->created++;
	return obj;
}

int tern_pool_init(struct tern_pool *p, size_t obj_size, size_t prealloc, size_t max)
{
	memset(p, 0, sizeof(*p));
	if (obj_size == 0 || max == 0 || prealloc > max)
		return TERN_EINVAL;
	p->obj_size = obj_size;
	p->max = max;
#ifndef TERN_NOMEMPOOL
	p->free_list = tern_calloc(max, sizeof(*p->free_list));
	if (!p->free_list)
		return TERN_ENOMEM;
	while (p->nfree < prealloc) {
		void *obj = take_new(p);
		if (!obj) {
			tern_pool_destroy(p);
			return TERN_ENOMEM;
		}
		p->free_list[p->nfree++] = obj;
	}
#else
	(void)prealloc;
#endif
	return 0;
}

void *tern_pool_get(struct tern_pool *p)
{
	void *obj;

	if (p->in_use >= p->max) {
		p->exhausted++;
		return NULL;
	}
#ifndef TERN_NOMEMPOOL
	obj = p->nfree ? p->free_list[--p->nfree] : take_new(p);
#else
	obj = take_new(p);
#endif
	if (!obj)
		return NULL;
	p->in_use++;
	if (p->in_use > p->high_water)
		p->high_water = p->in_use;
	return obj;
}

void tern_pool_put(struct tern_pool *p, void *obj)
{
	if (!obj)
		return;
	p->in_use--;
#ifndef TERN_NOMEMPOOL
	p->free_list[p->nfree++] = obj; /* nfree + in_use <= created <= max */
#else
	free(obj);
#endif
}

void tern_pool_destroy(struct tern_pool *p)
{
	if (p->free_list) {
		while (p->nfree)
			free(p->free_list[--p->nfree]);
		free(p->free_list);
	}
	memset(p, 0, sizeof(*p));
}
