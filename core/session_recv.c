/* The receive half of a session: check a packet is new (replay window and
 * received set, before any AEAD work), open it under the key generation its
 * K bit and number select (rotating keys when the peer updated), dispatch
 * its frames through a table of small handlers, deliver complete messages,
 * and record the packet for acknowledgement. Where the packet came from goes
 * to path validation (path.h): a new address is challenged, never followed
 * until it answers. A packet that fails to parse or
 * authenticate is dropped and counted, never acted on; a packet that breaks
 * the protocol closes the session with a named code (docs/protocol.md §11). */
#include "session.h"

typedef int (*frame_fn)(struct tern_session *s, const struct tern_frame *f, tern_time now);

struct deliver_ctx {
	struct tern_session *s;
	uint16_t id;
};

static void deliver_msg(void *ctx, const uint8_t *msg, size_t len)
{
	struct deliver_ctx *d = ctx;

	d->s->stats.msgs_recv++;
	if (d->s->cbs.message && d->s->state <= TERN_SESSION_ESTABLISHED)
		d->s->cbs.message(d->s->cbs.ctx, d->s, d->id, msg, len);
}

/* Connection credit comes back once bytes are in order on their stream,
 * not when their message completes: partial messages on many streams must
 * not pin the connection window (each stream's own window and the message
 * size limit bound what they hold). Nothing comes back while credit is held. */
static void give_credit(struct tern_session *s, struct tern_stream *st)
{
	uint64_t in_order, max;
	tern_time rtt;

	if (s->credit_held)
		return;
	in_order = st->rx.contig;
	rtt = s->rec.rtt.has_sample ? s->rec.rtt.smoothed : 0;
	if (in_order > st->credited) {
		if (tern_flow_rx_consume_at(&s->frx, in_order - st->credited, s->last_recv, rtt,
		                            s->cfg.conn_window_max, &max))
			s->max_data_pending = true;
		st->credited = in_order;
	}
	if (tern_srecv_window_update_at(&st->rx, s->last_recv, rtt, s->cfg.stream_window_max,
	                                &max)) {
		st->max_data_pending = true;
		tern_flow_rx_ensure(&s->frx, st->rx.cap + st->rx.cap / 2, s->cfg.conn_window_max);
	}
}

void tern_session_hold_credit(struct tern_session *s, bool hold)
{
	s->credit_held = hold;
	for (uint16_t id = 0; !hold && id < s->streams_hi && s->streams; id++)
		if (s->streams[id])
			give_credit(s, s->streams[id]);
}

static void retry_assembly(struct tern_session *s, uint16_t from);

static void deliver_stream(struct tern_session *s, uint16_t id, struct tern_stream *st)
{
	struct deliver_ctx d = {s, id};
	uint64_t start = st->rx.msg_start;
	size_t had = st->rx.msg_len;

	tern_srecv_deliver_room(&st->rx, deliver_msg, &d, tern_session_assembly_room(s, id));
	if (s->state > TERN_SESSION_ESTABLISHED || s->streams[id] != st)
		return; /* the application closed the session from its callback */
	if (tern_session_assembly_after(s, id, st, start, had))
		retry_assembly(s, id);
	give_credit(s, st);
	if (tern_srecv_finished(&st->rx) && !st->fin_reported) {
		st->fin_reported = true;
		if (s->cbs.stream_fin)
			s->cbs.stream_fin(s->cbs.ctx, s, id);
	}
}

/* Assembly room came back (session_mem.c): the streams waiting for it try
 * again, those after `from` first. A delivery in here that gives room back
 * asks for another pass instead of recursing. */
static void retry_assembly(struct tern_session *s, uint16_t from)
{
	if (s->assembly_retrying)
		return;
	s->assembly_retrying = true;
	for (unsigned k = 1; k <= s->streams_hi && s->assembly_waiting; k++) {
		uint16_t id = (uint16_t)((from + k) % s->streams_hi);
		if (s->state > TERN_SESSION_ESTABLISHED)
			break;
		if (s->streams[id] && s->streams[id]->assembly_wait)
			deliver_stream(s, id, s->streams[id]);
	}
	s->assembly_retrying = false;
}

