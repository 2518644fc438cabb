/* The blocking socket-style API (tern/socket.h): a thin layer over handles
 * that fixes the stream (0) and the stream type (0), turns the handle's
 * TERN_EAGAIN into waiting, and skips datagrams, so that an application
 * written against a blocking RUDP/SRUDP-style library maps one call to one
 * call. Nothing here touches a worker: it uses only tern/handle.h. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tern/socket.h"

#define SEND_SLICE_US 10000 /* re-check a full send ring at least this often */

struct tern_socket {
	struct tern_handle *h;
	bool eof; /* next_size took the peer's FIN off the queue: recv returns 0 next */
};

struct tern_socket_listener {
	struct tern_hlistener *l;
};

static int wrap(struct tern_handle *h, struct tern_socket **out)
{
	struct tern_socket *s = malloc(sizeof(*s));

	if (!s) {
		tern_handle_release(h);
		return TERN_ENOMEM;
	}
	s->h = h;
	s->eof = false;
	*out = s;
	return 0;
}

int tern_socket_listen(struct tern_engine *e, uint16_t vport, struct tern_socket_listener **out)
{
	struct tern_socket_listener *ls = malloc(sizeof(*ls));
	int rc;

	*out = NULL;
	if (!ls)
		return TERN_ENOMEM;
	rc = tern_handle_listen(e, vport, 0, 0, &ls->l);
	if (rc < 0) {
		free(ls);
		return rc;
	}
	*out = ls;
	return 0;
}

int tern_socket_accept(struct tern_socket_listener *ls, uint64_t timeout_us,
                       struct tern_socket **out)
{
	struct tern_handle *h;
	int rc = tern_handle_accept(ls->l, timeout_us, &h);

	*out = NULL;
	return rc < 0 ? rc : wrap(h, out);
}

void tern_socket_listener_close(struct tern_socket_listener *ls)
{
	if (!ls)
		return;
	tern_hlistener_close(ls->l);
	free(ls);
}

int tern_socket_connect(struct tern_engine *e, const struct tern_addr *addr, uint16_t vport,
                        const uint8_t server_key[TERN_KEY_LEN], uint64_t timeout_us,
                        struct tern_socket **out, struct tern_reason *why)
{
	struct tern_connect_opts o = {.vport = vport};
	struct tern_handle *h;
	int rc;

	*out = NULL;
	if (!addr || !server_key)
		return TERN_EINVAL;
	o.addr = *addr;
	memcpy(o.server_pub, server_key, TERN_KEY_LEN);
	rc = tern_handle_connect(e, &o, timeout_us, &h, why);
	return rc < 0 ? rc : wrap(h, out);
}

int tern_socket_send(struct tern_socket *s, const void *buf, size_t len)
{
	for (;;) {
		int rc = tern_handle_send(s->h, 0, buf, len);
		if (rc != TERN_EAGAIN)
			return rc;
		/* room seen and then refused: another thread took it first */
		if (tern_handle_wait_writable(s->h, len, SEND_SLICE_US) == TERN_ECLOSED)
			return TERN_ECLOSED;
	}
}

/* Takes the datagram at the head out of the way. */
static void skip_datagram(struct tern_handle *h, size_t len)
{
	void *tmp = malloc(len);

	if (tmp)
		tern_handle_recv(h, tmp, len, NULL, 0);
	free(tmp);
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t time_left(uint64_t start, uint64_t timeout_us)
{
	uint64_t spent;

	if (timeout_us == TERN_FOREVER || timeout_us == 0)
		return timeout_us; /* nothing to time: no clock read */
	spent = now_us() - start;
	return spent < timeout_us ? timeout_us - spent : 0;
}

ssize_t tern_socket_recv(struct tern_socket *s, void *buf, size_t cap, uint64_t timeout_us)
{
	uint64_t start = timeout_us == TERN_FOREVER || timeout_us == 0 ? 0 : now_us();

	if (s->eof) {
		s->eof = false;
		return 0;
	}
	for (;;) {
		struct tern_recv_info info;
		int rc = tern_handle_recv(s->h, buf, cap, &info, time_left(start, timeout_us));
		if ((rc >= 0 || rc == TERN_ETOOBIG) && info.stream == TERN_STREAM_DATAGRAMS) {
			if (rc == TERN_ETOOBIG)
				skip_datagram(s->h, info.len);
			continue;
		}
		if (rc == 0 && info.fin && info.stream != 0)
			continue; /* a socket is stream 0: another stream's end is not ours */
		return rc == TERN_EAGAIN && timeout_us ? TERN_ETIMEDOUT : rc;
	}
}

size_t tern_socket_next_size(struct tern_socket *s)
{
	struct tern_recv_info info;
	int rc = tern_handle_recv(s->h, NULL, 0, &info, 0);

	if (rc == 0 && info.fin && info.stream == 0)
		s->eof = true; /* taken off the queue: the next recv reports it */
	return rc == TERN_ETOOBIG ? info.len : 0;
}

int tern_socket_reason(const struct tern_socket *s, struct tern_reason *out)
{
	return tern_handle_reason(s->h, out);
}

struct tern_handle *tern_socket_handle(struct tern_socket *s)
{
	return s->h;
}

int tern_socket_close(struct tern_socket *s)
{
	int rc;

	if (!s)
		return 0;
	rc = tern_handle_close(s->h);
	tern_handle_release(s->h); /* the last reference closes too (retrying a full inbox) */
	free(s);
	return rc == TERN_EAGAIN ? 0 : rc;
}
