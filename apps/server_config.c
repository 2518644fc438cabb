/* tern-server's configuration: one table of settings that both the INI file
 * (--config FILE, parsed by libinih) and the command line set, so a flag and
 * its config key always share a name, a parser and an error message. The
 * file is read first and every flag then overrides it. Errors name the flag
 * or the file, line and key, and say what would be accepted. */
#include <arpa/inet.h>
#include <getopt.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/server.h"

#define PROG "tern-server"
#define EXIT_USAGE 2

typedef int (*setter)(struct server_config *c, const char *v, char *err, size_t errlen);

struct setting {
	const char *section, *key, *flag;
	setter set;
	int has_arg; /* getopt's: required_argument, or no_argument for switches */
};

static const char usage_text[] =
        "usage: " PROG " [--config FILE] [OPTIONS] [-- DPDK EAL ARGUMENTS]\n"
        "\n"
        "Serves echo, discard and files over tern (docs/tern-server.md).\n"
        "\n"
        "  --config FILE        INI file with the settings below (flags override it)\n"
        "  --key FILE           private key from 'tern-keygen genkey' (mode 0600); without\n"
        "                       it a fresh key is made for this run\n"
        "  --allow FILE         client public keys allowed to connect, one per line\n"
        "  --ticket-key FILE    ticket key from 'tern-keygen ticket-key': accept tickets\n"
        "  --bind ADDR          local address (default [::], dual-stack)\n"
        "  --port N             UDP port, 0 for an ephemeral one (default 4433)\n"
        "  --workers N          worker threads, 1..64 (default 1)\n"
        "  --cores LIST         pin workers to these cores, e.g. 0,2-3\n"
        "  --latency            busy-poll for the lowest latency (burns the cores)\n"
        "  --cc NAME            bbr, cubic or newreno (default bbr)\n"
        "  --log-level LEVEL    error, warn, info or debug (default info)\n"
        "  --drain-timeout SEC  graceful drain on SIGTERM/SIGINT (default 5)\n"
        "  --idle-timeout SEC   close silent sessions after this (default 30)\n"
        "  --echo-vport N       echo service's vport, 0 for none (default 7)\n"
        "  --discard-vport N    discard service's vport, 0 for none (default 9)\n"
        "  --file-vport N       file service's vport, 0 for none (default 20)\n"
        "  --root DIR           directory the file service serves (the service is off\n"
        "                       without it)\n"
        "  --backend NAME       uring (default) or dpdk: DPDK EAL arguments then follow\n"
        "                       '--', e.g. -- -l 2 -a 0000:3b:00.0 (docs/deploying.md)\n"
        "  --dpdk-port N        DPDK: the ethdev port index (default 0)\n"
        "  --dpdk-addr2 ADDR    DPDK: a second address, of the other family than --bind\n"
        "  --dpdk-prefix4 N     DPDK: the IPv4 on-link prefix length (default 24)\n"
        "  --dpdk-prefix6 N     DPDK: the IPv6 on-link prefix length (default 64)\n"
        "  --dpdk-gw4 ADDR      DPDK: the IPv4 gateway for off-link peers\n"
        "  --dpdk-gw6 ADDR      DPDK: the IPv6 gateway for off-link peers\n"
        "  --dpdk-vlan N        DPDK: 802.1Q VLAN ID to tag with and require (0: none)\n"
        "  --help\n"
        "\n"
        "Signals: SIGTERM or SIGINT drains and exits (a second one exits at once);\n"
        "SIGUSR1 logs the counters. Logs are key=value lines on stderr.\n";

/* ---- value parsers ---- */

static int failf(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return -1;
}

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return false;
	v = strtoull(s, &end, 10);
	*out = v;
	return *end == '\0' && v >= lo && v <= hi;
}

static int set_port(struct server_config *c, const char *v, char *err, size_t errlen)
{
	uint64_t n;

	if (!parse_u64(v, 0, 65535, &n))
		return failf(err, errlen, "expected a UDP port from 0 (ephemeral) to 65535");
	c->port = (uint16_t)n;
	return 0;
}

