/* Packet protection: AEAD seal/open under per-session, per-direction keys,
 * the nonce built from the packet number (IV XOR pn, RFC 9001 §5.3), and key
 * derivation from a shared secret. The only code that includes sodium.h is
 * under crypto/. Keys live in locked crypto/secmem slots, wiped on free. */
#ifndef TERN_AEAD_H
#define TERN_AEAD_H

#include "core/common.h"

enum tern_cipher {
	TERN_CIPHER_CHACHA20_POLY1305 = 1,
	TERN_CIPHER_AES256_GCM = 2,
};

#define TERN_AEAD_KEY_LEN 32
#define TERN_AEAD_IV_LEN 12

struct tern_aead;

/* Initialises libsodium once (thread-safe). Returns 0 or TERN_ECRYPTO. */
int tern_crypto_init(void);
/* True if this CPU can run AES-256-GCM (AES-NI + PCLMUL). */
bool tern_crypto_aes_available(void);
const char *tern_cipher_name(enum tern_cipher c);

/* Returns 0, TERN_EINVAL (unknown cipher or AES unavailable) or TERN_ENOMEM. */
int tern_aead_new(struct tern_aead **out, enum tern_cipher c, const uint8_t key[TERN_AEAD_KEY_LEN],
                  const uint8_t iv[TERN_AEAD_IV_LEN]);
/* Wipes and frees; NULL is fine. */
void tern_aead_free(struct tern_aead *a);
/* Seals buf[0..len) in place, appending the tag. cap must be ≥ len + 16.
 * Returns the sealed length or TERN_ENOSPC. */
int tern_aead_seal(const struct tern_aead *a, uint64_t pn, const uint8_t *ad, size_t ad_len,
                   uint8_t *buf, size_t len, size_t cap);
/* Opens buf[0..len) (ciphertext + tag) in place. Returns the plaintext length,
 * or TERN_ECRYPTO if authentication fails (buf contents then unspecified). */
int tern_aead_open(const struct tern_aead *a, uint64_t pn, const uint8_t *ad, size_t ad_len,
                   uint8_t *buf, size_t len);

/* Session keys, one generation of them: each direction's AEAD and, for key
 * update (docs/protocol.md §5.4), each direction's 32-byte pseudorandom key
 * of this generation, from which the next generation is derived. The PRKs
 * live in a locked crypto/secmem slot; tern_keys_free wipes and frees all of it.
 * A zeroed struct holds nothing and may be freed. */
#define TERN_KEYS_PRK_LEN 32
struct tern_keys {
	struct tern_aead *tx, *rx;
	uint8_t *prk;            /* [0, 32) i2r, [32, 64) r2i; NULL when freed */
	enum tern_cipher cipher; /* both directions */
	uint64_t generation;     /* 0 for keys from the handshake or a secret */
	bool initiator;          /* tx is i2r */
};
/* Session keys from a shared secret (issue 2: a test-supplied secret; issue 3
 * replaces the caller with the Noise handshake). BLAKE2b-keyed KDF over the
 * secret with a label and both connection IDs; the initiator's tx key is the
 * responder's rx key. Returns 0, TERN_EINVAL or TERN_ENOMEM. */
int tern_keys_derive(struct tern_keys *k, enum tern_cipher c, const uint8_t *secret,
                     size_t secret_len, const uint8_t initiator_cid[8],
                     const uint8_t responder_cid[8], bool initiator);
/* The label expansion both key sources share: each direction's key and IV
 * from its own 32-byte pseudorandom key (docs/protocol.md §5.3; the handshake
 * passes the two halves of Noise Split(), tern_keys_derive passes its prk
 * twice). Generation 0. Returns 0, TERN_EINVAL or TERN_ENOMEM; on error k
 * holds NULLs. */
int tern_keys_from_prk(struct tern_keys *k, enum tern_cipher c,
                       const uint8_t prk_i2r[TERN_KEYS_PRK_LEN],
                       const uint8_t prk_r2i[TERN_KEYS_PRK_LEN], bool initiator);
/* The generation after cur (docs/protocol.md §5.4): per direction
 * prk' = BLAKE2b(outlen 32, key = prk, "tern v1 ku"), then the label
 * expansion of tern_keys_from_prk; same cipher and role, generation + 1. cur
 * is unchanged. Returns 0, TERN_EINVAL (cur holds no PRKs), TERN_ENOMEM or
 * TERN_ECRYPTO; on error next holds NULLs. */
int tern_keys_next(const struct tern_keys *cur, struct tern_keys *next);
/* Wipes and frees everything k holds and zeroes k. */
void tern_keys_free(struct tern_keys *k);

#endif
