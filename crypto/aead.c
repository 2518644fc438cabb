/* Packet protection with libsodium. One struct tern_aead per direction holds
 * the key (or AES-GCM's expanded state) and IV in a crypto/secmem slot: a
 * locked, guarded slab shared with other sessions' secrets, never swapped,
 * wiped on free, and no memory mapping of its own.
 * Seal and open work in place: the packet buffer is the ciphertext buffer. */
#include <sodium.h>

#include "aead.h"
#include "secmem.h"

struct tern_aead {
	enum tern_cipher cipher;
	uint8_t iv[TERN_AEAD_IV_LEN];
	uint8_t key[TERN_AEAD_KEY_LEN];  /* ChaCha20-Poly1305 */
	crypto_aead_aes256gcm_state aes; /* expanded AES key, 16-byte aligned */
};

int tern_crypto_init(void)
{
	return sodium_init() < 0 ? TERN_ECRYPTO : 0;
}

bool tern_crypto_aes_available(void)
{
	return sodium_init() >= 0 && crypto_aead_aes256gcm_is_available();
}

const char *tern_cipher_name(enum tern_cipher c)
{
	switch (c) {
	case TERN_CIPHER_CHACHA20_POLY1305:
		return "chacha20-poly1305";
	case TERN_CIPHER_AES256_GCM:
		return "aes-256-gcm";
	}
	return "unknown";
}

int tern_aead_new(struct tern_aead **out, enum tern_cipher c, const uint8_t key[TERN_AEAD_KEY_LEN],
                  const uint8_t iv[TERN_AEAD_IV_LEN])
{
	struct tern_aead *a;

	*out = NULL;
	if (tern_crypto_init() < 0)
		return TERN_ECRYPTO;
	if (c != TERN_CIPHER_CHACHA20_POLY1305 && c != TERN_CIPHER_AES256_GCM)
		return TERN_EINVAL;
	if (c == TERN_CIPHER_AES256_GCM && !crypto_aead_aes256gcm_is_available())
		return TERN_EINVAL;
	a = tern_secmem_alloc(sizeof(*a)); /* zeroed, 16-byte aligned */
	if (!a)
		return TERN_ENOMEM;
	a->cipher = c;
	memcpy(a->iv, iv, TERN_AEAD_IV_LEN);
	if (c == TERN_CIPHER_AES256_GCM)
		crypto_aead_aes256gcm_beforenm(&a->aes, key);
	else
		memcpy(a->key, key, TERN_AEAD_KEY_LEN);
	*out = a;
	return 0;
}

void tern_aead_free(struct tern_aead *a)
{
	tern_secmem_free(a); /* wipes before releasing */
}

/* nonce = IV XOR pn, pn big-endian right-aligned (RFC 9001 §5.3). */
static void make_nonce(const struct tern_aead *a, uint64_t pn, uint8_t nonce[TERN_AEAD_IV_LEN])
{
	memcpy(nonce, a->iv, TERN_AEAD_IV_LEN);
	for (int i = 0; i < 8; i++)
		nonce[TERN_AEAD_IV_LEN - 1 - i] ^= (uint8_t)(pn >> (8 * i));
}

int tern_aead_seal(const struct tern_aead *a, uint64_t pn, const uint8_t *ad, size_t ad_len,
                   uint8_t *buf, size_t len, size_t cap)
{
	uint8_t nonce[TERN_AEAD_IV_LEN];

	if (cap < len + crypto_aead_aes256gcm_ABYTES)
		return TERN_ENOSPC;
	make_nonce(a, pn, nonce);
	if (a->cipher == TERN_CIPHER_AES256_GCM)
		crypto_aead_aes256gcm_encrypt_detached_afternm(buf, buf + len, NULL, buf, len, ad,
		                                               ad_len, NULL, nonce, &a->aes);
	else
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(buf, buf + len, NULL, buf, len,
		                                                   ad, ad_len, NULL, nonce, a->key);
	return (int)(len + crypto_aead_aes256gcm_ABYTES);
}

int tern_aead_open(const struct tern_aead *a, uint64_t pn, const uint8_t *ad, size_t ad_len,
                   uint8_t *buf, size_t len)
{
	uint8_t nonce[TERN_AEAD_IV_LEN];
	size_t clen;
	int rc;

	if (len < crypto_aead_aes256gcm_ABYTES)
		return TERN_ECRYPTO;
	clen = len - crypto_aead_aes256gcm_ABYTES;
	make_nonce(a, pn, nonce);
	if (a->cipher == TERN_CIPHER_AES256_GCM)
		rc = crypto_aead_aes256gcm_decrypt_detached_afternm(
		        buf, NULL, buf, clen, buf + clen, ad, ad_len, nonce, &a->aes);
	else
		rc = crypto_aead_chacha20poly1305_ietf_decrypt_detached(
		        buf, NULL, buf, clen, buf + clen, ad, ad_len, nonce, a->key);
	return rc == 0 ? (int)clen : TERN_ECRYPTO;
}
