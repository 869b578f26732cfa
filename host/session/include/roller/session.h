/*
 * One coaching session: the glue between a transport, the session log, the
 * coaching engine and the UI.
 *
 *   transport frame -> session log (RLOG_FRAME_IN, as it arrives)
 *                   -> decode -> coach -> cues, phases, holds -> UI
 *                                      -> transport coach_cue (the sim person)
 *   key press       -> session log (RLOG_INPUT) -> coach -> UI
 *   link change     -> session log (RLOG_NOTE "link ...") -> UI
 *   control request -> session log (RLOG_FRAME_OUT) -> transport
 *
 * Live, the session sets the roller's clock, its hold band (SET_HOLD from the
 * plan) and starts a recording (START_SESSION) once the Info frame has come;
 * when the coach is done, or the user stops, it stops the recording and ends.
 *
 * A replay runs the same code with a replay transport: it sends nothing,
 * writes no log, and feeds the recorded inputs at their place between the
 * frames. Because the coach's only clock is the sample index, the cues,
 * phases and holds it reports (and so the --plain/--json output) are those
 * of the live session.
 *
 * Session log file names: <dir>/<stem>.rlog, or <stem>-2.rlog ... when taken.
 * Host records (notes, inputs, requests) carry the arrival time of the last
 * frame received, so that a replay puts them at the same place.
 *
 * Errors: 0 or a negative errno.
 */
#ifndef ROLLER_SESSION_H
#define ROLLER_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "roller/coach.h"
#include "roller/rlog.h"
#include "roller/transport.h"
#include "roller/ui.h"

/* Default time to wait for a control response. */
#define SESSION_CONTROL_TIMEOUT_MS 5000u

struct session_options {
	const struct transport_ops *transport;
	struct transport_options transport_options;
	/* Replay: send nothing, write no log, take inputs from the transport. */
	bool replay;
	/*
	 * Live: what the log header says (roller id, transport, region, body
	 * weight, the plan in force); the firmware, protocol, calibration and
	 * sample period fields are filled from the Info frame. Replay: the
	 * recorded header. Either way the coach is configured from it
	 * (session_coach_config), so a replay coaches with the recorded plan.
	 */
	struct rlog_header header;
	/* Live: directory and file stem of the session log; NULL = no log. */
	const char *log_dir;
	const char *log_stem;
	uint32_t control_timeout_ms; /* 0 = SESSION_CONTROL_TIMEOUT_MS */
	/* Called once when the session is over: err 0 (finished or stopped by
	 * the user) or a -errno (the transport failed, the log could not be
	 * written). The session must not be destroyed from inside. */
	void (*done)(void *userdata, int err);
	void *userdata;
};

struct session;

/*
 * Creates the session and its transport on ev; the UI must outlive it.
 * Returns 0, -ENOMEM, -EINVAL, or the transport's create() error (e.g.
 * -ENOENT for a missing replay file).
 */
int session_create(struct session **out, sd_event *ev, struct ui *ui,
		   const struct session_options *opt);

/*
 * A user input (a key). Live: written to the log, then applied. Returns 0,
 * -EAGAIN (no coaching yet, or the input does not apply now), -EINVAL.
 */
int session_input(struct session *s, enum coach_input input);

/*
 * Ends the session cleanly (Ctrl-C, SIGTERM, 'q'): a STOP input to the
 * coach, STOP_SESSION to the roller, then done(). A second call ends at
 * once without waiting for the roller.
 */
void session_stop(struct session *s);

/* True once done() has been called. */
bool session_finished(const struct session *s);

/* The summary so far. Returns 0, or -EAGAIN before the coach is set up. */
int session_summary(const struct session *s, struct coach_summary *out);

/* The coach, once set up (NULL before the Info frame). */
const struct coach *session_coach(const struct session *s);

/* Path of the session log being (or last) written; NULL when none. */
const char *session_log_path(const struct session *s);

/* Counters for tests and the screen. */
struct session_counters {
	uint64_t frames_in;      /* frames received */
	uint64_t frames_out;     /* control requests written */
	uint64_t records;        /* log records written */
	uint32_t bad_frames;     /* frames that did not decode */
	uint32_t log_errors;     /* appends that failed */
	uint32_t control_errors; /* requests refused, failed or timed out */
	bool device_session;     /* START_SESSION succeeded */
};
void session_counters(const struct session *s, struct session_counters *out);

/* Stops everything; no callback after it returns. NULL is fine. */
void session_destroy(struct session *s);

/*
 * The coach configuration for a session described by a log header: the
 * region's default plan, with the header's hold time, rest, repetitions,
 * band (dN, converted to permille of body weight) and grace window. Live
 * and replay both use it. Returns 0, -EINVAL (unknown region, no weight or
 * sample period), -ERANGE (values the coach refuses).
 */
int session_coach_config(const struct rlog_header *h, uint16_t sample_period_us,
			 struct coach_config *config);

/* Writes a plan and body weight into a header (the inverse of the above). */
void session_header_set_plan(struct rlog_header *h, const struct coach_plan *plan,
			     uint16_t body_weight_dkg);

#endif
