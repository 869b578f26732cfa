/*
 * The libusb backend of the usb transport (roller/usb.h).
 *
 * Event loop: libusb's file descriptors (libusb_get_pollfds, kept up to date
 * with libusb_set_pollfd_notifiers) are sd-event I/O sources; when one is
 * ready, libusb_handle_events_timeout_completed() runs with a zero timeout.
 * On Linux libusb keeps its timeouts in a timerfd among those descriptors;
 * where it cannot (libusb_pollfds_handle_timeouts() == 0) a timer follows
 * libusb_get_next_timeout().
 *
 * Each open roller is a "link" holding the device handle and its transfers.
 * close() cancels the transfers and the link is released (interface,
 * handle) only when every transfer has come back: libusb must not free a
 * transfer in flight, and must not close a handle from inside its own
 * event handling, so the release runs from an sd-event defer source.
 *
 * Hotplug callbacks only note what happened; the transport hears about it
 * from a defer source, outside libusb's event handling, so that it may open
 * the device at once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/time.h>

#include <libusb.h>

#include "roller/protocol.h"
#include "roller/usb.h"

#define SCAN_INTERVAL_US 1000000u /* without hotplug support */

struct usb_pollfd {
	int fd;
	sd_event_source *source;
	struct usb_pollfd *next;
};

struct usb_link;

struct usb_slot {
	struct usb_link *link;
	struct libusb_transfer *xfer;
	bool busy;
	uint8_t buf[PROTO_USB_TRANSFER_MAX];
};

enum usb_slot_kind { SLOT_READ0 = 0, SLOT_WRITE = USB_READS_IN_FLIGHT, SLOT_CONTROL, SLOT_COUNT };

struct usb_link {
	struct usb_backend *b;
	libusb_device_handle *handle;
	int iface;
	uint8_t ep_in, ep_out;
	bool closing;
	bool close_sent;
	uint8_t control_request;
	struct usb_slot slots[SLOT_COUNT];
	struct usb_link *next; /* in b->closing_links */
};

struct usb_backend {
	sd_event *ev;
	libusb_context *ctx;
	struct usb_backend_events events;
	void *userdata;

	struct usb_pollfd *pollfds;
	bool timeouts_in_fds;
	sd_event_source *timer;
	sd_event_source *notify_source; /* arrived / left, outside libusb */
	sd_event_source *release_source; /* frees closing links */
	sd_event_source *scan_timer;     /* no hotplug capability */
	libusb_hotplug_callback_handle hotplug;
	bool has_hotplug;
	bool pending_arrived, pending_left;
	bool destroying;

	struct usb_link *link;          /* the open roller, or NULL */
	struct usb_link *closing_links; /* waiting for their transfers */
	char description[128];
};

static int errno_of_libusb(int err)
{
	switch (err) {
	case LIBUSB_SUCCESS:
		return 0;
	case LIBUSB_ERROR_IO:
		return -EIO;
	case LIBUSB_ERROR_INVALID_PARAM:
		return -EINVAL;
	case LIBUSB_ERROR_ACCESS:
		return -EACCES;
	case LIBUSB_ERROR_NO_DEVICE:
		return -ENODEV;
	case LIBUSB_ERROR_NOT_FOUND:
		return -ENOENT;
	case LIBUSB_ERROR_BUSY:
		return -EBUSY;
	case LIBUSB_ERROR_TIMEOUT:
		return -ETIMEDOUT;
	case LIBUSB_ERROR_OVERFLOW:
		return -EOVERFLOW;
	case LIBUSB_ERROR_PIPE:
		return -EPIPE;
	case LIBUSB_ERROR_INTERRUPTED:
		return -EINTR;
	case LIBUSB_ERROR_NO_MEM:
		return -ENOMEM;
	case LIBUSB_ERROR_NOT_SUPPORTED:
		return -EOPNOTSUPP;
	default:
		return -EIO;
	}
}

