/* The raw asynchronous UDP handle (include/tern/udp.h), after libuv's
 * uv_udp_t, on the io_uring loop of io/loop.c.
 *
 * Shape: public calls only validate, record state and queue; every io_uring
 * operation is put on the ring by tern_udp_prepare (once per loop iteration)
 * and finished by tern_udp_complete, so no callback ever runs inside the
 * call that started its operation and callbacks may re-enter freely.
 *  - Sends wait in one FIFO on the loop until the ring has room (at most CQ
 *    entries in flight), then go out as IORING_OP_SENDMSG from the request's
 *    own msghdr and iovec copy: no allocation per datagram.
 *  - A receiving handle keeps one IORING_OP_RECVMSG armed into the buffer its
 *    alloc_cb gave; the loop holds that buffer until recv_cb hands it back.
 *  - Close cancels everything of the handle on the ring, fails queued sends
 *    with TERN_ECLOSED, and calls close_cb once no operation can still touch
 *    the handle or its requests. Socket options live in udp_opt.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/uio.h>
#include "tern/error.h"
#include "io/uring.h"
#include "udp_int.h"

_Static_assert(sizeof(struct tern_buf) == sizeof(struct iovec) &&
                       offsetof(struct tern_buf, base) == offsetof(struct iovec, iov_base) &&
                       offsetof(struct tern_buf, len) == offsetof(struct iovec, iov_len),
               "struct tern_buf must be layout-compatible with struct iovec");

/* ---- errors ---------------------------------------------------------- */

static int map_errno(int err)
{
	switch (err) {
	case EAGAIN:
		return TERN_EAGAIN;
	case ENOMEM:
	case ENOBUFS:
		return TERN_ENOMEM;
	case EMSGSIZE:
		return TERN_ETOOBIG;
	case ECANCELED:
		return TERN_ECLOSED;
	default:
		return TERN_EINVAL;
	}
}

int tern_udp_fail(struct tern_udp *h, int code, const char *fn, const char *what)
{
	h->sys_errno = 0;
	snprintf(h->err, sizeof(h->err), "%s: %s", fn, what);
	return code;
}

int tern_udp_sys_fail(struct tern_udp *h, int err, const char *fn, const char *call)
{
	char text[96];

	h->sys_errno = err;
	snprintf(h->err, sizeof(h->err), "%s: %s(): %s", fn, call,
	         strerror_r(err, text, sizeof(text)));
	return map_errno(err);
}

int tern_udp_usable(struct tern_udp *h, const char *fn, bool need_sock)
{
	if (!h)
		return TERN_EINVAL;
	if (h->st & TERN_UDP_ST_CLOSING)
		return tern_udp_fail(h, TERN_ECLOSED, fn, "the handle is closing or closed");
	if (need_sock && h->fd < 0)
		return tern_udp_fail(h, TERN_ESTATE, fn, "no socket yet (bind or open first)");
	return TERN_OK;
}

const char *tern_udp_strerror(const struct tern_udp *h)
{
	return h ? h->err : "tern_udp_strerror: NULL handle";
}

int tern_udp_sys_errno(const struct tern_udp *h)
{
	return h ? h->sys_errno : 0;
}

/* ---- sockets --------------------------------------------------------- */

int tern_udp_init(struct tern_loop *loop, struct tern_udp *h)
{
	if (!loop || !h)
		return TERN_EINVAL;
	memset(h, 0, sizeof(*h));
	h->loop = loop;
	h->fd = -1;
	h->next = loop->handles;
	if (loop->handles)
		loop->handles->prev = h;
	loop->handles = h;
	return TERN_OK;
}

static int set_int(int fd, int level, int name, int val)
{
	return setsockopt(fd, level, name, &val, sizeof(val));
}

/* Creates, configures and binds the handle's socket. */
static int make_socket(struct tern_udp *h, const struct tern_addr *a, unsigned flags,
                       const char *fn)
{
	int family = a->family == 4 ? AF_INET : AF_INET6;
	struct sockaddr_storage ss;
	int len = tern_sockaddr_from_addr(&ss, family, a);
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return tern_udp_sys_fail(h, errno, fn, "socket");
	if (family == AF_INET6 &&
	    set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, (flags & TERN_UDP_IPV6ONLY) ? 1 : 0) < 0)
		goto fail_errno;
	if ((flags & TERN_UDP_REUSEADDR) && set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1) < 0)
		goto fail_errno;
	if (bind(fd, (struct sockaddr *)&ss, (socklen_t)len) < 0) {
		int err = errno;
		close(fd);
		return tern_udp_sys_fail(h, err, fn, "bind");
	}
	h->fd = fd;
	h->family = family;
	return TERN_OK;
