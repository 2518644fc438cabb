/* The tern handshake: Noise_IK_25519_ChaChaPoly_BLAKE2b in one round trip,
 * with WireGuard-style mac1/mac2 and cookie replies in front of it
 * (docs/handshake.md is the byte-by-byte spec; every offset below is named
 * there). Pure functions over caller buffers: no I/O, no clock (timestamps and
 * `now` are injected), no global state. Handshake states live in
 * sodium_malloc'd memory and are wiped when freed; every output that could
 * hold a partial secret is wiped on every error path.
 *
 * Flow (initiator I, responder R):
 *   I: tern_hs_initiation_create        -> initiation (>= 1200 bytes) + I state
 *   R: tern_hs_check_mac1               (no DH, no private key: the cheap filter)
 *   R: under load, tern_cookie_check_mac2 (crypto/cookie.h) or a cookie reply
 *   R: tern_hs_initiation_consume       -> R state + what I asked for
 *   R: tern_hs_response_create          -> response (130 bytes) + keys
 *   I: tern_hs_response_consume         -> keys
 *   R, refusing instead: tern_hs_initiation_consume_ex fills a
 *      struct tern_hs_refusal; tern_hs_refusal_create -> refusal (43 bytes)
 *   I: tern_hs_refusal_consume          -> why the server refused
 * Both results hold a struct tern_keys for the negotiated cipher and the
 * final handshake hash (channel binding). */
#ifndef TERN_HANDSHAKE_H
#define TERN_HANDSHAKE_H

#include "core/common.h"
#include "core/proto.h"
#include "crypto/aead.h"

#define TERN_HS_PROTOCOL_NAME "Noise_IK_25519_ChaChaPoly_BLAKE2b"
#define TERN_HS_PROLOGUE "tern v1"

#define TERN_HS_KEY_LEN 32       /* X25519 public or private key */
#define TERN_HS_MAC_LEN 16       /* mac1, mac2 */
#define TERN_HS_COOKIE_LEN 16    /* the mac2 key */
#define TERN_HS_HASH_LEN 64      /* handshake hash (channel binding) */
#define TERN_HS_TIMESTAMP_LEN 12 /* TAI64N */
#define TERN_HS_PARAMS_LEN 22    /* encoded struct tern_hs_params */
#define TERN_HS_TICKET_MAX 256
#define TERN_HS_MACS_LEN (2 * TERN_HS_MAC_LEN) /* mac1 || mac2 end both messages */

/* Initiation (type 1): cleartext header, then Noise message 1, then MACs. */
#define TERN_HS_INIT_SENDER 2                 /* initiator's CID (8) */
#define TERN_HS_INIT_MIN_MINOR 10             /* lowest minor version spoken (1) */
#define TERN_HS_INIT_MAX_MINOR 11             /* highest minor version spoken (1) */
#define TERN_HS_INIT_VPORT 12                 /* virtual port, big-endian (2) */
#define TERN_HS_INIT_STREAM_TYPE 14           /* opaque to the handshake (1) */
#define TERN_HS_INIT_FLAGS 15                 /* TERN_HS_FLAG_* (1) */
#define TERN_HS_INIT_HEADER_LEN 16            /* bytes 0..15 are mixed into the hash */
#define TERN_HS_INIT_EPHEMERAL 16             /* e (32) */
#define TERN_HS_INIT_STATIC 48                /* encrypted s (32 + 16) */
#define TERN_HS_INIT_PAYLOAD 96               /* encrypted payload (n + 16) */
#define TERN_HS_INIT_PAYLOAD_MIN 36           /* timestamp 12, params 22, ticket length 2 */
#define TERN_HS_INIT_LEN 1200                 /* what tern sends; == TERN_MIN_UDP_PAYLOAD */
#define TERN_HS_INIT_MAX TERN_MAX_UDP_PAYLOAD /* longest accepted */
#define TERN_HS_FLAG_AES 0x01                 /* initiator can do AES-256-GCM */

