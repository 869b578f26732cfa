/*
 * history_bench: the costs of keeping sessions, each as a ratio to a
 * baseline measured in the same run on the same data.
 *
 *   1. Replay of a one-hour 50 Hz session as fast as possible (what `roller
 *      replay --max --summary` runs: the replay transport, the session glue
 *      and the coach on an sd-event loop, summary only), against reading the
 *      same file raw (read(2) into memory) and against the rlog reader's
 *      checked pass over it. Goal: within 3x and under 100 ms. Also the
 *      history summary of the same log (a checked pass plus the replay), and
 *      the roller binary itself, exec included, when its path is known.
 *      Two floors show what any replay of this format must at least spend:
 *      zlib's CRC-32 over every record (each record carries one, and a
 *      checked read has to verify it) and the coach fed the decoded
 *      samples straight from memory (no file, no loop, no session).
 *   2. rlog append per frame (CRC, framing, write, the 1 s fdatasync policy)
 *      against one raw write(2) of the same record bytes.
 *   3. `roller sessions` over 1,000 indexed sessions (sync check of every
 *      file, the query, the lines) against a bare SQLite SELECT of the same
 *      rows; also the binary with exec, and the first indexing of the 1,000.
 *
 * Usage: history_bench [DIR]   (scratch directory, default $TMPDIR or /tmp;
 * about 100 MB while it runs, removed at the end). Figures are the best of
 * RUNS runs, so one preemption on a shared machine does not decide them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#include <zlib.h>
#include <systemd/sd-event.h>

#include "roller/coach.h"
#include "roller/history.h"
#include "roller/protocol.h"
#include "roller/rlog.h"
#include "roller/session.h"
#include "roller/transport.h"
#include "roller/ui.h"

#include "synth.h"

#ifndef ROLLER_BENCH_BUILD_TYPE
#define ROLLER_BENCH_BUILD_TYPE "unknown"
#endif
#ifndef ROLLER_BENCH_ROLLER
#define ROLLER_BENCH_ROLLER ""
#endif

#define RUNS 7
#define INDEXED 1000

extern char **environ;

static volatile uint64_t sink;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static __attribute__((noreturn)) void die(const char *what, int err)
{
	fprintf(stderr, "history_bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* ---- 1. Replay -------------------------------------------------------------------- */

static double read_raw(const char *path)
{
	static char buf[1 << 16];
	double t0 = now_s();
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	uint64_t total = 0;

	if (fd < 0)
		die(path, errno);
	/* The whole file into memory, as the reader does, but nothing else. */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += (uint64_t)n + (unsigned char)buf[0];
	close(fd);
	sink += total;
	return now_s() - t0;
}

static double read_records(const char *path)
{
	struct rlog_reader reader;
	struct rlog_record rec;
	double t0 = now_s();
	int r = rlog_reader_open(&reader, path);

	if (r < 0)
		die(path, r);
	while ((r = rlog_reader_next(&reader, &rec)) > 0)
		sink += rec.len;
	rlog_reader_close(&reader);
	return now_s() - t0;
}

struct run_done {
	sd_event *ev;
	int err;
};

static void on_done(void *userdata, int err)
{
	struct run_done *d = userdata;

	d->err = err;
	sd_event_exit(d->ev, 0);
}

/* cmd_replay + app_run_session for `--max --summary`, minus signals and
 * process start-up; the summary goes to /dev/null. */
static double replay_max(const char *path, FILE *devnull)
{
	struct run_done done = { 0 };
	struct session_options sopt;
	struct ui_options uopt;
	struct rlog_reader reader;
	struct session *s = NULL;
	struct ui *ui = NULL;
	double t0 = now_s();
	int r;

	r = rlog_reader_open(&reader, path);
	if (r < 0)
		die(path, r);
	memset(&sopt, 0, sizeof(sopt));
	sopt.header = reader.header;
	rlog_reader_close(&reader);
	sopt.transport = transport_find("replay");
	sopt.replay = true;
	sopt.transport_options.path = path;
	sopt.transport_options.speed = 0;
	sopt.done = on_done;
	sopt.userdata = &done;
	memset(&uopt, 0, sizeof(uopt));
	uopt.mode = UI_MODE_PLAIN;
	uopt.out = devnull;
	uopt.notices = devnull;
	uopt.summary_only = true;
	if (sd_event_new(&done.ev) < 0 || ui_create(&ui, done.ev, &uopt) < 0 ||
	    session_create(&s, done.ev, ui, &sopt) < 0)
		die("replay set-up", EIO);
	sd_event_loop(done.ev);
	if (done.err < 0)
		die("replay", done.err);
	sink += session_coach(s) ? coach_state(session_coach(s))->samples : 0;
	ui_close(ui);
	session_destroy(s);
	ui_destroy(ui);
	sd_event_unref(done.ev);
	return now_s() - t0;
}

