/* Congestion control behind one ops table. Recovery calls the ops; the
 * algorithm owns cwnd and ssthresh. NewReno (RFC 9002 §7) and CUBIC
 * (RFC 9438) each live in their own file; BBR slots in later the same way. */
#ifndef TERN_CC_H
#define TERN_CC_H

#include "common.h"
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
	} u;
};

extern const struct tern_cc_ops tern_cc_newreno;
extern const struct tern_cc_ops tern_cc_cubic;

/* Returns the algorithm named "newreno" or "cubic", or NULL. */
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

#define TERN_CC_INITIAL_WINDOW(mss) (10 * (mss))
#define TERN_CC_MIN_WINDOW(mss) (2 * (mss))

#endif
