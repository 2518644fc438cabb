/* tern-bench helpers both processes share: the seeded content (a pattern
 * both sides generate from the seed, each message a slice of it at an offset
 * keyed by stream and index, so the receiver checks with memcmp instead of
 * regenerating bytes), clocks, CPU time, RSS, the histogram, and the control
 * protocol's line format. */
#include <ctype.h>
#include <errno.h>
#include <arpa/inet.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

uint8_t *bench_pat;
struct bench_progress bench_prog;
struct bench_dpdk bench_dpdk;

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* BENCH_PAT_LEN + BENCH_MAX_SIZE bytes, so every slice is contiguous. */
int bench_pattern_init(uint64_t seed)
{
	size_t n = BENCH_PAT_LEN + BENCH_MAX_SIZE;

	free(bench_pat);
	bench_pat = malloc(n);
	if (!bench_pat)
		return -1;
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = mix(seed + i);
		memcpy(bench_pat + i, &v, 8);
	}
	return 0;
}

/* Small messages take their slices from the pattern's first 64 KiB, so the
 * receiver's check stays in cache instead of measuring cache misses. */
size_t bench_pat_off(uint64_t seed, unsigned stream, uint64_t idx, uint64_t size)
{
	uint64_t window = size <= 4096 ? 65536 : BENCH_PAT_LEN;

	return (size_t)(mix(seed ^ mix(((uint64_t)stream << 48) ^ idx)) % window) & ~(size_t)7;
}

void bench_rx_message(struct bench_rx *rx, unsigned stream, const void *m, size_t len)
{
	size_t off;

	if (stream > BENCH_MAX_STREAMS) {
		rx->errors++;
		return;
	}
	off = bench_pat_off(rx->seed, stream, rx->idx[stream]++, rx->size);
	if (len == rx->size && memcmp(m, bench_pat + off, len) == 0) {
		rx->verified += len;
		rx->msgs++;
	} else {
		rx->errors++;
	}
}

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double bench_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t bench_ctxsw(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (uint64_t)ru.ru_nvcsw + (uint64_t)ru.ru_nivcsw;
}

/* A "Key:   value kB" line of a /proc file, or -1. */
static int64_t proc_value(const char *path, const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	int64_t v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, klen) == 0) {
			const char *p = line + klen;
			while (*p && !isdigit((unsigned char)*p))
				p++;
			v = (int64_t)strtod(p, NULL);
			break;
		}
	fclose(f);
	return v;
}

int64_t bench_rss_kb(void)
{
	return proc_value("/proc/self/status", "VmRSS:");
}

double bench_cpu_mhz(void)
{
	int64_t v = proc_value("/proc/cpuinfo", "cpu MHz");

	return v > 0 ? (double)v : 0;
}

int bench_ncpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

void bench_pin(int core)
{
	cpu_set_t set;

	if (core < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(core, &set);
	sched_setaffinity(0, sizeof(set), &set); /* best effort */
}

static unsigned hist_index(uint64_t v)
{
	unsigned msb;

	if (v < 16)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	return (msb - 3) * 16 + (unsigned)((v >> (msb - 4)) & 15);
}

/* The middle of bucket i. */
static uint64_t hist_value(unsigned i)
{
	unsigned msb = i / 16 + 3, sub = i % 16;

	if (i < 16)
		return i;
	return ((16ull + sub) << (msb - 4)) + ((1ull << (msb - 4)) >> 1);
}

void bench_hist_add(struct bench_hist *h, uint64_t ns)
{
	if (h->n == 0 || ns < h->min)
		h->min = ns;
	if (ns > h->max)
		h->max = ns;
	h->n++;
	h->b[hist_index(ns)]++;
}

/* The value at quantile p (0..1]: the bucket holding rank ceil(p*n). */
uint64_t bench_hist_pct(const struct bench_hist *h, double p)
{
	uint64_t rank = (uint64_t)(p * (double)h->n + 0.999999), seen = 0;

	if (h->n == 0)
		return 0;
	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			uint64_t v = hist_value(i);
			return v > h->max ? h->max : v < h->min ? h->min : v;
		}
	}
	return h->max;
}

