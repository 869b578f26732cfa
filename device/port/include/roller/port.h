/*
 * Roller firmware hardware seam.
 *
 * device/core talks to the hardware only through the ops structs below. A
 * board (device/zephyr, device/linux, the host's sim transport, the tests'
 * fakes) fills them in and hands them to core_init() in a struct core_ports.
 * The core never includes a vendor header.
 *
 * Rules shared by every ops struct:
 *  - Every struct carries a `void *ctx` that is passed back unchanged as the
 *    first argument of each op. The core never dereferences it.
 *  - Functions return 0 or a negative errno (see each op for the list); a
 *    value >= 0 is a result where the op says so.
 *  - Ops are called from the caller's context of core_on_*() / core_poll():
 *    never from an interrupt, never re-entrantly. An op must not call back
 *    into the core.
 *  - An ops pointer in struct core_ports may be NULL where marked optional;
 *    the core then reports the capability as absent (struct proto_info).
 *
 * Units: force in raw ADC counts (the core converts to decinewtons), angular
 * rate in milli-degrees per second, time in ticks of 1 ms (uint32_t, wraps
 * after ~49.7 days; compare with proto_seq_diff), battery in millivolts and
 * percent, flash offsets in bytes from the start of the storage area.
 */
#ifndef ROLLER_PORT_H
#define ROLLER_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Most load cells a board may sum (the core's state is sized for this). */
#define PORT_FORCE_MAX_CHANNELS 4u

/* ---- Force sensor (load cells behind a 24-bit ADC) ----------------------- */

/*
 * Sampling is driven by the board: when the ADC has a new conversion (data
 * ready interrupt -> work item, a timer, the simulated person), the board
 * reads every channel with read() and passes the counts to core_on_sample().
 * The core does not call read() itself (it is the board's); it uses the
 * channel count, period and rails below. Powering the bridge down while
 * asleep is the board's business (port_power_ops.sleep).
 */
struct port_force_ops {
	void *ctx;
	uint8_t channels;          /* load cells, 1..PORT_FORCE_MAX_CHANNELS */
	uint16_t sample_period_us; /* nominal conversion period, e.g. 12500 at 80 SPS; > 0 */
	int32_t rail_low;          /* lowest code the ADC produces (e.g. -8388608) */
	int32_t rail_high;         /* highest code (e.g. 8388607); > rail_low */

	/*
	 * Reads the latest conversion of every channel into counts[0..n-1].
	 * n is `channels`. Blocking for at most one conversion.
	 * Returns 0; -EAGAIN no new conversion since the last read; -EIO the
	 * ADC did not answer (the board then calls core_on_sample() with
	 * n_channels == 0 so that the core reports PROTO_ERR_SENSOR);
	 * -EINVAL n wrong.
	 */
	int (*read)(void *ctx, int32_t *counts, size_t n);
};

/* ---- Motion (gyroscope); optional: NULL ops = no IMU ---------------------- */

/*
 * With an IMU the core decides "still" from the rate about the roller's long
 * axis; without one it falls back to the variance of force over a short
 * window (PROTO_CAP_IMU clear).
 */
struct port_motion_ops {
	void *ctx;

	/*
	 * Reads the angular rate about the roller axis in milli-degrees per
	 * second (sign = direction of rolling; the core uses the magnitude).
	 * The board normally reads it next to the force sample and passes it
	 * to core_on_sample(). Returns 0, -EAGAIN (no new data), -EIO.
	 */
	int (*read_rate)(void *ctx, int32_t *mdps);

	/*
	 * Arms (enable = true) or disarms the IMU's wake-on-motion interrupt
	 * above threshold_mdps, used while the core sleeps. Optional (NULL:
	 * the board wakes on load only). Returns 0, -EIO, -ENOTSUP.
	 */
	int (*wake_on_motion)(void *ctx, bool enable, uint32_t threshold_mdps);
};

/* ---- Clock ------------------------------------------------------------------ */

struct port_clock_ops {
	void *ctx;

	/*
	 * Monotonic milliseconds since boot; wraps at 2^32. Never fails.
	 * Must not go backwards (except by wrapping). Wall-clock time is not a
	 * board matter: the host sets it with SET_CLOCK and the core keeps the
	 * offset.
	 */
	uint32_t (*now_ms)(void *ctx);
};

/* ---- Storage (internal NOR flash) ------------------------------------------- */

/*
 * A contiguous area of page_count pages of page_size bytes reserved for the
 * core (settings + session log). NOR semantics: erase sets every byte of a
 * page to 0xFF; write can only clear bits (1 -> 0); writing a byte twice
 * ANDs the values. A power cut during write() may leave any prefix of the
 * bytes written (the tests cut after every byte); a cut during erase()
 * leaves the page either fully erased or with its old contents (boards whose
 * erase can tear must say so; the core then sees a page header with a bad
 * CRC and erases the page again).
 * Requirements: page_size a power of two >= 512; page_count >= 4;
 * write_align a power of two in 1..16 dividing page_size.
 */
