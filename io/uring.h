/* The io_uring backend: one kernel UDP socket driven through one io_uring,
 * owned by one thread. RX is a multishot recvmsg into a ring of provided
 * buffers (with UDP GRO, one buffer may carry several datagrams, split into
 * separate packets); TX coalesces runs of equal-sized packets to one peer into
 * UDP GSO trains and submits a whole burst with one io_uring_submit. Several
 * instances may share a port with SO_REUSEPORT (one per worker).
 *
 * Also exports tern_addr <-> sockaddr conversions for other io/ code. */
#ifndef TERN_URING_H
#define TERN_URING_H

#include <sys/socket.h>
#include "core/backend.h"

#define TERN_URING_GSO_MAX_SEGS 64     /* segments in one UDP_SEGMENT send */
#define TERN_URING_GSO_MAX_BYTES 65507 /* payload bytes in one train (IPv4 bound) */

struct tern_uring_cfg {
	struct tern_addr addr; /* bind address, family 4 or 6; addr.port 0 = ephemeral */
	bool v6only;           /* with an IPv6 address: refuse IPv4 (default: dual-stack) */
	bool reuseport;        /* SO_REUSEPORT: one socket per worker on the same port */
	unsigned ring_depth;   /* SQ entries; 0 = 256. Also the sends that may be in flight */
	unsigned rx_bufs; /* provided buffers, rounded up to a power of 2; 0 = 512 (64 with GRO) */
	unsigned rx_buf_size;    /* bytes per buffer; 0 = 2048, or 65536 + headers with GRO */
	unsigned tx_bufs;        /* TX buffers (TERN_MAX_PACKET each) that may exist; 0 = 4096 */
	bool gso;                /* coalesce TX into UDP_SEGMENT trains */
	bool gro;                /* receive UDP_GRO-merged buffers */
	bool sqpoll;             /* kernel thread polls the SQ: no submit syscalls */
	unsigned sqpoll_idle_ms; /* SQPOLL thread idle time before sleeping; 0 = 1000 */
	int sndbuf, rcvbuf;      /* SO_SNDBUF / SO_RCVBUF bytes; 0 = system default */
	/* Turn off DEFER_TASKRUN (Linux 6.1+, used by default without SQPOLL:
	 * completions are run in batches when the owner thread polls, instead
	 * of an interrupt of that thread per datagram). */
	bool no_defer;
	/* Direct mode: receive with recvmmsg(MSG_DONTWAIT) and send with
	 * sendmmsg on the owner thread instead of through the ring: for
	 * busy-polling workers (latency_mode), which then see a datagram, and
	 * send one, without any completion machinery; sleeping is a ppoll on
	 * the socket and the wake-up eventfd. */
	bool direct_rx;
};

/* Everything counted. rx_* on receive, tx_* on send. */
struct tern_uring_stats {
	uint64_t rx_packets, rx_bytes;
	uint64_t rx_gro_merges;        /* buffers that held more than one datagram */
	uint64_t rx_gro_segments;      /* datagrams that arrived in such buffers */
	uint64_t rx_enobufs;           /* multishot stopped: every provided buffer was in use */
	uint64_t rx_truncated;         /* datagrams larger than a buffer (dropped) */
	uint64_t rx_malformed;         /* completions whose buffer did not parse (dropped) */
	uint64_t rx_errors;            /* other recvmsg errors */
	uint64_t rx_rearms;            /* multishot recvmsg submitted again after it ended */
	uint64_t tx_packets, tx_bytes; /* handed to the kernel successfully */
	uint64_t tx_sendmsgs;          /* sendmsg operations completed */
	uint64_t tx_gso_trains;        /* sendmsgs carrying UDP_SEGMENT (>= 2 packets) */
	uint64_t tx_gso_segments;      /* packets sent inside trains */
	uint64_t tx_submits;           /* io_uring_submit calls from tx_burst */
	uint64_t tx_refused;    /* packets tx_burst left with the caller (no SQE / op free) */
	uint64_t tx_alloc_fail; /* buf_alloc calls refused (pool exhausted) */
	uint64_t tx_bad_addr;   /* packets dropped: destination unusable on this socket */
	/* send errors (packets lost), by reason */
	uint64_t tx_err_nobufs;  /* ENOBUFS / ENOMEM */
	uint64_t tx_err_again;   /* EAGAIN: socket send buffer full */
	uint64_t tx_err_unreach; /* ENETUNREACH, EHOSTUNREACH, ECONNREFUSED, EADDRNOTAVAIL */
	uint64_t wake_errors;    /* reads of the wake-up eventfd that failed */
	uint64_t tx_err_msgsize; /* EMSGSIZE */
	uint64_t tx_err_gso;     /* EIO / EINVAL on a GSO train (GSO is then turned off) */
	uint64_t tx_err_other;
};

