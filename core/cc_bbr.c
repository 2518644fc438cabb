/* BBR: model-based congestion control after draft-ietf-ccwg-bbr (BBRv3) and
 * Linux's tcp_bbr v2/v3, driven by delivery-rate samples (delivery.h), with
 * an AIMD layer on its loss bounds so that flows sharing a queue converge.
 *
 * The model: max_bw, the largest delivery rate of the last two probe cycles;
 * min_rtt, a 10 s min filter; bw = min(max_bw, bw_lo). Control: pacing =
 * pacing_gain · bw, cwnd = cwnd_gain · bw · min_rtt + 3 packets + extra_acked
 * (the ACK aggregation of the last 10 rounds, once the pipe is full), never
 * below three send quanta (1 ms of pacing, at most a 64 KiB GSO train: on a
 * 25 us loopback RTT the BDP is a few packets and batching hosts would
 * otherwise be held to one train per round trip), capped by inflight_hi
 * (long term) and inflight_lo (short term).
 *
 * States: Startup (gain 2.89) until bandwidth grows less than 25% in three
 * rounds or loss is excessive; Drain (pacing 1/2.89) to a BDP in flight;
 * ProbeBW; ProbeRTT. ProbeBW cycles (v3) through
 * - DOWN (pacing 0.9) until inflight is down to the BDP and inflight_hi's
 *   headroom, or three min_rtts have passed;
 * - CRUISE (pacing 1, cwnd at most 85% of inflight_hi but not below the BDP:
 *   headroom for other flows) for 2-3 s, randomised, or fewer rounds when
 *   the BDP is small (v3's Reno coexistence: a loss-based flow needs about a
 *   BDP's worth of rounds to refill, so probing no sooner lets it keep its
 *   share);
 * - REFILL (pacing 1, inflight_lo forgotten) for a round;
 * - UP (pacing 1.25, cwnd 2.25 BDP, inflight_hi growing 1, 2, 4, ...
 *   packets a round) until it has built a queue of min_rtt / 4 (v3 stops at
 *   1.25 BDP in flight, which a flow in a queue others keep reaches at once,
 *   so its probe never grows it), or loss says inflight is too high.
 * ProbeRTT: when the 5 s filter of RTT samples expires, cwnd 0.5 BDP for
 * 200 ms and a round. Flows sharing a queue do this at once, which drains it
 * and gives late joiners a true min_rtt.
 *
 * Loss and queue, and why flows converge. v3 alone keeps whatever split two
 * flows reach: its inflight_hi is reset to the inflight where a probe saw
 * loss, so a flow that holds 80% of a full queue confirms its 80% at every
 * probe. Here inflight_hi follows AIMD:
 * - multiplicative decrease: a congestion episode sets inflight_hi to 0.7 ·
 *   inflight (not below the part of it that filled the pipe rather than the
 *   queue, so a lone flow in a shallow buffer keeps its BDP). An episode is
 *   a probe packet that saw more than 2% of its flight lost (v2), or any
 *   round with a queue that lost more than random loss explains (v2's
 *   loss_in_round), or a round whose RTT reached 7/8 of the queueing delay
 *   at which loss last said the buffer overflowed (full_qdelay). The last
 *   is the one signal every flow in the queue sees at once: which flows'
 *   packets a full tail-drop queue drops is chance (an episode drops ten
 *   packets among four flows), and AIMD converges only if all of them cut
 *   together. It fires once per filling of the queue: it re-arms only
 *   after the queue fell below half of full_qdelay, and a loss in the same
 *   filling does not cut inflight_hi again (so against CUBIC the flow cuts
 *   once per CUBIC cycle, as CUBIC does). A flow that saw the queue pass
 *   3/4 of full_qdelay and then collapse below half without having cut
 *   missed an episode the others reacted to (its RTTs never reached 7/8,
 *   its packets were not the ones dropped) and cuts then. full_qdelay is learnt from loss
 *   rounds (a max that decays 1/8 per episode) and grows to any deeper
 *   queue seen without loss. A flow probing then ends its probe. Loss
 *   rounds also cut bw_lo and inflight_lo to max(what the round delivered,
 *   0.7 · the bound), v2's short-term response, which is also what yields
 *   to CUBIC.
 * - additive increase: every cruising round adds one MSS to inflight_hi
 *   (when cwnd-limited) and inflight_lo, and one MSS per min_rtt to bw_lo
 *   when the round was cwnd-limited or saw no standing queue (a flow paced
 *   at bw_lo into a standing queue may be on a link that just shrank), the
 *   same for every flow, so the room an episode frees is shared out
 *   evenly; and an episode restarts the wait for the next probe. UP grows
 *   inflight_hi by the same packet counts and the same queue (min_rtt / 4)
 *   for every flow, keeps only the inflight that built that queue (not
 *   the round of doubling sent while the news was on its way); a probe
 *   that meets congestion cuts from where it began, and one that sees the
 *   queue drain under it (the others just cut) ends where it began: both
 *   gain nothing, or the flow that probes first takes all the others freed.
 * Any loss counts, not a rate: in a shared tail-drop queue an ACK-clocked
 * flow can lose one packet in a hundred where paced flows lose ten, and
 * both must yield. For the same reason cwnd-limited flows pace at cwnd/srtt
 * while cruising (see set_pacing_rate).
 * Random loss: loss counts only beyond the path's base loss rate (the
 * average loss rate of rounds whose RTT showed no queue: a tail-drop queue
 * cannot drop while empty; Startup's growing rounds seed it) plus three
 * standard deviations of the random loss that rate predicts over two
 * rounds, and only rounds with a queue count at all. A queue is one that
 * stands (queue_sample): one late ACK is a busy host, not a queue.
 * A probe lifts bw_lo to what it delivers (v3 forgets it at REFILL, and
 * would probe a halved link at the old rate for two cycles); cruising
 * rounds that stood in a queue while delivering under 7/8 of bw move bw_lo
 * toward what they delivered, the only sign of a shrunken link with a deep
 * buffer: from the second such round running, at most 15% a round, and a
 * queue means RTTs above min_rtt + max(min_rtt/8, 2 ms, twice the rounds'
 * RTT spread), so a busy host's late ACKs are not taken for one (not a
 * round with app-limited samples either: ProbeRTT's few packets say
 * nothing of the link, and would pin bw_lo low beside a CUBIC flow).
 * Loss never halves cwnd; after persistent congestion cwnd drops to 4
 * packets and returns to its prior value at the next ACK (v1 after an RTO).
 *
 * Units: bytes, bytes per second, µs; gains in 1/1024; loss rates in ppm. */
