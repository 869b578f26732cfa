/* The index kept in step with the session logs, and the referral rule. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "roller/history.h"
#include "roller/protocol.h"

int history_index_path(char *out, size_t size)
{
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	int n;

	if (xdg && xdg[0] == '/')
		n = snprintf(out, size, "%s/roller/index.sqlite", xdg);
	else if (home && home[0])
		n = snprintf(out, size, "%s/.local/share/roller/index.sqlite", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* mkdir -p for the directory part of path; the last level gets 0700. */
static int make_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	if (strlen(path) >= sizeof(dir))
		return -ENAMETOOLONG;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int history_index_open(const char *path, bool rebuild, struct sindex **out)
{
	char extra[PATH_MAX + 16];
	int r;

	if (!path || !out)
		return -EINVAL;
	r = make_parent(path);
	if (r < 0)
		return r;
	r = sindex_open(out, path);
	if (r == -EBADMSG && rebuild) {
		/* Only derived data lives there: start again from the files. */
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
		snprintf(extra, sizeof(extra), "%s-journal", path);
		unlink(extra);
		snprintf(extra, sizeof(extra), "%s-wal", path);
		unlink(extra);
		r = sindex_open(out, path);
	}
	return r;
}

int history_index_file(struct sindex *ix, const char *path, int64_t *id)
{
	char abs[PATH_MAX];
	struct sindex_row row;
	int r;

	if (!ix || !path)
		return -EINVAL;
	if (!realpath(path, abs))
		return -errno;
	r = history_summarize(abs, &row);
	if (r < 0)
		return r;
	return sindex_put(ix, &row, id);
}

/* ---- Sync ---------------------------------------------------------------------- */

struct known {
	int64_t id;
	int64_t size, mtime_ns;
	char *path;
	bool seen; /* its file is in the directory */
};

struct known_list {
	struct known *items;
	size_t n, cap;
};

static int collect_known(void *userdata, const struct sindex_row *row)
{
	struct known_list *list = userdata;
	struct known *k;

	if (list->n == list->cap) {
		size_t cap = list->cap ? list->cap * 2u : 64u;
		struct known *p = reallocarray(list->items, cap, sizeof(*p));

		if (!p)
			return -ENOMEM;
		list->items = p;
		list->cap = cap;
	}
	k = &list->items[list->n];
	k->path = strdup(row->path);
	if (!k->path)
		return -ENOMEM;
	k->id = row->id;
	k->seen = false;
	k->size = row->file_size;
	k->mtime_ns = row->file_mtime_ns;
	list->n++;
	return 0;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct known *)a)->path, ((const struct known *)b)->path);
}

static int by_start(const void *a, const void *b)
{
	const struct sindex_row *x = a, *y = b;

	if (x->started_unix_ms != y->started_unix_ms)
		return x->started_unix_ms < y->started_unix_ms ? -1 : 1;
	return strcmp(x->path, y->path);
}

static void free_known(struct known_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		free(list->items[i].path);
	free(list->items);
}

static int only_logs(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && d->d_name[0] != '.' && strcmp(d->d_name + n - 5, ".rlog") == 0;
}

int history_sync(struct sindex *ix, const char *dir, bool reindex,
		 void (*skipped)(void *userdata, const char *path, int err), void *userdata,
		 struct history_sync_result *result)
{
	char abs[PATH_MAX], path[PATH_MAX];
	struct known_list known = { 0 };
	struct sindex_row *fresh = NULL;
	struct dirent **names = NULL;
	int64_t *gone = NULL;
	size_t n_fresh = 0, n_gone = 0;
	int n = 0, r, err = 0;

	if (!ix || !dir || !result)
		return -EINVAL;
	memset(result, 0, sizeof(*result));
	if (!realpath(dir, abs))
		return -errno;
	n = scandir(abs, &names, only_logs, NULL); /* fresh rows are sorted by date below */
	if (n < 0)
		return -errno;
	r = sindex_query(ix, NULL, collect_known, &known);
	if (r < 0)
		goto out;
	if (known.n)
		qsort(known.items, known.n, sizeof(*known.items), by_path);
	fresh = calloc((size_t)n + 1u, sizeof(*fresh));
	if (!fresh) {
		r = -ENOMEM;
		goto out;
	}

