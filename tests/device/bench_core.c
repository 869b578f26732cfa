/*
 * Benchmark: cost of core_on_sample() per sample on this machine, and the
 * same with core_poll() after each sample (a connected link at MTU 247 and
 * a session recorded to a RAM flash), against a baseline measured in the
 * same run: memcpy of the raw sample stream (counts + gyro), sample by
 * sample. Then the LOG_READ of that session (every chunk made from flash
 * when the link takes it) at MTU 247 and 23, per byte of record data,
 * against a memcpy of the same bytes in record-sized pieces. Each figure is
 * the best of 5 runs. Built, not run by ctest:  ./bench_core [seconds-of-data]
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roller/core.h"
#include "roller/simperson.h"

#define CHANNELS 4u
#define PAGE 4096u
#define PAGES 64u
#define REPEAT 5

struct raw {
	int32_t counts[CHANNELS];
	int32_t gyro;
};

static struct core core;
static uint8_t flash[PAGE * PAGES];
static uint32_t now;
static unsigned long frames;
static unsigned long log_bytes;
static bool log_end;

static uint32_t clock_now(void *ctx)
{
	(void)ctx;
	return now;
}

static int flash_erase(void *ctx, uint32_t page)
{
	(void)ctx;
	memset(flash + page * PAGE, 0xFF, PAGE);
	return 0;
}

static int flash_write(void *ctx, uint32_t off, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	size_t i;

	(void)ctx;
	for (i = 0; i < len; i++)
		flash[off + i] &= b[i];
	return 0;
}

static int flash_read(void *ctx, uint32_t off, void *buf, size_t len)
{
	(void)ctx;
	memcpy(buf, flash + off, len);
	return 0;
}

static int link_notify(void *ctx, enum core_char ch, const uint8_t *buf, size_t len)
{
	(void)ctx;
	frames++;
	if (ch == CORE_CHAR_LOG && len >= 12u) {
		log_bytes += len - 12u; /* LOG_CHUNK: 12 bytes around the data */
		if (buf[PROTO_HEADER_SIZE + 6u] & PROTO_CHUNK_END)
			log_end = true;
	}
	return 0;
}

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile uint32_t sink;

/* LOG_READ of the whole log at this MTU; returns seconds per data byte. */
static double log_read(uint16_t mtu, unsigned long *bytes)
{
	static const uint8_t read_all[] = { PROTO_VERSION, PROTO_TYPE_CONTROL_REQUEST, 10,
					     PROTO_OP_LOG_READ, 2, 0, 0, 0, 0, 0, 0, 0, 0 };
	double t0;

	core_on_mtu(&core, mtu);
	log_bytes = 0;
	log_end = false;
	t0 = seconds();
	core_on_control_write(&core, read_all, sizeof(read_all));
	while (!log_end)
		(void)core_poll(&core, now);
	*bytes = log_bytes;
	return (seconds() - t0) / (double)(log_bytes ? log_bytes : 1u);
}

