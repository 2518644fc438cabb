/* The control plane's responder half and its plumbing (see control.h). An
 * initiation is checked in increasing order of cost: framing and mac1 (a
 * keyed hash, no private key), then — under load — the cookie in mac2, then
 * what its source may have (a rate, room under the half-open and per-source
 * session caps: core/admit.h), and only then the Noise work with its two
 * X25519 operations. Load is what handshakes cost: a backlog, half-open
 * sessions, the thread's busy time (docs/handshake.md §6.1). The initiator
 * half lives in control_client.c.
 *
 * Responses we sent are kept a short while (a bounded ring, hashed by source
 * address and the initiator's CID) so that a client retrying because our
 * response was lost or slow gets that response again instead of a second
 * session: a byte-identical duplicate with no DH at all, a fresh retry after
 * the two X25519 that prove and record its timestamp (the replay table must
 * see every initiation we answer; docs/handshake.md §8.3 says why). */
#include <stdlib.h>

#include "alloc.h"
#include "control_int.h"
#include "crypto/random.h"
#include "wire.h"

#define RESP_NONE UINT32_MAX
/* Resends per cached response: an initiator keeps its last 3 tries (§8.3),
 * so the response to one still completes its handshake for 2 more. */
#define RESEND_MAX 2
/* The window over which the control thread's busy time is measured: a
 * second, so that a herd of connects from one client (a connection pool
 * starting) is not load, while a flood that keeps the thread busy is. */
#define LOAD_WINDOW TERN_SEC

static const char *const fail_names[] = {
        "ok",
        "malformed",
        "bad MAC",
        "bad server key",
        "unknown client key",
        "replay",
        "version mismatch",
        "ticket expired",
        "ticket forged",
        "low-order point",
        "internal error",
        "refused",
        "refused: server memory budget spent",
};

const char *tern_connect_fail_name(int why)
{
	if (why == TERN_HS_TIMEOUT)
		return "timeout";
	if (why == TERN_HS_REFUSED_LOAD)
		return "refused under load";
	return why >= 0 && (size_t)why < TERN_ARRAY_LEN(fail_names) ? fail_names[why] : "unknown";
}

void tern_control_cfg_default(struct tern_control_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->min_minor = cfg->max_minor = TERN_PROTO_VERSION_MINOR;
	cfg->aes = true;
	cfg->hs_queue_depth = 64;
	cfg->load_busy_pct = 50;
	cfg->ratelimit = (struct tern_ratelimit_config){.rate = 20, .burst = 10, .entries = 4096};
	cfg->source_rate =
	        (struct tern_ratelimit_config){.rate = 100, .burst = 100, .entries = 4096};
	cfg->max_half_open = 1024;
	cfg->max_source_sessions = 1024;
	cfg->replay_entries = 65536;
	cfg->max_pending = 1024;
	cfg->hs_rto = TERN_SEC;
	cfg->hs_timeout = 10 * TERN_SEC;
	cfg->resp_cache_entries = 4096;
	cfg->resp_cache_ttl = 4 * TERN_SEC;
	cfg->workers = 1;
	tern_session_cfg_default(&cfg->session);
}

static const char *cfg_check(const struct tern_control_cfg *cfg, const struct tern_control_ops *o)
{
	if (!cfg->identity)
		return "control: an identity key pair is required";
	if (!o || !o->send || !o->install || !o->wallclock)
		return "control: send, install and wallclock callbacks are required";
	if (cfg->min_minor > cfg->max_minor)
		return "control: min_minor above max_minor";
	if (cfg->workers == 0 || cfg->hs_queue_depth == 0 || cfg->replay_entries < REPLAY_WAYS)
		return "control: workers, hs_queue_depth and replay_entries must be positive";
	if (cfg->max_pending == 0 || cfg->hs_rto == 0 || cfg->hs_timeout < cfg->hs_rto)
		return "control: max_pending, hs_rto and hs_timeout >= hs_rto must be set";
	if (cfg->load_busy_pct > 100 || cfg->max_half_open == 0 || cfg->max_source_sessions == 0)
		return "control: load_busy_pct at most 100, max_half_open and max_source_sessions "
		       "positive";
	if (cfg->resp_cache_entries > (1u << 24) ||
	    (cfg->resp_cache_entries && cfg->resp_cache_ttl == 0))
		return "control: resp_cache_entries at most 2^24, with a positive resp_cache_ttl";
	return NULL;
}

