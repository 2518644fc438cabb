/* Congestion control glue: the name lookup, common initialisation and the
 * recovery-period rule both algorithms share (RFC 9002 §7.3.2). Keeping the
 * "one reduction per period" decision here means NewReno and CUBIC cannot
 * disagree on it; each algorithm file only decides how far cwnd moves. */
#include "cc.h"

static const struct tern_cc_ops *const algorithms[] = {
        &tern_cc_newreno,
        &tern_cc_cubic,
};

const struct tern_cc_ops *tern_cc_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < TERN_ARRAY_LEN(algorithms); i++) {
		if (strcmp(algorithms[i]->name, name) == 0)
			return algorithms[i];
	}
	return NULL;
}

void tern_cc_init(struct tern_cc *cc, const struct tern_cc_ops *ops, uint64_t mss, tern_time now)
{
	memset(cc, 0, sizeof(*cc));
	cc->ops = ops;
	cc->mss = mss;
	cc->recovery_start = TERN_TIME_NEVER;
	ops->init(cc, now);
}

bool tern_cc_in_recovery(const struct tern_cc *cc, tern_time sent_time)
{
	return cc->recovery_start != TERN_TIME_NEVER && sent_time <= cc->recovery_start;
}

bool tern_cc_enter_recovery(struct tern_cc *cc, tern_time sent_time, tern_time now)
{
	if (tern_cc_in_recovery(cc, sent_time))
		return false;
	cc->recovery_start = now;
	cc->congestion_events++;
	return true;
}
