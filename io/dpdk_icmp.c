/* ICMP echo (so operators can ping the host) and ICMPv6: echo, and the
 * neighbour discovery subset a host needs (RFC 4861: answer solicitations
 * for our addresses, solicit peers, learn from advertisements with their
 * Solicited and Override flags). Replies are written over the request in
 * place; echo replies pass a per-queue token bucket first. ND messages must
 * arrive with hop limit 255 (proof they were not routed) and a valid
 * checksum; anything else is dropped and counted. Pure code over bytes. */
#include "io/dpdk_net.h"

enum {
	ECHO4_REQ = 8,
	ECHO4_REP = 0,
	ECHO6_REQ = 128,
	ECHO6_REP = 129,
	ND_NS = 135,
	ND_NA = 136,
	OPT_SLLA = 1,
	OPT_TLLA = 2,
	PROTO_ICMP6 = 58,
	ND_LEN = 24,    /* NS/NA without options */
	ND_OPT_LEN = 8, /* one link-layer address option */
	NA_SOLICITED = 0x40,
	NA_OVERRIDE = 0x20,
};

static void bad(struct tern_net_rx *rx, enum tern_net_drop why)
{
	rx->kind = TERN_NET_KIND_DROP;
	rx->drop = why;
}

void tern_net_parse_icmp4(const uint8_t *p, size_t n, struct tern_net_rx *rx)
{
	if (n < 8)
		bad(rx, TERN_NET_ICMP_OTHER);
	else if (tern_net_csum(tern_net_sum(p, n, 0)))
		bad(rx, TERN_NET_ICMP_CSUM);
	else if (p[0] != ECHO4_REQ || p[1] != 0)
		bad(rx, TERN_NET_ICMP_OTHER);
	else
		rx->kind = TERN_NET_KIND_ECHO4;
}

/* Finds a link-layer address option of `type` in ND options; false if the
 * options are malformed (a zero length or one past the end). */
static bool nd_option(const uint8_t *o, size_t n, uint8_t type, struct tern_net_rx *rx)
{
	size_t off = 0;

	while (off + 2 <= n) {
		size_t olen = (size_t)o[off + 1] * 8;
		if (olen == 0 || off + olen > n)
			return false;
		if (o[off] == type && olen >= ND_OPT_LEN && !(o[off + 2] & 1)) {
			memcpy(rx->lladdr, o + off + 2, TERN_ETH_ALEN);
			rx->has_lladdr = true;
		}
		off += olen;
	}
	return true;
}

static void parse_ns(const struct tern_net_if *nif, const uint8_t *m, size_t n,
                     struct tern_net_rx *rx)
{
	static const uint8_t unspec[16];

	if (!tern_net_is_ours6(nif, m + 8)) {
		bad(rx, TERN_NET_IP_NOT_OURS);
		return;
	}
	if (!memcmp(rx->src.ip, unspec, 16)) {
		bad(rx, TERN_NET_ND); /* duplicate address detection for our address: ignore */
		return;
	}
	rx->kind = TERN_NET_KIND_NS;
	rx->nb = rx->src;
	/* RFC 4861 §7.2.3: a solicitation's source address replaces a known one */
	rx->learn = TERN_NET_LEARN_CREATE | TERN_NET_LEARN_OVERRIDE;
	memcpy(rx->dst_ip, m + 8, 16); /* for NS: the target being asked about */
	if (!nd_option(m + ND_LEN, n - ND_LEN, OPT_SLLA, rx))
		bad(rx, TERN_NET_ND);
}

static void parse_na(const uint8_t *m, size_t n, struct tern_net_rx *rx)
{
	if ((m[4] & NA_SOLICITED) && rx->dst_ip[0] == 0xff) {
		bad(rx, TERN_NET_ND); /* §7.1.2: an answer to one asker is never multicast */
		return;
	}
	rx->kind = TERN_NET_KIND_NA;
	rx->nb.family = 6;
	memcpy(rx->nb.ip, m + 8, 16);
	rx->learn = (m[4] & NA_SOLICITED ? TERN_NET_LEARN_SOLICITED : 0) |
	            (m[4] & NA_OVERRIDE ? TERN_NET_LEARN_OVERRIDE : 0);
	if (!nd_option(m + ND_LEN, n - ND_LEN, OPT_TLLA, rx))
		bad(rx, TERN_NET_ND);
}

void tern_net_parse_icmp6(const struct tern_net_if *nif, const uint8_t *f, size_t len,
                          struct tern_net_rx *rx)
{
	const uint8_t *ip = f + rx->l2_len, *m = f + rx->l4_off;
	size_t n = rx->l4_len;

	(void)len; /* the caller checked l4_off + l4_len <= len */
	if (n < 8)
		return bad(rx, TERN_NET_ICMP_OTHER);
	if (tern_net_csum(tern_net_sum(m, n, tern_net_pseudo(6, ip + 8, ip + 24, PROTO_ICMP6, n))))
		return bad(rx, TERN_NET_ICMP_CSUM);
	if (m[0] == ECHO6_REQ && m[1] == 0 && tern_net_is_ours6(nif, ip + 24)) {
		rx->kind = TERN_NET_KIND_ECHO6;
		return;
	}
	if (m[0] != ND_NS && m[0] != ND_NA)
		return bad(rx, TERN_NET_ICMP_OTHER);
	if (ip[7] != 255 || m[1] != 0 || n < ND_LEN)
		return bad(rx, TERN_NET_ND);
	if (m[0] == ND_NS)
		parse_ns(nif, m, n, rx);
	else
		parse_na(m, n, rx);
}

