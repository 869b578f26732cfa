/*
 * Control point: requests and responses for every opcode, parameter ranges,
 * lengths, unknown opcodes, the status <-> errno mapping and which opcodes
 * need an encrypted bonded link.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "roller/protocol.h"
#include "test_util.h"

/* Parameter bytes of each request and result bytes of each OK response,
 * indexed by opcode, from the layout. */
static const size_t request_params[PROTO_OP_LAST + 1] = {
	[PROTO_OP_CALIBRATE] = 2,     [PROTO_OP_SET_CLOCK] = 4, [PROTO_OP_START_SESSION] = 1,
	[PROTO_OP_SET_HOLD] = 10,     [PROTO_OP_LOG_READ] = 8,  [PROTO_OP_LOG_ERASE] = 4,
	[PROTO_OP_RESEND_SAMPLES] = 6, [PROTO_OP_SET_SLEEP_TIMEOUT] = 2,
};
static const size_t response_result[PROTO_OP_LAST + 1] = {
	[PROTO_OP_VERSION] = 8,       [PROTO_OP_CALIBRATE] = 4, [PROTO_OP_START_SESSION] = 2,
	[PROTO_OP_STOP_SESSION] = 2,  [PROTO_OP_SET_HOLD] = 10, [PROTO_OP_GET_HOLD] = 10,
	[PROTO_OP_LOG_INFO] = 10,     [PROTO_OP_LOG_READ] = 4,  [PROTO_OP_BATTERY] = 4,
	[PROTO_OP_RESEND_SAMPLES] = 2,
};

static const struct proto_hold_params good_hold = {
	.band_low = 200, .band_high = 400, .hold_s = 30, .grace_ms = 1500, .contact = 20,
};

/* A valid request for each opcode, with non-zero parameters. */
static struct proto_control_request make_request(uint8_t opcode)
{
	struct proto_control_request r;

	memset(&r, 0, sizeof(r));
	r.opcode = opcode;
	r.token = (uint8_t)(0xF0 | opcode);
	switch (opcode) {
	case PROTO_OP_CALIBRATE:
		r.u.calibrate.load = 0xFFFF;
		break;
	case PROTO_OP_SET_CLOCK:
		r.u.set_clock.unix_time = 0xFFFFFFFEu;
		break;
	case PROTO_OP_START_SESSION:
		r.u.start_session.region = PROTO_REGION_LAST;
		break;
	case PROTO_OP_SET_HOLD:
		r.u.set_hold = good_hold;
		break;
	case PROTO_OP_LOG_READ:
		r.u.log_read.first_record = 0x01020304u;
		r.u.log_read.count = 0x0506;
		r.u.log_read.offset = 0x0708;
		break;
	case PROTO_OP_LOG_ERASE:
		r.u.log_erase.end_record = 0xFFFFFFFFu;
		break;
	case PROTO_OP_RESEND_SAMPLES:
		r.u.resend.first_sample = 0xFFFFFFFFu;
		r.u.resend.count = PROTO_RESEND_MAX;
		break;
	case PROTO_OP_SET_SLEEP_TIMEOUT:
		r.u.sleep_timeout.seconds = 0xFFFF;
		break;
	default:
		break;
	}
	return r;
}

/* A valid OK response for each opcode, with non-zero results. */
static struct proto_control_response make_response(uint8_t opcode)
{
	struct proto_control_response r;

