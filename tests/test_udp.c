/* io/udp + io/loop: the raw async UDP handle over loopback sockets only
 * (127.0.0.1, ::1; multicast scoped to lo). Every wait is a bounded loop:
 * the loop runs ONCE at a time under a 10 ms guard timer until the awaited
 * count is reached or a 10 s deadline passes, so a bug fails instead of
 * hanging; no assertion depends on timing.
 *
 * Usage: test_udp            every case except multicast
 *        test_udp mcast4     IPv4 multicast round trip (exit 77 if lo refuses)
 *        test_udp mcast6     IPv6 multicast round trip (exit 77 if lo refuses) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>
#include "tern/error.h"
#include "tern/udp.h"
#include "check.h"

#define SKIP 77
#define DEADLINE_US 10000000ull
#define MANY 300   /* datagrams in flight to one receiver (fits its buffer) */
#define FLOOD 2000 /* sends queued at once, beyond the ring and CQ sizes */

static struct tern_loop *loop;

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void guard_cb(struct tern_timer *t)
{
	(void)t;
}

/* Runs the loop until *count >= target or the deadline; true if reached. */
static bool run_until(const int *count, int target)
{
	struct tern_timer guard = {0};
	uint64_t deadline = mono_us() + DEADLINE_US;

	tern_loop_timer_start(loop, &guard, 10000, 10000, guard_cb);
	while (*count < target && mono_us() < deadline)
		tern_loop_run(loop, TERN_RUN_ONCE);
	tern_loop_timer_stop(&guard);
	return *count >= target;
}

static struct tern_addr v4(uint16_t port)
{
	struct tern_addr a = {.family = 4, .port = port, .ip = {127, 0, 0, 1}};
	return a;
}

static struct tern_addr v6(uint16_t port)
{
	struct tern_addr a = {.family = 6, .port = port};
	a.ip[15] = 1;
	return a;
}

static uint16_t port_of(struct tern_udp *h)
{
	struct tern_addr a;

	CHECK_EQ(tern_udp_getsockname(h, &a), 0);
	return a.port;
}

/* ---- receiver and sender state -------------------------------------------- */

struct rx {
	char slab[8][2048];
	unsigned next;
	size_t buf_size; /* what alloc_cb offers; 0 = 2048 */
	int datagrams, returns, errors;
	int last_err;
	ssize_t last_len;
	unsigned last_flags;
	struct tern_addr last_from;
	char last[2048];
	int seen[FLOOD];
	bool stop_after_one;
};

static void alloc_cb(struct tern_udp *h, size_t suggested, struct tern_buf *buf)
{
	struct rx *rx = h->data;

	CHECK_EQ(suggested, TERN_UDP_SUGGESTED_SIZE);
	buf->base = rx->slab[rx->next++ % 8];
	buf->len = rx->buf_size ? rx->buf_size : sizeof(rx->slab[0]);
}

static void recv_cb(struct tern_udp *h, ssize_t nread, const struct tern_buf *buf,
                    const struct tern_addr *addr, unsigned flags)
{
	struct rx *rx = h->data;

	if (nread < 0) {
		rx->errors++;
		rx->last_err = (int)nread;
		return;
	}
	if (!addr) {
		CHECK_EQ(nread, 0);
		rx->returns++;
		return;
	}
	rx->datagrams++;
	rx->last_len = nread;
	rx->last_flags = flags;
	rx->last_from = *addr;
	memcpy(rx->last, buf->base, (size_t)nread);
	if (nread == 4) {
		uint32_t seq;
		memcpy(&seq, buf->base, 4);
		if (seq < FLOOD)
			rx->seen[seq]++;
	}
	if (rx->stop_after_one)
		CHECK_EQ(tern_udp_recv_stop(h), 0);
}

static int sends_done, send_status[FLOOD], closes;
static int order[FLOOD + 1], order_len; /* who finished: send index, or -1 for close */

static void send_cb(struct tern_udp_send_req *req, int status)
{
	int i = (int)(intptr_t)req->data;

	send_status[i] = status;
	sends_done++;
	if (order_len <= FLOOD)
		order[order_len++] = i;
}

static void close_cb(struct tern_udp *h)
{
	(void)h;
	closes++;
	if (order_len <= FLOOD)
		order[order_len++] = -1;
}

static void reset_sends(void)
{
	sends_done = 0;
	order_len = 0;
	for (int i = 0; i < FLOOD; i++)
		send_status[i] = 1;
}

static void close_all(struct tern_udp *hs[], int n)
{
	int want = closes + n;

	for (int i = 0; i < n; i++)
		CHECK_EQ(tern_udp_close(hs[i], close_cb), 0);
	CHECK(run_until(&closes, want));
}

static int send_one(struct tern_udp_send_req *req, int idx, struct tern_udp *h, const void *p,
                    size_t len, const struct tern_addr *to)
{
	struct tern_buf b = {(void *)p, len};

	req->data = (void *)(intptr_t)idx;
	return tern_udp_send(req, h, &b, 1, to, send_cb);
}

/* ---- cases ------------------------------------------------------------------ */

