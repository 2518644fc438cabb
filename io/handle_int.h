/* The handle API's internals (io/handle.c: application side and lifecycle,
 * io/handle_tx.c: the send rings, io/handle_rx.c: the worker side,
 * io/handle_rxbuf.c: receive chunks, io/handle_recv.c: receiving and
 * listeners). Internal.
 *
 * Who touches what, and how it crosses threads (docs/api.md §2.1 and
 * docs/architecture.md §2 draw it):
 *  - app -> worker, data: the handle's send rings of records (struct
 *    txrec): tx for sends and fins, in the order the producers took turns
 *    under its lock, and dg for datagrams; the worker is each one's one
 *    consumer. A producer publishes the ring's tail and, unless its pending
 *    is already set, sets it and posts the ring's call (a TERN_MSG_CALL
 *    embedded in the handle, holding one reference) to the owning worker's
 *    inbox. The worker drains records into the session until it pushes back
 *    (on_writable resumes), and clears pending only once the ring is
 *    empty.
 *  - app -> worker, control: close, abort and resume are commands (struct
 *    hcmd, malloc'd, once per call) in the same inbox as TERN_MSG_CALL; the
 *    worker owns a command once it runs.
 *  - worker -> app: messages in the handle's SPSC ring (rx), each a struct
 *    tern_msg (type RX_MSG or RX_DGRAM, len = stream or lane + 1, aux =
 *    length; data inline up to TERN_MSG_INLINE bytes, else ptr points into
 *    a receive chunk named in data (handle_rxbuf.c) or, for a message over
 *    a chunk or one the worker held, at a malloc'd copy the consumer frees;
 *    type RX_FIN, len = stream, aux = 0: the peer finished that stream,
 *    queued behind its messages). State changes are published by a
 *    release store of state; every change ends with evc_notify.
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
 * between (given an inline engine `poll`: polling it instead, at least
 * once; NULL otherwise, never a freed engine), for up to timeout_us. Returns try's result, or TERN_EAGAIN (timeout 0) or
 * TERN_ETIMEDOUT. */
int tern_evc_wait_for(struct tern_engine *poll, struct evc *ev, uint64_t timeout_us,
                      tern_try_fn try, void *arg);
/* What a handle's waits poll: its engine if inline, else NULL. */
#define TERN_HANDLE_POLL(h) ((h)->inline_mode ? (h)->e : NULL)

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
enum { OP_RESUME, OP_CLOSE, OP_ABORT };

/* A message the worker keeps while the ring is full (backpressure); its
 * data is malloc'd (never in a chunk). */
struct held {
	struct held *next;
	struct tern_msg m;
};

/* A control command (close, abort, resume): one malloc per call. */
struct hcmd {
	struct tern_call call; /* first: the command is one block */
	struct tern_handle *h; /* compared with the session's user; used only when equal */
	uint64_t key;          /* the session's table key */
	uint64_t code;         /* OP_ABORT */
	size_t len;
	uint8_t op;
	uint8_t data[]; /* OP_ABORT: the reason, NUL-terminated */
};

/* ---- the send rings (handle_tx.c) ----
 * cap bytes (a power of two), positions counted in bytes ever written
 * (tail) and consumed (head). A record is a header and its payload,
 * TX_ALIGN-aligned, never split across the wrap: a TX_PAD record fills the
 * rest of the lap instead. */
enum { TX_SEND = 1, TX_BIG, TX_FIN, TX_DGRAM, TX_PAD };
#define TX_ALIGN 8
#define TX_MIN_CAP (16u << 10)   /* a tiny send_buffer still gets a useful ring */
#define TX_MAX_CAP (64u << 20)   /* a huge send_buffer: a pad's length fits its u32 */
#define TX_DGRAM_CAP (64u << 10) /* about 45 full datagrams, as the session's queue (64) */

struct txrec {
	uint32_t len;    /* TX_SEND, TX_DGRAM, TX_BIG: the message's bytes; TX_PAD: the record's */
	uint16_t stream; /* TX_SEND, TX_BIG, TX_FIN */
	uint8_t op;
	uint8_t unused;
	/* then the payload: the message (TX_SEND, TX_DGRAM) or a pointer to a
	 * malloc'd copy of it (TX_BIG) */
};

/* One send ring: any number of producers (application threads) under lock,
 * one consumer (the owning worker, no lock). */
struct txring {
	pthread_mutex_t lock; /* producers take turns: tail, buf */
	uint8_t *buf;         /* cap bytes; allocated by the first record */
	size_t cap;
	/* bytes data records leave free: the tx ring's one fin record per
	 * stream, so a finish always finds room (each stream is finished once) */
	size_t reserve;
	/* seq_cst store by the producer (release for the worker's acquire load:
	 * the records before it are written; and before its pending load, a
	 * Dekker pair with the worker's drain) */
	atomic_size_t tail;
	/* release store by the worker: the bytes before it are read (pairs with
	 * the producers' acquire load before they overwrite them) */
	atomic_size_t head;
	/* a TERN_MSG_CALL for call is queued, or the worker is draining or
	 * blocked (set by the producer whose exchange saw it clear, cleared by
	 * the worker only with the ring empty); seq_cst, see tail */
	atomic_bool pending;
	atomic_bool repost;    /* the inbox was full: the next app call posts call */
	struct tern_call call; /* fn tern_handle_tx_run, arg this ring: never freed apart */
	struct tern_handle *h;
};

/* ---- receive chunks (handle_rxbuf.c) ----
 * The worker copies messages of up to RX_CHUNK bytes back to back into a
 * chunk; the app reads them out; the chunk goes back to the worker when
 * every message in it was read and the worker moved on to another. */
