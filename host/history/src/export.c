/* roller export: a loaded session as CSV tables or one JSON document. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "roller/history.h"
#include "roller/protocol.h"

static const char *source_str(uint8_t source)
{
	switch (source) {
	case HISTORY_EVENT_ROLLER:
		return "roller";
	case HISTORY_EVENT_COACH:
		return "coach";
	case HISTORY_EVENT_USER:
		return "user";
	case HISTORY_EVENT_HOST:
		return "host";
	default:
		return "?";
	}
}

/* ---- CSV ------------------------------------------------------------------------ */

/* A text field, quoted as RFC 4180 says. */
static void csv_text(FILE *f, const char *text)
{
	fputc('"', f);
	for (const char *p = text; *p; p++) {
		if (*p == '"')
			fputc('"', f);
		fputc(*p, f);
	}
	fputc('"', f);
}

static void csv_samples(FILE *f, const struct history_session *s)
{
	uint16_t weight = s->header.body_weight_dkg;

	fputs("sample,t_s,force_n,percent_bw,still\n", f);
	for (size_t i = 0; i < s->n_samples; i++) {
		const struct history_sample *x = &s->samples[i];

		if (x->force_dn == PROTO_FORCE_INVALID)
			fprintf(f, "%u,%.3f,,,%d\n", x->index, x->t_ms / 1000.0, x->still);
		else
			fprintf(f, "%u,%.3f,%.1f,%.2f,%d\n", x->index, x->t_ms / 1000.0,
				x->force_dn / 10.0, history_percent_bw(x->force_dn, weight), x->still);
	}
}

static uint32_t hold_start_ms(const struct history_session *s, const struct coach_hold *h)
{
	int32_t pos = proto_seq_diff(s->first_index, h->start_sample);

	return pos <= 0 ? 0 : (uint32_t)((uint64_t)pos * s->sample_period_us / 1000u);
}

static void csv_holds(FILE *f, const struct history_session *s)
{
	uint16_t weight = s->header.body_weight_dkg;

	fputs("rep,result,start_sample,start_s,duration_s,in_band_s,mean_force_n,mean_percent_bw,"
	      "peak_force_n,band_low_n,band_high_n,step_ups,dips\n", f);
	for (size_t i = 0; i < s->n_holds; i++) {
		const struct coach_hold *h = &s->holds[i];

		fprintf(f, "%u,%s,%u,%.3f,%.3f,%.3f,%.1f,%.2f,%.1f,%.1f,%.1f,%u,%u\n", h->rep,
			coach_hold_result_str(h->result), h->start_sample,
			hold_start_ms(s, h) / 1000.0, h->duration_ms / 1000.0, h->in_band_ms / 1000.0,
			h->mean_force_dn / 10.0, history_percent_bw(h->mean_force_dn, weight),
			h->peak_force_dn / 10.0, h->band_low_dn / 10.0, h->band_high_dn / 10.0,
			h->step_ups, h->dips);
	}
}

static void csv_events(FILE *f, const struct history_session *s)
{
	fputs("sample,t_s,source,kind,force_n,value,text\n", f);
	for (size_t i = 0; i < s->n_events; i++) {
		const struct history_event *e = &s->events[i];

		fprintf(f, "%u,%.3f,%s,%s,", e->index, e->t_ms / 1000.0, source_str(e->source),
			e->kind);
		if (e->source == HISTORY_EVENT_COACH || e->force_dn)
			fprintf(f, "%.1f", e->force_dn / 10.0);
		fprintf(f, ",%d,", e->value);
		csv_text(f, e->text);
		fputs("\n", f);
	}
}

int history_export_csv(FILE *f, const struct history_session *s, enum history_table table)
{
	if (!f || !s)
		return -EINVAL;
	switch (table) {
	case HISTORY_TABLE_SAMPLES:
		csv_samples(f, s);
		break;
	case HISTORY_TABLE_HOLDS:
		csv_holds(f, s);
		break;
	case HISTORY_TABLE_EVENTS:
		csv_events(f, s);
		break;
	default:
		return -EINVAL;
	}
	return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}

/* ---- JSON -------------------------------------------------------------------------- */

/* A number printed with a fixed number of decimals (json-c would print
 * 22.300000000000001). */
static struct json_object *fixed(double v, int decimals)
{
	char text[48];

	snprintf(text, sizeof(text), "%.*f", decimals, v);
	return json_object_new_double_s(v, text);
}

static void put(struct json_object *o, const char *key, struct json_object *v)
{
	json_object_object_add(o, key, v);
}

