/* roller rm: deletes a session: its log file and its history row. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "history_cli.h"

#define CMD "rm"

static void help(void)
{
	printf("Usage: roller rm <id> [--yes]\n\n"
	       "Deletes a session for good: its log file and its row in the history. <id> is\n"
	       "from `roller sessions`. Asks first on a terminal; --yes does not ask. Without\n"
	       "a terminal on stdin it refuses unless --yes is given.\n\n"
	       "  -y, --yes    delete without asking\n\n"
	       "Exit status: 0 deleted, 1 no such session, not confirmed, or the file cannot be\n"
	       "deleted (then nothing is), 2 usage error (also: no terminal and no --yes).\n");
}

static bool confirmed(const struct sindex_row *row)
{
	char when[32], answer[16];

	app_format_date(when, sizeof(when), row->started_unix_ms, "%Y-%m-%d %H:%M UTC");
	fprintf(stderr, "Delete session %lld (%s, %s, %u holds) and its log\n  %s\n"
			"for good? [y/N] ", (long long)row->id, when, proto_region_str(row->region),
		row->holds, row->path);
	fflush(stderr);
	if (!fgets(answer, sizeof(answer), stdin))
		return false;
	return strcmp(answer, "y\n") == 0 || strcmp(answer, "Y\n") == 0 ||
	       strcmp(answer, "yes\n") == 0;
}

int cmd_rm(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "yes", no_argument, NULL, 'y' },
		{ 0 },
	};
	struct sindex *ix;
	struct sindex_row row;
	bool yes = false;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "hy", options, NULL)) != -1) {
		switch (c) {
		case 'h':
			help();
			return APP_EXIT_OK;
		case 'y':
			yes = true;
			break;
		default:
			return app_usage_error(CMD, "bad option");
		}
	}
	if (optind >= argc)
		return app_usage_error(CMD, "which session? (an id from `roller sessions`)");
	if (optind + 1 < argc)
		return app_usage_error(CMD, "unexpected argument '%s'", argv[optind + 1]);
	if (!app_is_id(argv[optind]))
		return app_usage_error(CMD, "'%s' is not a session id (see `roller sessions`)",
				       argv[optind]);
	if (!yes && !isatty(STDIN_FILENO))
		return app_usage_error(CMD, "not deleting without confirmation: stdin is not a "
				       "terminal (add --yes)");

	if (app_history_open(CMD, false, &ix) < 0)
		return APP_EXIT_FAILURE;
	r = sindex_get(ix, strtoll(argv[optind], NULL, 10), &row);
	if (r < 0) {
		sindex_close(ix);
		if (r == -ENOENT)
			return app_error(CMD, "no session %s in the history (see `roller sessions`)",
					 argv[optind]);
		return app_error(CMD, "cannot read the history: %s", strerror(-r));
	}
	if (!yes && !confirmed(&row)) {
		sindex_close(ix);
		return app_error(CMD, "not deleted");
	}
	/* The file first: a row without its file is dropped by the next
	 * `roller sessions` anyway, a file without its row would come back. */
	if (unlink(row.path) < 0 && errno != ENOENT) {
		r = -errno;
		sindex_close(ix);
		return app_error(CMD, "%s: %s; nothing deleted", row.path, strerror(-r));
	}
	r = sindex_remove(ix, row.id);
	if (r < 0 && r != -ENOENT) {
		app_error(CMD, "deleted %s, but its history row stays until the next `roller "
			       "sessions`: %s", row.path, sindex_errmsg(ix));
		sindex_close(ix);
		return APP_EXIT_FAILURE;
	}
	sindex_close(ix);
	printf("Deleted session %lld (%s)\n", (long long)row.id, row.path);
	return APP_EXIT_OK;
}