static int stream_error(struct tern_session *s, int rc, uint64_t id)
{
	switch (rc) {
	case TERN_EFLOWCONTROL:
		tern_session_fail(s, TERN_CLOSE_FLOW_CONTROL, "stream data beyond credit");
		break;
	case TERN_EPROTO:
		tern_session_fail(s, TERN_CLOSE_FINAL_SIZE, "stream final size changed");
		break;
	case TERN_EMALFORMED:
		tern_session_fail(s, TERN_CLOSE_PROTOCOL_VIOLATION, "misplaced message end");
		break;
	case TERN_ETOOBIG:
		tern_session_fail(s, TERN_CLOSE_MESSAGE_TOO_BIG, "message over 64 MiB");
		break;
	default:
		tern_session_fail(s, TERN_CLOSE_INTERNAL, "out of memory");
		break;
	}
	(void)id;
	return TERN_EPROTO;
}

static struct tern_stream *peer_stream(struct tern_session *s, uint64_t id)
{
	struct tern_stream *st;

	if (id >= s->cfg.max_streams) {
		tern_session_fail(s, TERN_CLOSE_STREAM_LIMIT, "stream id beyond max_streams");
		return NULL;
	}
	st = tern_session_stream(s, (uint16_t)id, true);
	if (!st)
		tern_session_fail(s, TERN_CLOSE_INTERNAL, "out of memory");
	return st;
}

static int on_stream(struct tern_session *s, const struct tern_frame *f, tern_time now)
{
	struct tern_stream *st = peer_stream(s, f->u.stream.id);
	uint64_t fresh = 0;
	int rc;

	(void)now;
	if (!st)
		return TERN_EPROTO;
	rc = tern_srecv_frame(&st->rx, f->u.stream.offset, f->u.stream.data, f->u.stream.len,
	                      f->u.stream.msg_end, f->u.stream.fin, &fresh);
	if (rc < 0)
		return stream_error(s, rc, f->u.stream.id);
	if (tern_flow_rx_on_data(&s->frx, fresh) < 0)
		return stream_error(s, TERN_EFLOWCONTROL, f->u.stream.id);
	deliver_stream(s, (uint16_t)f->u.stream.id, st);
	return 0;
}

static int on_ack(struct tern_session *s, const struct tern_frame *f, tern_time now)
{
	struct tern_recovery_cbs cbs = {s, tern_session_on_acked, tern_session_on_lost};

	if (tern_recovery_on_ack(&s->rec, f, now, &cbs) < 0) {
		tern_session_fail(s, TERN_CLOSE_PROTOCOL_VIOLATION, "ACK of an unsent packet");
		return TERN_EPROTO;
	}
	return 0;
}

static int on_close(struct tern_session *s, const struct tern_frame *f, tern_time now)
{
	size_t n = TERN_MIN(f->u.close.reason_len, sizeof(s->close_reason));

	if (s->state == TERN_SESSION_CLOSING) {
		tern_session_enter_closed(s); /* both closed at once: done */
		return 0;
	}
	memcpy(s->close_reason, f->u.close.reason, n);
	s->close = (struct tern_close_info){.remote = true,
	                                    .app = f->type == TERN_FRAME_CLOSE_APP,
	                                    .code = f->u.close.code,
	                                    .reason = s->close_reason,
	                                    .reason_len = n};
	s->state = TERN_SESSION_DRAINING;
	s->close_deadline = now + tern_session_three_pto(s);
	s->ack.immediate = true; /* acknowledge the CLOSE, then stay silent */
	tern_session_report_closed(s);
	return 0;
}

static int on_max_data(struct tern_session *s, const struct tern_frame *f, tern_time now)
{
	(void)now;
	tern_flow_tx_on_max(&s->ftx, f->u.credit.max);
	return 0;
}

static int on_max_stream_data(struct tern_session *s, const struct tern_frame *f, tern_time now)
{
	struct tern_stream *st = peer_stream(s, f->u.credit.id);

	(void)now;
	if (!st)
		return TERN_EPROTO;
	tern_ssend_on_max_data(&st->tx, f->u.credit.max);
	return 0;
}

static int on_stream_blocked(struct tern_session *s, const struct tern_frame *f, tern_time now)
{
	(void)now;
	return peer_stream(s, f->u.credit.id) ? 0 : TERN_EPROTO;
}

static int on_nothing(struct tern_session *s, const struct tern_frame *f, tern_time now)
{
	(void)s, (void)f, (void)now; /* PADDING, PING, DATA_BLOCKED */
	return 0;
}

