// Micro-benchmarks for the Noise IK handshake (crypto/handshake.c) and raw
// X25519: each handshake step on its own (the other steps run with timing
// paused), and the whole exchange. An initiation costs the initiator two
// DHs plus an ephemeral key; consuming it costs the responder two; the
// response costs one more DH pair on each side. X25519 is the floor.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>

#include <sodium.h>

extern "C" {
#include "crypto/handshake.h"
}

namespace
{

struct Peers {
	tern_hs_keypair ik{}, rk{};
	tern_hs_mac_keys rmac{};
	uint8_t ts[TERN_HS_TIMESTAMP_LEN] = {0};
	Peers()
	{
		tern_crypto_init();
		tern_hs_keypair_generate(&ik);
		tern_hs_keypair_generate(&rk);
		tern_hs_mac_keys_init(&rmac, rk.pub);
	}
};

bool fresh(void *, const uint8_t *, const uint8_t *)
{
	return true; // no replay state: every iteration reuses the timestamp
}

tern_hs_params params()
{
	return {262144, 1048576, 16, 25000, 30000};
}

tern_hs_init_config init_cfg(const Peers &p)
{
	tern_hs_init_config c{};
	c.local = &p.ik;
	c.remote_pub = p.rk.pub;
	c.timestamp = p.ts;
	memset(c.cid, 0x11, sizeof(c.cid));
	c.vport = 7000;
	c.params = params();
	return c;
}

tern_hs_resp_config resp_cfg(const Peers &p)
{
	tern_hs_resp_config c{};
	c.local = &p.rk;
	c.mac = &p.rmac;
	c.fresh = fresh;
	return c;
}

struct Msgs {
	uint8_t m1[TERN_HS_INIT_LEN], m2[TERN_HS_RESP_LEN];
	size_t n1 = 0, n2 = 0;
	tern_hs_initiator *is = nullptr;
	tern_hs_responder *rs = nullptr;
	tern_hs_init_info info{};
	tern_hs_result ir{}, rr{};
};

const uint8_t rcid[TERN_CID_LEN] = {2, 2, 2, 2, 2, 2, 2, 2};

bool step1(const Peers &p, Msgs &m)
{
	auto ic = init_cfg(p);
	return tern_hs_initiation_create(&m.is, &ic, m.m1, sizeof(m.m1), &m.n1, nullptr) == 0;
}

bool step2(const Peers &p, Msgs &m)
{
	auto rc = resp_cfg(p);
	return tern_hs_initiation_consume(&m.rs, &rc, m.m1, m.n1, &m.info, nullptr) == 0;
}

bool step3(Msgs &m)
{
	auto pr = params();
	return tern_hs_response_create(m.rs, rcid, &pr, nullptr, m.m2, sizeof(m.m2), &m.n2, &m.rr,
	                               nullptr) == 0;
}

bool step4(Msgs &m)
{
	return tern_hs_response_consume(m.is, m.m2, m.n2, &m.ir, nullptr) == 0;
}

void cleanup(Msgs &m)
{
	tern_hs_initiator_free(m.is);
	tern_hs_responder_free(m.rs);
	tern_keys_free(&m.ir.keys);
	tern_keys_free(&m.rr.keys);
	m = Msgs{};
}

void BM_X25519(benchmark::State &state)
{
	Peers p;
	uint8_t out[32];
	for (auto _ : state) {
		int rc = crypto_scalarmult(out, p.ik.priv, p.rk.pub);
		benchmark::DoNotOptimize(rc);
		benchmark::DoNotOptimize(out);
	}
	state.SetItemsProcessed((int64_t)state.iterations());
}

void BM_X25519Keygen(benchmark::State &state)
{
	tern_crypto_init();
	tern_hs_keypair kp;
	for (auto _ : state) {
		tern_hs_keypair_generate(&kp);
		benchmark::DoNotOptimize(kp);
	}
	state.SetItemsProcessed((int64_t)state.iterations());
}

// Runs the four steps with only step `timed` (1..4) under the timer.
void run_step(benchmark::State &state, int timed)
{
	Peers p;
	Msgs m;
	for (auto _ : state) {
		state.PauseTiming();
		bool ok = true;
		for (int s = 1; s <= 4 && ok; s++) {
			if (s == timed)
				state.ResumeTiming();
			ok = s == 1   ? step1(p, m)
			     : s == 2 ? step2(p, m)
			     : s == 3 ? step3(m)
			              : step4(m);
			if (s == timed)
				state.PauseTiming();
		}
		if (!ok)
			state.SkipWithError("handshake step failed");
		cleanup(m);
		state.ResumeTiming();
	}
	state.SetItemsProcessed((int64_t)state.iterations());
}

void BM_HsInitiationCreate(benchmark::State &state)
{
	run_step(state, 1);
}
void BM_HsInitiationConsume(benchmark::State &state)
{
	run_step(state, 2);
}
void BM_HsResponseCreate(benchmark::State &state)
{
	run_step(state, 3);
}
void BM_HsResponseConsume(benchmark::State &state)
{
	run_step(state, 4);
}

void BM_HsFull(benchmark::State &state)
{
	Peers p;
	Msgs m;
	for (auto _ : state) {
		if (!(step1(p, m) && step2(p, m) && step3(m) && step4(m)))
			state.SkipWithError("handshake failed");
		cleanup(m);
	}
	state.SetItemsProcessed((int64_t)state.iterations());
}

} // namespace

BENCHMARK(BM_X25519);
BENCHMARK(BM_X25519Keygen);
BENCHMARK(BM_HsInitiationCreate);
BENCHMARK(BM_HsInitiationConsume);
BENCHMARK(BM_HsResponseCreate);
BENCHMARK(BM_HsResponseConsume);
BENCHMARK(BM_HsFull);

BENCHMARK_MAIN();
