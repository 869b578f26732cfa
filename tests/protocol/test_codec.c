/*
 * Frame header, stream splitting, measurement, event, session, info and log
 * chunk codecs: round trips, documented ranges and errors, sizes and MTU
 * capacities, sequence/time wrap, names.
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

/* ---- Header and stream splitting ---------------------------------------------- */

static void test_header_decode_reports_fields_and_does_not_check_type(void **state)
{
	const uint8_t frame[] = { 0x01, 0x99, 0x02, 0xAA, 0xBB };
	struct proto_header h;

	(void)state;
	assert_int_equal(proto_header_decode(frame, sizeof(frame), &h), 0);
	assert_int_equal(h.version, 1);
	assert_int_equal(h.type, 0x99);
	assert_int_equal(h.length, 2);
}

static void test_header_decode_rejects_short_mismatched_and_wrong_version(void **state)
{
	const uint8_t frame[] = { 0x01, 0x01, 0x02, 0xAA, 0xBB };
	const uint8_t v2[] = { 0x02, 0x01, 0x00 };
	struct proto_header h;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(frame); k++)
		assert_int_equal(proto_header_decode(frame, k, &h), -EBADMSG);
	assert_int_equal(proto_header_decode(v2, sizeof(v2), &h), -EPROTONOSUPPORT);
}

static void test_frame_peek_waits_for_a_whole_frame(void **state)
{
	/* Two frames back to back, then a partial third. */
	const uint8_t stream[] = { 0x01, 0x03, 0x02, 0x02, 0x11, /* TARE request */
				   0x01, 0x04, 0x03, 0x02, 0x11, 0x00, /* TARE response */
				   0x01, 0x03 };
	size_t size = 0, k;

	(void)state;
	for (k = 0; k < 5; k++)
		assert_int_equal(proto_frame_peek(stream, k, &size), -EAGAIN);
	assert_int_equal(proto_frame_peek(stream, sizeof(stream), &size), 0);
	assert_int_equal(size, 5);
	assert_int_equal(proto_frame_peek(stream + 5, sizeof(stream) - 5, &size), 0);
	assert_int_equal(size, 6);
	assert_int_equal(proto_frame_peek(stream + 11, 2, &size), -EAGAIN);
}

static void test_frame_peek_rejects_wrong_version_and_reports_the_largest_frame(void **state)
{
	uint8_t big[PROTO_FRAME_ABS_MAX] = { 0x01, 0x05, 0xFF };
	const uint8_t v0[] = { 0x00, 0x01, 0x00 };
	size_t size = 0;

	(void)state;
	assert_int_equal(proto_frame_peek(v0, sizeof(v0), &size), -EPROTONOSUPPORT);
	assert_int_equal(proto_frame_peek(big, sizeof(big) - 1, &size), -EAGAIN);
	assert_int_equal(proto_frame_peek(big, sizeof(big), &size), 0);
	assert_int_equal(size, PROTO_FRAME_ABS_MAX);
	/* The type is not the splitter's business. */
	big[1] = 0xEE;
	assert_int_equal(proto_frame_peek(big, sizeof(big), &size), 0);
}

/* ---- Measurement ------------------------------------------------------------------ */

static void fill_measurement(struct proto_measurement *m, size_t n)
{
	size_t i;

	memset(m, 0, sizeof(*m));
	m->first_sample = rng_next();
	m->time = rng_next();
	m->flags = (uint8_t)(n & PROTO_MEAS_FLAGS_KNOWN);
	m->count = (uint8_t)n;
	/* Garbage in every still byte, past count too: the encoder must drop it. */
	for (i = 0; i < PROTO_STILL_BYTES; i++)
		m->still[i] = (uint8_t)rng_next();
	for (i = 0; i < n; i++)
		m->force[i] = (int16_t)(uint16_t)rng_next();
	m->force[0] = PROTO_FORCE_INVALID;
	m->force[n - 1] = PROTO_FORCE_SATURATED;
}

static void test_measurement_round_trips_every_count_from_1_to_108(void **state)
{
	uint8_t out[PROTO_FRAME_ABS_MAX];
	size_t n, i;

	(void)state;
	for (n = 1; n <= PROTO_BATCH_MAX_SAMPLES; n++) {
		struct proto_frame f, back;
		const struct proto_measurement *m = &f.u.measurement, *b = &back.u.measurement;
		size_t len;

		f.type = PROTO_TYPE_MEASUREMENT;
		fill_measurement(&f.u.measurement, n);
		len = assert_round_trip(&f, out, sizeof(out), &back);
		assert_int_equal(len, proto_measurement_size(n));
		assert_int_equal(b->first_sample, m->first_sample);
		assert_int_equal(b->time, m->time);
		assert_int_equal(b->flags, m->flags);
		assert_int_equal(b->count, n);
		for (i = 0; i < n; i++) {
			assert_int_equal(b->force[i], m->force[i]);
			assert_int_equal(proto_measurement_is_still(b, i),
					 proto_measurement_is_still(m, i));
		}
		for (i = n; i < PROTO_BATCH_MAX_SAMPLES; i++)
			assert_false(proto_measurement_is_still(b, i));
		assert_every_truncation_fails(out, len);
	}
}

static void test_measurement_encoder_never_sends_still_bits_past_count(void **state)
{
	struct proto_measurement m;
	uint8_t out[64];
	size_t written;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.count = 3;
	m.still[0] = 0xFF;
	m.still[1] = 0xFF;
	assert_int_equal(proto_measurement_encode(&m, out, sizeof(out), &written), 0);
	assert_int_equal(written, 20);
	assert_int_equal(out[13], 0x07); /* bits 0..2 only */
	m.count = 8;                      /* a full byte keeps all eight */
	assert_int_equal(proto_measurement_encode(&m, out, sizeof(out), &written), 0);
	assert_int_equal(out[13], 0xFF);
}

