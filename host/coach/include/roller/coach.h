/*
 * The coaching engine: decoded frames in, coaching state and cues out.
 *
 * The engine is pure. It reads no clock, does no I/O, allocates nothing and
 * keeps no global state: everything lives in a struct coach the caller owns.
 * Its only time base is the sample index of the Measurement frames times the
 * sample period from the Info frame, and user inputs take effect at the last
 * sample fed. Feeding the same frames and inputs in the same order (live, or
 * from a session log) therefore gives the same states and cues, whatever the
 * batching. The model, the default plans and their sources, and every rule
 * are in host/coach/README.md.
 *
 * Units: forces are decinewtons (dN, 0.1 N, as on the wire); shares of body
 * weight are permille (‰: 325 = 32.5 % of body weight); times are
 * milliseconds of device time, counted from the first sample fed.
 *
 * Errors: functions return 0 or a negative errno, as documented per function.
 */
#ifndef ROLLER_COACH_H
#define ROLLER_COACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roller/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

#define COACH_REPS_MAX 10u
#define COACH_STEP_UPS_MAX 3u
#define COACH_HOLDS_MAX 32u    /* coach holds kept in the list (all are summed) */
#define COACH_DETECTED_MAX 64u /* detector holds kept per source */
#define COACH_CUES_MAX 64u     /* cues one call can return; more are counted */

/* ---- Plans ------------------------------------------------------------------ */

/*
 * What to do for one body region. coach_plan_default() fills the defaults
 * from host/coach/README.md; every field may then be overridden (config.ini).
 */
struct coach_plan {
	uint8_t region;               /* enum proto_region, not NONE */
	uint16_t band_low_permille;   /* target band, ‰ of body weight */
	uint16_t band_high_permille;  /* > band_low_permille */
	uint32_t hold_ms;             /* hold at the target, 1000..3600000 */
	uint8_t reps;                 /* holds per session, 1..COACH_REPS_MAX */
	uint32_t rest_ms;             /* rest between holds, <= 600000 */
	uint32_t effective_ms;        /* a hold this long already counts, <= hold_ms */
	uint16_t grace_ms;            /* dips shorter than this pause, <= 10000 */
	uint8_t step_ups;             /* progressive raises per hold, <= 3 (0 = off) */
	uint8_t step_up_percent;      /* each raise, % of the band's lower edge, 1..50 */
	uint16_t ramp_dn_per_s;       /* expected ramp when raising force, >= 1 */
	uint16_t overpressure_permille;     /* warn above this share of body weight */
	uint16_t overpressure_band_percent; /* ... or above this % of the band's top, >= 100 */
	const char *hint;             /* positioning hint (static text, not owned) */
};

/* Fills *plan with the default plan for region. Returns 0, or -EINVAL for a
 * NULL plan or a region that is NONE or unknown. */
int coach_plan_default(uint8_t region, struct coach_plan *plan);

/* Checks the ranges documented in struct coach_plan, and that the
 * over-pressure share is above the band. Returns 0, -EINVAL (NULL), or
 * -ERANGE. */
int coach_plan_check(const struct coach_plan *plan);

/* ---- Configuration ------------------------------------------------------------ */

struct coach_config {
	uint16_t sample_period_us;  /* from the Info frame, never 0 */
	uint16_t body_weight_dkg;   /* body weight in 0.1 kg, > 0 (as in the session log) */
	uint16_t contact_dn;        /* below this force nobody is on the roller, >= 1 */
	struct coach_plan plan;
	/*
	 * Personal tolerance: the force the user measured as "uncomfortable but
	 * tolerable" (0 = unknown). The personal band is built around it (see
	 * tolerance_low_percent) and bounded by the plan and the over-pressure
	 * limit. Without it the plan's band is used.
	 */
	uint32_t tolerance_dn;
	bool find_tolerance;        /* start with the "find your tolerance" step */
	uint16_t tolerance_ms;      /* steady, still time to measure, 500..30000 */
	uint8_t tolerance_low_percent;  /* band low = tolerance x this %, 50..99 */
	uint8_t tolerance_high_percent; /* band high = tolerance x this %, 101..200 */
	uint16_t drop_cue_ms;       /* a dip this long is announced (DROP), <= 2000 */
};