struct tern_uring;

/* Fills cfg with defaults: IPv4 127.0.0.1, ephemeral port, GSO and GRO on. */
void tern_uring_cfg_default(struct tern_uring_cfg *cfg);

/* Opens a socket and a ring. On success returns 0, stores the instance in
 * *out and the bound port (host order) in *port (may be NULL), and leaves in
 * err the fallbacks taken ("" when none), e.g. "UDP GRO unavailable (...):
 * receiving one datagram per buffer". On failure returns TERN_EINVAL (bad
 * config, bind refused), TERN_ENOMEM, or TERN_ESTATE (the kernel or liburing
 * lacks a feature with no fallback: io_uring itself, multishot recvmsg,
 * provided buffer rings), with a message in err naming the cause and errno.
 * err may be NULL. */
int tern_uring_open(const struct tern_uring_cfg *cfg, struct tern_uring **out, uint16_t *port,
                    char *err, size_t errlen);

/* One thread drives an instance: the first to call rx_burst, tx_burst,
 * tern_uring_wait or tern_uring_thread_start (which returns 0 or
 * TERN_ESTATE). On a DEFER_TASKRUN ring only that thread may submit from then
 * on, so it calls tern_uring_thread_stop after its last use: that cancels
 * RX and waits (bounded) for every operation in flight. */
int tern_uring_thread_start(void *be);
void tern_uring_thread_stop(void *be);

/* Cancels pending operations, waits (bounded) for them, and frees
 * everything (when called from another thread than the driving one, after
 * tern_uring_thread_stop). Received packets not yet returned with buf_free
 * become invalid. NULL is a no-op. */
void tern_uring_close(struct tern_uring *u);

/* Blocks up to timeout_us for a completion. Returns 1 when rx_burst may have
 * packets (or a send completed), 0 on timeout, or TERN_EAGAIN if interrupted. */
int tern_uring_wait(struct tern_uring *u, tern_time timeout_us);

const struct tern_uring_stats *tern_uring_stats(const struct tern_uring *u);
/* Every counter as "<prefix><name> <value>\n" lines, readable from any
 * thread while the owner runs. Returns the length written (< len). */
size_t tern_uring_stats_text(const struct tern_uring *u, const char *prefix, char *buf, size_t len);
/* Whether GSO / GRO are in use (after fallbacks). */
/* Makes tern_uring_wait return when efd (an eventfd another thread writes
 * to) becomes readable, through a multishot poll: waking a sleeping worker
 * costs the waker one write and the worker one read. Returns 0,
 * TERN_EINVAL or TERN_EAGAIN (submission queue full). */
int tern_uring_watch_wakeup(struct tern_uring *u, int efd);
bool tern_uring_gso(const struct tern_uring *u);
bool tern_uring_gro(const struct tern_uring *u);

/* The backend ops; the `be` argument is a struct tern_uring *.
 * rx_burst: never blocks; packets stay valid until buf_free.
 * tx_burst: packets must come from buf_alloc; one submit per call. */
extern const struct tern_backend_ops tern_uring_backend_ops;

/* Converts a to a sockaddr for a socket of family sock_family (AF_INET or
 * AF_INET6; an IPv4 address on an IPv6 socket becomes v4-mapped). Returns
 * the sockaddr length, or TERN_EINVAL if a cannot be reached that way. */
int tern_sockaddr_from_addr(struct sockaddr_storage *ss, int sock_family,
                            const struct tern_addr *a);
/* Converts a sockaddr (v4-mapped IPv6 becomes family 4). Returns 0 or
 * TERN_EINVAL (unknown family or short length). */
int tern_addr_from_sockaddr(struct tern_addr *a, const struct sockaddr *sa, socklen_t len);

#endif
