/* sockperf: tern's blocking socket API (tern/socket.h) against kernel TCP,
 * measured the way an application uses them: one process per side on
 * loopback, each pinned to its own core, defaults everywhere, and nothing
 * but public headers. It is built in the tree and, by bench/sockperf.sh,
 * against an installed libtern through pkg-config.
 *
 *   sockperf [--seconds S] [--count N] [--inline] [--no-tcp] [MODE...]
 *
 * Modes: bulk (64 KiB messages for S seconds), rate (64-byte messages for S
 * seconds), pingpong (N round trips of 64 bytes). The receiver times from
 * its first byte to its last and reports bytes, messages and its CPU time
 * and context switches to the parent over a pipe; the sender adds its own.
 * Output: one line per test and a table. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <tern/socket.h>

#define BULK_SIZE 65536
#define SMALL_SIZE 64
#define MAX_RTTS 1000000

enum mode { BULK, RATE, PINGPONG, NMODES };
enum impl { TERN, TCP, NIMPLS };
static const char *const mode_names[] = {"bulk", "rate", "pingpong"};
static const char *const impl_names[] = {"tern", "tcp"};

struct opts {
	double seconds;
	unsigned count;
	bool inline_mode, no_tcp;
	bool modes[NMODES];
};

/* What one side measured, sent over the pipe from the receiver. */
struct side {
	uint64_t bytes, msgs;
	double secs;     /* first byte to last byte (receiver), or wall time (sender) */
	double cpu_s;    /* process CPU time, all threads */
	uint64_t ctxsw;  /* context switches, voluntary and involuntary */
	double p50, p99; /* ping-pong round trip, us */
	int ok;
};

struct result {
	struct side rx, tx;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage_of(struct side *s)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	s->cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
	s->ctxsw = (uint64_t)ru.ru_nvcsw + (uint64_t)ru.ru_nivcsw;
}

static void delta(struct side *s, const struct side *start)
{
	struct side end;

	usage_of(&end);
	s->cpu_s = end.cpu_s - start->cpu_s;
	s->ctxsw = end.ctxsw - start->ctxsw;
}

