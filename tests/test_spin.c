/* A long randomized stress run in the simulator, after msquic's spinquic:
 * rounds of virtual time in which sessions make random API calls over
 * impaired paths while core/'s allocations fail at random, each round
 * deterministic from its seed.
 *
 * A round: a server endpoint with a control plane (listening on one vport,
 * its sessions on a memory budget that may be small), client endpoints with
 * control planes of their own, spare endpoints a client session moves to
 * (a NAT rebinding), and a rogue endpoint pair. Every path between the
 * server and the others has the round's impairments: 1% loss (or more),
 * reordering, duplication, corruption, host stalls, jitter, a rate limit.
 * Sessions come from handshakes (some refused: a vport nobody listens on,
 * a wrong server key, a full budget) and from pre-shared keys; each tick
 * every live session may send messages of random sizes on random streams,
 * finish streams, send datagrams and sequenced datagrams, hold its receive
 * credit (a peer that never reads), open every stream at once, move to
 * another address, close gracefully or abruptly; keys update every few
 * hundred packets. The rogue is a peer with keys but no session: it sends
 * messages cut into 1-8 byte fragments in random order on many streams,
 * within the windows it was granted, never acknowledges, hops between two
 * addresses, and leaves with a CLOSE.
 *
 * Checked: every message received was sent, in order per stream, intact
 * (each carries its sender, stream, sequence number and a pattern), and
 * none follows its stream's end; every stream end arrives after all the
 * messages sent before it; sequenced datagrams never go backwards; honest
 * peers never close each other with a protocol error; every session
 * reports its close exactly once and every connect resolves exactly once;
 * every API call returns 0 or an error it documents (TERN_ENOMEM among them:
 * an injected failure is an error code, a dropped packet or a session
 * closed with INTERNAL or MEMORY, never a crash); each session's buffer
 * accounting matches its buffers and each budget the sum of its sessions,
 * and both return to zero with the admission counts when the round's
 * sessions are gone; the heap holds after every round what it held after
 * the first (exactly, under ASan) and RSS stays bounded. No crash and no
 * leak is the sanitizer build's part (CI runs this test under ASan with
 * leak detection).
 *
 * Runs rounds with seeds 1, 2, ... for TERN_SPIN_SECONDS of wall time (25;
 * TERN_SPIN_BASE sets the first seed); TERN_SPIN_SEED=N runs round N alone,
 * which is how a failure replays (it prints the command). */
#include <stdlib.h>
#include <string.h>
#if defined(__SANITIZE_ADDRESS__)
#define SPIN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SPIN_ASAN 1
#endif
#endif
#ifdef SPIN_ASAN
size_t __sanitizer_get_current_allocated_bytes(void); /* the ASan runtime's */
#else
#include <malloc.h>
#endif

#include "tests/check.h"
#include "core/alloc.h"
#include "core/budget.h"
#include "core/control.h"
#include "core/wire.h"
#include "io/simnet.h"

#define SPIN_DEFAULT_SECONDS 25
#define NCLIENT 3    /* client endpoints with a control plane */
#define NSPARE 3     /* endpoints a client session rebinds to */
#define MAX_ENDS 160 /* applications (session ends) per round */
#define MAX_ORPHANS 32
#define MAX_LIVE 14 /* sessions alive at once, both ends counted */
#define NST 64      /* streams the harness tracks (max_streams ≤ this) */
#define LANES 4     /* sequenced-datagram lanes used */
#define MSG_HDR 12  /* sender u16, stream u16, seq u32, len u32 */
#define DG_HDR 10   /* sender u16, lane u16 (0xffff: none), seq u32, len u16 */
#define TICK_US (2 * TERN_MS)
#define TEARDOWN_US (60 * TERN_SEC) /* every session ends within this */
#define VPORT 7
#define TYPE 1
#define ROGUE_FRAG_MAX 8
#define CLOSE_APP_SLOT 15 /* closes counted by code below this; the application's here */
#define ROGUE_MSG_MAX 3000
/* After each round the heap holds what the first left, give or take this
 * (glibc counts chunks in its thread caches as in use; under ASan the count
 * is exact): a session leaked per round passes it within seconds. RSS, which
 * keeps the high water of rounds with big windows and messages in freed
 * pages, may grow this much; ASan's quarantine holds up to 256 MiB more. */
#define HEAP_SLACK_GLIBC (1u << 20)
#define HEAP_SLACK_ASAN (4u << 10)
#define RSS_GROWTH_MAX (384u << 20)
#define RSS_GROWTH_ASAN (256u << 20)

static const uint8_t psk[32] = "tern spin test pre-shared secre";

enum kind { K_CLIENT, K_SERVER, K_PSK_CLIENT, K_PSK_SERVER, K_VICTIM, K_ROGUE };

struct world;

/* One application: a session end (or the rogue, which has no session). */
struct end {
	struct world *w;
	unsigned id; /* carried in every message and datagram it sends */
	enum kind kind;
	struct tern_session *s; /* NULL before its handshake and once freed */
	int ep;                 /* endpoint it is attached to */
	int peer;               /* the end whose messages it receives; -1: not yet known */
	bool connecting, failed, closing, holding, had_session;
	unsigned closed;               /* closed callbacks seen */
	uint32_t sent[NST], next[NST]; /* messages sent / the next expected */
	bool fin_sent[NST], fin_recv[NST];
	uint32_t dg_seq[LANES + 1]; /* sent, per lane (LANES: plain) */
	int64_t dg_last[LANES];     /* the last received, per lane */
	tern_time close_at;         /* abrupt close deadline once closing */
	/* personality: per-mille chances each tick */
	unsigned p_send, p_big, p_dgram;
};

struct rogue {
	bool active;
	int end, victim; /* end ids */
	struct tern_keys k;
	uint8_t cid[TERN_CID_LEN], victim_cid[TERN_CID_LEN];
	uint64_t pn;
	int ep; /* 0 or 1: which of the rogue endpoints it sends from */
	uint64_t off[NST], total;
	unsigned ticks;
};

