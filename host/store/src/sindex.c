/* The session history index on SQLite. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "roller/sindex.h"

struct sindex {
	sqlite3 *db;
	char errmsg[256];
};

/* Bump when the schema changes; an older index is rebuilt from the files. */
#define SCHEMA_VERSION 1

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS sessions ("
	" id INTEGER PRIMARY KEY,"
	" path TEXT NOT NULL UNIQUE,"
	" started_unix_ms INTEGER NOT NULL,"
	" roller_id TEXT NOT NULL,"
	" region INTEGER NOT NULL,"
	" duration_ms INTEGER NOT NULL,"
	" holds INTEGER NOT NULL,"
	" holds_complete INTEGER NOT NULL,"
	" in_band_ms INTEGER NOT NULL,"
	" peak_force_dn INTEGER NOT NULL,"
	" mean_force_dn INTEGER NOT NULL,"
	" body_weight_dkg INTEGER NOT NULL,"
	" samples_lost INTEGER NOT NULL,"
	" torn INTEGER NOT NULL,"
	" file_size INTEGER NOT NULL,"
	" file_mtime_ns INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS sessions_started ON sessions(started_unix_ms);";

static const char columns[] =
	"id, path, started_unix_ms, roller_id, region, duration_ms, holds, holds_complete,"
	" in_band_ms, peak_force_dn, mean_force_dn, body_weight_dkg, samples_lost, torn,"
	" file_size, file_mtime_ns";

static int fail(struct sindex *ix, int rc)
{
	snprintf(ix->errmsg, sizeof(ix->errmsg), "%s", sqlite3_errmsg(ix->db));
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_PERM:
	case SQLITE_AUTH:
	case SQLITE_CANTOPEN:
		return -EACCES;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return -EBADMSG;
	default:
		return -EIO;
	}
}

const char *sindex_errmsg(const struct sindex *ix)
{
	return ix && ix->errmsg[0] ? ix->errmsg : "no error";
}

static int exec(struct sindex *ix, const char *sql)
{
	int rc = sqlite3_exec(ix->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : fail(ix, rc);
}

static int user_version(struct sindex *ix, int *version)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(ix->db, "PRAGMA user_version", -1, &st, NULL);

	if (rc != SQLITE_OK)
		return fail(ix, rc);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : fail(ix, rc);
}

int sindex_open(struct sindex **out, const char *path)
{
	struct sindex *ix;
	char sql[64];
	int rc, err, version = 0, fd;

	if (!out || !path)
		return -EINVAL;
	*out = NULL;
	/* Create the file ourselves so that it is private from the start. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	ix = calloc(1, sizeof(*ix));
	if (!ix)
		return -ENOMEM;
	rc = sqlite3_open_v2(path, &ix->db, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK) {
		err = ix->db ? fail(ix, rc) : -ENOMEM;
		sqlite3_close(ix->db);
		free(ix);
		return err;
	}
	sqlite3_busy_timeout(ix->db, 2000);
	err = user_version(ix, &version);
	if (!err && version != SCHEMA_VERSION) {
		/* Only derived data lives here: an old schema is dropped and the
		 * caller reindexes (sessions appear as "not indexed"). */
		err = exec(ix, "DROP TABLE IF EXISTS sessions");
		if (!err)
			err = exec(ix, schema);
		snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", SCHEMA_VERSION);
		if (!err)
			err = exec(ix, sql);
	}
	if (err) {
		sqlite3_close(ix->db);
		free(ix);
		return err;
	}
	*out = ix;
	return 0;
}

void sindex_close(struct sindex *ix)
{
	if (!ix)
		return;
	sqlite3_close(ix->db);
	free(ix);
}

int sindex_begin(struct sindex *ix)
{
	return exec(ix, "BEGIN");
}

int sindex_commit(struct sindex *ix)
{
	return exec(ix, "COMMIT");
}

