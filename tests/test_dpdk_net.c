/* The DPDK backend's L2/L3 code without an EAL (io/dpdk_ip.c, dpdk_arp.c,
 * dpdk_icmp.c, dpdk_neigh.c): checksums against published values, frames
 * built by one side and classified by the other, every drop reason from a
 * table of mutations of one good frame, ARP and ND exchanges answered in
 * place, and the neighbour table's states, queue bound and timers, what ARP
 * and ND messages may change in it (RFC 4861's flags; ARP never overrides),
 * its keyed hash, and the echo rate limit; and the mbuf pool plan, one pool
 * per NUMA socket in use (io/dpdk_numa.c). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "io/dpdk_neigh.h"
#include "io/dpdk_net.h"
#include "io/dpdk_numa.h"

static struct tern_net_if a, b; /* a: 10.9.0.1 / fd00:9::1, b: 10.9.0.2 / fd00:9::2 */

static void setup(uint16_t vlan)
{
	static const uint8_t ma[6] = {0x02, 0, 0, 0, 0, 0xa1}, mb[6] = {0x02, 0, 0, 0, 0, 0xb2};
	static const uint8_t p6[16] = {0xfd, 0, 0, 9};

	memset(&a, 0, sizeof(a));
	memcpy(a.mac, ma, 6);
	a.vlan = vlan;
	a.port = 4433;
	a.has4 = a.has6 = true;
	a.prefix4 = 24;
	a.prefix6 = 64;
	memcpy(a.ip4, (uint8_t[]){10, 9, 0, 1}, 4);
	memcpy(a.ip6, p6, 16);
	a.ip6[15] = 1;
	b = a;
	memcpy(b.mac, mb, 6);
	b.port = 5555;
	b.ip4[3] = 2;
	b.ip6[15] = 2;
	tern_net_if_init(&a);
	tern_net_if_init(&b);
}

static struct tern_addr addr_of(const struct tern_net_if *n, uint8_t family, uint16_t port)
{
	struct tern_addr x = {.family = family, .port = port};

	memcpy(x.ip, family == 4 ? n->ip4 : n->ip6, family == 4 ? 4 : 16);
	return x;
}

/* A UDP frame from b to a's port carrying "hello tern". */
static size_t udp_frame(uint8_t *f, uint8_t family)
{
	struct tern_addr to = addr_of(&a, family, a.port);
	size_t h = tern_net_udp_hdr_len(&b, family);

	memcpy(f + h, "hello tern", 10);
	return tern_net_build_udp(&b, f, a.mac, &to, 10, false, false);
}

static void test_checksum(void)
{
	/* The IPv4 header example from RFC 1071's usual worked case (checksum b861). */
	uint8_t h[20] = {0x45, 0, 0,    0x73, 0, 0, 0x40, 0,    0x40, 0x11,
	                 0,    0, 0xc0, 0xa8, 0, 1, 0xc0, 0xa8, 0,    0xc7};

	CHECK_EQ(tern_net_csum(tern_net_sum(h, 20, 0)), 0xb861);
	h[10] = 0xb8;
	h[11] = 0x61;
	CHECK_EQ(tern_net_csum(tern_net_sum(h, 20, 0)), 0);
	CHECK_EQ(tern_net_sum((const uint8_t *)"\x01\x02\x03", 3, 0), 0x0102 + 0x0300);
}

static void test_udp_roundtrip(uint16_t vlan)
{
	uint8_t f[256];
	struct tern_net_rx rx;

	setup(vlan);
	for (uint8_t fam = 4; fam <= 6; fam += 2) {
		size_t len = udp_frame(f, fam);
		CHECK_EQ(len, (fam == 4 ? 42u : 62u) + (vlan ? 4u : 0u) + 10u);
		CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_UDP);
		CHECK_EQ(rx.payload_len, 10);
		CHECK(!memcmp(f + rx.payload_off, "hello tern", 10));
		CHECK_EQ(rx.src.family, fam);
		CHECK_EQ(rx.src.port, 5555);
		CHECK(!memcmp(rx.src.ip, fam == 4 ? b.ip4 : b.ip6, fam == 4 ? 4 : 16));
		if (fam == 4) {
			CHECK_EQ(f[rx.l2_len + 6], 0x40); /* DF */
			CHECK_EQ(f[rx.l2_len + 8], 64);   /* TTL */
		}
		/* Ethernet padding after the datagram is ignored. */
		memset(f + len, 0xee, 20);
		CHECK_EQ(tern_net_parse(&a, f, len + 20, 0, &rx), TERN_NET_KIND_UDP);
		CHECK_EQ(rx.payload_len, 10);
		/* The NIC's verdicts override the software check. */
		CHECK_EQ(tern_net_parse(&a, f, len, TERN_NET_L4_BAD, &rx), TERN_NET_KIND_DROP);
		CHECK_EQ(rx.drop, TERN_NET_UDP_CSUM);
	}
}

static void fix_ip4_csum(uint8_t *ip)
{
	tern_put_be16(ip + 10, 0);
	tern_put_be16(ip + 10, tern_net_csum(tern_net_sum(ip, 20, 0)));
}

struct mutation {
	const char *name;
	size_t off;  /* from the IP header; SIZE_MAX: special */
	uint8_t val; /* written at off */
	int trim;    /* bytes cut from the frame's end */
	bool recsum; /* redo the IPv4 header checksum */
	enum tern_net_drop want;
};

