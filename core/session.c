/* Session lifecycle: creation from configuration, the state machine
 * (handshaking → established → closing/draining → closed), the application's
 * send calls, timers, and closing. Receiving lives in session_recv.c and
 * packet assembly in session_send.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "alloc.h"
#include "session.h"
#include "crypto/random.h"

static const char *const state_names[] = {
        [TERN_SESSION_HANDSHAKING] = "handshaking", [TERN_SESSION_ESTABLISHED] = "established",
        [TERN_SESSION_CLOSING] = "closing",         [TERN_SESSION_DRAINING] = "draining",
        [TERN_SESSION_CLOSED] = "closed",
};

const char *tern_session_state_name(enum tern_session_state st)
{
	return (unsigned)st < TERN_ARRAY_LEN(state_names) ? state_names[st] : "unknown";
}

void tern_session_cfg_default(struct tern_session_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->cipher = TERN_CIPHER_CHACHA20_POLY1305;
	cfg->cc = &tern_cc_bbr;
	cfg->max_packet = 1452;
	cfg->max_streams = 16;
	cfg->stream_window = 256 << 10;
	cfg->conn_window = 1 << 20;
	cfg->send_buffer = 256 << 10;
	cfg->stream_window_max = 16 << 20;
	cfg->conn_window_max = 24 << 20;
	cfg->send_buffer_max = 16 << 20;
	cfg->dgram_queue = 64;
	cfg->max_in_flight_pkts = 65536;
	cfg->max_ack_delay = TERN_DEFAULT_MAX_ACK_DELAY_US;
	cfg->idle_timeout = 30 * TERN_SEC;
	cfg->handshake_timeout = 10 * TERN_SEC;
	cfg->keepalive = 15 * TERN_SEC;
	cfg->key_update_interval = 3600 * TERN_SEC;
}

static const char *cfg_check(const struct tern_session_cfg *c)
{
	if (c->max_packet < TERN_MIN_UDP_PAYLOAD || c->max_packet > TERN_MAX_UDP_PAYLOAD)
		return "max_packet must be between 1200 and 1472 bytes";
	if (c->max_streams == 0 || c->max_streams > TERN_MAX_STREAMS)
		return "max_streams must be between 1 and 1024";
	if (c->stream_window < 4096 || c->stream_window > (1u << 30))
		return "stream_window must be between 4 KiB and 1 GiB";
	if (c->conn_window < c->stream_window)
		return "conn_window must be at least stream_window";
	if (c->send_buffer < 4096)
		return "send_buffer must be at least 4 KiB";
	if (c->stream_window_max < c->stream_window || c->stream_window_max > (1u << 30) ||
	    c->conn_window_max < c->conn_window || c->send_buffer_max < c->send_buffer)
		return "stream_window_max, conn_window_max and send_buffer_max must be at least "
		       "stream_window, conn_window and send_buffer (and stream_window_max at most "
		       "1 GiB)";
	if (c->dgram_queue == 0 || c->max_in_flight_pkts < 64)
		return "dgram_queue must be positive and max_in_flight_pkts at least 64";
	if (c->keepalive && c->idle_timeout && c->keepalive >= c->idle_timeout)
		return "keepalive must be shorter than idle_timeout";
	return NULL;
}

static int init_parts(struct tern_session *s, tern_time now)
{
	const struct tern_session_cfg *c = &s->cfg;
	int rc;

	/* the peer's ACK delay goes into our PTO; ours paces our ACKs */
	rc = tern_recovery_init(&s->rec, c->cc, c->max_packet, (tern_time)s->peer.max_ack_delay_us,
	                        c->max_in_flight_pkts, now);
	if (rc == 0)
		rc = tern_ackgen_init(&s->ack, c->max_ack_delay);
	if (rc < 0)
		return rc;
	tern_pacer_init(&s->pacer, 10 * c->max_packet);
	tern_flow_rx_init(&s->frx, c->conn_window);
	tern_flow_tx_init(&s->ftx, s->peer.conn_window);
	tern_dgram_queue_init(&s->dq, c->dgram_queue);
	tern_dgram_lanes_init(&s->lanes);
	s->assembling = -1;
	s->mem.budget = c->budget;
	/* ids below our limit may arrive, ids below the peer's may be sent */
	s->nstreams = TERN_MAX(c->max_streams, s->peer.max_streams);
	s->streams = tern_calloc(s->nstreams, sizeof(*s->streams));
	return s->streams ? 0 : TERN_ENOMEM;
}

