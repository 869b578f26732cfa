/*
 * roller sync: download the sessions the roller recorded on its own (no
 * laptop nearby) and keep them as session logs, over USB or Bluetooth.
 * The engine is host/sync (roller/sync.h); this file is options, the
 * progress line and the report.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "roller/sync.h"

#include "app.h"
#include "config.h"

#define CMD "sync"
#define DEFAULT_WEIGHT_DKG 750u

static void help(void)
{
	printf("Usage: roller sync [<addr>] [--usb] [--erase] [--json] [options]\n\n"
	       "Downloads the sessions the roller recorded while no laptop was connected and\n"
	       "keeps each one as a session log next to the ones `roller coach` writes, so\n"
	       "that `roller sessions`, `replay`, `show`, `export` and `plot` work on them.\n"
	       "Only what this computer does not have yet is fetched; a sync that is\n"
	       "interrupted (cable pulled, link lost, Ctrl-C) carries on where it stopped,\n"
	       "now or the next time, without fetching anything twice.\n\n"
	       "Roller:\n"
	       "  <addr>          a paired roller over Bluetooth (default: [roller] default)\n"
	       "  --usb           the roller on a USB cable (needs the udev rule\n"
	       "                  tools/udev/70-roller.rules; see host/README.md)\n"
	       "  --wait S        seconds to wait for the roller to answer (default 15)\n\n"
	       "Options:\n"
	       "  --erase         then erase what was saved from the roller's memory (never a\n"
	       "                  session that was not saved, never one being recorded)\n"
	       "  --json          JSON lines: one per saved session, then a summary\n"
	       "  --body-weight KG  recorded in the saved sessions (default from config)\n"
	       "  --config FILE   read FILE instead of the default config.ini\n"
	       "  --adapter hciN  Bluetooth adapter to use (default: the first powered one)\n\n"
	       "Files: sessions in $XDG_DATA_HOME/roller/sessions, what was synced per roller\n"
	       "in $XDG_DATA_HOME/roller/sync/<ROLLER ID>.sync.\n\n"
	       "Exit status: 0 synced (also when there was nothing new), 1 failure (the\n"
	       "sessions saved until then stay saved), 2 usage error.\n");
}

enum {
	OPT_USB = 0x100,
	OPT_ERASE,
	OPT_JSON,
	OPT_WAIT,
	OPT_WEIGHT,
	OPT_CONFIG,
	OPT_ADAPTER,
};

static const struct option options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "usb", no_argument, NULL, OPT_USB },
	{ "erase", no_argument, NULL, OPT_ERASE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "wait", required_argument, NULL, OPT_WAIT },
	{ "body-weight", required_argument, NULL, OPT_WEIGHT },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "adapter", required_argument, NULL, OPT_ADAPTER },
	{ 0 },
};

struct sync_cmd {
	sd_event *ev;
	bool json;
	bool tty;
	bool done;
	bool interrupted;
	int err;
	bool progress_shown;
	struct config cfg;
	uint16_t weight_dkg;
	struct timespec start;
	/* From the first DOWNLOADING progress to the last record received. */
	double download_start, download_end;
};

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *phase_text(enum sync_phase p)
{
	switch (p) {
	case SYNC_CONNECTING:
		return "waiting for the roller";
	case SYNC_LISTING:
		return "reading the roller's log";
	case SYNC_DOWNLOADING:
		return "downloading";
	case SYNC_RECONNECTING:
		return "link lost: waiting for the roller to come back";
	case SYNC_ERASING:
		return "erasing what was saved";
	case SYNC_DONE:
		return "done";
	}
	return "";
}

static void clear_progress(struct sync_cmd *c)
{
	if (c->progress_shown) {
		fputs("\r\033[K", stderr);
		c->progress_shown = false;
	}
}