int main(int argc, char **argv)
{
	struct port_force_ops force = { NULL, CHANNELS, 12500, -8388608, 8388607, NULL };
	struct port_clock_ops clk = { NULL, clock_now };
	struct port_storage_ops st = { NULL, PAGE, PAGES, 4, flash_erase, flash_write, flash_read };
	struct port_link_ops link = { NULL, link_notify, NULL, NULL, NULL, NULL };
	/* no motion port: the gyro rate comes with each sample anyway, and
	 * without one the variance fallback runs too (the dearer path) */
	struct core_ports ports = { &force, NULL, &clk, &st, &link, NULL };
	struct core_config cfg;
	struct simperson_config scfg;
	static struct simperson sim;
	struct raw *stream, copy;
	static const uint8_t start[] = { PROTO_VERSION, PROTO_TYPE_CONTROL_REQUEST, 3,
					  PROTO_OP_START_SESSION, 1, PROTO_REGION_CALVES };
	static const uint8_t stop[] = { PROTO_VERSION, PROTO_TYPE_CONTROL_REQUEST, 2,
					 PROTO_OP_STOP_SESSION, 3 };
	static uint8_t piece[PROTO_FRAME_MAX];
	unsigned long bytes_247 = 0, bytes_23 = 0;
	double t_log247, t_log23, t_logcopy;
	size_t n, i;
	int rep;
	double t0, t_copy, t_sample, t_poll;
	uint32_t dummy = 0;
	int secs = argc > 1 ? atoi(argv[1]) : 600;

	n = (size_t)(secs > 0 ? secs : 600) * 80u;
	stream = malloc(n * sizeof(*stream));
	if (!stream)
		return 1;
	simperson_config_defaults(&scfg);
	scfg.plan.reps = 1000;
	simperson_init(&sim, &scfg);
	for (i = 0; i < n; i++)
		simperson_step(&sim, stream[i].counts, CHANNELS, &stream[i].gyro);
	core_config_defaults(&cfg);
	cfg.sleep_timeout_s = 0;

	/* Each figure is the best of REPEAT runs: the machine is shared. */
	t_copy = t_sample = t_poll = t_log247 = t_log23 = t_logcopy = 1e9;
	for (rep = 0; rep < REPEAT; rep++) {
		double t;

		/* baseline: copy each raw sample once */
		t0 = seconds();
		for (i = 0; i < n; i++) {
			memcpy(&copy, &stream[i], sizeof(copy));
			dummy += (uint32_t)copy.counts[i % CHANNELS];
		}
		t = (seconds() - t0) / (double)n;
		t_copy = t < t_copy ? t : t_copy;
		sink = dummy;

		/* core_on_sample alone (no link: nothing is batched or sent) */
		memset(flash, 0xFF, sizeof(flash));
		if (core_init(&core, &ports, &cfg) != 0)
			return 1;
		t0 = seconds();
		for (i = 0; i < n; i++) {
			now = (uint32_t)(i * 25u / 2u);
			core_on_sample(&core, stream[i].counts, CHANNELS, stream[i].gyro);
		}
		t = (seconds() - t0) / (double)n;
		t_sample = t < t_sample ? t : t_sample;

		/* with a connected link and a recorded session: core_poll too */
		memset(flash, 0xFF, sizeof(flash));
		if (core_init(&core, &ports, &cfg) != 0)
			return 1;
		core_on_connect(&core, false);
		core_on_security_changed(&core, true, true);
		core_on_mtu(&core, 247);
		core_on_control_write(&core, start, sizeof(start));
		frames = 0;
		t0 = seconds();
		for (i = 0; i < n; i++) {
			now = (uint32_t)(i * 25u / 2u);
			core_on_sample(&core, stream[i].counts, CHANNELS, stream[i].gyro);
			(void)core_poll(&core, now);
		}
		t = (seconds() - t0) / (double)n;
		t_poll = t < t_poll ? t : t_poll;

		/* the session just recorded, read back through LOG_READ */
		core_on_control_write(&core, stop, sizeof(stop));
		(void)core_poll(&core, now);
		t = log_read(247, &bytes_247);
		t_log247 = t < t_log247 ? t : t_log247;
		t = log_read(23, &bytes_23);
		t_log23 = t < t_log23 ? t : t_log23;
		t0 = seconds();
		for (i = 0; i + sizeof(piece) <= bytes_247; i += sizeof(piece)) {
			memcpy(piece, flash + 2u * PAGE + i % (PAGE * (PAGES - 2u) - sizeof(piece)),
			       sizeof(piece));
			dummy += piece[i % sizeof(piece)];
		}
		t = (seconds() - t0) / (double)(bytes_247 ? bytes_247 : 1u);
		t_logcopy = t < t_logcopy ? t : t_logcopy;
		sink = dummy;
	}

	printf("samples: %zu (%d s at 80 SPS, simulated person), frames sent: %lu\n", n, secs, frames);
	printf("memcpy of one raw sample (baseline): %8.2f ns\n", t_copy * 1e9);
	printf("core_on_sample:                      %8.2f ns  (%.1fx baseline)\n",
	       t_sample * 1e9, t_sample / t_copy);
	printf("core_on_sample + core_poll, live:    %8.2f ns  (%.1fx baseline)\n",
	       t_poll * 1e9, t_poll / t_copy);
	printf("share of one 12.5 ms sample period:  %8.5f %%\n", t_poll / 0.0125 * 100.0);
	printf("log bytes read back: %lu (MTU 247), %lu (MTU 23)\n", bytes_247, bytes_23);
	printf("memcpy of log bytes (baseline):      %8.3f ns/B\n", t_logcopy * 1e9);
	printf("LOG_READ, MTU 247 (232 B chunks):    %8.3f ns/B  (%.1fx baseline)\n",
	       t_log247 * 1e9, t_log247 / t_logcopy);
	printf("LOG_READ, MTU 23 (8 B chunks):       %8.3f ns/B  (%.1fx baseline)\n",
	       t_log23 * 1e9, t_log23 / t_logcopy);
	free(stream);
	return 0;
}
