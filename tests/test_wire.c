/* Tests for core/wire.c and core/error.c: exact encodings, round trips of
 * every header and frame, RFC 9000 vectors, and rejection of every malformed
 * form (each frame truncated at every length, out-of-range fields, ACK
 * ranges that underflow, reserved bits, unknown types). Table-driven where
 * the logic is pure; no clocks, no randomness. */
#include <string.h>

#include "check.h"
#include "wire.h"

/* Decodes exactly one frame spanning buf[0..n). Returns the decoder's result;
 * on success also checks that the whole buffer was consumed. */
static int decode_one(const uint8_t *buf, size_t n, struct tern_frame *f)
{
	const uint8_t *p = buf;
	int rc = tern_frame_decode(&p, buf + n, f);

	if (rc == 0)
		CHECK_EQ(p - buf, n);
	return rc;
}

/* Every strict prefix of a complete frame encoding must be malformed. */
static void check_truncations(const uint8_t *buf, size_t n)
{
	struct tern_frame f;
	size_t k;

	for (k = 0; k < n; k++) {
		const uint8_t *p = buf;
		int rc = tern_frame_decode(&p, buf + k, &f);

		if (rc != TERN_EMALFORMED)
			fprintf(stderr, "type 0x%02x truncated to %zu of %zu bytes decoded\n",
			        buf[0], k, n);
		CHECK_EQ(rc, TERN_EMALFORMED);
	}
}

/* ---- varints ---- */