fail_errno:
	len = errno;
	close(fd);
	return tern_udp_sys_fail(h, len, fn, "setsockopt");
}

static int bind_as(struct tern_udp *h, const struct tern_addr *addr, unsigned flags, const char *fn)
{
	int r = tern_udp_usable(h, fn, false);

	if (r)
		return r;
	if (!addr)
		return tern_udp_fail(h, TERN_EINVAL, fn, "NULL address");
	if (addr->family != 4 && addr->family != 6)
		return tern_udp_fail(h, TERN_EINVAL, fn, "address family is neither 4 nor 6");
	if (flags & ~(unsigned)(TERN_UDP_IPV6ONLY | TERN_UDP_REUSEADDR))
		return tern_udp_fail(h, TERN_EINVAL, fn, "unknown flag bits");
	if ((flags & TERN_UDP_IPV6ONLY) && addr->family != 6)
		return tern_udp_fail(h, TERN_EINVAL, fn, "TERN_UDP_IPV6ONLY needs an IPv6 address");
	if (h->fd >= 0)
		return tern_udp_fail(h, TERN_ESTATE, fn, "the handle already has a socket");
	return make_socket(h, addr, flags, fn);
}

int tern_udp_bind(struct tern_udp *h, const struct tern_addr *addr, unsigned flags)
{
	return bind_as(h, addr, flags, "tern_udp_bind");
}

/* libuv's deferred bind: the wildcard address of family (4 or 6), port 0. */
static int implicit_bind(struct tern_udp *h, uint8_t family, const char *fn)
{
	struct tern_addr any = {.family = family};

	return h->fd >= 0 ? TERN_OK : bind_as(h, &any, 0, fn);
}

int tern_udp_open(struct tern_udp *h, int fd)
{
	const char *fn = "tern_udp_open";
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int type = 0, fl, r = tern_udp_usable(h, fn, false);
	socklen_t tlen = sizeof(type);

	if (r)
		return r;
	if (h->fd >= 0)
		return tern_udp_fail(h, TERN_ESTATE, fn, "the handle already has a socket");
	if (fd < 0)
		return tern_udp_fail(h, TERN_EINVAL, fn, "negative fd");
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0)
		return tern_udp_sys_fail(h, errno, fn, "getsockopt(SO_TYPE)");
	if (type != SOCK_DGRAM)
		return tern_udp_fail(h, TERN_EINVAL, fn, "not a datagram socket");
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return tern_udp_sys_fail(h, errno, fn, "getsockname");
	if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
		return tern_udp_fail(h, TERN_EINVAL, fn,
		                     "socket family is neither AF_INET nor AF_INET6");
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return tern_udp_sys_fail(h, errno, fn, "fcntl(O_NONBLOCK)");
	len = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		h->st |= TERN_UDP_ST_CONNECTED;
	h->fd = fd;
	h->family = ss.ss_family;
	return TERN_OK;
}

/* ---- sending --------------------------------------------------------- */

