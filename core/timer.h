/* Hierarchical timer wheel (Varghese & Lauck): 6 levels of 64 slots with a
 * 1 µs tick, covering 2^36 µs (~19 hours); farther deadlines sit in the top
 * level and are re-cascaded. Timers are intrusive: no allocation to arm one.
 * O(1) arm and cancel; advancing costs the slots crossed plus the timers that
 * fire or cascade. */
#ifndef TERN_TIMER_H
#define TERN_TIMER_H

#include "common.h"

struct tern_timer;
typedef void (*tern_timer_fn)(struct tern_timer *t, tern_time now);

struct tern_timer {
	struct tern_timer *next, *prev; /* slot list; NULL when not armed */
	tern_time expire;
	tern_timer_fn fn;
	void *arg; /* the owner's context */
};

#define TERN_WHEEL_LEVELS 6
#define TERN_WHEEL_SLOTS 64

struct tern_wheel {
	struct tern_timer slots[TERN_WHEEL_LEVELS][TERN_WHEEL_SLOTS]; /* list heads */
	uint64_t occupied[TERN_WHEEL_LEVELS];                         /* bit per non-empty slot */
	tern_time now; /* time the wheel has advanced to */
	size_t count;  /* armed timers */
};

void tern_wheel_init(struct tern_wheel *w, tern_time now);
void tern_timer_init(struct tern_timer *t, tern_timer_fn fn, void *arg);
/* Arms (or re-arms) t to fire at expire; an expire <= w->now fires on the
 * next advance. */
void tern_timer_arm(struct tern_wheel *w, struct tern_timer *t, tern_time expire);
void tern_timer_cancel(struct tern_wheel *w, struct tern_timer *t);
static inline bool tern_timer_armed(const struct tern_timer *t)
{
	return t->next != NULL;
}
/* Fires, in expiry order, every timer with expire <= now; callbacks may arm
 * and cancel timers (including themselves), and a timer armed by a callback
 * with expire <= now fires in this same call. Callbacks receive this `now`
 * (the caller's time). A timer is disarmed before its callback runs. A timer
 * armed at TERN_TIME_NEVER never fires. Returns how many fired. */
unsigned tern_wheel_advance(struct tern_wheel *w, tern_time now);
/* A lower bound on the next expiry (exact for timers in the lowest level);
 * TERN_TIME_NEVER when nothing is armed. Advancing to it may fire nothing
 * (only cascade); the caller then asks again. */
tern_time tern_wheel_next(const struct tern_wheel *w);

#endif