static void on_progress(void *userdata, const struct sync_progress *p)
{
	struct sync_cmd *c = userdata;
	char bar[31];
	unsigned filled = 0;

	if (p->phase == SYNC_DOWNLOADING) {
		c->download_end = mono_s();
		if (c->download_start == 0)
			c->download_start = c->download_end;
	}
	if (c->json || !c->tty)
		return;
	if (p->records_total)
		filled = (unsigned)((uint64_t)p->records_done * 30u / p->records_total);
	if (filled > 30)
		filled = 30;
	memset(bar, '=', filled);
	memset(bar + filled, ' ', 30 - filled);
	bar[30] = '\0';
	if (p->phase == SYNC_DOWNLOADING || p->phase == SYNC_RECONNECTING)
		fprintf(stderr, "\r\033[Kroller sync: [%s] %u/%u records, %.1f kB, %u saved  %s", bar,
			p->records_done, p->records_total, (double)p->bytes / 1000.0,
			p->sessions_written, p->phase == SYNC_RECONNECTING ? phase_text(p->phase) : "");
	else
		fprintf(stderr, "\r\033[Kroller sync: %s", phase_text(p->phase));
	c->progress_shown = true;
}

static void on_session(void *userdata, const char *path, uint32_t first, uint32_t end, bool complete)
{
	struct sync_cmd *c = userdata;

	if (c->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "session", json_object_new_string(path));
		json_object_object_add(o, "first_record", json_object_new_int64(first));
		json_object_object_add(o, "end_record", json_object_new_int64(end));
		json_object_object_add(o, "complete", json_object_new_boolean(complete));
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
		fflush(stdout);
		return;
	}
	clear_progress(c);
	printf("Saved: %s%s\n", path, complete ? "" : " (incomplete)");
	fflush(stdout);
}

/* The plan a synced session's header records: the region's default plan
 * with this user's config and body weight (a replay coaches with it). The
 * roller's own hold events are in the file whatever the plan says. */
static void fill_header(void *userdata, uint8_t region, struct rlog_header *h)
{
	struct sync_cmd *c = userdata;
	struct coach_plan plan;
	char err[256];

	if (coach_plan_default(region ? region : PROTO_REGION_CALVES, &plan) < 0)
		return;
	(void)config_apply_plan(&c->cfg, &plan, err, sizeof(err));
	session_header_set_plan(h, &plan, c->weight_dkg);
	/* A session the roller started by itself has no region; a replay
	 * coaches it with the calves plan (the file's note says so). */
	if (region == PROTO_REGION_NONE)
		h->region = plan.region;
}

static void on_done(void *userdata, int err)
{
	struct sync_cmd *c = userdata;

	c->done = true;
	c->err = err;
	sd_event_exit(c->ev, 0);
}

static int on_signal(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
	struct sync_cmd *c = userdata;

	(void)src;
	(void)si;
	c->interrupted = true;
	sd_event_exit(c->ev, 0);
	return 0;
}

