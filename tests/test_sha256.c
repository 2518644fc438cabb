/* crypto/sha256.h: the FIPS 180-2 vectors (one call, and fed in pieces of
 * every size so the incremental path is the same hash), hex round trip and
 * malformed hex refused. */
#include <string.h>

#include "tests/check.h"
#include "crypto/sha256.h"
#include "tern/error.h"

static const struct {
	const char *msg;
	const char *hex;
} vectors[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
};

static void test_vectors(void)
{
	for (size_t v = 0; v < sizeof(vectors) / sizeof(vectors[0]); v++) {
		const char *m = vectors[v].msg;
		uint8_t d[TERN_SHA256_LEN];
		char hex[TERN_SHA256_HEX_LEN];

		CHECK_EQ(tern_sha256(d, m, strlen(m)), 0);
		tern_sha256_hex(hex, d);
		CHECK(strcmp(hex, vectors[v].hex) == 0);
		for (size_t step = 1; step <= 7; step++) {
			struct tern_sha256 h;

			CHECK_EQ(tern_sha256_init(&h), 0);
			for (size_t off = 0; off < strlen(m); off += step) {
				size_t n = strlen(m) - off < step ? strlen(m) - off : step;
				tern_sha256_update(&h, m + off, n);
			}
			tern_sha256_final(&h, d);
			tern_sha256_hex(hex, d);
			CHECK(strcmp(hex, vectors[v].hex) == 0);
		}
	}
}

/* One million 'a's (FIPS 180-2 appendix B.3), in 1000-byte pieces. */
static void test_million(void)
{
	struct tern_sha256 h;
	uint8_t d[TERN_SHA256_LEN];
	char block[1000], hex[TERN_SHA256_HEX_LEN];

	memset(block, 'a', sizeof(block));
	CHECK_EQ(tern_sha256_init(&h), 0);
	for (int i = 0; i < 1000; i++)
		tern_sha256_update(&h, block, sizeof(block));
	tern_sha256_final(&h, d);
	tern_sha256_hex(hex, d);
	CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
}

static void test_hex(void)
{
	const char *up = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
	uint8_t d[TERN_SHA256_LEN], want[TERN_SHA256_LEN];
	char hex[TERN_SHA256_HEX_LEN];

	CHECK_EQ(tern_sha256(want, "abc", 3), 0);
	CHECK_EQ(tern_sha256_parse_hex(d, up, 64), 0);
	CHECK(memcmp(d, want, sizeof(d)) == 0);
	tern_sha256_hex(hex, d);
	CHECK_EQ(tern_sha256_parse_hex(d, hex, strlen(hex)), 0);
	CHECK(memcmp(d, want, sizeof(d)) == 0);
	CHECK_EQ(tern_sha256_parse_hex(d, up, 63), TERN_EMALFORMED);
	CHECK_EQ(tern_sha256_parse_hex(d, up, 65), TERN_EMALFORMED);
	CHECK_EQ(tern_sha256_parse_hex(d, "g", 1), TERN_EMALFORMED);
	memcpy(hex, up, 64);
	hex[10] = 'x';
	CHECK_EQ(tern_sha256_parse_hex(d, hex, 64), TERN_EMALFORMED);
	CHECK(memcmp(d, want, sizeof(d)) == 0); /* untouched on error */
	CHECK_EQ(tern_sha256_parse_hex(d, NULL, 64), TERN_EMALFORMED);
}

int main(void)
{
	test_vectors();
	test_million();
	test_hex();
	return tern_check_result("sha256");
}
