/* tern-bench over tern: both halves of every workload on the embedding API.
 * Bulk and rate are one workload (rate is bulk with 64-byte messages): the
 * client queues seeded messages until the send buffer pushes back, then
 * FINs its streams; the server checks each message against the pattern and,
 * once every stream has ended, answers on stream `streams` with what it
 * verified. Ping-pong echoes one message at a time and the client times each
 * round trip. Handshake connects and closes sessions with a bounded window;
 * sessions opens N and keeps them until the server has measured its RSS.
 * Callbacks run on the engines' worker threads; the main thread only waits
 * on atomics and reads the results after `done` (release/acquire). */
#include <arpa/inet.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "crypto/encode.h"

#define RESULT_LEN 40 /* verified, msgs, errors, packets in, packets out: 5 x u64 LE */
#define HS_WINDOW 64  /* handshakes in flight */
#define GRACE_NS 20000000000ull

/* memif has no checksum offload: the setup line says so once, instead of
 * every DPDK test's engine saying it again. */
static void engine_log(void *ctx, enum tern_log_level level, const char *msg)
{
	(void)ctx;
	if (bench_dpdk.memif && strstr(msg, "no UDP checksum offload"))
		return;
	if (level <= TERN_LOG_WARN)
		fprintf(stderr, "tern-bench: engine: %s\n", msg);
}

/* An engine for p on bind, its workers pinned from core on (cores must live
 * as long as the engine). */
static int make_engine(struct tern_engine **e, const struct bench_params *p,
                       const struct tern_addr *bind, int core, int *cores, char *err, size_t errlen)
{
	struct tern_engine_cfg cfg;
	int ncpu = bench_ncpu();

	tern_engine_cfg_default(&cfg);
	for (unsigned i = 0; i < p->workers; i++)
		cores[i] = (core + (int)i) % ncpu;
	cfg.workers = p->workers;
	cfg.cores = core >= 0 ? cores : NULL;
	cfg.ncores = p->workers;
	cfg.bind = *bind;
	cfg.latency_mode = p->latency;
	cfg.prefer_chacha = p->chacha;
	cfg.cc = p->cc[0] ? p->cc : NULL;
	cfg.max_streams = BENCH_MAX_STREAMS + 1;
	if (p->sessions + 1024u > cfg.max_sessions)
		cfg.max_sessions = p->sessions + 1024u;
	/* Every client of a benchmark shares one address, and the handshake
	 * mode keeps the control thread busy on purpose: per-source limits
	 * and load by busy time would measure the DoS defences instead. */
	cfg.handshake_source_rate = cfg.handshake_source_burst = 1000000;
	cfg.max_sessions_per_source = UINT_MAX;
	cfg.handshake_busy_pct = 0;
	cfg.log = engine_log;
	if (p->backend == BACKEND_DPDK) {
		app_dpdk_apply(&bench_dpdk.d, &cfg);
		cfg.bind = bench_dpdk.addr;
		cfg.bind.port = bind->port;
	}
	return tern_engine_new(e, &cfg, err, errlen);
}

/* A memif or NIC link comes up a little after the port starts; packets sent
 * before are dropped, and a lost handshake would cost a retransmission
 * timeout inside the measurement. Waits up to 10 s for "link.up 1". */
static void wait_link(struct tern_engine *e)
{
	char buf[4096];

	for (int i = 0; i < 1000; i++) {
		tern_engine_backend_stats(e, buf, sizeof(buf));
		if (strstr(buf, "link.up 1"))
			return;
		usleep(10000);
	}
}

/* ==== server ==== */

struct bench_tern_srv {
	struct tern_engine *e;
	struct bench_params p;
	int cores[64];
	atomic_uint_fast64_t verified, msgs, errors, packets, accepted;
};

struct srv_conn {
	struct bench_rx rx;
	unsigned fins;
};

static bool data_mode(enum bench_mode m)
{
	return m == MODE_BULK || m == MODE_RATE || m == MODE_PINGPONG;
}

