/*
 * The sample stream: lost, repeated and re-sent samples, faulty readings,
 * index wrap, batching, and the device's own hold events.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <errno.h>
#include <string.h>

#include <cmocka.h>

#include "roller/coach.h"
#include "trace.h"

static const uint32_t S = T_FIRST;

static struct proto_measurement frame(uint32_t first, uint8_t count, int16_t force,
				      uint8_t flags)
{
	struct proto_measurement m;
	uint8_t i;

	memset(&m, 0, sizeof(m));
	m.first_sample = first;
	m.flags = flags;
	m.count = count;
	for (i = 0; i < count; i++) {
		m.force[i] = force;
		proto_measurement_set_still(&m, i, true);
	}
	return m;
}

static void test_gap_is_counted_and_does_not_break_a_hold(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);
	const struct coach_cue *q;
	const struct coach_hold *h;
	size_t n;

	trace_start(t);
	trace_hold(t, 1000, T_IN, true);
	trace_skip(t, 25);
	trace_hold(t, 1, T_IN, true);
	q = trace_cue(t, COACH_CUE_DATA_GAP, 0);
	assert_non_null(q);
	assert_int_equal(q->sample, S + 1025);
	assert_int_equal(q->value, 25);
	assert_int_equal(q->time_ms, 1025 * 20); /* device time moved on */
	assert_int_equal(s->samples_lost, 25);
	assert_int_equal(s->gaps, 1);
	assert_int_equal(s->samples, 1001);
	assert_int_equal(s->phase, COACH_PHASE_HOLDING);
	assert_int_equal(s->countdown_ms, 90000 - 1001 * 20); /* lost time is not credited */

	/* Even a gap longer than the grace window is not the user's fault. */
	trace_skip(t, 500);
	trace_hold(t, 1, T_IN, true);
	assert_int_equal(s->phase, COACH_PHASE_HOLDING);
	assert_int_equal(trace_cue_count(t, COACH_CUE_HOLD_RESET), 0);
	assert_int_equal(s->samples_lost, 525);
	assert_int_equal(s->gaps, 2);

	trace_hold(t, T_HOLD - 1002, T_IN, true);
	assert_int_equal(trace_cue_sample(t, COACH_CUE_RELEASE, 0), S + T_HOLD + 525 - 1);
	h = coach_holds(&t->coach, &n);
	assert_int_equal(n, 1);
	assert_int_equal(h[0].in_band_ms, 90000);
	assert_int_equal(h[0].duration_ms, (T_HOLD + 525) * 20);
	assert_int_equal(h[0].mean_force_dn, T_IN);
}

static void test_rest_runs_through_a_gap(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);

	trace_start(t);
	trace_hold(t, T_HOLD, T_IN, true);
	trace_hold(t, 100, T_OFF, true);
	trace_skip(t, 2000);
	trace_hold(t, 1, T_OFF, true);
	/* The rest ended inside the lost stretch; cues stay in sample order. */
	assert_int_equal(t->cue_count, 8);
	assert_int_equal(t->cues[6].kind, COACH_CUE_REST_OVER);
	assert_int_equal(t->cues[6].sample, S + T_HOLD + T_REST - 1);
	assert_int_equal(t->cues[6].time_ms, (T_HOLD + T_REST - 1) * 20);
	assert_int_equal(t->cues[7].kind, COACH_CUE_DATA_GAP);
	assert_int_equal(t->cues[7].sample, S + T_HOLD + 2100);
	assert_int_equal(t->cues[7].value, 2000);
	assert_int_equal(s->phase, COACH_PHASE_WAITING);
}

static void test_repeated_and_resent_samples_count_once(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);
	struct proto_measurement m;
	size_t n;

	t->batch = 10;
	trace_start(t);
	trace_hold(t, 100, T_IN, true);
	assert_int_equal(s->countdown_ms, 88000);

	/* The same frame again (a transport retry): ignored. */
	m = frame(S + 50, 10, T_IN, PROTO_MEAS_CALIBRATED);
	assert_int_equal(trace_feed(t, &m), 0);
	coach_cues(&t->coach, &n);
	assert_int_equal(n, 0);
	assert_int_equal(s->duplicates, 10);
	assert_int_equal(s->countdown_ms, 88000);
	assert_int_equal(s->sample, S + 99);

	/* A gap fill that overlaps live data: only the new half counts. */
	m = frame(S + 90, 20, T_IN, PROTO_MEAS_CALIBRATED | PROTO_MEAS_RESENT);
	assert_int_equal(trace_feed(t, &m), 0);
	assert_int_equal(s->resent, 10);
	assert_int_equal(s->samples, 110);
	assert_int_equal(s->countdown_ms, 87800);

	/* Re-sent samples of a stretch already counted lost change nothing. */
	t->next = S + 110;
	trace_skip(t, 30);
	trace_hold(t, 10, T_IN, true);
	assert_int_equal(s->samples_lost, 30);
	m = frame(S + 110, 30, T_IN, PROTO_MEAS_CALIBRATED | PROTO_MEAS_RESENT);
	assert_int_equal(trace_feed(t, &m), 0);
	assert_int_equal(s->resent, 40);
	assert_int_equal(s->samples_lost, 30);
	assert_int_equal(s->countdown_ms, 87600);
	assert_int_equal(trace_cue_count(t, COACH_CUE_HOLD_START), 1);
}

