/* BBR: model-based congestion control after
 * draft-cardwell-iccrg-bbr-congestion-control-02 (BBRv1's core), with the
 * v2/v3 bounds on loss and queueing.
 *
 * The model: BtlBw, a max filter of delivery-rate samples over 10 rounds, and
 * min_rtt, a 10 s min filter refreshed by ProbeRTT (cwnd 4 packets for 200 ms
 * and a round). As in v2/v3, ProbeRTT is due when a second, 5 s filter
 * (probe_rtt_min) expires: flows sharing a standing queue, whose later
 * joiners measured an inflated min_rtt, drain it together twice as often,
 * and fairness among BBR flows comes mostly from those synchronized drains. Control: pacing rate = pacing_gain · BtlBw, cwnd =
 * cwnd_gain · BDP + 3 packets. States: Startup (gain 2/ln2 = 2.89 for both)
 * until bandwidth grows less than 25% for 3 rounds or loss is excessive;
 * Drain (pacing 1/2.89) until inflight is down to one BDP; ProbeBW; ProbeRTT.
 *
 * ProbeBW uses v1's eight-phase gain cycle, one min_rtt each: 1.25 (probe
 * up), 0.75 (drain the probe's queue), then six phases at 1.0, entered at a
 * random phase other than 0.75. Chosen over v2's DOWN/CRUISE/REFILL/UP
 * because it probes every ~8 round trips, so flows sharing a bottleneck
 * converge within seconds, and it is simple to reason about; v2's bounds
 * slot into it as follows.
 *
 * Loss bounds (v2/v3, no ECN), tuned so random loss does not collapse the
 * rate, which is the point of BBR:
 * - Loss counts as congestion only when it exceeds, by the 2% threshold, the
 *   path's base loss rate: an average of the loss rate in rounds whose RTT
 *   showed no queue. A tail-drop queue cannot drop while it is empty, so
 *   what is lost then is not caused by our sending (random loss, a lossy
 *   radio). On a clean path the base is 0 and the rule is v2's.
 * - inflight_hi: when a packet sent during a bandwidth probe (the 1.25
 *   phase) comes back with more than threshold · inflight-at-send lost while
 *   it flew (v2's IsInflightTooHigh), inflight_hi = max(that inflight,
 *   0.7 · BDP) and the probe ends. Later probes may go hi_step above it;
 *   hi_step doubles after each probe that was not too high and inflight_hi
 *   rises by it, so the bound relaxes when the path grows. Unlike v2,
 *   inflight_hi is kept as a multiple of the flow's own BDP estimate (how
 *   deep a queue the path tolerates, in BDPs), not in bytes: when flows
 *   share a full buffer every probe sees loss, and a bound in bytes would
 *   freeze each flow's cwnd at its current share. As a multiple it follows
 *   the bandwidth estimate, so a smaller flow can still grow when a larger
 *   one drains (v1's convergence mechanism), while the total inflight of
 *   the flows stays near the same number of BDPs.
 * - inflight_lo: a round outside probing whose loss rate is excessive and
 *   whose RTT shows a queue sets inflight_lo = max(delivered in that round,
 *   0.7 · inflight_lo). Reset at each probe. This is what follows a
 *   bottleneck that shrinks before the 10-round bandwidth filter forgets.
 * - Startup also ends on a round with excessive loss, a queue, and at least
 *   8 loss events (v2), setting inflight_hi = max(BDP, delivered in it).
 * - A loss rate is only judged over at least 50 packets (a round for
 *   inflight_lo, inflight-at-send for inflight_hi): below that one or two
 *   tail drops read as "more than 2%", so small flows sharing a queue with
 *   large ones would be cut by noise the large ones average away.
 * - ProbeRTT's low-rate samples are marked app-limited (as Linux v1 does) so
 *   the bandwidth filter keeps its maximum across the 200 ms.
 * cwnd is min(cwnd, inflight_hi [+ hi_step while probing], inflight_lo),
 * never below 4 packets. Loss itself never cuts cwnd (no halving); after
 * persistent congestion cwnd drops to 4 packets and returns to its prior
 * value at the next ACK, as v1 does after an RTO.
 *
 * Units: bytes, bytes per second, µs; gains in 1/1024; loss rates in ppm. */
