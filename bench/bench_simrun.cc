// The whole engine in the simulator (apps/simrun.c): one verified transfer
// of 8 MiB over 4 streams between two sessions (handshake keys from a
// secret, AEAD, recovery, congestion control, streams, ACKs and the
// simulated link), per iteration. Reported per CPU second: bytes of virtual
// transfer (bytes_per_second) and packets processed, sent plus received by
// both sessions (packets). goodput_virtual is the simulated link's goodput,
// which says the run was healthy, not how fast the code is.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>

extern "C" {
#include "apps/simrun.h"
}

namespace
{

void BM_SimTransfer(benchmark::State &state)
{
	simrun_cfg c;
	memset(&c, 0, sizeof(c));
	tern_session_cfg_default(&c.sess);
	c.sess.cipher = (enum tern_cipher)state.range(0);
	char err[160];
	if (tern_sim_parse_profile("rate=1gbit,delay=1ms,queue=1m", &c.fwd, err, sizeof(err)) ||
	    tern_sim_parse_profile("delay=1ms", &c.rev, err, sizeof(err))) {
		state.SkipWithError(err);
		return;
	}
	c.xfer = xfer_cfg{8u << 20, 4, 1000, 100000, 0, 1};
	c.limit = 600 * TERN_SEC;
	c.seed = 1;
	uint64_t bytes = 0, pkts = 0;
	double goodput = 0;
	for (auto _ : state) {
		simrun_result r;
		if (simrun(&c, &r) != 0 || r.rc != 0 || r.errors) {
			state.SkipWithError("transfer failed");
			break;
		}
		bytes += c.xfer.bytes;
		pkts += r.tx.pkts_sent + r.tx.pkts_recv + r.rx.pkts_sent + r.rx.pkts_recv;
		goodput = r.goodput_bps;
	}
	state.SetLabel(tern_cipher_name(c.sess.cipher));
	state.SetBytesProcessed((int64_t)bytes);
	state.counters["packets"] = benchmark::Counter((double)pkts, benchmark::Counter::kIsRate);
	state.counters["goodput_virtual"] = goodput;
}

} // namespace

BENCHMARK(BM_SimTransfer)
        ->Arg(TERN_CIPHER_AES256_GCM)
        ->Arg(TERN_CIPHER_CHACHA20_POLY1305)
        ->ArgName("cipher")
        ->Unit(benchmark::kMillisecond)
        ->MinTime(2.0);

BENCHMARK_MAIN();
