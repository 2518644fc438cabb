/* Session tickets: a credential the auth service mints and the server checks
 * during the handshake, without a database lookup. A ticket is an
 * XChaCha20-Poly1305 sealed blob under a key the auth service and the servers
 * share; it carries the principal id (pid), an expiry and the client's static
 * public key, so a ticket stolen from the wire is useless without that key's
 * private half (the handshake proves possession). Layout: docs/handshake.md §7. */
#ifndef TERN_TOKEN_H
#define TERN_TOKEN_H

#include "core/common.h"

#define TERN_TOKEN_KEY_LEN 32
#define TERN_TOKEN_NONCE_LEN 24
#define TERN_TOKEN_VERSION 1
/* version (1) || nonce (24) || sealed(pid 8, expiry 8, client pub 32) || tag (16) */
#define TERN_TOKEN_LEN (1 + TERN_TOKEN_NONCE_LEN + 8 + 8 + 32 + 16)
#define TERN_TOKEN_MAX 256 /* largest ticket a handshake carries */

/* Generates a fresh random ticket key. Returns 0 or TERN_ECRYPTO. */
int tern_token_keygen(uint8_t key[TERN_TOKEN_KEY_LEN]);

/* Mints a ticket for client_pub valid while now < expiry (unix seconds).
 * nonce: NULL for a random one (always, outside test vectors). Writes
 * TERN_TOKEN_LEN bytes to out. Returns TERN_TOKEN_LEN, TERN_ENOSPC if
 * cap < TERN_TOKEN_LEN, or TERN_ECRYPTO. */
int tern_token_mint(const uint8_t key[TERN_TOKEN_KEY_LEN], uint64_t pid, uint64_t expiry,
                    const uint8_t client_pub[32], const uint8_t *nonce, uint8_t *out, size_t cap);

/* Verifies a ticket: authentic under key, bound to client_pub (the static key
 * the handshake authenticated) and not expired at now (unix seconds). On
 * success stores pid and expiry (either pointer may be NULL). Returns 0,
 * TERN_EMALFORMED (wrong length or version), TERN_ECRYPTO (forged, or minted
 * for another key) or TERN_ETIMEDOUT (now >= expiry). *pid is untouched on
 * failure. */
int tern_token_verify(const uint8_t key[TERN_TOKEN_KEY_LEN], const uint8_t *ticket, size_t len,
                      uint64_t now, const uint8_t client_pub[32], uint64_t *pid, uint64_t *expiry);

#endif
