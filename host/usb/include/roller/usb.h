/*
 * The usb transport: a roller on a USB cable (protocol/README.md section 11),
 * behind the transport vtable of roller/transport.h (transport_find("usb")).
 *
 * Two layers, so that the framing and retry logic is tested without libusb:
 *
 *   usb_transport  (usb_transport.c): the link state machine. Finds and
 *                  opens a roller, sends OPEN, keeps bulk IN reads pending,
 *                  splits them into frames (usb_framer), queues control
 *                  requests, reopens after an unplug or a stuck endpoint,
 *                  retries a permission error while udev catches up, and
 *                  says what to do when it gives up.
 *   usb_backend    the seam in front of libusb (struct usb_backend_ops):
 *                  hotplug, open/claim with kernel driver auto-detach, async
 *                  control and bulk transfers on the sd-event loop. The
 *                  libusb implementation is usb_backend_libusb; the tests
 *                  script a fake one.
 *
 * Everything runs on the caller's sd-event loop; nothing blocks it, except
 * destroy(), which waits up to USB_CLOSE_WAIT_MS for cancelled transfers to
 * come back (libusb must not free a transfer still in flight).
 *
 * Errors: 0 or a negative errno, as documented per function.
 */
#ifndef ROLLER_USB_H
#define ROLLER_USB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "roller/rlog.h"
#include "roller/transport.h"

/* The udev rule shipped in the source tree and the permission error text. */
#define USB_UDEV_RULE "tools/udev/70-roller.rules"
#define USB_UDEV_INSTALL                                                            \
	"sudo install -m 0644 " USB_UDEV_RULE " /etc/udev/rules.d/ && "             \
	"sudo udevadm control --reload-rules && sudo udevadm trigger, then unplug " \
	"and replug the roller"

#define USB_READS_IN_FLIGHT 2u   /* bulk IN transfers kept pending */
#define USB_OUT_TIMEOUT_MS 1000u /* a request the roller does not take by then */
#define USB_CONTROL_TIMEOUT_MS 1000u
#define USB_CLOSE_WAIT_MS 500u
#define USB_ACCESS_RETRIES 8u    /* -EACCES after a hotplug: udev may be late */
#define USB_ACCESS_RETRY_MS 250u
#define USB_REQUEST_QUEUE 4u     /* control requests waiting for the OUT pipe */

/* ---- Framing (pure) ---------------------------------------------------------- */

/*
 * Splits bulk IN transfers into frames (section 11.3): whole frames per
 * transfer; a bad version byte or a frame running past the transfer makes
 * the rest of that transfer garbage; after usb_framer_reset() (OPEN) frames
 * before the INFO frame are dropped as stale.
 */
struct usb_framer {
	bool synced;              /* the INFO frame of this OPEN has been seen */
	uint64_t frames;          /* frames delivered */
	uint64_t stale_frames;    /* dropped before INFO */
	uint64_t garbage_bytes;   /* bytes dropped by rule 1 */
	uint64_t garbage_transfers;
};

void usb_framer_reset(struct usb_framer *f);

/* Calls frame() for each frame of one completed transfer, in order. */
void usb_framer_feed(struct usb_framer *f, const uint8_t *buf, size_t len,
		     void (*frame)(void *userdata, enum rlog_channel ch, const uint8_t *buf,
				   size_t len),
		     void *userdata);

/* The channel a frame type travels on (table in section 11.3);
 * RLOG_CH_NONE for CONTROL_REQUEST and unknown types. */
enum rlog_channel usb_framer_channel(uint8_t type);

/* ---- The backend seam ------------------------------------------------------------ */

struct usb_backend;

/* What a backend reports. Called from the sd-event loop; a callback may call
 * backend ops (submit the next read, close), but not destroy(). */
struct usb_backend_events {
	/* A roller may have been plugged in: try open(). */
	void (*arrived)(void *userdata);
	/* The open roller was unplugged (transfers then complete with -ENODEV). */
	void (*left)(void *userdata);
	/* A bulk IN transfer completed: err 0 with the data, or -ENODEV
	 * (unplugged), -EPIPE (stall), -EOVERFLOW (babble), -ECANCELED (after
	 * close), -EIO. buf is valid during the call only. */
	void (*read_done)(void *userdata, int err, const uint8_t *buf, size_t len);
	/* A bulk OUT transfer completed: 0, -ETIMEDOUT, -ENODEV, -EPIPE,
	 * -ECANCELED, -EIO. */
	void (*write_done)(void *userdata, int err);
	/* A vendor request completed: 0, -EPIPE (the roller stalled it),
	 * -ETIMEDOUT, -ENODEV, -ECANCELED, -EIO. */
	void (*control_done)(void *userdata, uint8_t request, int err);
};

