/* The receive side of a reliable message stream (core/stream.h).
 *
 * Shape: one ring of `cap` (= window) bytes covering [read_off, read_off +
 * cap), indexed by offset & (cap - 1). Flow control guarantees every
 * accepted byte lands inside it, so a frame is one or two memcpys and a
 * range merge, whatever the order it arrives in. Message ends that arrive
 * ahead of the data before them wait in a sorted array (bounded, as the peer
 * grows it). Delivery hands a message that sits contiguously in the ring to
 * the callback by pointer (no copy); one that wraps is copied to the
 * assembly buffer `msg`. A message of half the window or more cannot be
 * held in the ring while the window keeps moving, so its bytes move into
 * `msg` as they become contiguous and read_off advances past them: memory
 * stays at window + one message, and a 64 MiB message flows through a
 * 256 KiB window.
 *
 * Invariant: [msg_start, read_off) is in msg[0, msg_len); every message end
 * at or below the contiguous end of received data is known (a frame never
 * crosses a message end and the one ending a message carries MSG_END). */
#include <stdlib.h>
#include "flow.h"
#include "stream.h"

#define RECV_ENDS_MIN 16u
#define RECV_MSG_MIN 4096u

int tern_srecv_init(struct tern_stream_recv *r, size_t window)
{
	size_t cap = 1;

	memset(r, 0, sizeof(*r));
	if (window == 0 || window > ((size_t)1 << 40))
		return TERN_EINVAL;
	while (cap < window)
		cap <<= 1;
	r->cap = cap;
	r->max_data = cap;
	r->final_size = UINT64_MAX;
	return tern_ranges_init(&r->have, cap / 2 + 2, false);
}

void tern_srecv_free(struct tern_stream_recv *r)
{
	free(r->buf);
	free(r->ends);
	free(r->msg);
	tern_ranges_free(&r->have);
	memset(r, 0, sizeof(*r));
}

size_t tern_srecv_mem(const struct tern_stream_recv *r)
{
	return (r->buf ? r->cap : 0) + r->msg_cap + r->ends_cap * sizeof(*r->ends) +
	       r->have.cap * sizeof(*r->have.r);
}

/* ---- out-of-order message ends ---- */

