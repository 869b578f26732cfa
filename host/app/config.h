/*
 * config.ini: the user's settings, read with inih.
 *
 *   [user]            body_weight_kg = 20..250 (decimals allowed)
 *   [roller]          default = XX:XX:XX:XX:XX:XX
 *   [plan.<region>]   hold_s = 1..3600, reps = 1..10, rest_s = 0..600,
 *                     band_low_pct, band_high_pct = 1..100 (decimals allowed)
 *
 * Errors name the file and line. A missing file is not an error.
 */
#ifndef ROLLER_APP_CONFIG_H
#define ROLLER_APP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roller/coach.h"
#include "roller/protocol.h"

struct config_plan {
	bool has_hold, has_reps, has_rest, has_low, has_high;
	uint16_t hold_s;
	uint8_t reps;
	uint16_t rest_s;
	uint16_t band_low_permille, band_high_permille;
	unsigned band_line; /* line of the last band key, for errors */
	unsigned section_line;
};

struct config {
	char path[4096];
	bool found;                /* the file exists and was read */
	uint16_t body_weight_dkg;  /* 0 = not set */
	char default_roller[18];   /* "" = not set */
	struct config_plan plans[PROTO_REGION_LAST + 1];
};

/* Default location: $XDG_CONFIG_HOME/roller/config.ini, else
 * ~/.config/roller/config.ini. Returns 0 or -ENAMETOOLONG / -ENOENT (no HOME). */
int config_default_path(char *out, size_t size);

/*
 * Reads path into *cfg (zeroed first). A missing file leaves the defaults
 * and returns 0 with cfg->found false. Returns -EINVAL for a value out of
 * range, an unknown region or a syntax error (err gets "file:line: what"),
 * or another -errno when the file cannot be read (err says so).
 * Unknown keys and sections are reported on stderr and ignored.
 */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen);

/*
 * Applies the overrides for plan->region onto *plan (a default plan) and
 * checks the result with coach_plan_check(). Returns 0, or -ERANGE with err
 * naming file:line (e.g. a band above the over-pressure limit).
 */
int config_apply_plan(const struct config *cfg, struct coach_plan *plan, char *err,
		      size_t errlen);

#endif
