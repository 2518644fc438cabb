/* Path validation and migration (see path.h): the candidate's life from the
 * first packet that arrives from a new address to migration or the deadline,
 * its challenges, and the amplification budget that bounds what an address
 * nobody has proven can draw from us. */
#include "path.h"

void tern_path_set_peer(struct tern_path *p, const struct tern_addr *peer)
{
	p->peer = *peer;
	p->probing = false;
}

/* Challenges go max(PTO, 300 ms) apart: the new path's RTT is unknown, and a
 * path that answers slower than kInitialRtt's PTO is not worth moving to. */
static tern_time retry_interval(tern_time pto)
{
	return TERN_MAX(pto, (tern_time)TERN_PATH_MIN_RETRY_US);
}

enum tern_path_from tern_path_on_new(struct tern_path *p, const struct tern_addr *from, size_t len,
                                     tern_time now, const struct tern_rtt *rtt)
{
	if (p->peer.family == 0) {
		p->peer = *from;
		return TERN_PATH_FROM_PEER;
	}
	if (!p->probing || !tern_addr_eq(from, &p->cand)) {
		p->cand = *from;
		p->probing = true;
		p->cand_valid = p->cand_active = p->response_due = false;
		p->tries = 0;
		p->retry_at = now;
		p->deadline = now + TERN_PATH_CHALLENGE_TRIES * retry_interval(tern_rtt_pto(rtt));
		p->cand_rx = p->cand_tx = 0;
	}
	p->cand_rx += len;
	return TERN_PATH_FROM_CAND;
}

void tern_path_on_challenge(struct tern_path *p, const uint8_t data[TERN_PATH_DATA_LEN])
{
	memcpy(p->response, data, TERN_PATH_DATA_LEN);
	p->response_due = true;
}

bool tern_path_on_response(struct tern_path *p, const uint8_t data[TERN_PATH_DATA_LEN],
                           enum tern_path_from from)
{
	if (!p->probing || p->cand_valid || from != TERN_PATH_FROM_CAND)
		return false;
	for (unsigned i = 0; i < p->tries; i++) {
		if (memcmp(p->challenge[i], data, TERN_PATH_DATA_LEN) == 0) {
			p->cand_valid = true;
			p->stats.validated++;
			return true;
		}
	}
	return false;
}

void tern_path_on_active(struct tern_path *p, enum tern_path_from from)
{
	if (p->probing)
		p->cand_active = from == TERN_PATH_FROM_CAND;
}

void tern_path_migrate(struct tern_path *p)
{
	p->peer = p->cand;
	p->probing = false;
	p->stats.migrations++;
}

/* Bytes we may still send the candidate: unlimited once it is validated. */
static uint64_t budget(const struct tern_path *p)
{
	uint64_t allowed = TERN_PATH_AMP_FACTOR * p->cand_rx;

	if (p->cand_valid)
		return UINT64_MAX;
	return allowed > p->cand_tx ? allowed - p->cand_tx : 0;
}

bool tern_path_challenge_due(const struct tern_path *p, tern_time now)
{
	return p->probing && !p->cand_valid && p->tries < TERN_PATH_CHALLENGE_TRIES &&
	       now >= p->retry_at && budget(p) >= TERN_PATH_PROBE_MAX;
}

bool tern_path_probe_due(const struct tern_path *p, tern_time now)
{
	return tern_path_challenge_due(p, now) ||
	       (p->probing && p->response_due && budget(p) >= TERN_PATH_PROBE_MAX);
}

void tern_path_on_probe_sent(struct tern_path *p, const uint8_t *challenge, size_t bytes,
                             tern_time now, tern_time pto)
{
	p->cand_tx += bytes;
	p->response_due = false;
	if (!challenge)
		return;
	memcpy(p->challenge[p->tries++], challenge, TERN_PATH_DATA_LEN);
	p->retry_at = now + retry_interval(pto);
	p->stats.challenges++;
}

tern_time tern_path_deadline(const struct tern_path *p, tern_time now)
{
	tern_time t;

	if (!p->probing)
		return TERN_TIME_NEVER;
	if (tern_path_probe_due(p, now))
		return now;
	if (p->cand_valid)
		return TERN_TIME_NEVER;
	t = p->deadline;
	if (p->tries < TERN_PATH_CHALLENGE_TRIES && budget(p) >= TERN_PATH_PROBE_MAX)
		t = TERN_MIN(t, p->retry_at);
	return t;
}

void tern_path_on_timeout(struct tern_path *p, tern_time now)
{
	if (p->probing && !p->cand_valid && now >= p->deadline) {
		p->probing = false;
		p->stats.failed++;
	}
}
