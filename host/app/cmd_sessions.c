/*
 * roller sessions: the session logs on this machine. A plain scan of the
 * directory for now (the SQLite index comes later): each file is read once.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"

#define CMD "sessions"

static void help(void)
{
	printf("Usage: roller sessions [--dir DIR]\n\n"
	       "Lists the session logs in $XDG_DATA_HOME/roller/sessions (else\n"
	       "~/.local/share/roller/sessions), oldest first: start (UTC), region, duration,\n"
	       "holds the roller detected, and the file. Replay one with `roller replay FILE`.\n\n"
	       "  --dir DIR   list DIR instead\n\n"
	       "Exit status: 0 listed (also when there are none), 1 the directory cannot be\n"
	       "read, 2 usage error.\n");
}

struct scan {
	uint64_t duration_us;
	unsigned holds;
	bool torn;
	int err;
};

static void scan_file(const char *path, struct rlog_header *h, struct scan *sc)
{
	struct rlog_reader reader;
	struct rlog_record rec;
	struct proto_event e;
	uint64_t first = 0, last = 0;
	bool any = false;
	int r;

	memset(sc, 0, sizeof(*sc));
	r = rlog_reader_open(&reader, path);
	if (r < 0) {
		sc->err = r;
		return;
	}
	*h = reader.header;
	while ((r = rlog_reader_next(&reader, &rec)) > 0) {
		if (!any)
			first = rec.mono_us;
		any = true;
		last = rec.mono_us;
		if (rec.kind == RLOG_FRAME_IN && rec.channel == RLOG_CH_EVENT &&
		    proto_event_decode(rec.data, rec.len, &e) == 0 && e.kind == PROTO_EVENT_HOLD_END)
			sc->holds++;
	}
	sc->err = r < 0 ? r : 0;
	sc->torn = reader.torn;
	sc->duration_us = last > first ? last - first : 0;
	rlog_reader_close(&reader);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int only_logs(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && strcmp(d->d_name + n - 5, ".rlog") == 0;
}

int cmd_sessions(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "dir", required_argument, NULL, 'd' },
		{ 0 },
	};
	char dir[4096], path[8192];
	struct dirent **names = NULL;
	int c, n;

	dir[0] = '\0';
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'h':
			help();
			return APP_EXIT_OK;
		case 'd':
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

	n = scandir(dir, &names, only_logs, by_name);
	if (n < 0) {
		if (errno == ENOENT) {
			printf("No sessions yet in %s (try: roller coach --sim)\n", dir);
			return APP_EXIT_OK;
		}
		return app_error(CMD, "%s: %s", dir, strerror(errno));
	}
	if (n == 0)
		printf("No sessions yet in %s (try: roller coach --sim)\n", dir);
	else
		printf("%-19s  %-10s  %8s  %5s  %s\n", "START (UTC)", "REGION", "DURATION", "HOLDS",
		       "FILE");
	for (int i = 0; i < n; i++) {
		struct rlog_header h;
		struct scan sc;
		char when[32] = "?", duration[16];
		time_t secs;
		struct tm tm;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		memset(&h, 0, sizeof(h));
		scan_file(path, &h, &sc);
		if (sc.err && !h.created_unix_ms) {
			printf("%-19s  %-10s  %8s  %5s  %s  (%s)\n", "?", "?", "?", "?", path,
			       rlog_strerror(sc.err));
			free(names[i]);
			continue;
		}
		secs = (time_t)(h.created_unix_ms / 1000u);
		if (gmtime_r(&secs, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		snprintf(duration, sizeof(duration), "%llu:%02llu",
			 (unsigned long long)(sc.duration_us / 60000000u),
			 (unsigned long long)(sc.duration_us / 1000000u % 60u));
		printf("%-19s  %-10s  %8s  %5u  %s%s%s\n", when, proto_region_str(h.region), duration,
		       sc.holds, path, sc.torn ? "  (torn tail)" : "",
		       sc.err ? "  (damaged)" : "");
		free(names[i]);
	}
	free(names);
	return APP_EXIT_OK;
}
