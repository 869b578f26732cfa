/*
 * Golden vectors (protocol/vectors): every valid vector decodes to the field
 * values written below by hand from the layout (not produced by the encoder)
 * and re-encodes to the same bytes; every invalid vector fails with the errno
 * named in vectors.txt; every valid vector fails when truncated at any offset
 * or extended by a byte; encoders refuse every capacity below the frame size
 * without writing past it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "roller/protocol.h"
#include "vectors.h"

static struct vectors_entry entries[VECTORS_MAX];
static size_t entry_count;

/* ---- Expected decodes ------------------------------------------------------ */

struct expected {
	const char *name;
	struct proto_frame frame;
	/* Measurements: still bits as a string of '0'/'1', sample 0 first. */
	const char *still;
};

#define MEAS(...) { .type = PROTO_TYPE_MEASUREMENT, .u.measurement = { __VA_ARGS__ } }
#define EVENT(...) { .type = PROTO_TYPE_EVENT, .u.event = { __VA_ARGS__ } }
#define SESSION(...) { .type = PROTO_TYPE_SESSION, .u.session = { __VA_ARGS__ } }
#define REQUEST(...) { .type = PROTO_TYPE_CONTROL_REQUEST, .u.request = { __VA_ARGS__ } }
#define RESPONSE(...) { .type = PROTO_TYPE_CONTROL_RESPONSE, .u.response = { __VA_ARGS__ } }
#define CHUNK(...) { .type = PROTO_TYPE_LOG_CHUNK, .u.chunk = { __VA_ARGS__ } }
#define INFO(...) { .type = PROTO_TYPE_INFO, .u.info = { __VA_ARGS__ } }

static const uint8_t session_start_bytes[19] = {
	0x01, 0x07, 0x10, 0x01, 0x01, 0x11, 0x00, 0xe8, 0x03, 0x00,
	0x00, 0x20, 0x4e, 0x00, 0x00, 0x00, 0xf1, 0x53, 0x65,
};