struct world {
	uint64_t seed, rng;
	struct tern_simnet *net;
	struct tern_sim *sim;
	int ep_server, ep_client[NCLIENT], ep_spare[NSPARE], ep_rogue[2];
	struct tern_addr a_server, a_client[NCLIENT], a_spare[NSPARE], a_rogue[2];
	struct tern_hs_keypair ks, kc[NCLIENT];
	struct tern_control *ctl_server, *ctl_client[NCLIENT];
	struct tern_budget sbudget, cbudget;
	struct tern_session_cfg cfg;
	struct end ends[MAX_ENDS];
	unsigned nends;
	struct tern_session *orphans[MAX_ORPHANS]; /* accepted with no end free */
	unsigned norphans;
	struct rogue rogue;
	uint32_t next_cid;
	bool teardown;
	tern_time tick_at; /* run_to stops the loop here */
	/* allocation failures */
	double fail_p;
	uint64_t fail_rng, allocs, fails;
	/* what happened, for the summary */
	uint64_t msgs, bytes, dgrams, connects, refused, rebinds, psk_pairs, rogues;
	uint64_t closes[16];
};

/* totals over the run, for the summary line */
static struct {
	uint64_t rounds, sessions, msgs, bytes, dgrams, fails, allocs, connects, refused, rebinds,
	        rogues;
	uint64_t closes[16];
} total;

/* ---- randomness (splitmix64: one word of state replays a round) ---- */

