/* The receive side of a reliable message stream (core/stream.h).
 *
 * Shape: one ring of `cap` (= window) bytes covering [read_off, read_off +
 * cap), indexed by offset & (cap - 1). Flow control guarantees every
 * accepted byte lands inside it, so a frame is one or two memcpys whatever
 * the order it arrives in. Which bytes arrived, and where messages end, are
 * two bitmaps of one bit per ring byte: a frame sets its bits (a word per 64
 * bytes), and two cursors only move forward: `contig`, the end of the bytes
 * received in order, and `scan`, how far delivery has looked for a message
 * end. So the bookkeeping per frame is bounded by its length, never by what
 * the stream already holds (a sorted array of ranges cost a shift of every
 * later range per out-of-order insertion: quadratic for fragments sent top
 * down), and its memory is a quarter of the ring, fixed. Only the bits of
 * [read_off, valid) mean anything: a bit is cleared when `valid` first
 * passes its offset, ahead of the data stored there, so no pass clears bits
 * as bytes leave, and the bitmaps, like the ring, are touched only as far
 * as data arrived.
 *
 * Delivery hands a message that sits contiguously in the ring to the
 * callback by pointer (no copy); one that wraps is copied to the assembly
 * buffer `msg`. A message of half the window or more cannot be held in the
 * ring while the window keeps moving, so its bytes move into `msg` as they
 * become contiguous and read_off advances past them: memory stays at window
 * + one message, and a 64 MiB message flows through a 256 KiB window.
 *
 * Invariant: [msg_start, read_off) is in msg[0, msg_len); every message end
 * at or below `contig` is marked (a frame never crosses a message end and
 * the one ending a message carries MSG_END), so an end that shows up among
 * bytes already scanned cannot be right. */
#include <stdlib.h>
#include "alloc.h"
#include "flow.h"
#include "stream.h"

#define RECV_MIN_CAP 64u /* one bitmap word */
#define RECV_MSG_MIN 4096u

int tern_srecv_init(struct tern_stream_recv *r, size_t window)
{
	size_t cap = RECV_MIN_CAP;

	memset(r, 0, sizeof(*r));
	if (window == 0 || window > ((size_t)1 << 40))
		return TERN_EINVAL;
	while (cap < window)
		cap <<= 1;
	r->cap = cap;
	r->max_data = cap;
	r->final_size = UINT64_MAX;
	return 0;
}

void tern_srecv_free(struct tern_stream_recv *r)
{
	tern_memacct_add(r->acct, -(int64_t)tern_srecv_mem(r));
	free(r->buf);
	free(r->msg);
	memset(r, 0, sizeof(*r));
}

/* The ring and its two bitmaps, in one allocation. */
static size_t ring_bytes(size_t cap)
{
	return cap + cap / 4;
}

size_t tern_srecv_mem(const struct tern_stream_recv *r)
{
	return (r->buf ? ring_bytes(r->cap) : 0) + r->msg_cap;
}

/* ---- bitmaps ---- */

/* Sets or clears the bits of offsets [lo, hi) (within one window): whole
 * words by memset (a 1,400-byte frame is 22 of them), the ends by mask. */
static void put_bits(struct tern_stream_recv *r, uint64_t *bm, size_t cap, uint64_t lo, uint64_t hi,
                     bool set)
{
	while (lo < hi) {
		size_t pos = (size_t)(lo & (cap - 1)), bit = pos % 64, word = pos / 64;
		uint64_t n = TERN_MIN(hi - lo, (uint64_t)(64 - bit));
		uint64_t mask = (n == 64 ? ~0ull : (1ull << n) - 1) << bit;

		if (n == 64) { /* whole words, up to hi or the end of the ring */
			size_t words =
			        (size_t)TERN_MIN((hi - lo) / 64, (uint64_t)(cap / 64 - word));
			memset(bm + word, set ? 0xff : 0, words * sizeof(*bm));
			r->work += words;
			lo += (uint64_t)words * 64;
			continue;
		}
		bm[word] = set ? bm[word] | mask : bm[word] & ~mask;
		r->work++;
		lo += n;
	}
}

/* The first offset in [from, limit) whose bit is `set`, or limit. limit is
 * at most one window past read_off, so no two offsets share a bit. */
