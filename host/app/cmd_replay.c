/* roller replay: a session log through the same coach and screen. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "app.h"

#define CMD "replay"

static void help(void)
{
	printf("Usage: roller replay <session.rlog> [--speed N|--max] [--summary] [--plain|--json]\n\n"
	       "Plays a session log back through the same coach and screen as `roller coach`:\n"
	       "the frames as they were received, at their recorded pace, and the keys that\n"
	       "were pressed, at the same points. The cues, phases and holds are those of the\n"
	       "live session (with --json, byte for byte).\n\n"
	       "  --speed N     N x the recorded pace (default 1)\n"
	       "  --max         as fast as possible\n"
	       "  --summary     print only the summary (implies --max unless --speed is given)\n"
	       "  --plain       one line per change (default when not on a terminal)\n"
	       "  --json        JSON lines, as `roller coach --json` printed them\n\n"
	       "Keys: q or Ctrl-C = stop the replay.\n"
	       "Exit status: 0 replayed (a torn tail is reported, not an error), 1 the file\n"
	       "cannot be read or is damaged, 2 usage error.\n");
}

enum { OPT_SPEED = 0x100, OPT_MAX, OPT_SUMMARY, OPT_PLAIN, OPT_JSON };

static const struct option options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "speed", required_argument, NULL, OPT_SPEED },
	{ "max", no_argument, NULL, OPT_MAX },
	{ "summary", no_argument, NULL, OPT_SUMMARY },
	{ "plain", no_argument, NULL, OPT_PLAIN },
	{ "json", no_argument, NULL, OPT_JSON },
	{ 0 },
};

int cmd_replay(int argc, char **argv)
{
	bool plain = false, json = false, summary = false, have_speed = false;
	double speed = 1.0;
	const char *path;
	struct rlog_reader reader;
	struct session_options sopt;
	struct ui_options uopt;
	struct app_run_result result;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'h':
			help();
			return APP_EXIT_OK;
		case OPT_SPEED:
			if (app_parse_speed(optarg, &speed) < 0)
				return app_usage_error(CMD, "--speed '%s': expected a number up to 1000, "
						       "or max", optarg);
			have_speed = true;
			break;
		case OPT_MAX:
			speed = 0;
			have_speed = true;
			break;
		case OPT_SUMMARY:
			summary = true;
			break;
		case OPT_PLAIN:
			plain = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			return app_usage_error(CMD, "bad option");
		}
	}
	if (optind >= argc)
		return app_usage_error(CMD, "which session? (see `roller sessions`)");
	path = argv[optind++];
	if (optind < argc)
		return app_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	if (plain && json)
		return app_usage_error(CMD, "--plain and --json exclude each other");
	if (summary && !have_speed)
		speed = 0;

	/* The header configures the coach as it was configured live. */
	r = rlog_reader_open(&reader, path);
	if (r < 0)
		return app_error(CMD, "%s: %s", path, rlog_strerror(r));
	memset(&sopt, 0, sizeof(sopt));
	sopt.header = reader.header;
	rlog_reader_close(&reader);
	sopt.transport = transport_find("replay");
	if (!sopt.transport)
		return app_error(CMD, "the replay transport is missing from this build");
	sopt.replay = true;
	sopt.transport_options.path = path;
	sopt.transport_options.speed = speed;

	memset(&uopt, 0, sizeof(uopt));
	uopt.mode = summary && !json ? UI_MODE_PLAIN : app_ui_mode(plain, json);
	uopt.summary_only = summary;
	uopt.bell = true;
	uopt.color = true;
	uopt.keys = true;

	r = app_run_session(CMD, &sopt, &uopt, &result);
	if (r < 0)
		return app_error(CMD, "%s: %s", path, r == -EBADMSG || r == -EPROTONOSUPPORT
							  ? rlog_strerror(r) : strerror(-r));
	if (!result.coached && result.err == 0)
		return app_error(CMD, "%s: no Info frame from the roller in this log: nothing to coach",
				 path);
	return result.err < 0 ? APP_EXIT_FAILURE : APP_EXIT_OK;
}
