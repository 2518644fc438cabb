/* Path validation's state machine (core/path.c) on its own: which address a
 * packet came from, candidates and their challenges, the amplification
 * budget, the retry timer and deadline, validation and migration. The
 * session-level behaviour (probe packets, the worker, the simulator) is in
 * test_migration.c. */
#include "check.h"
#include "path.h"

#define PTO (100 * TERN_MS)          /* below TERN_PATH_MIN_RETRY_US: retries 300 ms apart */
#define RETRY TERN_PATH_MIN_RETRY_US /* 300 ms */
#define PROBE 36                     /* a probe with one PATH_CHALLENGE */

/* PTO = smoothed + max(4 var, 1 ms) + max_ack_delay: 100 ms, and 2 s */
static const struct tern_rtt rtt = {.smoothed = 60000, .var = 5000, .max_ack_delay = 20000};
static const struct tern_rtt slow = {.smoothed = 1900000, .max_ack_delay = 99000};

static const struct tern_addr peer = {.family = 4, .port = 1000, .ip = {10, 0, 0, 1}};
static const struct tern_addr cand = {.family = 4, .port = 4000, .ip = {10, 0, 0, 9}};
static const struct tern_addr other = {.family = 6, .port = 4000, .ip = {0xfe, 0x80, [15] = 1}};

static void challenge_data(uint8_t d[TERN_PATH_DATA_LEN], uint8_t seed)
{
	for (unsigned i = 0; i < TERN_PATH_DATA_LEN; i++)
		d[i] = (uint8_t)(seed * 31 + i);
}

/* Sends the due challenge with data from seed; returns that data in d. */
static void send_challenge(struct tern_path *p, uint8_t d[TERN_PATH_DATA_LEN], uint8_t seed,
                           tern_time now)
{
	CHECK(tern_path_challenge_due(p, now));
	challenge_data(d, seed);
	tern_path_on_probe_sent(p, d, PROBE, now, PTO);
}

static void setup(struct tern_path *p)
{
	memset(p, 0, sizeof(*p));
	tern_path_set_peer(p, &peer);
}

static void test_addresses(void)
{
	struct tern_addr v4 = peer, v6 = other;
	struct tern_path p;

	CHECK(tern_addr_eq(&peer, &v4));
	v4.ip[12] = 7; /* beyond an IPv4 address: ignored */
	CHECK(tern_addr_eq(&peer, &v4));
	v4.port++;
	CHECK(!tern_addr_eq(&peer, &v4));
	v6.ip[15] = 2;
	CHECK(!tern_addr_eq(&other, &v6));
	CHECK(!tern_addr_eq(&peer, &other));

	/* without a peer, the first address seen becomes it */
	memset(&p, 0, sizeof(p));
	CHECK_EQ(tern_path_on_recv(&p, NULL, 100, 0, &rtt), TERN_PATH_FROM_PEER);
	CHECK_EQ(tern_path_on_recv(&p, &cand, 100, 0, &rtt), TERN_PATH_FROM_PEER);
	CHECK(tern_addr_eq(&p.peer, &cand));
	CHECK(!p.probing);

	setup(&p);
	CHECK_EQ(tern_path_on_recv(&p, &peer, 100, 0, &rtt), TERN_PATH_FROM_PEER);
	CHECK_EQ(tern_path_on_recv(&p, NULL, 100, 0, &rtt), TERN_PATH_FROM_PEER);
	CHECK(!p.probing);
	CHECK_EQ(tern_path_deadline(&p, 0), TERN_TIME_NEVER);
	CHECK(!tern_path_probe_due(&p, 0));
}

/* One 40-byte packet from a new address buys 120 bytes: three probes of 36
 * (the third needs a whole TERN_PATH_PROBE_MAX of room: 120 - 72 = 48). */
