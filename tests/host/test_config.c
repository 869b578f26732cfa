/* config.ini: what a user who mistypes a value is told. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static char path[256];

static int setup(void **state)
{
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/config.XXXXXX.ini", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemps(path, 4);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return unlink(path);
}

static void write_config(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Loads and expects an error naming path:line and containing what. */
static void expect_error(const char *text, unsigned line, const char *what)
{
	struct config cfg;
	char err[512], where[300];

	write_config(text);
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), -EINVAL);
	snprintf(where, sizeof(where), "%s:%u: ", path, line);
	if (strncmp(err, where, strlen(where)) != 0 || !strstr(err, what))
		fail_msg("got \"%s\", expected \"%s...%s\"", err, where, what);
}

static void test_good_config(void **state)
{
	struct config cfg;
	struct coach_plan plan;
	char err[512];

	(void)state;
	write_config("; my settings\n"
		     "[user]\nbody_weight_kg = 72.5\n\n"
		     "[roller]\ndefault = C0:FF:EE:00:12:34\n\n"
		     "[plan.calves]\nhold_s = 60\nreps = 2\nrest_s = 15\n"
		     "band_low_pct = 20\nband_high_pct = 35.5\n");
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), 0);
	assert_true(cfg.found);
	assert_int_equal(cfg.body_weight_dkg, 725);
	assert_string_equal(cfg.default_roller, "C0:FF:EE:00:12:34");
	assert_int_equal(coach_plan_default(PROTO_REGION_CALVES, &plan), 0);
	assert_int_equal(config_apply_plan(&cfg, &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.hold_ms, 60000);
	assert_int_equal(plan.reps, 2);
	assert_int_equal(plan.rest_ms, 15000);
	assert_int_equal(plan.band_low_permille, 200);
	assert_int_equal(plan.band_high_permille, 355);
	assert_true(plan.effective_ms <= plan.hold_ms);
	/* Other regions keep their defaults. */
	{
		struct coach_plan neck;

		assert_int_equal(coach_plan_default(PROTO_REGION_NECK, &neck), 0);
		plan = neck;
		assert_int_equal(config_apply_plan(&cfg, &plan, err, sizeof(err)), 0);
		assert_memory_equal(&plan, &neck, sizeof(plan));
	}
}

static void test_missing_file_is_fine(void **state)
{
	struct config cfg;
	char err[512];

	(void)state;
	assert_int_equal(config_load(&cfg, "/nonexistent/roller/config.ini", err, sizeof(err)), 0);
	assert_false(cfg.found);
	assert_int_equal(cfg.body_weight_dkg, 0);
}

static void test_out_of_range_values_name_the_line(void **state)
{
	(void)state;
	expect_error("[user]\nbody_weight_kg = 500\n", 2, "out of range (20..250 kg)");
	expect_error("[user]\n\nbody_weight_kg = heavy\n", 3, "not a number");
	expect_error("[plan.calves]\nhold_s = 0\n", 2, "hold_s = 0 is out of range");
	expect_error("[plan.calves]\nreps = 3\nreps = 11\n", 3, "reps = 11 is out of range (1..10)");
	expect_error("[plan.neck]\nrest_s = 601\n", 2, "rest_s = 601");
	expect_error("[plan.calves]\nband_low_pct = 0.5\n", 2, "band_low_pct = 0.5 is out of range");
	expect_error("[plan.calves]\nband_low_pct = 40\nband_high_pct = 30\n", 3,
		     "must be below band_high_pct");
	expect_error("[roller]\ndefault = my-roller\n", 2, "not a Bluetooth address");
}

static void test_unknown_region_and_syntax(void **state)
{
	(void)state;
	expect_error("[user]\nbody_weight_kg = 70\n[plan.elbows]\nhold_s = 30\n", 4,
		     "unknown region in [plan.elbows]");
	expect_error("[user]\nbody_weight_kg = 70\nthis line is not ini\n", 3, "syntax error");
}

static void test_band_above_overpressure_names_the_line(void **state)
{
	struct config cfg;
	struct coach_plan plan;
	char err[512], where[300];

	(void)state;
	write_config("[plan.calves]\nhold_s = 60\nband_high_pct = 70\n");
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), 0);
	assert_int_equal(coach_plan_default(PROTO_REGION_CALVES, &plan), 0);
	assert_int_equal(config_apply_plan(&cfg, &plan, err, sizeof(err)), -ERANGE);
	snprintf(where, sizeof(where), "%s:3: ", path);
	assert_memory_equal(err, where, strlen(where));
	assert_non_null(strstr(err, "over-pressure"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_config, setup, teardown),
		cmocka_unit_test(test_missing_file_is_fine),
		cmocka_unit_test_setup_teardown(test_out_of_range_values_name_the_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_region_and_syntax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_band_above_overpressure_names_the_line, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
