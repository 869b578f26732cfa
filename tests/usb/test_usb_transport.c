/*
 * The usb transport's framing and link logic over a scripted fake backend
 * (struct usb_backend_ops): no libusb, no LD_PRELOAD, milliseconds per test.
 * Each test plays the USB side by hand (open results, transfer completions,
 * unplug) and checks what the transport's user sees: link states with their
 * sentences, frames on the right channel, requests on the OUT pipe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "roller/protocol.h"
#include "roller/usb.h"

/* ---- The fake backend --------------------------------------------------------- */

#define SCRIPT_MAX 32u

struct fake_be {
	struct usb_backend_events ev;
	void *ud;
	bool alive;
	int open_script[SCRIPT_MAX]; /* results of successive open() calls; then 0 */
	size_t open_n, open_calls;
	uint8_t other_major;
	bool open;
	unsigned reads_pending;
	uint8_t writes[SCRIPT_MAX][PROTO_USB_PACKET_SIZE];
	size_t write_len[SCRIPT_MAX];
	size_t writes_n;
	bool write_pending;
	uint8_t controls[SCRIPT_MAX];
	size_t controls_n;
	bool control_pending;
	unsigned clear_halts, closes, closes_with_close;
};

static struct fake_be be;

static int fb_create(struct usb_backend **out, sd_event *ev, const struct usb_backend_events *events,
		     void *userdata)
{
	(void)ev;
	be.ev = *events;
	be.ud = userdata;
	be.alive = true;
	*out = (struct usb_backend *)&be;
	return 0;
}

static int fb_open(struct usb_backend *b, uint8_t *other_major)
{
	int r;

	(void)b;
	r = be.open_calls < be.open_n ? be.open_script[be.open_calls] : 0;
	be.open_calls++;
	if (r == -EPROTONOSUPPORT && other_major)
		*other_major = be.other_major;
	if (r == 0)
		be.open = true;
	return r;
}

static int fb_control(struct usb_backend *b, uint8_t request)
{
	(void)b;
	if (!be.open)
		return -ENOTCONN;
	if (be.control_pending)
		return -EBUSY;
	assert_true(be.controls_n < SCRIPT_MAX);
	be.controls[be.controls_n++] = request;
	be.control_pending = true;
	return 0;
}

static int fb_read(struct usb_backend *b)
{
	(void)b;
	if (!be.open)
		return -ENOTCONN;
	if (be.reads_pending == USB_READS_IN_FLIGHT)
		return -EBUSY;
	be.reads_pending++;
	return 0;
}

static int fb_write(struct usb_backend *b, const uint8_t *buf, size_t len, unsigned timeout_ms)
{
	(void)b;
	assert_int_equal(timeout_ms, USB_OUT_TIMEOUT_MS);
	if (!be.open)
		return -ENOTCONN;
	if (be.write_pending)
		return -EBUSY;
	assert_true(be.writes_n < SCRIPT_MAX);
	memcpy(be.writes[be.writes_n], buf, len);
	be.write_len[be.writes_n++] = len;
	be.write_pending = true;
	return 0;
}

static int fb_clear_halt(struct usb_backend *b, bool in)
{
	(void)b;
	(void)in;
	be.clear_halts++;
	return 0;
}

static void fb_close(struct usb_backend *b, bool send_close)
{
	(void)b;
	if (!be.open)
		return;
	be.open = false;
	be.closes++;
	be.closes_with_close += send_close;
	be.reads_pending = 0;
	be.write_pending = false;
	be.control_pending = false;
}

static const char *fb_describe(struct usb_backend *b)
{
	(void)b;
	return "bus 001 device 007 (/dev/bus/usb/001/007)";
}

static void fb_destroy(struct usb_backend *b)
{
	(void)b;
	be.alive = false;
}

static const struct usb_backend_ops fake_backend = {
	.create = fb_create,
	.open = fb_open,
	.control = fb_control,
	.read = fb_read,
	.write = fb_write,
	.clear_halt = fb_clear_halt,
	.close = fb_close,
	.describe = fb_describe,
	.destroy = fb_destroy,
};

