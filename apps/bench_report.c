/* tern-bench's output: the live progress line (TTY only), one line or JSON
 * object per finished test, the final table with tern/TCP ratios and
 * the targets checked against this machine's own reference rates, and
 * the gnuplot SVG. Cycles are CPU time times a clock rate stated beside the
 * table, because hardware counters are often absent (VMs, containers). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

struct bench_out bench_out;

static struct {
	char name[48];
	uint64_t t0, last;
	enum bench_mode mode;
} cur;

const char *bench_impl_name(const struct bench_params *p)
{
	if (p->impl == IMPL_TCP)
		return "tcp";
	return p->backend == BACKEND_DPDK ? "tern-dpdk" : "tern";
}

void bench_report_start(const struct bench_params *p)
{
	snprintf(cur.name, sizeof(cur.name), "%s/%s", bench_mode_name(p->mode), bench_impl_name(p));
	cur.mode = p->mode;
	cur.t0 = cur.last = bench_now_ns();
	atomic_store(&bench_prog.bytes, 0);
	atomic_store(&bench_prog.msgs, 0);
}

void bench_tick(void)
{
	uint64_t now = bench_now_ns();
	double s = (double)(now - cur.t0) * 1e-9;
	uint64_t bytes = atomic_load(&bench_prog.bytes), msgs = atomic_load(&bench_prog.msgs);

	if (!bench_out.tty || now - cur.last < 200000000ull || s <= 0)
		return;
	cur.last = now;
	if (cur.mode == MODE_BULK)
		fprintf(stderr, "\r%-18s %5.1f s  %8.1f MiB sent  %6.2f Gbit/s\033[K", cur.name, s,
		        (double)bytes / (1 << 20), (double)bytes * 8 / s / 1e9);
	else
		fprintf(stderr, "\r%-18s %5.1f s  %10llu done  %10.0f /s\033[K", cur.name, s,
		        (unsigned long long)msgs, (double)msgs / s);
}

/* ---- per-result numbers ---- */

static double gbps(const struct bench_result *r)
{
	return r->secs > 0 ? (double)r->bytes * 8 / r->secs / 1e9 : 0;
}

static double per_s(const struct bench_result *r)
{
	return r->secs > 0 ? (double)r->msgs / r->secs : 0;
}

static double cycles(const struct bench_side *s)
{
	return s->cpu_s * bench_out.mhz * 1e6;
}

static double per(double num, uint64_t den)
{
	return den ? num / (double)den : 0;
}

static double cpu_per_gib(const struct bench_result *r)
{
	return r->bytes ? (r->cli.cpu_s + r->srv.cpu_s) / ((double)r->bytes / (1u << 30)) : 0;
}

/* Context switches of both processes per GiB verified, or per 1,000 messages. */
static double csw_per_gib(const struct bench_result *r)
{
	return r->bytes ? (double)(r->cli.ctxsw + r->srv.ctxsw) / ((double)r->bytes / (1u << 30))
	                : 0;
}

static double csw_per_kmsg(const struct bench_result *r)
{
	return r->msgs ? (double)(r->cli.ctxsw + r->srv.ctxsw) * 1000 / (double)r->msgs : 0;
}

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_side(const char *name, const struct bench_side *s, const struct bench_result *r)
{
	printf(",\"%s\":{\"cpu_s\":%.6f,\"packets\":%llu,\"packets_other_way\":%llu,"
	       "\"rss_kb\":%lld,\"context_switches\":%llu",
	       name, s->cpu_s, (unsigned long long)s->packets,
	       (unsigned long long)(s->packets_in + s->packets_out), (long long)s->rss_kb,
	       (unsigned long long)s->ctxsw);
	if (bench_out.mhz > 0)
		printf(",\"cycles\":%.0f", cycles(s));
	if (bench_out.mhz > 0 && s->packets)
		printf(",\"cycles_per_packet\":%.1f", per(cycles(s), s->packets));
	if (bench_out.mhz > 0 && r->bytes)
		printf(",\"cycles_per_byte\":%.3f", per(cycles(s), r->bytes));
	if (bench_out.mhz > 0 && r->msgs)
		printf(",\"cycles_per_msg\":%.1f", per(cycles(s), r->msgs));
	printf("}");
}

