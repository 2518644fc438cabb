/* Inline engines (cfg.inline_mode) on loopback: no threads of the
 * engine's own, every call driven by the thread that uses it. A server
 * thread and the main thread each own one inline engine and talk through
 * the socket API: ping-pong, messages of 1 byte to 1 MiB echoed and
 * verified, a 4 MiB burst of 64-byte messages (coalesced) counted and
 * verified, receive timeouts, a graceful close the server sees after every
 * message, and the misuses: inline with two workers, tern_engine_poll on a
 * threaded engine or from a second thread. Every wait is bounded; nothing
 * asserts on elapsed time. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"
#include "tern/socket.h"

#define VPORT 9
#define SEC 1000000u
#define BIG (1u << 20)
#define SMALL_MSGS 65536 /* 4 MiB of 64-byte messages */

static const size_t sizes[] = {1, 16, 17, 1000, 1452, 1453, 65536, 100000, BIG};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define PINGS 1000

static struct tern_engine *engine(bool inline_mode, unsigned workers)
{
	struct tern_engine_cfg cfg;
	struct tern_engine *e = NULL;
	char err[256];

	tern_engine_cfg_default(&cfg);
	cfg.bind = (struct tern_addr){.family = 4, .ip = {127, 0, 0, 1}};
	cfg.inline_mode = inline_mode;
	cfg.workers = workers;
	cfg.handshake_timeout_us = 2 * SEC;
	if (tern_engine_new(&e, &cfg, err, sizeof(err)) != 0) {
		if (workers == 1)
			fprintf(stderr, "engine: %s\n", err);
		return NULL;
	}
	if (tern_engine_start(e) != 0) {
		tern_engine_free(e);
		return NULL;
	}
	return e;
}

static void fill(uint8_t *buf, size_t len, size_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)((i * 131u + seed * 7u) >> 3);
}

/* ---- the server thread: its own inline engine, an echo of everything ---- */

struct server {
	atomic_int ready; /* 1: port and key published; -1: failed */
	uint16_t port;
	uint8_t key[TERN_KEY_LEN];
	atomic_int echoed, last_rc, stop_rc;
	atomic_int foreign_rc; /* tern_engine_poll from the main thread, while we own it */
	struct tern_engine *e;
};

static void *server_main(void *arg)
{
	struct server *sv = arg;
	struct tern_socket_listener *ls = NULL;
	struct tern_socket *s = NULL;
	uint8_t *buf = malloc(BIG);
	ssize_t n = TERN_ENOMEM;

	sv->e = engine(true, 1);
	if (!sv->e || !buf || tern_socket_listen(sv->e, VPORT, &ls) != 0) {
		atomic_store(&sv->ready, -1);
		free(buf);
		tern_engine_free(sv->e);
		return NULL;
	}
	sv->port = tern_engine_port(sv->e);
	tern_engine_public_key(sv->e, sv->key);
	CHECK_EQ(tern_engine_poll(sv->e, 0), 0); /* this thread owns it from now on */
	atomic_store(&sv->ready, 1);
	if (tern_socket_accept(ls, 10 * SEC, &s) == 0) {
		while ((n = tern_socket_recv(s, buf, BIG, 20 * SEC)) > 0)
			if (tern_socket_send(s, buf, (size_t)n) == 0)
				atomic_fetch_add(&sv->echoed, 1);
		tern_socket_close(s);
	}
	atomic_store(&sv->last_rc, (int)n);
	tern_socket_listener_close(ls);
	atomic_store(&sv->stop_rc, tern_engine_stop(sv->e, 5 * SEC));
	tern_engine_free(sv->e);
	free(buf);
	return NULL;
}

/* ---- the client: the main thread ---- */

static void ping_pong(struct tern_socket *s)
{
	uint8_t out[64], in[64];
	int good = 0;

	for (int i = 0; i < PINGS; i++) {
		fill(out, sizeof(out), (size_t)i);
		if (tern_socket_send(s, out, sizeof(out)) != 0 ||
		    tern_socket_recv(s, in, sizeof(in), 10 * SEC) != (ssize_t)sizeof(in))
			break;
		good += memcmp(in, out, sizeof(in)) == 0;
	}
	CHECK_EQ(good, PINGS);
}

