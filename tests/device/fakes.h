/*
 * Fakes of the firmware ports (roller/port.h) and a test rig around one
 * struct core. Everything goes through the public seams: the tests script
 * forces, link events and control requests, and look at the frames the core
 * sends and the bytes it leaves in the fake flash.
 */
#ifndef ROLLER_TEST_DEVICE_FAKES_H
#define ROLLER_TEST_DEVICE_FAKES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roller/core.h"
#include "roller/protocol.h"

/* ---- clock ---- */
struct fake_clock {
	uint32_t now;
};
void fake_clock_ops(struct fake_clock *f, struct port_clock_ops *ops);

/* ---- flash: NOR semantics, power cut after a byte budget ---- */
#define FAKE_FLASH_MAX (64u * 1024u)
/* The journal: every write and erase in order, with the bytes written. */
#define FAKE_JOURNAL_OPS 16384u
#define FAKE_JOURNAL_BYTES (1024u * 1024u)
struct fake_flash_op {
	bool erase;
	bool complete;   /* all bytes applied (false: the cut hit this write) */
	uint32_t offset; /* write: flash offset; erase: page * page_size */
	uint32_t len;
	uint32_t data;   /* write: offset of the bytes in fake_flash_journal_bytes() */
};
struct fake_flash {
	uint8_t mem[FAKE_FLASH_MAX];
	uint32_t page_size, page_count, align;
	uint64_t bytes_written;  /* bytes applied so far (all writes) */
	uint64_t cut_after;      /* stop applying after this many bytes (UINT64_MAX: never) */
	bool cut;                /* the budget ran out: power is gone */
	unsigned writes, erases, reads;
	int fail_write;          /* nonzero: write() returns this */
	int fail_erase;
	bool journal;            /* keep the journal (reset by fake_flash_init) */
	size_t ops;              /* journal entries */
	uint32_t arena_used;
};
/* Journal entries and bytes (static storage in fakes.c). */
struct fake_flash_op *fake_flash_journal(void);
const uint8_t *fake_flash_journal_bytes(void);
void fake_flash_init(struct fake_flash *f, uint32_t page_size, uint32_t pages,
		     uint32_t align);
void fake_flash_ops(struct fake_flash *f, struct port_storage_ops *ops);

/* ---- link: records every frame sent ---- */
#define FAKE_LINK_MAX_FRAMES 8192u
struct fake_frame {
	uint8_t ch; /* enum core_char */
	uint8_t len;
	uint8_t buf[PROTO_FRAME_MAX];
};
struct fake_link {
	struct fake_frame *frames; /* FAKE_LINK_MAX_FRAMES, static in fakes.c */
	size_t n;
	size_t dropped;           /* beyond FAKE_LINK_MAX_FRAMES */
	uint16_t mtu;
	bool busy;                /* notify() answers -EAGAIN */
	bool busy_char[CORE_CHAR_COUNT]; /* -EAGAIN on that char only */
	int accept_budget;        /* >= 0: accept this many, then -EAGAIN */
	int per_poll;             /* > 0: rig_poll() sets accept_budget to this
				   * first (a link that takes per_poll
				   * notifications between two polls) */
	bool unsubscribed[CORE_CHAR_COUNT]; /* -ENOTCONN on that char */
	unsigned calls;
	bool oversize;            /* a frame longer than MTU - 3 was offered */
};
void fake_link_init(struct fake_link *f);
void fake_link_ops(struct fake_link *f, struct port_link_ops *ops);
void fake_link_clear(struct fake_link *f);

/* ---- power ---- */
struct fake_power {
	int millivolts;
	int percent;
	bool charging;
	unsigned sleeps, wakes;
	int fail_sleep;
};
void fake_power_ops(struct fake_power *f, struct port_power_ops *ops);

/* ---- motion ---- */
struct fake_motion {
	bool armed;
	uint32_t threshold;
};
void fake_motion_ops(struct fake_motion *f, struct port_motion_ops *ops);

