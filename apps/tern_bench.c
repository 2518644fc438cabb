/* tern-bench: tern against kernel TCP on real sockets, measured in one run.
 * With no arguments: loopback, the io_uring backend, a server process and a
 * client process (this binary re-executed with the hidden --role server),
 * one worker each pinned to different cores, and the table: bulk goodput
 * with cycles per packet and per byte on each side, the 64-byte message
 * rate, 64-byte ping-pong latency percentiles, each beside TCP's, and
 * the targets checked against this machine's AEAD and X25519 rates.
 * The processes talk over a TCP control connection (bench_server.c), so the
 * same code runs across two hosts with --server and --client. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "crypto/encode.h"

/* --backend dpdk on loopback: two DPDK processes joined by net_memif, no
 * hugepages, these addresses on the link (docs/tern-bench.md). */
#define MEMIF_SRV_ADDR "10.79.0.1"
#define MEMIF_CLI_ADDR "10.79.0.2"
#define MAX_EAL_STR 2048

enum { BK_URING = 1, BK_DPDK = 2, BK_BOTH = 3 }; /* bits: BACKEND_URING, BACKEND_DPDK */

struct opts {
	struct bench_params p;
	bool modes[MODE_N], any_mode;
	bool set_size, set_count, set_seconds, no_tcp;
	char latency; /* 'a'uto (default), 'n' on, 'f' off: --latency-mode */
	const char *server, *client, *role, *plot, *impair;
	int backends; /* BK_* */
	bool dpdk_addr_set;
	unsigned neal_user; /* loopback: the operator's EAL arguments, last in bench_dpdk.d */
	int argc;
	char **argv;
	int srv_core, cli_core;
	char memif_dir[64]; /* loopback DPDK: the temp dir naming the memif socket */
	char eal_srv[MAX_EAL_STR], eal_cli[MAX_EAL_STR];
};

enum {
	O_SIZE = 1,
	O_COUNT,
	O_BYTES,
	O_SECONDS,
	O_STREAMS,
	O_SESSIONS,
	O_CIPHER,
	O_BACKEND,
	O_WORKERS,
	O_CC,
	O_SERVER,
	O_CLIENT,
	O_JSON,
	O_PLOT,
	O_TRACE,
	O_IMPAIR,
	O_MODE,
	O_NOTCP,
	O_LATENCY,
	O_SEED,
	O_ROLE,
	O_DPDK_ADDR,
	O_DPDK_PORT,
	O_DPDK_VLAN,
	O_DPDK_PREFIX4,
	O_DPDK_PREFIX6,
	O_DPDK_GW4,
	O_DPDK_GW6,
	O_HELP
};

