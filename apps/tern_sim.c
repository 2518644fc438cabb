/* tern-sim: a verified transfer through the engine over the deterministic
 * simulated network, printing goodput, RTT and retransmissions. It is the
 * quickest way to watch the protocol under loss, delay, reordering and the
 * rest without a NIC: the same seed always gives the same run. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "simrun.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: tern-sim [options]\n"
	        "  --profile SPEC    data-direction impairment, e.g.\n"
	        "                    'rate=100mbit,delay=10ms,loss=1%%' (default "
	        "rate=100mbit,delay=5ms)\n"
	        "  --reverse SPEC    ACK-direction impairment (default: the same delay, no loss)\n"
	        "  --bytes N         stream bytes to move, K/M/G suffixes (default 64M)\n"
	        "  --streams N       streams to spread them over, 1..%d (default 4)\n"
	        "  --msg MIN[-MAX]   message sizes in bytes (default 1000-100000)\n"
	        "  --dgrams N        datagrams to send alongside (default 1000)\n"
	        "  --cc NAME         newreno, cubic or bbr (default bbr)\n"
	        "  --cipher NAME     chacha20-poly1305 or aes-256-gcm (default chacha20-poly1305)\n"
	        "  --max-packet N    UDP payload size, 1200..1472 (default 1452)\n"
	        "  --seed N          random seed (default 1)\n"
	        "  --limit SECONDS   virtual time allowed (default 600)\n"
	        "  --help\n",
	        XFER_MAX_STREAMS);
}

static int bad(const char *flag, const char *fix)
{
	fprintf(stderr, "tern-sim: %s: %s (see --help)\n", flag, fix);
	return 2;
}

static bool parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	uint64_t mult = 1;

	if (end == s)
		return false;
	if (*end == 'K' || *end == 'k')
		mult = 1ull << 10, end++;
	else if (*end == 'M' || *end == 'm')
		mult = 1ull << 20, end++;
	else if (*end == 'G' || *end == 'g')
		mult = 1ull << 30, end++;
	*out = v * mult;
	return *end == '\0';
}

static bool parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	*out = v;
	return end != s && *end == '\0' && v >= lo && v <= hi;
}

static bool parse_msg(const char *s, struct xfer_cfg *x)
{
	uint64_t lo, hi;
	char *end;

	lo = strtoull(s, &end, 10);
	hi = lo;
	if (*end == '-')
		hi = strtoull(end + 1, &end, 10);
	if (*end || lo == 0 || hi < lo || hi > TERN_MAX_MESSAGE)
		return false;
	x->min_msg = lo;
	x->max_msg = hi;
	return true;
}

static int parse_profile(const char *flag, const char *spec, struct tern_sim_path_cfg *p)
{
	char err[160];

	if (tern_sim_parse_profile(spec, p, err, sizeof(err)) < 0)
		return bad(flag, err);
	return 0;
}

static void defaults(struct simrun_cfg *c)
{
	memset(c, 0, sizeof(*c));
	tern_session_cfg_default(&c->sess);
	c->xfer = (struct xfer_cfg){.bytes = 64ull << 20,
	                            .streams = 4,
	                            .min_msg = 1000,
	                            .max_msg = 100000,
	                            .dgrams = 1000,
	                            .seed = 1};
	c->fwd.rate_bps = 100000000;
	c->fwd.delay_us = 5000;
	c->limit = 600 * TERN_SEC;
	c->seed = 1;
}

enum {
	O_PROFILE = 1,
	O_REVERSE,
	O_BYTES,
	O_STREAMS,
	O_MSG,
	O_DGRAMS,
	O_CC,
	O_CIPHER,
	O_MAXPKT,
	O_SEED,
	O_LIMIT,
	O_SWIN,
	O_CWIN,
	O_SBUF,
	O_HELP
};

static const struct option options[] = {
        {"profile", required_argument, NULL, O_PROFILE},
        {"reverse", required_argument, NULL, O_REVERSE},
        {"bytes", required_argument, NULL, O_BYTES},
        {"streams", required_argument, NULL, O_STREAMS},
        {"msg", required_argument, NULL, O_MSG},
        {"dgrams", required_argument, NULL, O_DGRAMS},
        {"cc", required_argument, NULL, O_CC},
        {"cipher", required_argument, NULL, O_CIPHER},
        {"max-packet", required_argument, NULL, O_MAXPKT},
        {"seed", required_argument, NULL, O_SEED},
        {"limit", required_argument, NULL, O_LIMIT},
        {"stream-window", required_argument, NULL, O_SWIN},
        {"conn-window", required_argument, NULL, O_CWIN},
        {"send-buffer", required_argument, NULL, O_SBUF},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
};

/* Window and buffer sizes; the session checks their ranges at creation. */
static int apply_size(int opt, const char *arg, struct tern_session_cfg *s)
{
	static const char *const names[] = {[O_SWIN] = "--stream-window",
	                                    [O_CWIN] = "--conn-window",
	                                    [O_SBUF] = "--send-buffer"};
	uint64_t v;

	if (!parse_size(arg, &v) || v < 4096 || v > (1ull << 30))
		return bad(names[opt], "expected a size from 4K to 1G");
	if (opt == O_SWIN)
		s->stream_window = (size_t)v;
	else if (opt == O_CWIN)
		s->conn_window = (size_t)v;
	else
		s->send_buffer = (size_t)v;
	return 0;
}

