/* The DPDK backend's counters as "name value" lines (tern_dpdk_stats_text):
 * link state, the port's own counters (rte_eth_stats), tern's per-queue
 * counters with every drop reason named, and the neighbour table's. Text,
 * so tern-server can print it and scripts can grep it without a struct
 * that changes with every counter added. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include <rte_ethdev.h>

#include "io/dpdk_int.h"

struct out {
	char *buf;
	size_t len, used;
};

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->used + 1 >= o->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->used = TERN_MIN(o->used + (size_t)n, o->len - 1);
}

static void link_and_port(struct out *o, struct tern_dpdk_port *p)
{
	struct rte_eth_link link;
	struct rte_eth_stats s;

	memset(&link, 0, sizeof(link));
	rte_eth_link_get_nowait(p->port_id, &link);
	put(o, "link.up %u\nlink.speed_mbps %u\nlink.full_duplex %u\n", link.link_status,
	    link.link_speed, link.link_duplex);
	put(o, "port.id %u\nport.queues %u\nport.rss %u\nport.tx_udp_csum_offload %u\n", p->port_id,
	    p->nq, p->rss, p->tx_udp_csum);
	put(o, "port.rx_csum_offload %u\nport.udp_port %u\nport.vlan %u\n", p->rx_csum, p->nif.port,
	    p->nif.vlan);
	put(o, "port.socket %d\nport.mbuf_pools %u\n", p->socket, p->npools);
	for (unsigned k = 0; k < p->npools; k++)
		put(o, "pool%u.socket %d\npool%u.size %u\npool%u.free %u\n", k, p->pool_socket[k],
		    k, p->pools[k]->size, k, rte_mempool_avail_count(p->pools[k]));
	for (unsigned i = 0; i < p->nq; i++)
		put(o, "q%u.socket %d\n", i, p->q[i].socket);
	if (rte_eth_stats_get(p->port_id, &s) != 0)
		return;
	put(o,
	    "port.ipackets %" PRIu64 "\nport.opackets %" PRIu64 "\nport.ibytes %" PRIu64
	    "\nport.obytes %" PRIu64 "\n",
	    s.ipackets, s.opackets, s.ibytes, s.obytes);
	put(o,
	    "port.imissed %" PRIu64 "\nport.ierrors %" PRIu64 "\nport.oerrors %" PRIu64
	    "\nport.rx_nombuf %" PRIu64 "\n",
	    s.imissed, s.ierrors, s.oerrors, s.rx_nombuf);
	for (unsigned i = 0; i < p->nq && i < RTE_ETHDEV_QUEUE_STAT_CNTRS; i++)
		put(o, "q%u.hw_ipackets %" PRIu64 "\nq%u.hw_opackets %" PRIu64 "\n", i,
		    s.q_ipackets[i], i, s.q_opackets[i]);
}

#define Q(name)                                                                                    \
	{                                                                                          \
#name, offsetof(struct tern_dpdk_qstats, name)                                     \
	}
static const struct {
	const char *name;
	size_t off;
} qcounters[] = {
        Q(rx_frames),       Q(rx_bytes),        Q(rx_udp),      Q(rx_multiseg),
        Q(arp_requests_in), Q(arp_replies_out), Q(arp_learned), Q(ns_in),
        Q(na_out),          Q(na_in),           Q(echo4),       Q(echo6),
        Q(echo_limited),    Q(tx_frames),       Q(tx_bytes),    Q(tx_retries),
        Q(tx_full_dropped), Q(tx_alloc_fail),   Q(tx_no_route), Q(tx_unreachable),
        Q(tx_neigh_full),   Q(tx_too_big),      Q(ctl_out),     Q(ctl_dropped),
        Q(tx_hw_csum),      Q(tx_sw_csum),
};

static void queue(struct out *o, unsigned i, const struct tern_dpdk_qstats *st)
{
	for (size_t c = 0; c < TERN_ARRAY_LEN(qcounters); c++)
		put(o, "q%u.%s %" PRIu64 "\n", i, qcounters[c].name,
		    *(const uint64_t *)((const char *)st + qcounters[c].off));
	for (int d = 1; d < TERN_NET_DROP_MAX; d++)
		put(o, "q%u.drop_%s %" PRIu64 "\n", i, tern_net_drop_names[d], st->drop[d]);
}

static void neigh(struct out *o, struct tern_dpdk_port *p)
{
	struct tern_neigh_stats s;

	rte_spinlock_lock(&p->nlock);
	s = p->neigh.stats;
	rte_spinlock_unlock(&p->nlock);
	put(o,
	    "neigh.created %" PRIu64 "\nneigh.resolved %" PRIu64 "\nneigh.evicted %" PRIu64
	    "\nneigh.expired %" PRIu64 "\nneigh.failed %" PRIu64 "\n",
	    s.created, s.resolved, s.evicted, s.expired, s.failed);
	put(o,
	    "neigh.queued %" PRIu64 "\nneigh.queue_full %" PRIu64 "\nneigh.queue_failed %" PRIu64
	    "\nneigh.probes %" PRIu64 "\nneigh.conflicts %" PRIu64 "\n",
	    s.queued, s.queue_full, s.queue_failed, s.probes, s.conflicts);
}

size_t tern_dpdk_stats_text(struct tern_dpdk_port *p, char *buf, size_t len)
{
	struct out o = {.buf = buf, .len = len};

	if (!len)
		return 0;
	buf[0] = '\0';
	link_and_port(&o, p);
	for (unsigned i = 0; i < p->nq; i++)
		queue(&o, i, &p->q[i].st);
	neigh(&o, p);
	return o.used;
}
