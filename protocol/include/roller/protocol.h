/*
 * Roller wire protocol, version 1: frames shared by the firmware and the host.
 *
 * The normative specification, with byte tables, is protocol/README.md. This
 * header is its C binding. Everything here is pure C99: no allocation, no I/O,
 * no global state. Every decoder takes (buf, len) and never reads past len;
 * every encoder takes an output capacity and never writes past it.
 *
 * Error model: functions return 0 on success or a negative errno:
 *   -EINVAL           a NULL pointer or an argument the caller must not pass
 *   -EBADMSG          malformed input: too short, length field disagrees with
 *                     the buffer, trailing bytes, a field outside its range
 *   -EPROTONOSUPPORT  the frame's version byte is not PROTO_VERSION
 *   -ENOMSG           unknown frame type, or unknown event kind
 *   -EOPNOTSUPP       unknown control opcode
 *   -ENOBUFS          (encoders) the output capacity is too small
 *   -ERANGE           (encoders) a value cannot be represented (e.g. a batch
 *                     with 0 samples or more than PROTO_BATCH_MAX_SAMPLES)
 *   -EAGAIN           (proto_frame_peek only) more bytes are needed
 * On error, output structures may be partly written and must not be used;
 * *written is left untouched.
 */
#ifndef ROLLER_PROTOCOL_H
#define ROLLER_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Versions and sizes ------------------------------------------------ */

#define PROTO_VERSION 1u        /* major: the version byte of every frame */
#define PROTO_VERSION_MINOR 0u  /* reported in Info; additions only */

#define PROTO_HEADER_SIZE 3u    /* version, type, payload length */
#define PROTO_ATT_OVERHEAD 3u   /* ATT opcode + handle in a notification */
#define PROTO_MTU_MIN 23u
#define PROTO_MTU_MAX 247u
/* Largest frame on BLE: one notification at the largest ATT MTU. */
#define PROTO_FRAME_MAX (PROTO_MTU_MAX - PROTO_ATT_OVERHEAD) /* 244 */
/* Largest frame the length byte can describe (USB framing may use it). */
#define PROTO_FRAME_ABS_MAX (PROTO_HEADER_SIZE + 255u)

/* One device tick is one millisecond; tick counters are 32 bits and wrap. */
#define PROTO_TICK_HZ 1000u

/* Force: signed 16-bit, 0.1 N per LSB ("decinewtons"), -3276.7..+3276.6 N. */
#define PROTO_FORCE_DN_PER_N 10
#define PROTO_FORCE_INVALID INT16_MIN   /* no reading: cell fault */
#define PROTO_FORCE_SATURATED INT16_MAX /* at or above full scale */
#define PROTO_FORCE_MAX_DN (INT16_MAX - 1)
#define PROTO_FORCE_MIN_DN (INT16_MIN + 1)

/* ---- GATT identifiers ----------------------------------------------------- */

/*
 * The Roller service and its characteristics share one 128-bit base; the
 * first 32-bit field is PROTO_UUID_W0 + enum proto_gatt_id. The five fields
 * below are in the order of the textual form (and of Zephyr's
 * BT_UUID_128_ENCODE), the strings are what BlueZ shows.
 */
#define PROTO_UUID_W0 0x7e3a1000u
#define PROTO_UUID_W1 0x5c2bu
#define PROTO_UUID_W2 0x4d8eu
#define PROTO_UUID_W3 0x9f41u
#define PROTO_UUID_W4 0x3b6c2a1d0e01ull

enum proto_gatt_id {
	PROTO_GATT_SERVICE = 0,
	PROTO_GATT_MEASUREMENT = 1, /* notify */
	PROTO_GATT_EVENT = 2,       /* indicate */
	PROTO_GATT_CONTROL = 3,     /* write (encrypted, bonded) + indicate */
	PROTO_GATT_LOG = 4,         /* notify (encrypted) */
	PROTO_GATT_INFO = 5         /* read */
};

