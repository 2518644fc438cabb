// Micro-benchmarks for packet protection (crypto/aead.c): seal and open in
// place at 64, 1200 and 1472 bytes of payload for ChaCha20-Poly1305 and
// AES-256-GCM (AES only where the CPU has it), with a 13-byte header as
// associated data, as a data packet has. Open needs fresh ciphertext each
// time (it decrypts in place), so each open iteration first copies the
// sealed packet back: BM_Copy measures that copy alone.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <vector>

extern "C" {
#include "crypto/aead.h"
}

namespace
{

const uint8_t key[TERN_AEAD_KEY_LEN] = {7};
const uint8_t iv[TERN_AEAD_IV_LEN] = {9};
const uint8_t ad[13] = {0x40, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 1, 2};

tern_aead *make(benchmark::State &state)
{
	auto c = (enum tern_cipher)state.range(0);
	tern_aead *a = nullptr;
	tern_crypto_init();
	if (tern_aead_new(&a, c, key, iv) != 0) {
		state.SkipWithError("cipher unavailable on this CPU");
		return nullptr;
	}
	state.SetLabel(tern_cipher_name(c));
	return a;
}

void BM_Seal(benchmark::State &state)
{
	tern_aead *a = make(state);
	if (!a)
		return;
	size_t len = (size_t)state.range(1);
	std::vector<uint8_t> buf(len + 16, 0xab);
	uint64_t pn = 0;
	for (auto _ : state) {
		int n = tern_aead_seal(a, pn++, ad, sizeof(ad), buf.data(), len, buf.size());
		benchmark::DoNotOptimize(n);
		benchmark::ClobberMemory();
	}
	state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)len);
	tern_aead_free(a);
}

void BM_Open(benchmark::State &state)
{
	tern_aead *a = make(state);
	if (!a)
		return;
	size_t len = (size_t)state.range(1);
	std::vector<uint8_t> sealed(len + 16, 0xab), buf(len + 16);
	if (tern_aead_seal(a, 42, ad, sizeof(ad), sealed.data(), len, sealed.size()) < 0) {
		state.SkipWithError("seal failed");
		return;
	}
	for (auto _ : state) {
		memcpy(buf.data(), sealed.data(), sealed.size());
		int n = tern_aead_open(a, 42, ad, sizeof(ad), buf.data(), sealed.size());
		if (n != (int)len)
			state.SkipWithError("open failed");
		benchmark::DoNotOptimize(n);
	}
	state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)len);
	tern_aead_free(a);
}

void BM_Copy(benchmark::State &state)
{
	size_t len = (size_t)state.range(0) + 16;
	std::vector<uint8_t> src(len, 1), dst(len);
	for (auto _ : state) {
		memcpy(dst.data(), src.data(), len);
		benchmark::ClobberMemory();
	}
	state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)len);
}

void args(benchmark::internal::Benchmark *b)
{
	for (int c : {TERN_CIPHER_CHACHA20_POLY1305, TERN_CIPHER_AES256_GCM})
		for (int len : {64, 1200, 1472})
			b->Args({c, len});
	b->ArgNames({"cipher", "bytes"});
}

} // namespace

BENCHMARK(BM_Seal)->Apply(args);
BENCHMARK(BM_Open)->Apply(args);
BENCHMARK(BM_Copy)->Arg(64)->Arg(1200)->Arg(1472);

BENCHMARK_MAIN();
