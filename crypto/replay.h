/* Anti-replay window for data packets (RFC 6479): a ring of 64-bit blocks
 * remembers which of the last TERN_REPLAY_WINDOW packet numbers were seen.
 * Checking and recording are separate calls because the window may only
 * learn about a packet after its AEAD tag verified (docs/protocol.md §5.5):
 * a forged packet must not move the window. One per receive direction; owned
 * by the session's worker thread, no locking. */
#ifndef TERN_REPLAY_H
#define TERN_REPLAY_H

#include "core/common.h"

#define TERN_REPLAY_BLOCKS 64 /* power of two: ring index is a mask */
#define TERN_REPLAY_BLOCK_BITS 64
/* One block is always partly stale (the one the ring is about to reuse), so
 * the usable window is one block less than the ring: 4032 packets. */
#define TERN_REPLAY_WINDOW ((TERN_REPLAY_BLOCKS - 1) * TERN_REPLAY_BLOCK_BITS)

struct tern_replay {
	uint64_t top; /* largest packet number recorded; valid when any */
	bool any;     /* false until the first tern_replay_update */
	uint64_t bitmap[TERN_REPLAY_BLOCKS];
};

/* Empties the window. */
void tern_replay_init(struct tern_replay *r);
/* True if pn may be new: above the largest recorded, or inside the window and
 * not yet recorded. False for a duplicate, for pn ≤ top − TERN_REPLAY_WINDOW
 * (too old to tell) and for pn above 2^62 − 1. Changes nothing: call it before
 * decrypting, and call tern_replay_update only once the packet opened. */
bool tern_replay_check(const struct tern_replay *r, uint64_t pn);
/* Records pn, sliding the window forward if pn is above the largest. Returns
 * false (recording nothing) if tern_replay_check would reject pn, true
 * otherwise. */
bool tern_replay_update(struct tern_replay *r, uint64_t pn);

#endif
