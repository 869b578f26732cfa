/*
 * Hold detection: scripted force traces give exactly the expected HOLD_START
 * and HOLD_END events (sample indexes, durations, means, reasons, dips).
 * Defaults in the rig: contact 10 N, band 150..400 N, grace 1 s = 80 samples
 * at 80 SPS, hold 90 s; filter and median off so that forces are exact.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fakes.h"

#define ROLL 20000 /* mdps: rolling */
#define STILL 0
#define GRACE 80   /* samples */

static struct rig rig;

static int setup(void **state)
{
	(void)state;
	rig_setup(&rig, NULL, false);
	rig_start(&rig);
	rig_connect(&rig, 247);
	fake_link_clear(&rig.link);
	return 0;
}

static void expect_start(size_t i, uint32_t sample, int16_t force)
{
	struct proto_event e[8];
	size_t n = rig_events(&rig, PROTO_EVENT_HOLD_START, e, 8);

	assert_true(i < n);
	assert_int_equal(e[i].sample, sample);
	assert_int_equal(e[i].u.hold_start.force, force);
}

static void expect_end(size_t i, uint32_t sample, uint16_t duration, uint16_t in_band,
		       int16_t mean, int16_t peak, uint8_t reason, uint8_t dips)
{
	struct proto_event e[8];
	size_t n = rig_events(&rig, PROTO_EVENT_HOLD_END, e, 8);

	assert_true(i < n);
	assert_int_equal(e[i].sample, sample);
	assert_int_equal(e[i].u.hold_end.duration, duration);
	assert_int_equal(e[i].u.hold_end.in_band, in_band);
	assert_int_equal(e[i].u.hold_end.mean_force, mean);
	assert_int_equal(e[i].u.hold_end.peak_force, peak);
	assert_int_equal(e[i].u.hold_end.reason, reason);
	assert_int_equal(e[i].u.hold_end.dips, dips);
}

static size_t count(uint8_t kind)
{
	return rig_events(&rig, kind, NULL, 0);
}

/* off 10, rolling in band 20, still in band 200, off -> one hold of 200. */
static void test_hold_release(void **state)
{
	(void)state;
	rig_samples(&rig, 10, 0, STILL);
	rig_samples(&rig, 20, 2000, ROLL);
	assert_int_equal(core_hold_state(&rig.core), PROTO_STATE_ROLLING);
	rig_samples(&rig, 200, 2000, STILL);
	assert_int_equal(core_hold_state(&rig.core), PROTO_STATE_HOLDING);
	expect_start(0, 30, 2000);
	rig_samples(&rig, GRACE, 0, STILL);
	assert_int_equal(count(PROTO_EVENT_HOLD_END), 0); /* still inside grace */
	rig_samples(&rig, 1, 0, STILL);
	assert_int_equal(count(PROTO_EVENT_HOLD_END), 1);
	expect_end(0, 230, 200, 200, 2000, 2000, PROTO_END_RELEASED, 0);
	assert_int_equal(core_hold_state(&rig.core), PROTO_STATE_RELEASED);
	rig_samples(&rig, 1, 0, STILL);
	assert_int_equal(core_hold_state(&rig.core), PROTO_STATE_IDLE);
	assert_int_equal(count(PROTO_EVENT_HOLD_START), 1);
}

/* A 40-sample dip below the band is survived and counted. */
static void test_hold_short_dip(void **state)
{
	(void)state;
	rig_samples(&rig, 100, 2000, STILL);
	rig_samples(&rig, 40, 1000, STILL);
	rig_samples(&rig, 100, 2000, STILL);
	rig_samples(&rig, GRACE + 1, 0, STILL);
	assert_int_equal(count(PROTO_EVENT_HOLD_START), 1);
	assert_int_equal(count(PROTO_EVENT_HOLD_END), 1);
	/* mean = (200 * 2000 + 40 * 1000) / 240 = 1833.3 */
	expect_end(0, 240, 240, 200, 1833, 2000, PROTO_END_RELEASED, 1);
}

/* Exactly grace samples out of band survive; one more ends the hold. */
static void test_hold_grace_boundary(void **state)
{
	(void)state;
	rig_samples(&rig, 50, 2000, STILL);
	rig_samples(&rig, GRACE, 1000, STILL);
	rig_samples(&rig, 50, 2000, STILL);
	assert_int_equal(count(PROTO_EVENT_HOLD_END), 0);
	rig_samples(&rig, GRACE + 1, 1000, STILL);
	assert_int_equal(count(PROTO_EVENT_HOLD_END), 1);
	expect_end(0, 180, 180, 100, (int16_t)((100 * 2000 + 80 * 1000 + 90) / 180), 2000,
		   PROTO_END_DROPPED, 1);
}

