/* Handles on loopback (tern/handle.h): application threads that are not
 * workers connect, accept, send and receive through real engines.
 *  - many handles at once, several sender threads per handle (one stream
 *    each) and one receiver per handle against an echo server made of
 *    handles: every message comes back, in order per stream, intact;
 *  - a reader that does not read until the worker has held credit: nothing
 *    is lost and what the worker holds outside the ring stays within one
 *    connection window plus one stream window; a peer that closes while the
 *    worker holds messages: they are all read after the close;
 *  - finishing streams: the peer reads every message of a stream, then its
 *    fin (recv returns 0, info.fin), also behind sends the session could
 *    not take yet and behind messages the worker held; several streams;
 *    finishing twice, sending after a finish, and sends racing a finish
 *    from other threads (each either arrives before the fin or is refused);
 *  - recv timeouts, a message larger than the buffer, async connect, a
 *    refused connect, closed-handle calls with the peer's reason;
 *  - engines freed under live handles and a listener.
 * Every wait is bounded; nothing asserts on elapsed time. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/check.h"
#include "tern/handle.h"

#define VP_ECHO 9
#define VP_BULK 10
#define VP_MISC 11
#define VP_HELD 12
#define VP_FIN 13
#define NH 6     /* client handles */
#define NSEND 3  /* sender threads (streams) per handle */
#define NMSG 300 /* messages per sender */
#define NBULK 1024
#define BULK_LEN (16u << 10)
#define SEC 1000000u

static struct tern_engine *engine(unsigned workers)
{
	struct tern_engine_cfg cfg;
	struct tern_engine *e = NULL;
	char err[256];

	tern_engine_cfg_default(&cfg);
	cfg.workers = workers;
	cfg.bind = (struct tern_addr){.family = 4, .ip = {127, 0, 0, 1}};
	cfg.handshake_timeout_us = 2 * SEC;
	/* a stream's send buffer stays send_buffer (256 KiB) instead of growing
	 * with the congestion window, so test_fin_after_messages's 2.5 MiB are
	 * past it however wide the window opens on loopback */
	cfg.send_buffer_max = cfg.send_buffer;
	if (tern_engine_new(&e, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "engine: %s\n", err);
		return NULL;
	}
	return e;
}

static struct tern_connect_opts opts_for(struct tern_engine *srv, uint16_t vport)
{
	struct tern_connect_opts o = {.vport = vport};

	o.addr = (struct tern_addr){
	        .family = 4, .port = tern_engine_port(srv), .ip = {127, 0, 0, 1}};
	tern_engine_public_key(srv, o.server_pub);
	return o;
}

/* Sends, waiting while the budget is full. */
static int send_all(struct tern_handle *h, uint16_t stream, const void *m, size_t len)
{
	for (;;) {
		int rc = tern_handle_send(h, stream, m, len);
		if (rc != TERN_EAGAIN)
			return rc;
		if (tern_handle_wait_writable(h, len, 10 * SEC) == TERN_ECLOSED)
			return TERN_ECLOSED;
	}
}

/* A message: stream (2 bytes), seq (4), then bytes that depend on both. */
static size_t make_msg(uint8_t *buf, uint16_t stream, uint32_t seq)
{
	size_t len = 6 + (seq * 37u + stream * 11u) % 3000u;

	memcpy(buf, &stream, 2);
	memcpy(buf + 2, &seq, 4);
	for (size_t i = 6; i < len; i++)
		buf[i] = (uint8_t)(i * 31u + seq + stream);
	return len;
}

static bool msg_ok(const uint8_t *buf, size_t len, uint16_t stream, uint32_t seq)
{
	uint8_t want[3100];

	return len == make_msg(want, stream, seq) && memcmp(buf, want, len) == 0;
}

/* ---- the echo server: one thread per accepted handle ---- */

struct echo {
	struct tern_handle *h;
	pthread_t th;
	struct tern_reason why;
	atomic_int end; /* the last recv's result */
};

