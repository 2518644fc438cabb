/* The tern handshake (docs/handshake.md): Noise IK messages with tern's
 * cleartext headers and WireGuard-style MACs. Shaped around the responder's
 * cost under attack: everything checkable without a private key (framing,
 * length, version, mac1) is checked first, in tern_hs_check_mac1, which the
 * control plane can run on every packet; DH happens only after that. Each
 * message's cleartext header is mixed into the handshake hash before its
 * Noise tokens, so the AEAD tags authenticate it too. Handshake steps are
 * annotated with their Noise tokens.
 *
 * Refusals (type 4) tell an initiator why it was turned away. They are keyed
 * from the state at the end of message 1 (both DHs done, payload decrypted),
 * so the responder refuses only an initiator that proved it holds the static
 * key it claims, and only the initiator that sent that initiation can verify
 * the refusal; anything less authenticated stays unanswered. */
#include <sodium.h>

#include "handshake.h"
#include "noise.h"
#include "secmem.h"
#include "token.h"

struct tern_hs_initiator {
	struct tern_noise ns; /* after message 1 */
	struct tern_hs_keypair s, e;
	uint8_t rs[TERN_HS_KEY_LEN];
	uint8_t cid[TERN_CID_LEN];
	uint8_t min_minor, max_minor;
	bool aes; /* AES-256-GCM was offered */
	bool done;
	struct tern_hs_mac_keys own_mac; /* the response's mac1 is keyed from s.pub */
	uint8_t mac1[TERN_HS_MAC_LEN];
	uint8_t refusal_key[TERN_HS_REFUSAL_KEY_LEN]; /* verifies a refusal of this initiation */
};

struct tern_hs_responder {
	struct tern_noise ns; /* after message 1 */
	uint8_t re[TERN_HS_KEY_LEN], rs[TERN_HS_KEY_LEN];
	uint8_t peer_cid[TERN_CID_LEN];
	struct tern_hs_params peer_params;
	uint8_t minor;
	enum tern_cipher cipher;
	uint64_t pid;
	bool done;
};

static const char *const fail_names[] = {
        [TERN_HS_OK] = "OK",
        [TERN_HS_MALFORMED] = "MALFORMED",
        [TERN_HS_BAD_MAC] = "BAD_MAC",
        [TERN_HS_BAD_SERVER_KEY] = "BAD_SERVER_KEY",
        [TERN_HS_UNKNOWN_CLIENT_KEY] = "UNKNOWN_CLIENT_KEY",
        [TERN_HS_REPLAY] = "REPLAY",
        [TERN_HS_VERSION_MISMATCH] = "VERSION_MISMATCH",
        [TERN_HS_TICKET_EXPIRED] = "TICKET_EXPIRED",
        [TERN_HS_TICKET_FORGED] = "TICKET_FORGED",
        [TERN_HS_LOW_ORDER_POINT] = "LOW_ORDER_POINT",
        [TERN_HS_INTERNAL] = "INTERNAL",
        [TERN_HS_REFUSED] = "REFUSED",
        [TERN_HS_MEMORY] = "MEMORY",
};

const char *tern_hs_fail_name(enum tern_hs_fail f)
{
	if ((unsigned)f < TERN_ARRAY_LEN(fail_names))
		return fail_names[f];
	return "UNKNOWN";
}

/* Records why and returns the TERN_E* code that goes with it. */
static int fail(enum tern_hs_fail *why, enum tern_hs_fail f)
{
	if (why)
		*why = f;
	switch (f) {
	case TERN_HS_OK:
		return 0;
	case TERN_HS_MALFORMED:
		return TERN_EMALFORMED;
	case TERN_HS_UNKNOWN_CLIENT_KEY:
	case TERN_HS_REPLAY:
	case TERN_HS_VERSION_MISMATCH:
	case TERN_HS_REFUSED:
		return TERN_EPROTO;
	case TERN_HS_TICKET_EXPIRED:
		return TERN_ETIMEDOUT;
	case TERN_HS_INTERNAL:
		return TERN_EINVAL;
	default:
		return TERN_ECRYPTO;
	}
}

/* An internal failure with a specific code (TERN_ENOMEM, TERN_ENOSPC...). */
static int fail_code(enum tern_hs_fail *why, int code)
{
	if (why)
		*why = TERN_HS_INTERNAL;
	return code;
}

int tern_hs_keypair_generate(struct tern_hs_keypair *kp)
{
	uint8_t priv[TERN_HS_KEY_LEN];
	int rc;

	if (sodium_init() < 0)
		return TERN_ECRYPTO;
	randombytes_buf(priv, sizeof(priv));
	rc = tern_hs_keypair_from_private(kp, priv);
	sodium_memzero(priv, sizeof(priv));
	return rc;
}

int tern_hs_keypair_from_private(struct tern_hs_keypair *kp, const uint8_t priv[TERN_HS_KEY_LEN])
{
	if (sodium_init() < 0)
		return TERN_ECRYPTO;
	memmove(kp->priv, priv, TERN_HS_KEY_LEN);
	return crypto_scalarmult_base(kp->pub, kp->priv) == 0 ? 0 : TERN_ECRYPTO;
}

static void label_hash(uint8_t out[32], const char label[8], const uint8_t pub[TERN_HS_KEY_LEN])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)label, 8);
	crypto_generichash_update(&st, pub, TERN_HS_KEY_LEN);
	crypto_generichash_final(&st, out, 32);
}

