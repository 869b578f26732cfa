/*
 * Helpers of the sync tests: temporary directories, running one sync on a
 * fresh loop, and reading back what a sync stored, to compare it byte for
 * byte with the roller's own log.
 */
#ifndef ROLLER_TEST_SYNC_CHECK_H
#define ROLLER_TEST_SYNC_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roller/sync.h"

#include "fake_roller.h"

#define CHECK_MAX_RECORDS 4096u
#define CHECK_MAX_FILES 64u

/* mkdtemp under $TMPDIR (the test's build dir under ctest). */
void check_tempdir(char *out, size_t size, const char *what);
/* rm -rf */
void check_rmtree(const char *dir);

struct check_stored {
	size_t files;
	size_t part_files;               /* hidden .part leftovers */
	struct fake_roller_record *records; /* CHECK_MAX_RECORDS, in file order */
	size_t n;
	uint8_t regions[CHECK_MAX_FILES];
	bool incomplete[CHECK_MAX_FILES];
	bool info_first[CHECK_MAX_FILES]; /* each file starts with the INFO frame */
	char transport[CHECK_MAX_FILES][16];
};

/* Reads every .rlog of dir, ordered by the first log record (from the file
 * name), and collects the log records they hold (frames except INFO; the
 * record number comes from the note and the order). Returns 0 or -errno. */
int check_read_stored(const char *dir, struct check_stored *out);
void check_stored_free(struct check_stored *s);

/* Asserts (cmocka) that stored == the roller's log records [from, to). */
void check_same_records(const struct check_stored *s, const struct fake_roller_record *truth,
			size_t truth_n, uint32_t from, uint32_t to);

/* Runs one sync to its end on the thread's default loop (sd_event_default). stop_at (may be NULL): the loop
 * ends early when *stop_at turns true (the sync is then destroyed
 * unfinished, as a killed process would leave it). Returns done()'s err, or
 * 1 when stopped early. */
int check_run_sync(const struct sync_options *opt, struct sync_result *result, bool *stop_at);

#endif
