/* The worker's run-to-completion poll (see worker.h). Order within a poll:
 * receive and dispatch a burst, apply the inbox, fire timers, flush the
 * sessions that something touched, transmit. Sessions that reached CLOSED
 * are retired during the flush. */
#include <stdlib.h>

#include "conn.h"
#include "cid.h"
#include "wire.h"

#define INBOX_BURST 32

struct tern_wpkt *tern_wpkt_new(const struct tern_addr *addr, const uint8_t *data, size_t len)
{
	struct tern_wpkt *p = malloc(sizeof(*p) + len);

	if (!p)
		return NULL;
	p->addr = *addr;
	p->worker = 0;
	p->len = (uint16_t)len;
	memcpy(p->data, data, len);
	return p;
}

static void on_timer(struct tern_timer *t, tern_time now)
{
	struct tern_conn *c = t->arg;

	tern_session_on_timeout(c->s, now);
	tern_worker_touch(c->w, c);
}

int tern_worker_init(struct tern_worker *w, const struct tern_worker_cfg *cfg)
{
	struct tern_table_cfg tc = {.max_entries = cfg->max_sessions, .seed = cfg->seed};

	if (!cfg->ops || !cfg->inbox || !cfg->to_control || !cfg->inboxes || !cfg->max_sessions)
		return TERN_EINVAL;
	memset(w, 0, sizeof(*w));
	w->id = cfg->id;
	w->nworkers = cfg->nworkers;
	w->ops = cfg->ops;
	w->be = cfg->be;
	w->inbox = cfg->inbox;
	w->to_control = cfg->to_control;
	w->inboxes = cfg->inboxes;
	w->wake = cfg->wake;
	w->clock = cfg->clock;
	w->wake_ctx = cfg->wake_ctx;
	w->local = cfg->local;
	w->mac = cfg->mac;
	w->budget = cfg->budget;
	tern_wheel_init(&w->wheel, cfg->now);
	return tern_table_init(&w->table, &tc);
}

void tern_worker_touch(struct tern_worker *w, struct tern_conn *c)
{
	if (c->in_dirty)
		return;
	c->in_dirty = true;
	c->dirty_next = w->dirty;
	w->dirty = c;
}

size_t tern_worker_sessions(const struct tern_worker *w)
{
	return tern_table_count(&w->table);
}

size_t tern_worker_mem(const struct tern_worker *w)
{
	size_t m = tern_table_capacity(&w->table) * sizeof(struct tern_table_slot);
	struct tern_table_iter it;
	uint64_t key;
	void *val;

	tern_table_iter_init(&w->table, &it);
	while (tern_table_next(&w->table, &it, &key, &val))
		m += sizeof(struct tern_conn) + tern_session_mem(((struct tern_conn *)val)->s);
	return m;
}

tern_time tern_worker_deadline(const struct tern_worker *w)
{
	return tern_wheel_next(&w->wheel);
}

tern_time tern_worker_idle_time(struct tern_worker *w, tern_time now, unsigned work)
{
	tern_time idle, next;

	if (work)
		w->last_work = now;
	idle = now > w->last_work ? now - w->last_work : 0;
	if (idle < TERN_WORKER_SPIN_US || (w->busy && idle < TERN_WORKER_BUSY_POLL_US))
		return 0;
	if (now - w->last_rx < TERN_MIN(2 * w->rx_gap, (tern_time)TERN_WORKER_BUSY_POLL_US))
		return 0; /* the next burst is due before a sleep and a wake-up would pay */
	next = tern_wheel_next(&w->wheel);
	next = next > now ? next - now : 0;
	if (next < TERN_WORKER_WAKE_COST_US)
		return 0;
	w->stats.sleeps++;
	return TERN_MIN(next, (tern_time)TERN_WORKER_MAX_SLEEP_US);
}

