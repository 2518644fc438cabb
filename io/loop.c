/* The minimal event loop behind tern_udp (include/tern/udp.h): one io_uring,
 * a few timers, and the UDP handles registered on it.
 *
 * Each iteration: update the clock, run due timers, let udp.c put work on the
 * ring (arm receives, queued sends, cancellations and finished closes), submit
 * and wait once (until the next timer, or not at all for NOWAIT), then
 * dispatch every completion. Completions are copied out of the CQ before any
 * callback runs, so callbacks may start or close anything. The ring never has
 * more operations in flight than CQ entries, so completions cannot overflow.
 * Timers are an unsorted list: the loop exists for tests and small tools, not
 * for thousands of timers. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "tern/error.h"
#include "udp_int.h"

#define RING_ENTRIES 256
#define CQE_BATCH 64

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int tern_loop_new(struct tern_loop **out, char *err, size_t errlen)
{
	struct tern_loop *loop;
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (!out)
		return TERN_EINVAL;
	*out = NULL;
	loop = calloc(1, sizeof(*loop));
	if (!loop) {
		if (err)
			snprintf(err, errlen, "tern_loop_new: out of memory");
		return TERN_ENOMEM;
	}
	r = io_uring_queue_init(RING_ENTRIES, &loop->ring, 0);
	if (r < 0) {
		char text[96];
		if (err)
			snprintf(err, errlen, "tern_loop_new: io_uring_queue_init: %s",
			         strerror_r(-r, text, sizeof(text)));
		free(loop);
		return r == -ENOMEM ? TERN_ENOMEM : TERN_ESTATE;
	}
	loop->max_inflight = loop->ring.cq.ring_entries;
	loop->now_us = mono_us();
	*out = loop;
	return TERN_OK;
}

int tern_loop_free(struct tern_loop *loop)
{
	if (!loop)
		return TERN_EINVAL;
	if (loop->handles || loop->running)
		return TERN_ESTATE;
	io_uring_queue_exit(&loop->ring);
	free(loop);
	return TERN_OK;
}

void tern_loop_stop(struct tern_loop *loop)
{
	if (loop)
		loop->stop = true;
}

uint64_t tern_loop_now(const struct tern_loop *loop)
{
	return loop ? loop->now_us : 0;
}

struct io_uring_sqe *tern_loop_sqe(struct tern_loop *loop)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);

	if (!sqe && io_uring_submit(&loop->ring) >= 0)
		sqe = io_uring_get_sqe(&loop->ring);
	return sqe;
}

/* ---- timers ---------------------------------------------------------- */

static void timer_unlink(struct tern_timer *t)
{
	struct tern_timer **pp = &t->loop->timers;

	while (*pp && *pp != t)
		pp = &(*pp)->next;
	if (*pp)
		*pp = t->next;
	t->next = NULL;
	t->active = false;
}

int tern_loop_timer_start(struct tern_loop *loop, struct tern_timer *timer, uint64_t timeout_us,
                          uint64_t repeat_us, tern_timer_cb cb)
{
	if (!loop || !timer || !cb || (timer->active && timer->loop != loop))
		return TERN_EINVAL;
	if (timer->active)
		timer_unlink(timer);
	timer->loop = loop;
	timer->cb = cb;
	timer->due_us = mono_us() + timeout_us;
	timer->repeat_us = repeat_us;
	timer->seq = loop->timer_seq++;
	timer->active = true;
	timer->next = loop->timers;
	loop->timers = timer;
	return TERN_OK;
}

int tern_loop_timer_stop(struct tern_timer *timer)
{
	if (!timer)
		return TERN_EINVAL;
	if (timer->active)
		timer_unlink(timer);
	return TERN_OK;
}

/* The earliest due timer started before this pass (seq < limit), or NULL. */
static struct tern_timer *next_due(struct tern_loop *loop, uint64_t limit)
{
	struct tern_timer *best = NULL;