/* ---- What the user of the transport sees -------------------------------------------- */

#define SEEN_MAX 64u

struct seen {
	enum transport_state states[SEEN_MAX];
	int errs[SEEN_MAX];
	char details[SEEN_MAX][512];
	size_t n_states;
	enum rlog_channel chans[SEEN_MAX];
	uint8_t types[SEEN_MAX];
	size_t lens[SEEN_MAX];
	size_t n_frames;
};

static struct seen seen;

static void on_frame(void *userdata, enum rlog_channel ch, const uint8_t *buf, size_t len,
		     uint64_t mono_us)
{
	(void)userdata;
	assert_true(mono_us > 0);
	assert_true(seen.n_frames < SEEN_MAX);
	seen.chans[seen.n_frames] = ch;
	seen.types[seen.n_frames] = buf[1];
	seen.lens[seen.n_frames] = len;
	seen.n_frames++;
}

static void on_state(void *userdata, enum transport_state st, int err, const char *detail)
{
	(void)userdata;
	assert_true(seen.n_states < SEEN_MAX);
	seen.states[seen.n_states] = st;
	seen.errs[seen.n_states] = err;
	snprintf(seen.details[seen.n_states], sizeof(seen.details[0]), "%s", detail ? detail : "");
	seen.n_states++;
}

static enum transport_state last_state(void)
{
	assert_true(seen.n_states > 0);
	return seen.states[seen.n_states - 1];
}

struct rig {
	sd_event *ev;
	struct transport *t;
};

static void pump(struct rig *r)
{
	while (sd_event_run(r->ev, 0) > 0)
		;
}

static void wait_ms(struct rig *r, unsigned ms)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >=
		    (long)ms)
			break;
		sd_event_run(r->ev, 5000);
	}
	pump(r);
}

static int setup(void **state)
{
	static const struct transport_events events = { .frame = on_frame, .state = on_state };
	struct transport_options opt = { 0 };
	struct rig *r = calloc(1, sizeof(*r));

	memset(&be, 0, sizeof(be));
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(sd_event_new(&r->ev), 0);
	assert_int_equal(usb_transport_create(&r->t, r->ev, &opt, &events, NULL, &fake_backend), 0);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	usb_transport_ops.destroy(r->t);
	assert_false(be.alive);
	sd_event_unref(r->ev);
	free(r);
	return 0;
}

/* The frames of section 11.4's example. */
static const uint8_t info_frame[] = { 0x01, 0x06, 0x11, 0x01, 0x00, 0x00, 0x03, 0x0C, 0x1F, 0x00,
				      0x20, 0x4E, 0x02, 0x02, 0x98, 0x3A, 0x01, 0xEE, 0xFF, 0xC0 };
static const uint8_t status_frame[] = { 0x01, 0x02, 0x0A, 0x03, 0x00, 0x00, 0x00,
					0x00, 0x00, 0x00, 0x00, 0x04, 0x64 };
static const uint8_t resp_frame[] = { 0x01, 0x04, 0x03, 0x09, 0x01, 0x05 }; /* LOG_INFO BUSY */

static size_t cat(uint8_t *out, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	memcpy(out, a, alen);
	if (b)
		memcpy(out + alen, b, blen);
	return alen + blen;
}

/* Up to CONNECTED with INFO + STATUS delivered. */
static void connect(struct rig *r)
{
	uint8_t xfer[64];
	size_t n;

	pump(r);
	assert_true(be.open);
	assert_int_equal(be.controls[be.controls_n - 1], PROTO_USB_REQ_OPEN);
	be.control_pending = false;
	be.ev.control_done(be.ud, PROTO_USB_REQ_OPEN, 0);
	assert_int_equal(last_state(), TRANSPORT_CONNECTED);
	assert_int_equal(be.reads_pending, USB_READS_IN_FLIGHT);
	n = cat(xfer, info_frame, sizeof(info_frame), status_frame, sizeof(status_frame));
	be.reads_pending--;
	be.ev.read_done(be.ud, 0, xfer, n);
	assert_int_equal(be.reads_pending, USB_READS_IN_FLIGHT);
}

