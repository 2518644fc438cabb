/* The blocking socket-style API (tern/socket.h) on loopback, over IPv4 and
 * IPv6: an echo server and client with messages of 1 byte to 1 MiB, a
 * receive buffer too small (TERN_ETOOBIG, the size, nothing lost), receive
 * timeouts, a graceful close and an abort as the peer sees them, a refused
 * connect and a connect that times out. Every wait is bounded; nothing
 * asserts on elapsed time. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/check.h"
#include "tern/socket.h"

#define VPORT 7
#define SEC 1000000u
#define BIG (1u << 20)

static const size_t sizes[] = {1,    2,    15,    16,    17,     100,    1000,   1452,
                               1453, 4096, 65535, 65536, 100000, 262144, 262145, BIG};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static struct tern_engine *engine(int family)
{
	struct tern_engine_cfg cfg;
	struct tern_engine *e = NULL;
	char err[256];

	tern_engine_cfg_default(&cfg);
	cfg.bind = (struct tern_addr){.family = (uint8_t)family};
	if (family == 4)
		memcpy(cfg.bind.ip, (uint8_t[]){127, 0, 0, 1}, 4);
	else
		cfg.bind.ip[15] = 1; /* ::1 */
	cfg.ipv6_only = family == 6;
	cfg.handshake_timeout_us = 2 * SEC;
	if (tern_engine_new(&e, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "engine (IPv%d): %s\n", family, err);
		return NULL;
	}
	if (tern_engine_start(e) != 0) {
		tern_engine_free(e);
		return NULL;
	}
	return e;
}

static struct tern_addr addr_of(struct tern_engine *e, int family)
{
	struct tern_addr a = {.family = (uint8_t)family, .port = tern_engine_port(e)};

	if (family == 4)
		memcpy(a.ip, (uint8_t[]){127, 0, 0, 1}, 4);
	else
		a.ip[15] = 1;
	return a;
}

static void fill(uint8_t *buf, size_t len, size_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)((i * 131u + seed * 7u) >> 3);
}

/* ---- the server: echoes every message of every session it accepts ---- */

struct server {
	struct tern_socket_listener *ls;
	int sessions;              /* how many to serve */
	atomic_int echoed;         /* messages sent back */
	atomic_int last_rc;        /* the last recv's result */
	atomic_int fin_rc;         /* echoing the client's end of data (1: never asked) */
	struct tern_reason why[2]; /* how each session ended */
};

static void serve_one(struct server *sv, struct tern_socket *s, uint8_t *buf, int i)
{
	ssize_t n;

	while ((n = tern_socket_recv(s, buf, BIG, 20 * SEC)) >= 0) {
		if (n == 0) /* the client's end of data: echo that too */
			atomic_store(&sv->fin_rc, tern_handle_finish(tern_socket_handle(s), 0));
		else if (tern_socket_send(s, buf, (size_t)n) == 0)
			atomic_fetch_add(&sv->echoed, 1);
	}
	atomic_store(&sv->last_rc, (int)n);
	tern_socket_reason(s, &sv->why[i]);
	tern_socket_close(s);
}

static void *server_main(void *arg)
{
	struct server *sv = arg;
	uint8_t *buf = malloc(BIG);
	struct tern_socket *s;

	for (int i = 0; i < sv->sessions && buf; i++) {
		if (tern_socket_accept(sv->ls, 10 * SEC, &s) != 0)
			break;
		serve_one(sv, s, buf, i);
	}
	free(buf);
	return NULL;
}

/* ---- the client ---- */

static int echo_sizes(struct tern_socket *s, uint8_t *out, uint8_t *in)
{
	int good = 0;

	for (size_t i = 0; i < NSIZES; i++) {
		size_t len = sizes[i];
		fill(out, len, i);
		CHECK_EQ(tern_socket_send(s, out, len), 0);
		if (len > 1) { /* too small a buffer first: nothing is lost */
			CHECK_EQ(tern_socket_recv(s, in, len - 1, 10 * SEC), TERN_ETOOBIG);
			CHECK_EQ(tern_socket_next_size(s), len);
		}
		CHECK_EQ(tern_socket_recv(s, in, BIG, 10 * SEC), (ssize_t)len);
		good += memcmp(in, out, len) == 0;
	}
	return good;
}

