/* The handle API's worker side: the tern_handler callbacks that turn a
 * session's events into handle state and ring messages, and the commands
 * application threads post to the owning worker.
 *
 * It runs on the session's worker and takes no lock on the data path.
 * Backpressure: when the handle's receive ring is full (slots or bytes), a
 * message goes to the handle's held list instead and the session stops
 * returning flow-control credit (tern_session_hold_credit), so the peer can
 * send at most what it was already granted: the held list is bounded by
 * one connection window plus what was in flight. Nothing reliable is ever
 * dropped; when the application has drained half the ring it posts
 * OP_RESUME, the held list moves into the ring, and credit flows again.
 * A stream the peer finished becomes an RX_FIN record on the same path as
 * its messages (ring, else held list), so it is read after all of them.
 * A message's bytes go into the handle's receive chunks (handle_rxbuf.c);
 * no chunk to be had counts as a full ring. Held messages, and messages
 * over a chunk, are malloc'd copies. */
#include <stdlib.h>

#include "handle_int.h"

/* ---- ring messages ---- */

/* Whether the ring takes a message of len bytes now: a free slot, and the
 * byte budget (an empty ring takes any size). Only we add: a room seen
 * here stays. */
static bool rx_room(struct tern_handle *h, size_t len)
{
	/* relaxed: a budget, not a publication (the ring orders the message);
	 * a stale figure is too high, never too low */
	size_t bytes = atomic_load_explicit(&h->rx_bytes, memory_order_relaxed);

	return !(bytes && bytes + len > h->rx_budget) &&
	       tern_ring_count(h->rx) < tern_ring_capacity(h->rx);
}

static int rx_push(struct tern_handle *h, const struct tern_msg *m)
{
	if (!rx_room(h, m->aux))
		return TERN_EAGAIN;
	/* relaxed: as in rx_room */
	atomic_fetch_add_explicit(&h->rx_bytes, m->aux, memory_order_relaxed);
	if (tern_ring_enqueue(h->rx, m) < 0) { /* rx_room said a slot was free: never */
		atomic_fetch_sub_explicit(&h->rx_bytes, m->aux, memory_order_relaxed);
		return TERN_EAGAIN;
	}
	return 0;
}

static void msg_init(struct tern_msg *m, int kind, uint16_t tag, size_t len)
{
	memset(m, 0, sizeof(*m));
	m->type = (uint16_t)kind;
	m->len = tag;
	m->aux = (uint32_t)len;
}

/* A message with its own copy of data: inline, else malloc'd (held
 * messages, and messages larger than a chunk). */
static int msg_copy(struct tern_msg *m, int kind, uint16_t tag, const void *data, size_t len)
{
	msg_init(m, kind, tag, len);
	if (len <= TERN_MSG_INLINE) {
		if (len) /* a fin has no data (and data may be NULL) */
			memcpy(m->data, data, len);
		return 0;
	}
	if (!(m->ptr = malloc(len)))
		return TERN_ENOMEM;
	memcpy(m->ptr, data, len);
	return 0;
}

/* Into the ring, the data inline or in a chunk (over a chunk: malloc'd).
 * TERN_EAGAIN: no room in the ring or no chunk; TERN_ENOMEM. */
static int rx_put(struct tern_handle *h, int kind, uint16_t tag, const void *data, size_t len)
{
	struct tern_msg m;

	if (!rx_room(h, len))
		return TERN_EAGAIN;
	if (len > TERN_MSG_INLINE && len <= RX_CHUNK) {
		msg_init(&m, kind, tag, len);
		if (!tern_rxbuf_put(h, &m, data, len))
			return TERN_EAGAIN; /* every chunk is still being read */
	} else if (msg_copy(&m, kind, tag, data, len) < 0) {
		return TERN_ENOMEM;
	}
	if (rx_push(h, &m) == 0)
		return 0;
	if (tern_rxbuf_chunk(&m)) /* never: rx_room saw room, and only we add */
		tern_rxbuf_unput(h, &m);
	else
		free(m.ptr);
	return TERN_EAGAIN;
}

static void stat_max(atomic_ullong *a, uint64_t v)
{
	if (v > atomic_load_explicit(a, memory_order_relaxed))
		atomic_store_explicit(a, v, memory_order_relaxed); /* one writer: the worker */
}