/* Two buffers gathered into one datagram; the sender binds implicitly. */
static void test_roundtrip4(void)
{
	static struct rx rx;
	struct tern_udp r, s;
	struct tern_udp_send_req req;
	struct tern_buf b[2] = {{"hel", 3}, {"lo", 2}};
	struct tern_addr a = v4(0), to;

	memset(&rx, 0, sizeof(rx));
	reset_sends();
	CHECK_EQ(tern_udp_init(loop, &r), 0);
	CHECK_EQ(tern_udp_init(loop, &s), 0);
	r.data = &rx;
	CHECK_EQ(tern_udp_bind(&r, &a, 0), 0);
	to = v4(port_of(&r));
	CHECK_EQ(tern_udp_recv_start(&r, alloc_cb, recv_cb), 0);
	req.data = 0;
	CHECK_EQ(tern_udp_send(&req, &s, b, 2, &to, send_cb), 0);
	CHECK_EQ(s.send_queue_count, 1);
	CHECK(run_until(&rx.datagrams, 1));
	CHECK(run_until(&sends_done, 1));
	CHECK_EQ(send_status[0], 0);
	CHECK_EQ(s.send_queue_count, 0);
	CHECK_EQ(rx.last_len, 5);
	CHECK(memcmp(rx.last, "hello", 5) == 0);
	CHECK_EQ(rx.last_flags, 0);
	CHECK_EQ(rx.last_from.family, 4);
	CHECK_EQ(rx.last_from.port, port_of(&s));
	/* an empty datagram is delivered as nread 0 with an address */
	CHECK_EQ(tern_udp_send(&req, &s, NULL, 0, &to, send_cb), 0);
	CHECK(run_until(&rx.datagrams, 2));
	CHECK_EQ(rx.last_len, 0);
	CHECK(run_until(&sends_done, 2));
	tern_loop_run(loop, TERN_RUN_NOWAIT); /* re-arms the receive */
	close_all((struct tern_udp *[]){&r, &s}, 2);
	CHECK_EQ(rx.returns, 1); /* the armed buffer came back at close */
}

/* MANY datagrams queued before the loop runs: each arrives exactly once. */
static void test_many_in_flight(void)
{
	static struct rx rx;
	static struct tern_udp_send_req reqs[MANY];
	static uint32_t seqs[MANY];
	struct tern_udp r, s;
	struct tern_addr a = v4(0), to;
	int ok = 1, big = 1 << 20;

	memset(&rx, 0, sizeof(rx));
	reset_sends();
	tern_udp_init(loop, &r);
	tern_udp_init(loop, &s);
	r.data = &rx;
	CHECK_EQ(tern_udp_bind(&r, &a, 0), 0);
	CHECK_EQ(tern_udp_recv_buffer_size(&r, &big), 0);
	to = v4(port_of(&r));
	CHECK_EQ(tern_udp_recv_start(&r, alloc_cb, recv_cb), 0);
	for (int i = 0; i < MANY; i++) {
		seqs[i] = (uint32_t)i;
		CHECK_EQ(send_one(&reqs[i], i, &s, &seqs[i], 4, &to), 0);
	}
	CHECK_EQ(s.send_queue_count, MANY);
	CHECK(run_until(&sends_done, MANY));
	CHECK(run_until(&rx.datagrams, MANY));
	for (int i = 0; i < MANY; i++) {
		ok &= send_status[i] == 0 && rx.seen[i] == 1;
		ok &= order[i] == i; /* completions in submission order */
	}
	CHECK(ok);
	close_all((struct tern_udp *[]){&r, &s}, 2);
}

/* FLOOD sends at once, beyond the SQ (256) and CQ (512): every callback runs once. */
static void test_flood(void)
{
	static struct tern_udp_send_req reqs[FLOOD];
	struct tern_udp sink, s;
	struct tern_addr a = v4(0), to;
	int ok = 1;
	uint32_t seq = 0;

	reset_sends();
	tern_udp_init(loop, &sink);
	tern_udp_init(loop, &s);
	CHECK_EQ(tern_udp_bind(&sink, &a, 0), 0);
	to = v4(port_of(&sink));
	for (int i = 0; i < FLOOD; i++)
		CHECK_EQ(send_one(&reqs[i], i, &s, &seq, 4, &to), 0);
	CHECK(run_until(&sends_done, FLOOD));
	CHECK_EQ(sends_done, FLOOD);
	for (int i = 0; i < FLOOD; i++)
		ok &= send_status[i] == 0;
	CHECK(ok);
	CHECK_EQ(s.send_queue_count, 0);
	close_all((struct tern_udp *[]){&sink, &s}, 2);
}