#include "cc.h"

/* 128-bit intermediates: GCC/Clang extension, marked so -Wpedantic accepts it. */
__extension__ typedef unsigned __int128 u128;

enum { BBR_STARTUP, BBR_DRAIN, BBR_PROBE_BW, BBR_PROBE_RTT };
enum { PHASE_DOWN, PHASE_CRUISE, PHASE_REFILL, PHASE_UP };

#define UNIT 1024
#define HIGH_GAIN 2955 /* 2/ln 2 = 2.885 */
#define DRAIN_GAIN 355 /* ln 2 / 2 */
#define CWND_GAIN 2048
#define UP_PACING_GAIN 1280 /* 1.25 */
#define UP_CWND_GAIN 2304   /* 2.25 */
#define DOWN_GAIN 922       /* 0.9 */
#define HEADROOM 154        /* 0.15 of inflight_hi left free while cruising */
#define PROBE_RTT_GAIN 512  /* ProbeRTT cwnd: 0.5 BDP */
#define FULL_BW_GROWTH 1280 /* 1.25 */
#define FULL_BW_ROUNDS 3
#define MIN_RTT_WIN (10 * TERN_SEC)
#define PROBE_RTT_WIN (5 * TERN_SEC)
#define PROBE_RTT_TIME (200 * TERN_MS)
#define PROBE_WAIT_BASE (2 * TERN_SEC)
#define PROBE_WAIT_RAND TERN_SEC
#define RENO_ROUNDS_MAX 63
#define MIN_CWND_PKTS 4
#define QUANTA_PKTS 3
#define LOSS_THRESH_PPM 20000 /* 2% */
#define FULL_LOSS_EVENTS 8
#define MAX_BASE_LOSS_PPM 250000 /* Startup learns at most 25% of random loss */
#define BETA 717                 /* 0.7: how far a loss bound cuts */
#define MIN_JUDGED_PKTS 50       /* fewer packets cannot tell 2% loss from noise */
#define PACING_MARGIN 1010       /* pace 1% below the estimate */
#define NO_BOUND UINT64_MAX
#define SEND_QUANTUM_US 1000   /* the host sends about 1 ms of pacing at once */
#define SEND_QUANTUM_MAX 65536 /* one GSO train */
#define OFFLOAD_QUANTA 3       /* cwnd never below this many send quanta */
#define EXTRA_ACKED_ROUNDS 5   /* each extra_acked slot: 5 rounds (10 in the filter) */

static const char *const mode_names[] = {"startup", "drain", "probe_bw", "probe_rtt"};

