/* Tests for core/stream_send.c and core/stream_recv.c.
 *
 * The core is a send -> recv loop through a simulated channel driven by a
 * seeded PRNG: emitted frames are dropped (the sender hears on_lost),
 * duplicated, held back and reordered, and their acks lost (a spurious
 * on_lost) or repeated. The receiver must hand up every message exactly
 * once, in order, byte for byte, with its boundaries. Frames travel encoded
 * and are decoded with tern_frame_decode, as on the wire. The rest are
 * direct tests of each rule: gaps and overlaps, flow control, final size,
 * FIN-only frames, backpressure, message size limits and memory bounds. */
#include <stdlib.h>
#include "check.h"
#include "stream.h"
#include "wire.h"

#define PKT_CAP 1200
#define STREAM_ID 7

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static unsigned pct(uint64_t *s)
{
	return (unsigned)(rng_next(s) % 100);
}

/* Byte j of message i: position-dependent so shifted or swapped data fails. */
static uint8_t msg_byte(size_t i, size_t j)
{
	uint32_t x = (uint32_t)j * 0x9E3779B1u + (uint32_t)i * 0x85EBCA6Bu;

	x ^= x >> 15;
	return (uint8_t)(x >> 7);
}

static void fill_msg(uint8_t *p, size_t i, size_t len)
{
	for (size_t j = 0; j < len; j++)
		p[j] = msg_byte(i, j);
}

/* ---- the receiving application ---- */

struct sink {
	const size_t *sizes;
	size_t nmsg, got, bad;
};

static void sink_cb(void *ctx, const uint8_t *msg, size_t len)
{
	struct sink *k = ctx;

	if (k->got >= k->nmsg || len != k->sizes[k->got]) {
		k->bad++;
		k->got++;
		return;
	}
	for (size_t j = 0; j < len; j++)
		if (msg[j] != msg_byte(k->got, j)) {
			k->bad++;
			break;
		}
	k->got++;
}

/* ---- the channel ---- */

struct pkt {
	uint8_t b[PKT_CAP];
	size_t n;
	struct tern_frame_meta m;
};

struct channel {
	uint64_t rng;
	unsigned drop, dup, hold, ack_loss;
	struct pkt *q; /* frames in flight */
	size_t n, cap;
	uint64_t recv_new, frames, max_mem;
	int recv_errors;
};

static void push(struct channel *c, const struct pkt *p)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 256;
		c->q = realloc(c->q, c->cap * sizeof(*c->q));
	}
	c->q[c->n++] = *p;
}

static void to_receiver(struct channel *c, struct tern_stream_recv *r, const struct pkt *p)
{
	const uint8_t *cur = p->b, *end = p->b + p->n;
	struct tern_frame f;
	uint64_t nb;

	if (tern_frame_decode(&cur, end, &f) || f.type != TERN_FRAME_STREAM || cur != end ||
	    f.u.stream.id != STREAM_ID) {
		c->recv_errors++;
		return;
	}
	if (tern_srecv_frame(r, f.u.stream.offset, f.u.stream.data, f.u.stream.len,
	                     f.u.stream.msg_end, f.u.stream.fin, &nb))
		c->recv_errors++;
	c->recv_new += nb;
}

/* Moves every frame in flight: held ones stay for a later round. */
static void carry(struct channel *c, struct tern_stream_send *s, struct tern_stream_recv *r)
{
	size_t kept = 0;

	for (size_t i = c->n; i > 1; i--) { /* shuffle: reorder */
		size_t j = (size_t)(rng_next(&c->rng) % i);
		struct pkt t = c->q[i - 1];
		c->q[i - 1] = c->q[j];
		c->q[j] = t;
	}
	for (size_t i = 0; i < c->n; i++) {
		struct pkt *p = &c->q[i];
		if (pct(&c->rng) < c->hold) {
			c->q[kept++] = *p;
			continue;
		}
		if (pct(&c->rng) < c->drop) {
			tern_ssend_on_lost(s, &p->m);
			continue;
		}
		to_receiver(c, r, p);
		if (pct(&c->rng) < c->dup)
			to_receiver(c, r, p);
		if (pct(&c->rng) < c->ack_loss) {
			tern_ssend_on_lost(s, &p->m); /* spurious: the data did arrive */
			continue;
		}
		tern_ssend_on_acked(s, &p->m);
		if (pct(&c->rng) < c->dup)
			tern_ssend_on_acked(s, &p->m);
	}
	c->n = kept;
}

struct transfer {
	const size_t *sizes;
	size_t nmsg;
	size_t window, limit, burst;
	uint64_t seed;
	unsigned drop, dup, hold, ack_loss;
	size_t grow_to; /* autotune the receive window up to this (its ring moves) */
};

static void app_write(struct tern_stream_send *s, const struct transfer *t, uint8_t *buf,
                      size_t *next)
{
	while (*next < t->nmsg && tern_ssend_writable(s, t->sizes[*next])) {
		fill_msg(buf, *next, t->sizes[*next]);
		CHECK_EQ(tern_ssend_write(s, buf, t->sizes[*next]), 0);
		(*next)++;
	}
	if (*next == t->nmsg && !s->fin)
		CHECK_EQ(tern_ssend_finish(s), 0);
}

