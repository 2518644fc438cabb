/* Wire codec: varints, packet classification, the data packet header,
 * packet-number truncation/expansion and every frame (docs/protocol.md §1-6).
 *
 * Shape: every parser takes a cursor and an end pointer and checks the
 * remaining length before each read, so no input can make it read out of
 * bounds. Frame decoding is a table indexed by the type byte over one small
 * handler per frame; each handler validates every field against proto.h, so
 * that the session engine (and the ACK iterator) can trust a decoded frame.
 * Encoders compute the exact size first, then write; they return 0 both when
 * the buffer is too small and when asked to encode something the decoder
 * would reject, so tern never emits a frame its peer must treat as malformed. */
#include "wire.h"

/* ---- varints ---- */

size_t tern_varint_len(uint64_t v)
{
	if (v < (1ull << 6))
		return 1;
	if (v < (1ull << 14))
		return 2;
	if (v < (1ull << 30))
		return 4;
	if (v <= TERN_VARINT_MAX)
		return 8;
	return 0;
}

uint8_t *tern_varint_put(uint8_t *p, uint64_t v)
{
	switch (tern_varint_len(v)) {
	case 1:
		*p = (uint8_t)v;
		return p + 1;
	case 2:
		tern_put_be16(p, (uint16_t)(0x4000 | v));
		return p + 2;
	case 4:
		tern_put_be32(p, (uint32_t)(0x80000000u | v));
		return p + 4;
	case 8:
		tern_put_be64(p, 0xc000000000000000ull | v);
		return p + 8;
	default:
		return p; /* v > TERN_VARINT_MAX: the caller skipped tern_varint_len */
	}
}

int tern_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	const uint8_t *s = *p;
	size_t n;

	if (s >= end)
		return TERN_EMALFORMED;
	n = (size_t)1 << (*s >> 6);
	if ((size_t)(end - s) < n)
		return TERN_EMALFORMED;
	switch (n) {
	case 1:
		*v = *s;
		break;
	case 2:
		*v = tern_get_be16(s) & 0x3fffu;
		break;
	case 4:
		*v = tern_get_be32(s) & 0x3fffffffu;
		break;
	default:
		*v = tern_get_be64(s) & TERN_VARINT_MAX;
		break;
	}
	*p = s + n;
	return 0;
}

/* Reads n raw bytes: *out points at them, *p moves past them. */
static int get_bytes(const uint8_t **p, const uint8_t *end, size_t n, const uint8_t **out)
{
	if ((size_t)(end - *p) < n)
		return TERN_EMALFORMED;
	*out = *p;
	*p += n;
	return 0;
}

/* ---- packets ---- */

/* Type, then size: an initiation is padded to at least 1,200 bytes; the
 * other three have one size each. */
static int classify_handshake(const uint8_t *p, size_t len)
{
	unsigned type = p[0] & TERN_HS_TYPE_MASK;

	if ((p[0] & ~TERN_HS_TYPE_MASK) != TERN_FORM_HANDSHAKE || len < TERN_HS_HEADER_LEN ||
	    p[1] != TERN_PROTO_VERSION_MAJOR)
		return TERN_EMALFORMED;
	switch (type) {
	case TERN_HS_INITIATION:
		return len >= TERN_MIN_UDP_PAYLOAD ? TERN_PKT_HS_INITIATION : TERN_EMALFORMED;
	case TERN_HS_RESPONSE:
		return len == TERN_HS_RESP_LEN ? TERN_PKT_HS_RESPONSE : TERN_EMALFORMED;
	case TERN_HS_COOKIE_REPLY:
		return len == TERN_HS_COOKIE_REPLY_LEN ? TERN_PKT_HS_COOKIE_REPLY : TERN_EMALFORMED;
	case TERN_HS_REFUSAL:
		return len == TERN_HS_REFUSAL_LEN ? TERN_PKT_HS_REFUSAL : TERN_EMALFORMED;
	default:
		return TERN_EMALFORMED;
	}
}

