/* The simulator driver's state, shared by simnet.c (sessions, the loop) and
 * simhost.c (control planes on endpoints, injected traffic). */
#ifndef TERN_SIMNET_INT_H
#define TERN_SIMNET_INT_H

#include "simnet.h"

#define FLUSH_BURST 64
#define RX_BURST 64

struct conn {
	struct tern_session *s;
	int ep;
	struct tern_timer timer;
	struct tern_simnet *net;
};

struct tern_simnet {
	struct tern_sim *sim;
	struct tern_wheel wheel;
	struct conn **conns;
	size_t n, cap;
	struct tern_simnet_stats stats;
	uint64_t seed;
	tern_time late_max;     /* tern_simnet_set_lateness */
	uint64_t late_rng;      /* xorshift state for the lateness draws */
	struct simhost **hosts; /* by endpoint index; NULL = no control plane */
	int nhosts;
	struct periodic *periodic;
	struct tap *taps;
	uint64_t attached; /* sessions ever attached: seeds their generators */
	uint8_t buf[TERN_MAX_PACKET];
};

/* simhost.c */
struct simhost;
struct periodic;
bool tern_simnet_to_host(struct tern_simnet *net, int ep, const struct tern_pkt *pkt);
bool tern_simnet_to_tap(struct tern_simnet *net, int ep, const struct tern_pkt *pkt);
void tern_simnet_hosts_step(struct tern_simnet *net, tern_time now);
tern_time tern_simnet_hosts_next(const struct tern_simnet *net);
void tern_simnet_hosts_free(struct tern_simnet *net);

#endif