static const struct option options[] = {
        {"size", required_argument, NULL, O_SIZE},
        {"count", required_argument, NULL, O_COUNT},
        {"bytes", required_argument, NULL, O_BYTES},
        {"seconds", required_argument, NULL, O_SECONDS},
        {"streams", required_argument, NULL, O_STREAMS},
        {"sessions", required_argument, NULL, O_SESSIONS},
        {"cipher", required_argument, NULL, O_CIPHER},
        {"backend", required_argument, NULL, O_BACKEND},
        {"workers", required_argument, NULL, O_WORKERS},
        {"cc", required_argument, NULL, O_CC},
        {"server", optional_argument, NULL, O_SERVER},
        {"client", required_argument, NULL, O_CLIENT},
        {"json", no_argument, NULL, O_JSON},
        {"plot", required_argument, NULL, O_PLOT},
        {"trace", required_argument, NULL, O_TRACE},
        {"impair", required_argument, NULL, O_IMPAIR},
        {"mode", required_argument, NULL, O_MODE},
        {"no-tcp", no_argument, NULL, O_NOTCP},
        {"latency-mode", required_argument, NULL, O_LATENCY},
        {"seed", required_argument, NULL, O_SEED},
        {"role", required_argument, NULL, O_ROLE},
        {"dpdk-addr", required_argument, NULL, O_DPDK_ADDR},
        {"dpdk-port", required_argument, NULL, O_DPDK_PORT},
        {"dpdk-vlan", required_argument, NULL, O_DPDK_VLAN},
        {"dpdk-prefix4", required_argument, NULL, O_DPDK_PREFIX4},
        {"dpdk-prefix6", required_argument, NULL, O_DPDK_PREFIX6},
        {"dpdk-gw4", required_argument, NULL, O_DPDK_GW4},
        {"dpdk-gw6", required_argument, NULL, O_DPDK_GW6},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: tern-bench [MODE...] [options] [-- EAL-ARGS]\n"
	        "  MODE              bulk, rate, pingpong, handshake, sessions, or all\n"
	        "                    (default: bulk rate pingpong, each over tern and TCP)\n"
	        "  --seconds S       cap on each test's duration (default 4; sessions 60)\n"
	        "  --bytes N         bulk bytes, K/M/G suffixes (default 2G; the cap usually ends "
	        "it)\n"
	        "  --size N          message bytes (default 64K for bulk, 64 for rate and "
	        "pingpong)\n"
	        "  --count N         rate messages, round trips or handshakes (defaults 20M, "
	        "100K, 20K)\n"
	        "  --streams N       bulk/rate streams, 1..%d (default 1)\n"
	        "  --sessions N      sessions to hold open in the sessions mode (default 10000)\n"
	        "  --cipher NAME     aes-256-gcm (default where the CPU has AES) or "
	        "chacha20-poly1305\n"
	        "  --cc NAME         bbr (default), cubic or newreno\n"
	        "  --workers N       worker threads per side (default 1)\n"
	        "  --backend NAME    uring (default), dpdk, or both (io_uring and DPDK side by "
	        "side);\n"
	        "                    on loopback DPDK is two processes joined by net_memif "
	        "(root)\n"
	        "  --dpdk-addr ADDR  with --server/--client: this host's DPDK port address\n"
	        "  --dpdk-port N, --dpdk-vlan ID, --dpdk-prefix4/6 LEN, --dpdk-gw4/6 ADDR\n"
	        "                    the port's settings as in tern-server "
	        "(docs/deploying.md)\n"
	        "  -- EAL-ARGS       DPDK EAL arguments: with --server/--client the port's "
	        "(e.g.\n"
	        "                    -a 0000:3b:00.0 -l 2-3); on loopback added to memif's "
	        "own\n"
	        "  --latency-mode auto|on|off  busy-polling workers for pingpong (auto, the\n"
	        "                    default: on when the peer is on this host; TCP\n"
	        "                    then spins on non-blocking reads too)\n"
	        "  --no-tcp          skip the TCP baseline\n"
	        "  --impair SPEC     route tern's packets through tern-impair --both SPEC, e.g.\n"
	        "                    'rate=1gbit,delay=5ms,loss=0.1%%' (TCP is then skipped)\n"
	        "  --server [ADDR]   serve a remote client on ADDR (default 0.0.0.0:4433)\n"
	        "  --client ADDR     run against tern-bench --server on ADDR\n"
	        "  --json            one JSON object per result on stdout (JSON lines)\n"
	        "  --plot FILE.svg   ping-pong latency CDF via gnuplot\n"
	        "  --trace FILE      append the tern sender's state every 10 ms (bulk, rate)\n"
	        "                    as CSV: time, bytes sent, cwnd, in flight, RTTs, rates,\n"
	        "                    losses, retransmissions, PTOs, state\n"
	        "  --seed N          content seed (default 1)\n"
	        "  --help\n",
	        BENCH_MAX_STREAMS);
}

static int bad(const char *flag, const char *fix)
{
	fprintf(stderr, "tern-bench: %s: %s (see --help)\n", flag, fix);
	return 2;
}

static bool parse_size(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	uint64_t mult = 1;

	if (end == s || *s == '-')
		return false;
	if (*end == 'K' || *end == 'k')
		mult = 1000, end++;
	else if (*end == 'M' || *end == 'm')
		mult = 1000000, end++;
	else if (*end == 'G' || *end == 'g')
		mult = 1000000000, end++;
	if (end[0] == 'i' && mult > 1) /* KiB-style: Ki, Mi, Gi */
		mult = mult == 1000 ? 1ull << 10 : mult == 1000000 ? 1ull << 20 : 1ull << 30, end++;
	*out = v * mult;
	return *end == '\0' && *out >= lo && *out <= hi;
}

/* Sizes in bytes use binary K/M/G (64K = 65536), counts decimal (100K). */
static bool parse_bytes(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char buf[64];
	size_t n = strlen(s);

	if (n == 0 || n + 2 > sizeof(buf))
		return false;
	memcpy(buf, s, n + 1);
	if (strchr("KkMmGg", buf[n - 1]))
		buf[n] = 'i', buf[n + 1] = '\0';
	return parse_size(buf, lo, hi, out);
}

static int parse_modes(struct opts *o, const char *list)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int m = bench_mode_find(t);
		if (strcmp(t, "all") == 0) {
			for (int i = 0; i < MODE_N; i++)
				o->modes[i] = true;
		} else if (m < 0) {
			fprintf(stderr,
			        "tern-bench: mode '%s': unknown; use bulk, rate, pingpong, "
			        "handshake, sessions or all (see --help)\n",
			        t);
			return 2;
		} else {
			o->modes[m] = true;
		}
		o->any_mode = true;
	}
	return 0;
}

