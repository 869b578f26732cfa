/*
 * A whole session: the tolerance step, repetitions and rests, inputs, and
 * the summary a user reads at the end.
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

static void test_three_repetitions_with_rests(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);
	struct coach_summary sum;
	unsigned k;
	size_t i = 0;

	trace_start(t);
	trace_hold(t, 100, T_OFF, true);
	for (k = 0; k < 3; k++) {
		trace_hold(t, T_HOLD, T_IN, true);
		if (k < 2) {
			assert_int_equal(s->phase, COACH_PHASE_REST);
			trace_hold(t, T_REST, T_OFF, true);
			assert_int_equal(s->phase, COACH_PHASE_WAITING);
			assert_int_equal(s->rep, k + 2);
		}
	}
	assert_int_equal(s->phase, COACH_PHASE_DONE);
	assert_int_equal(s->countdown_ms, 0);
	trace_hold(t, 50, T_IN, true);          /* still on after the end */
	assert_int_equal(s->phase, COACH_PHASE_DONE);

	/* The exact cue sequence a user hears. */
	assert_int_equal(t->cues[i].kind, COACH_CUE_GET_ON);
	assert_int_equal(t->cues[i++].sample, S);
	for (k = 0; k < 3; k++) {
		uint32_t b = S + 100 + k * (T_HOLD + T_REST);
		static const uint8_t in_hold[] = { COACH_CUE_HOLD_START, COACH_CUE_HALFWAY,
						   COACH_CUE_RELIEF_POINT, COACH_CUE_TEN_LEFT,
						   COACH_CUE_RELEASE };
		const uint32_t at[] = { b, b + T_HALF - 1, b + T_EFFECTIVE - 1,
					b + T_TEN_LEFT - 1, b + T_HOLD - 1 };
		size_t j;

		for (j = 0; j < 5; j++, i++) {
			assert_int_equal(t->cues[i].kind, in_hold[j]);
			assert_int_equal(t->cues[i].sample, at[j]);
			assert_int_equal(t->cues[i].rep, k + 1);
		}
		if (k < 2) {
			assert_int_equal(t->cues[i].kind, COACH_CUE_REST_OVER);
			assert_int_equal(t->cues[i].sample, b + T_HOLD + T_REST - 1);
			assert_int_equal(t->cues[i++].rep, k + 2);
		}
	}
	assert_int_equal(t->cues[i].kind, COACH_CUE_SESSION_DONE);
	assert_int_equal(t->cues[i].sample, S + 100 + 3 * T_HOLD + 2 * T_REST - 1);
	assert_int_equal(t->cues[i++].rep, 3);
	assert_int_equal(t->cue_count, i);

	assert_int_equal(coach_summary(&t->coach, &sum), 0);
	assert_int_equal(sum.region, PROTO_REGION_CALVES);
	assert_int_equal(sum.reps_planned, 3);
	assert_int_equal(sum.reps_done, 3);
	assert_int_equal(sum.holds, 3);
	assert_int_equal(sum.complete, 3);
	assert_int_equal(sum.in_band_ms, 270000);
	assert_int_equal(sum.hold_ms, 270000);
	assert_int_equal(sum.mean_force_dn, T_IN);
	assert_int_equal(sum.mean_force_permille, 306);
	assert_int_equal(sum.session_ms, (100 + 3 * T_HOLD + 2 * T_REST + 50) * 20);
}

static void test_next_hold_waits_for_the_rest(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);

	trace_start(t);
	trace_hold(t, T_HOLD, T_IN, true);
	trace_hold(t, 500, T_IN, true);         /* stays on, in band, still */
	assert_int_equal(s->phase, COACH_PHASE_REST);
	assert_int_equal(s->rest_left_ms, 10000);
	assert_int_equal(s->countdown_ms, 90000);
	trace_hold(t, 501, T_IN, true);
	assert_int_equal(trace_cue_sample(t, COACH_CUE_REST_OVER, 0), S + T_HOLD + T_REST - 1);
	assert_int_equal(trace_cue_sample(t, COACH_CUE_HOLD_START, 1), S + T_HOLD + T_REST);
	assert_int_equal(s->rep, 2);
	assert_int_equal(s->countdown_ms, 90000 - 20);
}