static void test_drops_ip4(void)
{
	static const struct mutation m[] = {
	        {"frame shorter than Ethernet", 0, 0x45, 20 + 8 + 10 + 1, false, TERN_NET_RUNT},
	        {"IPv4 header cut", 0, 0x45, 8 + 10 + 1, false, TERN_NET_RUNT},
	        {"datagram cut", 0, 0x45, 3, false, TERN_NET_RUNT},
	        {"version 5", 0, 0x55, 0, true, TERN_NET_IP_HEADER},
	        {"IHL 4", 0, 0x44, 0, true, TERN_NET_IP_HEADER},
	        {"IP options", 0, 0x46, 0, true, TERN_NET_IP_OPTIONS},
	        {"bad header checksum", 10, 0x12, 0, false, TERN_NET_IP_CSUM},
	        {"more fragments", 6, 0x60, 0, true, TERN_NET_IP_FRAGMENT},
	        {"fragment offset", 7, 0x08, 0, true, TERN_NET_IP_FRAGMENT},
	        {"other destination", 19, 9, 0, true, TERN_NET_IP_NOT_OURS},
	        {"TCP", 9, 6, 0, true, TERN_NET_IP_PROTO},
	        {"UDP length past IP", 24, 0x40, 0, false, TERN_NET_UDP_HEADER},
	        {"UDP length below 8", 25, 4, 0, false, TERN_NET_UDP_HEADER},
	        {"other port", 22, 0x99, 0, false, TERN_NET_UDP_PORT},
	        {"bad UDP checksum", 29, 'X', 0, false, TERN_NET_UDP_CSUM},
	};
	uint8_t f[128];
	struct tern_net_rx rx;

	setup(0);
	for (size_t i = 0; i < TERN_ARRAY_LEN(m); i++) {
		size_t len = udp_frame(f, 4);
		uint8_t *ip = f + TERN_ETH_HLEN;
		ip[m[i].off] = m[i].val;
		if (m[i].recsum)
			fix_ip4_csum(ip);
		CHECK_EQ(tern_net_parse(&a, f, len - (size_t)m[i].trim, 0, &rx),
		         TERN_NET_KIND_DROP);
		if (rx.drop != m[i].want)
			fprintf(stderr, "mutation '%s'\n", m[i].name);
		CHECK_EQ(rx.drop, m[i].want);
	}
}

static void test_drops_l2(void)
{
	uint8_t f[128];
	struct tern_net_rx rx;
	size_t len;

	setup(0);
	len = udp_frame(f, 4);
	f[5] ^= 1; /* another station's MAC */
	CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_DROP);
	CHECK_EQ(rx.drop, TERN_NET_FOREIGN_MAC);
	memset(f, 0xff, 6); /* broadcast is taken */
	CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_UDP);
	f[0] = 0x01; /* IPv4 multicast MAC 01:00:5e: not ours */
	f[1] = 0;
	f[2] = 0x5e;
	CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_DROP);
	CHECK_EQ(rx.drop, TERN_NET_FOREIGN_MAC);
	len = udp_frame(f, 4);
	tern_put_be16(f + 12, 0x88cc); /* LLDP */
	CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_DROP);
	CHECK_EQ(rx.drop, TERN_NET_ETHERTYPE);
	/* a zero UDP checksum is "none" over IPv4 */
	len = udp_frame(f, 4);
	tern_put_be16(f + 14 + 20 + 6, 0);
	CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_UDP);
	/* IPv4 is not configured on a: the frame's ethertype is refused */
	a.has4 = false;
	CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_DROP);
	CHECK_EQ(rx.drop, TERN_NET_ETHERTYPE);
}

static void test_vlan(void)
{
	uint8_t f[128];
	struct tern_net_rx rx;
	size_t len;

	setup(100);
	len = udp_frame(f, 4);
	CHECK_EQ(tern_get_be16(f + 12), TERN_ETHERTYPE_VLAN);
	CHECK_EQ(tern_get_be16(f + 14), 100);
	a.vlan = 200;
	CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_DROP);
	CHECK_EQ(rx.drop, TERN_NET_VLAN);
	a.vlan = 0;
	CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_DROP);
	CHECK_EQ(rx.drop, TERN_NET_VLAN);
	b.vlan = 0;
	a.vlan = 100;
	len = udp_frame(f, 4);
	CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_DROP);
	CHECK_EQ(rx.drop, TERN_NET_VLAN);
}

static void test_drops_ip6(void)
{
	uint8_t f[128];
	struct tern_net_rx rx;
	size_t len;

	setup(0);
	len = udp_frame(f, 6);
	tern_put_be16(f + 14 + 40 + 6, 0); /* checksum is mandatory over IPv6 */
	CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_DROP);
	CHECK_EQ(rx.drop, TERN_NET_UDP_CSUM);
	len = udp_frame(f, 6);
	f[14 + 6] = 44;
	CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_DROP);
	CHECK_EQ(rx.drop, TERN_NET_IP_FRAGMENT);
	f[14 + 6] = 0;
	CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_DROP);
	CHECK_EQ(rx.drop, TERN_NET_IP_OPTIONS);
	len = udp_frame(f, 6);
	f[14 + 24 + 15] = 7;
	CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_DROP);
	CHECK_EQ(rx.drop, TERN_NET_IP_NOT_OURS);
	len = udp_frame(f, 6);
	CHECK_EQ(tern_net_parse(&a, f, len - 1, 0, &rx), TERN_NET_KIND_DROP);
	CHECK_EQ(rx.drop, TERN_NET_RUNT);
	f[14] = 0x40;
	CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_DROP);
	CHECK_EQ(rx.drop, TERN_NET_IP_HEADER);
}