/* The peer's transport parameters bound what we send: its windows are our
 * credit, its stream count our stream limit, its ACK delay part of our PTO,
 * and the idle timeout is the smaller of the two. */
static void apply_peer(struct tern_session *s, const struct tern_hs_params *peer)
{
	struct tern_session_cfg *c = &s->cfg;

	s->peer = *peer;
	if (s->peer.max_streams == 0 || s->peer.max_streams > TERN_MAX_STREAMS)
		s->peer.max_streams = TERN_MAX_STREAMS;
	if (s->peer.stream_window < 1024)
		s->peer.stream_window = 1024;
	if (s->peer.max_ack_delay_us > (1u << 14) * TERN_MS)
		s->peer.max_ack_delay_us = (1u << 14) * TERN_MS; /* RFC 9000's ceiling */
	if (peer->idle_timeout_ms &&
	    (!c->idle_timeout || (tern_time)peer->idle_timeout_ms * TERN_MS < c->idle_timeout))
		c->idle_timeout = (tern_time)peer->idle_timeout_ms * TERN_MS;
	if (c->keepalive && c->idle_timeout && c->keepalive >= c->idle_timeout)
		c->keepalive = c->idle_timeout / 2;
}

void tern_session_local_params(const struct tern_session_cfg *cfg, struct tern_hs_params *p)
{
	p->stream_window = (uint32_t)cfg->stream_window;
	p->conn_window = cfg->conn_window;
	p->max_streams = cfg->max_streams;
	p->max_ack_delay_us = (uint32_t)cfg->max_ack_delay;
	p->idle_timeout_ms = (uint32_t)(cfg->idle_timeout / TERN_MS);
}

static int session_alloc(struct tern_session **out, const struct tern_session_cfg *cfg,
                         const char **err_msg)
{
	struct tern_session *s = tern_calloc(1, sizeof(*s));
	const char *bad;

	*out = NULL;
	if (!s)
		return TERN_ENOMEM;
	if (cfg)
		s->cfg = *cfg;
	else
		tern_session_cfg_default(&s->cfg);
	if (!s->cfg.cc)
		s->cfg.cc = &tern_cc_bbr;
	bad = cfg_check(&s->cfg);
	if (bad) {
		if (err_msg)
			*err_msg = bad;
		free(s);
		return TERN_EINVAL;
	}
	*out = s;
	return 0;
}

int tern_session_new(struct tern_session **out, const struct tern_session_cfg *cfg,
                     const struct tern_session_cbs *cbs, bool initiator,
                     const uint8_t local_cid[TERN_CID_LEN], const uint8_t peer_cid[TERN_CID_LEN],
                     struct tern_keys *keys, const struct tern_hs_params *peer, tern_time now,
                     const char **err_msg)
{
	struct tern_hs_params same;
	struct tern_session *s;
	int rc = session_alloc(&s, cfg, err_msg);

	if (rc < 0) {
		tern_keys_free(keys);
		return rc;
	}
	s->keys = *keys; /* moved in */
	memset(keys, 0, sizeof(*keys));
	if (cbs)
		s->cbs = *cbs;
	s->initiator = initiator;
	memcpy(s->local_cid, local_cid, TERN_CID_LEN);
	memcpy(s->peer_cid, peer_cid, TERN_CID_LEN);
	s->largest_rx_pn = UINT64_MAX;
	s->last_recv = s->last_eliciting_sent = now;
	s->close_deadline = TERN_TIME_NEVER;
	s->amp_budget = UINT64_MAX;
	if (!peer) {
		tern_session_local_params(&s->cfg, &same);
		peer = &same;
	}
	apply_peer(s, peer);
	rc = init_parts(s, now);
	if (rc == 0)
		rc = tern_session_keys_init(s, now);
	if (rc < 0) {
		if (err_msg)
			*err_msg = tern_strerror(rc);
		tern_session_free(s);
		return rc;
	}
	s->ping_pending = initiator; /* speak first so the responder learns of us */
	*out = s;
	return 0;
}

void tern_session_limit_amplification(struct tern_session *s, uint64_t budget)
{
	s->amp_budget = budget;
}