static void test_summary_math(void **state)
{
	struct trace *t = *state;
	struct coach_summary sum;
	const struct coach_hold *h;
	size_t n;

	trace_start(t);
	/* rep 1: a 1 s dip, complete */
	trace_hold(t, 1000, T_IN, true);
	trace_hold(t, 50, T_BELOW, true);
	trace_hold(t, T_HOLD - 1000, T_IN, true);
	/* rest, with 25 samples lost in the middle */
	trace_hold(t, 400, T_OFF, true);
	trace_skip(t, 25);
	trace_hold(t, T_REST - 425, T_OFF, true);
	assert_int_equal(trace_cue_count(t, COACH_CUE_REST_OVER), 1);
	/* rep 2: reset after 10 s, then complete at 340 N */
	trace_hold(t, 500, T_IN, true);
	trace_hold(t, T_GRACE + 1, T_OFF, true);
	trace_hold(t, T_HOLD, 3400, true);
	trace_hold(t, T_REST, T_OFF, true);
	/* rep 3: relief at 30 s */
	trace_hold(t, 1500, T_IN, true);
	assert_int_equal(trace_input(t, COACH_INPUT_RELIEF), 0);
	assert_int_equal(trace_state(t)->phase, COACH_PHASE_DONE);

	h = coach_holds(&t->coach, &n);
	assert_int_equal(n, 4);
	assert_int_equal(h[0].result, COACH_HOLD_COMPLETE);
	assert_int_equal(h[1].result, COACH_HOLD_RESET);
	assert_int_equal(h[2].result, COACH_HOLD_COMPLETE);
	assert_int_equal(h[3].result, COACH_HOLD_EARLY_RELEASE);
	assert_int_equal(h[1].rep, 2);
	assert_int_equal(h[2].rep, 2);
	assert_int_equal(h[3].rep, 3);

	assert_int_equal(coach_summary(&t->coach, &sum), 0);
	assert_int_equal(sum.reps_done, 3);
	assert_int_equal(sum.holds, 4);
	assert_int_equal(sum.complete, 2);
	assert_int_equal(sum.reset, 1);
	assert_int_equal(sum.early_release, 1);
	assert_int_equal(sum.partial, 0);
	assert_int_equal(sum.stopped, 0);
	assert_int_equal(sum.in_band_ms, 90000 + 10000 + 90000 + 30000);
	assert_int_equal(sum.hold_ms, 91000 + 10000 + 90000 + 30000);
	/* (4500 x 3000 + 50 x 2000 + 500 x 3000 + 4500 x 3400 + 1500 x 3000) / 11050 */
	assert_int_equal(sum.mean_force_dn, 3158);
	assert_int_equal(sum.mean_force_permille, 322);
	assert_int_equal(sum.peak_force_dn, 3400);
	assert_int_equal(sum.drops, 2);
	assert_int_equal(sum.over_pressure, 0);
	assert_int_equal(sum.gaps, 1);
	assert_int_equal(sum.samples_lost, 25);
	assert_int_equal(sum.duplicates, 0);
	assert_int_equal(sum.band_low_dn, T_BAND_LOW);
	assert_int_equal(sum.band_high_dn, T_BAND_HIGH);
	assert_int_equal(sum.tolerance_dn, 0);
	assert_int_equal(sum.session_ms, (4550 + 1000 + 601 + 4500 + 1000 + 1500) * 20);
	assert_int_equal(coach_summary(NULL, &sum), -EINVAL);
	assert_int_equal(coach_summary(&t->coach, NULL), -EINVAL);
}

