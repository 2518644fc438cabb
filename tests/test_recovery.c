/* Recovery: the sent map, ACK processing, packet- and time-threshold loss,
 * PTO backoff, persistent congestion and spurious losses, in virtual time.
 * ACK frames go through the real encoder and decoder. A spy congestion
 * controller forwards to NewReno and counts how often recovery calls it. */
#include "check.h"
#include "recovery.h"
#include "proto.h"

#define MSS 1200
#define MAD 25000 /* peer's max_ack_delay */
#define MAXPN 9000

/* ---- callback and cc spies ---- */

static int acked_count[MAXPN], lost_count[MAXPN];
static int meta_mismatch;
static int n_on_loss, n_on_ack, n_pc;
static tern_time last_loss_sent;
static uint64_t pc_cwnd; /* cwnd right after on_persistent_congestion */

static void on_acked(void *ctx, const struct tern_sent_pkt *p)
{
	(void)ctx;
	if (p->pn < MAXPN)
		acked_count[p->pn]++;
	if (p->nmeta != 1 || p->meta[0].off != p->pn * 7)
		meta_mismatch++;
}

static void on_lost(void *ctx, const struct tern_sent_pkt *p)
{
	(void)ctx;
	if (p->pn < MAXPN)
		lost_count[p->pn]++;
}

static const struct tern_recovery_cbs cbs = {NULL, on_acked, on_lost};

static void spy_init(struct tern_cc *cc, tern_time now)
{
	tern_cc_newreno.init(cc, now);
}

static void spy_on_ack(struct tern_cc *cc, size_t bytes, tern_time sent, const struct tern_rtt *rtt,
                       tern_time now)
{
	n_on_ack++;
	tern_cc_newreno.on_ack(cc, bytes, sent, rtt, now);
}

static void spy_on_loss(struct tern_cc *cc, tern_time sent, tern_time now)
{
	n_on_loss++;
	last_loss_sent = sent;
	tern_cc_newreno.on_loss(cc, sent, now);
}

static void spy_pc(struct tern_cc *cc, tern_time now)
{
	n_pc++;
	tern_cc_newreno.on_persistent_congestion(cc, now);
	pc_cwnd = cc->cwnd;
}

static const struct tern_cc_ops spy = {.name = "spy",
                                       .init = spy_init,
                                       .on_ack = spy_on_ack,
                                       .on_loss = spy_on_loss,
                                       .on_persistent_congestion = spy_pc};

static void setup(struct tern_recovery *r, size_t max_cap)
{
	memset(acked_count, 0, sizeof(acked_count));
	memset(lost_count, 0, sizeof(lost_count));
	meta_mismatch = n_on_loss = n_on_ack = n_pc = 0;
	last_loss_sent = 0;
	CHECK_EQ(tern_recovery_init(r, &spy, MSS, MAD, max_cap, 0), 0);
}

/* ---- helpers ---- */

static uint64_t send_one(struct tern_recovery *r, bool eliciting, tern_time now)
{
	struct tern_sent_pkt *p = tern_recovery_next(r);

	CHECK(p != NULL);
	if (!p)
		return UINT64_MAX;
	CHECK_EQ(p->pn, r->next_pn);
	p->nmeta = 1;
	p->meta[0].kind = TERN_META_PING;
	p->meta[0].off = p->pn * 7;
	uint64_t pn = p->pn;
	tern_recovery_on_sent(r, p, MSS, eliciting, eliciting, now);
	return pn;
}

/* Sends n ack-eliciting packets, pn k at time t0 + k * step. */
static void send_n(struct tern_recovery *r, int n, tern_time t0, tern_time step)
{
	for (int i = 0; i < n; i++)
		send_one(r, true, t0 + (tern_time)i * step);
}

