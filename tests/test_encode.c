/* Base64 (crypto/encode.c): the RFC 4648 §10 vectors both ways, whitespace
 * ignored, and the two ways decoding fails told apart. */
#include "tests/check.h"
#include "crypto/encode.h"
#include "core/common.h"

static const struct {
	const char *bin, *b64;
} rfc4648[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
};

static void test_vectors(void)
{
	char text[16];
	uint8_t bin[16];

	for (size_t i = 0; i < TERN_ARRAY_LEN(rfc4648); i++) {
		size_t n = strlen(rfc4648[i].bin), m = strlen(rfc4648[i].b64);

		CHECK_EQ(tern_base64_encode(text, sizeof(text), (const uint8_t *)rfc4648[i].bin, n),
		         (int)m);
		CHECK(strcmp(text, rfc4648[i].b64) == 0);
		CHECK_EQ(TERN_BASE64_LEN(n), m + 1);
		CHECK_EQ(tern_base64_decode(bin, sizeof(bin), rfc4648[i].b64, m), (int)n);
		CHECK(memcmp(bin, rfc4648[i].bin, n) == 0);
	}
}

static void test_key_roundtrip(void)
{
	uint8_t key[32], back[32];
	char text[TERN_BASE64_LEN(32) + 1];
	int n;

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(i * 37 + 5);
	n = tern_base64_encode(text, TERN_BASE64_LEN(32), key, 32);
	CHECK_EQ(n, 44);
	CHECK_EQ(tern_base64_encode(text, TERN_BASE64_LEN(32) - 1, key, 32), TERN_ENOSPC);
	strcat(text, "\n"); /* as read from a key file */
	CHECK_EQ(tern_base64_decode(back, sizeof(back), text, strlen(text)), 32);
	CHECK(memcmp(key, back, 32) == 0);
}

static void test_decode_errors(void)
{
	uint8_t bin[4];
	const char *bad[] = {"Zm9", "Zm9v!", "Z===", "Zg", "Zm=v", "Zg==Zg=="};

	CHECK_EQ(tern_base64_decode(bin, sizeof(bin), " Zm9v\r\n", 7), 3);
	CHECK_EQ(tern_base64_decode(bin, sizeof(bin), "Zm\n9v", 5), 3);
	for (size_t i = 0; i < TERN_ARRAY_LEN(bad); i++)
		CHECK_EQ(tern_base64_decode(bin, sizeof(bin), bad[i], strlen(bad[i])),
		         TERN_EMALFORMED);
	CHECK_EQ(tern_base64_decode(bin, sizeof(bin), "Zm9vYmFy", 8), TERN_ENOSPC);
	CHECK_EQ(bin[0], 0); /* wiped */
	CHECK_EQ(tern_base64_decode(bin, sizeof(bin), "Zm9vYmE=", 8), TERN_ENOSPC);
	CHECK_EQ(tern_base64_decode(bin, 0, "", 0), 0);
}

int main(void)
{
	test_vectors();
	test_key_roundtrip();
	test_decode_errors();
	return tern_check_result("encode");
}
