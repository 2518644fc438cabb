/* Verified transfer workload (see xfer.h). Message sizes and contents are
 * pure functions of (seed, stream, index), so the receiver regenerates what
 * it expects instead of storing what was sent. */
#include <stdio.h>
#include <stdlib.h>

#include "xfer.h"

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t msg_key(const struct xfer *x, unsigned stream, uint64_t idx)
{
	return mix(x->cfg.seed ^ mix(((uint64_t)stream << 48) ^ idx));
}

static size_t msg_len(const struct xfer *x, unsigned stream, uint64_t idx, uint64_t left)
{
	size_t span = x->cfg.max_msg - x->cfg.min_msg + 1;
	size_t len = x->cfg.min_msg + (size_t)(msg_key(x, stream, idx) % span);
	return len < left ? len : (size_t)left;
}

static void fill(uint8_t *p, size_t len, uint64_t key)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)((key >> ((i & 7) * 8)) + i + (i >> 8));
}

static bool same(const uint8_t *p, size_t len, uint64_t key)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != (uint8_t)((key >> ((i & 7) * 8)) + i + (i >> 8)))
			return false;
	return true;
}

static void fail(struct xfer *x, const char *what, unsigned stream, uint64_t idx)
{
	if (x->errors++ == 0)
		snprintf(x->first_error, sizeof(x->first_error), "%s (stream %u, index %llu)", what,
		         stream, (unsigned long long)idx);
}

int xfer_init(struct xfer *x, const struct xfer_cfg *cfg)
{
	memset(x, 0, sizeof(*x));
	x->cfg = *cfg;
	if (cfg->streams == 0 || cfg->streams > XFER_MAX_STREAMS || cfg->min_msg == 0 ||
	    cfg->max_msg < cfg->min_msg || cfg->max_msg > TERN_MAX_MESSAGE) {
		snprintf(x->first_error, sizeof(x->first_error),
		         "streams must be 1..%d and 1 <= min_msg <= max_msg <= 64 MiB",
		         XFER_MAX_STREAMS);
		return TERN_EINVAL;
	}
	x->scratch = malloc(cfg->max_msg > XFER_DGRAM_LEN ? cfg->max_msg : XFER_DGRAM_LEN);
	x->dgram_seen = calloc(cfg->dgrams / 8 + 1, 1);
	if (!x->scratch || !x->dgram_seen) {
		xfer_free(x);
		return TERN_ENOMEM;
	}
	for (unsigned k = 0; k < cfg->streams; k++)
		x->tx[k].left =
		        cfg->bytes / cfg->streams + (k == 0 ? cfg->bytes % cfg->streams : 0);
	return 0;
}

void xfer_free(struct xfer *x)
{
	free(x->scratch);
	free(x->dgram_seen);
	x->scratch = x->dgram_seen = NULL;
}

/* One datagram per (bytes / dgrams) stream bytes queued. */
static void pump_dgrams(struct xfer *x, struct tern_session *s)
{
	uint64_t every = x->cfg.dgrams ? x->cfg.bytes / x->cfg.dgrams + 1 : 0;

	while (x->dgrams_sent < x->cfg.dgrams &&
	       (x->queued >= every * x->dgrams_sent || x->queued == x->cfg.bytes)) {
		unsigned i = x->dgrams_sent;
		int lane = (i % 2) ? (int)(i / 2 % XFER_DGRAM_LANES) : -1;
		tern_put_be64(x->scratch, i);
		fill(x->scratch + 8, XFER_DGRAM_LEN - 8, mix(x->cfg.seed + i));
		if (tern_session_send_dgram(s, lane, x->scratch, XFER_DGRAM_LEN) < 0)
			return;
		x->dgrams_sent++;
	}
}