static uint64_t sat64(u128 v)
{
	return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

static uint64_t max_bw(const struct tern_bbr *b)
{
	return TERN_MAX(b->bw_hi[0], b->bw_hi[1]);
}

/* The bandwidth the controls use: max_bw, bounded by bw_lo. */
static uint64_t bw(const struct tern_bbr *b)
{
	return TERN_MIN(max_bw(b), b->bw_lo);
}

static uint64_t min_cwnd(const struct tern_cc *cc)
{
	return MIN_CWND_PKTS * cc->mss;
}

/* gain · rate · min_rtt; the initial window until both are known. */
static uint64_t bdp_of(const struct tern_cc *cc, uint64_t rate, uint32_t gain)
{
	const struct tern_bbr *b = &cc->u.bbr;

	if (b->min_rtt == TERN_TIME_NEVER || rate == 0)
		return TERN_CC_INITIAL_WINDOW(cc->mss);
	return sat64((u128)rate * b->min_rtt * gain / ((u128)TERN_SEC * UNIT));
}

/* What gain · BDP needs in flight: the BDP plus room for 3 packets. */
static uint64_t inflight_of(const struct tern_cc *cc, uint64_t rate, uint32_t gain)
{
	return bdp_of(cc, rate, gain) + QUANTA_PKTS * cc->mss;
}

static uint64_t target_inflight(const struct tern_cc *cc)
{
	return inflight_of(cc, bw(&cc->u.bbr), UNIT);
}

/* inflight_hi less the headroom left to other flows while cruising. */
static uint64_t hi_with_headroom(const struct tern_cc *cc)
{
	const struct tern_bbr *b = &cc->u.bbr;
	uint64_t room;

	if (b->inflight_hi == NO_BOUND)
		return NO_BOUND;
	room = TERN_MAX(b->inflight_hi * HEADROOM / UNIT, cc->mss);
	room = b->inflight_hi > room ? b->inflight_hi - room : 0;
	room = TERN_MIN(TERN_MAX(room, target_inflight(cc)), b->inflight_hi);
	return TERN_MAX(room, min_cwnd(cc));
}

/* A round's largest RTT above this says a queue stood at the bottleneck. */
static tern_time queue_rtt(const struct tern_bbr *b)
{
	tern_time margin = TERN_MAX(b->min_rtt / 8, (tern_time)(2 * TERN_MS));

	/* a host's scheduling, or a radio's, delays ACKs by more than a quiet
	 * path's 2 ms without any queue: what the RTT wanders within a round
	 * is not a queue either */
	return b->min_rtt + TERN_MAX(margin, 2 * b->jitter);
}

static bool probing_bw(const struct tern_bbr *b)
{
	return b->mode == BBR_STARTUP ||
	       (b->mode == BBR_PROBE_BW && (b->phase == PHASE_REFILL || b->phase == PHASE_UP));
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

static void reset_lower_bounds(struct tern_bbr *b)
{
	b->bw_lo = NO_BOUND;
	b->inflight_lo = NO_BOUND;
}

/* ---- init ---- */

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
	b->min_rtt = b->probe_rtt_min = b->round_min_rtt = TERN_TIME_NEVER;
	b->rtt_bucket_min = b->rtt_prev_min = TERN_TIME_NEVER;
	b->min_rtt_stamp = b->probe_rtt_min_stamp = now;
	reset_lower_bounds(b);
	b->inflight_hi = NO_BOUND;
	b->probe_start = b->probe_end = TERN_TIME_NEVER;
	b->rng = (now ^ 0x9e3779b97f4a7c15ull) | 1;
	b->epoch_start = now;
	/* until an RTT is known: 2.89 · initial window per millisecond (v1) */
	b->pacing_rate = sat64((u128)cc->cwnd * HIGH_GAIN * 1000 / UNIT);
}

/* ---- ProbeBW phases ---- */

static void set_phase(struct tern_bbr *b, uint8_t phase, uint32_t pacing_gain, uint32_t cwnd_gain)
{
	b->phase = phase;
	b->pacing_gain = pacing_gain;
	b->cwnd_gain = cwnd_gain;
}

/* The next probe comes 2-3 s after this one ends, or sooner in rounds. */
static void pick_probe_wait(struct tern_bbr *b)
{
	b->rounds_since_probe = (uint32_t)(next_random(b) % 2);
	b->probe_wait = PROBE_WAIT_BASE + (tern_time)(next_random(b) % PROBE_WAIT_RAND);
}

static void start_down(struct tern_cc *cc, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;

	if (b->probe_start != TERN_TIME_NEVER && b->probe_end == TERN_TIME_NEVER)
		b->probe_end = now;
	b->up_cnt = NO_BOUND;
	pick_probe_wait(b);
	b->cycle_stamp = now;
	b->probe_stopping = true;
	b->phase_mark = cc->delivery.delivered;
	set_phase(b, PHASE_DOWN, DOWN_GAIN, CWND_GAIN);
}

static void start_cruise(struct tern_bbr *b)
{
	if (b->inflight_lo != NO_BOUND)
		b->inflight_lo = TERN_MIN(b->inflight_lo, b->inflight_hi);
	set_phase(b, PHASE_CRUISE, UNIT, CWND_GAIN);
}

/* A probe begins: forget the short-term bounds, refill the pipe for a
 * round, and watch what the probe's packets report. */
static void start_refill(struct tern_cc *cc, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;

	b->inflight_lo = NO_BOUND;
	b->up_rounds = 0;
	b->up_acked = 0;
	b->stopped_risky_probe = false;
	b->phase_mark = cc->delivery.delivered;
	b->probe_start = now;
	b->probe_end = TERN_TIME_NEVER;
	b->up_base_rtt = TERN_TIME_NEVER;
	b->probe_base = TERN_MIN(cc->cwnd, b->inflight_hi);
	set_phase(b, PHASE_REFILL, UNIT, CWND_GAIN);
}

/* UP lets inflight_hi grow 2^up_rounds packets this round. */
static void raise_hi_slope(struct tern_cc *cc)
{
	struct tern_bbr *b = &cc->u.bbr;
	uint64_t growth = 1ull << b->up_rounds;

	b->up_rounds = TERN_MIN(b->up_rounds + 1, 30u);
	b->up_cnt = TERN_MAX(cc->cwnd / growth, cc->mss);
}

static void start_up(struct tern_cc *cc, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;

	b->cycle_stamp = now;
	b->up_queue_since = TERN_TIME_NEVER;
	set_phase(b, PHASE_UP, UP_PACING_GAIN, UP_CWND_GAIN);
	raise_hi_slope(cc);
}

static void enter_probe_bw(struct tern_cc *cc, tern_time now)
{
	/* flows created together draw different probe times from here on */
	if (cc->u.bbr.mode == BBR_DRAIN)
		cc->u.bbr.rng ^= (now * 0x9e3779b97f4a7c15ull) | 1;
	cc->u.bbr.mode = BBR_PROBE_BW;
	start_down(cc, now);
}

/* ---- loss and the bounds ---- */

/* The base loss rate: an average (1/8 per round) of the loss rate in rounds
 * with no queue, each moving it at most 2 · threshold / 8 = 0.5% up, so a
 * misjudged round cannot teach the flow to ignore congestion. */
static void update_base_loss(struct tern_bbr *b, uint64_t ppm)
{
	ppm = TERN_MIN(ppm, (uint64_t)b->base_loss_ppm + 2 * LOSS_THRESH_PPM);
	b->base_loss_ppm = (uint32_t)(((uint64_t)b->base_loss_ppm * 7 + ppm) / 8);
}

static uint64_t isqrt(uint64_t v)
{
	uint64_t r = 0;

	for (uint64_t bit = 1ull << 62; bit; bit >>= 2) {
		if (v >= r + bit) {
			v -= r + bit;
			r = (r >> 1) + bit;
		} else {
			r >>= 1;
		}
	}
	return r;
}

/* Whether lost bytes out of total are congestion: at least min_pkts
 * packets, more than the base rate plus thresh_ppm, and more than `sigmas`
 * standard deviations above the random loss the base rate predicts
 * (binomial, in packets), so the noise of 10% random loss over 150 packets
 * (2.4%) does not read as congestion. On a clean path (base 0) this is
 * v2's rule: any loss above thresh_ppm. */
static bool excess_loss(const struct tern_cc *cc, uint64_t lost, uint64_t total,
                        uint32_t thresh_ppm, unsigned sigmas, unsigned min_pkts)
{
	const struct tern_bbr *b = &cc->u.bbr;
	uint64_t p = b->base_loss_ppm;
	/* the variance of the random losses, in packets² · 10^6 */
	uint64_t var = sat64((u128)(total / cc->mss) * p * (1000000 - p) / 1000000);
	uint64_t margin = sigmas * isqrt(var) * cc->mss / 1000; /* σ in bytes */
	u128 limit = (u128)total * (p + thresh_ppm) / 1000000 + margin;

	return lost >= min_pkts * cc->mss && (u128)lost > limit;
}

/* inflight_hi = 0.7 · inflight (the multiplicative decrease), but not below
 * the part of inflight that filled the pipe rather than the queue
 * (inflight · min_rtt / rtt): with a shallow buffer a lone flow keeps its
 * BDP, while flows sharing a full queue all take the 0.7. */
static void cut_hi(struct tern_cc *cc, uint64_t inflight, tern_time rtt, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;
	uint64_t pipe = inflight;

	if (rtt > b->min_rtt)
		pipe = sat64((u128)inflight * b->min_rtt / rtt);
	b->inflight_hi = TERN_MAX(inflight * BETA / UNIT, pipe + QUANTA_PKTS * cc->mss);
	b->hi_stamp = now;
	/* the next probe waits a full cycle from here: probing into the room
	 * this episode freed would hand it to whoever probes first, while
	 * cruising every flow regains it at the same additive rate */
	b->cycle_stamp = now;
	pick_probe_wait(b);
}

/* A congested round outside probes: v2's short-term response (bw_lo and
 * inflight_lo to max(the round's, 0.7 · the bound)) and, once per episode,
 * the multiplicative decrease of inflight_hi. */
static void adapt_lower_bounds(struct tern_cc *cc, bool fresh, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;

	if (b->bw_lo == NO_BOUND)
		b->bw_lo = max_bw(b);
	if (b->inflight_lo == NO_BOUND)
		b->inflight_lo = cc->cwnd;
	b->bw_lo = TERN_MAX(b->bw_latest, b->bw_lo * BETA / UNIT);
	b->inflight_lo = TERN_MAX(b->inflight_latest, b->inflight_lo * BETA / UNIT);
	/* once per congestion episode: the round's losses were of packets
	 * sent after the last cut */
	if (fresh && b->prev_round_stamp > b->hi_stamp)
		cut_hi(cc, TERN_MIN(b->inflight_hi, cc->cwnd),
		       TERN_MAX(b->round_max_rtt, b->prev_round_max_rtt), now);
}

/* A probe ran into a congested round: like a probe packet that saw too
 * much loss, it ends the probe with the multiplicative decrease, so a flow
 * probing while the others back off does not take all they freed. */
static void probe_congested(struct tern_cc *cc, tern_time rtt, bool fresh, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;

	if (fresh && b->prev_round_stamp > b->hi_stamp) {
		cut_hi(cc, b->probe_base, TERN_MAX(rtt, b->up_base_rtt), now);
	}
	b->prev_probe_too_high = true;
	b->probe_start = TERN_TIME_NEVER;
	start_down(cc, now);
}

/* Startup, while its delivery rate still grows and no queue stands, is not
 * overflowing a buffer: what it loses is the path's random loss. The ratio
 * over all such rounds (not an average of their rates: the first rounds
 * are a few packets each) is the base loss rate, at most 25%, so a path
 * that drops 5% at random does not end Startup at half its bandwidth and
 * then count its first rounds' loss as congestion. */
static void learn_startup_loss(struct tern_cc *cc, uint64_t total)
{
	struct tern_bbr *b = &cc->u.bbr;

	b->startup_lost += b->round_lost;
	b->startup_total += total;
	if (b->startup_total >= MIN_JUDGED_PKTS * cc->mss)
		b->base_loss_ppm =
		        (uint32_t)TERN_MIN((u128)b->startup_lost * 1000000 / b->startup_total,
		                           (u128)MAX_BASE_LOSS_PPM);
}

/* Startup ends on a round with excessive loss, a queue and 8 loss events. */
static void startup_loss(struct tern_cc *cc, uint64_t ppm)
{
	struct tern_bbr *b = &cc->u.bbr;

	if (b->loss_events < FULL_LOSS_EVENTS || b->round_lost < 2 * cc->mss ||
	    ppm <= b->base_loss_ppm + LOSS_THRESH_PPM)
		return;
	b->filled_pipe = true;
	b->inflight_hi = TERN_MAX(inflight_of(cc, max_bw(b), UNIT), b->inflight_latest);
}

/* v2's loss_in_round: a round outside probes lost a packet more than random
 * loss explains (three standard deviations above the base rate). Not a
 * rate: where flows share a tail-drop queue, an ACK-clocked flow can lose
 * one packet in a hundred while paced ones lose ten, and both must yield.
 * With random loss (a base rate) the round is judged with the one before
 * it: on a real 1%-loss path one round in a hundred passes three standard
 * deviations by chance (the tail is heavier than a normal one), and each
 * such cut took seconds of additive increase to undo, while an overflowing
 * buffer drops beyond the base rate round after round. */
static bool round_congested(const struct tern_cc *cc, uint64_t total)
{
	const struct tern_bbr *b = &cc->u.bbr;

	if (!b->base_loss_ppm)
		return excess_loss(cc, b->round_lost, total, 0, 3, 1);
	return excess_loss(cc, b->round_lost + b->prev_round_lost, total + b->prev_round_total, 0,
	                   3, 1);
}

/* Cruising, rounds whose every RTT showed a queue while the flow delivered
 * less than 7/8 of its bandwidth estimate: the bottleneck gives it less
 * than the estimate (it shrank, or others joined) and no loss may come to
 * say so (a deep buffer). From the second such round running, bw_lo steps
 * toward what was delivered, at most 15% a round, as v1's 10-round filter
 * would have; the next probe lifts it again if there is room. */
static void standing_queue(struct tern_cc *cc)
{
	struct tern_bbr *b = &cc->u.bbr;

	b->round_standing = b->round_min_rtt != TERN_TIME_NEVER && b->round_min_rtt > queue_rtt(b);
	if (b->mode != BBR_PROBE_BW || b->phase != PHASE_CRUISE || !b->round_standing ||
	    b->round_app_limited || !b->round_bw || b->round_bw >= bw(b) / 8 * 7) {
		b->slow_rounds = 0;
		return;
	}
	/* two rounds running, and at most 15% a round: one late round on a
	 * busy host is not a shrunken link, and must not pin the rate */
	if (++b->slow_rounds >= 2)
		b->bw_lo = TERN_MAX(b->round_bw, bw(b) / 20 * 17);
}

/* Remembers the queueing delay at which loss said the queue overflowed:
 * the depth of the bottleneck's buffer, the same for every flow in it. */
static void learn_full_queue(struct tern_bbr *b, tern_time rtt)
{
	tern_time q = rtt - b->min_rtt;

	b->full_qdelay = TERN_MAX(q, b->full_qdelay - b->full_qdelay / 8);
	b->full_armed = false;
}

/* The round's RTT reached 7/8 of the delay at which the queue overflowed
 * before: the queue is full again, and whether this flow's packets were
 * the ones dropped is chance. Every flow in the queue sees this delay, so
 * all of them back off together (AIMD converges only if they do). */
static bool queue_full(const struct tern_bbr *b)
{
	return b->full_qdelay && b->round_max_rtt > b->min_rtt + b->full_qdelay / 8 * 7 &&
	       b->full_armed;
}

/* Evaluates the round that just ended: its loss rate, whether a queue
 * stood, the base (non-congestive) loss rate, and the short-term bounds. */
static void end_round(struct tern_cc *cc, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;
	uint64_t total = b->round_delivered + b->round_lost;
	uint64_t ppm = total ? sat64((u128)b->round_lost * 1000000 / total) : 0;
	/* losses surface a round after their packets met the queue: look at both */
	tern_time rtt = TERN_MAX(b->round_max_rtt, b->prev_round_max_rtt);
	bool queued = b->min_rtt != TERN_TIME_NEVER && rtt > queue_rtt(b);

	b->round_loss_ppm = (uint32_t)ppm;
	if (b->round_min_rtt != TERN_TIME_NEVER && b->round_max_rtt >= b->round_min_rtt)
		b->jitter = (7 * b->jitter + (b->round_max_rtt - b->round_min_rtt)) / 8;
	standing_queue(cc);
	b->bw_latest = b->round_bw;
	b->inflight_latest = b->round_inflight;
	if (!queued && !b->round_has_probe && b->mode == BBR_PROBE_BW && total >= 8 * cc->mss)
		update_base_loss(b, ppm);
	if (!queued && b->mode == BBR_STARTUP && !b->full_bw_count)
		learn_startup_loss(cc, total);
	if (queued && b->mode == BBR_STARTUP && !b->filled_pipe)
		startup_loss(cc, ppm);
	else if (queued && b->mode == BBR_PROBE_BW && round_congested(cc, total)) {
		bool fresh = b->full_armed || !b->full_qdelay;

		total = 0; /* this round's loss has had its answer */
		b->round_lost = 0;

		learn_full_queue(b, rtt);
		if (!probing_bw(b))
			adapt_lower_bounds(cc, fresh, now);
		else
			probe_congested(cc, rtt, fresh, now);
	} else if (queued && b->mode == BBR_PROBE_BW && queue_full(b)) {
		b->full_armed = false;
		if (!probing_bw(b)) {
			if (b->prev_round_stamp > b->hi_stamp)
				cut_hi(cc, TERN_MIN(b->inflight_hi, cc->cwnd), rtt, now);
		} else {
			probe_congested(cc, rtt, true, now);
		}
	} else if (b->mode == BBR_PROBE_BW && !probing_bw(b) && b->full_armed && b->full_high &&
	           b->round_max_rtt < b->min_rtt + b->full_qdelay / 2) {
		/* the queue was high and collapsed: the others cut, this flow
		 * missed the episode; it cuts now */
		b->full_high = false;
		if (b->prev_round_stamp > b->hi_stamp)
			cut_hi(cc, TERN_MIN(b->inflight_hi, cc->cwnd), rtt, now);
	}
	/* high: cruising, in a queue others keep (not one this flow's probe
	 * built, which its DOWN then drains: no episode to catch up on) */
	if (!b->full_armed)
		b->full_high = false;
	else if (b->round_max_rtt > b->min_rtt + b->full_qdelay / 4 * 3 &&
	         b->phase == PHASE_CRUISE && !b->round_has_probe)
		b->full_high = true;
	if (b->round_max_rtt < b->min_rtt + b->full_qdelay / 2)
		b->full_armed = true;
	/* a queue that deep stood without overflowing: the buffer is deeper */
	if (b->full_qdelay && b->round_max_rtt > b->min_rtt + b->full_qdelay)
		b->full_qdelay = b->round_max_rtt - b->min_rtt;
	b->prev_round_lost = b->round_lost;
	b->prev_round_total = total;
	b->round_delivered = b->round_lost = b->round_bw = b->round_inflight = 0;
	b->prev_round_max_rtt = b->round_max_rtt;
	b->round_max_rtt = 0;
	b->round_min_rtt = TERN_TIME_NEVER;
	b->prev_round_stamp = b->round_stamp;
	b->round_stamp = now;
	b->loss_events = 0;
	b->round_has_probe = false;
	b->round_app_limited = false;
	b->rounds_since_probe++;
}

static bool from_probe(const struct tern_bbr *b, const struct tern_rate_sample *rs)
{
	return b->probe_start != TERN_TIME_NEVER && rs->sent_time >= b->probe_start &&
	       rs->sent_time < b->probe_end;
}

/* The RTT a queue explains: the lowest sample of the last min_rtt / 4 to
 * min_rtt / 2 (two buckets of min_rtt / 4). A queue raises every sample
 * for as long as it stands; a host that held some ACKs back (a receiver
 * descheduled, a busy relay) raises only the first of the burst that
 * arrives when it resumes, the packet sent last in it having waited
 * little. Rounds judge their queue by the highest of these, not by one
 * sample: on a real 10 ms path, spikes of 3-7 ms several times a second
 * otherwise read as a full buffer, and random loss as congestion. */
static tern_time queue_sample(struct tern_bbr *b, tern_time rtt, tern_time now)
{
	tern_time span = b->min_rtt == TERN_TIME_NEVER ? 0 : b->min_rtt / 4;

	if (now - b->rtt_bucket_start >= span || b->rtt_bucket_min == TERN_TIME_NEVER) {
		b->rtt_prev_min = b->rtt_bucket_min;
		b->rtt_bucket_min = rtt;
		b->rtt_bucket_start = now;
	} else {
		b->rtt_bucket_min = TERN_MIN(b->rtt_bucket_min, rtt);
	}
	return TERN_MIN(b->rtt_prev_min, b->rtt_bucket_min);
}

static void account_round(struct tern_cc *cc, const struct tern_rate_sample *rs, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;

	if (rs->round_start)
		end_round(cc, now);
	b->round_delivered += rs->newly_acked;
	b->round_lost += rs->newly_lost;
	b->round_bw = TERN_MAX(b->round_bw, rs->delivery_rate);
	b->round_inflight = TERN_MAX(b->round_inflight, rs->delivered);
	b->loss_events += rs->newly_lost > 0;
	if (rs->rtt) {
		b->round_max_rtt = TERN_MAX(b->round_max_rtt, queue_sample(b, rs->rtt, now));
		b->round_min_rtt = TERN_MIN(b->round_min_rtt, rs->rtt);
	}
	b->round_has_probe |= from_probe(b, rs);
	b->round_app_limited |= rs->is_app_limited;
}

static void update_bw(struct tern_cc *cc, const struct tern_rate_sample *rs)
{
	struct tern_bbr *b = &cc->u.bbr;

	if (rs->delivery_rate == 0)
		return;
	if (!rs->is_app_limited || rs->delivery_rate >= max_bw(b))
		b->bw_hi[1] = TERN_MAX(b->bw_hi[1], rs->delivery_rate);
	/* a probe lifts bw_lo to what it delivers, until it is no bound */
	if (b->bw_lo != NO_BOUND && probing_bw(b) && b->mode == BBR_PROBE_BW) {
		b->bw_lo = TERN_MAX(b->bw_lo, rs->delivery_rate);
		if (b->bw_lo >= max_bw(b))
			b->bw_lo = NO_BOUND;
	}
}

/* v2's IsInflightTooHigh, above the base loss rate: the sampled packet saw
 * more than the threshold of what was in flight at its send lost. */
static bool inflight_too_high(const struct tern_cc *cc, const struct tern_rate_sample *rs)
{
	return rs->tx_in_flight >= MIN_JUDGED_PKTS * cc->mss &&
	       excess_loss(cc, rs->lost, rs->tx_in_flight, LOSS_THRESH_PPM, 2, 2);
}

static void handle_too_high(struct tern_cc *cc, const struct tern_rate_sample *rs, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;

	b->prev_probe_too_high = true;
	b->probe_start = TERN_TIME_NEVER; /* react once per probe */
	if (!rs->is_app_limited)
		cut_hi(cc, TERN_MIN(rs->tx_in_flight, b->probe_base), rs->rtt, now);
	if (b->mode == BBR_PROBE_BW && b->phase == PHASE_UP)
		start_down(cc, now);
}

/* UP, while cwnd-limited at inflight_hi: one MSS per up_cnt bytes acked. */
static void probe_hi_upward(struct tern_cc *cc, const struct tern_rate_sample *rs)
{
	struct tern_bbr *b = &cc->u.bbr;
	bool cwnd_limited = rs->prior_in_flight + cc->mss >= cc->cwnd;

	if (!cwnd_limited || cc->cwnd < b->inflight_hi) {
		b->up_acked = 0;
		return;
	}
	b->up_acked += rs->newly_acked;
	if (b->up_acked >= b->up_cnt) {
		uint64_t delta = b->up_acked / b->up_cnt;
		b->up_acked -= delta * b->up_cnt;
		b->inflight_hi += delta * cc->mss;
	}
	if (rs->round_start)
		raise_hi_slope(cc);
}

/* CRUISE: the additive increase, once a round, the same for every flow:
 * inflight_hi one MSS (if cwnd limited the flow in that round), inflight_lo
 * one MSS, bw_lo one MSS per min_rtt. Without it the bounds only fall
 * between probes, and the room a congestion episode frees goes to the flow
 * that probes first (a 4-flow split of 1.5/0.8/0.9/0.8 of fair). up_acked
 * here only remembers whether the round was cwnd-limited. */
static void cruise_upward(struct tern_cc *cc, const struct tern_rate_sample *rs)
{
	struct tern_bbr *b = &cc->u.bbr;
	bool cwnd_limited = rs->prior_in_flight + cc->mss >= cc->cwnd, limited;

	b->up_acked |= cwnd_limited;
	if (!rs->round_start || rs->is_app_limited)
		return;
	limited = b->up_acked;
	b->up_acked = 0;
	if (b->inflight_hi != NO_BOUND && limited)
		b->inflight_hi += cc->mss;
	if (b->inflight_lo != NO_BOUND)
		b->inflight_lo += cc->mss;
	if (b->bw_lo != NO_BOUND && (!b->round_standing || limited)) {
		b->bw_lo += cc->mss * TERN_SEC / b->min_rtt;
		if (b->bw_lo >= max_bw(b))
			b->bw_lo = NO_BOUND;
	}
}

/* The first round after DOWN began: the probe's samples are all in. Time
 * to age the bandwidth filter, and to probe again if the last one stopped
 * at inflight_hi without loss. Returns true when a new phase began. */
static bool end_probe_feedback(struct tern_cc *cc, const struct tern_rate_sample *rs, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;

	if (!b->probe_stopping || rs->prior_delivered < b->phase_mark)
		return false;
	b->probe_stopping = false;
	if (b->mode != BBR_PROBE_BW)
		return false;
	if (!rs->is_app_limited && b->bw_hi[1]) {
		b->bw_hi[0] = b->bw_hi[1];
		b->bw_hi[1] = 0;
	}
	if (b->stopped_risky_probe && !b->prev_probe_too_high) {
		start_refill(cc, now);
		return true;
	}
	return false;
}

/* v2's AdaptUpperBounds. Returns true when it chose the next phase. */
static bool adapt_upper_bounds(struct tern_cc *cc, const struct tern_rate_sample *rs, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;

	if (end_probe_feedback(cc, rs, now))
		return true;
	if (inflight_too_high(cc, rs)) {
		if (from_probe(b, rs)) {
			handle_too_high(cc, rs, now);
			return b->mode == BBR_PROBE_BW;
		}
		return false;
	}
	if (b->inflight_hi == NO_BOUND)
		return false;
	/* what was in flight without excess loss is safe (random loss) */
	if (rs->sent_time > b->hi_stamp)
		b->inflight_hi = TERN_MAX(b->inflight_hi, rs->tx_in_flight);
	if (b->mode == BBR_PROBE_BW && b->phase == PHASE_UP)
		probe_hi_upward(cc, rs);
	if (b->mode == BBR_PROBE_BW && b->phase == PHASE_CRUISE)
		cruise_upward(cc, rs);
	return false;
}

static bool time_to_probe(struct tern_cc *cc, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;
	uint64_t rounds = TERN_MIN(target_inflight(cc) / cc->mss, (uint64_t)RENO_ROUNDS_MAX);

	if (now - b->cycle_stamp < b->probe_wait && b->rounds_since_probe < rounds)
		return false;
	start_refill(cc, now);
	return true;
}

/* DOWN has drained the probe's queue: inflight is down to the BDP and
 * below inflight_hi's headroom, or three min_rtts at 0.9 have passed (a
 * queue that other flows keep, or packets lost but not yet declared, would
 * otherwise hold the flow at 0.9 until the next probe). */
static bool time_to_cruise(const struct tern_cc *cc, uint64_t inflight, tern_time now)
{
	const struct tern_bbr *b = &cc->u.bbr;

	if (now - b->cycle_stamp > 3 * b->min_rtt)
		return true;
	return inflight <= hi_with_headroom(cc) && inflight <= target_inflight(cc);
}

/* UP ends when it has built a queue of a quarter of min_rtt above the RTT
 * REFILL saw: the same for every flow, whatever its share (a lone flow has
 * then 1.25 BDP in flight, v3's rule), so flows that already share a
 * standing queue still probe into it, until loss cuts inflight_hi. The
 * queue must stand: every RTT for a quarter of min_rtt shows it. A host's
 * scheduling delays some ACKs by milliseconds on a path with no queue at
 * all (a receiver descheduled, a burst of them late together), and one such
 * sample ending every probe held a 1 Gbit/s x 10 ms flow at half the link. */
static bool up_done(struct tern_cc *cc, const struct tern_rate_sample *rs, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;

	if (b->prev_probe_too_high && rs->prior_in_flight >= b->inflight_hi) {
		b->stopped_risky_probe = true;
		return true;
	}
	/* the queue drains under the probe: the others just backed off from
	 * a loss episode. What they freed is theirs to regain by the additive
	 * increase; a probe now would take it all, so it ends, gaining nothing */
	if (rs->rtt && rs->rtt + b->min_rtt / 8 < b->up_base_rtt) {
		b->inflight_hi = b->probe_base;
		return true;
	}
	if (rs->rtt && rs->rtt < b->up_base_rtt + b->min_rtt / 4)
		b->up_queue_since = TERN_TIME_NEVER;
	else if (rs->rtt && b->up_queue_since == TERN_TIME_NEVER)
		b->up_queue_since = now;
	if (now - b->cycle_stamp > b->min_rtt && b->up_queue_since != TERN_TIME_NEVER &&
	    now - b->up_queue_since >= b->min_rtt / 4) {
		/* keep what built the queue, not what was sent while the
		 * news was on its way (UP's growth doubles each round) */
		if (!rs->is_app_limited)
			b->inflight_hi =
			        TERN_MAX(TERN_MIN(b->inflight_hi, rs->tx_in_flight), b->probe_base);
		return true;
	}
	return false;
}

static void update_phase(struct tern_cc *cc, const struct tern_rate_sample *rs, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;
	uint64_t inflight = rs->prior_in_flight;

	if (!b->filled_pipe || b->min_rtt == TERN_TIME_NEVER || adapt_upper_bounds(cc, rs, now))
		return;
	if (b->mode != BBR_PROBE_BW)
		return;
	switch (b->phase) {
	case PHASE_DOWN:
		if (!time_to_probe(cc, now) && time_to_cruise(cc, inflight, now))
			start_cruise(b);
		break;
	case PHASE_CRUISE:
		time_to_probe(cc, now);
		break;
	case PHASE_REFILL:
		if (rs->rtt)
			b->up_base_rtt = TERN_MIN(b->up_base_rtt, rs->rtt);
		if (rs->prior_delivered >= b->phase_mark)
			start_up(cc, now);
		break;
	default:
		if (up_done(cc, rs, now)) {
			b->prev_probe_too_high = false;
			start_down(cc, now);
		}
	}
}

/* ---- Startup, Drain, ProbeRTT ---- */

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
	if (b->mode == BBR_DRAIN && cc->bytes_in_flight <= target_inflight(cc))
		enter_probe_bw(cc, now);
}

