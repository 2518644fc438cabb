/* tern — a raw asynchronous UDP handle and the minimal event loop that drives
 * it (issue 4), modelled on libuv's uv_udp_t and uv_loop_t.
 *
 * One loop owns one io_uring and is used by one thread. Handles and send
 * requests are allocated by the caller and must stay put (not moved, not
 * freed) from init until their close / send callback has run. Callbacks are
 * only ever called from tern_loop_run, never from inside the call that
 * started the operation.
 *
 * Errors: every function returns 0 (or a count) on success and a negative
 * TERN_E* code (tern/error.h) on failure. A handle keeps a message for its
 * last failure naming the call and, for kernel refusals, the errno text:
 * tern_udp_strerror(). The library never prints, aborts or exits.
 *
 * Codes common to every tern_udp_* function below (not repeated on each):
 *   TERN_EINVAL  a required pointer is NULL (no message: there may be no handle)
 *   TERN_ECLOSED the handle is closing or closed
 * Kernel refusals are mapped: EAGAIN -> TERN_EAGAIN, ENOMEM/ENOBUFS ->
 * TERN_ENOMEM, EMSGSIZE -> TERN_ETOOBIG, anything else -> TERN_EINVAL; the
 * errno itself is in tern_udp_sys_errno() and its text in the message. */
#ifndef TERN_UDP_H
#define TERN_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include "tern/addr.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- loop -------------------------------------------------------------- */

struct tern_loop;

enum tern_run_mode {
	TERN_RUN_DEFAULT = 0, /* run until nothing is active or tern_loop_stop */
	TERN_RUN_ONCE = 1,    /* wait for and process at least one event (if anything is active) */
	TERN_RUN_NOWAIT = 2,  /* process what is ready, never block */
};

struct tern_timer;
typedef void (*tern_timer_cb)(struct tern_timer *t);

/* A one-shot or repeating timer. Caller-allocated; fields below `data` and
 * `loop` are private. */
struct tern_timer {
	void *data;             /* the caller's; never touched */
	struct tern_loop *loop; /* read-only: set by tern_loop_timer_start */
	/* private */
	tern_timer_cb cb;
	uint64_t due_us, repeat_us, seq;
	bool active;
	struct tern_timer *next;
};

/* Creates a loop with its own io_uring. Returns 0 and stores it in *out, or
 * TERN_EINVAL (out NULL), TERN_ENOMEM, or TERN_ESTATE (io_uring unavailable or
 * forbidden), with the cause and errno text in err (may be NULL). */
int tern_loop_new(struct tern_loop **out, char *err, size_t errlen);

/* Runs the loop in mode. Returns 1 if handles, requests or timers are still
 * active (more to do), 0 if none are, TERN_EINVAL (NULL loop or unknown mode)
 * or TERN_ESTATE (called from inside a callback of the same loop). */
int tern_loop_run(struct tern_loop *loop, enum tern_run_mode mode);

/* Makes tern_loop_run return after the current iteration. NULL is a no-op. */
void tern_loop_stop(struct tern_loop *loop);

/* Frees the loop. Returns 0, TERN_EINVAL (NULL), or TERN_ESTATE if handles
 * are still open or closing (close them and run the loop first; the loop is
 * then left intact, like uv_loop_close's UV_EBUSY). */
int tern_loop_free(struct tern_loop *loop);

/* The loop's clock: CLOCK_MONOTONIC in microseconds, updated once per
 * iteration. 0 for NULL. */
uint64_t tern_loop_now(const struct tern_loop *loop);

/* Starts (or restarts) timer: cb runs once timeout_us from now, then every
 * repeat_us if repeat_us > 0. An active timer keeps the loop alive. Returns 0
 * or TERN_EINVAL (NULL loop, timer or cb; timer active on another loop). */
int tern_loop_timer_start(struct tern_loop *loop, struct tern_timer *timer, uint64_t timeout_us,
                          uint64_t repeat_us, tern_timer_cb cb);

/* Stops timer; its callback will not run. Returns 0 (also when it was not
 * active) or TERN_EINVAL (NULL). */
int tern_loop_timer_stop(struct tern_timer *timer);

/* ---- UDP handle ---------------------------------------------------------- */

/* A buffer; layout-compatible with struct iovec. */
struct tern_buf {
	void *base;
	size_t len;
};

enum tern_udp_flags {
	TERN_UDP_IPV6ONLY = 1u << 0,  /* bind: IPv6 only, no v4-mapped traffic */
	TERN_UDP_REUSEADDR = 1u << 1, /* bind: SO_REUSEADDR */
	TERN_UDP_PARTIAL = 1u << 2,   /* recv_cb flags: the datagram was truncated */
};