static void test_arp(void)
{
	uint8_t f[128];
	struct tern_net_rx rx;
	size_t len;

	setup(0);
	len = tern_net_arp_request(&b, f, sizeof(f), a.ip4, NULL);
	CHECK_EQ(len, 60);
	CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_ARP_REQ);
	CHECK(rx.has_lladdr && rx.learn == TERN_NET_LEARN_CREATE);
	CHECK(!memcmp(rx.lladdr, b.mac, 6));
	CHECK(!memcmp(rx.nb.ip, b.ip4, 4));
	len = tern_net_arp_reply(&a, f, len, &rx);
	CHECK_EQ(len, 42);
	CHECK(!memcmp(f, b.mac, 6));
	CHECK(!memcmp(f + 6, a.mac, 6));
	/* b learns a from the reply (it answers b), but creates nothing from it */
	CHECK_EQ(tern_net_parse(&b, f, len, 0, &rx), TERN_NET_KIND_ARP);
	CHECK(rx.has_lladdr && rx.learn == TERN_NET_LEARN_SOLICITED);
	CHECK(!memcmp(rx.lladdr, a.mac, 6));
	CHECK(!memcmp(rx.nb.ip, a.ip4, 4));
	/* a request for someone else: learn-only; a reply to it: nothing */
	len = tern_net_arp_request(&b, f, sizeof(f), (uint8_t[]){10, 9, 0, 77}, NULL);
	CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_ARP);
	CHECK_EQ(tern_net_arp_reply(&a, f, len, &rx), 0);
	CHECK_EQ(tern_net_parse(&a, f, 30, 0, &rx), TERN_NET_KIND_DROP);
	CHECK_EQ(rx.drop, TERN_NET_RUNT);
	len = tern_net_arp_request(&b, f, sizeof(f), a.ip4, NULL);
	f[14 + 5] = 16; /* not IPv4 over Ethernet */
	CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_DROP);
	CHECK_EQ(rx.drop, TERN_NET_ARP);
}

/* An ICMP echo request from b to a (IPv4) with 16 bytes of data. */
static size_t ping4(uint8_t *f)
{
	size_t l2 = tern_net_eth(&b, f, a.mac, TERN_ETHERTYPE_IP4);
	uint8_t *ip = f + l2, *m = ip + 20;

	memset(ip, 0, 20 + 24);
	ip[0] = 0x45;
	tern_put_be16(ip + 2, 20 + 24);
	ip[8] = 64;
	ip[9] = 1;
	memcpy(ip + 12, b.ip4, 4);
	memcpy(ip + 16, a.ip4, 4);
	fix_ip4_csum(ip);
	m[0] = 8;
	tern_put_be16(m + 4, 0x1234);
	tern_put_be16(m + 6, 7);
	memcpy(m + 8, "0123456789abcdef", 16);
	tern_put_be16(m + 2, tern_net_csum(tern_net_sum(m, 24, 0)));
	return l2 + 44;
}

static void test_echo4(void)
{
	uint8_t f[128];
	struct tern_net_rx rx;
	size_t len;
	uint8_t *ip = f + 14, *m = f + 34;

	setup(0);
	len = ping4(f);
	CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_ECHO4);
	CHECK_EQ(tern_net_echo4_reply(&a, f, &rx), len);
	CHECK(!memcmp(f, b.mac, 6));
	CHECK(!memcmp(ip + 12, a.ip4, 4) && !memcmp(ip + 16, b.ip4, 4));
	CHECK_EQ(tern_net_csum(tern_net_sum(ip, 20, 0)), 0);
	CHECK_EQ(m[0], 0);
	CHECK_EQ(tern_net_csum(tern_net_sum(m, 24, 0)), 0);
	CHECK_EQ(tern_get_be16(m + 4), 0x1234);
	CHECK(!memcmp(m + 8, "0123456789abcdef", 16));
	len = ping4(f);
	m[9] ^= 1;
	CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_DROP);
	CHECK_EQ(rx.drop, TERN_NET_ICMP_CSUM);
}

static void test_nd(void)
{
	uint8_t f[128];
	struct tern_net_rx rx;
	size_t len;

	setup(0);
	len = tern_net_nd_solicit(&b, f, sizeof(f), a.ip6, NULL);
	CHECK_EQ(len, 86);
	CHECK_EQ(f[0], 0x33);
	CHECK_EQ(f[2], 0xff);
	CHECK_EQ(f[5], 1);
	CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_NS);
	CHECK(rx.has_lladdr && rx.learn == (TERN_NET_LEARN_CREATE | TERN_NET_LEARN_OVERRIDE));
	CHECK(!memcmp(rx.lladdr, b.mac, 6));
	CHECK(!memcmp(rx.nb.ip, b.ip6, 16));
	len = tern_net_nd_advert(&a, f, sizeof(f), &rx);
	CHECK_EQ(len, 86);
	CHECK_EQ(tern_net_parse(&b, f, len, 0, &rx), TERN_NET_KIND_NA);
	CHECK(rx.has_lladdr && rx.learn == (TERN_NET_LEARN_SOLICITED | TERN_NET_LEARN_OVERRIDE));
	CHECK(!memcmp(rx.lladdr, a.mac, 6));
	CHECK(!memcmp(rx.nb.ip, a.ip6, 16));
	CHECK_EQ(f[14 + 40 + 4], 0x60); /* solicited, override */
	/* a solicitation for the link-local address is answered too */
	len = tern_net_nd_solicit(&b, f, sizeof(f), a.ll6, NULL);
	CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_NS);
	/* hop limit below 255: it was routed, refuse (checksum redone) */
	len = tern_net_nd_solicit(&b, f, sizeof(f), a.ip6, NULL);
	f[14 + 7] = 254;
	CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_DROP);
	CHECK_EQ(rx.drop, TERN_NET_ND);
	/* a solicitation for another host */
	len = tern_net_nd_solicit(&b, f, sizeof(f),
	                          (uint8_t[16]){0xfd, 0, 0, 9, [15] = 1, [14] = 1}, NULL);
	CHECK_EQ(tern_net_parse(&a, f, len, 0, &rx), TERN_NET_KIND_DROP);
	CHECK_EQ(rx.drop, TERN_NET_IP_NOT_OURS);
}