void tern_hs_mac_keys_init(struct tern_hs_mac_keys *mk, const uint8_t pub[TERN_HS_KEY_LEN])
{
	label_hash(mk->mac1, "mac1----", pub);
	label_hash(mk->cookie, "cookie--", pub);
}

void tern_hs_mac(uint8_t out[TERN_HS_MAC_LEN], const uint8_t *key, size_t key_len,
                 const uint8_t *msg, size_t len)
{
	crypto_generichash(out, TERN_HS_MAC_LEN, msg, len, key, key_len);
}

void tern_hs_tai64n(uint8_t out[TERN_HS_TIMESTAMP_LEN], uint64_t unix_sec, uint32_t nsec)
{
	tern_put_be64(out, 0x400000000000000aull + unix_sec);
	tern_put_be32(out + 8, nsec);
}

static void put_params(uint8_t *p, const struct tern_hs_params *pr)
{
	tern_put_be32(p, pr->stream_window);
	tern_put_be64(p + 4, pr->conn_window);
	tern_put_be16(p + 12, pr->max_streams);
	tern_put_be32(p + 14, pr->max_ack_delay_us);
	tern_put_be32(p + 18, pr->idle_timeout_ms);
}

static void get_params(const uint8_t *p, struct tern_hs_params *pr)
{
	pr->stream_window = tern_get_be32(p);
	pr->conn_window = tern_get_be64(p + 4);
	pr->max_streams = tern_get_be16(p + 12);
	pr->max_ack_delay_us = tern_get_be32(p + 14);
	pr->idle_timeout_ms = tern_get_be32(p + 18);
}

/* Framing, length and major version of an initiation or a response. */
static int check_frame(const uint8_t *msg, size_t len, enum tern_hs_fail *why)
{
	if (len < TERN_HS_HEADER_LEN)
		return fail(why, TERN_HS_MALFORMED);
	if (msg[0] == (TERN_FORM_HANDSHAKE | TERN_HS_INITIATION)) {
		if (len < TERN_HS_INIT_LEN || len > TERN_HS_INIT_MAX)
			return fail(why, TERN_HS_MALFORMED);
	} else if (msg[0] == (TERN_FORM_HANDSHAKE | TERN_HS_RESPONSE)) {
		if (len != TERN_HS_RESP_LEN)
			return fail(why, TERN_HS_MALFORMED);
	} else {
		return fail(why, TERN_HS_MALFORMED);
	}
	if (msg[1] != TERN_PROTO_VERSION_MAJOR)
		return fail(why, TERN_HS_VERSION_MISMATCH);
	return fail(why, TERN_HS_OK);
}

int tern_hs_check_mac1(const struct tern_hs_mac_keys *mk, const uint8_t *msg, size_t len,
                       enum tern_hs_fail *why)
{
	uint8_t mac[TERN_HS_MAC_LEN];
	int rc = check_frame(msg, len, why);

	if (rc < 0)
		return rc;
	tern_hs_mac(mac, mk->mac1, sizeof(mk->mac1), msg, len - TERN_HS_MACS_LEN);
	if (sodium_memcmp(mac, msg + len - TERN_HS_MACS_LEN, TERN_HS_MAC_LEN) != 0)
		return fail(why, TERN_HS_BAD_MAC);
	return 0;
}

int tern_hs_write_mac2(uint8_t *msg, size_t len, const uint8_t cookie[TERN_HS_COOKIE_LEN])
{
	if (check_frame(msg, len, NULL) < 0 || msg[0] != (TERN_FORM_HANDSHAKE | TERN_HS_INITIATION))
		return TERN_EMALFORMED;
	tern_hs_mac(msg + len - TERN_HS_MAC_LEN, cookie, TERN_HS_COOKIE_LEN, msg,
	            len - TERN_HS_MAC_LEN);
	return 0;
}

/* The highest minor version both ranges contain. */
static bool choose_minor(uint8_t imin, uint8_t imax, uint8_t rmin, uint8_t rmax, uint8_t *out)
{
	uint8_t lo = TERN_MAX(imin, rmin), hi = TERN_MIN(imax, rmax);

	if (lo > hi)
		return false;
	*out = hi;
	return true;
}

/* Initiation and response MACs: mac1 keyed for the receiver, then mac2
 * keyed with the cookie, or zeros without one. */
static void write_macs(uint8_t *msg, size_t len, const uint8_t mac1_key[32], const uint8_t *cookie)
{
	tern_hs_mac(msg + len - TERN_HS_MACS_LEN, mac1_key, 32, msg, len - TERN_HS_MACS_LEN);
	if (cookie)
		tern_hs_mac(msg + len - TERN_HS_MAC_LEN, cookie, TERN_HS_COOKIE_LEN, msg,
		            len - TERN_HS_MAC_LEN);
	else
		memset(msg + len - TERN_HS_MAC_LEN, 0, TERN_HS_MAC_LEN);
}

static int ephemeral(struct tern_hs_keypair *e, const struct tern_hs_keypair *given)
{
	if (!given)
		return tern_hs_keypair_generate(e);
	*e = *given;
	return 0;
}

/* ---- initiator ---------------------------------------------------------- */

