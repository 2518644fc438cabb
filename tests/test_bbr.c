/* Unit tests for delivery-rate sampling (core/delivery.c), the windowed max
 * filter, and BBR's state machine and control (core/cc_bbr.c), driven by
 * hand-built packets and rate samples in virtual time. Expected values are
 * worked out in the comments beside them. */
#include "check.h"
#include "cc.h"

#define MSS 1000
#define BW 8000000ull         /* bytes/s used for BBR's model below */
#define MINRTT (10 * TERN_MS) /* so BDP = 80,000 bytes = 80 packets */
#define BDP 80000ull
/* cwnd in ProbeBW: 2 · BDP + 3 packets + the ACK aggregation the drive below
 * makes (each ACK covers 10 packets) */
#define CWND (2 * BDP + 3 * MSS + 10 * MSS)

/* ---- windowed max filter ---- */

static void test_winmax(void)
{
	static const struct {
		uint64_t t, v, want;
	} steps[] = {
	        {0, 5, 5},  /* first sample */
	        {1, 3, 5},  /* lower: the max stays */
	        {5, 4, 5},  /* past a quarter window: becomes the 2nd and 3rd best */
	        {11, 2, 4}, /* 5 from t=0 left the 10-unit window: 4 from t=5 */
	        {16, 1, 2}, /* 4 (t=5) left too: 2 from t=11 */
	        {17, 9, 9}, /* a new maximum resets */
	        {30, 1, 1}, /* nothing left in the window: reset */
	};
	struct tern_winmax f;

	tern_winmax_reset(&f, 0, 0);
	for (size_t i = 0; i < TERN_ARRAY_LEN(steps); i++) {
		CHECK_EQ(tern_winmax_update(&f, 10, steps[i].t, steps[i].v), steps[i].want);
		CHECK_EQ(tern_winmax_get(&f), steps[i].want);
	}
}

/* ---- delivery rate ---- */

static void test_delivery_samples(void)
{
	struct tern_delivery d;
	struct tern_delivery_pkt p[6];
	const struct tern_rate_sample *rs;

	tern_delivery_init(&d);
	/* four 1000-byte packets, 1 ms apart, from an empty pipe */
	for (int i = 0; i < 4; i++)
		tern_delivery_on_sent(&d, &p[i], (uint64_t)i * 1000, 1000, (tern_time)i * 1000);
	CHECK_EQ(p[0].delivered, 0);
	CHECK_EQ(p[0].delivered_time, 0);
	CHECK_EQ(p[3].first_sent_time, 0);
	CHECK_EQ(p[3].tx_in_flight, 4000);
	CHECK(!p[3].is_app_limited);

	/* at 20 ms an ACK covers P0 and P1 (walked oldest first): the sample
	 * comes from P1, the later send: send_elapsed 1 ms, ack_elapsed 20 ms,
	 * 2000 bytes over 20 ms = 100,000 B/s; the first round starts */
	tern_delivery_begin(&d, 4000);
	tern_delivery_on_acked(&d, &p[0], 0, 1000, false, 20000);
	tern_delivery_on_acked(&d, &p[1], 1000, 1000, false, 20000);
	rs = tern_delivery_end(&d, 0, 20000);
	CHECK_EQ(rs->delivery_rate, 100000);
	CHECK_EQ(rs->interval, 20000);
	CHECK_EQ(rs->send_elapsed, 1000);
	CHECK_EQ(rs->ack_elapsed, 20000);
	CHECK_EQ(rs->delivered, 2000);
	CHECK_EQ(rs->newly_acked, 2000);
	CHECK_EQ(rs->newly_lost, 0);
	CHECK_EQ(rs->rtt, 19000); /* of P1, the most recently sent */
	CHECK_EQ(rs->tx_in_flight, 2000);
	CHECK_EQ(rs->prior_in_flight, 4000);
	CHECK(rs->round_start);
	CHECK_EQ(rs->round_count, 1);
	CHECK_EQ(d.delivered, 2000);

	/* P2 is declared lost; P4 goes out at 25 ms with P3 still in flight */
	tern_delivery_on_lost(&d, 1000);
	tern_delivery_on_sent(&d, &p[4], 1000, 1000, 25000);
	CHECK_EQ(p[4].delivered, 2000);
	CHECK_EQ(p[4].delivered_time, 20000);
	CHECK_EQ(p[4].first_sent_time, 1000);
	CHECK_EQ(p[4].lost, 1000);

	/* at 45 ms P4 and P3 are acked: sample from P4, send_elapsed
	 * 25 - 1 = 24 ms, ack_elapsed 45 - 20 = 25 ms; 2000 bytes / 25 ms =
	 * 80,000 B/s; the loss reaches this sample as newly_lost, but P4 was
	 * sent after it, so nothing was lost while P4 flew; round 2 begins */
	tern_delivery_begin(&d, 2000);
	tern_delivery_on_acked(&d, &p[4], 25000, 1000, false, 45000);
	tern_delivery_on_acked(&d, &p[3], 3000, 1000, false, 45000);
	rs = tern_delivery_end(&d, 19000, 45000);
	CHECK_EQ(rs->delivery_rate, 80000);
	CHECK_EQ(rs->interval, 25000);
	CHECK_EQ(rs->newly_lost, 1000);
	CHECK_EQ(rs->lost, 0);
	CHECK_EQ(rs->rtt, 20000);
	CHECK(rs->round_start);
	CHECK_EQ(rs->round_count, 2);
	CHECK_EQ(d.lost, 1000);
	CHECK_EQ(tern_winmax_get(&d.bw), 100000);

	/* the application runs dry with nothing in flight: the next packet is
	 * app-limited, and the mark clears once the data before it is delivered */
	tern_delivery_on_app_limited(&d, 0);
	CHECK_EQ(d.app_limited, 4000);
	tern_delivery_on_sent(&d, &p[5], 0, 1000, 50000);
	CHECK(p[5].is_app_limited);
	CHECK_EQ(p[5].delivered_time, 50000); /* empty pipe: the clock restarts */
	tern_delivery_begin(&d, 1000);
	tern_delivery_on_acked(&d, &p[5], 50000, 1000, false, 70000);
	rs = tern_delivery_end(&d, 19000, 70000);
	CHECK(rs->is_app_limited);
	CHECK_EQ(rs->delivery_rate, 50000); /* 1000 bytes over 20 ms */
	CHECK_EQ(d.app_limited, 0);
	/* an app-limited sample below the max leaves the filter alone */
	CHECK_EQ(tern_winmax_get(&d.bw), 100000);
}

