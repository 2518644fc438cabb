/* Denial-of-service defences in front of the handshake (WireGuard §5.4.7):
 * stateless cookies and a per-source rate limiter. Under load the responder
 * answers an initiation whose mac2 is missing or wrong with a cookie reply
 * instead of doing any DH; the initiator resends with mac2 keyed by the
 * cookie, proving it receives at its source address. The cookie is
 * BLAKE2b-128 keyed with a random secret over the source address and port;
 * the secret rotates every two minutes and the previous one is still
 * accepted, so a cookie lives between two and four minutes. Both the secret
 * and the limiter table are created once; no allocation per packet.
 * Time is injected (tern_time, microseconds). */
#ifndef TERN_COOKIE_H
#define TERN_COOKIE_H

#include "core/common.h"
#include "crypto/handshake.h"
#include "tern/addr.h"

#define TERN_COOKIE_ROTATE (120 * TERN_SEC)

struct tern_cookie;

/* Creates the cookie state with a fresh random secret at now. Returns 0,
 * TERN_ECRYPTO or TERN_ENOMEM. */
int tern_cookie_new(struct tern_cookie **out, tern_time now);
/* Wipes and frees; NULL is fine. */
void tern_cookie_free(struct tern_cookie *c);
/* Rotates the secret if TERN_COOKIE_ROTATE has passed (the other calls do
 * this themselves; calling it from a timer keeps old secrets from lingering). */
void tern_cookie_tick(struct tern_cookie *c, tern_time now);
/* The current cookie for src. Returns 0 or TERN_EINVAL (family not 4 or 6). */
int tern_cookie_make(struct tern_cookie *c, tern_time now, const struct tern_addr *src,
                     uint8_t out[TERN_HS_COOKIE_LEN]);
/* Checks an initiation's mac2 against src's cookie under the current or the
 * previous secret. Does not check mac1 (tern_hs_check_mac1 does). Returns 0,
 * TERN_EMALFORMED (not an initiation), TERN_EINVAL (bad family) or
 * TERN_ECRYPTO (mac2 wrong, zero or stale). */
int tern_cookie_check_mac2(struct tern_cookie *c, tern_time now, const struct tern_addr *src,
                           const uint8_t *msg, size_t len);

/* Responder: the cookie reply to an initiation from src (whose mac1 the
 * caller verified): receiver CID = the initiation's sender CID, a random
 * nonce, and the cookie sealed with XChaCha20-Poly1305 under mk->cookie (the
 * responder's own MAC keys) with the initiation's mac1 as associated data.
 * Returns TERN_HS_COOKIE_REPLY_LEN, TERN_ENOSPC, TERN_EMALFORMED or
 * TERN_EINVAL. */
int tern_cookie_reply_build(struct tern_cookie *c, tern_time now, const struct tern_hs_mac_keys *mk,
                            const struct tern_addr *src, const uint8_t *initiation, size_t len,
                            uint8_t *out, size_t cap);
/* Initiator: opens a cookie reply. remote_mk: MAC keys of the responder's
 * static key; mac1: the mac1 of the initiation we sent
 * (tern_hs_initiator_mac1); cid: our CID. Returns 0 (cookie filled),
 * TERN_EMALFORMED (length, frame or CID) or TERN_ECRYPTO (not authentic, or
 * for another initiation). */
int tern_cookie_reply_parse(const struct tern_hs_mac_keys *remote_mk,
                            const uint8_t mac1[TERN_HS_MAC_LEN], const uint8_t cid[TERN_CID_LEN],
                            const uint8_t *msg, size_t len, uint8_t cookie[TERN_HS_COOKIE_LEN]);

/* The part of an address that names a source to the DoS defences: an IPv4
 * address or an IPv6 /64, ports ignored (a host's ports, or one site's
 * addresses, are one source). tern_source_hash is a keyed hash of it
 * (SipHash-2-4 under key), so a flood cannot aim at chosen buckets. Returns
 * false for an unknown address family. */
#define TERN_SOURCE_KEY_LEN 16
bool tern_source_hash(const uint8_t key[TERN_SOURCE_KEY_LEN], const struct tern_addr *src,
                      uint64_t *out);

/* Per-source token bucket: `rate` initiations per second, bursts of `burst`.
 * IPv4 sources count per address, IPv6 per /64. The table is a bounded
 * 4-way set-associative hash (SipHash under a random key, so a flood cannot
 * aim at one set); a new source evicts the least recently seen entry of its
 * set. An evicted source starts again with a full bucket, which is as
 * generous as forgetting it: the table bounds memory, not the rate. */
struct tern_ratelimit_config {
	uint32_t rate;  /* 1..1,000,000 per second */
	uint32_t burst; /* ≥ 1 */
	size_t entries; /* rounded up to a power of two, ≥ 4 */
};
struct tern_ratelimit;

/* Returns 0, TERN_EINVAL or TERN_ENOMEM. */
int tern_ratelimit_new(struct tern_ratelimit **out, const struct tern_ratelimit_config *cfg);
void tern_ratelimit_free(struct tern_ratelimit *rl);
/* True if src may have one more initiation processed at now (consuming a
 * token). Unknown address families are refused. */
bool tern_ratelimit_allow(struct tern_ratelimit *rl, tern_time now, const struct tern_addr *src);
/* How many entries were evicted to make room (a sign the table is too small
 * or under a spoofed-source flood). */
uint64_t tern_ratelimit_evictions(const struct tern_ratelimit *rl);

#endif
