/* roller coach: the main job. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "config.h"
#include "history_cli.h"

#define CMD "coach"
#define DEFAULT_WEIGHT_DKG 750u

static void help(void)
{
	printf("Usage: roller coach [<addr>|--usb|--sim] [options]\n\n"
	       "Coaches static holds on a tender spot, live: get on the roller, press into the\n"
	       "target band and keep still; the countdown runs while you do. Every frame is\n"
	       "written to a session log for `roller replay`.\n\n"
	       "Roller:\n"
	       "  <addr>              a paired roller over Bluetooth (default: [roller] default)\n"
	       "  --usb               the roller on a USB cable (udev rule: host/README.md)\n"
	       "  --sim               the simulated roller: the real device logic and a\n"
	       "                      simulated person who follows the coach\n"
	       "  --speed N|max       sim: N x real time (default 1); max = as fast as possible\n"
	       "  --seed S            sim: the simulated person's seed (default 1)\n\n"
	       "Plan (defaults per region, then config.ini, then these):\n"
	       "  --region R          calves (default), shins, hamstrings, quadriceps, it-band,\n"
	       "                      glutes, lower-back, upper-back, shoulders, neck\n"
	       "  --reps N            holds (1-10)\n"
	       "  --hold S            seconds per hold (1-3600)\n"
	       "  --rest S            seconds of rest between holds (0-600)\n"
	       "  --body-weight KG    your body weight (20-250; default from config, else 75)\n\n"
	       "Output:\n"
	       "  --plain             one line per change (default when not on a terminal)\n"
	       "  --json              JSON lines: cues, phases, holds, summary\n"
	       "  --sound             play tones through ALSA as well as the terminal bell\n"
	       "  --no-bell           do not ring the terminal bell\n"
	       "  --no-log            do not write a session log\n"
	       "  --config FILE       read FILE instead of the default config.ini\n"
	       "  --adapter hciN      Bluetooth adapter to use (default: the first powered one)\n"
	       "  --acquire-notify    receive notifications through AcquireNotify (an fd)\n"
	       "                      instead of StartNotify\n\n"
	       "Keys: r = the tenderness has eased (release early), s = skip the rest,\n"
	       "q or Ctrl-C = stop (the summary is printed, the log kept).\n"
	       "Safety: %s\n\n"
	       "Exit status: 0 done or stopped, 1 failure, 2 usage error.\n",
	       coach_safety_text());
}

enum {
	OPT_SIM = 0x100,
	OPT_USB,
	OPT_REGION,
	OPT_PLAIN,
	OPT_JSON,
	OPT_SPEED,
	OPT_SEED,
	OPT_REPS,
	OPT_HOLD,
	OPT_REST,
	OPT_WEIGHT,
	OPT_SOUND,
	OPT_NO_BELL,
	OPT_NO_LOG,
	OPT_CONFIG,
	OPT_ADAPTER,
	OPT_ACQUIRE_NOTIFY,
};

static const struct option options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "sim", no_argument, NULL, OPT_SIM },
	{ "usb", no_argument, NULL, OPT_USB },
	{ "region", required_argument, NULL, OPT_REGION },
	{ "plain", no_argument, NULL, OPT_PLAIN },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "speed", required_argument, NULL, OPT_SPEED },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "reps", required_argument, NULL, OPT_REPS },
	{ "hold", required_argument, NULL, OPT_HOLD },
	{ "rest", required_argument, NULL, OPT_REST },
	{ "body-weight", required_argument, NULL, OPT_WEIGHT },
	{ "sound", no_argument, NULL, OPT_SOUND },
	{ "no-bell", no_argument, NULL, OPT_NO_BELL },
	{ "no-log", no_argument, NULL, OPT_NO_LOG },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "adapter", required_argument, NULL, OPT_ADAPTER },
	{ "acquire-notify", no_argument, NULL, OPT_ACQUIRE_NOTIFY },
	{ 0 },
};

int cmd_coach(int argc, char **argv)
{
	bool sim = false, usb = false, plain = false, json = false, sound = false, bell = true, no_log = false;
	const char *address = NULL, *config_file = NULL, *adapter = NULL;
	bool acquire_notify = false;
	double speed = 1.0;
	unsigned long seed = 1, reps = 0, hold_s = 0, rest_s = 0;
	bool have_reps = false, have_hold = false, have_rest = false;
	uint16_t weight_dkg = 0;
	uint8_t region = PROTO_REGION_CALVES;
	char config_path[4096], err[512], log_dir[4096], stem[128];
	struct config cfg;
	struct coach_plan plan;
	struct session_options sopt;
	struct ui_options uopt;
	struct app_run_result result;
	const struct transport_ops *ops;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'h':
			help();
			return APP_EXIT_OK;
		case OPT_SIM:
			sim = true;
			break;
		case OPT_USB:
			usb = true;
			break;
		case OPT_ADAPTER:
			adapter = optarg;
			break;
		case OPT_ACQUIRE_NOTIFY:
			acquire_notify = true;
			break;
		case OPT_REGION:
			if (proto_region_parse(optarg, &region) < 0 || region == PROTO_REGION_NONE)
				return app_usage_error(CMD, "unknown region '%s' (calves, shins, hamstrings, "
						       "quadriceps, it-band, glutes, lower-back, "
						       "upper-back, shoulders, neck)", optarg);
			break;
		case OPT_PLAIN:
			plain = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_SPEED:
			if (app_parse_speed(optarg, &speed) < 0)
				return app_usage_error(CMD, "--speed '%s': expected a number up to 1000, "
						       "or max", optarg);
			break;
		case OPT_SEED:
			if (app_parse_uint(optarg, 0, UINT32_MAX, &seed) < 0)
				return app_usage_error(CMD, "--seed '%s': expected a whole number", optarg);
			break;
		case OPT_REPS:
			if (app_parse_uint(optarg, 1, COACH_REPS_MAX, &reps) < 0)
				return app_usage_error(CMD, "--reps '%s': expected 1 to %u", optarg,
						       COACH_REPS_MAX);
			have_reps = true;
			break;
		case OPT_HOLD:
			if (app_parse_uint(optarg, 1, 3600, &hold_s) < 0)
				return app_usage_error(CMD, "--hold '%s': expected 1 to 3600 seconds", optarg);
			have_hold = true;
			break;
		case OPT_REST:
			if (app_parse_uint(optarg, 0, 600, &rest_s) < 0)
				return app_usage_error(CMD, "--rest '%s': expected 0 to 600 seconds", optarg);
			have_rest = true;
			break;
		case OPT_WEIGHT:
			if (app_parse_weight(optarg, &weight_dkg) < 0)
				return app_usage_error(CMD, "--body-weight '%s': expected 20 to 250 kg",
						       optarg);
			break;
		case OPT_SOUND:
			sound = true;
			break;
		case OPT_NO_BELL:
			bell = false;
			break;
		case OPT_NO_LOG:
			no_log = true;
			break;
		case OPT_CONFIG:
			config_file = optarg;
			break;
		default:
			return app_usage_error(CMD, "bad option");
		}
	}
	if (optind < argc)
		address = argv[optind++];
	if (optind < argc)
		return app_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	if (plain && json)
		return app_usage_error(CMD, "--plain and --json exclude each other");
	if ((sim || usb) && address)
		return app_usage_error(CMD, "give either an address, --usb or --sim, not both");
	if (sim && usb)
		return app_usage_error(CMD, "give either --usb or --sim, not both");

	/* Configuration. */
	if (config_file) {
		snprintf(config_path, sizeof(config_path), "%s", config_file);
	} else if (config_default_path(config_path, sizeof(config_path)) < 0) {
		config_path[0] = '\0';
	}
	if (config_path[0]) {
		r = config_load(&cfg, config_path, err, sizeof(err));
		if (r < 0)
			return app_error(CMD, "%s", err);
		if (config_file && !cfg.found)
			return app_error(CMD, "%s: no such file", config_file);
	} else {
		memset(&cfg, 0, sizeof(cfg));
	}
	if (!weight_dkg)
		weight_dkg = cfg.body_weight_dkg;
	if (!weight_dkg) {
		weight_dkg = DEFAULT_WEIGHT_DKG;
		fprintf(stderr, "roller coach: no body weight set: assuming 75 kg (hint: --body-weight "
				"KG, or body_weight_kg in [user] of %s)\n",
			config_path[0] ? config_path : "config.ini");
	}
	coach_plan_default(region, &plan);
	r = config_apply_plan(&cfg, &plan, err, sizeof(err));
	if (r < 0)
		return app_error(CMD, "%s", err);
	if (have_hold) {
		plan.hold_ms = (uint32_t)hold_s * 1000u;
		if (plan.effective_ms > plan.hold_ms)
			plan.effective_ms = plan.hold_ms;
	}
	if (have_reps)
		plan.reps = (uint8_t)reps;
	if (have_rest)
		plan.rest_ms = (uint32_t)rest_s * 1000u;
	if (coach_plan_check(&plan) < 0)
		return app_usage_error(CMD, "the plan is out of range");

	/* Transport. */
	memset(&sopt, 0, sizeof(sopt));
	if (sim) {
		ops = transport_find("sim");
		snprintf(sopt.header.roller_id, sizeof(sopt.header.roller_id), "sim:%lu", seed);
	} else if (usb) {
		ops = transport_find("usb");
		if (!ops)
			return app_error(CMD, "the USB transport is missing from this build");
		snprintf(sopt.header.roller_id, sizeof(sopt.header.roller_id), "usb");
	} else {
		ops = transport_find("bluez");
		if (!ops)
			return app_error(CMD, "Bluetooth transport not available in this build yet; "
					      "use --sim");
		if (!address)
			address = cfg.default_roller[0] ? cfg.default_roller : NULL;
		if (!address)
			return app_error(CMD, "no roller given and no default roller (hint: pair one "
					      "with `roller pair <addr>`, or try --sim)");
		snprintf(sopt.header.roller_id, sizeof(sopt.header.roller_id), "%s", address);
	}
	if (!ops)
		return app_error(CMD, "the sim transport is missing from this build");
	sopt.transport = ops;
	sopt.transport_options.address = address;
	sopt.transport_options.adapter = adapter;
	sopt.transport_options.acquire_notify = acquire_notify;
	sopt.transport_options.speed = speed;
	sopt.transport_options.seed = (uint32_t)seed;
	sopt.transport_options.body_weight_dkg = weight_dkg;
	snprintf(sopt.header.transport, sizeof(sopt.header.transport), "%s", ops->name);
	session_header_set_plan(&sopt.header, &plan, weight_dkg);

	/* Session log. */
	if (!no_log) {
		time_t now = time(NULL);
		struct tm tm;

		if (app_sessions_dir(log_dir, sizeof(log_dir)) < 0)
			return app_error(CMD, "cannot tell where to keep session logs: set HOME or "
					      "XDG_DATA_HOME (or use --no-log)");
		gmtime_r(&now, &tm);
		strftime(stem, sizeof(stem), "%Y%m%dT%H%M%SZ", &tm);
		snprintf(stem + strlen(stem), sizeof(stem) - strlen(stem), "-%s",
			 proto_region_str(region));
		sopt.log_dir = log_dir;
		sopt.log_stem = stem;
	}

	memset(&uopt, 0, sizeof(uopt));
	uopt.mode = app_ui_mode(plain, json);
	uopt.bell = bell;
	uopt.sound = sound;
	uopt.color = true;
	uopt.keys = true;

	r = app_run_session(CMD, &sopt, &uopt, &result);
	if (r < 0)
		return app_error(CMD, "cannot start: %s", strerror(-r));
	if (result.log_path[0]) {
		FILE *f = json ? stderr : stdout;

		fprintf(f, "Session log: %s\nReplay it:   roller replay %s\n", result.log_path,
			result.log_path);
		app_history_after_coach(result.log_path, f);
	}
	if (result.err < 0)
		return APP_EXIT_FAILURE; /* the reason was printed as it happened */
	return APP_EXIT_OK;
}
