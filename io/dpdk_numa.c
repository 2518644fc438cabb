/* The DPDK backend's mbuf pool plan (see io/dpdk_numa.h): one pool per
 * NUMA socket in use, each queue on the pool of its worker's socket. Kept
 * apart from io/dpdk.c so the rule is tested without an EAL. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "io/dpdk_numa.h"

static int queue_socket(unsigned i, const int *cores, unsigned ncores, int port_socket,
                        tern_dpdk_cpu_socket_fn cpu_socket, void *ctx)
{
	int s = TERN_DPDK_SOCKET_ANY;

	if (cores && ncores && cpu_socket && cores[i % ncores] >= 0)
		s = cpu_socket(ctx, cores[i % ncores]);
	if (s < 0)
		s = port_socket;
	return s < 0 ? TERN_DPDK_SOCKET_ANY : s;
}

void tern_dpdk_plan_pools(unsigned nq, const int *cores, unsigned ncores, int port_socket,
                          tern_dpdk_cpu_socket_fn cpu_socket, void *ctx,
                          struct tern_dpdk_pool_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	nq = TERN_MIN(nq, TERN_DPDK_MAX_QUEUES);
	for (unsigned i = 0; i < nq; i++) {
		int s = queue_socket(i, cores, ncores, port_socket, cpu_socket, ctx);
		unsigned k = 0;

		while (k < plan->npools && plan->socket[k] != s)
			k++;
		if (k == plan->npools)
			plan->socket[plan->npools++] = s;
		plan->queues[k]++;
		plan->pool_of[i] = (uint8_t)k;
	}
}

int tern_dpdk_cpu_socket(void *ctx, int cpu)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int node = TERN_DPDK_SOCKET_ANY;

	(void)ctx;
	if (cpu < 0)
		return node;
	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d", cpu);
	dir = opendir(path);
	if (!dir)
		return node;
	while ((d = readdir(dir)) != NULL) {
		char *end;
		long n;

		if (strncmp(d->d_name, "node", 4) != 0 || !d->d_name[4])
			continue;
		n = strtol(d->d_name + 4, &end, 10);
		if (*end == '\0' && n >= 0 && n < 1024) {
			node = (int)n;
			break;
		}
	}
	closedir(dir);
	return node;
}