int tern_wire_classify(const uint8_t *p, size_t len)
{
	if (len == 0)
		return TERN_EMALFORMED;
	switch (p[0] & TERN_FORM_MASK) {
	case TERN_FORM_DATA:
		return len >= TERN_DATA_HEADER_MIN + TERN_AEAD_TAG_LEN ? TERN_PKT_DATA
		                                                       : TERN_EMALFORMED;
	case TERN_FORM_HANDSHAKE:
		return classify_handshake(p, len);
	default:
		return TERN_EMALFORMED;
	}
}

int tern_wire_data_hdr_decode(const uint8_t *p, size_t len, struct tern_data_hdr *h)
{
	unsigned i;

	if (len == 0 || (p[0] & TERN_FORM_MASK) != TERN_FORM_DATA ||
	    (p[0] & TERN_DATA_RESERVED_MASK) != 0)
		return TERN_EMALFORMED;
	h->pn_len = (uint8_t)((p[0] & TERN_DATA_PN_LEN_MASK) + 1);
	h->key_phase = (p[0] & TERN_DATA_KEY_PHASE) ? 1 : 0;
	h->hdr_len = 1 + TERN_CID_LEN + h->pn_len;
	if (len < h->hdr_len + TERN_AEAD_TAG_LEN)
		return TERN_EMALFORMED;
	memcpy(h->dcid, p + 1, TERN_CID_LEN);
	h->pn_trunc = 0;
	for (i = 0; i < h->pn_len; i++)
		h->pn_trunc = (h->pn_trunc << 8) | p[1 + TERN_CID_LEN + i];
	return 0;
}

/* Bytes needed so that the peer can recover pn (RFC 9000 §17.1, A.2): the
 * window must exceed twice the number of packets not yet acknowledged.
 * Returns 0 when even 4 bytes cannot (more than 2^31 unacknowledged). */
static unsigned pn_len_for(uint64_t pn, uint64_t largest_acked)
{
	uint64_t unacked = largest_acked == UINT64_MAX ? pn + 1 : pn - largest_acked;
	unsigned n;

	for (n = 1; n <= 4; n++)
		if (unacked < (1ull << (8 * n - 1)))
			return n;
	return 0;
}

size_t tern_wire_data_hdr_encode(uint8_t *p, size_t cap, const uint8_t dcid[TERN_CID_LEN],
                                 uint64_t pn, uint64_t largest_acked, unsigned key_phase)
{
	unsigned pn_len, i;

	if (pn > TERN_VARINT_MAX || (largest_acked != UINT64_MAX && largest_acked >= pn))
		return 0;
	pn_len = pn_len_for(pn, largest_acked);
	if (pn_len == 0 || cap < 1 + TERN_CID_LEN + pn_len)
		return 0;
	p[0] = (uint8_t)(TERN_FORM_DATA | ((key_phase & 1) ? TERN_DATA_KEY_PHASE : 0) |
	                 (pn_len - 1));
	memcpy(p + 1, dcid, TERN_CID_LEN);
	for (i = 0; i < pn_len; i++)
		p[1 + TERN_CID_LEN + i] = (uint8_t)(pn >> (8 * (pn_len - 1 - i)));
	return 1 + TERN_CID_LEN + pn_len;
}

uint64_t tern_wire_pn_expand(uint64_t largest_rx, uint32_t trunc, unsigned pn_len)
{
	uint64_t expected = largest_rx == UINT64_MAX ? 0 : largest_rx + 1;
	uint64_t win, hwin, mask, cand;

	if (pn_len < 1 || pn_len > 4)
		pn_len = 4;
	win = 1ull << (8 * pn_len);
	hwin = win / 2;
	mask = win - 1;
	cand = (expected & ~mask) | (trunc & mask);
	/* RFC 9000 A.3 with signed arithmetic rewritten to avoid underflow. */
	if (expected >= hwin && cand <= expected - hwin && cand < (1ull << 62) - win)
		return cand + win;
	if (cand > expected + hwin && cand >= win)
		return cand - win;
	return cand;
}

/* ---- frame decoders: called with *p just past the type byte ---- */

static int dec_padding(const uint8_t **p, const uint8_t *end, struct tern_frame *f)
{
	(void)f;
	while (*p < end && **p == TERN_FRAME_PADDING)
		(*p)++;
	return 0;
}

static int dec_ping(const uint8_t **p, const uint8_t *end, struct tern_frame *f)
{
	(void)p;
	(void)end;
	(void)f;
	return 0;
}

