/* Tests for io/sim: the simulated network is what every end-to-end test
 * stands on, so these pin down exact timing (delay, serialisation, queue),
 * replay from a seed, the statistics of each impairment over many packets,
 * routing, the backend adapter and the profile parser. All in virtual time. */
#include "io/sim.h"
#include "check.h"

#include <stdlib.h>

static struct tern_addr addr4(uint8_t last, uint16_t port)
{
	struct tern_addr a = {.family = 4, .port = port};
	a.ip[0] = 10;
	a.ip[3] = last;
	return a;
}

static struct tern_addr addr6(uint16_t n, uint16_t port)
{
	struct tern_addr a = {.family = 6, .port = port};
	a.ip[0] = 0xfd;
	a.ip[14] = (uint8_t)(n >> 8);
	a.ip[15] = (uint8_t)n;
	return a;
}

/* A sim with endpoints 0 (A) and 1 (B) and the given A->B profile. */
static struct tern_sim *two_eps(uint64_t seed, const char *profile)
{
	struct tern_sim *sim = tern_sim_new(seed);
	struct tern_addr a = addr4(1, 1000), b = addr4(2, 2000);
	CHECK_EQ(tern_sim_add_endpoint(sim, &a), 0);
	CHECK_EQ(tern_sim_add_endpoint(sim, &b), 1);
	struct tern_sim_path_cfg cfg;
	char err[160];
	CHECK_EQ(tern_sim_parse_profile(profile, &cfg, err, sizeof(err)), 0);
	CHECK_EQ(tern_sim_set_path(sim, 0, 1, &cfg), 0);
	return sim;
}

static void send_idx(struct tern_sim *sim, uint32_t idx, size_t len)
{
	uint8_t buf[1500] = {0};
	struct tern_addr b = addr4(2, 2000);
	tern_put_be32(buf, idx);
	for (size_t i = 4; i < len; i++)
		buf[i] = (uint8_t)(idx * 7 + i);
	CHECK_EQ(tern_sim_send(sim, 0, &b, buf, len), 0);
}

struct trace {
	tern_time at;
	uint32_t idx;
	uint16_t len;
	uint64_t sum;
};

/* Receives everything due at B; appends to tr; returns the new count. */
static size_t drain(struct tern_sim *sim, struct trace *tr, size_t n, size_t max)
{
	struct tern_pkt pkts[16];
	unsigned got;
	while ((got = tern_sim_recv(sim, 1, pkts, 16)) > 0) {
		for (unsigned i = 0; i < got && n < max; i++, n++) {
			uint64_t sum = 0;
			for (unsigned j = 0; j < pkts[i].len; j++)
				sum = sum * 131 + pkts[i].data[j];
			tr[n] = (struct trace){pkts[i].rx_time, tern_get_be32(pkts[i].data),
			                       pkts[i].len, sum};
		}
	}
	return n;
}

/* Runs to completion: advances from event to event until nothing is in flight. */
static size_t drain_all(struct tern_sim *sim, struct trace *tr, size_t n, size_t max)
{
	n = drain(sim, tr, n, max);
	for (tern_time t; (t = tern_sim_next_event(sim)) != TERN_TIME_NEVER;) {
		tern_sim_advance(sim, t);
		n = drain(sim, tr, n, max);
	}
	return n;
}

#define TRACE_PKTS 3000
static const char *busy_profile = "rate=20mbit,delay=10ms,jitter=3ms,loss=2%,burst=1%/30%/50%,"
                                  "reorder=5%,reorder_delay=4ms,dup=3%,corrupt=2%,queue=30k";

/* Sends TRACE_PKTS packets of varying size, one every 300 µs, receiving as it goes. */
static size_t run_trace(uint64_t seed, struct trace *tr)
{
	struct tern_sim *sim = two_eps(seed, busy_profile);
	size_t n = 0;
	for (uint32_t i = 0; i < TRACE_PKTS; i++) {
		send_idx(sim, i, 100 + (i * 37) % 1300);
		tern_sim_advance(sim, (tern_time)(i + 1) * 300);
		n = drain(sim, tr, n, 2 * TRACE_PKTS);
	}
	n = drain_all(sim, tr, n, 2 * TRACE_PKTS);
	tern_sim_free(sim);
	return n;
}