static int opt_value(struct opts *o, int opt, const char *arg, const char *flag)
{
	struct bench_params *p = &o->p;
	uint64_t v;
	char *end;

	switch (opt) {
	case O_SIZE:
		if (!parse_bytes(arg, 1, BENCH_MAX_SIZE, &p->size))
			return bad(flag, "use 1 byte to 1M, e.g. --size 64 or --size 64K");
		o->set_size = true;
		return 0;
	case O_COUNT:
		if (!parse_size(arg, 1, 1000000000000ull, &p->count))
			return bad(flag, "use a positive count, e.g. --count 100K");
		o->set_count = true;
		return 0;
	case O_BYTES:
		if (!parse_bytes(arg, 1, 1ull << 50, &p->bytes))
			return bad(flag, "use a byte count with K/M/G, e.g. --bytes 1G");
		return 0;
	case O_SECONDS:
		p->seconds = strtod(arg, &end);
		if (end == arg || *end || !(p->seconds > 0 && p->seconds <= 3600))
			return bad(flag, "use seconds from 0.001 to 3600, e.g. --seconds 4");
		o->set_seconds = true;
		return 0;
	case O_STREAMS:
		if (!parse_size(arg, 1, BENCH_MAX_STREAMS, &v))
			return bad(flag, "use 1 to 15 streams");
		p->streams = (unsigned)v;
		return 0;
	case O_SESSIONS:
		if (!parse_size(arg, 1, 4000000, &v))
			return bad(flag, "use 1 to 4M sessions, e.g. --sessions 10K");
		p->sessions = (unsigned)v;
		return 0;
	case O_WORKERS:
		if (!parse_size(arg, 1, 64, &v))
			return bad(flag, "use 1 to 64 workers");
		p->workers = (unsigned)v;
		return 0;
	case O_SEED:
		if (!parse_size(arg, 0, UINT64_MAX, &p->seed))
			return bad(flag, "use a whole number");
		return 0;
	}
	return -1;
}

static int opt_name(struct opts *o, int opt, const char *arg, const char *flag)
{
	switch (opt) {
	case O_CIPHER:
		if (strcmp(arg, "chacha20-poly1305") && strcmp(arg, "aes-256-gcm"))
			return bad(flag, "use aes-256-gcm or chacha20-poly1305");
		o->p.chacha = arg[0] == 'c';
		return 0;
	case O_CC:
		if (strcmp(arg, "cubic") && strcmp(arg, "newreno") && strcmp(arg, "bbr"))
			return bad(flag, "use cubic, newreno or bbr");
		snprintf(o->p.cc, sizeof(o->p.cc), "%s", arg);
		return 0;
	case O_BACKEND:
		if (strcmp(arg, "uring") == 0)
			o->backends = BK_URING;
		else if (strcmp(arg, "dpdk") == 0)
			o->backends = BK_DPDK;
		else if (strcmp(arg, "both") == 0)
			o->backends = BK_BOTH;
		else
			return bad(flag, "use uring, dpdk or both");
		return 0;
	case O_LATENCY:
		if (strcmp(arg, "on") && strcmp(arg, "off") && strcmp(arg, "auto"))
			return bad(flag, "use auto, on or off");
		o->latency = arg[1];
		return 0;
	case O_MODE:
		return parse_modes(o, arg);
	case O_ROLE:
		if (strcmp(arg, "server"))
			return bad(flag, "internal flag; only 'server' exists");
		o->role = arg;
		return 0;
	case O_DPDK_ADDR:
		if (app_dpdk_parse_addr(arg, &bench_dpdk.addr) < 0)
			return bad(flag, "use the port's IPv4 or IPv6 address, e.g. 10.0.0.1");
		o->dpdk_addr_set = true;
		return 0;
	}
	if (opt >= O_DPDK_PORT && opt <= O_DPDK_GW6) {
		char err[160];
		if (app_dpdk_set(&bench_dpdk.d, flag + 2, arg, err, sizeof(err)) < 0)
			return bad(flag, err);
		return 0;
	}
	return opt_value(o, opt, arg, flag);
}

static int parse_opt(struct opts *o, int opt, const char *arg, char **argv)
{
	char flag[64];

	snprintf(flag, sizeof(flag), "--%s",
	         opt > 0 && opt <= O_HELP ? options[opt - 1].name : "?");
	switch (opt) {
	case O_SERVER: /* "--server ADDR" as well as "--server=ADDR" and a bare "--server" */
		if (!arg && optind < o->argc && o->argv[optind][0] != '-' &&
		    bench_mode_find(o->argv[optind]) < 0 && strcmp(o->argv[optind], "all"))
			arg = o->argv[optind++];
		o->server = arg ? arg : "0.0.0.0:4433";
		return 0;
	case O_CLIENT:
		o->client = arg;
		return 0;
	case O_JSON:
		bench_out.json = true;
		return 0;
	case O_PLOT:
		o->plot = arg;
		return 0;
	case O_TRACE:
		bench_out.trace = arg;
		return 0;
	case O_IMPAIR:
		o->impair = arg;
		return 0;
	case O_NOTCP:
		o->no_tcp = true;
		return 0;
	case O_HELP:
		usage(stdout);
		exit(0);
	case ':':
		fprintf(stderr, "tern-bench: %s: needs a value (see --help)\n", argv[optind - 1]);
		return 2;
	case '?':
		fprintf(stderr, "tern-bench: %s: unknown flag; the flags are listed by --help\n",
		        argv[optind - 1]);
		return 2;
	}
	return opt_name(o, opt, arg, flag);
}

/* ---- the DPDK backend's settings ---- */

