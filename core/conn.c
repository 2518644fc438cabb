/* The public session calls (tern/tern.h) and the bridge from a session's
 * callbacks to the application's handler. Every call that queues something
 * marks the session dirty so its worker flushes it this poll. */
#include <stdlib.h>

#include "alloc.h"
#include "conn.h"

static const char *what_closed(const struct tern_close_info *ci)
{
	if (ci->err == TERN_ETIMEDOUT)
		return "idle timeout";
	if (ci->app)
		return ci->remote ? "closed by the peer's application"
		                  : "closed by the application";
	if (ci->code == TERN_CLOSE_NO_ERROR)
		return ci->remote ? "closed by the peer" : "closed";
	return tern_close_code_name(ci->code);
}

static void cb_established(void *ctx, struct tern_session *s)
{
	(void)s;
	tern_conn_established(ctx);
}

static void cb_message(void *ctx, struct tern_session *s, uint16_t stream, const uint8_t *msg,
                       size_t len)
{
	struct tern_conn *c = ctx;

	(void)s;
	if (c->h.on_message)
		c->h.on_message(c->h.ctx, c, stream, msg, len);
}

static void cb_fin(void *ctx, struct tern_session *s, uint16_t stream)
{
	struct tern_conn *c = ctx;

	(void)s;
	if (c->h.on_stream_fin)
		c->h.on_stream_fin(c->h.ctx, c, stream);
}

static void cb_datagram(void *ctx, struct tern_session *s, int lane, const uint8_t *d, size_t len)
{
	struct tern_conn *c = ctx;

	(void)s;
	if (c->h.on_datagram)
		c->h.on_datagram(c->h.ctx, c, lane, d, len);
}

static void cb_writable(void *ctx, struct tern_session *s, uint16_t stream)
{
	struct tern_conn *c = ctx;

	(void)s;
	if (c->h.on_writable)
		c->h.on_writable(c->h.ctx, c,
		                 stream == TERN_STREAM_DGRAM ? TERN_STREAM_DATAGRAMS : stream);
}

static void cb_closed(void *ctx, struct tern_session *s, const struct tern_close_info *ci)
{
	struct tern_conn *c = ctx;
	struct tern_close_reason r = {.err = ci->err,
	                              .remote = ci->remote,
	                              .app = ci->app,
	                              .code = ci->code,
	                              .reason = ci->reason,
	                              .reason_len = ci->reason_len,
	                              .what = what_closed(ci)};

	(void)s;
	if (c->closed_seen || !c->accepted)
		return; /* a session the application never saw ends silently */
	c->closed_seen = true;
	if (c->h.on_closed)
		c->h.on_closed(c->h.ctx, c, &r);
}

struct tern_conn *tern_conn_new(struct tern_worker *w, const struct tern_install *in)
{
	struct tern_conn *c = tern_calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->s = in->s;
	c->w = w;
	c->h = in->handler;
	c->user = in->user;
	c->info = in->info;
	c->initiator = in->initiator;
	c->key = tern_get_be64(in->s->local_cid);
	tern_session_set_peer(c->s, &in->info.peer);
	c->s->cbs = (struct tern_session_cbs){.ctx = c,
	                                      .established = cb_established,
	                                      .message = cb_message,
	                                      .stream_fin = cb_fin,
	                                      .datagram = cb_datagram,
	                                      .writable = cb_writable,
	                                      .closed = cb_closed};
	return c;
}

void tern_conn_free(struct tern_conn *c)
{
	tern_session_free(c->s);
	free(c);
}

/* Accept (responder, on the first authenticated packet: the client's
 * address is proven) or connect (initiator, at install). */
void tern_conn_established(struct tern_conn *c)
{
	if (c->accepted)
		return;
	c->accepted = true;
	if (c->initiator) {
		if (c->h.on_connect)
			c->h.on_connect(c->h.ctx, c);
		return;
	}
	if (c->h.on_accept && !c->h.on_accept(c->h.ctx, c)) {
		c->accepted = false; /* refused: the application never sees it again */
		tern_session_close(c->s, false, 0, "refused", c->s->last_recv);
	}
}

