/* A verified simulated transfer (see simrun.h). */
#include <stdio.h>

#include "simrun.h"
#include "io/simnet.h"

#define CLOSE_LIMIT (60 * TERN_SEC)

/* The xfer is the first member: session callbacks get the xfer as ctx, and
 * the closed callback reaches the run through the same pointer. */
struct run {
	struct xfer x;
	struct tern_session *tx, *rx;
	struct simrun_result *res;
	struct tern_simnet *net;
	tern_time done_at;
	unsigned closed_clean;
};

static void on_closed(void *ctx, struct tern_session *s, const struct tern_close_info *ci)
{
	struct run *r = ctx;

	(void)s;
	if (ci->err == TERN_OK && ci->code == TERN_CLOSE_NO_ERROR && !ci->app)
		r->closed_clean++;
}

static bool watch(void *ctx)
{
	struct run *r = ctx;

	r->res->mem_peak_tx = TERN_MAX(r->res->mem_peak_tx, tern_session_mem(r->tx));
	r->res->mem_peak_rx = TERN_MAX(r->res->mem_peak_rx, tern_session_mem(r->rx));
	if (!r->done_at && xfer_done(&r->x))
		r->done_at = tern_simnet_now(r->net);
	return r->done_at != 0 || r->tx->state == TERN_SESSION_CLOSED ||
	       r->rx->state == TERN_SESSION_CLOSED;
}

static bool both_closed(void *ctx)
{
	struct run *r = ctx;

	return r->tx->state == TERN_SESSION_CLOSED && r->rx->state == TERN_SESSION_CLOSED;
}

static void make_cid(uint8_t cid[TERN_CID_LEN], uint64_t seed, uint64_t who)
{
	tern_put_be64(cid, (seed * 0x9e3779b97f4a7c15ull) ^ (who << 56) ^ (who + 1));
}

static int setup(struct run *r, const struct simrun_cfg *cfg)
{
	static const uint8_t secret[32] = "tern simulated pre-shared key..";
	const struct tern_addr a = {.family = 4, .port = 1000, .ip = {127, 0, 0, 1}};
	const struct tern_addr b = {.family = 4, .port = 2000, .ip = {127, 0, 0, 2}};
	struct tern_sim *sim = tern_simnet_sim(r->net);
	uint8_t cid_a[TERN_CID_LEN], cid_b[TERN_CID_LEN];
	struct tern_session_cbs cbs;
	const char *msg = "";
	int ea = tern_sim_add_endpoint(sim, &a), eb = tern_sim_add_endpoint(sim, &b), rc;

	if (ea < 0 || eb < 0 || tern_sim_set_path(sim, ea, eb, &cfg->fwd) < 0 ||
	    tern_sim_set_path(sim, eb, ea, &cfg->rev) < 0)
		return TERN_EINVAL;
	make_cid(cid_a, cfg->seed, 1);
	make_cid(cid_b, cfg->seed, 2);
	xfer_sender_cbs(&r->x, &cbs);
	cbs.closed = on_closed;
	rc = tern_session_new_psk(&r->tx, &cfg->sess, &cbs, true, cid_a, cid_b, secret,
	                          sizeof(secret), 0, &msg);
	xfer_receiver_cbs(&r->x, &cbs);
	cbs.closed = on_closed;
	if (rc == 0)
		rc = tern_session_new_psk(&r->rx, &cfg->sess, &cbs, false, cid_b, cid_a, secret,
		                          sizeof(secret), 0, &msg);
	if (rc < 0) {
		snprintf(r->res->error, sizeof(r->res->error), "session: %s", msg);
		return rc;
	}
	rc = tern_simnet_attach(r->net, ea, r->tx, &b);
	return rc ? rc : tern_simnet_attach(r->net, eb, r->rx, &a);
}

static void collect(struct run *r, struct simrun_result *res)
{
	struct tern_sim *sim = tern_simnet_sim(r->net);

	tern_session_get_stats(r->tx, &res->tx);
	tern_session_get_stats(r->rx, &res->rx);
	res->srtt = r->tx->rec.rtt.smoothed;
	res->min_rtt = r->tx->rec.rtt.min;
	res->cwnd = r->tx->rec.cc.cwnd;
	res->errors = r->x.errors;
	if (r->x.errors)
		snprintf(res->error, sizeof(res->error), "%s", r->x.first_error);
	res->dgrams_sent = r->x.dgrams_sent;
	res->dgrams_recv = r->x.dgrams_recv;
	res->fwd_stats = *tern_sim_path_stats(sim, 0, 1);
	res->rev_stats = *tern_sim_path_stats(sim, 1, 0);
	res->steps = tern_simnet_stats(r->net)->steps;
	res->closed_clean = r->closed_clean == 2;
}

static void transfer(struct run *r, const struct simrun_cfg *cfg, struct simrun_result *res)
{
	tern_time start;

	xfer_pump(&r->x, r->tx);
	start = tern_simnet_now(r->net);
	res->rc = tern_simnet_run(r->net, start + cfg->limit, watch, r);
	if (res->rc == 0 && !r->done_at)
		res->rc = TERN_ECLOSED; /* a session closed before the transfer ended */
	res->delivered = r->x.delivered;
	if (res->rc == TERN_ETIMEDOUT) {
		res->elapsed = cfg->limit;
		res->goodput_bps = (double)r->x.delivered * 8e6 / (double)cfg->limit;
	}
	if (r->done_at) {
		res->elapsed = r->done_at - start;
		res->goodput_bps =
		        res->elapsed ? (double)r->x.delivered * 8e6 / (double)res->elapsed : 0;
		tern_session_close(r->tx, true, 0, "done", tern_simnet_now(r->net));
		tern_simnet_run(r->net, tern_simnet_now(r->net) + CLOSE_LIMIT, both_closed, r);
	}
}

int simrun(const struct simrun_cfg *cfg, struct simrun_result *res)
{
	struct run r = {.res = res};
	int rc;

	memset(res, 0, sizeof(*res));
	rc = xfer_init(&r.x, &cfg->xfer);
	if (rc < 0) {
		snprintf(res->error, sizeof(res->error), "%s", r.x.first_error);
		return rc;
	}
	r.net = tern_simnet_new(cfg->seed);
	rc = r.net ? setup(&r, cfg) : TERN_ENOMEM;
	if (rc == 0) {
		transfer(&r, cfg, res);
		collect(&r, res);
	}
	tern_session_free(r.tx);
	tern_session_free(r.rx);
	tern_simnet_free(r.net);
	xfer_free(&r.x);
	return rc;
}