void tern_session_set_peer(struct tern_session *s, const struct tern_addr *peer)
{
	tern_path_set_peer(&s->path, peer);
}

void tern_session_seed_random(struct tern_session *s, uint64_t seed)
{
	s->seeded = true;
	s->rng = seed;
}

/* splitmix64 when seeded: fast, and one 64-bit state replays a run */
void tern_session_random(struct tern_session *s, uint8_t *out, size_t n)
{
	if (!s->seeded) {
		tern_random_bytes(out, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		out[i] = (uint8_t)(z ^ (z >> 31));
	}
}

int tern_session_new_psk(struct tern_session **out, const struct tern_session_cfg *cfg,
                         const struct tern_session_cbs *cbs, bool initiator,
                         const uint8_t local_cid[TERN_CID_LEN],
                         const uint8_t peer_cid[TERN_CID_LEN], const uint8_t *secret,
                         size_t secret_len, tern_time now, const char **err_msg)
{
	enum tern_cipher cipher = cfg ? cfg->cipher : TERN_CIPHER_CHACHA20_POLY1305;
	struct tern_keys keys;
	int rc;

	*out = NULL;
	rc = tern_keys_derive(&keys, cipher, secret, secret_len, initiator ? local_cid : peer_cid,
	                      initiator ? peer_cid : local_cid, initiator);
	if (rc < 0) {
		if (err_msg)
			*err_msg = rc == TERN_EINVAL
			                   ? "secret must be 16 to 64 bytes, cipher known "
			                     "and available on this CPU"
			                   : tern_strerror(rc);
		return rc;
	}
	return tern_session_new(out, cfg, cbs, initiator, local_cid, peer_cid, &keys, NULL, now,
	                        err_msg);
}

static void free_streams(struct tern_session *s)
{
	for (unsigned i = 0; s->streams && i < s->nstreams; i++) {
		struct tern_stream *st = s->streams[i];
		if (!st)
			continue;
		tern_ssend_free(&st->tx);
		tern_srecv_free(&st->rx);
		free(st);
		s->streams[i] = NULL;
	}
	s->assembling = -1;
	s->assembly_waiting = 0;
}

void tern_session_free(struct tern_session *s)
{
	if (!s)
		return;
	free_streams(s);
	free(s->streams);
	tern_session_keys_free(s);
	tern_recovery_free(&s->rec);
	tern_ackgen_free(&s->ack);
	tern_dgram_queue_free(&s->dq);
	tern_dgram_lanes_free(&s->lanes);
	tern_admit_release(&s->admit);
	free(s);
}

/* Usage limits per cipher (RFC 9001 §6.6); ChaCha20-Poly1305's
 * confidentiality limit is beyond any packet number. */
int tern_session_keys_init(struct tern_session *s, tern_time now)
{
	struct tern_session_cfg *c = &s->cfg;
	bool aes = s->keys.cipher == TERN_CIPHER_AES256_GCM;

	if (!c->key_update_packets)
		c->key_update_packets = aes ? 1ull << 23 : 1ull << 30;
	if (!c->aead_integrity_limit)
		c->aead_integrity_limit = aes ? 1ull << 52 : 1ull << 36;
	if (!c->aead_confidentiality_limit)
		c->aead_confidentiality_limit = aes ? 1ull << 23 : 1ull << 62;
	s->tx_gen = s->keys.generation;
	s->tx_gen_start = now;
	tern_replay_init(&s->replay);
	return tern_keys_next(&s->keys, &s->keys_next);
}

void tern_session_keys_free(struct tern_session *s)
{
	tern_keys_free(&s->keys);
	tern_keys_free(&s->keys_next);
	tern_aead_free(s->rx_prev);
	s->rx_prev = NULL;
}

/* The previous generation's rx key lives 3 PTO past the rotation. */
void tern_session_keys_tick(struct tern_session *s, tern_time now)
{
	if (s->rx_prev && now >= s->rx_prev_drop) {
		tern_aead_free(s->rx_prev);
		s->rx_prev = NULL;
	}
}

struct tern_stream *tern_session_stream(struct tern_session *s, uint16_t id, bool create)
{
	struct tern_stream *st;

	if (id >= s->nstreams)
		return NULL;
	st = s->streams[id];
	if (st || !create)
		return st;
	st = tern_calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	if (tern_ssend_init(&st->tx, s->cfg.send_buffer, s->peer.stream_window) < 0 ||
	    tern_srecv_init(&st->rx, s->cfg.stream_window) < 0) {
		tern_ssend_free(&st->tx);
		free(st);
		return NULL;
	}
	st->rx.acct = st->tx.acct = &s->mem;
	s->streams[id] = st;
	if (id >= s->streams_hi)
		s->streams_hi = (uint16_t)(id + 1);
	return st;
}

static int api_error(struct tern_session *s, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->errbuf, sizeof(s->errbuf), fmt, ap);
	va_end(ap);
	return err;
}