static int set_workers(struct server_config *c, const char *v, char *err, size_t errlen)
{
	uint64_t n;

	if (!parse_u64(v, 1, 64, &n))
		return failf(err, errlen, "expected a number of workers from 1 to 64");
	c->workers = (unsigned)n;
	return 0;
}

static int set_vport(uint16_t *out, const char *v, char *err, size_t errlen)
{
	uint64_t n;

	if (!parse_u64(v, 0, 65535, &n))
		return failf(err, errlen, "expected a vport from 1 to 65535, or 0 to turn it off");
	*out = (uint16_t)n;
	return 0;
}

static int set_echo(struct server_config *c, const char *v, char *err, size_t errlen)
{
	return set_vport(&c->echo_vport, v, err, errlen);
}

static int set_discard(struct server_config *c, const char *v, char *err, size_t errlen)
{
	return set_vport(&c->discard_vport, v, err, errlen);
}

static int set_file(struct server_config *c, const char *v, char *err, size_t errlen)
{
	return set_vport(&c->file_vport, v, err, errlen);
}

static int parse_seconds(const char *v, uint64_t *us, char *err, size_t errlen)
{
	char *end;
	double s = v && *v ? strtod(v, &end) : -1;

	if (!v || !*v || *end || !(s > 0 && s <= 86400))
		return failf(err, errlen,
		             "expected seconds, more than 0 and at most 86400 (e.g. 5 "
		             "or 0.5)");
	*us = (uint64_t)(s * 1e6);
	return 0;
}

static int set_drain(struct server_config *c, const char *v, char *err, size_t errlen)
{
	return parse_seconds(v, &c->drain_us, err, errlen);
}

static int set_idle(struct server_config *c, const char *v, char *err, size_t errlen)
{
	return parse_seconds(v, &c->idle_us, err, errlen);
}

/* One "N" or "N-M" item of a core list. */
static bool core_item(struct server_config *c, const char *item)
{
	char *end;
	long lo = strtol(item, &end, 10), hi = lo;

	if (end == item || lo < 0)
		return false;
	if (*end == '-') {
		const char *p = end + 1;
		hi = strtol(p, &end, 10);
		if (end == p)
			return false;
	}
	if (*end || hi < lo || hi >= 1024 || hi - lo >= SERVER_MAX_CORES - (long)c->ncores)
		return false;
	for (long k = lo; k <= hi; k++)
		c->cores[c->ncores++] = (int)k;
	return true;
}

/* "0,2-3": up to SERVER_MAX_CORES core numbers below 1024. */
static int set_cores(struct server_config *c, const char *v, char *err, size_t errlen)
{
	char buf[256], *rest = buf, *item;
	bool ok = strlen(v) < sizeof(buf);

	c->ncores = 0;
	if (ok) {
		strcpy(buf, v);
		while (ok && (item = strsep(&rest, ",")) != NULL)
			ok = core_item(c, item); /* an empty item fails here */
	}
	if (!ok || c->ncores == 0) {
		c->ncores = 0;
		return failf(err, errlen, "expected a list of core numbers like 0,2-3");
	}
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"1", "true", "yes", "on"}, *const no[] = {"0", "false",
	                                                                            "no", "off"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(v, no[i]) == 0)
			return *out = false, 0;
	}
	return -1;
}

static int set_latency(struct server_config *c, const char *v, char *err, size_t errlen)
{
	if (!v) /* the flag, without a value */
		return c->latency = true, 0;
	if (parse_bool(v, &c->latency) < 0)
		return failf(err, errlen, "expected true or false");
	return 0;
}

static int set_cc(struct server_config *c, const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "cubic") && strcmp(v, "newreno") && strcmp(v, "bbr"))
		return failf(err, errlen, "expected cubic, newreno or bbr");
	c->cc = v;
	return 0;
}

static int set_level(struct server_config *c, const char *v, char *err, size_t errlen)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};

	for (int i = 0; i < 4; i++)
		if (strcmp(v, names[i]) == 0)
			return c->log_level = (enum tern_log_level)i, 0;
	return failf(err, errlen, "expected error, warn, info or debug");
}

