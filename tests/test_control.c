/* The control plane end to end in the simulator: a Noise IK handshake
 * between two hosts that have never met, sessions installed on both sides
 * with the negotiated parameters, every named failure reaching the
 * connecting application with no session created, a server that keeps
 * serving a legitimate client through floods of forged initiations, and
 * retries and duplicates answered from the response cache (one session per
 * client attempt, nothing for a spoofed source, bounded memory). */
#include <stdlib.h>

#include "tests/check.h"
#include "core/control_int.h"
#include "io/simnet.h"
#include "crypto/token.h"

#define VPORT 7
#define TYPE 1

struct world;

struct side {
	struct world *w;
	struct tern_control *ctl;
	struct tern_session *s;    /* the session with the legitimate peer */
	struct tern_session **all; /* every session installed here, to free */
	unsigned nall, cap;
	struct tern_hs_session_info info;
	int sessions, failed, why;
	tern_time when;
	unsigned msgs, closed;
	uint64_t close_code; /* the last session closed, its code */
};

struct world {
	struct tern_simnet *net;
	int ea, eb, ec;
	struct tern_addr a, b, c;
	struct tern_hs_keypair ka, kb;
	struct side ca, sb;
	bool sent_a, sent_b;
	uint8_t client_minor; /* 0: the default version range */
	bool no_listener;
	const uint8_t *allowed;     /* server allow-list: one key, or NULL for any */
	size_t resp_cache;          /* server's resp_cache_entries; 0: the default */
	bool no_resp_cache;         /* server without a response cache */
	struct tern_budget *budget; /* the server sessions' memory budget; NULL: none */
	unsigned refuse;            /* server installs that fail, the first ones */
	void (*server_cfg)(struct tern_simhost_cfg *hc); /* adjusts the server */
};

static void on_session(void *ctx, struct tern_session *s, const struct tern_hs_session_info *info)
{
	struct side *sd = ctx;
	const struct tern_hs_keypair *peer = sd == &sd->w->sb ? &sd->w->ka : &sd->w->kb;

	if (sd->nall == sd->cap) {
		sd->cap = sd->cap ? 2 * sd->cap : 64;
		sd->all = realloc(sd->all, sd->cap * sizeof(*sd->all));
		CHECK(sd->all != NULL);
	}
	sd->all[sd->nall++] = s;
	if (memcmp(info->peer_static, peer->pub, TERN_HS_KEY_LEN) != 0)
		return; /* a forged initiation that got through: not our client */
	sd->s = s;
	sd->info = *info;
	sd->sessions++;
}

static void on_failed(void *ctx, void *user, int why)
{
	struct side *sd = ctx;

	(void)user;
	sd->failed++;
	sd->why = why;
}

static void on_message(void *ctx, struct tern_session *s, uint16_t stream, const uint8_t *m,
                       size_t len)
{
	struct side *sd = ctx;

	(void)s, (void)stream;
	if (len == 5 && memcmp(m, "hello", 5) == 0)
		sd->msgs++;
}

static void on_closed(void *ctx, struct tern_session *s, const struct tern_close_info *ci)
{
	struct side *sd = ctx;

	(void)s;
	sd->closed++;
	sd->close_code = ci->code;
}

static bool listening(void *ctx, uint16_t vport, uint8_t type)
{
	struct side *sd = ctx;

	return !sd->w->no_listener && vport == VPORT && type == TYPE;
}

static bool allow(void *ctx, const uint8_t *pub)
{
	struct world *w = ctx;

	return memcmp(pub, w->allowed, TERN_HS_KEY_LEN) == 0;
}

static bool refuse_install(void *ctx, const struct tern_hs_session_info *info)
{
	struct side *sd = ctx;

	(void)info;
	if (!sd->w->refuse)
		return false;
	sd->w->refuse--;
	return true;
}

static void host(struct world *w, int ep, struct side *sd, struct tern_hs_keypair *kp,
                 const uint8_t *ticket_key, bool server)
{
	struct tern_simhost_cfg hc = {.on_session = on_session, .on_failed = on_failed, .ctx = sd};
	const char *err = NULL;

	tern_control_cfg_default(&hc.control);
	hc.control.identity = kp;
	hc.control.ticket_key = ticket_key;
	hc.control.ticket_required = ticket_key != NULL;
	hc.session_cbs =
	        (struct tern_session_cbs){.ctx = sd, .message = on_message, .closed = on_closed};
	sd->w = w;
	if (!server && w->client_minor)
		hc.control.min_minor = hc.control.max_minor = w->client_minor;
	if (server) {
		hc.listening = listening;
		hc.refuse_install = refuse_install;
	}
	if (server && w->resp_cache)
		hc.control.resp_cache_entries = w->resp_cache;
	if (server && w->no_resp_cache)
		hc.control.resp_cache_entries = 0;
	if (server)
		hc.control.session.budget = w->budget;
	if (server && w->allowed) {
		hc.control.allow = allow;
		hc.control.allow_ctx = w;
	}
	if (server && w->server_cfg)
		w->server_cfg(&hc);
	CHECK_EQ(tern_simnet_host(w->net, ep, &hc, &sd->ctl, &err), 0);
}

static void setup(struct world *w, uint64_t seed, const uint8_t *ticket_key)
{
	struct tern_sim_path_cfg path = {.delay_us = 5000};

	w->net = tern_simnet_new(seed);
	w->a = (struct tern_addr){.family = 4, .port = 1000, .ip = {127, 0, 0, 1}};
	w->b = (struct tern_addr){.family = 4, .port = 2000, .ip = {127, 0, 0, 2}};
	w->ea = tern_sim_add_endpoint(tern_simnet_sim(w->net), &w->a);
	w->eb = tern_sim_add_endpoint(tern_simnet_sim(w->net), &w->b);
	tern_sim_set_path(tern_simnet_sim(w->net), w->ea, w->eb, &path);
	tern_sim_set_path(tern_simnet_sim(w->net), w->eb, w->ea, &path);
	tern_hs_keypair_generate(&w->ka);
	tern_hs_keypair_generate(&w->kb);
	host(w, w->ea, &w->ca, &w->ka, NULL, false);
	host(w, w->eb, &w->sb, &w->kb, ticket_key, true);
}

static void teardown(struct world *w)
{
	tern_simnet_free(w->net);
	for (unsigned i = 0; i < w->ca.nall; i++)
		tern_session_free(w->ca.all[i]);
	for (unsigned i = 0; i < w->sb.nall; i++)
		tern_session_free(w->sb.all[i]);
	free(w->ca.all);
	free(w->sb.all);
}

static int connect_to(struct world *w, const uint8_t *server_pub, const uint8_t *ticket,
                      size_t ticket_len)
{
	struct tern_connect_req req = {.peer = w->b,
	                               .server_pub = server_pub,
	                               .vport = VPORT,
	                               .stream_type = TYPE,
	                               .ticket = ticket,
	                               .ticket_len = ticket_len,
	                               .user = w};

	return tern_control_connect(w->ca.ctl, &req, tern_simnet_now(w->net));
}

static bool settled(void *ctx)
{
	struct world *w = ctx;

	if (!w->ca.when && (w->ca.sessions || w->ca.failed))
		w->ca.when = tern_simnet_now(w->net);
	if ((w->ca.s && !w->sent_a) || (w->sb.s && !w->sent_b))
		return true; /* a session appeared: say hello on it */
	return w->ca.failed || (w->sb.msgs && w->ca.msgs);
}