/* Walks the (gap, len) pairs once so that the iterator never has to check:
 * every range must stay at or above 0. */
static int check_ack_ranges(const uint8_t **p, const uint8_t *end, uint64_t lo, uint64_t count)
{
	uint64_t gap, len, hi;

	while (count--) {
		if (tern_varint_get(p, end, &gap) || tern_varint_get(p, end, &len))
			return TERN_EMALFORMED;
		if (lo < 2 || gap > lo - 2)
			return TERN_EMALFORMED;
		hi = lo - gap - 2;
		if (len > hi)
			return TERN_EMALFORMED;
		lo = hi - len;
	}
	return 0;
}

static int dec_ack(const uint8_t **p, const uint8_t *end, struct tern_frame *f)
{
	uint64_t largest, first, count;

	if (tern_varint_get(p, end, &largest) || tern_varint_get(p, end, &f->u.ack.delay_us) ||
	    tern_varint_get(p, end, &count) || tern_varint_get(p, end, &first))
		return TERN_EMALFORMED;
	if (first > largest || count > TERN_MAX_ACK_RANGES)
		return TERN_EMALFORMED;
	f->u.ack.largest = largest;
	f->u.ack.first_range = first;
	f->u.ack.range_count = count;
	f->u.ack.ranges = *p;
	if (check_ack_ranges(p, end, largest - first, count))
		return TERN_EMALFORMED;
	f->u.ack.end = *p;
	return 0;
}

static int dec_close(const uint8_t **p, const uint8_t *end, struct tern_frame *f)
{
	uint64_t len;

	if (tern_varint_get(p, end, &f->u.close.code) || tern_varint_get(p, end, &len) ||
	    len > TERN_MAX_CLOSE_REASON)
		return TERN_EMALFORMED;
	f->u.close.reason_len = (size_t)len;
	return get_bytes(p, end, (size_t)len, &f->u.close.reason);
}

static int dec_credit(const uint8_t **p, const uint8_t *end, struct tern_frame *f)
{
	f->u.credit.id = 0;
	return tern_varint_get(p, end, &f->u.credit.max);
}

static int dec_stream_credit(const uint8_t **p, const uint8_t *end, struct tern_frame *f)
{
	if (tern_varint_get(p, end, &f->u.credit.id) || f->u.credit.id >= TERN_MAX_STREAMS)
		return TERN_EMALFORMED;
	return tern_varint_get(p, end, &f->u.credit.max);
}

static int dec_stream(const uint8_t **p, const uint8_t *end, struct tern_frame *f)
{
	uint8_t flags = f->type & (uint8_t)~TERN_FRAME_STREAM_MASK;
	uint64_t id, off, len;

	f->type = TERN_FRAME_STREAM;
	if (tern_varint_get(p, end, &id) || id >= TERN_MAX_STREAMS || tern_varint_get(p, end, &off))
		return TERN_EMALFORMED;
	if (!(flags & TERN_STREAM_LEN))
		len = (uint64_t)(end - *p);
	else if (tern_varint_get(p, end, &len) || len > (uint64_t)(end - *p))
		return TERN_EMALFORMED;
	if (len > TERN_VARINT_MAX - off)
		return TERN_EMALFORMED;
	f->u.stream.id = id;
	f->u.stream.offset = off;
	f->u.stream.len = (size_t)len;
	f->u.stream.fin = (flags & TERN_STREAM_FIN) != 0;
	f->u.stream.msg_end = (flags & TERN_STREAM_MSG_END) != 0;
	return get_bytes(p, end, (size_t)len, &f->u.stream.data);
}

static int dec_datagram(const uint8_t **p, const uint8_t *end, struct tern_frame *f)
{
	uint64_t len;

	f->u.dgram.lane = 0;
	f->u.dgram.seq = 0;
	if (f->type == TERN_FRAME_DATAGRAM_SEQ &&
	    (tern_varint_get(p, end, &f->u.dgram.lane) || f->u.dgram.lane >= TERN_MAX_DGRAM_LANES ||
	     tern_varint_get(p, end, &f->u.dgram.seq)))
		return TERN_EMALFORMED;
	if (tern_varint_get(p, end, &len) || len > TERN_MAX_DATAGRAM)
		return TERN_EMALFORMED;
	f->u.dgram.len = (size_t)len;
	return get_bytes(p, end, (size_t)len, &f->u.dgram.data);
}

