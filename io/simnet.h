/* The simulator's driver: sessions attached to endpoints of a struct tern_sim,
 * run by one event loop on virtual time with a timer wheel, the way a worker
 * runs them on a real clock. It routes each arriving packet by destination
 * connection ID, gives sessions their timeouts, and flushes their packets
 * into the simulated network in bursts. Deterministic for a given seed. */
#ifndef TERN_SIMNET_H
#define TERN_SIMNET_H

#include "core/session.h"
#include "core/timer.h"
#include "io/sim.h"

struct tern_simnet;

/* Returns NULL on allocation failure. */
struct tern_simnet *tern_simnet_new(uint64_t seed);
/* Frees the driver and its sim; attached sessions stay the caller's. */
void tern_simnet_free(struct tern_simnet *net);
struct tern_sim *tern_simnet_sim(struct tern_simnet *net);
tern_time tern_simnet_now(const struct tern_simnet *net);
/* Attaches s (already created) to endpoint ep, sending to peer. Returns 0,
 * TERN_EINVAL or TERN_ENOMEM. */
int tern_simnet_attach(struct tern_simnet *net, int ep, struct tern_session *s,
                       const struct tern_addr *peer);
/* Runs the event loop until stop(ctx) returns true (0), virtual time would
 * pass `until` (TERN_ETIMEDOUT), or nothing is left to happen (TERN_EAGAIN).
 * stop may be NULL. */
int tern_simnet_run(struct tern_simnet *net, tern_time until, bool (*stop)(void *ctx), void *ctx);

struct tern_simnet_stats {
	uint64_t unroutable; /* packets whose DCID matched no session */
	uint64_t dropped;    /* packets sessions refused (see their stats) */
	uint64_t steps;
};
const struct tern_simnet_stats *tern_simnet_stats(const struct tern_simnet *net);

#endif