/* Connects, then each side sends "hello" once its session exists. */
static void run(struct world *w, tern_time limit)
{
	tern_time until = tern_simnet_now(w->net) + limit;

	while (tern_simnet_now(w->net) < until && !w->ca.failed) {
		if (tern_simnet_run(w->net, until, settled, w) != 0)
			break;
		if (w->ca.s && !w->sent_a)
			w->sent_a = tern_session_send(w->ca.s, 0, "hello", 5) == 0;
		if (w->sb.s && !w->sent_b)
			w->sent_b = tern_session_send(w->sb.s, 0, "hello", 5) == 0;
		if (w->sb.msgs && w->ca.msgs)
			break;
		tern_sim_advance(tern_simnet_sim(w->net), tern_simnet_now(w->net) + 1);
	}
}

static void test_handshake_ok(void)
{
	struct world w = {0};

	setup(&w, 1, NULL);
	CHECK_EQ(connect_to(&w, w.kb.pub, NULL, 0), 0);
	run(&w, 5 * TERN_SEC);
	CHECK_EQ(w.ca.sessions, 1);
	CHECK_EQ(w.sb.sessions, 1);
	CHECK_EQ(w.ca.failed, 0);
	CHECK(w.ca.msgs == 1 && w.sb.msgs == 1);
	CHECK(w.ca.when <= 20 * TERN_MS); /* one round trip on a 10 ms RTT path */
	CHECK_EQ(w.sb.info.vport, VPORT);
	CHECK(memcmp(w.sb.info.peer_static, w.ka.pub, 32) == 0);
	CHECK(memcmp(w.ca.info.peer_static, w.kb.pub, 32) == 0);
	CHECK(w.ca.info.user == &w);
	CHECK(w.ca.s && w.sb.s && w.ca.s->keys.tx && w.sb.s->keys.rx);
	CHECK_EQ(tern_control_stats(w.sb.ctl)->dh_initiations, 1);
	/* the server's session was half-open until the client's first packet */
	CHECK_EQ(tern_admit_half_open(tern_control_admit(w.sb.ctl)), 0);
	CHECK_EQ(tern_admit_sessions(tern_control_admit(w.sb.ctl)), 1);
	teardown(&w);
}

static void expect_failure(struct world *w, const uint8_t *server_pub, int why)
{
	CHECK_EQ(connect_to(w, server_pub, NULL, 0), 0);
	run(w, 15 * TERN_SEC);
	CHECK_EQ(w->ca.failed, 1);
	CHECK_EQ(w->ca.why, why);
	CHECK_EQ(w->ca.sessions, 0);
	if (w->ca.why != why)
		fprintf(stderr, "  got '%s', want '%s'\n", tern_connect_fail_name(w->ca.why),
		        tern_connect_fail_name(why));
}

static void test_wrong_server_key_times_out(void)
{
	struct world w = {0};
	struct tern_hs_keypair other;

	setup(&w, 2, NULL);
	tern_hs_keypair_generate(&other);
	expect_failure(&w, other.pub, TERN_HS_TIMEOUT); /* mac1 fails: the server stays silent */
	CHECK_EQ(tern_control_stats(w.sb.ctl)->dh_initiations, 0);
	CHECK(tern_control_stats(w.sb.ctl)->drop_mac1 >= 1);
	CHECK_EQ(w.sb.sessions, 0);
	teardown(&w);
}

/* ---- floods ---- */

struct flood {
	struct world *w;
	uint8_t pkt[TERN_HS_INIT_LEN];
	uint64_t sent, rng;
	bool valid_mac1; /* the attacker knows the server's public key */
	tern_time stop;
};

/* 10 forged initiations every 100 µs (100,000 per second), each from a
 * different spoofed address in 127.0.0.0/8. */
static void flood_tick(void *ctx, tern_time now)
{
	struct flood *f = ctx;

	if (now >= f->stop)
		return;
	for (int i = 0; i < 10; i++) {
		uint64_t r = (f->rng = f->rng * 6364136223846793005ull + 1442695040888963407ull);
		struct tern_addr src = {.family = 4,
		                        .port = (uint16_t)(r >> 16),
		                        .ip = {127, (uint8_t)(r >> 24), (uint8_t)(r >> 32),
		                               (uint8_t)(r >> 40 | 1)}};
		if (!f->valid_mac1)
			f->pkt[100] = (uint8_t)r; /* a new body each time, the MAC never fits */
		tern_simnet_inject(f->w->net, f->w->eb, &src, f->pkt, sizeof(f->pkt));
		f->sent++;
	}
}

static void make_flood_packet(struct world *w, struct flood *f)
{
	struct tern_hs_keypair attacker;
	struct tern_hs_init_config ic = {.local = &attacker,
	                                 .remote_pub = w->kb.pub,
	                                 .min_minor = 0,
	                                 .max_minor = 0,
	                                 .vport = VPORT,
	                                 .stream_type = TYPE};
	struct tern_hs_initiator *st = NULL;
	uint8_t ts[TERN_HS_TIMESTAMP_LEN];
	size_t len;

	for (size_t i = 0; i < sizeof(f->pkt); i++)
		f->pkt[i] = (uint8_t)(i * 131);
	f->pkt[0] = 0x80 | TERN_HS_INITIATION;
	f->pkt[1] = TERN_PROTO_VERSION_MAJOR;
	if (!f->valid_mac1)
		return;
	tern_hs_keypair_generate(&attacker);
	tern_hs_tai64n(ts, 1767225600ull, 0);
	ic.timestamp = ts;
	CHECK_EQ(tern_hs_initiation_create(&st, &ic, f->pkt, sizeof(f->pkt), &len, NULL), 0);
	tern_hs_initiator_free(st);
}

/* The client connects 0.5 s into a 3 s flood and must be connected within
 * 2 simulated seconds; returns the server's X25519 count meanwhile. */
static uint64_t flood_run(bool valid_mac1, tern_time *took)
{
	struct world w = {0};
	struct flood f = {.w = &w, .valid_mac1 = valid_mac1, .rng = 42};
	tern_time start;
	uint64_t dh;

	setup(&w, 9, NULL);
	make_flood_packet(&w, &f);
	f.stop = tern_simnet_now(w.net) + 3 * TERN_SEC;
	CHECK_EQ(tern_simnet_every(w.net, 100, flood_tick, &f), 0);
	tern_simnet_run(w.net, tern_simnet_now(w.net) + TERN_SEC / 2, NULL, NULL);
	start = tern_simnet_now(w.net);
	CHECK_EQ(connect_to(&w, w.kb.pub, NULL, 0), 0);
	run(&w, 2 * TERN_SEC);
	*took = w.ca.when ? w.ca.when - start : TERN_TIME_NEVER;
	CHECK_EQ(w.ca.sessions, 1);
	CHECK(w.sb.msgs == 1 && w.ca.msgs == 1);
	CHECK(f.sent >= 50000); /* 100k/s for the 0.5 s before the client and its handshake */
	dh = tern_control_stats(w.sb.ctl)->dh_initiations;
	fprintf(stderr,
	        "flood (%s mac1): %llu forged, client connected in %.1f ms, %llu DH, "
	        "%llu cookie replies, %llu dropped by mac1, queue drops %llu\n",
	        valid_mac1 ? "valid" : "bad", (unsigned long long)f.sent, (double)*took / 1e3,
	        (unsigned long long)dh,
	        (unsigned long long)tern_control_stats(w.sb.ctl)->cookie_replies_sent,
	        (unsigned long long)tern_control_stats(w.sb.ctl)->drop_mac1,
	        (unsigned long long)tern_simnet_host_queue_drops(w.net, w.eb));
	teardown(&w);
	return dh;
}