/* Validates a send and fills msg (name in ss, the iovec copy in iov). */
static int build_msg(struct tern_udp *h, struct msghdr *msg, struct sockaddr_storage *ss,
                     struct tern_buf *iov, const struct tern_buf *bufs, unsigned nbufs,
                     const struct tern_addr *addr, const char *fn)
{
	int r = tern_udp_usable(h, fn, false), len = 0;

	if (r)
		return r;
	if (nbufs > TERN_UDP_MAX_BUFS)
		return tern_udp_fail(h, TERN_ELIMIT, fn, "more than TERN_UDP_MAX_BUFS buffers");
	if (nbufs && !bufs)
		return tern_udp_fail(h, TERN_EINVAL, fn, "NULL bufs with nbufs > 0");
	if (!addr && !(h->st & TERN_UDP_ST_CONNECTED))
		return tern_udp_fail(h, TERN_EINVAL, fn,
		                     "no address and the socket is not connected");
	if (addr && addr->family != 4 && addr->family != 6)
		return tern_udp_fail(h, TERN_EINVAL, fn, "address family is neither 4 nor 6");
	if (addr && (r = implicit_bind(h, addr->family, fn)) != 0)
		return r;
	if (addr && (len = tern_sockaddr_from_addr(ss, h->family, addr)) < 0)
		return tern_udp_fail(h, TERN_EINVAL, fn,
		                     "an IPv6 address cannot be reached from an IPv4 socket");
	if (nbufs)
		memcpy(iov, bufs, nbufs * sizeof(*bufs));
	memset(msg, 0, sizeof(*msg));
	msg->msg_name = addr ? ss : NULL;
	msg->msg_namelen = (socklen_t)len;
	msg->msg_iov = (struct iovec *)iov;
	msg->msg_iovlen = nbufs;
	return TERN_OK;
}

int tern_udp_send(struct tern_udp_send_req *req, struct tern_udp *h, const struct tern_buf bufs[],
                  unsigned nbufs, const struct tern_addr *addr, tern_udp_send_cb cb)
{
	struct tern_loop *loop;
	int r;

	if (!req || !h || !cb)
		return TERN_EINVAL;
	r = build_msg(h, &req->msg, &req->addr, req->bufs, bufs, nbufs, addr, "tern_udp_send");
	if (r)
		return r;
	loop = h->loop;
	req->handle = h;
	req->cb = cb;
	req->next = NULL;
	if (loop->sendq_tail)
		loop->sendq_tail->next = req;
	else
		loop->sendq_head = req;
	loop->sendq_tail = req;
	loop->sendq_len++;
	h->send_queue_count++;
	return TERN_OK;
}

ssize_t tern_udp_try_send(struct tern_udp *h, const struct tern_buf bufs[], unsigned nbufs,
                          const struct tern_addr *addr)
{
	const char *fn = "tern_udp_try_send";
	struct tern_buf iov[TERN_UDP_MAX_BUFS];
	struct sockaddr_storage ss;
	struct msghdr msg;
	ssize_t n;
	int r = build_msg(h, &msg, &ss, iov, bufs, nbufs, addr, fn);

	if (r)
		return r;
	if (h->send_queue_count)
		return tern_udp_fail(h, TERN_EAGAIN, fn, "queued sends are pending");
	n = sendmsg(h->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0)
		return tern_udp_sys_fail(h, errno == EWOULDBLOCK ? EAGAIN : errno, fn, "sendmsg");
	return n;
}

/* Moves queued sends onto the ring while it has room. */
static void submit_sends(struct tern_loop *loop)
{
	while (loop->sendq_head && loop->inflight < loop->max_inflight) {
		struct tern_udp_send_req *req = loop->sendq_head;
		struct io_uring_sqe *sqe = tern_loop_sqe(loop);

		if (!sqe)
			return;
		loop->sendq_head = req->next;
		if (!loop->sendq_head)
			loop->sendq_tail = NULL;
		loop->sendq_len--;
		io_uring_prep_sendmsg(sqe, req->handle->fd, &req->msg, MSG_NOSIGNAL);
		io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)req | TERN_OP_SEND);
		loop->inflight++;
		req->handle->inflight++;
	}
}

static void send_done(struct tern_loop *loop, struct tern_udp_send_req *req, int res)
{
	struct tern_udp *h = req->handle;
	int status = TERN_OK;

	loop->inflight--;
	h->inflight--;
	h->send_queue_count--;
	if (h->st & TERN_UDP_ST_CLOSING)
		status = TERN_ECLOSED;
	else if (res < 0)
		status = tern_udp_sys_fail(h, -res, "tern_udp_send", "sendmsg");
	req->cb(req, status);
}

/* ---- receiving ------------------------------------------------------- */

int tern_udp_recv_start(struct tern_udp *h, tern_udp_alloc_cb alloc_cb, tern_udp_recv_cb recv_cb)
{
	const char *fn = "tern_udp_recv_start";
	int r = tern_udp_usable(h, fn, false);

	if (r)
		return r;
	if (!alloc_cb || !recv_cb)
		return tern_udp_fail(h, TERN_EINVAL, fn, "NULL alloc_cb or recv_cb");
	if (h->st & TERN_UDP_ST_RECEIVING)
		return tern_udp_fail(h, TERN_ESTATE, fn, "already receiving");
	if ((r = implicit_bind(h, 4, fn)) != 0)
		return r;
	h->alloc_cb = alloc_cb;
	h->recv_cb = recv_cb;
	h->st |= TERN_UDP_ST_RECEIVING;
	h->loop->receiving++;
	return TERN_OK;
}

