/*
 * Battery and sleep policy: BATTERY_LOW with hysteresis, sleep after the
 * idle timeout only without a link, wake on motion or load, SLEEP opcode.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fakes.h"

static struct rig rig;

static int setup(void **state)
{
	(void)state;
	rig_setup(&rig, NULL, false);
	rig.cfg.sleep_timeout_s = 10;
	rig_start(&rig);
	return 0;
}

static void battery(int pct)
{
	rig.power.percent = pct;
	rig.power.millivolts = 3300 + pct * 9;
	rig_idle_ms(&rig, 60000);
}

static void test_power_battery_low_hysteresis(void **state)
{
	struct proto_event e[8];
	struct proto_control_request q;
	struct proto_control_response r;

	(void)state;
	rig.cfg.sleep_timeout_s = 0;
	rig_start(&rig);
	rig_connect(&rig, 247);
	battery(16);
	assert_int_equal(rig_events(&rig, PROTO_EVENT_BATTERY_LOW, e, 8), 0);
	battery(15);
	assert_int_equal(rig_events(&rig, PROTO_EVENT_BATTERY_LOW, e, 8), 1);
	assert_int_equal(e[0].u.battery_low.percent, 15);
	assert_int_equal(e[0].u.battery_low.millivolts, 3300 + 15 * 9);
	battery(14);
	battery(16);
	battery(19);
	assert_int_equal(rig_events(&rig, PROTO_EVENT_BATTERY_LOW, e, 8), 1);
	memset(&q, 0, sizeof(q));
	q.opcode = PROTO_OP_BATTERY;
	assert_int_equal(rig_request(&rig, &q, &r), PROTO_STATUS_OK);
	assert_true(r.u.battery.flags & PROTO_STATUS_BATTERY_LOW);
	battery(20); /* low + 5: cleared */
	assert_int_equal(rig_request(&rig, &q, &r), PROTO_STATUS_OK);
	assert_false(r.u.battery.flags & PROTO_STATUS_BATTERY_LOW);
	{
		struct proto_event st[64];
		size_t n = rig_events(&rig, PROTO_EVENT_STATUS, st, 64);

		assert_false(st[n - 1].u.status.flags & PROTO_STATUS_BATTERY_LOW);
		assert_int_equal(st[n - 1].u.status.battery_pct, 20);
	}
	battery(15);
	assert_int_equal(rig_events(&rig, PROTO_EVENT_BATTERY_LOW, e, 8), 2);
	rig.power.charging = true;
	battery(15);
	assert_int_equal(rig_request(&rig, &q, &r), PROTO_STATUS_OK);
	assert_true(r.u.battery.flags & PROTO_STATUS_CHARGING);
}

static void test_power_sleep_after_idle_and_wake_on_motion(void **state)
{
	(void)state;
	rig_samples(&rig, 700, 0, 0); /* 8.75 s: not yet */
	assert_false(core_sleeping(&rig.core));
	rig_samples(&rig, 110, 0, 0);
	assert_true(core_sleeping(&rig.core));
	assert_int_equal(rig.power.sleeps, 1);
	assert_true(rig.motion.armed);
	assert_int_equal(rig.motion.threshold, 30000);
	/* asleep: quiet samples change nothing, the stream does not advance */
	rig_samples(&rig, 50, 0, 5000);
	assert_true(core_sleeping(&rig.core));
	assert_int_equal(core_next_sample(&rig.core), 801);
	rig_sample(&rig, 0, -45000);
	assert_false(core_sleeping(&rig.core));
	assert_int_equal(rig.power.wakes, 1);
	assert_false(rig.motion.armed);
}

static void test_power_wake_on_load(void **state)
{
	(void)state;
	rig.offset[0] = 50000; /* untared: the zero is wherever it was */
	rig_start(&rig);
	rig_idle_ms(&rig, 11000);
	rig_samples(&rig, 1, 0, 0);
	rig_idle_ms(&rig, 11000);
	assert_true(core_sleeping(&rig.core));
	rig_samples(&rig, 5, 50, 0); /* 5 N: below the contact threshold */
	assert_true(core_sleeping(&rig.core));
	rig_sample(&rig, 400, CORE_GYRO_ABSENT);
	assert_false(core_sleeping(&rig.core));
}