static void emit_burst(struct channel *c, struct tern_stream_send *s, size_t burst,
                       uint64_t *sent_new)
{
	struct pkt p;
	uint64_t nb;

	for (size_t k = 0; k < burst; k++) {
		p.n = tern_ssend_emit(s, STREAM_ID, p.b, PKT_CAP, UINT64_MAX, &p.m, &nb);
		if (p.n == 0)
			break;
		CHECK(p.m.kind == TERN_META_STREAM && p.m.id == STREAM_ID);
		*sent_new += nb;
		c->frames++;
		push(c, &p);
	}
}

/* Runs a whole transfer and returns the receiver's peak heap use. */
static size_t run_transfer(const struct transfer *t)
{
	struct tern_stream_send s;
	struct tern_stream_recv r;
	struct channel c = {.rng = t->seed * 2654435761u + 1,
	                    .drop = t->drop,
	                    .dup = t->dup,
	                    .hold = t->hold,
	                    .ack_loss = t->ack_loss};
	struct sink k = {.sizes = t->sizes, .nmsg = t->nmsg};
	size_t maxlen = 1, next = 0, rounds = 0, peak = 0;
	uint64_t total = 0, sent_new = 0, m;
	uint8_t *buf;

	for (size_t i = 0; i < t->nmsg; i++) {
		maxlen = TERN_MAX(maxlen, t->sizes[i]);
		total += t->sizes[i];
	}
	buf = malloc(maxlen);
	CHECK_EQ(tern_ssend_init(&s, t->limit, t->window), 0);
	CHECK_EQ(tern_srecv_init(&r, t->window), 0);
	while (!(tern_ssend_done(&s) && tern_srecv_finished(&r)) && rounds++ < 1000000) {
		app_write(&s, t, buf, &next);
		emit_burst(&c, &s, t->burst, &sent_new);
		carry(&c, &s, &r);
		tern_srecv_deliver(&r, sink_cb, &k);
		/* a round is 1 us against a 1 ms RTT: always window-limited */
		if (t->grow_to ? tern_srecv_window_update_at(&r, rounds, TERN_MS, t->grow_to, &m)
		               : tern_srecv_window_update(&r, &m))
			tern_ssend_on_max_data(&s, m);
		peak = TERN_MAX(peak, tern_srecv_mem(&r));
	}
	CHECK(tern_ssend_done(&s));
	CHECK(tern_srecv_finished(&r));
	CHECK(!t->grow_to || r.cap >= 64u << 10); /* it grew, four doublings at least */
	CHECK_EQ(k.got, t->nmsg);
	CHECK_EQ(k.bad, 0);
	CHECK_EQ(c.recv_errors, 0);
	CHECK_EQ(sent_new, total); /* each byte charged to connection credit once */
	CHECK_EQ(c.recv_new, total);
	CHECK_EQ(tern_ssend_buffered(&s), 0);
	tern_ssend_free(&s);
	tern_srecv_free(&r);
	free(c.q);
	free(buf);
	return peak;
}

static void test_transfer_mixed(void)
{
	static const size_t base[] = {1, 64, 1500, 100000, 1, 1, 64, 1199, 1201, 2, 5000, 100000};
	size_t sizes[120];

	for (size_t i = 0; i < TERN_ARRAY_LEN(sizes); i++)
		sizes[i] = base[i % TERN_ARRAY_LEN(base)];
	for (uint64_t seed = 1; seed <= 12; seed++) {
		struct transfer t = {.sizes = sizes,
		                     .nmsg = TERN_ARRAY_LEN(sizes),
		                     .window = 256 << 10,
		                     .limit = 256 << 10,
		                     .burst = 64,
		                     .seed = seed,
		                     .drop = (unsigned)(seed % 4) * 5,
		                     .dup = 5,
		                     .hold = 15,
		                     .ack_loss = 5};
		run_transfer(&t);
	}
	/* windows that grow from 4 KiB while frames are out of order: the ring
	 * and its bitmaps move with holes and early message ends in them */
	for (uint64_t seed = 1; seed <= 4; seed++) {
		struct transfer t = {.sizes = sizes,
		                     .nmsg = TERN_ARRAY_LEN(sizes),
		                     .window = 4096,
		                     .limit = 256 << 10,
		                     .burst = 64,
		                     .seed = seed,
		                     .drop = 10,
		                     .dup = 5,
		                     .hold = 30,
		                     .ack_loss = 5,
		                     .grow_to = 1 << 20};
		run_transfer(&t);
	}
	/* a clean channel, and a tiny window with small messages */
	static const size_t small[] = {1, 64, 1500, 1, 64, 1500, 3000, 7, 1};
	struct transfer t = {.sizes = sizes,
	                     .nmsg = TERN_ARRAY_LEN(sizes),
	                     .window = 256 << 10,
	                     .limit = 256 << 10,
	                     .burst = 1000,
	                     .seed = 99};
	run_transfer(&t);
	t = (struct transfer){.sizes = small,
	                      .nmsg = TERN_ARRAY_LEN(small),
	                      .window = 4096,
	                      .limit = 2048,
	                      .burst = 8,
	                      .seed = 5,
	                      .drop = 20,
	                      .dup = 10,
	                      .hold = 20,
	                      .ack_loss = 10};
	run_transfer(&t);
}

/* One 64 MiB message through a 256 KiB window, followed by small ones; the
 * receiver holds at most its window plus that one message. */
