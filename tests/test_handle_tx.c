/* The handle send ring's application side (io/handle_tx.c), against a
 * stand-in engine whose worker never runs, so every step is deterministic:
 *  - the ring fills to its fin reserve (8 bytes per stream) and then
 *    refuses sends and wait_writable; every stream's fin still
 *    finds room, a send after a fin is refused, a second fin too;
 *  - one notice per burst: the first record posts the ring's embedded
 *    TERN_MSG_CALL (with a reference), later ones post nothing;
 *  - datagrams go through a ring of their own, not held by stream data;
 *  - a full inbox: the send is still accepted and the notice is posted by
 *    the handle's next call; a queued notice run with no worker (the
 *    engine going) drops its reference;
 *  - records never straddle the ring's end (a pad fills the lap), and an
 *    empty ring starts over at offset 0;
 *  - a message over half the ring is a malloc'd copy taken only into an
 *    empty ring, freed with the handle if never sent (ASan's leak check).
 * The worker side (draining into a session) is exercised by test_handle
 * and test_handle_mem on real engines. */
#include <stdlib.h>
#include <string.h>

#include "io/handle_int.h"
#include "tests/check.h"

#define BIG 200000 /* over half the default 256 KiB ring */

struct fake {
	struct tern_engine e;
	struct tern_ring *inbox;
	struct wslot ws;
};

static struct fake *fake_engine(void)
{
	struct fake *f = calloc(1, sizeof(*f));

	if (!f || tern_ring_new(&f->inbox, 4, TERN_RING_MPSC) < 0)
		abort();
	tern_engine_cfg_default(&f->e.cfg);
	f->e.n = 1;
	f->e.ws = &f->ws;
	f->e.inboxes = &f->inbox;
	f->ws.e = &f->e;
	pthread_mutex_init(&f->e.lock, NULL);
	return f;
}

static void fake_free(struct fake *f)
{
	tern_hub_free(&f->e);
	tern_ring_free(f->inbox);
	pthread_mutex_destroy(&f->e.lock);
	free(f);
}

/* An open handle, as connect_async and on_connect leave it. */
static struct tern_handle *open_handle(struct fake *f)
{
	struct tern_handle *h = tern_handle_new(&f->e, tern_hub_get(&f->e));

	if (!h)
		abort();
	atomic_store(&h->refs, 2); /* the application's and wref */
	atomic_store(&h->app_refs, 1);
	atomic_store(&h->wref, true);
	h->max_dgram = 1200;
	atomic_store(&h->state, TERN_HANDLE_OPEN);
	return h;
}

/* The worker's side of the end: closed, then the application lets go. */
static void close_handle(struct tern_handle *h)
{
	static const struct tern_reason why = {.err = TERN_ECLOSED, .what = "test"};

	tern_handle_end(h, &why);
	tern_handle_release(h);
}

/* Runs what the inbox holds as tern_worker_free would (no worker): how
 * many were notices of ring r. */
static unsigned drop_inbox(struct fake *f, const struct txring *r)
{
	struct tern_msg m;
	unsigned calls = 0;

	while (tern_ring_dequeue(f->inbox, &m) == 0) {
		struct tern_call *call = m.ptr;
		calls += m.type == TERN_MSG_CALL && call == &r->call;
		call->fn(NULL, call->arg, 0);
	}
	return calls;
}

static size_t used(struct tern_handle *h)
{
	return atomic_load(&h->tx.tail) - atomic_load(&h->tx.head);
}

static void test_full_and_fins(struct fake *f)
{
	struct tern_handle *h = open_handle(f);
	static uint8_t msg[1000];
	unsigned sent = 0, fins = 0;

	while (tern_handle_send(h, 0, msg, sizeof(msg)) == 0)
		sent++;
	while (tern_handle_send(h, 0, msg, 1) == 0) /* 16 bytes each */
		sent++;
	CHECK(sent > 0);
	CHECK(used(h) <= h->tx.cap - h->tx.reserve);
	CHECK(used(h) + 16 > h->tx.cap - h->tx.reserve);
	CHECK_EQ(tern_handle_send(h, 1, msg, sizeof(msg)), TERN_EAGAIN);
	CHECK_EQ(tern_handle_send(h, 0, msg, BIG), TERN_EAGAIN); /* the ring is not empty */
	CHECK_EQ(tern_handle_wait_writable(h, 1, 0), TERN_ETIMEDOUT);
	CHECK_EQ(tern_handle_finish(h, 0), 0); /* the reserve */
	CHECK_EQ(tern_handle_send(h, 0, msg, 1), TERN_ECLOSED);
	CHECK_EQ(tern_handle_finish(h, 0), TERN_ECLOSED);
	for (uint16_t s = 1; s < h->max_streams; s++)
		fins += tern_handle_finish(h, s) == 0;
	CHECK_EQ(fins, h->max_streams - 1); /* every stream's fin finds room */
	CHECK_EQ(atomic_load(&h->refs), 3); /* the tx ring's one notice */
	CHECK_EQ(drop_inbox(f, &h->tx), 1);
	CHECK_EQ(atomic_load(&h->refs), 2);
	close_handle(h);
}

