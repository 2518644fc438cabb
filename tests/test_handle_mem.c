/* The handle API's memory on the data path (threaded engines, loopback):
 *  - no malloc per message: after a warm-up, echoing rounds of 64-byte and
 *    of 4 KiB messages each way through two handles (send ring, receive
 *    chunks) allocates nothing; every allocation the library makes is
 *    counted by wrapping malloc and its kin at link time (tests/meson.build
 *    links this test with -Wl,--wrap=...);
 *  - every size across the send ring's and the receive chunks' limits
 *    (inline, chunked, larger than a chunk, larger than half the send ring:
 *    the malloc'd paths), interleaved with small messages and followed by
 *    a fin: all arrive intact, in order, then the fin.
 * One worker per engine, so no packet is handed between workers (a
 * handoff is a malloc by design, architecture.md §8). Built with
 * -Dmempool=false (ASan), every pooled packet buffer is a malloc: the count
 * is printed, not checked. Every wait is bounded; nothing asserts on
 * elapsed time. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"
#include "tern/handle.h"

#define VPORT 21
#define SEC 1000000u
#define ROUND 256      /* messages per direction and round: well inside the receive ring */
#define WARM_ROUNDS 3  /* per size, before counting */
#define COUNT_ROUNDS 4 /* per size, counted */
#define SMALL 64
#define LARGE 4096
/* Allocations tolerated over the counted rounds: the session's sent-packet
 * ring may still double (a realloc, at most 8 times in a session's life);
 * per message it is zero. */
#define ALLOC_SLACK 8

/* ---- counting allocator (link-time wrap) ---- */

static atomic_ulong n_allocs;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);
int __wrap_posix_memalign(void **p, size_t align, size_t n);

void *__wrap_malloc(size_t n)
{
	atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
	return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
	return __real_realloc(p, n);
}

void *__wrap_aligned_alloc(size_t align, size_t n)
{
	atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
	return __real_aligned_alloc(align, n);
}

int __wrap_posix_memalign(void **p, size_t align, size_t n)
{
	atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
	return __real_posix_memalign(p, align, n);
}

/* ---- engines and handles ---- */

static struct tern_engine *engine(void)
{
	struct tern_engine_cfg cfg;
	struct tern_engine *e = NULL;
	char err[256];

	tern_engine_cfg_default(&cfg);
	cfg.workers = 1;
	cfg.bind = (struct tern_addr){.family = 4, .ip = {127, 0, 0, 1}};
	cfg.handshake_timeout_us = 2 * SEC;
	/* the session's own buffers at fixed sizes: its send ring follows the
	 * congestion window (freed when acked, allocated again by the next
	 * burst) and its receive ring is autotuned; neither is the handle's
	 * path, nor per message */
	cfg.send_buffer_max = cfg.send_buffer;
	cfg.stream_window_max = cfg.stream_window;
	cfg.conn_window_max = cfg.conn_window;
	if (tern_engine_new(&e, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "engine: %s\n", err);
		return NULL;
	}
	return e;
}

static int send_all(struct tern_handle *h, uint16_t stream, const void *m, size_t len)
{
	for (;;) {
		int rc = tern_handle_send(h, stream, m, len);
		if (rc != TERN_EAGAIN)
			return rc;
		if (tern_handle_wait_writable(h, len, 10 * SEC) == TERN_ECLOSED)
			return TERN_ECLOSED;
	}
}

static void fill(uint8_t *buf, size_t len, uint32_t seq)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 13u + seq);
	memcpy(buf, &seq, len < sizeof(seq) ? len : sizeof(seq));
}

static uint64_t received(const struct tern_handle *h)
{
	struct tern_handle_stats st;

	tern_handle_stats(h, &st);
	return st.msgs_received;
}

/* Waits until h has received `want` messages: a whole round is queued at
 * once, so each round needs the same receive chunks (after the first,
 * none is new). */
static void wait_received(const struct tern_handle *h, uint64_t want)
{
	WAIT_FOR(received(h) >= want, 10000);
}

/* ROUND messages of len bytes from a to b, then back from b to a (b echoes
 * what it read). Returns how many came back intact. */
static int echo_round(struct tern_handle *a, struct tern_handle *b, size_t len, uint32_t seq0)
{
	static uint8_t buf[LARGE], want[LARGE];
	uint64_t at_a = received(a) + ROUND, at_b = received(b) + ROUND;
	int ok = 0;

	for (uint32_t i = 0; i < ROUND; i++) {
		fill(buf, len, seq0 + i);
		if (send_all(a, 0, buf, len) != 0)
			return ok;
	}
	wait_received(b, at_b);
	for (uint32_t i = 0; i < ROUND; i++) {
		int n = tern_handle_recv(b, buf, sizeof(buf), NULL, 10 * SEC);
		if (n != (int)len || send_all(b, 0, buf, len) != 0)
			return ok;
	}
	wait_received(a, at_a);
	for (uint32_t i = 0; i < ROUND; i++) {
		fill(want, len, seq0 + i);
		ok += tern_handle_recv(a, buf, sizeof(buf), NULL, 10 * SEC) == (int)len &&
		      memcmp(buf, want, len) == 0;
	}
	return ok;
}