static void test_transfer_64mib(void)
{
	static const size_t sizes[] = {TERN_MAX_MESSAGE, 1, 1500};
	struct transfer t = {.sizes = sizes,
	                     .nmsg = 3,
	                     .window = 256 << 10,
	                     .limit = 256 << 10,
	                     .burst = 256,
	                     .seed = 42,
	                     .drop = 3,
	                     .dup = 2,
	                     .hold = 10,
	                     .ack_loss = 2};
	size_t peak = run_transfer(&t);

	CHECK(peak <= (256u << 10) + TERN_MAX_MESSAGE + (64u << 10));
}

/* ---- direct receive-side rules ---- */

struct capture {
	uint8_t data[4][64];
	size_t len[4], n;
	const uint8_t *ptr[4];
};

static void capture_cb(void *ctx, const uint8_t *msg, size_t len)
{
	struct capture *cp = ctx;

	if (cp->n < 4 && len <= 64) {
		memcpy(cp->data[cp->n], msg, len);
		cp->len[cp->n] = len;
		cp->ptr[cp->n] = msg;
	}
	cp->n++;
}

static void test_recv_gaps_overlaps(void)
{
	const uint8_t *s = (const uint8_t *)"hello world!ab";
	struct tern_stream_recv r;
	struct capture cp = {0};
	uint64_t nb;

	tern_srecv_init(&r, 1024);
	/* message 1 = "hello world!" (12), message 2 = "ab" (2), out of order */
	CHECK_EQ(tern_srecv_frame(&r, 12, s + 12, 2, true, true, &nb), 0);
	CHECK_EQ(nb, 14);
	CHECK_EQ(tern_srecv_deliver(&r, capture_cb, &cp), 0);
	CHECK_EQ(cp.n, 0);
	CHECK_EQ(tern_srecv_frame(&r, 6, s + 6, 6, true, false, &nb), 0);
	CHECK_EQ(nb, 0);
	CHECK_EQ(tern_srecv_frame(&r, 2, s + 2, 6, false, false, &nb), 0); /* overlaps */
	CHECK_EQ(tern_srecv_frame(&r, 6, s + 6, 6, true, false, &nb), 0);  /* duplicate */
	CHECK_EQ(tern_srecv_deliver(&r, capture_cb, &cp), 0);
	CHECK_EQ(cp.n, 0); /* bytes 0..1 still missing */
	CHECK_EQ(tern_srecv_frame(&r, 0, s, 3, false, false, &nb), 0);
	CHECK_EQ(tern_srecv_deliver(&r, capture_cb, &cp), 14);
	CHECK_EQ(cp.n, 2);
	CHECK_EQ(cp.len[0], 12);
	CHECK(memcmp(cp.data[0], "hello world!", 12) == 0);
	CHECK_EQ(cp.len[1], 2);
	CHECK(memcmp(cp.data[1], "ab", 2) == 0);
	CHECK(cp.ptr[0] == r.buf); /* handed up in place */
	CHECK(tern_srecv_finished(&r));
	/* a late duplicate of delivered data is harmless */
	CHECK_EQ(tern_srecv_frame(&r, 0, s, 12, true, false, &nb), 0);
	CHECK_EQ(nb, 0);
	CHECK_EQ(tern_srecv_deliver(&r, capture_cb, &cp), 0);
	CHECK_EQ(cp.n, 2);
	tern_srecv_free(&r);
}

static void test_recv_wrapping_message(void)
{
	uint8_t d[48];
	struct tern_stream_recv r;
	struct capture cp = {0};
	uint64_t nb, m;

	for (size_t i = 0; i < sizeof(d); i++)
		d[i] = (uint8_t)i;
	tern_srecv_init(&r, 64);
	CHECK_EQ(tern_srecv_frame(&r, 0, d, 31, true, false, &nb), 0);
	CHECK_EQ(tern_srecv_deliver(&r, capture_cb, &cp), 31);
	CHECK(!tern_srecv_window_update(&r, &m)); /* 33 of 64 bytes of credit left */
	CHECK_EQ(tern_srecv_frame(&r, 31, d, 1, true, false, &nb), 0);
	CHECK_EQ(tern_srecv_deliver(&r, capture_cb, &cp), 1);
	CHECK(tern_srecv_window_update(&r, &m));
	CHECK_EQ(m, 96);
	CHECK(!tern_srecv_window_update(&r, &m));
	/* [32, 72) wraps the 64-byte ring: delivered from the assembly buffer */
	CHECK_EQ(tern_srecv_frame(&r, 32, d, 40, true, false, &nb), 0);
	CHECK_EQ(tern_srecv_deliver(&r, capture_cb, &cp), 40);
	CHECK_EQ(cp.n, 3);
	CHECK_EQ(cp.len[2], 40);
	CHECK(memcmp(cp.data[2], d, 40) == 0);
	CHECK(cp.ptr[2] == r.msg);
	tern_srecv_free(&r);
}

/* Autotuning: a window read in under 2 RTT per window doubles, moving the
 * bytes already held (here out of order, in the wrapped part of the ring);
 * a slow reader's window does not grow; max_cap bounds it. */
