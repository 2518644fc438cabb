/* The simulation matrix: a verified transfer (16 MiB over four streams plus
 * datagrams) through each hostile network profile, over several seeds. Each
 * run asserts byte-exact, in-order, exactly-once delivery per stream (the
 * xfer workload regenerates and compares every byte), no duplicated or
 * stale datagram, memory bounded by the windows, a graceful close on both
 * sides, and goodput above the floor stated beside each profile.
 *
 * usage: test_simmatrix PROFILE [SEEDS]   (SEEDS defaults to 3; the env
 * TERN_SIM_SEEDS overrides). A failure prints the tern-sim command that
 * replays it exactly. */
#include <stdlib.h>

#include "tests/check.h"
#include "apps/simrun.h"

struct profile {
	const char *name;
	const char *fwd;     /* data direction, with the bottleneck */
	const char *both;    /* impairment applied to both directions */
	double floor;        /* goodput floor, fraction of the bottleneck rate */
	size_t max_packet;   /* 0 = default */
	size_t window_scale; /* multiply the default windows (long fat paths) */
	const char *why;
};

static const struct profile profiles[] = {
        {"clean", "rate=100mbit,delay=5ms", "", 0.80, 0, 1,
         "clean 100 Mbit/s x 10 ms: slow start plus steady state keep the link full"},
        {"loss1", "rate=10mbit,delay=5ms", "loss=1%", 0.80, 0, 1,
         "1% random loss both ways: a loss-based controller holds about 1.22/sqrt(p) = 12 "
         "packets of window (Mathis), above this path's 9-packet BDP, so the link stays full"},
        {"loss5", "rate=10mbit,delay=5ms", "loss=5%", 0.40, 0, 1,
         "5% loss: Mathis predicts ~5.5 packets of window against a 9-packet BDP"},
        {"loss20", "rate=10mbit,delay=5ms", "loss=20%", 0.08, 0, 1,
         "20% loss both ways: delivery must complete; the window lives near its floor"},
        {"burst", "rate=10mbit,delay=5ms", "burst=1%/25%/60%", 0.30, 0, 1,
         "Gilbert-Elliott bursts (~2.3% average loss in runs of ~4 packets)"},
        {"reorder10", "rate=10mbit,delay=5ms", "reorder=10%,reorder_delay=3ms", 0.80, 0, 1,
         "10% of packets held 3 ms both ways: the first spurious losses widen the reordering "
         "window (packet and time threshold), after which reordering costs nothing"},
        {"dup5", "rate=10mbit,delay=5ms", "dup=5%", 0.80, 0, 1,
         "5% duplication: duplicates are dropped before any frame is processed"},
        {"corrupt1", "rate=10mbit,delay=5ms", "corrupt=1%", 0.80, 0, 1,
         "1% bit corruption: fails AEAD, counted and treated as loss (1% loss profile)"},
        {"fat", "rate=1gbit,delay=25ms,queue=8m", "", 0.18, 0, 16,
         "1 Gbit/s x 50 ms: 16 MiB is ~2.5 BDP, most of it spent in slow start"},
        {"longthin", "rate=10mbit,delay=150ms", "", 0.60, 0, 2,
         "10 Mbit/s x 300 ms: slow start takes ~2.4 s of a ~14 s transfer"},
        {"blackhole", "rate=10mbit,delay=5ms", "blackhole=3s-5s", 0.60, 0, 1,
         "a 2 s blackhole mid-transfer: PTO backoff, persistent congestion, then recovery"},
        {"mtu1280", "rate=10mbit,delay=5ms,mtu=1232", "", 0.80, 1232, 1,
         "a 1280-byte IPv6 MTU path (1232-byte UDP payload) with max_packet set to match"},
};

static const struct profile *find(const char *name)
{
	for (size_t i = 0; i < TERN_ARRAY_LEN(profiles); i++)
		if (strcmp(profiles[i].name, name) == 0)
			return &profiles[i];
	return NULL;
}

static int build_path(const char *a, const char *b, struct tern_sim_path_cfg *p)
{
	char spec[256], err[160];

	snprintf(spec, sizeof(spec), "%s%s%s", a, (*a && *b) ? "," : "", b);
	if (tern_sim_parse_profile(spec, p, err, sizeof(err)) < 0) {
		fprintf(stderr, "bad profile '%s': %s\n", spec, err);
		return -1;
	}
	return 0;
}

