/* The send half of a session: assemble the next packet in priority order
 * (ACK, control frames, datagrams, then stream data round-robin across
 * streams, retransmissions before new bytes inside each stream), subject to
 * the congestion window and the pacer; seal it under the current sending
 * generation (starting a key update when one is due and allowed, and never
 * past the key's usage limit); record what it carried so
 * that acks and losses reach the right stream; and the ack/loss callbacks
 * that consume those records. Two things guard the path: probe packets
 * (PATH_CHALLENGE / PATH_RESPONSE only) go to a candidate address being
 * validated, and a packet number is skipped now and then so that an ACK of
 * packets the peer never received gives it away (docs/protocol.md §8.4). */
#include "session.h"

struct builder {
	uint8_t *buf, *p, *end;
	size_t hdr_len;
	struct tern_sent_pkt *rec;
	bool eliciting;
	bool full; /* out of space or metas */
};

static bool add_meta(struct builder *b, const struct tern_frame_meta *m)
{
	struct tern_sent_pkt *r = b->rec;

	if (r->nmeta > 0 && m->kind == TERN_META_STREAM) {
		struct tern_frame_meta *last = &r->meta[r->nmeta - 1];
		if (last->kind == TERN_META_STREAM && last->id == m->id && !last->fin &&
		    last->off + last->len == m->off) {
			last->len += m->len;
			last->fin = m->fin;
			return true;
		}
	}
	if (r->nmeta == TERN_PKT_MAX_META) {
		b->full = true;
		return false;
	}
	r->meta[r->nmeta++] = *m;
	return true;
}

/* Appends an encoded frame of n bytes (0 = did not fit) and its meta. */
static bool commit_frame(struct builder *b, size_t n, const struct tern_frame_meta *m)
{
	if (n == 0) {
		b->full = true;
		return false;
	}
	if (m && m->kind != TERN_META_NONE && !add_meta(b, m))
		return false;
	b->eliciting |= tern_frame_is_ack_eliciting(b->p[0]);
	b->p += n;
	return true;
}

static size_t room(const struct builder *b)
{
	return (size_t)(b->end - b->p);
}

static bool stream_has_data(const struct tern_session *s)
{
	for (unsigned i = 0; i < s->streams_hi; i++) {
		const struct tern_stream *st = s->streams[i];
		if (st && tern_ssend_pending(&st->tx, tern_flow_tx_credit(&s->ftx)))
			return true;
	}
	return false;
}

static bool control_pending(const struct tern_session *s)
{
	if (s->max_data_pending || s->ping_pending || s->path_response_pending || s->probes ||
	    s->data_blocked_pending || s->key_update_pending)
		return true;
	for (unsigned i = 0; i < s->streams_hi; i++) {
		const struct tern_stream *st = s->streams[i];
		if (st && (st->max_data_pending || st->blocked_pending))
			return true;
	}
	return false;
}

/* The amplification limit is spent: nothing leaves until the peer's next
 * packet proves its address (or adds to the budget). */
static bool amp_blocked(const struct tern_session *s)
{
	return s->amp_budget < TERN_DATA_HEADER_MAX + TERN_AEAD_TAG_LEN + 64;
}

bool tern_session_send_blocked(const struct tern_session *s)
{
	return amp_blocked(s) || tern_recovery_full(&s->rec);
}

/* A queued datagram can leave. Each fits a packet, but before the peer's
 * address is validated the amplification limit may leave less room than the
 * next one needs: it then waits for the peer's packet. */
static bool dgram_ready(const struct tern_session *s)
{
	const struct tern_dgram_slot *d;

	if (!s->dq.n || tern_likely(s->amp_budget >= s->cfg.max_packet))
		return s->dq.n > 0;
	d = tern_dgram_peek(&s->dq);
	return (uint64_t)d->len + TERN_DGRAM_FRAME_MAX + TERN_DATA_HEADER_MAX + TERN_AEAD_TAG_LEN <=
	       s->amp_budget;
}

