/* roller plot: a session as a picture (PNG or SVG). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "history_cli.h"

#define CMD "plot"

static void help(void)
{
	printf("Usage: roller plot <id|file> -o FILE.png|FILE.svg [--size WxH]\n\n"
	       "Draws a session: force over time in newtons (left axis) and in %% of body\n"
	       "weight (right axis), the target band shaded, each hold as a bar with its\n"
	       "repetition and duration (green complete, teal released early, orange partial,\n"
	       "red reset, grey stopped), drops out of the band as red triangles, lost samples\n"
	       "hatched (the line breaks there), the over-pressure limit dashed when the force\n"
	       "came near it, and a title with the region and date. <id> is from `roller\n"
	       "sessions`; a session log file works too.\n\n"
	       "  -o FILE      the picture; .png or .svg says which (mode 0600, replaced only\n"
	       "               once complete)\n"
	       "  --size WxH   pixels (PNG) or points (SVG), 320x200 to 8000x4000\n"
	       "               (default 1200x600)\n\n"
	       "Exit status: 0 drawn, 1 the session cannot be read or FILE written (then FILE\n"
	       "is left as it was), 2 usage error.\n");
}

enum { OPT_SIZE = 0x100 };

static int parse_size(const char *text, unsigned *w, unsigned *h)
{
	char *end;
	unsigned long a, b;

	if (*text < '0' || *text > '9')
		return -EINVAL;
	a = strtoul(text, &end, 10);
	if (*end != 'x' && *end != 'X')
		return -EINVAL;
	text = end + 1;
	if (*text < '0' || *text > '9')
		return -EINVAL;
	b = strtoul(text, &end, 10);
	if (*end || a < 320 || a > 8000 || b < 200 || b > 4000)
		return -ERANGE;
	*w = (unsigned)a;
	*h = (unsigned)b;
	return 0;
}

int cmd_plot(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "output", required_argument, NULL, 'o' },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ 0 },
	};
	const char *output = NULL, *dot;
	enum history_plot_format format;
	unsigned width = 1200, height = 600;
	struct history_session *s;
	char path[4096];
	int64_t id;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "ho:", options, NULL)) != -1) {
		switch (c) {
		case 'h':
			help();
			return APP_EXIT_OK;
		case 'o':
			output = optarg;
			break;
		case OPT_SIZE:
			if (parse_size(optarg, &width, &height) < 0)
				return app_usage_error(CMD, "--size '%s': expected WxH, 320x200 to 8000x4000",
						       optarg);
			break;
		default:
			return app_usage_error(CMD, "bad option");
		}
	}
	if (optind >= argc)
		return app_usage_error(CMD, "which session? (an id from `roller sessions`, or a file)");
	if (optind + 1 < argc)
		return app_usage_error(CMD, "unexpected argument '%s'", argv[optind + 1]);
	if (!output)
		return app_usage_error(CMD, "where to? (-o FILE.png or -o FILE.svg)");
	dot = strrchr(output, '.');
	if (dot && strcasecmp(dot, ".png") == 0)
		format = HISTORY_PLOT_PNG;
	else if (dot && strcasecmp(dot, ".svg") == 0)
		format = HISTORY_PLOT_SVG;
	else
		return app_usage_error(CMD, "-o '%s': the name must end in .png or .svg", output);

	if (app_resolve_session(CMD, argv[optind], path, sizeof(path), &id) < 0)
		return APP_EXIT_FAILURE;
	if (app_load_session(CMD, path, HISTORY_LOAD_ALL, &s) < 0)
		return APP_EXIT_FAILURE;
	r = history_plot(s, output, format, width, height);
	history_free(s);
	if (r < 0)
		return app_error(CMD, "%s: %s", output, strerror(-r));
	return APP_EXIT_OK;
}
