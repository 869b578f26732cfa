/*
 * --plain: one line per change, for pipes and screen readers. The stamp is
 * the coach's time, so a replay prints the same lines.
 */
#include <stdio.h>
#include <string.h>

#include "ui_internal.h"

static void stamp(struct ui *ui, uint32_t time_ms)
{
	fprintf(ui->out, "[%7.1f s] ", time_ms / 1000.0);
}

static void plain_start(struct ui *ui, const struct ui_info *info)
{
	const struct coach_plan *p = info->plan;
	const struct coach_state *st = info->state;

	fprintf(ui->out, "Roller coach: %s, %u x %u s holds, %u s rest; target band %.1f-%.1f %% of "
			 "%.1f kg body weight (%.1f-%.1f N); firmware %u.%u.%u\n",
		proto_region_str(info->region), p->reps, p->hold_ms / 1000u, p->rest_ms / 1000u,
		ui_percent(st->band_low_permille), ui_percent(st->band_high_permille),
		info->body_weight_dkg / 10.0, ui_newtons(st->band_low_dn),
		ui_newtons(st->band_high_dn), info->fw_major, info->fw_minor, info->fw_patch);
	if (p->hint)
		fprintf(ui->out, "Position: %s\n", p->hint);
	fprintf(ui->out, "Safety: %s\n", coach_safety_text());
	if (ui->stdin_source && info->replay)
		fprintf(ui->out, "Keys (then Enter): q = stop the replay\n");
	else if (ui->stdin_source)
		fprintf(ui->out, "Keys (then Enter): r = tenderness eased (release early), "
				 "s = skip the rest, q = quit\n");
	fflush(ui->out);
}

static void plain_link(struct ui *ui, enum transport_state st, int err, const char *detail,
		       uint32_t time_ms)
{
	(void)err;
	if (st == TRANSPORT_ENDED || st == TRANSPORT_FAILED)
		return; /* reported by the command (exit status, summary) */
	stamp(ui, time_ms);
	fprintf(ui->out, "link %s%s%s\n", ui_link_str(st), detail ? ": " : "", detail ? detail : "");
	fflush(ui->out);
}

static void plain_cue(struct ui *ui, const struct coach_cue *cue, const struct coach_state *state)
{
	(void)state;
	if (ui->opt.bell && ui->out_is_tty)
		fputc('\a', ui->out);
	stamp(ui, cue->time_ms);
	fprintf(ui->out, "cue %-14s %s (%.1f N)\n", coach_cue_str(cue->kind),
		coach_cue_text(cue->kind), ui_newtons(cue->force_dn));
	fflush(ui->out);
}

static void plain_phase(struct ui *ui, const struct coach_state *st)
{
	char left[16];

	stamp(ui, st->time_ms);
	fprintf(ui->out, "rep %u/%u %-11s force %.1f N (%.1f %%), band %.1f-%.1f N", st->rep,
		st->reps, coach_phase_str(st->phase), ui_newtons(st->force_dn),
		ui_percent(st->force_permille), ui_newtons(st->band_low_dn),
		ui_newtons(st->band_high_dn));
	if (st->phase == COACH_PHASE_REST) {
		ui_format_clock(left, sizeof(left), st->rest_left_ms);
		fprintf(ui->out, ", rest %s", left);
	} else if (st->phase != COACH_PHASE_DONE) {
		ui_format_clock(left, sizeof(left), st->countdown_ms);
		fprintf(ui->out, ", %s left", left);
	}
	fputc('\n', ui->out);
	fflush(ui->out);
}

static void plain_hold(struct ui *ui, const struct coach_hold *h, const struct coach_state *st)
{
	stamp(ui, st->time_ms);
	fprintf(ui->out, "hold %u %s: %.1f s in band of %.1f s, mean %.1f N (%.1f %%), peak %.1f N, "
			 "%u dips\n",
		h->rep, coach_hold_result_str(h->result), h->in_band_ms / 1000.0,
		h->duration_ms / 1000.0, ui_newtons(h->mean_force_dn),
		ui_percent(h->mean_force_permille), ui_newtons(h->peak_force_dn), h->dips);
	fflush(ui->out);
}

static void plain_status(struct ui *ui, const struct ui_status *status)
{
	(void)ui;
	(void)status;
}

static void plain_notice(struct ui *ui, const char *text)
{
	fflush(ui->out);
	fprintf(ui->opt.notices ? ui->opt.notices : stderr, "roller: %s\n", text);
}

static void plain_summary(struct ui *ui, const struct coach_summary *s,
			  const struct coach_state *st)
{
	(void)st;
	ui_print_summary(ui->out, s);
	fflush(ui->out);
}

const struct ui_backend ui_plain_backend = {
	.start = plain_start,
	.link = plain_link,
	.cue = plain_cue,
	.phase = plain_phase,
	.hold = plain_hold,
	.status = plain_status,
	.notice = plain_notice,
	.summary = plain_summary,
};