static const struct expected expected[] = {
	{ .name = "meas-mtu23-3.hex", .frame =
	  MEAS(.first_sample = 42, .time = 1000, .flags = 0x05, .count = 3,
	       .force = { 123, -5, 250 }),
	  .still = "101" },
	/* meas-mtu247-108.hex: filled in by expected_meas_108() */
	{ .name = "meas-mtu247-108.hex", .frame =
	  MEAS(.first_sample = 0x00010000, .time = 0x00123456, .flags = 0x07, .count = 108),
	  .still = NULL },
	{ .name = "meas-seq-wrap.hex", .frame =
	  MEAS(.first_sample = 0xFFFFFFFFu, .time = 0xFFFFFFF6u, .flags = 0x02, .count = 3,
	       .force = { 100, 101, 102 }),
	  .still = "000" },
	{ .name = "meas-force-sentinels.hex", .frame =
	  MEAS(.first_sample = 7, .time = 140, .flags = 0x01, .count = 9,
	       .force = { PROTO_FORCE_INVALID, PROTO_FORCE_SATURATED, 32766, -32767, 0, -1, 1,
			  256, -256 }),
	  .still = "111111111" },
	{ .name = "meas-resent-1.hex", .frame =
	  MEAS(.first_sample = 1000, .time = 20000, .flags = 0x09, .count = 1, .force = { -100 }),
	  .still = "1" },
	{ .name = "meas-flush-5.hex", .frame =
	  MEAS(.first_sample = 500, .time = 10000, .flags = 0x07, .count = 5,
	       .force = { 400, 410, 420, 430, 440 }),
	  .still = "01110" },

	{ .name = "event-hold-start.hex", .frame =
	  EVENT(.kind = PROTO_EVENT_HOLD_START, .seq = 1, .sample = 1234, .u.hold_start.force = 250) },
	{ .name = "event-hold-end.hex", .frame =
	  EVENT(.kind = PROTO_EVENT_HOLD_END, .seq = 2, .sample = 2734,
		.u.hold_end = { .duration = 1500, .in_band = 1450, .mean_force = 260,
				.peak_force = 410, .reason = PROTO_END_TARGET, .dips = 2 }) },
	{ .name = "event-status.hex", .frame =
	  EVENT(.kind = PROTO_EVENT_STATUS, .seq = 0xFFFF, .sample = 0,
		.u.status = { .state = PROTO_STATE_HOLDING, .flags = 0x07, .battery_pct = 87 }) },
	{ .name = "event-error.hex", .frame =
	  EVENT(.kind = PROTO_EVENT_ERROR, .seq = 5, .sample = 99999,
		.u.error = { .code = PROTO_ERR_CELL_DISCONNECTED, .channel = 1, .detail = 0x0203 }) },
	{ .name = "event-counters.hex", .frame =
	  EVENT(.kind = PROTO_EVENT_COUNTERS, .seq = 6, .sample = 0x00ABCDEF,
		.u.counters = { .samples_dropped = 70000, .events_dropped = 3,
				.sessions_recycled = 1, .rx_errors = 258 }) },
	{ .name = "event-battery-low.hex", .frame =
	  EVENT(.kind = PROTO_EVENT_BATTERY_LOW, .seq = 7, .sample = 500000,
		.u.battery_low = { .millivolts = 3350, .percent = 9 }) },

	{ .name = "session-start.hex", .frame =
	  SESSION(.kind = PROTO_SESSION_START, .region = PROTO_REGION_CALVES, .session_id = 17,
		  .sample = 1000, .time = 20000, .unix_time = 1700000000) },
	{ .name = "session-end.hex", .frame =
	  SESSION(.kind = PROTO_SESSION_END, .region = PROTO_REGION_NECK, .session_id = 0xFFFF,
		  .sample = 46000, .time = 920000, .unix_time = 0) },

	{ .name = "info.hex", .frame =
	  INFO(.proto_major = 1, .proto_minor = 0, .fw_major = 0, .fw_minor = 3, .fw_patch = 12,
	       .capabilities = 0x001F, .sample_period_us = 20000, .channels = 2,
	       .calibration = PROTO_CAL_VALID, .full_scale = 15000, .device_id = 0xC0FFEE01u) },

	{ .name = "req-version.hex", .frame = REQUEST(.opcode = PROTO_OP_VERSION, .token = 0x10) },
	{ .name = "req-tare.hex", .frame = REQUEST(.opcode = PROTO_OP_TARE, .token = 0x11) },
	{ .name = "req-calibrate.hex", .frame =
	  REQUEST(.opcode = PROTO_OP_CALIBRATE, .token = 0x12, .u.calibrate.load = 196) },
	{ .name = "req-set-clock.hex", .frame =
	  REQUEST(.opcode = PROTO_OP_SET_CLOCK, .token = 0x13, .u.set_clock.unix_time = 1700000000) },
	{ .name = "req-start-session.hex", .frame =
	  REQUEST(.opcode = PROTO_OP_START_SESSION, .token = 0x14,
		  .u.start_session.region = PROTO_REGION_QUADRICEPS) },
	{ .name = "req-stop-session.hex", .frame = REQUEST(.opcode = PROTO_OP_STOP_SESSION, .token = 0x15) },
	{ .name = "req-set-hold.hex", .frame =
	  REQUEST(.opcode = PROTO_OP_SET_HOLD, .token = 0x16,
		  .u.set_hold = { .band_low = 200, .band_high = 400, .hold_s = 30,
				  .grace_ms = 1500, .contact = 20 }) },
	{ .name = "req-get-hold.hex", .frame = REQUEST(.opcode = PROTO_OP_GET_HOLD, .token = 0x17) },
	{ .name = "req-log-info.hex", .frame = REQUEST(.opcode = PROTO_OP_LOG_INFO, .token = 0x18) },
	{ .name = "req-log-read.hex", .frame =
	  REQUEST(.opcode = PROTO_OP_LOG_READ, .token = 0x19,
		  .u.log_read = { .first_record = 1000, .count = 0, .offset = 16 }) },
	{ .name = "req-log-erase.hex", .frame =
	  REQUEST(.opcode = PROTO_OP_LOG_ERASE, .token = 0x1A, .u.log_erase.end_record = 0xFFFFFFFFu) },
	{ .name = "req-battery.hex", .frame = REQUEST(.opcode = PROTO_OP_BATTERY, .token = 0x1B) },
	{ .name = "req-sleep.hex", .frame = REQUEST(.opcode = PROTO_OP_SLEEP, .token = 0x1C) },
	{ .name = "req-resend-samples.hex", .frame =
	  REQUEST(.opcode = PROTO_OP_RESEND_SAMPLES, .token = 0x1D,
		  .u.resend = { .first_sample = 0xFFFFFFF0u, .count = 4096 }) },
	{ .name = "req-set-sleep-timeout.hex", .frame =
	  REQUEST(.opcode = PROTO_OP_SET_SLEEP_TIMEOUT, .token = 0x1E, .u.sleep_timeout.seconds = 600) },

	{ .name = "resp-version.hex", .frame =
	  RESPONSE(.opcode = PROTO_OP_VERSION, .token = 0x10, .status = PROTO_STATUS_OK,
		   .u.version = { .proto_major = 1, .proto_minor = 0, .fw_major = 0, .fw_minor = 3,
				  .fw_patch = 12, .calibration = PROTO_CAL_VALID,
				  .capabilities = 0x001F }) },
	{ .name = "resp-tare.hex", .frame = RESPONSE(.opcode = PROTO_OP_TARE, .token = 0x11) },
	{ .name = "resp-calibrate.hex", .frame =
	  RESPONSE(.opcode = PROTO_OP_CALIBRATE, .token = 0x12, .u.calibrate.scale = -1234567) },
	{ .name = "resp-set-clock.hex", .frame = RESPONSE(.opcode = PROTO_OP_SET_CLOCK, .token = 0x13) },
	{ .name = "resp-start-session.hex", .frame =
	  RESPONSE(.opcode = PROTO_OP_START_SESSION, .token = 0x14, .u.session.session_id = 18) },
	{ .name = "resp-stop-session.hex", .frame =
	  RESPONSE(.opcode = PROTO_OP_STOP_SESSION, .token = 0x15, .u.session.session_id = 18) },
	{ .name = "resp-set-hold.hex", .frame =
	  RESPONSE(.opcode = PROTO_OP_SET_HOLD, .token = 0x16,
		   .u.hold = { .band_low = 200, .band_high = 400, .hold_s = 30, .grace_ms = 1500,
			       .contact = 20 }) },
	{ .name = "resp-get-hold.hex", .frame =
	  RESPONSE(.opcode = PROTO_OP_GET_HOLD, .token = 0x17,
		   .u.hold = { .band_low = 150, .band_high = 350, .hold_s = 3600, .grace_ms = 10000,
			       .contact = 1 }) },
	{ .name = "resp-log-info.hex", .frame =
	  RESPONSE(.opcode = PROTO_OP_LOG_INFO, .token = 0x18,
		   .u.log_info = { .first_record = 1000, .end_record = 5321, .sessions = 4 }) },
	{ .name = "resp-log-read.hex", .frame =
	  RESPONSE(.opcode = PROTO_OP_LOG_READ, .token = 0x19, .u.log_read.records = 4321) },
	{ .name = "resp-log-erase.hex", .frame = RESPONSE(.opcode = PROTO_OP_LOG_ERASE, .token = 0x1A) },
	{ .name = "resp-battery.hex", .frame =
	  RESPONSE(.opcode = PROTO_OP_BATTERY, .token = 0x1B,
		   .u.battery = { .millivolts = 3987, .percent = 76,
				  .flags = PROTO_STATUS_CHARGING }) },
	{ .name = "resp-sleep.hex", .frame = RESPONSE(.opcode = PROTO_OP_SLEEP, .token = 0x1C) },
	{ .name = "resp-resend-samples.hex", .frame =
	  RESPONSE(.opcode = PROTO_OP_RESEND_SAMPLES, .token = 0x1D, .u.resend.count = 250) },
	{ .name = "resp-set-sleep-timeout.hex", .frame = RESPONSE(.opcode = PROTO_OP_SET_SLEEP_TIMEOUT, .token = 0x1E) },
	{ .name = "resp-not-authorized.hex", .frame =
	  RESPONSE(.opcode = PROTO_OP_TARE, .token = 0x21, .status = PROTO_STATUS_NOT_AUTHORIZED) },
	{ .name = "resp-unknown-opcode.hex", .frame =
	  RESPONSE(.opcode = 0x42, .token = 0x22, .status = PROTO_STATUS_UNKNOWN_OPCODE) },
	{ .name = "resp-not-found.hex", .frame =
	  RESPONSE(.opcode = PROTO_OP_RESEND_SAMPLES, .token = 0x23, .status = PROTO_STATUS_NOT_FOUND) },

	/* data: compared against session_start_bytes in check_chunk() */
	{ .name = "log-chunk-mtu23.hex", .frame = CHUNK(.record = 7, .offset = 0, .flags = 0, .crc = 0xA1BD, .len = 8) },
	{ .name = "log-chunk-last.hex", .frame =
	  CHUNK(.record = 7, .offset = 8, .flags = PROTO_CHUNK_LAST_IN_RECORD, .crc = 0x8B74, .len = 11) },
	{ .name = "log-chunk-end-empty.hex", .frame =
	  CHUNK(.record = 8, .offset = 0, .flags = PROTO_CHUNK_END, .crc = 0xFFFF, .len = 0) },
	{ .name = "log-chunk-skipped.hex", .frame =
	  CHUNK(.record = 9, .offset = 0, .flags = PROTO_CHUNK_SKIPPED, .crc = 0xA1BD, .len = 8) },
};

