/* crypto/secmem: slots are zeroed and 16-byte aligned, a freed slot reads
 * zero, slots are reused, many objects share a few slabs (mappings), empty
 * slabs are released down to one per class, oversized objects work, and
 * many threads can allocate and free at once. */
#include <pthread.h>
#include <stdlib.h>

#include "check.h"
#include "crypto/secmem.h"

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

static void test_alignment_and_zero(void)
{
	static const size_t sizes[] = {1, 15, 16, 17, 64, 65, 560, 576, 577, 4096, 5000, 70000};
	void *p[sizeof(sizes) / sizeof(sizes[0])];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		p[i] = tern_secmem_alloc(sizes[i]);
		CHECK(p[i] != NULL);
		CHECK_EQ((uintptr_t)p[i] % TERN_SECMEM_ALIGN, 0);
		CHECK(all_bytes(p[i], sizes[i], 0));
		memset(p[i], 0xa5, sizes[i]); /* the whole object is writable */
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		tern_secmem_free(p[i]);
	CHECK(tern_secmem_alloc(0) == NULL);
	tern_secmem_free(NULL);
}

static void test_wipe_and_reuse(void)
{
	struct tern_secmem_stats st;
	uint8_t *keep = tern_secmem_alloc(64), *a = tern_secmem_alloc(64);

	memset(a, 0x5c, 64);
	tern_secmem_free(a);
#ifndef TERN_NOMEMPOOL
	/* keep holds the slab, so a's slot is still mapped: it reads zero. */
	CHECK(all_bytes(a, 64, 0));
	uint8_t *b = tern_secmem_alloc(40); /* same class: the freed slot again */
	CHECK(b == a);
	CHECK(all_bytes(b, 40, 0));
	tern_secmem_free(b);
#endif
	tern_secmem_free(keep);
	tern_secmem_stats(&st);
	CHECK_EQ(st.objects, 0);
	CHECK_EQ(st.slot_bytes, 0);
}

/* 2,000 sessions' worth of secrets (two AEAD states and a PRK block each)
 * in a handful of slabs, then all freed: one empty slab kept per class.
 * Runs first, so the process holds no slab yet. */
static void test_many_objects_few_slabs(void)
{
	enum { N = 2000 };
	static void *aead[2 * N], *prk[N];
	struct tern_secmem_stats st;

	for (int i = 0; i < N; i++) {
		aead[2 * i] = tern_secmem_alloc(560);
		aead[2 * i + 1] = tern_secmem_alloc(560);
		prk[i] = tern_secmem_alloc(64);
		CHECK(aead[2 * i] && aead[2 * i + 1] && prk[i]);
	}
	tern_secmem_stats(&st);
	CHECK_EQ(st.objects, 3 * N);
#ifndef TERN_NOMEMPOOL
	CHECK_EQ(st.dedicated, 0);
	CHECK_EQ(tern_secmem_footprint(560), 592);
	CHECK_EQ(tern_secmem_footprint(64), 80);
	CHECK_EQ(st.slot_bytes, N * (2 * 592 + 80));
	/* 442 slots of 592 B per slab -> 10 slabs; 3,276 of 80 B -> 1. */
	CHECK_EQ(st.slabs, 10 + 1);
#endif
	for (int i = 0; i < 2 * N; i++)
		tern_secmem_free(aead[i]);
	for (int i = 0; i < N; i++)
		tern_secmem_free(prk[i]);
	tern_secmem_stats(&st);
	CHECK_EQ(st.objects, 0);
#ifndef TERN_NOMEMPOOL
	CHECK_EQ(st.slabs, 2);
#endif
}

static void test_dedicated(void)
{
	struct tern_secmem_stats st;
	uint8_t *p = tern_secmem_alloc(10000);

	CHECK(p != NULL);
	tern_secmem_stats(&st);
	CHECK_EQ(st.dedicated, 1);
	CHECK_EQ(tern_secmem_footprint(10000), 12288 + 3 * 4096);
	tern_secmem_free(p);
	tern_secmem_stats(&st);
	CHECK_EQ(st.dedicated, 0);
}

enum { THREADS = 8, ROUNDS = 3000, LIVE = 64 };

/* Each thread keeps up to LIVE objects, stamped with its id, and checks the
 * stamp before freeing: a slot handed to two owners would show. */
static void *worker(void *arg)
{
	uint8_t id = (uint8_t)(uintptr_t)arg;
	uint8_t *live[LIVE] = {0};
	size_t size = id % 2 ? 560 : 64;
	long bad = 0;

	for (int r = 0; r < ROUNDS; r++) {
		int i = (r * 7 + id) % LIVE;
		if (live[i]) {
			bad += !all_bytes(live[i], size, id);
			tern_secmem_free(live[i]);
		}
		live[i] = tern_secmem_alloc(size);
		if (!live[i] || !all_bytes(live[i], size, 0))
			bad++;
		else
			memset(live[i], id, size);
	}
	for (int i = 0; i < LIVE; i++)
		tern_secmem_free(live[i]);
	return (void *)bad;
}

static void test_threads(void)
{
	pthread_t t[THREADS];
	struct tern_secmem_stats st;

	for (uintptr_t i = 0; i < THREADS; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, worker, (void *)(i + 1)), 0);
	for (int i = 0; i < THREADS; i++) {
		void *bad = NULL;
		pthread_join(t[i], &bad);
		CHECK_EQ((uintptr_t)bad, 0);
	}
	tern_secmem_stats(&st);
	CHECK_EQ(st.objects, 0);
}

int main(void)
{
	test_many_objects_few_slabs(); /* first: it counts slabs from none */
	test_alignment_and_zero();
	test_wipe_and_reuse();
	test_dedicated();
	test_threads();
	return tern_check_result("secmem");
}
