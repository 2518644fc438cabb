/* Bad frames for tests/test_dpdk.sh: from the kernel side of a veth, sends
 * `count` frames of each kind the DPDK backend must drop and count (a runt,
 * a foreign destination MAC, a bad IPv4 header checksum, a bad UDP
 * checksum, IPv4 options, an IPv4 fragment, an IPv6 fragment) through an
 * AF_PACKET socket, and prints "<counter> <frames>" for each so the script
 * can compare with the server's q0.drop_<counter>. Then the attacks the
 * backend must shrug off: `count` ARP requests and `count` unsolicited
 * neighbour advertisements (no Override flag) claiming SRC_IP4 and SRC_IP6
 * for another MAC (arp_spoof, na_spoof: neigh.conflicts, and the MACs
 * stay), and 80 x `count` echo requests back to back (echo_flood: over
 * the echo rate limit, q0.echo_limited). With VID (a server on
 * VLAN VID), it sends instead good IPv4 datagrams untagged and tagged with
 * VID + 1, which must both count as drop_vlan. Needs root.
 *
 *   test_dpdk_inject IFACE DST_MAC SRC_IP4 DST_IP4 SRC_IP6 DST_IP6 DST_PORT COUNT [VID] */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/dpdk_net.h"

#define ECHO_LEN 16   /* an echo request's ICMP bytes */
#define ECHO_FLOOD 80 /* echo requests per `count` */

struct ctx {
	int fd;
	struct tern_net_if snd;
	uint8_t dst_mac[6];
	struct tern_addr to4, to6;
	unsigned count;
};

static void send_n(struct ctx *c, const char *name, const uint8_t *f, size_t len, unsigned times)
{
	unsigned sent = 0;

	for (unsigned i = 0; i < c->count * times; i++)
		sent += send(c->fd, f, len, 0) == (ssize_t)len;
	printf("%s %u\n", name, sent);
}

static size_t good(struct ctx *c, uint8_t *f, uint8_t family)
{
	size_t h = tern_net_udp_hdr_len(&c->snd, family);

	memset(f + h, 'x', 64);
	return tern_net_build_udp(&c->snd, f, c->dst_mac, family == 4 ? &c->to4 : &c->to6, 64,
	                          false, false);
}

static void ip4_csum(uint8_t *ip)
{
	size_t hl = (size_t)(ip[0] & 15) * 4;

	tern_put_be16(ip + 10, 0);
	tern_put_be16(ip + 10, tern_net_csum(tern_net_sum(ip, hl, 0)));
}

static void inject(struct ctx *c)
{
	uint8_t f[256], *ip = f + TERN_ETH_HLEN;
	size_t len;

	good(c, f, 4);
	send_n(c, "runt", f, TERN_ETH_HLEN + 10, 1); /* Ethernet + half an IPv4 header */
	len = good(c, f, 4);
	memcpy(f, "\x02\x00\x00\x00\x00\x99", 6);
	send_n(c, "foreign_mac", f, len, 1);
	len = good(c, f, 4);
	ip[10] ^= 0xff;
	send_n(c, "ip_csum", f, len, 1);
	len = good(c, f, 4);
	f[len - 1] ^= 0xff;
	send_n(c, "udp_csum", f, len, 1);
	len = good(c, f, 4); /* IPv4 with 4 bytes of NOP options, checksum right */
	memmove(ip + 24, ip + 20, len - TERN_ETH_HLEN - 20);
	memset(ip + 20, 1, 4);
	ip[0] = 0x46;
	tern_put_be16(ip + 2, (uint16_t)(tern_get_be16(ip + 2) + 4));
	ip4_csum(ip);
	send_n(c, "ip_options", f, len + 4, 1);
	len = good(c, f, 4);
	ip[6] |= 0x20; /* more fragments */
	ip4_csum(ip);
	send_n(c, "ip_fragment4", f, len, 1);
	len = good(c, f, 6);
	ip[6] = 44; /* a fragment header follows */
	send_n(c, "ip_fragment6", f, len, 1);
}

/* An ICMP echo request to DST_IP4. */
static size_t echo_request(struct ctx *c, uint8_t *f)
{
	size_t l2 = tern_net_eth(&c->snd, f, c->dst_mac, TERN_ETHERTYPE_IP4);
	uint8_t *ip = f + l2, *m = ip + TERN_IP4_HLEN;

	memset(ip, 0, TERN_IP4_HLEN + ECHO_LEN);
	ip[0] = 0x45;
	tern_put_be16(ip + 2, TERN_IP4_HLEN + ECHO_LEN);
	ip[8] = 64;
	ip[9] = 1; /* ICMP */
	memcpy(ip + 12, c->snd.ip4, 4);
	memcpy(ip + 16, c->to4.ip, 4);
	ip4_csum(ip);
	m[0] = 8; /* echo request */
	memcpy(m + 8, "flooding", 8);
	tern_put_be16(m + 2, tern_net_csum(tern_net_sum(m, ECHO_LEN, 0)));
	return l2 + TERN_IP4_HLEN + ECHO_LEN;
}

