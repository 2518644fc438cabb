/* Unreliable datagrams: a bounded outgoing queue (never retransmitted; a
 * full queue reports TERN_EAGAIN), and per-lane sequence tracking for
 * unreliable-sequenced datagrams (a datagram older than the newest one seen
 * on its lane is stale and dropped). */
#ifndef TERN_DGRAM_H
#define TERN_DGRAM_H

#include "common.h"
#include "proto.h"

struct tern_dgram_slot {
	uint16_t len;
	uint8_t sequenced;
	uint8_t lane;
	uint64_t seq;
	uint8_t data[TERN_MAX_DATAGRAM];
};

struct tern_dgram_queue {
	struct tern_dgram_slot *slots; /* lazily allocated ring */
	size_t cap, head, n;
	uint64_t next_seq[TERN_MAX_DGRAM_LANES]; /* send side, per lane */
	uint64_t dropped_full;
};

/* cap: queue depth. Allocation is deferred to the first push. */
void tern_dgram_queue_init(struct tern_dgram_queue *q, size_t cap);
void tern_dgram_queue_free(struct tern_dgram_queue *q);
/* Queues a datagram; lane < 0 for plain, else unreliable-sequenced on that
 * lane. Returns 0, TERN_ETOOBIG, TERN_EINVAL (lane), TERN_EAGAIN (queue
 * full), TERN_ENOMEM. */
int tern_dgram_push(struct tern_dgram_queue *q, const uint8_t *data, size_t len, int lane);
/* The oldest queued datagram or NULL. */
const struct tern_dgram_slot *tern_dgram_peek(const struct tern_dgram_queue *q);
void tern_dgram_pop(struct tern_dgram_queue *q);

struct tern_dgram_lanes {
	uint64_t next[TERN_MAX_DGRAM_LANES]; /* lowest seq still fresh, per lane */
	uint64_t stale_dropped;
};

void tern_dgram_lanes_init(struct tern_dgram_lanes *l);
/* Returns true if (lane, seq) is fresh (and records it), false if stale. */
bool tern_dgram_lanes_accept(struct tern_dgram_lanes *l, uint64_t lane, uint64_t seq);

#endif
