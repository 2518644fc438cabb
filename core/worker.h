/* A worker: one per core, run to completion. Each poll takes a burst of
 * packets from its backend, routes data packets by connection ID to the
 * sessions it owns (a stray one to its owner over that worker's inbox ring),
 * hands handshake packets to the control plane over a ring, applies what
 * arrived in its inbox (new sessions, packets to send, application
 * commands), fires its timers, and flushes every session it touched into
 * one transmit burst. It owns its sessions outright: no locks, no sharing.
 * Time is passed in and I/O goes through the backend ops table, so the same
 * code runs on io_uring, DPDK or the simulator. */
#ifndef TERN_WORKER_H
#define TERN_WORKER_H

#include "backend.h"
#include "control.h"
#include "ring.h"
#include "session.h"
#include "table.h"
#include "timer.h"
#include "tern/tern.h"

#define TERN_WORKER_BURST 64
#define TERN_WORKER_BUDGET_CHECK (10 * TERN_MS)

/* The idle policy (tern_worker_idle_time): a worker polls for SPIN_US after
 * its last work; with data in flight or queued on any session whose
 * smoothed RTT is under POLL_RTT_US it polls on for up to BUSY_POLL_US
 * without work (the ACK that frees the window is due within a round trip,
 * and a sleep and a wake-up per round trip is what kept loopback transfers
 * slow; on longer paths ACKs are spaced out and a sleep until the next
 * leaves the core to others); while packets arrive in bursts closer than
 * BUSY_POLL_US apart it polls for twice the average gap after the last (a
 * receiver that slept between a sender's trains added its wake-up to every
 * round trip); and a timer due within WAKE_COST_US is met by polling rather
 * than a sleep. Otherwise it sleeps until its next timer (at most
 * MAX_SLEEP_US) or a packet or wake-up. */
#define TERN_WORKER_SPIN_US 20
#define TERN_WORKER_BUSY_POLL_US 1000
#define TERN_WORKER_POLL_RTT_US 1000
#define TERN_WORKER_WAKE_COST_US 50
#define TERN_WORKER_MAX_SLEEP_US 50000

/* Inbox message types (beyond ring.h's). */
enum {
	TERN_MSG_SEND = TERN_MSG_USER, /* ptr = struct tern_wpkt: transmit it */
	TERN_MSG_CONNECT_FAILED,       /* ptr = struct tern_connect_ctx, aux = reason */
	TERN_MSG_DRAIN,                /* close every session gracefully */
	TERN_MSG_CALL,                 /* ptr = struct tern_call: run fn on this worker */
};

/* A packet crossing threads (handoffs, handshake packets, control-plane
 * sends). Allocated by the producer, freed by the consumer: these are the
 * rare paths, never a session's data path. */
struct tern_wpkt {
	struct tern_addr addr; /* source (received) or destination (to send) */
	unsigned worker;       /* the worker it arrived on */
	uint16_t len;
	uint8_t data[];
};
struct tern_wpkt *tern_wpkt_new(const struct tern_addr *addr, const uint8_t *data, size_t len);

/* What a connect carries until its session exists (or fails). */
struct tern_connect_ctx {
	struct tern_handler handler;
	void *user;
};

/* A new session from the control plane. */
struct tern_install {
	struct tern_session *s;
	struct tern_hs_session_info info;
	struct tern_handler handler; /* the listener's, or the connect's */
	void *user;
	bool initiator;
	uint16_t first_len;
	uint8_t first_pkt[TERN_HS_RESP_LEN];
};

struct tern_worker;

/* A function to run on a worker (the handle API's commands and send-ring
 * notices). fn owns the message's ptr (this struct): it frees it or keeps
 * it (a struct tern_call embedded in a longer-lived object). When the
 * worker is freed with the call still queued, fn runs with w NULL: it
 * only releases what it owns. */
struct tern_call {
	void (*fn)(struct tern_worker *w, void *arg, tern_time now);
	void *arg;
};