static void test_flood_bad_mac(void)
{
	tern_time took;

	/* the one X25519 pass the server makes is the legitimate client's */
	CHECK_EQ(flood_run(false, &took), 1);
	CHECK(took <= 2 * TERN_SEC);
}

static void test_flood_valid_mac1_needs_cookies(void)
{
	tern_time took;
	uint64_t dh = flood_run(true, &took);

	/* Forged initiations that pass mac1 reach X25519 only until the
	 * backlog switches cookies on (64 queued), then never again while the
	 * load lasts: the client gets a cookie reply and retries with it. */
	CHECK(dh <= 64 + 1);
	CHECK(took <= 2 * TERN_SEC);
}

static void test_unknown_client_key(void)
{
	struct world w = {0};
	struct tern_hs_keypair someone;

	tern_hs_keypair_generate(&someone);
	w.allowed = someone.pub; /* the allow-list holds another key */
	setup(&w, 3, NULL);
	expect_failure(&w, w.kb.pub, TERN_HS_UNKNOWN_CLIENT_KEY);
	CHECK_EQ(tern_control_stats(w.sb.ctl)->fail[TERN_HS_UNKNOWN_CLIENT_KEY], 1);
	CHECK_EQ(w.sb.sessions + w.sb.nall, 0);
	teardown(&w);
}

static void test_no_listener_refused(void)
{
	struct world w = {.no_listener = true};

	setup(&w, 4, NULL);
	expect_failure(&w, w.kb.pub, TERN_HS_REFUSED);
	CHECK_EQ(w.sb.nall, 0);
	teardown(&w);
}

static void test_version_mismatch(void)
{
	struct world w = {.client_minor = 7}; /* the server speaks minor 0 only */

	setup(&w, 5, NULL);
	expect_failure(&w, w.kb.pub, TERN_HS_VERSION_MISMATCH);
	CHECK_EQ(w.sb.nall, 0);
	teardown(&w);
}

static void ticket_run(bool forged, int64_t expires_in, int want)
{
	uint8_t key[TERN_TOKEN_KEY_LEN], other[TERN_TOKEN_KEY_LEN], ticket[TERN_TOKEN_MAX];
	struct world w = {0};
	int len;

	tern_token_keygen(key);
	tern_token_keygen(other);
	setup(&w, 6, key);
	/* the simulator's wall clock starts at 2026-01-01 00:00:00 UTC */
	len = tern_token_mint(forged ? other : key, 4242, (uint64_t)(1767225600 + expires_in),
	                      w.ka.pub, NULL, ticket, sizeof(ticket));
	CHECK(len > 0);
	CHECK_EQ(connect_to(&w, w.kb.pub, ticket, (size_t)len), 0);
	run(&w, 15 * TERN_SEC);
	if (want == TERN_HS_OK) {
		CHECK_EQ(w.ca.sessions, 1);
		CHECK_EQ(w.sb.info.pid, 4242); /* the server sees who the ticket names */
		CHECK_EQ(w.ca.info.pid, 4242);
	} else {
		CHECK_EQ(w.ca.failed, 1);
		CHECK_EQ(w.ca.why, want);
		CHECK_EQ(w.sb.nall, 0);
	}
	teardown(&w);
}

static void test_tickets(void)
{
	ticket_run(false, 3600, TERN_HS_OK);
	ticket_run(true, 3600, TERN_HS_TICKET_FORGED);
	ticket_run(false, -1, TERN_HS_TICKET_EXPIRED);
}

static void test_no_server_times_out(void)
{
	struct world w = {0};
	struct tern_sim_path_cfg hole = {.delay_us = 5000,
	                                 .blackhole = {{.start = 0, .end = TERN_TIME_NEVER}}};

	setup(&w, 7, NULL);
	tern_sim_set_path(tern_simnet_sim(w.net), w.ea, w.eb, &hole);
	expect_failure(&w, w.kb.pub, TERN_HS_TIMEOUT);
	CHECK(w.ca.when >= 10 * TERN_SEC); /* hs_timeout, after backed-off retries */
	CHECK(tern_control_stats(w.ca.ctl)->retransmits >= 3); /* at 1, 3 and 7 s */
	teardown(&w);
}

/* An impostor at the server's address knows the server's public key (so its
 * answers pass the client's mac1 check) but not its private key. */
struct impostor {
	struct world *w;
	unsigned answered;
};

static void impostor_tap(void *ctx, const struct tern_pkt *pkt)
{
	struct impostor *im = ctx;
	struct tern_hs_mac_keys client_mac;
	uint8_t resp[TERN_HS_RESP_LEN];

	if (pkt->len < TERN_HS_INIT_LEN || pkt->data[0] != (0x80 | TERN_HS_INITIATION))
		return;
	for (size_t i = 0; i < sizeof(resp); i++)
		resp[i] = (uint8_t)(i * 7 + im->answered);
	resp[0] = 0x80 | TERN_HS_RESPONSE;
	resp[1] = TERN_PROTO_VERSION_MAJOR;
	memcpy(resp + TERN_HS_RESP_RECEIVER, pkt->data + TERN_HS_INIT_SENDER, TERN_CID_LEN);
	tern_hs_mac_keys_init(&client_mac, im->w->ka.pub);
	tern_hs_mac(resp + TERN_HS_RESP_LEN - TERN_HS_MACS_LEN, client_mac.mac1, 32, resp,
	            TERN_HS_RESP_LEN - TERN_HS_MACS_LEN);
	memset(resp + TERN_HS_RESP_LEN - TERN_HS_MAC_LEN, 0, TERN_HS_MAC_LEN);
	tern_sim_send(tern_simnet_sim(im->w->net), im->w->ec, &pkt->peer, resp, sizeof(resp));
	im->answered++;
}

static void test_impostor_bad_server_key(void)
{
	struct world w = {0};
	struct impostor im = {.w = &w};
	struct tern_sim_path_cfg path = {.delay_us = 5000};
	struct tern_sim *sim;

	setup(&w, 8, NULL);
	sim = tern_simnet_sim(w.net);
	w.c = (struct tern_addr){.family = 4, .port = 3000, .ip = {127, 0, 0, 3}};
	w.ec = tern_sim_add_endpoint(sim, &w.c);
	tern_sim_set_path(sim, w.ea, w.ec, &path);
	tern_sim_set_path(sim, w.ec, w.ea, &path);
	CHECK_EQ(tern_simnet_tap(w.net, w.ec, impostor_tap, &im), 0);
	w.b = w.c; /* the client dials the impostor, expecting the real server's key */
	expect_failure(&w, w.kb.pub, TERN_HS_BAD_SERVER_KEY);
	CHECK(im.answered >= 1);
	teardown(&w);
}

/* A server under load at the server's address (a tap with the server's
 * keys): initiations without a valid mac2 get a genuine cookie reply; the
 * first that carries one is followed by a forged cookie reply (right CID,
 * random sealed bytes), which the client must ignore without losing the
 * cookie it holds. */
struct loaded {
	struct world *w;
	struct tern_cookie *cookie;
	struct tern_hs_mac_keys mac;
	unsigned with_mac2, without_mac2;
};

