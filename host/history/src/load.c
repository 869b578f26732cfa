/*
 * Loading one session: a headless replay through the session glue (the
 * coach's view), then one pass over the frames for the data (samples, the
 * roller's events, keys and notes).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "roller/history.h"
#include "roller/protocol.h"
#include "roller/session.h"
#include "roller/transport.h"
#include "roller/ui.h"

/* ---- Growing arrays ---------------------------------------------------------- */

static int grow(void **items, size_t *cap, size_t n, size_t size)
{
	size_t want;
	void *p;

	if (n < *cap)
		return 0;
	want = *cap ? *cap * 2u : 256u;
	p = reallocarray(*items, want, size);
	if (!p)
		return -ENOMEM;
	*items = p;
	*cap = want;
	return 0;
}

struct loader {
	struct history_session *s;
	size_t cap_samples, cap_events, cap_gaps;
	bool have_first;          /* first_index is known */
	bool have_last;
	uint32_t last_index;      /* last sample index received, in file order */
	uint16_t info_period_us;  /* from the Info frame */
	size_t event_seq;         /* file order, to keep the sort stable */
};

static struct history_event *new_event(struct loader *l, uint8_t source, uint32_t index,
				       const char *kind)
{
	struct history_session *s = l->s;
	struct history_event *e;

	if (grow((void **)&s->events, &l->cap_events, s->n_events, sizeof(*e)) < 0)
		return NULL;
	e = &s->events[s->n_events++];
	memset(e, 0, sizeof(*e));
	e->source = source;
	e->index = index;
	/* t_ms is set once the first sample is known (history_finish_events). */
	e->t_ms = (uint32_t)l->event_seq++;
	snprintf(e->kind, sizeof(e->kind), "%s", kind);
	return e;
}

/* ---- The replay ----------------------------------------------------------------- */

struct replay_run {
	sd_event *ev;
	bool done;
	int err;
};

static void on_done(void *userdata, int err)
{
	struct replay_run *run = userdata;

	run->done = true;
	run->err = err;
	sd_event_exit(run->ev, 0);
}

/* The coach's cues, from the JSON lines the replay printed. */
static int take_cues(struct loader *l, const char *text)
{
	const char *line = text;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		struct json_tokener *tok = json_tokener_new();
		struct json_object *o, *v;
		struct history_event *e;

		if (!tok)
			return -ENOMEM;
		o = json_tokener_parse_ex(tok, line, (int)len);
		json_tokener_free(tok);
		line = end ? end + 1 : NULL;
		if (!o)
			continue;
		if (json_object_object_get_ex(o, "event", &v) &&
		    strcmp(json_object_get_string(v), "cue") == 0 &&
		    json_object_object_get_ex(o, "sample", &v)) {
			uint32_t index = (uint32_t)json_object_get_int64(v);
			const char *kind = json_object_object_get_ex(o, "cue", &v)
						   ? json_object_get_string(v) : "?";

			e = new_event(l, HISTORY_EVENT_COACH, index, kind);
			if (!e) {
				json_object_put(o);
				return -ENOMEM;
			}
			if (json_object_object_get_ex(o, "force_dn", &v))
				e->force_dn = (int32_t)json_object_get_int64(v);
			if (json_object_object_get_ex(o, "value", &v))
				e->value = (int32_t)json_object_get_int64(v);
			if (json_object_object_get_ex(o, "text", &v))
				snprintf(e->text, sizeof(e->text), "%s", json_object_get_string(v));
		}
		json_object_put(o);
	}
	return 0;
}

/*
 * `roller replay --max` without a screen: the same transport, session and
 * coach, the JSON UI writing into memory (cues are read back from it when
 * events are wanted), notices kept for the caller.
 */
