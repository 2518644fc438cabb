/* The L2/L3 work DPDK leaves to us: Ethernet (with an optional VLAN tag),
 * ARP, IPv4, IPv6, UDP, ICMP echo and IPv6 neighbour discovery, as pure
 * functions over byte buffers (io/dpdk_ip.c, dpdk_arp.c, dpdk_icmp.c).
 * No DPDK type appears here: the parsers and builders are unit-tested
 * (tests/test_dpdk_net.c) without an EAL, and the mbuf glue in
 * io/dpdk_rxtx.c stays thin. Parsing walks a cursor against the frame's
 * end and checks every length before reading; replies are built in place
 * in the received frame, so answering a ping or an ARP allocates nothing. */
#ifndef TERN_DPDK_NET_H
#define TERN_DPDK_NET_H

#include "core/common.h"
#include "tern/addr.h"

#define TERN_ETH_ALEN 6
#define TERN_ETH_HLEN 14
#define TERN_VLAN_HLEN 4
#define TERN_IP4_HLEN 20
#define TERN_IP6_HLEN 40
#define TERN_UDP_HLEN 8
/* Headroom a UDP packet needs before its payload: Ethernet, VLAN, IPv6, UDP. */
#define TERN_NET_HDR_MAX (TERN_ETH_HLEN + TERN_VLAN_HLEN + TERN_IP6_HLEN + TERN_UDP_HLEN)
#define TERN_NET_ARP_FRAME 60 /* an ARP frame padded to Ethernet's minimum */
#define TERN_NET_NS_FRAME (TERN_ETH_HLEN + TERN_VLAN_HLEN + TERN_IP6_HLEN + 32)

#define TERN_ETHERTYPE_IP4 0x0800
#define TERN_ETHERTYPE_ARP 0x0806
#define TERN_ETHERTYPE_VLAN 0x8100
#define TERN_ETHERTYPE_IP6 0x86dd

/* Our identity on the link. ll6 is derived from mac (EUI-64) by
 * tern_net_if_init; gateways are used for destinations outside the prefix. */
struct tern_net_if {
	uint8_t mac[TERN_ETH_ALEN];
	uint16_t vlan; /* VLAN ID 1..4094 we tag with and require; 0: untagged */
	uint16_t port; /* our UDP port, host order */
	bool has4, has6, has_gw4, has_gw6;
	uint8_t prefix4, prefix6;
	uint8_t ip4[4], gw4[4];
	uint8_t ip6[16], gw6[16], ll6[16];
};

/* Why a received frame was dropped; each reason has a counter. */
enum tern_net_drop {
	TERN_NET_OK = 0,
	TERN_NET_RUNT,        /* shorter than the headers it carries */
	TERN_NET_FOREIGN_MAC, /* unicast to another station, or a multicast we do not take */
	TERN_NET_VLAN,        /* tag missing, unexpected or another VLAN */
	TERN_NET_ETHERTYPE,   /* not ARP, IPv4 or IPv6, or that family is not configured */
	TERN_NET_IP_HEADER,   /* version, header length, total length or TTL wrong */
	TERN_NET_IP_OPTIONS,  /* IPv4 options or IPv6 extension headers */
	TERN_NET_IP_CSUM,     /* IPv4 header checksum */
	TERN_NET_IP_FRAGMENT, /* IPv4 MF or offset, IPv6 fragment header: tern never fragments */
	TERN_NET_IP_NOT_OURS, /* destination is not one of our addresses */
	TERN_NET_IP_PROTO,    /* neither UDP nor ICMP */
	TERN_NET_UDP_HEADER,  /* UDP length field disagrees with the IP length */
	TERN_NET_UDP_CSUM,
	TERN_NET_UDP_PORT, /* not our port */
	TERN_NET_ICMP_CSUM,
	TERN_NET_ICMP_OTHER, /* ICMP we do not answer (not an echo request, not ND) */
	TERN_NET_ARP,        /* malformed ARP, or not for IPv4 over Ethernet */
	TERN_NET_ND,         /* malformed neighbour discovery or hop limit below 255 */
	TERN_NET_DROP_MAX
};
/* Counter names, e.g. "ip_csum". */
extern const char *const tern_net_drop_names[TERN_NET_DROP_MAX];