static void test_usb_open_then_info_first(void **state)
{
	struct rig *r = *state;
	uint8_t xfer[64];
	size_t n;

	pump(r);
	assert_int_equal(seen.states[0], TRANSPORT_CONNECTING);
	assert_true(be.open);
	assert_int_equal(be.controls_n, 1);
	assert_int_equal(be.controls[0], PROTO_USB_REQ_OPEN);
	be.control_pending = false;
	be.ev.control_done(be.ud, PROTO_USB_REQ_OPEN, 0);
	assert_int_equal(last_state(), TRANSPORT_CONNECTED);
	assert_int_equal(usb_transport_ops.mtu(r->t), PROTO_MTU_MAX);

	/* A frame an earlier link left behind comes before INFO: dropped. */
	n = cat(xfer, status_frame, sizeof(status_frame), info_frame, sizeof(info_frame));
	n += cat(xfer + n, status_frame, sizeof(status_frame), NULL, 0);
	be.reads_pending--;
	be.ev.read_done(be.ud, 0, xfer, n);
	assert_int_equal(seen.n_frames, 2);
	assert_int_equal(seen.types[0], PROTO_TYPE_INFO);
	assert_int_equal(seen.chans[0], RLOG_CH_INFO);
	assert_int_equal(seen.lens[0], sizeof(info_frame));
	assert_int_equal(seen.types[1], PROTO_TYPE_EVENT);
	assert_int_equal(seen.chans[1], RLOG_CH_EVENT);
	assert_int_equal(be.reads_pending, USB_READS_IN_FLIGHT);
	{
		struct usb_transport_counters c;

		usb_transport_counters(r->t, &c);
		assert_int_equal(c.framer.stale_frames, 1);
		assert_int_equal(c.opens, 1);
	}
}

/* Section 11.3 resync: garbage loses the rest of its transfer only. */
static void test_usb_garbage_costs_one_transfer(void **state)
{
	struct rig *r = *state;
	uint8_t xfer[128];
	size_t n;
	struct usb_transport_counters c;

	connect(r);
	seen.n_frames = 0;
	/* A response, then a bad version byte, then a frame nobody will see. */
	n = cat(xfer, resp_frame, sizeof(resp_frame), (const uint8_t *)"\x02\x01\x00", 3);
	n += cat(xfer + n, status_frame, sizeof(status_frame), NULL, 0);
	be.reads_pending--;
	be.ev.read_done(be.ud, 0, xfer, n);
	assert_int_equal(seen.n_frames, 1);
	assert_int_equal(seen.chans[0], RLOG_CH_CONTROL);
	/* The next transfer starts clean. */
	be.reads_pending--;
	be.ev.read_done(be.ud, 0, status_frame, sizeof(status_frame));
	assert_int_equal(seen.n_frames, 2);
	/* A frame cut at the end of a transfer. */
	be.reads_pending--;
	be.ev.read_done(be.ud, 0, info_frame, 10);
	assert_int_equal(seen.n_frames, 2);
	/* A zero-length packet is no frame and no garbage. */
	be.reads_pending--;
	be.ev.read_done(be.ud, 0, xfer, 0);
	/* An unknown type goes up on no channel, for the user to count. */
	be.reads_pending--;
	be.ev.read_done(be.ud, 0, (const uint8_t *)"\x01\x42\x01\x00", 4);
	assert_int_equal(seen.n_frames, 3);
	assert_int_equal(seen.chans[2], RLOG_CH_NONE);
	usb_transport_counters(r->t, &c);
	assert_int_equal(c.framer.garbage_transfers, 2);
	assert_int_equal(c.framer.garbage_bytes, 3 + sizeof(status_frame) + 10);
	assert_int_equal(be.reads_pending, USB_READS_IN_FLIGHT);
	assert_int_equal(last_state(), TRANSPORT_CONNECTED);
}