	memset(&r, 0, sizeof(r));
	r.opcode = opcode;
	r.token = (uint8_t)(0xE0 | opcode);
	r.status = PROTO_STATUS_OK;
	switch (opcode) {
	case PROTO_OP_VERSION:
		r.u.version = (struct proto_version){ .proto_major = 1, .proto_minor = 2, .fw_major = 3,
						      .fw_minor = 4, .fw_patch = 5,
						      .calibration = PROTO_CAL_INVALID,
						      .capabilities = 0xFFFF };
		break;
	case PROTO_OP_CALIBRATE:
		r.u.calibrate.scale = INT32_MIN;
		break;
	case PROTO_OP_START_SESSION:
	case PROTO_OP_STOP_SESSION:
		r.u.session.session_id = 0xFFFF;
		break;
	case PROTO_OP_SET_HOLD:
	case PROTO_OP_GET_HOLD:
		r.u.hold = good_hold;
		break;
	case PROTO_OP_LOG_INFO:
		r.u.log_info.first_record = 0xFFFFFFF0u;
		r.u.log_info.end_record = 0x10;
		r.u.log_info.sessions = 0xFFFF;
		break;
	case PROTO_OP_LOG_READ:
		r.u.log_read.records = 0xFFFFFFFFu;
		break;
	case PROTO_OP_BATTERY:
		r.u.battery.millivolts = 4200;
		r.u.battery.percent = 100;
		r.u.battery.flags = PROTO_STATUS_CHARGING | PROTO_STATUS_BATTERY_LOW;
		break;
	case PROTO_OP_RESEND_SAMPLES:
		r.u.resend.count = PROTO_RESEND_MAX;
		break;
	default:
		break;
	}
	return r;
}

static void check_request_equal(const struct proto_control_request *a,
				const struct proto_control_request *b)
{
	assert_int_equal(a->opcode, b->opcode);
	assert_int_equal(a->token, b->token);
	switch (a->opcode) {
	case PROTO_OP_CALIBRATE:
		assert_int_equal(a->u.calibrate.load, b->u.calibrate.load);
		break;
	case PROTO_OP_SET_CLOCK:
		assert_int_equal(a->u.set_clock.unix_time, b->u.set_clock.unix_time);
		break;
	case PROTO_OP_START_SESSION:
		assert_int_equal(a->u.start_session.region, b->u.start_session.region);
		break;
	case PROTO_OP_SET_HOLD:
		assert_memory_equal(&a->u.set_hold, &b->u.set_hold, sizeof(a->u.set_hold));
		break;
	case PROTO_OP_LOG_READ:
		assert_memory_equal(&a->u.log_read, &b->u.log_read, sizeof(a->u.log_read));
		break;
	case PROTO_OP_LOG_ERASE:
		assert_int_equal(a->u.log_erase.end_record, b->u.log_erase.end_record);
		break;
	case PROTO_OP_RESEND_SAMPLES:
		assert_int_equal(a->u.resend.first_sample, b->u.resend.first_sample);
		assert_int_equal(a->u.resend.count, b->u.resend.count);
		break;
	case PROTO_OP_SET_SLEEP_TIMEOUT:
		assert_int_equal(a->u.sleep_timeout.seconds, b->u.sleep_timeout.seconds);
		break;
	default:
		break;
	}
}

static void check_response_equal(const struct proto_control_response *a,
				 const struct proto_control_response *b)
{
	assert_int_equal(a->opcode, b->opcode);
	assert_int_equal(a->token, b->token);
	assert_int_equal(a->status, b->status);
	if (a->status != PROTO_STATUS_OK)
		return;
	switch (a->opcode) {
	case PROTO_OP_VERSION:
		assert_memory_equal(&a->u.version, &b->u.version, sizeof(a->u.version));
		break;
	case PROTO_OP_CALIBRATE:
		assert_int_equal(a->u.calibrate.scale, b->u.calibrate.scale);
		break;
	case PROTO_OP_START_SESSION:
	case PROTO_OP_STOP_SESSION:
		assert_int_equal(a->u.session.session_id, b->u.session.session_id);
		break;
	case PROTO_OP_SET_HOLD:
	case PROTO_OP_GET_HOLD:
		assert_memory_equal(&a->u.hold, &b->u.hold, sizeof(a->u.hold));
		break;
	case PROTO_OP_LOG_INFO:
		assert_int_equal(a->u.log_info.first_record, b->u.log_info.first_record);
		assert_int_equal(a->u.log_info.end_record, b->u.log_info.end_record);
		assert_int_equal(a->u.log_info.sessions, b->u.log_info.sessions);
		break;
	case PROTO_OP_LOG_READ:
		assert_int_equal(a->u.log_read.records, b->u.log_read.records);
		break;
	case PROTO_OP_BATTERY:
		assert_memory_equal(&a->u.battery, &b->u.battery, sizeof(a->u.battery));
		break;
	case PROTO_OP_RESEND_SAMPLES:
		assert_int_equal(a->u.resend.count, b->u.resend.count);
		break;
	default:
		break;
	}
}

