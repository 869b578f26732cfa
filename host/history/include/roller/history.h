/*
 * Session history: what `roller sessions`, `show`, `rm`, `trends`, `export`
 * and `plot` know about the recorded sessions.
 *
 * Everything is derived from the session logs. A log is never re-coached by
 * code of its own here: history_load() plays it through the replay transport
 * and the session glue (roller/session.h) on a private sd-event loop, as
 * fast as possible and with no output, exactly as `roller replay --max`
 * would, and reads the coach's holds, summary and cues from that run. The
 * samples and the roller's own events are then read from the log's frames
 * (data, not coaching). So a history row always says what a replay says.
 *
 * The index (roller/sindex.h) keeps one row per log; history_sync() keeps
 * it in step with a directory of logs.
 *
 * Errors: 0 or a negative errno, as documented per function.
 */
#ifndef ROLLER_HISTORY_H
#define ROLLER_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "roller/coach.h"
#include "roller/rlog.h"
#include "roller/sindex.h"

/* ---- One session, loaded --------------------------------------------------- */

/* One force sample as the roller measured it. */
struct history_sample {
	uint32_t index;     /* the roller's sample index */
	uint32_t t_ms;      /* time since the first sample (index x sample period) */
	int16_t force_dn;   /* dN; PROTO_FORCE_INVALID = no reading (cell fault) */
	bool still;         /* the roller was not rolling */
	bool resent;        /* re-sent later to fill a gap (not seen live) */
};

/* Samples missing from the log (lost on the link and never re-sent). */
struct history_gap {
	uint32_t first_index; /* first missing sample */
	uint32_t count;       /* missing samples */
	uint32_t t_ms;        /* time of the first missing sample */
};

enum history_event_source {
	HISTORY_EVENT_ROLLER = 1, /* an Event/Session frame from the roller */
	HISTORY_EVENT_COACH = 2,  /* a cue of the coach (as the replay gave it) */
	HISTORY_EVENT_USER = 3,   /* a key the user pressed (relief, skip, stop) */
	HISTORY_EVENT_HOST = 4    /* a host note (link changes, gap requests) */
};

struct history_event {
	uint32_t index;       /* sample index it belongs to (host/user: the last one received) */
	uint32_t t_ms;        /* time since the first sample */
	uint8_t source;       /* enum history_event_source */
	char kind[24];        /* "hold-start", "drop", "relief", "link", ... */
	int32_t force_dn;     /* coach cues and roller holds: the force, else 0 */
	int32_t value;        /* kind-specific number (cue value, hold samples, ...) */
	char text[160];       /* a sentence or the fields, for people */
};

struct history_session {
	char path[4096];
	struct rlog_header header;
	bool coached;                 /* the log had an Info frame: the coach ran */
	struct coach_config config;   /* the plan as coached (from the header) */
	struct coach_summary summary; /* the coach's summary at the end of the replay */
	int32_t overpressure_dn;      /* the coach's over-pressure warning limit */
	uint32_t first_index;         /* index of the first sample */
	uint16_t sample_period_us;
	uint64_t file_size;
	int64_t file_mtime_ns;
	bool torn;                    /* the log ends in a torn record */
	size_t torn_offset;
	struct coach_hold *holds;
	size_t n_holds;
	struct history_sample *samples; /* in index order, no duplicates */
	size_t n_samples;
	struct history_gap *gaps;
	size_t n_gaps;
	struct history_event *events;   /* in time order */
	size_t n_events;
	char *notices;                  /* what the replay reported, lines, "" if nothing */
};

/* What history_load() reads besides the summary. */
#define HISTORY_LOAD_SAMPLES 0x1u /* samples and gaps */
#define HISTORY_LOAD_EVENTS 0x2u  /* events (roller, coach, user, host) */
#define HISTORY_LOAD_ALL (HISTORY_LOAD_SAMPLES | HISTORY_LOAD_EVENTS)

/*
 * Replays the log at path headless and fills a new session. Returns 0,
 * -EINVAL, -ENOMEM, the rlog reader's errors (-ENOENT, -EACCES, -EISDIR,
 * -EFBIG, -EBADMSG not a session log or a damaged header, -EPROTONOSUPPORT a
 * newer format), -EILSEQ (a damaged record with more data after it: not
 * a torn tail; `roller log dump` shows where), -ENODATA (no Info frame: nothing was coached), -ERANGE (a
 * header the coach refuses: no body weight, no sample period, a plan out of
 * range). history_strerror() words them for people. *out is NULL on error.
 */
int history_load(const char *path, unsigned flags, struct history_session **out);
void history_free(struct history_session *s);

/* A sentence for an error of this module (including rlog's), never NULL. */
const char *history_strerror(int err);

/* The index row of a loaded session (id 0). */
void history_row_from_session(const struct history_session *s, struct sindex_row *row);

/*
 * The index row of the log at path: history_load() without samples and
 * events, then history_row_from_session(). Same errors as history_load(),
 * and -ENAMETOOLONG (the path does not fit a row).
 */
int history_summarize(const char *path, struct sindex_row *row);

/* ---- The index ------------------------------------------------------------ */

/*
 * Where the index lives: $XDG_DATA_HOME/roller/index.sqlite, else
 * ~/.local/share/roller/index.sqlite. Returns 0, -ENOENT (neither
 * XDG_DATA_HOME nor HOME is set), -ENAMETOOLONG.
 */
int history_index_path(char *out, size_t size);

/*
 * Opens the index at path, creating its directory (0700) and the file
 * (0600) when missing. With rebuild, an index that is not one (-EBADMSG) is
 * deleted and created again (its content is derived data). Returns 0 or
 * sindex_open()'s errors.
 */