static void json_result(const struct bench_result *r)
{
	const struct bench_params *p = &r->p;

	printf("{\"test\":\"%s\",\"impl\":\"%s\",\"backend\":\"%s\",\"ok\":%s,\"error\":",
	       bench_mode_name(p->mode), p->impl == IMPL_TERN ? "tern" : "tcp",
	       p->impl == IMPL_TCP ? "kernel" : bench_backend_name(p->backend),
	       r->ok ? "true" : "false");
	if (r->ok)
		printf("null");
	else
		json_str(r->err);
	if (r->ok && r->err[0]) {
		printf(",\"note\":");
		json_str(r->err);
	}
	printf(",\"params\":{\"size\":%llu,\"streams\":%u,\"workers\":%u,\"cc\":",
	       (unsigned long long)p->size, p->streams, p->workers);
	json_str(p->cc[0] ? p->cc : "bbr");
	printf(",\"latency_mode\":%s},\"cipher\":", p->latency ? "true" : "false");
	json_str(r->cipher ? r->cipher : (p->impl == IMPL_TCP ? "none" : "?"));
	printf(",\"seconds\":%.6f,\"bytes\":%llu,\"msgs\":%llu,\"errors\":%llu,\"failed\":%llu,"
	       "\"gbps\":%.4f,\"per_s\":%.1f,\"cpu_s_per_gib\":%.4f,\"lost\":%llu,"
	       "\"min_rtt_us\":%llu,\"cwnd\":%llu,\"srtt_us\":%llu,\"bandwidth_bps\":%llu,"
	       "\"pacing_rate_bps\":%llu,\"bytes_in_flight\":%llu",
	       r->secs, (unsigned long long)r->bytes, (unsigned long long)r->msgs,
	       (unsigned long long)r->errors, (unsigned long long)r->failed, gbps(r), per_s(r),
	       cpu_per_gib(r), (unsigned long long)r->lost, (unsigned long long)r->rtt_us,
	       (unsigned long long)r->cwnd, (unsigned long long)r->srtt_us,
	       (unsigned long long)r->bw * 8, (unsigned long long)r->pacing_rate * 8,
	       (unsigned long long)r->inflight);
	json_side("client", &r->cli, r);
	json_side("server", &r->srv, r);
	if (r->hist && r->hist->n)
		printf(",\"latency_us\":{\"n\":%llu,\"min\":%.2f,\"p50\":%.2f,\"p90\":%.2f,"
		       "\"p99\":%.2f,\"p99.9\":%.2f,\"max\":%.2f}",
		       (unsigned long long)r->hist->n, us(r->hist->min),
		       us(bench_hist_pct(r->hist, 0.5)), us(bench_hist_pct(r->hist, 0.9)),
		       us(bench_hist_pct(r->hist, 0.99)), us(bench_hist_pct(r->hist, 0.999)),
		       us(r->hist->max));
	printf("}\n");
	fflush(stdout);
}

static void headline(const struct bench_result *r, char *buf, size_t len)
{
	switch (r->p.mode) {
	case MODE_BULK:
		snprintf(buf, len, "%.2f Gbit/s, %llu bytes verified in %.2f s", gbps(r),
		         (unsigned long long)r->bytes, r->secs);
		if (r->p.impl == IMPL_TERN)
			snprintf(
			        buf + strlen(buf), len - strlen(buf),
			        "; %llu packets (%llu back), %llu lost, min RTT %llu us, cwnd %llu "
			        "KiB at the end",
			        (unsigned long long)r->cli.packets,
			        (unsigned long long)r->srv.packets_out, (unsigned long long)r->lost,
			        (unsigned long long)r->rtt_us, (unsigned long long)r->cwnd >> 10);
		break;
	case MODE_PINGPONG:
		snprintf(buf, len, "p50 %.1f us, p99 %.1f us over %llu round trips",
		         us(bench_hist_pct(r->hist, 0.5)), us(bench_hist_pct(r->hist, 0.99)),
		         (unsigned long long)r->hist->n);
		break;
	case MODE_SESSIONS:
		snprintf(buf, len, "%llu sessions open (%.0f handshakes/s), server RSS +%lld KiB",
		         (unsigned long long)r->msgs, per_s(r), (long long)r->srv.rss_kb);
		break;
	default:
		snprintf(buf, len, "%.0f %s/s (%llu in %.2f s)", per_s(r),
		         r->p.mode == MODE_RATE ? "msgs" : "handshakes",
		         (unsigned long long)r->msgs, r->secs);
	}
}

