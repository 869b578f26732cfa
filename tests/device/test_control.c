/*
 * Control point: every opcode answered with a status; state-changing
 * opcodes need an encrypted, bonded link; malformed, unknown and
 * unauthorised requests change nothing (compared: settings and log in
 * flash, hold params, calibration, session, sleep).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fakes.h"

static struct rig rig;

struct snapshot {
	struct proto_hold_params hold;
	enum proto_calibration cal;
	bool session;
	uint16_t session_id;
	uint32_t log_first, log_end;
	uint16_t sessions;
	bool sleeping;
	unsigned sleeps;
	uint32_t flash_hash;
};

static void snap(struct snapshot *s)
{
	memset(s, 0, sizeof(*s));
	core_hold_params(&rig.core, &s->hold);
	s->cal = core_calibration(&rig.core);
	s->session = core_session_active(&rig.core, &s->session_id);
	(void)core_log_info(&rig.core, &s->log_first, &s->log_end, &s->sessions);
	s->sleeping = core_sleeping(&rig.core);
	s->sleeps = rig.power.sleeps;
	s->flash_hash = proto_crc32(0, rig.flash->mem,
				    (size_t)rig.flash->page_size * rig.flash->page_count);
}

static void assert_unchanged(const struct snapshot *a)
{
	struct snapshot b;

	/* let anything deferred happen first */
	rig_samples(&rig, 40, 0, 0);
	snap(&b);
	assert_memory_equal(&a->hold, &b.hold, sizeof(b.hold));
	assert_int_equal(a->cal, b.cal);
	assert_int_equal(a->session, b.session);
	assert_int_equal(a->session_id, b.session_id);
	assert_int_equal(a->log_first, b.log_first);
	assert_int_equal(a->log_end, b.log_end);
	assert_int_equal(a->sessions, b.sessions);
	assert_int_equal(a->sleeping, b.sleeping);
	assert_int_equal(a->sleeps, b.sleeps);
	assert_int_equal(a->flash_hash, b.flash_hash);
}

static int setup(void **state)
{
	(void)state;
	rig_setup(&rig, NULL, false);
	rig_start(&rig);
	rig_connect(&rig, 247);
	rig_samples(&rig, 20, 0, 0);
	return 0;
}

/* One valid request of every opcode. */
static void valid_request(uint8_t opcode, struct proto_control_request *q)
{
	memset(q, 0, sizeof(*q));
	q->opcode = opcode;
	switch ((enum proto_opcode)opcode) {
	case PROTO_OP_CALIBRATE:
		q->u.calibrate.load = 1000;
		break;
	case PROTO_OP_SET_CLOCK:
		q->u.set_clock.unix_time = 1700000000u;
		break;
	case PROTO_OP_START_SESSION:
		q->u.start_session.region = PROTO_REGION_SHINS;
		break;
	case PROTO_OP_SET_HOLD:
		q->u.set_hold.band_low = 1000;
		q->u.set_hold.band_high = 2500;
		q->u.set_hold.hold_s = 60;
		q->u.set_hold.grace_ms = 800;
		q->u.set_hold.contact = 80;
		break;
	case PROTO_OP_LOG_ERASE:
		q->u.log_erase.end_record = 0xFFFFFFFFu;
		break;
	case PROTO_OP_RESEND_SAMPLES:
		q->u.resend.first_sample = 5;
		q->u.resend.count = 5;
		break;
	case PROTO_OP_SET_SLEEP_TIMEOUT:
		q->u.sleep_timeout.seconds = 42;
		break;
	case PROTO_OP_LOG_READ:
	case PROTO_OP_VERSION:
	case PROTO_OP_TARE:
	case PROTO_OP_STOP_SESSION:
	case PROTO_OP_GET_HOLD:
	case PROTO_OP_LOG_INFO:
	case PROTO_OP_BATTERY:
	case PROTO_OP_SLEEP:
		break;
	}
}

static void test_control_version_and_info(void **state)
{
	struct proto_control_request q;
	struct proto_control_response r;
	struct proto_info info;
	uint8_t buf[64];
	size_t len;

	(void)state;
	valid_request(PROTO_OP_VERSION, &q);
	assert_int_equal(rig_request(&rig, &q, &r), PROTO_STATUS_OK);
	assert_int_equal(r.u.version.proto_major, PROTO_VERSION);
	assert_int_equal(r.u.version.fw_major, CORE_FW_MAJOR);
	assert_int_equal(r.u.version.fw_minor, CORE_FW_MINOR);
	assert_int_equal(r.u.version.calibration, PROTO_CAL_NONE);
	assert_int_equal(r.u.version.capabilities,
			 PROTO_CAP_IMU | PROTO_CAP_LOG | PROTO_CAP_RESEND | PROTO_CAP_BATTERY);

	assert_int_equal(core_read_info(&rig.core, buf, sizeof(buf), &len), 0);
	assert_int_equal(proto_info_decode(buf, len, &info), 0);
	assert_int_equal(info.sample_period_us, 12500);
	assert_int_equal(info.channels, 2);
	assert_int_equal(info.device_id, 0xC0FFEEu);
	assert_int_equal(info.full_scale, 20000);
	assert_int_equal(core_read_info(&rig.core, buf, 5, &len), -ENOBUFS);
}

