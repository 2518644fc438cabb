/* The neighbour table (see dpdk_neigh.h): a set-associative array (256
 * buckets of 4 ways, so a lookup touches one cache line's worth of keys and
 * nothing is ever allocated) and a FIFO of packets awaiting resolution,
 * bounded for all neighbours together so an unreachable peer cannot pin the
 * mbuf pool. A full bucket evicts its least recently confirmed entry,
 * preferring ones without waiting packets. The bucket is SipHash of the
 * address under the table's random key: any station can make us create
 * entries (an ARP request for us from an address it picks), and with an
 * unkeyed hash four chosen addresses would evict the gateway. */
#include "crypto/random.h"
#include "io/dpdk_neigh.h"

void tern_neigh_cfg_default(struct tern_neigh_cfg *cfg)
{
	cfg->reachable = 30 * TERN_SEC;
	cfg->gc = 600 * TERN_SEC;
	cfg->retrans = 1 * TERN_SEC;
	cfg->failed_hold = 3 * TERN_SEC;
	cfg->max_probes = 3;
	cfg->pending_max = 128;
}

void tern_neigh_init(struct tern_neigh *nt, const struct tern_neigh_cfg *cfg)
{
	memset(nt, 0, sizeof(*nt));
	tern_random_bytes(nt->key, sizeof(nt->key));
	if (cfg)
		nt->cfg = *cfg;
	else
		tern_neigh_cfg_default(&nt->cfg);
	if (nt->cfg.pending_max > TERN_NEIGH_PENDING_MAX)
		nt->cfg.pending_max = TERN_NEIGH_PENDING_MAX;
	if (nt->cfg.max_probes == 0)
		nt->cfg.max_probes = 1;
}

static size_t alen(uint8_t family)
{
	return family == 4 ? 4 : 16;
}

/* The first way of ip's bucket. The lengths (4 or 16) keep the families apart. */
static struct tern_neigh_entry *bucket(struct tern_neigh *nt, const struct tern_addr *ip)
{
	uint64_t h = tern_shorthash(nt->key, ip->ip, alen(ip->family));

	return &nt->e[(h % TERN_NEIGH_BUCKETS) * TERN_NEIGH_WAYS];
}

static struct tern_neigh_entry *find(struct tern_neigh *nt, const struct tern_addr *ip)
{
	struct tern_neigh_entry *b = bucket(nt, ip);

	for (unsigned w = 0; w < TERN_NEIGH_WAYS; w++)
		if (b[w].state != TERN_NB_FREE && b[w].family == ip->family &&
		    !memcmp(b[w].ip, ip->ip, alen(ip->family)))
			return &b[w];
	return NULL;
}

const struct tern_neigh_entry *tern_neigh_find(const struct tern_neigh *nt,
                                               const struct tern_addr *ip)
{
	return find((struct tern_neigh *)nt, ip);
}

/* Drops (drop) or sends (mac != NULL) the packets waiting on slot. */
static void flush(struct tern_neigh *nt, unsigned slot, const uint8_t *mac,
                  const struct tern_neigh_io *io)
{
	unsigned keep = 0;

	for (unsigned i = 0; i < nt->npend; i++) {
		if (nt->pend[i].slot != slot) {
			nt->pend[keep++] = nt->pend[i];
		} else if (mac) {
			io->emit(io->ctx, nt->pend[i].pkt, mac);
		} else {
			io->drop(io->ctx, nt->pend[i].pkt);
			nt->stats.queue_failed++;
		}
	}
	nt->npend = keep;
}

static struct tern_neigh_entry *victim(struct tern_neigh_entry *b)
{
	struct tern_neigh_entry *v = NULL;

	for (unsigned w = 0; w < TERN_NEIGH_WAYS; w++) {
		if (b[w].state == TERN_NB_FREE)
			return &b[w];
		if (b[w].state == TERN_NB_INCOMPLETE)
			continue;
		if (!v || b[w].updated < v->updated)
			v = &b[w];
	}
	if (v)
		return v;
	for (unsigned w = 0; w < TERN_NEIGH_WAYS; w++) /* every way is resolving */
		if (!v || b[w].updated < v->updated)
			v = &b[w];
	return v;
}

static struct tern_neigh_entry *create(struct tern_neigh *nt, const struct tern_addr *ip,
                                       tern_time now, const struct tern_neigh_io *io)
{
	struct tern_neigh_entry *e = victim(bucket(nt, ip));

	if (e->state != TERN_NB_FREE) {
		nt->stats.evicted++;
		flush(nt, (unsigned)(e - nt->e), NULL, io);
	}
	memset(e, 0, sizeof(*e));
	e->family = ip->family;
	memcpy(e->ip, ip->ip, alen(ip->family));
	e->updated = now;
	nt->stats.created++;
	return e;
}

static void probe(struct tern_neigh *nt, struct tern_neigh_entry *e, tern_time now,
                  const struct tern_neigh_io *io)
{
	struct tern_addr a = {.family = e->family};

	memcpy(a.ip, e->ip, alen(e->family));
	e->probed = now;
	e->probes++;
	nt->stats.probes++;
	io->probe(io->ctx, &a, e->state == TERN_NB_STALE ? e->mac : NULL);
}

