/* The io_uring backend: one UDP socket and one ring per worker thread.
 *
 * Shaped around two rules from design.md §5: no syscall per packet, and no
 * allocation per packet after warm-up.
 *  - RX: one multishot recvmsg stays armed on the socket and the kernel picks
 *    a buffer from a provided-buffer ring for each datagram (or, with UDP GRO,
 *    for each merged train). Completions are reaped without a syscall into a
 *    queue of parsed buffers (rxq), from which rx_burst hands out one packet
 *    per datagram; a GRO buffer carries a reference per datagram and goes back
 *    to the kernel when the last is freed, in batches of FREE_BATCH.
 *  - TX: buffers come from a tern_pool; tx_burst turns each run of equal-sized
 *    packets to one peer into a single sendmsg with a UDP_SEGMENT cmsg (one
 *    iovec per packet, no copy), and submits the burst once. A send operation
 *    (tx_op) owns its packets until its completion frees them.
 *
 * liburing 2.3 has no io_uring_setup_buf_ring, so the buffer ring is mmap'd
 * and registered by hand (setup_buf_ring below). Every CQE is handled in one
 * place (reap), so TX completions are never stuck behind unread RX ones. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <liburing.h>
#include "core/pool.h"
#include "core/proto.h"
#include "uring.h"

/* Counters other threads read (tern_engine_backend_stats): one writer, the
 * worker, so a relaxed load and store (a plain mov), never a locked add. */
#define STAT_ADD(f, n) __atomic_store_n(&(f), (f) + (n), __ATOMIC_RELAXED)

#define RX_UDATA 1ull     /* the multishot recvmsg */
#define CANCEL_UDATA 2ull /* its cancellation at close */
#define WAKE_UDATA 3ull   /* the multishot poll on the wake-up eventfd */
#define RX_NAME_LEN ((unsigned)sizeof(struct sockaddr_in6))
#define RX_CTRL_LEN ((unsigned)CMSG_SPACE(sizeof(int)))
#define RX_HDR_LEN ((unsigned)sizeof(struct io_uring_recvmsg_out) + RX_NAME_LEN + RX_CTRL_LEN)
#define RX_BGID 0
#define FREE_BATCH 32 /* rx buffers returned to the kernel per ring advance */
#define REAP_BATCH 64
#define DEFER_FLAGS                                                                                \
	(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED)

/* One provided buffer. refs counts packets handed out from it. */
struct rx_slot {
	uint8_t *base;
	unsigned refs;
	uint16_t bid;
};

/* A received buffer whose datagrams are not all handed out yet. */
struct rx_item {
	struct rx_slot *slot;
	uint8_t *next;  /* next datagram */
	uint32_t left;  /* bytes from next to the end of the payload */
	uint32_t seg;   /* datagram size (GRO gso_size; the last may be shorter) */
	tern_time time; /* when it was reaped */
	struct tern_addr peer;
};

/* One sendmsg in flight: owns its packets' buffers until its completion. */
struct tx_op {
	struct msghdr msg;
	struct sockaddr_storage name;
	/* cmsghdr has a flexible array member, so align a byte buffer to it
	 * rather than put one in a union (clang rejects that) */
	struct {
		uint8_t buf[CMSG_SPACE(sizeof(uint16_t))];
	} ctrl __attribute__((aligned(__alignof__(struct cmsghdr))));
	struct iovec iov[TERN_URING_GSO_MAX_SEGS];
	void *bufs[TERN_URING_GSO_MAX_SEGS];
	unsigned n;
	uint32_t bytes;
	struct tx_op *next_free;
};

struct tern_uring {
	struct io_uring ring;
	bool ring_ok;
	int fd, family;
	bool gso, gro;
	bool rx_armed; /* the multishot recvmsg is live (no final CQE seen) */
	/* DEFER_TASKRUN: completions are posted only when the owner thread
	 * enters the kernel (io_uring_get_events), never by an interrupt per
	 * datagram; the ring is created disabled and enabled by the thread that
	 * first drives it, which alone may submit from then on */
	bool defer;
	bool started; /* the owner thread enabled the ring and armed RX */
	pthread_t owner;
	/* direct RX (cfg.direct_rx): recvmmsg(MSG_DONTWAIT) into the slots on
	 * the owner thread, no multishot and no task work: the path a busy-polling
	 * worker sees a datagram soonest on; free slots on a stack */
	bool direct;
	uint16_t *free_slots;
	unsigned nfree;
	/* RX: rx_mem holds rx_bufs buffers of rx_buf_size; the kernel may fill
	 * rx_kernel of them; rx_pending were freed but not yet published. */
	struct io_uring_buf_ring *br;
	size_t br_size;
	uint8_t *rx_mem;
	unsigned rx_bufs, rx_buf_size, rx_kernel, rx_pending;
	struct rx_slot *slots;
	struct rx_item *rxq; /* ring of rx_bufs items; each holds a distinct slot */
	unsigned rxq_head, rxq_len;
	struct msghdr rx_msg; /* layout template for the multishot buffers */
	struct sockaddr_in6 rx_name_tmpl;
	uint8_t rx_ctrl_tmpl[RX_CTRL_LEN];
	int wake_fd; /* -1: none */
	/* TX */
	struct tern_pool txpool;
	struct tx_op *ops, *free_ops;
	unsigned nops, ops_inflight;
	struct tern_uring_stats st;
};

/* ---- small helpers ---------------------------------------------------- */

static void msg_set(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* Appends a fallback note ("; " between notes). */
static void note_add(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;
	size_t used;

	if (!err || !len)
		return;
	used = strlen(err);
	if (used && used + 2 < len) {
		memcpy(err + used, "; ", 3);
		used += 2;
	}
	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(err + used, len - used, fmt, ap);
	va_end(ap);
}

static tern_time clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (tern_time)ts.tv_sec * TERN_SEC + (tern_time)ts.tv_nsec / 1000;
}