static void test_invalid_readings_freeze_the_hold(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);

	trace_start(t);
	trace_hold(t, 100, T_IN, true);
	trace_hold(t, 10, PROTO_FORCE_INVALID, true);
	assert_false(s->force_valid);
	assert_int_equal(s->invalid, 10);
	assert_int_equal(s->phase, COACH_PHASE_HOLDING);
	assert_int_equal(s->countdown_ms, 88000);
	trace_hold(t, 300, PROTO_FORCE_INVALID, true); /* longer than the grace */
	assert_int_equal(trace_cue_count(t, COACH_CUE_HOLD_RESET), 0);
	trace_hold(t, 1, T_IN, true);
	assert_true(s->force_valid);
	assert_int_equal(s->countdown_ms, 88000 - 20);
}

static void test_sample_index_wraps(void **state)
{
	struct trace *t = *state;
	const uint32_t first = 0xFFFFFF00u;

	t->next = first;
	trace_start(t);
	trace_hold(t, T_HOLD, T_IN, true);
	assert_int_equal(trace_cue_sample(t, COACH_CUE_HOLD_START, 0), first);
	assert_int_equal(trace_cue_sample(t, COACH_CUE_HALFWAY, 0), (uint32_t)(first + T_HALF - 1));
	assert_int_equal(trace_cue_sample(t, COACH_CUE_RELEASE, 0), (uint32_t)(first + T_HOLD - 1));
	assert_int_equal(trace_cue(t, COACH_CUE_RELEASE, 0)->time_ms, 89980);
	assert_int_equal(trace_state(t)->samples_lost, 0);
	assert_int_equal(trace_state(t)->duplicates, 0);
}

/* One scripted session touching every rule, fed in frames of `batch`. */
static void scripted_session(struct trace *t, size_t batch)
{
	trace_setup(t, PROTO_REGION_CALVES);
	t->config.find_tolerance = true;
	t->config.plan.step_ups = 1;
	trace_start(t);
	t->batch = batch;
	trace_hold(t, 37, T_OFF, true);
	trace_ramp(t, 200, 0, 3000, false);
	trace_hold(t, 160, 3000, true);      /* tolerance: band 255-345 N */
	trace_hold(t, 1200, 3000, true);
	trace_hold(t, 40, 2400, true);       /* dip */
	trace_hold(t, 7, 6200, true);        /* over-pressure */
	trace_skip(t, 61);
	trace_hold(t, 1500, 3300, true);     /* step-up at 45 s */
	trace_hold(t, 2000, 3400, true);
	trace_hold(t, 333, T_OFF, true);
	trace_skip(t, 9);
	trace_hold(t, 800, T_OFF, true);
	trace_hold(t, 2500, 3000, true);
	trace_input(t, COACH_INPUT_RELIEF);
	trace_hold(t, 1000, 3000, true);
	trace_hold(t, 900, 3000, false);
	trace_input(t, COACH_INPUT_STOP);
}

