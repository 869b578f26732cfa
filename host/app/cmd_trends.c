/* roller trends: sessions per region and ISO week, and the referral hints. */
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

#define CMD "trends"

static void help(void)
{
	printf("Usage: roller trends [--region R] [--since YYYY-MM-DD] [--json]\n\n"
	       "Per region and ISO week (UTC): sessions, complete holds, time in the target\n"
	       "band and the mean force of the holds, then how the mean force moved from the\n"
	       "first week to the last. Same as `roller sessions --trends`.\n\n"
	       "When to see a doctor: the roller cannot feel how sore a spot is. What it can\n"
	       "see is the pressure you hold on it; as a spot eases, people hold more. So for\n"
	       "each region, over the %d days up to its latest session, roller suggests seeing\n"
	       "a doctor when there were at least %u sessions with a hold, in at least %u\n"
	       "different weeks, and the mean force (as %% of body weight) of the latest %u is\n"
	       "less than %d %% above that of the first %u. This is a hint, not a diagnosis.\n\n"
	       "  --region R     only this region\n"
	       "  --since D      only sessions started on or after D (YYYY-MM-DD, UTC)\n"
	       "  --json         {\"weeks\": [...], \"referrals\": [...]}\n\n"
	       "Exit status: 0 shown, 1 the history cannot be read, 2 usage error.\n",
	       HISTORY_REFERRAL_WINDOW_DAYS, HISTORY_REFERRAL_MIN_SESSIONS,
	       HISTORY_REFERRAL_MIN_WEEKS, HISTORY_REFERRAL_COMPARE,
	       HISTORY_REFERRAL_IMPROVEMENT_PERCENT, HISTORY_REFERRAL_COMPARE);
}

struct weeks {
	struct sindex_week *items;
	size_t n, cap;
};

static int collect(void *userdata, const struct sindex_week *w)
{
	struct weeks *list = userdata;

	if (list->n == list->cap) {
		size_t cap = list->cap ? list->cap * 2u : 32u;
		struct sindex_week *p = reallocarray(list->items, cap, sizeof(*p));

		if (!p)
			return -ENOMEM;
		list->items = p;
		list->cap = cap;
	}
	list->items[list->n++] = *w;
	return 0;
}

static void clock_text(char *buf, size_t size, uint32_t ms)
{
	uint32_t s = (ms + 999u) / 1000u; /* as the summary shows it */

	if (s >= 3600u)
		snprintf(buf, size, "%u:%02u:%02u", s / 3600u, s / 60u % 60u, s % 60u);
	else
		snprintf(buf, size, "%u:%02u", s / 60u, s % 60u);
}