static uint64_t probe_rtt_cwnd(const struct tern_cc *cc)
{
	return TERN_MAX(bdp_of(cc, bw(&cc->u.bbr), PROBE_RTT_GAIN), min_cwnd(cc));
}

static void enter_probe_rtt(struct tern_cc *cc, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;

	if (b->probe_start != TERN_TIME_NEVER && b->probe_end == TERN_TIME_NEVER)
		b->probe_end = now;
	save_cwnd(cc);
	b->mode = BBR_PROBE_RTT;
	b->pacing_gain = UNIT;
	b->cwnd_gain = UNIT;
	b->probe_rtt_done = 0;
}

static void exit_probe_rtt(struct tern_cc *cc, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;

	b->probe_rtt_min_stamp = now;
	reset_lower_bounds(b);
	cc->cwnd = TERN_MAX(cc->cwnd, b->prior_cwnd);
	if (!b->filled_pipe) {
		enter_startup(b);
		return;
	}
	enter_probe_bw(cc, now);
	start_cruise(b);
}

static void handle_probe_rtt(struct tern_cc *cc, const struct tern_rate_sample *rs, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;

	/* The low-rate samples of ProbeRTT say nothing of the bottleneck: mark
	 * them app-limited so the bandwidth filter keeps its maximum (v1). */
	tern_delivery_on_app_limited(&cc->delivery, cc->bytes_in_flight);
	if (!b->probe_rtt_done) {
		if (cc->bytes_in_flight <= probe_rtt_cwnd(cc)) {
			b->probe_rtt_done = now + PROBE_RTT_TIME;
			b->probe_rtt_round_done = false;
			b->phase_mark = cc->delivery.delivered;
		}
		return;
	}
	if (rs->prior_delivered >= b->phase_mark)
		b->probe_rtt_round_done = true;
	if (b->probe_rtt_round_done && now >= b->probe_rtt_done)
		exit_probe_rtt(cc, now);
}