static uint64_t mix(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd(struct world *w, uint64_t n)
{
	return n ? mix(&w->rng) % n : 0;
}

static double frand(uint64_t *state)
{
	return (double)(mix(state) >> 11) / (double)(1ull << 53);
}

/* ---- allocation failures (core/alloc.h) ---- */

static bool fail_alloc(void *ctx, size_t size)
{
	struct world *w = ctx;

	(void)size;
	w->allocs++;
	if (w->fail_p == 0 || frand(&w->fail_rng) >= w->fail_p)
		return false;
	w->fails++;
	return true;
}

/* ---- checkable messages ---- */

static uint8_t pattern(unsigned sender, unsigned stream, uint32_t seq, size_t i)
{
	return (uint8_t)(seq * 31u + i * 7u + stream * 13u + sender);
}

static void make_msg(uint8_t *m, unsigned sender, unsigned stream, uint32_t seq, size_t len)
{
	tern_put_be16(m, (uint16_t)sender);
	tern_put_be16(m + 2, (uint16_t)stream);
	tern_put_be32(m + 4, seq);
	tern_put_be32(m + 8, (uint32_t)len);
	for (size_t i = MSG_HDR; i < len; i++)
		m[i] = pattern(sender, stream, seq, i);
}

static bool body_ok(const uint8_t *m, size_t from, size_t len, unsigned sender, unsigned stream,
                    uint32_t seq)
{
	for (size_t i = from; i < len; i++)
		if (m[i] != pattern(sender, stream, seq, i))
			return false;
	return true;
}

/* The sender of what e received: must be the one end it hears from. */
static bool sender_ok(struct end *e, unsigned sender)
{
	if (sender >= e->w->nends || sender == e->id)
		return false;
	if (e->peer < 0)
		e->peer = (int)sender;
	return e->peer == (int)sender;
}

/* ---- callbacks ---- */

static void on_message(void *ctx, struct tern_session *s, uint16_t stream, const uint8_t *m,
                       size_t len)
{
	struct end *e = ctx;
	unsigned sender = len >= MSG_HDR ? tern_get_be16(m) : UINT16_MAX;
	uint32_t seq = len >= MSG_HDR ? tern_get_be32(m + 4) : 0;

	(void)s;
	CHECK(len >= MSG_HDR && stream < NST && sender_ok(e, sender));
	if (len < MSG_HDR || stream >= NST || e->peer != (int)sender)
		return;
	CHECK_EQ(tern_get_be16(m + 2), stream);
	CHECK_EQ(tern_get_be32(m + 8), len);
	CHECK_EQ(seq, e->next[stream]);               /* in order, no gap, no duplicate */
	CHECK(seq < e->w->ends[sender].sent[stream]); /* it was sent */
	CHECK(!e->fin_recv[stream]);                  /* nothing after the end */
	CHECK(body_ok(m, MSG_HDR, len, sender, stream, seq));
	e->next[stream] = seq + 1;
	e->w->msgs++;
	e->w->bytes += len;
}

static void on_fin(void *ctx, struct tern_session *s, uint16_t stream)
{
	struct end *e = ctx;

	(void)s;
	CHECK(stream < NST && !e->fin_recv[stream]);
	if (stream >= NST)
		return;
	e->fin_recv[stream] = true;
	if (e->peer >= 0) { /* every message sent before the end arrived */
		CHECK(e->w->ends[e->peer].fin_sent[stream]);
		CHECK_EQ(e->next[stream], e->w->ends[e->peer].sent[stream]);
	}
}

static void on_datagram(void *ctx, struct tern_session *s, int lane, const uint8_t *d, size_t len)
{
	struct end *e = ctx;
	unsigned sender = len >= DG_HDR ? tern_get_be16(d) : UINT16_MAX;
	unsigned l = lane < 0 ? LANES : (unsigned)lane;
	uint32_t seq = len >= DG_HDR ? tern_get_be32(d + 4) : 0;

	(void)s;
	CHECK(len >= DG_HDR && l <= LANES && sender_ok(e, sender));
	if (len < DG_HDR || l > LANES || e->peer != (int)sender)
		return;
	CHECK_EQ(tern_get_be16(d + 2), lane < 0 ? 0xffff : lane);
	CHECK_EQ(tern_get_be16(d + 8), len);
	CHECK(seq < e->w->ends[sender].dg_seq[l]);
	CHECK(body_ok(d, DG_HDR, len, sender, l, seq));
	if (lane >= 0) { /* sequenced: stale ones are dropped, never delivered */
		CHECK((int64_t)seq > e->dg_last[l]);
		e->dg_last[l] = seq;
	}
	e->w->dgrams++;
}

/* A close between honest peers has one of these codes: their own, a
 * timeout, or the effect of an injected allocation failure or a spent
 * budget. Never a protocol error. */
static bool close_code_ok(const struct end *e, const struct tern_close_info *ci)
{
	if (ci->app)
		return true;
	switch (ci->code) {
	case TERN_CLOSE_NO_ERROR:
	case TERN_CLOSE_IDLE_TIMEOUT:
		return true;
	case TERN_CLOSE_INTERNAL:
		return e->w->fails > 0;
	case TERN_CLOSE_MEMORY:
		return e->w->sbudget.limit > 0;
	default:
		return false;
	}
}

static void on_closed(void *ctx, struct tern_session *s, const struct tern_close_info *ci)
{
	struct end *e = ctx;

	(void)s;
	e->closed++;
	e->w->closes[ci->app ? CLOSE_APP_SLOT : TERN_MIN(ci->code, (uint64_t)CLOSE_APP_SLOT - 1)]++;
	if (!close_code_ok(e, ci))
		fprintf(stderr, "spin: end %u (kind %d) closed with %s (%s, err %d)\n", e->id,
		        e->kind, tern_close_code_name(ci->code), ci->remote ? "remote" : "local",
		        ci->err);
	CHECK(close_code_ok(e, ci));
}

static const struct tern_session_cbs end_cbs = {
        .message = on_message,
        .stream_fin = on_fin,
        .datagram = on_datagram,
        .closed = on_closed,
};

/* ---- ends ---- */

static struct end *new_end(struct world *w, enum kind kind)
{
	struct end *e;

	if (w->nends == MAX_ENDS)
		return NULL;
	e = &w->ends[w->nends];
	*e = (struct end){.w = w, .id = w->nends++, .kind = kind, .peer = -1};
	for (unsigned i = 0; i < LANES; i++)
		e->dg_last[i] = -1;
	/* personalities: chatty, bulk, datagram-heavy, quiet */
	switch (rnd(w, 4)) {
	case 0:
		e->p_send = 600, e->p_big = 5, e->p_dgram = 100;
		break;
	case 1:
		e->p_send = 300, e->p_big = 80, e->p_dgram = 20;
		break;
	case 2:
		e->p_send = 100, e->p_big = 5, e->p_dgram = 600;
		break;
	default:
		e->p_send = 30, e->p_big = 0, e->p_dgram = 30;
		break;
	}
	return e;
}

static void bind_session(struct end *e, struct tern_session *s, int ep)
{
	e->s = s;
	e->ep = ep;
	e->connecting = false;
	e->had_session = true;
	s->cbs = end_cbs;
	s->cbs.ctx = e;
	total.sessions++;
}

/* Server side: the control plane completed a handshake. */
static void on_server_session(void *ctx, struct tern_session *s,
                              const struct tern_hs_session_info *info)
{
	struct world *w = ctx;
	struct end *e = new_end(w, K_SERVER);

	(void)info;
	if (!e) { /* the harness is full: refuse it as an application would */
		CHECK(w->norphans < MAX_ORPHANS);
		if (w->norphans < MAX_ORPHANS)
			w->orphans[w->norphans++] = s;
		s->cbs = (struct tern_session_cbs){0};
		tern_session_close(s, false, 1, "full", tern_simnet_now(w->net));
		return;
	}
	bind_session(e, s, w->ep_server);
}

static void on_client_session(void *ctx, struct tern_session *s,
                              const struct tern_hs_session_info *info)
{
	struct end *e = info->user;
	int c = (int)(intptr_t)ctx;

	CHECK(e && e->connecting && !e->s);
	bind_session(e, s, e->w->ep_client[c]);
}

static void on_connect_failed(void *ctx, void *user, int why)
{
	struct end *e = user;

	(void)ctx, (void)why;
	CHECK(e->connecting && !e->failed);
	e->connecting = false;
	e->failed = true;
	e->w->refused++;
}

static bool listening(void *ctx, uint16_t vport, uint8_t type)
{
	(void)ctx;
	return vport == VPORT && type == TYPE;
}

/* ---- the round's world ---- */

static struct tern_addr addr4(uint8_t host, uint16_t port)
{
	return (struct tern_addr){.family = 4, .port = port, .ip = {10, 0, 0, host}};
}

/* The round's impairments, on every path to and from the server. */
static void set_paths(struct world *w)
{
	struct tern_sim_path_cfg p = {0};
	int others[NCLIENT + NSPARE + 2], n = 0;

	p.delay_us = 500 + rnd(w, 20000);
	p.jitter_us = rnd(w, 3) ? 0 : rnd(w, 2000);
	p.loss = rnd(w, 4) ? 0.01 : 0.03;
	p.reorder = rnd(w, 2) ? 0.02 : 0;
	p.reorder_us = 1000 + rnd(w, 5000);
	p.duplicate = rnd(w, 2) ? 0.01 : 0;
	p.corrupt = rnd(w, 2) ? 0.005 : 0;
	p.stall = rnd(w, 3) ? 0 : 0.002;
	p.stall_us = 2000 + rnd(w, 20000);
	p.rate_bps = rnd(w, 2) ? 0 : (20 + rnd(w, 180)) * 1000000ull;
	for (int i = 0; i < NCLIENT; i++)
		others[n++] = w->ep_client[i];
	for (int i = 0; i < NSPARE; i++)
		others[n++] = w->ep_spare[i];
	others[n++] = w->ep_rogue[0];
	others[n++] = w->ep_rogue[1];
	for (int i = 0; i < n; i++) {
		CHECK_EQ(tern_sim_set_path(w->sim, w->ep_server, others[i], &p), 0);
		CHECK_EQ(tern_sim_set_path(w->sim, others[i], w->ep_server, &p), 0);
	}
}

/* The round's session configuration: small windows and buffers in some
 * rounds, keys that update every few hundred packets, short timeouts. */
static void set_cfg(struct world *w)
{
	static const struct tern_cc_ops *const ccs[] = {&tern_cc_bbr, &tern_cc_cubic,
	                                                &tern_cc_newreno};
	static const uint64_t key_updates[] = {64, 300, 0};
	struct tern_session_cfg *c = &w->cfg;

	tern_session_cfg_default(c);
	c->cc = ccs[rnd(w, 3)];
	if (tern_crypto_aes_available() && rnd(w, 2))
		c->cipher = TERN_CIPHER_AES256_GCM;
	c->max_streams = rnd(w, 2) ? 16 : NST;
	if (rnd(w, 3) == 0) {
		c->stream_window = c->send_buffer = 16 << 10;
		c->conn_window = 64 << 10;
		c->stream_window_max = c->send_buffer_max = 64 << 10;
		c->conn_window_max = 256 << 10;
	}
	c->dgram_queue = 4 + rnd(w, 64);
	c->max_in_flight_pkts = rnd(w, 2) ? 65536 : 256;
	c->idle_timeout = 3 * TERN_SEC + rnd(w, 3 * TERN_SEC);
	c->keepalive = TERN_SEC;
	c->handshake_timeout = 2 * TERN_SEC;
	c->key_update_packets = key_updates[rnd(w, 3)];
	if (rnd(w, 2))
		c->key_update_interval = 500 * TERN_MS;
}

static void make_host(struct world *w, int ep, const struct tern_hs_keypair *kp, int client,
                      struct tern_control **ctl)
{
	struct tern_simhost_cfg hc = {.session_cbs = end_cbs, .on_failed = on_connect_failed};
	const char *err = NULL;

	tern_control_cfg_default(&hc.control);
	hc.control.identity = kp;
	hc.control.replay_entries = 1024;
	hc.control.resp_cache_entries = 256;
	hc.control.max_pending = 64;
	hc.control.hs_rto = 200 * TERN_MS;
	hc.control.hs_timeout = 2 * TERN_SEC;
	hc.control.aes = w->cfg.cipher == TERN_CIPHER_AES256_GCM;
	hc.control.session = w->cfg;
	hc.control.session.budget = client < 0 ? &w->sbudget : &w->cbudget;
	if (client < 0) {
		hc.on_session = on_server_session;
		hc.listening = listening;
		hc.ctx = w;
	} else {
		hc.on_session = on_client_session;
		hc.ctx = (void *)(intptr_t)client;
	}
	CHECK_EQ(tern_simnet_host(w->net, ep, &hc, ctl, &err), 0);
}

static void setup(struct world *w, uint64_t seed)
{
	static const uint64_t limits[] = {0, 0, 1 << 20, 8 << 20};
	uint8_t host = 1;

	w->seed = seed;
	w->rng = seed * 0x9e3779b97f4a7c15ull;
	w->fail_rng = seed ^ 0x5851f42d4c957f2dull;
	w->net = tern_simnet_new(seed);
	CHECK(w->net != NULL);
	w->sim = tern_simnet_sim(w->net);
	w->a_server = addr4(host++, 443);
	w->ep_server = tern_sim_add_endpoint(w->sim, &w->a_server);
	for (int i = 0; i < NCLIENT; i++) {
		w->a_client[i] = addr4(host++, (uint16_t)(40000 + i));
		w->ep_client[i] = tern_sim_add_endpoint(w->sim, &w->a_client[i]);
	}
	for (int i = 0; i < NSPARE; i++) {
		w->a_spare[i] = addr4(host++, (uint16_t)(50000 + i));
		w->ep_spare[i] = tern_sim_add_endpoint(w->sim, &w->a_spare[i]);
	}
	for (int i = 0; i < 2; i++) {
		w->a_rogue[i] = addr4(host++, (uint16_t)(60000 + i));
		w->ep_rogue[i] = tern_sim_add_endpoint(w->sim, &w->a_rogue[i]);
	}
	set_paths(w);
	set_cfg(w);
	tern_budget_init(&w->sbudget, limits[rnd(w, 4)]);
	tern_budget_init(&w->cbudget, 0);
	tern_hs_keypair_generate(&w->ks);
	make_host(w, w->ep_server, &w->ks, -1, &w->ctl_server);
	for (int i = 0; i < NCLIENT; i++) {
		tern_hs_keypair_generate(&w->kc[i]);
		make_host(w, w->ep_client[i], &w->kc[i], i, &w->ctl_client[i]);
	}
	w->fail_p = (const double[]){0, 0, 0.001, 0.01, 0.05}[rnd(w, 5)];
}

static void new_cid(struct world *w, uint8_t cid[TERN_CID_LEN])
{
	cid[0] = 0xee; /* control planes' CIDs start with their worker id, 0 */
	cid[1] = 0x5e;
	tern_put_be32(cid + 2, ++w->next_cid);
	cid[6] = (uint8_t)w->seed;
	cid[7] = 0x17;
}

/* ---- sessions coming and going ---- */

static void start_connect(struct world *w, tern_time now)
{
	struct end *e = new_end(w, K_CLIENT);
	unsigned c = (unsigned)rnd(w, NCLIENT), r = (unsigned)rnd(w, 20);
	struct tern_connect_req req = {.peer = w->a_server,
	                               .server_pub = w->ks.pub,
	                               .vport = VPORT,
	                               .stream_type = TYPE,
	                               .user = e};
	int rc;

	if (!e)
		return;
	if (r == 0)
		req.vport = VPORT + 1; /* nobody listens there: refused */
	else if (r == 1)
		req.server_pub = w->kc[c].pub; /* the wrong key: never answered */
	e->connecting = true;
	w->connects++;
	rc = tern_control_connect(w->ctl_client[c], &req, now);
	if (rc < 0) {
		CHECK(rc == TERN_ENOMEM || rc == TERN_ELIMIT);
		e->connecting = false;
		e->failed = true;
	}
}

static void start_psk_pair(struct world *w, tern_time now)
{
	struct end *a = new_end(w, K_PSK_CLIENT), *b = a ? new_end(w, K_PSK_SERVER) : NULL;
	struct tern_session_cfg ca = w->cfg, cb = w->cfg;
	struct tern_session *sa = NULL, *sb = NULL;
	uint8_t cida[TERN_CID_LEN], cidb[TERN_CID_LEN];
	unsigned c = (unsigned)rnd(w, NCLIENT);
	int rc;

	if (!b) {
		if (a)
			a->failed = true;
		return;
	}
	new_cid(w, cida);
	new_cid(w, cidb);
	ca.budget = &w->cbudget;
	cb.budget = &w->sbudget;
	rc = tern_session_new_psk(&sa, &ca, &end_cbs, true, cida, cidb, psk, sizeof(psk), now,
	                          NULL);
	if (rc == 0)
		rc = tern_session_new_psk(&sb, &cb, &end_cbs, false, cidb, cida, psk, sizeof(psk),
		                          now, NULL);
	if (rc < 0) {
		CHECK_EQ(rc, TERN_ENOMEM);
		tern_session_free(sa);
		a->failed = b->failed = true;
		return;
	}
	CHECK_EQ(tern_simnet_attach(w->net, w->ep_client[c], sa, &w->a_server), 0);
	CHECK_EQ(tern_simnet_attach(w->net, w->ep_server, sb, &w->a_client[c]), 0);
	bind_session(a, sa, w->ep_client[c]);
	bind_session(b, sb, w->ep_server);
	a->peer = (int)b->id;
	b->peer = (int)a->id;
	w->psk_pairs++;
}

/* A session that ended: its close was reported once; it leaves. */
static void reap(struct world *w, struct end *e)
{
	CHECK_EQ(e->closed, 1);
	tern_simnet_detach(w->net, e->s);
	tern_session_free(e->s);
	e->s = NULL;
}

/* ---- the application's random calls ---- */

static size_t msg_len(struct world *w, const struct end *e)
{
	if (rnd(w, 1000) < e->p_big)
		return rnd(w, 50) ? 16384 + rnd(w, 300000) : (1u << 20);
	return MSG_HDR + rnd(w, rnd(w, 2) ? 100 : 3000);
}

static uint8_t msgbuf[(1u << 20) + MSG_HDR];

static int send_one(struct end *e, unsigned st, size_t len)
{
	int rc;

	if (e->fin_sent[st])
		return 0;
	make_msg(msgbuf, e->id, st, e->sent[st], len);
	rc = tern_session_send(e->s, (uint16_t)st, msgbuf, len);
	if (rc == 0)
		e->sent[st]++;
	else
		CHECK(rc == TERN_EAGAIN || rc == TERN_ENOMEM);
	return rc;
}

static unsigned streams_of(const struct end *e)
{
	return TERN_MIN((unsigned)e->s->peer.max_streams, (unsigned)NST);
}

static void send_msgs(struct world *w, struct end *e)
{
	unsigned n = 1 + (unsigned)rnd(w, 4);

	for (unsigned i = 0; i < n; i++)
		if (send_one(e, (unsigned)rnd(w, streams_of(e)), msg_len(w, e)) == TERN_EAGAIN)
			break;
}

/* A peer that opens every stream it may at once. */
static void send_everywhere(struct world *w, struct end *e)
{
	for (unsigned st = 0; st < streams_of(e); st++)
		if (send_one(e, st, MSG_HDR + rnd(w, 40)) == TERN_EAGAIN)
			break;
}

static void send_dgram(struct world *w, struct end *e)
{
	uint8_t d[TERN_MAX_PACKET];
	size_t max = tern_session_max_dgram(e->s), len;
	unsigned l = (unsigned)rnd(w, LANES + 1); /* LANES: plain */
	bool too_big = rnd(w, 50) == 0;
	int rc;

	len = too_big ? max + 1 : DG_HDR + rnd(w, rnd(w, 2) ? 64 : max - DG_HDR + 1);
	tern_put_be16(d, (uint16_t)e->id);
	tern_put_be16(d + 2, l == LANES ? 0xffff : (uint16_t)l);
	tern_put_be32(d + 4, e->dg_seq[l]);
	tern_put_be16(d + 8, (uint16_t)len);
	for (size_t i = DG_HDR; i < len && i < sizeof(d); i++)
		d[i] = pattern(e->id, l, e->dg_seq[l], i);
	rc = tern_session_send_dgram(e->s, l == LANES ? -1 : (int)l, d, len);
	if (rc == 0)
		e->dg_seq[l]++;
	else
		CHECK(rc == TERN_EAGAIN || rc == TERN_ENOMEM || (too_big && rc == TERN_ETOOBIG));
}

static void finish_stream(struct world *w, struct end *e)
{
	unsigned st = (unsigned)rnd(w, streams_of(e));
	int rc;

	if (e->fin_sent[st])
		return;
	rc = tern_session_finish(e->s, (uint16_t)st);
	if (rc == 0)
		e->fin_sent[st] = true;
	else
		CHECK_EQ(rc, TERN_ENOMEM);
}

/* A client's NAT gives it a new address: the session moves to another
 * endpoint, and the server must validate the new path before it follows. */
static void rebind(struct world *w, struct end *e)
{
	int eps[NCLIENT + NSPARE], n = 0, to;

	for (int i = 0; i < NCLIENT; i++)
		eps[n++] = w->ep_client[i];
	for (int i = 0; i < NSPARE; i++)
		eps[n++] = w->ep_spare[i];
	to = eps[rnd(w, (uint64_t)n)];
	if (to == e->ep)
		return;
	tern_simnet_detach(w->net, e->s);
	CHECK_EQ(tern_simnet_attach(w->net, to, e->s, &w->a_server), 0);
	e->ep = to;
	w->rebinds++;
}

static void close_end(struct world *w, struct end *e, bool graceful, tern_time now)
{
	int rc = tern_session_close(e->s, graceful, 100 + rnd(w, 100), "spin", now);

	CHECK(rc == 0 || rc == TERN_ECLOSED);
	e->closing = true;
	/* the application gives a graceful close a deadline, then aborts */
	e->close_at = now + TERN_SEC / 2 + rnd(w, 3 * TERN_SEC);
}

static void act(struct world *w, struct end *e, tern_time now)
{
	unsigned r = (unsigned)rnd(w, 1000);
	bool client = e->kind == K_CLIENT || e->kind == K_PSK_CLIENT;

	if (e->closing) {
		if (now >= e->close_at && e->s->state <= TERN_SESSION_ESTABLISHED)
			close_end(w, e, false, now);
		return;
	}
	if (rnd(w, 1000) < e->p_send)
		send_msgs(w, e);
	if (rnd(w, 1000) < e->p_dgram)
		send_dgram(w, e);
	if (r < 4)
		finish_stream(w, e);
	else if (r < 6)
		close_end(w, e, true, now);
	else if (r < 7)
		close_end(w, e, false, now);
	else if (r < 12)
		tern_session_hold_credit(e->s, e->holding = !e->holding);
	else if (r < 14 && client)
		rebind(w, e);
	else if (r < 15)
		send_everywhere(w, e);
}

/* ---- the rogue: keys, no session, tiny fragments in random order ---- */

static void rogue_start(struct world *w, tern_time now)
{
	struct rogue *r = &w->rogue;
	struct end *re = new_end(w, K_ROGUE), *v = re ? new_end(w, K_VICTIM) : NULL;
	struct tern_session_cfg cfg = w->cfg;
	struct tern_session *s = NULL;

	if (!v)
		return;
	memset(r, 0, sizeof(*r));
	new_cid(w, r->cid);
	new_cid(w, r->victim_cid);
	cfg.budget = &w->sbudget;
	if (tern_session_new_psk(&s, &cfg, &end_cbs, false, r->victim_cid, r->cid, psk, sizeof(psk),
	                         now, NULL) < 0) {
		v->failed = true;
		return;
	}
	CHECK_EQ(tern_keys_derive(&r->k, cfg.cipher, psk, sizeof(psk), r->cid, r->victim_cid, true),
	         0);
	CHECK_EQ(tern_simnet_attach(w->net, w->ep_server, s, &w->a_rogue[0]), 0);
	bind_session(v, s, w->ep_server);
	v->peer = (int)re->id;
	re->peer = (int)v->id;
	r->active = true;
	r->end = (int)re->id;
	r->victim = (int)v->id;
	w->rogues++;
}

/* Seals frames as the rogue's next packet and sends it, twice (its only
 * defence against loss: it never retransmits). */
static void rogue_send(struct world *w, const uint8_t *frames, size_t len)
{
	struct rogue *r = &w->rogue;
	uint8_t pkt[TERN_MAX_PACKET];

	for (int copy = 0; copy < 2; copy++) {
		uint64_t pn = r->pn++;
		size_t h = tern_wire_data_hdr_encode(pkt, sizeof(pkt), r->victim_cid, pn,
		                                     UINT64_MAX, 0);
		int n;

		CHECK(h > 0);
		memcpy(pkt + h, frames, len);
		n = tern_aead_seal(r->k.tx, pn, pkt, h, pkt + h, len, sizeof(pkt) - h);
		CHECK(n > 0);
		if (h > 0 && n > 0)
			tern_sim_send(w->sim, w->ep_rogue[r->ep], &w->a_server, pkt, h + (size_t)n);
	}
}

#define ROGUE_PKT 1200

/* One message on one stream, cut into 1-8 byte fragments sent in random
 * order, within the stream and connection windows first granted. */
static void rogue_message(struct world *w, const struct tern_session *victim)
{
	static uint32_t frag_off[ROGUE_MSG_MAX];
	static uint8_t frag_len[ROGUE_MSG_MAX];
	struct rogue *r = &w->rogue;
	struct end *re = &w->ends[r->end];
	unsigned st = (unsigned)rnd(w, TERN_MIN((unsigned)victim->cfg.max_streams, (unsigned)NST));
	size_t len = MSG_HDR + rnd(w, ROGUE_MSG_MAX - MSG_HDR), nf = 0, used = 0;
	uint8_t frames[ROGUE_PKT], m[ROGUE_MSG_MAX];

	if (r->off[st] + len > victim->cfg.stream_window ||
	    r->total + len > victim->cfg.conn_window)
		return;
	make_msg(m, re->id, st, re->sent[st], len);
	for (size_t o = 0; o < len; nf++) {
		size_t n = 1 + (size_t)rnd(w, ROGUE_FRAG_MAX);
		frag_off[nf] = (uint32_t)o;
		frag_len[nf] = (uint8_t)TERN_MIN(n, len - o);
		o += frag_len[nf];
	}
	for (size_t i = nf - 1; i > 0; i--) { /* shuffle */
		size_t j = (size_t)rnd(w, i + 1);
		uint32_t o = frag_off[i];
		uint8_t l = frag_len[i];
		frag_off[i] = frag_off[j], frag_len[i] = frag_len[j];
		frag_off[j] = o, frag_len[j] = l;
	}
	for (size_t i = 0; i < nf; i++) {
		uint64_t off = r->off[st] + frag_off[i];
		bool end = frag_off[i] + frag_len[i] == len;
		size_t dl;

		if (used + tern_frame_stream_overhead(st, off, frag_len[i]) + frag_len[i] >
		    sizeof(frames)) {
			rogue_send(w, frames, used);
			used = 0;
		}
		used += tern_frame_encode_stream(frames + used, sizeof(frames) - used, st, off,
		                                 m + frag_off[i], frag_len[i], false, end, true,
		                                 &dl);
		CHECK_EQ(dl, frag_len[i]);
	}
	if (used)
		rogue_send(w, frames, used);
	r->off[st] += len;
	r->total += len;
	re->sent[st]++;
}

static void rogue_stop(struct world *w)
{
	struct rogue *r = &w->rogue;
	uint8_t frames[64];
	size_t n = tern_frame_encode_close(frames, sizeof(frames), true, 42, "rogue leaves", 12);

	rogue_send(w, frames, n);
	tern_keys_free(&r->k);
	r->active = false;
}

static void rogue_tick(struct world *w)
{
	struct rogue *r = &w->rogue;
	const struct tern_session *victim = w->ends[r->victim].s;

	if (!r->active)
		return;
	if (!victim || w->teardown || ++r->ticks > 1000) {
		rogue_stop(w);
		return;
	}
	if (rnd(w, 200) == 0)
		r->ep ^= 1; /* it sends from a new address, and never answers a challenge */
	rogue_message(w, victim);
}

/* ---- invariants ---- */

/* What a session's buffers hold, recounted from the streams. */
static uint64_t buffers_of(const struct tern_session *s)
{
	uint64_t m = 0;

	for (unsigned i = 0; s->streams && i < s->nstreams; i++) {
		const struct tern_stream *st = s->streams[i];
		if (st)
			m += tern_srecv_mem(&st->rx) + st->tx.cap +
			     st->tx.ends_cap * sizeof(uint64_t);
	}
	return m;
}

static void count_session(const struct world *w, const struct tern_session *s, uint64_t *sb,
                          uint64_t *cb)
{
	CHECK_EQ(tern_session_buffers(s), buffers_of(s));
	if (s->mem.budget == &w->sbudget)
		*sb += tern_session_buffers(s);
	else
		*cb += tern_session_buffers(s);
}

/* Each session's accounting matches its buffers; each budget, its sessions. */
static void check_memory(const struct world *w)
{
	uint64_t sb = 0, cb = 0;

	for (unsigned i = 0; i < w->nends; i++)
		if (w->ends[i].s)
			count_session(w, w->ends[i].s, &sb, &cb);
	for (unsigned i = 0; i < w->norphans; i++)
		count_session(w, w->orphans[i], &sb, &cb);
	CHECK_EQ(tern_budget_used(&w->sbudget), sb);
	CHECK_EQ(tern_budget_used(&w->cbudget), cb);
}

static bool all_done(const struct world *w)
{
	if (w->rogue.active)
		return false;
	for (unsigned i = 0; i < w->nends; i++)
		if (w->ends[i].s || w->ends[i].connecting)
			return false;
	for (unsigned i = 0; i < w->norphans; i++)
		if (w->orphans[i]->state != TERN_SESSION_CLOSED)
			return false;
	return true;
}

static void report_stuck(const struct world *w)
{
	for (unsigned i = 0; i < w->nends; i++) {
		const struct end *e = &w->ends[i];
		if (e->connecting)
			fprintf(stderr, "spin: end %u: connect never resolved\n", e->id);
		if (e->s)
			fprintf(stderr, "spin: end %u (kind %d, peer %d): session still %s%s\n",
			        e->id, e->kind, e->peer, tern_session_state_name(e->s->state),
			        e->s->closing_graceful ? " (graceful close pending)" : "");
	}
}

/* ---- a round ---- */

static unsigned busy(const struct world *w)
{
	unsigned n = 0;

	for (unsigned i = 0; i < w->nends; i++)
		n += w->ends[i].s || w->ends[i].connecting;
	return n;
}

static void spawn(struct world *w, tern_time now)
{
	if (busy(w) >= MAX_LIVE)
		return;
	if (rnd(w, 1000) < 20)
		start_connect(w, now);
	else if (rnd(w, 1000) < 10)
		start_psk_pair(w, now);
	else if (!w->rogue.active && rnd(w, 1000) < 2)
		rogue_start(w, now);
}

static void tick(struct world *w, tern_time now)
{
	for (unsigned i = 0; i < w->nends; i++)
		if (w->ends[i].s && w->ends[i].s->state == TERN_SESSION_CLOSED)
			reap(w, &w->ends[i]);
	check_memory(w);
	rogue_tick(w);
	for (unsigned i = 0; i < w->nends; i++) {
		struct end *e = &w->ends[i];
		if (!e->s || e->s->state > TERN_SESSION_ESTABLISHED)
			continue;
		if (w->teardown && !e->closing)
			close_end(w, e, rnd(w, 2), now);
		else
			act(w, e, now);
	}
	if (!w->teardown)
		spawn(w, now);
}

static bool reached(void *ctx)
{
	const struct world *w = ctx;

	return tern_simnet_now(w->net) >= w->tick_at;
}

static void run_to(struct world *w, tern_time t)
{
	int rc;

	w->tick_at = t;
	rc = tern_simnet_run(w->net, t, reached, w);
	if (rc == TERN_ETIMEDOUT || rc == TERN_EAGAIN)
		tern_sim_advance(w->sim, t);
}

/* Everything the round made is gone: sessions, budgets, admissions. */
static void end_round(struct world *w)
{
	for (unsigned i = 0; i < w->nends; i++) {
		struct end *e = &w->ends[i];
		if (e->s) { /* stuck: reported already; free it all the same */
			tern_simnet_detach(w->net, e->s);
			tern_session_free(e->s);
			e->s = NULL;
		}
		if (e->kind != K_ROGUE)
			CHECK_EQ(e->closed, e->had_session ? 1 : 0);
	}
	for (unsigned i = 0; i < w->norphans; i++) {
		tern_simnet_detach(w->net, w->orphans[i]);
		tern_session_free(w->orphans[i]);
	}
	if (w->rogue.active)
		tern_keys_free(&w->rogue.k);
	CHECK_EQ(tern_budget_used(&w->sbudget), 0);
	CHECK_EQ(tern_budget_used(&w->cbudget), 0);
	CHECK_EQ(tern_admit_sessions(tern_control_admit(w->ctl_server)), 0);
	CHECK_EQ(tern_admit_half_open(tern_control_admit(w->ctl_server)), 0);
	tern_simnet_free(w->net);
}

static void add_totals(const struct world *w)
{
	total.rounds++;
	total.msgs += w->msgs;
	total.bytes += w->bytes;
	total.dgrams += w->dgrams;
	total.fails += w->fails;
	total.allocs += w->allocs;
	total.connects += w->connects;
	total.refused += w->refused;
	total.rebinds += w->rebinds;
	total.rogues += w->rogues;
	for (int i = 0; i < 16; i++)
		total.closes[i] += w->closes[i];
}

static bool spin_round(uint64_t seed)
{
	struct world *w = calloc(1, sizeof(*w));
	int before = tern_check_failures;
	tern_time act_until, t;

	if (!w)
		return false;
	setup(w, seed);
	act_until = TERN_SEC + rnd(w, 4 * TERN_SEC);
	tern_alloc_set_fail(fail_alloc, w);
	for (t = TICK_US; tern_check_failures == before; t += TICK_US) {
		run_to(w, t);
		w->teardown = t >= act_until;
		tick(w, t);
		if (w->teardown && all_done(w))
			break;
		if (t >= act_until + TEARDOWN_US) {
			report_stuck(w);
			CHECK(all_done(w));
		}
	}
	tern_alloc_set_fail(NULL, NULL);
	end_round(w);
	add_totals(w);
	free(w);
	return tern_check_failures == before;
}

/* Resident set size in bytes. */
static size_t rss(void)
{
	unsigned long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%lu %lu", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* Heap bytes the process holds: exact under ASan; glibc's count otherwise,
 * which includes chunks in its thread caches. */
static size_t heap_in_use(void)
{
#ifdef SPIN_ASAN
	return __sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
#endif
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

#ifdef SPIN_ASAN
#define RSS_LIMIT (RSS_GROWTH_MAX + RSS_GROWTH_ASAN)
#define HEAP_SLACK HEAP_SLACK_ASAN
#else
#define RSS_LIMIT RSS_GROWTH_MAX
#define HEAP_SLACK HEAP_SLACK_GLIBC
#endif

/* Rounds from seed on until the wall clock passes `until`. Memory comes
 * back after every round: the heap to where the first round left it (give
 * or take the allocator's caches), RSS within a bound. */
static void run_rounds(uint64_t seed, uint64_t until, const char *argv0)
{
	size_t rss0 = 0, heap0 = 0;

	for (; now_ms() < until; seed++) {
		if (!spin_round(seed)) {
			fprintf(stderr,
			        "spin: seed %" PRIu64 " failed; replay it with:\n"
			        "  TERN_SPIN_SEED=%" PRIu64 " %s\n",
			        seed, seed, argv0);
			return;
		}
		if (total.rounds == 1) {
			rss0 = rss();
			heap0 = heap_in_use();
		}
		if (heap_in_use() > heap0 + HEAP_SLACK) {
			fprintf(stderr,
			        "spin: after seed %" PRIu64
			        " the heap holds %zu bytes (%zu after the first round)\n",
			        seed, heap_in_use(), heap0);
			CHECK(heap_in_use() <= heap0 + HEAP_SLACK);
			return;
		}
	}
	if (rss() > rss0 + RSS_LIMIT)
		fprintf(stderr, "spin: RSS grew from %zu to %zu bytes\n", rss0, rss());
	CHECK(rss() <= rss0 + RSS_LIMIT);
}

int main(int argc, char **argv)
{
	uint64_t seed = env_u64("TERN_SPIN_BASE", 1);
	uint64_t until = now_ms() + 1000 * env_u64("TERN_SPIN_SECONDS", SPIN_DEFAULT_SECONDS);

	(void)argc;
	CHECK_EQ(tern_crypto_init(), 0);
	if (getenv("TERN_SPIN_SEED")) {
		seed = env_u64("TERN_SPIN_SEED", 1);
		if (!spin_round(seed))
			fprintf(stderr, "spin: seed %" PRIu64 " failed\n", seed);
	} else {
		run_rounds(seed, until, argv[0]);
	}
	fprintf(stderr,
	        "spin: %" PRIu64 " rounds, %" PRIu64 " sessions (%" PRIu64 " connects, %" PRIu64
	        " refused or failed), %" PRIu64 " messages (%" PRIu64 " bytes), %" PRIu64
	        " datagrams, %" PRIu64 " rebindings, %" PRIu64 " rogues, %" PRIu64 " of %" PRIu64
	        " allocations failed\n",
	        total.rounds, total.sessions, total.connects, total.refused, total.msgs,
	        total.bytes, total.dgrams, total.rebinds, total.rogues, total.fails, total.allocs);
	fprintf(stderr, "spin: closes by code:");
	for (int i = 0; i < CLOSE_APP_SLOT; i++)
		if (total.closes[i])
			fprintf(stderr, " %s %" PRIu64, tern_close_code_name((uint64_t)i),
			        total.closes[i]);
	fprintf(stderr, " application %" PRIu64, total.closes[CLOSE_APP_SLOT]);
	fprintf(stderr, "\n");
	return tern_check_result("spin");
}
