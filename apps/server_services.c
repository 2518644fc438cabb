/* tern-server's echo and discard services, and what every service shares:
 * the accept and close events in the log and the session counters.
 *
 * Echo sends every message back on its stream, every datagram back as a
 * datagram, and finishes a stream when the client finishes it. A message
 * the stream cannot take yet (TERN_EAGAIN) is copied onto the session's
 * backlog, which on_writable drains in arrival order; the backlog is bounded
 * (ECHO_BACKLOG_MAX) because a client that sends without reading would
 * otherwise grow it without end: past the bound the session is closed with
 * a named reason. Discard counts what arrives and finishes each stream the
 * client finishes. All callbacks run on the session's worker thread. */
#include <stdlib.h>
#include <string.h>

#include "apps/server.h"
#include "crypto/encode.h"

#define ECHO_BACKLOG_MAX (64u << 20)
#define APP_CLOSE_BACKLOG 1 /* application close code: the echo backlog overflowed */

#define COUNT(name, n) atomic_fetch_add_explicit(&server_counters.name, (n), memory_order_relaxed)

/* ---- shared: accept and close ---- */

bool server_session_accept(struct tern_conn *c, const char *service)
{
	struct tern_conn_info info;
	char peer[64], key[TERN_BASE64_LEN(TERN_KEY_LEN)];

	COUNT(sessions_total, 1);
	COUNT(sessions_live, 1);
	if (!server_log_enabled(TERN_LOG_INFO) || tern_conn_info(c, &info) < 0)
		return true;
	server_log_addr(peer, sizeof(peer), &info.remote);
	tern_base64_encode(key, sizeof(key), info.peer_key, TERN_KEY_LEN);
	server_log(TERN_LOG_INFO, "accept",
	           "peer=%s vport=%u service=%s key=%s worker=%u cipher=%s", peer, info.vport,
	           service, key, info.worker, info.cipher ? info.cipher : "-");
	return true;
}

void server_session_closed(struct tern_conn *c, const char *service,
                           const struct tern_close_reason *r)
{
	struct tern_conn_info info;
	char peer[64] = "-", what[80], detail[160];

	atomic_fetch_sub_explicit(&server_counters.sessions_live, 1, memory_order_relaxed);
	if (!server_log_enabled(TERN_LOG_INFO))
		return;
	memset(&info, 0, sizeof(info));
	if (tern_conn_info(c, &info) == 0)
		server_log_addr(peer, sizeof(peer), &info.remote);
	server_log_quote(what, sizeof(what), r->what, strlen(r->what));
	server_log_quote(detail, sizeof(detail), r->reason ? r->reason : "", r->reason_len);
	server_log(TERN_LOG_INFO, "close",
	           "peer=%s vport=%u service=%s reason=%s detail=%s code=%llu app=%d remote=%d "
	           "msgs_in=%llu msgs_out=%llu bytes_in=%llu bytes_out=%llu",
	           peer, info.vport, service, what, detail, (unsigned long long)r->code, r->app,
	           r->remote, (unsigned long long)info.messages_received,
	           (unsigned long long)info.messages_sent, (unsigned long long)info.bytes_received,
	           (unsigned long long)info.bytes_sent);
}

/* ---- echo ---- */

/* One message (or a stream's finish, len 0) waiting for its stream. */
struct echo_msg {
	struct echo_msg *next;
	uint16_t stream;
	bool fin;
	size_t len;
	uint8_t data[];
};

struct echo_conn {
	struct echo_msg *head, *tail;
	size_t bytes; /* queued message bytes */
};

static bool echo_accept(void *ctx, struct tern_conn *c)
{
	struct echo_conn *ec = calloc(1, sizeof(*ec));

	(void)ctx;
	if (!ec)
		return false;
	tern_conn_set_user(c, ec);
	return server_session_accept(c, "echo");
}

static int echo_push(struct tern_conn *c, struct echo_conn *ec, uint16_t stream, bool fin,
                     const void *m, size_t len)
{
	struct echo_msg *q;

	if (ec->bytes + len > ECHO_BACKLOG_MAX)
		return tern_close(c, APP_CLOSE_BACKLOG,
		                  "echo backlog over 64 MiB: read what is echoed back");
	q = malloc(sizeof(*q) + len);
	if (!q)
		return tern_close(c, APP_CLOSE_BACKLOG, "echo backlog: out of memory");
	*q = (struct echo_msg){.stream = stream, .fin = fin, .len = len};
	memcpy(q->data, m, len);
	if (ec->tail)
		ec->tail->next = q;
	else
		ec->head = q;
	ec->tail = q;
	ec->bytes += len;
	return 0;
}