/* When data may next leave under cwnd and pacing; NEVER if cwnd is full. */
static tern_time data_time(const struct tern_session *s, tern_time now)
{
	struct tern_pacer pacer = s->pacer;

	if (s->probes)
		return now;
	if (tern_recovery_cwnd_avail(&s->rec) == 0)
		return TERN_TIME_NEVER;
	return s->cfg.no_pacing ? now : tern_pacer_next(&pacer, s->cfg.max_packet, now);
}

tern_time tern_session_send_ready(const struct tern_session *s, tern_time now)
{
	tern_time ack = s->ack.deadline;

	if (tern_unlikely(tern_session_send_blocked(s)))
		return TERN_TIME_NEVER; /* a receive changes that, not time */
	if (tern_ackgen_pending(&s->ack) && tern_ackgen_due(&s->ack, now))
		ack = now;
	switch (s->state) {
	case TERN_SESSION_CLOSED:
		return TERN_TIME_NEVER;
	case TERN_SESSION_DRAINING:
		return ack;
	case TERN_SESSION_CLOSING:
		return s->close_pending ? now : ack;
	default:
		break;
	}
	if (control_pending(s))
		return now;
	if (dgram_ready(s) || stream_has_data(s))
		ack = TERN_MIN(ack, data_time(s, now));
	return ack;
}

static void write_ack(struct tern_session *s, struct builder *b, tern_time now)
{
	struct tern_frame_meta m = {.kind = TERN_META_ACK};
	size_t n = tern_ackgen_write(&s->ack, b->p, room(b), now, &m.off);

	if (n && commit_frame(b, n, &m))
		s->rx_gen_acked = true; /* the peer may start the next generation */
}

static void write_close(struct tern_session *s, struct builder *b)
{
	struct tern_frame_meta m = {.kind = TERN_META_CLOSE};
	size_t n = tern_frame_encode_close(b->p, room(b), s->close.app, s->close.code,
	                                   s->close.reason, s->close.reason_len);

	if (commit_frame(b, n, &m))
		s->close_pending = false;
}

static void write_stream_credit(struct tern_session *s, struct builder *b)
{
	for (unsigned i = 0; i < s->streams_hi && !b->full; i++) {
		struct tern_stream *st = s->streams[i];
		struct tern_frame_meta m = {.kind = TERN_META_MAX_STREAM_DATA, .id = (uint16_t)i};
		if (!st)
			continue;
		if (st->max_data_pending) {
			m.off = st->rx.max_data;
			size_t n = tern_frame_encode_credit(b->p, room(b),
			                                    TERN_FRAME_MAX_STREAM_DATA, i, m.off);
			if (commit_frame(b, n, &m))
				st->max_data_pending = false;
		}
		if (st->blocked_pending && !b->full) {
			m.kind = TERN_META_BLOCKED;
			size_t n = tern_frame_encode_credit(
			        b->p, room(b), TERN_FRAME_STREAM_DATA_BLOCKED, i, st->tx.max_data);
			if (commit_frame(b, n, &m))
				st->blocked_pending = false;
		}
	}
}

/* Announces the generation we now send under; re-sent if lost while it is
 * still the current one. */
static void write_key_update(struct tern_session *s, struct builder *b)
{
	struct tern_frame_meta m = {.kind = TERN_META_KEY_UPDATE, .off = s->tx_gen};
	size_t n = tern_frame_encode_key_update(b->p, room(b), s->tx_gen);

	if (commit_frame(b, n, &m))
		s->key_update_pending = false;
}