/* An interval shorter than min_rtt (ACK compression) gives no rate. */
static void test_delivery_min_rtt_guard(void)
{
	struct tern_delivery d;
	struct tern_delivery_pkt p;
	const struct tern_rate_sample *rs;

	tern_delivery_init(&d);
	tern_delivery_on_sent(&d, &p, 0, 1000, 0);
	tern_delivery_begin(&d, 1000);
	tern_delivery_on_acked(&d, &p, 0, 1000, false, 5000);
	rs = tern_delivery_end(&d, 10000, 5000);
	CHECK_EQ(rs->delivery_rate, 0);
	CHECK_EQ(rs->newly_acked, 1000);
	CHECK_EQ(d.last_rate, 0);
	/* a spuriously lost packet counts as delivered but gives no RTT */
	tern_delivery_on_sent(&d, &p, 0, 1000, 6000);
	tern_delivery_begin(&d, 1000);
	tern_delivery_on_acked(&d, &p, 6000, 1000, true, 30000);
	rs = tern_delivery_end(&d, 10000, 30000);
	CHECK_EQ(rs->rtt, 0);
	CHECK_EQ(d.delivered, 2000);
}

/* ---- BBR driven by synthetic rate samples ---- */

enum { DOWN, CRUISE, REFILL, UP }; /* ProbeBW phases, as in cc_bbr.c */

struct drive {
	struct tern_cc cc;
	struct tern_rtt rtt;
	tern_time now;
	uint64_t round;
};

static void drive_init(struct drive *v)
{
	memset(v, 0, sizeof(*v));
	v->now = TERN_SEC;
	tern_cc_init(&v->cc, &tern_cc_bbr, MSS, v->now);
	v->rtt = (struct tern_rtt){.latest = MINRTT,
	                           .smoothed = MINRTT,
	                           .min = MINRTT,
	                           .var = MINRTT / 2,
	                           .has_sample = true};
}

/* One ACK's sample, optionally starting a round: acked bytes of a packet
 * sent rtt ago, when a BDP less had been delivered (so a phase that waits
 * for "a round" ends once a BDP more is delivered). */
static void sample(struct drive *v, uint64_t rate, tern_time rtt, uint64_t acked, uint64_t lost,
                   bool round_start)
{
	uint64_t delivered = v->cc.delivery.delivered;
	struct tern_rate_sample rs = {.delivery_rate = rate,
	                              .newly_acked = acked,
	                              .newly_lost = lost,
	                              .rtt = rtt,
	                              .sent_time = v->now - rtt,
	                              .delivered = BDP,
	                              .prior_delivered = delivered > BDP ? delivered - BDP : 0,
	                              .tx_in_flight = v->cc.bytes_in_flight,
	                              .prior_in_flight = v->cc.bytes_in_flight,
	                              .round_start = round_start};

	v->now += round_start ? rtt : 1;
	if (round_start)
		v->round++;
	rs.round_count = v->round;
	v->cc.delivery.delivered += acked;
	v->cc.ops->on_rate_sample(&v->cc, &rs, &v->rtt, v->now);
}

/* A queue (or a wandering RTT) at rtt that stands: two samples a quarter of
 * min_rtt apart, after the last, the second acking nothing new. One sample alone is a host
 * that held an ACK back, not a queue (cc_bbr.c queue_sample). */
static void standing(struct drive *v, uint64_t rate, tern_time rtt)
{
	v->now += MINRTT / 4;
	sample(v, rate, rtt, MSS, 0, false);
	v->now += MINRTT / 4;
	sample(v, rate, rtt, 0, 0, false);
}

static const char *state(const struct drive *v)
{
	struct tern_cc_info ci;

	tern_cc_get_info(&v->cc, &v->rtt, &ci);
	return ci.state;
}

static uint64_t pacing(uint64_t rate, uint32_t gain)
{
	return rate * gain * 1000 / (1024 * 1010);
}

/* Startup: pacing at 2.89 · initial window per ms before any RTT; grows
 * while bandwidth grows 25% a round; three flat rounds end it; Drain holds
 * until inflight is down to one BDP; then ProbeBW. */
