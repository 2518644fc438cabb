/* Loss detection and recovery after RFC 9002 §6–7.
 *
 * The sent map is a ring of struct tern_sent_pkt indexed by pn & (cap - 1)
 * covering [base_pn, next_pn). It starts at 256 records and doubles (realloc,
 * then each record moves to its slot under the wider mask) when full, up to
 * max_cap; after that tern_recovery_next returns NULL until ACKs free room.
 * base_pn moves up past records that are finished, so memory follows the
 * flight and nothing is allocated per packet once the ring has grown.
 *
 * Policy, spelled out because the callbacks depend on it:
 * - An ACK is processed in the RFC's order: mark newly acked packets, take an
 *   RTT sample, detect losses (one cc on_loss per call, with the send time of
 *   the largest lost in-flight packet, then persistent congestion), and only
 *   then feed cc on_ack and cbs->acked for the newly acked packets, so the
 *   controller halves the window before the acks of pre-loss packets arrive.
 *   Last, the ACK's delivery-rate sample (delivery.h) goes to the
 *   controller's on_rate_sample; losses declared on a timer reach it with
 *   the next ACK's sample.
 *   Packets being acked are held in a transient ACKING state between the two
 *   passes over the ACK ranges; callbacks must not call back into recovery.
 * - Ranges are clipped to [base_pn, next_pn) and the walk stops at the first
 *   range wholly below base_pn, so an ACK costs O(ranges + tracked window),
 *   never O(range width) for old ranges the peer keeps repeating.
 * - Loss detection keeps a cursor (loss_pn): below it nothing is in flight,
 *   so each pass visits only what was acknowledged since the last one plus
 *   the few packets still within the packet threshold. A lost packet that
 *   pins base_pn for a PTO no longer makes every ACK rescan the flight.
 * - Skipped packet numbers (optimistic-ACK defence, RFC 9000 §21.4): the
 *   caller sets skip_pn; on_sent then leaves that number unused, tracked as
 *   SKIPPED for a PTO like a lost packet. An ACK covering it is reported as
 *   TERN_EPROTO: the peer acknowledged a packet it cannot have received.
 * - Spurious loss: a LOST packet stays tracked for one PTO after it was sent
 *   (long enough for a reordered ACK). If an ACK covers it then, it becomes
 *   ACKED, stats.spurious_losses counts it and cbs->acked still runs, so the
 *   session drops any retransmission still queued instead of resending data
 *   the peer already has. The congestion reaction is not undone.
 * - PTO never declares loss: it backs off and asks for two probe packets;
 *   the ACK those probes elicit drives loss detection as usual.
 * - When the ring is full at max_cap, finished records and ACK-only packets
 *   (not in flight, not ack-eliciting) at the bottom are forgotten without
 *   callbacks: a pure receiver whose ACKs are never acked cannot wedge the
 *   map (the session should still PING now and then, RFC 9000 §13.2.4). */
#include <stdlib.h>

#include "alloc.h"
#include "recovery.h"
#include "proto.h"

#define INITIAL_CAP 16                      /* 3.2 KiB; doubles as needed, up to max_cap */
#define SENT_ACKING (TERN_SENT_SKIPPED + 1) /* private, only inside on_ack */

static struct tern_sent_pkt *slot(const struct tern_recovery *r, uint64_t pn)
{
	return &r->ring[pn & (r->cap - 1)];
}

static size_t round_pow2(size_t n)
{
	size_t p = 1;
	size_t limit = (SIZE_MAX / 2) / sizeof(struct tern_sent_pkt);

	while (p < n && p < limit)
		p <<= 1;
	return p;
}

int tern_recovery_init(struct tern_recovery *r, const struct tern_cc_ops *cc, uint64_t mss,
                       tern_time max_ack_delay, size_t max_cap, tern_time now)
{
	memset(r, 0, sizeof(*r));
	r->max_cap = round_pow2(TERN_MAX(max_cap, 1));
	r->cap = TERN_MIN((size_t)INITIAL_CAP, r->max_cap);
	r->ring = tern_calloc(r->cap, sizeof(*r->ring));
	if (!r->ring)
		return TERN_ENOMEM;
	tern_rtt_init(&r->rtt, TERN_INITIAL_RTT_US, max_ack_delay);
	tern_cc_init(&r->cc, cc, mss, now);
	r->largest_acked = UINT64_MAX;
	r->largest_acked_sent_time = 0;
	r->loss_time = TERN_TIME_NEVER;
	r->first_rtt_sample_time = TERN_TIME_NEVER;
	r->pkt_threshold = TERN_PACKET_THRESHOLD;
	r->run_first = r->run_last = TERN_TIME_NEVER;
	return 0;
}