struct usb_backend_ops {
	/* Starts watching for rollers; arrived() comes later for hotplug. Returns
	 * 0, -ENOMEM, -EIO (libusb could not start), -errno of sd-event. */
	int (*create)(struct usb_backend **out, sd_event *ev, const struct usb_backend_events *events,
		      void *userdata);
	/*
	 * Opens the first roller found (VID/PID and interface FF/52/xx),
	 * detaching a kernel driver automatically, and claims its interface.
	 * Returns 0; -ENOENT no roller; -EACCES no permission (describe()
	 * names the node); -EBUSY claimed by another program;
	 * -EPROTONOSUPPORT the interface protocol is not PROTO_USB_PROTOCOL
	 * (*other_major gets it when not NULL); -ENODEV gone meanwhile;
	 * -EALREADY open already; -EIO.
	 */
	int (*open)(struct usb_backend *b, uint8_t *other_major);
	/* Vendor request to the interface (wLength 0). One at a time: -EBUSY;
	 * -ENOTCONN not open; else 0 and control_done() later. */
	int (*control)(struct usb_backend *b, uint8_t request);
	/* Submits one bulk IN transfer of PROTO_USB_TRANSFER_MAX bytes, no
	 * timeout. Returns 0, -EBUSY (USB_READS_IN_FLIGHT pending),
	 * -ENOTCONN, -ENODEV, -EIO; read_done() later. */
	int (*read)(struct usb_backend *b);
	/* Submits one bulk OUT transfer (copied) with a timeout. One at a time.
	 * Returns 0, -EBUSY, -ENOTCONN, -EMSGSIZE (> 64 bytes), -ENODEV, -EIO. */
	int (*write)(struct usb_backend *b, const uint8_t *buf, size_t len, unsigned timeout_ms);
	/* Clears a halt on the bulk IN (in) or OUT endpoint. Returns 0 or -errno. */
	int (*clear_halt)(struct usb_backend *b, bool in);
	/* Cancels the transfers (their callbacks report -ECANCELED or nothing
	 * at all) and lets the roller go; safe when not open. When send_close
	 * is true and the roller is still there, CLOSE is sent first. */
	void (*close)(struct usb_backend *b, bool send_close);
	/* "bus 001 device 004 (/dev/bus/usb/001/004)" of the last roller
	 * opened or refused, or "" before any. */
	const char *(*describe)(struct usb_backend *b);
	/* Stops and frees; no callback after it returns. NULL is fine. */
	void (*destroy)(struct usb_backend *b);
};

/* The libusb implementation. */
extern const struct usb_backend_ops usb_backend_libusb;

/* ---- The transport ------------------------------------------------------------------ */

/* The ops transport_find("usb") returns (the libusb backend). */
extern const struct transport_ops usb_transport_ops;

/*
 * The same transport on another backend (the tests' fake). Same contract
 * as transport_ops.create: reports CONNECTING, then CONNECTED after OPEN
 * (the first frame is then INFO), LINK_LOST when the roller is unplugged or
 * stops taking requests (it reopens by itself when the roller is back), and
 * FAILED with a sentence saying what to do for a permission error (naming
 * USB_UDEV_RULE), a roller claimed by another program, a roller busy on
 * Bluetooth (OPEN stalled) or another protocol major.
 * Returns 0, -EINVAL, -ENOMEM, or the backend's create() error.
 */
int usb_transport_create(struct transport **out, sd_event *ev, const struct transport_options *opt,
			 const struct transport_events *events, void *userdata,
			 const struct usb_backend_ops *backend);

/* Counters for tests and `roller sync`. */
struct usb_transport_counters {
	uint64_t transfers_in;   /* completed bulk IN transfers */
	uint64_t bytes_in;
	uint64_t requests_out;   /* control requests written */
	uint64_t opens;          /* OPEN requests that succeeded */
	uint64_t reopens;        /* after an unplug or a stuck endpoint */
	uint64_t stalls_cleared;
	uint64_t write_timeouts;
	uint64_t access_retries;
	struct usb_framer framer;
};

/* t must come from a usb transport. */
void usb_transport_counters(struct transport *t, struct usb_transport_counters *out);

#endif