static int replay(struct loader *l, bool want_cues)
{
	struct history_session *s = l->s;
	struct replay_run run = { 0 };
	struct session_options sopt;
	struct ui_options uopt;
	struct session *session = NULL;
	struct ui *ui = NULL;
	char *json = NULL;
	size_t json_len = 0, notices_len = 0;
	FILE *out = NULL, *notices = NULL;
	const struct coach *coach;
	const struct coach_hold *holds;
	size_t n;
	int r;

	out = open_memstream(&json, &json_len);
	notices = open_memstream(&s->notices, &notices_len);
	if (!out || !notices) {
		r = -ENOMEM;
		goto out;
	}
	r = sd_event_new(&run.ev);
	if (r < 0)
		goto out;
	memset(&uopt, 0, sizeof(uopt));
	uopt.mode = UI_MODE_JSON;
	uopt.out = out;
	uopt.notices = notices;
	uopt.summary_only = !want_cues;
	r = ui_create(&ui, run.ev, &uopt);
	if (r < 0)
		goto out;

	memset(&sopt, 0, sizeof(sopt));
	sopt.transport = transport_find("replay");
	if (!sopt.transport) {
		r = -ENOSYS;
		goto out;
	}
	sopt.header = s->header;
	sopt.replay = true;
	sopt.transport_options.path = s->path;
	sopt.transport_options.speed = 0;
	sopt.done = on_done;
	sopt.userdata = &run;
	r = session_create(&session, run.ev, ui, &sopt);
	if (r < 0)
		goto out;
	r = sd_event_loop(run.ev);
	if (r < 0)
		goto out;
	r = run.done ? run.err : -EIO;
	coach = session_coach(session);
	if (r == -EINVAL)
		r = -ERANGE; /* the coach refused the header's plan */
	if (r < 0)
		goto out;
	if (!coach) {
		r = -ENODATA;
		goto out;
	}
	s->coached = true;
	coach_summary(coach, &s->summary);
	s->overpressure_dn = coach_state(coach)->overpressure_dn;
	holds = coach_holds(coach, &n);
	if (n) {
		s->holds = calloc(n, sizeof(*holds));
		if (!s->holds) {
			r = -ENOMEM;
			goto out;
		}
		memcpy(s->holds, holds, n * sizeof(*holds));
		s->n_holds = n;
	}
	if (want_cues) {
		fflush(out);
		r = take_cues(l, json ? json : "");
	}
out:
	session_destroy(session);
	ui_destroy(ui);
	sd_event_unref(run.ev);
	if (out)
		fclose(out);
	if (notices)
		fclose(notices);
	else
		s->notices = NULL;
	free(json);
	return r;
}

/* ---- The data pass --------------------------------------------------------------- */

static int take_measurement(struct loader *l, const struct proto_measurement *m)
{
	struct history_session *s = l->s;
	bool resent = (m->flags & PROTO_MEAS_RESENT) != 0;

	if (!l->have_first && !resent) {
		s->first_index = m->first_sample;
		l->have_first = true;
	}
	for (size_t i = 0; i < m->count; i++) {
		struct history_sample *x;

		if (grow((void **)&s->samples, &l->cap_samples, s->n_samples, sizeof(*x)) < 0)
			return -ENOMEM;
		x = &s->samples[s->n_samples++];
		x->index = m->first_sample + (uint32_t)i;
		x->force_dn = m->force[i];
		x->still = proto_measurement_is_still(m, i);
		x->resent = resent;
		x->t_ms = 0;
	}
	if (!resent) {
		l->last_index = m->first_sample + m->count - 1u;
		l->have_last = true;
	}
	return 0;
}

static const char *input_name(uint8_t input)
{
	switch (input) {
	case COACH_INPUT_RELIEF:
		return "relief";
	case COACH_INPUT_SKIP:
		return "skip";
	case COACH_INPUT_STOP:
		return "stop";
	default:
		return "input";
	}
}