/* ---- Requests ------------------------------------------------------------------- */

static void test_request_round_trips_every_opcode(void **state)
{
	uint8_t op;

	(void)state;
	for (op = PROTO_OP_VERSION; op <= PROTO_OP_LAST; op++) {
		struct proto_frame f, back;
		uint8_t out[64];
		size_t len;

		f.type = PROTO_TYPE_CONTROL_REQUEST;
		f.u.request = make_request(op);
		len = assert_round_trip(&f, out, sizeof(out), &back);
		assert_int_equal(len, PROTO_HEADER_SIZE + 2 + request_params[op]);
		check_request_equal(&f.u.request, &back.u.request);
		assert_every_truncation_fails(out, len);
	}
}

static void test_request_parameter_edges_are_accepted(void **state)
{
	struct proto_control_request r;
	uint8_t out[64];
	size_t written;

	(void)state;
#define ACCEPT(op, setup)                                                               \
	do {                                                                            \
		r = make_request(op);                                                   \
		setup;                                                                  \
		assert_int_equal(proto_request_encode(&r, out, sizeof(out), &written), 0); \
		assert_int_equal(proto_request_decode(out, written, &r), 0);            \
	} while (0)
	ACCEPT(PROTO_OP_CALIBRATE, r.u.calibrate.load = 1);
	ACCEPT(PROTO_OP_START_SESSION, r.u.start_session.region = PROTO_REGION_NONE);
	ACCEPT(PROTO_OP_RESEND_SAMPLES, r.u.resend.count = 1);
	ACCEPT(PROTO_OP_LOG_READ, r.u.log_read.count = 0);
	ACCEPT(PROTO_OP_SET_SLEEP_TIMEOUT, r.u.sleep_timeout.seconds = 0);
	ACCEPT(PROTO_OP_SET_HOLD, (r.u.set_hold.contact = 1, r.u.set_hold.band_low = 2,
				   r.u.set_hold.band_high = 3, r.u.set_hold.hold_s = 1,
				   r.u.set_hold.grace_ms = 0));
	ACCEPT(PROTO_OP_SET_HOLD, (r.u.set_hold.hold_s = 3600, r.u.set_hold.grace_ms = 10000));
#undef ACCEPT
}

static void test_request_encoder_rejects_out_of_range_parameters_and_unknown_opcodes(void **state)
{
	struct proto_control_request r;
	uint8_t out[64];
	size_t written = 31337;

	(void)state;
#define REJECT(op, setup)                                                                      \
	do {                                                                                   \
		r = make_request(op);                                                          \
		setup;                                                                         \
		assert_int_equal(proto_request_encode(&r, out, sizeof(out), &written), -ERANGE); \
	} while (0)
	REJECT(0x00, (void)0);
	REJECT(PROTO_OP_LAST + 1, (void)0);
	REJECT(0xFF, (void)0);
	REJECT(PROTO_OP_CALIBRATE, r.u.calibrate.load = 0);
	REJECT(PROTO_OP_START_SESSION, r.u.start_session.region = PROTO_REGION_LAST + 1);
	REJECT(PROTO_OP_RESEND_SAMPLES, r.u.resend.count = 0);
	REJECT(PROTO_OP_RESEND_SAMPLES, r.u.resend.count = PROTO_RESEND_MAX + 1);
	REJECT(PROTO_OP_SET_HOLD, r.u.set_hold.contact = 0);
	REJECT(PROTO_OP_SET_HOLD, r.u.set_hold.band_low = r.u.set_hold.contact);
	REJECT(PROTO_OP_SET_HOLD, r.u.set_hold.band_high = r.u.set_hold.band_low);
	REJECT(PROTO_OP_SET_HOLD, r.u.set_hold.hold_s = 0);
	REJECT(PROTO_OP_SET_HOLD, r.u.set_hold.hold_s = 3601);
	REJECT(PROTO_OP_SET_HOLD, r.u.set_hold.grace_ms = 10001);
#undef REJECT
	assert_int_equal(written, 31337);
}

