/*
 * The session history index: one SQLite row per session log, so that
 * `roller sessions` and trends never re-read every file. It holds nothing
 * that the .rlog files do not: `roller sessions --reindex` rebuilds it.
 *
 * Errors: 0 or a negative errno; SQLite failures map to -EIO (or -EBUSY,
 * -ENOSPC, -EACCES, -EROFS, -ENOMEM where SQLite says so), and
 * sindex_errmsg() returns SQLite's own message for the last failure.
 */
#ifndef ROLLER_SINDEX_H
#define ROLLER_SINDEX_H

#include <stdbool.h>
#include <stdint.h>

struct sindex;

struct sindex_row {
	int64_t id;                 /* assigned by the index; 0 for a new row */
	char path[512];             /* the .rlog file, absolute */
	int64_t started_unix_ms;    /* from the log header */
	char roller_id[32];
	uint8_t region;             /* enum proto_region */
	uint32_t duration_ms;       /* time the samples cover */
	uint16_t holds;             /* coached holds, resets included */
	uint16_t holds_complete;
	uint32_t in_band_ms;
	int32_t peak_force_dn;
	int32_t mean_force_dn;
	uint16_t body_weight_dkg;
	uint32_t samples_lost;      /* gaps not filled */
	bool torn;                  /* the log ended in a torn record */
	int64_t file_size;          /* at indexing time: a changed file is re-indexed */
	int64_t file_mtime_ns;
};

struct sindex_filter {
	int region;                 /* -1 = all */
	int64_t since_unix_ms;      /* 0 = all */
	int64_t until_unix_ms;      /* 0 = all */
};

/* One line of a per-region trend: sessions in one ISO week. */
struct sindex_week {
	int year, week;             /* ISO 8601 week, UTC */
	uint8_t region;
	unsigned sessions;
	unsigned holds_complete;
	int32_t mean_force_dn;      /* mean of the sessions' means */
	uint32_t in_band_ms;        /* summed */
};

/*
 * Opens (creating it mode 0600 if missing, with its schema) the index at
 * path. The directory must exist. Returns 0, -EACCES, -EROFS, -ENOMEM,
 * -EBADMSG (not an index: a corrupt or foreign file), -EIO.
 */
int sindex_open(struct sindex **out, const char *path);
void sindex_close(struct sindex *ix);
const char *sindex_errmsg(const struct sindex *ix);

/* Inserts or replaces the row of row->path; *id (may be NULL) gets its id.
 * Returns 0, -EINVAL (empty path), -EIO, -ENOSPC. */
int sindex_put(struct sindex *ix, const struct sindex_row *row, int64_t *id);
/* Returns 0, -ENOENT. */
int sindex_get(struct sindex *ix, int64_t id, struct sindex_row *row);
/* The row of a file, if indexed. Returns 0, -ENOENT. */
int sindex_find_path(struct sindex *ix, const char *path, struct sindex_row *row);
/* Removes a row (not the file). Returns 0, -ENOENT. */
int sindex_remove(struct sindex *ix, int64_t id);
/* Removes every row (before a reindex). Returns 0 or -EIO. */
int sindex_clear(struct sindex *ix);

/*
 * Calls cb for each row matching f (NULL = all), oldest first. cb returns 0
 * to go on, or a negative errno to stop (returned). Returns 0 or -errno.
 */
int sindex_query(struct sindex *ix, const struct sindex_filter *f,
		 int (*cb)(void *userdata, const struct sindex_row *row), void *userdata);

/*
 * Calls cb for each (ISO week, region) with sessions matching f, oldest
 * first. Returns 0 or -errno.
 */
int sindex_weeks(struct sindex *ix, const struct sindex_filter *f,
		 int (*cb)(void *userdata, const struct sindex_week *w), void *userdata);

/* Transactions around many puts (reindex): 0 or -EIO. */
int sindex_begin(struct sindex *ix);
int sindex_commit(struct sindex *ix);

#endif