static void test_control_every_opcode_answers(void **state)
{
	struct proto_control_request q;
	struct proto_control_response r;
	uint8_t op;

	(void)state;
	for (op = 1; op <= PROTO_OP_LAST; op++) {
		int status;

		valid_request(op, &q);
		status = rig_request(&rig, &q, &r);
		if (op == PROTO_OP_TARE || op == PROTO_OP_CALIBRATE) {
			/* answered once the samples are averaged */
			size_t from = rig.link.n, i;

			assert_int_equal(status, -1);
			rig_samples(&rig, 40, 0, 0);
			status = -1;
			for (i = from; i < rig.link.n; i++)
				if (rig.link.frames[i].ch == CORE_CHAR_CONTROL) {
					assert_int_equal(proto_response_decode(rig.link.frames[i].buf,
									       rig.link.frames[i].len, &r), 0);
					status = r.status;
				}
		}
		if (op == PROTO_OP_CALIBRATE) {
			/* no known load on the roller: nothing to scale by */
			assert_int_equal(status, PROTO_STATUS_BAD_PARAM);
		} else {
			assert_int_equal(status, PROTO_STATUS_OK);
		}
		if (op == PROTO_OP_STOP_SESSION)
			assert_int_equal(r.u.session.session_id, 1); /* the one just started */
		if (op == PROTO_OP_SLEEP) {
			assert_true(core_sleeping(&rig.core));
			core_wake(&rig.core);
		}
	}
	valid_request(PROTO_OP_GET_HOLD, &q);
	assert_int_equal(rig_request(&rig, &q, &r), PROTO_STATUS_OK);
	assert_int_equal(r.u.hold.band_low, 1000);
	assert_int_equal(r.u.hold.contact, 80);
	valid_request(PROTO_OP_STOP_SESSION, &q);
	assert_int_equal(rig_request(&rig, &q, &r), PROTO_STATUS_INVALID_STATE);
	valid_request(PROTO_OP_START_SESSION, &q);
	assert_int_equal(rig_request(&rig, &q, &r), PROTO_STATUS_OK);
	assert_int_equal(r.u.session.session_id, 2);
	assert_int_equal(rig_request(&rig, &q, &r), PROTO_STATUS_INVALID_STATE);
	valid_request(PROTO_OP_BATTERY, &q);
	assert_int_equal(rig_request(&rig, &q, &r), PROTO_STATUS_OK);
	assert_int_equal(r.u.battery.millivolts, 3900);
	assert_int_equal(r.u.battery.percent, 80);
	valid_request(PROTO_OP_LOG_INFO, &q);
	assert_int_equal(rig_request(&rig, &q, &r), PROTO_STATUS_OK);
	assert_int_equal(r.u.log_info.sessions, 1);
}

static void test_control_settings_persist(void **state)
{
	struct proto_control_request q;
	struct proto_hold_params hp;

	(void)state;
	valid_request(PROTO_OP_SET_HOLD, &q);
	assert_int_equal(rig_request(&rig, &q, NULL), PROTO_STATUS_OK);
	rig_setup(&rig, NULL, true);
	rig_start(&rig);
	core_hold_params(&rig.core, &hp);
	assert_int_equal(hp.band_low, 1000);
	assert_int_equal(hp.band_high, 2500);
	assert_int_equal(hp.hold_s, 60);
	assert_int_equal(hp.grace_ms, 800);
	assert_int_equal(hp.contact, 80);
}

static void test_control_set_clock_stamps_sessions(void **state)
{
	struct proto_control_request q;
	struct proto_session s[2];

	(void)state;
	valid_request(PROTO_OP_SET_CLOCK, &q);
	assert_int_equal(rig_request(&rig, &q, NULL), PROTO_STATUS_OK);
	rig_idle_ms(&rig, 5000);
	fake_link_clear(&rig.link);
	valid_request(PROTO_OP_START_SESSION, &q);
	assert_int_equal(rig_request(&rig, &q, NULL), PROTO_STATUS_OK);
	assert_int_equal(rig_sessions(&rig, s, 2), 1);
	assert_int_equal(s[0].unix_time, 1700000005u);
	assert_int_equal(s[0].region, PROTO_REGION_SHINS);
	assert_int_equal(s[0].kind, PROTO_SESSION_START);
}