static void test_power_no_sleep_when_connected_or_used(void **state)
{
	(void)state;
	rig_connect(&rig, 247);
	rig_idle_ms(&rig, 30000);
	assert_false(core_sleeping(&rig.core));
	core_on_disconnect(&rig.core);
	rig_idle_ms(&rig, 9000);
	assert_false(core_sleeping(&rig.core));
	/* rolling keeps it awake */
	rig_samples(&rig, 800, 0, 20000);
	assert_false(core_sleeping(&rig.core));
	rig_idle_ms(&rig, 10000);
	assert_true(core_sleeping(&rig.core));
	/* a connection wakes it */
	core_on_connect(&rig.core, false);
	assert_false(core_sleeping(&rig.core));
}

static void test_power_sleep_ends_session(void **state)
{
	struct proto_session s;
	uint32_t first, end;
	uint16_t sessions;
	int n;
	static uint8_t recs[RIG_MAX_RECORDS][PROTO_FRAME_MAX];
	static uint32_t nums[RIG_MAX_RECORDS];
	static uint8_t lens[RIG_MAX_RECORDS];

	(void)state;
	rig_samples(&rig, 200, 2000, 0); /* automatic session, a hold */
	assert_true(core_session_active(&rig.core, NULL));
	rig_samples(&rig, 100, 0, 0);
	rig_idle_ms(&rig, 10000);
	assert_true(core_sleeping(&rig.core));
	assert_false(core_session_active(&rig.core, NULL));
	rig_sample(&rig, 0, 50000);
	rig_connect(&rig, 247);
	assert_int_equal(core_log_info(&rig.core, &first, &end, &sessions), 0);
	n = rig_read_log(&rig, first, 0, recs, nums, lens, RIG_MAX_RECORDS);
	assert_int_equal(proto_session_decode(recs[n - 1], lens[n - 1], &s), 0);
	assert_int_equal(s.kind, PROTO_SESSION_END);
	assert_int_equal(s.sample, 300);
}

static void test_power_sleep_opcode_and_failure(void **state)
{
	struct proto_control_request q;

	(void)state;
	rig_connect(&rig, 247);
	memset(&q, 0, sizeof(q));
	q.opcode = PROTO_OP_SET_SLEEP_TIMEOUT;
	q.u.sleep_timeout.seconds = 0; /* never by timeout */
	assert_int_equal(rig_request(&rig, &q, NULL), PROTO_STATUS_OK);
	q.opcode = PROTO_OP_SLEEP;
	rig.link.busy = true; /* the response must get out first */
	assert_int_equal(rig_request(&rig, &q, NULL), -1);
	assert_false(core_sleeping(&rig.core));
	rig.link.busy = false;
	rig_poll(&rig);
	assert_true(core_sleeping(&rig.core));
	core_on_disconnect(&rig.core);
	core_wake(&rig.core);
	rig_idle_ms(&rig, 3600000);
	assert_false(core_sleeping(&rig.core)); /* timeout 0 = never */

	/* the board refuses: stay awake, try again after another timeout */
	rig_setup(&rig, NULL, false);
	rig.cfg.sleep_timeout_s = 10;
	rig_start(&rig);
	rig.power.fail_sleep = -5;
	rig_idle_ms(&rig, 10000);
	assert_false(core_sleeping(&rig.core));
	rig.power.fail_sleep = 0;
	rig_idle_ms(&rig, 5000);
	assert_false(core_sleeping(&rig.core));
	rig_idle_ms(&rig, 5000);
	assert_true(core_sleeping(&rig.core));
	/* the deadline core_poll reports */
	core_wake(&rig.core);
	assert_true(core_poll(&rig.core, rig.clock.now) <= 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_power_battery_low_hysteresis, setup),
		cmocka_unit_test_setup(test_power_sleep_after_idle_and_wake_on_motion, setup),
		cmocka_unit_test_setup(test_power_wake_on_load, setup),
		cmocka_unit_test_setup(test_power_no_sleep_when_connected_or_used, setup),
		cmocka_unit_test_setup(test_power_sleep_ends_session, setup),
		cmocka_unit_test_setup(test_power_sleep_opcode_and_failure, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
