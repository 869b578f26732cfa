/*
 * The emulated roller on a umockdev USB bus (see usb_emulator.h).
 *
 * usbdevfs as libusb 1.0.26 uses it: URBs are submitted (SUBMITURB), reaped
 * without blocking (REAPURBNDELAY: EAGAIN while none is done) and discarded
 * (DISCARDURB: reaped later with -ENOENT). A control URB's buffer starts
 * with the 8-byte setup packet. The URB and its buffer are read from and
 * written back to the client through umockdev's IoctlData copies: the URB
 * copy taken at submission is handed back at reaping with set_ptr(), and
 * umockdev writes back what changed (status, actual_length, IN data).
 *
 * Device side, as section 11 says: OPEN = connect + secure + MTU 247 and
 * INFO first; each bulk OUT transfer is one Control Point write; each bulk
 * IN transfer carries whole frames, at most 512 bytes.
 */
#define _GNU_SOURCE
#include "usb_emulator.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/ioctl.h>
#include <linux/usbdevice_fs.h>
#include <umockdev.h>

#define SYSFS_PATH "/sys/devices/usb1"
#define DEV_NODE "/dev/bus/usb/001/001"
#define SAMPLE_CATCHUP 50u /* most samples run per ioctl */
#define STREAM_MAX 256u

struct urb {
	UMockdevIoctlData *data; /* struct usbdevfs_urb, local copy */
	UMockdevIoctlData *buf;  /* its buffer (NULL for none) */
	struct urb *next;
};

struct urb_queue {
	struct urb *head, *tail;
};

struct usb_emulator {
	GMutex lock;
	UMockdevTestbed *testbed;
	UMockdevIoctlBase *handler;
	char node[4200];
	struct fake_roller *roller;
	bool loopback;
	uint8_t protocol;

	bool present;       /* plugged in */
	bool driver_bound;  /* a "kernel driver" holds the interface */
	bool claimed;
	bool open;          /* the roller's USB link (OPEN .. CLOSE) */
	bool refuse_open;
	unsigned hang_out;
	uint64_t unplug_after_chunks;
	bool uevent_due;    /* a "remove" uevent to send from the test's thread */
	int64_t last_us;    /* real time of the last sample run */

	struct urb_queue in_pending;
	struct urb_queue done;
	struct urb_queue hung;
	/* Frames waiting for bulk IN: INFO first after OPEN, then the core's. */
	struct fake_roller_frame stream[STREAM_MAX];
	size_t stream_head, stream_n;

	struct usb_emulator_counters counters;
};

/* ---- URB queues ---------------------------------------------------------------- */

static void urb_free(struct urb *u)
{
	if (!u)
		return;
	if (u->buf)
		g_object_unref(u->buf);
	g_object_unref(u->data);
	free(u);
}

static void queue_push(struct urb_queue *q, struct urb *u)
{
	u->next = NULL;
	if (q->tail)
		q->tail->next = u;
	else
		q->head = u;
	q->tail = u;
}

static struct urb *queue_pop(struct urb_queue *q)
{
	struct urb *u = q->head;

	if (u) {
		q->head = u->next;
		if (!q->head)
			q->tail = NULL;
	}
	return u;
}

static void queue_clear(struct urb_queue *q)
{
	struct urb *u;

	while ((u = queue_pop(q)))
		urb_free(u);
}

/* Removes the URB at client address addr from q. */
static struct urb *queue_take(struct urb_queue *q, gulong addr)
{
	struct urb *prev = NULL;

	for (struct urb *u = q->head; u; prev = u, u = u->next) {
		if (u->data->client_addr != addr)
			continue;
		if (prev)
			prev->next = u->next;
		else
			q->head = u->next;
		if (q->tail == u)
			q->tail = prev;
		return u;
	}
	return NULL;
}

static struct usbdevfs_urb *urb_of(struct urb *u)
{
	return (struct usbdevfs_urb *)u->data->data;
}

static void complete_urb(struct usb_emulator *e, struct urb *u, int status, int actual)
{
	urb_of(u)->status = status;
	urb_of(u)->actual_length = actual;
	queue_push(&e->done, u);
}

/* ---- The device side ------------------------------------------------------------ */

static void stream_push(struct usb_emulator *e, const struct fake_roller_frame *f)
{
	if (e->stream_n == STREAM_MAX)
		return; /* the host stopped reading: drop, as a full queue would */
	e->stream[(e->stream_head + e->stream_n) % STREAM_MAX] = *f;
	e->stream_n++;
}