/* "HOST[:PORT]", "[V6]:PORT" or ":PORT"; the port defaults to what a holds. */
int bench_parse_hostport(const char *s, struct tern_addr *a, char *err, size_t errlen)
{
	char host[128];
	const char *start = s, *port = NULL, *colon = strrchr(s, ':');
	size_t hl = strlen(s);

	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || (end[1] && end[1] != ':'))
			goto bad;
		start = s + 1;
		hl = (size_t)(end - start);
		port = end[1] == ':' ? end + 2 : NULL;
	} else if (colon && strchr(s, ':') == colon) {
		hl = (size_t)(colon - s);
		port = colon + 1;
	}
	if (hl >= sizeof(host))
		goto bad;
	memcpy(host, start, hl);
	host[hl] = '\0';
	if (!hl)
		strcpy(host, "0.0.0.0");
	memset(a->ip, 0, sizeof(a->ip));
	if (inet_pton(AF_INET, host, a->ip) == 1)
		a->family = 4;
	else if (inet_pton(AF_INET6, host, a->ip) == 1)
		a->family = 6;
	else
		goto bad;
	if (port) {
		char *end;
		unsigned long v = strtoul(port, &end, 10);
		if (*port == '\0' || *end || v > 65535)
			goto bad;
		a->port = (uint16_t)v;
	}
	return 0;
bad:
	snprintf(err, errlen,
	         "'%s' is not an address; use IPv4 or IPv6 with an optional port, e.g. "
	         "192.0.2.1:4433 or [2001:db8::1]:4433",
	         s);
	return -1;
}

static const char *const mode_names[MODE_N] = {"bulk", "rate", "pingpong", "handshake", "sessions"};

const char *bench_mode_name(enum bench_mode m)
{
	return m < MODE_N ? mode_names[m] : "?";
}

int bench_mode_find(const char *name)
{
	for (int i = 0; i < MODE_N; i++)
		if (strcmp(name, mode_names[i]) == 0)
			return i;
	return -1;
}

const char *bench_backend_name(enum bench_backend b)
{
	return b == BACKEND_DPDK ? "dpdk" : "io_uring";
}

void bench_params_format(const struct bench_params *p, char *buf, size_t len)
{
	snprintf(buf, len,
	         "mode=%d impl=%d size=%llu count=%llu bytes=%llu seconds=%g streams=%u "
	         "sessions=%u workers=%u chacha=%d latency=%d cc=%s seed=%llu backend=%d",
	         p->mode, p->impl, (unsigned long long)p->size, (unsigned long long)p->count,
	         (unsigned long long)p->bytes, p->seconds, p->streams, p->sessions, p->workers,
	         p->chacha, p->latency, p->cc, (unsigned long long)p->seed, p->backend);
}

/* Parses what bench_params_format wrote (the server trusts its client only
 * as far as these range checks). Returns 0 or -1. */
int bench_params_parse(char *line, struct bench_params *p)
{
	char *save = NULL;

	memset(p, 0, sizeof(*p));
	for (char *t = strtok_r(line, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
		char *v = strchr(t, '=');
		if (!v)
			continue;
		*v++ = '\0';
		if (!strcmp(t, "mode"))
			p->mode = (enum bench_mode)atoi(v);
		else if (!strcmp(t, "impl"))
			p->impl = (enum bench_impl)atoi(v);
		else if (!strcmp(t, "size"))
			p->size = strtoull(v, NULL, 10);
		else if (!strcmp(t, "count"))
			p->count = strtoull(v, NULL, 10);
		else if (!strcmp(t, "bytes"))
			p->bytes = strtoull(v, NULL, 10);
		else if (!strcmp(t, "seconds"))
			p->seconds = strtod(v, NULL);
		else if (!strcmp(t, "streams"))
			p->streams = (unsigned)atoi(v);
		else if (!strcmp(t, "sessions"))
			p->sessions = (unsigned)atoi(v);
		else if (!strcmp(t, "workers"))
			p->workers = (unsigned)atoi(v);
		else if (!strcmp(t, "chacha"))
			p->chacha = atoi(v) != 0;
		else if (!strcmp(t, "latency"))
			p->latency = atoi(v) != 0;
		else if (!strcmp(t, "cc"))
			snprintf(p->cc, sizeof(p->cc), "%s", v);
		else if (!strcmp(t, "seed"))
			p->seed = strtoull(v, NULL, 10);
		else if (!strcmp(t, "backend"))
			p->backend = (enum bench_backend)atoi(v);
	}
	if (p->mode >= MODE_N || (p->impl != IMPL_TERN && p->impl != IMPL_TCP) || !p->size ||
	    p->size > BENCH_MAX_SIZE || !p->streams || p->streams > BENCH_MAX_STREAMS ||
	    !p->workers || p->workers > 64 ||
	    (p->backend != BACKEND_URING && p->backend != BACKEND_DPDK))
		return -1;
	return 0;
}

int bench_read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int bench_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads one '\n'-terminated line (byte at a time: control lines are rare).
 * Returns its length without the newline, or -1 at EOF or error. */
int bench_read_line(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (c == '\n')
			break;
		buf[n++] = c;
	}
	buf[n] = '\0';
	return (int)n;
}

/* Result records between the two processes: u64 little-endian. */
void bench_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t bench_get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}
