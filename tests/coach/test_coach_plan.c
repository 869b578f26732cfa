/* Plans, configuration, units and the words the coach shows. */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <errno.h>
#include <string.h>

#include <cmocka.h>

#include "roller/coach.h"
#include "trace.h"

static void test_default_plans_follow_the_table(void **state)
{
	struct coach_plan p;
	uint8_t region;

	(void)state;
	for (region = 1; region <= PROTO_REGION_LAST; region++) {
		assert_int_equal(coach_plan_default(region, &p), 0);
		assert_int_equal(coach_plan_check(&p), 0);
		assert_int_equal(p.region, region);
		assert_non_null(p.hint);
		assert_true(strlen(p.hint) > 20);
		/* Shared defaults: Hou 2002, Gemmell 2008, reviews, choice. */
		assert_int_equal(p.rest_ms, 20000);
		assert_int_equal(p.grace_ms, 2000);
		assert_int_equal(p.ramp_dn_per_s, 100);
		assert_int_equal(p.overpressure_permille, 600);
		assert_int_equal(p.overpressure_band_percent, 150);
		assert_int_equal(p.step_ups, 0);
		assert_true(p.band_high_permille <= 400);
	}

	assert_int_equal(coach_plan_default(PROTO_REGION_CALVES, &p), 0);
	assert_int_equal(p.band_low_permille, 250);
	assert_int_equal(p.band_high_permille, 400);
	assert_int_equal(p.hold_ms, 90000);
	assert_int_equal(p.reps, 3);
	assert_int_equal(p.effective_ms, 60000);
	/* Baumgart 2019: the mean under a roller, 32-34 %, sits inside the band. */
	assert_true(p.band_low_permille < 320 && p.band_high_permille > 340);

	/* Neck: gentle, shorter, fewer. */
	assert_int_equal(coach_plan_default(PROTO_REGION_NECK, &p), 0);
	assert_int_equal(p.band_low_permille, 50);
	assert_int_equal(p.band_high_permille, 120);
	assert_int_equal(p.hold_ms, 60000);
	assert_int_equal(p.reps, 2);
	assert_int_equal(p.effective_ms, 60000);

	/* Shins and the back get less than the legs. */
	{
		static const uint8_t lower[] = { PROTO_REGION_SHINS, PROTO_REGION_LOWER_BACK,
						 PROTO_REGION_UPPER_BACK, PROTO_REGION_SHOULDERS };
		struct coach_plan legs;
		size_t i;

		assert_int_equal(coach_plan_default(PROTO_REGION_QUADRICEPS, &legs), 0);
		for (i = 0; i < sizeof(lower); i++) {
			assert_int_equal(coach_plan_default(lower[i], &p), 0);
			assert_true(p.band_high_permille < legs.band_high_permille);
			assert_true(p.band_low_permille < legs.band_low_permille);
		}
	}

	assert_int_equal(coach_plan_default(PROTO_REGION_NONE, &p), -EINVAL);
	assert_int_equal(coach_plan_default(PROTO_REGION_LAST + 1, &p), -EINVAL);
	assert_int_equal(coach_plan_default(PROTO_REGION_CALVES, NULL), -EINVAL);
}