enum tern_membership {
	TERN_UDP_LEAVE_GROUP = 0,
	TERN_UDP_JOIN_GROUP = 1,
};

/* Scatter-gather limit per send (the request holds the list inline, so only
 * the data, not the tern_buf array, must outlive the call). */
#define TERN_UDP_MAX_BUFS 16

/* Size offered to alloc_cb: the largest UDP payload plus slack. */
#define TERN_UDP_SUGGESTED_SIZE 65536

struct tern_udp;
struct tern_udp_send_req;

/* Provide a receive buffer in *buf (buf->len 0 refuses: recv_cb then gets
 * TERN_ENOMEM and receiving stops). The buffer is held by the loop until it
 * comes back through recv_cb. */
typedef void (*tern_udp_alloc_cb)(struct tern_udp *h, size_t suggested, struct tern_buf *buf);
/* nread > 0: a datagram of nread bytes from addr in buf->base (flags may hold
 * TERN_UDP_PARTIAL: truncated to the buffer). nread == 0 with addr: an empty
 * datagram. nread == 0, addr NULL: no data, the buffer is handed back
 * (recv_stop, close, or a datagram dropped by a race with recv_stop).
 * nread < 0: a TERN_E* error; the buffer is handed back too. */
typedef void (*tern_udp_recv_cb)(struct tern_udp *h, ssize_t nread, const struct tern_buf *buf,
                                 const struct tern_addr *addr, unsigned flags);
/* status: 0 sent, TERN_ECLOSED the handle was closed first (the datagram may
 * or may not have left), or a mapped kernel error. The request may be reused
 * or freed inside the callback. */
typedef void (*tern_udp_send_cb)(struct tern_udp_send_req *req, int status);
typedef void (*tern_udp_close_cb)(struct tern_udp *h);

/* Caller-allocated UDP handle. Only `data` is the caller's; `loop` and
 * `send_queue_count` may be read; the rest is private. */
struct tern_udp {
	void *data;
	struct tern_loop *loop;
	size_t send_queue_count; /* sends accepted whose callback has not run */
	/* private */
	int fd;      /* -1 until bind, open or an implicit bind */
	int family;  /* AF_INET / AF_INET6 once there is a socket */
	unsigned st; /* state bits, udp.c */
	int sys_errno;
	tern_udp_alloc_cb alloc_cb;
	tern_udp_recv_cb recv_cb;
	tern_udp_close_cb close_cb;
	struct tern_buf rx_buf; /* owned by the loop between alloc_cb and recv_cb */
	struct msghdr rx_msg;   /* the armed recvmsg; the kernel writes msg_flags back */
	struct sockaddr_storage rx_addr;
	unsigned inflight; /* io_uring ops of this handle without a completion */
	struct tern_udp *next, *prev, *close_next;
	char err[160];
};

/* Caller-allocated send request; `data` is the caller's, `handle` read-only. */
struct tern_udp_send_req {
	void *data;
	struct tern_udp *handle;
	/* private */
	tern_udp_send_cb cb;
	struct tern_udp_send_req *next;
	struct msghdr msg;
	struct sockaddr_storage addr;
	struct tern_buf bufs[TERN_UDP_MAX_BUFS];
};

/* Initializes h on loop; no socket yet (bind, open, or the first send or
 * recv_start makes one). Returns 0 or TERN_EINVAL (NULL). */
int tern_udp_init(struct tern_loop *loop, struct tern_udp *h);

/* Creates a socket of addr's family and binds it. flags: TERN_UDP_IPV6ONLY
 * (IPv6 addresses only; otherwise IPv6 sockets are dual-stack),
 * TERN_UDP_REUSEADDR. Returns 0; TERN_EINVAL (family not 4 or 6, IPV6ONLY
 * with IPv4, unknown flag bits, or the kernel refused: address in use, not
 * local...); TERN_ESTATE (already has a socket); TERN_ENOMEM. */
int tern_udp_bind(struct tern_udp *h, const struct tern_addr *addr, unsigned flags);

/* Adopts an existing datagram socket fd (made non-blocking; closed by
 * tern_udp_close). If fd is connected, sends may pass addr NULL. Returns 0;
 * TERN_EINVAL (fd < 0, not a socket, not SOCK_DGRAM, not AF_INET/AF_INET6);
 * TERN_ESTATE (h already has a socket). */
int tern_udp_open(struct tern_udp *h, int fd);

/* Queues one datagram made of bufs[0..nbufs) to addr (NULL only on a
 * connected socket); cb(req, status) runs from the loop once the io_uring
 * sendmsg completes. The bytes must stay valid until then; the bufs array
 * itself is copied. An unbound handle is first bound to the wildcard address
 * of addr's family, port 0. Returns 0; TERN_EINVAL (no addr on an unconnected
 * handle, bad family, addr not reachable from the socket's family, bufs NULL
 * with nbufs > 0, NULL cb); TERN_ELIMIT (nbufs > TERN_UDP_MAX_BUFS); the
 * codes of tern_udp_bind for the implicit bind. */
