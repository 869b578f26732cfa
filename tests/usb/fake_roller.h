/*
 * A roller in the test process: the real device core with a RAM NOR flash,
 * a clock the test advances, a load-cell port the test drives, and a link
 * port that queues what the core sends. Shared by the sync engine tests
 * (through fake_transport.h), the umockdev emulator and the benchmark.
 *
 * Sessions are recorded as on a real roller with no laptop around: the
 * core starts one on contact (auto_session) and ends it auto_stop_s after
 * the person gets off; or, with a region, through START/STOP_SESSION from a
 * host that then goes away.
 */
#ifndef ROLLER_TEST_FAKE_ROLLER_H
#define ROLLER_TEST_FAKE_ROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roller/core.h"
#include "roller/protocol.h"

#define FAKE_ROLLER_PAGE 4096u
#define FAKE_ROLLER_PAGES 64u
#define FAKE_ROLLER_QUEUE 128u
#define FAKE_ROLLER_PERIOD_US 20000u /* 50 Hz */

struct fake_roller_frame {
	uint8_t ch; /* enum core_char */
	uint8_t len;
	uint8_t buf[PROTO_FRAME_MAX];
};

struct fake_roller_record {
	uint32_t number;
	uint16_t len;
	uint8_t data[PROTO_FRAME_ABS_MAX];
};

struct fake_roller {
	struct core core;
	struct core_config cfg;
	struct port_force_ops force;
	struct port_clock_ops clock;
	struct port_storage_ops storage;
	struct port_link_ops link;
	struct core_ports ports;
	uint8_t flash[FAKE_ROLLER_PAGE * FAKE_ROLLER_PAGES];
	uint64_t now_us;
	int32_t counts;
	bool connected;
	uint16_t mtu;
	uint32_t rng;
	uint8_t token;
	struct fake_roller_frame queue[FAKE_ROLLER_QUEUE];
	size_t head, n;
	/* Power cut (fake_roller_power_cut): the next flash write stores only
	 * its first tear_keep bytes, and nothing is written after it. */
	bool tear_armed, powered_off;
	uint32_t tear_keep;
};

/* Erased flash, core started (device_id, 50 Hz, one cell, no IMU, no sleep,
 * auto sessions that stop 3 s after the person gets off). Returns 0 or the
 * core_init() error. */
int fake_roller_init(struct fake_roller *r, uint32_t device_id);

/* One sample with this force (dN); advances the clock one period, polls. */
void fake_roller_sample(struct fake_roller *r, int32_t force_dn);

/*
 * Records one session of about `seconds` of pressing (holds of ~4 s with
 * short breaks, force noise from seed). region 0: an automatic session
 * (nobody connected); else a host starts it with that region, then leaves.
 * Returns 0 or -EIO (the core did not record it).
 */
int fake_roller_record(struct fake_roller *r, uint8_t region, unsigned seconds, uint32_t seed);

/*
 * A session that a power cut ends: presses for `seconds` (an automatic
 * session), then the power goes while the core writes the flash: that
 * write keeps only its first keep_bytes (rounded down to the flash's write
 * unit), the rest of it and everything after stays erased. The roller then
 * boots again on that flash. Returns 0, or -EIO when no write came.
 */
int fake_roller_power_cut(struct fake_roller *r, unsigned seconds, uint32_t keep_bytes,
			  uint32_t seed);

/* Link events as the glue would give them: connected + encrypted + bonded
 * at mtu (USB: 247). */
void fake_roller_connect(struct fake_roller *r, uint16_t mtu);
void fake_roller_disconnect(struct fake_roller *r);

/* A Control Point write, then a poll. Returns core_on_control_write(). */
int fake_roller_write(struct fake_roller *r, const uint8_t *buf, size_t len);

/* Advances the clock by ms (no samples) and polls: the core sends what it
 * can. Returns the number of frames waiting. */
size_t fake_roller_poll(struct fake_roller *r, uint32_t advance_ms);

/* Takes the oldest frame the core sent. Returns false when none. */
bool fake_roller_pop(struct fake_roller *r, struct fake_roller_frame *f);

/* The INFO frame (what a read of the Info characteristic returns). */
int fake_roller_info(struct fake_roller *r, uint8_t *buf, size_t cap, size_t *len);

/*
 * The ground truth: every record the log holds, read by a second core
 * booted on a copy of the flash, through one uninterrupted LOG_READ at MTU
 * 247. Returns the number of records (<= max), or -errno.
 */
int fake_roller_read_log(const struct fake_roller *r, struct fake_roller_record *out, size_t max);

/* LOG_INFO of the core: [*first, *end). */
void fake_roller_log_info(const struct fake_roller *r, uint32_t *first, uint32_t *end);

#endif