static bool eal_has(const char *arg)
{
	for (unsigned i = 0; i < bench_dpdk.d.neal; i++)
		if (strcmp(bench_dpdk.d.eal[i], arg) == 0)
			return true;
	return false;
}

/* HugePages_Total from /proc/meminfo (0 when absent). */
static long hugepages(void)
{
	char line[128];
	long n = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Total: %ld", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n;
}

/* Loopback: this process is memif's client, the server process its server;
 * the operator's EAL arguments follow memif's own on both. */
static int memif_setup(struct opts *o)
{
	static char defaults[MAX_EAL_STR];
	static const char *user[APP_DPDK_MAX_EAL];
	unsigned nuser = bench_dpdk.d.neal;
	char err[80];
	int last = bench_ncpu() > 1 ? 1 : 0;

	memcpy(user, bench_dpdk.d.eal, nuser * sizeof(user[0]));
	snprintf(o->memif_dir, sizeof(o->memif_dir), "/tmp/tern-bench.XXXXXX");
	if (!mkdtemp(o->memif_dir))
		return bad("--backend", "cannot create a temporary directory for memif's socket");
	snprintf(o->eal_srv, sizeof(o->eal_srv),
	         "--no-huge -m 256 --no-pci --no-telemetry --file-prefix=tern-bench-%d-srv -l 0 "
	         "--log-level=lib.eal:error --vdev=net_memif0,role=server,socket=%s/memif.sock",
	         (int)getpid(), o->memif_dir);
	snprintf(defaults, sizeof(defaults),
	         "--no-huge -m 256 --no-pci --no-telemetry --file-prefix=tern-bench-%d-cli -l %d "
	         "--log-level=lib.eal:error --vdev=net_memif0,role=client,socket=%s/memif.sock",
	         (int)getpid(), last, o->memif_dir);
	if (app_dpdk_split_eal(&bench_dpdk.d, defaults, err, sizeof(err)) < 0 ||
	    bench_dpdk.d.neal + nuser > APP_DPDK_MAX_EAL)
		return bad("--", "too many EAL arguments");
	memcpy(bench_dpdk.d.eal + bench_dpdk.d.neal, user, nuser * sizeof(user[0]));
	bench_dpdk.d.neal += nuser;
	o->neal_user = nuser;
	app_dpdk_parse_addr(MEMIF_CLI_ADDR, &bench_dpdk.addr);
	bench_dpdk.memif = true;
	return 0;
}

/* Refuses what cannot work, with the reason and the fix; sets bench_dpdk. */
static int check_dpdk(struct opts *o)
{
	if (!(o->backends & BK_DPDK)) {
		if (bench_dpdk.d.neal)
			return bad("--", "EAL arguments after '--' apply only with --backend dpdk "
			                 "or both");
		if (o->dpdk_addr_set)
			return bad("--dpdk-addr", "applies only with --backend dpdk or both");
		return 0;
	}
#ifndef TERN_HAVE_DPDK
	return bad("--backend", "this build has no DPDK (libdpdk was not found when meson "
	                        "configured it): install libdpdk-dev and reconfigure with "
	                        "meson -Ddpdk=enabled, or use --backend uring");
#else
	bench_dpdk.on = true;
	bench_dpdk.d.backend = TERN_BACKEND_DPDK;
	if (!o->server && !o->client && !o->role) {
		if (o->dpdk_addr_set)
			return bad("--dpdk-addr",
			           "applies with --server/--client; on loopback the "
			           "memif link uses " MEMIF_SRV_ADDR " and " MEMIF_CLI_ADDR);
		return 0; /* main() sets memif up once nothing else can be refused */
	}
	if (!o->dpdk_addr_set)
		return bad("--backend", "DPDK with --server/--client needs this host's DPDK port "
		                        "address: add --dpdk-addr, e.g. --dpdk-addr 10.0.0.1");
	if (!bench_dpdk.d.neal)
		return bad("--backend", "DPDK with --server/--client needs the port's EAL "
		                        "arguments after '--', e.g. -- -a 0000:3b:00.0 -l 2-3 "
		                        "(docs/deploying.md)");
	for (unsigned i = 0; i < bench_dpdk.d.neal; i++)
		bench_dpdk.memif |= strstr(bench_dpdk.d.eal[i], "net_memif") != NULL;
	if (geteuid() != 0 && !(eal_has("--no-huge") && eal_has("--no-pci")))
		return bad("--backend", "not root: the EAL needs root for hugepages and for the "
		                        "NIC's PCI device (vfio-pci): run tern-bench as root (a "
		                        "virtual device with --no-huge --no-pci runs as any user)");
	if (!eal_has("--no-huge") && hugepages() <= 0)
		return bad("--backend", "no hugepages are reserved (HugePages_Total is 0 in "
		                        "/proc/meminfo): reserve some (dpdk-hugepages.py --setup "
		                        "2G), or add --no-huge -m 512 to the EAL arguments");
	return 0;
#endif
}

/* Removes the EAL's runtime directory of a file prefix this run used: under
 * /var/run/dpdk for root, else $XDG_RUNTIME_DIR/dpdk or /tmp/dpdk. */