static void test_measurement_encoder_rejects_empty_oversize_batches_and_unknown_flags(void **state)
{
	struct proto_measurement m;
	uint8_t out[PROTO_FRAME_ABS_MAX];
	size_t written = 777;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.count = 0;
	assert_int_equal(proto_measurement_encode(&m, out, sizeof(out), &written), -ERANGE);
	m.count = PROTO_BATCH_MAX_SAMPLES + 1;
	assert_int_equal(proto_measurement_encode(&m, out, sizeof(out), &written), -ERANGE);
	m.count = 255;
	assert_int_equal(proto_measurement_encode(&m, out, sizeof(out), &written), -ERANGE);
	m.count = 1;
	m.flags = 0x10;
	assert_int_equal(proto_measurement_encode(&m, out, sizeof(out), &written), -ERANGE);
	m.flags = 0x80;
	assert_int_equal(proto_measurement_encode(&m, out, sizeof(out), &written), -ERANGE);
	assert_int_equal(written, 777);
}

static void test_measurement_decoder_rejects_zero_and_oversize_counts(void **state)
{
	uint8_t frame[PROTO_FRAME_ABS_MAX];
	struct proto_measurement m;
	size_t n = 109, len = proto_measurement_size(n);

	(void)state;
	/* count 109 with a length byte that matches 109 samples exactly */
	memset(frame, 0, sizeof(frame));
	frame[0] = PROTO_VERSION;
	frame[1] = PROTO_TYPE_MEASUREMENT;
	frame[2] = (uint8_t)(len - PROTO_HEADER_SIZE);
	frame[12] = (uint8_t)n;
	assert_true(len <= sizeof(frame));
	assert_int_equal(proto_measurement_decode(frame, len, &m), -EBADMSG);
	/* count 0 with no samples */
	frame[2] = PROTO_MEAS_FIXED_SIZE;
	frame[12] = 0;
	assert_int_equal(proto_measurement_decode(frame, PROTO_HEADER_SIZE + PROTO_MEAS_FIXED_SIZE, &m),
			 -EBADMSG);
}

static void test_measurement_decoder_rejects_each_still_bit_past_count(void **state)
{
	struct proto_measurement m;
	uint8_t out[PROTO_FRAME_ABS_MAX];
	size_t written, n, bit;

	(void)state;
	for (n = 1; n <= 16; n++) {
		size_t last = PROTO_HEADER_SIZE + PROTO_MEAS_FIXED_SIZE + (n + 7) / 8 - 1;

		memset(&m, 0, sizeof(m));
		m.count = (uint8_t)n;
		assert_int_equal(proto_measurement_encode(&m, out, sizeof(out), &written), 0);
		for (bit = n % 8; n % 8 && bit < 8; bit++) {
			out[last] = (uint8_t)(1u << bit);
			assert_int_equal(proto_measurement_decode(out, written, &m), -EBADMSG);
		}
	}
}

static void test_measurement_size_follows_the_layout(void **state)
{
	(void)state;
	assert_int_equal(proto_measurement_size(1), 3 + 10 + 1 + 2);
	assert_int_equal(proto_measurement_size(3), 20);
	assert_int_equal(proto_measurement_size(5), 24);
	assert_int_equal(proto_measurement_size(8), 3 + 10 + 1 + 16);
	assert_int_equal(proto_measurement_size(9), 3 + 10 + 2 + 18);
	assert_int_equal(proto_measurement_size(108), 243);
}

static void test_measurement_capacity_per_mtu(void **state)
{
	static const struct {
		uint16_t mtu;
		size_t samples;
	} table[] = {
		{ 0, 0 },    { 22, 0 },    { 23, 3 },    { 24, 3 },     { 27, 5 },
		{ 185, 79 }, { 247, 108 }, { 248, 108 }, { 517, 108 }, { 65535, 108 },
	};
	size_t i;
	uint16_t mtu;

	(void)state;
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (proto_measurement_capacity(table[i].mtu) != table[i].samples)
			fail_msg("MTU %u: %zu samples, want %zu", table[i].mtu,
				 proto_measurement_capacity(table[i].mtu), table[i].samples);
	}
	/* The capacity is the largest batch whose frame fits one notification. */
	for (mtu = PROTO_MTU_MIN; mtu <= PROTO_MTU_MAX; mtu++) {
		size_t n = proto_measurement_capacity(mtu);

		assert_true(n >= 1 && n <= PROTO_BATCH_MAX_SAMPLES);
		assert_true(proto_measurement_size(n) <= (size_t)mtu - PROTO_ATT_OVERHEAD);
		if (n < PROTO_BATCH_MAX_SAMPLES)
			assert_true(proto_measurement_size(n + 1) > (size_t)mtu - PROTO_ATT_OVERHEAD);
	}
}

static void test_still_bit_helpers_set_clear_and_ignore_out_of_range(void **state)
{
	struct proto_measurement m, copy;
	size_t i;

	(void)state;
	memset(&m, 0, sizeof(m));
	for (i = 0; i < PROTO_BATCH_MAX_SAMPLES; i += 3)
		proto_measurement_set_still(&m, i, true);
	for (i = 0; i < PROTO_BATCH_MAX_SAMPLES; i++)
		assert_int_equal(proto_measurement_is_still(&m, i), i % 3 == 0);
	proto_measurement_set_still(&m, 0, false);
	assert_false(proto_measurement_is_still(&m, 0));
	assert_true(proto_measurement_is_still(&m, 3));
	assert_int_equal(m.still[0], 0x48); /* bits 3 and 6, LSB first */
	memcpy(&copy, &m, sizeof(m));
	proto_measurement_set_still(&m, PROTO_BATCH_MAX_SAMPLES, true);
	proto_measurement_set_still(NULL, 0, true);
	assert_memory_equal(&copy, &m, sizeof(m));
	assert_false(proto_measurement_is_still(&m, PROTO_BATCH_MAX_SAMPLES));
	assert_false(proto_measurement_is_still(NULL, 0));
}

