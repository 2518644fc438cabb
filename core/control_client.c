/* The control plane's initiator half: our own handshakes in flight. A try
 * is sent twice: first as built, then once more byte for byte, which a
 * server that answered it (its response lost or slow) answers from its
 * response cache with no Diffie-Hellman at all (docs/handshake.md §8.3).
 * Every later retry is a fresh initiation (new ephemeral key, newer
 * timestamp), so a server that no longer holds that response does not
 * reject it as a replay; its REPLAY refusal of a second copy just brings the
 * fresh try forward. The last few tries' states are kept, so a slow
 * server's answer to an earlier try still completes the handshake (without
 * that, a server whose queue takes longer than the retry timeout would only
 * ever answer superseded tries). A cookie reply makes the next try carry
 * the cookie, at once. */
#include <stdlib.h>

#include "alloc.h"
#include "control_int.h"
#include "crypto/random.h"

#define KEEP_TRIES 3

struct pending {
	bool used;
	bool bad_response; /* a response arrived that did not authenticate */
	bool got_cookie;
	bool has_cookie;
	struct tern_hs_initiator *st[KEEP_TRIES]; /* st[0] newest */
	bool twice[KEEP_TRIES];                   /* that try was sent a second time */
	uint8_t pkt[TERN_HS_INIT_LEN];            /* the newest try, as sent */
	uint16_t pkt_len;
	struct tern_hs_mac_keys server_mac;
	uint8_t server_pub[TERN_HS_KEY_LEN];
	uint8_t cid[TERN_CID_LEN];
	uint8_t cookie[TERN_HS_COOKIE_LEN];
	uint8_t ticket[TERN_HS_TICKET_MAX];
	size_t ticket_len;
	struct tern_addr peer;
	uint16_t vport;
	uint8_t stream_type;
	tern_time rto, next_tx, deadline;
	void *user;
};

struct tern_control_client {
	struct pending *p; /* max_pending slots */
	size_t used;
	uint8_t last_ts[TERN_HS_TIMESTAMP_LEN];
};

static void release(struct pending *p)
{
	for (unsigned i = 0; i < KEEP_TRIES; i++)
		tern_hs_initiator_free(p->st[i]);
	tern_crypto_wipe(p, sizeof(*p));
}

void tern_control_client_free(struct tern_control *c)
{
	struct tern_control_client *cl = c->client;

	if (!cl)
		return;
	for (size_t i = 0; i < c->cfg.max_pending; i++) {
		if (!cl->p[i].used)
			continue;
		if (c->ops.forget)
			c->ops.forget(c->ops.ctx, cl->p[i].user);
		release(&cl->p[i]);
	}
	free(cl->p);
	free(cl);
	c->client = NULL;
}

static struct tern_control_client *client(struct tern_control *c)
{
	if (!c->client) {
		c->client = tern_calloc(1, sizeof(*c->client));
		if (c->client)
			c->client->p = tern_calloc(c->cfg.max_pending, sizeof(struct pending));
		if (c->client && !c->client->p) {
			free(c->client);
			c->client = NULL;
		}
	}
	return c->client;
}

/* A TAI64N timestamp strictly newer than the last one we sent. */
static void next_timestamp(struct tern_control *c, uint8_t ts[TERN_HS_TIMESTAMP_LEN])
{
	uint64_t ns = c->ops.wallclock(c->ops.ctx);
	uint8_t *last = c->client->last_ts;

	tern_hs_tai64n(ts, ns / 1000000000ull, (uint32_t)(ns % 1000000000ull));
	if (memcmp(ts, last, TERN_HS_TIMESTAMP_LEN) <= 0) {
		memcpy(ts, last, TERN_HS_TIMESTAMP_LEN);
		for (int i = TERN_HS_TIMESTAMP_LEN - 1; i >= 0 && ++ts[i] == 0; i--)
			;
	}
	memcpy(last, ts, TERN_HS_TIMESTAMP_LEN);
}

