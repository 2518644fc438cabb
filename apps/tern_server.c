/* tern-server: echo, discard and file services over tern, for operators and
 * for testing a deployment end to end (docs/tern-server.md).
 *
 * The main thread owns the process: it reads the configuration
 * (server_config.c), loads the keys, starts the engine, then sleeps in
 * poll() on a signalfd. Signals are blocked in every thread (the engine's
 * threads inherit the mask), so no handler ever runs and nothing calls the
 * library from signal context: SIGUSR1 logs the counters, the first
 * SIGTERM or SIGINT starts a graceful drain on a helper thread (so the main
 * thread keeps answering signals), and a second one exits at once. The
 * services themselves run on the engine's workers (server_services.c,
 * server_file.c). Exit status: 0 after a drain, 1 on a runtime failure, 2
 * on a usage error. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "apps/server.h"
#include "crypto/encode.h"

#define PROG "tern-server"
#define MAX_ALLOW 65536

/* The allow-list: sorted public keys, read-only once the engine runs (the
 * control thread searches it). */
struct allow_list {
	uint8_t (*keys)[TERN_KEY_LEN];
	size_t n;
};

struct server {
	struct server_config cfg;
	struct tern_engine *e;
	struct allow_list allow;
	uint8_t ticket_key[TERN_KEY_LEN];
	int sfd, done_fd;
	uint64_t drain_us;
	int drain_rc;
};

static int fail(const char *fmt, const char *a, const char *b)
{
	fputs(PROG ": ", stderr);
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
	return 1;
}

/* ---- keys ---- */

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, TERN_KEY_LEN);
}

static bool allow_key(void *ctx, const uint8_t pub[TERN_KEY_LEN])
{
	const struct allow_list *l = ctx;

	return bsearch(pub, l->keys, l->n, TERN_KEY_LEN, key_cmp) != NULL;
}

/* One base64 public key per line; blank lines and # comments are skipped. */
static int load_allow(struct allow_list *l, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];
	unsigned lineno = 0;

	if (!f)
		return fail("--allow %s: %s", path, strerror(errno));
	l->keys = calloc(MAX_ALLOW, TERN_KEY_LEN);
	while (l->keys && fgets(line, sizeof(line), f)) {
		char *s = line + strspn(line, " \t");
		lineno++;
		s[strcspn(s, "#\r\n")] = '\0';
		for (size_t n = strlen(s); n && (s[n - 1] == ' ' || s[n - 1] == '\t');)
			s[--n] = '\0';
		if (!*s)
			continue;
		if (l->n == MAX_ALLOW || tern_key_parse(s, l->keys[l->n]) < 0) {
			fprintf(stderr,
			        PROG ": --allow %s:%u: not a base64 public key (one per line, as "
			             "'tern-keygen pubkey' prints it), or more than %d keys\n",
			        path, lineno, MAX_ALLOW);
			fclose(f);
			return 1;
		}
		l->n++;
	}
	fclose(f);
	if (!l->keys)
		return fail("--allow %s: %s", path, "out of memory");
	qsort(l->keys, l->n, TERN_KEY_LEN, key_cmp);
	return 0;
}

static int load_keys(struct server *s, struct tern_engine_cfg *ec)
{
	char err[256];

	if (s->cfg.key_path) {
		if (tern_key_load(s->cfg.key_path, ec->identity_priv, err, sizeof(err)) < 0)
			return fail("--key %s", err, "");
		ec->has_identity = true;
	} else {
		server_log(TERN_LOG_WARN, "ephemeral-key",
		           "msg=\"no --key: a fresh key pair for this run only\"");
	}
	if (s->cfg.ticket_key_path) {
		if (tern_key_load(s->cfg.ticket_key_path, s->ticket_key, err, sizeof(err)) < 0)
			return fail("--ticket-key %s", err, "");
		ec->ticket_key = s->ticket_key;
	}
	if (s->cfg.allow_path) {
		if (load_allow(&s->allow, s->cfg.allow_path) != 0)
			return 1;
		ec->allow = allow_key;
		ec->allow_ctx = &s->allow;
	}
	return 0;
}

/* ---- the engine ---- */

static void engine_cfg(struct server *s, struct tern_engine_cfg *ec)
{
	const struct server_config *c = &s->cfg;

	tern_engine_cfg_default(ec);
	ec->workers = c->workers;
	ec->cores = c->ncores ? c->cores : NULL;
	ec->ncores = c->ncores;
	ec->bind = c->bind;
	ec->bind.port = c->port;
	ec->latency_mode = c->latency;
	ec->cc = c->cc;
	ec->idle_timeout_us = c->idle_us;
	if (ec->keepalive_us > c->idle_us / 3)
		ec->keepalive_us = c->idle_us / 3;
	ec->send_buffer = 2u << 20; /* two file chunks: the next is queued while one drains */
	ec->log = server_log_engine;
	app_dpdk_apply(&c->dpdk, ec);
}

static int listen_on(struct server *s, uint16_t vport, const struct tern_handler *h,
                     const char *name)
{
	char v[16];

	if (!vport)
		return 0;
	if (tern_listen(s->e, vport, 0, h) == 0)
		return 0;
	snprintf(v, sizeof(v), "%u", vport);
	return fail("--%s-vport %s: the vport is taken by another service; give each its own", name,
	            v);
}

