/*
 * Streaming: MEASUREMENT batches sized by the MTU and flushed within
 * batch_ms, sequence and time across the 32-bit wrap, the bounded queue that
 * drops the oldest and counts it, no notification before encryption on a
 * bonded reconnect, RESEND_SAMPLES from the RAM history.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fakes.h"

static struct rig rig;
static struct proto_measurement meas[4096];

static int setup(void **state)
{
	(void)state;
	rig_setup(&rig, NULL, false);
	rig_start(&rig);
	return 0;
}

/* All measurement frames cover [first, first + n) without gap or overlap. */
static uint32_t check_contiguous(size_t nframes, uint32_t first)
{
	uint32_t next = first;
	size_t i;

	for (i = 0; i < nframes; i++) {
		assert_int_equal(proto_seq_diff(next, meas[i].first_sample), 0);
		next = meas[i].first_sample + meas[i].count;
	}
	return next - first;
}

static void test_stream_mtu23_batches_of_3(void **state)
{
	size_t n, i;

	(void)state;
	rig_connect(&rig, 23);
	rig_samples(&rig, 30, 2000, 0);
	n = rig_measurements(&rig, meas, 4096);
	assert_int_equal(n, 10);
	for (i = 0; i < n; i++) {
		assert_int_equal(meas[i].count, 3);
		assert_int_equal(meas[i].force[0], 2000);
	}
	assert_int_equal(check_contiguous(n, 0), 30);
	assert_false(rig.link.oversize);
	/* the time base: sample k at 1000 + 12.5 k ms (floored) */
	assert_int_equal(meas[1].time, 1000 + 37);
	assert_true(meas[0].flags & PROTO_MEAS_CONTACT);
	assert_false(meas[0].flags & PROTO_MEAS_CALIBRATED);
}

static void test_stream_mtu247_flushed_within_100ms(void **state)
{
	size_t n, i;

	(void)state;
	rig_connect(&rig, 247);
	rig_samples(&rig, 90, 500, 0);
	n = rig_measurements(&rig, meas, 4096);
	assert_int_equal(n, 10);
	for (i = 0; i < n; i++) {
		/* 9 samples = 112.5 ms of span, flushed at 100 ms age */
		assert_int_equal(meas[i].count, 9);
		assert_true(proto_seq_diff(meas[i].time, rig.clock.now) >= 0);
	}
	assert_int_equal(check_contiguous(n, 0), 90);
	/* a batch never waits longer than batch_ms: the returned deadline */
	rig_sample(&rig, 500, 0);
	assert_true(core_poll(&rig.core, rig.clock.now) <= 100);
}

static void test_stream_full_frames_at_247(void **state)
{
	size_t n;

	struct rig_options o;

	(void)state;
	rig_options_default(&o);
	o.period_us = 5000; /* 200 SPS: 108 samples in 540 ms */
	rig_setup(&rig, &o, false);
	rig.cfg.batch_ms = 1000;
	rig_start(&rig);
	rig_connect(&rig, 247);
	rig_samples(&rig, 216, 500, 0);
	n = rig_measurements(&rig, meas, 4096);
	assert_int_equal(n, 2);
	assert_int_equal(meas[0].count, 108);
	assert_int_equal(meas[1].count, 108);
	assert_false(rig.link.oversize);
}

static void test_stream_overflow_drops_oldest(void **state)
{
	struct core_counters cnt;
	struct proto_event e[8];
	size_t n, i, received = 0;
	const size_t total = 3000;

	(void)state;
	rig_connect(&rig, 23);
	fake_link_clear(&rig.link);
	rig.link.busy = true;
	for (i = 0; i < total; i++)
		rig_sample(&rig, (int32_t)(i % 3000), 20000);
	rig.link.busy = false;
	rig_poll(&rig);
	core_counters(&rig.core, &cnt);
	n = rig_measurements(&rig, meas, 4096);
	for (i = 0; i < n; i++)
		received += meas[i].count;
	assert_true(cnt.samples_dropped > 0);
	assert_int_equal(received + cnt.samples_dropped, total);
	/* the newest survive */
	assert_int_equal(meas[n - 1].first_sample + meas[n - 1].count, total);
	assert_int_equal(check_contiguous(n, meas[0].first_sample), received);
	/* one ERROR per overflow episode, then COUNTERS when the queue drained */
	assert_int_equal(rig_events(&rig, PROTO_EVENT_COUNTERS, e, 8), 1);
	assert_int_equal(e[0].u.counters.samples_dropped, cnt.samples_dropped);
	n = rig_events(&rig, PROTO_EVENT_ERROR, e, 8);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].u.error.code, PROTO_ERR_QUEUE_OVERFLOW);
	/* the event queue overflowed too (STATUS is coalesced, errors are not) */
	assert_true(cnt.events_dropped == 0 || cnt.events_dropped > 0);
}

