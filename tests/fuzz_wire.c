/* libFuzzer target for the wire codec (core/wire.c).
 *
 * Classifies the input; if it is a data packet, decodes the header, checks
 * packet-number expansion, and treats the bytes between header and tag as the
 * plaintext payload (as a null-crypto build would); otherwise the whole input
 * is a payload, so the fuzzer reaches the frame parsers directly. Every frame
 * that decodes is re-encoded and decoded again, and must come back with the
 * same values: the sanitizers catch out-of-bounds reads, the round trip
 * catches decoders and encoders that disagree. A mismatch traps. */
#include <string.h>

#include "wire.h"

#define FUZZ_MAX_INPUT 65536

static uint8_t scratch[FUZZ_MAX_INPUT + 64];

#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static void decode_again(const uint8_t *buf, size_t n, struct tern_frame *f)
{
	const uint8_t *p = buf;

	REQUIRE(n > 0);
	REQUIRE(tern_frame_decode(&p, buf + n, f) == 0);
	REQUIRE(p == buf + n);
}

static size_t collect_ranges(const struct tern_frame *f, struct tern_ack_range *r)
{
	struct tern_ack_iter it;
	size_t n = 0;

	tern_ack_iter_init(&it, f);
	while (tern_ack_iter_next(&it, &r[n])) {
		REQUIRE(r[n].lo <= r[n].hi);
		REQUIRE(n == 0 || r[n].hi + 2 <= r[n - 1].lo);
		n++;
		REQUIRE(n <= TERN_MAX_ACK_RANGES + 1);
	}
	REQUIRE(n == f->u.ack.range_count + 1);
	return n;
}

static void check_ack(const struct tern_frame *f)
{
	static struct tern_ack_range a[TERN_MAX_ACK_RANGES + 2], b[TERN_MAX_ACK_RANGES + 2];
	struct tern_frame g;
	size_t n = collect_ranges(f, a), written, m, len, i;

	len = tern_frame_encode_ack(scratch, sizeof(scratch), a, n, f->u.ack.delay_us, &written);
	REQUIRE(written == (n < TERN_MAX_ACK_RANGES ? n : TERN_MAX_ACK_RANGES));
	decode_again(scratch, len, &g);
	REQUIRE(g.type == TERN_FRAME_ACK && g.u.ack.delay_us == f->u.ack.delay_us);
	m = collect_ranges(&g, b);
	REQUIRE(m == written);
	for (i = 0; i < m; i++)
		REQUIRE(a[i].lo == b[i].lo && a[i].hi == b[i].hi);
}

static void check_stream(const struct tern_frame *f)
{
	const __typeof__(f->u.stream) *s = &f->u.stream;
	struct tern_frame g;
	size_t dl, len, cap;
	int has_len;

	for (has_len = 0; has_len <= 1; has_len++) {
		cap = tern_frame_stream_overhead(s->id, s->offset, s->len) + s->len;
		if (!has_len)
			cap -= tern_varint_len(s->len);
		len = tern_frame_encode_stream(scratch, cap, s->id, s->offset, s->data, s->len,
		                               s->fin, s->msg_end, has_len, &dl);
		REQUIRE(len == cap && dl == s->len);
		decode_again(scratch, len, &g);
		REQUIRE(g.type == TERN_FRAME_STREAM && g.u.stream.id == s->id);
		REQUIRE(g.u.stream.offset == s->offset && g.u.stream.len == s->len);
		REQUIRE(g.u.stream.fin == s->fin && g.u.stream.msg_end == s->msg_end);
		REQUIRE(s->len == 0 || memcmp(g.u.stream.data, s->data, s->len) == 0);
	}
}

static void check_dgram(const struct tern_frame *f)
{
	struct tern_frame g;
	size_t len;

	if (f->type == TERN_FRAME_DATAGRAM)
		len = tern_frame_encode_datagram(scratch, sizeof(scratch), f->u.dgram.data,
		                                 f->u.dgram.len);
	else
		len = tern_frame_encode_datagram_seq(scratch, sizeof(scratch), f->u.dgram.lane,
		                                     f->u.dgram.seq, f->u.dgram.data,
		                                     f->u.dgram.len);
	decode_again(scratch, len, &g);
	REQUIRE(g.type == f->type && g.u.dgram.len == f->u.dgram.len);
	REQUIRE(g.u.dgram.lane == f->u.dgram.lane && g.u.dgram.seq == f->u.dgram.seq);
	REQUIRE(f->u.dgram.len == 0 ||
	        memcmp(g.u.dgram.data, f->u.dgram.data, f->u.dgram.len) == 0);
}

