/*
 * --json: one JSON object per line (json-c). Deterministic on purpose: only
 * integers, no wall clock, keys in a fixed order; "t" is the coach's time in
 * ms. A replay of a session prints exactly the lines printed live.
 */
#include <stdio.h>

#include <json-c/json.h>

#include "ui_internal.h"

static struct json_object *line(const char *event, uint32_t time_ms)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "t", json_object_new_int64(time_ms));
	json_object_object_add(o, "event", json_object_new_string(event));
	return o;
}

static void add_int(struct json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

static void add_str(struct json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v));
}

static void emit(struct ui *ui, struct json_object *o)
{
	if (!o)
		return;
	fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						    JSON_C_TO_STRING_NOSLASHESCAPE),
	      ui->out);
	fputc('\n', ui->out);
	fflush(ui->out);
	json_object_put(o);
}

static void add_band(struct json_object *o, const struct coach_state *st)
{
	add_int(o, "band_low_dn", st->band_low_dn);
	add_int(o, "band_high_dn", st->band_high_dn);
	add_int(o, "band_low_permille", st->band_low_permille);
	add_int(o, "band_high_permille", st->band_high_permille);
}

static void json_start(struct ui *ui, const struct ui_info *info)
{
	const struct coach_plan *p = info->plan;
	const struct coach_state *st = info->state;
	struct json_object *o = line("start", st->time_ms);
	char fw[16];

	if (!o)
		return;
	add_str(o, "region", proto_region_str(info->region));
	add_str(o, "roller", info->roller_id);
	snprintf(fw, sizeof(fw), "%u.%u.%u", info->fw_major, info->fw_minor, info->fw_patch);
	add_str(o, "firmware", fw);
	add_int(o, "calibration", info->calibration);
	add_int(o, "sample_period_us", info->sample_period_us);
	add_int(o, "body_weight_dkg", info->body_weight_dkg);
	add_int(o, "reps", p->reps);
	add_int(o, "hold_ms", p->hold_ms);
	add_int(o, "rest_ms", p->rest_ms);
	add_int(o, "effective_ms", p->effective_ms);
	add_int(o, "grace_ms", p->grace_ms);
	add_band(o, st);
	add_int(o, "overpressure_dn", st->overpressure_dn);
	add_str(o, "hint", p->hint ? p->hint : "");
	add_str(o, "safety", coach_safety_text());
	emit(ui, o);
}

static void json_link(struct ui *ui, enum transport_state st, int err, const char *detail,
		      uint32_t time_ms)
{
	struct json_object *o;

	/* Ended/failed belong to the command's exit, not to the session's story
	 * (a replay ends where the file ends). */
	if (st == TRANSPORT_ENDED || st == TRANSPORT_FAILED)
		return;
	o = line("link", time_ms);
	if (!o)
		return;
	add_str(o, "state", ui_link_str(st));
	if (err)
		add_int(o, "error", err);
	if (detail)
		add_str(o, "detail", detail);
	emit(ui, o);
}

static void json_cue(struct ui *ui, const struct coach_cue *cue, const struct coach_state *state)
{
	struct json_object *o = line("cue", cue->time_ms);

	(void)state;
	if (!o)
		return;
	add_str(o, "cue", coach_cue_str(cue->kind));
	add_int(o, "rep", cue->rep);
	add_int(o, "sample", cue->sample);
	add_int(o, "force_dn", cue->force_dn);
	add_int(o, "value", cue->value);
	add_str(o, "text", coach_cue_text(cue->kind));
	emit(ui, o);
}

static void json_phase(struct ui *ui, const struct coach_state *st)
{
	struct json_object *o = line("phase", st->time_ms);

	if (!o)
		return;
	add_str(o, "phase", coach_phase_str(st->phase));
	add_int(o, "rep", st->rep);
	add_int(o, "reps", st->reps);
	add_int(o, "sample", st->sample);
	add_int(o, "force_dn", st->force_dn);
	add_int(o, "force_permille", st->force_permille);
	add_band(o, st);
	add_int(o, "countdown_ms", st->countdown_ms);
	add_int(o, "rest_left_ms", st->rest_left_ms);
	if (st->phase == COACH_PHASE_PAUSED)
		add_str(o, "dip", coach_dip_cause_str(st->dip_cause));
	emit(ui, o);
}

static void json_hold(struct ui *ui, const struct coach_hold *h, const struct coach_state *st)
{
	struct json_object *o = line("hold", st->time_ms);

	if (!o)
		return;
	add_int(o, "rep", h->rep);
	add_str(o, "result", coach_hold_result_str(h->result));
	if (h->end_cause)
		add_str(o, "end_cause", coach_dip_cause_str(h->end_cause));
	add_int(o, "start_sample", h->start_sample);
	add_int(o, "duration_ms", h->duration_ms);
	add_int(o, "in_band_ms", h->in_band_ms);
	add_int(o, "mean_force_dn", h->mean_force_dn);
	add_int(o, "mean_force_permille", h->mean_force_permille);
	add_int(o, "peak_force_dn", h->peak_force_dn);
	add_int(o, "band_low_dn", h->band_low_dn);
	add_int(o, "band_high_dn", h->band_high_dn);
	add_int(o, "step_ups", h->step_ups);
	add_int(o, "dips", h->dips);
	emit(ui, o);
}

static void json_status(struct ui *ui, const struct ui_status *status)
{
	(void)ui;
	(void)status;
}

static void json_notice(struct ui *ui, const char *text)
{
	fprintf(ui->opt.notices ? ui->opt.notices : stderr, "roller: %s\n", text);
}

static void json_summary(struct ui *ui, const struct coach_summary *s,
			 const struct coach_state *st)
{
	struct json_object *o = line("summary", st ? st->time_ms : 0);

	if (!o)
		return;
	add_str(o, "region", proto_region_str(s->region));
	add_int(o, "reps_planned", s->reps_planned);
	add_int(o, "reps_done", s->reps_done);
	add_int(o, "holds", s->holds);
	add_int(o, "complete", s->complete);
	add_int(o, "early_release", s->early_release);
	add_int(o, "partial", s->partial);
	add_int(o, "reset", s->reset);
	add_int(o, "stopped", s->stopped);
	add_int(o, "session_ms", s->session_ms);
	add_int(o, "hold_ms", s->hold_ms);
	add_int(o, "in_band_ms", s->in_band_ms);
	add_int(o, "mean_force_dn", s->mean_force_dn);
	add_int(o, "mean_force_permille", s->mean_force_permille);
	add_int(o, "peak_force_dn", s->peak_force_dn);
	add_int(o, "band_low_dn", s->band_low_dn);
	add_int(o, "band_high_dn", s->band_high_dn);
	add_int(o, "tolerance_dn", s->tolerance_dn);
	add_int(o, "drops", s->drops);
	add_int(o, "over_pressure", s->over_pressure);
	add_int(o, "gaps", s->gaps);
	add_int(o, "samples_lost", s->samples_lost);
	add_int(o, "duplicates", s->duplicates);
	add_int(o, "resent", s->resent);
	add_int(o, "invalid", s->invalid);
	add_int(o, "host_detected", s->host_detected);
	add_int(o, "device_detected", s->device_detected);
	emit(ui, o);
}

const struct ui_backend ui_json_backend = {
	.start = json_start,
	.link = json_link,
	.cue = json_cue,
	.phase = json_phase,
	.hold = json_hold,
	.status = json_status,
	.notice = json_notice,
	.summary = json_summary,
};
