/* tern — handles: sessions for application threads that are not workers.
 *
 * tern/tern.h runs an application inside the workers (callbacks). A handle
 * is the other way in: any thread connects, accepts, sends and receives,
 * and the worker that owns the session does the work. A handle refers to
 * one session; it is reference-counted, so a handle that outlives its
 * session is safe (calls then return TERN_ECLOSED) and many threads may use
 * one handle at once (several senders; receivers take turns).
 *
 *   sending    tern_handle_send copies the message into the handle's send
 *              ring (the engine's send_buffer bytes, rounded up to a power
 *              of two), from which the owning worker hands it to the
 *              session; no allocation per message. It never blocks:
 *              TERN_EAGAIN when the ring has no room.
 *   receiving  the worker puts each message and datagram in the handle's
 *              bounded SPSC ring (ck_ring), its bytes in 64 KiB chunks it
 *              reuses once read; tern_handle_recv copies them out,
 *              blocking (futex wake-up) or not.
 *   finishing  tern_handle_finish ends a stream after the messages already
 *              sent on it; the peer's tern_handle_recv then returns 0 with
 *              info->fin set, after every message of that stream (as
 *              read(2) returns 0 at end of file).
 *   backpressure  when the ring is full (receive_slots messages or
 *              receive_bytes bytes, or no chunk is free) the worker never blocks and never drops
 *              a message: it keeps the messages that arrive in a list of its
 *              own and stops returning flow-control credit to the peer, who
 *              can then send at most what it was already granted (one
 *              connection window). When the application has emptied half
 *              the ring, the list moves into the ring and credit flows
 *              again. Datagrams are unreliable: a datagram that finds the
 *              ring full is dropped and counted.
 *
 * Errors are negative TERN_E* codes (tern/error.h). A message is 1 byte to
 * 64 MiB. Every wait is bounded by timeout_us; TERN_FOREVER waits without a
 * bound, 0 does not wait. */
#ifndef TERN_HANDLE_H
#define TERN_HANDLE_H

#include "tern/tern.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TERN_FOREVER UINT64_MAX
#define TERN_REASON_MAX 255 /* bytes of close reason text kept */

struct tern_handle;
struct tern_hlistener;

/* Why a session ended or a connect failed, copied so it outlives the
 * callback (tern_close_reason's fields). */
struct tern_reason {
	int err;     /* TERN_OK (a close by either side), TERN_ETIMEDOUT (idle, or the
	                 handshake timed out), TERN_EPROTO, TERN_ECLOSED (connect refused:
	                 code is a TERN_CONNECT_*) */
	bool remote; /* the peer closed (or refused) */
	bool app;    /* code is an application code */
	uint64_t code;
	char text[TERN_REASON_MAX + 1]; /* the peer's reason, NUL-terminated (truncated) */
	const char *what;               /* short English description, static */
};

enum tern_handle_state {
	TERN_HANDLE_CONNECTING,
	TERN_HANDLE_OPEN,
	TERN_HANDLE_CLOSED, /* messages already received can still be read */
};

/* What tern_handle_recv returned. */
struct tern_recv_info {
	size_t len;      /* the message's length (also when TERN_ETOOBIG); 0 for a fin */
	uint16_t stream; /* TERN_STREAM_DATAGRAMS for a datagram */
	int lane;        /* datagrams: -1 plain, else the unreliable-sequenced lane */
	bool fin;        /* the peer finished stream (recv returned 0): every message it
	                    sent there came before, and no more will come */
};

struct tern_handle_stats {
	uint64_t msgs_received, datagrams_received;
	uint64_t datagrams_dropped; /* arrived while the receive ring was full */
	uint64_t holds;             /* times the worker held credit (backpressure) */
	uint64_t held_bytes_max;    /* most bytes waiting outside the ring at once */
	uint64_t send_retries;      /* messages the session could not take at once */
};

/* Receive queue sizes (tern_handle_listen, tern_handle_connect_async). */
#define TERN_HANDLE_RECV_SLOTS 1024       /* messages */
#define TERN_HANDLE_RECV_BYTES (4u << 20) /* bytes; one larger message still fits */

/* ---- connect ---- */

/* Connects and waits up to timeout_us for the session. o is as for
 * tern_connect, but o->handler and o->user are ignored. On failure *out is
 * NULL and, if why is not NULL, it says why. Returns 0, TERN_ETIMEDOUT (no
 * session within timeout_us or the handshake timed out), TERN_ECLOSED (the
 * server refused: why->code is a TERN_CONNECT_*), TERN_EINVAL, TERN_ESTATE
 * (engine not started), TERN_EAGAIN (too many connects queued),
 * TERN_ENOMEM. Thread-safe. */
int tern_handle_connect(struct tern_engine *e, const struct tern_connect_opts *o,
                        uint64_t timeout_us, struct tern_handle **out, struct tern_reason *why);
/* Starts a connect and returns at once with a handle in CONNECTING state;
 * tern_handle_wait_open says when it is open. Sends before then return
 * TERN_ESTATE. Returns as tern_connect. */
int tern_handle_connect_async(struct tern_engine *e, const struct tern_connect_opts *o,
                              struct tern_handle **out);
/* Waits up to timeout_us for a connecting handle to open. Returns 0 (open),
 * TERN_EAGAIN (still connecting after timeout_us), TERN_ECLOSED (the connect
 * failed or the session ended: tern_handle_reason says why). */
int tern_handle_wait_open(struct tern_handle *h, uint64_t timeout_us);

/* ---- accept ---- */

