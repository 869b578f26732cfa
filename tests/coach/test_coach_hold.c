/*
 * The hold rules: when the countdown runs, pauses, resets, ends early, steps
 * up, and when the user is warned. Every time is a sample index: at 50 Hz,
 * sample s + k is k x 20 ms after s.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <errno.h>
#include <string.h>

#include <cmocka.h>

#include "roller/coach.h"
#include "trace.h"

static const uint32_t S = T_FIRST; /* where the scripts start */

static void assert_phases(const struct trace *t, const struct t_phase *want, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < t->phase_count; i++) {
		if (t->phases[i].phase != want[i].phase || t->phases[i].sample != want[i].sample)
			fail_msg("phase #%zu: got %s@%u, want %s@%u", i,
				 coach_phase_str(t->phases[i].phase), t->phases[i].sample,
				 coach_phase_str(want[i].phase), want[i].sample);
	}
	assert_int_equal(t->phase_count, n);
}

static void test_countdown_needs_band_and_stillness(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);

	trace_start(t);
	trace_hold(t, 50, T_OFF, true);     /* S..S+49: nobody on */
	assert_int_equal(s->phase, COACH_PHASE_WAITING);
	trace_hold(t, 50, T_IN, false);     /* in band but rolling */
	assert_int_equal(s->phase, COACH_PHASE_POSITIONING);
	assert_int_equal(s->countdown_ms, 90000);
	trace_hold(t, 50, T_BELOW, true);   /* still, too light */
	assert_int_equal(s->countdown_ms, 90000);
	trace_hold(t, 50, T_ABOVE, true);   /* still, too hard */
	assert_int_equal(s->countdown_ms, 90000);
	trace_hold(t, 50, T_OFF, true);
	assert_int_equal(s->phase, COACH_PHASE_WAITING);
	assert_int_equal(trace_cue_count(t, COACH_CUE_HOLD_START), 0);

	trace_hold(t, 1, T_IN, true);       /* S+250: in band and still */
	assert_int_equal(trace_cue_sample(t, COACH_CUE_HOLD_START, 0), S + 250);
	assert_int_equal(trace_cue(t, COACH_CUE_HOLD_START, 0)->force_dn, T_IN);
	assert_int_equal(s->phase, COACH_PHASE_HOLDING);
	assert_int_equal(s->countdown_ms, 90000 - 20);

	{
		const struct t_phase want[] = {
			{ COACH_PHASE_WAITING, S },
			{ COACH_PHASE_POSITIONING, S + 50 },
			{ COACH_PHASE_WAITING, S + 200 },
			{ COACH_PHASE_HOLDING, S + 250 },
		};
		assert_phases(t, want, sizeof(want) / sizeof(want[0]));
	}
	/* The only cues: get on, then the hold start. */
	assert_int_equal(t->cue_count, 2);
	assert_int_equal(t->cues[0].kind, COACH_CUE_GET_ON);
	assert_int_equal(t->cues[0].sample, S);
}