/* Keeps the count of sessions with data in flight or queued. */
static void note_busy(struct tern_worker *w, struct tern_conn *c, bool busy)
{
	if (busy == c->busy)
		return;
	c->busy = busy;
	if (busy)
		w->busy++;
	else
		w->busy--;
}

/* ---- transmit ---- */

static void tx_flush(struct tern_worker *w)
{
	unsigned done = 0;

	while (done < w->ntx) {
		int n = w->ops->tx_burst(w->be, w->tx + done, w->ntx - done);
		if (n <= 0)
			break;
		done += (unsigned)n;
	}
	for (unsigned i = done; i < w->ntx; i++) {
		w->ops->buf_free(w->be, &w->tx[i]); /* the backend refused: count, never block */
		w->stats.tx_dropped++;
	}
	w->ntx = 0;
}

/* A free transmit slot with a buffer, flushing a full burst first. */
static struct tern_pkt *tx_slot(struct tern_worker *w)
{
	struct tern_pkt *p;

	if (w->ntx == TERN_WORKER_BURST)
		tx_flush(w);
	p = &w->tx[w->ntx];
	memset(p, 0, sizeof(*p));
	return w->ops->buf_alloc(w->be, p) == 0 ? p : NULL;
}

static void tx_raw(struct tern_worker *w, const struct tern_addr *to, const uint8_t *d, size_t len)
{
	struct tern_pkt *p = tx_slot(w);

	if (!p) {
		w->stats.tx_dropped++;
		return;
	}
	memcpy(p->data, d, len);
	p->len = (uint16_t)len;
	p->peer = *to;
	w->ntx++;
	w->stats.tx_pkts++;
	w->stats.tx_bytes += len;
}

/* Writes everything the session may send now into the burst. */
static void session_flush(struct tern_worker *w, struct tern_conn *c, tern_time now)
{
	for (;;) {
		struct tern_pkt *p = tx_slot(w);
		int n;
		if (!p) {
			w->stats.tx_dropped++;
			return;
		}
		n = tern_session_write_to(c->s, p->data, TERN_MAX_PACKET, now, &p->peer);
		if (n <= 0) {
			w->ops->buf_free(w->be, p);
			return;
		}
		p->len = (uint16_t)n;
		w->ntx++;
		w->stats.tx_pkts++;
		w->stats.tx_bytes += (uint64_t)n;
	}
}

static void retire(struct tern_worker *w, struct tern_conn *c)
{
	note_busy(w, c, false);
	tern_timer_cancel(&w->wheel, &c->timer);
	tern_table_remove(&w->table, c->key);
	w->stats.sessions_closed++;
	tern_conn_free(c);
}

static void flush_dirty(struct tern_worker *w, tern_time now)
{
	while (w->dirty) {
		struct tern_conn *c = w->dirty;
		tern_time when;
		w->dirty = c->dirty_next;
		c->in_dirty = false;
		session_flush(w, c, now);
		if (c->s->state == TERN_SESSION_CLOSED) {
			retire(w, c);
			continue;
		}
		note_busy(w, c,
		          tern_session_busy(c->s) &&
		                  c->s->rec.rtt.smoothed < TERN_WORKER_POLL_RTT_US);
		when = tern_session_deadline(c->s, now);
		if (when == TERN_TIME_NEVER)
			tern_timer_cancel(&w->wheel, &c->timer);
		else
			tern_timer_arm(&w->wheel, &c->timer, TERN_MAX(when, now + 1));
	}
	if (w->ntx)
		tx_flush(w);
}

/* ---- receive ---- */

/* Framing and, where the message has one, mac1 (keyed from our public key:
 * no secret, no DH) are checked here, so a malformed or forged handshake
 * packet costs the worker a hash and allocates nothing. */
static bool handshake_plausible(const struct tern_worker *w, const struct tern_pkt *pkt)
{
	int kind = tern_wire_classify(pkt->data, pkt->len);

	if (kind < 0 || kind == TERN_PKT_DATA)
		return false;
	if ((kind != TERN_PKT_HS_INITIATION && kind != TERN_PKT_HS_RESPONSE) || !w->mac)
		return true; /* cookie replies and refusals: small, checked by the control plane */
	return tern_hs_check_mac1(w->mac, pkt->data, pkt->len, NULL) == 0;
}

