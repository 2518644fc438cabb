/* A VLAN sub-interface for tests/test_dpdk.sh on kernels without 802.1Q
 * (CONFIG_VLAN_8021Q off, as on the machines tern is developed on): a tap
 * device TAP carries the kernel's own untagged frames (its address, ARP,
 * ICMP and UDP), and this relay moves them to and from IFACE (the kernel's
 * end of the veth) with the 802.1Q tag VID inserted, and takes from IFACE
 * only frames tagged VID, untagged, as `ip link add link IFACE name
 * IFACE.VID type vlan id VID` would. The kernel still builds and checks
 * every header but the tag; the tag is this file's, written and checked
 * apart from io/dpdk_ip.c. Runs until SIGTERM, then prints "relayed_out
 * N", "relayed_in N" and "refused N" (frames on IFACE untagged or with
 * another tag). Needs root.
 *
 *   test_dpdk_vlan TAP IFACE VID READY_FILE */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define FRAME_MAX 2048

static volatile sig_atomic_t stop_flag;
static unsigned long relayed_out, relayed_in, refused;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int open_tap(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return perror("/dev/net/tun"), -1;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return perror("TUNSETIFF"), close(fd), -1;
	return fd;
}

static int open_packet(const char *iface)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
	int one = 1, fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

	sll.sll_ifindex = (int)if_nametoindex(iface);
	if (fd < 0 || !sll.sll_ifindex ||
	    setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return perror("AF_PACKET socket"), -1;
	return fd;
}

/* The kernel's frame from the tap goes out on IFACE with the tag. */
static void tap_to_wire(int tap, int pk, unsigned vid)
{
	uint8_t f[FRAME_MAX + 4];
	ssize_t n = read(tap, f + 4, FRAME_MAX);

	if (n < 14)
		return;
	memmove(f, f + 4, 12); /* the MACs; then 0x8100, the tag, the frame's type */
	f[12] = 0x81;
	f[13] = 0x00;
	f[14] = (uint8_t)(vid >> 8);
	f[15] = (uint8_t)vid;
	if (send(pk, f, (size_t)n + 4, 0) == n + 4)
		relayed_out++;
}

/* The frame's VLAN ID: from the kernel's metadata (the receive path takes
 * the tag out of the frame) or still in the frame; -1 untagged. */
static int frame_vid(struct msghdr *mh, uint8_t *f, ssize_t *n)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		struct tpacket_auxdata *aux = (struct tpacket_auxdata *)CMSG_DATA(c);
		if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA &&
		    (aux->tp_status & TP_STATUS_VLAN_VALID))
			return aux->tp_vlan_tci & 0xfff;
	}
	if (*n >= 18 && f[12] == 0x81 && f[13] == 0x00) {
		int vid = ((f[14] << 8) | f[15]) & 0xfff;
		memmove(f + 12, f + 16, (size_t)*n - 16);
		*n -= 4;
		return vid;
	}
	return -1;
}

/* A frame from IFACE goes up the tap, untagged, if it carries our tag. */
static void wire_to_tap(int pk, int tap, unsigned vid)
{
	uint8_t f[FRAME_MAX];
	union {
		struct cmsghdr h;
		uint8_t b[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	} cm;
	struct sockaddr_ll from;
	struct iovec iov = {.iov_base = f, .iov_len = sizeof(f)};
	struct msghdr mh = {.msg_name = &from,
	                    .msg_namelen = sizeof(from),
	                    .msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = &cm,
	                    .msg_controllen = sizeof(cm)};
	ssize_t n = recvmsg(pk, &mh, MSG_DONTWAIT);

	if (n < 14 || from.sll_pkttype == PACKET_OUTGOING)
		return;
	if (frame_vid(&mh, f, &n) != (int)vid) {
		refused++;
		return;
	}
	if (write(tap, f, (size_t)n) == n)
		relayed_in++;
}

int main(int argc, char **argv)
{
	struct pollfd p[2];
	unsigned vid;
	FILE *ready;

	if (argc != 5 || (vid = (unsigned)atoi(argv[3])) < 1 || vid > 4094) {
		fprintf(stderr, "usage: test_dpdk_vlan TAP IFACE VID READY_FILE (as root)\n");
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	p[0] = (struct pollfd){.fd = open_tap(argv[1]), .events = POLLIN};
	p[1] = (struct pollfd){.fd = open_packet(argv[2]), .events = POLLIN};
	if (p[0].fd < 0 || p[1].fd < 0)
		return 1;
	ready = fopen(argv[4], "w");
	if (!ready)
		return perror(argv[4]), 1;
	fclose(ready);
	while (!stop_flag) {
		if (poll(p, 2, 200) <= 0)
			continue;
		if (p[0].revents & POLLIN)
			tap_to_wire(p[0].fd, p[1].fd, vid);
		if (p[1].revents & POLLIN)
			wire_to_tap(p[1].fd, p[0].fd, vid);
	}
	printf("relayed_out %lu\nrelayed_in %lu\nrefused %lu\n", relayed_out, relayed_in, refused);
	return 0;
}
