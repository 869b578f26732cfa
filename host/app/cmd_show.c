/* roller show: one session in detail (header, plan, holds, summary). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "history_cli.h"

#define CMD "show"

static void help(void)
{
	printf("Usage: roller show <id|file>\n\n"
	       "Shows one session: when, which roller and firmware, the plan it was coached\n"
	       "with, every hold (start, duration, time in band, mean and peak force, dips,\n"
	       "how it ended) and the summary. <id> is from `roller sessions`; a session log\n"
	       "file works too. The numbers come from replaying the log, as `roller replay`.\n\n"
	       "Exit status: 0 shown, 1 no such session or the log cannot be read, 2 usage\n"
	       "error.\n");
}

static const char *calibration_str(uint8_t c)
{
	switch (c) {
	case PROTO_CAL_NONE:
		return "none (forces are raw counts)";
	case PROTO_CAL_TARED:
		return "tared, default scale";
	case PROTO_CAL_VALID:
		return "calibrated";
	case PROTO_CAL_INVALID:
		return "invalid";
	default:
		return "?";
	}
}

static void clock_text(char *buf, size_t size, uint32_t ms)
{
	uint32_t s = (ms + 999u) / 1000u; /* as the summary shows it */

	snprintf(buf, size, "%u:%02u", s / 60u, s % 60u);
}

int cmd_show(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct history_session *s;
	const struct rlog_header *h;
	const struct coach_plan *p;
	char path[4096], when[48];
	uint32_t weight_dn;
	int64_t id;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'h':
			help();
			return APP_EXIT_OK;
		default:
			return app_usage_error(CMD, "bad option");
		}
	}
	if (optind >= argc)
		return app_usage_error(CMD, "which session? (an id from `roller sessions`, or a file)");
	if (optind + 1 < argc)
		return app_usage_error(CMD, "unexpected argument '%s'", argv[optind + 1]);
	if (app_resolve_session(CMD, argv[optind], path, sizeof(path), &id) < 0)
		return APP_EXIT_FAILURE;
	if (app_load_session(CMD, path, 0, &s) < 0)
		return APP_EXIT_FAILURE;

	h = &s->header;
	p = &s->config.plan;
	weight_dn = coach_weight_dn(h->body_weight_dkg);
	app_format_date(when, sizeof(when), (int64_t)h->created_unix_ms, "%Y-%m-%d %H:%M:%S UTC");
	if (id)
		printf("Session %lld\n", (long long)id);
	else
		printf("Session\n");
	printf("  file         %s%s\n", s->path, s->torn ? "  (torn tail: cut off while written)" : "");
	printf("  started      %s\n", when);
	printf("  region       %s\n", proto_region_str(h->region));
	printf("  roller       %s over %s, firmware %u.%u.%u, protocol %u.%u\n", h->roller_id,
	       h->transport[0] ? h->transport : "?", h->fw_major, h->fw_minor, h->fw_patch,
	       h->proto_major, h->proto_minor);
	printf("  calibration  %s\n", calibration_str(h->calibration));
	printf("  sampling     %.1f Hz\n", 1e6 / s->sample_period_us);
	printf("  body weight  %.1f kg\n", h->body_weight_dkg / 10.0);
	printf("Plan\n");
	printf("  %u x %.0f s holds, %.0f s rest; a hold counts after %.0f s; dips up to %.1f s "
	       "pause it\n", p->reps, p->hold_ms / 1000.0, p->rest_ms / 1000.0,
	       p->effective_ms / 1000.0, p->grace_ms / 1000.0);
	printf("  target band %.1f-%.1f N (%.1f-%.1f %% of body weight)\n",
	       weight_dn * p->band_low_permille / 10000.0, weight_dn * p->band_high_permille / 10000.0,
	       p->band_low_permille / 10.0, p->band_high_permille / 10.0);
	if (p->hint)
		printf("  %s\n", p->hint);
	if (s->n_holds) {
		printf("Holds\n  %3s  %-13s  %5s  %8s  %7s  %15s  %6s  %4s\n", "REP", "RESULT", "START",
		       "DURATION", "IN BAND", "MEAN N (% BW)", "PEAK N", "DIPS");
		for (size_t i = 0; i < s->n_holds; i++) {
			const struct coach_hold *x = &s->holds[i];
			int32_t pos = proto_seq_diff(s->first_index, x->start_sample);
			uint32_t start_ms = pos > 0 ? (uint32_t)((uint64_t)pos * s->sample_period_us / 1000u)
						    : 0;
			char start[16], duration[16], in_band[16], mean[32];

			clock_text(start, sizeof(start), start_ms);
			clock_text(duration, sizeof(duration), x->duration_ms);
			clock_text(in_band, sizeof(in_band), x->in_band_ms);
			snprintf(mean, sizeof(mean), "%.1f (%.1f %%)", x->mean_force_dn / 10.0,
				 history_percent_bw(x->mean_force_dn, h->body_weight_dkg));
			printf("  %3u  %-13s  %5s  %8s  %7s  %15s  %6.1f  %4u%s%s\n", x->rep,
			       coach_hold_result_str(x->result), start, duration, in_band, mean,
			       x->peak_force_dn / 10.0, x->dips, x->end_cause ? "  ended: " : "",
			       x->end_cause ? coach_dip_cause_str(x->end_cause) : "");
		}
		if (s->summary.holds > s->n_holds)
			printf("  ... and %u more (the first %zu are kept)\n",
			       s->summary.holds - (unsigned)s->n_holds, s->n_holds);
	} else {
		printf("Holds\n  none\n");
	}
	ui_print_summary(stdout, &s->summary);
	history_free(s);
	return APP_EXIT_OK;
}