static void link_down(struct usb_emulator *e)
{
	if (e->open && e->roller)
		fake_roller_disconnect(e->roller);
	e->open = false;
	e->stream_n = 0;
}

/* As the kernel does on a disconnect: URBs in flight complete with
 * -ESHUTDOWN and stay reapable (USBDEVFS_CAP_REAP_AFTER_DISCONNECT); every
 * other ioctl fails with ENODEV. */
static void unplug_locked(struct usb_emulator *e)
{
	struct urb *u;

	e->present = false;
	e->claimed = false;
	link_down(e);
	while ((u = queue_pop(&e->in_pending)))
		complete_urb(e, u, -ESHUTDOWN, 0);
	while ((u = queue_pop(&e->hung)))
		complete_urb(e, u, -ESHUTDOWN, 0);
}

/* Real time moves the roller on: samples of an empty roller at 50 Hz, a
 * poll, and whatever it sends goes to the IN stream. */
static void run_roller(struct usb_emulator *e)
{
	struct fake_roller_frame f;
	int64_t now = g_get_monotonic_time();
	unsigned n = 0;

	if (!e->roller)
		return;
	while (now - e->last_us >= (int64_t)FAKE_ROLLER_PERIOD_US && n < SAMPLE_CATCHUP) {
		fake_roller_sample(e->roller, 0);
		e->last_us += FAKE_ROLLER_PERIOD_US;
		n++;
	}
	if (n == SAMPLE_CATCHUP)
		e->last_us = now;
	/* Only as many frames as the stream can take: the rest stay in the
	 * roller's queue (its notify() then says -EAGAIN). */
	while (e->stream_n < STREAM_MAX) {
		if (e->roller->n == 0)
			fake_roller_poll(e->roller, 0);
		if (!fake_roller_pop(e->roller, &f))
			break;
		if (e->open)
			stream_push(e, &f);
	}
}

static void fill_loopback(struct usb_emulator *e)
{
	struct fake_roller_frame f = { .ch = CORE_CHAR_LOG, .len = PROTO_FRAME_MAX };

	memset(f.buf, 0xA5, sizeof(f.buf));
	f.buf[0] = PROTO_VERSION;
	f.buf[1] = PROTO_TYPE_LOG_CHUNK;
	f.buf[2] = PROTO_FRAME_MAX - PROTO_HEADER_SIZE;
	while (e->stream_n < 4)
		stream_push(e, &f);
}

/* Completes pending IN URBs with whole frames (at most 512 bytes each). */
static void serve_in(struct usb_emulator *e)
{
	while (e->in_pending.head && e->stream_n) {
		struct urb *u = e->in_pending.head;
		size_t cap = (size_t)urb_of(u)->buffer_length, used = 0;

		if (cap > PROTO_USB_TRANSFER_MAX)
			cap = PROTO_USB_TRANSFER_MAX;
		while (e->stream_n) {
			const struct fake_roller_frame *f = &e->stream[e->stream_head];

			if (used + f->len > cap)
				break;
			memcpy(u->buf->data + used, f->buf, f->len);
			used += f->len;
			if (f->len > 1 && f->buf[1] == PROTO_TYPE_LOG_CHUNK)
				e->counters.log_chunks++;
			e->stream_head = (e->stream_head + 1) % STREAM_MAX;
			e->stream_n--;
		}
		if (used == 0)
			break; /* a buffer smaller than a frame: never with our host */
		queue_pop(&e->in_pending);
		e->counters.in_transfers++;
		e->counters.in_bytes += used;
		complete_urb(e, u, 0, (int)used);
		if (e->unplug_after_chunks && e->counters.log_chunks >= e->unplug_after_chunks) {
			/* Cable out now; the uevent goes from the test's thread
			 * (usb_emulator_tick): umockdev's own thread runs this. */
			e->unplug_after_chunks = 0;
			unplug_locked(e);
			e->uevent_due = true;
			return;
		}
		if (e->loopback)
			fill_loopback(e);
	}
}

