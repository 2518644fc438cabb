/* Cookies, cookie replies and the per-source rate limiter (crypto/cookie.h).
 * The cookie secret sits in sodium_malloc'd memory; rotation is lazy (on any
 * call that uses the secret) so the state needs no timer of its own. The rate
 * limiter's table is one allocation made at creation. */
#include <sodium.h>
#include <stdlib.h>

#include "cookie.h"

#define SECRET_LEN 32
#define ADDR_BYTES_MAX (1 + 16 + 2)

struct tern_cookie {
	uint8_t secret[SECRET_LEN];
	uint8_t prev[SECRET_LEN];
	bool have_prev;
	tern_time rotated_at;
};

int tern_cookie_new(struct tern_cookie **out, tern_time now)
{
	struct tern_cookie *c;

	*out = NULL;
	if (sodium_init() < 0)
		return TERN_ECRYPTO;
	c = sodium_malloc(sizeof(*c));
	if (!c)
		return TERN_ENOMEM;
	sodium_memzero(c, sizeof(*c));
	randombytes_buf(c->secret, SECRET_LEN);
	c->rotated_at = now;
	*out = c;
	return 0;
}

void tern_cookie_free(struct tern_cookie *c)
{
	if (c)
		sodium_free(c); /* wipes */
}

void tern_cookie_tick(struct tern_cookie *c, tern_time now)
{
	if (now < c->rotated_at || now - c->rotated_at < TERN_COOKIE_ROTATE)
		return;
	if (now - c->rotated_at < 2 * TERN_COOKIE_ROTATE) {
		memcpy(c->prev, c->secret, SECRET_LEN);
		c->have_prev = true;
	} else { /* idle through a whole period: the previous secret is stale too */
		sodium_memzero(c->prev, SECRET_LEN);
		c->have_prev = false;
	}
	randombytes_buf(c->secret, SECRET_LEN);
	c->rotated_at = now;
}

/* family || address (4 or 16 bytes) || port (big-endian). */
static size_t addr_bytes(const struct tern_addr *a, uint8_t out[ADDR_BYTES_MAX])
{
	size_t n = a->family == 4 ? 4 : a->family == 6 ? 16 : 0;

	if (!n)
		return 0;
	out[0] = a->family;
	memcpy(out + 1, a->ip, n);
	tern_put_be16(out + 1 + n, a->port);
	return 1 + n + 2;
}

static int cookie_under(const uint8_t secret[SECRET_LEN], const struct tern_addr *src,
                        uint8_t out[TERN_HS_COOKIE_LEN])
{
	uint8_t a[ADDR_BYTES_MAX];
	size_t n = addr_bytes(src, a);

	if (!n)
		return TERN_EINVAL;
	crypto_generichash(out, TERN_HS_COOKIE_LEN, a, n, secret, SECRET_LEN);
	return 0;
}

int tern_cookie_make(struct tern_cookie *c, tern_time now, const struct tern_addr *src,
                     uint8_t out[TERN_HS_COOKIE_LEN])
{
	tern_cookie_tick(c, now);
	return cookie_under(c->secret, src, out);
}

static bool is_initiation(const uint8_t *msg, size_t len)
{
	return len >= TERN_HS_INIT_LEN && len <= TERN_HS_INIT_MAX &&
	       msg[0] == (TERN_FORM_HANDSHAKE | TERN_HS_INITIATION);
}

static bool mac2_under(const uint8_t secret[SECRET_LEN], const struct tern_addr *src,
                       const uint8_t *msg, size_t len)
{
	uint8_t cookie[TERN_HS_COOKIE_LEN], mac[TERN_HS_MAC_LEN];
	bool ok;

	cookie_under(secret, src, cookie);
	tern_hs_mac(mac, cookie, sizeof(cookie), msg, len - TERN_HS_MAC_LEN);
	ok = sodium_memcmp(mac, msg + len - TERN_HS_MAC_LEN, TERN_HS_MAC_LEN) == 0;
	sodium_memzero(cookie, sizeof(cookie));
	return ok;
}

