/*
 * The session glue end to end, in-process: the sim transport (the real
 * device core and the simulated person), the coach, the session log and the
 * JSON UI, on one sd-event loop. A fake transport (through the same vtable)
 * covers what the sim never does: silence and garbage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "roller/coach.h"
#include "roller/protocol.h"
#include "roller/rlog.h"
#include "roller/session.h"
#include "roller/transport.h"
#include "roller/ui.h"

static char tmpdir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/sessiontest.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- Running a session ---------------------------------------------------- */

struct run {
	sd_event *ev;
	struct session *session;
	struct ui *ui;
	FILE *out;
	char *text;   /* the JSON lines printed */
	size_t size;
	bool done;
	int err;
	char log_path[1024];
	struct session_counters counters;
	struct coach_summary summary;
	bool have_summary;
	/* host and device detected holds agree */
	bool holds_agree;
	size_t host_holds, device_holds;
	/* stop after this many loop iterations (0: never) */
	unsigned stop_after;
	unsigned iterations;
	uint32_t stop_at_errors; /* stop once this many control requests failed */
};

static void on_done(void *userdata, int err)
{
	struct run *run = userdata;

	run->done = true;
	run->err = err;
	sd_event_exit(run->ev, 0);
}

static int on_iteration(sd_event_source *src, void *userdata)
{
	struct run *run = userdata;

	if (++run->iterations == run->stop_after) {
		session_stop(run->session);
		sd_event_source_set_enabled(src, SD_EVENT_OFF);
	}
	return 0;
}

/* Polls the session's counters (a deadline, not a sleep): stops the session
 * once stop_at_errors requests have failed, or after 10 s. */
static int on_poll(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct run *run = userdata;
	struct session_counters c;

	session_counters(run->session, &c);
	if (c.control_errors >= run->stop_at_errors || ++run->iterations > 2000) {
		session_stop(run->session);
		return sd_event_source_set_enabled(src, SD_EVENT_OFF);
	}
	sd_event_source_set_time(src, usec + 5000);
	return sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
}

static void plan_header(struct rlog_header *h, uint32_t hold_s, uint8_t reps, uint32_t rest_s)
{
	struct coach_plan plan;

	memset(h, 0, sizeof(*h));
	snprintf(h->roller_id, sizeof(h->roller_id), "sim:7");
	snprintf(h->transport, sizeof(h->transport), "sim");
	assert_int_equal(coach_plan_default(PROTO_REGION_CALVES, &plan), 0);
	plan.hold_ms = hold_s * 1000u;
	if (plan.effective_ms > plan.hold_ms)
		plan.effective_ms = plan.hold_ms / 2u;
	plan.reps = reps;
	plan.rest_ms = rest_s * 1000u;
	session_header_set_plan(h, &plan, 750);
}

static void run_session(struct run *run, const struct session_options *opt)
{
	struct session_options o = *opt;
	struct ui_options uopt = { .mode = UI_MODE_JSON };
	sd_event_source *iter = NULL, *timer = NULL;
	const struct coach *coach;
	const char *path;

	unsigned stop_after = run->stop_after;
	uint32_t stop_at_errors = run->stop_at_errors;

	memset(run, 0, sizeof(*run));
	run->stop_after = stop_after;
	run->stop_at_errors = stop_at_errors;
	run->out = open_memstream(&run->text, &run->size);
	assert_non_null(run->out);
	assert_int_equal(sd_event_new(&run->ev), 0);
	uopt.out = run->out;
	assert_int_equal(ui_create(&run->ui, run->ev, &uopt), 0);
	o.done = on_done;
	o.userdata = run;
	assert_int_equal(session_create(&run->session, run->ev, run->ui, &o), 0);
	if (run->stop_after) {
		assert_true(sd_event_add_defer(run->ev, &iter, on_iteration, run) >= 0);
		sd_event_source_set_priority(iter, SD_EVENT_PRIORITY_IDLE);
		sd_event_source_set_enabled(iter, SD_EVENT_ON);
	}
	if (run->stop_at_errors)
		assert_true(sd_event_add_time_relative(run->ev, &timer, CLOCK_MONOTONIC, 5000, 1000,
						       on_poll, run) >= 0);
	assert_true(sd_event_loop(run->ev) >= 0);
	assert_true(run->done);

	session_counters(run->session, &run->counters);
	path = session_log_path(run->session);
	if (path)
		snprintf(run->log_path, sizeof(run->log_path), "%s", path);
	run->have_summary = session_summary(run->session, &run->summary) == 0;
	coach = session_coach(run->session);
	if (coach) {
		const struct coach_detected_hold *host, *device;

		host = coach_detected_holds(coach, COACH_SOURCE_HOST, &run->host_holds);
		device = coach_detected_holds(coach, COACH_SOURCE_DEVICE, &run->device_holds);
		run->holds_agree = run->host_holds == run->device_holds;
		for (size_t i = 0; run->holds_agree && i < run->host_holds; i++)
			if (host[i].ended && device[i].ended)
				run->holds_agree = coach_detected_hold_equal(&host[i], &device[i]);
	}
	sd_event_source_disable_unref(iter);
	sd_event_source_disable_unref(timer);
	session_destroy(run->session);
	ui_destroy(run->ui);
	fclose(run->out);
	sd_event_unref(run->ev);
}

