/* Packet protection: RFC 8439 known answer, round trips for both ciphers,
 * every tampering rejected, nonce bound to the packet number, and session
 * keys that mirror between initiator and responder. */
#include "tests/check.h"
#include "crypto/aead.h"

static const char rfc8439_pt[] = "Ladies and Gentlemen of the class of '99: If I could offer you "
                                 "only one tip for the future, sunscreen would be it.";

static void test_rfc8439_vector(void)
{
	uint8_t key[32], iv[12] = {7, 0, 0, 0, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47};
	const uint8_t ad[12] = {0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1,
	                        0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7};
	const uint8_t tag[16] = {0x1a, 0xe1, 0x0b, 0x59, 0x4f, 0x09, 0xe2, 0x6a,
	                         0x7e, 0x90, 0x2e, 0xcb, 0xd0, 0x60, 0x06, 0x91};
	const uint8_t ct_head[4] = {0xd3, 0x1a, 0x8d, 0x34};
	uint8_t buf[256];
	size_t n = sizeof(rfc8439_pt) - 1;
	struct tern_aead *a;

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(0x80 + i);
	CHECK_EQ(tern_aead_new(&a, TERN_CIPHER_CHACHA20_POLY1305, key, iv), 0);
	memcpy(buf, rfc8439_pt, n);
	CHECK_EQ(tern_aead_seal(a, 0, ad, sizeof(ad), buf, n, sizeof(buf)), (int)n + 16);
	CHECK(memcmp(buf, ct_head, 4) == 0);
	CHECK(memcmp(buf + n, tag, 16) == 0);
	CHECK_EQ(tern_aead_open(a, 0, ad, sizeof(ad), buf, n + 16), (int)n);
	CHECK(memcmp(buf, rfc8439_pt, n) == 0);
	tern_aead_free(a);
}

static void roundtrip(enum tern_cipher c)
{
	uint8_t key[32] = {1}, iv[12] = {2}, ad[10] = {3}, buf[1500], orig[1400];
	struct tern_aead *a;

	for (size_t i = 0; i < sizeof(orig); i++)
		orig[i] = (uint8_t)(i * 7);
	CHECK_EQ(tern_aead_new(&a, c, key, iv), 0);
	memcpy(buf, orig, sizeof(orig));
	CHECK_EQ(tern_aead_seal(a, 42, ad, sizeof(ad), buf, sizeof(orig), sizeof(buf)), 1416);
	CHECK(memcmp(buf, orig, 64) != 0);
	/* wrong pn, wrong AD, flipped ciphertext bit, flipped tag bit */
	uint8_t copy[1500];
	memcpy(copy, buf, 1416);
	CHECK_EQ(tern_aead_open(a, 43, ad, sizeof(ad), copy, 1416), TERN_ECRYPTO);
	memcpy(copy, buf, 1416);
	ad[0] ^= 1;
	CHECK_EQ(tern_aead_open(a, 42, ad, sizeof(ad), copy, 1416), TERN_ECRYPTO);
	ad[0] ^= 1;
	memcpy(copy, buf, 1416);
	copy[100] ^= 0x10;
	CHECK_EQ(tern_aead_open(a, 42, ad, sizeof(ad), copy, 1416), TERN_ECRYPTO);
	memcpy(copy, buf, 1416);
	copy[1415] ^= 0x80;
	CHECK_EQ(tern_aead_open(a, 42, ad, sizeof(ad), copy, 1416), TERN_ECRYPTO);
	CHECK_EQ(tern_aead_open(a, 42, ad, sizeof(ad), copy, 15), TERN_ECRYPTO);
	CHECK_EQ(tern_aead_open(a, 42, ad, sizeof(ad), buf, 1416), 1400);
	CHECK(memcmp(buf, orig, sizeof(orig)) == 0);
	CHECK_EQ(tern_aead_seal(a, 1, ad, sizeof(ad), buf, 100, 115), TERN_ENOSPC);
	tern_aead_free(a);
}

static void test_keys_mirror(void)
{
	const uint8_t secret[32] = "test secret, 32 bytes long......";
	const uint8_t icid[8] = {1, 2, 3, 4, 5, 6, 7, 8}, rcid[8] = {9, 9, 9, 9, 9, 9, 9, 9};
	struct tern_keys ik, rk, other;
	uint8_t buf[64] = "hello";

	CHECK_EQ(tern_keys_derive(&ik, TERN_CIPHER_CHACHA20_POLY1305, secret, 32, icid, rcid, true),
	         0);
	CHECK_EQ(
	        tern_keys_derive(&rk, TERN_CIPHER_CHACHA20_POLY1305, secret, 32, icid, rcid, false),
	        0);
	CHECK_EQ(tern_aead_seal(ik.tx, 5, NULL, 0, buf, 5, sizeof(buf)), 21);
	CHECK_EQ(tern_aead_open(rk.tx, 5, NULL, 0, buf, 21), TERN_ECRYPTO); /* direction matters */
	memcpy(buf, "hello", 5); /* a failed open leaves buf unspecified */
	CHECK_EQ(tern_aead_seal(ik.tx, 5, NULL, 0, buf, 5, sizeof(buf)), 21);
	CHECK_EQ(tern_aead_open(rk.rx, 5, NULL, 0, buf, 21), 5);
	CHECK(memcmp(buf, "hello", 5) == 0);
	/* a different CID pair gives unrelated keys */
	CHECK_EQ(tern_keys_derive(&other, TERN_CIPHER_CHACHA20_POLY1305, secret, 32, rcid, icid,
	                          false),
	         0);
	CHECK_EQ(tern_aead_seal(ik.tx, 6, NULL, 0, buf, 5, sizeof(buf)), 21);
	CHECK_EQ(tern_aead_open(other.rx, 6, NULL, 0, buf, 21), TERN_ECRYPTO);
	CHECK_EQ(tern_keys_derive(&other, TERN_CIPHER_CHACHA20_POLY1305, secret, 8, icid, rcid,
	                          true),
	         TERN_EINVAL);
	tern_keys_free(&ik);
	tern_keys_free(&rk);
	tern_keys_free(&other);
}

int main(void)
{
	uint8_t k[32] = {0}, iv[12] = {0};
	struct tern_aead *a;

	CHECK_EQ(tern_crypto_init(), 0);
	test_rfc8439_vector();
	roundtrip(TERN_CIPHER_CHACHA20_POLY1305);
	if (tern_crypto_aes_available())
		roundtrip(TERN_CIPHER_AES256_GCM);
	else
		CHECK_EQ(tern_aead_new(&a, TERN_CIPHER_AES256_GCM, k, iv), TERN_EINVAL);
	CHECK_EQ(tern_aead_new(&a, (enum tern_cipher)9, k, iv), TERN_EINVAL);
	test_keys_mirror();
	return tern_check_result("aead");
}
