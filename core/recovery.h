/* Loss detection and recovery after RFC 9002: the sent-packet map, ACK
 * processing, packet- and time-threshold loss, PTO with exponential backoff,
 * persistent congestion, and the congestion controller it feeds.
 *
 * Each sent packet records what it carried as a few frame metas, so that when
 * it is acked or declared lost the session can tell each stream, flow-control
 * or control frame. Each in-flight packet also carries its delivery-rate stamp
 * (delivery.h); every ACK yields a rate sample for the controller. The map is a ring indexed by packet number: no allocation
 * per packet once it has grown to the flight size. */
#ifndef TERN_RECOVERY_H
#define TERN_RECOVERY_H

#include "common.h"
#include "cc.h"
#include "rtt.h"
#include "wire.h"

#define TERN_PKT_MAX_META 8

enum tern_meta_kind {
	TERN_META_NONE = 0,
	TERN_META_STREAM,          /* id, off, len, fin */
	TERN_META_MAX_DATA,        /* value */
	TERN_META_MAX_STREAM_DATA, /* id, value */
	TERN_META_ACK,             /* value = largest pn the ACK acknowledged */
	TERN_META_PING,
	TERN_META_CLOSE,
	TERN_META_DATAGRAM, /* len = bytes of datagram payload */
	TERN_META_BLOCKED,  /* DATA_BLOCKED / STREAM_DATA_BLOCKED */
	TERN_META_PATH,
	TERN_META_KEY_UPDATE,
};

struct tern_frame_meta {
	uint8_t kind;
	uint8_t fin;
	uint16_t id; /* stream id (< TERN_MAX_STREAMS) */
	uint32_t len;
	uint64_t off; /* stream offset, or the value of a credit/ACK meta */
};

/* SKIPPED: a packet number deliberately never sent (optimistic-ACK defence:
 * an ACK that covers it closes the session). */
enum tern_sent_state {
	TERN_SENT_FREE = 0,
	TERN_SENT_INFLIGHT,
	TERN_SENT_ACKED,
	TERN_SENT_LOST,
	TERN_SENT_SKIPPED,
};

struct tern_sent_pkt {
	uint64_t pn;
	tern_time sent_time;
	uint16_t size;
	uint8_t state;
	uint8_t ack_eliciting : 1;
	uint8_t in_flight : 1;
	uint8_t nmeta;
	struct tern_delivery_pkt dr; /* delivery-rate stamp (in-flight packets only) */
	struct tern_frame_meta meta[TERN_PKT_MAX_META];
};

struct tern_recovery_cbs {
	void *ctx;
	void (*acked)(void *ctx, const struct tern_sent_pkt *p);
	void (*lost)(void *ctx, const struct tern_sent_pkt *p);
};

struct tern_recovery_stats {
	uint64_t pkts_sent, bytes_sent, pkts_acked, pkts_lost, bytes_lost;
	uint64_t pto_count_total, persistent_congestions, spurious_losses;
	uint64_t loss_scan_steps; /* sent records loss detection visited (its cost) */
	uint64_t pkts_skipped;    /* packet numbers skipped on purpose */
};

