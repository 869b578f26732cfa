/*
 * The full screen (ncurses): force gauge with the target band, a large
 * countdown, the state, the hold list, link/battery/loss counters.
 *
 * Keys and window size changes come through the sd-event loop (stdin io
 * source, SIGWINCH as a signal source), never from a blocking getch().
 * Redraws are rate-limited to 20 per second; a cue or a phase change draws
 * at once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <langinfo.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <curses.h>

#include "ui_internal.h"

#define DRAW_INTERVAL_US 50000u
#define HOLDS_KEPT COACH_HOLDS_MAX

enum {
	PAIR_TITLE = 1,
	PAIR_GOOD,
	PAIR_LOW,
	PAIR_OVER,
	PAIR_BAND,
	PAIR_DIM,
};

struct screen {
	bool active; /* curses is up */
	bool utf8;
	bool color;
	sd_event_source *stdin_source;
	sd_event_source *winch_source;
	sd_event_source *timer;
	uint64_t last_draw_us;
	bool timer_armed;
	struct ui_status status;
	struct coach_state coach;
	bool have_coach;
	char cue[200];
	uint8_t cue_kind;
	uint32_t cue_time_ms;
	char notice[240];
	char link_detail[160];
	struct coach_hold holds[HOLDS_KEPT];
	size_t n_holds;
	struct coach_summary summary;
	bool have_summary;
};

/* 3x5 digits; each '#' is drawn two cells wide. */
static const char *const font[11][5] = {
	{ "###", "# #", "# #", "# #", "###" }, { " # ", "## ", " # ", " # ", "###" },
	{ "###", "  #", "###", "#  ", "###" }, { "###", "  #", "###", "  #", "###" },
	{ "# #", "# #", "###", "  #", "  #" }, { "###", "#  ", "###", "  #", "###" },
	{ "###", "#  ", "###", "# #", "###" }, { "###", "  #", "  #", "  #", "  #" },
	{ "###", "# #", "###", "# #", "###" }, { "###", "# #", "###", "  #", "###" },
	{ " ", "#", " ", "#", " " },
};

static uint64_t now_us(struct ui *ui)
{
	uint64_t t = 0;

	sd_event_now(ui->ev, CLOCK_MONOTONIC, &t);
	return t;
}

static void style_on(struct screen *s, int pair, int extra)
{
	if (s->color && pair)
		attron(COLOR_PAIR(pair));
	if (extra)
		attron(extra);
}

static void style_off(struct screen *s, int pair, int extra)
{
	if (s->color && pair)
		attroff(COLOR_PAIR(pair));
	if (extra)
		attroff(extra);
}

static void put_block(struct screen *s, int y, int x, int n)
{
	for (int i = 0; i < n; i++) {
		if (s->utf8)
			mvaddstr(y, x + i, "\u2588");
		else
			mvaddch(y, x + i, '#');
	}
}

static int big_width(const char *text)
{
	int w = 0;

	for (const char *p = text; *p; p++)
		w += (*p == ':' ? 2 : 6) + 1;
	return w ? w - 1 : 0;
}

static void draw_big(struct screen *s, int y, int x, const char *text, int pair)
{
	style_on(s, pair, A_BOLD);
	for (const char *p = text; *p; p++) {
		int glyph = *p == ':' ? 10 : *p - '0';
		int w = *p == ':' ? 1 : 3;

		if (glyph < 0 || glyph > 10)
			continue;
		for (int row = 0; row < 5; row++)
			for (int col = 0; col < w; col++)
				if (font[glyph][row][col] == '#')
					put_block(s, y + row, x + col * 2, 2);
		x += w * 2 + 1;
	}
	style_off(s, pair, A_BOLD);
}

static const char *phase_advice(const struct coach_state *st)
{
	switch (st->phase) {
	case COACH_PHASE_TOLERANCE:
		return "Press to where it is uncomfortable but tolerable (5-7 of 10), hold still.";
	case COACH_PHASE_WAITING:
		return "Get on the roller and find the tender spot.";
	case COACH_PHASE_POSITIONING:
		if (!st->contact)
			return "Get on the roller and find the tender spot.";
		if (!st->still)
			return "Stop rolling: stay on the spot and keep still.";
		if (st->force_dn < st->band_low_dn)
			return "Press a little harder, into the band.";
		if (st->force_dn > st->band_high_dn)
			return "Ease off a little, into the band.";
		return "Hold still on the spot.";
	case COACH_PHASE_HOLDING:
		return "Hold still and breathe: the countdown is running.";
	case COACH_PHASE_PAUSED:
		return "Paused: back into the band and keep still.";
	case COACH_PHASE_REST:
		return "Rest: get off the roller and relax.";
	case COACH_PHASE_DONE:
		return "Done. Well held.";
	}
	return "";
}

