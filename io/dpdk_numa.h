/* Which mbuf pool each queue of a DPDK port uses: one pool per NUMA socket
 * that has a queue's worker on it, so a worker allocates, and the NIC DMAs
 * into, memory local to the core that polls the queue. Pure (no EAL, no
 * DPDK type): the socket of a CPU comes from a callback, and
 * tern_dpdk_cpu_socket reads it from sysfs, so both are tested without
 * hugepages or a NIC (tests/test_dpdk_net.c). */
#ifndef TERN_DPDK_NUMA_H
#define TERN_DPDK_NUMA_H

#include "core/common.h"

#define TERN_DPDK_MAX_QUEUES 64
#define TERN_DPDK_SOCKET_ANY (-1) /* DPDK's SOCKET_ID_ANY: memory from any socket */

struct tern_dpdk_pool_plan {
	unsigned npools;
	int socket[TERN_DPDK_MAX_QUEUES];      /* each pool's socket or TERN_DPDK_SOCKET_ANY */
	unsigned queues[TERN_DPDK_MAX_QUEUES]; /* how many queues use each pool */
	uint8_t pool_of[TERN_DPDK_MAX_QUEUES]; /* each queue's pool */
};

/* Returns the NUMA node of a CPU, or TERN_DPDK_SOCKET_ANY if unknown. */
typedef int (*tern_dpdk_cpu_socket_fn)(void *ctx, int cpu);

/* Plans the pools of nq (1..TERN_DPDK_MAX_QUEUES) queues. Queue i is polled
 * by worker i, pinned to cores[i % ncores] (the engine's rule); its socket
 * is that CPU's. A queue whose worker is not pinned (cores NULL), or whose
 * CPU's socket is unknown, takes the port's socket (the NIC's DMA is local
 * there), and TERN_DPDK_SOCKET_ANY when that is unknown too (port_socket < 0).
 * Pools are numbered in order of first use. */
void tern_dpdk_plan_pools(unsigned nq, const int *cores, unsigned ncores, int port_socket,
                          tern_dpdk_cpu_socket_fn cpu_socket, void *ctx,
                          struct tern_dpdk_pool_plan *plan);

/* The NUMA node of a CPU from /sys/devices/system/cpu/cpuN/nodeM, or
 * TERN_DPDK_SOCKET_ANY (no such CPU, no sysfs, a kernel without NUMA).
 * Setup-time only: it reads a directory. ctx is unused. */
int tern_dpdk_cpu_socket(void *ctx, int cpu);

#endif