static void test_seq_diff_is_correct_across_sample_index_and_tick_wrap(void **state)
{
	struct proto_measurement m;
	uint8_t out[64];
	size_t written;

	(void)state;
	assert_int_equal(proto_seq_diff(0xFFFFFFFFu, 0), 1);
	assert_int_equal(proto_seq_diff(0, 0xFFFFFFFFu), -1);
	assert_int_equal(proto_seq_diff(0xFFFFFFFEu, 1), 3);
	assert_int_equal(proto_seq_diff(12345, 12345), 0);
	assert_int_equal(proto_seq_diff(0, 0x7FFFFFFFu), INT32_MAX);
	assert_int_equal(proto_seq_diff(0x7FFFFFFFu, 0), -INT32_MAX);
	assert_int_equal(proto_seq_diff(0, 0x80000000u), INT32_MIN);
	assert_int_equal(proto_seq_diff(0, 0x80000001u), -0x7FFFFFFF);
	/* Ticks: one second before the 49.7-day wrap to one second after it. */
	assert_int_equal(proto_seq_diff(0xFFFFFC18u, 0x000003E8u), 2000);
	assert_int_equal(proto_seq_diff(0x000003E8u, 0xFFFFFC18u), -2000);

	/* A batch that straddles the wrap: its last sample is index 1. */
	memset(&m, 0, sizeof(m));
	m.first_sample = 0xFFFFFFFFu;
	m.count = 3;
	assert_int_equal(proto_measurement_encode(&m, out, sizeof(out), &written), 0);
	memset(&m, 0, sizeof(m));
	assert_int_equal(proto_measurement_decode(out, written, &m), 0);
	assert_int_equal(m.first_sample, 0xFFFFFFFFu);
	assert_int_equal(proto_seq_diff(m.first_sample, 1), m.count - 1);
}

/* ---- Events ---------------------------------------------------------------------- */

static void check_event_fields(const struct proto_event *a, const struct proto_event *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->sample, b->sample);
	switch (a->kind) {
	case PROTO_EVENT_HOLD_START:
		assert_int_equal(a->u.hold_start.force, b->u.hold_start.force);
		break;
	case PROTO_EVENT_HOLD_END:
		assert_memory_equal(&a->u.hold_end, &b->u.hold_end, sizeof(a->u.hold_end));
		break;
	case PROTO_EVENT_STATUS:
		assert_memory_equal(&a->u.status, &b->u.status, sizeof(a->u.status));
		break;
	case PROTO_EVENT_ERROR:
		assert_memory_equal(&a->u.error, &b->u.error, sizeof(a->u.error));
		break;
	case PROTO_EVENT_COUNTERS: /* field by field: the struct has padding */
		assert_int_equal(a->u.counters.samples_dropped, b->u.counters.samples_dropped);
		assert_int_equal(a->u.counters.events_dropped, b->u.counters.events_dropped);
		assert_int_equal(a->u.counters.sessions_recycled, b->u.counters.sessions_recycled);
		assert_int_equal(a->u.counters.rx_errors, b->u.counters.rx_errors);
		break;
	case PROTO_EVENT_BATTERY_LOW:
		assert_int_equal(a->u.battery_low.millivolts, b->u.battery_low.millivolts);
		assert_int_equal(a->u.battery_low.percent, b->u.battery_low.percent);
		break;
	default:
		fail();
	}
}

/* Payload size of each kind, from the layout. */
static size_t event_frame_size(uint8_t kind)
{
	static const size_t payload[] = { 0, 9, 17, 10, 11, 17, 10 };

	return PROTO_HEADER_SIZE + payload[kind];
}

static void round_trip_event(const struct proto_event *e)
{
	struct proto_frame f, back;
	uint8_t out[PROTO_FRAME_ABS_MAX];
	size_t len;

	memset(&f, 0, sizeof(f));
	f.type = PROTO_TYPE_EVENT;
	f.u.event = *e;
	len = assert_round_trip(&f, out, sizeof(out), &back);
	assert_int_equal(len, event_frame_size(e->kind));
	check_event_fields(&f.u.event, &back.u.event);
	assert_every_truncation_fails(out, len);
}

static void test_event_round_trips_every_kind_and_every_enum_value(void **state)
{
	struct proto_event e;
	unsigned v;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.seq = 0xFFFF;
	e.sample = 0xFFFFFFFFu;

	e.kind = PROTO_EVENT_HOLD_START;
	e.u.hold_start.force = PROTO_FORCE_INVALID;
	round_trip_event(&e);
	e.u.hold_start.force = PROTO_FORCE_SATURATED;
	round_trip_event(&e);

	memset(&e.u, 0, sizeof(e.u));
	e.kind = PROTO_EVENT_HOLD_END;
	e.u.hold_end.duration = 0xFFFF;
	e.u.hold_end.in_band = 0xFFFF; /* in_band == duration is allowed */
	e.u.hold_end.mean_force = -1;
	e.u.hold_end.peak_force = PROTO_FORCE_MAX_DN;
	e.u.hold_end.dips = 0xFF;
	for (v = PROTO_END_RELEASED; v <= PROTO_END_LAST; v++) {
		e.u.hold_end.reason = (uint8_t)v;
		round_trip_event(&e);
	}

	memset(&e.u, 0, sizeof(e.u));
	e.kind = PROTO_EVENT_STATUS;
	e.u.status.flags = PROTO_STATUS_FLAGS_KNOWN;
	e.u.status.battery_pct = 100;
	for (v = PROTO_STATE_IDLE; v <= PROTO_STATE_LAST; v++) {
		e.u.status.state = (uint8_t)v;
		round_trip_event(&e);
	}

	memset(&e.u, 0, sizeof(e.u));
	e.kind = PROTO_EVENT_ERROR;
	e.u.error.channel = 0xFF;
	e.u.error.detail = 0xFFFF;
	for (v = PROTO_ERR_SATURATED; v <= PROTO_ERR_LAST; v++) {
		e.u.error.code = (uint8_t)v;
		round_trip_event(&e);
	}

	memset(&e.u, 0, sizeof(e.u));
	e.kind = PROTO_EVENT_COUNTERS;
	e.u.counters.samples_dropped = 0xFFFFFFFFu;
	e.u.counters.events_dropped = 0xFFFF;
	e.u.counters.sessions_recycled = 0x1234;
	e.u.counters.rx_errors = 0xFFFE;
	round_trip_event(&e);

	memset(&e.u, 0, sizeof(e.u));
	e.kind = PROTO_EVENT_BATTERY_LOW;
	e.u.battery_low.millivolts = 0xFFFF;
	e.u.battery_low.percent = 100;
	round_trip_event(&e);
	e.u.battery_low.percent = 0;
	round_trip_event(&e);
}

