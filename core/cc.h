/* Congestion control behind one ops table. Recovery calls the ops; the
 * algorithm owns cwnd and ssthresh. NewReno (RFC 9002 §7), CUBIC (RFC 9438)
 * and BBR (draft-cardwell-iccrg-bbr-congestion-control with the v2/v3 loss
 * bounds; see cc_bbr.c) each live in their own file. Delivery-rate sampling
 * (delivery.h) runs for every algorithm; BBR is driven by its samples. */
#ifndef TERN_CC_H
#define TERN_CC_H

#include "common.h"
#include "delivery.h"
#include "rtt.h"

struct tern_cc;

struct tern_cc_ops {
	const char *name;
	void (*init)(struct tern_cc *cc, tern_time now);
	/* bytes newly acked from a packet sent at sent_time. */
	void (*on_ack)(struct tern_cc *cc, size_t bytes, tern_time sent_time,
	               const struct tern_rtt *rtt, tern_time now);
	/* A congestion event: a loss of a packet sent at sent_time. Algorithms
	 * react once per recovery period (ignore losses of packets sent before
	 * the current period started). */
	void (*on_loss)(struct tern_cc *cc, tern_time sent_time, tern_time now);
	void (*on_persistent_congestion)(struct tern_cc *cc, tern_time now);
	/* Optional. Once per ACK that newly acked something, after on_loss and
	 * the on_ack calls, with that ACK's delivery-rate sample. */
	void (*on_rate_sample)(struct tern_cc *cc, const struct tern_rate_sample *rs,
	                       const struct tern_rtt *rtt, tern_time now);
	/* Optional. The pacing rate in bytes per second, set directly. NULL:
	 * cwnd-based pacing, 5/4 · cwnd / smoothed RTT. */
	uint64_t (*pacing_rate)(const struct tern_cc *cc, const struct tern_rtt *rtt);
	/* Optional. The algorithm's bottleneck-bandwidth estimate (bytes/s) and
	 * state name for tern_cc_get_info. NULL: the delivery-rate max filter,
	 * and "slow_start" / "recovery" / "avoidance". */
	uint64_t (*bandwidth)(const struct tern_cc *cc);
	const char *(*state_name)(const struct tern_cc *cc);
};

/* BBR's model and state machine (cc_bbr.c). Gains are in 1/1024 units; loss
 * rates in parts per million; rates in bytes per second; NO_BOUND (UINT64_MAX)
 * marks a bound that is not set. */
struct tern_bbr {
	uint8_t mode;              /* enum in cc_bbr.c: startup, drain, probe_bw, probe_rtt */
	uint8_t phase;             /* ProbeBW phase: down, cruise, refill, up */
	bool filled_pipe;          /* Startup saw the bandwidth plateau (or excess loss) */
	bool probe_rtt_round_done; /* ProbeRTT has held its low cwnd for a round */
	bool loss_recovery;        /* persistent congestion: cwnd is being restored */
	bool round_app_limited;    /* a sample this round was app-limited (ProbeRTT's are) */
	bool round_has_probe;      /* a sample this round came from a probe packet */
	bool has_seen_rtt;         /* the pacing rate was set from the first RTT */
	bool prev_probe_too_high;  /* the last probe's loss set inflight_hi */
	bool stopped_risky_probe;  /* UP stopped at inflight_hi without loss */
	bool round_standing;       /* every RTT of the last round showed a queue */
	bool full_armed;           /* the queue was below full_qdelay since the last cut */
	bool full_high;            /* armed, the queue passed 3/4 of full_qdelay */
	bool probe_stopping;       /* DOWN began; the end of its first round closes the probe */
	uint32_t pacing_gain, cwnd_gain;
	uint32_t full_bw_count; /* rounds without 25% bandwidth growth */
	uint32_t loss_events;   /* ACKs reporting new loss in this round */
	uint32_t up_rounds;     /* UP: inflight_hi grows 2^up_rounds packets a round */
	uint32_t rounds_since_probe;
	uint64_t full_bw;  /* bandwidth at the last 25% growth */
	uint64_t bw_hi[2]; /* max bandwidth of the previous and current probe cycles */
	uint64_t bw_lo;    /* short-term cap from congestion or a standing queue; probes lift it */
	uint64_t inflight_hi; /* long-term cap: 0.7 · inflight at each congestion episode (AIMD) */
	uint64_t inflight_lo; /* short-term cap from congestion between probes */
	uint64_t bw_latest, inflight_latest; /* of the last completed round */
	uint64_t up_cnt, up_acked; /* UP: inflight_hi grows one MSS per up_cnt bytes acked */
	uint64_t phase_mark;       /* delivered when the phase began: its first round ends when a
	                        packet sent after that is acked */
	tern_time min_rtt, min_rtt_stamp;             /* 10 s filter, for the BDP */
	tern_time probe_rtt_min, probe_rtt_min_stamp; /* 5 s filter, schedules ProbeRTT */
	tern_time cycle_stamp;    /* when the current probe cycle (DOWN) or UP began */
	tern_time probe_wait;     /* how long after DOWN began the next probe starts */
	tern_time probe_rtt_done; /* when ProbeRTT may end; 0 = not yet timed */
	tern_time hi_stamp;       /* when inflight_hi was last cut (one cut per episode) */
	tern_time up_base_rtt;    /* lowest RTT in REFILL: UP measures its queue from it */
	tern_time up_queue_since; /* UP: every RTT since then showed its queue; NEVER: none */
	uint64_t probe_base;      /* min(cwnd, inflight_hi) when the probe began */
	tern_time probe_start, probe_end; /* send-time window of the current bandwidth probe */
	uint64_t pacing_rate;
	uint64_t prior_cwnd; /* cwnd before ProbeRTT or persistent congestion */
	uint64_t round_delivered, round_lost, round_bw, round_inflight; /* this round */
	uint64_t prev_round_lost, prev_round_total; /* the last round's, unless it was congested */
	uint8_t slow_rounds; /* consecutive cruising rounds in a queue under 7/8 of bw */
	tern_time jitter;    /* moving average of a round's RTT spread (max - min) */
	tern_time round_max_rtt, prev_round_max_rtt, round_min_rtt; /* max: of queue_sample's */
	tern_time rtt_bucket_start, rtt_bucket_min, rtt_prev_min;   /* queue_sample's window */
	tern_time round_stamp, prev_round_stamp; /* when this and the last round began */
	tern_time full_qdelay;  /* queueing delay of the last loss episodes: the buffer's depth */
	uint32_t base_loss_ppm; /* loss rate in rounds with no queue: not congestion */
	uint64_t startup_lost, startup_total; /* bytes, Startup's growing rounds with no queue */
	uint32_t round_loss_ppm;              /* loss rate of the last completed round */
	uint64_t rng; /* probe timing; deterministic from init and ProbeBW entry times */
	/* ACK aggregation (the draft's extra_acked): bytes acknowledged beyond
	 * what bw explains since the epoch began, max-filtered over two slots of
	 * EXTRA_ACKED_ROUNDS rounds each */
	uint64_t extra_acked[2], epoch_acked;
	tern_time epoch_start;
	uint8_t extra_acked_idx, extra_acked_rounds;
};