#define EXPECTED_COUNT (sizeof(expected) / sizeof(expected[0]))

static const struct expected *expected_find(const char *name)
{
	size_t i;

	for (i = 0; i < EXPECTED_COUNT; i++) {
		if (strcmp(expected[i].name, name) == 0)
			return &expected[i];
	}
	return NULL;
}

/* ---- Field comparisons -------------------------------------------------------- */

static void check_measurement(const struct expected *x, const struct proto_measurement *got)
{
	const struct proto_measurement *want = &x->frame.u.measurement;
	bool is_108 = strcmp(x->name, "meas-mtu247-108.hex") == 0;
	size_t i;

	assert_int_equal(got->first_sample, want->first_sample);
	assert_int_equal(got->time, want->time);
	assert_int_equal(got->flags, want->flags);
	assert_int_equal(got->count, want->count);
	for (i = 0; i < got->count; i++) {
		/* The 108-sample vector: force[i] = 10 i - 200, samples 54.. still. */
		int want_force = is_108 ? 10 * (int)i - 200 : want->force[i];
		bool want_still = is_108 ? i >= 54 : x->still[i] == '1';

		assert_int_equal(got->force[i], want_force);
		assert_int_equal(proto_measurement_is_still(got, i), want_still);
	}
	if (!is_108)
		assert_int_equal(strlen(x->still), got->count);
	/* Documented: unused still bits are cleared in *m. */
	for (i = got->count; i < PROTO_BATCH_MAX_SAMPLES; i++)
		assert_false(proto_measurement_is_still(got, i));
}

static void check_event(const struct proto_event *want, const struct proto_event *got)
{
	assert_int_equal(got->kind, want->kind);
	assert_int_equal(got->seq, want->seq);
	assert_int_equal(got->sample, want->sample);
	switch (want->kind) {
	case PROTO_EVENT_HOLD_START:
		assert_int_equal(got->u.hold_start.force, want->u.hold_start.force);
		break;
	case PROTO_EVENT_HOLD_END:
		assert_int_equal(got->u.hold_end.duration, want->u.hold_end.duration);
		assert_int_equal(got->u.hold_end.in_band, want->u.hold_end.in_band);
		assert_int_equal(got->u.hold_end.mean_force, want->u.hold_end.mean_force);
		assert_int_equal(got->u.hold_end.peak_force, want->u.hold_end.peak_force);
		assert_int_equal(got->u.hold_end.reason, want->u.hold_end.reason);
		assert_int_equal(got->u.hold_end.dips, want->u.hold_end.dips);
		break;
	case PROTO_EVENT_STATUS:
		assert_int_equal(got->u.status.state, want->u.status.state);
		assert_int_equal(got->u.status.flags, want->u.status.flags);
		assert_int_equal(got->u.status.battery_pct, want->u.status.battery_pct);
		break;
	case PROTO_EVENT_ERROR:
		assert_int_equal(got->u.error.code, want->u.error.code);
		assert_int_equal(got->u.error.channel, want->u.error.channel);
		assert_int_equal(got->u.error.detail, want->u.error.detail);
		break;
	case PROTO_EVENT_COUNTERS:
		assert_int_equal(got->u.counters.samples_dropped, want->u.counters.samples_dropped);
		assert_int_equal(got->u.counters.events_dropped, want->u.counters.events_dropped);
		assert_int_equal(got->u.counters.sessions_recycled, want->u.counters.sessions_recycled);
		assert_int_equal(got->u.counters.rx_errors, want->u.counters.rx_errors);
		break;
	case PROTO_EVENT_BATTERY_LOW:
		assert_int_equal(got->u.battery_low.millivolts, want->u.battery_low.millivolts);
		assert_int_equal(got->u.battery_low.percent, want->u.battery_low.percent);
		break;
	default:
		fail_msg("expected table has unknown event kind %u", want->kind);
	}
}

