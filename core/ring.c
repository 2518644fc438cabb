/* Bounded lock-free message rings over Concurrency Kit's ck_ring (contract
 * in ring.h). We do not hand-roll atomics: ck_ring owns the indices and the
 * fences, and this file only picks the variant (SPSC or MPSC), stores
 * struct tern_msg by value in the slots (CK_RING_PROTOTYPE) and adds bursts.
 *
 * Memory ordering, as ck_ring provides it (ck_ring.h, 0.7):
 *  - enqueue copies the message into its slot, then ck_pr_fence_store(),
 *    then stores p_tail: a release. dequeue loads p_tail, then
 *    ck_pr_fence_load(), then copies the slot: an acquire that pairs with
 *    that release. This is the guarantee ring.h promises: the message and
 *    everything written before its enqueue are visible after its dequeue.
 *  - dequeue copies the slot out before it stores c_head (fenced), and the
 *    producer reads c_head before it writes a slot, so a slot is reused
 *    only after its message was copied out.
 *  - MPSC producers claim slots by CAS on p_head, then publish p_tail in
 *    claim order (each waits for the one before it), so per-producer FIFO
 *    holds and the single consumer sees a contiguous prefix.
 *
 * ThreadSanitizer cannot see ck_pr's inline-assembly loads, stores and
 * fences, so under TSan the slot copies inside ck_ring are hidden from it
 * and the handoff is declared with __tsan_release before an enqueue and
 * __tsan_acquire after a dequeue: TSan then checks what matters to callers,
 * the accesses to the memory the messages point to. */
#include <sched.h>
#include <stdlib.h>
#include <ck_ring.h>

#include "alloc.h"
#include "ring.h"

#if defined(__SANITIZE_THREAD__)
#define TERN_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TERN_TSAN 1
#endif
#endif

#ifdef TERN_TSAN
#include <sanitizer/tsan_interface.h>
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
#define HIDE_BEGIN() __tsan_ignore_thread_begin()
#define HIDE_END() __tsan_ignore_thread_end()
#define HANDOFF_RELEASE(r) __tsan_release(r)
#define HANDOFF_ACQUIRE(r) __tsan_acquire(r)
#else
#define HIDE_BEGIN() ((void)0)
#define HIDE_END() ((void)0)
#define HANDOFF_RELEASE(r) ((void)(r))
#define HANDOFF_ACQUIRE(r) ((void)(r))
#endif

CK_RING_PROTOTYPE(tern_msg, tern_msg)

#define MAX_CAPACITY (1u << 30)
#define SPINS_BEFORE_YIELD 128

struct tern_ring {
	struct ck_ring ck;      /* indices; ck pads producer and consumer lines apart */
	struct tern_msg *slots; /* owned; ck.size slots */
	enum tern_ring_mode mode;
};

int tern_ring_new(struct tern_ring **out, unsigned capacity, enum tern_ring_mode mode)
{
	*out = NULL;
	if (capacity == 0 || capacity > MAX_CAPACITY)
		return TERN_EINVAL;
	if (mode != TERN_RING_SPSC && mode != TERN_RING_MPSC)
		return TERN_EINVAL;
	unsigned size = 2;
	while (size - 1 < capacity)
		size *= 2;
	struct tern_ring *r;
	if (posix_memalign((void **)&r, CK_MD_CACHELINE, sizeof(*r)) != 0)
		return TERN_ENOMEM;
	memset(r, 0, sizeof(*r));
	r->slots = tern_calloc(size, sizeof(*r->slots));
	if (!r->slots) {
		free(r);
		return TERN_ENOMEM;
	}
	r->mode = mode;
	ck_ring_init(&r->ck, size);
	*out = r;
	return TERN_OK;
}

void tern_ring_free(struct tern_ring *r)
{
	if (!r)
		return;
	free(r->slots);
	free(r);
}

/* ck_ring_enqueue_mpsc publishes slots in claim order: a producer spins
 * until the one that claimed the slot before it has published. If that one
 * is preempted (more runnable threads than cores), every later producer
 * spins out its whole time slice, and the ring crawls at one message per
 * scheduler tick (measured: 4 producers on 2 cores, 10+ s stalls). So we
 * claim with ck's reserve, copy, and wait our turn ourselves, yielding the
 * CPU after a short spin; ck's commit then publishes at once. With one
 * pinned thread per core the yield never happens. */
static bool put_mp(struct tern_ring *r, struct tern_msg *m)
{
	unsigned ticket, spins = 0;
	struct tern_msg *slot = ck_ring_enqueue_reserve_mpsc_tern_msg(&r->ck, r->slots, &ticket);
	if (!slot)
		return false;
	*slot = *m;
	while (ck_pr_load_uint(&r->ck.p_tail) != ticket) {
		if (++spins < SPINS_BEFORE_YIELD)
			ck_pr_stall();
		else
			sched_yield();
	}
	ck_ring_enqueue_commit_mpsc(&r->ck, ticket);
	return true;
}

/* ck's typed functions take non-const message pointers; they only read. */
static bool put(struct tern_ring *r, const struct tern_msg *m)
{
	struct tern_msg *src = (struct tern_msg *)(uintptr_t)m;
	if (r->mode == TERN_RING_SPSC)
		return ck_ring_enqueue_spsc_tern_msg(&r->ck, r->slots, src);
	return put_mp(r, src);
}

static bool take(struct tern_ring *r, struct tern_msg *out)
{
	if (r->mode == TERN_RING_SPSC)
		return ck_ring_dequeue_spsc_tern_msg(&r->ck, r->slots, out);
	return ck_ring_dequeue_mpsc_tern_msg(&r->ck, r->slots, out);
}

unsigned tern_ring_enqueue_burst(struct tern_ring *r, const struct tern_msg *m, unsigned n)
{
	unsigned i;
	HANDOFF_RELEASE(r);
	HIDE_BEGIN();
	for (i = 0; i < n; i++) {
		if (!put(r, &m[i]))
			break;
	}
	HIDE_END();
	return i;
}

int tern_ring_enqueue(struct tern_ring *r, const struct tern_msg *m)
{
	return tern_ring_enqueue_burst(r, m, 1) == 1 ? TERN_OK : TERN_EAGAIN;
}

unsigned tern_ring_dequeue_burst(struct tern_ring *r, struct tern_msg *out, unsigned n)
{
	unsigned i;
	HIDE_BEGIN();
	for (i = 0; i < n; i++) {
		if (!take(r, &out[i]))
			break;
	}
	HIDE_END();
	if (i)
		HANDOFF_ACQUIRE(r);
	return i;
}

int tern_ring_dequeue(struct tern_ring *r, struct tern_msg *out)
{
	return tern_ring_dequeue_burst(r, out, 1) == 1 ? TERN_OK : TERN_EAGAIN;
}

unsigned tern_ring_capacity(const struct tern_ring *r)
{
	return ck_ring_capacity(&r->ck) - 1;
}

unsigned tern_ring_count(const struct tern_ring *r)
{
	return ck_ring_size(&r->ck);
}