const char *tern_session_errmsg(const struct tern_session *s)
{
	return s->errbuf;
}

static bool accepting(const struct tern_session *s)
{
	return (s->state == TERN_SESSION_HANDSHAKING || s->state == TERN_SESSION_ESTABLISHED) &&
	       !s->closing_graceful;
}

int tern_session_send(struct tern_session *s, uint16_t stream, const void *msg, size_t len)
{
	struct tern_stream *st;
	int rc;

	if (!accepting(s))
		return api_error(s, TERN_ECLOSED, "send: session is %s",
		                 s->closing_graceful ? "closing"
		                                     : tern_session_state_name(s->state));
	if (stream >= s->peer.max_streams)
		return api_error(s, TERN_EINVAL,
		                 "send: stream %u out of range (the peer accepts %u)", stream,
		                 s->peer.max_streams);
	if (!msg || len == 0)
		return api_error(s, TERN_EINVAL,
		                 "send: empty message (a message has 1 byte or more)");
	st = tern_session_stream(s, stream, true);
	if (!st)
		return api_error(s, TERN_ENOMEM, "send: out of memory for stream %u", stream);
	st->tx.limit = tern_session_send_limit(s, st);
	rc = tern_ssend_write(&st->tx, msg, len);
	if (rc == 0)
		s->tx_buffered += len;
	if (rc == TERN_EAGAIN)
		st->want_writable = true;
	else if (rc == 0)
		s->stats.msgs_sent++;
	if (rc < 0)
		return api_error(s, rc, "send: stream %u: %s", stream, tern_strerror(rc));
	return 0;
}

int tern_session_finish(struct tern_session *s, uint16_t stream)
{
	struct tern_stream *st;

	if (!accepting(s))
		return api_error(s, TERN_ECLOSED, "finish: session is not open");
	if (stream >= s->peer.max_streams) /* its FIN would break the peer's stream limit */
		return api_error(s, TERN_EINVAL,
		                 "finish: stream %u out of range (the peer accepts %u)", stream,
		                 s->peer.max_streams);
	st = tern_session_stream(s, stream, true);
	if (!st)
		return api_error(s, TERN_ENOMEM, "finish: out of memory for stream %u", stream);
	return tern_ssend_finish(&st->tx) < 0
	               ? api_error(s, TERN_ECLOSED, "finish: stream %u already finished", stream)
	               : 0;
}

size_t tern_session_max_dgram(const struct tern_session *s)
{
	size_t overhead = TERN_DATA_HEADER_MAX + TERN_AEAD_TAG_LEN + TERN_DGRAM_FRAME_MAX;
	return TERN_MIN(s->cfg.max_packet - overhead, (size_t)TERN_MAX_DATAGRAM);
}

int tern_session_send_dgram(struct tern_session *s, int lane, const void *data, size_t len)
{
	int rc;

	if (!accepting(s))
		return api_error(s, TERN_ECLOSED, "send_dgram: session is not open");
	if (len > tern_session_max_dgram(s))
		return api_error(s, TERN_ETOOBIG, "send_dgram: %zu bytes, at most %zu fit", len,
		                 tern_session_max_dgram(s));
	rc = tern_dgram_push(&s->dq, data, len, lane);
	if (rc == TERN_EAGAIN)
		s->dq_want_writable = true;
	if (rc < 0)
		return api_error(s, rc, "send_dgram: %s", tern_strerror(rc));
	s->stats.dgrams_sent++;
	return 0;
}

tern_time tern_session_three_pto(const struct tern_session *s)
{
	return 3 * tern_rtt_pto(&s->rec.rtt);
}