/* Encodes a valid request, overwrites the parameter bytes at offset, expects
 * -ERANGE (a parameter out of range: the device answers BAD_PARAM). */
static void expect_patched_request_rejected(uint8_t op, size_t offset, const uint8_t *bytes,
					    size_t n)
{
	struct proto_control_request r = make_request(op);
	uint8_t out[64];
	size_t written;

	assert_int_equal(proto_request_encode(&r, out, sizeof(out), &written), 0);
	memcpy(out + PROTO_HEADER_SIZE + 2 + offset, bytes, n);
	assert_int_equal(proto_request_decode(out, written, &r), -ERANGE);
	assert_int_equal(proto_status_from_errno(proto_request_decode(out, written, &r)),
			 PROTO_STATUS_BAD_PARAM);
}

static void test_request_decoder_returns_erange_for_out_of_range_parameters(void **state)
{
	static const uint8_t zero16[] = { 0x00, 0x00 }, big_resend[] = { 0x01, 0x10 };
	static const uint8_t region11[] = { PROTO_REGION_LAST + 1 }, hold3601[] = { 0x11, 0x0E };

	(void)state;
	expect_patched_request_rejected(PROTO_OP_CALIBRATE, 0, zero16, 2);
	expect_patched_request_rejected(PROTO_OP_START_SESSION, 0, region11, 1);
	expect_patched_request_rejected(PROTO_OP_RESEND_SAMPLES, 4, zero16, 2);
	expect_patched_request_rejected(PROTO_OP_RESEND_SAMPLES, 4, big_resend, 2); /* 4097 */
	expect_patched_request_rejected(PROTO_OP_SET_HOLD, 8, zero16, 2);          /* contact 0 */
	expect_patched_request_rejected(PROTO_OP_SET_HOLD, 4, hold3601, 2);        /* hold_s */
}

static void test_request_decoder_rejects_parameters_one_byte_short_or_long(void **state)
{
	uint8_t op;

	(void)state;
	for (op = PROTO_OP_VERSION; op <= PROTO_OP_LAST; op++) {
		struct proto_control_request r = make_request(op);
		uint8_t out[64];
		size_t written;

		assert_int_equal(proto_request_encode(&r, out, sizeof(out), &written), 0);
		out[written] = 0x01;
		out[2]++;
		assert_int_equal(proto_request_decode(out, written + 1, &r), -EBADMSG);
		assert_int_equal(proto_status_from_errno(proto_request_decode(out, written + 1, &r)),
				 PROTO_STATUS_BAD_LENGTH);
		out[2] -= 2;
		if (request_params[op])
			assert_int_equal(proto_request_decode(out, written - 1, &r), -EBADMSG);
	}
}

static void test_request_decoder_reports_unknown_opcodes_with_their_token(void **state)
{
	uint8_t frame[] = { 0x01, 0x03, 0x04, 0x00, 0x5A, 0xAA, 0xBB };
	unsigned op;

	(void)state;
	for (op = 0; op <= 0xFF; op++) {
		struct proto_control_request r;

		if (op >= PROTO_OP_VERSION && op <= PROTO_OP_LAST)
			continue;
		memset(&r, 0, sizeof(r));
		frame[3] = (uint8_t)op;
		assert_int_equal(proto_request_decode(frame, sizeof(frame), &r), -EOPNOTSUPP);
		assert_int_equal(r.opcode, op);
		assert_int_equal(r.token, 0x5A);
		/* With no parameters at all, too. */
		frame[2] = 2;
		assert_int_equal(proto_request_decode(frame, 5, &r), -EOPNOTSUPP);
		frame[2] = 4;
	}
}