static unsigned pow2_at_least(unsigned v)
{
	unsigned p = 1;

	while (p < v && p < (1u << 15))
		p <<= 1;
	return p;
}

static bool same_peer(const struct tern_addr *a, const struct tern_addr *b)
{
	size_t n = a->family == 4 ? 4 : 16;

	return a->family == b->family && a->port == b->port && !memcmp(a->ip, b->ip, n);
}

/* ---- addresses -------------------------------------------------------- */

int tern_sockaddr_from_addr(struct sockaddr_storage *ss, int sock_family, const struct tern_addr *a)
{
	memset(ss, 0, sizeof(*ss));
	if (sock_family == AF_INET && a->family == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(a->port);
		memcpy(&s4->sin_addr, a->ip, 4);
		return (int)sizeof(*s4);
	}
	if (sock_family == AF_INET6 && (a->family == 4 || a->family == 6)) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->port);
		if (a->family == 6) {
			memcpy(&s6->sin6_addr, a->ip, 16);
		} else {
			s6->sin6_addr.s6_addr[10] = 0xff;
			s6->sin6_addr.s6_addr[11] = 0xff;
			memcpy(&s6->sin6_addr.s6_addr[12], a->ip, 4);
		}
		return (int)sizeof(*s6);
	}
	return TERN_EINVAL;
}

int tern_addr_from_sockaddr(struct tern_addr *a, const struct sockaddr *sa, socklen_t len)
{
	memset(a, 0, sizeof(*a));
	if (len >= sizeof(struct sockaddr_in) && sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		a->family = 4;
		a->port = ntohs(s4->sin_port);
		memcpy(a->ip, &s4->sin_addr, 4);
		return 0;
	}
	if (len >= sizeof(struct sockaddr_in6) && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		a->port = ntohs(s6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			a->family = 4;
			memcpy(a->ip, &s6->sin6_addr.s6_addr[12], 4);
		} else {
			a->family = 6;
			memcpy(a->ip, &s6->sin6_addr, 16);
		}
		return 0;
	}
	return TERN_EINVAL;
}

/* ---- RX buffers ------------------------------------------------------- */

/* Publishes the buffers freed since the last flush to the kernel. */
static void rx_flush(struct tern_uring *u)
{
	if (!u->rx_pending)
		return;
	io_uring_buf_ring_advance(u->br, (int)u->rx_pending);
	u->rx_kernel += u->rx_pending;
	u->rx_pending = 0;
}

static void rx_recycle(struct tern_uring *u, struct rx_slot *s)
{
	s->refs = 0;
	if (u->direct) {
		u->free_slots[u->nfree++] = s->bid;
		return;
	}
	io_uring_buf_ring_add(u->br, s->base, u->rx_buf_size, s->bid,
	                      io_uring_buf_ring_mask(u->rx_bufs), (int)u->rx_pending);
	u->rx_pending++;
	if (u->rx_pending >= FREE_BATCH)
		rx_flush(u);
}

static int rx_arm(struct tern_uring *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe)
		return TERN_EAGAIN;
	io_uring_prep_recvmsg_multishot(sqe, u->fd, &u->rx_msg, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = RX_BGID;
	io_uring_sqe_set_data64(sqe, RX_UDATA);
	u->rx_armed = true;
	io_uring_submit(&u->ring);
	return 0;
}

/* Re-arms the multishot recvmsg after it ended, once the kernel has buffers. */
static void rx_maybe_rearm(struct tern_uring *u)
{
	if (u->direct)
		return;
	rx_flush(u);
	if (u->rx_armed || !u->rx_kernel)
		return;
	if (rx_arm(u) == 0)
		STAT_ADD(u->st.rx_rearms, 1);
}

/* Finds the UDP_GRO segment size in the control area [p, end); 0 if none. */
static uint32_t gro_size(const uint8_t *p, const uint8_t *end)
{
	while ((size_t)(end - p) >= sizeof(struct cmsghdr)) {
		struct cmsghdr c;
		int v;

		memcpy(&c, p, sizeof(c));
		if (c.cmsg_len < sizeof(c) || c.cmsg_len > (size_t)(end - p))
			return 0;
		if (c.cmsg_level == SOL_UDP && c.cmsg_type == UDP_GRO &&
		    c.cmsg_len >= CMSG_LEN(sizeof(int))) {
			memcpy(&v, p + CMSG_LEN(0), sizeof(v));
			return v > 0 ? (uint32_t)v : 0;
		}
		if (CMSG_ALIGN(c.cmsg_len) >= (size_t)(end - p))
			return 0;
		p += CMSG_ALIGN(c.cmsg_len);
	}
	return 0;
}

/* Parses a filled buffer into an rxq item; recycles it if it is unusable. */
static void rx_parse(struct tern_uring *u, struct rx_slot *s, int res, tern_time now)
{
	struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(s->base, res, &u->rx_msg);
	struct rx_item *it;
	uint8_t *ctrl;
	uint32_t len;

	if (!o || o->namelen > RX_NAME_LEN || o->controllen > RX_CTRL_LEN) {
		STAT_ADD(u->st.rx_malformed, 1);
		return rx_recycle(u, s);
	}
	if (o->flags & MSG_TRUNC) {
		STAT_ADD(u->st.rx_truncated, 1);
		return rx_recycle(u, s);
	}
	if (u->rxq_len == u->rx_bufs) { /* cannot happen: one item per buffer */
		STAT_ADD(u->st.rx_errors, 1);
		return rx_recycle(u, s);
	}
	it = &u->rxq[(u->rxq_head + u->rxq_len) & (u->rx_bufs - 1)];
	if (tern_addr_from_sockaddr(&it->peer, io_uring_recvmsg_name(o), o->namelen) < 0) {
		STAT_ADD(u->st.rx_malformed, 1);
		return rx_recycle(u, s);
	}
	ctrl = (uint8_t *)io_uring_recvmsg_name(o) + u->rx_msg.msg_namelen;
	len = io_uring_recvmsg_payload_length(o, res, &u->rx_msg);
	it->slot = s;
	it->next = io_uring_recvmsg_payload(o, &u->rx_msg);
	it->left = len;
	it->seg = gro_size(ctrl, ctrl + o->controllen);
	if (!it->seg || it->seg > len)
		it->seg = len;
	it->time = now;
	s->refs = len ? (len + it->seg - 1) / it->seg : 1;
	if (s->refs > 1) {
		STAT_ADD(u->st.rx_gro_merges, 1);
		STAT_ADD(u->st.rx_gro_segments, s->refs);
	}
	u->rxq_len++;
}