/* Response (type 2). */
#define TERN_HS_RESP_RECEIVER 2 /* the initiator's CID (8) */
#define TERN_HS_RESP_SENDER 10  /* the responder's CID (8) */
#define TERN_HS_RESP_HEADER_LEN 18
#define TERN_HS_RESP_EPHEMERAL 18   /* e (32) */
#define TERN_HS_RESP_PAYLOAD 50     /* encrypted payload (32 + 16) */
#define TERN_HS_RESP_PAYLOAD_LEN 32 /* minor 1, cipher 1, params 22, pid 8 */

/* Cookie reply (type 3). */
#define TERN_HS_COOKIE_RECEIVER 2 /* the initiator's CID (8) */
#define TERN_HS_COOKIE_NONCE 10   /* XChaCha20 nonce (24) */
#define TERN_HS_COOKIE_SEALED 34  /* encrypted cookie (16 + 16) */

/* Refusal (type 4): an authenticated "no" (docs/handshake.md §8). The type
 * belongs in core/proto.h beside the others; defined here until it is. */
#ifndef TERN_HS_REFUSAL
#define TERN_HS_REFUSAL 0x4
#endif
#define TERN_HS_REFUSAL_RECEIVER 2 /* the initiator's CID (8) */
#define TERN_HS_REFUSAL_REASON 10  /* TERN_HS_REASON_* (1) */
#define TERN_HS_REFUSAL_AUTH 11    /* MAC(refusal key, bytes 0..10) (16) */
#define TERN_HS_REFUSAL_MAC1 27    /* mac1 keyed for the initiator's static key (16) */
#define TERN_HS_REFUSAL_KEY_LEN 32
#define TERN_HS_REFUSAL_LABEL "tern v1 refusal" /* tern_noise_derive label */

/* Reason bytes on the wire. A receiver reads any other value as REFUSED. */
#define TERN_HS_REASON_UNKNOWN_CLIENT_KEY 1
#define TERN_HS_REASON_TICKET_EXPIRED 2
#define TERN_HS_REASON_TICKET_FORGED 3
#define TERN_HS_REASON_VERSION_MISMATCH 4
#define TERN_HS_REASON_REPLAY 5
#define TERN_HS_REASON_REFUSED 6
#define TERN_HS_REASON_MEMORY 7

/* Why a handshake step failed: for counters and logs. Only the reasons
 * tern_hs_refusable() accepts ever travel, as a refusal's TERN_HS_REASON_*. */
enum tern_hs_fail {
	TERN_HS_OK = 0,
	TERN_HS_MALFORMED,          /* bad length, type, field or padding */
	TERN_HS_BAD_MAC,            /* mac1 wrong, or the initiation does not decrypt */
	TERN_HS_BAD_SERVER_KEY,     /* the response does not authenticate */
	TERN_HS_UNKNOWN_CLIENT_KEY, /* the allow-list refused the initiator's key */
	TERN_HS_REPLAY,             /* timestamp not newer than the last one seen */
	TERN_HS_VERSION_MISMATCH,   /* major version, or no common minor version */
	TERN_HS_TICKET_EXPIRED,
	TERN_HS_TICKET_FORGED,   /* not authentic, bound to another key, or missing */
	TERN_HS_LOW_ORDER_POINT, /* a DH produced all zeros */
	TERN_HS_INTERNAL,        /* API misuse, allocation or library failure */
	TERN_HS_REFUSED,         /* the server's policy or load (e.g. no listener on the vport) */
	TERN_HS_MEMORY,          /* the server's memory budget is spent */
};
const char *tern_hs_fail_name(enum tern_hs_fail f);

struct tern_hs_keypair {
	uint8_t pub[TERN_HS_KEY_LEN];
	uint8_t priv[TERN_HS_KEY_LEN];
};

/* Transport parameters, fixed-width on the wire (docs/handshake.md §5). */
struct tern_hs_params {
	uint32_t stream_window;    /* per-stream receive window, bytes */
	uint64_t conn_window;      /* per-session receive window, bytes */
	uint16_t max_streams;      /* streams the sender accepts */
	uint32_t max_ack_delay_us; /* the sender's max ACK delay */
	uint32_t idle_timeout_ms;  /* 0 = none */
};

