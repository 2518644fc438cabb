/* Noise protocol framework building blocks for Noise_*_25519_ChaChaPoly_BLAKE2b
 * (noiseprotocol.org rev 34): the CipherState and SymmetricState of §5.1-§5.2,
 * HMAC and HKDF of §4.3, and DH with all-zero (low-order) results rejected.
 * Internal to crypto/: crypto/handshake.c runs the IK pattern on top. A
 * struct tern_noise holds secrets; its owner keeps it in sodium_malloc'd
 * memory or wipes it (tern_noise_wipe) before it goes out of scope. */
#ifndef TERN_NOISE_H
#define TERN_NOISE_H

#include "core/common.h"

#define TERN_NOISE_HASHLEN 64
#define TERN_NOISE_BLOCKLEN 128
#define TERN_NOISE_DHLEN 32
#define TERN_NOISE_KEYLEN 32
#define TERN_NOISE_TAGLEN 16

struct tern_noise {
	uint8_t ck[TERN_NOISE_HASHLEN]; /* chaining key */
	uint8_t h[TERN_NOISE_HASHLEN];  /* handshake hash */
	uint8_t k[TERN_NOISE_KEYLEN];   /* cipher key, valid when has_k */
	bool has_k;
	uint64_t n; /* cipher nonce */
};

/* InitializeSymmetric(protocol_name) (name ≤ 64 bytes, so h = name padded
 * with zeros), then MixHash(prologue). */
void tern_noise_init(struct tern_noise *ns, const char *protocol_name, const uint8_t *prologue,
                     size_t prologue_len);
void tern_noise_mix_hash(struct tern_noise *ns, const uint8_t *data, size_t len);
void tern_noise_mix_key(struct tern_noise *ns, const uint8_t *ikm, size_t len);
/* MixKey(DH(priv, pub)). Returns 0, or TERN_ECRYPTO if the shared secret is
 * all zeros (pub is a low-order point); ns is then unchanged. */
int tern_noise_mix_dh(struct tern_noise *ns, const uint8_t priv[TERN_NOISE_DHLEN],
                      const uint8_t pub[TERN_NOISE_DHLEN]);
/* EncryptAndHash: writes len (+16 if a key is set) bytes to out (out must not
 * overlap pt). */
void tern_noise_encrypt_and_hash(struct tern_noise *ns, uint8_t *out, const uint8_t *pt,
                                 size_t len);
/* DecryptAndHash: ct of len bytes (tag included if a key is set) into out (no
 * overlap). Returns 0 or TERN_ECRYPTO (ns unchanged, out wiped). */
int tern_noise_decrypt_and_hash(struct tern_noise *ns, uint8_t *out, const uint8_t *ct, size_t len);
/* Split(): the initiator-to-responder and responder-to-initiator keys. */
void tern_noise_split(const struct tern_noise *ns, uint8_t k1[TERN_NOISE_KEYLEN],
                      uint8_t k2[TERN_NOISE_KEYLEN]);
void tern_noise_wipe(struct tern_noise *ns);
/* A key bound to everything the handshake has seen so far: the first
 * KEYLEN bytes of HKDF(ck, label || h)'s first output. Neither ck nor h is
 * changed, so the handshake carries on as if nothing was derived. tern uses
 * it to authenticate refusals (docs/handshake.md §8). */
void tern_noise_derive(const struct tern_noise *ns, const char *label,
                       uint8_t out[TERN_NOISE_KEYLEN]);

/* HMAC-BLAKE2b over the concatenation d1 || d2 (either may be empty). */
void tern_noise_hmac(uint8_t out[TERN_NOISE_HASHLEN], const uint8_t *key, size_t key_len,
                     const uint8_t *d1, size_t l1, const uint8_t *d2, size_t l2);
/* HKDF(ck, ikm, 2): two HASHLEN outputs (§4.3). */
void tern_noise_hkdf2(const uint8_t ck[TERN_NOISE_HASHLEN], const uint8_t *ikm, size_t ikm_len,
                      uint8_t out1[TERN_NOISE_HASHLEN], uint8_t out2[TERN_NOISE_HASHLEN]);

/* X25519 calls made by this thread so far (a test hook: proves a code path
 * performs no Diffie-Hellman). */
uint64_t tern_noise_dh_calls(void);

#endif