static void test_recv_autotune(void)
{
	uint8_t d[128];
	struct tern_stream_recv r;
	struct capture cp = {0};
	uint64_t nb, m;

	for (size_t i = 0; i < sizeof(d); i++)
		d[i] = (uint8_t)(i * 7 + 1);
	tern_srecv_init(&r, 64);
	CHECK_EQ(tern_srecv_frame(&r, 0, d, 32, true, false, &nb), 0);
	CHECK_EQ(tern_srecv_deliver(&r, capture_cb, &cp), 32);
	CHECK(tern_srecv_window_update_at(&r, 10000, 100, 1024, &m)); /* first epoch: no growth */
	CHECK_EQ(r.cap, 64);
	CHECK_EQ(m, 96);
	/* [64, 90) arrives ahead of [32, 64) and sits at ring index 0..25 */
	CHECK_EQ(tern_srecv_frame(&r, 64, d + 64, 26, false, false, &nb), 0);
	CHECK_EQ(tern_srecv_frame(&r, 32, d + 32, 32, true, false, &nb), 0);
	CHECK_EQ(tern_srecv_deliver(&r, capture_cb, &cp), 32);
	/* 32 bytes (half the window) read in 50 us with a 100 us RTT: grow */
	CHECK(tern_srecv_window_update_at(&r, 10050, 100, 1024, &m));
	CHECK_EQ(r.cap, 128);
	CHECK_EQ(m, 64 + 128);
	CHECK_EQ(r.contig, 90); /* [64, 90)'s bits moved with its bytes */
	CHECK_EQ(tern_srecv_frame(&r, 90, d + 90, 10, true, false, &nb), 0);
	CHECK_EQ(tern_srecv_deliver(&r, capture_cb, &cp), 36);
	CHECK_EQ(cp.n, 3);
	CHECK(cp.ptr[2] == r.buf + 64); /* in place at its new index */
	CHECK(memcmp(r.buf + 64, d + 64, 36) == 0);
	/* slow: the next 64 bytes took 10 ms against a 100 us RTT */
	CHECK_EQ(tern_srecv_frame(&r, 100, d, 64, true, false, &nb), 0);
	CHECK_EQ(tern_srecv_deliver(&r, capture_cb, &cp), 64);
	CHECK(tern_srecv_window_update_at(&r, 20050, 100, 1024, &m));
	CHECK_EQ(r.cap, 128);
	/* fast again, but max_cap is reached */
	CHECK_EQ(tern_srecv_frame(&r, 164, d, 64, true, false, &nb), 0);
	CHECK_EQ(tern_srecv_deliver(&r, capture_cb, &cp), 64);
	CHECK(tern_srecv_window_update_at(&r, 20060, 100, 128, &m));
	CHECK_EQ(r.cap, 128);
	/* no RTT estimate yet: no growth */
	CHECK_EQ(tern_srecv_frame(&r, 228, d, 64, true, false, &nb), 0);
	CHECK_EQ(tern_srecv_deliver(&r, capture_cb, &cp), 64);
	CHECK(tern_srecv_window_update_at(&r, 20061, 0, 1024, &m));
	CHECK_EQ(r.cap, 128);
	tern_srecv_free(&r);
}

static void test_recv_flow_control(void)
{
	uint8_t d[100] = {0};
	struct tern_stream_recv r;
	uint64_t nb = 99;

	tern_srecv_init(&r, 100); /* rounded up to 128 */
	CHECK_EQ(r.max_data, 128);
	CHECK_EQ(tern_srecv_frame(&r, 100, d, 29, false, false, &nb), TERN_EFLOWCONTROL);
	CHECK_EQ(nb, 0);
	CHECK_EQ(r.highest, 0); /* nothing applied */
	CHECK(r.buf == NULL);
	CHECK_EQ(tern_srecv_frame(&r, 100, d, 28, false, false, &nb), 0);
	CHECK_EQ(nb, 128);
	tern_srecv_free(&r);
}

static void test_recv_final_size(void)
{
	uint8_t d[16] = {0};
	struct tern_stream_recv r;
	uint64_t nb;

	tern_srecv_init(&r, 1024);
	CHECK_EQ(tern_srecv_frame(&r, 0, d, 10, true, false, &nb), 0);
	CHECK_EQ(tern_srecv_frame(&r, 0, d, 8, false, true, &nb), TERN_EPROTO); /* below highest */
	CHECK_EQ(tern_srecv_frame(&r, 10, d, 0, false, true, &nb), 0);
	CHECK_EQ(r.final_size, 10);
	CHECK_EQ(tern_srecv_frame(&r, 10, d, 0, false, true, &nb), 0); /* same size again */
	CHECK_EQ(tern_srecv_frame(&r, 0, d, 10, true, true, &nb), 0);
	CHECK_EQ(tern_srecv_frame(&r, 10, d, 2, true, false, &nb), TERN_EPROTO); /* beyond */
	CHECK_EQ(tern_srecv_frame(&r, 10, d, 2, true, true, &nb), TERN_EPROTO);  /* changed */
	CHECK_EQ(tern_srecv_frame(&r, 4, d, 4, false, true, &nb), TERN_EPROTO);  /* changed */
	CHECK_EQ(r.highest, 10);
	CHECK_EQ(tern_srecv_frame(&r, 3, d, 0, true, false, &nb), TERN_EMALFORMED); /* empty msg */
	tern_srecv_free(&r);
}

