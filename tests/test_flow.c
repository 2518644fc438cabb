/* Connection flow-control tests: receive-side violation detection, the exact
 * point at which MAX_DATA is re-advertised (half the window consumed), and
 * the sender's credit and once-per-limit DATA_BLOCKED. */
#include "check.h"
#include "flow.h"

static void test_rx_violation(void)
{
	struct tern_flow_rx f;

	tern_flow_rx_init(&f, 1000);
	CHECK_EQ(f.max, 1000);
	CHECK_EQ(tern_flow_rx_on_data(&f, 600), 0);
	CHECK_EQ(tern_flow_rx_on_data(&f, 401), TERN_EFLOWCONTROL);
	CHECK_EQ(f.received, 600); /* a violation changes nothing */
	CHECK_EQ(tern_flow_rx_on_data(&f, UINT64_MAX), TERN_EFLOWCONTROL);
	CHECK_EQ(tern_flow_rx_on_data(&f, 400), 0); /* exactly up to max */
	CHECK_EQ(f.received, 1000);
	CHECK_EQ(tern_flow_rx_on_data(&f, 0), 0);
	CHECK_EQ(tern_flow_rx_on_data(&f, 1), TERN_EFLOWCONTROL);
}

static void test_rx_updates(void)
{
	/* window 1000: an update is due once max - consumed <= 500 */
	static const struct {
		uint64_t consume;
		bool update;
		uint64_t max_after;
	} steps[] = {
	        {0, false, 1000},   {499, false, 1000}, {1, true, 1500}, /* consumed 500 */
	        {499, false, 1500}, {1, true, 2000},                     /* consumed 1000 */
	        {900, true, 2900},                     /* one big read: consumed 1900 */
	        {0, false, 2900},   {700, true, 3600}, /* consumed 2600 */
	};
	struct tern_flow_rx f;

	tern_flow_rx_init(&f, 1000);
	for (size_t i = 0; i < TERN_ARRAY_LEN(steps); i++) {
		uint64_t new_max = 12345;
		CHECK_EQ(tern_flow_rx_on_data(&f, steps[i].consume), 0);
		CHECK_EQ(tern_flow_rx_consume(&f, steps[i].consume, &new_max), steps[i].update);
		CHECK_EQ(f.max, steps[i].max_after);
		CHECK_EQ(new_max, steps[i].update ? steps[i].max_after : 12345);
	}
	CHECK_EQ(f.consumed, 2600);
	CHECK_EQ(f.received, 2600);
	/* odd window: half rounds down, so 3 of 7 left is the threshold */
	tern_flow_rx_init(&f, 7);
	CHECK(!tern_flow_rx_consume(&f, 3, NULL));
	CHECK(tern_flow_rx_consume(&f, 1, NULL));
	CHECK_EQ(f.max, 11);
	/* a zero window never advertises */
	tern_flow_rx_init(&f, 0);
	CHECK(!tern_flow_rx_consume(&f, 0, NULL));
	CHECK_EQ(f.max, 0);
}

/* Autotuning, window 1000, RTT 100 us, ceiling 4000: an update due after
 * bytes consumed in less than 2 RTT per window doubles the window first. */
static void test_rx_autotune(void)
{
	static const struct {
		uint64_t consume;
		tern_time now;
		tern_time rtt;
		bool update;
		uint64_t window_after, max_after;
	} steps[] = {
	        {500, 10000, 100, true, 1000, 1500},   /* first epoch began at 0: slow */
	        {500, 10080, 100, true, 2000, 3000},   /* 500 in 80 us < 2·100·500/1000: grow */
	        {999, 10100, 100, false, 2000, 3000},  /* not due yet */
	        {1, 10150, 100, true, 4000, 6000},     /* 1000 in 70 us < 100: grow */
	        {3000, 10300, 100, true, 4000, 9000},  /* at the ceiling */
	        {4500, 90000, 100, true, 4000, 13500}, /* slow reader */
	};
	struct tern_flow_rx f;

	tern_flow_rx_init(&f, 1000);
	for (size_t i = 0; i < TERN_ARRAY_LEN(steps); i++) {
		uint64_t new_max = 0;
		CHECK_EQ(tern_flow_rx_consume_at(&f, steps[i].consume, steps[i].now, steps[i].rtt,
		                                 4000, &new_max),
		         steps[i].update);
		CHECK_EQ(f.window, steps[i].window_after);
		CHECK_EQ(f.max, steps[i].max_after);
	}
	/* no RTT sample: never grows; ensure() raises the window, capped */
	tern_flow_rx_init(&f, 1000);
	CHECK(tern_flow_rx_consume_at(&f, 500, 1, 0, 4000, NULL));
	CHECK_EQ(f.window, 1000);
	tern_flow_rx_ensure(&f, 3000, 4000);
	CHECK_EQ(f.window, 3000);
	tern_flow_rx_ensure(&f, 9000, 4000);
	CHECK_EQ(f.window, 4000);
	tern_flow_rx_ensure(&f, 10, 4000);
	CHECK_EQ(f.window, 4000);
}

static void test_tx(void)
{
	struct tern_flow_tx f;

	tern_flow_tx_init(&f, 100);
	CHECK_EQ(tern_flow_tx_credit(&f), 100);
	CHECK(!tern_flow_tx_blocked(&f));
	tern_flow_tx_on_sent(&f, 60);
	CHECK_EQ(tern_flow_tx_credit(&f), 40);
	tern_flow_tx_on_sent(&f, 40);
	CHECK_EQ(tern_flow_tx_credit(&f), 0);
	CHECK(tern_flow_tx_blocked(&f));
	CHECK_EQ(f.blocked_at, 100);
	CHECK(!tern_flow_tx_blocked(&f)); /* once per limit */
	tern_flow_tx_on_max(&f, 90);      /* never shrinks */
	CHECK_EQ(f.max, 100);
	tern_flow_tx_on_max(&f, 150);
	CHECK_EQ(tern_flow_tx_credit(&f), 50);
	CHECK(!tern_flow_tx_blocked(&f));
	tern_flow_tx_on_sent(&f, 50);
	CHECK(tern_flow_tx_blocked(&f));
	CHECK_EQ(f.blocked_at, 150);
	/* a peer that grants nothing: blocked from the start, reported once */
	tern_flow_tx_init(&f, 0);
	CHECK_EQ(tern_flow_tx_credit(&f), 0);
	CHECK(tern_flow_tx_blocked(&f));
	CHECK(!tern_flow_tx_blocked(&f));
}

int main(void)
{
	test_rx_violation();
	test_rx_updates();
	test_rx_autotune();
	test_tx();
	return tern_check_result("flow");
}