static void test_echo6(void)
{
	uint8_t f[128];
	struct tern_net_rx rx;
	size_t l2;
	uint8_t *ip, *m;

	setup(0);
	l2 = tern_net_eth(&b, f, a.mac, TERN_ETHERTYPE_IP6);
	ip = f + l2;
	m = ip + 40;
	memset(ip, 0, 40 + 16);
	ip[0] = 0x60;
	tern_put_be16(ip + 4, 16);
	ip[6] = 58;
	ip[7] = 64;
	memcpy(ip + 8, b.ip6, 16);
	memcpy(ip + 24, a.ip6, 16);
	m[0] = 128;
	memcpy(m + 8, "pingping", 8);
	tern_put_be16(m + 2, tern_net_csum(tern_net_sum(
	                             m, 16, tern_net_pseudo(6, ip + 8, ip + 24, 58, 16))));
	CHECK_EQ(tern_net_parse(&a, f, l2 + 56, 0, &rx), TERN_NET_KIND_ECHO6);
	CHECK_EQ(tern_net_echo6_reply(&a, f, &rx), l2 + 56);
	CHECK_EQ(m[0], 129);
	CHECK(!memcmp(ip + 8, a.ip6, 16) && !memcmp(ip + 24, b.ip6, 16));
	CHECK_EQ(tern_net_csum(tern_net_sum(m, 16, tern_net_pseudo(6, ip + 8, ip + 24, 58, 16))),
	         0);
}

static void test_next_hop(void)
{
	struct tern_addr to = {.family = 4, .ip = {10, 9, 0, 200}}, hop;

	setup(0);
	CHECK(tern_net_next_hop(&a, &to, &hop));
	CHECK(!memcmp(hop.ip, to.ip, 4));
	to.ip[2] = 1;
	CHECK(!tern_net_next_hop(&a, &to, &hop));
	a.has_gw4 = true;
	memcpy(a.gw4, (uint8_t[]){10, 9, 0, 254}, 4);
	CHECK(tern_net_next_hop(&a, &to, &hop));
	CHECK_EQ(hop.ip[3], 254);
	to = (struct tern_addr){.family = 6, .ip = {0xfe, 0x80, [15] = 5}};
	CHECK(tern_net_next_hop(&a, &to, &hop));
	CHECK_EQ(hop.ip[15], 5);
}

/* ---- the neighbour table ---- */

static int emitted, dropped, probes, probes_unicast;
static uint8_t emitted_to[6]; /* the MAC the last released packet went to */
static void on_emit(void *ctx, void *pkt, const uint8_t mac[6])
{
	(void)ctx;
	(void)pkt;
	emitted += mac[5] == 0xb2;
	memcpy(emitted_to, mac, 6);
}
static void on_drop(void *ctx, void *pkt)
{
	(void)ctx;
	(void)pkt;
	dropped++;
}
static void on_probe(void *ctx, const struct tern_addr *ip, const uint8_t *mac)
{
	(void)ctx;
	(void)ip;
	probes++;
	probes_unicast += mac != NULL;
}

static void test_neigh(void)
{
	static struct tern_neigh nt;
	struct tern_neigh_io io = {.emit = on_emit, .drop = on_drop, .probe = on_probe};
	struct tern_neigh_cfg cfg;
	struct tern_addr hop = {.family = 4, .ip = {10, 9, 0, 2}};
	uint8_t mac[6], mb[6] = {2, 0, 0, 0, 0, 0xb2};
	int p1, p2, p3;
	tern_time t = 1000;

	tern_neigh_cfg_default(&cfg);
	cfg.pending_max = 2;
	tern_neigh_init(&nt, &cfg);
	CHECK_EQ(tern_neigh_resolve(&nt, &hop, t, mac, &io), TERN_NEIGH_PENDING);
	CHECK_EQ(probes, 1);
	CHECK_EQ(tern_neigh_resolve(&nt, &hop, t, mac, &io), TERN_NEIGH_PENDING);
	CHECK_EQ(probes, 1); /* no second probe before retrans */
	CHECK_EQ(tern_neigh_enqueue(&nt, &hop, &p1), 0);
	CHECK_EQ(tern_neigh_enqueue(&nt, &hop, &p2), 0);
	CHECK_EQ(tern_neigh_enqueue(&nt, &hop, &p3), TERN_ELIMIT);
	tern_neigh_learn(&nt, &hop, mb, TERN_NET_LEARN_SOLICITED, t + 10, &io);
	CHECK_EQ(emitted, 2);
	CHECK_EQ(nt.npend, 0);
	CHECK_EQ(tern_neigh_resolve(&nt, &hop, t + 20, mac, &io), TERN_NEIGH_FOUND);
	CHECK_EQ(mac[5], 0xb2);
	tern_neigh_tick(&nt, t + 10 + cfg.reachable, &io);
	CHECK_EQ(tern_neigh_find(&nt, &hop)->state, TERN_NB_STALE);
	CHECK_EQ(tern_neigh_resolve(&nt, &hop, t + 20 + cfg.reachable, mac, &io), TERN_NEIGH_FOUND);
	CHECK_EQ(probes_unicast, 1); /* stale: used, and checked with a unicast probe */
	tern_neigh_tick(&nt, t + 10 + cfg.gc, &io);
	CHECK(tern_neigh_find(&nt, &hop) == NULL);

	/* a peer that never answers: max_probes probes, then FAILED, queue dropped */
	probes = 0;
	hop.ip[3] = 3;
	CHECK_EQ(tern_neigh_resolve(&nt, &hop, t, mac, &io), TERN_NEIGH_PENDING);
	CHECK_EQ(tern_neigh_enqueue(&nt, &hop, &p1), 0);
	for (unsigned i = 1; i <= cfg.max_probes; i++)
		tern_neigh_tick(&nt, t + i * cfg.retrans, &io);
	CHECK_EQ(probes, (int)cfg.max_probes);
	CHECK_EQ(dropped, 1);
	CHECK_EQ(nt.stats.failed, 1);
	CHECK_EQ(tern_neigh_resolve(&nt, &hop, t + 4 * cfg.retrans, mac, &io),
	         TERN_NEIGH_UNREACHABLE);
	tern_neigh_tick(&nt, t + 3 * cfg.retrans + cfg.failed_hold, &io);
	CHECK(tern_neigh_find(&nt, &hop) == NULL);

	/* learning creates only when told to (a request addressed to us), and
	 * STALE: the asker exists, but we have not reached it yet */
	hop.ip[3] = 4;
	tern_neigh_learn(&nt, &hop, mb, TERN_NET_LEARN_SOLICITED, t, &io);
	CHECK(tern_neigh_find(&nt, &hop) == NULL);
	tern_neigh_learn(&nt, &hop, mb, TERN_NET_LEARN_CREATE, t, &io);
	CHECK_EQ(tern_neigh_find(&nt, &hop)->state, TERN_NB_STALE);
	/* a full table evicts: 2000 neighbours in 1024 slots, the newest always found */
	tern_neigh_init(&nt, &cfg);
	{
		unsigned live = 0;
		for (unsigned x = 0; x < 2000; x++) {
			struct tern_addr c = {.family = 4,
			                      .ip = {10, 8, (uint8_t)(x >> 8), (uint8_t)x}};
			tern_neigh_learn(&nt, &c, mb, TERN_NET_LEARN_CREATE, t + x, &io);
			CHECK(tern_neigh_find(&nt, &c) != NULL);
		}
		for (unsigned i = 0; i < TERN_ARRAY_LEN(nt.e); i++)
			live += nt.e[i].state != TERN_NB_FREE;
		CHECK_EQ(nt.stats.created, 2000);
		CHECK_EQ(nt.stats.evicted, 2000 - live);
		CHECK(live > 900 && live <= 1024);
	}
}