static void test_tolerance_step_sets_the_band(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);
	const struct coach_cue *q;
	struct coach_summary sum;

	t->config.find_tolerance = true;
	trace_start(t);
	assert_int_equal(s->phase, COACH_PHASE_TOLERANCE);
	trace_hold(t, 50, T_OFF, true);
	assert_int_equal(t->cues[0].kind, COACH_CUE_FIND_TOLERANCE);
	assert_int_equal(t->cues[0].sample, S);
	trace_hold(t, 100, 2000, true);         /* 2 s at 200 N */
	assert_int_equal(s->tolerance_steady_ms, 2000);
	trace_hold(t, 100, 3000, true);         /* pressed on: measuring starts again */
	assert_int_equal(s->tolerance_steady_ms, 2000);
	trace_hold(t, 1, 3000, false);          /* moved: again */
	assert_int_equal(s->tolerance_steady_ms, 0);
	trace_hold(t, 149, 3000, true);
	assert_int_equal(s->phase, COACH_PHASE_TOLERANCE);
	assert_int_equal(trace_cue_count(t, COACH_CUE_TOLERANCE_SET), 0);
	trace_hold(t, 1, 3000, true);           /* 3 s still and steady */
	q = trace_cue(t, COACH_CUE_TOLERANCE_SET, 0);
	assert_non_null(q);
	assert_int_equal(q->sample, S + 400);
	assert_int_equal(q->value, 3000);
	assert_int_equal(s->tolerance_dn, 3000);
	assert_int_equal(s->band_low_dn, 2550);  /* 85 % */
	assert_int_equal(s->band_high_dn, 3450); /* 115 % */
	assert_int_equal(s->band_low_permille, 260);
	assert_int_equal(s->band_high_permille, 352);
	assert_int_equal(s->overpressure_dn, 5175); /* 150 % of the band's top */
	assert_int_equal(s->phase, COACH_PHASE_POSITIONING);

	/* Still there: the first hold starts on the next sample. */
	trace_hold(t, 1, 3000, true);
	assert_int_equal(trace_cue_sample(t, COACH_CUE_HOLD_START, 0), S + 401);
	assert_int_equal(coach_summary(&t->coach, &sum), 0);
	assert_int_equal(sum.tolerance_dn, 3000);
	assert_int_equal(sum.band_low_dn, 2550);
}

static void test_tolerance_is_bounded_by_the_plan(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);

	/* Pressing harder than the plan's top: the band's top stays there. */
	t->config.find_tolerance = true;
	trace_start(t);
	trace_hold(t, 150, 5000, true);
	assert_int_equal(s->tolerance_dn, 5000);
	assert_int_equal(s->band_high_dn, T_BAND_HIGH);
	assert_int_equal(s->band_low_dn, 2899);
	assert_int_equal(s->overpressure_dn, T_OVER);

	/* Under the plan's band: the user's limit wins. */
	trace_setup(t, PROTO_REGION_CALVES);
	t->config.find_tolerance = true;
	trace_start(t);
	trace_hold(t, 150, 1500, true);
	assert_int_equal(s->band_low_dn, 1275);
	assert_int_equal(s->band_high_dn, 1725);
}

static void test_tolerance_on_the_neck_is_capped_and_warned(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);

	trace_setup(t, PROTO_REGION_NECK);
	t->config.find_tolerance = true;
	trace_start(t);
	assert_int_equal(s->band_low_dn, 490);   /* 5 % of 980.7 N */
	assert_int_equal(s->band_high_dn, 1177); /* 12 % */
	assert_int_equal(s->overpressure_dn, 1766);
	trace_hold(t, 150, 2000, true);          /* 200 N on the neck */
	assert_int_equal(trace_cue_sample(t, COACH_CUE_TOO_MUCH, 0), S);
	assert_int_equal(trace_cue_count(t, COACH_CUE_TOLERANCE_SET), 1);
	assert_int_equal(s->band_low_dn, 870);
	assert_int_equal(s->band_high_dn, 1176);
	assert_int_equal(s->overpressure_dn, 1764);
	assert_int_equal(s->hold_ms, 60000);
	assert_int_equal(s->reps, 2);
}

static void test_configured_tolerance_skips_the_step(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);

	t->config.tolerance_dn = 3000;
	trace_start(t);
	assert_int_equal(s->phase, COACH_PHASE_WAITING);
	assert_int_equal(s->tolerance_dn, 3000);
	assert_int_equal(s->band_low_dn, 2550);
	assert_int_equal(s->band_high_dn, 3450);
	trace_hold(t, 1, T_OFF, true);
	assert_int_equal(t->cues[0].kind, COACH_CUE_GET_ON);
}