static void test_event_encoder_rejects_unknown_kinds_and_out_of_range_fields(void **state)
{
	struct proto_event e;
	uint8_t out[64];
	size_t written = 4242;

	(void)state;
#define REJECT(setup)                                                                   \
	do {                                                                            \
		memset(&e, 0, sizeof(e));                                               \
		setup;                                                                  \
		assert_int_equal(proto_event_encode(&e, out, sizeof(out), &written), -ERANGE); \
	} while (0)
	REJECT(e.kind = 0);
	REJECT(e.kind = PROTO_EVENT_BATTERY_LOW + 1);
	REJECT(e.kind = 0xFF);
	REJECT((e.kind = PROTO_EVENT_HOLD_END, e.u.hold_end.reason = PROTO_END_LAST + 1));
	REJECT((e.kind = PROTO_EVENT_HOLD_END, e.u.hold_end.duration = 10, e.u.hold_end.in_band = 11));
	REJECT((e.kind = PROTO_EVENT_STATUS, e.u.status.state = PROTO_STATE_LAST + 1));
	REJECT((e.kind = PROTO_EVENT_STATUS, e.u.status.flags = 0x20));
	REJECT((e.kind = PROTO_EVENT_STATUS, e.u.status.battery_pct = 101));
	REJECT((e.kind = PROTO_EVENT_ERROR, e.u.error.code = 0));
	REJECT((e.kind = PROTO_EVENT_ERROR, e.u.error.code = PROTO_ERR_LAST + 1));
	REJECT((e.kind = PROTO_EVENT_BATTERY_LOW, e.u.battery_low.percent = 101));
#undef REJECT
	assert_int_equal(written, 4242);
}

/* Encodes a valid event, patches one payload byte, expects -EBADMSG. */
static void expect_patched_event_rejected(const struct proto_event *e, size_t offset, uint8_t value)
{
	uint8_t out[64];
	struct proto_event back;
	size_t written;

	assert_int_equal(proto_event_encode(e, out, sizeof(out), &written), 0);
	out[PROTO_HEADER_SIZE + offset] = value;
	assert_int_equal(proto_event_decode(out, written, &back), -EBADMSG);
}

static void test_event_decoder_rejects_out_of_range_fields(void **state)
{
	struct proto_event e;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.kind = PROTO_EVENT_HOLD_END;
	e.u.hold_end.duration = 100;
	expect_patched_event_rejected(&e, 15, PROTO_END_LAST + 1); /* reason */
	expect_patched_event_rejected(&e, 9, 101);                 /* in_band low byte */
	memset(&e, 0, sizeof(e));
	e.kind = PROTO_EVENT_STATUS;
	expect_patched_event_rejected(&e, 7, PROTO_STATE_LAST + 1);
	expect_patched_event_rejected(&e, 8, 0x20);
	expect_patched_event_rejected(&e, 9, 101);
	memset(&e, 0, sizeof(e));
	e.kind = PROTO_EVENT_ERROR;
	e.u.error.code = PROTO_ERR_SENSOR;
	expect_patched_event_rejected(&e, 7, 0);
	expect_patched_event_rejected(&e, 7, PROTO_ERR_LAST + 1);
	memset(&e, 0, sizeof(e));
	e.kind = PROTO_EVENT_BATTERY_LOW;
	expect_patched_event_rejected(&e, 9, 101);
}

static void test_event_decoder_rejects_a_body_one_byte_too_long_for_its_kind(void **state)
{
	uint8_t kind;

	(void)state;
	for (kind = PROTO_EVENT_HOLD_START; kind <= PROTO_EVENT_BATTERY_LOW; kind++) {
		uint8_t out[64];
		struct proto_event e, back;
		size_t written;

		memset(&e, 0, sizeof(e));
		e.kind = kind;
		e.u.error.code = kind == PROTO_EVENT_ERROR ? PROTO_ERR_SATURATED : 0;
		assert_int_equal(proto_event_encode(&e, out, sizeof(out), &written), 0);
		out[written] = 0;
		out[2]++;
		assert_int_equal(proto_event_decode(out, written + 1, &back), -EBADMSG);
	}
}

static void test_event_decoder_rejects_unknown_kinds_with_enomsg(void **state)
{
	uint8_t frame[] = { 0x01, 0x02, 0x09, 0x00, 0x01, 0x00, 0xD2, 0x04, 0x00, 0x00, 0xFA, 0x00 };
	struct proto_event e;
	unsigned kind;

	(void)state;
	for (kind = 0; kind <= 0xFF; kind++) {
		if (kind >= PROTO_EVENT_HOLD_START && kind <= PROTO_EVENT_BATTERY_LOW)
			continue;
		frame[3] = (uint8_t)kind;
		assert_int_equal(proto_event_decode(frame, sizeof(frame), &e), -ENOMSG);
	}
}

