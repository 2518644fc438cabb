/* Randomness and wiping for code outside crypto/ (which alone includes
 * sodium.h): CIDs, ephemeral material, secrets on the stack. */
#ifndef TERN_RANDOM_H
#define TERN_RANDOM_H

#include <stddef.h>
#include <stdint.h>

/* Fills out with n bytes from libsodium's CSPRNG (initialising it if needed). */
void tern_random_bytes(uint8_t *out, size_t n);
/* Zeroes n bytes in a way the compiler may not elide. */
void tern_crypto_wipe(void *p, size_t n);

#endif
