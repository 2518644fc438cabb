/* ACK generation (see ack.h for the policy). The received set doubles as the
 * duplicate filter until issue 3's replay window lands in front of it. */
#include "ack.h"
#include "proto.h"
#include "wire.h"

int tern_ackgen_init(struct tern_ackgen *a, tern_time max_ack_delay)
{
	memset(a, 0, sizeof(*a));
	a->deadline = TERN_TIME_NEVER;
	a->max_ack_delay = max_ack_delay;
	return tern_ranges_init(&a->rx, TERN_MAX_ACK_RANGES, true);
}

void tern_ackgen_free(struct tern_ackgen *a)
{
	tern_ranges_free(&a->rx);
}

bool tern_ackgen_is_dup(const struct tern_ackgen *a, uint64_t pn)
{
	return pn < a->floor || tern_ranges_contains(&a->rx, pn);
}

uint64_t tern_ackgen_largest(const struct tern_ackgen *a)
{
	return a->rx.n ? tern_ranges_max(&a->rx) : UINT64_MAX;
}

int tern_ackgen_on_packet(struct tern_ackgen *a, uint64_t pn, bool ack_eliciting, tern_time now)
{
	uint64_t largest = tern_ackgen_largest(a);
	bool in_order = largest == UINT64_MAX ? pn == 0 : pn == largest + 1;
	bool full = a->rx.n == a->rx.max;
	uint64_t lowest = a->rx.n ? a->rx.r[0].lo : 0;
	int rc = tern_ranges_add(&a->rx, pn, pn);

	if (rc < 0)
		return rc;
	if (full && a->rx.r[0].lo > lowest && a->rx.r[0].lo > a->floor)
		a->floor = a->rx.r[0].lo; /* a range was evicted: remember how far */
	if (largest == UINT64_MAX || pn > largest)
		a->largest_rx_time = now;
	a->unsent = true;
	if (!ack_eliciting)
		return 0;
	a->eliciting++;
	if (!in_order)
		a->immediate = true;
	if (a->deadline == TERN_TIME_NEVER)
		a->deadline = now + a->max_ack_delay;
	return 0;
}

bool tern_ackgen_due(const struct tern_ackgen *a, tern_time now)
{
	return a->immediate || a->eliciting >= TERN_ACK_ELICITING_THRESHOLD || now >= a->deadline;
}

size_t tern_ackgen_write(struct tern_ackgen *a, uint8_t *p, size_t cap, tern_time now,
                         uint64_t *largest)
{
	struct tern_ack_range desc[TERN_MAX_ACK_RANGES];
	size_t n = a->rx.n, written, len;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		desc[i] = a->rx.r[n - 1 - i];
	len = tern_frame_encode_ack(p, cap, desc, n, now - a->largest_rx_time, &written);
	if (len == 0)
		return 0;
	*largest = desc[0].hi;
	a->eliciting = 0;
	a->immediate = false;
	a->unsent = false;
	a->deadline = TERN_TIME_NEVER;
	return len;
}

void tern_ackgen_on_ack_acked(struct tern_ackgen *a, uint64_t largest)
{
	/* Everything up to `largest` was reported; keep the range that holds
	 * it so the next ACK still starts from a known largest, and let the
	 * floor reject older duplicates. */
	size_t i = a->rx.n;

	while (i > 0 && a->rx.r[i - 1].lo > largest)
		i--;
	if (i == 0)
		return;
	uint64_t keep_from = a->rx.r[i - 1].lo;
	if (keep_from > a->floor) {
		tern_ranges_remove_below(&a->rx, keep_from);
		a->floor = keep_from;
	}
}
