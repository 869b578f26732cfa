/*
 * Synthetic session logs for the history tests and benchmarks: a person who
 * does the plan on a fixed schedule (get on, ramp into the band, hold, get
 * off for the rest), written as a live session would log it (an Info frame,
 * then Measurement batches with the batch period as their arrival time).
 * Knobs make what the sim never does: lost samples, cell faults, dips.
 */
#ifndef ROLLER_TESTS_SYNTH_H
#define ROLLER_TESTS_SYNTH_H

#include <stddef.h>
#include <stdint.h>

struct synth_options {
	uint16_t period_us;       /* 20000 = 50 Hz */
	uint8_t batch;            /* samples per frame, 1..PROTO_BATCH_MAX_SAMPLES */
	uint32_t seconds;         /* length of the recording */
	uint8_t region;           /* enum proto_region */
	uint16_t body_weight_dkg;
	uint16_t hold_s, rest_s;  /* the plan in the header */
	uint8_t reps;
	uint16_t band_low_permille, band_high_permille;
	uint16_t level_permille;  /* force held, share of body weight */
	uint64_t created_unix_ms;
	uint32_t gap_at_s, gap_samples;         /* samples never received (0 = none) */
	uint32_t invalid_at_s, invalid_samples; /* PROTO_FORCE_INVALID readings */
	uint16_t dip_ms;          /* a dip under the band mid-hold (0 = none) */
};

/* Defaults: 50 Hz, batches of 5, calves, 75 kg, 3 x 30 s, 10 s rest,
 * band 25-40 %, held at 32 %, 2026-01-05 (a Monday) 08:00 UTC, 150 s. */
void synth_defaults(struct synth_options *o);

/* Writes dir/name (rlog_writer_create: 0600, O_EXCL). Returns 0 or -errno. */
int synth_write(const char *dir, const char *name, const struct synth_options *o);

#endif
