/*
 * Session history: summaries from a headless replay, the index kept in step
 * with a directory of logs, exports that parse back, pictures that show the
 * band, hostile files that change nothing, and the referral rule at its
 * edges. Logs are synthetic (synth.c) so that gaps, cell faults and dips
 * are where the test says.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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
#include <cairo.h>
#include <json-c/json.h>

#include "roller/history.h"
#include "roller/protocol.h"
#include "roller/rlog.h"
#include "roller/sindex.h"

#include "synth.h"

static char tmpdir[256];
static char logs[300];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/historytest.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(logs, sizeof(logs), "%s/sessions", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[700];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", logs, name);
}

static void write_log(const char *name, const struct synth_options *o)
{
	assert_int_equal(synth_write(logs, name, o), 0);
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* ---- Summaries ---------------------------------------------------------------- */

static void test_summary_of_a_plain_session(void **state)
{
	struct synth_options o;
	struct sindex_row row;
	char path[400];
	uint32_t weight_dn = coach_weight_dn(750);

	(void)state;
	synth_defaults(&o);
	write_log("plain.rlog", &o);
	path_of(path, sizeof(path), "plain.rlog");
	assert_int_equal(history_summarize(path, &row), 0);
	assert_string_equal(row.path, path);
	assert_int_equal(row.started_unix_ms, (int64_t)o.created_unix_ms);
	assert_string_equal(row.roller_id, "synth");
	assert_int_equal(row.region, PROTO_REGION_CALVES);
	/* Every repetition held to the end: what the user did. */
	assert_int_equal(row.holds, 3);
	assert_int_equal(row.holds_complete, 3);
	assert_in_range(row.in_band_ms, 3 * 30000 - 100, 3 * 30000 + 100);
	/* 150 s recorded: the coach's time runs from the first to the last sample. */
	assert_in_range(row.duration_ms, 149000, 150000);
	assert_in_range(row.mean_force_dn, (int32_t)(weight_dn * 320 / 1000) - 2,
			(int32_t)(weight_dn * 320 / 1000) + 2);
	assert_true(row.peak_force_dn >= row.mean_force_dn);
	assert_int_equal(row.body_weight_dkg, 750);
	assert_int_equal(row.samples_lost, 0);
	assert_false(row.torn);
	assert_int_equal(row.file_size, file_size(path));
}

static void test_gaps_faults_and_dips_are_kept(void **state)
{
	struct synth_options o;
	struct history_session *s;
	char path[400];
	bool drop = false, gap_cue = false;
	size_t invalid = 0;

	(void)state;
	synth_defaults(&o);
	o.gap_at_s = 40;         /* in the middle of the first hold */
	o.gap_samples = 25;
	o.invalid_at_s = 60;     /* the rest after it */
	o.invalid_samples = 10;
	o.dip_ms = 1000;         /* a dip under the band in every hold */
	write_log("gaps.rlog", &o);
	path_of(path, sizeof(path), "gaps.rlog");
	assert_int_equal(history_load(path, HISTORY_LOAD_ALL, &s), 0);
	assert_true(s->coached);
	assert_int_equal(s->n_samples, 150 * 50 - 25);
	assert_int_equal(s->n_gaps, 1);
	assert_int_equal(s->gaps[0].first_index, 40 * 50);
	assert_int_equal(s->gaps[0].count, 25);
	assert_int_equal(s->gaps[0].t_ms, 40000);
	assert_int_equal(s->summary.samples_lost, 25);
	for (size_t i = 1; i < s->n_samples; i++)
		assert_true(s->samples[i].index > s->samples[i - 1].index);
	for (size_t i = 0; i < s->n_samples; i++)
		invalid += s->samples[i].force_dn == PROTO_FORCE_INVALID;
	assert_int_equal(invalid, 10);
	for (size_t i = 0; i < s->n_events; i++) {
		if (i)
			assert_true(s->events[i].t_ms >= s->events[i - 1].t_ms);
		if (s->events[i].source == HISTORY_EVENT_COACH && !strcmp(s->events[i].kind, "drop"))
			drop = true;
		if (s->events[i].source == HISTORY_EVENT_COACH &&
		    !strcmp(s->events[i].kind, "data-gap")) {
			gap_cue = true;
			assert_int_equal(s->events[i].value, 25);
		}
	}
	assert_true(drop);
	assert_true(gap_cue);
	history_free(s);
}