static int print_json(struct sindex *ix, const struct weeks *list, int region)
{
	struct json_object *doc = json_object_new_object(), *array = json_object_new_array();
	struct json_object *refs = NULL;
	int r;

	if (!doc || !array) {
		json_object_put(doc);
		json_object_put(array);
		return -ENOMEM;
	}
	json_object_object_add(doc, "weeks", array);
	for (size_t i = 0; i < list->n; i++) {
		const struct sindex_week *w = &list->items[i];
		struct json_object *o = json_object_new_object();
		char week[16];

		if (!o)
			continue;
		snprintf(week, sizeof(week), "%04d-W%02d", w->year, w->week);
		json_object_object_add(o, "region", json_object_new_string(proto_region_str(w->region)));
		json_object_object_add(o, "week", json_object_new_string(week));
		json_object_object_add(o, "sessions", json_object_new_int64(w->sessions));
		json_object_object_add(o, "holds_complete", json_object_new_int64(w->holds_complete));
		json_object_object_add(o, "in_band_ms", json_object_new_int64(w->in_band_ms));
		json_object_object_add(o, "mean_force_dn", json_object_new_int64(w->mean_force_dn));
		json_object_array_add(array, o);
	}
	r = app_referrals_json(ix, region, &refs);
	if (r == 0) {
		json_object_object_add(doc, "referrals", refs);
		printf("%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
								   JSON_C_TO_STRING_SPACED |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	json_object_put(doc);
	return r;
}

int app_print_trends(struct sindex *ix, const struct sindex_filter *filter, bool json)
{
	struct weeks list = { 0 };
	bool any = false;
	int r;

	r = sindex_weeks(ix, filter, collect, &list);
	if (r < 0) {
		app_error(CMD, "cannot read the history: %s",
			  r == -ENOMEM ? "out of memory" : sindex_errmsg(ix));
		free(list.items);
		return r;
	}
	if (json) {
		r = print_json(ix, &list, filter->region);
		free(list.items);
		if (r < 0)
			app_error(CMD, "cannot read the history: %s", strerror(-r));
		return r;
	}
	/* sindex_weeks() orders by week; show one region after the other. */
	for (uint8_t region = 1; region <= PROTO_REGION_LAST; region++) {
		const struct sindex_week *first = NULL, *last = NULL;

		for (size_t i = 0; i < list.n; i++) {
			const struct sindex_week *w = &list.items[i];
			char week[16], in_band[16];

			if (w->region != region)
				continue;
			if (!any)
				printf("%-11s  %-8s  %8s  %14s  %7s  %10s\n", "REGION", "WEEK", "SESSIONS",
				       "COMPLETE HOLDS", "IN BAND", "MEAN FORCE");
			any = true;
			snprintf(week, sizeof(week), "%04d-W%02d", w->year, w->week);
			clock_text(in_band, sizeof(in_band), w->in_band_ms);
			printf("%-11s  %-8s  %8u  %14u  %7s  %8.1f N\n",
			       first ? "" : proto_region_str(region), week, w->sessions,
			       w->holds_complete, in_band, w->mean_force_dn / 10.0);
			if (!first)
				first = w;
			last = w;
		}
		if (first && last != first && first->mean_force_dn > 0)
			printf("%-11s  mean force %.1f N in %04d-W%02d, %.1f N in %04d-W%02d (%+.1f %%)\n",
			       "", first->mean_force_dn / 10.0, first->year, first->week,
			       last->mean_force_dn / 10.0, last->year, last->week,
			       100.0 * (last->mean_force_dn - first->mean_force_dn) /
				       first->mean_force_dn);
	}
	free(list.items);
	if (!any) {
		printf("No sessions %s(try: roller coach --sim)\n",
		       filter->region >= 0 || filter->since_unix_ms ? "that match " : "yet ");
		return 0;
	}
	r = app_print_referrals(ix, filter->region, stdout);
	if (r < 0)
		app_error(CMD, "cannot read the history: %s", sindex_errmsg(ix));
	return r < 0 ? r : 0;
}

int cmd_trends(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "region", required_argument, NULL, 'r' },
		{ "since", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ 0 },
	};
	struct sindex_filter filter = { .region = -1 };
	struct history_sync_result sync;
	struct sindex *ix;
	char dir[4096];
	bool json = false;
	uint8_t region;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'h':
			help();
			return APP_EXIT_OK;
		case 'r':
			if (proto_region_parse(optarg, &region) < 0 || region == PROTO_REGION_NONE)
				return app_usage_error(CMD, "unknown region '%s' (calves, shins, hamstrings, "
						       "quadriceps, it-band, glutes, lower-back, "
						       "upper-back, shoulders, neck)", optarg);
			filter.region = region;
			break;
		case 's':
			if (app_parse_date(optarg, &filter.since_unix_ms) < 0)
				return app_usage_error(CMD, "--since '%s': expected a date as YYYY-MM-DD",
						       optarg);
			break;
		case 'j':
			json = true;
			break;
		default:
			return app_usage_error(CMD, "bad option");
		}
	}
	if (optind < argc)
		return app_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	if (app_sessions_dir(dir, sizeof(dir)) < 0)
		return app_error(CMD, "cannot tell where session logs are: set HOME or XDG_DATA_HOME");
	if (app_history_open(CMD, false, &ix) < 0)
		return APP_EXIT_FAILURE;
	r = app_history_sync(CMD, ix, dir, false, &sync);
	if (r < 0 && r != -ENOENT) {
		sindex_close(ix);
		return APP_EXIT_FAILURE;
	}
	r = app_print_trends(ix, &filter, json);
	sindex_close(ix);
	return r < 0 ? APP_EXIT_FAILURE : APP_EXIT_OK;
}