static void fill_random(const struct tern_control *c, uint8_t *out, size_t n)
{
	if (c->ops.random)
		c->ops.random(c->ops.ctx, out, n);
	else
		tern_random_bytes(out, n);
}

/* The response cache's ring and chain heads: all the memory it will use. */
static int resp_cache_new(struct tern_control *c)
{
	size_t n = c->cfg.resp_cache_entries;

	if (!n)
		return 0;
	c->resp_nbuckets = 1;
	while (c->resp_nbuckets < n)
		c->resp_nbuckets *= 2;
	c->resp = tern_calloc(n, sizeof(*c->resp));
	c->resp_buckets = tern_malloc(c->resp_nbuckets * sizeof(*c->resp_buckets));
	if (!c->resp || !c->resp_buckets)
		return TERN_ENOMEM;
	memset(c->resp_buckets, 0xff, c->resp_nbuckets * sizeof(*c->resp_buckets)); /* RESP_NONE */
	fill_random(c, (uint8_t *)&c->resp_key, sizeof(c->resp_key));
	return 0;
}

static int admit_new(struct tern_control *c)
{
	struct tern_admit_cfg ac = {.max_half_open = c->cfg.max_half_open,
	                            .max_per_source = c->cfg.max_source_sessions};

	fill_random(c, ac.key, sizeof(ac.key));
	return tern_admit_new(&c->admit, &ac);
}