static void *echo_main(void *arg)
{
	struct echo *ec = arg;
	uint8_t buf[4096];
	struct tern_recv_info info;
	int n;

	while ((n = tern_handle_recv(ec->h, buf, sizeof(buf), &info, 20 * SEC)) > 0) {
		if (info.stream == TERN_STREAM_DATAGRAMS)
			tern_handle_send_datagram(ec->h, buf, (size_t)n);
		else if (send_all(ec->h, info.stream, buf, (size_t)n) != 0)
			break;
	}
	tern_handle_reason(ec->h, &ec->why);
	atomic_store(&ec->end, n);
	return NULL;
}

struct server {
	struct tern_hlistener *l;
	struct echo ec[NH];
	atomic_int accepted;
	pthread_t th;
};

static void *accept_main(void *arg)
{
	struct server *sv = arg;

	for (int i = 0; i < NH; i++) {
		if (tern_handle_accept(sv->l, 10 * SEC, &sv->ec[i].h) != 0)
			return NULL;
		pthread_create(&sv->ec[i].th, NULL, echo_main, &sv->ec[i]);
		atomic_fetch_add(&sv->accepted, 1);
	}
	return NULL;
}

/* ---- clients: NSEND senders and one receiver per handle ---- */

struct client {
	struct tern_handle *h;
	pthread_t send_th[NSEND], recv_th;
	atomic_int send_errs, got, bad, dgrams;
};

struct sender {
	struct client *c;
	uint16_t stream;
};

static void *send_main(void *arg)
{
	struct sender *s = arg;
	uint8_t buf[3100];

	for (uint32_t seq = 0; seq < NMSG; seq++)
		if (send_all(s->c->h, s->stream, buf, make_msg(buf, s->stream, seq)) != 0)
			atomic_fetch_add(&s->c->send_errs, 1);
	return NULL;
}

static void take(struct client *c, uint32_t *next, const uint8_t *buf, int n,
                 const struct tern_recv_info *info)
{
	if (info->stream == TERN_STREAM_DATAGRAMS) {
		atomic_fetch_add(&c->dgrams, n == 5 && memcmp(buf, "dgram", 5) == 0);
		return;
	}
	if (info->stream >= NSEND || !msg_ok(buf, (size_t)n, info->stream, next[info->stream]))
		atomic_fetch_add(&c->bad, 1);
	else
		next[info->stream]++;
	atomic_fetch_add(&c->got, 1);
}

/* Every message, then a datagram echoed at least once: datagrams are
 * unreliable (a loaded loopback drops packets), so it is offered up to 50
 * times. */
static void *recv_main(void *arg)
{
	struct client *c = arg;
	uint32_t next[NSEND] = {0};
	uint8_t buf[4096];
	struct tern_recv_info info;
	int n = 1;

	while (n > 0 && atomic_load(&c->got) < NSEND * NMSG) {
		n = tern_handle_recv(c->h, buf, sizeof(buf), &info, 20 * SEC);
		if (n > 0)
			take(c, next, buf, n, &info);
	}
	for (int i = 0; n != TERN_ECLOSED && i < 50 && atomic_load(&c->dgrams) == 0; i++) {
		tern_handle_send_datagram(c->h, "dgram", 5);
		n = tern_handle_recv(c->h, buf, sizeof(buf), &info, SEC / 10);
		if (n > 0)
			take(c, next, buf, n, &info);
	}
	return NULL;
}

