/* Reliable ordered message streams: the send side (core/stream_send.c) and
 * the receive side (core/stream_recv.c) of one stream id. Streams carry whole
 * messages (up to TERN_MAX_MESSAGE): the sender never lets a STREAM frame
 * cross a message boundary and marks the frame that ends a message with
 * MSG_END; the receiver reassembles bytes by offset and hands each message up
 * once all its bytes are in order. Each stream orders independently, so loss
 * on one never stalls another. */
#ifndef TERN_STREAM_H
#define TERN_STREAM_H

#include "budget.h"
#include "common.h"
#include "ranges.h"
#include "recovery.h"

/* ---- send side ---- */

struct tern_stream_send {
	uint8_t *buf;             /* ring of bytes [acked_off, write_off); owned */
	size_t cap;               /* ring capacity, power of two (0 until first write) */
	uint64_t acked_off;       /* every byte below is acknowledged */
	uint64_t sent_off;        /* the next never-sent byte */
	uint64_t write_off;       /* end of data the application wrote */
	uint64_t max_data;        /* the peer's limit for this stream (MAX_STREAM_DATA) */
	uint64_t blocked_at;      /* max_data when we last sent STREAM_DATA_BLOCKED */
	size_t limit;             /* send-buffer limit in bytes (backpressure) */
	struct tern_ranges acked; /* acked ranges above acked_off */
	struct tern_ranges lost;  /* ranges to retransmit, below sent_off */
	uint64_t *ends; /* message end offsets in [acked_off, write_off], ascending ring */
	size_t ends_cap, ends_head, ends_n;
	size_t ends_sent; /* ends at or below sent_off: the next new frame's end is ends[this] */
	bool fin;         /* the application finished the stream at write_off */
	bool fin_sent, fin_lost, fin_acked;
	struct tern_memacct *acct; /* the ring and ends grow and shrink here; NULL: none */
};

/* limit: most bytes buffered (a message longer than limit is accepted only
 * into an empty buffer). max_data: the peer's initial stream credit. */
int tern_ssend_init(struct tern_stream_send *s, size_t limit, uint64_t max_data);
void tern_ssend_free(struct tern_stream_send *s);
/* Queues one whole message (copied). Returns 0, TERN_EAGAIN (buffer full:
 * nothing queued), TERN_ETOOBIG (len > TERN_MAX_MESSAGE or 0), TERN_ECLOSED
 * (after finish), TERN_ENOMEM. */
int tern_ssend_write(struct tern_stream_send *s, const uint8_t *msg, size_t len);
/* Marks the end of the stream after the queued messages. Returns 0 or TERN_ECLOSED. */
int tern_ssend_finish(struct tern_stream_send *s);
/* True if emit would produce a frame given conn_credit bytes of connection credit. */
bool tern_ssend_pending(const struct tern_stream_send *s, uint64_t conn_credit);
/* Writes one STREAM frame (always with an explicit length) into p: lost bytes
 * first, then new bytes within max_data and conn_credit, never crossing a
 * message end. Fills *meta (TERN_META_STREAM) and *new_bytes (never-sent
 * bytes included, to charge to connection flow control). Returns the frame
 * size, or 0 if nothing fits or nothing is pending. */
size_t tern_ssend_emit(struct tern_stream_send *s, uint16_t id, uint8_t *p, size_t cap,
                       uint64_t conn_credit, struct tern_frame_meta *meta, uint64_t *new_bytes);
void tern_ssend_on_acked(struct tern_stream_send *s, const struct tern_frame_meta *m);
void tern_ssend_on_lost(struct tern_stream_send *s, const struct tern_frame_meta *m);
/* Raises max_data (ignored if lower). */
void tern_ssend_on_max_data(struct tern_stream_send *s, uint64_t max);
static inline size_t tern_ssend_buffered(const struct tern_stream_send *s)
{
	return (size_t)(s->write_off - s->acked_off);
}
/* True if a message of len bytes would be accepted now. */
bool tern_ssend_writable(const struct tern_stream_send *s, size_t len);
/* True when every byte and the FIN are acknowledged. */
bool tern_ssend_done(const struct tern_stream_send *s);

/* ---- receive side ---- */

typedef void (*tern_msg_cb)(void *ctx, const uint8_t *msg, size_t len);