static int on_datagram(struct tern_session *s, const struct tern_frame *f, tern_time now)
{
	int lane = -1;

	(void)now;
	if (f->type == TERN_FRAME_DATAGRAM_SEQ) {
		if (!tern_dgram_lanes_accept(&s->lanes, f->u.dgram.lane, f->u.dgram.seq)) {
			s->stats.dgrams_dropped_stale++;
			return 0;
		}
		lane = (int)f->u.dgram.lane;
	}
	s->stats.dgrams_recv++;
	if (s->cbs.datagram)
		s->cbs.datagram(s->cbs.ctx, s, lane, f->u.dgram.data, f->u.dgram.len);
	return 0;
}

/* The peer has moved: new congestion and RTT state for the new path. */
static void migrate(struct tern_session *s, tern_time now)
{
	tern_path_migrate(&s->path);
	tern_recovery_new_path(&s->rec, now);
	tern_pacer_init(&s->pacer, 10 * s->cfg.max_packet);
}

/* The response goes back to the address the challenge came from. */
static int on_path_challenge(struct tern_session *s, const struct tern_frame *f, tern_time now)
{
	(void)now;
	if (s->rx_from == TERN_PATH_FROM_CAND) {
		tern_path_on_challenge(&s->path, f->u.path.data);
		return 0;
	}
	memcpy(s->path_response, f->u.path.data, TERN_PATH_DATA_LEN);
	s->path_response_pending = true;
	return 0;
}

static int on_path_response(struct tern_session *s, const struct tern_frame *f, tern_time now)
{
	if (tern_path_on_response(&s->path, f->u.path.data, s->rx_from) &&
	    tern_path_ready(&s->path))
		migrate(s, now);
	return 0;
}

/* KEY_UPDATE names the generation the peer sends under; the packet carrying
 * it must have opened under that very generation (protocol.md §5.4). */
static int on_key_update(struct tern_session *s, const struct tern_frame *f, tern_time now)
{
	(void)now;
	if (f->u.key_update.generation == s->rx_opened_gen)
		return 0;
	tern_session_fail(s, TERN_CLOSE_KEY_UPDATE,
	                  "KEY_UPDATE generation differs from the K bit's");
	return TERN_EPROTO;
}

static const frame_fn handlers[] = {
        [TERN_FRAME_PADDING] = on_nothing,
        [TERN_FRAME_PING] = on_nothing,
        [TERN_FRAME_ACK] = on_ack,
        [TERN_FRAME_CLOSE] = on_close,
        [TERN_FRAME_CLOSE_APP] = on_close,
        [TERN_FRAME_MAX_DATA] = on_max_data,
        [TERN_FRAME_MAX_STREAM_DATA] = on_max_stream_data,
        [TERN_FRAME_DATA_BLOCKED] = on_nothing,
        [TERN_FRAME_STREAM] = on_stream,
        [TERN_FRAME_DATAGRAM] = on_datagram,
        [TERN_FRAME_DATAGRAM_SEQ] = on_datagram,
        [TERN_FRAME_PATH_CHALLENGE] = on_path_challenge,
        [TERN_FRAME_PATH_RESPONSE] = on_path_response,
        [TERN_FRAME_KEY_UPDATE] = on_key_update,
        [TERN_FRAME_STREAM_DATA_BLOCKED] = on_stream_blocked,
};

/* In CLOSING and DRAINING only ACK and CLOSE frames matter. */
static bool frame_wanted(const struct tern_session *s, uint8_t type)
{
	if (s->state <= TERN_SESSION_ESTABLISHED)
		return true;
	return type == TERN_FRAME_ACK || type == TERN_FRAME_CLOSE || type == TERN_FRAME_CLOSE_APP;
}

/* RFC 9000 §9.1: a packet of only these frames probes a path; any other
 * frame shows where the peer sends from. */
static bool probing_frame(uint8_t type)
{
	return type == TERN_FRAME_PATH_CHALLENGE || type == TERN_FRAME_PATH_RESPONSE ||
	       type == TERN_FRAME_PADDING;
}