static void test_try_send(void)
{
	static struct rx rx;
	struct tern_udp r, s;
	struct tern_udp_send_req req;
	struct tern_addr a = v4(0), to;
	struct tern_buf b = {"abcdef", 6};

	memset(&rx, 0, sizeof(rx));
	reset_sends();
	tern_udp_init(loop, &r);
	tern_udp_init(loop, &s);
	r.data = &rx;
	CHECK_EQ(tern_udp_bind(&r, &a, 0), 0);
	to = v4(port_of(&r));
	CHECK_EQ(tern_udp_recv_start(&r, alloc_cb, recv_cb), 0);
	CHECK_EQ(tern_udp_try_send(&s, &b, 1, &to), 6);
	CHECK(run_until(&rx.datagrams, 1));
	CHECK_EQ(rx.last_len, 6);
	CHECK(memcmp(rx.last, "abcdef", 6) == 0);
	/* a queued send keeps order: try_send refuses until it completed */
	CHECK_EQ(send_one(&req, 0, &s, "q", 1, &to), 0);
	CHECK_EQ(tern_udp_try_send(&s, &b, 1, &to), TERN_EAGAIN);
	CHECK(strstr(tern_udp_strerror(&s), "tern_udp_try_send") != NULL);
	CHECK(run_until(&sends_done, 1));
	CHECK_EQ(tern_udp_try_send(&s, &b, 1, &to), 6);
	CHECK(run_until(&rx.datagrams, 3));
	close_all((struct tern_udp *[]){&r, &s}, 2);
}

/* recv_stop inside recv_cb: the next datagram waits in the socket and is
 * delivered only after recv_start; stopping an armed receive hands its
 * buffer back. */
static void test_recv_stop(void)
{
	static struct rx rx;
	struct tern_udp r, s;
	struct tern_udp_send_req req;
	struct tern_addr a = v4(0), to;

	memset(&rx, 0, sizeof(rx));
	reset_sends();
	tern_udp_init(loop, &r);
	tern_udp_init(loop, &s);
	r.data = &rx;
	rx.stop_after_one = true;
	CHECK_EQ(tern_udp_bind(&r, &a, 0), 0);
	to = v4(port_of(&r));
	CHECK_EQ(tern_udp_recv_start(&r, alloc_cb, recv_cb), 0);
	CHECK_EQ(send_one(&req, 0, &s, "one", 3, &to), 0);
	CHECK(run_until(&rx.datagrams, 1));
	CHECK(run_until(&sends_done, 1));
	CHECK_EQ(send_one(&req, 1, &s, "two", 3, &to), 0);
	CHECK(run_until(&sends_done, 2));
	for (int i = 0; i < 5; i++)
		tern_loop_run(loop, TERN_RUN_NOWAIT);
	CHECK_EQ(rx.datagrams, 1);
	rx.stop_after_one = false;
	CHECK_EQ(tern_udp_recv_start(&r, alloc_cb, recv_cb), 0);
	CHECK(run_until(&rx.datagrams, 2));
	CHECK(memcmp(rx.last, "two", 3) == 0);
	/* now armed with nothing to read: stop cancels and returns the buffer */
	tern_loop_run(loop, TERN_RUN_NOWAIT);
	CHECK_EQ(tern_udp_recv_stop(&r), 0);
	CHECK(run_until(&rx.returns, 1));
	CHECK_EQ(rx.datagrams, 2);
	CHECK_EQ(tern_udp_recv_stop(&r), 0); /* stopping twice is fine */
	/* with only stopped handles the loop has nothing to do */
	CHECK_EQ(tern_loop_run(loop, TERN_RUN_DEFAULT), 0);
	close_all((struct tern_udp *[]){&r, &s}, 2);
}

/* A datagram larger than the buffer arrives truncated with TERN_UDP_PARTIAL. */
static void test_partial(void)
{
	static struct rx rx;
	struct tern_udp r, s;
	struct tern_addr a = v4(0), to;
	struct tern_buf b = {"0123456789", 10};

	memset(&rx, 0, sizeof(rx));
	tern_udp_init(loop, &r);
	tern_udp_init(loop, &s);
	r.data = &rx;
	rx.buf_size = 4;
	CHECK_EQ(tern_udp_bind(&r, &a, 0), 0);
	to = v4(port_of(&r));
	CHECK_EQ(tern_udp_recv_start(&r, alloc_cb, recv_cb), 0);
	CHECK_EQ(tern_udp_try_send(&s, &b, 1, &to), 10);
	CHECK(run_until(&rx.datagrams, 1));
	CHECK_EQ(rx.last_len, 4);
	CHECK_EQ(rx.last_flags, TERN_UDP_PARTIAL);
	CHECK(memcmp(rx.last, "0123", 4) == 0);
	close_all((struct tern_udp *[]){&r, &s}, 2);
}

static void zero_alloc(struct tern_udp *h, size_t suggested, struct tern_buf *buf)
{
	(void)h;
	(void)suggested;
	buf->base = NULL;
	buf->len = 0;
}