static int take_roller_event(struct loader *l, const struct proto_event *ev)
{
	struct history_event *e = new_event(l, HISTORY_EVENT_ROLLER, ev->sample,
					    proto_event_str(ev->kind));

	if (!e)
		return -ENOMEM;
	switch (ev->kind) {
	case PROTO_EVENT_HOLD_START:
		e->force_dn = ev->u.hold_start.force;
		snprintf(e->text, sizeof(e->text), "the roller saw a hold start at %.1f N",
			 ev->u.hold_start.force / 10.0);
		break;
	case PROTO_EVENT_HOLD_END:
		e->force_dn = ev->u.hold_end.mean_force;
		e->value = ev->u.hold_end.duration;
		snprintf(e->text, sizeof(e->text),
			 "hold of %u samples (%u in band), mean %.1f N, peak %.1f N, reason %u, "
			 "dips %u", ev->u.hold_end.duration, ev->u.hold_end.in_band,
			 ev->u.hold_end.mean_force / 10.0, ev->u.hold_end.peak_force / 10.0,
			 ev->u.hold_end.reason, ev->u.hold_end.dips);
		break;
	case PROTO_EVENT_STATUS:
		e->value = ev->u.status.battery_pct;
		snprintf(e->text, sizeof(e->text), "state %u, flags 0x%02x, battery %u %%",
			 ev->u.status.state, ev->u.status.flags, ev->u.status.battery_pct);
		break;
	case PROTO_EVENT_ERROR:
		e->value = ev->u.error.code;
		snprintf(e->text, sizeof(e->text), "error %u, cell %u, detail %u", ev->u.error.code,
			 ev->u.error.channel, ev->u.error.detail);
		break;
	case PROTO_EVENT_COUNTERS:
		e->value = (int32_t)(ev->u.counters.samples_dropped > INT32_MAX
					     ? INT32_MAX : ev->u.counters.samples_dropped);
		snprintf(e->text, sizeof(e->text),
			 "samples dropped %u, events dropped %u, sessions recycled %u, rx errors %u",
			 ev->u.counters.samples_dropped, ev->u.counters.events_dropped,
			 ev->u.counters.sessions_recycled, ev->u.counters.rx_errors);
		break;
	case PROTO_EVENT_BATTERY_LOW:
		e->value = ev->u.battery_low.percent;
		snprintf(e->text, sizeof(e->text), "battery low: %u %% (%u mV)",
			 ev->u.battery_low.percent, ev->u.battery_low.millivolts);
		break;
	default:
		break;
	}
	return 0;
}

static int take_record(struct loader *l, const struct rlog_record *rec)
{
	struct proto_frame f;
	struct history_event *e;
	uint32_t at = l->have_last ? l->last_index : l->s->first_index;

	switch (rec->kind) {
	case RLOG_FRAME_IN:
		if (proto_frame_decode(rec->data, rec->len, &f) < 0)
			return 0; /* the replay counted it; nothing to show */
		switch (f.type) {
		case PROTO_TYPE_MEASUREMENT:
			return take_measurement(l, &f.u.measurement);
		case PROTO_TYPE_EVENT:
			return take_roller_event(l, &f.u.event);
		case PROTO_TYPE_SESSION:
			e = new_event(l, HISTORY_EVENT_ROLLER, f.u.session.sample,
				      f.u.session.kind == PROTO_SESSION_START ? "session-start"
									 : "session-end");
			if (!e)
				return -ENOMEM;
			e->value = f.u.session.session_id;
			snprintf(e->text, sizeof(e->text), "the roller's recording %u, region %s",
				 f.u.session.session_id, proto_region_str(f.u.session.region));
			return 0;
		case PROTO_TYPE_INFO:
			if (!l->info_period_us)
				l->info_period_us = f.u.info.sample_period_us;
			return 0;
		default:
			return 0;
		}
	case RLOG_INPUT:
		if (rec->len != 1)
			return 0;
		e = new_event(l, HISTORY_EVENT_USER, at, input_name(rec->data[0]));
		if (!e)
			return -ENOMEM;
		e->value = rec->data[0];
		snprintf(e->text, sizeof(e->text), "%s",
			 rec->data[0] == COACH_INPUT_RELIEF ? "the tenderness has eased (key r)"
			 : rec->data[0] == COACH_INPUT_SKIP ? "skip (key s)"
			 : rec->data[0] == COACH_INPUT_STOP ? "stop (key q or Ctrl-C)" : "unknown input");
		return 0;
	case RLOG_NOTE: {
		size_t n = rec->len;

		e = new_event(l, HISTORY_EVENT_HOST, at,
			      n >= 5 && memcmp(rec->data, "link ", 5) == 0 ? "link" : "note");
		if (!e)
			return -ENOMEM;
		if (n > sizeof(e->text) - 1)
			n = sizeof(e->text) - 1;
		memcpy(e->text, rec->data, n);
		e->text[n] = '\0';
		/* Notes are text for people: no control characters in exports. */
		for (char *c = e->text; *c; c++)
			if ((unsigned char)*c < 0x20)
				*c = ' ';
		return 0;
	}
	default:
		return 0;
	}
}

/* Position of a sample index after the first one (negative: before it). */
static int64_t position(const struct history_session *s, uint32_t index)
{
	return proto_seq_diff(s->first_index, index);
}