static uint64_t first_bit(struct tern_stream_recv *r, const uint64_t *bm, size_t cap, uint64_t from,
                          uint64_t limit, bool set)
{
	while (from < limit) {
		size_t pos = (size_t)(from & (cap - 1));
		uint64_t w = (set ? bm[pos / 64] : ~bm[pos / 64]) >> (pos % 64);

		r->work++;
		if (w)
			return TERN_MIN(from + (uint64_t)__builtin_ctzll(w), limit);
		from += 64 - pos % 64;
	}
	return limit;
}

/* The bitmaps' bits are cleared as `highest` reaches them, not here. */
static int ring_alloc(size_t cap, uint8_t **buf, uint64_t **have, uint64_t **ends)
{
	uint8_t *b = tern_malloc(ring_bytes(cap));

	if (!b)
		return TERN_ENOMEM;
	*buf = b;
	*have = (uint64_t *)(void *)(b + cap);
	*ends = *have + cap / 64;
	return 0;
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
	if (msg_end && (end == off || (end > r->msg_start && end <= r->scan)))
		return TERN_EMALFORMED; /* empty message, or an end where none was found */
	return 0;
}

/* Clears the bits of [valid, to): offsets that still describe a window ago
 * (to is at most one window past read_off). */
static void make_valid(struct tern_stream_recv *r, uint64_t to)
{
	if (to <= r->valid)
		return;
	put_bits(r, r->have, r->cap, r->valid, to, false);
	put_bits(r, r->ends, r->cap, r->valid, to, false);
	r->valid = to;
}

/* The end of contiguous data once [lo, end) is added (lo >= read_off). */
static uint64_t contig_with(struct tern_stream_recv *r, uint64_t lo, uint64_t end)
{
	if (lo > r->contig || end <= r->contig)
		return r->contig;
	return first_bit(r, r->have, r->cap, end, TERN_MAX(r->highest, end), false);
}

static void ring_put(struct tern_stream_recv *r, uint64_t off, const uint8_t *src, size_t n)
{
	size_t at = (size_t)(off & (r->cap - 1)), first = TERN_MIN(n, r->cap - at);

	memcpy(r->buf + at, src, first);
	memcpy(r->buf, src + first, n - first);
}

/* Stores bytes [lo, end) of the frame (the part not yet delivered), unless
 * they prove the current message longer than TERN_MAX_MESSAGE (TERN_ETOOBIG):
 * its first end at or below the new contiguous end lies too far from its
 * start, or the contiguous bytes from its start run past the limit with no
 * end among them. An end beyond the contiguous bytes proves nothing yet. */
static int store(struct tern_stream_recv *r, uint64_t off, const uint8_t *data, uint64_t end,
                 bool msg_end)
{
	uint64_t lo = TERN_MAX(off, r->read_off), ce, first;

	if (!r->buf) {
		if (ring_alloc(r->cap, &r->buf, &r->have, &r->ends))
			return TERN_ENOMEM;
		tern_memacct_add(r->acct, (int64_t)ring_bytes(r->cap));
	}
	make_valid(r, TERN_MAX(r->highest, end));
	ce = contig_with(r, lo, end);
	first = first_bit(r, r->ends, r->cap, r->scan, ce, true);
	if (msg_end)
		first = TERN_MIN(first, end - 1);
	first = TERN_MIN(first, ce); /* the position of the first end, or ce */
	if ((first < ce ? first + 1 : ce) - r->msg_start > TERN_MAX_MESSAGE)
		return TERN_ETOOBIG;
	ring_put(r, lo, data + (lo - off), (size_t)(end - lo));
	put_bits(r, r->have, r->cap, lo, end, true);
	if (msg_end)
		put_bits(r, r->ends, r->cap, end - 1, end, true);
	r->contig = ce;
	r->scan = first; /* no end in [scan, first): the next search starts there */
	return 0;
}

int tern_srecv_frame(struct tern_stream_recv *r, uint64_t off, const uint8_t *data, size_t len,
                     bool msg_end, bool fin, uint64_t *new_bytes)
{
	uint64_t end = off + len;
	int rc;

	*new_bytes = 0;
	r->work++;
	rc = check_frame(r, off, end, msg_end, fin);
	if (!rc && end > TERN_MAX(off, r->read_off))
		rc = store(r, off, data, end, msg_end);
	if (rc)
		return rc;
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
	nm = tern_realloc(r->msg, ncap);
	if (!nm)
		return TERN_ENOMEM;
	tern_memacct_add(r->acct, (int64_t)ncap - (int64_t)r->msg_cap);
	r->msg = nm;
	r->msg_cap = ncap;
	return 0;
}