static void test_control_unauthorised_changes_nothing(void **state)
{
	struct proto_control_request q;
	struct proto_control_response r;
	struct snapshot before;
	uint8_t op;
	int pass;

	(void)state;
	/* something in the log to erase, a session id to move */
	valid_request(PROTO_OP_START_SESSION, &q);
	assert_int_equal(rig_request(&rig, &q, NULL), PROTO_STATUS_OK);
	valid_request(PROTO_OP_STOP_SESSION, &q);
	assert_int_equal(rig_request(&rig, &q, NULL), PROTO_STATUS_OK);

	for (pass = 0; pass < 2; pass++) {
		core_on_disconnect(&rig.core);
		core_on_connect(&rig.core, false);
		/* pass 0: not encrypted; pass 1: encrypted but not bonded */
		core_on_security_changed(&rig.core, pass == 1, false);
		snap(&before);
		for (op = 1; op <= PROTO_OP_LAST; op++) {
			int status;

			valid_request(op, &q);
			status = rig_request(&rig, &q, &r);
			if (proto_opcode_needs_auth(op))
				assert_int_equal(status, PROTO_STATUS_NOT_AUTHORIZED);
			else
				assert_int_equal(status, PROTO_STATUS_OK);
		}
		assert_unchanged(&before);
	}
}

static void test_control_malformed_changes_nothing(void **state)
{
	struct proto_control_request q;
	struct proto_control_response r;
	struct core_counters c0, c1;
	struct snapshot before;
	uint8_t buf[PROTO_FRAME_ABS_MAX], bad[PROTO_FRAME_ABS_MAX];
	size_t len, cut;
	uint8_t op;
	unsigned sent = 0;

	(void)state;
	core_counters(&rig.core, &c0);
	snap(&before);
	for (op = 1; op <= PROTO_OP_LAST; op++) {
		valid_request(op, &q);
		q.token = 0x5A;
		assert_int_equal(proto_request_encode(&q, buf, sizeof(buf), &len), 0);
		/* every shorter length, with the length byte fixed up or not */
		for (cut = 0; cut < len; cut++) {
			memcpy(bad, buf, cut);
			assert_int_not_equal(rig_request_raw(&rig, bad, cut, &r), -1);
			assert_true(r.status == PROTO_STATUS_BAD_LENGTH);
			sent++;
			if (cut >= PROTO_HEADER_SIZE + 2) {
				bad[2] = (uint8_t)(cut - PROTO_HEADER_SIZE);
				assert_int_equal(rig_request_raw(&rig, bad, cut, &r),
						 PROTO_STATUS_BAD_LENGTH);
				assert_int_equal(r.opcode, op);
				assert_int_equal(r.token, 0x5A);
				sent++;
			}
		}
		/* one byte too many */
		memcpy(bad, buf, len);
		bad[len] = 0;
		bad[2]++;
		assert_int_equal(rig_request_raw(&rig, bad, len + 1, &r), PROTO_STATUS_BAD_LENGTH);
		sent++;
		/* wrong version, wrong type */
		memcpy(bad, buf, len);
		bad[0] = 2;
		assert_int_equal(rig_request_raw(&rig, bad, len, &r),
				 PROTO_STATUS_UNSUPPORTED_VERSION);
		bad[0] = PROTO_VERSION;
		bad[1] = PROTO_TYPE_EVENT;
		assert_int_equal(rig_request_raw(&rig, bad, len, &r), PROTO_STATUS_BAD_LENGTH);
		sent += 2;
	}
	/* unknown opcodes echo opcode and token */
	{
		static const uint8_t unknown[] = { 0x00, 0x10, 0x7F, 0xFF };
		size_t i;

		for (i = 0; i < sizeof(unknown); i++) {
			uint8_t f[] = { PROTO_VERSION, PROTO_TYPE_CONTROL_REQUEST, 2, unknown[i], 0x33 };

			assert_int_equal(rig_request_raw(&rig, f, sizeof(f), &r),
					 PROTO_STATUS_UNKNOWN_OPCODE);
			assert_int_equal(r.opcode, unknown[i]);
			assert_int_equal(r.token, 0x33);
			sent++;
		}
	}
	/* parameters out of range: BAD_PARAM */
	{
		uint8_t hold[] = { 1, 3, 12, PROTO_OP_SET_HOLD, 9, 0x90, 1, 0x90, 1, 30, 0, 0xdc, 5, 20, 0 };
		uint8_t region[] = { 1, 3, 3, PROTO_OP_START_SESSION, 9, 11 };
		uint8_t load[] = { 1, 3, 4, PROTO_OP_CALIBRATE, 9, 0, 0 };
		uint8_t resend[] = { 1, 3, 8, PROTO_OP_RESEND_SAMPLES, 9, 0, 0, 0, 0, 0, 0 };

		assert_int_equal(rig_request_raw(&rig, hold, sizeof(hold), &r), PROTO_STATUS_BAD_PARAM);
		assert_int_equal(rig_request_raw(&rig, region, sizeof(region), &r), PROTO_STATUS_BAD_PARAM);
		assert_int_equal(rig_request_raw(&rig, load, sizeof(load), &r), PROTO_STATUS_BAD_PARAM);
		assert_int_equal(rig_request_raw(&rig, resend, sizeof(resend), &r), PROTO_STATUS_BAD_PARAM);
		sent += 4;
	}
	assert_unchanged(&before);
	core_counters(&rig.core, &c1);
	assert_int_equal(c1.rx_errors - c0.rx_errors, sent);
	{
		struct proto_event e;

		assert_true(rig_events(&rig, PROTO_EVENT_ERROR, &e, 1) > 0);
		assert_int_equal(e.u.error.code, PROTO_ERR_BAD_FRAME);
	}
}