static bool traces_equal(const struct trace *a, const struct trace *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].at != b[i].at || a[i].idx != b[i].idx || a[i].len != b[i].len ||
		    a[i].sum != b[i].sum)
			return false;
	return true;
}

static void test_replay(void)
{
	static struct trace a[2 * TRACE_PKTS], b[2 * TRACE_PKTS], c[2 * TRACE_PKTS];
	size_t na = run_trace(42, a), nb = run_trace(42, b), nc = run_trace(43, c);
	CHECK(na > TRACE_PKTS / 2);
	CHECK_EQ(na, nb);
	CHECK(traces_equal(a, b, na));
	CHECK(na != nc || !traces_equal(a, c, na));
}

static void test_delay_exact(void)
{
	struct tern_sim *sim = two_eps(1, "delay=25ms");
	struct tern_pkt pkts[4];
	send_idx(sim, 7, 100);
	tern_sim_advance(sim, 10);
	send_idx(sim, 8, 100);
	CHECK_EQ(tern_sim_next_event(sim), 25000);
	tern_sim_advance(sim, 24999);
	CHECK_EQ(tern_sim_recv(sim, 1, pkts, 4), 0);
	tern_sim_advance(sim, 25000);
	CHECK_EQ(tern_sim_recv(sim, 0, pkts, 4), 0); /* nothing for A */
	CHECK_EQ(tern_sim_recv(sim, 1, pkts, 4), 1);
	CHECK_EQ(pkts[0].rx_time, 25000);
	CHECK_EQ(pkts[0].len, 100);
	CHECK_EQ(tern_get_be32(pkts[0].data), 7);
	struct tern_addr a = addr4(1, 1000);
	CHECK(memcmp(&pkts[0].peer, &a, sizeof(a)) == 0);
	CHECK_EQ(tern_sim_next_event(sim), 25010);
	tern_sim_advance(sim, 5); /* never backward */
	CHECK_EQ(tern_sim_now(sim), 25000);
	tern_sim_advance(sim, 30000);
	CHECK_EQ(tern_sim_recv(sim, 1, pkts, 4), 1);
	CHECK_EQ(pkts[0].rx_time, 25010); /* arrival time, not the time it was taken */
	CHECK_EQ(tern_sim_next_event(sim), TERN_TIME_NEVER);
	const struct tern_sim_path_stats *st = tern_sim_path_stats(sim, 0, 1);
	CHECK_EQ(st->sent, 2);
	CHECK_EQ(st->delivered, 2);
	CHECK_EQ(st->bytes_delivered, 200);
	tern_sim_free(sim);
}

static void test_same_time_keeps_send_order(void)
{
	struct tern_sim *sim = two_eps(1, "delay=1ms");
	static struct trace tr[64];
	for (uint32_t i = 0; i < 40; i++)
		send_idx(sim, i, 60);
	tern_sim_advance(sim, 1000);
	struct tern_pkt pkts[8];
	CHECK_EQ(tern_sim_recv(sim, 1, pkts, 8), 8); /* burst limit respected */
	CHECK_EQ(tern_get_be32(pkts[7].data), 7);
	CHECK_EQ(tern_sim_next_event(sim), 1000); /* due but not taken still counts */
	size_t n = drain(sim, tr, 0, 64);
	CHECK_EQ(n, 32);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(tr[i].idx, i + 8);
	tern_sim_free(sim);
}

