/* io/uring: loopback tests over real kernel sockets (127.0.0.1 and ::1).
 * Two instances exchange patterned packets in bursts; every packet carries
 * its sequence number and length, so each arrival is checked byte for byte
 * and duplicates or losses are counted exactly. The sender keeps a bounded
 * window in flight so loopback never overflows a socket buffer. Loops are
 * bounded by a wall-clock deadline so a bug fails instead of hanging; no
 * assertion depends on timing. Throughput is printed, never asserted. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <liburing.h>
#include "io/uring.h"
#include "check.h"

#define BURST 64
#define WINDOW 1024 /* packets in flight sender -> receiver */
#define DEADLINE_US (60 * TERN_SEC)

static tern_time mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (tern_time)ts.tv_sec * TERN_SEC + (tern_time)ts.tv_nsec / 1000;
}

static struct tern_addr addr4(uint16_t port)
{
	struct tern_addr a = {.family = 4, .port = port, .ip = {127, 0, 0, 1}};
	return a;
}

static struct tern_addr addr6(uint16_t port)
{
	struct tern_addr a = {.family = 6, .port = port};
	a.ip[15] = 1;
	return a;
}

static struct tern_uring *open_at(struct tern_addr a, bool gso, bool gro, uint16_t *port)
{
	struct tern_uring_cfg cfg;
	struct tern_uring *u = NULL;
	char err[256];
	int r;

	tern_uring_cfg_default(&cfg);
	cfg.addr = a;
	cfg.gso = gso;
	cfg.gro = gro;
	cfg.rcvbuf = 8 << 20;
	cfg.sndbuf = 4 << 20;
	r = tern_uring_open(&cfg, &u, port, err, sizeof(err));
	CHECK_EQ(r, 0);
	if (r)
		fprintf(stderr, "open: %s\n", err);
	else if (err[0])
		fprintf(stderr, "open notes: %s\n", err);
	return u;
}

/* Packet i: be32 seq, be16 len, then a pattern of (seq, offset). */
static void fill(uint8_t *p, uint32_t seq, uint16_t len)
{
	tern_put_be32(p, seq);
	tern_put_be16(p + 4, len);
	for (unsigned i = 6; i < len; i++)
		p[i] = (uint8_t)(seq * 131u + i * 7u);
}

static bool intact(const uint8_t *p, uint16_t len, uint32_t *seq)
{
	if (len < 6 || tern_get_be16(p + 4) != len)
		return false;
	*seq = tern_get_be32(p);
	for (unsigned i = 6; i < len; i++)
		if (p[i] != (uint8_t)(*seq * 131u + i * 7u))
			return false;
	return true;
}

/* Sizes in runs of equal length (some ending with a shorter packet), so GSO
 * has trains to build; fixed > 0 forces every packet to that size. */
struct sizer {
	uint64_t rng;
	unsigned run_left, size, fixed;
};

static uint16_t next_size(struct sizer *z)
{
	if (z->fixed)
		return (uint16_t)z->fixed;
	z->rng = z->rng * 6364136223846793005ull + 1442695040888963407ull;
	if (!z->run_left) {
		z->run_left = 1 + (unsigned)(z->rng >> 33) % 24;
		z->size = 6 + (unsigned)(z->rng >> 17) % 1467;
	}
	if (--z->run_left == 0 && (z->rng >> 60) < 5)
		return (uint16_t)(6 + (z->size - 6) / 2); /* a shorter tail */
	return (uint16_t)z->size;
}

struct xfer {
	uint32_t count, sent, received, corrupt, dups, wrong_peer;
	uint32_t written_off; /* in flight when a stall was declared: lost */
	uint8_t *seen;
	struct tern_addr from; /* expected source as the receiver sees it */
};

