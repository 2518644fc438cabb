/* SipHash-2-4 (crypto/shorthash.h) over libsodium's crypto_shorthash. It
 * needs no sodium_init: the function is pure. */
#include <sodium.h>

#include "crypto/shorthash.h"

_Static_assert(crypto_shorthash_KEYBYTES == TERN_SHORTHASH_KEYLEN, "SipHash key size");
_Static_assert(crypto_shorthash_BYTES == sizeof(uint64_t), "SipHash output size");

uint64_t tern_shorthash(const uint8_t key[TERN_SHORTHASH_KEYLEN], const void *in, size_t len)
{
	unsigned char out[crypto_shorthash_BYTES];

	crypto_shorthash(out, in, len, key);
	return (uint64_t)out[0] | (uint64_t)out[1] << 8 | (uint64_t)out[2] << 16 |
	       (uint64_t)out[3] << 24 | (uint64_t)out[4] << 32 | (uint64_t)out[5] << 40 |
	       (uint64_t)out[6] << 48 | (uint64_t)out[7] << 56;
}
