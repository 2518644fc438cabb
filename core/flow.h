/* Connection-level flow control (both directions). Stream-level credit lives
 * in the stream structs. */
#ifndef TERN_FLOW_H
#define TERN_FLOW_H

#include "common.h"

struct tern_flow_rx {
	uint64_t window;   /* credit we keep open ahead of consumption */
	uint64_t max;      /* the limit we advertised (MAX_DATA) */
	uint64_t received; /* sum over streams of highest offsets received */
	uint64_t consumed; /* bytes that left stream receive windows */
	/* Consumed bytes still held undelivered (messages being assembled
	 * outside their stream's ring): they count against the window, so the
	 * next limit is consumed + window - held. */
	uint64_t held;
	tern_time epoch; /* autotuning: when the last MAX_DATA went out */
	uint64_t epoch_consumed;
};

struct tern_flow_tx {
	uint64_t max;        /* the peer's MAX_DATA */
	uint64_t sent;       /* new stream bytes sent, all streams */
	uint64_t blocked_at; /* max when DATA_BLOCKED was last sent */
};

/* blocked_at before any DATA_BLOCKED was sent. */
#define TERN_FLOW_NOT_BLOCKED UINT64_MAX

void tern_flow_rx_init(struct tern_flow_rx *f, uint64_t window);
/* Charges newly received bytes. Returns 0 or TERN_EFLOWCONTROL (over max). */
int tern_flow_rx_on_data(struct tern_flow_rx *f, uint64_t new_bytes);
/* Records consumed bytes; returns true and sets *new_max when MAX_DATA should
 * be sent (half the window consumed since the last advertisement). */
bool tern_flow_rx_consume(struct tern_flow_rx *f, uint64_t bytes, uint64_t *new_max);
/* The same with autotuning (as tern_srecv_window_update_at): when an update
 * is due and the bytes consumed since the last one took less than 4 RTT per
 * window, the window doubles first, up to max_window. rtt 0: no growth. */
bool tern_flow_rx_consume_at(struct tern_flow_rx *f, uint64_t bytes, tern_time now, tern_time rtt,
                             uint64_t max_window, uint64_t *new_max);
/* Charges (+) or releases (-) consumed bytes still held undelivered.
 * Returns true and sets *new_max when a release makes MAX_DATA due. */
bool tern_flow_rx_hold(struct tern_flow_rx *f, int64_t bytes, uint64_t *new_max);
/* Raises the window to at least `window` (capped by max_window): the
 * connection keeps 1.5 stream windows so one fast stream is never held back
 * by the connection limit. Takes effect at the next update. */
void tern_flow_rx_ensure(struct tern_flow_rx *f, uint64_t window, uint64_t max_window);

/* Autotuning's test, shared with the stream windows: the `read` bytes
 * consumed since `epoch` took less than 4 RTT per `window` (in doubles: no
 * overflow). rtt 0 (no estimate yet) is never limited. */
static inline bool tern_flow_window_limited(tern_time epoch, tern_time now, tern_time rtt,
                                            uint64_t read, uint64_t window)
{
	return rtt && now >= epoch &&
	       (double)(now - epoch) * (double)window < 4.0 * (double)rtt * (double)read;
}

void tern_flow_tx_init(struct tern_flow_tx *f, uint64_t peer_max);
static inline uint64_t tern_flow_tx_credit(const struct tern_flow_tx *f)
{
	return f->max > f->sent ? f->max - f->sent : 0;
}
static inline void tern_flow_tx_on_sent(struct tern_flow_tx *f, uint64_t bytes)
{
	f->sent += bytes;
}
static inline void tern_flow_tx_on_max(struct tern_flow_tx *f, uint64_t max)
{
	if (max > f->max)
		f->max = max;
}
/* Returns true, once per peer limit, when connection credit is exhausted and
 * a DATA_BLOCKED frame (carrying f->max) should be sent; records it. */
bool tern_flow_tx_blocked(struct tern_flow_tx *f);

#endif