static void test_stream_unsubscribed_is_not_a_drop(void **state)
{
	struct core_counters cnt;

	(void)state;
	rig_connect(&rig, 23);
	rig.link.unsubscribed[CORE_CHAR_MEASUREMENT] = true;
	rig_samples(&rig, 300, 100, 0);
	core_counters(&rig.core, &cnt);
	assert_int_equal(cnt.samples_dropped, 0);
	assert_int_equal(rig_measurements(&rig, NULL, 0), 0);
	rig.link.unsubscribed[CORE_CHAR_MEASUREMENT] = false;
	rig_samples(&rig, 3, 100, 0);
	assert_int_equal(rig_measurements(&rig, meas, 4), 1);
	assert_int_equal(meas[0].first_sample, 300);
}

static void test_stream_wrap(void **state)
{
	struct proto_event e[4];
	size_t n, i;

	(void)state;
	rig_setup(&rig, NULL, false);
	rig.cfg.first_sample = 0xFFFFFF00u;
	rig.clock.now = 0xFFFFF000u;
	rig_start(&rig);
	rig_connect(&rig, 23);
	rig_samples(&rig, 100, 0, 0);
	rig_samples(&rig, 400, 2000, 0); /* the hold spans the sample wrap */
	rig_samples(&rig, 81, 0, 0);
	rig_idle_ms(&rig, 200);
	n = rig_measurements(&rig, meas, 4096);
	assert_int_equal(check_contiguous(n, 0xFFFFFF00u), 581);
	for (i = 1; i < n; i++)
		assert_true(proto_seq_diff(meas[i - 1].time, meas[i].time) > 0);
	/* the clock wrapped as well */
	assert_true(rig.clock.now < 0x1000u);
	assert_int_equal(rig_events(&rig, PROTO_EVENT_HOLD_START, e, 4), 1);
	assert_int_equal(e[0].sample, 0xFFFFFF00u + 100u);
	assert_int_equal(rig_events(&rig, PROTO_EVENT_HOLD_END, e, 4), 1);
	assert_int_equal(e[0].sample, (uint32_t)(0xFFFFFF00u + 500u));
	assert_int_equal(e[0].u.hold_end.duration, 400);
	/* batches flush by age across the tick wrap too */
	rig_setup(&rig, NULL, false);
	rig.clock.now = 0xFFFFFFC0u;
	rig_start(&rig);
	rig_connect(&rig, 247);
	rig_samples(&rig, 18, 100, 0);
	n = rig_measurements(&rig, meas, 4096);
	assert_int_equal(n, 2);
	assert_int_equal(meas[0].count, 9);
}

static void test_stream_bonded_reconnect_waits_for_encryption(void **state)
{
	size_t n;

	(void)state;
	rig.link.mtu = 23;
	core_on_connect(&rig.core, true); /* a bonded peer is back */
	rig_samples(&rig, 40, 2000, 0);
	assert_int_equal(rig.link.calls, 0);
	core_on_security_changed(&rig.core, true, true);
	rig_samples(&rig, 6, 2000, 0);
	n = rig_measurements(&rig, meas, 16);
	assert_int_equal(n, 2);
	assert_int_equal(meas[0].first_sample, 40); /* nothing from before */
	/* the first frame after security is a STATUS event */
	assert_int_equal(rig.link.frames[0].ch, CORE_CHAR_EVENT);

	/* an unbonded first connection streams at once */
	core_on_disconnect(&rig.core);
	fake_link_clear(&rig.link);
	core_on_connect(&rig.core, false);
	rig_samples(&rig, 3, 2000, 0);
	assert_int_equal(rig_measurements(&rig, meas, 16), 1);
}

