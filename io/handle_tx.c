/* The handle API's send rings: what application threads send, finish and
 * send as datagrams on a handle, on its way to the owning worker, with no
 * allocation and one copy per message.
 *
 * A ring of bytes holds records back to back: a header (struct txrec) and
 * the payload. Producers (any number of application threads) take turns
 * under the ring's lock, a mutex that makes no syscall uncontended; the
 * worker is the one consumer and takes no lock. A handle has two rings:
 * tx (a power of two at least the engine's send_buffer) carries sends and
 * fins, so a fin is ordered after every send before it by construction;
 * dg (TX_DGRAM_CAP) carries datagrams, which thus never wait behind stream
 * data the session cannot take yet. The tx ring is the send budget: a send
 * that finds no room returns TERN_EAGAIN, and tern_handle_wait_writable
 * waits for the worker to consume.
 *
 * Limits: data records leave `reserve` bytes free, one fin record per
 * stream, so a finish always finds room; a message whose record is over
 * half of the rest goes as TX_BIG, a pointer to a malloc'd copy (its bytes
 * cost more than the allocation), accepted only into an empty ring (as the
 * session's own send buffer takes one message of any size when empty). A
 * record never wraps: a TX_PAD fills the rest of the lap, and a producer
 * that finds the ring empty starts it over at offset 0 when the record
 * fits there, so light traffic stays in the ring's first cache lines.
 *
 * Waking the worker: the producer that finds the ring's pending flag clear
 * sets it and posts the ring's call (embedded in the handle, with a
 * reference) to the worker's inbox, then tern_engine_wake (an eventfd
 * write only if the worker sleeps). The worker clears pending only once it
 * has drained the ring; while the session pushes back on stream data it
 * stays set (no more posts) and the session's on_writable resumes the
 * drain. A full inbox leaves repost set, and the handle's next call (every
 * wait re-checks at least each 20 ms) posts again. */
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

static void ring_init(struct tern_handle *h, struct txring *r, size_t cap, size_t reserve)
{
	pthread_mutex_init(&r->lock, NULL);
	r->cap = cap;
	r->reserve = reserve;
	r->call = (struct tern_call){.fn = tern_handle_tx_run, .arg = r};
	r->h = h;
}

void tern_handle_tx_init(struct tern_handle *h, size_t send_buffer, uint16_t max_streams)
{
	size_t reserve = (size_t)max_streams * sizeof(struct txrec), cap = TX_MIN_CAP;

	while ((cap < send_buffer && cap < TX_MAX_CAP) || cap < 4 * reserve)
		cap *= 2;
	ring_init(h, &h->tx, cap, reserve);
	ring_init(h, &h->dg, TX_DGRAM_CAP, 0);
}

/* ---- application side (under the ring's lock) ---- */

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
static size_t limit_for(const struct txring *r, uint8_t op)
{
	return op == TX_FIN ? r->cap : r->cap - r->reserve;
}

static bool is_big(const struct txring *r, size_t len)
{
	return rec_size(len) > (r->cap - r->reserve) / 2;
}

/* Whether a record of need bytes fits, and its pad. */
static bool fits(const struct txring *r, size_t head, size_t tail, size_t need, size_t limit,
                 size_t *pad)
{
	*pad = pad_before(r->cap, head, tail, need, limit);
	return tail - head + *pad + need <= limit;
}

/* Writes the record (after its pad) and publishes it. TERN_EAGAIN: no room. */
static int write_rec(struct txring *r, const struct txrec *hdr, const void *payload, size_t plen)
{
	size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed); /* ours, under lock */
	/* acquire: pairs with the worker's release of head (it read what we overwrite) */
	size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	size_t need = rec_size(plen), pad;
	struct txrec *rec;

	if (!fits(r, head, tail, need, limit_for(r, hdr->op), &pad) ||
	    (hdr->op == TX_BIG && head != tail))
		return TERN_EAGAIN;
	if (!r->buf && !(r->buf = malloc(r->cap))) /* once per ring */
		return TERN_ENOMEM;
	if (pad)
		*(struct txrec *)(r->buf + (tail & (r->cap - 1))) =
		        (struct txrec){.len = (uint32_t)pad, .op = TX_PAD};
	rec = (struct txrec *)(r->buf + ((tail + pad) & (r->cap - 1)));
	*rec = *hdr;
	if (plen)
		memcpy(rec + 1, payload, plen);
	/* seq_cst: release of the record for the worker's acquire (take), and
	 * ordered before our pending load (see notify) */
	atomic_store(&r->tail, tail + pad + need);
	return 0;
}