static int process_frames(struct tern_session *s, const uint8_t *p, const uint8_t *end,
                          tern_time now, bool *eliciting, bool *probing)
{
	struct tern_frame f;
	int rc;

	*eliciting = false;
	*probing = true;
	while (p < end) {
		if (tern_frame_decode(&p, end, &f) < 0) {
			tern_session_fail(s, TERN_CLOSE_FRAME_ENCODING, "malformed frame");
			return TERN_EMALFORMED;
		}
		*eliciting |= tern_frame_is_ack_eliciting(f.type);
		*probing &= probing_frame(f.type);
		if (f.type >= TERN_ARRAY_LEN(handlers) || !handlers[f.type] ||
		    !frame_wanted(s, f.type))
			continue;
		rc = handlers[f.type](s, &f, now);
		if (rc < 0)
			return rc;
		if (s->state == TERN_SESSION_CLOSED)
			return 0;
	}
	return 0;
}

/* ---- packet protection: key choice, rotation, limits (protocol.md §5) ---- */

/* The rx key for a packet: K equal to the current generation's low bit is the
 * current key; otherwise a pn below every pn of the current generation is the
 * previous generation's (NULL once dropped), anything else the next one's. */
static const struct tern_aead *rx_key(const struct tern_session *s, unsigned key_phase, uint64_t pn,
                                      uint64_t *gen)
{
	uint64_t g = s->keys.generation;

	if (key_phase == (g & 1)) {
		*gen = g;
		return s->keys.rx;
	}
	if (pn < s->rx_first_pn) {
		*gen = g - 1; /* rx_first_pn is 0 in generation 0: never reached there */
		return s->rx_prev;
	}
	*gen = g + 1;
	return s->keys_next.rx;
}

/* The peer's next generation opened a packet: the previous rx key is kept 3
 * PTO for stragglers, the next generation becomes current (and our tx moves
 * to it too if we had not updated first: the response), and the one after
 * is precomputed. */
static int rotate_rx(struct tern_session *s, uint64_t pn, tern_time now)
{
	bool respond = s->tx_gen == s->keys.generation;

	if (s->keys_next.generation != s->keys.generation + 1) /* precompute failed */
		return TERN_ENOMEM;
	tern_aead_free(s->rx_prev);
	s->rx_prev = s->keys.rx;
	s->rx_prev_drop = now + tern_session_three_pto(s);
	s->keys.rx = NULL;
	tern_keys_free(&s->keys);
	s->keys = s->keys_next;
	memset(&s->keys_next, 0, sizeof(s->keys_next));
	s->rx_first_pn = s->rx_largest_pn = pn;
	s->rx_gen_acked = false;
	if (respond) {
		s->tx_gen = s->keys.generation;
		s->tx_gen_first_pn = s->rec.next_pn;
		s->tx_gen_pkts = 0;
		s->tx_gen_start = now;
		s->key_update_pending = true;
	}
	return tern_keys_next(&s->keys, &s->keys_next);
}

static void on_auth_failure(struct tern_session *s)
{
	s->stats.drop_auth++;
	if (++s->auth_failures >= s->cfg.aead_integrity_limit)
		tern_session_fail(s, TERN_CLOSE_AEAD_LIMIT, "AEAD integrity limit reached");
}

/* After a packet opened under generation gen: track the current
 * generation's pn range, or rotate to the next. */
static int on_opened(struct tern_session *s, uint64_t gen, uint64_t pn, tern_time now)
{
	s->rx_opened_gen = gen;
	if (gen == s->keys.generation) {
		s->rx_first_pn = TERN_MIN(s->rx_first_pn, pn);
		s->rx_largest_pn = TERN_MAX(s->rx_largest_pn, pn);
		return 0;
	}
	if (gen != s->keys.generation + 1)
		return 0; /* the previous generation */
	if (pn < s->rx_largest_pn) {
		tern_session_fail(s, TERN_CLOSE_KEY_UPDATE, "new key generation below an old pn");
		return TERN_EPROTO;
	}
	/* The peer starts a generation (we did not: tx is on the current one)
	 * before any ACK of ours under the current one went out: it cannot
	 * have seen its last update confirmed (RFC 9001 §6.5). Refused, so
	 * that no peer makes us derive keys on every packet. */
	if (s->tx_gen == s->keys.generation && !s->rx_gen_acked) {
		tern_session_fail(s, TERN_CLOSE_KEY_UPDATE, "key update before the last was acked");
		return TERN_EPROTO;
	}
	if (rotate_rx(s, pn, now) < 0) {
		tern_session_fail(s, TERN_CLOSE_INTERNAL, "out of memory for keys");
		return TERN_EPROTO;
	}
	return 0;
}