/*
 * Fills *config with the defaults and the default plan for region.
 * Returns 0, or -EINVAL (NULL config, unknown region, sample_period_us or
 * body_weight_dkg 0).
 */
int coach_config_init(struct coach_config *config, uint8_t region,
		      uint16_t sample_period_us, uint16_t body_weight_dkg);

/* Body weight in 0.1 kg as a force in dN (standard gravity), rounded. */
uint32_t coach_weight_dn(uint16_t body_weight_dkg);

/* ---- Phases, cues, inputs --------------------------------------------------------- */

enum coach_phase {
	COACH_PHASE_TOLERANCE = 0,   /* "find your tolerance": press and hold still */
	COACH_PHASE_WAITING = 1,     /* waiting for contact */
	COACH_PHASE_POSITIONING = 2, /* contact, but not (in band and still) */
	COACH_PHASE_HOLDING = 3,     /* in band and still: the countdown runs */
	COACH_PHASE_PAUSED = 4,      /* a dip inside the grace window: countdown stopped */
	COACH_PHASE_REST = 5,        /* rest timer between holds */
	COACH_PHASE_DONE = 6         /* all repetitions done, or stopped */
};

/* Cues. "value" is kind-specific, as noted; every cue also carries the
 * force at its sample. */
enum coach_cue_kind {
	COACH_CUE_FIND_TOLERANCE = 1, /* press to 5-7 of 10 and hold still */
	COACH_CUE_TOLERANCE_SET = 2,  /* value: the measured force, dN */
	COACH_CUE_GET_ON = 3,         /* get on the roller, find the spot */
	COACH_CUE_HOLD_START = 4,     /* in band and still: countdown started */
	COACH_CUE_HALFWAY = 5,
	COACH_CUE_RELIEF_POINT = 6,   /* effective time reached: may release if eased */
	COACH_CUE_TEN_LEFT = 7,       /* 10 s left */
	COACH_CUE_RELEASE = 8,        /* hold complete: release */
	COACH_CUE_EARLY_RELEASE = 9,  /* relief signalled: value = time held, ms */
	COACH_CUE_DROP = 10,          /* out of band or moving: value = enum coach_dip_cause */
	COACH_CUE_RESUMED = 11,       /* back in band after an announced drop */
	COACH_CUE_HOLD_RESET = 12,    /* long drop, too little held: hold starts over */
	COACH_CUE_HOLD_COUNTED = 13,  /* long drop after effective time: counts as done */
	COACH_CUE_STEP_UP = 14,       /* band raised: value = new band low, dN */
	COACH_CUE_REST_OVER = 15,     /* next repetition */
	COACH_CUE_SESSION_DONE = 16,
	COACH_CUE_TOO_MUCH = 17,      /* over-pressure: value = the limit, dN */
	COACH_CUE_DATA_GAP = 18       /* samples lost: value = how many */
};
#define COACH_CUE_LAST COACH_CUE_DATA_GAP

enum coach_dip_cause {
	COACH_DIP_NONE = 0,
	COACH_DIP_BELOW = 1,    /* under the band (but in contact) */
	COACH_DIP_ABOVE = 2,    /* over the band */
	COACH_DIP_MOVING = 3,   /* the roller is not still */
	COACH_DIP_RELEASED = 4  /* below the contact threshold */
};

/* Values are stable: the session log stores them (one byte, RLOG_INPUT). */
enum coach_input {
	COACH_INPUT_RELIEF = 1, /* "the tenderness has eased": end the hold early */
	COACH_INPUT_SKIP = 2,   /* skip the tolerance step, or the rest */
	COACH_INPUT_STOP = 3    /* end the session now */
};

struct coach_cue {
	uint8_t kind;        /* enum coach_cue_kind */
	uint8_t rep;         /* repetition it belongs to, 1-based */
	uint32_t sample;     /* sample index it happened at */
	uint32_t time_ms;    /* device time of that sample since the first one */
	int32_t force_dn;    /* force at that sample (0 if unknown) */
	int32_t value;       /* kind-specific, see enum coach_cue_kind */
};

