/* Anti-replay window: table-driven sequences of checks and updates covering
 * in-window, old, duplicate, far-future jumps, ring wrap-around and the exact
 * window edge; check never changes state; pn above 2^62 - 1 rejected. */
#include "tests/check.h"
#include "crypto/replay.h"
#include "core/proto.h"

#define W TERN_REPLAY_WINDOW

struct step {
	char op; /* 'c' = check only, 'u' = update */
	uint64_t pn;
	bool want;
};

struct scenario {
	const char *name;
	struct step steps[16];
	size_t n;
};

static const struct scenario scenarios[] = {
        {"first packet any number", {{'c', 1000, true}, {'u', 1000, true}, {'u', 1000, false}}, 3},
        {"in order then duplicate",
         {{'u', 0, true}, {'u', 1, true}, {'u', 2, true}, {'c', 1, false}, {'u', 2, false}},
         5},
        {"reordered within window",
         {{'u', 10, true}, {'u', 5, true}, {'u', 9, true}, {'u', 5, false}, {'c', 6, true}},
         5},
        {"check does not record",
         {{'u', 3, true}, {'c', 4, true}, {'c', 4, true}, {'u', 4, true}},
         4},
        {"exact window edge",
         {{'u', W + 100, true},
          {'c', 100, false},
          {'c', 101, true},
          {'u', 101, true},
          {'u', 101, false},
          {'c', 99, false}},
         6},
        {"far-future jump forgets the past",
         {{'u', 5, true},
          {'u', 1000000, true},
          {'c', 5, false},
          {'c', 1000000 - W + 1, true},
          {'u', 1000000 - 1, true},
          {'u', 1000000 - 1, false}},
         6},
        {"jump of exactly one ring clears stale bits",
         {{'u', 64, true},
          {'u', 64 + TERN_REPLAY_BLOCKS * 64, true},
          {'c', 64, false},
          {'c', 64 + TERN_REPLAY_BLOCKS * 64 - 1, true}},
         4},
        {"ring wrap-around reuses blocks",
         {{'u', 0, true},
          {'u', 4095, true},
          {'u', 4096, true},
          {'u', 4160, true},
          {'c', 4096 + 64 - 1, true},
          {'u', 4096, false},
          {'c', 128, false},
          {'c', 4095, false},
          {'c', 4094, true}},
         9},
        {"largest packet number",
         {{'u', TERN_VARINT_MAX, true},
          {'u', TERN_VARINT_MAX, false},
          {'c', TERN_VARINT_MAX + 1, false},
          {'u', TERN_VARINT_MAX - 1, true}},
         4},
        {"above 2^62-1 rejected", {{'c', UINT64_MAX, false}, {'u', 1ull << 62, false}}, 2},
};

static void run(const struct scenario *s)
{
	struct tern_replay r;

	tern_replay_init(&r);
	for (size_t i = 0; i < s->n; i++) {
		const struct step *st = &s->steps[i];
		bool got = st->op == 'u' ? tern_replay_update(&r, st->pn)
		                         : tern_replay_check(&r, st->pn);
		if (got != st->want)
			fprintf(stderr, "scenario '%s' step %zu (%c %" PRIu64 ")\n", s->name, i,
			        st->op, st->pn);
		CHECK_EQ(got, st->want);
	}
}

/* Every packet number in a long run arrives twice, the second copy rejected;
 * the window spans several ring turns. */
static void test_long_run_with_duplicates(void)
{
	struct tern_replay r;
	int accepted = 0;

	tern_replay_init(&r);
	for (uint64_t pn = 0; pn < 20000; pn++) {
		accepted += tern_replay_update(&r, pn);
		accepted += tern_replay_update(&r, pn);
		if (pn >= 3)
			accepted += tern_replay_update(&r, pn - 3); /* late duplicate */
	}
	CHECK_EQ(accepted, 20000);
}

/* Arrival in reverse order inside one window: all accepted exactly once. */
static void test_reverse_window(void)
{
	struct tern_replay r;
	int accepted = 0;

	tern_replay_init(&r);
	CHECK(tern_replay_update(&r, 10000));
	for (uint64_t pn = 10000 - 1; pn > 10000 - W; pn--)
		accepted += tern_replay_update(&r, pn);
	CHECK_EQ(accepted, W - 1);
	CHECK(!tern_replay_check(&r, 10000 - W));
	for (uint64_t pn = 10000 - W + 1; pn <= 10000; pn++)
		CHECK(!tern_replay_check(&r, pn));
}

int main(void)
{
	CHECK(W >= 2048);
	for (size_t i = 0; i < TERN_ARRAY_LEN(scenarios); i++)
		run(&scenarios[i]);
	test_long_run_with_duplicates();
	test_reverse_window();
	return tern_check_result("replay");
}
