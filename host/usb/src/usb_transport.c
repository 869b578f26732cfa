/*
 * The usb transport: the link state machine on top of a usb_backend.
 *
 *   WAITING --open() ok--> OPENING --OPEN done--> OPEN
 *      ^  \--EACCES: retry every 250 ms (udev may not have set the node's
 *      |     permissions yet right after a hotplug), then FAILED with the
 *      |     udev rule to install
 *      +---- unplug (left, -ENODEV), a request stuck for 1 s, an I/O error:
 *            close, LINK_LOST, and open again when the roller is (back)
 *
 * Frames are delivered from the read completions, in transfer order, with
 * the host's monotonic time at completion.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roller/protocol.h"
#include "roller/usb.h"

#define REOPEN_DELAY_MS 200u
#define OPEN_ERROR_RETRIES 3u

enum usb_link_state {
	USB_WAITING = 1, /* no roller open; waiting for one */
	USB_OPENING,     /* opened and claimed; OPEN in flight */
	USB_OPEN,        /* frames flow */
	USB_FAILED       /* gave up (reported) */
};

struct usb_request {
	uint8_t len;
	uint8_t buf[PROTO_USB_PACKET_SIZE];
};

struct usb_transport {
	sd_event *ev;
	struct transport_events events;
	void *userdata;
	const struct usb_backend_ops *be_ops;
	struct usb_backend *be;

	enum usb_link_state state;
	bool was_connected;   /* CONNECTED was reported at least once */
	bool said_waiting;    /* the "plug it in" sentence was given */
	unsigned access_tries;
	unsigned open_errors;
	unsigned reads_pending;
	bool resend_on_clear; /* the OUT pipe stalled once for this request */

	struct usb_request queue[USB_REQUEST_QUEUE];
	size_t queue_n;
	bool write_busy;

	sd_event_source *start_source; /* defer: the first report and try */
	sd_event_source *open_source;  /* defer: try_open() */
	sd_event_source *retry_timer;  /* a delayed try_open() */

