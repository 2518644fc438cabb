/* tern-impair: a UDP impairment proxy for anyone's UDP traffic
 * (docs/tern-impair.md).
 *
 *   tern-impair --listen ADDR:PORT --forward ADDR:PORT [--up SPEC] [--down SPEC]
 *               [--both SPEC] [--seed N] [--duration SECONDS]
 *
 * Clients are told apart by source address; each gets its own upstream
 * socket connected to --forward, so the server's replies come back on it and
 * go out of the listening socket to that client. "up" is client -> server,
 * "down" server -> client. SPEC is the simulator's profile syntax
 * (tern_sim_parse_profile), and each direction's decisions are made by the
 * same code as the simulator's (io/impair.c): one impairment state per
 * direction, shared by all clients, as one bottleneck link would be.
 *
 * Why it is shaped so:
 * - One thread, one epoll loop with nanosecond timeouts (epoll_pwait2, timer
 *   slack 1 ns): recvmmsg bursts in, impairment decides each datagram's
 *   arrival time, a binary min-heap on (arrival, sequence) holds it, and due
 *   datagrams leave in sendmmsg batches grouped by socket. That keeps the
 *   syscalls per packet well under one at 1 Gbit/s of 1400-byte datagrams.
 * - Held datagrams live in one bounded pool (--max-held); the heap is sized
 *   to it up front, so nothing grows after warm-up and a full pool drops the
 *   datagram (counted), as a router out of buffers would.
 * - Time is microseconds since start, so blackhole=2s-4s means 2 to 4 s into
 *   the run, as in the simulator.
 * - Counters go to stdout at exit and on SIGUSR1; SIGINT and SIGTERM end the
 *   run early. Exit status: 0 ran, 1 setup failed, 2 usage error. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/pool.h"
#include "io/impair.h"

#define PROG "tern-impair"
#define EXIT_USAGE 2
#define BATCH 64
#define SOCK_BUF (8 << 20)
#define EV_LISTEN 0
#define EV_SIGNAL 1
#define EV_CLIENT0 2

enum { UP = 0, DOWN = 1 };

struct opts {
	const char *listen, *forward;
	struct tern_sim_path_cfg cfg[2];
	uint64_t seed;
	double duration;
	unsigned max_clients;
	size_t max_held, max_dgram;
};

struct client {
	struct sockaddr_storage addr; /* its source address */
	socklen_t addrlen;
	int fd; /* upstream socket, connected to --forward */
};

/* A datagram waiting to arrive; from the pool, owned by the heap until sent. */
struct held {
	tern_time at;
	uint64_t seq; /* arrival ties keep receive order */
	struct client *c;
	uint8_t dir;
	uint32_t len;
	uint8_t data[];
};

struct proxy {
	struct opts o;
	int ep, lfd, sigfd;
	struct sockaddr_storage fwd;
	socklen_t fwdlen;
	struct tern_impair_rng rng;
	struct tern_impair imp[2];
	uint64_t send_err[2], rx_err[2];
	struct client *clients; /* max_clients, never moved */
	unsigned nclients;
	uint64_t refused; /* datagrams from new clients beyond --max-clients */
	unsigned *hash;   /* client index + 1 per slot, 0 = empty */
	size_t hash_cap;
	struct tern_pool pool;
	struct held **heap;
	size_t nheap;
	uint64_t seq;
	struct timespec t0;
	tern_time end;
	uint8_t *rxbuf; /* BATCH * max_dgram */
	bool stop;
};

