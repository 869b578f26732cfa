/*
 * The session glue. The invariant that makes replay equal live: every frame
 * the coach sees was appended to the log before it was fed, every input was
 * appended before it was applied, and nothing is fed after the log is closed.
 * A replay feeds the log's frames and inputs in file order through the same
 * functions, so the coach sees the same stream.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roller/protocol.h"
#include "roller/session.h"

#define PENDING_MAX 32u
#define PENDING_DATA_MAX 300u
#define QUEUE_MAX 8u
#define BAD_FRAME_NOTICES 3u
#define END_MARKER_WAIT_US 1000000u
#define RESEND_CHUNKS_MAX 4u /* a gap longer than this many requests stays a gap */

struct session;
typedef void (*control_cb)(struct session *s, int err, const struct proto_control_response *rsp);

/* Records that arrive before the log can be created (it needs the Info frame). */
struct pending_record {
	uint8_t kind, channel;
	uint64_t mono_us;
	uint16_t len;
	uint8_t data[PENDING_DATA_MAX];
};

struct queued_request {
	struct proto_control_request req;
	control_cb cb;
};

enum stage {
	STAGE_WAITING = 0, /* for the Info frame */
	STAGE_COACHING,
	STAGE_STOPPING,    /* waiting for the roller to stop recording */
	STAGE_FINISHED
};

struct session {
	sd_event *ev;
	struct ui *ui;
	struct session_options opt;
	const struct transport_ops *ops;
	struct transport *t;
	enum stage stage;
	unsigned stop_requests;

	/* Log */
	struct rlog_header header;
	bool logging;
	char log_dir[PATH_MAX];
	char log_stem[128];
	char log_path[PATH_MAX + NAME_MAX + 2];
	struct rlog_writer writer;
	bool writer_open;
	bool log_failed;
	struct pending_record pending[PENDING_MAX];
	size_t n_pending;
	uint64_t mono0_us, wall0_ms;
	uint64_t last_mono_us;

	/* Coach */
	bool configured;
	struct coach_config config;
	struct coach coach;
	uint8_t last_phase;
	size_t holds_seen;

	/* Roller */
	bool have_next_sample;
	uint32_t next_sample;     /* index after the last live sample received */
	enum transport_state link;
	int battery_pct;
	bool device_session;

	/* Control requests: one outstanding, the rest queued. */
	struct queued_request queue[QUEUE_MAX];
	size_t q_head, q_len;
	bool outstanding;
	uint8_t outstanding_token;
	uint8_t outstanding_opcode;
	control_cb outstanding_cb;
	uint8_t next_token;
	sd_event_source *timeout;
	/* After STOP_SESSION: the roller's end-of-session marker closes the log. */
	sd_event_source *end_timer;

	struct session_counters counters;
};

static uint64_t clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- Plan <-> header ------------------------------------------------------ */

static uint16_t permille_of(uint32_t dn, uint32_t weight_dn)
{
	uint64_t v = ((uint64_t)dn * 1000u + weight_dn / 2u) / weight_dn;

	return v > UINT16_MAX ? UINT16_MAX : (uint16_t)v;
}

static uint16_t dn_of(uint16_t permille, uint32_t weight_dn)
{
	uint64_t v = ((uint64_t)permille * weight_dn + 500u) / 1000u;

	return v > UINT16_MAX ? UINT16_MAX : (uint16_t)v;
}

int session_coach_config(const struct rlog_header *h, uint16_t sample_period_us,
			 struct coach_config *config)
{
	struct coach_plan *p = &config->plan;
	uint32_t weight_dn;
	int r;

	if (!h || !config || !h->body_weight_dkg || !sample_period_us)
		return -EINVAL;
	r = coach_config_init(config, h->region, sample_period_us, h->body_weight_dkg);
	if (r < 0)
		return r;
	/* The header's plan is complete when it has a hold time (see
	 * session_header_set_plan); older or foreign logs keep the defaults. */
	if (h->plan_hold_s) {
		p->hold_ms = h->plan_hold_s * 1000u;
		if (p->effective_ms > p->hold_ms)
			p->effective_ms = p->hold_ms;
		p->rest_ms = h->plan_rest_s * 1000u;
		if (h->plan_reps)
			p->reps = h->plan_reps;
		p->grace_ms = h->grace_ms;
	}
	weight_dn = coach_weight_dn(h->body_weight_dkg);
	if (h->band_low_dn && h->band_high_dn && weight_dn) {
		p->band_low_permille = permille_of(h->band_low_dn, weight_dn);
		p->band_high_permille = permille_of(h->band_high_dn, weight_dn);
	}
	/* The log does not say whether a tolerance step ran, so none runs. */
	config->find_tolerance = false;
	return coach_plan_check(p) == 0 ? 0 : -ERANGE;
}

