/* The handle API's consuming ends (tern/handle.h): receiving a handle's
 * messages from its ring, accepting handles from a listener's queue, and
 * ending every handle and listener when the engine is freed.
 *
 * Each ring has one consumer, so receivers (and accepters) take turns under
 * a mutex held for one non-blocking attempt, never while they sleep; the
 * worker producing into the ring takes no lock. A message that does not fit
 * the caller's buffer stays at the head (h->head) for the next call; the
 * peer's FIN of a stream is a record without data that any call takes. */
#include <stdlib.h>

#include "handle_int.h"

#define DEFAULT_BACKLOG 128

/* ---- receiving ---- */

/* The ring has room again: ask the worker for what it holds back. */
static void maybe_resume(struct tern_handle *h)
{
	/* acquire: pairs with the worker's release in hold() */
	if (!atomic_load_explicit(&h->rx_held, memory_order_acquire) ||
	    tern_ring_count(h->rx) > tern_ring_capacity(h->rx) / 2 ||
	    atomic_load_explicit(&h->rx_bytes, memory_order_relaxed) > h->rx_budget / 2 ||
	    tern_handle_usable(h) < 0 || !atomic_exchange(&h->rx_held, false))
		return;
	if (tern_handle_post_op(h, OP_RESUME, 0, NULL) < 0)
		atomic_store(&h->rx_held, true); /* inbox full: the next attempt retries */
}

/* Loads the next message into h->head; under rx_lock. Whatever the worker
 * put in the ring before CLOSED is there once CLOSED is seen, so the state
 * is read first; the held list comes after the ring (it is younger). */
static bool load_head(struct tern_handle *h)
{
	bool closed = tern_handle_usable(h) == TERN_ECLOSED;

	if (h->has_head)
		return true;
	if (tern_ring_dequeue(h->rx, &h->head) == 0) {
		atomic_fetch_sub_explicit(&h->rx_bytes, h->head.aux, memory_order_relaxed);
		h->has_head = true;
	} else if (closed && h->closed_held) {
		struct held *it = h->closed_held;
		h->closed_held = it->next;
		h->head = it->m;
		free(it);
		h->has_head = true;
	}
	if (!closed)
		maybe_resume(h);
	return h->has_head;
}

struct recv_arg {
	struct tern_handle *h;
	void *buf;
	size_t cap;
	struct tern_recv_info *info;
};

static void fill_info(struct tern_recv_info *info, const struct tern_msg *m)
{
	info->len = m->aux;
	info->stream = m->type == RX_DGRAM ? TERN_STREAM_DATAGRAMS : m->len;
	info->lane = m->type == RX_DGRAM ? (int)m->len - 1 : -1;
	info->fin = m->type == RX_FIN;
}

static int take_direct(struct tern_handle *h, struct recv_arg *a)
{
	int len = (int)h->direct.info.len;

	if (a->info)
		*a->info = h->direct.info;
	h->direct = (struct direct_rx){0};
	return len;
}

/* One attempt: the head message into the caller's buffer (a FIN record
 * needs no room and returns 0). */
static int try_recv(void *arg)
{
	struct recv_arg *a = arg;
	struct tern_handle *h = a->h;
	struct tern_msg *m = &h->head;
	int rc;

	if (h->inline_mode && h->direct.done) /* a message went straight into buf */
		return take_direct(h, a);
	tern_handle_tx_repost(h); /* a receiver may be the only thread left calling */
	pthread_mutex_lock(&h->rx_lock);
	if (!load_head(h)) {
		rc = tern_handle_usable(h) == TERN_ECLOSED ? TERN_ECLOSED : TERN_EAGAIN;
		pthread_mutex_unlock(&h->rx_lock);
		if (rc == TERN_EAGAIN && h->inline_mode && a->cap)
			h->direct = (struct direct_rx){.buf = a->buf, .cap = a->cap, .armed = true};
		return rc;
	}
	if (a->info)
		fill_info(a->info, m);
	rc = m->aux > a->cap ? TERN_ETOOBIG : (int)m->aux;
	if (rc >= 0) {
		if (rc > 0)
			memcpy(a->buf, m->ptr ? m->ptr : m->data, m->aux);
		tern_msg_free_data(h, m);
		h->has_head = false;
	}
	pthread_mutex_unlock(&h->rx_lock);
	return rc;
}

int tern_handle_recv(struct tern_handle *h, void *buf, size_t cap, struct tern_recv_info *info,
                     uint64_t timeout_us)
{
	struct recv_arg a = {h, buf, cap, info};
	int rc;

	if (!buf && cap)
		return TERN_EINVAL;
	/* h->direct is an inline engine's (one thread): threaded engines never
	 * touch it, their worker runs beside us */
	if (h->inline_mode && h->direct.armed) /* a callback's recv inside a recv */
		return TERN_EAGAIN;
	rc = tern_evc_wait_for(TERN_HANDLE_POLL(h), &h->ev, timeout_us, try_recv, &a);
	if (h->inline_mode)
		h->direct.armed = false; /* no message may land in buf after we return */
	return rc;
}