static void check_session(const struct proto_session *want, const struct proto_session *got)
{
	assert_int_equal(got->kind, want->kind);
	assert_int_equal(got->region, want->region);
	assert_int_equal(got->session_id, want->session_id);
	assert_int_equal(got->sample, want->sample);
	assert_int_equal(got->time, want->time);
	assert_int_equal(got->unix_time, want->unix_time);
}

static void check_info(const struct proto_info *want, const struct proto_info *got)
{
	assert_int_equal(got->proto_major, want->proto_major);
	assert_int_equal(got->proto_minor, want->proto_minor);
	assert_int_equal(got->fw_major, want->fw_major);
	assert_int_equal(got->fw_minor, want->fw_minor);
	assert_int_equal(got->fw_patch, want->fw_patch);
	assert_int_equal(got->capabilities, want->capabilities);
	assert_int_equal(got->sample_period_us, want->sample_period_us);
	assert_int_equal(got->channels, want->channels);
	assert_int_equal(got->calibration, want->calibration);
	assert_int_equal(got->full_scale, want->full_scale);
	assert_int_equal(got->device_id, want->device_id);
}

static void check_hold(const struct proto_hold_params *want, const struct proto_hold_params *got)
{
	assert_int_equal(got->band_low, want->band_low);
	assert_int_equal(got->band_high, want->band_high);
	assert_int_equal(got->hold_s, want->hold_s);
	assert_int_equal(got->grace_ms, want->grace_ms);
	assert_int_equal(got->contact, want->contact);
}

static void check_request(const struct proto_control_request *want,
			  const struct proto_control_request *got)
{
	assert_int_equal(got->opcode, want->opcode);
	assert_int_equal(got->token, want->token);
	switch (want->opcode) {
	case PROTO_OP_CALIBRATE:
		assert_int_equal(got->u.calibrate.load, want->u.calibrate.load);
		break;
	case PROTO_OP_SET_CLOCK:
		assert_int_equal(got->u.set_clock.unix_time, want->u.set_clock.unix_time);
		break;
	case PROTO_OP_START_SESSION:
		assert_int_equal(got->u.start_session.region, want->u.start_session.region);
		break;
	case PROTO_OP_SET_HOLD:
		check_hold(&want->u.set_hold, &got->u.set_hold);
		break;
	case PROTO_OP_LOG_READ:
		assert_int_equal(got->u.log_read.first_record, want->u.log_read.first_record);
		assert_int_equal(got->u.log_read.count, want->u.log_read.count);
		assert_int_equal(got->u.log_read.offset, want->u.log_read.offset);
		break;
	case PROTO_OP_LOG_ERASE:
		assert_int_equal(got->u.log_erase.end_record, want->u.log_erase.end_record);
		break;
	case PROTO_OP_RESEND_SAMPLES:
		assert_int_equal(got->u.resend.first_sample, want->u.resend.first_sample);
		assert_int_equal(got->u.resend.count, want->u.resend.count);
		break;
	case PROTO_OP_SET_SLEEP_TIMEOUT:
		assert_int_equal(got->u.sleep_timeout.seconds, want->u.sleep_timeout.seconds);
		break;
	default:
		break; /* no parameters */
	}
}

static void check_response(const struct proto_control_response *want,
			   const struct proto_control_response *got)
{
	assert_int_equal(got->opcode, want->opcode);
	assert_int_equal(got->token, want->token);
	assert_int_equal(got->status, want->status);
	if (want->status != PROTO_STATUS_OK)
		return;
	switch (want->opcode) {
	case PROTO_OP_VERSION:
		assert_int_equal(got->u.version.proto_major, want->u.version.proto_major);
		assert_int_equal(got->u.version.proto_minor, want->u.version.proto_minor);
		assert_int_equal(got->u.version.fw_major, want->u.version.fw_major);
		assert_int_equal(got->u.version.fw_minor, want->u.version.fw_minor);
		assert_int_equal(got->u.version.fw_patch, want->u.version.fw_patch);
		assert_int_equal(got->u.version.calibration, want->u.version.calibration);
		assert_int_equal(got->u.version.capabilities, want->u.version.capabilities);
		break;
	case PROTO_OP_CALIBRATE:
		assert_int_equal(got->u.calibrate.scale, want->u.calibrate.scale);
		break;
	case PROTO_OP_START_SESSION:
	case PROTO_OP_STOP_SESSION:
		assert_int_equal(got->u.session.session_id, want->u.session.session_id);
		break;
	case PROTO_OP_SET_HOLD:
	case PROTO_OP_GET_HOLD:
		check_hold(&want->u.hold, &got->u.hold);
		break;
	case PROTO_OP_LOG_INFO:
		assert_int_equal(got->u.log_info.first_record, want->u.log_info.first_record);
		assert_int_equal(got->u.log_info.end_record, want->u.log_info.end_record);
		assert_int_equal(got->u.log_info.sessions, want->u.log_info.sessions);
		break;
	case PROTO_OP_LOG_READ:
		assert_int_equal(got->u.log_read.records, want->u.log_read.records);
		break;
	case PROTO_OP_BATTERY:
		assert_int_equal(got->u.battery.millivolts, want->u.battery.millivolts);
		assert_int_equal(got->u.battery.percent, want->u.battery.percent);
		assert_int_equal(got->u.battery.flags, want->u.battery.flags);
		break;
	case PROTO_OP_RESEND_SAMPLES:
		assert_int_equal(got->u.resend.count, want->u.resend.count);
		break;
	default:
		break; /* no result */
	}
}

