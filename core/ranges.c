/* A bounded set of disjoint inclusive uint64 ranges (core/ranges.h).
 *
 * Shape: one sorted array. Every operation finds its place by binary search
 * and then moves the tail with one memmove, so add/remove/contains are
 * O(log n) + a memmove; the arrays here are short-lived and mostly small
 * (ACK ranges, stream holes), where a flat array beats a tree. Ranges are
 * kept non-adjacent: adding [5,9] next to [1,4] yields one range [1,9], so
 * "is everything below X present" is a look at r[0]. Storage doubles from 8
 * up to max; when full, evict_lowest sets (ACK generation) forget their
 * oldest range and the others refuse with TERN_ELIMIT. */
#include <stdlib.h>
#include "alloc.h"
#include "ranges.h"

#define RANGES_INITIAL_CAP 8

int tern_ranges_init(struct tern_ranges *rs, size_t max, bool evict_lowest)
{
	memset(rs, 0, sizeof(*rs));
	if (max == 0)
		return TERN_EINVAL;
	rs->max = max;
	rs->evict_lowest = evict_lowest;
	return 0;
}

void tern_ranges_free(struct tern_ranges *rs)
{
	free(rs->r);
	rs->r = NULL;
	rs->n = rs->cap = 0;
}

/* First index whose range ends at or after v (n if none). */
static size_t first_hi_at_least(const struct tern_ranges *rs, uint64_t v)
{
	size_t lo = 0, hi = rs->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rs->r[mid].hi < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* First index whose range starts after v (n if none). */
static size_t first_lo_above(const struct tern_ranges *rs, uint64_t v)
{
	size_t lo = 0, hi = rs->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rs->r[mid].lo <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Makes room for one more range. Returns 0, TERN_ENOMEM or TERN_ELIMIT. */
static int grow(struct tern_ranges *rs)
{
	size_t ncap = rs->cap ? rs->cap * 2 : RANGES_INITIAL_CAP;
	struct tern_ack_range *nr;

	if (rs->cap >= rs->max)
		return TERN_ELIMIT;
	if (ncap > rs->max)
		ncap = rs->max;
	nr = tern_realloc(rs->r, ncap * sizeof(*nr));
	if (!nr)
		return TERN_ENOMEM;
	rs->r = nr;
	rs->cap = ncap;
	return 0;
}

static void erase(struct tern_ranges *rs, size_t from, size_t to)
{
	memmove(&rs->r[from], &rs->r[to], (rs->n - to) * sizeof(rs->r[0]));
	rs->moved += rs->n - to;
	rs->n -= to - from;
}

/* Inserts [lo, hi] at index i, which touches no existing range. */
static int insert_at(struct tern_ranges *rs, size_t i, uint64_t lo, uint64_t hi)
{
	if (rs->n == rs->cap) {
		int rc = grow(rs);
		if (rc == TERN_ELIMIT && rs->evict_lowest) {
			if (i == 0)
				return 0; /* the new range is the lowest: it is the one evicted */
			erase(rs, 0, 1);
			i--;
		} else if (rc) {
			return rc;
		}
	}
	memmove(&rs->r[i + 1], &rs->r[i], (rs->n - i) * sizeof(rs->r[0]));
	rs->moved += rs->n - i;
	rs->r[i].lo = lo;
	rs->r[i].hi = hi;
	rs->n++;
	return 0;
}

int tern_ranges_add(struct tern_ranges *rs, uint64_t lo, uint64_t hi)
{
	size_t i, k;

	if (lo > hi)
		return TERN_EINVAL;
	/* [i, k): the ranges that overlap or touch [lo, hi]. */
	i = lo == 0 ? 0 : first_hi_at_least(rs, lo - 1);
	k = hi == UINT64_MAX ? rs->n : first_lo_above(rs, hi + 1);
	if (i == k)
		return insert_at(rs, i, lo, hi);
	rs->r[i].lo = TERN_MIN(lo, rs->r[i].lo);
	rs->r[i].hi = TERN_MAX(hi, rs->r[k - 1].hi);
	erase(rs, i + 1, k);
	return 0;
}

int tern_ranges_remove(struct tern_ranges *rs, uint64_t lo, uint64_t hi)
{
	size_t i, k;

	if (lo > hi)
		return TERN_EINVAL;
	i = first_hi_at_least(rs, lo);
	if (i == rs->n || rs->r[i].lo > hi)
		return 0;
	if (rs->r[i].lo < lo && rs->r[i].hi > hi) { /* split one range in two */
		uint64_t top = rs->r[i].hi;
		if (rs->n == rs->cap) {
			int rc = grow(rs);
			if (rc)
				return rc;
		}
		rs->r[i].hi = lo - 1;
		return insert_at(rs, i + 1, hi + 1, top);
	}
	if (rs->r[i].lo < lo)
		rs->r[i++].hi = lo - 1;
	k = hi == UINT64_MAX ? rs->n : first_hi_at_least(rs, hi + 1); /* [i, k) fully covered */
	if (k < rs->n && rs->r[k].lo <= hi)
		rs->r[k].lo = hi + 1;
	erase(rs, i, k);
	return 0;
}

void tern_ranges_remove_below(struct tern_ranges *rs, uint64_t v)
{
	if (v > 0)
		(void)tern_ranges_remove(rs, 0, v - 1); /* never splits: nothing is below 0 */
}

bool tern_ranges_contains(const struct tern_ranges *rs, uint64_t v)
{
	size_t i = first_hi_at_least(rs, v);

	return i < rs->n && rs->r[i].lo <= v;
}

uint64_t tern_ranges_contiguous_end(const struct tern_ranges *rs, uint64_t lo)
{
	if (rs->n == 0 || rs->r[0].lo > lo || rs->r[0].hi < lo || rs->r[0].hi == UINT64_MAX)
		return lo;
	return rs->r[0].hi + 1;
}
