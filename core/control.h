/* The control plane: handshakes off the data path. It takes handshake
 * packets (initiations, responses, cookie replies) and connect requests,
 * runs the cheap checks first (mac1, a cookie under load, per-source rate
 * limits, the half-open and per-source session caps) and the X25519 work
 * only for what survives them, and turns each completed handshake into a
 * session handed to its owner worker. A client's
 * retry or duplicate of an initiation it already answered gets the same
 * response again from a bounded cache, not a second session
 * (docs/handshake.md §8.3).
 *
 * Like the engine it does no I/O and reads no clock: time is passed in,
 * packets leave through ops->send, sessions through ops->install, and the
 * wall clock (for TAI64N timestamps and ticket expiry) and randomness (CIDs)
 * come from callbacks. The real engine runs it on its own thread behind
 * rings; the simulator runs it inline, deterministically. */
#ifndef TERN_CONTROL_H
#define TERN_CONTROL_H

#include "admit.h"
#include "session.h"
#include "crypto/cookie.h"
#include "crypto/handshake.h"
#include "tern/addr.h"

/* Why a connect failed, as its application sees it: a handshake failure
 * reason (crypto/handshake.h) or one of these. */
#define TERN_HS_TIMEOUT 0x100      /* no valid answer before hs_timeout */
#define TERN_HS_REFUSED_LOAD 0x101 /* cookie replies only, until hs_timeout */
const char *tern_connect_fail_name(int why);

/* What the control plane knows about a new session. */
struct tern_hs_session_info {
	struct tern_addr peer;
	uint16_t vport;
	uint8_t stream_type;
	uint8_t minor;
	uint64_t pid;
	uint8_t peer_static[TERN_HS_KEY_LEN];
	void *user; /* the connect request's user pointer; NULL for accepted sessions */
};

struct tern_control_ops {
	void *ctx;
	/* Sends a handshake packet (the caller's worker or socket transmits it). */
	void (*send)(void *ctx, const struct tern_addr *to, const uint8_t *data, size_t len);
	/* Hands a new session to its owner worker (CID byte 0 names it); the
	 * callee owns the session from now on, sets its callbacks, and sends
	 * first_pkt (the handshake response, NULL for our own connects) to
	 * info->peer once the session can receive. Returns 0, or a negative
	 * TERN_E* when it could not (the callee freed the session and sent
	 * nothing): the control plane then keeps no response for retries. */
	int (*install)(void *ctx, struct tern_session *s, const struct tern_hs_session_info *info,
	               const uint8_t *first_pkt, size_t first_len);
	/* A connect failed: why is a tern_hs_fail or TERN_HS_TIMEOUT/REFUSED_LOAD. */
	void (*failed)(void *ctx, void *user, int why);
	/* True if something listens on (vport, type); NULL = accept every vport. */
	bool (*listening)(void *ctx, uint16_t vport, uint8_t stream_type);
	/* Wall clock, unix nanoseconds (timestamps, ticket expiry). Required. */
	uint64_t (*wallclock)(void *ctx);
	/* A pending connect's user pointer that will never be reported (the
	 * control plane is being freed): release it. NULL: nothing to do. */
	void (*forget)(void *ctx, void *user);
	/* Fills n random bytes (CIDs, ephemeral keys come from libsodium). NULL:
	 * libsodium's generator. The simulator passes a seeded one. */
	void (*random)(void *ctx, uint8_t *out, size_t n);
};

struct tern_control_cfg {
	const struct tern_hs_keypair *identity; /* our static key (both roles) */
	bool (*allow)(void *ctx, const uint8_t pub[TERN_HS_KEY_LEN]); /* NULL: any key */
	void *allow_ctx;
	const uint8_t *ticket_key; /* NULL: tickets ignored */
	bool ticket_required;
	uint8_t min_minor, max_minor;
	bool aes; /* offer/accept AES-256-GCM where the CPU has it */
	/* Load (docs/handshake.md §6.1): initiations need a cookie, and each
	 * source gets `ratelimit`, for a second after any of: hs_queue_depth
	 * handshake packets queued behind one; half the max_half_open sessions
	 * half-open; the thread busy (tern_control_busy) for load_busy_pct of
	 * the last second (0: never by busy time). */
	unsigned hs_queue_depth;                /* (64) */
	unsigned load_busy_pct;                 /* 0..100 (50) */
	struct tern_ratelimit_config ratelimit; /* per source under load (20/s, burst 10, 4096) */
	/* Always, load or not: initiations per source (100/s, burst 100, 4096
	 * sources), responder sessions half-open at once (1024), live sessions
	 * admitted from one source (1024). Sources: IPv4 addresses, IPv6 /64s. */
	struct tern_ratelimit_config source_rate;
	size_t max_half_open;
	uint32_t max_source_sessions;
	size_t replay_entries;           /* client keys whose newest timestamp is kept (65536) */
	size_t max_pending;              /* our own handshakes in flight (1024) */
	tern_time hs_rto;                /* first retransmission timeout (1 s), doubling */
	tern_time hs_timeout;            /* give up after (10 s) */
	size_t resp_cache_entries;       /* responses kept for retries (4096; 0: none) */
	tern_time resp_cache_ttl;        /* kept for (4 s: a client's first two retries) */
	uint8_t workers;                 /* owner worker ids 0..workers-1 (1) */
	struct tern_session_cfg session; /* every new session's configuration */
};

