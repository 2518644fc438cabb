/* The handle API's send ring: what application threads send, finish and
 * send as datagrams on a handle, on its way to the owning worker, with no
 * allocation and one copy per message.
 *
 * A per-handle ring of bytes (tx_cap, a power of two at least the engine's
 * send_buffer) holds records back to back: a header (struct txrec) and the
 * payload. Producers (any number of application threads) take turns under
 * tx_lock, a mutex that makes no syscall uncontended; the worker is the one
 * consumer and takes no lock. The ring is the send budget: a send that
 * finds no room returns TERN_EAGAIN, and tern_handle_wait_writable waits
 * for the worker to consume. Fins and datagrams are records in the same
 * ring, so a fin is ordered after every send before it by construction.
 *
 * Limits: data records leave tx_fin_reserve bytes free, one fin record per
 * stream, so a finish always finds room; a message whose record is over
 * half of the rest goes as TX_BIG, a pointer to a malloc'd copy (its bytes
 * cost more than the allocation), accepted only into an empty ring (as the
 * session's own send buffer takes one message of any size when empty). A record
 * never wraps: a TX_PAD fills the rest of the lap, and a producer that
 * finds the ring empty starts it over at offset 0 when the record fits
 * there, so light traffic stays in the ring's first cache lines.
 *
 * Waking the worker: the producer that finds tx_pending clear sets it and
 * posts tx_call (embedded in the handle, with a reference) to the worker's
 * inbox, then tern_engine_wake (an eventfd write only if the worker
 * sleeps). The worker clears tx_pending only once it has drained the ring;
 * while the session pushes back it stays set (no more posts) and the
 * session's on_writable resumes the drain. A full inbox leaves tx_repost
 * set, and the handle's next call (every wait re-checks at least each
 * 20 ms) posts again. */
#include <stdlib.h>

#include "handle_int.h"

static size_t rec_size(size_t payload)
{
	return sizeof(struct txrec) + ((payload + TX_ALIGN - 1) & ~(size_t)(TX_ALIGN - 1));
}

static size_t payload_of(uint8_t op, size_t len)
{
	return op == TX_BIG ? sizeof(void *) : op == TX_FIN ? 0 : len;
}

void tern_handle_tx_init(struct tern_handle *h, size_t send_buffer, uint16_t max_streams)
{
	size_t cap = TX_MIN_CAP;

	h->tx_fin_reserve = (size_t)max_streams * sizeof(struct txrec);
	while ((cap < send_buffer && cap < TX_MAX_CAP) || cap < 4 * h->tx_fin_reserve)
		cap *= 2;
	h->tx_cap = cap;
	h->tx_call = (struct tern_call){.fn = tern_handle_tx_run, .arg = h};
	pthread_mutex_init(&h->tx_lock, NULL);
}

/* ---- application side (under tx_lock) ---- */

/* Bytes of padding before a record of need bytes written at tail: to the
 * end of the lap when it would not fit before it, or when the ring is
 * empty and the record fits at the start (within limit). */
static size_t pad_before(size_t cap, size_t head, size_t tail, size_t need, size_t limit)
{
	size_t off = tail & (cap - 1);

	if (off + need > cap || (head == tail && off && cap - off + need <= limit))
		return cap - off;
	return 0;
}

/* Data may use the ring up to limit; fins the whole of it. */
static size_t limit_for(const struct tern_handle *h, uint8_t op)
{
	return op == TX_FIN ? h->tx_cap : h->tx_cap - h->tx_fin_reserve;
}

static bool is_big(const struct tern_handle *h, size_t len)
{
	return rec_size(len) > (h->tx_cap - h->tx_fin_reserve) / 2;
}

/* Whether a record of need bytes fits, and its pad. */
static bool fits(const struct tern_handle *h, size_t head, size_t tail, size_t need, size_t limit,
                 size_t *pad)
{
	*pad = pad_before(h->tx_cap, head, tail, need, limit);
	return tail - head + *pad + need <= limit;
}

