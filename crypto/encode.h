/* Base64 for keys and tickets kept in text files and passed on command
 * lines (RFC 4648 §4: the original alphabet, with padding). A wrapper over
 * libsodium's codec so that code outside crypto/ need not include sodium.h;
 * constant-time in the data, so it may carry private keys. */
#ifndef TERN_ENCODE_H
#define TERN_ENCODE_H

#include <stddef.h>
#include <stdint.h>

/* Characters tern_base64_encode writes for n bytes, NUL included. */
#define TERN_BASE64_LEN(n) (((n) + 2) / 3 * 4 + 1)

/* Writes bin[0..len) as NUL-terminated base64 to out. Returns the length
 * without the NUL, or TERN_ENOSPC if cap < TERN_BASE64_LEN(len) (out is then
 * untouched). */
int tern_base64_encode(char *out, size_t cap, const uint8_t *bin, size_t len);

/* Decodes text[0..len) into out. Spaces, tabs, CRs and LFs anywhere are
 * ignored (a key file's newline). Returns the number of bytes, TERN_ENOSPC
 * if they would not fit in cap, or TERN_EMALFORMED (a character outside the
 * alphabet, missing or misplaced padding). On error out[0..cap) is wiped. */
int tern_base64_decode(uint8_t *out, size_t cap, const char *text, size_t len);

#endif