static void rx_complete(struct tern_uring *u, const struct io_uring_cqe *cqe, tern_time now)
{
	struct rx_slot *s = NULL;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		u->rx_armed = false;
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		if (bid >= u->rx_bufs) {
			STAT_ADD(u->st.rx_malformed, 1);
			return;
		}
		s = &u->slots[bid];
		u->rx_kernel--;
	}
	if (cqe->res < 0) {
		if (cqe->res == -ENOBUFS)
			STAT_ADD(u->st.rx_enobufs, 1);
		else if (cqe->res != -ECANCELED)
			STAT_ADD(u->st.rx_errors, 1);
		if (s)
			rx_recycle(u, s);
		return;
	}
	if (s)
		rx_parse(u, s, cqe->res, now);
}

/* ---- TX completions and the reaper ------------------------------------ */

static void tx_count_error(struct tern_uring *u, int res, const struct tx_op *op)
{
	uint64_t n = op->n;

	switch (-res) {
	case ENOBUFS:
	case ENOMEM:
		STAT_ADD(u->st.tx_err_nobufs, n);
		break;
	case EAGAIN:
		STAT_ADD(u->st.tx_err_again, n);
		break;
	case ENETUNREACH:
	case EHOSTUNREACH:
	case ECONNREFUSED:
	case EADDRNOTAVAIL:
		STAT_ADD(u->st.tx_err_unreach, n);
		break;
	case EMSGSIZE:
		STAT_ADD(u->st.tx_err_msgsize, n);
		break;
	case EIO:
	case EINVAL:
		if (op->n > 1) {
			STAT_ADD(u->st.tx_err_gso, n);
			u->gso = false; /* the device cannot segment: send singly */
			break;
		}
		/* fall through */
	default:
		STAT_ADD(u->st.tx_err_other, n);
	}
}

/* An operation that was never sent goes back to the free list; its
 * packets stay the caller's. */
static void op_return(struct tern_uring *u, struct tx_op *op)
{
	op->n = 0;
	op->next_free = u->free_ops;
	u->free_ops = op;
	u->ops_inflight--;
}

static void tx_complete(struct tern_uring *u, struct tx_op *op, int res)
{
	unsigned i;

	if (res >= 0) {
		STAT_ADD(u->st.tx_packets, op->n);
		STAT_ADD(u->st.tx_bytes, op->bytes);
		STAT_ADD(u->st.tx_sendmsgs, 1);
		if (op->n > 1) {
			STAT_ADD(u->st.tx_gso_trains, 1);
			STAT_ADD(u->st.tx_gso_segments, op->n);
		}
	} else {
		tx_count_error(u, res, op);
	}
	for (i = 0; i < op->n; i++)
		tern_pool_put(&u->txpool, op->bufs[i]);
	op->n = 0;
	op->next_free = u->free_ops;
	u->free_ops = op;
	u->ops_inflight--;
}

/* Handles every CQE available now, without a syscall. */
/* Arms (or re-arms) the multishot poll on the wake-up eventfd. */
static int wake_arm(struct tern_uring *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe)
		return TERN_EAGAIN;
	io_uring_prep_poll_multishot(sqe, u->wake_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, WAKE_UDATA);
	return 0;
}

/* Another thread woke us: reset the counter so the poll fires again. */
static void wake_complete(struct tern_uring *u, const struct io_uring_cqe *cqe)
{
	uint64_t v;

	if (read(u->wake_fd, &v, sizeof(v)) < 0)
		STAT_ADD(u->st.wake_errors, 1);
	if (!(cqe->flags & IORING_CQE_F_MORE))
		wake_arm(u);
}

int tern_uring_watch_wakeup(struct tern_uring *u, int efd)
{
	if (efd < 0)
		return TERN_EINVAL;
	u->wake_fd = efd;
	return u->started && !u->direct ? wake_arm(u) : 0; /* else armed by uring_start */
}

static void reap(struct tern_uring *u)
{
	struct io_uring_cqe *cqes[REAP_BATCH];
	tern_time now = 0;
	unsigned n, i;

	do {
		n = io_uring_peek_batch_cqe(&u->ring, cqes, REAP_BATCH);
		if (n && !now)
			now = clock_us();
		for (i = 0; i < n; i++) {
			uint64_t ud = io_uring_cqe_get_data64(cqes[i]);
			if (ud == RX_UDATA)
				rx_complete(u, cqes[i], now);
			else if (ud == WAKE_UDATA)
				wake_complete(u, cqes[i]);
			else if (ud != CANCEL_UDATA && ud != LIBURING_UDATA_TIMEOUT && ud)
				tx_complete(u, (struct tx_op *)(uintptr_t)ud, cqes[i]->res);
		}
		io_uring_cq_advance(&u->ring, n);
	} while (n == REAP_BATCH);
}

/* ---- the owner thread ------------------------------------------------- */

