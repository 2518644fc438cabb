/* Event loop over the simulated network (see simnet.h). One step: take every
 * packet that has arrived by now and hand it to its session with its source
 * address, fire due timers, then let every session write what it may, each
 * packet to the address the session names (its peer, or a new address it is
 * validating). Virtual time then jumps to the next arrival or timer. */
#include <stdlib.h>

#include "simnet_int.h"

struct tern_simnet *tern_simnet_new(uint64_t seed)
{
	struct tern_simnet *net = calloc(1, sizeof(*net));

	if (!net)
		return NULL;
	net->sim = tern_sim_new(seed);
	if (!net->sim) {
		free(net);
		return NULL;
	}
	tern_wheel_init(&net->wheel, 0);
	net->seed = seed;
	return net;
}

void tern_simnet_free(struct tern_simnet *net)
{
	if (!net)
		return;
	for (size_t i = 0; i < net->n; i++)
		free(net->conns[i]);
	free(net->conns);
	tern_simnet_hosts_free(net);
	tern_sim_free(net->sim);
	free(net);
}

void tern_simnet_set_lateness(struct tern_simnet *net, tern_time max_us)
{
	net->late_max = max_us;
	net->late_rng = net->seed * 0x9e3779b97f4a7c15ull | 1;
}

/* How late a timer set for `when` fires: uniform in [0, late_max]. */
static tern_time lateness(struct tern_simnet *net)
{
	uint64_t x = net->late_rng;

	if (!net->late_max)
		return 0;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	net->late_rng = x;
	return (tern_time)(x % (net->late_max + 1));
}

struct tern_sim *tern_simnet_sim(struct tern_simnet *net)
{
	return net->sim;
}

tern_time tern_simnet_now(const struct tern_simnet *net)
{
	return tern_sim_now(net->sim);
}

const struct tern_simnet_stats *tern_simnet_stats(const struct tern_simnet *net)
{
	return &net->stats;
}

static void on_timer(struct tern_timer *t, tern_time now)
{
	struct conn *c = t->arg;

	tern_session_on_timeout(c->s, now);
}

int tern_simnet_attach(struct tern_simnet *net, int ep, struct tern_session *s,
                       const struct tern_addr *peer)
{
	struct conn *c;

	if (!s || !peer || ep < 0)
		return TERN_EINVAL;
	if (net->n == net->cap) {
		size_t cap = net->cap ? 2 * net->cap : 8;
		struct conn **v = realloc(net->conns, cap * sizeof(*v));
		if (!v)
			return TERN_ENOMEM;
		net->conns = v;
		net->cap = cap;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return TERN_ENOMEM;
	*c = (struct conn){.s = s, .ep = ep, .net = net};
	tern_timer_init(&c->timer, on_timer, c);
	tern_session_set_peer(s, peer);
	tern_session_seed_random(s, net->seed * 0xd1342543de82ef95ull + ++net->attached);
	net->conns[net->n++] = c;
	return 0;
}

void tern_simnet_detach(struct tern_simnet *net, struct tern_session *s)
{
	for (size_t i = 0; i < net->n; i++) {
		if (net->conns[i]->s != s)
			continue;
		tern_timer_cancel(&net->wheel, &net->conns[i]->timer);
		free(net->conns[i]);
		net->conns[i] = net->conns[--net->n];
		return;
	}
}

static struct conn *route(struct tern_simnet *net, int ep, const uint8_t *p, size_t len)
{
	if (len < 1 + TERN_CID_LEN)
		return NULL;
	for (size_t i = 0; i < net->n; i++) {
		struct conn *c = net->conns[i];
		if (c->ep == ep && memcmp(c->s->local_cid, p + 1, TERN_CID_LEN) == 0)
			return c;
	}
	return NULL;
}

static void receive(struct tern_simnet *net, tern_time now)
{
	struct tern_pkt pkts[RX_BURST];

	/* every endpoint: one with nothing attached drops what reaches it */
	for (int ep = 0; ep < tern_sim_endpoints(net->sim); ep++) {
		unsigned n;
		while ((n = tern_sim_recv(net->sim, ep, pkts, RX_BURST)) > 0) {
			for (unsigned i = 0; i < n; i++) {
				struct conn *c = route(net, ep, pkts[i].data, pkts[i].len);
				if (!c && (tern_simnet_to_host(net, ep, &pkts[i]) ||
				           tern_simnet_to_tap(net, ep, &pkts[i])))
					continue;
				if (!c)
					net->stats.unroutable++;
				else if (tern_session_recv_from(c->s, pkts[i].data, pkts[i].len,
				                                &pkts[i].peer, now) < 0)
					net->stats.dropped++;
			}
		}
	}
}

static void flush(struct tern_simnet *net, struct conn *c, tern_time now)
{
	struct tern_addr to;
	tern_time when;
	int n = 1;

	for (unsigned i = 0; i < FLUSH_BURST && n > 0; i++) {
		n = tern_session_write_to(c->s, net->buf, sizeof(net->buf), now, &to);
		if (n > 0)
			tern_sim_send(net->sim, c->ep, &to, net->buf, (size_t)n);
	}
	when = tern_session_deadline(c->s, now);
	if (when == TERN_TIME_NEVER)
		tern_timer_cancel(&net->wheel, &c->timer);
	else
		tern_timer_arm(&net->wheel, &c->timer,
		               when > now ? when + lateness(net) : now); /* a sleep may end late */
}

/* A session's memory budget is spent: close the greediest open session
 * whose budget is, as a worker does (here every session is in one place,
 * so nothing needs comparing across threads). One per step. */
static void check_budgets(struct tern_simnet *net, tern_time now)
{
	struct tern_session *greediest = NULL;

	for (size_t i = 0; i < net->n; i++) {
		struct tern_session *s = net->conns[i]->s;
		if (s->state < TERN_SESSION_CLOSED && tern_budget_full(s->mem.budget) &&
		    tern_session_buffers(s) > (greediest ? tern_session_buffers(greediest) : 0))
			greediest = s;
	}
	if (greediest)
		tern_session_close_memory(greediest, now);
}

int tern_simnet_run(struct tern_simnet *net, tern_time until, bool (*stop)(void *ctx), void *ctx)
{
	for (;;) {
		tern_time now = tern_sim_now(net->sim), next;

		net->stats.steps++;
		receive(net, now);
		tern_simnet_hosts_step(net, now);
		tern_wheel_advance(&net->wheel, now);
		check_budgets(net, now);
		for (size_t i = 0; i < net->n; i++)
			flush(net, net->conns[i], now);
		if (stop && stop(ctx))
			return 0;
		next = TERN_MIN(tern_sim_next_event(net->sim), tern_wheel_next(&net->wheel));
		next = TERN_MIN(next, tern_simnet_hosts_next(net));
		if (next == TERN_TIME_NEVER)
			return TERN_EAGAIN;
		if (next > until)
			return TERN_ETIMEDOUT;
		tern_sim_advance(net->sim, TERN_MAX(next, now + 1));
	}
}