void session_header_set_plan(struct rlog_header *h, const struct coach_plan *plan,
			     uint16_t body_weight_dkg)
{
	uint32_t weight_dn = coach_weight_dn(body_weight_dkg);

	h->region = plan->region;
	h->body_weight_dkg = body_weight_dkg;
	h->plan_hold_s = (uint16_t)((plan->hold_ms + 999u) / 1000u);
	h->plan_rest_s = (uint16_t)(plan->rest_ms / 1000u);
	h->plan_reps = plan->reps;
	h->band_low_dn = dn_of(plan->band_low_permille, weight_dn);
	h->band_high_dn = dn_of(plan->band_high_permille, weight_dn);
	h->grace_ms = plan->grace_ms;
}

/* ---- Log ------------------------------------------------------------------ */

static void finish(struct session *s, int err);

static void log_append(struct session *s, uint8_t kind, uint8_t channel, const void *data,
		       size_t len, uint64_t mono_us)
{
	struct rlog_record rec = {
		.kind = kind,
		.channel = channel,
		.mono_us = mono_us,
		/* Wall time follows the transport's clock (virtual for the sim). */
		.wall_ms = s->wall0_ms + (mono_us > s->mono0_us ? (mono_us - s->mono0_us) / 1000u : 0),
		.len = (uint16_t)len,
		.data = data,
	};
	int r;

	if (s->log_failed)
		return;
	r = rlog_writer_append(&s->writer, &rec);
	if (r < 0) {
		s->counters.log_errors++;
		s->log_failed = true;
		ui_notice(s->ui, "session log %s: %s; it is kept up to the last complete record, "
				 "coaching goes on", s->log_path, rlog_strerror(r));
		return;
	}
	s->counters.records++;
}

/* Appends a record to the log, or keeps it until the log exists. */
static void record(struct session *s, uint8_t kind, uint8_t channel, const void *data,
		   size_t len, uint64_t mono_us)
{
	struct pending_record *p;

	if (!s->logging)
		return;
	if (s->writer_open) {
		log_append(s, kind, channel, data, len, mono_us);
		return;
	}
	if (s->log_failed || s->n_pending == PENDING_MAX || len > PENDING_DATA_MAX)
		return;
	p = &s->pending[s->n_pending++];
	p->kind = kind;
	p->channel = channel;
	p->mono_us = mono_us;
	p->len = (uint16_t)len;
	memcpy(p->data, data, len);
}