/* Arms the multishot recvmsg; a kernel without it fails the first CQE. */
static int start_rx(struct tern_uring *u, char *err, size_t errlen)
{
	struct io_uring_cqe *cqe;

	if (rx_arm(u) < 0) {
		msg_set(err, errlen, "io_uring: no SQE for recvmsg");
		return TERN_ESTATE;
	}
	if (io_uring_peek_cqe(&u->ring, &cqe) == 0 && cqe->user_data == RX_UDATA &&
	    (cqe->res == -EINVAL || cqe->res == -EOPNOTSUPP)) {
		msg_set(err, errlen, "multishot recvmsg unavailable (%s); no fallback",
		        strerror(-cqe->res));
		return TERN_ESTATE;
	}
	return 0;
}

/* On the first call from the thread that drives the ring: a deferred ring
 * is enabled (that thread becomes its only submitter) and RX and the wake-up
 * poll are armed. Idempotent. */
static int uring_start(struct tern_uring *u)
{
	if (u->started)
		return 0;
	if (u->defer && syscall(__NR_io_uring_register, u->ring.ring_fd,
	                        IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
		return TERN_ESTATE;
	u->started = true;
	u->owner = pthread_self();
	if (u->defer && !u->direct && start_rx(u, NULL, 0) < 0)
		return TERN_ESTATE;
	if (u->wake_fd >= 0 && !u->direct && wake_arm(u) == 0)
		io_uring_submit(&u->ring);
	return 0;
}

int tern_uring_thread_start(void *be)
{
	return uring_start(be);
}

#define DIRECT_BATCH 16

/* Direct RX: one recvmmsg into free slots, each laid out as the multishot
 * recvmsg lays its buffers out (header, name, control, payload), so the
 * same parser takes them. */
static void direct_recv(struct tern_uring *u, tern_time now)
{
	struct mmsghdr mm[DIRECT_BATCH];
	struct iovec iov[DIRECT_BATCH];
	struct rx_slot *sl[DIRECT_BATCH];
	unsigned k = 0;
	int n;

	memset(mm, 0, sizeof(mm));
	for (; k < DIRECT_BATCH && u->nfree && u->rxq_len + k < u->rx_bufs; k++) {
		sl[k] = &u->slots[u->free_slots[--u->nfree]];
		iov[k] = (struct iovec){.iov_base = sl[k]->base + RX_HDR_LEN,
		                        .iov_len = u->rx_buf_size - RX_HDR_LEN};
		mm[k].msg_hdr = (struct msghdr){
		        .msg_name = sl[k]->base + sizeof(struct io_uring_recvmsg_out),
		        .msg_namelen = RX_NAME_LEN,
		        .msg_iov = &iov[k],
		        .msg_iovlen = 1,
		        .msg_control =
		                sl[k]->base + sizeof(struct io_uring_recvmsg_out) + RX_NAME_LEN,
		        .msg_controllen = RX_CTRL_LEN};
	}
	n = k ? recvmmsg(u->fd, mm, k, MSG_DONTWAIT, NULL) : 0;
	for (unsigned i = 0; i < k; i++) {
		struct io_uring_recvmsg_out o = {0};
		if ((int)i >= n) {
			u->free_slots[u->nfree++] = sl[i]->bid;
			continue;
		}
		o.namelen = mm[i].msg_hdr.msg_namelen;
		o.controllen = (unsigned)mm[i].msg_hdr.msg_controllen;
		o.payloadlen = mm[i].msg_len;
		o.flags = (unsigned)mm[i].msg_hdr.msg_flags;
		memcpy(sl[i]->base, &o, sizeof(o));
		rx_parse(u, sl[i], (int)(RX_HDR_LEN + mm[i].msg_len), now);
	}
}

/* ---- backend ops ------------------------------------------------------- */

static int uring_rx_burst(void *be, struct tern_pkt *pkts, unsigned n)
{
	struct tern_uring *u = be;
	unsigned got = 0;

	if (!u->started && uring_start(u) < 0)
		return TERN_ESTATE;
	if (u->defer && (!u->direct || u->ops_inflight))
		io_uring_get_events(&u->ring); /* runs the deferred completions: one syscall */
	reap(u);
	rx_maybe_rearm(u);
	if (u->direct && !u->rxq_len)
		direct_recv(u, clock_us());
	while (got < n && u->rxq_len) {
		struct rx_item *it = &u->rxq[u->rxq_head];
		struct tern_pkt *p = &pkts[got++];
		uint32_t len = TERN_MIN(it->seg, it->left);

		p->data = it->next;
		p->len = (uint16_t)len;
		p->peer = it->peer;
		p->rx_time = it->time;
		p->owner = it->slot;
		it->next += len;
		it->left -= len;
		STAT_ADD(u->st.rx_packets, 1);
		STAT_ADD(u->st.rx_bytes, len);
		if (!it->left) {
			u->rxq_head = (u->rxq_head + 1) & (u->rx_bufs - 1);
			u->rxq_len--;
		}
	}
	return (int)got;
}

static int uring_buf_alloc(void *be, struct tern_pkt *pkt)
{
	struct tern_uring *u = be;
	void *b = tern_pool_get(&u->txpool);

	if (!b) {
		STAT_ADD(u->st.tx_alloc_fail, 1);
		return TERN_ENOMEM;
	}
	pkt->data = b;
	pkt->owner = b;
	return 0;
}

static void uring_buf_free(void *be, struct tern_pkt *pkt)
{
	struct tern_uring *u = be;
	struct rx_slot *s = pkt->owner;

	if (s >= u->slots && s < u->slots + u->rx_bufs) {
		if (s->refs && --s->refs == 0)
			rx_recycle(u, s);
		return;
	}
	tern_pool_put(&u->txpool, pkt->owner);
}

static tern_time uring_now(void *be)
{
	(void)be;
	return clock_us();
}

/* How many packets from pkts[0] go in one sendmsg: a run to the same peer
 * with the same length (the last may be shorter), within the GSO limits. */
static unsigned train_len(const struct tern_uring *u, const struct tern_pkt *pkts, unsigned n)
{
	uint32_t seg = pkts[0].len, total = seg;
	unsigned k = 1;

	if (!u->gso || !seg)
		return 1;
	while (k < n && k < TERN_URING_GSO_MAX_SEGS && pkts[k].len && pkts[k].len <= seg &&
	       total + pkts[k].len <= TERN_URING_GSO_MAX_BYTES &&
	       same_peer(&pkts[k].peer, &pkts[0].peer)) {
		total += pkts[k].len;
		if (pkts[k++].len < seg)
			break;
	}
	return k;
}

/* Fills op for pkts[0..k); returns 0 or TERN_EINVAL (unusable destination). */
static int tx_build(struct tern_uring *u, struct tx_op *op, const struct tern_pkt *pkts, unsigned k)
{
	int namelen = tern_sockaddr_from_addr(&op->name, u->family, &pkts[0].peer);
	unsigned i;

	if (namelen < 0)
		return TERN_EINVAL;
	memset(&op->msg, 0, sizeof(op->msg));
	op->msg.msg_name = &op->name;
	op->msg.msg_namelen = (socklen_t)namelen;
	op->msg.msg_iov = op->iov;
	op->msg.msg_iovlen = k;
	op->bytes = 0;
	for (i = 0; i < k; i++) {
		op->iov[i].iov_base = pkts[i].data;
		op->iov[i].iov_len = pkts[i].len;
		op->bufs[i] = pkts[i].owner;
		op->bytes += pkts[i].len;
	}
	op->n = k;
	if (k > 1) {
		struct cmsghdr *c = (struct cmsghdr *)(void *)op->ctrl.buf;
		uint16_t seg = pkts[0].len;
		op->msg.msg_control = op->ctrl.buf;
		op->msg.msg_controllen = sizeof(op->ctrl.buf);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(seg));
		memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	}
	return 0;
}

/* Direct mode's TX: the burst's trains in one sendmmsg, synchronously (a
 * busy-polling worker then has no completion to reap, and the datagram is
 * on its way when the call returns). Returns how many packets, from the
 * first, it took (sent, or dropped and counted); the rest stay the caller's. */
static unsigned direct_send(struct tern_uring *u, struct tern_pkt *pkts, unsigned n)
{
	struct mmsghdr mm[DIRECT_BATCH];
	struct tx_op *ops[DIRECT_BATCH];
	unsigned i = 0, k = 0, taken = 0;
	int sent, err;
	bool hard;

	while (i < n && k < DIRECT_BATCH && u->free_ops) {
		struct tx_op *op = u->free_ops;
		unsigned len = train_len(u, &pkts[i], n - i);
		if (tx_build(u, op, &pkts[i], len) < 0)
			break; /* sent (or not) below; the bad one heads the next call */
		u->free_ops = op->next_free;
		u->ops_inflight++;
		ops[k] = op;
		mm[k++] = (struct mmsghdr){.msg_hdr = op->msg};
		i += len;
	}
	sent = k ? sendmmsg(u->fd, mm, k, MSG_DONTWAIT) : 0;
	err = sent < 0 ? errno : 0;
	/* a first message that failed for good is dropped and counted */
	hard = sent < 0 && err != EAGAIN && err != EWOULDBLOCK;
	for (unsigned j = 0; j < k; j++) {
		if ((int)j < sent || (hard && j == 0)) {
			taken += ops[j]->n;
			tx_complete(u, ops[j], (int)j < sent ? (int)mm[j].msg_len : -err);
		} else {
			op_return(u, ops[j]); /* not sent: the caller keeps its packets */
		}
	}
	if (!k && i < n && u->free_ops) { /* an unusable destination at the head */
		STAT_ADD(u->st.tx_bad_addr, 1);
		tern_pool_put(&u->txpool, pkts[0].owner);
		taken = 1;
	}
	return taken;
}

static int uring_tx_burst(void *be, struct tern_pkt *pkts, unsigned n)
{
	struct tern_uring *u = be;
	unsigned i = 0, queued = 0;

	if (!u->started && uring_start(u) < 0)
		return TERN_ESTATE;
	if (u->direct)
		return (int)direct_send(u, pkts, n);
	reap(u);
	while (i < n && u->free_ops) {
		struct tx_op *op = u->free_ops;
		unsigned k = train_len(u, &pkts[i], n - i);
		struct io_uring_sqe *sqe;

		if (tx_build(u, op, &pkts[i], k) < 0) {
			STAT_ADD(u->st.tx_bad_addr, 1);
			op->n = 0;
			tern_pool_put(&u->txpool, pkts[i++].owner);
			continue;
		}
		sqe = io_uring_get_sqe(&u->ring);
		if (!sqe) {
			op->n = 0;
			break;
		}
		u->free_ops = op->next_free;
		u->ops_inflight++;
		io_uring_prep_sendmsg(sqe, u->fd, &op->msg, 0);
		io_uring_sqe_set_data(sqe, op);
		i += k;
		queued++;
	}
	if (queued) {
		io_uring_submit(&u->ring);
		STAT_ADD(u->st.tx_submits, 1);
	}
	STAT_ADD(u->st.tx_refused, n - i);
	return (int)i;
}

static int uring_wait(void *be, tern_time timeout_us)
{
	return tern_uring_wait(be, timeout_us);
}

const struct tern_backend_ops tern_uring_backend_ops = {
        .rx_burst = uring_rx_burst,
        .tx_burst = uring_tx_burst,
        .buf_alloc = uring_buf_alloc,
        .buf_free = uring_buf_free,
        .now = uring_now,
        .wait = uring_wait,
        .thread_start = tern_uring_thread_start,
        .thread_stop = tern_uring_thread_stop,
};

/* ---- waiting, stats ---------------------------------------------------- */

/* Direct RX sleeps on the socket and the wake-up eventfd. */
static int direct_wait(struct tern_uring *u, tern_time timeout_us)
{
	struct pollfd pfd[2] = {{.fd = u->fd, .events = POLLIN},
	                        {.fd = u->wake_fd, .events = POLLIN}};
	struct timespec ts = {.tv_sec = (time_t)(timeout_us / TERN_SEC),
	                      .tv_nsec = (long)(timeout_us % TERN_SEC) * 1000};
	uint64_t v;
	int r = ppoll(pfd, u->wake_fd >= 0 ? 2 : 1, &ts, NULL);

	if (r > 0 && (pfd[1].revents & POLLIN) && read(u->wake_fd, &v, sizeof(v)) < 0)
		STAT_ADD(u->st.wake_errors, 1);
	return r > 0;
}

int tern_uring_wait(struct tern_uring *u, tern_time timeout_us)
{
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	int r;

	if (!u->started && uring_start(u) < 0)
		return TERN_ESTATE;
	rx_maybe_rearm(u);
	if (u->rxq_len || io_uring_cq_ready(&u->ring))
		return 1;
	if (u->direct)
		return direct_wait(u, timeout_us);
	ts.tv_sec = (long long)(timeout_us / TERN_SEC);
	ts.tv_nsec = (long long)(timeout_us % TERN_SEC) * 1000;
	r = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
	if (r == -ETIME)
		return 0;
	if (r == -EINTR)
		return TERN_EAGAIN;
	return r < 0 ? TERN_EAGAIN : 1;
}

const struct tern_uring_stats *tern_uring_stats(const struct tern_uring *u)
{
	return &u->st;
}

#define STAT(f)                                                                                    \
	{                                                                                          \
#f, offsetof(struct tern_uring_stats, f)                                           \
	}
static const struct {
	const char *name;
	size_t off;
} stat_names[] = {
        STAT(rx_packets),     STAT(rx_bytes),        STAT(rx_gro_merges),  STAT(rx_gro_segments),
        STAT(rx_enobufs),     STAT(rx_truncated),    STAT(rx_malformed),   STAT(rx_errors),
        STAT(rx_rearms),      STAT(tx_packets),      STAT(tx_bytes),       STAT(tx_sendmsgs),
        STAT(tx_gso_trains),  STAT(tx_gso_segments), STAT(tx_submits),     STAT(tx_refused),
        STAT(tx_alloc_fail),  STAT(tx_bad_addr),     STAT(tx_err_nobufs),  STAT(tx_err_again),
        STAT(tx_err_unreach), STAT(wake_errors),     STAT(tx_err_msgsize), STAT(tx_err_gso),
        STAT(tx_err_other),
};

size_t tern_uring_stats_text(const struct tern_uring *u, const char *prefix, char *buf, size_t len)
{
	size_t used = 0;

	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < TERN_ARRAY_LEN(stat_names) && used + 1 < len; i++) {
		const uint64_t *v = (const uint64_t *)((const uint8_t *)&u->st + stat_names[i].off);
		/* relaxed: the owner thread updates these as it runs (STAT_ADD) */
		int n = snprintf(buf + used, len - used, "%s%s %llu\n", prefix, stat_names[i].name,
		                 (unsigned long long)__atomic_load_n(v, __ATOMIC_RELAXED));
		used = n > 0 ? TERN_MIN(used + (size_t)n, len - 1) : used;
	}
	return used;
}