/* Datagrams have a ring of their own: a full tx ring does not hold them. */
static void test_datagrams(struct fake *f)
{
	struct tern_handle *h = open_handle(f);
	static uint8_t msg[1200];
	unsigned n = 0;

	while (tern_handle_send(h, 0, msg, sizeof(msg)) == 0)
		;
	while (tern_handle_send_datagram(h, msg, sizeof(msg)) == 0)
		n++;
	CHECK_EQ(n, TX_DGRAM_CAP / (8 + sizeof(msg)));
	CHECK_EQ(tern_handle_send_datagram(h, msg, sizeof(msg)), TERN_EAGAIN);
	CHECK_EQ(tern_handle_send_datagram(h, msg, sizeof(msg) + 1), TERN_ETOOBIG);
	CHECK_EQ(atomic_load(&h->refs), 4); /* one notice per ring */
	CHECK_EQ(drop_inbox(f, &h->dg), 1);
	CHECK_EQ(atomic_load(&h->refs), 2);
	close_handle(h);
}

static void test_inbox_full(struct fake *f)
{
	struct tern_handle *h = open_handle(f);
	struct tern_msg filler = {.type = TERN_MSG_USER};
	struct tern_msg m;

	while (tern_ring_enqueue(f->inbox, &filler) == 0)
		;
	CHECK_EQ(tern_handle_send(h, 0, "a", 1), 0); /* accepted: the notice is owed */
	CHECK(atomic_load(&h->tx.repost));
	CHECK_EQ(atomic_load(&h->refs), 2);
	CHECK_EQ(tern_handle_send(h, 0, "b", 1), 0);
	while (tern_ring_dequeue(f->inbox, &m) == 0)
		;                                        /* the worker catches up */
	CHECK_EQ(tern_handle_wait_writable(h, 1, 0), 0); /* the next call posts it */
	CHECK(!atomic_load(&h->tx.repost));
	CHECK_EQ(atomic_load(&h->refs), 3); /* the queued notice's */
	CHECK_EQ(drop_inbox(f, &h->tx), 1);
	CHECK_EQ(atomic_load(&h->refs), 2);
	close_handle(h);
}

/* Walks the records from head to tail: none crosses the ring's end. */
static bool records_ok(struct tern_handle *h)
{
	size_t at = atomic_load(&h->tx.head), tail = atomic_load(&h->tx.tail);

	while (at != tail) {
		const struct txrec *r = (const void *)(h->tx.buf + (at & (h->tx.cap - 1)));
		size_t n = r->op == TX_PAD
		                   ? r->len
		                   : sizeof(*r) + ((r->len + TX_ALIGN - 1) & ~(TX_ALIGN - 1u));
		if (r->op < TX_SEND || r->op > TX_PAD || (at & (h->tx.cap - 1)) + n > h->tx.cap)
			return false;
		at += n;
	}
	return true;
}

static void test_wrap(struct fake *f)
{
	struct tern_handle *h = open_handle(f);
	static uint8_t msg[3000];
	size_t tail;

	for (int lap = 0; lap < 5; lap++) {
		while (tern_handle_send(h, 0, msg, sizeof(msg) - (size_t)lap * 8) == 0)
			;
		CHECK(records_ok(h));
		/* the worker takes all but the last record */
		atomic_store(&h->tx.head,
		             atomic_load(&h->tx.tail) - 8 - (sizeof(msg) - (size_t)lap * 8));
		CHECK(records_ok(h));
	}
	atomic_store(&h->tx.head, atomic_load(&h->tx.tail)); /* empty */
	tail = atomic_load(&h->tx.tail);
	CHECK(tail % h->tx.cap >= h->tx.reserve + 112); /* a pad to the end and 112 fit */
	CHECK_EQ(tern_handle_send(h, 0, msg, 100), 0);
	CHECK_EQ(atomic_load(&h->tx.tail) % h->tx.cap, 8 + 104); /* started over at 0 */
	CHECK(records_ok(h));
	drop_inbox(f, &h->tx);
	close_handle(h);
}

static void test_big(struct fake *f)
{
	struct tern_handle *h = open_handle(f);
	uint8_t *big = calloc(1, BIG);

	if (!big)
		return;
	CHECK(tern_handle_tx_room(h, BIG)); /* the ring is empty */
	CHECK_EQ(tern_handle_send(h, 0, big, BIG), 0);
	CHECK_EQ(used(h), 16); /* a header and a pointer */
	CHECK(!tern_handle_tx_room(h, BIG));
	CHECK_EQ(tern_handle_send(h, 0, big, BIG), TERN_EAGAIN);
	CHECK_EQ(tern_handle_send(h, 0, big, 100), 0); /* small ones queue behind it */
	drop_inbox(f, &h->tx);
	close_handle(h); /* the copy is freed with the ring (LSan) */
	free(big);
}

int main(void)
{
	struct fake *f = fake_engine();

	test_full_and_fins(f);
	test_datagrams(f);
	test_inbox_full(f);
	test_wrap(f);
	test_big(f);
	fake_free(f);
	return tern_check_result("handle_tx");
}