static void test_bbr_startup_drain(void)
{
	static const uint64_t rates[] = {1000000, 2000000, 4000000, 8000000, 8000000, 8000000};
	struct drive v;
	const struct tern_bbr *b = &v.cc.u.bbr;

	drive_init(&v);
	CHECK_EQ(v.cc.cwnd, 10 * MSS);
	CHECK(strcmp(state(&v), "startup") == 0);
	CHECK_EQ(tern_cc_pacing_rate(&v.cc, &v.rtt), 10 * MSS * 2955ull * 1000 / 1024);
	v.cc.bytes_in_flight = 3 * BDP;
	for (size_t i = 0; i < TERN_ARRAY_LEN(rates); i++) {
		sample(&v, rates[i], MINRTT, 10 * MSS, 0, true);
		CHECK(strcmp(state(&v), "startup") == 0);
	}
	CHECK_EQ(b->full_bw, 8000000);
	CHECK_EQ(b->full_bw_count, 2);
	/* a pacing rate only grows in Startup: 2.885 · 8 MB/s · 1/1.01 */
	CHECK_EQ(b->pacing_rate, pacing(8000000, 2955));
	sample(&v, 8000000, MINRTT, 10 * MSS, 0, true); /* third flat round */
	CHECK(b->filled_pipe);
	CHECK(strcmp(state(&v), "drain") == 0);
	CHECK_EQ(b->pacing_gain, 355);
	/* inflight down to BDP + 3 packets: ProbeBW, whose DOWN gives way to
	 * CRUISE on the same ACK since nothing is left to drain */
	v.cc.bytes_in_flight = BDP;
	sample(&v, 8000000, MINRTT, MSS, 0, false);
	CHECK(strcmp(state(&v), "probe_bw") == 0);
	CHECK_EQ(b->phase, CRUISE);
	CHECK_EQ(b->pacing_gain, 1024);
	CHECK_EQ(b->cwnd_gain, 2048);
	CHECK_EQ(b->min_rtt, MINRTT);
}

/* One Startup round of 10 ACKs at rate, each of 20 packets of which lost
 * are lost, the RTT standing at rtt. */
static void startup_round(struct drive *v, uint64_t rate, tern_time rtt, uint64_t lost)
{
	sample(v, rate, rtt, (20 - lost) * MSS, lost * MSS, true);
	for (int i = 0; i < 9; i++) {
		v->now += MINRTT / 4;
		sample(v, rate, rtt, (20 - lost) * MSS, lost * MSS, false);
	}
}

/* 5% random loss: Startup's growing rounds with no queue teach the base
 * loss rate, so a round with a queue losing as much goes on growing, and
 * only loss beyond it (a buffer overflowing) ends Startup. */
static void test_bbr_startup_random_loss(void)
{
	static const uint64_t rates[] = {1000000, 2000000, 4000000, 8000000};
	struct drive v;
	const struct tern_bbr *b = &v.cc.u.bbr;

	drive_init(&v);
	v.cc.bytes_in_flight = 3 * BDP;
	for (size_t i = 0; i < TERN_ARRAY_LEN(rates); i++)
		startup_round(&v, rates[i], MINRTT, 1);
	CHECK_EQ(b->base_loss_ppm, 50000);
	startup_round(&v, 16000000, 2 * MINRTT, 1); /* a queue, 5% lost */
	startup_round(&v, 32000000, 2 * MINRTT, 1);
	CHECK(!b->filled_pipe);
	CHECK(strcmp(state(&v), "startup") == 0);
	startup_round(&v, 64000000, 2 * MINRTT, 4); /* 20% */
	startup_round(&v, 64000000, 2 * MINRTT, 1);
	CHECK(b->filled_pipe);
}

/* Puts v in ProbeBW (CRUISE) at 8 MB/s x 10 ms with cwnd at its target. */
static void to_probe_bw(struct drive *v)
{
	drive_init(v);
	v->cc.bytes_in_flight = BDP;
	for (int i = 0; i < 4; i++)
		sample(v, BW, MINRTT, 10 * MSS, 0, true);
	CHECK(strcmp(state(v), "probe_bw") == 0);
	for (int i = 0; i < 40; i++) { /* ACKs of 10 packets each, at the rate */
		v->now += 10 * MSS * TERN_SEC / BW - 1;
		sample(v, BW, MINRTT, 10 * MSS, 0, false);
	}
}

/* cwnd = 2 · BDP + 3 packets; pacing = gain · bw · 0.99. The cycle: CRUISE
 * until the Reno-coexistence round count (min(63, BDP + 3 packets) = 63
 * rounds, less the 0 or 1 drawn at random) or 2-3 s; REFILL for a round;
 * UP (1.25) until the queue it built is a quarter of min_rtt; DOWN (0.9)
 * until drained, here at most three min_rtts. */
