/* Randomness and wiping through libsodium (see random.h). */
#include <sodium.h>
#include <string.h>

#include "random.h"

void tern_random_bytes(uint8_t *out, size_t n)
{
	if (sodium_init() < 0) {
		/* Cannot happen on Linux (getrandom or /dev/urandom); never hand
		 * out predictable bytes: poison them and let AEAD checks fail. */
		memset(out, 0, n);
		return;
	}
	randombytes_buf(out, n);
}

void tern_crypto_wipe(void *p, size_t n)
{
	sodium_memzero(p, n);
}
