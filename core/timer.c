/* Hierarchical timer wheel: 6 levels x 64 slots, 1 µs tick.
 *
 * Placement: a timer goes in the lowest level L whose aligned span
 * (64^(L+1) µs) contains both w->now and the expiry, i.e. L is the index of
 * the highest 6-bit digit in which expire and now differ; its slot is the
 * expiry's digit at that level. So every occupied slot at level L >= 1 lies
 * strictly ahead of now's own digit, a level-0 slot holds timers of exactly
 * one microsecond, and each slot has a start time that is a lower bound on
 * its timers' expiries. Deadlines beyond the top span (2^36 µs) share the top
 * level's slots; a top slot at or behind now's digit belongs to the next top
 * span, where its timers are looked at again (once per ~19 hours).
 *
 * Advancing repeatedly jumps to the earliest slot start (found with the
 * occupied bitmaps, so idle gaps cost nothing per microsecond), cascades
 * that slot's timers down by exact expiry, or fires a level-0 slot. Timers
 * armed in the past go to now's level-0 slot, kept sorted by expiry, so they
 * fire at the next advance, earliest first. Level-0 slots are fired one
 * timer at a time from the live list, so callbacks may arm and cancel
 * anything, including timers due in the same advance. */
#include "timer.h"

#define BITS 6 /* log2(TERN_WHEEL_SLOTS) */
#define TOP (TERN_WHEEL_LEVELS - 1)

static unsigned digit(tern_time t, unsigned level)
{
	return (unsigned)(t >> (BITS * level)) & (TERN_WHEEL_SLOTS - 1);
}

static void list_unlink(struct tern_timer *t)
{
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->next = t->prev = NULL;
}

static void list_insert_after(struct tern_timer *pos, struct tern_timer *t)
{
	t->prev = pos;
	t->next = pos->next;
	pos->next->prev = t;
	pos->next = t;
}

/* Puts an unlinked timer in its slot; does not touch w->count. */
static void place(struct tern_wheel *w, struct tern_timer *t)
{
	unsigned level = 0, slot = digit(w->now, 0);
	struct tern_timer *head, *pos;

	if (t->expire > w->now) {
		unsigned high = 63u - (unsigned)__builtin_clzll(t->expire ^ w->now);
		level = TERN_MIN(high / BITS, (unsigned)TOP);
		slot = digit(t->expire, level);
	}
	head = &w->slots[level][slot];
	pos = head->prev;
	if (level == 0) { /* keep sorted; O(1) unless armed in the past */
		while (pos != head && pos->expire > t->expire)
			pos = pos->prev;
	}
	list_insert_after(pos, t);
	w->occupied[level] |= 1ull << slot;
}

/* Unlinks an armed timer and clears its slot's bit if the slot empties: a
 * slot is empty when the timer's two neighbours are the same node, which is
 * then the slot's head. */
static void detach(struct tern_wheel *w, struct tern_timer *t)
{
	struct tern_timer *p = t->prev;
	bool empties = t->prev == t->next;

	list_unlink(t);
	w->count--;
	if (empties) {
		size_t idx = (size_t)(p - &w->slots[0][0]);
		w->occupied[idx / TERN_WHEEL_SLOTS] &= ~(1ull << (idx % TERN_WHEEL_SLOTS));
	}
}

void tern_wheel_init(struct tern_wheel *w, tern_time now)
{
	for (unsigned l = 0; l < TERN_WHEEL_LEVELS; l++) {
		for (unsigned s = 0; s < TERN_WHEEL_SLOTS; s++) {
			struct tern_timer *h = &w->slots[l][s];
			h->next = h->prev = h;
			h->expire = 0;
			h->fn = NULL;
			h->arg = NULL;
		}
		w->occupied[l] = 0;
	}
	w->now = now;
	w->count = 0;
}

void tern_timer_init(struct tern_timer *t, tern_timer_fn fn, void *arg)
{
	t->next = t->prev = NULL;
	t->expire = 0;
	t->fn = fn;
	t->arg = arg;
}

void tern_timer_arm(struct tern_wheel *w, struct tern_timer *t, tern_time expire)
{
	if (tern_timer_armed(t))
		detach(w, t);
	t->expire = expire;
	place(w, t);
	w->count++;
}