static void receive(struct tern_uring *b, struct xfer *x)
{
	struct tern_pkt pkts[BURST];
	int n = tern_uring_backend_ops.rx_burst(b, pkts, BURST);

	CHECK(n >= 0);
	for (int i = 0; i < n; i++) {
		uint32_t seq;
		if (!intact(pkts[i].data, pkts[i].len, &seq) || seq >= x->count)
			x->corrupt++;
		else if (x->seen[seq]++)
			x->dups++;
		else
			x->received++;
		if (pkts[i].peer.family != x->from.family || pkts[i].peer.port != x->from.port ||
		    memcmp(pkts[i].peer.ip, x->from.ip, 16))
			x->wrong_peer++;
		tern_uring_backend_ops.buf_free(b, &pkts[i]);
	}
}

static void send_burst(struct tern_uring *a, struct tern_addr to, struct xfer *x, struct sizer *z)
{
	struct tern_pkt pkts[BURST];
	unsigned n = 0;
	int took;

	while (n < BURST && x->sent + n < x->count &&
	       x->sent + n < x->received + x->written_off + WINDOW) {
		if (tern_uring_backend_ops.buf_alloc(a, &pkts[n]) < 0)
			break;
		pkts[n].len = next_size(z);
		pkts[n].peer = to;
		fill(pkts[n].data, x->sent + n, pkts[n].len);
		n++;
	}
	if (!n)
		return;
	took = tern_uring_backend_ops.tx_burst(a, pkts, n);
	CHECK(took >= 0);
	for (unsigned i = took < 0 ? 0 : (unsigned)took; i < n; i++)
		tern_uring_backend_ops.buf_free(a, &pkts[i]); /* refused: not sent, seq reused */
	x->sent += took < 0 ? 0 : (unsigned)took;
}

/* Sends count packets a -> b (b at `to`); returns packets lost. A stall
 * (nothing arrives for 0.3 s) writes the window off as lost, so real drops
 * are counted rather than hung on. */
static uint32_t transfer(struct tern_uring *a, struct tern_uring *b, struct tern_addr to,
                         struct tern_addr from, uint32_t count, unsigned fixed, double *pps)
{
	struct xfer x = {.count = count, .from = from};
	struct sizer z = {.rng = count * 77ull + fixed, .fixed = fixed};
	tern_time t0 = mono_us(), deadline = t0 + DEADLINE_US;
	uint32_t idle = 0;

	x.seen = calloc(count, 1);
	while (x.received + x.written_off < count && mono_us() < deadline) {
		uint32_t before = x.received;
		send_burst(a, to, &x, &z);
		receive(b, &x);
		if (x.received != before) {
			idle = 0;
			continue;
		}
		if (tern_uring_wait(b, 10 * TERN_MS) == 0 && ++idle >= 30) {
			x.written_off = x.sent - x.received; /* what is in flight is gone */
			idle = 0;
		}
	}
	*pps = (double)x.received * 1e6 / (double)(mono_us() - t0 + 1);
	CHECK(mono_us() < deadline);
	CHECK_EQ(x.corrupt, 0);
	CHECK_EQ(x.dups, 0);
	CHECK_EQ(x.wrong_peer, 0);
	free(x.seen);
	return count - x.received;
}

/* Waits for a's send completions to be reaped (stats settle). */
static void settle_tx(struct tern_uring *a, uint64_t want)
{
	tern_time deadline = mono_us() + 5 * TERN_SEC;

	while (tern_uring_stats(a)->tx_packets + tern_uring_stats(a)->tx_err_other < want &&
	       mono_us() < deadline) {
		tern_uring_wait(a, TERN_MS);
		tern_uring_backend_ops.tx_burst(a, NULL, 0);
	}
}