static const char usage_text[] =
        "usage: " PROG " --listen ADDR:PORT --forward ADDR:PORT [options]\n"
        "\n"
        "  --listen ADDR:PORT    where clients send (port 0: pick one, printed at start)\n"
        "  --forward ADDR:PORT   the server; each client gets its own socket to it\n"
        "  --up SPEC             impairment client -> server\n"
        "  --down SPEC           impairment server -> client\n"
        "  --both SPEC           the same as --up SPEC --down SPEC\n"
        "  --seed N              random seed (default 1)\n"
        "  --duration SECONDS    run time (default 60), then print counters and exit\n"
        "  --max-clients N       source addresses tracked (default 256)\n"
        "  --max-held N          datagrams held in flight at once (default 65536)\n"
        "  --max-datagram N      largest datagram carried in bytes (default 2048)\n"
        "\n"
        "SPEC is tern-sim's profile syntax, e.g. rate=10mbit,delay=25ms,jitter=2ms,\n"
        "loss=1%,burst=1%/30%/50%,reorder=5%,reorder_delay=3ms,dup=1%,corrupt=0.1%,\n"
        "queue=64k (or 1bdp),mtu=1200,blackhole=2s-4s. Counters are printed at exit\n"
        "and on SIGUSR1; SIGINT/SIGTERM end the run. Exit: 0 ok, 1 failed, 2 usage.\n";

/* ---- small helpers ---- */

static tern_time elapsed_us(const struct proxy *px)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	int64_t ns =
	        (int64_t)(t.tv_sec - px->t0.tv_sec) * 1000000000 + (t.tv_nsec - px->t0.tv_nsec);
	return ns > 0 ? (tern_time)ns / 1000 : 0;
}

/* Splits "host:port" or "[v6]:port" and resolves it (numeric or a name). */
static int resolve(const char *text, struct sockaddr_storage *ss, socklen_t *len, bool passive)
{
	char host[256];
	const char *colon = strrchr(text, ':');
	if (!colon || (size_t)(colon - text) >= sizeof(host) || !colon[1])
		return -1;
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	char *h = host;
	size_t hl = strlen(h);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h[hl - 1] = '\0';
		h++;
	}
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = passive ? AI_PASSIVE : 0};
	struct addrinfo *res;
	if (getaddrinfo(*h ? h : NULL, colon + 1, &hints, &res) != 0)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void format_addr(const struct sockaddr_storage *ss, socklen_t len, char *out, size_t n)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];
	if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof(host), port, sizeof(port),
	                NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(out, n, "?");
	else
		snprintf(out, n, ss->ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

static void set_bufs(int fd)
{
	int v = SOCK_BUF;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
}

static int epoll_add(struct proxy *px, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
	return epoll_ctl(px->ep, EPOLL_CTL_ADD, fd, &ev);
}

/* ---- the heap of held datagrams, on (at, seq) ---- */

static bool held_before(const struct held *a, const struct held *b)
{
	return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

/* The heap has room for every pool object, so a push never fails. */
static void heap_push(struct proxy *px, struct held *h)
{
	size_t i = px->nheap++;
	while (i > 0 && held_before(h, px->heap[(i - 1) / 2])) {
		px->heap[i] = px->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	px->heap[i] = h;
}

static struct held *heap_pop(struct proxy *px)
{
	struct held *top = px->heap[0], *last = px->heap[--px->nheap];
	size_t i = 0, n = px->nheap;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && held_before(px->heap[c + 1], px->heap[c]))
			c++;
		if (!held_before(px->heap[c], last))
			break;
		px->heap[i] = px->heap[c];
		i = c;
	}
	if (n > 0)
		px->heap[i] = last;
	return top;
}

/* ---- clients, by source address ---- */

static size_t addr_hash(const struct sockaddr_storage *ss)
{
	const uint8_t *p;
	size_t n;
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		p = (const uint8_t *)&s6->sin6_addr;
		n = 16;
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		p = (const uint8_t *)&s4->sin_addr;
		n = 4;
	}
	uint64_t h = 0xcbf29ce484222325ull ^ ((const struct sockaddr_in *)ss)->sin_port;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return (size_t)(h ^ (h >> 29));
}

static bool addr_eq(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
	return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
}