static void test_amplification_and_retries(void)
{
	uint8_t d[TERN_PATH_DATA_LEN];
	struct tern_path p;

	setup(&p);
	CHECK_EQ(tern_path_on_recv(&p, &cand, 40, 1000, &rtt), TERN_PATH_FROM_CAND);
	CHECK(p.probing);
	CHECK(tern_addr_eq(&p.peer, &peer)); /* not followed */
	CHECK_EQ(p.deadline, 1000 + 3 * RETRY);
	CHECK_EQ(tern_path_deadline(&p, 1000), 1000);
	send_challenge(&p, d, 1, 1000);
	CHECK(!tern_path_probe_due(&p, 1000));
	CHECK_EQ(tern_path_deadline(&p, 1000), 1000 + RETRY);
	CHECK(!tern_path_challenge_due(&p, 1000 + RETRY - 1));
	send_challenge(&p, d, 2, 1000 + RETRY);
	send_challenge(&p, d, 3, 1000 + 2 * RETRY);
	CHECK_EQ(p.cand_tx, 3 * PROBE);
	CHECK(p.cand_tx <= TERN_PATH_AMP_FACTOR * 40);
	CHECK_EQ(p.stats.challenges, 3);
	/* out of tries: only the deadline is left */
	CHECK(!tern_path_challenge_due(&p, 1000 + 3 * RETRY));
	CHECK_EQ(tern_path_deadline(&p, 1000 + 2 * RETRY), 1000 + 3 * RETRY);
	tern_path_on_timeout(&p, 1000 + 3 * RETRY - 1);
	CHECK(p.probing);
	tern_path_on_timeout(&p, 1000 + 3 * RETRY);
	CHECK(!p.probing);
	CHECK_EQ(p.stats.failed, 1);
	CHECK(tern_addr_eq(&p.peer, &peer));
	CHECK_EQ(tern_path_deadline(&p, 1000 + 3 * RETRY), TERN_TIME_NEVER);

	/* A 20-byte packet buys 60: one probe, then the budget is spent and the
	 * retry time is no deadline (nothing to do until more arrives). */
	setup(&p);
	tern_path_on_recv(&p, &cand, 20, 0, &rtt);
	send_challenge(&p, d, 1, 0);
	CHECK(!tern_path_challenge_due(&p, RETRY));
	CHECK_EQ(tern_path_deadline(&p, RETRY), 3 * RETRY);
	tern_path_on_recv(&p, &cand, 20, RETRY, &rtt); /* 120 allowed, 36 used */
	CHECK(tern_path_challenge_due(&p, RETRY));
	CHECK_EQ(p.cand_rx, 40);
	/* a longer PTO spaces the challenges further */
	setup(&p);
	tern_path_on_recv(&p, &cand, 1200, 0, &slow);
	CHECK_EQ(p.deadline, 6 * TERN_SEC);
	challenge_data(d, 1);
	tern_path_on_probe_sent(&p, d, PROBE, 0, 2 * TERN_SEC);
	CHECK_EQ(p.retry_at, 2 * TERN_SEC);
}

