/* ARP (RFC 826) for the DPDK backend: parse, answer requests for our IPv4
 * address in place, and build requests to resolve peers. What a message
 * teaches follows the RFC's merge rule, made strict because anyone on the
 * link can send ARP: a request for us may create the sender's entry (STALE:
 * the sender exists, we have not reached it); a reply addressed to us (our
 * IP and MAC as target) confirms an entry; anything else (gratuitous ARP,
 * requests for other hosts, broadcast replies) only completes an entry we
 * are resolving. No ARP message replaces a MAC already known: ARP has no
 * Override flag, so every one is treated as an NA without it (RFC 4861
 * §7.2.5), and a neighbour that really moved is found again when its old
 * MAC stops answering our probes (io/dpdk_neigh.c applies all of this).
 * Pure code over bytes. */
#include "io/dpdk_net.h"

#define ARP_LEN 28
enum { ARP_REQUEST = 1, ARP_REPLY = 2 };

static enum tern_net_kind bad(struct tern_net_rx *rx, enum tern_net_drop why)
{
	rx->kind = TERN_NET_KIND_DROP;
	rx->drop = why;
	return rx->kind;
}

void tern_net_parse_arp(const struct tern_net_if *nif, const uint8_t *p, size_t n,
                        struct tern_net_rx *rx)
{
	static const uint8_t zero[4];
	uint16_t op;
	bool to_us;

	if (n < ARP_LEN) {
		bad(rx, TERN_NET_RUNT);
		return;
	}
	op = tern_get_be16(p + 6);
	if (tern_get_be16(p) != 1 || tern_get_be16(p + 2) != TERN_ETHERTYPE_IP4 || p[4] != 6 ||
	    p[5] != 4 || (op != ARP_REQUEST && op != ARP_REPLY) || (p[8] & 1)) {
		bad(rx, TERN_NET_ARP); /* not IPv4 over Ethernet, or a multicast sender */
		return;
	}
	rx->nb.family = 4;
	memcpy(rx->nb.ip, p + 14, 4);
	memcpy(rx->lladdr, p + 8, TERN_ETH_ALEN);
	memcpy(rx->dst_ip, p + 24, 4);
	rx->has_lladdr =
	        memcmp(p + 14, zero, 4) != 0; /* a probe (sender 0.0.0.0) teaches nothing */
	to_us = !memcmp(p + 24, nif->ip4, 4);
	if (to_us && op == ARP_REQUEST)
		rx->learn = TERN_NET_LEARN_CREATE;
	else if (to_us && !memcmp(p + 18, nif->mac, TERN_ETH_ALEN))
		rx->learn = TERN_NET_LEARN_SOLICITED; /* a reply to our request */
	rx->kind = rx->learn == TERN_NET_LEARN_CREATE ? TERN_NET_KIND_ARP_REQ : TERN_NET_KIND_ARP;
}

size_t tern_net_arp_reply(const struct tern_net_if *nif, uint8_t *f, size_t len,
                          const struct tern_net_rx *rx)
{
	uint8_t *a = f + rx->l2_len;

	if (rx->kind != TERN_NET_KIND_ARP_REQ || len < (size_t)rx->l2_len + ARP_LEN)
		return 0;
	tern_put_be16(a + 6, ARP_REPLY);
	memcpy(a + 18, a + 8, TERN_ETH_ALEN + 4); /* target := the asker (MAC and IP) */
	memcpy(a + 8, nif->mac, TERN_ETH_ALEN);
	memcpy(a + 14, nif->ip4, 4);
	memcpy(f, a + 18, TERN_ETH_ALEN); /* to the asker's hardware address */
	memcpy(f + TERN_ETH_ALEN, nif->mac, TERN_ETH_ALEN);
	return rx->l2_len + ARP_LEN;
}

size_t tern_net_arp_request(const struct tern_net_if *nif, uint8_t *f, size_t cap,
                            const uint8_t ip[4], const uint8_t *dst)
{
	static const uint8_t bcast[TERN_ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	uint8_t *a;

	if (cap < TERN_NET_ARP_FRAME + TERN_VLAN_HLEN || !nif->has4)
		return 0;
	memset(f, 0, TERN_NET_ARP_FRAME + TERN_VLAN_HLEN);
	a = f + tern_net_eth(nif, f, dst ? dst : bcast, TERN_ETHERTYPE_ARP);
	tern_put_be16(a, 1);
	tern_put_be16(a + 2, TERN_ETHERTYPE_IP4);
	a[4] = 6;
	a[5] = 4;
	tern_put_be16(a + 6, ARP_REQUEST);
	memcpy(a + 8, nif->mac, TERN_ETH_ALEN);
	memcpy(a + 14, nif->ip4, 4);
	memcpy(a + 24, ip, 4); /* target hardware address stays zero */
	return TERN_NET_ARP_FRAME + (nif->vlan ? TERN_VLAN_HLEN : 0);
}
