/*
 * roller sessions: the history. Backed by the SQLite index; every run first
 * brings it in step with the session logs (new or changed logs are
 * summarized by a headless replay, rows of deleted logs dropped).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "app.h"
#include "history_cli.h"

#define CMD "sessions"

static void help(void)
{
	printf("Usage: roller sessions [--region R] [--since YYYY-MM-DD] [--json] [--reindex]\n"
	       "                       [--trends] [--dir DIR]\n\n"
	       "Lists the recorded sessions, oldest first: id, start (UTC), region, duration,\n"
	       "holds (all, and complete), time in the band, mean and peak force during holds,\n"
	       "and the log file. Use the id with `roller show`, `roller plot`, `roller export`\n"
	       "and `roller rm`. When the history suggests seeing a doctor about a region (see\n"
	       "`roller trends --help`), the hint follows the list.\n\n"
	       "The list comes from the history index ($XDG_DATA_HOME/roller/index.sqlite),\n"
	       "which each run first brings up to date: new or changed logs are added (each is\n"
	       "replayed once, as fast as possible), rows of deleted logs are dropped. Logs that\n"
	       "cannot be read are named on stderr and left out.\n\n"
	       "  --region R     only this region (calves, shins, ...)\n"
	       "  --since D      only sessions started on or after D (YYYY-MM-DD, UTC)\n"
	       "  --json         one JSON object: {\"sessions\": [...], \"referrals\": [...]}\n"
	       "  --reindex      rebuild the index from the log files (ids are renumbered;\n"
	       "                 also repairs a damaged index)\n"
	       "  --trends       per region and ISO week instead (as `roller trends`)\n"
	       "  --dir DIR      the session logs in DIR (default $XDG_DATA_HOME/roller/sessions)\n\n"
	       "Exit status: 0 listed (also when there are none), 1 the logs or the index\n"
	       "cannot be read, 2 usage error.\n");
}

enum { OPT_REGION = 0x100, OPT_SINCE, OPT_JSON, OPT_REINDEX, OPT_TRENDS, OPT_DIR };

struct listing {
	const char *prefix; /* "<dir>/": only rows of this directory */
	size_t prefix_len;
	bool json;
	struct json_object *array;
	unsigned count;
};

static struct json_object *row_json(const struct sindex_row *row)
{
	struct json_object *o = json_object_new_object();
	char when[32];

	if (!o)
		return NULL;
	app_format_date(when, sizeof(when), row->started_unix_ms, "%Y-%m-%dT%H:%M:%SZ");
	json_object_object_add(o, "id", json_object_new_int64(row->id));
	json_object_object_add(o, "started", json_object_new_string(when));
	json_object_object_add(o, "started_unix_ms", json_object_new_int64(row->started_unix_ms));
	json_object_object_add(o, "roller", json_object_new_string(row->roller_id));
	json_object_object_add(o, "region", json_object_new_string(proto_region_str(row->region)));
	json_object_object_add(o, "duration_ms", json_object_new_int64(row->duration_ms));
	json_object_object_add(o, "holds", json_object_new_int64(row->holds));
	json_object_object_add(o, "holds_complete", json_object_new_int64(row->holds_complete));
	json_object_object_add(o, "in_band_ms", json_object_new_int64(row->in_band_ms));
	json_object_object_add(o, "mean_force_dn", json_object_new_int64(row->mean_force_dn));
	json_object_object_add(o, "peak_force_dn", json_object_new_int64(row->peak_force_dn));
	json_object_object_add(o, "body_weight_dkg", json_object_new_int64(row->body_weight_dkg));
	json_object_object_add(o, "samples_lost", json_object_new_int64(row->samples_lost));
	json_object_object_add(o, "torn", json_object_new_boolean(row->torn));
	json_object_object_add(o, "path", json_object_new_string(row->path));
	return o;
}

static void clock_text(char *buf, size_t size, uint32_t ms)
{
	uint32_t s = (ms + 999u) / 1000u; /* as the summary shows it */

	if (s >= 3600u)
		snprintf(buf, size, "%u:%02u:%02u", s / 3600u, s / 60u % 60u, s % 60u);
	else
		snprintf(buf, size, "%u:%02u", s / 60u, s % 60u);
}

static int print_row(void *userdata, const struct sindex_row *row)
{
	struct listing *l = userdata;
	char when[32], duration[16], in_band[16];

	if (l->prefix && strncmp(row->path, l->prefix, l->prefix_len) != 0)
		return 0;
	l->count++;
	if (l->json) {
		struct json_object *o = row_json(row);

		if (!o)
			return -ENOMEM;
		json_object_array_add(l->array, o);
		return 0;
	}
	if (l->count == 1)
		printf("%4s  %-16s  %-11s %8s  %5s  %4s  %7s  %6s  %6s  %s\n", "ID", "START (UTC)",
		       "REGION", "DURATION", "HOLDS", "DONE", "IN BAND", "MEAN N", "PEAK N", "FILE");
	app_format_date(when, sizeof(when), row->started_unix_ms, "%Y-%m-%d %H:%M");
	clock_text(duration, sizeof(duration), row->duration_ms);
	clock_text(in_band, sizeof(in_band), row->in_band_ms);
	printf("%4lld  %-16s  %-11s %8s  %5u  %4u  %7s  %6.1f  %6.1f  %s%s", (long long)row->id,
	       when, proto_region_str(row->region), duration, row->holds, row->holds_complete,
	       in_band, row->mean_force_dn / 10.0, row->peak_force_dn / 10.0, row->path,
	       row->torn ? "  (torn tail)" : "");
	if (row->samples_lost)
		printf("  (%u samples lost)", row->samples_lost);
	putchar('\n');
	return 0;
}