/* Public keys a message's MACs are keyed from: mac1 = BLAKE2b-256("mac1----"
 * || pub), cookie = BLAKE2b-256("cookie--" || pub). Holds nothing secret. */
struct tern_hs_mac_keys {
	uint8_t mac1[32];
	uint8_t cookie[32];
};

/* Returns 0 or TERN_ECRYPTO (libsodium failed to initialise). */
int tern_hs_keypair_generate(struct tern_hs_keypair *kp);
/* Fills kp->pub from priv (copied to kp->priv). Returns 0 or TERN_ECRYPTO. */
int tern_hs_keypair_from_private(struct tern_hs_keypair *kp, const uint8_t priv[TERN_HS_KEY_LEN]);
void tern_hs_mac_keys_init(struct tern_hs_mac_keys *mk, const uint8_t pub[TERN_HS_KEY_LEN]);
/* BLAKE2b-128 keyed MAC (outlen 16, not a truncation). */
void tern_hs_mac(uint8_t out[TERN_HS_MAC_LEN], const uint8_t *key, size_t key_len,
                 const uint8_t *msg, size_t len);
/* Encodes a TAI64N timestamp: be64(2^62 + 10 + unix_sec) || be32(nsec). */
void tern_hs_tai64n(uint8_t out[TERN_HS_TIMESTAMP_LEN], uint64_t unix_sec, uint32_t nsec);

/* Cheap pre-check of an initiation or response: frame, length, version and
 * mac1 under mk (the receiver's own public key's MAC keys). Performs no DH
 * and touches no private key. Returns 0, TERN_EMALFORMED (why = MALFORMED),
 * TERN_EPROTO (VERSION_MISMATCH: major version not 1) or TERN_ECRYPTO
 * (BAD_MAC). why may be NULL. */
int tern_hs_check_mac1(const struct tern_hs_mac_keys *mk, const uint8_t *msg, size_t len,
                       enum tern_hs_fail *why);
/* Rewrites the mac2 of an initiation (the last 16 bytes) with a cookie from a
 * cookie reply, for resending. Returns 0 or TERN_EMALFORMED. */
int tern_hs_write_mac2(uint8_t *msg, size_t len, const uint8_t cookie[TERN_HS_COOKIE_LEN]);

struct tern_hs_initiator;
struct tern_hs_responder;

struct tern_hs_init_config {
	const struct tern_hs_keypair *local;     /* initiator's static key */
	const uint8_t *remote_pub;               /* responder's static key (32) */
	const struct tern_hs_keypair *ephemeral; /* NULL: fresh; tests inject one */
	const uint8_t *timestamp;                /* TAI64N (12), strictly increasing per key */
	uint8_t cid[TERN_CID_LEN];               /* where the initiator receives data */
	uint8_t min_minor, max_minor;
	uint16_t vport;
	uint8_t stream_type;
	bool aes; /* offer AES-256-GCM (only sent if this CPU has it) */
	struct tern_hs_params params;
	const uint8_t *ticket; /* NULL or ticket_len ≤ TERN_HS_TICKET_MAX bytes */
	size_t ticket_len;
	const uint8_t *cookie; /* NULL (mac2 = zeros) or a cookie (16) */
	size_t pad_to;         /* total length, 0 = TERN_HS_INIT_LEN; ≤ TERN_HS_INIT_MAX */
};

/* What the responder learned from an initiation. */
struct tern_hs_init_info {
	uint8_t peer_cid[TERN_CID_LEN];
	uint8_t min_minor, max_minor;
	uint16_t vport;
	uint8_t stream_type;
	uint8_t flags;
	uint8_t peer_static[TERN_HS_KEY_LEN];
	uint8_t timestamp[TERN_HS_TIMESTAMP_LEN];
	struct tern_hs_params params;
	bool has_ticket;         /* a ticket was present and verified */
	uint64_t pid;            /* from the ticket; 0 without one */
	uint64_t ticket_expiry;  /* unix seconds; 0 without a ticket */
	uint8_t minor;           /* chosen minor version */
	enum tern_cipher cipher; /* chosen cipher */
};