static void write_control(struct tern_session *s, struct builder *b)
{
	struct tern_frame_meta m = {.kind = TERN_META_MAX_DATA};
	size_t n;

	if (s->key_update_pending)
		write_key_update(s, b);
	if (s->path_response_pending && !b->full) {
		n = tern_frame_encode_path(b->p, room(b), true, s->path_response);
		if (commit_frame(b, n, &(struct tern_frame_meta){.kind = TERN_META_PATH}))
			s->path_response_pending = false;
	}
	if (s->max_data_pending && !b->full) {
		m.off = s->frx.max;
		n = tern_frame_encode_credit(b->p, room(b), TERN_FRAME_MAX_DATA, 0, m.off);
		if (commit_frame(b, n, &m))
			s->max_data_pending = false;
	}
	if (s->data_blocked_pending && !b->full) {
		n = tern_frame_encode_credit(b->p, room(b), TERN_FRAME_DATA_BLOCKED, 0, s->ftx.max);
		if (commit_frame(b, n, &(struct tern_frame_meta){.kind = TERN_META_BLOCKED}))
			s->data_blocked_pending = false;
	}
	write_stream_credit(s, b);
}

static void write_dgrams(struct tern_session *s, struct builder *b)
{
	const struct tern_dgram_slot *d;
	bool popped = false;

	while (!b->full && (d = tern_dgram_peek(&s->dq)) != NULL) {
		size_t n = d->sequenced
		                   ? tern_frame_encode_datagram_seq(b->p, room(b), d->lane, d->seq,
		                                                    d->data, d->len)
		                   : tern_frame_encode_datagram(b->p, room(b), d->data, d->len);
		struct tern_frame_meta m = {.kind = TERN_META_DATAGRAM, .len = d->len};
		if (!commit_frame(b, n, &m))
			break;
		tern_dgram_pop(&s->dq);
		popped = true;
	}
	if (popped && s->dq_want_writable) {
		s->dq_want_writable = false;
		if (s->cbs.writable)
			s->cbs.writable(s->cbs.ctx, s, TERN_STREAM_DGRAM);
	}
}

/* Notes flow-control blocking once per limit so the peer can tell. */
static void note_blocked(struct tern_session *s, struct tern_stream *st)
{
	bool unsent = st->tx.sent_off < st->tx.write_off;

	if (unsent && st->tx.sent_off >= st->tx.max_data && st->tx.blocked_at != st->tx.max_data) {
		st->tx.blocked_at = st->tx.max_data;
		st->blocked_pending = true;
	}
	if (unsent && tern_flow_tx_credit(&s->ftx) == 0 && s->ftx.blocked_at != s->ftx.max) {
		s->ftx.blocked_at = s->ftx.max;
		s->data_blocked_pending = true;
	}
}

/* Fills the packet from one stream; returns false when the packet is full. */
static bool write_one_stream(struct tern_session *s, struct builder *b, uint16_t id,
                             struct tern_stream *st)
{
	for (;;) {
		struct tern_frame_meta m;
		uint64_t fresh = 0;
		size_t n = tern_ssend_emit(&st->tx, id, b->p, room(b), tern_flow_tx_credit(&s->ftx),
		                           &m, &fresh);
		if (n == 0)
			break;
		tern_flow_tx_on_sent(&s->ftx, fresh); /* charged once, even if re-queued */
		if (!add_meta(b, &m)) {
			/* no meta slot: un-send by reporting the range lost */
			tern_ssend_on_lost(&st->tx, &m);
			return false;
		}
		b->p += n;
		b->eliciting = true;
		s->stats.pkts_retransmitted_bytes += m.len - fresh;
	}
	note_blocked(s, st);
	return room(b) > 16;
}

static void write_streams(struct tern_session *s, struct builder *b)
{
	unsigned n = s->streams_hi;

	for (unsigned k = 0; k < n && !b->full; k++) {
		uint16_t id = (uint16_t)((s->rr + k) % n);
		struct tern_stream *st = s->streams[id];
		if (!st)
			continue;
		if (!write_one_stream(s, b, id, st)) {
			s->rr = (uint16_t)((id + 1) % n);
			return;
		}
	}
	if (n)
		s->rr = (uint16_t)((s->rr + 1) % n);
}

