/*
 * Sync: download the sessions a roller recorded in its flash log while no
 * laptop was connected, over any transport (bluez, usb, a test's fake), and
 * keep each one as a session log (.rlog) next to the live ones.
 *
 *   connect -> INFO (roller identity, LOG capability, protocol major)
 *   LOG_INFO -> [first_record, end_record)
 *   start = max(first_record, what this host already has of this roller)
 *   LOG_READ(start, count, 0) -> LOG_CHUNK ... END
 *       per chunk: CRC (the decoder checks it), record and offset exactly the
 *       next byte expected; anything else is a gap: drop it and the rest of
 *       the transfer, wait for END (or chunk_timeout_ms of silence), resume
 *   records -> sessions: SESSION START ... SESSION END = one .rlog
 *   link lost -> wait for the same roller, LOG_READ(record, offset) of the
 *       first byte not received; nothing is fetched twice, nothing skipped
 *   LOG_ERASE(end of the last session stored), when asked
 *
 * What is synced: a per-roller state file <state_dir>/<DEVICE_ID>.sync
 * holds `synced_to`, the record number below which every record has been
 * stored on this host. It only moves after a session file is safely on
 * disk (written to a hidden temporary, fsynced, renamed), so a sync killed
 * at any point starts again at the first session not stored. File names are
 * derived from the roller and the record number, so even a lost state file
 * cannot produce duplicate sessions (an existing file counts as synced).
 *
 * A roller whose log ends below synced_to (flash erased, firmware
 * reflashed) has started its numbering again: its log is synced whole.
 *
 * A session still open at the end of the log (being recorded, no SESSION
 * END yet) is not stored and not counted as synced: the next sync gets it
 * whole. Records whose SESSION START was recycled on the roller are stored
 * as an incomplete session (region none), marked so in a note.
 *
 * File layout of a synced session: the rlog header (roller id, transport,
 * firmware/protocol/calibration/sample period from this connection's INFO,
 * region from SESSION START, plan and body weight from the caller's
 * template); an INFO frame (so that `roller replay` can set up the coach);
 * a note "sync: ..."; then every log record as RLOG_FRAME_IN, on the
 * channel its type travels on, timestamped from the device's own clock
 * (ticks and sample indexes relative to SESSION START; wall time from its
 * unix_time, or the sync time when the roller's clock was never set).
 *
 * Errors: 0 or a negative errno.
 */
#ifndef ROLLER_SYNC_H
#define ROLLER_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "roller/rlog.h"
#include "roller/transport.h"

#define SYNC_CONTROL_TIMEOUT_MS 5000u
#define SYNC_CHUNK_TIMEOUT_MS 5000u   /* silence during a transfer: resume */
#define SYNC_CONNECT_TIMEOUT_MS 15000u
#define SYNC_RECONNECT_TIMEOUT_MS 30000u
#define SYNC_BUSY_RETRIES 20u         /* LOG_READ answered BUSY */

enum sync_phase {
	SYNC_CONNECTING = 1,
	SYNC_LISTING,     /* LOG_INFO */
	SYNC_DOWNLOADING,
	SYNC_RECONNECTING,
	SYNC_ERASING,
	SYNC_DONE
};

struct sync_progress {
	enum sync_phase phase;
	uint32_t first_record, end_record; /* the range fetched this run */
	uint32_t next_record;              /* first record not complete yet */
	uint32_t records_done;             /* complete records received this run */
	uint32_t records_total;            /* records in the range */
	uint64_t bytes;                    /* record bytes received this run */
	unsigned sessions_written;
};