/* ---- what ARP and ND messages teach the table ---- */

static const struct tern_neigh_io nio = {.emit = on_emit, .drop = on_drop, .probe = on_probe};

/* What io/dpdk_rxtx.c does with a parsed ARP or ND message. */
static void feed(struct tern_neigh *nt, const struct tern_net_rx *rx, tern_time now)
{
	tern_neigh_learn(nt, &rx->nb, rx->has_lladdr ? rx->lladdr : NULL, rx->learn, now, &nio);
}

/* A station claiming victim's addresses with its own MAC (...:66). */
static struct tern_net_if impostor(const struct tern_net_if *victim)
{
	static const uint8_t mx[6] = {0x02, 0, 0, 0, 0, 0x66};
	struct tern_net_if x = *victim;

	memcpy(x.mac, mx, 6);
	tern_net_if_init(&x);
	return x;
}

enum arp_msg { ARP_ASKS_US, ARP_ANSWERS_US, ARP_GRATUITOUS };

/* An ARP message from n about its IPv4 address, as a parses it. */
static void arp_from(const struct tern_net_if *n, enum arp_msg kind, struct tern_net_rx *rx)
{
	uint8_t f[128];
	size_t len;

	if (kind == ARP_ANSWERS_US) {
		len = tern_net_arp_request(&a, f, sizeof(f), n->ip4, NULL);
		CHECK_EQ(tern_net_parse(n, f, len, 0, rx), TERN_NET_KIND_ARP_REQ);
		len = tern_net_arp_reply(n, f, len, rx);
	} else {
		len = tern_net_arp_request(n, f, sizeof(f), kind == ARP_ASKS_US ? a.ip4 : n->ip4,
		                           NULL);
	}
	CHECK(tern_net_parse(&a, f, len, 0, rx) != TERN_NET_KIND_DROP);
	CHECK(rx->has_lladdr && !memcmp(rx->lladdr, n->mac, 6));
}

static void icmp6_fix(uint8_t *ip)
{
	uint8_t *m = ip + 40;
	size_t n = tern_get_be16(ip + 4);

	tern_put_be16(m + 2, 0);
	tern_put_be16(m + 2, tern_net_csum(tern_net_sum(
	                             m, n, tern_net_pseudo(6, ip + 8, ip + 24, 58, n))));
}

enum { NA_S = 0x40, NA_O = 0x20 };

/* An NA from n about its IPv6 address with these flags, unicast to a
 * (group: to ff02::1 instead), as a parses it. Returns the kind. */
static enum tern_net_kind na_from(const struct tern_net_if *n, uint8_t flags, bool group,
                                  struct tern_net_rx *rx)
{
	static const uint8_t all[16] = {0xff, 2, [15] = 1};
	uint8_t f[128], *ip = f + TERN_ETH_HLEN;
	size_t len = tern_net_nd_solicit(&a, f, sizeof(f), n->ip6, NULL);

	CHECK_EQ(tern_net_parse(n, f, len, 0, rx), TERN_NET_KIND_NS);
	len = tern_net_nd_advert(n, f, sizeof(f), rx);
	ip[40 + 4] = flags;
	if (group) {
		memcpy(f, (uint8_t[]){0x33, 0x33, 0, 0, 0, 1}, 6);
		memcpy(ip + 24, all, 16);
	}
	icmp6_fix(ip);
	return tern_net_parse(&a, f, len, 0, rx);
}

/* RFC 4861 §7.2.5: Solicited decides REACHABLE or STALE; without Override
 * an advertisement never replaces a known address (a REACHABLE entry only
 * turns STALE, so the next packet checks the old one). */
