/* tern-bench's server role: a TCP control connection carries one line per
 * request (BEGIN with the test's parameters, END, QUIT) and one line per
 * answer (OK port=... key=..., RESULT cpu=... rss=..., ERR why). Each test
 * gets a fresh engine or TCP listener on an ephemeral port, so its CPU time
 * and RSS growth are the test's alone; RSS is read before the engine stops,
 * while the sessions mode's sessions are still open. The control channel is
 * plain TCP and unauthenticated: it is a benchmark, run it on a lab network.
 * A DPDK test runs in a forked child (bench.h says why) that answers its
 * BEGIN and END on the control connection itself; the parent waits, and
 * answers for a child that died midway, so requests and answers stay paired. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

struct test {
	struct bench_params p;
	struct bench_tern_srv *tern;
	struct bench_tcp_srv *tcp;
	double cpu0;
	uint64_t csw0;
	int64_t rss0;
};

static void reply(int fd, const char *fmt, const char *a, const char *b)
{
	char line[512];
	int n = snprintf(line, sizeof(line), fmt, a, b);

	if (n > 0)
		bench_write_all(fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static void end_test(struct test *t, int fd)
{
	uint64_t st[5] = {0};
	int64_t rss = bench_rss_kb() - t->rss0;
	char line[512];

	if (t->tern)
		bench_tern_unserve(t->tern, st);
	else if (t->tcp)
		bench_tcp_unserve(t->tcp, st);
	else {
		reply(fd, "ERR END without BEGIN%s%s\n", "", "");
		return;
	}
	t->tern = NULL;
	t->tcp = NULL;
	snprintf(line, sizeof(line),
	         "RESULT cpu=%.6f csw=%llu rss=%lld verified=%llu msgs=%llu errors=%llu "
	         "packets=%llu accepted=%llu\n",
	         bench_cpu_s() - t->cpu0, (unsigned long long)(bench_ctxsw() - t->csw0),
	         (long long)rss, (unsigned long long)st[0], (unsigned long long)st[1],
	         (unsigned long long)st[2], (unsigned long long)st[3], (unsigned long long)st[4]);
	if (fd >= 0)
		bench_write_all(fd, line, strlen(line));
}

static void begin_test(struct test *t, char *args, const struct tern_addr *bind, int core, int fd)
{
	static uint64_t seed = 0;
	char out[256];
	int rc;

	if (t->tern || t->tcp)
		end_test(t, -1);
	if (bench_params_parse(args, &t->p) < 0) {
		reply(fd, "ERR bad parameters (client and server versions differ?)%s%s\n", "", "");
		return;
	}
	if (!bench_pat || seed != t->p.seed) {
		seed = t->p.seed;
		bench_pattern_init(seed);
	}
	if (t->p.impl == IMPL_TERN)
		rc = bench_tern_serve(&t->tern, &t->p, bind, core, out, sizeof(out));
	else
		rc = bench_tcp_serve(&t->tcp, &t->p, bind, core, out, sizeof(out));
	t->cpu0 = bench_cpu_s();
	t->csw0 = bench_ctxsw();
	t->rss0 = bench_rss_kb();
	reply(fd, rc < 0 ? "ERR %s%s\n" : "OK %s%s\n", out, "");
}

/* The child: one test, marks on st ('B' BEGIN answered, 'R' END read, 'E'
 * all answered). */
static void dpdk_child(char *args, const struct tern_addr *bind, int core, int fd, int st)
{
	struct test t = {0};
	char line[1024];
	int got;

	begin_test(&t, args, bind, core, fd);
	bench_write_all(st, "B", 1);
	if (t.tern) {
		while ((got = bench_read_line(fd, line, sizeof(line))) >= 0 && strcmp(line, "END"))
			;
		if (got >= 0)
			bench_write_all(st, "R", 1);
		end_test(&t, got >= 0 ? fd : -1);
	}
	bench_write_all(st, "E", 1);
	_exit(0);
}