int tern_control_new(struct tern_control **out, const struct tern_control_cfg *cfg,
                     const struct tern_control_ops *ops, tern_time now, const char **err_msg)
{
	const char *bad = cfg_check(cfg, ops);
	struct tern_control *c;
	int rc;

	*out = NULL;
	if (bad) {
		if (err_msg)
			*err_msg = bad;
		return TERN_EINVAL;
	}
	c = tern_calloc(1, sizeof(*c));
	if (!c)
		return TERN_ENOMEM;
	c->cfg = *cfg;
	c->ops = *ops;
	c->identity = *cfg->identity;
	c->cfg.identity = &c->identity;
	tern_hs_mac_keys_init(&c->mac, c->identity.pub);
	c->replay_sets = cfg->replay_entries / REPLAY_WAYS;
	c->replay = tern_calloc(c->replay_sets * REPLAY_WAYS, sizeof(*c->replay));
	fill_random(c, (uint8_t *)&c->replay_key, sizeof(c->replay_key));
	rc = c->replay ? resp_cache_new(c) : TERN_ENOMEM;
	if (rc == 0)
		rc = tern_cookie_new(&c->cookie, now);
	if (rc == 0)
		rc = tern_ratelimit_new(&c->rl, &cfg->ratelimit);
	if (rc == 0)
		rc = tern_ratelimit_new(&c->source_rl, &cfg->source_rate);
	if (rc == 0)
		rc = admit_new(c);
	if (rc < 0) {
		if (err_msg)
			*err_msg = tern_strerror(rc);
		tern_control_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void tern_control_free(struct tern_control *c)
{
	if (!c)
		return;
	tern_control_client_free(c);
	tern_cookie_free(c->cookie);
	tern_ratelimit_free(c->rl);
	tern_ratelimit_free(c->source_rl);
	tern_admit_put(c->admit); /* sessions still out hold it until they are freed */
	free(c->replay);
	free(c->resp);
	free(c->resp_buckets);
	tern_crypto_wipe(&c->identity, sizeof(c->identity));
	free(c);
}

const struct tern_control_stats *tern_control_stats(const struct tern_control *c)
{
	return &c->stats;
}

const struct tern_admit *tern_control_admit(const struct tern_control *c)
{
	return c->admit;
}

uint64_t tern_control_unix(const struct tern_control *c)
{
	return c->ops.wallclock(c->ops.ctx) / 1000000000ull;
}

/* CID byte 0 names the owner worker; the rest is random. */
void tern_control_new_cid(struct tern_control *c, uint8_t cid[TERN_CID_LEN])
{
	fill_random(c, cid + 1, TERN_CID_LEN - 1);
	cid[0] = c->next_worker;
	c->next_worker = (uint8_t)((c->next_worker + 1) % c->cfg.workers);
}

/* A responder's session belongs to the worker its initiation arrived on. */
static void responder_cid(struct tern_control *c, uint8_t cid[TERN_CID_LEN])
{
	tern_control_new_cid(c, cid);
	if (c->arrival >= 0)
		cid[0] = (uint8_t)c->arrival;
}

/* ---- replay protection: the newest timestamp per initiator key ---- */

static struct replay_entry *replay_set(struct tern_control *c, const uint8_t *pub)
{
	uint64_t h = c->replay_key;

	for (size_t i = 0; i < TERN_HS_KEY_LEN; i += 8)
		h = (h ^ tern_get_be64(pub + i)) * 0x9e3779b97f4a7c15ull;
	return &c->replay[(h >> 17) % c->replay_sets * REPLAY_WAYS];
}

/* The handshake's `fresh` callback: accepts a timestamp newer than the last
 * one seen for this key and records it. A full set evicts round robin: an
 * evicted key's old initiations could be replayed, which costs us a DH and
 * yields a session no one holds keys for — bounded by the rate limit. */
static bool replay_fresh(void *ctx, const uint8_t *pub, const uint8_t *ts)
{
	struct tern_control *c = ctx;
	struct replay_entry *set = replay_set(c, pub), *slot = NULL;

	for (unsigned i = 0; i < REPLAY_WAYS; i++) {
		if (set[i].used && memcmp(set[i].pub, pub, TERN_HS_KEY_LEN) == 0) {
			if (memcmp(ts, set[i].ts, TERN_HS_TIMESTAMP_LEN) <= 0)
				return false;
			slot = &set[i];
			break;
		}
		if (!set[i].used && !slot)
			slot = &set[i];
	}
	if (!slot)
		slot = &set[c->replay_victim++ % REPLAY_WAYS];
	slot->used = true;
	memcpy(slot->pub, pub, TERN_HS_KEY_LEN);
	memcpy(slot->ts, ts, TERN_HS_TIMESTAMP_LEN);
	return true;
}

/* ---- the response cache: what we answered, by (source, initiator CID) ---- */

static bool same_addr(const struct tern_addr *a, const struct tern_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->ip, b->ip, a->family == 4 ? 4 : 16) == 0;
}

static uint32_t *resp_chain(struct tern_control *c, const struct tern_addr *src, const uint8_t *cid)
{
	const uint64_t k = 0x9e3779b97f4a7c15ull;
	uint64_t h = (c->resp_key ^ tern_get_be64(cid)) * k;

	h = (h ^ ((uint64_t)src->family << 16 | src->port)) * k;
	h = (h ^ tern_get_be64(src->ip)) * k;
	h = (h ^ tern_get_be64(src->ip + 8)) * k;
	return &c->resp_buckets[(h ^ h >> 32) & (c->resp_nbuckets - 1)];
}

/* The entry for this attempt series, live or not; NULL if none. */
static struct resp_entry *resp_lookup(struct tern_control *c, const struct tern_addr *src,
                                      const uint8_t *cid)
{
	if (!c->resp)
		return NULL;
	for (uint32_t i = *resp_chain(c, src, cid); i != RESP_NONE; i = c->resp[i].next)
		if (memcmp(c->resp[i].cid, cid, TERN_CID_LEN) == 0 &&
		    same_addr(&c->resp[i].src, src))
			return &c->resp[i];
	return NULL;
}

static struct resp_entry *resp_find(struct tern_control *c, const struct tern_addr *src,
                                    const uint8_t *cid, tern_time now)
{
	struct resp_entry *e = resp_lookup(c, src, cid);

	return e && now < e->expires ? e : NULL;
}

static void resp_unlink(struct tern_control *c, struct resp_entry *e)
{
	uint32_t *p = resp_chain(c, &e->src, e->cid), self = (uint32_t)(e - c->resp);

	while (*p != self)
		p = &c->resp[*p].next;
	*p = e->next;
	e->used = false;
}

/* Keeps the response to an initiation we just answered with a new session.
 * It replaces the series' older entry; the ring's oldest makes room. */
static void resp_store(struct tern_control *c, const struct tern_addr *src, const uint8_t *init,
                       size_t init_len, const struct tern_hs_init_info *info, const uint8_t *resp,
                       tern_time now)
{
	struct resp_entry *e = resp_lookup(c, src, init + TERN_HS_INIT_SENDER);
	uint32_t *chain;

	if (!c->resp)
		return;
	if (e)
		resp_unlink(c, e);
	e = &c->resp[c->resp_head];
	c->resp_head = (c->resp_head + 1) % c->cfg.resp_cache_entries;
	if (e->used) {
		c->stats.resp_cache_evicted += now < e->expires;
		resp_unlink(c, e);
	}
	*e = (struct resp_entry){.src = *src,
	                         .init_len = (uint16_t)init_len,
	                         .vport = info->vport,
	                         .stream_type = info->stream_type,
	                         .used = true,
	                         .expires = now + c->cfg.resp_cache_ttl};
	memcpy(e->cid, init + TERN_HS_INIT_SENDER, TERN_CID_LEN);
	memcpy(e->pub, info->peer_static, TERN_HS_KEY_LEN);
	memcpy(e->mac1, init + init_len - TERN_HS_MACS_LEN, TERN_HS_MAC_LEN);
	memcpy(e->resp, resp, TERN_HS_RESP_LEN);
	chain = resp_chain(c, src, e->cid);
	e->next = *chain;
	*chain = (uint32_t)(e - c->resp);
}

static void resend(struct tern_control *c, struct resp_entry *e, const struct tern_addr *src)
{
	c->ops.send(c->ops.ctx, src, e->resp, TERN_HS_RESP_LEN);
	e->resends++;
	c->stats.responses_resent++;
}

/* A byte-identical copy of an initiation we answered (mac1 covers every
 * byte before it; mac2 may differ, a cookie added on the way): its timestamp
 * is already recorded, so it gets the same response, with no DH, to the
 * address that response went to — never a second session. */
static bool on_duplicate(struct tern_control *c, struct resp_entry *e, const uint8_t *pkt,
                         size_t len)
{
	if (e->init_len != len ||
	    memcmp(e->mac1, pkt + len - TERN_HS_MACS_LEN, TERN_HS_MAC_LEN) != 0)
		return false;
	if (e->resends < RESEND_MAX) {
		resend(c, e, &e->src);
		c->stats.duplicates_resent++;
	} else {
		c->stats.drop_duplicate++;
	}
	return true;
}

/* A fresh retry (proven and recorded by consume) from the series e answered:
 * the same key asking for the same service. */
static bool same_series(const struct resp_entry *e, const struct tern_hs_init_info *info)
{
	return e->resends < RESEND_MAX && e->vport == info->vport &&
	       e->stream_type == info->stream_type &&
	       memcmp(e->pub, info->peer_static, TERN_HS_KEY_LEN) == 0;
}

/* ---- sessions ---- */

int tern_control_install(struct tern_control *c, struct tern_hs_result *res, bool initiator,
                         const struct tern_hs_session_info *info, uint64_t amp_budget,
                         const uint8_t *first_pkt, size_t first_len, tern_time now)
{
	struct tern_session_cfg scfg = c->cfg.session;
	struct tern_session *s;
	int rc;

	scfg.cipher = res->cipher;
	rc = tern_session_new(&s, &scfg, NULL, initiator, res->local_cid, res->peer_cid, &res->keys,
	                      &res->peer_params, now, NULL);
	if (rc < 0)
		return rc;
	if (amp_budget != UINT64_MAX)
		tern_session_limit_amplification(s, amp_budget);
	if (initiator)
		s->state = TERN_SESSION_ESTABLISHED; /* the response authenticated the server */
	else /* half-open, and counted against its source, from now on */
		tern_admit_take(c->admit, &info->peer, &s->admit);
	rc = c->ops.install(c->ops.ctx, s, info, first_pkt, first_len);
	c->stats.install_failed += rc < 0;
	return rc;
}

/* ---- responder ---- */

/* Load latches for a second (WireGuard's habit), so a flood that pulses
 * around a threshold does not buy X25519 work each time it dips below. */
static void note_load(struct tern_control *c, tern_time now)
{
	c->stats.load_entered += now >= c->under_load_until;
	c->under_load_until = now + TERN_SEC;
}

void tern_control_busy(struct tern_control *c, tern_time busy, tern_time now)
{
	if (now - c->busy_since >= LOAD_WINDOW) {
		c->busy_since = now;
		c->busy = 0;
	}
	c->busy += busy;
	if (c->cfg.load_busy_pct && c->busy * 100 >= LOAD_WINDOW * c->cfg.load_busy_pct)
		note_load(c, now);
}

/* Load from what it costs: a backlog of hs_queue_depth, half the half-open
 * cap taken (tern_control_busy watches the thread's time). */
static bool loaded(struct tern_control *c, unsigned backlog, tern_time now)
{
	if (backlog >= c->cfg.hs_queue_depth ||
	    2 * tern_admit_half_open(c->admit) >= c->cfg.max_half_open)
		note_load(c, now);
	return now < c->under_load_until;
}

/* Under load an initiation must carry a cookie for its source address;
 * without one we answer with a cookie reply (smaller than the initiation)
 * and drop it. */
static int check_cookie(struct tern_control *c, const uint8_t *pkt, size_t len,
                        const struct tern_addr *src, tern_time now)
{
	uint8_t reply[TERN_HS_COOKIE_REPLY_LEN];
	int n;

	if (tern_cookie_check_mac2(c->cookie, now, src, pkt, len) == 0)
		return 0;
	n = tern_cookie_reply_build(c->cookie, now, &c->mac, src, pkt, len, reply, sizeof(reply));
	if (n > 0 && (size_t)n < len) {
		c->ops.send(c->ops.ctx, src, reply, (size_t)n);
		c->stats.cookie_replies_sent++;
	}
	c->stats.drop_no_cookie++;
	return TERN_EAGAIN;
}

/* What a source may have, before any DH: its rate (always; under load also
 * the stricter one, WireGuard's rule: a quiet server answers a burst of
 * connects from one client in full), room for one more half-open session,
 * and its own sessions under their cap. */
static int check_source(struct tern_control *c, const struct tern_addr *src, bool load,
                        tern_time now)
{
	if (!tern_ratelimit_allow(c->source_rl, now, src) ||
	    (load && !tern_ratelimit_allow(c->rl, now, src))) {
		c->stats.drop_ratelimit++;
		return TERN_EAGAIN;
	}
	if (tern_admit_half_open_full(c->admit)) {
		c->stats.drop_half_open++;
		return TERN_ELIMIT;
	}
	if (tern_admit_source_full(c->admit, src)) {
		c->stats.drop_source_limit++;
		return TERN_ELIMIT;
	}
	return 0;
}

static bool allow(void *ctx, const uint8_t *pub)
{
	struct tern_control *c = ctx;

	return c->cfg.allow(c->cfg.allow_ctx, pub);
}

static int consume(struct tern_control *c, const uint8_t *pkt, size_t len,
                   struct tern_hs_responder **st, struct tern_hs_init_info *info,
                   struct tern_hs_refusal *rf, enum tern_hs_fail *fail)
{
	struct tern_hs_resp_config rc = {.local = &c->identity,
	                                 .mac = &c->mac,
	                                 .allow = c->cfg.allow ? allow : NULL,
	                                 .fresh = replay_fresh,
	                                 .ctx = c,
	                                 .ticket_key = c->cfg.ticket_key,
	                                 .ticket_required = c->cfg.ticket_required,
	                                 .now_unix = tern_control_unix(c),
	                                 .min_minor = c->cfg.min_minor,
	                                 .max_minor = c->cfg.max_minor,
	                                 .aes = c->cfg.aes};
	enum tern_hs_fail why = TERN_HS_OK;
	int err;

	c->stats.dh_initiations++;
	err = tern_hs_initiation_consume_ex(st, &rc, pkt, len, info, rf, &why);
	*fail = why;
	if (err < 0 && (unsigned)why < TERN_ARRAY_LEN(c->stats.fail))
		c->stats.fail[why]++;
	return err;
}

static int respond(struct tern_control *c, struct tern_hs_responder *st,
                   const struct tern_hs_init_info *info, const struct tern_addr *src,
                   const uint8_t *init, size_t init_len, tern_time now)
{
	uint8_t resp[TERN_HS_RESP_LEN], cid[TERN_CID_LEN];
	struct tern_hs_params params;
	struct tern_hs_result res;
	struct tern_hs_session_info si = {.peer = *src,
	                                  .vport = info->vport,
	                                  .stream_type = info->stream_type,
	                                  .minor = info->minor,
	                                  .pid = info->pid};
	size_t len;
	int rc;

	memcpy(si.peer_static, info->peer_static, TERN_HS_KEY_LEN);
	responder_cid(c, cid);
	tern_session_local_params(&c->cfg.session, &params);
	rc = tern_hs_response_create(st, cid, &params, NULL, resp, sizeof(resp), &len, &res, NULL);
	if (rc < 0)
		return rc;
	/* A session that could not be installed sent no response: none is kept
	 * for the client's retries either (they would connect it to nothing). */
	rc = tern_control_install(c, &res, false, &si, 3 * init_len - len, resp, len, now);
	if (rc < 0) {
		tern_keys_free(&res.keys);
		return rc;
	}
	c->stats.accepted++;
	resp_store(c, src, init, init_len, info, resp, now);
	return 0;
}

/* An authenticated refusal (43 bytes, smaller than any initiation) tells the
 * initiator why; it is only possible once the initiator proved its static
 * key, and never sent under load. Wipes rf. */
static void refuse(struct tern_control *c, struct tern_hs_refusal *rf, enum tern_hs_fail why,
                   const struct tern_addr *src)
{
	uint8_t out[TERN_HS_REFUSAL_LEN];
	size_t len;

	if (rf->ready && tern_hs_refusal_create(rf, why, out, sizeof(out), &len) == 0) {
		c->ops.send(c->ops.ctx, src, out, len);
		c->stats.refusals++;
	}
	tern_hs_refusal_wipe(rf);
}

static int on_initiation(struct tern_control *c, const uint8_t *pkt, size_t len,
                         const struct tern_addr *src, unsigned backlog, tern_time now)
{
	struct tern_hs_responder *st = NULL;
	struct tern_hs_refusal rf = {0};
	struct tern_hs_init_info info;
	struct resp_entry *e;
	enum tern_hs_fail why = TERN_HS_OK;
	bool load;
	int rc;

	c->stats.initiations++;
	rc = tern_hs_check_mac1(&c->mac, pkt, len, NULL);
	if (rc < 0) {
		c->stats.drop_mac1++; /* no DH, no state: the cheap filter */
		return rc;
	}
	e = resp_find(c, src, pkt + TERN_HS_INIT_SENDER, now);
	if (e && on_duplicate(c, e, pkt, len))
		return 0; /* before the load checks: it costs less than a cookie reply */
	load = loaded(c, backlog, now);
	rc = load ? check_cookie(c, pkt, len, src, now) : 0;
	if (rc == 0)
		rc = check_source(c, src, load, now);
	if (rc < 0)
		return rc;
	rc = consume(c, pkt, len, &st, &info, load ? NULL : &rf, &why);
	if (rc < 0) {
		refuse(c, &rf, why, src);
		return rc;
	}
	if (c->ops.listening && !c->ops.listening(c->ops.ctx, info.vport, info.stream_type)) {
		refuse(c, &rf, TERN_HS_REFUSED, src); /* nothing listens on that vport */
		rc = TERN_ECLOSED;
	} else if (e && same_series(e, &info)) {
		tern_hs_refusal_wipe(&rf); /* a retry: its answer is on its way again */
		resend(c, e, src);
		rc = 0;
	} else if (tern_budget_full(c->cfg.session.budget)) {
		refuse(c, &rf, TERN_HS_MEMORY, src); /* sessions hold all the memory allowed */
		c->stats.refused_memory++;
		rc = TERN_ENOMEM;
	} else {
		tern_hs_refusal_wipe(&rf);
		rc = respond(c, st, &info, src, pkt, len, now);
	}
	tern_hs_responder_free(st);
	return rc;
}

int tern_control_on_packet(struct tern_control *c, const uint8_t *pkt, size_t len,
                           const struct tern_addr *src, unsigned backlog, unsigned worker,
                           tern_time now)
{
	c->arrival = worker < c->cfg.workers ? (int)worker : -1;
	switch (tern_wire_classify(pkt, len)) {
	case TERN_PKT_HS_INITIATION:
		return on_initiation(c, pkt, len, src, backlog, now);
	case TERN_PKT_HS_RESPONSE:
		c->stats.responses++;
		return tern_control_on_response(c, pkt, len, now);
	case TERN_PKT_HS_COOKIE_REPLY:
		c->stats.cookie_replies_rx++;
		return tern_control_on_cookie(c, pkt, len, now);
	case TERN_PKT_HS_REFUSAL:
		return tern_control_on_refusal(c, pkt, len, now);
	default:
		c->stats.drop_malformed++;
		return TERN_EMALFORMED;
	}
}

tern_time tern_control_deadline(const struct tern_control *c)
{
	/* cookie secrets rotate lazily on use; only our handshakes need time */
	return tern_control_client_deadline(c);
}

void tern_control_on_timeout(struct tern_control *c, tern_time now)
{
	tern_cookie_tick(c->cookie, now);
	tern_control_client_timeout(c, now);
}