/* Index of the first end >= v. */
static size_t ends_find(const struct tern_stream_recv *r, uint64_t v)
{
	size_t lo = 0, hi = r->ends_n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->ends[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int ends_reserve(struct tern_stream_recv *r)
{
	size_t ncap = r->ends_cap ? r->ends_cap * 2 : RECV_ENDS_MIN;
	uint64_t *ne;

	if (r->ends_n < r->ends_cap)
		return 0;
	if (r->ends_n >= TERN_MAX_OOO_BOUNDARIES)
		return TERN_ELIMIT;
	ne = realloc(r->ends, TERN_MIN(ncap, (size_t)TERN_MAX_OOO_BOUNDARIES) * sizeof(*ne));
	if (!ne)
		return TERN_ENOMEM;
	r->ends = ne;
	r->ends_cap = TERN_MIN(ncap, (size_t)TERN_MAX_OOO_BOUNDARIES);
	return 0;
}

static bool has_end(const struct tern_stream_recv *r, uint64_t v)
{
	size_t i = ends_find(r, v);

	return i < r->ends_n && r->ends[i] == v;
}

/* Inserts v, not yet present (capacity reserved by the caller). */
static void ends_insert(struct tern_stream_recv *r, uint64_t v)
{
	size_t i = ends_find(r, v);

	memmove(&r->ends[i + 1], &r->ends[i], (r->ends_n - i) * sizeof(*r->ends));
	r->work += r->ends_n - i;
	r->ends[i] = v;
	r->ends_n++;
}

/* ---- frames ---- */

/* Flow control, final size and message-end rules. */
static int check_frame(const struct tern_stream_recv *r, uint64_t off, uint64_t end, bool msg_end,
                       bool fin)
{
	if (end < off || end > TERN_VARINT_MAX)
		return TERN_EPROTO;
	if (end > r->max_data)
		return TERN_EFLOWCONTROL;
	if (r->final_size != UINT64_MAX && (end > r->final_size || (fin && end != r->final_size)))
		return TERN_EPROTO;
	if (fin && end < r->highest)
		return TERN_EPROTO; /* data already received beyond the final size */
	if (msg_end && (end == off || (end > r->msg_start && end <= r->read_off)))
		return TERN_EMALFORMED; /* empty message, or an end inside one reassembled */
	return 0;
}

/* The end of contiguous data from read_off once [off, end) is added. */
static uint64_t contiguous_with(const struct tern_stream_recv *r, uint64_t off, uint64_t end)
{
	uint64_t ce = tern_ranges_contiguous_end(&r->have, r->read_off);
	size_t lo = 0, hi = r->have.n;

	if (off > ce || end <= ce)
		return ce;
	while (lo < hi) { /* a range starting at or touching end extends it */
		size_t mid = lo + (hi - lo) / 2;
		if (r->have.r[mid].hi < end)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->have.n && r->have.r[lo].lo <= end ? r->have.r[lo].hi + 1 : end;
}

/* TERN_ETOOBIG when the frame proves the current message longer than
 * TERN_MAX_MESSAGE: either its end is known and too far, or the bytes from
 * its start run contiguously past the limit with no end among them. */
static int check_size(const struct tern_stream_recv *r, uint64_t off, uint64_t end, bool msg_end)
{
	uint64_t e = r->ends_n ? r->ends[0] : UINT64_MAX;
	uint64_t ce = contiguous_with(r, off, end);

	if (msg_end && end > r->msg_start)
		e = TERN_MIN(e, end);
	return TERN_MIN(e, ce) - r->msg_start > TERN_MAX_MESSAGE ? TERN_ETOOBIG : 0;
}

static void ring_put(struct tern_stream_recv *r, uint64_t off, const uint8_t *src, size_t n)
{
	size_t at = (size_t)(off & (r->cap - 1)), first = TERN_MIN(n, r->cap - at);

	memcpy(r->buf + at, src, first);
	memcpy(r->buf, src + first, n - first);
}

/* Stores bytes [lo, end) of the frame (the part not yet delivered). */
static int store(struct tern_stream_recv *r, uint64_t off, const uint8_t *data, uint64_t end)
{
	uint64_t lo = TERN_MAX(off, r->read_off);
	int rc;

	if (end <= lo)
		return 0;
	if (!r->buf) {
		r->buf = malloc(r->cap);
		if (!r->buf)
			return TERN_ENOMEM;
	}
	rc = tern_ranges_add(&r->have, lo, end - 1);
	if (rc)
		return rc;
	ring_put(r, lo, data + (lo - off), (size_t)(end - lo));
	return 0;
}

int tern_srecv_frame(struct tern_stream_recv *r, uint64_t off, const uint8_t *data, size_t len,
                     bool msg_end, bool fin, uint64_t *new_bytes)
{
	uint64_t end = off + len;
	bool new_end;
	int rc;

	*new_bytes = 0;
	r->work++;
	rc = check_frame(r, off, end, msg_end, fin);
	if (!rc)
		rc = check_size(r, off, end, msg_end);
	new_end = msg_end && end > r->read_off && !has_end(r, end);
	if (!rc && new_end)
		rc = ends_reserve(r);
	if (!rc)
		rc = store(r, off, data, end); /* the last step that can fail */
	if (rc)
		return rc;
	if (new_end)
		ends_insert(r, end);
	if (fin)
		r->final_size = end;
	if (end > r->highest) {
		*new_bytes = end - r->highest;
		r->highest = end;
	}
	return 0;
}

/* ---- delivery ---- */

static int msg_reserve(struct tern_stream_recv *r, size_t need)
{
	size_t ncap = TERN_MAX(r->msg_cap * 2, (size_t)RECV_MSG_MIN);
	uint8_t *nm;

	if (need <= r->msg_cap)
		return 0;
	if (need > TERN_MAX_MESSAGE)
		return TERN_ETOOBIG;
	ncap = TERN_MIN(TERN_MAX(ncap, need), (size_t)TERN_MAX_MESSAGE);
	nm = realloc(r->msg, ncap);
	if (!nm)
		return TERN_ENOMEM;
	r->msg = nm;
	r->msg_cap = ncap;
	return 0;
}

/* Moves ring bytes [read_off, to) to the end of msg; they leave the ring. */
static int move_out(struct tern_stream_recv *r, uint64_t to)
{
	size_t n = (size_t)(to - r->read_off), at = (size_t)(r->read_off & (r->cap - 1));
	size_t first = TERN_MIN(n, r->cap - at);

	if (msg_reserve(r, r->msg_len + n))
		return TERN_ENOMEM;
	memcpy(r->msg + r->msg_len, r->buf + at, first);
	memcpy(r->msg + r->msg_len + first, r->buf, n - first);
	r->msg_len += n;
	r->read_off = to;
	tern_ranges_remove_below(&r->have, to);
	return 0;
}

/* Hands up the message ending at e (all its bytes are received). */
static int deliver_one(struct tern_stream_recv *r, uint64_t e, tern_msg_cb cb, void *ctx)
{
	size_t at = (size_t)(r->read_off & (r->cap - 1));

	if (r->msg_len == 0 && at + (e - r->read_off) <= r->cap) {
		cb(ctx, r->buf + at, (size_t)(e - r->read_off)); /* in place, no copy */
		r->read_off = e;
		tern_ranges_remove_below(&r->have, e);
	} else {
		if (move_out(r, e))
			return TERN_ENOMEM;
		cb(ctx, r->msg, r->msg_len);
	}
	r->msg_start = e;
	r->msg_len = 0;
	if (r->msg_cap >
	    TERN_MAX(r->cap,
	             (size_t)RECV_MSG_MIN)) { /* do not keep a giant buffer after a giant message */
		free(r->msg);
		r->msg = NULL;
		r->msg_cap = 0;
	}
	return 0;
}

uint64_t tern_srecv_deliver(struct tern_stream_recv *r, tern_msg_cb cb, void *ctx)
{
	uint64_t start = r->read_off, ce;
	size_t used = 0;

	for (;;) {
		ce = tern_ranges_contiguous_end(&r->have, r->read_off);
		if (used < r->ends_n && r->ends[used] <= ce) {
			if (deliver_one(r, r->ends[used], cb, ctx))
				break;
			used++;
			continue;
		}
		/* a message of half the window or more: stream its bytes out */
		if (ce > r->read_off && (r->msg_len > 0 || ce - r->read_off >= r->cap / 2))
			(void)move_out(r, ce); /* on ENOMEM, retried on the next call */
		break;
	}
	if (used) {
		memmove(r->ends, r->ends + used, (r->ends_n - used) * sizeof(*r->ends));
		r->work += r->ends_n - used;
		r->ends_n -= used;
	}
	if (r->final_size == r->read_off && r->msg_len == 0)
		r->fin_delivered = true;
	return r->read_off - start;
}

/* Re-places the bytes of [read_off, max_data) in a ring of ncap bytes. */
static int grow(struct tern_stream_recv *r, size_t ncap)
{
	uint64_t off = r->read_off, end = TERN_MIN(r->max_data, r->read_off + r->cap);
	uint8_t *nb = NULL;

	if (r->buf) {
		nb = malloc(ncap);
		if (!nb)
			return TERN_ENOMEM;
	}
	while (nb && off < end) { /* at most three spans: wraps of either ring */
		size_t oat = (size_t)(off & (r->cap - 1)), nat = (size_t)(off & (ncap - 1));
		size_t n =
		        (size_t)TERN_MIN(end - off, (uint64_t)TERN_MIN(r->cap - oat, ncap - nat));

		memcpy(nb + nat, r->buf + oat, n);
		off += n;
	}
	if (nb) {
		free(r->buf);
		r->buf = nb;
	}
	r->cap = ncap;
	r->have.max = ncap / 2 + 2;
	return 0;
}

bool tern_srecv_window_update_at(struct tern_stream_recv *r, tern_time now, tern_time rtt,
                                 size_t max_cap, uint64_t *new_max)
{
	if (r->max_data - r->read_off > r->cap / 2)
		return false;
	if (r->cap < max_cap &&
	    tern_flow_window_limited(r->epoch, now, rtt, r->read_off - r->epoch_off, r->cap))
		(void)grow(r, r->cap * 2); /* on ENOMEM the window keeps its size */
	r->epoch = now;
	r->epoch_off = r->read_off;
	return tern_srecv_window_update(r, new_max);
}

bool tern_srecv_window_update(struct tern_stream_recv *r, uint64_t *new_max)
{
	if (r->max_data - r->read_off > r->cap / 2)
		return false;
	r->max_data = r->read_off + r->cap;
	*new_max = r->max_data;
	return true;
}
