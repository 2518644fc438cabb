/* Path validation, migration and the optimistic-ACK defence through the
 * production receive path: two workers (core/worker.c) on the simulator's
 * backend, client A and server B with a pre-shared secret, B sending A a
 * bulk transfer, in virtual time. Raw endpoints stand for an attacker V and
 * for the address A's NAT gives it after a rebinding; an attacker holding
 * A's keys (the client itself, or a copy of its packets) forges packets from
 * any of them. Issue 13's attacks, each a test:
 *   - one packet of A's, forwarded from V, must not aim B's flow at V, and
 *     V gets at most 3x the bytes it sent;
 *   - a real NAT rebinding moves B to A's new address once it is validated,
 *     with fresh congestion and RTT state, and the transfer completes;
 *   - a new address that never answers is dropped: B stays on A;
 *   - "PING from A, ACK-everything from V": B closes with PROTOCOL_VIOLATION
 *     (the ACKs cover skipped packet numbers) and V gets at most 3x. */
#include <stdlib.h>

#include "core/conn.h"
#include "core/worker.h"
#include "io/sim.h"
#include "check.h"

#define MSG_LEN 16000
#define BURST 64

enum { EP_A, EP_B, EP_V, EP_A2, NEPS };

static const struct tern_addr addrs[NEPS] = {
        {.family = 4, .port = 1000, .ip = {10, 0, 0, 1}},
        {.family = 4, .port = 2000, .ip = {10, 0, 0, 2}},
        {.family = 4, .port = 6666, .ip = {10, 6, 6, 6}},
        {.family = 4, .port = 1001, .ip = {10, 0, 0, 3}},
};

static const uint8_t secret[32] = "tern migration test secret.....";
static const uint8_t cid_a[TERN_CID_LEN] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8};
static const uint8_t cid_b[TERN_CID_LEN] = {0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8};

/* One worker on one simulated endpoint; port.ep moves it (a rebinding). */
struct node {
	struct tern_worker w;
	struct tern_sim_port port;
	struct tern_ring *inbox, *to_control, *inboxes[1];
	struct tern_conn *c;
	bool on; /* the worker runs (off: the attacker plays this side) */
};

struct world {
	struct tern_sim *sim;
	struct node a, b;
	/* the transfer, B to A */
	uint32_t msgs_total, msgs_sent, msgs_recv, bad;
	/* what arrived at endpoints no worker reads, and what the attacker sent */
	uint64_t rx_bytes[NEPS], rx_pkts[NEPS], forged_bytes[NEPS];
	/* B's peer as the worker reports it: polls where it was not b_peer */
	struct tern_addr b_peer;
	uint64_t b_peer_moves;
	bool b_accepted;
	struct tern_close_reason b_why; /* how B's session ended (reason not kept) */
	/* the attacker: A's keys and its own packet numbers */
	struct tern_keys keys;
	uint64_t forged_pn;
	void (*tick)(struct world *w);
	tern_time tick_at, tick_every;
};

/* ---- applications ---- */

static uint8_t pattern(uint32_t seq, size_t i)
{
	return (uint8_t)(seq * 131u + i * 7u);
}

static void pump(struct world *w)
{
	static uint8_t msg[MSG_LEN];

	while (w->b.c && w->msgs_sent < w->msgs_total) {
		tern_put_be32(msg, w->msgs_sent);
		for (size_t i = 4; i < MSG_LEN; i++)
			msg[i] = pattern(w->msgs_sent, i);
		if (tern_send(w->b.c, 0, msg, MSG_LEN) < 0)
			return;
		w->msgs_sent++;
	}
}

static void a_connected(void *ctx, struct tern_conn *c)
{
	((struct world *)ctx)->a.c = c;
}

static void a_message(void *ctx, struct tern_conn *c, uint16_t stream, const void *msg, size_t len)
{
	struct world *w = ctx;
	const uint8_t *m = msg;
	bool ok = stream == 0 && len == MSG_LEN && tern_get_be32(m) == w->msgs_recv;

	(void)c;
	for (size_t i = 4; ok && i < len; i++)
		ok = m[i] == pattern(w->msgs_recv, i);
	w->bad += !ok;
	w->msgs_recv++;
}

