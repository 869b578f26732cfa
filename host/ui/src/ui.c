/*
 * The UI front: picks a backend, rings the bell, plays tones and reads keys
 * for the line modes. Backends only format.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ui_internal.h"

const char *ui_link_str(enum transport_state st)
{
	switch (st) {
	case TRANSPORT_CONNECTING:
		return "connecting";
	case TRANSPORT_CONNECTED:
		return "connected";
	case TRANSPORT_LINK_LOST:
		return "lost";
	case TRANSPORT_ENDED:
		return "ended";
	case TRANSPORT_FAILED:
		return "failed";
	}
	return "?";
}

void ui_format_clock(char *buf, size_t size, uint32_t ms)
{
	uint32_t s = (ms + 999u) / 1000u; /* a countdown shows 0:00 only at zero */

	snprintf(buf, size, "%u:%02u", s / 60u, s % 60u);
}

double ui_newtons(int32_t dn)
{
	return dn / 10.0;
}

double ui_percent(uint16_t permille)
{
	return permille / 10.0;
}

void ui_print_summary(FILE *f, const struct coach_summary *s)
{
	char session[16], holding[16], in_band[16];

	ui_format_clock(session, sizeof(session), s->session_ms);
	ui_format_clock(holding, sizeof(holding), s->hold_ms);
	ui_format_clock(in_band, sizeof(in_band), s->in_band_ms);
	fprintf(f, "Summary (%s): %u of %u repetitions done\n", proto_region_str(s->region),
		s->reps_done, s->reps_planned);
	fprintf(f, "  holds: %u (%u complete, %u released early, %u partial, %u reset, %u stopped)\n",
		s->holds, s->complete, s->early_release, s->partial, s->reset, s->stopped);
	fprintf(f, "  time: session %s, holding %s, in band %s\n", session, holding, in_band);
	if (s->holds)
		fprintf(f, "  force: mean %.1f N (%.1f %% of body weight), peak %.1f N; band %.1f-%.1f N\n",
			ui_newtons(s->mean_force_dn), ui_percent(s->mean_force_permille),
			ui_newtons(s->peak_force_dn), ui_newtons(s->band_low_dn),
			ui_newtons(s->band_high_dn));
	fprintf(f, "  drops: %u, over-pressure warnings: %u\n", s->drops, s->over_pressure);
	fprintf(f, "  data: %u samples lost in %u gaps, %u duplicates, %u invalid; "
		   "holds detected by host %u, by roller %u\n",
		s->samples_lost, s->gaps, s->duplicates, s->invalid, s->host_detected,
		s->device_detected);
}

static int on_stdin(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct ui *ui = userdata;
	char buf[64];
	ssize_t n;

	(void)revents;
	n = read(fd, buf, sizeof(buf));
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		/* EOF or error: no more keys. */
		sd_event_source_set_enabled(src, SD_EVENT_OFF);
		return 0;
	}
	/* One key per line: the first character of each line counts. */
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			char c = ui->keylen ? ui->keybuf[0] : 0;

			ui->keylen = 0;
			if (c && ui->opt.key)
				ui->opt.key(ui->opt.userdata, c);
		} else if (ui->keylen < sizeof(ui->keybuf) && buf[i] != ' ' && buf[i] != '\t') {
			ui->keybuf[ui->keylen++] = buf[i];
		}
	}
	return 0;
}

