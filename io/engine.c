/* The engine's threads: one per worker, running tern_worker_poll against
 * its io_uring socket with an adaptive idle policy (spin briefly, then
 * sleep in the ring until a packet, a timer or a wake-up), and the control
 * thread, which feeds handshake packets and connect requests to the control
 * plane and carries its outputs to the workers over their inbox rings. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

#define MAX_SLEEP_US (50 * TERN_MS) /* the control thread wakes at least this often */

tern_time tern_engine_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (tern_time)ts.tv_sec * TERN_SEC + (tern_time)ts.tv_nsec / 1000;
}

static void wake_fd(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return; /* a full counter already means "wake up" */
}

/* A full barrier between a store and a later load (Dekker). ThreadSanitizer
 * does not model fences (gcc refuses them under -fsanitize=thread): there
 * it is a seq_cst read-modify-write of one shared word, which it does. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TERN_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) || defined(TERN_TSAN)
static atomic_uint fence_word;
static void full_fence(void)
{
	atomic_fetch_add(&fence_word, 0);
}
#else
static void full_fence(void)
{
	atomic_thread_fence(memory_order_seq_cst);
}
#endif

/* Wakes worker `worker`, or the control thread for -1, after the caller
 * queued something for it: a write to its eventfd only when it sleeps (a
 * worker that polls sees the ring at its next poll). seq_cst fence and
 * flag: either the sleeper's re-check after raising its flag sees what we
 * queued, or we see the flag (Dekker, with going_to_sleep). */
void tern_engine_wake(void *ctx, int worker)
{
	struct tern_engine *e = ctx;
	atomic_bool *asleep = worker < 0 ? &e->ctl_asleep : &e->ws[worker].asleep;

	full_fence();
	if (atomic_load(asleep))
		wake_fd(worker < 0 ? e->ctl_efd : e->ws[worker].efd);
}

/* Raises the sleeper's flag, then looks at its rings (and whether the
 * engine still runs) once more: false when something arrived meanwhile (the
 * caller polls instead of sleeping). */
static bool going_to_sleep(struct tern_engine *e, atomic_bool *asleep,
                           struct tern_ring *const *rings, unsigned n)
{
	atomic_store(asleep, true);
	full_fence();
	for (unsigned i = 0; i < n; i++) {
		if (tern_ring_count(rings[i]) || !atomic_load(&e->running)) {
			atomic_store(asleep, false);
			return false;
		}
	}
	return true;
}