static int dec_path(const uint8_t **p, const uint8_t *end, struct tern_frame *f)
{
	const uint8_t *d;

	if (get_bytes(p, end, TERN_PATH_DATA_LEN, &d))
		return TERN_EMALFORMED;
	memcpy(f->u.path.data, d, TERN_PATH_DATA_LEN);
	return 0;
}

static int dec_key_update(const uint8_t **p, const uint8_t *end, struct tern_frame *f)
{
	return tern_varint_get(p, end, &f->u.key_update.generation);
}

typedef int (*frame_decoder)(const uint8_t **p, const uint8_t *end, struct tern_frame *f);

/* The frame table: one handler per type byte; a hole is an unknown type. */
static const frame_decoder decoders[] = {
        [TERN_FRAME_PADDING] = dec_padding,
        [TERN_FRAME_PING] = dec_ping,
        [TERN_FRAME_ACK] = dec_ack,
        [TERN_FRAME_CLOSE] = dec_close,
        [TERN_FRAME_CLOSE_APP] = dec_close,
        [TERN_FRAME_MAX_DATA] = dec_credit,
        [TERN_FRAME_MAX_STREAM_DATA] = dec_stream_credit,
        [TERN_FRAME_DATA_BLOCKED] = dec_credit,
        [0x08] = dec_stream,
        [0x09] = dec_stream,
        [0x0a] = dec_stream,
        [0x0b] = dec_stream,
        [0x0c] = dec_stream,
        [0x0d] = dec_stream,
        [0x0e] = dec_stream,
        [0x0f] = dec_stream,
        [TERN_FRAME_DATAGRAM] = dec_datagram,
        [TERN_FRAME_DATAGRAM_SEQ] = dec_datagram,
        [TERN_FRAME_PATH_CHALLENGE] = dec_path,
        [TERN_FRAME_PATH_RESPONSE] = dec_path,
        [TERN_FRAME_KEY_UPDATE] = dec_key_update,
        [TERN_FRAME_STREAM_DATA_BLOCKED] = dec_stream_credit,
};

int tern_frame_decode(const uint8_t **p, const uint8_t *end, struct tern_frame *f)
{
	uint8_t type;

	if (*p >= end)
		return TERN_EMALFORMED;
	type = **p;
	if (type >= TERN_ARRAY_LEN(decoders) || decoders[type] == NULL)
		return TERN_EMALFORMED;
	(*p)++;
	f->type = type;
	return decoders[type](p, end, f) ? TERN_EMALFORMED : 0;
}

/* ---- ACK iteration (ranges were validated by dec_ack) ---- */

void tern_ack_iter_init(struct tern_ack_iter *it, const struct tern_frame *ack)
{
	it->p = ack->u.ack.ranges;
	it->end = ack->u.ack.end;
	it->remaining = ack->u.ack.range_count;
	it->cur.hi = ack->u.ack.largest;
	it->cur.lo = ack->u.ack.largest - ack->u.ack.first_range;
	it->first = true;
}

bool tern_ack_iter_next(struct tern_ack_iter *it, struct tern_ack_range *r)
{
	uint64_t gap, len;

	if (it->first) {
		it->first = false;
		*r = it->cur;
		return true;
	}
	if (it->remaining == 0 || tern_varint_get(&it->p, it->end, &gap) ||
	    tern_varint_get(&it->p, it->end, &len))
		return false;
	it->remaining--;
	it->cur.hi = it->cur.lo - gap - 2;
	it->cur.lo = it->cur.hi - len;
	*r = it->cur;
	return true;
}

bool tern_frame_is_ack_eliciting(uint8_t type)
{
	return type != TERN_FRAME_PADDING && type != TERN_FRAME_ACK;
}

/* ---- encoders ---- */

size_t tern_frame_encode_padding(uint8_t *p, size_t cap, size_t n)
{
	if (n == 0 || n > cap)
		return 0;
	memset(p, TERN_FRAME_PADDING, n);
	return n;
}

size_t tern_frame_encode_ping(uint8_t *p, size_t cap)
{
	if (cap < 1)
		return 0;
	p[0] = TERN_FRAME_PING;
	return 1;
}