static uint32_t time_of(const struct history_session *s, int64_t pos)
{
	uint64_t ms;

	if (pos <= 0)
		return 0;
	ms = (uint64_t)pos * s->sample_period_us / 1000u;
	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

static int by_position(const void *a, const void *b, void *session)
{
	const struct history_sample *x = a, *y = b;
	int64_t px = position(session, x->index), py = position(session, y->index);

	if (px != py)
		return px < py ? -1 : 1;
	/* The live sample first, then a re-sent copy (dropped). */
	return (int)x->resent - (int)y->resent;
}

static int by_time(const void *a, const void *b, void *session)
{
	const struct history_event *x = a, *y = b;
	int64_t px = position(session, x->index), py = position(session, y->index);

	if (px < 0)
		px = 0;
	if (py < 0)
		py = 0;
	if (px != py)
		return px < py ? -1 : 1;
	/* At the same sample, what the log holds comes first in file order (the
	 * link, the roller's events), then the cues the coach gave on it. */
	if ((x->source == HISTORY_EVENT_COACH) != (y->source == HISTORY_EVENT_COACH))
		return x->source == HISTORY_EVENT_COACH ? 1 : -1;
	/* t_ms still holds the order they were read in. */
	return x->t_ms < y->t_ms ? -1 : x->t_ms > y->t_ms;
}

/* Sorts the samples by index, drops duplicates and samples from before the
 * first live one, finds the gaps and puts times on everything. */
static int finish_data(struct loader *l)
{
	struct history_session *s = l->s;
	size_t out = 0;

	if (s->n_samples && !l->have_first) {
		s->first_index = s->samples[0].index;
		l->have_first = true;
	}
	if (s->n_samples)
		qsort_r(s->samples, s->n_samples, sizeof(*s->samples), by_position, s);
	for (size_t i = 0; i < s->n_samples; i++) {
		struct history_sample *x = &s->samples[i];
		int64_t pos = position(s, x->index);

		if (pos < 0 || (out && s->samples[out - 1].index == x->index))
			continue;
		x->t_ms = time_of(s, pos);
		if (out) {
			int64_t prev = position(s, s->samples[out - 1].index);

			if (pos - prev > 1) {
				struct history_gap *g;

				if (grow((void **)&s->gaps, &l->cap_gaps, s->n_gaps, sizeof(*g)) < 0)
					return -ENOMEM;
				g = &s->gaps[s->n_gaps++];
				g->first_index = s->samples[out - 1].index + 1u;
				g->count = (uint32_t)(pos - prev - 1);
				g->t_ms = time_of(s, prev + 1);
			}
		}
		s->samples[out++] = *x;
	}
	s->n_samples = out;
	if (s->n_events)
		qsort_r(s->events, s->n_events, sizeof(*s->events), by_time, s);
	for (size_t i = 0; i < s->n_events; i++)
		s->events[i].t_ms = time_of(s, position(s, s->events[i].index));
	return 0;
}

static int read_data(struct loader *l, struct rlog_reader *reader, unsigned flags)
{
	struct rlog_record rec;
	int k, r;

	while ((k = rlog_reader_next(reader, &rec)) > 0) {
		if (!(flags & HISTORY_LOAD_ALL)) {
			if (rec.kind == RLOG_FRAME_IN && rec.channel == RLOG_CH_INFO &&
			    !l->info_period_us) {
				struct proto_info info;

				if (proto_info_decode(rec.data, rec.len, &info) == 0)
					l->info_period_us = info.sample_period_us;
			}
			continue;
		}
		r = take_record(l, &rec);
		if (r < 0)
			return r;
	}
	if (k < 0)
		return k;
	l->s->torn = reader->torn;
	l->s->torn_offset = reader->torn_offset;
	return 0;
}

/* ---- Public ------------------------------------------------------------------------ */

void history_free(struct history_session *s)
{
	if (!s)
		return;
	free(s->holds);
	free(s->samples);
	free(s->gaps);
	free(s->events);
	free(s->notices);
	free(s);
}

int history_load(const char *path, unsigned flags, struct history_session **out)
{
	struct history_session *s;
	struct loader l;
	struct rlog_reader reader;
	struct stat st;
	bool reader_open = false;
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!path || !*path)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(&l, 0, sizeof(l));
	l.s = s;
	if (strlen(path) >= sizeof(s->path)) {
		r = -ENAMETOOLONG;
		goto fail;
	}
	snprintf(s->path, sizeof(s->path), "%s", path);
	if (stat(path, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		goto fail;
	}
	s->file_size = (uint64_t)st.st_size;
	s->file_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;

	/* The header configures the replay as it configured the live coach. */
	r = rlog_reader_open(&reader, path);
	if (r < 0)
		goto fail;
	reader_open = true;
	s->header = reader.header;

	/* The frames first: a damaged record is found here, with no replay
	 * started, and told apart from a file that is no log at all. */
	r = read_data(&l, &reader, flags);
	if (r == -EBADMSG)
		r = -EILSEQ;
	if (r < 0)
		goto fail;
	r = replay(&l, (flags & HISTORY_LOAD_EVENTS) != 0);
	if (r == -EBADMSG)
		r = -EILSEQ;
	if (r < 0)
		goto fail;
	s->sample_period_us = s->header.sample_period_us ? s->header.sample_period_us
							  : l.info_period_us;
	if (!s->sample_period_us) {
		r = -ERANGE;
		goto fail;
	}
	if (session_coach_config(&s->header, s->sample_period_us, &s->config) < 0) {
		r = -ERANGE;
		goto fail;
	}
	r = finish_data(&l);
	if (r < 0)
		goto fail;
	if (!s->notices) {
		s->notices = strdup("");
		if (!s->notices) {
			r = -ENOMEM;
			goto fail;
		}
	}
	rlog_reader_close(&reader);
	*out = s;
	return 0;
fail:
	if (reader_open)
		rlog_reader_close(&reader);
	history_free(s);
	return r;
}

const char *history_strerror(int err)
{
	switch (err) {
	case -ENODATA:
		return "no Info frame from the roller in this log: nothing was coached";
	case -ERANGE:
		return "the log's header has no usable plan (body weight, sample period or band "
		       "out of range)";
	case -ENAMETOOLONG:
		return "the path is too long";
	case -ENOENT:
		return "no such file";
	case -EISDIR:
		return "is a directory, not a session log";
	case -ESPIPE:
		return "not a regular file (a pipe, socket or device), not a session log";
	case -EILSEQ:
		return "damaged: a record in the middle of the log fails its check";
	case -EBADMSG:
		return "not a roller session log, or its header is damaged";
	case -EPROTONOSUPPORT:
	case -EFBIG:
		return rlog_strerror(err);
	default:
		return err < 0 ? strerror(-err) : "no error";
	}
}

void history_row_from_session(const struct history_session *s, struct sindex_row *row)
{
	size_t n = strnlen(s->path, sizeof(row->path) - 1);

	memset(row, 0, sizeof(*row));
	memcpy(row->path, s->path, n); /* history_summarize() refuses longer paths */
	row->started_unix_ms = s->header.created_unix_ms > INT64_MAX
				       ? INT64_MAX : (int64_t)s->header.created_unix_ms;
	snprintf(row->roller_id, sizeof(row->roller_id), "%s", s->header.roller_id);
	row->region = s->header.region;
	row->duration_ms = s->summary.session_ms;
	row->holds = s->summary.holds;
	row->holds_complete = s->summary.complete;
	row->in_band_ms = s->summary.in_band_ms;
	row->peak_force_dn = s->summary.peak_force_dn;
	row->mean_force_dn = s->summary.mean_force_dn;
	row->body_weight_dkg = s->header.body_weight_dkg;
	row->samples_lost = s->summary.samples_lost;
	row->torn = s->torn;
	row->file_size = s->file_size > INT64_MAX ? INT64_MAX : (int64_t)s->file_size;
	row->file_mtime_ns = s->file_mtime_ns;
}

int history_summarize(const char *path, struct sindex_row *row)
{
	struct history_session *s;
	int r;

	if (!path || !row)
		return -EINVAL;
	if (strlen(path) >= sizeof(row->path))
		return -ENAMETOOLONG;
	r = history_load(path, 0, &s);
	if (r < 0)
		return r;
	history_row_from_session(s, row);
	history_free(s);
	return 0;
}

double history_percent_bw(int32_t force_dn, uint16_t body_weight_dkg)
{
	uint32_t weight_dn = coach_weight_dn(body_weight_dkg);

	return weight_dn ? 100.0 * force_dn / weight_dn : 0.0;
}