static int check_init_config(const struct tern_hs_init_config *cfg, size_t cap, size_t *total)
{
	*total = cfg->pad_to ? cfg->pad_to : TERN_HS_INIT_LEN;
	if (!cfg->local || !cfg->remote_pub || !cfg->timestamp)
		return TERN_EINVAL;
	if (cfg->min_minor > cfg->max_minor || cfg->ticket_len > TERN_HS_TICKET_MAX ||
	    (cfg->ticket_len && !cfg->ticket))
		return TERN_EINVAL;
	if (*total < TERN_HS_INIT_LEN || *total > TERN_HS_INIT_MAX)
		return TERN_EINVAL;
	return cap < *total ? TERN_ENOSPC : 0;
}

static void write_init_header(uint8_t *buf, const struct tern_hs_init_config *cfg, bool aes)
{
	buf[0] = TERN_FORM_HANDSHAKE | TERN_HS_INITIATION;
	buf[1] = TERN_PROTO_VERSION_MAJOR;
	memcpy(buf + TERN_HS_INIT_SENDER, cfg->cid, TERN_CID_LEN);
	buf[TERN_HS_INIT_MIN_MINOR] = cfg->min_minor;
	buf[TERN_HS_INIT_MAX_MINOR] = cfg->max_minor;
	tern_put_be16(buf + TERN_HS_INIT_VPORT, cfg->vport);
	buf[TERN_HS_INIT_STREAM_TYPE] = cfg->stream_type;
	buf[TERN_HS_INIT_FLAGS] = aes ? TERN_HS_FLAG_AES : 0;
}

/* Plaintext of the initiation payload: timestamp, params, ticket, zeros. */
static void init_payload(uint8_t *pt, size_t plen, const struct tern_hs_init_config *cfg)
{
	memset(pt, 0, plen);
	memcpy(pt, cfg->timestamp, TERN_HS_TIMESTAMP_LEN);
	put_params(pt + TERN_HS_TIMESTAMP_LEN, &cfg->params);
	tern_put_be16(pt + TERN_HS_TIMESTAMP_LEN + TERN_HS_PARAMS_LEN, (uint16_t)cfg->ticket_len);
	if (cfg->ticket_len)
		memcpy(pt + TERN_HS_INIT_PAYLOAD_MIN, cfg->ticket, cfg->ticket_len);
}

/* Noise message 1: -> e, es, s, ss, payload. */
static int write_message1(struct tern_hs_initiator *st, const struct tern_hs_init_config *cfg,
                          uint8_t *buf, size_t total)
{
	uint8_t pt[TERN_HS_INIT_MAX];
	size_t plen = total - TERN_HS_INIT_PAYLOAD - TERN_NOISE_TAGLEN - TERN_HS_MACS_LEN;
	const uint8_t *prologue = (const uint8_t *)TERN_HS_PROLOGUE;

	tern_noise_init(&st->ns, TERN_HS_PROTOCOL_NAME, prologue, strlen(TERN_HS_PROLOGUE));
	tern_noise_mix_hash(&st->ns, st->rs, TERN_HS_KEY_LEN); /* <- s (pre-message) */
	tern_noise_mix_hash(&st->ns, buf, TERN_HS_INIT_HEADER_LEN);
	memcpy(buf + TERN_HS_INIT_EPHEMERAL, st->e.pub, TERN_HS_KEY_LEN); /* e */
	tern_noise_mix_hash(&st->ns, st->e.pub, TERN_HS_KEY_LEN);
	if (tern_noise_mix_dh(&st->ns, st->e.priv, st->rs) < 0) /* es */
		return TERN_HS_LOW_ORDER_POINT;
	tern_noise_encrypt_and_hash(&st->ns, buf + TERN_HS_INIT_STATIC, st->s.pub, /* s */
	                            TERN_HS_KEY_LEN);
	if (tern_noise_mix_dh(&st->ns, st->s.priv, st->rs) < 0) /* ss */
		return TERN_HS_LOW_ORDER_POINT;
	init_payload(pt, plen, cfg);
	tern_noise_encrypt_and_hash(&st->ns, buf + TERN_HS_INIT_PAYLOAD, pt, plen);
	sodium_memzero(pt, plen);
	tern_noise_derive(&st->ns, TERN_HS_REFUSAL_LABEL, st->refusal_key);
	return TERN_HS_OK;
}

static void fill_initiator(struct tern_hs_initiator *st, const struct tern_hs_init_config *cfg,
                           bool aes)
{
	st->s = *cfg->local;
	memcpy(st->rs, cfg->remote_pub, TERN_HS_KEY_LEN);
	memcpy(st->cid, cfg->cid, TERN_CID_LEN);
	st->min_minor = cfg->min_minor;
	st->max_minor = cfg->max_minor;
	st->aes = aes;
	tern_hs_mac_keys_init(&st->own_mac, cfg->local->pub);
}