	struct usb_transport_counters counters;
	char detail[512];
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void report(struct usb_transport *u, enum transport_state st, int err, const char *detail)
{
	u->events.state(u->userdata, st, err, detail);
}

static void schedule_open(struct usb_transport *u, unsigned delay_ms)
{
	uint64_t now = 0;

	if (delay_ms == 0) {
		sd_event_source_set_enabled(u->open_source, SD_EVENT_ONESHOT);
		return;
	}
	sd_event_now(u->ev, CLOCK_MONOTONIC, &now);
	sd_event_source_set_time(u->retry_timer, now + (uint64_t)delay_ms * 1000u);
	sd_event_source_set_enabled(u->retry_timer, SD_EVENT_ONESHOT);
}

static void fail(struct usb_transport *u, int err, const char *detail)
{
	u->be_ops->close(u->be, false);
	u->state = USB_FAILED;
	u->queue_n = 0;
	u->reads_pending = 0;
	u->write_busy = false;
	report(u, TRANSPORT_FAILED, err, detail);
}

/* The link is gone or stuck: let the roller go and look for it again. */
static void link_lost(struct usb_transport *u, int err, const char *detail, bool send_close,
		      unsigned reopen_ms)
{
	const bool was_open = u->state == USB_OPEN;

	u->be_ops->close(u->be, send_close);
	u->state = USB_WAITING;
	u->queue_n = 0;
	u->reads_pending = 0;
	u->write_busy = false;
	u->said_waiting = false;
	if (was_open)
		report(u, TRANSPORT_LINK_LOST, err, detail);
	else
		report(u, TRANSPORT_CONNECTING, err, detail);
	schedule_open(u, reopen_ms);
}

static void submit_reads(struct usb_transport *u)
{
	int r;

	while (u->state == USB_OPEN && u->reads_pending < USB_READS_IN_FLIGHT) {
		r = u->be_ops->read(u->be);
		if (r < 0) {
			if (u->reads_pending == 0)
				link_lost(u, r, "cannot read from the roller: reopening the link", false,
					  REOPEN_DELAY_MS);
			return;
		}
		u->reads_pending++;
	}
}

static void pump_writes(struct usb_transport *u)
{
	int r;

	if (u->state != USB_OPEN || u->write_busy || u->queue_n == 0)
		return;
	r = u->be_ops->write(u->be, u->queue[0].buf, u->queue[0].len, USB_OUT_TIMEOUT_MS);
	if (r < 0) {
		link_lost(u, r, "cannot write to the roller: reopening the link", false,
			  REOPEN_DELAY_MS);
		return;
	}
	u->write_busy = true;
}

static void try_open(struct usb_transport *u)
{
	uint8_t major = 0;
	int r;

	if (u->state != USB_WAITING)
		return;
	r = u->be_ops->open(u->be, &major);
	switch (r) {
	case 0:
		u->state = USB_OPENING;
		r = u->be_ops->control(u->be, PROTO_USB_REQ_OPEN);
		if (r < 0)
			link_lost(u, r, "cannot send OPEN to the roller: retrying", false,
				  REOPEN_DELAY_MS);
		return;
	case -ENOENT:
	case -ENODEV:
		if (!u->said_waiting) {
			u->said_waiting = true;
			report(u, TRANSPORT_CONNECTING, 0,
			       "no roller on USB yet: plug it in (waiting)");
		}
		return;
	case -EACCES:
		if (u->access_tries < USB_ACCESS_RETRIES) {
			u->access_tries++;
			u->counters.access_retries++;
			schedule_open(u, USB_ACCESS_RETRY_MS);
			return;
		}
		snprintf(u->detail, sizeof(u->detail),
			 "permission denied opening the roller's USB device %s: install the udev "
			 "rule %s: " USB_UDEV_INSTALL,
			 u->be_ops->describe(u->be), USB_UDEV_RULE);
		fail(u, -EACCES, u->detail);
		return;
	case -EBUSY:
		snprintf(u->detail, sizeof(u->detail),
			 "another program has claimed the roller's USB interface %s: stop it "
			 "(another roller command?) and try again",
			 u->be_ops->describe(u->be));
		fail(u, -EBUSY, u->detail);
		return;
	case -EPROTONOSUPPORT:
		snprintf(u->detail, sizeof(u->detail),
			 "the roller on USB speaks protocol %u.x; this roller speaks %u.x: update "
			 "%s",
			 major, PROTO_VERSION, major > PROTO_VERSION ? "roller" : "the roller's firmware");
		fail(u, -EPROTONOSUPPORT, u->detail);
		return;
	default:
		snprintf(u->detail, sizeof(u->detail), "cannot open the roller on USB %s: %s",
			 u->be_ops->describe(u->be), strerror(-r));
		fail(u, r, u->detail);
		return;
	}
}

/* ---- Backend events ------------------------------------------------------------ */

static void on_arrived(void *userdata)
{
	struct usb_transport *u = userdata;

	if (u->state == USB_WAITING) {
		u->access_tries = 0;
		schedule_open(u, 0);
	}
}

static void on_left(void *userdata)
{
	struct usb_transport *u = userdata;

	if (u->state == USB_OPEN || u->state == USB_OPENING)
		link_lost(u, -ENODEV, "the roller was unplugged: waiting for it", false, 0);
}

static void deliver(void *userdata, enum rlog_channel ch, const uint8_t *buf, size_t len)
{
	struct usb_transport *u = userdata;

	u->events.frame(u->userdata, ch, buf, len, now_us());
}

static void on_read_done(void *userdata, int err, const uint8_t *buf, size_t len)
{
	struct usb_transport *u = userdata;

	if (u->reads_pending)
		u->reads_pending--;
	if (u->state != USB_OPEN)
		return;
	switch (err) {
	case 0:
		u->counters.transfers_in++;
		u->counters.bytes_in += len;
		usb_framer_feed(&u->counters.framer, buf, len, deliver, u);
		break;
	case -EPIPE:
		if (u->be_ops->clear_halt(u->be, true) == 0) {
			u->counters.stalls_cleared++;
			break;
		}
		link_lost(u, err, "the roller's IN endpoint stalled: reopening the link", true,
			  REOPEN_DELAY_MS);
		return;
	case -EOVERFLOW:
		u->counters.framer.garbage_transfers++;
		break;
	case -ECANCELED:
		return;
	case -ENODEV:
		link_lost(u, err, "the roller was unplugged: waiting for it", false, 0);
		return;
	default:
		link_lost(u, err, "USB read error: reopening the link", true, REOPEN_DELAY_MS);
		return;
	}
	submit_reads(u);
}

static void on_write_done(void *userdata, int err)
{
	struct usb_transport *u = userdata;

	u->write_busy = false;
	if (u->state != USB_OPEN)
		return;
	switch (err) {
	case 0:
		u->counters.requests_out++;
		u->resend_on_clear = false;
		memmove(u->queue, u->queue + 1, (u->queue_n - 1) * sizeof(u->queue[0]));
		u->queue_n--;
		pump_writes(u);
		return;
	case -EPIPE:
		if (!u->resend_on_clear && u->be_ops->clear_halt(u->be, false) == 0) {
			u->counters.stalls_cleared++;
			u->resend_on_clear = true;
			pump_writes(u);
			return;
		}
		link_lost(u, err, "the roller's OUT endpoint stalled: reopening the link", true,
			  REOPEN_DELAY_MS);
		return;
	case -ETIMEDOUT:
		u->counters.write_timeouts++;
		link_lost(u, err, "the roller did not take a request within 1 s: reopening the link",
			  true, REOPEN_DELAY_MS);
		return;
	case -ECANCELED:
		return;
	case -ENODEV:
		link_lost(u, err, "the roller was unplugged: waiting for it", false, 0);
		return;
	default:
		link_lost(u, err, "USB write error: reopening the link", true, REOPEN_DELAY_MS);
		return;
	}
}

static void on_control_done(void *userdata, uint8_t request, int err)
{
	struct usb_transport *u = userdata;

	if (request != PROTO_USB_REQ_OPEN || u->state != USB_OPENING)
		return;
	switch (err) {
	case 0:
		u->state = USB_OPEN;
		u->counters.opens++;
		if (u->was_connected)
			u->counters.reopens++;
		u->was_connected = true;
		u->access_tries = 0;
		u->open_errors = 0;
		usb_framer_reset(&u->counters.framer);
		report(u, TRANSPORT_CONNECTED, 0, NULL);
		submit_reads(u);
		return;
	case -EPIPE:
		fail(u, -EBUSY,
		     "the roller refused the USB link: it is connected over Bluetooth; end that "
		     "connection (or switch Bluetooth off on that host) and try again");
		return;
	case -ECANCELED:
		return;
	case -ENODEV:
		link_lost(u, err, "the roller was unplugged: waiting for it", false, 0);
		return;
	default:
		if (++u->open_errors > OPEN_ERROR_RETRIES) {
			snprintf(u->detail, sizeof(u->detail),
				 "the roller on USB %s does not answer OPEN: %s (unplug and replug it)",
				 u->be_ops->describe(u->be), strerror(-err));
			fail(u, err, u->detail);
			return;
		}
		link_lost(u, err, "the roller did not answer OPEN: retrying", false, REOPEN_DELAY_MS);
		return;
	}
}

/* ---- Event sources ---------------------------------------------------------------- */

static int on_open_source(sd_event_source *src, void *userdata)
{
	(void)src;
	try_open(userdata);
	return 0;
}

static int on_retry_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	(void)src;
	(void)usec;
	try_open(userdata);
	return 0;
}

