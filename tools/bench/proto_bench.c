/*
 * proto_bench: encode and decode throughput of MEASUREMENT frames, in samples
 * per second, each compared with a memcpy of the same frame bytes measured in
 * the same run; then the wire cost per sample at 50 Hz.
 *
 * Usage: proto_bench [SECONDS]   (minimum time per measurement, default 0.2)
 * Each figure is the best of several timed runs, so one preemption on a shared
 * machine does not decide it. Build type matters: read the first line.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roller/protocol.h"

#ifndef ROLLER_BENCH_BUILD_TYPE
#define ROLLER_BENCH_BUILD_TYPE "unknown"
#endif

#define BATCHES 64u /* distinct batches cycled through, so nothing is constant */
#define RUNS 5

/* Keeps results and buffers observable so the compiler cannot drop the work. */
static volatile uint32_t sink;
#define BARRIER(p) __asm__ __volatile__("" : : "r"(p) : "memory")

struct workload {
	const char *name;
	size_t samples;
	struct proto_measurement batch[BATCHES];
	uint8_t frame[BATCHES][PROTO_FRAME_ABS_MAX];
	size_t frame_len;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint32_t rng_state = 0x9E3779B9u;

static uint32_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static int workload_init(struct workload *w, const char *name, size_t samples)
{
	size_t b, i;

	w->name = name;
	w->samples = samples;
	for (b = 0; b < BATCHES; b++) {
		struct proto_measurement *m = &w->batch[b];
		size_t written = 0;
		int err;

		memset(m, 0, sizeof(*m));
		m->first_sample = (uint32_t)(b * samples);
		m->time = (uint32_t)(b * samples * 20u);
		m->flags = PROTO_MEAS_CALIBRATED | PROTO_MEAS_CONTACT;
		m->count = (uint8_t)samples;
		for (i = 0; i < samples; i++) {
			m->force[i] = (int16_t)(200 + (int)(rng_next() % 400u));
			proto_measurement_set_still(m, i, (rng_next() & 3u) == 0);
		}
		err = proto_measurement_encode(m, w->frame[b], sizeof(w->frame[b]), &written);
		if (err) {
			fprintf(stderr, "proto_bench: encode: %s\n", strerror(-err));
			return err;
		}
		w->frame_len = written;
	}
	return 0;
}

enum op { OP_MEMCPY, OP_ENCODE, OP_DECODE };

/* Runs `iterations` frames of one operation; returns the seconds taken. */
static double run_op(struct workload *w, enum op op, size_t iterations)
{
	static uint8_t out[PROTO_FRAME_ABS_MAX];
	static struct proto_measurement m;
	double start = now_s();
	uint32_t acc = 0;
	size_t k;

	for (k = 0; k < iterations; k++) {
		size_t b = k % BATCHES, written = 0;

		switch (op) {
		case OP_MEMCPY:
			memcpy(out, w->frame[b], w->frame_len);
			BARRIER(out);
			acc += out[w->frame_len - 1];
			break;
		case OP_ENCODE:
			if (proto_measurement_encode(&w->batch[b], out, sizeof(out), &written))
				abort();
			BARRIER(out);
			acc += out[written - 1];
			break;
		case OP_DECODE:
			if (proto_measurement_decode(w->frame[b], w->frame_len, &m))
				abort();
			BARRIER(&m);
			acc += (uint16_t)m.force[m.count - 1u];
			break;
		}
	}
	sink += acc;
	return now_s() - start;
}

/* Best seconds per frame over RUNS runs of at least min_s each. */
static double seconds_per_frame(struct workload *w, enum op op, double min_s)
{
	size_t iterations = 1024;
	double best = 0;
	int run;

	/* Grow the count until one run lasts min_s. */
	while (run_op(w, op, iterations) < min_s && iterations < ((size_t)1 << 40))
		iterations *= 2;
	for (run = 0; run < RUNS; run++) {
		double per = run_op(w, op, iterations) / (double)iterations;

		if (run == 0 || per < best)
			best = per;
	}
	return best;
}

static void bench(struct workload *w, double min_s)
{
	double copy = seconds_per_frame(w, OP_MEMCPY, min_s);
	double enc = seconds_per_frame(w, OP_ENCODE, min_s);
	double dec = seconds_per_frame(w, OP_DECODE, min_s);
	double n = (double)w->samples;

	printf("%-16s %5zu %10.1f %10.1f %7.1fx %10.1f %7.1fx\n", w->name, w->frame_len,
	       n / copy / 1e6, n / enc / 1e6, enc / copy, n / dec / 1e6, dec / copy);
}

static void cost(const char *name, size_t samples)
{
	size_t frame = proto_measurement_size(samples);
	double per = (double)frame / (double)samples;
	double per_att = (double)(frame + PROTO_ATT_OVERHEAD) / (double)samples;

	printf("%-30s %6zu %6zu %9.2f %9.2f %9.1f %9.1f\n", name, samples, frame, per, per_att,
	       per * 50.0, 50.0 / (double)samples);
}

int main(int argc, char **argv)
{
	static struct workload small, full;
	double min_s = 0.2;

	if (argc > 1) {
		min_s = strtod(argv[1], NULL);
		if (!(min_s > 0 && min_s < 60)) {
			fprintf(stderr, "usage: %s [SECONDS]  (0 < SECONDS < 60)\n", argv[0]);
			return 2;
		}
	}
	if (workload_init(&small, "MTU 23, n=3", proto_measurement_capacity(23)) ||
	    workload_init(&full, "MTU 247, n=108", proto_measurement_capacity(247)))
		return 1;

	printf("proto_bench: MEASUREMENT codec, build type %s, best of %d runs of >= %.2f s\n",
	       ROLLER_BENCH_BUILD_TYPE, RUNS, min_s);
	printf("ratios are codec time / memcpy time for the same frame bytes (lower is better)\n\n");
	printf("%-16s %5s %10s %10s %8s %10s %8s\n", "frame", "bytes", "memcpy", "encode",
	       "ratio", "decode", "ratio");
	printf("%-16s %5s %10s %10s %8s %10s %8s\n", "", "", "Msample/s", "Msample/s", "",
	       "Msample/s", "");
	bench(&small, min_s);
	bench(&full, min_s);

	printf("\nwire cost at 50 Hz (frame = header + payload; +ATT adds the 3-byte ATT header)\n");
	printf("%-30s %6s %6s %9s %9s %9s %9s\n", "case", "n", "frame", "B/sample", "+ATT",
	       "frame B/s", "frames/s");
	cost("MTU 23, full frames", proto_measurement_capacity(23));
	cost("MTU 247, full frames", proto_measurement_capacity(247));
	cost("100 ms flush (MTU >= 27)", 5);
	printf("(checksum %u)\n", (unsigned)sink);
	return 0;
}