static void test_concurrent(struct tern_engine *srv, struct tern_engine *cli)
{
	static struct server sv;
	static struct client cl[NH];
	static struct sender snd[NH][NSEND];
	struct tern_connect_opts o = opts_for(srv, VP_ECHO);

	CHECK_EQ(tern_handle_listen(srv, VP_ECHO, 0, 64, &sv.l), 0);
	pthread_create(&sv.th, NULL, accept_main, &sv);
	for (int i = 0; i < NH; i++) {
		CHECK_EQ(tern_handle_connect(cli, &o, 5 * SEC, &cl[i].h, NULL), 0);
		if (!cl[i].h)
			return;
		CHECK_EQ(tern_handle_state(cl[i].h), TERN_HANDLE_OPEN);
	}
	pthread_join(sv.th, NULL);
	CHECK_EQ(atomic_load(&sv.accepted), NH);
	for (int i = 0; i < NH; i++) {
		pthread_create(&cl[i].recv_th, NULL, recv_main, &cl[i]);
		for (int s = 0; s < NSEND; s++) {
			snd[i][s] = (struct sender){&cl[i], (uint16_t)s};
			pthread_create(&cl[i].send_th[s], NULL, send_main, &snd[i][s]);
		}
		CHECK_EQ(tern_handle_send_datagram(cl[i].h, "dgram", 5), 0);
	}
	for (int i = 0; i < NH; i++) {
		for (int s = 0; s < NSEND; s++)
			pthread_join(cl[i].send_th[s], NULL);
		pthread_join(cl[i].recv_th, NULL);
		CHECK_EQ(atomic_load(&cl[i].send_errs), 0);
		CHECK_EQ(atomic_load(&cl[i].got), NSEND * NMSG);
		CHECK_EQ(atomic_load(&cl[i].bad), 0);
		CHECK(atomic_load(&cl[i].dgrams) >= 1);
		CHECK_EQ(tern_handle_close(cl[i].h), 0);
	}
	for (int i = 0; i < atomic_load(&sv.accepted); i++) {
		pthread_join(sv.ec[i].th, NULL);
		CHECK_EQ(atomic_load(&sv.ec[i].end), TERN_ECLOSED);
		CHECK(sv.ec[i].why.remote);
		CHECK(!sv.ec[i].why.app);
		CHECK_EQ(sv.ec[i].why.code, 0);
		tern_handle_release(sv.ec[i].h);
	}
	for (int i = 0; i < NH; i++)
		tern_handle_release(cl[i].h);
	tern_hlistener_close(sv.l);
}

/* ---- a slow reader ---- */

static void bulk_fill(uint8_t *buf, uint32_t seq)
{
	for (size_t i = 0; i < BULK_LEN; i++)
		buf[i] = (uint8_t)(i ^ (seq * 7u));
	memcpy(buf, &seq, 4);
}

struct bulk {
	struct tern_hlistener *l;
	atomic_int sent, rc;
};

static void *bulk_main(void *arg)
{
	struct bulk *b = arg;
	static uint8_t buf[BULK_LEN];
	struct tern_handle *h;
	int rc = tern_handle_accept(b->l, 10 * SEC, &h);

	for (uint32_t seq = 0; rc == 0 && seq < NBULK; seq++) {
		bulk_fill(buf, seq);
		rc = send_all(h, 0, buf, BULK_LEN);
		atomic_fetch_add(&b->sent, rc == 0);
	}
	if (rc == 0)
		rc = tern_handle_close(h);
	atomic_store(&b->rc, rc);
	if (h)
		tern_handle_release(h);
	return NULL;
}

static void test_slow_reader(struct tern_engine *srv, struct tern_engine *cli)
{
	static uint8_t buf[BULK_LEN], want[BULK_LEN];
	struct bulk b = {0};
	struct tern_connect_opts o = opts_for(srv, VP_BULK);
	struct tern_handle_stats st;
	struct tern_reason why;
	struct tern_handle *h;
	pthread_t th;
	int ok = 0, n = 0;

	CHECK_EQ(tern_handle_listen(srv, VP_BULK, 0, 0, &b.l), 0);
	pthread_create(&th, NULL, bulk_main, &b);
	CHECK_EQ(tern_handle_connect(cli, &o, 5 * SEC, &h, NULL), 0);
	if (!h)
		return;
	WAIT_FOR((tern_handle_stats(h, &st), st.holds > 0), 30000);
	CHECK(st.holds > 0); /* the ring filled and the worker held credit */
	for (uint32_t seq = 0; seq < NBULK; seq++) {
		n = tern_handle_recv(h, buf, sizeof(buf), NULL, 20 * SEC);
		bulk_fill(want, seq);
		ok += n == (int)BULK_LEN && memcmp(buf, want, BULK_LEN) == 0;
	}
	CHECK_EQ(ok, NBULK);
	pthread_join(th, NULL);
	CHECK_EQ(atomic_load(&b.rc), 0);
	CHECK_EQ(tern_handle_recv(h, buf, sizeof(buf), NULL, 20 * SEC), TERN_ECLOSED);
	CHECK_EQ(tern_handle_reason(h, &why), 0);
	CHECK(why.remote);
	CHECK_EQ(why.code, 0);
	tern_handle_stats(h, &st);
	CHECK_EQ(st.msgs_received, NBULK);
	/* held outside the ring: at most one connection window (1 MiB) plus one
	 * stream window (256 KiB) plus the message that found the ring full */
	CHECK(st.held_bytes_max > 0);
	CHECK(st.held_bytes_max <= (1u << 20) + (256u << 10) + BULK_LEN);
	tern_handle_release(h);
	tern_hlistener_close(b.l);
}

