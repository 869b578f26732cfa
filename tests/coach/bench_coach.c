/*
 * How long the engine takes per sample, against copying the same frames
 * (memcpy of each struct proto_measurement) in the same run.
 * Usage: bench_coach [seconds]   (default 1 s per side)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roller/coach.h"

#define FRAMES 4096u

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A person holding, dipping, resting, rolling: every branch gets work. */
static int16_t force_at(uint32_t i)
{
	uint32_t phase = i % 6000u;

	if (phase < 200u)
		return 0;
	if (phase < 4800u)
		return (int16_t)(3000 + (int32_t)(i % 97u) - 48 - (phase % 700u < 30u ? 900 : 0));
	return (int16_t)(1500 + (int32_t)(i % 301u));
}

int main(int argc, char **argv)
{
	static struct proto_measurement frames[FRAMES];
	static struct proto_measurement copy;
	static struct coach coach;
	struct coach_config cfg;
	double budget = argc > 1 ? atof(argv[1]) : 1.0;
	double t0, coach_s, copy_s;
	unsigned long rounds_coach = 0, rounds_copy = 0;
	unsigned long sink = 0;
	uint32_t f, i, sample = 0;
	double samples_per_round = (double)FRAMES * PROTO_BATCH_MAX_SAMPLES;

	if (budget <= 0)
		budget = 1.0;
	for (f = 0; f < FRAMES; f++) {
		struct proto_measurement *m = &frames[f];

		memset(m, 0, sizeof(*m));
		m->first_sample = sample;
		m->time = sample * 20u;
		m->flags = PROTO_MEAS_CALIBRATED | PROTO_MEAS_CONTACT;
		m->count = PROTO_BATCH_MAX_SAMPLES;
		for (i = 0; i < m->count; i++, sample++) {
			m->force[i] = force_at(sample);
			proto_measurement_set_still(m, i, sample % 6000u < 5500u);
		}
	}
	if (coach_config_init(&cfg, PROTO_REGION_CALVES, 20000, 750) < 0)
		return 1;
	cfg.plan.step_ups = 2;
	cfg.plan.reps = COACH_REPS_MAX;

	t0 = now_s();
	do {
		size_t n;

		if (coach_init(&coach, &cfg) < 0)
			return 1;
		for (f = 0; f < FRAMES; f++) {
			coach_feed_measurement(&coach, &frames[f]);
			coach_cues(&coach, &n);
			sink += n;
		}
		rounds_coach++;
	} while (now_s() - t0 < budget);
	coach_s = now_s() - t0;

	t0 = now_s();
	do {
		for (f = 0; f < FRAMES; f++) {
			memcpy(&copy, &frames[f], sizeof(copy));
			__asm__ __volatile__("" : : "r"(&copy) : "memory");
			sink += (unsigned long)copy.force[f % PROTO_BATCH_MAX_SAMPLES];
		}
		rounds_copy++;
	} while (now_s() - t0 < budget);
	copy_s = now_s() - t0;

	{
		double coach_ns = coach_s * 1e9 / (samples_per_round * (double)rounds_coach);
		double copy_ns = copy_s * 1e9 / (samples_per_round * (double)rounds_copy);

		printf("coach:  %.2f ns/sample (%lu rounds of %u frames x %u samples)\n",
		       coach_ns, rounds_coach, FRAMES, PROTO_BATCH_MAX_SAMPLES);
		printf("memcpy: %.3f ns/sample (%zu-byte frames, same frames)\n", copy_ns,
		       sizeof(struct proto_measurement));
		printf("ratio:  %.1fx memcpy; %.0f samples/s, %.0fx real time at 80 SPS\n",
		       coach_ns / copy_ns, 1e9 / coach_ns, 1e9 / coach_ns / 80.0);
		printf("(checksum %lu)\n", sink);
	}
	return 0;
}