static void test_request_decoder_rejects_payloads_without_opcode_and_token(void **state)
{
	const uint8_t none[] = { 0x01, 0x03, 0x00 };
	const uint8_t opcode_only[] = { 0x01, 0x03, 0x01, 0x01 };
	struct proto_control_request r;

	(void)state;
	assert_int_equal(proto_request_decode(none, sizeof(none), &r), -EBADMSG);
	assert_int_equal(proto_request_decode(opcode_only, sizeof(opcode_only), &r), -EBADMSG);
}

/* ---- Responses ---------------------------------------------------------------------- */

static void test_response_round_trips_every_opcode_with_its_result(void **state)
{
	uint8_t op;

	(void)state;
	for (op = PROTO_OP_VERSION; op <= PROTO_OP_LAST; op++) {
		struct proto_frame f, back;
		uint8_t out[64];
		size_t len;

		f.type = PROTO_TYPE_CONTROL_RESPONSE;
		f.u.response = make_response(op);
		len = assert_round_trip(&f, out, sizeof(out), &back);
		assert_int_equal(len, PROTO_HEADER_SIZE + 3 + response_result[op]);
		check_response_equal(&f.u.response, &back.u.response);
		assert_every_truncation_fails(out, len);
	}
}

static void test_response_round_trips_every_error_status_with_any_opcode(void **state)
{
	unsigned op;
	uint8_t status;

	(void)state;
	for (status = PROTO_STATUS_UNKNOWN_OPCODE; status <= PROTO_STATUS_LAST; status++) {
		for (op = 0; op <= 0xFF; op++) {
			struct proto_frame f, back;
			uint8_t out[64];
			size_t len;

			memset(&f, 0, sizeof(f));
			f.type = PROTO_TYPE_CONTROL_RESPONSE;
			f.u.response.opcode = (uint8_t)op;
			f.u.response.token = (uint8_t)~op;
			f.u.response.status = status;
			len = assert_round_trip(&f, out, sizeof(out), &back);
			assert_int_equal(len, PROTO_HEADER_SIZE + 3); /* no result */
			check_response_equal(&f.u.response, &back.u.response);
		}
	}
}

static void test_response_encoder_rejects_unknown_status_unknown_ok_opcode_and_bad_results(void **state)
{
	struct proto_control_response r;
	uint8_t out[64];
	size_t written = 4711;

	(void)state;
#define REJECT(op, setup)                                                                       \
	do {                                                                                    \
		r = make_response(op);                                                          \
		setup;                                                                          \
		assert_int_equal(proto_response_encode(&r, out, sizeof(out), &written), -ERANGE); \
	} while (0)
	REJECT(PROTO_OP_TARE, r.status = PROTO_STATUS_LAST + 1);
	REJECT(PROTO_OP_TARE, r.status = 0xFF);
	REJECT(0x00, (void)0);
	REJECT(PROTO_OP_LAST + 1, (void)0);
	REJECT(PROTO_OP_SET_HOLD, r.u.hold.contact = 0);
	REJECT(PROTO_OP_GET_HOLD, r.u.hold.hold_s = 0);
	REJECT(PROTO_OP_BATTERY, r.u.battery.percent = 101);
	REJECT(PROTO_OP_VERSION, r.u.version.calibration = PROTO_CAL_INVALID + 1);
#undef REJECT
	assert_int_equal(written, 4711);
}

static void test_response_decoder_rejects_wrong_result_lengths(void **state)
{
	uint8_t op;

	(void)state;
	for (op = PROTO_OP_VERSION; op <= PROTO_OP_LAST; op++) {
		struct proto_control_response r = make_response(op);
		uint8_t out[64];
		size_t written;

		assert_int_equal(proto_response_encode(&r, out, sizeof(out), &written), 0);
		out[written] = 0x01;
		out[2]++;
		assert_int_equal(proto_response_decode(out, written + 1, &r), -EBADMSG);
		out[2] -= 2;
		if (response_result[op])
			assert_int_equal(proto_response_decode(out, written - 1, &r), -EBADMSG);
	}
}

