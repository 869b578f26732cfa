/*
 * Roller device core: the portable firmware logic.
 *
 * Calibration and tare, filtering, contact + stillness -> hold detection,
 * sample batching for BLE, the session log in flash, the control point, and
 * the battery / sleep policy. Pure C99: no allocation, no globals, no stdio.
 * The application (device/zephyr, device/linux, the host's sim transport,
 * the tests) owns the one struct core and the ports it talks through
 * (roller/port.h).
 *
 * Calling model (single-threaded; the core is not re-entrant):
 *   core_init()              once, after the ports are ready
 *   core_on_sample()         at the sample rate, from thread context
 *   core_poll()              after every core_on_sample(), after every link
 *                            event or TX completion, and at the latest when
 *                            the value it returned has elapsed
 *   core_on_connect() ...    from the link callbacks
 *   core_on_control_write()  for each write to the Control Point
 *   core_read_info()         for each read of the Info characteristic
 * Nothing here blocks except storage ops (flash erase/write), which the
 * core only performs from core_poll(), core_init() and control requests.
 *
 * Errors: functions return 0 or a negative errno as documented; the wire
 * status of control responses is derived from those in exactly one place
 * (proto_status_from_errno).
 */
#ifndef ROLLER_CORE_H
#define ROLLER_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roller/port.h"
#include "roller/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Firmware version reported in Info / VERSION unless the config overrides. */
#define CORE_FW_MAJOR 0u
#define CORE_FW_MINOR 1u
#define CORE_FW_PATCH 0u

/* gyro_mdps value meaning "no IMU reading for this sample". */
#define CORE_GYRO_ABSENT INT32_MIN

/*
 * Configuration. Start from core_config_defaults() and change what the board
 * knows better. Times are in ms unless the name says otherwise; forces in
 * decinewtons (dN, 0.1 N).
 */
struct core_config {
	/* Identity (Info, VERSION). */
	uint32_t device_id;
	uint8_t fw_major, fw_minor, fw_patch;
	/* Extra PROTO_CAP_* bits the board adds (USB, SIMULATED). IMU, LOG,
	 * RESEND and BATTERY are derived from the ports. */
	uint16_t capabilities;

	/* Force conversion before CALIBRATE: micro-newtons per count of the
	 * channel sum (default 2500 = 400 counts/N, the simulated person's). */
	int32_t default_scale_unpc;
	uint16_t full_scale_dn;   /* largest force reported (Info), default 20000 */

	/* Signal conditioning. */
	uint8_t filter_shift;     /* single-pole IIR y += (x - y) / 2^shift; 0 = off; 0..7 */
	bool spike_median;        /* median of 3 before the IIR (spike rejection) */
	uint16_t stuck_samples;   /* identical raw code this many samples in a row =
				   * disconnected cell; 0 = never */
	uint16_t recover_samples; /* good samples that end a saturation/disconnect episode */

	/* Stillness. */
	uint32_t still_mdps;      /* |gyro| below this = still (default 8000) */
	uint32_t still_var_dn2;   /* no IMU: force variance over 16 samples below this
				   * (dN^2) = still (default 900, i.e. 3 N rms) */
	uint8_t still_samples;    /* consecutive still samples before "still" (debounce) */

	/* Hold detection defaults (replaced by SET_HOLD, persisted in flash). */
	struct proto_hold_params hold;

	/* Calibration. */
	uint16_t tare_samples;    /* averaged for TARE and CALIBRATE, 1..1024 */

	/* Streaming. */
	uint16_t batch_ms;        /* a batch is sent at the latest this long after its
				   * first sample; 1..1000, default 100 */

	/* Sessions recorded without a host. */
	bool auto_session;        /* start a session on contact while no host is connected */
	uint16_t auto_stop_s;     /* end an automatic session after this long without contact */

	/* Power. */
	uint16_t sleep_timeout_s; /* idle time before sleep when not connected; 0 = never
				   * (replaced by SET_SLEEP_TIMEOUT, persisted) */
	uint32_t battery_period_ms;
	uint8_t battery_low_pct;  /* BATTERY_LOW at or below this */
	uint8_t battery_hyst_pct; /* cleared at battery_low_pct + this */
	uint32_t wake_mdps;       /* asleep: |gyro| above this wakes (default 30000) */

	/* Index of the first sample after init (0 on a device; tests start
	 * near the 32-bit wrap). */
	uint32_t first_sample;
};

/* Fills *cfg with the defaults documented in device/README.md. */
void core_config_defaults(struct core_config *cfg);

