/* Control planes on simulated endpoints, injected traffic and periodic
 * callbacks (see simnet.h). A host's handshake queue and virtual CPU make a
 * handshake flood cost what it would on a real control thread: queueing,
 * backlog (which switches on cookies), and drops when the queue is full. */
#include <stdlib.h>

#include "simnet_int.h"

#define SIM_EPOCH_UNIX 1767225600ull /* 2026-01-01: virtual time 0 on the wall clock */

struct hs_item {
	struct tern_addr src;
	uint16_t len;
	uint8_t data[TERN_MAX_PACKET];
};

struct simhost {
	struct tern_simnet *net;
	int ep;
	struct tern_control *ctl;
	struct tern_simhost_cfg cfg;
	struct hs_item *q; /* ring of cfg.queue items */
	size_t head, n;
	uint64_t drops, rng;
	tern_time busy_until;
	struct tern_timer timer; /* the control plane's deadline */
};

struct tap {
	int ep;
	void (*fn)(void *ctx, const struct tern_pkt *pkt);
	void *ctx;
	struct tap *next;
};

struct periodic {
	struct tern_timer t;
	tern_time period;
	void (*fn)(void *ctx, tern_time now);
	void *ctx;
	struct periodic *next;
	struct tern_simnet *net;
};

/* ---- control plane callbacks ---- */

static void host_send(void *ctx, const struct tern_addr *to, const uint8_t *data, size_t len)
{
	struct simhost *h = ctx;

	tern_sim_send(h->net->sim, h->ep, to, data, len);
}

static int host_install(void *ctx, struct tern_session *s, const struct tern_hs_session_info *info,
                        const uint8_t *first_pkt, size_t first_len)
{
	struct simhost *h = ctx;
	int rc = h->cfg.refuse_install && h->cfg.refuse_install(h->cfg.ctx, info) ? TERN_EAGAIN : 0;

	s->cbs = h->cfg.session_cbs;
	if (rc == 0)
		rc = tern_simnet_attach(h->net, h->ep, s, &info->peer);
	if (rc < 0) {
		tern_session_free(s);
		return rc;
	}
	if (h->cfg.on_session)
		h->cfg.on_session(h->cfg.ctx, s, info);
	if (first_pkt)
		tern_sim_send(h->net->sim, h->ep, &info->peer, first_pkt, first_len);
	return 0;
}

static void host_failed(void *ctx, void *user, int why)
{
	struct simhost *h = ctx;

	if (h->cfg.on_failed)
		h->cfg.on_failed(h->cfg.ctx, user, why);
}

static bool host_listening(void *ctx, uint16_t vport, uint8_t stream_type)
{
	struct simhost *h = ctx;

	return h->cfg.listening(h->cfg.ctx, vport, stream_type);
}

static uint64_t host_wallclock(void *ctx)
{
	struct simhost *h = ctx;

	return (SIM_EPOCH_UNIX * TERN_SEC + tern_sim_now(h->net->sim)) * 1000ull;
}