struct sync_result {
	int err;                  /* as passed to done() */
	char detail[512];         /* a sentence for the user when err < 0, else "" */
	uint32_t device_id;       /* from INFO (0 before) */
	char roller_id[32];
	uint32_t log_first, log_end;  /* the roller's log at LOG_INFO */
	uint16_t log_sessions;
	uint32_t synced_before;   /* state file before this run */
	uint32_t synced_to;       /* after */
	uint32_t records;         /* downloaded this run */
	uint64_t bytes;
	unsigned sessions_written;
	unsigned sessions_incomplete; /* of those, stored as incomplete */
	unsigned sessions_existing;   /* file already there: counted as synced */
	bool open_session_left;   /* the last session is still being recorded */
	bool log_restarted;       /* the roller's log ends below synced_before: its
				   * flash was erased or reflashed; synced whole */
	unsigned resumes;         /* LOG_READ issued again (gap, link loss, early END) */
	unsigned gaps;            /* bad or unexpected chunks */
	unsigned link_losses;
	unsigned bad_records;     /* records that did not decode (stored anyway) */
	uint32_t records_missing; /* numbers the roller's log skips (SKIPPED): a power
				   * cut spent them, or its flash is damaged */
	bool erase_requested;
	bool erased;
	uint32_t erased_below;
	int erase_err;            /* why not erased: -EBUSY (recording), ... */
};

struct sync_options {
	const struct transport_ops *transport;
	struct transport_options transport_options;
	/* Where session logs go (created 0700 if missing). */
	const char *sessions_dir;
	/* Where the per-roller state files go (created 0700 if missing). */
	const char *state_dir;
	/* Header template: plan and body weight (session_header_set_plan); the
	 * engine fills in everything that comes from the roller. An empty
	 * roller_id becomes the address, else "roller-<DEVICE_ID>". */
	struct rlog_header header;
	/* Optional: called before a session file is written with the region
	 * of its SESSION START (PROTO_REGION_NONE when the roller started it
	 * by itself) and the header so far, to put in the plan and body weight
	 * for that region. A replay needs a region to coach: for NONE it may
	 * set h->region to the region whose plan it used (the file's note
	 * then says that the roller did not record one). */
	void (*fill_header)(void *userdata, uint8_t region, struct rlog_header *h);
	bool erase;
	uint32_t control_timeout_ms;   /* 0 = SYNC_CONTROL_TIMEOUT_MS */
	uint32_t chunk_timeout_ms;     /* 0 = SYNC_CHUNK_TIMEOUT_MS */
	uint32_t connect_timeout_ms;   /* 0 = SYNC_CONNECT_TIMEOUT_MS */
	uint32_t reconnect_timeout_ms; /* 0 = SYNC_RECONNECT_TIMEOUT_MS */
	/* Called on phase changes and after every record; may be NULL. */
	void (*progress)(void *userdata, const struct sync_progress *p);
	/* Called after each session file is on disk; may be NULL. */
	void (*session_written)(void *userdata, const char *path, uint32_t first_record,
				uint32_t end_record, bool complete);
	/* Called once at the end: 0, or -errno (sync_result() has a sentence).
	 * The sync must not be destroyed from inside. */
	void (*done)(void *userdata, int err);
	void *userdata;
};

struct sync;

/* Creates the engine and its transport on ev; starts at once. Returns 0,
 * -EINVAL, -ENOMEM, or the transport's create() error. */
int sync_create(struct sync **out, sd_event *ev, const struct sync_options *opt);

/* What happened so far (complete after done()). */
void sync_get_result(const struct sync *s, struct sync_result *out);

/* Stops (the transport too); no callback after it returns. NULL is fine.
 * Sessions already on disk and the state file stay. */
void sync_destroy(struct sync *s);

/* ---- State files (also used by tests) ------------------------------------------- */

/* Reads synced_to of a roller. Returns 0, -ENOENT (never synced), -EBADMSG
 * (damaged file), or -errno. */
int sync_state_load(const char *state_dir, uint32_t device_id, uint32_t *synced_to);

/* Writes it atomically (temporary, fsync, rename; dir created 0700).
 * Returns 0 or -errno. */
int sync_state_save(const char *state_dir, uint32_t device_id, uint32_t synced_to);

#endif