static void note(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct session *s, const char *fmt, ...)
{
	char text[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	record(s, RLOG_NOTE, RLOG_CH_NONE, text, strnlen(text, sizeof(text) - 1), s->last_mono_us);
}

static int open_log(struct session *s)
{
	char name[NAME_MAX + 1];
	int r = -EEXIST;

	for (unsigned i = 1; i < 100 && r == -EEXIST; i++) {
		if (i == 1)
			snprintf(name, sizeof(name), "%s.rlog", s->log_stem);
		else
			snprintf(name, sizeof(name), "%s-%u.rlog", s->log_stem, i);
		s->header.created_unix_ms = s->wall0_ms;
		r = rlog_writer_create(&s->writer, s->log_dir, name, &s->header);
	}
	if (r < 0) {
		ui_notice(s->ui, "cannot create the session log in %s: %s (hint: check the directory "
				 "and free space, or run with --no-log)", s->log_dir, rlog_strerror(r));
		s->log_failed = true;
		return r;
	}
	snprintf(s->log_path, sizeof(s->log_path), "%s/%s", s->log_dir, name);
	s->writer_open = true;
	for (size_t i = 0; i < s->n_pending; i++) {
		const struct pending_record *p = &s->pending[i];

		log_append(s, p->kind, p->channel, p->data, p->len, p->mono_us);
	}
	s->n_pending = 0;
	return 0;
}

/* ---- Control requests ------------------------------------------------------ */

static void control_pump(struct session *s);

static int on_timeout(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct session *s = userdata;
	control_cb cb = s->outstanding_cb;

	(void)src;
	(void)usec;
	if (!s->outstanding)
		return 0;
	s->outstanding = false;
	s->counters.control_errors++;
	note(s, "control %s: no response", proto_opcode_str(s->outstanding_opcode));
	cb(s, -ETIMEDOUT, NULL);
	control_pump(s);
	return 0;
}

static int arm_timeout(struct session *s)
{
	uint64_t usec = (uint64_t)(s->opt.control_timeout_ms ? s->opt.control_timeout_ms
							     : SESSION_CONTROL_TIMEOUT_MS) * 1000u;
	int r;

	if (!s->timeout)
		return sd_event_add_time_relative(s->ev, &s->timeout, CLOCK_MONOTONIC, usec, 1000,
						  on_timeout, s);
	r = sd_event_source_set_time_relative(s->timeout, usec);
	if (r < 0)
		return r;
	return sd_event_source_set_enabled(s->timeout, SD_EVENT_ONESHOT);
}

/*
 * Writes the next queued request when none is outstanding and the link is
 * up. The bluez transport delivers Info and the first notifications while it
 * is still subscribing (before TRANSPORT_CONNECTED), and after a reconnect
 * the first live batch shows the gap before the link is up: what they ask
 * for waits in the queue until on_state(CONNECTED) pumps it.
 */
static void control_pump(struct session *s)
{
	while (!s->outstanding && s->q_len && s->stage != STAGE_FINISHED &&
	       s->link == TRANSPORT_CONNECTED) {
		struct queued_request item = s->queue[s->q_head];
		uint8_t buf[PROTO_FRAME_ABS_MAX];
		size_t len = 0;
		int r;

		s->q_head = (s->q_head + 1) % QUEUE_MAX;
		s->q_len--;
		if (++s->next_token == 0)
			s->next_token = 1;
		item.req.token = s->next_token;
		r = proto_request_encode(&item.req, buf, sizeof(buf), &len);
		if (r == 0) {
			record(s, RLOG_FRAME_OUT, RLOG_CH_CONTROL, buf, len, s->last_mono_us);
			r = s->ops->write_control(s->t, buf, len);
		}
		if (r < 0) {
			s->counters.control_errors++;
			note(s, "control %s: not sent: %s", proto_opcode_str(item.req.opcode),
			     strerror(-r));
			item.cb(s, r, NULL);
			continue;
		}
		s->counters.frames_out++;
		s->outstanding = true;
		s->outstanding_token = item.req.token;
		s->outstanding_opcode = item.req.opcode;
		s->outstanding_cb = item.cb;
		if (arm_timeout(s) < 0)
			ui_notice(s->ui, "cannot arm the control timeout");
	}
}

static void control_send(struct session *s, const struct proto_control_request *req, control_cb cb)
{
	if (s->opt.replay || s->q_len == QUEUE_MAX) {
		cb(s, s->opt.replay ? -EROFS : -EBUSY, NULL);
		return;
	}
	s->queue[(s->q_head + s->q_len) % QUEUE_MAX] = (struct queued_request){ *req, cb };
	s->q_len++;
	control_pump(s);
}

static void on_response(struct session *s, const struct proto_control_response *rsp)
{
	control_cb cb;
	int err;

	if (!s->outstanding || rsp->token != s->outstanding_token)
		return; /* late (after a timeout) or not ours */
	s->outstanding = false;
	if (s->timeout)
		sd_event_source_set_enabled(s->timeout, SD_EVENT_OFF);
	cb = s->outstanding_cb;
	err = rsp->status == PROTO_STATUS_OK ? 0 : proto_status_to_errno(rsp->status);
	if (err)
		s->counters.control_errors++;
	cb(s, err, rsp);
	control_pump(s);
}

static const char *control_error(const struct session *s, int err,
				 const struct proto_control_response *rsp, char *buf, size_t size)
{
	if (rsp && rsp->status != PROTO_STATUS_OK)
		snprintf(buf, size, "%s", proto_status_str(rsp->status));
	else if (err == -ETIMEDOUT)
		snprintf(buf, size, "no answer within %u ms",
			 s->opt.control_timeout_ms ? s->opt.control_timeout_ms
						   : SESSION_CONTROL_TIMEOUT_MS);
	else
		snprintf(buf, size, "%s", strerror(-err));
	return buf;
}

static void on_clock_set(struct session *s, int err, const struct proto_control_response *rsp)
{
	char why[96];

	if (err)
		ui_notice(s->ui, "the roller did not take the clock: %s",
			  control_error(s, err, rsp, why, sizeof(why)));
}

static void on_hold_set(struct session *s, int err, const struct proto_control_response *rsp)
{
	char why[96];

	if (err)
		ui_notice(s->ui, "the roller did not take the target band: %s (its own hold "
				 "detection keeps its previous band)",
			  control_error(s, err, rsp, why, sizeof(why)));
}

static void on_session_started(struct session *s, int err, const struct proto_control_response *rsp)
{
	char why[96];

	if (!err) {
		s->device_session = true;
		s->counters.device_session = true;
		return;
	}
	if (rsp && rsp->status == PROTO_STATUS_NOT_AUTHORIZED)
		ui_notice(s->ui, "the roller refused to record the session: not authorized (hint: "
				 "pair it with `roller pair <addr>`); coaching goes on");
	else
		ui_notice(s->ui, "the roller did not start recording: %s; coaching goes on",
			  control_error(s, err, rsp, why, sizeof(why)));
}

static int on_end_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	(void)src;
	(void)usec;
	finish(userdata, 0); /* no end marker: the log ends without it */
	return 0;
}