static bool srv_accept(void *ctx, struct tern_conn *c)
{
	struct bench_tern_srv *s = ctx;
	struct srv_conn *sc;

	atomic_fetch_add_explicit(&s->accepted, 1, memory_order_relaxed);
	if (!data_mode(s->p.mode))
		return true;
	sc = calloc(1, sizeof(*sc));
	if (!sc)
		return false;
	sc->rx.seed = s->p.seed;
	sc->rx.size = s->p.size;
	tern_conn_set_user(c, sc);
	return true;
}

static void srv_message(void *ctx, struct tern_conn *c, uint16_t stream, const void *m, size_t len)
{
	struct bench_tern_srv *s = ctx;
	struct srv_conn *sc = tern_conn_user(c);

	if (!sc)
		return;
	bench_rx_message(&sc->rx, stream, m, len);
	if (s->p.mode == MODE_PINGPONG)
		tern_send(c, stream, m, len);
}

/* Every stream ended: answer with what was verified. */
static void srv_fin(void *ctx, struct tern_conn *c, uint16_t stream)
{
	struct bench_tern_srv *s = ctx;
	struct srv_conn *sc = tern_conn_user(c);
	struct tern_conn_info info;
	uint8_t res[RESULT_LEN];

	(void)stream;
	if (!sc || ++sc->fins != s->p.streams)
		return;
	tern_conn_info(c, &info);
	bench_put64(res, sc->rx.verified);
	bench_put64(res + 8, sc->rx.msgs);
	bench_put64(res + 16, sc->rx.errors);
	bench_put64(res + 24, info.packets_received);
	bench_put64(res + 32, info.packets_sent);
	atomic_fetch_add_explicit(&s->verified, sc->rx.verified, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->msgs, sc->rx.msgs, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->errors, sc->rx.errors, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->packets, info.packets_received, memory_order_relaxed);
	tern_send(c, (uint16_t)s->p.streams, res, sizeof(res));
}

static void srv_closed(void *ctx, struct tern_conn *c, const struct tern_close_reason *r)
{
	(void)ctx, (void)r;
	free(tern_conn_user(c));
	tern_conn_set_user(c, NULL);
}

/* Starts an engine serving p on bind; reply gets "port=N key=B64". */
int bench_tern_serve(struct bench_tern_srv **out, const struct bench_params *p,
                     const struct tern_addr *bind, int core, char *reply, size_t len)
{
	struct bench_tern_srv *s = calloc(1, sizeof(*s));
	struct tern_handler h = {.on_accept = srv_accept,
	                         .on_message = srv_message,
	                         .on_stream_fin = srv_fin,
	                         .on_closed = srv_closed};
	uint8_t pub[TERN_KEY_LEN];
	char b64[64], err[256];
	int rc;

	*out = NULL;
	if (!s)
		return snprintf(reply, len, "out of memory"), -1;
	s->p = *p;
	h.ctx = s;
	rc = make_engine(&s->e, p, bind, core, s->cores, err, sizeof(err));
	if (rc == 0 && (rc = tern_listen(s->e, 1, 0, &h)) == 0)
		rc = tern_engine_start(s->e);
	if (rc < 0) {
		snprintf(reply, len, "server engine: %s", s->e ? tern_engine_errmsg(s->e) : err);
		tern_engine_free(s->e);
		free(s);
		return -1;
	}
	tern_engine_public_key(s->e, pub);
	tern_base64_encode(b64, sizeof(b64), pub, sizeof(pub));
	snprintf(reply, len, "port=%u key=%s", tern_engine_port(s->e), b64);
	if (p->backend == BACKEND_DPDK) { /* where the client finds the port */
		char ip[INET6_ADDRSTRLEN];
		const struct tern_addr *a = &bench_dpdk.addr;
		inet_ntop(a->family == 6 ? AF_INET6 : AF_INET, a->ip, ip, sizeof(ip));
		snprintf(reply + strlen(reply), len - strlen(reply), " addr=%s", ip);
	}
	*out = s;
	return 0;
}

/* Stops the engine and reports; sessions mode leaves RSS to the caller, who
 * reads it before calling this. */
