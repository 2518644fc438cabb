/* One end of tests/test_dpdk.sh: a tern engine on the DPDK or io_uring
 * backend, as a server (a verifying sink that answers each finished stream
 * with what it counted) or a client (sends a patterned bulk stream and
 * checks the server's count). Uses only the public API (tern/tern.h), so it
 * also shows an application what `--backend dpdk` takes.
 *
 *   test_dpdk_peer server --backend dpdk --bind 10.77.0.1:4433 [--addr2 fd00::1]
 *                  --ready FILE [--stats FILE] --eal <EAL args...>
 *   test_dpdk_peer client --backend uring --connect 10.77.0.1:4433 --key HEX
 *                  --bytes N [--bind ADDR:PORT] [--stats FILE] [--eal <EAL args...>]
 * Either takes --workers N, --cores CPU[,CPU...] (worker i pinned to
 * cores[i % n]: its queue's mbuf pool goes on that CPU's NUMA socket) and,
 * on DPDK, --vlan ID.
 *
 * The server writes "<port> <public key hex>" to FILE when it is up and runs
 * until SIGTERM. The client exits 0 only when the server saw every byte
 * intact. Both write the backend's counters to --stats at exit. */
#include <arpa/inet.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tern/tern.h"

#define CHUNK 16384
#define VPORT 9
#define CLIENT_DEADLINE_S 90

static volatile sig_atomic_t stop_flag;
static atomic_int done;   /* client: 1 ok, -1 failed */
static atomic_int closed; /* server: sessions that ended */

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off ^ (off >> 8) ^ (off >> 16) ^ 0x5a);
}

static int parse_addr(const char *s, struct tern_addr *a)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	size_t hl;

	memset(a, 0, sizeof(*a));
	if (!colon || (s[0] != '[' && strchr(s, ':') != colon)) /* none, or a bare IPv6 */
		colon = s + strlen(s);
	hl = (size_t)(colon - s);
	if (hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	a->port = *colon ? (uint16_t)atoi(colon + 1) : 0;
	if (inet_pton(AF_INET, host, a->ip) == 1)
		a->family = 4;
	else if (inet_pton(AF_INET6, host, a->ip) == 1)
		a->family = 6;
	else
		return -1;
	return 0;
}

/* ---- server: a verifying sink ---- */

struct sink {
	uint64_t off, bad;
};

static bool srv_accept(void *ctx, struct tern_conn *c)
{
	(void)ctx;
	tern_conn_set_user(c, calloc(1, sizeof(struct sink)));
	return tern_conn_user(c) != NULL;
}

static void srv_message(void *ctx, struct tern_conn *c, uint16_t stream, const void *msg,
                        size_t len)
{
	struct sink *s = tern_conn_user(c);
	const uint8_t *p = msg;

	(void)ctx;
	(void)stream;
	for (size_t i = 0; i < len; i++)
		s->bad += p[i] != pattern(s->off + i);
	s->off += len;
}

static void srv_fin(void *ctx, struct tern_conn *c, uint16_t stream)
{
	struct sink *s = tern_conn_user(c);
	char msg[64];
	int n = snprintf(msg, sizeof(msg), "%llu %llu", (unsigned long long)s->off,
	                 (unsigned long long)s->bad);

	(void)ctx;
	tern_send(c, stream, msg, (size_t)n);
	tern_finish(c, stream);
}

static void srv_closed(void *ctx, struct tern_conn *c, const struct tern_close_reason *r)
{
	(void)ctx;
	(void)r;
	free(tern_conn_user(c));
	atomic_fetch_add(&closed, 1);
}

/* ---- client: a patterned bulk sender ---- */

struct bulk {
	uint64_t total, sent;
	bool finished;
};
static struct bulk bulk;

static void pump(struct tern_conn *c)
{
	static uint8_t buf[CHUNK];

	while (bulk.sent < bulk.total) {
		size_t n =
		        (size_t)(bulk.total - bulk.sent < CHUNK ? bulk.total - bulk.sent : CHUNK);
		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(bulk.sent + i);
		int rc = tern_send(c, 0, buf, n);
		if (rc == TERN_EAGAIN)
			return;
		if (rc < 0) {
			fprintf(stderr, "client: send: %s\n", tern_strerror(rc));
			atomic_store(&done, -1);
			return;
		}
		bulk.sent += n;
	}
	if (!bulk.finished) {
		bulk.finished = true;
		tern_finish(c, 0);
	}
}