/* The peer sends more than the receive ring holds (4 MiB), within the
 * credit it was granted, and closes; the reader has read nothing yet. What
 * the worker held outside the ring is handed over at the close: every
 * message is read, in order, then TERN_ECLOSED. */
static void test_close_while_held(struct tern_engine *srv, struct tern_engine *cli)
{
	enum { N = (TERN_HANDLE_RECV_BYTES / BULK_LEN) + 6 };
	static uint8_t buf[BULK_LEN], want[BULK_LEN];
	struct tern_connect_opts o = opts_for(srv, VP_HELD);
	struct tern_hlistener *l;
	struct tern_handle *c = NULL, *s = NULL;
	struct tern_handle_stats st;
	int ok = 0, sent = 0;

	CHECK_EQ(tern_handle_listen(srv, VP_HELD, 0, 0, &l), 0);
	CHECK_EQ(tern_handle_connect(cli, &o, 5 * SEC, &c, NULL), 0);
	CHECK_EQ(tern_handle_accept(l, 5 * SEC, &s), 0);
	if (!c || !s)
		return;
	for (uint32_t seq = 0; seq < N; seq++) {
		bulk_fill(buf, seq);
		sent += send_all(s, 0, buf, BULK_LEN) == 0;
	}
	CHECK_EQ(sent, N);
	CHECK_EQ(tern_handle_close(s), 0);
	CHECK_EQ(tern_handle_recv(s, buf, sizeof(buf), NULL, 10 * SEC), TERN_ECLOSED);
	WAIT_FOR(tern_handle_state(c) == TERN_HANDLE_CLOSED, 10000);
	CHECK_EQ(tern_handle_state(c), TERN_HANDLE_CLOSED);
	tern_handle_stats(c, &st);
	CHECK(st.holds > 0);
	CHECK(st.held_bytes_max >= 6 * BULK_LEN);
	for (uint32_t seq = 0; seq < N; seq++) {
		int n = tern_handle_recv(c, buf, sizeof(buf), NULL, 0);
		bulk_fill(want, seq);
		ok += n == (int)BULK_LEN && memcmp(buf, want, BULK_LEN) == 0;
	}
	CHECK_EQ(ok, N);
	CHECK_EQ(tern_handle_recv(c, buf, sizeof(buf), NULL, 0), TERN_ECLOSED);
	tern_handle_release(c);
	tern_handle_release(s);
	tern_hlistener_close(l);
}

/* ---- finishing streams ---- */

#define FIN_BIG (64u << 10)
#define FIN_NBIG 40 /* 2.5 MiB: past the session's send buffer, within the ring */

/* A message of seq on stream: seq, stream, then bytes that depend on both. */
static void fin_fill(uint8_t *buf, size_t len, uint16_t stream, uint32_t seq)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 13u + seq + stream * 7u);
	memcpy(buf, &seq, 4);
	memcpy(buf + 4, &stream, 2);
}

/* Reads stream's messages of len bytes, seq 0..n-1 in order, then its fin;
 * other streams' messages are not expected. Returns how many matched. */