/* Bytes [read_off, to) leave the ring (their bits go stale, unread). */
static void advance(struct tern_stream_recv *r, uint64_t to)
{
	r->read_off = to;
	r->scan = TERN_MAX(r->scan, to);
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
	advance(r, to);
	return 0;
}

/* Hands up the message ending at e (all its bytes are received). */
static int deliver_one(struct tern_stream_recv *r, uint64_t e, tern_msg_cb cb, void *ctx)
{
	size_t at = (size_t)(r->read_off & (r->cap - 1));

	if (r->msg_len == 0 && at + (e - r->read_off) <= r->cap) {
		cb(ctx, r->buf + at, (size_t)(e - r->read_off)); /* in place, no copy */
		advance(r, e);
	} else {
		if (move_out(r, e))
			return TERN_ENOMEM;
		cb(ctx, r->msg, r->msg_len);
	}
	r->msg_start = e;
	r->msg_len = 0;
	if (r->msg_cap > TERN_MAX(r->cap, (size_t)RECV_MSG_MIN)) {
		tern_memacct_add(r->acct, -(int64_t)r->msg_cap);
		free(r->msg); /* do not keep a giant buffer after a giant message */
		r->msg = NULL;
		r->msg_cap = 0;
	}
	return 0;
}

/* The end of the oldest complete message, or 0: the first end marked in
 * [scan, contig). The search resumes where the last one stopped. */
static uint64_t next_end(struct tern_stream_recv *r)
{
	uint64_t p = r->buf ? first_bit(r, r->ends, r->cap, r->scan, r->contig, true) : r->contig;

	r->scan = p;
	return p < r->contig ? p + 1 : 0;
}

uint64_t tern_srecv_deliver_room(struct tern_stream_recv *r, tern_msg_cb cb, void *ctx,
                                 uint64_t room)
{
	uint64_t start = r->read_off, e;
	bool stuck = false, assembled = false;

	while (!stuck && (e = next_end(r)) != 0) {
		assembled |= r->msg_len > 0;
		stuck = deliver_one(r, e, cb, ctx) != 0; /* ENOMEM: retried on the next call */
	}
	/* a message of half the window or more: stream its bytes out */
	if (!stuck && !assembled && room && tern_srecv_wants_room(r))
		(void)move_out(r, r->read_off + TERN_MIN(r->contig - r->read_off, room));
	if (r->final_size == r->read_off && r->msg_len == 0)
		r->fin_delivered = true;
	return r->read_off - start;
}

/* Copies [read_off, valid) of a bitmap into a new ring's (ncap bits): a
 * word per 64 bits plus one per run of set bits. */
static void copy_runs(struct tern_stream_recv *r, const uint64_t *old, uint64_t *bm, size_t ncap)
{
	uint64_t o = r->read_off;

	put_bits(r, bm, ncap, r->read_off, r->valid, false);
	while (o < r->valid) {
		uint64_t lo = first_bit(r, old, r->cap, o, r->valid, true);
		o = first_bit(r, old, r->cap, lo, r->valid, false);
		put_bits(r, bm, ncap, lo, o, true);
	}
}

/* Re-places the bytes of [read_off, max_data), and their bits, in a ring
 * of ncap bytes. */
static int grow(struct tern_stream_recv *r, size_t ncap)
{
	uint64_t off = r->read_off, end = TERN_MIN(r->max_data, r->read_off + r->cap);
	uint64_t *have = NULL, *ends = NULL;
	uint8_t *nb = NULL;

	if (r->buf && ring_alloc(ncap, &nb, &have, &ends))
		return TERN_ENOMEM;
	while (nb && off < end) { /* at most three spans: wraps of either ring */
		size_t oat = (size_t)(off & (r->cap - 1)), nat = (size_t)(off & (ncap - 1));
		size_t n =
		        (size_t)TERN_MIN(end - off, (uint64_t)TERN_MIN(r->cap - oat, ncap - nat));

		memcpy(nb + nat, r->buf + oat, n);
		off += n;
	}
	if (nb) {
		tern_memacct_add(r->acct, (int64_t)ring_bytes(ncap) - (int64_t)ring_bytes(r->cap));
		copy_runs(r, r->have, have, ncap);
		copy_runs(r, r->ends, ends, ncap);
		free(r->buf);
		r->buf = nb;
		r->have = have;
		r->ends = ends;
	}
	r->cap = ncap;
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