static void loaded_tap(void *ctx, const struct tern_pkt *pkt)
{
	struct loaded *ld = ctx;
	struct tern_sim *sim = tern_simnet_sim(ld->w->net);
	tern_time now = tern_simnet_now(ld->w->net);
	uint8_t reply[TERN_HS_COOKIE_REPLY_LEN];
	int n;

	if (pkt->len < TERN_HS_INIT_LEN || pkt->data[0] != (0x80 | TERN_HS_INITIATION))
		return;
	if (tern_cookie_check_mac2(ld->cookie, now, &pkt->peer, pkt->data, pkt->len) == 0) {
		if (ld->with_mac2++ == 0) { /* the forgery: a reply no key opens */
			reply[0] = 0x80 | TERN_HS_COOKIE_REPLY;
			reply[1] = TERN_PROTO_VERSION_MAJOR;
			memcpy(reply + TERN_HS_COOKIE_RECEIVER, pkt->data + TERN_HS_INIT_SENDER,
			       TERN_CID_LEN);
			for (size_t i = TERN_HS_COOKIE_NONCE; i < sizeof(reply); i++)
				reply[i] = (uint8_t)(i * 29 + 7);
			tern_sim_send(sim, ld->w->ec, &pkt->peer, reply, sizeof(reply));
		}
		return;
	}
	ld->without_mac2++;
	n = tern_cookie_reply_build(ld->cookie, now, &ld->mac, &pkt->peer, pkt->data, pkt->len,
	                            reply, sizeof(reply));
	CHECK_EQ(n, TERN_HS_COOKIE_REPLY_LEN);
	tern_sim_send(sim, ld->w->ec, &pkt->peer, reply, (size_t)n);
}

/* After its first cookie, every try the client sends (the copy at +1 s and
 * the fresh try at +3 s) carries a valid mac2: the forged reply between
 * them did not wipe the cookie (issue 13, item 5). */
static void test_forged_cookie_reply_keeps_cookie(void)
{
	struct world w = {0};
	struct loaded ld = {.w = &w};
	struct tern_sim_path_cfg path = {.delay_us = 5000};
	struct tern_sim *sim;

	setup(&w, 15, NULL);
	sim = tern_simnet_sim(w.net);
	w.c = (struct tern_addr){.family = 4, .port = 3000, .ip = {127, 0, 0, 3}};
	w.ec = tern_sim_add_endpoint(sim, &w.c);
	tern_sim_set_path(sim, w.ea, w.ec, &path);
	tern_sim_set_path(sim, w.ec, w.ea, &path);
	CHECK_EQ(tern_cookie_new(&ld.cookie, tern_simnet_now(w.net)), 0);
	tern_hs_mac_keys_init(&ld.mac, w.kb.pub);
	CHECK_EQ(tern_simnet_tap(w.net, w.ec, loaded_tap, &ld), 0);
	w.b = w.c;
	CHECK_EQ(connect_to(&w, w.kb.pub, NULL, 0), 0);
	tern_simnet_run(w.net, 5 * TERN_SEC, NULL, NULL);
	CHECK_EQ(ld.without_mac2, 1); /* the first try only */
	CHECK_EQ(ld.with_mac2, 3);    /* the try with the cookie, its copy, a fresh try */
	CHECK_EQ(tern_control_stats(w.ca.ctl)->cookie_replies_rx, 2);
	tern_cookie_free(ld.cookie);
	teardown(&w);
}

/* ---- retries and duplicates: the response cache ---- */

/* The server's first response is lost. What the server pays for the
 * client's retries: */
struct lost_case {
	bool cache, lose_copy; /* the client's second copy of its try is lost too */
	uint64_t initiations, proven, built, dups, resent, retransmits, refusals;
	tern_time connected_after; /* the retry that completed, plus up to 2 RTT */
};

static void lost_response_run(const struct lost_case *lc)
{
	struct world w = {.no_resp_cache = !lc->cache};
	struct tern_sim_path_cfg lossy = {.delay_us = 5000,
	                                  .blackhole = {{.start = 0, .end = 500 * TERN_MS}}};
	struct tern_sim_path_cfg lossy_up = {
	        .delay_us = 5000, .blackhole = {{.start = 500 * TERN_MS, .end = 1500 * TERN_MS}}};
	const struct tern_control_stats *st;

	setup(&w, 11, NULL);
	tern_sim_set_path(tern_simnet_sim(w.net), w.eb, w.ea, &lossy);
	if (lc->lose_copy)
		tern_sim_set_path(tern_simnet_sim(w.net), w.ea, w.eb, &lossy_up);
	CHECK_EQ(connect_to(&w, w.kb.pub, NULL, 0), 0);
	run(&w, 5 * TERN_SEC);
	st = tern_control_stats(w.sb.ctl);
	CHECK_EQ(w.ca.sessions, 1);
	CHECK_EQ(w.ca.failed, 0);
	/* With the cache the client ends up on the server's one session, which
	 * carries data both ways; without it the server's application said
	 * hello on its first session, an orphan the client never learns of. */
	CHECK_EQ(w.sb.msgs, 1);
	CHECK_EQ(w.ca.msgs, lc->cache ? 1 : 0);
	CHECK(w.ca.when >= lc->connected_after && w.ca.when <= lc->connected_after + 25 * TERN_MS);
	CHECK_EQ(tern_control_stats(w.ca.ctl)->retransmits, lc->retransmits);
	CHECK_EQ(st->initiations, lc->initiations);
	CHECK_EQ(st->dh_initiations, lc->proven); /* es, ss: 2 X25519 each */
	CHECK_EQ(st->accepted, lc->built);        /* ee, se and a session each */
	CHECK_EQ(w.sb.nall, lc->built);
	CHECK_EQ(st->duplicates_resent, lc->dups);
	CHECK_EQ(st->responses_resent, lc->resent);
	CHECK_EQ(st->refusals, lc->refusals);
	teardown(&w);
}

static void test_lost_response_resent(void)
{
	/* The client's second copy of its try (at 1 s) is answered from the
	 * cache: the server's DH work is done once, 4 X25519 in all. */
	const struct lost_case dup = {.cache = true,
	                              .initiations = 2,
	                              .proven = 1,
	                              .built = 1,
	                              .dups = 1,
	                              .resent = 1,
	                              .retransmits = 1,
	                              .connected_after = TERN_SEC};
	/* That copy lost too, the fresh retry at 3 s is proven (its timestamp
	 * recorded) and gets the first response again: 6 X25519, one session. */
	const struct lost_case fresh = {.cache = true,
	                                .lose_copy = true,
	                                .initiations = 2,
	                                .proven = 2,
	                                .built = 1,
	                                .resent = 1,
	                                .retransmits = 2,
	                                .connected_after = 3 * TERN_SEC};
	/* No cache: the copy is a replay (refused), the client's fresh try at
	 * once gets a second response and session: 10 X25519, an orphan. */
	const struct lost_case none = {.initiations = 3,
	                               .proven = 3,
	                               .built = 2,
	                               .retransmits = 2,
	                               .refusals = 1,
	                               .connected_after = TERN_SEC};

	lost_response_run(&dup);
	lost_response_run(&fresh);
	lost_response_run(&none);
}

/* Every datagram the client sends arrives twice: the copy of the initiation
 * gets the same response again (no DH) and never a second session, nor the
 * REPLAY refusal that would end the client's handshake. */