static void eal_cleanup(const char *prefix)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char path[512];
	DIR *d;
	struct dirent *ent;

	if (geteuid() == 0)
		snprintf(path, sizeof(path), "/var/run/dpdk/%s", prefix);
	else
		snprintf(path, sizeof(path), "%.300s/dpdk/%s", xdg ? xdg : "/tmp", prefix);
	if (!(d = opendir(path)))
		return;
	while ((ent = readdir(d)))
		if (ent->d_name[0] != '.')
			unlinkat(dirfd(d), ent->d_name, 0);
	closedir(d);
	rmdir(path);
}

static void memif_cleanup(const struct opts *o)
{
	char prefix[64];

	if (!o->memif_dir[0])
		return;
	snprintf(prefix, sizeof(prefix), "tern-bench-%d-srv", (int)getpid());
	eal_cleanup(prefix);
	snprintf(prefix, sizeof(prefix), "tern-bench-%d-cli", (int)getpid());
	eal_cleanup(prefix);
	rmdir(o->memif_dir); /* memif's socket is abstract: no file in it */
}

static int parse_args(struct opts *o, int argc, char **argv)
{
	int opt, rc;

	o->p = (struct bench_params){
	        .streams = 1, .sessions = 10000, .workers = 1, .seconds = 4, .seed = 1};
	o->p.bytes = 2ull << 30;
	o->backends = BK_URING;
	if (app_dpdk_take_eal(&bench_dpdk.d, argc, argv, &argc) < 0)
		return bad("--", "more than 64 EAL arguments");
	o->argc = argc;
	o->argv = argv;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1)
		if ((rc = parse_opt(o, opt, optarg, argv)) != 0)
			return rc;
	for (int i = optind; i < argc; i++)
		if ((rc = parse_modes(o, argv[i])) != 0)
			return rc;
	if (!o->any_mode)
		o->modes[MODE_BULK] = o->modes[MODE_RATE] = o->modes[MODE_PINGPONG] = true;
	if (o->server && o->client)
		return bad("--server", "a process is a server or a client, not both");
	if (o->plot && (!strstr(o->plot, ".svg") || bench_out.json))
		return bad("--plot", "name an .svg file, and do not combine it with --json");
	return check_dpdk(o);
}

/* ---- the client's side of the control connection ---- */

struct ctl {
	int fd;
	pid_t child; /* the local server process, or 0 */
	struct tern_addr addr;
};

/* The server process's arguments: with DPDK, memif's server side and the
 * operator's EAL arguments. */
static void server_argv(const struct opts *o, char **av, char *buf, size_t len)
{
	unsigned n = 0;
	char *save = NULL;

	av[n++] = (char *)"tern-bench";
	av[n++] = (char *)"--role";
	av[n++] = (char *)"server";
	if (o->backends & BK_DPDK) {
		av[n++] = (char *)"--backend";
		av[n++] = (char *)"dpdk";
		av[n++] = (char *)"--dpdk-addr";
		av[n++] = (char *)MEMIF_SRV_ADDR;
		av[n++] = (char *)"--";
		snprintf(buf, len, "%s", o->eal_srv);
		for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
			av[n++] = t;
		for (unsigned i = bench_dpdk.d.neal - o->neal_user; i < bench_dpdk.d.neal; i++)
			av[n++] = (char *)bench_dpdk.d.eal[i];
	}
	av[n] = NULL;
}

static int spawn_server(struct ctl *c, const struct opts *o)
{
	static char *av[APP_DPDK_MAX_EAL + 16];
	static char buf[MAX_EAL_STR];
	int fds[2];
	char line[64];

	if (pipe(fds) < 0)
		return -1;
	server_argv(o, av, buf, sizeof(buf));
	c->child = fork();
	if (c->child == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execv("/proc/self/exe", av);
		_exit(127);
	}
	close(fds[1]);
	if (c->child < 0 || bench_read_line(fds[0], line, sizeof(line)) < 0 ||
	    sscanf(line, "PORT %hu", &c->addr.port) != 1) {
		close(fds[0]);
		return -1;
	}
	close(fds[0]);
	c->addr.family = 4;
	c->addr.ip[0] = 127, c->addr.ip[3] = 1;
	return 0;
}

static int ctl_open(struct ctl *c, const struct opts *o)
{
	char err[200];

	memset(c, 0, sizeof(*c));
	if (o->client) {
		c->addr.port = 4433;
		if (bench_parse_hostport(o->client, &c->addr, err, sizeof(err)) < 0)
			return bad("--client", err);
	} else if (spawn_server(c, o) < 0) {
		fprintf(stderr, "tern-bench: cannot start the server process\n");
		return 1;
	}
	c->fd = bench_tcp_connect(&c->addr);
	if (c->fd < 0) {
		fprintf(stderr, "tern-bench: cannot reach the server's control port: %s\n",
		        strerror(errno));
		return 1;
	}
	return 0;
}