static void on_session_stopped(struct session *s, int err, const struct proto_control_response *rsp)
{
	char why[96];

	if (err)
		ui_notice(s->ui, "the roller did not stop recording: %s",
			  control_error(s, err, rsp, why, sizeof(why)));
	s->device_session = false;
	if (err || sd_event_add_time_relative(s->ev, &s->end_timer, CLOCK_MONOTONIC,
					      END_MARKER_WAIT_US, 1000, on_end_timer, s) < 0)
		finish(s, 0);
}

static void start_device_session(struct session *s)
{
	struct proto_control_request req;
	time_t now = time(NULL);

	memset(&req, 0, sizeof(req));
	req.opcode = PROTO_OP_SET_CLOCK;
	req.u.set_clock.unix_time = now > 0 && (uint64_t)now <= UINT32_MAX ? (uint32_t)now : 0;
	control_send(s, &req, on_clock_set);

	memset(&req, 0, sizeof(req));
	req.opcode = PROTO_OP_SET_HOLD;
	coach_device_hold_params(&s->coach, &req.u.set_hold);
	control_send(s, &req, on_hold_set);

	memset(&req, 0, sizeof(req));
	req.opcode = PROTO_OP_START_SESSION;
	req.u.start_session.region = s->header.region;
	control_send(s, &req, on_session_started);
}

/* After the coach is done or the user stopped: stop the roller's recording. */
static void stop_device_session(struct session *s)
{
	struct proto_control_request req;

	if (s->stage != STAGE_COACHING)
		return;
	s->stage = STAGE_STOPPING;
	if (!s->device_session || s->link != TRANSPORT_CONNECTED) {
		finish(s, 0);
		return;
	}
	memset(&req, 0, sizeof(req));
	req.opcode = PROTO_OP_STOP_SESSION;
	control_send(s, &req, on_session_stopped);
}

static void on_resent(struct session *s, int err, const struct proto_control_response *rsp)
{
	char why[96];

	if (err)
		ui_notice(s->ui, "the roller could not re-send lost samples: %s (the session log "
				 "keeps the gap)", control_error(s, err, rsp, why, sizeof(why)));
}

/*
 * Live samples must follow each other; a jump (notifications lost, a link
 * drop) is asked back from the roller's history so that the log has no gap.
 * The coach has moved on by then: it counts the re-sent samples and ignores
 * them, in the replay too.
 */
static void check_gap(struct session *s, const struct proto_measurement *m)
{
	int32_t gap;

	if (m->flags & PROTO_MEAS_RESENT)
		return;
	gap = s->have_next_sample ? proto_seq_diff(s->next_sample, m->first_sample) : 0;
	if (gap > 0 && !s->opt.replay && s->stage == STAGE_COACHING) {
		uint32_t first = s->next_sample, left = (uint32_t)gap;

		note(s, "gap of %u samples from %u: asking the roller to re-send them", left, first);
		for (unsigned i = 0; i < RESEND_CHUNKS_MAX && left; i++) {
			struct proto_control_request req = { .opcode = PROTO_OP_RESEND_SAMPLES };
			uint32_t n = left < PROTO_RESEND_MAX ? left : PROTO_RESEND_MAX;

			req.u.resend.first_sample = first;
			req.u.resend.count = (uint16_t)n;
			control_send(s, &req, on_resent);
			first += n;
			left -= n;
		}
	}
	if (gap >= 0 || !s->have_next_sample) {
		s->next_sample = m->first_sample + m->count;
		s->have_next_sample = true;
	}
}

