/* Admission counts for responder sessions (see admit.h). Every count is a
 * relaxed atomic: nothing else is published through them, a cap only needs
 * its own count, and only the control thread raises counts, so between its
 * check and its raise a count can only fall. The reference count: a
 * relaxed raise (the raiser holds a reference already), an acq_rel drop
 * (the last holder frees after everyone's writes). */
#include <stdlib.h>

#include "alloc.h"
#include "admit.h"

struct tern_admit {
	atomic_size_t refs;
	atomic_size_t half_open; /* admitted, not yet confirmed */
	atomic_size_t sessions;  /* admitted, not yet freed */
	size_t max_half_open;
	uint32_t max_per_source;
	uint8_t key[TERN_SOURCE_KEY_LEN];
	_Atomic uint32_t count[TERN_ADMIT_BUCKETS];
};

int tern_admit_new(struct tern_admit **out, const struct tern_admit_cfg *cfg)
{
	struct tern_admit *a;

	*out = NULL;
	if (!cfg->max_half_open || !cfg->max_per_source)
		return TERN_EINVAL;
	a = tern_calloc(1, sizeof(*a));
	if (!a)
		return TERN_ENOMEM;
	atomic_init(&a->refs, 1);
	a->max_half_open = cfg->max_half_open;
	a->max_per_source = cfg->max_per_source;
	memcpy(a->key, cfg->key, sizeof(a->key));
	*out = a;
	return 0;
}

void tern_admit_put(struct tern_admit *a)
{
	/* acq_rel: the last one out sees every other holder's writes */
	if (a && atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) == 1)
		free(a);
}

/* The source's two counters; false for an unknown family. */
static bool buckets(const struct tern_admit *a, const struct tern_addr *src, uint32_t b[2])
{
	uint64_t h;

	if (!tern_source_hash(a->key, src, &h))
		return false;
	b[0] = (uint32_t)h % TERN_ADMIT_BUCKETS;
	b[1] = (uint32_t)(h >> 32) % TERN_ADMIT_BUCKETS;
	if (b[1] == b[0])
		b[1] ^= 1; /* two distinct counters, or one source would count twice */
	return true;
}

static uint32_t count(const struct tern_admit *a, uint32_t b)
{
	/* relaxed: a gauge (see the top comment) */
	return atomic_load_explicit(&a->count[b], memory_order_relaxed);
}

bool tern_admit_half_open_full(const struct tern_admit *a)
{
	return tern_admit_half_open(a) >= a->max_half_open;
}

bool tern_admit_source_full(const struct tern_admit *a, const struct tern_addr *src)
{
	uint32_t b[2];

	if (!buckets(a, src, b))
		return true;
	return TERN_MIN(count(a, b[0]), count(a, b[1])) >= a->max_per_source;
}

int tern_admit_take(struct tern_admit *a, const struct tern_addr *src, struct tern_admit_ticket *t)
{
	if (!buckets(a, src, t->bucket))
		return TERN_EINVAL;
	for (unsigned i = 0; i < 2; i++)
		atomic_fetch_add_explicit(&a->count[t->bucket[i]], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&a->half_open, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&a->sessions, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
	t->a = a;
	t->half_open = true;
	return 0;
}

void tern_admit_confirm(struct tern_admit_ticket *t)
{
	if (!t->half_open)
		return;
	atomic_fetch_sub_explicit(&t->a->half_open, 1, memory_order_relaxed);
	t->half_open = false;
}

void tern_admit_release(struct tern_admit_ticket *t)
{
	struct tern_admit *a = t->a;

	if (!a)
		return;
	tern_admit_confirm(t);
	for (unsigned i = 0; i < 2; i++)
		atomic_fetch_sub_explicit(&a->count[t->bucket[i]], 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&a->sessions, 1, memory_order_relaxed);
	t->a = NULL;
	tern_admit_put(a);
}

size_t tern_admit_half_open(const struct tern_admit *a)
{
	return atomic_load_explicit(&a->half_open, memory_order_relaxed);
}

size_t tern_admit_sessions(const struct tern_admit *a)
{
	return atomic_load_explicit(&a->sessions, memory_order_relaxed);
}