int tern_hs_initiation_create(struct tern_hs_initiator **out, const struct tern_hs_init_config *cfg,
                              uint8_t *buf, size_t cap, size_t *len, enum tern_hs_fail *why)
{
	struct tern_hs_initiator *st = NULL;
	struct tern_hs_mac_keys remote_mac;
	bool aes = cfg->aes && tern_crypto_aes_available();
	size_t total;
	int rc;

	*out = NULL;
	rc = check_init_config(cfg, cap, &total);
	if (rc == 0 && tern_crypto_init() < 0)
		rc = TERN_ECRYPTO;
	if (rc == 0 && !(st = tern_secmem_alloc(sizeof(*st)))) /* zeroed */
		rc = TERN_ENOMEM;
	if (rc < 0)
		return fail_code(why, rc);
	fill_initiator(st, cfg, aes);
	rc = ephemeral(&st->e, cfg->ephemeral);
	if (rc < 0) {
		rc = fail_code(why, rc);
		goto err;
	}
	write_init_header(buf, cfg, aes);
	rc = fail(why, write_message1(st, cfg, buf, total));
	if (rc < 0)
		goto err;
	tern_hs_mac_keys_init(&remote_mac, cfg->remote_pub);
	write_macs(buf, total, remote_mac.mac1, cfg->cookie);
	memcpy(st->mac1, buf + total - TERN_HS_MACS_LEN, TERN_HS_MAC_LEN);
	*len = total;
	*out = st;
	return 0;
err:
	sodium_memzero(buf, cap);
	tern_secmem_free(st); /* wipes */
	return rc;
}

const uint8_t *tern_hs_initiator_mac1(const struct tern_hs_initiator *st)
{
	return st->mac1;
}

void tern_hs_initiator_free(struct tern_hs_initiator *st)
{
	tern_secmem_free(st); /* wipes */
}

/* Checks the decrypted response payload and the negotiated cipher. */
static enum tern_hs_fail parse_response_payload(const struct tern_hs_initiator *st,
                                                const uint8_t *pt, struct tern_hs_result *res)
{
	uint8_t minor = pt[0], cipher = pt[1];

	if (minor < st->min_minor || minor > st->max_minor)
		return TERN_HS_VERSION_MISMATCH;
	if (cipher != TERN_CIPHER_CHACHA20_POLY1305 &&
	    !(cipher == TERN_CIPHER_AES256_GCM && st->aes))
		return TERN_HS_MALFORMED;
	res->minor = minor;
	res->cipher = (enum tern_cipher)cipher;
	get_params(pt + 2, &res->peer_params);
	res->pid = tern_get_be64(pt + 2 + TERN_HS_PARAMS_LEN);
	return TERN_HS_OK;
}

/* Noise message 2 as the initiator reads it: <- e, ee, se, payload. */
static enum tern_hs_fail read_message2(const struct tern_hs_initiator *st, struct tern_noise *ns,
                                       const uint8_t *msg, struct tern_hs_result *res)
{
	uint8_t pt[TERN_HS_RESP_PAYLOAD_LEN];
	const uint8_t *re = msg + TERN_HS_RESP_EPHEMERAL;
	enum tern_hs_fail f;

	tern_noise_mix_hash(ns, msg, TERN_HS_RESP_HEADER_LEN);
	tern_noise_mix_hash(ns, re, TERN_HS_KEY_LEN);  /* e */
	if (tern_noise_mix_dh(ns, st->e.priv, re) < 0) /* ee */
		return TERN_HS_LOW_ORDER_POINT;
	if (tern_noise_mix_dh(ns, st->s.priv, re) < 0) /* se */
		return TERN_HS_LOW_ORDER_POINT;
	if (tern_noise_decrypt_and_hash(ns, pt, msg + TERN_HS_RESP_PAYLOAD,
	                                TERN_HS_RESP_PAYLOAD_LEN + TERN_NOISE_TAGLEN) < 0)
		return TERN_HS_BAD_SERVER_KEY;
	f = parse_response_payload(st, pt, res);
	sodium_memzero(pt, sizeof(pt));
	return f;
}

static int check_response_outer(const struct tern_hs_initiator *st, const uint8_t *msg, size_t len,
                                enum tern_hs_fail *why)
{
	static const uint8_t zero[TERN_HS_MAC_LEN];
	int rc = tern_hs_check_mac1(&st->own_mac, msg, len, why);

	if (rc < 0)
		return rc;
	if (msg[0] != (TERN_FORM_HANDSHAKE | TERN_HS_RESPONSE) ||
	    memcmp(msg + TERN_HS_RESP_RECEIVER, st->cid, TERN_CID_LEN) != 0)
		return fail(why, TERN_HS_MALFORMED);
	/* v1 responders send no mac2: anything else is tampering. */
	if (memcmp(msg + len - TERN_HS_MAC_LEN, zero, TERN_HS_MAC_LEN) != 0)
		return fail(why, TERN_HS_BAD_MAC);
	return 0;
}

/* Split() into session keys; fills what both ends' results share. */
static int finish(struct tern_keys *keys, const struct tern_noise *ns, enum tern_cipher c,
                  bool initiator, uint8_t hash[TERN_HS_HASH_LEN])
{
	uint8_t k1[TERN_NOISE_KEYLEN], k2[TERN_NOISE_KEYLEN];
	int rc;

	tern_noise_split(ns, k1, k2);
	rc = tern_keys_from_prk(keys, c, k1, k2, initiator);
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
	memcpy(hash, ns->h, TERN_HS_HASH_LEN);
	return rc;
}

/* The handshake is over (answered or refused): only public fields remain. */
static void initiator_done(struct tern_hs_initiator *st)
{
	sodium_memzero(&st->ns, sizeof(st->ns));
	sodium_memzero(&st->e, sizeof(st->e));
	sodium_memzero(&st->s, sizeof(st->s));
	sodium_memzero(st->refusal_key, sizeof(st->refusal_key));
	st->done = true;
}