static void report(struct sync_cmd *c, const struct sync_result *r, const char *dir, bool usb)
{
	struct timespec now;
	double secs;
	char erase[256] = "";

	clock_gettime(CLOCK_MONOTONIC, &now);
	secs = (double)(now.tv_sec - c->start.tv_sec) + (double)(now.tv_nsec - c->start.tv_nsec) / 1e9;
	if (r->erase_requested && r->erased)
		snprintf(erase, sizeof(erase), "erased the roller's log below record %u",
			 r->erased_below);
	else if (r->erase_requested && r->erase_err == -EBUSY)
		snprintf(erase, sizeof(erase), "not erased: the roller is recording a session; run "
					       "roller sync --erase again when it is done");
	else if (r->erase_requested && r->erase_err == -ENODATA)
		snprintf(erase, sizeof(erase), "nothing to erase");
	else if (r->erase_requested)
		snprintf(erase, sizeof(erase), "not erased: %s", strerror(-r->erase_err));

	if (c->json) {
		struct json_object *o = json_object_new_object(), *s = json_object_new_object();
		char id[16];

		snprintf(id, sizeof(id), "%08X", r->device_id);
		json_object_object_add(s, "roller", json_object_new_string(id));
		json_object_object_add(s, "transport", json_object_new_string(usb ? "usb" : "bluez"));
		json_object_object_add(s, "sessions_saved", json_object_new_int((int)r->sessions_written));
		json_object_object_add(s, "sessions_incomplete",
				       json_object_new_int((int)r->sessions_incomplete));
		json_object_object_add(s, "sessions_already_here",
				       json_object_new_int((int)r->sessions_existing));
		json_object_object_add(s, "records", json_object_new_int64(r->records));
		json_object_object_add(s, "records_missing", json_object_new_int64(r->records_missing));
		json_object_object_add(s, "bytes", json_object_new_int64((int64_t)r->bytes));
		json_object_object_add(s, "seconds", json_object_new_double(secs));
		json_object_object_add(s, "download_seconds",
				       json_object_new_double(c->download_end - c->download_start));
		json_object_object_add(s, "log_first", json_object_new_int64(r->log_first));
		json_object_object_add(s, "log_end", json_object_new_int64(r->log_end));
		json_object_object_add(s, "synced_to", json_object_new_int64(r->synced_to));
		json_object_object_add(s, "recording_left",
				       json_object_new_boolean(r->open_session_left));
		json_object_object_add(s, "log_restarted", json_object_new_boolean(r->log_restarted));
		json_object_object_add(s, "resumes", json_object_new_int((int)r->resumes));
		json_object_object_add(s, "link_losses", json_object_new_int((int)r->link_losses));
		json_object_object_add(s, "erased", json_object_new_boolean(r->erased));
		if (erase[0] && !r->erased)
			json_object_object_add(s, "erase_note", json_object_new_string(erase));
		if (r->err < 0)
			json_object_object_add(s, "error", json_object_new_string(r->detail));
		json_object_object_add(o, "summary", s);
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
		return;
	}
	clear_progress(c);
	if (r->device_id == 0)
		return;
	if (r->log_restarted)
		printf("The roller's log starts again below what this computer synced before "
		       "(its memory was erased or its firmware reflashed): syncing it from the start.\n");
	printf("Roller %08X over %s: %u new session%s saved in %s", r->device_id,
	       usb ? "USB" : "Bluetooth", r->sessions_written, r->sessions_written == 1 ? "" : "s", dir);
	if (r->sessions_incomplete)
		printf(" (%u incomplete)", r->sessions_incomplete);
	printf(": %u records, %.1f kB in %.1f s", r->records, (double)r->bytes / 1000.0, secs);
	if (r->link_losses || r->resumes)
		printf(" (%u link loss%s, %u resume%s)", r->link_losses,
		       r->link_losses == 1 ? "" : "es", r->resumes, r->resumes == 1 ? "" : "s");
	printf(".\n");
	if (r->records_missing)
		printf("The roller's log skips %u record number%s (a power cut while it recorded, or "
		       "damaged flash); a session with records missing is saved as incomplete.\n",
		       r->records_missing, r->records_missing == 1 ? "" : "s");
	if (r->sessions_existing)
		printf("%u session%s were already here.\n", r->sessions_existing,
		       r->sessions_existing == 1 ? "" : "s");
	if (r->err == 0 && r->records == 0 && r->sessions_written == 0)
		printf("Nothing new on the roller (its log holds records %u..%u; this computer has "
		       "everything below %u).\n", r->log_first, r->log_end, r->synced_to);
	if (r->open_session_left)
		printf("A session is being recorded on the roller: it will be synced next time.\n");
	if (erase[0])
		printf("Roller memory: %s.\n", erase);
}

