/* The engine's side of the DPDK backend (io/dpdk_engine.c): opening the
 * port for an engine, giving each worker its queue pair (the worker
 * thread is the engine's one loop, io/engine.c), and the counters. Without DPDK in the build the same calls exist
 * as inline functions that refuse with a message saying how to get it, so
 * io/engine_api.c needs no #ifdef. Internal. */
#ifndef TERN_DPDK_ENGINE_H
#define TERN_DPDK_ENGINE_H

#include <stdio.h>

#include "io/engine.h"

#ifdef TERN_HAVE_DPDK
/* Opens cfg.dpdk_port with one queue pair per worker; sets e->dpdk,
 * e->port and e->local. Returns 0 or a TERN_E* with e->err set. */
int tern_engine_dpdk_open(struct tern_engine *e);
/* Worker i's backend: fills wc->ops, wc->be and ws->efd. */
int tern_engine_dpdk_slot(struct tern_engine *e, struct wslot *ws, unsigned i,
                          struct tern_worker_cfg *wc);
void tern_engine_dpdk_close(struct tern_engine *e);
size_t tern_engine_dpdk_stats(struct tern_engine *e, char *buf, size_t len);
#else
static inline int tern_engine_dpdk_open(struct tern_engine *e)
{
	snprintf(e->err, sizeof(e->err),
	         "backend dpdk: this libtern was built without DPDK; install libdpdk-dev "
	         "and reconfigure with meson -Ddpdk=enabled");
	return TERN_ESTATE;
}
static inline int tern_engine_dpdk_slot(struct tern_engine *e, struct wslot *ws, unsigned i,
                                        struct tern_worker_cfg *wc)
{
	(void)ws;
	(void)i;
	(void)wc;
	return tern_engine_dpdk_open(e);
}
static inline void tern_engine_dpdk_close(struct tern_engine *e)
{
	(void)e;
}
static inline size_t tern_engine_dpdk_stats(struct tern_engine *e, char *buf, size_t len)
{
	(void)e;
	if (len)
		buf[0] = '\0';
	return 0;
}
#endif

#endif