static void set_close(struct tern_session *s, bool app, uint64_t code, const char *reason)
{
	size_t n = reason ? strnlen(reason, sizeof(s->close_reason)) : 0;

	memcpy(s->close_reason, reason ? reason : "", n);
	s->close = (struct tern_close_info){
	        .app = app, .code = code, .reason = s->close_reason, .reason_len = n};
}

/* An abrupt close lingers 3 PTO (RFC 9000 §10.2). A graceful one waits for
 * its CLOSE to be acknowledged, re-sending it on each PTO, for up to 16 PTO
 * (several tries even on a lossy path) and never beyond the idle timeout:
 * the peer may have acknowledged, drained and forgotten the session while
 * its ACK was lost, and then nothing would ever answer. */
static void enter_closing(struct tern_session *s, tern_time now, bool graceful)
{
	tern_time pto = tern_rtt_pto(&s->rec.rtt), linger = 3 * pto;

	if (graceful && s->cfg.idle_timeout)
		linger = TERN_MAX(linger, TERN_MIN(16 * pto, s->cfg.idle_timeout));
	else if (graceful)
		linger = 16 * pto;
	s->state = TERN_SESSION_CLOSING;
	s->close_pending = true;
	s->close_deadline = now + linger;
}

int tern_session_close(struct tern_session *s, bool graceful, uint64_t app_code, const char *reason,
                       tern_time now)
{
	/* an abrupt close may take over from a graceful one still waiting for
	 * its data to be acknowledged (by a peer that never reads, say) */
	if (s->state >= TERN_SESSION_CLOSING || (graceful && s->closing_graceful))
		return api_error(s, TERN_ECLOSED, "close: session already %s",
		                 s->closing_graceful ? "closing"
		                                     : tern_session_state_name(s->state));
	if (graceful) {
		set_close(s, false, TERN_CLOSE_NO_ERROR, reason);
		s->closing_graceful = true;
		return 0;
	}
	set_close(s, true, app_code, reason);
	free_streams(s);
	s->streams_hi = 0;
	enter_closing(s, now, false);
	return 0;
}

void tern_session_close_memory(struct tern_session *s, tern_time now)
{
	if (s->state >= TERN_SESSION_CLOSING) {
		/* closing or draining already: its streams deliver nothing more */
		free_streams(s);
		return;
	}
	set_close(s, false, TERN_CLOSE_MEMORY, "memory budget exceeded");
	s->close.err = TERN_ENOMEM;
	free_streams(s);
	s->streams_hi = 0;
	enter_closing(s, now, false);
}

/* A protocol error: close with a transport code at once. */
void tern_session_fail(struct tern_session *s, uint64_t code, const char *reason)
{
	if (s->state >= TERN_SESSION_CLOSING)
		return;
	set_close(s, false, code, reason);
	s->close.err = TERN_EPROTO;
	enter_closing(s, s->last_recv, false);
}

void tern_session_report_closed(struct tern_session *s)
{
	if (s->closed_reported)
		return;
	s->closed_reported = true;
	if (s->cbs.closed)
		s->cbs.closed(s->cbs.ctx, s, &s->close);
}

void tern_session_enter_closed(struct tern_session *s)
{
	s->state = TERN_SESSION_CLOSED;
	s->close_deadline = TERN_TIME_NEVER;
	tern_session_report_closed(s);
}

static bool all_sent_data_acked(const struct tern_session *s)
{
	for (unsigned i = 0; i < s->streams_hi; i++) {
		const struct tern_stream *st = s->streams[i];
		if (st && (tern_ssend_buffered(&st->tx) != 0 || (st->tx.fin && !st->tx.fin_acked)))
			return false;
	}
	return s->dq.n == 0;
}

/* Graceful close: once every byte we sent is acknowledged, send CLOSE. */
static void graceful_progress(struct tern_session *s, tern_time now)
{
	if (s->closing_graceful && s->state <= TERN_SESSION_ESTABLISHED && all_sent_data_acked(s))
		enter_closing(s, now, true);
}

/* A session the peer never confirmed (a responder whose client never sent
 * a packet: a retried initiation, a spoofed one) goes after the handshake
 * timeout, not the idle timeout. */
static tern_time idle_deadline(const struct tern_session *s)
{
	tern_time t = s->cfg.idle_timeout ? s->last_recv + s->cfg.idle_timeout : TERN_TIME_NEVER;

	if (s->state == TERN_SESSION_HANDSHAKING && s->cfg.handshake_timeout)
		t = TERN_MIN(t, s->last_recv + s->cfg.handshake_timeout);
	return t;
}

