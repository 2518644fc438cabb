/* Unreliable datagrams: the outgoing queue and receive-side lane tracking.
 *
 * The queue is a ring of fixed-size slots (each holds a full
 * TERN_MAX_DATAGRAM payload), allocated on the first push so sessions that
 * never send datagrams cost nothing; afterwards push and pop never allocate.
 * A sequenced datagram takes its lane's next sequence number when it is
 * queued, so the number reflects the application's send order. The receive
 * side keeps, per lane, the lowest sequence number still fresh: anything
 * below it (including a repeat of the newest) is stale. Both per-lane tables
 * (2 KiB each) are allocated on the first sequenced datagram, so an idle
 * session carries neither. */
#include <stdlib.h>
#include "alloc.h"
#include "dgram.h"

void tern_dgram_queue_init(struct tern_dgram_queue *q, size_t cap)
{
	memset(q, 0, sizeof(*q));
	q->cap = cap;
}

void tern_dgram_queue_free(struct tern_dgram_queue *q)
{
	free(q->slots);
	free(q->next_seq);
	q->slots = NULL;
	q->next_seq = NULL;
	q->head = q->n = 0;
}

size_t tern_dgram_queue_mem(const struct tern_dgram_queue *q)
{
	return (q->slots ? q->cap * sizeof(*q->slots) : 0) +
	       (q->next_seq ? TERN_MAX_DGRAM_LANES * sizeof(*q->next_seq) : 0);
}

int tern_dgram_push(struct tern_dgram_queue *q, const uint8_t *data, size_t len, int lane)
{
	struct tern_dgram_slot *s;

	if (len > TERN_MAX_DATAGRAM)
		return TERN_ETOOBIG;
	if (lane >= TERN_MAX_DGRAM_LANES || (len && !data))
		return TERN_EINVAL;
	if (q->n >= q->cap) {
		q->dropped_full++;
		return TERN_EAGAIN;
	}
	if (!q->slots) {
		q->slots = tern_calloc(q->cap, sizeof(*q->slots));
		if (!q->slots)
			return TERN_ENOMEM;
	}
	if (lane >= 0 && !q->next_seq) {
		q->next_seq = tern_calloc(TERN_MAX_DGRAM_LANES, sizeof(*q->next_seq));
		if (!q->next_seq)
			return TERN_ENOMEM;
	}
	s = &q->slots[(q->head + q->n) % q->cap];
	s->len = (uint16_t)len;
	if (len)
		memcpy(s->data, data, len);
	s->sequenced = lane >= 0;
	s->lane = lane >= 0 ? (uint8_t)lane : 0;
	s->seq = lane >= 0 ? q->next_seq[lane]++ : 0;
	q->n++;
	return 0;
}

const struct tern_dgram_slot *tern_dgram_peek(const struct tern_dgram_queue *q)
{
	return q->n ? &q->slots[q->head] : NULL;
}

void tern_dgram_pop(struct tern_dgram_queue *q)
{
	if (!q->n)
		return;
	q->head = (q->head + 1) % q->cap;
	q->n--;
}

void tern_dgram_lanes_init(struct tern_dgram_lanes *l)
{
	memset(l, 0, sizeof(*l));
}

void tern_dgram_lanes_free(struct tern_dgram_lanes *l)
{
	free(l->next);
	l->next = NULL;
}

size_t tern_dgram_lanes_mem(const struct tern_dgram_lanes *l)
{
	return l->next ? TERN_MAX_DGRAM_LANES * sizeof(*l->next) : 0;
}

/* A lane out of range is refused (false) without counting as stale: the
 * frame decoder should already have rejected it as malformed. */
bool tern_dgram_lanes_accept(struct tern_dgram_lanes *l, uint64_t lane, uint64_t seq)
{
	if (lane >= TERN_MAX_DGRAM_LANES)
		return false;
	if (!l->next && !(l->next = tern_calloc(TERN_MAX_DGRAM_LANES, sizeof(*l->next))))
		return false;
	if (seq < l->next[lane]) {
		l->stale_dropped++;
		return false;
	}
	l->next[lane] = seq == UINT64_MAX ? seq : seq + 1;
	return true;
}