/* An unsolicited NA without Override from x about its IPv6 address to
 * the server: built as x's answer to the server's solicitation, then its
 * flags cleared and its checksum redone. */
static size_t na_unsolicited(struct ctx *c, const struct tern_net_if *x, uint8_t *f, size_t cap)
{
	struct tern_net_if srv = {.has6 = true};
	struct tern_net_rx rx;
	uint8_t *ip = f + TERN_ETH_HLEN, *m = ip + TERN_IP6_HLEN;
	size_t len, n;

	memcpy(srv.mac, c->dst_mac, 6);
	memcpy(srv.ip6, c->to6.ip, 16);
	tern_net_if_init(&srv);
	len = tern_net_nd_solicit(&srv, f, cap, x->ip6, NULL);
	if (tern_net_parse(x, f, len, 0, &rx) != TERN_NET_KIND_NS)
		return 0;
	len = tern_net_nd_advert(x, f, cap, &rx);
	n = len - TERN_ETH_HLEN - TERN_IP6_HLEN;
	m[4] = 0; /* neither Solicited nor Override */
	tern_put_be16(m + 2, 0);
	tern_put_be16(m + 2, tern_net_csum(tern_net_sum(
	                             m, n, tern_net_pseudo(6, ip + 8, ip + 24, 58, n))));
	return len;
}

/* Claims on the kernel side's addresses from another MAC, and a ping flood. */
static void attack(struct ctx *c)
{
	struct tern_net_if x = c->snd;
	uint8_t f[256];
	size_t len;

	memcpy(x.mac, "\x02\x00\x00\x00\x00\x99", 6);
	tern_net_if_init(&x);
	len = tern_net_arp_request(&x, f, sizeof(f), c->to4.ip, NULL);
	send_n(c, "arp_spoof", f, len, 1);
	len = na_unsolicited(c, &x, f, sizeof(f));
	send_n(c, "na_spoof", f, len, 1);
	len = echo_request(c, f);
	send_n(c, "echo_flood", f, len, ECHO_FLOOD);
}

/* Good datagrams but for the tag: none, then another VLAN's. */
static void inject_vlan(struct ctx *c, unsigned vid)
{
	uint8_t f[256];
	size_t len;

	c->snd.vlan = 0;
	len = good(c, f, 4);
	send_n(c, "vlan_untagged", f, len, 1);
	c->snd.vlan = (uint16_t)(vid % 4094 + 1);
	len = good(c, f, 4);
	send_n(c, "vlan_wrong", f, len, 1);
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3],
	              &mac[4], &mac[5]) == 6
	               ? 0
	               : -1;
}

static int setup(struct ctx *c, char **argv)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
	struct ifreq ifr;

	memset(c, 0, sizeof(*c));
	c->to4 = (struct tern_addr){.family = 4, .port = (uint16_t)atoi(argv[7])};
	c->to6 = (struct tern_addr){.family = 6, .port = c->to4.port};
	c->count = (unsigned)atoi(argv[8]);
	if (parse_mac(argv[2], c->dst_mac) < 0 || inet_pton(AF_INET, argv[3], c->snd.ip4) != 1 ||
	    inet_pton(AF_INET, argv[4], c->to4.ip) != 1 ||
	    inet_pton(AF_INET6, argv[5], c->snd.ip6) != 1 ||
	    inet_pton(AF_INET6, argv[6], c->to6.ip) != 1)
		return -1;
	c->fd = socket(AF_PACKET, SOCK_RAW, 0);
	sll.sll_ifindex = (int)if_nametoindex(argv[1]);
	if (c->fd < 0 || !sll.sll_ifindex || bind(c->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return perror("AF_PACKET socket"), -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[1]);
	if (ioctl(c->fd, SIOCGIFHWADDR, &ifr) < 0)
		return perror("SIOCGIFHWADDR"), -1;
	memcpy(c->snd.mac, ifr.ifr_hwaddr.sa_data, 6);
	c->snd.has4 = c->snd.has6 = true;
	c->snd.port = 40000;
	tern_net_if_init(&c->snd);
	return 0;
}

int main(int argc, char **argv)
{
	struct ctx c;

	if ((argc != 9 && argc != 10) || setup(&c, argv) < 0) {
		fprintf(stderr, "usage: test_dpdk_inject IFACE DST_MAC SRC_IP4 DST_IP4 SRC_IP6 "
		                "DST_IP6 DST_PORT COUNT [VID] (as root)\n");
		return 2;
	}
	if (argc == 10) {
		inject_vlan(&c, (unsigned)atoi(argv[9]));
	} else {
		inject(&c);
		attack(&c);
	}
	close(c.fd);
	return 0;
}
