/*
 * The simulated person: reproducible from its seed, walks through its plan,
 * and driven into the real core gives the holds the plan describes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fakes.h"
#include "roller/simperson.h"

static struct rig rig;
static struct simperson sim;

static void test_sim_reproducible(void **state)
{
	static struct simperson a, b, c;
	struct simperson_config cfg;
	int32_t ca[4], cb[4], cc[4], ga, gb, gc;
	bool differs = false;
	int i;

	(void)state;
	simperson_config_defaults(&cfg);
	assert_int_equal(simperson_init(&a, &cfg), 0);
	assert_int_equal(simperson_init(&b, &cfg), 0);
	cfg.seed = 2;
	assert_int_equal(simperson_init(&c, &cfg), 0);
	for (i = 0; i < 20000; i++) {
		assert_true(simperson_step(&a, ca, 4, &ga) >= 0);
		assert_true(simperson_step(&b, cb, 4, &gb) >= 0);
		assert_true(simperson_step(&c, cc, 4, &gc) >= 0);
		assert_memory_equal(ca, cb, sizeof(ca));
		assert_int_equal(ga, gb);
		if (memcmp(ca, cc, sizeof(ca)) != 0)
			differs = true;
	}
	assert_true(differs);
	/* a known value, so that a change of the generator is noticed */
	assert_int_equal(simperson_samples(&a), 20000);
	assert_int_equal(simperson_step(&a, ca, 3, &ga), -EINVAL);
	cfg.channels = 0;
	assert_int_equal(simperson_init(&a, &cfg), -EINVAL);
}

static void test_sim_walks_the_plan(void **state)
{
	struct simperson_config cfg;
	int32_t counts[4], gyro;
	int seen[SIMPERSON_DONE + 1] = { 0 };
	int i, phase, last = -1, transitions = 0, in_band = 0;

	(void)state;
	simperson_config_defaults(&cfg);
	cfg.plan.over_rep = 2;
	cfg.plan.drop_rep = 3;
	assert_int_equal(simperson_init(&sim, &cfg), 0);
	for (i = 0; i < 80 * 400 && simperson_phase(&sim) != SIMPERSON_DONE; i++) {
		phase = simperson_step(&sim, counts, 4, &gyro);
		assert_true(phase >= 0 && phase <= SIMPERSON_DONE);
		seen[phase]++;
		if (phase != last)
			transitions++;
		last = phase;
		if (phase == SIMPERSON_HOLDING) {
			/* 35..50 % of 75 kg: the force sits in the band (but for a
			 * few samples after a dip or an overshoot) */
			if (simperson_force_mn(&sim) >= 257000 && simperson_force_mn(&sim) <= 368000)
				in_band++;
			assert_true(gyro < 1000 && gyro > -1000);
		}
		if (phase == SIMPERSON_ROLLING)
			assert_true(gyro > 20000 || gyro < -20000);
	}
	assert_int_equal(simperson_phase(&sim), SIMPERSON_DONE);
	assert_int_equal(simperson_rep(&sim), 3);
	assert_true(in_band * 100 >= seen[SIMPERSON_HOLDING] * 99);
	for (phase = SIMPERSON_OFF; phase < SIMPERSON_DONE; phase++)
		assert_true(seen[phase] > 0);
	/* one dip per hold: 300 ms = 24 samples */
	assert_true(seen[SIMPERSON_DIP] == 3 * 24 || seen[SIMPERSON_DIP] == 2 * 24);
	assert_int_equal(seen[SIMPERSON_OVER], 160);
	assert_int_equal(seen[SIMPERSON_DROP], 240);
	assert_string_equal(simperson_phase_str(SIMPERSON_HOLDING), "holding");
	assert_string_equal(simperson_phase_str(99), "?");
	(void)transitions;
}