/* Counters for diagnostics (the wire carries a subset in COUNTERS events). */
struct core_counters {
	uint32_t samples;           /* samples processed since init */
	uint32_t samples_dropped;   /* live samples dropped from the full TX queue */
	uint32_t events_dropped;    /* events dropped from the full event queue */
	uint32_t responses_dropped; /* control responses dropped (host wrote too fast) */
	uint32_t sessions_recycled; /* sessions whose start was erased to make room */
	uint32_t rx_errors;         /* malformed or unknown control requests */
	uint32_t storage_errors;    /* flash ops that returned an error */
	uint32_t sensor_errors;     /* core_on_sample() calls without data */
	uint32_t notify_errors;     /* notify() errors other than -EAGAIN/-ENOTCONN */
	uint32_t log_records;       /* log records written since init */
	uint32_t log_samples_lost;  /* samples not logged (history overran the log) */
};

/* The full state. Its members are private (see roller/core_state.h); the
 * application only allocates it (statically) and passes it to core_*(). */
#include "roller/core_state.h"

/*
 * Initialises *c: reads settings (calibration, hold params, sleep timeout)
 * and recovers the session log from storage, closing a session left open by
 * a power cut. Never fails on storage contents: a bad calibration CRC gives
 * PROTO_CAL_INVALID and an ERROR event; unreadable flash an ERROR event.
 * Returns 0, or -EINVAL (NULL argument, a required port missing, an ops
 * struct or config value out of the documented range).
 */
int core_init(struct core *c, const struct core_ports *ports,
	      const struct core_config *cfg);

/*
 * One conversion: counts[0..n_channels-1] raw ADC counts (n_channels must be
 * the force port's `channels`; 0 with counts == NULL reports a sensor
 * failure), gyro_mdps the roller-axis rate or CORE_GYRO_ABSENT. Reads the
 * clock once. Never blocks, never touches flash, may call notify() only
 * through core_poll(). While asleep only watches for wake conditions.
 */
void core_on_sample(struct core *c, const int32_t *counts, size_t n_channels,
		    int32_t gyro_mdps);

/*
 * Housekeeping at now_ms (the clock port's time): flushes a batch older than
 * batch_ms, sends queued frames until the link says -EAGAIN, writes pending
 * log records, advances a log transfer or resend, reads the battery, applies
 * the sleep policy. Returns the ms after which it wants to run again at the
 * latest (UINT32_MAX: only on the next sample or link event).
 */
uint32_t core_poll(struct core *c, uint32_t now_ms);

/*
 * Link events. peer_bonded: the connecting peer already has a bond with us
 * (a bonded reconnect): the core then sends nothing until
 * core_on_security_changed(encrypted=true) (BlueZ pitfall 10). The MTU is
 * 23 until core_on_mtu(). USB glue: connect(false) + security(true, true).
 */
void core_on_connect(struct core *c, bool peer_bonded);
void core_on_disconnect(struct core *c);
void core_on_security_changed(struct core *c, bool encrypted, bool bonded);
void core_on_mtu(struct core *c, uint16_t mtu);

/*
 * A write to the Control Point. Always answered with one CONTROL_RESPONSE
 * on CORE_CHAR_CONTROL (queued; sent by core_poll()); TARE and CALIBRATE
 * answer after tare_samples samples. A malformed, unknown or unauthorised
 * request changes no device state; malformed and unknown ones count in
 * rx_errors and raise an ERROR (BAD_FRAME) event. Returns 0, or -EINVAL for
 * a NULL buffer.
 */
int core_on_control_write(struct core *c, const uint8_t *buf, size_t len);

/* Encodes the INFO frame. Returns 0, -EINVAL, -ENOBUFS. */
int core_read_info(const struct core *c, uint8_t *out, size_t cap,
		   size_t *written);

/* A board wake source fired (button, IMU interrupt). No-op when awake. */
void core_wake(struct core *c);

/* ---- Read-only views (applications, tests) -------------------------------- */

void core_counters(const struct core *c, struct core_counters *out);
enum proto_hold_state core_hold_state(const struct core *c);
enum proto_calibration core_calibration(const struct core *c);
void core_hold_params(const struct core *c, struct proto_hold_params *out);
bool core_sleeping(const struct core *c);
/* True while a session is recorded; *id gets its id (may be NULL). */
bool core_session_active(const struct core *c, uint16_t *id);
/* Latest filtered force in dN (PROTO_FORCE_INVALID / _SATURATED possible). */
int16_t core_force(const struct core *c);
/* Index the next sample will get. */
uint32_t core_next_sample(const struct core *c);
/* Log extent: records [*first, *end) are held; *sessions session starts
 * among them. Returns 0, or -ENODEV without usable storage. */
int core_log_info(const struct core *c, uint32_t *first, uint32_t *end,
		  uint16_t *sessions);
/* Battery as last read: returns 0, or -ENODEV without a power port. */
int core_battery(const struct core *c, uint16_t *millivolts, uint8_t *percent);

#ifdef __cplusplus
}
#endif
#endif