/* ---- Session ---------------------------------------------------------------------- */

static void test_session_round_trips_both_kinds_and_every_region(void **state)
{
	uint8_t kind, region;

	(void)state;
	for (kind = PROTO_SESSION_START; kind <= PROTO_SESSION_END; kind++) {
		for (region = PROTO_REGION_NONE; region <= PROTO_REGION_LAST; region++) {
			struct proto_frame f, back;
			uint8_t out[64];
			size_t len;

			memset(&f, 0, sizeof(f));
			f.type = PROTO_TYPE_SESSION;
			f.u.session.kind = kind;
			f.u.session.region = region;
			f.u.session.session_id = (uint16_t)(0xFFFF - region);
			f.u.session.sample = rng_next();
			f.u.session.time = rng_next();
			f.u.session.unix_time = region ? rng_next() : 0;
			len = assert_round_trip(&f, out, sizeof(out), &back);
			assert_int_equal(len, PROTO_HEADER_SIZE + 16);
			assert_memory_equal(&back.u.session, &f.u.session, sizeof(f.u.session));
			assert_every_truncation_fails(out, len);
		}
	}
}

static void test_session_rejects_unknown_kind_and_region(void **state)
{
	struct proto_session s;
	uint8_t out[64];
	size_t written;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.kind = 0;
	assert_int_equal(proto_session_encode(&s, out, sizeof(out), &written), -ERANGE);
	s.kind = 3;
	assert_int_equal(proto_session_encode(&s, out, sizeof(out), &written), -ERANGE);
	s.kind = PROTO_SESSION_START;
	s.region = PROTO_REGION_LAST + 1;
	assert_int_equal(proto_session_encode(&s, out, sizeof(out), &written), -ERANGE);
	s.region = PROTO_REGION_LAST;
	assert_int_equal(proto_session_encode(&s, out, sizeof(out), &written), 0);
	out[4] = PROTO_REGION_LAST + 1;
	assert_int_equal(proto_session_decode(out, written, &s), -EBADMSG);
	out[4] = 0;
	out[3] = 0;
	assert_int_equal(proto_session_decode(out, written, &s), -EBADMSG);
}

/* ---- Info ------------------------------------------------------------------------- */

/* Field by field: struct proto_info has padding. */
static void check_info_fields(const struct proto_info *a, const struct proto_info *b)
{
	assert_int_equal(a->proto_major, b->proto_major);
	assert_int_equal(a->proto_minor, b->proto_minor);
	assert_int_equal(a->fw_major, b->fw_major);
	assert_int_equal(a->fw_minor, b->fw_minor);
	assert_int_equal(a->fw_patch, b->fw_patch);
	assert_int_equal(a->capabilities, b->capabilities);
	assert_int_equal(a->sample_period_us, b->sample_period_us);
	assert_int_equal(a->channels, b->channels);
	assert_int_equal(a->calibration, b->calibration);
	assert_int_equal(a->full_scale, b->full_scale);
	assert_int_equal(a->device_id, b->device_id);
}

static void test_info_round_trips_and_accepts_unknown_capabilities_and_majors(void **state)
{
	struct proto_frame f, back;
	uint8_t out[64];
	uint8_t channels;
	size_t len;

	(void)state;
	memset(&f, 0, sizeof(f));
	f.type = PROTO_TYPE_INFO;
	f.u.info.proto_major = 2; /* the caller compares majors, not the codec */
	f.u.info.proto_minor = 7;
	f.u.info.fw_major = 255;
	f.u.info.capabilities = 0xFFFF;
	f.u.info.sample_period_us = 1;
	f.u.info.calibration = PROTO_CAL_INVALID;
	f.u.info.full_scale = 0xFFFF;
	f.u.info.device_id = 0xFFFFFFFFu;
	for (channels = 1; channels <= 8; channels++) {
		f.u.info.channels = channels;
		len = assert_round_trip(&f, out, sizeof(out), &back);
		assert_int_equal(len, PROTO_HEADER_SIZE + 17);
		check_info_fields(&f.u.info, &back.u.info);
		assert_every_truncation_fails(out, len);
	}
}

static void test_info_rejects_zero_period_bad_channel_count_and_unknown_calibration(void **state)
{
	struct proto_info i, good;
	uint8_t out[64];
	size_t written;

	(void)state;
	memset(&good, 0, sizeof(good));
	good.sample_period_us = 20000;
	good.channels = 1;
	i = good;
	i.sample_period_us = 0;
	assert_int_equal(proto_info_encode(&i, out, sizeof(out), &written), -ERANGE);
	i = good;
	i.channels = 0;
	assert_int_equal(proto_info_encode(&i, out, sizeof(out), &written), -ERANGE);
	i.channels = 9;
	assert_int_equal(proto_info_encode(&i, out, sizeof(out), &written), -ERANGE);
	i = good;
	i.calibration = PROTO_CAL_INVALID + 1;
	assert_int_equal(proto_info_encode(&i, out, sizeof(out), &written), -ERANGE);

	assert_int_equal(proto_info_encode(&good, out, sizeof(out), &written), 0);
	out[3 + 9] = 9; /* channels */
	assert_int_equal(proto_info_decode(out, written, &i), -EBADMSG);
	out[3 + 9] = 1;
	out[3 + 10] = 4; /* calibration */
	assert_int_equal(proto_info_decode(out, written, &i), -EBADMSG);
}

/* ---- Log chunk --------------------------------------------------------------------- */