int cmd_sessions(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "region", required_argument, NULL, OPT_REGION },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "reindex", no_argument, NULL, OPT_REINDEX },
		{ "trends", no_argument, NULL, OPT_TRENDS },
		{ "dir", required_argument, NULL, OPT_DIR },
		{ 0 },
	};
	struct sindex_filter filter = { .region = -1 };
	bool json = false, reindex = false, trends = false;
	char dir[4096], abs[PATH_MAX + 1];
	struct history_sync_result sync;
	struct listing listing;
	struct sindex *ix = NULL;
	uint8_t region;
	int c, r, status = APP_EXIT_OK;

	dir[0] = '\0';
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'h':
			help();
			return APP_EXIT_OK;
		case OPT_REGION:
			if (proto_region_parse(optarg, &region) < 0 || region == PROTO_REGION_NONE)
				return app_usage_error(CMD, "unknown region '%s' (calves, shins, hamstrings, "
						       "quadriceps, it-band, glutes, lower-back, "
						       "upper-back, shoulders, neck)", optarg);
			filter.region = region;
			break;
		case OPT_SINCE:
			if (app_parse_date(optarg, &filter.since_unix_ms) < 0)
				return app_usage_error(CMD, "--since '%s': expected a date as YYYY-MM-DD",
						       optarg);
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_REINDEX:
			reindex = true;
			break;
		case OPT_TRENDS:
			trends = true;
			break;
		case OPT_DIR:
			snprintf(dir, sizeof(dir), "%s", optarg);
			break;
		default:
			return app_usage_error(CMD, "bad option");
		}
	}
	if (optind < argc)
		return app_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	if (!dir[0] && app_sessions_dir(dir, sizeof(dir)) < 0)
		return app_error(CMD, "cannot tell where session logs are: set HOME or XDG_DATA_HOME");
	if (!realpath(dir, abs)) {
		if (errno != ENOENT)
			return app_error(CMD, "%s: %s", dir, strerror(errno));
		if (json)
			printf("{\"sessions\":[],\"referrals\":[]}\n");
		else
			printf("No sessions yet in %s (try: roller coach --sim)\n", dir);
		return APP_EXIT_OK;
	}

	if (app_history_open(CMD, reindex, &ix) < 0)
		return APP_EXIT_FAILURE;
	r = app_history_sync(CMD, ix, abs, reindex, &sync);
	if (r < 0 && r != -ENOENT) {
		sindex_close(ix);
		return APP_EXIT_FAILURE;
	}
	if (reindex && !json)
		fprintf(stderr, "roller sessions: index rebuilt: %u sessions indexed, %u logs left "
				"out\n", sync.indexed, sync.skipped);
	if (trends) {
		r = app_print_trends(ix, &filter, json);
		sindex_close(ix);
		return r < 0 ? APP_EXIT_FAILURE : APP_EXIT_OK;
	}

	strncat(abs, "/", sizeof(abs) - strlen(abs) - 1);
	memset(&listing, 0, sizeof(listing));
	listing.prefix = abs;
	listing.prefix_len = strlen(abs);
	listing.json = json;
	if (json) {
		struct json_object *doc = json_object_new_object(), *refs = NULL;

		listing.array = json_object_new_array();
		r = app_referrals_json(ix, filter.region, &refs);
		if (!doc || r < 0 || !listing.array) {
			json_object_put(doc);
			json_object_put(refs);
			json_object_put(listing.array);
			sindex_close(ix);
			return app_error(CMD, "out of memory");
		}
		json_object_object_add(doc, "sessions", listing.array);
		json_object_object_add(doc, "referrals", refs);
		r = sindex_query(ix, &filter, print_row, &listing);
		if (r == 0)
			printf("%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
									   JSON_C_TO_STRING_SPACED |
									   JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(doc);
	} else {
		r = sindex_query(ix, &filter, print_row, &listing);
		if (r == 0 && listing.count == 0)
			printf("No sessions %sin %s (try: roller coach --sim)\n",
			       filter.region >= 0 || filter.since_unix_ms ? "that match " : "yet ", dir);
		if (r == 0 && listing.count) {
			r = app_print_referrals(ix, filter.region, stdout);
			if (r > 0)
				r = 0;
		}
	}
	if (r < 0)
		status = app_error(CMD, "cannot read the history: %s",
				   r == -ENOMEM ? "out of memory" : sindex_errmsg(ix));
	sindex_close(ix);
	return status;
}