static int force_pair(const struct coach_state *st)
{
	if (!st->force_valid || !st->contact)
		return PAIR_DIM;
	if (st->over_pressure || st->force_dn > st->band_high_dn)
		return PAIR_OVER;
	if (st->force_dn >= st->band_low_dn)
		return PAIR_GOOD;
	return PAIR_LOW;
}

static void draw_gauge(struct screen *s, int y, int x, int w, const struct coach_state *st)
{
	int32_t max = st->overpressure_dn + st->overpressure_dn / 4;
	int low_col, high_col, over_col, fill;

	if (max < st->band_high_dn * 3 / 2)
		max = st->band_high_dn * 3 / 2;
	if (st->force_valid && st->force_dn > max)
		max = st->force_dn;
	if (max <= 0 || w < 10)
		return;
	fill = st->force_valid && st->force_dn > 0 ? (int)((int64_t)st->force_dn * w / max) : 0;
	low_col = (int)((int64_t)st->band_low_dn * w / max);
	high_col = (int)((int64_t)st->band_high_dn * w / max);
	over_col = (int)((int64_t)st->overpressure_dn * w / max);
	mvaddch(y, x - 1, '[');
	for (int i = 0; i < w; i++) {
		bool in_band = i >= low_col && i < high_col;
		int pair = in_band ? PAIR_BAND : (i >= over_col ? PAIR_OVER : 0);

		if (i < fill) {
			style_on(s, force_pair(st), 0);
			put_block(s, y, x + i, 1);
			style_off(s, force_pair(st), 0);
		} else {
			style_on(s, pair, 0);
			mvaddch(y, x + i, in_band ? '=' : (i >= over_col ? '!' : '.'));
			style_off(s, pair, 0);
		}
	}
	mvaddch(y, x + w, ']');
	/* Markers under the bar: the band edges and the warning limit. */
	if (low_col < w)
		mvaddch(y + 1, x + low_col, '^');
	if (high_col < w)
		mvaddch(y + 1, x + high_col, '^');
	if (over_col < w)
		mvaddch(y + 1, x + over_col, '!');
}