static void control_request(struct usb_emulator *e, struct urb *u)
{
	const uint8_t *setup = u->buf ? u->buf->data : NULL;
	const int len = urb_of(u)->buffer_length;
	uint8_t info[PROTO_FRAME_MAX];
	size_t info_len = 0;

	if (!setup || len < 8 || setup[0] != 0x41 || setup[6] || setup[7] || setup[2] || setup[3]) {
		e->counters.stalls++;
		complete_urb(e, u, -EPIPE, 0);
		return;
	}
	switch (setup[1]) {
	case PROTO_USB_REQ_OPEN:
		if (e->refuse_open) {
			e->counters.stalls++;
			complete_urb(e, u, -EPIPE, 0);
			return;
		}
		link_down(e);
		e->counters.opens++;
		e->open = true;
		if (e->roller) {
			fake_roller_connect(e->roller, PROTO_USB_MTU);
			if (fake_roller_info(e->roller, info, sizeof(info), &info_len) == 0) {
				struct fake_roller_frame f = { .ch = CORE_CHAR_INFO, .len = (uint8_t)info_len };

				memcpy(f.buf, info, info_len);
				stream_push(e, &f);
			}
		} else {
			fill_loopback(e);
		}
		break;
	case PROTO_USB_REQ_CLOSE:
		e->counters.closes++;
		link_down(e);
		break;
	default:
		e->counters.stalls++;
		complete_urb(e, u, -EPIPE, 0);
		return;
	}
	complete_urb(e, u, 0, 0);
}

static void bulk_out(struct usb_emulator *e, struct urb *u)
{
	const int len = urb_of(u)->buffer_length;

	if (e->hang_out) {
		e->hang_out--;
		queue_push(&e->hung, u);
		return;
	}
	e->counters.out_transfers++;
	if (e->open && e->roller && u->buf)
		fake_roller_write(e->roller, u->buf->data, (size_t)len);
	complete_urb(e, u, 0, len);
}

/* ---- ioctls ------------------------------------------------------------------------- */

static void submit(struct usb_emulator *e, UMockdevIoctlClient *client, UMockdevIoctlData *arg)
{
	struct urb *u = calloc(1, sizeof(*u));
	struct usbdevfs_urb *urb;

	u->data = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_urb), NULL);
	if (!u->data) {
		free(u);
		umockdev_ioctl_client_complete(client, -1, EFAULT);
		return;
	}
	urb = urb_of(u);
	if (urb->buffer_length > 0)
		u->buf = umockdev_ioctl_data_resolve(u->data, offsetof(struct usbdevfs_urb, buffer),
						     (gsize)urb->buffer_length, NULL);
	switch (urb->type) {
	case USBDEVFS_URB_TYPE_CONTROL:
		control_request(e, u);
		break;
	case USBDEVFS_URB_TYPE_BULK:
		if (urb->endpoint & 0x80) {
			if (!u->buf) {
				urb_free(u);
				umockdev_ioctl_client_complete(client, -1, EINVAL);
				return;
			}
			queue_push(&e->in_pending, u);
		} else {
			bulk_out(e, u);
		}
		break;
	default:
		urb_free(u);
		umockdev_ioctl_client_complete(client, -1, EINVAL);
		return;
	}
	umockdev_ioctl_client_complete(client, 0, 0);
}

static void reap(struct usb_emulator *e, UMockdevIoctlClient *client, UMockdevIoctlData *arg)
{
	UMockdevIoctlData *ptr;
	struct urb *u;

	if (e->present) {
		run_roller(e);
		serve_in(e);
	}
	u = queue_pop(&e->done);
	if (!u && !e->present) {
		umockdev_ioctl_client_complete(client, -1, ENODEV);
		return;
	}
	if (!u) {
		umockdev_ioctl_client_complete(client, -1, EAGAIN);
		return;
	}
	ptr = umockdev_ioctl_data_resolve(arg, 0, sizeof(void *), NULL);
	umockdev_ioctl_data_set_ptr(ptr, 0, u->data);
	umockdev_ioctl_client_complete(client, 0, 0);
	g_object_unref(ptr);
	urb_free(u);
}

static void discard(struct usb_emulator *e, UMockdevIoctlClient *client, UMockdevIoctlData *arg)
{
	const gulong addr = *(const gulong *)arg->data;
	struct urb *u = queue_take(&e->in_pending, addr);

	if (!u)
		u = queue_take(&e->hung, addr);
	if (!u) {
		umockdev_ioctl_client_complete(client, -1, EINVAL);
		return;
	}
	e->counters.discards++;
	complete_urb(e, u, -ENOENT, 0);
	umockdev_ioctl_client_complete(client, 0, 0);
}