#define RX_CHUNK (64u << 10)
#define RX_CHUNKS_MAX (TERN_HANDLE_RECV_BYTES / RX_CHUNK + 2) /* + the one filling, + waste */

struct rxchunk {
	/* messages in it not yet read, + 1 while it is the worker's current
	 * chunk; acq_rel decrements (the last one sees every reader done) */
	atomic_uint unread;
	uint32_t used;        /* worker: bytes filled */
	struct rxchunk *next; /* on the return stack, then the worker's free list */
	struct rxchunk *all;  /* every chunk of the handle (freed with it) */
	uint8_t data[RX_CHUNK];
};

struct tern_hub {
	pthread_mutex_t lock;
	struct tern_handle *handles;      /* every live handle (hub_prev/hub_next) */
	struct tern_hlistener *listeners; /* every listener until the engine goes */
};

struct tern_hlistener {
	struct tern_engine *e; /* NULL once the engine is freed */
	struct tern_hub *hub;
	bool inline_mode; /* the engine's cfg.inline_mode */
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
	/* app -> worker: the send rings (handle_tx.c) */
	struct txring tx;   /* sends and fins, in order */
	struct txring dg;   /* datagrams: never behind stream data the session cannot take */
	uint64_t *fin_sent; /* under tx.lock: streams the app finished, a bit each */
	/* worker -> app */
	struct tern_ring *rx; /* SPSC */
	atomic_size_t rx_bytes;
	size_t rx_budget;
	atomic_bool rx_held; /* the worker holds messages back: the app asks for them */
	/* receive chunks: worker side (handle_rxbuf.c) */
	struct rxchunk *rx_cur;  /* the chunk being filled */
	struct rxchunk *rx_free; /* ready to fill */
	struct rxchunk *rx_all;  /* every chunk allocated (destroy frees them) */
	unsigned rx_nchunks;
	/* chunks the app emptied: it pushes (CAS, release), the worker takes the
	 * whole stack (exchange, acquire: their readers are done, next is set) */
	_Atomic(struct rxchunk *) rx_returned;
	/* worker side only (until CLOSED) */
	struct held *held_head, *held_tail;
	size_t held_bytes;
	bool tx_blocked;     /* the session pushed back on the tx ring's head record */
	bool close_after_tx; /* a graceful close waits for the tx ring to drain */
	/* app side, under rx_lock */
	pthread_mutex_t rx_lock;
	struct tern_msg head;
	bool has_head;
	struct held *closed_held; /* the worker's held list, handed over at CLOSED */
	/* written before state turns CLOSED (release) */
	struct tern_reason reason;
	bool inline_mode; /* the engine's cfg.inline_mode, copied: the engine may go first */
	/* inline engines only (one thread) */
	struct tern_conn *inline_conn; /* the session from opened until on_closed */
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
/* Frees a ring message's data (malloc'd) or gives its chunk back. */
void tern_msg_free_data(struct tern_handle *h, struct tern_msg *m);
/* 0 (open), TERN_ESTATE (connecting) or TERN_ECLOSED; an acquire of state. */
int tern_handle_usable(const struct tern_handle *h);
/* Posts a command without data but an optional NUL-terminated text. */
int tern_handle_post_op(struct tern_handle *h, uint8_t op, uint64_t code, const char *text);

/* handle_tx.c */
void tern_handle_tx_init(struct tern_handle *h, size_t send_buffer, uint16_t max_streams);
void tern_handle_tx_free(struct tern_handle *h); /* destroy: the rings and TX_BIG copies */
/* App side: queues one record (TX_SEND or TX_FIN on the tx ring, a send
 * over half of it as TX_BIG; TX_DGRAM on the dg ring) and tells the
 * worker. 0, TERN_EAGAIN (no room), TERN_ECLOSED (the stream was
 * finished), TERN_ENOMEM. */
int tern_handle_tx_put(struct tern_handle *h, uint8_t op, uint16_t stream, const void *data,
                       size_t len);
bool tern_handle_tx_room(struct tern_handle *h, size_t len); /* a send of len would fit now */
void tern_handle_tx_repost(struct tern_handle *h);           /* posts a notice the inbox refused */
/* Worker side: records into the session (stream data until it pushes back). */
void tern_handle_tx_drain(struct tern_handle *h, struct tern_conn *c);
bool tern_handle_tx_empty(struct tern_handle *h);                         /* the tx ring */
void tern_handle_tx_run(struct tern_worker *w, void *arg, tern_time now); /* a ring's call */

/* handle_rxbuf.c */
/* Worker side: m's data into a chunk (m->ptr set, the chunk named in
 * m->data). False when no chunk has room and none may be allocated. */
bool tern_rxbuf_put(struct tern_handle *h, struct tern_msg *m, const void *data, size_t len);
void tern_rxbuf_unput(struct tern_handle *h, const struct tern_msg *m); /* the last put, undone */
struct rxchunk *tern_rxbuf_chunk(const struct tern_msg *m);             /* NULL: not in a chunk */
void tern_rxbuf_release(struct tern_handle *h, struct rxchunk *k);      /* app: one message read */
void tern_rxbuf_free(struct tern_handle *h);                            /* destroy */

/* handle_rx.c */
extern const struct tern_handler tern_handle_connect_handler;
void tern_handle_listener_handler(struct tern_hlistener *l, struct tern_handler *out);
void tern_handle_run_cmd(struct tern_worker *w, void *arg, tern_time now);

#endif
