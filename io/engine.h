/* The engine's state (io/engine.c, io/engine_api.c). Internal. */
#ifndef TERN_ENGINE_H
#define TERN_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/worker.h"
#include "io/uring.h"

struct listener {
	uint16_t vport;
	uint8_t stream_type;
	bool active;
	struct tern_handler h;
	struct listener *next;
};

struct wslot {
	struct tern_engine *e;
	struct tern_worker w;
	bool w_ok;
	struct tern_uring *u;
	pthread_t th;
	bool started;
	int efd;            /* wake-up eventfd */
	atomic_bool asleep; /* in the backend's wait: a producer must write efd (seq_cst) */
	atomic_size_t live; /* sessions, published after each poll for stop() */
	struct tern_ring *to_control;
	/* For other threads (io/engine_stats.c): the worker's counters, copied
	 * after its polls with relaxed atomic stores, and its sessions' memory,
	 * counted on request (a reader raises mem_ask; the worker stores
	 * pub_mem, then mem_done = mem_ask with release). */
	struct tern_worker_stats pub;
	tern_time pub_at;
	uint64_t pub_mem;
	atomic_uint mem_ask, mem_done;
};

struct connect_msg {
	struct tern_connect_req req;
	uint8_t server_pub[TERN_KEY_LEN];
	uint8_t ticket[TERN_HS_TICKET_MAX];
	struct tern_connect_ctx *cc;
};

struct tern_engine {
	struct tern_engine_cfg cfg;
	unsigned n;
	struct wslot *ws;
	struct tern_ring **inboxes;
	struct tern_control *ctl;
	struct tern_ring *ctl_inbox; /* MPSC: connect requests from any thread */
	struct tern_ring *
	        *ctl_rings; /* what the control thread reads: ctl_inbox, each to_control */
	int ctl_efd;
	atomic_bool ctl_asleep; /* the control thread sleeps on ctl_efd (seq_cst) */
	pthread_t ctl_th;
	bool ctl_started;
	pthread_mutex_t lock; /* listeners (read by the control thread at handshakes) */
	struct listener *listeners;
	struct tern_hs_keypair identity;
	struct tern_hs_mac_keys mac; /* the workers' cheap mac1 filter */
	atomic_bool running;
	uint16_t port;
	struct tern_addr local;
	/* the DPDK backend's port (io/dpdk_engine.c); NULL on io_uring */
	struct tern_dpdk_port *dpdk;
	char err[256];
	struct tern_hub *hub;    /* the handle API's state (io/handle.c); NULL until used */
	tern_time inline_polled; /* inline engines: when tern_engine_poll last ran */
	bool inline_owned;       /* inline engines: a thread has polled; it is the only one */
	unsigned inline_sends;   /* sends since the last poll (tern_engine_inline_flush) */
	pthread_t inline_owner;
	struct tern_budget budget; /* every session's stream buffers, against cfg.max_memory */
	/* the control plane's counters, copied with relaxed atomic stores after
	 * each control step that did something (io/engine_stats.c) */
	struct tern_control_stats ctl_pub;
};

tern_time tern_engine_clock(void);
void tern_engine_wake(void *ctx, int worker);
void tern_engine_pin(int core);
void *tern_engine_worker_main(void *arg);
void *tern_engine_control_main(void *arg);
/* One step of the control plane (connect requests, handshake packets,
 * timeouts); returns the units of work done. */
unsigned tern_engine_control_step(struct tern_engine *e, tern_time now);
/* Inline engines: a send that found the engine last polled more than this
 * long ago flushes at once (otherwise messages coalesce until the next
 * call into the engine). */
#define TERN_INLINE_FLUSH_US 20
/* Inline engines: one poll without waiting when the last was over
 * TERN_INLINE_FLUSH_US ago (a no-op for threaded engines). */
void tern_engine_inline_flush(struct tern_engine *e);
int tern_engine_make_control(struct tern_engine *e);
/* Statistics for other threads (io/engine_stats.c): a worker's after a poll
 * at now that did `work`, the control plane's after a step that changed
 * them. */
void tern_engine_publish_worker(struct wslot *ws, tern_time now, unsigned work);
void tern_engine_publish_control(struct tern_engine *e);
/* Ends every handle's tie to the engine (io/handle.c); threads stopped. */
void tern_hub_free(struct tern_engine *e);

#endif