struct tern_recovery {
	struct tern_rtt rtt;
	struct tern_cc cc;
	struct tern_sent_pkt *ring; /* capacity `cap`, power of two */
	size_t cap, max_cap;
	uint64_t base_pn;       /* lowest pn still tracked (older are forgotten) */
	uint64_t next_pn;       /* the pn the next packet gets */
	uint64_t largest_acked; /* UINT64_MAX = none yet */
	tern_time largest_acked_sent_time;
	tern_time loss_time; /* earliest time-threshold loss; NEVER = none */
	tern_time last_ack_eliciting_sent;
	tern_time first_rtt_sample_time; /* for persistent congestion */
	unsigned pto_count;
	/* Reordering tolerance, raised by each spurious loss (RFC 9002 §6.1.1,
	 * after RACK): one more packet of threshold, and min_rtt/4 more time
	 * beyond 9/8·RTT, up to one smoothed RTT. */
	unsigned pkt_threshold;
	tern_time reo_wnd;
	uint64_t ack_eliciting_in_flight;
	/* Loss detection resumes at loss_pn: no packet below it is in flight,
	 * so a pass costs the packets acknowledged since the last one plus at
	 * most pkt_threshold, not the whole map. run_first/run_last carry the
	 * run of lost packets that ends just below loss_pn into the next pass
	 * (persistent congestion); TERN_TIME_NEVER = none. */
	uint64_t loss_pn;
	tern_time run_first, run_last;
	/* The next packet number to skip, 0 = none planned. The caller plans
	 * skips (it owns the randomness); tern_recovery_on_sent consumes them. */
	uint64_t skip_pn;
	struct tern_recovery_stats stats;
};

/* Returns 0 or TERN_ENOMEM. max_cap bounds the map (packets in flight). */
int tern_recovery_init(struct tern_recovery *r, const struct tern_cc_ops *cc, uint64_t mss,
                       tern_time max_ack_delay, size_t max_cap, tern_time now);
void tern_recovery_free(struct tern_recovery *r);

/* Returns the record the next packet (pn = r->next_pn) fills, zeroed but for
 * pn; NULL when the map is full (the caller must wait for ACKs). The packet
 * is not tracked until tern_recovery_on_sent. */
struct tern_sent_pkt *tern_recovery_next(struct tern_recovery *r);
/* Commits the record from tern_recovery_next as sent at now. */
void tern_recovery_on_sent(struct tern_recovery *r, struct tern_sent_pkt *p, size_t size,
                           bool ack_eliciting, bool in_flight, tern_time now);

/* Processes a decoded ACK frame. Calls cbs->acked for each newly acked packet
 * and cbs->lost for each packet declared lost. Returns 0, or TERN_EPROTO if
 * the frame acks a pn that was never sent: beyond the largest sent, or a
 * skipped pn still tracked (the rest of the frame is still processed). */
int tern_recovery_on_ack(struct tern_recovery *r, const struct tern_frame *ack, tern_time now,
                         const struct tern_recovery_cbs *cbs);

/* When the loss-detection timer fires: the time-threshold loss time, or the
 * PTO deadline, or TERN_TIME_NEVER when nothing ack-eliciting is in flight. */
tern_time tern_recovery_deadline(const struct tern_recovery *r);
/* Call when now >= deadline. Declares time-threshold losses (cbs->lost), or on
 * PTO backs off and returns the number of probe packets to send (1 or 2). */
int tern_recovery_on_timeout(struct tern_recovery *r, tern_time now,
                             const struct tern_recovery_cbs *cbs);
/* The peer moved to a newly validated path (RFC 9002 §9.4): the controller
 * and the RTT estimate start over. Packets still out on the old path leave
 * the flight without feeding the new controller (they are still acked or
 * declared lost, and their data re-sent). O(packets tracked), once per
 * migration. */
void tern_recovery_new_path(struct tern_recovery *r, tern_time now);
/* Bytes the congestion window allows now (0 when full). */
uint64_t tern_recovery_cwnd_avail(const struct tern_recovery *r);
/* Packets tracked (in flight or awaiting forget). */
static inline uint64_t tern_recovery_tracked(const struct tern_recovery *r)
{
	return r->next_pn - r->base_pn;
}
/* The oldest packet tracked still awaits its ACK or loss: it cannot be
 * forgotten to make room. */
bool tern_recovery_base_awaited(const struct tern_recovery *r);
/* The sent map holds max_cap packets and cannot make room: tern_recovery_next
 * returns NULL until an ACK (or a loss it reveals) frees the oldest. */
static inline bool tern_recovery_full(const struct tern_recovery *r)
{
	return tern_unlikely(tern_recovery_tracked(r) == r->max_cap) &&
	       tern_recovery_base_awaited(r);
}

#endif
