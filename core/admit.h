/* Admission limits on responder sessions, shared by the control plane that
 * admits them and the workers (or the simulator) that own them
 * (docs/handshake.md §6.1):
 *
 * - half-open sessions, engine-wide: installed, not yet confirmed by an
 *   authenticated packet from the peer. An initiation costs its sender one
 *   datagram and us a session for handshake_timeout, so they are capped;
 * - live sessions per source (an IPv4 address, an IPv6 /64), confirmed or
 *   not, so that one host cannot hold every slot.
 *
 * The control thread checks and raises the counts; a session lowers them
 * where it lives, when it is confirmed and when it is freed, through the
 * ticket it holds. So the counts are relaxed atomics: only the control
 * thread raises them, so a check followed by a raise never overshoots a cap.
 * Per-source counts are a count-min sketch: each source raises two
 * counters, picked by a keyed hash, in a fixed table, and its count is the
 * smaller of the two: never below the truth (a cap always holds), and above
 * it only when both counters are shared with busy sources. The object is
 * reference-counted (the control plane and every ticket hold one), so
 * sessions may outlive the control plane, as they do in an engine's
 * teardown. */
#ifndef TERN_ADMIT_H
#define TERN_ADMIT_H

#include <stdatomic.h>

#include "common.h"
#include "crypto/cookie.h"
#include "tern/addr.h"

#define TERN_ADMIT_BUCKETS 16384 /* per-source counters: 64 KiB */

struct tern_admit_cfg {
	size_t max_half_open;    /* >= 1 */
	uint32_t max_per_source; /* >= 1 */
	uint8_t key[TERN_SOURCE_KEY_LEN];
};

struct tern_admit;

/* What an admitted session holds. Zero: not admitted (initiators, sessions
 * made without a control plane); its calls are then no-ops. */
struct tern_admit_ticket {
	struct tern_admit *a;
	uint32_t bucket[2];
	bool half_open;
};

/* Returns 0, TERN_EINVAL or TERN_ENOMEM. */
int tern_admit_new(struct tern_admit **out, const struct tern_admit_cfg *cfg);
/* Drops the creator's reference; freed with the last ticket. NULL is fine. */
void tern_admit_put(struct tern_admit *a);
/* True when max_half_open sessions are half-open. */
bool tern_admit_half_open_full(const struct tern_admit *a);
/* True when src holds max_per_source sessions, or its family is unknown. */
bool tern_admit_source_full(const struct tern_admit *a, const struct tern_addr *src);
/* Admits a new half-open session from src (the caller checked both caps).
 * Returns 0, or TERN_EINVAL (unknown family: nothing taken). */
int tern_admit_take(struct tern_admit *a, const struct tern_addr *src, struct tern_admit_ticket *t);

/* The session was confirmed: it is no longer half-open. Any thread. */
void tern_admit_confirm(struct tern_admit_ticket *t);
/* The session is gone: its counts and reference are returned. Any thread. */
void tern_admit_release(struct tern_admit_ticket *t);

/* Gauges, readable from any thread. */
size_t tern_admit_half_open(const struct tern_admit *a);
size_t tern_admit_sessions(const struct tern_admit *a);

#endif
