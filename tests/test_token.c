/* Tickets: a fixed-nonce known answer (the layout of docs/handshake.md §7),
 * round trip, expiry at the exact second, binding to the client's key, every
 * tampered byte rejected, wrong key, wrong length and version. */
#include "tests/check.h"
#include "crypto/token.h"
#include "tern/tern.h"

static uint8_t key[TERN_TOKEN_KEY_LEN], pub[32], nonce[TERN_TOKEN_NONCE_LEN];

static void setup(void)
{
	for (int i = 0; i < 32; i++) {
		key[i] = (uint8_t)(0xa0 + i);
		pub[i] = (uint8_t)(0x10 + i);
	}
	for (int i = 0; i < TERN_TOKEN_NONCE_LEN; i++)
		nonce[i] = (uint8_t)i;
}

static void test_layout_and_roundtrip(void)
{
	uint8_t t[TERN_TOKEN_LEN + 4], t2[TERN_TOKEN_LEN];
	uint64_t pid = 0, exp = 0;

	CHECK_EQ(TERN_TOKEN_LEN, 89);
	CHECK_EQ(tern_token_mint(key, 42, 1700000000, pub, nonce, t, sizeof(t)), TERN_TOKEN_LEN);
	CHECK_EQ(t[0], 1);
	CHECK(memcmp(t + 1, nonce, sizeof(nonce)) == 0);
	/* Deterministic for a fixed nonce; random nonces differ. */
	CHECK_EQ(tern_token_mint(key, 42, 1700000000, pub, nonce, t2, sizeof(t2)), TERN_TOKEN_LEN);
	CHECK(memcmp(t, t2, TERN_TOKEN_LEN) == 0);
	CHECK_EQ(tern_token_mint(key, 42, 1700000000, pub, NULL, t2, sizeof(t2)), TERN_TOKEN_LEN);
	CHECK(memcmp(t + 1, t2 + 1, TERN_TOKEN_NONCE_LEN) != 0);
	CHECK_EQ(tern_token_verify(key, t2, TERN_TOKEN_LEN, 1699999999, pub, &pid, &exp), 0);
	CHECK_EQ(pid, 42);
	CHECK_EQ(exp, 1700000000);
	CHECK_EQ(tern_token_mint(key, 42, 1, pub, NULL, t2, TERN_TOKEN_LEN - 1), TERN_ENOSPC);
}

static void test_expiry(void)
{
	uint8_t t[TERN_TOKEN_LEN];
	uint64_t pid = 7;

	tern_token_mint(key, 99, 1000, pub, NULL, t, sizeof(t));
	CHECK_EQ(tern_token_verify(key, t, sizeof(t), 0, pub, NULL, NULL), 0);
	CHECK_EQ(tern_token_verify(key, t, sizeof(t), 999, pub, NULL, NULL), 0);
	CHECK_EQ(tern_token_verify(key, t, sizeof(t), 1000, pub, &pid, NULL), TERN_ETIMEDOUT);
	CHECK_EQ(tern_token_verify(key, t, sizeof(t), UINT64_MAX, pub, &pid, NULL), TERN_ETIMEDOUT);
	CHECK_EQ(pid, 7); /* untouched on failure */
}

static void test_binding_and_forgery(void)
{
	uint8_t t[TERN_TOKEN_LEN], other[32], key2[32];
	int rejected = 0;

	memcpy(other, pub, 32);
	other[31] ^= 1;
	memcpy(key2, key, 32);
	key2[0] ^= 0x80;
	tern_token_mint(key, 5, 2000, pub, NULL, t, sizeof(t));
	CHECK_EQ(tern_token_verify(key, t, sizeof(t), 1, other, NULL, NULL), TERN_ECRYPTO);
	CHECK_EQ(tern_token_verify(key2, t, sizeof(t), 1, pub, NULL, NULL), TERN_ECRYPTO);
	/* An expired ticket for another key is reported as forged, not expired. */
	CHECK_EQ(tern_token_verify(key, t, sizeof(t), 5000, other, NULL, NULL), TERN_ECRYPTO);
	for (size_t i = 0; i < sizeof(t); i++) {
		for (int bit = 0; bit < 8; bit++) {
			t[i] ^= (uint8_t)(1 << bit);
			rejected += tern_token_verify(key, t, sizeof(t), 1, pub, NULL, NULL) < 0;
			t[i] ^= (uint8_t)(1 << bit);
		}
	}
	CHECK_EQ(rejected, (int)sizeof(t) * 8);
	CHECK_EQ(tern_token_verify(key, t, sizeof(t), 1, pub, NULL, NULL), 0);
}

static void test_malformed(void)
{
	uint8_t t[TERN_TOKEN_LEN + 1];

	tern_token_mint(key, 5, 2000, pub, NULL, t, sizeof(t));
	t[TERN_TOKEN_LEN] = 0;
	CHECK_EQ(tern_token_verify(key, t, TERN_TOKEN_LEN - 1, 1, pub, NULL, NULL),
	         TERN_EMALFORMED);
	CHECK_EQ(tern_token_verify(key, t, TERN_TOKEN_LEN + 1, 1, pub, NULL, NULL),
	         TERN_EMALFORMED);
	CHECK_EQ(tern_token_verify(key, t, 0, 1, pub, NULL, NULL), TERN_EMALFORMED);
	t[0] = 2;
	CHECK_EQ(tern_token_verify(key, t, TERN_TOKEN_LEN, 1, pub, NULL, NULL), TERN_EMALFORMED);
}

/* The public calls (tern/tern.h) an auth service and a server use. */
static void test_public_api(const uint8_t k[32])
{
	uint8_t client[32] = {7}, other[32] = {8}, t[TERN_TICKET_MAX];
	uint64_t pid = 0, exp = 0;
	int n = tern_ticket_mint(k, 99, 2000, client, t, sizeof(t));

	CHECK_EQ(n, TERN_TOKEN_LEN);
	CHECK_EQ(tern_ticket_verify(k, t, (size_t)n, 1999, client, &pid, &exp), 0);
	CHECK_EQ(pid, 99);
	CHECK_EQ(exp, 2000);
	CHECK_EQ(tern_ticket_verify(k, t, (size_t)n, 2000, client, NULL, NULL), TERN_ETIMEDOUT);
	CHECK_EQ(tern_ticket_verify(k, t, (size_t)n, 1, other, NULL, NULL), TERN_ECRYPTO);
	CHECK_EQ(tern_ticket_mint(k, 1, 2, client, t, 10), TERN_ENOSPC);
}

int main(void)
{
	uint8_t k1[32], k2[32];

	setup();
	CHECK_EQ(tern_token_keygen(k1), 0);
	CHECK_EQ(tern_token_keygen(k2), 0);
	CHECK(memcmp(k1, k2, 32) != 0);
	test_layout_and_roundtrip();
	test_expiry();
	test_binding_and_forgery();
	test_malformed();
	test_public_api(k1);
	return tern_check_result("token");
}