void bench_tern_unserve(struct bench_tern_srv *s, uint64_t st[5])
{
	tern_engine_stop(s->e, 1000000);
	tern_engine_free(s->e);
	st[0] = atomic_load(&s->verified);
	st[1] = atomic_load(&s->msgs);
	st[2] = atomic_load(&s->errors);
	st[3] = atomic_load(&s->packets);
	st[4] = atomic_load(&s->accepted);
	free(s);
}

/* ==== client ==== */

struct cli {
	const struct bench_params *p;
	struct bench_result *r;
	atomic_int done; /* 1 finished, -1 failed; release after the results */
	atomic_int stop; /* the main thread's time cap */
	atomic_int inflight;
	atomic_uint_fast64_t connected, failed, t_last;
	uint64_t quota[BENCH_MAX_STREAMS], idx[BENCH_MAX_STREAMS];
	bool fin[BENCH_MAX_STREAMS];
	atomic_uint_fast64_t t_connected; /* released by on_connect: the cap runs from here */
	uint64_t t_start, t_end, t_sent, rounds;
	char err[200];
	char first_fail[60]; /* written once, before failed becomes 1 */
	const char *cipher;  /* of the first session (handshake modes) */
	/* --trace: samples taken on the worker, written by the main thread after done */
	struct tern_conn_info *trace;
	uint64_t *trace_t;
	size_t ntrace;
};

#define TRACE_EVERY_NS 10000000ull
#define TRACE_MAX 100000

/* The sender's state, at most every 10 ms (on the worker, from pump). */
static void trace_sample(struct cli *k, struct tern_conn *c)
{
	uint64_t now = bench_now_ns();

	if (!k->trace || k->ntrace == TRACE_MAX ||
	    (k->ntrace && now - k->trace_t[k->ntrace - 1] < TRACE_EVERY_NS))
		return;
	k->trace_t[k->ntrace] = now;
	tern_conn_info(c, &k->trace[k->ntrace++]);
}

static void trace_write(const struct cli *k)
{
	FILE *f = k->trace ? fopen(bench_out.trace, "a") : NULL;

	if (!f)
		return;
	fprintf(f,
	        "# %s %s: ms,bytes_sent,cwnd,in_flight,srtt_us,min_rtt_us,bw_Bps,pacing_Bps,"
	        "lost_pkts,retx_bytes,ptos,state\n",
	        bench_mode_name(k->p->mode), bench_impl_name(k->p));
	for (size_t i = 0; i < k->ntrace; i++) {
		const struct tern_conn_info *t = &k->trace[i];
		fprintf(f, "%.1f,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%s\n",
		        (double)(k->trace_t[i] - k->trace_t[0]) / 1e6,
		        (unsigned long long)t->bytes_sent, (unsigned long long)t->cwnd,
		        (unsigned long long)t->bytes_in_flight, (unsigned long long)t->rtt_us,
		        (unsigned long long)t->min_rtt_us, (unsigned long long)t->bandwidth,
		        (unsigned long long)t->pacing_rate, (unsigned long long)t->packets_lost,
		        (unsigned long long)t->bytes_retransmitted,
		        (unsigned long long)t->pto_count, t->state);
	}
	fclose(f);
}

static void cli_fail(struct cli *k, const char *fmt, const char *what)
{
	if (atomic_load(&k->done))
		return;
	snprintf(k->err, sizeof(k->err), fmt, what);
	atomic_store_explicit(&k->done, -1, memory_order_release);
}

static void pump(struct cli *k, struct tern_conn *c, unsigned s)
{
	trace_sample(k, c);
	while (!k->fin[s]) {
		size_t off = bench_pat_off(k->p->seed, s, k->idx[s], k->p->size);
		int rc;
		if (atomic_load_explicit(&k->stop, memory_order_relaxed) ||
		    k->idx[s] >= k->quota[s]) {
			k->fin[s] = tern_finish(c, (uint16_t)s) == 0;
			return;
		}
		rc = tern_send(c, (uint16_t)s, bench_pat + off, k->p->size);
		if (rc == TERN_EAGAIN)
			return;
		if (rc < 0) {
			cli_fail(k, "send: %s", tern_conn_errmsg(c));
			return;
		}
		k->idx[s]++;
		atomic_fetch_add_explicit(&bench_prog.bytes, k->p->size, memory_order_relaxed);
		atomic_fetch_add_explicit(&bench_prog.msgs, 1, memory_order_relaxed);
	}
}

