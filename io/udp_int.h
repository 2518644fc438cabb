/* Internals shared by io/loop.c (the loop, its ring and timers) and io/udp.c
 * (the UDP handle): the loop's layout and the two hooks the loop calls each
 * iteration. Not installed. */
#ifndef TERN_UDP_INT_H
#define TERN_UDP_INT_H

#include <liburing.h>
#include "tern/udp.h"

/* io_uring user_data: a pointer with its kind in the low bits (handles and
 * requests are pointer-aligned). 0 is a cancellation, whose CQE is ignored. */
#define TERN_OP_SEND 1u /* a struct tern_udp_send_req */
#define TERN_OP_RECV 2u /* a handle's armed recvmsg */
#define TERN_OP_MASK 3u

struct tern_loop {
	struct io_uring ring;
	unsigned max_inflight; /* CQ entries: never more ops in flight, so no CQ overflow */
	unsigned inflight;     /* sends + recvs submitted without a CQE (cancels not counted) */
	unsigned receiving;    /* handles with recv started */
	uint64_t now_us;
	bool stop;
	bool running; /* inside tern_loop_run: refuse re-entry */
	/* every initialized handle not yet fully closed (doubly linked) */
	struct tern_udp *handles;
	/* handles being closed, in close order */
	struct tern_udp *closing_head, *closing_tail;
	/* accepted sends waiting for a ring slot, FIFO across handles */
	struct tern_udp_send_req *sendq_head, *sendq_tail;
	unsigned sendq_len;
	struct tern_timer *timers; /* active timers, unsorted (a minimal loop has few) */
	uint64_t timer_seq;
};

/* Returns an SQE, submitting queued ones once if the SQ is full; NULL if
 * none can be had now (the caller retries next iteration). */
struct io_uring_sqe *tern_loop_sqe(struct tern_loop *loop);

/* udp.c: arm receives, move queued sends onto the ring, advance closes. */
void tern_udp_prepare(struct tern_loop *loop);
/* udp.c: one completion of a TERN_OP_SEND / TERN_OP_RECV operation. */
void tern_udp_complete(struct tern_loop *loop, uint64_t user_data, int res);

/* Handle state bits (struct tern_udp.st). */
#define TERN_UDP_ST_CONNECTED 0x01u /* opened fd had a peer: sends may omit addr */
#define TERN_UDP_ST_RECEIVING 0x02u /* recv_start called, recv_stop not */
#define TERN_UDP_ST_ARMED 0x04u     /* a recvmsg is on the ring */
#define TERN_UDP_ST_RXCANCEL 0x08u  /* ... and its cancellation too */
#define TERN_UDP_ST_CLOSING 0x10u   /* tern_udp_close called */
#define TERN_UDP_ST_CANCEL 0x20u    /* close's cancel-all submitted */

/* udp.c: records "fn: what" as h's last error and returns code. */
int tern_udp_fail(struct tern_udp *h, int code, const char *fn, const char *what);
/* udp.c: records "fn: call(): strerror(err)", remembers err, returns its mapping. */
int tern_udp_sys_fail(struct tern_udp *h, int err, const char *fn, const char *call);
/* udp.c: TERN_EINVAL for NULL h, TERN_ECLOSED if closing, TERN_ESTATE if
 * need_sock and there is no socket yet; 0 otherwise. */
int tern_udp_usable(struct tern_udp *h, const char *fn, bool need_sock);

#endif