static void a_closed(void *ctx, struct tern_conn *c, const struct tern_close_reason *r)
{
	(void)c, (void)r;
	((struct world *)ctx)->a.c = NULL;
}

static bool b_accept(void *ctx, struct tern_conn *c)
{
	struct world *w = ctx;

	w->b.c = c;
	w->b_accepted = true;
	pump(w);
	return true;
}

static void b_writable(void *ctx, struct tern_conn *c, uint16_t stream)
{
	(void)c, (void)stream;
	pump(ctx);
}

static void b_closed(void *ctx, struct tern_conn *c, const struct tern_close_reason *r)
{
	struct world *w = ctx;

	(void)c;
	w->b_why = *r;
	w->b_why.reason = NULL;
	w->b.c = NULL;
}

/* ---- the world ---- */

static void node_init(struct world *w, struct node *nd, int ep)
{
	struct tern_worker_cfg cfg = {.nworkers = 1,
	                              .ops = &tern_sim_backend_ops,
	                              .be = &nd->port,
	                              .max_sessions = 4,
	                              .seed = 7,
	                              .local = addrs[ep]};

	nd->port = (struct tern_sim_port){w->sim, ep};
	CHECK_EQ(tern_ring_new(&nd->inbox, 64, TERN_RING_MPSC), 0);
	CHECK_EQ(tern_ring_new(&nd->to_control, 64, TERN_RING_SPSC), 0);
	nd->inboxes[0] = nd->inbox;
	cfg.inbox = nd->inbox;
	cfg.to_control = nd->to_control;
	cfg.inboxes = nd->inboxes;
	CHECK_EQ(tern_worker_init(&nd->w, &cfg), 0);
	nd->on = true;
}

/* Installs a pre-shared-secret session on the node, as the control plane
 * would after a handshake with peer_ep. */
static void node_install(struct world *w, struct node *nd, bool initiator, int peer_ep)
{
	static const struct tern_handler ha = {
	        .on_connect = a_connected, .on_message = a_message, .on_closed = a_closed};
	static const struct tern_handler hb = {
	        .on_accept = b_accept, .on_writable = b_writable, .on_closed = b_closed};
	struct tern_install *in = calloc(1, sizeof(*in));
	struct tern_msg m = {.type = TERN_MSG_INSTALL, .ptr = in};

	CHECK(in != NULL);
	CHECK_EQ(tern_session_new_psk(&in->s, NULL, NULL, initiator, initiator ? cid_a : cid_b,
	                              initiator ? cid_b : cid_a, secret, sizeof(secret), 0, NULL),
	         0);
	tern_session_seed_random(in->s, initiator ? 1 : 2);
	in->info.peer = addrs[peer_ep];
	in->handler = initiator ? ha : hb;
	in->handler.ctx = w;
	in->initiator = initiator;
	CHECK_EQ(tern_ring_enqueue(nd->inbox, &m), 0);
}

static void set_path(struct world *w, int from, int to, tern_time delay, uint64_t rate, double loss)
{
	struct tern_sim_path_cfg p = {.delay_us = delay, .rate_bps = rate, .loss = loss};

	CHECK_EQ(tern_sim_set_path(w->sim, from, to, &p), 0);
}

/* A and B 10 ms apart, B sending at most 20 Mbit/s; V 5 ms from B; A's
 * address after a rebinding 30 ms from B. With_a false: no worker for A
 * (the attacker plays it). */
