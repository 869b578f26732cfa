/*
 * Synthetic traces for the coach tests: a scripted person on a scripted
 * roller. Samples are packed into proto_measurement batches exactly as a
 * decoder would hand them over, fed to a real engine, and every cue and
 * phase change is logged with the sample it happened at.
 */
#ifndef COACH_TEST_TRACE_H
#define COACH_TEST_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roller/coach.h"

/* The default test setup: calves at 50 Hz, body weight 100.0 kg. */
#define T_PERIOD_US 20000u
#define T_WEIGHT_DKG 1000u
#define T_WEIGHT_DN 9807     /* 100.0 kg x 9.80665 */
#define T_BAND_LOW 2452      /* 25.0 % of 9807 dN */
#define T_BAND_HIGH 3923     /* 40.0 % */
#define T_OVER 5884          /* min(60 % of weight, 150 % of band top) */
#define T_FIRST 1000u        /* first sample index of every trace */

/* Durations in samples at 50 Hz */
#define T_HOLD 4500u         /* 90 s */
#define T_HALF 2250u
#define T_EFFECTIVE 3000u    /* 60 s */
#define T_TEN_LEFT 4000u     /* 80 s held: 10 s left */
#define T_GRACE 100u         /* 2 s */
#define T_DROP_CUE 13u       /* 250 ms rounded up */
#define T_REST 1000u         /* 20 s */

/* Forces used by the scripts, dN */
#define T_IN 3000            /* in the band */
#define T_BELOW 2000         /* contact, under the band */
#define T_ABOVE 4500         /* over the band, under the over-pressure limit */
#define T_TOO_MUCH 6000      /* over the over-pressure limit */
#define T_OFF 0              /* nobody on the roller */

#define T_LOG_MAX 4096u

struct t_phase {
	uint8_t phase;
	uint32_t sample; /* the first sample it was seen at */
};

struct trace {
	struct coach coach;
	struct coach_config config;
	uint32_t next;     /* index of the next sample to send */
	size_t batch;      /* samples per frame (1..108) */
	uint8_t flags;     /* PROTO_MEAS_* for every frame */
	struct proto_measurement frame; /* being filled */
	struct coach_cue cues[T_LOG_MAX];
	size_t cue_count;
	struct t_phase phases[T_LOG_MAX];
	size_t phase_count;
};

/* Config for region with the test defaults; the test may edit t->config. */
void trace_setup(struct trace *t, uint8_t region);
/* coach_init() with t->config (asserts success); batch 1 unless changed. */
void trace_start(struct trace *t);

/* n samples at a constant force; the frame is flushed at the end. */
void trace_hold(struct trace *t, uint32_t n, int16_t force_dn, bool still);
/* n samples from `from` to `to` (linear, integer). */
void trace_ramp(struct trace *t, uint32_t n, int16_t from, int16_t to, bool still);
/* Sends the pending samples, if any. */
void trace_flush(struct trace *t);
/* Skips n sample indexes (a lost stretch). */
void trace_skip(struct trace *t, uint32_t n);
/* Feeds one frame as given (no logging of phases beyond the usual). */
int trace_feed(struct trace *t, const struct proto_measurement *m);
/* Flushes, then applies an input and logs its cues. Returns coach_input's. */
int trace_input(struct trace *t, enum coach_input input);

/* The nth (0-based) cue of a kind, or NULL. */
const struct coach_cue *trace_cue(const struct trace *t, uint8_t kind, unsigned nth);
size_t trace_cue_count(const struct trace *t, uint8_t kind);
/* Sample index of the nth cue of a kind; fails the test when absent. */
uint32_t trace_cue_sample(const struct trace *t, uint8_t kind, unsigned nth);

const struct coach_state *trace_state(const struct trace *t);

#endif