bool tern_uring_gso(const struct tern_uring *u)
{
	return u->gso;
}

bool tern_uring_gro(const struct tern_uring *u)
{
	return u->gro;
}

/* ---- open / close ------------------------------------------------------ */

void tern_uring_cfg_default(struct tern_uring_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->addr.family = 4;
	cfg->addr.ip[0] = 127;
	cfg->addr.ip[3] = 1;
	cfg->gso = true;
	cfg->gro = true;
}

/* Sets a socket buffer size, forcing past the sysctl cap when privileged. */
static void set_sockbuf(int fd, int force_opt, int opt, int bytes, const char *name, char *err,
                        size_t errlen)
{
	int got = 0;
	socklen_t gl = sizeof(got);

	if (bytes <= 0)
		return;
	if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof(bytes)) < 0)
		setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes));
	if (getsockopt(fd, SOL_SOCKET, opt, &got, &gl) == 0 && got / 2 < bytes)
		note_add(err, errlen, "%s capped at %d bytes (asked %d): raise net.core.%s", name,
		         got / 2, bytes, opt == SO_RCVBUF ? "rmem_max" : "wmem_max");
}

/* Turns GRO on and checks GSO; a missing one is a note and a fallback. */
static void socket_offloads(struct tern_uring *u, const struct tern_uring_cfg *cfg, char *err,
                            size_t errlen)
{
	int one = 1, v = 0;
	socklen_t vl = sizeof(v);

	u->gro = cfg->gro;
	if (u->gro && setsockopt(u->fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) < 0) {
		note_add(err, errlen,
		         "UDP GRO unavailable (setsockopt UDP_GRO: %s): receiving one datagram per "
		         "buffer",
		         strerror(errno));
		u->gro = false;
	}
	u->gso = cfg->gso;
	if (u->gso && getsockopt(u->fd, SOL_UDP, UDP_SEGMENT, &v, &vl) < 0) {
		note_add(err, errlen,
		         "UDP GSO unavailable (getsockopt UDP_SEGMENT: %s): one sendmsg per packet",
		         strerror(errno));
		u->gso = false;
	}
}