static void to_control(struct tern_worker *w, const struct tern_pkt *pkt)
{
	struct tern_wpkt *copy;
	struct tern_msg m = {.type = TERN_MSG_HANDSHAKE};

	if (!handshake_plausible(w, pkt)) {
		w->stats.handshake_dropped++;
		return;
	}
	copy = tern_wpkt_new(&pkt->peer, pkt->data, pkt->len);
	m.ptr = copy;
	if (copy)
		copy->worker = w->id; /* before the enqueue publishes it (TSan caught this) */
	if (!copy || tern_ring_enqueue(w->to_control, &m) < 0) {
		free(copy);
		w->stats.ring_full++;
		return;
	}
	w->stats.handshakes_out++;
	if (w->wake)
		w->wake(w->wake_ctx, -1);
}

static void handoff(struct tern_worker *w, unsigned owner, const struct tern_pkt *pkt)
{
	struct tern_wpkt *copy = tern_wpkt_new(&pkt->peer, pkt->data, pkt->len);
	struct tern_msg m = {.type = TERN_MSG_PACKET, .ptr = copy};

	if (!copy || tern_ring_enqueue(w->inboxes[owner], &m) < 0) {
		free(copy);
		w->stats.ring_full++;
		return;
	}
	w->stats.handoffs_out++;
	if (w->wake)
		w->wake(w->wake_ctx, (int)owner);
}

/* A data packet to c (NULL: no session has its CID). */
static void deliver_to(struct tern_worker *w, struct tern_conn *c, uint8_t *data, size_t len,
                       const struct tern_addr *from, tern_time now)
{
	if (!c) {
		w->stats.unknown_cid++;
		return;
	}
	/* a new source address is validated before the session follows it */
	if (tern_session_recv_from(c->s, data, len, from, now) == 0)
		c->info.peer = *tern_session_peer(c->s);
	tern_worker_touch(w, c);
}

/* A packet another worker handed us. */
static void deliver(struct tern_worker *w, uint8_t *data, size_t len, const struct tern_addr *from,
                    tern_time now)
{
	if (len < 1 + TERN_CID_LEN) {
		w->stats.malformed++;
		return;
	}
	deliver_to(w, tern_table_lookup(&w->table, tern_get_be64(data + 1)), data, len, from, now);
}

/* Routes handshake packets, strays and malformed ones; returns true for a
 * data packet of ours, which the caller delivers after a batched lookup. */
static bool dispatch(struct tern_worker *w, struct tern_pkt *pkt)
{
	unsigned owner;

	w->stats.rx_pkts++;
	w->stats.rx_bytes += pkt->len;
	if (pkt->len == 0 || (pkt->data[0] & TERN_FORM_MASK) == TERN_FORM_HANDSHAKE) {
		if (pkt->len)
			to_control(w, pkt);
		return false;
	}
	if ((pkt->data[0] & TERN_FORM_MASK) != TERN_FORM_DATA || pkt->len < 1 + TERN_CID_LEN) {
		w->stats.malformed++;
		return false;
	}
	owner = tern_cid_owner(pkt->data + 1);
	if (owner != w->id && owner < w->nworkers) {
		handoff(w, owner, pkt);
		return false;
	}
	return true;
}

/* Delivers the burst's data packets of ours, their sessions looked up
 * TERN_TABLE_BURST at a time (the table prefetches their slots together). */
