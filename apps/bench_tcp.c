/* tern-bench over kernel TCP: the baseline, measured in the same run on the
 * same cores. The same content as tern's (the pattern slice of stream 0,
 * message idx), written one message per write() the way an application
 * would; the server checks the byte stream message by message and answers
 * after the client's shutdown. Ping-pong sets TCP_NODELAY on both ends and,
 * in latency mode, spins on non-blocking reads as tern's workers busy-poll.
 * Each side runs on one thread pinned like tern's worker. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define RESULT_LEN 32
#define RXBUF (256u << 10)
#define GRACE_NS 20000000000ull

static socklen_t to_sockaddr(const struct tern_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == 6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->port);
		memcpy(&s6->sin6_addr, a->ip, 16);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons(a->port);
	memcpy(&s4->sin_addr, a->ip, 4);
	return sizeof(*s4);
}

static void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Reads exactly len bytes (spinning when spin). Returns 0, or -1 at EOF. */
static int read_all(int fd, void *buf, size_t len, bool spin)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = recv(fd, p, len, spin ? MSG_DONTWAIT : 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ==== server ==== */

struct bench_tcp_srv {
	struct bench_params p;
	int lfd, core;
	pthread_t th;
	atomic_int stop;
	uint64_t verified, msgs, errors; /* written by the thread before it ends */
};

/* The byte stream's check: message idx runs from pos; bad marks a message
 * that already differed. */
struct stream_rx {
	uint64_t idx, pos;
	bool bad;
};

static void check_bytes(struct bench_tcp_srv *s, struct stream_rx *st, const uint8_t *b, size_t n)
{
	while (n) {
		size_t take = s->p.size - st->pos < n ? (size_t)(s->p.size - st->pos) : n;
		size_t off = bench_pat_off(s->p.seed, 0, st->idx, s->p.size) + st->pos;
		if (memcmp(b, bench_pat + off, take) != 0)
			st->bad = true;
		st->pos += take;
		b += take;
		n -= take;
		if (st->pos == s->p.size) {
			if (st->bad)
				s->errors++;
			else
				s->verified += s->p.size, s->msgs++;
			st->idx++, st->pos = 0, st->bad = false;
		}
	}
}

static void serve_stream(struct bench_tcp_srv *s, int fd)
{
	struct stream_rx st = {0};
	uint8_t *buf = malloc(RXBUF), res[RESULT_LEN] = {0};
	ssize_t n;

	if (!buf)
		return;
	while ((n = read(fd, buf, RXBUF)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			check_bytes(s, &st, buf, (size_t)n);
	if (st.pos)
		s->errors++; /* a truncated last message */
	bench_put64(res, s->verified);
	bench_put64(res + 8, s->msgs);
	bench_put64(res + 16, s->errors);
	bench_write_all(fd, res, sizeof(res));
	free(buf);
}

static void serve_pingpong(struct bench_tcp_srv *s, int fd)
{
	uint8_t buf[BENCH_MAX_SIZE > 65536 ? 65536 : BENCH_MAX_SIZE];
	struct bench_rx rx = {.seed = s->p.seed, .size = s->p.size};

	nodelay(fd);
	while (s->p.size <= sizeof(buf) && read_all(fd, buf, s->p.size, s->p.latency) == 0) {
		bench_rx_message(&rx, 0, buf, s->p.size);
		if (bench_write_all(fd, buf, s->p.size) < 0)
			break;
	}
	s->verified = rx.verified, s->msgs = rx.msgs, s->errors = rx.errors;
}

static void *srv_main(void *arg)
{
	struct bench_tcp_srv *s = arg;
	struct pollfd pfd = {.fd = s->lfd, .events = POLLIN};
	int fd = -1;

	bench_pin(s->core);
	while (!atomic_load(&s->stop) && fd < 0)
		if (poll(&pfd, 1, 100) > 0)
			fd = accept(s->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	if (s->p.mode == MODE_PINGPONG)
		serve_pingpong(s, fd);
	else
		serve_stream(s, fd);
	close(fd);
	return NULL;
}

int bench_tcp_listen(const struct tern_addr *at, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(at, &ss);
	int one = 1, fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                       : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

int bench_tcp_serve(struct bench_tcp_srv **out, const struct bench_params *p,
                    const struct tern_addr *bind, int core, char *reply, size_t len)
{
	struct bench_tcp_srv *s = calloc(1, sizeof(*s));
	struct tern_addr b = *bind;
	uint16_t port = 0;

	*out = NULL;
	if (!s)
		return snprintf(reply, len, "out of memory"), -1;
	b.port = 0;
	s->p = *p;
	s->core = core;
	s->lfd = bench_tcp_listen(&b, &port);
	if (s->lfd < 0 || pthread_create(&s->th, NULL, srv_main, s) != 0) {
		snprintf(reply, len, "TCP listen: %s", strerror(errno));
		if (s->lfd >= 0)
			close(s->lfd);
		free(s);
		return -1;
	}
	snprintf(reply, len, "port=%u", port);
	*out = s;
	return 0;
}

void bench_tcp_unserve(struct bench_tcp_srv *s, uint64_t st[5])
{
	atomic_store(&s->stop, 1);
	pthread_join(s->th, NULL);
	close(s->lfd);
	st[0] = s->verified, st[1] = s->msgs, st[2] = s->errors, st[3] = 0, st[4] = 1;
	free(s);
}

int bench_tcp_connect(const struct tern_addr *a)
{
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(a, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (fd >= 0)
		nodelay(fd);
	return fd;
}

/* ==== client ==== */

struct tcli {
	const struct bench_params *p;
	struct bench_result *r;
	struct tern_addr addr;
	int core;
	atomic_int done, stop, fd;
	uint64_t t_start, t_end;
};

static void cli_stream(struct tcli *k, int fd)
{
	const struct bench_params *p = k->p;
	uint64_t n = p->mode == MODE_RATE ? p->count : (p->bytes + p->size - 1) / p->size;
	uint8_t res[RESULT_LEN];

	for (uint64_t i = 0; i < n && !atomic_load_explicit(&k->stop, memory_order_relaxed); i++) {
		if (bench_write_all(fd, bench_pat + bench_pat_off(p->seed, 0, i, p->size),
		                    p->size) < 0) {
			snprintf(k->r->err, sizeof(k->r->err), "TCP write: %s", strerror(errno));
			return;
		}
		atomic_fetch_add_explicit(&bench_prog.bytes, p->size, memory_order_relaxed);
		atomic_fetch_add_explicit(&bench_prog.msgs, 1, memory_order_relaxed);
	}
	shutdown(fd, SHUT_WR);
	if (read_all(fd, res, sizeof(res), false) < 0) {
		snprintf(k->r->err, sizeof(k->r->err), "TCP: the server sent no result");
		return;
	}
	k->t_end = bench_now_ns();
	k->r->bytes = bench_get64(res), k->r->msgs = bench_get64(res + 8),
	k->r->errors = bench_get64(res + 16);
	k->r->ok = k->r->errors == 0;
	if (k->r->errors)
		snprintf(k->r->err, sizeof(k->r->err), "%llu messages failed verification",
		         (unsigned long long)k->r->errors);
}

static void cli_pingpong(struct tcli *k, int fd)
{
	const struct bench_params *p = k->p;
	uint8_t buf[65536];

	nodelay(fd);
	for (uint64_t i = 0; i < p->count + BENCH_WARMUP; i++) {
		const uint8_t *m = bench_pat + bench_pat_off(p->seed, 0, i, p->size);
		uint64_t t = bench_now_ns();
		if (atomic_load_explicit(&k->stop, memory_order_relaxed))
			break;
		if (bench_write_all(fd, m, p->size) < 0 || read_all(fd, buf, p->size, p->latency)) {
			snprintf(k->r->err, sizeof(k->r->err), "TCP ping-pong: connection lost");
			return;
		}
		if (memcmp(buf, m, p->size) != 0) {
			snprintf(k->r->err, sizeof(k->r->err), "TCP: an echo differs");
			return;
		}
		if (i >= BENCH_WARMUP)
			bench_hist_add(k->r->hist, bench_now_ns() - t);
		atomic_fetch_add_explicit(&bench_prog.msgs, 1, memory_order_relaxed);
		k->r->msgs++;
	}
	k->t_end = bench_now_ns();
	k->r->ok = true;
}

static void *cli_main(void *arg)
{
	struct tcli *k = arg;
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(&k->addr, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	bench_pin(k->core);
	atomic_store(&k->fd, fd);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		snprintf(k->r->err, sizeof(k->r->err), "TCP connect: %s", strerror(errno));
	} else {
		k->t_start = bench_now_ns();
		if (k->p->mode == MODE_PINGPONG)
			cli_pingpong(k, fd);
		else
			cli_stream(k, fd);
	}
	atomic_store_explicit(&k->done, 1, memory_order_release);
	return NULL; /* the caller closes fd after the join */
}

void bench_tcp_client(const struct bench_params *p, const struct tern_addr *addr, int core,
                      struct bench_result *r)
{
	struct tcli k = {.p = p, .r = r, .addr = *addr, .core = core, .fd = -1};
	uint64_t t0 = bench_now_ns(), deadline = t0 + (uint64_t)(p->seconds * 1e9);
	double cpu0 = bench_cpu_s();
	pthread_t th;

	if (pthread_create(&th, NULL, cli_main, &k) != 0) {
		snprintf(r->err, sizeof(r->err), "cannot create a thread");
		return;
	}
	while (!atomic_load_explicit(&k.done, memory_order_acquire)) {
		uint64_t now = bench_now_ns();
		if (now >= deadline)
			atomic_store(&k.stop, 1);
		if (now >= deadline + GRACE_NS)
			break;
		bench_tick();
		usleep(10000); /* 100 wake-ups a second: few context switches of our own */
	}
	if (!atomic_load_explicit(&k.done, memory_order_acquire)) {
		int fd = atomic_load(&k.fd);
		if (fd >= 0)
			shutdown(fd, SHUT_RDWR); /* unblocks the thread's read or write */
		pthread_join(th, NULL);
		if (fd >= 0)
			close(fd);
		snprintf(r->err, sizeof(r->err), "TCP: no result within 20 s of the time cap");
		r->ok = false;
		return;
	}
	pthread_join(th, NULL);
	if (atomic_load(&k.fd) >= 0)
		close(atomic_load(&k.fd));
	r->cli.cpu_s = bench_cpu_s() - cpu0;
	r->secs = (double)(k.t_end - k.t_start) * 1e-9;
	if (p->mode != MODE_PINGPONG)
		r->cli.packets = r->srv.packets = (r->bytes + 1447) / 1448;
}