static void put_int(struct json_object *o, const char *key, int64_t v)
{
	put(o, key, json_object_new_int64(v));
}

static void put_str(struct json_object *o, const char *key, const char *v)
{
	put(o, key, json_object_new_string(v));
}

static struct json_object *session_object(const struct history_session *s)
{
	const struct rlog_header *h = &s->header;
	struct json_object *o = json_object_new_object();
	char text[32];
	time_t secs = (time_t)(h->created_unix_ms / 1000u);
	struct tm tm;

	if (!o)
		return NULL;
	put_str(o, "file", s->path);
	text[0] = '\0';
	if (gmtime_r(&secs, &tm))
		strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
	put_str(o, "started", text);
	put_int(o, "started_unix_ms", (int64_t)(h->created_unix_ms > INT64_MAX ? INT64_MAX
										   : h->created_unix_ms));
	put_str(o, "roller", h->roller_id);
	put_str(o, "transport", h->transport);
	snprintf(text, sizeof(text), "%u.%u.%u", h->fw_major, h->fw_minor, h->fw_patch);
	put_str(o, "firmware", text);
	snprintf(text, sizeof(text), "%u.%u", h->proto_major, h->proto_minor);
	put_str(o, "protocol", text);
	put_str(o, "region", proto_region_str(h->region));
	put_str(o, "calibration", proto_calibration_str(h->calibration));
	put_int(o, "sample_period_us", s->sample_period_us);
	put_int(o, "first_sample", s->first_index);
	put(o, "body_weight_kg", fixed(h->body_weight_dkg / 10.0, 1));
	put(o, "torn", json_object_new_boolean(s->torn));
	return o;
}

static struct json_object *plan_object(const struct history_session *s)
{
	const struct coach_plan *p = &s->config.plan;
	uint32_t weight_dn = coach_weight_dn(s->header.body_weight_dkg);
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	put_int(o, "reps", p->reps);
	put(o, "hold_s", fixed(p->hold_ms / 1000.0, 1));
	put(o, "rest_s", fixed(p->rest_ms / 1000.0, 1));
	put(o, "effective_s", fixed(p->effective_ms / 1000.0, 1));
	put_int(o, "grace_ms", p->grace_ms);
	put(o, "band_low_n", fixed(weight_dn * p->band_low_permille / 10000.0, 1));
	put(o, "band_high_n", fixed(weight_dn * p->band_high_permille / 10000.0, 1));
	put(o, "band_low_percent_bw", fixed(p->band_low_permille / 10.0, 1));
	put(o, "band_high_percent_bw", fixed(p->band_high_permille / 10.0, 1));
	put(o, "overpressure_percent_bw", fixed(p->overpressure_permille / 10.0, 1));
	put_str(o, "hint", p->hint ? p->hint : "");
	return o;
}

static struct json_object *summary_object(const struct history_session *s)
{
	const struct coach_summary *m = &s->summary;
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	put_int(o, "reps_planned", m->reps_planned);
	put_int(o, "reps_done", m->reps_done);
	put_int(o, "holds", m->holds);
	put_int(o, "complete", m->complete);
	put_int(o, "early_release", m->early_release);
	put_int(o, "partial", m->partial);
	put_int(o, "reset", m->reset);
	put_int(o, "stopped", m->stopped);
	put(o, "session_s", fixed(m->session_ms / 1000.0, 3));
	put(o, "hold_s", fixed(m->hold_ms / 1000.0, 3));
	put(o, "in_band_s", fixed(m->in_band_ms / 1000.0, 3));
	put(o, "mean_force_n", fixed(m->mean_force_dn / 10.0, 1));
	put(o, "mean_percent_bw", fixed(m->mean_force_permille / 10.0, 1));
	put(o, "peak_force_n", fixed(m->peak_force_dn / 10.0, 1));
	put(o, "band_low_n", fixed(m->band_low_dn / 10.0, 1));
	put(o, "band_high_n", fixed(m->band_high_dn / 10.0, 1));
	put_int(o, "drops", m->drops);
	put_int(o, "over_pressure", m->over_pressure);
	put_int(o, "gaps", m->gaps);
	put_int(o, "samples_lost", m->samples_lost);
	put_int(o, "duplicates", m->duplicates);
	put_int(o, "invalid", m->invalid);
	put_int(o, "holds_detected_by_host", m->host_detected);
	put_int(o, "holds_detected_by_roller", m->device_detected);
	return o;
}

