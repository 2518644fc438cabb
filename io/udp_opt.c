/* Socket options of the UDP handle (include/tern/udp.h): multicast
 * membership, loop, hop limits and interface, broadcast, TTL, buffer sizes,
 * fileno and getsockname. Each is one setsockopt chosen by the socket's
 * family, as in libuv's unix/udp.c; kept apart from udp.c, which is about
 * the ring. Multicast groups and interfaces are numeric text, like libuv:
 * IPv4 interfaces by local address, IPv6 interfaces by name or index. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include "tern/error.h"
#include "io/uring.h"
#include "udp_int.h"

static int set_opt(struct tern_udp *h, const char *fn, int level, int name, const void *val,
                   socklen_t len)
{
	if (setsockopt(h->fd, level, name, val, len) < 0)
		return tern_udp_sys_fail(h, errno, fn, "setsockopt");
	return TERN_OK;
}

/* One int option, IPv4 or IPv6 flavour by the socket's family. */
static int set_int_opt(struct tern_udp *h, const char *fn, int name4, int name6, int val)
{
	int r = tern_udp_usable(h, fn, true);

	if (r)
		return r;
	if (h->family == AF_INET6)
		return set_opt(h, fn, IPPROTO_IPV6, name6, &val, sizeof(val));
	return set_opt(h, fn, IPPROTO_IP, name4, &val, sizeof(val));
}

int tern_udp_set_multicast_loop(struct tern_udp *h, bool on)
{
	return set_int_opt(h, "tern_udp_set_multicast_loop", IP_MULTICAST_LOOP, IPV6_MULTICAST_LOOP,
	                   on ? 1 : 0);
}

int tern_udp_set_multicast_ttl(struct tern_udp *h, int ttl)
{
	const char *fn = "tern_udp_set_multicast_ttl";

	if (h && (ttl < 0 || ttl > 255) && !(h->st & TERN_UDP_ST_CLOSING))
		return tern_udp_fail(h, TERN_EINVAL, fn, "ttl outside 0..255");
	return set_int_opt(h, fn, IP_MULTICAST_TTL, IPV6_MULTICAST_HOPS, ttl);
}

int tern_udp_set_ttl(struct tern_udp *h, int ttl)
{
	const char *fn = "tern_udp_set_ttl";

	if (h && (ttl < 1 || ttl > 255) && !(h->st & TERN_UDP_ST_CLOSING))
		return tern_udp_fail(h, TERN_EINVAL, fn, "ttl outside 1..255");
	return set_int_opt(h, fn, IP_TTL, IPV6_UNICAST_HOPS, ttl);
}

int tern_udp_set_broadcast(struct tern_udp *h, bool on)
{
	const char *fn = "tern_udp_set_broadcast";
	int r = tern_udp_usable(h, fn, true), val = on ? 1 : 0;

	return r ? r : set_opt(h, fn, SOL_SOCKET, SO_BROADCAST, &val, sizeof(val));
}

/* An IPv6 interface by name ("lo") or decimal index ("1"); NULL is 0. */
static int iface6(struct tern_udp *h, const char *fn, const char *name, unsigned *index)
{
	char *end;
	unsigned long v;

	*index = 0;
	if (!name)
		return TERN_OK;
	*index = if_nametoindex(name);
	if (*index)
		return TERN_OK;
	v = strtoul(name, &end, 10);
	if (name[0] >= '0' && name[0] <= '9' && *end == '\0' && v <= 0xffffffffu) {
		*index = (unsigned)v;
		return TERN_OK;
	}
	return tern_udp_fail(h, TERN_EINVAL, fn, "unknown IPv6 interface name");
}

/* An IPv4 interface by local address; NULL is INADDR_ANY. */
static int iface4(struct tern_udp *h, const char *fn, const char *text, struct in_addr *a)
{
	a->s_addr = htonl(INADDR_ANY);
	if (text && inet_pton(AF_INET, text, a) != 1)
		return tern_udp_fail(h, TERN_EINVAL, fn, "interface is not an IPv4 address");
	return TERN_OK;
}

int tern_udp_set_multicast_interface(struct tern_udp *h, const char *interface)
{
	const char *fn = "tern_udp_set_multicast_interface";
	struct in_addr a4;
	unsigned idx;
	int r = tern_udp_usable(h, fn, true);

	if (r)
		return r;
	if (h->family == AF_INET6) {
		if ((r = iface6(h, fn, interface, &idx)) != 0)
			return r;
		return set_opt(h, fn, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof(idx));
	}
	if ((r = iface4(h, fn, interface, &a4)) != 0)
		return r;
	return set_opt(h, fn, IPPROTO_IP, IP_MULTICAST_IF, &a4, sizeof(a4));
}