static void test_na_flags(void)
{
	static struct tern_neigh nt;
	struct tern_net_if x;
	struct tern_net_rx rx;
	struct tern_addr hb = {.family = 6};
	const struct tern_neigh_entry *e;
	uint8_t mac[6];
	tern_time t = 1000;

	setup(0);
	x = impostor(&b);
	memcpy(hb.ip, b.ip6, 16);
	tern_neigh_init(&nt, NULL);
	CHECK_EQ(na_from(&b, NA_O, false, &rx), TERN_NET_KIND_NA);
	feed(&nt, &rx, t);
	CHECK(tern_neigh_find(&nt, &hb) == NULL); /* nobody asked: nothing created */
	CHECK_EQ(tern_neigh_resolve(&nt, &hb, t, mac, &nio), TERN_NEIGH_PENDING);
	na_from(&b, NA_O, false, &rx); /* unsolicited: resolves, but STALE */
	feed(&nt, &rx, t);
	e = tern_neigh_find(&nt, &hb);
	CHECK_EQ(e->state, TERN_NB_STALE);
	CHECK(!memcmp(e->mac, b.mac, 6));
	na_from(&b, NA_S | NA_O, false, &rx);
	feed(&nt, &rx, t);
	CHECK_EQ(e->state, TERN_NB_REACHABLE);
	/* the impostor without Override, solicited or not: b's address stays */
	na_from(&x, NA_S, false, &rx);
	feed(&nt, &rx, t);
	CHECK(!memcmp(e->mac, b.mac, 6));
	CHECK_EQ(e->state, TERN_NB_STALE);
	na_from(&x, 0, false, &rx);
	feed(&nt, &rx, t);
	CHECK(!memcmp(e->mac, b.mac, 6));
	CHECK_EQ(nt.stats.conflicts, 2);
	/* b again: solicited confirms; unsolicited with the same address changes nothing */
	na_from(&b, NA_S, false, &rx);
	feed(&nt, &rx, t);
	CHECK_EQ(e->state, TERN_NB_REACHABLE);
	na_from(&b, NA_O, false, &rx);
	feed(&nt, &rx, t);
	CHECK_EQ(e->state, TERN_NB_REACHABLE);
	/* with Override the address is replaced: STALE unless solicited */
	na_from(&x, NA_O, false, &rx);
	feed(&nt, &rx, t);
	CHECK(!memcmp(e->mac, x.mac, 6));
	CHECK_EQ(e->state, TERN_NB_STALE);
	na_from(&x, NA_S | NA_O, false, &rx);
	feed(&nt, &rx, t);
	CHECK_EQ(e->state, TERN_NB_REACHABLE);
	/* Solicited on an advertisement to a multicast group is invalid (§7.1.2) */
	CHECK_EQ(na_from(&b, NA_S | NA_O, true, &rx), TERN_NET_KIND_DROP);
	CHECK_EQ(rx.drop, TERN_NET_ND);
	CHECK_EQ(na_from(&b, NA_O, true, &rx), TERN_NET_KIND_NA);
	/* an advertisement without the address option can only confirm */
	na_from(&b, 0, false, &rx); /* (a conflict: STALE) */
	feed(&nt, &rx, t);
	CHECK_EQ(e->state, TERN_NB_STALE);
	tern_neigh_learn(&nt, &hb, NULL, TERN_NET_LEARN_SOLICITED, t, &nio);
	CHECK_EQ(e->state, TERN_NB_REACHABLE);
	CHECK(!memcmp(e->mac, x.mac, 6));
	hb.ip[15] = 0x77;
	tern_neigh_learn(&nt, &hb, NULL, TERN_NET_LEARN_CREATE | TERN_NET_LEARN_SOLICITED, t, &nio);
	CHECK(tern_neigh_find(&nt, &hb) == NULL);
	CHECK_EQ(tern_neigh_resolve(&nt, &hb, t, mac, &nio), TERN_NEIGH_PENDING);
	tern_neigh_learn(&nt, &hb, NULL, TERN_NET_LEARN_SOLICITED, t, &nio);
	CHECK_EQ(tern_neigh_find(&nt, &hb)->state, TERN_NB_INCOMPLETE);
}

/* ARP has no Override flag: no ARP message replaces a known address. A
 * request for us creates the asker's entry (STALE); an answer to us
 * confirms (REACHABLE); anything else refreshes nothing. */
static void test_arp_merge(void)
{
	static struct tern_neigh nt;
	struct tern_net_if x;
	struct tern_net_rx rx;
	struct tern_addr hb = {.family = 4};
	const struct tern_neigh_entry *e;
	uint8_t mac[6];
	tern_time t = 10 * TERN_SEC; /* past one retrans since "never probed" */

	setup(0);
	x = impostor(&b);
	memcpy(hb.ip, b.ip4, 4);
	tern_neigh_init(&nt, NULL);
	arp_from(&b, ARP_GRATUITOUS, &rx);
	feed(&nt, &rx, t);
	arp_from(&b, ARP_ANSWERS_US, &rx); /* an answer to nothing we asked */
	feed(&nt, &rx, t);
	CHECK(tern_neigh_find(&nt, &hb) == NULL);
	arp_from(&b, ARP_ASKS_US, &rx);
	feed(&nt, &rx, t);
	e = tern_neigh_find(&nt, &hb);
	CHECK(e && e->state == TERN_NB_STALE && !memcmp(e->mac, b.mac, 6));
	/* the impostor's request for us, its gratuitous ARP, its unasked reply */
	for (int k = ARP_ASKS_US; k <= ARP_GRATUITOUS; k++) {
		arp_from(&x, (enum arp_msg)k, &rx);
		feed(&nt, &rx, t);
		CHECK(!memcmp(e->mac, b.mac, 6));
	}
	CHECK_EQ(nt.stats.conflicts, 3);
	arp_from(&b, ARP_ANSWERS_US, &rx);
	feed(&nt, &rx, t);
	CHECK_EQ(e->state, TERN_NB_REACHABLE);
	/* a claim against a REACHABLE entry makes it STALE: the next packet still
	 * goes to b, and a unicast probe asks b whether it is still there */
	arp_from(&x, ARP_ASKS_US, &rx);
	feed(&nt, &rx, t);
	CHECK_EQ(e->state, TERN_NB_STALE);
	probes_unicast = 0;
	CHECK_EQ(tern_neigh_resolve(&nt, &hb, t + 1, mac, &nio), TERN_NEIGH_FOUND);
	CHECK(!memcmp(mac, b.mac, 6));
	CHECK_EQ(probes_unicast, 1);
	arp_from(&b, ARP_ANSWERS_US, &rx);
	feed(&nt, &rx, t + 2);
	CHECK_EQ(e->state, TERN_NB_REACHABLE);
	/* b's request while its entry is known changes nothing either */
	arp_from(&b, ARP_ASKS_US, &rx);
	feed(&nt, &rx, t + 3);
	CHECK_EQ(e->state, TERN_NB_REACHABLE);
}

