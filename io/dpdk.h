/* The DPDK backend: tern's packets go straight between a NIC queue and the
 * workers, with the kernel out of the data path. One ethdev port per
 * engine, one RX/TX queue pair per worker (RSS with a symmetric Toeplitz key
 * keeps both directions of a flow on one queue when the port has it), one
 * mbuf pool per NUMA socket with a worker on it (io/dpdk_numa.h). Receive is zero-copy: a tern_pkt points
 * into its mbuf and buf_free frees the mbuf. Transmit prepends Ethernet, IP
 * and UDP headers in the mbuf's headroom and sends whole bursts, retrying
 * what the PMD did not take a bounded number of times, then freeing and
 * counting it. ARP, NDP and ICMP echo are answered inside rx_burst.
 *
 * The L2/L3 code is pure (io/dpdk_net.h, io/dpdk_neigh.h); this header
 * exposes no DPDK type, so the engine compiles against it without DPDK's
 * headers. io/dpdk.c: EAL, port and queue setup, counters;
 * io/dpdk_rxtx.c: the backend ops; io/dpdk_engine.c: the engine's glue. */
#ifndef TERN_DPDK_H
#define TERN_DPDK_H

#include "core/backend.h"

struct tern_dpdk_cfg {
	/* EAL arguments as DPDK applications take them after "--", without a
	 * program name. Used by the first open in the process only (the EAL
	 * initialises once). */
	const char *const *eal_args;
	unsigned neal_args;
	uint16_t port_id; /* ethdev port index */
	unsigned queues;  /* RX/TX queue pairs, 1..64: one per worker */
	/* Where queue i's worker runs: cores[i % ncores] (the engine's pinning
	 * rule); its mbuf pool and rings go on that CPU's NUMA socket. NULL:
	 * workers float, everything goes on the port's socket. */
	const int *cores;
	unsigned ncores;
	/* Our addresses: at least one of addr4 / addr6 (family 4 / 6), each
	 * with its on-link prefix and an optional gateway (family 0: none). */
	struct tern_addr addr4, addr6, gw4, gw6;
	uint8_t prefix4, prefix6;  /* 0: 24 and 64 */
	uint16_t udp_port;         /* host order; 0: a random port in 49152..65535 */
	uint16_t vlan;             /* 802.1Q VLAN ID to tag and require; 0: untagged */
	unsigned rx_desc, tx_desc; /* ring sizes per queue; 0: 1024 (the PMD may adjust) */
	unsigned mbufs;            /* each pool's size; 0: enough for its queues' rings */
	/* ICMP and ICMPv6 echo replies each queue may send: a token bucket of
	 * echo_burst refilled at echo_rate a second (at most 1,000,000); 0:
	 * 1000 and 50. Requests over it are dropped (q<i>.echo_limited). */
	unsigned echo_rate, echo_burst;
};

struct tern_dpdk_port;
struct tern_dpdk_queue;

/* Initialises the EAL (once per process), then configures and starts the
 * port. On success returns 0, stores the port in *out and leaves in warn
 * the fallbacks taken ("" when none; e.g. no checksum offload). On failure
 * returns TERN_EINVAL (bad configuration or EAL arguments, no such port, too
 * few queues), TERN_ENOMEM (no memory for the mbuf pool) or TERN_ESTATE
 * (the EAL or the port refused to start), with the reason and the fix in
 * err. warn and err may be NULL. */
int tern_dpdk_open(const struct tern_dpdk_cfg *cfg, struct tern_dpdk_port **out, char *warn,
                   size_t warnlen, char *err, size_t errlen);
/* Stops and closes the port and frees its pools; every mbuf from it must
 * have been returned. NULL is a no-op. The EAL stays up (it cannot be
 * initialised twice in one process). */
void tern_dpdk_close(struct tern_dpdk_port *p);
/* Queue pair i: the `be` for tern_dpdk_backend_ops. */
struct tern_dpdk_queue *tern_dpdk_queue(struct tern_dpdk_port *p, unsigned i);
uint16_t tern_dpdk_udp_port(const struct tern_dpdk_port *p);
/* Our MAC address. */
void tern_dpdk_mac(const struct tern_dpdk_port *p, uint8_t mac[6]);

/* A thread that will poll a queue registers with the EAL so the mbuf pool
 * gives it a per-thread cache; unregister before it exits. Both are cheap
 * no-ops if the EAL has no lcore slot left (the pool still works). */
void tern_dpdk_thread_enter(void);
void tern_dpdk_thread_leave(void);
/* The backend's wait op naps on efd (an eventfd other threads write to
 * wake the worker). */
void tern_dpdk_queue_watch_wakeup(struct tern_dpdk_queue *q, int efd);

/* Counters as text, one "name value" per line: link state, the port's
 * hardware counters, per-queue counters (q<i>.<name>), every drop reason
 * and the neighbour table's. Returns the bytes written (excluding the NUL),
 * truncated to len - 1. Callable from any thread while the port runs. */
size_t tern_dpdk_stats_text(struct tern_dpdk_port *p, char *buf, size_t len);

/* The backend ops; `be` is a struct tern_dpdk_queue *, used by one thread.
 * rx_burst: never blocks; answers ARP/ND/echo itself; returns UDP packets
 * for our port, zero-copy. tx_burst: packets from buf_alloc; always takes
 * all of them (sent, waiting for ARP/ND, or freed and counted). */
extern const struct tern_backend_ops tern_dpdk_backend_ops;

#endif