static void test_usb_requests_one_at_a_time(void **state)
{
	struct rig *r = *state;
	const uint8_t req[] = { 0x01, 0x03, 0x02, 0x09, 0x01 };
	uint8_t big[PROTO_USB_PACKET_SIZE + 1] = { 0 };

	pump(r);
	assert_int_equal(usb_transport_ops.write_control(r->t, req, sizeof(req)), -ENOTCONN);
	connect(r);
	for (unsigned i = 0; i < USB_REQUEST_QUEUE; i++)
		assert_int_equal(usb_transport_ops.write_control(r->t, req, sizeof(req)), 0);
	assert_int_equal(usb_transport_ops.write_control(r->t, req, sizeof(req)), -EBUSY);
	assert_int_equal(usb_transport_ops.write_control(r->t, big, sizeof(big)), -EMSGSIZE);
	assert_int_equal(be.writes_n, 1);
	assert_int_equal(be.write_len[0], sizeof(req));
	assert_memory_equal(be.writes[0], req, sizeof(req));
	for (unsigned i = 1; i <= USB_REQUEST_QUEUE; i++) {
		be.write_pending = false;
		be.ev.write_done(be.ud, 0);
		assert_int_equal(be.writes_n, i < USB_REQUEST_QUEUE ? i + 1 : USB_REQUEST_QUEUE);
	}
}

/* A request the roller does not take within 1 s: the link is reopened. */
static void test_usb_write_timeout_reopens(void **state)
{
	struct rig *r = *state;
	const uint8_t req[] = { 0x01, 0x03, 0x02, 0x09, 0x01 };
	struct usb_transport_counters c;

	connect(r);
	assert_int_equal(usb_transport_ops.write_control(r->t, req, sizeof(req)), 0);
	be.write_pending = false;
	be.ev.write_done(be.ud, -ETIMEDOUT);
	assert_int_equal(last_state(), TRANSPORT_LINK_LOST);
	assert_int_equal(seen.errs[seen.n_states - 1], -ETIMEDOUT);
	assert_int_equal(be.closes_with_close, 1);
	assert_false(be.open);
	wait_ms(r, 300);
	assert_true(be.open);
	assert_int_equal(be.controls[be.controls_n - 1], PROTO_USB_REQ_OPEN);
	be.control_pending = false;
	be.ev.control_done(be.ud, PROTO_USB_REQ_OPEN, 0);
	assert_int_equal(last_state(), TRANSPORT_CONNECTED);
	usb_transport_counters(r->t, &c);
	assert_int_equal(c.write_timeouts, 1);
	assert_int_equal(c.reopens, 1);
}

/* Unplugged mid-transfer, then plugged back in. */
static void test_usb_unplug_then_replug(void **state)
{
	struct rig *r = *state;

	connect(r);
	be.ev.left(be.ud);
	assert_int_equal(last_state(), TRANSPORT_LINK_LOST);
	assert_int_equal(seen.errs[seen.n_states - 1], -ENODEV);
	assert_int_equal(be.closes_with_close, 0);
	/* Gone: open() finds nothing, and nothing spins. */
	be.open_script[be.open_calls] = -ENOENT;
	be.open_n = be.open_calls + 1;
	wait_ms(r, 50);
	assert_false(be.open);
	assert_int_equal(be.open_calls, be.open_n);
	/* A transfer that was in flight completes with -ENODEV: ignored. */
	be.ev.read_done(be.ud, -ENODEV, NULL, 0);
	/* Back. */
	be.ev.arrived(be.ud);
	pump(r);
	assert_true(be.open);
	be.control_pending = false;
	be.ev.control_done(be.ud, PROTO_USB_REQ_OPEN, 0);
	assert_int_equal(last_state(), TRANSPORT_CONNECTED);
}

static void test_usb_read_error_nodev(void **state)
{
	struct rig *r = *state;

	connect(r);
	be.ev.read_done(be.ud, -ENODEV, NULL, 0);
	assert_int_equal(last_state(), TRANSPORT_LINK_LOST);
	assert_non_null(strstr(seen.details[seen.n_states - 1], "unplugged"));
}