static int on_start(sd_event_source *src, void *userdata)
{
	struct usb_transport *u = userdata;

	(void)src;
	report(u, TRANSPORT_CONNECTING, 0, NULL);
	try_open(u);
	return 0;
}

/* ---- Ops ------------------------------------------------------------------------------ */

static void usb_destroy(struct transport *t)
{
	struct usb_transport *u = (struct usb_transport *)t;

	if (!u)
		return;
	if (u->be) {
		u->be_ops->close(u->be, true);
		u->be_ops->destroy(u->be);
	}
	sd_event_source_disable_unref(u->start_source);
	sd_event_source_disable_unref(u->open_source);
	sd_event_source_disable_unref(u->retry_timer);
	sd_event_unref(u->ev);
	free(u);
}

int usb_transport_create(struct transport **out, sd_event *ev, const struct transport_options *opt,
			 const struct transport_events *events, void *userdata,
			 const struct usb_backend_ops *backend)
{
	static const struct usb_backend_events be_events = {
		.arrived = on_arrived,
		.left = on_left,
		.read_done = on_read_done,
		.write_done = on_write_done,
		.control_done = on_control_done,
	};
	struct usb_transport *u;
	int r;

	if (!out || !ev || !opt || !events || !events->frame || !events->state || !backend)
		return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->ev = sd_event_ref(ev);
	u->events = *events;
	u->userdata = userdata;
	u->be_ops = backend;
	u->state = USB_WAITING;

	r = sd_event_add_defer(ev, &u->open_source, on_open_source, u);
	if (r >= 0)
		r = sd_event_source_set_enabled(u->open_source, SD_EVENT_OFF);
	if (r >= 0)
		r = sd_event_add_time(ev, &u->retry_timer, CLOCK_MONOTONIC, 0, 1000, on_retry_timer, u);
	if (r >= 0)
		r = sd_event_source_set_enabled(u->retry_timer, SD_EVENT_OFF);
	if (r < 0)
		goto fail;
	r = backend->create(&u->be, ev, &be_events, u);
	if (r < 0)
		goto fail;
	/* The first report and open attempt come from the loop, after the
	 * caller has its handle. */
	r = sd_event_add_defer(ev, &u->start_source, on_start, u);
	if (r < 0)
		goto fail;
	sd_event_source_set_enabled(u->start_source, SD_EVENT_ONESHOT);
	*out = (struct transport *)u;
	return 0;
fail:
	usb_destroy((struct transport *)u);
	return r;
}