static double summarize(const char *path)
{
	struct sindex_row row;
	double t0 = now_s();
	int r = history_summarize(path, &row);

	if (r < 0)
		die(path, r);
	sink += row.holds;
	return now_s() - t0;
}

/* Runs argv with stdout and stderr to /dev/null; returns the wall time. */
static double spawn(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	double t0 = now_s();
	pid_t pid;
	int status, r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		die(argv[0], r);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die(argv[1], EIO);
	return now_s() - t0;
}

static double best(double (*fn)(const char *), const char *arg)
{
	double b = 1e9;

	for (int i = 0; i < RUNS; i++) {
		double t = fn(arg);

		if (t < b)
			b = t;
	}
	return b;
}

/* The records of a log in memory, for the floors below. */
struct loaded {
	struct rlog_reader reader;
	size_t n;
	size_t *start, *size; /* each record's bytes: head + payload (+ CRC) */
	struct proto_measurement *meas;
	size_t n_meas;
	uint16_t period_us;
};

static void load(struct loaded *l, const char *path)
{
	struct rlog_record rec;
	size_t cap = 0, pos;
	int r;

	memset(l, 0, sizeof(*l));
	r = rlog_reader_open(&l->reader, path);
	if (r < 0)
		die(path, r);
	for (pos = l->reader.pos; (r = rlog_reader_next(&l->reader, &rec)) > 0; pos = l->reader.pos) {
		struct proto_header fh;
		struct proto_info info;

		if (l->n == cap) {
			cap = cap ? cap * 2 : 4096;
			l->start = realloc(l->start, cap * sizeof(*l->start));
			l->size = realloc(l->size, cap * sizeof(*l->size));
			l->meas = realloc(l->meas, cap * sizeof(*l->meas));
			if (!l->start || !l->size || !l->meas)
				die("load", ENOMEM);
		}
		l->start[l->n] = pos;
		l->size[l->n] = l->reader.pos - pos;
		l->n++;
		if (rec.kind != RLOG_FRAME_IN || proto_header_decode(rec.data, rec.len, &fh) < 0)
			continue;
		if (fh.type == PROTO_TYPE_INFO && proto_info_decode(rec.data, rec.len, &info) == 0)
			l->period_us = info.sample_period_us;
		else if (fh.type == PROTO_TYPE_MEASUREMENT &&
			 proto_measurement_decode(rec.data, rec.len, &l->meas[l->n_meas]) == 0)
			l->n_meas++;
	}
	if (r < 0)
		die(path, r);
}

static void unload(struct loaded *l)
{
	rlog_reader_close(&l->reader);
	free(l->start);
	free(l->size);
	free(l->meas);
}

static double crc_file(const struct loaded *l)
{
	double t0 = now_s();

	sink += crc32_z(0, l->reader.buf, l->reader.len);
	return now_s() - t0;
}

static double crc_records(const struct loaded *l)
{
	double t0 = now_s();
	uint32_t x = 0;

	for (size_t i = 0; i < l->n; i++)
		x ^= (uint32_t)crc32_z(0, l->reader.buf + l->start[i], l->size[i] - 4u);
	sink += x;
	return now_s() - t0;
}

static double coach_only(const struct loaded *l)
{
	static struct coach coach;
	struct coach_config cfg;
	double t0 = now_s();

	if (session_coach_config(&l->reader.header, l->period_us, &cfg) < 0 ||
	    coach_init(&coach, &cfg) < 0)
		die("coach set-up", EINVAL);
	for (size_t i = 0; i < l->n_meas; i++)
		coach_feed_measurement(&coach, &l->meas[i]);
	sink += coach_state(&coach)->samples;
	return now_s() - t0;
}

