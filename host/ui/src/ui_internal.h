/* Private to host/ui: the backends behind struct ui. */
#ifndef ROLLER_UI_INTERNAL_H
#define ROLLER_UI_INTERNAL_H

#include "roller/ui.h"

struct ui;
struct screen;
struct sound;

struct ui_backend {
	void (*start)(struct ui *ui, const struct ui_info *info);
	void (*link)(struct ui *ui, enum transport_state st, int err, const char *detail,
		     uint32_t time_ms);
	void (*cue)(struct ui *ui, const struct coach_cue *cue, const struct coach_state *state);
	void (*phase)(struct ui *ui, const struct coach_state *state);
	void (*hold)(struct ui *ui, const struct coach_hold *hold, const struct coach_state *state);
	void (*status)(struct ui *ui, const struct ui_status *status);
	void (*notice)(struct ui *ui, const char *text);
	void (*summary)(struct ui *ui, const struct coach_summary *s, const struct coach_state *state);
	void (*close)(struct ui *ui);
};

struct ui {
	struct ui_options opt;
	const struct ui_backend *backend;
	sd_event *ev;
	FILE *out;
	bool closed;
	bool out_is_tty;
	struct sound *sound;
	sd_event_source *stdin_source;
	char keybuf[64];
	size_t keylen;
	/* A copy of the session description (ui_info points into the session). */
	bool started;
	struct coach_plan plan;
	struct ui_info info;
	char transport[16];
	char roller_id[32];
	struct screen *screen;
};

extern const struct ui_backend ui_plain_backend;
extern const struct ui_backend ui_json_backend;
extern const struct ui_backend ui_screen_backend;

int screen_create(struct ui *ui);
void screen_destroy(struct ui *ui);

int sound_open(struct sound **out, char *err, size_t errlen);
void sound_cue(struct sound *s, uint8_t cue_kind);
void sound_close(struct sound *s);

/* Shared text helpers. */
/* "12.3" seconds from ms */
void ui_format_clock(char *buf, size_t size, uint32_t ms); /* m:ss */
double ui_newtons(int32_t dn);
double ui_percent(uint16_t permille);

#endif