struct port_storage_ops {
	void *ctx;
	uint32_t page_size;   /* bytes, e.g. 4096 on nRF52 */
	uint32_t page_count;  /* pages in the area */
	uint32_t write_align; /* offset and length of write() multiples of this, e.g. 4 */

	/*
	 * Erases page `page` (0-based) to 0xFF. Slow (tens of ms): the core
	 * only erases from core_poll() or a control request, never from
	 * core_on_sample(). Returns 0, -EINVAL page out of range, -EIO.
	 */
	int (*erase)(void *ctx, uint32_t page);

	/*
	 * Programs len bytes at offset. offset and len are multiples of
	 * write_align and the range lies within one page. Returns 0,
	 * -EINVAL misaligned or out of range, -EIO (the core reports
	 * PROTO_ERR_STORAGE and counts it).
	 */
	int (*write)(void *ctx, uint32_t offset, const void *buf, size_t len);

	/*
	 * Reads len bytes at offset (any alignment, within the area).
	 * Returns 0, -EINVAL out of range, -EIO.
	 */
	int (*read)(void *ctx, uint32_t offset, void *buf, size_t len);
};

/* ---- Link (BLE GATT server, or USB acting as one) ---------------------------- */

/* Characteristic ids of the Roller service, as the core names them. */
enum core_char {
	CORE_CHAR_MEASUREMENT = 0, /* notify: MEASUREMENT frames (live and resent) */
	CORE_CHAR_EVENT = 1,       /* indicate: EVENT and SESSION frames */
	CORE_CHAR_CONTROL = 2,     /* indicate: CONTROL_RESPONSE frames */
	CORE_CHAR_LOG = 3,         /* notify: LOG_CHUNK frames */
	CORE_CHAR_INFO = 4         /* read only: core_read_info(); never notified */
};
#define CORE_CHAR_COUNT 5u

/*
 * The core learns about the link from core_on_connect(), core_on_mtu(),
 * core_on_security_changed() and core_on_disconnect(); those calls are the
 * truth at run time. The query ops are read once by core_init() so that a
 * core re-initialised while a link is up picks it up; they are optional.
 */
struct port_link_ops {
	void *ctx;

	/*
	 * Sends one frame (len <= current MTU - 3) as a notification
	 * (Measurement, Log) or an indication (Event, Control) on char_id.
	 * For an indication, the board queues it and sends the next one only
	 * after the peer's confirmation; it returns -EAGAIN while it cannot
	 * take another. The buffer may be reused as soon as the op returns.
	 * Returns:
	 *   0        accepted (will be sent; delivery not guaranteed)
	 *   -EAGAIN  no TX buffer now: the core keeps the frame and retries
	 *            from the next core_poll()
	 *   -ENOTCONN no link, or the peer has not enabled notifications /
	 *            indications on this characteristic: the core drops the
	 *            frame (the host backfills by sequence number)
	 *   -EMSGSIZE len does not fit the MTU (a core bug; the core drops
	 *            the frame and counts it as an error)
	 */
	int (*notify)(void *ctx, enum core_char char_id, const uint8_t *buf,
		      size_t len);

	/* Optional queries (see above). */
	uint16_t (*mtu)(void *ctx);      /* negotiated ATT MTU, 23..247 */
	bool (*connected)(void *ctx);
	bool (*encrypted)(void *ctx);
	bool (*bonded)(void *ctx);       /* the peer has a bond with us */
};

/* ---- Power ------------------------------------------------------------------ */

struct port_power_ops {
	void *ctx;

	/*
	 * Battery voltage in millivolts (>= 0), or -EIO / -ENODEV (no
	 * battery measurement). Called about once per
	 * core_config.battery_period_ms from core_poll().
	 */
	int (*battery_mv)(void *ctx);

	/*
	 * State of charge 0..100 for that voltage (the board knows its
	 * cell's discharge curve), or -EINVAL.
	 */
	int (*battery_percent)(void *ctx, uint16_t millivolts);

	/* True while on external power and charging. Optional (NULL: never). */
	bool (*charging)(void *ctx);

	/*
	 * The core decided to sleep (idle timeout when not connected, or the
	 * SLEEP opcode): the board lowers the sample rate or stops sampling,
	 * arms its wake sources (IMU motion, load, button) and may stop
	 * advertising or drop the link. While asleep the board may still call
	 * core_on_sample() (at any rate); the core watches for load or motion
	 * and calls wake(). A board wake source calls core_wake() instead.
	 * Returns 0 or -EIO (the core stays awake and retries after another
	 * timeout).
	 */
	int (*sleep)(void *ctx);

	/* Leave low power: full sample rate, advertise. Returns 0 or -EIO. */
	int (*wake)(void *ctx);
};

/* The set handed to core_init(). force, clock and link are required;
 * motion, storage and power are optional (NULL). */
struct core_ports {
	const struct port_force_ops *force;
	const struct port_motion_ops *motion;
	const struct port_clock_ops *clock;
	const struct port_storage_ops *storage;
	const struct port_link_ops *link;
	const struct port_power_ops *power;
};

#ifdef __cplusplus
}
#endif
#endif