static tern_time keepalive_deadline(const struct tern_session *s)
{
	/* once the PING is owed, sending it is tern_session_send_ready's part:
	 * a PING that cannot leave yet must not keep this deadline in the past */
	if (!s->cfg.keepalive || s->state != TERN_SESSION_ESTABLISHED || s->ping_pending)
		return TERN_TIME_NEVER;
	return s->last_eliciting_sent + s->cfg.keepalive;
}

tern_time tern_session_deadline(const struct tern_session *s, tern_time now)
{
	tern_time t = s->close_deadline;

	if (s->state == TERN_SESSION_CLOSED)
		return TERN_TIME_NEVER;
	if (s->closing_graceful && s->state <= TERN_SESSION_ESTABLISHED && all_sent_data_acked(s))
		return now;
	t = TERN_MIN(t, tern_session_send_ready(s, now));
	if (s->state == TERN_SESSION_DRAINING)
		return t;
	t = TERN_MIN(t, tern_recovery_deadline(&s->rec));
	t = TERN_MIN(t, idle_deadline(s));
	if (s->rx_prev)
		t = TERN_MIN(t, s->rx_prev_drop);
	if (s->path.probing && s->state == TERN_SESSION_ESTABLISHED &&
	    !tern_session_send_blocked(s)) /* a probe is a packet too */
		t = TERN_MIN(t, tern_path_deadline(&s->path, now));
	return TERN_MIN(t, keepalive_deadline(s));
}

void tern_session_on_timeout(struct tern_session *s, tern_time now)
{
	if (s->state == TERN_SESSION_CLOSED)
		return;
	if (now >= s->close_deadline) {
		tern_session_enter_closed(s);
		return;
	}
	if (now >= idle_deadline(s)) {
		if (s->state < TERN_SESSION_CLOSING) /* else keep the close we have */
			s->close = (struct tern_close_info){.err = TERN_ETIMEDOUT,
			                                    .code = TERN_CLOSE_IDLE_TIMEOUT};
		tern_session_enter_closed(s);
		return;
	}
	graceful_progress(s, now);
	if (s->state != TERN_SESSION_DRAINING && now >= tern_recovery_deadline(&s->rec)) {
		struct tern_recovery_cbs cbs = {s, tern_session_on_acked, tern_session_on_lost};
		int probes = tern_recovery_on_timeout(&s->rec, now, &cbs);
		if (probes > 0 && s->state == TERN_SESSION_CLOSING)
			s->close_pending = true; /* the CLOSE itself is the probe */
		else if (probes > 0)
			s->probes = (unsigned)probes;
	}
	tern_session_keys_tick(s, now);
	tern_path_on_timeout(&s->path, now);
	if (now >= keepalive_deadline(s))
		s->ping_pending = true;
}

void tern_session_get_stats(const struct tern_session *s, struct tern_session_stats *out)
{
	*out = s->stats;
	out->pto_count = s->rec.stats.pto_count_total;
	out->spurious_losses = s->rec.stats.spurious_losses;
	out->persistent_congestions = s->rec.stats.persistent_congestions;
	out->path_challenges = s->path.stats.challenges;
	out->paths_validated = s->path.stats.validated;
	out->paths_failed = s->path.stats.failed;
	out->migrations = s->path.stats.migrations;
	out->pns_skipped = s->rec.stats.pkts_skipped;
}

size_t tern_session_mem(const struct tern_session *s)
{
	size_t m = sizeof(*s) + s->nstreams * sizeof(*s->streams);

	m += s->rec.cap * sizeof(struct tern_sent_pkt) +
	     s->ack.rx.cap * sizeof(struct tern_ack_range);
	m += tern_dgram_queue_mem(&s->dq) + tern_dgram_lanes_mem(&s->lanes);
	for (unsigned i = 0; i < s->streams_hi; i++) {
		const struct tern_stream *st = s->streams[i];
		if (!st)
			continue;
		m += sizeof(*st) + st->tx.cap + st->tx.ends_cap * sizeof(uint64_t) +
		     (st->tx.acked.cap + st->tx.lost.cap) * sizeof(struct tern_ack_range);
		m += tern_srecv_mem(&st->rx);
	}
	return m;
}