/* ---- Coach -> UI ------------------------------------------------------------ */

static void update_status(struct session *s)
{
	struct ui_status st = {
		.coach = s->configured ? coach_state(&s->coach) : NULL,
		.link = s->link,
		.battery_pct = s->battery_pct,
		.recording = s->device_session,
		.frames = s->counters.frames_in,
		.bad_frames = s->counters.bad_frames,
	};

	ui_status(s->ui, &st);
}

static void after_coach(struct session *s)
{
	const struct coach_cue *cues;
	const struct coach_state *st;
	const struct coach_hold *holds;
	size_t n;

	cues = coach_cues(&s->coach, &n);
	st = coach_state(&s->coach);
	for (size_t i = 0; i < n; i++) {
		ui_cue(s->ui, &cues[i], st);
		if (s->ops->coach_cue)
			s->ops->coach_cue(s->t, cues[i].kind);
	}
	if (st->phase != s->last_phase) {
		s->last_phase = st->phase;
		ui_phase(s->ui, st);
	}
	holds = coach_holds(&s->coach, &n);
	for (; s->holds_seen < n; s->holds_seen++)
		ui_hold(s->ui, &holds[s->holds_seen], st);
	update_status(s);
	if (!s->opt.replay && s->stage == STAGE_COACHING && st->phase == COACH_PHASE_DONE)
		stop_device_session(s);
}

static int apply_input(struct session *s, uint8_t input)
{
	int r = coach_input(&s->coach, (enum coach_input)input);

	after_coach(s);
	return r;
}

static void on_info(struct session *s, const struct proto_info *info)
{
	const struct coach_state *st;
	struct ui_info ui_info;
	int r;

	if (s->configured)
		return; /* a reconnect reads it again */
	if (!s->opt.replay) {
		s->header.fw_major = info->fw_major;
		s->header.fw_minor = info->fw_minor;
		s->header.fw_patch = info->fw_patch;
		s->header.proto_major = info->proto_major;
		s->header.proto_minor = info->proto_minor;
		s->header.calibration = info->calibration;
		s->header.sample_period_us = info->sample_period_us;
	}
	if (info->proto_major != PROTO_VERSION)
		ui_notice(s->ui, "the roller speaks protocol %u.%u, this program %u.%u: expect trouble "
				 "(hint: update the roller or this program)", info->proto_major,
			  info->proto_minor, PROTO_VERSION, PROTO_VERSION_MINOR);
	r = session_coach_config(&s->header, info->sample_period_us, &s->config);
	if (r == 0)
		r = coach_init(&s->coach, &s->config);
	if (r < 0) {
		ui_notice(s->ui, "cannot coach this plan: %s (region %s, body weight %.1f kg)",
			  strerror(-r), proto_region_str(s->header.region),
			  s->header.body_weight_dkg / 10.0);
		finish(s, r);
		return;
	}
	s->configured = true;
	st = coach_state(&s->coach);
	s->last_phase = st->phase;
	if (s->logging) {
		r = open_log(s);
		if (r < 0) {
			finish(s, r);
			return;
		}
	}
	ui_info = (struct ui_info){
		.transport = s->ops->name,
		.roller_id = s->header.roller_id,
		.replay = s->opt.replay,
		.region = s->header.region,
		.plan = &s->config.plan,
		.state = st,
		.body_weight_dkg = s->header.body_weight_dkg,
		.fw_major = info->fw_major,
		.fw_minor = info->fw_minor,
		.fw_patch = info->fw_patch,
		.calibration = info->calibration,
		.sample_period_us = info->sample_period_us,
	};
	ui_start(s->ui, &ui_info);
	s->stage = STAGE_COACHING;
	if (!s->opt.replay)
		start_device_session(s); /* queued until the link is up */
	update_status(s);
}

