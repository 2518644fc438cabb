/* Tests for core/ranges.c: table-driven add/remove sequences checked against
 * the exact resulting set, plus the bounded and evicting modes. */
#include <stdlib.h>
#include "check.h"
#include "ranges.h"

struct op {
	char kind; /* 'a' add, 'r' remove, 'b' remove_below */
	uint64_t lo, hi;
};

struct ranges_case {
	const char *name;
	struct op ops[8];
	size_t nops;
	struct tern_ack_range want[6];
	size_t nwant;
};

static const struct ranges_case cases[] = {
        {"single", {{'a', 5, 9}}, 1, {{5, 9}}, 1},
        {"disjoint sorted",
         {{'a', 20, 30}, {'a', 1, 3}, {'a', 10, 12}},
         3,
         {{1, 3}, {10, 12}, {20, 30}},
         3},
        {"adjacent below merges", {{'a', 5, 9}, {'a', 1, 4}}, 2, {{1, 9}}, 1},
        {"adjacent above merges", {{'a', 5, 9}, {'a', 10, 12}}, 2, {{5, 12}}, 1},
        {"overlap merges", {{'a', 5, 9}, {'a', 7, 15}}, 2, {{5, 15}}, 1},
        {"bridge three", {{'a', 1, 2}, {'a', 5, 6}, {'a', 9, 10}, {'a', 3, 8}}, 4, {{1, 10}}, 1},
        {"cover many", {{'a', 2, 3}, {'a', 5, 6}, {'a', 9, 10}, {'a', 0, 100}}, 4, {{0, 100}}, 1},
        {"duplicate inside", {{'a', 1, 10}, {'a', 3, 4}}, 2, {{1, 10}}, 1},
        {"gap of one stays", {{'a', 1, 3}, {'a', 5, 7}}, 2, {{1, 3}, {5, 7}}, 2},
        {"zero and max",
         {{'a', 0, 0}, {'a', UINT64_MAX, UINT64_MAX}},
         2,
         {{0, 0}, {UINT64_MAX, UINT64_MAX}},
         2},
        {"split", {{'a', 1, 10}, {'r', 4, 6}}, 2, {{1, 3}, {7, 10}}, 2},
        {"trim low edge", {{'a', 1, 10}, {'r', 0, 3}}, 2, {{4, 10}}, 1},
        {"trim high edge", {{'a', 1, 10}, {'r', 8, 20}}, 2, {{1, 7}}, 1},
        {"remove spanning",
         {{'a', 1, 3}, {'a', 5, 7}, {'a', 9, 11}, {'r', 2, 10}},
         4,
         {{1, 1}, {11, 11}},
         2},
        {"remove exact", {{'a', 1, 3}, {'a', 5, 7}, {'r', 5, 7}}, 3, {{1, 3}}, 1},
        {"remove in gap", {{'a', 1, 3}, {'a', 7, 9}, {'r', 4, 6}}, 3, {{1, 3}, {7, 9}}, 2},
        {"remove below", {{'a', 1, 3}, {'a', 5, 9}, {'b', 7, 0}}, 3, {{7, 9}}, 1},
        {"remove below zero", {{'a', 0, 3}, {'b', 0, 0}}, 2, {{0, 3}}, 1},
        {"remove to max", {{'a', 1, 3}, {'a', 5, 9}, {'r', 2, UINT64_MAX}}, 3, {{1, 1}}, 1},
};

static void run_case(const struct ranges_case *c)
{
	struct tern_ranges rs;

	CHECK_EQ(tern_ranges_init(&rs, 64, false), 0);
	for (size_t i = 0; i < c->nops; i++) {
		const struct op *o = &c->ops[i];
		if (o->kind == 'a')
			CHECK_EQ(tern_ranges_add(&rs, o->lo, o->hi), 0);
		else if (o->kind == 'r')
			CHECK_EQ(tern_ranges_remove(&rs, o->lo, o->hi), 0);
		else
			tern_ranges_remove_below(&rs, o->lo);
	}
	CHECK_EQ(rs.n, c->nwant);
	for (size_t i = 0; i < c->nwant && i < rs.n; i++) {
		if (rs.r[i].lo != c->want[i].lo || rs.r[i].hi != c->want[i].hi)
			fprintf(stderr, "case %s: range %zu differs\n", c->name, i);
		CHECK(rs.r[i].lo == c->want[i].lo && rs.r[i].hi == c->want[i].hi);
	}
	tern_ranges_free(&rs);
}

