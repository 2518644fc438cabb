/* The handle API's internals (io/handle.c: application side, io/handle_rx.c:
 * worker side). Internal.
 *
 * Who touches what, and how it crosses threads:
 *  - app -> worker: commands (struct hcmd) in the owning worker's MPSC inbox
 *    as TERN_MSG_CALL; the worker owns a command once it runs.
 *  - worker -> app: messages in the handle's SPSC ring (rx), each a struct
 *    tern_msg (type RX_MSG or RX_DGRAM, len = stream or lane + 1, aux =
 *    length, data inline up to TERN_MSG_INLINE bytes, else ptr = a malloc'd
 *    copy the consumer frees; type RX_FIN, len = stream, aux = 0: the peer
 *    finished that stream, queued behind its messages). State changes are
 *    published by a release store of state; every change ends with
 *    evc_notify.
 *  - finishing: the app marks the stream in fin_sent before it posts
 *    OP_FIN, and a send checks the mark inside tx_posting (see
 *    tern_handle_finish), so a send either precedes the FIN in the inbox or
 *    returns TERN_ECLOSED; OP_FIN then waits in the worker's send list
 *    behind the sends the session could not take yet.
 *  - the hub (one per engine) lists every handle and listener so that
 *    tern_engine_free can end them; its lock is taken when a handle is born
 *    or freed (per session, never per message). */
#ifndef TERN_HANDLE_INT_H
#define TERN_HANDLE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine.h"
#include "core/conn.h"
#include "tern/handle.h"

/* An event count: a waiter reads seq, checks its condition, and sleeps on
 * the futex only while seq is unchanged; a notifier changes the condition,
 * bumps seq and wakes sleepers if any are registered. */
struct evc {
	atomic_uint seq;
	atomic_uint waiters;
};
void tern_evc_notify(struct evc *ev);
typedef int (*tern_try_fn)(void *arg);
/* Calls try until it returns other than TERN_EAGAIN, sleeping on ev in
 * between (on an inline engine e: polling e instead, at least once), for up
 * to timeout_us. Returns try's result, or TERN_EAGAIN (timeout 0) or
 * TERN_ETIMEDOUT. */
int tern_evc_wait_for(struct tern_engine *e, struct evc *ev, uint64_t timeout_us, tern_try_fn try,
                      void *arg);

/* Inline engines: a receive that found nothing leaves its buffer here, and
 * a message that arrives while the engine is polled goes straight into it
 * (one copy, from the session's reassembly ring). */
struct direct_rx {
	void *buf;
	size_t cap;
	bool armed, done;
	struct tern_recv_info info;
};

enum { RX_MSG = 1, RX_DGRAM = 2, RX_FIN = 3 };
#define TX_SLOTS 64 /* tern_handle::tx_posting */
enum { OP_SEND, OP_DGRAM, OP_RESUME, OP_CLOSE, OP_ABORT, OP_FIN };

/* A message the worker keeps while the ring is full (backpressure). */
struct held {
	struct held *next;
	struct tern_msg m;
};

struct hcmd {
	struct tern_call call; /* first: the command is one block (tern_worker_free frees it) */
	struct hcmd *next;     /* worker side: sends (and FINs) waiting for room in the session */
	struct tern_handle *h; /* compared with the session's user; used only when equal */
	uint64_t key;          /* the session's table key */
	uint64_t code;         /* OP_ABORT */
	size_t len;
	uint16_t stream; /* OP_SEND, OP_FIN */
	uint8_t op;
	uint8_t data[];
};

struct tern_hub {
	pthread_mutex_t lock;
	struct tern_handle *handles;      /* every live handle (hub_prev/hub_next) */
	struct tern_hlistener *listeners; /* every listener until the engine goes */
};

struct tern_hlistener {
	struct tern_engine *e; /* NULL once the engine is freed */
	struct tern_hub *hub;
	uint16_t vport;
	uint8_t stream_type;
	atomic_uint refs;       /* the hub's and the application's */
	atomic_bool closed;     /* acquire/release: on_accept refuses once set */
	struct tern_ring *ring; /* MPSC: workers -> accepters; ptr = handle */
	pthread_mutex_t lock;   /* accepters take turns at the consumer end */
	struct evc ev;
	struct tern_hlistener *next; /* hub list */
};

struct tern_handle {
	struct tern_engine *e;
	struct tern_hub *hub; /* NULL once the engine is freed */
	atomic_uint refs;     /* app references + the engine side's (wref) */
	atomic_uint app_refs;
	atomic_bool wref;     /* the engine side still holds its reference */
	atomic_bool app_gone; /* seq_cst; pairs with the state store in on_connect */
	atomic_bool close_req;
	atomic_int state; /* enum tern_handle_state; release by the worker */
	struct evc ev;
	uint16_t max_streams;
	/* written by the worker before state turns OPEN (release) */
	uint64_t key;
	unsigned worker;
	size_t max_dgram;
	/* app -> worker send budget: bytes sent but not yet taken by the session */
	atomic_size_t tx_queued;
	size_t tx_budget;
	/* app side: streams the app finished (one bit each, set once, never
	 * cleared but by a finish that could not post), and the sends between
	 * their check of that bit and their post, counted by stream %
	 * TX_SLOTS (a finish waits only for its own slot); seq_cst, a Dekker
	 * pair */
	atomic_ullong *fin_sent;
	atomic_uint tx_posting[TX_SLOTS];
	/* worker -> app */
	struct tern_ring *rx; /* SPSC */
	atomic_size_t rx_bytes;
	size_t rx_budget;
	atomic_bool rx_held; /* the worker holds messages back: the app asks for them */
	/* worker side only (until CLOSED) */
	struct held *held_head, *held_tail;
	size_t held_bytes;
	struct hcmd *tx_head, *tx_tail;
	bool close_after_tx;
	/* app side, under rx_lock */
	pthread_mutex_t rx_lock;
	struct tern_msg head;
	bool has_head;
	struct held *closed_held; /* the worker's held list, handed over at CLOSED */
	/* written before state turns CLOSED (release) */
	struct tern_reason reason;
	/* inline engines only (one thread) */
	bool inline_blocked; /* a send found the session's buffer full; on_writable clears */
	struct direct_rx direct;
	/* counters: worker writes (relaxed), app reads */
	atomic_ullong n_msgs, n_dgrams, n_dropped, n_holds, n_held_max, n_retries;
	struct tern_handle *hub_prev, *hub_next; /* under hub->lock */
};

/* handle.c */
struct tern_hub *tern_hub_get(struct tern_engine *e); /* created on first use; NULL: no memory */
struct tern_handle *tern_handle_new(struct tern_engine *e, struct tern_hub *hub);
void tern_handle_unref(struct tern_handle *h);
/* Ends the engine side's tie: copies r, hands the held list to the app,
 * publishes CLOSED, drops wref. Worker thread or tern_hub_free only. */
void tern_handle_end(struct tern_handle *h, const struct tern_reason *r);
void tern_msg_free_data(struct tern_msg *m);
/* 0 (open), TERN_ESTATE (connecting) or TERN_ECLOSED; an acquire of state. */
int tern_handle_usable(const struct tern_handle *h);
/* Posts a command without data but an optional NUL-terminated text. */
int tern_handle_post_op(struct tern_handle *h, uint8_t op, uint64_t code, const char *text);

/* handle_rx.c */
extern const struct tern_handler tern_handle_connect_handler;
void tern_handle_listener_handler(struct tern_hlistener *l, struct tern_handler *out);
void tern_handle_run_cmd(struct tern_worker *w, void *arg, tern_time now);

#endif
