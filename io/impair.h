/* The per-packet impairment of one directed path, shared by the simulator
 * (io/sim.c, virtual clock) and the tern-impair proxy (apps/tern_impair.c,
 * real clock), so both apply the same model to the same profile syntax
 * (tern_sim_parse_profile): MTU, blackholes, random and Gilbert–Elliott loss,
 * a serialising bottleneck with a tail-drop queue, delay, jitter, reordering,
 * duplication and bit corruption.
 *
 * The module holds no packets and reads no clock: the caller passes `now`,
 * gets decisions back, and keeps the packets itself (a heap keyed on arrival
 * time in both users). Random draws come from a generator the caller owns
 * and may share between paths; a caller that makes the calls below in the
 * same order with the same seed gets the same decisions. Per packet:
 *
 *   tern_impair_admit       MTU, blackhole, loss, burst loss, bottleneck
 *   tern_impair_arrival     jitter and reorder hold-back of one copy
 *   tern_impair_corrupt     maybe flips one bit of one copy
 *   tern_impair_duplicate   whether a second copy follows (then arrival and
 *                           corrupt again for it) */
#ifndef TERN_IMPAIR_H
#define TERN_IMPAIR_H

#include "io/sim.h"

/* xoshiro256** seeded by splitmix64. */
struct tern_impair_rng {
	uint64_t s[4];
};

void tern_impair_rng_seed(struct tern_impair_rng *r, uint64_t seed);
uint64_t tern_impair_rng_next(struct tern_impair_rng *r);

struct tern_impair {
	struct tern_sim_path_cfg cfg;
	struct tern_sim_path_stats
	        stats; /* the caller counts delivered, bytes_delivered, dropped_pool */
	struct tern_impair_rng *rng; /* shared, owned by the caller */
	size_t queue_limit;          /* effective tail-drop limit in bytes */
	size_t mtu;                  /* effective MTU */
	uint64_t link_free_ns;       /* when the bottleneck finishes its last packet */
	bool ge_bad;                 /* Gilbert–Elliott state */
	tern_time stall_end;         /* the current host stall ends then */
};

/* Why tern_impair_admit refused a packet (each also counted in stats). */
enum tern_impair_drop {
	TERN_IMPAIR_PASS = 0,
	TERN_IMPAIR_DROP_MTU,
	TERN_IMPAIR_DROP_BLACKHOLE,
	TERN_IMPAIR_DROP_LOSS,
	TERN_IMPAIR_DROP_BURST,
	TERN_IMPAIR_DROP_QUEUE,
};

/* True if every probability in cfg is in [0, 1] and every blackhole window
 * has start <= end. */
bool tern_impair_cfg_valid(const struct tern_sim_path_cfg *cfg);

/* (Re)configures a path; keeps its stats, rng and link state. max_mtu bounds
 * the effective MTU (packets longer are dropped as dropped_mtu). A queue of 0
 * becomes max(1 BDP, 64 KiB) with BDP = rate * 2 * delay. */
void tern_impair_configure(struct tern_impair *p, const struct tern_sim_path_cfg *cfg,
                           size_t max_mtu);

/* Counts a packet of len bytes offered at now and decides whether it passes
 * the early drops and the bottleneck. Returns TERN_IMPAIR_PASS with *depart
 * (µs, when its last bit leaves the bottleneck) or the drop reason. */
int tern_impair_admit(struct tern_impair *p, tern_time now, size_t len, tern_time *depart);

/* Draws one copy's arrival time: depart + delay + jitter (+ reorder_us). */
tern_time tern_impair_arrival(struct tern_impair *p, tern_time depart);

/* Maybe flips one random bit of data[0..len) (never when len is 0).
 * Returns true if it did. */
bool tern_impair_corrupt(struct tern_impair *p, uint8_t *data, size_t len);

/* True if a duplicate copy should follow (counted). */
bool tern_impair_duplicate(struct tern_impair *p);

#endif