static void free_run(struct run *run)
{
	free(run->text);
	run->text = NULL;
}

static void sim_options(struct session_options *o, uint32_t hold_s, uint8_t reps)
{
	memset(o, 0, sizeof(*o));
	o->transport = transport_find("sim");
	assert_non_null(o->transport);
	o->transport_options.speed = 0;
	o->transport_options.seed = 7;
	o->transport_options.body_weight_dkg = 750;
	plan_header(&o->header, hold_s, reps, 5);
	o->log_dir = tmpdir;
	o->log_stem = "session";
}

static size_t count_lines(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

struct log_counts {
	uint64_t in, out, notes, inputs, records;
	uint8_t last_input;
	bool torn;
};

static void read_log(const char *path, struct log_counts *c)
{
	struct rlog_reader reader;
	struct rlog_record rec;
	int r;

	memset(c, 0, sizeof(*c));
	assert_int_equal(rlog_reader_open(&reader, path), 0);
	while ((r = rlog_reader_next(&reader, &rec)) > 0) {
		c->records++;
		switch (rec.kind) {
		case RLOG_FRAME_IN:
			c->in++;
			break;
		case RLOG_FRAME_OUT:
			c->out++;
			break;
		case RLOG_NOTE:
			c->notes++;
			break;
		case RLOG_INPUT:
			c->inputs++;
			c->last_input = rec.data[0];
			break;
		default:
			break;
		}
	}
	assert_int_equal(r, 0);
	c->torn = reader.torn;
	rlog_reader_close(&reader);
}

/* ---- Tests ----------------------------------------------------------------- */

/* A whole plan against the simulated roller: every hold is coached, the
 * roller and the host agree on the holds, and every frame is in the log. */
static void test_sim_session_coaches_and_logs_everything(void **state)
{
	struct session_options o;
	struct run run = { 0 };
	struct log_counts log;
	struct stat st;

	(void)state;
	sim_options(&o, 20, 2);
	run_session(&run, &o);
	assert_int_equal(run.err, 0);
	assert_true(run.have_summary);
	assert_int_equal(run.summary.reps_planned, 2);
	assert_int_equal(run.summary.reps_done, 2);
	assert_true(run.summary.holds >= 2);
	assert_true(run.summary.in_band_ms >= 2 * 20000u * 9 / 10);
	assert_int_equal(run.summary.samples_lost, 0);
	/* The device's detector and the host's re-derivation agree. */
	assert_true(run.host_holds >= 2);
	assert_true(run.holds_agree);

	/* The log: private, complete, every frame as it arrived. */
	assert_true(run.log_path[0]);
	assert_int_equal(stat(run.log_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(tmpdir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	read_log(run.log_path, &log);
	assert_false(log.torn);
	assert_int_equal(log.in, run.counters.frames_in);
	assert_int_equal(log.out, run.counters.frames_out);
	assert_int_equal(log.records, run.counters.records);
	assert_int_equal(log.out, 4); /* clock, hold band, start, stop */
	assert_true(log.notes >= 2);  /* connecting, connected */
	assert_true(run.counters.device_session);
	assert_int_equal(run.counters.bad_frames, 0);

	/* What the user saw: cues, the holds, a summary. */
	assert_int_equal(count_lines(run.text, "\"event\":\"hold\""), run.summary.holds);
	assert_int_equal(count_lines(run.text, "\"cue\":\"hold-start\""), run.summary.holds);
	assert_int_equal(count_lines(run.text, "\"event\":\"summary\""), 1);
	assert_int_equal(count_lines(run.text, "\"cue\":\"session-done\""), 1);
	free_run(&run);
}

/* The replay of a session log shows exactly what was shown live. */
static void test_replay_equals_live(void **state)
{
	struct session_options o;
	struct run live = { 0 }, replay = { 0 };

	(void)state;
	sim_options(&o, 15, 2);
	run_session(&live, &o);
	assert_int_equal(live.err, 0);

	memset(&o, 0, sizeof(o));
	o.transport = transport_find("replay");
	assert_non_null(o.transport);
	o.replay = true;
	o.transport_options.path = live.log_path;
	{
		struct rlog_reader r;

		assert_int_equal(rlog_reader_open(&r, live.log_path), 0);
		o.header = r.header;
		rlog_reader_close(&r);
	}
	run_session(&replay, &o);
	assert_int_equal(replay.err, 0);
	assert_int_equal(replay.counters.frames_out, 0);
	assert_int_equal(replay.log_path[0], '\0');
	assert_string_equal(replay.text, live.text);
	assert_memory_equal(&replay.summary, &live.summary, sizeof(live.summary));
	free_run(&live);
	free_run(&replay);
}

/* Stopping mid-session (Ctrl-C, 'q') is logged as an input, the roller's
 * recording is stopped, and a replay stops at the same sample. */
static void test_stop_is_logged_and_replayed(void **state)
{
	struct session_options o;
	struct run live = { 0 }, replay = { 0 };
	struct log_counts log;

	(void)state;
	sim_options(&o, 60, 3);
	live.stop_after = 20; /* loop iterations: a few thousand samples in */
	run_session(&live, &o);
	assert_int_equal(live.err, 0);
	assert_true(live.have_summary);
	assert_true(live.summary.reps_done < 3);
	read_log(live.log_path, &log);
	assert_int_equal(log.inputs, 1);
	assert_int_equal(log.last_input, COACH_INPUT_STOP);
	assert_int_equal(log.out, 4);

	memset(&o, 0, sizeof(o));
	o.transport = transport_find("replay");
	o.replay = true;
	o.transport_options.path = live.log_path;
	{
		struct rlog_reader r;

		assert_int_equal(rlog_reader_open(&r, live.log_path), 0);
		o.header = r.header;
		rlog_reader_close(&r);
	}
	run_session(&replay, &o);
	assert_string_equal(replay.text, live.text);
	free_run(&live);
	free_run(&replay);
}

/* An unwritable log directory is a clear failure, not a silent loss. */
static void test_unwritable_log_dir_fails(void **state)
{
	struct session_options o;
	struct run run = { 0 };
	char file[512], dir[600];
	FILE *f;

	(void)state;
	snprintf(file, sizeof(file), "%s/not-a-dir", tmpdir);
	f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(dir, sizeof(dir), "%s/sessions", file);
	sim_options(&o, 20, 1);
	o.log_dir = dir;
	run_session(&run, &o);
	assert_int_equal(run.err, -ENOTDIR);
	assert_int_equal(run.log_path[0], '\0');
	assert_int_equal(count_lines(run.text, "\"event\":\"cue\""), 0);
	free_run(&run);
}

/* ---- A fake roller that answers nothing and sends one bad frame ---------- */

struct fake {
	sd_event *ev;
	struct transport_events events;
	void *userdata;
	sd_event_source *start;
	unsigned writes;
	bool connected;
};

/* Like the bluez transport: Info and the first notifications are delivered
 * before the link is up, and a control write before that fails -ENOTCONN. */
static bool fake_info_first;
static unsigned fake_refused;

static int fake_start(sd_event_source *src, void *userdata)
{
	struct fake *f = userdata;
	struct proto_info info = {
		.proto_major = PROTO_VERSION,
		.fw_major = 9,
		.sample_period_us = 20000,
		.channels = 1,
		.full_scale = 20000,
		.device_id = 42,
	};
	uint8_t buf[PROTO_FRAME_MAX];
	const uint8_t garbage[] = { 0x01, 0x7F, 0x00 };
	size_t len = 0;

	(void)src;
	assert_int_equal(proto_info_encode(&info, buf, sizeof(buf), &len), 0);
	if (!fake_info_first) {
		f->connected = true;
		f->events.state(f->userdata, TRANSPORT_CONNECTED, 0, NULL);
	}
	f->events.frame(f->userdata, RLOG_CH_INFO, buf, len, 1000);
	f->events.frame(f->userdata, RLOG_CH_EVENT, garbage, sizeof(garbage), 2000);
	/* Two batches with 12 samples lost between them. */
	for (uint32_t first = 0; first <= 20; first += 20) {
		struct proto_measurement m = { .first_sample = first, .time = first * 20, .count = 8 };

		assert_int_equal(proto_measurement_encode(&m, buf, sizeof(buf), &len), 0);
		f->events.frame(f->userdata, RLOG_CH_MEASUREMENT, buf, len, 3000 + first);
	}
	if (fake_info_first) {
		f->connected = true;
		f->events.state(f->userdata, TRANSPORT_CONNECTED, 0, NULL);
	}
	return 0;
}

static int fake_create(struct transport **out, sd_event *ev, const struct transport_options *opt,
		       const struct transport_events *events, void *userdata)
{
	struct fake *f = calloc(1, sizeof(*f));

	(void)opt;
	assert_non_null(f);
	f->ev = ev;
	f->events = *events;
	f->userdata = userdata;
	assert_true(sd_event_add_defer(ev, &f->start, fake_start, f) >= 0);
	*out = (struct transport *)f;
	return 0;
}

static uint32_t fake_resend_first, fake_resend_count;

static int fake_write_control(struct transport *t, const uint8_t *buf, size_t len)
{
	struct proto_control_request req;

	assert_int_equal(proto_request_decode(buf, len, &req), 0);
	assert_int_not_equal(req.token, 0);
	if (!((struct fake *)t)->connected) {
		fake_refused++;
		return -ENOTCONN;
	}
	if (req.opcode == PROTO_OP_RESEND_SAMPLES) {
		fake_resend_first = req.u.resend.first_sample;
		fake_resend_count = req.u.resend.count;
	}
	((struct fake *)t)->writes++;
	return 0; /* accepted, never answered */
}

static uint16_t fake_mtu(struct transport *t)
{
	(void)t;
	return 23;
}

static unsigned fake_writes;

static void fake_destroy(struct transport *t)
{
	struct fake *f = (struct fake *)t;

	fake_writes = f->writes;
	sd_event_source_disable_unref(f->start);
	free(f);
}

static const struct transport_ops fake_ops = {
	.name = "fake",
	.create = fake_create,
	.write_control = fake_write_control,
	.mtu = fake_mtu,
	.destroy = fake_destroy,
};

/* Requests the roller never answers time out one after the other (they do
 * not block the queue); a frame that does not decode is logged and counted
 * but changes nothing; lost samples are asked back (RESEND_SAMPLES). */
static void test_control_timeouts_and_bad_frames(void **state)
{
	struct session_options o;
	struct run run = { 0 };
	struct log_counts log;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.transport = &fake_ops;
	plan_header(&o.header, 30, 1, 5);
	o.log_dir = tmpdir;
	o.log_stem = "fake";
	o.control_timeout_ms = 20;
	run.stop_at_errors = 4; /* four timeouts, then the user stops */
	run_session(&run, &o);
	assert_int_equal(run.err, 0);
	/* clock, band, start, and the lost samples asked back */
	assert_int_equal(fake_writes, 4);
	assert_int_equal(fake_resend_first, 8);
	assert_int_equal(fake_resend_count, 12);
	assert_int_equal(run.counters.frames_out, 4);
	assert_int_equal(run.counters.control_errors, 4);
	assert_false(run.counters.device_session);
	assert_int_equal(run.counters.bad_frames, 1);
	read_log(run.log_path, &log);
	assert_int_equal(log.out, 4);
	assert_int_equal(log.in, 4); /* Info, the bad frame, two batches */
	assert_true(log.notes >= 6); /* connected, the gap, four "no response" */
	free_run(&run);
}

/* The bluez transport delivers Info and the first notifications before it
 * is CONNECTED: the set-up requests (clock, band, start recording) and the
 * re-send of a gap seen then must wait for the link, not be written into a
 * link that is not up yet and lost. */
static void test_setup_waits_for_the_link(void **state)
{
	struct session_options o;
	struct run run = { 0 };

	(void)state;
	memset(&o, 0, sizeof(o));
	o.transport = &fake_ops;
	plan_header(&o.header, 30, 1, 5);
	o.log_dir = tmpdir;
	o.log_stem = "fake-info-first";
	o.control_timeout_ms = 20;
	fake_info_first = true;
	fake_refused = 0;
	run.stop_at_errors = 4;
	run_session(&run, &o);
	fake_info_first = false;
	assert_int_equal(run.err, 0);
	assert_int_equal(fake_refused, 0);
	/* clock, band, start, the lost samples asked back: all written */
	assert_int_equal(fake_writes, 4);
	assert_int_equal(run.counters.frames_out, 4);
	free_run(&run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sim_session_coaches_and_logs_everything, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_replay_equals_live, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_is_logged_and_replayed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwritable_log_dir_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_timeouts_and_bad_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setup_waits_for_the_link, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