static int set_bind(struct server_config *c, const char *v, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(v);

	memset(&c->bind, 0, sizeof(c->bind));
	if (n >= 2 && n < sizeof(buf) && v[0] == '[' && v[n - 1] == ']') {
		memcpy(buf, v + 1, n - 2); /* [::1] */
		buf[n - 2] = '\0';
		v = buf;
	}
	if (inet_pton(AF_INET, v, c->bind.ip) == 1)
		c->bind.family = 4;
	else if (inet_pton(AF_INET6, v, c->bind.ip) == 1)
		c->bind.family = 6;
	else
		return failf(err, errlen, "expected an IPv4 or IPv6 address like 127.0.0.1 or ::1");
	return 0;
}

static int nonempty(const char **out, const char *v, char *err, size_t errlen)
{
	if (!*v)
		return failf(err, errlen, "expected a path");
	*out = v;
	return 0;
}

static int set_key(struct server_config *c, const char *v, char *err, size_t errlen)
{
	return nonempty(&c->key_path, v, err, errlen);
}

static int set_allow(struct server_config *c, const char *v, char *err, size_t errlen)
{
	return nonempty(&c->allow_path, v, err, errlen);
}

static int set_ticket(struct server_config *c, const char *v, char *err, size_t errlen)
{
	return nonempty(&c->ticket_key_path, v, err, errlen);
}

static int set_root(struct server_config *c, const char *v, char *err, size_t errlen)
{
	return nonempty(&c->root, v, err, errlen);
}

/* The backend settings: app_dpdk.c parses them by their flag's name. */
#define DPDK_SETTER(fn, name)                                                                      \
	static int fn(struct server_config *c, const char *v, char *err, size_t errlen)            \
	{                                                                                          \
		return app_dpdk_set(&c->dpdk, name, v, err, errlen);                               \
	}
DPDK_SETTER(set_backend, "backend")
DPDK_SETTER(set_dpdk_port, "dpdk-port")
DPDK_SETTER(set_dpdk_addr2, "dpdk-addr2")
DPDK_SETTER(set_dpdk_prefix4, "dpdk-prefix4")
DPDK_SETTER(set_dpdk_prefix6, "dpdk-prefix6")
DPDK_SETTER(set_dpdk_gw4, "dpdk-gw4")
DPDK_SETTER(set_dpdk_gw6, "dpdk-gw6")
DPDK_SETTER(set_dpdk_vlan, "dpdk-vlan")

/* [dpdk] eal = ...: the EAL arguments split on spaces (the string is the
 * config's own copy, split in place). Only in the file: on the command line
 * they follow "--". */
static int set_dpdk_eal(struct server_config *c, const char *v, char *err, size_t errlen)
{
	return app_dpdk_split_eal(&c->dpdk, (char *)v, err, errlen);
}

static const struct setting settings[] = {
        {"server", "key", "key", set_key, required_argument},
        {"server", "allow", "allow", set_allow, required_argument},
        {"server", "ticket-key", "ticket-key", set_ticket, required_argument},
        {"server", "bind", "bind", set_bind, required_argument},
        {"server", "port", "port", set_port, required_argument},
        {"server", "workers", "workers", set_workers, required_argument},
        {"server", "cores", "cores", set_cores, required_argument},
        {"server", "latency", "latency", set_latency, no_argument},
        {"server", "cc", "cc", set_cc, required_argument},
        {"server", "log-level", "log-level", set_level, required_argument},
        {"server", "drain-timeout", "drain-timeout", set_drain, required_argument},
        {"server", "idle-timeout", "idle-timeout", set_idle, required_argument},
        {"echo", "vport", "echo-vport", set_echo, required_argument},
        {"discard", "vport", "discard-vport", set_discard, required_argument},
        {"file", "vport", "file-vport", set_file, required_argument},
        {"file", "root", "root", set_root, required_argument},
        {"server", "backend", "backend", set_backend, required_argument},
        {"dpdk", "port", "dpdk-port", set_dpdk_port, required_argument},
        {"dpdk", "addr2", "dpdk-addr2", set_dpdk_addr2, required_argument},
        {"dpdk", "prefix4", "dpdk-prefix4", set_dpdk_prefix4, required_argument},
        {"dpdk", "prefix6", "dpdk-prefix6", set_dpdk_prefix6, required_argument},
        {"dpdk", "gw4", "dpdk-gw4", set_dpdk_gw4, required_argument},
        {"dpdk", "gw6", "dpdk-gw6", set_dpdk_gw6, required_argument},
        {"dpdk", "vlan", "dpdk-vlan", set_dpdk_vlan, required_argument},
        {"dpdk", "eal", NULL, set_dpdk_eal, required_argument},
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

enum { OPT_CONFIG = 1000, OPT_HELP };

static void defaults(struct server_config *c)
{
	memset(c, 0, sizeof(*c));
	c->port = 4433;
	c->workers = 1;
	c->cc = "bbr";
	c->log_level = TERN_LOG_INFO;
	c->drain_us = 5000000;
	c->idle_us = 30000000;
	c->echo_vport = 7;
	c->discard_vport = 9;
	c->file_vport = 20;
}

/* ---- the config file ---- */

struct ini_state {
	struct server_config *c;
	char err[256]; /* the first error; ini_parse reports its line */
};

static bool section_known(const char *section)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (strcmp(settings[i].section, section) == 0)
			return true;
	return false;
}