static int start_services(struct server *s)
{
	struct tern_handler echo, discard, file;
	char err[PATH_MAX + 64];

	server_echo_handler(&echo);
	server_discard_handler(&discard);
	if (listen_on(s, s->cfg.echo_vport, &echo, "echo") ||
	    listen_on(s, s->cfg.discard_vport, &discard, "discard"))
		return 1;
	if (!s->cfg.root)
		return 0;
	if (server_file_init(&file, s->cfg.root, err, sizeof(err)) < 0)
		return fail("%s%s", err, "");
	return listen_on(s, s->cfg.file_vport, &file, "file");
}

static void log_listening(struct server *s)
{
	uint8_t pub[TERN_KEY_LEN];
	char key[TERN_BASE64_LEN(TERN_KEY_LEN)], addr[64], root[256] = "-";
	struct tern_addr a = s->cfg.bind;

	tern_engine_public_key(s->e, pub);
	tern_base64_encode(key, sizeof(key), pub, TERN_KEY_LEN);
	a.port = tern_engine_port(s->e);
	if (!a.family)
		snprintf(addr, sizeof(addr), "[::]:%u", a.port);
	else
		server_log_addr(addr, sizeof(addr), &a);
	if (s->cfg.root)
		server_log_quote(root, sizeof(root), s->cfg.root, strlen(s->cfg.root));
	server_log(TERN_LOG_INFO, "listening",
	           "port=%u key=%s addr=%s workers=%u echo=%u discard=%u file=%u root=%s", a.port,
	           key, addr, s->cfg.workers, s->cfg.echo_vport, s->cfg.discard_vport,
	           s->cfg.root ? s->cfg.file_vport : 0, root);
}

static int start_engine(struct server *s)
{
	struct tern_engine_cfg ec;
	char err[256];

	engine_cfg(s, &ec);
	if (load_keys(s, &ec) != 0)
		return 1;
	if (tern_engine_new(&s->e, &ec, err, sizeof(err)) < 0)
		return fail("cannot start: %s%s", err, "");
	if (start_services(s) != 0)
		return 1;
	if (tern_engine_start(s->e) < 0)
		return fail("cannot start: %s%s", tern_engine_errmsg(s->e), "");
	log_listening(s);
	return 0;
}

/* ---- signals and the drain ---- */

static int block_signals(struct server *s)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return fail("signals: %s%s", strerror(errno), "");
	s->sfd = signalfd(-1, &set, SFD_CLOEXEC);
	s->done_fd = eventfd(0, EFD_CLOEXEC);
	if (s->sfd < 0 || s->done_fd < 0)
		return fail("signalfd: %s%s", strerror(errno), "");
	return 0;
}

static void *drain_main(void *arg)
{
	struct server *s = arg;
	uint64_t one = 1;
	ssize_t w;

	s->drain_rc = tern_engine_stop(s->e, s->drain_us);
	w = write(s->done_fd, &one, sizeof(one)); /* an eventfd add of 1 cannot fail */
	(void)w;
	return NULL;
}

/* Returns the exit status once the drain is over or a second signal came. */
static int serve(struct server *s)
{
	struct pollfd p[2] = {{.fd = s->sfd, .events = POLLIN},
	                      {.fd = s->done_fd, .events = POLLIN}};
	struct signalfd_siginfo si;
	pthread_t th = 0;
	bool draining = false;

	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return fail("poll: %s%s", strerror(errno), "");
		if (p[1].revents & POLLIN) {
			pthread_join(th, NULL);
			server_log(s->drain_rc == 0 ? TERN_LOG_INFO : TERN_LOG_WARN, "stopped",
			           "drained=%s", s->drain_rc == 0 ? "all" : "timeout");
			return 0;
		}
		if (!(p[0].revents & POLLIN) || read(s->sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGUSR1) {
			server_counters_log(s->e);
		} else if (draining) {
			server_log(TERN_LOG_WARN, "abort",
			           "signal=%s msg=\"second signal: exit now\"",
			           strsignal((int)si.ssi_signo));
			_exit(1);
		} else {
			draining = true;
			server_log(TERN_LOG_INFO, "drain", "signal=%s timeout_ms=%llu",
			           strsignal((int)si.ssi_signo),
			           (unsigned long long)s->drain_us / 1000);
			if (pthread_create(&th, NULL, drain_main, s) != 0)
				return fail("drain: cannot create a thread%s%s", "", "");
		}
	}
}

int main(int argc, char **argv)
{
	static struct server s = {.sfd = -1, .done_fd = -1};
	int rc = server_config_load(&s.cfg, argc, argv);

	if (rc)
		return rc < 0 ? 0 : rc;
	server_log_init(s.cfg.log_level);
	s.drain_us = s.cfg.drain_us;
	rc = block_signals(&s);
	if (rc == 0)
		rc = start_engine(&s);
	if (rc == 0)
		rc = serve(&s);
	tern_engine_free(s.e);
	server_file_free();
	free(s.allow.keys);
	explicit_bzero(s.ticket_key, sizeof(s.ticket_key));
	server_config_free(&s.cfg);
	return rc;
}
