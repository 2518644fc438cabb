/* The DPDK backend's data path: the tern_backend_ops over one ethdev queue
 * pair. rx_burst classifies each frame in its mbuf (io/dpdk_net.h): UDP for
 * our port becomes a tern_pkt pointing into the mbuf (zero-copy; buf_free
 * frees it); ARP, NDP and echo requests are answered by rewriting the
 * frame in place (echo replies within the queue's rate limit); the rest is
 * dropped and counted by reason. tx_burst prepends the headers in the
 * mbuf's headroom, resolves next hops through the shared neighbour table
 * (one lock per burst, one lookup per run of packets to one next hop), and
 * sends the burst, retrying the PMD's leftovers a bounded number of times
 * before freeing and counting them. Frames the backend
 * makes itself (replies, probes, packets released by a resolution) collect
 * in the queue's control array and leave at the end of the call. */
#include <errno.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <rte_ethdev.h>

#include "core/proto.h"
#include "io/dpdk_int.h"

#define NAP_MIN_US 20
#define NAP_MAX_US 1000

static tern_time clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no syscall; the engine's clock */
	return (tern_time)ts.tv_sec * TERN_SEC + (tern_time)ts.tv_nsec / 1000;
}

static tern_time be_now(void *be)
{
	(void)be;
	return clock_us();
}

/* Sends n frames, retrying what the PMD left; frees and counts the rest. */
static void send_frames(struct tern_dpdk_queue *q, struct rte_mbuf **m, unsigned n)
{
	unsigned done = 0;

	for (int tries = 0; done < n && tries < TERN_DPDK_TX_RETRIES; tries++) {
		if (tries)
			q->st.tx_retries++;
		done += rte_eth_tx_burst(q->port_id, q->qid, m + done, (uint16_t)(n - done));
	}
	for (unsigned i = 0; i < done; i++)
		q->st.tx_bytes += m[i]->pkt_len;
	q->st.tx_frames += done;
	if (done < n) {
		q->st.tx_full_dropped += n - done;
		rte_pktmbuf_free_bulk(m + done, n - done);
	}
}

static void ctl_push(struct tern_dpdk_queue *q, struct rte_mbuf *m)
{
	if (q->nctl == TERN_DPDK_CTL_MAX) {
		q->st.ctl_dropped++;
		rte_pktmbuf_free(m);
		return;
	}
	q->ctl[q->nctl++] = m;
	q->st.ctl_out++;
}

static void ctl_flush(struct tern_dpdk_queue *q)
{
	if (q->nctl)
		send_frames(q, q->ctl, q->nctl);
	q->nctl = 0;
}

/* ---- the neighbour table's callbacks (called with nlock held) ---- */

static void nb_emit(void *ctx, void *pkt, const uint8_t mac[TERN_ETH_ALEN])
{
	struct rte_mbuf *m = pkt;

	memcpy(rte_pktmbuf_mtod(m, uint8_t *), mac, TERN_ETH_ALEN);
	ctl_push(ctx, m);
}

static void nb_drop(void *ctx, void *pkt)
{
	(void)ctx;
	rte_pktmbuf_free(pkt);
}

static void nb_probe(void *ctx, const struct tern_addr *ip, const uint8_t *mac)
{
	struct tern_dpdk_queue *q = ctx;
	struct rte_mbuf *m = rte_pktmbuf_alloc(q->pool);
	uint8_t *f;
	size_t len;

	if (!m) {
		q->st.tx_alloc_fail++;
		return;
	}
	f = rte_pktmbuf_mtod(m, uint8_t *);
	len = ip->family == 4
	              ? tern_net_arp_request(&q->p->nif, f, rte_pktmbuf_tailroom(m), ip->ip, mac)
	              : tern_net_nd_solicit(&q->p->nif, f, rte_pktmbuf_tailroom(m), ip->ip, mac);
	if (!len) {
		rte_pktmbuf_free(m);
		return;
	}
	m->data_len = m->pkt_len = (uint32_t)len;
	ctl_push(q, m);
}

static struct tern_neigh_io neigh_io(struct tern_dpdk_queue *q)
{
	return (struct tern_neigh_io){
	        .ctx = q, .emit = nb_emit, .drop = nb_drop, .probe = nb_probe};
}