static void on_event(struct session *s, const struct proto_event *e)
{
	switch (e->kind) {
	case PROTO_EVENT_STATUS:
		s->battery_pct = e->u.status.battery_pct;
		break;
	case PROTO_EVENT_BATTERY_LOW:
		s->battery_pct = e->u.battery_low.percent;
		ui_notice(s->ui, "the roller's battery is low (%u %%): charge it after this session",
			  e->u.battery_low.percent);
		break;
	case PROTO_EVENT_ERROR:
		ui_notice(s->ui, "the roller reports error %u (cell %u, detail %u)", e->u.error.code,
			  e->u.error.channel, e->u.error.detail);
		break;
	default:
		break;
	}
	if (s->configured) {
		coach_feed_event(&s->coach, e);
		after_coach(s);
	} else {
		update_status(s);
	}
}

/* ---- Transport callbacks ---------------------------------------------------- */

static void on_input(void *userdata, uint8_t input, uint64_t mono_us)
{
	struct session *s = userdata;

	if (s->stage == STAGE_FINISHED || !s->opt.replay)
		return;
	s->last_mono_us = mono_us;
	if (s->configured)
		apply_input(s, input);
}

static void on_frame(void *userdata, enum rlog_channel ch, const uint8_t *buf, size_t len,
		     uint64_t mono_us)
{
	struct session *s = userdata;
	struct proto_frame f;
	int r;

	if (s->stage == STAGE_FINISHED)
		return;
	s->last_mono_us = mono_us;
	s->counters.frames_in++;
	record(s, RLOG_FRAME_IN, (uint8_t)ch, buf, len, mono_us);
	r = proto_frame_decode(buf, len, &f);
	if (r < 0) {
		if (s->counters.bad_frames++ < BAD_FRAME_NOTICES)
			ui_notice(s->ui, "ignored a frame that does not decode (%s, %zu bytes on channel %u)",
				  strerror(-r), len, ch);
		return;
	}
	switch (f.type) {
	case PROTO_TYPE_INFO:
		on_info(s, &f.u.info);
		break;
	case PROTO_TYPE_MEASUREMENT:
		check_gap(s, &f.u.measurement);
		if (s->configured) {
			coach_feed_measurement(&s->coach, &f.u.measurement);
			after_coach(s);
		}
		break;
	case PROTO_TYPE_EVENT:
		on_event(s, &f.u.event);
		break;
	case PROTO_TYPE_CONTROL_RESPONSE:
		on_response(s, &f.u.response);
		break;
	case PROTO_TYPE_SESSION:
		/* The roller has closed its recording (and ended a running hold,
		 * whose HOLD_END came before): the log is complete. */
		if (f.u.session.kind == PROTO_SESSION_END && s->end_timer)
			finish(s, 0);
		break;
	default:
		break; /* log chunks: logged, nothing to coach */
	}
}

static void on_state(void *userdata, enum transport_state st, int err, const char *detail)
{
	struct session *s = userdata;

	if (s->stage == STAGE_FINISHED)
		return;
	s->link = st;
	if (!s->opt.replay) {
		if (err || detail)
			note(s, "link %s (%d): %s", ui_link_str(st), err, detail ? detail : "");
		else
			note(s, "link %s", ui_link_str(st));
	}
	ui_link(s->ui, st, err, detail, s->configured ? coach_state(&s->coach)->time_ms : 0);
	switch (st) {
	case TRANSPORT_FAILED:
		ui_notice(s->ui, "%s%s%s", s->ops->name, detail ? ": " : " failed: ",
			  detail ? detail : strerror(err ? -err : EIO));
		finish(s, err ? err : -EIO);
		return;
	case TRANSPORT_ENDED:
		if (detail)
			ui_notice(s->ui, "%s", detail);
		finish(s, 0);
		return;
	case TRANSPORT_CONNECTED:
		/* Requests made while the link was not up yet (set-up on Info, a
		 * re-send of what a reconnect left out) go now. */
		control_pump(s);
		/* Still connected, but our last write failed: no answer will come. */
		if (err && s->outstanding) {
			control_cb cb = s->outstanding_cb;

			s->outstanding = false;
			s->counters.control_errors++;
			if (s->timeout)
				sd_event_source_set_enabled(s->timeout, SD_EVENT_OFF);
			cb(s, err, NULL);
			control_pump(s);
		}
		break;
	case TRANSPORT_CONNECTING:
	case TRANSPORT_LINK_LOST:
		break;
	}
	update_status(s);
}