static void test_bbr_probe_bw_cycle(void)
{
	struct drive v;
	const struct tern_bbr *b = &v.cc.u.bbr;
	struct tern_cc_info ci;
	int rounds = 0;

	to_probe_bw(&v);
	CHECK_EQ(b->phase, CRUISE);
	CHECK_EQ(v.cc.cwnd, CWND);
	CHECK_EQ(b->pacing_rate, pacing(BW, 1024));
	tern_cc_get_info(&v.cc, &v.rtt, &ci);
	CHECK(strcmp(ci.algorithm, "bbr") == 0);
	CHECK_EQ(ci.bandwidth, BW);
	CHECK_EQ(ci.pacing_rate, b->pacing_rate);
	while (b->phase == CRUISE && rounds < 100) {
		sample(&v, BW, MINRTT, 10 * MSS, 0, true);
		rounds++;
	}
	CHECK(rounds >= 62 && rounds <= 63);
	CHECK_EQ(b->phase, REFILL);
	CHECK_EQ(b->pacing_gain, 1024);
	/* REFILL lasts until a packet sent after it began is acked (a BDP) */
	for (int i = 0; i < 8; i++)
		sample(&v, BW, MINRTT, 10 * MSS, 0, false);
	CHECK_EQ(b->phase, REFILL);
	sample(&v, BW, MINRTT, 10 * MSS, 0, false);
	CHECK_EQ(b->phase, UP);
	CHECK_EQ(b->pacing_gain, 1280);
	CHECK_EQ(b->cwnd_gain, 2304);
	CHECK_EQ(b->up_base_rtt, MINRTT);
	/* a queue below a quarter of min_rtt keeps probing */
	sample(&v, BW, MINRTT + 2400, 10 * MSS, 0, true);
	sample(&v, BW, MINRTT + 2400, 10 * MSS, 0, true);
	CHECK_EQ(b->phase, UP);
	/* one late ACK is a host's scheduling, not a queue: the next RTT is
	 * back down, and UP goes on */
	sample(&v, BW, MINRTT + 6000, 10 * MSS, 0, false);
	sample(&v, BW, MINRTT, 10 * MSS, 0, false);
	CHECK_EQ(b->phase, UP);
	/* 2.5 ms of queue that stands a quarter of min_rtt ends it */
	sample(&v, BW, MINRTT + 2500, 10 * MSS, 0, false);
	CHECK_EQ(b->phase, UP);
	sample(&v, BW, MINRTT + 2500, 10 * MSS, 0, true);
	CHECK_EQ(b->phase, DOWN);
	CHECK_EQ(b->pacing_rate, pacing(BW, 922));
	/* inflight that does not come down: DOWN ends after 3 min_rtts */
	v.cc.bytes_in_flight = 2 * BDP;
	for (int i = 0; i < 3; i++)
		sample(&v, BW, MINRTT, 10 * MSS, 0, true);
	CHECK_EQ(b->phase, DOWN);
	sample(&v, BW, MINRTT, 10 * MSS, 0, true);
	CHECK_EQ(b->phase, CRUISE);
}

/* Random loss on a path with no queue: the base loss rate learns it, and
 * neither bound moves, nor the bandwidth. */
static void test_bbr_random_loss_ignored(void)
{
	struct drive v;
	const struct tern_bbr *b = &v.cc.u.bbr;

	to_probe_bw(&v);
	for (int i = 0; i < 80; i++) /* 5% of each 100-packet round lost */
		sample(&v, BW, MINRTT, 95 * MSS, 5 * MSS, true);
	CHECK_EQ(b->inflight_lo, UINT64_MAX);
	CHECK_EQ(b->bw_lo, UINT64_MAX);
	CHECK_EQ(b->inflight_hi, UINT64_MAX);
	CHECK_EQ(tern_winmax_get(&v.cc.delivery.bw) == 0, true); /* delivery's own filter unused */
	CHECK_EQ(b->bw_hi[0] > b->bw_hi[1] ? b->bw_hi[0] : b->bw_hi[1], BW);
	CHECK(v.cc.cwnd >= CWND);
	CHECK(b->base_loss_ppm > 40000 && b->base_loss_ppm <= 50000);
}

/* With a base loss rate, one round that passes three standard deviations
 * is chance (about one in a hundred on a real 1%-loss path); the round is
 * judged with the one before, so only loss beyond the base two rounds
 * running (a buffer overflowing) moves the bounds. */
static void test_bbr_random_loss_spike(void)
{
	struct drive v;
	const struct tern_bbr *b = &v.cc.u.bbr;

	to_probe_bw(&v);
	for (int i = 0; i < 80; i++)
		sample(&v, BW, MINRTT, 95 * MSS, 5 * MSS, true);
	CHECK_EQ(b->phase, UP); /* the probe a queue ends */
	standing(&v, BW, MINRTT + 3 * TERN_MS);
	for (int i = 0; i < 4; i++)
		sample(&v, BW, MINRTT, 95 * MSS, 5 * MSS, true);
	sample(&v, BW, MINRTT, 88 * MSS, 12 * MSS, true); /* 12%: 3.2 sigma */
	standing(&v, BW, 2 * MINRTT);
	sample(&v, BW, MINRTT, 95 * MSS, 5 * MSS, true);
	CHECK_EQ(b->phase, CRUISE);
	CHECK_EQ(b->inflight_lo, UINT64_MAX);
	CHECK_EQ(b->bw_lo, UINT64_MAX);
	sample(&v, BW, MINRTT, 85 * MSS, 15 * MSS, true); /* 15%, twice */
	standing(&v, BW, 2 * MINRTT);
	sample(&v, BW, MINRTT, 85 * MSS, 15 * MSS, true);
	standing(&v, BW, 2 * MINRTT);
	sample(&v, BW, MINRTT, 95 * MSS, 5 * MSS, true);
	CHECK(b->inflight_lo != UINT64_MAX);
}

/* A round outside probes that lost packets with a queue standing (RTT up
 * to 2 · min_rtt): bw_lo = max(bw of the round, 0.7 · max_bw), inflight_lo
 * = max(delivered in a round trip, 0.7 · cwnd), inflight_hi = max(0.7 ·
 * cwnd, the part of cwnd in the pipe + 3 packets); cwnd then cruises under
 * inflight_hi less 15% headroom, and each cruising round adds one MSS to
 * inflight_lo and one MSS per min_rtt to bw_lo. The next probe forgets
 * inflight_lo. */