/* ---- telling the worker ---- */

static void post(struct txring *r)
{
	struct tern_handle *h = r->h;
	struct tern_msg m = {.type = TERN_MSG_CALL, .ptr = &r->call};

	atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed); /* the call's */
	if (h->inline_mode) { /* the caller is the worker: run it now */
		tern_handle_tx_run(&h->e->ws[0].w, r, tern_engine_clock());
		return;
	}
	if (tern_ring_enqueue(h->e->inboxes[h->worker], &m) < 0) {
		atomic_store(&r->repost, true); /* seq_cst, as the exchange that takes it */
		tern_handle_unref(h);           /* not the last: the caller holds one */
		return;
	}
	tern_engine_wake(h->e, (int)h->worker);
}

/* After a record was published. seq_cst load, then exchange: if either
 * sees pending set, the worker's clearing store comes later in the total
 * order, so its tail load sees our record; if the exchange sees it clear,
 * we post. */
static void notify(struct txring *r)
{
	if (!atomic_load(&r->pending) && !atomic_exchange(&r->pending, true))
		post(r);
}

static void repost(struct txring *r)
{
	/* relaxed first: rarely set; the exchange makes one thread the poster */
	if (atomic_load_explicit(&r->repost, memory_order_relaxed) &&
	    atomic_exchange(&r->repost, false))
		post(r);
}

void tern_handle_tx_repost(struct tern_handle *h)
{
	if (tern_handle_usable(h) == 0) { /* a closed handle's engine may be gone */
		repost(&h->tx);
		repost(&h->dg);
	}
}

static bool fin_marked(const struct tern_handle *h, uint16_t stream)
{
	return h->fin_sent[stream / 64] & (1ull << (stream % 64));
}

/* One record under the lock: the fin mark checked (and set by a fin). */
static int put_locked(struct tern_handle *h, struct txring *r, const struct txrec *hdr,
                      const void *payload)
{
	int rc;

	if (hdr->op != TX_DGRAM && fin_marked(h, hdr->stream))
		return TERN_ECLOSED;
	rc = write_rec(r, hdr, payload, payload_of(hdr->op, hdr->len));
	if (rc == 0 && hdr->op == TX_FIN)
		h->fin_sent[hdr->stream / 64] |= 1ull << (hdr->stream % 64);
	return rc;
}

int tern_handle_tx_put(struct tern_handle *h, uint8_t op, uint16_t stream, const void *data,
                       size_t len)
{
	struct txring *r = op == TX_DGRAM ? &h->dg : &h->tx;
	struct txrec hdr = {.len = (uint32_t)len, .stream = stream, .op = op};
	const void *payload = data;
	void *copy = NULL;
	int rc;

	tern_handle_tx_repost(h);
	if (op == TX_SEND && is_big(r, len)) {
		if (!tern_handle_tx_room(h, len))
			return TERN_EAGAIN; /* before the copy: the ring is not empty */
		if (!(copy = malloc(len)))
			return TERN_ENOMEM;
		memcpy(copy, data, len);
		hdr.op = TX_BIG;
		payload = &copy;
	}
	pthread_mutex_lock(&r->lock);
	rc = put_locked(h, r, &hdr, payload);
	pthread_mutex_unlock(&r->lock);
	if (rc < 0)
		free(copy);
	else
		notify(r);
	return rc;
}

bool tern_handle_tx_room(struct tern_handle *h, size_t len)
{
	const struct txring *r = &h->tx;
	/* acquire: as in write_rec; a snapshot, as any answer about room is */
	size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	size_t pad;

	if (is_big(r, len))
		return head == tail;
	return fits(r, head, tail, rec_size(len), limit_for(r, TX_SEND), &pad);
}

/* ---- worker side ---- */

static size_t rec_bytes(const struct txrec *rec)
{
	return rec->op == TX_PAD ? rec->len : rec_size(payload_of(rec->op, rec->len));
}

/* Hands one record to the session: TERN_EAGAIN when it pushes back (the
 * record stays), else done with it (taken, or refused for good). */