/* A drop longer than grace ends with DROPPED; pressing again starts a new hold. */
static void test_hold_long_drop_then_again(void **state)
{
	(void)state;
	rig_samples(&rig, 100, 2000, STILL);
	rig_samples(&rig, 90, 1000, STILL);
	rig_samples(&rig, 50, 2500, STILL);
	rig_samples(&rig, GRACE + 1, 0, STILL);
	assert_int_equal(count(PROTO_EVENT_HOLD_START), 2);
	expect_end(0, 100, 100, 100, 2000, 2000, PROTO_END_DROPPED, 0);
	expect_start(1, 190, 2500);
	expect_end(1, 240, 50, 50, 2500, 2500, PROTO_END_RELEASED, 0);
}

/* Rolling again for longer than grace: MOVED. */
static void test_hold_moved(void **state)
{
	(void)state;
	rig_samples(&rig, 100, 2000, STILL);
	rig_samples(&rig, GRACE + 1, 2000, ROLL);
	expect_end(0, 100, 100, 100, 2000, 2000, PROTO_END_MOVED, 0);
	assert_int_equal(core_hold_state(&rig.core), PROTO_STATE_RELEASED);
	rig_samples(&rig, 1, 2000, ROLL);
	assert_int_equal(core_hold_state(&rig.core), PROTO_STATE_ROLLING);
}

/* Over-pressure is out of band: a dip, not in_band, but the peak shows it. */
static void test_hold_over_pressure(void **state)
{
	(void)state;
	rig_samples(&rig, 100, 2000, STILL);
	rig_samples(&rig, 40, 5000, STILL);
	rig_samples(&rig, 60, 2000, STILL);
	rig_samples(&rig, GRACE + 1, 0, STILL);
	expect_end(0, 200, 200, 160, 2600, 5000, PROTO_END_RELEASED, 1);
}

/* Target time reached before the release: TARGET. */
static void test_hold_target(void **state)
{
	struct proto_control_request q;

	(void)state;
	memset(&q, 0, sizeof(q));
	q.opcode = PROTO_OP_SET_HOLD;
	q.u.set_hold.band_low = 1500;
	q.u.set_hold.band_high = 4000;
	q.u.set_hold.hold_s = 2; /* 160 samples */
	q.u.set_hold.grace_ms = 500; /* 40 samples */
	q.u.set_hold.contact = 100;
	assert_int_equal(rig_request(&rig, &q, NULL), PROTO_STATUS_OK);
	rig_samples(&rig, 159, 2000, STILL);
	rig_samples(&rig, 41, 0, STILL);
	expect_end(0, 159, 159, 159, 2000, 2000, PROTO_END_RELEASED, 0);
	rig_samples(&rig, 160, 2000, STILL);
	rig_samples(&rig, 41, 0, STILL);
	expect_start(1, 200, 2000);
	expect_end(1, 360, 160, 160, 2000, 2000, PROTO_END_TARGET, 0);
}

/* STOP_SESSION ends a running hold with reason SESSION, at the stop. */
static void test_hold_session_stop(void **state)
{
	struct proto_control_request q;

	(void)state;
	memset(&q, 0, sizeof(q));
	q.opcode = PROTO_OP_START_SESSION;
	q.u.start_session.region = PROTO_REGION_CALVES;
	assert_int_equal(rig_request(&rig, &q, NULL), PROTO_STATUS_OK);
	rig_samples(&rig, 120, 2000, STILL);
	q.opcode = PROTO_OP_STOP_SESSION;
	assert_int_equal(rig_request(&rig, &q, NULL), PROTO_STATUS_OK);
	expect_end(0, 120, 120, 120, 2000, 2000, PROTO_END_SESSION, 0);
}

/* A sensor fault longer than grace drops the hold; the stream carries
 * PROTO_FORCE_INVALID and one ERROR event. */
static void test_hold_sensor_fault(void **state)
{
	size_t i;
	struct proto_event e[4];

	(void)state;
	rig_samples(&rig, 100, 2000, STILL);
	for (i = 0; i < GRACE + 1; i++) {
		core_on_sample(&rig.core, NULL, 0, STILL);
		rig_idle_ms(&rig, 12);
	}
	expect_end(0, 100, 100, 100, 2000, 2000, PROTO_END_DROPPED, 0);
	assert_int_equal(rig_events(&rig, PROTO_EVENT_ERROR, e, 4), 1);
	assert_int_equal(e[0].u.error.code, PROTO_ERR_SENSOR);
	assert_int_equal(e[0].sample, 100);
}