static int open_socket(struct tern_uring *u, const struct tern_uring_cfg *cfg, uint16_t *port,
                       char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, v6only = cfg->v6only, len;
	char ip[INET6_ADDRSTRLEN] = "?";

	u->family = cfg->addr.family == 6 ? AF_INET6 : AF_INET;
	u->fd = socket(u->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (u->fd < 0) {
		msg_set(err, errlen, "socket: %s", strerror(errno));
		return errno == ENOMEM || errno == ENOBUFS ? TERN_ENOMEM : TERN_ESTATE;
	}
	if (u->family == AF_INET6)
		setsockopt(u->fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
	if (cfg->reuseport && setsockopt(u->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
		msg_set(err, errlen, "setsockopt SO_REUSEPORT: %s", strerror(errno));
		return TERN_EINVAL;
	}
	set_sockbuf(u->fd, SO_SNDBUFFORCE, SO_SNDBUF, cfg->sndbuf, "SO_SNDBUF", err, errlen);
	set_sockbuf(u->fd, SO_RCVBUFFORCE, SO_RCVBUF, cfg->rcvbuf, "SO_RCVBUF", err, errlen);
	socket_offloads(u, cfg, err, errlen);
	len = tern_sockaddr_from_addr(&ss, u->family, &cfg->addr);
	inet_ntop(u->family,
	          u->family == AF_INET ? (void *)&((struct sockaddr_in *)&ss)->sin_addr
	                               : (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr,
	          ip, sizeof(ip));
	if (len < 0 || bind(u->fd, (struct sockaddr *)&ss, (socklen_t)len) < 0) {
		msg_set(err, errlen, "bind %s port %u: %s", ip, cfg->addr.port,
		        len < 0 ? "bad address" : strerror(errno));
		return TERN_EINVAL;
	}
	sl = sizeof(ss);
	if (getsockname(u->fd, (struct sockaddr *)&ss, &sl) == 0 && port) {
		struct tern_addr bound;
		*port = tern_addr_from_sockaddr(&bound, (struct sockaddr *)&ss, sl) ? 0
		                                                                    : bound.port;
	}
	return 0;
}

static int open_ring(struct tern_uring *u, const struct tern_uring_cfg *cfg, unsigned depth,
                     char *err, size_t errlen)
{
	struct io_uring_params p;
	struct io_uring_probe *probe;
	int r;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = pow2_at_least(2 * (u->rx_bufs + depth));
	if (cfg->sqpoll) {
		p.flags |= IORING_SETUP_SQPOLL;
		p.sq_thread_idle = cfg->sqpoll_idle_ms ? cfg->sqpoll_idle_ms : 1000;
	} else if (!cfg->no_defer) {
		p.flags |= DEFER_FLAGS;
		r = io_uring_queue_init_params(depth, &u->ring, &p);
		if (r == 0) {
			u->defer = true;
			goto opened;
		}
		p.flags &= ~DEFER_FLAGS; /* before Linux 6.1: completions by task work */
	}
	r = io_uring_queue_init_params(depth, &u->ring, &p);
	if (r < 0 && cfg->sqpoll) {
		note_add(err, errlen,
		         "SQPOLL unavailable (io_uring_setup: %s): submitting with "
		         "io_uring_enter",
		         strerror(-r));
		p.flags &= ~IORING_SETUP_SQPOLL;
		r = io_uring_queue_init_params(depth, &u->ring, &p);
	}
	if (r < 0) {
		msg_set(err, errlen, "io_uring unavailable (io_uring_queue_init: %s)",
		        strerror(-r));
		return r == -ENOMEM ? TERN_ENOMEM : TERN_ESTATE;
	}
opened:
	u->ring_ok = true;
	probe = io_uring_get_probe_ring(&u->ring);
	r = probe && io_uring_opcode_supported(probe, IORING_OP_SENDMSG) &&
	    io_uring_opcode_supported(probe, IORING_OP_RECVMSG);
	io_uring_free_probe(probe);
	if (!r) {
		msg_set(err, errlen, "io_uring lacks IORING_OP_SENDMSG/RECVMSG (kernel too old)");
		return TERN_ESTATE;
	}
	return 0;
}

/* Registers the provided-buffer ring by hand (liburing 2.3 has no
 * io_uring_setup_buf_ring) and hands every buffer to the kernel. */
static int setup_buf_ring(struct tern_uring *u, char *err, size_t errlen)
{
	struct io_uring_buf_reg reg;
	unsigned i;
	int r;

	if (u->direct) { /* the slots stay ours: a stack of free ones */
		for (i = 0; i < u->rx_bufs; i++) {
			u->slots[i].base = u->rx_mem + (size_t)i * u->rx_buf_size;
			u->slots[i].bid = (uint16_t)i;
			rx_recycle(u, &u->slots[i]);
		}
		return 0;
	}
	u->br_size = u->rx_bufs * sizeof(struct io_uring_buf);
	u->br = mmap(NULL, u->br_size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (u->br == MAP_FAILED) {
		u->br = NULL;
		msg_set(err, errlen, "mmap buffer ring: %s", strerror(errno));
		return TERN_ENOMEM;
	}
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)u->br;
	reg.ring_entries = u->rx_bufs;
	reg.bgid = RX_BGID;
	r = io_uring_register_buf_ring(&u->ring, &reg, 0);
	if (r < 0) {
		munmap(u->br, u->br_size);
		u->br = NULL;
		msg_set(err, errlen,
		        "provided buffer rings unavailable (io_uring_register_buf_ring: %s); "
		        "no fallback",
		        strerror(-r));
		return TERN_ESTATE;
	}
	io_uring_buf_ring_init(u->br);
	for (i = 0; i < u->rx_bufs; i++) {
		u->slots[i].base = u->rx_mem + (size_t)i * u->rx_buf_size;
		u->slots[i].bid = (uint16_t)i;
		rx_recycle(u, &u->slots[i]);
	}
	rx_flush(u);
	return 0;
}

static int alloc_buffers(struct tern_uring *u, unsigned depth, unsigned tx_bufs)
{
	unsigned i;

	u->rx_mem = malloc((size_t)u->rx_bufs * u->rx_buf_size);
	u->slots = calloc(u->rx_bufs, sizeof(*u->slots));
	u->free_slots = calloc(u->rx_bufs, sizeof(*u->free_slots));
	u->rxq = calloc(u->rx_bufs, sizeof(*u->rxq));
	u->nops = depth;
	u->ops = calloc(depth, sizeof(*u->ops));
	if (!u->rx_mem || !u->slots || !u->rxq || !u->ops || !u->free_slots)
		return TERN_ENOMEM;
	for (i = 0; i < depth; i++) {
		u->ops[i].next_free = u->free_ops;
		u->free_ops = &u->ops[i];
	}
	return tern_pool_init(&u->txpool, TERN_MAX_PACKET, TERN_MIN(tx_bufs, 256u), tx_bufs);
}

/* The layout every multishot buffer follows; a ring that is not deferred
 * arms RX now (a deferred one when its owner thread starts it). */
static int prepare_rx(struct tern_uring *u, char *err, size_t errlen)
{
	memset(&u->rx_msg, 0, sizeof(u->rx_msg));
	u->rx_msg.msg_name = &u->rx_name_tmpl;
	u->rx_msg.msg_namelen = RX_NAME_LEN;
	u->rx_msg.msg_control = u->rx_ctrl_tmpl;
	u->rx_msg.msg_controllen = RX_CTRL_LEN;
	return u->defer || u->direct ? 0 : start_rx(u, err, errlen);
}

static int check_cfg(const struct tern_uring_cfg *cfg, struct tern_uring *u, char *err,
                     size_t errlen)
{
	unsigned min_size = RX_HDR_LEN + (cfg->gro ? TERN_URING_GSO_MAX_BYTES : TERN_MAX_PACKET);

	if (cfg->addr.family != 4 && cfg->addr.family != 6) {
		msg_set(err, errlen, "bind address family %u: want 4 or 6", cfg->addr.family);
		return TERN_EINVAL;
	}
	u->rx_bufs = pow2_at_least(cfg->rx_bufs ? cfg->rx_bufs : cfg->gro ? 64 : 512);
	u->rx_buf_size = cfg->rx_buf_size ? cfg->rx_buf_size : cfg->gro ? 65536 + RX_HDR_LEN : 2048;
	if (u->rx_buf_size < min_size || u->rx_buf_size > (1u << 20)) {
		msg_set(err, errlen, "rx_buf_size %u: want %u..%u%s", u->rx_buf_size, min_size,
		        1u << 20, cfg->gro ? " with GRO (a merged train fills 64 KiB)" : "");
		return TERN_EINVAL;
	}
	return 0;
}

int tern_uring_open(const struct tern_uring_cfg *cfg, struct tern_uring **out, uint16_t *port,
                    char *err, size_t errlen)
{
	unsigned depth = cfg->ring_depth ? cfg->ring_depth : 256;
	struct tern_uring *u = calloc(1, sizeof(*u));
	int r;

	msg_set(err, errlen, "%s", "");
	*out = NULL;
	if (!u)
		return TERN_ENOMEM;
	u->fd = -1;
	u->wake_fd = -1;
	u->direct = cfg->direct_rx;
	if ((r = check_cfg(cfg, u, err, errlen)) < 0)
		goto fail;
	if ((r = alloc_buffers(u, depth, cfg->tx_bufs ? cfg->tx_bufs : 4096)) < 0) {
		msg_set(err, errlen, "out of memory for %u buffers", u->rx_bufs);
		goto fail;
	}
	if ((r = open_socket(u, cfg, port, err, errlen)) < 0)
		goto fail;
	if ((r = open_ring(u, cfg, depth, err, errlen)) < 0)
		goto fail;
	if ((r = setup_buf_ring(u, err, errlen)) < 0)
		goto fail;
	if ((r = prepare_rx(u, err, errlen)) < 0)
		goto fail;
	*out = u;
	return 0;
fail:
	tern_uring_close(u);
	return r;
}

/* Cancels the multishot recvmsg and waits (bounded) for every operation. */
static void drain(struct tern_uring *u)
{
	struct io_uring_sqe *sqe;
	int i;

	if (u->rx_armed && (sqe = io_uring_get_sqe(&u->ring))) {
		io_uring_prep_cancel64(sqe, RX_UDATA, 0);
		io_uring_sqe_set_data64(sqe, CANCEL_UDATA);
		io_uring_submit(&u->ring);
	}
	for (i = 0; i < 200 && (u->rx_armed || u->ops_inflight); i++) {
		struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 10000000};
		struct io_uring_cqe *cqe;
		io_uring_wait_cqe_timeout(&u->ring, &cqe, &ts);
		reap(u);
	}
}

/* On the owner thread, after its last poll: nothing may be in flight once
 * another thread frees the buffers. */
void tern_uring_thread_stop(void *be)
{
	struct tern_uring *u = be;

	if (u->ring_ok && u->started)
		drain(u);
}

/* Only the owner of a deferred ring may submit the cancellation; any other
 * thread relies on tern_uring_thread_stop having drained it. */
static bool may_drain(const struct tern_uring *u)
{
	return !u->defer || !u->started || pthread_equal(u->owner, pthread_self());
}

void tern_uring_close(struct tern_uring *u)
{
	if (!u)
		return;
	if (u->ring_ok) {
		if (may_drain(u))
			drain(u);
		if (u->br)
			io_uring_unregister_buf_ring(&u->ring, RX_BGID);
		io_uring_queue_exit(&u->ring);
	}
	if (u->br)
		munmap(u->br, u->br_size);
	if (u->fd >= 0)
		close(u->fd);
	if (u->txpool.max)
		tern_pool_destroy(&u->txpool);
	free(u->ops);
	free(u->rxq);
	free(u->slots);
	free(u->free_slots);
	free(u->rx_mem);
	free(u);
}