static int read_until_fin(struct tern_handle *h, uint16_t stream, size_t len, int n)
{
	static uint8_t buf[FIN_BIG], want[FIN_BIG];
	struct tern_recv_info info;
	int ok = 0, rc;

	for (int seq = 0; seq < n; seq++) {
		rc = tern_handle_recv(h, buf, sizeof(buf), &info, 20 * SEC);
		fin_fill(want, len, stream, (uint32_t)seq);
		ok += rc == (int)len && !info.fin && info.stream == stream &&
		      memcmp(buf, want, len) == 0;
	}
	rc = tern_handle_recv(h, buf, sizeof(buf), &info, 20 * SEC);
	CHECK_EQ(rc, 0);
	CHECK(info.fin);
	CHECK_EQ(info.stream, stream);
	CHECK_EQ(info.len, 0);
	CHECK_EQ(info.lane, -1);
	return ok;
}

/* Messages the session cannot take at once (the send list on the worker),
 * then the fin: it waits behind them. Then the errors, and the other
 * direction of the same stream, which stays open. */
static void test_fin_after_messages(struct tern_handle *c, struct tern_handle *s)
{
	static uint8_t msgs[FIN_NBIG][FIN_BIG], buf[FIN_BIG];
	struct tern_recv_info info;
	struct tern_handle_stats st;
	int sent = 0;

	for (uint32_t seq = 0; seq < FIN_NBIG; seq++)
		fin_fill(msgs[seq], FIN_BIG, 1, seq);
	/* back to back (filled first: filling is slow under TSan), so the
	 * application outruns the network and the session pushes back */
	for (uint32_t seq = 0; seq < FIN_NBIG; seq++)
		sent += send_all(c, 1, msgs[seq], FIN_BIG) == 0;
	CHECK_EQ(sent, FIN_NBIG);
	CHECK_EQ(tern_handle_finish(c, 1), 0);
	CHECK_EQ(tern_handle_finish(c, 1), TERN_ECLOSED); /* finished already */
	CHECK_EQ(tern_handle_send(c, 1, "late", 4), TERN_ECLOSED);
	CHECK_EQ(tern_handle_state(c), TERN_HANDLE_OPEN); /* the session is not over */
	CHECK_EQ(tern_handle_finish(c, 16), TERN_EINVAL); /* max_streams is 16 */
	CHECK_EQ(read_until_fin(s, 1, FIN_BIG, FIN_NBIG), FIN_NBIG);
	tern_handle_stats(c, &st);
	CHECK(st.send_retries > 0); /* the fin really queued behind held-up sends */
	/* nothing follows the fin; the peer's side of stream 1 is still open */
	CHECK_EQ(tern_handle_recv(s, buf, sizeof(buf), &info, 0), TERN_EAGAIN);
	CHECK_EQ(tern_handle_send(s, 1, "back", 4), 0);
	CHECK_EQ(tern_handle_recv(c, buf, sizeof(buf), &info, 5 * SEC), 4);
	CHECK(!info.fin);
	CHECK_EQ(info.stream, 1);
	CHECK_EQ(tern_handle_finish(s, 1), 0);
	CHECK_EQ(tern_handle_recv(c, NULL, 0, NULL, 5 * SEC), 0); /* a fin needs no buffer */
}

/* Streams 2, 3 and 4 interleaved, each finished: each stream's messages in
 * order, then its fin; stream 5 is not finished and still carries data. */
static void test_fin_streams(struct tern_handle *c, struct tern_handle *s)
{
	enum { PER = 20 };
	uint8_t buf[512];
	struct tern_recv_info info;
	uint32_t next[6] = {0};
	int fins = 0, bad = 0, rc;

	for (uint32_t seq = 0; seq < PER; seq++)
		for (uint16_t st = 2; st <= 4; st++) {
			fin_fill(buf, 100 + seq, st, seq);
			CHECK_EQ(send_all(c, st, buf, 100 + seq), 0);
		}
	for (uint16_t st = 4; st >= 2; st--)
		CHECK_EQ(tern_handle_finish(c, st), 0);
	CHECK_EQ(tern_handle_send(c, 5, "open", 4), 0);
	while (fins < 3 && (rc = tern_handle_recv(s, buf, sizeof(buf), &info, 20 * SEC)) >= 0) {
		uint8_t want[512];
		if (info.stream < 2 || info.stream > 5) {
			bad++;
		} else if (info.fin) {
			bad += next[info.stream] != PER;
			fins++;
		} else if (info.stream < 5) {
			fin_fill(want, 100 + next[info.stream], info.stream, next[info.stream]);
			bad += rc != (int)(100 + next[info.stream]) ||
			       memcmp(buf, want, (size_t)rc) != 0;
			next[info.stream]++;
		}
	}
	CHECK_EQ(fins, 3);
	CHECK_EQ(bad, 0);
	CHECK_EQ(next[2] + next[3] + next[4], 3 * PER);
}