static void test_bbr_congestion_between_probes(void)
{
	struct drive v;
	const struct tern_bbr *b = &v.cc.u.bbr;
	uint64_t cwnd, hi;

	to_probe_bw(&v);
	sample(&v, BW, MINRTT, MSS, 0, true);                 /* a round at min_rtt */
	sample(&v, BW / 2, MINRTT, 90 * MSS, 10 * MSS, true); /* the lossy round */
	standing(&v, BW / 2, 2 * MINRTT);                     /* its queue */
	/* cwnd as the round ends: its one 90-packet ACK grew extra_acked */
	cwnd = v.cc.cwnd;
	hi = cwnd * 717 / 1024;
	sample(&v, BW / 2, MINRTT, MSS, 0, true); /* ends it */
	/* the ACK that ends the round also takes cruise's additive step */
	CHECK_EQ(b->bw_lo, BW * 717 / 1024 + MSS * TERN_SEC / MINRTT);
	CHECK_EQ(b->inflight_lo, cwnd * 717 / 1024 + MSS);
	CHECK_EQ(b->inflight_hi, hi); /* pipe part: cwnd / 2 + 3 packets, less */
	CHECK_EQ(v.cc.cwnd, hi - hi * 154 / 1024);
	CHECK_EQ(b->pacing_rate, pacing(BW * 717 / 1024 + MSS * TERN_SEC / MINRTT, 1024));
	/* the same episode's next lossy round cuts the short-term bounds only */
	sample(&v, BW / 2, 2 * MINRTT, 90 * MSS, 10 * MSS, true);
	sample(&v, BW / 2, MINRTT, MSS, 0, true);
	CHECK_EQ(b->inflight_hi, hi);
	while (b->phase != REFILL)
		sample(&v, BW / 2, MINRTT, 10 * MSS, 0, true);
	CHECK_EQ(b->inflight_lo, UINT64_MAX);
	/* cruising rounds without loss grew bw_lo back, one MSS per min_rtt a
	 * round, until it bound nothing */
	CHECK_EQ(b->bw_lo, UINT64_MAX);
}

/* The same lossy round with one late ACK instead of a queue (a host that
 * held ACKs back releases them together; only the first of the burst is
 * late): no queue stood, so the loss is not congestion and no bound moves. */
static void test_bbr_late_ack_no_queue(void)
{
	struct drive v;
	const struct tern_bbr *b = &v.cc.u.bbr;

	to_probe_bw(&v);
	sample(&v, BW, MINRTT, MSS, 0, true);
	sample(&v, BW / 2, MINRTT, 90 * MSS, 10 * MSS, true);
	sample(&v, BW / 2, 2 * MINRTT, MSS, 0, false); /* one late ACK */
	sample(&v, BW / 2, MINRTT, MSS, 0, false);     /* the rest of its burst */
	sample(&v, BW / 2, MINRTT, MSS, 0, true);
	CHECK_EQ(b->bw_lo, UINT64_MAX);
	CHECK_EQ(b->inflight_lo, UINT64_MAX);
	CHECK_EQ(b->inflight_hi, UINT64_MAX);
	CHECK_EQ(b->full_qdelay, 0);
}

/* The shared full-queue signal: a loss episode at a queueing delay of
 * 10 ms (RTT 20 ms over min_rtt 10 ms) teaches full_qdelay = 10 ms. Later,
 * once the queue has drained below half of it, a cruising round whose RTT
 * reaches 7/8 of it (19 ms > 18.75 ms) cuts inflight_hi as a loss episode
 * would, to max(0.7 · x, x · min_rtt / rtt + 3 packets) with x = min(
 * inflight_hi, cwnd), without a packet lost: every flow in the queue sees
 * that RTT, while which of them lose packets is chance. The queue staying
 * that deep cuts nothing more until it drains below 5 ms again. A queue
 * that passed 3/4 (7.5 ms) and collapsed below half without a cut here
 * means the others cut: the flow cuts late. */
static void test_bbr_full_queue_signal(void)
{
	struct drive v;
	const struct tern_bbr *b = &v.cc.u.bbr;
	const tern_time deep = 19 * TERN_MS;
	uint64_t x, hi;

	to_probe_bw(&v);
	sample(&v, BW, MINRTT, MSS, 0, true);
	sample(&v, BW / 2, MINRTT, 90 * MSS, 10 * MSS, true); /* the lossy round */
	standing(&v, BW / 2, 2 * MINRTT);                     /* its queue */
	sample(&v, BW / 2, MINRTT, MSS, 0, true);             /* ends it */
	CHECK_EQ(b->full_qdelay, MINRTT);
	v.cc.bytes_in_flight = 40 * MSS;               /* below every bound: no additive step */
	sample(&v, BW / 2, MINRTT, 10 * MSS, 0, true); /* drained: the signal re-arms */
	sample(&v, BW / 2, MINRTT, 10 * MSS, 0, true);
	CHECK(b->full_armed);
	standing(&v, BW / 2, deep);
	x = TERN_MIN(b->inflight_hi, v.cc.cwnd);
	sample(&v, BW / 2, MINRTT, MSS, 0, true);
	hi = TERN_MAX(x * 717 / 1024, x * MINRTT / deep + 3 * MSS);
	CHECK_EQ(b->inflight_hi, hi);
	CHECK(!b->full_armed);
	/* the queue stays deep: no second cut */
	standing(&v, BW / 2, deep);
	sample(&v, BW / 2, MINRTT, MSS, 0, true);
	CHECK_EQ(b->inflight_hi, hi);
	/* it drains below 5 ms, fills again: the next cut */
	sample(&v, BW / 2, MINRTT, MSS, 0, true);
	standing(&v, BW / 2, deep);
	x = TERN_MIN(b->inflight_hi, v.cc.cwnd);
	sample(&v, BW / 2, MINRTT, MSS, 0, true);
	CHECK_EQ(b->inflight_hi, TERN_MAX(x * 717 / 1024, x * MINRTT / deep + 3 * MSS));
	CHECK(b->inflight_hi < hi);
	/* drained, the queue rises past 3/4 (8 ms) but not 7/8, then collapses
	 * below half: the others cut in an episode this flow missed; it cuts */
	hi = b->inflight_hi;
	sample(&v, BW / 2, MINRTT, MSS, 0, true);
	standing(&v, BW / 2, MINRTT + 8 * TERN_MS);
	sample(&v, BW / 2, MINRTT, MSS, 0, true);
	CHECK_EQ(b->inflight_hi, hi); /* high, not full: nothing yet */
	x = TERN_MIN(b->inflight_hi, v.cc.cwnd);
	sample(&v, BW / 2, MINRTT, MSS, 0, true); /* the collapse */
	CHECK_EQ(b->inflight_hi,
	         TERN_MAX(x * 717 / 1024, x * MINRTT / (MINRTT + 8 * TERN_MS) + 3 * MSS));
}

