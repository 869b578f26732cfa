/* What the history commands share: the index, session ids, dates, hints. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <json-c/json.h>

#include "app.h"
#include "history_cli.h"

int app_parse_date(const char *text, int64_t *unix_ms)
{
	struct tm tm;
	char *end;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	end = strptime(text, "%Y-%m-%d", &tm);
	if (!end || *end || strlen(text) != 10)
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*unix_ms = (int64_t)t * 1000;
	return 0;
}

void app_format_date(char *buf, size_t size, int64_t unix_ms, const char *fmt)
{
	time_t secs = (time_t)(unix_ms / 1000);
	struct tm tm;

	if (!gmtime_r(&secs, &tm) || !strftime(buf, size, fmt, &tm))
		snprintf(buf, size, "?");
}

static void on_skipped(void *userdata, const char *path, int err)
{
	const char *cmd = userdata;

	fprintf(stderr, "roller %s: not in the history: %s: %s%s\n", cmd, path,
		history_strerror(err),
		err == -EILSEQ ? " (`roller log dump` shows where)" : "");
}

int app_history_open(const char *cmd, bool rebuild, struct sindex **ix)
{
	char path[4096];
	int r;

	*ix = NULL;
	r = history_index_path(path, sizeof(path));
	if (r < 0) {
		app_error(cmd, "cannot tell where the history is kept: set HOME or XDG_DATA_HOME");
		return r;
	}
	r = history_index_open(path, rebuild, ix);
	if (r == -EBADMSG)
		app_error(cmd, "%s: the history index is damaged (hint: `roller sessions "
			       "--reindex` rebuilds it from the session logs)", path);
	else if (r < 0)
		app_error(cmd, "%s: cannot open the history index: %s", path, strerror(-r));
	return r;
}

int app_history_sync(const char *cmd, struct sindex *ix, const char *dir, bool reindex,
		     struct history_sync_result *result)
{
	int r = history_sync(ix, dir, reindex, on_skipped, (void *)cmd, result);

	if (r < 0 && r != -ENOENT)
		app_error(cmd, "%s: cannot bring the history up to date: %s%s%s", dir,
			  strerror(-r), r == -EIO || r == -EBUSY ? ": " : "",
			  r == -EIO || r == -EBUSY ? sindex_errmsg(ix) : "");
	return r;
}

bool app_is_id(const char *text)
{
	if (!*text || strlen(text) > 18)
		return false;
	for (const char *p = text; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

int app_resolve_session(const char *cmd, const char *arg, char *path, size_t size, int64_t *id)
{
	struct sindex *ix;
	struct sindex_row row;
	struct stat st;
	int r;

	*id = 0;
	/* A file of that name wins over an id ("3" in the current directory). */
	if (!app_is_id(arg) || stat(arg, &st) == 0) {
		if ((size_t)snprintf(path, size, "%s", arg) >= size) {
			app_error(cmd, "%s: the path is too long", arg);
			return -ENAMETOOLONG;
		}
		return 0;
	}
	r = app_history_open(cmd, false, &ix);
	if (r < 0)
		return r;
	r = sindex_get(ix, strtoll(arg, NULL, 10), &row);
	if (r == -ENOENT)
		app_error(cmd, "no session %s in the history (see `roller sessions`)", arg);
	else if (r < 0)
		app_error(cmd, "cannot read the history: %s", sindex_errmsg(ix));
	sindex_close(ix);
	if (r < 0)
		return r;
	*id = row.id;
	snprintf(path, size, "%s", row.path);
	return 0;
}

int app_load_session(const char *cmd, const char *path, unsigned flags,
		     struct history_session **out)
{
	int r = history_load(path, flags, out);

	if (r < 0) {
		app_error(cmd, "%s: %s%s", path, history_strerror(r),
			  r == -EILSEQ ? " (`roller log dump` shows where)" : "");
		return r;
	}
	/* What the replay said (a torn tail, frames that do not decode). */
	if ((*out)->notices[0])
		fputs((*out)->notices, stderr);
	return 0;
}

static void print_due(void *userdata, const struct history_referral *r)
{
	struct app_referrals *ctx = userdata;

	if (!r->due || (ctx->region >= 0 && r->region != ctx->region))
		return;
	ctx->printed++;
	fputc('\n', ctx->out);
	history_print_referral(ctx->out, r);
}

int app_print_referrals(struct sindex *ix, int region, FILE *out)
{
	struct app_referrals ctx = { .out = out, .region = region, .printed = 0 };
	int r = history_referrals(ix, print_due, &ctx);

	return r < 0 ? r : (int)ctx.printed;
}

void app_history_after_coach(const char *log_path, FILE *out)
{
	struct history_sync_result sync;
	struct sindex *ix;
	struct sindex_row row;
	char dir[4096];
	int64_t id = 0;
	int r;

	if (!log_path || !log_path[0])
		return;
	if (app_history_open("coach", false, &ix) < 0)
		return;
	r = history_index_file(ix, log_path, &id);
	if (r < 0) {
		fprintf(stderr, "roller coach: the session is not in the history yet: %s (`roller "
				"sessions` tries again)\n",
			r == -EIO || r == -EBUSY ? sindex_errmsg(ix) : history_strerror(r));
		sindex_close(ix);
		return;
	}
	fprintf(out, "History:     session %lld (roller show %lld, roller plot %lld -o "
		     "session.png)\n", (long long)id, (long long)id, (long long)id);
	/* The hint needs the whole history: logs copied or synced in since the
	 * last `roller sessions` are added first (quietly; it names them). */
	if (app_sessions_dir(dir, sizeof(dir)) == 0)
		history_sync(ix, dir, false, NULL, NULL, &sync);
	if (sindex_get(ix, id, &row) == 0) {
		fflush(out);
		if (app_print_referrals(ix, row.region, out) > 0)
			fflush(out);
	}
	sindex_close(ix);
}

struct json_referrals {
	struct json_object *array;
	int region;
};

static void add_referral(void *userdata, const struct history_referral *r)
{
	struct json_referrals *ctx = userdata;
	struct json_object *o;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (!r->due || (ctx->region >= 0 && r->region != ctx->region))
		return;
	o = json_object_new_object();
	if (!o)
		return;
	f = open_memstream(&text, &len);
	if (f) {
		history_print_referral(f, r);
		fclose(f);
	}
	json_object_object_add(o, "region", json_object_new_string(proto_region_str(r->region)));
	json_object_object_add(o, "sessions", json_object_new_int64(r->sessions));
	json_object_object_add(o, "weeks", json_object_new_int64(r->weeks));
	json_object_object_add(o, "early_mean_force_permille", json_object_new_int64(r->early_permille));
	json_object_object_add(o, "late_mean_force_permille", json_object_new_int64(r->late_permille));
	json_object_object_add(o, "text", json_object_new_string(text ? text : ""));
	free(text);
	json_object_array_add(ctx->array, o);
}

int app_referrals_json(struct sindex *ix, int region, struct json_object **out)
{
	struct json_referrals ctx = { .array = json_object_new_array(), .region = region };
	int r;

	*out = NULL;
	if (!ctx.array)
		return -ENOMEM;
	r = history_referrals(ix, add_referral, &ctx);
	if (r < 0) {
		json_object_put(ctx.array);
		return r;
	}
	*out = ctx.array;
	return 0;
}