static void test_stream_resend(void **state)
{
	struct proto_control_request q;
	struct proto_control_response rsp;
	size_t n, i;
	uint32_t k;

	(void)state;
	rig_connect(&rig, 247);
	for (i = 0; i < 500; i++)
		rig_sample(&rig, (int32_t)i, i % 2 ? 20000 : 0);
	fake_link_clear(&rig.link);
	memset(&q, 0, sizeof(q));
	q.opcode = PROTO_OP_RESEND_SAMPLES;
	q.u.resend.first_sample = 100;
	q.u.resend.count = 150;
	assert_int_equal(rig_request(&rig, &q, &rsp), PROTO_STATUS_OK);
	assert_int_equal(rsp.u.resend.count, 150);
	n = rig_measurements(&rig, meas, 16);
	assert_int_equal(n, 2);
	for (i = 0, k = 100; i < n; i++) {
		size_t j;

		assert_true(meas[i].flags & PROTO_MEAS_RESENT);
		assert_int_equal(meas[i].first_sample, k);
		for (j = 0; j < meas[i].count; j++, k++) {
			assert_int_equal(meas[i].force[j], (int16_t)k);
			assert_int_equal(proto_measurement_is_still(&meas[i], j), k % 2 == 0);
		}
	}
	assert_int_equal(k, 250);
	/* asking past the newest gives what exists */
	q.u.resend.first_sample = 450;
	q.u.resend.count = 4096;
	assert_int_equal(rig_request(&rig, &q, &rsp), PROTO_STATUS_OK);
	assert_int_equal(rsp.u.resend.count, 50);
	/* gone from the history (2048 samples): NOT_FOUND */
	rig_samples(&rig, 2100, 0, 0);
	q.u.resend.first_sample = 100;
	q.u.resend.count = 10;
	assert_int_equal(rig_request(&rig, &q, NULL), PROTO_STATUS_NOT_FOUND);
	q.u.resend.first_sample = 0x7FFFFFFF; /* in the future */
	assert_int_equal(rig_request(&rig, &q, NULL), PROTO_STATUS_NOT_FOUND);
}

static void test_stream_mtu_change_mid_batch(void **state)
{
	size_t n, i;

	(void)state;
	rig.cfg.batch_ms = 1000;
	rig_start(&rig);
	rig_connect(&rig, 247);
	rig_samples(&rig, 50, 100, 0);
	assert_int_equal(rig_measurements(&rig, NULL, 0), 0); /* still batching */
	rig.link.mtu = 23;
	core_on_mtu(&rig.core, 23);
	rig_poll(&rig);
	rig_samples(&rig, 30, 100, 0);
	n = rig_measurements(&rig, meas, 64);
	assert_int_equal(n, 17 + 10);
	for (i = 0; i < n; i++)
		assert_true(proto_measurement_size(meas[i].count) <= 20u);
	assert_int_equal(check_contiguous(n, 0), 80);
	assert_false(rig.link.oversize);
}

/* RESEND_SAMPLES while the live stream wants more than the link gives (a
 * poll every 100 ms, 2 notifications each): the resent frames are made one
 * at a time as the link takes them, never starved by live frames; the
 * response comes in the first poll. */