/* The flow's own probe raises the queue past 3/4 of full_qdelay and its
 * DOWN drains it below half: that is no episode the others had, and
 * inflight_hi stays where UP left it (it was cut on a real 1%-loss path
 * after every probe). */
static void test_bbr_own_probe_no_collapse(void)
{
	struct drive v;
	const struct tern_bbr *b = &v.cc.u.bbr;
	uint64_t hi;
	int i;

	to_probe_bw(&v);
	sample(&v, BW, MINRTT, MSS, 0, true);
	sample(&v, BW / 2, MINRTT, 90 * MSS, 10 * MSS, true); /* full_qdelay 10 ms */
	standing(&v, BW / 2, 2 * MINRTT);
	sample(&v, BW / 2, MINRTT, MSS, 0, true);
	CHECK_EQ(b->full_qdelay, MINRTT);
	v.cc.bytes_in_flight = 40 * MSS;
	for (i = 0; i < 400 && b->phase != UP; i++)
		sample(&v, BW / 2, MINRTT, 10 * MSS, 0, true);
	CHECK_EQ(b->phase, UP);
	CHECK(b->full_armed);
	sample(&v, BW / 2, MINRTT, 10 * MSS, 0, false);
	v.now += MINRTT;                            /* UP lasts a min_rtt at least */
	standing(&v, BW / 2, MINRTT + 8 * TERN_MS); /* 8 ms: past 3/4, under 7/8 */
	CHECK_EQ(b->phase, DOWN);
	hi = b->inflight_hi;
	sample(&v, BW / 2, MINRTT + 8 * TERN_MS, MSS, 0, true);
	standing(&v, BW / 2, MINRTT + 8 * TERN_MS);
	for (i = 0; i < 3; i++)
		sample(&v, BW / 2, MINRTT, MSS, 0, true);
	CHECK(!b->full_high);
	CHECK_EQ(b->inflight_hi, hi);
}

/* Cruising, rounds whose every RTT shows a queue while the flow delivers
 * half its estimate (the bottleneck shrank; a deep buffer, no loss): from
 * the second such round running, bw_lo steps down by at most 15% a round
 * until the delivered rate is within 7/8 of it. One slow round, or rounds within 7/8
 * of the estimate, do nothing. */
static void test_bbr_standing_queue(void)
{
	struct drive v;
	const struct tern_bbr *b = &v.cc.u.bbr;
	struct tern_cc_info ci;
	uint64_t x = BW;

	to_probe_bw(&v);
	sample(&v, BW, MINRTT, MSS, 0, true);
	sample(&v, BW / 8 * 7, 2 * MINRTT, 10 * MSS, 0, true);
	sample(&v, BW / 8 * 7, 2 * MINRTT, 10 * MSS, 0, true);
	CHECK_EQ(b->bw_lo, UINT64_MAX);
	sample(&v, BW / 2, 2 * MINRTT, 10 * MSS, 0, true);
	sample(&v, BW / 2, 2 * MINRTT, 10 * MSS, 0, true); /* one slow round: late ACKs? */
	CHECK_EQ(b->bw_lo, UINT64_MAX);
	sample(&v, BW, MINRTT, 10 * MSS, 0, true); /* the second: 15% off */
	CHECK_EQ(b->bw_lo, BW / 20 * 17);
	sample(&v, BW / 2, 2 * MINRTT, 10 * MSS, 0, true); /* a good round resets the count */
	sample(&v, BW / 2, 2 * MINRTT, 10 * MSS, 0, true);
	CHECK_EQ(b->bw_lo, BW / 20 * 17);
	x = BW / 20 * 17;
	for (int i = 0; i < 6; i++) { /* down to within 7/8 of the delivered rate */
		sample(&v, BW / 2, 2 * MINRTT, 10 * MSS, 0, true);
		if (BW / 2 < x / 8 * 7)
			x = TERN_MAX(BW / 2, x / 20 * 17);
		CHECK_EQ(b->bw_lo, x);
	}
	CHECK_EQ(x, BW / 20 * 17 / 20 * 17 / 20 * 17 / 20 * 17); /* 0.52 BW */
	tern_cc_get_info(&v.cc, &v.rtt, &ci);
	CHECK_EQ(ci.bandwidth, x);
}