static void pin(int core)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(core, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void percentiles(double *v, unsigned n, struct side *s)
{
	qsort(v, n, sizeof(*v), cmp_double);
	s->p50 = n ? v[n / 2] : 0;
	s->p99 = n ? v[(unsigned)((double)n * 0.99)] : 0;
}

/* ---- the transport, behind four calls ---- */

struct conn {
	enum impl impl;
	struct tern_engine *e;
	struct tern_socket *s;
	int fd;
};

static int xsend(struct conn *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (c->impl == TERN)
		return tern_socket_send(c->s, buf, len);
	while (len) {
		ssize_t n = write(c->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One message: tern keeps boundaries; TCP reads exactly len bytes. Returns
 * the length, 0 at the end, or < 0. */
static ssize_t xrecv(struct conn *c, void *buf, size_t len)
{
	size_t got = 0;

	if (c->impl == TERN)
		return tern_socket_recv(c->s, buf, len, TERN_FOREVER);
	while (got < len) {
		ssize_t n = read(c->fd, (uint8_t *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return got ? (ssize_t)got : n;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static void xclose(struct conn *c)
{
	if (c->impl == TERN) {
		tern_socket_close(c->s);
		tern_engine_stop(c->e, 2000000);
		tern_engine_free(c->e);
	} else {
		shutdown(c->fd, SHUT_WR);
		close(c->fd);
	}
}

static struct tern_engine *engine(const struct opts *o, uint16_t port)
{
	struct tern_engine_cfg cfg;
	struct tern_engine *e;
	char err[256];

	tern_engine_cfg_default(&cfg);
	cfg.bind.family = 4;
	cfg.bind.ip[0] = 127;
	cfg.bind.ip[3] = 1;
	cfg.bind.port = port;
	cfg.inline_mode = o->inline_mode;
	if (tern_engine_new(&e, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "sockperf: engine: %s\n", err);
		return NULL;
	}
	if (tern_engine_start(e) < 0) {
		fprintf(stderr, "sockperf: start: %s\n", tern_engine_errmsg(e));
		tern_engine_free(e);
		return NULL;
	}
	return e;
}

/* The server's listening end; its address goes to the client over `ctl`. */
static int serve_accept(enum impl impl, const struct opts *o, int ctl, struct conn *c)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	uint8_t hello[2 + TERN_KEY_LEN];
	int one = 1, lfd;

	c->impl = impl;
	if (impl == TERN) {
		struct tern_socket_listener *ls;
		if (!(c->e = engine(o, 0)) || tern_socket_listen(c->e, 1, &ls) < 0)
			return -1;
		hello[0] = (uint8_t)(tern_engine_port(c->e) >> 8);
		hello[1] = (uint8_t)tern_engine_port(c->e);
		tern_engine_public_key(c->e, hello + 2);
		if (write(ctl, hello, sizeof(hello)) != sizeof(hello))
			return -1;
		if (tern_socket_accept(ls, 10000000, &c->s) < 0)
			return -1;
		tern_socket_listener_close(ls);
		return 0;
	}
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &al) < 0)
		return -1;
	memset(hello, 0, sizeof(hello));
	memcpy(hello, &a.sin_port, 2);
	if (write(ctl, hello, sizeof(hello)) != sizeof(hello))
		return -1;
	c->fd = accept(lfd, NULL, NULL);
	close(lfd);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return c->fd < 0 ? -1 : 0;
}

static int dial(enum impl impl, const struct opts *o, int ctl, struct conn *c)
{
	uint8_t hello[2 + TERN_KEY_LEN];
	int one = 1;

	c->impl = impl;
	if (read(ctl, hello, sizeof(hello)) != sizeof(hello))
		return -1;
	if (impl == TERN) {
		struct tern_addr to = {.family = 4, .ip = {127, 0, 0, 1}};
		struct tern_reason why;
		to.port = (uint16_t)(hello[0] << 8 | hello[1]);
		if (!(c->e = engine(o, 0)))
			return -1;
		if (tern_socket_connect(c->e, &to, 1, hello + 2, 10000000, &c->s, &why) < 0) {
			fprintf(stderr, "sockperf: connect: %s\n", why.what ? why.what : "failed");
			return -1;
		}
		return 0;
	}
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	memcpy(&a.sin_port, hello, 2);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

/* ---- the workloads ---- */

/* Receiver of bulk and rate: counts until the sender's end. */
static void sink(struct conn *c, size_t size, struct side *s)
{
	static uint8_t buf[BULK_SIZE];
	double first = 0, last = 0;
	ssize_t n;

	while ((n = xrecv(c, buf, size)) > 0) {
		last = now_s();
		if (!s->msgs)
			first = last;
		s->bytes += (uint64_t)n;
		s->msgs++;
	}
	s->secs = last - first;
	s->ok = s->msgs > 0;
}

static void source(struct conn *c, size_t size, double seconds, struct side *s)
{
	static uint8_t buf[BULK_SIZE];
	double t0 = now_s(), end = t0 + seconds;
	unsigned k = 0;

	memset(buf, 0x5a, sizeof(buf));
	for (;;) {
		if ((++k & 63) == 0 && now_s() >= end)
			break;
		if (xsend(c, buf, size) < 0)
			return;
		s->bytes += size;
		s->msgs++;
	}
	s->secs = now_s() - t0;
	s->ok = 1;
}

static void echo(struct conn *c, struct side *s)
{
	uint8_t buf[SMALL_SIZE];
	ssize_t n;

	while ((n = xrecv(c, buf, sizeof(buf))) > 0 && xsend(c, buf, (size_t)n) == 0)
		s->msgs++;
	s->ok = 1;
}

static void ping(struct conn *c, unsigned count, struct side *s)
{
	uint8_t buf[SMALL_SIZE] = {1};
	double *rtt = calloc(count, sizeof(*rtt));
	unsigned i;

	if (!rtt)
		return;
	for (i = 0; i < count; i++) {
		double t = now_s();
		if (xsend(c, buf, sizeof(buf)) < 0 || xrecv(c, buf, sizeof(buf)) != sizeof(buf))
			break;
		rtt[i] = (now_s() - t) * 1e6;
	}
	s->msgs = i;
	s->ok = i == count;
	percentiles(rtt, i, s);
	free(rtt);
}

/* ---- one test: a server child and the client here ---- */

static void server_child(enum mode m, enum impl impl, const struct opts *o, int ctl, int res)
{
	struct conn c;
	struct side s = {0}, start;

	pin(0);
	usage_of(&start);
	if (serve_accept(impl, o, ctl, &c) == 0) {
		if (m == PINGPONG)
			echo(&c, &s);
		else
			sink(&c, m == BULK ? BULK_SIZE : SMALL_SIZE, &s);
		xclose(&c);
	}
	delta(&s, &start);
	if (write(res, &s, sizeof(s)) != sizeof(s))
		_exit(1);
	_exit(0);
}

static int run(enum mode m, enum impl impl, const struct opts *o, struct result *r)
{
	int ctl[2], res[2], status;
	struct conn c;
	struct side start;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	if (pipe(ctl) < 0 || pipe(res) < 0)
		return -1;
	pid = fork();
	if (pid == 0)
		server_child(m, impl, o, ctl[1], res[1]);
	pin(1);
	usage_of(&start);
	if (pid > 0 && dial(impl, o, ctl[0], &c) == 0) {
		if (m == PINGPONG)
			ping(&c, o->count, &r->tx);
		else
			source(&c, m == BULK ? BULK_SIZE : SMALL_SIZE, o->seconds, &r->tx);
		xclose(&c);
	}
	delta(&r->tx, &start);
	if (read(res[0], &r->rx, sizeof(r->rx)) != sizeof(r->rx))
		r->rx.ok = 0;
	if (pid > 0)
		waitpid(pid, &status, 0);
	close(ctl[0]), close(ctl[1]), close(res[0]), close(res[1]);
	return r->rx.ok && r->tx.ok ? 0 : -1;
}

/* ---- output ---- */

static double gbps(const struct result *r)
{
	return r->rx.secs > 0 ? (double)r->rx.bytes * 8 / r->rx.secs / 1e9 : 0;
}

static double rate(const struct result *r)
{
	return r->rx.secs > 0 ? (double)r->rx.msgs / r->rx.secs : 0;
}

static double cpu_per_gib(const struct result *r)
{
	return r->rx.bytes ? (r->rx.cpu_s + r->tx.cpu_s) / ((double)r->rx.bytes / (1u << 30)) : 0;
}

static void line(enum mode m, enum impl i, const struct result *r, int rc)
{
	if (rc < 0) {
		printf("sockperf: %s/%s FAILED\n", mode_names[m], impl_names[i]);
		return;
	}
	if (m == PINGPONG)
		printf("sockperf: pingpong/%s: p50 %.1f us, p99 %.1f us over %llu round trips; "
		       "%llu context switches\n",
		       impl_names[i], r->tx.p50, r->tx.p99, (unsigned long long)r->tx.msgs,
		       (unsigned long long)(r->tx.ctxsw + r->rx.ctxsw));
	else
		printf("sockperf: %s/%s: %.2f Gbit/s, %.3f M msgs/s, %.2f CPU-s/GiB, %llu context "
		       "switches, %llu bytes in %.2f s\n",
		       mode_names[m], impl_names[i], gbps(r), rate(r) / 1e6, cpu_per_gib(r),
		       (unsigned long long)(r->tx.ctxsw + r->rx.ctxsw),
		       (unsigned long long)r->rx.bytes, r->rx.secs);
	fflush(stdout);
}

static void table(const struct opts *o, struct result rs[NMODES][NIMPLS], int rcs[NMODES][NIMPLS])
{
	printf("\nsockperf (tern/socket.h, %s, vs kernel TCP; loopback, one process per side)\n",
	       o->inline_mode ? "inline engine" : "one worker thread");
	printf("  %-28s %12s %12s %8s\n", "", "tern", "TCP", "ratio");
	for (int m = 0; m < NMODES; m++) {
		const struct result *t = &rs[m][TERN], *k = &rs[m][TCP];
		double a, b;
		if (!o->modes[m] || rcs[m][TERN] < 0)
			continue;
		a = m == BULK ? gbps(t) : m == RATE ? rate(t) / 1e6 : t->tx.p50;
		b = o->no_tcp || rcs[m][TCP] < 0 ? 0
		    : m == BULK                  ? gbps(k)
		    : m == RATE                  ? rate(k) / 1e6
		                                 : k->tx.p50;
		printf("  %-28s %12.2f %12.2f %8.2fx\n",
		       m == BULK   ? "bulk, Gbit/s"
		       : m == RATE ? "64-B messages, M/s"
		                   : "ping-pong p50, us",
		       a, b, b > 0 ? a / b : 0);
		if (m == BULK)
			printf("  %-28s %12.2f %12.2f\n", "  CPU s per GiB, both", cpu_per_gib(t),
			       b > 0 ? cpu_per_gib(k) : 0);
		if (m == PINGPONG)
			printf("  %-28s %12.1f %12.1f\n", "  p99, us", t->tx.p99,
			       b > 0 ? k->tx.p99 : 0);
	}
}

static int parse(int argc, char **argv, struct opts *o)
{
	bool any = false;

	*o = (struct opts){.seconds = 4, .count = 100000};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--seconds") && i + 1 < argc)
			o->seconds = atof(argv[++i]);
		else if (!strcmp(a, "--count") && i + 1 < argc)
			o->count = (unsigned)atoi(argv[++i]);
		else if (!strcmp(a, "--inline"))
			o->inline_mode = true;
		else if (!strcmp(a, "--no-tcp"))
			o->no_tcp = true;
		else if (!strcmp(a, "bulk") || !strcmp(a, "rate") || !strcmp(a, "pingpong"))
			o->modes[a[0] == 'b' ? BULK : a[0] == 'r' ? RATE : PINGPONG] = any = true;
		else {
			fprintf(stderr,
			        "usage: sockperf [--seconds S] [--count N] [--inline] [--no-tcp] "
			        "[bulk] [rate] [pingpong]\n");
			return -1;
		}
	}
	if (o->seconds <= 0 || o->count == 0 || o->count > MAX_RTTS) {
		fprintf(stderr, "sockperf: --seconds must be > 0, --count 1..%d\n", MAX_RTTS);
		return -1;
	}
	if (!any)
		o->modes[BULK] = o->modes[RATE] = o->modes[PINGPONG] = true;
	return 0;
}

int main(int argc, char **argv)
{
	struct result rs[NMODES][NIMPLS];
	int rcs[NMODES][NIMPLS], failed = 0;
	struct opts o;

	if (parse(argc, argv, &o) < 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	for (int m = 0; m < NMODES; m++) {
		for (int i = 0; i < NIMPLS; i++) {
			rcs[m][i] = -1;
			if (!o.modes[m] || (i == TCP && o.no_tcp))
				continue;
			rcs[m][i] = run((enum mode)m, (enum impl)i, &o, &rs[m][i]);
			line((enum mode)m, (enum impl)i, &rs[m][i], rcs[m][i]);
			failed |= rcs[m][i] < 0;
		}
	}
	table(&o, rs, rcs);
	return failed ? 1 : 0;
}
