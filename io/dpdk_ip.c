/* Ethernet, VLAN, IPv4, IPv6 and UDP for the DPDK backend: the frame
 * classifier, the UDP header builder and the Internet checksum. Pure code
 * over byte buffers (see dpdk_net.h). Every drop names its reason, so an
 * operator reading the counters can tell a runt from a foreign MAC from a
 * bad checksum. tern never fragments and never sends IP options, so it
 * accepts neither: a fragment or an options header is dropped and counted. */
#include "io/dpdk_net.h"

const char *const tern_net_drop_names[TERN_NET_DROP_MAX] = {
        [TERN_NET_OK] = "ok",
        [TERN_NET_RUNT] = "runt",
        [TERN_NET_FOREIGN_MAC] = "foreign_mac",
        [TERN_NET_VLAN] = "vlan",
        [TERN_NET_ETHERTYPE] = "ethertype",
        [TERN_NET_IP_HEADER] = "ip_header",
        [TERN_NET_IP_OPTIONS] = "ip_options",
        [TERN_NET_IP_CSUM] = "ip_csum",
        [TERN_NET_IP_FRAGMENT] = "ip_fragment",
        [TERN_NET_IP_NOT_OURS] = "ip_not_ours",
        [TERN_NET_IP_PROTO] = "ip_proto",
        [TERN_NET_UDP_HEADER] = "udp_header",
        [TERN_NET_UDP_CSUM] = "udp_csum",
        [TERN_NET_UDP_PORT] = "udp_port",
        [TERN_NET_ICMP_CSUM] = "icmp_csum",
        [TERN_NET_ICMP_OTHER] = "icmp_other",
        [TERN_NET_ARP] = "arp",
        [TERN_NET_ND] = "nd",
};

enum { PROTO_ICMP = 1, PROTO_UDP = 17, PROTO_FRAG6 = 44, PROTO_ICMP6 = 58 };

uint32_t tern_net_sum(const uint8_t *p, size_t n, uint32_t acc)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		acc += (uint32_t)p[n - 1] << 8;
	return acc;
}