/* The person on the real core: the band set from body weight. */
static size_t run_on_core(struct simperson_config *cfg, bool release_after_s,
			  uint32_t release_s)
{
	struct rig_options o;
	struct proto_control_request q;
	int32_t counts[4], gyro;
	uint32_t i, hold_started_at = 0;
	bool holding = false;

	rig_options_default(&o);
	o.channels = cfg->channels;
	o.imu = cfg->imu;
	rig_setup(&rig, &o, false);
	/* the firmware defaults, not the rig's exact-force settings */
	core_config_defaults(&rig.cfg);
	rig_start(&rig);
	rig_connect(&rig, 247);
	memset(&q, 0, sizeof(q));
	q.opcode = PROTO_OP_SET_HOLD;
	q.u.set_hold.band_low = 2574;  /* 35 % of 75 kg, dN */
	q.u.set_hold.band_high = 3678; /* 50 % */
	q.u.set_hold.hold_s = cfg->plan.hold_s;
	q.u.set_hold.grace_ms = 1000;
	q.u.set_hold.contact = 100;
	assert_int_equal(rig_request(&rig, &q, NULL), PROTO_STATUS_OK);
	assert_int_equal(simperson_init(&sim, cfg), 0);
	fake_link_clear(&rig.link);
	for (i = 0; i < 80u * 600u && simperson_phase(&sim) != SIMPERSON_DONE; i++) {
		assert_true(simperson_step(&sim, counts, cfg->channels, &gyro) >= 0);
		rig_sample_counts(&rig, counts, gyro);
		if (core_hold_state(&rig.core) == PROTO_STATE_HOLDING && !holding) {
			holding = true;
			hold_started_at = i;
		} else if (core_hold_state(&rig.core) != PROTO_STATE_HOLDING) {
			holding = false;
		}
		if (release_after_s && holding && i - hold_started_at == release_s * 80u)
			simperson_release(&sim);
	}
	rig_samples(&rig, 200, 0, 0);
	return rig_events(&rig, PROTO_EVENT_HOLD_END, NULL, 0);
}

static void test_sim_on_core_gives_the_planned_holds(void **state)
{
	struct simperson_config cfg;
	struct proto_event e[8];
	size_t n, i;

	(void)state;
	simperson_config_defaults(&cfg);
	n = run_on_core(&cfg, false, 0);
	assert_int_equal(n, 3);
	rig_events(&rig, PROTO_EVENT_HOLD_END, e, 8);
	for (i = 0; i < n; i++) {
		assert_int_equal(e[i].u.hold_end.reason, PROTO_END_TARGET);
		assert_int_equal(e[i].u.hold_end.dips, 1); /* the 300 ms dip */
		assert_true(e[i].u.hold_end.duration >= 30 * 80);
		assert_true(e[i].u.hold_end.mean_force > 2900 && e[i].u.hold_end.mean_force < 3300);
	}

	/* a long drop in rep 2 ends that hold early; the person presses again */
	simperson_config_defaults(&cfg);
	cfg.plan.drop_rep = 2;
	n = run_on_core(&cfg, false, 0);
	assert_int_equal(n, 4);
	rig_events(&rig, PROTO_EVENT_HOLD_END, e, 8);
	assert_int_equal(e[1].u.hold_end.reason, PROTO_END_DROPPED);

	/* no IMU: stillness from the force variance still finds the holds */
	simperson_config_defaults(&cfg);
	cfg.imu = false;
	n = run_on_core(&cfg, false, 0);
	assert_int_equal(n, 3);
}

static void test_sim_release(void **state)
{
	struct simperson_config cfg;
	struct proto_event e[8];
	size_t n, i;

	(void)state;
	simperson_config_defaults(&cfg);
	cfg.plan.reps = 2;
	cfg.plan.hold_s = 20;
	cfg.plan.wait_for_release = true;
	cfg.plan.dips_per_hold = 0;
	n = run_on_core(&cfg, true, 25);
	assert_int_equal(n, 2);
	rig_events(&rig, PROTO_EVENT_HOLD_END, e, 8);
	for (i = 0; i < n; i++) {
		/* released 25 s into the device's hold: ends within a second or so */
		assert_true(e[i].u.hold_end.duration >= 25 * 80);
		assert_true(e[i].u.hold_end.duration <= 27 * 80);
		assert_int_equal(e[i].u.hold_end.reason, PROTO_END_TARGET);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sim_reproducible),
		cmocka_unit_test(test_sim_walks_the_plan),
		cmocka_unit_test(test_sim_on_core_gives_the_planned_holds),
		cmocka_unit_test(test_sim_release),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
