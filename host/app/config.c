/*
 * config.ini through inih. Debian's inih does not pass line numbers to the
 * handler, so the file is fed through a reader that counts lines: every
 * message can then name file:line.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "config.h"

struct parse_ctx {
	struct config *cfg;
	FILE *file;
	unsigned line;
	char *err;
	size_t errlen;
	bool failed;
};

static char *counting_reader(char *str, int num, void *stream)
{
	struct parse_ctx *ctx = stream;
	char *r = fgets(str, num, ctx->file);

	if (r)
		ctx->line++;
	return r;
}

static int fail(struct parse_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ctx->failed)
		return 0;
	ctx->failed = true;
	n = snprintf(ctx->err, ctx->errlen, "%s:%u: ", ctx->cfg->path, ctx->line);
	if (n < 0 || (size_t)n >= ctx->errlen)
		return 0;
	va_start(ap, fmt);
	vsnprintf(ctx->err + n, ctx->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return 0; /* tells inih to report this line */
}

static void warn(struct parse_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "roller: %s:%u: warning: ", ctx->cfg->path, ctx->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A decimal number with at most one fractional digit, as tenths. */
static int parse_tenths(const char *s, long min_tenths, long max_tenths, long *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end != '\0' || v != v)
		return -EINVAL;
	if (v < 0 || v * 10.0 < (double)min_tenths - 0.5 || v * 10.0 > (double)max_tenths + 0.5)
		return -ERANGE;
	*out = (long)(v * 10.0 + 0.5); /* v >= 0 here */
	return 0;
}

static int parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0')
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static bool valid_address(const char *s)
{
	int i;

	if (strlen(s) != 17)
		return false;
	for (i = 0; i < 17; i++) {
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

static int number_error(struct parse_ctx *ctx, int err, const char *key, const char *value,
			const char *range)
{
	if (err == -ERANGE)
		return fail(ctx, "%s = %s is out of range (%s)", key, value, range);
	return fail(ctx, "%s = \"%s\" is not a number (%s)", key, value, range);
}

static int handle_plan(struct parse_ctx *ctx, struct config_plan *p, const char *key,
		       const char *value)
{
	long v;
	int r;

	if (strcmp(key, "hold_s") == 0) {
		r = parse_int(value, 1, 3600, &v);
		if (r)
			return number_error(ctx, r, key, value, "1..3600 seconds");
		p->hold_s = (uint16_t)v;
		p->has_hold = true;
	} else if (strcmp(key, "reps") == 0) {
		r = parse_int(value, 1, COACH_REPS_MAX, &v);
		if (r)
			return number_error(ctx, r, key, value, "1..10");
		p->reps = (uint8_t)v;
		p->has_reps = true;
	} else if (strcmp(key, "rest_s") == 0) {
		r = parse_int(value, 0, 600, &v);
		if (r)
			return number_error(ctx, r, key, value, "0..600 seconds");
		p->rest_s = (uint16_t)v;
		p->has_rest = true;
	} else if (strcmp(key, "band_low_pct") == 0 || strcmp(key, "band_high_pct") == 0) {
		/* tenths of a percent are permille */
		r = parse_tenths(value, 10, 1000, &v);
		if (r)
			return number_error(ctx, r, key, value, "1..100 % of body weight");
		if (key[5] == 'l') {
			p->band_low_permille = (uint16_t)v;
			p->has_low = true;
		} else {
			p->band_high_permille = (uint16_t)v;
			p->has_high = true;
		}
		p->band_line = ctx->line;
		if (p->has_low && p->has_high && p->band_low_permille >= p->band_high_permille)
			return fail(ctx, "band_low_pct (%.1f) must be below band_high_pct (%.1f)",
				    p->band_low_permille / 10.0, p->band_high_permille / 10.0);
	} else {
		warn(ctx, "unknown key \"%s\" in a plan section (ignored; known: hold_s, reps, "
			  "rest_s, band_low_pct, band_high_pct)", key);
	}
	return 1;
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct parse_ctx *ctx = user;
	struct config *cfg = ctx->cfg;
	long v;
	int r;

	if (ctx->failed)
		return 0;
	if (strcmp(section, "user") == 0) {
		if (strcmp(key, "body_weight_kg") == 0) {
			r = parse_tenths(value, 200, 2500, &v);
			if (r)
				return number_error(ctx, r, key, value, "20..250 kg");
			cfg->body_weight_dkg = (uint16_t)v;
		} else {
			warn(ctx, "unknown key \"%s\" in [user] (ignored; known: body_weight_kg)", key);
		}
		return 1;
	}
	if (strcmp(section, "roller") == 0) {
		if (strcmp(key, "default") == 0) {
			if (!valid_address(value))
				return fail(ctx, "default = \"%s\" is not a Bluetooth address "
						 "(expected XX:XX:XX:XX:XX:XX)", value);
			snprintf(cfg->default_roller, sizeof(cfg->default_roller), "%s", value);
		} else {
			warn(ctx, "unknown key \"%s\" in [roller] (ignored; known: default)", key);
		}
		return 1;
	}
	if (strncmp(section, "plan.", 5) == 0) {
		uint8_t region;

		if (proto_region_parse(section + 5, &region) < 0 || region == PROTO_REGION_NONE)
			return fail(ctx, "unknown region in [%s] (regions: calves, shins, hamstrings, "
					 "quadriceps, it-band, glutes, lower-back, upper-back, "
					 "shoulders, neck)", section);
		if (!cfg->plans[region].section_line)
			cfg->plans[region].section_line = ctx->line;
		return handle_plan(ctx, &cfg->plans[region], key, value);
	}
	warn(ctx, "unknown section [%s] (ignored)", section);
	return 1;
}

int config_default_path(char *out, size_t size)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	int n;

	/* The XDG spec says relative values are to be ignored. */
	if (xdg && xdg[0] == '/')
		n = snprintf(out, size, "%s/roller/config.ini", xdg);
	else if (home && home[0])
		n = snprintf(out, size, "%s/.config/roller/config.ini", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	struct parse_ctx ctx = { .cfg = cfg, .err = err, .errlen = errlen };
	int r;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	if (errlen)
		err[0] = '\0';
	ctx.file = fopen(path, "re");
	if (!ctx.file) {
		r = -errno;
		if (r == -ENOENT)
			return 0;
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-r));
		return r;
	}
	cfg->found = true;
	r = ini_parse_stream(counting_reader, &ctx, handler, &ctx);
	fclose(ctx.file);
	if (r == 0)
		return 0;
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot parse (out of memory?)", path);
		return -ENOMEM;
	}
	if (!ctx.failed)
		snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)",
			 path, r);
	return -EINVAL;
}