/* ---- Holds -------------------------------------------------------------------------- */

enum coach_hold_result {
	COACH_HOLD_COMPLETE = 1,      /* target time held */
	COACH_HOLD_EARLY_RELEASE = 2, /* the user signalled relief (counts) */
	COACH_HOLD_PARTIAL = 3,       /* long drop after effective_ms (counts) */
	COACH_HOLD_RESET = 4,         /* long drop before effective_ms (repeated) */
	COACH_HOLD_STOPPED = 5        /* the session was stopped during the hold */
};

/* One coached hold, from its first in-band still sample. */
struct coach_hold {
	uint8_t rep;             /* 1-based */
	uint8_t result;          /* enum coach_hold_result */
	uint8_t end_cause;       /* enum coach_dip_cause of a long drop, else NONE */
	uint8_t step_ups;        /* raises applied */
	uint32_t start_sample;
	uint32_t duration_ms;    /* first sample to end, dips and gaps included */
	uint32_t in_band_ms;     /* time credited: in band and still */
	int32_t mean_force_dn;   /* over the hold's samples with a valid force */
	uint16_t mean_force_permille;
	int32_t peak_force_dn;
	int32_t band_low_dn, band_high_dn; /* the band at the start */
	uint16_t dips;           /* dips survived */
};

/*
 * A hold as the device's detector defines it (device/core, PROTO_EVENT_HOLD_*):
 * starts at a still sample in band, survives dips up to the grace window,
 * ends after the last in-band still sample; no repetitions, no target stop.
 * The engine runs the same detector on the samples ("host") and records the
 * device's HOLD events ("device"), so the two can be compared.
 */
struct coach_detected_hold {
	uint32_t start_sample;
	uint32_t duration;      /* samples, start to the last in-band still one */
	uint32_t in_band;       /* samples in band and still */
	int32_t mean_force_dn;  /* over the duration, rounded */
	int32_t peak_force_dn;
	uint8_t reason;         /* enum proto_hold_end_reason, once ended */
	uint8_t dips;           /* saturates at 255 */
	bool ended;
};

enum coach_source { COACH_SOURCE_HOST = 0, COACH_SOURCE_DEVICE = 1 };

/* True when two detected holds describe the same hold: same start, duration
 * and in-band samples (compared as the wire's saturating 16-bit counters),
 * reason and dips, mean and peak within 1 dN. */
bool coach_detected_hold_equal(const struct coach_detected_hold *a,
			       const struct coach_detected_hold *b);

/* ---- State and summary ----------------------------------------------------------- */

/* Everything the screen shows, updated by every call. */
struct coach_state {
	uint8_t phase;          /* enum coach_phase */
	uint8_t rep;            /* current repetition, 1..reps */
	uint8_t reps;
	bool force_valid;       /* false before the first sample and on a cell fault */
	bool still;
	bool contact;
	bool over_pressure;     /* force above the over-pressure limit now */
	bool calibrated;        /* the last batch had PROTO_MEAS_CALIBRATED */
	uint8_t dip_cause;      /* enum coach_dip_cause while PAUSED */
	int32_t force_dn;
	uint16_t force_permille;
	int32_t band_low_dn, band_high_dn;  /* in force now (step-ups included) */
	uint16_t band_low_permille, band_high_permille;
	int32_t overpressure_dn;            /* the warning limit */
	uint32_t hold_ms;       /* target */
	uint32_t countdown_ms;  /* hold time left (full until a hold starts) */
	uint32_t in_band_ms;    /* held so far in this hold */
	uint32_t dip_ms;        /* length of the current dip while PAUSED */
	uint32_t rest_left_ms;  /* while REST */
	uint32_t tolerance_steady_ms; /* TOLERANCE: steady time so far */
	int32_t tolerance_dn;   /* measured or configured, 0 if unknown */
	uint32_t sample;        /* last sample index processed */
	uint32_t time_ms;       /* its device time since the first sample */
	/* Stream counters */
	uint32_t samples;       /* processed */
	uint32_t samples_lost;  /* index jumps */
	uint32_t gaps;          /* jumps seen */
	uint32_t duplicates;    /* live samples already seen, ignored */
	uint32_t resent;        /* PROTO_MEAS_RESENT samples already seen, ignored */
	uint32_t invalid;       /* PROTO_FORCE_INVALID samples */
	uint32_t device_dropped; /* the device's own count (COUNTERS event) */
	uint32_t events_lost;   /* event sequence jumps */
	uint32_t cues_dropped;  /* cues beyond COACH_CUES_MAX in one call */
};

