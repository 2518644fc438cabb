/* Secure slab allocator for small fixed-size secrets.
 *
 * Why: a sodium_malloc per object costs at least three pages (guard, data,
 * guard), an mmap, mprotects and an mlock; at ~10 secrets per session that
 * was 19 mappings and ~60 KiB a session, and the kernel's map limit stopped
 * a process at ~3,000 sessions. Here one sodium_malloc of
 * TERN_SECMEM_SLAB_SIZE (locked, guarded as a whole, excluded from core
 * dumps) is carved into equal slots, one size class per slab.
 *
 * Shape: each slot is a 16-byte header then the object. A live slot's
 * header names its slab and class; a free slot's header links it into its
 * slab's free list, so the object bytes of a free slot are all zero
 * (wiped on free). Slots are carved lazily from the slab's unused tail.
 * Each class keeps a list of slabs with room; a slab that becomes empty is
 * released unless it is the class's only empty one (hysteresis, so churn at
 * a slab boundary costs no syscalls). One mutex guards everything: callers
 * are handshakes, key updates and session frees, never per packet. Objects
 * above the largest class, and every object in a TERN_NOMEMPOOL build (so
 * ASan and guard pages see each one), get a sodium_malloc of their own. */
#include <pthread.h>
#include <sodium.h>

#include "secmem.h"

#define HDR 16
#define SLAB_HDR 64
#define NCLASSES 7

static const size_t class_size[NCLASSES] = {64, 128, 256, 576, 1024, 2048, 4096};

struct slab;

struct slot {
	union {
		struct slab *slab; /* live: owner; NULL for a dedicated allocation */
		struct slot *next; /* free: next free slot in the slab */
	} u;
	size_t cls; /* live: class index, or the byte count for a dedicated one */
};

struct slab {
	struct slab *prev, *next; /* in its class's list of slabs with room */
	struct slot *free;
	uint32_t cls, used, carved, nslots;
};

struct size_class {
	struct slab *avail; /* slabs with a free or uncarved slot */
	size_t empty;       /* slabs with no live slot (at most one kept) */
};

_Static_assert(sizeof(struct slot) == HDR, "slot header is 16 bytes");
_Static_assert(sizeof(struct slab) <= SLAB_HDR, "slab header fits");
_Static_assert(HDR % TERN_SECMEM_ALIGN == 0 && SLAB_HDR % TERN_SECMEM_ALIGN == 0, "aligned");

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct size_class classes[NCLASSES];
static struct tern_secmem_stats stats; /* guarded by lock */

static size_t round16(size_t n)
{
	return (n + TERN_SECMEM_ALIGN - 1) & ~(size_t)(TERN_SECMEM_ALIGN - 1);
}

static int class_of(size_t size)
{
#ifdef TERN_NOMEMPOOL
	(void)size;
	return -1;
#else
	for (int c = 0; c < NCLASSES; c++)
		if (size <= class_size[c])
			return c;
	return -1;
#endif
}

static void list_add(struct size_class *k, struct slab *s)
{
	s->prev = NULL;
	s->next = k->avail;
	if (k->avail)
		k->avail->prev = s;
	k->avail = s;
}

static void list_del(struct size_class *k, struct slab *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		k->avail = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
}

/* A new empty slab for class c, on the class's list. Lock held. */
static struct slab *slab_new(int c)
{
	struct slab *s = sodium_malloc(TERN_SECMEM_SLAB_SIZE);

	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->cls = (uint32_t)c;
	s->nslots = (uint32_t)((TERN_SECMEM_SLAB_SIZE - SLAB_HDR) / (HDR + class_size[c]));
	list_add(&classes[c], s);
	classes[c].empty++;
	stats.slabs++;
	return s;
}

/* A slot from s (which has room): a freed one first, else the next uncarved
 * one. Takes s off the list when it fills. Lock held. */
static struct slot *slab_take(struct slab *s)
{
	struct slot *t = s->free;

	if (t)
		s->free = t->u.next;
	else
		t = (struct slot *)((uint8_t *)s + SLAB_HDR +
		                    s->carved++ * (HDR + class_size[s->cls]));
	if (s->used++ == 0)
		classes[s->cls].empty--;
	if (s->used == s->nslots)
		list_del(&classes[s->cls], s);
	t->u.slab = s;
	t->cls = s->cls;
	return t;
}

static void *alloc_dedicated(size_t size)
{
	struct slot *t = sodium_malloc(round16(size + HDR));

	if (!t)
		return NULL;
	t->u.slab = NULL;
	t->cls = size;
	sodium_memzero(t + 1, size);
	pthread_mutex_lock(&lock);
	stats.objects++;
	stats.dedicated++;
	pthread_mutex_unlock(&lock);
	return t + 1;
}

void *tern_secmem_alloc(size_t size)
{
	struct slab *s;
	struct slot *t = NULL;
	int c = class_of(size);

	if (size == 0 || sodium_init() < 0)
		return NULL;
	if (c < 0)
		return alloc_dedicated(size);
	pthread_mutex_lock(&lock);
	s = classes[c].avail ? classes[c].avail : slab_new(c);
	if (s) {
		t = slab_take(s);
		stats.objects++;
		stats.slot_bytes += HDR + class_size[c];
	}
	pthread_mutex_unlock(&lock);
	if (!t)
		return NULL;
	sodium_memzero(t + 1, class_size[c]); /* a fresh slot holds sodium_malloc's fill */
	return t + 1;
}

/* Returns t to its slab; releases the slab if it is now empty and the class
 * already keeps an empty one. Lock held. */
static void slab_put(struct slab *s, struct slot *t)
{
	struct size_class *k = &classes[s->cls];

	if (s->used == s->nslots)
		list_add(k, s);
	t->u.next = s->free;
	s->free = t;
	stats.objects--;
	stats.slot_bytes -= HDR + class_size[s->cls];
	if (--s->used > 0)
		return;
	if (k->empty == 0) {
		k->empty++;
		return;
	}
	list_del(k, s);
	stats.slabs--;
	sodium_free(s); /* every slot is already wiped; sodium_free wipes again */
}

void tern_secmem_free(void *p)
{
	struct slot *t;

	if (!p)
		return;
	t = (struct slot *)p - 1;
	if (!t->u.slab) {
		pthread_mutex_lock(&lock);
		stats.objects--;
		stats.dedicated--;
		pthread_mutex_unlock(&lock);
		sodium_free(t); /* wipes */
		return;
	}
	sodium_memzero(p, class_size[t->cls]);
	pthread_mutex_lock(&lock);
	slab_put(t->u.slab, t);
	pthread_mutex_unlock(&lock);
}

void tern_secmem_stats(struct tern_secmem_stats *out)
{
	pthread_mutex_lock(&lock);
	*out = stats;
	pthread_mutex_unlock(&lock);
}

size_t tern_secmem_footprint(size_t size)
{
	size_t page = 4096;
	int c = class_of(size);

	if (c >= 0)
		return HDR + class_size[c];
	/* sodium_malloc: the data pages plus a guard page each side and one
	 * page for the canary and bookkeeping. */
	return (round16(size + HDR) + page - 1) / page * page + 3 * page;
}