#define PROTO_UUID_SERVICE "7e3a1000-5c2b-4d8e-9f41-3b6c2a1d0e01"
#define PROTO_UUID_MEASUREMENT "7e3a1001-5c2b-4d8e-9f41-3b6c2a1d0e01"
#define PROTO_UUID_EVENT "7e3a1002-5c2b-4d8e-9f41-3b6c2a1d0e01"
#define PROTO_UUID_CONTROL "7e3a1003-5c2b-4d8e-9f41-3b6c2a1d0e01"
#define PROTO_UUID_LOG "7e3a1004-5c2b-4d8e-9f41-3b6c2a1d0e01"
#define PROTO_UUID_INFO "7e3a1005-5c2b-4d8e-9f41-3b6c2a1d0e01"

/* ---- Frame types ---------------------------------------------------------- */

enum proto_type {
	PROTO_TYPE_MEASUREMENT = 0x01,      /* Measurement char, notify */
	PROTO_TYPE_EVENT = 0x02,            /* Event char, indicate */
	PROTO_TYPE_CONTROL_REQUEST = 0x03,  /* Control Point, write */
	PROTO_TYPE_CONTROL_RESPONSE = 0x04, /* Control Point, indicate */
	PROTO_TYPE_LOG_CHUNK = 0x05,        /* Log char, notify */
	PROTO_TYPE_INFO = 0x06,             /* Info char, read */
	PROTO_TYPE_SESSION = 0x07           /* Event char and device log */
};

struct proto_header {
	uint8_t version;
	uint8_t type;   /* enum proto_type (not checked by the header decoder) */
	uint8_t length; /* payload bytes after the header */
};

/*
 * Splits a byte stream into frames (USB, session logs). Looks at the header
 * at buf and reports the whole frame size in *frame_size.
 * Returns 0, -EAGAIN if fewer than PROTO_HEADER_SIZE bytes or fewer than the
 * frame's size are present, -EPROTONOSUPPORT for a wrong version byte,
 * -EINVAL for NULL arguments. The type is not checked.
 */
int proto_frame_peek(const uint8_t *buf, size_t len, size_t *frame_size);

/*
 * Decodes the header of exactly one frame: len must equal
 * PROTO_HEADER_SIZE + hdr->length. Returns 0, -EINVAL, -EBADMSG (too short
 * or a length that disagrees with len), -EPROTONOSUPPORT.
 */
int proto_header_decode(const uint8_t *buf, size_t len, struct proto_header *hdr);

/* ---- Measurement batch ---------------------------------------------------- */

/* Batch flags */
#define PROTO_MEAS_CALIBRATED 0x01u /* forces are calibrated newtons */
#define PROTO_MEAS_RECORDING 0x02u  /* a session is being recorded */
#define PROTO_MEAS_CONTACT 0x04u    /* force above the contact threshold at the end */
#define PROTO_MEAS_RESENT 0x08u     /* re-sent on request (gap fill), not live */
#define PROTO_MEAS_FLAGS_KNOWN 0x0Fu

#define PROTO_MEAS_FIXED_SIZE 10u /* first_sample, time, flags, count */
/* Largest batch in one frame of PROTO_FRAME_MAX bytes. */
#define PROTO_BATCH_MAX_SAMPLES 108u
#define PROTO_STILL_BYTES ((PROTO_BATCH_MAX_SAMPLES + 7u) / 8u)

struct proto_measurement {
	uint32_t first_sample; /* index of force[0]; +1 per sample; wraps */
	uint32_t time;         /* device ticks at force[0]; wraps */
	uint8_t flags;         /* PROTO_MEAS_* ; unknown bits are an error */
	uint8_t count;         /* 1..PROTO_BATCH_MAX_SAMPLES */
	uint8_t still[PROTO_STILL_BYTES]; /* bit i (LSB first): sample i still */
	int16_t force[PROTO_BATCH_MAX_SAMPLES]; /* decinewtons */
};

/* Bytes the frame of a batch of n samples takes, header included. */
size_t proto_measurement_size(size_t n);

/*
 * How many samples fit in one Measurement notification at this ATT MTU
 * (the value is MTU - 3 bytes). MTUs above PROTO_MTU_MAX count as
 * PROTO_MTU_MAX. Returns 0 when mtu < PROTO_MTU_MIN.
 */