static void test_exchange(bool v6, bool gso, bool gro, uint32_t count)
{
	uint16_t pa = 0, pb = 0;
	struct tern_addr any = v6 ? addr6(0) : addr4(0);
	struct tern_uring *a = open_at(any, gso, gro, &pa), *b = open_at(any, gso, gro, &pb);
	const struct tern_uring_stats *sa, *sb;
	uint32_t lost;
	double pps;

	if (!a || !b)
		goto out;
	CHECK(pa != 0 && pb != 0 && pa != pb);
	CHECK_EQ(tern_uring_gso(a), gso);
	CHECK_EQ(tern_uring_gro(b), gro);
	lost = transfer(a, b, v6 ? addr6(pb) : addr4(pb), v6 ? addr6(pa) : addr4(pa), count, 0,
	                &pps);
	CHECK(lost * 1000ull <= count); /* <= 0.1% */
	CHECK_EQ(lost, 0);              /* windowed loopback should not drop at all */
	settle_tx(a, count);
	sa = tern_uring_stats(a);
	sb = tern_uring_stats(b);
	CHECK_EQ(sa->tx_packets, count);
	CHECK_EQ(sb->rx_packets, count - lost);
	CHECK_EQ(sa->tx_err_other + sa->tx_err_gso + sa->tx_err_nobufs + sa->tx_err_again, 0);
	CHECK_EQ(sb->rx_truncated + sb->rx_malformed + sb->rx_errors, 0);
	CHECK(gso ? sa->tx_gso_trains > 0 : sa->tx_gso_trains == 0);
	CHECK(sa->tx_sendmsgs < (gso ? count / 2 : count + 1)); /* trains cut sendmsgs */
	CHECK(gso && gro ? sb->rx_gro_merges > 0 : sb->rx_gro_merges == 0);
	CHECK(sa->tx_submits <= sa->tx_sendmsgs);
	fprintf(stderr,
	        "  %s gso=%d gro=%d: %u packets, %" PRIu64 " sendmsgs, %" PRIu64 " trains, %" PRIu64
	        " gro merges, %" PRIu64 " submits\n",
	        v6 ? "IPv6" : "IPv4", gso, gro, count, sa->tx_sendmsgs, sa->tx_gso_trains,
	        sb->rx_gro_merges, sa->tx_submits);
out:
	tern_uring_close(a);
	tern_uring_close(b);
}

/* Dual-stack: a socket bound to :: talks to an IPv4 peer, which it sees
 * (and answers) as a family-4 address. */
static void test_dual_stack(void)
{
	uint16_t p4 = 0, p6 = 0;
	struct tern_uring *a = open_at(addr4(0), true, true, &p4);
	struct tern_uring *b = open_at((struct tern_addr){.family = 6}, true, true, &p6);
	uint32_t lost;
	double pps;

	if (a && b) {
		lost = transfer(a, b, addr4(p6), addr4(p4), 2000, 0, &pps);
		CHECK_EQ(lost, 0);
		lost = transfer(b, a, addr4(p4), addr4(p6), 2000, 0, &pps);
		CHECK_EQ(lost, 0);
	}
	tern_uring_close(a);
	tern_uring_close(b);
}

/* A destination of the wrong family is taken, dropped and counted. */
static void test_bad_destination(void)
{
	uint16_t pa = 0;
	struct tern_uring *a = open_at(addr4(0), true, false, &pa);
	struct tern_pkt p;

	if (!a)
		return;
	CHECK_EQ(tern_uring_backend_ops.buf_alloc(a, &p), 0);
	p.len = 100;
	p.peer = addr6(9);
	CHECK_EQ(tern_uring_backend_ops.tx_burst(a, &p, 1), 1);
	CHECK_EQ(tern_uring_stats(a)->tx_bad_addr, 1);
	CHECK_EQ(tern_uring_stats(a)->tx_sendmsgs, 0);
	tern_uring_close(a);
}

static void test_bad_bind(void)
{
	struct tern_uring_cfg cfg;
	struct tern_uring *u = (struct tern_uring *)&cfg;
	char err[256];

	tern_uring_cfg_default(&cfg);
	cfg.addr.ip[0] = 192, cfg.addr.ip[1] = 0, cfg.addr.ip[2] = 2, cfg.addr.ip[3] = 1;
	CHECK_EQ(tern_uring_open(&cfg, &u, NULL, err, sizeof(err)), TERN_EINVAL);
	CHECK(u == NULL);
	CHECK(strstr(err, "bind 192.0.2.1 port 0") != NULL);
	CHECK(strstr(err, strerror(EADDRNOTAVAIL)) != NULL);
	fprintf(stderr, "  bad bind: %s\n", err);

	tern_uring_cfg_default(&cfg);
	cfg.addr.family = 0;
	CHECK_EQ(tern_uring_open(&cfg, &u, NULL, err, sizeof(err)), TERN_EINVAL);
	CHECK(strstr(err, "family 0") != NULL);

	tern_uring_cfg_default(&cfg);
	cfg.rx_buf_size = 4096; /* too small for a GRO train */
	CHECK_EQ(tern_uring_open(&cfg, &u, NULL, err, sizeof(err)), TERN_EINVAL);
	CHECK(strstr(err, "rx_buf_size 4096") != NULL);
}

