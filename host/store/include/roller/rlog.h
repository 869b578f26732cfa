/*
 * Session log files (.rlog): every frame exactly as it arrived, with host
 * timestamps, so that a replay re-decodes what was received, bugs included.
 * Format: host/store/README.md.
 *
 * Writing is append-only and crash-safe: each record carries its length and a
 * CRC-32; a torn tail (power cut, kill -9 during write) is detected by the
 * reader and reported, never mistaken for data. Files are created 0600.
 *
 * Errors: functions return 0 or a negative errno, as documented per function.
 */
#ifndef ROLLER_RLOG_H
#define ROLLER_RLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RLOG_MAGIC "RLOG"
#define RLOG_FORMAT_VERSION 1u
#define RLOG_RECORD_MAX 1024u /* largest record payload */

enum rlog_kind {
	RLOG_FRAME_IN = 1,  /* a frame received from the roller */
	RLOG_FRAME_OUT = 2, /* a frame sent to the roller */
	RLOG_NOTE = 3,      /* host annotation: UTF-8 text, e.g. "disconnected" */
	RLOG_INPUT = 4      /* a user input to the coach: 1 byte, enum coach_input */
};

/* Which characteristic/channel a frame came through (informational). */
enum rlog_channel {
	RLOG_CH_NONE = 0,
	RLOG_CH_MEASUREMENT = 1,
	RLOG_CH_EVENT = 2,
	RLOG_CH_CONTROL = 3,
	RLOG_CH_LOG = 4,
	RLOG_CH_INFO = 5
};

/* The session header: what a reader needs to interpret the frames. */
struct rlog_header {
	uint64_t created_unix_ms; /* wall clock at creation */
	char roller_id[32];       /* address or "sim:<seed>"; NUL-terminated */
	char transport[16];       /* "bluez", "sim", "usb", "replay" */
	uint8_t fw_major, fw_minor, fw_patch;
	uint8_t proto_major, proto_minor;
	uint8_t region;            /* enum proto_region */
	uint8_t calibration;       /* enum proto_calibration */
	uint16_t sample_period_us;
	uint16_t body_weight_dkg;  /* body weight in 0.1 kg, 0 = unknown */
	/* The plan in force at the start (overrides applied). */
	uint16_t plan_hold_s;
	uint16_t plan_rest_s;
	uint8_t plan_reps;
	uint16_t band_low_dn, band_high_dn;
	uint16_t grace_ms;
};

struct rlog_record {
	uint8_t kind;      /* enum rlog_kind */
	uint8_t channel;   /* enum rlog_channel */
	uint64_t mono_us;  /* host CLOCK_MONOTONIC, microseconds */
	uint64_t wall_ms;  /* host CLOCK_REALTIME, milliseconds since the epoch */
	uint16_t len;
	const uint8_t *data; /* points into the reader's buffer */
};

/* ---- Writer ---- */

struct rlog_writer {
	int fd;
	uint64_t last_sync_us; /* mono time of the last fsync */
	uint64_t sync_interval_us;
	uint64_t records;
	uint64_t bytes;
	int error; /* first write error, sticky */
};

/*
 * Creates the directory dir (mode 0700, parents too) if missing, and a new
 * file dir/name (O_EXCL, mode 0600), then writes the header and fsyncs.
 * Returns 0, -EEXIST, -EACCES/-EROFS (unwritable), -ENOSPC, -EINVAL,
 * or another -errno from the system. On error no file is left behind.
 */
int rlog_writer_create(struct rlog_writer *w, const char *dir, const char *name,
		       const struct rlog_header *h);

/*
 * Appends one record. The data reaches the kernel before this returns (a
 * kill -9 afterwards loses nothing); it is fsynced when sync_interval_us has
 * passed since the last fsync (default 1 s), so a power cut loses at most
 * that much. Returns 0, -EINVAL (len > RLOG_RECORD_MAX), -ENOSPC, -EIO, or
 * the first error seen earlier (writing stops at the first error, and the
 * file stays readable up to the last complete record).
 */
int rlog_writer_append(struct rlog_writer *w, const struct rlog_record *r);

/* Fsyncs and closes. Returns 0 or the first error seen. Safe to call twice. */
int rlog_writer_close(struct rlog_writer *w);

/* ---- Reader ---- */

struct rlog_reader {
	uint8_t *buf; /* the whole file, read at open */
	size_t len;
	size_t pos;
	struct rlog_header header;
	bool torn;          /* the file ends in an incomplete record */
	size_t torn_offset; /* where the incomplete record starts */
	uint64_t records;   /* records returned so far */
};

/*
 * Opens and reads a log. Returns 0, -ENOENT, -EACCES, -EISDIR, -ENOMEM,
 * -EFBIG (over 1 GiB), -EBADMSG (not a session log, or a damaged header),
 * -EPROTONOSUPPORT (a newer format version).
 */
int rlog_reader_open(struct rlog_reader *r, const char *path);

/*
 * Same, from a caller-owned buffer (copied). Used by tests and the fuzzer.
 */
int rlog_reader_open_buffer(struct rlog_reader *r, const uint8_t *buf, size_t len);

/*
 * Next record. Returns 1 with *rec filled, 0 at the end (check r->torn for a
 * torn tail), -EBADMSG for a damaged record in the middle of the file (bad
 * CRC with more data after it): the reader stops there; r->pos tells where.
 */
int rlog_reader_next(struct rlog_reader *r, struct rlog_record *rec);

void rlog_reader_close(struct rlog_reader *r);

/* A printable description of an rlog error for the CLI, never NULL. */
const char *rlog_strerror(int err);

#endif