size_t tern_net_echo4_reply(const struct tern_net_if *nif, uint8_t *f, const struct tern_net_rx *rx)
{
	uint8_t *m = f + rx->l4_off;

	if (rx->kind != TERN_NET_KIND_ECHO4)
		return 0;
	tern_net_eth_turn(nif, f);
	tern_net_ip_turn(f + rx->l2_len, 4, nif->ip4);
	m[0] = ECHO4_REP;
	tern_put_be16(m + 2, 0);
	tern_put_be16(m + 2, tern_net_csum(tern_net_sum(m, rx->l4_len, 0)));
	return (size_t)rx->l4_off + rx->l4_len;
}

static void icmp6_csum(uint8_t *ip, uint8_t *m, size_t n)
{
	tern_put_be16(m + 2, 0);
	tern_put_be16(m + 2, tern_net_csum(tern_net_sum(
	                             m, n, tern_net_pseudo(6, ip + 8, ip + 24, PROTO_ICMP6, n))));
}

size_t tern_net_echo6_reply(const struct tern_net_if *nif, uint8_t *f, const struct tern_net_rx *rx)
{
	uint8_t *ip = f + rx->l2_len, *m = f + rx->l4_off;
	uint8_t our[16];

	if (rx->kind != TERN_NET_KIND_ECHO6)
		return 0;
	memcpy(our, rx->dst_ip, 16); /* answer from the address that was pinged */
	tern_net_eth_turn(nif, f);
	tern_net_ip_turn(ip, 6, our);
	m[0] = ECHO6_REP;
	icmp6_csum(ip, m, rx->l4_len);
	return (size_t)rx->l4_off + rx->l4_len;
}

/* The ICMPv6 body of an NS or NA about `target` carrying our MAC. */
static void nd_body(const struct tern_net_if *nif, uint8_t *m, uint8_t type, const uint8_t *target)
{
	memset(m, 0, ND_LEN + ND_OPT_LEN);
	m[0] = type;
	if (type == ND_NA)
		m[4] = NA_SOLICITED | NA_OVERRIDE;
	memcpy(m + 8, target, 16);
	m[ND_LEN] = type == ND_NA ? OPT_TLLA : OPT_SLLA;
	m[ND_LEN + 1] = 1;
	memcpy(m + ND_LEN + 2, nif->mac, TERN_ETH_ALEN);
}

static void nd_ip(uint8_t *ip, const uint8_t *src, const uint8_t *dst)
{
	memset(ip, 0, 4);
	ip[0] = 0x60;
	tern_put_be16(ip + 4, ND_LEN + ND_OPT_LEN);
	ip[6] = PROTO_ICMP6;
	ip[7] = 255;
	memmove(ip + 24, dst, 16);
	memcpy(ip + 8, src, 16);
}

size_t tern_net_nd_advert(const struct tern_net_if *nif, uint8_t *f, size_t cap,
                          const struct tern_net_rx *rx)
{
	size_t l2 = rx->l2_len, total = l2 + TERN_IP6_HLEN + ND_LEN + ND_OPT_LEN;
	uint8_t target[16], dst[16], *ip = f + l2, *m = ip + TERN_IP6_HLEN;

	if (rx->kind != TERN_NET_KIND_NS || cap < total)
		return 0;
	memcpy(target, rx->dst_ip, 16);
	memcpy(dst, rx->src.ip, 16);
	tern_net_eth(nif, f, rx->has_lladdr ? rx->lladdr : f + TERN_ETH_ALEN, TERN_ETHERTYPE_IP6);
	nd_ip(ip, target, dst);
	nd_body(nif, m, ND_NA, target);
	icmp6_csum(ip, m, ND_LEN + ND_OPT_LEN);
	return total;
}

size_t tern_net_nd_solicit(const struct tern_net_if *nif, uint8_t *f, size_t cap,
                           const uint8_t ip6[16], const uint8_t *dst)
{
	uint8_t mac[TERN_ETH_ALEN] = {0x33, 0x33, 0xff, ip6[13], ip6[14], ip6[15]};
	uint8_t group[16] = {0xff, 2, [11] = 1, [12] = 0xff, ip6[13], ip6[14], ip6[15]};
	const uint8_t *src = ip6[0] == 0xfe && (ip6[1] & 0xc0) == 0x80 ? nif->ll6 : nif->ip6;
	size_t l2;
	uint8_t *ip, *m;

	if (cap < TERN_NET_NS_FRAME || !nif->has6)
		return 0;
	l2 = tern_net_eth(nif, f, dst ? dst : mac, TERN_ETHERTYPE_IP6);
	ip = f + l2;
	m = ip + TERN_IP6_HLEN;
	nd_ip(ip, src, dst ? ip6 : group);
	nd_body(nif, m, ND_NS, ip6);
	icmp6_csum(ip, m, ND_LEN + ND_OPT_LEN);
	return l2 + TERN_IP6_HLEN + ND_LEN + ND_OPT_LEN;
}

void tern_net_ratelimit_init(struct tern_net_ratelimit *rl, unsigned rate, unsigned burst)
{
	rate = rate ? (unsigned)TERN_MIN(rate, TERN_SEC) : TERN_NET_ECHO_RATE;
	burst = burst ? burst : TERN_NET_ECHO_BURST;
	rl->tat = 0;
	rl->interval = TERN_SEC / rate;
	rl->slack = (tern_time)(burst - 1) * rl->interval;
}

bool tern_net_ratelimit_take(struct tern_net_ratelimit *rl, tern_time now)
{
	tern_time t = TERN_MAX(rl->tat, now);

	if (t - now > rl->slack)
		return false;
	rl->tat = t + rl->interval;
	return true;
}