static void world_init(struct world *w, uint32_t msgs, bool with_a)
{
	memset(w, 0, sizeof(*w));
	w->sim = tern_sim_new(42);
	CHECK(w->sim != NULL);
	for (int ep = 0; ep < NEPS; ep++)
		CHECK_EQ(tern_sim_add_endpoint(w->sim, &addrs[ep]), ep);
	set_path(w, EP_A, EP_B, 10 * TERN_MS, 0, 0);
	set_path(w, EP_B, EP_A, 10 * TERN_MS, 20000000, 0);
	set_path(w, EP_V, EP_B, 5 * TERN_MS, 0, 0);
	set_path(w, EP_B, EP_V, 5 * TERN_MS, 0, 0);
	set_path(w, EP_A2, EP_B, 30 * TERN_MS, 0, 0);
	set_path(w, EP_B, EP_A2, 30 * TERN_MS, 20000000, 0);
	w->msgs_total = msgs;
	w->b_peer = addrs[EP_A];
	w->tick_at = TERN_TIME_NEVER;
	node_init(w, &w->b, EP_B);
	node_install(w, &w->b, false, EP_A);
	if (with_a) {
		node_init(w, &w->a, EP_A);
		node_install(w, &w->a, true, EP_B);
	}
	CHECK_EQ(tern_keys_derive(&w->keys, TERN_CIPHER_CHACHA20_POLY1305, secret, sizeof(secret),
	                          cid_a, cid_b, true),
	         0);
}

static void node_free(struct node *nd)
{
	if (!nd->inbox)
		return;
	tern_worker_free(&nd->w);
	tern_ring_free(nd->inbox);
	tern_ring_free(nd->to_control);
}

static void world_free(struct world *w)
{
	node_free(&w->a);
	node_free(&w->b);
	tern_keys_free(&w->keys);
	tern_sim_free(w->sim);
}

/* Packets to an endpoint no worker reads are counted and dropped. */
static void drain(struct world *w, int ep)
{
	struct tern_pkt pkts[BURST];
	unsigned n;

	while ((n = tern_sim_recv(w->sim, ep, pkts, BURST)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			w->rx_bytes[ep] += pkts[i].len;
			w->rx_pkts[ep]++;
		}
	}
}

static void poll_node(struct node *nd, tern_time now)
{
	for (int i = 0; i < 16 && tern_worker_poll(&nd->w, now) > 0; i++)
		;
}

static void step(struct world *w)
{
	tern_time now = tern_sim_now(w->sim);

	if (now >= w->tick_at) {
		w->tick_at += w->tick_every;
		w->tick(w);
	}
	if (w->a.on)
		poll_node(&w->a, now);
	poll_node(&w->b, now);
	for (int ep = 0; ep < NEPS; ep++)
		if (ep != EP_B && !(w->a.on && w->a.port.ep == ep))
			drain(w, ep);
	if (w->b.c && !tern_addr_eq(&w->b.c->info.peer, &w->b_peer))
		w->b_peer_moves++;
}

static tern_time next_time(const struct world *w)
{
	tern_time t = TERN_MIN(tern_sim_next_event(w->sim), tern_worker_deadline(&w->b.w));

	if (w->a.on)
		t = TERN_MIN(t, tern_worker_deadline(&w->a.w));
	return TERN_MIN(t, w->tick_at);
}

/* Runs until done(w) (true) or virtual time would pass `until` (false). */
static bool run(struct world *w, tern_time until, bool (*done)(const struct world *w))
{
	for (;;) {
		tern_time now = tern_sim_now(w->sim), t;

		step(w);
		if (done && done(w))
			return true;
		t = next_time(w);
		if (t > until)
			return false;
		tern_sim_advance(w->sim, TERN_MAX(t, now + 1));
	}
}

static tern_time now(const struct world *w)
{
	return tern_sim_now(w->sim);
}

static bool a_got_60(const struct world *w)
{
	return w->msgs_recv >= 60;
}

static bool transfer_done(const struct world *w)
{
	return w->msgs_recv >= w->msgs_total;
}

static bool b_migrated(const struct world *w)
{
	return w->b.c && w->b.c->s->path.stats.migrations > 0;
}

static bool b_closing(const struct world *w)
{
	return w->b_accepted && (!w->b.c || w->b.c->s->state >= TERN_SESSION_CLOSING);
}

static void b_stats(const struct world *w, struct tern_session_stats *st)
{
	memset(st, 0, sizeof(*st));
	CHECK(w->b.c != NULL);
	if (w->b.c)
		tern_session_get_stats(w->b.c->s, st);
}

/* Seals frames as A's packet (the attacker's numbers, above A's own) and
 * sends it to B from endpoint ep. */