static void test_validation_and_migration(void)
{
	uint8_t d1[TERN_PATH_DATA_LEN], d2[TERN_PATH_DATA_LEN], wrong[TERN_PATH_DATA_LEN];
	struct tern_path p;

	setup(&p);
	tern_path_on_recv(&p, &cand, 1200, 0, &rtt);
	send_challenge(&p, d1, 1, 0);
	send_challenge(&p, d2, 2, RETRY);
	challenge_data(wrong, 9);
	/* wrong data, or the right data over the old path: no */
	CHECK(!tern_path_on_response(&p, wrong, TERN_PATH_FROM_CAND));
	CHECK(!tern_path_on_response(&p, d1, TERN_PATH_FROM_PEER));
	CHECK(!p.cand_valid);
	/* the first challenge's answer, late, still counts */
	CHECK(tern_path_on_response(&p, d1, TERN_PATH_FROM_CAND));
	CHECK(p.cand_valid);
	CHECK_EQ(p.stats.validated, 1);
	CHECK(!tern_path_on_response(&p, d2, TERN_PATH_FROM_CAND)); /* once */
	CHECK_EQ(tern_path_deadline(&p, RETRY), TERN_TIME_NEVER);
	tern_path_on_timeout(&p, 10 * RETRY); /* a validated candidate stays */
	CHECK(p.probing);
	/* validated but the peer still sends from its old address: stay */
	tern_path_on_active(&p, TERN_PATH_FROM_PEER);
	CHECK(!tern_path_ready(&p));
	tern_path_on_active(&p, TERN_PATH_FROM_CAND);
	CHECK(tern_path_ready(&p));
	tern_path_on_active(&p, TERN_PATH_FROM_PEER); /* its newer packet: back */
	CHECK(!tern_path_ready(&p));
	tern_path_on_active(&p, TERN_PATH_FROM_CAND);
	tern_path_migrate(&p);
	CHECK(tern_addr_eq(&p.peer, &cand));
	CHECK(!p.probing);
	CHECK_EQ(p.stats.migrations, 1);
	CHECK_EQ(tern_path_on_recv(&p, &cand, 100, RETRY, &rtt), TERN_PATH_FROM_PEER);
	/* the old address is now a stranger like any other */
	CHECK_EQ(tern_path_on_recv(&p, &peer, 100, RETRY, &rtt), TERN_PATH_FROM_CAND);
	CHECK(tern_addr_eq(&p.cand, &peer));
	CHECK(!p.cand_valid);

	/* active first, validated later: migrates on the response */
	setup(&p);
	tern_path_on_recv(&p, &cand, 1200, 0, &rtt);
	tern_path_on_active(&p, TERN_PATH_FROM_CAND);
	send_challenge(&p, d1, 4, 0);
	CHECK(!tern_path_ready(&p));
	CHECK(tern_path_on_response(&p, d1, TERN_PATH_FROM_CAND));
	CHECK(tern_path_ready(&p));
}

/* A third address replaces the candidate; the candidate's own challenge is
 * answered in a probe to it, even once it is validated. */
static void test_replacement_and_responses(void)
{
	uint8_t d[TERN_PATH_DATA_LEN], theirs[TERN_PATH_DATA_LEN];
	struct tern_path p;

	setup(&p);
	tern_path_on_recv(&p, &cand, 100, 0, &rtt);
	send_challenge(&p, d, 1, 0);
	CHECK_EQ(tern_path_on_recv(&p, &other, 50, 10, &rtt), TERN_PATH_FROM_CAND);
	CHECK(tern_addr_eq(&p.cand, &other));
	CHECK_EQ(p.tries, 0);
	CHECK_EQ(p.cand_rx, 50);
	CHECK_EQ(p.cand_tx, 0);
	CHECK(!tern_path_on_response(&p, d, TERN_PATH_FROM_CAND)); /* sent to the old one */
	send_challenge(&p, d, 2, 10);
	CHECK(tern_path_on_response(&p, d, TERN_PATH_FROM_CAND));
	challenge_data(theirs, 7);
	tern_path_on_challenge(&p, theirs);
	CHECK(tern_path_probe_due(&p, 10));
	CHECK(!tern_path_challenge_due(&p, 10));
	CHECK_EQ(tern_path_deadline(&p, 10), 10);
	tern_path_on_probe_sent(&p, NULL, PROBE, 10, PTO);
	CHECK(!tern_path_probe_due(&p, 10));
	CHECK_EQ(p.stats.challenges, 2);
	/* setting the peer (a new session start) drops any candidate */
	tern_path_set_peer(&p, &peer);
	CHECK(!p.probing);
}

int main(void)
{
	test_addresses();
	test_amplification_and_retries();
	test_validation_and_migration();
	test_replacement_and_responses();
	return tern_check_result("path");
}