/* Opens the client's upstream socket. Returns 0 or -1. */
static int client_open(struct proxy *px, struct client *c)
{
	c->fd = socket(px->fwd.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	set_bufs(c->fd);
	if (connect(c->fd, (struct sockaddr *)&px->fwd, px->fwdlen) < 0 ||
	    epoll_add(px, c->fd, EV_CLIENT0 + (uint64_t)(c - px->clients)) < 0) {
		close(c->fd);
		return -1;
	}
	return 0;
}

/* Finds the client with this source address, adding it if there is room.
 * Returns NULL (counted) when --max-clients are tracked or a socket failed. */
static struct client *client_get(struct proxy *px, const struct sockaddr_storage *from,
                                 socklen_t len)
{
	size_t mask = px->hash_cap - 1, i = addr_hash(from) & mask;
	for (; px->hash[i]; i = (i + 1) & mask)
		if (addr_eq(&px->clients[px->hash[i] - 1].addr, from))
			return &px->clients[px->hash[i] - 1];
	if (px->nclients == px->o.max_clients) {
		px->refused++;
		return NULL;
	}
	struct client *c = &px->clients[px->nclients];
	memcpy(&c->addr, from, len);
	c->addrlen = len;
	if (client_open(px, c) < 0) {
		px->refused++;
		return NULL;
	}
	px->hash[i] = ++px->nclients;
	return c;
}

/* ---- impairment: the same call sequence as io/sim.c's tern_sim_send ---- */

static void schedule_copy(struct proxy *px, struct client *c, int dir, tern_time depart,
                          const uint8_t *data, size_t len)
{
	struct tern_impair *p = &px->imp[dir];
	tern_time at = tern_impair_arrival(p, depart);
	struct held *h = tern_pool_get(&px->pool);
	if (!h) {
		p->stats.dropped_pool++;
		return;
	}
	*h = (struct held){
	        .at = at, .seq = px->seq++, .c = c, .dir = (uint8_t)dir, .len = (uint32_t)len};
	memcpy(h->data, data, len);
	tern_impair_corrupt(p, h->data, len);
	heap_push(px, h);
}

static void offer(struct proxy *px, struct client *c, int dir, const uint8_t *data, size_t len,
                  tern_time now)
{
	struct tern_impair *p = &px->imp[dir];
	tern_time depart;
	if (tern_impair_admit(p, now, len, &depart) != TERN_IMPAIR_PASS)
		return;
	schedule_copy(px, c, dir, depart, data, len);
	if (tern_impair_duplicate(p))
		schedule_copy(px, c, dir, depart, data, len);
}

/* ---- receiving ---- */

/* Reads one burst from fd: the listening socket (c NULL, direction up) or
 * client c's upstream socket (direction down). Truncated datagrams report
 * their real length (MSG_TRUNC) and are dropped by the MTU check. */
static void recv_burst(struct proxy *px, int fd, struct client *c)
{
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_storage from[BATCH];
	int dir = c ? DOWN : UP;
	for (unsigned i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){px->rxbuf + i * px->o.max_dgram, px->o.max_dgram};
		msgs[i].msg_hdr = (struct msghdr){.msg_name = c ? NULL : &from[i],
		                                  .msg_namelen = c ? 0 : sizeof(from[i]),
		                                  .msg_iov = &iov[i],
		                                  .msg_iovlen = 1};
	}
	int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT | MSG_TRUNC, NULL);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			px->rx_err[dir]++; /* e.g. ECONNREFUSED: no server yet */
		return;
	}
	tern_time now = elapsed_us(px);
	for (int i = 0; i < n; i++) {
		struct client *cl = c ? c : client_get(px, &from[i], msgs[i].msg_hdr.msg_namelen);
		if (cl)
			offer(px, cl, dir, iov[i].iov_base, msgs[i].msg_len, now);
	}
}

/* ---- sending ---- */

static int held_fd(const struct proxy *px, const struct held *h)
{
	return h->dir == UP ? h->c->fd : px->lfd;
}

/* Sends k datagrams on fd (all the same socket), counting each one
 * delivered or failed, and returns them to the pool. */