	/* Read every log that needs it first, so that the index is locked for
	 * writing only as long as the rows take to write. */
	for (int i = 0; i < n; i++) {
		struct known key = { .path = path }, *k;
		struct stat st;
		int64_t mtime_ns;

		if (snprintf(path, sizeof(path), "%s/%s", abs, names[i]->d_name) >=
		    (int)sizeof(path)) {
			result->skipped++;
			if (skipped)
				skipped(userdata, names[i]->d_name, -ENAMETOOLONG);
			continue;
		}
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			int why = -EISDIR;

			if (stat(path, &st) < 0)
				why = -errno;
			else if (!S_ISDIR(st.st_mode))
				why = -ESPIPE; /* a pipe, socket or device */
			result->skipped++;
			if (skipped)
				skipped(userdata, path, why);
			continue;
		}
		mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		k = reindex || !known.n ? NULL
					: bsearch(&key, known.items, known.n, sizeof(*known.items),
						  by_path);
		if (k)
			k->seen = true;
		if (k && k->size == (int64_t)st.st_size && k->mtime_ns == mtime_ns) {
			result->unchanged++;
			continue;
		}
		err = history_summarize(path, &fresh[n_fresh]);
		if (err < 0) {
			result->skipped++;
			if (skipped)
				skipped(userdata, path, err);
			continue;
		}
		n_fresh++;
	}

	/* New rows get their ids in the order the sessions happened, so that a
	 * rebuild numbers them as recording them did. */
	if (n_fresh)
		qsort(fresh, n_fresh, sizeof(*fresh), by_start);
	/* Rows of files that are gone: those of this directory that were not
	 * listed, and those elsewhere whose file stat() no longer finds. */
	gone = calloc(known.n + 1u, sizeof(*gone));
	if (!gone) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < known.n && !reindex; i++) {
		struct stat st;

		if (known.items[i].seen)
			continue;
		if (stat(known.items[i].path, &st) == 0 || (errno != ENOENT && errno != ENOTDIR))
			continue;
		gone[n_gone++] = known.items[i].id;
	}
	if (!reindex && !n_gone && !n_fresh)
		goto out; /* up to date: no write, no lock */
	r = sindex_begin(ix);
	if (r < 0)
		goto out;
	if (reindex) {
		r = sindex_clear(ix);
		result->dropped = (unsigned)known.n;
	}
	for (size_t i = 0; i < n_gone && r == 0; i++) {
		r = sindex_remove(ix, gone[i]);
		if (r == 0)
			result->dropped++;
		else if (r == -ENOENT)
			r = 0;
	}
	for (size_t i = 0; i < n_fresh && r == 0; i++) {
		r = sindex_put(ix, &fresh[i], NULL);
		if (r == 0)
			result->indexed++;
	}
	/* Whatever was written stays: the index is derived data, and the next
	 * run picks up what is missing. */
	err = sindex_commit(ix);
	if (r == 0)
		r = err;
out:
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(fresh);
	free(gone);
	free_known(&known);
	return r;
}

/* ---- Referral -------------------------------------------------------------------- */

struct dated {
	int64_t unix_ms;
	uint16_t permille;
	int week_key; /* ISO year * 100 + week */
};

static int by_date(const void *a, const void *b)
{
	const struct dated *x = a, *y = b;

	return x->unix_ms < y->unix_ms ? -1 : x->unix_ms > y->unix_ms;
}

static int iso_week_key(int64_t unix_ms)
{
	time_t secs = (time_t)(unix_ms / 1000);
	struct tm tm;
	char buf[16];

	if (!gmtime_r(&secs, &tm) || !strftime(buf, sizeof(buf), "%G%V", &tm))
		return 0;
	return atoi(buf);
}

bool history_referral_check(const struct sindex_row *rows, size_t n, uint8_t region,
			    struct history_referral *out)
{
	const int64_t window_ms = (int64_t)HISTORY_REFERRAL_WINDOW_DAYS * 24 * 3600 * 1000;
	struct dated *d;
	size_t m = 0, first = 0, count;
	uint64_t early = 0, late = 0;
	unsigned weeks = 0;

	memset(out, 0, sizeof(*out));
	out->region = region;
	d = calloc(n ? n : 1u, sizeof(*d));
	if (!d)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint32_t weight_dn = coach_weight_dn(rows[i].body_weight_dkg);
		int64_t permille;