/* Range i > 0 as (gap, len) below range i-1; false if the caller's ranges are
 * not descending, disjoint and non-adjacent. */
static bool ack_pair(const struct tern_ack_range *r, size_t i, uint64_t *gap, uint64_t *len)
{
	if (r[i].lo > r[i].hi || r[i - 1].lo < 2 || r[i].hi > r[i - 1].lo - 2)
		return false;
	*gap = r[i - 1].lo - r[i].hi - 2;
	*len = r[i].hi - r[i].lo;
	return true;
}

/* How many ranges after the first fit in cap given the fixed part `used`. */
static size_t ack_fit(const struct tern_ack_range *r, size_t n, size_t used, size_t cap,
                      size_t *total)
{
	size_t k = 0, i, max = TERN_MIN(n, (size_t)TERN_MAX_ACK_RANGES);
	uint64_t gap, len;

	for (i = 1; i < max; i++) {
		size_t pair;

		if (!ack_pair(r, i, &gap, &len))
			return SIZE_MAX;
		pair = tern_varint_len(gap) + tern_varint_len(len);
		if (used + pair + tern_varint_len(k + 1) > cap)
			break;
		used += pair;
		k++;
	}
	*total = used + tern_varint_len(k);
	return k;
}

size_t tern_frame_encode_ack(uint8_t *p, size_t cap, const struct tern_ack_range *ranges, size_t n,
                             uint64_t delay_us, size_t *written)
{
	uint64_t gap = 0, len = 0, first;
	size_t used, total, k, i;

	if (written)
		*written = 0;
	if (n == 0 || ranges[0].hi > TERN_VARINT_MAX || ranges[0].lo > ranges[0].hi ||
	    delay_us > TERN_VARINT_MAX)
		return 0;
	first = ranges[0].hi - ranges[0].lo;
	used = 1 + tern_varint_len(ranges[0].hi) + tern_varint_len(delay_us) +
	       tern_varint_len(first);
	k = ack_fit(ranges, n, used, cap, &total);
	if (k == SIZE_MAX || total > cap)
		return 0;
	*p++ = TERN_FRAME_ACK;
	p = tern_varint_put(p, ranges[0].hi);
	p = tern_varint_put(p, delay_us);
	p = tern_varint_put(p, k);
	p = tern_varint_put(p, first);
	for (i = 1; i <= k; i++) {
		ack_pair(ranges, i, &gap, &len);
		p = tern_varint_put(p, gap);
		p = tern_varint_put(p, len);
	}
	if (written)
		*written = k + 1;
	return total;
}

/* Largest n <= len such that the data (plus its length field when has_len)
 * fits in avail bytes. */
static size_t stream_fit(size_t avail, size_t len, bool has_len)
{
	size_t n;

	if (!has_len)
		return TERN_MIN(avail, len);
	if (avail < 1)
		return 0;
	n = TERN_MIN(len, avail - 1);
	while (n > 0 && tern_varint_len(n) + n > avail)
		n--;
	return n;
}

size_t tern_frame_encode_stream(uint8_t *p, size_t cap, uint64_t id, uint64_t off,
                                const uint8_t *data, size_t len, bool fin, bool msg_end,
                                bool has_len, size_t *data_len)
{
	size_t fixed = 1 + tern_varint_len(id) + tern_varint_len(off), n;
	uint8_t type = TERN_FRAME_STREAM;

	*data_len = 0;
	if (id >= TERN_MAX_STREAMS || off > TERN_VARINT_MAX || cap < fixed + (has_len ? 1 : 0))
		return 0;
	n = (size_t)TERN_MIN((uint64_t)len, TERN_VARINT_MAX - off);
	n = stream_fit(cap - fixed, n, has_len);
	if (n == 0 && len > 0)
		return 0;
	if (n < len)
		fin = msg_end = false;
	type |= (fin ? TERN_STREAM_FIN : 0) | (msg_end ? TERN_STREAM_MSG_END : 0) |
	        (has_len ? TERN_STREAM_LEN : 0);
	p[0] = type;
	p = tern_varint_put(p + 1, id);
	p = tern_varint_put(p, off);
	if (has_len)
		p = tern_varint_put(p, n);
	if (n)
		memcpy(p, data, n);
	*data_len = n;
	return fixed + (has_len ? tern_varint_len(n) : 0) + n;
}