/* The ring is full: keep a copy and hold the session's credit. */
static int hold(struct tern_handle *h, struct tern_conn *c, int kind, uint16_t tag,
                const void *data, size_t len)
{
	struct held *it = malloc(sizeof(*it));

	if (!it)
		return TERN_ENOMEM;
	if (msg_copy(&it->m, kind, tag, data, len) < 0) {
		free(it);
		return TERN_ENOMEM;
	}
	it->next = NULL;
	if (h->held_tail)
		h->held_tail->next = it;
	else
		h->held_head = it;
	h->held_tail = it;
	h->held_bytes += len;
	stat_max(&h->n_held_max, h->held_bytes);
	if (!c->s->credit_held) {
		tern_session_hold_credit(c->s, true);
		atomic_fetch_add_explicit(&h->n_holds, 1, memory_order_relaxed);
	}
	/* release: pairs with the app's acquire in maybe_resume */
	atomic_store_explicit(&h->rx_held, true, memory_order_release);
	return 0;
}

static struct tern_handle *live(struct tern_conn *c)
{
	struct tern_handle *h = tern_conn_user(c);

	return h && !atomic_load_explicit(&h->app_gone, memory_order_relaxed) ? h : NULL;
}

/* Inline engines: a receive waits with its buffer and nothing is queued
 * ahead of this message: copy it there, once. */
static bool direct(struct tern_handle *h, uint16_t stream, const void *msg, size_t len)
{
	struct direct_rx *d = &h->direct;

	/* inline_mode first: on a threaded engine the app thread owns `direct` */
	if (!h->inline_mode || !d->armed || d->done || len > d->cap || h->held_head ||
	    tern_ring_count(h->rx))
		return false;
	memcpy(d->buf, msg, len);
	d->done = true;
	d->info = (struct tern_recv_info){.len = len, .stream = stream, .lane = -1};
	atomic_fetch_add_explicit(&h->n_msgs, 1, memory_order_relaxed);
	return true;
}

static void on_message(void *ctx, struct tern_conn *c, uint16_t stream, const void *msg, size_t len)
{
	struct tern_handle *h = live(c);

	(void)ctx;
	if (!h || direct(h, stream, msg, len))
		return; /* nobody will read it, or read already */
	atomic_fetch_add_explicit(&h->n_msgs, 1, memory_order_relaxed);
	if ((h->held_head || rx_put(h, RX_MSG, stream, msg, len) < 0) &&
	    hold(h, c, RX_MSG, stream, msg, len) < 0) {
		tern_session_fail(c->s, TERN_CLOSE_INTERNAL, "out of memory");
		return;
	}
	tern_evc_notify(&h->ev);
}