static void check_chunk(const struct expected *x, const uint8_t *buf, size_t len,
			const struct proto_log_chunk *got)
{
	const struct proto_log_chunk *want = &x->frame.u.chunk;

	assert_int_equal(got->record, want->record);
	assert_int_equal(got->offset, want->offset);
	assert_int_equal(got->flags, want->flags);
	assert_int_equal(got->crc, want->crc);
	assert_int_equal(got->len, want->len);
	if (want->len) {
		/* The two data chunks split the session-start frame at byte 8. */
		assert_memory_equal(got->data, session_start_bytes + want->offset, want->len);
		/* Documented: data points into buf. */
		assert_ptr_equal(got->data, buf + len - want->len);
	}
}

static void check_frame(const struct expected *x, const uint8_t *buf, size_t len,
			const struct proto_frame *got)
{
	assert_int_equal(got->type, x->frame.type);
	switch (x->frame.type) {
	case PROTO_TYPE_MEASUREMENT:
		check_measurement(x, &got->u.measurement);
		break;
	case PROTO_TYPE_EVENT:
		check_event(&x->frame.u.event, &got->u.event);
		break;
	case PROTO_TYPE_CONTROL_REQUEST:
		check_request(&x->frame.u.request, &got->u.request);
		break;
	case PROTO_TYPE_CONTROL_RESPONSE:
		check_response(&x->frame.u.response, &got->u.response);
		break;
	case PROTO_TYPE_LOG_CHUNK:
		check_chunk(x, buf, len, &got->u.chunk);
		break;
	case PROTO_TYPE_INFO:
		check_info(&x->frame.u.info, &got->u.info);
		break;
	case PROTO_TYPE_SESSION:
		check_session(&x->frame.u.session, &got->u.session);
		break;
	default:
		fail_msg("%s: unknown type in the expected table", x->name);
	}
}

/* ---- Helpers ------------------------------------------------------------------ */

static size_t load(const char *name, uint8_t *buf)
{
	size_t len = 0;
	int err = vectors_load(name, buf, VECTORS_FRAME_MAX, &len);

	if (err)
		fail_msg("%s: cannot load: %s (%d)", name, strerror(-err), err);
	return len;
}

/* Exact-size heap copy, so ASan reports any read past len. malloc(0) may
 * return NULL, so an empty copy gets one byte the decoder must not read. */
static uint8_t *exact_copy(const uint8_t *src, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	if (len)
		memcpy(p, src, len);
	return p;
}

/* Typed decoder for a frame type, so tests can check it agrees with
 * proto_frame_decode. */
static int typed_decode(uint8_t type, const uint8_t *buf, size_t len, struct proto_frame *f)
{
	switch (type) {
	case PROTO_TYPE_MEASUREMENT:
		return proto_measurement_decode(buf, len, &f->u.measurement);
	case PROTO_TYPE_EVENT:
		return proto_event_decode(buf, len, &f->u.event);
	case PROTO_TYPE_CONTROL_REQUEST:
		return proto_request_decode(buf, len, &f->u.request);
	case PROTO_TYPE_CONTROL_RESPONSE:
		return proto_response_decode(buf, len, &f->u.response);
	case PROTO_TYPE_LOG_CHUNK:
		return proto_log_chunk_decode(buf, len, &f->u.chunk);
	case PROTO_TYPE_INFO:
		return proto_info_decode(buf, len, &f->u.info);
	case PROTO_TYPE_SESSION:
		return proto_session_decode(buf, len, &f->u.session);
	default:
		fail_msg("no typed decoder for type %u", type);
	}
	return -1;
}

static int setup_manifest(void **state)
{
	(void)state;
	return vectors_manifest(entries, VECTORS_MAX, &entry_count) == 0 && entry_count > 0 ? 0 : -1;
}

/* ---- Manifest ---------------------------------------------------------------- */

static void test_manifest_lists_every_hex_file_and_nothing_else(void **state)
{
	DIR *dir = opendir(vectors_dir());
	struct dirent *d;
	size_t files = 0, i, j;

	(void)state;
	assert_non_null(dir);
	while ((d = readdir(dir)) != NULL) {
		size_t n = strlen(d->d_name);

		if (n < 4 || strcmp(d->d_name + n - 4, ".hex") != 0)
			continue;
		files++;
		if (!vectors_find(entries, entry_count, d->d_name))
			fail_msg("%s is not listed in vectors.txt", d->d_name);
	}
	closedir(dir);
	assert_int_equal(files, entry_count);
	for (i = 0; i < entry_count; i++)
		for (j = i + 1; j < entry_count; j++)
			if (strcmp(entries[i].name, entries[j].name) == 0)
				fail_msg("%s listed twice", entries[i].name);
}