static void test_rate_serialisation(void)
{
	struct tern_sim *sim = two_eps(1, "rate=12mbit,delay=5ms,queue=1m");
	static struct trace tr[8];
	for (uint32_t i = 0; i < 3; i++)
		send_idx(sim, i, 1500);
	CHECK_EQ(tern_sim_next_event(sim), 6000);
	size_t n = drain_all(sim, tr, 0, 8);
	CHECK_EQ(n, 3);
	CHECK_EQ(tr[0].at, 6000);
	CHECK_EQ(tr[1].at, 7000);
	CHECK_EQ(tr[2].at, 8000);
	/* an idle link starts fresh: 750 bytes sent at 20 ms take 500 µs */
	tern_sim_advance(sim, 20000);
	send_idx(sim, 9, 750);
	CHECK_EQ(tern_sim_next_event(sim), 25500);
	tern_sim_free(sim);

	sim = two_eps(1, "rate=10gbit,queue=2m");
	for (uint32_t i = 0; i < 1000; i++)
		send_idx(sim, i, 1250); /* 1 µs each at 10 Gbit/s */
	static struct trace big[1000];
	CHECK_EQ(drain_all(sim, big, 0, 1000), 1000);
	CHECK_EQ(big[999].at, 1000);
	tern_sim_free(sim);
}

static void test_tail_drop(void)
{
	struct tern_sim *sim = two_eps(1, "rate=12mbit,queue=3000");
	for (uint32_t i = 0; i < 5; i++)
		send_idx(sim, i, 1500);
	const struct tern_sim_path_stats *st = tern_sim_path_stats(sim, 0, 1);
	CHECK_EQ(st->dropped_queue, 3);
	CHECK_EQ(st->queue_peak, 3000);
	tern_sim_advance(sim, 1000); /* first packet done: 1500 bytes queued */
	send_idx(sim, 5, 1500);
	send_idx(sim, 6, 1);
	CHECK_EQ(st->dropped_queue, 4);
	static struct trace tr[8];
	CHECK_EQ(drain_all(sim, tr, 0, 8), 3);
	CHECK_EQ(tr[2].idx, 5);
	CHECK_EQ(tr[2].at, 3000);
	tern_sim_free(sim);

	/* a random overload never queues more than the limit */
	sim = two_eps(3, "rate=1mbit,queue=10000");
	st = tern_sim_path_stats(sim, 0, 1);
	uint64_t rnd = 12345;
	for (uint32_t i = 0; i < 20000; i++) {
		rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
		send_idx(sim, i, 40 + (size_t)(rnd >> 33) % 1400);
		tern_sim_advance(sim, tern_sim_now(sim) + (rnd >> 60) * 100);
		drain(sim, NULL, 0, 0);
	}
	CHECK(st->dropped_queue > 1000);
	CHECK(st->queue_peak <= 10000);
	CHECK(st->queue_peak > 9000);
	tern_sim_free(sim);
}

static void test_default_queue(void)
{
	/* 0 = max(1 BDP, 64 KiB): 80 mbit * 2 * 10 ms = 200000 bytes */
	struct tern_sim *sim = two_eps(1, "rate=80mbit,delay=10ms");
	for (uint32_t i = 0; i < 200; i++)
		send_idx(sim, i, 1000);
	CHECK_EQ(tern_sim_path_stats(sim, 0, 1)->dropped_queue, 0);
	send_idx(sim, 200, 1000);
	CHECK_EQ(tern_sim_path_stats(sim, 0, 1)->dropped_queue, 1);
	tern_sim_free(sim);
}

static void test_loss_rate(void)
{
	struct tern_sim *sim = two_eps(9, "loss=1%");
	for (uint32_t i = 0; i < 100000; i++)
		send_idx(sim, i, 20);
	const struct tern_sim_path_stats *st = tern_sim_path_stats(sim, 0, 1);
	CHECK(st->dropped_loss >= 800 && st->dropped_loss <= 1200);
	struct tern_pkt pkts[64];
	while (tern_sim_recv(sim, 1, pkts, 64) > 0) {
	}
	CHECK_EQ(st->sent, 100000);
	CHECK_EQ(st->delivered + st->dropped_loss, 100000);
	tern_sim_free(sim);
}