static void cli_connect(void *ctx, struct tern_conn *c)
{
	(void)ctx;
	pump(c);
}

static void cli_writable(void *ctx, struct tern_conn *c, uint16_t stream)
{
	(void)ctx;
	(void)stream;
	pump(c);
}

static void cli_failed(void *ctx, void *user, const struct tern_close_reason *r)
{
	(void)ctx;
	(void)user;
	fprintf(stderr, "client: connect failed: %s\n", r->what ? r->what : "?");
	atomic_store(&done, -1);
}

static void cli_message(void *ctx, struct tern_conn *c, uint16_t stream, const void *msg,
                        size_t len)
{
	char text[64];
	unsigned long long off = 0, bad = 1;

	(void)ctx;
	(void)stream;
	snprintf(text, sizeof(text), "%.*s", (int)(len < 63 ? len : 63), (const char *)msg);
	sscanf(text, "%llu %llu", &off, &bad);
	printf("server counted %llu bytes, %llu wrong (sent %llu)\n", off, bad,
	       (unsigned long long)bulk.total);
	atomic_store(&done, off == bulk.total && bad == 0 ? 1 : -1);
	tern_close_graceful(c);
}

static void cli_closed(void *ctx, struct tern_conn *c, const struct tern_close_reason *r)
{
	int zero = 0;

	(void)ctx;
	(void)c;
	if (atomic_compare_exchange_strong(&done, &zero, -1))
		fprintf(stderr, "client: closed before the answer: %s\n", r->what ? r->what : "?");
}

/* ---- main ---- */

struct opts {
	const char *mode, *backend, *bind, *addr2, *connect, *key, *ready, *stats;
	unsigned long long bytes;
	unsigned workers, vlan, ncores;
	int cores[16];
	const char *const *eal;
	unsigned neal;
};

static unsigned parse_cores(const char *v, int *cores, unsigned max)
{
	unsigned n = 0;

	for (char *end; *v && n < max; v = *end ? end + 1 : end)
		cores[n++] = (int)strtol(v, &end, 10);
	return n;
}

static int parse(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	if (argc < 2)
		return -1;
	o->mode = argv[1];
	o->backend = "uring";
	for (int i = 2; i < argc; i += 2) { /* flags come in pairs: --name value */
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--eal")) {
			o->eal = (const char *const *)argv + i + 1;
			o->neal = (unsigned)(argc - i - 1);
			break;
		}
		if (!v)
			return -1;
		if (!strcmp(a, "--backend"))
			o->backend = v;
		else if (!strcmp(a, "--bind"))
			o->bind = v;
		else if (!strcmp(a, "--addr2"))
			o->addr2 = v;
		else if (!strcmp(a, "--connect"))
			o->connect = v;
		else if (!strcmp(a, "--key"))
			o->key = v;
		else if (!strcmp(a, "--ready"))
			o->ready = v;
		else if (!strcmp(a, "--stats"))
			o->stats = v;
		else if (!strcmp(a, "--bytes"))
			o->bytes = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--workers"))
			o->workers = (unsigned)atoi(v);
		else if (!strcmp(a, "--vlan"))
			o->vlan = (unsigned)atoi(v);
		else if (!strcmp(a, "--cores"))
			o->ncores = parse_cores(v, o->cores, 16);
		else
			return -1;
	}
	return 0;
}

static void log_cb(void *ctx, enum tern_log_level level, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "tern[%d]: %s\n", (int)level, msg);
}