static void deliver_burst(struct tern_worker *w, struct tern_pkt *pkts, const bool *ours,
                          unsigned n, tern_time now)
{
	uint64_t keys[TERN_TABLE_BURST];
	void *conns[TERN_TABLE_BURST];
	unsigned at[TERN_TABLE_BURST];

	for (unsigned i = 0; i < n;) {
		unsigned k = 0;
		for (; i < n && k < TERN_TABLE_BURST; i++) {
			if (!ours[i])
				continue;
			keys[k] = tern_get_be64(pkts[i].data + 1);
			at[k++] = i;
		}
		tern_table_lookup_burst(&w->table, keys, conns, k);
		for (unsigned j = 0; j < k; j++) {
			struct tern_pkt *p = &pkts[at[j]];
			deliver_to(w, conns[j], p->data, p->len, &p->peer, now);
		}
	}
}

/* The average gap between receiving polls, for the idle policy; a gap over
 * BUSY_POLL_US counts as that much (a quiet spell is not a rate). */
static void note_rx(struct tern_worker *w, tern_time now)
{
	tern_time gap = TERN_MIN(now - w->last_rx, (tern_time)TERN_WORKER_BUSY_POLL_US);

	w->rx_gap = (7 * w->rx_gap + gap) / 8;
	w->last_rx = now;
}

static unsigned receive(struct tern_worker *w, tern_time *now)
{
	struct tern_pkt pkts[TERN_WORKER_BURST];
	bool ours[TERN_WORKER_BURST];
	int n = w->ops->rx_burst(w->be, pkts, TERN_WORKER_BURST);

	if (n > 0 && w->clock)
		*now = TERN_MAX(*now, w->clock());
	if (n <= 0)
		return 0;
	note_rx(w, *now);
	for (int i = 0; i < n; i++)
		ours[i] = dispatch(w, &pkts[i]);
	deliver_burst(w, pkts, ours, (unsigned)n, *now);
	for (int i = 0; i < n; i++)
		w->ops->buf_free(w->be, &pkts[i]);
	return (unsigned)n;
}

/* ---- inbox ---- */

/* Draining: a confirmed session closes gracefully (queued messages first);
 * one the peer never confirmed has nothing to flush and goes at once. */
static void drain_one(struct tern_worker *w, struct tern_conn *c, tern_time now)
{
	if (c->s->state == TERN_SESSION_HANDSHAKING)
		tern_session_enter_closed(c->s);
	else
		tern_session_close(c->s, true, 0, NULL, now);
	tern_worker_touch(w, c);
}

static void install(struct tern_worker *w, struct tern_install *in, tern_time now)
{
	struct tern_conn *c = tern_conn_new(w, in);

	if (!c || tern_table_insert(&w->table, c->key, c) < 0) {
		if (c)
			free(c);
		tern_session_free(in->s);
		return;
	}
	tern_timer_init(&c->timer, on_timer, c);
	w->stats.sessions_installed++;
	if (in->first_len)
		tx_raw(w, &in->info.peer, in->first_pkt, in->first_len);
	if (in->initiator)
		tern_conn_established(c);
	if (w->draining)
		drain_one(w, c, now);
	tern_worker_touch(w, c);
}

static void connect_failed(struct tern_connect_ctx *cc, int why)
{
	struct tern_close_reason r = {.err = why == TERN_HS_TIMEOUT ? TERN_ETIMEDOUT : TERN_ECLOSED,
	                              .remote = why != TERN_HS_TIMEOUT,
	                              .code = (uint64_t)why,
	                              .what = tern_connect_fail_name(why)};

	if (cc->handler.on_connect_failed)
		cc->handler.on_connect_failed(cc->handler.ctx, cc->user, &r);
}

static void drain_all(struct tern_worker *w, tern_time now)
{
	struct tern_table_iter it;
	uint64_t key;
	void *val;

	w->draining = true;
	tern_table_iter_init(&w->table, &it);
	while (tern_table_next(&w->table, &it, &key, &val))
		drain_one(w, val, now);
}