static void test_milestones_at_exact_samples(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);
	const struct coach_hold *h;
	size_t n;

	trace_start(t);
	trace_hold(t, T_HALF, T_IN, true);
	/* The halfway cue comes with the gauge at exactly 45 s. */
	assert_int_equal(trace_cue_sample(t, COACH_CUE_HALFWAY, 0), S + T_HALF - 1);
	assert_int_equal(trace_cue(t, COACH_CUE_HALFWAY, 0)->time_ms, (T_HALF - 1) * 20);
	assert_int_equal(s->countdown_ms, 45000);
	assert_int_equal(s->in_band_ms, 45000);

	trace_hold(t, T_EFFECTIVE - T_HALF, T_IN, true);
	assert_int_equal(trace_cue_sample(t, COACH_CUE_RELIEF_POINT, 0), S + T_EFFECTIVE - 1);
	assert_int_equal(s->countdown_ms, 30000);

	trace_hold(t, T_TEN_LEFT - T_EFFECTIVE, T_IN, true);
	assert_int_equal(trace_cue_sample(t, COACH_CUE_TEN_LEFT, 0), S + T_TEN_LEFT - 1);
	assert_int_equal(s->countdown_ms, 10000);
	assert_int_equal(s->phase, COACH_PHASE_HOLDING);

	trace_hold(t, T_HOLD - T_TEN_LEFT - 1, T_IN, true);
	assert_int_equal(trace_cue_count(t, COACH_CUE_RELEASE), 0);
	assert_int_equal(s->countdown_ms, 20);
	trace_hold(t, 1, T_IN, true);
	assert_int_equal(trace_cue_sample(t, COACH_CUE_RELEASE, 0), S + T_HOLD - 1);
	assert_int_equal(trace_cue(t, COACH_CUE_RELEASE, 0)->time_ms, 89980);
	assert_int_equal(trace_cue(t, COACH_CUE_RELEASE, 0)->rep, 1);
	assert_int_equal(s->phase, COACH_PHASE_REST);
	assert_int_equal(s->rep, 2);
	assert_int_equal(s->rest_left_ms, 20000);
	assert_int_equal(s->countdown_ms, 90000); /* the next hold, full */

	h = coach_holds(&t->coach, &n);
	assert_int_equal(n, 1);
	assert_int_equal(h[0].rep, 1);
	assert_int_equal(h[0].result, COACH_HOLD_COMPLETE);
	assert_int_equal(h[0].start_sample, S);
	assert_int_equal(h[0].duration_ms, 90000);
	assert_int_equal(h[0].in_band_ms, 90000);
	assert_int_equal(h[0].mean_force_dn, T_IN);
	assert_int_equal(h[0].mean_force_permille, 306);
	assert_int_equal(h[0].peak_force_dn, T_IN);
	assert_int_equal(h[0].dips, 0);
	assert_int_equal(h[0].band_low_dn, T_BAND_LOW);
	/* Cue order within the hold. */
	assert_int_equal(t->cue_count, 6);
	assert_int_equal(t->cues[1].kind, COACH_CUE_HOLD_START);
	assert_int_equal(t->cues[2].kind, COACH_CUE_HALFWAY);
	assert_int_equal(t->cues[3].kind, COACH_CUE_RELIEF_POINT);
	assert_int_equal(t->cues[4].kind, COACH_CUE_TEN_LEFT);
	assert_int_equal(t->cues[5].kind, COACH_CUE_RELEASE);
}

static void test_grace_dip_pauses_then_resumes(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);
	const struct coach_hold *h;
	size_t n;

	trace_start(t);
	trace_hold(t, 1000, T_IN, true);
	trace_hold(t, 30, T_BELOW, true);     /* 0.6 s under the band */
	assert_int_equal(s->phase, COACH_PHASE_PAUSED);
	assert_int_equal(s->dip_cause, COACH_DIP_BELOW);
	assert_int_equal(s->countdown_ms, 70000); /* stopped at 70 s */
	assert_int_equal(s->dip_ms, 600);
	assert_int_equal(trace_cue_sample(t, COACH_CUE_DROP, 0), S + 1000 + T_DROP_CUE - 1);
	assert_int_equal(trace_cue(t, COACH_CUE_DROP, 0)->value, COACH_DIP_BELOW);
	trace_hold(t, 20, T_BELOW, true);     /* 1 s in all: inside the grace */
	assert_int_equal(s->countdown_ms, 70000);

	trace_hold(t, 1, T_IN, true);
	assert_int_equal(trace_cue_sample(t, COACH_CUE_RESUMED, 0), S + 1050);
	assert_int_equal(s->phase, COACH_PHASE_HOLDING);
	assert_int_equal(s->countdown_ms, 70000 - 20);

	trace_hold(t, T_HOLD - 1001, T_IN, true);
	/* Finished 1 s (the dip) later than without it. */
	assert_int_equal(trace_cue_sample(t, COACH_CUE_RELEASE, 0), S + T_HOLD + 50 - 1);
	h = coach_holds(&t->coach, &n);
	assert_int_equal(n, 1);
	assert_int_equal(h[0].result, COACH_HOLD_COMPLETE);
	assert_int_equal(h[0].duration_ms, 91000);
	assert_int_equal(h[0].in_band_ms, 90000);
	assert_int_equal(h[0].dips, 1);
	/* (4500 x 300.0 N + 50 x 200.0 N) / 4550 */
	assert_int_equal(h[0].mean_force_dn, 2989);
	assert_int_equal(trace_cue_count(t, COACH_CUE_HOLD_RESET), 0);

	{
		const struct t_phase want[] = {
			{ COACH_PHASE_WAITING, S },
			{ COACH_PHASE_HOLDING, S },
			{ COACH_PHASE_PAUSED, S + 1000 },
			{ COACH_PHASE_HOLDING, S + 1050 },
			{ COACH_PHASE_REST, S + T_HOLD + 49 },
		};
		assert_phases(t, want, sizeof(want) / sizeof(want[0]));
	}
}