static void test_manifest_and_expected_table_agree(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < entry_count; i++) {
		const struct expected *x = expected_find(entries[i].name);

		if (entries[i].valid && !x)
			fail_msg("%s: valid vector without expected fields in test_vectors.c",
				 entries[i].name);
		if (!entries[i].valid && x)
			fail_msg("%s: invalid vector has expected fields", entries[i].name);
		if (x)
			assert_int_equal(entries[i].type, x->frame.type);
	}
	for (i = 0; i < EXPECTED_COUNT; i++)
		if (!vectors_find(entries, entry_count, expected[i].name))
			fail_msg("%s: expected fields for a vector not in vectors.txt", expected[i].name);
}

static void test_vectors_cover_every_type_kind_opcode_and_response(void **state)
{
	bool type[8] = { false }, kind[7] = { false }, req[16] = { false }, resp_ok[16] = { false };
	bool resp_not_ok = false;
	size_t i;

	(void)state;
	for (i = 0; i < EXPECTED_COUNT; i++) {
		const struct proto_frame *f = &expected[i].frame;

		type[f->type] = true;
		if (f->type == PROTO_TYPE_EVENT)
			kind[f->u.event.kind] = true;
		if (f->type == PROTO_TYPE_CONTROL_REQUEST)
			req[f->u.request.opcode] = true;
		if (f->type == PROTO_TYPE_CONTROL_RESPONSE) {
			if (f->u.response.status == PROTO_STATUS_OK)
				resp_ok[f->u.response.opcode] = true;
			else
				resp_not_ok = true;
		}
	}
	for (i = PROTO_TYPE_MEASUREMENT; i <= PROTO_TYPE_SESSION; i++)
		assert_true(type[i]);
	for (i = PROTO_EVENT_HOLD_START; i <= PROTO_EVENT_BATTERY_LOW; i++)
		assert_true(kind[i]);
	for (i = PROTO_OP_VERSION; i <= PROTO_OP_LAST; i++) {
		assert_true(req[i]);
		assert_true(resp_ok[i]);
	}
	assert_true(resp_not_ok);
}

/* ---- Valid vectors ------------------------------------------------------------- */

static void test_valid_vectors_decode_to_the_fields_written_here(void **state)
{
	uint8_t buf[VECTORS_FRAME_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < EXPECTED_COUNT; i++) {
		struct proto_frame f;
		size_t len = load(expected[i].name, buf);
		uint8_t *exact = exact_copy(buf, len);
		int err;

		memset(&f, 0xA5, sizeof(f));
		err = proto_frame_decode(exact, len, &f);
		if (err)
			fail_msg("%s: proto_frame_decode: %s", expected[i].name, vectors_errno_name(err));
		check_frame(&expected[i], exact, len, &f);

		/* The typed decoder agrees with the dispatcher. */
		memset(&f, 0x5A, sizeof(f));
		f.type = expected[i].frame.type;
		assert_int_equal(typed_decode(f.type, exact, len, &f), 0);
		check_frame(&expected[i], exact, len, &f);
		free(exact);
	}
}

static void test_valid_vectors_have_the_documented_sizes(void **state)
{
	uint8_t buf[VECTORS_FRAME_MAX];

	(void)state;
	/* A full MTU-23 notification carries 20 bytes, MTU 247 carries 244. */
	assert_int_equal(load("meas-mtu23-3.hex", buf), 23 - PROTO_ATT_OVERHEAD);
	assert_int_equal(load("meas-mtu247-108.hex", buf), proto_measurement_size(108));
	assert_true(load("meas-mtu247-108.hex", buf) <= PROTO_FRAME_MAX);
	assert_int_equal(load("meas-flush-5.hex", buf), proto_measurement_size(5));
	assert_int_equal(load("log-chunk-mtu23.hex", buf), 23 - PROTO_ATT_OVERHEAD);
	assert_int_equal(load("session-start.hex", buf), sizeof(session_start_bytes));
	assert_memory_equal(buf, session_start_bytes, sizeof(session_start_bytes));
}

static void test_valid_vectors_reencode_to_identical_bytes(void **state)
{
	uint8_t buf[VECTORS_FRAME_MAX], out[VECTORS_FRAME_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < entry_count; i++) {
		struct proto_frame f;
		size_t len, written = 0;

		if (!entries[i].valid)
			continue;
		len = load(entries[i].name, buf);
		assert_int_equal(proto_frame_decode(buf, len, &f), 0);
		memset(out, 0xEE, sizeof(out));
		if (proto_frame_encode(&f, out, sizeof(out), &written))
			fail_msg("%s: re-encode failed", entries[i].name);
		assert_int_equal(written, len);
		assert_memory_equal(out, buf, len);
	}
}

/* ---- Invalid vectors ----------------------------------------------------------- */

static void test_invalid_vectors_fail_with_the_errno_in_the_manifest(void **state)
{
	uint8_t buf[VECTORS_FRAME_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < entry_count; i++) {
		struct proto_frame f;
		size_t len;
		uint8_t *exact;
		int err;

		if (entries[i].valid)
			continue;
		len = load(entries[i].name, buf);
		exact = exact_copy(buf, len);
		err = proto_frame_decode(exact, len, &f);
		if (err != entries[i].err)
			fail_msg("%s: got %s (%d), want %s", entries[i].name, vectors_errno_name(err),
				 err, vectors_errno_name(entries[i].err));
		/* The typed decoder for the claimed type gives the same error. */
		if (len >= PROTO_HEADER_SIZE && buf[1] >= PROTO_TYPE_MEASUREMENT &&
		    buf[1] <= PROTO_TYPE_SESSION)
			assert_int_equal(typed_decode(buf[1], exact, len, &f), entries[i].err);
		free(exact);
	}
}