void bench_report_result(const struct bench_result *r)
{
	char line[200];

	if (bench_out.tty)
		fprintf(stderr, "\r\033[K");
	if (bench_out.json)
		json_result(r);
	if (!r->ok) {
		fprintf(stderr, "tern-bench: %s/%s FAILED: %s\n", bench_mode_name(r->p.mode),
		        bench_impl_name(&r->p), r->err);
		return;
	}
	headline(r, line, sizeof(line));
	fprintf(stderr, "tern-bench: %s/%s: %s\n", bench_mode_name(r->p.mode),
	        bench_impl_name(&r->p), line);
	if (r->err[0])
		fprintf(stderr, "tern-bench:   note: %s\n", r->err);
}

/* ---- the table ---- */

static const struct bench_result *find(const struct bench_result *rs, unsigned n, enum bench_mode m,
                                       enum bench_impl impl, enum bench_backend be)
{
	for (unsigned i = 0; i < n; i++)
		if (rs[i].p.mode == m && rs[i].p.impl == impl && rs[i].ok &&
		    (impl == IMPL_TCP || rs[i].p.backend == be))
			return &rs[i];
	return NULL;
}

/* The table's columns: tern on each backend of the run, then TCP; the ratio
 * is tern/TCP with one backend, DPDK/io_uring with both. */
#define NCOL 3
static struct {
	unsigned n, num, den;
	enum bench_impl impl[NCOL];
	enum bench_backend be[NCOL];
	const char *head[NCOL], *ratio;
} lay;

static void layout(void)
{
	unsigned n = 0;

	if (bench_out.backends & (1 << BACKEND_URING)) {
		lay.impl[n] = IMPL_TERN, lay.be[n] = BACKEND_URING;
		lay.head[n++] = bench_out.backends == (1 << BACKEND_URING) ? "tern" : "io_uring";
	}
	if (bench_out.backends & (1 << BACKEND_DPDK)) {
		lay.impl[n] = IMPL_TERN, lay.be[n] = BACKEND_DPDK;
		lay.head[n] = n == 0 ? "tern DPDK" : "DPDK";
		n++;
	}
	lay.impl[n] = IMPL_TCP, lay.be[n] = BACKEND_URING, lay.head[n++] = "TCP";
	lay.n = n;
	lay.num = n == 3 ? 1 : 0;
	lay.den = n == 3 ? 0 : 1;
	lay.ratio = n == 3 ? "DPDK/uring" : "tern/TCP";
}

/* The results of mode m, one per column (NULL: not run or failed). */
static bool pick(const struct bench_result *rs, unsigned n, enum bench_mode m,
                 const struct bench_result *v[NCOL])
{
	bool any = false;

	for (unsigned i = 0; i < lay.n; i++)
		any |= (v[i] = find(rs, n, m, lay.impl[i], lay.be[i])) != NULL;
	return any;
}

/* The primary tern result for the targets: io_uring's when it ran. */
static const struct bench_result *tern_of(const struct bench_result *rs, unsigned n,
                                          enum bench_mode m)
{
	enum bench_backend be =
	        bench_out.backends & (1 << BACKEND_URING) ? BACKEND_URING : BACKEND_DPDK;
	return find(rs, n, m, IMPL_TERN, be);
}

/* One row: label, a value per column ("-" where absent), the ratio. */
static void row(const char *label, const char *fmt, const struct bench_result *const v[NCOL],
                double (*f)(const struct bench_result *))
{
	char cell[32], q[32] = "";
	const struct bench_result *a = v[lay.num], *b = v[lay.den];

	printf("  %-30s", label);
	for (unsigned i = 0; i < lay.n; i++) {
		snprintf(cell, sizeof(cell), "-");
		if (v[i])
			snprintf(cell, sizeof(cell), fmt, f(v[i]));
		printf(" %14s", cell);
	}
	if (a && b && f(b) > 0)
		snprintf(q, sizeof(q), "%.2fx", f(a) / f(b));
	printf(" %10s\n", q);
}