struct tern_stream_recv {
	/* The ring of cap bytes covering [read_off, read_off + cap), indexed by
	 * offset & (cap - 1), followed in the same allocation by two bitmaps
	 * of cap bits indexed alike: `have` marks the bytes received, `ends`
	 * the last byte of each message (bit (e - 1) for a message ending at
	 * e). Only the bits of [read_off, valid) are meaningful. Owned, lazy. */
	uint8_t *buf;
	uint64_t *have, *ends; /* inside buf */
	size_t cap;            /* = window, power of two, at least 64 */
	uint64_t read_off;     /* every byte below has left the ring */
	uint64_t contig;       /* every byte in [read_off, contig) is received */
	uint64_t scan;         /* no message ends in (read_off, scan]; read_off <= scan <= contig */
	uint64_t valid;        /* the bitmaps' bits below are meaningful; contig <= valid */
	uint64_t max_data;     /* the limit we advertised */
	uint64_t highest;      /* highest offset received + 1 */
	uint8_t *msg;          /* assembly of the current message once it outgrows the ring */
	size_t msg_len, msg_cap;
	uint64_t msg_start;        /* offset where the current message starts */
	uint64_t final_size;       /* UINT64_MAX until a FIN arrives */
	tern_time epoch;           /* autotuning: when the current window epoch began */
	uint64_t epoch_off;        /* read_off then */
	uint64_t work;             /* frames taken plus bitmap words touched, ever */
	struct tern_memacct *acct; /* the ring and msg grow and shrink here; NULL: none */
	bool fin_delivered;
};

/* window: receive window in bytes, rounded up to a power of two (at least
 * 64). */
int tern_srecv_init(struct tern_stream_recv *r, size_t window);
void tern_srecv_free(struct tern_stream_recv *r);
/* Accepts a STREAM frame's data. Duplicates and overlaps are harmless.
 * *new_bytes: how much `highest` grew (for connection flow control).
 * Returns 0, TERN_EFLOWCONTROL (beyond max_data), TERN_EPROTO (final size
 * changed or data beyond it), TERN_EMALFORMED (an empty message, or a
 * message end among bytes already found contiguous with no end there),
 * TERN_ETOOBIG (a message would exceed TERN_MAX_MESSAGE) or TERN_ENOMEM. On
 * error nothing was applied. The cost is one or two memcpys and a word of
 * bookkeeping per 64 bytes, whatever order frames arrive in (the receive
 * window bounds every structure). */
int tern_srecv_frame(struct tern_stream_recv *r, uint64_t off, const uint8_t *data, size_t len,
                     bool msg_end, bool fin, uint64_t *new_bytes);
/* Hands every complete in-order message to cb, then moves at most `room`
 * bytes of an incomplete message of half the window or more into the
 * assembly buffer (none if a message from the assembly buffer was handed up
 * in this call: the caller may give that room to another stream first).
 * Returns the bytes that left the receive window. */
uint64_t tern_srecv_deliver_room(struct tern_stream_recv *r, tern_msg_cb cb, void *ctx,
                                 uint64_t room);
/* The same with no limit on the assembly buffer (beyond TERN_MAX_MESSAGE). */
static inline uint64_t tern_srecv_deliver(struct tern_stream_recv *r, tern_msg_cb cb, void *ctx)
{
	return tern_srecv_deliver_room(r, cb, ctx, UINT64_MAX);
}
/* True when in-order bytes of an incomplete message wait for room in the
 * assembly buffer (after a delivery that was limited). */
static inline bool tern_srecv_wants_room(const struct tern_stream_recv *r)
{
	return r->contig > r->read_off && (r->msg_len > 0 || r->contig - r->read_off >= r->cap / 2);
}
/* True once the FIN and every byte before it have been delivered. */
static inline bool tern_srecv_finished(const struct tern_stream_recv *r)
{
	return r->fin_delivered;
}
/* If the advertised limit should move (half the window consumed), sets
 * *new_max, records it as advertised, and returns true. */
bool tern_srecv_window_update(struct tern_stream_recv *r, uint64_t *new_max);
/* The same, with receive-window autotuning: when the update is due and the
 * bytes read since the last update took less than 4 RTT per window
 * (4 · rtt · read / window > elapsed: the window is under four times what
 * arrives per round trip, which covers the flight, the data held behind a
 * loss until its retransmission lands, and growth), the sender is limited by
 * our window, not by the path or the reader, so the window doubles, up to
 * max_cap. Growing moves the ring (one allocation per doubling); if that
 * allocation fails the window stays as it was. rtt 0 = no estimate yet: no
 * growth. */
bool tern_srecv_window_update_at(struct tern_stream_recv *r, tern_time now, tern_time rtt,
                                 size_t max_cap, uint64_t *new_max);
/* Bytes of heap this stream holds. */
size_t tern_srecv_mem(const struct tern_stream_recv *r);
/* Reassembly bookkeeping done so far, in 8-byte words touched (plus one per
 * frame): tests check it does not depend on the order frames arrive in. */
static inline uint64_t tern_srecv_work(const struct tern_stream_recv *r)
{
	return r->work;
}

#endif
