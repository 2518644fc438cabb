/* The handle API's application side (tern/handle.h): handle lifecycle and
 * references, connects, sending (through the send ring, handle_tx.c), the
 * commands posted to workers (close, abort, resume), and the waits: an
 * event count over a futex, so any number of threads can wait on one
 * handle and a worker wakes them without a lock, and without a syscall when
 * nobody sleeps. Receiving and listeners are in handle_recv.c, the worker
 * side in handle_rx.c; what crosses between them is described in
 * handle_int.h. */
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "handle_int.h"

#define WAIT_SLICE_US (20 * TERN_MS) /* re-check at least this often (inbox-full retries) */
#define SPIN_US 10                   /* a waiter spins this long before the futex */
#define POST_TRIES 1000              /* release's close: a full inbox is retried this many times */

/* ---- waiting ---- */

void tern_evc_notify(struct evc *ev)
{
	/* seq_cst on both: either the waiter sees the new seq, or we see its
	 * registration (Dekker pattern with evc_sleep). */
	atomic_fetch_add(&ev->seq, 1);
	if (atomic_load(&ev->waiters))
		syscall(SYS_futex, &ev->seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* A worker that is busy answers within microseconds: watch seq briefly
 * before paying a futex sleep and wake-up. True when seq moved. */
static bool evc_spin(struct evc *ev, unsigned seen)
{
	tern_time until = tern_engine_clock() + SPIN_US;

	do {
		for (int i = 0; i < 64; i++) {
			if (atomic_load_explicit(&ev->seq, memory_order_acquire) != seen)
				return true;
			TERN_CPU_RELAX();
		}
	} while (tern_engine_clock() < until);
	return false;
}

static void evc_sleep(struct evc *ev, unsigned seen, uint64_t us)
{
	struct timespec ts = {.tv_sec = (time_t)(us / 1000000),
	                      .tv_nsec = (long)(us % 1000000) * 1000};

	atomic_fetch_add(&ev->waiters, 1);
	if (atomic_load(&ev->seq) == seen)
		syscall(SYS_futex, &ev->seq, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
	atomic_fetch_sub(&ev->waiters, 1);
}

/* An inline engine works only while called: poll it between tries. */
static int inline_wait_for(struct tern_engine *e, uint64_t timeout_us, tern_try_fn try, void *arg)
{
	uint64_t start = 0, spent = 0;
	bool polled = false;

	for (;;) {
		int rc = try(arg);
		if (rc != TERN_EAGAIN)
			return rc;
		/* the clock only once there is a wait to time (a vDSO read cost
		 * 18% of a receiver taking messages already queued) */
		if (!start)
			start = tern_engine_clock();
		else
			spent = tern_engine_clock() - start;
		if (polled && timeout_us != TERN_FOREVER && spent >= timeout_us)
			return timeout_us ? TERN_ETIMEDOUT : TERN_EAGAIN;
		rc = tern_engine_poll(e, TERN_MIN(timeout_us == TERN_FOREVER || spent >= timeout_us
		                                          ? (uint64_t)WAIT_SLICE_US
		                                          : timeout_us - spent,
		                                  (uint64_t)WAIT_SLICE_US));
		if (rc < 0)
			return rc;
		polled = true;
	}
}

int tern_evc_wait_for(struct tern_engine *poll, struct evc *ev, uint64_t timeout_us,
                      tern_try_fn try, void *arg)
{
	uint64_t start = 0, spent = 0;

	if (poll)
		return inline_wait_for(poll, timeout_us, try, arg);
	for (;;) {
		unsigned seen = atomic_load(&ev->seq);
		int rc = try(arg);
		if (rc != TERN_EAGAIN || timeout_us == 0)
			return rc;
		if (!start) /* the clock only once there is a wait to time */
			start = tern_engine_clock();
		else
			spent = tern_engine_clock() - start;
		if (timeout_us != TERN_FOREVER && spent >= timeout_us)
			return TERN_ETIMEDOUT;
		if (evc_spin(ev, seen))
			continue;
		evc_sleep(ev, seen,
		          TERN_MIN(timeout_us == TERN_FOREVER ? UINT64_MAX : timeout_us - spent,
		                   (uint64_t)WAIT_SLICE_US));
	}
}

/* ---- the hub ---- */

struct tern_hub *tern_hub_get(struct tern_engine *e)
{
	pthread_mutex_lock(&e->lock);
	if (!e->hub && (e->hub = calloc(1, sizeof(*e->hub))) != NULL)
		pthread_mutex_init(&e->hub->lock, NULL);
	pthread_mutex_unlock(&e->lock);
	return e->hub;
}

static void hub_add(struct tern_handle *h)
{
	pthread_mutex_lock(&h->hub->lock);
	h->hub_next = h->hub->handles;
	if (h->hub_next)
		h->hub_next->hub_prev = h;
	h->hub->handles = h;
	pthread_mutex_unlock(&h->hub->lock);
}

static void hub_remove_locked(struct tern_hub *hub, struct tern_handle *h)
{
	if (h->hub_prev)
		h->hub_prev->hub_next = h->hub_next;
	else
		hub->handles = h->hub_next;
	if (h->hub_next)
		h->hub_next->hub_prev = h->hub_prev;
	h->hub_prev = h->hub_next = NULL;
}

/* ---- handles ---- */

void tern_msg_free_data(struct tern_handle *h, struct tern_msg *m)
{
	struct rxchunk *k = tern_rxbuf_chunk(m);

	if (k)
		tern_rxbuf_release(h, k);
	else
		free(m->ptr);
	m->ptr = NULL;
}

static void free_held(struct tern_handle *h, struct held *it)
{
	while (it) {
		struct held *next = it->next;
		tern_msg_free_data(h, &it->m);
		free(it);
		it = next;
	}
}

struct tern_handle *tern_handle_new(struct tern_engine *e, struct tern_hub *hub)
{
	struct tern_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	/* one bit per stream the engine allows (a whole word at least) */
	h->fin_sent = calloc(e->cfg.max_streams / 64u + 1, sizeof(*h->fin_sent));
	if (!h->fin_sent || tern_ring_new(&h->rx, TERN_HANDLE_RECV_SLOTS, TERN_RING_SPSC) < 0) {
		free(h->fin_sent);
		free(h);
		return NULL;
	}
	h->e = e;
	h->hub = hub;
	h->inline_mode = e->cfg.inline_mode;
	h->max_streams = e->cfg.max_streams;
	tern_handle_tx_init(h, e->cfg.send_buffer, e->cfg.max_streams);
	h->rx_budget = TERN_HANDLE_RECV_BYTES;
	atomic_init(&h->state, TERN_HANDLE_CONNECTING);
	pthread_mutex_init(&h->rx_lock, NULL);
	hub_add(h);
	return h;
}

static void destroy(struct tern_handle *h)
{
	struct tern_msg m;

	if (h->hub) {
		pthread_mutex_lock(&h->hub->lock);
		hub_remove_locked(h->hub, h);
		pthread_mutex_unlock(&h->hub->lock);
	}
	while (tern_ring_dequeue(h->rx, &m) == 0)
		tern_msg_free_data(h, &m);
	tern_ring_free(h->rx);
	if (h->has_head)
		tern_msg_free_data(h, &h->head);
	free_held(h, h->closed_held);
	free_held(h, h->held_head);
	tern_rxbuf_free(h); /* after the messages: every chunk, wherever it is */
	tern_handle_tx_free(h);
	free(h->fin_sent);
	pthread_mutex_destroy(&h->rx_lock);
	free(h);
}

void tern_handle_unref(struct tern_handle *h)
{
	/* acq_rel: the last one sees every other holder's writes */
	if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) == 1)
		destroy(h);
}

void tern_handle_end(struct tern_handle *h, const struct tern_reason *r)
{
	if (atomic_load_explicit(&h->state, memory_order_relaxed) != TERN_HANDLE_CLOSED) {
		h->reason = *r;
		h->closed_held = h->held_head; /* the app reads it after CLOSED */
		h->held_head = h->held_tail = NULL;
		/* release: pairs with the app's acquire load of state */
		atomic_store_explicit(&h->state, TERN_HANDLE_CLOSED, memory_order_release);
		tern_evc_notify(&h->ev);
	}
	if (atomic_exchange(&h->wref, false))
		tern_handle_unref(h);
}

/* Hands cmd to the session's worker, or frees it and returns TERN_EAGAIN.
 * On an inline engine the caller is the worker: it runs the command now. */
static int post(struct tern_handle *h, struct hcmd *cmd)
{
	struct tern_msg m = {.type = TERN_MSG_CALL, .ptr = cmd};

	if (h->inline_mode) {
		tern_handle_run_cmd(&h->e->ws[0].w, cmd, tern_engine_clock());
		return 0;
	}
	if (tern_ring_enqueue(h->e->inboxes[h->worker], &m) < 0) {
		free(cmd);
		return TERN_EAGAIN;
	}
	tern_engine_wake(h->e, (int)h->worker);
	return 0;
}

int tern_handle_post_op(struct tern_handle *h, uint8_t op, uint64_t code, const char *text)
{
	size_t n = text ? strnlen(text, TERN_REASON_MAX) : 0;
	struct hcmd *cmd = malloc(sizeof(*cmd) + (n ? n + 1 : 0));

	if (!cmd)
		return TERN_ENOMEM;
	*cmd = (struct hcmd){.call = {tern_handle_run_cmd, cmd},
	                     .h = h,
	                     .key = h->key,
	                     .code = code,
	                     .len = n ? n + 1 : 0,
	                     .op = op};
	if (n) {
		memcpy(cmd->data, text, n);
		cmd->data[n] = '\0';
	}
	tern_handle_tx_repost(h); /* a notice the inbox refused goes before the command */
	return post(h, cmd);
}

int tern_handle_usable(const struct tern_handle *h)
{
	/* acquire: pairs with the worker's release of OPEN (key, worker) or CLOSED */
	int st = atomic_load_explicit(&h->state, memory_order_acquire);

	return st == TERN_HANDLE_OPEN ? 0 : st == TERN_HANDLE_CLOSED ? TERN_ECLOSED : TERN_ESTATE;
}

/* ---- connect ---- */

int tern_handle_connect_async(struct tern_engine *e, const struct tern_connect_opts *o,
                              struct tern_handle **out)
{
	struct tern_hub *hub = tern_hub_get(e);
	struct tern_connect_opts opts;
	struct tern_handle *h;
	int rc;

	*out = NULL;
	if (!o)
		return TERN_EINVAL;
	if (!hub || !(h = tern_handle_new(e, hub)))
		return TERN_ENOMEM;
	atomic_store(&h->refs, 2); /* the application's and wref */
	atomic_store(&h->app_refs, 1);
	atomic_store(&h->wref, true);
	opts = *o;
	opts.handler = &tern_handle_connect_handler;
	opts.user = h;
	rc = tern_connect(e, &opts);
	if (rc < 0) {
		atomic_store(&h->refs, 1);
		tern_handle_unref(h);
		return rc;
	}
	*out = h;
	return 0;
}

static int try_open(void *arg)
{
	int rc = tern_handle_usable(arg);

	return rc == TERN_ESTATE ? TERN_EAGAIN : rc;
}

int tern_handle_wait_open(struct tern_handle *h, uint64_t timeout_us)
{
	int rc = tern_evc_wait_for(TERN_HANDLE_POLL(h), &h->ev, timeout_us, try_open, h);

	return rc == TERN_ETIMEDOUT ? TERN_EAGAIN : rc;
}

int tern_handle_connect(struct tern_engine *e, const struct tern_connect_opts *o,
                        uint64_t timeout_us, struct tern_handle **out, struct tern_reason *why)
{
	struct tern_handle *h;
	int rc = tern_handle_connect_async(e, o, &h);

	*out = NULL;
	if (rc < 0)
		return rc;
	rc = tern_handle_wait_open(h, timeout_us);
	if (rc == 0) {
		*out = h;
		return 0;
	}
	if (rc == TERN_ECLOSED) {
		if (why)
			*why = h->reason;
		rc = h->reason.err == TERN_ETIMEDOUT ? TERN_ETIMEDOUT : TERN_ECLOSED;
	} else {
		rc = TERN_ETIMEDOUT;
		if (why)
			*why = (struct tern_reason){.err = TERN_ETIMEDOUT,
			                            .what = "no session within the timeout"};
	}
	tern_handle_release(h);
	return rc;
}

/* ---- sending ---- */

/* An inline engine's send: straight into the session (its one copy), not
 * through the ring; flushed when the engine was last polled over
 * TERN_INLINE_FLUSH_US ago, else at the next call into the engine. */
static int send_inline(struct tern_handle *h, uint16_t stream, const void *msg, size_t len)
{
	struct tern_conn *c = h->inline_conn; /* one thread: no lock, no lookup */
	int rc;

	if ((h->fin_sent[stream / 64] & (1ull << (stream % 64))) || !c)
		return TERN_ECLOSED;
	rc = tern_send(c, stream, msg, len);
	if (rc == TERN_EAGAIN)
		h->inline_blocked = true;
	else if (rc == 0)
		tern_engine_inline_flush(h->e);
	return rc;
}

int tern_handle_send(struct tern_handle *h, uint16_t stream, const void *msg, size_t len)
{
	int rc = tern_handle_usable(h);

	if (rc < 0)
		return rc;
	if (!msg || !len || stream >= h->max_streams)
		return TERN_EINVAL;
	if (len > TERN_MAX_MESSAGE)
		return TERN_ETOOBIG;
	if (h->inline_mode)
		return send_inline(h, stream, msg, len);
	return tern_handle_tx_put(h, TX_SEND, stream, msg, len);
}

/* A fin is a record in the send ring, behind every send before it; a send
 * after it finds the stream marked. */
int tern_handle_finish(struct tern_handle *h, uint16_t stream)
{
	int rc = tern_handle_usable(h);

	if (rc < 0)
		return rc;
	if (stream >= h->max_streams)
		return TERN_EINVAL;
	return tern_handle_tx_put(h, TX_FIN, stream, NULL, 0);
}

int tern_handle_send_datagram(struct tern_handle *h, const void *data, size_t len)
{
	int rc = tern_handle_usable(h);

	if (rc < 0)
		return rc;
	if (!data || !len)
		return TERN_EINVAL;
	if (len > h->max_dgram)
		return TERN_ETOOBIG;
	return tern_handle_tx_put(h, TX_DGRAM, 0, data, len);
}

struct writable_arg {
	struct tern_handle *h;
	size_t len;
};

static int try_writable(void *arg)
{
	struct writable_arg *a = arg;

	if (tern_handle_usable(a->h) == TERN_ECLOSED)
		return TERN_ECLOSED;
	if (a->h->inline_mode)
		return a->h->inline_blocked ? TERN_EAGAIN : 0;
	tern_handle_tx_repost(a->h);
	return tern_handle_tx_room(a->h, a->len) ? 0 : TERN_EAGAIN;
}

int tern_handle_wait_writable(struct tern_handle *h, size_t len, uint64_t timeout_us)
{
	struct writable_arg a = {h, len};
	int rc = tern_evc_wait_for(TERN_HANDLE_POLL(h), &h->ev, timeout_us, try_writable, &a);

	return rc == TERN_EAGAIN ? TERN_ETIMEDOUT : rc;
}

size_t tern_handle_max_datagram(const struct tern_handle *h)
{
	return tern_handle_usable(h) == TERN_ESTATE ? 0 : h->max_dgram;
}

/* ---- close and references ---- */

static int close_op(struct tern_handle *h, uint8_t op, uint64_t code, const char *reason)
{
	int rc = tern_handle_usable(h);

	if (rc == TERN_ESTATE) {
		atomic_store(&h->close_req, true); /* seq_cst: pairs with on_connect */
		rc = tern_handle_usable(h);
		if (rc == TERN_ESTATE)
			return 0; /* on_connect closes it */
	}
	return rc < 0 ? rc : tern_handle_post_op(h, op, code, reason);
}

int tern_handle_close(struct tern_handle *h)
{
	return close_op(h, OP_CLOSE, 0, NULL);
}

int tern_handle_abort(struct tern_handle *h, uint64_t app_code, const char *reason)
{
	return close_op(h, OP_ABORT, app_code, reason);
}

enum tern_handle_state tern_handle_state(const struct tern_handle *h)
{
	return (enum tern_handle_state)atomic_load_explicit(&h->state, memory_order_acquire);
}

int tern_handle_reason(const struct tern_handle *h, struct tern_reason *out)
{
	if (tern_handle_usable(h) != TERN_ECLOSED)
		return TERN_ESTATE;
	*out = h->reason;
	return 0;
}

void tern_handle_stats(const struct tern_handle *h, struct tern_handle_stats *out)
{
	out->msgs_received = atomic_load_explicit(&h->n_msgs, memory_order_relaxed);
	out->datagrams_received = atomic_load_explicit(&h->n_dgrams, memory_order_relaxed);
	out->datagrams_dropped = atomic_load_explicit(&h->n_dropped, memory_order_relaxed);
	out->holds = atomic_load_explicit(&h->n_holds, memory_order_relaxed);
	out->held_bytes_max = atomic_load_explicit(&h->n_held_max, memory_order_relaxed);
	out->send_retries = atomic_load_explicit(&h->n_retries, memory_order_relaxed);
}

void tern_handle_ref(struct tern_handle *h)
{
	atomic_fetch_add_explicit(&h->app_refs, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
}

/* The application let go: close an open session gracefully. A full inbox
 * is retried briefly; if it stays full the session ends by idle timeout. */
static void app_gone(struct tern_handle *h)
{
	atomic_store(&h->app_gone, true); /* seq_cst: pairs with on_connect */
	if (tern_handle_usable(h) != 0)
		return;
	for (int i = 0; i < POST_TRIES; i++) {
		if (tern_handle_post_op(h, OP_CLOSE, 0, NULL) != TERN_EAGAIN)
			return;
		usleep(100);
	}
}

void tern_handle_release(struct tern_handle *h)
{
	if (!h)
		return;
	if (atomic_fetch_sub_explicit(&h->app_refs, 1, memory_order_acq_rel) == 1)
		app_gone(h);
	tern_handle_unref(h);
}