size_t proto_measurement_capacity(uint16_t mtu);

bool proto_measurement_is_still(const struct proto_measurement *m, size_t i);
void proto_measurement_set_still(struct proto_measurement *m, size_t i, bool still);

/* Encodes; *written gets the frame size. Returns 0, -EINVAL, -ERANGE (count
 * 0 or too large, unknown flag bits), -ENOBUFS. Still bits past count and
 * force values are written as given (PROTO_FORCE_INVALID/SATURATED included). */
int proto_measurement_encode(const struct proto_measurement *m, uint8_t *out,
			     size_t cap, size_t *written);
/* Returns 0, -EINVAL, -EBADMSG (count 0, count disagreeing with the length,
 * unknown flag bits, still bits set past count), -EPROTONOSUPPORT, -ENOMSG
 * (not a measurement frame). Unused still bits are cleared in *m. */
int proto_measurement_decode(const uint8_t *buf, size_t len,
			     struct proto_measurement *m);

/* Modular distance b - a on 32-bit sample indices and tick counters:
 * positive when b is after a, correct across a wrap while |b - a| < 2^31. */
int32_t proto_seq_diff(uint32_t a, uint32_t b);

/* ---- Events --------------------------------------------------------------- */

enum proto_event_kind {
	PROTO_EVENT_HOLD_START = 0x01,
	PROTO_EVENT_HOLD_END = 0x02,
	PROTO_EVENT_STATUS = 0x03,
	PROTO_EVENT_ERROR = 0x04,
	PROTO_EVENT_COUNTERS = 0x05,
	PROTO_EVENT_BATTERY_LOW = 0x06
};

/* Hold state machine states (device/core), reported in STATUS events. */
enum proto_hold_state {
	PROTO_STATE_IDLE = 0,     /* no contact */
	PROTO_STATE_ROLLING = 1,  /* contact, moving */
	PROTO_STATE_PRESSING = 2, /* contact, still, force outside the band */
	PROTO_STATE_HOLDING = 3,  /* still, in band (or inside the grace window) */
	PROTO_STATE_RELEASED = 4  /* hold just ended; back to idle/rolling next */
};
#define PROTO_STATE_LAST PROTO_STATE_RELEASED

enum proto_hold_end_reason {
	PROTO_END_RELEASED = 0, /* force went below the contact threshold */
	PROTO_END_DROPPED = 1,  /* out of band longer than the grace window */
	PROTO_END_MOVED = 2,    /* the roller started rolling again */
	PROTO_END_TARGET = 3,   /* target hold time reached, then released */
	PROTO_END_SESSION = 4   /* session stopped or link/sleep ended it */
};
#define PROTO_END_LAST PROTO_END_SESSION

/* STATUS flags */
#define PROTO_STATUS_CALIBRATED 0x01u
#define PROTO_STATUS_RECORDING 0x02u
#define PROTO_STATUS_CONNECTED 0x04u
#define PROTO_STATUS_BATTERY_LOW 0x08u
#define PROTO_STATUS_CHARGING 0x10u
#define PROTO_STATUS_FLAGS_KNOWN 0x1Fu

enum proto_error_code {
	PROTO_ERR_SATURATED = 0x01,      /* a cell at full scale */
	PROTO_ERR_CELL_DISCONNECTED = 0x02,
	PROTO_ERR_CALIBRATION_INVALID = 0x03, /* stored calibration failed CRC */
	PROTO_ERR_STORAGE = 0x04,        /* flash write/erase failed */
	PROTO_ERR_QUEUE_OVERFLOW = 0x05, /* frames dropped, see COUNTERS */
	PROTO_ERR_SENSOR = 0x06,         /* sensor did not answer */
	PROTO_ERR_BAD_FRAME = 0x07       /* the device received a bad frame */
};
#define PROTO_ERR_LAST PROTO_ERR_BAD_FRAME

