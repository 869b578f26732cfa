/* roller export: a session's samples, holds and events as CSV or JSON. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "history_cli.h"

#define CMD "export"

static void help(void)
{
	printf("Usage: roller export <id|file> --csv|--json [-o FILE] [--table T]\n\n"
	       "Writes a session's data for a spreadsheet or a script. <id> is from `roller\n"
	       "sessions`; a session log file works too.\n\n"
	       "  --json        one JSON object: session, plan, summary, holds, events, gaps\n"
	       "                and samples (force null where the roller had no reading)\n"
	       "  --csv         one table with a header line (default: samples):\n"
	       "                  samples  sample,t_s,force_n,percent_bw,still\n"
	       "                  holds    rep,result,start_sample,start_s,duration_s,in_band_s,\n"
	       "                           mean_force_n,mean_percent_bw,peak_force_n,band_low_n,\n"
	       "                           band_high_n,step_ups,dips\n"
	       "                  events   sample,t_s,source,kind,force_n,value,text\n"
	       "                (source: roller, coach, user or host)\n"
	       "  --table T     samples, holds or events (CSV only)\n"
	       "  -o FILE       write FILE (mode 0600, replaced only once complete) instead of\n"
	       "                stdout\n\n"
	       "Times are seconds since the session's first sample; forces are newtons.\n"
	       "Exit status: 0 written, 1 the session cannot be read or FILE written (then\n"
	       "FILE is left as it was), 2 usage error.\n");
}

enum { OPT_CSV = 0x100, OPT_JSON, OPT_TABLE };

int cmd_export(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "csv", no_argument, NULL, OPT_CSV },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "table", required_argument, NULL, OPT_TABLE },
		{ "output", required_argument, NULL, 'o' },
		{ 0 },
	};
	bool csv = false, json = false, have_table = false;
	enum history_table table = HISTORY_TABLE_SAMPLES;
	const char *output = NULL;
	struct history_session *s;
	char path[4096], tmp[4200];
	int64_t id;
	FILE *f = stdout;
	int c, r, fd = -1;

	optind = 0;
	while ((c = getopt_long(argc, argv, "ho:", options, NULL)) != -1) {
		switch (c) {
		case 'h':
			help();
			return APP_EXIT_OK;
		case OPT_CSV:
			csv = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_TABLE:
			if (strcmp(optarg, "samples") == 0)
				table = HISTORY_TABLE_SAMPLES;
			else if (strcmp(optarg, "holds") == 0)
				table = HISTORY_TABLE_HOLDS;
			else if (strcmp(optarg, "events") == 0)
				table = HISTORY_TABLE_EVENTS;
			else
				return app_usage_error(CMD, "--table '%s': samples, holds or events",
						       optarg);
			have_table = true;
			break;
		case 'o':
			output = optarg;
			break;
		default:
			return app_usage_error(CMD, "bad option");
		}
	}
	if (optind >= argc)
		return app_usage_error(CMD, "which session? (an id from `roller sessions`, or a file)");
	if (optind + 1 < argc)
		return app_usage_error(CMD, "unexpected argument '%s'", argv[optind + 1]);
	if (csv == json)
		return app_usage_error(CMD, "give one of --csv and --json");
	if (json && have_table)
		return app_usage_error(CMD, "--table goes with --csv (JSON has every table)");
	if (output && !*output)
		return app_usage_error(CMD, "-o needs a file name");

	if (app_resolve_session(CMD, argv[optind], path, sizeof(path), &id) < 0)
		return APP_EXIT_FAILURE;
	if (app_load_session(CMD, path, HISTORY_LOAD_ALL, &s) < 0)
		return APP_EXIT_FAILURE;
	if (output) {
		if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", output) >= (int)sizeof(tmp)) {
			history_free(s);
			return app_error(CMD, "%s: the path is too long", output);
		}
		fd = mkstemp(tmp);
		f = fd < 0 ? NULL : fdopen(fd, "w");
		if (!f) {
			r = errno;
			if (fd >= 0) {
				close(fd);
				unlink(tmp);
			}
			history_free(s);
			return app_error(CMD, "%s: %s", output, strerror(r));
		}
	}
	r = json ? history_export_json(f, s) : history_export_csv(f, s, table);
	history_free(s);
	if (!output)
		return r < 0 ? app_error(CMD, "writing the export: %s", strerror(-r)) : APP_EXIT_OK;
	if (r == 0 && fsync(fileno(f)) < 0)
		r = -errno;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, output) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return app_error(CMD, "%s: %s", output, strerror(-r));
	}
	return APP_EXIT_OK;
}