static gboolean on_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client, gpointer userdata)
{
	struct usb_emulator *e = userdata;
	const gulong request = umockdev_ioctl_client_get_request(client);
	UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
	gboolean handled = TRUE;

	(void)handler;
	g_mutex_lock(&e->lock);
	if (!e->present && request != USBDEVFS_REAPURB && request != USBDEVFS_REAPURBNDELAY) {
		umockdev_ioctl_client_complete(client, -1, ENODEV);
		g_mutex_unlock(&e->lock);
		return TRUE;
	}
	switch (request) {
	case USBDEVFS_GET_CAPABILITIES: {
		UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, sizeof(guint32), NULL);

		*(guint32 *)d->data = USBDEVFS_CAP_ZERO_PACKET | USBDEVFS_CAP_NO_PACKET_SIZE_LIM |
				      USBDEVFS_CAP_REAP_AFTER_DISCONNECT;
		umockdev_ioctl_client_complete(client, 0, 0);
		g_object_unref(d);
		break;
	}
	case USBDEVFS_GETDRIVER: {
		UMockdevIoctlData *d =
			umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_getdriver), NULL);
		struct usbdevfs_getdriver *gd = (struct usbdevfs_getdriver *)d->data;

		if (e->driver_bound) {
			snprintf(gd->driver, sizeof(gd->driver), "roller-generic");
			umockdev_ioctl_client_complete(client, 0, 0);
		} else {
			umockdev_ioctl_client_complete(client, -1, ENODATA);
		}
		g_object_unref(d);
		break;
	}
	case USBDEVFS_DISCONNECT_CLAIM:
		if (e->driver_bound)
			e->counters.detaches++;
		e->driver_bound = false;
		e->claimed = true;
		e->counters.claims++;
		umockdev_ioctl_client_complete(client, 0, 0);
		break;
	case USBDEVFS_CLAIMINTERFACE:
		if (e->driver_bound) {
			umockdev_ioctl_client_complete(client, -1, EBUSY);
			break;
		}
		e->claimed = true;
		e->counters.claims++;
		umockdev_ioctl_client_complete(client, 0, 0);
		break;
	case USBDEVFS_RELEASEINTERFACE:
		e->claimed = false;
		link_down(e); /* the host is gone: as a USB reset would say */
		umockdev_ioctl_client_complete(client, 0, 0);
		break;
	case USBDEVFS_IOCTL: /* re-attach the kernel driver after release */
		e->driver_bound = true;
		umockdev_ioctl_client_complete(client, 0, 0);
		break;
	case USBDEVFS_SETINTERFACE:
	case USBDEVFS_CLEAR_HALT:
	case USBDEVFS_RESETEP:
	case USBDEVFS_RESET:
		umockdev_ioctl_client_complete(client, 0, 0);
		break;
	case USBDEVFS_SUBMITURB:
		submit(e, client, arg);
		break;
	case USBDEVFS_REAPURB:
	case USBDEVFS_REAPURBNDELAY:
		reap(e, client, arg);
		break;
	case USBDEVFS_DISCARDURB:
		discard(e, client, arg);
		break;
	default:
		handled = FALSE;
		break;
	}
	g_mutex_unlock(&e->lock);
	return handled;
}

/* ---- The test bed ------------------------------------------------------------------ */

static void add_device(struct usb_emulator *e)
{
	char record[2048];
	/* Device, configuration, interface FF/52/protocol, bulk OUT 0x01, bulk IN
	 * 0x81, 64-byte packets (section 11.1). */
	snprintf(record, sizeof(record),
		 "P: /devices/usb1\n"
		 "N: bus/usb/001/001\n"
		 "E: SUBSYSTEM=usb\n"
		 "E: DEVTYPE=usb_device\n"
		 "E: DRIVER=usb\n"
		 "E: BUSNUM=001\n"
		 "E: DEVNUM=001\n"
		 "E: DEVNAME=" DEV_NODE "\n"
		 "E: PRODUCT=1209/1/100\n"
		 "A: busnum=1\\n\n"
		 "A: devnum=1\\n\n"
		 "A: speed=12\\n\n"
		 "A: bConfigurationValue=1\\n\n"
		 "A: manufacturer=Roller project\\n\n"
		 "A: product=Roller\\n\n"
		 "H: descriptors=120100020000004009120100000101020301"
		 "09022000010100803209040000"
		 "02ff52%02x00"
		 "07050102400000"
		 "07058102400000\n",
		 e->protocol);
	umockdev_testbed_add_from_string(e->testbed, record, NULL);
}

