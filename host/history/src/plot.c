/*
 * roller plot: one session as a picture (cairo), PNG or SVG.
 *
 *   title: region, date; a line of numbers
 *   a lane of hold bars (rep: duration), coloured by how the hold ended
 *   force (N, left axis; % of body weight, right axis) over time (m:ss),
 *   the target band shaded, the over-pressure limit dashed, lost samples
 *   hatched (the line breaks there), drops marked with red triangles
 *   a legend under the time axis
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cairo.h>
#include <cairo-svg.h>

#include "roller/history.h"
#include "roller/protocol.h"

/* Colours (r, g, b in 0..1). The band is opaque so that it stays one
 * colour where nothing is drawn over it (tests look for it). */
#define BAND_RGB 0.80, 0.92, 0.80        /* #CCEBCC */
#define FORCE_RGB 0.12, 0.31, 0.61       /* #1F4F9C */
#define GRID_RGB 0.88, 0.88, 0.88
#define AXIS_RGB 0.25, 0.25, 0.25
#define TEXT_RGB 0.10, 0.10, 0.10
#define DROP_RGB 0.84, 0.15, 0.16
#define OVER_RGB 0.90, 0.45, 0.05
#define GAP_RGB 0.80, 0.80, 0.80

struct frame {
	double width, height;
	double fs;             /* base font size */
	double x0, y0, x1, y1; /* plot area */
	double t_max;          /* s */
	double f_max;          /* N */
	double weight_n;       /* body weight as a force, N (0 = unknown) */
	double lane_y, lane_h; /* hold lane */
};

static double px(const struct frame *fr, double t_s)
{
	return fr->x0 + (fr->x1 - fr->x0) * t_s / fr->t_max;
}

static double py(const struct frame *fr, double newtons)
{
	double v = newtons < 0 ? 0 : newtons > fr->f_max ? fr->f_max : newtons;

	return fr->y1 - (fr->y1 - fr->y0) * v / fr->f_max;
}

static double nice_step(double range, double target)
{
	double raw = range / target, mag, r;

	if (!(raw > 0))
		return 1;
	mag = pow(10, floor(log10(raw)));
	r = raw / mag;
	return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 2.5 ? 2.5 : r <= 5 ? 5 : 10) * mag;
}

static double time_step(double t_max, double max_ticks)
{
	static const double steps[] = { 1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 300, 600,
					900, 1200, 1800, 3600, 7200, 14400 };

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (t_max / steps[i] <= max_ticks)
			return steps[i];
	return nice_step(t_max, max_ticks);
}