static double f_gbps(const struct bench_result *r)
{
	return gbps(r);
}
static double f_mps(const struct bench_result *r)
{
	return per_s(r) / 1e6;
}
static double f_rate(const struct bench_result *r)
{
	return per_s(r);
}
static double f_cpugib(const struct bench_result *r)
{
	return cpu_per_gib(r);
}
static double f_cswgib(const struct bench_result *r)
{
	return csw_per_gib(r);
}
static double f_cswk(const struct bench_result *r)
{
	return csw_per_kmsg(r);
}
static double f_cpp(const struct bench_result *r)
{
	return per(cycles(&r->cli), r->cli.packets);
}
static double f_spp(const struct bench_result *r)
{
	return per(cycles(&r->srv), r->srv.packets);
}
static double f_cpb(const struct bench_result *r)
{
	return per(cycles(&r->cli), r->bytes);
}
static double f_spb(const struct bench_result *r)
{
	return per(cycles(&r->srv), r->bytes);
}
static double f_cpm(const struct bench_result *r)
{
	return per(cycles(&r->cli), r->msgs);
}
static double f_spm(const struct bench_result *r)
{
	return per(cycles(&r->srv), r->msgs);
}
static double f_p50(const struct bench_result *r)
{
	return us(bench_hist_pct(r->hist, 0.5));
}
static double f_p90(const struct bench_result *r)
{
	return us(bench_hist_pct(r->hist, 0.9));
}
static double f_p99(const struct bench_result *r)
{
	return us(bench_hist_pct(r->hist, 0.99));
}
static double f_p999(const struct bench_result *r)
{
	return us(bench_hist_pct(r->hist, 0.999));
}
static double f_max(const struct bench_result *r)
{
	return us(r->hist->max);
}
static double f_skib(const struct bench_result *r)
{
	return per((double)r->srv.rss_kb, r->msgs);
}
static double f_ckib(const struct bench_result *r)
{
	return per((double)r->cli.rss_kb, r->msgs);
}

static void table_rows(const struct bench_result *rs, unsigned n)
{
	const struct bench_result *v[NCOL];
	bool cyc = bench_out.mhz > 0;

	printf("  %-30s", "");
	for (unsigned i = 0; i < lay.n; i++)
		printf(" %14s", lay.head[i]);
	printf(" %10s\n", lay.ratio);
	if (pick(rs, n, MODE_BULK, v)) {
		row("bulk goodput, Gbit/s", "%.2f", v, f_gbps);
		row("  CPU s per GiB, both sides", "%.2f", v, f_cpugib);
		row("  context switches/GiB", "%.0f", v, f_cswgib);
		if (cyc) {
			row("  client cycles/packet", "%.0f", v, f_cpp);
			row("  client cycles/byte", "%.2f", v, f_cpb);
			row("  server cycles/packet", "%.0f", v, f_spp);
			row("  server cycles/byte", "%.2f", v, f_spb);
		}
	}
	if (pick(rs, n, MODE_RATE, v)) {
		row("small messages, M msgs/s", "%.3f", v, f_mps);
		row("  context switches/1000 msgs", "%.2f", v, f_cswk);
		if (cyc) {
			row("  client cycles/msg", "%.0f", v, f_cpm);
			row("  server cycles/msg", "%.0f", v, f_spm);
		}
	}
	if (pick(rs, n, MODE_PINGPONG, v)) {
		row("ping-pong round trip, us: p50", "%.1f", v, f_p50);
		row("  p90", "%.1f", v, f_p90);
		row("  p99", "%.1f", v, f_p99);
		row("  p99.9", "%.1f", v, f_p999);
		row("  max", "%.1f", v, f_max);
	}
	if (pick(rs, n, MODE_HANDSHAKE, v)) {
		row("handshakes/s", "%.0f", v, f_rate);
		if (cyc)
			row("  server cycles/handshake", "%.0f", v, f_spm);
	}
	if (pick(rs, n, MODE_SESSIONS, v)) {
		row("sessions: handshakes/s", "%.0f", v, f_rate);
		row("  server RSS KiB/session", "%.2f", v, f_skib);
		row("  client RSS KiB/session", "%.2f", v, f_ckib);
	}
}

/* A hundredth of what bulk cost before the worker loop polled while data
 * was in flight: 397,000 context switches per GiB (tern-bench bulk on
 * 993e2e4, both processes, docs/benchmarks.md). */
#define CSW_PER_GIB_GOAL 3970

static void target(const char *what, const char *measured, const char *goal, bool met)
{
	printf("  %-40s %18s %12s  %s\n", what, measured, goal, met ? "met" : "MISSED");
}