static void test_duplicate_initiation_one_session(void)
{
	struct world w = {0};
	struct tern_sim_path_cfg dup = {.delay_us = 5000, .duplicate = 1.0};
	const struct tern_control_stats *st;

	setup(&w, 12, NULL);
	tern_sim_set_path(tern_simnet_sim(w.net), w.ea, w.eb, &dup);
	CHECK_EQ(connect_to(&w, w.kb.pub, NULL, 0), 0);
	run(&w, 5 * TERN_SEC);
	st = tern_control_stats(w.sb.ctl);
	CHECK_EQ(w.ca.sessions, 1);
	CHECK_EQ(w.ca.failed, 0);
	CHECK(w.ca.msgs == 1 && w.sb.msgs == 1);
	CHECK_EQ(st->initiations, 2);
	CHECK_EQ(st->dh_initiations, 1);
	CHECK_EQ(st->accepted, 1);
	CHECK_EQ(w.sb.nall, 1);
	CHECK_EQ(st->duplicates_resent, 1);
	CHECK_EQ(st->responses_resent, 1);
	CHECK_EQ(st->fail[TERN_HS_REPLAY] + st->refusals, 0);
	teardown(&w);
}

/* A valid initiation from key kp with CID cid and timestamp sec, as a
 * client at the default version and parameters would send it. */
static void make_init(struct world *w, const struct tern_hs_keypair *kp, uint64_t cid, uint64_t sec,
                      uint8_t pkt[TERN_HS_INIT_LEN])
{
	struct tern_hs_init_config ic = {.local = kp,
	                                 .remote_pub = w->kb.pub,
	                                 .min_minor = TERN_PROTO_VERSION_MINOR,
	                                 .max_minor = TERN_PROTO_VERSION_MINOR,
	                                 .vport = VPORT,
	                                 .stream_type = TYPE};
	struct tern_session_cfg scfg;
	struct tern_hs_initiator *st = NULL;
	uint8_t ts[TERN_HS_TIMESTAMP_LEN];
	size_t len;

	tern_session_cfg_default(&scfg);
	tern_session_local_params(&scfg, &ic.params);
	tern_put_be64(ic.cid, cid);
	tern_hs_tai64n(ts, 1767225600ull + sec, 0);
	ic.timestamp = ts;
	CHECK_EQ(tern_hs_initiation_create(&st, &ic, pkt, TERN_HS_INIT_LEN, &len, NULL), 0);
	CHECK_EQ(len, TERN_HS_INIT_LEN);
	tern_hs_initiator_free(st);
}

/* What arrives at the spoofed address. */
struct sniffer {
	unsigned pkts, responses;
	size_t bytes;
};

static void sniff(void *ctx, const struct tern_pkt *pkt)
{
	struct sniffer *sn = ctx;

	sn->pkts++;
	sn->bytes += pkt->len;
	sn->responses += pkt->len > 0 && pkt->data[0] == (0x80 | TERN_HS_RESPONSE);
}

static void deliver(struct world *w, const struct tern_addr *src, const uint8_t *pkt)
{
	CHECK_EQ(tern_simnet_inject(w->net, w->eb, src, pkt, TERN_HS_INIT_LEN), 0);
	tern_simnet_run(w->net, tern_simnet_now(w->net) + 50 * TERN_MS, NULL, NULL);
}

/* The server's first install fails (in an engine: the owner worker's inbox
 * was full), so no response went out. The client's copy of its try at 1 s
 * must not be answered from the response cache — that would connect it to a
 * session that does not exist — but refused as a replay, which brings its
 * fresh try forward at once: that one gets a session on both sides. */
static void test_failed_install_not_cached(void)
{
	struct world w = {.refuse = 1};
	const struct tern_control_stats *st;

	setup(&w, 16, NULL);
	CHECK_EQ(connect_to(&w, w.kb.pub, NULL, 0), 0);
	run(&w, 5 * TERN_SEC);
	st = tern_control_stats(w.sb.ctl);
	CHECK_EQ(st->install_failed, 1);
	CHECK_EQ(st->accepted, 1);
	CHECK_EQ(st->responses_resent, 0);
	CHECK_EQ(st->fail[TERN_HS_REPLAY], 1);
	CHECK_EQ(w.ca.sessions, 1);
	CHECK_EQ(w.sb.sessions, 1);
	CHECK(w.ca.msgs == 1 && w.sb.msgs == 1); /* both ends hold the same session */
	CHECK(w.ca.when >= TERN_SEC && w.ca.when <= TERN_SEC + 25 * TERN_MS);
	teardown(&w);
}

/* An on-path attacker copies the client's answered initiation and sends it
 * from its own address: the cache is keyed by source, so the copy is a full
 * initiation there and fails the replay check (a 43-byte REPLAY refusal,
 * which only the client's handshake state can verify; nothing the protocol
 * does not already send). The same copy from the client's own address is a
 * duplicate: its response goes back to the client, not to the attacker. */
static void test_spoofed_copy_gets_nothing(void)
{
	struct world w = {0};
	struct sniffer sn = {0};
	uint8_t init[TERN_HS_INIT_LEN];
	const struct tern_control_stats *st;
	uint64_t to_client;

	setup(&w, 13, NULL);
	w.c = (struct tern_addr){.family = 4, .port = 3000, .ip = {127, 0, 0, 3}};
	w.ec = tern_sim_add_endpoint(tern_simnet_sim(w.net), &w.c);
	CHECK_EQ(tern_simnet_tap(w.net, w.ec, sniff, &sn), 0);
	st = tern_control_stats(w.sb.ctl);
	make_init(&w, &w.ka, 0x0102030405060708ull, 1, init);
	deliver(&w, &w.a, init);
	CHECK_EQ(st->accepted, 1);
	to_client = tern_sim_path_stats(tern_simnet_sim(w.net), w.eb, w.ea)->delivered;
	CHECK_EQ(to_client, 1);
	deliver(&w, &w.c, init); /* the spoofed copy */
	CHECK_EQ(sn.responses, 0);
	CHECK(sn.pkts <= 1 && sn.bytes <= TERN_HS_REFUSAL_LEN);
	CHECK_EQ(st->fail[TERN_HS_REPLAY], 1);
	CHECK_EQ(st->responses_resent, 0);
	CHECK_EQ(st->accepted, 1);
	deliver(&w, &w.a, init); /* the copy from the client's address */
	CHECK_EQ(st->duplicates_resent, 1);
	CHECK_EQ(st->dh_initiations, 2); /* the answered one and the spoofed copy */
	CHECK_EQ(tern_sim_path_stats(tern_simnet_sim(w.net), w.eb, w.ea)->delivered, to_client + 1);
	CHECK_EQ(sn.responses, 0);
	CHECK_EQ(st->accepted, 1);
	CHECK_EQ(w.sb.nall, 1);
	teardown(&w);
}

/* A cache of 8 answers 20 clients: memory is the ring allocated at start,
 * the 12 oldest entries are pushed out (their duplicates get the replay
 * check again), the newest 8 answer duplicates with no DH, at most twice
 * each, and for resp_cache_ttl only. */