int tern_send(struct tern_conn *c, uint16_t stream, const void *msg, size_t len)
{
	int rc = tern_session_send(c->s, stream, msg, len);

	tern_worker_touch(c->w, c);
	return rc;
}

int tern_finish(struct tern_conn *c, uint16_t stream)
{
	int rc = tern_session_finish(c->s, stream);

	tern_worker_touch(c->w, c);
	return rc;
}

int tern_send_datagram(struct tern_conn *c, const void *data, size_t len)
{
	int rc = tern_session_send_dgram(c->s, -1, data, len);

	tern_worker_touch(c->w, c);
	return rc;
}

int tern_send_datagram_seq(struct tern_conn *c, uint8_t lane, const void *data, size_t len)
{
	int rc = tern_session_send_dgram(c->s, lane, data, len);

	tern_worker_touch(c->w, c);
	return rc;
}

size_t tern_conn_max_datagram(const struct tern_conn *c)
{
	return tern_session_max_dgram(c->s);
}

int tern_close(struct tern_conn *c, uint64_t app_code, const char *reason)
{
	int rc = tern_session_close(c->s, false, app_code, reason, c->w->wheel.now);

	tern_worker_touch(c->w, c);
	return rc;
}

int tern_close_graceful(struct tern_conn *c)
{
	int rc = tern_session_close(c->s, true, 0, NULL, c->w->wheel.now);

	tern_worker_touch(c->w, c);
	return rc;
}

void *tern_conn_user(const struct tern_conn *c)
{
	return c->user;
}

void tern_conn_set_user(struct tern_conn *c, void *user)
{
	c->user = user;
}

const char *tern_conn_errmsg(const struct tern_conn *c)
{
	return tern_session_errmsg(c->s);
}

static void fill_counters(const struct tern_session *s, struct tern_conn_info *i)
{
	struct tern_session_stats st;

	tern_session_get_stats(s, &st);
	i->bytes_sent = st.bytes_sent;
	i->bytes_received = st.bytes_recv;
	i->packets_sent = st.pkts_sent;
	i->packets_received = st.pkts_recv;
	i->packets_lost = st.pkts_lost;
	i->bytes_retransmitted = st.pkts_retransmitted_bytes;
	i->pto_count = st.pto_count;
	i->messages_sent = st.msgs_sent;
	i->messages_received = st.msgs_recv;
	i->datagrams_sent = st.dgrams_sent;
	i->datagrams_received = st.dgrams_recv;
}

int tern_conn_info(const struct tern_conn *c, struct tern_conn_info *i)
{
	const struct tern_session *s = c->s;
	struct tern_cc_info cc;

	if (!i)
		return TERN_EINVAL;
	memset(i, 0, sizeof(*i));
	i->vport = c->info.vport;
	i->stream_type = c->info.stream_type;
	i->minor_version = c->info.minor;
	i->pid = c->info.pid;
	memcpy(i->peer_key, c->info.peer_static, TERN_KEY_LEN);
	i->local = c->w->local;
	i->remote = c->info.peer;
	memcpy(i->local_id, s->local_cid, TERN_CONN_ID_LEN);
	memcpy(i->remote_id, s->peer_cid, TERN_CONN_ID_LEN);
	i->cipher = tern_cipher_name(s->cfg.cipher);
	i->cc = s->rec.cc.ops->name;
	i->state = tern_session_state_name(s->state);
	tern_cc_get_info(&s->rec.cc, &s->rec.rtt, &cc);
	i->rtt_us = s->rec.rtt.smoothed;
	i->min_rtt_us = s->rec.rtt.min;
	i->rtt_var_us = s->rec.rtt.var;
	i->cwnd = s->rec.cc.cwnd;
	i->bytes_in_flight = s->rec.cc.bytes_in_flight;
	i->pacing_rate = cc.pacing_rate;
	i->bandwidth = cc.bandwidth;
	i->worker = c->w->id;
	fill_counters(s, i);
	return 0;
}
