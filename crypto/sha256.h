/* SHA-256 for applications (tern-server's file service and tern-cat --get
 * hash what they stream): incremental, over libsodium's
 * crypto_hash_sha256, so code outside crypto/ need not include sodium.h.
 * The state is an opaque, suitably aligned block the size of sodium's. */
#ifndef TERN_SHA256_H
#define TERN_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define TERN_SHA256_LEN 32
#define TERN_SHA256_HEX_LEN (2 * TERN_SHA256_LEN + 1) /* with the NUL */

struct tern_sha256 {
	union {
		uint64_t align;
		unsigned char bytes[128]; /* crypto_hash_sha256_state (104 bytes) */
	} u;
};

/* Starts a hash. Returns 0 or TERN_ECRYPTO (the crypto library failed to
 * start). */
int tern_sha256_init(struct tern_sha256 *h);
/* Adds data[0..len); len 0 is fine. */
void tern_sha256_update(struct tern_sha256 *h, const void *data, size_t len);
/* Writes the digest and wipes the state (init again to reuse it). */
void tern_sha256_final(struct tern_sha256 *h, uint8_t out[TERN_SHA256_LEN]);
/* The digest of data[0..len) in one call. Returns 0 or TERN_ECRYPTO. */
int tern_sha256(uint8_t out[TERN_SHA256_LEN], const void *data, size_t len);
/* Writes a digest as 64 lower-case hex digits and a NUL. */
void tern_sha256_hex(char out[TERN_SHA256_HEX_LEN], const uint8_t digest[TERN_SHA256_LEN]);
/* Parses 64 hex digits (either case) at text. Returns 0 or TERN_EMALFORMED. */
int tern_sha256_parse_hex(uint8_t digest[TERN_SHA256_LEN], const char *text, size_t len);

#endif