static void test_resp_cache_bounded(void)
{
	struct world w = {.resp_cache = 8};
	uint8_t init[20][TERN_HS_INIT_LEN];
	struct tern_addr src[20];
	struct tern_hs_keypair kp[20];
	const struct tern_control_stats *st;
	uint64_t dh;

	setup(&w, 14, NULL);
	st = tern_control_stats(w.sb.ctl);
	for (unsigned i = 0; i < 20; i++) {
		src[i] = (struct tern_addr){
		        .family = 4, .port = (uint16_t)(4000 + i), .ip = {10, 0, 0, 9}};
		tern_hs_keypair_generate(&kp[i]);
		make_init(&w, &kp[i], 0x1000 + i, 1, init[i]);
		CHECK_EQ(tern_simnet_inject(w.net, w.eb, &src[i], init[i], TERN_HS_INIT_LEN), 0);
	}
	tern_simnet_run(w.net, tern_simnet_now(w.net) + 50 * TERN_MS, NULL, NULL);
	CHECK_EQ(st->accepted, 20);
	CHECK_EQ(st->resp_cache_evicted, 12);
	dh = st->dh_initiations;
	deliver(&w, &src[11], init[11]); /* the newest evicted: checked in full, a replay */
	CHECK_EQ(st->duplicates_resent, 0);
	CHECK_EQ(st->fail[TERN_HS_REPLAY], 1);
	CHECK_EQ(st->dh_initiations, dh + 1);
	for (unsigned i = 12; i < 20; i++) /* the oldest kept to the newest */
		deliver(&w, &src[i], init[i]);
	CHECK_EQ(st->duplicates_resent, 8);
	CHECK_EQ(st->dh_initiations, dh + 1);
	deliver(&w, &src[19], init[19]);
	deliver(&w, &src[19], init[19]); /* a third copy: the response went twice already */
	CHECK_EQ(st->duplicates_resent, 9);
	CHECK_EQ(st->drop_duplicate, 1);
	tern_sim_advance(tern_simnet_sim(w.net), tern_simnet_now(w.net) + 4 * TERN_SEC);
	deliver(&w, &src[18], init[18]); /* after resp_cache_ttl: forgotten */
	CHECK_EQ(st->duplicates_resent, 9);
	CHECK_EQ(st->fail[TERN_HS_REPLAY], 2);
	CHECK_EQ(st->accepted, 20);
	CHECK_EQ(w.sb.nall, 20);
	fprintf(stderr, "resp cache: %zu bytes per entry, %zu per chain head\n",
	        sizeof(struct resp_entry), sizeof(uint32_t));
	teardown(&w);
}

/* ---- admission: rate, half-open and per-source caps, load ---- */

enum spray_src {
	ONE_SOURCE, /* 10.9.9.9, one port per initiation */
	V4_EACH,    /* 10.8.x.y: a source per initiation */
	V6_SAME_64, /* 2001:db8:1:2::x: one /64 */
};

static struct tern_addr spray_addr(enum spray_src kind, unsigned i)
{
	struct tern_addr a = {.family = 4, .port = (uint16_t)(5000 + i), .ip = {10, 9, 9, 9}};

	if (kind == V4_EACH) {
		a.ip[1] = 8;
		a.ip[2] = (uint8_t)(i >> 8);
		a.ip[3] = (uint8_t)i;
	} else if (kind == V6_SAME_64) {
		a = (struct tern_addr){.family = 6, .port = 5000};
		memcpy(a.ip, "\x20\x01\x0d\xb8\x00\x01\x00\x02", 8);
		a.ip[14] = (uint8_t)(i >> 8);
		a.ip[15] = (uint8_t)(i + 1);
	}
	return a;
}

/* Valid initiations from one static key (newer timestamps each), n of them
 * one every gap, from src; with mac2 keyed by the server's cookie for that
 * source when with_cookie (as a client that got a cookie reply sends). */
struct spray {
	struct tern_hs_keypair key;
	uint64_t next; /* initiations sent so far: CIDs and timestamps */
};

static void spray_from(struct world *w, struct spray *sp, const struct tern_addr *src,
                       bool with_cookie)
{
	uint8_t pkt[TERN_HS_INIT_LEN], cookie[TERN_HS_COOKIE_LEN];

	make_init(w, &sp->key, 0x5000 + sp->next, 1 + sp->next, pkt);
	sp->next++;
	if (with_cookie) {
		CHECK_EQ(tern_cookie_make(w->sb.ctl->cookie, tern_simnet_now(w->net), src, cookie),
		         0);
		CHECK_EQ(tern_hs_write_mac2(pkt, sizeof(pkt), cookie), 0);
	}
	CHECK_EQ(tern_simnet_inject(w->net, w->eb, src, pkt, sizeof(pkt)), 0);
}

/* Runs the simulator for dt of virtual time. */
static void pass(struct world *w, tern_time dt)
{
	tern_time until = tern_simnet_now(w->net) + dt;

	tern_simnet_run(w->net, until, NULL, NULL);
	tern_sim_advance(tern_simnet_sim(w->net), until);
}

static void spray(struct world *w, struct spray *sp, enum spray_src kind, unsigned n, tern_time gap,
                  bool with_cookie)
{
	for (unsigned i = 0; i < n; i++) {
		struct tern_addr src = spray_addr(kind, (unsigned)sp->next);

		spray_from(w, sp, &src, with_cookie);
		pass(w, gap);
	}
}

static size_t half_open(const struct world *w)
{
	return tern_admit_half_open(tern_control_admit(w->sb.ctl));
}

/* Frees the server's i-th session, as its worker does when it ends. */
static void server_drop(struct world *w, unsigned i)
{
	tern_simnet_detach(w->net, w->sb.all[i]);
	tern_session_free(w->sb.all[i]);
	w->sb.all[i] = w->sb.all[--w->sb.nall];
}

/* Issue 13 item 4: 1,000 valid initiations a second from one source (one
 * static key, never completing) made a session each on a server that was not
 * under load. The per-source rate is always on: 100 at once, then 100/s. */
static void test_source_rate_always_on(void)
{
	struct world w = {0};
	struct spray sp = {0};
	const struct tern_control_stats *st;

	setup(&w, 17, NULL);
	st = tern_control_stats(w.sb.ctl);
	tern_hs_keypair_generate(&sp.key);
	spray(&w, &sp, ONE_SOURCE, 1000, TERN_MS, false);
	fprintf(stderr, "one source at 1000/s for 1 s: %llu sessions, %llu dropped by rate\n",
	        (unsigned long long)st->accepted, (unsigned long long)st->drop_ratelimit);
	CHECK(st->accepted >= 190 && st->accepted <= 201); /* burst 100, then 100/s */
	CHECK_EQ(st->accepted + st->drop_ratelimit, 1000);
	CHECK_EQ(st->load_entered, 0);
	CHECK_EQ(st->cookie_replies_sent, 0);
	CHECK_EQ(half_open(&w), st->accepted); /* none ever confirmed */
	CHECK_EQ(tern_admit_sessions(tern_control_admit(w.sb.ctl)), st->accepted);
	teardown(&w);
}

static void small_half_open(struct tern_simhost_cfg *hc)
{
	hc->control.max_half_open = 8;
}

/* At most max_half_open responder sessions wait for their client's first
 * packet; from half of that on the server is under load (cookies). A slot
 * comes back when such a session is confirmed or freed. */