void tern_timer_cancel(struct tern_wheel *w, struct tern_timer *t)
{
	if (tern_timer_armed(t))
		detach(w, t);
}

/* Start time of the earliest occupied slot of a level >= 1, or NEVER. Slots
 * ahead of now's digit start in now's span; the others (top level only) in
 * the next span. */
static tern_time level_start(const struct tern_wheel *w, unsigned level)
{
	unsigned shift = BITS * level, cur = digit(w->now, level);
	uint64_t occ = w->occupied[level], ahead, span = 1ull << (shift + BITS);
	tern_time base = w->now & ~(span - 1);

	if (!occ)
		return TERN_TIME_NEVER;
	ahead = cur == TERN_WHEEL_SLOTS - 1 ? 0 : occ & (~0ull << (cur + 1));
	if (!ahead) {
		if (base > TERN_TIME_NEVER - span)
			return TERN_TIME_NEVER;
		base += span;
		ahead = occ;
	}
	return base + ((tern_time)__builtin_ctzll(ahead) << shift);
}

/* Earliest level-0 expiry: the head of the lowest occupied slot (all level-0
 * slots are at or ahead of now's digit, and each list is sorted). */
static const struct tern_timer *level0_first(const struct tern_wheel *w)
{
	if (!w->occupied[0])
		return NULL;
	return w->slots[0][__builtin_ctzll(w->occupied[0])].next;
}

tern_time tern_wheel_next(const struct tern_wheel *w)
{
	const struct tern_timer *first = level0_first(w);
	tern_time next = first ? first->expire : TERN_TIME_NEVER;

	if (w->count == 0)
		return TERN_TIME_NEVER;
	for (unsigned l = 1; l < TERN_WHEEL_LEVELS; l++)
		next = TERN_MIN(next, level_start(w, l));
	return next;
}

/* Moves every timer of slot (level, slot) to its place relative to w->now. */
static void cascade(struct tern_wheel *w, unsigned level, unsigned slot)
{
	struct tern_timer *head = &w->slots[level][slot];
	struct tern_timer list = {.next = head->next, .prev = head->prev};

	/* Splice the slot onto a local head first, so a timer that lands back
	 * in this slot (a far deadline) is not visited twice. */
	list.next->prev = &list;
	list.prev->next = &list;
	head->next = head->prev = head;
	w->occupied[level] &= ~(1ull << slot);
	while (list.next != &list) {
		struct tern_timer *t = list.next;
		list_unlink(t);
		place(w, t);
	}
}

/* Fires the timers of now's level-0 slot one at a time; callbacks may add to
 * or remove from it. Callbacks get the caller's time, not the slot's. */
static unsigned fire_slot(struct tern_wheel *w, tern_time now)
{
	struct tern_timer *head = &w->slots[0][digit(w->now, 0)];
	unsigned fired = 0;

	while (head->next != head) {
		struct tern_timer *t = head->next;
		detach(w, t);
		fired++;
		if (t->fn)
			t->fn(t, now);
	}
	return fired;
}

/* Finds the earliest pending event: *level gets the highest level whose slot
 * starts then (cascade before firing). Returns NEVER if none. */
static tern_time next_event(const struct tern_wheel *w, unsigned *level)
{
	const struct tern_timer *first = level0_first(w);
	tern_time best = first ? TERN_MAX(first->expire, w->now) : TERN_TIME_NEVER;

	*level = 0;
	for (unsigned l = 1; l < TERN_WHEEL_LEVELS; l++) {
		tern_time t = level_start(w, l);
		if (t <= best && t != TERN_TIME_NEVER) {
			best = t;
			*level = l;
		}
	}
	return best;
}

unsigned tern_wheel_advance(struct tern_wheel *w, tern_time now)
{
	unsigned fired = 0, level;
	tern_time t;

	while (w->count && (t = next_event(w, &level)) <= now && t != TERN_TIME_NEVER) {
		w->now = t;
		if (level == 0)
			fired += fire_slot(w, now);
		else
			cascade(w, level, digit(t, level));
	}
	if (now > w->now)
		w->now = now;
	return fired;
}
