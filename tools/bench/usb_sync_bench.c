/*
 * usb_sync_bench: `roller sync --usb` throughput through the emulated USB
 * roller (tests/usb/usb_emulator.h: umockdev + the usbdevfs handler with the
 * device core behind it), as a ratio to the same fake's raw loopback in the
 * same run.
 *
 *   loopback  the libusb backend alone reading bulk IN transfers that the
 *             emulator fills at once with whole 244-byte frames (488 bytes
 *             per transfer, as fast as libusb reaps): what the fake can carry
 *   sync      the sync engine over the usb transport against the emulated
 *             roller holding recorded sessions: LOG_INFO, LOG_READ, LOG_CHUNK
 *             reassembly, CRC checks, session files written and fsynced
 *
 * Both are bytes over bulk IN per second of wall time; the ratio says what
 * the protocol, the engine and the files cost on top of moving the bytes.
 * It is not a figure for real USB (the fake does ~1,000 transfers per second
 * whatever the hardware would). Each figure is the best of RUNS.
 *
 * Usage: usb_sync_bench [SESSIONS [SECONDS]]  (default 6 sessions of 240 s)
 * Runs itself again under libumockdev-preload when it is not already.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "roller/protocol.h"
#include "roller/sync.h"
#include "roller/usb.h"

#include "fake_roller.h"
#include "usb_emulator.h"

#ifndef ROLLER_BENCH_BUILD_TYPE
#define ROLLER_BENCH_BUILD_TYPE "unknown"
#endif

#define RUNS 3
#define DEVICE_ID 0xBE4C0001u

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- Loopback: the backend alone ---------------------------------------------------- */

struct loop {
	sd_event *ev;
	const struct usb_backend_ops *ops;
	struct usb_backend *be;
	uint64_t bytes, target;
	bool opened, failed;
};

static void lb_arrived(void *userdata)
{
	(void)userdata;
}

static void lb_left(void *userdata)
{
	((struct loop *)userdata)->failed = true;
}

static void lb_read_done(void *userdata, int err, const uint8_t *buf, size_t len)
{
	struct loop *l = userdata;

	(void)buf;
	if (err) {
		l->failed = true;
		return;
	}
	l->bytes += len;
	if (l->bytes < l->target)
		l->ops->read(l->be);
}

static void lb_write_done(void *userdata, int err)
{
	(void)userdata;
	(void)err;
}

static void lb_control_done(void *userdata, uint8_t request, int err)
{
	struct loop *l = userdata;

	(void)request;
	if (err) {
		l->failed = true;
		return;
	}
	l->opened = true;
	for (unsigned i = 0; i < USB_READS_IN_FLIGHT; i++)
		l->ops->read(l->be);
}

static double loopback(uint64_t target)
{
	static const struct usb_backend_events events = {
		.arrived = lb_arrived,
		.left = lb_left,
		.read_done = lb_read_done,
		.write_done = lb_write_done,
		.control_done = lb_control_done,
	};
	struct usb_emulator *emu = NULL;
	struct loop l = { .ops = &usb_backend_libusb, .target = target };
	double t0, t;

	if (usb_emulator_start(&emu, NULL, true) < 0 || sd_event_new(&l.ev) < 0 ||
	    l.ops->create(&l.be, l.ev, &events, &l) < 0 || l.ops->open(l.be, NULL) < 0 ||
	    l.ops->control(l.be, PROTO_USB_REQ_OPEN) < 0) {
		fprintf(stderr, "usb_sync_bench: loopback setup failed\n");
		exit(1);
	}
	t0 = now_s();
	while (l.bytes < l.target && !l.failed)
		sd_event_run(l.ev, 100000);
	t = now_s() - t0;
	l.ops->destroy(l.be);
	sd_event_unref(l.ev);
	usb_emulator_stop(emu);
	if (l.failed) {
		fprintf(stderr, "usb_sync_bench: loopback failed\n");
		exit(1);
	}
	return (double)l.bytes / t;
}