static void test_half_open_cap(void)
{
	struct world w = {.server_cfg = small_half_open};
	struct spray sp = {0};
	const struct tern_control_stats *st;

	setup(&w, 18, NULL);
	st = tern_control_stats(w.sb.ctl);
	tern_hs_keypair_generate(&sp.key);
	spray(&w, &sp, V4_EACH, 20, TERN_MS, true); /* real sources: cookies pass */
	CHECK_EQ(st->accepted, 8);
	CHECK_EQ(st->drop_half_open, 12);
	CHECK_EQ(half_open(&w), 8);
	CHECK_EQ(st->load_entered, 1);
	CHECK_EQ(w.sb.nall, 8);
	server_drop(&w, 0);
	server_drop(&w, 0);
	CHECK_EQ(half_open(&w), 6);
	/* a legitimate client: one cookie round trip (under load), then its
	 * session is half-open until its first packet confirms it */
	CHECK_EQ(connect_to(&w, w.kb.pub, NULL, 0), 0);
	run(&w, 5 * TERN_SEC);
	CHECK_EQ(w.ca.sessions, 1);
	CHECK(w.ca.msgs == 1 && w.sb.msgs == 1);
	CHECK_EQ(half_open(&w), 6);
	CHECK_EQ(st->accepted, 9);
	spray(&w, &sp, V4_EACH, 3, TERN_MS, true);
	CHECK_EQ(st->accepted, 11);
	CHECK_EQ(half_open(&w), 8);
	CHECK_EQ(st->drop_half_open, 13);
	teardown(&w);
}

static void small_source_cap(struct tern_simhost_cfg *hc)
{
	hc->control.max_source_sessions = 4;
}

/* A source (here an IPv6 /64, whatever the addresses in it) holds at most
 * max_source_sessions sessions, confirmed or not; other sources are not
 * affected, and a freed session makes room. */
static void test_source_session_cap(void)
{
	struct world w = {.server_cfg = small_source_cap};
	struct spray sp = {0};
	const struct tern_control_stats *st;
	struct tern_addr other = spray_addr(V6_SAME_64, 0);

	setup(&w, 19, NULL);
	st = tern_control_stats(w.sb.ctl);
	tern_hs_keypair_generate(&sp.key);
	spray(&w, &sp, V6_SAME_64, 10, TERN_MS, false);
	CHECK_EQ(st->accepted, 4);
	CHECK_EQ(st->drop_source_limit, 6);
	other.ip[7] = 3; /* 2001:db8:1:3::1, the next /64 */
	spray_from(&w, &sp, &other, false);
	pass(&w, TERN_MS);
	CHECK_EQ(st->accepted, 5);
	server_drop(&w, 0); /* one of the first /64's */
	spray(&w, &sp, V6_SAME_64, 2, TERN_MS, false);
	CHECK_EQ(st->accepted, 6);
	CHECK_EQ(st->drop_source_limit, 7);
	/* a legitimate client elsewhere is served throughout */
	CHECK_EQ(connect_to(&w, w.kb.pub, NULL, 0), 0);
	run(&w, 5 * TERN_SEC);
	CHECK(w.ca.msgs == 1 && w.sb.msgs == 1);
	teardown(&w);
}

static void slow_server(struct tern_simhost_cfg *hc)
{
	hc->control.hs_queue_depth = 4096;  /* never by backlog */
	hc->control.max_half_open = 100000; /* nor by half-open sessions */
	hc->cost_dh = 600;                  /* 60% of the CPU at 1,000 handshakes/s */
}

/* Load from cost: 1,000 initiations a second from as many sources, each
 * costing 0.6 ms of the control plane's CPU, never build a backlog (the
 * queue drains between them) nor fill the half-open cap, but keep the
 * thread 60% busy: once half of a second went to them, the server is under
 * load and the rest get cookie replies instead of Diffie-Hellman. */
static void test_load_by_busy_time(void)
{
	struct world w = {.server_cfg = slow_server};
	struct spray sp = {0};
	const struct tern_control_stats *st;

	setup(&w, 20, NULL);
	st = tern_control_stats(w.sb.ctl);
	tern_hs_keypair_generate(&sp.key);
	spray(&w, &sp, V4_EACH, 1500, TERN_MS, false);
	fprintf(stderr,
	        "1000/s at 0.6 ms each for 1.5 s: %llu DH, %llu cookie replies, load %llu\n",
	        (unsigned long long)st->dh_initiations, (unsigned long long)st->cookie_replies_sent,
	        (unsigned long long)st->load_entered);
	CHECK(st->dh_initiations >= 800 && st->dh_initiations <= 850);
	CHECK_EQ(st->dh_initiations + st->cookie_replies_sent, 1500);
	CHECK_EQ(st->load_entered, 1);
	CHECK_EQ(tern_simnet_host_queue_drops(w.net, w.eb), 0);
	teardown(&w);
}

/* ---- a retry storm: many clients at once on a slow server ---- */

#define STORM_CLIENTS 500

struct storm {
	struct tern_simnet *net;
	struct tern_session **all;
	size_t nall;
	unsigned connected, failed, server_sessions;
	tern_time last;
};

static void storm_session(void *ctx, struct tern_session *s,
                          const struct tern_hs_session_info *info)
{
	struct storm *sm = ctx;

	sm->all[sm->nall++] = s;
	if (!info->user) {
		sm->server_sessions++;
		return;
	}
	sm->connected++;
	sm->last = tern_simnet_now(sm->net);
}

static void storm_failed(void *ctx, void *user, int why)
{
	struct storm *sm = ctx;

	(void)user, (void)why;
	sm->failed++;
}

static bool storm_done(void *ctx)
{
	struct storm *sm = ctx;

	return sm->connected + sm->failed == STORM_CLIENTS;
}

/* STORM_CLIENTS clients connect at the same instant to a server whose
 * handshake costs cost_dh of virtual CPU (the simulator charges a retry's
 * proof as a whole handshake: pessimistic for the cache). */
static void storm_run(bool cache, tern_time cost_dh, const struct tern_control_stats **out,
                      struct storm *sm)
{
	struct tern_sim_path_cfg path = {.delay_us = 5000};
	struct tern_addr srv = {.family = 4, .port = 2000, .ip = {10, 0, 0, 1}};
	struct tern_hs_keypair *keys = calloc(STORM_CLIENTS + 1, sizeof(*keys));
	struct tern_simhost_cfg hc = {
	        .on_session = storm_session, .on_failed = storm_failed, .ctx = sm};
	struct tern_control *ctl;
	struct tern_sim *sim;
	int es;

	*sm = (struct storm){.net = tern_simnet_new(21)};
	sm->all = calloc(4 * STORM_CLIENTS, sizeof(*sm->all));
	sim = tern_simnet_sim(sm->net);
	es = tern_sim_add_endpoint(sim, &srv);
	tern_control_cfg_default(&hc.control);
	tern_hs_keypair_generate(&keys[STORM_CLIENTS]);
	hc.control.identity = &keys[STORM_CLIENTS];
	hc.control.resp_cache_entries = cache ? 4096 : 0;
	hc.cost_dh = cost_dh;
	CHECK_EQ(tern_simnet_host(sm->net, es, &hc, &ctl, NULL), 0);
	*out = tern_control_stats(ctl);
	hc.control.replay_entries = 4; /* the clients: small tables */
	hc.control.resp_cache_entries = 0;
	hc.control.max_pending = 1;
	hc.control.ratelimit.entries = 4;
	hc.cost_dh = 0;
	hc.queue = 16;
	for (unsigned i = 0; i < STORM_CLIENTS; i++) {
		struct tern_addr a = {
		        .family = 4, .port = 5000, .ip = {10, 1, (uint8_t)(i >> 8), (uint8_t)i}};
		struct tern_connect_req req = {.peer = srv,
		                               .server_pub = keys[STORM_CLIENTS].pub,
		                               .vport = VPORT,
		                               .stream_type = TYPE,
		                               .user = sm};
		int ec = tern_sim_add_endpoint(sim, &a);

		tern_sim_set_path(sim, ec, es, &path);
		tern_sim_set_path(sim, es, ec, &path);
		tern_hs_keypair_generate(&keys[i]);
		hc.control.identity = &keys[i];
		CHECK_EQ(tern_simnet_host(sm->net, ec, &hc, &ctl, NULL), 0);
		CHECK_EQ(tern_control_connect(ctl, &req, 0), 0);
	}
	tern_simnet_run(sm->net, 20 * TERN_SEC, storm_done, sm);
	tern_simnet_run(sm->net, tern_simnet_now(sm->net) + 5 * TERN_SEC, NULL, NULL); /* drain */
	free(keys);
}

