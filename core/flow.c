/* Connection-level flow control. The receiver keeps `window` bytes of credit
 * open ahead of what the application has consumed, less what it still holds
 * undelivered (`held`), but re-advertises only once half of that has been
 * used up, so MAX_DATA frames go out about twice per window rather than on
 * every read. The sender side is a credit counter plus a record of which
 * limit it last reported being blocked at, so DATA_BLOCKED goes out once per
 * peer limit. */
#include "flow.h"

void tern_flow_rx_init(struct tern_flow_rx *f, uint64_t window)
{
	f->window = window;
	f->max = window;
	f->received = 0;
	f->consumed = 0;
	f->epoch = 0;
	f->epoch_consumed = 0;
	f->held = 0;
}

int tern_flow_rx_on_data(struct tern_flow_rx *f, uint64_t new_bytes)
{
	if (f->received > f->max || new_bytes > f->max - f->received)
		return TERN_EFLOWCONTROL;
	f->received += new_bytes;
	return 0;
}

/* The credit kept open: the window less the bytes held undelivered. */
static uint64_t open_window(const struct tern_flow_rx *f)
{
	return f->window > f->held ? f->window - f->held : 0;
}

/* An update is due once half the open window (or more) has been consumed. */
static bool update_due(const struct tern_flow_rx *f, uint64_t consumed)
{
	return consumed >= f->max || f->max - consumed <= open_window(f) / 2;
}

bool tern_flow_rx_consume(struct tern_flow_rx *f, uint64_t bytes, uint64_t *new_max)
{
	uint64_t next, open = open_window(f);

	f->consumed += bytes;
	if (!update_due(f, f->consumed))
		return false;
	next = open > UINT64_MAX - f->consumed ? UINT64_MAX : f->consumed + open;
	if (next <= f->max)
		return false;
	f->max = next;
	if (new_max)
		*new_max = next;
	return true;
}

bool tern_flow_rx_consume_at(struct tern_flow_rx *f, uint64_t bytes, tern_time now, tern_time rtt,
                             uint64_t max_window, uint64_t *new_max)
{
	uint64_t done = f->consumed + bytes - f->epoch_consumed;

	if (update_due(f, f->consumed + bytes) && f->window < max_window &&
	    tern_flow_window_limited(f->epoch, now, rtt, done, f->window))
		f->window = TERN_MIN(f->window * 2, max_window);
	if (!tern_flow_rx_consume(f, bytes, new_max))
		return false;
	f->epoch = now;
	f->epoch_consumed = f->consumed;
	return true;
}

bool tern_flow_rx_hold(struct tern_flow_rx *f, int64_t bytes, uint64_t *new_max)
{
	f->held += (uint64_t)bytes; /* a release never exceeds what was charged */
	return bytes < 0 && tern_flow_rx_consume(f, 0, new_max);
}

void tern_flow_rx_ensure(struct tern_flow_rx *f, uint64_t window, uint64_t max_window)
{
	f->window = TERN_MAX(f->window, TERN_MIN(window, max_window));
}

void tern_flow_tx_init(struct tern_flow_tx *f, uint64_t peer_max)
{
	f->max = peer_max;
	f->sent = 0;
	f->blocked_at = TERN_FLOW_NOT_BLOCKED;
}

bool tern_flow_tx_blocked(struct tern_flow_tx *f)
{
	if (tern_flow_tx_credit(f) > 0 || f->blocked_at == f->max)
		return false;
	f->blocked_at = f->max;
	return true;
}