static void test_short_wobble_pauses_without_a_cue(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);

	trace_start(t);
	trace_hold(t, 100, T_IN, true);
	trace_hold(t, T_DROP_CUE - 1, T_IN, false); /* a wobble under 250 ms */
	assert_int_equal(s->phase, COACH_PHASE_PAUSED);
	assert_int_equal(s->dip_cause, COACH_DIP_MOVING);
	assert_int_equal(s->countdown_ms, 88000);
	trace_hold(t, T_HOLD - 100, T_IN, true);
	assert_int_equal(trace_cue_count(t, COACH_CUE_DROP), 0);
	assert_int_equal(trace_cue_count(t, COACH_CUE_RESUMED), 0);
	assert_int_equal(trace_cue_sample(t, COACH_CUE_RELEASE, 0), S + T_HOLD + T_DROP_CUE - 2);
}

static void test_dip_of_exactly_the_grace_survives(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);

	trace_start(t);
	trace_hold(t, 200, T_IN, true);
	trace_hold(t, T_GRACE, T_OFF, true);  /* off the roller for exactly 2 s */
	assert_int_equal(s->phase, COACH_PHASE_PAUSED);
	assert_int_equal(s->dip_cause, COACH_DIP_RELEASED);
	trace_hold(t, 1, T_IN, true);
	assert_int_equal(s->phase, COACH_PHASE_HOLDING);
	assert_int_equal(trace_cue_count(t, COACH_CUE_HOLD_RESET), 0);
	assert_int_equal(trace_cue(t, COACH_CUE_DROP, 0)->value, COACH_DIP_RELEASED);
	assert_int_equal(s->countdown_ms, 90000 - 201 * 20);
}

static void test_long_drop_resets_the_hold(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);
	const struct coach_hold *h;
	const struct coach_cue *q;
	size_t n;

	trace_start(t);
	trace_hold(t, 1000, T_IN, true);          /* 20 s held */
	trace_hold(t, T_GRACE, T_BELOW, true);
	assert_int_equal(s->phase, COACH_PHASE_PAUSED);
	trace_hold(t, 1, T_BELOW, true);          /* one sample past the grace */
	q = trace_cue(t, COACH_CUE_HOLD_RESET, 0);
	assert_non_null(q);
	assert_int_equal(q->sample, S + 1000 + T_GRACE);
	assert_int_equal(q->value, 20000);
	assert_int_equal(q->rep, 1);
	assert_int_equal(s->phase, COACH_PHASE_POSITIONING);
	assert_int_equal(s->countdown_ms, 90000);
	assert_int_equal(s->rep, 1);

	h = coach_holds(&t->coach, &n);
	assert_int_equal(n, 1);
	assert_int_equal(h[0].result, COACH_HOLD_RESET);
	assert_int_equal(h[0].end_cause, COACH_DIP_BELOW);
	assert_int_equal(h[0].duration_ms, 20000); /* to the last good sample */
	assert_int_equal(h[0].in_band_ms, 20000);
	assert_int_equal(h[0].mean_force_dn, T_IN);

	/* Back in the band: the same repetition starts over from 90 s. */
	trace_hold(t, 10, T_BELOW, true);
	trace_hold(t, 1, T_IN, true);
	q = trace_cue(t, COACH_CUE_HOLD_START, 1);
	assert_non_null(q);
	assert_int_equal(q->sample, S + 1000 + T_GRACE + 11);
	assert_int_equal(q->rep, 1);
	assert_int_equal(s->countdown_ms, 90000 - 20);
}