static double best_of(double (*fn)(const struct loaded *), const struct loaded *l)
{
	double b = 1e9;

	for (int i = 0; i < RUNS; i++) {
		double t = fn(l);

		if (t < b)
			b = t;
	}
	return b;
}

static void bench_replay(const char *dir)
{
	struct synth_options o;
	char path[4200];
	char *const cli[] = { (char *)ROLLER_BENCH_ROLLER, "replay", "--max", "--summary", path, NULL };
	double raw, records, replay = 1e9, history, exec = 0, crc_all, crc_each, coach;
	struct loaded l;
	FILE *devnull = fopen("/dev/null", "w");
	struct stat st;

	synth_defaults(&o);
	o.seconds = 3600;
	o.reps = 10;
	o.hold_s = 290;
	o.rest_s = 60;
	o.dip_ms = 600;
	if (synth_write(dir, "hour.rlog", &o) < 0)
		die("writing the one-hour log", EIO);
	snprintf(path, sizeof(path), "%s/hour.rlog", dir);
	stat(path, &st);

	raw = best(read_raw, path);
	records = best(read_records, path);
	load(&l, path);
	crc_all = best_of(crc_file, &l);
	crc_each = best_of(crc_records, &l);
	coach = best_of(coach_only, &l);
	if (l.n_meas == 0 || l.period_us == 0)
		die("the one-hour log has no INFO or no measurements", EBADMSG);
	for (int i = 0; i < RUNS; i++) {
		double t = replay_max(path, devnull);

		if (t < replay)
			replay = t;
	}
	history = best(summarize, path);
	if (ROLLER_BENCH_ROLLER[0] && access(ROLLER_BENCH_ROLLER, X_OK) == 0) {
		exec = 1e9;
		for (int i = 0; i < RUNS; i++) {
			double t = spawn(cli);

			if (t < exec)
				exec = t;
		}
	}
	fclose(devnull);

	printf("1. replay of a one-hour 50 Hz session (%u samples, %lld bytes, batches of %u)\n",
	       o.seconds * 50u, (long long)st.st_size, o.batch);
	printf("   %-44s %9.2f ms\n", "read(2) of the file (baseline)", raw * 1e3);
	printf("   %-44s %9.2f ms  %6.1fx raw\n", "rlog reader, every record checked", records * 1e3,
	       records / raw);
	printf("   %-44s %9.2f ms  %6.1fx raw\n", "floor: zlib crc32 of the file, one call", crc_all * 1e3,
	       crc_all / raw);
	printf("   %-44s %9.2f ms  %6.1fx raw\n", "floor: zlib crc32 of each record", crc_each * 1e3,
	       crc_each / raw);
	printf("   %-44s %9.2f ms  %6.1fx raw  (%.1f ns/sample, %zu batches)\n",
	       "floor: coach fed decoded batches from memory", coach * 1e3, coach / raw,
	       coach * 1e9 / ((double)l.n_meas * o.batch), l.n_meas);
	printf("   %-44s %9.2f ms  %6.1fx raw\n", "floor: the two together", (crc_each + coach) * 1e3,
	       (crc_each + coach) / raw);
	unload(&l);
	printf("   %-44s %9.2f ms  %6.1fx raw  %5.1fx reader  goal: <= 3x raw, < 100 ms: %s\n",
	       "replay --max --summary (in-process)", replay * 1e3, replay / raw, replay / records,
	       replay <= 3 * raw && replay < 0.1 ? "met" : replay < 0.1 ? "under 100 ms, not 3x" :
	       "NOT met");
	printf("   %-44s %9.2f ms  %6.1fx raw\n", "history summary (checked pass + replay)",
	       history * 1e3, history / raw);
	if (exec > 0)
		printf("   %-44s %9.2f ms  %6.1fx raw\n", "roller replay --max --summary (exec)",
		       exec * 1e3, exec / raw);
}

/* ---- 2. Append ---------------------------------------------------------------------- */

