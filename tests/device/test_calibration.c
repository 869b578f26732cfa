/*
 * Calibration and signal faults: tare (refused while moving or loaded),
 * scale from a known load, persistence with a CRC (a damaged record gives
 * PROTO_CAL_INVALID and an ERROR event), saturation and disconnected cells
 * reported once per episode.
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
	rig.offset[0] = 120000;
	rig.offset[1] = -30000;
	rig_start(&rig);
	rig_connect(&rig, 247);
	return 0;
}

/* Counts for a total of `total` counts over both cells, on top of the offsets. */
static void counts_sample(int32_t total, int32_t gyro)
{
	int32_t c[2];

	c[0] = rig.offset[0] + total / 3;
	c[1] = rig.offset[1] + total - total / 3;
	rig_sample_counts(&rig, c, gyro);
}

/* Sends a request and runs samples until its response arrives. */
static int request_with(uint8_t opcode, uint16_t load, int32_t total, int32_t gyro,
			struct proto_control_response *r)
{
	struct proto_control_request q;
	size_t from, i, k;
	int status;

	/* the roller lies there for a moment first */
	for (k = 0; k < 3; k++)
		counts_sample(total, gyro);
	memset(&q, 0, sizeof(q));
	q.opcode = opcode;
	q.u.calibrate.load = load;
	from = rig.link.n;
	status = rig_request(&rig, &q, r);
	if (status >= 0)
		return status;
	for (k = 0; k < 64; k++) {
		counts_sample(total, gyro);
		for (i = from; i < rig.link.n; i++) {
			if (rig.link.frames[i].ch != CORE_CHAR_CONTROL)
				continue;
			assert_int_equal(proto_response_decode(rig.link.frames[i].buf,
							       rig.link.frames[i].len, r), 0);
			assert_int_equal(r->opcode, opcode);
			return r->status;
		}
	}
	return -1;
}

static void test_cal_tare_and_scale(void **state)
{
	struct proto_control_response r;
	struct proto_measurement m[4];
	size_t i;

	(void)state;
	assert_int_equal(core_calibration(&rig.core), PROTO_CAL_NONE);
	for (i = 0; i < 5; i++)
		counts_sample(0, 0);
	/* the offsets read as a large force before the tare */
	assert_int_equal(core_force(&rig.core), (int16_t)((120000 - 30000) / 40));
	assert_int_equal(request_with(PROTO_OP_TARE, 0, 0, 0, &r), PROTO_STATUS_OK);
	assert_int_equal(core_calibration(&rig.core), PROTO_CAL_TARED);
	counts_sample(0, 0);
	assert_int_equal(core_force(&rig.core), 0);

	/* 500 N on a sensor of 123.4 counts per newton */
	assert_int_equal(request_with(PROTO_OP_CALIBRATE, 5000, 61700, 0, &r), PROTO_STATUS_OK);
	/* 5000 dN * 100000 uN/dN / 61700 counts = 8103.7 */
	assert_int_equal(r.u.calibrate.scale, 8104);
	assert_int_equal(core_calibration(&rig.core), PROTO_CAL_VALID);
	counts_sample(61700, 0);
	assert_int_equal(core_force(&rig.core), 5000);
	counts_sample(37020, 0); /* 300 N */
	assert_int_equal(core_force(&rig.core), 3000);

	/* batches say CALIBRATED from now on */
	fake_link_clear(&rig.link);
	for (i = 0; i < 3; i++)
		counts_sample(0, 0);
	rig_idle_ms(&rig, 200);
	assert_true(rig_measurements(&rig, m, 4) >= 1);
	assert_true(m[0].flags & PROTO_MEAS_CALIBRATED);

	/* kept across a reboot */
	rig_setup(&rig, &rig.opt, true);
	rig.offset[0] = 120000;
	rig.offset[1] = -30000;
	rig_start(&rig);
	assert_int_equal(core_calibration(&rig.core), PROTO_CAL_VALID);
	counts_sample(61700, 0);
	assert_int_equal(core_force(&rig.core), 5000);

	/* a re-tare keeps the scale */
	rig_connect(&rig, 247);
	rig.offset[0] += 400; /* zero drift */
	assert_int_equal(request_with(PROTO_OP_TARE, 0, 0, 0, &r), PROTO_STATUS_OK);
	assert_int_equal(core_calibration(&rig.core), PROTO_CAL_VALID);
	counts_sample(61700, 0);
	assert_int_equal(core_force(&rig.core), 5000);
}