static void build_open(struct tern_session *s, struct builder *b, tern_time now)
{
	bool data_now = data_time(s, now) <= now;
	bool other = control_pending(s) || (data_now && (s->dq.n || stream_has_data(s)));

	if (tern_ackgen_pending(&s->ack) && (other || tern_ackgen_due(&s->ack, now)))
		write_ack(s, b, now);
	write_control(s, b);
	if (data_now && !b->full) {
		if (dgram_ready(s)) /* one that does not fit yet must not hold up the streams */
			write_dgrams(s, b);
		write_streams(s, b);
	}
	if ((s->ping_pending || (s->probes && !b->eliciting)) && !b->eliciting)
		commit_frame(b, tern_frame_encode_ping(b->p, room(b)),
		             &(struct tern_frame_meta){.kind = TERN_META_PING});
	s->ping_pending = false;
}

static void build(struct tern_session *s, struct builder *b, tern_time now)
{
	switch (s->state) {
	case TERN_SESSION_DRAINING:
		if (tern_ackgen_pending(&s->ack) && tern_ackgen_due(&s->ack, now))
			write_ack(s, b, now);
		break;
	case TERN_SESSION_CLOSING:
		if (tern_ackgen_pending(&s->ack) &&
		    (s->close_pending || tern_ackgen_due(&s->ack, now)))
			write_ack(s, b, now);
		if (s->close_pending)
			write_close(s, b);
		break;
	default:
		build_open(s, b, now);
		break;
	}
}

/* ---- packet protection: which key seals, key update, limits (protocol.md §5.4) ---- */

static const struct tern_aead *tx_key(const struct tern_session *s)
{
	return s->tx_gen == s->keys.generation ? s->keys.tx : s->keys_next.tx;
}

/* Packets a key may seal before the session must close rather than exceed
 * the confidentiality limit: the rest is kept for the CLOSE. */
static uint64_t close_point(const struct tern_session *s)
{
	uint64_t lim = s->cfg.aead_confidentiality_limit;

	return lim - TERN_MIN(lim / 4, (uint64_t)16);
}

/* We may start a new generation once the peer has acknowledged a packet of
 * the current one, our rx is on it too, the previous rx key is gone and the
 * next keys exist: one update in flight at a time (RFC 9001 §6.5). */
static bool update_allowed(const struct tern_session *s)
{
	return s->tx_gen == s->keys.generation && s->keys_next.tx && !s->rx_prev &&
	       s->rec.largest_acked != UINT64_MAX && s->rec.largest_acked >= s->tx_gen_first_pn;
}

static bool update_due(const struct tern_session *s, tern_time now)
{
	uint64_t after = TERN_MIN(s->cfg.key_update_packets, close_point(s));

	return s->tx_gen_pkts >= after ||
	       (s->cfg.key_update_interval && now - s->tx_gen_start >= s->cfg.key_update_interval);
}

/* Before a packet is built: update the tx key when due and allowed; close
 * with AEAD_LIMIT when the key nears its limit without a way to update; never
 * seal past the limit. Returns 0 to go on, 1 when nothing may be sealed. */
static int key_schedule(struct tern_session *s, uint64_t pn, tern_time now)
{
	tern_session_keys_tick(s, now);
	if (s->state <= TERN_SESSION_ESTABLISHED && update_due(s, now) && update_allowed(s)) {
		s->tx_gen = s->keys.generation + 1;
		s->tx_gen_first_pn = pn;
		s->tx_gen_pkts = 0;
		s->tx_gen_start = now;
		s->key_update_pending = true;
	}
	if (s->tx_gen_pkts >= close_point(s))
		tern_session_fail(s, TERN_CLOSE_AEAD_LIMIT, "AEAD confidentiality limit reached");
	if (s->tx_gen_pkts < s->cfg.aead_confidentiality_limit && tx_key(s))
		return 0;
	if (s->state < TERN_SESSION_CLOSING)
		s->close =
		        (struct tern_close_info){.err = TERN_EPROTO, .code = TERN_CLOSE_AEAD_LIMIT};
	tern_session_enter_closed(s); /* the key is spent: stop using the session */
	return 1;
}