static void test_log_chunk_round_trips_every_data_length(void **state)
{
	uint8_t data[PROTO_CHUNK_DATA_MAX];
	size_t n, i;

	(void)state;
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rng_next();
	for (n = 0; n <= PROTO_CHUNK_DATA_MAX; n++) {
		struct proto_frame f, back;
		uint8_t out[PROTO_FRAME_ABS_MAX];
		size_t len;

		memset(&f, 0, sizeof(f));
		f.type = PROTO_TYPE_LOG_CHUNK;
		f.u.chunk.record = 0xFFFFFFFFu - (uint32_t)n;
		f.u.chunk.offset = (uint16_t)(n * 232);
		f.u.chunk.flags = (uint8_t)(n == 0 ? PROTO_CHUNK_END : n % 4);
		f.u.chunk.len = (uint8_t)n;
		f.u.chunk.data = data;
		len = assert_round_trip(&f, out, sizeof(out), &back);
		assert_int_equal(len, PROTO_HEADER_SIZE + PROTO_CHUNK_FIXED_SIZE + n);
		assert_int_equal(back.u.chunk.record, f.u.chunk.record);
		assert_int_equal(back.u.chunk.offset, f.u.chunk.offset);
		assert_int_equal(back.u.chunk.flags, f.u.chunk.flags);
		assert_int_equal(back.u.chunk.len, n);
		assert_int_equal(back.u.chunk.crc, proto_crc16(0xFFFF, data, n));
		if (n) {
			assert_ptr_equal(back.u.chunk.data, out + len - n); /* into the buffer */
			assert_memory_equal(back.u.chunk.data, data, n);
		}
		assert_every_truncation_fails(out, len);
	}
}

static void test_log_chunk_capacity_per_mtu_fills_one_notification(void **state)
{
	static const struct {
		uint16_t mtu;
		size_t bytes;
	} table[] = {
		{ 0, 0 }, { 22, 0 }, { 23, 8 }, { 185, 170 }, { 247, 232 }, { 517, 232 },
	};
	uint8_t data[PROTO_CHUNK_DATA_MAX] = { 0 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct proto_log_chunk c = { .flags = PROTO_CHUNK_END, .data = data };
		uint8_t out[PROTO_FRAME_ABS_MAX];
		size_t written;

		assert_int_equal(proto_log_chunk_capacity(table[i].mtu), table[i].bytes);
		if (!table[i].bytes)
			continue;
		c.len = (uint8_t)table[i].bytes;
		assert_int_equal(proto_log_chunk_encode(&c, out, sizeof(out), &written), 0);
		assert_int_equal(written, (table[i].mtu > PROTO_MTU_MAX ? PROTO_MTU_MAX : table[i].mtu) -
						  PROTO_ATT_OVERHEAD);
	}
}

static void test_log_chunk_encoder_rejects_empty_without_end_unknown_flags_and_oversize(void **state)
{
	uint8_t data[PROTO_CHUNK_DATA_MAX + 1] = { 0 };
	struct proto_log_chunk c = { .record = 1, .data = data };
	uint8_t out[PROTO_FRAME_ABS_MAX];
	size_t written = 99;

	(void)state;
	c.len = 0;
	c.flags = PROTO_CHUNK_LAST_IN_RECORD;
	assert_int_equal(proto_log_chunk_encode(&c, out, sizeof(out), &written), -ERANGE);
	c.len = 1;
	c.flags = 0x08;
	assert_int_equal(proto_log_chunk_encode(&c, out, sizeof(out), &written), -ERANGE);
	/* SKIPPED only on a chunk that starts its record. */
	c.flags = PROTO_CHUNK_SKIPPED;
	c.offset = 4;
	assert_int_equal(proto_log_chunk_encode(&c, out, sizeof(out), &written), -ERANGE);
	c.offset = 0;
	assert_int_equal(proto_log_chunk_encode(&c, out, sizeof(out), &written), 0);
	written = 99;
	c.flags = 0;
	c.len = PROTO_CHUNK_DATA_MAX + 1;
	assert_int_equal(proto_log_chunk_encode(&c, out, sizeof(out), &written), -ERANGE);
	c.len = 1;
	c.data = NULL;
	assert_int_equal(proto_log_chunk_encode(&c, out, sizeof(out), &written), -EINVAL);
	assert_int_equal(written, 99);
	/* Empty END chunk: data may be NULL. */
	c.len = 0;
	c.flags = PROTO_CHUNK_END;
	assert_int_equal(proto_log_chunk_encode(&c, out, sizeof(out), &written), 0);
	assert_int_equal(written, 12);
}

static void test_log_chunk_decoder_rejects_more_data_than_one_notification_holds(void **state)
{
	uint8_t frame[PROTO_FRAME_ABS_MAX];
	struct proto_log_chunk c;
	size_t n = PROTO_CHUNK_DATA_MAX + 1;
	size_t len = PROTO_HEADER_SIZE + PROTO_CHUNK_FIXED_SIZE + n;
	uint16_t crc;

	(void)state;
	memset(frame, 0x5A, sizeof(frame));
	frame[0] = PROTO_VERSION;
	frame[1] = PROTO_TYPE_LOG_CHUNK;
	frame[2] = (uint8_t)(len - PROTO_HEADER_SIZE);
	frame[9] = 0; /* flags */
	crc = proto_crc16(0xFFFF, frame + 12, n);
	frame[10] = (uint8_t)(crc & 0xFF);
	frame[11] = (uint8_t)(crc >> 8);
	assert_int_equal(proto_log_chunk_decode(frame, len, &c), -EBADMSG);
	/* One byte less, with its CRC, is fine. */
	frame[2]--;
	crc = proto_crc16(0xFFFF, frame + 12, n - 1);
	frame[10] = (uint8_t)(crc & 0xFF);
	frame[11] = (uint8_t)(crc >> 8);
	assert_int_equal(proto_log_chunk_decode(frame, len - 1, &c), 0);
	assert_int_equal(c.len, PROTO_CHUNK_DATA_MAX);
}

/* ---- Any frame ----------------------------------------------------------------------- */