int cmd_sync(int argc, char **argv)
{
	bool usb = false, erase = false, json = false;
	const char *address = NULL, *config_file = NULL;
	unsigned long wait_s = 0;
	char config_path[4096], err[512], sessions_dir[4096], state_dir[4096];
	struct sync_cmd c;
	struct sync_options opt;
	struct sync_result res;
	struct sync *s = NULL;
	sd_event_source *sig_int = NULL, *sig_term = NULL;
	sigset_t mask;
	const char *adapter = NULL;
	char *slash;
	int ch, r;

	memset(&c, 0, sizeof(c));
	optind = 0;
	while ((ch = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (ch) {
		case 'h':
			help();
			return APP_EXIT_OK;
		case OPT_USB:
			usb = true;
			break;
		case OPT_ADAPTER:
			adapter = optarg;
			break;
		case OPT_ERASE:
			erase = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_WAIT:
			if (app_parse_uint(optarg, 1, 3600, &wait_s) < 0)
				return app_usage_error(CMD, "--wait '%s': expected 1 to 3600 seconds", optarg);
			break;
		case OPT_WEIGHT:
			if (app_parse_weight(optarg, &c.weight_dkg) < 0)
				return app_usage_error(CMD, "--body-weight '%s': expected 20 to 250 kg",
						       optarg);
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
	if (usb && address)
		return app_usage_error(CMD, "give either an address or --usb, not both");

	if (config_file) {
		snprintf(config_path, sizeof(config_path), "%s", config_file);
	} else if (config_default_path(config_path, sizeof(config_path)) < 0) {
		config_path[0] = '\0';
	}
	if (config_path[0]) {
		r = config_load(&c.cfg, config_path, err, sizeof(err));
		if (r < 0)
			return app_error(CMD, "%s", err);
		if (config_file && !c.cfg.found)
			return app_error(CMD, "%s: no such file", config_file);
	}
	if (!c.weight_dkg)
		c.weight_dkg = c.cfg.body_weight_dkg ? c.cfg.body_weight_dkg : DEFAULT_WEIGHT_DKG;

	memset(&opt, 0, sizeof(opt));
	if (usb) {
		opt.transport = transport_find("usb");
		if (!opt.transport)
			return app_error(CMD, "the USB transport is missing from this build");
	} else {
		opt.transport = transport_find("bluez");
		if (!opt.transport)
			return app_error(CMD, "Bluetooth sync is not available in this build yet (no "
					      "bluez transport); connect the roller with a USB cable "
					      "and use --usb");
		if (!address)
			address = c.cfg.default_roller[0] ? c.cfg.default_roller : NULL;
		if (!address)
			return app_error(CMD, "no roller given and no default roller (hint: pair one "
					      "with `roller pair <addr>`, or use --usb)");
	}
	if (app_sessions_dir(sessions_dir, sizeof(sessions_dir)) < 0)
		return app_error(CMD, "cannot tell where to keep session logs: set HOME or "
				      "XDG_DATA_HOME");
	/* .../roller/sessions -> .../roller/sync */
	snprintf(state_dir, sizeof(state_dir), "%s", sessions_dir);
	slash = strrchr(state_dir, '/');
	if (!slash || (size_t)(slash - state_dir) + sizeof("/sync") > sizeof(state_dir))
		return app_error(CMD, "cannot tell where to keep the sync state");
	strcpy(slash, "/sync");

	opt.transport_options.address = address;
	opt.transport_options.adapter = adapter;
	opt.sessions_dir = sessions_dir;
	opt.state_dir = state_dir;
	opt.erase = erase;
	opt.connect_timeout_ms = (uint32_t)(wait_s ? wait_s : SYNC_CONNECT_TIMEOUT_MS / 1000u) * 1000u;
	opt.fill_header = fill_header;
	opt.progress = on_progress;
	opt.session_written = on_session;
	opt.done = on_done;
	opt.userdata = &c;

	c.json = json;
	c.tty = isatty(STDERR_FILENO);
	clock_gettime(CLOCK_MONOTONIC, &c.start);
	r = sd_event_default(&c.ev);
	if (r < 0)
		return app_error(CMD, "cannot start the event loop: %s", strerror(-r));
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sd_event_add_signal(c.ev, &sig_int, SIGINT, on_signal, &c);
	sd_event_add_signal(c.ev, &sig_term, SIGTERM, on_signal, &c);

	r = sync_create(&s, c.ev, &opt);
	if (r < 0) {
		sd_event_source_unref(sig_int);
		sd_event_source_unref(sig_term);
		sd_event_unref(c.ev);
		return app_error(CMD, "cannot start: %s", strerror(-r));
	}
	r = sd_event_loop(c.ev);
	sync_get_result(s, &res);
	sync_destroy(s);
	sd_event_source_unref(sig_int);
	sd_event_source_unref(sig_term);
	sd_event_unref(c.ev);
	if (r < 0)
		return app_error(CMD, "event loop: %s", strerror(-r));

	if (c.interrupted) {
		res.err = -EINTR;
		snprintf(res.detail, sizeof(res.detail), "interrupted: %u sessions were saved; run "
							 "roller sync again for the rest",
			 res.sessions_written);
	}
	report(&c, &res, sessions_dir, usb);
	if (res.err < 0) {
		if (!json)
			return app_error(CMD, "%s", res.detail[0] ? res.detail : strerror(-res.err));
		return APP_EXIT_FAILURE;
	}
	return APP_EXIT_OK;
}