int tern_cookie_check_mac2(struct tern_cookie *c, tern_time now, const struct tern_addr *src,
                           const uint8_t *msg, size_t len)
{
	uint8_t a[ADDR_BYTES_MAX];

	if (!is_initiation(msg, len))
		return TERN_EMALFORMED;
	if (!addr_bytes(src, a))
		return TERN_EINVAL;
	tern_cookie_tick(c, now);
	if (mac2_under(c->secret, src, msg, len))
		return 0;
	if (c->have_prev && mac2_under(c->prev, src, msg, len))
		return 0;
	return TERN_ECRYPTO;
}

int tern_cookie_reply_build(struct tern_cookie *c, tern_time now, const struct tern_hs_mac_keys *mk,
                            const struct tern_addr *src, const uint8_t *initiation, size_t len,
                            uint8_t *out, size_t cap)
{
	uint8_t cookie[TERN_HS_COOKIE_LEN];
	const uint8_t *mac1 = initiation + len - TERN_HS_MACS_LEN;
	int rc;

	if (!is_initiation(initiation, len))
		return TERN_EMALFORMED;
	if (cap < TERN_HS_COOKIE_REPLY_LEN)
		return TERN_ENOSPC;
	rc = tern_cookie_make(c, now, src, cookie);
	if (rc < 0)
		return rc;
	out[0] = TERN_FORM_HANDSHAKE | TERN_HS_COOKIE_REPLY;
	out[1] = TERN_PROTO_VERSION_MAJOR;
	memcpy(out + TERN_HS_COOKIE_RECEIVER, initiation + TERN_HS_INIT_SENDER, TERN_CID_LEN);
	randombytes_buf(out + TERN_HS_COOKIE_NONCE, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + TERN_HS_COOKIE_SEALED, NULL, cookie,
	                                           sizeof(cookie), mac1, TERN_HS_MAC_LEN, NULL,
	                                           out + TERN_HS_COOKIE_NONCE, mk->cookie);
	sodium_memzero(cookie, sizeof(cookie));
	return TERN_HS_COOKIE_REPLY_LEN;
}

int tern_cookie_reply_parse(const struct tern_hs_mac_keys *remote_mk,
                            const uint8_t mac1[TERN_HS_MAC_LEN], const uint8_t cid[TERN_CID_LEN],
                            const uint8_t *msg, size_t len, uint8_t cookie[TERN_HS_COOKIE_LEN])
{
	if (len != TERN_HS_COOKIE_REPLY_LEN ||
	    msg[0] != (TERN_FORM_HANDSHAKE | TERN_HS_COOKIE_REPLY) ||
	    msg[1] != TERN_PROTO_VERSION_MAJOR ||
	    memcmp(msg + TERN_HS_COOKIE_RECEIVER, cid, TERN_CID_LEN) != 0)
		return TERN_EMALFORMED;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
	            cookie, NULL, NULL, msg + TERN_HS_COOKIE_SEALED,
	            TERN_HS_COOKIE_REPLY_LEN - TERN_HS_COOKIE_SEALED, mac1, TERN_HS_MAC_LEN,
	            msg + TERN_HS_COOKIE_NONCE, remote_mk->cookie) != 0) {
		sodium_memzero(cookie, TERN_HS_COOKIE_LEN);
		return TERN_ECRYPTO;
	}
	return 0;
}

/* ---- rate limiter ------------------------------------------------------- */

#define WAYS 4
#define KEY_LEN 9 /* family, then 4 (IPv4) or 8 (IPv6 /64) address bytes */

struct rl_entry {
	uint8_t key[KEY_LEN];
	bool used;
	tern_time last;  /* last time this source was seen */
	uint64_t tokens; /* in microseconds of credit; one packet costs `cost` */
};

struct tern_ratelimit {
	uint64_t cost, max; /* microseconds per packet; cost * burst */
	size_t set_mask;    /* number of sets - 1 */
	uint64_t evictions;
	uint8_t hash_key[crypto_shorthash_KEYBYTES];
	struct rl_entry *table; /* (set_mask + 1) * WAYS entries */
};