uint16_t tern_net_csum(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

uint32_t tern_net_pseudo(uint8_t family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                         size_t len)
{
	size_t alen = family == 4 ? 4 : 16;
	uint32_t acc = tern_net_sum(src, alen, 0);

	acc = tern_net_sum(dst, alen, acc);
	return acc + proto + (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff);
}

void tern_net_if_init(struct tern_net_if *nif)
{
	uint8_t *ll = nif->ll6;

	memset(ll, 0, 16);
	ll[0] = 0xfe;
	ll[1] = 0x80;
	ll[8] = nif->mac[0] ^ 0x02; /* EUI-64: flip the universal/local bit */
	ll[9] = nif->mac[1];
	ll[10] = nif->mac[2];
	ll[11] = 0xff;
	ll[12] = 0xfe;
	memcpy(ll + 13, nif->mac + 3, 3);
}

static bool is_ll6(const uint8_t ip[16])
{
	return ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80;
}

bool tern_net_is_ours6(const struct tern_net_if *nif, const uint8_t ip[16])
{
	return nif->has6 && (!memcmp(ip, nif->ip6, 16) || !memcmp(ip, nif->ll6, 16));
}

/* ff02::1, or the solicited-node group of one of our addresses. */
static bool is_our_group6(const struct tern_net_if *nif, const uint8_t ip[16])
{
	static const uint8_t all[16] = {0xff, 2, [15] = 1};
	static const uint8_t snm[13] = {0xff, 2, [11] = 1, [12] = 0xff};

	if (!memcmp(ip, all, 16))
		return true;
	if (memcmp(ip, snm, 13))
		return false;
	return !memcmp(ip + 13, nif->ip6 + 13, 3) || !memcmp(ip + 13, nif->ll6 + 13, 3);
}

static bool mac_ok(const struct tern_net_if *nif, const uint8_t *dst)
{
	static const uint8_t bcast[TERN_ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	if (!memcmp(dst, nif->mac, TERN_ETH_ALEN) || !memcmp(dst, bcast, TERN_ETH_ALEN))
		return true;
	return nif->has6 && dst[0] == 0x33 && dst[1] == 0x33; /* IPv6 multicast */
}

static enum tern_net_kind drop(struct tern_net_rx *rx, enum tern_net_drop why)
{
	rx->kind = TERN_NET_KIND_DROP;
	rx->drop = why;
	return rx->kind;
}

static bool udp_csum_ok(const struct tern_net_rx *rx, const uint8_t *u, size_t ulen, unsigned csum)
{
	uint16_t ck = tern_get_be16(u + 6);

	if (csum & TERN_NET_L4_BAD)
		return false;
	if (csum & TERN_NET_L4_GOOD)
		return true;
	if (ck == 0) /* "no checksum": allowed over IPv4 only */
		return rx->src.family == 4;
	return tern_net_csum(tern_net_sum(u, ulen,
	                                  tern_net_pseudo(rx->src.family, rx->src.ip, rx->dst_ip,
	                                                  PROTO_UDP, ulen))) == 0;
}

static void parse_udp(const struct tern_net_if *nif, const uint8_t *f, unsigned csum,
                      struct tern_net_rx *rx)
{
	const uint8_t *u = f + rx->l4_off;
	uint16_t ulen;

	if (rx->l4_len < TERN_UDP_HLEN) {
		drop(rx, TERN_NET_UDP_HEADER);
		return;
	}
	ulen = tern_get_be16(u + 4);
	if (ulen < TERN_UDP_HLEN || ulen > rx->l4_len)
		drop(rx, TERN_NET_UDP_HEADER);
	else if (tern_get_be16(u + 2) != nif->port)
		drop(rx, TERN_NET_UDP_PORT);
	else if (!udp_csum_ok(rx, u, ulen, csum))
		drop(rx, TERN_NET_UDP_CSUM);
	else {
		rx->kind = TERN_NET_KIND_UDP;
		rx->src.port = tern_get_be16(u);
		rx->payload_off = (uint16_t)(rx->l4_off + TERN_UDP_HLEN);
		rx->payload_len = (uint16_t)(ulen - TERN_UDP_HLEN);
	}
}

static void parse_ip4(const struct tern_net_if *nif, const uint8_t *f, size_t len, unsigned csum,
                      struct tern_net_rx *rx)
{
	const uint8_t *ip = f + rx->l2_len;
	size_t n = len - rx->l2_len;
	uint16_t tot;

	if (n < TERN_IP4_HLEN)
		return (void)drop(rx, TERN_NET_RUNT);
	tot = tern_get_be16(ip + 2);
	if (ip[0] >> 4 != 4 || (ip[0] & 15) < 5 || tot < TERN_IP4_HLEN)
		return (void)drop(rx, TERN_NET_IP_HEADER);
	if ((ip[0] & 15) > 5)
		return (void)drop(rx, TERN_NET_IP_OPTIONS);
	if (tot > n)
		return (void)drop(rx, TERN_NET_RUNT);
	if ((csum & TERN_NET_L3_BAD) ||
	    (!(csum & TERN_NET_L3_GOOD) && tern_net_csum(tern_net_sum(ip, TERN_IP4_HLEN, 0))))
		return (void)drop(rx, TERN_NET_IP_CSUM);
	if (tern_get_be16(ip + 6) & 0x3fff) /* MF, or a fragment offset */
		return (void)drop(rx, TERN_NET_IP_FRAGMENT);
	if (memcmp(ip + 16, nif->ip4, 4))
		return (void)drop(rx, TERN_NET_IP_NOT_OURS);
	rx->l3_len = TERN_IP4_HLEN;
	rx->src.family = 4;
	memcpy(rx->src.ip, ip + 12, 4);
	memcpy(rx->dst_ip, ip + 16, 4);
	rx->l4_off = (uint16_t)(rx->l2_len + TERN_IP4_HLEN);
	rx->l4_len = (uint16_t)(tot - TERN_IP4_HLEN);
	if (ip[9] == PROTO_UDP)
		parse_udp(nif, f, csum, rx);
	else if (ip[9] == PROTO_ICMP)
		tern_net_parse_icmp4(f + rx->l4_off, rx->l4_len, rx);
	else
		drop(rx, TERN_NET_IP_PROTO);
}

static void parse_ip6(const struct tern_net_if *nif, const uint8_t *f, size_t len, unsigned csum,
                      struct tern_net_rx *rx)
{
	const uint8_t *ip = f + rx->l2_len;
	size_t n = len - rx->l2_len;
	bool unicast;

	if (n < TERN_IP6_HLEN)
		return (void)drop(rx, TERN_NET_RUNT);
	if (ip[0] >> 4 != 6)
		return (void)drop(rx, TERN_NET_IP_HEADER);
	if ((size_t)TERN_IP6_HLEN + tern_get_be16(ip + 4) > n)
		return (void)drop(rx, TERN_NET_RUNT);
	unicast = tern_net_is_ours6(nif, ip + 24);
	if (!unicast && !is_our_group6(nif, ip + 24))
		return (void)drop(rx, TERN_NET_IP_NOT_OURS);
	rx->l3_len = TERN_IP6_HLEN;
	rx->src.family = 6;
	memcpy(rx->src.ip, ip + 8, 16);
	memcpy(rx->dst_ip, ip + 24, 16);
	rx->l4_off = (uint16_t)(rx->l2_len + TERN_IP6_HLEN);
	rx->l4_len = tern_get_be16(ip + 4);
	if (ip[6] == PROTO_UDP && unicast)
		parse_udp(nif, f, csum, rx);
	else if (ip[6] == PROTO_ICMP6)
		tern_net_parse_icmp6(nif, f, len, rx);
	else if (ip[6] == PROTO_FRAG6)
		drop(rx, TERN_NET_IP_FRAGMENT);
	else if (ip[6] == 0 || ip[6] == 43 || ip[6] == 60) /* hop-by-hop, routing, dest opts */
		drop(rx, TERN_NET_IP_OPTIONS);
	else
		drop(rx, unicast ? TERN_NET_IP_PROTO : TERN_NET_IP_NOT_OURS);
}

enum tern_net_kind tern_net_parse(const struct tern_net_if *nif, const uint8_t *f, size_t len,
                                  unsigned csum, struct tern_net_rx *rx)
{
	uint16_t type;

	memset(rx, 0, sizeof(*rx));
	if (len < TERN_ETH_HLEN)
		return drop(rx, TERN_NET_RUNT);
	if (!mac_ok(nif, f))
		return drop(rx, TERN_NET_FOREIGN_MAC);
	type = tern_get_be16(f + 12);
	rx->l2_len = TERN_ETH_HLEN;
	if (type == TERN_ETHERTYPE_VLAN) {
		if (len < TERN_ETH_HLEN + TERN_VLAN_HLEN)
			return drop(rx, TERN_NET_RUNT);
		if (!nif->vlan || (tern_get_be16(f + 14) & 0xfff) != nif->vlan)
			return drop(rx, TERN_NET_VLAN);
		type = tern_get_be16(f + 16);
		rx->l2_len += TERN_VLAN_HLEN;
	} else if (nif->vlan) {
		return drop(rx, TERN_NET_VLAN);
	}
	if (type == TERN_ETHERTYPE_ARP && nif->has4)
		tern_net_parse_arp(nif, f + rx->l2_len, len - rx->l2_len, rx);
	else if (type == TERN_ETHERTYPE_IP4 && nif->has4)
		parse_ip4(nif, f, len, csum, rx);
	else if (type == TERN_ETHERTYPE_IP6 && nif->has6)
		parse_ip6(nif, f, len, csum, rx);
	else
		drop(rx, TERN_NET_ETHERTYPE);
	return rx->kind;
}

/* ---- building ---- */

size_t tern_net_eth(const struct tern_net_if *nif, uint8_t *f, const uint8_t dst[TERN_ETH_ALEN],
                    uint16_t ethertype)
{
	memmove(f, dst, TERN_ETH_ALEN); /* dst may be f + 6 when turning a frame around */
	memcpy(f + TERN_ETH_ALEN, nif->mac, TERN_ETH_ALEN);
	if (!nif->vlan) {
		tern_put_be16(f + 12, ethertype);
		return TERN_ETH_HLEN;
	}
	tern_put_be16(f + 12, TERN_ETHERTYPE_VLAN);
	tern_put_be16(f + 14, nif->vlan);
	tern_put_be16(f + 16, ethertype);
	return TERN_ETH_HLEN + TERN_VLAN_HLEN;
}

void tern_net_eth_turn(const struct tern_net_if *nif, uint8_t *f)
{
	memmove(f, f + TERN_ETH_ALEN, TERN_ETH_ALEN);
	memcpy(f + TERN_ETH_ALEN, nif->mac, TERN_ETH_ALEN);
}

size_t tern_net_udp_hdr_len(const struct tern_net_if *nif, uint8_t family)
{
	return TERN_ETH_HLEN + (nif->vlan ? TERN_VLAN_HLEN : 0) +
	       (family == 4 ? TERN_IP4_HLEN : TERN_IP6_HLEN) + TERN_UDP_HLEN;
}

static void ip4_header(const struct tern_net_if *nif, uint8_t *ip, const uint8_t *dst,
                       size_t l4_len, uint8_t proto, bool offload)
{
	ip[0] = 0x45;
	ip[1] = 0;
	tern_put_be16(ip + 2, (uint16_t)(TERN_IP4_HLEN + l4_len));
	tern_put_be16(ip + 4, 0);      /* ID: unused with DF (RFC 6864) */
	tern_put_be16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = proto;
	tern_put_be16(ip + 10, 0);
	memcpy(ip + 12, nif->ip4, 4);
	memcpy(ip + 16, dst, 4);
	if (!offload)
		tern_put_be16(ip + 10, tern_net_csum(tern_net_sum(ip, TERN_IP4_HLEN, 0)));
}

static void ip6_header(const struct tern_net_if *nif, uint8_t *ip, const uint8_t *dst,
                       size_t l4_len, uint8_t proto)
{
	memset(ip, 0, 4);
	ip[0] = 0x60;
	tern_put_be16(ip + 4, (uint16_t)l4_len);
	ip[6] = proto;
	ip[7] = 64;
	memcpy(ip + 8, is_ll6(dst) ? nif->ll6 : nif->ip6, 16);
	memcpy(ip + 24, dst, 16);
}

size_t tern_net_build_udp(const struct tern_net_if *nif, uint8_t *f,
                          const uint8_t dst[TERN_ETH_ALEN], const struct tern_addr *to,
                          size_t payload_len, bool ip_offload, bool udp_offload)
{
	bool v4 = to->family == 4;
	size_t l2 = tern_net_eth(nif, f, dst, v4 ? TERN_ETHERTYPE_IP4 : TERN_ETHERTYPE_IP6);
	size_t l3 = v4 ? TERN_IP4_HLEN : TERN_IP6_HLEN, ulen = TERN_UDP_HLEN + payload_len;
	uint8_t *ip = f + l2, *u = ip + l3;
	uint32_t acc;
	uint16_t ck;

	if (v4)
		ip4_header(nif, ip, to->ip, ulen, PROTO_UDP, ip_offload);
	else
		ip6_header(nif, ip, to->ip, ulen, PROTO_UDP);
	tern_put_be16(u, nif->port);
	tern_put_be16(u + 2, to->port);
	tern_put_be16(u + 4, (uint16_t)ulen);
	tern_put_be16(u + 6, 0);
	acc = tern_net_pseudo(to->family, v4 ? ip + 12 : ip + 8, to->ip, PROTO_UDP, ulen);
	if (udp_offload) {
		ck = (uint16_t)~tern_net_csum(acc); /* the folded sum; the NIC adds the rest */
	} else {
		ck = tern_net_csum(tern_net_sum(u, ulen, acc));
		ck = ck ? ck : 0xffff; /* 0 means "no checksum" */
	}
	tern_put_be16(u + 6, ck);
	return l2 + l3 + ulen;
}

static bool in_prefix(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));

	if (memcmp(a, b, whole))
		return false;
	return !rest || ((a[whole] ^ b[whole]) & mask) == 0;
}