/* Three threads send on one stream while the main thread finishes it:
 * every send that returned 0 arrives, before the fin; the rest were
 * refused with TERN_ECLOSED. */
struct racer {
	struct tern_handle *h;
	pthread_t th;
	atomic_int *total;
	int ok, closed, other;
};

static void *race_main(void *arg)
{
	struct racer *r = arg;
	uint8_t buf[64] = {0};

	for (int i = 0; i < 100000; i++) {
		int rc = tern_handle_send(r->h, 6, buf, sizeof(buf));
		if (rc == TERN_EAGAIN) {
			tern_handle_wait_writable(r->h, sizeof(buf), SEC);
			continue;
		}
		r->ok += rc == 0;
		r->closed += rc == TERN_ECLOSED;
		r->other += rc != 0 && rc != TERN_ECLOSED;
		if (rc != 0)
			break;
		atomic_fetch_add(r->total, 1);
	}
	return NULL;
}

static void test_fin_race(struct tern_handle *c, struct tern_handle *s)
{
	struct racer r[3];
	atomic_int total = 0;
	struct tern_recv_info info;
	uint8_t buf[64];
	int ok = 0, got = 0, rc;

	for (int i = 0; i < 3; i++) {
		r[i] = (struct racer){.h = c, .total = &total};
		pthread_create(&r[i].th, NULL, race_main, &r[i]);
	}
	WAIT_FOR(atomic_load(&total) >= 2000, 20000);
	CHECK_EQ(tern_handle_finish(c, 6), 0);
	for (int i = 0; i < 3; i++) {
		pthread_join(r[i].th, NULL);
		ok += r[i].ok;
		CHECK_EQ(r[i].closed, 1);
		CHECK_EQ(r[i].other, 0);
	}
	while ((rc = tern_handle_recv(s, buf, sizeof(buf), &info, 20 * SEC)) > 0)
		got += info.stream == 6;
	CHECK_EQ(rc, 0);
	CHECK(info.fin);
	CHECK_EQ(info.stream, 6);
	CHECK_EQ(got, ok);
}

/* The receiver reads nothing while the peer sends more than the ring holds
 * (within the credit it was granted, as in test_close_while_held), then
 * the fin: the worker holds the last messages back, and the fin behind
 * them, which still comes last. */
static void test_fin_held(struct tern_handle *c, struct tern_handle *s)
{
	enum { N = (TERN_HANDLE_RECV_BYTES / BULK_LEN) + 6 };
	static uint8_t buf[BULK_LEN];
	struct tern_handle_stats st0, st;
	int sent = 0;

	tern_handle_stats(s, &st0);
	for (uint32_t seq = 0; seq < N; seq++) {
		fin_fill(buf, BULK_LEN, 7, seq);
		sent += send_all(c, 7, buf, BULK_LEN) == 0;
	}
	CHECK_EQ(sent, N);
	CHECK_EQ(tern_handle_finish(c, 7), 0);
	WAIT_FOR((tern_handle_stats(s, &st), st.msgs_received - st0.msgs_received == N), 20000);
	CHECK_EQ(st.msgs_received - st0.msgs_received, N); /* all arrived, unread */
	CHECK(st.holds > st0.holds);                       /* some of them held back */
	CHECK_EQ(read_until_fin(s, 7, BULK_LEN, N), N);
}