int tern_ratelimit_new(struct tern_ratelimit **out, const struct tern_ratelimit_config *cfg)
{
	struct tern_ratelimit *rl;
	size_t n = WAYS;

	*out = NULL;
	if (!cfg->rate || cfg->rate > TERN_SEC || !cfg->burst || cfg->entries > (1u << 24))
		return TERN_EINVAL;
	if (sodium_init() < 0)
		return TERN_ECRYPTO;
	while (n < cfg->entries)
		n *= 2;
	rl = calloc(1, sizeof(*rl));
	if (rl)
		rl->table = calloc(n, sizeof(*rl->table));
	if (!rl || !rl->table) {
		free(rl);
		return TERN_ENOMEM;
	}
	rl->cost = TERN_SEC / cfg->rate;
	rl->max = rl->cost * cfg->burst;
	rl->set_mask = n / WAYS - 1;
	randombytes_buf(rl->hash_key, sizeof(rl->hash_key));
	*out = rl;
	return 0;
}

void tern_ratelimit_free(struct tern_ratelimit *rl)
{
	if (!rl)
		return;
	free(rl->table);
	free(rl);
}

uint64_t tern_ratelimit_evictions(const struct tern_ratelimit *rl)
{
	return rl->evictions;
}

static bool rl_key(const struct tern_addr *a, uint8_t key[KEY_LEN])
{
	memset(key, 0, KEY_LEN);
	key[0] = a->family;
	if (a->family == 4)
		memcpy(key + 1, a->ip, 4);
	else if (a->family == 6)
		memcpy(key + 1, a->ip, 8); /* the /64 */
	else
		return false;
	return true;
}

static uint64_t key_hash(const uint8_t hash_key[crypto_shorthash_KEYBYTES],
                         const uint8_t key[KEY_LEN])
{
	uint8_t h[crypto_shorthash_BYTES];

	crypto_shorthash(h, key, KEY_LEN, hash_key);
	return tern_get_be64(h);
}

bool tern_source_hash(const uint8_t key[TERN_SOURCE_KEY_LEN], const struct tern_addr *src,
                      uint64_t *out)
{
	uint8_t k[KEY_LEN];

	_Static_assert(TERN_SOURCE_KEY_LEN == crypto_shorthash_KEYBYTES, "SipHash key size");
	if (!rl_key(src, k))
		return false;
	*out = key_hash(key, k);
	return true;
}

/* The entry for key in its set: found, free, or the least recently seen
 * (evicted and reset). */
static struct rl_entry *rl_slot(struct tern_ratelimit *rl, const uint8_t key[KEY_LEN],
                                tern_time now)
{
	struct rl_entry *set, *free_slot = NULL, *oldest = NULL;

	set = rl->table + (key_hash(rl->hash_key, key) & rl->set_mask) * WAYS;
	for (int i = 0; i < WAYS; i++) {
		struct rl_entry *e = &set[i];

		if (!e->used) {
			free_slot = free_slot ? free_slot : e;
		} else if (memcmp(e->key, key, KEY_LEN) == 0) {
			return e;
		} else if (!oldest || e->last < oldest->last) {
			oldest = e;
		}
	}
	if (!free_slot) {
		free_slot = oldest;
		rl->evictions++;
	}
	memcpy(free_slot->key, key, KEY_LEN);
	free_slot->used = true;
	free_slot->last = now;
	free_slot->tokens = rl->max; /* a new source starts with a full bucket */
	return free_slot;
}

bool tern_ratelimit_allow(struct tern_ratelimit *rl, tern_time now, const struct tern_addr *src)
{
	uint8_t key[KEY_LEN];
	struct rl_entry *e;

	if (!rl_key(src, key))
		return false;
	e = rl_slot(rl, key, now);
	if (now > e->last) {
		e->tokens = TERN_MIN(rl->max, e->tokens + TERN_MIN(now - e->last, rl->max));
		e->last = now;
	}
	if (e->tokens < rl->cost)
		return false;
	e->tokens -= rl->cost;
	return true;
}