int config_apply_plan(const struct config *cfg, struct coach_plan *plan, char *err,
		      size_t errlen)
{
	const struct config_plan *p;
	unsigned line;

	if (plan->region == PROTO_REGION_NONE || plan->region > PROTO_REGION_LAST)
		return -EINVAL;
	p = &cfg->plans[plan->region];
	if (p->has_hold) {
		plan->hold_ms = p->hold_s * 1000u;
		if (plan->effective_ms > plan->hold_ms)
			plan->effective_ms = plan->hold_ms;
	}
	if (p->has_reps)
		plan->reps = p->reps;
	if (p->has_rest)
		plan->rest_ms = p->rest_s * 1000u;
	if (p->has_low)
		plan->band_low_permille = p->band_low_permille;
	if (p->has_high)
		plan->band_high_permille = p->band_high_permille;
	if (coach_plan_check(plan) == 0)
		return 0;
	line = p->band_line ? p->band_line : p->section_line;
	if (plan->band_low_permille >= plan->band_high_permille)
		snprintf(err, errlen, "%s:%u: [plan.%s] band %.1f-%.1f %% is empty: band_low_pct "
			 "must be below band_high_pct", cfg->path, line, proto_region_str(plan->region),
			 plan->band_low_permille / 10.0, plan->band_high_permille / 10.0);
	else if (plan->band_high_permille >= plan->overpressure_permille)
		snprintf(err, errlen, "%s:%u: [plan.%s] band_high_pct %.1f is at or above the "
			 "over-pressure warning (%.1f %% of body weight)", cfg->path, line,
			 proto_region_str(plan->region), plan->band_high_permille / 10.0,
			 plan->overpressure_permille / 10.0);
	else
		snprintf(err, errlen, "%s:%u: [plan.%s] the plan is out of range", cfg->path, line,
			 proto_region_str(plan->region));
	return -ERANGE;
}
