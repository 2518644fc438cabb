/* Delivery-rate estimation after draft-cheng-iccrg-delivery-rate-estimation:
 * each in-flight packet is stamped at send with how much had been delivered
 * (and lost) by then and when; when it is acked, the bytes delivered between
 * those two moments over the longer of the send and ack intervals give a
 * delivery-rate sample. Recovery keeps one struct tern_delivery per
 * connection (inside struct tern_cc) and feeds it for every algorithm; BBR
 * builds its model from the samples, and tern_cc_get_info reports them for
 * all. Also here: round-trip counting by delivered bytes, and a windowed
 * max filter (Kathleen Nichols' three-sample algorithm, as in Linux's
 * win_minmax) used for bandwidth. Integer arithmetic only; no clock. */
#ifndef TERN_DELIVERY_H
#define TERN_DELIVERY_H

#include "common.h"

/* Running maximum over a window of `win` units of t (rounds or µs). */
struct tern_winmax {
	struct {
		uint64_t t, v;
	} s[3];
};

/* Forgets everything and starts at (t, v). */
void tern_winmax_reset(struct tern_winmax *f, uint64_t t, uint64_t v);
/* Adds sample v at t (t never decreases); returns the window's maximum. */
uint64_t tern_winmax_update(struct tern_winmax *f, uint64_t win, uint64_t t, uint64_t v);
static inline uint64_t tern_winmax_get(const struct tern_winmax *f)
{
	return f->s[0].v;
}

/* What a packet carries from its send to its ack (stamped by on_sent). */
struct tern_delivery_pkt {
	uint64_t delivered;        /* connection's delivered bytes when sent */
	uint64_t lost;             /* connection's lost bytes when sent */
	uint64_t tx_in_flight;     /* bytes in flight just after it was sent */
	tern_time delivered_time;  /* when `delivered` last grew, as of the send */
	tern_time first_sent_time; /* send time of the packet whose ack opened this window */
	bool is_app_limited;       /* sent inside an app-limited phase */
};

/* One sample per ACK frame that newly acknowledged something. */
struct tern_rate_sample {
	uint64_t delivery_rate; /* bytes per second; 0 = no valid sample this ACK */
	bool is_app_limited;    /* the sampled packet was sent while app-limited */
	tern_time interval;     /* max(send_elapsed, ack_elapsed) */
	uint64_t delivered;     /* bytes delivered over interval */
	uint64_t prior_delivered;
	tern_time prior_time;
	tern_time send_elapsed, ack_elapsed;
	tern_time sent_time;      /* send time of the sampled packet (the newest-delivered) */
	uint64_t tx_in_flight;    /* bytes in flight when it was sent */
	uint64_t lost;            /* bytes declared lost between its send and this ACK */
	uint64_t newly_acked;     /* bytes this ACK acknowledged */
	uint64_t newly_lost;      /* bytes declared lost since the previous sample */
	uint64_t prior_in_flight; /* bytes in flight before this ACK */
	tern_time rtt;            /* RTT of the most recently sent packet acked; 0 = none */
	bool round_start;         /* this ACK began a new round trip */
	uint64_t round_count;     /* round trips so far */
};

#define TERN_DELIVERY_BW_ROUNDS 10

struct tern_delivery {
	uint64_t delivered, lost; /* bytes since start */
	tern_time delivered_time, first_sent_time;
	uint64_t app_limited; /* delivered mark at which app-limited ends; 0 = not limited */
	uint64_t round_count, next_round_delivered;
	uint64_t lost_reported;     /* `lost` at the previous sample */
	struct tern_winmax bw;      /* max delivery rate over TERN_DELIVERY_BW_ROUNDS rounds */
	bool has_data;              /* the sample being built has a packet */
	tern_time newest_sent;      /* of the packets acked in this sample */
	uint64_t last_rate;         /* delivery_rate of the last valid sample */
	struct tern_rate_sample rs; /* being built between begin and end; then the last */
};

void tern_delivery_init(struct tern_delivery *d);
/* Stamps p for a packet of size bytes sent at now; in_flight_before is the
 * bytes in flight before it. Only in-flight packets are stamped. */
void tern_delivery_on_sent(struct tern_delivery *d, struct tern_delivery_pkt *p,
                           uint64_t in_flight_before, size_t size, tern_time now);
/* The sender has nothing more to send while the window has room: samples
 * taken until what is in flight now is delivered are marked app-limited. */
void tern_delivery_on_app_limited(struct tern_delivery *d, uint64_t bytes_in_flight);
/* Starts the sample for one ACK; bytes_in_flight before the ACK. */
void tern_delivery_begin(struct tern_delivery *d, uint64_t bytes_in_flight);
/* One newly acked in-flight packet. was_lost: it had been declared lost
 * (spurious loss): its bytes count as delivered, its RTT is not sampled. */
void tern_delivery_on_acked(struct tern_delivery *d, const struct tern_delivery_pkt *p,
                            tern_time sent_time, size_t size, bool was_lost, tern_time now);
/* An in-flight packet of size bytes was declared lost. */
void tern_delivery_on_lost(struct tern_delivery *d, size_t size);
/* Completes the ACK's sample. min_rtt (0 = unknown) rejects intervals too
 * short to trust (the draft's guard against ACK compression). Returns the
 * sample; delivery_rate is 0 when it is not valid. */
const struct tern_rate_sample *tern_delivery_end(struct tern_delivery *d, tern_time min_rtt,
                                                 tern_time now);

#endif