/* RTTs that wander within rounds (a busy host, a radio) raise the bar for
 * a standing queue: rounds 3 ms above min_rtt, after rounds spreading
 * 6 ms, are not a queue, so delivering half the estimate cuts nothing. */
static void test_bbr_jitter_no_queue(void)
{
	struct drive v;
	const struct tern_bbr *b = &v.cc.u.bbr;

	to_probe_bw(&v);
	for (int i = 0; i < 12; i++) {
		sample(&v, BW, MINRTT, 10 * MSS, 0, true);
		standing(&v, BW, MINRTT + 6 * TERN_MS);
	}
	CHECK(b->jitter > 2 * TERN_MS);
	for (int i = 0; i < 4; i++)
		sample(&v, BW / 2, MINRTT + 3 * TERN_MS, 10 * MSS, 0, true);
	CHECK_EQ(b->bw_lo, UINT64_MAX);
}

/* A probe packet that saw more than 2% (above the base) of its flight lost
 * sets inflight_hi = max(0.7 · inflight at its send, the pipe part + 3
 * packets) and ends the probe; the same loss within the base rate (9%,
 * with two standard deviations of noise) does nothing. */
static void test_bbr_inflight_hi(void)
{
	struct drive v;
	struct tern_bbr *b = &v.cc.u.bbr;
	struct tern_rate_sample rs;

	for (int base = 0; base < 2; base++) {
		to_probe_bw(&v);
		while (b->phase != UP)
			sample(&v, BW, MINRTT, 10 * MSS, 0, b->phase == CRUISE);
		b->base_loss_ppm = base ? 90000 : 0;
		v.now += 2 * TERN_MS;
		rs = (struct tern_rate_sample){.delivery_rate = BW,
		                               .newly_acked = MSS,
		                               .newly_lost = 10 * MSS,
		                               .rtt = 2 * MINRTT,
		                               .sent_time = v.now - 1000,
		                               .tx_in_flight = 100 * MSS,
		                               .lost = 10 * MSS,
		                               .prior_in_flight = 100 * MSS,
		                               .round_count = v.round};
		v.cc.ops->on_rate_sample(&v.cc, &rs, &v.rtt, v.now);
		if (base) {
			CHECK_EQ(b->inflight_hi, UINT64_MAX);
			CHECK_EQ(b->phase, UP);
		} else {
			CHECK_EQ(b->inflight_hi, 100 * MSS * 717 / 1024);
			CHECK_EQ(b->phase, DOWN);
			CHECK(b->prev_probe_too_high);
			CHECK_EQ(v.cc.cwnd, 100 * MSS * 717 / 1024); /* capped by inflight_hi */
		}
	}
}

/* No lower RTT for 5 s: ProbeRTT holds cwnd at half a BDP for 200 ms and a
 * round, then restores cwnd and cruises. */
static void test_bbr_probe_rtt(void)
{
	struct drive v;
	const struct tern_bbr *b = &v.cc.u.bbr;
	tern_time entered;

	to_probe_bw(&v);
	v.now += 5 * TERN_SEC;
	sample(&v, BW, MINRTT + 2000, MSS, 0, false);
	CHECK(strcmp(state(&v), "probe_rtt") == 0);
	CHECK_EQ(v.cc.cwnd, BDP / 2);
	CHECK_EQ(b->prior_cwnd, CWND);
	CHECK(v.cc.delivery.app_limited != 0); /* low samples do not count */
	v.cc.bytes_in_flight = BDP / 2;
	sample(&v, BW / 10, MINRTT, MSS, 0, false);
	entered = v.now;
	CHECK_EQ(b->probe_rtt_done, entered + 200 * TERN_MS);
	for (int i = 0; i < 8; i++) /* the round: a BDP delivered */
		sample(&v, BW / 10, MINRTT, 10 * MSS, 0, false);
	CHECK(strcmp(state(&v), "probe_rtt") == 0);
	v.now = entered + 200 * TERN_MS;
	sample(&v, BW / 10, MINRTT, MSS, 0, false);
	CHECK(strcmp(state(&v), "probe_bw") == 0);
	CHECK_EQ(b->phase, CRUISE);
	/* restored, plus this ACK's packet: ProbeRTT's ACKs, 1 us apart, grew
	 * extra_acked a little */
	CHECK(v.cc.cwnd >= CWND && v.cc.cwnd <= CWND + MSS);
	CHECK_EQ(b->bw_hi[0] > b->bw_hi[1] ? b->bw_hi[0] : b->bw_hi[1], BW);
	CHECK_EQ(b->min_rtt, MINRTT);
}

/* RTTs within 1/32 of the minimum (a path that wanders by a few hundred
 * microseconds with no queue) confirm it: no ProbeRTT after 5 s of them.
 * RTTs 1/16 above it for 5 s do not. */
static void test_bbr_probe_rtt_confirmed(void)
{
	struct drive v;

	to_probe_bw(&v);
	for (int i = 0; i < 600; i++) /* 6 s */
		sample(&v, BW, MINRTT + MINRTT / 40, 10 * MSS, 0, true);
	CHECK(strcmp(state(&v), "probe_bw") == 0);
	for (int i = 0; i < 600 && strcmp(state(&v), "probe_bw") == 0; i++)
		sample(&v, BW, MINRTT + MINRTT / 16, 10 * MSS, 0, true);
	CHECK(strcmp(state(&v), "probe_rtt") == 0);
}