int tern_udp_recv_stop(struct tern_udp *h)
{
	int r = tern_udp_usable(h, "tern_udp_recv_stop", false);

	if (r)
		return r;
	if (h->st & TERN_UDP_ST_RECEIVING) {
		h->st &= ~TERN_UDP_ST_RECEIVING;
		h->loop->receiving--;
	}
	return TERN_OK;
}

/* Hands a held receive buffer back: nread 0, no address. */
static void give_back(struct tern_udp *h, int code)
{
	struct tern_buf buf = h->rx_buf;

	h->rx_buf.base = NULL;
	h->rx_buf.len = 0;
	h->recv_cb(h, code, &buf, NULL, 0);
}

/* Arms one recvmsg for h, or cancels the armed one after recv_stop. */
static void arm(struct tern_loop *loop, struct tern_udp *h)
{
	struct io_uring_sqe *sqe;
	unsigned want = h->st & (TERN_UDP_ST_RECEIVING | TERN_UDP_ST_ARMED | TERN_UDP_ST_CLOSING);

	if (want == TERN_UDP_ST_ARMED && !(h->st & TERN_UDP_ST_RXCANCEL)) {
		if ((sqe = tern_loop_sqe(loop)) == NULL)
			return;
		io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)h | TERN_OP_RECV, 0);
		io_uring_sqe_set_data64(sqe, 0);
		h->st |= TERN_UDP_ST_RXCANCEL;
		return;
	}
	if (want != TERN_UDP_ST_RECEIVING || loop->inflight >= loop->max_inflight)
		return;
	if ((sqe = tern_loop_sqe(loop)) == NULL)
		return;
	h->rx_buf.base = NULL;
	h->rx_buf.len = 0;
	h->alloc_cb(h, TERN_UDP_SUGGESTED_SIZE, &h->rx_buf);
	want = h->st & (TERN_UDP_ST_RECEIVING | TERN_UDP_ST_CLOSING);
	if (!h->rx_buf.base || !h->rx_buf.len || want != TERN_UDP_ST_RECEIVING) {
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data64(sqe, 0);
		if (h->rx_buf.base && h->rx_buf.len) {
			give_back(h, TERN_OK); /* stopped or closed inside alloc_cb */
			return;
		}
		tern_udp_recv_stop(h);
		tern_udp_fail(h, TERN_ENOMEM, "tern_udp_recv_start", "alloc_cb gave no buffer");
		give_back(h, TERN_ENOMEM);
		return;
	}
	memset(&h->rx_msg, 0, sizeof(h->rx_msg));
	h->rx_msg.msg_name = &h->rx_addr;
	h->rx_msg.msg_namelen = sizeof(h->rx_addr);
	h->rx_msg.msg_iov = (struct iovec *)&h->rx_buf;
	h->rx_msg.msg_iovlen = 1;
	io_uring_prep_recvmsg(sqe, h->fd, &h->rx_msg, MSG_TRUNC);
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)h | TERN_OP_RECV);
	h->st |= TERN_UDP_ST_ARMED;
	loop->inflight++;
	h->inflight++;
}

static void recv_done(struct tern_loop *loop, struct tern_udp *h, int res)
{
	struct tern_buf buf = h->rx_buf;
	struct tern_addr from;
	unsigned flags = 0;

	loop->inflight--;
	h->inflight--;
	h->st &= ~(TERN_UDP_ST_ARMED | TERN_UDP_ST_RXCANCEL);
	if ((h->st & TERN_UDP_ST_CLOSING) || !(h->st & TERN_UDP_ST_RECEIVING) || res == -ECANCELED)
		return give_back(h, TERN_OK);
	if (res < 0)
		return give_back(h, tern_udp_sys_fail(h, -res, "tern_udp_recv_start", "recvmsg"));
	if (tern_addr_from_sockaddr(&from, (struct sockaddr *)&h->rx_addr, h->rx_msg.msg_namelen))
		return give_back(h, tern_udp_fail(h, TERN_EMALFORMED, "tern_udp_recv_start",
		                                  "datagram from an unknown address family"));
	/* MSG_TRUNC makes res the datagram's real length */
	if ((size_t)res > buf.len || (h->rx_msg.msg_flags & MSG_TRUNC)) {
		flags |= TERN_UDP_PARTIAL;
		if ((size_t)res > buf.len)
			res = (int)buf.len;
	}
	h->rx_buf.base = NULL;
	h->rx_buf.len = 0;
	h->recv_cb(h, res, &buf, &from, flags);
}