int tern_hs_response_consume(struct tern_hs_initiator *st, const uint8_t *msg, size_t len,
                             struct tern_hs_result *res, enum tern_hs_fail *why)
{
	struct tern_noise ns;
	int rc;

	sodium_memzero(res, sizeof(*res));
	if (st->done)
		return fail_code(why, TERN_ESTATE);
	rc = check_response_outer(st, msg, len, why);
	if (rc < 0)
		return rc;
	ns = st->ns; /* a failed attempt leaves the state as it was */
	rc = fail(why, read_message2(st, &ns, msg, res));
	if (rc == 0) {
		rc = finish(&res->keys, &ns, res->cipher, true, res->hash);
		if (rc < 0)
			fail_code(why, rc);
	}
	tern_noise_wipe(&ns);
	if (rc < 0) {
		sodium_memzero(res, sizeof(*res));
		return rc;
	}
	memcpy(res->local_cid, st->cid, TERN_CID_LEN);
	memcpy(res->peer_cid, msg + TERN_HS_RESP_SENDER, TERN_CID_LEN);
	memcpy(res->peer_static, st->rs, TERN_HS_KEY_LEN);
	initiator_done(st);
	return 0;
}

/* ---- responder ---------------------------------------------------------- */

/* Cleartext checks that need no DH: mac1, type, version range. */
static enum tern_hs_fail precheck_initiation(const struct tern_hs_resp_config *cfg,
                                             const uint8_t *msg, size_t len,
                                             struct tern_hs_init_info *info)
{
	enum tern_hs_fail f;

	if (tern_hs_check_mac1(cfg->mac, msg, len, &f) < 0)
		return f;
	if (msg[0] != (TERN_FORM_HANDSHAKE | TERN_HS_INITIATION))
		return TERN_HS_MALFORMED;
	memcpy(info->peer_cid, msg + TERN_HS_INIT_SENDER, TERN_CID_LEN);
	info->min_minor = msg[TERN_HS_INIT_MIN_MINOR];
	info->max_minor = msg[TERN_HS_INIT_MAX_MINOR];
	info->vport = tern_get_be16(msg + TERN_HS_INIT_VPORT);
	info->stream_type = msg[TERN_HS_INIT_STREAM_TYPE];
	info->flags = msg[TERN_HS_INIT_FLAGS];
	if (info->min_minor > info->max_minor)
		return TERN_HS_MALFORMED;
	return TERN_HS_OK;
}

/* Minor version and cipher (no DH either). */
static enum tern_hs_fail negotiate(const struct tern_hs_resp_config *cfg,
                                   struct tern_hs_init_info *info)
{
	if (!choose_minor(info->min_minor, info->max_minor, cfg->min_minor, cfg->max_minor,
	                  &info->minor))
		return TERN_HS_VERSION_MISMATCH;
	info->cipher = (info->flags & TERN_HS_FLAG_AES) && cfg->aes && tern_crypto_aes_available()
	                       ? TERN_CIPHER_AES256_GCM
	                       : TERN_CIPHER_CHACHA20_POLY1305;
	return TERN_HS_OK;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static enum tern_hs_fail check_ticket(const struct tern_hs_resp_config *cfg, const uint8_t *t,
                                      size_t tlen, struct tern_hs_init_info *info)
{
	int rc;

	if (!cfg->ticket_key || tlen == 0)
		return cfg->ticket_required ? TERN_HS_TICKET_FORGED : TERN_HS_OK;
	rc = tern_token_verify(cfg->ticket_key, t, tlen, cfg->now_unix, info->peer_static,
	                       &info->pid, &info->ticket_expiry);
	if (rc == TERN_ETIMEDOUT)
		return TERN_HS_TICKET_EXPIRED;
	if (rc < 0)
		return TERN_HS_TICKET_FORGED;
	info->has_ticket = true;
	return TERN_HS_OK;
}

/* The decrypted initiation payload: timestamp, params, ticket, zero padding.
 * The ticket is checked only if ticket is set (no other failure pending). */
static enum tern_hs_fail parse_init_payload(const struct tern_hs_resp_config *cfg,
                                            const uint8_t *pt, size_t plen,
                                            struct tern_hs_init_info *info, bool ticket)
{
	size_t tlen = tern_get_be16(pt + TERN_HS_TIMESTAMP_LEN + TERN_HS_PARAMS_LEN);
	size_t end = TERN_HS_INIT_PAYLOAD_MIN + tlen;

	if (tlen > TERN_HS_TICKET_MAX || end > plen || !all_zero(pt + end, plen - end))
		return TERN_HS_MALFORMED;
	memcpy(info->timestamp, pt, TERN_HS_TIMESTAMP_LEN);
	get_params(pt + TERN_HS_TIMESTAMP_LEN, &info->params);
	if (!ticket)
		return TERN_HS_OK;
	return check_ticket(cfg, pt + TERN_HS_INIT_PAYLOAD_MIN, tlen, info);
}

/* -> e, es, s: the initiator's static key, not yet proven (anyone can
 * encrypt any public key to us). */
static enum tern_hs_fail read_static(struct tern_hs_responder *st,
                                     const struct tern_hs_resp_config *cfg, const uint8_t *msg,
                                     struct tern_hs_init_info *info)
{
	const uint8_t *prologue = (const uint8_t *)TERN_HS_PROLOGUE;

