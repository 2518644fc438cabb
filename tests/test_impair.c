/* tern-impair end to end on loopback: a client socket and a server socket in
 * this process, the proxy between them as a child process.
 *
 *   test_impair PATH-TO-TERN-IMPAIR              the checks below
 *   test_impair PATH-TO-TERN-IMPAIR flood S MBIT [SPEC]
 *        throughput for S seconds at MBIT Mbit/s of 1400-byte datagrams,
 *        SPEC both ways (default none): a measurement, not a check
 *
 * Checks: delay per direction (every datagram takes at least the configured
 * one-way delay, the median at most 10 ms more), SIGUSR1 counters, loss rate
 * within 3 points of the profile and the proxy's counters agreeing exactly
 * with what arrived, the rate limit within 10% with the queue bound holding
 * (queue_peak and the worst delay), --duration ending the run by itself,
 * and a bad profile being a usage error. Real time is unavoidable here, so
 * the tolerances are wide; the loss check is exact in its bookkeeping. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/check.h"

#define OUT_MAX 8192

struct proxy {
	pid_t pid;
	int out; /* read end of its stdout */
	uint16_t port;
	char text[OUT_MAX]; /* everything it printed */
	size_t len;
};

static const char *prog;

static uint64_t now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

static int udp_socket(uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0), big = 8 << 20;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return fd;
}