#include "cc.h"

/* 128-bit intermediates: GCC/Clang extension, marked so -Wpedantic accepts it. */
__extension__ typedef unsigned __int128 u128;

enum { BBR_STARTUP, BBR_DRAIN, BBR_PROBE_BW, BBR_PROBE_RTT };

#define UNIT 1024
#define HIGH_GAIN 2955 /* 2/ln 2 = 2.885 */
#define DRAIN_GAIN 355 /* ln 2 / 2 */
#define CWND_GAIN 2048
#define CYCLE_LEN 8
#define FULL_BW_GROWTH 1280 /* 1.25 */
#define FULL_BW_ROUNDS 3
#define BW_ROUNDS 10
#define MIN_RTT_WIN (10 * TERN_SEC)
#define PROBE_RTT_WIN (5 * TERN_SEC)
#define PROBE_RTT_TIME (200 * TERN_MS)
#define MIN_CWND_PKTS 4
#define QUANTA_PKTS 3
#define LOSS_THRESH_PPM 20000 /* 2% */
#define FULL_LOSS_EVENTS 8
#define BETA 717           /* 0.7: how far a loss bound cuts */
#define MIN_JUDGED_PKTS 50 /* fewer packets cannot tell 2% loss from noise */
#define PACING_MARGIN 1010 /* pace 1% below the estimate (v1) */
#define NO_BOUND UINT64_MAX
#define HI_GAIN_MAX (4 * UNIT) /* inflight_hi grown past this is dropped */
#define HI_STEP_MIN (UNIT / 16)

static const uint32_t cycle_gain[CYCLE_LEN] = {1280, 768, 1024, 1024, 1024, 1024, 1024, 1024};
static const char *const mode_names[] = {"startup", "drain", "probe_bw", "probe_rtt"};

