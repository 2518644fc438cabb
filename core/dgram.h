/* Unreliable datagrams: a bounded outgoing queue (never retransmitted; a
 * full queue reports TERN_EAGAIN), and per-lane sequence tracking for
 * unreliable-sequenced datagrams (a datagram older than the newest one seen
 * on its lane is stale and dropped). Every array here is allocated on first
 * use, so a session that sends or receives no datagrams carries none. */
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
	uint64_t *next_seq; /* [TERN_MAX_DGRAM_LANES], send side, per lane; NULL
	                     * until the first sequenced push; owned, freed by
	                     * tern_dgram_queue_free */
	uint64_t dropped_full;
};

/* cap: queue depth. Allocation is deferred to the first push. */
void tern_dgram_queue_init(struct tern_dgram_queue *q, size_t cap);
/* Frees the ring and the lane counters. */
void tern_dgram_queue_free(struct tern_dgram_queue *q);
/* Heap bytes q holds now. */
size_t tern_dgram_queue_mem(const struct tern_dgram_queue *q);
/* Queues a datagram; lane < 0 for plain, else unreliable-sequenced on that
 * lane. Returns 0, TERN_ETOOBIG, TERN_EINVAL (lane), TERN_EAGAIN (queue
 * full), TERN_ENOMEM. */
int tern_dgram_push(struct tern_dgram_queue *q, const uint8_t *data, size_t len, int lane);
/* The oldest queued datagram or NULL. */
const struct tern_dgram_slot *tern_dgram_peek(const struct tern_dgram_queue *q);
void tern_dgram_pop(struct tern_dgram_queue *q);

struct tern_dgram_lanes {
	uint64_t *next; /* [TERN_MAX_DGRAM_LANES], lowest seq still fresh, per
	                 * lane; NULL until the first sequenced datagram arrives;
	                 * owned, freed by tern_dgram_lanes_free */
	uint64_t stale_dropped;
};

void tern_dgram_lanes_init(struct tern_dgram_lanes *l);
/* Frees the lane table; the struct may be used again (all lanes fresh). */
void tern_dgram_lanes_free(struct tern_dgram_lanes *l);
/* Heap bytes l holds now. */
size_t tern_dgram_lanes_mem(const struct tern_dgram_lanes *l);
/* Returns true if (lane, seq) is fresh (and records it), false if stale,
 * the lane is out of range, or the lane table could not be allocated (the
 * datagram is then dropped without counting as stale). */
bool tern_dgram_lanes_accept(struct tern_dgram_lanes *l, uint64_t lane, uint64_t seq);

#endif