static void send_group(struct proxy *px, int fd, struct mmsghdr *msgs, struct held **g, int k)
{
	for (int i = 0; i < k;) {
		int n = sendmmsg(fd, msgs + i, (unsigned)(k - i), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) { /* the first one failed: count it and go on */
			px->send_err[g[i]->dir]++;
			n = 1;
		} else {
			for (int j = i; j < i + n; j++) {
				px->imp[g[j]->dir].stats.delivered++;
				px->imp[g[j]->dir].stats.bytes_delivered += g[j]->len;
			}
		}
		i += n;
	}
	for (int i = 0; i < k; i++)
		tern_pool_put(&px->pool, g[i]);
}

/* Sends a batch of due datagrams, one sendmmsg run per socket, each
 * socket's datagrams in arrival order. */
static void send_batch(struct proxy *px, struct held **b, unsigned n)
{
	bool done[BATCH] = {false};
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct held *g[BATCH];
	for (unsigned i = 0; i < n; i++) {
		if (done[i])
			continue;
		int fd = held_fd(px, b[i]), k = 0;
		for (unsigned j = i; j < n; j++) {
			if (done[j] || held_fd(px, b[j]) != fd)
				continue;
			done[j] = true;
			struct client *c = b[j]->c;
			iov[k] = (struct iovec){b[j]->data, b[j]->len};
			msgs[k].msg_hdr =
			        (struct msghdr){.msg_name = b[j]->dir == UP ? NULL : &c->addr,
			                        .msg_namelen = b[j]->dir == UP ? 0 : c->addrlen,
			                        .msg_iov = &iov[k],
			                        .msg_iovlen = 1};
			g[k++] = b[j];
		}
		send_group(px, fd, msgs, g, k);
	}
}

static void flush_due(struct proxy *px, tern_time now)
{
	struct held *batch[BATCH];
	unsigned n;
	do {
		n = 0;
		while (n < BATCH && px->nheap && px->heap[0]->at <= now)
			batch[n++] = heap_pop(px);
		if (n)
			send_batch(px, batch, n);
	} while (n == BATCH);
}

/* ---- counters ---- */

static void print_dir(const struct proxy *px, int dir, size_t held_now)
{
	const struct tern_sim_path_stats *s = &px->imp[dir].stats;
	printf("%s: received=%" PRIu64 " forwarded=%" PRIu64 " bytes=%" PRIu64 " loss=%" PRIu64
	       " burst=%" PRIu64 " queue=%" PRIu64 " mtu=%" PRIu64 " blackhole=%" PRIu64
	       " dup=%" PRIu64 " corrupt=%" PRIu64 " reorder=%" PRIu64 " queue_peak=%zu"
	       " pool=%" PRIu64 " send_err=%" PRIu64 " rx_err=%" PRIu64 " held=%zu\n",
	       dir == UP ? "up" : "down", s->sent, s->delivered, s->bytes_delivered,
	       s->dropped_loss, s->dropped_burst, s->dropped_queue, s->dropped_mtu,
	       s->dropped_blackhole, s->duplicated, s->corrupted, s->reordered, s->queue_peak,
	       s->dropped_pool, px->send_err[dir], px->rx_err[dir], held_now);
}

static void print_stats(const struct proxy *px, const char *when)
{
	size_t held[2] = {0, 0};
	for (size_t i = 0; i < px->nheap; i++)
		held[px->heap[i]->dir]++;
	printf("%s %s: %.3f s, clients=%u refused=%" PRIu64 "\n", PROG, when,
	       (double)elapsed_us(px) / 1e6, px->nclients, px->refused);
	print_dir(px, UP, held[UP]);
	print_dir(px, DOWN, held[DOWN]);
	fflush(stdout);
}

/* ---- the loop ---- */

static void on_signal(struct proxy *px)
{
	struct signalfd_siginfo si;
	while (read(px->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGUSR1)
			print_stats(px, "counters");
		else
			px->stop = true;
	}
}