static struct tern_uring *open_small(struct tern_addr a, bool reuseport, uint16_t *port, int *rc,
                                     char *err)
{
	struct tern_uring_cfg cfg;
	struct tern_uring *u = NULL;

	tern_uring_cfg_default(&cfg);
	cfg.addr = a;
	cfg.reuseport = reuseport;
	cfg.gro = false;
	cfg.rx_bufs = 16;
	cfg.tx_bufs = 16;
	cfg.ring_depth = 16;
	*rc = tern_uring_open(&cfg, &u, port, err, 256);
	return u;
}

/* Two instances on one port with SO_REUSEPORT share 24 senders' flows; a
 * third without SO_REUSEPORT is refused. Both get some flows except with
 * probability 2^-23 (the kernel hashes each sender's 4-tuple). */
static void test_reuseport(void)
{
	enum { SENDERS = 24, EACH = 4 };
	struct tern_uring *r1, *r2, *r3, *s[SENDERS];
	uint16_t port = 0, p2 = 0;
	unsigned got1 = 0, got2 = 0;
	tern_time deadline = mono_us() + 10 * TERN_SEC;
	char err[256];
	int rc;

	r1 = open_small(addr4(0), true, &port, &rc, err);
	CHECK_EQ(rc, 0);
	r2 = open_small(addr4(port), true, &p2, &rc, err);
	CHECK_EQ(rc, 0);
	CHECK_EQ(p2, port);
	r3 = open_small(addr4(port), false, NULL, &rc, err);
	CHECK_EQ(rc, TERN_EINVAL);
	CHECK(r3 == NULL);
	CHECK(strstr(err, strerror(EADDRINUSE)) != NULL);
	for (int i = 0; i < SENDERS; i++) {
		struct tern_pkt p[EACH];
		s[i] = open_small(addr4(0), false, NULL, &rc, err);
		CHECK_EQ(rc, 0);
		for (int j = 0; s[i] && j < EACH; j++) {
			tern_uring_backend_ops.buf_alloc(s[i], &p[j]);
			p[j].len = 50;
			p[j].peer = addr4(port);
			fill(p[j].data, (uint32_t)(i * EACH + j), 50);
		}
		if (s[i])
			CHECK_EQ(tern_uring_backend_ops.tx_burst(s[i], p, EACH), EACH);
	}
	while (r1 && r2 && got1 + got2 < SENDERS * EACH && mono_us() < deadline) {
		struct tern_pkt p[BURST];
		int n1 = tern_uring_backend_ops.rx_burst(r1, p, BURST);
		for (int i = 0; i < n1; i++)
			tern_uring_backend_ops.buf_free(r1, &p[i]);
		int n2 = tern_uring_backend_ops.rx_burst(r2, p, BURST);
		for (int i = 0; i < n2; i++)
			tern_uring_backend_ops.buf_free(r2, &p[i]);
		got1 += (unsigned)n1, got2 += (unsigned)n2;
		if (!n1 && !n2)
			tern_uring_wait(r1, TERN_MS);
	}
	CHECK_EQ(got1 + got2, SENDERS * EACH);
	CHECK(got1 > 0 && got2 > 0);
	fprintf(stderr, "  reuseport: %u and %u packets\n", got1, got2);
	for (int i = 0; i < SENDERS; i++)
		tern_uring_close(s[i]);
	tern_uring_close(r1);
	tern_uring_close(r2);
}

/* Holding every rx buffer stops the multishot recvmsg with ENOBUFS; the
 * datagrams wait in the socket and arrive once buffers come back. */
