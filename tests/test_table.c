/* Tests for core/cid (layout, owner) and core/table (insert, lookup,
 * remove, growth, the max, backward-shift deletion along probe chains that
 * wrap, iteration with removal), the random ones against a reference model
 * with a fixed seed. */
#include <stdlib.h>

#include "check.h"
#include "cid.h"
#include "table.h"

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic keys and op sequences */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static void test_cid(void)
{
	static const struct {
		unsigned worker;
		uint64_t random;
		uint8_t bytes[TERN_CID_LEN];
	} v[] = {
	        {0, 0, {0, 0, 0, 0, 0, 0, 0, 0}},
	        {1, 0x0102030405060708ull, {1, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08}},
	        {254, 0xffffffffffffffffull, {254, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	        {7, 0xab00000000000001ull, {7, 0, 0, 0, 0, 0, 0, 1}},
	};
	for (size_t i = 0; i < TERN_ARRAY_LEN(v); i++) {
		uint8_t cid[TERN_CID_LEN];
		CHECK_EQ(tern_cid_build(cid, v[i].worker, v[i].random), TERN_OK);
		CHECK(memcmp(cid, v[i].bytes, TERN_CID_LEN) == 0);
		CHECK_EQ(tern_cid_owner(cid), v[i].worker);
		uint64_t key = tern_cid_key(cid);
		CHECK(key == tern_cid_make_key(v[i].worker, v[i].random));
		CHECK_EQ(tern_cid_key_owner(key), v[i].worker);
		uint8_t back[TERN_CID_LEN];
		tern_cid_from_key(back, key);
		CHECK(memcmp(back, cid, TERN_CID_LEN) == 0);
	}
	uint8_t cid[TERN_CID_LEN] = {9, 9, 9, 9, 9, 9, 9, 9};
	CHECK_EQ(tern_cid_build(cid, 255, 1), TERN_EINVAL);
	CHECK_EQ(tern_cid_build(cid, 1000, 1), TERN_EINVAL);
	CHECK_EQ(cid[0], 9); /* untouched on failure */
	CHECK(tern_cid_make_key(255, 1) == 0);
}

/* The reference model: a pool of distinct keys, each present or not. */
struct ref {
	uint64_t key;
	bool present;
	int visits;
};

static void check_iteration(struct tern_table *t, struct ref *pool, size_t n, size_t present)
{
	for (size_t i = 0; i < n; i++)
		pool[i].visits = 0;
	struct tern_table_iter it;
	uint64_t key;
	void *val;
	size_t seen = 0;
	tern_table_iter_init(t, &it);
	while (tern_table_next(t, &it, &key, &val)) {
		struct ref *r = val;
		CHECK(r >= pool && r < pool + n);
		CHECK(r->key == key);
		CHECK(r->present);
		r->visits++;
		seen++;
	}
	CHECK_EQ(seen, present);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(pool[i].visits, pool[i].present ? 1 : 0);
}

/* Burst lookups of the whole pool, in odd-sized pieces (a partial last
 * chunk, bursts shorter and longer than TERN_TABLE_BURST), match the model. */
static void check_burst(const struct tern_table *t, const struct ref *pool, size_t n)
{
	uint64_t *keys = malloc(n * sizeof(*keys));
	void **vals = malloc(n * sizeof(*vals));
	for (size_t i = 0; i < n; i++) {
		keys[i] = pool[i].key;
		vals[i] = (void *)1;
	}
	for (size_t base = 0, step = 1; base < n; base += step, step = step * 2 + 1)
		tern_table_lookup_burst(t, keys + base, vals + base, TERN_MIN(step, n - base));
	for (size_t i = 0; i < n; i++)
		CHECK(vals[i] == (pool[i].present ? &pool[i] : NULL));
	free(keys);
	free(vals);
}

/* One random op on key k of the pool, checked against the model. */
static void random_op(struct tern_table *t, struct ref *k, size_t *present, size_t max)
{
	switch (rnd() % 3) {
	case 0: {
		int rc = tern_table_insert(t, k->key, k);
		int want = k->present ? TERN_EINVAL : *present == max ? TERN_ENOMEM : TERN_OK;
		CHECK_EQ(rc, want);
		if (rc == TERN_OK) {
			k->present = true;
			(*present)++;
		}
		break;
	}
	case 1:
		CHECK(tern_table_lookup(t, k->key) == (k->present ? k : NULL));
		break;
	default:
		CHECK(tern_table_remove(t, k->key) == (k->present ? k : NULL));
		if (k->present)
			(*present)--;
		k->present = false;
	}
}

static void run_reference(size_t pool_n, size_t max, size_t initial, size_t ops, uint64_t seed)
{
	struct ref *pool = calloc(pool_n, sizeof(*pool));
	rng_state = seed;
	for (size_t i = 0; i < pool_n; i++) /* distinct: worker = i % 255, random = i */
		pool[i].key = tern_cid_make_key((unsigned)(i % 255), (rnd() << 20) ^ i);
	struct tern_table t;
	struct tern_table_cfg cfg = {.initial = initial, .max_entries = max, .seed = rnd()};
	CHECK_EQ(tern_table_init(&t, &cfg), TERN_OK);
	size_t present = 0;
	for (size_t op = 0; op < ops; op++) {
		random_op(&t, &pool[rnd() % pool_n], &present, max);
		if (op % 20000 == 0)
			check_iteration(&t, pool, pool_n, present);
	}
	CHECK_EQ(tern_table_count(&t), present);
	CHECK(tern_table_capacity(&t) / 4 * 3 >= present);
	for (size_t i = 0; i < pool_n; i++)
		CHECK(tern_table_lookup(&t, pool[i].key) == (pool[i].present ? &pool[i] : NULL));
	check_burst(&t, pool, pool_n);
	check_iteration(&t, pool, pool_n, present);
	tern_table_free(&t);
	free(pool);
}

static void test_reference(void)
{
	/* grows from 64 to thousands of entries, no max in reach */
	run_reference(20000, 1000000, 0, 100000, 1);
	/* tiny table kept at its max: 3/4 load, long chains, TERN_ENOMEM path */
	run_reference(40, 24, 24, 100000, 2);
	/* mid-size at the max */
	run_reference(3000, 1500, 8, 100000, 3);
}

static void test_growth(void)
{
	struct tern_table t;
	struct tern_table_cfg cfg = {.initial = 0, .max_entries = 100000, .seed = 42};
	CHECK_EQ(tern_table_init(&t, &cfg), TERN_OK);
	CHECK_EQ(tern_table_capacity(&t), 128); /* 64 entries by default at 3/4 load */
	static uint64_t keys[1000];
	rng_state = 7;
	for (size_t i = 0; i < 1000; i++) {
		keys[i] = rnd();
		CHECK_EQ(tern_table_insert(&t, keys[i], &keys[i]), TERN_OK);
		if (i + 1 == 96)
			CHECK_EQ(tern_table_capacity(&t), 128);
		if (i + 1 == 97)
			CHECK_EQ(tern_table_capacity(&t), 256);
	}
	CHECK_EQ(tern_table_capacity(&t), 2048);
	CHECK_EQ(tern_table_count(&t), 1000);
	for (size_t i = 0; i < 1000; i++)
		CHECK(tern_table_lookup(&t, keys[i]) == &keys[i]);
	tern_table_free(&t);
	CHECK(tern_table_lookup(&t, keys[0]) == NULL);
	tern_table_free(&t); /* twice is fine */
}

static void test_limits(void)
{
	struct tern_table t;
	struct tern_table_cfg cfg = {.initial = 8, .max_entries = 0, .seed = 1};
	CHECK_EQ(tern_table_init(&t, &cfg), TERN_EINVAL);
	cfg.max_entries = 100;
	CHECK_EQ(tern_table_init(&t, &cfg), TERN_OK);
	static int vals[101];
	for (uint64_t k = 0; k < 100; k++)
		CHECK_EQ(tern_table_insert(&t, k * 977, &vals[k]), TERN_OK);
	CHECK_EQ(tern_table_capacity(&t), 256); /* the fewest slots for 100 at 3/4 */
	CHECK_EQ(tern_table_insert(&t, 5000000, &vals[100]), TERN_ENOMEM);
	CHECK_EQ(tern_table_count(&t), 100);
	CHECK(tern_table_lookup(&t, 5000000) == NULL);
	CHECK_EQ(tern_table_insert(&t, 977, &vals[100]), TERN_EINVAL); /* duplicate */
	CHECK(tern_table_lookup(&t, 977) == &vals[1]);
	CHECK_EQ(tern_table_insert(&t, 6000000, NULL), TERN_EINVAL);
	CHECK(tern_table_remove(&t, 977) == &vals[1]);
	CHECK(tern_table_remove(&t, 977) == NULL);
	CHECK_EQ(tern_table_insert(&t, 5000000, &vals[100]), TERN_OK);
	CHECK(tern_table_lookup(&t, 5000000) == &vals[100]);
	CHECK_EQ(tern_table_capacity(&t), 256);
	tern_table_free(&t);
}

/* Finds n distinct keys whose home slot in a 16-slot table is h. */
static void keys_homed_at(uint64_t seed, size_t h, uint64_t *out, size_t n)
{
	for (uint64_t k = 1, found = 0; found < n; k++) {
		if ((tern_table_hash(seed, k) & 15) == h)
			out[found++] = k;
	}
}

static struct tern_table small_table(uint64_t seed)
{
	struct tern_table t;
	struct tern_table_cfg cfg = {.initial = 12, .max_entries = 12, .seed = seed};
	CHECK_EQ(tern_table_init(&t, &cfg), TERN_OK);
	CHECK_EQ(tern_table_capacity(&t), 16);
	return t;
}

static int vals[8];

/* slot i holds key k (k == 0: slot i is empty) */
static void check_layout(const struct tern_table *t, const uint64_t *want)
{
	for (size_t i = 0; i < 16; i++) {
		if (want[i] == 0) {
			CHECK(t->slots[i].val == NULL);
		} else {
			CHECK(t->slots[i].val != NULL);
			CHECK(t->slots[i].key == want[i]);
		}
	}
}

/* A chain that wraps past the last slot: removing from its middle pulls
 * every later entry back by one, across the wrap. */
static void test_chain_wrap(void)
{
	uint64_t seed = 99, a[3], d[2], f[1];
	keys_homed_at(seed, 14, a, 3);
	keys_homed_at(seed, 15, d, 2);
	keys_homed_at(seed, 0, f, 1);
	struct tern_table t = small_table(seed);
	uint64_t order[6] = {a[0], a[1], d[0], a[2], d[1], f[0]};
	for (int i = 0; i < 6; i++)
		CHECK_EQ(tern_table_insert(&t, order[i], &vals[i]), TERN_OK);
	uint64_t before[16] = {
	        [14] = a[0], [15] = a[1], [0] = d[0], [1] = a[2], [2] = d[1], [3] = f[0]};
	check_layout(&t, before);
	CHECK(tern_table_remove(&t, a[1]) == &vals[1]);
	uint64_t after[16] = {[14] = a[0], [15] = d[0], [0] = a[2], [1] = d[1], [2] = f[0]};
	check_layout(&t, after);
	for (int i = 0; i < 6; i++)
		CHECK(tern_table_lookup(&t, order[i]) == (i == 1 ? NULL : &vals[i]));
	tern_table_free(&t);
}

/* Entries already at their home slot stay put; the shift stops at them but
 * continues past them to entries that can still move. */
static void test_chain_stop(void)
{
	uint64_t seed = 5, a[2], c[2], e[1];
	keys_homed_at(seed, 5, a, 2);
	keys_homed_at(seed, 7, c, 2);
	keys_homed_at(seed, 6, e, 1);
	struct tern_table t = small_table(seed);
	/* 5:a0 6:a1 7:c0 8:c1 9:e0 (e0 homed at 6, displaced by 3) */
	uint64_t order[5] = {a[0], a[1], c[0], c[1], e[0]};
	for (int i = 0; i < 5; i++)
		CHECK_EQ(tern_table_insert(&t, order[i], &vals[i]), TERN_OK);
	CHECK(tern_table_remove(&t, a[0]) == &vals[0]);
	/* a1 moves home to 5; c0 (home 7) and c1 (home 7, at 8) cannot move
	 * to 6; e0 (home 6) jumps over them into 6 */
	uint64_t want[16] = {[5] = a[1], [6] = e[0], [7] = c[0], [8] = c[1]};
	check_layout(&t, want);
	for (int i = 0; i < 5; i++)
		CHECK(tern_table_lookup(&t, order[i]) == (i == 0 ? NULL : &vals[i]));
	CHECK(tern_table_remove(&t, c[0]) == &vals[2]);
	uint64_t want2[16] = {[5] = a[1], [6] = e[0], [7] = c[1]};
	check_layout(&t, want2);
	tern_table_free(&t);
}

/* Removing the entry just returned visits every entry exactly once, even in
 * a full tiny table whose chains wrap. */
static void test_iter_remove(size_t n, size_t max, uint64_t seed)
{
	struct ref *pool = calloc(n, sizeof(*pool));
	struct tern_table t;
	struct tern_table_cfg cfg = {.initial = max, .max_entries = max, .seed = seed};
	CHECK_EQ(tern_table_init(&t, &cfg), TERN_OK);
	rng_state = seed;
	for (size_t i = 0; i < n; i++) {
		pool[i].key = rnd();
		CHECK_EQ(tern_table_insert(&t, pool[i].key, &pool[i]), TERN_OK);
	}
	struct tern_table_iter it;
	uint64_t key;
	void *val;
	size_t seen = 0, kept = 0;
	tern_table_iter_init(&t, &it);
	while (tern_table_next(&t, &it, &key, &val)) {
		struct ref *r = val;
		r->visits++;
		seen++;
		if (key & 1)
			CHECK(tern_table_remove(&t, key) == r);
		else
			kept++;
	}
	CHECK_EQ(seen, n);
	CHECK_EQ(tern_table_count(&t), kept);
	for (size_t i = 0; i < n; i++) {
		CHECK_EQ(pool[i].visits, 1);
		bool want = !(pool[i].key & 1);
		CHECK(tern_table_lookup(&t, pool[i].key) == (want ? &pool[i] : NULL));
	}
	tern_table_free(&t);
	free(pool);
}

static void test_iter_empty(void)
{
	struct tern_table t;
	struct tern_table_cfg cfg = {.initial = 8, .max_entries = 8, .seed = 3};
	CHECK_EQ(tern_table_init(&t, &cfg), TERN_OK);
	struct tern_table_iter it;
	uint64_t key;
	void *val;
	tern_table_iter_init(&t, &it);
	CHECK(!tern_table_next(&t, &it, &key, &val));
	tern_table_free(&t);
}

int main(void)
{
	test_cid();
	test_reference();
	test_growth();
	test_limits();
	test_chain_wrap();
	test_chain_stop();
	for (uint64_t s = 1; s <= 20; s++)
		test_iter_remove(12, 12, s); /* full 16-slot table */
	test_iter_remove(5000, 5000, 77);
	test_iter_empty();
	return tern_check_result("table");
}