struct tern_hs_resp_config {
	const struct tern_hs_keypair *local; /* responder's static key */
	const struct tern_hs_mac_keys *mac;  /* tern_hs_mac_keys_init(local->pub) */
	/* Allow-list: true if this initiator static key may connect. NULL: any
	 * key (authentication by ticket). Called before the second DH. */
	bool (*allow)(void *ctx, const uint8_t peer_pub[TERN_HS_KEY_LEN]);
	/* Replay check, called last, once everything else verified: true if ts is
	 * newer than the newest timestamp accepted for peer_pub (memcmp order),
	 * which the callee then records. Required. */
	bool (*fresh)(void *ctx, const uint8_t peer_pub[TERN_HS_KEY_LEN],
	              const uint8_t ts[TERN_HS_TIMESTAMP_LEN]);
	void *ctx;
	const uint8_t *ticket_key; /* NULL: tickets ignored */
	bool ticket_required;      /* refuse initiations without a valid ticket */
	uint64_t now_unix;         /* for ticket expiry */
	uint8_t min_minor, max_minor;
	bool aes; /* accept AES-256-GCM (chosen only if the CPU has it too) */
};

struct tern_hs_result {
	struct tern_keys keys; /* owned by the caller: tern_keys_free */
	enum tern_cipher cipher;
	uint8_t minor;
	uint8_t local_cid[TERN_CID_LEN], peer_cid[TERN_CID_LEN];
	uint8_t peer_static[TERN_HS_KEY_LEN];
	struct tern_hs_params peer_params;
	uint64_t pid; /* from the ticket (responder) / the response (initiator) */
	uint8_t hash[TERN_HS_HASH_LEN];
};

/* Initiator, step 1: builds the initiation into buf (cap ≥ pad_to) and a
 * state for step 2. Returns 0, TERN_EINVAL (bad config), TERN_ENOSPC,
 * TERN_ECRYPTO (why = LOW_ORDER_POINT: remote_pub is a low-order point) or
 * TERN_ENOMEM. On error *out is NULL and buf[0..cap) is wiped. */
int tern_hs_initiation_create(struct tern_hs_initiator **out, const struct tern_hs_init_config *cfg,
                              uint8_t *buf, size_t cap, size_t *len, enum tern_hs_fail *why);
/* The mac1 of the initiation this state sent: the associated data of a
 * matching cookie reply. */
const uint8_t *tern_hs_initiator_mac1(const struct tern_hs_initiator *st);
/* Initiator, step 2: verifies and consumes a response. On success fills res
 * (the caller owns res->keys) and wipes the state's secrets; free it after.
 * On failure the state is unchanged (a forged response cannot kill a
 * handshake) and res is zeroed. Returns 0, TERN_EMALFORMED, TERN_ECRYPTO
 * (BAD_MAC, BAD_SERVER_KEY, LOW_ORDER_POINT), TERN_EPROTO (VERSION_MISMATCH),
 * TERN_ESTATE (already done) or TERN_ENOMEM. */
int tern_hs_response_consume(struct tern_hs_initiator *st, const uint8_t *msg, size_t len,
                             struct tern_hs_result *res, enum tern_hs_fail *why);
void tern_hs_initiator_free(struct tern_hs_initiator *st);

/* Responder, step 1: verifies mac1 and the whole initiation, runs the
 * allow-list, ticket and replay checks, picks version and cipher. Returns 0,
 * TERN_EMALFORMED (MALFORMED), TERN_ECRYPTO (BAD_MAC, LOW_ORDER_POINT,
 * TICKET_FORGED), TERN_EPROTO (UNKNOWN_CLIENT_KEY, REPLAY, VERSION_MISMATCH),
 * TERN_ETIMEDOUT (TICKET_EXPIRED), TERN_EINVAL or TERN_ENOMEM. On error *out
 * is NULL and info is zeroed. */
int tern_hs_initiation_consume(struct tern_hs_responder **out,
                               const struct tern_hs_resp_config *cfg, const uint8_t *msg,
                               size_t len, struct tern_hs_init_info *info, enum tern_hs_fail *why);