static void test_response_decoder_rejects_a_result_after_an_error_status(void **state)
{
	const uint8_t frame[] = { 0x01, 0x04, 0x05, PROTO_OP_START_SESSION, 0x14,
				  PROTO_STATUS_BUSY, 0x12, 0x00 };
	struct proto_control_response r;

	(void)state;
	assert_int_equal(proto_response_decode(frame, sizeof(frame), &r), -EBADMSG);
}

static void test_response_decoder_rejects_unknown_status_and_unknown_ok_opcode(void **state)
{
	uint8_t frame[] = { 0x01, 0x04, 0x03, PROTO_OP_TARE, 0x11, 0x00 };
	struct proto_control_response r;
	unsigned v;

	(void)state;
	for (v = PROTO_STATUS_LAST + 1; v <= 0xFF; v++) {
		frame[5] = (uint8_t)v;
		assert_int_equal(proto_response_decode(frame, sizeof(frame), &r), -EBADMSG);
	}
	frame[5] = PROTO_STATUS_OK;
	for (v = 0; v <= 0xFF; v++) {
		if (v >= PROTO_OP_VERSION && v <= PROTO_OP_LAST)
			continue;
		frame[3] = (uint8_t)v;
		assert_int_equal(proto_response_decode(frame, sizeof(frame), &r), -EOPNOTSUPP);
	}
}

static void test_response_decoder_rejects_out_of_range_results(void **state)
{
	struct proto_control_response r;
	uint8_t out[64];
	size_t written;

	(void)state;
	r = make_response(PROTO_OP_BATTERY);
	assert_int_equal(proto_response_encode(&r, out, sizeof(out), &written), 0);
	out[PROTO_HEADER_SIZE + 3 + 2] = 101; /* percent */
	assert_int_equal(proto_response_decode(out, written, &r), -EBADMSG);

	r = make_response(PROTO_OP_GET_HOLD);
	assert_int_equal(proto_response_encode(&r, out, sizeof(out), &written), 0);
	out[PROTO_HEADER_SIZE + 3 + 8] = 0; /* contact = 0 */
	out[PROTO_HEADER_SIZE + 3 + 9] = 0;
	assert_int_equal(proto_response_decode(out, written, &r), -EBADMSG);

	r = make_response(PROTO_OP_VERSION);
	assert_int_equal(proto_response_encode(&r, out, sizeof(out), &written), 0);
	out[PROTO_HEADER_SIZE + 3 + 5] = PROTO_CAL_INVALID + 1; /* calibration */
	assert_int_equal(proto_response_decode(out, written, &r), -EBADMSG);
}

/* ---- Status and errno ------------------------------------------------------------------ */

static void test_status_errno_mapping_round_trips_for_every_status(void **state)
{
	uint8_t s, t;

	(void)state;
	assert_int_equal(proto_status_to_errno(PROTO_STATUS_OK), 0);
	for (s = PROTO_STATUS_OK; s <= PROTO_STATUS_LAST; s++) {
		int err = proto_status_to_errno(s);

		if (s != PROTO_STATUS_OK)
			assert_true(err < 0);
		assert_int_equal(proto_status_from_errno(err), s);
		for (t = PROTO_STATUS_OK; t < s; t++)
			assert_int_not_equal(proto_status_to_errno(t), err);
	}
}