		/* Sessions without a single hold say nothing about the spot. */
		if (rows[i].region != region || rows[i].holds == 0 || !weight_dn)
			continue;
		permille = (int64_t)rows[i].mean_force_dn * 1000 / weight_dn;
		d[m].unix_ms = rows[i].started_unix_ms;
		d[m].permille = (uint16_t)(permille < 0 ? 0 : permille > UINT16_MAX ? UINT16_MAX
										 : permille);
		d[m].week_key = iso_week_key(rows[i].started_unix_ms);
		m++;
	}
	if (!m) {
		free(d);
		return false;
	}
	qsort(d, m, sizeof(*d), by_date);
	/* The window ends at the newest session of the region. */
	while (d[m - 1].unix_ms - d[first].unix_ms > window_ms)
		first++;
	count = m - first;
	for (size_t i = first; i < m; i++) {
		bool seen = false;

		for (size_t j = first; j < i && !seen; j++)
			seen = d[j].week_key == d[i].week_key;
		weeks += !seen;
	}
	out->sessions = (unsigned)count;
	out->weeks = weeks;
	out->first_unix_ms = d[first].unix_ms;
	out->last_unix_ms = d[m - 1].unix_ms;
	if (count >= HISTORY_REFERRAL_COMPARE) {
		for (size_t i = 0; i < HISTORY_REFERRAL_COMPARE; i++) {
			early += d[first + i].permille;
			late += d[m - 1 - i].permille;
		}
		out->early_permille = (uint16_t)(early / HISTORY_REFERRAL_COMPARE);
		out->late_permille = (uint16_t)(late / HISTORY_REFERRAL_COMPARE);
		/* "Not improved": less than IMPROVEMENT_PERCENT % higher (sums
		 * compared, so no rounding decides it). */
		out->due = count >= HISTORY_REFERRAL_MIN_SESSIONS &&
			   weeks >= HISTORY_REFERRAL_MIN_WEEKS &&
			   late * 100u < early * (100u + HISTORY_REFERRAL_IMPROVEMENT_PERCENT);
	}
	free(d);
	return out->due;
}

struct all_rows {
	struct sindex_row *rows;
	size_t n, cap;
};

static int collect_rows(void *userdata, const struct sindex_row *row)
{
	struct all_rows *all = userdata;

	if (all->n == all->cap) {
		size_t cap = all->cap ? all->cap * 2u : 64u;
		struct sindex_row *p = reallocarray(all->rows, cap, sizeof(*p));

		if (!p)
			return -ENOMEM;
		all->rows = p;
		all->cap = cap;
	}
	all->rows[all->n++] = *row;
	return 0;
}

int history_referrals(struct sindex *ix,
		      void (*cb)(void *userdata, const struct history_referral *r), void *userdata)
{
	struct all_rows all = { 0 };
	bool present[PROTO_REGION_LAST + 1] = { false };
	int r;

	if (!ix || !cb)
		return -EINVAL;
	r = sindex_query(ix, NULL, collect_rows, &all);
	if (r == 0) {
		for (size_t i = 0; i < all.n; i++)
			if (all.rows[i].region <= PROTO_REGION_LAST)
				present[all.rows[i].region] = true;
		for (uint8_t region = 1; region <= PROTO_REGION_LAST; region++) {
			struct history_referral ref;

			if (!present[region])
				continue;
			history_referral_check(all.rows, all.n, region, &ref);
			cb(userdata, &ref);
		}
	}
	free(all.rows);
	return r;
}

static void print_wrapped(FILE *f, const char *text, unsigned width, const char *indent)
{
	const char *p = text;

	while (*p) {
		size_t len = strlen(p), cut = len;

		if (len > width) {
			cut = width;
			while (cut > 0 && p[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = width;
		}
		fprintf(f, "%s%.*s\n", indent, (int)cut, p);
		p += cut;
		while (*p == ' ')
			p++;
	}
}

void history_print_referral(FILE *f, const struct history_referral *r)
{
	char from[16] = "?", to[16] = "?", facts[400];
	time_t secs;
	struct tm tm;

	if (!r->due)
		return;
	secs = (time_t)(r->first_unix_ms / 1000);
	if (gmtime_r(&secs, &tm))
		strftime(from, sizeof(from), "%Y-%m-%d", &tm);
	secs = (time_t)(r->last_unix_ms / 1000);
	if (gmtime_r(&secs, &tm))
		strftime(to, sizeof(to), "%Y-%m-%d", &tm);
	snprintf(facts, sizeof(facts),
		 "Consider seeing a doctor about your %s: %u sessions over %u weeks (%s to %s), "
		 "and the pressure you hold has not gone up (%.1f %% of body weight in the first "
		 "sessions, %.1f %% in the latest). That can mean the spot is still as sore as it "
		 "was. This is a hint from your history, not a diagnosis.",
		 proto_region_str(r->region), r->sessions, r->weeks, from, to,
		 r->early_permille / 10.0, r->late_permille / 10.0);
	print_wrapped(f, facts, 78, "");
	print_wrapped(f, coach_referral_text(), 76, "  ");
}