static uint64_t sat64(u128 v)
{
	return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

static uint64_t max_bw(const struct tern_bbr *b)
{
	return tern_winmax_get(&b->bw);
}

static uint64_t min_cwnd(const struct tern_cc *cc)
{
	return MIN_CWND_PKTS * cc->mss;
}

/* gain · BtlBw · min_rtt; the initial window until both are known (v1). */
static uint64_t bdp(const struct tern_cc *cc, uint32_t gain)
{
	const struct tern_bbr *b = &cc->u.bbr;

	if (b->min_rtt == TERN_TIME_NEVER || max_bw(b) == 0)
		return TERN_CC_INITIAL_WINDOW(cc->mss);
	return sat64((u128)max_bw(b) * b->min_rtt * gain / ((u128)TERN_SEC * UNIT));
}

/* A round's largest RTT above this says a queue stood at the bottleneck. */
static tern_time queue_rtt(const struct tern_bbr *b)
{
	return b->min_rtt + TERN_MAX(b->min_rtt / 8, (tern_time)(2 * TERN_MS));
}

static bool probing_up(const struct tern_bbr *b)
{
	return b->mode == BBR_PROBE_BW && b->cycle_idx == 0;
}

/* bytes as a multiple of the BDP estimate (1/1024 units), at most 4. */
static uint32_t to_gain(const struct tern_cc *cc, uint64_t bytes)
{
	u128 g = (u128)bytes * UNIT / TERN_MAX(bdp(cc, UNIT), 1);
	return g > HI_GAIN_MAX ? HI_GAIN_MAX : (uint32_t)g;
}

/* The loss-derived cap on cwnd. */
static uint64_t bound(const struct tern_cc *cc)
{
	const struct tern_bbr *b = &cc->u.bbr;
	uint64_t hi = NO_BOUND;

	if (b->hi_gain)
		hi = bdp(cc, b->hi_gain + (probing_up(b) ? b->hi_step : 0));
	return TERN_MAX(TERN_MIN(hi, b->inflight_lo), min_cwnd(cc));
}

static uint64_t next_random(struct tern_bbr *b)
{
	b->rng ^= b->rng << 13;
	b->rng ^= b->rng >> 7;
	b->rng ^= b->rng << 17;
	return b->rng;
}

static void save_cwnd(struct tern_cc *cc)
{
	struct tern_bbr *b = &cc->u.bbr;

	if (b->mode != BBR_PROBE_RTT && !b->loss_recovery)
		b->prior_cwnd = cc->cwnd;
	else
		b->prior_cwnd = TERN_MAX(b->prior_cwnd, cc->cwnd);
}

/* ---- init and modes ---- */

static void enter_startup(struct tern_bbr *b)
{
	b->mode = BBR_STARTUP;
	b->pacing_gain = HIGH_GAIN;
	b->cwnd_gain = HIGH_GAIN;
}

static void bbr_init(struct tern_cc *cc, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;

	cc->cwnd = TERN_CC_INITIAL_WINDOW(cc->mss);
	cc->ssthresh = UINT64_MAX;
	memset(b, 0, sizeof(*b));
	enter_startup(b);
	b->min_rtt = b->probe_rtt_min = TERN_TIME_NEVER;
	b->min_rtt_stamp = b->probe_rtt_min_stamp = now;
	b->inflight_lo = NO_BOUND;
	b->hi_step = HI_STEP_MIN;
	b->probe_start = b->probe_end = TERN_TIME_NEVER;
	b->rng = (now ^ 0x9e3779b97f4a7c15ull) | 1;
	/* until an RTT is known: 2.89 · initial window per millisecond (v1) */
	b->pacing_rate = sat64((u128)cc->cwnd * HIGH_GAIN * 1000 / UNIT);
}

/* A bandwidth probe starts: loosen inflight_hi if the last probe was fine,
 * forget the lower bound, and watch what the probe's packets report. */
static void start_probe(struct tern_cc *cc, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;

	if (b->hi_gain && !b->probe_too_high) {
		b->hi_gain += b->hi_step;
		b->hi_step = TERN_MIN(2 * b->hi_step, HI_GAIN_MAX);
		if (b->hi_gain >= HI_GAIN_MAX)
			b->hi_gain = 0;
	}
	b->probe_too_high = false;
	b->inflight_lo = NO_BOUND;
	b->probe_start = now;
	b->probe_end = TERN_TIME_NEVER;
}

static void set_cycle_phase(struct tern_cc *cc, unsigned idx, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;

	if (b->cycle_idx == 0 && idx != 0 && b->probe_end == TERN_TIME_NEVER)
		b->probe_end = now;
	b->cycle_idx = (uint8_t)idx;
	b->cycle_stamp = now;
	b->pacing_gain = cycle_gain[idx];
	if (idx == 0)
		start_probe(cc, now);
}

static void enter_probe_bw(struct tern_cc *cc, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;
	unsigned idx = CYCLE_LEN - 1 - (unsigned)(next_random(b) % (CYCLE_LEN - 1));

	b->mode = BBR_PROBE_BW;
	b->cwnd_gain = CWND_GAIN;
	b->cycle_idx = 1; /* so entering at phase 0 is not taken as a probe's end */
	set_cycle_phase(cc, (idx + 1) % CYCLE_LEN, now);
}

static void enter_probe_rtt(struct tern_cc *cc, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;

	if (probing_up(b))
		b->probe_end = now;
	save_cwnd(cc);
	b->mode = BBR_PROBE_RTT;
	b->pacing_gain = UNIT;
	b->cwnd_gain = UNIT;
	b->probe_rtt_done = 0;
}

/* ---- the model ---- */

/* The base loss rate: an average (1/8 per round) of the loss rate in rounds
 * with no queue, each moving it at most 2 · threshold / 8 = 0.5% up, so a
 * misjudged round cannot teach the flow to ignore congestion. */
static void update_base_loss(struct tern_bbr *b, uint64_t ppm)
{
	ppm = TERN_MIN(ppm, (uint64_t)b->base_loss_ppm + 2 * LOSS_THRESH_PPM);
	b->base_loss_ppm = (uint32_t)(((uint64_t)b->base_loss_ppm * 7 + ppm) / 8);
}

/* Evaluates the round that just ended: its loss rate, whether a queue
 * stood, the base (non-congestive) loss rate, and the loss bounds. */
static void end_round(struct tern_cc *cc)
{
	struct tern_bbr *b = &cc->u.bbr;
	uint64_t total = b->round_delivered + b->round_lost;
	uint64_t ppm = total ? sat64((u128)b->round_lost * 1000000 / total) : 0;
	/* losses surface a round after their packets met the queue: look at both */
	tern_time rtt = TERN_MAX(b->round_max_rtt, b->prev_round_max_rtt);
	bool queued = b->min_rtt != TERN_TIME_NEVER && rtt > queue_rtt(b);

	b->round_loss_ppm = (uint32_t)ppm;
	b->inflight_latest = b->round_delivered;
	if (!queued && !b->round_has_probe && b->mode == BBR_PROBE_BW && total >= 8 * cc->mss)
		update_base_loss(b, ppm);
	if (queued && b->round_lost >= 2 * cc->mss && ppm > b->base_loss_ppm + LOSS_THRESH_PPM) {
		if (b->mode == BBR_STARTUP && !b->filled_pipe &&
		    b->loss_events >= FULL_LOSS_EVENTS) {
			b->filled_pipe = true;
			b->hi_gain = TERN_MAX(UNIT, to_gain(cc, b->inflight_latest));
		} else if (b->mode == BBR_PROBE_BW && !b->round_has_probe &&
		           total >= MIN_JUDGED_PKTS * cc->mss) {
			uint64_t lo = b->inflight_lo == NO_BOUND ? cc->cwnd : b->inflight_lo;
			b->inflight_lo = TERN_MAX(b->inflight_latest, lo * BETA / UNIT);
		}
	}
	b->round_delivered = b->round_lost = 0;
	b->prev_round_max_rtt = b->round_max_rtt;
	b->round_max_rtt = 0;
	b->loss_events = 0;
	b->round_has_probe = false;
}

static bool from_probe(const struct tern_bbr *b, const struct tern_rate_sample *rs)
{
	return b->probe_start != TERN_TIME_NEVER && rs->sent_time >= b->probe_start &&
	       rs->sent_time < b->probe_end;
}

static void account_round(struct tern_cc *cc, const struct tern_rate_sample *rs)
{
	struct tern_bbr *b = &cc->u.bbr;

	if (rs->round_start)
		end_round(cc);
	b->round_delivered += rs->newly_acked;
	b->round_lost += rs->newly_lost;
	b->loss_events += rs->newly_lost > 0;
	b->round_max_rtt = TERN_MAX(b->round_max_rtt, rs->rtt);
	b->round_has_probe |= from_probe(b, rs);
}

static void update_bw(struct tern_cc *cc, const struct tern_rate_sample *rs)
{
	struct tern_bbr *b = &cc->u.bbr;

	if (rs->delivery_rate == 0)
		return;
	if (!rs->is_app_limited || rs->delivery_rate >= max_bw(b))
		tern_winmax_update(&b->bw, BW_ROUNDS, rs->round_count, rs->delivery_rate);
}

/* v2's IsInflightTooHigh, above the base loss rate: a probe packet saw more
 * than the threshold of what was in flight at its send lost while it flew. */
static void check_probe_loss(struct tern_cc *cc, const struct tern_rate_sample *rs, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;
	u128 limit = (u128)rs->tx_in_flight * (b->base_loss_ppm + LOSS_THRESH_PPM);

	if (b->mode != BBR_PROBE_BW || !from_probe(b, rs) || rs->lost < 2 * cc->mss ||
	    rs->tx_in_flight < MIN_JUDGED_PKTS * cc->mss || (u128)rs->lost * 1000000 <= limit)
		return;
	b->hi_gain = TERN_MAX(to_gain(cc, rs->tx_in_flight), BETA);
	b->hi_step = HI_STEP_MIN;
	b->probe_too_high = true;
	b->probe_start = TERN_TIME_NEVER; /* react once per probe */
	if (b->cycle_idx == 0)
		set_cycle_phase(cc, 1, now);
}

static bool phase_done(struct tern_cc *cc, const struct tern_rate_sample *rs, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;
	bool full = now - b->cycle_stamp > b->min_rtt;

	if (b->pacing_gain == UNIT)
		return full;
	if (b->pacing_gain > UNIT)
		return full &&
		       (rs->newly_lost ||
		        rs->prior_in_flight >= TERN_MIN(bdp(cc, b->pacing_gain), bound(cc)));
	return full || rs->prior_in_flight <= bdp(cc, UNIT);
}

static void update_cycle(struct tern_cc *cc, const struct tern_rate_sample *rs, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;

	if (b->mode == BBR_PROBE_BW && b->min_rtt != TERN_TIME_NEVER && phase_done(cc, rs, now))
		set_cycle_phase(cc, (b->cycle_idx + 1u) % CYCLE_LEN, now);
}

/* Startup ends when three rounds pass without 25% more bandwidth. */
static void check_full_bw(struct tern_cc *cc, const struct tern_rate_sample *rs)
{
	struct tern_bbr *b = &cc->u.bbr;

	if (b->filled_pipe || !rs->round_start || rs->is_app_limited)
		return;
	if ((u128)max_bw(b) * UNIT >= (u128)b->full_bw * FULL_BW_GROWTH) {
		b->full_bw = max_bw(b);
		b->full_bw_count = 0;
		return;
	}
	if (++b->full_bw_count >= FULL_BW_ROUNDS)
		b->filled_pipe = true;
}

static void check_drain(struct tern_cc *cc, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;

	if (b->mode == BBR_STARTUP && b->filled_pipe) {
		b->mode = BBR_DRAIN;
		b->pacing_gain = DRAIN_GAIN;
		b->cwnd_gain = HIGH_GAIN;
	}
	if (b->mode == BBR_DRAIN && cc->bytes_in_flight <= bdp(cc, UNIT))
		enter_probe_bw(cc, now);
}

static void handle_probe_rtt(struct tern_cc *cc, const struct tern_rate_sample *rs, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;

	/* The low-rate samples of ProbeRTT say nothing of the bottleneck: mark
	 * them app-limited so the bandwidth filter keeps its maximum (v1). */
	tern_delivery_on_app_limited(&cc->delivery, cc->bytes_in_flight);
	if (!b->probe_rtt_done) {
		if (cc->bytes_in_flight <= min_cwnd(cc)) {
			b->probe_rtt_done = now + PROBE_RTT_TIME;
			b->probe_rtt_round_done = false;
		}
		return;
	}
	if (rs->round_start)
		b->probe_rtt_round_done = true;
	if (!b->probe_rtt_round_done || now < b->probe_rtt_done)
		return;
	b->probe_rtt_min_stamp = now;
	cc->cwnd = TERN_MAX(cc->cwnd, b->prior_cwnd);
	if (b->filled_pipe)
		enter_probe_bw(cc, now);
	else
		enter_startup(b);
}

/* v2's two filters: probe_rtt_min over 5 s decides when to run ProbeRTT;
 * min_rtt, over 10 s, is what the BDP uses and takes probe_rtt_min whenever
 * that is lower or min_rtt has expired. */
static void update_min_rtt(struct tern_cc *cc, const struct tern_rate_sample *rs, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;
	bool probe_expired = now > b->probe_rtt_min_stamp + PROBE_RTT_WIN;

	if (rs->rtt && (rs->rtt <= b->probe_rtt_min || probe_expired)) {
		b->probe_rtt_min = rs->rtt;
		b->probe_rtt_min_stamp = now;
	}
	if (b->probe_rtt_min <= b->min_rtt || now > b->min_rtt_stamp + MIN_RTT_WIN) {
		b->min_rtt = b->probe_rtt_min;
		b->min_rtt_stamp = b->probe_rtt_min_stamp;
	}
	if (probe_expired && b->mode != BBR_PROBE_RTT)
		enter_probe_rtt(cc, now);
	if (b->mode == BBR_PROBE_RTT)
		handle_probe_rtt(cc, rs, now);
}

/* ---- control ---- */

static void set_pacing_rate(struct tern_cc *cc, const struct tern_rtt *rtt)
{
	struct tern_bbr *b = &cc->u.bbr;
	uint64_t rate;

	if (!b->has_seen_rtt && rtt->has_sample && rtt->smoothed) {
		b->has_seen_rtt = true;
		b->pacing_rate =
		        sat64((u128)cc->cwnd * HIGH_GAIN * TERN_SEC / ((u128)rtt->smoothed * UNIT));
	}
	if (max_bw(b) == 0)
		return;
	rate = sat64((u128)max_bw(b) * b->pacing_gain * 1000 / ((u128)UNIT * PACING_MARGIN));
	if (b->filled_pipe || rate > b->pacing_rate)
		b->pacing_rate = TERN_MAX(rate, 1);
}

static void set_cwnd(struct tern_cc *cc, const struct tern_rate_sample *rs)
{
	struct tern_bbr *b = &cc->u.bbr;
	uint64_t acked = rs->newly_acked;
	uint64_t target = bdp(cc, b->cwnd_gain) + QUANTA_PKTS * cc->mss;

	if (b->loss_recovery && acked) {
		b->loss_recovery = false;
		cc->cwnd = TERN_MAX(cc->cwnd, b->prior_cwnd);
	}
	if (b->filled_pipe)
		cc->cwnd = TERN_MIN(cc->cwnd + acked, target);
	else if (cc->cwnd < target || cc->delivery.delivered < TERN_CC_INITIAL_WINDOW(cc->mss))
		cc->cwnd += acked;
	cc->cwnd = TERN_MIN(TERN_MAX(cc->cwnd, min_cwnd(cc)), bound(cc));
	if (b->mode == BBR_PROBE_RTT)
		cc->cwnd = TERN_MIN(cc->cwnd, min_cwnd(cc));
}

static void bbr_on_rate_sample(struct tern_cc *cc, const struct tern_rate_sample *rs,
                               const struct tern_rtt *rtt, tern_time now)
{
	account_round(cc, rs);
	update_bw(cc, rs);
	check_probe_loss(cc, rs, now);
	update_cycle(cc, rs, now);
	check_full_bw(cc, rs);
	check_drain(cc, now);
	update_min_rtt(cc, rs, now);
	set_pacing_rate(cc, rtt);
	set_cwnd(cc, rs);
}

/* ---- the ops the other controllers use ---- */

static void bbr_on_ack(struct tern_cc *cc, size_t bytes, tern_time sent_time,
                       const struct tern_rtt *rtt, tern_time now)
{
	/* everything happens once per ACK in bbr_on_rate_sample */
	(void)cc, (void)bytes, (void)sent_time, (void)rtt, (void)now;
}

/* Loss does not cut cwnd: it reaches the model through the rate samples.
 * The recovery period is still kept, for congestion_events. */
static void bbr_on_loss(struct tern_cc *cc, tern_time sent_time, tern_time now)
{
	tern_cc_enter_recovery(cc, sent_time, now);
}

static void bbr_on_persistent_congestion(struct tern_cc *cc, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;

	(void)now;
	save_cwnd(cc);
	b->loss_recovery = true;
	cc->cwnd = min_cwnd(cc);
	cc->recovery_start = TERN_TIME_NEVER;
}

static uint64_t bbr_pacing_rate(const struct tern_cc *cc, const struct tern_rtt *rtt)
{
	(void)rtt;
	return cc->u.bbr.pacing_rate;
}

static uint64_t bbr_bandwidth(const struct tern_cc *cc)
{
	return max_bw(&cc->u.bbr);
}

static const char *bbr_state_name(const struct tern_cc *cc)
{
	return mode_names[cc->u.bbr.mode];
}

const struct tern_cc_ops tern_cc_bbr = {
        .name = "bbr",
        .init = bbr_init,
        .on_ack = bbr_on_ack,
        .on_loss = bbr_on_loss,
        .on_persistent_congestion = bbr_on_persistent_congestion,
        .on_rate_sample = bbr_on_rate_sample,
        .pacing_rate = bbr_pacing_rate,
        .bandwidth = bbr_bandwidth,
        .state_name = bbr_state_name,
};
