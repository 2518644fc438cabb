/* A deterministic simulated network on a virtual clock. Endpoints have
 * addresses; each directed path between two endpoints has its own impairment
 * profile: a bottleneck rate with a bounded tail-drop queue, one-way delay and
 * jitter, random loss, Gilbert–Elliott burst loss, reordering, duplication,
 * bit corruption, an MTU and blackhole periods. Every random choice comes
 * from one seeded generator, so a run replays exactly from its seed.
 *
 * Time only moves when the driver calls tern_sim_advance. */
#ifndef TERN_SIM_H
#define TERN_SIM_H

#include "core/backend.h"

#define TERN_SIM_MAX_BLACKHOLES 4

struct tern_sim_path_cfg {
	uint64_t rate_bps;   /* bottleneck rate in bit/s; 0 = infinite */
	size_t queue_bytes;  /* bottleneck queue limit (tail drop); 0 = 1 BDP or 64 KiB */
	tern_time delay_us;  /* one-way propagation delay */
	tern_time jitter_us; /* extra delay uniform in [0, jitter] (may reorder) */
	double loss;         /* independent loss probability */
	/* Gilbert–Elliott: two-state chain evaluated per packet */
	double ge_p_good_bad, ge_p_bad_good, ge_loss_good, ge_loss_bad;
	double reorder; /* probability a packet is held back reorder_us */
	tern_time reorder_us;
	double duplicate; /* probability a packet is delivered twice */
	double corrupt;   /* probability one random bit is flipped */
	/* Host stalls: each arrival starts, with probability `stall`, a stall
	 * of stall_us in which the receiving host (or a relay) runs nothing:
	 * what arrives meanwhile is taken in order when it ends. A busy host
	 * that deschedules a process for milliseconds: spikes in some RTTs, no
	 * standing queue, no loss. */
	double stall;
	tern_time stall_us;
	size_t mtu; /* largest payload carried; 0 = TERN_MAX_PACKET */
	struct {
		tern_time start, end; /* virtual-time window in which every packet is lost */
	} blackhole[TERN_SIM_MAX_BLACKHOLES];
};

struct tern_sim_path_stats {
	uint64_t sent, delivered, bytes_delivered;
	uint64_t dropped_queue, dropped_loss, dropped_burst, dropped_mtu, dropped_blackhole;
	uint64_t duplicated, corrupted, reordered, stalls;
	size_t queue_peak;     /* most bytes ever queued at the bottleneck */
	uint64_t dropped_pool; /* no packet record free (the sim's bounded pool is full) */
};

struct tern_sim;

/* Returns NULL on allocation failure. */
struct tern_sim *tern_sim_new(uint64_t seed);
void tern_sim_free(struct tern_sim *sim);
/* Adds an endpoint; returns its index (≥ 0) or TERN_ENOMEM / TERN_EINVAL (duplicate address). */
int tern_sim_add_endpoint(struct tern_sim *sim, const struct tern_addr *addr);
/* Sets the impairment of packets from endpoint `from` to endpoint `to`
 * (default: perfect, no delay). Returns 0 or TERN_EINVAL. */
int tern_sim_set_path(struct tern_sim *sim, int from, int to, const struct tern_sim_path_cfg *cfg);
/* Sends a copy of data from endpoint `from` to the endpoint at `to`. Returns
 * 0 (delivered, queued or dropped by impairment: see stats), TERN_EINVAL
 * (no such endpoint), TERN_ENOMEM. */
int tern_sim_send(struct tern_sim *sim, int from, const struct tern_addr *to, const uint8_t *data,
                  size_t len);
/* Moves up to n packets that have arrived at endpoint ep by now into pkts
 * (data valid until the next tern_sim_recv or tern_sim_advance on this sim). */
unsigned tern_sim_recv(struct tern_sim *sim, int ep, struct tern_pkt *pkts, unsigned n);
tern_time tern_sim_now(const struct tern_sim *sim);
/* Endpoints added so far (they are numbered 0 to this minus one). */
int tern_sim_endpoints(const struct tern_sim *sim);
/* Earliest arrival not yet received by its endpoint; TERN_TIME_NEVER if none. */
tern_time tern_sim_next_event(const struct tern_sim *sim);
/* Moves virtual time forward to t (never backward). */
void tern_sim_advance(struct tern_sim *sim, tern_time t);
const struct tern_sim_path_stats *tern_sim_path_stats(const struct tern_sim *sim, int from, int to);
/* Bytes the simulator holds (queues, in-flight, undelivered). */
size_t tern_sim_mem(const struct tern_sim *sim);

/* Backend adapter: one endpoint of a sim seen through the backend ops table. */
struct tern_sim_port {
	struct tern_sim *sim;
	int ep;
};
extern const struct tern_backend_ops tern_sim_backend_ops;

/* Parses a profile like "rate=10mbit,delay=25ms,loss=1%,burst=...". Returns 0
 * or TERN_EINVAL with a message naming the bad key in err. */
int tern_sim_parse_profile(const char *spec, struct tern_sim_path_cfg *cfg, char *err,
                           size_t errlen);

#endif
