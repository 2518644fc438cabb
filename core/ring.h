/* Bounded lock-free rings between threads: stray packets from any worker to
 * a session's owner, INSTALL messages from the control plane to a worker,
 * handshake packets from workers to the control plane.
 *
 * A thin wrapper over Concurrency Kit's ck_ring that carries a fixed-size
 * typed message by value (no per-message allocation), in two modes:
 *   TERN_RING_SPSC  one producer thread, one consumer thread
 *   TERN_RING_MPSC  any number of producer threads, one consumer thread
 * Messages from one producer are dequeued in the order it enqueued them.
 *
 * Ordering guarantee callers may rely on: everything a producer wrote before
 * enqueueing a message (the message itself and the memory its ptr points to)
 * is visible to the consumer once it has dequeued that message (release on
 * the producer's tail update, acquire on the consumer's tail read; ring.c).
 * Ownership of *ptr passes to the consumer with the message. */
#ifndef TERN_RING_H
#define TERN_RING_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

enum tern_ring_mode {
	TERN_RING_SPSC,
	TERN_RING_MPSC,
};

/* Message types; the receiving loop gives each its meaning. */
enum tern_msg_type {
	TERN_MSG_NONE = 0,
	TERN_MSG_PACKET,    /* a packet for a session this thread owns; ptr = packet */
	TERN_MSG_INSTALL,   /* control plane -> worker: ptr = new session, data = CID */
	TERN_MSG_HANDSHAKE, /* worker -> control plane: ptr = handshake packet */
	TERN_MSG_RETIRED,   /* worker -> control plane: ptr = a session it freed */
	TERN_MSG_USER = 64, /* first type free for applications and tests */
};

#define TERN_MSG_INLINE 16

/* 32 bytes, two to a cache line. */
struct tern_msg {
	uint16_t type; /* enum tern_msg_type */
	uint16_t len;  /* bytes of data in use, or as the type defines */
	uint32_t aux;  /* as the type defines */
	void *ptr;     /* owned by the consumer once dequeued */
	uint8_t data[TERN_MSG_INLINE];
};

struct tern_ring;

/* Allocates a ring holding at least capacity messages (rounded up so that
 * a power-of-two slot array holds them; ck_ring keeps one slot free).
 * Returns 0, TERN_EINVAL (capacity 0 or > 2^30, or a bad mode), TERN_ENOMEM. */
int tern_ring_new(struct tern_ring **out, unsigned capacity, enum tern_ring_mode mode);
/* Frees the ring (not what queued messages point to). NULL is fine. No
 * thread may be using it. */
void tern_ring_free(struct tern_ring *r);

/* Producer side. Copies *m into the ring. Returns 0, or TERN_EAGAIN when
 * the ring is full. In MPSC mode a producer may wait (spin) for another
 * producer that reserved an earlier slot to finish copying its message. */
int tern_ring_enqueue(struct tern_ring *r, const struct tern_msg *m);
/* Enqueues m[0..n) in order, stopping at the first that does not fit.
 * Returns how many were enqueued (a prefix of m). */
unsigned tern_ring_enqueue_burst(struct tern_ring *r, const struct tern_msg *m, unsigned n);

/* Consumer side (one thread). Returns 0 and the oldest message in *out, or
 * TERN_EAGAIN when the ring is empty. */
int tern_ring_dequeue(struct tern_ring *r, struct tern_msg *out);
/* Dequeues up to n messages into out. Returns how many. */
unsigned tern_ring_dequeue_burst(struct tern_ring *r, struct tern_msg *out, unsigned n);

/* Messages the ring holds at most. */
unsigned tern_ring_capacity(const struct tern_ring *r);
/* Messages queued now: exact when no other thread is using the ring, a
 * snapshot otherwise. */
unsigned tern_ring_count(const struct tern_ring *r);

#ifdef __cplusplus
}
#endif
#endif