static void test_gilbert_elliott(void)
{
	enum { N = 200000 };
	struct tern_sim *sim = two_eps(5, "burst=1%/30%/100%");
	static struct trace tr[N];
	for (uint32_t i = 0; i < N; i++)
		send_idx(sim, i, 8);
	size_t n = drain(sim, tr, 0, N);
	const struct tern_sim_path_stats *st = tern_sim_path_stats(sim, 0, 1);
	CHECK_EQ(n + st->dropped_burst, N);
	/* stationary loss = p_gb / (p_gb + p_bg) = 3.2% */
	CHECK(st->dropped_burst > N * 27 / 1000 && st->dropped_burst < N * 38 / 1000);
	uint64_t bursts = 0, prev = 0;
	for (size_t i = 0; i < n; i++) {
		bursts += tr[i].idx != prev;
		prev = tr[i].idx + 1;
	}
	double mean = (double)st->dropped_burst / (double)bursts; /* 1 / p_bg = 3.33 */
	CHECK(mean > 3.0 && mean < 3.7);
	tern_sim_free(sim);
}

static void test_duplicate(void)
{
	enum { N = 10000 };
	struct tern_sim *sim = two_eps(5, "dup=10%,jitter=1ms");
	static struct trace tr[2 * N];
	static uint8_t seen[N];
	for (uint32_t i = 0; i < N; i++)
		send_idx(sim, i, 16);
	size_t n = drain_all(sim, tr, 0, 2 * N);
	const struct tern_sim_path_stats *st = tern_sim_path_stats(sim, 0, 1);
	CHECK(st->duplicated >= 850 && st->duplicated <= 1150);
	CHECK_EQ(n, N + st->duplicated);
	CHECK_EQ(st->delivered, n);
	int twice = 0, bad = 0;
	for (size_t i = 0; i < n; i++)
		seen[tr[i].idx]++;
	for (size_t i = 0; i < N; i++) {
		twice += seen[i] == 2;
		bad += seen[i] < 1 || seen[i] > 2;
	}
	CHECK_EQ(twice, st->duplicated);
	CHECK_EQ(bad, 0);
	tern_sim_free(sim);
}

static void test_corrupt(void)
{
	struct tern_sim *sim = two_eps(5, "corrupt=100%");
	uint8_t orig[300];
	struct tern_addr b = addr4(2, 2000);
	int ok = 0;
	for (int round = 0; round < 200; round++) {
		for (size_t i = 0; i < sizeof(orig); i++)
			orig[i] = (uint8_t)(round * 31 + i * 17);
		CHECK_EQ(tern_sim_send(sim, 0, &b, orig, sizeof(orig)), 0);
		struct tern_pkt pkt;
		CHECK_EQ(tern_sim_recv(sim, 1, &pkt, 1), 1);
		int bits = 0;
		for (size_t i = 0; i < sizeof(orig); i++)
			bits += __builtin_popcount(orig[i] ^ pkt.data[i]);
		ok += bits == 1 && pkt.len == sizeof(orig);
	}
	CHECK_EQ(ok, 200);
	CHECK_EQ(tern_sim_path_stats(sim, 0, 1)->corrupted, 200);
	tern_sim_free(sim);
}

static void test_reorder(void)
{
	enum { N = 2000 };
	static struct trace tr[N];
	const char *profiles[] = {"delay=10ms", "delay=10ms,reorder=10%,reorder_delay=1ms"};
	for (int p = 0; p < 2; p++) {
		struct tern_sim *sim = two_eps(11, profiles[p]);
		for (uint32_t i = 0; i < N; i++) {
			send_idx(sim, i, 50);
			tern_sim_advance(sim, (tern_time)(i + 1) * 100);
		}
		size_t n = drain_all(sim, tr, 0, N);
		CHECK_EQ(n, N);
		int inversions = 0;
		for (size_t i = 1; i < n; i++)
			inversions += tr[i].idx < tr[i - 1].idx;
		uint64_t reordered = tern_sim_path_stats(sim, 0, 1)->reordered;
		if (p == 0) {
			CHECK_EQ(inversions, 0);
			CHECK_EQ(reordered, 0);
		} else {
			CHECK(reordered >= 150 && reordered <= 250);
			CHECK(inversions >= 100);
		}
		tern_sim_free(sim);
	}
}

