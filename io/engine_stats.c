/* The engine's counters as text (tern_engine_stats): the control plane's,
 * its admission gauges, the sessions' memory, and every worker's. Workers
 * and the control thread own their counters and write them as plain
 * integers; after a poll (or a control step) that changed them, the owner
 * copies them here with relaxed atomic stores, one writer each, and readers
 * on any thread load them relaxed: a reader sees each counter whole, maybe
 * a poll old, and TSan sees no race. Memory is counted by each worker on
 * request, since it walks every session. */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#include "engine.h"

#define PUBLISH_EVERY_US 1000 /* an idle worker's polls and sleeps, at most this stale */
#define MEM_WAIT_US 50000     /* how long a reader waits for the workers' counts */
#define MEM_WAIT_STEP_US 100

struct stat_name {
	const char *name;
	size_t off;
};

#define WSTAT(f)                                                                                   \
	{                                                                                          \
#f, offsetof(struct tern_worker_stats, f)                                          \
	}
static const struct stat_name worker_names[] = {
        WSTAT(rx_pkts),         WSTAT(rx_bytes),       WSTAT(tx_pkts),    WSTAT(tx_bytes),
        WSTAT(tx_dropped),      WSTAT(unknown_cid),    WSTAT(malformed),  WSTAT(handoffs_out),
        WSTAT(handoffs_in),     WSTAT(handshakes_out), WSTAT(ring_full),  WSTAT(sessions_installed),
        WSTAT(sessions_closed), WSTAT(polls),          WSTAT(idle_polls), WSTAT(handshake_dropped),
        WSTAT(sleeps),          WSTAT(memory_closes),
};
/* a counter added to the struct must be named above */
_Static_assert(sizeof(struct tern_worker_stats) == sizeof(uint64_t) * TERN_ARRAY_LEN(worker_names),
               "every worker counter has a name");

#define CSTAT(f)                                                                                   \
	{                                                                                          \
#f, offsetof(struct tern_control_stats, f)                                         \
	}
static const struct stat_name control_names[] = {
        CSTAT(initiations),        CSTAT(responses),         CSTAT(cookie_replies_rx),
        CSTAT(drop_malformed),     CSTAT(drop_mac1),         CSTAT(drop_ratelimit),
        CSTAT(drop_no_cookie),     CSTAT(drop_unknown_cid),  CSTAT(cookie_replies_sent),
        CSTAT(refusals),           CSTAT(dh_initiations),    CSTAT(accepted),
        CSTAT(connected),          CSTAT(connect_failed),    CSTAT(retransmits),
        CSTAT(responses_resent),   CSTAT(duplicates_resent), CSTAT(drop_duplicate),
        CSTAT(resp_cache_evicted), CSTAT(install_failed),    CSTAT(drop_half_open),
        CSTAT(drop_source_limit),  CSTAT(load_entered),      CSTAT(refused_memory),
};
_Static_assert(sizeof(struct tern_control_stats) ==
                       sizeof(uint64_t) * (TERN_ARRAY_LEN(control_names) +
                                           TERN_ARRAY_LEN(((struct tern_control_stats *)0)->fail)),
               "every control-plane counter has a name");

/* ---- writers: one per copy ---- */

static void publish(uint64_t *dst, const uint64_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		__atomic_store_n(&dst[i], src[i], __ATOMIC_RELAXED);
}

void tern_engine_publish_worker(struct wslot *ws, tern_time now, unsigned work)
{
	unsigned ask = atomic_load_explicit(&ws->mem_ask, memory_order_relaxed);

	if (work || now - ws->pub_at >= PUBLISH_EVERY_US) {
		publish((uint64_t *)&ws->pub, (const uint64_t *)&ws->w.stats,
		        sizeof(ws->pub) / sizeof(uint64_t));
		ws->pub_at = now;
	}
	if (ask != atomic_load_explicit(&ws->mem_done, memory_order_relaxed)) {
		__atomic_store_n(&ws->pub_mem, (uint64_t)tern_worker_mem(&ws->w), __ATOMIC_RELAXED);
		/* release: a reader that sees ask done sees pub_mem too */
		atomic_store_explicit(&ws->mem_done, ask, memory_order_release);
	}
}

void tern_engine_publish_control(struct tern_engine *e)
{
	publish((uint64_t *)&e->ctl_pub, (const uint64_t *)tern_control_stats(e->ctl),
	        sizeof(e->ctl_pub) / sizeof(uint64_t));
}

/* ---- readers ---- */

static uint64_t load(const void *base, size_t off)
{
	return __atomic_load_n((const uint64_t *)((const uint8_t *)base + off), __ATOMIC_RELAXED);
}