/* ---- listeners ---- */

static void listener_unref(struct tern_hlistener *l)
{
	if (atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) != 1)
		return;
	tern_ring_free(l->ring);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static struct tern_hlistener *listener_new(struct tern_engine *e, struct tern_hub *hub,
                                           unsigned backlog)
{
	struct tern_hlistener *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	if (tern_ring_new(&l->ring, backlog ? backlog : DEFAULT_BACKLOG, TERN_RING_MPSC) < 0) {
		free(l);
		return NULL;
	}
	l->e = e;
	l->hub = hub;
	l->inline_mode = e->cfg.inline_mode;
	atomic_init(&l->refs, 2); /* the hub's and the application's */
	pthread_mutex_init(&l->lock, NULL);
	return l;
}

int tern_handle_listen(struct tern_engine *e, uint16_t vport, uint8_t stream_type, unsigned backlog,
                       struct tern_hlistener **out)
{
	struct tern_hub *hub = tern_hub_get(e);
	struct tern_hlistener *l;
	struct tern_handler hd;
	int rc;

	*out = NULL;
	if (!hub || !(l = listener_new(e, hub, backlog)))
		return TERN_ENOMEM;
	l->vport = vport;
	l->stream_type = stream_type;
	tern_handle_listener_handler(l, &hd);
	rc = tern_listen(e, vport, stream_type, &hd);
	if (rc < 0) {
		atomic_store(&l->refs, 1);
		listener_unref(l);
		return rc;
	}
	pthread_mutex_lock(&hub->lock);
	l->next = hub->listeners; /* kept until the engine goes: sessions may still name it */
	hub->listeners = l;
	pthread_mutex_unlock(&hub->lock);
	*out = l;
	return 0;
}

struct accept_arg {
	struct tern_hlistener *l;
	struct tern_handle **out;
};

static int try_accept(void *arg)
{
	struct accept_arg *a = arg;
	struct tern_msg m;
	int rc;

	pthread_mutex_lock(&a->l->lock);
	rc = tern_ring_dequeue(a->l->ring, &m);
	pthread_mutex_unlock(&a->l->lock);
	if (rc == 0) {
		*a->out = m.ptr; /* the queue's reference becomes the caller's */
		return 0;
	}
	/* acquire: pairs with tern_hlistener_close's release */
	return atomic_load_explicit(&a->l->closed, memory_order_acquire) ? TERN_ECLOSED
	                                                                 : TERN_EAGAIN;
}

int tern_handle_accept(struct tern_hlistener *l, uint64_t timeout_us, struct tern_handle **out)
{
	struct accept_arg a = {l, out};

	*out = NULL;
	return tern_evc_wait_for(TERN_HANDLE_POLL(l), &l->ev, timeout_us, try_accept, &a);
}

/* Closes the sessions still queued (their only reference is the queue's). */
static void drain_queue(struct tern_hlistener *l)
{
	struct tern_msg m;

	pthread_mutex_lock(&l->lock);
	while (tern_ring_dequeue(l->ring, &m) == 0)
		tern_handle_release(m.ptr);
	pthread_mutex_unlock(&l->lock);
}

void tern_hlistener_close(struct tern_hlistener *l)
{
	if (!l)
		return;
	if (l->e)
		tern_unlisten(l->e, l->vport, l->stream_type);
	/* release: a worker that sees it refuses; one that missed it is drained
	 * here or, if later still, when the engine goes */
	atomic_store_explicit(&l->closed, true, memory_order_release);
	tern_evc_notify(&l->ev);
	drain_queue(l);
	listener_unref(l);
}

/* ---- the engine goes ---- */

static void end_listeners(struct tern_hub *hub)
{
	while (hub->listeners) {
		struct tern_hlistener *l = hub->listeners;
		hub->listeners = l->next;
		l->e = NULL;
		atomic_store_explicit(&l->closed, true, memory_order_release);
		drain_queue(l);
		listener_unref(l);
	}
}

/* The threads have stopped (tern_engine_free): every handle still tied to
 * the engine is ended, and unhooked from the hub that is about to go. */
void tern_hub_free(struct tern_engine *e)
{
	static const struct tern_reason gone = {.err = TERN_ECLOSED,
	                                        .what = "the engine was freed"};
	struct tern_hub *hub = e->hub;

	if (!hub)
		return;
	end_listeners(hub);
	while (hub->handles) {
		struct tern_handle *h = hub->handles;
		hub->handles = h->hub_next;
		h->hub = NULL;
		h->hub_prev = h->hub_next = NULL;
		if (hub->handles)
			hub->handles->hub_prev = NULL;
		tern_handle_end(h, &gone);
	}
	pthread_mutex_destroy(&hub->lock);
	free(hub);
	e->hub = NULL;
}