/* Writes the record (after its pad) and publishes it. TERN_EAGAIN: no room. */
static int write_rec(struct tern_handle *h, const struct txrec *hdr, const void *payload,
                     size_t plen)
{
	size_t tail =
	        atomic_load_explicit(&h->tx_tail, memory_order_relaxed); /* ours, under lock */
	/* acquire: pairs with the worker's release of tx_head (it read what we overwrite) */
	size_t head = atomic_load_explicit(&h->tx_head, memory_order_acquire);
	size_t need = rec_size(plen), pad;
	struct txrec *r;

	if (!fits(h, head, tail, need, limit_for(h, hdr->op), &pad) ||
	    (hdr->op == TX_BIG && head != tail))
		return TERN_EAGAIN;
	if (!h->tx_buf && !(h->tx_buf = malloc(h->tx_cap))) /* once per handle */
		return TERN_ENOMEM;
	if (pad)
		*(struct txrec *)(h->tx_buf + (tail & (h->tx_cap - 1))) =
		        (struct txrec){.len = (uint32_t)pad, .op = TX_PAD};
	r = (struct txrec *)(h->tx_buf + ((tail + pad) & (h->tx_cap - 1)));
	*r = *hdr;
	if (plen)
		memcpy(r + 1, payload, plen);
	/* seq_cst: release of the record for tern_handle_tx_drain's acquire, and
	 * ordered before our tx_pending load (see notify) */
	atomic_store(&h->tx_tail, tail + pad + need);
	return 0;
}

/* ---- telling the worker ---- */

static void post(struct tern_handle *h)
{
	struct tern_msg m = {.type = TERN_MSG_CALL, .ptr = &h->tx_call};

	atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed); /* the call's */
	if (h->inline_mode) { /* the caller is the worker: run it now */
		tern_handle_tx_run(&h->e->ws[0].w, h, tern_engine_clock());
		return;
	}
	if (tern_ring_enqueue(h->e->inboxes[h->worker], &m) < 0) {
		atomic_store(&h->tx_repost, true); /* seq_cst, as the exchange that takes it */
		tern_handle_unref(h);              /* not the last: the caller holds one */
		return;
	}
	tern_engine_wake(h->e, (int)h->worker);
}

/* After a record was published. seq_cst load, then exchange: if either
 * sees tx_pending set, the worker's clearing store comes later in the
 * total order, so its tx_tail load sees our record; if the exchange sees
 * it clear, we post. */
static void notify(struct tern_handle *h)
{
	if (!atomic_load(&h->tx_pending) && !atomic_exchange(&h->tx_pending, true))
		post(h);
}

void tern_handle_tx_repost(struct tern_handle *h)
{
	/* relaxed first: rarely set; the exchange makes one thread the poster;
	 * only while open (a closed handle's engine may be gone) */
	if (atomic_load_explicit(&h->tx_repost, memory_order_relaxed) &&
	    tern_handle_usable(h) == 0 && atomic_exchange(&h->tx_repost, false))
		post(h);
}

static bool fin_marked(const struct tern_handle *h, uint16_t stream)
{
	return h->fin_sent[stream / 64] & (1ull << (stream % 64));
}

/* One record under the lock: the fin mark checked (and set by a fin). */
static int put_locked(struct tern_handle *h, const struct txrec *hdr, const void *payload)
{
	int rc;

	if (hdr->op != TX_DGRAM && fin_marked(h, hdr->stream))
		return TERN_ECLOSED;
	rc = write_rec(h, hdr, payload, payload_of(hdr->op, hdr->len));
	if (rc == 0 && hdr->op == TX_FIN)
		h->fin_sent[hdr->stream / 64] |= 1ull << (hdr->stream % 64);
	return rc;
}

int tern_handle_tx_put(struct tern_handle *h, uint8_t op, uint16_t stream, const void *data,
                       size_t len)
{
	struct txrec hdr = {.len = (uint32_t)len, .stream = stream, .op = op};
	const void *payload = data;
	void *copy = NULL;
	int rc;

	tern_handle_tx_repost(h);
	if (op == TX_SEND && is_big(h, len)) {
		if (!tern_handle_tx_room(h, len))
			return TERN_EAGAIN; /* before the copy: the ring is not empty */
		if (!(copy = malloc(len)))
			return TERN_ENOMEM;
		memcpy(copy, data, len);
		hdr.op = TX_BIG;
		payload = &copy;
	}
	pthread_mutex_lock(&h->tx_lock);
	rc = put_locked(h, &hdr, payload);
	pthread_mutex_unlock(&h->tx_lock);
	if (rc < 0)
		free(copy);
	else
		notify(h);
	return rc;
}

bool tern_handle_tx_room(struct tern_handle *h, size_t len)
{
	/* acquire: as in write_rec; a snapshot, as any answer about room is */
	size_t head = atomic_load_explicit(&h->tx_head, memory_order_acquire);
	size_t tail = atomic_load_explicit(&h->tx_tail, memory_order_acquire);
	size_t pad;

	if (is_big(h, len))
		return head == tail;
	return fits(h, head, tail, rec_size(len), limit_for(h, TX_SEND), &pad);
}

/* ---- worker side ---- */