/* Appends "name value\n"; returns the new length (truncated at len - 1). */
static size_t put(char *buf, size_t len, size_t used, const char *prefix, const char *name,
                  uint64_t v)
{
	int n = used + 1 < len ? snprintf(buf + used, len - used, "%s%s %llu\n", prefix, name,
	                                  (unsigned long long)v)
	                       : 0;

	return n > 0 ? TERN_MIN(used + (size_t)n, len - 1) : used;
}

/* Whether the workers must be asked (they run on threads of their own) or
 * may be read in place (inline, or stopped: this thread is the only one). */
static bool workers_busy(struct tern_engine *e)
{
	return !e->cfg.inline_mode && atomic_load_explicit(&e->running, memory_order_acquire);
}

/* Heap held by every worker's sessions and tables (the budget counts only
 * their stream buffers): each running worker counts its own at its next
 * poll; a worker that does not answer within MEM_WAIT_US is reported with
 * its last count. */
static uint64_t sessions_mem(struct tern_engine *e)
{
	unsigned ask[64];
	uint64_t sum = 0;

	if (!workers_busy(e)) {
		for (unsigned i = 0; i < e->n; i++)
			sum += e->ws[i].w_ok ? tern_worker_mem(&e->ws[i].w) : 0;
		return sum;
	}
	for (unsigned i = 0; i < e->n; i++) {
		ask[i] = atomic_fetch_add_explicit(&e->ws[i].mem_ask, 1, memory_order_relaxed) + 1;
		tern_engine_wake(e, (int)i);
	}
	for (unsigned waited = 0, i = 0; i < e->n; i++) {
		while ((int)(atomic_load_explicit(&e->ws[i].mem_done, memory_order_acquire) -
		             ask[i]) < 0 &&
		       waited < MEM_WAIT_US) {
			usleep(MEM_WAIT_STEP_US);
			waited += MEM_WAIT_STEP_US;
		}
		sum += __atomic_load_n(&e->ws[i].pub_mem, __ATOMIC_RELAXED);
	}
	return sum;
}

static size_t control_text(struct tern_engine *e, char *buf, size_t len, size_t used)
{
	const struct tern_admit *a = tern_control_admit(e->ctl);
	char name[48];

	used = put(buf, len, used, "", "half_open", tern_admit_half_open(a));
	used = put(buf, len, used, "", "admitted", tern_admit_sessions(a));
	for (size_t i = 0; i < TERN_ARRAY_LEN(control_names); i++)
		used = put(buf, len, used, "ctl.", control_names[i].name,
		           load(&e->ctl_pub, control_names[i].off));
	for (int why = 1; why < (int)TERN_ARRAY_LEN(e->ctl_pub.fail); why++) {
		uint64_t v = load(&e->ctl_pub.fail[why], 0);
		const char *n = tern_connect_fail_name(why);
		size_t k = 0;

		if (strcmp(n, "unknown") == 0)
			continue;
		for (k = 0; n[k] && k + 1 < sizeof(name); k++)
			name[k] = n[k] == ' ' || n[k] == '-' ? '_'
			                                     : (char)tolower((unsigned char)n[k]);
		name[k] = '\0';
		used = put(buf, len, used, "ctl.fail.", name, v);
	}
	return used;
}

static size_t worker_text(struct wslot *ws, unsigned i, char *buf, size_t len, size_t used)
{
	char prefix[24];

	snprintf(prefix, sizeof(prefix), "worker%u.", i);
	used = put(buf, len, used, prefix, "sessions",
	           atomic_load_explicit(&ws->live, memory_order_relaxed));
	for (size_t k = 0; k < TERN_ARRAY_LEN(worker_names); k++)
		used = put(buf, len, used, prefix, worker_names[k].name,
		           load(&ws->pub, worker_names[k].off));
	return used;
}

size_t tern_engine_stats(struct tern_engine *e, char *buf, size_t len)
{
	size_t used = 0, live = 0;

	if (!len)
		return 0;
	buf[0] = '\0';
	if (!workers_busy(e)) { /* nobody publishes: take the counters as they are */
		for (unsigned i = 0; i < e->n; i++)
			if (e->ws[i].w_ok)
				tern_engine_publish_worker(&e->ws[i], e->ws[i].pub_at, 1);
		tern_engine_publish_control(e);
	}
	for (unsigned i = 0; i < e->n; i++)
		live += atomic_load_explicit(&e->ws[i].live, memory_order_relaxed);
	used = put(buf, len, used, "", "sessions", live);
	used = control_text(e, buf, len, used);
	used = put(buf, len, used, "", "mem.sessions", sessions_mem(e));
	/* the engine's memory budget (cfg.max_memory): the stream buffers */
	used = put(buf, len, used, "", "mem.budget_used", tern_budget_used(&e->budget));
	used = put(buf, len, used, "", "mem.budget_limit", e->budget.limit);
	for (unsigned i = 0; i < e->n; i++)
		used = worker_text(&e->ws[i], i, buf, len, used);
	return used;
}