static void test_status_errno_mapping_is_the_documented_table(void **state)
{
	static const struct {
		uint8_t status;
		int err;
	} table[] = {
		{ PROTO_STATUS_OK, 0 },
		{ PROTO_STATUS_UNKNOWN_OPCODE, -EOPNOTSUPP },
		{ PROTO_STATUS_BAD_LENGTH, -EBADMSG },
		{ PROTO_STATUS_BAD_PARAM, -ERANGE },
		{ PROTO_STATUS_NOT_AUTHORIZED, -EACCES },
		{ PROTO_STATUS_BUSY, -EBUSY },
		{ PROTO_STATUS_INVALID_STATE, -EALREADY },
		{ PROTO_STATUS_NOT_FOUND, -ENOENT },
		{ PROTO_STATUS_STORAGE_ERROR, -EIO },
		{ PROTO_STATUS_UNSUPPORTED_VERSION, -EPROTONOSUPPORT },
		{ PROTO_STATUS_INTERNAL, -EFAULT },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		assert_int_equal(proto_status_to_errno(table[i].status), table[i].err);
		assert_int_equal(proto_status_from_errno(table[i].err), table[i].status);
		/* A positive errno is accepted too (protocol/README.md 5.4). */
		assert_int_equal(proto_status_from_errno(-table[i].err), table[i].status);
	}
	/* The extra device-side errnos. */
	assert_int_equal(proto_status_from_errno(-EINVAL), PROTO_STATUS_BAD_PARAM);
	assert_int_equal(proto_status_from_errno(-EPERM), PROTO_STATUS_NOT_AUTHORIZED);
	assert_int_equal(proto_status_from_errno(-EAGAIN), PROTO_STATUS_BUSY);
	assert_int_equal(proto_status_from_errno(-ENOSPC), PROTO_STATUS_STORAGE_ERROR);
}

static void test_status_errno_mapping_handles_unknown_values(void **state)
{
	unsigned s;

	(void)state;
	for (s = PROTO_STATUS_LAST + 1; s <= 0xFF; s++)
		assert_int_equal(proto_status_to_errno((uint8_t)s), -EIO);
	assert_int_equal(proto_status_from_errno(-E2BIG), PROTO_STATUS_INTERNAL);
	assert_int_equal(proto_status_from_errno(-ENOTDIR), PROTO_STATUS_INTERNAL);
	assert_int_equal(proto_status_from_errno(INT32_MIN), PROTO_STATUS_INTERNAL);
	assert_int_equal(proto_status_from_errno(INT32_MAX), PROTO_STATUS_INTERNAL);
}

static void test_status_strings_are_distinct_and_never_null(void **state)
{
	unsigned s, t;

	(void)state;
	for (s = 0; s <= 0xFF; s++) {
		const char *str = proto_status_str((uint8_t)s);

		assert_non_null(str);
		if (s > PROTO_STATUS_LAST) {
			assert_string_equal(str, "?");
			continue;
		}
		assert_string_not_equal(str, "?");
		for (t = 0; t < s; t++)
			assert_string_not_equal(str, proto_status_str((uint8_t)t));
	}
	assert_string_equal(proto_status_str(PROTO_STATUS_OK), "ok");
}

/* ---- Authorisation and hold params ------------------------------------------------------- */

static void test_only_state_changing_opcodes_need_a_bonded_link(void **state)
{
	uint8_t op;

	(void)state;
	for (op = PROTO_OP_VERSION; op <= PROTO_OP_LAST; op++) {
		bool read_only = op == PROTO_OP_VERSION || op == PROTO_OP_GET_HOLD ||
				 op == PROTO_OP_LOG_INFO || op == PROTO_OP_BATTERY ||
				 op == PROTO_OP_LOG_READ;

		assert_int_equal(proto_opcode_needs_auth(op), !read_only);
	}
}

