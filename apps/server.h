/* tern-server's pieces (apps/tern_server.c and apps/server_*.c): its
 * configuration (flags and an INI file, server_config.c), its structured log
 * (server_log.c), its counters and its three services (server_services.c:
 * echo and discard; server_file.c: files from a directory). Internal to the
 * app. */
#ifndef TERN_APPS_SERVER_H
#define TERN_APPS_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "apps/app_dpdk.h"
#include "tern/tern.h"

#define SERVER_MAX_CORES 64

/* Everything flags and the config file can set. Strings point into argv or
 * into memory owned by the config (freed by server_config_free). */
struct server_config {
	const char *config_path;
	struct tern_addr bind; /* family 0: [::] dual-stack */
	uint16_t port;
	unsigned workers;
	int cores[SERVER_MAX_CORES];
	unsigned ncores;
	bool latency;
	const char *cc;
	enum tern_log_level log_level;
	const char *key_path, *allow_path, *ticket_key_path;
	uint64_t drain_us, idle_us;
	uint16_t echo_vport, discard_vport, file_vport; /* 0: service off */
	const char *root;                               /* the file service's directory */
	struct app_dpdk dpdk; /* --backend, --dpdk-*, EAL arguments after "--" or [dpdk] eal */
	char *owned[32];      /* strings copied from the config file */
	unsigned nowned;
};

/* Parses --config (if any) then every flag over it. Returns 0 to run, -1
 * after --help (exit 0), or 2: a usage error, its message printed. */
int server_config_load(struct server_config *cfg, int argc, char **argv);
void server_config_free(struct server_config *cfg);

/* ---- log: one key=value line per event on stderr ---- */

void server_log_init(enum tern_log_level level);
bool server_log_enabled(enum tern_log_level level);
/* Writes "ts=... level=... event=EVENT " then fmt's fields, as one write. */
__attribute__((format(printf, 3, 4))) void server_log(enum tern_log_level level, const char *event,
                                                      const char *fmt, ...);
/* The engine's log callback (cfg.log). */
void server_log_engine(void *ctx, enum tern_log_level level, const char *msg);
/* Quotes s[0..len) for a log value into out (always NUL-terminated). */
void server_log_quote(char *out, size_t cap, const char *s, size_t len);
/* "1.2.3.4:5" or "[::1]:5". */
void server_log_addr(char *out, size_t cap, const struct tern_addr *a);

/* ---- counters (SIGUSR1), updated by the workers ---- */

/* Relaxed atomics throughout: each is an independent statistic, read only
 * for a report; nothing else is ordered by them. */
struct server_counters {
	atomic_ullong sessions_total, sessions_live, bytes_in, bytes_out;
	atomic_ullong echo_msgs, echo_bytes, echo_dgrams;
	atomic_ullong discard_msgs, discard_bytes, discard_dgrams;
	atomic_ullong file_requests, file_served, file_refused, file_bytes;
};
extern struct server_counters server_counters;
/* SIGUSR1: the server's counters, then the backend's (e may be NULL). */
void server_counters_log(struct tern_engine *e);

/* ---- services ---- */

/* Handlers for the listeners. */
void server_echo_handler(struct tern_handler *h);
void server_discard_handler(struct tern_handler *h);
/* Opens root for the file service and fills h. Returns 0, or -1 with err
 * naming the flag and why. */
int server_file_init(struct tern_handler *h, const char *root, char *err, size_t errlen);
void server_file_free(void);

/* Shared by the services: accept and close events, session counters. */
bool server_session_accept(struct tern_conn *c, const char *service);
void server_session_closed(struct tern_conn *c, const char *service,
                           const struct tern_close_reason *r);

#endif