static void ping(struct cli *k, struct tern_conn *c)
{
	size_t off = bench_pat_off(k->p->seed, 0, k->rounds, k->p->size);

	k->t_sent = bench_now_ns();
	if (tern_send(c, 0, bench_pat + off, k->p->size) < 0)
		cli_fail(k, "send: %s", tern_conn_errmsg(c));
}

static void cli_connect(void *ctx, struct tern_conn *c)
{
	struct cli *k = ctx;
	const struct bench_params *p = k->p;
	uint64_t msgs = p->mode == MODE_RATE ? p->count : (p->bytes + p->size - 1) / p->size;

	k->t_start = bench_now_ns();
	atomic_store_explicit(&k->t_connected, k->t_start, memory_order_release);
	if (p->mode == MODE_PINGPONG) {
		ping(k, c);
		return;
	}
	for (unsigned s = 0; s < p->streams; s++)
		k->quota[s] = msgs / p->streams + (s < msgs % p->streams);
	for (unsigned s = 0; s < p->streams; s++)
		pump(k, c, s);
}

static void cli_writable(void *ctx, struct tern_conn *c, uint16_t stream)
{
	struct cli *k = ctx;

	if (k->p->mode != MODE_PINGPONG && stream < k->p->streams)
		pump(k, c, stream);
}

static void cli_result(struct cli *k, struct tern_conn *c, const uint8_t *m, size_t len)
{
	struct tern_conn_info info;

	if (len != RESULT_LEN) {
		cli_fail(k, "%s", "the server's result has the wrong length");
		return;
	}
	k->t_end = bench_now_ns();
	tern_conn_info(c, &info);
	k->r->bytes = bench_get64(m);
	k->r->msgs = bench_get64(m + 8);
	k->r->errors = bench_get64(m + 16);
	k->r->srv.packets = bench_get64(m + 24);
	k->r->srv.packets_out = bench_get64(m + 32);
	k->r->cli.packets_in = info.packets_received;
	k->r->cli.packets = info.packets_sent;
	k->r->lost = info.packets_lost;
	k->r->rtt_us = info.min_rtt_us;
	k->r->cwnd = info.cwnd;
	k->r->srtt_us = info.rtt_us;
	k->r->bw = info.bandwidth;
	k->r->pacing_rate = info.pacing_rate;
	k->r->inflight = info.bytes_in_flight;
	k->r->cipher = info.cipher;
	tern_close_graceful(c);
	atomic_store_explicit(&k->done, 1, memory_order_release);
}

static void pong(struct cli *k, struct tern_conn *c, const void *m, size_t len)
{
	uint64_t now = bench_now_ns();
	size_t off = bench_pat_off(k->p->seed, 0, k->rounds, k->p->size);

	if (len != k->p->size || memcmp(m, bench_pat + off, len) != 0) {
		cli_fail(k, "%s", "an echoed message differs from what was sent");
		return;
	}
	if (k->rounds >= BENCH_WARMUP)
		bench_hist_add(k->r->hist, now - k->t_sent);
	atomic_fetch_add_explicit(&bench_prog.msgs, 1, memory_order_relaxed);
	if (++k->rounds >= k->p->count + BENCH_WARMUP ||
	    atomic_load_explicit(&k->stop, memory_order_relaxed)) {
		tern_finish(c, 0);
		return;
	}
	ping(k, c);
}

static void cli_message(void *ctx, struct tern_conn *c, uint16_t stream, const void *m, size_t len)
{
	struct cli *k = ctx;

	if (stream == k->p->streams)
		cli_result(k, c, m, len);
	else if (k->p->mode == MODE_PINGPONG && stream == 0)
		pong(k, c, m, len);
}

