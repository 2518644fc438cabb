/* What a peer can make a session hold (docs/protocol.md §7.4).
 *
 * A stream's receive ring is bounded by its window, and connection credit
 * comes back as bytes fall in order in it. A message of half the window or
 * more leaves the ring for an assembly buffer as it arrives, so that 64 MiB
 * messages flow through small windows; without a rule those bytes, already
 * credited, would be held for as long as the peer never finishes the
 * message, on every stream at once. The rule:
 *   - one stream at a time (`assembling`) may assemble beyond the
 *     connection window, up to the 64 MiB message limit: a message larger
 *     than the window must be able to complete;
 *   - any other stream's assembly bytes are held against the connection
 *     window until their message is delivered (frx.held: MAX_DATA stops
 *     growing by that much), and may take at most half of it, so the other
 *     half keeps credit flowing for the rings and the assembling stream;
 *   - a stream that finds no room waits with its ring full (its sender is
 *     stream-blocked) and is retried when a delivery gives room back, the
 *     streams after the one that gave it first.
 * So a session holds at most its rings, half a connection window of held
 * assembly and one message; the engine's memory budget bounds the rest. */
#include "session.h"

uint64_t tern_session_assembly_room(const struct tern_session *s, uint16_t id)
{
	uint64_t half = s->frx.window / 2;

	if (s->assembling < 0 || s->assembling == id)
		return UINT64_MAX;
	return half > s->frx.held ? half - s->frx.held : 0;
}

/* Gives back what the stream's delivered message held. Returns true if
 * anything came back. */
static bool release(struct tern_session *s, uint16_t id, struct tern_stream *st)
{
	bool back = st->charged > 0 || s->assembling == id;
	uint64_t max;

	if (st->charged && tern_flow_rx_hold(&s->frx, -(int64_t)st->charged, &max))
		s->max_data_pending = true;
	st->charged = 0;
	if (s->assembling == id)
		s->assembling = -1;
	return back;
}

bool tern_session_assembly_after(struct tern_session *s, uint16_t id, struct tern_stream *st,
                                 uint64_t msg_start, size_t msg_len)
{
	bool back = false, wait = tern_srecv_wants_room(&st->rx);

	if (st->rx.msg_start != msg_start) { /* the message being assembled went up */
		back = release(s, id, st);
		msg_len = 0;
	}
	if (st->rx.msg_len > msg_len) {
		if (s->assembling < 0)
			s->assembling = id;
		if (s->assembling != id) {
			st->charged += st->rx.msg_len - msg_len;
			(void)tern_flow_rx_hold(&s->frx, (int64_t)(st->rx.msg_len - msg_len), NULL);
		}
	}
	if (wait != st->assembly_wait) {
		st->assembly_wait = wait;
		s->assembly_waiting = (uint16_t)(s->assembly_waiting + (wait ? 1 : -1));
	}
	return back && s->assembly_waiting > 0;
}

uint64_t tern_session_rx_undelivered(const struct tern_session *s)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < s->streams_hi; i++)
		if (s->streams[i])
			n += s->streams[i]->rx.highest - s->streams[i]->rx.msg_start;
	return n;
}