/* Pins the calling thread to core (best effort: a busy core still works). */
void tern_engine_pin(int core)
{
	cpu_set_t set;

	if (core < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(core, &set);
	sched_setaffinity(0, sizeof(set), &set); /* best effort: a busy core still works */
}

/* The one worker loop, for every backend: poll, then let the idle policy
 * (tern_worker_idle_time) decide between polling again and sleeping in the
 * backend's wait, which a packet or tern_engine_wake ends early. */
void *tern_engine_worker_main(void *arg)
{
	struct wslot *ws = arg;
	struct tern_engine *e = ws->e;
	const struct tern_backend_ops *ops = ws->w.ops;

	if (e->cfg.cores && e->cfg.ncores)
		tern_engine_pin(e->cfg.cores[ws->w.id % e->cfg.ncores]);
	prctl(PR_SET_TIMERSLACK, 1UL); /* pacing and timer deadlines are in microseconds */
	if (ops->thread_start && ops->thread_start(ws->w.be) < 0 && e->cfg.log)
		e->cfg.log(e->cfg.log_ctx, TERN_LOG_ERROR, "worker: the backend failed to start");
	while (atomic_load_explicit(&e->running, memory_order_acquire)) {
		tern_time now = tern_engine_clock(), idle;
		unsigned work = tern_worker_poll(&ws->w, now);
		/* relaxed: stop() only polls this count until it reaches 0 */
		atomic_store_explicit(&ws->live, tern_worker_sessions(&ws->w),
		                      memory_order_relaxed);
		tern_engine_publish_worker(ws, now, work);
		if (e->cfg.latency_mode && !work)
			continue;
		idle = tern_worker_idle_time(&ws->w, work ? now : tern_engine_clock(), work);
		if (!work && !idle)
			sched_yield(); /* polling: let any thread waiting for this core run first */
		if (idle && ops->wait && going_to_sleep(e, &ws->asleep, &ws->w.inbox, 1)) {
			ops->wait(ws->w.be, idle);
			atomic_store(&ws->asleep, false);
		}
	}
	if (ops->thread_stop)
		ops->thread_stop(ws->w.be);
	return NULL;
}

/* ---- the control thread ---- */

static void ctl_send(void *ctx, const struct tern_addr *to, const uint8_t *data, size_t len)
{
	struct tern_engine *e = ctx;
	struct tern_wpkt *p = tern_wpkt_new(to, data, len);
	struct tern_msg m = {.type = TERN_MSG_SEND, .ptr = p};

	if (p && tern_ring_enqueue(e->inboxes[0], &m) == 0)
		tern_engine_wake(e, 0);
	else
		free(p);
}

static bool find_listener(struct tern_engine *e, uint16_t vport, uint8_t type,
                          struct tern_handler *out)
{
	bool found = false;

	pthread_mutex_lock(&e->lock);
	for (struct listener *l = e->listeners; l && !found; l = l->next) {
		if (l->active && l->vport == vport && l->stream_type == type) {
			if (out)
				*out = l->h;
			found = true;
		}
	}
	pthread_mutex_unlock(&e->lock);
	return found;
}

static bool ctl_listening(void *ctx, uint16_t vport, uint8_t type)
{
	return find_listener(ctx, vport, type, NULL);
}

/* A connect's context (cc) is freed only once its session is on its way;
 * on failure the control plane reports the connect failed with it. */
static int ctl_install(void *ctx, struct tern_session *s, const struct tern_hs_session_info *info,
                       const uint8_t *first, size_t first_len)
{
	struct tern_engine *e = ctx;
	struct tern_install *in = calloc(1, sizeof(*in));
	struct tern_connect_ctx *cc = info->user;
	unsigned owner = s->local_cid[0] % e->n;
	struct tern_msg m = {.type = TERN_MSG_INSTALL, .ptr = in};
	int rc = 0;

	if (!in)
		rc = TERN_ENOMEM;
	else if (!cc && !find_listener(e, info->vport, info->stream_type, &in->handler))
		rc = TERN_ECLOSED; /* unlistened since the handshake began */
	if (rc == 0) {
		in->s = s;
		in->info = *info;
		in->initiator = cc != NULL;
		if (cc) {
			in->handler = cc->handler;
			in->user = cc->user;
		}
		if (first_len && first_len <= sizeof(in->first_pkt)) {
			memcpy(in->first_pkt, first, first_len);
			in->first_len = (uint16_t)first_len;
		}
		rc = tern_ring_enqueue(e->inboxes[owner], &m) < 0 ? TERN_EAGAIN : 0;
	}
	if (rc < 0) {
		tern_session_free(s);
		free(in);
		return rc;
	}
	free(cc);
	tern_engine_wake(e, (int)owner);
	return 0;
}

static void ctl_failed(void *ctx, void *user, int why)
{
	struct tern_engine *e = ctx;
	struct tern_msg m = {.type = TERN_MSG_CONNECT_FAILED, .ptr = user, .aux = (uint32_t)why};

	if (tern_ring_enqueue(e->inboxes[0], &m) == 0)
		tern_engine_wake(e, 0);
	else
		free(user);
}

static void ctl_forget(void *ctx, void *user)
{
	(void)ctx;
	free(user); /* a struct tern_connect_ctx whose connect never finished */
}

static uint64_t ctl_wallclock(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void session_cfg(const struct tern_engine_cfg *c, struct tern_session_cfg *s)
{
	tern_session_cfg_default(s);
	s->cc = c->cc ? tern_cc_find(c->cc) : s->cc;
	s->max_streams = c->max_streams;
	s->stream_window = c->stream_window;
	s->conn_window = c->conn_window;
	s->send_buffer = c->send_buffer;
	s->stream_window_max = c->stream_window_max
	                               ? c->stream_window_max
	                               : TERN_MAX(s->stream_window_max, c->stream_window);
	s->conn_window_max = c->conn_window_max ? c->conn_window_max
	                                        : TERN_MAX(s->conn_window_max, c->conn_window);
	s->send_buffer_max = c->send_buffer_max ? c->send_buffer_max
	                                        : TERN_MAX(s->send_buffer_max, c->send_buffer);
	s->idle_timeout = c->idle_timeout_us;
	s->keepalive = c->keepalive_us;
	s->handshake_timeout = c->handshake_timeout_us;
}

int tern_engine_make_control(struct tern_engine *e)
{
	struct tern_control_ops ops = {.ctx = e,
	                               .send = ctl_send,
	                               .install = ctl_install,
	                               .failed = ctl_failed,
	                               .listening = ctl_listening,
	                               .wallclock = ctl_wallclock,
	                               .forget = ctl_forget};
	struct tern_control_cfg cc;
	const char *msg = NULL;
	int rc;

	tern_control_cfg_default(&cc);
	cc.identity = &e->identity;
	cc.allow = e->cfg.allow;
	cc.allow_ctx = e->cfg.allow_ctx;
	cc.ticket_key = e->cfg.ticket_key;
	cc.ticket_required = e->cfg.ticket_required;
	cc.aes = !e->cfg.prefer_chacha;
	cc.hs_timeout = e->cfg.handshake_timeout_us;
	cc.hs_queue_depth = e->cfg.handshake_queue_depth;
	cc.ratelimit.rate = e->cfg.handshake_rate;
	cc.ratelimit.burst = e->cfg.handshake_burst;
	cc.source_rate.rate = e->cfg.handshake_source_rate;
	cc.source_rate.burst = e->cfg.handshake_source_burst;
	cc.load_busy_pct = e->cfg.handshake_busy_pct;
	cc.max_half_open = e->cfg.max_half_open;
	cc.max_source_sessions = e->cfg.max_sessions_per_source;
	cc.workers = (uint8_t)e->n;
	session_cfg(&e->cfg, &cc.session);
	cc.session.budget = &e->budget;
	rc = tern_control_new(&e->ctl, &cc, &ops, tern_engine_clock(), &msg);
	if (rc < 0)
		snprintf(e->err, sizeof(e->err), "%s", msg ? msg : tern_strerror(rc));
	return rc;
}

static unsigned control_packets(struct tern_engine *e, struct wslot *ws, tern_time now)
{
	struct tern_msg msgs[64];
	unsigned n = tern_ring_dequeue_burst(ws->to_control, msgs, 64);

	for (unsigned i = 0; i < n; i++) {
		struct tern_wpkt *p = msgs[i].ptr;
		unsigned backlog = tern_ring_count(ws->to_control) + (n - 1 - i);
		tern_control_on_packet(e->ctl, p->data, p->len, &p->addr, backlog, p->worker, now);
		free(p);
	}
	return n;
}

static unsigned control_connects(struct tern_engine *e, tern_time now)
{
	struct tern_msg m;
	unsigned n = 0;

	while (tern_ring_dequeue(e->ctl_inbox, &m) == 0) {
		struct connect_msg *cm = m.ptr;
		int rc;
		cm->req.server_pub = cm->server_pub;
		cm->req.ticket = cm->req.ticket_len ? cm->ticket : NULL;
		cm->req.user = cm->cc;
		rc = tern_control_connect(e->ctl, &cm->req, now);
		if (rc < 0)
			ctl_failed(e, cm->cc,
			           rc == TERN_ELIMIT ? TERN_HS_REFUSED_LOAD : TERN_HS_INTERNAL);
		free(cm);
		n++;
	}
	return n;
}

static void control_sleep(struct tern_engine *e, tern_time now)
{
	tern_time next = tern_control_deadline(e->ctl);
	struct pollfd pfd = {.fd = e->ctl_efd, .events = POLLIN};
	uint64_t v;
	int ms;

	next = next > now ? next - now : 0;
	ms = (int)((TERN_MIN(next, MAX_SLEEP_US) + 999) / 1000);
	if (poll(&pfd, 1, ms) > 0 && read(e->ctl_efd, &v, sizeof(v)) < 0)
		return;
}

unsigned tern_engine_control_step(struct tern_engine *e, tern_time now)
{
	unsigned work = control_connects(e, now);
	tern_time done;
	bool due;

	for (unsigned i = 0; i < e->n; i++)
		work += control_packets(e, &e->ws[i], now);
	due = now >= tern_control_deadline(e->ctl);
	if (due)
		tern_control_on_timeout(e->ctl, now);
	if (work) { /* the time it took is what load costs (tern_control_busy) */
		done = tern_engine_clock();
		tern_control_busy(e->ctl, done - now, done);
	}
	if (work || due)
		tern_engine_publish_control(e);
	return work;
}

void *tern_engine_control_main(void *arg)
{
	struct tern_engine *e = arg;

	if (e->cfg.control_core >= 0)
		tern_engine_pin(e->cfg.control_core);
	while (atomic_load_explicit(&e->running, memory_order_acquire)) {
		tern_time now = tern_engine_clock();
		unsigned work = tern_engine_control_step(e, now);
		if (!work && going_to_sleep(e, &e->ctl_asleep, e->ctl_rings, e->n + 1)) {
			control_sleep(e, now);
			atomic_store(&e->ctl_asleep, false);
		}
	}
	return NULL;
}

/* ---- inline engines: the caller's thread is the worker and the control
 * thread ---- */

/* One round of both; how long it may then sleep (0: poll again). */
static unsigned inline_round(struct tern_engine *e, tern_time *sleep)
{
	struct wslot *ws = &e->ws[0];
	tern_time now = tern_engine_clock(), next;
	unsigned work = tern_engine_control_step(e, now);

	work += tern_worker_poll(&ws->w, now);
	e->inline_sends = 0;
	e->inline_polled = now;
	atomic_store_explicit(&ws->live, tern_worker_sessions(&ws->w), memory_order_relaxed);
	tern_engine_publish_worker(ws, now, work);
	*sleep = e->cfg.latency_mode && !work ? 0 : tern_worker_idle_time(&ws->w, now, work);
	next = tern_control_deadline(e->ctl);
	if (*sleep && next != TERN_TIME_NEVER)
		*sleep = TERN_MIN(*sleep, next > now ? next - now : 0);
	return work;
}

int tern_engine_poll(struct tern_engine *e, uint64_t timeout_us)
{
	tern_time start = tern_engine_clock();
	const struct tern_backend_ops *ops;

	if (!e->cfg.inline_mode || !atomic_load_explicit(&e->running, memory_order_relaxed)) {
		snprintf(e->err, sizeof(e->err), "poll: %s",
		         e->cfg.inline_mode
		                 ? "the engine is not started"
		                 : "the engine runs its own threads (inline_mode is off)");
		return TERN_ESTATE;
	}
	if (!e->inline_owned) {
		e->inline_owned = true;
		e->inline_owner = pthread_self();
	} else if (!pthread_equal(e->inline_owner, pthread_self())) {
		snprintf(e->err, sizeof(e->err),
		         "poll: an inline engine is driven by the one thread that first polled it");
		return TERN_ESTATE;
	}
	ops = e->ws[0].w.ops;
	for (;;) {
		tern_time sleep, spent;
		unsigned work = inline_round(e, &sleep);
		if (work)
			return (int)TERN_MIN(work, (unsigned)INT32_MAX);
		spent = tern_engine_clock() - start;
		if (spent >= timeout_us)
			return 0;
		if (sleep && ops->wait)
			ops->wait(e->ws[0].w.be, TERN_MIN(sleep, timeout_us - spent));
		else
			sched_yield(); /* as the threaded loop: others waiting for the core go first */
	}
}

void tern_engine_inline_flush(struct tern_engine *e)
{
	/* the clock on the first send after a poll and every 16th after: a
	 * burst of small sends reads it rarely, a lone send after a quiet spell
	 * is flushed at once */
	if (e->cfg.inline_mode && (e->inline_sends++ & 15) == 0 &&
	    tern_engine_clock() - e->inline_polled >= TERN_INLINE_FLUSH_US)
		tern_engine_poll(e, 0);
}