void tern_recovery_free(struct tern_recovery *r)
{
	free(r->ring);
	r->ring = NULL;
	r->cap = 0;
}

/* Doubles a full ring. Every slot holds a live pn, so each record either stays
 * or moves up by the old cap, into the fresh half: no two collide. */
static bool grow(struct tern_recovery *r)
{
	size_t old = r->cap;
	struct tern_sent_pkt *ring = tern_realloc(r->ring, 2 * old * sizeof(*ring));

	if (!ring)
		return false;
	r->ring = ring;
	r->cap = 2 * old;
	for (size_t i = 0; i < old; i++) {
		if (ring[i].pn & old)
			ring[i + old] = ring[i];
	}
	return true;
}

/* Whether the record at the bottom of the ring may be forgotten. force: the
 * ring is full, so do not wait for lost packets to age, and drop ACK-only
 * packets too. */
static bool finished(const struct tern_recovery *r, const struct tern_sent_pkt *p, tern_time now,
                     bool force)
{
	switch (p->state) {
	case TERN_SENT_ACKED:
		return true;
	case TERN_SENT_LOST:
	case TERN_SENT_SKIPPED:
		return force || p->sent_time + tern_rtt_pto(&r->rtt) <= now;
	case TERN_SENT_INFLIGHT:
		return force && !p->in_flight && !p->ack_eliciting;
	default:
		return false;
	}
}

static void advance_base(struct tern_recovery *r, tern_time now, bool force)
{
	while (r->base_pn < r->next_pn && finished(r, slot(r, r->base_pn), now, force))
		r->base_pn++;
}

struct tern_sent_pkt *tern_recovery_next(struct tern_recovery *r)
{
	if (r->next_pn - r->base_pn == r->cap) {
		advance_base(r, 0, false);
		if (r->next_pn - r->base_pn == r->cap && (r->cap >= r->max_cap || !grow(r)))
			advance_base(r, 0, true);
		if (r->next_pn - r->base_pn == r->cap)
			return NULL;
	}
	struct tern_sent_pkt *p = slot(r, r->next_pn);
	memset(p, 0, sizeof(*p));
	p->pn = r->next_pn;
	return p;
}

bool tern_recovery_base_awaited(const struct tern_recovery *r)
{
	return !finished(r, slot(r, r->base_pn), 0, true); /* force: time plays no part */
}

/* Leaves the next packet number unused (skip_pn). A full ring has no slot to
 * track it in: the skip moves to the next number. */
static void skip_pn(struct tern_recovery *r, tern_time now)
{
	struct tern_sent_pkt *p;

	if (r->next_pn - r->base_pn == r->cap) {
		r->skip_pn++;
		return;
	}
	p = slot(r, r->next_pn);
	memset(p, 0, sizeof(*p));
	p->pn = r->next_pn++;
	p->sent_time = now;
	p->state = TERN_SENT_SKIPPED;
	r->skip_pn = 0;
	r->stats.pkts_skipped++;
}

void tern_recovery_on_sent(struct tern_recovery *r, struct tern_sent_pkt *p, size_t size,
                           bool ack_eliciting, bool in_flight, tern_time now)
{
	p->pn = r->next_pn++;
	p->sent_time = now;
	p->size = (uint16_t)TERN_MIN(size, (size_t)UINT16_MAX);
	p->state = TERN_SENT_INFLIGHT;
	p->ack_eliciting = ack_eliciting;
	p->in_flight = in_flight;
	r->stats.pkts_sent++;
	r->stats.bytes_sent += p->size;
	if (in_flight) {
		tern_delivery_on_sent(&r->cc.delivery, &p->dr, r->cc.bytes_in_flight, p->size, now);
		r->cc.bytes_in_flight += p->size;
	}
	if (ack_eliciting) {
		r->last_ack_eliciting_sent = now;
		r->ack_eliciting_in_flight++;
	}
	if (r->next_pn == r->skip_pn)
		skip_pn(r, now);
}

/* Takes a packet out of the flight (acked or lost): the counters it fed. */
static void leave_flight(struct tern_recovery *r, const struct tern_sent_pkt *p)
{
	if (p->in_flight)
		r->cc.bytes_in_flight -= TERN_MIN(r->cc.bytes_in_flight, (uint64_t)p->size);
	if (p->ack_eliciting && r->ack_eliciting_in_flight > 0)
		r->ack_eliciting_in_flight--;
}

/* ---- loss detection ---- */