static void ctl_close(struct ctl *c)
{
	if (c->fd >= 0) {
		bench_write_all(c->fd, "QUIT\n", 5);
		close(c->fd);
	}
	if (c->child > 0)
		waitpid(c->child, NULL, 0);
}

/* Sends one request and reads the answer line. Returns 0 if it began "OK"
 * or "RESULT". */
static int ctl_ask(struct ctl *c, const char *req, char *ans, size_t len)
{
	if (bench_write_all(c->fd, req, strlen(req)) < 0 || bench_read_line(c->fd, ans, len) < 0) {
		snprintf(ans, len, "ERR the server closed the control connection");
		return -1;
	}
	return strncmp(ans, "OK", 2) == 0 || strncmp(ans, "RESULT", 6) == 0 ? 0 : -1;
}

static uint64_t field(const char *line, const char *key)
{
	const char *p = strstr(line, key);

	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static double field_d(const char *line, const char *key)
{
	const char *p = strstr(line, key);

	return p ? strtod(p + strlen(key), NULL) : 0;
}

/* ---- tern-impair in the path ---- */

/* Starts tern-impair forwarding to *a and points *a at it. */
static pid_t impair_start(const char *spec, double seconds, struct tern_addr *a, int *out_fd,
                          char *err, size_t errlen)
{
	char exe[4096], fwd[80], host[64], dur[32], line[256];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 32);
	const char *port;
	int fds[2];
	pid_t pid;

	if (n <= 0)
		return snprintf(err, errlen, "cannot find my own executable"), -1;
	exe[n] = '\0';
	snprintf(strrchr(exe, '/') + 1, 32, "tern-impair");
	if (access(exe, X_OK) != 0)
		return snprintf(err, errlen,
		                "tern-impair is not built (expected %.100s); build it with ninja, "
		                "or "
		                "run without --impair",
		                exe),
		       -1;
	inet_ntop(a->family == 6 ? AF_INET6 : AF_INET, a->ip, host, sizeof(host));
	snprintf(fwd, sizeof(fwd), a->family == 6 ? "[%s]:%u" : "%s:%u", host, a->port);
	snprintf(dur, sizeof(dur), "%.0f", seconds + 120);
	if (pipe(fds) < 0 || (pid = fork()) < 0)
		return snprintf(err, errlen, "cannot start tern-impair"), -1;
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execl(exe, "tern-impair", "--listen", a->family == 6 ? "[::1]:0" : "127.0.0.1:0",
		      "--forward", fwd, "--both", spec, "--duration", dur, NULL);
		_exit(127);
	}
	close(fds[1]);
	if (bench_read_line(fds[0], line, sizeof(line)) < 0 || !strstr(line, "listening on ") ||
	    !(port = strrchr(strtok(strstr(line, "listening on "), ","), ':'))) {
		close(fds[0]);
		waitpid(pid, NULL, 0);
		return snprintf(err, errlen,
		                "tern-impair refused --both '%s' (its message is above)", spec),
		       -1;
	}
	a->port = (uint16_t)atoi(port + 1);
	*out_fd = fds[0];
	return pid;
}

/* Stops the proxy and passes its counters on to stderr. */
static void impair_stop(pid_t pid, int fd)
{
	char line[512];

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	while (bench_read_line(fd, line, sizeof(line)) >= 0)
		fprintf(stderr, "  %s\n", line);
	close(fd);
	waitpid(pid, NULL, 0);
}

/* ---- one test ---- */

static int tern_side(struct ctl *c, const struct opts *o, const char *ans, struct bench_result *r,
                     void **hold, pid_t *imp, int *imp_fd)
{
	const struct bench_params *p = &r->p;
	struct tern_addr a = c->addr;
	uint8_t pub[TERN_KEY_LEN];
	char key[64] = "";
	const char *k = strstr(ans, "key=");

	a.port = (uint16_t)field(ans, "port=");
	if (k)
		sscanf(k + 4, "%63s", key);
	if (p->backend == BACKEND_DPDK) { /* the server's DPDK port, not its control address */
		char ip[64] = "";
		const char *at = strstr(ans, "addr=");
		if (!at || sscanf(at + 5, "%63s", ip) != 1 || app_dpdk_parse_addr(ip, &a) < 0)
			return snprintf(r->err, sizeof(r->err), "the server sent no DPDK address"),
			       -1;
		a.port = (uint16_t)field(ans, "port=");
	}
	if (tern_key_parse(key, pub) < 0)
		return snprintf(r->err, sizeof(r->err), "the server sent no key"), -1;
	if (o->impair) {
		*imp = impair_start(o->impair, p->seconds, &a, imp_fd, r->err, sizeof(r->err));
		if (*imp < 0)
			return -1;
	}
	*hold = bench_tern_client(p, &a, pub, o->cli_core, r);
	return 0;
}

/* Runs p. Returns -1 if the control connection is lost (no more tests). */
static int run_test(struct ctl *c, const struct opts *o, const struct bench_params *p,
                    struct bench_result *r)
{
	char req[512], ans[512], params[400];
	void *hold = NULL;
	pid_t imp = 0;
	int imp_fd = -1;