	tern_noise_init(&st->ns, TERN_HS_PROTOCOL_NAME, prologue, strlen(TERN_HS_PROLOGUE));
	tern_noise_mix_hash(&st->ns, cfg->local->pub, TERN_HS_KEY_LEN); /* <- s */
	tern_noise_mix_hash(&st->ns, msg, TERN_HS_INIT_HEADER_LEN);
	memcpy(st->re, msg + TERN_HS_INIT_EPHEMERAL, TERN_HS_KEY_LEN); /* e */
	tern_noise_mix_hash(&st->ns, st->re, TERN_HS_KEY_LEN);
	if (tern_noise_mix_dh(&st->ns, cfg->local->priv, st->re) < 0) /* es */
		return TERN_HS_LOW_ORDER_POINT;
	if (tern_noise_decrypt_and_hash(&st->ns, st->rs, msg + TERN_HS_INIT_STATIC, /* s */
	                                TERN_HS_KEY_LEN + TERN_NOISE_TAGLEN) < 0)
		return TERN_HS_BAD_MAC;
	memcpy(info->peer_static, st->rs, TERN_HS_KEY_LEN);
	return TERN_HS_OK;
}

/* ss, payload: the payload decrypts only for the holder of the static key. */
static enum tern_hs_fail read_payload(struct tern_hs_responder *st,
                                      const struct tern_hs_resp_config *cfg, const uint8_t *msg,
                                      size_t len, struct tern_hs_init_info *info, bool ticket)
{
	uint8_t pt[TERN_HS_INIT_MAX];
	size_t clen = len - TERN_HS_INIT_PAYLOAD - TERN_HS_MACS_LEN;
	enum tern_hs_fail f = TERN_HS_BAD_MAC;

	if (tern_noise_mix_dh(&st->ns, cfg->local->priv, st->rs) < 0) /* ss */
		return TERN_HS_LOW_ORDER_POINT;
	if (tern_noise_decrypt_and_hash(&st->ns, pt, msg + TERN_HS_INIT_PAYLOAD, clen) == 0)
		f = parse_init_payload(cfg, pt, clen - TERN_NOISE_TAGLEN, info, ticket);
	sodium_memzero(pt, sizeof(pt));
	return f;
}

/* Noise message 1 as the responder reads it: -> e, es, s, ss, payload.
 * pending: a refusable failure already found (minor version); refusing: go
 * on to the payload after a refusable failure, so that the sender is proven
 * before it is answered. Without it, an unknown key is turned away before the
 * second DH. */
static enum tern_hs_fail read_message1(struct tern_hs_responder *st,
                                       const struct tern_hs_resp_config *cfg, const uint8_t *msg,
                                       size_t len, struct tern_hs_init_info *info,
                                       enum tern_hs_fail pending, bool refusing)
{
	enum tern_hs_fail f = read_static(st, cfg, msg, info);

	if (f != TERN_HS_OK)
		return f;
	if (pending == TERN_HS_OK && cfg->allow && !cfg->allow(cfg->ctx, st->rs))
		pending = TERN_HS_UNKNOWN_CLIENT_KEY;
	if (pending != TERN_HS_OK && !refusing)
		return pending;
	f = read_payload(st, cfg, msg, len, info, pending == TERN_HS_OK);
	if (f != TERN_HS_OK)
		return f;
	if (pending != TERN_HS_OK)
		return pending;
	if (!cfg->fresh(cfg->ctx, st->rs, info->timestamp))
		return TERN_HS_REPLAY;
	return TERN_HS_OK;
}

/* The state is at the end of message 1: keep what a refusal needs. */
static void keep_refusal(struct tern_hs_refusal *rf, const struct tern_hs_responder *st,
                         const struct tern_hs_init_info *info)
{
	memcpy(rf->peer_cid, info->peer_cid, TERN_CID_LEN);
	memcpy(rf->peer_static, st->rs, TERN_HS_KEY_LEN);
	tern_noise_derive(&st->ns, TERN_HS_REFUSAL_LABEL, rf->key);
	rf->ready = true;
}

int tern_hs_initiation_consume(struct tern_hs_responder **out,
                               const struct tern_hs_resp_config *cfg, const uint8_t *msg,
                               size_t len, struct tern_hs_init_info *info, enum tern_hs_fail *why)
{
	return tern_hs_initiation_consume_ex(out, cfg, msg, len, info, NULL, why);
}

int tern_hs_initiation_consume_ex(struct tern_hs_responder **out,
                                  const struct tern_hs_resp_config *cfg, const uint8_t *msg,
                                  size_t len, struct tern_hs_init_info *info,
                                  struct tern_hs_refusal *rf, enum tern_hs_fail *why)
{
	struct tern_hs_responder *st;
	enum tern_hs_fail f, pending;

