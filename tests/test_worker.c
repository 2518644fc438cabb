/* A worker's front door for handshake packets (core/worker.c to_control):
 * one worker on the simulator's backend, holding its server's MAC keys, and
 * an attacker endpoint that sends it handshake-form packets. What cannot be
 * a handshake message — a response, cookie reply or refusal of the wrong
 * size (each has one), an initiation under 1,200 bytes or with a wrong
 * mac1 — is dropped where it arrives and counted in handshake_dropped: no
 * copy, no ring slot, no wake-up of the control thread. What can be goes on
 * the ring, one message each. */
#include <stdlib.h>

#include "core/worker.h"
#include "io/sim.h"
#include "check.h"

enum { EP_SERVER, EP_ATTACKER, NEPS };

static const struct tern_addr addrs[NEPS] = {
        {.family = 4, .port = 2000, .ip = {10, 0, 0, 2}},
        {.family = 4, .port = 6666, .ip = {10, 6, 6, 6}},
};

struct bench {
	struct tern_sim *sim;
	struct tern_sim_port port;
	struct tern_worker w;
	struct tern_ring *inbox, *to_control, *inboxes[1];
	struct tern_hs_keypair server;
	struct tern_hs_mac_keys mac;
	unsigned wakes;
};

static void wake(void *ctx, int worker)
{
	struct bench *b = ctx;

	b->wakes += worker < 0;
}

static void bench_init(struct bench *b)
{
	struct tern_worker_cfg cfg = {.nworkers = 1,
	                              .ops = &tern_sim_backend_ops,
	                              .be = &b->port,
	                              .max_sessions = 4,
	                              .seed = 7,
	                              .wake = wake,
	                              .wake_ctx = b,
	                              .local = addrs[EP_SERVER],
	                              .mac = &b->mac};
	struct tern_sim_path_cfg path = {.delay_us = 1000};

	memset(b, 0, sizeof(*b));
	b->sim = tern_sim_new(1);
	CHECK(b->sim != NULL);
	for (int ep = 0; ep < NEPS; ep++)
		CHECK_EQ(tern_sim_add_endpoint(b->sim, &addrs[ep]), ep);
	CHECK_EQ(tern_sim_set_path(b->sim, EP_ATTACKER, EP_SERVER, &path), 0);
	CHECK_EQ(tern_hs_keypair_generate(&b->server), 0);
	tern_hs_mac_keys_init(&b->mac, b->server.pub);
	b->port = (struct tern_sim_port){b->sim, EP_SERVER};
	CHECK_EQ(tern_ring_new(&b->inbox, 64, TERN_RING_MPSC), 0);
	CHECK_EQ(tern_ring_new(&b->to_control, 64, TERN_RING_SPSC), 0);
	b->inboxes[0] = b->inbox;
	cfg.inbox = b->inbox;
	cfg.to_control = b->to_control;
	cfg.inboxes = b->inboxes;
	CHECK_EQ(tern_worker_init(&b->w, &cfg), 0);
}

static void bench_free(struct bench *b)
{
	struct tern_msg m;

	while (tern_ring_dequeue(b->to_control, &m) == 0)
		free(m.ptr);
	tern_worker_free(&b->w);
	tern_ring_free(b->inbox);
	tern_ring_free(b->to_control);
	tern_sim_free(b->sim);
}

/* Sends one packet of type (byte 0 = 0x80 | type) and len bytes from the
 * attacker and lets the worker receive it. */
static void send_hs(struct bench *b, uint8_t type, size_t len)
{
	uint8_t pkt[TERN_MAX_PACKET];

	for (size_t i = 0; i < len; i++)
		pkt[i] = (uint8_t)(i * 37 + len);
	pkt[0] = (uint8_t)(TERN_FORM_HANDSHAKE | type);
	pkt[1] = TERN_PROTO_VERSION_MAJOR;
	CHECK_EQ(tern_sim_send(b->sim, EP_ATTACKER, &addrs[EP_SERVER], pkt, len), 0);
	tern_sim_advance(b->sim, tern_sim_now(b->sim) + 2000);
	tern_worker_poll(&b->w, tern_sim_now(b->sim));
}

/* Issue 13: 18-byte handshake-form packets (2-byte header + a 16-byte tag)
 * each cost a malloc, a ring slot and a wake-up of the control thread. */
static void test_wrong_sizes_dropped_at_the_door(void)
{
	static const struct {
		uint8_t type;
		size_t len;
	} junk[] = {
	        {TERN_HS_RESPONSE, 18},     {TERN_HS_COOKIE_REPLY, 18}, {TERN_HS_REFUSAL, 18},
	        {TERN_HS_RESPONSE, 129},    {TERN_HS_COOKIE_REPLY, 67}, {TERN_HS_REFUSAL, 42},
	        {TERN_HS_INITIATION, 1199}, {TERN_HS_INITIATION, 1200}, /* mac1 wrong */
	        {TERN_HS_RESPONSE, 130},                                /* mac1 wrong */
	};
	struct bench b;

	bench_init(&b);
	for (size_t i = 0; i < TERN_ARRAY_LEN(junk); i++)
		send_hs(&b, junk[i].type, junk[i].len);
	CHECK_EQ(b.w.stats.rx_pkts, TERN_ARRAY_LEN(junk));
	CHECK_EQ(b.w.stats.handshake_dropped, TERN_ARRAY_LEN(junk));
	CHECK_EQ(b.w.stats.handshakes_out, 0);
	CHECK_EQ(tern_ring_count(b.to_control), 0);
	CHECK_EQ(b.wakes, 0);
	/* the right sizes of the two messages a worker cannot check further
	 * (their MACs are keyed for the initiator, checked by the control
	 * plane) are queued, once each */
	send_hs(&b, TERN_HS_COOKIE_REPLY, TERN_HS_COOKIE_REPLY_LEN);
	send_hs(&b, TERN_HS_REFUSAL, TERN_HS_REFUSAL_LEN);
	CHECK_EQ(b.w.stats.handshakes_out, 2);
	CHECK_EQ(tern_ring_count(b.to_control), 2);
	CHECK_EQ(b.w.stats.handshake_dropped, TERN_ARRAY_LEN(junk));
	bench_free(&b);
}

int main(void)
{
	CHECK_EQ(tern_crypto_init(), 0);
	test_wrong_sizes_dropped_at_the_door();
	return tern_check_result("worker");
}