/* What one loss-detection pass found: the largest lost in-flight packet's
 * send time, and a run of consecutive lost packets for persistent congestion
 * (RFC 9002 §7.6: both ends ack-eliciting, sent after the first RTT sample,
 * nothing in between acked or still outstanding). */
struct loss_scan {
	tern_time delay, lost_before; /* lost by time if sent_time <= lost_before */
	bool time_ok;                 /* false while now < delay */
	bool any_lost;                /* an in-flight packet was declared lost */
	tern_time largest_lost_sent;
	tern_time run_first, run_last; /* TERN_TIME_NEVER = no endpoint yet */
	bool run_new;                  /* the run holds a packet lost by this pass */
	bool persistent;
};

static void run_extend(const struct tern_recovery *r, struct loss_scan *s,
                       const struct tern_sent_pkt *p, bool newly)
{
	s->run_new |= newly;
	if (!p->ack_eliciting || r->first_rtt_sample_time == TERN_TIME_NEVER ||
	    p->sent_time <= r->first_rtt_sample_time)
		return;
	if (s->run_first == TERN_TIME_NEVER)
		s->run_first = p->sent_time;
	s->run_last = p->sent_time;
}

static void run_break(const struct tern_recovery *r, struct loss_scan *s)
{
	tern_time duration = tern_rtt_pto(&r->rtt) * TERN_PERSISTENT_CONGESTION_THRESHOLD;

	if (s->run_new && s->run_first != TERN_TIME_NEVER && s->run_last - s->run_first > duration)
		s->persistent = true;
	s->run_first = s->run_last = TERN_TIME_NEVER;
	s->run_new = false;
}

static void declare_lost(struct tern_recovery *r, struct tern_sent_pkt *p, struct loss_scan *s,
                         const struct tern_recovery_cbs *cbs)
{
	p->state = TERN_SENT_LOST;
	leave_flight(r, p);
	r->stats.pkts_lost++;
	r->stats.bytes_lost += p->size;
	if (p->in_flight) {
		tern_delivery_on_lost(&r->cc.delivery, p->size);
		s->any_lost = true;
		s->largest_lost_sent = TERN_MAX(s->largest_lost_sent, p->sent_time);
	}
	if (cbs && cbs->lost)
		cbs->lost(cbs->ctx, p);
}

static void scan_init(const struct tern_recovery *r, struct loss_scan *s, tern_time now)
{
	tern_time base_rtt = TERN_MAX(r->rtt.latest, r->rtt.smoothed);

	memset(s, 0, sizeof(*s));
	s->delay = TERN_MAX(base_rtt * TERN_TIME_THRESHOLD_NUM / TERN_TIME_THRESHOLD_DEN,
	                    (tern_time)TERN_GRANULARITY_US) +
	           r->reo_wnd;
	s->time_ok = now >= s->delay;
	s->lost_before = s->time_ok ? now - s->delay : 0;
	s->run_first = s->run_last = TERN_TIME_NEVER;
}

/* The cursor stops at pn: nothing below it is in flight; the lost run that
 * ends there carries over to the next pass. */
static void scan_save(struct tern_recovery *r, const struct loss_scan *s, uint64_t pn)
{
	r->loss_pn = pn;
	r->run_first = s->run_first;
	r->run_last = s->run_last;
}

/* Visits the outstanding packets below largest_acked from the cursor on:
 * declares those past the packet or time threshold lost and sets loss_time
 * for the rest. Then one congestion event for the pass, and persistent
 * congestion if found. A skipped pn neither extends nor breaks a run. */
static void detect_losses(struct tern_recovery *r, tern_time now,
                          const struct tern_recovery_cbs *cbs)
{
	uint64_t pn = TERN_MAX(r->loss_pn, r->base_pn);
	bool settled = true; /* everything visited so far is out of flight */
	struct loss_scan s;

	r->loss_time = TERN_TIME_NEVER;
	if (r->largest_acked == UINT64_MAX)
		return;
	scan_init(r, &s, now);
	if (r->loss_pn >= r->base_pn) {
		s.run_first = r->run_first;
		s.run_last = r->run_last;
	}
	for (; pn < r->largest_acked; pn++) {
		struct tern_sent_pkt *p = slot(r, pn);

		r->stats.loss_scan_steps++;
		if (p->state == TERN_SENT_LOST) {
			run_extend(r, &s, p, false);
		} else if (p->state == TERN_SENT_SKIPPED) {
			continue;
		} else if (p->state != TERN_SENT_INFLIGHT) {
			run_break(r, &s);
		} else if (r->largest_acked - pn >= r->pkt_threshold ||
		           (s.time_ok && p->sent_time <= s.lost_before)) {
			declare_lost(r, p, &s, cbs);
			run_extend(r, &s, p, true);
		} else {
			r->loss_time = TERN_MIN(r->loss_time, p->sent_time + s.delay);
			if (settled)
				scan_save(r, &s, pn);
			settled = false;
			run_break(r, &s);
		}
	}
	if (settled)
		scan_save(r, &s, pn);
	run_break(r, &s);
	if (s.any_lost)
		r->cc.ops->on_loss(&r->cc, s.largest_lost_sent, now);
	if (s.persistent) {
		r->stats.persistent_congestions++;
		r->cc.ops->on_persistent_congestion(&r->cc, now);
	}
}