/* alloc_cb refusing a buffer: recv_cb gets TERN_ENOMEM and receiving stops. */
static void test_alloc_refused(void)
{
	static struct rx rx;
	struct tern_udp r;
	struct tern_addr a = v4(0);

	memset(&rx, 0, sizeof(rx));
	tern_udp_init(loop, &r);
	r.data = &rx;
	CHECK_EQ(tern_udp_bind(&r, &a, 0), 0);
	CHECK_EQ(tern_udp_recv_start(&r, zero_alloc, recv_cb), 0);
	CHECK(run_until(&rx.errors, 1));
	CHECK_EQ(rx.last_err, TERN_ENOMEM);
	CHECK_EQ(tern_loop_run(loop, TERN_RUN_DEFAULT), 0);      /* not receiving any more */
	CHECK_EQ(tern_udp_recv_start(&r, alloc_cb, recv_cb), 0); /* may start again */
	close_all((struct tern_udp *[]){&r}, 1);
}

static void test_ipv6(void)
{
	static struct rx rx;
	struct tern_udp r, s, d, x;
	struct tern_addr a6 = v6(0), any6 = {.family = 6}, any4 = {.family = 4}, to;
	struct tern_buf b = {"six", 3};

	memset(&rx, 0, sizeof(rx));
	tern_udp_init(loop, &r);
	tern_udp_init(loop, &s);
	r.data = &rx;
	CHECK_EQ(tern_udp_bind(&r, &a6, TERN_UDP_IPV6ONLY), 0);
	CHECK_EQ(tern_udp_bind(&s, &a6, 0), 0);
	to = v6(port_of(&r));
	CHECK_EQ(tern_udp_recv_start(&r, alloc_cb, recv_cb), 0);
	CHECK_EQ(tern_udp_try_send(&s, &b, 1, &to), 3);
	CHECK(run_until(&rx.datagrams, 1));
	CHECK_EQ(rx.last_from.family, 6);
	CHECK_EQ(rx.last_from.ip[15], 1);
	CHECK_EQ(rx.last_from.port, port_of(&s));
	close_all((struct tern_udp *[]){&r, &s}, 2);

	/* dual-stack [::]:P owns IPv4 port P too; IPV6ONLY leaves it free */
	tern_udp_init(loop, &d);
	tern_udp_init(loop, &x);
	CHECK_EQ(tern_udp_bind(&d, &any6, 0), 0);
	any4.port = port_of(&d);
	CHECK_EQ(tern_udp_bind(&x, &any4, 0), TERN_EINVAL);
	CHECK_EQ(tern_udp_sys_errno(&x), EADDRINUSE);
	CHECK(strcmp(tern_udp_strerror(&x), "tern_udp_bind: bind(): Address already in use") == 0);
	/* and a dual-stack socket receives IPv4, reported as family 4 */
	memset(&rx, 0, sizeof(rx));
	d.data = &rx;
	CHECK_EQ(tern_udp_recv_start(&d, alloc_cb, recv_cb), 0);
	to = v4(any4.port);
	CHECK(tern_udp_try_send(&x, &b, 1, &to) == 3); /* x bound implicitly to 0.0.0.0 */
	CHECK(run_until(&rx.datagrams, 1));
	CHECK_EQ(rx.last_from.family, 4);
	close_all((struct tern_udp *[]){&d, &x}, 2);

	tern_udp_init(loop, &d);
	tern_udp_init(loop, &x);
	CHECK_EQ(tern_udp_bind(&d, &any6, TERN_UDP_IPV6ONLY), 0);
	any4.port = port_of(&d);
	CHECK_EQ(tern_udp_bind(&x, &any4, 0), 0);
	close_all((struct tern_udp *[]){&d, &x}, 2);
}