static void wait_events(struct proxy *px, tern_time now)
{
	tern_time until = px->nheap ? TERN_MIN(px->heap[0]->at, px->end) : px->end;
	tern_time d = until > now ? until - now : 0;
	struct timespec ts = {.tv_sec = (time_t)(d / 1000000),
	                      .tv_nsec = (long)(d % 1000000) * 1000};
	struct epoll_event ev[16];
	int n = epoll_pwait2(px->ep, ev, 16, &ts, NULL);
	for (int i = 0; i < n; i++) {
		uint64_t tag = ev[i].data.u64;
		if (tag == EV_LISTEN)
			recv_burst(px, px->lfd, NULL);
		else if (tag == EV_SIGNAL)
			on_signal(px);
		else
			recv_burst(px, px->clients[tag - EV_CLIENT0].fd,
			           &px->clients[tag - EV_CLIENT0]);
	}
}

static void run(struct proxy *px)
{
	for (;;) {
		tern_time now = elapsed_us(px);
		flush_due(px, now);
		if (px->stop || now >= px->end)
			break;
		wait_events(px, now);
	}
}

/* ---- setup ---- */

static int open_listen(struct proxy *px)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char text[128];
	if (resolve(px->o.listen, &ss, &len, true) < 0) {
		fprintf(stderr, PROG ": --listen %s: expected ADDR:PORT\n", px->o.listen);
		return -1;
	}
	px->lfd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (px->lfd < 0 || bind(px->lfd, (struct sockaddr *)&ss, len) < 0 ||
	    getsockname(px->lfd, (struct sockaddr *)&ss, &len) < 0 ||
	    epoll_add(px, px->lfd, EV_LISTEN) < 0) {
		fprintf(stderr, PROG ": --listen %s: %s\n", px->o.listen, strerror(errno));
		return -1;
	}
	set_bufs(px->lfd);
	format_addr(&ss, len, text, sizeof(text));
	printf("%s: listening on %s", PROG, text);
	format_addr(&px->fwd, px->fwdlen, text, sizeof(text));
	printf(", forwarding to %s for %.3f s\n", text, px->o.duration);
	fflush(stdout);
	return 0;
}

static int open_signals(struct proxy *px)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	px->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return px->sigfd < 0 ? -1 : epoll_add(px, px->sigfd, EV_SIGNAL);
}

static int alloc_state(struct proxy *px)
{
	const struct opts *o = &px->o;
	for (px->hash_cap = 16; px->hash_cap < 2 * (size_t)o->max_clients;)
		px->hash_cap *= 2;
	px->clients = calloc(o->max_clients, sizeof(*px->clients));
	px->hash = calloc(px->hash_cap, sizeof(*px->hash));
	px->heap = calloc(o->max_held, sizeof(*px->heap));
	px->rxbuf = malloc(BATCH * o->max_dgram);
	if (!px->clients || !px->hash || !px->heap || !px->rxbuf ||
	    tern_pool_init(&px->pool, sizeof(struct held) + o->max_dgram, 0, o->max_held) < 0) {
		fprintf(stderr, PROG ": out of memory\n");
		return -1;
	}
	return 0;
}

static int setup(struct proxy *px)
{
	if (resolve(px->o.forward, &px->fwd, &px->fwdlen, false) < 0) {
		fprintf(stderr, PROG ": --forward %s: expected ADDR:PORT\n", px->o.forward);
		return -1;
	}
	tern_impair_rng_seed(&px->rng, px->o.seed);
	for (int d = UP; d <= DOWN; d++) {
		tern_impair_configure(&px->imp[d], &px->o.cfg[d], px->o.max_dgram);
		px->imp[d].rng = &px->rng;
	}
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* wake for delayed datagrams on time */
	px->ep = epoll_create1(EPOLL_CLOEXEC);
	if (px->ep < 0 || alloc_state(px) < 0 || open_signals(px) < 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &px->t0);
	px->end = (tern_time)(px->o.duration * 1e6);
	return open_listen(px);
}

static void teardown(struct proxy *px)
{
	while (px->nheap)
		tern_pool_put(&px->pool, heap_pop(px));
	for (unsigned i = 0; i < px->nclients; i++)
		close(px->clients[i].fd);
	if (px->pool.max)
		tern_pool_destroy(&px->pool);
	free(px->clients);
	free(px->hash);
	free(px->heap);
	free(px->rxbuf);
}