/* TERN_ETOOBIG: contiguous bytes past the limit with no message end. */
static void test_recv_too_big(void)
{
	enum { CHUNK = 64 << 10 };
	static uint8_t d[CHUNK];
	struct tern_stream_recv r;
	struct capture cp = {0};
	uint64_t nb, m, off = 0;
	size_t peak = 0;

	tern_srecv_init(&r, 256 << 10);
	for (; off < TERN_MAX_MESSAGE; off += CHUNK) {
		CHECK_EQ(tern_srecv_frame(&r, off, d, CHUNK, false, false, &nb), 0);
		tern_srecv_deliver(&r, capture_cb, &cp);
		if (tern_srecv_window_update(&r, &m))
			(void)m;
		peak = TERN_MAX(peak, tern_srecv_mem(&r));
	}
	CHECK_EQ(r.msg_len, TERN_MAX_MESSAGE); /* all of it left the ring */
	CHECK_EQ(r.read_off, TERN_MAX_MESSAGE);
	CHECK_EQ(tern_srecv_frame(&r, off, d, 1, false, false, &nb), TERN_ETOOBIG);
	CHECK_EQ(tern_srecv_frame(&r, off, d, 1, true, false, &nb), TERN_ETOOBIG);
	CHECK_EQ(r.highest, TERN_MAX_MESSAGE);
	CHECK_EQ(cp.n, 0);
	CHECK(peak <= (256u << 10) + TERN_MAX_MESSAGE + (64u << 10));
	tern_srecv_free(&r);

	/* a far message end alone proves nothing (earlier ends may be in flight);
	 * once the bytes before it are contiguous with no end among them, it does */
	uint8_t *big = calloc(1, TERN_MAX_MESSAGE);
	tern_srecv_init(&r, (size_t)TERN_MAX_MESSAGE * 2);
	CHECK_EQ(tern_srecv_frame(&r, 0, d, 1, false, false, &nb), 0);
	CHECK_EQ(tern_srecv_frame(&r, TERN_MAX_MESSAGE, d, 1, true, false, &nb), 0);
	CHECK_EQ(tern_srecv_frame(&r, 1, big, TERN_MAX_MESSAGE - 1, false, false, &nb),
	         TERN_ETOOBIG);
	CHECK_EQ(tern_srecv_frame(&r, 1, big, TERN_MAX_MESSAGE - 1, true, false, &nb), 0);
	CHECK_EQ(tern_srecv_deliver(&r, capture_cb, &cp), TERN_MAX_MESSAGE + 1);
	CHECK_EQ(cp.n, 2); /* the 64 MiB message, then the 1-byte one */
	CHECK_EQ(cp.len[1], 1);
	tern_srecv_free(&r);
	free(big);
}

/* Message ends ahead of their data need no limit of their own: the window
 * bounds them (one bit per byte). A whole window of one-byte messages
 * arrives last first, then a misplaced end is refused. */
static void test_recv_ooo_ends(void)
{
	enum { WIN = 256 << 10 };
	const uint8_t one = 'x';
	struct tern_stream_recv r;
	struct capture cp = {0};
	uint64_t nb;

	tern_srecv_init(&r, WIN);
	for (uint64_t i = WIN - 1; i > 0; i--)
		CHECK_EQ(tern_srecv_frame(&r, i, &one, 1, true, false, &nb), 0);
	CHECK_EQ(tern_srecv_frame(&r, 5, &one, 1, true, false, &nb), 0); /* known end: fine */
	CHECK_EQ(tern_srecv_deliver(&r, capture_cb, &cp), 0);
	CHECK_EQ(tern_srecv_frame(&r, 0, &one, 1, false, false, &nb), 0);
	CHECK_EQ(tern_srecv_deliver(&r, capture_cb, &cp), WIN);
	CHECK_EQ(cp.n, WIN - 1);
	CHECK_EQ(cp.len[0], 2);
	CHECK_EQ(r.contig, WIN);
	CHECK_EQ(r.scan, WIN);
	tern_srecv_free(&r);
	/* bytes [0, 10) arrive contiguous with no end among them: an end at 5
	 * now is a lie (the frame holding byte 4 would have carried it) */
	tern_srecv_init(&r, 1024);
	CHECK_EQ(tern_srecv_frame(&r, 0, (const uint8_t *)"0123456789", 10, false, false, &nb), 0);
	CHECK_EQ(tern_srecv_deliver(&r, capture_cb, &cp), 0);
	CHECK_EQ(tern_srecv_frame(&r, 3, (const uint8_t *)"34", 2, true, false, &nb),
	         TERN_EMALFORMED);
	CHECK_EQ(tern_srecv_frame(&r, 10, (const uint8_t *)"a", 1, true, false, &nb), 0);
	CHECK_EQ(tern_srecv_deliver(&r, capture_cb, &cp), 11);
	tern_srecv_free(&r);
}

/* A bitmap bit means something only once data reached its offset: ten
 * 6-byte messages mark ends all over a 64-byte ring, then a FIN alone says
 * the stream ends at 100 before [60, 100) arrives, as one message, over the
 * ring positions those old ends used. */
static void test_recv_stale_bits(void)
{
	uint8_t d[40] = {0};
	struct tern_stream_recv r;
	struct capture cp = {0};
	uint64_t nb, m;

	tern_srecv_init(&r, 64);
	for (uint64_t off = 0; off < 60; off += 6)
		CHECK_EQ(tern_srecv_frame(&r, off, d, 6, true, false, &nb), 0);
	CHECK_EQ(tern_srecv_deliver(&r, capture_cb, &cp), 60);
	CHECK_EQ(cp.n, 10);
	CHECK(tern_srecv_window_update(&r, &m));
	CHECK_EQ(tern_srecv_frame(&r, 100, NULL, 0, false, true, &nb), 0);
	CHECK_EQ(tern_srecv_deliver(&r, capture_cb, &cp), 0);
	CHECK_EQ(tern_srecv_frame(&r, 60, d, 40, true, true, &nb), 0);
	CHECK_EQ(tern_srecv_deliver(&r, capture_cb, &cp), 40);
	CHECK_EQ(cp.n, 11); /* one 40-byte message, not pieces cut at stale ends */
	CHECK(tern_srecv_finished(&r));
	tern_srecv_free(&r);
}

