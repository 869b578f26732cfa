/*
 * USB glue (protocol/README.md section 11): the roller as a vendor-specific
 * interface with one bulk IN and one bulk OUT endpoint on the nRF52840's
 * native USB, through Zephyr's USB device stack ("device_next").
 *
 * The core never learns that USB exists: an open USB link is handed to it
 * as a BLE link that is connected, encrypted and bonded at MTU 247 (the
 * worker does that on WORKER_USB_OPEN), and its frames go out through
 * usb_bulk_link_ops() while the link is open.
 *
 * Built only when CONFIG_ROLLER_USB is set (the nRF52840 board conf); on
 * other boards the weak defaults in worker.c stand in (no USB).
 */
#ifndef ROLLER_ZEPHYR_USB_BULK_H
#define ROLLER_ZEPHYR_USB_BULK_H

#include "roller/port.h"

/*
 * Registers the descriptors and the class and enables the device stack
 * (at once, or when VBUS appears on a controller that detects it). Call
 * once from main() after worker_init(). Returns 0, -ENOTSUP (this board has
 * no USB: the weak default), or the error of the USB device stack.
 */
int usb_bulk_init(void);

/*
 * The link port for the core while the USB link is open. notify() takes
 * any characteristic (CORE_CHAR_INFO too: the worker sends INFO first),
 * queues the frame for bulk IN and returns 0, -EAGAIN (queue full; the core
 * retries on the next poll, kicked when a transfer completes), -ENOTCONN
 * (link not open) or -EMSGSIZE. NULL on boards without USB.
 */
const struct port_link_ops *usb_bulk_link_ops(void);

#endif
