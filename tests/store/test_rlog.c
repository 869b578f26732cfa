/* Session log files: what a user would notice is lost or kept. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "roller/protocol.h"
#include "roller/rlog.h"

static char tmpdir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/rlogtest.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[1024];

	(void)state;
	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s'; rm -rf '%s'", tmpdir, tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void fill_header(struct rlog_header *h)
{
	memset(h, 0, sizeof(*h));
	h->created_unix_ms = 1764331200123ull;
	snprintf(h->roller_id, sizeof(h->roller_id), "sim:42");
	snprintf(h->transport, sizeof(h->transport), "sim");
	h->fw_major = 1;
	h->proto_major = PROTO_VERSION;
	h->region = PROTO_REGION_CALVES;
	h->sample_period_us = 20000;
	h->body_weight_dkg = 725;
	h->plan_hold_s = 90;
	h->plan_rest_s = 20;
	h->plan_reps = 3;
	h->band_low_dn = 1800;
	h->band_high_dn = 2800;
	h->grace_ms = 3000;
}

/* Writes n records whose payload is i repeated (i % 7 + 1) times. */
static void write_log(const char *dir, const char *name, int n)
{
	struct rlog_writer w;
	struct rlog_header h;
	uint8_t data[8];
	int i;

	fill_header(&h);
	assert_int_equal(rlog_writer_create(&w, dir, name, &h), 0);
	for (i = 0; i < n; i++) {
		struct rlog_record r = {
			.kind = RLOG_FRAME_IN, .channel = RLOG_CH_MEASUREMENT,
			.mono_us = 1000u * (uint64_t)i, .wall_ms = 5000u + (uint64_t)i,
			.len = (uint16_t)(i % 7 + 1), .data = data,
		};
		memset(data, i, sizeof(data));
		assert_int_equal(rlog_writer_append(&w, &r), 0);
	}
	assert_int_equal(rlog_writer_close(&w), 0);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int count_records(struct rlog_reader *r)
{
	struct rlog_record rec;
	int n = 0, ret;

	while ((ret = rlog_reader_next(r, &rec)) == 1) {
		assert_int_equal(rec.len, n % 7 + 1);
		assert_int_equal(rec.data[0], (uint8_t)n);
		assert_int_equal(rec.mono_us, 1000u * (uint64_t)n);
		n++;
	}
	assert_int_equal(ret, 0);
	return n;
}

static void test_round_trip_keeps_every_record_and_the_header(void **state)
{
	char dir[300], path[400];
	struct rlog_reader r;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/sessions", tmpdir);
	write_log(dir, "a.rlog", 100);
	snprintf(path, sizeof(path), "%s/a.rlog", dir);
	assert_int_equal(rlog_reader_open(&r, path), 0);
	assert_string_equal(r.header.roller_id, "sim:42");
	assert_int_equal(r.header.region, PROTO_REGION_CALVES);
	assert_int_equal(r.header.body_weight_dkg, 725);
	assert_int_equal(r.header.band_high_dn, 2800);
	assert_int_equal(count_records(&r), 100);
	assert_false(r.torn);
	rlog_reader_close(&r);
}

static void test_files_are_private(void **state)
{
	char dir[300], path[400];
	struct stat st;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/deep/er/sessions", tmpdir);
	umask(022);
	write_log(dir, "p.rlog", 1);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/p.rlog", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_existing_file_is_not_overwritten(void **state)
{
	struct rlog_writer w;
	struct rlog_header h;

	(void)state;
	write_log(tmpdir, "x.rlog", 3);
	fill_header(&h);
	assert_int_equal(rlog_writer_create(&w, tmpdir, "x.rlog", &h), -EEXIST);
}

static void test_unwritable_directory_gives_error_and_no_file(void **state)
{
	char dir[300], path[400];
	struct rlog_writer w;
	struct rlog_header h;

	(void)state;
	if (geteuid() == 0)
		skip(); /* root writes anywhere; write errors: test_write_failure_keeps_the_file_readable */
	snprintf(dir, sizeof(dir), "%s/ro", tmpdir);
	assert_int_equal(mkdir(dir, 0500), 0);
	fill_header(&h);
	assert_int_equal(rlog_writer_create(&w, dir, "y.rlog", &h), -EACCES);
	snprintf(path, sizeof(path), "%s/y.rlog", dir);
	assert_int_not_equal(access(path, F_OK), 0);
}

static void test_write_failure_keeps_the_file_readable(void **state)
{
	struct rlog_writer w;
	struct rlog_header h;
	struct rlog_reader r;
	struct rlog_record rec;
	struct rlimit old, lim;
	uint8_t data[64] = { 0 };
	char path[400];
	int i, err = 0, written = 0;

	(void)state;
	/* A file size limit makes write() fail like a full disk does. */
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	fill_header(&h);
	assert_int_equal(rlog_writer_create(&w, tmpdir, "full.rlog", &h), 0);
	lim = old;
	lim.rlim_cur = 1000;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (i = 0; i < 100 && !err; i++) {
		rec = (struct rlog_record){ .kind = RLOG_FRAME_IN, .len = sizeof(data), .data = data };
		err = rlog_writer_append(&w, &rec);
		if (!err)
			written++;
	}
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(err, -EFBIG);
	/* The error is sticky and reported again at close. */
	assert_int_equal(rlog_writer_append(&w, &rec), -EFBIG);
	assert_int_equal(rlog_writer_close(&w), -EFBIG);
	snprintf(path, sizeof(path), "%s/full.rlog", tmpdir);
	assert_int_equal(rlog_reader_open(&r, path), 0);
	for (i = 0; rlog_reader_next(&r, &rec) == 1; i++)
		;
	assert_int_equal(i, written);
	assert_false(r.torn);
	rlog_reader_close(&r);
}

static void test_torn_tail_at_every_offset_loses_only_the_last_record(void **state)
{
	char path[400];
	size_t len, cut, boundary[21];
	uint8_t *buf;
	int i;

	(void)state;
	write_log(tmpdir, "t.rlog", 20);
	snprintf(path, sizeof(path), "%s/t.rlog", tmpdir);
	buf = slurp(path, &len);
	/* Header is 90 bytes, record i is 26 + (i % 7 + 1) bytes. */
	boundary[0] = 90;
	for (i = 0; i < 20; i++)
		boundary[i + 1] = boundary[i] + 26 + (size_t)(i % 7 + 1);
	assert_int_equal(boundary[20], len);
	for (cut = 90; cut <= len; cut++) {
		struct rlog_reader r;
		int complete = 0;

		while (complete < 20 && boundary[complete + 1] <= cut)
			complete++;
		assert_int_equal(rlog_reader_open_buffer(&r, buf, cut), 0);
		assert_int_equal(count_records(&r), complete);
		assert_int_equal(r.torn, cut != boundary[complete]);
		if (r.torn)
			assert_int_equal(r.torn_offset, boundary[complete]);
		rlog_reader_close(&r);
	}
	free(buf);
}

static void test_torn_tail_keeps_all_earlier_records(void **state)
{
	char path[400];
	size_t len;
	uint8_t *buf;
	struct rlog_reader r;

	(void)state;
	write_log(tmpdir, "u.rlog", 10);
	snprintf(path, sizeof(path), "%s/u.rlog", tmpdir);
	buf = slurp(path, &len);
	/* The last record has 10 % 7 = 3 -> len 3, size 29: cut into it. */
	assert_int_equal(rlog_reader_open_buffer(&r, buf, len - 5), 0);
	assert_int_equal(count_records(&r), 9);
	assert_true(r.torn);
	rlog_reader_close(&r);
	/* Zeros after the last record (a power cut on some file systems). */
	buf = realloc(buf, len + 64);
	memset(buf + len, 0, 64);
	assert_int_equal(rlog_reader_open_buffer(&r, buf, len + 64), 0);
	assert_int_equal(count_records(&r), 10);
	assert_true(r.torn);
	rlog_reader_close(&r);
	free(buf);
}

static void test_bit_flip_in_the_middle_is_an_error_not_data(void **state)
{
	char path[400];
	size_t len, off;
	uint8_t *buf;

	(void)state;
	write_log(tmpdir, "f.rlog", 10);
	snprintf(path, sizeof(path), "%s/f.rlog", tmpdir);
	buf = slurp(path, &len);
	for (off = 90; off < len - 40; off += 7) {
		struct rlog_reader r;
		struct rlog_record rec;
		int ret, n = 0;

		buf[off] ^= 0x10;
		assert_int_equal(rlog_reader_open_buffer(&r, buf, len), 0);
		while ((ret = rlog_reader_next(&r, &rec)) == 1)
			n++;
		/* The damaged record is never returned. */
		assert_true(ret == -EBADMSG || (ret == 0 && r.torn));
		assert_true(n < 10);
		rlog_reader_close(&r);
		buf[off] ^= 0x10;
	}
	free(buf);
}

static void test_not_a_log_and_damaged_header_are_refused(void **state)
{
	struct rlog_reader r;
	uint8_t junk[200];
	char path[400];
	size_t len, i;
	uint8_t *buf;

	(void)state;
	memset(junk, 'x', sizeof(junk));
	assert_int_equal(rlog_reader_open_buffer(&r, junk, sizeof(junk)), -EBADMSG);
	assert_int_equal(rlog_reader_open_buffer(&r, junk, 0), -EBADMSG);
	write_log(tmpdir, "h.rlog", 1);
	snprintf(path, sizeof(path), "%s/h.rlog", tmpdir);
	buf = slurp(path, &len);
	for (i = 0; i < 90; i++) {
		buf[i] ^= 0x01;
		assert_int_not_equal(rlog_reader_open_buffer(&r, buf, len), 0);
		buf[i] ^= 0x01;
	}
	for (i = 0; i < 90; i++)
		assert_int_not_equal(rlog_reader_open_buffer(&r, buf, i), 0);
	buf[4] = 9; /* a future format version */
	assert_int_equal(rlog_reader_open_buffer(&r, buf, len), -EPROTONOSUPPORT);
	free(buf);
	assert_int_equal(rlog_reader_open(&r, "/nonexistent/x.rlog"), -ENOENT);
	assert_int_equal(rlog_reader_open(&r, tmpdir), -EISDIR);
}

static void test_oversize_record_is_refused(void **state)
{
	struct rlog_writer w;
	struct rlog_header h;
	static uint8_t big[RLOG_RECORD_MAX + 1];
	struct rlog_record r = { .kind = RLOG_NOTE, .len = RLOG_RECORD_MAX + 1, .data = big };

	(void)state;
	fill_header(&h);
	assert_int_equal(rlog_writer_create(&w, tmpdir, "o.rlog", &h), 0);
	assert_int_equal(rlog_writer_append(&w, &r), -EINVAL);
	r.len = RLOG_RECORD_MAX;
	assert_int_equal(rlog_writer_append(&w, &r), 0);
	assert_int_equal(rlog_writer_close(&w), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip_keeps_every_record_and_the_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_files_are_private, setup, teardown),
		cmocka_unit_test_setup_teardown(test_existing_file_is_not_overwritten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwritable_directory_gives_error_and_no_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_failure_keeps_the_file_readable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_at_every_offset_loses_only_the_last_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_keeps_all_earlier_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bit_flip_in_the_middle_is_an_error_not_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_log_and_damaged_header_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_record_is_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
