/*
 * The core against the shared golden vectors in protocol/vectors/: frames it
 * emits are byte-identical to the vectors that describe the same situation,
 * every request vector gets a response to the same opcode and token, and
 * every bad request vector gets the status its errno maps to.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fakes.h"
#include "vectors.h"

static struct rig rig;

static void load(const char *name, uint8_t *buf, size_t *len)
{
	assert_int_equal(vectors_load(name, buf, VECTORS_FRAME_MAX, len), 0);
}

/* First boot: tare, then calibrate to exactly the rig's 2500 uN/count. */
static void calibrate_first(void)
{
	struct proto_control_request q;
	size_t k;

	rig_setup(&rig, NULL, false);
	rig_start(&rig);
	rig_connect(&rig, 247);
	rig_samples(&rig, 3, 0, 0);
	memset(&q, 0, sizeof(q));
	q.opcode = PROTO_OP_TARE;
	(void)rig_request(&rig, &q, NULL);
	rig_samples(&rig, 40, 0, 0);
	q.opcode = PROTO_OP_CALIBRATE;
	q.u.calibrate.load = 1000;
	(void)rig_request(&rig, &q, NULL);
	for (k = 0; k < 40; k++)
		rig_sample(&rig, 1000, 0);
	assert_int_equal(core_calibration(&rig.core), PROTO_CAL_VALID);
}

/* meas-mtu23-3.hex: samples 42..44 at 1000 ms, 12.3 N still, -0.5 N moving,
 * 25.0 N still, calibrated, in contact: one MTU-23 notification. */
static void test_vectors_measurement_mtu23(void **state)
{
	uint8_t want[VECTORS_FRAME_MAX];
	size_t len, i;

	(void)state;
	calibrate_first();
	rig_setup(&rig, NULL, true);
	rig.cfg.first_sample = 42;
	rig_start(&rig);
	rig_connect(&rig, 23);
	fake_link_clear(&rig.link);
	assert_int_equal(rig.clock.now, 1000);
	rig_sample(&rig, 123, 0);
	rig_sample(&rig, -5, 20000);
	rig_sample(&rig, 250, 0);
	load("meas-mtu23-3.hex", want, &len);
	for (i = 0; i < rig.link.n; i++)
		if (rig.link.frames[i].ch == CORE_CHAR_MEASUREMENT)
			break;
	assert_true(i < rig.link.n);
	assert_int_equal(rig.link.frames[i].len, len);
	assert_memory_equal(rig.link.frames[i].buf, want, len);
}

/* resp-version.hex: firmware 0.3.12, calibrated, IMU+LOG+RESEND+BATTERY+USB. */
static void test_vectors_version_response(void **state)
{
	uint8_t req[VECTORS_FRAME_MAX], want[VECTORS_FRAME_MAX];
	size_t req_len, len, i;

	(void)state;
	calibrate_first();
	rig_setup(&rig, NULL, true);
	rig.cfg.fw_major = 0;
	rig.cfg.fw_minor = 3;
	rig.cfg.fw_patch = 12;
	rig.cfg.capabilities = PROTO_CAP_USB;
	rig_start(&rig);
	rig_connect(&rig, 23);
	load("req-version.hex", req, &req_len);
	load("resp-version.hex", want, &len);
	fake_link_clear(&rig.link);
	assert_int_equal(rig_request_raw(&rig, req, req_len, NULL), PROTO_STATUS_OK);
	for (i = 0; i < rig.link.n; i++)
		if (rig.link.frames[i].ch == CORE_CHAR_CONTROL)
			break;
	assert_int_equal(rig.link.frames[i].len, len);
	assert_memory_equal(rig.link.frames[i].buf, want, len);
}

static void test_vectors_every_request_answered(void **state)
{
	static struct vectors_entry entries[VECTORS_MAX];
	size_t count, i, checked = 0;

	(void)state;
	assert_int_equal(vectors_manifest(entries, VECTORS_MAX, &count), 0);
	for (i = 0; i < count; i++) {
		const struct vectors_entry *e = &entries[i];
		uint8_t buf[VECTORS_FRAME_MAX];
		struct proto_control_response r;
		struct proto_control_request q;
		size_t len, k;
		int status;

		if (!(e->valid ? e->type == PROTO_TYPE_CONTROL_REQUEST
			       : strncmp(e->name, "bad-request-", 12) == 0))
			continue;
		rig_setup(&rig, NULL, false);
		rig_start(&rig);
		rig_connect(&rig, 247);
		rig_samples(&rig, 3, 0, 0);
		load(e->name, buf, &len);
		status = rig_request_raw(&rig, buf, len, &r);
		for (k = 0; k < 64 && status < 0; k++) {
			size_t from = rig.link.n, j;

			rig_sample(&rig, 0, 0);
			for (j = from; j < rig.link.n; j++)
				if (rig.link.frames[j].ch == CORE_CHAR_CONTROL) {
					assert_int_equal(proto_response_decode(rig.link.frames[j].buf,
									       rig.link.frames[j].len, &r), 0);
					status = r.status;
				}
		}
		assert_true(status >= 0);
		if (e->valid) {
			assert_int_equal(proto_request_decode(buf, len, &q), 0);
			assert_int_equal(r.opcode, q.opcode);
			assert_int_equal(r.token, q.token);
		} else {
			assert_int_equal(status, proto_status_from_errno(e->err));
			assert_int_equal(r.opcode, buf[3]);
			assert_int_equal(r.token, buf[4]);
		}
		checked++;
	}
	assert_true(checked >= 15 + 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_measurement_mtu23),
		cmocka_unit_test(test_vectors_version_response),
		cmocka_unit_test(test_vectors_every_request_answered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