/* Encodes ranges (descending) into an ACK frame, decodes it, processes it. */
static int ack_ranges(struct tern_recovery *r, const struct tern_ack_range *rg, size_t n,
                      uint64_t delay, tern_time now)
{
	uint8_t buf[4096];
	struct tern_frame f;
	size_t written = 0;
	size_t len = tern_frame_encode_ack(buf, sizeof(buf), rg, n, delay, &written);
	const uint8_t *p = buf;

	CHECK(len > 0);
	CHECK_EQ(written, n);
	CHECK_EQ(tern_frame_decode(&p, buf + len, &f), 0);
	CHECK_EQ(f.type, TERN_FRAME_ACK);
	return tern_recovery_on_ack(r, &f, now, &cbs);
}

static int ack1(struct tern_recovery *r, uint64_t lo, uint64_t hi, tern_time now)
{
	struct tern_ack_range rg = {lo, hi};

	return ack_ranges(r, &rg, 1, 0, now);
}

/* Every pn below n was reported exactly once, acked or lost. */
static void check_each_once(uint64_t n)
{
	int bad = 0;

	for (uint64_t pn = 0; pn < n; pn++)
		bad += acked_count[pn] + lost_count[pn] != 1;
	CHECK_EQ(bad, 0);
	CHECK_EQ(meta_mismatch, 0);
}

static bool ring_consistent(const struct tern_recovery *r)
{
	for (uint64_t pn = r->base_pn; pn < r->next_pn; pn++) {
		if (r->ring[pn & (r->cap - 1)].pn != pn)
			return false;
	}
	return true;
}

/* ---- tests ---- */