/* Random bytes: always one answer, and no state change unless the bytes
 * happen to be a valid request. */
static void test_control_random_bytes(void **state)
{
	struct proto_control_response r;
	struct proto_control_request q;
	struct snapshot before;
	uint8_t buf[32];
	uint32_t x = 12345;
	int i;
	size_t j, len;

	(void)state;
	snap(&before);
	for (i = 0; i < 3000; i++) {
		x = x * 1103515245u + 12345u;
		len = (x >> 16) % sizeof(buf);
		for (j = 0; j < len; j++) {
			x = x * 1103515245u + 12345u;
			buf[j] = (uint8_t)(x >> 16);
		}
		if (len > 0 && (i & 1))
			buf[0] = PROTO_VERSION;
		if (len > 1 && (i & 2))
			buf[1] = PROTO_TYPE_CONTROL_REQUEST;
		if (len > 2 && (i & 4))
			buf[2] = (uint8_t)(len - 3);
		if (proto_request_decode(buf, len, &q) == 0)
			continue;
		assert_int_not_equal(rig_request_raw(&rig, buf, len, &r), -1);
		assert_int_not_equal(r.status, PROTO_STATUS_OK);
	}
	assert_unchanged(&before);
}

/* Responses that cannot be sent right away wait; too many drop the oldest. */
static void test_control_responses_queue(void **state)
{
	struct proto_control_request q;
	struct core_counters c;
	uint8_t buf[16];
	size_t len, i, n = 0;

	(void)state;
	rig.link.busy = true;
	valid_request(PROTO_OP_VERSION, &q);
	for (i = 0; i < 6; i++) {
		q.token = (uint8_t)i;
		assert_int_equal(proto_request_encode(&q, buf, sizeof(buf), &len), 0);
		assert_int_equal(core_on_control_write(&rig.core, buf, len), 0);
	}
	rig.link.busy = false;
	fake_link_clear(&rig.link);
	rig_poll(&rig);
	core_counters(&rig.core, &c);
	assert_int_equal(c.responses_dropped, 2);
	for (i = 0; i < rig.link.n; i++) {
		struct proto_control_response r;

		if (rig.link.frames[i].ch != CORE_CHAR_CONTROL)
			continue;
		assert_int_equal(proto_response_decode(rig.link.frames[i].buf, rig.link.frames[i].len, &r), 0);
		assert_int_equal(r.token, 2 + n);
		n++;
	}
	assert_int_equal(n, 4);
	assert_int_equal(core_on_control_write(&rig.core, NULL, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_control_version_and_info, setup),
		cmocka_unit_test_setup(test_control_every_opcode_answers, setup),
		cmocka_unit_test_setup(test_control_settings_persist, setup),
		cmocka_unit_test_setup(test_control_set_clock_stamps_sessions, setup),
		cmocka_unit_test_setup(test_control_unauthorised_changes_nothing, setup),
		cmocka_unit_test_setup(test_control_malformed_changes_nothing, setup),
		cmocka_unit_test_setup(test_control_random_bytes, setup),
		cmocka_unit_test_setup(test_control_responses_queue, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