static void test_skip_inputs(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);

	t->config.find_tolerance = true;
	trace_start(t);
	assert_int_equal(trace_input(t, COACH_INPUT_SKIP), 0);
	assert_int_equal(t->cues[0].kind, COACH_CUE_GET_ON);
	assert_int_equal(s->phase, COACH_PHASE_WAITING);
	assert_int_equal(s->band_low_dn, T_BAND_LOW);
	assert_int_equal(trace_input(t, COACH_INPUT_SKIP), -EAGAIN);

	trace_hold(t, T_HOLD, T_IN, true);
	assert_int_equal(s->phase, COACH_PHASE_REST);
	trace_hold(t, 10, T_IN, true);
	assert_int_equal(trace_input(t, COACH_INPUT_SKIP), 0);
	assert_int_equal(trace_cue_sample(t, COACH_CUE_REST_OVER, 0), S + T_HOLD + 9);
	assert_int_equal(s->phase, COACH_PHASE_POSITIONING);
	trace_hold(t, 1, T_IN, true);
	assert_int_equal(trace_cue_sample(t, COACH_CUE_HOLD_START, 1), S + T_HOLD + 10);
	assert_int_equal(trace_input(t, COACH_INPUT_SKIP), -EAGAIN);
	assert_int_equal(coach_input(&t->coach, (enum coach_input)9), -EINVAL);
	assert_int_equal(coach_input(NULL, COACH_INPUT_STOP), -EINVAL);
}

static void test_stop_ends_the_session(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);
	const struct coach_hold *h;
	struct coach_summary sum;
	size_t n, before;

	trace_start(t);
	trace_hold(t, 1000, T_IN, true);
	assert_int_equal(trace_input(t, COACH_INPUT_STOP), 0);
	assert_int_equal(trace_cue_sample(t, COACH_CUE_SESSION_DONE, 0), S + 999);
	assert_int_equal(s->phase, COACH_PHASE_DONE);
	h = coach_holds(&t->coach, &n);
	assert_int_equal(n, 1);
	assert_int_equal(h[0].result, COACH_HOLD_STOPPED);
	assert_int_equal(h[0].in_band_ms, 20000);

	before = t->cue_count;
	assert_int_equal(trace_input(t, COACH_INPUT_STOP), 0);
	assert_int_equal(t->cue_count, before);
	assert_int_equal(trace_input(t, COACH_INPUT_RELIEF), -EAGAIN);
	trace_hold(t, 200, T_IN, true);
	assert_int_equal(s->phase, COACH_PHASE_DONE);
	assert_int_equal(trace_cue_count(t, COACH_CUE_HOLD_START), 1);

	assert_int_equal(coach_summary(&t->coach, &sum), 0);
	assert_int_equal(sum.stopped, 1);
	assert_int_equal(sum.reps_done, 0);
	assert_int_equal(sum.in_band_ms, 20000);
}

static void test_no_rest_and_single_rep(void **state)
{
	struct trace *t = *state;

	t->config.plan.rest_ms = 0;
	t->config.plan.reps = 2;
	trace_start(t);
	trace_hold(t, T_HOLD + 1, T_IN, true);
	assert_int_equal(trace_cue_sample(t, COACH_CUE_RELEASE, 0), S + T_HOLD - 1);
	assert_int_equal(trace_cue_sample(t, COACH_CUE_REST_OVER, 0), S + T_HOLD - 1);
	assert_int_equal(trace_cue_sample(t, COACH_CUE_HOLD_START, 1), S + T_HOLD);

	trace_setup(t, PROTO_REGION_CALVES);
	t->config.plan.reps = 1;
	trace_start(t);
	trace_hold(t, T_HOLD + 10, T_IN, true);
	assert_int_equal(trace_cue_sample(t, COACH_CUE_SESSION_DONE, 0), S + T_HOLD - 1);
	assert_int_equal(trace_cue_count(t, COACH_CUE_REST_OVER), 0);
	assert_int_equal(trace_state(t)->rep, 1);
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
		cmocka_unit_test_setup(test_three_repetitions_with_rests, setup),
		cmocka_unit_test_setup(test_next_hold_waits_for_the_rest, setup),
		cmocka_unit_test_setup(test_summary_math, setup),
		cmocka_unit_test_setup(test_tolerance_step_sets_the_band, setup),
		cmocka_unit_test_setup(test_tolerance_is_bounded_by_the_plan, setup),
		cmocka_unit_test_setup(test_tolerance_on_the_neck_is_capped_and_warned, setup),
		cmocka_unit_test_setup(test_configured_tolerance_skips_the_step, setup),
		cmocka_unit_test_setup(test_skip_inputs, setup),
		cmocka_unit_test_setup(test_stop_ends_the_session, setup),
		cmocka_unit_test_setup(test_no_rest_and_single_rep, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