int sindex_put(struct sindex *ix, const struct sindex_row *row, int64_t *id)
{
	sqlite3_stmt *st;
	int rc;

	if (!ix || !row || !row->path[0])
		return -EINVAL;
	rc = sqlite3_prepare_v2(ix->db,
		"INSERT INTO sessions (path, started_unix_ms, roller_id, region, duration_ms,"
		" holds, holds_complete, in_band_ms, peak_force_dn, mean_force_dn,"
		" body_weight_dkg, samples_lost, torn, file_size, file_mtime_ns)"
		" VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)"
		" ON CONFLICT(path) DO UPDATE SET started_unix_ms=?2, roller_id=?3, region=?4,"
		" duration_ms=?5, holds=?6, holds_complete=?7, in_band_ms=?8, peak_force_dn=?9,"
		" mean_force_dn=?10, body_weight_dkg=?11, samples_lost=?12, torn=?13,"
		" file_size=?14, file_mtime_ns=?15",
		-1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail(ix, rc);
	sqlite3_bind_text(st, 1, row->path, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, row->started_unix_ms);
	sqlite3_bind_text(st, 3, row->roller_id, (int)strnlen(row->roller_id, sizeof(row->roller_id)),
			  SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 4, row->region);
	sqlite3_bind_int64(st, 5, row->duration_ms);
	sqlite3_bind_int(st, 6, row->holds);
	sqlite3_bind_int(st, 7, row->holds_complete);
	sqlite3_bind_int64(st, 8, row->in_band_ms);
	sqlite3_bind_int(st, 9, row->peak_force_dn);
	sqlite3_bind_int(st, 10, row->mean_force_dn);
	sqlite3_bind_int(st, 11, row->body_weight_dkg);
	sqlite3_bind_int64(st, 12, row->samples_lost);
	sqlite3_bind_int(st, 13, row->torn);
	sqlite3_bind_int64(st, 14, row->file_size);
	sqlite3_bind_int64(st, 15, row->file_mtime_ns);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail(ix, rc);
	if (id) {
		struct sindex_row tmp;
		int err = sindex_find_path(ix, row->path, &tmp);

		if (err)
			return err;
		*id = tmp.id;
	}
	return 0;
}

static void row_from(sqlite3_stmt *st, struct sindex_row *row)
{
	const unsigned char *t;

	memset(row, 0, sizeof(*row));
	row->id = sqlite3_column_int64(st, 0);
	t = sqlite3_column_text(st, 1);
	snprintf(row->path, sizeof(row->path), "%s", t ? (const char *)t : "");
	row->started_unix_ms = sqlite3_column_int64(st, 2);
	t = sqlite3_column_text(st, 3);
	snprintf(row->roller_id, sizeof(row->roller_id), "%s", t ? (const char *)t : "");
	row->region = (uint8_t)sqlite3_column_int(st, 4);
	row->duration_ms = (uint32_t)sqlite3_column_int64(st, 5);
	row->holds = (uint16_t)sqlite3_column_int(st, 6);
	row->holds_complete = (uint16_t)sqlite3_column_int(st, 7);
	row->in_band_ms = (uint32_t)sqlite3_column_int64(st, 8);
	row->peak_force_dn = sqlite3_column_int(st, 9);
	row->mean_force_dn = sqlite3_column_int(st, 10);
	row->body_weight_dkg = (uint16_t)sqlite3_column_int(st, 11);
	row->samples_lost = (uint32_t)sqlite3_column_int64(st, 12);
	row->torn = sqlite3_column_int(st, 13) != 0;
	row->file_size = sqlite3_column_int64(st, 14);
	row->file_mtime_ns = sqlite3_column_int64(st, 15);
}

static int get_one(struct sindex *ix, const char *where, int64_t id, const char *path,
		   struct sindex_row *row)
{
	char sql[512];
	sqlite3_stmt *st;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT %s FROM sessions WHERE %s", columns, where);
	rc = sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail(ix, rc);
	if (path)
		sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		row_from(st, row);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -ENOENT : fail(ix, rc);
}

int sindex_get(struct sindex *ix, int64_t id, struct sindex_row *row)
{
	if (!ix || !row)
		return -EINVAL;
	return get_one(ix, "id = ?1", id, NULL, row);
}

int sindex_find_path(struct sindex *ix, const char *path, struct sindex_row *row)
{
	if (!ix || !path || !row)
		return -EINVAL;
	return get_one(ix, "path = ?1", 0, path, row);
}

int sindex_remove(struct sindex *ix, int64_t id)
{
	sqlite3_stmt *st;
	int rc;

	if (!ix)
		return -EINVAL;
	rc = sqlite3_prepare_v2(ix->db, "DELETE FROM sessions WHERE id = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail(ix, rc);
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail(ix, rc);
	return sqlite3_changes(ix->db) ? 0 : -ENOENT;
}

int sindex_clear(struct sindex *ix)
{
	return ix ? exec(ix, "DELETE FROM sessions") : -EINVAL;
}

/* Binds the filter's three parameters (?1 region, ?2 since, ?3 until). */
static void bind_filter(sqlite3_stmt *st, const struct sindex_filter *f)
{
	sqlite3_bind_int(st, 1, f ? f->region : -1);
	sqlite3_bind_int64(st, 2, f ? f->since_unix_ms : 0);
	sqlite3_bind_int64(st, 3, f && f->until_unix_ms ? f->until_unix_ms : INT64_MAX);
}

#define FILTER_SQL \
	" WHERE (?1 < 0 OR region = ?1) AND started_unix_ms >= ?2 AND started_unix_ms < ?3"

int sindex_query(struct sindex *ix, const struct sindex_filter *f,
		 int (*cb)(void *userdata, const struct sindex_row *row), void *userdata)
{
	char sql[512];
	sqlite3_stmt *st;
	struct sindex_row row;
	int rc, err = 0;

	if (!ix || !cb)
		return -EINVAL;
	snprintf(sql, sizeof(sql), "SELECT %s FROM sessions" FILTER_SQL
		 " ORDER BY started_unix_ms, id", columns);
	rc = sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail(ix, rc);
	bind_filter(st, f);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_from(st, &row);
		err = cb(userdata, &row);
	}
	sqlite3_finalize(st);
	if (err)
		return err;
	return rc == SQLITE_DONE ? 0 : fail(ix, rc);
}

int sindex_weeks(struct sindex *ix, const struct sindex_filter *f,
		 int (*cb)(void *userdata, const struct sindex_week *w), void *userdata)
{
	sqlite3_stmt *st;
	struct sindex_week w;
	int rc, err = 0;

	if (!ix || !cb)
		return -EINVAL;
	/* ISO week: the Thursday of the session's week decides the year. */
	rc = sqlite3_prepare_v2(ix->db,
		"SELECT CAST(strftime('%Y', d, '-3 days', 'weekday 4') AS INTEGER),"
		" (CAST(strftime('%j', d, '-3 days', 'weekday 4') AS INTEGER) - 1) / 7 + 1,"
		" region, COUNT(*), SUM(holds_complete), CAST(AVG(mean_force_dn) AS INTEGER),"
		" SUM(in_band_ms)"
		" FROM (SELECT *, date(started_unix_ms / 1000, 'unixepoch') AS d FROM sessions"
		FILTER_SQL ")"
		" GROUP BY 1, 2, region ORDER BY 1, 2, region",
		-1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail(ix, rc);
	bind_filter(st, f);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		w.year = sqlite3_column_int(st, 0);
		w.week = sqlite3_column_int(st, 1);
		w.region = (uint8_t)sqlite3_column_int(st, 2);
		w.sessions = (unsigned)sqlite3_column_int(st, 3);
		w.holds_complete = (unsigned)sqlite3_column_int(st, 4);
		w.mean_force_dn = sqlite3_column_int(st, 5);
		w.in_band_ms = (uint32_t)sqlite3_column_int64(st, 6);
		err = cb(userdata, &w);
	}
	sqlite3_finalize(st);
	if (err)
		return err;
	return rc == SQLITE_DONE ? 0 : fail(ix, rc);
}