static void learn(struct tern_dpdk_queue *q, const struct tern_net_rx *rx, tern_time now)
{
	struct tern_neigh_io io = neigh_io(q);

	if (!rx->has_lladdr && !(rx->learn & TERN_NET_LEARN_SOLICITED))
		return; /* without a MAC, only a confirmation teaches anything */
	rte_spinlock_lock(&q->p->nlock);
	tern_neigh_learn(&q->p->neigh, &rx->nb, rx->has_lladdr ? rx->lladdr : NULL, rx->learn, now,
	                 &io);
	rte_spinlock_unlock(&q->p->nlock);
}

static void tick(struct tern_dpdk_queue *q, tern_time now)
{
	struct tern_neigh_io io = neigh_io(q);

	if (q->qid != 0 || now < q->next_tick) /* queue 0 runs the timers for all */
		return;
	q->next_tick = now + TERN_DPDK_TICK_US;
	rte_spinlock_lock(&q->p->nlock);
	tern_neigh_tick(&q->p->neigh, now, &io);
	rte_spinlock_unlock(&q->p->nlock);
}

/* ---- receive ---- */

static unsigned csum_flags(const struct rte_mbuf *m)
{
	uint64_t ip = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
	uint64_t l4 = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;

	return (ip == RTE_MBUF_F_RX_IP_CKSUM_GOOD ? TERN_NET_L3_GOOD : 0) |
	       (ip == RTE_MBUF_F_RX_IP_CKSUM_BAD ? TERN_NET_L3_BAD : 0) |
	       (l4 == RTE_MBUF_F_RX_L4_CKSUM_GOOD ? TERN_NET_L4_GOOD : 0) |
	       (l4 == RTE_MBUF_F_RX_L4_CKSUM_BAD ? TERN_NET_L4_BAD : 0);
}

/* Answers in place (len bytes) or frees m. */
static void reply(struct tern_dpdk_queue *q, struct rte_mbuf *m, size_t len, uint64_t *counter)
{
	if (!len) {
		rte_pktmbuf_free(m);
		return;
	}
	m->data_len = m->pkt_len = (uint32_t)len;
	m->ol_flags = 0;
	(*counter)++;
	ctl_push(q, m);
}

/* Answers an echo request in place within the queue's rate limit. */
static void echo(struct tern_dpdk_queue *q, struct rte_mbuf *m, const struct tern_net_rx *rx,
                 tern_time now)
{
	const struct tern_net_if *nif = &q->p->nif;
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	bool v4 = rx->kind == TERN_NET_KIND_ECHO4;

	if (!tern_net_ratelimit_take(&q->echo_limit, now)) {
		q->st.echo_limited++;
		rte_pktmbuf_free(m);
		return;
	}
	reply(q, m, v4 ? tern_net_echo4_reply(nif, f, rx) : tern_net_echo6_reply(nif, f, rx),
	      v4 ? &q->st.echo4 : &q->st.echo6);
}

static void not_udp(struct tern_dpdk_queue *q, struct rte_mbuf *m, const struct tern_net_rx *rx,
                    tern_time now)
{
	const struct tern_net_if *nif = &q->p->nif;
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	size_t cap = m->buf_len - m->data_off;

	switch (rx->kind) {
	case TERN_NET_KIND_ARP_REQ:
		q->st.arp_requests_in++;
		learn(q, rx, now);
		reply(q, m, tern_net_arp_reply(nif, f, m->data_len, rx), &q->st.arp_replies_out);
		return;
	case TERN_NET_KIND_NS:
		q->st.ns_in++;
		learn(q, rx, now);
		reply(q, m, tern_net_nd_advert(nif, f, cap, rx), &q->st.na_out);
		return;
	case TERN_NET_KIND_ECHO4:
	case TERN_NET_KIND_ECHO6:
		echo(q, m, rx, now);
		return;
	case TERN_NET_KIND_NA:
		q->st.na_in++;
		/* fall through */
	case TERN_NET_KIND_ARP:
		q->st.arp_learned += rx->has_lladdr;
		learn(q, rx, now);
		break;
	default:
		q->st.drop[rx->drop]++;
		break;
	}
	rte_pktmbuf_free(m);
}