static void test_jitter_bounds(void)
{
	struct tern_sim *sim = two_eps(8, "delay=5ms,jitter=2ms");
	static struct trace tr[5000];
	for (uint32_t i = 0; i < 5000; i++)
		send_idx(sim, i, 10);
	size_t n = drain_all(sim, tr, 0, 5000);
	tern_time lo = TERN_TIME_NEVER, hi = 0;
	for (size_t i = 0; i < n; i++) {
		lo = TERN_MIN(lo, tr[i].at);
		hi = TERN_MAX(hi, tr[i].at);
	}
	CHECK_EQ(n, 5000);
	CHECK(lo >= 5000 && lo < 5010);
	CHECK(hi <= 7000 && hi > 6990);
	tern_sim_free(sim);
}

/* Host stalls: with stall=100%/1ms every packet that arrives outside a
 * stall is taken and starts one; packets sent 100 us apart arrive in order:
 * one on time, the next nine at its stall's end, the tenth (arriving as the
 * stall ends) on time again and starting the next. */
static void test_stall(void)
{
	struct tern_sim *sim = two_eps(9, "delay=5ms,stall=100%/1ms");
	static struct trace tr[50];
	size_t n = 0;

	for (uint32_t i = 0; i < 50; i++) {
		send_idx(sim, i, 10);
		tern_sim_advance(sim, tern_sim_now(sim) + 100);
		n = drain(sim, tr, n, 50);
	}
	n = drain_all(sim, tr, n, 50);
	CHECK_EQ(n, 50);
	for (size_t i = 0; i < n; i++) {
		CHECK_EQ(tr[i].idx, (uint32_t)i);
		tern_time want = 5000 + (tern_time)i * 100;
		if (i % 10)
			want = 5000 + (tern_time)(i / 10) * 1000 + 1000;
		CHECK_EQ(tr[i].at, want);
	}
	CHECK_EQ(tern_sim_path_stats(sim, 0, 1)->stalls, 5);
	tern_sim_free(sim);
}

static void test_mtu(void)
{
	struct tern_sim *sim = two_eps(1, "mtu=1000");
	send_idx(sim, 0, 1000);
	send_idx(sim, 1, 1001);
	const struct tern_sim_path_stats *st = tern_sim_path_stats(sim, 0, 1);
	CHECK_EQ(st->dropped_mtu, 1);
	static struct trace tr[4];
	CHECK_EQ(drain(sim, tr, 0, 4), 1);
	CHECK_EQ(tr[0].len, 1000);
	/* default MTU is TERN_MAX_PACKET */
	static uint8_t big[1501];
	struct tern_addr a = addr4(1, 1000);
	CHECK_EQ(tern_sim_send(sim, 1, &a, big, 1500), 0);
	CHECK_EQ(tern_sim_send(sim, 1, &a, big, 1501), 0);
	CHECK_EQ(tern_sim_path_stats(sim, 1, 0)->dropped_mtu, 1);
	CHECK_EQ(tern_sim_path_stats(sim, 1, 0)->sent, 2);
	tern_sim_free(sim);
}

static void test_blackhole(void)
{
	struct tern_sim *sim = two_eps(1, "delay=50ms,blackhole=2s-4s,blackhole=5s-5100ms");
	static struct trace tr[64];
	for (uint32_t i = 0; i < 60; i++) {
		tern_sim_advance(sim, (tern_time)i * 100000);
		send_idx(sim, i, 40);
	}
	size_t n = drain_all(sim, tr, 0, 64);
	CHECK_EQ(tern_sim_path_stats(sim, 0, 1)->dropped_blackhole, 21);
	CHECK_EQ(n, 39);
	int wrong = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t k = tr[i].idx;
		wrong += (k >= 20 && k < 40) || k == 50;
		wrong += tr[i].at != (tern_time)k * 100000 + 50000;
	}
	CHECK_EQ(wrong, 0);
	tern_sim_free(sim);
}

