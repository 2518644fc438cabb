// Micro-benchmarks for the hierarchical timer wheel (core/timer.c): arming
// (insert or re-arm) among N armed timers, and expiry: N timers armed over
// the next 100 ms, then the wheel advanced in 1 ms steps until all fired,
// reported per timer fired (items).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

extern "C" {
#include "timer.h"
}

namespace
{

uint64_t fired;
void on_fire(tern_timer *, tern_time)
{
	fired++;
}

// Re-arms a random one of N armed timers to a random deadline within 1 s.
void BM_Arm(benchmark::State &state)
{
	size_t n = (size_t)state.range(0);
	tern_wheel w;
	tern_wheel_init(&w, 0);
	std::vector<tern_timer> t(n);
	std::mt19937_64 rng(1);
	for (auto &x : t) {
		tern_timer_init(&x, on_fire, nullptr);
		tern_timer_arm(&w, &x, 1 + rng() % 1000000);
	}
	std::vector<uint32_t> idx(1 << 16), due(1 << 16);
	for (size_t i = 0; i < idx.size(); i++) {
		idx[i] = (uint32_t)(rng() % n);
		due[i] = (uint32_t)(1 + rng() % 1000000);
	}
	size_t i = 0;
	for (auto _ : state) {
		tern_timer_arm(&w, &t[idx[i]], due[i]);
		i = (i + 1) & (idx.size() - 1);
	}
	state.SetItemsProcessed((int64_t)state.iterations());
}

void BM_Expire(benchmark::State &state)
{
	size_t n = (size_t)state.range(0);
	std::vector<tern_timer> t(n);
	std::mt19937_64 rng(2);
	tern_wheel w;
	tern_time now = 0;
	tern_wheel_init(&w, now);
	for (auto &x : t)
		tern_timer_init(&x, on_fire, nullptr);
	fired = 0;
	for (auto _ : state) {
		state.PauseTiming();
		for (auto &x : t)
			tern_timer_arm(&w, &x, now + 1 + rng() % 100000);
		state.ResumeTiming();
		for (int step = 0; step < 100; step++) {
			now += 1000;
			tern_wheel_advance(&w, now);
		}
	}
	state.SetItemsProcessed((int64_t)fired);
	if (fired != (uint64_t)state.iterations() * n)
		state.SkipWithError("not every timer fired");
}

} // namespace

BENCHMARK(BM_Arm)->Arg(1000)->Arg(100000);
BENCHMARK(BM_Expire)->Arg(1000)->Arg(100000);

BENCHMARK_MAIN();
