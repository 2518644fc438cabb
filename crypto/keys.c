/* Session key derivation (docs/protocol.md §5.3, §5.4). Two sources feed one
 * label expansion: a test-mode shared secret (tern_keys_derive) and the Noise
 * handshake's Split() output (crypto/handshake.c calls tern_keys_from_prk).
 * Each generation keeps its two per-direction PRKs (a crypto/secmem slot) so that
 * key update can ratchet them forward with tern_keys_next; a generation's
 * PRKs never derive anything but the next one, so discarding old keys gives
 * forward secrecy across updates. All intermediate secrets are wiped on every
 * exit path. */
#include <sodium.h>

#include "aead.h"
#include "secmem.h"

#define PRK_LEN TERN_KEYS_PRK_LEN

static const char prk_label[] = "tern v1 keys";
static const char ku_label[] = "tern v1 ku";

static int expand(uint8_t *out, size_t out_len, const uint8_t prk[PRK_LEN], const char *label)
{
	return crypto_generichash(out, out_len, (const uint8_t *)label, strlen(label), prk,
	                          PRK_LEN) == 0
	               ? 0
	               : TERN_ECRYPTO;
}

static int extract(uint8_t prk[PRK_LEN], const uint8_t *secret, size_t secret_len,
                   const uint8_t icid[8], const uint8_t rcid[8])
{
	crypto_generichash_state st;
	int rc = 0;

	if (crypto_generichash_init(&st, secret, secret_len, PRK_LEN) != 0)
		return TERN_ECRYPTO;
	crypto_generichash_update(&st, (const uint8_t *)prk_label, sizeof(prk_label) - 1);
	crypto_generichash_update(&st, icid, 8);
	crypto_generichash_update(&st, rcid, 8);
	if (crypto_generichash_final(&st, prk, PRK_LEN) != 0)
		rc = TERN_ECRYPTO;
	sodium_memzero(&st, sizeof(st));
	return rc;
}

static int direction(struct tern_aead **a, enum tern_cipher c, const uint8_t prk[PRK_LEN],
                     const char *key_label, const char *iv_label)
{
	uint8_t key[TERN_AEAD_KEY_LEN], iv[TERN_AEAD_IV_LEN];
	int rc;

	rc = expand(key, sizeof(key), prk, key_label);
	if (rc == 0)
		rc = expand(iv, sizeof(iv), prk, iv_label);
	if (rc == 0)
		rc = tern_aead_new(a, c, key, iv);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(iv, sizeof(iv));
	return rc;
}

/* One generation from its two PRKs; the PRKs are kept for the next one. */
static int build(struct tern_keys *k, enum tern_cipher c, const uint8_t prk_i2r[PRK_LEN],
                 const uint8_t prk_r2i[PRK_LEN], bool initiator, uint64_t generation)
{
	struct tern_aead *i2r = NULL, *r2i = NULL;
	int rc;

	memset(k, 0, sizeof(*k));
	rc = tern_crypto_init();
	if (rc < 0)
		return rc;
	k->prk = tern_secmem_alloc(2 * PRK_LEN);
	if (!k->prk)
		return TERN_ENOMEM;
	memcpy(k->prk, prk_i2r, PRK_LEN);
	memcpy(k->prk + PRK_LEN, prk_r2i, PRK_LEN);
	rc = direction(&i2r, c, prk_i2r, "i2r key", "i2r iv");
	if (rc == 0)
		rc = direction(&r2i, c, prk_r2i, "r2i key", "r2i iv");
	if (rc < 0) {
		tern_aead_free(i2r);
		tern_aead_free(r2i);
		tern_keys_free(k);
		return rc;
	}
	k->tx = initiator ? i2r : r2i;
	k->rx = initiator ? r2i : i2r;
	k->cipher = c;
	k->generation = generation;
	k->initiator = initiator;
	return 0;
}

int tern_keys_from_prk(struct tern_keys *k, enum tern_cipher c, const uint8_t prk_i2r[PRK_LEN],
                       const uint8_t prk_r2i[PRK_LEN], bool initiator)
{
	return build(k, c, prk_i2r, prk_r2i, initiator, 0);
}

int tern_keys_derive(struct tern_keys *k, enum tern_cipher c, const uint8_t *secret,
                     size_t secret_len, const uint8_t initiator_cid[8],
                     const uint8_t responder_cid[8], bool initiator)
{
	uint8_t prk[PRK_LEN];
	int rc;

	memset(k, 0, sizeof(*k));
	if (!secret || secret_len < crypto_generichash_KEYBYTES_MIN ||
	    secret_len > crypto_generichash_KEYBYTES_MAX)
		return TERN_EINVAL;
	rc = tern_crypto_init();
	if (rc == 0)
		rc = extract(prk, secret, secret_len, initiator_cid, responder_cid);
	if (rc == 0)
		rc = tern_keys_from_prk(k, c, prk, prk, initiator);
	sodium_memzero(prk, sizeof(prk));
	return rc;
}

int tern_keys_next(const struct tern_keys *cur, struct tern_keys *next)
{
	uint8_t i2r[PRK_LEN], r2i[PRK_LEN];
	int rc;

	memset(next, 0, sizeof(*next));
	if (!cur->prk)
		return TERN_EINVAL;
	rc = expand(i2r, PRK_LEN, cur->prk, ku_label);
	if (rc == 0)
		rc = expand(r2i, PRK_LEN, cur->prk + PRK_LEN, ku_label);
	if (rc == 0)
		rc = build(next, cur->cipher, i2r, r2i, cur->initiator, cur->generation + 1);
	sodium_memzero(i2r, sizeof(i2r));
	sodium_memzero(r2i, sizeof(r2i));
	return rc;
}

void tern_keys_free(struct tern_keys *k)
{
	tern_aead_free(k->tx);
	tern_aead_free(k->rx);
	tern_secmem_free(k->prk); /* wipes before releasing */
	memset(k, 0, sizeof(*k));
}