/* ---- Export ---------------------------------------------------------------------- */

static char *export_csv(const struct history_session *s, enum history_table table, size_t *lines)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(history_export_csv(f, s, table), 0);
	fclose(f);
	*lines = 0;
	for (size_t i = 0; i < len; i++)
		*lines += text[i] == '\n';
	return text;
}

static void test_exports_parse_back(void **state)
{
	struct synth_options o;
	struct history_session *s;
	struct json_object *doc, *v, *first;
	char path[400], *text = NULL;
	size_t lines, len = 0;
	bool null_force = false;
	FILE *f;

	(void)state;
	synth_defaults(&o);
	o.gap_at_s = 20;
	o.gap_samples = 7;
	o.invalid_at_s = 30;
	o.invalid_samples = 3;
	write_log("export.rlog", &o);
	path_of(path, sizeof(path), "export.rlog");
	assert_int_equal(history_load(path, HISTORY_LOAD_ALL, &s), 0);

	text = export_csv(s, HISTORY_TABLE_SAMPLES, &lines);
	assert_int_equal(lines, s->n_samples + 1);
	assert_memory_equal(text, "sample,t_s,force_n,percent_bw,still\n", 36);
	/* The first sample reads back as what the roller sent. */
	{
		unsigned index, still;
		double t, force, pct;

		assert_int_equal(sscanf(text + 36, "%u,%lf,%lf,%lf,%u", &index, &t, &force, &pct,
					&still), 5);
		assert_int_equal(index, s->samples[0].index);
		assert_true(force == s->samples[0].force_dn / 10.0);
	}
	free(text);
	text = export_csv(s, HISTORY_TABLE_HOLDS, &lines);
	assert_int_equal(lines, s->n_holds + 1);
	free(text);
	text = export_csv(s, HISTORY_TABLE_EVENTS, &lines);
	assert_int_equal(lines, s->n_events + 1);
	free(text);

	f = open_memstream(&text, &len);
	assert_int_equal(history_export_json(f, s), 0);
	fclose(f);
	doc = json_tokener_parse(text);
	assert_non_null(doc);
	assert_true(json_object_object_get_ex(doc, "samples", &v));
	assert_int_equal(json_object_array_length(v), s->n_samples);
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		struct json_object *x = json_object_array_get_idx(v, i), *force;

		if (json_object_object_get_ex(x, "force_n", &force) && force == NULL)
			null_force = true;
	}
	assert_true(null_force);
	first = json_object_array_get_idx(v, 0);
	assert_true(json_object_object_get_ex(first, "force_n", &v));
	assert_true(json_object_get_double(v) == s->samples[0].force_dn / 10.0);
	assert_true(json_object_object_get_ex(doc, "holds", &v));
	assert_int_equal(json_object_array_length(v), s->n_holds);
	assert_true(json_object_object_get_ex(doc, "events", &v));
	assert_int_equal(json_object_array_length(v), s->n_events);
	assert_true(json_object_object_get_ex(doc, "gaps", &v));
	assert_int_equal(json_object_array_length(v), 1);
	assert_true(json_object_object_get_ex(doc, "session", &v));
	assert_true(json_object_object_get_ex(v, "region", &v));
	assert_string_equal(json_object_get_string(v), "calves");
	json_object_put(doc);
	free(text);
	history_free(s);
}

/* ---- Plot ---------------------------------------------------------------------------- */