bool tern_net_next_hop(const struct tern_net_if *nif, const struct tern_addr *to,
                       struct tern_addr *hop)
{
	*hop = (struct tern_addr){.family = to->family};
	if (to->family == 4 && nif->has4) {
		if (in_prefix(to->ip, nif->ip4, nif->prefix4))
			memcpy(hop->ip, to->ip, 4);
		else if (nif->has_gw4)
			memcpy(hop->ip, nif->gw4, 4);
		else
			return false;
		return true;
	}
	if (to->family != 6 || !nif->has6)
		return false;
	if (is_ll6(to->ip) || in_prefix(to->ip, nif->ip6, nif->prefix6))
		memcpy(hop->ip, to->ip, 16);
	else if (nif->has_gw6)
		memcpy(hop->ip, nif->gw6, 16);
	else
		return false;
	return true;
}

void tern_net_ip_turn(uint8_t *ip, uint8_t family, const uint8_t *our)
{
	if (family == 4) {
		memcpy(ip + 16, ip + 12, 4);
		memcpy(ip + 12, our, 4);
		ip[8] = 64;
		tern_put_be16(ip + 10, 0);
		tern_put_be16(ip + 10, tern_net_csum(tern_net_sum(ip, TERN_IP4_HLEN, 0)));
	} else {
		memcpy(ip + 24, ip + 8, 16);
		memmove(ip + 8, our, 16);
		ip[7] = 64;
	}
}
