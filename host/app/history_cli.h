/* host/app: helpers of the history commands (sessions, show, rm, trends,
 * export, plot) and of `coach`, which indexes the session it recorded. */
#ifndef ROLLER_APP_HISTORY_CLI_H
#define ROLLER_APP_HISTORY_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "roller/history.h"
#include "roller/sindex.h"

/* "YYYY-MM-DD" as UTC midnight. Returns 0 or -EINVAL. */
int app_parse_date(const char *text, int64_t *unix_ms);
/* strftime of a Unix time in ms, UTC; "?" when it cannot be shown. */
void app_format_date(char *buf, size_t size, int64_t unix_ms, const char *fmt);

/* Opens the history index (see history_index_open); prints why not.
 * Returns 0 or -errno. */
int app_history_open(const char *cmd, bool rebuild, struct sindex **ix);
/* history_sync() printing skipped logs and failures. -ENOENT (no such
 * directory) is returned without a message. */
int app_history_sync(const char *cmd, struct sindex *ix, const char *dir, bool reindex,
		     struct history_sync_result *result);

/* True for a session id: digits only. */
bool app_is_id(const char *text);
/* <id|file>: a session id of the history, or a log file. Fills path and
 * *id (0 for a file). Prints why not; returns 0 or -errno. */
int app_resolve_session(const char *cmd, const char *arg, char *path, size_t size, int64_t *id);
/* history_load() printing why not, and what the replay reported. */
int app_load_session(const char *cmd, const char *path, unsigned flags,
		     struct history_session **out);

struct app_referrals {
	FILE *out;
	int region; /* -1 = all */
	unsigned printed;
};
/* Prints the doctor-referral hint of every region (or one) where it is due.
 * Returns how many were printed, or -errno. */
int app_print_referrals(struct sindex *ix, int region, FILE *out);

struct json_object;
/* The referral hints that are due (one region, or all: -1) as a JSON array
 * of {region, sessions, weeks, early/late_mean_force_permille, text}.
 * Returns 0, -ENOMEM or the index's errors. */
int app_referrals_json(struct sindex *ix, int region, struct json_object **out);

/* After `roller coach`: puts the session in the history and prints its id
 * and, when due, the referral hint for its region. Failures are warnings. */
void app_history_after_coach(const char *log_path, FILE *out);

/* Trends per region and ISO week (roller trends, roller sessions --trends). */
int app_print_trends(struct sindex *ix, const struct sindex_filter *filter, bool json);

#endif
