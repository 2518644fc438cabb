/* The per-worker session table: CID key -> session pointer.
 *
 * Only the owner worker touches its table, so there are no atomics and no
 * locks. Open addressing with linear probing over 16-byte slots {key, value}
 * (four to a cache line, so a hit is usually one cache miss), a seeded
 * 64-bit finalizer mix of the key for the home slot, at most 3/4 full, and
 * backward-shift deletion (no tombstones, so probe chains never rot under
 * churn). The table doubles while it warms up, never past the slots that
 * max_entries needs; size it up front (cfg.initial = max_entries) to make
 * insert allocation-free too.
 *
 * An empty slot has value NULL, so values must be non-NULL. */
#ifndef TERN_TABLE_H
#define TERN_TABLE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tern_table_slot {
	uint64_t key;
	void *val; /* NULL: empty */
};

struct tern_table_cfg {
	size_t initial;     /* entries to hold before the first doubling; 0 = 64 */
	size_t max_entries; /* insert fails with TERN_ENOMEM beyond this; > 0 */
	uint64_t seed;      /* random; keys an attacker guesses cannot be aimed at one slot */
};

struct tern_table {
	struct tern_table_slot *slots; /* owned; mask + 1 slots */
	size_t mask;
	size_t count;
	size_t grow_at; /* count at which the next insert doubles */
	size_t max_entries;
	uint64_t seed;
};

/* Iteration state; see tern_table_next. */
struct tern_table_iter {
	size_t pos;  /* next slot to visit is pos - 1 (mod capacity) */
	size_t left; /* slots not yet visited */
};

/* The home-slot hash of a key (exposed so tests can build probe chains). */
static inline uint64_t tern_table_hash(uint64_t seed, uint64_t key)
{
	uint64_t x = key ^ seed;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* Allocates the slots. Returns 0, TERN_EINVAL (max_entries 0), TERN_ENOMEM. */
int tern_table_init(struct tern_table *t, const struct tern_table_cfg *cfg);
/* Frees the slots (not the values). A zeroed or freed table is fine. */
void tern_table_free(struct tern_table *t);

/* Adds key -> val. Returns 0; TERN_EINVAL when val is NULL or key is
 * already present; TERN_ENOMEM when max_entries are present or doubling
 * failed to allocate (the table is unchanged in every failure). */
int tern_table_insert(struct tern_table *t, uint64_t key, void *val);
/* The value of key, or NULL. */
void *tern_table_lookup(const struct tern_table *t, uint64_t key);
/* Looks up keys[0..n) into vals[0..n) (NULL for absent keys): the worker's
 * rx-burst form. Computes the home slots of up to TERN_TABLE_BURST keys and
 * prefetches them before probing, so the cache misses of a burst overlap
 * instead of queueing one behind another. */
#define TERN_TABLE_BURST 32
void tern_table_lookup_burst(const struct tern_table *t, const uint64_t *keys, void **vals,
                             size_t n);
/* Removes key. Returns its value, or NULL when absent. */
void *tern_table_remove(struct tern_table *t, uint64_t key);

static inline size_t tern_table_count(const struct tern_table *t)
{
	return t->count;
}

static inline size_t tern_table_capacity(const struct tern_table *t)
{
	return t->slots ? t->mask + 1 : 0;
}

/* Iterates every entry once, in no particular order:
 *   struct tern_table_iter it;
 *   tern_table_iter_init(t, &it);
 *   while (tern_table_next(t, &it, &key, &val)) ...
 * The loop body may remove the entry just returned (tern_table_remove with
 * that key) and nothing else; no inserts until the loop ends. */
void tern_table_iter_init(const struct tern_table *t, struct tern_table_iter *it);
/* Returns true and the next entry, or false when done. */
bool tern_table_next(const struct tern_table *t, struct tern_table_iter *it, uint64_t *key,
                     void **val);

#ifdef __cplusplus
}
#endif
#endif
