/* tern-bench internals: the parameters a client sends the server for one
 * test, the result of a test, the seeded content both sides regenerate, the
 * latency histogram, process measurements and output. The client process
 * runs the workloads and the table; the server process (the same binary with
 * --role server, or --server on another host) answers a line protocol on a
 * TCP control connection: BEGIN k=v..., END, each answered by one line. */
#ifndef TERN_BENCH_H
#define TERN_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "apps/app_dpdk.h"
#include "tern/tern.h"

enum bench_mode { MODE_BULK, MODE_RATE, MODE_PINGPONG, MODE_HANDSHAKE, MODE_SESSIONS, MODE_N };
enum bench_impl { IMPL_TERN, IMPL_TCP };
/* tern's backend for a test (TCP is always the kernel's). */
enum bench_backend { BACKEND_URING, BACKEND_DPDK };

#define BENCH_MAX_STREAMS 15 /* the result comes back on stream `streams` */
#define BENCH_MAX_SIZE (1u << 20)
#define BENCH_PAT_LEN (1u << 20) /* pattern period; offsets are 8-aligned in it */
#define BENCH_WARMUP 100         /* ping-pongs not recorded */

/* One test as the client asks the server for it. */
struct bench_params {
	enum bench_mode mode;
	enum bench_impl impl;
	enum bench_backend backend;
	uint64_t size;     /* message bytes */
	uint64_t count;    /* messages, round trips, handshakes */
	uint64_t bytes;    /* bulk bytes */
	double seconds;    /* cap on the test's duration */
	unsigned streams;  /* 1..BENCH_MAX_STREAMS */
	unsigned sessions; /* sessions mode */
	unsigned workers;
	bool chacha;  /* ChaCha20-Poly1305 instead of AES-256-GCM */
	bool latency; /* engine latency mode (busy-poll), TCP spins likewise */
	char cc[16];
	uint64_t seed;
};

/* A log-linear histogram: exact below 16, then 16 buckets per power of two
 * (about 6% resolution), nanoseconds. */
#define BENCH_HIST_BUCKETS 1024
struct bench_hist {
	uint64_t n, min, max;
	uint64_t b[BENCH_HIST_BUCKETS];
};

/* What one side measured over a test. */
struct bench_side {
	double cpu_s;                     /* process CPU time (all threads) */
	uint64_t packets;                 /* UDP packets sent (client) or received (server) */
	uint64_t packets_in, packets_out; /* the other direction: ACKs, echoes (tern) */
	int64_t rss_kb;                   /* RSS growth over the test */
	uint64_t ctxsw;                   /* context switches (voluntary + involuntary) */
};

struct bench_result {
	struct bench_params p;
	bool ok;
	char err[200];
	double secs;                 /* wall time of the measured part */
	uint64_t bytes;              /* verified by the receiver */
	uint64_t msgs;               /* verified messages, round trips, handshakes, sessions */
	uint64_t errors;             /* content mismatches seen by the receiver */
	uint64_t failed;             /* failed connects */
	uint64_t lost, rtt_us, cwnd; /* the sender's view at the end (tern bulk/rate) */
	/* the sender's controller at the end: smoothed RTT, bandwidth estimate
	 * and pacing rate (bytes/s), bytes in flight (tern_conn_info) */
	uint64_t srtt_us, bw, pacing_rate, inflight;
	struct bench_side cli, srv;
	struct bench_hist *hist; /* ping-pong round trips, or NULL */
	const char *cipher;      /* negotiated (tern), static string */
};

/* ---- shared content and measurements (bench_util.c) ---- */
extern uint8_t *bench_pat;
int bench_pattern_init(uint64_t seed);
size_t bench_pat_off(uint64_t seed, unsigned stream, uint64_t idx, uint64_t size);
uint64_t bench_now_ns(void);
double bench_cpu_s(void);
/* The process's context switches so far, voluntary and involuntary. */
uint64_t bench_ctxsw(void);
int64_t bench_rss_kb(void);
double bench_cpu_mhz(void);
int bench_ncpu(void);
void bench_pin(int core);
void bench_hist_add(struct bench_hist *h, uint64_t ns);
uint64_t bench_hist_pct(const struct bench_hist *h, double p);
int bench_parse_hostport(const char *s, struct tern_addr *a, char *err, size_t errlen);
void bench_params_format(const struct bench_params *p, char *buf, size_t len);
int bench_params_parse(char *line, struct bench_params *p);
const char *bench_mode_name(enum bench_mode m);
int bench_mode_find(const char *name);
int bench_write_all(int fd, const void *buf, size_t len);
/* Reads exactly len bytes (retrying EINTR); -1 on error or end of file. */
int bench_read_all(int fd, void *buf, size_t len);
int bench_read_line(int fd, char *buf, size_t len);
void bench_put64(uint8_t *p, uint64_t v);
uint64_t bench_get64(const uint8_t *p);

