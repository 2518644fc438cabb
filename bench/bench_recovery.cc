// Micro-benchmark for ACK processing in loss recovery (core/recovery.c):
// a flight of 2 * R packets of which every other one is acknowledged, so the
// ACKs carry R ranges and the packets between them are declared lost (packet
// threshold). One ACK frame holds at most TERN_MAX_ACK_RANGES (256), so R
// ranges arrive as successive ACK frames of 250 new ranges each, in the
// order a receiver that lost every other packet would send them (each
// frame's largest above the last one's). Timed: the
// tern_recovery_on_ack calls only (the flight is rebuilt with timing paused).
// Reported per range (items).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <vector>

extern "C" {
#include "recovery.h"
}

namespace
{

constexpr size_t PER_FRAME = 250;
constexpr uint64_t MSS = 1200;

struct Acks {
	std::vector<std::vector<uint8_t>> bufs;
	std::vector<tern_frame> frames;
};

// ACK frames for the odd packet numbers below 2 * ranges: frame k acks
// ranges [k * PER_FRAME, (k + 1) * PER_FRAME), listed largest first.
Acks build_acks(size_t ranges)
{
	Acks a;
	for (size_t done = 0; done < ranges; done += PER_FRAME) {
		std::vector<tern_ack_range> r;
		size_t top = std::min(ranges, done + PER_FRAME);
		for (size_t i = top; i-- > done;) {
			uint64_t pn = 2 * i + 1;
			r.push_back({pn, pn});
		}
		std::vector<uint8_t> buf(8192);
		size_t written = 0;
		size_t n = tern_frame_encode_ack(buf.data(), buf.size(), r.data(), r.size(), 0,
		                                 &written);
		buf.resize(n);
		a.bufs.push_back(std::move(buf));
	}
	for (auto &b : a.bufs) {
		tern_frame f;
		const uint8_t *p = b.data();
		tern_frame_decode(&p, b.data() + b.size(), &f);
		a.frames.push_back(f);
	}
	return a;
}

uint64_t n_acked, n_lost;
void on_acked(void *, const tern_sent_pkt *)
{
	n_acked++;
}
void on_lost(void *, const tern_sent_pkt *)
{
	n_lost++;
}
const tern_recovery_cbs cbs = {nullptr, on_acked, on_lost};

void send_flight(tern_recovery *r, size_t n, tern_time now)
{
	for (size_t i = 0; i < n; i++) {
		tern_sent_pkt *p = tern_recovery_next(r);
		p->nmeta = 1;
		p->meta[0] = {TERN_META_STREAM, 0, 1, (uint32_t)MSS, i * MSS};
		tern_recovery_on_sent(r, p, MSS, true, true, now);
	}
}

void BM_OnAckRanges(benchmark::State &state)
{
	size_t ranges = (size_t)state.range(0);
	Acks acks = build_acks(ranges);
	tern_time now = 1000000;
	n_acked = n_lost = 0;
	for (auto _ : state) {
		state.PauseTiming();
		tern_recovery r;
		tern_recovery_init(&r, &tern_cc_newreno, MSS, 25000, 4 * ranges, now);
		send_flight(&r, 2 * ranges, now);
		state.ResumeTiming();
		for (const tern_frame &f : acks.frames)
			benchmark::DoNotOptimize(tern_recovery_on_ack(&r, &f, now + 20000, &cbs));
		state.PauseTiming();
		tern_recovery_free(&r);
		state.ResumeTiming();
	}
	state.SetItemsProcessed((int64_t)state.iterations() * (int64_t)ranges);
	state.counters["frames"] = (double)acks.frames.size();
	state.counters["acked_per_iter"] = (double)n_acked / (double)state.iterations();
	state.counters["lost_per_iter"] = (double)n_lost / (double)state.iterations();
}

} // namespace

BENCHMARK(BM_OnAckRanges)->Arg(256)->Arg(1000);

BENCHMARK_MAIN();