	memset(r, 0, sizeof(*r));
	r->p = *p;
	if (p->mode == MODE_PINGPONG && !(r->hist = calloc(1, sizeof(*r->hist))))
		return snprintf(r->err, sizeof(r->err), "out of memory"), 0;
	bench_report_start(p);
	bench_params_format(p, params, sizeof(params));
	snprintf(req, sizeof(req), "BEGIN %s\n", params);
	if (ctl_ask(c, req, ans, sizeof(ans)) < 0) {
		snprintf(r->err, sizeof(r->err), "server: %s", ans + (ans[0] == 'E' ? 4 : 0));
		return strstr(ans, "closed the control") ? -1 : 0;
	}
	if (p->impl == IMPL_TCP) {
		struct tern_addr a = c->addr;
		a.port = (uint16_t)field(ans, "port=");
		bench_tcp_client(p, &a, o->cli_core, r);
	} else {
		tern_side(c, o, ans, r, &hold, &imp, &imp_fd);
	}
	/* Data tests: the client engine goes before the server's (a memif peer
	 * that disconnects unmaps the rings under a worker still polling them:
	 * DPDK 22.11's net_memif crashes then). The sessions tests keep theirs
	 * open until the server has measured them. */
	if (p->mode == MODE_BULK || p->mode == MODE_RATE || p->mode == MODE_PINGPONG) {
		bench_tern_release(hold);
		hold = NULL;
	}
	if (ctl_ask(c, "END\n", ans, sizeof(ans)) == 0) {
		r->srv.cpu_s = field_d(ans, "cpu=");
		r->srv.ctxsw = field(ans, "csw=");
		r->srv.rss_kb = (int64_t)field_d(ans, "rss=");
		if (!r->srv.packets)
			r->srv.packets = field(ans, "packets=");
	}
	bench_tern_release(hold);
	impair_stop(imp, imp_fd);
	return 0;
}

/* Runs a DPDK test in a forked child (bench.h says why): the child drives
 * the control connection and its engine, and sends the result back whole
 * (the cipher name is a static string of libtern, the same in both). */
static int run_dpdk_test(struct ctl *c, const struct opts *o, const struct bench_params *p,
                         struct bench_result *r)
{
	int fds[2], lost = 1, status = 0;
	struct bench_hist *hist;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	memset(r, 0, sizeof(*r));
	r->p = *p;
	if (pipe(fds) < 0 || (pid = fork()) < 0)
		return snprintf(r->err, sizeof(r->err), "cannot fork the DPDK client process"), 0;
	if (pid == 0) {
		close(fds[0]);
		lost = run_test(c, o, p, r);
		if (bench_write_all(fds[1], &lost, sizeof(lost)) == 0 &&
		    bench_write_all(fds[1], r, sizeof(*r)) == 0 && r->hist)
			bench_write_all(fds[1], r->hist, sizeof(*r->hist));
		_exit(0);
	}
	close(fds[1]);
	if (bench_read_all(fds[0], &lost, sizeof(lost)) == 0 &&
	    bench_read_all(fds[0], r, sizeof(*r)) == 0) {
		hist = r->hist ? calloc(1, sizeof(*hist)) : NULL;
		if (hist && bench_read_all(fds[0], hist, sizeof(*hist)) < 0)
			memset(hist, 0, sizeof(*hist));
		r->hist = hist;
	} else {
		lost = 1;
		memset(r, 0, sizeof(*r));
		r->p = *p;
	}
	close(fds[0]);
	waitpid(pid, &status, 0);
	if (lost && !r->err[0])
		snprintf(r->err, sizeof(r->err), "the DPDK client process ended (%s %d) early",
		         WIFSIGNALED(status) ? "signal" : "exit status",
		         WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	return lost;
}

/* The parameters of mode m from the options' defaults. */
/* --latency-mode auto: busy-poll only when the peer is on this host (no
 * --client, or a loopback one). Across a real path the wake-up it saves is
 * nothing beside the RTT, and spinning workers take the cores a relay or an
 * emulator on the same host needs (linkemu at 10 ms: p99 13.4 ms spinning,
 * 10.7 ms sleeping). */
static bool peer_is_local(const struct opts *o)
{
	static const uint8_t v6_loopback[16] = {[15] = 1};
	struct tern_addr a = {0};
	char err[200];

	if (!o->client)
		return true;
	if (bench_parse_hostport(o->client, &a, err, sizeof(err)) < 0)
		return false;
	return a.family == 4 ? a.ip[0] == 127 : !memcmp(a.ip, v6_loopback, 16);
}

static struct bench_params mode_params(const struct opts *o, enum bench_mode m, enum bench_impl i,
                                       enum bench_backend b)
{
	struct bench_params p = o->p;
	static const uint64_t counts[MODE_N] = {0, 20000000, 100000, 20000, 0};