static void test_contains_and_contiguous(void)
{
	struct tern_ranges rs;

	tern_ranges_init(&rs, 16, false);
	CHECK(!tern_ranges_contains(&rs, 0));
	CHECK_EQ(tern_ranges_contiguous_end(&rs, 0), 0);
	tern_ranges_add(&rs, 10, 19);
	tern_ranges_add(&rs, 30, 39);
	CHECK(!tern_ranges_contains(&rs, 9));
	CHECK(tern_ranges_contains(&rs, 10));
	CHECK(tern_ranges_contains(&rs, 19));
	CHECK(!tern_ranges_contains(&rs, 20));
	CHECK(!tern_ranges_contains(&rs, 29));
	CHECK(tern_ranges_contains(&rs, 35));
	CHECK(!tern_ranges_contains(&rs, 40));
	CHECK_EQ(tern_ranges_max(&rs), 39);
	CHECK_EQ(tern_ranges_contiguous_end(&rs, 0), 0);
	CHECK_EQ(tern_ranges_contiguous_end(&rs, 10), 20);
	CHECK_EQ(tern_ranges_contiguous_end(&rs, 15), 20);
	CHECK_EQ(tern_ranges_contiguous_end(&rs, 20), 20);
	CHECK_EQ(tern_ranges_add(&rs, 5, 4), TERN_EINVAL);
	tern_ranges_free(&rs);
}

static void test_bounded(void)
{
	struct tern_ranges rs;

	tern_ranges_init(&rs, 3, false);
	CHECK_EQ(tern_ranges_add(&rs, 1, 1), 0);
	CHECK_EQ(tern_ranges_add(&rs, 3, 3), 0);
	CHECK_EQ(tern_ranges_add(&rs, 5, 5), 0);
	CHECK_EQ(tern_ranges_add(&rs, 7, 7), TERN_ELIMIT);
	CHECK_EQ(rs.n, 3);
	CHECK_EQ(rs.r[2].hi, 5);
	/* merging still works when full */
	CHECK_EQ(tern_ranges_add(&rs, 6, 6), 0);
	CHECK_EQ(rs.r[2].hi, 6);
	/* a split that needs a fourth slot fails and leaves the set unchanged */
	CHECK_EQ(tern_ranges_add(&rs, 2, 2), 0); /* [1,3] [5,6] */
	CHECK_EQ(tern_ranges_add(&rs, 9, 20), 0);
	CHECK_EQ(tern_ranges_remove(&rs, 10, 11), TERN_ELIMIT);
	CHECK_EQ(rs.n, 3);
	CHECK_EQ(rs.r[2].lo, 9);
	CHECK_EQ(rs.r[2].hi, 20);
	tern_ranges_free(&rs);
	CHECK_EQ(tern_ranges_init(&rs, 0, false), TERN_EINVAL);
}

static void test_evict_lowest(void)
{
	struct tern_ranges rs;

	tern_ranges_init(&rs, 3, true);
	for (uint64_t v = 0; v < 10; v++)
		CHECK_EQ(tern_ranges_add(&rs, v * 10, v * 10 + 1), 0);
	CHECK_EQ(rs.n, 3);
	CHECK_EQ(rs.r[0].lo, 70);
	CHECK_EQ(rs.r[1].lo, 80);
	CHECK_EQ(rs.r[2].lo, 90);
	/* a new range below everything is itself the one dropped */
	CHECK_EQ(tern_ranges_add(&rs, 5, 5), 0);
	CHECK_EQ(rs.r[0].lo, 70);
	/* one in the middle evicts the lowest */
	CHECK_EQ(tern_ranges_add(&rs, 85, 85), 0);
	CHECK_EQ(rs.n, 3);
	CHECK_EQ(rs.r[0].lo, 80);
	CHECK_EQ(rs.r[1].lo, 85);
	CHECK_EQ(rs.r[2].lo, 90);
	tern_ranges_free(&rs);
}

/* Growth past the initial capacity, checked against a bitmap model. */
static void test_against_model(void)
{
	enum { N = 2000 };
	static bool model[N];
	struct tern_ranges rs;
	uint32_t x = 12345;

	tern_ranges_init(&rs, N, false);
	for (int i = 0; i < 4000; i++) {
		x = x * 1103515245u + 12345u;
		uint64_t lo = (x >> 8) % N, hi = lo + ((x >> 4) % 7);
		if (hi >= N)
			hi = N - 1;
		bool add = (x >> 20) % 3 != 0;
		CHECK_EQ(add ? tern_ranges_add(&rs, lo, hi) : tern_ranges_remove(&rs, lo, hi), 0);
		for (uint64_t v = lo; v <= hi; v++)
			model[v] = add;
	}
	for (uint64_t v = 0; v < N; v++)
		if (tern_ranges_contains(&rs, v) != model[v])
			CHECK(!"contains differs from the model");
	for (size_t i = 1; i < rs.n; i++)
		CHECK(rs.r[i].lo > rs.r[i - 1].hi + 1);
	tern_ranges_free(&rs);
}

int main(void)
{
	for (size_t i = 0; i < TERN_ARRAY_LEN(cases); i++)
		run_case(&cases[i]);
	test_contains_and_contiguous();
	test_bounded();
	test_evict_lowest();
	test_against_model();
	return tern_check_result("ranges");
}
