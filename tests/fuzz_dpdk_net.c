/* libFuzzer target for the DPDK backend's frame parser and in-place
 * replies (io/dpdk_ip.c, dpdk_arp.c, dpdk_icmp.c), and for what ARP and ND
 * messages do to the neighbour table (io/dpdk_neigh.c). The first byte
 * picks a VLAN and the NIC's checksum verdicts; the rest is a frame. Every
 * reply built from a parsed request must stay inside its buffer and carry
 * valid checksums; the table, kept across inputs, must keep its bounds
 * (ASan and the checks below catch the rest). */
#include <stdlib.h>
#include <string.h>

#include "io/dpdk_neigh.h"
#include "io/dpdk_net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void setup(struct tern_net_if *nif, uint8_t sel)
{
	static const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0xa1};

	memset(nif, 0, sizeof(*nif));
	memcpy(nif->mac, mac, 6);
	nif->vlan = (sel & 1) ? 42 : 0;
	nif->port = 4433;
	nif->has4 = !(sel & 2);
	nif->has6 = !(sel & 4);
	nif->prefix4 = 24;
	nif->prefix6 = 64;
	memcpy(nif->ip4, (const uint8_t[]){10, 9, 0, 1}, 4);
	memcpy(nif->ip6, (const uint8_t[16]){0xfd, 0, 0, 9, [15] = 1}, 16);
	tern_net_if_init(nif);
}

static size_t reply(const struct tern_net_if *nif, uint8_t *f, size_t len, size_t cap,
                    const struct tern_net_rx *rx)
{
	switch (rx->kind) {
	case TERN_NET_KIND_ARP_REQ:
		return tern_net_arp_reply(nif, f, len, rx);
	case TERN_NET_KIND_ECHO4:
		return tern_net_echo4_reply(nif, f, rx);
	case TERN_NET_KIND_ECHO6:
		return tern_net_echo6_reply(nif, f, rx);
	case TERN_NET_KIND_NS:
		return tern_net_nd_advert(nif, f, cap, rx);
	default:
		return 0;
	}
}

static void nothing(void *ctx, void *pkt)
{
	(void)ctx;
	(void)pkt;
}

static void sent(void *ctx, void *pkt, const uint8_t mac[TERN_ETH_ALEN])
{
	(void)ctx;
	(void)pkt;
	(void)mac;
}

static void probe(void *ctx, const struct tern_addr *ip, const uint8_t *mac)
{
	(void)ctx;
	(void)ip;
	(void)mac;
}

/* What io/dpdk_rxtx.c does with an ARP or ND message, then a packet to the
 * neighbour it named, one virtual second per input so the timers run. */
static void learn(const struct tern_net_rx *rx)
{
	static const struct tern_neigh_io io = {.emit = sent, .drop = nothing, .probe = probe};
	static struct tern_neigh nt;
	static bool ready;
	static tern_time now = TERN_SEC;
	static int pkt;
	uint8_t mac[TERN_ETH_ALEN];
	const struct tern_neigh_entry *e;

	if (!ready) {
		tern_neigh_init(&nt, NULL);
		memset(nt.key, 0, sizeof(nt.key)); /* a fixed key: crashes replay */
		ready = true;
	}
	now += TERN_SEC;
	tern_neigh_learn(&nt, &rx->nb, rx->has_lladdr ? rx->lladdr : NULL, rx->learn, now, &io);
	if (tern_neigh_resolve(&nt, &rx->nb, now, mac, &io) == TERN_NEIGH_PENDING)
		tern_neigh_enqueue(&nt, &rx->nb, &pkt);
	tern_neigh_tick(&nt, now, &io);
	e = tern_neigh_find(&nt, &rx->nb);
	if (nt.npend > nt.cfg.pending_max || (e && e->state > TERN_NB_FAILED))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tern_net_if nif;
	struct tern_net_rx rx;
	size_t cap, out;
	uint8_t *f;

	if (size < 1)
		return 0;
	setup(&nif, data[0]);
	cap = size - 1 + 128; /* a reply may grow (NA over a short NS) */
	f = malloc(cap);
	if (!f)
		return 0;
	memcpy(f, data + 1, size - 1);
	if (tern_net_parse(&nif, f, size - 1, (data[0] >> 3) & 15, &rx) == TERN_NET_KIND_UDP &&
	    (size_t)rx.payload_off + rx.payload_len > size - 1)
		abort();
	if (rx.kind == TERN_NET_KIND_ARP || rx.kind == TERN_NET_KIND_ARP_REQ ||
	    rx.kind == TERN_NET_KIND_NS || rx.kind == TERN_NET_KIND_NA)
		learn(&rx);
	out = reply(&nif, f, size - 1, cap, &rx);
	if (out > cap || (rx.kind == TERN_NET_KIND_ECHO4 &&
	                  tern_net_csum(tern_net_sum(f + rx.l2_len, TERN_IP4_HLEN, 0)) != 0))
		abort();
	free(f);
	return 0;
}