static int ini_record(struct ini_state *st, const char *fmt, const char *a, const char *b,
                      const char *fix)
{
	if (!st->err[0]) {
		int n = snprintf(st->err, sizeof(st->err), fmt, a, b);
		if (fix && n > 0 && (size_t)n < sizeof(st->err))
			snprintf(st->err + n, sizeof(st->err) - (size_t)n, ": %s", fix);
	}
	return 0;
}

static char *own(struct server_config *c, const char *v)
{
	char *s;

	if (c->nowned == sizeof(c->owned) / sizeof(c->owned[0]) || !(s = strdup(v)))
		return NULL;
	return c->owned[c->nowned++] = s;
}

static int on_ini_entry(void *user, const char *section, const char *name, const char *value)
{
	struct ini_state *st = user;
	char fix[200];
	const char *sec = *section ? section : "server"; /* keys before any [section] */
	char *v;

	if (!section_known(sec))
		return ini_record(st, "unknown section [%s] (key '%s')", sec, name,
		                  "use [server], [echo], [discard], [file] or [dpdk]");
	for (size_t i = 0; i < NSETTINGS; i++) {
		if (strcmp(settings[i].section, sec) || strcmp(settings[i].key, name))
			continue;
		if (!(v = own(st->c, value)))
			return ini_record(st, "key '%s' in [%s]", name, sec, "out of memory");
		if (settings[i].set(st->c, v, fix, sizeof(fix)) < 0)
			return ini_record(st, "key '%s' in [%s]", name, sec, fix);
		return 1;
	}
	return ini_record(st, "unknown key '%s' in [%s]", name, sec,
	                  "see docs/tern-server.md for the keys each section takes");
}

static int load_file(struct server_config *c, const char *path)
{
	struct ini_state st = {.c = c};
	int line = ini_parse(path, on_ini_entry, &st);

	if (line == 0)
		return 0;
	if (line == -1)
		fprintf(stderr, PROG ": --config %s: cannot open the file\n", path);
	else if (line == -2)
		fprintf(stderr, PROG ": --config %s: out of memory\n", path);
	else if (st.err[0])
		fprintf(stderr, PROG ": %s:%d: %s\n", path, line, st.err);
	else
		fprintf(stderr,
		        PROG ": %s:%d: syntax error: expected 'key = value' or '[section]'\n", path,
		        line);
	return EXIT_USAGE;
}

/* ---- the command line ---- */

static void build_options(struct option *o)
{
	size_t i;

	size_t n = 0;

	for (i = 0; i < NSETTINGS; i++)
		if (settings[i].flag) /* [dpdk] eal has no flag: EAL arguments follow "--" */
			o[n++] = (struct option){settings[i].flag, settings[i].has_arg, NULL,
			                         (int)i};
	i = n;
	o[i++] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
	o[i++] = (struct option){"help", no_argument, NULL, OPT_HELP};
	o[i] = (struct option){NULL, 0, NULL, 0};
}