static bool pump_stream(struct xfer *x, struct tern_session *s, unsigned k)
{
	while (x->tx[k].left > 0) {
		size_t len = msg_len(x, k, x->tx[k].idx, x->tx[k].left);
		fill(x->scratch, len, msg_key(x, k, x->tx[k].idx));
		if (tern_session_send(s, (uint16_t)k, x->scratch, len) < 0)
			return false;
		x->tx[k].idx++;
		x->tx[k].left -= len;
		x->queued += len;
		pump_dgrams(x, s);
	}
	if (!x->tx[k].finished && tern_session_finish(s, (uint16_t)k) == 0)
		x->tx[k].finished = true;
	return true;
}

void xfer_pump(struct xfer *x, struct tern_session *s)
{
	for (unsigned k = 0; k < x->cfg.streams; k++)
		pump_stream(x, s, k);
	pump_dgrams(x, s);
}

static void on_writable(void *ctx, struct tern_session *s, uint16_t stream)
{
	struct xfer *x = ctx;

	if (stream == TERN_STREAM_DGRAM)
		pump_dgrams(x, s);
	else if (stream < x->cfg.streams)
		pump_stream(x, s, stream);
}

static void on_message(void *ctx, struct tern_session *s, uint16_t stream, const uint8_t *msg,
                       size_t len)
{
	struct xfer *x = ctx;
	uint64_t idx, expect_left;

	(void)s;
	if (stream >= x->cfg.streams) {
		fail(x, "message on an unused stream", stream, 0);
		return;
	}
	idx = x->rx[stream].idx++;
	expect_left = x->cfg.bytes / x->cfg.streams +
	              (stream == 0 ? x->cfg.bytes % x->cfg.streams : 0) - x->rx[stream].bytes;
	if (len != msg_len(x, stream, idx, expect_left))
		fail(x, "message length differs", stream, idx);
	else if (!same(msg, len, msg_key(x, stream, idx)))
		fail(x, "message content differs", stream, idx);
	x->rx[stream].bytes += len;
	x->delivered += len;
}

static void on_fin(void *ctx, struct tern_session *s, uint16_t stream)
{
	struct xfer *x = ctx;
	uint64_t want =
	        x->cfg.bytes / x->cfg.streams + (stream == 0 ? x->cfg.bytes % x->cfg.streams : 0);

	(void)s;
	if (stream >= x->cfg.streams || x->rx[stream].fin) {
		fail(x, "unexpected or repeated FIN", stream, 0);
		return;
	}
	if (x->rx[stream].bytes != want)
		fail(x, "FIN before all bytes", stream, x->rx[stream].bytes);
	x->rx[stream].fin = true;
	x->streams_done++;
}

static void on_dgram(void *ctx, struct tern_session *s, int lane, const uint8_t *d, size_t len)
{
	struct xfer *x = ctx;
	uint64_t i;

	(void)s;
	if (len != XFER_DGRAM_LEN)
		return fail(x, "datagram length differs", 0, len);
	i = tern_get_be64(d);
	if (i >= x->cfg.dgrams || !same(d + 8, len - 8, mix(x->cfg.seed + i)))
		return fail(x, "datagram content differs", 0, i);
	if (x->dgram_seen[i / 8] & (1u << (i % 8)))
		return fail(x, "datagram delivered twice", 0, i);
	x->dgram_seen[i / 8] |= (uint8_t)(1u << (i % 8));
	if (lane >= 0) {
		if (lane >= XFER_DGRAM_LANES || (x->lane_last[lane] && i <= x->lane_last[lane] - 1))
			return fail(x, "sequenced datagram out of order", (unsigned)lane, i);
		x->lane_last[lane] = i + 1;
	}
	x->dgrams_recv++;
}

void xfer_sender_cbs(struct xfer *x, struct tern_session_cbs *cbs)
{
	memset(cbs, 0, sizeof(*cbs));
	cbs->ctx = x;
	cbs->writable = on_writable;
}

void xfer_receiver_cbs(struct xfer *x, struct tern_session_cbs *cbs)
{
	memset(cbs, 0, sizeof(*cbs));
	cbs->ctx = x;
	cbs->message = on_message;
	cbs->stream_fin = on_fin;
	cbs->datagram = on_dgram;
}