struct proto_event {
	uint8_t kind;   /* enum proto_event_kind */
	uint16_t seq;   /* +1 per event generated (a dropped event leaves a gap); wraps */
	uint32_t sample; /* sample index at which the event happened */
	union {
		struct {
			int16_t force; /* dN at the start */
		} hold_start;
		struct {
			uint16_t duration;  /* samples from start to end (saturates) */
			uint16_t in_band;   /* samples in band during the hold */
			int16_t mean_force; /* dN */
			int16_t peak_force; /* dN */
			uint8_t reason;     /* enum proto_hold_end_reason */
			uint8_t dips;       /* dips out of band survived (saturates) */
		} hold_end;
		struct {
			uint8_t state;       /* enum proto_hold_state */
			uint8_t flags;       /* PROTO_STATUS_* */
			uint8_t battery_pct; /* 0..100 */
		} status;
		struct {
			uint8_t code;    /* enum proto_error_code */
			uint8_t channel; /* load cell, 0xFF for none */
			uint16_t detail; /* code-specific, 0 if none */
		} error;
		struct {
			uint32_t samples_dropped;  /* measurement queue drops */
			uint16_t events_dropped;   /* event queue drops */
			uint16_t sessions_recycled; /* oldest log sessions overwritten */
			uint16_t rx_errors;        /* bad frames received */
		} counters;
		struct {
			uint16_t millivolts;
			uint8_t percent;
		} battery_low;
	} u;
};

/* Returns 0, -EINVAL, -ERANGE (unknown kind or a field outside its range),
 * -ENOBUFS. */
int proto_event_encode(const struct proto_event *e, uint8_t *out, size_t cap,
		       size_t *written);
/* Returns 0, -EINVAL, -EBADMSG, -EPROTONOSUPPORT, -ENOMSG (not an event
 * frame, or an unknown kind). */
int proto_event_decode(const uint8_t *buf, size_t len, struct proto_event *e);

/* ---- Session markers -------------------------------------------------------- */

enum proto_session_kind { PROTO_SESSION_START = 1, PROTO_SESSION_END = 2 };

enum proto_region {
	PROTO_REGION_NONE = 0,
	PROTO_REGION_CALVES = 1,
	PROTO_REGION_SHINS = 2,
	PROTO_REGION_HAMSTRINGS = 3,
	PROTO_REGION_QUADRICEPS = 4,
	PROTO_REGION_IT_BAND = 5,
	PROTO_REGION_GLUTES = 6,
	PROTO_REGION_LOWER_BACK = 7,
	PROTO_REGION_UPPER_BACK = 8,
	PROTO_REGION_SHOULDERS = 9,
	PROTO_REGION_NECK = 10
};
#define PROTO_REGION_LAST PROTO_REGION_NECK

struct proto_session {
	uint8_t kind;        /* enum proto_session_kind */
	uint8_t region;      /* enum proto_region */
	uint16_t session_id; /* device-assigned, +1 per session; wraps */
	uint32_t sample;     /* sample index at the start / end */
	uint32_t time;       /* device ticks at that sample */
	uint32_t unix_time;  /* UTC seconds, 0 when the clock was never set */
};

int proto_session_encode(const struct proto_session *s, uint8_t *out, size_t cap,
			 size_t *written);
int proto_session_decode(const uint8_t *buf, size_t len, struct proto_session *s);

/* ---- Info ----------------------------------------------------------------- */

/* Capabilities */
#define PROTO_CAP_IMU 0x0001u       /* stillness from a gyro, else force variance */
#define PROTO_CAP_LOG 0x0002u       /* sessions recorded in flash */
#define PROTO_CAP_RESEND 0x0004u    /* RESEND_SAMPLES supported */
#define PROTO_CAP_BATTERY 0x0008u
#define PROTO_CAP_USB 0x0010u
#define PROTO_CAP_SIMULATED 0x0020u /* a simulated person, not a sensor */

enum proto_calibration {
	PROTO_CAL_NONE = 0,    /* factory state: counts, not newtons */
	PROTO_CAL_TARED = 1,   /* zero set, default scale */
	PROTO_CAL_VALID = 2,   /* tared and scaled with a known load */
	PROTO_CAL_INVALID = 3  /* stored calibration failed its CRC */
};