static void test_stream_resend_under_live_stream(void **state)
{
	struct proto_control_request q;
	struct proto_control_response rsp;
	struct core_counters before, after;
	uint32_t next_resent = 500, next_live, first_live;
	uint32_t live_received = 0, live_gaps = 0;
	size_t polls = 0, i, live_frames = 0;
	const size_t bound = (2u * 100u + 1u) / 2u + 16u; /* 100 frames of 3 */

	(void)state;
	rig_connect(&rig, 23);
	rig_samples(&rig, 1000, 1000, 0);
	rig_idle_ms(&rig, 200); /* the open batch goes */
	fake_link_clear(&rig.link);
	core_counters(&rig.core, &before);
	first_live = next_live = core_next_sample(&rig.core);
	rig.poll_every = 8;
	rig.link.per_poll = 2;
	memset(&q, 0, sizeof(q));
	q.opcode = PROTO_OP_RESEND_SAMPLES;
	q.u.resend.first_sample = 500;
	q.u.resend.count = 300;
	assert_int_equal(rig_request(&rig, &q, &rsp), PROTO_STATUS_OK);
	assert_int_equal(rsp.u.resend.count, 300);
	for (;;) {
		for (i = 0; i < rig.link.n; i++) {
			struct fake_frame *f = &rig.link.frames[i];
			struct proto_measurement m;

			if (f->ch != CORE_CHAR_MEASUREMENT)
				continue;
			assert_int_equal(proto_measurement_decode(f->buf, f->len, &m), 0);
			if (m.flags & PROTO_MEAS_RESENT) {
				assert_int_equal(m.first_sample, next_resent);
				assert_int_equal(m.force[0], 1000);
				next_resent += m.count;
			} else {
				assert_true(proto_seq_diff(next_live, m.first_sample) >= 0);
				live_gaps += m.first_sample - next_live;
				live_received += m.count;
				next_live = m.first_sample + m.count;
				live_frames++;
			}
		}
		fake_link_clear(&rig.link);
		if (next_resent == 800 || polls > bound)
			break;
		rig_samples(&rig, 8, 2000, 0); /* one poll */
		polls++;
	}
	assert_int_equal(next_resent, 800);
	assert_true(polls <= bound);
	assert_true(live_frames >= polls / 2u); /* live went on too */
	/* the link recovers: every live sample arrived or was counted */
	rig.poll_every = 1;
	rig.link.per_poll = 0;
	rig.link.accept_budget = -1;
	rig_idle_ms(&rig, 200);
	for (i = 0; i < rig.link.n; i++) {
		struct fake_frame *f = &rig.link.frames[i];
		struct proto_measurement m;

		if (f->ch != CORE_CHAR_MEASUREMENT)
			continue;
		assert_int_equal(proto_measurement_decode(f->buf, f->len, &m), 0);
		assert_false(m.flags & PROTO_MEAS_RESENT);
		live_gaps += m.first_sample - next_live;
		live_received += m.count;
		next_live = m.first_sample + m.count;
	}
	core_counters(&rig.core, &after);
	assert_int_equal(next_live, core_next_sample(&rig.core));
	assert_int_equal(live_received + live_gaps, next_live - first_live);
	assert_int_equal(live_gaps, after.samples_dropped - before.samples_dropped);
	assert_true(live_gaps > 0); /* the link was too slow for the stream */
	assert_int_equal(after.responses_dropped, 0);
}

/* Resent frames wait for the RESEND_SAMPLES response. */
static void test_stream_resend_after_response(void **state)
{
	struct proto_control_request q;
	uint8_t buf[PROTO_FRAME_MAX];
	size_t len, i;
	int response = -1, first_resent = -1;

	(void)state;
	rig_connect(&rig, 23);
	rig_samples(&rig, 300, 1000, 0);
	fake_link_clear(&rig.link);
	memset(&q, 0, sizeof(q));
	q.opcode = PROTO_OP_RESEND_SAMPLES;
	q.token = 7;
	q.u.resend.first_sample = 10;
	q.u.resend.count = 60;
	assert_int_equal(proto_request_encode(&q, buf, sizeof(buf), &len), 0);
	rig.link.busy_char[CORE_CHAR_CONTROL] = true;
	assert_int_equal(core_on_control_write(&rig.core, buf, len), 0);
	rig_samples(&rig, 30, 1000, 0);
	assert_int_equal(rig_measurements(&rig, meas, 4096), 10);
	for (i = 0; i < 10; i++)
		assert_false(meas[i].flags & PROTO_MEAS_RESENT);
	rig.link.busy_char[CORE_CHAR_CONTROL] = false;
	rig_samples(&rig, 30, 1000, 0);
	for (i = 0; i < rig.link.n; i++) {
		struct fake_frame *f = &rig.link.frames[i];

		if (f->ch == CORE_CHAR_CONTROL && response < 0)
			response = (int)i;
		if (f->ch == CORE_CHAR_MEASUREMENT && first_resent < 0 &&
		    (f->buf[PROTO_HEADER_SIZE + 8] & PROTO_MEAS_RESENT))
			first_resent = (int)i;
	}
	assert_true(response >= 0);
	assert_true(first_resent > response);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_stream_mtu23_batches_of_3, setup),
		cmocka_unit_test_setup(test_stream_mtu247_flushed_within_100ms, setup),
		cmocka_unit_test_setup(test_stream_full_frames_at_247, setup),
		cmocka_unit_test_setup(test_stream_overflow_drops_oldest, setup),
		cmocka_unit_test_setup(test_stream_unsubscribed_is_not_a_drop, setup),
		cmocka_unit_test(test_stream_wrap),
		cmocka_unit_test_setup(test_stream_bonded_reconnect_waits_for_encryption, setup),
		cmocka_unit_test_setup(test_stream_resend, setup),
		cmocka_unit_test_setup(test_stream_mtu_change_mid_batch, setup),
		cmocka_unit_test_setup(test_stream_resend_under_live_stream, setup),
		cmocka_unit_test_setup(test_stream_resend_after_response, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
