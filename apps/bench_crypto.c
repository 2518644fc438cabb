/* tern-bench's reference rates, measured on this machine in the same run so
 * the targets (bulk goodput against one core's AEAD open rate, handshakes
 * against the X25519 rate) compare like with like: tern's own AEAD wrapper
 * opening 1,400-byte packets on one core, and libsodium's X25519 scalar
 * multiplications (variable base, as in each DH, and fixed base, as in
 * ephemeral key generation). Each loop runs for about 0.2 s of this thread's
 * CPU time and divides by that, not by wall time, so a busy machine that
 * takes the core away now and then does not lower the one-core rate. */
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "crypto/aead.h"

#define PKT 1400
#define AD_LEN 17
#define LOOP_NS 200000000ull

static uint64_t thread_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void measure_open(bool chacha, struct bench_ref *ref)
{
	enum tern_cipher c = chacha || !tern_crypto_aes_available() ? TERN_CIPHER_CHACHA20_POLY1305
	                                                            : TERN_CIPHER_AES256_GCM;
	uint8_t key[TERN_AEAD_KEY_LEN] = {1}, iv[TERN_AEAD_IV_LEN] = {2}, ad[AD_LEN] = {3};
	uint8_t ct[PKT + 16], buf[PKT + 16];
	struct tern_aead *a = NULL;
	uint64_t n = 0, t0, t;

	ref->cipher = tern_cipher_name(c);
	if (tern_aead_new(&a, c, key, iv) < 0)
		return;
	memcpy(ct, bench_pat, PKT);
	tern_aead_seal(a, 7, ad, AD_LEN, ct, PKT, sizeof(ct));
	t0 = thread_ns();
	do {
		for (int i = 0; i < 256; i++, n++) {
			memcpy(buf, ct, sizeof(ct));
			if (tern_aead_open(a, 7, ad, AD_LEN, buf, sizeof(buf)) != PKT)
				goto out;
		}
		t = thread_ns();
	} while (t - t0 < LOOP_NS);
	ref->open_pps = (double)n / ((double)(t - t0) * 1e-9);
	ref->open_gbps = ref->open_pps * PKT * 8 / 1e9;
out:
	tern_aead_free(a);
}

static double x25519_rate(bool base)
{
	uint8_t sk[32], pk[32], out[32];
	uint64_t n = 0, t0, t;

	randombytes_buf(sk, sizeof(sk));
	crypto_scalarmult_base(pk, sk);
	t0 = thread_ns();
	do {
		for (int i = 0; i < 64; i++, n++)
			if ((base ? crypto_scalarmult_base(out, sk)
			          : crypto_scalarmult(out, sk, pk)) != 0)
				return 0;
		t = thread_ns();
	} while (t - t0 < LOOP_NS);
	return (double)n / ((double)(t - t0) * 1e-9);
}

void bench_reference(bool chacha, struct bench_ref *ref)
{
	memset(ref, 0, sizeof(*ref));
	if (tern_crypto_init() < 0)
		return;
	measure_open(chacha, ref);
	ref->x25519_per_s = x25519_rate(false);
	ref->x25519_base_per_s = x25519_rate(true);
}