static int errno_of_status(enum libusb_transfer_status st)
{
	switch (st) {
	case LIBUSB_TRANSFER_COMPLETED:
		return 0;
	case LIBUSB_TRANSFER_TIMED_OUT:
		return -ETIMEDOUT;
	case LIBUSB_TRANSFER_STALL:
		return -EPIPE;
	case LIBUSB_TRANSFER_NO_DEVICE:
		return -ENODEV;
	case LIBUSB_TRANSFER_OVERFLOW:
		return -EOVERFLOW;
	case LIBUSB_TRANSFER_CANCELLED:
		return -ECANCELED;
	case LIBUSB_TRANSFER_ERROR:
		return -EIO;
	}
	return -EIO;
}

/* ---- Event loop integration ----------------------------------------------------------- */

static void update_timer(struct usb_backend *b)
{
	struct timeval tv;
	uint64_t now = 0;
	int r;

	if (b->timeouts_in_fds || !b->timer)
		return;
	r = libusb_get_next_timeout(b->ctx, &tv);
	if (r <= 0) {
		sd_event_source_set_enabled(b->timer, SD_EVENT_OFF);
		return;
	}
	sd_event_now(b->ev, CLOCK_MONOTONIC, &now);
	sd_event_source_set_time(b->timer, now + (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec);
	sd_event_source_set_enabled(b->timer, SD_EVENT_ONESHOT);
}

static void handle_events(struct usb_backend *b)
{
	struct timeval zero = { 0, 0 };

	libusb_handle_events_timeout_completed(b->ctx, &zero, NULL);
	update_timer(b);
}

static int on_fd(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	(void)src;
	(void)fd;
	(void)revents;
	handle_events(userdata);
	return 0;
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	(void)src;
	(void)usec;
	handle_events(userdata);
	return 0;
}

static uint32_t epoll_events_of(short events)
{
	uint32_t e = 0;

	if (events & POLLIN)
		e |= EPOLLIN;
	if (events & POLLOUT)
		e |= EPOLLOUT;
	return e;
}

static int on_always_ready(sd_event_source *src, void *userdata)
{
	(void)src;
	handle_events(userdata);
	return 0;
}

static void pollfd_added(int fd, short events, void *userdata)
{
	struct usb_backend *b = userdata;
	struct usb_pollfd *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return;
	p->fd = fd;
	r = sd_event_add_io(b->ev, &p->source, fd, epoll_events_of(events), on_fd, b);
	if (r == -EPERM) {
		/* Not pollable by epoll (a regular file: umockdev's device nodes).
		 * poll() would call it always ready: handle events on every loop
		 * iteration, after everything else. */
		r = sd_event_add_defer(b->ev, &p->source, on_always_ready, b);
		if (r >= 0)
			r = sd_event_source_set_priority(p->source, SD_EVENT_PRIORITY_IDLE);
		if (r >= 0)
			r = sd_event_source_set_enabled(p->source, SD_EVENT_ON);
	}
	if (r < 0) {
		sd_event_source_disable_unref(p->source);
		free(p);
		return;
	}
	p->next = b->pollfds;
	b->pollfds = p;
}

static void pollfd_removed(int fd, void *userdata)
{
	struct usb_backend *b = userdata;

	for (struct usb_pollfd **pp = &b->pollfds; *pp; pp = &(*pp)->next) {
		if ((*pp)->fd == fd) {
			struct usb_pollfd *p = *pp;

			*pp = p->next;
			sd_event_source_disable_unref(p->source);
			free(p);
			return;
		}
	}
}

/* ---- Hotplug ------------------------------------------------------------------------- */

static int on_hotplug(libusb_context *ctx, libusb_device *dev, libusb_hotplug_event event,
		      void *userdata)
{
	struct usb_backend *b = userdata;

	(void)ctx;
	if (event == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED) {
		b->pending_arrived = true;
	} else if (event == LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT && b->link && !b->link->closing &&
		   libusb_get_device(b->link->handle) == dev) {
		b->pending_left = true;
	}
	if (b->notify_source)
		sd_event_source_set_enabled(b->notify_source, SD_EVENT_ONESHOT);
	return 0; /* stay registered */
}

static int on_notify(sd_event_source *src, void *userdata)
{
	struct usb_backend *b = userdata;

	(void)src;
	if (b->pending_left) {
		b->pending_left = false;
		b->events.left(b->userdata);
	}
	if (b->pending_arrived) {
		b->pending_arrived = false;
		b->events.arrived(b->userdata);
	}
	return 0;
}

static int on_scan(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct usb_backend *b = userdata;

	sd_event_source_set_time(src, usec + SCAN_INTERVAL_US);
	if (!b->link)
		b->events.arrived(b->userdata);
	return 0;
}

/* ---- Links -------------------------------------------------------------------------------- */

static unsigned link_in_flight(const struct usb_link *l)
{
	unsigned n = 0;

	for (size_t i = 0; i < SLOT_COUNT; i++)
		n += l->slots[i].busy;
	return n;
}

static void link_free(struct usb_link *l)
{
	for (size_t i = 0; i < SLOT_COUNT; i++)
		libusb_free_transfer(l->slots[i].xfer);
	if (l->handle) {
		libusb_release_interface(l->handle, l->iface);
		libusb_close(l->handle);
	}
	free(l);
}

/* Frees closing links whose transfers have all come back. */
static void release_links(struct usb_backend *b)
{
	struct usb_link **pp = &b->closing_links;

	while (*pp) {
		struct usb_link *l = *pp;

		if (link_in_flight(l) == 0) {
			*pp = l->next;
			link_free(l);
		} else {
			pp = &l->next;
		}
	}
}

static int on_release(sd_event_source *src, void *userdata)
{
	(void)src;
	release_links(userdata);
	return 0;
}

static void transfer_done(struct libusb_transfer *xfer)
{
	struct usb_slot *slot = xfer->user_data;
	struct usb_link *l = slot->link;
	struct usb_backend *b = l->b;
	const int err = errno_of_status(xfer->status);
	const size_t kind = (size_t)(slot - l->slots);

	slot->busy = false;
	if (l->closing) {
		if (link_in_flight(l) == 0 && b->release_source)
			sd_event_source_set_enabled(b->release_source, SD_EVENT_ONESHOT);
		return;
	}
	if (kind < SLOT_WRITE)
		b->events.read_done(b->userdata, err, slot->buf, (size_t)xfer->actual_length);
	else if (kind == SLOT_WRITE)
		b->events.write_done(b->userdata, err);
	else
		b->events.control_done(b->userdata, l->control_request, err);
}

static void describe_device(struct usb_backend *b, libusb_device *dev)
{
	const unsigned bus = libusb_get_bus_number(dev), addr = libusb_get_device_address(dev);

	snprintf(b->description, sizeof(b->description),
		 "bus %03u device %03u (/dev/bus/usb/%03u/%03u)", bus, addr, bus, addr);
}

/* The roller interface of a configuration: 1 found, 0 not a roller, or
 * -EPROTONOSUPPORT with *major set. */
static int find_interface(const struct libusb_config_descriptor *cfg, int *iface, uint8_t *ep_in,
			  uint8_t *ep_out, uint8_t *major)
{
	int other = 0;

	for (uint8_t i = 0; i < cfg->bNumInterfaces; i++) {
		const struct libusb_interface *itf = &cfg->interface[i];

		for (int a = 0; a < itf->num_altsetting; a++) {
			const struct libusb_interface_descriptor *d = &itf->altsetting[a];
			uint8_t in = 0, out = 0;

			if (d->bInterfaceClass != PROTO_USB_CLASS ||
			    d->bInterfaceSubClass != PROTO_USB_SUBCLASS || d->bAlternateSetting != 0)
				continue;
			if (d->bInterfaceProtocol != PROTO_USB_PROTOCOL) {
				*major = d->bInterfaceProtocol;
				other = -EPROTONOSUPPORT;
				continue;
			}
			for (uint8_t e = 0; e < d->bNumEndpoints; e++) {
				const struct libusb_endpoint_descriptor *ep = &d->endpoint[e];

				if ((ep->bmAttributes & LIBUSB_TRANSFER_TYPE_MASK) !=
				    LIBUSB_TRANSFER_TYPE_BULK)
					continue;
				if (ep->bEndpointAddress & LIBUSB_ENDPOINT_IN)
					in = in ? in : ep->bEndpointAddress;
				else
					out = out ? out : ep->bEndpointAddress;
			}
			if (!in || !out)
				continue;
			*iface = d->bInterfaceNumber;
			*ep_in = in;
			*ep_out = out;
			return 1;
		}
	}
	return other;
}

static int open_device(struct usb_backend *b, libusb_device *dev, int iface, uint8_t ep_in,
		       uint8_t ep_out)
{
	struct usb_link *l;
	libusb_device_handle *h = NULL;
	int r;

	describe_device(b, dev);
	r = libusb_open(dev, &h);
	if (r < 0)
		return errno_of_libusb(r);
	/* A kernel driver bound to the interface (none is expected for a vendor
	 * class, but a generic one may be) is detached on claim and re-attached
	 * on release. */
	r = libusb_set_auto_detach_kernel_driver(h, 1);
	if (r < 0 && r != LIBUSB_ERROR_NOT_SUPPORTED) {
		libusb_close(h);
		return errno_of_libusb(r);
	}
	r = libusb_claim_interface(h, iface);
	if (r < 0) {
		libusb_close(h);
		return errno_of_libusb(r);
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		goto nomem;
	l->b = b;
	l->handle = h;
	l->iface = iface;
	l->ep_in = ep_in;
	l->ep_out = ep_out;
	for (size_t i = 0; i < SLOT_COUNT; i++) {
		l->slots[i].link = l;
		l->slots[i].xfer = libusb_alloc_transfer(0);
		if (!l->slots[i].xfer) {
			l->handle = NULL;
			link_free(l);
			goto nomem;
		}
	}
	b->link = l;
	return 0;
nomem:
	libusb_release_interface(h, iface);
	libusb_close(h);
	return -ENOMEM;
}

/* ---- Ops ------------------------------------------------------------------------------------ */

static int be_open(struct usb_backend *b, uint8_t *other_major)
{
	libusb_device **list = NULL;
	ssize_t n;
	int result = -ENOENT;
	uint8_t major = 0;

	if (b->link)
		return -EALREADY;
	n = libusb_get_device_list(b->ctx, &list);
	if (n < 0)
		return errno_of_libusb((int)n);
	for (ssize_t i = 0; i < n; i++) {
		struct libusb_device_descriptor desc;
		struct libusb_config_descriptor *cfg = NULL;
		int iface = 0, found;
		uint8_t ep_in = 0, ep_out = 0;

		if (libusb_get_device_descriptor(list[i], &desc) < 0 ||
		    desc.idVendor != PROTO_USB_VID || desc.idProduct != PROTO_USB_PID)
			continue;
		if (libusb_get_active_config_descriptor(list[i], &cfg) < 0)
			continue; /* not configured (yet) */
		found = find_interface(cfg, &iface, &ep_in, &ep_out, &major);
		libusb_free_config_descriptor(cfg);
		if (found == -EPROTONOSUPPORT) {
			describe_device(b, list[i]);
			result = -EPROTONOSUPPORT;
			continue;
		}
		if (found != 1)
			continue;
		result = open_device(b, list[i], iface, ep_in, ep_out);
		if (result == 0 || result == -EACCES || result == -EBUSY)
			break;
	}
	libusb_free_device_list(list, 1);
	if (result == -EPROTONOSUPPORT && other_major)
		*other_major = major;
	return result;
}

static int submit(struct usb_slot *slot)
{
	int r = libusb_submit_transfer(slot->xfer);

	if (r < 0)
		return errno_of_libusb(r);
	slot->busy = true;
	return 0;
}

static int be_control(struct usb_backend *b, uint8_t request)
{
	struct usb_link *l = b->link;
	struct usb_slot *slot;

	if (!l || l->closing)
		return -ENOTCONN;
	slot = &l->slots[SLOT_CONTROL];
	if (slot->busy)
		return -EBUSY;
	libusb_fill_control_setup(slot->buf,
				  LIBUSB_ENDPOINT_OUT | LIBUSB_REQUEST_TYPE_VENDOR |
					  LIBUSB_RECIPIENT_INTERFACE,
				  request, 0, (uint16_t)l->iface, 0);
	libusb_fill_control_transfer(slot->xfer, l->handle, slot->buf, transfer_done, slot,
				     USB_CONTROL_TIMEOUT_MS);
	l->control_request = request;
	return submit(slot);
}

static int be_read(struct usb_backend *b)
{
	struct usb_link *l = b->link;

	if (!l || l->closing)
		return -ENOTCONN;
	for (size_t i = SLOT_READ0; i < SLOT_WRITE; i++) {
		struct usb_slot *slot = &l->slots[i];

		if (slot->busy)
			continue;
		libusb_fill_bulk_transfer(slot->xfer, l->handle, l->ep_in, slot->buf,
					  (int)PROTO_USB_TRANSFER_MAX, transfer_done, slot, 0);
		return submit(slot);
	}
	return -EBUSY;
}

static int be_write(struct usb_backend *b, const uint8_t *buf, size_t len, unsigned timeout_ms)
{
	struct usb_link *l = b->link;
	struct usb_slot *slot;

	if (!l || l->closing)
		return -ENOTCONN;
	if (len > PROTO_USB_PACKET_SIZE)
		return -EMSGSIZE;
	slot = &l->slots[SLOT_WRITE];
	if (slot->busy)
		return -EBUSY;
	memcpy(slot->buf, buf, len);
	libusb_fill_bulk_transfer(slot->xfer, l->handle, l->ep_out, slot->buf, (int)len,
				  transfer_done, slot, timeout_ms);
	return submit(slot);
}

static int be_clear_halt(struct usb_backend *b, bool in)
{
	struct usb_link *l = b->link;

	if (!l || l->closing)
		return -ENOTCONN;
	return errno_of_libusb(libusb_clear_halt(l->handle, in ? l->ep_in : l->ep_out));
}

static void be_close(struct usb_backend *b, bool send_close)
{
	struct usb_link *l = b->link;

	if (!l)
		return;
	b->link = NULL;
	l->closing = true;
	for (size_t i = 0; i < SLOT_COUNT; i++)
		if (l->slots[i].busy)
			libusb_cancel_transfer(l->slots[i].xfer);
	/* CLOSE tells the roller to advertise again; asynchronous, because
	 * close() may run inside libusb's event handling. */
	if (send_close && !l->slots[SLOT_CONTROL].busy) {
		struct usb_slot *slot = &l->slots[SLOT_CONTROL];

		libusb_fill_control_setup(slot->buf,
					  LIBUSB_ENDPOINT_OUT | LIBUSB_REQUEST_TYPE_VENDOR |
						  LIBUSB_RECIPIENT_INTERFACE,
					  PROTO_USB_REQ_CLOSE, 0, (uint16_t)l->iface, 0);
		libusb_fill_control_transfer(slot->xfer, l->handle, slot->buf, transfer_done, slot,
					     100);
		l->close_sent = submit(slot) == 0;
	}
	l->next = b->closing_links;
	b->closing_links = l;
	if (link_in_flight(l) == 0 && b->release_source)
		sd_event_source_set_enabled(b->release_source, SD_EVENT_ONESHOT);
}

static const char *be_describe(struct usb_backend *b)
{
	return b->description;
}

static void be_destroy(struct usb_backend *b)
{
	if (!b)
		return;
	b->destroying = true;
	if (b->has_hotplug)
		libusb_hotplug_deregister_callback(b->ctx, b->hotplug);
	be_close(b, true);
	/* Wait (bounded) for the cancelled transfers: libusb may not free them
	 * in flight. Not called from inside libusb's event handling. */
	for (unsigned waited = 0; b->closing_links && waited < USB_CLOSE_WAIT_MS; waited += 10) {
		struct timeval tv = { 0, 10000 };

		release_links(b);
		if (!b->closing_links)
			break;
		libusb_handle_events_timeout_completed(b->ctx, &tv, NULL);
	}
	release_links(b);
	sd_event_source_disable_unref(b->notify_source);
	sd_event_source_disable_unref(b->release_source);
	sd_event_source_disable_unref(b->scan_timer);
	sd_event_source_disable_unref(b->timer);
	b->notify_source = b->release_source = b->scan_timer = b->timer = NULL;
	libusb_set_pollfd_notifiers(b->ctx, NULL, NULL, NULL);
	while (b->pollfds)
		pollfd_removed(b->pollfds->fd, b);
	if (!b->closing_links)
		libusb_exit(b->ctx); /* else a transfer is stuck: leak rather than crash */
	sd_event_unref(b->ev);
	free(b);
}

static int be_create(struct usb_backend **out, sd_event *ev, const struct usb_backend_events *events,
		     void *userdata)
{
	const struct libusb_pollfd **fds;
	struct usb_backend *b;
	int r;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->ev = sd_event_ref(ev);
	b->events = *events;
	b->userdata = userdata;
	r = libusb_init(&b->ctx);
	if (r < 0) {
		sd_event_unref(b->ev);
		free(b);
		return -EIO;
	}
	fds = libusb_get_pollfds(b->ctx);
	if (fds) {
		for (size_t i = 0; fds[i]; i++)
			pollfd_added(fds[i]->fd, fds[i]->events, b);
		libusb_free_pollfds(fds);
	}
	libusb_set_pollfd_notifiers(b->ctx, pollfd_added, pollfd_removed, b);
	b->timeouts_in_fds = libusb_pollfds_handle_timeouts(b->ctx) != 0;

	r = sd_event_add_defer(ev, &b->notify_source, on_notify, b);
	if (r >= 0)
		r = sd_event_source_set_enabled(b->notify_source, SD_EVENT_OFF);
	if (r >= 0)
		r = sd_event_add_defer(ev, &b->release_source, on_release, b);
	if (r >= 0)
		r = sd_event_source_set_enabled(b->release_source, SD_EVENT_OFF);
	if (r >= 0 && !b->timeouts_in_fds) {
		r = sd_event_add_time(ev, &b->timer, CLOCK_MONOTONIC, 0, 1000, on_timer, b);
		if (r >= 0)
			r = sd_event_source_set_enabled(b->timer, SD_EVENT_OFF);
	}
	if (r < 0)
		goto fail;
	if (libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG) &&
	    libusb_hotplug_register_callback(
		    b->ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT, 0,
		    PROTO_USB_VID, PROTO_USB_PID, LIBUSB_HOTPLUG_MATCH_ANY, on_hotplug, b,
		    &b->hotplug) == LIBUSB_SUCCESS) {
		b->has_hotplug = true;
	} else {
		uint64_t now = 0;

		sd_event_now(ev, CLOCK_MONOTONIC, &now);
		r = sd_event_add_time(ev, &b->scan_timer, CLOCK_MONOTONIC, now + SCAN_INTERVAL_US,
				      100000, on_scan, b);
		if (r >= 0)
			r = sd_event_source_set_enabled(b->scan_timer, SD_EVENT_ON);
		if (r < 0)
			goto fail;
	}
	*out = b;
	return 0;
fail:
	be_destroy(b);
	return r;
}

const struct usb_backend_ops usb_backend_libusb = {
	.create = be_create,
	.open = be_open,
	.control = be_control,
	.read = be_read,
	.write = be_write,
	.clear_halt = be_clear_halt,
	.close = be_close,
	.describe = be_describe,
	.destroy = be_destroy,
};
