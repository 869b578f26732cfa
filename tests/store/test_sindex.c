/* The session history index. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "roller/protocol.h"
#include "roller/sindex.h"

static char dir[256], dbpath[300];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/sindex.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/index.sqlite", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[700];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* 2026-11-02 (a Monday, ISO week 45) 10:00 UTC, plus days. */
#define MONDAY_W45_MS 1793613600000ll
#define DAY_MS 86400000ll

static struct sindex_row row(const char *name, uint8_t region, int64_t started, int32_t mean)
{
	struct sindex_row r;

	memset(&r, 0, sizeof(r));
	snprintf(r.path, sizeof(r.path), "/data/%s.rlog", name);
	snprintf(r.roller_id, sizeof(r.roller_id), "sim:1");
	r.region = region;
	r.started_unix_ms = started;
	r.duration_ms = 600000;
	r.holds = 3;
	r.holds_complete = 2;
	r.in_band_ms = 150000;
	r.peak_force_dn = 3100;
	r.mean_force_dn = mean;
	r.body_weight_dkg = 800;
	return r;
}

static int collect(void *ud, const struct sindex_row *r)
{
	char *out = ud;

	strcat(out, strrchr(r->path, '/') + 1);
	strcat(out, " ");
	return 0;
}

static void test_put_get_and_update_by_path(void **state)
{
	struct sindex *ix;
	struct sindex_row r = row("a", PROTO_REGION_CALVES, MONDAY_W45_MS, 2500), got;
	int64_t id, id2;
	struct stat st;

	(void)state;
	assert_int_equal(sindex_open(&ix, dbpath), 0);
	assert_int_equal(stat(dbpath, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(sindex_put(ix, &r, &id), 0);
	assert_true(id > 0);
	assert_int_equal(sindex_get(ix, id, &got), 0);
	assert_string_equal(got.path, "/data/a.rlog");
	assert_int_equal(got.region, PROTO_REGION_CALVES);
	assert_int_equal(got.mean_force_dn, 2500);
	assert_int_equal(got.in_band_ms, 150000);
	/* Re-indexing the same file updates its row instead of adding one. */
	r.holds_complete = 3;
	assert_int_equal(sindex_put(ix, &r, &id2), 0);
	assert_int_equal(id2, id);
	assert_int_equal(sindex_get(ix, id, &got), 0);
	assert_int_equal(got.holds_complete, 3);
	assert_int_equal(sindex_get(ix, id + 100, &got), -ENOENT);
	sindex_close(ix);
	/* Survives reopening. */
	assert_int_equal(sindex_open(&ix, dbpath), 0);
	assert_int_equal(sindex_find_path(ix, "/data/a.rlog", &got), 0);
	assert_int_equal(got.id, id);
	sindex_close(ix);
}

static void test_query_filters_by_region_and_date(void **state)
{
	struct sindex *ix;
	char out[256] = "";
	struct sindex_filter f = { .region = PROTO_REGION_CALVES };
	struct sindex_row r;

	(void)state;
	assert_int_equal(sindex_open(&ix, dbpath), 0);
	r = row("c2", PROTO_REGION_CALVES, MONDAY_W45_MS + 2 * DAY_MS, 2600);
	assert_int_equal(sindex_put(ix, &r, NULL), 0);
	r = row("c1", PROTO_REGION_CALVES, MONDAY_W45_MS, 2400);
	assert_int_equal(sindex_put(ix, &r, NULL), 0);
	r = row("n1", PROTO_REGION_NECK, MONDAY_W45_MS + DAY_MS, 500);
	assert_int_equal(sindex_put(ix, &r, NULL), 0);
	assert_int_equal(sindex_query(ix, NULL, collect, out), 0);
	assert_string_equal(out, "c1.rlog n1.rlog c2.rlog ");
	out[0] = 0;
	assert_int_equal(sindex_query(ix, &f, collect, out), 0);
	assert_string_equal(out, "c1.rlog c2.rlog ");
	out[0] = 0;
	f.since_unix_ms = MONDAY_W45_MS + DAY_MS;
	assert_int_equal(sindex_query(ix, &f, collect, out), 0);
	assert_string_equal(out, "c2.rlog ");
	sindex_close(ix);
}

static int collect_weeks(void *ud, const struct sindex_week *w)
{
	char *out = ud;
	char line[64];

	snprintf(line, sizeof(line), "%d-W%d %s %u %d|", w->year, w->week,
		 proto_region_str(w->region), w->sessions, w->mean_force_dn);
	strcat(out, line);
	return 0;
}

static void test_weekly_trend_groups_by_iso_week_and_region(void **state)
{
	struct sindex *ix;
	char out[512] = "";
	struct sindex_row r;

	(void)state;
	assert_int_equal(sindex_open(&ix, dbpath), 0);
	r = row("w45a", PROTO_REGION_CALVES, MONDAY_W45_MS, 2400);
	assert_int_equal(sindex_put(ix, &r, NULL), 0);
	r = row("w45b", PROTO_REGION_CALVES, MONDAY_W45_MS + 6 * DAY_MS, 2600); /* Sunday */
	assert_int_equal(sindex_put(ix, &r, NULL), 0);
	r = row("w46", PROTO_REGION_CALVES, MONDAY_W45_MS + 7 * DAY_MS, 3000);
	assert_int_equal(sindex_put(ix, &r, NULL), 0);
	r = row("n", PROTO_REGION_NECK, MONDAY_W45_MS + 8 * DAY_MS, 500);
	assert_int_equal(sindex_put(ix, &r, NULL), 0);
	assert_int_equal(sindex_weeks(ix, NULL, collect_weeks, out), 0);
	assert_string_equal(out, "2026-W45 calves 2 2500|2026-W46 calves 1 3000|2026-W46 neck 1 500|");
	sindex_close(ix);
}

static void test_remove_and_clear(void **state)
{
	struct sindex *ix;
	struct sindex_row r = row("x", 1, MONDAY_W45_MS, 1), got;
	int64_t id;
	char out[64] = "";

	(void)state;
	assert_int_equal(sindex_open(&ix, dbpath), 0);
	assert_int_equal(sindex_put(ix, &r, &id), 0);
	assert_int_equal(sindex_remove(ix, id), 0);
	assert_int_equal(sindex_remove(ix, id), -ENOENT);
	assert_int_equal(sindex_get(ix, id, &got), -ENOENT);
	assert_int_equal(sindex_put(ix, &r, &id), 0);
	assert_int_equal(sindex_clear(ix), 0);
	assert_int_equal(sindex_query(ix, NULL, collect, out), 0);
	assert_string_equal(out, "");
	sindex_close(ix);
}

static void test_foreign_file_is_refused_and_left_alone(void **state)
{
	struct sindex *ix;
	FILE *f;
	char buf[64] = { 0 };

	(void)state;
	f = fopen(dbpath, "w");
	assert_non_null(f);
	fputs("this is not a database, it is somebody's notes\n", f);
	fclose(f);
	assert_int_equal(sindex_open(&ix, dbpath), -EBADMSG);
	f = fopen(dbpath, "r");
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_memory_equal(buf, "this is not", 11);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_get_and_update_by_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_filters_by_region_and_date, setup, teardown),
		cmocka_unit_test_setup_teardown(test_weekly_trend_groups_by_iso_week_and_region, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_and_clear, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_file_is_refused_and_left_alone, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
