/* ACK generation: which packet numbers we received, when an ACK is owed,
 * and duplicate detection. An ACK is sent after every
 * TERN_ACK_ELICITING_THRESHOLD ack-eliciting packets, after max_ack_delay,
 * and at once when a packet arrives out of order. The received set keeps at
 * most TERN_MAX_ACK_RANGES ranges; packets below `floor` (the oldest range
 * forgotten) are treated as duplicates, which is safe: the sender declares
 * them lost and re-sends their data in new packets. */
#ifndef TERN_ACK_H
#define TERN_ACK_H

#include "common.h"
#include "ranges.h"

struct tern_ackgen {
	struct tern_ranges rx;     /* packet numbers received (≥ floor) */
	uint64_t floor;            /* pns below are dropped as duplicates */
	tern_time largest_rx_time; /* when the largest pn arrived */
	tern_time deadline;        /* delayed-ACK deadline; NEVER = none owed */
	tern_time max_ack_delay;
	unsigned eliciting; /* ack-eliciting packets since the last ACK */
	bool immediate;     /* reordering seen: ACK on the next packet out */
	bool unsent;        /* the set changed since the last ACK we sent */
};

int tern_ackgen_init(struct tern_ackgen *a, tern_time max_ack_delay);
void tern_ackgen_free(struct tern_ackgen *a);
/* True if pn was received already (or is below the floor). */
bool tern_ackgen_is_dup(const struct tern_ackgen *a, uint64_t pn);
/* The largest pn received, or UINT64_MAX when none. */
uint64_t tern_ackgen_largest(const struct tern_ackgen *a);
/* Records a packet that was processed successfully. Returns 0 or TERN_ENOMEM. */
int tern_ackgen_on_packet(struct tern_ackgen *a, uint64_t pn, bool ack_eliciting, tern_time now);
/* True when an ACK must go out now (threshold reached, reordering, or the
 * delayed-ACK deadline passed). */
bool tern_ackgen_due(const struct tern_ackgen *a, tern_time now);
/* True when an ACK would say something new (piggyback it on any packet). */
static inline bool tern_ackgen_pending(const struct tern_ackgen *a)
{
	return a->unsent;
}
/* Writes an ACK frame of the received set. Returns bytes written (0 if cap
 * is too small or nothing was received) and resets the owed state.
 * *largest receives the largest pn the frame acknowledges. */
size_t tern_ackgen_write(struct tern_ackgen *a, uint8_t *p, size_t cap, tern_time now,
                         uint64_t *largest);
/* The peer acknowledged one of our ACKs whose largest was `largest`: ranges
 * at or below the ones it covered need not be repeated. Keeps the
 * duplicate floor so old packets are still rejected. */
void tern_ackgen_on_ack_acked(struct tern_ackgen *a, uint64_t largest);

#endif
