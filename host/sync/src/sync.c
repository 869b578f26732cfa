/*
 * The sync engine (roller/sync.h): LOG_INFO, LOG_READ by record range,
 * LOG_CHUNK reassembly with resume, sessions written as .rlog files, the
 * per-roller state file, and LOG_ERASE.
 *
 * The transfer is described by one cursor, (next_record, next_offset): the
 * first byte not received. Every chunk must start exactly there; a resume
 * is LOG_READ(next_record, remaining records, next_offset), so a transfer
 * broken anywhere (bad CRC, out-of-order chunk, early END, silence, link
 * loss) carries on from the same byte without a duplicate or a hole.
 * The one exception is a chunk the roller marks SKIPPED: its log has no
 * records between, and the cursor jumps to it (protocol/README.md 7.3).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "roller/protocol.h"
#include "roller/sync.h"

#define BUSY_RETRY_MS 500u
#define SYNC_FRUITLESS_RESUMES 20u
#define FILE_MONO_BASE_US 1000000u /* mono_us of SESSION START in a synced file */
#define MISSING_REASON "records are missing on the roller (a power cut, or damaged flash)"

struct sync_record {
	uint32_t number;
	uint16_t len;
	uint8_t data[PROTO_FRAME_ABS_MAX];
};

/* The session being assembled from records. */
struct sync_session {
	struct sync_record *records;
	size_t n, cap;
	bool open;        /* records are being collected */
	bool has_start;   /* begins with SESSION START (else: orphans) */
	const char *incomplete; /* why it is incomplete, or NULL */
};

enum sync_wait {
	WAIT_NONE = 0,
	WAIT_CONNECT,   /* CONNECTED + INFO */
	WAIT_RESPONSE,  /* a control response */
	WAIT_RECONNECT  /* after a link loss */
};

struct sync {
	sd_event *ev;
	struct sync_options opt;
	char sessions_dir[4096];
	char state_dir[4096];
	char address[64];
	struct transport *transport;
	sd_event_source *timer;      /* connect, response, chunk and retry timeouts */
	sd_event_source *done_source;
	bool finished;
	bool connected;
	bool have_info;
	struct proto_info info;
	uint8_t info_frame[PROTO_FRAME_MAX];
	size_t info_len;
	char last_detail[256];       /* from the transport's state reports */

	enum sync_phase phase;
	enum sync_wait wait;
	uint8_t token;
	uint8_t req_opcode, req_token;
	unsigned busy_retries;
	unsigned fruitless_resumes; /* resumes since the last byte accepted */

	/* Transfer */
	bool transfer;            /* LOG_READ accepted (or chunks already coming) */
	bool in_gap;              /* dropping chunks until END or silence */
	uint32_t range_first, range_end;
	uint32_t next_record;
	uint16_t next_offset;
	struct sync_record partial; /* bytes [0, next_offset) of next_record */
	struct sync_session session;
	uint32_t synced_to;

	struct sync_result result;
	struct sync_progress progress;
};

static void start_request_log_read(struct sync *s);
static void request_log_info(struct sync *s);
static void finish(struct sync *s, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- Small helpers -------------------------------------------------------------- */

static uint64_t wall_ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void arm_timer(struct sync *s, uint32_t ms)
{
	uint64_t now = 0;

	sd_event_now(s->ev, CLOCK_MONOTONIC, &now);
	sd_event_source_set_time(s->timer, now + (uint64_t)ms * 1000u);
	sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
}

static void disarm_timer(struct sync *s)
{
	sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
}

static void report_progress(struct sync *s)
{
	s->progress.phase = s->phase;
	s->progress.first_record = s->range_first;
	s->progress.end_record = s->range_end;
	s->progress.next_record = s->next_record;
	s->progress.records_total = s->range_end - s->range_first;
	s->progress.records_done = s->result.records;
	s->progress.bytes = s->result.bytes;
	s->progress.sessions_written = s->result.sessions_written;
	if (s->opt.progress)
		s->opt.progress(s->opt.userdata, &s->progress);
}

static void set_phase(struct sync *s, enum sync_phase phase)
{
	s->phase = phase;
	report_progress(s);
}

static int on_done_source(sd_event_source *src, void *userdata)
{
	struct sync *s = userdata;

	(void)src;
	if (s->opt.done)
		s->opt.done(s->opt.userdata, s->result.err);
	return 0;
}

static void finish(struct sync *s, int err, const char *fmt, ...)
{
	va_list ap;

	if (s->finished)
		return;
	s->finished = true;
	s->wait = WAIT_NONE;
	disarm_timer(s);
	s->result.err = err;
	s->result.synced_to = s->synced_to;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(s->result.detail, sizeof(s->result.detail), fmt, ap);
		va_end(ap);
	}
	if (err == 0)
		set_phase(s, SYNC_DONE);
	/* done() from the loop, never from inside a transport callback. */
	sd_event_source_set_enabled(s->done_source, SD_EVENT_ONESHOT);
}