struct coach_summary {
	uint8_t region;
	uint8_t reps_planned, reps_done;
	uint16_t holds;          /* all coached holds, resets included */
	uint16_t complete, early_release, partial, reset, stopped;
	uint32_t session_ms;     /* time the samples cover, lost ones included */
	uint32_t hold_ms;        /* summed duration of all holds */
	uint32_t in_band_ms;     /* summed time in band and still during holds */
	int32_t mean_force_dn;   /* over all hold samples with a valid force */
	uint16_t mean_force_permille;
	int32_t peak_force_dn;
	int32_t band_low_dn, band_high_dn; /* base band */
	int32_t tolerance_dn;
	uint32_t drops;          /* announced drops (DROP cues) */
	uint32_t over_pressure;  /* TOO_MUCH cues */
	uint32_t gaps, samples_lost, duplicates, resent, invalid;
	uint16_t host_detected, device_detected; /* detector holds per source */
};

/* ---- The engine -------------------------------------------------------------------- */

/* Internal: a running coached hold. */
struct coach_run {
	struct coach_hold hold;
	uint64_t start_pos;
	uint64_t last_good_pos;
	uint32_t credited;       /* samples in band and still */
	uint32_t dip_len;        /* samples in the current dip (gaps excluded) */
	uint32_t ramp_allowance; /* extra grace after a step-up, samples */
	bool drop_cued;
	int64_t sum, pending_sum;
	uint32_t count, pending_count;
	int32_t pending_peak;
};

/* Internal: the device-equivalent hold detector. */
struct coach_detector {
	bool active;
	bool has_slot;           /* the list had room for this hold */
	size_t slot;
	struct coach_detected_hold hold;
	uint64_t start_pos, last_good_pos;
	uint32_t dip_len;
	int64_t sum, pending_sum;
	uint32_t count, pending_count;
	int32_t pending_peak;
};

/*
 * The engine. Allocate it anywhere (stack, static, heap) and set it up with
 * coach_init(); the members are private: use the functions below.
 */
struct coach {
	struct coach_config config;
	/* durations in samples */
	uint32_t hold_samples, rest_samples, effective_samples, grace_samples;
	uint32_t ten_left_samples, drop_cue_samples, tolerance_samples;
	uint32_t step_at[COACH_STEP_UPS_MAX]; /* credited samples of each raise */
	int32_t base_low_dn, base_high_dn, rearm_dn;
	uint32_t weight_dn;
	/* stream */
	bool started;
	bool prompted;         /* the opening cue was given */
	uint32_t next_sample;  /* index expected next */
	uint64_t position;     /* samples since the first, of next_sample */
	uint64_t sample_pos;   /* position of state.sample, the last processed */
	bool over_armed;
	bool have_event_seq;
	uint16_t event_seq;
	/* tolerance run */
	uint32_t tol_count;
	int64_t tol_sum;
	int32_t tol_min, tol_max;
	/* coaching */
	uint8_t reps_done;
	uint32_t rest_elapsed;
	struct coach_run run;
	struct coach_detector detector;
	struct coach_state state;
	struct coach_summary totals;
	int64_t total_force_sum;
	uint64_t total_force_count;
	uint64_t total_in_band_samples, total_hold_samples;
	struct coach_hold holds[COACH_HOLDS_MAX];
	size_t hold_count;
	struct coach_detected_hold detected[2][COACH_DETECTED_MAX];
	size_t detected_count[2];
	struct coach_cue cues[COACH_CUES_MAX];
	size_t cue_count;
};