static int apply(int opt, const char *arg, struct simrun_cfg *c, bool *rev_set)
{
	uint64_t v;

	switch (opt) {
	case O_PROFILE:
		return parse_profile("--profile", arg, &c->fwd);
	case O_REVERSE:
		*rev_set = true;
		return parse_profile("--reverse", arg, &c->rev);
	case O_BYTES:
		if (!parse_size(arg, &c->xfer.bytes) || c->xfer.bytes == 0)
			return bad("--bytes", "expected a positive size like 64M");
		return 0;
	case O_STREAMS:
		if (!parse_uint(arg, 1, XFER_MAX_STREAMS, &v))
			return bad("--streams", "expected a number from 1 to 64");
		c->xfer.streams = (unsigned)v;
		return 0;
	case O_MSG:
		return parse_msg(arg, &c->xfer) ? 0
		                                : bad("--msg", "expected MIN or MIN-MAX, 1..64M");
	case O_DGRAMS:
		if (!parse_uint(arg, 0, 10000000, &v))
			return bad("--dgrams", "expected a count from 0 to 10000000");
		c->xfer.dgrams = (unsigned)v;
		return 0;
	case O_CC:
		c->sess.cc = tern_cc_find(arg);
		return c->sess.cc ? 0 : bad("--cc", "expected newreno, cubic or bbr");
	case O_CIPHER:
		if (strcmp(arg, "aes-256-gcm") == 0 && tern_crypto_aes_available())
			c->sess.cipher = TERN_CIPHER_AES256_GCM;
		else if (strcmp(arg, "chacha20-poly1305") == 0)
			c->sess.cipher = TERN_CIPHER_CHACHA20_POLY1305;
		else
			return bad("--cipher", "expected chacha20-poly1305 or aes-256-gcm "
			                       "(aes needs AES-NI on this CPU)");
		return 0;
	case O_MAXPKT:
		if (!parse_uint(arg, TERN_MIN_UDP_PAYLOAD, TERN_MAX_UDP_PAYLOAD, &v))
			return bad("--max-packet", "expected 1200..1472");
		c->sess.max_packet = (size_t)v;
		return 0;
	case O_SEED:
		if (!parse_uint(arg, 0, UINT64_MAX, &v))
			return bad("--seed", "expected a non-negative integer");
		c->seed = c->xfer.seed = v;
		return 0;
	case O_LIMIT:
		if (!parse_uint(arg, 1, 86400, &v))
			return bad("--limit", "expected seconds from 1 to 86400");
		c->limit = v * TERN_SEC;
		return 0;
	case O_SWIN:
	case O_CWIN:
	case O_SBUF:
		return apply_size(opt, arg, &c->sess);
	case O_HELP:
		usage(stdout);
		exit(0);
	default:
		usage(stderr);
		return 2;
	}
}

static void print_result(const struct simrun_cfg *c, const struct simrun_result *r, double wall)
{
	double rate = (double)c->fwd.rate_bps;

	printf("transfer     %llu of %llu bytes on %u streams, %u/%u datagrams delivered, %s\n",
	       (unsigned long long)r->delivered, (unsigned long long)c->xfer.bytes, c->xfer.streams,
	       r->dgrams_recv, r->dgrams_sent, r->errors ? "VERIFY FAILED" : "every byte verified");
	printf("virtual time %.3f s (simulated in %.2f s of wall time)\n", (double)r->elapsed / 1e6,
	       wall);
	printf("goodput      %.2f Mbit/s", r->goodput_bps / 1e6);
	if (rate > 0)
		printf(" (%.1f%% of the %.0f Mbit/s bottleneck)", 100 * r->goodput_bps / rate,
		       rate / 1e6);
	printf("\nrtt          smoothed %.2f ms, min %.2f ms; cwnd at end %llu bytes\n",
	       (double)r->srtt / 1e3, (double)r->min_rtt / 1e3, (unsigned long long)r->cwnd);
	printf("packets      %llu sent, %llu lost (%llu spurious), %llu retransmitted bytes, "
	       "%llu PTOs\n",
	       (unsigned long long)r->tx.pkts_sent, (unsigned long long)r->tx.pkts_lost,
	       (unsigned long long)r->tx.spurious_losses,
	       (unsigned long long)r->tx.pkts_retransmitted_bytes,
	       (unsigned long long)r->tx.pto_count);
	printf("receiver     %llu packets, dropped: %llu duplicate, %llu failed auth\n",
	       (unsigned long long)r->rx.pkts_recv, (unsigned long long)r->rx.drop_duplicate,
	       (unsigned long long)r->rx.drop_auth);
	printf("memory       peak %zu KiB sender, %zu KiB receiver\n", r->mem_peak_tx >> 10,
	       r->mem_peak_rx >> 10);
	printf("close        %s\n", r->closed_clean ? "graceful, both sides" : "NOT clean");
}

int main(int argc, char **argv)
{
	struct simrun_cfg c;
	struct simrun_result r;
	struct timespec t0, t1;
	bool rev_set = false;
	int opt, rc;

	defaults(&c);
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1)
		if ((rc = apply(opt, optarg, &c, &rev_set)) != 0)
			return rc;
	if (optind < argc)
		return bad(argv[optind], "unexpected argument");
	if (!rev_set)
		c.rev.delay_us = c.fwd.delay_us;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = simrun(&c, &r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc < 0) {
		fprintf(stderr, "tern-sim: %s: %s\n", tern_strerror(rc), r.error);
		return 1;
	}
	print_result(&c, &r,
	             (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (r.rc < 0)
		fprintf(stderr, "tern-sim: transfer did not finish: %s\n", tern_strerror(r.rc));
	if (r.errors)
		fprintf(stderr, "tern-sim: verification failed: %s\n", r.error);
	return r.rc < 0 || r.errors || !r.closed_clean ? 1 : 0;
}
