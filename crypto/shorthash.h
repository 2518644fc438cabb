/* A keyed hash for tables whose keys someone else chooses (the DPDK
 * backend's neighbour table hashes addresses any station on the link can
 * pick): SipHash-2-4 through libsodium's crypto_shorthash, so code outside
 * crypto/ need not include sodium.h. Without the key, nobody can choose
 * inputs that land in one bucket. */
#ifndef TERN_SHORTHASH_H
#define TERN_SHORTHASH_H

#include <stddef.h>
#include <stdint.h>

#define TERN_SHORTHASH_KEYLEN 16

/* The 64-bit SipHash-2-4 of in[0..len) under key. */
uint64_t tern_shorthash(const uint8_t key[TERN_SHORTHASH_KEYLEN], const void *in, size_t len);

#endif