int ui_create(struct ui **out, sd_event *ev, const struct ui_options *opt)
{
	struct ui *ui;
	int r;

	ui = calloc(1, sizeof(*ui));
	if (!ui)
		return -ENOMEM;
	ui->opt = *opt;
	ui->ev = sd_event_ref(ev);
	ui->out = opt->out ? opt->out : stdout;
	ui->out_is_tty = isatty(fileno(ui->out));
	switch (opt->mode) {
	case UI_MODE_JSON:
		ui->backend = &ui_json_backend;
		break;
	case UI_MODE_SCREEN:
		ui->backend = &ui_screen_backend;
		break;
	case UI_MODE_PLAIN:
	default:
		ui->backend = &ui_plain_backend;
		break;
	}
	if (opt->mode == UI_MODE_SCREEN) {
		r = screen_create(ui);
		if (r < 0) {
			sd_event_unref(ui->ev);
			free(ui);
			return r;
		}
	} else if (opt->keys && isatty(STDIN_FILENO)) {
		r = sd_event_add_io(ev, &ui->stdin_source, STDIN_FILENO, EPOLLIN, on_stdin, ui);
		if (r < 0) {
			sd_event_unref(ui->ev);
			free(ui);
			return r;
		}
	}
	if (opt->sound) {
		char err[256];

		r = sound_open(&ui->sound, err, sizeof(err));
		if (r < 0)
			ui_notice(ui, "--sound: %s; going on without sound", err);
	}
	*out = ui;
	return 0;
}

void ui_start(struct ui *ui, const struct ui_info *info)
{
	ui->info = *info;
	if (info->plan) {
		ui->plan = *info->plan;
		ui->info.plan = &ui->plan;
	}
	snprintf(ui->transport, sizeof(ui->transport), "%s", info->transport ? info->transport : "");
	snprintf(ui->roller_id, sizeof(ui->roller_id), "%s", info->roller_id ? info->roller_id : "");
	ui->info.transport = ui->transport;
	ui->info.roller_id = ui->roller_id;
	ui->info.state = NULL; /* not kept: it points into the session */
	ui->started = true;
	if (!ui->closed && !ui->opt.summary_only)
		ui->backend->start(ui, info);
}

void ui_link(struct ui *ui, enum transport_state st, int err, const char *detail,
	     uint32_t time_ms)
{
	if (!ui->closed && !ui->opt.summary_only)
		ui->backend->link(ui, st, err, detail, time_ms);
}

void ui_cue(struct ui *ui, const struct coach_cue *cue, const struct coach_state *state)
{
	if (ui->closed || ui->opt.summary_only)
		return;
	ui->backend->cue(ui, cue, state);
	if (ui->sound)
		sound_cue(ui->sound, cue->kind);
}

void ui_phase(struct ui *ui, const struct coach_state *state)
{
	if (!ui->closed && !ui->opt.summary_only)
		ui->backend->phase(ui, state);
}

void ui_hold(struct ui *ui, const struct coach_hold *hold, const struct coach_state *state)
{
	if (!ui->closed && !ui->opt.summary_only)
		ui->backend->hold(ui, hold, state);
}

void ui_status(struct ui *ui, const struct ui_status *status)
{
	if (!ui->closed && !ui->opt.summary_only)
		ui->backend->status(ui, status);
}

void ui_notice(struct ui *ui, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (ui && !ui->closed)
		ui->backend->notice(ui, text);
	else
		fprintf(ui && ui->opt.notices ? ui->opt.notices : stderr, "roller: %s\n", text);
}

void ui_summary(struct ui *ui, const struct coach_summary *summary,
		const struct coach_state *state)
{
	if (ui->backend->close && ui->opt.mode == UI_MODE_SCREEN)
		ui_close(ui);
	ui->backend->summary(ui, summary, state);
}

void ui_close(struct ui *ui)
{
	if (!ui || ui->closed)
		return;
	if (ui->backend->close)
		ui->backend->close(ui);
	ui->stdin_source = sd_event_source_disable_unref(ui->stdin_source);
	ui->closed = true;
	fflush(ui->out);
}

void ui_destroy(struct ui *ui)
{
	if (!ui)
		return;
	ui_close(ui);
	if (ui->opt.mode == UI_MODE_SCREEN)
		screen_destroy(ui);
	sound_close(ui->sound);
	sd_event_unref(ui->ev);
	free(ui);
}