static void test_many_endpoints(void)
{
	enum { N = 300 };
	struct tern_sim *sim = tern_sim_new(1);
	struct tern_addr addrs[N];
	for (int i = 0; i < N; i++) {
		addrs[i] =
		        i % 2 ? addr6((uint16_t)i, 443) : addr4((uint8_t)i, (uint16_t)(5000 + i));
		CHECK_EQ(tern_sim_add_endpoint(sim, &addrs[i]), i);
	}
	CHECK_EQ(tern_sim_add_endpoint(sim, &addrs[17]), TERN_EINVAL);
	struct tern_addr unset = {0};
	CHECK_EQ(tern_sim_add_endpoint(sim, &unset), TERN_EINVAL);
	struct tern_sim_path_cfg cfg = {.delay_us = 100};
	CHECK_EQ(tern_sim_set_path(sim, 5, 6, &cfg), 0);
	for (int i = 0; i < N; i++) {
		uint8_t msg[4];
		tern_put_be32(msg, (uint32_t)i);
		struct tern_addr to = addrs[(i + 1) % N];
		if (to.family == 4)
			to.ip[9] = 0xee; /* bytes past an IPv4 address are ignored */
		CHECK_EQ(tern_sim_send(sim, i, &to, msg, 4), 0);
	}
	struct tern_addr nobody = addr4(250, 1);
	CHECK_EQ(tern_sim_send(sim, 0, &nobody, (const uint8_t *)"x", 1), TERN_EINVAL);
	tern_sim_advance(sim, 100);
	int right = 0;
	for (int i = 0; i < N; i++) {
		struct tern_pkt pkts[4];
		int from = (i + N - 1) % N;
		unsigned got = tern_sim_recv(sim, i, pkts, 4);
		right += got == 1 && tern_get_be32(pkts[0].data) == (uint32_t)from &&
		         memcmp(&pkts[0].peer, &addrs[from], sizeof(addrs[0])) == 0;
	}
	CHECK_EQ(right, N);
	CHECK_EQ(tern_sim_path_stats(sim, 5, 6)->delivered, 1);
	CHECK_EQ(tern_sim_path_stats(sim, 7, 9)->sent, 0); /* never used: zero stats */
	CHECK(tern_sim_path_stats(sim, 0, N) == NULL);
	tern_sim_free(sim);
}

static void test_set_path_rejects(void)
{
	struct tern_sim *sim = two_eps(1, "");
	struct tern_sim_path_cfg cfg = {.loss = 1.5};
	CHECK_EQ(tern_sim_set_path(sim, 0, 1, &cfg), TERN_EINVAL);
	cfg = (struct tern_sim_path_cfg){.blackhole = {{5, 2}}};
	CHECK_EQ(tern_sim_set_path(sim, 0, 1, &cfg), TERN_EINVAL);
	cfg = (struct tern_sim_path_cfg){0};
	CHECK_EQ(tern_sim_set_path(sim, 0, 2, &cfg), TERN_EINVAL);
	CHECK_EQ(tern_sim_set_path(sim, -1, 1, &cfg), TERN_EINVAL);
	struct tern_addr b = addr4(2, 2000);
	CHECK_EQ(tern_sim_send(sim, 3, &b, (const uint8_t *)"x", 1), TERN_EINVAL);
	tern_sim_free(sim);
}