static int usb_create(struct transport **out, sd_event *ev, const struct transport_options *opt,
		      const struct transport_events *events, void *userdata)
{
	return usb_transport_create(out, ev, opt, events, userdata, &usb_backend_libusb);
}

static int usb_write_control(struct transport *t, const uint8_t *buf, size_t len)
{
	struct usb_transport *u = (struct usb_transport *)t;

	if (u->state != USB_OPEN)
		return -ENOTCONN;
	if (!buf || len == 0 || len > PROTO_USB_PACKET_SIZE)
		return -EMSGSIZE;
	if (u->queue_n == USB_REQUEST_QUEUE)
		return -EBUSY;
	memcpy(u->queue[u->queue_n].buf, buf, len);
	u->queue[u->queue_n].len = (uint8_t)len;
	u->queue_n++;
	pump_writes(u);
	return 0;
}

static uint16_t usb_mtu(struct transport *t)
{
	(void)t;
	return PROTO_USB_MTU;
}

void usb_transport_counters(struct transport *t, struct usb_transport_counters *out)
{
	*out = ((struct usb_transport *)t)->counters;
}

const struct transport_ops usb_transport_ops = {
	.name = "usb",
	.create = usb_create,
	.write_control = usb_write_control,
	.coach_cue = NULL,
	.mtu = usb_mtu,
	.destroy = usb_destroy,
};