void tern_udp_complete(struct tern_loop *loop, uint64_t user_data, int res)
{
	void *p = (void *)(uintptr_t)(user_data & ~(uint64_t)TERN_OP_MASK);

	if ((user_data & TERN_OP_MASK) == TERN_OP_SEND)
		send_done(loop, p, res);
	else if ((user_data & TERN_OP_MASK) == TERN_OP_RECV)
		recv_done(loop, p, res);
}

/* ---- closing --------------------------------------------------------- */

static void closing_append(struct tern_loop *loop, struct tern_udp *h)
{
	h->close_next = NULL;
	if (loop->closing_tail)
		loop->closing_tail->close_next = h;
	else
		loop->closing_head = h;
	loop->closing_tail = h;
}

int tern_udp_close(struct tern_udp *h, tern_udp_close_cb close_cb)
{
	struct tern_loop *loop;

	if (!h)
		return TERN_EINVAL;
	if (h->st & TERN_UDP_ST_CLOSING)
		return tern_udp_fail(h, TERN_ESTATE, "tern_udp_close", "already closing or closed");
	loop = h->loop;
	tern_udp_recv_stop(h);
	h->st |= TERN_UDP_ST_CLOSING;
	h->close_cb = close_cb;
	closing_append(loop, h);
	return TERN_OK;
}

/* Takes h's queued (not yet submitted) sends off the loop's FIFO. */
static struct tern_udp_send_req *unqueue(struct tern_loop *loop, struct tern_udp *h)
{
	struct tern_udp_send_req **pp = &loop->sendq_head, *mine = NULL, **tail = &mine;

	loop->sendq_tail = NULL;
	while (*pp) {
		struct tern_udp_send_req *req = *pp;
		if (req->handle == h) {
			*pp = req->next;
			req->next = NULL;
			*tail = req;
			tail = &req->next;
			loop->sendq_len--;
		} else {
			loop->sendq_tail = req;
			pp = &req->next;
		}
	}
	return mine;
}

static void unlink_handle(struct tern_loop *loop, struct tern_udp *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		loop->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	h->next = h->prev = NULL;
}

/* Advances h's close; returns true once finished (close_cb called). */
static bool close_step(struct tern_loop *loop, struct tern_udp *h)
{
	struct tern_udp_send_req *req = unqueue(loop, h), *next;
	struct io_uring_sqe *sqe;

	for (; req; req = next) {
		next = req->next;
		h->send_queue_count--;
		req->cb(req, TERN_ECLOSED);
	}
	if (h->inflight && !(h->st & TERN_UDP_ST_CANCEL) && (sqe = tern_loop_sqe(loop)) != NULL) {
		io_uring_prep_cancel_fd(sqe, h->fd, IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data64(sqe, 0);
		h->st |= TERN_UDP_ST_CANCEL;
	}
	if (h->inflight)
		return false;
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	unlink_handle(loop, h);
	if (h->close_cb)
		h->close_cb(h); /* may free h */
	return true;
}

/* Works on a detached list: closes started by callbacks append to the
 * loop's list and are taken next iteration. */
static void advance_closes(struct tern_loop *loop)
{
	struct tern_udp *h = loop->closing_head, *next;

	loop->closing_head = loop->closing_tail = NULL;
	for (; h; h = next) {
		next = h->close_next;
		if (!close_step(loop, h))
			closing_append(loop, h);
	}
}

void tern_udp_prepare(struct tern_loop *loop)
{
	submit_sends(loop);
	for (struct tern_udp *h = loop->handles; h; h = h->next)
		arm(loop, h);
	advance_closes(loop);
}