struct proto_info {
	uint8_t proto_major;
	uint8_t proto_minor;
	uint8_t fw_major, fw_minor, fw_patch;
	uint16_t capabilities;     /* PROTO_CAP_* (unknown bits allowed) */
	uint16_t sample_period_us; /* e.g. 20000 at 50 Hz; never 0 */
	uint8_t channels;          /* load cells, 1..8 */
	uint8_t calibration;       /* enum proto_calibration */
	uint16_t full_scale;       /* dN, the largest force the sensor reports */
	uint32_t device_id;        /* stable per device */
};

int proto_info_encode(const struct proto_info *i, uint8_t *out, size_t cap,
		      size_t *written);
/* Note: a frame whose proto_major differs is still decoded (the version byte
 * of the frame itself must be PROTO_VERSION); the caller compares majors. */
int proto_info_decode(const uint8_t *buf, size_t len, struct proto_info *i);

/* ---- Control point -------------------------------------------------------- */

enum proto_opcode {
	PROTO_OP_VERSION = 0x01,        /* -> version */
	PROTO_OP_TARE = 0x02,
	PROTO_OP_CALIBRATE = 0x03,      /* known load -> scale */
	PROTO_OP_SET_CLOCK = 0x04,
	PROTO_OP_START_SESSION = 0x05,  /* -> session id */
	PROTO_OP_STOP_SESSION = 0x06,   /* -> session id */
	PROTO_OP_SET_HOLD = 0x07,
	PROTO_OP_GET_HOLD = 0x08,       /* -> hold params */
	PROTO_OP_LOG_INFO = 0x09,       /* -> log info */
	PROTO_OP_LOG_READ = 0x0A,       /* then LOG_CHUNK frames */
	PROTO_OP_LOG_ERASE = 0x0B,
	PROTO_OP_BATTERY = 0x0C,        /* -> battery */
	PROTO_OP_SLEEP = 0x0D,
	PROTO_OP_RESEND_SAMPLES = 0x0E, /* then MEASUREMENT frames with RESENT */
	PROTO_OP_SET_SLEEP_TIMEOUT = 0x0F
};
#define PROTO_OP_LAST PROTO_OP_SET_SLEEP_TIMEOUT

/* Opcodes that change device state: refused with PROTO_STATUS_NOT_AUTHORIZED
 * unless the link is encrypted and bonded. */
bool proto_opcode_needs_auth(uint8_t opcode);

enum proto_status {
	PROTO_STATUS_OK = 0x00,
	PROTO_STATUS_UNKNOWN_OPCODE = 0x01,
	PROTO_STATUS_BAD_LENGTH = 0x02,
	PROTO_STATUS_BAD_PARAM = 0x03,
	PROTO_STATUS_NOT_AUTHORIZED = 0x04,
	PROTO_STATUS_BUSY = 0x05,           /* moving/loaded during tare, transfer running */
	PROTO_STATUS_INVALID_STATE = 0x06,  /* e.g. stop with no session */
	PROTO_STATUS_NOT_FOUND = 0x07,      /* log/sample range no longer held */
	PROTO_STATUS_STORAGE_ERROR = 0x08,
	PROTO_STATUS_UNSUPPORTED_VERSION = 0x09,
	PROTO_STATUS_INTERNAL = 0x0A
};
#define PROTO_STATUS_LAST PROTO_STATUS_INTERNAL

/* The one place that maps the wire status and errno. Unknown status -> -EIO;
 * unknown errno -> PROTO_STATUS_INTERNAL. */
int proto_status_to_errno(uint8_t status);
uint8_t proto_status_from_errno(int err);
/* A short English description of a status ("not authorized"), never NULL. */
const char *proto_status_str(uint8_t status);

struct proto_hold_params {
	uint16_t band_low;   /* dN, lower edge of the target band, > contact */
	uint16_t band_high;  /* dN, > band_low */
	uint16_t hold_s;     /* target hold, seconds, 1..3600 */
	uint16_t grace_ms;   /* dips shorter than this do not end a hold, <= 10000 */
	uint16_t contact;    /* dN, contact threshold, >= 1 */
};

/* Checks the ranges documented above. Returns 0 or -ERANGE. */
int proto_hold_params_check(const struct proto_hold_params *p);