struct tern_cc {
	const struct tern_cc_ops *ops;
	uint64_t mss;
	uint64_t cwnd, ssthresh;
	uint64_t bytes_in_flight; /* maintained by recovery */
	tern_time recovery_start; /* TERN_TIME_NEVER when not in recovery */
	uint64_t congestion_events;
	union {
		struct {
			uint64_t bytes_acked; /* congestion-avoidance accumulator */
		} reno;
		struct {
			double w_max, k, w_est;
			tern_time epoch_start; /* TERN_TIME_NEVER = no epoch */
			uint64_t cwnd_prior;
			uint64_t bytes_acked;
		} cubic;
		struct tern_bbr bbr;
	} u;
	struct tern_delivery delivery; /* maintained by recovery, for every algorithm */
};

extern const struct tern_cc_ops tern_cc_newreno;
extern const struct tern_cc_ops tern_cc_cubic;
extern const struct tern_cc_ops tern_cc_bbr;

/* Returns the algorithm named "newreno", "cubic" or "bbr", or NULL. */
const struct tern_cc_ops *tern_cc_find(const char *name);
/* Sets cc->ops and mss and calls ops->init. */
void tern_cc_init(struct tern_cc *cc, const struct tern_cc_ops *ops, uint64_t mss, tern_time now);

/* Helpers the algorithms share (cc.c). */

/* Returns true when a packet sent at sent_time belongs to the current recovery
 * period (RFC 9002 InCongestionRecovery): its ack must not grow cwnd and its
 * loss must not reduce cwnd again. False when recovery_start is NEVER. */
bool tern_cc_in_recovery(const struct tern_cc *cc, tern_time sent_time);
/* For a loss of a packet sent at sent_time: returns false and changes nothing
 * when it belongs to the current period; otherwise starts a new period at now,
 * counts a congestion event and returns true (the caller then reduces cwnd). */
bool tern_cc_enter_recovery(struct tern_cc *cc, tern_time sent_time, tern_time now);

/* What a controller knows, for applications and tools. */
struct tern_cc_info {
	const char *algorithm;  /* ops->name */
	const char *state;      /* e.g. "startup", "probe_bw"; "avoidance" for NewReno/CUBIC */
	uint64_t bandwidth;     /* bytes/s: BBR's bottleneck estimate, else the max delivery
	                           rate over the last 10 rounds; 0 before any sample */
	tern_time min_rtt;      /* µs; the path's minimum RTT; 0 before the first sample */
	tern_time smoothed_rtt; /* µs; 0 before the first sample */
	uint64_t pacing_rate;   /* bytes/s the controller asks the pacer for */
	uint64_t cwnd, bytes_in_flight;
	uint64_t delivered, lost;    /* bytes since the start */
	uint64_t rounds;             /* round trips counted by delivery */
	uint64_t last_delivery_rate; /* bytes/s of the last valid sample; 0 = none */
	bool app_limited;
};

/* Fills info from the controller and the RTT estimator of one session
 * (s->rec.cc and s->rec.rtt). */
void tern_cc_get_info(const struct tern_cc *cc, const struct tern_rtt *rtt,
                      struct tern_cc_info *info);
/* The pacing rate in bytes/s: ops->pacing_rate when the algorithm has one,
 * else 5/4 · cwnd / srtt (the initial RTT before a sample). Never 0. */
uint64_t tern_cc_pacing_rate(const struct tern_cc *cc, const struct tern_rtt *rtt);
/* The application ran out of data with room in cwnd (see delivery.h). */
void tern_cc_on_app_limited(struct tern_cc *cc);

#define TERN_CC_INITIAL_WINDOW(mss) (10 * (mss))
#define TERN_CC_MIN_WINDOW(mss) (2 * (mss))

#endif