static void test_frame_decode_returns_enomsg_for_unknown_types(void **state)
{
	uint8_t frame[] = { 0x01, 0x00, 0x02, 0x02, 0x11 };
	struct proto_frame f;
	unsigned type;

	(void)state;
	for (type = 0; type <= 0xFF; type++) {
		if (type >= PROTO_TYPE_MEASUREMENT && type <= PROTO_TYPE_SESSION)
			continue;
		frame[1] = (uint8_t)type;
		assert_int_equal(proto_frame_decode(frame, sizeof(frame), &f), -ENOMSG);
	}
	/* Version is checked before type. */
	frame[0] = 0x02;
	assert_int_equal(proto_frame_decode(frame, sizeof(frame), &f), -EPROTONOSUPPORT);
}

static void test_frame_encode_rejects_unknown_types(void **state)
{
	struct proto_frame f;
	uint8_t out[64];
	size_t written = 5;

	(void)state;
	memset(&f, 0, sizeof(f));
	f.type = 0;
	assert_int_equal(proto_frame_encode(&f, out, sizeof(out), &written), -ERANGE);
	f.type = PROTO_TYPE_SESSION + 1;
	assert_int_equal(proto_frame_encode(&f, out, sizeof(out), &written), -ERANGE);
	assert_int_equal(written, 5);
}

static void test_oversize_input_is_ebadmsg_for_every_decoder(void **state)
{
	static uint8_t big[1024];
	struct proto_frame f;
	uint8_t type;

	(void)state;
	for (type = PROTO_TYPE_MEASUREMENT; type <= PROTO_TYPE_SESSION; type++) {
		memset(big, 0, sizeof(big));
		big[0] = PROTO_VERSION;
		big[1] = type;
		big[2] = 0xFF;
		big[3] = 1; /* a known kind/opcode where the type has one */
		/* A buffer longer than any frame. */
		assert_int_equal(proto_frame_decode(big, sizeof(big), &f), -EBADMSG);
		/* The largest frame the length byte allows: no type is that long. */
		assert_int_equal(proto_frame_decode(big, PROTO_FRAME_ABS_MAX, &f), -EBADMSG);
	}
	assert_int_equal(proto_measurement_decode(big, sizeof(big), &f.u.measurement), -EBADMSG);
	assert_int_equal(proto_event_decode(big, SIZE_MAX, &f.u.event), -EBADMSG);
}

/* ---- NULL arguments ------------------------------------------------------------------ */

static void test_null_arguments_return_einval(void **state)
{
	uint8_t buf[PROTO_FRAME_ABS_MAX] = { 0x01, 0x03, 0x02, 0x02, 0x11 };
	struct proto_frame f;
	struct proto_header h;
	size_t n;

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(proto_frame_peek(NULL, 5, &n), -EINVAL);
	assert_int_equal(proto_frame_peek(buf, 5, NULL), -EINVAL);
	assert_int_equal(proto_header_decode(NULL, 5, &h), -EINVAL);
	assert_int_equal(proto_header_decode(buf, 5, NULL), -EINVAL);
	assert_int_equal(proto_frame_decode(NULL, 5, &f), -EINVAL);
	assert_int_equal(proto_frame_decode(buf, 5, NULL), -EINVAL);
	assert_int_equal(proto_frame_encode(NULL, buf, sizeof(buf), &n), -EINVAL);

	assert_int_equal(proto_measurement_decode(NULL, 5, &f.u.measurement), -EINVAL);
	assert_int_equal(proto_measurement_decode(buf, 5, NULL), -EINVAL);
	assert_int_equal(proto_event_decode(NULL, 5, &f.u.event), -EINVAL);
	assert_int_equal(proto_event_decode(buf, 5, NULL), -EINVAL);
	assert_int_equal(proto_session_decode(NULL, 5, &f.u.session), -EINVAL);
	assert_int_equal(proto_session_decode(buf, 5, NULL), -EINVAL);
	assert_int_equal(proto_info_decode(NULL, 5, &f.u.info), -EINVAL);
	assert_int_equal(proto_info_decode(buf, 5, NULL), -EINVAL);
	assert_int_equal(proto_log_chunk_decode(NULL, 5, &f.u.chunk), -EINVAL);
	assert_int_equal(proto_log_chunk_decode(buf, 5, NULL), -EINVAL);

	/* Encoders: NULL struct, NULL out, NULL written, for every type. */
	f.u.measurement.count = 1;
	assert_int_equal(proto_measurement_encode(NULL, buf, sizeof(buf), &n), -EINVAL);
	assert_int_equal(proto_measurement_encode(&f.u.measurement, NULL, sizeof(buf), &n), -EINVAL);
	assert_int_equal(proto_measurement_encode(&f.u.measurement, buf, sizeof(buf), NULL), -EINVAL);
	memset(&f, 0, sizeof(f));
	f.u.event.kind = PROTO_EVENT_HOLD_START;
	assert_int_equal(proto_event_encode(NULL, buf, sizeof(buf), &n), -EINVAL);
	assert_int_equal(proto_event_encode(&f.u.event, NULL, sizeof(buf), &n), -EINVAL);
	assert_int_equal(proto_event_encode(&f.u.event, buf, sizeof(buf), NULL), -EINVAL);
	memset(&f, 0, sizeof(f));
	f.u.session.kind = PROTO_SESSION_START;
	assert_int_equal(proto_session_encode(NULL, buf, sizeof(buf), &n), -EINVAL);
	assert_int_equal(proto_session_encode(&f.u.session, NULL, sizeof(buf), &n), -EINVAL);
	assert_int_equal(proto_session_encode(&f.u.session, buf, sizeof(buf), NULL), -EINVAL);
	memset(&f, 0, sizeof(f));
	f.u.info.channels = 1;
	f.u.info.sample_period_us = 1;
	assert_int_equal(proto_info_encode(NULL, buf, sizeof(buf), &n), -EINVAL);
	assert_int_equal(proto_info_encode(&f.u.info, NULL, sizeof(buf), &n), -EINVAL);
	assert_int_equal(proto_info_encode(&f.u.info, buf, sizeof(buf), NULL), -EINVAL);
	memset(&f, 0, sizeof(f));
	f.u.chunk.flags = PROTO_CHUNK_END;
	assert_int_equal(proto_log_chunk_encode(NULL, buf, sizeof(buf), &n), -EINVAL);
	assert_int_equal(proto_log_chunk_encode(&f.u.chunk, NULL, sizeof(buf), &n), -EINVAL);
	assert_int_equal(proto_log_chunk_encode(&f.u.chunk, buf, sizeof(buf), NULL), -EINVAL);

	assert_int_equal(proto_region_parse(NULL, buf), -EINVAL);
	assert_int_equal(proto_region_parse("calves", NULL), -EINVAL);
}