static void test_long_drop_after_effective_time_counts(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);
	const struct coach_hold *h;
	const struct coach_cue *q;
	size_t n;

	trace_start(t);
	trace_hold(t, 3200, T_IN, true);           /* 64 s: past the 60 s */
	trace_hold(t, T_GRACE + 1, T_OFF, true);   /* got off */
	q = trace_cue(t, COACH_CUE_HOLD_COUNTED, 0);
	assert_non_null(q);
	assert_int_equal(q->sample, S + 3200 + T_GRACE);
	assert_int_equal(q->value, 64000);
	assert_int_equal(trace_cue_count(t, COACH_CUE_HOLD_RESET), 0);
	assert_int_equal(s->phase, COACH_PHASE_REST);
	assert_int_equal(s->rep, 2);

	h = coach_holds(&t->coach, &n);
	assert_int_equal(n, 1);
	assert_int_equal(h[0].result, COACH_HOLD_PARTIAL);
	assert_int_equal(h[0].end_cause, COACH_DIP_RELEASED);
	assert_int_equal(h[0].in_band_ms, 64000);

	/* The rest runs from the next sample. */
	trace_hold(t, T_REST, T_OFF, true);
	assert_int_equal(trace_cue_sample(t, COACH_CUE_REST_OVER, 0), S + 3200 + T_GRACE + T_REST);
	assert_int_equal(trace_cue(t, COACH_CUE_REST_OVER, 0)->rep, 2);
}

static void test_drop_causes(void **state)
{
	struct trace *t = *state;

	trace_start(t);
	trace_hold(t, 100, T_IN, true);
	trace_hold(t, T_DROP_CUE, T_ABOVE, true);
	trace_hold(t, 10, T_IN, true);
	trace_hold(t, T_DROP_CUE, T_IN, false);
	trace_hold(t, 10, T_IN, true);
	trace_hold(t, T_DROP_CUE, T_OFF, true);
	trace_hold(t, 10, T_IN, true);
	trace_hold(t, T_DROP_CUE, 50, false);  /* lifted off while rolling */
	trace_hold(t, 10, T_IN, true);
	assert_int_equal(trace_cue_count(t, COACH_CUE_DROP), 4);
	assert_int_equal(trace_cue(t, COACH_CUE_DROP, 0)->value, COACH_DIP_ABOVE);
	assert_int_equal(trace_cue(t, COACH_CUE_DROP, 1)->value, COACH_DIP_MOVING);
	assert_int_equal(trace_cue(t, COACH_CUE_DROP, 2)->value, COACH_DIP_RELEASED);
	assert_int_equal(trace_cue(t, COACH_CUE_DROP, 3)->value, COACH_DIP_RELEASED);
	assert_int_equal(trace_cue_count(t, COACH_CUE_RESUMED), 4);
	assert_int_equal(trace_cue_count(t, COACH_CUE_TOO_MUCH), 0);
	assert_int_equal(trace_state(t)->countdown_ms, 90000 - 140 * 20);
}

static void test_relief_releases_early_any_time(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);
	const struct coach_hold *h;
	const struct coach_cue *q;
	size_t n;

	trace_start(t);
	assert_int_equal(trace_input(t, COACH_INPUT_RELIEF), -EAGAIN); /* nothing to release */
	trace_hold(t, 10, T_OFF, true);
	assert_int_equal(trace_input(t, COACH_INPUT_RELIEF), -EAGAIN);
	trace_hold(t, 1500, T_IN, true);          /* 30 s, well before 60 s */
	assert_int_equal(trace_input(t, COACH_INPUT_RELIEF), 0);
	q = trace_cue(t, COACH_CUE_EARLY_RELEASE, 0);
	assert_non_null(q);
	assert_int_equal(q->sample, S + 10 + 1499);
	assert_int_equal(q->value, 30000);
	assert_int_equal(q->rep, 1);
	assert_int_equal(s->phase, COACH_PHASE_REST);
	assert_int_equal(s->rep, 2);
	h = coach_holds(&t->coach, &n);
	assert_int_equal(n, 1);
	assert_int_equal(h[0].result, COACH_HOLD_EARLY_RELEASE);
	assert_int_equal(h[0].in_band_ms, 30000);
	assert_int_equal(h[0].duration_ms, 30000);
	assert_int_equal(trace_input(t, COACH_INPUT_RELIEF), -EAGAIN); /* resting */

	/* Also while paused in a dip. */
	trace_input(t, COACH_INPUT_SKIP);
	trace_hold(t, 100, T_IN, true);
	trace_hold(t, 20, T_BELOW, true);
	assert_int_equal(s->phase, COACH_PHASE_PAUSED);
	assert_int_equal(trace_input(t, COACH_INPUT_RELIEF), 0);
	h = coach_holds(&t->coach, &n);
	assert_int_equal(n, 2);
	assert_int_equal(h[1].result, COACH_HOLD_EARLY_RELEASE);
	assert_int_equal(h[1].in_band_ms, 2000);
	assert_int_equal(h[1].duration_ms, 2400);
	assert_int_equal(s->rep, 3);
}

