/*
 * Host transports: where frames come from. A runtime vtable so that the coach,
 * the screen and the session log cannot tell a real roller over BlueZ, a USB
 * cable, the in-process simulated roller and a replayed session apart.
 *
 * All transports run on the caller's sd_event loop and never block it. Frames
 * are delivered to the events callbacks exactly as received (one protocol
 * frame per call, not yet decoded), in arrival order.
 *
 * Errors: 0 or a negative errno, as documented per op.
 */
#ifndef ROLLER_TRANSPORT_H
#define ROLLER_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "roller/rlog.h"

enum transport_state {
	TRANSPORT_CONNECTING = 1, /* looking for / connecting to the roller */
	TRANSPORT_CONNECTED = 2,  /* frames flow; control requests accepted */
	TRANSPORT_LINK_LOST = 3,  /* dropped; the transport is reconnecting by itself */
	TRANSPORT_ENDED = 4,      /* no more frames will come (replay end, sim done) */
	TRANSPORT_FAILED = 5      /* gave up; err says why */
};

/* What a transport tells its user. */
struct transport_events {
	/* One frame, as received, from channel ch. mono_us: host CLOCK_MONOTONIC
	 * at arrival (a replay passes the recorded value). */
	void (*frame)(void *userdata, enum rlog_channel ch, const uint8_t *buf,
		      size_t len, uint64_t mono_us);
	/* Link state changes. err is 0 or a -errno for FAILED / LINK_LOST;
	 * detail is a short human sentence with a hint, or NULL. */
	void (*state)(void *userdata, enum transport_state st, int err,
		      const char *detail);
	/* A recorded user input (enum coach_input) at its place in the frame
	 * stream. Only the replay transport calls it; may be NULL otherwise. */
	void (*input)(void *userdata, uint8_t input, uint64_t mono_us);
};

struct transport_options {
	const char *address;    /* bluez: roller address; NULL = default roller */
	const char *adapter;    /* bluez: "hci0"; NULL = default adapter */
	bool acquire_notify;    /* bluez: AcquireNotify instead of StartNotify */
	const char *path;       /* replay: the .rlog file */
	double speed;           /* sim/replay: 1.0 real time, N faster; 0 = as fast as possible */
	uint32_t seed;          /* sim: the simulated person's seed */
	uint16_t body_weight_dkg; /* sim: the simulated person's weight, 0.1 kg */
};

struct transport;

struct transport_ops {
	const char *name; /* "bluez", "sim", "replay", "usb" */

	/*
	 * Creates the transport on ev and starts connecting; progress is
	 * reported through events. Returns 0, -ENOMEM, -EINVAL, or a -errno
	 * from the backend (e.g. -ENOENT no such replay file, -EHOSTDOWN
	 * bluetoothd not running, -ENODEV no adapter).
	 */
	int (*create)(struct transport **out, sd_event *ev,
		      const struct transport_options *opt,
		      const struct transport_events *events, void *userdata);

	/*
	 * Writes one CONTROL_REQUEST frame to the roller's Control Point. The
	 * response arrives later as a frame on RLOG_CH_CONTROL. Returns 0,
	 * -ENOTCONN, -EBUSY (a request is outstanding), -EMSGSIZE, -EROFS
	 * (replay: the recorded session cannot be changed).
	 */
	int (*write_control)(struct transport *t, const uint8_t *buf, size_t len);

	/*
	 * Optional (NULL when meaningless): tells a simulated person what the
	 * coach just asked of them (enum coach_cue), so --sim follows the plan
	 * the way a person would. Real transports leave it NULL.
	 */
	void (*coach_cue)(struct transport *t, int cue);

	/* Negotiated ATT MTU (23 when unknown). */
	uint16_t (*mtu)(struct transport *t);

	/* Stops and frees; no callback is made after it returns. NULL is fine. */
	void (*destroy)(struct transport *t);
};

/* Looks a transport up by name ("sim", "replay", "bluez", "usb"); NULL if
 * this build has none of that name. */
const struct transport_ops *transport_find(const char *name);

#endif
