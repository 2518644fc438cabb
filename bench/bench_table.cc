// Micro-benchmarks for the per-worker session table (core/table.c): lookup
// hits at 1k, 100k and 1M sessions in random order over a precomputed key
// array (so the key stream costs nothing and the accesses defeat the
// prefetcher), lookup misses, and insert+remove churn at a steady size.
// Keys are real CIDs (owner byte + 56 random bits), as a worker sees them.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

extern "C" {
#include "cid.h"
#include "table.h"
}

namespace
{

struct Fixture {
	tern_table t{};
	std::vector<uint64_t> keys;   // present
	std::vector<uint64_t> probes; // random order over keys (or absent keys)
	std::vector<int> vals;
};

// Builds a table of n sessions owned by worker 3 and a shuffled probe array.
void build(Fixture &f, size_t n, bool miss)
{
	std::mt19937_64 rng(12345 + n);
	tern_table_cfg cfg{};
	cfg.initial = 64;
	cfg.max_entries = 2 * n + 64;
	cfg.seed = rng();
	tern_table_init(&f.t, &cfg);
	f.vals.assign(n, 0);
	for (size_t i = 0; i < n; i++) {
		uint64_t k = tern_cid_make_key(3, rng());
		if (tern_table_insert(&f.t, k, &f.vals[i]) == TERN_OK)
			f.keys.push_back(k);
	}
	size_t np = std::max<size_t>(n, 1u << 20);
	f.probes.resize(np);
	for (size_t i = 0; i < np; i++)
		f.probes[i] = miss ? tern_cid_make_key(3, rng()) : f.keys[rng() % f.keys.size()];
}

void BM_LookupHit(benchmark::State &state)
{
	Fixture f;
	build(f, (size_t)state.range(0), false);
	size_t i = 0, mask = f.probes.size() - 1; // a power of two
	for (auto _ : state) {
		void *v = tern_table_lookup(&f.t, f.probes[i]);
		benchmark::DoNotOptimize(v);
		i = (i + 1) & mask;
	}
	state.counters["capacity"] = (double)tern_table_capacity(&f.t);
	tern_table_free(&f.t);
}

// Bursts of TERN_TABLE_BURST lookups, as a worker does per rx burst; time
// is reported per lookup (items).
void BM_LookupHitBurst(benchmark::State &state)
{
	Fixture f;
	build(f, (size_t)state.range(0), false);
	size_t i = 0, mask = f.probes.size() - 1;
	void *vals[TERN_TABLE_BURST];
	for (auto _ : state) {
		tern_table_lookup_burst(&f.t, &f.probes[i], vals, TERN_TABLE_BURST);
		benchmark::DoNotOptimize(vals);
		i = (i + TERN_TABLE_BURST) & mask;
	}
	state.SetItemsProcessed((int64_t)state.iterations() * TERN_TABLE_BURST);
	tern_table_free(&f.t);
}

void BM_LookupMiss(benchmark::State &state)
{
	Fixture f;
	build(f, (size_t)state.range(0), true);
	size_t i = 0, mask = f.probes.size() - 1;
	for (auto _ : state) {
		void *v = tern_table_lookup(&f.t, f.probes[i]);
		benchmark::DoNotOptimize(v);
		i = (i + 1) & mask;
	}
	tern_table_free(&f.t);
}

// One iteration = insert a new session and remove a random old one, so the
// table stays at its size and probe chains see constant deletion.
void BM_Churn(benchmark::State &state)
{
	Fixture f;
	size_t n = (size_t)state.range(0);
	build(f, n, false);
	std::mt19937_64 rng(99);
	std::vector<uint64_t> live = f.keys;
	int val = 0;
	for (auto _ : state) {
		uint64_t k = tern_cid_make_key(3, rng());
		if (tern_table_insert(&f.t, k, &val) != TERN_OK)
			continue;
		size_t j = rng() % live.size();
		benchmark::DoNotOptimize(tern_table_remove(&f.t, live[j]));
		live[j] = k;
	}
	tern_table_free(&f.t);
}

} // namespace

BENCHMARK(BM_LookupHit)->Arg(1000)->Arg(100000)->Arg(1000000);
BENCHMARK(BM_LookupHitBurst)->Arg(1000)->Arg(100000)->Arg(1000000);
BENCHMARK(BM_LookupMiss)->Arg(1000)->Arg(100000)->Arg(1000000);
BENCHMARK(BM_Churn)->Arg(1000)->Arg(100000)->Arg(1000000);

BENCHMARK_MAIN();