static void test_plan_check_rejects_out_of_range(void **state)
{
	struct coach_plan good, p;

	(void)state;
	assert_int_equal(coach_plan_default(PROTO_REGION_CALVES, &good), 0);
	assert_int_equal(coach_plan_check(NULL), -EINVAL);

#define BAD(field, value)                                         \
	do {                                                      \
		p = good;                                         \
		p.field = value;                                  \
		assert_int_equal(coach_plan_check(&p), -ERANGE);  \
	} while (0)
	BAD(region, PROTO_REGION_NONE);
	BAD(region, PROTO_REGION_LAST + 1);
	BAD(band_low_permille, 0);
	BAD(band_high_permille, 250);
	BAD(overpressure_permille, 400);
	BAD(overpressure_band_percent, 100);
	BAD(hold_ms, 999);
	BAD(hold_ms, 3600001);
	BAD(reps, 0);
	BAD(reps, COACH_REPS_MAX + 1);
	BAD(rest_ms, 600001);
	BAD(effective_ms, 90001);
	BAD(grace_ms, 10001);
	BAD(step_ups, COACH_STEP_UPS_MAX + 1);
	BAD(ramp_dn_per_s, 0);
	p = good;
	p.step_ups = 1;
	p.step_up_percent = 0;
	assert_int_equal(coach_plan_check(&p), -ERANGE);
	p.step_up_percent = 51;
	assert_int_equal(coach_plan_check(&p), -ERANGE);
	p.step_up_percent = 50;
	assert_int_equal(coach_plan_check(&p), 0);
#undef BAD
}

static void test_config_defaults_and_init_errors(void **state)
{
	struct coach_config cfg;
	struct coach c;

	(void)state;
	assert_int_equal(coach_config_init(&cfg, PROTO_REGION_CALVES, 20000, 1000), 0);
	assert_int_equal(cfg.contact_dn, 100);
	assert_int_equal(cfg.tolerance_dn, 0);
	assert_false(cfg.find_tolerance);
	assert_int_equal(cfg.tolerance_ms, 3000);
	assert_int_equal(cfg.tolerance_low_percent, 85);
	assert_int_equal(cfg.tolerance_high_percent, 115);
	assert_int_equal(cfg.drop_cue_ms, 250);

	assert_int_equal(coach_config_init(NULL, PROTO_REGION_CALVES, 20000, 1000), -EINVAL);
	assert_int_equal(coach_config_init(&cfg, PROTO_REGION_NONE, 20000, 1000), -EINVAL);
	assert_int_equal(coach_config_init(&cfg, PROTO_REGION_CALVES, 0, 1000), -EINVAL);
	assert_int_equal(coach_config_init(&cfg, PROTO_REGION_CALVES, 20000, 0), -EINVAL);

	assert_int_equal(coach_config_init(&cfg, PROTO_REGION_CALVES, 20000, 1000), 0);
	assert_int_equal(coach_init(NULL, &cfg), -EINVAL);
	assert_int_equal(coach_init(&c, NULL), -EINVAL);
	cfg.plan.reps = 0;
	assert_int_equal(coach_init(&c, &cfg), -ERANGE);
	assert_int_equal(coach_config_init(&cfg, PROTO_REGION_CALVES, 20000, 1000), 0);
	cfg.contact_dn = 0;
	assert_int_equal(coach_init(&c, &cfg), -ERANGE);
	cfg.contact_dn = 100;
	cfg.tolerance_low_percent = 100;
	assert_int_equal(coach_init(&c, &cfg), -ERANGE);
	cfg.tolerance_low_percent = 85;
	cfg.tolerance_ms = 100;
	assert_int_equal(coach_init(&c, &cfg), -ERANGE);
	cfg.tolerance_ms = 3000;
	cfg.drop_cue_ms = 2001;
	assert_int_equal(coach_init(&c, &cfg), -ERANGE);
	cfg.drop_cue_ms = 250;
	assert_int_equal(coach_init(&c, &cfg), 0);
}