static void test_finish(struct tern_engine *srv, struct tern_engine *cli)
{
	struct tern_connect_opts o = opts_for(srv, VP_FIN);
	struct tern_hlistener *l;
	struct tern_handle *c = NULL, *s = NULL;

	CHECK_EQ(tern_handle_listen(srv, VP_FIN, 0, 0, &l), 0);
	CHECK_EQ(tern_handle_connect(cli, &o, 5 * SEC, &c, NULL), 0);
	CHECK_EQ(tern_handle_accept(l, 5 * SEC, &s), 0);
	if (c && s) {
		test_fin_after_messages(c, s);
		test_fin_streams(c, s);
		test_fin_race(c, s);
		test_fin_held(c, s);
		CHECK_EQ(tern_handle_close(c), 0);
		CHECK_EQ(tern_handle_recv(s, NULL, 0, NULL, 10 * SEC), TERN_ECLOSED);
	}
	tern_handle_release(c);
	tern_handle_release(s);
	tern_hlistener_close(l);
}

/* ---- timeouts, sizes, refusals, closed handles ---- */

static void test_recv_edges(struct tern_handle *c, struct tern_handle *s)
{
	struct tern_recv_info info;
	char buf[64];

	CHECK_EQ(tern_handle_recv(c, buf, sizeof(buf), NULL, 0), TERN_EAGAIN);
	CHECK_EQ(tern_handle_recv(c, buf, sizeof(buf), NULL, 30000), TERN_ETIMEDOUT);
	CHECK_EQ(tern_handle_recv(c, NULL, 5, NULL, 0), TERN_EINVAL);
	CHECK_EQ(tern_handle_send(s, 2, "hello world", 11), 0);
	CHECK_EQ(tern_handle_recv(c, buf, 4, &info, 5 * SEC), TERN_ETOOBIG);
	CHECK_EQ(info.len, 11);
	CHECK_EQ(info.stream, 2);
	CHECK_EQ(tern_handle_recv(c, buf, sizeof(buf), &info, 0), 11);
	CHECK(memcmp(buf, "hello world", 11) == 0);
	CHECK_EQ(info.lane, -1);
	CHECK_EQ(tern_handle_send(s, 0, "", 0), TERN_EINVAL);
	CHECK_EQ(tern_handle_send(s, 16, "x", 1), TERN_EINVAL); /* max_streams is 16 */
	CHECK_EQ(tern_handle_send(s, 0, buf, (64u << 20) + 1), TERN_ETOOBIG);
	CHECK_EQ(tern_handle_send_datagram(s, buf, tern_handle_max_datagram(s) + 1), TERN_ETOOBIG);
}

static void test_closed_calls(struct tern_handle *c, struct tern_handle *s)
{
	struct tern_reason why;
	char buf[8];

	CHECK_EQ(tern_handle_reason(s, &why), TERN_ESTATE);
	CHECK_EQ(tern_handle_abort(c, 42, "bye"), 0);
	CHECK_EQ(tern_handle_recv(s, buf, sizeof(buf), NULL, 5 * SEC), TERN_ECLOSED);
	CHECK_EQ(tern_handle_state(s), TERN_HANDLE_CLOSED);
	CHECK_EQ(tern_handle_finish(s, 0), TERN_ECLOSED); /* the reason says why: */
	CHECK_EQ(tern_handle_reason(s, &why), 0);
	CHECK(why.remote);
	CHECK(why.app);
	CHECK_EQ(why.code, 42);
	CHECK(strcmp(why.text, "bye") == 0);
	CHECK_EQ(tern_handle_send(s, 0, "x", 1), TERN_ECLOSED);
	CHECK_EQ(tern_handle_send_datagram(s, "x", 1), TERN_ECLOSED);
	CHECK_EQ(tern_handle_close(s), TERN_ECLOSED);
	CHECK_EQ(tern_handle_abort(s, 1, NULL), TERN_ECLOSED);
	CHECK_EQ(tern_handle_wait_writable(s, 1, 0), TERN_ECLOSED);
	CHECK_EQ(tern_handle_recv(c, buf, sizeof(buf), NULL, 5 * SEC), TERN_ECLOSED);
	CHECK_EQ(tern_handle_reason(c, &why), 0);
	CHECK(!why.remote);
	CHECK(why.app);
	CHECK_EQ(why.code, 42);
	CHECK_EQ(tern_handle_send(c, 0, "x", 1), TERN_ECLOSED);
	CHECK_EQ(tern_handle_finish(c, 0), TERN_ECLOSED);
	CHECK_EQ(tern_handle_reason(c, &why), 0);
	CHECK(strcmp(why.what, "") != 0);
}