static struct sockaddr_in loopback(uint16_t port)
{
	return (struct sockaddr_in){.sin_family = AF_INET,
	                            .sin_port = htons(port),
	                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
}

/* Reads what the proxy printed, waiting up to ms for more. */
static void read_out(struct proxy *p, int ms)
{
	struct pollfd pf = {.fd = p->out, .events = POLLIN};
	while (p->len < OUT_MAX - 1 && poll(&pf, 1, ms) > 0) {
		ssize_t n = read(p->out, p->text + p->len, OUT_MAX - 1 - p->len);
		if (n <= 0)
			break;
		p->len += (size_t)n;
		p->text[p->len] = '\0';
		ms = 50;
	}
}

/* Starts the proxy in front of server_port with extra arguments (NULL
 * terminated) and reads the port it listens on. */
static int start(struct proxy *p, uint16_t server_port, const char *const *extra)
{
	char fwd[32];
	const char *argv[32] = {prog, "--listen", "127.0.0.1:0", "--forward", fwd};
	int n = 5, pipefd[2];
	snprintf(fwd, sizeof(fwd), "127.0.0.1:%u", server_port);
	while (*extra && n < 31)
		argv[n++] = *extra++;
	if (pipe(pipefd) < 0)
		return -1;
	memset(p, 0, sizeof(*p));
	p->pid = fork();
	if (p->pid == 0) {
		dup2(pipefd[1], 1);
		execv(prog, (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	p->out = pipefd[0];
	for (int tries = 0; tries < 50 && !strchr(p->text, '\n'); tries++)
		read_out(p, 100);
	const char *at = strstr(p->text, "127.0.0.1:");
	p->port = at ? (uint16_t)atoi(at + 10) : 0;
	return p->port ? 0 : -1;
}

/* Waits up to ms for the proxy to exit; returns its exit status or -1. */
static int finish(struct proxy *p, int ms)
{
	int st;
	for (int waited = 0; waited <= ms; waited += 10) {
		read_out(p, 0);
		if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
			read_out(p, 100);
			close(p->out);
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		}
		usleep(10000);
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &st, 0);
	close(p->out);
	return -1;
}

/* The value of key in the last "dir:" counters line printed. */
static long long counter(const struct proxy *p, const char *dir, const char *key)
{
	char pat[64];
	const char *line = NULL;
	snprintf(pat, sizeof(pat), "\n%s: ", dir);
	for (const char *s = strstr(p->text, pat); s; s = strstr(s + 1, pat))
		line = s;
	if (!line)
		return -1;
	snprintf(pat, sizeof(pat), " %s=", key);
	const char *v = strstr(line + 1, pat), *eol = strchr(line + 1, '\n');
	return v && (!eol || v < eol) ? atoll(v + strlen(pat)) : -1;
}

/* Receives one datagram within ms; returns its length or -1. */
static ssize_t recv_wait(int fd, void *buf, size_t cap, int ms, struct sockaddr_in *from)
{
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	socklen_t len = sizeof(*from);
	if (poll(&pf, 1, ms) <= 0)
		return -1;
	return recvfrom(fd, buf, cap, 0, (struct sockaddr *)from, &len);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* ---- delay both ways, SIGUSR1, SIGTERM ---- */

static void test_delay(void)
{
	uint16_t sport, cport;
	int srv = udp_socket(&sport), cli = udp_socket(&cport);
	struct proxy p;
	const char *args[] = {"--up",       "delay=20ms", "--down", "delay=10ms",
	                      "--duration", "30",         NULL};
	CHECK_EQ(start(&p, sport, args), 0);
	struct sockaddr_in to = loopback(p.port), from;
	enum { N = 40 };
	uint64_t up[N], down[N], buf[2];
	int got = 0;
	for (int i = 0; i < N; i++) {
		buf[0] = now_us();
		sendto(cli, buf, sizeof(buf), 0, (struct sockaddr *)&to, sizeof(to));
		if (recv_wait(srv, buf, sizeof(buf), 1000, &from) != sizeof(buf))
			continue;
		up[got] = now_us() - buf[0];
		buf[1] = now_us();
		sendto(srv, buf, sizeof(buf), 0, (struct sockaddr *)&from, sizeof(from));
		if (recv_wait(cli, buf, sizeof(buf), 1000, &from) != sizeof(buf))
			continue;
		down[got++] = now_us() - buf[1];
	}
	CHECK_EQ(got, N);
	qsort(up, (size_t)got, sizeof(up[0]), cmp_u64);
	qsort(down, (size_t)got, sizeof(down[0]), cmp_u64);
	fprintf(stderr, "delay: up min %llu median %llu us, down min %llu median %llu us\n",
	        (unsigned long long)up[0], (unsigned long long)up[got / 2],
	        (unsigned long long)down[0], (unsigned long long)down[got / 2]);
	CHECK(got && up[0] >= 20000 && up[got / 2] <= 30000);
	CHECK(got && down[0] >= 10000 && down[got / 2] <= 20000);
	kill(p.pid, SIGUSR1);
	read_out(&p, 1000);
	CHECK(strstr(p.text, "tern-impair counters:") != NULL);
	CHECK_EQ(counter(&p, "up", "forwarded"), N);
	kill(p.pid, SIGTERM);
	CHECK_EQ(finish(&p, 5000), 0);
	CHECK(strstr(p.text, "tern-impair exit:") != NULL);
	CHECK_EQ(counter(&p, "up", "received"), N);
	CHECK_EQ(counter(&p, "down", "forwarded"), N);
	CHECK(strstr(p.text, "clients=1 ") != NULL);
	close(srv);
	close(cli);
}

/* ---- loss rate, counted exactly ---- */

/* Receives until nothing arrives for quiet_ms; returns the count, and the
 * spread of arrival times and the worst one-way delay (first 8 bytes are the
 * send time) when asked. */
static long drain(int fd, int quiet_ms, uint64_t *span_us, uint64_t *max_delay_us)
{
	uint8_t buf[2048];
	struct sockaddr_in from;
	uint64_t first = 0, last = 0, worst = 0, sent;
	long n = 0;
	while (recv_wait(fd, buf, sizeof(buf), quiet_ms, &from) >= 8) {
		last = now_us();
		first = n++ ? first : last;
		memcpy(&sent, buf, 8);
		worst = last - sent > worst ? last - sent : worst;
	}
	if (span_us)
		*span_us = last - first;
	if (max_delay_us)
		*max_delay_us = worst;
	return n;
}

/* Sends count datagrams of len bytes at about mbit Mbit/s, each stamped
 * with its send time, from a child process (so the caller receives
 * meanwhile); returns the child's pid. */
static pid_t send_paced(int fd, uint16_t port, long count, size_t len, double mbit)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	uint8_t buf[2048] = {0};
	struct sockaddr_in to = loopback(port);
	uint64_t start = now_us();
	for (long i = 0; i < count; i++) {
		uint64_t due = start + (uint64_t)((double)i * (double)len * 8 / mbit);
		while (now_us() < due)
			;
		uint64_t t = now_us();
		memcpy(buf, &t, 8);
		sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to));
	}
	_exit(0);
}

static void test_loss(void)
{
	uint16_t sport, cport;
	int srv = udp_socket(&sport), cli = udp_socket(&cport);
	struct proxy p;
	const char *args[] = {"--up", "loss=20%", "--seed", "7", "--duration", "30", NULL};
	CHECK_EQ(start(&p, sport, args), 0);
	pid_t sender = send_paced(cli, p.port, 4000, 200, 50);
	long n = drain(srv, 300, NULL, NULL);
	waitpid(sender, NULL, 0);
	kill(p.pid, SIGTERM);
	CHECK_EQ(finish(&p, 5000), 0);
	double rate = 1.0 - (double)n / 4000;
	fprintf(stderr, "loss: %ld of 4000 arrived, %.2f%% lost\n", n, 100 * rate);
	CHECK(rate >= 0.17 && rate <= 0.23);
	CHECK_EQ(counter(&p, "up", "received"), 4000);
	CHECK_EQ(counter(&p, "up", "forwarded"), n);
	CHECK_EQ(counter(&p, "up", "loss") + n, 4000);
	close(srv);
	close(cli);
}

/* ---- rate limit with a bounded queue ---- */

static void test_rate(void)
{
	uint16_t sport, cport;
	int srv = udp_socket(&sport), cli = udp_socket(&cport);
	struct proxy p;
	const char *args[] = {"--up", "rate=20mbit,queue=64k", "--duration", "30", NULL};
	CHECK_EQ(start(&p, sport, args), 0);
	uint64_t span, worst;
	pid_t sender = send_paced(cli, p.port, 10000, 1000, 80); /* 1 s at 4x the bottleneck */
	long n = drain(srv, 300, &span, &worst);
	waitpid(sender, NULL, 0);
	kill(p.pid, SIGTERM);
	CHECK_EQ(finish(&p, 5000), 0);
	double mbit = span ? (double)(n - 1) * 1000 * 8 / (double)span : 0;
	fprintf(stderr, "rate: %ld arrived at %.2f Mbit/s, worst delay %llu us, %lld tail drops\n",
	        n, mbit, (unsigned long long)worst, counter(&p, "up", "queue"));
	CHECK(mbit >= 18 && mbit <= 22);
	CHECK(counter(&p, "up", "queue") > 5000);
	CHECK(counter(&p, "up", "queue_peak") <= 65536);
	CHECK(counter(&p, "up", "queue_peak") > 60000);
	/* the queue drains in 26 ms; unbounded it would hold the last datagram
	 * ~3 s. The slack covers this process being descheduled under load. */
	CHECK(worst <= 65536 * 8 / 20 + 100000);
	CHECK_EQ(counter(&p, "up", "forwarded"), n);
	close(srv);
	close(cli);
}

/* ---- --duration, usage errors ---- */

static void test_duration(void)
{
	struct proxy p;
	const char *args[] = {"--both", "delay=1ms", "--duration", "0.5", NULL};
	uint64_t t0 = now_us();
	CHECK_EQ(start(&p, 9, args), 0);
	CHECK_EQ(finish(&p, 5000), 0);
	uint64_t took = now_us() - t0;
	CHECK(took >= 500000 && took < 4000000);
	CHECK(strstr(p.text, "tern-impair exit:") != NULL);
	CHECK_EQ(counter(&p, "up", "received"), 0);

	const char *bad[] = {"--up", "loss=200%", NULL};
	CHECK(start(&p, 9, bad) < 0);
	CHECK_EQ(finish(&p, 5000), 2);
}

/* ---- flood: a throughput measurement, not a check ---- */

static int flood(double seconds, double mbit, const char *spec)
{
	uint16_t sport, cport;
	int srv = udp_socket(&sport), cli = udp_socket(&cport);
	struct proxy p;
	char dur[32];
	snprintf(dur, sizeof(dur), "%g", seconds + 5);
	const char *args[] = {"--duration", dur, spec ? "--both" : NULL, spec, NULL};
	if (start(&p, sport, args) < 0)
		return 1;
	long count = (long)(seconds * mbit * 1e6 / 8 / 1400);
	pid_t child = send_paced(cli, p.port, count, 1400, mbit);
	uint64_t span;
	long n = drain(srv, 500, &span, NULL);
	waitpid(child, NULL, 0);
	kill(p.pid, SIGTERM);
	finish(&p, 5000);
	printf("flood: offered %ld x 1400 B at %.0f Mbit/s; %ld arrived (%.2f%%) at %.1f Mbit/s\n",
	       count, mbit, n, 100.0 * (double)n / (double)count,
	       span ? (double)n * 1400 * 8 / (double)span : 0);
	fputs(p.text, stdout);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: test_impair PATH-TO-TERN-IMPAIR [flood SECONDS MBIT]\n");
		return 2;
	}
	prog = argv[1];
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 5 && strcmp(argv[2], "flood") == 0)
		return flood(atof(argv[3]), atof(argv[4]), argc > 5 ? argv[5] : NULL);
	test_duration();
	test_delay();
	test_loss();
	test_rate();
	return tern_check_result("impair");
}
