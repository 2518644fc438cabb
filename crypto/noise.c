/* Noise SymmetricState/CipherState over libsodium: BLAKE2b-512 as HASH,
 * HMAC built by hand (libsodium has no HMAC-BLAKE2b; BLOCKLEN is 128), and
 * ChaCha20-Poly1305 IETF with Noise's nonce layout (32 zero bits, then the
 * 64-bit counter little-endian). Every temporary that held key material is
 * wiped before return. */
#include <sodium.h>

#include "noise.h"

static _Thread_local uint64_t dh_calls;

uint64_t tern_noise_dh_calls(void)
{
	return dh_calls;
}

static void hash2(uint8_t out[TERN_NOISE_HASHLEN], const uint8_t *d1, size_t l1, const uint8_t *d2,
                  size_t l2)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, TERN_NOISE_HASHLEN);
	crypto_generichash_update(&st, d1, l1);
	crypto_generichash_update(&st, d2, l2);
	crypto_generichash_final(&st, out, TERN_NOISE_HASHLEN);
	sodium_memzero(&st, sizeof(st));
}

void tern_noise_hmac(uint8_t out[TERN_NOISE_HASHLEN], const uint8_t *key, size_t key_len,
                     const uint8_t *d1, size_t l1, const uint8_t *d2, size_t l2)
{
	uint8_t pad[TERN_NOISE_BLOCKLEN], inner[TERN_NOISE_HASHLEN];
	crypto_generichash_state st;

	memset(pad, 0, sizeof(pad));
	if (key_len > TERN_NOISE_BLOCKLEN)
		hash2(pad, key, key_len, NULL, 0);
	else
		memcpy(pad, key, key_len);
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] ^= 0x36;
	crypto_generichash_init(&st, NULL, 0, TERN_NOISE_HASHLEN);
	crypto_generichash_update(&st, pad, sizeof(pad));
	crypto_generichash_update(&st, d1, l1);
	crypto_generichash_update(&st, d2, l2);
	crypto_generichash_final(&st, inner, sizeof(inner));
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] ^= 0x36 ^ 0x5c;
	hash2(out, pad, sizeof(pad), inner, sizeof(inner));
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
	sodium_memzero(&st, sizeof(st));
}

void tern_noise_hkdf2(const uint8_t ck[TERN_NOISE_HASHLEN], const uint8_t *ikm, size_t ikm_len,
                      uint8_t out1[TERN_NOISE_HASHLEN], uint8_t out2[TERN_NOISE_HASHLEN])
{
	uint8_t temp[TERN_NOISE_HASHLEN], o1[TERN_NOISE_HASHLEN];
	const uint8_t one = 1, two = 2;

	tern_noise_hmac(temp, ck, TERN_NOISE_HASHLEN, ikm, ikm_len, NULL, 0);
	tern_noise_hmac(o1, temp, sizeof(temp), &one, 1, NULL, 0);
	tern_noise_hmac(out2, temp, sizeof(temp), o1, sizeof(o1), &two, 1);
	memcpy(out1, o1, sizeof(o1)); /* out1 may alias ck: written last */
	sodium_memzero(temp, sizeof(temp));
	sodium_memzero(o1, sizeof(o1));
}

void tern_noise_init(struct tern_noise *ns, const char *protocol_name, const uint8_t *prologue,
                     size_t prologue_len)
{
	size_t n = strlen(protocol_name);

	memset(ns, 0, sizeof(*ns));
	if (n <= TERN_NOISE_HASHLEN)
		memcpy(ns->h, protocol_name, n);
	else
		hash2(ns->h, (const uint8_t *)protocol_name, n, NULL, 0);
	memcpy(ns->ck, ns->h, TERN_NOISE_HASHLEN);
	tern_noise_mix_hash(ns, prologue, prologue_len);
}

void tern_noise_mix_hash(struct tern_noise *ns, const uint8_t *data, size_t len)
{
	hash2(ns->h, ns->h, TERN_NOISE_HASHLEN, data, len);
}