int usb_emulator_start_with(struct usb_emulator **out, struct fake_roller *roller, bool loopback,
			    uint8_t interface_protocol)
{
	struct usb_emulator *e = calloc(1, sizeof(*e));
	gchar *root;

	if (!e)
		return -ENOMEM;
	g_mutex_init(&e->lock);
	e->roller = roller;
	e->loopback = loopback;
	e->protocol = interface_protocol;
	e->present = true;
	e->driver_bound = true;
	e->last_us = g_get_monotonic_time();
	e->testbed = umockdev_testbed_new();
	if (!e->testbed) {
		free(e);
		return -EIO;
	}
	root = umockdev_testbed_get_root_dir(e->testbed);
	snprintf(e->node, sizeof(e->node), "%s%s", root, DEV_NODE);
	g_free(root);
	e->handler = umockdev_ioctl_base_new();
	g_signal_connect(e->handler, "handle-ioctl", G_CALLBACK(on_ioctl), e);
	/* The handler first, so that open() works when the "add" uevent comes. */
	if (!umockdev_testbed_attach_ioctl(e->testbed, DEV_NODE, e->handler, NULL)) {
		usb_emulator_stop(e);
		return -EIO;
	}
	add_device(e);
	*out = e;
	return 0;
}

int usb_emulator_start(struct usb_emulator **out, struct fake_roller *roller, bool loopback)
{
	return usb_emulator_start_with(out, roller, loopback, PROTO_USB_PROTOCOL);
}

void usb_emulator_stop(struct usb_emulator *e)
{
	if (!e)
		return;
	if (e->testbed)
		umockdev_testbed_detach_ioctl(e->testbed, DEV_NODE, NULL);
	g_mutex_lock(&e->lock);
	queue_clear(&e->in_pending);
	queue_clear(&e->done);
	queue_clear(&e->hung);
	g_mutex_unlock(&e->lock);
	g_clear_object(&e->handler);
	g_clear_object(&e->testbed);
	g_mutex_clear(&e->lock);
	free(e);
}

void usb_emulator_unplug(struct usb_emulator *e)
{
	g_mutex_lock(&e->lock);
	unplug_locked(e);
	g_mutex_unlock(&e->lock);
	umockdev_testbed_uevent(e->testbed, SYSFS_PATH, "remove");
}

void usb_emulator_tick(struct usb_emulator *e)
{
	bool due;

	g_mutex_lock(&e->lock);
	due = e->uevent_due;
	e->uevent_due = false;
	g_mutex_unlock(&e->lock);
	if (due)
		umockdev_testbed_uevent(e->testbed, SYSFS_PATH, "remove");
}

void usb_emulator_plug(struct usb_emulator *e)
{
	g_mutex_lock(&e->lock);
	e->present = true;
	e->driver_bound = true;
	e->last_us = g_get_monotonic_time();
	g_mutex_unlock(&e->lock);
	umockdev_testbed_uevent(e->testbed, SYSFS_PATH, "add");
}

void usb_emulator_hang_out(struct usb_emulator *e, unsigned n)
{
	g_mutex_lock(&e->lock);
	e->hang_out = n;
	g_mutex_unlock(&e->lock);
}

void usb_emulator_refuse_open(struct usb_emulator *e, bool refuse)
{
	g_mutex_lock(&e->lock);
	e->refuse_open = refuse;
	g_mutex_unlock(&e->lock);
}

void usb_emulator_unplug_after_chunks(struct usb_emulator *e, uint64_t n)
{
	g_mutex_lock(&e->lock);
	e->unplug_after_chunks = n ? e->counters.log_chunks + n : 0;
	g_mutex_unlock(&e->lock);
}

bool usb_emulator_present(struct usb_emulator *e)
{
	bool present;

	g_mutex_lock(&e->lock);
	present = e->present;
	g_mutex_unlock(&e->lock);
	return present;
}

const char *usb_emulator_node(struct usb_emulator *e)
{
	return e->node;
}

void usb_emulator_counters(struct usb_emulator *e, struct usb_emulator_counters *out)
{
	g_mutex_lock(&e->lock);
	*out = e->counters;
	g_mutex_unlock(&e->lock);
}

void usb_emulator_with_roller(struct usb_emulator *e, void (*fn)(struct fake_roller *r, void *ud),
			      void *ud)
{
	g_mutex_lock(&e->lock);
	fn(e->roller, ud);
	g_mutex_unlock(&e->lock);
}