static void test_over_pressure_warns_once_per_episode(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);
	const struct coach_cue *q;

	trace_start(t);
	trace_hold(t, 100, T_IN, true);
	trace_hold(t, 10, T_TOO_MUCH, true);
	q = trace_cue(t, COACH_CUE_TOO_MUCH, 0);
	assert_non_null(q);
	assert_int_equal(q->sample, S + 100);
	assert_int_equal(q->value, T_OVER);
	assert_int_equal(q->force_dn, T_TOO_MUCH);
	assert_true(s->over_pressure);
	assert_int_equal(s->phase, COACH_PHASE_PAUSED); /* over the band too */
	assert_int_equal(s->dip_cause, COACH_DIP_ABOVE);

	/* Easing a little (still above 90 % of the limit) and pressing again
	 * is the same episode. */
	trace_hold(t, 5, 5500, true);
	assert_false(s->over_pressure);
	trace_hold(t, 5, T_TOO_MUCH, true);
	assert_int_equal(trace_cue_count(t, COACH_CUE_TOO_MUCH), 1);
	/* Back in the band, then too much again: a new warning. */
	trace_hold(t, 5, T_IN, true);
	trace_hold(t, 1, T_OVER + 1, true);
	assert_int_equal(trace_cue_count(t, COACH_CUE_TOO_MUCH), 2);
	assert_int_equal(trace_cue_sample(t, COACH_CUE_TOO_MUCH, 1), S + 125);
	/* Exactly at the limit is not over it. */
	trace_hold(t, 5, T_IN, true);
	trace_hold(t, 1, T_OVER, true);
	assert_int_equal(trace_cue_count(t, COACH_CUE_TOO_MUCH), 2);
}

static void test_over_pressure_warns_outside_holds_too(void **state)
{
	struct trace *t = *state;

	trace_start(t);
	trace_hold(t, 3, T_TOO_MUCH, false);
	assert_int_equal(trace_cue_count(t, COACH_CUE_TOO_MUCH), 1);
	assert_int_equal(trace_state(t)->phase, COACH_PHASE_POSITIONING);
	/* Saturated cells read as at least full scale. */
	trace_hold(t, 3, T_OFF, true);
	trace_hold(t, 1, PROTO_FORCE_SATURATED, true);
	assert_int_equal(trace_cue_count(t, COACH_CUE_TOO_MUCH), 2);
}

static void test_step_up_raises_the_band(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);
	const struct coach_cue *q;
	const struct coach_hold *h;
	size_t n;
	/* 10 % of 245.2 N = 24.5 N; at 10 N/s the ramp takes 2.45 s = 123 samples. */
	const int32_t step = 245;
	const uint32_t ramp = 123;

	t->config.plan.step_ups = 2;
	trace_start(t);
	trace_hold(t, 1500, 2600, true);        /* in the base band, near its bottom */
	q = trace_cue(t, COACH_CUE_STEP_UP, 0);
	assert_non_null(q);
	assert_int_equal(q->sample, S + 1499);  /* a third of 90 s */
	assert_int_equal(q->value, T_BAND_LOW + step);
	assert_int_equal(s->band_low_dn, T_BAND_LOW + step);
	assert_int_equal(s->band_high_dn, T_BAND_HIGH + step);

	/* Under the new band while ramping up: paused, but no drop cue, and no
	 * reset while the ramp allowance lasts (grace + ramp time). */
	trace_hold(t, T_GRACE + ramp, 2600, true);
	assert_int_equal(s->phase, COACH_PHASE_PAUSED);
	assert_int_equal(trace_cue_count(t, COACH_CUE_DROP), 0);
	assert_int_equal(s->countdown_ms, 60000);
	trace_hold(t, 1500, 2800, true);
	assert_int_equal(trace_cue_count(t, COACH_CUE_HOLD_RESET), 0);
	assert_int_equal(trace_cue_sample(t, COACH_CUE_STEP_UP, 1), S + 1500 + T_GRACE + ramp + 1499);
	assert_int_equal(s->band_low_dn, T_BAND_LOW + 2 * step);

	/* This time the user stays under it longer than grace + ramp: a long
	 * drop (after 60 s, so the hold counts), and the band goes back to the
	 * base for the next one. */
	trace_hold(t, T_GRACE + ramp, 2800, true);
	assert_int_equal(s->phase, COACH_PHASE_PAUSED);
	trace_hold(t, 1, 2800, true);
	assert_int_equal(trace_cue_sample(t, COACH_CUE_HOLD_COUNTED, 0),
			 S + 1500 + T_GRACE + ramp + 1500 + T_GRACE + ramp);
	assert_int_equal(trace_cue_count(t, COACH_CUE_DROP), 0);
	assert_int_equal(s->phase, COACH_PHASE_REST);
	assert_int_equal(s->band_low_dn, T_BAND_LOW);
	assert_int_equal(s->band_high_dn, T_BAND_HIGH);
	h = coach_holds(&t->coach, &n);
	assert_int_equal(n, 1);
	assert_int_equal(h[0].step_ups, 2);
	assert_int_equal(h[0].band_low_dn, T_BAND_LOW);
	assert_int_equal(h[0].result, COACH_HOLD_PARTIAL);
	assert_int_equal(h[0].in_band_ms, 60000);
}

