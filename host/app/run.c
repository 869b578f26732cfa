/* One session on one sd-event loop, shared by `coach` and `replay`. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "app.h"

struct run_ctx {
	sd_event *ev;
	struct session *session;
	bool done;
	int err;
};

int app_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "roller%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'roller %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
	return APP_EXIT_USAGE;
}

int app_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "roller%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return APP_EXIT_FAILURE;
}

int app_sessions_dir(char *out, size_t size)
{
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	int n;

	if (xdg && xdg[0] == '/')
		n = snprintf(out, size, "%s/roller/sessions", xdg);
	else if (home && home[0])
		n = snprintf(out, size, "%s/.local/share/roller/sessions", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int app_parse_uint(const char *text, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!text || !*text || *text == '-')
		return -EINVAL;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || *end)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int app_parse_weight(const char *text, uint16_t *dkg)
{
	char *end;
	double kg = strtod(text, &end);

	if (end == text || *end || !(kg >= 20 && kg <= 250))
		return -EINVAL;
	*dkg = (uint16_t)(kg * 10.0 + 0.5);
	return 0;
}

int app_parse_speed(const char *text, double *speed)
{
	char *end;
	double v;

	if (strcmp(text, "max") == 0) {
		*speed = 0;
		return 0;
	}
	errno = 0;
	v = strtod(text, &end);
	if (errno || end == text || *end || v != v || v < 0 || v > 1000)
		return -EINVAL;
	*speed = v;
	return 0;
}

enum ui_mode app_ui_mode(bool plain, bool json)
{
	if (json)
		return UI_MODE_JSON;
	if (plain)
		return UI_MODE_PLAIN;
	return isatty(STDOUT_FILENO) && isatty(STDIN_FILENO) ? UI_MODE_SCREEN : UI_MODE_PLAIN;
}

static void on_done(void *userdata, int err)
{
	struct run_ctx *ctx = userdata;

	ctx->done = true;
	ctx->err = err;
	sd_event_exit(ctx->ev, 0);
}

static int on_signal(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
	struct run_ctx *ctx = userdata;

	(void)src;
	(void)si;
	if (ctx->session)
		session_stop(ctx->session);
	else
		sd_event_exit(ctx->ev, 0);
	return 0;
}

static void on_key(void *userdata, int key)
{
	struct run_ctx *ctx = userdata;

	if (!ctx->session)
		return;
	switch (key) {
	case UI_KEY_QUIT:
		session_stop(ctx->session);
		break;
	case UI_KEY_RELIEF:
		session_input(ctx->session, COACH_INPUT_RELIEF);
		break;
	case UI_KEY_SKIP:
		session_input(ctx->session, COACH_INPUT_SKIP);
		break;
	default:
		break;
	}
}

int app_run_session(const char *cmd, const struct session_options *opt,
		    const struct ui_options *ui_opt, struct app_run_result *result)
{
	struct run_ctx ctx = { 0 };
	struct session_options sopt = *opt;
	struct ui_options uopt = *ui_opt;
	struct ui *ui = NULL;
	sigset_t mask;
	const char *log_path;
	int r;

	memset(result, 0, sizeof(*result));
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	r = sd_event_new(&ctx.ev);
	if (r < 0)
		return r;
	r = sd_event_add_signal(ctx.ev, NULL, SIGINT, on_signal, &ctx);
	if (r >= 0)
		r = sd_event_add_signal(ctx.ev, NULL, SIGTERM, on_signal, &ctx);
	if (r >= 0)
		r = sd_event_add_signal(ctx.ev, NULL, SIGHUP, on_signal, &ctx);
	if (r < 0)
		goto out;

	uopt.key = on_key;
	uopt.userdata = &ctx;
	r = ui_create(&ui, ctx.ev, &uopt);
	if (r == -ENOTTY && uopt.mode == UI_MODE_SCREEN) {
		uopt.mode = UI_MODE_PLAIN;
		r = ui_create(&ui, ctx.ev, &uopt);
	}
	if (r < 0)
		goto out;

	sopt.done = on_done;
	sopt.userdata = &ctx;
	r = session_create(&ctx.session, ctx.ev, ui, &sopt);
	if (r < 0) {
		ui_close(ui);
		goto out;
	}
	r = sd_event_loop(ctx.ev);
	if (r >= 0)
		r = 0;
	ui_close(ui);
	result->err = ctx.done ? ctx.err : r;
	result->coached = session_coach(ctx.session) != NULL;
	log_path = session_log_path(ctx.session);
	if (log_path)
		snprintf(result->log_path, sizeof(result->log_path), "%s", log_path);
	session_counters(ctx.session, &result->counters);
	(void)cmd;
out:
	session_destroy(ctx.session);
	ui_destroy(ui);
	sd_event_unref(ctx.ev);
	return r;
}