static void draw(struct ui *ui)
{
	struct screen *s = ui->screen;
	const struct coach_state *st = &s->coach;
	int rows, cols, y;
	char buf[256], clock_text[16];

	if (!s->active)
		return;
	getmaxyx(stdscr, rows, cols);
	erase();
	if (rows < 18 || cols < 60) {
		mvprintw(0, 0, "Window too small (%dx%d): need 60x18.", cols, rows);
		refresh();
		return;
	}

	/* Title bar: what, where from; link, battery, losses on the right. */
	style_on(s, PAIR_TITLE, A_REVERSE);
	mvhline(0, 0, ' ', cols);
	snprintf(buf, sizeof(buf), " Roller  %s  %s%s", ui->started ? proto_region_str(ui->info.region) : "",
		 ui->roller_id[0] ? ui->roller_id : ui->transport, ui->info.replay ? "  (replay)" : "");
	mvaddnstr(0, 0, buf, cols);
	if (s->status.battery_pct >= 0)
		snprintf(clock_text, sizeof(clock_text), "%d%%", s->status.battery_pct);
	else
		snprintf(clock_text, sizeof(clock_text), "?");
	snprintf(buf, sizeof(buf), "%s  battery %s  lost %u%s ", ui_link_str(s->status.link),
		 clock_text, s->have_coach ? st->samples_lost : 0u, s->status.recording ? "  REC" : "");
	if ((int)strlen(buf) < cols)
		mvaddstr(0, cols - (int)strlen(buf), buf);
	style_off(s, PAIR_TITLE, A_REVERSE);

	if (!s->have_coach || !ui->started) {
		mvprintw(2, 2, "Waiting for the roller (%s)%s%s", ui_link_str(s->status.link),
			 s->link_detail[0] ? ": " : "", s->link_detail);
		if (s->notice[0])
			mvaddnstr(rows - 2, 1, s->notice, cols - 2);
		mvaddnstr(rows - 1, 1, "q quit", cols - 2);
		refresh();
		return;
	}

	/* State. */
	style_on(s, 0, A_BOLD);
	snprintf(buf, sizeof(buf), "%s", coach_phase_str(st->phase));
	for (char *p = buf; *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	mvprintw(2, 2, "%s", buf);
	style_off(s, 0, A_BOLD);
	printw("   rep %u of %u", st->rep, st->reps);
	if (s->status.link == TRANSPORT_LINK_LOST)
		printw("   LINK LOST: reconnecting%s%s", s->link_detail[0] ? ": " : "", s->link_detail);
	mvaddnstr(3, 2, phase_advice(st), cols - 4);

	/* Force gauge. */
	y = 5;
	style_on(s, force_pair(st), A_BOLD);
	if (st->force_valid)
		mvprintw(y, 2, "Force %6.1f N %5.1f %%", ui_newtons(st->force_dn),
			 ui_percent(st->force_permille));
	else
		mvprintw(y, 2, "Force    --- N   --- %%");
	style_off(s, force_pair(st), A_BOLD);
	draw_gauge(s, y, 26, cols - 29, st);
	snprintf(buf, sizeof(buf), "band %.1f-%.1f %% of body weight (%.1f-%.1f N), warning above "
		 "%.1f N%s", ui_percent(st->band_low_permille), ui_percent(st->band_high_permille),
		 ui_newtons(st->band_low_dn), ui_newtons(st->band_high_dn),
		 ui_newtons(st->overpressure_dn), st->calibrated ? "" : "  (uncalibrated)");
	mvaddnstr(y + 2, 2, buf, cols - 3);

	/* Countdown. */
	y = 9;
	if (st->phase == COACH_PHASE_REST) {
		ui_format_clock(clock_text, sizeof(clock_text), st->rest_left_ms);
		snprintf(buf, sizeof(buf), "rest %s left", clock_text);
	} else if (st->phase == COACH_PHASE_TOLERANCE) {
		ui_format_clock(clock_text, sizeof(clock_text), st->tolerance_steady_ms);
		snprintf(buf, sizeof(buf), "steady %s", clock_text);
	} else if (st->phase == COACH_PHASE_DONE) {
		snprintf(clock_text, sizeof(clock_text), "0:00");
		snprintf(buf, sizeof(buf), "session done");
	} else {
		char target[16];

		ui_format_clock(clock_text, sizeof(clock_text), st->countdown_ms);
		ui_format_clock(target, sizeof(target), st->hold_ms);
		snprintf(buf, sizeof(buf), "%s left of %s, in band %.1f s%s", clock_text, target,
			 st->in_band_ms / 1000.0, st->phase == COACH_PHASE_PAUSED ? " (paused)" : "");
	}
	{
		int w = big_width(clock_text);
		int pair = st->phase == COACH_PHASE_HOLDING ? PAIR_GOOD
			   : st->phase == COACH_PHASE_PAUSED ? PAIR_LOW : 0;

		draw_big(s, y, cols / 2 - w / 2 > 2 ? cols / 2 - w / 2 : 2, clock_text, pair);
	}
	mvaddnstr(y + 6, (cols - (int)strlen(buf)) / 2, buf, cols);

	/* Cue and warnings. */
	y = 16;
	if (s->cue[0]) {
		ui_format_clock(clock_text, sizeof(clock_text), s->cue_time_ms);
		style_on(s, s->cue_kind == COACH_CUE_TOO_MUCH ? PAIR_OVER : 0, A_BOLD);
		snprintf(buf, sizeof(buf), "Cue: %s", s->cue);
		mvaddnstr(y, 2, buf, cols - 4);
		style_off(s, s->cue_kind == COACH_CUE_TOO_MUCH ? PAIR_OVER : 0, A_BOLD);
	}
	if (st->over_pressure) {
		style_on(s, PAIR_OVER, A_BOLD | A_BLINK);
		mvaddnstr(y + 1, 2, "TOO MUCH PRESSURE: ease off now.", cols - 4);
		style_off(s, PAIR_OVER, A_BOLD | A_BLINK);
	}

	/* Holds. */
	y = 18;
	if (s->n_holds && rows > y + 3) {
		int room = rows - y - 3;
		size_t first = s->n_holds > (size_t)room ? s->n_holds - (size_t)room : 0;

		mvaddstr(y, 2, "Holds:");
		for (size_t i = first; i < s->n_holds; i++) {
			const struct coach_hold *h = &s->holds[i];

			snprintf(buf, sizeof(buf), "%2u  %-13s %5.1f s in band of %5.1f s  mean %6.1f N "
				 "(%4.1f %%)  peak %6.1f N  %u dips", h->rep,
				 coach_hold_result_str(h->result), h->in_band_ms / 1000.0,
				 h->duration_ms / 1000.0, ui_newtons(h->mean_force_dn),
				 ui_percent(h->mean_force_permille), ui_newtons(h->peak_force_dn),
				 h->dips);
			mvaddnstr(y + 1 + (int)(i - first), 4, buf, cols - 6);
		}
	}

	/* Footer. */
	if (s->notice[0])
		mvaddnstr(rows - 2, 1, s->notice, cols - 2);
	style_on(s, PAIR_DIM, 0);
	snprintf(buf, sizeof(buf), "%s   frames %llu  bad %u",
		 ui->info.replay ? "q stop the replay"
				 : "r relief (tenderness eased)   s skip rest   q quit",
		 (unsigned long long)s->status.frames, s->status.bad_frames);
	mvaddnstr(rows - 1, 1, buf, cols - 2);
	style_off(s, PAIR_DIM, 0);
	refresh();
}

static void draw_now(struct ui *ui)
{
	ui->screen->last_draw_us = now_us(ui);
	draw(ui);
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct ui *ui = userdata;

	(void)src;
	(void)usec;
	ui->screen->timer_armed = false;
	draw_now(ui);
	return 0;
}

/* Draws now if the last draw is old enough, else once the interval is up. */
static void draw_soon(struct ui *ui)
{
	struct screen *s = ui->screen;
	uint64_t now = now_us(ui), due = s->last_draw_us + DRAW_INTERVAL_US;

	if (now >= due) {
		draw_now(ui);
		return;
	}
	if (s->timer_armed)
		return;
	if (!s->timer) {
		if (sd_event_add_time(ui->ev, &s->timer, CLOCK_MONOTONIC, due, 1000, on_timer, ui) < 0) {
			draw_now(ui);
			return;
		}
	} else {
		sd_event_source_set_time(s->timer, due);
	}
	sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
	s->timer_armed = true;
}

static int on_keys(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct ui *ui = userdata;
	int ch;

	(void)src;
	(void)fd;
	(void)revents;
	while (!ui->closed && ui->screen->active && (ch = getch()) != ERR) {
		if (ch == KEY_RESIZE) {
			draw_now(ui);
			continue;
		}
		if (ch == 'R')
			ch = 'r';
		else if (ch == 'Q')
			ch = 'q';
		else if (ch == 'S')
			ch = 's';
		if (ui->opt.key)
			ui->opt.key(ui->opt.userdata, ch);
	}
	return 0;
}

static int on_winch(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
	struct ui *ui = userdata;
	struct winsize ws;

	(void)src;
	(void)si;
	if (!ui->screen->active)
		return 0;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
		resizeterm(ws.ws_row, ws.ws_col);
	clearok(curscr, TRUE);
	draw_now(ui);
	return 0;
}

int screen_create(struct ui *ui)
{
	struct screen *s;
	sigset_t mask;
	const char *no_color = getenv("NO_COLOR");
	int r;

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return -ENOTTY;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	ui->screen = s;
	s->status.battery_pct = -1;
	s->utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;

	/* SIGWINCH comes through the loop, not through ncurses' handler. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGWINCH);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	r = sd_event_add_signal(ui->ev, &s->winch_source, SIGWINCH, on_winch, ui);
	if (r < 0)
		goto fail;
	if (!initscr()) {
		r = -ENOTTY;
		goto fail;
	}
	s->active = true;
	cbreak();
	noecho();
	nonl();
	nodelay(stdscr, TRUE);
	keypad(stdscr, TRUE);
	curs_set(0);
	s->color = ui->opt.color && !(no_color && no_color[0]) && has_colors();
	if (s->color) {
		start_color();
		use_default_colors();
		init_pair(PAIR_TITLE, COLOR_CYAN, -1);
		init_pair(PAIR_GOOD, COLOR_GREEN, -1);
		init_pair(PAIR_LOW, COLOR_YELLOW, -1);
		init_pair(PAIR_OVER, COLOR_RED, -1);
		init_pair(PAIR_BAND, COLOR_GREEN, -1);
		init_pair(PAIR_DIM, COLOR_BLUE, -1);
	}
	r = sd_event_add_io(ui->ev, &s->stdin_source, STDIN_FILENO, EPOLLIN, on_keys, ui);
	if (r < 0)
		goto fail;
	draw_now(ui);
	return 0;
fail:
	if (s->active)
		endwin();
	s->winch_source = sd_event_source_disable_unref(s->winch_source);
	free(s);
	ui->screen = NULL;
	return r;
}

static void screen_close(struct ui *ui)
{
	struct screen *s = ui->screen;

	if (!s)
		return;
	s->stdin_source = sd_event_source_disable_unref(s->stdin_source);
	s->timer = sd_event_source_disable_unref(s->timer);
	s->winch_source = sd_event_source_disable_unref(s->winch_source);
	if (s->active) {
		endwin();
		s->active = false;
	}
}

void screen_destroy(struct ui *ui)
{
	if (!ui->screen)
		return;
	screen_close(ui);
	free(ui->screen);
	ui->screen = NULL;
}

static void screen_start(struct ui *ui, const struct ui_info *info)
{
	if (info->state) {
		ui->screen->coach = *info->state;
		ui->screen->have_coach = true;
	}
	draw_now(ui);
}

static void screen_link(struct ui *ui, enum transport_state st, int err, const char *detail,
			uint32_t time_ms)
{
	(void)err;
	(void)time_ms;
	ui->screen->status.link = st;
	snprintf(ui->screen->link_detail, sizeof(ui->screen->link_detail), "%s",
		 detail ? detail : "");
	draw_now(ui);
}

static void screen_cue(struct ui *ui, const struct coach_cue *cue, const struct coach_state *state)
{
	struct screen *s = ui->screen;

	snprintf(s->cue, sizeof(s->cue), "%s", coach_cue_text(cue->kind));
	s->cue_kind = cue->kind;
	s->cue_time_ms = cue->time_ms;
	s->coach = *state;
	s->have_coach = true;
	if (ui->opt.bell)
		beep();
	draw_now(ui);
}

static void screen_phase(struct ui *ui, const struct coach_state *state)
{
	ui->screen->coach = *state;
	ui->screen->have_coach = true;
	draw_now(ui);
}

static void screen_hold(struct ui *ui, const struct coach_hold *hold, const struct coach_state *state)
{
	struct screen *s = ui->screen;

	(void)state;
	if (s->n_holds == HOLDS_KEPT) {
		memmove(s->holds, s->holds + 1, sizeof(s->holds[0]) * (HOLDS_KEPT - 1));
		s->n_holds--;
	}
	s->holds[s->n_holds++] = *hold;
	draw_soon(ui);
}

static void screen_status(struct ui *ui, const struct ui_status *status)
{
	struct screen *s = ui->screen;

	s->status = *status;
	s->status.coach = NULL;
	if (status->coach) {
		s->coach = *status->coach;
		s->have_coach = true;
	}
	draw_soon(ui);
}

static void screen_notice(struct ui *ui, const char *text)
{
	snprintf(ui->screen->notice, sizeof(ui->screen->notice), "%s", text);
	draw_soon(ui);
}

static void screen_summary(struct ui *ui, const struct coach_summary *sum,
			   const struct coach_state *state)
{
	(void)state;
	/* The terminal is restored by now (ui_summary closes first). */
	ui_print_summary(ui->out, sum);
	fflush(ui->out);
}

const struct ui_backend ui_screen_backend = {
	.start = screen_start,
	.link = screen_link,
	.cue = screen_cue,
	.phase = screen_phase,
	.hold = screen_hold,
	.status = screen_status,
	.notice = screen_notice,
	.summary = screen_summary,
	.close = screen_close,
};