static size_t count_rgb(cairo_surface_t *img, int r, int g, int b, int tolerance)
{
	int w = cairo_image_surface_get_width(img), h = cairo_image_surface_get_height(img);
	int stride = cairo_image_surface_get_stride(img);
	const unsigned char *data;
	size_t n = 0;

	cairo_surface_flush(img);
	data = cairo_image_surface_get_data(img);
	for (int y = 0; y < h; y++) {
		const uint32_t *row = (const uint32_t *)(const void *)(data + y * stride);

		for (int x = 0; x < w; x++) {
			int pr = (int)(row[x] >> 16 & 0xff), pg = (int)(row[x] >> 8 & 0xff),
			    pb = (int)(row[x] & 0xff);

			n += abs(pr - r) <= tolerance && abs(pg - g) <= tolerance &&
			     abs(pb - b) <= tolerance;
		}
	}
	return n;
}

static void test_plot_png_and_svg(void **state)
{
	struct synth_options o;
	struct history_session *s;
	cairo_surface_t *img;
	char path[400], png[400], svg[400], *text;
	FILE *f;
	long size;

	(void)state;
	synth_defaults(&o);
	o.gap_at_s = 20;
	o.gap_samples = 50;
	o.dip_ms = 800;
	write_log("plot.rlog", &o);
	path_of(path, sizeof(path), "plot.rlog");
	assert_int_equal(history_load(path, HISTORY_LOAD_ALL, &s), 0);

	snprintf(png, sizeof(png), "%s/plot.png", tmpdir);
	assert_int_equal(history_plot(s, png, HISTORY_PLOT_PNG, 800, 400), 0);
	img = cairo_image_surface_create_from_png(png);
	assert_int_equal(cairo_surface_status(img), CAIRO_STATUS_SUCCESS);
	assert_int_equal(cairo_image_surface_get_width(img), 800);
	assert_int_equal(cairo_image_surface_get_height(img), 400);
	/* The band (#CCEBCC) covers a good part of the plot; the force line
	 * (#1F4F9C) is there; the drop markers (#D62629) too. */
	assert_true(count_rgb(img, 0xcc, 0xeb, 0xcc, 2) > 5000);
	assert_true(count_rgb(img, 0x1f, 0x4f, 0x9c, 8) > 300);
	assert_true(count_rgb(img, 0xd6, 0x26, 0x29, 8) > 10);
	cairo_surface_destroy(img);
	assert_int_equal(file_size(png) > 0, 1);
	{
		struct stat st;

		assert_int_equal(stat(png, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}

	snprintf(svg, sizeof(svg), "%s/plot.svg", tmpdir);
	assert_int_equal(history_plot(s, svg, HISTORY_PLOT_SVG, 1000, 500), 0);
	f = fopen(svg, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)size + 1);
	assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	assert_memory_equal(text, "<?xml", 5);
	assert_non_null(strstr(text, "<svg"));
	assert_non_null(strstr(text, "width=\"1000pt\" height=\"500pt\""));
	assert_non_null(strstr(text, "</svg>"));
	free(text);

	/* Refused sizes and unwritable places leave nothing behind. */
	snprintf(png, sizeof(png), "%s/small.png", tmpdir);
	assert_int_equal(history_plot(s, png, HISTORY_PLOT_PNG, 100, 100), -ERANGE);
	assert_int_equal(file_size(png), -1);
	snprintf(png, sizeof(png), "%s/no/such/dir.png", tmpdir);
	assert_int_equal(history_plot(s, png, HISTORY_PLOT_PNG, 800, 400), -ENOENT);
	history_free(s);
}

/* ---- The index --------------------------------------------------------------------------- */

struct rows {
	struct sindex_row items[32];
	size_t n;
};

static int collect(void *userdata, const struct sindex_row *row)
{
	struct rows *rows = userdata;

	if (rows->n < 32)
		rows->items[rows->n++] = *row;
	return 0;
}

static void all_rows(struct sindex *ix, struct rows *rows)
{
	rows->n = 0;
	assert_int_equal(sindex_query(ix, NULL, collect, rows), 0);
}

static int skipped_count;
static int skipped_err;

static void on_skipped(void *userdata, const char *path, int err)
{
	(void)userdata;
	(void)path;
	skipped_count++;
	skipped_err = err;
}

static void test_sync_follows_the_files(void **state)
{
	struct synth_options o;
	struct history_sync_result res;
	struct sindex *ix;
	struct rows before, after;
	char path[400], db[400];

	(void)state;
	synth_defaults(&o);
	for (int i = 0; i < 3; i++) {
		char name[32];

		snprintf(name, sizeof(name), "s%d.rlog", i);
		o.created_unix_ms += 86400000u;
		o.reps = (uint8_t)(1 + i);
		write_log(name, &o);
	}
	snprintf(db, sizeof(db), "%s/index/index.sqlite", tmpdir);
	assert_int_equal(history_index_open(db, false, &ix), 0);
	{
		struct stat st;

		assert_int_equal(stat(db, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	assert_int_equal(history_sync(ix, logs, false, NULL, NULL, &res), 0);
	assert_int_equal(res.indexed, 3);
	all_rows(ix, &before);
	assert_int_equal(before.n, 3);
	assert_int_equal(before.items[2].holds_complete, 3);

	/* Nothing changed: nothing is read again. */
	assert_int_equal(history_sync(ix, logs, false, NULL, NULL, &res), 0);
	assert_int_equal(res.indexed, 0);
	assert_int_equal(res.unchanged, 3);

	/* A rebuild gives the same rows, ids included. */
	assert_int_equal(history_sync(ix, logs, true, NULL, NULL, &res), 0);
	assert_int_equal(res.indexed, 3);
	all_rows(ix, &after);
	assert_int_equal(after.n, 3);
	assert_memory_equal(before.items, after.items, 3 * sizeof(before.items[0]));

	/* A changed file is read again (its id stays); a deleted one is dropped. */
	path_of(path, sizeof(path), "s0.rlog");
	assert_int_equal(unlink(path), 0);
	o.reps = 2;
	o.created_unix_ms = before.items[0].started_unix_ms;
	write_log("s0.rlog", &o);
	path_of(path, sizeof(path), "s1.rlog");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(history_sync(ix, logs, false, NULL, NULL, &res), 0);
	assert_int_equal(res.indexed, 1);
	assert_int_equal(res.dropped, 1);
	assert_int_equal(res.unchanged, 1);
	all_rows(ix, &after);
	assert_int_equal(after.n, 2);
	assert_int_equal(after.items[0].id, before.items[0].id);
	assert_int_equal(after.items[0].holds_complete, 2);
	sindex_close(ix);

	/* A damaged index is refused, then rebuilt on request. */
	{
		int fd = open(db, O_WRONLY | O_TRUNC);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, "this is not a database, really not at all", 41), 41);
		close(fd);
	}
	assert_int_equal(history_index_open(db, false, &ix), -EBADMSG);
	assert_int_equal(history_index_open(db, true, &ix), 0);
	all_rows(ix, &after);
	assert_int_equal(after.n, 0);
	sindex_close(ix);
}

/* Bytes of a file into memory (for damaging copies). */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void spit(const char *name, const void *buf, size_t len)
{
	char path[400];
	FILE *f;

	path_of(path, sizeof(path), name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
}

static void test_hostile_files_change_nothing(void **state)
{
	struct synth_options o;
	struct history_sync_result res;
	struct sindex *ix;
	struct sindex_row row;
	struct rows rows;
	struct rlog_writer w;
	struct rlog_header h;
	char path[400], db[400];
	uint8_t *good;
	size_t len;

	(void)state;
	synth_defaults(&o);
	write_log("good.rlog", &o);
	path_of(path, sizeof(path), "good.rlog");
	good = slurp(path, &len);

	spit("empty.rlog", "", 0);
	spit("text.rlog", "hello, I am not a session log\n", 30);
	spit("header-cut.rlog", good, 50);
	good[len / 2] ^= 0x40; /* one bit in the middle: damage, not a tear */
	spit("flipped.rlog", good, len);
	good[len / 2] ^= 0x40;
	spit("torn.rlog", good, len - 5);
	/* A log with no Info frame: nothing was ever coached. */
	memset(&h, 0, sizeof(h));
	h.created_unix_ms = o.created_unix_ms;
	h.region = PROTO_REGION_CALVES;
	h.body_weight_dkg = 750;
	h.sample_period_us = 20000;
	assert_int_equal(rlog_writer_create(&w, logs, "noinfo.rlog", &h), 0);
	assert_int_equal(rlog_writer_close(&w), 0);
	/* A header the coach refuses: no body weight. */
	o.body_weight_dkg = 0;
	write_log("noweight.rlog", &o);
	path_of(path, sizeof(path), "dir.rlog");
	assert_int_equal(mkdir(path, 0700), 0);

#define EXPECT(name, err)                                                     \
	do {                                                                  \
		path_of(path, sizeof(path), name);                            \
		assert_int_equal(history_summarize(path, &row), err);         \
	} while (0)
	EXPECT("empty.rlog", -EBADMSG);
	EXPECT("text.rlog", -EBADMSG);
	EXPECT("header-cut.rlog", -EBADMSG);
	EXPECT("flipped.rlog", -EILSEQ);
	EXPECT("noinfo.rlog", -ENODATA);
	EXPECT("noweight.rlog", -ERANGE);
	EXPECT("dir.rlog", -EISDIR);
	EXPECT("missing.rlog", -ENOENT);
#undef EXPECT
	/* A torn tail is not damage: the session is there, and says so. */
	path_of(path, sizeof(path), "torn.rlog");
	assert_int_equal(history_summarize(path, &row), 0);
	assert_true(row.torn);
	assert_int_equal(row.holds_complete, 3);
	assert_non_null(history_strerror(-ENODATA));

	snprintf(db, sizeof(db), "%s/index.sqlite", tmpdir);
	assert_int_equal(history_index_open(db, false, &ix), 0);
	skipped_count = 0;
	assert_int_equal(history_sync(ix, logs, false, on_skipped, NULL, &res), 0);
	assert_int_equal(res.indexed, 2); /* good and torn */
	assert_int_equal(res.skipped, 7);
	assert_int_equal(skipped_count, 7);
	all_rows(ix, &rows);
	assert_int_equal(rows.n, 2);
	/* The files are as they were. */
	path_of(path, sizeof(path), "flipped.rlog");
	assert_int_equal(file_size(path), (off_t)len);
	path_of(path, sizeof(path), "empty.rlog");
	assert_int_equal(file_size(path), 0);
	sindex_close(ix);
	free(good);
}

/* ---- Referral rule -------------------------------------------------------------------------- */

#define DAY_MS 86400000ll
/* 2026-01-05, a Monday (ISO week 2), 08:00 UTC. */
#define MONDAY_MS 1767600000000ll

static struct sindex_row rows_buf[32];

/* n sessions of region, one every `every` days, mean force from permille
 * of 75 kg rising by `rise` permille from the first to the last. */
static size_t make_rows(size_t n, uint8_t region, int every, int first_permille, int rise)
{
	uint32_t weight_dn = coach_weight_dn(750);

	memset(rows_buf, 0, sizeof(rows_buf));
	for (size_t i = 0; i < n; i++) {
		int permille = first_permille + (n > 1 ? rise * (int)i / (int)(n - 1) : 0);

		rows_buf[i].region = region;
		rows_buf[i].started_unix_ms = MONDAY_MS + (int64_t)i * every * DAY_MS;
		rows_buf[i].holds = 3;
		rows_buf[i].holds_complete = 3;
		rows_buf[i].body_weight_dkg = 750;
		rows_buf[i].mean_force_dn = (int32_t)(weight_dn * (uint32_t)permille / 1000u);
	}
	return n;
}

static void test_referral_rule(void **state)
{
	struct history_referral r;
	size_t n;

	(void)state;
	/* 8 sessions, every 2 days: 15 days, ISO weeks 2, 3 and 4; flat force. */
	n = make_rows(8, PROTO_REGION_CALVES, 2, 320, 0);
	assert_true(history_referral_check(rows_buf, n, PROTO_REGION_CALVES, &r));
	assert_int_equal(r.sessions, 8);
	assert_int_equal(r.weeks, 3);
	assert_in_range(r.early_permille, 319, 320); /* dN rounding */
	assert_int_equal(r.late_permille, r.early_permille);
	/* ... but it is about calves only. */
	assert_false(history_referral_check(rows_buf, n, PROTO_REGION_SHINS, &r));
	assert_int_equal(r.sessions, 0);

	/* 7 sessions: not yet "many". */
	n = make_rows(7, PROTO_REGION_CALVES, 2, 320, 0);
	assert_false(history_referral_check(rows_buf, n, PROTO_REGION_CALVES, &r));

	/* 8 sessions within two ISO weeks (Monday to the next Sunday). */
	n = make_rows(8, PROTO_REGION_CALVES, 1, 320, 0);
	for (size_t i = 0; i < n; i++)
		rows_buf[i].started_unix_ms = MONDAY_MS + (int64_t)i * 13 * DAY_MS / 10;
	assert_false(history_referral_check(rows_buf, n, PROTO_REGION_CALVES, &r));
	assert_int_equal(r.weeks, 2);

	/* Force going up: the spot eases. 5 % more in the latest three is
	 * improvement; a little less is not. */
	n = make_rows(8, PROTO_REGION_CALVES, 2, 300, 0);
	for (size_t i = 5; i < 8; i++)
		rows_buf[i].mean_force_dn = rows_buf[0].mean_force_dn * 105 / 100;
	assert_false(history_referral_check(rows_buf, n, PROTO_REGION_CALVES, &r));
	for (size_t i = 5; i < 8; i++)
		rows_buf[i].mean_force_dn = rows_buf[0].mean_force_dn * 104 / 100;
	assert_true(history_referral_check(rows_buf, n, PROTO_REGION_CALVES, &r));
	/* Falling force is no improvement either. */
	n = make_rows(8, PROTO_REGION_CALVES, 2, 320, -60);
	assert_true(history_referral_check(rows_buf, n, PROTO_REGION_CALVES, &r));

	/* Sessions without a hold do not count. */
	n = make_rows(8, PROTO_REGION_CALVES, 2, 320, 0);
	rows_buf[3].holds = 0;
	assert_false(history_referral_check(rows_buf, n, PROTO_REGION_CALVES, &r));
	assert_int_equal(r.sessions, 7);

	/* Only the 42 days up to the latest session count: old sessions of a
	 * spot that went quiet do not add up with a new start. */
	n = make_rows(8, PROTO_REGION_CALVES, 2, 320, 0);
	for (size_t i = 0; i < 4; i++)
		rows_buf[i].started_unix_ms -= 90 * DAY_MS;
	assert_false(history_referral_check(rows_buf, n, PROTO_REGION_CALVES, &r));
	assert_int_equal(r.sessions, 4);

	/* The text advises and says it is not a diagnosis. */
	n = make_rows(9, PROTO_REGION_CALVES, 3, 320, 0);
	assert_true(history_referral_check(rows_buf, n, PROTO_REGION_CALVES, &r));
	{
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);

		history_print_referral(f, &r);
		fclose(f);
		/* Read it as one paragraph, whatever the line breaks. */
		for (char *c = text, *o = text;; c++) {
			if (*c == '\n')
				*c = ' ';
			if (*c == ' ' && o > text && o[-1] == ' ')
				continue;
			*o++ = *c;
			if (!*c)
				break;
		}
		assert_non_null(strstr(text, "calves"));
		assert_non_null(strstr(text, "not a diagnosis"));
		assert_non_null(strstr(text, "doctor"));
		free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_summary_of_a_plain_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gaps_faults_and_dips_are_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exports_parse_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plot_png_and_svg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_follows_the_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_files_change_nothing, setup, teardown),
		cmocka_unit_test(test_referral_rule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