static void test_batching_does_not_change_anything(void **state)
{
	static struct trace other;
	struct trace *t = *state;
	static const size_t batches[] = { 7, 50, PROTO_BATCH_MAX_SAMPLES };
	struct coach_summary a, b;
	const struct coach_hold *ha, *hb;
	size_t na, nb, i, k;

	scripted_session(t, 1);
	assert_true(t->cue_count > 15);
	assert_int_equal(trace_cue_count(t, COACH_CUE_TOLERANCE_SET), 1);
	assert_int_equal(trace_cue_count(t, COACH_CUE_STEP_UP), 2); /* one per hold */
	assert_int_equal(trace_cue_count(t, COACH_CUE_TOO_MUCH), 1);
	assert_int_equal(trace_cue_count(t, COACH_CUE_DATA_GAP), 2);
	assert_int_equal(trace_cue_count(t, COACH_CUE_EARLY_RELEASE), 1);
	assert_int_equal(coach_summary(&t->coach, &a), 0);

	for (k = 0; k < sizeof(batches) / sizeof(batches[0]); k++) {
		scripted_session(&other, batches[k]);
		assert_int_equal(other.cue_count, t->cue_count);
		for (i = 0; i < t->cue_count; i++) {
			assert_int_equal(other.cues[i].kind, t->cues[i].kind);
			assert_int_equal(other.cues[i].rep, t->cues[i].rep);
			assert_int_equal(other.cues[i].sample, t->cues[i].sample);
			assert_int_equal(other.cues[i].time_ms, t->cues[i].time_ms);
			assert_int_equal(other.cues[i].force_dn, t->cues[i].force_dn);
			assert_int_equal(other.cues[i].value, t->cues[i].value);
		}
		assert_int_equal(coach_summary(&other.coach, &b), 0);
		assert_memory_equal(&a, &b, sizeof(a));
		ha = coach_holds(&t->coach, &na);
		hb = coach_holds(&other.coach, &nb);
		assert_int_equal(na, nb);
		for (i = 0; i < na; i++) {
			assert_int_equal(ha[i].result, hb[i].result);
			assert_int_equal(ha[i].start_sample, hb[i].start_sample);
			assert_int_equal(ha[i].duration_ms, hb[i].duration_ms);
			assert_int_equal(ha[i].in_band_ms, hb[i].in_band_ms);
			assert_int_equal(ha[i].mean_force_dn, hb[i].mean_force_dn);
		}
	}
}

static void test_host_and_device_holds_agree(void **state)
{
	struct trace *t = *state;
	const struct coach_detected_hold *host, *dev;
	struct proto_event e;
	size_t nh, nd;

	trace_start(t);
	trace_hold(t, 10, T_OFF, true);
	trace_hold(t, 500, T_IN, true);
	trace_hold(t, 50, T_BELOW, true);
	trace_hold(t, 500, T_IN, true);
	trace_hold(t, 200, T_OFF, true);

	host = coach_detected_holds(&t->coach, COACH_SOURCE_HOST, &nh);
	assert_int_equal(nh, 1);
	assert_int_equal(host[0].start_sample, S + 10);
	assert_int_equal(host[0].duration, 1050);
	assert_int_equal(host[0].in_band, 1000);
	assert_int_equal(host[0].dips, 1);
	assert_int_equal(host[0].mean_force_dn, 2952); /* 3 100 000 / 1050 */
	assert_int_equal(host[0].peak_force_dn, T_IN);
	assert_int_equal(host[0].reason, PROTO_END_RELEASED);
	assert_true(host[0].ended);

	/* What the device reports for the same samples. */
	memset(&e, 0, sizeof(e));
	e.kind = PROTO_EVENT_HOLD_START;
	e.seq = 7;
	e.sample = S + 10;
	e.u.hold_start.force = T_IN;
	assert_int_equal(coach_feed_event(&t->coach, &e), 0);
	dev = coach_detected_holds(&t->coach, COACH_SOURCE_DEVICE, &nd);
	assert_int_equal(nd, 1);
	assert_false(dev[0].ended);
	assert_false(coach_detected_hold_equal(&host[0], &dev[0]));

	memset(&e, 0, sizeof(e));
	e.kind = PROTO_EVENT_STATUS;
	e.seq = 8;
	assert_int_equal(coach_feed_event(&t->coach, &e), 0);

	memset(&e, 0, sizeof(e));
	e.kind = PROTO_EVENT_HOLD_END;
	e.seq = 9;
	e.sample = S + 10 + 1050;
	e.u.hold_end.duration = 1050;
	e.u.hold_end.in_band = 1000;
	e.u.hold_end.mean_force = 2952;
	e.u.hold_end.peak_force = T_IN;
	e.u.hold_end.reason = PROTO_END_RELEASED;
	e.u.hold_end.dips = 1;
	assert_int_equal(coach_feed_event(&t->coach, &e), 0);
	dev = coach_detected_holds(&t->coach, COACH_SOURCE_DEVICE, &nd);
	assert_int_equal(nd, 1);
	assert_true(dev[0].ended);
	assert_true(coach_detected_hold_equal(&host[0], &dev[0]));

	/* A repeated indication is ignored; a skipped one is counted. */
	assert_int_equal(coach_feed_event(&t->coach, &e), 0);
	coach_detected_holds(&t->coach, COACH_SOURCE_DEVICE, &nd);
	assert_int_equal(nd, 1);
	assert_int_equal(trace_state(t)->events_lost, 0);

	/* A HOLD_END whose start was lost still makes a record; a device that
	 * counts differently is told apart. */
	e.seq = 12;
	e.u.hold_end.in_band = 999;
	assert_int_equal(coach_feed_event(&t->coach, &e), 0);
	assert_int_equal(trace_state(t)->events_lost, 2);
	dev = coach_detected_holds(&t->coach, COACH_SOURCE_DEVICE, &nd);
	assert_int_equal(nd, 2);
	assert_int_equal(dev[1].start_sample, S + 10);
	assert_false(coach_detected_hold_equal(&host[0], &dev[1]));

	memset(&e, 0, sizeof(e));
	e.kind = PROTO_EVENT_COUNTERS;
	e.seq = 13;
	e.u.counters.samples_dropped = 42;
	assert_int_equal(coach_feed_event(&t->coach, &e), 0);
	assert_int_equal(trace_state(t)->device_dropped, 42);
	assert_int_equal(coach_feed_event(NULL, &e), -EINVAL);
	assert_int_equal(coach_feed_event(&t->coach, NULL), -EINVAL);
}

