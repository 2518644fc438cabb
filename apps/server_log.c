/* tern-server's structured log: one line per event on stderr, key=value
 * fields ("ts=2024-05-01T12:00:00.123Z level=info event=accept peer=...")
 * that grep, awk and log shippers read without a parser. Lines come from the
 * main thread and every worker at once, so each is formatted into a buffer
 * and written with one write(2): lines never interleave. Values with spaces
 * or quotes are quoted with escapes. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apps/server.h"

#define LINE_MAX_LEN 1024

static enum tern_log_level threshold = TERN_LOG_INFO;
struct server_counters server_counters;

static const char *const level_names[] = {
        [TERN_LOG_ERROR] = "error",
        [TERN_LOG_WARN] = "warn",
        [TERN_LOG_INFO] = "info",
        [TERN_LOG_DEBUG] = "debug",
};

void server_log_init(enum tern_log_level level)
{
	threshold = level;
}

bool server_log_enabled(enum tern_log_level level)
{
	return level <= threshold;
}

static size_t timestamp(char *out, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	return n + (size_t)snprintf(out + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void write_line(char *line, size_t n)
{
	if (n >= LINE_MAX_LEN)
		n = LINE_MAX_LEN - 1;
	line[n++] = '\n';
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, line, n);
		if (w <= 0)
			return;
		line += w;
		n -= (size_t)w;
	}
}

static void vlog(enum tern_log_level level, const char *event, const char *fmt, va_list ap)
{
	char line[LINE_MAX_LEN + 1], ts[40];
	int n;

	timestamp(ts, sizeof(ts));
	n = snprintf(line, LINE_MAX_LEN, "ts=%s level=%s event=%s", ts, level_names[level], event);
	if (fmt && *fmt && n < LINE_MAX_LEN - 1) {
		line[n++] = ' ';
		n += vsnprintf(line + n, LINE_MAX_LEN - (size_t)n, fmt, ap);
	}
	write_line(line, n < 0 ? 0 : (size_t)n);
}

void server_log(enum tern_log_level level, const char *event, const char *fmt, ...)
{
	va_list ap;

	if (!server_log_enabled(level))
		return;
	va_start(ap, fmt);
	vlog(level, event, fmt, ap);
	va_end(ap);
}

/* Asked for by the operator (SIGUSR1): printed whatever --log-level says. */
__attribute__((format(printf, 2, 3))) static void log_always(const char *event, const char *fmt,
                                                             ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(TERN_LOG_INFO, event, fmt, ap);
	va_end(ap);
}

void server_log_quote(char *out, size_t cap, const char *s, size_t len)
{
	size_t o = 0;

	if (cap < 3) {
		if (cap)
			out[0] = '\0';
		return;
	}
	out[o++] = '"';
	for (size_t i = 0; i < len && o + 3 < cap; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else {
			out[o++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
}

void server_log_engine(void *ctx, enum tern_log_level level, const char *msg)
{
	char q[512];

	(void)ctx;
	if (!server_log_enabled(level))
		return;
	server_log_quote(q, sizeof(q), msg, strlen(msg));
	server_log(level, "engine", "msg=%s", q);
}

void server_log_addr(char *out, size_t cap, const struct tern_addr *a)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (a->family == 4) {
		inet_ntop(AF_INET, a->ip, ip, sizeof(ip));
		snprintf(out, cap, "%s:%u", ip, a->port);
	} else if (a->family == 6) {
		inet_ntop(AF_INET6, a->ip, ip, sizeof(ip));
		snprintf(out, cap, "[%s]:%u", ip, a->port);
	} else {
		snprintf(out, cap, "-");
	}
}

#define C(name) atomic_load_explicit(&server_counters.name, memory_order_relaxed)

/* The length of name's group: up to its first '.' (0: no dot). */
static size_t group_len(const char *name, size_t n)
{
	const char *dot = memchr(name, '.', n);

	return dot ? (size_t)(dot - name) : 0;
}

/* "name value" lines (tern_engine_stats, tern_engine_backend_stats) as
 * key=value lines of one event, operators read them as they read the
 * others: one line per group of names (the part before the first '.':
 * ctl, worker0, w0, q1, ...), split further to stay under LINE_MAX_LEN. */
static void stats_log(const char *event, const char *text, size_t len)
{
	char line[LINE_MAX_LEN];
	const char *group = NULL;
	size_t used = 0, glen = 0;

	for (const char *p = text, *end = text + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *sp;
		size_t n = (size_t)((nl ? nl : end) - p);

		sp = memchr(p, ' ', n);
		if (sp && used &&
		    (group_len(p, n) != glen || memcmp(p, group, glen) != 0 ||
		     used + n + 2 >= sizeof(line) - 128)) {
			log_always(event, "%.*s", (int)used, line);
			used = 0;
		}
		if (sp && used + n + 2 < sizeof(line)) {
			if (!used) {
				group = p;
				glen = group_len(p, n);
			}
			used += (size_t)snprintf(line + used, sizeof(line) - used, "%s%.*s=%.*s",
			                         used ? " " : "", (int)(sp - p), p,
			                         (int)(n - (size_t)(sp - p) - 1), sp + 1);
		}
		p += n + 1;
	}
	if (used)
		log_always(event, "%.*s", (int)used, line);
}

void server_counters_log(struct tern_engine *e)
{
	log_always("counters",
	           "sessions_total=%llu sessions_live=%llu bytes_in=%llu bytes_out=%llu "
	           "echo_msgs=%llu echo_bytes=%llu echo_dgrams=%llu discard_msgs=%llu "
	           "discard_bytes=%llu discard_dgrams=%llu file_requests=%llu file_served=%llu "
	           "file_refused=%llu file_bytes=%llu",
	           C(sessions_total), C(sessions_live), C(bytes_in), C(bytes_out), C(echo_msgs),
	           C(echo_bytes), C(echo_dgrams), C(discard_msgs), C(discard_bytes),
	           C(discard_dgrams), C(file_requests), C(file_served), C(file_refused),
	           C(file_bytes));
	if (e) {
		static char buf[32768]; /* SIGUSR1 is handled on the main thread only */
		size_t n = tern_engine_stats(e, buf, sizeof(buf));

		stats_log("engine-counters", buf, n);
		n = tern_engine_backend_stats(e, buf, sizeof(buf));
		stats_log("backend", buf, n);
	}
}