static void storm_free(struct storm *sm)
{
	tern_simnet_free(sm->net);
	for (size_t i = 0; i < sm->nall; i++)
		tern_session_free(sm->all[i]);
	free(sm->all);
}

static void storm_report(const char *what, const struct tern_control_stats *st,
                         const struct storm *sm)
{
	fprintf(stderr,
	        "storm %s: %u/%u connected by %.2f s; server: %llu initiations, %llu proven "
	        "(2 X25519 each), %llu responses built (2 X25519 each), %u sessions, %llu "
	        "resent (%llu duplicates), %llu cookie replies\n",
	        what, sm->connected, STORM_CLIENTS, (double)sm->last / 1e6,
	        (unsigned long long)st->initiations, (unsigned long long)st->dh_initiations,
	        (unsigned long long)st->accepted, sm->server_sessions,
	        (unsigned long long)st->responses_resent, (unsigned long long)st->duplicates_resent,
	        (unsigned long long)st->cookie_replies_sent);
}

/* 500 clients at once on a server that needs 4 ms per handshake (a slow
 * build): answering takes two seconds, so half the clients retry before
 * their answer comes. With the cache every retry (the try's second copy)
 * is answered with no DH, and every client ends on the server's one session
 * for it; without, each copy is proven and refused as a replay. */
static void test_retry_storm(void)
{
	const struct tern_control_stats *st;
	struct storm sm;

	storm_run(true, 4000, &st, &sm);
	storm_report("with cache", st, &sm);
	CHECK_EQ(sm.connected, STORM_CLIENTS);
	CHECK_EQ(sm.failed, 0);
	CHECK_EQ(sm.server_sessions, STORM_CLIENTS);
	CHECK_EQ(st->accepted, STORM_CLIENTS);
	CHECK_EQ(st->dh_initiations, STORM_CLIENTS); /* 4 X25519 per client, no more */
	CHECK(st->duplicates_resent > 0);
	CHECK_EQ(st->responses_resent, st->duplicates_resent);
	storm_free(&sm);
	storm_run(false, 4000, &st, &sm);
	storm_report("without cache", st, &sm);
	CHECK_EQ(sm.connected, STORM_CLIENTS);
	storm_free(&sm);
}

/* ---- the memory budget (issue 13 item 3) ---- */

static bool two_sessions(void *ctx)
{
	struct world *w = ctx;

	return w->ca.sessions == 2 && w->sb.sessions == 2 &&
	       w->sb.all[1]->state == TERN_SESSION_ESTABLISHED;
}

static bool greedy_closed(void *ctx)
{
	struct world *w = ctx;

	return w->ca.closed > 0;
}

static bool second_hello(void *ctx)
{
	struct world *w = ctx;

	return w->sb.msgs == 2;
}

/* Two sessions share the server's 2 MiB budget. The second client touches
 * all 16 streams (a receive ring each on the server, 5 MiB in all): once
 * the budget is spent it is closed with MEMORY while the first carries on.
 * Then, with the budget held full from elsewhere, the remaining session is
 * the greediest and goes too, and a new client is refused with the named
 * reason and no session. */
static void test_memory_budget(void)
{
	struct tern_budget budget;
	struct tern_memacct other = {.budget = &budget};
	struct world w = {.budget = &budget};
	struct tern_session *modest, *greedy;

	tern_budget_init(&budget, 2 << 20);
	setup(&w, 11, NULL);
	CHECK_EQ(connect_to(&w, w.kb.pub, NULL, 0), 0);
	run(&w, 5 * TERN_SEC);
	CHECK(w.ca.msgs == 1 && w.sb.msgs == 1);
	modest = w.ca.s;
	CHECK_EQ(connect_to(&w, w.kb.pub, NULL, 0), 0);
	CHECK_EQ(tern_simnet_run(w.net, tern_simnet_now(w.net) + 5 * TERN_SEC, two_sessions, &w),
	         0);
	greedy = w.ca.s;
	CHECK(greedy != modest);
	for (uint16_t id = 0; id < 16; id++)
		CHECK_EQ(tern_session_send(greedy, id, "x", 1), 0);
	CHECK_EQ(tern_simnet_run(w.net, tern_simnet_now(w.net) + 5 * TERN_SEC, greedy_closed, &w),
	         0);
	CHECK_EQ(w.ca.closed, 1);
	CHECK_EQ(w.ca.close_code, TERN_CLOSE_MEMORY);
	CHECK_EQ(greedy->close.code, TERN_CLOSE_MEMORY);
	CHECK(greedy->close.remote);
	CHECK_EQ(w.sb.all[1]->close.code, TERN_CLOSE_MEMORY);
	CHECK_EQ(w.sb.all[1]->close.err, TERN_ENOMEM);
	CHECK_EQ(w.sb.all[0]->state, TERN_SESSION_ESTABLISHED);
	CHECK_EQ(modest->state, TERN_SESSION_ESTABLISHED);
	CHECK(tern_budget_used(&budget) < budget.limit);
	CHECK_EQ(tern_budget_used(&budget), tern_session_buffers(w.sb.all[0]));
	/* the first session still works */
	CHECK_EQ(tern_session_send(modest, 1, "hello", 5), 0);
	CHECK_EQ(tern_simnet_run(w.net, tern_simnet_now(w.net) + TERN_SEC, second_hello, &w), 0);
	CHECK_EQ(w.sb.msgs, 2);
	/* memory held elsewhere fills the budget */
	tern_memacct_add(&other, (int64_t)budget.limit);
	w.ca.msgs = w.sb.msgs = 0;
	w.ca.sessions = 0;
	expect_failure(&w, w.kb.pub, TERN_HS_MEMORY);
	CHECK_EQ(tern_control_stats(w.sb.ctl)->refused_memory, 1);
	CHECK_EQ(w.sb.nall, 2);
	CHECK_EQ(w.sb.all[0]->close.code, TERN_CLOSE_MEMORY);
	CHECK_EQ(modest->close.code, TERN_CLOSE_MEMORY);
	tern_memacct_add(&other, -(int64_t)budget.limit);
	CHECK_EQ(tern_budget_used(&budget), 0);
	teardown(&w);
}

int main(void)
{
	test_handshake_ok();
	test_wrong_server_key_times_out();
	test_unknown_client_key();
	test_no_listener_refused();
	test_version_mismatch();
	test_tickets();
	test_no_server_times_out();
	test_impostor_bad_server_key();
	test_forged_cookie_reply_keeps_cookie();
	test_lost_response_resent();
	test_duplicate_initiation_one_session();
	test_failed_install_not_cached();
	test_spoofed_copy_gets_nothing();
	test_resp_cache_bounded();
	test_source_rate_always_on();
	test_half_open_cap();
	test_source_session_cap();
	test_load_by_busy_time();
	test_retry_storm();
	test_flood_bad_mac();
	test_flood_valid_mac1_needs_cookies();
	test_memory_budget();
	return tern_check_result("control");
}