/* ---- reassembly cost does not depend on arrival order ---- */

/* A stream of COST_BYTES / 2 two-byte messages arrives as one-byte frames,
 * frame i carrying offset order[i]. */
#define COST_BYTES (1u << 14)
static uint64_t cost_order[COST_BYTES];

/* Feeds the frames in cost_order, delivering after each, and returns the
 * receive side's bookkeeping work; every message must come out intact. */
static uint64_t reassembly_work(void)
{
	static size_t sizes[COST_BYTES / 2];
	struct sink k = {.sizes = sizes, .nmsg = COST_BYTES / 2};
	struct tern_stream_recv r;
	uint64_t nb, work;

	for (size_t i = 0; i < COST_BYTES / 2; i++)
		sizes[i] = 2;
	tern_srecv_init(&r, 256 << 10);
	for (size_t i = 0; i < COST_BYTES; i++) {
		uint64_t off = cost_order[i];
		uint8_t b = msg_byte(off / 2, off % 2);
		CHECK_EQ(tern_srecv_frame(&r, off, &b, 1, off % 2 == 1, false, &nb), 0);
		tern_srecv_deliver(&r, sink_cb, &k);
	}
	CHECK_EQ(k.got, COST_BYTES / 2);
	CHECK_EQ(k.bad, 0);
	work = tern_srecv_work(&r);
	tern_srecv_free(&r);
	return work;
}

/* Issue 13 item 2: one-byte fragments sent highest offset first made every
 * insertion shift every range and message end already held (quadratic).
 * Orders that leave a gap at every byte (ends first, then the data, both
 * from the top; a random permutation) must cost at most twice in-order. */
static void test_recv_order_cost(void)
{
	uint64_t in_order, top_down, shuffled, seed = 42;

	for (uint64_t i = 0; i < COST_BYTES; i++)
		cost_order[i] = i;
	in_order = reassembly_work();
	for (uint64_t i = 0; i < COST_BYTES / 2; i++) {
		cost_order[i] = COST_BYTES - 1 - 2 * i;                  /* the ends, top down */
		cost_order[COST_BYTES / 2 + i] = COST_BYTES - 2 - 2 * i; /* then the data */
	}
	top_down = reassembly_work();
	for (uint64_t i = 0; i < COST_BYTES; i++)
		cost_order[i] = i;
	for (uint64_t i = COST_BYTES - 1; i > 0; i--) {
		uint64_t j = rng_next(&seed) % (i + 1), t = cost_order[i];
		cost_order[i] = cost_order[j];
		cost_order[j] = t;
	}
	shuffled = reassembly_work();
	fprintf(stderr,
	        "reassembly work for %u one-byte frames: %llu in order, %llu top down, %llu "
	        "shuffled\n",
	        COST_BYTES, (unsigned long long)in_order, (unsigned long long)top_down,
	        (unsigned long long)shuffled);
	CHECK(top_down <= 2 * in_order);
	CHECK(shuffled <= 2 * in_order);
}

/* ---- direct send-side rules ---- */

struct decoded {
	uint64_t off;
	size_t len;
	bool fin, msg_end;
};

static struct decoded emit_one(struct tern_stream_send *s, size_t cap, uint64_t credit,
                               struct tern_frame_meta *m, uint64_t *nb)
{
	uint8_t p[PKT_CAP];
	struct decoded d = {0};
	struct tern_frame f;
	size_t n = tern_ssend_emit(s, STREAM_ID, p, cap, credit, m, nb);
	const uint8_t *cur = p;

	d.len = SIZE_MAX;
	if (n == 0)
		return d;
	CHECK(n <= cap);
	CHECK_EQ(tern_frame_decode(&cur, p + n, &f), 0);
	CHECK(cur == p + n);
	CHECK_EQ(f.type, TERN_FRAME_STREAM);
	d = (struct decoded){f.u.stream.offset, f.u.stream.len, f.u.stream.fin, f.u.stream.msg_end};
	CHECK_EQ(m->off, d.off);
	CHECK_EQ(m->len, d.len);
	CHECK_EQ(m->fin, d.fin);
	return d;
}