static int configure(const struct profile *pr, uint64_t seed, struct simrun_cfg *c)
{
	memset(c, 0, sizeof(*c));
	tern_session_cfg_default(&c->sess);
	c->sess.stream_window *= pr->window_scale;
	c->sess.conn_window *= pr->window_scale;
	c->sess.send_buffer *= pr->window_scale;
	if (pr->max_packet)
		c->sess.max_packet = pr->max_packet;
	c->xfer = (struct xfer_cfg){.bytes = 16u << 20,
	                            .streams = 4,
	                            .min_msg = 1,
	                            .max_msg = 100000,
	                            .dgrams = 500,
	                            .seed = seed};
	c->limit = 600 * TERN_SEC;
	c->seed = seed;
	if (build_path(pr->fwd, pr->both, &c->fwd) < 0)
		return -1;
	/* the ACK path: same delay, the shared impairment, no bottleneck */
	if (build_path("", pr->both, &c->rev) < 0)
		return -1;
	c->rev.delay_us = c->fwd.delay_us;
	return 0;
}

static size_t mem_bound(const struct simrun_cfg *c)
{
	const struct tern_session_cfg *s = &c->sess;

	/* rings round up to powers of two (≤ 2x), plus one message being
	 * assembled per stream, plus a fixed allowance for maps and queues */
	return c->xfer.streams * (2 * s->send_buffer + 2 * s->stream_window + c->xfer.max_msg) +
	       (4u << 20);
}

static void run_one(const struct profile *pr, uint64_t seed)
{
	struct simrun_cfg c;
	struct simrun_result r;
	double frac;

	if (configure(pr, seed, &c) < 0) {
		CHECK(!"profile parses");
		return;
	}
	CHECK_EQ(simrun(&c, &r), 0);
	frac = r.goodput_bps / (double)c.fwd.rate_bps;
	fprintf(stderr,
	        "%-10s seed %llu: %6.2f%% of link, %7.3f s, %5llu lost, %llu PTO, "
	        "mem %zu/%zu KiB, dgrams %u/%u%s%s\n",
	        pr->name, (unsigned long long)seed, 100 * frac, (double)r.elapsed / 1e6,
	        (unsigned long long)r.tx.pkts_lost, (unsigned long long)r.tx.pto_count,
	        r.mem_peak_tx >> 10, r.mem_peak_rx >> 10, r.dgrams_recv, r.dgrams_sent,
	        r.errors ? " ERROR: " : "", r.errors ? r.error : "");
	CHECK_EQ(r.rc, 0);
	CHECK_EQ(r.errors, 0);
	CHECK(r.closed_clean);
	CHECK(frac >= pr->floor);
	CHECK(r.dgrams_recv <= r.dgrams_sent);
	CHECK_EQ(r.dgrams_sent, c.xfer.dgrams);
	CHECK(r.mem_peak_tx <= mem_bound(&c));
	CHECK(r.mem_peak_rx <= mem_bound(&c));
	if (tern_check_failures)
		fprintf(stderr,
		        "replay: tern-sim --profile '%s%s%s' --reverse 'delay=%lluus%s%s' "
		        "--bytes 16M --streams 4 --msg 1-100000 --dgrams 500 --seed %llu\n"
		        "floor %.0f%%: %s\n",
		        pr->fwd, *pr->both ? "," : "", pr->both, (unsigned long long)c.fwd.delay_us,
		        *pr->both ? "," : "", pr->both, (unsigned long long)seed, 100 * pr->floor,
		        pr->why);
}

int main(int argc, char **argv)
{
	const struct profile *pr = argc > 1 ? find(argv[1]) : NULL;
	const char *env = getenv("TERN_SIM_SEEDS");
	unsigned seeds = env ? (unsigned)atoi(env) : argc > 2 ? (unsigned)atoi(argv[2]) : 3;

	if (!pr) {
		fprintf(stderr, "usage: test_simmatrix PROFILE [SEEDS]; profiles:");
		for (size_t i = 0; i < TERN_ARRAY_LEN(profiles); i++)
			fprintf(stderr, " %s", profiles[i].name);
		fprintf(stderr, "\n");
		return 2;
	}
	for (unsigned s = 1; s <= seeds; s++)
		run_one(pr, s);
	return tern_check_result(pr->name);
}