/* Builds and sends a fresh initiation for p. */
static int send_initiation(struct tern_control *c, struct pending *p)
{
	uint8_t ts[TERN_HS_TIMESTAMP_LEN];
	struct tern_hs_init_config ic = {.local = &c->identity,
	                                 .remote_pub = p->server_pub,
	                                 .timestamp = ts,
	                                 .min_minor = c->cfg.min_minor,
	                                 .max_minor = c->cfg.max_minor,
	                                 .vport = p->vport,
	                                 .stream_type = p->stream_type,
	                                 .aes = c->cfg.aes,
	                                 .ticket = p->ticket_len ? p->ticket : NULL,
	                                 .ticket_len = p->ticket_len,
	                                 .cookie = p->has_cookie ? p->cookie : NULL};
	size_t len;
	int rc;

	memcpy(ic.cid, p->cid, TERN_CID_LEN);
	tern_session_local_params(&c->cfg.session, &ic.params);
	next_timestamp(c, ts);
	tern_hs_initiator_free(p->st[KEEP_TRIES - 1]);
	memmove(&p->st[1], &p->st[0], (KEEP_TRIES - 1) * sizeof(p->st[0]));
	memmove(&p->twice[1], &p->twice[0], (KEEP_TRIES - 1) * sizeof(p->twice[0]));
	p->st[0] = NULL;
	p->twice[0] = false;
	rc = tern_hs_initiation_create(&p->st[0], &ic, p->pkt, sizeof(p->pkt), &len, NULL);
	if (rc < 0)
		return rc;
	p->pkt_len = (uint16_t)len;
	c->ops.send(c->ops.ctx, &p->peer, p->pkt, len);
	return 0;
}

static struct pending *free_slot(struct tern_control_client *cl, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!cl->p[i].used)
			return &cl->p[i];
	return NULL;
}

int tern_control_connect(struct tern_control *c, const struct tern_connect_req *req, tern_time now)
{
	struct tern_control_client *cl = client(c);
	struct pending *p;
	int rc;

	if (!cl)
		return TERN_ENOMEM;
	if (!req || !req->server_pub || req->ticket_len > TERN_HS_TICKET_MAX ||
	    (req->peer.family != 4 && req->peer.family != 6))
		return TERN_EINVAL;
	p = free_slot(cl, c->cfg.max_pending);
	if (!p)
		return TERN_ELIMIT;
	*p = (struct pending){.used = true,
	                      .peer = req->peer,
	                      .vport = req->vport,
	                      .stream_type = req->stream_type,
	                      .user = req->user,
	                      .ticket_len = req->ticket_len,
	                      .rto = c->cfg.hs_rto,
	                      .next_tx = now + c->cfg.hs_rto,
	                      .deadline = now + c->cfg.hs_timeout};
	memcpy(p->server_pub, req->server_pub, TERN_HS_KEY_LEN);
	if (req->ticket_len)
		memcpy(p->ticket, req->ticket, req->ticket_len);
	tern_hs_mac_keys_init(&p->server_mac, p->server_pub);
	tern_control_new_cid(c, p->cid);
	rc = send_initiation(c, p);
	if (rc < 0) {
		release(p);
		return rc;
	}
	cl->used++;
	return 0;
}

/* The pending handshake a response or cookie reply is addressed to. */
static struct pending *find(struct tern_control *c, const uint8_t *pkt, size_t len)
{
	struct tern_control_client *cl = c->client;

	if (!cl || len < 2 + TERN_CID_LEN)
		return NULL;
	for (size_t i = 0; i < c->cfg.max_pending; i++)
		if (cl->p[i].used && memcmp(cl->p[i].cid, pkt + 2, TERN_CID_LEN) == 0)
			return &cl->p[i];
	return NULL;
}

static void finish(struct tern_control *c, struct pending *p, int why)
{
	void *user = p->user;

	release(p);
	c->client->used--;
	if (why == TERN_HS_OK) {
		c->stats.connected++;
		return;
	}
	c->stats.connect_failed++;
	if (c->ops.failed)
		c->ops.failed(c->ops.ctx, user, why);
}

/* The response may answer any of the tries we still hold. */
static int consume_any(struct pending *p, const uint8_t *pkt, size_t len,
                       struct tern_hs_result *res, enum tern_hs_fail *why)
{
	int rc = TERN_ECRYPTO;

	for (unsigned i = 0; rc < 0 && i < KEEP_TRIES && p->st[i]; i++)
		rc = tern_hs_response_consume(p->st[i], pkt, len, res, why);
	return rc;
}

int tern_control_on_response(struct tern_control *c, const uint8_t *pkt, size_t len, tern_time now)
{
	struct pending *p = find(c, pkt, len);
	struct tern_hs_session_info si;
	struct tern_hs_result res;
	enum tern_hs_fail why = TERN_HS_OK;
	int rc;

	if (!p) {
		c->stats.drop_unknown_cid++;
		return TERN_EINVAL;
	}
	rc = tern_hs_check_mac1(&c->mac, pkt, len, &why); /* keyed from our static key */
	if (rc == 0)
		rc = consume_any(p, pkt, len, &res, &why);
	if (rc < 0) {
		p->bad_response |= why == TERN_HS_BAD_SERVER_KEY; /* may be forged: keep waiting */
		c->stats.drop_mac1 += why == TERN_HS_BAD_MAC;
		return rc;
	}
	si = (struct tern_hs_session_info){.peer = p->peer,
	                                   .vport = p->vport,
	                                   .stream_type = p->stream_type,
	                                   .minor = res.minor,
	                                   .pid = res.pid,
	                                   .user = p->user};
	memcpy(si.peer_static, p->server_pub, TERN_HS_KEY_LEN);
	rc = tern_control_install(c, &res, true, &si, UINT64_MAX, NULL, 0, now);
	if (rc < 0)
		tern_keys_free(&res.keys);
	finish(c, p, rc < 0 ? TERN_HS_INTERNAL : TERN_HS_OK);
	return rc;
}

