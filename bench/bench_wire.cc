// Micro-benchmarks for wire encode/decode (core/wire.c): the data packet
// header both ways, STREAM frames both ways (a full 1400-byte payload, the
// bulk-transfer case), and an ACK frame of 32 ranges both ways, including
// walking its ranges as recovery does.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <vector>

extern "C" {
#include "wire.h"
}

namespace
{

const uint8_t cid[TERN_CID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};

void BM_DataHdrEncode(benchmark::State &state)
{
	uint8_t buf[64];
	uint64_t pn = 1000000;
	for (auto _ : state) {
		size_t n = tern_wire_data_hdr_encode(buf, sizeof(buf), cid, pn, pn - 30, 0);
		benchmark::DoNotOptimize(n);
		benchmark::DoNotOptimize(buf);
		pn++;
	}
}

void BM_DataHdrDecode(benchmark::State &state)
{
	uint8_t pkt[TERN_MAX_PACKET] = {0};
	size_t n = tern_wire_data_hdr_encode(pkt, sizeof(pkt), cid, 1000000, 999970, 0);
	tern_data_hdr h;
	uint64_t largest = 999999;
	for (auto _ : state) {
		int rc = tern_wire_data_hdr_decode(pkt, 1400, &h);
		uint64_t pn = tern_wire_pn_expand(largest, h.pn_trunc, h.pn_len);
		benchmark::DoNotOptimize(rc);
		benchmark::DoNotOptimize(pn);
	}
	state.counters["hdr_len"] = (double)n;
}

void BM_StreamEncode(benchmark::State &state)
{
	std::vector<uint8_t> data(1400, 0x5a);
	uint8_t buf[TERN_MAX_PACKET];
	uint64_t off = 0;
	for (auto _ : state) {
		size_t got = 0;
		size_t n = tern_frame_encode_stream(buf, 1400, 3, off, data.data(), data.size(),
		                                    false, false, true, &got);
		benchmark::DoNotOptimize(n);
		benchmark::ClobberMemory();
		off += got;
	}
	state.SetBytesProcessed((int64_t)state.iterations() * 1400);
}

void BM_StreamDecode(benchmark::State &state)
{
	std::vector<uint8_t> data(1400, 0x5a);
	uint8_t buf[TERN_MAX_PACKET];
	size_t got = 0;
	size_t n = tern_frame_encode_stream(buf, 1400, 3, 123456789, data.data(), data.size(),
	                                    false, true, true, &got);
	tern_frame f;
	for (auto _ : state) {
		const uint8_t *p = buf;
		int rc = tern_frame_decode(&p, buf + n, &f);
		benchmark::DoNotOptimize(rc);
		benchmark::DoNotOptimize(f);
	}
	state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)got);
}

// 32 ranges: every 4th packet of 128 missing below the largest.
std::vector<tern_ack_range> ack_ranges(size_t n)
{
	std::vector<tern_ack_range> r;
	uint64_t hi = 1000000;
	for (size_t i = 0; i < n; i++, hi -= 4)
		r.push_back({hi - 2, hi});
	return r;
}

void BM_AckEncode32(benchmark::State &state)
{
	auto r = ack_ranges(32);
	uint8_t buf[TERN_MAX_PACKET];
	for (auto _ : state) {
		size_t written = 0;
		size_t n =
		        tern_frame_encode_ack(buf, sizeof(buf), r.data(), r.size(), 1000, &written);
		benchmark::DoNotOptimize(n);
		benchmark::ClobberMemory();
	}
	state.SetItemsProcessed((int64_t)state.iterations() * 32);
}

void BM_AckDecodeIterate32(benchmark::State &state)
{
	auto r = ack_ranges(32);
	uint8_t buf[TERN_MAX_PACKET];
	size_t written = 0;
	size_t n = tern_frame_encode_ack(buf, sizeof(buf), r.data(), r.size(), 1000, &written);
	tern_frame f;
	for (auto _ : state) {
		const uint8_t *p = buf;
		int rc = tern_frame_decode(&p, buf + n, &f);
		tern_ack_iter it;
		tern_ack_range rg;
		uint64_t sum = 0;
		tern_ack_iter_init(&it, &f);
		while (tern_ack_iter_next(&it, &rg))
			sum += rg.hi - rg.lo;
		benchmark::DoNotOptimize(rc);
		benchmark::DoNotOptimize(sum);
	}
	state.SetItemsProcessed((int64_t)state.iterations() * 32);
}

} // namespace

BENCHMARK(BM_DataHdrEncode);
BENCHMARK(BM_DataHdrDecode);
BENCHMARK(BM_StreamEncode);
BENCHMARK(BM_StreamDecode);
BENCHMARK(BM_AckEncode32);
BENCHMARK(BM_AckDecodeIterate32);

BENCHMARK_MAIN();
