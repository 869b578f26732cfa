/*
 * The roller thread: owns the one struct core and is the only thread that
 * calls into it (the core is not re-entrant). Bluetooth callbacks, which run
 * in the host's threads, hand their events over with worker_post(); the
 * sample timer submits the sample work; TX completions call worker_kick().
 */
#ifndef ROLLER_ZEPHYR_WORKER_H
#define ROLLER_ZEPHYR_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest Control Point write passed to the core. The longest valid request
 * is 15 bytes; longer writes are refused at the ATT level. */
#define WORKER_CONTROL_MAX 32u

enum worker_event_kind {
	WORKER_CONNECTED,    /* bonded: the peer already has a bond with us */
	WORKER_DISCONNECTED,
	WORKER_SECURITY,     /* encrypted, bonded */
	WORKER_MTU,          /* mtu */
	WORKER_CONTROL,      /* data[0..len-1]: a Control Point write */
	WORKER_LINK_FREE,    /* the connection object is free: advertise again */
	WORKER_USB_OPEN,     /* usb_bulk.c: the host opened the USB link */
	WORKER_USB_CLOSE,    /* usb_bulk.c: the USB link went down */
	WORKER_USB_CONTROL   /* usb_bulk.c: data[0..len-1], one bulk OUT transfer */
};

struct worker_event {
	uint8_t kind; /* enum worker_event_kind */
	bool encrypted;
	bool bonded;
	uint8_t len;
	uint16_t mtu;
	uint8_t data[WORKER_CONTROL_MAX];
};

/*
 * Brings up the board sources (board.h), initialises the core and starts
 * the roller work queue. Call once from main() before ble_init().
 * Returns 0, -ENODEV (no force source) or the error of core_init().
 */
int worker_init(void);

/* Starts sampling and advertising. Call once after ble_init(). Returns 0. */
int worker_start(void);

/*
 * Queues an event for the core; any thread, never blocks. Returns 0, or
 * -ENOBUFS when the queue is full (the event is lost: callers that can
 * refuse, like a Control Point write, do so).
 */
int worker_post(const struct worker_event *ev);

/* Asks for a core_poll() now (a TX buffer or indication slot came free). */
void worker_kick(void);

/*
 * Copies the latest Info frame (refreshed by the roller thread after every
 * core call); any thread. Returns 0, -ENOBUFS (cap too small), -ENODATA
 * (the core is not initialised).
 */
int worker_read_info(uint8_t *out, size_t cap, size_t *written);

#endif
