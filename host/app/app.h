/* host/app: the `roller` command line. */
#ifndef ROLLER_APP_H
#define ROLLER_APP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "roller/session.h"
#include "roller/ui.h"

/* Exit statuses of every command. */
#define APP_EXIT_OK 0
#define APP_EXIT_FAILURE 1 /* runtime failure */
#define APP_EXIT_USAGE 2   /* bad command line */

int cmd_coach(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_sessions(int argc, char **argv);
int cmd_sync(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_trends(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_plot(int argc, char **argv);

/* Prints "roller <cmd>: <message>" and a hint to --help on stderr; returns
 * APP_EXIT_USAGE. */
int app_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "roller <cmd>: <message>" on stderr; returns APP_EXIT_FAILURE. */
int app_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* $XDG_DATA_HOME/roller/sessions, else ~/.local/share/roller/sessions.
 * Returns 0, -ENOENT (neither is set), -ENAMETOOLONG. */
int app_sessions_dir(char *out, size_t size);

/* "N" (> 0, at most 1000), "max" or "0" (as fast as possible = 0). */
int app_parse_speed(const char *text, double *speed);
int app_parse_uint(const char *text, unsigned long min, unsigned long max, unsigned long *out);
/* --body-weight: kilograms, 20 to 250 (decimals allowed), into 0.1 kg. */
int app_parse_weight(const char *text, uint16_t *dkg);

/* SCREEN on a terminal unless plain or json was asked for. */
enum ui_mode app_ui_mode(bool plain, bool json);

struct app_run_result {
	int err;                     /* from session done(): 0 or -errno */
	bool coached;                /* the coach was set up */
	char log_path[PATH_MAX];     /* "" when no log */
	struct session_counters counters;
};

/*
 * Runs one session on a new sd-event loop until it is done: UI, session,
 * SIGINT/SIGTERM (first: clean stop, second: end now), keys r/s/q.
 * Returns 0 or a -errno from setting up (the session's own outcome is in
 * result->err); the UI has been closed when it returns.
 */
int app_run_session(const char *cmd, const struct session_options *opt,
		    const struct ui_options *ui_opt, struct app_run_result *result);

#endif