/* Listens on (vport, stream_type): sessions that clients open there queue
 * as handles, at most backlog of them (0: 128); a client that finds the
 * queue full is refused. Returns 0, TERN_EINVAL (already listening there),
 * TERN_ENOMEM. */
int tern_handle_listen(struct tern_engine *e, uint16_t vport, uint8_t stream_type, unsigned backlog,
                       struct tern_hlistener **out);
/* Takes the next accepted session, waiting up to timeout_us. Thread-safe.
 * Returns 0, TERN_ETIMEDOUT (none came; TERN_EAGAIN when timeout_us is 0),
 * TERN_ECLOSED (the listener is closed). */
int tern_handle_accept(struct tern_hlistener *l, uint64_t timeout_us, struct tern_handle **out);
/* Stops listening, closes the sessions still queued, and frees l. No call
 * on l may be running or follow. NULL is fine. */
void tern_hlistener_close(struct tern_hlistener *l);

/* ---- data ---- */

/* Queues a whole message (copied) on stream (below the engine's
 * max_streams). Never blocks. Returns 0, TERN_EAGAIN (no room in the send
 * ring: retry, or tern_handle_wait_writable), TERN_ETOOBIG
 * (over 64 MiB), TERN_EINVAL (empty message, stream out of range),
 * TERN_ESTATE (still connecting), TERN_ECLOSED (the session ended, or we
 * finished the stream), TERN_ENOMEM. A message accepted here is sent unless
 * the session ends first. */
int tern_handle_send(struct tern_handle *h, uint16_t stream, const void *msg, size_t len);
/* Finishes stream: the peer receives the messages already sent on it, then
 * the fin (tern_handle_recv returns 0 with info->fin). Sending on a
 * finished stream, or finishing it again, returns TERN_ECLOSED; other
 * streams stay open. Never blocks, and never finds the send ring full
 * (sends leave room for one fin per stream). Thread-safe: a send on the
 * same stream from another thread either goes before the fin or returns
 * TERN_ECLOSED. Returns 0, TERN_EINVAL (stream out of range), TERN_ESTATE (still connecting), TERN_ECLOSED (the
 * stream is already finished, or the session ended: tern_handle_state
 * tells which), TERN_ENOMEM. */
int tern_handle_finish(struct tern_handle *h, uint16_t stream);
/* Queues an unreliable datagram (at most tern_handle_max_datagram bytes).
 * Returns as tern_handle_send; a datagram the session cannot queue is
 * dropped. */
int tern_handle_send_datagram(struct tern_handle *h, const void *data, size_t len);
/* Waits up to timeout_us until a send of len bytes would find room in the
 * send ring (a message over half the ring: the ring empty). Returns 0,
 * TERN_ETIMEDOUT, TERN_ECLOSED. */
int tern_handle_wait_writable(struct tern_handle *h, size_t len, uint64_t timeout_us);
/* Largest datagram payload; 0 until open, and still 0 once closed if the
 * session never opened (the connect failed). */
size_t tern_handle_max_datagram(const struct tern_handle *h);

/* Takes the next message or datagram into buf, waiting up to timeout_us.
 * info (may be NULL) says which stream and how long. Messages from one
 * stream come in order. Thread-safe (receivers take turns). Returns the
 * length (1 or more); 0 when the peer finished a stream: info->fin is set
 * and info->stream says which (pass info to know), every message of that
 * stream came before, and the fin is taken whatever cap is; TERN_EAGAIN
 * (nothing, timeout_us 0); TERN_ETIMEDOUT (nothing within timeout_us);
 * TERN_ETOOBIG (cap is too small: info->len is the size needed; the
 * message stays queued); TERN_ECLOSED (the session ended and every message
 * it received has been read: tern_handle_reason says why); TERN_EINVAL (buf
 * NULL with cap > 0). A connecting handle has nothing yet: the call waits
 * as on an open one. */
int tern_handle_recv(struct tern_handle *h, void *buf, size_t cap, struct tern_recv_info *info,
                     uint64_t timeout_us);

/* ---- close ---- */

/* Closes the session gracefully: queued messages are delivered first, then
 * the peer sees a close with code 0. The handle stays valid (messages
 * already received can still be read). Returns 0, TERN_ECLOSED (already
 * closed), TERN_EAGAIN (worker inbox full: retry). */
int tern_handle_close(struct tern_handle *h);
/* Closes at once with an application code and reason (the peer's close
 * reason shows both); queued data is dropped. Returns as tern_handle_close. */
int tern_handle_abort(struct tern_handle *h, uint64_t app_code, const char *reason);
enum tern_handle_state tern_handle_state(const struct tern_handle *h);
/* Copies why the session ended. Returns 0, or TERN_ESTATE while it is open
 * or connecting. */
int tern_handle_reason(const struct tern_handle *h, struct tern_reason *out);
/* Fills the handle's counters. */
void tern_handle_stats(const struct tern_handle *h, struct tern_handle_stats *out);

/* ---- references ---- */

/* Takes one more reference (e.g. for another thread). */
void tern_handle_ref(struct tern_handle *h);
/* Drops a reference. When the application's last one goes, an open session
 * is closed gracefully; the memory goes when the worker is done with it
 * too. NULL is fine. */
void tern_handle_release(struct tern_handle *h);

/* tern_engine_free may run while handles exist (never concurrently with a
 * call on them): it ends their sessions, after which every call returns
 * TERN_ECLOSED and tern_handle_release frees them. */

#ifdef __cplusplus
}
#endif
#endif