static void on_datagram(void *ctx, struct tern_conn *c, int lane, const void *d, size_t len)
{
	struct tern_handle *h = live(c);

	(void)ctx;
	if (!h)
		return;
	if (rx_put(h, RX_DGRAM, (uint16_t)(lane + 1), d, len) < 0) {
		/* unreliable: dropped, counted */
		atomic_fetch_add_explicit(&h->n_dropped, 1, memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(&h->n_dgrams, 1, memory_order_relaxed);
	tern_evc_notify(&h->ev);
}

/* The peer finished stream: a record with no data, behind its messages. */
static void on_stream_fin(void *ctx, struct tern_conn *c, uint16_t stream)
{
	struct tern_handle *h = live(c);

	(void)ctx;
	if (!h)
		return;
	if ((h->held_head || rx_put(h, RX_FIN, stream, NULL, 0) < 0) &&
	    hold(h, c, RX_FIN, stream, NULL, 0) < 0) {
		tern_session_fail(c->s, TERN_CLOSE_INTERNAL, "out of memory");
		return;
	}
	tern_evc_notify(&h->ev);
}

/* ---- sending: the send ring's consumer is in handle_tx.c ---- */

static void on_writable(void *ctx, struct tern_conn *c, uint16_t stream)
{
	struct tern_handle *h = tern_conn_user(c);

	(void)ctx, (void)stream;
	if (!h)
		return;
	h->inline_blocked = false;
	if (h->tx_blocked)
		tern_handle_tx_drain(h, c);
}

/* ---- commands ---- */

static void resume(struct tern_handle *h, struct tern_conn *c)
{
	while (h->held_head && rx_push(h, &h->held_head->m) == 0) { /* malloc'd: no chunk needed */
		struct held *it = h->held_head;
		h->held_head = it->next;
		h->held_bytes -= it->m.aux;
		free(it);
	}
	if (h->held_head) {
		atomic_store_explicit(&h->rx_held, true, memory_order_release);
	} else {
		h->held_tail = NULL;
		if (c->s->credit_held) {
			tern_session_hold_credit(c->s, false);
			tern_worker_touch(c->w, c);
		}
	}
	tern_evc_notify(&h->ev);
}

/* After the sends still in the ring (drained first: a notice the inbox
 * refused may not have come yet). */
static void close_graceful(struct tern_handle *h, struct tern_conn *c)
{
	tern_handle_tx_drain(h, c);
	if (!tern_handle_tx_empty(h))
		h->close_after_tx = true; /* the session pushed back: after the drain */
	else
		tern_close_graceful(c);
}

/* Runs on the owning worker; owns arg (a struct hcmd). w NULL: the engine
 * is going and the command was never run (tern_worker_free). */
void tern_handle_run_cmd(struct tern_worker *w, void *arg, tern_time now)
{
	struct hcmd *cmd = arg;
	struct tern_conn *c = w ? tern_table_lookup(&w->table, cmd->key) : NULL;
	struct tern_handle *h = cmd->h;

	(void)now;
	if (c && tern_conn_user(c) == h) {
		switch (cmd->op) {
		case OP_RESUME:
			resume(h, c);
			break;
		case OP_CLOSE:
			close_graceful(h, c);
			break;
		case OP_ABORT: /* the ring's records find the session closed */
			tern_close(c, cmd->code, cmd->len ? (const char *)cmd->data : NULL);
			break;
		}
	}
	free(cmd);
}

/* ---- session events ---- */

static void opened(struct tern_handle *h, struct tern_conn *c)
{
	h->key = c->key;
	h->worker = c->w->id;
	h->max_dgram = tern_conn_max_datagram(c);
	if (h->inline_mode)
		h->inline_conn = c; /* the same thread sends on it, until on_closed */
	/* seq_cst: pairs with tern_handle_release's app_gone store and load */
	atomic_store(&h->state, TERN_HANDLE_OPEN);
}

static void copy_reason(struct tern_reason *out, const struct tern_close_reason *r)
{
	size_t n = r->reason ? TERN_MIN(r->reason_len, (size_t)TERN_REASON_MAX) : 0;

	memset(out, 0, sizeof(*out));
	out->err = r->err;
	out->remote = r->remote;
	out->app = r->app;
	out->code = r->code;
	if (n)
		memcpy(out->text, r->reason, n);
	out->what = r->what ? r->what : "closed";
}

static void on_connect(void *ctx, struct tern_conn *c)
{
	struct tern_handle *h = tern_conn_user(c);

	(void)ctx;
	opened(h, c);
	if (atomic_load(&h->app_gone) || atomic_load(&h->close_req))
		tern_close_graceful(c);
	tern_evc_notify(&h->ev);
}

static void on_connect_failed(void *ctx, void *user, const struct tern_close_reason *r)
{
	struct tern_reason why;

	(void)ctx;
	copy_reason(&why, r);
	tern_handle_end(user, &why);
}

static void on_closed(void *ctx, struct tern_conn *c, const struct tern_close_reason *r)
{
	struct tern_handle *h = tern_conn_user(c);
	struct tern_reason why;

	(void)ctx;
	if (!h)
		return;
	tern_conn_set_user(c, NULL); /* commands still queued find no handle */
	h->inline_conn = NULL;
	copy_reason(&why, r);
	tern_handle_end(h, &why);
}

static bool on_accept(void *ctx, struct tern_conn *c)
{
	struct tern_hlistener *l = ctx;
	struct tern_handle *h;
	struct tern_msg m = {.type = TERN_MSG_USER};

	/* acquire: pairs with tern_hlistener_close's release */
	if (atomic_load_explicit(&l->closed, memory_order_acquire))
		return false;
	h = tern_handle_new(l->e, l->hub);
	if (!h)
		return false;
	atomic_store_explicit(&h->refs, 2, memory_order_relaxed); /* the queue's, wref */
	atomic_store_explicit(&h->app_refs, 1, memory_order_relaxed);
	atomic_store_explicit(&h->wref, true, memory_order_relaxed);
	opened(h, c);
	tern_conn_set_user(c, h);
	m.ptr = h;
	if (tern_ring_enqueue(l->ring, &m) < 0) {
		tern_conn_set_user(c, NULL);
		atomic_store(&h->wref, false);
		atomic_store(&h->refs, 1);
		tern_handle_unref(h);
		return false; /* the backlog is full: refused */
	}
	tern_evc_notify(&l->ev);
	return true;
}

const struct tern_handler tern_handle_connect_handler = {
        .on_connect = on_connect,
        .on_connect_failed = on_connect_failed,
        .on_message = on_message,
        .on_stream_fin = on_stream_fin,
        .on_datagram = on_datagram,
        .on_writable = on_writable,
        .on_closed = on_closed,
};

void tern_handle_listener_handler(struct tern_hlistener *l, struct tern_handler *out)
{
	*out = tern_handle_connect_handler;
	out->ctx = l;
	out->on_accept = on_accept;
	out->on_connect = NULL;
	out->on_connect_failed = NULL;
}
