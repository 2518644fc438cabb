/* A verified transfer workload for the simulator, tests and benchmarks: the
 * sender writes `bytes` across several streams as messages of seeded random
 * sizes with seeded content, interleaved with datagrams; the receiver checks
 * every message byte for byte, in order per stream, exactly once, and every
 * datagram for content, uniqueness and (for sequenced lanes) freshness. */
#ifndef TERN_XFER_H
#define TERN_XFER_H

#include "core/session.h"

#define XFER_MAX_STREAMS 64
#define XFER_DGRAM_LEN 200
#define XFER_DGRAM_LANES 4

struct xfer_cfg {
	uint64_t bytes;   /* stream bytes in all */
	unsigned streams; /* 1..XFER_MAX_STREAMS */
	size_t min_msg, max_msg;
	unsigned dgrams; /* datagrams to send alongside */
	uint64_t seed;
};

struct xfer {
	struct xfer_cfg cfg;
	struct {
		uint64_t idx, left; /* next message index, bytes still to queue */
		bool finished;
	} tx[XFER_MAX_STREAMS];
	struct {
		uint64_t idx, bytes;
		bool fin;
	} rx[XFER_MAX_STREAMS];
	uint64_t queued, delivered; /* stream bytes */
	unsigned streams_done;
	unsigned dgrams_sent, dgrams_recv;
	uint64_t lane_last[XFER_DGRAM_LANES];
	uint8_t *dgram_seen; /* bitmap over datagram indices */
	uint64_t errors;
	char first_error[160];
	uint8_t *scratch; /* max_msg bytes */
};

/* Returns 0, TERN_EINVAL (with a reason in first_error) or TERN_ENOMEM. */
int xfer_init(struct xfer *x, const struct xfer_cfg *cfg);
void xfer_free(struct xfer *x);
/* Queues as much as the sending session takes (call once at start; the
 * writable callback keeps it going). */
void xfer_pump(struct xfer *x, struct tern_session *s);
/* Callbacks: the sender's (writable), the receiver's (message, fin, datagram). */
void xfer_sender_cbs(struct xfer *x, struct tern_session_cbs *cbs);
void xfer_receiver_cbs(struct xfer *x, struct tern_session_cbs *cbs);
/* True when every stream's FIN arrived after all its messages. */
static inline bool xfer_done(const struct xfer *x)
{
	return x->streams_done == x->cfg.streams;
}

#endif