/* A neighbour that really changed its MAC: the old one stops answering the
 * unicast probes, and after max_probes of them the table asks the link
 * again, so the new MAC is learned from an answer to our broadcast. */
static void test_neigh_moved(void)
{
	static struct tern_neigh nt;
	struct tern_net_if x;
	struct tern_net_rx rx;
	struct tern_addr hb = {.family = 4};
	uint8_t mac[6];
	int pkt, before;
	tern_time t = 10 * TERN_SEC; /* past one retrans since "never probed" */

	setup(0);
	x = impostor(&b); /* b's new NIC */
	memcpy(hb.ip, b.ip4, 4);
	tern_neigh_init(&nt, NULL);
	arp_from(&b, ARP_ASKS_US, &rx);
	feed(&nt, &rx, t);
	arp_from(&x, ARP_GRATUITOUS, &rx); /* announced, but not believed */
	feed(&nt, &rx, t);
	probes_unicast = 0;
	for (unsigned i = 0; i < nt.cfg.max_probes; i++) {
		CHECK_EQ(tern_neigh_resolve(&nt, &hb, t + i * nt.cfg.retrans, mac, &nio),
		         TERN_NEIGH_FOUND);
		CHECK(!memcmp(mac, b.mac, 6));
	}
	CHECK_EQ(probes_unicast, (int)nt.cfg.max_probes);
	before = probes;
	CHECK_EQ(tern_neigh_resolve(&nt, &hb, t + nt.cfg.max_probes * nt.cfg.retrans, mac, &nio),
	         TERN_NEIGH_PENDING);
	CHECK_EQ(probes, before + 1);
	CHECK_EQ(probes_unicast, (int)nt.cfg.max_probes); /* that one was a broadcast */
	CHECK_EQ(tern_neigh_enqueue(&nt, &hb, &pkt), 0);
	arp_from(&x, ARP_ANSWERS_US, &rx);
	feed(&nt, &rx, t + 4 * nt.cfg.retrans);
	CHECK(!memcmp(tern_neigh_find(&nt, &hb)->mac, x.mac, 6));
	CHECK_EQ(tern_neigh_find(&nt, &hb)->state, TERN_NB_REACHABLE);
	CHECK(!memcmp(emitted_to, x.mac, 6)); /* the waiting packet left for the new MAC */
}

/* The FNV-1a bucket the table once used: unkeyed, so anyone could compute it. */
static unsigned fnv_bucket(const uint8_t ip[4])
{
	uint32_t h = 2166136261u ^ 4;

	for (int i = 0; i < 4; i++)
		h = (h ^ ip[i]) * 16777619u;
	return (h ^ (h >> 16)) % TERN_NEIGH_BUCKETS;
}

/* SipHash-2-4's published vectors (key 00..0f; messages empty and 00..0e). */
static void test_shorthash(void)
{
	uint8_t key[TERN_SHORTHASH_KEYLEN], msg[15];

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	CHECK_EQ(tern_shorthash(key, msg, 0), 0x726fdb47dd0e0e31ull);
	CHECK_EQ(tern_shorthash(key, msg, 15), 0xa129ca6149be45e5ull);
}

/* An on-link attacker asks us from addresses chosen to share the gateway's
 * bucket: with a keyed hash they do not, and the gateway stays. */
static void test_neigh_keyed(void)
{
	static struct tern_neigh nt, nt2;
	struct tern_addr gw = {.family = 4, .ip = {10, 9, 0, 254}};
	const uint8_t mg[6] = {2, 0, 0, 0, 0, 0xfe}, mx[6] = {2, 0, 0, 0, 0, 0x66};
	unsigned sent = 0;

	tern_neigh_init(&nt, NULL);
	tern_neigh_init(&nt2, NULL);
	CHECK(memcmp(nt.key, nt2.key, sizeof(nt.key)) != 0); /* each table draws its own */
	memset(nt.key, 0x5a, sizeof(nt.key));                /* fixed: a deterministic test */
	tern_neigh_learn(&nt, &gw, mg, TERN_NET_LEARN_CREATE, 1000, &nio);
	for (unsigned x = 0; sent < 2 * TERN_NEIGH_WAYS && x < 65536; x++) {
		struct tern_addr c = {.family = 4, .ip = {10, 9, (uint8_t)(x >> 8), (uint8_t)x}};
		if (x == 254 || fnv_bucket(c.ip) != fnv_bucket(gw.ip))
			continue;
		tern_neigh_learn(&nt, &c, mx, TERN_NET_LEARN_CREATE, 2000 + x, &nio);
		sent++;
	}
	CHECK_EQ(sent, 2 * TERN_NEIGH_WAYS);
	CHECK(tern_neigh_find(&nt, &gw) != NULL);
	CHECK_EQ(nt.stats.evicted, 0);
}