static void cli_failed(void *ctx, void *user, const struct tern_close_reason *r)
{
	struct cli *k = ctx;

	(void)user;
	if (atomic_fetch_add(&k->failed, 1) == 0)
		snprintf(k->first_fail, sizeof(k->first_fail), "%s (code %llu)", r->what,
		         (unsigned long long)r->code);
	atomic_fetch_sub(&k->inflight, 1);
	if (data_mode(k->p->mode))
		cli_fail(k, "connect failed: %s", r->what);
}

static void cli_closed(void *ctx, struct tern_conn *c, const struct tern_close_reason *r)
{
	struct cli *k = ctx;

	(void)c;
	if (data_mode(k->p->mode))
		cli_fail(k, "the session ended early: %s", r->what);
}

/* Handshake and sessions: count, and close at once for handshake. */
static void hs_connect(void *ctx, struct tern_conn *c)
{
	struct cli *k = ctx;

	if (atomic_fetch_add(&k->connected, 1) == 0) {
		struct tern_conn_info info;
		tern_conn_info(c, &info);
		k->cipher = info.cipher;
	}
	atomic_store(&k->t_last, bench_now_ns());
	atomic_fetch_add_explicit(&bench_prog.msgs, 1, memory_order_relaxed);
	if (k->p->mode == MODE_HANDSHAKE)
		tern_close(c, 0, "bench");
	atomic_fetch_sub(&k->inflight, 1);
}

/* Issues connects up to total, HS_WINDOW at a time, until the cap. */
static void hs_drive(struct cli *k, struct tern_engine *e, struct tern_connect_opts *o,
                     uint64_t total, uint64_t deadline)
{
	uint64_t started = 0;

	while (bench_now_ns() < deadline + GRACE_NS) {
		uint64_t fin = atomic_load(&k->connected) + atomic_load(&k->failed);
		bool capped = bench_now_ns() >= deadline;
		if (fin >= total || (capped && fin >= started))
			break;
		if (!capped && started < total && atomic_load(&k->inflight) < HS_WINDOW) {
			atomic_fetch_add(&k->inflight, 1);
			if (tern_connect(e, o) == 0) {
				started++;
				continue;
			}
			atomic_fetch_sub(&k->inflight, 1);
		}
		bench_tick();
		usleep(100);
	}
}

/* Waits for the result; the time cap counts from the handshake's end. */
static void wait_data(struct cli *k, uint64_t deadline, uint64_t seconds_ns)
{
	while (!atomic_load_explicit(&k->done, memory_order_acquire)) {
		uint64_t now = bench_now_ns();
		uint64_t t1 = atomic_load_explicit(&k->t_connected, memory_order_acquire);
		if (t1)
			deadline = t1 + seconds_ns;
		if (now >= deadline)
			atomic_store(&k->stop, 1);
		if (now >= deadline + GRACE_NS) {
			cli_fail(k, "%s", "no result from the server within 20 s of the time cap");
			break;
		}
		bench_tick();
		usleep(10000); /* 100 wake-ups a second: few context switches of our own */
	}
}

static void finish_hs(struct cli *k, struct bench_result *r, uint64_t t0, uint64_t total)
{
	uint64_t last = atomic_load(&k->t_last);

	r->msgs = atomic_load(&k->connected);
	r->failed = atomic_load(&k->failed);
	r->secs = last > t0 ? (double)(last - t0) * 1e-9 : 0;
	r->cipher = k->cipher;
	r->ok = r->msgs > 0;
	if (r->msgs < total)
		snprintf(r->err, sizeof(r->err),
		         "%llu of %llu %s in the time cap; %llu connects failed%s%s",
		         (unsigned long long)r->msgs, (unsigned long long)total,
		         r->p.mode == MODE_SESSIONS ? "sessions established" : "handshakes done",
		         (unsigned long long)r->failed, r->failed ? ", the first: " : "",
		         r->failed ? k->first_fail : "");
}

static void run(struct cli *k, struct tern_engine *e, struct tern_connect_opts *o,
                struct bench_result *r)
{
	const struct bench_params *p = k->p;
	uint64_t t0 = bench_now_ns(), deadline = t0 + (uint64_t)(p->seconds * 1e9);
	double cpu0 = bench_cpu_s();
	uint64_t csw0 = bench_ctxsw();
	int64_t rss0 = bench_rss_kb();