/* m:ss, or h:mm:ss for every label of an axis that reaches an hour. */
static void format_clock(char *buf, size_t size, double seconds, bool hours)
{
	long s = lround(seconds);

	if (hours || s >= 3600)
		snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

static void format_duration(char *buf, size_t size, uint32_t ms)
{
	unsigned s = (unsigned)((ms + 500u) / 1000u);

	if (s < 100u)
		snprintf(buf, size, "%u s", s);
	else if (s % 60u == 0)
		snprintf(buf, size, "%u min", s / 60u);
	else
		snprintf(buf, size, "%u min %u s", s / 60u, s % 60u);
}

/* ---- Text --------------------------------------------------------------------- */

enum align { LEFT, CENTER, RIGHT };

static double text_width(cairo_t *cr, const char *text)
{
	cairo_text_extents_t ext;

	cairo_text_extents(cr, text, &ext);
	return ext.x_advance;
}

/* Text with its baseline at y. */
static void text_at(cairo_t *cr, double x, double y, enum align align, const char *text)
{
	double w = text_width(cr, text);

	cairo_move_to(cr, align == LEFT ? x : align == CENTER ? x - w / 2 : x - w, y);
	cairo_show_text(cr, text);
}

/* Text on a white patch, so that grid lines do not strike it through; the
 * colour in force is kept for the text. */
static void text_on_white(cairo_t *cr, double x, double y, enum align align, const char *text)
{
	cairo_pattern_t *colour = cairo_pattern_reference(cairo_get_source(cr));
	cairo_text_extents_t ext;
	double left;

	cairo_text_extents(cr, text, &ext);
	left = align == LEFT ? x : align == CENTER ? x - ext.x_advance / 2 : x - ext.x_advance;
	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_rectangle(cr, left - 2, y + ext.y_bearing - 1, ext.x_advance + 4, ext.height + 2);
	cairo_fill(cr);
	cairo_set_source(cr, colour);
	cairo_pattern_destroy(colour);
	text_at(cr, x, y, align, text);
}

static void font(cairo_t *cr, double size, bool bold)
{
	cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
			       bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(cr, size);
}

/* ---- Pieces ------------------------------------------------------------------ */

static void hold_colour(cairo_t *cr, uint8_t result)
{
	switch (result) {
	case COACH_HOLD_COMPLETE:
		cairo_set_source_rgb(cr, 0.18, 0.55, 0.24);
		break;
	case COACH_HOLD_EARLY_RELEASE:
		cairo_set_source_rgb(cr, 0.10, 0.55, 0.60);
		break;
	case COACH_HOLD_PARTIAL:
		cairo_set_source_rgb(cr, 0.85, 0.55, 0.10);
		break;
	case COACH_HOLD_RESET:
		cairo_set_source_rgb(cr, 0.75, 0.25, 0.25);
		break;
	default:
		cairo_set_source_rgb(cr, 0.50, 0.50, 0.50);
		break;
	}
}

static const char *hold_word(uint8_t result)
{
	switch (result) {
	case COACH_HOLD_EARLY_RELEASE:
		return "early";
	case COACH_HOLD_PARTIAL:
		return "partial";
	case COACH_HOLD_RESET:
		return "reset";
	case COACH_HOLD_STOPPED:
		return "stopped";
	default:
		return NULL;
	}
}

static double hold_start_s(const struct history_session *s, const struct coach_hold *h)
{
	int32_t pos = proto_seq_diff(s->first_index, h->start_sample);

	return pos <= 0 ? 0 : (double)pos * s->sample_period_us / 1e6;
}

static void draw_title(cairo_t *cr, const struct frame *fr, const struct history_session *s)
{
	const struct rlog_header *h = &s->header;
	const struct coach_summary *m = &s->summary;
	char title[160], when[48] = "unknown date", line[400], dur[24], part[5][80];
	time_t secs = (time_t)(h->created_unix_ms / 1000u);
	const char *region = proto_region_str(h->region);
	struct tm tm;

	if (gmtime_r(&secs, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	snprintf(title, sizeof(title), "%c%s, %s", region[0] >= 'a' && region[0] <= 'z'
						   ? region[0] - 'a' + 'A' : region[0],
		 region[0] ? region + 1 : "", when);
	cairo_set_source_rgb(cr, TEXT_RGB);
	font(cr, fr->fs * 1.45, true);
	text_at(cr, fr->x0, fr->fs * 1.8, LEFT, title);

	format_clock(dur, sizeof(dur), ceil(m->session_ms / 1000.0), false); /* as the summary */
	if (m->holds) {
		snprintf(part[0], sizeof(part[0]), "%u of %u holds complete", m->complete,
			 m->reps_planned);
		snprintf(part[1], sizeof(part[1]), "in holds: mean %.1f N (%.1f %% BW), peak %.1f N",
			 m->mean_force_dn / 10.0, m->mean_force_permille / 10.0,
			 m->peak_force_dn / 10.0);
	} else {
		snprintf(part[0], sizeof(part[0]), "no holds");
		part[1][0] = '\0';
	}
	snprintf(part[2], sizeof(part[2]), "session %s", dur);
	snprintf(part[3], sizeof(part[3]), "body weight %.1f kg", h->body_weight_dkg / 10.0);
	snprintf(part[4], sizeof(part[4]), "roller %s", h->roller_id);
	/* As many parts as the width takes, most important first. */
	font(cr, fr->fs, false);
	line[0] = '\0';
	for (size_t i = 0; i < 5; i++) {
		size_t len = strlen(line);

		if (!part[i][0])
			continue;
		const char *sep = len ? " \xc2\xb7 " : "";
		size_t n_sep = strlen(sep), n_part = strlen(part[i]);

		if (len + n_sep + n_part >= sizeof(line))
			break;
		memcpy(line + len, sep, n_sep);
		memcpy(line + len + n_sep, part[i], n_part + 1);
		if (text_width(cr, line) > fr->width - fr->x0 - fr->fs) {
			line[len] = '\0';
			break;
		}
	}
	cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
	text_at(cr, fr->x0, fr->fs * 3.4, LEFT, line);
}

static void draw_grid_and_axes(cairo_t *cr, const struct frame *fr)
{
	char label[32];
	double step = nice_step(fr->f_max, (fr->y1 - fr->y0) / (fr->fs * 3.5));
	double tstep = time_step(fr->t_max, (fr->x1 - fr->x0) / (fr->fs * 5.5));

	font(cr, fr->fs * 0.9, false);
	cairo_set_line_width(cr, 1);
	/* Force: left */
	for (double v = 0; v <= fr->f_max + 1e-9; v += step) {
		double y = round(py(fr, v)) + 0.5;

		cairo_set_source_rgb(cr, GRID_RGB);
		cairo_move_to(cr, fr->x0, y);
		cairo_line_to(cr, fr->x1, y);
		cairo_stroke(cr);
		cairo_set_source_rgb(cr, AXIS_RGB);
		cairo_move_to(cr, fr->x0 - 5, y);
		cairo_line_to(cr, fr->x0, y);
		cairo_stroke(cr);
		snprintf(label, sizeof(label), "%g", v);
		text_at(cr, fr->x0 - 8, y + fr->fs * 0.32, RIGHT, label);
	}
	/* % body weight: right */
	if (fr->weight_n > 0) {
		double pmax = fr->f_max / fr->weight_n * 100;
		double pstep = nice_step(pmax, (fr->y1 - fr->y0) / (fr->fs * 3.5));

		for (double p = 0; p <= pmax + 1e-9; p += pstep) {
			double y = round(py(fr, p * fr->weight_n / 100)) + 0.5;

			cairo_set_source_rgb(cr, AXIS_RGB);
			cairo_move_to(cr, fr->x1, y);
			cairo_line_to(cr, fr->x1 + 5, y);
			cairo_stroke(cr);
			snprintf(label, sizeof(label), "%g", p);
			text_at(cr, fr->x1 + 8, y + fr->fs * 0.32, LEFT, label);
		}
	}
	/* Time: bottom */
	for (double t = 0; t <= fr->t_max + 1e-9; t += tstep) {
		double x = round(px(fr, t)) + 0.5;

		cairo_set_source_rgb(cr, AXIS_RGB);
		cairo_move_to(cr, x, fr->y1);
		cairo_line_to(cr, x, fr->y1 + 5);
		cairo_stroke(cr);
		format_clock(label, sizeof(label), t, fr->t_max >= 3600);
		text_at(cr, x, fr->y1 + fr->fs * 1.4, CENTER, label);
	}
	/* Frame */
	cairo_set_source_rgb(cr, AXIS_RGB);
	cairo_rectangle(cr, round(fr->x0) + 0.5, round(fr->y0) + 0.5, round(fr->x1 - fr->x0),
			round(fr->y1 - fr->y0));
	cairo_stroke(cr);

	/* Axis labels */
	font(cr, fr->fs, false);
	cairo_set_source_rgb(cr, TEXT_RGB);
	text_at(cr, (fr->x0 + fr->x1) / 2, fr->y1 + fr->fs * 2.9, CENTER,
		fr->t_max >= 3600 ? "Time (h:mm:ss)" : "Time (m:ss)");
	cairo_save(cr);
	cairo_translate(cr, fr->fs * 1.2, (fr->y0 + fr->y1) / 2);
	cairo_rotate(cr, -M_PI / 2);
	text_at(cr, 0, 0, CENTER, "Force (N)");
	cairo_restore(cr);
	if (fr->weight_n > 0) {
		cairo_save(cr);
		cairo_translate(cr, fr->width - fr->fs * 0.9, (fr->y0 + fr->y1) / 2);
		cairo_rotate(cr, M_PI / 2);
		text_at(cr, 0, 0, CENTER, "% of body weight");
		cairo_restore(cr);
	}
}

static void hatch(cairo_t *cr, double x0, double y0, double x1, double y1)
{
	cairo_save(cr);
	cairo_rectangle(cr, x0, y0, x1 - x0, y1 - y0);
	cairo_clip(cr);
	cairo_set_source_rgb(cr, GAP_RGB);
	cairo_paint(cr);
	cairo_set_source_rgb(cr, 0.55, 0.55, 0.55);
	cairo_set_line_width(cr, 1);
	for (double x = x0 - (y1 - y0); x < x1; x += 6) {
		cairo_move_to(cr, x, y1);
		cairo_line_to(cr, x + (y1 - y0), y0);
	}
	cairo_stroke(cr);
	cairo_restore(cr);
}

static void gap_span(cairo_t *cr, const struct frame *fr, double t0, double t1, const char *label)
{
	double x0 = px(fr, t0), x1 = px(fr, t1);

	/* Always visible, however short. */
	if (x1 - x0 < 3) {
		x0 = (x0 + x1) / 2 - 1.5;
		x1 = x0 + 3;
	}
	hatch(cr, x0, fr->y0 + 1, x1, fr->y1);
	cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
	text_at(cr, x1 + 3, fr->y0 + fr->fs * 1.1, LEFT, label);
}

/* Lost samples, and runs of samples without a reading (a cell fault). */
static bool draw_gaps(cairo_t *cr, const struct frame *fr, const struct history_session *s)
{
	double period_s = s->sample_period_us / 1e6;
	char label[48];
	bool any = s->n_gaps > 0;

	font(cr, fr->fs * 0.8, false);
	for (size_t i = 0; i < s->n_gaps; i++) {
		const struct history_gap *g = &s->gaps[i];

		snprintf(label, sizeof(label), "%u lost", g->count);
		gap_span(cr, fr, g->t_ms / 1000.0, g->t_ms / 1000.0 + g->count * period_s, label);
	}
	for (size_t i = 0; i < s->n_samples; i++) {
		size_t j = i;

		if (s->samples[i].force_dn != PROTO_FORCE_INVALID)
			continue;
		while (j + 1 < s->n_samples && s->samples[j + 1].force_dn == PROTO_FORCE_INVALID &&
		       s->samples[j + 1].index == s->samples[j].index + 1u)
			j++;
		snprintf(label, sizeof(label), "no reading");
		gap_span(cr, fr, s->samples[i].t_ms / 1000.0, s->samples[j].t_ms / 1000.0 + period_s,
			 label);
		any = true;
		i = j;
	}
	return any;
}

static void draw_band(cairo_t *cr, const struct frame *fr, const struct history_session *s)
{
	char label[80];
	double top = py(fr, s->summary.band_high_dn / 10.0);
	double bottom = py(fr, s->summary.band_low_dn / 10.0);

	if (s->summary.band_high_dn <= s->summary.band_low_dn)
		return;
	cairo_set_source_rgb(cr, BAND_RGB);
	cairo_rectangle(cr, fr->x0, top, fr->x1 - fr->x0, bottom - top);
	cairo_fill(cr);
	/* Where a step-up raised the band during a hold, show the raised band. */
	for (size_t i = 0; i < s->n_holds; i++) {
		const struct coach_hold *h = &s->holds[i];

		if (h->band_low_dn == s->summary.band_low_dn &&
		    h->band_high_dn == s->summary.band_high_dn)
			continue;
		cairo_set_source_rgba(cr, 0.55, 0.80, 0.55, 0.5);
		cairo_rectangle(cr, px(fr, hold_start_s(s, h)), py(fr, h->band_high_dn / 10.0),
				px(fr, hold_start_s(s, h) + h->duration_ms / 1000.0) -
					px(fr, hold_start_s(s, h)),
				py(fr, h->band_low_dn / 10.0) - py(fr, h->band_high_dn / 10.0));
		cairo_fill(cr);
	}
	font(cr, fr->fs * 0.8, false);
	cairo_set_source_rgb(cr, 0.20, 0.45, 0.20);
	if (fr->weight_n > 0)
		snprintf(label, sizeof(label), "target band %.0f\xe2\x80\x93%.0f N (%.0f\xe2\x80\x93%.0f %%)",
			 s->summary.band_low_dn / 10.0, s->summary.band_high_dn / 10.0,
			 s->summary.band_low_dn / 10.0 / fr->weight_n * 100,
			 s->summary.band_high_dn / 10.0 / fr->weight_n * 100);
	else
		snprintf(label, sizeof(label), "target band %.0f\xe2\x80\x93%.0f N",
			 s->summary.band_low_dn / 10.0, s->summary.band_high_dn / 10.0);
	text_on_white(cr, fr->x1 - 6, top - fr->fs * 0.35, RIGHT, label);
}

static void draw_overpressure(cairo_t *cr, const struct frame *fr, const struct history_session *s)
{
	double limit = s->overpressure_dn / 10.0, dash = 6, y;
	char label[64];

	if (limit <= 0 || limit > fr->f_max)
		return;
	y = round(py(fr, limit)) + 0.5;
	cairo_save(cr);
	cairo_set_source_rgb(cr, OVER_RGB);
	cairo_set_line_width(cr, 1.2);
	cairo_set_dash(cr, &dash, 1, 0);
	cairo_move_to(cr, fr->x0, y);
	cairo_line_to(cr, fr->x1, y);
	cairo_stroke(cr);
	cairo_restore(cr);
	font(cr, fr->fs * 0.8, false);
	cairo_set_source_rgb(cr, OVER_RGB);
	snprintf(label, sizeof(label), "over-pressure %.0f N", limit);
	text_on_white(cr, fr->x0 + 6, y - fr->fs * 0.35, LEFT, label);
}

/*
 * The force line. With more samples than pixels, each pixel column gets a
 * vertical stroke from its lowest to its highest sample (drawn in the order
 * they came), so peaks and dips survive the thinning. The line breaks at
 * lost samples and at samples without a reading.
 */
static void draw_force(cairo_t *cr, const struct frame *fr, const struct history_session *s)
{
	bool pen = false, have_col = false;
	long col = 0;
	double lo = 0, hi = 0, first = 0, last = 0;
	bool lo_first = true;
	int64_t prev_pos = 0;

	cairo_save(cr);
	cairo_rectangle(cr, fr->x0, fr->y0, fr->x1 - fr->x0, fr->y1 - fr->y0);
	cairo_clip(cr);
	cairo_set_source_rgb(cr, FORCE_RGB);
	cairo_set_line_width(cr, 1.5);
	cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);

#define FLUSH_COLUMN()                                                                     \
	do {                                                                                \
		if (have_col) {                                                             \
			double cx = (double)col + 0.5;                                      \
			if (!pen) {                                                         \
				cairo_move_to(cr, cx, py(fr, first));                       \
				pen = true;                                                 \
			} else {                                                            \
				cairo_line_to(cr, cx, py(fr, first));                       \
			}                                                                   \
			cairo_line_to(cr, cx, py(fr, lo_first ? lo : hi));                  \
			cairo_line_to(cr, cx, py(fr, lo_first ? hi : lo));                  \
			cairo_line_to(cr, cx, py(fr, last));                                \
			have_col = false;                                                   \
		}                                                                           \
	} while (0)

	for (size_t i = 0; i < s->n_samples; i++) {
		const struct history_sample *x = &s->samples[i];
		int64_t pos = proto_seq_diff(s->first_index, x->index);
		double v, xpix;
		long c;

		if (x->force_dn == PROTO_FORCE_INVALID || (i && pos - prev_pos > 1)) {
			FLUSH_COLUMN();
			pen = false;
		}
		prev_pos = pos;
		if (x->force_dn == PROTO_FORCE_INVALID)
			continue;
		v = x->force_dn / 10.0;
		xpix = px(fr, x->t_ms / 1000.0);
		c = lround(floor(xpix));
		if (have_col && c != col)
			FLUSH_COLUMN();
		if (!have_col) {
			have_col = true;
			col = c;
			lo = hi = first = last = v;
			lo_first = true;
			continue;
		}
		if (v < lo) {
			lo = v;
			lo_first = false;
		}
		if (v > hi) {
			hi = v;
			lo_first = true;
		}
		last = v;
	}
	FLUSH_COLUMN();
#undef FLUSH_COLUMN
	cairo_stroke(cr);
	cairo_restore(cr);
}

static void triangle_down(cairo_t *cr, double x, double y, double size)
{
	cairo_move_to(cr, x - size, y - size * 1.6);
	cairo_line_to(cr, x + size, y - size * 1.6);
	cairo_line_to(cr, x, y);
	cairo_close_path(cr);
}

static void draw_markers(cairo_t *cr, const struct frame *fr, const struct history_session *s)
{
	double size = fr->fs * 0.38;

	for (size_t i = 0; i < s->n_events; i++) {
		const struct history_event *e = &s->events[i];
		double x = px(fr, e->t_ms / 1000.0), y;

		if (e->source != HISTORY_EVENT_COACH)
			continue;
		if (strcmp(e->kind, "drop") == 0 || strcmp(e->kind, "hold-reset") == 0) {
			y = py(fr, e->force_dn / 10.0) - 3;
			if (y - size * 1.6 < fr->y0)
				y = fr->y0 + size * 1.6;
			cairo_set_source_rgb(cr, DROP_RGB);
			triangle_down(cr, x, y, size);
			cairo_fill(cr);
		} else if (strcmp(e->kind, "too-much") == 0) {
			y = py(fr, e->force_dn / 10.0) - 3;
			if (y - size * 1.6 < fr->y0)
				y = fr->y0 + size * 1.6;
			cairo_set_source_rgb(cr, OVER_RGB);
			triangle_down(cr, x, y, size * 1.2);
			cairo_fill(cr);
		}
	}
}

static void draw_holds(cairo_t *cr, const struct frame *fr, const struct history_session *s)
{
	char label[64], dur[24];
	const char *word;

	font(cr, fr->fs * 0.85, true);
	for (size_t i = 0; i < s->n_holds; i++) {
		const struct coach_hold *h = &s->holds[i];
		double t0 = hold_start_s(s, h), t1 = t0 + h->duration_ms / 1000.0;
		double x0 = px(fr, t0), x1 = px(fr, t1), dash[] = { 2, 3 };

		if (x1 - x0 < 2)
			x1 = x0 + 2;
		/* Thin marks down the plot where the hold starts and ends. */
		cairo_save(cr);
		hold_colour(cr, h->result);
		cairo_set_line_width(cr, 1);
		cairo_set_dash(cr, dash, 2, 0);
		cairo_move_to(cr, round(x0) + 0.5, fr->y0);
		cairo_line_to(cr, round(x0) + 0.5, fr->y1);
		cairo_move_to(cr, round(x1) + 0.5, fr->y0);
		cairo_line_to(cr, round(x1) + 0.5, fr->y1);
		cairo_stroke(cr);
		cairo_restore(cr);
		/* The bar and its label in the lane above the plot. */
		hold_colour(cr, h->result);
		cairo_rectangle(cr, x0, fr->lane_y, x1 - x0, fr->lane_h);
		cairo_fill(cr);
		format_duration(dur, sizeof(dur), h->duration_ms);
		word = hold_word(h->result);
		/* The longest label that fits the bar. */
		for (int form = 0; form < 5; form++) {
			if (form == 0)
				snprintf(label, sizeof(label), "%u: %s%s%s", h->rep, dur,
					 word ? " " : "", word ? word : "");
			else if (form == 1)
				snprintf(label, sizeof(label), "%u: %s", h->rep, dur);
			else if (form == 2)
				snprintf(label, sizeof(label), "%s", dur);
			else if (form == 3)
				format_clock(label, sizeof(label), h->duration_ms / 1000.0, false);
			else
				snprintf(label, sizeof(label), "%u", h->rep);
			if (text_width(cr, label) + 6 <= x1 - x0)
				break;
		}
		if (text_width(cr, label) + 4 <= x1 - x0) {
			cairo_set_source_rgb(cr, 1, 1, 1);
			text_at(cr, (x0 + x1) / 2, fr->lane_y + fr->lane_h * 0.5 + fr->fs * 0.3,
				CENTER, label);
		}
	}
	if (!s->n_holds) {
		font(cr, fr->fs * 0.85, false);
		cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
		text_at(cr, fr->x0, fr->lane_y + fr->lane_h * 0.5 + fr->fs * 0.3, LEFT,
			"no holds in this session");
	}
}

/* What the picture shows, for the legend. */
struct shown {
	bool drops, gaps, over;
};

static double legend_label(cairo_t *cr, const struct frame *fr, double x, double y,
			   const char *label)
{
	/* Cut at the edge rather than run off it (small pictures). */
	if (x + text_width(cr, label) > fr->width - 4)
		return fr->width;
	cairo_set_source_rgb(cr, TEXT_RGB);
	text_at(cr, x, y, LEFT, label);
	return x + text_width(cr, label) + fr->fs * 1.5;
}

/* Only what is in the picture: a legend entry for nothing drawn misleads. */
static void draw_legend(cairo_t *cr, const struct frame *fr, const struct shown *shown)
{
	double x = fr->x0, y = fr->y1 + fr->fs * 4.6, box = fr->fs * 0.8, dash = 6;

	font(cr, fr->fs * 0.85, false);
	cairo_set_source_rgb(cr, FORCE_RGB);
	cairo_set_line_width(cr, 2);
	cairo_move_to(cr, x, y - box / 2);
	cairo_line_to(cr, x + box * 2, y - box / 2);
	cairo_stroke(cr);
	x = legend_label(cr, fr, x + box * 2 + 5, y, "force");

	cairo_set_source_rgb(cr, BAND_RGB);
	cairo_rectangle(cr, x, y - box, box * 2, box);
	cairo_fill(cr);
	x = legend_label(cr, fr, x + box * 2 + 5, y, "target band");

	hold_colour(cr, COACH_HOLD_COMPLETE);
	cairo_rectangle(cr, x, y - box, box * 2, box);
	cairo_fill(cr);
	x = legend_label(cr, fr, x + box * 2 + 5, y, "hold (repetition: duration)");

#define FITS(label) (x + box * 2 + 5 + text_width(cr, label) <= fr->width - 4)
	if (shown->drops && FITS("drop out of the band")) {
		cairo_set_source_rgb(cr, DROP_RGB);
		triangle_down(cr, x + box * 0.5, y - box * 0.1, box * 0.5);
		cairo_fill(cr);
		x = legend_label(cr, fr, x + box + 5, y, "drop out of the band");
	}
	if (shown->gaps && FITS("samples lost or no reading")) {
		hatch(cr, x, y - box, x + box * 2, y);
		x = legend_label(cr, fr, x + box * 2 + 5, y, "samples lost or no reading");
	}
	if (shown->over && FITS("over-pressure limit")) {
		cairo_save(cr);
		cairo_set_source_rgb(cr, OVER_RGB);
		cairo_set_line_width(cr, 1.2);
		cairo_set_dash(cr, &dash, 1, 0);
		cairo_move_to(cr, x, y - box / 2);
		cairo_line_to(cr, x + box * 2, y - box / 2);
		cairo_stroke(cr);
		cairo_restore(cr);
		legend_label(cr, fr, x + box * 2 + 5, y, "over-pressure limit");
	}
#undef FITS
}

static void draw(cairo_t *cr, const struct history_session *s, double width, double height)
{
	struct frame fr;
	struct shown shown = { false, false, false };
	double peak = 0, end_s;

	memset(&fr, 0, sizeof(fr));
	fr.width = width;
	fr.height = height;
	fr.fs = fmin(width / 85.0, height / 40.0);
	fr.fs = fr.fs < 8 ? 8 : fr.fs > 18 ? 18 : fr.fs;
	fr.x0 = round(fr.fs * 5.2);
	fr.x1 = round(width - fr.fs * 4.8);
	fr.lane_y = round(fr.fs * 4.4);
	fr.lane_h = round(fr.fs * 1.5);
	fr.y0 = fr.lane_y + fr.lane_h + round(fr.fs * 0.6);
	fr.y1 = round(height - fr.fs * 5.6);
	fr.weight_n = coach_weight_dn(s->header.body_weight_dkg) / 10.0;

	end_s = s->summary.session_ms / 1000.0;
	if (s->n_samples && s->samples[s->n_samples - 1].t_ms / 1000.0 > end_s)
		end_s = s->samples[s->n_samples - 1].t_ms / 1000.0;
	fr.t_max = end_s > 1 ? end_s : 1;
	for (size_t i = 0; i < s->n_samples; i++)
		if (s->samples[i].force_dn != PROTO_FORCE_INVALID && s->samples[i].force_dn / 10.0 > peak)
			peak = s->samples[i].force_dn / 10.0;
	if (s->summary.band_high_dn / 10.0 > peak)
		peak = s->summary.band_high_dn / 10.0;
	/* The over-pressure line only when the force came near it. */
	if (s->overpressure_dn > 0 && peak > 0.8 * s->overpressure_dn / 10.0)
		peak = fmax(peak, s->overpressure_dn / 10.0);
	fr.f_max = peak > 1 ? peak * 1.12 : 10;
	fr.f_max = ceil(fr.f_max / nice_step(fr.f_max, 6)) * nice_step(fr.f_max, 6);

	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_paint(cr);
	draw_title(cr, &fr, s);
	draw_band(cr, &fr, s);
	shown.gaps = draw_gaps(cr, &fr, s);
	draw_grid_and_axes(cr, &fr);
	draw_overpressure(cr, &fr, s);
	draw_force(cr, &fr, s);
	draw_markers(cr, &fr, s);
	draw_holds(cr, &fr, s);
	shown.over = s->overpressure_dn > 0 && s->overpressure_dn / 10.0 <= fr.f_max;
	for (size_t i = 0; i < s->n_events; i++)
		if (s->events[i].source == HISTORY_EVENT_COACH &&
		    (strcmp(s->events[i].kind, "drop") == 0 ||
		     strcmp(s->events[i].kind, "hold-reset") == 0))
			shown.drops = true;
	draw_legend(cr, &fr, &shown);
	if (!s->n_samples) {
		font(cr, fr.fs * 1.2, false);
		cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
		text_at(cr, (fr.x0 + fr.x1) / 2, (fr.y0 + fr.y1) / 2, CENTER,
			"no samples in this log");
	}
}

static cairo_status_t write_file(void *closure, const unsigned char *data, unsigned int length)
{
	return fwrite(data, 1, length, closure) == length ? CAIRO_STATUS_SUCCESS
							  : CAIRO_STATUS_WRITE_ERROR;
}

static int status_errno(cairo_status_t st)
{
	if (st == CAIRO_STATUS_SUCCESS)
		return 0;
	if (st == CAIRO_STATUS_NO_MEMORY)
		return -ENOMEM;
	if (st == CAIRO_STATUS_INVALID_SIZE)
		return -ERANGE;
	return -EIO;
}

int history_plot(const struct history_session *s, const char *path,
		 enum history_plot_format format, unsigned width, unsigned height)
{
	char tmp[4200];
	cairo_surface_t *surface;
	cairo_t *cr;
	FILE *f;
	int fd, r;

	if (!s || !path || !*path || (format != HISTORY_PLOT_PNG && format != HISTORY_PLOT_SVG))
		return -EINVAL;
	if (width < 320 || width > 8000 || height < 200 || height > 4000)
		return -ERANGE;
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "wb");
	if (!f) {
		r = -errno;
		close(fd);
		unlink(tmp);
		return r;
	}
	if (format == HISTORY_PLOT_SVG)
		surface = cairo_svg_surface_create_for_stream(write_file, f, width, height);
	else
		surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)width, (int)height);
	cr = cairo_create(surface);
	draw(cr, s, width, height);
	r = status_errno(cairo_status(cr));
	cairo_destroy(cr);
	if (r == 0 && format == HISTORY_PLOT_PNG)
		r = status_errno(cairo_surface_write_to_png_stream(surface, write_file, f));
	cairo_surface_finish(surface);
	if (r == 0)
		r = status_errno(cairo_surface_status(surface));
	cairo_surface_destroy(surface);
	if (fflush(f) != 0 && r == 0)
		r = -errno;
	if (fsync(fileno(f)) < 0 && r == 0 && errno != EINVAL)
		r = -errno;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}