	*out = NULL;
	sodium_memzero(info, sizeof(*info));
	if (rf)
		sodium_memzero(rf, sizeof(*rf));
	if (!cfg->local || !cfg->mac || !cfg->fresh || cfg->min_minor > cfg->max_minor)
		return fail_code(why, TERN_EINVAL);
	if (tern_crypto_init() < 0)
		return fail_code(why, TERN_ECRYPTO);
	f = precheck_initiation(cfg, msg, len, info);
	pending = f == TERN_HS_OK ? negotiate(cfg, info) : f;
	if (f != TERN_HS_OK || (pending != TERN_HS_OK && !rf)) {
		f = pending;
		goto err;
	}
	if (!(st = tern_secmem_alloc(sizeof(*st)))) { /* zeroed */
		sodium_memzero(info, sizeof(*info));
		return fail_code(why, TERN_ENOMEM);
	}
	f = read_message1(st, cfg, msg, len, info, pending, rf != NULL);
	if (rf && (f == TERN_HS_OK || tern_hs_refusable(f)))
		keep_refusal(rf, st, info);
	if (f != TERN_HS_OK) {
		tern_secmem_free(st); /* wipes */
		goto err;
	}
	memcpy(st->peer_cid, info->peer_cid, TERN_CID_LEN);
	st->peer_params = info->params;
	st->minor = info->minor;
	st->cipher = info->cipher;
	st->pid = info->pid;
	*out = st;
	return fail(why, TERN_HS_OK);
err:
	sodium_memzero(info, sizeof(*info));
	return fail(why, f);
}

static void write_resp_header(uint8_t *buf, const struct tern_hs_responder *st,
                              const uint8_t local_cid[TERN_CID_LEN])
{
	buf[0] = TERN_FORM_HANDSHAKE | TERN_HS_RESPONSE;
	buf[1] = TERN_PROTO_VERSION_MAJOR;
	memcpy(buf + TERN_HS_RESP_RECEIVER, st->peer_cid, TERN_CID_LEN);
	memcpy(buf + TERN_HS_RESP_SENDER, local_cid, TERN_CID_LEN);
}

/* Noise message 2: <- e, ee, se, payload. */
static enum tern_hs_fail write_message2(struct tern_hs_responder *st,
                                        const struct tern_hs_keypair *e,
                                        const struct tern_hs_params *params, uint8_t *buf)
{
	uint8_t pt[TERN_HS_RESP_PAYLOAD_LEN];

	tern_noise_mix_hash(&st->ns, buf, TERN_HS_RESP_HEADER_LEN);
	memcpy(buf + TERN_HS_RESP_EPHEMERAL, e->pub, TERN_HS_KEY_LEN); /* e */
	tern_noise_mix_hash(&st->ns, e->pub, TERN_HS_KEY_LEN);
	if (tern_noise_mix_dh(&st->ns, e->priv, st->re) < 0) /* ee */
		return TERN_HS_LOW_ORDER_POINT;
	if (tern_noise_mix_dh(&st->ns, e->priv, st->rs) < 0) /* se */
		return TERN_HS_LOW_ORDER_POINT;
	pt[0] = st->minor;
	pt[1] = (uint8_t)st->cipher;
	put_params(pt + 2, params);
	tern_put_be64(pt + 2 + TERN_HS_PARAMS_LEN, st->pid);
	tern_noise_encrypt_and_hash(&st->ns, buf + TERN_HS_RESP_PAYLOAD, pt, sizeof(pt));
	sodium_memzero(pt, sizeof(pt));
	return TERN_HS_OK;
}

static void fill_responder_result(const struct tern_hs_responder *st,
                                  const uint8_t local_cid[TERN_CID_LEN], struct tern_hs_result *res)
{
	res->cipher = st->cipher;
	res->minor = st->minor;
	memcpy(res->local_cid, local_cid, TERN_CID_LEN);
	memcpy(res->peer_cid, st->peer_cid, TERN_CID_LEN);
	memcpy(res->peer_static, st->rs, TERN_HS_KEY_LEN);
	res->peer_params = st->peer_params;
	res->pid = st->pid;
}

int tern_hs_response_create(struct tern_hs_responder *st, const uint8_t local_cid[TERN_CID_LEN],
                            const struct tern_hs_params *params, const struct tern_hs_keypair *eph,
                            uint8_t *buf, size_t cap, size_t *len, struct tern_hs_result *res,
                            enum tern_hs_fail *why)
{
	struct tern_hs_keypair e;
	struct tern_hs_mac_keys peer_mac;
	int rc;

