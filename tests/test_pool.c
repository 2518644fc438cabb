/* Pool tests, built twice: as is (pool mode) and with -DTERN_NOMEMPOOL
 * (every get a malloc, every put a free). Bounds and counters must behave the
 * same in both; reuse without allocation is checked in pool mode only. */
#include "check.h"
#include "pool.h"

struct obj {
	uint64_t a, b;
};

static void test_init_args(void)
{
	struct tern_pool p;

	CHECK_EQ(tern_pool_init(&p, 0, 0, 4), TERN_EINVAL);
	CHECK_EQ(tern_pool_init(&p, sizeof(struct obj), 0, 0), TERN_EINVAL);
	CHECK_EQ(tern_pool_init(&p, sizeof(struct obj), 5, 4), TERN_EINVAL);
	CHECK_EQ(tern_pool_init(&p, sizeof(struct obj), 4, 4), 0);
	tern_pool_destroy(&p);
}

static void test_exhaustion(void)
{
	struct tern_pool p;
	struct obj *o[4];

	CHECK_EQ(tern_pool_init(&p, sizeof(struct obj), 1, 3), 0);
	for (int i = 0; i < 3; i++) {
		o[i] = tern_pool_get(&p);
		CHECK(o[i] != NULL);
		o[i]->a = (uint64_t)i; /* writable, full size */
		o[i]->b = ~(uint64_t)i;
	}
	CHECK(o[0] != o[1] && o[1] != o[2] && o[0] != o[2]);
	CHECK_EQ(p.in_use, 3);
	CHECK_EQ(p.high_water, 3);
	CHECK(tern_pool_get(&p) == NULL);
	CHECK(tern_pool_get(&p) == NULL);
	CHECK_EQ(p.exhausted, 2);
	CHECK_EQ(p.in_use, 3);
	tern_pool_put(&p, o[1]);
	CHECK_EQ(p.in_use, 2);
	CHECK_EQ(p.high_water, 3);
	o[3] = tern_pool_get(&p);
	CHECK(o[3] != NULL);
	CHECK_EQ(p.exhausted, 2);
	tern_pool_put(&p, NULL); /* ignored */
	CHECK_EQ(p.in_use, 3);
	tern_pool_put(&p, o[0]);
	tern_pool_put(&p, o[2]);
	tern_pool_put(&p, o[3]);
	CHECK_EQ(p.in_use, 0);
	CHECK_EQ(p.high_water, 3);
	tern_pool_destroy(&p);
}

static void test_reuse(void)
{
	struct tern_pool p;
	void *o[8];

	CHECK_EQ(tern_pool_init(&p, 64, 2, 8), 0);
#ifndef TERN_NOMEMPOOL
	CHECK_EQ(p.created, 2); /* preallocated */
	CHECK_EQ(p.nfree, 2);
#endif
	for (int i = 0; i < 5; i++) /* warm-up: five at once */
		o[i] = tern_pool_get(&p);
	for (int i = 0; i < 5; i++)
		tern_pool_put(&p, o[i]);
	CHECK_EQ(p.high_water, 5);
#ifndef TERN_NOMEMPOOL
	CHECK_EQ(p.created, 5);
	for (int round = 0; round < 100; round++) {
		for (int i = 0; i < 5; i++)
			o[i] = tern_pool_get(&p);
		for (int i = 0; i < 5; i++)
			tern_pool_put(&p, o[i]);
	}
	CHECK_EQ(p.created, 5); /* no allocation after warm-up */
	CHECK_EQ(p.nfree, 5);
	/* LIFO: the object just put back is the next one handed out */
	o[0] = tern_pool_get(&p);
	tern_pool_put(&p, o[0]);
	CHECK(tern_pool_get(&p) == o[0]);
	tern_pool_put(&p, o[0]);
#else
	CHECK_EQ(p.created, 5); /* one malloc per get */
#endif
	CHECK_EQ(p.in_use, 0);
	CHECK_EQ(p.high_water, 5);
	tern_pool_destroy(&p);
	CHECK_EQ(p.nfree, 0);
	CHECK(p.free_list == NULL);
}

int main(void)
{
	test_init_args();
	test_exhaustion();
	test_reuse();
#ifdef TERN_NOMEMPOOL
	return tern_check_result("pool (nomempool)");
#else
	return tern_check_result("pool");
#endif
}
