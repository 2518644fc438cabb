/* The send side of a reliable message stream (core/stream.h).
 *
 * Shape: the bytes the application wrote and the peer has not yet
 * acknowledged, [acked_off, write_off), live in one power-of-two ring indexed
 * by offset & (cap - 1), so a retransmission reads the same bytes at the same
 * offset without any per-packet bookkeeping or allocation. Beside it:
 *   - `ends`, a ring of message end offsets, so every frame (first send or
 *     retransmission) stops at the next message end and carries MSG_END
 *     exactly when it ends one;
 *   - `acked`, ranges acknowledged above acked_off (acks arrive out of
 *     order); acked_off advances through them;
 *   - `lost`, ranges to resend, always disjoint from `acked`.
 * emit() serves lost ranges first (they hold up the peer's delivery), then
 * new bytes within the peer's stream credit and the connection credit. A
 * frame is also cut where the ring wraps, since the encoder copies from one
 * contiguous span. */
#include <stdlib.h>
#include "alloc.h"
#include "stream.h"

#define SEND_MIN_CAP 4096u
#define SEND_ENDS_MIN 16u
#define SEND_MAX_RANGES (1u << 20)

int tern_ssend_init(struct tern_stream_send *s, size_t limit, uint64_t max_data)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->limit = limit;
	s->max_data = max_data;
	rc = tern_ranges_init(&s->acked, SEND_MAX_RANGES, false);
	if (!rc)
		rc = tern_ranges_init(&s->lost, SEND_MAX_RANGES, false);
	return rc;
}

void tern_ssend_free(struct tern_stream_send *s)
{
	tern_memacct_add(s->acct, -(int64_t)(s->cap + s->ends_cap * sizeof(*s->ends)));
	free(s->buf);
	free(s->ends);
	tern_ranges_free(&s->acked);
	tern_ranges_free(&s->lost);
	memset(s, 0, sizeof(*s));
}

/* ---- ring of bytes ---- */

static size_t pow2_at_least(size_t v, size_t floor)
{
	size_t c = floor;

	while (c < v)
		c <<= 1;
	return c;
}

/* Copies n bytes into the ring at offset off. */
static void ring_put(uint8_t *ring, size_t cap, uint64_t off, const uint8_t *src, size_t n)
{
	size_t at = (size_t)(off & (cap - 1)), first = TERN_MIN(n, cap - at);

	memcpy(ring + at, src, first);
	memcpy(ring, src + first, n - first);
}

/* Makes the ring hold at least `need` bytes from acked_off, re-placing the
 * live bytes at their offsets in the new capacity. */
static int reserve_bytes(struct tern_stream_send *s, size_t need)
{
	size_t ncap, live = tern_ssend_buffered(s), at, first;
	uint8_t *nb;

	if (need <= s->cap)
		return 0;
	ncap = pow2_at_least(need, SEND_MIN_CAP);
	nb = tern_malloc(ncap);
	if (!nb)
		return TERN_ENOMEM;
	if (live) { /* the old ring holds the live bytes in at most two spans */
		at = (size_t)(s->acked_off & (s->cap - 1));
		first = TERN_MIN(live, s->cap - at);
		ring_put(nb, ncap, s->acked_off, s->buf + at, first);
		ring_put(nb, ncap, s->acked_off + first, s->buf, live - first);
	}
	free(s->buf);
	tern_memacct_add(s->acct, (int64_t)ncap - (int64_t)s->cap);
	s->buf = nb;
	s->cap = ncap;
	return 0;
}

/* ---- ring of message ends, ascending ---- */

static uint64_t end_at(const struct tern_stream_send *s, size_t i)
{
	return s->ends[(s->ends_head + i) & (s->ends_cap - 1)];
}

static int reserve_end(struct tern_stream_send *s)
{
	size_t ncap = s->ends_cap ? s->ends_cap * 2 : SEND_ENDS_MIN;
	uint64_t *ne;

	if (s->ends_n < s->ends_cap)
		return 0;
	ne = tern_malloc(ncap * sizeof(*ne));
	if (!ne)
		return TERN_ENOMEM;
	for (size_t i = 0; i < s->ends_n; i++)
		ne[i] = end_at(s, i);
	free(s->ends);
	tern_memacct_add(s->acct, (int64_t)((ncap - s->ends_cap) * sizeof(*ne)));
	s->ends = ne;
	s->ends_cap = ncap;
	s->ends_head = 0;
	return 0;
}

