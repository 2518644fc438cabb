/* Parser for simulated-path profiles (tern_sim_parse_profile in io/sim.h):
 * a comma-separated list of key=value items, e.g.
 *
 *   rate=10mbit,delay=25ms,jitter=2ms,loss=1%,burst=1%/30%/50%,queue=1bdp
 *
 * Keys and forms:
 *   rate=N[bit|kbit|mbit|gbit]       bottleneck rate; plain N is bit/s
 *   delay=, jitter=, reorder_delay=  durations: N(us|ms|s), fractions allowed
 *   loss=, reorder=, dup=, corrupt=  probabilities: "1%" or a fraction "0.01"
 *   burst=P_GB/P_BG/LOSS_BAD[/LOSS_GOOD]
 *                                    Gilbert–Elliott: P(good->bad), P(bad->good),
 *                                    loss in the bad state (loss in good, default 0);
 *                                    mean burst length is about 1/P_BG
 *   queue=N[b|k|m] or Nbdp           tail-drop queue in bytes (k = 1024, m = 1024²),
 *                                    or a multiple of rate * 2 * delay (needs both)
 *   mtu=N                            largest payload in bytes, 1..65535
 *   blackhole=START-END              e.g. 2s-4s; repeat for up to 4 windows
 *   stall=P/DURATION                 host stalls: each arrival starts one with
 *                                    probability P; what arrives in it waits, in
 *                                    order, until it ends
 *
 * It is table-driven (one small handler per key) so each error can name the
 * key and the form it expected. On error cfg is left untouched; on success it
 * is overwritten with a fresh config (unspecified keys are zero = perfect). */
#include "io/sim.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define ITEM_MAX 128

struct pstate {
	struct tern_sim_path_cfg cfg;
	double queue_bdp; /* queue as a multiple of the BDP, resolved at the end */
	int nblackholes;
};

struct unit {
	const char *name;
	double scale;
};

static const struct unit rate_units[] = {{"", 1},       {"bit", 1},    {"kbit", 1e3},
                                         {"mbit", 1e6}, {"gbit", 1e9}, {NULL, 0}};
static const struct unit plain_units[] = {{"", 1}, {NULL, 0}};
static const struct unit time_units[] = {{"us", 1}, {"ms", 1e3}, {"s", 1e6}, {NULL, 0}};
static const struct unit size_units[] = {{"", 1},      {"b", 1},         {"k", 1024},
                                         {"kb", 1024}, {"m", 1048576.0}, {"mb", 1048576.0},
                                         {NULL, 0}};

/* Parses a non-negative finite number followed by one of units; returns the
 * scaled value, or -1 if the text does not match. */
static double number_with_unit(const char *s, const struct unit *units)
{
	if (!isdigit((unsigned char)s[0]) && s[0] != '.')
		return -1;
	char *end;
	double v = strtod(s, &end);
	if (end == s || !isfinite(v) || v < 0)
		return -1;
	for (const struct unit *u = units; u->name; u++)
		if (strcasecmp(end, u->name) == 0)
			return v * u->scale;
	return -1;
}

static int parse_duration(const char *s, tern_time *out)
{
	double us = number_with_unit(s, time_units);
	if (us < 0 || us > 1e15)
		return TERN_EINVAL;
	*out = (tern_time)llround(us);
	return 0;
}

static int parse_prob(const char *s, double *out)
{
	size_t n = strlen(s);
	bool percent = n > 0 && s[n - 1] == '%';
	char num[ITEM_MAX];
	memcpy(num, s, n - percent);
	num[n - percent] = '\0';
	double v = number_with_unit(num, plain_units);
	if (v < 0)
		return TERN_EINVAL;
	if (percent)
		v /= 100;
	if (v > 1)
		return TERN_EINVAL;
	*out = v;
	return 0;
}

static int key_rate(struct pstate *ps, char *v)
{
	double r = number_with_unit(v, rate_units);
	if (r < 0 || r >= 0x1p63)
		return TERN_EINVAL;
	ps->cfg.rate_bps = (uint64_t)llround(r);
	return 0;
}