static void test_unknown_opcode_request_still_reports_opcode_and_token(void **state)
{
	uint8_t buf[VECTORS_FRAME_MAX];
	struct proto_control_request r;
	size_t len = load("bad-request-opcode-unknown.hex", buf);

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(proto_request_decode(buf, len, &r), -EOPNOTSUPP);
	assert_int_equal(r.opcode, 0x10);
	assert_int_equal(r.token, 0x33);
}

static void test_wrong_type_decoder_returns_enomsg(void **state)
{
	uint8_t buf[VECTORS_FRAME_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < EXPECTED_COUNT; i++) {
		size_t len = load(expected[i].name, buf);
		uint8_t t;

		for (t = PROTO_TYPE_MEASUREMENT; t <= PROTO_TYPE_SESSION; t++) {
			struct proto_frame f;

			if (t == expected[i].frame.type)
				continue;
			assert_int_equal(typed_decode(t, buf, len, &f), -ENOMSG);
		}
	}
}

/* ---- Truncation and extension ------------------------------------------------------ */

static void test_truncation_at_every_offset_fails(void **state)
{
	uint8_t buf[VECTORS_FRAME_MAX];
	size_t i, k;

	(void)state;
	for (i = 0; i < entry_count; i++) {
		size_t len;

		if (!entries[i].valid)
			continue;
		len = load(entries[i].name, buf);
		for (k = 0; k < len; k++) {
			struct proto_frame f;
			uint8_t *exact = exact_copy(buf, k);
			int err = proto_frame_decode(exact, k, &f);

			if (err != -EBADMSG)
				fail_msg("%s cut to %zu bytes: got %s, want EBADMSG", entries[i].name, k,
					 vectors_errno_name(err));
			if (k >= PROTO_HEADER_SIZE)
				assert_int_equal(typed_decode(buf[1], exact, k, &f), -EBADMSG);
			free(exact);
		}
	}
}

/* The length byte rewritten to match the shorter payload: the header checks
 * pass, so the field readers themselves must notice. */
static void test_truncation_with_consistent_length_byte_fails(void **state)
{
	uint8_t buf[VECTORS_FRAME_MAX];
	size_t i, k;

	(void)state;
	for (i = 0; i < entry_count; i++) {
		size_t len;

		if (!entries[i].valid)
			continue;
		len = load(entries[i].name, buf);
		for (k = PROTO_HEADER_SIZE; k < len; k++) {
			struct proto_frame f;
			uint8_t *exact = exact_copy(buf, k);
			int err;

			exact[2] = (uint8_t)(k - PROTO_HEADER_SIZE);
			err = proto_frame_decode(exact, k, &f);
			if (err != -EBADMSG)
				fail_msg("%s cut to %zu bytes, length %u: got %s, want EBADMSG",
					 entries[i].name, k, exact[2], vectors_errno_name(err));
			free(exact);
		}
	}
}

static void test_extension_by_one_byte_is_ebadmsg(void **state)
{
	uint8_t buf[VECTORS_FRAME_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < entry_count; i++) {
		struct proto_frame f;
		size_t len;
		uint8_t *exact;
		int err;

		if (!entries[i].valid)
			continue;
		len = load(entries[i].name, buf);
		buf[len] = 0x00;
		exact = exact_copy(buf, len + 1);
		/* The buffer is longer than the length byte says. */
		assert_int_equal(proto_frame_decode(exact, len + 1, &f), -EBADMSG);
		assert_int_equal(typed_decode(buf[1], exact, len + 1, &f), -EBADMSG);
		/* The length byte counts the extra byte: the payload is too long. */
		exact[2] = (uint8_t)(exact[2] + 1);
		err = proto_frame_decode(exact, len + 1, &f);
		if (err != -EBADMSG)
			fail_msg("%s + 1 byte in the payload: got %s, want EBADMSG", entries[i].name,
				 vectors_errno_name(err));
		free(exact);
	}
}

/* ---- Encoder capacity ----------------------------------------------------------------- */

#define CANARY 0xA5
#define CANARY_BYTES 32

static void test_encoders_return_enobufs_below_the_frame_size_and_never_write_past_cap(void **state)
{
	uint8_t buf[VECTORS_FRAME_MAX];
	uint8_t out[VECTORS_FRAME_MAX + CANARY_BYTES];
	size_t i, cap, j;

	(void)state;
	for (i = 0; i < entry_count; i++) {
		struct proto_frame f;
		size_t len, written;

		if (!entries[i].valid)
			continue;
		len = load(entries[i].name, buf);
		assert_int_equal(proto_frame_decode(buf, len, &f), 0);
		for (cap = 0; cap < len; cap++) {
			uint8_t *exact = malloc(cap ? cap : 1);
			int err;

			assert_non_null(exact);
			memset(out, CANARY, sizeof(out));
			written = 12345;
			err = proto_frame_encode(&f, out, cap, &written);
			if (err != -ENOBUFS)
				fail_msg("%s, cap %zu: got %s, want ENOBUFS", entries[i].name, cap,
					 vectors_errno_name(err));
			assert_int_equal(written, 12345); /* untouched on error */
			for (j = cap; j < sizeof(out); j++)
				if (out[j] != CANARY)
					fail_msg("%s, cap %zu: byte %zu written", entries[i].name, cap, j);
			/* And into an exact-size heap buffer, for ASan. */
			assert_int_equal(proto_frame_encode(&f, exact, cap, &written), -ENOBUFS);
			free(exact);
		}
		for (cap = len; cap <= len + 2; cap++) {
			uint8_t *exact = malloc(cap);

			assert_non_null(exact);
			memset(out, CANARY, sizeof(out));
			assert_int_equal(proto_frame_encode(&f, out, cap, &written), 0);
			assert_int_equal(written, len);
			assert_memory_equal(out, buf, len);
			for (j = len; j < sizeof(out); j++)
				assert_int_equal(out[j], CANARY);
			assert_int_equal(proto_frame_encode(&f, exact, cap, &written), 0);
			assert_memory_equal(exact, buf, len);
			free(exact);
		}
	}
}

