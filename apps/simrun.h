/* One verified transfer through the simulated network: a sender and a
 * receiver session on two endpoints, impairment per direction, the xfer
 * workload, then a graceful close. Shared by tern-sim and the simulation
 * matrix test, so the numbers the tool prints are the ones the tests check. */
#ifndef TERN_SIMRUN_H
#define TERN_SIMRUN_H

#include "apps/xfer.h"
#include "io/sim.h"

struct simrun_cfg {
	struct tern_sim_path_cfg fwd, rev; /* data direction, ACK direction */
	struct xfer_cfg xfer;
	struct tern_session_cfg sess;
	tern_time limit; /* virtual time allowed for the transfer */
	uint64_t seed;
};

struct simrun_result {
	int rc;             /* 0, or TERN_ETIMEDOUT / TERN_EAGAIN if the transfer stalled */
	tern_time elapsed;  /* virtual µs from start to the last byte delivered */
	double goodput_bps; /* verified stream bytes · 8 / elapsed */
	uint64_t delivered; /* verified stream bytes delivered; on a time-out, elapsed is
	                     * the limit and goodput what arrived within it */
	bool closed_clean;  /* graceful close completed on both sides */
	struct tern_session_stats tx, rx;
	tern_time srtt, min_rtt;
	uint64_t cwnd;
	size_t mem_peak_tx, mem_peak_rx;
	uint64_t errors;
	char error[160];
	unsigned dgrams_sent, dgrams_recv;
	struct tern_sim_path_stats fwd_stats, rev_stats;
	uint64_t steps;
};

/* Returns 0 when the run could be set up (the outcome is in *res), or a
 * TERN_E* with a message in res->error. */
int simrun(const struct simrun_cfg *cfg, struct simrun_result *res);

#endif