/* Persistent congestion drops cwnd to 4 packets; the next ACK restores it. */
static void test_bbr_persistent_congestion(void)
{
	struct drive v;

	to_probe_bw(&v);
	v.cc.ops->on_loss(&v.cc, v.now - 1, v.now);
	CHECK_EQ(v.cc.cwnd, CWND); /* loss alone does not cut */
	CHECK_EQ(v.cc.congestion_events, 1);
	v.cc.ops->on_persistent_congestion(&v.cc, v.now);
	CHECK_EQ(v.cc.cwnd, 4 * MSS);
	sample(&v, BW, MINRTT, MSS, 0, false);
	CHECK_EQ(v.cc.cwnd, CWND);
}

/* ACK aggregation: ACKs that come in clumps (here 64 packets every 8 ms,
 * the right average rate) put the clump on top of the BDP, the draft's
 * extra_acked; it leaves the filter after 10 rounds without clumps. */
static void test_bbr_ack_aggregation(void)
{
	struct drive v;
	const struct tern_bbr *b = &v.cc.u.bbr;

	to_probe_bw(&v);
	CHECK_EQ(TERN_MAX(b->extra_acked[0], b->extra_acked[1]), 10 * MSS);
	for (int i = 0; i < 4; i++) {
		v.now += 8 * TERN_MS - 1;
		sample(&v, BW, MINRTT, 64 * MSS, 0, false);
	}
	CHECK_EQ(TERN_MAX(b->extra_acked[0], b->extra_acked[1]), 64 * MSS);
	CHECK_EQ(v.cc.cwnd, 2 * BDP + 3 * MSS + 64 * MSS);
	for (int i = 0; i < 10; i++) { /* rounds of ACKs at the rate, 10 packets each */
		sample(&v, BW, MINRTT, 10 * MSS, 0, true);
		v.now += 10 * MSS * TERN_SEC / BW - 1;
		sample(&v, BW, MINRTT, 10 * MSS, 0, false);
	}
	CHECK_EQ(TERN_MAX(b->extra_acked[0], b->extra_acked[1]), 10 * MSS);
}

/* A fast path with a tiny RTT (5 Gbit/s x 25 us: a BDP of 15.6 KB) keeps
 * cwnd at three send quanta of 64 KiB at least, the draft's offload budget:
 * a host that sends GSO trains and a peer that ACKs a GRO burst at once
 * would otherwise hold it to a train per round trip. */
static void test_bbr_offload_budget(void)
{
	struct drive v;
	const uint64_t fast = 625000000ull;

	drive_init(&v);
	v.rtt = (struct tern_rtt){
	        .latest = 25, .smoothed = 25, .min = 25, .var = 12, .has_sample = true};
	v.cc.bytes_in_flight = 15000;
	for (int i = 0; i < 20; i++)
		sample(&v, fast, 25, 20000, 0, true);
	CHECK(strcmp(state(&v), "probe_bw") == 0);
	CHECK(v.cc.cwnd >= 3 * 65536);
	CHECK(v.cc.cwnd <= 3 * 65536 + 40000);
}

/* The cwnd-based controllers keep 5/4 · cwnd / srtt, and report through
 * the same info call. */
static void test_info_cwnd_based(void)
{
	struct tern_cc cc;
	struct tern_rtt rtt = {.smoothed = 50 * TERN_MS, .min = 40 * TERN_MS, .has_sample = true};
	struct tern_rtt none = {0};
	struct tern_cc_info ci;

	tern_cc_init(&cc, &tern_cc_cubic, MSS, 0);
	CHECK_EQ(tern_cc_pacing_rate(&cc, &rtt), 10 * MSS * 5 * TERN_SEC / (4 * 50 * TERN_MS));
	CHECK_EQ(tern_cc_pacing_rate(&cc, &none), 10 * MSS * 5 * 10 / 4); /* 100 ms initial */
	cc.bytes_in_flight = 3000;
	tern_cc_get_info(&cc, &rtt, &ci);
	CHECK(strcmp(ci.algorithm, "cubic") == 0);
	CHECK(strcmp(ci.state, "slow_start") == 0);
	CHECK_EQ(ci.min_rtt, 40 * TERN_MS);
	CHECK_EQ(ci.smoothed_rtt, 50 * TERN_MS);
	CHECK_EQ(ci.cwnd, 10 * MSS);
	CHECK_EQ(ci.bytes_in_flight, 3000);
	CHECK_EQ(ci.bandwidth, 0);
	tern_cc_on_app_limited(&cc);
	tern_cc_get_info(&cc, &rtt, &ci);
	CHECK(ci.app_limited);
}

int main(void)
{
	test_winmax();
	test_delivery_samples();
	test_delivery_min_rtt_guard();
	test_bbr_startup_drain();
	test_bbr_startup_random_loss();
	test_bbr_probe_bw_cycle();
	test_bbr_random_loss_ignored();
	test_bbr_random_loss_spike();
	test_bbr_congestion_between_probes();
	test_bbr_late_ack_no_queue();
	test_bbr_full_queue_signal();
	test_bbr_own_probe_no_collapse();
	test_bbr_standing_queue();
	test_bbr_jitter_no_queue();
	test_bbr_inflight_hi();
	test_bbr_probe_rtt();
	test_bbr_probe_rtt_confirmed();
	test_bbr_persistent_congestion();
	test_bbr_ack_aggregation();
	test_bbr_offload_budget();
	test_info_cwnd_based();
	return tern_check_result("bbr");
}