/* ---- options ---- */

static int parse_spec(struct opts *o, int opt, const char *spec)
{
	struct tern_sim_path_cfg cfg;
	char err[200];
	if (tern_sim_parse_profile(spec, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": --%s '%s': %s\n",
		        opt == 'u'   ? "up"
		        : opt == 'd' ? "down"
		                     : "both",
		        spec, err);
		return -1;
	}
	if (opt != 'd')
		o->cfg[UP] = cfg;
	if (opt != 'u')
		o->cfg[DOWN] = cfg;
	return 0;
}

/* Parses a whole number in [lo, hi]; returns -1 if it is not one. */
static int parse_count(const char *name, const char *v, double lo, double hi, double *out)
{
	char *end;
	double x = strtod(v, &end);
	if (end == v || *end || !(x >= lo && x <= hi)) {
		fprintf(stderr, PROG ": --%s %s: expected a number from %g to %g\n", name, v, lo,
		        hi);
		return -1;
	}
	*out = x;
	return 0;
}

static int parse_number_opt(struct opts *o, const char *name, const char *v)
{
	double x;
	if (strcmp(name, "seed") == 0) {
		char *end;
		errno = 0;
		o->seed = strtoull(v, &end, 0);
		if (errno || end == v || *end) {
			fprintf(stderr, PROG ": --seed %s: expected a whole number\n", v);
			return -1;
		}
		return 0;
	}
	if (strcmp(name, "duration") == 0)
		return parse_count(name, v, 0.001, 31536000, &o->duration);
	if (strcmp(name, "max-clients") == 0 && parse_count(name, v, 1, 65536, &x) == 0)
		o->max_clients = (unsigned)x;
	else if (strcmp(name, "max-held") == 0 && parse_count(name, v, 1, 1 << 24, &x) == 0)
		o->max_held = (size_t)x;
	else if (strcmp(name, "max-datagram") == 0 && parse_count(name, v, 1, 65535, &x) == 0)
		o->max_dgram = (size_t)x;
	else
		return -1;
	return 0;
}

static const struct option long_opts[] = {
        {"listen", required_argument, NULL, 'l'},   {"forward", required_argument, NULL, 'f'},
        {"up", required_argument, NULL, 'u'},       {"down", required_argument, NULL, 'd'},
        {"both", required_argument, NULL, 'b'},     {"seed", required_argument, NULL, 'n'},
        {"duration", required_argument, NULL, 'n'}, {"max-clients", required_argument, NULL, 'n'},
        {"max-held", required_argument, NULL, 'n'}, {"max-datagram", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
};

/* Returns 0, 1 (--help shown) or -1 (usage error, reported). */
static int parse_args(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.seed = 1,
	                   .duration = 60,
	                   .max_clients = 256,
	                   .max_held = 65536,
	                   .max_dgram = 2048};
	int c, idx;
	while ((c = getopt_long(argc, argv, "h", long_opts, &idx)) != -1) {
		if (c == 'h')
			return 1;
		if (c == 'l')
			o->listen = optarg;
		else if (c == 'f')
			o->forward = optarg;
		else if (c == 'u' || c == 'd' || c == 'b') {
			if (parse_spec(o, c, optarg) < 0)
				return -1;
		} else if (c != 'n' || parse_number_opt(o, long_opts[idx].name, optarg) < 0) {
			return -1;
		}
	}
	if (optind < argc || !o->listen || !o->forward) {
		fprintf(stderr, PROG ": %s\n",
		        optind < argc ? "unexpected argument"
		                      : "--listen and --forward are required");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct proxy px;
	int rc = parse_args(argc, argv, &px.o);
	if (rc != 0) {
		fputs(usage_text, rc > 0 ? stdout : stderr);
		return rc > 0 ? 0 : EXIT_USAGE;
	}
	px.lfd = px.sigfd = px.ep = -1;
	if (setup(&px) < 0) {
		teardown(&px);
		return 1;
	}
	run(&px);
	print_stats(&px, "exit");
	teardown(&px);
	return 0;
}
