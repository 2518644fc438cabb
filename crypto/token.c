/* Tickets as XChaCha20-Poly1305 sealed blobs. The 24-byte nonce is random, so
 * any number of servers and auth-service instances can mint under one key
 * without coordinating counters. The version byte is the associated data: a
 * future format cannot be confused with this one. Plaintext copies are wiped
 * on every exit path. */
#include <sodium.h>

#include "token.h"

#define PT_LEN (8 + 8 + 32)

int tern_token_keygen(uint8_t key[TERN_TOKEN_KEY_LEN])
{
	if (sodium_init() < 0)
		return TERN_ECRYPTO;
	crypto_aead_xchacha20poly1305_ietf_keygen(key);
	return 0;
}

int tern_token_mint(const uint8_t key[TERN_TOKEN_KEY_LEN], uint64_t pid, uint64_t expiry,
                    const uint8_t client_pub[32], const uint8_t *nonce, uint8_t *out, size_t cap)
{
	uint8_t pt[PT_LEN];

	if (cap < TERN_TOKEN_LEN)
		return TERN_ENOSPC;
	if (sodium_init() < 0)
		return TERN_ECRYPTO;
	out[0] = TERN_TOKEN_VERSION;
	if (nonce)
		memcpy(out + 1, nonce, TERN_TOKEN_NONCE_LEN);
	else
		randombytes_buf(out + 1, TERN_TOKEN_NONCE_LEN);
	tern_put_be64(pt, pid);
	tern_put_be64(pt + 8, expiry);
	memcpy(pt + 16, client_pub, 32);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 1 + TERN_TOKEN_NONCE_LEN, NULL, pt,
	                                           sizeof(pt), out, 1, NULL, out + 1, key);
	sodium_memzero(pt, sizeof(pt));
	return TERN_TOKEN_LEN;
}

int tern_token_verify(const uint8_t key[TERN_TOKEN_KEY_LEN], const uint8_t *ticket, size_t len,
                      uint64_t now, const uint8_t client_pub[32], uint64_t *pid, uint64_t *expiry)
{
	uint8_t pt[PT_LEN];
	uint64_t exp;
	int rc = 0;

	if (len != TERN_TOKEN_LEN || ticket[0] != TERN_TOKEN_VERSION)
		return TERN_EMALFORMED;
	if (sodium_init() < 0)
		return TERN_ECRYPTO;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
	            pt, NULL, NULL, ticket + 1 + TERN_TOKEN_NONCE_LEN,
	            TERN_TOKEN_LEN - 1 - TERN_TOKEN_NONCE_LEN, ticket, 1, ticket + 1, key) != 0) {
		rc = TERN_ECRYPTO;
		goto out;
	}
	exp = tern_get_be64(pt + 8);
	if (sodium_memcmp(pt + 16, client_pub, 32) != 0)
		rc = TERN_ECRYPTO;
	else if (now >= exp)
		rc = TERN_ETIMEDOUT;
	if (rc == 0 && pid)
		*pid = tern_get_be64(pt);
	if (rc == 0 && expiry)
		*expiry = exp;
out:
	sodium_memzero(pt, sizeof(pt));
	return rc;
}