static void test_send_boundaries(void)
{
	uint8_t msg[100];
	struct tern_stream_send s;
	struct tern_frame_meta m[8];
	struct decoded d;
	uint64_t nb;

	fill_msg(msg, 0, sizeof(msg));
	tern_ssend_init(&s, 4096, 1 << 20);
	tern_ssend_write(&s, msg, 10);
	tern_ssend_write(&s, msg, 20);
	tern_ssend_write(&s, msg, 30);
	tern_ssend_finish(&s);
	d = emit_one(&s, PKT_CAP, UINT64_MAX, &m[0], &nb);
	CHECK(d.off == 0 && d.len == 10 && d.msg_end && !d.fin);
	CHECK_EQ(nb, 10);
	d = emit_one(&s, PKT_CAP, UINT64_MAX, &m[1], &nb);
	CHECK(d.off == 10 && d.len == 20 && d.msg_end && !d.fin);
	/* a small packet cuts message 3: no MSG_END until its last byte */
	d = emit_one(&s, 16, UINT64_MAX, &m[2], &nb);
	CHECK(d.off == 30 && d.len > 0 && d.len < 30 && !d.msg_end && !d.fin);
	d = emit_one(&s, PKT_CAP, UINT64_MAX, &m[3], &nb);
	CHECK(d.off == 30 + m[2].len && d.off + d.len == 60 && d.msg_end && d.fin);
	CHECK_EQ(emit_one(&s, PKT_CAP, UINT64_MAX, &m[4], &nb).len, SIZE_MAX);
	CHECK(!tern_ssend_pending(&s, UINT64_MAX));
	/* lose frames 2..4 ([10, 60) + FIN); ack part of it first */
	tern_ssend_on_acked(&s, &m[0]);
	tern_ssend_on_acked(&s, &m[2]);
	tern_ssend_on_lost(&s, &m[1]);
	tern_ssend_on_lost(&s, &m[2]); /* already acked: nothing to resend */
	tern_ssend_on_lost(&s, &m[3]);
	CHECK(tern_ssend_pending(&s, 0));
	d = emit_one(&s, PKT_CAP, 0, &m[5], &nb); /* resends ignore connection credit */
	CHECK(d.off == 10 && d.len == 20 && d.msg_end && !d.fin);
	CHECK_EQ(nb, 0);
	d = emit_one(&s, PKT_CAP, 0, &m[6], &nb);
	CHECK(d.off == 30 + m[2].len && d.off + d.len == 60 && d.msg_end && d.fin);
	CHECK(!tern_ssend_pending(&s, UINT64_MAX));
	tern_ssend_on_acked(&s, &m[5]);
	CHECK(!tern_ssend_done(&s));
	tern_ssend_on_acked(&s, &m[6]);
	tern_ssend_on_acked(&s, &m[3]); /* a late ack of the lost copy: harmless */
	CHECK(tern_ssend_done(&s));
	CHECK_EQ(s.acked_off, 60);
	CHECK_EQ(s.ends_n, 0);
	tern_ssend_free(&s);
}

static void test_send_credit(void)
{
	uint8_t msg[1000] = {0};
	struct tern_stream_send s;
	struct tern_frame_meta m;
	struct decoded d;
	uint64_t nb;

	tern_ssend_init(&s, 4096, 300); /* the peer allows 300 bytes of this stream */
	CHECK_EQ(tern_ssend_write(&s, msg, 1000), 0);
	CHECK(!tern_ssend_pending(&s, 0));
	d = emit_one(&s, PKT_CAP, 100, &m, &nb); /* connection credit: 100 */
	CHECK(d.off == 0 && d.len == 100 && !d.msg_end);
	CHECK_EQ(nb, 100);
	d = emit_one(&s, PKT_CAP, UINT64_MAX, &m, &nb);
	CHECK(d.off == 100 && d.len == 200);
	CHECK(!tern_ssend_pending(&s, UINT64_MAX));
	CHECK_EQ(emit_one(&s, PKT_CAP, UINT64_MAX, &m, &nb).len, SIZE_MAX);
	tern_ssend_on_max_data(&s, 200); /* lower: ignored */
	CHECK_EQ(s.max_data, 300);
	tern_ssend_on_max_data(&s, 2000);
	d = emit_one(&s, PKT_CAP, UINT64_MAX, &m, &nb);
	CHECK(d.off == 300 && d.len == 700 && d.msg_end);
	tern_ssend_free(&s);
}

static void test_send_fin_only(void)
{
	struct tern_stream_send s;
	struct tern_stream_recv r;
	struct tern_frame_meta m;
	struct capture cp = {0};
	struct decoded d;
	uint64_t nb;

	tern_ssend_init(&s, 4096, 1000);
	tern_srecv_init(&r, 1000);
	CHECK(!tern_ssend_pending(&s, UINT64_MAX));
	CHECK_EQ(tern_ssend_finish(&s), 0);
	CHECK_EQ(tern_ssend_finish(&s), TERN_ECLOSED);
	CHECK_EQ(tern_ssend_write(&s, (const uint8_t *)"x", 1), TERN_ECLOSED);
	CHECK(tern_ssend_pending(&s, 0));
	d = emit_one(&s, PKT_CAP, 0, &m, &nb);
	CHECK(d.off == 0 && d.len == 0 && d.fin && !d.msg_end);
	CHECK(!tern_ssend_pending(&s, UINT64_MAX));
	tern_ssend_on_lost(&s, &m); /* a lost FIN is sent again */
	CHECK(tern_ssend_pending(&s, 0));
	d = emit_one(&s, PKT_CAP, 0, &m, &nb);
	CHECK(d.off == 0 && d.len == 0 && d.fin);
	CHECK_EQ(tern_srecv_frame(&r, d.off, NULL, 0, false, true, &nb), 0);
	CHECK_EQ(tern_srecv_deliver(&r, capture_cb, &cp), 0);
	CHECK(tern_srecv_finished(&r));
	CHECK_EQ(cp.n, 0);
	CHECK(!tern_ssend_done(&s));
	tern_ssend_on_acked(&s, &m);
	CHECK(tern_ssend_done(&s));
	tern_ssend_free(&s);
	tern_srecv_free(&r);
}