struct proto_version {
	uint8_t proto_major, proto_minor;
	uint8_t fw_major, fw_minor, fw_patch;
	uint8_t calibration;   /* enum proto_calibration */
	uint16_t capabilities; /* PROTO_CAP_* */
};

struct proto_control_request {
	uint8_t opcode; /* enum proto_opcode */
	uint8_t token;  /* chosen by the host, echoed in the response */
	union {
		struct {
			uint16_t load; /* dN of the known weight on the roller, > 0 */
		} calibrate;
		struct {
			uint32_t unix_time; /* UTC seconds */
		} set_clock;
		struct {
			uint8_t region; /* enum proto_region */
		} start_session;
		struct proto_hold_params set_hold;
		struct {
			uint32_t first_record; /* first log record to send */
			uint16_t count;        /* records, 0 = up to the end */
			uint16_t offset;       /* byte offset in first_record (resume) */
		} log_read;
		struct {
			uint32_t end_record; /* erase records before this; 0xFFFFFFFF = all */
		} log_erase;
		struct {
			uint32_t first_sample;
			uint16_t count; /* 1..PROTO_RESEND_MAX */
		} resend;
		struct {
			uint16_t seconds; /* idle time before sleep when unconnected, 0 = never */
		} sleep_timeout;
	} u;
};
#define PROTO_RESEND_MAX 4096u
/* Largest CONTROL_REQUEST frame (SET_HOLD): what a Control Point must accept. */
#define PROTO_REQUEST_MAX (PROTO_HEADER_SIZE + 2u + 10u)

struct proto_control_response {
	uint8_t opcode;
	uint8_t token;
	uint8_t status; /* enum proto_status; a result follows only when OK */
	union {
		struct proto_version version;
		struct {
			int32_t scale; /* new scale, micro-newtons per count */
		} calibrate;
		struct {
			uint16_t session_id;
		} session;
		struct proto_hold_params hold;
		struct {
			uint32_t first_record; /* oldest record held */
			uint32_t end_record;   /* one past the newest record */
			uint16_t sessions;     /* complete or open sessions held */
		} log_info;
		struct {
			uint16_t millivolts;
			uint8_t percent;
			uint8_t flags; /* PROTO_STATUS_CHARGING / _BATTERY_LOW */
		} battery;
		struct {
			uint32_t records; /* records that LOG_CHUNK frames will carry */
		} log_read;
		struct {
			uint16_t count; /* samples that will be re-sent */
		} resend;
	} u;
};

/* Encoders return 0, -EINVAL, -ERANGE (unknown opcode/status, parameters out
 * of range), -ENOBUFS. Decoders return 0, -EINVAL, -EBADMSG (wrong length
 * for the opcode; for responses also results out of range), -ERANGE
 * (requests only: a parameter out of range, so that the device can answer
 * BAD_PARAM rather than BAD_LENGTH), -EPROTONOSUPPORT, -ENOMSG (not a
 * control frame), -EOPNOTSUPP (unknown opcode; r->opcode and r->token are
 * still filled in so that the device can answer UNKNOWN_OPCODE). */
int proto_request_encode(const struct proto_control_request *r, uint8_t *out,
			 size_t cap, size_t *written);
int proto_request_decode(const uint8_t *buf, size_t len,
			 struct proto_control_request *r);
int proto_response_encode(const struct proto_control_response *r, uint8_t *out,
			  size_t cap, size_t *written);
int proto_response_decode(const uint8_t *buf, size_t len,
			  struct proto_control_response *r);

/* ---- Log transfer ----------------------------------------------------------- */

#define PROTO_CHUNK_LAST_IN_RECORD 0x01u /* the record is complete */
#define PROTO_CHUNK_END 0x02u            /* end of the requested range */
/* The numbers between the previous record of this transfer (or first_record)
 * and this chunk's record are not in the log: spent by a power cut, or
 * records the device cannot read. Only at offset 0. */
