#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "trace.h"

void trace_setup(struct trace *t, uint8_t region)
{
	memset(t, 0, sizeof(*t));
	assert_int_equal(coach_config_init(&t->config, region, T_PERIOD_US, T_WEIGHT_DKG), 0);
	t->next = T_FIRST;
	t->batch = 1;
	t->flags = PROTO_MEAS_CALIBRATED | PROTO_MEAS_CONTACT;
}

void trace_start(struct trace *t)
{
	assert_int_equal(coach_init(&t->coach, &t->config), 0);
	t->phases[0].phase = coach_state(&t->coach)->phase;
	t->phases[0].sample = t->next;
	t->phase_count = 1;
}

static void log_call(struct trace *t)
{
	size_t n, i;
	const struct coach_cue *q = coach_cues(&t->coach, &n);
	const struct coach_state *s = coach_state(&t->coach);

	for (i = 0; i < n; i++) {
		assert_true(t->cue_count < T_LOG_MAX);
		t->cues[t->cue_count++] = q[i];
	}
	if (s->phase != t->phases[t->phase_count - 1].phase) {
		assert_true(t->phase_count < T_LOG_MAX);
		t->phases[t->phase_count].phase = s->phase;
		t->phases[t->phase_count].sample = s->sample;
		t->phase_count++;
	}
}

int trace_feed(struct trace *t, const struct proto_measurement *m)
{
	int r = coach_feed_measurement(&t->coach, m);

	if (r == 0)
		log_call(t);
	return r;
}

void trace_flush(struct trace *t)
{
	if (t->frame.count == 0)
		return;
	t->frame.flags = t->flags;
	t->frame.time = t->frame.first_sample * (T_PERIOD_US / 1000u);
	assert_int_equal(trace_feed(t, &t->frame), 0);
	memset(&t->frame, 0, sizeof(t->frame));
}

static void push(struct trace *t, int16_t force, bool still)
{
	if (t->frame.count == 0)
		t->frame.first_sample = t->next;
	proto_measurement_set_still(&t->frame, t->frame.count, still);
	t->frame.force[t->frame.count++] = force;
	t->next++;
	if (t->frame.count >= t->batch)
		trace_flush(t);
}

void trace_hold(struct trace *t, uint32_t n, int16_t force_dn, bool still)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		push(t, force_dn, still);
	trace_flush(t);
}

void trace_ramp(struct trace *t, uint32_t n, int16_t from, int16_t to, bool still)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		int32_t f = from + (int32_t)(((int64_t)(to - from) * i) / (n > 1 ? n - 1 : 1));

		push(t, (int16_t)f, still);
	}
	trace_flush(t);
}

void trace_skip(struct trace *t, uint32_t n)
{
	trace_flush(t);
	t->next += n;
}

int trace_input(struct trace *t, enum coach_input input)
{
	int r;

	trace_flush(t);
	r = coach_input(&t->coach, input);
	if (r == 0)
		log_call(t);
	return r;
}

const struct coach_cue *trace_cue(const struct trace *t, uint8_t kind, unsigned nth)
{
	size_t i;

	for (i = 0; i < t->cue_count; i++) {
		if (t->cues[i].kind == kind && nth-- == 0)
			return &t->cues[i];
	}
	return NULL;
}

size_t trace_cue_count(const struct trace *t, uint8_t kind)
{
	size_t i, n = 0;

	for (i = 0; i < t->cue_count; i++)
		n += t->cues[i].kind == kind;
	return n;
}

uint32_t trace_cue_sample(const struct trace *t, uint8_t kind, unsigned nth)
{
	const struct coach_cue *q = trace_cue(t, kind, nth);

	if (!q) {
		fail_msg("no cue %s #%u", coach_cue_str(kind), nth);
		return 0;
	}
	return q->sample;
}

const struct coach_state *trace_state(const struct trace *t)
{
	return coach_state(&t->coach);
}
