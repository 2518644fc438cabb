// Micro-benchmark for stream reassembly (core/stream_recv.c): STREAM frames
// of 1200 bytes arriving out of order into tern_srecv (a batch of 64 frames
// in a shuffled order, messages of 16 frames each), then every complete
// message delivered and the window moved on. Also the in-order case for
// comparison. Reported in payload bytes per second.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

extern "C" {
#include "stream.h"
}

namespace
{

constexpr size_t FRAME = 1200, BATCH = 64, MSG_FRAMES = 16;

uint64_t delivered;
void on_msg(void *, const uint8_t *, size_t len)
{
	delivered += len;
}

void run(benchmark::State &state, bool shuffle)
{
	tern_stream_recv r;
	tern_srecv_init(&r, 1 << 20);
	std::vector<uint8_t> data(FRAME, 0x42);
	std::vector<size_t> order(BATCH);
	for (size_t i = 0; i < BATCH; i++)
		order[i] = i;
	std::mt19937_64 rng(5);
	uint64_t base = 0;
	delivered = 0;
	for (auto _ : state) {
		if (shuffle)
			std::shuffle(order.begin(), order.end(), rng);
		for (size_t i : order) {
			uint64_t nb;
			bool end = (i + 1) % MSG_FRAMES == 0;
			int rc = tern_srecv_frame(&r, base + i * FRAME, data.data(), FRAME, end,
			                          false, &nb);
			if (rc != 0)
				state.SkipWithError("tern_srecv_frame failed");
		}
		tern_srecv_deliver(&r, on_msg, nullptr);
		uint64_t max;
		tern_srecv_window_update(&r, &max);
		base += BATCH * FRAME;
	}
	state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)(BATCH * FRAME));
	if (delivered != (uint64_t)state.iterations() * BATCH * FRAME)
		state.SkipWithError("not every byte delivered");
	tern_srecv_free(&r);
}

void BM_ReassembleOutOfOrder(benchmark::State &state)
{
	run(state, true);
}

void BM_ReassembleInOrder(benchmark::State &state)
{
	run(state, false);
}

} // namespace

BENCHMARK(BM_ReassembleOutOfOrder);
BENCHMARK(BM_ReassembleInOrder);

BENCHMARK_MAIN();