static int make_engine(const struct opts *o, struct tern_engine **e)
{
	struct tern_engine_cfg cfg;
	char err[256];
	int rc;

	tern_engine_cfg_default(&cfg);
	cfg.log = log_cb;
	cfg.gso = false; /* veth + AF_PACKET: whole-checksum, MTU-sized frames only */
	if (o->bind && parse_addr(o->bind, &cfg.bind) < 0)
		return fprintf(stderr, "bad --bind %s\n", o->bind), -1;
	if (o->addr2 && parse_addr(o->addr2, &cfg.dpdk_addr2) < 0)
		return fprintf(stderr, "bad --addr2 %s\n", o->addr2), -1;
	cfg.workers = o->workers ? o->workers : 1;
	cfg.cores = o->ncores ? o->cores : NULL;
	cfg.ncores = o->ncores;
	if (!strcmp(o->backend, "dpdk")) {
		cfg.backend = TERN_BACKEND_DPDK;
		cfg.dpdk_vlan = (uint16_t)o->vlan;
		cfg.eal_args = o->eal;
		cfg.neal_args = o->neal;
	}
	rc = tern_engine_new(e, &cfg, err, sizeof(err));
	if (rc < 0)
		return fprintf(stderr, "engine: %s (%s)\n", err, tern_strerror(rc)), -1;
	return tern_engine_start(*e) < 0 ? -1 : 0;
}

static void write_stats(struct tern_engine *e, const char *path)
{
	static char buf[65536];
	FILE *f;

	if (!path || !(f = fopen(path, "w")))
		return;
	tern_engine_backend_stats(e, buf, sizeof(buf));
	fputs(buf, f);
	fclose(f);
}

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int server(const struct opts *o)
{
	struct tern_handler h = {.on_accept = srv_accept,
	                         .on_message = srv_message,
	                         .on_stream_fin = srv_fin,
	                         .on_closed = srv_closed};
	struct tern_engine *e;
	uint8_t pub[TERN_KEY_LEN];
	FILE *f;

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (make_engine(o, &e) < 0 || tern_listen(e, VPORT, 0, &h) < 0)
		return 1;
	tern_engine_public_key(e, pub);
	if (!o->ready || !(f = fopen(o->ready, "w")))
		return fprintf(stderr, "server: --ready FILE is required\n"), 1;
	fprintf(f, "%u ", tern_engine_port(e));
	for (int i = 0; i < TERN_KEY_LEN; i++)
		fprintf(f, "%02x", pub[i]);
	fprintf(f, "\n");
	fclose(f);
	while (!stop_flag)
		usleep(20000);
	write_stats(e, o->stats);
	tern_engine_stop(e, 1000000);
	printf("server: %d sessions ended\n", atomic_load(&closed));
	tern_engine_free(e);
	return 0;
}

static int client(const struct opts *o)
{
	struct tern_handler h = {.on_connect = cli_connect,
	                         .on_connect_failed = cli_failed,
	                         .on_message = cli_message,
	                         .on_writable = cli_writable,
	                         .on_closed = cli_closed};
	struct tern_connect_opts co = {.vport = VPORT, .handler = &h};
	struct tern_engine *e;
	int waited = 0, rc;

	if (!o->connect || parse_addr(o->connect, &co.addr) < 0 || !o->key ||
	    strlen(o->key) != 2 * TERN_KEY_LEN)
		return fprintf(stderr, "client: --connect ADDR:PORT and --key HEX are required\n"),
		       1;
	for (int i = 0; i < TERN_KEY_LEN; i++)
		sscanf(o->key + 2 * i, "%2hhx", &co.server_pub[i]);
	bulk.total = o->bytes ? o->bytes : 1 << 20;
	if (make_engine(o, &e) < 0)
		return 1;
	rc = tern_connect(e, &co);
	if (rc < 0)
		fprintf(stderr, "client: connect: %s\n", tern_engine_errmsg(e));
	while (rc == 0 && !atomic_load(&done) && waited++ < CLIENT_DEADLINE_S * 100)
		usleep(10000);
	usleep(100000); /* let the graceful close reach the server */
	write_stats(e, o->stats);
	tern_engine_stop(e, 1000000);
	tern_engine_free(e);
	if (atomic_load(&done) != 1)
		fprintf(stderr, "client: FAILED (%s)\n", atomic_load(&done) ? "error" : "timeout");
	return atomic_load(&done) == 1 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct opts o;

	if (parse(argc, argv, &o) < 0 || (strcmp(o.mode, "server") && strcmp(o.mode, "client"))) {
		fprintf(stderr, "usage: test_dpdk_peer server|client [options] [--eal ARGS...]\n");
		return 2;
	}
	return !strcmp(o.mode, "server") ? server(&o) : client(&o);
}