static void echo_sizes(struct tern_socket *s, uint8_t *out, uint8_t *in)
{
	int good = 0;

	for (size_t i = 0; i < NSIZES; i++) {
		fill(out, sizes[i], i);
		CHECK_EQ(tern_socket_send(s, out, sizes[i]), 0);
		CHECK_EQ(tern_socket_recv(s, in, BIG, 10 * SEC), (ssize_t)sizes[i]);
		good += memcmp(in, out, sizes[i]) == 0;
	}
	CHECK_EQ(good, (int)NSIZES);
}

/* A burst of small messages sent before any is read: the engine coalesces
 * them and the echoes come back in order, each intact. */
static void burst(struct tern_socket *s)
{
	uint8_t out[64], in[64];
	int sent = 0, got = 0, good = 0;

	while (got < SMALL_MSGS) {
		while (sent < SMALL_MSGS && sent - got < 4096) {
			fill(out, sizeof(out), (size_t)sent);
			if (tern_socket_send(s, out, sizeof(out)) != 0)
				break;
			sent++;
		}
		if (tern_socket_recv(s, in, sizeof(in), 10 * SEC) != (ssize_t)sizeof(in))
			break;
		fill(out, sizeof(out), (size_t)got++);
		good += memcmp(in, out, sizeof(in)) == 0;
	}
	CHECK_EQ(got, SMALL_MSGS);
	CHECK_EQ(good, SMALL_MSGS);
}

static void misuse(struct server *sv)
{
	struct tern_engine *threaded = engine(false, 1);

	CHECK(engine(true, 2) == NULL); /* inline runs one worker */
	CHECK_EQ(tern_engine_poll(threaded, 0), TERN_ESTATE);
	CHECK(strstr(tern_engine_errmsg(threaded), "inline_mode") != NULL);
	tern_engine_free(threaded);
	atomic_store(&sv->foreign_rc, tern_engine_poll(sv->e, 0)); /* owned by the server */
}

int main(void)
{
	struct server sv = {.last_rc = 1, .stop_rc = 1};
	struct tern_engine *cli = engine(true, 1);
	struct tern_addr a = {.family = 4, .ip = {127, 0, 0, 1}};
	uint8_t *out = malloc(BIG), *in = malloc(BIG);
	struct tern_socket *s = NULL;
	pthread_t th;

	if (!cli) {
		fprintf(stderr, "inline: cannot open io_uring sockets here; skipping\n");
		return 77;
	}
	pthread_create(&th, NULL, server_main, &sv);
	while (atomic_load(&sv.ready) == 0)
		tern_engine_poll(cli, 1000); /* nothing to do yet: a 1 ms wait */
	CHECK_EQ(atomic_load(&sv.ready), 1);
	a.port = sv.port;
	misuse(&sv);
	CHECK_EQ(atomic_load(&sv.foreign_rc), TERN_ESTATE);
	if (atomic_load(&sv.ready) == 1 &&
	    tern_socket_connect(cli, &a, VPORT, sv.key, 5 * SEC, &s, NULL) == 0) {
		ping_pong(s);
		echo_sizes(s, out, in);
		burst(s);
		CHECK_EQ(tern_socket_recv(s, in, BIG, 0), TERN_EAGAIN);
		CHECK_EQ(tern_socket_recv(s, in, BIG, 20000), TERN_ETIMEDOUT);
		CHECK_EQ(tern_socket_close(s), 0);
	} else {
		CHECK(0);
	}
	CHECK_EQ(tern_engine_stop(cli, 5 * SEC), 0); /* delivers the close */
	pthread_join(th, NULL);
	CHECK_EQ(atomic_load(&sv.echoed), PINGS + (int)NSIZES + SMALL_MSGS);
	CHECK_EQ(atomic_load(&sv.last_rc), TERN_ECLOSED);
	CHECK_EQ(atomic_load(&sv.stop_rc), 0);
	tern_engine_free(cli);
	free(out);
	free(in);
	return tern_check_result("inline");
}