static int key_delay(struct pstate *ps, char *v)
{
	return parse_duration(v, &ps->cfg.delay_us);
}

static int key_jitter(struct pstate *ps, char *v)
{
	return parse_duration(v, &ps->cfg.jitter_us);
}

static int key_reorder_delay(struct pstate *ps, char *v)
{
	return parse_duration(v, &ps->cfg.reorder_us);
}

static int key_loss(struct pstate *ps, char *v)
{
	return parse_prob(v, &ps->cfg.loss);
}

static int key_reorder(struct pstate *ps, char *v)
{
	return parse_prob(v, &ps->cfg.reorder);
}

static int key_dup(struct pstate *ps, char *v)
{
	return parse_prob(v, &ps->cfg.duplicate);
}

static int key_corrupt(struct pstate *ps, char *v)
{
	return parse_prob(v, &ps->cfg.corrupt);
}

/* stall=P/DURATION */
static int key_stall(struct pstate *ps, char *v)
{
	char *slash = strchr(v, '/');

	if (!slash)
		return TERN_EINVAL;
	*slash = '\0';
	if (parse_prob(v, &ps->cfg.stall) || parse_duration(slash + 1, &ps->cfg.stall_us) ||
	    !ps->cfg.stall_us)
		return TERN_EINVAL;
	return 0;
}

/* burst=P_GB/P_BG/LOSS_BAD[/LOSS_GOOD] */
static int key_burst(struct pstate *ps, char *v)
{
	double vals[4] = {0};
	size_t n = 0;
	for (char *part = v;;) {
		char *slash = strchr(part, '/');
		if (slash)
			*slash = '\0';
		if (n == 4 || parse_prob(part, &vals[n++]))
			return TERN_EINVAL;
		if (!slash)
			break;
		part = slash + 1; /* never slash + 1 on NULL (UB the fuzzer found) */
	}
	if (n < 3)
		return TERN_EINVAL;
	ps->cfg.ge_p_good_bad = vals[0];
	ps->cfg.ge_p_bad_good = vals[1];
	ps->cfg.ge_loss_bad = vals[2];
	ps->cfg.ge_loss_good = vals[3];
	return 0;
}

static int key_queue(struct pstate *ps, char *v)
{
	size_t n = strlen(v);
	if (n > 3 && strcasecmp(v + n - 3, "bdp") == 0) {
		v[n - 3] = '\0';
		double m = number_with_unit(v, plain_units);
		if (m <= 0)
			return TERN_EINVAL;
		ps->queue_bdp = m;
		return 0;
	}
	double b = number_with_unit(v, size_units);
	if (b < 0 || b > 0x1p40)
		return TERN_EINVAL;
	ps->cfg.queue_bytes = (size_t)llround(b);
	ps->queue_bdp = 0;
	return 0;
}

static int key_mtu(struct pstate *ps, char *v)
{
	double m = number_with_unit(v, plain_units);
	if (m < 1 || m > 65535 || strspn(v, "0123456789") != strlen(v))
		return TERN_EINVAL;
	ps->cfg.mtu = (size_t)m;
	return 0;
}

static int key_blackhole(struct pstate *ps, char *v)
{
	char *dash = strchr(v, '-');
	if (!dash || ps->nblackholes == TERN_SIM_MAX_BLACKHOLES)
		return TERN_EINVAL;
	*dash = '\0';
	tern_time start, end;
	if (parse_duration(v, &start) || parse_duration(dash + 1, &end) || start >= end)
		return TERN_EINVAL;
	ps->cfg.blackhole[ps->nblackholes].start = start;
	ps->cfg.blackhole[ps->nblackholes].end = end;
	ps->nblackholes++;
	return 0;
}