/* ---- ACK processing ---- */

struct ack_pass {
	struct tern_recovery *r;
	const struct tern_recovery_cbs *cbs;
	tern_time now;
	uint64_t newly;     /* packets newly acked (INFLIGHT -> ACKED), spurious included */
	bool eliciting;     /* one of them was ack-eliciting */
	bool largest_newly; /* the frame's largest pn was INFLIGHT */
	bool skipped;       /* the frame covers a skipped pn */
};

typedef void (*visit_fn)(struct ack_pass *a, struct tern_sent_pkt *p);

/* Calls fn on every tracked packet the ACK covers, largest first. */
static void walk_ranges(struct ack_pass *a, const struct tern_frame *ack, visit_fn fn)
{
	struct tern_recovery *r = a->r;
	struct tern_ack_iter it;
	struct tern_ack_range g;

	tern_ack_iter_init(&it, ack);
	while (tern_ack_iter_next(&it, &g) && g.lo <= g.hi && g.hi >= r->base_pn) {
		uint64_t hi = TERN_MIN(g.hi, r->next_pn - 1);
		uint64_t lo = TERN_MAX(g.lo, r->base_pn);

		for (uint64_t pn = hi + 1; pn-- > lo;)
			fn(a, slot(a->r, pn));
		if (g.lo <= r->base_pn)
			break;
	}
}

/* A packet we declared lost was only late: the path reorders. Tolerate one
 * packet more and a quarter min_rtt more before declaring loss. */
static void widen_reordering(struct tern_recovery *r)
{
	tern_time step = TERN_MAX(r->rtt.min / 4, (tern_time)TERN_GRANULARITY_US);

	if (r->pkt_threshold < TERN_MAX_PACKET_THRESHOLD)
		r->pkt_threshold++;
	r->reo_wnd = TERN_MIN(r->reo_wnd + step, r->rtt.smoothed);
}

/* Pass 1: take newly acked packets out of the flight; settle spurious losses.
 * A spurious loss below the loss cursor may split the lost run carried there:
 * forget the run rather than rescan (persistent congestion is then judged on
 * later losses only). */
static void mark_acked(struct ack_pass *a, struct tern_sent_pkt *p)
{
	if (p->state == TERN_SENT_SKIPPED) {
		a->skipped = true;
		return;
	}
	if (p->state == TERN_SENT_LOST) {
		p->state = TERN_SENT_ACKED;
		a->r->stats.spurious_losses++;
		widen_reordering(a->r);
		if (p->pn < a->r->loss_pn)
			a->r->run_first = a->r->run_last = TERN_TIME_NEVER;
		if (p->in_flight)
			tern_delivery_on_acked(&a->r->cc.delivery, &p->dr, p->sent_time, p->size,
			                       true, a->now);
		a->newly++;
		if (a->cbs && a->cbs->acked)
			a->cbs->acked(a->cbs->ctx, p);
		return;
	}
	if (p->state != TERN_SENT_INFLIGHT)
		return;
	p->state = SENT_ACKING;
	if (p->in_flight)
		tern_delivery_on_acked(&a->r->cc.delivery, &p->dr, p->sent_time, p->size, false,
		                       a->now);
	leave_flight(a->r, p);
	a->r->stats.pkts_acked++;
	a->newly++;
	a->eliciting |= p->ack_eliciting;
}

/* Pass 2, after loss detection: the controller and the session hear of it. */
static void finish_acked(struct ack_pass *a, struct tern_sent_pkt *p)
{
	struct tern_recovery *r = a->r;

	if (p->state != SENT_ACKING)
		return;
	p->state = TERN_SENT_ACKED;
	if (p->in_flight)
		r->cc.ops->on_ack(&r->cc, p->size, p->sent_time, &r->rtt, a->now);
	if (a->cbs && a->cbs->acked)
		a->cbs->acked(a->cbs->ctx, p);
}

/* RFC 9002 §5.1: sample only when the largest acked is newly acked and
 * something ack-eliciting was newly acked. */