/* splitmix64: deterministic CIDs per seed and endpoint */
static void host_random(void *ctx, uint8_t *out, size_t n)
{
	struct simhost *h = ctx;

	for (size_t i = 0; i < n; i++) {
		uint64_t z = (h->rng += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		out[i] = (uint8_t)(z ^ (z >> 31));
	}
}

static void host_arm(struct simhost *h, tern_time now)
{
	tern_time t = tern_control_deadline(h->ctl);

	if (t == TERN_TIME_NEVER)
		tern_timer_cancel(&h->net->wheel, &h->timer);
	else
		tern_timer_arm(&h->net->wheel, &h->timer, TERN_MAX(t, now));
}

static void host_timer(struct tern_timer *t, tern_time now)
{
	struct simhost *h = t->arg;

	tern_control_on_timeout(h->ctl, now);
	host_arm(h, now);
}

/* ---- hosts ---- */

static int host_slot(struct tern_simnet *net, int ep)
{
	struct simhost **v;

	if (ep < net->nhosts)
		return net->hosts[ep] ? TERN_EINVAL : 0;
	v = realloc(net->hosts, (size_t)(ep + 1) * sizeof(*v));
	if (!v)
		return TERN_ENOMEM;
	for (int i = net->nhosts; i <= ep; i++)
		v[i] = NULL;
	net->hosts = v;
	net->nhosts = ep + 1;
	return 0;
}

static int host_init(struct simhost *h, const struct tern_simhost_cfg *cfg, const char **err_msg)
{
	struct tern_control_ops ops = {.ctx = h,
	                               .send = host_send,
	                               .install = host_install,
	                               .failed = host_failed,
	                               .wallclock = host_wallclock,
	                               .random = host_random,
	                               .listening = cfg->listening ? host_listening : NULL};

	h->cfg = *cfg;
	if (!h->cfg.queue)
		h->cfg.queue = 1024;
	if (!h->cfg.cost_check)
		h->cfg.cost_check = 1;
	if (!h->cfg.cost_dh)
		h->cfg.cost_dh = 100;
	h->rng = h->net->seed * 0x2545f4914f6cdd1dull + (uint64_t)h->ep;
	tern_timer_init(&h->timer, host_timer, h);
	h->q = calloc(h->cfg.queue, sizeof(*h->q));
	if (!h->q)
		return TERN_ENOMEM;
	return tern_control_new(&h->ctl, &h->cfg.control, &ops, tern_sim_now(h->net->sim), err_msg);
}

int tern_simnet_host(struct tern_simnet *net, int ep, const struct tern_simhost_cfg *cfg,
                     struct tern_control **ctl, const char **err_msg)
{
	struct simhost *h;
	int rc = ep < 0 || !cfg ? TERN_EINVAL : host_slot(net, ep);

	if (rc < 0)
		return rc;
	h = calloc(1, sizeof(*h));
	if (!h)
		return TERN_ENOMEM;
	h->net = net;
	h->ep = ep;
	rc = host_init(h, cfg, err_msg);
	if (rc < 0) {
		free(h->q);
		free(h);
		return rc;
	}
	net->hosts[ep] = h;
	*ctl = h->ctl;
	return 0;
}

static void host_free(struct tern_simnet *net, struct simhost *h)
{
	tern_timer_cancel(&net->wheel, &h->timer);
	tern_control_free(h->ctl);
	free(h->q);
	free(h);
}

void tern_simnet_hosts_free(struct tern_simnet *net)
{
	struct periodic *p, *next;

	for (int i = 0; i < net->nhosts; i++)
		if (net->hosts[i])
			host_free(net, net->hosts[i]);
	free(net->hosts);
	for (p = net->periodic; p; p = next) {
		next = p->next;
		tern_timer_cancel(&net->wheel, &p->t);
		free(p);
	}
	while (net->taps) {
		struct tap *t = net->taps;
		net->taps = t->next;
		free(t);
	}
}

uint64_t tern_simnet_host_queue_drops(const struct tern_simnet *net, int ep)
{
	return ep >= 0 && ep < net->nhosts && net->hosts[ep] ? net->hosts[ep]->drops : 0;
}

static bool enqueue(struct simhost *h, const struct tern_addr *src, const uint8_t *data, size_t len)
{
	struct hs_item *it;

	if (h->n == h->cfg.queue || len > TERN_MAX_PACKET) {
		h->drops++;
		return true; /* taken: dropped like a full ring drops */
	}
	it = &h->q[(h->head + h->n++) % h->cfg.queue];
	it->src = *src;
	it->len = (uint16_t)len;
	memcpy(it->data, data, len);
	return true;
}

/* Handshake packets go to the endpoint's control plane, if it has one. */
bool tern_simnet_to_host(struct tern_simnet *net, int ep, const struct tern_pkt *pkt)
{
	struct simhost *h = ep < net->nhosts ? net->hosts[ep] : NULL;

	if (!h || pkt->len == 0 || (pkt->data[0] & TERN_FORM_MASK) != TERN_FORM_HANDSHAKE)
		return false;
	return enqueue(h, &pkt->peer, pkt->data, pkt->len);
}

static void host_work(struct simhost *h, tern_time now)
{
	const struct tern_control_stats *st = tern_control_stats(h->ctl);

	while (h->n && h->busy_until <= now) {
		struct hs_item *it = &h->q[h->head];
		uint64_t dh = st->dh_initiations + st->connected;
		tern_time cost;

		h->head = (h->head + 1) % h->cfg.queue;
		h->n--;
		tern_control_on_packet(h->ctl, it->data, it->len, &it->src, (unsigned)h->n, 0, now);
		cost = h->cfg.cost_check +
		       (st->dh_initiations + st->connected > dh ? h->cfg.cost_dh : 0);
		h->busy_until = TERN_MAX(h->busy_until, now) + cost;
		tern_control_busy(h->ctl, cost, now); /* as an engine measures its thread */
	}
}

void tern_simnet_hosts_step(struct tern_simnet *net, tern_time now)
{
	for (int i = 0; i < net->nhosts; i++) {
		struct simhost *h = net->hosts[i];
		if (!h)
			continue;
		host_work(h, now);
		host_arm(h, now);
	}
}

tern_time tern_simnet_hosts_next(const struct tern_simnet *net)
{
	tern_time t = TERN_TIME_NEVER;

	for (int i = 0; i < net->nhosts; i++)
		if (net->hosts[i] && net->hosts[i]->n)
			t = TERN_MIN(t, net->hosts[i]->busy_until);
	return t;
}

/* ---- injected traffic and periodic callbacks ---- */

int tern_simnet_inject(struct tern_simnet *net, int ep, const struct tern_addr *src,
                       const uint8_t *data, size_t len)
{
	struct tern_pkt pkt = {.data = (uint8_t *)data, .len = (uint16_t)len, .peer = *src};

	if (ep < 0 || len > TERN_MAX_PACKET)
		return TERN_EINVAL;
	if (tern_simnet_to_host(net, ep, &pkt))
		return 0;
	net->stats.unroutable++; /* spoofed data packets have no session to reach */
	return 0;
}

int tern_simnet_tap(struct tern_simnet *net, int ep,
                    void (*fn)(void *ctx, const struct tern_pkt *pkt), void *ctx)
{
	struct tap *t;

	if (ep < 0 || !fn)
		return TERN_EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return TERN_ENOMEM;
	*t = (struct tap){.ep = ep, .fn = fn, .ctx = ctx, .next = net->taps};
	net->taps = t;
	return 0;
}

bool tern_simnet_to_tap(struct tern_simnet *net, int ep, const struct tern_pkt *pkt)
{
	for (struct tap *t = net->taps; t; t = t->next) {
		if (t->ep == ep) {
			t->fn(t->ctx, pkt);
			return true;
		}
	}
	return false;
}

static void periodic_fire(struct tern_timer *t, tern_time now)
{
	struct periodic *p = t->arg;

	tern_timer_arm(&p->net->wheel, &p->t, now + p->period);
	p->fn(p->ctx, now);
}

int tern_simnet_every(struct tern_simnet *net, tern_time period,
                      void (*fn)(void *ctx, tern_time now), void *ctx)
{
	struct periodic *p;

	if (!period || !fn)
		return TERN_EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return TERN_ENOMEM;
	*p = (struct periodic){
	        .period = period, .fn = fn, .ctx = ctx, .net = net, .next = net->periodic};
	tern_timer_init(&p->t, periodic_fire, p);
	tern_timer_arm(&net->wheel, &p->t, tern_sim_now(net->sim) + period);
	net->periodic = p;
	return 0;
}
