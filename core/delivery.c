/* Delivery-rate sampling (draft-cheng-iccrg-delivery-rate-estimation-02)
 * and the windowed max filter it and BBR share.
 *
 * Shaped after the draft's pseudocode so the two can be read side by side:
 * on_sent is OnPacketSent, on_acked is UpdateRateSample, end is
 * GenerateRateSample. The sample of an ACK comes from the acked packet that
 * was sent last (largest `delivered` at send), the one whose interval covers
 * the most recent state of the path. Losses are counted here too, so a
 * sample can say how much was lost while its packet was in flight: BBR
 * compares that with what was in flight to judge whether inflight was too
 * high. Rounds are counted by delivery: a round ends when a packet sent
 * after the previous round ended is acked. */
#include "delivery.h"

/* 128-bit intermediates: GCC/Clang extension, marked so -Wpedantic accepts it. */
__extension__ typedef unsigned __int128 u128;

/* ---- windowed max filter ---- */

void tern_winmax_reset(struct tern_winmax *f, uint64_t t, uint64_t v)
{
	for (int i = 0; i < 3; i++) {
		f->s[i].t = t;
		f->s[i].v = v;
	}
}

/* Ages the three sub-window samples so s[0] is the best within the window,
 * s[1] the best after it, s[2] the best after that. */
static uint64_t subwin_update(struct tern_winmax *f, uint64_t win, uint64_t t, uint64_t v)
{
	uint64_t dt = t - f->s[0].t;

	if (dt > win) {
		f->s[0] = f->s[1];
		f->s[1] = f->s[2];
		f->s[2].t = t;
		f->s[2].v = v;
		if (t - f->s[0].t > win) {
			f->s[0] = f->s[1];
			f->s[1] = f->s[2];
		}
	} else if (f->s[1].t == f->s[0].t && dt > win / 4) {
		f->s[2].t = f->s[1].t = t;
		f->s[2].v = f->s[1].v = v;
	} else if (f->s[2].t == f->s[1].t && dt > win / 2) {
		f->s[2].t = t;
		f->s[2].v = v;
	}
	return f->s[0].v;
}

uint64_t tern_winmax_update(struct tern_winmax *f, uint64_t win, uint64_t t, uint64_t v)
{
	if (v >= f->s[0].v || t - f->s[2].t > win) {
		tern_winmax_reset(f, t, v);
		return v;
	}
	if (v >= f->s[1].v) {
		f->s[2].t = f->s[1].t = t;
		f->s[2].v = f->s[1].v = v;
	} else if (v >= f->s[2].v) {
		f->s[2].t = t;
		f->s[2].v = v;
	}
	return subwin_update(f, win, t, v);
}

/* ---- delivery rate ---- */

void tern_delivery_init(struct tern_delivery *d)
{
	memset(d, 0, sizeof(*d));
}

void tern_delivery_on_sent(struct tern_delivery *d, struct tern_delivery_pkt *p,
                           uint64_t in_flight_before, size_t size, tern_time now)
{
	if (in_flight_before == 0)
		d->first_sent_time = d->delivered_time = now;
	p->delivered = d->delivered;
	p->lost = d->lost;
	p->tx_in_flight = in_flight_before + size;
	p->delivered_time = d->delivered_time;
	p->first_sent_time = d->first_sent_time;
	p->is_app_limited = d->app_limited != 0;
}

void tern_delivery_on_app_limited(struct tern_delivery *d, uint64_t bytes_in_flight)
{
	/* the draft's max(C.delivered + inflight, 1): 0 means "not limited" */
	d->app_limited = TERN_MAX(d->delivered + bytes_in_flight, 1);
}

void tern_delivery_begin(struct tern_delivery *d, uint64_t bytes_in_flight)
{
	struct tern_rate_sample *rs = &d->rs;

	memset(rs, 0, sizeof(*rs));
	rs->prior_in_flight = bytes_in_flight;
	rs->round_count = d->round_count;
	d->has_data = false;
	d->newest_sent = 0;
}

void tern_delivery_on_acked(struct tern_delivery *d, const struct tern_delivery_pkt *p,
                            tern_time sent_time, size_t size, bool was_lost, tern_time now)
{
	struct tern_rate_sample *rs = &d->rs;

	d->delivered += size;
	d->delivered_time = now;
	rs->newly_acked += size;
	if (!was_lost && sent_time >= d->newest_sent && now >= sent_time) {
		d->newest_sent = sent_time;
		rs->rtt = now - sent_time;
	}
	/* the sample comes from the packet sent last: most delivered at its
	 * send, then the later send time (acks may be walked in any order) */
	if (d->has_data && (p->delivered < rs->prior_delivered ||
	                    (p->delivered == rs->prior_delivered && sent_time <= rs->sent_time)))
		return;
	d->has_data = true;
	rs->prior_delivered = p->delivered;
	rs->prior_time = p->delivered_time;
	rs->is_app_limited = p->is_app_limited;
	rs->send_elapsed = sent_time > p->first_sent_time ? sent_time - p->first_sent_time : 0;
	rs->ack_elapsed = now > p->delivered_time ? now - p->delivered_time : 0;
	rs->sent_time = sent_time;
	rs->tx_in_flight = p->tx_in_flight;
	rs->lost = p->lost; /* made relative in end() */
	d->first_sent_time = sent_time;
}

void tern_delivery_on_lost(struct tern_delivery *d, size_t size)
{
	d->lost += size;
}

static void count_round(struct tern_delivery *d, struct tern_rate_sample *rs)
{
	if (rs->prior_delivered < d->next_round_delivered)
		return;
	d->next_round_delivered = d->delivered;
	d->round_count++;
	rs->round_start = true;
	rs->round_count = d->round_count;
}

const struct tern_rate_sample *tern_delivery_end(struct tern_delivery *d, tern_time min_rtt,
                                                 tern_time now)
{
	struct tern_rate_sample *rs = &d->rs;

	(void)now;
	rs->newly_lost = d->lost - d->lost_reported;
	d->lost_reported = d->lost;
	if (d->app_limited && d->delivered > d->app_limited)
		d->app_limited = 0;
	if (!d->has_data)
		return rs;
	count_round(d, rs);
	rs->lost = d->lost - rs->lost;
	rs->interval = TERN_MAX(rs->send_elapsed, rs->ack_elapsed);
	rs->delivered = d->delivered - rs->prior_delivered;
	/* An interval shorter than min_rtt comes from ACK compression or
	 * aggregation and would overestimate the rate: no sample. */
	if (rs->interval == 0 || (min_rtt && rs->interval < min_rtt))
		return rs;
	u128 rate = (u128)rs->delivered * TERN_SEC / rs->interval;
	rs->delivery_rate = rate > UINT64_MAX ? UINT64_MAX : (uint64_t)rate;
	d->last_rate = rs->delivery_rate;
	if (!rs->is_app_limited || rs->delivery_rate >= tern_winmax_get(&d->bw))
		tern_winmax_update(&d->bw, TERN_DELIVERY_BW_ROUNDS, d->round_count,
		                   rs->delivery_rate);
	return rs;
}