/* Opened into a scratch buffer: a reply that does not open (forged, or for
 * another try) zeroes its output, and must not wipe the cookie we hold. */
int tern_control_on_cookie(struct tern_control *c, const uint8_t *pkt, size_t len, tern_time now)
{
	struct pending *p = find(c, pkt, len);
	uint8_t cookie[TERN_HS_COOKIE_LEN];
	int rc;

	if (!p) {
		c->stats.drop_unknown_cid++;
		return TERN_EINVAL;
	}
	rc = TERN_ECRYPTO;
	for (unsigned i = 0; rc < 0 && i < KEEP_TRIES && p->st[i]; i++)
		rc = tern_cookie_reply_parse(&p->server_mac, tern_hs_initiator_mac1(p->st[i]),
		                             p->cid, pkt, len, cookie);
	if (rc == 0)
		memcpy(p->cookie, cookie, sizeof(cookie));
	tern_crypto_wipe(cookie, sizeof(cookie));
	if (rc < 0)
		return rc;
	p->got_cookie = p->has_cookie = true;
	c->stats.retransmits++;
	p->next_tx = now + p->rto;
	return send_initiation(c, p);
}

/* A retry now, counted; a failure to build one ends the handshake. */
static void retry_now(struct tern_control *c, struct pending *p, tern_time now)
{
	p->next_tx = now + p->rto;
	c->stats.retransmits++;
	if (send_initiation(c, p) < 0)
		finish(c, p, TERN_HS_INTERNAL);
}

int tern_control_on_refusal(struct tern_control *c, const uint8_t *pkt, size_t len, tern_time now)
{
	struct pending *p = find(c, pkt, len);
	enum tern_hs_fail reason = TERN_HS_OK;
	unsigned i;
	int rc;

	if (!p) {
		c->stats.drop_unknown_cid++;
		return TERN_EINVAL;
	}
	rc = TERN_ECRYPTO;
	for (i = 0; rc < 0 && i < KEEP_TRIES && p->st[i]; i++)
		rc = tern_hs_refusal_consume(p->st[i], pkt, len, &reason, NULL);
	if (rc < 0 || reason == TERN_HS_OK)
		return rc < 0 ? rc : TERN_ECRYPTO; /* forged: keep waiting */
	if (reason == TERN_HS_REPLAY && p->twice[i - 1]) {
		/* the server answered that try's first copy and has forgotten
		 * the answer: only a fresh try can be answered now */
		retry_now(c, p, now);
		return 0;
	}
	finish(c, p, reason);
	return 0;
}

tern_time tern_control_client_deadline(const struct tern_control *c)
{
	const struct tern_control_client *cl = c->client;
	tern_time t = TERN_TIME_NEVER;

	for (size_t i = 0; cl && cl->used && i < c->cfg.max_pending; i++)
		if (cl->p[i].used)
			t = TERN_MIN(t, TERN_MIN(cl->p[i].next_tx, cl->p[i].deadline));
	return t;
}

static void expire(struct tern_control *c, struct pending *p, tern_time now)
{
	if (now >= p->deadline) {
		finish(c, p,
		       p->bad_response ? TERN_HS_BAD_SERVER_KEY
		       : p->got_cookie ? TERN_HS_REFUSED_LOAD
		                       : TERN_HS_TIMEOUT);
		return;
	}
	if (now < p->next_tx)
		return;
	p->rto *= 2;
	if (!p->twice[0]) { /* the newest try once more, byte for byte */
		p->twice[0] = true;
		p->next_tx = now + p->rto;
		c->stats.retransmits++;
		c->ops.send(c->ops.ctx, &p->peer, p->pkt, p->pkt_len);
		return;
	}
	retry_now(c, p, now);
}

void tern_control_client_timeout(struct tern_control *c, tern_time now)
{
	struct tern_control_client *cl = c->client;

	for (size_t i = 0; cl && cl->used && i < c->cfg.max_pending; i++)
		if (cl->p[i].used)
			expire(c, &cl->p[i], now);
}