static void test_varint_boundaries(void)
{
	static const struct {
		uint64_t v;
		size_t len;
		uint8_t bytes[8];
	} t[] = {
	        {0, 1, {0x00}},
	        {37, 1, {0x25}},
	        {63, 1, {0x3f}},
	        {64, 2, {0x40, 0x40}},
	        {15293, 2, {0x7b, 0xbd}},
	        {16383, 2, {0x7f, 0xff}},
	        {16384, 4, {0x80, 0x00, 0x40, 0x00}},
	        {494878333, 4, {0x9d, 0x7f, 0x3e, 0x7d}},
	        {(1ull << 30) - 1, 4, {0xbf, 0xff, 0xff, 0xff}},
	        {1ull << 30, 8, {0xc0, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00}},
	        {151288809941952652ull, 8, {0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c}},
	        {(1ull << 62) - 1, 8, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	};
	size_t i, k;

	for (i = 0; i < TERN_ARRAY_LEN(t); i++) {
		uint8_t buf[8];
		const uint8_t *p = buf;
		uint64_t v = 0;

		CHECK_EQ(tern_varint_len(t[i].v), t[i].len);
		CHECK_EQ(tern_varint_put(buf, t[i].v) - buf, t[i].len);
		CHECK(memcmp(buf, t[i].bytes, t[i].len) == 0);
		CHECK_EQ(tern_varint_get(&p, buf + t[i].len, &v), 0);
		CHECK(v == t[i].v);
		CHECK_EQ(p - buf, t[i].len);
		for (k = 0; k < t[i].len; k++) {
			p = buf;
			CHECK_EQ(tern_varint_get(&p, buf + k, &v), TERN_EMALFORMED);
		}
	}
	CHECK_EQ(tern_varint_len(1ull << 62), 0);
	CHECK_EQ(tern_varint_len(UINT64_MAX), 0);
}

static void test_varint_non_minimal(void)
{
	/* Decoding accepts non-minimal encodings (RFC 9000 A.1's 0x4025 = 37). */
	static const uint8_t two[] = {0x40, 0x25};
	static const uint8_t eight[] = {0xc0, 0, 0, 0, 0, 0, 0, 0x25};
	const uint8_t *p = two;
	uint64_t v;

	CHECK_EQ(tern_varint_get(&p, two + 2, &v), 0);
	CHECK_EQ(v, 37);
	p = eight;
	CHECK_EQ(tern_varint_get(&p, eight + 8, &v), 0);
	CHECK_EQ(v, 37);
}

/* ---- packets ---- */

static void test_classify(void)
{
	static uint8_t buf[TERN_MAX_PACKET];
	static const struct {
		uint8_t b0, b1;
		size_t len;
		int want;
	} t[] = {
	        {0x40, 0, TERN_DATA_HEADER_MIN + TERN_AEAD_TAG_LEN, TERN_PKT_DATA},
	        {0x40, 0, TERN_DATA_HEADER_MIN + TERN_AEAD_TAG_LEN - 1, TERN_EMALFORMED},
	        {0x7f, 0, 100, TERN_PKT_DATA}, /* reserved bits: the header decoder rejects */
	        {0x81, 1, 1200, TERN_PKT_HS_INITIATION},
	        {0x81, 1, 1199, TERN_EMALFORMED},
	        {0x81, 2, 1200, TERN_EMALFORMED}, /* wrong major version */
	        {0x82, 1, 130, TERN_PKT_HS_RESPONSE},
	        {0x82, 1, 18, TERN_EMALFORMED},  /* responses, cookie replies and */
	        {0x82, 1, 131, TERN_EMALFORMED}, /* refusals have one size each */
	        {0x83, 1, 66, TERN_PKT_HS_COOKIE_REPLY},
	        {0x83, 1, 18, TERN_EMALFORMED},
	        {0x83, 1, 65, TERN_EMALFORMED},
	        {0x80, 1, 1200, TERN_EMALFORMED}, /* type 0 */
	        {0x84, 1, 43, TERN_PKT_HS_REFUSAL},
	        {0x84, 1, 18, TERN_EMALFORMED},
	        {0x84, 1, 44, TERN_EMALFORMED},
	        {0x85, 1, 1200, TERN_EMALFORMED}, /* type 5 */
	        {0x8f, 1, 1200, TERN_EMALFORMED},
	        {0x91, 1, 1200, TERN_EMALFORMED}, /* bits 5..4 must be zero */
	        {0xa2, 1, 100, TERN_EMALFORMED},
	        {0x00, 0, 100, TERN_EMALFORMED}, /* form 00 */
	        {0xc0, 0, 100, TERN_EMALFORMED}, /* form 11 */
	        {0x81, 1, 1, TERN_EMALFORMED},
	};
	size_t i;

	for (i = 0; i < TERN_ARRAY_LEN(t); i++) {
		buf[0] = t[i].b0;
		buf[1] = t[i].b1;
		CHECK_EQ(tern_wire_classify(buf, t[i].len), t[i].want);
	}
	CHECK_EQ(tern_wire_classify(buf, 0), TERN_EMALFORMED);
}

static void test_data_hdr_exact(void)
{
	static const uint8_t dcid[TERN_CID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
	static const uint8_t want[] = {0x45, 1, 2, 3, 4, 5, 6, 7, 8, 0x9b, 0x32};
	uint8_t buf[64] = {0};
	struct tern_data_hdr h;

	/* RFC 9000 A.3's numbers: 0x6a48 unacknowledged needs 2 bytes. */
	CHECK_EQ(tern_wire_data_hdr_encode(buf, sizeof(buf), dcid, 0xa82f9b32, 0xa82f30ea, 1), 11);
	CHECK(memcmp(buf, want, sizeof(want)) == 0);
	CHECK_EQ(tern_wire_data_hdr_decode(buf, 11 + 16, &h), 0);
	CHECK_EQ(h.pn_len, 2);
	CHECK_EQ(h.key_phase, 1);
	CHECK_EQ(h.pn_trunc, 0x9b32);
	CHECK_EQ(h.hdr_len, 11);
	CHECK(memcmp(h.dcid, dcid, TERN_CID_LEN) == 0);
	CHECK_EQ(tern_wire_data_hdr_decode(buf, 11 + 15, &h), TERN_EMALFORMED);
	CHECK_EQ(tern_wire_data_hdr_encode(buf, 10, dcid, 0xa82f9b32, 0xa82f30ea, 1), 0);
}

static void test_pn_len_choice(void)
{
	static const struct {
		uint64_t pn, acked;
		unsigned len;
	} t[] = {
	        {0, UINT64_MAX, 1},
	        {126, UINT64_MAX, 1},
	        {127, UINT64_MAX, 2}, /* 128 unacked needs 9 bits */
	        {0xac5c02, 0xabe8b3, 2},
	        {0xace8fe, 0xabe8b3, 3},
	        {1000, 999, 1},
	        {1000 + 127, 1000, 1},
	        {1000 + 128, 1000, 2},
	        {1000 + 32767, 1000, 2},
	        {1000 + 32768, 1000, 3},
	        {1000 + (1u << 23) - 1, 1000, 3},
	        {1000 + (1u << 23), 1000, 4},
	        {1000 + (1u << 31) - 1, 1000, 4},
	        {1000 + (1u << 31), 1000, 0}, /* unrecoverable: refuse */
	        {5, 5, 0},                    /* pn not above largest acked */
	        {1ull << 62, UINT64_MAX, 0},
	};
	static const uint8_t dcid[TERN_CID_LEN] = {0};
	uint8_t buf[64];
	size_t i;

	for (i = 0; i < TERN_ARRAY_LEN(t); i++) {
		size_t n =
		        tern_wire_data_hdr_encode(buf, sizeof(buf), dcid, t[i].pn, t[i].acked, 0);

		CHECK_EQ(n, t[i].len ? 1 + TERN_CID_LEN + t[i].len : 0);
		if (n)
			CHECK_EQ((buf[0] & TERN_DATA_PN_LEN_MASK) + 1, t[i].len);
	}
}

static void test_data_hdr_round_trip(void)
{
	static const uint64_t pns[] = {
	        0, 1, 200, 0x1234, 0x123456, 0x12345678, 0xabcdef0123ull, (1ull << 62) - 1};
	static const uint8_t dcid[TERN_CID_LEN] = {0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3};
	static const uint64_t dists[] = {1,     100,     127,     128,           30000,
	                                 40000, 4000000, 9000000, (1u << 31) - 1};
	uint8_t buf[64] = {0};
	size_t i, j;

	for (i = 0; i < TERN_ARRAY_LEN(pns); i++) {
		for (j = 0; j < TERN_ARRAY_LEN(dists); j++) {
			uint64_t acked = pns[i] >= dists[j] ? pns[i] - dists[j] : UINT64_MAX;
			struct tern_data_hdr h;
			size_t n = tern_wire_data_hdr_encode(buf, sizeof(buf), dcid, pns[i], acked,
			                                     (unsigned)j & 1);

			if (acked == UINT64_MAX && pns[i] >= (1u << 31) - 1)
				continue; /* nothing acked and too far: encoder refuses */
			CHECK(n >= 10 && n <= 13);
			CHECK_EQ(tern_wire_data_hdr_decode(buf, n + TERN_AEAD_TAG_LEN, &h), 0);
			CHECK_EQ(h.hdr_len, n);
			CHECK_EQ(h.key_phase, j & 1);
			CHECK(memcmp(h.dcid, dcid, TERN_CID_LEN) == 0);
			/* The receiver has seen at least what the sender saw acked. */
			CHECK(tern_wire_pn_expand(acked, h.pn_trunc, h.pn_len) == pns[i]);
			if (pns[i] > 0)
				CHECK(tern_wire_pn_expand(pns[i] - 1, h.pn_trunc, h.pn_len) ==
				      pns[i]);
		}
	}
}

static void test_data_hdr_reject(void)
{
	uint8_t buf[64] = {0};
	struct tern_data_hdr h;
	unsigned b;

	for (b = 0; b < 256; b++) {
		int want =
		        ((b & TERN_FORM_MASK) == TERN_FORM_DATA && !(b & TERN_DATA_RESERVED_MASK))
		                ? 0
		                : TERN_EMALFORMED;

		buf[0] = (uint8_t)b;
		CHECK_EQ(tern_wire_data_hdr_decode(buf, sizeof(buf), &h), want);
	}
	/* Length must cover header (with its pn length) plus the tag. */
	buf[0] = 0x43; /* pn_len 4: header 13 */
	CHECK_EQ(tern_wire_data_hdr_decode(buf, 13 + 15, &h), TERN_EMALFORMED);
	CHECK_EQ(tern_wire_data_hdr_decode(buf, 13 + 16, &h), 0);
	CHECK_EQ(tern_wire_data_hdr_decode(buf, 0, &h), TERN_EMALFORMED);
}

static void test_pn_expand_vectors(void)
{
	static const struct {
		uint64_t largest;
		uint32_t trunc;
		unsigned len;
		uint64_t want;
	} t[] = {
	        {0xa82f30ea, 0x9b32, 2, 0xa82f9b32}, /* RFC 9000 A.3 */
	        {UINT64_MAX, 0, 1, 0},               /* nothing received yet */
	        {UINT64_MAX, 5, 1, 5},
	        {UINT64_MAX, 0xff, 1, 0xff},
	        {0xff, 0x00, 1, 0x100}, /* wraps forward */
	        {0xfe, 0xff, 1, 0xff},
	        {0x100, 0xff, 1, 0xff}, /* a late packet from before the wrap */
	        {0x17f, 0x00, 1, 0x200},
	        {0x17f, 0x80, 1, 0x180},
	        {0x180, 0x00, 1, 0x200},
	        {0x1ff, 0x00, 1, 0x200},
	        {0xffff, 0x0000, 2, 0x10000},
	        {0x10000, 0xffff, 2, 0xffff},
	        {0xffffffff, 0x00000000, 4, 0x100000000ull},
	        {0x100000000ull, 0xffffffff, 4, 0xffffffff},
	        {10, 3, 1, 3},
	        /* Near 2^62: never expand past the largest pn. */
	        {(1ull << 62) - 2, 0xff, 1, (1ull << 62) - 1},
	        {(1ull << 62) - 2, 0x00, 1, (1ull << 62) - 256},
	};
	size_t i;

	for (i = 0; i < TERN_ARRAY_LEN(t); i++) {
		uint64_t got = tern_wire_pn_expand(t[i].largest, t[i].trunc, t[i].len);

		if (got != t[i].want)
			fprintf(stderr, "pn_expand case %zu: got 0x%" PRIx64 "\n", i, got);
		CHECK(got == t[i].want);
	}
}

/* ---- frames ---- */

static void test_padding_ping(void)
{
	uint8_t buf[16] = {0};
	struct tern_frame f;
	const uint8_t *p = buf;

	CHECK_EQ(tern_frame_encode_padding(buf, sizeof(buf), 5), 5);
	buf[5] = TERN_FRAME_PING;
	CHECK_EQ(tern_frame_decode(&p, buf + 6, &f), 0);
	CHECK_EQ(f.type, TERN_FRAME_PADDING);
	CHECK_EQ(p - buf, 5); /* the run of zeros is one frame */
	CHECK_EQ(tern_frame_decode(&p, buf + 6, &f), 0);
	CHECK_EQ(f.type, TERN_FRAME_PING);
	CHECK_EQ(p - buf, 6);
	CHECK_EQ(tern_frame_decode(&p, buf + 6, &f), TERN_EMALFORMED); /* nothing left */
	CHECK_EQ(tern_frame_encode_padding(buf, 4, 5), 0);
	CHECK_EQ(tern_frame_encode_ping(buf, 0), 0);
	CHECK_EQ(tern_frame_encode_ping(buf, 1), 1);
	CHECK_EQ(buf[0], 0x01);
	check_truncations(buf, 1);
}

static void test_ack_exact(void)
{
	static const struct tern_ack_range r[] = {{90, 100}, {80, 80}, {60, 70}};
	static const uint8_t want[] = {0x02, 0x40, 0x64, 0x80, 0x00, 0x61, 0xa8,
	                               0x02, 0x0a, 0x08, 0x00, 0x08, 0x0a};
	uint8_t buf[64];
	struct tern_frame f;
	struct tern_ack_iter it;
	struct tern_ack_range got;
	size_t written = 0, i;

	CHECK_EQ(tern_frame_encode_ack(buf, sizeof(buf), r, 3, 25000, &written), sizeof(want));
	CHECK_EQ(written, 3);
	CHECK(memcmp(buf, want, sizeof(want)) == 0);
	CHECK_EQ(decode_one(buf, sizeof(want), &f), 0);
	CHECK_EQ(f.type, TERN_FRAME_ACK);
	CHECK_EQ(f.u.ack.largest, 100);
	CHECK_EQ(f.u.ack.delay_us, 25000);
	CHECK_EQ(f.u.ack.range_count, 2);
	CHECK_EQ(f.u.ack.first_range, 10);
	tern_ack_iter_init(&it, &f);
	for (i = 0; i < 3; i++) {
		CHECK(tern_ack_iter_next(&it, &got));
		CHECK_EQ(got.lo, r[i].lo);
		CHECK_EQ(got.hi, r[i].hi);
	}
	CHECK(!tern_ack_iter_next(&it, &got));
	check_truncations(buf, sizeof(want));
}

static void test_ack_partial_fit(void)
{
	static struct tern_ack_range r[300];
	static uint8_t buf[4096];
	struct tern_frame f;
	struct tern_ack_iter it;
	struct tern_ack_range got;
	size_t written, n, i;

	for (i = 0; i < 300; i++) {
		r[i].hi = 10000 - 10 * i;
		r[i].lo = r[i].hi - 3;
	}
	/* Everything fits but only TERN_MAX_ACK_RANGES are written. */
	n = tern_frame_encode_ack(buf, sizeof(buf), r, 300, 0, &written);
	CHECK_EQ(written, TERN_MAX_ACK_RANGES);
	CHECK_EQ(decode_one(buf, n, &f), 0);
	CHECK_EQ(f.u.ack.range_count, TERN_MAX_ACK_RANGES - 1);
	/* 2-byte largest, 1 delay, 1 count, 1 first: 6 bytes; each pair is 2. */
	n = tern_frame_encode_ack(buf, 6 + 2 * 5 + 1, r, 300, 0, &written);
	CHECK_EQ(n, 6 + 2 * 5);
	CHECK_EQ(written, 6);
	CHECK_EQ(decode_one(buf, n, &f), 0);
	tern_ack_iter_init(&it, &f);
	for (i = 0; tern_ack_iter_next(&it, &got); i++) {
		CHECK_EQ(got.lo, r[i].lo);
		CHECK_EQ(got.hi, r[i].hi);
	}
	CHECK_EQ(i, 6);
	/* Only the first range fits. */
	CHECK_EQ(tern_frame_encode_ack(buf, 6, r, 300, 0, &written), 6);
	CHECK_EQ(written, 1);
	CHECK_EQ(tern_frame_encode_ack(buf, 5, r, 300, 0, &written), 0);
	CHECK_EQ(written, 0);
}

static void test_ack_encode_reject(void)
{
	static const struct tern_ack_range adjacent[] = {{10, 20}, {5, 9}};
	static const struct tern_ack_range overlap[] = {{10, 20}, {5, 12}};
	static const struct tern_ack_range inverted[] = {{20, 10}};
	static const struct tern_ack_range ok[] = {{10, 20}, {0, 7}};
	static const struct tern_ack_range huge[] = {{0, 1ull << 62}};
	uint8_t buf[64];
	size_t w;

	CHECK_EQ(tern_frame_encode_ack(buf, sizeof(buf), adjacent, 2, 0, &w), 0);
	CHECK_EQ(tern_frame_encode_ack(buf, sizeof(buf), overlap, 2, 0, &w), 0);
	CHECK_EQ(tern_frame_encode_ack(buf, sizeof(buf), inverted, 1, 0, &w), 0);
	CHECK_EQ(tern_frame_encode_ack(buf, sizeof(buf), ok, 0, 0, &w), 0);
	CHECK_EQ(tern_frame_encode_ack(buf, sizeof(buf), huge, 1, 0, &w), 0);
	CHECK_EQ(tern_frame_encode_ack(buf, sizeof(buf), ok, 1, 1ull << 62, &w), 0);
	CHECK_EQ(tern_frame_encode_ack(buf, sizeof(buf), ok, 2, 0, &w), 7);
	CHECK_EQ(w, 2);
}

/* Raw ACK bytes: largest, delay, count, first, then pairs (all 1-byte varints). */
static int decode_raw_ack(const uint8_t *fields, size_t n)
{
	uint8_t buf[32];
	struct tern_frame f;

	buf[0] = TERN_FRAME_ACK;
	memcpy(buf + 1, fields, n);
	return decode_one(buf, n + 1, &f);
}

static void test_ack_decode_reject(void)
{
	static const struct {
		uint8_t b[8];
		size_t n;
		int want;
	} t[] = {
	        {{5, 0, 0, 5}, 4, 0},                      /* [0, 5] */
	        {{5, 0, 0, 6}, 4, TERN_EMALFORMED},        /* first_range > largest */
	        {{5, 0, 1, 3, 0, 0}, 6, 0},                /* [2,5] then [0,0] */
	        {{5, 0, 1, 4, 0, 0}, 6, TERN_EMALFORMED},  /* lo 1: no room for a gap */
	        {{5, 0, 1, 3, 1, 0}, 6, TERN_EMALFORMED},  /* gap underflow */
	        {{5, 0, 1, 3, 0, 1}, 6, TERN_EMALFORMED},  /* len underflow */
	        {{20, 0, 2, 0, 0, 0, 0, 0}, 8, 0},         /* [20] [18] [16] */
	        {{20, 0, 2, 0, 0, 0}, 6, TERN_EMALFORMED}, /* count says 2, one pair */
	};
	size_t i;

	for (i = 0; i < TERN_ARRAY_LEN(t); i++)
		CHECK_EQ(decode_raw_ack(t[i].b, t[i].n), t[i].want);
}

static void test_ack_too_many_ranges(void)
{
	static uint8_t buf[2048];
	struct tern_frame f;
	uint8_t *p;
	size_t i;
	unsigned count;

	for (count = TERN_MAX_ACK_RANGES; count <= TERN_MAX_ACK_RANGES + 1; count++) {
		p = buf;
		*p++ = TERN_FRAME_ACK;
		p = tern_varint_put(p, 10000);
		p = tern_varint_put(p, 0);
		p = tern_varint_put(p, count);
		p = tern_varint_put(p, 0);
		for (i = 0; i < count; i++) {
			*p++ = 0; /* gap 0 */
			*p++ = 0; /* len 0 */
		}
		CHECK_EQ(decode_one(buf, (size_t)(p - buf), &f),
		         count <= TERN_MAX_ACK_RANGES ? 0 : TERN_EMALFORMED);
	}
}

struct stream_case {
	uint64_t id, off;
	size_t len;
	bool fin, msg_end, has_len;
};

static void test_stream_round_trip(void)
{
	static const struct stream_case t[] = {
	        {0, 0, 0, true, false, true},           {1, 0, 10, false, true, true},
	        {1023, 100, 300, true, true, true},     {63, 16383, 5, false, false, false},
	        {64, 1ull << 40, 1, true, true, false}, {7, (1ull << 62) - 4, 3, false, true, true},
	};
	static uint8_t data[512], buf[1024];
	struct tern_frame f;
	size_t i, dl, n;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	for (i = 0; i < TERN_ARRAY_LEN(t); i++) {
		n = tern_frame_encode_stream(buf, sizeof(buf), t[i].id, t[i].off, data, t[i].len,
		                             t[i].fin, t[i].msg_end, t[i].has_len, &dl);
		if (t[i].has_len)
			CHECK_EQ(n, tern_frame_stream_overhead(t[i].id, t[i].off, t[i].len) +
			                    t[i].len);
		else
			CHECK_EQ(n, tern_frame_stream_overhead(t[i].id, t[i].off, t[i].len) -
			                    tern_varint_len(t[i].len) + t[i].len);
		CHECK_EQ(dl, t[i].len);
		CHECK_EQ(decode_one(buf, n, &f), 0);
		CHECK_EQ(f.type, TERN_FRAME_STREAM);
		CHECK_EQ(buf[0] & TERN_FRAME_STREAM_MASK, TERN_FRAME_STREAM);
		CHECK(f.u.stream.id == t[i].id && f.u.stream.offset == t[i].off);
		CHECK_EQ(f.u.stream.len, t[i].len);
		CHECK(f.u.stream.len == 0 || memcmp(f.u.stream.data, data, t[i].len) == 0);
		CHECK_EQ(f.u.stream.fin, t[i].fin);
		CHECK_EQ(f.u.stream.msg_end, t[i].msg_end);
		if (t[i].has_len)
			check_truncations(buf, n);
		else /* only the header can be truncated */
			check_truncations(buf, n - t[i].len);
	}
}

static void test_stream_exact_and_truncate(void)
{
	static const uint8_t data[200] = {0xaa};
	uint8_t buf[256];
	size_t dl, n;

	/* id 3, off 70 (2 bytes), len 5, FIN|MSG_END|LEN = 0x0f. */
	n = tern_frame_encode_stream(buf, sizeof(buf), 3, 70, data, 5, true, true, true, &dl);
	CHECK_EQ(n, 1 + 1 + 2 + 1 + 5);
	CHECK_EQ(buf[0], 0x0f);
	CHECK_EQ(buf[1], 3);
	CHECK_EQ(buf[2], 0x40);
	CHECK_EQ(buf[3], 70);
	CHECK_EQ(buf[4], 5);
	CHECK_EQ(tern_frame_stream_overhead(3, 70, 5), 5);
	/* Without LEN: 0x0b. */
	n = tern_frame_encode_stream(buf, sizeof(buf), 3, 70, data, 5, true, true, false, &dl);
	CHECK_EQ(n, 9);
	CHECK_EQ(buf[0], 0x0b);
	/* Truncation clears fin and msg_end. Header 1+1+1, length 1 → 20 bytes of data. */
	n = tern_frame_encode_stream(buf, 24, 3, 0, data, 200, true, true, true, &dl);
	CHECK_EQ(n, 24);
	CHECK_EQ(dl, 20);
	CHECK_EQ(buf[0], 0x0c);
	/* Length varint grows to 2 bytes at 64: cap 3 + 2 + 64 fits exactly 64. */
	n = tern_frame_encode_stream(buf, 69, 3, 0, data, 200, false, true, true, &dl);
	CHECK_EQ(dl, 64);
	CHECK_EQ(n, 69);
	/* ...and cap 68 fits 63 with a 1-byte length. */
	n = tern_frame_encode_stream(buf, 68, 3, 0, data, 200, false, true, true, &dl);
	CHECK_EQ(dl, 63);
	CHECK_EQ(n, 3 + 1 + 63);
	/* Without LEN truncation fills cap exactly. */
	n = tern_frame_encode_stream(buf, 50, 3, 0, data, 200, true, false, false, &dl);
	CHECK_EQ(n, 50);
	CHECK_EQ(dl, 47);
	CHECK_EQ(buf[0], 0x08);
	/* Nothing of the data fits: 0. */
	CHECK_EQ(tern_frame_encode_stream(buf, 4, 3, 0, data, 10, false, false, true, &dl), 0);
	CHECK_EQ(dl, 0);
	/* A bare FIN fits in the header alone. */
	CHECK_EQ(tern_frame_encode_stream(buf, 4, 3, 0, data, 0, true, false, true, &dl), 4);
	/* Out of range arguments. */
	CHECK_EQ(tern_frame_encode_stream(buf, sizeof(buf), TERN_MAX_STREAMS, 0, data, 1, false,
	                                  false, true, &dl),
	         0);
	CHECK_EQ(tern_frame_encode_stream(buf, sizeof(buf), 0, 1ull << 62, data, 1, false, false,
	                                  true, &dl),
	         0);
	/* offset + len may not pass 2^62 - 1: the encoder stops there and drops FIN. */
	n = tern_frame_encode_stream(buf, sizeof(buf), 0, (1ull << 62) - 2, data, 5, true, false,
	                             true, &dl);
	CHECK_EQ(dl, 1);
	CHECK_EQ(buf[0], 0x0c);
}

static void test_stream_reject(void)
{
	static const struct {
		uint8_t b[16];
		size_t n;
		int want;
	} t[] = {
	        {{0x0c, 0x43, 0xff, 0, 0}, 5, 0},               /* id 1023 */
	        {{0x0c, 0x44, 0x00, 0, 0}, 5, TERN_EMALFORMED}, /* id 1024 */
	        {{0x0c, 0, 0, 3, 1, 2}, 6, TERN_EMALFORMED},    /* data runs past the packet */
	        {{0x0c, 0, 0, 2, 1, 2}, 6, 0},
	        /* offset 2^62-1 with one byte of data overflows the 62-bit space */
	        {{0x0c, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 9},
	         12,
	         TERN_EMALFORMED},
	        {{0x08, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 9}, 11, TERN_EMALFORMED},
	        {{0x08, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 10, 0},
	        {{0x08, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 9}, 11, 0},
	};
	struct tern_frame f;
	size_t i;

	for (i = 0; i < TERN_ARRAY_LEN(t); i++)
		CHECK_EQ(decode_one(t[i].b, t[i].n, &f), t[i].want);
}

static void test_datagram(void)
{
	static uint8_t data[TERN_MAX_DATAGRAM + 1], buf[TERN_MAX_DATAGRAM + 32];
	struct tern_frame f;
	size_t n;

	memset(data, 0x5a, sizeof(data));
	n = tern_frame_encode_datagram(buf, sizeof(buf), data, 3);
	CHECK_EQ(n, 5);
	CHECK_EQ(buf[0], TERN_FRAME_DATAGRAM);
	CHECK_EQ(decode_one(buf, n, &f), 0);
	CHECK_EQ(f.type, TERN_FRAME_DATAGRAM);
	CHECK_EQ(f.u.dgram.len, 3);
	CHECK(memcmp(f.u.dgram.data, data, 3) == 0);
	check_truncations(buf, n);

	n = tern_frame_encode_datagram(buf, sizeof(buf), data, TERN_MAX_DATAGRAM);
	CHECK_EQ(n, 1 + 2 + TERN_MAX_DATAGRAM);
	CHECK_EQ(decode_one(buf, n, &f), 0);
	CHECK_EQ(tern_frame_encode_datagram(buf, sizeof(buf), data, TERN_MAX_DATAGRAM + 1), 0);
	CHECK_EQ(tern_frame_encode_datagram(buf, 4, data, 3), 0);
	/* A length over the limit is malformed even if the bytes are there. */
	tern_varint_put(buf + 1, TERN_MAX_DATAGRAM + 1);
	CHECK_EQ(decode_one(buf, 3 + TERN_MAX_DATAGRAM + 1, &f), TERN_EMALFORMED);

	n = tern_frame_encode_datagram_seq(buf, sizeof(buf), 255, 1ull << 40, data, 7);
	CHECK_EQ(n, 1 + 2 + 8 + 1 + 7);
	CHECK_EQ(decode_one(buf, n, &f), 0);
	CHECK_EQ(f.type, TERN_FRAME_DATAGRAM_SEQ);
	CHECK_EQ(f.u.dgram.lane, 255);
	CHECK(f.u.dgram.seq == 1ull << 40);
	CHECK_EQ(f.u.dgram.len, 7);
	check_truncations(buf, n);
	CHECK_EQ(tern_frame_encode_datagram_seq(buf, sizeof(buf), 256, 0, data, 1), 0);
	tern_varint_put(buf + 1, 256); /* lane 256 is 2 bytes, like 255 */
	CHECK_EQ(decode_one(buf, n, &f), TERN_EMALFORMED);
}

static void test_close(void)
{
	static char reason[TERN_MAX_CLOSE_REASON + 1];
	uint8_t buf[512];
	struct tern_frame f;
	size_t n;

	memset(reason, 'r', sizeof(reason));
	n = tern_frame_encode_close(buf, sizeof(buf), false, TERN_CLOSE_FLOW_CONTROL, "bad", 3);
	CHECK_EQ(n, 6);
	CHECK_EQ(buf[0], 0x03);
	CHECK_EQ(decode_one(buf, n, &f), 0);
	CHECK_EQ(f.type, TERN_FRAME_CLOSE);
	CHECK_EQ(f.u.close.code, TERN_CLOSE_FLOW_CONTROL);
	CHECK_EQ(f.u.close.reason_len, 3);
	CHECK(memcmp(f.u.close.reason, "bad", 3) == 0);
	check_truncations(buf, n);

	n = tern_frame_encode_close(buf, sizeof(buf), true, 0x3fffffff, NULL, 0);
	CHECK_EQ(n, 6);
	CHECK_EQ(decode_one(buf, n, &f), 0);
	CHECK_EQ(f.type, TERN_FRAME_CLOSE_APP);
	CHECK_EQ(f.u.close.code, 0x3fffffff);
	CHECK_EQ(f.u.close.reason_len, 0);

	n = tern_frame_encode_close(buf, sizeof(buf), true, 1, reason, TERN_MAX_CLOSE_REASON);
	CHECK_EQ(n, 1 + 1 + 2 + TERN_MAX_CLOSE_REASON);
	CHECK_EQ(decode_one(buf, n, &f), 0);
	CHECK_EQ(tern_frame_encode_close(buf, sizeof(buf), true, 1, reason,
	                                 TERN_MAX_CLOSE_REASON + 1),
	         0);
	CHECK_EQ(tern_frame_encode_close(buf, sizeof(buf), true, 1ull << 62, "x", 1), 0);
	tern_varint_put(buf + 2, TERN_MAX_CLOSE_REASON + 1);
	buf[n] = 'r';
	CHECK_EQ(decode_one(buf, n + 1, &f), TERN_EMALFORMED);
}

static void test_credit(void)
{
	static const struct {
		uint8_t type;
		uint64_t id, max;
		size_t len;
	} t[] = {
	        {TERN_FRAME_MAX_DATA, 0, 1 << 20, 5},
	        {TERN_FRAME_DATA_BLOCKED, 99, 63, 2}, /* id ignored */
	        {TERN_FRAME_MAX_STREAM_DATA, 1023, 262144, 7},
	        {TERN_FRAME_STREAM_DATA_BLOCKED, 0, (1ull << 62) - 1, 10},
	};
	uint8_t buf[32];
	struct tern_frame f;
	size_t i, n;

	for (i = 0; i < TERN_ARRAY_LEN(t); i++) {
		bool per_stream = t[i].type == TERN_FRAME_MAX_STREAM_DATA ||
		                  t[i].type == TERN_FRAME_STREAM_DATA_BLOCKED;

		n = tern_frame_encode_credit(buf, sizeof(buf), t[i].type, t[i].id, t[i].max);
		CHECK_EQ(n, t[i].len);
		CHECK_EQ(decode_one(buf, n, &f), 0);
		CHECK_EQ(f.type, t[i].type);
		CHECK(f.u.credit.max == t[i].max);
		CHECK_EQ(f.u.credit.id, per_stream ? t[i].id : 0);
		check_truncations(buf, n);
		CHECK_EQ(tern_frame_encode_credit(buf, n - 1, t[i].type, t[i].id, t[i].max), 0);
	}
	CHECK_EQ(tern_frame_encode_credit(buf, sizeof(buf), TERN_FRAME_PING, 0, 1), 0);
	CHECK_EQ(tern_frame_encode_credit(buf, sizeof(buf), TERN_FRAME_MAX_STREAM_DATA,
	                                  TERN_MAX_STREAMS, 1),
	         0);
	CHECK_EQ(tern_frame_encode_credit(buf, sizeof(buf), TERN_FRAME_MAX_DATA, 0, 1ull << 62), 0);
	buf[0] = TERN_FRAME_MAX_STREAM_DATA;
	tern_varint_put(buf + 1, TERN_MAX_STREAMS);
	buf[3] = 1;
	CHECK_EQ(decode_one(buf, 4, &f), TERN_EMALFORMED);
	buf[0] = TERN_FRAME_STREAM_DATA_BLOCKED;
	CHECK_EQ(decode_one(buf, 4, &f), TERN_EMALFORMED);
}

static void test_path_key_update(void)
{
	static const uint8_t data[TERN_PATH_DATA_LEN] = {9, 8, 7, 6, 5, 4, 3, 2};
	uint8_t buf[32];
	struct tern_frame f;
	size_t n;
	int resp;

	for (resp = 0; resp <= 1; resp++) {
		n = tern_frame_encode_path(buf, sizeof(buf), resp, data);
		CHECK_EQ(n, 9);
		CHECK_EQ(decode_one(buf, n, &f), 0);
		CHECK_EQ(f.type, resp ? TERN_FRAME_PATH_RESPONSE : TERN_FRAME_PATH_CHALLENGE);
		CHECK(memcmp(f.u.path.data, data, TERN_PATH_DATA_LEN) == 0);
		check_truncations(buf, n);
		CHECK_EQ(tern_frame_encode_path(buf, 8, resp, data), 0);
	}
	n = tern_frame_encode_key_update(buf, sizeof(buf), 70000);
	CHECK_EQ(n, 5);
	CHECK_EQ(decode_one(buf, n, &f), 0);
	CHECK_EQ(f.type, TERN_FRAME_KEY_UPDATE);
	CHECK_EQ(f.u.key_update.generation, 70000);
	check_truncations(buf, n);
	CHECK_EQ(tern_frame_encode_key_update(buf, 4, 70000), 0);
	CHECK_EQ(tern_frame_encode_key_update(buf, sizeof(buf), 1ull << 62), 0);
}

static void test_unknown_types(void)
{
	uint8_t buf[16] = {0};
	struct tern_frame f;
	unsigned t;

	for (t = 0x16; t < 0x100; t++) {
		buf[0] = (uint8_t)t;
		CHECK_EQ(decode_one(buf, sizeof(buf), &f), TERN_EMALFORMED);
	}
}

static void test_ack_eliciting(void)
{
	unsigned t;

	for (t = 0; t <= TERN_FRAME_STREAM_DATA_BLOCKED; t++)
		CHECK_EQ(tern_frame_is_ack_eliciting((uint8_t)t),
		         t != TERN_FRAME_PADDING && t != TERN_FRAME_ACK);
	CHECK(tern_frame_is_ack_eliciting(TERN_FRAME_CLOSE));
	CHECK(tern_frame_is_ack_eliciting(TERN_FRAME_CLOSE_APP));
}

/* Several frames back to back in one payload, as a packet carries them. */
static void test_frame_sequence(void)
{
	static const struct tern_ack_range r[] = {{0, 3}};
	static const uint8_t want_types[] = {TERN_FRAME_ACK, TERN_FRAME_STREAM, TERN_FRAME_MAX_DATA,
	                                     TERN_FRAME_PADDING, TERN_FRAME_STREAM};
	uint8_t buf[128], *w = buf, *end = buf + sizeof(buf);
	const uint8_t *p = buf;
	struct tern_frame f;
	size_t dl, i;

	w += tern_frame_encode_ack(w, (size_t)(end - w), r, 1, 10, NULL);
	w += tern_frame_encode_stream(w, (size_t)(end - w), 1, 0, (const uint8_t *)"hello", 5,
	                              false, true, true, &dl);
	w += tern_frame_encode_credit(w, (size_t)(end - w), TERN_FRAME_MAX_DATA, 0, 1 << 20);
	w += tern_frame_encode_padding(w, (size_t)(end - w), 3);
	/* a last STREAM frame may omit LEN: its data runs to the end of the packet */
	w += tern_frame_encode_stream(w, (size_t)(end - w), 2, 5, (const uint8_t *)"xy", 2, true,
	                              true, false, &dl);
	for (i = 0; i < 5; i++) {
		CHECK_EQ(tern_frame_decode(&p, w, &f), 0);
		CHECK_EQ(f.type, want_types[i]);
	}
	CHECK_EQ(f.u.stream.len, 2);
	CHECK(f.u.stream.fin && f.u.stream.msg_end);
	CHECK(p == w);
}

static void test_error_strings(void)
{
	int e;

	CHECK(strcmp(tern_strerror(TERN_OK), "success") == 0);
	CHECK(strcmp(tern_strerror(TERN_EMALFORMED), "malformed wire input") == 0);
	CHECK(strcmp(tern_strerror(TERN_ENOSPC), "output buffer too small") == 0);
	CHECK(strcmp(tern_strerror(-14), "unknown error") == 0);
	CHECK(strcmp(tern_strerror(1), "unknown error") == 0);
	CHECK(strcmp(tern_strerror(-2147483647 - 1), "unknown error") == 0);
	for (e = TERN_ENOSPC; e <= 0; e++)
		CHECK(strcmp(tern_strerror(e), "unknown error") != 0);
	CHECK(strcmp(tern_close_code_name(TERN_CLOSE_NO_ERROR), "NO_ERROR") == 0);
	CHECK(strcmp(tern_close_code_name(TERN_CLOSE_FLOW_CONTROL), "FLOW_CONTROL") == 0);
	CHECK(strcmp(tern_close_code_name(TERN_CLOSE_IDLE_TIMEOUT), "IDLE_TIMEOUT") == 0);
	CHECK(strcmp(tern_close_code_name(TERN_CLOSE_MEMORY), "MEMORY") == 0);
	CHECK(strcmp(tern_close_code_name(0xc), "UNKNOWN") == 0);
	CHECK(strcmp(tern_close_code_name(~0ull), "UNKNOWN") == 0);
}

int main(void)
{
	test_varint_boundaries();
	test_varint_non_minimal();
	test_classify();
	test_data_hdr_exact();
	test_pn_len_choice();
	test_data_hdr_round_trip();
	test_data_hdr_reject();
	test_pn_expand_vectors();
	test_padding_ping();
	test_ack_exact();
	test_ack_partial_fit();
	test_ack_encode_reject();
	test_ack_decode_reject();
	test_ack_too_many_ranges();
	test_stream_round_trip();
	test_stream_exact_and_truncate();
	test_stream_reject();
	test_datagram();
	test_close();
	test_credit();
	test_path_key_update();
	test_unknown_types();
	test_ack_eliciting();
	test_frame_sequence();
	test_error_strings();
	return tern_check_result("test_wire");
}