	if (!data_mode(p->mode)) {
		uint64_t total = p->mode == MODE_SESSIONS ? p->sessions : p->count;
		hs_drive(k, e, o, total, deadline);
		finish_hs(k, r, t0, total);
		r->cli.rss_kb = bench_rss_kb() - rss0;
		r->cli.cpu_s = bench_cpu_s() - cpu0;
		return;
	}
	atomic_store(&k->inflight, 1);
	if (bench_out.trace && p->mode != MODE_PINGPONG) {
		k->trace = calloc(TRACE_MAX, sizeof(*k->trace));
		k->trace_t = calloc(TRACE_MAX, sizeof(*k->trace_t));
		if (!k->trace || !k->trace_t)
			k->trace = NULL;
	}
	if (tern_connect(e, o) < 0)
		cli_fail(k, "connect: %s", tern_engine_errmsg(e));
	wait_data(k, deadline, (uint64_t)(p->seconds * 1e9));
	r->cli.cpu_s = bench_cpu_s() - cpu0;
	r->cli.ctxsw = bench_ctxsw() - csw0;
	r->ok = atomic_load_explicit(&k->done, memory_order_acquire) == 1;
	if (r->ok)
		trace_write(k); /* after done's acquire: the worker is through with them */
	if (!r->ok) {
		snprintf(r->err, sizeof(r->err), "%s", k->err);
		return;
	}
	r->secs = (double)(k->t_end - k->t_start) * 1e-9;
	if (r->errors)
		snprintf(r->err, sizeof(r->err), "%llu messages failed verification",
		         (unsigned long long)r->errors);
	r->ok = r->errors == 0;
}

struct bench_hold {
	struct tern_engine *e;
	struct cli *k;
	int cores[64]; /* the engine's cfg points here */
};

void *bench_tern_client(const struct bench_params *p, const struct tern_addr *addr,
                        const uint8_t pub[TERN_KEY_LEN], int core, struct bench_result *r)
{
	struct bench_hold *hold = calloc(1, sizeof(*hold));
	struct cli *k = calloc(1, sizeof(*k));
	struct tern_handler h = {.on_connect = cli_connect,
	                         .on_connect_failed = cli_failed,
	                         .on_message = cli_message,
	                         .on_writable = cli_writable,
	                         .on_closed = cli_closed};
	struct tern_connect_opts o = {.addr = *addr, .vport = 1, .handler = &h};
	struct tern_addr bind = {.family = addr->family};
	char err[256];

	if (!hold || !k) {
		snprintf(r->err, sizeof(r->err), "out of memory");
		free(hold);
		free(k);
		return NULL;
	}
	hold->k = k;
	k->p = p;
	k->r = r;
	h.ctx = k;
	if (!data_mode(p->mode))
		h = (struct tern_handler){
		        .ctx = k, .on_connect = hs_connect, .on_connect_failed = cli_failed};
	memcpy(o.server_pub, pub, TERN_KEY_LEN);
	if (addr->family == 4 && addr->ip[0] == 127)
		memcpy(bind.ip, addr->ip, 4);
	if (make_engine(&hold->e, p, &bind, core, hold->cores, err, sizeof(err)) < 0) {
		snprintf(r->err, sizeof(r->err), "client engine: %.150s", err);
	} else if (tern_engine_start(hold->e) < 0) {
		snprintf(r->err, sizeof(r->err), "client engine: %s", tern_engine_errmsg(hold->e));
	} else {
		if (p->backend == BACKEND_DPDK)
			wait_link(hold->e);
		run(k, hold->e, &o, r);
	}
	return hold;
}

/* Ends the client engine (its sessions stay open until now, so the server
 * can measure them). NULL is fine. */
void bench_tern_release(void *hold)
{
	struct bench_hold *h = hold;

	if (!h)
		return;
	tern_engine_stop(h->e, 1000000);
	tern_engine_free(h->e);
	if (h->k) {
		free(h->k->trace);
		free(h->k->trace_t);
	}
	free(h->k);
	free(h);
}