/* ---- Names ---------------------------------------------------------------------------- */

static void test_region_names_print_and_parse_round_trip(void **state)
{
	uint8_t region, back;

	(void)state;
	for (region = PROTO_REGION_NONE; region <= PROTO_REGION_LAST; region++) {
		const char *name = proto_region_str(region);

		assert_non_null(name);
		assert_string_not_equal(name, "?");
		back = 0xEE;
		assert_int_equal(proto_region_parse(name, &back), 0);
		assert_int_equal(back, region);
	}
	assert_string_equal(proto_region_str(PROTO_REGION_IT_BAND), "it-band");
	assert_string_equal(proto_region_str(PROTO_REGION_LOWER_BACK), "lower-back");
	assert_string_equal(proto_region_str(PROTO_REGION_LAST + 1), "?");
	assert_string_equal(proto_region_str(0xFF), "?");
	back = 0xEE;
	assert_int_equal(proto_region_parse("?", &back), -EINVAL);
	assert_int_equal(proto_region_parse("", &back), -EINVAL);
	assert_int_equal(proto_region_parse("calves ", &back), -EINVAL);
	assert_int_equal(back, 0xEE);
}

static void assert_names_known_and_distinct(const char *(*str)(uint8_t), unsigned first,
					    unsigned last)
{
	unsigned v, w;

	for (v = 0; v <= 0xFF; v++) {
		const char *name = str((uint8_t)v);

		assert_non_null(name);
		if (v < first || v > last) {
			assert_string_equal(name, "?");
			continue;
		}
		assert_string_not_equal(name, "?");
		for (w = first; w < v; w++)
			assert_string_not_equal(name, str((uint8_t)w));
	}
}

static void test_type_event_and_opcode_names_cover_every_value(void **state)
{
	(void)state;
	assert_names_known_and_distinct(proto_type_str, PROTO_TYPE_MEASUREMENT, PROTO_TYPE_SESSION);
	assert_names_known_and_distinct(proto_event_str, PROTO_EVENT_HOLD_START,
					PROTO_EVENT_BATTERY_LOW);
	assert_names_known_and_distinct(proto_opcode_str, PROTO_OP_VERSION, PROTO_OP_LAST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_decode_reports_fields_and_does_not_check_type),
		cmocka_unit_test(test_header_decode_rejects_short_mismatched_and_wrong_version),
		cmocka_unit_test(test_frame_peek_waits_for_a_whole_frame),
		cmocka_unit_test(test_frame_peek_rejects_wrong_version_and_reports_the_largest_frame),
		cmocka_unit_test(test_measurement_round_trips_every_count_from_1_to_108),
		cmocka_unit_test(test_measurement_encoder_never_sends_still_bits_past_count),
		cmocka_unit_test(test_measurement_encoder_rejects_empty_oversize_batches_and_unknown_flags),
		cmocka_unit_test(test_measurement_decoder_rejects_zero_and_oversize_counts),
		cmocka_unit_test(test_measurement_decoder_rejects_each_still_bit_past_count),
		cmocka_unit_test(test_measurement_size_follows_the_layout),
		cmocka_unit_test(test_measurement_capacity_per_mtu),
		cmocka_unit_test(test_still_bit_helpers_set_clear_and_ignore_out_of_range),
		cmocka_unit_test(test_seq_diff_is_correct_across_sample_index_and_tick_wrap),
		cmocka_unit_test(test_event_round_trips_every_kind_and_every_enum_value),
		cmocka_unit_test(test_event_encoder_rejects_unknown_kinds_and_out_of_range_fields),
		cmocka_unit_test(test_event_decoder_rejects_out_of_range_fields),
		cmocka_unit_test(test_event_decoder_rejects_a_body_one_byte_too_long_for_its_kind),
		cmocka_unit_test(test_event_decoder_rejects_unknown_kinds_with_enomsg),
		cmocka_unit_test(test_session_round_trips_both_kinds_and_every_region),
		cmocka_unit_test(test_session_rejects_unknown_kind_and_region),
		cmocka_unit_test(test_info_round_trips_and_accepts_unknown_capabilities_and_majors),
		cmocka_unit_test(test_info_rejects_zero_period_bad_channel_count_and_unknown_calibration),
		cmocka_unit_test(test_log_chunk_round_trips_every_data_length),
		cmocka_unit_test(test_log_chunk_capacity_per_mtu_fills_one_notification),
		cmocka_unit_test(test_log_chunk_encoder_rejects_empty_without_end_unknown_flags_and_oversize),
		cmocka_unit_test(test_log_chunk_decoder_rejects_more_data_than_one_notification_holds),
		cmocka_unit_test(test_frame_decode_returns_enomsg_for_unknown_types),
		cmocka_unit_test(test_frame_encode_rejects_unknown_types),
		cmocka_unit_test(test_oversize_input_is_ebadmsg_for_every_decoder),
		cmocka_unit_test(test_null_arguments_return_einval),
		cmocka_unit_test(test_region_names_print_and_parse_round_trip),
		cmocka_unit_test(test_type_event_and_opcode_names_cover_every_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