static int seal_and_commit(struct tern_session *s, struct builder *b, size_t cap, tern_time now)
{
	size_t payload = (size_t)(b->p - (b->buf + b->hdr_len));
	int n = tern_aead_seal(tx_key(s), b->rec->pn, b->buf, b->hdr_len, b->buf + b->hdr_len,
	                       payload, cap - b->hdr_len);

	if (n < 0)
		return n;
	s->tx_gen_pkts++;
	n += (int)b->hdr_len;
	if (s->amp_budget != UINT64_MAX)
		s->amp_budget -= (uint64_t)n;
	tern_recovery_on_sent(&s->rec, b->rec, (size_t)n, b->eliciting, b->eliciting, now);
	if (b->eliciting) {
		s->last_eliciting_sent = now;
		if (s->probes)
			s->probes--;
		tern_pacer_on_sent(&s->pacer, (size_t)n, now);
	}
	s->stats.pkts_sent++;
	s->stats.bytes_sent += (uint64_t)n;
	return n;
}

/* The next skipped packet number, TERN_PN_SKIP_MIN..MAX packets ahead: drawn
 * from the session's CSPRNG so that a peer cannot tell which number to leave
 * out of an ACK of packets it never received. */
static void plan_skip(struct tern_session *s)
{
	uint8_t r[4];

	tern_session_random(s, r, sizeof(r));
	s->rec.skip_pn = s->rec.next_pn + TERN_PN_SKIP_MIN +
	                 tern_get_be32(r) % (TERN_PN_SKIP_MAX - TERN_PN_SKIP_MIN);
}

/* Takes the next packet number and writes the header. Returns 1 to go on,
 * 0 when nothing may be sent now, or a negative TERN_E*. */
static int begin_packet(struct tern_session *s, struct builder *b, uint8_t *buf, size_t cap,
                        tern_time now)
{
	if (s->state == TERN_SESSION_CLOSED)
		return 0;
	if (cap < s->cfg.max_packet)
		return TERN_ENOSPC;
	if (tern_unlikely(s->rec.skip_pn == 0))
		plan_skip(s);
	b->buf = buf;
	b->rec = tern_recovery_next(&s->rec);
	if (!b->rec)
		return 0; /* sent map full: wait for acknowledgements */
	if (key_schedule(s, b->rec->pn, now))
		return 0;
	b->hdr_len = tern_wire_data_hdr_encode(buf, cap, s->peer_cid, b->rec->pn,
	                                       s->rec.largest_acked, (unsigned)(s->tx_gen & 1));
	if (b->hdr_len == 0)
		return TERN_ELIMIT; /* packet numbers exhausted or too far unacknowledged */
	b->p = buf + b->hdr_len;
	return 1;
}

/* A probe for the candidate address: a PATH_CHALLENGE with fresh data when
 * one is due, the PATH_RESPONSE owed there, nothing else. It is not in
 * flight (the old path's controller does not pace it) and not re-sent: a
 * later challenge carries new data. */
static int write_probe(struct tern_session *s, uint8_t *buf, size_t cap, tern_time now)
{
	struct builder b = {0};
	uint8_t data[TERN_PATH_DATA_LEN];
	bool challenge = tern_path_challenge_due(&s->path, now);
	struct tern_frame_meta m = {.kind = TERN_META_PATH};
	int n = begin_packet(s, &b, buf, cap, now);

	if (n <= 0)
		return n;
	b.end = buf + s->cfg.max_packet - TERN_AEAD_TAG_LEN;
	if (challenge) {
		tern_session_random(s, data, sizeof(data));
		commit_frame(&b, tern_frame_encode_path(b.p, room(&b), false, data), &m);
	}
	if (s->path.response_due)
		commit_frame(&b, tern_frame_encode_path(b.p, room(&b), true, s->path.response), &m);
	b.eliciting = false;
	n = seal_and_commit(s, &b, cap, now);
	if (n > 0)
		tern_path_on_probe_sent(&s->path, challenge ? data : NULL, (size_t)n, now,
		                        tern_rtt_pto(&s->rec.rtt));
	return n;
}