/* Fills the defaults above (identity, ticket_key and session left as given
 * by tern_session_cfg_default). */
void tern_control_cfg_default(struct tern_control_cfg *cfg);

struct tern_control_stats {
	uint64_t initiations, responses, cookie_replies_rx;
	uint64_t drop_malformed, drop_mac1, drop_ratelimit, drop_no_cookie, drop_unknown_cid;
	uint64_t cookie_replies_sent, refusals, dh_initiations; /* DH work done as responder */
	uint64_t accepted, connected, connect_failed, retransmits;
	uint64_t install_failed; /* sessions built that ops->install could not hand over */
	/* Admission (docs/handshake.md §6.1): initiations dropped with the
	 * half-open or the per-source session cap reached (drop_ratelimit
	 * counts both rate limits); times the server went under load. */
	uint64_t drop_half_open, drop_source_limit, load_entered;
	/* The response cache (docs/handshake.md §8.3): responses sent again
	 * instead of new ones (no response DH, no new session); of those, for
	 * byte-identical duplicates (no DH at all); duplicates dropped once an
	 * entry's resends ran out; live entries pushed out by newer ones. */
	uint64_t responses_resent, duplicates_resent, drop_duplicate, resp_cache_evicted;
	uint64_t fail[16];       /* responder-side failures by tern_hs_fail */
	uint64_t refused_memory; /* initiations refused: the session budget was full */
};

struct tern_control;

/* Returns 0, TERN_EINVAL (with the reason in *err_msg) or TERN_ENOMEM. */
int tern_control_new(struct tern_control **out, const struct tern_control_cfg *cfg,
                     const struct tern_control_ops *ops, tern_time now, const char **err_msg);
/* Frees everything, pending handshakes included (their failed callbacks are
 * not called). NULL is fine. */
void tern_control_free(struct tern_control *c);

/* Processes one handshake packet from src. backlog: handshake packets still
 * queued behind this one (the worker-to-control ring's depth); at or above
 * hs_queue_depth initiations must carry a valid cookie. worker: the worker it
 * arrived on, which becomes the owner of a session it creates (the kernel's
 * SO_REUSEPORT hash, or the NIC's RSS, sends that client's later packets to
 * the same worker, so they need no handoff). Returns 0 or the negative
 * reason it was dropped (counted in stats). */
int tern_control_on_packet(struct tern_control *c, const uint8_t *pkt, size_t len,
                           const struct tern_addr *src, unsigned backlog, unsigned worker,
                           tern_time now);

struct tern_connect_req {
	struct tern_addr peer;
	const uint8_t *server_pub; /* 32 bytes */
	uint16_t vport;
	uint8_t stream_type;
	const uint8_t *ticket; /* NULL or ticket_len bytes */
	size_t ticket_len;
	void *user; /* returned in install's info or in failed */
};
/* Starts a handshake. Returns 0, TERN_EINVAL, TERN_ELIMIT (max_pending
 * handshakes in flight), TERN_ECRYPTO (server_pub is a low-order point) or
 * TERN_ENOMEM. */
int tern_control_connect(struct tern_control *c, const struct tern_connect_req *req, tern_time now);

/* The thread running the control plane spent `busy` of its time up to now
 * working (the engine measures its control thread; the simulator charges
 * its virtual CPU): one of the signals of load. */
void tern_control_busy(struct tern_control *c, tern_time busy, tern_time now);
/* The admission counts (core/admit.h): half-open and admitted sessions,
 * readable from any thread while the control plane lives. */
const struct tern_admit *tern_control_admit(const struct tern_control *c);

/* Retransmissions, handshake timeouts, cookie rotation. */
tern_time tern_control_deadline(const struct tern_control *c);
void tern_control_on_timeout(struct tern_control *c, tern_time now);
const struct tern_control_stats *tern_control_stats(const struct tern_control *c);

/* ---- internal, shared by control*.c ---- */
void tern_control_new_cid(struct tern_control *c, uint8_t cid[TERN_CID_LEN]);
int tern_control_install(struct tern_control *c, struct tern_hs_result *res, bool initiator,
                         const struct tern_hs_session_info *info, uint64_t amp_budget,
                         const uint8_t *first_pkt, size_t first_len, tern_time now);
uint64_t tern_control_unix(const struct tern_control *c);
void tern_control_client_free(struct tern_control *c);
int tern_control_on_response(struct tern_control *c, const uint8_t *pkt, size_t len, tern_time now);
int tern_control_on_cookie(struct tern_control *c, const uint8_t *pkt, size_t len, tern_time now);
int tern_control_on_refusal(struct tern_control *c, const uint8_t *pkt, size_t len, tern_time now);
tern_time tern_control_client_deadline(const struct tern_control *c);
void tern_control_client_timeout(struct tern_control *c, tern_time now);

#endif