/* Header, replay and duplicate checks, AEAD open under the key the K bit and
 * pn select. Returns payload length or < 0. */
static int open_packet(struct tern_session *s, uint8_t *pkt, size_t len, uint64_t *pn,
                       size_t *hdr_len, tern_time now)
{
	const struct tern_aead *key;
	struct tern_data_hdr h;
	uint64_t gen;
	int n;

	if (tern_wire_data_hdr_decode(pkt, len, &h) < 0 ||
	    memcmp(h.dcid, s->local_cid, TERN_CID_LEN) != 0) {
		s->stats.drop_malformed++;
		return TERN_EMALFORMED;
	}
	*pn = tern_wire_pn_expand(s->largest_rx_pn, h.pn_trunc, h.pn_len);
	if (!tern_replay_check(&s->replay, *pn) || tern_ackgen_is_dup(&s->ack, *pn)) {
		s->stats.drop_duplicate++;
		return TERN_EAGAIN;
	}
	tern_session_keys_tick(s, now);
	key = rx_key(s, h.key_phase, *pn, &gen);
	n = key ? tern_aead_open(key, *pn, pkt, h.hdr_len, pkt + h.hdr_len, len - h.hdr_len)
	        : TERN_ECRYPTO;
	if (n < 0) {
		if (key)
			on_auth_failure(s);
		else
			s->stats.drop_auth++; /* its generation's key is gone */
		return TERN_ECRYPTO;
	}
	*hdr_len = h.hdr_len;
	tern_replay_update(&s->replay, *pn);
	n = on_opened(s, gen, *pn, now) < 0 ? TERN_EPROTO : n;
	return n;
}

static void on_authenticated(struct tern_session *s, uint64_t pn, size_t len, tern_time now)
{
	if (s->largest_rx_pn == UINT64_MAX || pn > s->largest_rx_pn)
		s->largest_rx_pn = pn;
	s->last_recv = now;
	s->stats.pkts_recv++;
	s->stats.bytes_recv += len;
	s->amp_budget = UINT64_MAX; /* the peer holds our keys: its address is proven */
	if (s->state == TERN_SESSION_HANDSHAKING) {
		s->state = TERN_SESSION_ESTABLISHED;
		tern_admit_confirm(&s->admit); /* no longer half-open */
		if (s->cbs.established)
			s->cbs.established(s->cbs.ctx, s);
	}
}

/* A non-probing packet with the largest packet number so far: the peer
 * sends from where it came (RFC 9000 §9.3). */
static void on_path_active(struct tern_session *s, tern_time now)
{
	tern_path_on_active(&s->path, s->rx_from);
	if (tern_path_ready(&s->path))
		migrate(s, now);
}

int tern_session_recv_from(struct tern_session *s, uint8_t *pkt, size_t len,
                           const struct tern_addr *from, tern_time now)
{
	uint64_t pn;
	size_t hdr_len;
	bool eliciting, probing, largest;
	int n, rc;

	if (s->state == TERN_SESSION_CLOSED) {
		s->stats.drop_state++;
		return TERN_ECLOSED;
	}
	n = open_packet(s, pkt, len, &pn, &hdr_len, now);
	if (n < 0)
		return n;
	largest = s->largest_rx_pn == UINT64_MAX || pn > s->largest_rx_pn;
	on_authenticated(s, pn, len, now);
	s->rx_from = tern_path_on_recv(&s->path, from, len, now, &s->rec.rtt);
	rc = process_frames(s, pkt + hdr_len, pkt + hdr_len + n, now, &eliciting, &probing);
	if (tern_unlikely(s->path.probing) && rc == 0 && largest && !probing &&
	    s->state == TERN_SESSION_ESTABLISHED)
		on_path_active(s, now);
	if (s->state == TERN_SESSION_CLOSING && eliciting)
		s->close_pending = true; /* the peer is still talking: repeat CLOSE */
	if (rc < 0 || s->state == TERN_SESSION_CLOSED)
		return rc;
	if (tern_ackgen_on_packet(&s->ack, pn, eliciting, now) < 0)
		tern_session_fail(s, TERN_CLOSE_INTERNAL, "out of memory");
	return 0;
}

int tern_session_recv(struct tern_session *s, uint8_t *pkt, size_t len, tern_time now)
{
	return tern_session_recv_from(s, pkt, len, NULL, now);
}