static void targets(const struct bench_result *rs, unsigned n, const struct bench_ref *ref)
{
	const struct bench_result *b = tern_of(rs, n, MODE_BULK);
	const struct bench_result *m = tern_of(rs, n, MODE_RATE);
	const struct bench_result *mt = find(rs, n, MODE_RATE, IMPL_TCP, BACKEND_URING);
	const struct bench_result *p = tern_of(rs, n, MODE_PINGPONG);
	const struct bench_result *pt = find(rs, n, MODE_PINGPONG, IMPL_TCP, BACKEND_URING);
	const struct bench_result *h = tern_of(rs, n, MODE_HANDSHAKE);
	const struct bench_result *s = tern_of(rs, n, MODE_SESSIONS);
	double bound = 4.0 / ref->x25519_per_s + 1.0 / ref->x25519_base_per_s;
	char v[64], goal[32];

	printf("\nreference (this machine, per second of one core's CPU time): %s open of "
	       "1,400-byte packets %.2f Gbit/s (%.0f pkt/s); X25519 %.0f/s, fixed-base %.0f/s; a "
	       "responder's handshake = 4 DH + 1 key generation, so one core allows %.0f/s\n",
	       ref->cipher ? ref->cipher : "AEAD", ref->open_gbps, ref->open_pps, ref->x25519_per_s,
	       ref->x25519_base_per_s, bound > 0 ? 1 / bound : 0);
	if (bench_out.backends == (1 << BACKEND_URING))
		printf("\ntargets                                    %18s %12s\n", "measured",
		       "target");
	else
		printf("\ntargets, tern on %-25s %18s %12s\n",
		       bench_out.backends & (1 << BACKEND_URING) ? "io_uring" : "DPDK", "measured",
		       "target");
	if (b && ref->open_gbps > 0) {
		snprintf(v, sizeof(v), "%.0f%% (%.2f/%.2f)", 100 * gbps(b) / ref->open_gbps,
		         gbps(b), ref->open_gbps);
		target("bulk goodput / one-core AEAD open", v, ">= 50%",
		       gbps(b) >= 0.5 * ref->open_gbps);
	}
	if (b) {
		snprintf(v, sizeof(v), "%.2f s", cpu_per_gib(b));
		target("CPU per GiB, both sides", v, "<= 3 s", cpu_per_gib(b) <= 3);
		snprintf(v, sizeof(v), "%.0f", csw_per_gib(b));
		snprintf(goal, sizeof(goal), "<= %d", CSW_PER_GIB_GOAL);
		target("context switches per GiB, both sides", v, goal,
		       csw_per_gib(b) <= CSW_PER_GIB_GOAL);
	}
	if (m) {
		snprintf(v, sizeof(v), "%.2f M/s", per_s(m) / 1e6);
		target("64-byte messages, one session", v, ">= 4 M/s", per_s(m) >= 4e6);
	}
	if (m && mt && per_s(mt) > 0) {
		snprintf(v, sizeof(v), "%.2fx", per_s(m) / per_s(mt));
		target("64-byte messages vs TCP", v, ">= 3x", per_s(m) >= 3 * per_s(mt));
	}
	if (p && pt && f_p50(pt) > 0) {
		snprintf(v, sizeof(v), "%.2fx", f_p50(p) / f_p50(pt));
		target("ping-pong p50 vs TCP", v, "<= 1.0x", f_p50(p) <= f_p50(pt));
	}
	if (h && ref->x25519_per_s > 0) {
		/* Per second of the server's CPU: what one core sustains, whatever
		 * else the machine was doing. */
		double core = h->srv.cpu_s > 0 ? (double)h->msgs / h->srv.cpu_s : 0;
		snprintf(v, sizeof(v), "%.0f%% of %.0f/s", 100 * core * bound, 1 / bound);
		target("handshakes per server CPU-s / X25519 bound", v, ">= 80%",
		       core * bound >= 0.8);
		snprintf(v, sizeof(v), "%.0f%% of %.0f/s", 100 * per_s(h) * bound, 1 / bound);
		target("  (wall-clock handshakes/s / the bound)", v, ">= 80%",
		       per_s(h) * bound >= 0.8);
	}
	if (s) {
		snprintf(v, sizeof(v), "%.2f KiB", f_skib(s));
		target("idle session memory (server RSS)", v, "<= 4 KiB", f_skib(s) <= 4);
		snprintf(v, sizeof(v), "%.2f GiB", f_skib(s) * 1e6 / (1 << 20));
		target("1M sessions (extrapolated)", v, "<= 4 GiB",
		       f_skib(s) * 1e6 / (1 << 20) <= 4);
	}
}