static void test_enobufs_rearm(void)
{
	enum { N = 40, BUFS = 8 };
	uint16_t pa = 0, pb = 0;
	struct tern_uring *a, *b = NULL;
	struct tern_pkt tx[N], held[N];
	unsigned nheld = 0, total = 0;
	tern_time deadline = mono_us() + 10 * TERN_SEC;
	uint8_t seen[N] = {0};
	char err[256];
	struct tern_uring_cfg cfg;

	tern_uring_cfg_default(&cfg);
	cfg.gro = false;
	cfg.rx_bufs = BUFS;
	CHECK_EQ(tern_uring_open(&cfg, &b, &pb, err, sizeof(err)), 0);
	a = open_at(addr4(0), false, false, &pa);
	if (!a || !b)
		goto out;
	for (int i = 0; i < N; i++) {
		CHECK_EQ(tern_uring_backend_ops.buf_alloc(a, &tx[i]), 0);
		tx[i].len = 100;
		tx[i].peer = addr4(pb);
		fill(tx[i].data, (uint32_t)i, 100);
	}
	CHECK_EQ(tern_uring_backend_ops.tx_burst(a, tx, N), N);
	while (b && tern_uring_stats(b)->rx_enobufs == 0 && mono_us() < deadline) {
		int n = tern_uring_backend_ops.rx_burst(b, held + nheld, N - nheld);
		nheld += n > 0 ? (unsigned)n : 0;
		if (n <= 0)
			tern_uring_wait(b, TERN_MS);
	}
	CHECK(tern_uring_stats(b)->rx_enobufs >= 1);
	CHECK(nheld <= BUFS);
	for (unsigned i = 0; i < nheld; i++) {
		uint32_t seq = 0;
		CHECK(intact(held[i].data, held[i].len, &seq) && seq < N);
		seen[seq % N]++;
		tern_uring_backend_ops.buf_free(b, &held[i]);
	}
	total = nheld;
	while (total < N && mono_us() < deadline) {
		int n = tern_uring_backend_ops.rx_burst(b, held, N);
		for (int i = 0; i < n; i++) {
			uint32_t seq = 0;
			CHECK(intact(held[i].data, held[i].len, &seq) && seq < N);
			seen[seq % N]++;
			tern_uring_backend_ops.buf_free(b, &held[i]);
		}
		total += n > 0 ? (unsigned)n : 0;
		if (n <= 0)
			tern_uring_wait(b, TERN_MS);
	}
	CHECK_EQ(total, N);
	for (int i = 0; i < N; i++)
		CHECK_EQ(seen[i], 1);
	CHECK(tern_uring_stats(b)->rx_rearms >= 1);
out:
	tern_uring_close(a);
	tern_uring_close(b);
}

/* wait: times out on a silent socket, wakes when a packet lands. */
static void test_wait(void)
{
	uint16_t pa = 0, pb = 0;
	struct tern_uring *a = open_at(addr4(0), false, false, &pa);
	struct tern_uring *b = open_at(addr4(0), false, false, &pb);
	struct tern_pkt p;

	if (a && b) {
		CHECK_EQ(tern_uring_wait(b, TERN_MS), 0);
		CHECK_EQ(tern_uring_backend_ops.rx_burst(b, &p, 1), 0);
		CHECK_EQ(tern_uring_backend_ops.buf_alloc(a, &p), 0);
		p.len = 33;
		p.peer = addr4(pb);
		fill(p.data, 7, 33);
		CHECK_EQ(tern_uring_backend_ops.tx_burst(a, &p, 1), 1);
		CHECK_EQ(tern_uring_wait(b, 5 * TERN_SEC), 1);
		CHECK_EQ(tern_uring_backend_ops.rx_burst(b, &p, 1), 1);
		CHECK_EQ(p.len, 33);
		CHECK_EQ(p.peer.port, pa);
		CHECK(p.rx_time > 0 && p.rx_time <= tern_uring_backend_ops.now(b));
		tern_uring_backend_ops.buf_free(b, &p);
	}
	tern_uring_close(a);
	tern_uring_close(b);
}