enum tern_net_kind {
	TERN_NET_KIND_DROP,
	TERN_NET_KIND_UDP,     /* for our port: payload_off/payload_len, src */
	TERN_NET_KIND_ARP_REQ, /* an ARP request for our address: answer it */
	TERN_NET_KIND_ARP,     /* other ARP (reply, gratuitous, for others): learn only */
	TERN_NET_KIND_ECHO4,   /* ICMP echo request to us */
	TERN_NET_KIND_ECHO6,   /* ICMPv6 echo request to us */
	TERN_NET_KIND_NS,      /* neighbour solicitation for one of our addresses */
	TERN_NET_KIND_NA,      /* neighbour advertisement: learn only */
};

/* What an ARP or ND message may do to the neighbour table (RFC 4861
 * §7.2.5's flags, which io/dpdk_neigh.c applies to ARP too). */
enum {
	TERN_NET_LEARN_CREATE = 1,    /* it asks us (ARP request, NS): may create an entry */
	TERN_NET_LEARN_SOLICITED = 2, /* it answers us (ARP reply to us, NA with S): confirms */
	TERN_NET_LEARN_OVERRIDE = 4,  /* it may replace a known MAC (NA with O, NS); ARP never */
};

struct tern_net_rx {
	enum tern_net_kind kind;
	enum tern_net_drop drop; /* when kind is DROP */
	uint16_t l2_len;         /* Ethernet (+ VLAN) header bytes */
	uint16_t l3_len;         /* IP header bytes */
	uint16_t l4_off, l4_len; /* UDP or ICMP message within the frame, padding excluded */
	uint16_t payload_off, payload_len; /* UDP payload */
	struct tern_addr src;              /* source address (and UDP port) */
	uint8_t dst_ip[16];                /* the IP destination (IPv4 in [0..3]) */
	/* Neighbour learning: the sender's (or ND target's) IP and MAC. */
	bool has_lladdr;
	uint8_t learn; /* TERN_NET_LEARN_*: what the message may do to the table */
	uint8_t lladdr[TERN_ETH_ALEN];
	struct tern_addr nb; /* family and ip of the neighbour; port unused */
};

/* Checksum verdicts the NIC may have given (mbuf ol_flags); 0 = verify in software. */
enum { TERN_NET_L3_GOOD = 1, TERN_NET_L3_BAD = 2, TERN_NET_L4_GOOD = 4, TERN_NET_L4_BAD = 8 };

/* Fills ll6 from mac; call after setting mac. */
void tern_net_if_init(struct tern_net_if *nif);

/* Classifies one frame. Returns rx->kind; on DROP rx->drop says why. */
enum tern_net_kind tern_net_parse(const struct tern_net_if *nif, const uint8_t *f, size_t len,
                                  unsigned csum, struct tern_net_rx *rx);

/* Header bytes before a UDP payload to `family` (4 or 6). */
size_t tern_net_udp_hdr_len(const struct tern_net_if *nif, uint8_t family);
/* Writes Ethernet (+ VLAN), IP and UDP headers into f (udp_hdr_len bytes),
 * the payload of payload_len bytes following them. IPv4 gets DF, TTL 64.
 * ip_offload: leave the IPv4 header checksum 0 for the NIC; udp_offload:
 * put the pseudo-header sum in the UDP checksum for the NIC to finish.
 * Returns the frame length. */
size_t tern_net_build_udp(const struct tern_net_if *nif, uint8_t *f,
                          const uint8_t dst[TERN_ETH_ALEN], const struct tern_addr *to,
                          size_t payload_len, bool ip_offload, bool udp_offload);
