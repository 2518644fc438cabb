/* The one interface between the engine and an I/O backend (io/uring.c,
 * io/dpdk.c, io/sim.c). core/ calls backends only through this ops table, so
 * the same engine runs on kernel sockets, on a NIC, or inside the
 * deterministic simulator. */
#ifndef TERN_BACKEND_H
#define TERN_BACKEND_H

#include "common.h"
#include "tern/addr.h"

/* One packet crossing the backend boundary.
 * Ownership: on rx the backend owns data until the caller returns the packet
 * with buf_free (or the next rx_burst, for backends that say so); on tx the
 * caller fills a buffer from buf_alloc and tx_burst takes ownership of every
 * packet it accepts. */
struct tern_pkt {
	uint8_t *data;
	uint16_t len;
	struct tern_addr peer; /* rx: source; tx: destination */
	tern_time rx_time;
	void *owner; /* backend's handle for the buffer (mbuf, ring slot...) */
};

struct tern_backend_ops {
	/* Fills up to n packets; returns how many (0 when none), or a TERN_E*. */
	int (*rx_burst)(void *be, struct tern_pkt *pkts, unsigned n);
	/* Sends up to n packets; returns how many it took (the rest stay the
	 * caller's), or a TERN_E*. */
	int (*tx_burst)(void *be, struct tern_pkt *pkts, unsigned n);
	/* Fills pkt->data (capacity TERN_MAX_PACKET) and pkt->owner; returns 0 or TERN_ENOMEM. */
	int (*buf_alloc)(void *be, struct tern_pkt *pkt);
	void (*buf_free)(void *be, struct tern_pkt *pkt);
	/* The backend's clock in microseconds (virtual time in the simulator). */
	tern_time (*now)(void *be);
	/* Optional, for backends a thread drives (tern_engine_worker_main):
	 * wait sleeps until a packet may have arrived, the worker was woken
	 * (tern_engine_wake) or timeout_us passed, whichever is first (returns
	 * 1, 0 on timeout, or a TERN_E*); thread_start runs on that thread
	 * before its first poll (0 or a TERN_E*), thread_stop after its last. */
	int (*wait)(void *be, tern_time timeout_us);
	int (*thread_start)(void *be);
	void (*thread_stop)(void *be);
};

#endif