static void forge(struct world *w, int ep, const uint8_t *frames, size_t len)
{
	uint8_t pkt[TERN_MAX_PACKET];
	uint64_t pn = w->forged_pn++;
	size_t h = tern_wire_data_hdr_encode(pkt, sizeof(pkt), cid_b, pn, UINT64_MAX, 0);
	int n;

	CHECK(h > 0);
	memcpy(pkt + h, frames, len);
	n = tern_aead_seal(w->keys.tx, pn, pkt, h, pkt + h, len, sizeof(pkt) - h);
	CHECK(n > 0);
	CHECK_EQ(tern_sim_send(w->sim, ep, &addrs[EP_B], pkt, h + (size_t)n), 0);
	w->forged_bytes[ep] += h + (size_t)n;
}

/* ---- (a) one forwarded packet ---- */

/* A's next genuine packet (an ACK and a PING), taken before it leaves A and
 * sent to B from V instead: B must challenge V, not follow it. */
static void test_forwarded_packet(void)
{
	struct tern_session_stats st;
	uint8_t pkt[TERN_MAX_PACKET];
	struct world w;
	int n;

	world_init(&w, 200, true);
	CHECK(run(&w, 10 * TERN_SEC, a_got_60));
	w.a.c->s->ping_pending = true;
	n = tern_session_write(w.a.c->s, pkt, sizeof(pkt), now(&w));
	CHECK(n > 0);
	CHECK_EQ(tern_sim_send(w.sim, EP_V, &addrs[EP_B], pkt, (size_t)n), 0);
	CHECK(run(&w, 60 * TERN_SEC, transfer_done));
	run(&w, now(&w) + 2 * TERN_SEC, NULL); /* past the validation deadline */
	b_stats(&w, &st);
	if (w.rx_bytes[EP_V] > TERN_PATH_AMP_FACTOR * (uint64_t)n)
		fprintf(stderr,
		        "forwarded: V sent %d bytes, got %" PRIu64 " (%" PRIu64 " packets)\n", n,
		        w.rx_bytes[EP_V], w.rx_pkts[EP_V]);
	CHECK(w.rx_pkts[EP_V] >= 1); /* B challenged V */
	CHECK(w.rx_bytes[EP_V] <= TERN_PATH_AMP_FACTOR * (uint64_t)n);
	CHECK_EQ(w.b_peer_moves, 0);
	CHECK_EQ(st.migrations, 0);
	CHECK_EQ(st.paths_validated, 0);
	CHECK_EQ(st.paths_failed, 1);
	CHECK(st.path_challenges >= 1 && st.path_challenges <= TERN_PATH_CHALLENGE_TRIES);
	CHECK_EQ(w.msgs_recv, 200);
	CHECK_EQ(w.bad, 0);
	world_free(&w);
}

/* ---- (b) a NAT rebinding ---- */

/* A's address changes for good mid-transfer: B validates the new one,
 * moves there with fresh congestion and RTT state, and finishes. The new
 * path's RTT is 60 ms against the old one's 20: after the move B's minimum
 * RTT must be the new path's, which it cannot be if the estimate carried
 * over. */
static void test_nat_rebinding(void)
{
	struct tern_session_stats st;
	uint64_t cwnd_before;
	struct world w;

	world_init(&w, 250, true);
	CHECK(run(&w, 10 * TERN_SEC, a_got_60));
	cwnd_before = w.b.c->s->rec.cc.cwnd;
	CHECK(w.b.c->s->rec.rtt.min < 30 * TERN_MS);
	w.a.port.ep = EP_A2; /* the NAT rebinds */
	w.b_peer = addrs[EP_A2];
	CHECK(run(&w, now(&w) + 5 * TERN_SEC, b_migrated));
	CHECK(w.b.c->s->rec.cc.cwnd < cwnd_before);
	CHECK(tern_addr_eq(&w.b.c->info.peer, &addrs[EP_A2]));
	CHECK(run(&w, now(&w) + 60 * TERN_SEC, transfer_done));
	b_stats(&w, &st);
	CHECK_EQ(st.migrations, 1);
	CHECK_EQ(st.paths_validated, 1);
	CHECK_EQ(st.paths_failed, 0);
	CHECK(w.b.c->s->rec.rtt.min >= 60 * TERN_MS);
	CHECK(tern_addr_eq(&w.b.c->info.peer, &addrs[EP_A2]));
	CHECK_EQ(w.msgs_recv, 250);
	CHECK_EQ(w.bad, 0);
	CHECK_EQ(w.rx_pkts[EP_V], 0);
	world_free(&w);
}