static void test_sqpoll(void)
{
	struct tern_uring_cfg cfg;
	struct tern_uring *a = NULL, *b = NULL;
	uint16_t pa = 0, pb = 0;
	char err[256];
	double pps;

	tern_uring_cfg_default(&cfg);
	cfg.sqpoll = true;
	cfg.sqpoll_idle_ms = 50;
	CHECK_EQ(tern_uring_open(&cfg, &a, &pa, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "  sqpoll notes: %s\n", err);
	b = open_at(addr4(0), true, true, &pb);
	if (a && b)
		CHECK_EQ(transfer(a, b, addr4(pb), addr4(pa), 10000, 0, &pps), 0);
	tern_uring_close(a);
	tern_uring_close(b);
}

/* Direct mode (latency_mode's path): recvmmsg and sendmmsg on the owner
 * thread, GRO trains split and GSO trains built as on the io_uring path,
 * waits on the socket. */
static void test_direct_rx(void)
{
	struct tern_uring_cfg cfg;
	struct tern_uring *a = NULL, *b = NULL;
	uint16_t pa = 0, pb = 0;
	char err[256];
	double pps;
	struct tern_pkt p;

	tern_uring_cfg_default(&cfg);
	cfg.direct_rx = true;
	CHECK_EQ(tern_uring_open(&cfg, &b, &pb, err, sizeof(err)), 0);
	CHECK_EQ(tern_uring_open(&cfg, &a, &pa, err, sizeof(err)), 0); /* direct TX too */
	if (a && b) {
		CHECK_EQ(tern_uring_wait(b, TERN_MS), 0);
		CHECK_EQ(tern_uring_backend_ops.rx_burst(b, &p, 1), 0);
		CHECK_EQ(transfer(a, b, addr4(pb), addr4(pa), 20000, 0, &pps), 0);
		CHECK_EQ(tern_uring_stats(b)->rx_packets, 20000);
		CHECK(tern_uring_stats(b)->rx_gro_merges > 0);
		CHECK_EQ(tern_uring_stats(a)->tx_packets, 20000);
		CHECK(tern_uring_stats(a)->tx_gso_trains > 0);
	}
	tern_uring_close(a);
	tern_uring_close(b);
}

static void measure(bool gso)
{
	uint16_t pa = 0, pb = 0;
	struct tern_uring *a = open_at(addr4(0), gso, gso, &pa);
	struct tern_uring *b = open_at(addr4(0), gso, gso, &pb);
	double pps = 0;
	uint32_t lost;

	if (a && b) {
		lost = transfer(a, b, addr4(pb), addr4(pa), 300000, 1400, &pps);
		fprintf(stderr,
		        "  measure: 1400-byte packets one-way, %s: %.0f packets/s (%.2f Gbit/s), "
		        "%u lost, one thread driving both ends\n",
		        gso ? "GSO+GRO" : "no GSO/GRO", pps, pps * 1400 * 8 / 1e9, lost);
	}
	tern_uring_close(a);
	tern_uring_close(b);
}

int main(void)
{
	struct io_uring probe;
	int r = io_uring_queue_init(8, &probe, 0);

	if (r == -EPERM || r == -ENOSYS) {
		fprintf(stderr, "uring: SKIP: io_uring_queue_init: %s\n", strerror(-r));
		return 77;
	}
	if (r == 0)
		io_uring_queue_exit(&probe);
	CHECK_EQ(r, 0);

	test_bad_bind();
	test_bad_destination();
	test_wait();
	test_exchange(false, false, false, 100000);
	test_exchange(false, true, false, 100000);
	test_exchange(false, true, true, 100000);
	test_exchange(false, false, true, 100000);
	test_exchange(true, true, true, 20000);
	test_exchange(true, false, false, 20000);
	test_dual_stack();
	test_reuseport();
	test_enobufs_rearm();
	test_sqpoll();
	test_direct_rx();
	measure(false);
	measure(true);
	return tern_check_result("uring");
}