static void test_cal_refusals(void **state)
{
	struct proto_control_response r;
	size_t i;

	(void)state;
	for (i = 0; i < 5; i++)
		counts_sample(0, 30000);
	/* moving */
	assert_int_equal(request_with(PROTO_OP_TARE, 0, 0, 30000, &r), PROTO_STATUS_BUSY);
	/* calibrate before any tare */
	counts_sample(0, 0);
	assert_int_equal(request_with(PROTO_OP_CALIBRATE, 1000, 4000, 0, &r),
			 PROTO_STATUS_INVALID_STATE);
	/* starts still, then someone rolls it: BUSY, nothing changed */
	{
		struct proto_control_request q;
		size_t from = rig.link.n;

		memset(&q, 0, sizeof(q));
		q.opcode = PROTO_OP_TARE;
		assert_int_equal(rig_request(&rig, &q, NULL), -1);
		for (i = 0; i < 10; i++)
			counts_sample(0, 0);
		counts_sample(0, 30000);
		for (i = from; i < rig.link.n; i++)
			if (rig.link.frames[i].ch == CORE_CHAR_CONTROL)
				break;
		assert_true(i < rig.link.n);
		assert_int_equal(proto_response_decode(rig.link.frames[i].buf, rig.link.frames[i].len, &r), 0);
		assert_int_equal(r.status, PROTO_STATUS_BUSY);
		assert_int_equal(core_calibration(&rig.core), PROTO_CAL_NONE);
	}
	/* loaded, once the zero is known */
	assert_int_equal(request_with(PROTO_OP_TARE, 0, 0, 0, &r), PROTO_STATUS_OK);
	for (i = 0; i < 3; i++)
		counts_sample(80000, 0); /* 200 N */
	assert_int_equal(request_with(PROTO_OP_TARE, 0, 80000, 0, &r), PROTO_STATUS_BUSY);
	/* a second TARE while one runs */
	for (i = 0; i < 3; i++)
		counts_sample(0, 0);
	{
		struct proto_control_request q;

		memset(&q, 0, sizeof(q));
		q.opcode = PROTO_OP_TARE;
		assert_int_equal(rig_request(&rig, &q, NULL), -1);
		assert_int_equal(rig_request(&rig, &q, &r), PROTO_STATUS_BUSY);
	}
}

static void test_cal_crc_invalid(void **state)
{
	struct proto_control_response r;
	struct proto_event e[4];
	size_t i, n;

	(void)state;
	assert_int_equal(request_with(PROTO_OP_TARE, 0, 0, 0, &r), PROTO_STATUS_OK);
	assert_int_equal(request_with(PROTO_OP_CALIBRATE, 5000, 61700, 0, &r), PROTO_STATUS_OK);
	/* flip a bit inside the stored scale of every settings record (they
	 * live in 60-byte slots at the start of storage, device/README.md) */
	for (i = 0; i + 60 <= rig.flash->page_size; i += 60)
		if (rig.flash->mem[i] == 'S')
			rig.flash->mem[i + 30] ^= 0x01;
	rig_setup(&rig, &rig.opt, true);
	rig_start(&rig);
	assert_int_equal(core_calibration(&rig.core), PROTO_CAL_INVALID);
	rig_connect(&rig, 247);
	n = rig_events(&rig, PROTO_EVENT_ERROR, e, 4);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].u.error.code, PROTO_ERR_CALIBRATION_INVALID);
	{
		uint8_t buf[32];
		size_t len;
		struct proto_info info;

		assert_int_equal(core_read_info(&rig.core, buf, sizeof(buf), &len), 0);
		assert_int_equal(proto_info_decode(buf, len, &info), 0);
		assert_int_equal(info.calibration, PROTO_CAL_INVALID);
	}
	/* a new tare brings it back */
	assert_int_equal(request_with(PROTO_OP_TARE, 0, 0, 0, &r), PROTO_STATUS_OK);
	assert_int_equal(core_calibration(&rig.core), PROTO_CAL_TARED);
}

