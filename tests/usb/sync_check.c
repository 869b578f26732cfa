/* Helpers of the sync tests (see sync_check.h). */
#define _GNU_SOURCE
#include "sync_check.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "roller/rlog.h"

void check_tempdir(char *out, size_t size, const char *what)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(out, size, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", what);
	assert_non_null(mkdtemp(out));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void check_rmtree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

struct named {
	char name[256];
	unsigned long first;
};

static int by_first(const void *a, const void *b)
{
	const struct named *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

int check_read_stored(const char *dir, struct check_stored *out)
{
	struct named names[CHECK_MAX_FILES];
	size_t nn = 0;
	struct dirent *de;
	DIR *d;

	memset(out, 0, sizeof(*out));
	out->records = calloc(CHECK_MAX_RECORDS, sizeof(*out->records));
	if (!out->records)
		return -ENOMEM;
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		const char *r;
		size_t len = strlen(de->d_name);

		if (len > 5 && strcmp(de->d_name + len - 5, ".part") == 0) {
			out->part_files++;
			continue;
		}
		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".rlog") != 0)
			continue;
		if (nn == CHECK_MAX_FILES)
			break;
		snprintf(names[nn].name, sizeof(names[nn].name), "%s", de->d_name);
		/* "<time>-<region>-<DEVICE_ID>r<first record>.rlog" */
		names[nn].name[len - 5] = '\0';
		r = strrchr(names[nn].name, 'r');
		names[nn].first = r ? strtoul(r + 1, NULL, 10) : 0;
		names[nn].name[len - 5] = '.';
		nn++;
	}
	closedir(d);
	qsort(names, nn, sizeof(names[0]), by_first);
	for (size_t i = 0; i < nn; i++) {
		struct rlog_reader rd;
		struct rlog_record rec;
		char path[4400];
		unsigned long from = 0, to = 0, gap_from, gap_to;
		uint32_t number = 0;
		int r;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i].name);
		r = rlog_reader_open(&rd, path);
		if (r < 0)
			return r;
		out->regions[i] = rd.header.region;
		snprintf(out->transport[i], sizeof(out->transport[i]), "%s", rd.header.transport);
		for (bool first = true; (r = rlog_reader_next(&rd, &rec)) == 1; first = false) {
			if (first)
				out->info_first[i] = rec.kind == RLOG_FRAME_IN && rec.len > 1 &&
						     rec.data[1] == PROTO_TYPE_INFO;
			if (rec.kind == RLOG_NOTE) {
				char note[RLOG_RECORD_MAX + 1];
				const char *p;

				memcpy(note, rec.data, rec.len);
				note[rec.len] = '\0';
				p = strstr(note, "log records ");
				if (p && strstr(note, "are missing on the roller") &&
				    sscanf(p, "log records %lu..%lu", &gap_from, &gap_to) == 2 &&
				    gap_from == number && gap_to >= gap_from)
					number = (uint32_t)gap_to + 1u; /* the file says which */
				else if (p && sscanf(p, "log records %lu..%lu", &from, &to) == 2)
					number = (uint32_t)from;
				if (strstr(note, "incomplete"))
					out->incomplete[i] = true;
				continue;
			}
			if (rec.kind != RLOG_FRAME_IN || (rec.len > 1 && rec.data[1] == PROTO_TYPE_INFO))
				continue;
			if (out->n == CHECK_MAX_RECORDS) {
				rlog_reader_close(&rd);
				return -E2BIG;
			}
			out->records[out->n].number = number++;
			out->records[out->n].len = rec.len;
			memcpy(out->records[out->n].data, rec.data, rec.len);
			out->n++;
		}
		if (number != to + 1 || r < 0 || rd.torn) {
			rlog_reader_close(&rd);
			return -EBADMSG;
		}
		rlog_reader_close(&rd);
		out->files++;
	}
	return 0;
}

void check_stored_free(struct check_stored *s)
{
	free(s->records);
	s->records = NULL;
}

void check_same_records(const struct check_stored *s, const struct fake_roller_record *truth,
			size_t truth_n, uint32_t from, uint32_t to)
{
	size_t k = 0;

	for (size_t i = 0; i < truth_n; i++) {
		if (truth[i].number < from || truth[i].number >= to)
			continue;
		if (k >= s->n)
			fail_msg("record %u is missing (%zu stored)", truth[i].number, s->n);
		if (s->records[k].number != truth[i].number)
			fail_msg("stored record %zu is number %u, expected %u", k, s->records[k].number,
				 truth[i].number);
		assert_int_equal(s->records[k].len, truth[i].len);
		assert_memory_equal(s->records[k].data, truth[i].data, truth[i].len);
		k++;
	}
	if (k != s->n)
		fail_msg("%zu records stored, %zu expected", s->n, k);
}

struct run {
	bool done;
	int err;
};

static void on_done(void *userdata, int err)
{
	struct run *run = userdata;

	run->done = true;
	run->err = err;
}

int check_run_sync(const struct sync_options *opt, struct sync_result *result, bool *stop_at)
{
	struct sync_options o = *opt;
	struct run run = { 0 };
	struct sync *s = NULL;
	sd_event *ev = NULL;
	int r;

	/* The thread's default loop, so that a test may add its own sources. */
	assert_true(sd_event_default(&ev) >= 0);
	o.done = on_done;
	o.userdata = &run;
	r = sync_create(&s, ev, &o);
	assert_int_equal(r, 0);
	while (!run.done && !(stop_at && *stop_at)) {
		r = sd_event_run(ev, 5000000u);
		assert_true(r >= 0);
	}
	sync_get_result(s, result);
	sync_destroy(s);
	sd_event_unref(ev);
	return run.done ? run.err : 1;
}