enum tern_neigh_result tern_neigh_resolve(struct tern_neigh *nt, const struct tern_addr *hop,
                                          tern_time now, uint8_t mac[TERN_ETH_ALEN],
                                          const struct tern_neigh_io *io)
{
	struct tern_neigh_entry *e = find(nt, hop);

	if (!e) {
		e = create(nt, hop, now, io);
		e->state = TERN_NB_INCOMPLETE;
		probe(nt, e, now, io);
		return TERN_NEIGH_PENDING;
	}
	switch (e->state) {
	case TERN_NB_INCOMPLETE:
		return TERN_NEIGH_PENDING;
	case TERN_NB_FAILED:
		return TERN_NEIGH_UNREACHABLE;
	case TERN_NB_STALE:
		if (now - e->probed < nt->cfg.retrans)
			break;
		if (e->probes >= nt->cfg.max_probes) {
			/* the known MAC stopped answering: ask the whole link again */
			e->state = TERN_NB_INCOMPLETE;
			e->probes = 0;
			e->updated = now;
			probe(nt, e, now, io);
			return TERN_NEIGH_PENDING;
		}
		probe(nt, e, now, io);
		break;
	default:
		break;
	}
	memcpy(mac, e->mac, TERN_ETH_ALEN);
	return TERN_NEIGH_FOUND;
}

int tern_neigh_enqueue(struct tern_neigh *nt, const struct tern_addr *hop, void *pkt)
{
	struct tern_neigh_entry *e = find(nt, hop);

	if (!e || e->state != TERN_NB_INCOMPLETE || nt->npend >= nt->cfg.pending_max) {
		nt->stats.queue_full++;
		return TERN_ELIMIT;
	}
	nt->pend[nt->npend].pkt = pkt;
	nt->pend[nt->npend].slot = (uint16_t)(e - nt->e);
	nt->npend++;
	nt->stats.queued++;
	return 0;
}

/* e's MAC is (now) mac: REACHABLE if the message answered us, else STALE. */
static void settle(struct tern_neigh_entry *e, const uint8_t *mac, unsigned learn, tern_time now)
{
	memcpy(e->mac, mac, TERN_ETH_ALEN);
	e->state = (learn & TERN_NET_LEARN_SOLICITED) ? TERN_NB_REACHABLE : TERN_NB_STALE;
	e->updated = now;
	e->probes = 0;
}

void tern_neigh_learn(struct tern_neigh *nt, const struct tern_addr *ip, const uint8_t *mac,
                      unsigned learn, tern_time now, const struct tern_neigh_io *io)
{
	struct tern_neigh_entry *e = find(nt, ip);

	if (!e) {
		if (mac && (learn & TERN_NET_LEARN_CREATE))
			settle(create(nt, ip, now, io), mac, learn, now);
		return;
	}
	if (e->state == TERN_NB_INCOMPLETE || e->state == TERN_NB_FAILED) {
		if (!mac)
			return; /* §7.2.5: nothing to complete it with */
		nt->stats.resolved++;
		settle(e, mac, learn, now);
		flush(nt, (unsigned)(e - nt->e), e->mac, io);
	} else if (mac && memcmp(mac, e->mac, TERN_ETH_ALEN)) {
		if (learn & TERN_NET_LEARN_OVERRIDE) {
			settle(e, mac, learn, now);
			return;
		}
		nt->stats.conflicts++; /* keep the known MAC; check it before trusting it again */
		if (e->state == TERN_NB_REACHABLE)
			e->state = TERN_NB_STALE;
	} else if (learn & TERN_NET_LEARN_SOLICITED) {
		e->state = TERN_NB_REACHABLE;
		e->updated = now;
		e->probes = 0;
	}
}

static void tick_one(struct tern_neigh *nt, struct tern_neigh_entry *e, tern_time now,
                     const struct tern_neigh_io *io)
{
	tern_time age = now - e->updated;

	switch (e->state) {
	case TERN_NB_INCOMPLETE:
		if (now - e->probed < nt->cfg.retrans)
			break;
		if (e->probes < nt->cfg.max_probes) {
			probe(nt, e, now, io);
			break;
		}
		e->state = TERN_NB_FAILED;
		e->updated = now;
		nt->stats.failed++;
		flush(nt, (unsigned)(e - nt->e), NULL, io);
		break;
	case TERN_NB_REACHABLE:
		if (age >= nt->cfg.reachable)
			e->state = TERN_NB_STALE;
		break;
	case TERN_NB_STALE:
	case TERN_NB_FAILED:
		if (age >= (e->state == TERN_NB_STALE ? nt->cfg.gc : nt->cfg.failed_hold)) {
			e->state = TERN_NB_FREE;
			nt->stats.expired++;
		}
		break;
	default:
		break;
	}
}

void tern_neigh_tick(struct tern_neigh *nt, tern_time now, const struct tern_neigh_io *io)
{
	for (unsigned i = 0; i < TERN_ARRAY_LEN(nt->e); i++)
		if (nt->e[i].state != TERN_NB_FREE)
			tick_one(nt, &nt->e[i], now, io);
}

void tern_neigh_clear(struct tern_neigh *nt, const struct tern_neigh_io *io)
{
	for (unsigned i = 0; i < nt->npend; i++)
		io->drop(io->ctx, nt->pend[i].pkt);
	nt->npend = 0;
	memset(nt->e, 0, sizeof(nt->e));
}