/* The first message end above off; UINT64_MAX if none. */
static uint64_t next_end_after(const struct tern_stream_send *s, uint64_t off)
{
	size_t lo = 0, hi = s->ends_n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (end_at(s, mid) <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->ends_n ? end_at(s, lo) : UINT64_MAX;
}

/* Forgets message ends at or below v (<= sent_off): every frame from now
 * starts above. */
static void drop_ends_upto(struct tern_stream_send *s, uint64_t v)
{
	while (s->ends_n && end_at(s, 0) <= v) {
		s->ends_head = (s->ends_head + 1) & (s->ends_cap - 1);
		s->ends_n--;
		s->ends_sent -= s->ends_sent > 0;
	}
}

/* The first message end above off: new data (off = sent_off) reads the
 * cursor, a retransmission searches. */
static uint64_t end_after(const struct tern_stream_send *s, uint64_t off)
{
	if (off != s->sent_off)
		return next_end_after(s, off);
	return s->ends_sent < s->ends_n ? end_at(s, s->ends_sent) : UINT64_MAX;
}

/* sent_off moved on: so does the cursor. */
static void advance_ends_sent(struct tern_stream_send *s)
{
	while (s->ends_sent < s->ends_n && end_at(s, s->ends_sent) <= s->sent_off)
		s->ends_sent++;
}

/* ---- application side ---- */

bool tern_ssend_writable(const struct tern_stream_send *s, size_t len)
{
	size_t buffered = tern_ssend_buffered(s);

	if (s->fin || len == 0 || len > TERN_MAX_MESSAGE)
		return false;
	return buffered == 0 || (len <= s->limit && buffered <= s->limit - len);
}

int tern_ssend_write(struct tern_stream_send *s, const uint8_t *msg, size_t len)
{
	int rc;

	if (len == 0 || len > TERN_MAX_MESSAGE)
		return TERN_ETOOBIG;
	if (s->fin)
		return TERN_ECLOSED;
	if (!tern_ssend_writable(s, len))
		return TERN_EAGAIN;
	rc = reserve_bytes(s, tern_ssend_buffered(s) + len);
	if (!rc)
		rc = reserve_end(s);
	if (rc)
		return rc;
	ring_put(s->buf, s->cap, s->write_off, msg, len);
	s->write_off += len;
	s->ends[(s->ends_head + s->ends_n++) & (s->ends_cap - 1)] = s->write_off;
	return 0;
}

int tern_ssend_finish(struct tern_stream_send *s)
{
	if (s->fin)
		return TERN_ECLOSED;
	s->fin = true;
	return 0;
}

void tern_ssend_on_max_data(struct tern_stream_send *s, uint64_t max)
{
	if (max > s->max_data)
		s->max_data = max;
}

bool tern_ssend_done(const struct tern_stream_send *s)
{
	return s->fin && s->fin_acked && s->acked_off == s->write_off;
}

/* ---- frames ---- */

static uint64_t new_credit(const struct tern_stream_send *s, uint64_t conn_credit)
{
	uint64_t stream = s->max_data > s->sent_off ? s->max_data - s->sent_off : 0;

	return TERN_MIN(TERN_MIN(stream, conn_credit), s->write_off - s->sent_off);
}

bool tern_ssend_pending(const struct tern_stream_send *s, uint64_t conn_credit)
{
	if (s->lost.n || (s->fin_lost && !s->fin_acked))
		return true;
	if (s->sent_off < s->write_off)
		return new_credit(s, conn_credit) > 0;
	return s->fin && !s->fin_sent;
}

static void fill_meta(struct tern_frame_meta *m, uint16_t id, uint64_t off, size_t len, bool fin)
{
	m->kind = TERN_META_STREAM;
	m->fin = fin;
	m->id = id;
	m->len = (uint32_t)len;
	m->off = off;
}

/* Encodes a frame of up to max_len bytes from off, cut at the next message
 * end, the ring's wrap point and what fits in cap. Returns the frame size
 * (0 if not even one byte fits) and fills *m. */
static size_t frame_out(struct tern_stream_send *s, uint16_t id, uint8_t *p, size_t cap,
                        uint64_t off, uint64_t max_len, struct tern_frame_meta *m)
{
	uint64_t end = end_after(s, off);
	size_t at = (size_t)(off & (s->cap - 1)), len, over, n, got;
	bool fin, msg_end;

	len = (size_t)TERN_MIN(TERN_MIN(max_len, end - off), (uint64_t)(s->cap - at));
	len = TERN_MIN(len, (size_t)UINT32_MAX);
	over = tern_frame_stream_overhead(id, off, len);
	if (cap <= over)
		return 0;
	len = TERN_MIN(len, cap - over);
	fin = s->fin && off + len == s->write_off;
	msg_end = off + len == end;
	n = tern_frame_encode_stream(p, cap, id, off, s->buf + at, len, fin, msg_end, true, &got);
	if (n == 0 || got == 0)
		return 0;
	fill_meta(m, id, off, got, fin && got == len);
	return n;
}

/* A FIN with no data, at write_off. */
static size_t fin_out(struct tern_stream_send *s, uint16_t id, uint8_t *p, size_t cap,
                      struct tern_frame_meta *m)
{
	size_t got, n = tern_frame_encode_stream(p, cap, id, s->write_off, NULL, 0, true, false,
	                                         true, &got);

	if (n == 0)
		return 0;
	fill_meta(m, id, s->write_off, 0, true);
	s->fin_sent = true;
	s->fin_lost = false;
	return n;
}

static size_t emit_lost(struct tern_stream_send *s, uint16_t id, uint8_t *p, size_t cap,
                        struct tern_frame_meta *m)
{
	uint64_t lo, hi;
	size_t n;

	tern_ranges_remove_below(&s->lost, s->acked_off); /* never splits */
	if (s->lost.n == 0)
		return 0;
	lo = s->lost.r[0].lo;
	hi = s->lost.r[0].hi;
	n = frame_out(s, id, p, cap, lo, hi - lo + 1, m);
	if (n == 0)
		return 0;
	(void)tern_ranges_remove(&s->lost, lo, lo + m->len - 1); /* a prefix: never splits */
	if (m->fin) {
		s->fin_sent = true;
		s->fin_lost = false;
	}
	return n;
}

static size_t emit_new(struct tern_stream_send *s, uint16_t id, uint8_t *p, size_t cap,
                       uint64_t conn_credit, struct tern_frame_meta *m, uint64_t *new_bytes)
{
	uint64_t credit;
	size_t n;

	if (s->sent_off == s->write_off)
		return s->fin && !s->fin_sent ? fin_out(s, id, p, cap, m) : 0;
	credit = new_credit(s, conn_credit);
	if (credit == 0)
		return 0;
	n = frame_out(s, id, p, cap, s->sent_off, credit, m);
	if (n == 0)
		return 0;
	s->sent_off += m->len;
	advance_ends_sent(s);
	*new_bytes = m->len;
	if (m->fin)
		s->fin_sent = true;
	return n;
}

size_t tern_ssend_emit(struct tern_stream_send *s, uint16_t id, uint8_t *p, size_t cap,
                       uint64_t conn_credit, struct tern_frame_meta *meta, uint64_t *new_bytes)
{
	size_t n;

	*new_bytes = 0;
	n = emit_lost(s, id, p, cap, meta);
	if (n)
		return n;
	if (s->fin_lost && !s->fin_acked && s->sent_off == s->write_off)
		return fin_out(s, id, p, cap, meta);
	return emit_new(s, id, p, cap, conn_credit, meta, new_bytes);
}

/* ---- acknowledgements and losses ---- */

/* After a burst of data bigger than the limit is fully acked, give the big
 * ring back; the next write allocates one sized for the limit again. */
static void maybe_shrink(struct tern_stream_send *s)
{
	if (s->acked_off == s->write_off && s->cap > 2 * pow2_at_least(s->limit, SEND_MIN_CAP)) {
		tern_memacct_add(s->acct, -(int64_t)s->cap);
		free(s->buf);
		s->buf = NULL;
		s->cap = 0;
	}
}

void tern_ssend_on_acked(struct tern_stream_send *s, const struct tern_frame_meta *m)
{
	uint64_t lo = TERN_MAX(m->off, s->acked_off), hi = m->off + m->len - 1;

	if (m->fin) {
		s->fin_acked = true;
		s->fin_lost = false;
	}
	if (m->len == 0 || hi < lo)
		return;
	(void)tern_ranges_remove(&s->lost, lo, hi); /* failure only costs a resend */
	if (tern_ranges_add(&s->acked, lo, hi)) {
		if (lo != s->acked_off) { /* cannot record it: resend, it will be acked again */
			(void)tern_ranges_add(&s->lost, lo, hi);
			return;
		}
		s->acked_off = hi + 1;
	}
	s->acked_off = tern_ranges_contiguous_end(&s->acked, s->acked_off);
	tern_ranges_remove_below(&s->acked, s->acked_off);
	drop_ends_upto(s, s->acked_off);
	maybe_shrink(s);
}

/* The first acked range ending at or above v. */
static size_t acked_from(const struct tern_stream_send *s, uint64_t v)
{
	size_t lo = 0, hi = s->acked.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->acked.r[mid].hi < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void tern_ssend_on_lost(struct tern_stream_send *s, const struct tern_frame_meta *m)
{
	uint64_t cur = TERN_MAX(m->off, s->acked_off), hi = m->off + m->len - 1;

	if (m->fin && !s->fin_acked)
		s->fin_lost = true;
	if (m->len == 0 || hi < cur)
		return;
	/* resend only the parts not acknowledged since */
	for (size_t i = acked_from(s, cur); i < s->acked.n && s->acked.r[i].lo <= hi; i++) {
		if (s->acked.r[i].lo > cur)
			(void)tern_ranges_add(&s->lost, cur, s->acked.r[i].lo - 1);
		cur = s->acked.r[i].hi + 1;
	}
	if (cur <= hi)
		(void)tern_ranges_add(&s->lost, cur, hi);
}