static void sample_rtt(struct tern_recovery *r, const struct tern_frame *ack, tern_time now)
{
	const struct tern_sent_pkt *p = slot(r, ack->u.ack.largest);

	if (now < p->sent_time)
		return;
	if (!r->rtt.has_sample)
		r->first_rtt_sample_time = now;
	tern_rtt_update(&r->rtt, now - p->sent_time, ack->u.ack.delay_us);
}

/* After the per-packet callbacks: the ACK's delivery-rate sample. */
static void feed_rate_sample(struct tern_recovery *r, tern_time now)
{
	const struct tern_rate_sample *rs =
	        tern_delivery_end(&r->cc.delivery, r->rtt.has_sample ? r->rtt.min : 0, now);

	if (r->cc.ops->on_rate_sample)
		r->cc.ops->on_rate_sample(&r->cc, rs, &r->rtt, now);
}

int tern_recovery_on_ack(struct tern_recovery *r, const struct tern_frame *ack, tern_time now,
                         const struct tern_recovery_cbs *cbs)
{
	struct ack_pass a = {.r = r, .cbs = cbs, .now = now};
	uint64_t largest = ack->u.ack.largest;

	if (ack->type != TERN_FRAME_ACK)
		return TERN_EINVAL;
	if (largest >= r->next_pn)
		return TERN_EPROTO;
	a.largest_newly = largest >= r->base_pn && slot(r, largest)->state == TERN_SENT_INFLIGHT;
	if (r->largest_acked == UINT64_MAX || largest > r->largest_acked)
		r->largest_acked = largest;
	tern_delivery_begin(&r->cc.delivery, r->cc.bytes_in_flight);
	walk_ranges(&a, ack, mark_acked);
	if (a.newly == 0)
		return a.skipped ? TERN_EPROTO : 0;
	r->pto_count = 0;
	if (a.largest_newly)
		r->largest_acked_sent_time = slot(r, largest)->sent_time;
	if (a.largest_newly && a.eliciting)
		sample_rtt(r, ack, now);
	detect_losses(r, now, cbs);
	walk_ranges(&a, ack, finish_acked);
	feed_rate_sample(r, now);
	advance_base(r, now, false);
	return a.skipped ? TERN_EPROTO : 0;
}

/* ---- timers ---- */

tern_time tern_recovery_deadline(const struct tern_recovery *r)
{
	if (r->loss_time != TERN_TIME_NEVER)
		return r->loss_time;
	if (r->ack_eliciting_in_flight == 0)
		return TERN_TIME_NEVER;
	tern_time pto = tern_rtt_pto(&r->rtt);
	for (unsigned i = 0; i < r->pto_count && pto < TERN_TIME_NEVER / 2; i++)
		pto <<= 1; /* saturates rather than wraps after many backoffs */
	if (pto > TERN_TIME_NEVER - r->last_ack_eliciting_sent)
		return TERN_TIME_NEVER;
	return r->last_ack_eliciting_sent + pto;
}

int tern_recovery_on_timeout(struct tern_recovery *r, tern_time now,
                             const struct tern_recovery_cbs *cbs)
{
	tern_time deadline = tern_recovery_deadline(r);

	if (deadline == TERN_TIME_NEVER || now < deadline)
		return 0;
	if (r->loss_time != TERN_TIME_NEVER) {
		detect_losses(r, now, cbs);
		advance_base(r, now, false);
		return 0;
	}
	r->pto_count++;
	r->stats.pto_count_total++;
	return 2;
}

void tern_recovery_new_path(struct tern_recovery *r, tern_time now)
{
	for (uint64_t pn = r->base_pn; pn < r->next_pn; pn++) {
		struct tern_sent_pkt *p = slot(r, pn);
		if (p->state == TERN_SENT_INFLIGHT)
			p->in_flight = 0; /* its delivery stamp and size belong to the old path */
	}
	tern_cc_init(&r->cc, r->cc.ops, r->cc.mss, now);
	tern_rtt_init(&r->rtt, TERN_INITIAL_RTT_US, r->rtt.max_ack_delay);
	r->first_rtt_sample_time = TERN_TIME_NEVER;
	r->pto_count = 0;
	r->pkt_threshold = TERN_PACKET_THRESHOLD;
	r->reo_wnd = 0;
	r->run_first = r->run_last = TERN_TIME_NEVER;
}

uint64_t tern_recovery_cwnd_avail(const struct tern_recovery *r)
{
	return r->cc.cwnd > r->cc.bytes_in_flight ? r->cc.cwnd - r->cc.bytes_in_flight : 0;
}