/* Right after a hotplug, udev may not have opened the node up yet. */
static void test_usb_permission_retried_then_ok(void **state)
{
	struct rig *r = *state;

	be.open_script[0] = -EACCES;
	be.open_script[1] = -EACCES;
	be.open_n = 2;
	pump(r);
	assert_false(be.open);
	wait_ms(r, 2 * USB_ACCESS_RETRY_MS + 100);
	assert_true(be.open);
	be.control_pending = false;
	be.ev.control_done(be.ud, PROTO_USB_REQ_OPEN, 0);
	assert_int_equal(last_state(), TRANSPORT_CONNECTED);
}

/* For good: the error names the udev rule and how to install it. */
static void test_usb_permission_denied_names_udev_rule(void **state)
{
	struct rig *r = *state;

	for (unsigned i = 0; i < SCRIPT_MAX; i++)
		be.open_script[i] = -EACCES;
	be.open_n = SCRIPT_MAX;
	pump(r);
	wait_ms(r, (USB_ACCESS_RETRIES + 1) * USB_ACCESS_RETRY_MS + 200);
	assert_int_equal(last_state(), TRANSPORT_FAILED);
	assert_int_equal(seen.errs[seen.n_states - 1], -EACCES);
	assert_non_null(strstr(seen.details[seen.n_states - 1], "tools/udev/70-roller.rules"));
	assert_non_null(strstr(seen.details[seen.n_states - 1], "udevadm"));
	assert_non_null(strstr(seen.details[seen.n_states - 1], "/dev/bus/usb/001/007"));
	assert_int_equal(be.open_calls, USB_ACCESS_RETRIES + 1);
}

static void test_usb_refusals(void **state)
{
	struct rig *r = *state;

	/* OPEN stalled: the roller is connected over Bluetooth. */
	pump(r);
	be.control_pending = false;
	be.ev.control_done(be.ud, PROTO_USB_REQ_OPEN, -EPIPE);
	assert_int_equal(last_state(), TRANSPORT_FAILED);
	assert_int_equal(seen.errs[seen.n_states - 1], -EBUSY);
	assert_non_null(strstr(seen.details[seen.n_states - 1], "Bluetooth"));
	assert_false(be.open);
}

static void test_usb_claimed_elsewhere(void **state)
{
	struct rig *r = *state;

	be.open_script[0] = -EBUSY;
	be.open_n = 1;
	pump(r);
	assert_int_equal(last_state(), TRANSPORT_FAILED);
	assert_non_null(strstr(seen.details[seen.n_states - 1], "another program"));
}

static void test_usb_other_major(void **state)
{
	struct rig *r = *state;

	be.open_script[0] = -EPROTONOSUPPORT;
	be.open_n = 1;
	be.other_major = 2;
	pump(r);
	assert_int_equal(last_state(), TRANSPORT_FAILED);
	assert_non_null(strstr(seen.details[seen.n_states - 1], "protocol 2.x"));
}

static void test_usb_stall_cleared(void **state)
{
	struct rig *r = *state;

	connect(r);
	be.reads_pending--;
	be.ev.read_done(be.ud, -EPIPE, NULL, 0);
	assert_int_equal(be.clear_halts, 1);
	assert_int_equal(be.reads_pending, USB_READS_IN_FLIGHT);
	assert_int_equal(last_state(), TRANSPORT_CONNECTED);
}

static void test_usb_no_roller_waits(void **state)
{
	struct rig *r = *state;

	for (unsigned i = 0; i < SCRIPT_MAX; i++)
		be.open_script[i] = -ENOENT;
	be.open_n = SCRIPT_MAX;
	pump(r);
	assert_int_equal(last_state(), TRANSPORT_CONNECTING);
	assert_non_null(strstr(seen.details[seen.n_states - 1], "plug it in"));
	wait_ms(r, 30);
	assert_int_equal(be.open_calls, 1); /* waits for a hotplug, does not poll */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_usb_open_then_info_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usb_garbage_costs_one_transfer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usb_requests_one_at_a_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usb_write_timeout_reopens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usb_unplug_then_replug, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usb_read_error_nodev, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usb_permission_retried_then_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usb_permission_denied_names_udev_rule, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_usb_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usb_claimed_elsewhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usb_other_major, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usb_stall_cleared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usb_no_roller_waits, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
