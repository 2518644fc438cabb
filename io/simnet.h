/* The simulator's driver: sessions attached to endpoints of a struct tern_sim,
 * run by one event loop on virtual time with a timer wheel, the way a worker
 * runs them on a real clock. It routes each arriving packet by destination
 * connection ID, gives sessions their timeouts, and flushes their packets
 * into the simulated network in bursts. Deterministic for a given seed. */
#ifndef TERN_SIMNET_H
#define TERN_SIMNET_H

#include "core/control.h"
#include "core/session.h"
#include "core/timer.h"
#include "io/sim.h"

struct tern_simnet;

/* Returns NULL on allocation failure. */
struct tern_simnet *tern_simnet_new(uint64_t seed);
/* Host timer lateness: every session timer that sleeps (fires in the
 * future) fires up to max_us late, uniformly, as a worker woken late from
 * its sleep by a busy host does (0, the default: on time). Draws from the
 * net's own generator, so runs without it replay as before. */
void tern_simnet_set_lateness(struct tern_simnet *net, tern_time max_us);
/* Frees the driver and its sim; attached sessions stay the caller's. */
void tern_simnet_free(struct tern_simnet *net);
struct tern_sim *tern_simnet_sim(struct tern_simnet *net);
tern_time tern_simnet_now(const struct tern_simnet *net);
/* Attaches s (already created) to endpoint ep, with peer as its peer's
 * address, and seeds its random generator (tern_session_seed_random).
 * Re-attaching a detached session to another endpoint moves it there, as a
 * NAT rebinding would. Returns 0, TERN_EINVAL or TERN_ENOMEM. */
int tern_simnet_attach(struct tern_simnet *net, int ep, struct tern_session *s,
                       const struct tern_addr *peer);
/* Removes s from the driver (before the caller frees it). */
void tern_simnet_detach(struct tern_simnet *net, struct tern_session *s);

/* A control plane on an endpoint: handshake packets arriving at ep queue for
 * it (a bounded queue, like the worker-to-control rings), and it works
 * through them on a virtual CPU: each packet costs cost_check, and each one
 * that needed X25519 work cost_dh more, so a flood shows up as queueing and
 * backlog exactly as it would on a real control thread. Sessions it
 * completes are attached to ep with session_cbs. */
struct tern_simhost_cfg {
	struct tern_control_cfg control; /* identity required */
	struct tern_session_cbs session_cbs;
	void (*on_session)(void *ctx, struct tern_session *s,
	                   const struct tern_hs_session_info *info);
	void (*on_failed)(void *ctx, void *user, int why);
	bool (*listening)(void *ctx, uint16_t vport, uint8_t stream_type);
	/* Tests: true makes this install fail as an engine's does when the
	 * owner worker's inbox is full (the session is freed). NULL: never. */
	bool (*refuse_install)(void *ctx, const struct tern_hs_session_info *info);
	void *ctx;
	size_t queue;         /* handshake packets queued at most (1024) */
	tern_time cost_check; /* virtual µs per handshake packet (1) */
	tern_time cost_dh;    /* virtual µs more for the X25519 work (100) */
};
/* Returns 0 (and the control plane in *ctl, owned by the driver),
 * TERN_EINVAL (with the reason in *err_msg) or TERN_ENOMEM. */
int tern_simnet_host(struct tern_simnet *net, int ep, const struct tern_simhost_cfg *cfg,
                     struct tern_control **ctl, const char **err_msg);
/* Delivers a packet to endpoint ep now, as if sent from src (which need not
 * be an endpoint: floods from spoofed addresses). */
int tern_simnet_inject(struct tern_simnet *net, int ep, const struct tern_addr *src,
                       const uint8_t *data, size_t len);
/* Calls fn every period of virtual time (first at now + period). */
int tern_simnet_every(struct tern_simnet *net, tern_time period,
                      void (*fn)(void *ctx, tern_time now), void *ctx);
/* Packets arriving at ep that no session or control plane takes go to fn
 * (a raw socket for tests: impostors, sniffers). One tap per endpoint. */
int tern_simnet_tap(struct tern_simnet *net, int ep,
                    void (*fn)(void *ctx, const struct tern_pkt *pkt), void *ctx);
/* Handshake packets a host dropped because its queue was full. */
uint64_t tern_simnet_host_queue_drops(const struct tern_simnet *net, int ep);

/* Runs the event loop until stop(ctx) returns true (0), virtual time would
 * pass `until` (TERN_ETIMEDOUT), or nothing is left to happen (TERN_EAGAIN).
 * stop may be NULL. While a session's cfg.budget is full, the greediest
 * session on it is closed with MEMORY, one per step (as workers do). */
int tern_simnet_run(struct tern_simnet *net, tern_time until, bool (*stop)(void *ctx), void *ctx);

struct tern_simnet_stats {
	uint64_t unroutable; /* packets whose DCID matched no session */
	uint64_t dropped;    /* packets sessions refused (see their stats) */
	uint64_t steps;
};
const struct tern_simnet_stats *tern_simnet_stats(const struct tern_simnet *net);

#endif