/* Returns true when m became *pkt (a UDP datagram for us). */
static bool rx_one(struct tern_dpdk_queue *q, struct rte_mbuf *m, struct tern_pkt *pkt,
                   tern_time now)
{
	struct tern_net_rx rx;

	q->st.rx_frames++;
	q->st.rx_bytes += m->pkt_len;
	if (m->nb_segs > 1 ||
	    ((m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) && rte_vlan_insert(&m) != 0)) {
		q->st.rx_multiseg++; /* tern never sends frames that need chains */
		rte_pktmbuf_free(m);
		return false;
	}
	if (tern_net_parse(&q->p->nif, rte_pktmbuf_mtod(m, uint8_t *), m->data_len, csum_flags(m),
	                   &rx) != TERN_NET_KIND_UDP) {
		not_udp(q, m, &rx, now);
		return false;
	}
	q->st.rx_udp++;
	pkt->data = rte_pktmbuf_mtod_offset(m, uint8_t *, rx.payload_off);
	pkt->len = rx.payload_len;
	pkt->peer = rx.src;
	pkt->rx_time = now;
	pkt->owner = m;
	return true;
}

static int rx_burst(void *be, struct tern_pkt *pkts, unsigned n)
{
	struct tern_dpdk_queue *q = be;
	struct rte_mbuf *m[TERN_DPDK_BURST];
	tern_time now = clock_us();
	uint16_t nb =
	        rte_eth_rx_burst(q->port_id, q->qid, m, (uint16_t)TERN_MIN(n, TERN_DPDK_BURST));
	unsigned k = 0;

	for (uint16_t i = 0; i < nb; i++)
		k += rx_one(q, m[i], &pkts[k], now);
	if (nb)
		q->nap_us = 0;
	tick(q, now);
	ctl_flush(q);
	return (int)k;
}

/* ---- transmit ---- */

static int buf_alloc(void *be, struct tern_pkt *pkt)
{
	struct tern_dpdk_queue *q = be;
	struct rte_mbuf *m = rte_pktmbuf_alloc(q->pool);

	if (!m) {
		q->st.tx_alloc_fail++;
		return TERN_ENOMEM;
	}
	pkt->data = rte_pktmbuf_mtod(m, uint8_t *); /* headroom (128) > TERN_NET_HDR_MAX */
	pkt->owner = m;
	return 0;
}

static void buf_free(void *be, struct tern_pkt *pkt)
{
	(void)be;
	rte_pktmbuf_free(pkt->owner);
	pkt->owner = NULL;
}

/* Prepends the headers (destination MAC filled later if unresolved) and
 * marks the offloads. Returns false if the packet cannot be framed. */
static bool frame(struct tern_dpdk_queue *q, struct rte_mbuf *m, const struct tern_pkt *pkt,
                  const uint8_t *mac)
{
	const struct tern_dpdk_port *p = q->p;
	size_t hlen = tern_net_udp_hdr_len(&p->nif, pkt->peer.family);
	bool v4 = pkt->peer.family == 4;
	uint8_t *f;

	if (pkt->data != rte_pktmbuf_mtod(m, uint8_t *) || pkt->len > TERN_MAX_PACKET ||
	    m->data_off < hlen)
		return false;
	m->data_len = m->pkt_len = pkt->len;
	f = (uint8_t *)rte_pktmbuf_prepend(m, (uint16_t)hlen);
	tern_net_build_udp(&p->nif, f, mac, &pkt->peer, pkt->len, v4 && p->tx_ip_csum,
	                   p->tx_udp_csum);
	m->l2_len = (uint64_t)(hlen - TERN_UDP_HLEN - (v4 ? TERN_IP4_HLEN : TERN_IP6_HLEN));
	m->l3_len = v4 ? TERN_IP4_HLEN : TERN_IP6_HLEN;
	m->ol_flags = v4 ? RTE_MBUF_F_TX_IPV4 : RTE_MBUF_F_TX_IPV6;
	if (v4 && p->tx_ip_csum)
		m->ol_flags |= RTE_MBUF_F_TX_IP_CKSUM;
	if (p->tx_udp_csum) {
		m->ol_flags |= RTE_MBUF_F_TX_UDP_CKSUM;
		q->st.tx_hw_csum++;
	} else {
		q->st.tx_sw_csum++;
	}
	return true;
}

/* The last next hop this burst found: a burst's packets mostly go to one
 * peer, and the table (a SipHash and a bucket scan) is asked once for each
 * run of packets to one next hop. */
struct hop_memo {
	bool valid;
	struct tern_addr hop; /* as tern_net_next_hop fills it: no stray bytes */
	uint8_t mac[TERN_ETH_ALEN];
};