static int membership4(struct tern_udp *h, const char *fn, const struct in_addr *group,
                       const char *interface, bool join)
{
	struct ip_mreq m = {.imr_multiaddr = *group};
	int r = iface4(h, fn, interface, &m.imr_interface);

	if (r)
		return r;
	return set_opt(h, fn, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &m,
	               sizeof(m));
}

static int membership6(struct tern_udp *h, const char *fn, const struct in6_addr *group,
                       const char *interface, bool join)
{
	struct ipv6_mreq m = {.ipv6mr_multiaddr = *group};
	int r;

	if (h->family != AF_INET6)
		return tern_udp_fail(h, TERN_EINVAL, fn, "IPv6 group on an IPv4 socket");
	if ((r = iface6(h, fn, interface, &m.ipv6mr_interface)) != 0)
		return r;
	return set_opt(h, fn, IPPROTO_IPV6, join ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP, &m,
	               sizeof(m));
}

int tern_udp_set_membership(struct tern_udp *h, const char *group, const char *interface,
                            enum tern_membership membership)
{
	const char *fn = "tern_udp_set_membership";
	struct in6_addr g6;
	struct in_addr g4;
	int r = tern_udp_usable(h, fn, true);

	if (r)
		return r;
	if (membership != TERN_UDP_JOIN_GROUP && membership != TERN_UDP_LEAVE_GROUP)
		return tern_udp_fail(h, TERN_EINVAL, fn, "membership is neither JOIN nor LEAVE");
	if (!group)
		return tern_udp_fail(h, TERN_EINVAL, fn, "NULL group");
	if (inet_pton(AF_INET, group, &g4) == 1) {
		if (!IN_MULTICAST(ntohl(g4.s_addr)))
			return tern_udp_fail(h, TERN_EINVAL, fn, "not an IPv4 multicast group");
		return membership4(h, fn, &g4, interface, membership == TERN_UDP_JOIN_GROUP);
	}
	if (inet_pton(AF_INET6, group, &g6) == 1) {
		if (!IN6_IS_ADDR_MULTICAST(&g6))
			return tern_udp_fail(h, TERN_EINVAL, fn, "not an IPv6 multicast group");
		return membership6(h, fn, &g6, interface, membership == TERN_UDP_JOIN_GROUP);
	}
	return tern_udp_fail(h, TERN_EINVAL, fn, "group is not a numeric IPv4 or IPv6 address");
}

static int buffer_size(struct tern_udp *h, const char *fn, int name, int *value)
{
	socklen_t len = sizeof(*value);
	int r = tern_udp_usable(h, fn, true);

	if (r)
		return r;
	if (!value || *value < 0)
		return tern_udp_fail(h, TERN_EINVAL, fn, "value is NULL or negative");
	if (*value > 0)
		return set_opt(h, fn, SOL_SOCKET, name, value, sizeof(*value));
	if (getsockopt(h->fd, SOL_SOCKET, name, value, &len) < 0)
		return tern_udp_sys_fail(h, errno, fn, "getsockopt");
	return TERN_OK;
}

int tern_udp_send_buffer_size(struct tern_udp *h, int *value)
{
	return buffer_size(h, "tern_udp_send_buffer_size", SO_SNDBUF, value);
}

int tern_udp_recv_buffer_size(struct tern_udp *h, int *value)
{
	return buffer_size(h, "tern_udp_recv_buffer_size", SO_RCVBUF, value);
}

int tern_udp_fileno(const struct tern_udp *h, int *fd)
{
	if (!h || !fd)
		return TERN_EINVAL;
	if (h->st & TERN_UDP_ST_CLOSING)
		return TERN_ECLOSED;
	if (h->fd < 0)
		return TERN_ESTATE;
	*fd = h->fd;
	return TERN_OK;
}

int tern_udp_getsockname(struct tern_udp *h, struct tern_addr *addr)
{
	const char *fn = "tern_udp_getsockname";
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int r = tern_udp_usable(h, fn, true);

	if (r)
		return r;
	if (!addr)
		return tern_udp_fail(h, TERN_EINVAL, fn, "NULL addr");
	if (getsockname(h->fd, (struct sockaddr *)&ss, &len) < 0)
		return tern_udp_sys_fail(h, errno, fn, "getsockname");
	if (tern_addr_from_sockaddr(addr, (struct sockaddr *)&ss, len) < 0)
		return tern_udp_fail(h, TERN_EINVAL, fn, "unknown socket family");
	return TERN_OK;
}