static size_t rec_bytes(const struct txrec *r)
{
	return r->op == TX_PAD ? r->len : rec_size(payload_of(r->op, r->len));
}

/* Hands one record to the session: TERN_EAGAIN when it pushes back (the
 * record stays), else done with it (taken, or refused for good). */
static int apply(struct tern_conn *c, const struct txrec *r)
{
	const void *data = r + 1;
	void *copy;
	int rc;

	switch (r->op) {
	case TX_SEND:
		return tern_send(c, r->stream, data, r->len);
	case TX_BIG:
		memcpy(&copy, data, sizeof(copy));
		rc = tern_send(c, r->stream, copy, r->len);
		if (rc != TERN_EAGAIN)
			free(copy);
		return rc;
	case TX_FIN:
		tern_finish(c, r->stream); /* never pushes back */
		return 0;
	case TX_DGRAM:
		tern_send_datagram(c, data, r->len); /* unreliable: a full queue drops it */
		return 0;
	}
	return 0; /* TX_PAD */
}

static void release_head(struct tern_handle *h, size_t head)
{
	/* release: pairs with the producers' acquire; we are done reading */
	atomic_store_explicit(&h->tx_head, head, memory_order_release);
	tern_evc_notify(&h->ev); /* wait_writable */
}

/* Records from head into the session: true when the ring is empty, false
 * when the session pushed back. Room is given back every quarter ring so
 * producers need not wait for a long batch. */
static bool take(struct tern_handle *h, struct tern_conn *c)
{
	size_t head = atomic_load_explicit(&h->tx_head, memory_order_relaxed); /* ours */
	/* acquire: pairs with the producer's store; the records are written */
	size_t tail = atomic_load_explicit(&h->tx_tail, memory_order_acquire);
	size_t given = head;

	while (head != tail) {
		const struct txrec *r = (const void *)(h->tx_buf + (head & (h->tx_cap - 1)));
		if (apply(c, r) == TERN_EAGAIN)
			break;
		head += rec_bytes(r);
		if (head - given >= h->tx_cap / 4)
			release_head(h, given = head);
	}
	if (head != given)
		release_head(h, head);
	return head == tail;
}

bool tern_handle_tx_empty(struct tern_handle *h)
{
	/* acquire: as in take */
	return atomic_load_explicit(&h->tx_tail, memory_order_acquire) ==
	       atomic_load_explicit(&h->tx_head, memory_order_relaxed);
}

static void blocked(struct tern_handle *h)
{
	if (!h->tx_blocked) /* counted once per record the session could not take */
		atomic_fetch_add_explicit(&h->n_retries, 1, memory_order_relaxed);
	h->tx_blocked = true;
}

void tern_handle_tx_drain(struct tern_handle *h, struct tern_conn *c)
{
	for (;;) {
		if (!take(h, c)) {
			blocked(h); /* tx_pending stays set: on_writable resumes */
			return;
		}
		h->tx_blocked = false;
		if (h->close_after_tx) {
			h->close_after_tx = false;
			tern_close_graceful(c);
		}
		/* seq_cst store, then load: pairs with notify (Dekker); a record
		 * published meanwhile is seen here, or its producer posts */
		atomic_store(&h->tx_pending, false);
		if (tern_handle_tx_empty(h) || atomic_exchange(&h->tx_pending, true))
			return; /* empty, or a producer set it again and posted */
	}
}

/* tx_call's fn: on the owning worker (w NULL: the engine is going and the
 * call was never run). Drops the call's reference. */
void tern_handle_tx_run(struct tern_worker *w, void *arg, tern_time now)
{
	struct tern_handle *h = arg;
	struct tern_conn *c = w ? tern_table_lookup(&w->table, h->key) : NULL;

	(void)now;
	if (c && tern_conn_user(c) == h)
		tern_handle_tx_drain(h, c);
	tern_handle_unref(h); /* a session gone: tx_pending stays set, nothing more is posted */
}

void tern_handle_tx_free(struct tern_handle *h)
{
	size_t head = atomic_load_explicit(&h->tx_head, memory_order_relaxed);
	size_t tail = atomic_load_explicit(&h->tx_tail, memory_order_relaxed);

	while (head != tail) { /* the copies of TX_BIG records never taken */
		const struct txrec *r = (const void *)(h->tx_buf + (head & (h->tx_cap - 1)));
		void *copy;
		if (r->op == TX_BIG) {
			memcpy(&copy, r + 1, sizeof(copy));
			free(copy);
		}
		head += rec_bytes(r);
	}
	free(h->tx_buf);
	pthread_mutex_destroy(&h->tx_lock);
}