/* ---- State file ------------------------------------------------------------------ */

static int mkdir_private(const char *dir)
{
	char path[4096];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int sync_state_load(const char *state_dir, uint32_t device_id, uint32_t *synced_to)
{
	char path[4200], text[128];
	unsigned long value;
	ssize_t n;
	int fd;

	if (!state_dir || !synced_to)
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/%08X.sync", state_dir, device_id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	text[n] = '\0';
	if (sscanf(text, "roller-sync 1\nsynced_to %lu\n", &value) != 1 || value > UINT32_MAX)
		return -EBADMSG;
	*synced_to = (uint32_t)value;
	return 0;
}

int sync_state_save(const char *state_dir, uint32_t device_id, uint32_t synced_to)
{
	char path[4200], tmp[4220], text[64];
	int fd, r, len;

	if (!state_dir)
		return -EINVAL;
	r = mkdir_private(state_dir);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/%08X.sync", state_dir, device_id);
	snprintf(tmp, sizeof(tmp), "%s/.%08X.sync.tmp", state_dir, device_id);
	len = snprintf(text, sizeof(text), "roller-sync 1\nsynced_to %u\n", synced_to);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, text, (size_t)len) != len || fsync(fd) < 0) {
		r = errno ? -errno : -EIO;
		close(fd);
		unlink(tmp);
		return r;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		r = -errno;
		unlink(tmp);
		return r;
	}
	return 0;
}

/* ---- Session files ----------------------------------------------------------------- */

static void session_reset(struct sync_session *ss)
{
	ss->n = 0;
	ss->open = false;
	ss->has_start = false;
	ss->incomplete = NULL;
}