static void run_family(int family)
{
	struct tern_engine *srv = engine(family), *cli = engine(family);
	struct server sv = {.sessions = 2, .fin_rc = 1};
	struct tern_addr a;
	uint8_t key[TERN_KEY_LEN], *out = malloc(BIG), *in = malloc(BIG);
	struct tern_socket *s = NULL;
	struct tern_socket_listener *dup;
	struct tern_reason why;
	pthread_t th;

	if (!srv || !cli) {
		fprintf(stderr, "socket: no IPv%d loopback here; skipping that family\n", family);
		tern_engine_free(srv);
		tern_engine_free(cli);
		free(out);
		free(in);
		return;
	}
	a = addr_of(srv, family);
	tern_engine_public_key(srv, key);
	CHECK_EQ(tern_socket_listen(srv, VPORT, &sv.ls), 0);
	CHECK_EQ(tern_socket_listen(srv, VPORT, &dup), TERN_EINVAL);
	pthread_create(&th, NULL, server_main, &sv);

	/* session 1: every size, timeouts, a graceful close */
	CHECK_EQ(tern_socket_connect(cli, &a, VPORT, key, 5 * SEC, &s, NULL), 0);
	if (s) {
		CHECK_EQ(echo_sizes(s, out, in), (int)NSIZES);
		/* half-close: the server echoes the end of data; next_size must not
		 * swallow it, recv reports it once (0), then the session stays open */
		CHECK_EQ(tern_handle_finish(tern_socket_handle(s), 0), 0);
		for (int i = 0; i < 200; i++) {
			CHECK_EQ(tern_socket_next_size(s), 0);
			usleep(1000);
		}
		CHECK_EQ(tern_socket_recv(s, in, BIG, 10 * SEC), 0);
		CHECK_EQ(tern_socket_recv(s, in, BIG, 0), TERN_EAGAIN);
		CHECK_EQ(tern_socket_recv(s, in, BIG, 20000), TERN_ETIMEDOUT);
		CHECK_EQ(tern_socket_next_size(s), 0);
		CHECK_EQ(tern_socket_reason(s, &why), TERN_ESTATE);
		CHECK_EQ(tern_socket_close(s), 0);
	}
	/* session 2: the client aborts with a code and a reason */
	CHECK_EQ(tern_socket_connect(cli, &a, VPORT, key, 5 * SEC, &s, NULL), 0);
	if (s) {
		CHECK_EQ(tern_socket_send(s, "last", 4), 0);
		CHECK_EQ(tern_socket_recv(s, in, BIG, 10 * SEC), 4);
		CHECK_EQ(tern_handle_abort(tern_socket_handle(s), 7, "done"), 0);
		CHECK_EQ(tern_socket_recv(s, in, BIG, 10 * SEC), TERN_ECLOSED);
		CHECK_EQ(tern_socket_send(s, "x", 1), TERN_ECLOSED);
		CHECK_EQ(tern_socket_close(s), TERN_ECLOSED);
	}
	pthread_join(th, NULL);
	CHECK_EQ(atomic_load(&sv.echoed), (int)NSIZES + 1);
	CHECK_EQ(atomic_load(&sv.last_rc), TERN_ECLOSED);
	CHECK_EQ(atomic_load(&sv.fin_rc), 0);
	CHECK(sv.why[0].remote && !sv.why[0].app && sv.why[0].code == 0);
	CHECK(sv.why[1].remote && sv.why[1].app && sv.why[1].code == 7);
	CHECK(strcmp(sv.why[1].text, "done") == 0);

	/* refused: nobody listens on vport 8 */
	CHECK_EQ(tern_socket_connect(cli, &a, VPORT + 1, key, 5 * SEC, &s, &why), TERN_ECLOSED);
	CHECK(s == NULL);
	CHECK_EQ(why.code, TERN_CONNECT_REFUSED);
	tern_socket_listener_close(sv.ls);
	CHECK_EQ(tern_engine_stop(cli, 5 * SEC), 0);
	CHECK_EQ(tern_engine_stop(srv, 5 * SEC), 0);
	tern_engine_free(cli);
	tern_engine_free(srv);
	free(out);
	free(in);
}

/* A UDP socket that never answers: connects time out. The handshake gives
 * up after the engine's handshake_timeout_us (2 s), before the caller's 5 s;
 * a handle's own wait can also end first while the connect goes on. Every
 * connect is waited out: the engine is never freed with one pending. */
static void connect_timeout(void)
{
	struct tern_engine *cli = engine(4);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct tern_connect_opts o = {.vport = VPORT, .server_pub = {9}};
	struct tern_addr a = {.family = 4, .ip = {127, 0, 0, 1}};
	struct tern_socket *s = NULL;
	struct tern_handle *h = NULL;
	struct tern_reason why;

	if (!cli || fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) != 0) {
		CHECK(0);
		tern_engine_free(cli);
		return;
	}
	a.port = ntohs(sin.sin_port);
	CHECK_EQ(tern_socket_connect(cli, &a, VPORT, o.server_pub, 5 * SEC, &s, &why),
	         TERN_ETIMEDOUT);
	CHECK(s == NULL);
	CHECK_EQ(why.err, TERN_ETIMEDOUT);
	CHECK_EQ(why.code, TERN_CONNECT_TIMEOUT);
	o.addr = a;
	CHECK_EQ(tern_handle_connect_async(cli, &o, &h), 0);
	if (h) {
		CHECK_EQ(tern_handle_wait_open(h, 50000), TERN_EAGAIN);
		CHECK_EQ(tern_handle_state(h), TERN_HANDLE_CONNECTING);
		CHECK_EQ(tern_handle_send(h, 0, "x", 1), TERN_ESTATE);
		CHECK_EQ(tern_handle_max_datagram(h), 0);
		CHECK_EQ(tern_handle_wait_open(h, 10 * SEC), TERN_ECLOSED);
		CHECK_EQ(tern_handle_reason(h, &why), 0);
		CHECK_EQ(why.err, TERN_ETIMEDOUT);
		tern_handle_release(h);
	}
	close(fd);
	tern_engine_free(cli);
}

int main(void)
{
	struct tern_engine *probe = engine(4);

	if (!probe) {
		fprintf(stderr, "socket: cannot open io_uring sockets here; skipping\n");
		return 77;
	}
	tern_engine_free(probe);
	run_family(4);
	run_family(6);
	connect_timeout();
	return tern_check_result("socket");
}