int tern_session_write(struct tern_session *s, uint8_t *buf, size_t cap, tern_time now)
{
	struct builder b = {0};
	int rc = begin_packet(s, &b, buf, cap, now);

	if (rc <= 0)
		return rc;
	b.end = buf + TERN_MIN(s->cfg.max_packet, s->amp_budget) - TERN_AEAD_TAG_LEN;
	if (amp_blocked(s))
		return 0;      /* amplification limit: wait for the peer to prove its address */
	if (!s->cfg.no_pacing) /* the controller's rate (BBR), or 5/4 · cwnd / srtt */
		tern_pacer_set_rate(&s->pacer, tern_cc_pacing_rate(&s->rec.cc, &s->rec.rtt),
		                    10 * s->cfg.max_packet);
	build(s, &b, now);
	if (b.p == buf + b.hdr_len)
		return 0;
	return seal_and_commit(s, &b, cap, now);
}

int tern_session_write_to(struct tern_session *s, uint8_t *buf, size_t cap, tern_time now,
                          struct tern_addr *to)
{
	if (tern_unlikely(s->path.probing) && s->state == TERN_SESSION_ESTABLISHED &&
	    tern_path_probe_due(&s->path, now)) {
		*to = s->path.cand;
		return write_probe(s, buf, cap, now);
	}
	*to = s->path.peer;
	return tern_session_write(s, buf, cap, now);
}

/* ---- what happened to a sent packet ---- */

static void stream_acked(struct tern_session *s, const struct tern_frame_meta *m)
{
	struct tern_stream *st = tern_session_stream(s, m->id, false);
	size_t before;

	if (!st)
		return;
	before = tern_ssend_buffered(&st->tx);
	tern_ssend_on_acked(&st->tx, m);
	s->tx_buffered -= before - tern_ssend_buffered(&st->tx);
	st->tx.limit = tern_session_send_limit(s, st);
	if (st->want_writable && tern_ssend_buffered(&st->tx) <= st->tx.limit / 2) {
		st->want_writable = false;
		if (s->cbs.writable)
			s->cbs.writable(s->cbs.ctx, s, m->id);
	}
}

void tern_session_on_acked(void *ctx, const struct tern_sent_pkt *p)
{
	struct tern_session *s = ctx;

	for (unsigned i = 0; i < p->nmeta; i++) {
		const struct tern_frame_meta *m = &p->meta[i];
		if (m->kind == TERN_META_STREAM)
			stream_acked(s, m);
		else if (m->kind == TERN_META_ACK)
			tern_ackgen_on_ack_acked(&s->ack, m->off);
		else if (m->kind == TERN_META_CLOSE && s->state == TERN_SESSION_CLOSING)
			tern_session_enter_closed(s);
	}
}

void tern_session_on_lost(void *ctx, const struct tern_sent_pkt *p)
{
	struct tern_session *s = ctx;

	s->stats.pkts_lost++;
	for (unsigned i = 0; i < p->nmeta; i++) {
		const struct tern_frame_meta *m = &p->meta[i];
		struct tern_stream *st = tern_session_stream(s, m->id, false);
		switch (m->kind) {
		case TERN_META_STREAM:
			if (st)
				tern_ssend_on_lost(&st->tx, m);
			break;
		case TERN_META_MAX_DATA:
			s->max_data_pending |= m->off == s->frx.max;
			break;
		case TERN_META_MAX_STREAM_DATA:
			if (st && m->off == st->rx.max_data)
				st->max_data_pending = true;
			break;
		case TERN_META_CLOSE:
			s->close_pending |= s->state == TERN_SESSION_CLOSING;
			break;
		case TERN_META_DATAGRAM:
			s->stats.dgrams_lost++;
			break;
		case TERN_META_KEY_UPDATE:
			s->key_update_pending |= m->off == s->tx_gen;
			break;
		default:
			break; /* ACK, PING, BLOCKED, PATH: never repeated as such */
		}
	}
}