/*
 * Sets up *coach for a session with a copy of *config. The first call that
 * processes samples emits FIND_TOLERANCE (config->find_tolerance) or GET_ON.
 * Returns 0, -EINVAL (NULL), or -ERANGE (a config or plan value out of its
 * documented range).
 */
int coach_init(struct coach *coach, const struct coach_config *config);

/*
 * Processes the samples of one decoded Measurement batch in index order.
 * Samples whose index was already processed are ignored (counted as resent
 * or duplicates); a jump forward counts the skipped samples as lost (a
 * DATA_GAP cue): device time moves on across a gap, but a gap neither
 * credits nor breaks a hold. Clears and refills the cue list.
 * Returns 0, or -EINVAL (NULL, or count 0 or above PROTO_BATCH_MAX_SAMPLES).
 */
int coach_feed_measurement(struct coach *coach, const struct proto_measurement *m);

/*
 * Records device events: HOLD_START / HOLD_END fill the device's detected
 * holds, COUNTERS updates device_dropped; other kinds are accepted and
 * ignored. An event whose seq repeats the previous one is ignored; a seq
 * jump is counted in events_lost. Clears the cue list (events cue nothing).
 * Returns 0, or -EINVAL (NULL).
 */
int coach_feed_event(struct coach *coach, const struct proto_event *e);

/*
 * Applies a user input at the last sample fed (inputs carry no time of their
 * own: the session log stores them between the frames, so a replay applies
 * them at the same sample). Clears and refills the cue list.
 *   RELIEF: ends the running hold as an early release (it counts), any time.
 *   SKIP:   ends the tolerance step (the configured or plan band is used), or
 *           the rest.
 *   STOP:   ends the session; a running hold is recorded as stopped.
 *           STOP is always accepted: it also ends a detector hold that is
 *           still running (reason PROTO_END_SESSION), even after DONE.
 * Returns 0, -EINVAL (NULL or unknown input), or -EAGAIN when the input
 * does not apply to the current phase (RELIEF with no hold running, SKIP
 * outside TOLERANCE and REST); nothing changes then.
 */
int coach_input(struct coach *coach, enum coach_input input);

/* The cues of the last call, in sample order; *count gets how many. Valid
 * until the next call that feeds or inputs. Never NULL for a valid coach. */
const struct coach_cue *coach_cues(const struct coach *coach, size_t *count);

/* The current state. Never NULL for a valid coach. */
const struct coach_state *coach_state(const struct coach *coach);

/* Coached holds so far (at most COACH_HOLDS_MAX; all are in the summary). */
const struct coach_hold *coach_holds(const struct coach *coach, size_t *count);

/* Detected holds of one source, ended or still running (the last one). */
const struct coach_detected_hold *coach_detected_holds(const struct coach *coach,
						       enum coach_source source,
						       size_t *count);

/* Fills *summary with the totals so far. Returns 0 or -EINVAL (NULL). */
int coach_summary(const struct coach *coach, struct coach_summary *summary);

/*
 * The hold parameters the device should detect with (for PROTO_OP_SET_HOLD):
 * the band in force, the hold time, grace window and contact threshold,
 * clamped to the wire's ranges. Returns 0 or -EINVAL (NULL).
 */
int coach_device_hold_params(const struct coach *coach, struct proto_hold_params *p);

/* ---- Text ---------------------------------------------------------------------------- */

/* Safety advice to show before a session (no diagnosis). Never NULL. */
const char *coach_safety_text(void);
/* When to see a doctor (no diagnosis). Never NULL. */
const char *coach_referral_text(void);
/* Stable short names for logs and JSON ("hold-start"), "?" when unknown. */
const char *coach_cue_str(uint8_t kind);
const char *coach_phase_str(uint8_t phase);
const char *coach_hold_result_str(uint8_t result);
const char *coach_dip_cause_str(uint8_t cause);
/* A sentence to show or speak for a cue ("Hold still: countdown started."),
 * never NULL. */
const char *coach_cue_text(uint8_t kind);

#ifdef __cplusplus
}
#endif
#endif
