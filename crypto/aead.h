/* Packet protection: AEAD seal/open under per-session, per-direction keys,
 * the nonce built from the packet number (IV XOR pn, RFC 9001 §5.3), and key
 * derivation from a shared secret. The only code that includes sodium.h is
 * under crypto/. Keys live in sodium_malloc'd memory, wiped on free. */
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

/* Session keys from a shared secret (issue 2: a test-supplied secret; issue 3
 * replaces the caller with the Noise handshake). BLAKE2b-keyed KDF over the
 * secret with a label and both connection IDs; the initiator's tx key is the
 * responder's rx key. Returns 0, TERN_EINVAL or TERN_ENOMEM. */
struct tern_keys {
	struct tern_aead *tx, *rx;
};
int tern_keys_derive(struct tern_keys *k, enum tern_cipher c, const uint8_t *secret,
                     size_t secret_len, const uint8_t initiator_cid[8],
                     const uint8_t responder_cid[8], bool initiator);
/* The label expansion both key sources share: each direction's key and IV
 * from its own 32-byte pseudorandom key (docs/protocol.md §5.3; the handshake
 * passes the two halves of Noise Split(), tern_keys_derive passes its prk
 * twice). Returns 0, TERN_EINVAL or TERN_ENOMEM; on error k holds NULLs. */
#define TERN_KEYS_PRK_LEN 32
int tern_keys_from_prk(struct tern_keys *k, enum tern_cipher c,
                       const uint8_t prk_i2r[TERN_KEYS_PRK_LEN],
                       const uint8_t prk_r2i[TERN_KEYS_PRK_LEN], bool initiator);
void tern_keys_free(struct tern_keys *k);

#endif
