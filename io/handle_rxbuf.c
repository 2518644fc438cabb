/* The handle API's receive chunks: where the worker puts the bytes of the
 * messages and datagrams it queues for the application, with no allocation
 * per message.
 *
 * A chunk holds RX_CHUNK bytes. The worker copies each message that does
 * not fit inline in its ring record (over TERN_MSG_INLINE bytes, up to
 * RX_CHUNK) to the end of its current chunk and counts it in the chunk's
 * unread; when a message does not fit, it lets go of the chunk (its own
 * count of one) and takes another: from its free list, else from the stack
 * of chunks the application gave back, else a new one while the handle has
 * fewer than RX_CHUNKS_MAX (the receive byte budget in chunks, plus slack
 * for the chunk being filled and the ends chunks waste). The application
 * copies a message out and decrements unread; whoever brings it to zero
 * owns the chunk: the worker puts it on its free list, the application
 * pushes it on the return stack (a lock-free stack: the app pushes one at
 * a time, the worker only ever takes the whole stack, so there is no ABA).
 * With no chunk to be had the caller holds the message (backpressure, as
 * for a full ring), or drops a datagram. */
#include <stdlib.h>

#include "handle_int.h"

static void to_free_list(struct tern_handle *h, struct rxchunk *k)
{
	k->next = h->rx_free;
	h->rx_free = k;
}

/* The worker lets go of a chunk (or undoes a put): the chunk is its own
 * again if that was the last count. */
static void drop(struct tern_handle *h, struct rxchunk *k)
{
	/* acq_rel: acquire pairs with the readers' release decrements (they are
	 * done reading before we refill it) */
	if (atomic_fetch_sub_explicit(&k->unread, 1, memory_order_acq_rel) == 1)
		to_free_list(h, k);
}

static struct rxchunk *take_chunk(struct tern_handle *h)
{
	struct rxchunk *k;

	if (!h->rx_free) /* acquire: pairs with tern_rxbuf_release's CAS */
		h->rx_free = atomic_exchange_explicit(&h->rx_returned, NULL, memory_order_acquire);
	if ((k = h->rx_free) != NULL) {
		h->rx_free = k->next;
		return k;
	}
	if (h->rx_nchunks >= RX_CHUNKS_MAX || !(k = malloc(sizeof(*k))))
		return NULL;
	k->all = h->rx_all;
	h->rx_all = k;
	h->rx_nchunks++;
	return k;
}

/* The current chunk if len fits in it, else a fresh one (or NULL). */
static struct rxchunk *chunk_for(struct tern_handle *h, size_t len)
{
	struct rxchunk *k = h->rx_cur;

	if (k && RX_CHUNK - k->used >= len)
		return k;
	h->rx_cur = NULL;
	if (k)
		drop(h, k);
	if (!(k = take_chunk(h)))
		return NULL;
	k->used = 0;
	/* relaxed: nobody else sees the chunk until a message in it is queued */
	atomic_store_explicit(&k->unread, 1, memory_order_relaxed);
	h->rx_cur = k;
	return k;
}

bool tern_rxbuf_put(struct tern_handle *h, struct tern_msg *m, const void *data, size_t len)
{
	struct rxchunk *k = len <= RX_CHUNK ? chunk_for(h, len) : NULL;

	if (!k)
		return false;
	m->ptr = k->data + k->used;
	memcpy(m->ptr, data, len);
	memcpy(m->data, &k, sizeof(k));
	k->used += (uint32_t)len;
	/* relaxed: the ring's enqueue publishes the message (and this count)
	 * to the reader; only its decrement races with ours, both atomic */
	atomic_fetch_add_explicit(&k->unread, 1, memory_order_relaxed);
	return true;
}

void tern_rxbuf_unput(struct tern_handle *h, const struct tern_msg *m)
{
	struct rxchunk *k = tern_rxbuf_chunk(m);

	k->used = (uint32_t)((uint8_t *)m->ptr - k->data); /* it was the last put */
	drop(h, k); /* never the last count: k is still current */
}

struct rxchunk *tern_rxbuf_chunk(const struct tern_msg *m)
{
	struct rxchunk *k = NULL;

	if (m->ptr && (m->type == RX_MSG || m->type == RX_DGRAM))
		memcpy(&k, m->data, sizeof(k));
	return k;
}

void tern_rxbuf_release(struct tern_handle *h, struct rxchunk *k)
{
	struct rxchunk *top;

	/* acq_rel: release orders our read of the message before whoever
	 * refills the chunk; acquire, the other readers' reads too */
	if (atomic_fetch_sub_explicit(&k->unread, 1, memory_order_acq_rel) != 1)
		return;
	/* the worker let go of it and we read its last message: give it back.
	 * release: pairs with the worker's acquire exchange (k->next, and every
	 * read of k, happen before it refills k) */
	top = atomic_load_explicit(&h->rx_returned, memory_order_relaxed);
	do
		k->next = top;
	while (!atomic_compare_exchange_weak_explicit(&h->rx_returned, &top, k,
	                                              memory_order_release, memory_order_relaxed));
}

void tern_rxbuf_free(struct tern_handle *h)
{
	while (h->rx_all) {
		struct rxchunk *k = h->rx_all;
		h->rx_all = k->all;
		free(k);
	}
}