static void test_cal_cell_faults(void **state)
{
	struct proto_event e[8];
	struct proto_measurement m[64];
	int32_t c[2];
	size_t i, n;

	(void)state;
	fake_link_clear(&rig.link);
	c[0] = 8388607; /* rail */
	c[1] = 0;
	for (i = 0; i < 10; i++)
		rig_sample_counts(&rig, c, 0);
	assert_int_equal(core_force(&rig.core), PROTO_FORCE_SATURATED);
	c[0] = 1000;
	for (i = 0; i < 20; i++)
		rig_sample_counts(&rig, c, 0);
	c[0] = 8388607; /* a new episode */
	rig_sample_counts(&rig, c, 0);
	c[0] = 1000;
	c[1] = -8388608; /* a cell reading the negative rail: disconnected */
	for (i = 0; i < 5; i++)
		rig_sample_counts(&rig, c, 0);
	assert_int_equal(core_force(&rig.core), PROTO_FORCE_INVALID);
	n = rig_events(&rig, PROTO_EVENT_ERROR, e, 8);
	assert_int_equal(n, 3);
	assert_int_equal(e[0].u.error.code, PROTO_ERR_SATURATED);
	assert_int_equal(e[0].u.error.channel, 0);
	assert_int_equal(e[0].sample, 0);
	assert_int_equal(e[1].u.error.code, PROTO_ERR_SATURATED);
	assert_int_equal(e[1].sample, 30);
	assert_int_equal(e[2].u.error.code, PROTO_ERR_CELL_DISCONNECTED);
	assert_int_equal(e[2].u.error.channel, 1);
	assert_int_equal(e[2].u.error.detail, 1);
	rig_idle_ms(&rig, 200);
	n = rig_measurements(&rig, m, 64);
	assert_true(n >= 1);
	assert_int_equal(m[0].force[0], PROTO_FORCE_SATURATED);
}

static void test_cal_stuck_cell(void **state)
{
	struct proto_event e[4];
	int32_t c[2] = { 5000, 7000 };
	size_t i;

	(void)state;
	rig_setup(&rig, NULL, false);
	rig.cfg.stuck_samples = 50;
	rig_start(&rig);
	rig_connect(&rig, 247);
	for (i = 0; i < 100; i++) {
		c[0] = 5000 + (int32_t)(i % 2); /* a live cell moves by a count */
		rig_sample_counts(&rig, c, 0);
	}
	assert_int_equal(rig_events(&rig, PROTO_EVENT_ERROR, e, 4), 1);
	assert_int_equal(e[0].u.error.code, PROTO_ERR_CELL_DISCONNECTED);
	assert_int_equal(e[0].u.error.channel, 1);
	assert_int_equal(e[0].u.error.detail, 2);
	assert_int_equal(e[0].sample, 49);
	assert_int_equal(core_force(&rig.core), PROTO_FORCE_INVALID);
}

/* The default filter: a step settles within a few samples, no overshoot. */
static void test_cal_filter_step(void **state)
{
	int16_t prev = 0;
	size_t i;

	(void)state;
	rig_setup(&rig, NULL, false);
	rig.cfg.filter_shift = 2;
	rig.cfg.spike_median = true;
	rig_start(&rig);
	rig_samples(&rig, 10, 0, 0);
	for (i = 0; i < 40; i++) {
		rig_sample(&rig, 2000, 0);
		assert_true(core_force(&rig.core) >= prev);
		assert_true(core_force(&rig.core) <= 2000);
		prev = core_force(&rig.core);
	}
	assert_true(prev >= 1995);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_cal_tare_and_scale, setup),
		cmocka_unit_test_setup(test_cal_refusals, setup),
		cmocka_unit_test_setup(test_cal_crc_invalid, setup),
		cmocka_unit_test_setup(test_cal_cell_faults, setup),
		cmocka_unit_test(test_cal_stuck_cell),
		cmocka_unit_test(test_cal_filter_step),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
