/* A bounded set of disjoint inclusive uint64 ranges, kept sorted ascending.
 * Used for received packet numbers (ACK generation), received stream bytes,
 * and a sender's acked/lost stream ranges. Storage grows by doubling up to
 * max ranges (allocation only while warming up). */
#ifndef TERN_RANGES_H
#define TERN_RANGES_H

#include "common.h"
#include "wire.h" /* struct tern_ack_range */

struct tern_ranges {
	struct tern_ack_range *r; /* ascending, disjoint, non-adjacent */
	size_t n, cap, max;
	bool evict_lowest; /* when full: drop the lowest range instead of failing */
	uint64_t moved;    /* ranges shifted by inserts and erases, ever: tests bound the
			      cost of one operation with it */
};

/* max: most ranges kept. Returns 0 (no allocation until first add). */
int tern_ranges_init(struct tern_ranges *rs, size_t max, bool evict_lowest);
void tern_ranges_free(struct tern_ranges *rs);
/* Adds [lo, hi], merging with neighbours. Returns 0, TERN_ENOMEM, or
 * TERN_ELIMIT (full and !evict_lowest; the set is unchanged). */
int tern_ranges_add(struct tern_ranges *rs, uint64_t lo, uint64_t hi);
/* Removes [lo, hi] (may split a range). Returns 0 or TERN_ENOMEM/TERN_ELIMIT on split overflow. */
int tern_ranges_remove(struct tern_ranges *rs, uint64_t lo, uint64_t hi);
/* Removes everything below v. */
void tern_ranges_remove_below(struct tern_ranges *rs, uint64_t v);
bool tern_ranges_contains(const struct tern_ranges *rs, uint64_t v);
/* The highest value in the set; the set must not be empty. */
static inline uint64_t tern_ranges_max(const struct tern_ranges *rs)
{
	return rs->r[rs->n - 1].hi;
}
/* If the lowest range starts at lo, returns its hi + 1; otherwise returns lo. */
uint64_t tern_ranges_contiguous_end(const struct tern_ranges *rs, uint64_t lo);

#endif