/* The backend adapter, and no allocation per packet once warm. */
static void test_backend_ops(void)
{
	struct tern_sim *sim = two_eps(1, "delay=1ms");
	struct tern_sim_port pa = {sim, 0}, pb = {sim, 1};
	const struct tern_backend_ops *ops = &tern_sim_backend_ops;
	size_t warm = 0;
	for (int round = 0; round < 50; round++) {
		struct tern_pkt tx[8];
		for (int i = 0; i < 8; i++) {
			CHECK_EQ(ops->buf_alloc(&pa, &tx[i]), 0);
			memset(tx[i].data, round + i, 100);
			tx[i].len = 100;
			tx[i].peer = addr4(2, 2000);
		}
		CHECK_EQ(ops->tx_burst(&pa, tx, 8), 8);
		tern_sim_advance(sim, ops->now(&pb) + 1000);
		struct tern_pkt rx[16];
		CHECK_EQ(ops->rx_burst(&pb, rx, 16), 8);
		CHECK_EQ(rx[3].data[99], (uint8_t)(round + 3));
		CHECK_EQ(rx[3].rx_time, (tern_time)round * 1000 + 1000);
		ops->buf_free(&pb, &rx[3]); /* harmless for received packets */
		if (round == 1)
			warm = tern_sim_mem(sim);
	}
	CHECK(warm > 0);
	CHECK_EQ(tern_sim_mem(sim), warm);
	CHECK_EQ(ops->now(&pa), 50000);
	struct tern_pkt spare;
	CHECK_EQ(ops->buf_alloc(&pa, &spare), 0);
	ops->buf_free(&pa, &spare);
	tern_sim_free(sim);
}

static void test_parse_good(void)
{
	static const struct {
		const char *spec;
		struct tern_sim_path_cfg want;
	} cases[] = {
	        {"", {0}},
	        {"rate=1gbit", {.rate_bps = 1000000000}},
	        {"rate=10mbit", {.rate_bps = 10000000}},
	        {"rate=500kbit", {.rate_bps = 500000}},
	        {"rate=2.5Mbit", {.rate_bps = 2500000}},
	        {"rate=64000", {.rate_bps = 64000}},
	        {"delay=25ms,jitter=500us", {.delay_us = 25000, .jitter_us = 500}},
	        {"stall=0.5%/2ms", {.stall = 0.005, .stall_us = 2000}},
	        {"delay=1.5s", {.delay_us = 1500000}},
	        {"loss=1%", {.loss = 0.01}},
	        {"loss=0.01", {.loss = 0.01}},
	        {"loss=100%", {.loss = 1.0}},
	        {"burst=1%/30%/50%",
	         {.ge_p_good_bad = 0.01, .ge_p_bad_good = 0.3, .ge_loss_bad = 0.5}},
	        {"burst=0.01/0.3/1/0.001",
	         {.ge_p_good_bad = 0.01,
	          .ge_p_bad_good = 0.3,
	          .ge_loss_bad = 1,
	          .ge_loss_good = 0.001}},
	        {"reorder=5%,reorder_delay=2ms", {.reorder = 0.05, .reorder_us = 2000}},
	        {"dup=0.5%,corrupt=2%", {.duplicate = 0.005, .corrupt = 0.02}},
	        {"queue=64k", {.queue_bytes = 65536}},
	        {"queue=1m", {.queue_bytes = 1048576}},
	        {"queue=3000", {.queue_bytes = 3000}},
	        {"rate=10mbit,delay=25ms,queue=1bdp",
	         {.rate_bps = 10000000, .delay_us = 25000, .queue_bytes = 62500}},
	        {"queue=0.5bdp,delay=10ms,rate=8mbit",
	         {.rate_bps = 8000000, .delay_us = 10000, .queue_bytes = 10000}},
	        {"mtu=1280", {.mtu = 1280}},
	        {" rate=1mbit , delay=1ms ", {.rate_bps = 1000000, .delay_us = 1000}},
	        {"blackhole=2s-4s,blackhole=100ms-150ms",
	         {.blackhole = {{2000000, 4000000}, {100000, 150000}}}},
	};
	for (size_t i = 0; i < TERN_ARRAY_LEN(cases); i++) {
		struct tern_sim_path_cfg got;
		char err[160];
		memset(&got, 0xab, sizeof(got));
		int rc = tern_sim_parse_profile(cases[i].spec, &got, err, sizeof(err));
		CHECK_EQ(rc, 0);
		if (rc)
			fprintf(stderr, "  spec \"%s\": %s\n", cases[i].spec, err);
		else if (memcmp(&got, &cases[i].want, sizeof(got)) != 0)
			fprintf(stderr, "  spec \"%s\": wrong cfg\n", cases[i].spec);
		CHECK(rc || memcmp(&got, &cases[i].want, sizeof(got)) == 0);
	}
}

