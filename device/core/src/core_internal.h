/*
 * Interfaces between the files of device/core. Private to device/core/src.
 * Each file owns the part of struct core named after it.
 */
#ifndef ROLLER_CORE_INTERNAL_H
#define ROLLER_CORE_INTERNAL_H

#include <errno.h>

#include "roller/core.h"

/* Log queue entries that are SESSION frames rather than events. */
#define CORE_KIND_SESSION 0xF0u
#define CORE_KIND_RESPONSE 0xF1u

/* ---- little-endian helpers (flash records) ---- */
static inline void core_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void core_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint16_t core_get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t core_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

/* ---- core.c ---- */
/* The link may carry frames: connected and, on a bonded reconnect, encrypted. */
bool core_link_ready(const struct core *c);
/* Re-evaluates the STATUS triple and queues a STATUS event when it changed. */
void core_status_update(struct core *c);
/* PROTO_CAP_* of this device (Info, VERSION). */
uint16_t core_capabilities(const struct core *c);
/* Seconds since 1970 now, 0 when the clock was never set. */
uint32_t core_unix_time(const struct core *c);
/* Starts / stops a session. automatic: started on contact without a host.
 * Returns 0, -EALREADY (already recording / nothing to stop), -EIO. */
int core_session_start(struct core *c, uint8_t region, bool automatic);
/* Stops the session: ends a hold (SESSION), logs the end marker. With a
 * host waiting (control), the log is written before returning. */
int core_session_stop(struct core *c);

/* ---- calibration.c ---- */
void calibration_defaults(struct core *c);
/* Summed, tared, scaled force of one conversion in dN (not filtered,
 * clamped to the int16 range minus the markers). */
int32_t calibration_force_dn(const struct core *c, const int32_t *counts, size_t n);
/* Starts averaging for TARE / CALIBRATE; the response follows when done.
 * Returns 0, -EBUSY (moving, loaded, another one running), -EALREADY
 * (CALIBRATE before TARE). */
int calibration_start(struct core *c, uint8_t opcode, uint8_t token, uint16_t load_dn);
/* Feeds one conversion to a running TARE / CALIBRATE. counts may be NULL
 * (sensor fault), which aborts it. */
void calibration_on_sample(struct core *c, const int32_t *counts, size_t n,
			   bool still, int16_t force);
/* Completes an averaged TARE / CALIBRATE: applies, persists, answers. */
void calibration_poll(struct core *c);
/* Drops a running TARE / CALIBRATE without answering (link lost, sleep). */
void calibration_abort(struct core *c);

/* ---- signal.c ---- */
void signal_reset(struct core *c);
/* Conditions one conversion: rails, stuck cells, sum, median, IIR; updates
 * stillness. counts NULL = sensor fault. Returns dN or PROTO_FORCE_*. */
int16_t signal_process(struct core *c, const int32_t *counts, size_t n,
		       int32_t gyro_mdps);
bool signal_still(const struct core *c);

/* ---- hold.c ---- */
void hold_reset(struct core *c);
/* Recomputes sample counts from the hold params in force. */
void hold_configure(struct core *c);
void hold_on_sample(struct core *c, uint32_t index, int16_t force, bool still);
/* Ends a running hold with `reason` (session stop, sleep). */
void hold_end_now(struct core *c, uint8_t reason);

/* ---- stream.c: history, batching, queues, resend ---- */
void stream_reset(struct core *c);
void stream_history_push(struct core *c, uint32_t index, int16_t force,
			 bool still, uint32_t tick);
bool stream_history_has(const struct core *c, uint32_t index);
int16_t stream_history_force(const struct core *c, uint32_t index);
bool stream_history_still(const struct core *c, uint32_t index);
uint32_t stream_history_time(const struct core *c, uint32_t index);
/* Encodes a MEASUREMENT of n samples from history starting at first. */
int stream_encode_measurement(struct core *c, uint32_t first, size_t n,
			      uint8_t flags, uint8_t *out, size_t cap,
			      size_t *written);
uint8_t stream_flags(const struct core *c);
void stream_on_sample(struct core *c, uint32_t index);
/* Sends what the link takes (responses, events, then live frames and the
 * RESEND / LOG_READ transfers taking turns); returns ms until the batch
 * deadline (or UINT32_MAX). */
uint32_t stream_poll(struct core *c, uint32_t now);
void stream_link_changed(struct core *c);
void stream_mtu_changed(struct core *c);
/* Queues an event for the link (seq assigned here) and, while recording,
 * for the log. */
void stream_event(struct core *c, struct proto_event *e);
/* Queues a SESSION frame for the link (the log takes it separately). */
void stream_session(struct core *c, const uint8_t *frame, size_t len);
void stream_response(struct core *c, const struct proto_control_response *r);
bool stream_responses_pending(const struct core *c);
/* RESEND_SAMPLES: returns 0 and *count, or -ENOENT. */
int stream_resend_start(struct core *c, uint32_t first, uint16_t count,
			uint16_t *queued);
void stream_error(struct core *c, uint8_t code, uint8_t channel, uint16_t detail);
/* Queues a COUNTERS event. */
void stream_counters_event(struct core *c);

/* ---- flashlog.c: settings and the session log ---- */
/* Reads settings (calibration, hold params, sleep timeout) and recovers
 * the log. Never fails; reports problems as events. */
void flashlog_init(struct core *c);
int flashlog_save_settings(struct core *c);
/* Queues an event / SESSION frame for the log; samples before
 * flush_to are written first. */
void flashlog_queue(struct core *c, const uint8_t *frame, size_t len,
		    uint32_t flush_to);
/* Writes queued records (and the samples before them), then full
 * measurement batches while recording. Returns 0 or -EIO (a write failed). */
int flashlog_flush(struct core *c);
void flashlog_recording_started(struct core *c, uint32_t first_sample);
int flashlog_info(const struct core *c, uint32_t *first, uint32_t *end,
		  uint16_t *sessions);
int flashlog_read_start(struct core *c, uint32_t first, uint16_t count,
			uint16_t offset, uint32_t *records);
int flashlog_erase(struct core *c, uint32_t end_record);
/* Offers the next LOG_CHUNK of a running transfer to the link (made now,
 * from flash; the transfer moves on only if the link took it). Returns 1
 * sent, 0 no transfer (or it just ended on a link error), -EAGAIN the link
 * refused it (it is offered again next time). */
int flashlog_transfer_next(struct core *c);
void flashlog_abort_transfer(struct core *c);

/* ---- control.c ---- */
int control_write(struct core *c, const uint8_t *buf, size_t len);
/* Answers a deferred request (TARE, CALIBRATE). */
void control_answer(struct core *c, uint8_t opcode, uint8_t token, int err,
		    int32_t scale);

/* ---- power.c ---- */
void power_init(struct core *c);
/* While asleep: returns true when this conversion should wake the core. */
bool power_wake_check(struct core *c, const int32_t *counts, size_t n,
		      int32_t gyro_mdps);
void power_wake(struct core *c);
void power_activity(struct core *c);
/* Reads the battery when due; returns ms until the next reading. */
uint32_t power_poll_battery(struct core *c, uint32_t now);
/* Sleep policy (after the link had its chance to send); returns ms until
 * it wants to run again. */
uint32_t power_poll(struct core *c, uint32_t now);
/* Ends holds and sessions, flushes the log, calls the board. 0 or -EIO. */
int power_sleep(struct core *c);

#endif