struct tern_worker_stats {
	uint64_t rx_pkts, rx_bytes, tx_pkts, tx_bytes, tx_dropped;
	uint64_t unknown_cid, malformed, handoffs_out, handoffs_in, handshakes_out;
	uint64_t ring_full, sessions_installed, sessions_closed, polls, idle_polls;
	uint64_t handshake_dropped; /* bad framing or mac1: never reached the control plane */
	uint64_t sleeps;            /* times the idle policy let the worker sleep */
	uint64_t memory_closes;     /* greediest sessions closed with MEMORY (budget spent) */
};

struct tern_conn;

struct tern_worker {
	unsigned id, nworkers;
	const struct tern_backend_ops *ops;
	void *be;
	struct tern_table table; /* CID key -> struct tern_conn */
	struct tern_wheel wheel;
	struct tern_ring *inbox;             /* MPSC: control plane, other workers, applications */
	struct tern_ring *to_control;        /* SPSC: this worker -> the control plane */
	struct tern_ring **inboxes;          /* every worker's inbox (handoffs) */
	void (*wake)(void *ctx, int worker); /* -1: the control plane */
	void *wake_ctx;
	tern_time (*clock)(void); /* NULL: simulated time */
	struct tern_conn *dirty;  /* sessions touched this poll */
	size_t busy;         /* sessions with data in flight or queued, RTT under POLL_RTT_US */
	tern_time last_work; /* when a poll last found work */
	tern_time last_rx;   /* when a poll last received packets */
	tern_time rx_gap;    /* average time between those polls (1/8 EWMA) */
	struct tern_pkt tx[TERN_WORKER_BURST];
	unsigned ntx;
	bool draining;
	struct tern_addr local;
	const struct tern_hs_mac_keys *mac; /* our public key's MAC keys; NULL: no check */
	struct tern_budget *budget;         /* shared by the engine's sessions; NULL: none */
	tern_time budget_next;              /* next look for the greediest session */
	struct tern_worker_stats stats;
};

struct tern_worker_cfg {
	unsigned id, nworkers;
	const struct tern_backend_ops *ops;
	void *be;
	size_t max_sessions;
	uint64_t seed; /* table hash seed (random) */
	struct tern_ring *inbox, *to_control;
	struct tern_ring **inboxes;
	void (*wake)(void *ctx, int worker);
	void *wake_ctx;
	struct tern_addr local;
	const struct tern_hs_mac_keys *mac; /* outlives the worker */
	/* The budget the engine's sessions share (outlives the worker; NULL:
	 * none). While it is full the worker looks every
	 * TERN_WORKER_BUDGET_CHECK for its greediest session and closes it
	 * with MEMORY if no other worker's is greedier. */
	struct tern_budget *budget;
	tern_time now;
	/* Real clocks: re-read after a receive burst, so a poll that was
	 * descheduled between its clock read and the burst does not date the
	 * packets (and the RTT samples they carry) too early. NULL (the
	 * simulator): the poll's `now` is exact. */
	tern_time (*clock)(void);
};

/* Returns 0, TERN_EINVAL or TERN_ENOMEM. */
int tern_worker_init(struct tern_worker *w, const struct tern_worker_cfg *cfg);
/* Frees every session (their on_closed does not run) and the table. */
void tern_worker_free(struct tern_worker *w);
/* One iteration. Returns the units of work done (packets, messages, timers);
 * 0 means idle. */
unsigned tern_worker_poll(struct tern_worker *w, tern_time now);
/* The earliest timer; TERN_TIME_NEVER when none. */
tern_time tern_worker_deadline(const struct tern_worker *w);
/* The idle policy (see TERN_WORKER_SPIN_US), after a poll at now that did
 * `work` units: 0 = poll again at once, otherwise how long the worker may
 * sleep (its backend's wait wakes it early for a packet or a wake-up). */
tern_time tern_worker_idle_time(struct tern_worker *w, tern_time now, unsigned work);
size_t tern_worker_sessions(const struct tern_worker *w);
/* Heap bytes its sessions hold (tern_session_mem each, their tern_conn) and
 * its table: a walk over every session, for statistics only. */
size_t tern_worker_mem(const struct tern_worker *w);

/* ---- shared with conn.c ---- */
void tern_worker_touch(struct tern_worker *w, struct tern_conn *c);

#endif