/* ---- Stream splitting -------------------------------------------------------------------- */

static void test_frame_peek_splits_a_stream_of_every_valid_vector(void **state)
{
	static uint8_t stream[VECTORS_MAX * VECTORS_FRAME_MAX];
	size_t offsets[VECTORS_MAX], lens[VECTORS_MAX];
	size_t n = 0, total = 0, pos = 0, i, k;

	(void)state;
	for (i = 0; i < entry_count; i++) {
		if (!entries[i].valid)
			continue;
		offsets[n] = total;
		lens[n] = load(entries[i].name, stream + total);
		total += lens[n++];
	}
	for (i = 0; i < n; i++) {
		size_t size = 0;
		struct proto_frame f;

		assert_int_equal(pos, offsets[i]);
		/* Every shorter prefix of the remaining stream asks for more. */
		for (k = 0; k < lens[i]; k++)
			assert_int_equal(proto_frame_peek(stream + pos, k, &size), -EAGAIN);
		assert_int_equal(proto_frame_peek(stream + pos, total - pos, &size), 0);
		assert_int_equal(size, lens[i]);
		assert_int_equal(proto_frame_decode(stream + pos, size, &f), 0);
		pos += size;
	}
	assert_int_equal(pos, total);
}

/* ---- Loader ------------------------------------------------------------------------------ */

static void test_loader_parses_comments_and_case(void **state)
{
	static const char text[] = "# c\n01 0A\tff # x 12 zz\n\n  Bc# tight comment\n";
	uint8_t out[8];
	size_t len = 0;

	(void)state;
	assert_int_equal(vectors_parse(text, sizeof(text) - 1, out, sizeof(out), &len), 0);
	assert_int_equal(len, 4);
	assert_int_equal(out[0], 0x01);
	assert_int_equal(out[1], 0x0A);
	assert_int_equal(out[2], 0xFF);
	assert_int_equal(out[3], 0xBC);
}

static void test_loader_rejects_malformed_text(void **state)
{
	static const char *const bad[] = { "0", "012", "0g", "01,02", "xx", "01 0" };
	uint8_t out[8];
	size_t i, len = 99;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(vectors_parse(bad[i], strlen(bad[i]), out, sizeof(out), &len),
				 -EBADMSG);
	assert_int_equal(len, 99);
}

static void test_loader_never_writes_past_cap(void **state)
{
	static const char text[] = "01 02 03 04";
	uint8_t out[4] = { 0, 0, 0, 0x77 };
	size_t len;

	(void)state;
	assert_int_equal(vectors_parse(text, sizeof(text) - 1, out, 3, &len), -ENOBUFS);
	assert_int_equal(out[3], 0x77);
	assert_int_equal(vectors_parse(text, sizeof(text) - 1, out, 4, &len), 0);
	assert_int_equal(len, 4);
	/* Only text_len characters are read: no NUL needed. */
	assert_int_equal(vectors_parse(text, 5, out, 4, &len), 0);
	assert_int_equal(len, 2);
}

static void test_loader_reports_errors(void **state)
{
	uint8_t out[4];
	size_t len;
	int err;

	(void)state;
	assert_int_equal(vectors_load("no-such-vector.hex", out, sizeof(out), &len), -ENOENT);
	assert_int_equal(vectors_parse(NULL, 0, out, sizeof(out), &len), -EINVAL);
	assert_int_equal(vectors_load(NULL, out, sizeof(out), &len), -EINVAL);
	assert_int_equal(vectors_load("meas-mtu23-3.hex", out, sizeof(out), &len), -ENOBUFS);
	assert_int_equal(vectors_errno_parse("EOPNOTSUPP", &err), 0);
	assert_int_equal(err, -EOPNOTSUPP);
	assert_string_equal(vectors_errno_name(-EPROTONOSUPPORT), "EPROTONOSUPPORT");
	assert_int_equal(vectors_errno_parse("ENOTHING", &err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manifest_lists_every_hex_file_and_nothing_else),
		cmocka_unit_test(test_manifest_and_expected_table_agree),
		cmocka_unit_test(test_vectors_cover_every_type_kind_opcode_and_response),
		cmocka_unit_test(test_valid_vectors_decode_to_the_fields_written_here),
		cmocka_unit_test(test_valid_vectors_have_the_documented_sizes),
		cmocka_unit_test(test_valid_vectors_reencode_to_identical_bytes),
		cmocka_unit_test(test_invalid_vectors_fail_with_the_errno_in_the_manifest),
		cmocka_unit_test(test_unknown_opcode_request_still_reports_opcode_and_token),
		cmocka_unit_test(test_wrong_type_decoder_returns_enomsg),
		cmocka_unit_test(test_truncation_at_every_offset_fails),
		cmocka_unit_test(test_truncation_with_consistent_length_byte_fails),
		cmocka_unit_test(test_extension_by_one_byte_is_ebadmsg),
		cmocka_unit_test(test_encoders_return_enobufs_below_the_frame_size_and_never_write_past_cap),
		cmocka_unit_test(test_frame_peek_splits_a_stream_of_every_valid_vector),
		cmocka_unit_test(test_loader_parses_comments_and_case),
		cmocka_unit_test(test_loader_rejects_malformed_text),
		cmocka_unit_test(test_loader_never_writes_past_cap),
		cmocka_unit_test(test_loader_reports_errors),
	};

	return cmocka_run_group_tests(tests, setup_manifest, NULL);
}