/* The handle closed the fd it adopted. */
static bool fcntl_closed(int fd)
{
	return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

/* An fd made elsewhere and connected: sends need no address. */
static void test_open(void)
{
	static struct rx rx;
	struct tern_udp r, o, t, bound;
	struct tern_addr a = v4(0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct tern_buf b = {"fd", 2};
	int fd = socket(AF_INET, SOCK_DGRAM, 0), tcp = socket(AF_INET, SOCK_STREAM, 0), got = -1;

	memset(&rx, 0, sizeof(rx));
	tern_udp_init(loop, &r);
	r.data = &rx;
	CHECK_EQ(tern_udp_bind(&r, &a, 0), 0);
	CHECK_EQ(tern_udp_recv_start(&r, alloc_cb, recv_cb), 0);
	sin.sin_port = htons(port_of(&r));
	CHECK_EQ(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	tern_udp_init(loop, &o);
	CHECK_EQ(tern_udp_fileno(&o, &got), TERN_ESTATE);
	CHECK_EQ(tern_udp_open(&o, fd), 0);
	CHECK_EQ(tern_udp_fileno(&o, &got), 0);
	CHECK_EQ(got, fd);
	CHECK_EQ(tern_udp_try_send(&o, &b, 1, NULL), 2);
	CHECK(run_until(&rx.datagrams, 1));
	CHECK_EQ(rx.last_from.port, port_of(&o));
	/* misuse: a stream socket, a negative fd, an fd for a handle that has one */
	tern_udp_init(loop, &t);
	CHECK_EQ(tern_udp_open(&t, tcp), TERN_EINVAL);
	CHECK(strcmp(tern_udp_strerror(&t), "tern_udp_open: not a datagram socket") == 0);
	CHECK_EQ(tern_udp_open(&t, -1), TERN_EINVAL);
	tern_udp_init(loop, &bound);
	CHECK_EQ(tern_udp_bind(&bound, &a, 0), 0);
	CHECK_EQ(tern_udp_open(&bound, tcp), TERN_ESTATE);
	close(tcp);
	close_all((struct tern_udp *[]){&r, &o, &t, &bound}, 4);
	CHECK(fcntl_closed(fd));
}

static int get_int(struct tern_udp *h, int level, int name)
{
	int fd = -1, v = -1;
	socklen_t len = sizeof(v);

	CHECK_EQ(tern_udp_fileno(h, &fd), 0);
	CHECK_EQ(getsockopt(fd, level, name, &v, &len), 0);
	return v;
}

static void test_buffer_sizes(void)
{
	struct tern_udp h;
	struct tern_addr a = v4(0);
	int v = 0;

	tern_udp_init(loop, &h);
	CHECK_EQ(tern_udp_send_buffer_size(&h, &v), TERN_ESTATE);
	CHECK_EQ(tern_udp_bind(&h, &a, 0), 0);
	v = 65536;
	CHECK_EQ(tern_udp_send_buffer_size(&h, &v), 0);
	v = 0;
	CHECK_EQ(tern_udp_send_buffer_size(&h, &v), 0);
	CHECK_EQ(v, 131072); /* Linux doubles what was set */
	v = 98304;
	CHECK_EQ(tern_udp_recv_buffer_size(&h, &v), 0);
	v = 0;
	CHECK_EQ(tern_udp_recv_buffer_size(&h, &v), 0);
	CHECK_EQ(v, 196608);
	CHECK_EQ(get_int(&h, SOL_SOCKET, SO_RCVBUF), 196608);
	v = -1;
	CHECK_EQ(tern_udp_recv_buffer_size(&h, &v), TERN_EINVAL);
	CHECK_EQ(tern_udp_recv_buffer_size(&h, NULL), TERN_EINVAL);
	close_all((struct tern_udp *[]){&h}, 1);
}

static void test_setters(void)
{
	struct tern_udp h4, h6;
	struct tern_addr a4 = v4(0), a6 = v6(0);

	tern_udp_init(loop, &h4);
	tern_udp_init(loop, &h6);
	CHECK_EQ(tern_udp_bind(&h4, &a4, 0), 0);
	CHECK_EQ(tern_udp_bind(&h6, &a6, 0), 0);
	CHECK_EQ(tern_udp_set_ttl(&h4, 7), 0);
	CHECK_EQ(get_int(&h4, IPPROTO_IP, IP_TTL), 7);
	CHECK_EQ(tern_udp_set_ttl(&h6, 9), 0);
	CHECK_EQ(get_int(&h6, IPPROTO_IPV6, IPV6_UNICAST_HOPS), 9);
	CHECK_EQ(tern_udp_set_ttl(&h4, 0), TERN_EINVAL);
	CHECK_EQ(tern_udp_set_ttl(&h4, 256), TERN_EINVAL);
	CHECK(strcmp(tern_udp_strerror(&h4), "tern_udp_set_ttl: ttl outside 1..255") == 0);
	CHECK_EQ(tern_udp_set_broadcast(&h4, true), 0);
	CHECK_EQ(get_int(&h4, SOL_SOCKET, SO_BROADCAST), 1);
	CHECK_EQ(tern_udp_set_broadcast(&h4, false), 0);
	CHECK_EQ(get_int(&h4, SOL_SOCKET, SO_BROADCAST), 0);
	CHECK_EQ(tern_udp_set_multicast_ttl(&h4, 3), 0);
	CHECK_EQ(get_int(&h4, IPPROTO_IP, IP_MULTICAST_TTL), 3);
	CHECK_EQ(tern_udp_set_multicast_ttl(&h6, 4), 0);
	CHECK_EQ(get_int(&h6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS), 4);
	CHECK_EQ(tern_udp_set_multicast_ttl(&h4, -1), TERN_EINVAL);
	CHECK_EQ(tern_udp_set_multicast_loop(&h4, false), 0);
	CHECK_EQ(get_int(&h4, IPPROTO_IP, IP_MULTICAST_LOOP), 0);
	CHECK_EQ(tern_udp_set_multicast_loop(&h6, false), 0);
	CHECK_EQ(get_int(&h6, IPPROTO_IPV6, IPV6_MULTICAST_LOOP), 0);
	CHECK_EQ(tern_udp_set_multicast_interface(&h4, "127.0.0.1"), 0);
	CHECK_EQ(tern_udp_set_multicast_interface(&h4, "lo"), TERN_EINVAL);
	CHECK_EQ(tern_udp_set_multicast_interface(&h6, "lo"), 0);
	CHECK_EQ(get_int(&h6, IPPROTO_IPV6, IPV6_MULTICAST_IF), (int)if_nametoindex("lo"));
	CHECK_EQ(tern_udp_set_multicast_interface(&h6, "no-such-if0"), TERN_EINVAL);
	CHECK_EQ(tern_udp_set_multicast_interface(&h6, NULL), 0);
	close_all((struct tern_udp *[]){&h4, &h6}, 2);
}

/* Close with sends queued and a receive armed: every send gets
 * TERN_ECLOSED, the buffer comes back, and close_cb runs last. */
static void test_close_pending(void)
{
	static struct rx rx;
	static struct tern_udp_send_req reqs[5];
	struct tern_udp r, s;
	struct tern_addr a = v4(0), to;

	memset(&rx, 0, sizeof(rx));
	reset_sends();
	tern_udp_init(loop, &r);
	tern_udp_init(loop, &s);
	r.data = &rx;
	CHECK_EQ(tern_udp_bind(&r, &a, 0), 0);
	to = v4(port_of(&r));
	CHECK_EQ(tern_udp_recv_start(&r, alloc_cb, recv_cb), 0);
	tern_loop_run(loop, TERN_RUN_NOWAIT); /* arms the receive */
	for (int i = 0; i < 5; i++)
		CHECK_EQ(send_one(&reqs[i], i, &s, "x", 1, &to), 0);
	CHECK_EQ(tern_udp_close(&s, close_cb), 0);
	CHECK_EQ(tern_udp_close(&r, close_cb), 0);
	CHECK_EQ(sends_done, 0); /* nothing runs inside close */
	CHECK(run_until(&closes, closes + 2));
	CHECK_EQ(sends_done, 5);
	for (int i = 0; i < 5; i++) {
		CHECK_EQ(send_status[i], TERN_ECLOSED);
		CHECK_EQ(order[i], i);
	}
	CHECK_EQ(order[5], -1);
	CHECK_EQ(order[6], -1);
	CHECK_EQ(rx.returns, 1);
	CHECK_EQ(rx.datagrams, 0);
	CHECK_EQ(tern_loop_run(loop, TERN_RUN_DEFAULT), 0);
}

static void nested_run(struct tern_timer *t)
{
	int *result = t->data;

	*result = tern_loop_run(loop, TERN_RUN_NOWAIT);
}

/* Every misuse returns its code and names the call; nothing crashes. */
static void test_misuse(void)
{
	static struct rx rx;
	struct tern_udp h, u;
	struct tern_udp_send_req req;
	struct tern_addr a4 = v4(0), a6 = v6(9), bad = {.family = 5};
	struct tern_buf b = {"z", 1}, many[TERN_UDP_MAX_BUFS + 1];
	struct tern_timer t = {0};
	int v = 0, nested = 1;

	memset(&rx, 0, sizeof(rx));
	for (int i = 0; i <= TERN_UDP_MAX_BUFS; i++)
		many[i] = b;
	tern_udp_init(loop, &h);
	h.data = &rx;
	/* unbound handle */
	CHECK_EQ(tern_udp_send(&req, &h, &b, 1, NULL, send_cb), TERN_EINVAL);
	CHECK(strcmp(tern_udp_strerror(&h),
	             "tern_udp_send: no address and the socket is not connected") == 0);
	CHECK_EQ(tern_udp_try_send(&h, &b, 1, NULL), TERN_EINVAL);
	CHECK_EQ(tern_udp_set_ttl(&h, 5), TERN_ESTATE);
	CHECK(strcmp(tern_udp_strerror(&h),
	             "tern_udp_set_ttl: no socket yet (bind or open first)") == 0);
	CHECK_EQ(tern_udp_set_membership(&h, "239.255.0.1", NULL, TERN_UDP_JOIN_GROUP),
	         TERN_ESTATE);
	CHECK_EQ(tern_udp_recv_buffer_size(&h, &v), TERN_ESTATE);
	CHECK_EQ(tern_udp_getsockname(&h, &a4), TERN_ESTATE);
	/* bad arguments */
	CHECK_EQ(tern_udp_bind(&h, &bad, 0), TERN_EINVAL);
	CHECK(strcmp(tern_udp_strerror(&h), "tern_udp_bind: address family is neither 4 nor 6") ==
	      0);
	CHECK_EQ(tern_udp_bind(&h, NULL, 0), TERN_EINVAL);
	CHECK_EQ(tern_udp_bind(&h, &a4, TERN_UDP_IPV6ONLY), TERN_EINVAL);
	CHECK_EQ(tern_udp_bind(&h, &a4, 0x80), TERN_EINVAL);
	CHECK_EQ(tern_udp_send(&req, &h, &b, 1, &bad, send_cb), TERN_EINVAL);
	CHECK_EQ(tern_udp_send(&req, &h, &b, 1, &a4, NULL), TERN_EINVAL);
	CHECK_EQ(tern_udp_send(&req, &h, NULL, 1, &a4, send_cb), TERN_EINVAL);
	CHECK_EQ(tern_udp_send(&req, &h, many, TERN_UDP_MAX_BUFS + 1, &a4, send_cb), TERN_ELIMIT);
	CHECK_EQ(tern_udp_recv_start(&h, NULL, recv_cb), TERN_EINVAL);
	CHECK_EQ(h.fd, -1); /* none of that made a socket */
	/* bound IPv4 */
	CHECK_EQ(tern_udp_bind(&h, &a4, 0), 0);
	CHECK_EQ(tern_udp_bind(&h, &a4, 0), TERN_ESTATE);
	CHECK(strcmp(tern_udp_strerror(&h), "tern_udp_bind: the handle already has a socket") == 0);
	CHECK_EQ(tern_udp_send(&req, &h, &b, 1, &a6, send_cb), TERN_EINVAL);
	CHECK(strstr(tern_udp_strerror(&h), "IPv4 socket") != NULL);
	CHECK_EQ(tern_udp_set_membership(&h, "10.0.0.1", NULL, TERN_UDP_JOIN_GROUP), TERN_EINVAL);
	CHECK_EQ(tern_udp_set_membership(&h, "not-an-ip", NULL, TERN_UDP_JOIN_GROUP), TERN_EINVAL);
	CHECK_EQ(tern_udp_set_membership(&h, "ff02::1:3", "lo", TERN_UDP_JOIN_GROUP), TERN_EINVAL);
	CHECK_EQ(tern_udp_set_membership(&h, "239.255.0.1", NULL, (enum tern_membership)7),
	         TERN_EINVAL);
	CHECK_EQ(tern_udp_set_membership(&h, "239.255.0.1", "127.0.0.1", TERN_UDP_LEAVE_GROUP),
	         TERN_EINVAL); /* never joined */
	CHECK_EQ(tern_udp_sys_errno(&h), EADDRNOTAVAIL);
	CHECK_EQ(tern_udp_recv_start(&h, alloc_cb, recv_cb), 0);
	CHECK_EQ(tern_udp_recv_start(&h, alloc_cb, recv_cb), TERN_ESTATE);
	CHECK(strcmp(tern_udp_strerror(&h), "tern_udp_recv_start: already receiving") == 0);
	/* the loop: bad mode, re-entry from a callback, freeing with open handles */
	CHECK_EQ(tern_loop_run(loop, (enum tern_run_mode)9), TERN_EINVAL);
	CHECK_EQ(tern_loop_run(NULL, TERN_RUN_NOWAIT), TERN_EINVAL);
	t.data = &nested;
	CHECK_EQ(tern_loop_timer_start(loop, &t, 0, 0, nested_run), 0);
	CHECK_EQ(tern_loop_timer_start(loop, &t, 0, 0, NULL), TERN_EINVAL);
	tern_loop_run(loop, TERN_RUN_NOWAIT);
	CHECK_EQ(nested, TERN_ESTATE);
	CHECK_EQ(tern_loop_free(loop), TERN_ESTATE);
	/* close twice, then everything on a closed handle */
	CHECK_EQ(tern_udp_close(&h, close_cb), 0);
	CHECK_EQ(tern_udp_close(&h, close_cb), TERN_ESTATE);
	CHECK(strcmp(tern_udp_strerror(&h), "tern_udp_close: already closing or closed") == 0);
	CHECK_EQ(tern_udp_send(&req, &h, &b, 1, &a4, send_cb), TERN_ECLOSED);
	CHECK_EQ(tern_udp_recv_stop(&h), TERN_ECLOSED);
	CHECK_EQ(tern_udp_set_broadcast(&h, true), TERN_ECLOSED);
	CHECK_EQ(tern_udp_fileno(&h, &v), TERN_ECLOSED);
	CHECK(run_until(&closes, closes + 1));
	CHECK_EQ(tern_udp_close(&h, close_cb), TERN_ESTATE);
	CHECK_EQ(tern_udp_bind(&h, &a4, 0), TERN_ECLOSED);
	/* NULLs */
	CHECK_EQ(tern_udp_init(NULL, &u), TERN_EINVAL);
	CHECK_EQ(tern_udp_init(loop, NULL), TERN_EINVAL);
	CHECK_EQ(tern_udp_bind(NULL, &a4, 0), TERN_EINVAL);
	CHECK_EQ(tern_udp_send(NULL, &h, &b, 1, &a4, send_cb), TERN_EINVAL);
	CHECK_EQ(tern_udp_close(NULL, NULL), TERN_EINVAL);
	CHECK(tern_udp_strerror(NULL) != NULL);
	CHECK_EQ(tern_loop_free(NULL), TERN_EINVAL);
	CHECK_EQ(tern_loop_new(NULL, NULL, 0), TERN_EINVAL);
}

static int ticks;

static void tick(struct tern_timer *t)
{
	if (++ticks == 3)
		tern_loop_timer_stop(t);
}

static void once(struct tern_timer *t)
{
	(*(int *)t->data)++;
}

/* DEFAULT returns once nothing is active: a timer stopping itself ends it. */
static void test_timers(void)
{
	struct tern_timer rep = {0}, one = {0}, cancelled = {0};
	int fired = 0, never = 0;

	one.data = &fired;
	cancelled.data = &never;
	CHECK_EQ(tern_loop_timer_start(loop, &rep, 1000, 1000, tick), 0);
	CHECK_EQ(tern_loop_timer_start(loop, &one, 2000, 0, once), 0);
	CHECK_EQ(tern_loop_timer_start(loop, &cancelled, 1000, 0, once), 0);
	CHECK_EQ(tern_loop_timer_stop(&cancelled), 0);
	CHECK_EQ(tern_loop_run(loop, TERN_RUN_DEFAULT), 0);
	CHECK_EQ(ticks, 3);
	CHECK_EQ(fired, 1);
	CHECK_EQ(never, 0);
	CHECK_EQ(tern_loop_run(loop, TERN_RUN_NOWAIT), 0);
	CHECK(tern_loop_now(loop) > 0);
}

/* ---- multicast ---------------------------------------------------------------- */

/* Join group on lo, send to it from a handle whose multicast interface is lo
 * with loopback on, receive, leave. Returns SKIP (with the reason) if the
 * kernel refuses multicast on lo. */
static int mcast_case(const char *group, const char *iface_rx, const char *iface_tx,
                      struct tern_addr any, struct tern_addr dst)
{
	static struct rx rx;
	struct tern_udp r, s;
	struct tern_udp_send_req req;
	struct tern_addr src = dst.family == 4 ? v4(0) : v6(0);

	memset(&rx, 0, sizeof(rx));
	reset_sends();
	tern_udp_init(loop, &r);
	tern_udp_init(loop, &s);
	r.data = &rx;
	CHECK_EQ(tern_udp_bind(&r, &any, TERN_UDP_REUSEADDR), 0);
	dst.port = port_of(&r);
	if (tern_udp_set_membership(&r, group, iface_rx, TERN_UDP_JOIN_GROUP) != 0) {
		fprintf(stderr, "SKIP: joining %s on lo refused: %s\n", group,
		        tern_udp_strerror(&r));
		close_all((struct tern_udp *[]){&r, &s}, 2);
		return SKIP;
	}
	CHECK_EQ(tern_udp_recv_start(&r, alloc_cb, recv_cb), 0);
	CHECK_EQ(tern_udp_bind(&s, &src, 0), 0);
	CHECK_EQ(tern_udp_set_multicast_interface(&s, iface_tx), 0);
	CHECK_EQ(tern_udp_set_multicast_loop(&s, true), 0);
	CHECK_EQ(tern_udp_set_multicast_ttl(&s, 1), 0);
	CHECK_EQ(send_one(&req, 0, &s, "group", 5, &dst), 0);
	CHECK(run_until(&sends_done, 1));
	if (send_status[0] != 0 && tern_udp_sys_errno(&s) == ENETUNREACH) {
		fprintf(stderr,
		        "SKIP: no multicast route for %s on lo (%s); the test does not add "
		        "one to the host\n",
		        group, tern_udp_strerror(&s));
		close_all((struct tern_udp *[]){&r, &s}, 2);
		return SKIP;
	}
	CHECK_EQ(send_status[0], 0);
	CHECK(run_until(&rx.datagrams, 1));
	CHECK(memcmp(rx.last, "group", 5) == 0);
	CHECK_EQ(rx.last_from.port, port_of(&s));
	CHECK_EQ(tern_udp_set_membership(&r, group, iface_rx, TERN_UDP_LEAVE_GROUP), 0);
	CHECK_EQ(tern_udp_set_membership(&r, group, iface_rx, TERN_UDP_LEAVE_GROUP), TERN_EINVAL);
	close_all((struct tern_udp *[]){&r, &s}, 2);
	return 0;
}

static int test_mcast4(void)
{
	struct tern_addr any = {.family = 4}, g = {.family = 4, .ip = {239, 255, 77, 1}};

	return mcast_case("239.255.77.1", "127.0.0.1", "127.0.0.1", any, g);
}

static int test_mcast6(void)
{
	struct tern_addr any = {.family = 6}, g = {.family = 6};
	static const uint8_t grp[16] = {0xff, 0x02, [13] = 0x01, [14] = 0x77, [15] = 0x01};

	memcpy(g.ip, grp, 16);
	return mcast_case("ff02::1:7701", "lo", "lo", any, g);
}

int main(int argc, char **argv)
{
	char err[256];
	int r = tern_loop_new(&loop, err, sizeof(err)), skip = 0;

	if (r == TERN_ESTATE) {
		fprintf(stderr, "SKIP: io_uring unavailable: %s\n", err);
		return SKIP;
	}
	CHECK_EQ(r, 0);
	if (r)
		return 1;
	if (argc > 1 && strcmp(argv[1], "mcast4") == 0) {
		skip = test_mcast4();
	} else if (argc > 1 && strcmp(argv[1], "mcast6") == 0) {
		skip = test_mcast6();
	} else {
		test_roundtrip4();
		test_many_in_flight();
		test_flood();
		test_try_send();
		test_recv_stop();
		test_partial();
		test_alloc_refused();
		test_ipv6();
		test_open();
		test_buffer_sizes();
		test_setters();
		test_close_pending();
		test_misuse();
		test_timers();
	}
	CHECK_EQ(tern_loop_free(loop), 0);
	if (skip && !tern_check_failures)
		return SKIP;
	return tern_check_result("udp");
}