static int bad_flag(const char *flag, const char *arg, const char *fix)
{
	if (arg)
		fprintf(stderr, PROG ": --%s %s: %s (see --help)\n", flag, arg, fix);
	else
		fprintf(stderr, PROG ": %s: %s (see --help)\n", flag, fix);
	return EXIT_USAGE;
}

/* The first pass: only --config and --help, so the file can be read before
 * the flags that override it. */
static int first_pass(struct server_config *c, int argc, char **argv, const struct option *o)
{
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", o, NULL)) != -1) {
		if (opt == OPT_HELP) {
			fputs(usage_text, stdout);
			return -1;
		}
		if (opt == OPT_CONFIG)
			c->config_path = optarg;
	}
	return 0;
}

static const char *unknown_name(char **argv)
{
	const char *a = argv[optind - 1];

	return a ? a : "?";
}

/* "--latency=yes": a switch given a value. */
static bool is_switch_with_value(const char *arg, const struct option *o)
{
	const char *eq = strchr(arg, '=');

	if (strncmp(arg, "--", 2) != 0 || !eq)
		return false;
	for (; o->name; o++)
		if (o->has_arg == no_argument && strlen(o->name) == (size_t)(eq - arg - 2) &&
		    strncmp(o->name, arg + 2, (size_t)(eq - arg - 2)) == 0)
			return true;
	return false;
}

static int second_pass(struct server_config *c, int argc, char **argv, const struct option *o)
{
	char fix[200];
	int opt;

	optind = 0; /* GNU: start over */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", o, NULL)) != -1) {
		if (opt == OPT_CONFIG || opt == OPT_HELP)
			continue;
		if (opt == '?' && is_switch_with_value(unknown_name(argv), o))
			return bad_flag(unknown_name(argv), NULL,
			                "this switch takes no value (in the config file: "
			                "latency = true)");
		if (opt == '?')
			return bad_flag(unknown_name(argv), NULL, "unknown option");
		if (opt == ':')
			return bad_flag(unknown_name(argv), NULL, "this option needs a value");
		if (settings[opt].set(c, optarg, fix, sizeof(fix)) < 0)
			return bad_flag(settings[opt].flag, optarg, fix);
	}
	if (optind < argc)
		return bad_flag(argv[optind], NULL,
		                "unexpected argument (every setting is a --flag)");
	return 0;
}

/* Everything after "--" is for DPDK's EAL, as in any DPDK application; it
 * replaces a config file's [dpdk] eal. */
static void take_eal(struct server_config *c, const struct app_dpdk *eal)
{
	memcpy(c->dpdk.eal, eal->eal, sizeof(eal->eal));
	c->dpdk.neal = eal->neal;
}

static int check_backend(struct server_config *c)
{
	char err[300];
	struct tern_addr b = c->bind;

	if (app_dpdk_check(&c->dpdk, &b, "--bind", err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return EXIT_USAGE;
	}
	return 0;
}

int server_config_load(struct server_config *c, int argc, char **argv)
{
	struct option o[NSETTINGS + 3];
	struct app_dpdk eal = {0};
	int rc, nopt;

	defaults(c);
	build_options(o);
	if (app_dpdk_take_eal(&eal, argc, argv, &nopt) < 0)
		return bad_flag("--", NULL, "more than 64 EAL arguments");
	if (first_pass(c, nopt, argv, o) < 0)
		return -1;
	if (c->config_path && (rc = load_file(c, c->config_path)) != 0)
		return rc;
	if (nopt < argc)
		take_eal(c, &eal);
	if ((rc = second_pass(c, nopt, argv, o)) != 0)
		return rc;
	if (c->dpdk.backend == TERN_BACKEND_URING && nopt == argc)
		c->dpdk.neal = 0; /* the file's [dpdk] eal, unused on io_uring */
	return check_backend(c);
}

void server_config_free(struct server_config *c)
{
	for (unsigned i = 0; i < c->nowned; i++)
		free(c->owned[i]);
	c->nowned = 0;
}