/* Without an IMU, stillness comes from the force variance over 16 samples. */
static void test_hold_no_imu_variance(void **state)
{
	struct rig_options o;
	size_t i;

	(void)state;
	rig_options_default(&o);
	o.imu = false;
	rig_setup(&rig, &o, false);
	rig_start(&rig);
	rig_connect(&rig, 247);
	for (i = 0; i < 50; i++)
		rig_sample(&rig, i % 2 ? 2600 : 1800, CORE_GYRO_ABSENT);
	assert_int_equal(core_hold_state(&rig.core), PROTO_STATE_ROLLING);
	rig_samples(&rig, 100, 2000, CORE_GYRO_ABSENT);
	/* the window holds 16 steady samples first at index 50 + 15 */
	expect_start(0, 65, 2000);
}

/* With the default filter chain, a one-sample spike is rejected by the
 * median and never becomes a dip. */
static void test_hold_spike_rejected(void **state)
{
	(void)state;
	rig_setup(&rig, NULL, false);
	rig.cfg.filter_shift = 2;
	rig.cfg.spike_median = true;
	rig_start(&rig);
	rig_connect(&rig, 247);
	rig_samples(&rig, 100, 2000, STILL);
	rig_samples(&rig, 1, 8000, STILL);
	rig_samples(&rig, 100, 2000, STILL);
	rig_samples(&rig, 1, 50, STILL); /* drop to 5 N: filter decays */
	rig_samples(&rig, 200, 0, STILL);
	assert_int_equal(count(PROTO_EVENT_HOLD_START), 1);
	assert_int_equal(count(PROTO_EVENT_HOLD_END), 1);
	{
		struct proto_event e;

		rig_events(&rig, PROTO_EVENT_HOLD_END, &e, 1);
		assert_int_equal(e.u.hold_end.dips, 0);
		assert_int_equal(e.u.hold_end.peak_force, 2000);
		assert_int_equal(e.u.hold_end.reason, PROTO_END_RELEASED);
	}
}

/* STATUS events follow the state machine; queued ones are coalesced. */
static void test_hold_status_events(void **state)
{
	struct proto_event e[32];
	size_t n;

	(void)state;
	rig_samples(&rig, 5, 0, STILL);
	rig_samples(&rig, 5, 1000, ROLL);
	rig_samples(&rig, 5, 1000, STILL);
	rig_samples(&rig, 5, 2000, STILL);
	rig_samples(&rig, GRACE + 2, 0, STILL);
	n = rig_events(&rig, PROTO_EVENT_STATUS, e, 32);
	assert_int_equal(n, 5);
	assert_int_equal(e[0].u.status.state, PROTO_STATE_ROLLING);
	assert_int_equal(e[1].u.status.state, PROTO_STATE_PRESSING);
	assert_int_equal(e[2].u.status.state, PROTO_STATE_HOLDING);
	assert_int_equal(e[3].u.status.state, PROTO_STATE_RELEASED);
	assert_int_equal(e[4].u.status.state, PROTO_STATE_IDLE);
	assert_true(e[0].u.status.flags & PROTO_STATUS_CONNECTED);
	assert_int_equal(e[0].u.status.battery_pct, 80);

	/* While the link is busy, only the latest STATUS is kept. */
	rig.link.busy = true;
	fake_link_clear(&rig.link);
	rig_samples(&rig, 5, 1000, ROLL);
	rig_samples(&rig, 5, 1000, STILL);
	rig_samples(&rig, 5, 1000, ROLL);
	rig.link.busy = false;
	rig_poll(&rig);
	n = rig_events(&rig, PROTO_EVENT_STATUS, e, 32);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].u.status.state, PROTO_STATE_ROLLING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_hold_release, setup),
		cmocka_unit_test_setup(test_hold_short_dip, setup),
		cmocka_unit_test_setup(test_hold_grace_boundary, setup),
		cmocka_unit_test_setup(test_hold_long_drop_then_again, setup),
		cmocka_unit_test_setup(test_hold_moved, setup),
		cmocka_unit_test_setup(test_hold_over_pressure, setup),
		cmocka_unit_test_setup(test_hold_target, setup),
		cmocka_unit_test_setup(test_hold_session_stop, setup),
		cmocka_unit_test_setup(test_hold_sensor_fault, setup),
		cmocka_unit_test(test_hold_no_imu_variance),
		cmocka_unit_test(test_hold_spike_rejected),
		cmocka_unit_test_setup(test_hold_status_events, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
