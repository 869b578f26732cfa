/*
 * roller: the laptop side of the Roller foam roller. One subcommand per
 * file (cmd_*.c); this file only dispatches.
 */
#define _GNU_SOURCE
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "roller/bluez.h"

struct command {
	const char *name;
	const char *args;
	const char *summary;
	int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
	{ "coach", "[<addr>|--usb|--sim] [--region R] [--plain|--json] ...",
	  "coach static holds live (with --sim: against the simulated roller)", cmd_coach },
	{ "replay", "<session.rlog> [--speed N|--max] [--summary] [--plain|--json]",
	  "replay a session log through the same coach and screen", cmd_replay },
	{ "sessions", "[--region R] [--since YYYY-MM-DD] [--json] [--reindex] [--trends]",
	  "the history: recorded sessions, with ids", cmd_sessions },
	{ "show", "<id|file>", "one session in detail: plan, holds, summary", cmd_show },
	{ "rm", "<id> [--yes]", "delete a session (its log and its history row)", cmd_rm },
	{ "trends", "[--region R] [--since YYYY-MM-DD] [--json]",
	  "sessions per region and week; when to see a doctor", cmd_trends },
	{ "export", "<id|file> --csv|--json [-o FILE]", "a session's samples, holds and events",
	  cmd_export },
	{ "plot", "<id|file> -o FILE.png|.svg", "a session as a picture", cmd_plot },
	{ "sync", "[<addr>|--usb] [--erase] [--json]",
	  "download the sessions the roller recorded on its own", cmd_sync },
	{ "log", "dump <file>", "decode a session log, one line per record", cmd_log },
	{ "scan", "[--timeout S] [--json]", "find rollers nearby (Bluetooth)", bluez_cmd_scan },
	{ "pair", "<addr>", "pair and bond with a roller; it becomes the default", bluez_cmd_pair },
	{ "forget", "<addr>", "remove a roller's bond", bluez_cmd_forget },
	{ "devices", "[--json]", "rollers this computer knows", bluez_cmd_devices },
	{ "status", "[<addr>] [--json]", "connection, battery, firmware, calibration",
	  bluez_cmd_status },
	{ "tare", "[<addr>]", "zero the roller with nothing on it", bluez_cmd_tare },
	{ "calibrate", "[<addr>] [--weight KG]", "scale the roller with a known weight on it",
	  bluez_cmd_calibrate },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: roller <command> [options]\n\n"
		   "Coaches sustained static compression of muscle knots on a pressure-sensing\n"
		   "foam roller, live, and replays every session.\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-9s %s\n            %s\n", commands[i].name, commands[i].args,
			commands[i].summary);
	fprintf(f, "\nEach command takes --help. Try it without hardware: roller coach --sim\n"
		   "Files: $XDG_CONFIG_HOME/roller/config.ini, $XDG_DATA_HOME/roller/sessions/\n"
		   "Exit status: 0 ok, 1 runtime failure, 2 usage error.\n");
}

int main(int argc, char **argv)
{
	const char *name;

	/* Characters for the screen; numbers stay in the C locale so that
	 * output and config parsing do not depend on the user's locale. */
	setlocale(LC_CTYPE, "");
	if (argc < 2)
		return usage(stderr), APP_EXIT_USAGE;
	name = argv[1];
	if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
		if (strcmp(name, "help") == 0 && argc > 2) {
			char *help_argv[] = { argv[2], "--help", NULL };

			for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
				if (strcmp(commands[i].name, argv[2]) == 0)
					return commands[i].run(2, help_argv);
			return app_usage_error(NULL, "unknown command '%s'", argv[2]);
		}
		usage(stdout);
		return APP_EXIT_OK;
	}
	if (strcmp(name, "--version") == 0) {
		printf("roller 0.1.0 (protocol %u.%u)\n", PROTO_VERSION, PROTO_VERSION_MINOR);
		return APP_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	/* `roller --adapter hci0 <command> ...`: the option may come first. */
	if (strcmp(name, "--adapter") == 0 && argc >= 4) {
		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
			if (strcmp(commands[i].name, argv[3]) == 0) {
				char *adapter = argv[2];

				/* Becomes: <command> --adapter hciN <rest...> */
				argv[1] = argv[3];
				argv[2] = "--adapter";
				argv[3] = adapter;
				return commands[i].run(argc - 1, argv + 1);
			}
		}
	}
	if (name[0] == '-')
		return app_usage_error(NULL, "unknown option '%s'", name);
	return app_usage_error(NULL, "unknown command '%s' (roller --help lists them)",
			       name);
}