void bench_report_table(const struct bench_result *rs, unsigned n, const struct bench_ref *ref,
                        const char *setup)
{
	time_t now = time(NULL);
	char date[64];

	if (bench_out.json) {
		printf("{\"test\":\"reference\",\"cipher\":");
		json_str(ref->cipher ? ref->cipher : "?");
		printf(",\"open_gbps\":%.4f,\"open_pps\":%.0f,\"x25519_per_s\":%.0f,"
		       "\"x25519_base_per_s\":%.0f,\"cpu_mhz\":%.0f}\n",
		       ref->open_gbps, ref->open_pps, ref->x25519_per_s, ref->x25519_base_per_s,
		       bench_out.mhz);
		return;
	}
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M %Z", localtime(&now));
	printf("\ntern-bench, %s: %s\n", date, setup);
	if (bench_out.mhz > 0)
		printf("cycles = process CPU time (all threads) x %.0f MHz (%s)\n\n", bench_out.mhz,
		       bench_out.mhz_from);
	else
		printf("cycles: no clock rate found (no perf counters, no 'cpu MHz' in "
		       "/proc/cpuinfo); CPU seconds only\n\n");
	layout();
	table_rows(rs, n);
	targets(rs, n, ref);
	for (unsigned i = 0; i < n; i++)
		if (rs[i].err[0])
			printf("\n%s/%s %s: %s", bench_mode_name(rs[i].p.mode),
			       bench_impl_name(&rs[i].p), rs[i].ok ? "note" : "FAILED", rs[i].err);
	printf("\n");
}

/* ---- gnuplot ---- */

static bool have_program(const char *name)
{
	const char *path = getenv("PATH");
	char buf[4096];

	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t len = strcspn(p, ":");
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, p, name);
		if (access(buf, X_OK) == 0)
			return true;
		p += len + (p[len] == ':');
	}
	return false;
}

static void cdf(FILE *f, const struct bench_result *r)
{
	for (int i = 1; i <= 1000; i++)
		fprintf(f, "%.3f %.4f\n", us(bench_hist_pct(r->hist, i / 1000.0)), i / 1000.0);
	fprintf(f, "e\n");
}

int bench_report_plot(const char *path, const struct bench_result *rs, unsigned n)
{
	const struct bench_result *t = find(rs, n, MODE_PINGPONG, IMPL_TERN, BACKEND_URING);
	const struct bench_result *d = find(rs, n, MODE_PINGPONG, IMPL_TERN, BACKEND_DPDK);
	const struct bench_result *c = find(rs, n, MODE_PINGPONG, IMPL_TCP, BACKEND_URING);
	FILE *g;

	if (!have_program("gnuplot")) {
		fprintf(stderr, "tern-bench: --plot: gnuplot is not installed (apt-get install "
		                "gnuplot-nox); no plot written\n");
		return -1;
	}
	if (!t && !d && !c) {
		fprintf(stderr, "tern-bench: --plot: the plot shows ping-pong latency; run the "
		                "pingpong mode too\n");
		return -1;
	}
	g = popen("gnuplot", "w");
	if (!g)
		return -1;
	fprintf(g,
	        "set terminal svg size 800,500 dynamic\nset output '%s'\n"
	        "set title 'tern-bench: 64-byte ping-pong round trip'\nset logscale x\n"
	        "set xlabel 'round trip (us)'\nset ylabel 'fraction of round trips'\n"
	        "set key bottom right\nset grid\nplot ",
	        path);
	if (t)
		fprintf(g, "'-' with lines lw 2 title 'tern'%s", c || d ? ", " : "\n");
	if (d)
		fprintf(g, "'-' with lines lw 2 title 'tern on DPDK'%s", c ? ", " : "\n");
	if (c)
		fprintf(g, "'-' with lines lw 2 title 'TCP'\n");
	if (t)
		cdf(g, t);
	if (d)
		cdf(g, d);
	if (c)
		cdf(g, c);
	if (pclose(g) != 0) {
		fprintf(stderr, "tern-bench: --plot: gnuplot failed writing %s\n", path);
		return -1;
	}
	fprintf(stderr, "tern-bench: wrote %s\n", path);
	return 0;
}
