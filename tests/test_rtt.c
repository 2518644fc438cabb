/* RTT estimator vectors (RFC 9002 §5): each step feeds one sample and checks
 * every field to the microsecond, integer division truncating. */
#include "check.h"
#include "rtt.h"
#include "proto.h"

struct step {
	tern_time sample, ack_delay;
	tern_time latest, min, smoothed, var, pto;
};

/* max_ack_delay 25 ms, initial RTT 100 ms. */
static const struct step steps[] = {
        /* first sample: smoothed = sample, var = sample/2, ack delay ignored */
        {50000, 10000, 50000, 50000, 50000, 25000, 50000 + 100000 + 25000},
        /* ack delay subtracted: adjusted 55000 */
        {60000, 5000, 60000, 50000, 50625, 20000, 50625 + 80000 + 25000},
        /* ack delay 100 ms capped at max_ack_delay 25 ms: adjusted 55000 */
        {80000, 100000, 80000, 50000, 51171, 16093, 51171 + 64372 + 25000},
        /* 52000 - 20000 would fall below min_rtt 50000: delay ignored */
        {52000, 20000, 52000, 50000, 51274, 12277, 51274 + 49108 + 25000},
        /* new minimum */
        {30000, 0, 30000, 30000, 48614, 14526, 48614 + 58104 + 25000},
        /* sample - delay exactly min_rtt: subtracted (adjusted 30000) */
        {40000, 10000, 40000, 30000, 46287, 15548, 46287 + 62192 + 25000},
};

static void test_vectors(void)
{
	struct tern_rtt rtt;

	tern_rtt_init(&rtt, TERN_INITIAL_RTT_US, 25000);
	CHECK(!rtt.has_sample);
	CHECK_EQ(rtt.smoothed, 100000);
	CHECK_EQ(rtt.var, 50000);
	CHECK_EQ(tern_rtt_pto(&rtt), 100000 + 200000 + 25000);
	for (size_t i = 0; i < TERN_ARRAY_LEN(steps); i++) {
		const struct step *s = &steps[i];

		tern_rtt_update(&rtt, s->sample, s->ack_delay);
		CHECK(rtt.has_sample);
		CHECK_EQ(rtt.latest, s->latest);
		CHECK_EQ(rtt.min, s->min);
		CHECK_EQ(rtt.smoothed, s->smoothed);
		CHECK_EQ(rtt.var, s->var);
		CHECK_EQ(tern_rtt_pto(&rtt), s->pto);
	}
}

/* A small variance still leaves one granularity of slack in the PTO. */
static void test_granularity(void)
{
	struct tern_rtt rtt;

	tern_rtt_init(&rtt, TERN_INITIAL_RTT_US, 0);
	tern_rtt_update(&rtt, 400, 0);
	CHECK_EQ(rtt.var, 200);
	CHECK_EQ(tern_rtt_pto(&rtt), 400 + TERN_GRANULARITY_US);
	for (int i = 0; i < 20; i++)
		tern_rtt_update(&rtt, 400, 0);
	CHECK_EQ(rtt.smoothed, 400);
	CHECK_EQ(rtt.var, 0);
	CHECK_EQ(tern_rtt_pto(&rtt), 400 + TERN_GRANULARITY_US);
}

/* A first sample carrying a huge ack delay is taken as is: min_rtt is the raw
 * sample, and later delays cannot pull the estimate under it. */
static void test_first_sample_ignores_delay(void)
{
	struct tern_rtt rtt;

	tern_rtt_init(&rtt, TERN_INITIAL_RTT_US, 25000);
	tern_rtt_update(&rtt, 20000, 25000);
	CHECK_EQ(rtt.smoothed, 20000);
	CHECK_EQ(rtt.min, 20000);
	tern_rtt_update(&rtt, 20000, 25000); /* adjusted stays 20000 */
	CHECK_EQ(rtt.smoothed, 20000);
	CHECK_EQ(rtt.var, 7500);
	CHECK_EQ(rtt.min, 20000);
}

int main(void)
{
	test_vectors();
	test_granularity();
	test_first_sample_ignores_delay();
	return tern_check_result("rtt");
}