static const struct key {
	const char *name;
	int (*parse)(struct pstate *ps, char *value);
	const char *expected;
} keys[] = {
        {"rate", key_rate, "expected a rate like 10mbit, 1gbit, 500kbit or plain bits/s"},
        {"delay", key_delay, "expected a duration like 25ms, 500us or 1.5s"},
        {"jitter", key_jitter, "expected a duration like 2ms, 500us or 1s"},
        {"reorder_delay", key_reorder_delay, "expected a duration like 5ms, 500us or 1s"},
        {"loss", key_loss, "expected a percentage like 1% or a fraction like 0.01"},
        {"reorder", key_reorder, "expected a percentage like 1% or a fraction like 0.01"},
        {"dup", key_dup, "expected a percentage like 1% or a fraction like 0.01"},
        {"corrupt", key_corrupt, "expected a percentage like 1% or a fraction like 0.01"},
        {"burst", key_burst, "expected P_GOOD_BAD/P_BAD_GOOD/LOSS_BAD[/LOSS_GOOD] like 1%/30%/50%"},
        {"queue", key_queue, "expected bytes like 65536, 64k or 1m, or a BDP multiple like 1bdp"},
        {"mtu", key_mtu, "expected a size in bytes from 1 to 65535"},
        {"blackhole", key_blackhole, "expected a window START-END like 2s-4s (at most 4)"},
        {"stall", key_stall,
         "expected P/DURATION like 0.1%/2ms (a host stall's chance per packet, and its length)"},
};

static void set_err(char *err, size_t errlen, const char *key, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", key, msg);
}

/* Trims spaces in place; returns the first non-space character. */
static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Parses one "key=value" item of at most ITEM_MAX - 1 bytes. */
static int parse_item(struct pstate *ps, const char *item, size_t len, char *err, size_t errlen)
{
	char buf[ITEM_MAX];
	if (len >= sizeof(buf)) {
		set_err(err, errlen, "profile", "item longer than 127 characters");
		return TERN_EINVAL;
	}
	memcpy(buf, item, len);
	buf[len] = '\0';
	if (*trim(buf) == '\0') {
		set_err(err, errlen, "profile", "empty item between commas");
		return TERN_EINVAL;
	}
	char *eq = strchr(buf, '=');
	if (!eq) {
		set_err(err, errlen, trim(buf), "expected key=value");
		return TERN_EINVAL;
	}
	*eq = '\0';
	char *key = trim(buf), *value = trim(eq + 1);
	for (size_t i = 0; i < TERN_ARRAY_LEN(keys); i++) {
		if (strcmp(key, keys[i].name) != 0)
			continue;
		if (keys[i].parse(ps, value) == 0)
			return 0;
		set_err(err, errlen, key, keys[i].expected);
		return TERN_EINVAL;
	}
	set_err(err, errlen, key,
	        "unknown key (known: rate, delay, jitter, loss, burst, reorder, "
	        "reorder_delay, dup, corrupt, queue, mtu, blackhole, stall)");
	return TERN_EINVAL;
}

/* Turns queue=Nbdp into bytes once rate and delay are known. */
static int resolve_bdp(struct pstate *ps, char *err, size_t errlen)
{
	if (ps->queue_bdp <= 0)
		return 0;
	if (!ps->cfg.rate_bps || !ps->cfg.delay_us) {
		set_err(err, errlen, "queue",
		        "a BDP multiple needs rate= and delay= in the profile");
		return TERN_EINVAL;
	}
	double bytes =
	        ps->queue_bdp * (double)ps->cfg.rate_bps * 2.0 * (double)ps->cfg.delay_us / 8e6;
	ps->cfg.queue_bytes = bytes < 1 ? 1 : (size_t)llround(bytes);
	return 0;
}

int tern_sim_parse_profile(const char *spec, struct tern_sim_path_cfg *cfg, char *err,
                           size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!spec || !cfg) {
		set_err(err, errlen, "profile", "no profile given");
		return TERN_EINVAL;
	}
	struct pstate ps = {0};
	for (const char *p = spec; *p;) {
		size_t len = strcspn(p, ",");
		if (parse_item(&ps, p, len, err, errlen))
			return TERN_EINVAL;
		p += len;
		if (*p == ',' && *++p == '\0') {
			set_err(err, errlen, "profile", "trailing comma");
			return TERN_EINVAL;
		}
	}
	if (resolve_bdp(&ps, err, errlen))
		return TERN_EINVAL;
	*cfg = ps.cfg;
	return 0;
}