/* Runs one DPDK test in a child. Returns -1 if the client quit meanwhile. */
static int dpdk_test(char *args, const struct tern_addr *bind, int core, int fd)
{
	char marks[4] = "", line[1024], why[64];
	int st[2], status = 0;
	ssize_t n, got = 0;
	pid_t pid;

	if (!bench_dpdk.on) {
		reply(fd,
		      "ERR this server has no DPDK settings: start it with --backend dpdk "
		      "--dpdk-addr ADDR -- EAL-ARGS (docs/tern-bench.md)%s%s\n",
		      "", "");
		return 0;
	}
	if (pipe(st) < 0 || (pid = fork()) < 0) {
		reply(fd, "ERR cannot fork the DPDK test process: %s%s\n", strerror(errno), "");
		return 0;
	}
	if (pid == 0) {
		close(st[0]);
		dpdk_child(args, bind, core, fd, st[1]);
	}
	close(st[1]);
	while ((n = read(st[0], marks + got, sizeof(marks) - 1 - (size_t)got)) > 0)
		got += n;
	close(st[0]);
	waitpid(pid, &status, 0);
	if (strchr(marks, 'E'))
		return 0;
	snprintf(why, sizeof(why), WIFSIGNALED(status) ? "signal %d" : "exit status %d",
	         WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	if (!strchr(marks, 'B') || strchr(marks, 'R')) {
		reply(fd, "ERR the DPDK test process ended with %s%s\n", why, "");
		return 0;
	}
	if (bench_read_line(fd, line, sizeof(line)) < 0 || strcmp(line, "END"))
		return -1;
	reply(fd, "ERR the DPDK test process ended with %s%s\n", why, "");
	return 0;
}

static bool is_dpdk(const char *args)
{
	const char *b = strstr(args, " backend=");

	return b && atoi(b + 9) == BACKEND_DPDK;
}

static void serve(int fd, const struct tern_addr *bind, int core)
{
	struct test t = {0};
	char line[1024];

	while (bench_read_line(fd, line, sizeof(line)) >= 0) {
		if (strncmp(line, "BEGIN ", 6) == 0 && is_dpdk(line + 5)) {
			if (t.tern || t.tcp)
				end_test(&t, -1);
			if (dpdk_test(line + 6, bind, core, fd) < 0)
				break;
		} else if (strncmp(line, "BEGIN ", 6) == 0)
			begin_test(&t, line + 6, bind, core, fd);
		else if (strcmp(line, "END") == 0)
			end_test(&t, fd);
		else if (strcmp(line, "QUIT") == 0)
			break;
		else
			reply(fd, "ERR unknown request '%s'%s\n", line, "");
	}
	if (t.tern || t.tcp)
		end_test(&t, -1);
}

int bench_server_main(const char *ctl, bool once, int ready_fd, int core)
{
	struct tern_addr a = {.port = 4433};
	char err[200], name[INET6_ADDRSTRLEN];
	uint16_t port;
	int lfd;

	if (bench_parse_hostport(ctl, &a, err, sizeof(err)) < 0) {
		fprintf(stderr, "tern-bench: --server: %s\n", err);
		return 2;
	}
	lfd = bench_tcp_listen(&a, &port);
	if (lfd < 0) {
		fprintf(stderr, "tern-bench: --server: cannot listen on %s: %s\n", ctl,
		        strerror(errno));
		return 1;
	}
	if (ready_fd >= 0) {
		dprintf(ready_fd, "PORT %u\n", port);
	} else {
		inet_ntop(a.family == 6 ? AF_INET6 : AF_INET, a.ip, name, sizeof(name));
		fprintf(stderr,
		        "tern-bench: serving on %s port %u (control over TCP; each test on an "
		        "ephemeral UDP or TCP port); run tern-bench --client ADDR on the other "
		        "host\n",
		        name, port);
	}
	do {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		serve(fd, &a, core);
		close(fd);
	} while (!once);
	close(lfd);
	return 0;
}