static void bench_append(const char *dir)
{
	enum { FRAMES = 36000 }; /* one hour of 5-sample batches at 50 Hz */
	struct rlog_header h;
	struct rlog_writer w;
	struct proto_measurement m;
	uint8_t frame[PROTO_FRAME_ABS_MAX], *file;
	size_t len = 0;
	char path[4200], raw_path[4200];
	double append = 1e9, raw = 1e9;
	struct stat st;

	memset(&h, 0, sizeof(h));
	h.sample_period_us = 20000;
	h.body_weight_dkg = 750;
	h.region = PROTO_REGION_CALVES;
	memset(&m, 0, sizeof(m));
	m.count = 5;
	m.flags = PROTO_MEAS_CALIBRATED;
	for (int i = 0; i < 5; i++)
		m.force[i] = (int16_t)(2200 + i);
	if (proto_measurement_encode(&m, frame, sizeof(frame), &len) < 0)
		die("encode", EINVAL);

	for (int run = 0; run < RUNS; run++) {
		char name[32];
		double t0;

		snprintf(name, sizeof(name), "append%d.rlog", run);
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if (rlog_writer_create(&w, dir, name, &h) < 0)
			die("rlog_writer_create", EIO);
		t0 = now_s();
		for (uint32_t i = 0; i < FRAMES; i++) {
			struct rlog_record rec = {
				.kind = RLOG_FRAME_IN, .channel = RLOG_CH_MEASUREMENT,
				.mono_us = 1000000u + i * 100000ull, .wall_ms = 1767600000000ull + i * 100u,
				.len = (uint16_t)len, .data = frame,
			};

			if (rlog_writer_append(&w, &rec) < 0)
				die("rlog_writer_append", EIO);
		}
		t0 = now_s() - t0;
		rlog_writer_close(&w);
		if (t0 < append)
			append = t0;
		if (run)
			unlink(path);
	}

	/* The baseline writes exactly the record bytes rlog wrote, one write(2) each. */
	snprintf(path, sizeof(path), "%s/append0.rlog", dir);
	if (stat(path, &st) < 0)
		die(path, errno);
	file = malloc((size_t)st.st_size);
	{
		int fd = open(path, O_RDONLY);

		if (!file || fd < 0 || read(fd, file, (size_t)st.st_size) != st.st_size)
			die("reading back", EIO);
		close(fd);
	}
	for (int run = 0; run < RUNS; run++) {
		size_t record = 22u + len + 4u, offset = 90u;
		double t0;
		int fd;

		snprintf(raw_path, sizeof(raw_path), "%s/raw.bin", dir);
		fd = open(raw_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			die(raw_path, errno);
		t0 = now_s();
		for (uint32_t i = 0; i < FRAMES; i++, offset += record)
			if (write(fd, file + offset, record) != (ssize_t)record)
				die("write", errno);
		t0 = now_s() - t0;
		close(fd);
		if (t0 < raw)
			raw = t0;
	}
	free(file);
	unlink(raw_path);
	unlink(path);
	printf("\n2. rlog append, %d frames of %zu bytes (%zu-byte records)\n", FRAMES, len,
	       22u + len + 4u);
	printf("   %-44s %9.0f ns/frame\n", "write(2) of the same record bytes (baseline)",
	       raw / FRAMES * 1e9);
	printf("   %-44s %9.0f ns/frame  %5.1fx raw\n", "rlog_writer_append (CRC, framing, fdatasync/s)",
	       append / FRAMES * 1e9, append / raw);
}

/* ---- 3. sessions over 1,000 --------------------------------------------------------- */

static double bare_select(const char *db)
{
	sqlite3 *conn;
	sqlite3_stmt *st;
	double t0 = now_s();
	unsigned rows = 0;

	if (sqlite3_open_v2(db, &conn, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		die(db, EIO);
	if (sqlite3_prepare_v2(conn, "SELECT * FROM sessions ORDER BY started_unix_ms, id", -1, &st,
			       NULL) != SQLITE_OK)
		die("prepare", EIO);
	while (sqlite3_step(st) == SQLITE_ROW) {
		for (int c = 0; c < sqlite3_column_count(st); c++)
			sink += (uint64_t)sqlite3_column_int64(st, c) +
				(uint64_t)sqlite3_column_bytes(st, c);
		rows++;
	}
	sqlite3_finalize(st);
	sqlite3_close(conn);
	if (rows != INDEXED)
		die("bare select: wrong row count", EIO);
	return now_s() - t0;
}

struct lines {
	FILE *out;
	unsigned n;
};

static int print_row(void *userdata, const struct sindex_row *row)
{
	struct lines *l = userdata;

	fprintf(l->out, "%4lld  %lld  %-11s %8u  %5u  %4u  %7u  %6.1f  %6.1f  %s\n",
		(long long)row->id, (long long)row->started_unix_ms, proto_region_str(row->region),
		row->duration_ms, row->holds, row->holds_complete, row->in_band_ms,
		row->mean_force_dn / 10.0, row->peak_force_dn / 10.0, row->path);
	l->n++;
	return 0;
}

/* What `roller sessions` does after start-up: open the index, check every
 * log against its row, query, print. */
static const char *list_dir;
static const char *list_db;

static double list_in_process(const char *unused)
{
	struct history_sync_result res;
	struct sindex *ix;
	struct lines l = { fopen("/dev/null", "w"), 0 };
	double t0 = now_s();

	(void)unused;
	if (!l.out || history_index_open(list_db, false, &ix) < 0)
		die("index", EIO);
	if (history_sync(ix, list_dir, false, NULL, NULL, &res) < 0 || res.unchanged != INDEXED)
		die("sync", EIO);
	if (sindex_query(ix, NULL, print_row, &l) < 0 || l.n != INDEXED)
		die("query", EIO);
	sindex_close(ix);
	fclose(l.out);
	return now_s() - t0;
}

static void bench_sessions(const char *dir)
{
	char data[4200], sessions[4300], db[4300], env[4300];
	char *const cli[] = { (char *)ROLLER_BENCH_ROLLER, "sessions", NULL };
	struct history_sync_result res;
	struct synth_options o;
	struct sindex *ix;
	double first, select, list, exec = 0;

	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(sessions, sizeof(sessions), "%s/roller/sessions", data);
	snprintf(db, sizeof(db), "%s/roller/index.sqlite", data);
	synth_defaults(&o);
	o.seconds = 20;
	o.reps = 1;
	o.hold_s = 10;
	for (unsigned i = 0; i < INDEXED; i++) {
		char name[64];

		snprintf(name, sizeof(name), "s%04u.rlog", i);
		o.created_unix_ms += 86400000ull / 3u;
		o.region = (uint8_t)(1 + i % PROTO_REGION_LAST);
		if (synth_write(sessions, name, &o) < 0)
			die("writing 1,000 logs", EIO);
	}
	if (history_index_open(db, false, &ix) < 0)
		die(db, EIO);
	first = now_s();
	if (history_sync(ix, sessions, false, NULL, NULL, &res) < 0 || res.indexed != INDEXED)
		die("first indexing", EIO);
	first = now_s() - first;
	sindex_close(ix);

	list_dir = sessions;
	list_db = db;
	select = best(bare_select, db);
	list = best(list_in_process, NULL);
	if (ROLLER_BENCH_ROLLER[0] && access(ROLLER_BENCH_ROLLER, X_OK) == 0) {
		snprintf(env, sizeof(env), "%s", data);
		setenv("XDG_DATA_HOME", env, 1);
		exec = 1e9;
		for (int i = 0; i < RUNS; i++) {
			double t = spawn(cli);

			if (t < exec)
				exec = t;
		}
	}
	printf("\n3. roller sessions over %d indexed sessions\n", INDEXED);
	printf("   %-44s %9.2f ms\n", "bare SQLite SELECT of the rows (baseline)", select * 1e3);
	printf("   %-44s %9.2f ms  %5.1fx select\n", "sessions in-process (stat check, query, lines)",
	       list * 1e3, list / select);
	if (exec > 0)
		printf("   %-44s %9.2f ms  %5.1fx select\n", "roller sessions (exec)", exec * 1e3,
		       exec / select);
	printf("   %-44s %9.2f ms  (%.2f ms per 20 s log)\n", "first indexing of the 1,000 logs",
	       first * 1e3, first * 1e3 / INDEXED);
}

int main(int argc, char **argv)
{
	char dir[4096], cmd[4200];
	const char *base = argc > 1 ? argv[1] : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: %s [SCRATCH-DIR]\n", argv[0]);
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s/history_bench.XXXXXX", base);
	if (!mkdtemp(dir))
		die(dir, errno);
	printf("history_bench: build type %s, best of %d runs; ratios against a baseline of the "
	       "same run (lower is better)\n\n", ROLLER_BENCH_BUILD_TYPE, RUNS);
	bench_replay(dir);
	bench_append(dir);
	bench_sessions(dir);
	printf("(checksum %llu)\n", (unsigned long long)(sink & 0xffff));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