void tern_noise_mix_key(struct tern_noise *ns, const uint8_t *ikm, size_t len)
{
	uint8_t temp_k[TERN_NOISE_HASHLEN];

	tern_noise_hkdf2(ns->ck, ikm, len, ns->ck, temp_k);
	memcpy(ns->k, temp_k, TERN_NOISE_KEYLEN); /* HASHLEN 64: truncate to 32 */
	ns->has_k = true;
	ns->n = 0;
	sodium_memzero(temp_k, sizeof(temp_k));
}

int tern_noise_mix_dh(struct tern_noise *ns, const uint8_t priv[TERN_NOISE_DHLEN],
                      const uint8_t pub[TERN_NOISE_DHLEN])
{
	uint8_t shared[TERN_NOISE_DHLEN];
	int rc = 0;

	dh_calls++;
	/* libsodium returns -1 when the result is all zeros (low-order pub). */
	if (crypto_scalarmult(shared, priv, pub) != 0)
		rc = TERN_ECRYPTO;
	else
		tern_noise_mix_key(ns, shared, sizeof(shared));
	sodium_memzero(shared, sizeof(shared));
	return rc;
}

static void nonce_of(uint64_t n, uint8_t nonce[12])
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

void tern_noise_encrypt_and_hash(struct tern_noise *ns, uint8_t *out, const uint8_t *pt, size_t len)
{
	uint8_t nonce[12];
	size_t out_len = len;

	if (ns->has_k) {
		nonce_of(ns->n++, nonce);
		crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, len, ns->h,
		                                          TERN_NOISE_HASHLEN, NULL, nonce, ns->k);
		out_len += TERN_NOISE_TAGLEN;
	} else {
		memcpy(out, pt, len);
	}
	tern_noise_mix_hash(ns, out, out_len);
}

int tern_noise_decrypt_and_hash(struct tern_noise *ns, uint8_t *out, const uint8_t *ct, size_t len)
{
	uint8_t nonce[12];

	if (!ns->has_k) {
		memcpy(out, ct, len);
	} else {
		if (len < TERN_NOISE_TAGLEN)
			return TERN_ECRYPTO;
		nonce_of(ns->n, nonce);
		if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, len, ns->h,
		                                              TERN_NOISE_HASHLEN, nonce,
		                                              ns->k) != 0) {
			sodium_memzero(out, len - TERN_NOISE_TAGLEN);
			return TERN_ECRYPTO;
		}
		ns->n++;
	}
	tern_noise_mix_hash(ns, ct, len);
	return 0;
}

void tern_noise_split(const struct tern_noise *ns, uint8_t k1[TERN_NOISE_KEYLEN],
                      uint8_t k2[TERN_NOISE_KEYLEN])
{
	uint8_t t1[TERN_NOISE_HASHLEN], t2[TERN_NOISE_HASHLEN];

	tern_noise_hkdf2(ns->ck, NULL, 0, t1, t2);
	memcpy(k1, t1, TERN_NOISE_KEYLEN);
	memcpy(k2, t2, TERN_NOISE_KEYLEN);
	sodium_memzero(t1, sizeof(t1));
	sodium_memzero(t2, sizeof(t2));
}

void tern_noise_wipe(struct tern_noise *ns)
{
	sodium_memzero(ns, sizeof(*ns));
}

void tern_noise_derive(const struct tern_noise *ns, const char *label,
                       uint8_t out[TERN_NOISE_KEYLEN])
{
	uint8_t temp[TERN_NOISE_HASHLEN], o1[TERN_NOISE_HASHLEN];
	const uint8_t one = 1;

	/* HKDF's first output, ikm = label || h: temp = HMAC(ck, ikm), o1 = HMAC(temp, 0x01). */
	tern_noise_hmac(temp, ns->ck, TERN_NOISE_HASHLEN, (const uint8_t *)label, strlen(label),
	                ns->h, TERN_NOISE_HASHLEN);
	tern_noise_hmac(o1, temp, sizeof(temp), &one, 1, NULL, 0);
	memcpy(out, o1, TERN_NOISE_KEYLEN);
	sodium_memzero(temp, sizeof(temp));
	sodium_memzero(o1, sizeof(o1));
}