/* ---- Sync: the engine over the usb transport ---------------------------------------- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

struct run {
	bool done;
	int err;
};

static void on_done(void *userdata, int err)
{
	struct run *r = userdata;

	r->done = true;
	r->err = err;
}

/* Returns bulk IN bytes per second; *records_bps the record bytes. */
static double sync_once(struct fake_roller *roller, uint64_t *in_bytes, double *records_bps,
			uint32_t *records)
{
	char dir[4096], sessions[4200], state[4200];
	const char *tmp = getenv("TMPDIR");
	struct usb_emulator *emu = NULL;
	struct usb_emulator_counters c;
	struct sync_options opt;
	struct sync_result res;
	struct run run = { 0 };
	struct sync *s = NULL;
	sd_event *ev = NULL;
	double t0, t;

	snprintf(dir, sizeof(dir), "%s/usb_sync_bench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("usb_sync_bench: mkdtemp");
		exit(1);
	}
	snprintf(sessions, sizeof(sessions), "%s/sessions", dir);
	snprintf(state, sizeof(state), "%s/sync", dir);
	memset(&opt, 0, sizeof(opt));
	opt.transport = &usb_transport_ops;
	opt.sessions_dir = sessions;
	opt.state_dir = state;
	opt.header.body_weight_dkg = 750;
	opt.done = on_done;
	opt.userdata = &run;
	if (usb_emulator_start(&emu, roller, false) < 0 || sd_event_new(&ev) < 0) {
		fprintf(stderr, "usb_sync_bench: setup failed\n");
		exit(1);
	}
	t0 = now_s();
	if (sync_create(&s, ev, &opt) < 0) {
		fprintf(stderr, "usb_sync_bench: sync_create failed\n");
		exit(1);
	}
	while (!run.done)
		sd_event_run(ev, 100000);
	t = now_s() - t0;
	sync_get_result(s, &res);
	sync_destroy(s);
	sd_event_unref(ev);
	usb_emulator_counters(emu, &c);
	usb_emulator_stop(emu);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	if (run.err < 0) {
		fprintf(stderr, "usb_sync_bench: sync failed: %s\n", res.detail);
		exit(1);
	}
	*in_bytes = c.in_bytes;
	*records = res.records;
	*records_bps = (double)res.bytes / t;
	return (double)c.in_bytes / t;
}

int main(int argc, char **argv)
{
	const char *preload = getenv("LD_PRELOAD");
	unsigned sessions = argc > 1 ? (unsigned)atoi(argv[1]) : 6;
	unsigned seconds = argc > 2 ? (unsigned)atoi(argv[2]) : 240;
	struct fake_roller *roller;
	double best_sync = 0, best_rec = 0, best_loop = 0;
	uint64_t in_bytes = 0;
	uint32_t records = 0;

	if (!preload || !strstr(preload, "libumockdev-preload")) {
		setenv("LD_PRELOAD", "libumockdev-preload.so.0", 1);
		setenv("ASAN_OPTIONS", "verify_asan_link_order=0:detect_leaks=0", 0);
		execv("/proc/self/exe", argv);
		perror("usb_sync_bench: re-exec under umockdev");
		return 1;
	}
	if (sessions < 1 || sessions > 20 || seconds < 1 || seconds > 600) {
		fprintf(stderr, "usage: usb_sync_bench [SESSIONS 1-20 [SECONDS 1-600]]\n");
		return 2;
	}
	roller = malloc(sizeof(*roller));
	if (!roller || fake_roller_init(roller, DEVICE_ID) < 0) {
		fprintf(stderr, "usb_sync_bench: no roller\n");
		return 1;
	}
	for (unsigned i = 0; i < sessions; i++)
		if (fake_roller_record(roller, (uint8_t)(1 + i % PROTO_REGION_LAST), seconds, i + 1) < 0) {
			fprintf(stderr, "usb_sync_bench: the roller's flash is full after %u sessions\n", i);
			return 1;
		}

	printf("usb_sync_bench (%s build): %u sessions of %u s at 50 Hz on the emulated roller\n",
	       ROLLER_BENCH_BUILD_TYPE, sessions, seconds);
	for (int run = 0; run < RUNS; run++) {
		double rec_bps, sync_bps, loop_bps;

		sync_bps = sync_once(roller, &in_bytes, &rec_bps, &records);
		loop_bps = loopback(in_bytes);
		if (sync_bps > best_sync) {
			best_sync = sync_bps;
			best_rec = rec_bps;
		}
		if (loop_bps > best_loop)
			best_loop = loop_bps;
	}
	printf("  raw loopback (libusb backend, 488-byte transfers): %8.1f kB/s\n", best_loop / 1e3);
	printf("  sync (%u records, %llu bytes over bulk IN):      %8.1f kB/s on the wire, "
	       "%.1f kB/s of records\n",
	       records, (unsigned long long)in_bytes, best_sync / 1e3, best_rec / 1e3);
	printf("  ratio sync / loopback: %.2f (records / loopback: %.2f)\n", best_sync / best_loop,
	       best_rec / best_loop);
	free(roller);
	return 0;
}