static void test_parse_bad(void)
{
	static const struct {
		const char *spec, *err_prefix;
	} cases[] = {
	        {"loss=2", "loss: expected a percentage like 1% or a fraction like 0.01"},
	        {"loss=101%", "loss: "},
	        {"loss=-1%", "loss: "},
	        {"loss=abc", "loss: "},
	        {"loss=", "loss: "},
	        {"rate=10mbps", "rate: expected a rate"},
	        {"rate=fast", "rate: "},
	        {"delay=25", "delay: expected a duration"},
	        {"delay=25min", "delay: "},
	        {"jitter=nan", "jitter: "},
	        {"burst=1%/30%", "burst: expected P_GOOD_BAD"},
	        {"burst=1%/30%/50%/1%/1%", "burst: "},
	        {"burst=1%//50%", "burst: "},
	        {"queue=12q", "queue: expected bytes"},
	        {"queue=1bdp", "queue: a BDP multiple needs rate= and delay="},
	        {"mtu=0", "mtu: "},
	        {"mtu=1500.5", "mtu: "},
	        {"mtu=70000", "mtu: "},
	        {"blackhole=4s-2s", "blackhole: expected a window"},
	        {"blackhole=2s", "blackhole: "},
	        {"blackhole=1s-2s,blackhole=3s-4s,blackhole=5s-6s,blackhole=7s-8s,blackhole=9s-10s",
	         "blackhole: "},
	        {"speed=10", "speed: unknown key"},
	        {"rate", "rate: expected key=value"},
	        {"rate=1mbit,,delay=1ms", "profile: empty item"},
	        {"rate=1mbit,", "profile: trailing comma"},
	};
	for (size_t i = 0; i < TERN_ARRAY_LEN(cases); i++) {
		struct tern_sim_path_cfg cfg = {.rate_bps = 77};
		char err[160] = "";
		CHECK_EQ(tern_sim_parse_profile(cases[i].spec, &cfg, err, sizeof(err)),
		         TERN_EINVAL);
		size_t plen = strlen(cases[i].err_prefix);
		if (strncmp(err, cases[i].err_prefix, plen) != 0)
			fprintf(stderr, "  spec \"%s\": got \"%s\"\n", cases[i].spec, err);
		CHECK(strncmp(err, cases[i].err_prefix, plen) == 0);
		CHECK_EQ(cfg.rate_bps, 77); /* untouched on error */
	}
	struct tern_sim_path_cfg cfg;
	CHECK_EQ(tern_sim_parse_profile("loss=5", &cfg, NULL, 0), TERN_EINVAL);
	char tiny[6];
	CHECK_EQ(tern_sim_parse_profile("loss=5", &cfg, tiny, sizeof(tiny)), TERN_EINVAL);
	CHECK(strcmp(tiny, "loss:") == 0);
}

int main(void)
{
	test_replay();
	test_delay_exact();
	test_same_time_keeps_send_order();
	test_rate_serialisation();
	test_tail_drop();
	test_default_queue();
	test_loss_rate();
	test_gilbert_elliott();
	test_duplicate();
	test_corrupt();
	test_reorder();
	test_jitter_bounds();
	test_stall();
	test_mtu();
	test_blackhole();
	test_many_endpoints();
	test_set_path_rejects();
	test_backend_ops();
	test_parse_good();
	test_parse_bad();
	return tern_check_result("sim");
}