/* Responder, step 2: builds the response (TERN_HS_RESP_LEN bytes) from
 * local_cid and params, and the session keys. ephemeral: NULL for a fresh one.
 * Wipes the state's secrets; free it after. Returns 0, TERN_ENOSPC,
 * TERN_ESTATE, TERN_ECRYPTO (LOW_ORDER_POINT) or TERN_ENOMEM; on error res and
 * buf are wiped. */
int tern_hs_response_create(struct tern_hs_responder *st, const uint8_t local_cid[TERN_CID_LEN],
                            const struct tern_hs_params *params,
                            const struct tern_hs_keypair *ephemeral, uint8_t *buf, size_t cap,
                            size_t *len, struct tern_hs_result *res, enum tern_hs_fail *why);
void tern_hs_responder_free(struct tern_hs_responder *st);

/* ---- refusals (docs/handshake.md §8) ----------------------------------- */

/* What a responder keeps from an initiation that authenticated its sender
 * (both DHs done, payload decrypted) so that it can refuse it. key is a
 * secret bound to that one handshake: tern_hs_refusal_create or
 * tern_hs_refusal_wipe wipes it. */
struct tern_hs_refusal {
	bool ready; /* a refusal can be built */
	uint8_t peer_cid[TERN_CID_LEN];
	uint8_t peer_static[TERN_HS_KEY_LEN];
	uint8_t key[TERN_HS_REFUSAL_KEY_LEN];
};

/* True for the failures a responder answers with a refusal:
 * UNKNOWN_CLIENT_KEY, TICKET_EXPIRED, TICKET_FORGED, VERSION_MISMATCH (no
 * common minor version), REPLAY and REFUSED. Every other failure is silent. */
bool tern_hs_refusable(enum tern_hs_fail f);

/* tern_hs_initiation_consume, plus refusals. rf (may be NULL: exactly
 * tern_hs_initiation_consume) is zeroed, then made ready when the initiation
 * authenticated its sender and the verdict is OK or refusable: the caller
 * may then refuse with why (or with REFUSED, e.g. on success when no
 * listener holds the vport). Decide on rf->ready, not on why: a wrong major
 * version is also VERSION_MISMATCH, and is never answered. To authenticate the sender before refusing, a
 * non-NULL rf makes the responder finish both DHs and decrypt the payload
 * even for an unknown client key or a minor version mismatch, which it
 * otherwise rejects earlier: pass NULL under load. A refusable failure is
 * never answered before the initiator has proved it holds its static key,
 * so refusals cannot be used to probe the allow-list. Returns as
 * tern_hs_initiation_consume. */
int tern_hs_initiation_consume_ex(struct tern_hs_responder **out,
                                  const struct tern_hs_resp_config *cfg, const uint8_t *msg,
                                  size_t len, struct tern_hs_init_info *info,
                                  struct tern_hs_refusal *rf, enum tern_hs_fail *why);
/* Builds the refusal (TERN_HS_REFUSAL_LEN bytes) for reason and wipes rf,
 * whatever the outcome. Returns 0, TERN_ESTATE (rf not ready), TERN_EINVAL
 * (reason not refusable) or TERN_ENOSPC; buf is untouched on error. */
int tern_hs_refusal_create(struct tern_hs_refusal *rf, enum tern_hs_fail reason, uint8_t *buf,
                           size_t cap, size_t *len);
void tern_hs_refusal_wipe(struct tern_hs_refusal *rf);
/* Initiator: verifies a refusal of the initiation st sent. On success the
 * handshake is over: *reason is why the server refused (a refusable
 * tern_hs_fail), the state's secrets are wiped and it only awaits
 * tern_hs_initiator_free. On failure the state is unchanged (a forged
 * refusal cannot abort a handshake) and *reason is TERN_HS_OK. Returns 0,
 * TERN_EMALFORMED (length, type or receiver CID), TERN_EPROTO (major
 * version), TERN_ECRYPTO (why = BAD_MAC: mac1 or the refusal MAC is wrong)
 * or TERN_ESTATE (already done). reason and why may be NULL. */
int tern_hs_refusal_consume(struct tern_hs_initiator *st, const uint8_t *msg, size_t len,
                            enum tern_hs_fail *reason, enum tern_hs_fail *why);

#endif