static int apply(struct tern_conn *c, const struct txrec *rec)
{
	const void *data = rec + 1;
	void *copy;
	int rc;

	switch (rec->op) {
	case TX_SEND:
		return tern_send(c, rec->stream, data, rec->len);
	case TX_BIG:
		memcpy(&copy, data, sizeof(copy));
		rc = tern_send(c, rec->stream, copy, rec->len);
		if (rc != TERN_EAGAIN)
			free(copy);
		return rc;
	case TX_FIN:
		tern_finish(c, rec->stream); /* never pushes back */
		return 0;
	case TX_DGRAM:
		tern_send_datagram(c, data, rec->len); /* unreliable: a full queue drops it */
		return 0;
	}
	return 0; /* TX_PAD */
}

static void release_head(struct tern_handle *h, struct txring *r, size_t head)
{
	/* release: pairs with the producers' acquire; we are done reading */
	atomic_store_explicit(&r->head, head, memory_order_release);
	tern_evc_notify(&h->ev); /* wait_writable */
}

/* Records from head into the session: true when the ring is empty, false
 * when the session pushed back. Room is given back every quarter ring so
 * producers need not wait for a long batch. */
static bool take(struct tern_handle *h, struct txring *r, struct tern_conn *c)
{
	size_t head = atomic_load_explicit(&r->head, memory_order_relaxed); /* ours */
	/* acquire: pairs with the producer's store; the records are written */
	size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	size_t given = head;

	while (head != tail) {
		const struct txrec *rec = (const void *)(r->buf + (head & (r->cap - 1)));
		if (apply(c, rec) == TERN_EAGAIN)
			break;
		head += rec_bytes(rec);
		if (head - given >= r->cap / 4)
			release_head(h, r, given = head);
	}
	if (head != given)
		release_head(h, r, head);
	return head == tail;
}

static bool ring_empty(struct txring *r)
{
	/* acquire: as in take */
	return atomic_load_explicit(&r->tail, memory_order_acquire) ==
	       atomic_load_explicit(&r->head, memory_order_relaxed);
}

bool tern_handle_tx_empty(struct tern_handle *h)
{
	return ring_empty(&h->tx);
}

static void blocked(struct tern_handle *h)
{
	if (!h->tx_blocked) /* counted once per record the session could not take */
		atomic_fetch_add_explicit(&h->n_retries, 1, memory_order_relaxed);
	h->tx_blocked = true;
}

/* The tx ring drained: a graceful close that waited for it goes now. */
static void drained(struct tern_handle *h, struct tern_conn *c)
{
	h->tx_blocked = false;
	if (h->close_after_tx) {
		h->close_after_tx = false;
		tern_close_graceful(c);
	}
}

static void drain_ring(struct tern_handle *h, struct txring *r, struct tern_conn *c)
{
	for (;;) {
		if (!take(h, r, c)) {
			blocked(h); /* stream data; pending stays set: on_writable resumes */
			return;
		}
		if (r == &h->tx)
			drained(h, c);
		/* seq_cst store, then load: pairs with notify (Dekker); a record
		 * published meanwhile is seen here, or its producer posts */
		atomic_store(&r->pending, false);
		if (ring_empty(r) || atomic_exchange(&r->pending, true))
			return; /* empty, or a producer set it again and posted */
	}
}

void tern_handle_tx_drain(struct tern_handle *h, struct tern_conn *c)
{
	drain_ring(h, &h->dg, c);
	drain_ring(h, &h->tx, c);
}

/* A ring's call: on the owning worker (w NULL: the engine is going and the
 * call was never run). Drops the call's reference. */
void tern_handle_tx_run(struct tern_worker *w, void *arg, tern_time now)
{
	struct txring *r = arg;
	struct tern_handle *h = r->h;
	struct tern_conn *c = w ? tern_table_lookup(&w->table, h->key) : NULL;

	(void)now;
	if (c && tern_conn_user(c) == h)
		drain_ring(h, r, c);
	tern_handle_unref(h); /* a session gone: pending stays set, nothing more is posted */
}

static void ring_free(struct txring *r)
{
	size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

	while (head != tail) { /* the copies of TX_BIG records never taken */
		const struct txrec *rec = (const void *)(r->buf + (head & (r->cap - 1)));
		void *copy;
		if (rec->op == TX_BIG) {
			memcpy(&copy, rec + 1, sizeof(copy));
			free(copy);
		}
		head += rec_bytes(rec);
	}
	free(r->buf);
	pthread_mutex_destroy(&r->lock);
}

void tern_handle_tx_free(struct tern_handle *h)
{
	ring_free(&h->tx);
	ring_free(&h->dg);
}
