/* Base64 over libsodium's constant-time codec (sodium_bin2base64,
 * sodium_base642bin, variant ORIGINAL). libsodium reports "does not fit" and
 * "not base64" alike, so the decoder tells them apart by counting the
 * significant characters: the caller learns whether to fix its input or its
 * buffer. */
#include <sodium.h>

#include "core/common.h"
#include "encode.h"

#define IGNORED " \t\r\n"

int tern_base64_encode(char *out, size_t cap, const uint8_t *bin, size_t len)
{
	size_t need = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);

	if (cap < need)
		return TERN_ENOSPC;
	sodium_bin2base64(out, cap, bin, len, sodium_base64_VARIANT_ORIGINAL);
	return (int)(need - 1);
}

/* Whether text could be base64 at all (alphabet, whole quads), and if so
 * how many bytes it holds. Not constant-time: only used once decoding failed. */
static bool plausible(const char *text, size_t len, size_t *bytes)
{
	size_t n = 0, pad = 0;

	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/' || c == '='))
			return false;
		n++;
		pad = c == '=' ? pad + 1 : 0;
	}
	if (n % 4 != 0 || pad > 2)
		return false;
	*bytes = n / 4 * 3 - pad;
	return true;
}

int tern_base64_decode(uint8_t *out, size_t cap, const char *text, size_t len)
{
	size_t n = 0;

	if (sodium_init() < 0)
		return TERN_EMALFORMED;
	if (sodium_base642bin(out, cap, text, len, IGNORED, &n, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) == 0)
		return (int)n;
	sodium_memzero(out, cap);
	if (plausible(text, len, &n) && n > cap)
		return TERN_ENOSPC;
	return TERN_EMALFORMED;
}