static void test_step_up_then_long_drop_before_60_s_resets(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);
	const uint32_t ramp = 123;

	t->config.plan.step_ups = 3;            /* raises at 22.5, 45 and 67.5 s */
	trace_start(t);
	trace_hold(t, 1125, 2600, true);
	assert_int_equal(trace_cue_count(t, COACH_CUE_STEP_UP), 1);
	trace_hold(t, T_GRACE + ramp + 1, 2600, true); /* never ramps up */
	assert_int_equal(trace_cue_sample(t, COACH_CUE_HOLD_RESET, 0), S + 1125 + T_GRACE + ramp);
	assert_int_equal(s->phase, COACH_PHASE_POSITIONING);
	assert_int_equal(s->band_low_dn, T_BAND_LOW);
	assert_int_equal(s->countdown_ms, 90000);
	/* 2600 is in the base band again: the repetition starts over at once. */
	trace_hold(t, 1, 2600, true);
	assert_int_equal(trace_cue_count(t, COACH_CUE_HOLD_START), 2);
}

static void test_step_up_stays_under_the_over_pressure_limit(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s = trace_state(t);

	t->config.plan.step_ups = 3;
	t->config.plan.step_up_percent = 50;    /* 122.6 N a step */
	trace_start(t);
	trace_hold(t, 1125, T_IN, true);
	assert_int_equal(trace_cue_count(t, COACH_CUE_STEP_UP), 1);
	assert_int_equal(s->band_high_dn, T_BAND_HIGH + 1226);
	trace_hold(t, 300, 4500, true);
	trace_hold(t, 1500, 4500, true);
	/* A second raise would put the band's top past 588.4 N: skipped. */
	assert_int_equal(trace_cue_count(t, COACH_CUE_STEP_UP), 1);
	assert_int_equal(s->band_high_dn, T_BAND_HIGH + 1226);
	assert_true(s->band_high_dn < s->overpressure_dn);
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
		cmocka_unit_test_setup(test_countdown_needs_band_and_stillness, setup),
		cmocka_unit_test_setup(test_milestones_at_exact_samples, setup),
		cmocka_unit_test_setup(test_grace_dip_pauses_then_resumes, setup),
		cmocka_unit_test_setup(test_short_wobble_pauses_without_a_cue, setup),
		cmocka_unit_test_setup(test_dip_of_exactly_the_grace_survives, setup),
		cmocka_unit_test_setup(test_long_drop_resets_the_hold, setup),
		cmocka_unit_test_setup(test_long_drop_after_effective_time_counts, setup),
		cmocka_unit_test_setup(test_drop_causes, setup),
		cmocka_unit_test_setup(test_relief_releases_early_any_time, setup),
		cmocka_unit_test_setup(test_over_pressure_warns_once_per_episode, setup),
		cmocka_unit_test_setup(test_over_pressure_warns_outside_holds_too, setup),
		cmocka_unit_test_setup(test_step_up_raises_the_band, setup),
		cmocka_unit_test_setup(test_step_up_then_long_drop_before_60_s_resets, setup),
		cmocka_unit_test_setup(test_step_up_stays_under_the_over_pressure_limit, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