static int rounds(struct tern_handle *a, struct tern_handle *b, int n)
{
	int ok = 0;

	for (int r = 0; r < n; r++) {
		ok += echo_round(a, b, SMALL, (uint32_t)r * ROUND);
		ok += echo_round(a, b, LARGE, (uint32_t)r * ROUND);
	}
	return ok;
}

static void test_no_malloc(struct tern_handle *c, struct tern_handle *s)
{
	struct tern_handle_stats st;
	unsigned long allocs;

	CHECK_EQ(rounds(c, s, WARM_ROUNDS), 2 * WARM_ROUNDS * ROUND);
	atomic_store(&n_allocs, 0);
	CHECK_EQ(rounds(c, s, COUNT_ROUNDS), 2 * COUNT_ROUNDS * ROUND);
	allocs = atomic_load(&n_allocs);
	fprintf(stderr, "handle_mem: %lu allocations over %d messages each way\n", allocs,
	        2 * COUNT_ROUNDS * ROUND);
#ifndef TERN_NOMEMPOOL
	CHECK(allocs <= ALLOC_SLACK);
#else
	(void)allocs; /* -Dmempool=false: every pooled packet buffer is a malloc */
#endif
	/* the rounds stayed clear of backpressure (its held list allocates) */
	tern_handle_stats(c, &st);
	CHECK_EQ(st.holds, 0);
	tern_handle_stats(s, &st);
	CHECK_EQ(st.holds, 0);
}

/* ---- sizes across every limit ---- */

/* With the default send_buffer (256 KiB) and max_streams (16) the send
 * ring is 256 KiB, 128 bytes of it for fins, and a record over 131,008
 * bytes (header 8 + payload 131,000) is TX_BIG; a receive chunk holds
 * 64 KiB; 16 bytes ride inline. */
static const size_t sizes[] = {
        1,      16,     17,     100,    4096,     65535,    65536,          65537,
        100000, 131000, 131001, 200000, 1u << 18, 1u << 20, (5u << 20) + 3,
};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* Each size, then a 5-byte message, on stream 1; then its fin. */
static void send_sizes(struct tern_handle *h, uint8_t *buf)
{
	for (uint32_t i = 0; i < NSIZES; i++) {
		fill(buf, sizes[i], i);
		CHECK_EQ(send_all(h, 1, buf, sizes[i]), 0);
		fill(buf, 5, 1000 + i);
		CHECK_EQ(send_all(h, 1, buf, 5), 0);
	}
	CHECK_EQ(tern_handle_finish(h, 1), 0);
}

static bool recv_one(struct tern_handle *h, uint8_t *buf, uint8_t *want, size_t len, uint32_t seq)
{
	struct tern_recv_info info;
	int n = tern_handle_recv(h, buf, (6u << 20), &info, 20 * SEC);

	fill(want, len, seq);
	return n == (int)len && info.stream == 1 && !info.fin && memcmp(buf, want, len) == 0;
}

static void test_sizes(struct tern_handle *c, struct tern_handle *s)
{
	uint8_t *buf = malloc(6u << 20), *want = malloc(6u << 20);
	struct tern_recv_info info;
	int ok = 0;

	if (!buf || !want) {
		free(buf);
		free(want);
		return;
	}
	send_sizes(c, buf);
	for (uint32_t i = 0; i < NSIZES; i++) {
		ok += recv_one(s, buf, want, sizes[i], i);
		ok += recv_one(s, buf, want, 5, 1000 + i);
	}
	CHECK_EQ(ok, 2 * (int)NSIZES);
	CHECK_EQ(tern_handle_recv(s, buf, 8, &info, 20 * SEC), 0);
	CHECK(info.fin);
	CHECK_EQ(info.stream, 1);
	free(buf);
	free(want);
}

int main(void)
{
	struct tern_engine *srv = engine(), *cli = engine();
	struct tern_connect_opts o = {.vport = VPORT};
	struct tern_hlistener *l;
	struct tern_handle *c = NULL, *s = NULL;

	if (!srv || !cli) {
		fprintf(stderr, "handle_mem: cannot open io_uring sockets here; skipping\n");
		return 77;
	}
	o.addr = (struct tern_addr){
	        .family = 4, .port = tern_engine_port(srv), .ip = {127, 0, 0, 1}};
	tern_engine_public_key(srv, o.server_pub);
	CHECK_EQ(tern_handle_listen(srv, VPORT, 0, 0, &l), 0);
	CHECK_EQ(tern_engine_start(srv), 0);
	CHECK_EQ(tern_engine_start(cli), 0);
	CHECK_EQ(tern_handle_connect(cli, &o, 5 * SEC, &c, NULL), 0);
	CHECK_EQ(tern_handle_accept(l, 5 * SEC, &s), 0);
	if (c && s) {
		test_no_malloc(c, s);
		test_sizes(c, s);
	}
	tern_handle_release(c);
	tern_handle_release(s);
	tern_hlistener_close(l);
	tern_engine_free(cli);
	tern_engine_free(srv);
	return tern_check_result("handle_mem");
}