#define PROTO_CHUNK_SKIPPED 0x04u
#define PROTO_CHUNK_FLAGS_KNOWN 0x07u
#define PROTO_CHUNK_FIXED_SIZE 9u        /* record, offset, flags, crc */
#define PROTO_CHUNK_DATA_MAX (PROTO_FRAME_MAX - PROTO_HEADER_SIZE - PROTO_CHUNK_FIXED_SIZE)

struct proto_log_chunk {
	uint32_t record; /* log record number (monotonic, never reused) */
	uint16_t offset; /* byte offset of data in the record */
	uint8_t flags;   /* PROTO_CHUNK_* */
	uint16_t crc;    /* CRC-16/CCITT-FALSE of data (filled by the encoder) */
	uint8_t len;     /* data bytes, 0..PROTO_CHUNK_DATA_MAX (0 only with END) */
	const uint8_t *data; /* encode: source; decode: points into buf */
};

/* Data bytes that fit in one Log notification at this MTU (0 below 23). */
size_t proto_log_chunk_capacity(uint16_t mtu);
/* The encoder computes the CRC. Returns 0, -EINVAL, -ERANGE, -ENOBUFS. */
int proto_log_chunk_encode(const struct proto_log_chunk *c, uint8_t *out,
			   size_t cap, size_t *written);
/* Checks the CRC. Returns 0, -EINVAL, -EBADMSG (CRC mismatch, empty chunk
 * without END, unknown flags), -EPROTONOSUPPORT, -ENOMSG. */
int proto_log_chunk_decode(const uint8_t *buf, size_t len,
			   struct proto_log_chunk *c);

/* ---- Any frame ---------------------------------------------------------------- */

struct proto_frame {
	uint8_t type; /* enum proto_type: which member is valid */
	union {
		struct proto_measurement measurement;
		struct proto_event event;
		struct proto_control_request request;
		struct proto_control_response response;
		struct proto_log_chunk chunk;
		struct proto_info info;
		struct proto_session session;
	} u;
};

/* Decodes exactly one frame of any type. Same errors as the typed decoders. */
int proto_frame_decode(const uint8_t *buf, size_t len, struct proto_frame *f);
int proto_frame_encode(const struct proto_frame *f, uint8_t *out, size_t cap,
		       size_t *written);

/* ---- USB (protocol/README.md section 11) --------------------------------------- */

#define PROTO_USB_VID 0x1209u      /* pid.codes */
#define PROTO_USB_PID 0x0001u      /* placeholder: the pid.codes test PID */
#define PROTO_USB_CLASS 0xFFu      /* interface: vendor-specific */
#define PROTO_USB_SUBCLASS 0x52u   /* 'R' */
#define PROTO_USB_PROTOCOL PROTO_VERSION
#define PROTO_USB_PACKET_SIZE 64u  /* bulk wMaxPacketSize (full speed) */
#define PROTO_USB_TRANSFER_MAX 512u /* most bytes of one device-to-host transfer */
#define PROTO_USB_MTU PROTO_MTU_MAX /* frames are sized as at this ATT MTU */
/* Vendor requests to the interface (bmRequestType 0x41, wLength 0). */
#define PROTO_USB_REQ_OPEN 0x01u
#define PROTO_USB_REQ_CLOSE 0x02u

/* ---- Checksums -------------------------------------------------------------- */

/* CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no xorout);
 * pass 0xFFFF as crc to start, or a previous result to continue. */
uint16_t proto_crc16(uint16_t crc, const uint8_t *data, size_t len);
/* CRC-32/ISO-HDLC (zlib's); pass 0 to start, or a previous result. */
uint32_t proto_crc32(uint32_t crc, const uint8_t *data, size_t len);

/* Names for logs and dumps, never NULL ("?" when unknown). */
const char *proto_type_str(uint8_t type);
const char *proto_event_str(uint8_t kind);
const char *proto_opcode_str(uint8_t opcode);
const char *proto_region_str(uint8_t region);
/* "none", "tared", "valid", "invalid" (enum proto_calibration). */
const char *proto_calibration_str(uint8_t calibration);
/* Parses a region name as printed by proto_region_str. Returns 0 or -EINVAL. */
int proto_region_parse(const char *name, uint8_t *region);

#ifdef __cplusplus
}
#endif
#endif