/* ICMP echo replies through a token bucket, in virtual time. */
static void test_echo_limit(void)
{
	struct tern_net_ratelimit rl;
	tern_time t = 5 * TERN_SEC;
	unsigned ok = 0;

	tern_net_ratelimit_init(&rl, 10, 3); /* 10 a second, bursts of 3 */
	for (int i = 0; i < 10; i++)
		ok += tern_net_ratelimit_take(&rl, t);
	CHECK_EQ(ok, 3);
	CHECK(!tern_net_ratelimit_take(&rl, t + TERN_SEC / 10 - 1));
	CHECK(tern_net_ratelimit_take(&rl, t + TERN_SEC / 10));
	CHECK(!tern_net_ratelimit_take(&rl, t + TERN_SEC / 10));
	/* a request every millisecond for 10 s: the rate, plus what was left */
	ok = 0;
	for (tern_time u = t + TERN_SEC; u < t + 11 * TERN_SEC; u += TERN_MS)
		ok += tern_net_ratelimit_take(&rl, u);
	CHECK(ok >= 100 && ok <= 103);
	/* idle for a minute: one burst, not a minute's worth */
	ok = 0;
	for (int i = 0; i < 100; i++)
		ok += tern_net_ratelimit_take(&rl, t + 71 * TERN_SEC);
	CHECK_EQ(ok, 3);
	/* 0 takes the defaults */
	tern_net_ratelimit_init(&rl, 0, 0);
	ok = 0;
	for (int i = 0; i < 1000; i++)
		ok += tern_net_ratelimit_take(&rl, t);
	CHECK_EQ(ok, TERN_NET_ECHO_BURST);
}

/* A two-socket machine: CPUs 0-3 on socket 0, 4-7 on socket 1, others unknown. */
static int fake_socket(void *ctx, int cpu)
{
	(void)ctx;
	return cpu < 4 ? 0 : cpu < 8 ? 1 : TERN_DPDK_SOCKET_ANY;
}

static void test_pool_plan(void)
{
	struct tern_dpdk_pool_plan pl;
	const int spread[] = {0, 4, 1, 5}, across[] = {5, 0}, unknown[] = {2, 9};
	char path[96];
	int s;

	/* workers not pinned: one pool on the port's socket, or on any */
	tern_dpdk_plan_pools(4, NULL, 0, 1, fake_socket, NULL, &pl);
	CHECK_EQ(pl.npools, 1);
	CHECK_EQ(pl.socket[0], 1);
	CHECK_EQ(pl.queues[0], 4);
	CHECK_EQ(pl.pool_of[3], 0);
	tern_dpdk_plan_pools(2, NULL, 0, TERN_DPDK_SOCKET_ANY, fake_socket, NULL, &pl);
	CHECK_EQ(pl.npools, 1);
	CHECK_EQ(pl.socket[0], TERN_DPDK_SOCKET_ANY);
	/* four workers across two sockets: two pools, each queue on its own */
	tern_dpdk_plan_pools(4, spread, 4, 0, fake_socket, NULL, &pl);
	CHECK_EQ(pl.npools, 2);
	CHECK_EQ(pl.socket[0], 0);
	CHECK_EQ(pl.socket[1], 1);
	CHECK_EQ(pl.queues[0], 2);
	CHECK_EQ(pl.queues[1], 2);
	CHECK_EQ(pl.pool_of[0], 0);
	CHECK_EQ(pl.pool_of[1], 1);
	CHECK_EQ(pl.pool_of[2], 0);
	CHECK_EQ(pl.pool_of[3], 1);
	/* fewer cores than workers: queue i on cores[i % ncores]; the port's
	 * socket (0) does not get a pool no worker uses... */
	tern_dpdk_plan_pools(3, across, 2, 0, fake_socket, NULL, &pl);
	CHECK_EQ(pl.npools, 2);
	CHECK_EQ(pl.socket[0], 1);
	CHECK_EQ(pl.socket[1], 0);
	CHECK_EQ(pl.queues[0], 2);
	CHECK_EQ(pl.pool_of[2], 0);
	/* ...and one pinned to both on the same socket gets one pool */
	tern_dpdk_plan_pools(2, spread, 1, 1, fake_socket, NULL, &pl);
	CHECK_EQ(pl.npools, 1);
	CHECK_EQ(pl.socket[0], 0);
	/* a CPU of unknown socket: the port's socket, else any */
	tern_dpdk_plan_pools(2, unknown, 2, 1, fake_socket, NULL, &pl);
	CHECK_EQ(pl.npools, 2);
	CHECK_EQ(pl.socket[0], 0);
	CHECK_EQ(pl.socket[1], 1);
	tern_dpdk_plan_pools(2, unknown, 2, TERN_DPDK_SOCKET_ANY, fake_socket, NULL, &pl);
	CHECK_EQ(pl.socket[1], TERN_DPDK_SOCKET_ANY);
	/* the queue count is capped at what the plan holds */
	tern_dpdk_plan_pools(1000, NULL, 0, 0, fake_socket, NULL, &pl);
	CHECK_EQ(pl.queues[0], TERN_DPDK_MAX_QUEUES);

	/* sysfs: no such CPU is unknown; CPU 0's node, if any, exists */
	CHECK_EQ(tern_dpdk_cpu_socket(NULL, -1), TERN_DPDK_SOCKET_ANY);
	CHECK_EQ(tern_dpdk_cpu_socket(NULL, 1 << 20), TERN_DPDK_SOCKET_ANY);
	s = tern_dpdk_cpu_socket(NULL, 0);
	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu0/node%d", s);
	CHECK(s == TERN_DPDK_SOCKET_ANY || access(path, F_OK) == 0);
}

int main(void)
{
	test_checksum();
	test_udp_roundtrip(0);
	test_udp_roundtrip(42);
	test_drops_ip4();
	test_drops_l2();
	test_vlan();
	test_drops_ip6();
	test_arp();
	test_echo4();
	test_nd();
	test_echo6();
	test_next_hop();
	test_neigh();
	test_na_flags();
	test_arp_merge();
	test_neigh_moved();
	test_shorthash();
	test_neigh_keyed();
	test_echo_limit();
	test_pool_plan();
	return tern_check_result("dpdk_net");
}