/* ---- (c) validation fails ---- */

/* A's NAT flaps: for 100 ms A's packets come from a new address that B
 * cannot reach (every packet to it is lost), then from A again. B keeps
 * sending to A, gives the new address up at the deadline, and finishes. */
static void test_validation_fails(void)
{
	struct tern_session_stats st;
	struct world w;

	world_init(&w, 200, true);
	set_path(&w, EP_B, EP_A2, 30 * TERN_MS, 0, 1.0);
	CHECK(run(&w, 10 * TERN_SEC, a_got_60));
	w.a.port.ep = EP_A2;
	CHECK_EQ(tern_send(w.a.c, 1, "x", 1), 0); /* something A sends from there */
	run(&w, now(&w) + 100 * TERN_MS, NULL);
	w.a.port.ep = EP_A;
	CHECK(run(&w, now(&w) + 60 * TERN_SEC, transfer_done));
	run(&w, now(&w) + 2 * TERN_SEC, NULL);
	b_stats(&w, &st);
	CHECK_EQ(w.b_peer_moves, 0);
	CHECK_EQ(st.migrations, 0);
	CHECK_EQ(st.paths_failed, 1);
	CHECK(st.path_challenges >= 1);
	CHECK(tern_sim_path_stats(w.sim, EP_B, EP_A2)->dropped_loss >= st.path_challenges);
	CHECK_EQ(w.msgs_recv, 200);
	CHECK_EQ(w.bad, 0);
	world_free(&w);
}

/* ---- (d) PING from A, ACK-everything from V ---- */

/* Issue 13's loop, by a client that never reads what B sends: every 10 ms a
 * PING (with all the credit B could want) from A's address, then an ACK of
 * every packet B has sent, from V. */
static void attack_tick(struct world *w)
{
	uint8_t f[64];
	struct tern_ack_range r = {0, 0};
	size_t written, n;

	f[0] = TERN_FRAME_PING;
	n = 1 + tern_frame_encode_credit(f + 1, sizeof(f) - 1, TERN_FRAME_MAX_DATA, 0, 1ull << 40);
	n += tern_frame_encode_credit(f + n, sizeof(f) - n, TERN_FRAME_MAX_STREAM_DATA, 0,
	                              1ull << 40);
	forge(w, EP_A, f, n);
	if (!w->b.c || w->b.c->s->rec.next_pn == 0)
		return;
	r.hi = w->b.c->s->rec.next_pn - 1;
	n = tern_frame_encode_ack(f, sizeof(f), &r, 1, 0, &written);
	CHECK(n > 0);
	forge(w, EP_V, f, n);
}

static void test_optimistic_ack(void)
{
	struct world w;

	world_init(&w, 1000, false);
	w.tick = attack_tick;
	w.tick_at = 0;
	w.tick_every = 10 * TERN_MS;
	CHECK(run(&w, 30 * TERN_SEC, b_closing));
	if (!w.b.c)
		fprintf(stderr, "optimistic ACK: B closed: %s (code %" PRIu64 ", err %d)\n",
		        w.b_why.what, w.b_why.code, w.b_why.err);
	CHECK(w.b.c != NULL);
	if (w.b.c) {
		CHECK_EQ(w.b.c->s->close.code, TERN_CLOSE_PROTOCOL_VIOLATION);
		CHECK_EQ(w.b.c->s->close.err, TERN_EPROTO);
		CHECK(w.b.c->s->rec.stats.pkts_skipped >= 1);
	}
	CHECK_EQ(w.b_peer_moves, 0);
	CHECK(w.rx_bytes[EP_V] <= TERN_PATH_AMP_FACTOR * w.forged_bytes[EP_V]);
	world_free(&w);
}

int main(void)
{
	CHECK_EQ(tern_crypto_init(), 0);
	test_forwarded_packet();
	test_nat_rebinding();
	test_validation_fails();
	test_optimistic_ack();
	return tern_check_result("migration");
}
