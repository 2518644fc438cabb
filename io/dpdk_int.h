/* State shared by io/dpdk.c (setup, counters) and io/dpdk_rxtx.c (the
 * data path). Internal to the DPDK backend; includes DPDK's headers. */
#ifndef TERN_DPDK_INT_H
#define TERN_DPDK_INT_H

#include <rte_mbuf.h>
#include <rte_spinlock.h>

#include "io/dpdk.h"
#include "io/dpdk_neigh.h"
#include "io/dpdk_net.h"
#include "io/dpdk_numa.h"

#define TERN_DPDK_BURST 64
#define TERN_DPDK_CTL_MAX (TERN_DPDK_BURST + TERN_NEIGH_PENDING_MAX) /* replies, probes, released */
#define TERN_DPDK_TX_RETRIES 4  /* tx_burst calls for one burst before the rest is dropped */
#define TERN_DPDK_TICK_US 50000 /* neighbour timers run this often */

/* Per-queue counters; written by the queue's thread only, read by anyone
 * (aligned 64-bit loads and stores do not tear on the targets DPDK runs). */
struct tern_dpdk_qstats {
	uint64_t rx_frames, rx_bytes, rx_udp, rx_multiseg;
	uint64_t drop[TERN_NET_DROP_MAX];
	uint64_t arp_requests_in, arp_replies_out, arp_learned;
	uint64_t ns_in, na_out, na_in, echo4, echo6;
	uint64_t echo_limited; /* echo requests over the rate limit: dropped */
	uint64_t tx_frames, tx_bytes, tx_retries, tx_full_dropped;
	uint64_t tx_alloc_fail, tx_no_route, tx_unreachable, tx_neigh_full, tx_too_big;
	uint64_t ctl_out, ctl_dropped; /* frames we made (replies, probes, released) */
	uint64_t tx_hw_csum, tx_sw_csum;
};

struct tern_dpdk_queue {
	struct tern_dpdk_port *p;
	uint16_t port_id, qid;
	int socket;               /* NUMA socket of its rings and pool; -1: any */
	struct rte_mempool *pool; /* its socket's pool: buf_alloc, probes */
	tern_time next_tick;
	unsigned nctl;
	struct rte_mbuf *ctl[TERN_DPDK_CTL_MAX]; /* frames to send at the end of this call */
	int wake_fd;                             /* the worker's wake-up eventfd; -1: none */
	tern_time nap_us;                        /* the next idle nap (see wait in dpdk_rxtx.c) */
	struct tern_net_ratelimit echo_limit;    /* echo replies it may send */
	struct tern_dpdk_qstats st;
} __rte_cache_aligned;

struct tern_dpdk_port {
	uint16_t port_id;
	unsigned nq;
	int socket; /* the port's NUMA socket; -1: unknown */
	struct tern_net_if nif;
	bool tx_ip_csum, tx_udp_csum; /* offloads in use */
	bool rx_csum;                 /* the NIC reports checksum verdicts */
	bool rss;
	bool started;
	char driver[64];
	unsigned npools;
	struct rte_mempool *pools[TERN_DPDK_MAX_QUEUES]; /* one per socket in use */
	int pool_socket[TERN_DPDK_MAX_QUEUES];
	rte_spinlock_t nlock; /* guards neigh: every queue resolves and learns */
	struct tern_neigh neigh;
	struct tern_dpdk_queue *q; /* nq of them */
};

#endif