/* ---- the receiver's check of the bulk/rate content ---- */
struct bench_rx {
	uint64_t seed, size;
	uint64_t idx[BENCH_MAX_STREAMS + 1];
	uint64_t verified, msgs, errors;
};
/* One whole message on stream; counts it verified or an error. */
void bench_rx_message(struct bench_rx *rx, unsigned stream, const void *m, size_t len);

/* ---- the DPDK backend (tern_bench.c sets it from the flags) ----
 * This side's DPDK settings: the port's address (the engine binds it, port
 * 0 = random), the --dpdk-* flags and the EAL arguments. The EAL starts
 * once per process and a closed port is gone with it (a vdev is released by
 * rte_eth_dev_close), so every DPDK test runs in a forked child of each
 * process: its own EAL, its own port, and the parent stays EAL-free. */
struct bench_dpdk {
	bool on;    /* this process was given --backend dpdk or both */
	bool memif; /* loopback: the port is net_memif (tern-bench's own setup) */
	struct app_dpdk d;
	struct tern_addr addr;
};
extern struct bench_dpdk bench_dpdk;
const char *bench_backend_name(enum bench_backend b);

/* ---- workloads ---- */
/* Client halves: run one test against the server at addr (tern: its UDP
 * port and key; TCP: its data port), workers pinned from core. They fill r
 * (ok, err, secs, counts, the client side). The tern client returns its
 * engine still holding the sessions: release it after the server's END. */
void *bench_tern_client(const struct bench_params *p, const struct tern_addr *addr,
                        const uint8_t pub[TERN_KEY_LEN], int core, struct bench_result *r);
void bench_tern_release(void *hold);
void bench_tcp_client(const struct bench_params *p, const struct tern_addr *addr, int core,
                      struct bench_result *r);
int bench_tcp_listen(const struct tern_addr *bind, uint16_t *port);
int bench_tcp_connect(const struct tern_addr *a);

/* Server halves: serve one test (reply gets "port=N[ key=B64]"), then stop
 * and report st = {verified, msgs, errors, packets received, accepted}. */
struct bench_tern_srv;
struct bench_tcp_srv;
int bench_tern_serve(struct bench_tern_srv **out, const struct bench_params *p,
                     const struct tern_addr *bind, int core, char *reply, size_t len);
void bench_tern_unserve(struct bench_tern_srv *s, uint64_t st[5]);
int bench_tcp_serve(struct bench_tcp_srv **out, const struct bench_params *p,
                    const struct tern_addr *bind, int core, char *reply, size_t len);
void bench_tcp_unserve(struct bench_tcp_srv *s, uint64_t st[5]);

/* The server role: serves control connections on ctl (host:port, port 4433
 * by default), forever unless once. Writes "PORT n" to ready_fd when
 * listening (if >= 0). Returns the exit status. */
int bench_server_main(const char *ctl, bool once, int ready_fd, int core);

/* Live progress: what the running test has done so far (relaxed atomics). */
struct bench_progress {
	atomic_uint_fast64_t bytes, msgs;
};
extern struct bench_progress bench_prog;

/* ---- output (bench_report.c) ---- */
struct bench_ref;
struct bench_out {
	bool json, tty;
	double mhz;           /* 0: unknown, cycles not reported */
	const char *mhz_from; /* where mhz came from */
	int backends;         /* bits 1 << BACKEND_*: tern's backends in this run */
	const char *trace;    /* --trace: the sender's state every 10 ms, appended as CSV */
};
extern struct bench_out bench_out;
/* "tern", "tern-dpdk" or "tcp": the test's name after its mode. */
const char *bench_impl_name(const struct bench_params *p);
/* Names the running test for the progress line and resets the counters. */
void bench_report_start(const struct bench_params *p);
/* Redraws the progress line (on a TTY, at most every 200 ms). */
void bench_tick(void);
/* One finished test: a plain line on stderr, or a JSON object on stdout. */
void bench_report_result(const struct bench_result *r);
/* The table, ratios and target checks (stdout; a JSON summary with --json). */
void bench_report_table(const struct bench_result *rs, unsigned n, const struct bench_ref *ref,
                        const char *setup);
/* Plots ping-pong latency (CDF) and bulk/rate bars with gnuplot. Returns 0
 * or -1 (message printed). */
int bench_report_plot(const char *path, const struct bench_result *rs, unsigned n);

/* ---- reference rates (bench_crypto.c) ---- */
struct bench_ref {
	double open_gbps; /* AEAD open, 1,400-byte packets, one core */
	double open_pps;
	double x25519_per_s; /* variable-base scalar multiplications */
	double x25519_base_per_s;
	const char *cipher;
};
void bench_reference(bool chacha, struct bench_ref *ref);

#endif