static void apply(struct tern_worker *w, struct tern_msg *m, tern_time now)
{
	struct tern_wpkt *p = m->ptr;

	switch (m->type) {
	case TERN_MSG_INSTALL:
		install(w, m->ptr, now);
		break;
	case TERN_MSG_PACKET:
		w->stats.handoffs_in++;
		deliver(w, p->data, p->len, &p->addr, now);
		break;
	case TERN_MSG_SEND:
		tx_raw(w, &p->addr, p->data, p->len);
		break;
	case TERN_MSG_CONNECT_FAILED:
		connect_failed(m->ptr, (int)m->aux);
		break;
	case TERN_MSG_DRAIN:
		drain_all(w, now);
		break;
	case TERN_MSG_CALL: /* fn owns m->ptr: it frees it or keeps it (io/handle.c) */
		((struct tern_call *)m->ptr)->fn(w, ((struct tern_call *)m->ptr)->arg, now);
		return;
	}
	free(m->ptr);
}

static unsigned read_inbox(struct tern_worker *w, tern_time now)
{
	struct tern_msg msgs[INBOX_BURST];
	unsigned n = tern_ring_dequeue_burst(w->inbox, msgs, INBOX_BURST);

	for (unsigned i = 0; i < n; i++)
		apply(w, &msgs[i], now);
	return n;
}

/* ---- the memory budget ---- */

/* The budget is spent: publish this worker's greediest session, and close
 * it if no other worker published a greedier one (ties close both; a stale
 * figure from a worker that has not looked yet delays this by a check). */
static void budget_check(struct tern_worker *w, tern_time now)
{
	struct tern_conn *greediest = NULL;
	struct tern_table_iter it;
	uint64_t key, most = 0;
	void *val;

	w->budget_next = now + TERN_WORKER_BUDGET_CHECK;
	tern_table_iter_init(&w->table, &it);
	while (tern_table_next(&w->table, &it, &key, &val)) {
		struct tern_conn *c = val;
		if (c->s->state < TERN_SESSION_CLOSED && tern_session_buffers(c->s) > most) {
			most = tern_session_buffers(c->s);
			greediest = c;
		}
	}
	/* relaxed: a hint other workers compare with their own; orders nothing */
	__atomic_store_n(&w->budget->top[w->id % TERN_BUDGET_WORKERS], most, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < w->nworkers && i < TERN_BUDGET_WORKERS; i++)
		if (__atomic_load_n(&w->budget->top[i], __ATOMIC_RELAXED) > most)
			return;
	if (!greediest)
		return;
	if (greediest->s->state <= TERN_SESSION_ESTABLISHED)
		w->stats.memory_closes++;
	tern_session_close_memory(greediest->s, now);
	tern_worker_touch(w, greediest);
}

unsigned tern_worker_poll(struct tern_worker *w, tern_time now)
{
	unsigned work = receive(w, &now);

	work += read_inbox(w, now);
	work += tern_wheel_advance(&w->wheel, now);
	if (tern_unlikely(tern_budget_full(w->budget)) && now >= w->budget_next)
		budget_check(w, now);
	flush_dirty(w, now);
	w->stats.polls++;
	w->stats.idle_polls += work == 0;
	return work;
}

void tern_worker_free(struct tern_worker *w)
{
	struct tern_table_iter it;
	struct tern_msg m;
	uint64_t key;
	void *val;

	tern_table_iter_init(&w->table, &it);
	while (tern_table_next(&w->table, &it, &key, &val)) {
		struct tern_conn *c = val;
		c->closed_seen = true; /* no callbacks during teardown */
		tern_conn_free(c);
	}
	tern_table_free(&w->table);
	while (w->inbox && tern_ring_dequeue(w->inbox, &m) == 0) {
		if (m.type == TERN_MSG_CALL) { /* its fn owns ptr: w NULL says it was never run */
			((struct tern_call *)m.ptr)->fn(NULL, ((struct tern_call *)m.ptr)->arg, 0);
			continue;
		}
		if (m.type == TERN_MSG_INSTALL)
			tern_session_free(((struct tern_install *)m.ptr)->s);
		free(m.ptr);
	}
}