/* ---- Lifecycle ------------------------------------------------------------------ */

static void finish(struct session *s, int err)
{
	struct coach_summary sum;
	int r;

	if (s->stage == STAGE_FINISHED)
		return;
	s->stage = STAGE_FINISHED;
	if (s->timeout)
		sd_event_source_set_enabled(s->timeout, SD_EVENT_OFF);
	if (s->end_timer)
		sd_event_source_set_enabled(s->end_timer, SD_EVENT_OFF);
	if (s->writer_open) {
		r = rlog_writer_close(&s->writer);
		s->writer_open = false;
		if (r < 0 && !s->log_failed)
			ui_notice(s->ui, "session log %s: %s", s->log_path, rlog_strerror(r));
	}
	if (s->configured && coach_summary(&s->coach, &sum) == 0)
		ui_summary(s->ui, &sum, coach_state(&s->coach));
	else
		ui_close(s->ui);
	if (s->opt.done)
		s->opt.done(s->opt.userdata, err);
}

int session_create(struct session **out, sd_event *ev, struct ui *ui,
		   const struct session_options *opt)
{
	static const struct transport_events events = { .frame = on_frame, .state = on_state, .input = on_input };
	struct session *s;
	int r;

	if (!out || !ev || !ui || !opt || !opt->transport)
		return -EINVAL;
	if (!opt->replay && opt->log_dir && !opt->log_stem)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ev = sd_event_ref(ev);
	s->ui = ui;
	s->opt = *opt;
	s->ops = opt->transport;
	s->header = opt->header;
	s->battery_pct = -1;
	s->link = TRANSPORT_CONNECTING;
	s->mono0_us = clock_us(CLOCK_MONOTONIC);
	s->wall0_ms = clock_us(CLOCK_REALTIME) / 1000u;
	s->last_mono_us = s->mono0_us;
	if (!opt->replay && opt->log_dir) {
		s->logging = true;
		snprintf(s->log_dir, sizeof(s->log_dir), "%s", opt->log_dir);
		snprintf(s->log_stem, sizeof(s->log_stem), "%s", opt->log_stem);
	}
	s->opt.log_dir = NULL;
	s->opt.log_stem = NULL;
	r = s->ops->create(&s->t, ev, &opt->transport_options, &events, s);
	if (r < 0) {
		sd_event_unref(s->ev);
		free(s);
		return r;
	}
	*out = s;
	return 0;
}

int session_input(struct session *s, enum coach_input input)
{
	uint8_t b = (uint8_t)input;

	if (!s || input < COACH_INPUT_RELIEF || input > COACH_INPUT_STOP)
		return -EINVAL;
	if (!s->configured || s->stage != STAGE_COACHING || s->opt.replay)
		return -EAGAIN;
	record(s, RLOG_INPUT, RLOG_CH_NONE, &b, 1, s->last_mono_us);
	return apply_input(s, b);
}

void session_stop(struct session *s)
{
	if (!s || s->stage == STAGE_FINISHED)
		return;
	s->stop_requests++;
	if (s->opt.replay || !s->configured || s->stop_requests > 1 || s->stage != STAGE_COACHING) {
		finish(s, 0);
		return;
	}
	/* Logged like the 'q' key, so that a replay stops at the same sample. */
	if (session_input(s, COACH_INPUT_STOP) < 0)
		stop_device_session(s);
}

bool session_finished(const struct session *s)
{
	return s->stage == STAGE_FINISHED;
}

int session_summary(const struct session *s, struct coach_summary *out)
{
	if (!s->configured)
		return -EAGAIN;
	return coach_summary(&s->coach, out);
}

const struct coach *session_coach(const struct session *s)
{
	return s->configured ? &s->coach : NULL;
}

const char *session_log_path(const struct session *s)
{
	return s->log_path[0] ? s->log_path : NULL;
}

void session_counters(const struct session *s, struct session_counters *out)
{
	*out = s->counters;
}

void session_destroy(struct session *s)
{
	if (!s)
		return;
	if (s->ops && s->t)
		s->ops->destroy(s->t);
	if (s->writer_open)
		rlog_writer_close(&s->writer);
	sd_event_source_disable_unref(s->timeout);
	sd_event_source_disable_unref(s->end_timer);
	sd_event_unref(s->ev);
	free(s);
}
