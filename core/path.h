/* Path validation and migration (docs/protocol.md §6.10, after RFC 9000
 * §8.2 and §9).
 *
 * A session sends to one validated peer address. An authenticated packet
 * from any other address does not move it: that address becomes the
 * candidate, and the session sends it PATH_CHALLENGEs (fresh random data
 * each, at most TERN_PATH_CHALLENGE_TRIES, one per retry interval) in small
 * probe packets, never more than TERN_PATH_AMP_FACTOR times the bytes that
 * authenticated from it. A PATH_RESPONSE from the candidate echoing one of
 * them validates it. The session migrates when the candidate is validated
 * and the peer's newest non-probing packet (the largest packet number that
 * carried more than PATH_CHALLENGE, PATH_RESPONSE and PADDING) came from it;
 * past the deadline an unvalidated candidate is dropped and the session,
 * which never left its peer, carries on there.
 *
 * Why so strict: a packet replayed or forwarded from another address opens
 * like the original (the keys prove who sealed it, not where it came from),
 * so following the source address at once let one forwarded ACK aim a whole
 * flow at a victim (issue 13).
 *
 * No I/O, no clock and no randomness: the session passes in the time, its
 * PTO and fresh challenge data. */
#ifndef TERN_PATH_H
#define TERN_PATH_H

#include "common.h"
#include "proto.h"
#include "rtt.h"
#include "tern/addr.h"

/* The largest probe packet: header, PATH_CHALLENGE, PATH_RESPONSE, tag. */
#define TERN_PATH_PROBE_MAX                                                                        \
	(TERN_DATA_HEADER_MAX + 2 * (1 + TERN_PATH_DATA_LEN) + TERN_AEAD_TAG_LEN)

/* Which address a packet came from. */
enum tern_path_from { TERN_PATH_FROM_PEER, TERN_PATH_FROM_CAND };

struct tern_path_stats {
	uint64_t challenges; /* PATH_CHALLENGEs sent */
	uint64_t validated;  /* candidates that answered */
	uint64_t failed;     /* candidates dropped at the deadline, unanswered */
	uint64_t migrations; /* moves to a validated candidate */
};

struct tern_path {
	struct tern_addr peer; /* where packets go; family 0 until set */
	struct tern_addr cand; /* the address under validation (when probing) */
	bool probing;          /* a candidate exists */
	bool cand_valid;       /* it echoed one of our challenges */
	bool cand_active;      /* the peer's newest non-probing packet came from it */
	bool response_due;     /* a PATH_RESPONSE (response) is owed to it */
	uint8_t tries;         /* challenges sent to it */
	uint8_t challenge[TERN_PATH_CHALLENGE_TRIES][TERN_PATH_DATA_LEN];
	uint8_t response[TERN_PATH_DATA_LEN];
	tern_time retry_at; /* the next challenge is due */
	tern_time deadline; /* unvalidated past this: dropped */
	uint64_t cand_rx;   /* bytes that authenticated from it */
	uint64_t cand_tx;   /* bytes of probes sent to it */
	struct tern_path_stats stats;
};

static inline bool tern_addr_eq(const struct tern_addr *a, const struct tern_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->ip, b->ip, a->family == 4 ? 4 : 16) == 0;
}

/* Sets the peer address (at session start) and drops any candidate. */
void tern_path_set_peer(struct tern_path *p, const struct tern_addr *peer);

/* tern_path_on_recv's slow path: a packet from another address. */
enum tern_path_from tern_path_on_new(struct tern_path *p, const struct tern_addr *from, size_t len,
                                     tern_time now, const struct tern_rtt *rtt);
/* A packet of len bytes authenticated from `from` (NULL: the peer's path).
 * Returns which address it came from. A new address becomes the candidate
 * (replacing any other) and its validation starts at now, paced by the
 * current path's PTO (rtt). While no peer is set, the first address seen
 * becomes the peer. The common case costs one address compare. */
static inline enum tern_path_from tern_path_on_recv(struct tern_path *p,
                                                    const struct tern_addr *from, size_t len,
                                                    tern_time now, const struct tern_rtt *rtt)
{
	if (tern_likely(!from || tern_addr_eq(from, &p->peer)))
		return TERN_PATH_FROM_PEER;
	return tern_path_on_new(p, from, len, now, rtt);
}

/* A PATH_CHALLENGE came from the candidate: its PATH_RESPONSE goes there. */
void tern_path_on_challenge(struct tern_path *p, const uint8_t data[TERN_PATH_DATA_LEN]);
/* A PATH_RESPONSE arrived; returns true when it validated the candidate
 * (it came from the candidate and echoes one of our challenges). */
bool tern_path_on_response(struct tern_path *p, const uint8_t data[TERN_PATH_DATA_LEN],
                           enum tern_path_from from);
/* The peer's newest non-probing packet came from `from`. */
void tern_path_on_active(struct tern_path *p, enum tern_path_from from);
/* Whether the peer has moved to a validated candidate. */
static inline bool tern_path_ready(const struct tern_path *p)
{
	return p->probing && p->cand_valid && p->cand_active;
}
/* Makes the candidate the peer (after tern_path_ready). */
void tern_path_migrate(struct tern_path *p);

/* Whether a probe packet for the candidate carries a PATH_CHALLENGE now
 * (not validated, tries left, retry time reached, the amplification budget
 * has room for a probe). */
bool tern_path_challenge_due(const struct tern_path *p, tern_time now);
/* Whether a probe packet is owed to the candidate now (a challenge or a
 * response, within the amplification budget). */
bool tern_path_probe_due(const struct tern_path *p, tern_time now);
/* A probe of `bytes` went to the candidate; challenge: the data of the
 * PATH_CHALLENGE it carried, or NULL. */
void tern_path_on_probe_sent(struct tern_path *p, const uint8_t *challenge, size_t bytes,
                             tern_time now, tern_time pto);
/* When the path needs the session next: now for a due probe, the next
 * challenge, or the deadline; TERN_TIME_NEVER without a candidate. */
tern_time tern_path_deadline(const struct tern_path *p, tern_time now);
/* Drops an unvalidated candidate whose deadline has passed. */
void tern_path_on_timeout(struct tern_path *p, tern_time now);

#endif