static struct json_object *hold_object(const struct history_session *s, const struct coach_hold *h)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	put_int(o, "rep", h->rep);
	put_str(o, "result", coach_hold_result_str(h->result));
	if (h->end_cause)
		put_str(o, "end_cause", coach_dip_cause_str(h->end_cause));
	put_int(o, "start_sample", h->start_sample);
	put(o, "start_s", fixed(hold_start_ms(s, h) / 1000.0, 3));
	put(o, "duration_s", fixed(h->duration_ms / 1000.0, 3));
	put(o, "in_band_s", fixed(h->in_band_ms / 1000.0, 3));
	put(o, "mean_force_n", fixed(h->mean_force_dn / 10.0, 1));
	put(o, "mean_percent_bw", fixed(history_percent_bw(h->mean_force_dn,
							  s->header.body_weight_dkg), 2));
	put(o, "peak_force_n", fixed(h->peak_force_dn / 10.0, 1));
	put(o, "band_low_n", fixed(h->band_low_dn / 10.0, 1));
	put(o, "band_high_n", fixed(h->band_high_dn / 10.0, 1));
	put_int(o, "step_ups", h->step_ups);
	put_int(o, "dips", h->dips);
	return o;
}

static struct json_object *event_object(const struct history_event *e)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	put_int(o, "sample", e->index);
	put(o, "t_s", fixed(e->t_ms / 1000.0, 3));
	put_str(o, "source", source_str(e->source));
	put_str(o, "kind", e->kind);
	if (e->source == HISTORY_EVENT_COACH || e->force_dn)
		put(o, "force_n", fixed(e->force_dn / 10.0, 1));
	put_int(o, "value", e->value);
	put_str(o, "text", e->text);
	return o;
}

static struct json_object *sample_object(const struct history_session *s,
					 const struct history_sample *x)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	put_int(o, "sample", x->index);
	put(o, "t_s", fixed(x->t_ms / 1000.0, 3));
	if (x->force_dn == PROTO_FORCE_INVALID) {
		put(o, "force_n", NULL);
		put(o, "percent_bw", NULL);
	} else {
		put(o, "force_n", fixed(x->force_dn / 10.0, 1));
		put(o, "percent_bw", fixed(history_percent_bw(x->force_dn, s->header.body_weight_dkg), 2));
	}
	put(o, "still", json_object_new_boolean(x->still));
	if (x->resent)
		put(o, "resent", json_object_new_boolean(true));
	return o;
}

/* Prints and frees o; false when it could not be made. */
static bool emit(FILE *f, struct json_object *o)
{
	if (!o)
		return false;
	fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						    JSON_C_TO_STRING_NOSLASHESCAPE), f);
	json_object_put(o);
	return true;
}

/*
 * The document is written piece by piece: a one-hour session has some
 * 200,000 samples, and a json-c tree of all of them would take a hundred
 * times the memory of the log. Every value is still printed by json-c.
 */
int history_export_json(FILE *f, const struct history_session *s)
{
	bool ok = true;

	if (!f || !s)
		return -EINVAL;
	fputs("{\"session\":", f);
	ok = ok && emit(f, session_object(s));
	fputs(",\"plan\":", f);
	ok = ok && emit(f, plan_object(s));
	fputs(",\"summary\":", f);
	ok = ok && emit(f, summary_object(s));
	fputs(",\n\"holds\":[", f);
	for (size_t i = 0; ok && i < s->n_holds; i++) {
		fputs(i ? ",\n" : "\n", f);
		ok = emit(f, hold_object(s, &s->holds[i]));
	}
	fputs("],\n\"events\":[", f);
	for (size_t i = 0; ok && i < s->n_events; i++) {
		fputs(i ? ",\n" : "\n", f);
		ok = emit(f, event_object(&s->events[i]));
	}
	fputs("],\n\"gaps\":[", f);
	for (size_t i = 0; ok && i < s->n_gaps; i++) {
		struct json_object *o = json_object_new_object();

		if (o) {
			put_int(o, "first_sample", s->gaps[i].first_index);
			put_int(o, "samples", s->gaps[i].count);
			put(o, "t_s", fixed(s->gaps[i].t_ms / 1000.0, 3));
		}
		fputs(i ? ",\n" : "\n", f);
		ok = emit(f, o);
	}
	fputs("],\n\"samples\":[", f);
	for (size_t i = 0; ok && i < s->n_samples; i++) {
		fputs(i ? ",\n" : "\n", f);
		ok = emit(f, sample_object(s, &s->samples[i]));
	}
	fputs("]}\n", f);
	if (!ok)
		return -ENOMEM;
	return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}