static void test_ring_growth_and_shrink(void)
{
	struct tern_recovery r;

	setup(&r, 5000);     /* rounds up to 8192 */
	CHECK_EQ(r.cap, 16); /* small until a session sends: 16 x 200 B */
	CHECK_EQ(r.max_cap, 8192);
	send_n(&r, 200, 0, 1); /* doubles 16 -> 256 */
	CHECK_EQ(r.cap, 256);
	CHECK(ring_consistent(&r));
	CHECK_EQ(ack1(&r, 0, 99, 1000), 0);
	CHECK_EQ(r.base_pn, 100);
	CHECK_EQ(tern_recovery_tracked(&r), 100);
	send_n(&r, 156, 1000, 1); /* ring full, wrapped: pns 100..355 */
	CHECK_EQ(r.cap, 256);
	send_one(&r, true, 2000); /* grows with a wrapped ring */
	CHECK_EQ(r.cap, 512);
	CHECK(ring_consistent(&r));
	send_n(&r, 5000 - 357, 3000, 1);
	CHECK_EQ(tern_recovery_tracked(&r), 4900);
	CHECK_EQ(r.cap, 8192);
	CHECK(ring_consistent(&r));
	CHECK_EQ(r.cc.bytes_in_flight, 4900ull * MSS);
	CHECK_EQ(r.stats.pkts_sent, 5000);
	CHECK_EQ(r.stats.bytes_sent, 5000ull * MSS);
	/* Two ranges around a hole of 500: the hole is lost (packet threshold)
	 * but kept for a PTO; the ACK that fills it marks those spurious and
	 * the tracked range shrinks to nothing. */
	struct tern_ack_range rg[2] = {{3000, 4999}, {100, 2499}};
	CHECK_EQ(ack_ranges(&r, rg, 2, 0, 10000), 0);
	CHECK_EQ(r.base_pn, 2500);
	CHECK_EQ(r.stats.pkts_lost, 500);
	CHECK_EQ(r.cc.bytes_in_flight, 0);
	CHECK_EQ(ack1(&r, 0, 4999, 10001), 0);
	CHECK_EQ(tern_recovery_tracked(&r), 0);
	CHECK_EQ(r.cc.bytes_in_flight, 0);
	CHECK_EQ(r.stats.pkts_acked, 4500);
	CHECK_EQ(r.stats.spurious_losses, 500);
	CHECK_EQ(r.ack_eliciting_in_flight, 0);
	CHECK_EQ(tern_recovery_deadline(&r), TERN_TIME_NEVER);
	int bad = 0;
	for (int pn = 0; pn < 5000; pn++) {
		bool hole = pn >= 2500 && pn < 3000;
		bad += acked_count[pn] != 1 || lost_count[pn] != (hole ? 1 : 0);
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(meta_mismatch, 0);
	CHECK_EQ(n_on_ack, 4500);
	tern_recovery_free(&r);
}

static void test_map_full(void)
{
	struct tern_recovery r;

	setup(&r, 200); /* rounds up to 256 */
	CHECK_EQ(r.cap, 16);
	CHECK_EQ(r.max_cap, 256);
	send_n(&r, 256, 0, 1);
	CHECK_EQ(r.cap, 256);
	CHECK(tern_recovery_next(&r) == NULL);
	CHECK(tern_recovery_next(&r) == NULL);
	CHECK_EQ(ack1(&r, 0, 9, 1000), 0);
	CHECK_EQ(tern_recovery_tracked(&r), 246);
	send_n(&r, 10, 2000, 1);
	CHECK(tern_recovery_next(&r) == NULL);
	CHECK_EQ(r.cap, 256);
	CHECK(ring_consistent(&r));
	tern_recovery_free(&r);

	/* ACK-only packets at the bottom are forgotten when the map is full. */
	setup(&r, 256);
	for (int i = 0; i < 256; i++)
		send_one(&r, false, (tern_time)i);
	CHECK_EQ(r.cc.bytes_in_flight, 0);
	CHECK_EQ(tern_recovery_deadline(&r), TERN_TIME_NEVER);
	CHECK(tern_recovery_next(&r) != NULL);
	CHECK_EQ(tern_recovery_tracked(&r), 0);
	tern_recovery_free(&r);
}

static void test_ack_of_unsent_rejected(void)
{
	struct tern_recovery r;

	setup(&r, 1024);
	CHECK_EQ(ack1(&r, 0, 0, 10), TERN_EPROTO); /* nothing sent */
	send_n(&r, 5, 0, 1);
	struct tern_ack_range rg[2] = {{5, 5}, {0, 3}};
	CHECK_EQ(ack_ranges(&r, rg, 2, 0, 100), TERN_EPROTO);
	CHECK_EQ(r.largest_acked, UINT64_MAX);
	CHECK_EQ(r.cc.bytes_in_flight, 5 * MSS);
	CHECK_EQ(r.stats.pkts_acked, 0);
	CHECK_EQ(acked_count[0] + acked_count[3], 0);
	CHECK(!r.rtt.has_sample);
	CHECK_EQ(ack1(&r, 0, 4, 100), 0);
	CHECK_EQ(r.cc.bytes_in_flight, 0);
	tern_recovery_free(&r);
}

/* Six packets, pn k sent at k µs; the ACK comes 50 ms later, so the time
 * threshold (9/8 of ~50 ms) has not passed for any of them. */
static void test_packet_threshold(void)
{
	struct tern_recovery r;

	setup(&r, 1024);
	send_n(&r, 6, 0, 1);
	CHECK_EQ(ack1(&r, 3, 5, 50000), 0);
	for (int pn = 0; pn < 3; pn++)
		CHECK_EQ(lost_count[pn], 1);
	CHECK_EQ(n_on_loss, 1);
	CHECK_EQ(last_loss_sent, 2);
	CHECK_EQ(r.stats.pkts_lost, 3);
	CHECK_EQ(r.stats.bytes_lost, 3 * MSS);
	CHECK_EQ(r.cc.bytes_in_flight, 0);
	CHECK_EQ(r.cc.cwnd, 5 * MSS); /* halved, then no growth for pre-loss acks */
	CHECK_EQ(n_on_ack, 3);
	CHECK_EQ(r.loss_time, TERN_TIME_NEVER);
	check_each_once(6);
	tern_recovery_free(&r);
}

/* Only pn 5 acked: 0..2 fall to the packet threshold, 3 and 4 wait for the
 * time threshold, which on_timeout enforces to the microsecond. */
static void test_time_threshold(void)
{
	struct tern_recovery r;

	setup(&r, 1024);
	send_n(&r, 6, 0, 1);
	CHECK_EQ(ack1(&r, 5, 5, 50000), 0);
	CHECK_EQ(r.rtt.latest, 49995);
	/* loss delay = 49995 * 9 / 8 = 56244 */
	CHECK_EQ(lost_count[0] + lost_count[1] + lost_count[2], 3);
	CHECK_EQ(lost_count[3] + lost_count[4], 0);
	CHECK_EQ(r.cc.bytes_in_flight, 2 * MSS);
	CHECK_EQ(tern_recovery_deadline(&r), 3 + 56244);
	CHECK_EQ(tern_recovery_on_timeout(&r, 56246, &cbs), 0); /* early: no-op */
	CHECK_EQ(lost_count[3], 0);
	CHECK_EQ(tern_recovery_on_timeout(&r, 56247, &cbs), 0);
	CHECK_EQ(lost_count[3], 1);
	CHECK_EQ(lost_count[4], 0);
	CHECK_EQ(tern_recovery_deadline(&r), 4 + 56244);
	CHECK_EQ(tern_recovery_on_timeout(&r, 56248, &cbs), 0);
	CHECK_EQ(lost_count[4], 1);
	CHECK_EQ(r.loss_time, TERN_TIME_NEVER);
	CHECK_EQ(tern_recovery_deadline(&r), TERN_TIME_NEVER);
	CHECK_EQ(r.cc.bytes_in_flight, 0);
	CHECK_EQ(r.stats.pto_count_total, 0);
	CHECK_EQ(n_on_loss, 3); /* one per call that declared losses */
	CHECK_EQ(r.cc.congestion_events, 1);
	check_each_once(6);
	tern_recovery_free(&r);
}

static void test_pto_backoff(void)
{
	struct tern_recovery r;

	setup(&r, 1024);
	CHECK_EQ(tern_recovery_deadline(&r), TERN_TIME_NEVER);
	send_one(&r, true, 0);
	CHECK_EQ(tern_recovery_deadline(&r), 325000); /* initial RTT: 100 + 200 + 25 ms */
	CHECK_EQ(ack1(&r, 0, 0, 100000), 0);
	CHECK_EQ(tern_rtt_pto(&r.rtt), 325000);
	send_one(&r, true, 200000);
	CHECK_EQ(tern_recovery_deadline(&r), 525000);
	CHECK_EQ(tern_recovery_on_timeout(&r, 524999, &cbs), 0);
	CHECK_EQ(r.pto_count, 0);
	CHECK_EQ(tern_recovery_on_timeout(&r, 525000, &cbs), 2);
	CHECK_EQ(r.pto_count, 1);
	CHECK_EQ(tern_recovery_deadline(&r), 200000 + 650000);
	CHECK_EQ(tern_recovery_on_timeout(&r, 850000, &cbs), 2);
	CHECK_EQ(tern_recovery_deadline(&r), 200000 + 1300000);
	CHECK_EQ(tern_recovery_on_timeout(&r, 1500000, &cbs), 2);
	CHECK_EQ(r.pto_count, 3);
	CHECK_EQ(r.stats.pto_count_total, 3);
	CHECK_EQ(lost_count[1], 0); /* PTO declares nothing lost */
	CHECK_EQ(r.cc.bytes_in_flight, MSS);
	send_one(&r, true, 1500000); /* a probe moves the base of the timer */
	CHECK_EQ(tern_recovery_deadline(&r), 1500000 + 8 * 325000);
	/* Ack of pn 1: sample 1.8 s; srtt 312500, var 462500; backoff reset. */
	CHECK_EQ(ack1(&r, 1, 1, 2000000), 0);
	CHECK_EQ(r.pto_count, 0);
	CHECK_EQ(r.rtt.smoothed, 312500);
	CHECK_EQ(r.rtt.var, 462500);
	CHECK_EQ(tern_recovery_deadline(&r), 1500000 + 312500 + 4 * 462500 + MAD);
	tern_recovery_free(&r);
}

/* pn 0 gives the first RTT sample (100 ms). pns 1 and 2 go unanswered, PTO
 * probes 3 and 4 follow; the ACK of 4 leaves 1..3 lost over 1 s, more than
 * 3 × (100 + 150 + 25) ms: cwnd collapses to the minimum window. */
static void pc_scenario(struct tern_recovery *r, bool ack_middle)
{
	setup(r, 1024);
	send_one(r, true, 0);
	CHECK_EQ(ack1(r, 0, 0, 100000), 0);
	send_one(r, true, 200000);
	send_one(r, true, 300000);
	send_one(r, true, 1200000);
	send_one(r, true, 1300000);
	if (!ack_middle) {
		CHECK_EQ(ack1(r, 4, 4, 1400000), 0);
		return;
	}
	struct tern_ack_range rg[2] = {{4, 4}, {2, 2}};
	CHECK_EQ(ack_ranges(r, rg, 2, 0, 1400000), 0);
}

static void test_persistent_congestion(void)
{
	struct tern_recovery r;

	pc_scenario(&r, false);
	CHECK_EQ(lost_count[1] + lost_count[2] + lost_count[3], 3);
	CHECK_EQ(n_on_loss, 1);
	CHECK_EQ(last_loss_sent, 1200000);
	CHECK_EQ(n_pc, 1);
	CHECK_EQ(r.stats.persistent_congestions, 1);
	CHECK_EQ(pc_cwnd, TERN_CC_MIN_WINDOW(MSS));
	/* RFC 9002 order: losses first, then the ack of pn 4 restarts slow start. */
	CHECK_EQ(r.cc.cwnd, TERN_CC_MIN_WINDOW(MSS) + MSS);
	CHECK_EQ(r.cc.bytes_in_flight, 0);
	check_each_once(5);
	tern_recovery_free(&r);

	/* pn 2 acked in between: two short runs, no persistent congestion. */
	pc_scenario(&r, true);
	CHECK_EQ(lost_count[1] + lost_count[3], 2);
	CHECK_EQ(n_on_loss, 1);
	CHECK_EQ(n_pc, 0);
	CHECK_EQ(r.stats.persistent_congestions, 0);
	CHECK(r.cc.cwnd > TERN_CC_MIN_WINDOW(MSS));
	check_each_once(5);
	tern_recovery_free(&r);
}

/* Losses spanning far more than the period, but all sent before the first
 * RTT sample: not persistent congestion. */
static void test_no_pc_before_first_sample(void)
{
	struct tern_recovery r;

	setup(&r, 1024);
	send_one(&r, true, 0);
	send_one(&r, true, 2000000);
	send_one(&r, true, 4000000);
	send_one(&r, true, 6000000);
	send_one(&r, true, 6000001);
	CHECK_EQ(ack1(&r, 4, 4, 6100000), 0);
	CHECK_EQ(lost_count[0] + lost_count[1] + lost_count[2], 3); /* 0..2 span 4 s */
	CHECK_EQ(lost_count[3], 0);
	CHECK_EQ(n_on_loss, 1);
	CHECK_EQ(n_pc, 0);
	CHECK_EQ(r.cc.bytes_in_flight, MSS);
	tern_recovery_free(&r);
}

static void test_spurious_loss(void)
{
	struct tern_recovery r;

	setup(&r, 1024);
	send_n(&r, 6, 0, 1);
	CHECK_EQ(ack1(&r, 3, 5, 50000), 0);
	CHECK_EQ(r.stats.pkts_lost, 3);
	CHECK_EQ(tern_recovery_tracked(&r), 6); /* lost packets kept one PTO */
	CHECK_EQ(ack1(&r, 0, 5, 60000), 0);     /* reordered, not lost after all */
	CHECK_EQ(r.stats.spurious_losses, 3);
	CHECK_EQ(r.stats.pkts_acked, 3);
	for (int pn = 0; pn < 3; pn++) {
		CHECK_EQ(lost_count[pn], 1);
		CHECK_EQ(acked_count[pn], 1);
	}
	CHECK_EQ(r.cc.bytes_in_flight, 0);
	CHECK_EQ(tern_recovery_tracked(&r), 0);
	CHECK_EQ(ack1(&r, 0, 5, 70000), 0); /* duplicate: nothing new */
	CHECK_EQ(r.stats.spurious_losses, 3);
	CHECK_EQ(acked_count[0], 1);
	tern_recovery_free(&r);

	/* Once older than a PTO, lost packets are forgotten: a late ACK of
	 * them changes nothing and costs nothing. */
	setup(&r, 1024);
	send_n(&r, 6, 0, 1);
	CHECK_EQ(ack1(&r, 3, 5, 50000), 0);
	send_one(&r, true, 1000000);
	CHECK_EQ(ack1(&r, 6, 6, 1050000), 0);
	CHECK_EQ(tern_recovery_tracked(&r), 0);
	CHECK_EQ(ack1(&r, 0, 6, 1060000), 0);
	CHECK_EQ(r.stats.spurious_losses, 0);
	check_each_once(7);
	tern_recovery_free(&r);
}

static void test_ack_only_and_cwnd(void)
{
	struct tern_recovery r;

	setup(&r, 1024);
	CHECK_EQ(r.cc.cwnd, TERN_CC_INITIAL_WINDOW(MSS));
	CHECK_EQ(tern_recovery_cwnd_avail(&r), 10 * MSS);
	send_one(&r, false, 0); /* ACK-only: not in flight, no timer */
	CHECK_EQ(r.cc.bytes_in_flight, 0);
	CHECK_EQ(tern_recovery_deadline(&r), TERN_TIME_NEVER);
	send_n(&r, 3, 10, 1);
	CHECK_EQ(tern_recovery_cwnd_avail(&r), 7 * MSS);
	send_n(&r, 8, 20, 1);
	CHECK_EQ(tern_recovery_cwnd_avail(&r), 0);
	/* An ACK of only the ACK-only packet gives no RTT sample. */
	CHECK_EQ(ack1(&r, 0, 0, 30000), 0);
	CHECK(!r.rtt.has_sample);
	CHECK_EQ(acked_count[0], 1);
	CHECK_EQ(ack1(&r, 0, 11, 40000), 0);
	CHECK(r.rtt.has_sample);
	CHECK_EQ(r.cc.bytes_in_flight, 0);
	check_each_once(12);
	tern_recovery_free(&r);
}

/* Loss detection costs O(1) per packet, however long a lost packet pins the
 * bottom of the map: here pn 0 is lost (and kept a PTO for a late ACK) while
 * 3,999 ACKs arrive one packet each. Scanning from the bottom on every ACK
 * would visit about 8 million records. */
static void test_loss_scan_cost(void)
{
	const uint64_t n = 4000;
	struct tern_recovery r;

	setup(&r, 8192);
	send_n(&r, (int)n, 0, 1);
	for (uint64_t pn = 1; pn < n; pn++)
		CHECK_EQ(ack1(&r, pn, pn, 50000 + pn), 0);
	CHECK_EQ(lost_count[0], 1);
	CHECK_EQ(r.base_pn, 0); /* the lost pn 0 is still tracked */
	CHECK_EQ(r.stats.pkts_acked, n - 1);
	if (r.stats.loss_scan_steps > 2 * n)
		fprintf(stderr,
		        "loss detection visited %" PRIu64 " records for %" PRIu64 " packets\n",
		        r.stats.loss_scan_steps, n);
	CHECK(r.stats.loss_scan_steps <= 2 * n);
	/* A late ACK of pn 0 is still recognised as a spurious loss. */
	CHECK_EQ(ack1(&r, 0, 0, 60000), 0);
	CHECK_EQ(r.stats.spurious_losses, 1);
	CHECK_EQ(tern_recovery_tracked(&r), 0);
	CHECK_EQ(meta_mismatch, 0);
	tern_recovery_free(&r);
}

/* A skipped packet number is never sent: honest ACKs leave it out and lose
 * nothing for it; an ACK that covers it acknowledges a packet the peer
 * cannot have received (an optimistic ACK) and is refused, after the rest of
 * the frame has been processed. */
static void test_skipped_pn(void)
{
	struct tern_recovery r;
	struct tern_ack_range rg[2] = {{4, 5}, {0, 2}};

	setup(&r, 1024);
	r.skip_pn = 3;
	send_n(&r, 5, 0, 1); /* pns 0, 1, 2, 4, 5 */
	CHECK_EQ(r.next_pn, 6);
	CHECK_EQ(r.skip_pn, 0);
	CHECK_EQ(r.stats.pkts_skipped, 1);
	CHECK_EQ(r.stats.pkts_sent, 5);
	CHECK_EQ(ack_ranges(&r, rg, 2, 0, 50000), 0);
	CHECK_EQ(r.stats.pkts_lost, 0);
	CHECK_EQ(r.cc.bytes_in_flight, 0);
	CHECK_EQ(r.loss_time, TERN_TIME_NEVER);
	CHECK_EQ(tern_recovery_tracked(&r), 3); /* the skipped pn stays a PTO */
	CHECK_EQ(ack1(&r, 0, 5, 60000), TERN_EPROTO);
	tern_recovery_free(&r);

	/* an optimistic ACK of everything sent, most of it never delivered */
	setup(&r, 1024);
	r.skip_pn = 3;
	send_n(&r, 5, 0, 1);
	CHECK_EQ(ack1(&r, 0, 5, 50000), TERN_EPROTO);
	CHECK_EQ(r.stats.pkts_acked, 5);
	CHECK_EQ(r.cc.bytes_in_flight, 0);
	tern_recovery_free(&r);

	/* A skip never breaks a run of lost packets: 1, 2, (3), 4 still make
	 * persistent congestion when they span more than 3 PTO. */
	setup(&r, 1024);
	send_one(&r, true, 0);
	CHECK_EQ(ack1(&r, 0, 0, 100000), 0);
	r.skip_pn = 3;
	send_one(&r, true, 200000);
	send_one(&r, true, 300000); /* pn 2; 3 is skipped */
	send_one(&r, true, 1200000);
	send_one(&r, true, 1300000);
	CHECK_EQ(ack1(&r, 5, 5, 1400000), 0);
	CHECK_EQ(lost_count[1] + lost_count[2] + lost_count[4], 3);
	CHECK_EQ(n_pc, 1);
	tern_recovery_free(&r);
}

/* A move to a new path: controller and RTT start over, and the packets still
 * out on the old path leave the flight without feeding the new controller,
 * though their loss is still reported so their data is re-sent. */
static void test_new_path(void)
{
	struct tern_recovery r;

	setup(&r, 1024);
	send_n(&r, 4, 0, 1);
	CHECK_EQ(ack1(&r, 0, 3, 80000), 0);
	send_n(&r, 20, 90000, 1); /* pns 4..23 */
	tern_recovery_new_path(&r, 100000);
	CHECK(!r.rtt.has_sample);
	CHECK_EQ(r.rtt.smoothed, TERN_INITIAL_RTT_US);
	CHECK_EQ(r.cc.cwnd, TERN_CC_INITIAL_WINDOW(MSS));
	CHECK_EQ(r.cc.bytes_in_flight, 0);
	CHECK_EQ(r.ack_eliciting_in_flight, 20); /* still recovered by PTO */
	send_n(&r, 2, 100000, 1);                /* pns 24, 25 on the new path */
	CHECK_EQ(r.cc.bytes_in_flight, 2 * MSS);
	n_on_ack = n_on_loss = 0;
	CHECK_EQ(ack1(&r, 24, 25, 150000), 0);
	CHECK_EQ(n_on_ack, 2);
	CHECK_EQ(n_on_loss, 0);
	CHECK_EQ(r.stats.pkts_lost, 20);
	CHECK_EQ(lost_count[4] + lost_count[23], 2);
	CHECK_EQ(r.cc.bytes_in_flight, 0);
	CHECK_EQ(r.cc.cwnd, TERN_CC_INITIAL_WINDOW(MSS) + 2 * MSS);
	CHECK(r.rtt.has_sample);
	tern_recovery_free(&r);
}

int main(void)
{
	test_ring_growth_and_shrink();
	test_map_full();
	test_ack_of_unsent_rejected();
	test_packet_threshold();
	test_time_threshold();
	test_pto_backoff();
	test_persistent_congestion();
	test_no_pc_before_first_sample();
	test_spurious_loss();
	test_ack_only_and_cwnd();
	test_loss_scan_cost();
	test_skipped_pn();
	test_new_path();
	return tern_check_result("recovery");
}