static int session_append(struct sync_session *ss, const struct sync_record *rec)
{
	if (ss->n == ss->cap) {
		size_t cap = ss->cap ? ss->cap * 2 : 64;
		struct sync_record *r = realloc(ss->records, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		ss->records = r;
		ss->cap = cap;
	}
	ss->records[ss->n++] = *rec;
	return 0;
}

/* Device time of a record relative to the session start, in µs (0 when it
 * cannot be told). */
static uint64_t record_offset_us(const struct sync *s, const struct sync_record *rec,
				 uint32_t t0, uint32_t s0)
{
	struct proto_frame f;
	int32_t d;

	if (proto_frame_decode(rec->data, rec->len, &f) < 0)
		return 0;
	switch (f.type) {
	case PROTO_TYPE_MEASUREMENT:
		d = proto_seq_diff(t0, f.u.measurement.time);
		return d > 0 ? (uint64_t)d * 1000u : 0;
	case PROTO_TYPE_SESSION:
		d = proto_seq_diff(t0, f.u.session.time);
		return d > 0 ? (uint64_t)d * 1000u : 0;
	case PROTO_TYPE_EVENT:
		d = proto_seq_diff(s0, f.u.event.sample);
		return d > 0 ? (uint64_t)d * s->info.sample_period_us : 0;
	default:
		return 0;
	}
}

static int write_records(struct sync *s, struct rlog_writer *w, const struct sync_session *ss,
			 uint8_t region, uint64_t wall0_ms, uint32_t t0, uint32_t s0)
{
	char note[256];
	struct rlog_record rec;
	uint64_t last_us = 0;
	int r;

	rec = (struct rlog_record){ .kind = RLOG_FRAME_IN, .channel = RLOG_CH_INFO,
				    .mono_us = FILE_MONO_BASE_US, .wall_ms = wall0_ms,
				    .len = (uint16_t)s->info_len, .data = s->info_frame };
	r = rlog_writer_append(w, &rec);
	if (r < 0)
		return r;
	snprintf(note, sizeof(note), "sync: roller %08X over %s, log records %u..%u%s%s%s",
		 s->info.device_id, s->opt.transport->name, ss->records[0].number,
		 ss->records[ss->n - 1].number,
		 region == PROTO_REGION_NONE ? ", region not recorded by the roller" : "",
		 ss->incomplete ? ", incomplete: " : "", ss->incomplete ? ss->incomplete : "");
	rec = (struct rlog_record){ .kind = RLOG_NOTE, .mono_us = FILE_MONO_BASE_US,
				    .wall_ms = wall0_ms, .len = (uint16_t)strlen(note),
				    .data = (const uint8_t *)note };
	r = rlog_writer_append(w, &rec);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ss->n; i++) {
		const struct sync_record *sr = &ss->records[i];
		uint64_t off = record_offset_us(s, sr, t0, s0);

		/* Keep the file's time monotonic even when the device's is not. */
		if (off < last_us)
			off = last_us;
		last_us = off;
		if (i > 0 && sr->number != ss->records[i - 1].number + 1) {
			snprintf(note, sizeof(note), "sync: log records %u..%u are missing on the roller",
				 ss->records[i - 1].number + 1, sr->number - 1);
			rec = (struct rlog_record){ .kind = RLOG_NOTE, .mono_us = FILE_MONO_BASE_US + off,
						    .wall_ms = wall0_ms + off / 1000u,
						    .len = (uint16_t)strlen(note),
						    .data = (const uint8_t *)note };
			r = rlog_writer_append(w, &rec);
			if (r < 0)
				return r;
		}
		/* The log holds MEASUREMENT, EVENT and SESSION frames; the last two
		 * travel on the Event characteristic. */
		const enum rlog_channel ch = sr->data[1] == PROTO_TYPE_MEASUREMENT ?
						     RLOG_CH_MEASUREMENT :
						     RLOG_CH_EVENT;

		rec = (struct rlog_record){
			.kind = RLOG_FRAME_IN,
			.channel = (uint8_t)ch,
			.mono_us = FILE_MONO_BASE_US + off,
			.wall_ms = wall0_ms + off / 1000u,
			.len = sr->len,
			.data = sr->data,
		};
		r = rlog_writer_append(w, &rec);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Writes the collected session as <dir>/<name>.rlog (temporary + rename),
 * then moves synced_to past it. */
static int session_store(struct sync *s, uint32_t synced_to_after)
{
	struct sync_session *ss = &s->session;
	struct rlog_header h = s->opt.header;
	struct proto_session start;
	struct rlog_writer w;
	char name[160], tmp[176], stem[64], path[4400], tmp_path[4400];
	uint64_t wall0_ms;
	uint32_t t0 = 0, s0 = 0;
	struct stat st;
	int r, r2;

	if (ss->n == 0)
		return 0;
	memset(&start, 0, sizeof(start));
	if (ss->has_start && proto_session_decode(ss->records[0].data, ss->records[0].len, &start) == 0) {
		t0 = start.time;
		s0 = start.sample;
	} else {
		struct proto_measurement m;

		for (size_t i = 0; i < ss->n; i++)
			if (proto_measurement_decode(ss->records[i].data, ss->records[i].len, &m) == 0) {
				t0 = m.time;
				s0 = m.first_sample;
				break;
			}
	}
	wall0_ms = start.unix_time ? (uint64_t)start.unix_time * 1000u : wall_ms_now();
	if (start.unix_time) {
		time_t t = (time_t)start.unix_time;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(stem, sizeof(stem), "%Y%m%dT%H%M%SZ", &tm);
	} else {
		snprintf(stem, sizeof(stem), "undated");
	}
	snprintf(name, sizeof(name), "%s-%s-%08Xr%u.rlog", stem,
		 start.region <= PROTO_REGION_LAST ? proto_region_str(start.region) : "none",
		 s->info.device_id, ss->records[0].number);
	snprintf(path, sizeof(path), "%s/%s", s->sessions_dir, name);
	if (stat(path, &st) == 0) {
		/* Stored by an earlier sync whose state was lost. */
		s->result.sessions_existing++;
	} else {
		snprintf(tmp, sizeof(tmp), ".%s.part", name);
		snprintf(tmp_path, sizeof(tmp_path), "%s/%s", s->sessions_dir, tmp);
		unlink(tmp_path); /* left by a sync killed while writing */
		h.region = start.region;
		if (s->opt.fill_header)
			s->opt.fill_header(s->opt.userdata, start.region, &h);
		h.created_unix_ms = wall0_ms;
		if (!h.roller_id[0]) {
			if (s->address[0])
				snprintf(h.roller_id, sizeof(h.roller_id), "%.31s", s->address);
			else
				snprintf(h.roller_id, sizeof(h.roller_id), "roller-%08X", s->info.device_id);
		}
		snprintf(h.transport, sizeof(h.transport), "%s", s->opt.transport->name);
		h.fw_major = s->info.fw_major;
		h.fw_minor = s->info.fw_minor;
		h.fw_patch = s->info.fw_patch;
		h.proto_major = s->info.proto_major;
		h.proto_minor = s->info.proto_minor;
		h.calibration = s->info.calibration;
		h.sample_period_us = s->info.sample_period_us;
		r = rlog_writer_create(&w, s->sessions_dir, tmp, &h);
		if (r < 0)
			return r;
		r = write_records(s, &w, ss, start.region, wall0_ms, t0, s0);
		r2 = rlog_writer_close(&w);
		if (r == 0)
			r = r2;
		if (r == 0 && rename(tmp_path, path) < 0)
			r = -errno;
		if (r < 0) {
			unlink(tmp_path);
			return r;
		}
		s->result.sessions_written++;
		if (ss->incomplete)
			s->result.sessions_incomplete++;
		if (s->opt.session_written)
			s->opt.session_written(s->opt.userdata, path, ss->records[0].number,
					       ss->records[ss->n - 1].number + 1, ss->incomplete == NULL);
	}
	session_reset(ss);
	if (synced_to_after > s->synced_to) {
		s->synced_to = synced_to_after;
		s->result.synced_to = synced_to_after;
		r = sync_state_save(s->state_dir, s->info.device_id, s->synced_to);
		if (r < 0)
			return r;
	}
	return 0;
}

/* One complete, checked record, in order. */
static int record_complete(struct sync *s, const struct sync_record *rec)
{
	struct sync_session *ss = &s->session;
	struct proto_frame f;
	bool start = false, end = false;
	int r;

	if (proto_frame_decode(rec->data, rec->len, &f) < 0) {
		s->result.bad_records++;
	} else if (f.type == PROTO_TYPE_SESSION) {
		start = f.u.session.kind == PROTO_SESSION_START;
		end = f.u.session.kind == PROTO_SESSION_END;
	}
	if (start && ss->open) {
		/* A session cut short by power loss ends at its last record. */
		if (!ss->incomplete)
			ss->incomplete = ss->has_start ? "no end marker (power loss?)"
						       : "its start is not on the roller (recycled or lost)";
		r = session_store(s, rec->number);
		if (r < 0)
			return r;
	}
	if (!ss->open) {
		ss->open = true;
		ss->has_start = start;
	}
	r = session_append(ss, rec);
	if (r < 0)
		return r;
	if (end) {
		if (!ss->has_start && !ss->incomplete)
			ss->incomplete = "its start is not on the roller (recycled or lost)";
		r = session_store(s, rec->number + 1);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- Control requests -------------------------------------------------------------- */

static int send_request(struct sync *s, struct proto_control_request *req)
{
	uint8_t buf[PROTO_REQUEST_MAX];
	size_t len = 0;
	int r;

	req->token = ++s->token;
	r = proto_request_encode(req, buf, sizeof(buf), &len);
	if (r < 0)
		return r;
	r = s->opt.transport->write_control(s->transport, buf, len);
	if (r < 0)
		return r;
	s->req_opcode = req->opcode;
	s->req_token = req->token;
	s->wait = WAIT_RESPONSE;
	arm_timer(s, s->opt.control_timeout_ms);
	return 0;
}

/* The transport is not up (yet, or any more): the Info frame can arrive before
 * the Control Point is ready, and the link can drop between two requests. Wait
 * for it as after a link loss; link_up() carries on from where we were. */
static void wait_for_link(struct sync *s)
{
	s->transfer = false;
	s->in_gap = false;
	s->wait = WAIT_RECONNECT;
	set_phase(s, SYNC_RECONNECTING);
	arm_timer(s, s->opt.reconnect_timeout_ms);
}

static void request_log_info(struct sync *s)
{
	struct proto_control_request req = { .opcode = PROTO_OP_LOG_INFO };
	int r;

	set_phase(s, SYNC_LISTING);
	r = send_request(s, &req);
	if (r == -ENOTCONN)
		wait_for_link(s);
	else if (r < 0)
		finish(s, r, "cannot ask the roller for its log: %s", strerror(-r));
}

static void request_erase(struct sync *s)
{
	struct proto_control_request req = { .opcode = PROTO_OP_LOG_ERASE };
	int r;

	req.u.log_erase.end_record = s->synced_to;
	set_phase(s, SYNC_ERASING);
	r = send_request(s, &req);
	if (r == -ENOTCONN) {
		wait_for_link(s);
	} else if (r < 0) {
		s->result.erase_err = r;
		finish(s, 0, NULL);
	}
}

/* Everything wanted is stored (or the range was empty). */
static void download_finished(struct sync *s)
{
	s->transfer = false;
	s->wait = WAIT_NONE;
	disarm_timer(s);
	if (s->session.open) {
		/* Still being recorded: the next sync fetches it whole. */
		s->result.open_session_left = true;
		session_reset(&s->session);
	}
	if (s->opt.erase && s->synced_to > s->result.log_first) {
		request_erase(s);
		return;
	}
	if (s->opt.erase)
		s->result.erase_err = -ENODATA; /* nothing stored that the roller still holds */
	finish(s, 0, NULL);
}

static void start_request_log_read(struct sync *s)
{
	struct proto_control_request req = { .opcode = PROTO_OP_LOG_READ };
	uint32_t remaining = s->range_end - s->next_record;
	int r;

	if (s->next_record >= s->range_end) {
		download_finished(s);
		return;
	}
	req.u.log_read.first_record = s->next_record;
	req.u.log_read.count = (uint16_t)(remaining > 0xFFFFu ? 0xFFFFu : remaining);
	req.u.log_read.offset = s->next_offset;
	s->in_gap = false;
	s->transfer = true;
	set_phase(s, SYNC_DOWNLOADING);
	r = send_request(s, &req);
	if (r == -ENOTCONN)
		wait_for_link(s);
	else if (r < 0)
		finish(s, r, "cannot ask the roller for its log records: %s", strerror(-r));
}

static void resume(struct sync *s)
{
	s->result.resumes++;
	s->transfer = false;
	/* A roller that sends the same broken chunk again and again would keep
	 * us here forever: give up after a number of resumes without a byte. */
	if (++s->fruitless_resumes > SYNC_FRUITLESS_RESUMES) {
		finish(s, -EPROTO, "the roller keeps sending a broken transfer at log record %u "
				   "(offset %u); %u sessions were saved",
		       s->next_record, s->next_offset, s->result.sessions_written);
		return;
	}
	start_request_log_read(s);
}

/* A chunk that is not the next byte, or fails its CRC: drop the rest of this
 * transfer, wait for its END (or silence), then resume from the cursor. */
static void gap(struct sync *s)
{
	s->result.gaps++;
	s->in_gap = true;
	arm_timer(s, s->opt.chunk_timeout_ms);
}

static void on_chunk(struct sync *s, const uint8_t *buf, size_t len)
{
	struct proto_log_chunk c;
	int r;

	if (!s->transfer)
		return; /* late, from a transfer already given up */
	arm_timer(s, s->opt.chunk_timeout_ms);
	r = proto_log_chunk_decode(buf, len, &c);
	if (r < 0) {
		if (!s->in_gap)
			gap(s);
		return;
	}
	if (s->in_gap) {
		if (c.flags & PROTO_CHUNK_END)
			resume(s);
		return;
	}
	if ((c.flags & PROTO_CHUNK_SKIPPED) && s->next_offset == 0 && c.record > s->next_record &&
	    c.record <= s->range_end) {
		/* The roller's log has nothing between: accept the jump. The
		 * session it happens in lacks those records. */
		s->result.records_missing += c.record - s->next_record;
		if (s->session.open && !s->session.incomplete)
			s->session.incomplete = MISSING_REASON;
		s->next_record = c.record;
	}
	if (c.len == 0) {
		/* Empty END: nothing (more) to send, or the roller stopped early. */
		if (s->next_record >= s->range_end)
			download_finished(s);
		else
			resume(s);
		return;
	}
	if (c.record != s->next_record || c.offset != s->next_offset ||
	    (size_t)c.offset + c.len > sizeof(s->partial.data)) {
		gap(s);
		if (c.flags & PROTO_CHUNK_END)
			resume(s);
		return;
	}
	s->fruitless_resumes = 0;
	memcpy(s->partial.data + c.offset, c.data, c.len);
	s->next_offset = (uint16_t)(s->next_offset + c.len);
	s->result.bytes += c.len;
	if (c.flags & PROTO_CHUNK_LAST_IN_RECORD) {
		s->partial.number = s->next_record;
		s->partial.len = s->next_offset;
		if (s->partial.len < PROTO_HEADER_SIZE ||
		    s->partial.len != PROTO_HEADER_SIZE + s->partial.data[2])
			s->result.bad_records++;
		s->next_record++;
		s->next_offset = 0;
		s->result.records++;
		r = record_complete(s, &s->partial);
		if (r < 0) {
			finish(s, r, "cannot store a synced session in %s: %s", s->sessions_dir,
			       strerror(-r));
			return;
		}
		report_progress(s);
	}
	if (c.flags & PROTO_CHUNK_END) {
		if (s->next_record >= s->range_end)
			download_finished(s);
		else
			resume(s);
	}
}

static void on_response(struct sync *s, const uint8_t *buf, size_t len)
{
	struct proto_control_response rsp;
	int r;

	r = proto_response_decode(buf, len, &rsp);
	if (r < 0 && r != -EOPNOTSUPP)
		return;
	if (s->wait != WAIT_RESPONSE || rsp.opcode != s->req_opcode || rsp.token != s->req_token)
		return; /* late, or not ours */
	s->wait = WAIT_NONE;
	disarm_timer(s);
	switch (rsp.opcode) {
	case PROTO_OP_LOG_INFO:
		if (rsp.status != PROTO_STATUS_OK) {
			finish(s, proto_status_to_errno(rsp.status), "the roller refused LOG_INFO: %s",
			       proto_status_str(rsp.status));
			return;
		}
		s->result.log_first = rsp.u.log_info.first_record;
		s->result.log_end = rsp.u.log_info.end_record;
		s->result.log_sessions = rsp.u.log_info.sessions;
		if (s->range_end == 0 && s->range_first == 0) {
			/* First listing of this run. Record numbers never go back
			 * on a roller, unless its flash was erased or it was
			 * reflashed: then its log starts again and is synced
			 * whole (the files kept here stay; their names carry the
			 * session's start time, so they do not collide). */
			if (s->synced_to > rsp.u.log_info.end_record) {
				s->result.log_restarted = true;
				s->synced_to = rsp.u.log_info.first_record;
			}
			s->range_end = rsp.u.log_info.end_record;
			s->range_first = s->synced_to > rsp.u.log_info.first_record ?
						 s->synced_to : rsp.u.log_info.first_record;
			if (s->range_first > s->range_end)
				s->range_first = s->range_end;
			s->next_record = s->range_first;
			s->next_offset = 0;
		} else if (s->next_record < rsp.u.log_info.first_record) {
			/* After NOT_FOUND: the records we wanted are gone. */
			if (s->session.open) {
				s->session.incomplete = "the rest was recycled on the roller during the sync";
				r = session_store(s, s->session.records[s->session.n - 1].number + 1);
				if (r < 0) {
					finish(s, r, "cannot store a synced session: %s", strerror(-r));
					return;
				}
			}
			s->next_record = rsp.u.log_info.first_record;
			s->next_offset = 0;
			if (s->next_record > s->range_end)
				s->range_end = s->next_record;
		}
		start_request_log_read(s);
		return;
	case PROTO_OP_LOG_READ:
		if (rsp.status == PROTO_STATUS_OK) {
			s->busy_retries = 0;
			if (s->transfer && !s->in_gap)
				arm_timer(s, s->opt.chunk_timeout_ms);
			return;
		}
		s->transfer = false;
		if (rsp.status == PROTO_STATUS_BUSY && s->busy_retries++ < SYNC_BUSY_RETRIES) {
			/* The roller is still finishing the transfer we gave up. */
			s->wait = WAIT_RESPONSE; /* the timer resends */
			s->req_opcode = 0;
			arm_timer(s, BUSY_RETRY_MS);
			return;
		}
		if (rsp.status == PROTO_STATUS_NOT_FOUND) {
			request_log_info(s);
			return;
		}
		finish(s, proto_status_to_errno(rsp.status),
		       "the roller refused LOG_READ(%u, offset %u): %s", s->next_record,
		       s->next_offset, proto_status_str(rsp.status));
		return;
	case PROTO_OP_LOG_ERASE:
		if (rsp.status == PROTO_STATUS_OK) {
			s->result.erased = true;
			s->result.erased_below = s->synced_to;
		} else {
			s->result.erase_err = proto_status_to_errno(rsp.status);
		}
		finish(s, 0, NULL);
		return;
	default:
		return;
	}
}

/* ---- Transport events -------------------------------------------------------------------- */


/* Reconnected (or connected at last): carry on from the first byte not
 * received. Called on the Info frame and on the CONNECTED state, whichever
 * comes first; the other finds nothing to do. */
static void link_up(struct sync *s)
{
	if (s->wait != WAIT_RECONNECT)
		return;
	s->wait = WAIT_NONE;
	disarm_timer(s);
	if (s->phase == SYNC_ERASING) {
		request_erase(s);
	} else if (s->range_end == 0 && s->range_first == 0) {
		request_log_info(s);
	} else {
		resume(s);
	}
}

static void on_info(struct sync *s, const uint8_t *buf, size_t len)
{
	struct proto_info info;
	int r;

	if (proto_info_decode(buf, len, &info) < 0)
		return;
	if (info.proto_major != PROTO_VERSION) {
		finish(s, -EPROTONOSUPPORT,
		       "the roller speaks protocol %u.%u; this roller speaks %u.%u: update %s",
		       info.proto_major, info.proto_minor, PROTO_VERSION, PROTO_VERSION_MINOR,
		       info.proto_major > PROTO_VERSION ? "roller" : "the roller's firmware");
		return;
	}
	if (!(info.capabilities & PROTO_CAP_LOG)) {
		finish(s, -EOPNOTSUPP, "this roller keeps no session log (no LOG capability): "
				       "nothing to sync");
		return;
	}
	if (s->have_info && info.device_id != s->info.device_id) {
		finish(s, -ESTALE, "another roller (%08X) answered instead of %08X: sync one roller "
				   "at a time", info.device_id, s->info.device_id);
		return;
	}
	memcpy(s->info_frame, buf, len);
	s->info_len = len;
	s->info = info;
	s->result.device_id = info.device_id;
	if (s->address[0])
		snprintf(s->result.roller_id, sizeof(s->result.roller_id), "%.31s", s->address);
	else
		snprintf(s->result.roller_id, sizeof(s->result.roller_id), "roller-%08X",
			 info.device_id);

	if (!s->have_info) {
		s->have_info = true;
		r = sync_state_load(s->state_dir, info.device_id, &s->synced_to);
		if (r == -ENOENT) {
			s->synced_to = 0;
		} else if (r < 0) {
			finish(s, r, "cannot read the sync state of roller %08X in %s: %s",
			       info.device_id, s->state_dir, strerror(-r));
			return;
		}
		s->result.synced_before = s->synced_to;
		s->result.synced_to = s->synced_to;
		s->wait = WAIT_NONE;
		disarm_timer(s);
		request_log_info(s);
		return;
	}
	link_up(s);
}

static void on_frame(void *userdata, enum rlog_channel ch, const uint8_t *buf, size_t len,
		     uint64_t mono_us)
{
	struct sync *s = userdata;

	(void)ch;
	(void)mono_us;
	if (s->finished || len < PROTO_HEADER_SIZE)
		return;
	switch (buf[1]) {
	case PROTO_TYPE_INFO:
		on_info(s, buf, len);
		break;
	case PROTO_TYPE_CONTROL_RESPONSE:
		on_response(s, buf, len);
		break;
	case PROTO_TYPE_LOG_CHUNK:
		on_chunk(s, buf, len);
		break;
	default:
		break; /* live measurements and events are not the sync's business */
	}
}

static void on_state(void *userdata, enum transport_state st, int err, const char *detail)
{
	struct sync *s = userdata;

	if (s->finished)
		return;
	if (detail)
		snprintf(s->last_detail, sizeof(s->last_detail), "%s", detail);
	switch (st) {
	case TRANSPORT_CONNECTING:
		return;
	case TRANSPORT_CONNECTED:
		s->connected = true;
		if (s->have_info)
			link_up(s);
		return;
	case TRANSPORT_LINK_LOST:
		s->connected = false;
		if (!s->have_info)
			return; /* still connecting */
		s->result.link_losses++;
		s->transfer = false;
		s->in_gap = false;
		s->wait = WAIT_RECONNECT;
		set_phase(s, SYNC_RECONNECTING);
		arm_timer(s, s->opt.reconnect_timeout_ms);
		return;
	case TRANSPORT_ENDED:
		finish(s, -ECONNRESET, "the roller went away after %u of %u records; %u sessions "
				       "were saved: run roller sync again for the rest",
		       s->result.records, s->range_end - s->range_first, s->result.sessions_written);
		return;
	case TRANSPORT_FAILED:
		finish(s, err < 0 ? err : -EIO, "%s", detail ? detail : "the link failed");
		return;
	}
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct sync *s = userdata;

	(void)src;
	(void)usec;
	if (s->finished)
		return 0;
	if (!s->have_info) {
		finish(s, -ETIMEDOUT, "no roller answered within %u s%s%s",
		       s->opt.connect_timeout_ms / 1000u, s->last_detail[0] ? ": " : "",
		       s->last_detail);
		return 0;
	}
	switch (s->wait) {
	case WAIT_RECONNECT:
		finish(s, -ETIMEDOUT, "the roller did not come back within %u s; %u sessions were "
				      "saved: run roller sync again for the rest",
		       s->opt.reconnect_timeout_ms / 1000u, s->result.sessions_written);
		return 0;
	case WAIT_RESPONSE:
		if (s->req_opcode == 0) {
			/* BUSY retry delay over: ask again. */
			s->wait = WAIT_NONE;
			start_request_log_read(s);
			return 0;
		}
		finish(s, -ETIMEDOUT, "the roller did not answer %s within %u s",
		       proto_opcode_str(s->req_opcode), s->opt.control_timeout_ms / 1000u);
		return 0;
	case WAIT_NONE:
	case WAIT_CONNECT:
		if (s->transfer) {
			/* Silence in a transfer (or in a gap): resume from the cursor. */
			resume(s);
		}
		return 0;
	}
	return 0;
}

/* ---- Lifecycle ------------------------------------------------------------------------------ */

void sync_destroy(struct sync *s)
{
	if (!s)
		return;
	if (s->transport)
		s->opt.transport->destroy(s->transport);
	sd_event_source_disable_unref(s->timer);
	sd_event_source_disable_unref(s->done_source);
	free(s->session.records);
	sd_event_unref(s->ev);
	free(s);
}

int sync_create(struct sync **out, sd_event *ev, const struct sync_options *opt)
{
	static const struct transport_events events = {
		.frame = on_frame,
		.state = on_state,
		.input = NULL,
	};
	struct sync *s;
	int r;

	if (!out || !ev || !opt || !opt->transport || !opt->sessions_dir || !opt->state_dir)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ev = sd_event_ref(ev);
	s->opt = *opt;
	snprintf(s->sessions_dir, sizeof(s->sessions_dir), "%s", opt->sessions_dir);
	snprintf(s->state_dir, sizeof(s->state_dir), "%s", opt->state_dir);
	if (opt->transport_options.address)
		snprintf(s->address, sizeof(s->address), "%s", opt->transport_options.address);
	s->opt.sessions_dir = s->sessions_dir;
	s->opt.state_dir = s->state_dir;
	s->opt.transport_options.address = s->address[0] ? s->address : NULL;
	if (!s->opt.control_timeout_ms)
		s->opt.control_timeout_ms = SYNC_CONTROL_TIMEOUT_MS;
	if (!s->opt.chunk_timeout_ms)
		s->opt.chunk_timeout_ms = SYNC_CHUNK_TIMEOUT_MS;
	if (!s->opt.connect_timeout_ms)
		s->opt.connect_timeout_ms = SYNC_CONNECT_TIMEOUT_MS;
	if (!s->opt.reconnect_timeout_ms)
		s->opt.reconnect_timeout_ms = SYNC_RECONNECT_TIMEOUT_MS;
	s->result.erase_requested = opt->erase;
	s->phase = SYNC_CONNECTING;

	r = sd_event_add_time(ev, &s->timer, CLOCK_MONOTONIC, 0, 1000, on_timer, s);
	if (r >= 0)
		r = sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
	if (r >= 0)
		r = sd_event_add_defer(ev, &s->done_source, on_done_source, s);
	if (r >= 0)
		r = sd_event_source_set_enabled(s->done_source, SD_EVENT_OFF);
	if (r < 0)
		goto fail;
	r = opt->transport->create(&s->transport, ev, &s->opt.transport_options, &events, s);
	if (r < 0)
		goto fail;
	s->wait = WAIT_CONNECT;
	arm_timer(s, s->opt.connect_timeout_ms);
	*out = s;
	return 0;
fail:
	sync_destroy(s);
	return r;
}

void sync_get_result(const struct sync *s, struct sync_result *out)
{
	*out = s->result;
}