static void test_send_backpressure(void)
{
	static uint8_t msg[5000];
	struct tern_stream_send s;
	struct tern_frame_meta m[8];
	uint64_t nb;
	size_t n = 0;

	tern_ssend_init(&s, 1000, 1 << 20);
	CHECK_EQ(tern_ssend_write(&s, msg, 0), TERN_ETOOBIG);
	CHECK_EQ(tern_ssend_write(&s, msg, (size_t)TERN_MAX_MESSAGE + 1), TERN_ETOOBIG);
	CHECK_EQ(tern_ssend_write(&s, msg, 600), 0);
	CHECK(!tern_ssend_writable(&s, 600));
	CHECK_EQ(tern_ssend_write(&s, msg, 600), TERN_EAGAIN);
	CHECK_EQ(tern_ssend_buffered(&s), 600);
	CHECK(tern_ssend_writable(&s, 400));
	while (emit_one(&s, PKT_CAP, UINT64_MAX, &m[n], &nb).len != SIZE_MAX)
		n++;
	CHECK(!tern_ssend_writable(&s, 600)); /* sent but not acked: still buffered */
	for (size_t i = 0; i < n; i++)
		tern_ssend_on_acked(&s, &m[i]);
	CHECK_EQ(tern_ssend_buffered(&s), 0);
	CHECK(tern_ssend_writable(&s, 600));
	/* a message over the limit goes into an empty buffer only */
	CHECK(tern_ssend_writable(&s, 5000));
	CHECK_EQ(tern_ssend_write(&s, msg, 5000), 0);
	CHECK_EQ(tern_ssend_write(&s, msg, 1), TERN_EAGAIN);
	tern_ssend_free(&s);
}

static void collect_cb(void *ctx, const uint8_t *msg, size_t len)
{
	struct sink *k = ctx;

	if (k->got < k->nmsg && len == k->sizes[k->got])
		for (size_t j = 0; j < len; j++)
			k->bad += msg[j] != msg_byte(k->got, j);
	else
		k->bad++;
	k->got++;
}

/* The send ring grows while its live bytes wrap: they keep their offsets. */
static void test_send_ring_growth(void)
{
	static const size_t sizes[] = {3000, 3000, 3000, 2000};
	static uint8_t msg[3000];
	struct tern_stream_send s;
	struct tern_stream_recv r;
	struct tern_frame_meta m;
	struct sink k = {.sizes = sizes, .nmsg = 4};
	struct tern_frame_meta lost[8];
	uint8_t p[PKT_CAP];
	uint64_t nb;
	size_t n, nlost = 0, resent = 0;

	tern_ssend_init(&s, 16384, 1 << 20);
	tern_srecv_init(&r, 1 << 16);
	for (size_t i = 0; i < 4; i++) {
		fill_msg(msg, i, sizes[i]);
		CHECK_EQ(tern_ssend_write(&s, msg, sizes[i]), 0);
		CHECK_EQ(s.cap, i < 3 ? 4096 : 8192); /* message 3 grows it, 2 wraps */
		while ((n = tern_ssend_emit(&s, STREAM_ID, p, sizeof(p), UINT64_MAX, &m, &nb))) {
			struct tern_frame f;
			const uint8_t *cur = p;
			CHECK_EQ(tern_frame_decode(&cur, p + n, &f), 0);
			CHECK_EQ(tern_srecv_frame(&r, f.u.stream.offset, f.u.stream.data,
			                          f.u.stream.len, f.u.stream.msg_end,
			                          f.u.stream.fin, &nb),
			         0);
			if (i != 2) /* keep message 2 unacked across the next growth */
				tern_ssend_on_acked(&s, &m);
			else
				lost[nlost++] = m;
		}
		tern_srecv_deliver(&r, collect_cb, &k);
	}
	CHECK_EQ(s.cap, 8192);
	CHECK_EQ(k.got, 4);
	CHECK_EQ(k.bad, 0);
	CHECK_EQ(s.acked_off, 6000);
	CHECK_EQ(tern_ssend_buffered(&s), 5000);
	/* resending message 2 reads the re-placed bytes */
	for (size_t i = 0; i < nlost; i++)
		tern_ssend_on_lost(&s, &lost[i]);
	while ((n = tern_ssend_emit(&s, STREAM_ID, p, sizeof(p), 0, &m, &nb))) {
		struct tern_frame f;
		const uint8_t *cur = p;
		CHECK_EQ(tern_frame_decode(&cur, p + n, &f), 0);
		for (size_t j = 0; j < f.u.stream.len; j++)
			k.bad += f.u.stream.data[j] != msg_byte(2, f.u.stream.offset + j - 6000);
		resent += f.u.stream.len;
		tern_ssend_on_acked(&s, &m);
	}
	CHECK_EQ(resent, 3000);
	CHECK_EQ(k.bad, 0);
	CHECK_EQ(tern_ssend_buffered(&s), 0);
	tern_ssend_free(&s);
	tern_srecv_free(&r);
}

int main(void)
{
	test_send_ring_growth();
	test_recv_gaps_overlaps();
	test_recv_wrapping_message();
	test_recv_flow_control();
	test_recv_autotune();
	test_recv_final_size();
	test_recv_too_big();
	test_recv_ooo_ends();
	test_recv_order_cost();
	test_recv_stale_bits();
	test_send_boundaries();
	test_send_credit();
	test_send_fin_only();
	test_send_backpressure();
	test_transfer_mixed();
	test_transfer_64mib();
	return tern_check_result("stream");
}