/* Writes an Ethernet (+ VLAN) header; returns its length. */
size_t tern_net_eth(const struct tern_net_if *nif, uint8_t *f, const uint8_t dst[TERN_ETH_ALEN],
                    uint16_t ethertype);

/* The neighbour to resolve for `to` (itself, or the gateway when outside
 * our prefix). Returns false when there is no route (no gateway). */
bool tern_net_next_hop(const struct tern_net_if *nif, const struct tern_addr *to,
                       struct tern_addr *hop);

/* Replies built in place over a received frame of len bytes (capacity cap
 * bytes): they return the reply's length, 0 when there is none. */
size_t tern_net_arp_reply(const struct tern_net_if *nif, uint8_t *f, size_t len,
                          const struct tern_net_rx *rx);
size_t tern_net_echo4_reply(const struct tern_net_if *nif, uint8_t *f,
                            const struct tern_net_rx *rx);
size_t tern_net_echo6_reply(const struct tern_net_if *nif, uint8_t *f,
                            const struct tern_net_rx *rx);
size_t tern_net_nd_advert(const struct tern_net_if *nif, uint8_t *f, size_t cap,
                          const struct tern_net_rx *rx);

/* Requests into an empty buffer of cap bytes; dst NULL broadcasts (ARP) or
 * goes to the solicited-node multicast group (ND). Return the length, 0 if
 * cap is too small or the family is not configured. */
size_t tern_net_arp_request(const struct tern_net_if *nif, uint8_t *f, size_t cap,
                            const uint8_t ip[4], const uint8_t *dst);
size_t tern_net_nd_solicit(const struct tern_net_if *nif, uint8_t *f, size_t cap,
                           const uint8_t ip[16], const uint8_t *dst);

/* ICMP echo replies per queue: a token bucket of `burst` replies refilled
 * at `rate` a second (GCRA form: one deadline, no division per packet).
 * Requests over it are dropped and counted, so the host cannot be made to
 * spend its queue answering pings. */
#define TERN_NET_ECHO_RATE 1000 /* replies a second, per queue */
#define TERN_NET_ECHO_BURST 50
struct tern_net_ratelimit {
	tern_time tat;      /* when the replies given so far are paid for at `rate` */
	tern_time interval; /* one token's worth of time */
	tern_time slack;    /* burst - 1 tokens: how far tat may run ahead of now */
};
/* rate at most TERN_SEC a second; 0 (either) takes the defaults above. */
void tern_net_ratelimit_init(struct tern_net_ratelimit *rl, unsigned rate, unsigned burst);
/* True when a reply may go at now (and takes its token). */
bool tern_net_ratelimit_take(struct tern_net_ratelimit *rl, tern_time now);

/* Internet checksum pieces: a 32-bit running sum of big-endian 16-bit
 * words (an odd tail is padded), and its folded complement. */
uint32_t tern_net_sum(const uint8_t *p, size_t n, uint32_t acc);
uint16_t tern_net_csum(uint32_t acc);
/* The pseudo-header sum for UDP or ICMPv6 (family 4 or 6). */
uint32_t tern_net_pseudo(uint8_t family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                         size_t len);

/* ---- shared by io/dpdk_*.c ---- */
void tern_net_eth_turn(const struct tern_net_if *nif, uint8_t *f);
void tern_net_parse_arp(const struct tern_net_if *nif, const uint8_t *p, size_t n,
                        struct tern_net_rx *rx);
void tern_net_parse_icmp4(const uint8_t *p, size_t n, struct tern_net_rx *rx);
void tern_net_parse_icmp6(const struct tern_net_if *nif, const uint8_t *f, size_t n,
                          struct tern_net_rx *rx);
/* Reply headers: the Ethernet addresses turned around (ours as source), the
 * IP addresses swapped with `our` as source, TTL / hop limit 64, the IPv4
 * header checksum redone. */
void tern_net_ip_turn(uint8_t *ip, uint8_t family, const uint8_t *our);
bool tern_net_is_ours6(const struct tern_net_if *nif, const uint8_t ip[16]);

#endif