size_t tern_frame_stream_overhead(uint64_t id, uint64_t off, size_t len)
{
	return 1 + tern_varint_len(id) + tern_varint_len(off) + tern_varint_len(len);
}

/* Writes type, the optional lane/seq prefix, len and data; used by both
 * datagram frames. */
static size_t encode_dgram(uint8_t *p, size_t cap, uint8_t type, uint64_t lane, uint64_t seq,
                           const uint8_t *data, size_t len)
{
	size_t need = 1 + tern_varint_len(len) + len;

	if (len > TERN_MAX_DATAGRAM)
		return 0;
	if (type == TERN_FRAME_DATAGRAM_SEQ) {
		if (lane >= TERN_MAX_DGRAM_LANES || seq > TERN_VARINT_MAX)
			return 0;
		need += tern_varint_len(lane) + tern_varint_len(seq);
	}
	if (need > cap)
		return 0;
	*p++ = type;
	if (type == TERN_FRAME_DATAGRAM_SEQ) {
		p = tern_varint_put(p, lane);
		p = tern_varint_put(p, seq);
	}
	p = tern_varint_put(p, len);
	if (len)
		memcpy(p, data, len);
	return need;
}

size_t tern_frame_encode_datagram(uint8_t *p, size_t cap, const uint8_t *data, size_t len)
{
	return encode_dgram(p, cap, TERN_FRAME_DATAGRAM, 0, 0, data, len);
}

size_t tern_frame_encode_datagram_seq(uint8_t *p, size_t cap, uint64_t lane, uint64_t seq,
                                      const uint8_t *data, size_t len)
{
	return encode_dgram(p, cap, TERN_FRAME_DATAGRAM_SEQ, lane, seq, data, len);
}

size_t tern_frame_encode_close(uint8_t *p, size_t cap, bool app, uint64_t code, const char *reason,
                               size_t reason_len)
{
	size_t need = 1 + tern_varint_len(code) + tern_varint_len(reason_len) + reason_len;

	if (code > TERN_VARINT_MAX || reason_len > TERN_MAX_CLOSE_REASON || need > cap)
		return 0;
	*p++ = app ? TERN_FRAME_CLOSE_APP : TERN_FRAME_CLOSE;
	p = tern_varint_put(p, code);
	p = tern_varint_put(p, reason_len);
	if (reason_len)
		memcpy(p, reason, reason_len);
	return need;
}

size_t tern_frame_encode_credit(uint8_t *p, size_t cap, uint8_t type, uint64_t id, uint64_t max)
{
	bool per_stream =
	        type == TERN_FRAME_MAX_STREAM_DATA || type == TERN_FRAME_STREAM_DATA_BLOCKED;
	size_t need = 1 + tern_varint_len(max) + (per_stream ? tern_varint_len(id) : 0);

	if (!per_stream && type != TERN_FRAME_MAX_DATA && type != TERN_FRAME_DATA_BLOCKED)
		return 0;
	if (max > TERN_VARINT_MAX || (per_stream && id >= TERN_MAX_STREAMS) || need > cap)
		return 0;
	*p++ = type;
	if (per_stream)
		p = tern_varint_put(p, id);
	tern_varint_put(p, max);
	return need;
}

size_t tern_frame_encode_path(uint8_t *p, size_t cap, bool response,
                              const uint8_t data[TERN_PATH_DATA_LEN])
{
	if (cap < 1 + TERN_PATH_DATA_LEN)
		return 0;
	p[0] = response ? TERN_FRAME_PATH_RESPONSE : TERN_FRAME_PATH_CHALLENGE;
	memcpy(p + 1, data, TERN_PATH_DATA_LEN);
	return 1 + TERN_PATH_DATA_LEN;
}

size_t tern_frame_encode_key_update(uint8_t *p, size_t cap, uint64_t generation)
{
	size_t need = 1 + tern_varint_len(generation);

	if (generation > TERN_VARINT_MAX || need > cap)
		return 0;
	p[0] = TERN_FRAME_KEY_UPDATE;
	tern_varint_put(p + 1, generation);
	return need;
}