static void test_misc(struct tern_engine *srv, struct tern_engine *cli)
{
	struct tern_connect_opts o = opts_for(srv, VP_MISC), bad = opts_for(srv, 99);
	struct tern_hlistener *l, *dup;
	struct tern_handle *c, *s, *none;
	struct tern_reason why;

	CHECK_EQ(tern_handle_listen(srv, VP_MISC, 0, 4, &l), 0);
	CHECK_EQ(tern_handle_listen(srv, VP_MISC, 0, 4, &dup), TERN_EINVAL);
	CHECK(dup == NULL);
	CHECK_EQ(tern_handle_accept(l, 0, &s), TERN_EAGAIN);
	CHECK_EQ(tern_handle_accept(l, 20000, &s), TERN_ETIMEDOUT);
	CHECK_EQ(tern_handle_connect_async(cli, &o, &c), 0);
	CHECK_EQ(tern_handle_wait_open(c, 5 * SEC), 0);
	CHECK(tern_handle_max_datagram(c) > 1000);
	CHECK_EQ(tern_handle_accept(l, 5 * SEC, &s), 0);
	if (!s)
		return;
	test_recv_edges(c, s);
	test_closed_calls(c, s);
	tern_handle_release(c);
	tern_handle_release(s); /* outlived its session: freed now */

	CHECK_EQ(tern_handle_connect(cli, &bad, 5 * SEC, &none, &why), TERN_ECLOSED);
	CHECK(none == NULL);
	CHECK_EQ(why.code, TERN_CONNECT_REFUSED);
	CHECK(why.remote);
	tern_hlistener_close(l);
}

/* ---- engines freed under live handles ---- */

static void test_engine_gone(void)
{
	struct tern_engine *srv = engine(1), *cli = engine(1);
	struct tern_connect_opts o;
	struct tern_hlistener *l;
	struct tern_handle *c = NULL, *waiting = NULL;
	struct tern_reason why;
	char buf[8];

	if (!srv || !cli)
		return;
	o = opts_for(srv, VP_MISC);
	CHECK_EQ(tern_handle_listen(srv, VP_MISC, 0, 0, &l), 0);
	CHECK_EQ(tern_engine_start(srv), 0);
	CHECK_EQ(tern_engine_start(cli), 0);
	CHECK_EQ(tern_handle_connect(cli, &o, 5 * SEC, &c, NULL), 0);
	CHECK_EQ(tern_handle_connect(cli, &o, 5 * SEC, &waiting, NULL), 0);
	CHECK_EQ(tern_handle_send(c, 0, "queued", 6), 0);
	tern_handle_release(waiting); /* closing while the engines go */
	tern_engine_free(cli);
	tern_engine_free(srv); /* one accepted handle is still queued on l */
	CHECK_EQ(tern_handle_send(c, 0, "x", 1), TERN_ECLOSED);
	CHECK_EQ(tern_handle_recv(c, buf, sizeof(buf), NULL, SEC), TERN_ECLOSED);
	CHECK_EQ(tern_handle_reason(c, &why), 0);
	CHECK_EQ(why.err, TERN_ECLOSED);
	CHECK(strcmp(why.what, "the engine was freed") == 0);
	tern_handle_release(c);
	tern_hlistener_close(l);
}

int main(void)
{
	struct tern_engine *srv = engine(2), *cli = engine(2);

	if (!srv || !cli) {
		fprintf(stderr, "handle: cannot open io_uring sockets here; skipping\n");
		return 77;
	}
	CHECK_EQ(tern_engine_start(srv), 0);
	CHECK_EQ(tern_engine_start(cli), 0);
	test_concurrent(srv, cli);
	test_slow_reader(srv, cli);
	test_close_while_held(srv, cli);
	test_finish(srv, cli);
	test_misc(srv, cli);
	CHECK_EQ(tern_engine_stop(cli, 5 * SEC), 0);
	CHECK_EQ(tern_engine_stop(srv, 5 * SEC), 0);
	tern_engine_free(cli);
	tern_engine_free(srv);
	test_engine_gone();
	return tern_check_result("handle");
}