static enum tern_neigh_result resolve(struct tern_dpdk_queue *q, struct hop_memo *memo,
                                      const struct tern_addr *hop, tern_time now,
                                      uint8_t mac[TERN_ETH_ALEN])
{
	struct tern_neigh_io io = neigh_io(q);
	enum tern_neigh_result r;

	if (memo->valid && !memcmp(&memo->hop, hop, sizeof(*hop))) {
		memcpy(mac, memo->mac, TERN_ETH_ALEN);
		return TERN_NEIGH_FOUND;
	}
	r = tern_neigh_resolve(&q->p->neigh, hop, now, mac, &io);
	memo->valid = r == TERN_NEIGH_FOUND;
	if (memo->valid) {
		memo->hop = *hop;
		memcpy(memo->mac, mac, TERN_ETH_ALEN);
	}
	return r;
}

/* One packet's next hop and fate, with the table locked. Returns the
 * mbuf if it may go now, NULL if it waits or was dropped. */
static struct rte_mbuf *route(struct tern_dpdk_queue *q, struct hop_memo *memo,
                              struct tern_pkt *pkt, tern_time now)
{
	static const uint8_t zero[TERN_ETH_ALEN];
	struct rte_mbuf *m = pkt->owner;
	struct tern_addr hop;
	uint8_t mac[TERN_ETH_ALEN];
	enum tern_neigh_result r;

	if (!tern_net_next_hop(&q->p->nif, &pkt->peer, &hop)) {
		q->st.tx_no_route++;
		goto drop;
	}
	r = resolve(q, memo, &hop, now, mac);
	if (r == TERN_NEIGH_UNREACHABLE) {
		q->st.tx_unreachable++;
		goto drop;
	}
	if (!frame(q, m, pkt, r == TERN_NEIGH_FOUND ? mac : zero)) {
		q->st.tx_too_big++;
		goto drop;
	}
	if (r == TERN_NEIGH_FOUND)
		return m;
	if (tern_neigh_enqueue(&q->p->neigh, &hop, m) == 0)
		return NULL;
	q->st.tx_neigh_full++;
drop:
	rte_pktmbuf_free(m);
	return NULL;
}

static int tx_burst(void *be, struct tern_pkt *pkts, unsigned n)
{
	struct tern_dpdk_queue *q = be;
	struct rte_mbuf *out[TERN_DPDK_BURST];
	struct hop_memo memo = {.valid = false};
	tern_time now = clock_us();
	unsigned k = 0;

	n = TERN_MIN(n, TERN_DPDK_BURST);
	rte_spinlock_lock(&q->p->nlock);
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = route(q, &memo, &pkts[i], now);
		pkts[i].owner = NULL; /* taken, whatever became of it */
		if (m)
			out[k++] = m;
	}
	rte_spinlock_unlock(&q->p->nlock);
	if (k)
		send_frames(q, out, k);
	ctl_flush(q);
	return (int)n;
}

/* ---- idle ---- */

/* A NIC has no completion to sleep on: nap on the wake-up eventfd, 20 us
 * doubling to 1 ms while nothing arrives (a NIC ring absorbs that much
 * idle time), never past the timeout. */
static int be_wait(void *be, tern_time timeout_us)
{
	struct tern_dpdk_queue *q = be;
	tern_time us = TERN_MIN(timeout_us, TERN_MAX(q->nap_us, (tern_time)NAP_MIN_US));
	struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)us * 1000};
	struct pollfd pfd = {.fd = q->wake_fd, .events = POLLIN};
	uint64_t v;
	int r;

	q->nap_us = TERN_MIN(TERN_MAX(q->nap_us * 2, (tern_time)NAP_MIN_US), (tern_time)NAP_MAX_US);
	r = ppoll(&pfd, q->wake_fd >= 0, &ts, NULL);
	if (r > 0 && read(q->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return TERN_EAGAIN;
	return r > 0;
}

static int thread_start(void *be)
{
	(void)be;
	tern_dpdk_thread_enter();
	return 0;
}

static void thread_stop(void *be)
{
	(void)be;
	tern_dpdk_thread_leave();
}

const struct tern_backend_ops tern_dpdk_backend_ops = {
        .rx_burst = rx_burst,
        .tx_burst = tx_burst,
        .buf_alloc = buf_alloc,
        .buf_free = buf_free,
        .now = be_now,
        .wait = be_wait,
        .thread_start = thread_start,
        .thread_stop = thread_stop,
};