int history_index_open(const char *path, bool rebuild, struct sindex **out);

/*
 * Indexes one log (replaces its row). *id (may be NULL) gets the row's id.
 * Returns 0, history_summarize()'s errors, or sindex_put()'s.
 */
int history_index_file(struct sindex *ix, const char *path, int64_t *id);

struct history_sync_result {
	unsigned indexed;   /* new or changed logs (re)indexed */
	unsigned unchanged; /* logs whose row was up to date */
	unsigned dropped;   /* rows whose log is gone */
	unsigned skipped;   /* logs that could not be indexed (see the callback) */
};

/*
 * Brings the index in step with the *.rlog files of dir: drops rows whose
 * file no longer exists (anywhere), indexes logs that have no row or whose
 * size or modification time changed. With reindex every row is dropped
 * first and every log indexed again. A log that cannot be indexed (damaged,
 * foreign) is reported through skipped (may be NULL) and changes nothing.
 * Returns 0, -ENOENT (no such directory: nothing is changed), another
 * -errno reading dir, or the index's errors.
 */
int history_sync(struct sindex *ix, const char *dir, bool reindex,
		 void (*skipped)(void *userdata, const char *path, int err), void *userdata,
		 struct history_sync_result *result);

/* ---- When to suggest a doctor -------------------------------------------- */

/*
 * The rule (host/history/README.md): for one region, take the sessions with
 * at least one hold in the HISTORY_REFERRAL_WINDOW_DAYS days up to the
 * newest of them. The hint is due when there are at least
 * HISTORY_REFERRAL_MIN_SESSIONS of them, in at least
 * HISTORY_REFERRAL_MIN_WEEKS different ISO weeks, and the force tolerated
 * has not improved: the mean hold force (as a share of body weight) of the
 * newest HISTORY_REFERRAL_COMPARE sessions is less than
 * HISTORY_REFERRAL_IMPROVEMENT_PERCENT % above that of the oldest ones.
 */
#define HISTORY_REFERRAL_WINDOW_DAYS 42
#define HISTORY_REFERRAL_MIN_SESSIONS 8u
#define HISTORY_REFERRAL_MIN_WEEKS 3u
#define HISTORY_REFERRAL_COMPARE 3u
#define HISTORY_REFERRAL_IMPROVEMENT_PERCENT 5

struct history_referral {
	uint8_t region;
	bool due;                  /* the rule says: suggest a doctor */
	unsigned sessions;         /* sessions counted in the window */
	unsigned weeks;            /* different ISO weeks among them */
	int64_t first_unix_ms, last_unix_ms;
	uint16_t early_permille;   /* mean force, oldest sessions, ‰ of body weight */
	uint16_t late_permille;    /* mean force, newest sessions */
};

/*
 * Applies the rule to rows (any order, any regions; only region's rows
 * count). Fills *out; returns true when the hint is due. Pure: no I/O.
 */
bool history_referral_check(const struct sindex_row *rows, size_t n, uint8_t region,
			    struct history_referral *out);

/*
 * The rule for every region with sessions in the index. Calls cb for each
 * region, due or not, in region order. Returns 0 or the index's errors.
 */
int history_referrals(struct sindex *ix,
		      void (*cb)(void *userdata, const struct history_referral *r), void *userdata);

/*
 * Prints the hint for r (when due) to f: the facts, the rule, and
 * coach_referral_text(), worded as advice, never a diagnosis.
 */
void history_print_referral(FILE *f, const struct history_referral *r);

/* ---- Export and plot -------------------------------------------------------- */

enum history_table {
	HISTORY_TABLE_SAMPLES = 0,
	HISTORY_TABLE_HOLDS = 1,
	HISTORY_TABLE_EVENTS = 2
};

/*
 * CSV (RFC 4180, a header line, then one line per row) of one table:
 *   samples: sample,t_s,force_n,percent_bw,still   (force empty: no reading)
 *   holds:   rep,result,start_sample,start_s,duration_s,in_band_s,mean_force_n,
 *            mean_percent_bw,peak_force_n,band_low_n,band_high_n,step_ups,dips
 *   events:  sample,t_s,source,kind,force_n,value,text
 * The session must have been loaded with the data the table needs.
 * Returns 0, -EINVAL, -EIO (a write failed).
 */
int history_export_csv(FILE *f, const struct history_session *s, enum history_table table);

/*
 * One JSON object (json-c): the session (header, plan, summary, file),
 * holds, events, gaps and samples. Returns 0, -EINVAL, -ENOMEM, -EIO.
 */
int history_export_json(FILE *f, const struct history_session *s);

enum history_plot_format { HISTORY_PLOT_PNG = 0, HISTORY_PLOT_SVG = 1 };

/*
 * Draws force over time (N, with % of body weight on a second axis), the
 * target band shaded, each hold marked with its duration, drops, gaps and
 * over-pressure, with a title (region, date) into path, width x height
 * pixels (PNG) or points (SVG), 320x200 to 8000x4000. Needs samples and
 * events. The file is written next to path and renamed into place: on error
 * nothing is left behind. Returns 0, -EINVAL, -ERANGE (size), -ENOMEM, -EIO,
 * or a -errno creating the file.
 */
int history_plot(const struct history_session *s, const char *path,
		 enum history_plot_format format, unsigned width, unsigned height);

/* Force as % of body weight (0 when the weight is unknown). */
double history_percent_bw(int32_t force_dn, uint16_t body_weight_dkg);

#endif
