/* Tests for the packet protection lifecycle (docs/protocol.md §5): the key
 * ratchet of crypto/keys.c against vectors from an independent BLAKE2b, and,
 * through io/simnet in virtual time, key update in the session: many updates
 * under loss and reordering with byte-exact delivery, timer-driven updates,
 * no second update before the first is confirmed, replays across an update,
 * the AEAD integrity and confidentiality limits, and KEY_UPDATE frames that
 * contradict the K bit. A is the initiator and sends an apps/xfer workload;
 * B receives it. */
#include <stdlib.h>
#include <string.h>

#include "apps/xfer.h"
#include "io/simnet.h"
#include "core/wire.h"
#include "check.h"

static const uint8_t secret[32] = "tern key update test secret....";
static const uint8_t cid_a[TERN_CID_LEN] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8};
static const uint8_t cid_b[TERN_CID_LEN] = {0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8};

/* ---- the key ratchet ---- */

static void unhex(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

/* True if a seals exactly as an AEAD built from the hex key and IV. */
static bool same_key(const struct tern_aead *a, const char *key_hex, const char *iv_hex)
{
	uint8_t key[TERN_AEAD_KEY_LEN], iv[TERN_AEAD_IV_LEN], x[64], y[64];
	struct tern_aead *ref;
	bool same;

	unhex(key_hex, key, sizeof(key));
	unhex(iv_hex, iv, sizeof(iv));
	if (tern_aead_new(&ref, TERN_CIPHER_CHACHA20_POLY1305, key, iv) < 0)
		return false;
	memset(x, 0x5a, 32);
	memset(y, 0x5a, 32);
	same = tern_aead_seal(a, 77, x, 4, x, 32, sizeof(x)) == 48 &&
	       tern_aead_seal(ref, 77, y, 4, y, 32, sizeof(y)) == 48 && memcmp(x, y, 48) == 0;
	tern_aead_free(ref);
	return same;
}

/* True if what `from` seals, `to` opens. */
static bool pair_opens(const struct tern_aead *from, const struct tern_aead *to)
{
	uint8_t buf[64] = "a packet";

	return tern_aead_seal(from, 9, NULL, 0, buf, 16, sizeof(buf)) == 32 &&
	       tern_aead_open(to, 9, NULL, 0, buf, 32) == 16;
}

/* protocol.md §5.3's secret and CIDs; generations 1 and 2 computed with
 * Python's hashlib.blake2b (digest_size 32/12, key = prk). */
static void test_ratchet_vectors(void)
{
	uint8_t sec[32], icid[8], rcid[8];
	struct tern_keys g0, g1, g2, r0, r1;

	for (unsigned i = 0; i < 32; i++)
		sec[i] = (uint8_t)i;
	unhex("0102030405060708", icid, 8);
	unhex("1112131415161718", rcid, 8);
	CHECK_EQ(tern_keys_derive(&g0, TERN_CIPHER_CHACHA20_POLY1305, sec, 32, icid, rcid, true),
	         0);
	CHECK_EQ(tern_keys_derive(&r0, TERN_CIPHER_CHACHA20_POLY1305, sec, 32, icid, rcid, false),
	         0);
	CHECK_EQ(g0.generation, 0);
	CHECK(same_key(g0.tx, "15c0a77f078c2eabc48ad6663efacaaac35d4c8cfae5cfd7f6aede102c3bc8df",
	               "f1d63abd316537a1198009a8"));
	CHECK_EQ(tern_keys_next(&g0, &g1), 0);
	CHECK_EQ(g1.generation, 1);
	CHECK(g1.initiator);
	CHECK_EQ(g1.cipher, TERN_CIPHER_CHACHA20_POLY1305);
	CHECK(same_key(g1.tx, "22931d36f4dc5f9d0b13cd7e1c074a0291c99a94a4ef71900f3553f9f53c8875",
	               "1564cbd2f06f53eb5c3adcea"));
	CHECK(same_key(g1.rx, "301e7ace182df558daff946991b366111211e21dae73809a95868615c517c5e5",
	               "bb078fbd5f7964672969e93a"));
	CHECK_EQ(tern_keys_next(&g1, &g2), 0);
	CHECK_EQ(g2.generation, 2);
	CHECK(same_key(g2.tx, "2014984983f69036f85cbb115544ff2c4c077c555419f560842bc3e47cfb8825",
	               "526ad7e51e9447199fcd52a1"));
	CHECK(same_key(g2.rx, "756f71cf207568b821252b81106e850eb2a423c061b4f50aeea8e34bcad4de50",
	               "9976353e66c99412f951559b"));
	/* the responder ratchets to the mirror image; generations do not mix */
	CHECK_EQ(tern_keys_next(&r0, &r1), 0);
	CHECK(!r1.initiator);
	CHECK(pair_opens(g1.tx, r1.rx));
	CHECK(pair_opens(r1.tx, g1.rx));
	CHECK(!pair_opens(g0.tx, r1.rx));
	CHECK(!pair_opens(g2.tx, r1.rx));
	CHECK(!pair_opens(g1.tx, r0.rx));
	tern_keys_free(&g0);
	tern_keys_free(&g1);
	tern_keys_free(&g2);
	tern_keys_free(&r0);
	tern_keys_free(&r1);
}

/* Handshake keys (distinct PRKs per direction) ratchet too, each direction
 * from its own PRK; freeing wipes and zeroes, and a freed struct cannot
 * ratchet. */
static void test_ratchet_from_prk(void)
{
	uint8_t k1[32], k2[32];
	struct tern_keys i0, r0, i1, r1, none;

	memset(k1, 0x11, sizeof(k1));
	memset(k2, 0x22, sizeof(k2));
	CHECK_EQ(tern_keys_from_prk(&i0, TERN_CIPHER_CHACHA20_POLY1305, k1, k2, true), 0);
	CHECK_EQ(tern_keys_from_prk(&r0, TERN_CIPHER_CHACHA20_POLY1305, k1, k2, false), 0);
	CHECK_EQ(tern_keys_next(&i0, &i1), 0);
	CHECK_EQ(tern_keys_next(&r0, &r1), 0);
	CHECK(pair_opens(i1.tx, r1.rx));
	CHECK(pair_opens(r1.tx, i1.rx));
	CHECK(!pair_opens(i1.tx, i1.rx)); /* directions differ */
	CHECK(!pair_opens(i0.tx, r1.rx));
	tern_keys_free(&i0);
	CHECK(i0.tx == NULL && i0.rx == NULL && i0.prk == NULL);
	CHECK_EQ(i0.generation, 0);
	CHECK_EQ(tern_keys_next(&i0, &none), TERN_EINVAL);
	CHECK(none.tx == NULL && none.prk == NULL);
	tern_keys_free(&i0); /* twice is fine */
	tern_keys_free(&r0);
	tern_keys_free(&i1);
	tern_keys_free(&r1);
	if (tern_crypto_aes_available()) {
		CHECK_EQ(tern_keys_from_prk(&i0, TERN_CIPHER_AES256_GCM, k1, k2, true), 0);
		CHECK_EQ(tern_keys_next(&i0, &i1), 0);
		CHECK_EQ(i1.cipher, TERN_CIPHER_AES256_GCM);
		tern_keys_free(&i0);
		tern_keys_free(&i1);
	}
}

/* ---- two sessions over the simulator ---- */

struct seen {
	unsigned closed;
	struct tern_close_info ci;
};

struct kp {
	struct xfer x; /* first: the xfer callbacks' ctx is the pair */
	struct tern_simnet *net;
	struct tern_session *a, *b;
	struct seen sa, sb;
	/* invariants, sampled after every driver step */
	uint64_t bad_gap;       /* tx more than one generation ahead of rx, or peers apart */
	uint64_t stale_prev;    /* a previous rx key kept well past its 3 PTO */
	uint64_t over_limit;    /* a key sealed more than its confidentiality limit */
	uint64_t max_a_stuck;   /* most packets A sealed under one generation */
	uint64_t a_updates;     /* A's tx generation changes seen */
	uint64_t a_updates_bad; /* ... while A's previous generation was unacknowledged */
	uint64_t a_gen_seen, a_first_seen;
	bool (*until)(struct kp *k);
};

static void on_closed(void *ctx, struct tern_session *s, const struct tern_close_info *ci)
{
	struct kp *k = ctx;
	struct seen *w = s == k->a ? &k->sa : &k->sb;

	w->closed++;
	w->ci = *ci;
	w->ci.reason = NULL;
}

static void check_side(struct kp *k, const struct tern_session *s)
{
	tern_time now = tern_simnet_now(k->net);

	if (s->state == TERN_SESSION_CLOSED)
		return; /* keys are kept, unused, until tern_session_free */
	if (s->tx_gen < s->keys.generation || s->tx_gen > s->keys.generation + 1)
		k->bad_gap++;
	if (s->rx_prev && now > s->rx_prev_drop + 10 * TERN_MS)
		k->stale_prev++;
	if (s->tx_gen_pkts > s->cfg.aead_confidentiality_limit)
		k->over_limit++;
}

static void watch_a(struct kp *k)
{
	const struct tern_session *a = k->a;

	if (a->tx_gen != k->a_gen_seen) {
		k->a_updates++;
		/* the generation we left must have been acknowledged */
		if (a->rec.largest_acked == UINT64_MAX || a->rec.largest_acked < k->a_first_seen)
			k->a_updates_bad++;
		k->a_gen_seen = a->tx_gen;
	}
	k->a_first_seen = a->tx_gen_first_pn;
	k->max_a_stuck = TERN_MAX(k->max_a_stuck, a->tx_gen_pkts);
}

static bool watch(void *ctx)
{
	struct kp *k = ctx;

	check_side(k, k->a);
	check_side(k, k->b);
	if (k->a->tx_gen > k->b->tx_gen + 2 || k->b->tx_gen > k->a->tx_gen + 2)
		k->bad_gap++;
	watch_a(k);
	return k->until ? k->until(k) : false;
}

static void path(const char *spec, struct tern_sim_path_cfg *p)
{
	char err[128];

	CHECK_EQ(tern_sim_parse_profile(spec, p, err, sizeof(err)), 0);
}

static void setup(struct kp *k, const struct tern_session_cfg *cfg, const char *fwd,
                  const char *rev, uint64_t bytes, uint64_t seed)
{
	const struct tern_addr aa = {.family = 4, .port = 1000, .ip = {127, 0, 0, 1}};
	const struct tern_addr ba = {.family = 4, .port = 2000, .ip = {127, 0, 0, 2}};
	struct xfer_cfg xc = {
	        .bytes = bytes, .streams = 4, .min_msg = 1, .max_msg = 100000, .seed = seed};
	struct tern_sim_path_cfg pf, pr;
	struct tern_session_cbs cbs;
	struct tern_sim *sim;

	memset(k, 0, sizeof(*k));
	CHECK_EQ(xfer_init(&k->x, &xc), 0);
	k->net = tern_simnet_new(seed);
	CHECK(k->net != NULL);
	sim = tern_simnet_sim(k->net);
	path(fwd, &pf);
	path(rev, &pr);
	CHECK_EQ(tern_sim_add_endpoint(sim, &aa), 0);
	CHECK_EQ(tern_sim_add_endpoint(sim, &ba), 1);
	CHECK_EQ(tern_sim_set_path(sim, 0, 1, &pf), 0);
	CHECK_EQ(tern_sim_set_path(sim, 1, 0, &pr), 0);
	xfer_sender_cbs(&k->x, &cbs);
	cbs.closed = on_closed;
	CHECK_EQ(tern_session_new_psk(&k->a, cfg, &cbs, true, cid_a, cid_b, secret, sizeof(secret),
	                              0, NULL),
	         0);
	xfer_receiver_cbs(&k->x, &cbs);
	cbs.closed = on_closed;
	CHECK_EQ(tern_session_new_psk(&k->b, cfg, &cbs, false, cid_b, cid_a, secret, sizeof(secret),
	                              0, NULL),
	         0);
	CHECK_EQ(tern_simnet_attach(k->net, 0, k->a, &ba), 0);
	CHECK_EQ(tern_simnet_attach(k->net, 1, k->b, &aa), 0);
}

static void teardown(struct kp *k)
{
	tern_session_free(k->a);
	tern_session_free(k->b);
	tern_simnet_free(k->net);
	xfer_free(&k->x);
}

static tern_time now(const struct kp *k)
{
	return tern_simnet_now(k->net);
}

static int run(struct kp *k, tern_time dt, bool (*until)(struct kp *k))
{
	k->until = until;
	return tern_simnet_run(k->net, now(k) + dt, watch, k);
}

static bool done(struct kp *k)
{
	return xfer_done(&k->x) || k->a->state == TERN_SESSION_CLOSED ||
	       k->b->state == TERN_SESSION_CLOSED;
}

static bool both_closed(struct kp *k)
{
	return k->a->state == TERN_SESSION_CLOSED && k->b->state == TERN_SESSION_CLOSED;
}

static bool established(struct kp *k)
{
	return k->a->state == TERN_SESSION_ESTABLISHED && k->b->state == TERN_SESSION_ESTABLISHED;
}

/* Runs the whole transfer, checks it and both sides' clean close. */
static void transfer_and_close(struct kp *k, tern_time limit)
{
	xfer_pump(&k->x, k->a);
	CHECK_EQ(run(k, limit, done), 0);
	CHECK(xfer_done(&k->x));
	CHECK_EQ(k->x.errors, 0);
	if (k->x.errors)
		fprintf(stderr, "xfer: %s\n", k->x.first_error);
	CHECK_EQ(tern_session_close(k->a, true, 0, "done", now(k)), 0);
	CHECK_EQ(run(k, 60 * TERN_SEC, both_closed), 0);
	CHECK_EQ(k->sa.closed, 1);
	CHECK_EQ(k->sb.closed, 1);
	CHECK_EQ(k->sa.ci.code, TERN_CLOSE_NO_ERROR);
	CHECK_EQ(k->sb.ci.code, TERN_CLOSE_NO_ERROR);
}

static void check_invariants(const struct kp *k)
{
	CHECK_EQ(k->bad_gap, 0);
	CHECK_EQ(k->stale_prev, 0);
	CHECK_EQ(k->over_limit, 0);
	CHECK_EQ(k->a_updates_bad, 0);
}

/* 16 MiB through 5% loss and 10% reordering both ways with an update every
 * 500 packets: many generations, every byte delivered once and in order, no
 * stall, both ends on the same generation give or take the one in flight,
 * at most one previous key held and only for its 3 PTO. */
static void test_update_under_loss(void)
{
	const char *impair = "delay=10ms,loss=5%,reorder=10%,reorder_delay=4ms";
	char fwd[128];
	struct tern_session_cfg cfg;
	struct kp k;

	tern_session_cfg_default(&cfg);
	cfg.key_update_packets = 500;
	snprintf(fwd, sizeof(fwd), "rate=20mbit,%s", impair);
	setup(&k, &cfg, fwd, impair, 16u << 20, 7);
	transfer_and_close(&k, 300 * TERN_SEC);
	fprintf(stderr,
	        "under loss: A gen %llu (tx %llu), B gen %llu (tx %llu), A sent %llu, lost %llu, "
	        "B drop_auth %llu, A drop_auth %llu, most under one key %llu\n",
	        (unsigned long long)k.a->keys.generation, (unsigned long long)k.a->tx_gen,
	        (unsigned long long)k.b->keys.generation, (unsigned long long)k.b->tx_gen,
	        (unsigned long long)k.a->stats.pkts_sent, (unsigned long long)k.a->stats.pkts_lost,
	        (unsigned long long)k.b->stats.drop_auth, (unsigned long long)k.a->stats.drop_auth,
	        (unsigned long long)k.max_a_stuck);
	CHECK(k.a->keys.generation >= 10);
	CHECK(k.a->tx_gen + 1 >= k.b->tx_gen && k.b->tx_gen + 1 >= k.a->tx_gen);
	CHECK(k.a_updates >= 10);
	/* stragglers of a dropped generation fail to open: rare */
	CHECK(k.b->stats.drop_auth * 100 <= k.a->stats.pkts_sent);
	check_invariants(&k);
	teardown(&k);
}

/* key_update_interval alone drives updates; 0 means never. */
static void test_update_by_time(void)
{
	struct tern_session_cfg cfg;
	struct kp k;

	tern_session_cfg_default(&cfg);
	cfg.key_update_interval = 300 * TERN_MS;
	setup(&k, &cfg, "rate=10mbit,delay=5ms", "delay=5ms", 4u << 20, 3);
	transfer_and_close(&k, 60 * TERN_SEC);
	/* ~3.4 s of transfer; an update takes 300 ms of key age, then the
	 * confirming ACK and the 3 PTO the old rx key lingers */
	CHECK(k.a->keys.generation >= 5);
	CHECK(k.a->keys.generation <= 12);
	CHECK(k.b->keys.generation + 1 >= k.a->keys.generation);
	CHECK(k.max_a_stuck < 3000); /* not by count: far below 2^30 */
	check_invariants(&k);
	teardown(&k);

	cfg.key_update_interval = 0;
	setup(&k, &cfg, "rate=10mbit,delay=5ms", "delay=5ms", 1u << 20, 3);
	transfer_and_close(&k, 60 * TERN_SEC);
	CHECK_EQ(k.a->keys.generation, 0);
	CHECK_EQ(k.b->keys.generation, 0);
	CHECK_EQ(k.a->tx_gen, 0);
	teardown(&k);
}

/* A has just started a generation of its own (not the first): unconfirmed. */
static bool a_initiated(struct kp *k)
{
	return k->a->tx_gen >= 2 && k->a->tx_gen == k->a->keys.generation + 1;
}

/* A starts a generation and at once the ACK path is cut for 2 s: A's key
 * passes key_update_packets three times over but A stays on it, as it may
 * not start another before the peer acknowledged one of its packets. Once
 * ACKs return, updates go on and the transfer completes. */
static void test_no_second_update_unconfirmed(void)
{
	struct tern_session_cfg cfg;
	struct tern_sim_path_cfg rev;
	struct kp k;
	uint64_t gen;
	tern_time t;

	tern_session_cfg_default(&cfg);
	cfg.key_update_packets = 5;
	setup(&k, &cfg, "rate=10mbit,delay=5ms", "delay=5ms", 2u << 20, 5);
	xfer_pump(&k.x, k.a);
	CHECK_EQ(run(&k, 10 * TERN_SEC, a_initiated), 0);
	t = now(&k);
	path("delay=5ms", &rev);
	rev.blackhole[0].start = t;
	rev.blackhole[0].end = t + 2 * TERN_SEC;
	CHECK_EQ(tern_sim_set_path(tern_simnet_sim(k.net), 1, 0, &rev), 0);
	gen = k.a->tx_gen;
	CHECK_EQ(run(&k, TERN_SEC + TERN_SEC / 2, NULL), TERN_ETIMEDOUT);
	CHECK_EQ(k.a->tx_gen, gen);
	CHECK_EQ(k.a->keys.generation, gen - 1);
	CHECK(k.a->rec.largest_acked < k.a->tx_gen_first_pn);
	CHECK(k.a->tx_gen_pkts >= 3 * cfg.key_update_packets); /* due long ago */
	CHECK(k.b->keys.generation >= gen); /* B got the update; its answer was cut */
	/* after the cut: updates resume and the transfer completes */
	CHECK_EQ(run(&k, 60 * TERN_SEC, done), 0);
	CHECK(xfer_done(&k.x));
	CHECK_EQ(k.x.errors, 0);
	CHECK(k.a->tx_gen >= gen + 2);
	check_invariants(&k);
	teardown(&k);
}

static bool b_rotated_to(struct kp *k, uint64_t gen)
{
	return k->b->keys.generation >= gen && k->b->rx_prev != NULL;
}

static bool b_gen1(struct kp *k)
{
	return b_rotated_to(k, 1);
}

static bool b_gen3(struct kp *k)
{
	return b_rotated_to(k, 3);
}

/* B takes a copy of a packet it already processed; it must be dropped as a
 * duplicate before any AEAD work, and change nothing. */
static void replay_into_b(struct kp *k, const uint8_t *pkt, size_t len)
{
	struct tern_session_stats before = k->b->stats;
	uint64_t gen = k->b->keys.generation, fails = k->b->auth_failures;
	uint8_t copy[TERN_MAX_PACKET];

	memcpy(copy, pkt, len);
	CHECK_EQ(tern_session_recv(k->b, copy, len, now(k)), TERN_EAGAIN);
	CHECK_EQ(k->b->stats.drop_duplicate, before.drop_duplicate + 1);
	CHECK_EQ(k->b->stats.pkts_recv, before.pkts_recv);
	CHECK_EQ(k->b->stats.drop_auth, before.drop_auth);
	CHECK_EQ(k->b->auth_failures, fails);
	CHECK_EQ(k->b->keys.generation, gen);
	CHECK_EQ(k->b->state, TERN_SESSION_ESTABLISHED);
}

/* A generation-0 packet replayed after B moved to generation 1 (its key
 * still held for stragglers) and again after generation 3 (its key gone). */
static void test_replay_across_update(void)
{
	struct tern_session_cfg cfg;
	uint8_t pkt[TERN_MAX_PACKET], copy[TERN_MAX_PACKET];
	struct kp k;
	int n;

	tern_session_cfg_default(&cfg);
	cfg.key_update_packets = 50;
	setup(&k, &cfg, "rate=10mbit,delay=5ms", "delay=5ms", 4u << 20, 11);
	CHECK_EQ(run(&k, TERN_SEC, established), 0);
	k.a->ping_pending = true;
	n = tern_session_write(k.a, pkt, sizeof(pkt), now(&k));
	CHECK(n > 0);
	CHECK_EQ(pkt[0] & TERN_DATA_KEY_PHASE, 0);
	memcpy(copy, pkt, (size_t)n);
	CHECK_EQ(tern_session_recv(k.b, copy, (size_t)n, now(&k)), 0);
	replay_into_b(&k, pkt, (size_t)n); /* same generation */
	xfer_pump(&k.x, k.a);
	CHECK_EQ(run(&k, 10 * TERN_SEC, b_gen1), 0);
	CHECK_EQ(k.b->keys.generation, 1);
	replay_into_b(&k, pkt, (size_t)n);
	CHECK_EQ(run(&k, 10 * TERN_SEC, b_gen3), 0);
	replay_into_b(&k, pkt, (size_t)n);
	CHECK_EQ(run(&k, 60 * TERN_SEC, done), 0);
	CHECK(xfer_done(&k.x));
	CHECK_EQ(k.x.errors, 0);
	check_invariants(&k);
	teardown(&k);
}

/* ---- forged packets ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* A packet with a valid header for B and random ciphertext. */
static int forge_garbage(struct kp *k, unsigned key_phase)
{
	uint8_t pkt[200];
	uint64_t pn = k->a->rec.next_pn + 1000 + rng() % 1000;
	size_t h = tern_wire_data_hdr_encode(pkt, sizeof(pkt), cid_b, pn, UINT64_MAX, key_phase);

	for (size_t i = h; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)rng();
	return tern_session_recv(k->b, pkt, sizeof(pkt), now(k));
}

/* The fifth packet that fails to open (under either K bit) closes B with
 * AEAD_LIMIT; A hears it in B's CLOSE. */
static void test_integrity_limit(void)
{
	struct tern_session_cfg cfg;
	struct kp k;

	tern_session_cfg_default(&cfg);
	cfg.aead_integrity_limit = 5;
	setup(&k, &cfg, "delay=5ms", "delay=5ms", 1u << 20, 13);
	CHECK_EQ(run(&k, TERN_SEC, established), 0);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(forge_garbage(&k, i & 1), TERN_ECRYPTO);
	CHECK_EQ(k.b->stats.drop_auth, 4);
	CHECK_EQ(k.b->state, TERN_SESSION_ESTABLISHED);
	CHECK_EQ(forge_garbage(&k, 0), TERN_ECRYPTO);
	CHECK_EQ(k.b->stats.drop_auth, 5);
	CHECK_EQ(k.b->state, TERN_SESSION_CLOSING);
	CHECK_EQ(k.b->close.code, TERN_CLOSE_AEAD_LIMIT);
	CHECK_EQ(run(&k, 10 * TERN_SEC, both_closed), 0);
	CHECK_EQ(k.sa.closed, 1);
	CHECK(k.sa.ci.remote);
	CHECK(!k.sa.ci.app);
	CHECK_EQ(k.sa.ci.code, TERN_CLOSE_AEAD_LIMIT);
	CHECK_EQ(k.sb.closed, 1);
	CHECK(!k.sb.ci.remote);
	CHECK_EQ(k.sb.ci.err, TERN_EPROTO);
	CHECK_EQ(k.sb.ci.code, TERN_CLOSE_AEAD_LIMIT);
	teardown(&k);
}

/* With a confidentiality limit so small that A out-sends its key before an
 * update can be confirmed (an update waits an ACK and the 3 PTO of the old
 * rx key), A closes with AEAD_LIMIT and never seals past the limit. */
static void test_confidentiality_limit(void)
{
	struct tern_session_cfg cfg;
	struct kp k;

	tern_session_cfg_default(&cfg);
	cfg.aead_confidentiality_limit = 200;
	cfg.stream_window *= 8;
	cfg.conn_window *= 8;
	cfg.send_buffer *= 8;
	setup(&k, &cfg, "rate=200mbit,delay=40ms,queue=4m", "delay=40ms", 64u << 20, 17);
	xfer_pump(&k.x, k.a);
	CHECK_EQ(run(&k, 60 * TERN_SEC, done), 0);
	CHECK(!xfer_done(&k.x));
	CHECK_EQ(run(&k, 60 * TERN_SEC, both_closed), 0);
	CHECK_EQ(k.sa.closed, 1);
	CHECK(!k.sa.ci.remote);
	CHECK_EQ(k.sa.ci.code, TERN_CLOSE_AEAD_LIMIT);
	CHECK_EQ(k.sb.closed, 1);
	CHECK(k.sb.ci.remote);
	CHECK_EQ(k.sb.ci.code, TERN_CLOSE_AEAD_LIMIT);
	CHECK(k.a_updates >= 1); /* it did update while it could */
	CHECK(k.max_a_stuck <= 200);
	CHECK_EQ(k.x.errors, 0);
	check_invariants(&k);
	teardown(&k);
}

/* Seals frames as A would under keys (K = their generation's low bit), with
 * packet numbers above anything A sent. */
static int forge(struct kp *k, const struct tern_keys *keys, const uint8_t *frames, size_t len)
{
	static uint64_t forged;
	uint8_t pkt[TERN_MAX_PACKET];
	uint64_t pn = k->a->rec.next_pn + 1000 + forged++;
	size_t h = tern_wire_data_hdr_encode(pkt, sizeof(pkt), cid_b, pn, UINT64_MAX,
	                                     (unsigned)(keys->generation & 1));
	int n;

	memcpy(pkt + h, frames, len);
	n = tern_aead_seal(keys->tx, pn, pkt, h, pkt + h, len, sizeof(pkt) - h);
	CHECK(n > 0);
	return tern_session_recv(k->b, pkt, h + (size_t)n, now(k));
}

/* B closes with KEY_UPDATE; A, whose packets never carried the frame, hears
 * it in B's CLOSE. */
static void expect_key_update_close(struct kp *k, bool a_too)
{
	CHECK_EQ(k->b->state, TERN_SESSION_CLOSING);
	CHECK_EQ(k->b->close.code, TERN_CLOSE_KEY_UPDATE);
	CHECK_EQ(run(k, 10 * TERN_SEC, both_closed), 0);
	CHECK_EQ(k->sb.closed, 1);
	CHECK_EQ(k->sb.ci.code, TERN_CLOSE_KEY_UPDATE);
	CHECK_EQ(k->sb.ci.err, TERN_EPROTO);
	CHECK_EQ(k->sa.closed, 1);
	if (!a_too)
		return;
	CHECK(k->sa.ci.remote);
	CHECK_EQ(k->sa.ci.code, TERN_CLOSE_KEY_UPDATE);
}

/* KEY_UPDATE must name the generation whose keys opened its packet. (A
 * forged packet that B accepts is acknowledged to the real A, which never
 * sent that number and so closes on its own: there only B is checked.) */
static void test_key_update_frame(void)
{
	struct tern_keys g0, g1;
	uint8_t f[16];
	size_t n;
	struct kp k;

	CHECK_EQ(tern_keys_derive(&g0, TERN_CIPHER_CHACHA20_POLY1305, secret, sizeof(secret), cid_a,
	                          cid_b, true),
	         0);
	CHECK_EQ(tern_keys_next(&g0, &g1), 0);

	/* generation 0 announcing 5 */
	setup(&k, NULL, "delay=5ms", "delay=5ms", 1u << 20, 19);
	CHECK_EQ(run(&k, TERN_SEC, established), 0);
	n = tern_frame_encode_key_update(f, sizeof(f), 5);
	CHECK_EQ(forge(&k, &g0, f, n), TERN_EPROTO);
	expect_key_update_close(&k, true);
	teardown(&k);

	/* generation 0 announcing 0 is fine; so is generation 1 announcing 1,
	 * which rotates B and makes it answer under generation 1; generation 1
	 * announcing 0 is not */
	setup(&k, NULL, "delay=5ms", "delay=5ms", 1u << 20, 23);
	CHECK_EQ(run(&k, TERN_SEC, established), 0);
	n = tern_frame_encode_key_update(f, sizeof(f), 0);
	CHECK_EQ(forge(&k, &g0, f, n), 0);
	CHECK_EQ(k.b->state, TERN_SESSION_ESTABLISHED);
	n = tern_frame_encode_key_update(f, sizeof(f), 1);
	CHECK_EQ(forge(&k, &g1, f, n), 0);
	CHECK_EQ(k.b->state, TERN_SESSION_ESTABLISHED);
	CHECK_EQ(k.b->keys.generation, 1);
	CHECK_EQ(k.b->tx_gen, 1);
	CHECK(k.b->key_update_pending);
	CHECK(k.b->rx_prev != NULL);
	n = tern_frame_encode_key_update(f, sizeof(f), 0);
	CHECK_EQ(forge(&k, &g1, f, n), TERN_EPROTO);
	expect_key_update_close(&k, false);
	teardown(&k);
	tern_keys_free(&g0);
	tern_keys_free(&g1);
}

/* B's next packet, built and dropped (not delivered to A): whatever it owes. */
static void b_writes(struct kp *k)
{
	uint8_t pkt[TERN_MAX_PACKET];

	CHECK(tern_session_write(k->b, pkt, sizeof(pkt), now(k)) > 0);
}

/* A peer may start a generation only once its last one was confirmed (§5.4,
 * RFC 9001 §6.5): one that updates again before B sent any ACK under the
 * generation it just started is closed with KEY_UPDATE, so a peer cannot
 * make B derive keys on every packet. Once B acknowledged, the next update
 * is fine. (Forged packets are acknowledged to the real A, which never sent
 * them: only B is checked.) */
static void test_update_before_ack_refused(void)
{
	struct tern_keys g0, g1, g2;
	uint8_t ping = TERN_FRAME_PING;
	struct kp k;

	CHECK_EQ(tern_keys_derive(&g0, TERN_CIPHER_CHACHA20_POLY1305, secret, sizeof(secret), cid_a,
	                          cid_b, true),
	         0);
	CHECK_EQ(tern_keys_next(&g0, &g1), 0);
	CHECK_EQ(tern_keys_next(&g1, &g2), 0);

	/* generation 1, then at once 2: refused */
	setup(&k, NULL, "delay=5ms", "delay=5ms", 1u << 20, 29);
	CHECK_EQ(run(&k, TERN_SEC, established), 0);
	CHECK_EQ(forge(&k, &g0, &ping, 1), 0);
	CHECK_EQ(forge(&k, &g0, &ping, 1), 0); /* two: an ACK is due at once */
	b_writes(&k);
	CHECK_EQ(forge(&k, &g1, &ping, 1), 0);
	CHECK_EQ(k.b->keys.generation, 1);
	CHECK_EQ(forge(&k, &g2, &ping, 1), TERN_EPROTO);
	CHECK_EQ(k.b->keys.generation, 1);
	expect_key_update_close(&k, false);
	teardown(&k);

	/* generation 1, B acknowledges under it, then 2: accepted */
	setup(&k, NULL, "delay=5ms", "delay=5ms", 1u << 20, 31);
	CHECK_EQ(run(&k, TERN_SEC, established), 0);
	CHECK_EQ(forge(&k, &g0, &ping, 1), 0);
	CHECK_EQ(forge(&k, &g0, &ping, 1), 0);
	b_writes(&k);
	CHECK_EQ(forge(&k, &g1, &ping, 1), 0);
	CHECK_EQ(forge(&k, &g1, &ping, 1), 0);
	b_writes(&k); /* under generation 1, with an ACK of both */
	CHECK_EQ(forge(&k, &g2, &ping, 1), 0);
	CHECK_EQ(k.b->keys.generation, 2);
	CHECK_EQ(k.b->state, TERN_SESSION_ESTABLISHED);
	teardown(&k);
	tern_keys_free(&g0);
	tern_keys_free(&g1);
	tern_keys_free(&g2);
}

int main(void)
{
	CHECK_EQ(tern_crypto_init(), 0);
	test_ratchet_vectors();
	test_ratchet_from_prk();
	test_update_under_loss();
	test_update_by_time();
	test_no_second_update_unconfirmed();
	test_replay_across_update();
	test_integrity_limit();
	test_confidentiality_limit();
	test_key_update_frame();
	test_update_before_ack_refused();
	return tern_check_result("keyupdate");
}