static void test_weight_and_band_in_newtons(void **state)
{
	struct trace *t = *state;
	const struct coach_state *s;

	assert_int_equal(coach_weight_dn(1000), 9807);  /* 100.0 kg = 980.7 N */
	assert_int_equal(coach_weight_dn(750), 7355);   /* 75.0 kg = 735.5 N */
	assert_int_equal(coach_weight_dn(1), 10);

	trace_setup(t, PROTO_REGION_CALVES);
	trace_start(t);
	s = trace_state(t);
	/* What the gauge shows before anyone gets on. */
	assert_int_equal(s->phase, COACH_PHASE_WAITING);
	assert_int_equal(s->band_low_dn, T_BAND_LOW);
	assert_int_equal(s->band_high_dn, T_BAND_HIGH);
	assert_int_equal(s->band_low_permille, 250);
	assert_int_equal(s->band_high_permille, 400);
	assert_int_equal(s->overpressure_dn, T_OVER);
	assert_int_equal(s->countdown_ms, 90000);
	assert_int_equal(s->hold_ms, 90000);
	assert_int_equal(s->rep, 1);
	assert_int_equal(s->reps, 3);
	assert_false(s->force_valid);

	trace_hold(t, 1, 3187, true);
	assert_int_equal(s->force_dn, 3187);
	assert_int_equal(s->force_permille, 325); /* 318.7 N of 980.7 N = 32.5 % */
}

static void test_device_hold_params_follow_the_band(void **state)
{
	struct trace *t = *state;
	struct proto_hold_params p;

	trace_setup(t, PROTO_REGION_CALVES);
	trace_start(t);
	assert_int_equal(coach_device_hold_params(&t->coach, &p), 0);
	assert_int_equal(p.band_low, T_BAND_LOW);
	assert_int_equal(p.band_high, T_BAND_HIGH);
	assert_int_equal(p.hold_s, 90);
	assert_int_equal(p.grace_ms, 2000);
	assert_int_equal(p.contact, 100);
	assert_true(p.contact < p.band_low && p.band_low < p.band_high);
	assert_int_equal(coach_device_hold_params(NULL, &p), -EINVAL);
	assert_int_equal(coach_device_hold_params(&t->coach, NULL), -EINVAL);
}

static void test_texts(void **state)
{
	uint8_t k, j;

	(void)state;
	/* No diagnosis, and the stop rules from therapy.md. */
	assert_non_null(strstr(coach_safety_text(), "does not diagnose"));
	assert_non_null(strstr(coach_safety_text(), "numbness"));
	assert_non_null(strstr(coach_safety_text(), "spine"));
	assert_non_null(strstr(coach_safety_text(), "neck"));
	assert_non_null(strstr(coach_referral_text(), "doctor"));
	assert_non_null(strstr(coach_referral_text(), "weeks"));
	assert_non_null(strstr(coach_referral_text(), "awake"));
	assert_non_null(strstr(coach_referral_text(), "cannot tell"));

	for (k = 1; k <= COACH_CUE_LAST; k++) {
		assert_string_not_equal(coach_cue_str(k), "?");
		assert_string_not_equal(coach_cue_text(k), "?");
		for (j = 1; j < k; j++)
			assert_string_not_equal(coach_cue_str(j), coach_cue_str(k));
	}
	assert_string_equal(coach_cue_str(0), "?");
	assert_string_equal(coach_cue_str(COACH_CUE_LAST + 1), "?");
	assert_string_equal(coach_cue_text(200), "?");
	assert_string_equal(coach_cue_str(COACH_CUE_HOLD_START), "hold-start");
	assert_string_equal(coach_phase_str(COACH_PHASE_PAUSED), "paused");
	assert_string_equal(coach_phase_str(7), "?");
	assert_string_equal(coach_hold_result_str(COACH_HOLD_EARLY_RELEASE), "early-release");
	assert_string_equal(coach_hold_result_str(0), "?");
	assert_string_equal(coach_hold_result_str(6), "?");
	assert_string_equal(coach_dip_cause_str(COACH_DIP_MOVING), "moving");
	assert_string_equal(coach_dip_cause_str(5), "?");
}

static int setup(void **state)
{
	static struct trace t;

	*state = &t;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_plans_follow_the_table),
		cmocka_unit_test(test_plan_check_rejects_out_of_range),
		cmocka_unit_test(test_config_defaults_and_init_errors),
		cmocka_unit_test_setup(test_weight_and_band_in_newtons, setup),
		cmocka_unit_test_setup(test_device_hold_params_follow_the_band, setup),
		cmocka_unit_test(test_texts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
