/* SHA-256 (crypto/sha256.h): a thin wrapper over libsodium's
 * crypto_hash_sha256 that keeps sodium.h out of the applications, plus the
 * hex form the file service puts on the wire. */
#include <sodium.h>
#include <string.h>

#include "crypto/sha256.h"
#include "tern/error.h"

_Static_assert(sizeof(crypto_hash_sha256_state) <= sizeof(((struct tern_sha256 *)0)->u.bytes),
               "struct tern_sha256 too small for libsodium's state");
_Static_assert(crypto_hash_sha256_BYTES == TERN_SHA256_LEN, "SHA-256 digest size");

static crypto_hash_sha256_state *state(struct tern_sha256 *h)
{
	return (crypto_hash_sha256_state *)(void *)h->u.bytes;
}

int tern_sha256_init(struct tern_sha256 *h)
{
	if (sodium_init() < 0)
		return TERN_ECRYPTO;
	crypto_hash_sha256_init(state(h));
	return 0;
}

void tern_sha256_update(struct tern_sha256 *h, const void *data, size_t len)
{
	if (len)
		crypto_hash_sha256_update(state(h), data, len);
}

void tern_sha256_final(struct tern_sha256 *h, uint8_t out[TERN_SHA256_LEN])
{
	crypto_hash_sha256_final(state(h), out);
	sodium_memzero(h, sizeof(*h));
}

int tern_sha256(uint8_t out[TERN_SHA256_LEN], const void *data, size_t len)
{
	struct tern_sha256 h;
	int rc = tern_sha256_init(&h);

	if (rc < 0)
		return rc;
	tern_sha256_update(&h, data, len);
	tern_sha256_final(&h, out);
	return 0;
}

void tern_sha256_hex(char out[TERN_SHA256_HEX_LEN], const uint8_t digest[TERN_SHA256_LEN])
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < TERN_SHA256_LEN; i++) {
		out[2 * i] = digits[digest[i] >> 4];
		out[2 * i + 1] = digits[digest[i] & 15];
	}
	out[2 * TERN_SHA256_LEN] = '\0';
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int tern_sha256_parse_hex(uint8_t digest[TERN_SHA256_LEN], const char *text, size_t len)
{
	uint8_t tmp[TERN_SHA256_LEN];

	if (!text || len != 2 * TERN_SHA256_LEN)
		return TERN_EMALFORMED;
	for (size_t i = 0; i < TERN_SHA256_LEN; i++) {
		int hi = nibble(text[2 * i]), lo = nibble(text[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return TERN_EMALFORMED;
		tmp[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(digest, tmp, sizeof(tmp));
	return 0;
}