static void check_close(const struct tern_frame *f)
{
	struct tern_frame g;
	size_t len = tern_frame_encode_close(
	        scratch, sizeof(scratch), f->type == TERN_FRAME_CLOSE_APP, f->u.close.code,
	        (const char *)f->u.close.reason, f->u.close.reason_len);

	decode_again(scratch, len, &g);
	REQUIRE(g.type == f->type && g.u.close.code == f->u.close.code);
	REQUIRE(g.u.close.reason_len == f->u.close.reason_len);
	REQUIRE(f->u.close.reason_len == 0 ||
	        memcmp(g.u.close.reason, f->u.close.reason, f->u.close.reason_len) == 0);
}

/* Frames with no variable-length payload: encode, decode, compare the union. */
static void check_small(const struct tern_frame *f, size_t consumed)
{
	struct tern_frame g;
	size_t len = 0;

	switch (f->type) {
	case TERN_FRAME_PADDING:
		len = tern_frame_encode_padding(scratch, sizeof(scratch), consumed);
		REQUIRE(len == consumed);
		break;
	case TERN_FRAME_PING:
		len = tern_frame_encode_ping(scratch, sizeof(scratch));
		break;
	case TERN_FRAME_PATH_CHALLENGE:
	case TERN_FRAME_PATH_RESPONSE:
		len = tern_frame_encode_path(scratch, sizeof(scratch),
		                             f->type == TERN_FRAME_PATH_RESPONSE, f->u.path.data);
		break;
	case TERN_FRAME_KEY_UPDATE:
		len = tern_frame_encode_key_update(scratch, sizeof(scratch),
		                                   f->u.key_update.generation);
		break;
	default: /* the four credit frames */
		len = tern_frame_encode_credit(scratch, sizeof(scratch), f->type, f->u.credit.id,
		                               f->u.credit.max);
		break;
	}
	decode_again(scratch, len, &g);
	REQUIRE(g.type == f->type);
	if (f->type == TERN_FRAME_PATH_CHALLENGE || f->type == TERN_FRAME_PATH_RESPONSE)
		REQUIRE(memcmp(g.u.path.data, f->u.path.data, TERN_PATH_DATA_LEN) == 0);
	else if (f->type == TERN_FRAME_KEY_UPDATE)
		REQUIRE(g.u.key_update.generation == f->u.key_update.generation);
	else if (f->type != TERN_FRAME_PADDING && f->type != TERN_FRAME_PING)
		REQUIRE(g.u.credit.id == f->u.credit.id && g.u.credit.max == f->u.credit.max);
}

static void check_frame(const struct tern_frame *f, size_t consumed)
{
	switch (f->type) {
	case TERN_FRAME_ACK:
		check_ack(f);
		break;
	case TERN_FRAME_STREAM:
		check_stream(f);
		break;
	case TERN_FRAME_DATAGRAM:
	case TERN_FRAME_DATAGRAM_SEQ:
		check_dgram(f);
		break;
	case TERN_FRAME_CLOSE:
	case TERN_FRAME_CLOSE_APP:
		check_close(f);
		break;
	default:
		check_small(f, consumed);
		break;
	}
	(void)tern_frame_is_ack_eliciting(f->type);
}

static void check_header(const uint8_t *data, size_t size, struct tern_data_hdr *h)
{
	uint64_t largest = 0, mask = (1ull << (8 * h->pn_len)) - 1, pn;
	size_t i;

	for (i = 0; i < 8 && i < size; i++)
		largest = (largest << 8) | data[size - 1 - i];
	largest &= TERN_VARINT_MAX >> 1;
	pn = tern_wire_pn_expand(largest, h->pn_trunc, h->pn_len);
	REQUIRE((pn & mask) == h->pn_trunc);
	pn = tern_wire_pn_expand(UINT64_MAX, h->pn_trunc, h->pn_len);
	REQUIRE(pn == h->pn_trunc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct tern_data_hdr h;
	struct tern_frame f;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (tern_wire_classify(data, size) == TERN_PKT_DATA &&
	    tern_wire_data_hdr_decode(data, size, &h) == 0) {
		check_header(data, size, &h);
		p = data + h.hdr_len;
		end = data + size - TERN_AEAD_TAG_LEN;
	}
	while (p < end) {
		const uint8_t *start = p;

		if (tern_frame_decode(&p, end, &f) != 0)
			break;
		REQUIRE(p > start && p <= end);
		check_frame(&f, (size_t)(p - start));
	}
	return 0;
}