	sodium_memzero(res, sizeof(*res));
	if (st->done)
		return fail_code(why, TERN_ESTATE);
	if (cap < TERN_HS_RESP_LEN)
		return fail_code(why, TERN_ENOSPC);
	rc = ephemeral(&e, eph);
	if (rc < 0)
		return fail_code(why, rc);
	write_resp_header(buf, st, local_cid);
	rc = fail(why, write_message2(st, &e, params, buf));
	sodium_memzero(&e, sizeof(e));
	if (rc == 0) {
		rc = finish(&res->keys, &st->ns, st->cipher, false, res->hash);
		if (rc < 0)
			fail_code(why, rc);
	}
	if (rc < 0) {
		sodium_memzero(buf, cap);
		sodium_memzero(res, sizeof(*res));
		return rc;
	}
	tern_hs_mac_keys_init(&peer_mac, st->rs);
	write_macs(buf, TERN_HS_RESP_LEN, peer_mac.mac1, NULL);
	fill_responder_result(st, local_cid, res);
	sodium_memzero(&st->ns, sizeof(st->ns));
	st->done = true;
	*len = TERN_HS_RESP_LEN;
	return 0;
}

void tern_hs_responder_free(struct tern_hs_responder *st)
{
	tern_secmem_free(st); /* wipes */
}

/* ---- refusals ----------------------------------------------------------- */

static const struct {
	enum tern_hs_fail fail;
	uint8_t wire;
} reasons[] = {
        {TERN_HS_UNKNOWN_CLIENT_KEY, TERN_HS_REASON_UNKNOWN_CLIENT_KEY},
        {TERN_HS_TICKET_EXPIRED, TERN_HS_REASON_TICKET_EXPIRED},
        {TERN_HS_TICKET_FORGED, TERN_HS_REASON_TICKET_FORGED},
        {TERN_HS_VERSION_MISMATCH, TERN_HS_REASON_VERSION_MISMATCH},
        {TERN_HS_REPLAY, TERN_HS_REASON_REPLAY},
        {TERN_HS_REFUSED, TERN_HS_REASON_REFUSED},
        {TERN_HS_MEMORY, TERN_HS_REASON_MEMORY},
};

/* The reason byte for f, or 0 if f is never sent. */
static uint8_t reason_to_wire(enum tern_hs_fail f)
{
	for (size_t i = 0; i < TERN_ARRAY_LEN(reasons); i++)
		if (reasons[i].fail == f)
			return reasons[i].wire;
	return 0;
}

/* Reasons a later version may add read as REFUSED: still a "no". */
static enum tern_hs_fail reason_from_wire(uint8_t b)
{
	for (size_t i = 0; i < TERN_ARRAY_LEN(reasons); i++)
		if (reasons[i].wire == b)
			return reasons[i].fail;
	return TERN_HS_REFUSED;
}

bool tern_hs_refusable(enum tern_hs_fail f)
{
	return reason_to_wire(f) != 0;
}

void tern_hs_refusal_wipe(struct tern_hs_refusal *rf)
{
	sodium_memzero(rf, sizeof(*rf));
}

int tern_hs_refusal_create(struct tern_hs_refusal *rf, enum tern_hs_fail reason, uint8_t *buf,
                           size_t cap, size_t *len)
{
	struct tern_hs_mac_keys peer_mac;
	uint8_t wire = reason_to_wire(reason);
	int rc = 0;

	if (!rf->ready)
		rc = TERN_ESTATE;
	else if (!wire)
		rc = TERN_EINVAL;
	else if (cap < TERN_HS_REFUSAL_LEN)
		rc = TERN_ENOSPC;
	if (rc == 0) {
		buf[0] = TERN_FORM_HANDSHAKE | TERN_HS_REFUSAL;
		buf[1] = TERN_PROTO_VERSION_MAJOR;
		memcpy(buf + TERN_HS_REFUSAL_RECEIVER, rf->peer_cid, TERN_CID_LEN);
		buf[TERN_HS_REFUSAL_REASON] = wire;
		tern_hs_mac(buf + TERN_HS_REFUSAL_AUTH, rf->key, sizeof(rf->key), buf,
		            TERN_HS_REFUSAL_AUTH);
		tern_hs_mac_keys_init(&peer_mac, rf->peer_static);
		tern_hs_mac(buf + TERN_HS_REFUSAL_MAC1, peer_mac.mac1, sizeof(peer_mac.mac1), buf,
		            TERN_HS_REFUSAL_MAC1);
		*len = TERN_HS_REFUSAL_LEN;
	}
	tern_hs_refusal_wipe(rf);
	return rc;
}

/* Frame, CID, then the cheap mac1, then the MAC only this handshake's keys
 * can make. */
static enum tern_hs_fail check_refusal(const struct tern_hs_initiator *st, const uint8_t *msg,
                                       size_t len)
{
	uint8_t mac[TERN_HS_MAC_LEN];

	if (len != TERN_HS_REFUSAL_LEN || msg[0] != (TERN_FORM_HANDSHAKE | TERN_HS_REFUSAL))
		return TERN_HS_MALFORMED;
	if (msg[1] != TERN_PROTO_VERSION_MAJOR)
		return TERN_HS_VERSION_MISMATCH;
	if (memcmp(msg + TERN_HS_REFUSAL_RECEIVER, st->cid, TERN_CID_LEN) != 0)
		return TERN_HS_MALFORMED;
	tern_hs_mac(mac, st->own_mac.mac1, sizeof(st->own_mac.mac1), msg, TERN_HS_REFUSAL_MAC1);
	if (sodium_memcmp(mac, msg + TERN_HS_REFUSAL_MAC1, TERN_HS_MAC_LEN) != 0)
		return TERN_HS_BAD_MAC;
	tern_hs_mac(mac, st->refusal_key, sizeof(st->refusal_key), msg, TERN_HS_REFUSAL_AUTH);
	if (sodium_memcmp(mac, msg + TERN_HS_REFUSAL_AUTH, TERN_HS_MAC_LEN) != 0)
		return TERN_HS_BAD_MAC;
	return TERN_HS_OK;
}

int tern_hs_refusal_consume(struct tern_hs_initiator *st, const uint8_t *msg, size_t len,
                            enum tern_hs_fail *reason, enum tern_hs_fail *why)
{
	enum tern_hs_fail f;

	if (reason)
		*reason = TERN_HS_OK;
	if (st->done)
		return fail_code(why, TERN_ESTATE);
	f = check_refusal(st, msg, len);
	if (f != TERN_HS_OK)
		return fail(why, f);
	if (reason)
		*reason = reason_from_wire(msg[TERN_HS_REFUSAL_REASON]);
	initiator_done(st);
	return fail(why, TERN_HS_OK);
}
