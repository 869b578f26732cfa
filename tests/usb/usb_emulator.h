/*
 * A roller on an emulated USB bus: a umockdev test bed holding one device
 * with the roller's descriptors (protocol/README.md section 11.1) and a
 * usbdevfs ioctl handler that plays the device side of section 11 with the
 * real device core (fake_roller.h) behind it. libusb in the same process
 * (run under libumockdev-preload) sees an ordinary USB device: it
 * enumerates it, gets hotplug events, opens it, detaches the "kernel driver"
 * bound to it, and does control and bulk transfers through URBs.
 *
 * The handler runs in umockdev's own thread; every function below may be
 * called from the test's thread (they lock). The roller is driven only from
 * the handler while the emulator runs: its clock follows real time (50 Hz
 * samples of an empty roller) and it is polled on every ioctl.
 *
 * Loopback mode (the benchmark's baseline): no roller; every bulk IN URB is
 * completed at once with whole dummy frames, as fast as libusb reaps.
 */
#ifndef ROLLER_TEST_USB_EMULATOR_H
#define ROLLER_TEST_USB_EMULATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fake_roller.h"

struct usb_emulator;

struct usb_emulator_counters {
	unsigned opens, closes;       /* OPEN / CLOSE vendor requests */
	unsigned stalls;              /* control requests answered with a STALL */
	unsigned detaches;            /* kernel driver detached on claim */
	unsigned claims;
	unsigned out_transfers;       /* bulk OUT URBs (requests) */
	unsigned in_transfers;        /* bulk IN URBs completed with data */
	unsigned discards;            /* URBs cancelled by the host */
	uint64_t in_bytes;
	uint64_t log_chunks;          /* LOG_CHUNK frames sent */
};

/* Starts the test bed with the roller plugged in (a kernel driver bound to
 * its interface, as a generic driver would be). roller may be NULL in
 * loopback mode. Returns 0 or -errno. */
int usb_emulator_start(struct usb_emulator **out, struct fake_roller *roller, bool loopback);
void usb_emulator_stop(struct usb_emulator *e);

/* Cable out: a "remove" uevent, every ioctl then fails with ENODEV, and
 * the roller sees its link go down. */
void usb_emulator_unplug(struct usb_emulator *e);
/* Sends what the handler left to the test's thread (a "remove" uevent). */
void usb_emulator_tick(struct usb_emulator *e);
/* Cable in again: an "add" uevent. */
void usb_emulator_plug(struct usb_emulator *e);

/* The next n bulk OUT URBs are never completed (the host's timeout then
 * discards them): a roller that stopped taking requests. */
void usb_emulator_hang_out(struct usb_emulator *e, unsigned n);
/* OPEN is stalled (the roller is busy with a Bluetooth central). */
void usb_emulator_refuse_open(struct usb_emulator *e, bool refuse);
/* Unplug after this many LOG_CHUNK frames were sent (0 = never). The
 * device is gone at once; the "remove" uevent is sent by the next
 * usb_emulator_tick() (call it from the test's loop). */
void usb_emulator_unplug_after_chunks(struct usb_emulator *e, uint64_t n);
/* The interface protocol byte in the descriptors (default 1). Only before
 * usb_emulator_start: use usb_emulator_start_with. */
int usb_emulator_start_with(struct usb_emulator **out, struct fake_roller *roller, bool loopback,
			    uint8_t interface_protocol);

/* True while plugged in (usb_emulator_unplug_after_chunks may pull it). */
bool usb_emulator_present(struct usb_emulator *e);

/* The device node in the test bed's /dev ("" before start). */
const char *usb_emulator_node(struct usb_emulator *e);

void usb_emulator_counters(struct usb_emulator *e, struct usb_emulator_counters *out);

/* Runs fn with the roller locked (the handler waits). */
void usb_emulator_with_roller(struct usb_emulator *e, void (*fn)(struct fake_roller *r, void *ud),
			      void *ud);

#endif