int tern_udp_send(struct tern_udp_send_req *req, struct tern_udp *h, const struct tern_buf bufs[],
                  unsigned nbufs, const struct tern_addr *addr, tern_udp_send_cb cb);

/* Sends now with a non-blocking sendmsg. Returns the bytes sent; TERN_EAGAIN
 * (the socket buffer is full, or queued sends are pending, which keeps
 * datagrams in order); the other codes as tern_udp_send. */
ssize_t tern_udp_try_send(struct tern_udp *h, const struct tern_buf bufs[], unsigned nbufs,
                          const struct tern_addr *addr);

/* Starts receiving (an unbound handle is bound to 0.0.0.0, port 0). Returns 0;
 * TERN_EINVAL (NULL callback); TERN_ESTATE (already receiving); the codes of
 * tern_udp_bind for the implicit bind. */
int tern_udp_recv_start(struct tern_udp *h, tern_udp_alloc_cb alloc_cb, tern_udp_recv_cb recv_cb);

/* Stops receiving: no datagram is delivered after this returns (a held
 * buffer comes back with nread 0, addr NULL). Returns 0, also when not
 * receiving. */
int tern_udp_recv_stop(struct tern_udp *h);

/* Joins or leaves multicast group (numeric text, "239.255.0.1" or "ff02::1:3").
 * interface: for an IPv4 group the local address of the interface
 * ("127.0.0.1"), for IPv6 an interface name or index ("lo", "1"); NULL lets
 * the kernel choose. Returns 0; TERN_EINVAL (unparsable text, not a
 * multicast group, unknown interface, bad membership, leaving a group not
 * joined...); TERN_ESTATE (no socket yet: bind first). */
int tern_udp_set_membership(struct tern_udp *h, const char *group, const char *interface,
                            enum tern_membership membership);

/* Multicast loopback on (default) or off. Returns 0 or TERN_ESTATE (no socket). */
int tern_udp_set_multicast_loop(struct tern_udp *h, bool on);
/* Multicast hop limit 0..255. Returns 0, TERN_EINVAL (range), TERN_ESTATE. */
int tern_udp_set_multicast_ttl(struct tern_udp *h, int ttl);
/* Outgoing multicast interface, as for set_membership (NULL: the default).
 * Returns 0, TERN_EINVAL (bad text, unknown interface), TERN_ESTATE. */
int tern_udp_set_multicast_interface(struct tern_udp *h, const char *interface);
/* SO_BROADCAST on or off. Returns 0 or TERN_ESTATE. */
int tern_udp_set_broadcast(struct tern_udp *h, bool on);
/* Unicast TTL / hop limit 1..255. Returns 0, TERN_EINVAL (range), TERN_ESTATE. */
int tern_udp_set_ttl(struct tern_udp *h, int ttl);

/* SO_SNDBUF / SO_RCVBUF: *value == 0 reads the size into *value; *value > 0
 * sets it (Linux stores and reports twice the value set, as in libuv).
 * Returns 0, TERN_EINVAL (*value < 0, kernel refusal), TERN_ESTATE. */
int tern_udp_send_buffer_size(struct tern_udp *h, int *value);
int tern_udp_recv_buffer_size(struct tern_udp *h, int *value);

/* The socket's fd in *fd. Returns 0 or TERN_ESTATE (no socket yet). */
int tern_udp_fileno(const struct tern_udp *h, int *fd);
/* The bound local address in *addr. Returns 0, TERN_ESTATE (no socket), TERN_EINVAL. */
int tern_udp_getsockname(struct tern_udp *h, struct tern_addr *addr);

/* Closes h: stops receiving, finishes every pending send with TERN_ECLOSED,
 * closes the socket, then (from the loop) calls close_cb (may be NULL). h
 * may be freed once close_cb ran, or when the loop has nothing active left.
 * Returns 0, TERN_EINVAL (NULL), TERN_ESTATE (already closing or closed). */
int tern_udp_close(struct tern_udp *h, tern_udp_close_cb close_cb);

/* The message of h's last failure, e.g. "tern_udp_bind: Address already in
 * use", or "" if none. Never NULL (a static string for NULL h). */
const char *tern_udp_strerror(const struct tern_udp *h);
/* The errno of h's last kernel refusal, 0 if the last failure was not one. */
int tern_udp_sys_errno(const struct tern_udp *h);

#ifdef __cplusplus
}
#endif
#endif
