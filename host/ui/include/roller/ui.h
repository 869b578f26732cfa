/*
 * What the person sees and hears while coaching or replaying: a full-screen
 * ncurses view, one line per change (--plain), or JSON lines (--json).
 *
 * The session glue (roller/session.h) calls these as things happen. Every
 * call that prints carries the coach's time (device time since the first
 * sample), never the wall clock, so that the --plain and --json output of a
 * replay equals the live one. The screen reads keys from the terminal and
 * hands them to the key callback; --plain and --json read one key per line
 * from stdin when it is a terminal.
 *
 * Errors: 0 or a negative errno.
 */
#ifndef ROLLER_UI_H
#define ROLLER_UI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <systemd/sd-event.h>

#include "roller/coach.h"
#include "roller/transport.h"

enum ui_mode {
	UI_MODE_PLAIN = 0,  /* one line per state change, cue and hold */
	UI_MODE_JSON = 1,   /* JSON lines (json-c), deterministic */
	UI_MODE_SCREEN = 2  /* ncurses full screen */
};

/* Keys passed to ui_options.key. */
#define UI_KEY_RELIEF 'r' /* the tenderness has eased: release early */
#define UI_KEY_SKIP 's'   /* skip the rest */
#define UI_KEY_QUIT 'q'   /* end the session */

struct ui_options {
	enum ui_mode mode;
	FILE *out;      /* plain and JSON lines; NULL = stdout */
	FILE *notices;  /* plain/JSON notices (ui_notice); NULL = stderr */
	bool bell;      /* ring the terminal bell on cues (plain: only on a terminal) */
	bool sound;     /* play tones through ALSA (warns once and goes on without) */
	bool color;     /* screen colours; false when NO_COLOR is set */
	bool keys;      /* plain/JSON: read keys from stdin (the screen always does) */
	bool summary_only; /* plain/JSON: print the summary and notices only */
	void (*key)(void *userdata, int key);
	void *userdata;
};

/* What the session is, known once the roller's Info frame has arrived. */
struct ui_info {
	const char *transport;      /* "sim", "replay", ... (screen title only) */
	const char *roller_id;
	bool replay;
	uint8_t region;             /* enum proto_region */
	const struct coach_plan *plan;
	const struct coach_state *state; /* band, over-pressure limit */
	uint16_t body_weight_dkg;
	uint8_t fw_major, fw_minor, fw_patch;
	uint8_t calibration;        /* enum proto_calibration */
	uint16_t sample_period_us;
};

/* The latest numbers, for the screen (plain/JSON ignore it). */
struct ui_status {
	const struct coach_state *coach; /* NULL before the Info frame */
	enum transport_state link;
	int battery_pct;                 /* -1: unknown */
	bool recording;                  /* the roller records this session too */
	uint64_t frames;
	uint32_t bad_frames;
};

struct ui;

/*
 * Creates the UI on ev. SCREEN takes over the terminal (restored by
 * ui_close(), ui_destroy() and on exit). Returns 0, -ENOMEM, -ENOTTY (SCREEN
 * without a terminal), or a -errno from sd-event.
 */
int ui_create(struct ui **out, sd_event *ev, const struct ui_options *opt);

void ui_start(struct ui *ui, const struct ui_info *info);
/* A link change; time_ms is the coach time (0 before the first sample). */
void ui_link(struct ui *ui, enum transport_state st, int err, const char *detail,
	     uint32_t time_ms);
void ui_cue(struct ui *ui, const struct coach_cue *cue, const struct coach_state *state);
void ui_phase(struct ui *ui, const struct coach_state *state);
void ui_hold(struct ui *ui, const struct coach_hold *hold, const struct coach_state *state);
void ui_status(struct ui *ui, const struct ui_status *status);
/* A human message (warnings, hints). Plain/JSON: stderr; screen: its status line. */
void ui_notice(struct ui *ui, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The end: the summary (JSON: one line; plain/screen: a few lines). The
 * screen restores the terminal first. */
void ui_summary(struct ui *ui, const struct coach_summary *summary,
		const struct coach_state *state);
/* Restores the terminal (screen); later notices go to stderr. Idempotent. */
void ui_close(struct ui *ui);
void ui_destroy(struct ui *ui);

/* "connecting", "connected", "lost", "ended", "failed". */
const char *ui_link_str(enum transport_state st);

/* The summary as text lines, shared by plain and screen (and `roller replay
 * --summary`). */
void ui_print_summary(FILE *f, const struct coach_summary *s);

#endif