/* Sends the backlog in order until a stream pushes back. */
static void echo_drain(struct tern_conn *c, struct echo_conn *ec)
{
	while (ec->head) {
		struct echo_msg *q = ec->head;
		int rc = q->fin ? tern_finish(c, q->stream)
		                : tern_send(c, q->stream, q->data, q->len);

		if (rc == TERN_EAGAIN)
			return;
		if (rc == 0 && !q->fin) {
			COUNT(bytes_out, q->len);
		}
		ec->head = q->next;
		if (!ec->head)
			ec->tail = NULL;
		ec->bytes -= q->len;
		free(q);
	}
}

static void echo_message(void *ctx, struct tern_conn *c, uint16_t stream, const void *m, size_t len)
{
	struct echo_conn *ec = tern_conn_user(c);
	int rc = TERN_EAGAIN;

	(void)ctx;
	COUNT(echo_msgs, 1);
	COUNT(echo_bytes, len);
	COUNT(bytes_in, len);
	if (!ec->head)
		rc = tern_send(c, stream, m, len);
	if (rc == TERN_EAGAIN)
		echo_push(c, ec, stream, false, m, len);
	else if (rc == 0)
		COUNT(bytes_out, len);
}

static void echo_fin(void *ctx, struct tern_conn *c, uint16_t stream)
{
	struct echo_conn *ec = tern_conn_user(c);

	(void)ctx;
	if (ec->head)
		echo_push(c, ec, stream, true, "", 0);
	else
		tern_finish(c, stream);
}

static void echo_writable(void *ctx, struct tern_conn *c, uint16_t stream)
{
	(void)ctx, (void)stream;
	echo_drain(c, tern_conn_user(c));
}

static void echo_dgram(void *ctx, struct tern_conn *c, int lane, const void *d, size_t len)
{
	(void)ctx;
	COUNT(echo_dgrams, 1);
	COUNT(bytes_in, len);
	if ((lane < 0 ? tern_send_datagram(c, d, len)
	              : tern_send_datagram_seq(c, (uint8_t)lane, d, len)) == 0)
		COUNT(bytes_out, len);
}

static void echo_closed(void *ctx, struct tern_conn *c, const struct tern_close_reason *r)
{
	struct echo_conn *ec = tern_conn_user(c);

	(void)ctx;
	server_session_closed(c, "echo", r);
	while (ec && ec->head) {
		struct echo_msg *q = ec->head;
		ec->head = q->next;
		free(q);
	}
	free(ec);
}

void server_echo_handler(struct tern_handler *h)
{
	*h = (struct tern_handler){.on_accept = echo_accept,
	                           .on_message = echo_message,
	                           .on_stream_fin = echo_fin,
	                           .on_datagram = echo_dgram,
	                           .on_writable = echo_writable,
	                           .on_closed = echo_closed};
}

/* ---- discard ---- */

static bool discard_accept(void *ctx, struct tern_conn *c)
{
	(void)ctx;
	return server_session_accept(c, "discard");
}

static void discard_message(void *ctx, struct tern_conn *c, uint16_t stream, const void *m,
                            size_t len)
{
	(void)ctx, (void)c, (void)stream, (void)m;
	COUNT(discard_msgs, 1);
	COUNT(discard_bytes, len);
	COUNT(bytes_in, len);
}

static void discard_dgram(void *ctx, struct tern_conn *c, int lane, const void *d, size_t len)
{
	(void)ctx, (void)c, (void)lane, (void)d;
	COUNT(discard_dgrams, 1);
	COUNT(bytes_in, len);
}

/* The client learns that everything it sent arrived. */
static void discard_fin(void *ctx, struct tern_conn *c, uint16_t stream)
{
	(void)ctx;
	tern_finish(c, stream);
}

static void discard_closed(void *ctx, struct tern_conn *c, const struct tern_close_reason *r)
{
	(void)ctx;
	server_session_closed(c, "discard", r);
}

void server_discard_handler(struct tern_handler *h)
{
	*h = (struct tern_handler){.on_accept = discard_accept,
	                           .on_message = discard_message,
	                           .on_stream_fin = discard_fin,
	                           .on_datagram = discard_dgram,
	                           .on_closed = discard_closed};
}