/* v2's two filters: probe_rtt_min over 5 s decides when to run ProbeRTT;
 * min_rtt, over 10 s, is what the BDP uses and takes probe_rtt_min whenever
 * that is lower or min_rtt has expired. A sample within 1/32 of
 * probe_rtt_min confirms it (its time, not its value): the flow just saw
 * the path with no queue, which is what ProbeRTT would show it. On a real
 * path RTTs wander by more than the microseconds that separate a sample
 * from the all-time low, so without this every flow spent 200 ms at half a
 * BDP every 5 s (1.2% of a 1 Gbit/s x 10 ms link's goodput) though its
 * DOWN phases had just drained the queue. */
static void update_min_rtt(struct tern_cc *cc, const struct tern_rate_sample *rs, tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;
	bool probe_expired = now > b->probe_rtt_min_stamp + PROBE_RTT_WIN;

	if (rs->rtt && (rs->rtt <= b->probe_rtt_min || probe_expired)) {
		b->probe_rtt_min = rs->rtt;
		b->probe_rtt_min_stamp = now;
	} else if (rs->rtt && rs->rtt <= b->probe_rtt_min + b->probe_rtt_min / 32) {
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
	if (bw(b) == 0)
		return;
	rate = sat64((u128)bw(b) * b->pacing_gain * 1000 / ((u128)UNIT * PACING_MARGIN));
	/* draining or cruising, never faster than cwnd allows: a flow held by
	 * cwnd would otherwise send on the ACK clock, in step with the
	 * bottleneck's departures, and in a tail-drop queue shared with others
	 * lose nothing where paced flows lose a tenth (phase effects); spread
	 * out, its packets meet the queue as often as anyone's */
	if (b->mode == BBR_PROBE_BW && (b->phase == PHASE_CRUISE || b->phase == PHASE_DOWN) &&
	    rtt->smoothed)
		rate = TERN_MIN(rate, sat64((u128)cc->cwnd * TERN_SEC / rtt->smoothed));
	if (b->filled_pipe || rate > b->pacing_rate)
		b->pacing_rate = TERN_MAX(rate, 1);
}

/* The bounds on cwnd: inflight_hi while probing or draining, less the
 * headroom while cruising or in ProbeRTT; inflight_lo always. */
static uint64_t bound(const struct tern_cc *cc)
{
	const struct tern_bbr *b = &cc->u.bbr;
	uint64_t cap = NO_BOUND;

	if (b->mode == BBR_PROBE_BW && b->phase != PHASE_CRUISE)
		cap = b->inflight_hi;
	else if (b->mode == BBR_PROBE_RTT || b->mode == BBR_PROBE_BW)
		cap = hi_with_headroom(cc);
	return TERN_MAX(TERN_MIN(cap, b->inflight_lo), min_cwnd(cc));
}

/* What the sender hands the kernel or NIC at once, and what one receive
 * burst on the peer acknowledges at once: 1 ms at the pacing rate, at least
 * two packets, at most one GSO train. */
static uint64_t send_quantum(const struct tern_cc *cc)
{
	uint64_t q = sat64((u128)cc->u.bbr.pacing_rate * SEND_QUANTUM_US / TERN_SEC);

	return TERN_MIN(TERN_MAX(q, 2 * cc->mss), (uint64_t)SEND_QUANTUM_MAX);
}

/* The draft's extra_acked: hosts and links that batch (GSO trains, GRO,
 * interrupt coalescing, a receiver that reads a burst and ACKs it once)
 * deliver ACKs in clumps; cwnd needs that clump on top of the BDP, or a
 * path with a 25 us RTT is held to a few packets per round trip. */
static void update_ack_aggregation(struct tern_cc *cc, const struct tern_rate_sample *rs,
                                   tern_time now)
{
	struct tern_bbr *b = &cc->u.bbr;
	uint64_t expected, extra;

	if (rs->round_start && ++b->extra_acked_rounds >= EXTRA_ACKED_ROUNDS) {
		b->extra_acked_rounds = 0;
		b->extra_acked_idx ^= 1;
		b->extra_acked[b->extra_acked_idx] = 0;
	}
	expected = sat64((u128)bw(b) * (now - b->epoch_start) / TERN_SEC);
	if (b->epoch_acked <= expected) { /* ACKs arrive no faster than bw: a new epoch */
		b->epoch_acked = 0;
		b->epoch_start = now;
		expected = 0;
	}
	b->epoch_acked += rs->newly_acked;
	extra = TERN_MIN(b->epoch_acked - expected, cc->cwnd);
	b->extra_acked[b->extra_acked_idx] = TERN_MAX(b->extra_acked[b->extra_acked_idx], extra);
}

/* cwnd's target: gain · BDP, plus the ACK aggregation once the pipe is
 * full, never under three send quanta (the draft's offload budget). */
static uint64_t cwnd_target(const struct tern_cc *cc)
{
	const struct tern_bbr *b = &cc->u.bbr;
	uint64_t t = inflight_of(cc, bw(b), b->cwnd_gain);

	if (b->filled_pipe)
		t += TERN_MAX(b->extra_acked[0], b->extra_acked[1]);
	return TERN_MAX(t, OFFLOAD_QUANTA * send_quantum(cc));
}

static void set_cwnd(struct tern_cc *cc, const struct tern_rate_sample *rs)
{
	struct tern_bbr *b = &cc->u.bbr;
	uint64_t acked = rs->newly_acked;
	uint64_t target = cwnd_target(cc);

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
		cc->cwnd = TERN_MIN(cc->cwnd, probe_rtt_cwnd(cc));
}

static void bbr_on_rate_sample(struct tern_cc *cc, const struct tern_rate_sample *rs,
                               const struct tern_rtt *rtt, tern_time now)
{
	account_round(cc, rs, now);
	update_bw(cc, rs);
	check_full_bw(cc, rs);
	check_drain(cc, now);
	update_phase(cc, rs, now);
	update_min_rtt(cc, rs, now);
	update_ack_aggregation(cc, rs, now);
	set_cwnd(cc, rs);
	set_pacing_rate(cc, rtt);
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
	return bw(&cc->u.bbr);
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