	p.mode = m;
	p.impl = i;
	p.backend = b;
	if (!o->set_size)
		p.size = m == MODE_BULK ? 65536 : 64;
	if (!o->set_count)
		p.count = counts[m];
	if (m == MODE_PINGPONG) {
		p.streams = 1;
		p.latency = o->latency == 'n' || (o->latency != 'f' && peer_is_local(o));
	}
	if (m == MODE_SESSIONS && !o->set_seconds)
		p.seconds = 60; /* establishing, not measuring a rate: give it time */
	return p;
}

static void setup_line(const struct opts *o, char *buf, size_t len)
{
	char where[96];

	static const char *const backends[] = {
	        "", "io_uring",
	        "DPDK (net_memif between the processes, --no-huge, checksums in software)",
	        ("io_uring and DPDK (net_memif between the processes, --no-huge, checksums in "
	         "software)")};
	const char *b = backends[o->backends];

	if (o->client)
		snprintf(where, sizeof(where), "client of %s", o->client);
	else
		snprintf(where, sizeof(where), "loopback, two processes");
	if (o->client && o->backends != BK_URING)
		b = o->backends == BK_DPDK ? "DPDK" : "io_uring and DPDK";
	snprintf(buf, len,
	         "%s, %s, %u worker(s) per side (server from core %d, client from core %d), "
	         "cc %s, %s%s%s",
	         where, b, o->p.workers, o->srv_core, o->cli_core, o->p.cc[0] ? o->p.cc : "bbr",
	         o->p.chacha ? "chacha20-poly1305" : "aes-256-gcm where the CPU has AES",
	         o->impair ? ", impaired: " : "", o->impair ? o->impair : "");
}

static int run_all(struct opts *o, struct ctl *c, struct bench_result *rs, unsigned *n)
{
	int failed = 0;

	/* per mode: tern on each backend asked for (io_uring first), then TCP */
	static const struct {
		enum bench_impl i;
		enum bench_backend b;
	} runs[] = {
	        {IMPL_TERN, BACKEND_URING}, {IMPL_TERN, BACKEND_DPDK}, {IMPL_TCP, BACKEND_URING}};

	for (int m = 0; m < MODE_N; m++) {
		for (unsigned k = 0; o->modes[m] && k < sizeof(runs) / sizeof(runs[0]); k++) {
			enum bench_impl i = runs[k].i;
			struct bench_params p = mode_params(o, (enum bench_mode)m, i, runs[k].b);
			int lost;
			if (i == IMPL_TCP && (m >= MODE_HANDSHAKE || o->no_tcp || o->impair))
				continue;
			if (i == IMPL_TERN && !(o->backends & (1 << runs[k].b)))
				continue;
			if (p.backend == BACKEND_DPDK)
				lost = run_dpdk_test(c, o, &p, &rs[*n]);
			else
				lost = run_test(c, o, &p, &rs[*n]);
			bench_report_result(&rs[*n]);
			failed |= !rs[(*n)++].ok;
			if (lost)
				return 1;
		}
	}
	return failed;
}

int main(int argc, char **argv)
{
	static struct opts o;
	struct bench_result rs[3 * MODE_N];
	struct bench_ref ref;
	struct ctl c;
	char setup[300];
	unsigned n = 0;
	int rc = parse_args(&o, argc, argv), ncpu = bench_ncpu();

	if (rc)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	o.srv_core = ncpu >= 2 ? 0 : -1;
	o.cli_core = ncpu >= 2 ? 1 : -1;
	if (o.role) {
		prctl(PR_SET_NAME, "tern-bench-srv"); /* not "exe" in top and perf */
		return bench_server_main("127.0.0.1:0", true, 1, o.srv_core);
	}
	if (o.server)
		return bench_server_main(o.server, false, -1, o.srv_core);
	if (o.modes[MODE_PINGPONG] && o.p.size > 65536)
		return bad("--size", "ping-pong messages are at most 64K");
	if (o.impair && (o.backends & BK_DPDK))
		return bad("--impair", "tern-impair is a UDP proxy on the kernel's sockets; it "
		                       "cannot sit in a DPDK path: use --backend uring");
	bench_out.backends = o.backends;
	if ((o.backends & BK_DPDK) && !o.client && (rc = memif_setup(&o)) != 0)
		return rc;
	bench_out.tty = isatty(2);
	bench_out.mhz = bench_cpu_mhz();
	bench_out.mhz_from = "nominal, from /proc/cpuinfo 'cpu MHz'";
	if (bench_pattern_init(o.p.seed) < 0)
		return 1;
	bench_reference(o.p.chacha, &ref);
	if ((rc = ctl_open(&c, &o)) != 0) {
		memif_cleanup(&o);
		return rc;
	}
	rc = run_all(&o, &c, rs, &n);
	setup_line(&o, setup, sizeof(setup));
	bench_report_table(rs, n, &ref, setup);
	if (o.plot && bench_report_plot(o.plot, rs, n) < 0)
		rc = 1;
	ctl_close(&c);
	memif_cleanup(&o);
	for (unsigned i = 0; i < n; i++)
		free(rs[i].hist);
	return rc;
}