	for (struct tern_timer *t = loop->timers; t; t = t->next)
		if (t->due_us <= loop->now_us && t->seq < limit &&
		    (!best || t->due_us < best->due_us))
			best = t;
	return best;
}

/* Runs each due timer at most once: a timer restarted by a callback gets a
 * new seq and waits for the next pass. */
static void run_timers(struct tern_loop *loop)
{
	uint64_t limit = loop->timer_seq;
	struct tern_timer *t;

	while ((t = next_due(loop, limit)) != NULL) {
		if (t->repeat_us) {
			t->due_us = loop->now_us + t->repeat_us;
			t->seq = loop->timer_seq++;
		} else {
			timer_unlink(t);
		}
		t->cb(t);
	}
}

/* ---- running --------------------------------------------------------- */

static bool alive(const struct tern_loop *loop)
{
	return loop->inflight || loop->receiving || loop->sendq_len || loop->closing_head ||
	       loop->timers;
}

/* Microseconds to wait: 0 = poll, UINT64_MAX = until a completion. */
static uint64_t wait_time(const struct tern_loop *loop, enum tern_run_mode mode)
{
	uint64_t best = UINT64_MAX;

	if (mode == TERN_RUN_NOWAIT || loop->stop || !alive(loop))
		return 0;
	if (loop->closing_head && !loop->inflight)
		return 0; /* a close can finish next iteration */
	for (const struct tern_timer *t = loop->timers; t; t = t->next) {
		uint64_t d = t->due_us > loop->now_us ? t->due_us - loop->now_us : 0;
		if (d < best)
			best = d;
	}
	return best;
}

static void wait_cqe(struct tern_loop *loop, uint64_t us)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts;

	io_uring_submit(&loop->ring);
	if (us == 0 || (us == UINT64_MAX && !loop->inflight))
		return; /* polling, or nothing could ever complete */
	ts.tv_sec = (long long)(us / 1000000u);
	ts.tv_nsec = (long long)(us % 1000000u) * 1000;
	/* -ETIME and -EINTR just end the wait; anything else is retried next time */
	io_uring_wait_cqe_timeout(&loop->ring, &cqe, us == UINT64_MAX ? NULL : &ts);
}

/* Copies completions out, frees their CQ slots, then dispatches them. */
static void dispatch(struct tern_loop *loop)
{
	struct io_uring_cqe *cqes[CQE_BATCH];
	uint64_t udata[CQE_BATCH];
	int res[CQE_BATCH];
	unsigned n;

	do {
		n = io_uring_peek_batch_cqe(&loop->ring, cqes, CQE_BATCH);
		for (unsigned i = 0; i < n; i++) {
			udata[i] = cqes[i]->user_data;
			res[i] = cqes[i]->res;
		}
		io_uring_cq_advance(&loop->ring, n);
		for (unsigned i = 0; i < n; i++)
			if (udata[i])
				tern_udp_complete(loop, udata[i], res[i]);
	} while (n == CQE_BATCH);
}

static void iterate(struct tern_loop *loop, enum tern_run_mode mode)
{
	loop->now_us = mono_us();
	run_timers(loop);
	tern_udp_prepare(loop);
	wait_cqe(loop, wait_time(loop, mode));
	dispatch(loop);
	loop->now_us = mono_us();
	run_timers(loop);
}

int tern_loop_run(struct tern_loop *loop, enum tern_run_mode mode)
{
	bool more;

	if (!loop || (mode != TERN_RUN_DEFAULT && mode != TERN_RUN_ONCE && mode != TERN_RUN_NOWAIT))
		return TERN_EINVAL;
	if (loop->running)
		return TERN_ESTATE;
	loop->running = true;
	more = alive(loop);
	while (more && !loop->stop) {
		iterate(loop, mode);
		more = alive(loop);
		if (mode != TERN_RUN_DEFAULT)
			break;
	}
	loop->stop = false;
	loop->running = false;
	return more ? 1 : 0;
}