/* ---- rig ---- */
struct rig_options {
	uint8_t channels;        /* default 2 */
	uint16_t period_us;      /* default 12500 (80 SPS) */
	bool imu;                /* default true */
	bool storage;            /* default true */
	bool power;              /* default true */
	uint32_t page_size;      /* default 1024 */
	uint32_t pages;          /* default 16 */
	uint32_t align;          /* default 4 */
};
void rig_options_default(struct rig_options *o);

struct rig {
	struct rig_options opt;
	struct core core;
	struct core_config cfg;
	struct fake_clock clock;
	struct fake_flash *flash;  /* static in fakes.c, shared by re-inits */
	struct fake_link link;
	struct fake_power power;
	struct fake_motion motion;
	struct port_force_ops force_ops;
	struct port_clock_ops clock_ops;
	struct port_storage_ops flash_ops;
	struct port_link_ops link_ops;
	struct port_power_ops power_ops;
	struct port_motion_ops motion_ops;
	struct core_ports ports;
	int32_t offset[PORT_FORCE_MAX_CHANNELS]; /* zero-load counts per channel */
	uint32_t sample_no;
	uint8_t token;
	unsigned poll_every;       /* > 1: rig_sample*() polls after every
				    * poll_every-th sample only (a board that
				    * polls less often than it samples) */
	unsigned unpolled;         /* samples since the last such poll */
};

/* Sets up fakes and a config (core_config_defaults, stuck detection off,
 * filter off, median off so that forces are exact). Does not init the core:
 * tweak r->cfg, then rig_start(). flash is erased unless keep_flash. */
void rig_setup(struct rig *r, const struct rig_options *o, bool keep_flash);
/* core_init; asserts success. */
void rig_start(struct rig *r);
/* Re-inits the core on the same flash (a reboot). */
void rig_reboot(struct rig *r);

/* One sample of total force dn (decinewtons, through the default scale)
 * and gyro (mdps, or CORE_GYRO_ABSENT); advances the clock by one period
 * (rounded down to ms, with the remainder carried) and polls the core
 * (see poll_every). */
void rig_sample(struct rig *r, int32_t dn, int32_t gyro);
/* n identical samples. */
void rig_samples(struct rig *r, size_t n, int32_t dn, int32_t gyro);
/* Raw counts variant (exact, no conversion). */
void rig_sample_counts(struct rig *r, const int32_t *counts, int32_t gyro);
/* Advance the clock without samples and poll. */
void rig_idle_ms(struct rig *r, uint32_t ms);
void rig_poll(struct rig *r);

/* Connect, secure (encrypted + bonded), set MTU, poll. */
void rig_connect(struct rig *r, uint16_t mtu);

/* Sends a request (token assigned here), polls, returns the decoded
 * response in *rsp (if not NULL) and its status; -1 if none came. */
int rig_request(struct rig *r, struct proto_control_request *q,
		struct proto_control_response *rsp);
/* Sends raw bytes to the control point; returns the status of the response
 * that came, -1 if none. */
int rig_request_raw(struct rig *r, const uint8_t *buf, size_t len,
		    struct proto_control_response *rsp);

/* Decoded views of what the link carried since the last clear. */
size_t rig_events(struct rig *r, uint8_t kind, struct proto_event *out, size_t max);
size_t rig_measurements(struct rig *r, struct proto_measurement *out, size_t max);
size_t rig_sessions(struct rig *r, struct proto_session *out, size_t max);

/* Reads log records [first, end) through LOG_READ + LOG_CHUNK; stores each
 * record's frame bytes into recs[i] (PROTO_FRAME_MAX each), their numbers in
 * nums, lengths in lens. Returns the number of records, or -status. */
#define RIG_MAX_RECORDS 512u
int rig_read_log(struct rig *r, uint32_t first, uint16_t count,
		 uint8_t (*recs)[PROTO_FRAME_MAX], uint32_t *nums, uint8_t *lens,
		 size_t max);

#endif