static void test_hold_params_check_enforces_every_documented_range(void **state)
{
	struct proto_hold_params p;

	(void)state;
	assert_int_equal(proto_hold_params_check(&good_hold), 0);
	assert_int_equal(proto_hold_params_check(NULL), -EINVAL);
#define RANGE(setup, want)                                          \
	do {                                                        \
		p = good_hold;                                      \
		setup;                                              \
		assert_int_equal(proto_hold_params_check(&p), want); \
	} while (0)
	RANGE(p.contact = 0, -ERANGE);
	RANGE(p.contact = 1, 0);
	RANGE(p.band_low = p.contact, -ERANGE);
	RANGE(p.band_low = (uint16_t)(p.contact + 1), 0);
	RANGE(p.band_high = p.band_low, -ERANGE);
	RANGE(p.band_high = (uint16_t)(p.band_low + 1), 0);
	RANGE(p.band_high = PROTO_FORCE_MAX_DN, 0);
	RANGE(p.hold_s = 0, -ERANGE);
	RANGE(p.hold_s = 1, 0);
	RANGE(p.hold_s = 3600, 0);
	RANGE(p.hold_s = 3601, -ERANGE);
	RANGE(p.grace_ms = 0, 0);
	RANGE(p.grace_ms = 10000, 0);
	RANGE(p.grace_ms = 10001, -ERANGE);
#undef RANGE
}

static void test_control_null_arguments_return_einval(void **state)
{
	struct proto_control_request rq = make_request(PROTO_OP_TARE);
	struct proto_control_response rs = make_response(PROTO_OP_TARE);
	uint8_t buf[64] = { 0x01, 0x03, 0x02, 0x02, 0x11 };
	size_t n;

	(void)state;
	assert_int_equal(proto_request_encode(NULL, buf, sizeof(buf), &n), -EINVAL);
	assert_int_equal(proto_request_encode(&rq, NULL, sizeof(buf), &n), -EINVAL);
	assert_int_equal(proto_request_encode(&rq, buf, sizeof(buf), NULL), -EINVAL);
	assert_int_equal(proto_request_decode(NULL, 5, &rq), -EINVAL);
	assert_int_equal(proto_request_decode(buf, 5, NULL), -EINVAL);
	assert_int_equal(proto_response_encode(NULL, buf, sizeof(buf), &n), -EINVAL);
	assert_int_equal(proto_response_encode(&rs, NULL, sizeof(buf), &n), -EINVAL);
	assert_int_equal(proto_response_encode(&rs, buf, sizeof(buf), NULL), -EINVAL);
	assert_int_equal(proto_response_decode(NULL, 6, &rs), -EINVAL);
	assert_int_equal(proto_response_decode(buf, 6, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_round_trips_every_opcode),
		cmocka_unit_test(test_request_parameter_edges_are_accepted),
		cmocka_unit_test(test_request_encoder_rejects_out_of_range_parameters_and_unknown_opcodes),
		cmocka_unit_test(test_request_decoder_returns_erange_for_out_of_range_parameters),
		cmocka_unit_test(test_request_decoder_rejects_parameters_one_byte_short_or_long),
		cmocka_unit_test(test_request_decoder_reports_unknown_opcodes_with_their_token),
		cmocka_unit_test(test_request_decoder_rejects_payloads_without_opcode_and_token),
		cmocka_unit_test(test_response_round_trips_every_opcode_with_its_result),
		cmocka_unit_test(test_response_round_trips_every_error_status_with_any_opcode),
		cmocka_unit_test(test_response_encoder_rejects_unknown_status_unknown_ok_opcode_and_bad_results),
		cmocka_unit_test(test_response_decoder_rejects_wrong_result_lengths),
		cmocka_unit_test(test_response_decoder_rejects_a_result_after_an_error_status),
		cmocka_unit_test(test_response_decoder_rejects_unknown_status_and_unknown_ok_opcode),
		cmocka_unit_test(test_response_decoder_rejects_out_of_range_results),
		cmocka_unit_test(test_status_errno_mapping_round_trips_for_every_status),
		cmocka_unit_test(test_status_errno_mapping_is_the_documented_table),
		cmocka_unit_test(test_status_errno_mapping_handles_unknown_values),
		cmocka_unit_test(test_status_strings_are_distinct_and_never_null),
		cmocka_unit_test(test_only_state_changing_opcodes_need_a_bonded_link),
		cmocka_unit_test(test_hold_params_check_enforces_every_documented_range),
		cmocka_unit_test(test_control_null_arguments_return_einval),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