static void test_detector_holds_past_the_coached_hold(void **state)
{
	struct trace *t = *state;
	const struct coach_detected_hold *host;
	struct coach_summary sum;
	size_t n;

	trace_start(t);
	trace_hold(t, T_HOLD + 500, T_IN, true);  /* stays on into the rest */
	host = coach_detected_holds(&t->coach, COACH_SOURCE_HOST, &n);
	assert_int_equal(n, 1);
	assert_false(host[0].ended);
	assert_int_equal(host[0].duration, T_HOLD + 500);
	trace_hold(t, T_GRACE + 1, T_OFF, true);
	host = coach_detected_holds(&t->coach, COACH_SOURCE_HOST, &n);
	assert_true(host[0].ended);
	assert_int_equal(host[0].reason, PROTO_END_TARGET);
	assert_int_equal(host[0].in_band, T_HOLD + 500);

	/* A hold still running when the session stops ends with it. */
	trace_hold(t, 300, T_IN, true);
	assert_int_equal(trace_input(t, COACH_INPUT_STOP), 0);
	host = coach_detected_holds(&t->coach, COACH_SOURCE_HOST, &n);
	assert_int_equal(n, 2);
	assert_true(host[1].ended);
	assert_int_equal(host[1].reason, PROTO_END_SESSION);
	assert_int_equal(host[1].duration, 300);
	assert_int_equal(coach_summary(&t->coach, &sum), 0);
	assert_int_equal(sum.host_detected, 2);
	assert_int_equal(sum.device_detected, 0);
}

static void test_feed_errors_and_per_call_cues(void **state)
{
	struct trace *t = *state;
	struct proto_measurement m;
	size_t n;

	trace_start(t);
	m = frame(S, 10, T_IN, PROTO_MEAS_CALIBRATED);
	assert_int_equal(coach_feed_measurement(NULL, &m), -EINVAL);
	assert_int_equal(coach_feed_measurement(&t->coach, NULL), -EINVAL);
	m.count = 0;
	assert_int_equal(coach_feed_measurement(&t->coach, &m), -EINVAL);
	m.count = PROTO_BATCH_MAX_SAMPLES + 1;
	assert_int_equal(coach_feed_measurement(&t->coach, &m), -EINVAL);
	assert_int_equal(trace_state(t)->samples, 0);

	/* Each call returns its own cues: start prompt and hold start... */
	m = frame(S, 10, T_IN, PROTO_MEAS_CALIBRATED);
	assert_int_equal(coach_feed_measurement(&t->coach, &m), 0);
	coach_cues(&t->coach, &n);
	assert_int_equal(n, 2);
	assert_true(trace_state(t)->calibrated);
	/* ...then none while nothing happens. */
	m = frame(S + 10, 10, T_IN, 0);
	assert_int_equal(coach_feed_measurement(&t->coach, &m), 0);
	coach_cues(&t->coach, &n);
	assert_int_equal(n, 0);
	assert_false(trace_state(t)->calibrated);
	assert_null(coach_cues(NULL, &n));
	assert_int_equal(n, 0);
	assert_null(coach_state(NULL));
}

static int setup(void **state)
{
	static struct trace t;

	trace_setup(&t, PROTO_REGION_CALVES);
	*state = &t;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_gap_is_counted_and_does_not_break_a_hold, setup),
		cmocka_unit_test_setup(test_rest_runs_through_a_gap, setup),
		cmocka_unit_test_setup(test_repeated_and_resent_samples_count_once, setup),
		cmocka_unit_test_setup(test_invalid_readings_freeze_the_hold, setup),
		cmocka_unit_test_setup(test_sample_index_wraps, setup),
		cmocka_unit_test_setup(test_batching_does_not_change_anything, setup),
		cmocka_unit_test_setup(test_host_and_device_holds_agree, setup),
		cmocka_unit_test_setup(test_detector_holds_past_the_coached_hold, setup),
		cmocka_unit_test_setup(test_feed_errors_and_per_call_cues, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
