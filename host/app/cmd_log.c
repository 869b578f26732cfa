/* roller log dump: every record of a session log, decoded, one line each. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"

#define CMD "log"

static void help(void)
{
	printf("Usage: roller log dump <file>\n\n"
	       "Prints every record of a session log, decoded, one line each: time since the\n"
	       "first record (s), direction (in/out/note/input), channel, frame type and its\n"
	       "fields. For bug reports. A torn tail (the last record cut off by a crash) is\n"
	       "reported at the end.\n\n"
	       "Exit status: 0 read to the end (torn tail included), 1 unreadable or damaged\n"
	       "file, 2 usage error.\n");
}

/* A growing line. */
struct line {
	char buf[4096];
	size_t len;
};

static void add(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->len >= sizeof(l->buf) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->len = l->len + (size_t)n < sizeof(l->buf) ? l->len + (size_t)n : sizeof(l->buf) - 1;
}

static const char *kind_str(uint8_t kind)
{
	switch (kind) {
	case RLOG_FRAME_IN:
		return "in";
	case RLOG_FRAME_OUT:
		return "out";
	case RLOG_NOTE:
		return "note";
	case RLOG_INPUT:
		return "input";
	}
	return "?";
}

static const char *channel_str(uint8_t ch)
{
	switch (ch) {
	case RLOG_CH_NONE:
		return "-";
	case RLOG_CH_MEASUREMENT:
		return "measurement";
	case RLOG_CH_EVENT:
		return "event";
	case RLOG_CH_CONTROL:
		return "control";
	case RLOG_CH_LOG:
		return "log";
	case RLOG_CH_INFO:
		return "info";
	}
	return "?";
}

static const char *input_str(uint8_t input)
{
	switch (input) {
	case COACH_INPUT_RELIEF:
		return "relief";
	case COACH_INPUT_SKIP:
		return "skip";
	case COACH_INPUT_STOP:
		return "stop";
	}
	return "?";
}

static void add_hex(struct line *l, const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		add(l, "%02x", data[i]);
}

static void add_measurement(struct line *l, const struct proto_measurement *m)
{
	add(l, " first=%u time=%u n=%u flags=0x%02x", m->first_sample, m->time, m->count, m->flags);
	if (m->flags & PROTO_MEAS_CALIBRATED)
		add(l, ",calibrated");
	if (m->flags & PROTO_MEAS_RECORDING)
		add(l, ",recording");
	if (m->flags & PROTO_MEAS_CONTACT)
		add(l, ",contact");
	if (m->flags & PROTO_MEAS_RESENT)
		add(l, ",resent");
	add(l, " force_dn=");
	for (size_t i = 0; i < m->count; i++)
		add(l, "%s%d", i ? "," : "", m->force[i]);
	add(l, " still=");
	for (size_t i = 0; i < m->count; i++)
		add(l, "%c", proto_measurement_is_still(m, i) ? '1' : '0');
}

static void add_event(struct line *l, const struct proto_event *e)
{
	add(l, " %s seq=%u sample=%u", proto_event_str(e->kind), e->seq, e->sample);
	switch (e->kind) {
	case PROTO_EVENT_HOLD_START:
		add(l, " force_dn=%d", e->u.hold_start.force);
		break;
	case PROTO_EVENT_HOLD_END:
		add(l, " duration=%u in_band=%u mean_dn=%d peak_dn=%d reason=%u dips=%u",
		    e->u.hold_end.duration, e->u.hold_end.in_band, e->u.hold_end.mean_force,
		    e->u.hold_end.peak_force, e->u.hold_end.reason, e->u.hold_end.dips);
		break;
	case PROTO_EVENT_STATUS:
		add(l, " state=%u flags=0x%02x battery=%u%%", e->u.status.state, e->u.status.flags,
		    e->u.status.battery_pct);
		break;
	case PROTO_EVENT_ERROR:
		add(l, " code=%u channel=%u detail=%u", e->u.error.code, e->u.error.channel,
		    e->u.error.detail);
		break;
	case PROTO_EVENT_COUNTERS:
		add(l, " samples_dropped=%u events_dropped=%u sessions_recycled=%u rx_errors=%u",
		    e->u.counters.samples_dropped, e->u.counters.events_dropped,
		    e->u.counters.sessions_recycled, e->u.counters.rx_errors);
		break;
	case PROTO_EVENT_BATTERY_LOW:
		add(l, " mv=%u percent=%u", e->u.battery_low.millivolts, e->u.battery_low.percent);
		break;
	default:
		break;
	}
}

static void add_hold_params(struct line *l, const struct proto_hold_params *p)
{
	add(l, " band_dn=%u-%u hold_s=%u grace_ms=%u contact_dn=%u", p->band_low, p->band_high,
	    p->hold_s, p->grace_ms, p->contact);
}

static void add_request(struct line *l, const struct proto_control_request *r)
{
	add(l, " %s token=%u", proto_opcode_str(r->opcode), r->token);
	switch (r->opcode) {
	case PROTO_OP_CALIBRATE:
		add(l, " load_dn=%u", r->u.calibrate.load);
		break;
	case PROTO_OP_SET_CLOCK:
		add(l, " unix_time=%u", r->u.set_clock.unix_time);
		break;
	case PROTO_OP_START_SESSION:
		add(l, " region=%s", proto_region_str(r->u.start_session.region));
		break;
	case PROTO_OP_SET_HOLD:
		add_hold_params(l, &r->u.set_hold);
		break;
	case PROTO_OP_LOG_READ:
		add(l, " first=%u count=%u offset=%u", r->u.log_read.first_record, r->u.log_read.count,
		    r->u.log_read.offset);
		break;
	case PROTO_OP_LOG_ERASE:
		add(l, " end=%u", r->u.log_erase.end_record);
		break;
	case PROTO_OP_RESEND_SAMPLES:
		add(l, " first=%u count=%u", r->u.resend.first_sample, r->u.resend.count);
		break;
	case PROTO_OP_SET_SLEEP_TIMEOUT:
		add(l, " seconds=%u", r->u.sleep_timeout.seconds);
		break;
	default:
		break;
	}
}

static void add_response(struct line *l, const struct proto_control_response *r)
{
	add(l, " %s token=%u status=%s", proto_opcode_str(r->opcode), r->token,
	    proto_status_str(r->status));
	if (r->status != PROTO_STATUS_OK)
		return;
	switch (r->opcode) {
	case PROTO_OP_VERSION:
		add(l, " proto=%u.%u fw=%u.%u.%u cal=%s caps=0x%04x", r->u.version.proto_major,
		    r->u.version.proto_minor, r->u.version.fw_major, r->u.version.fw_minor,
		    r->u.version.fw_patch, proto_calibration_str(r->u.version.calibration),
		    r->u.version.capabilities);
		break;
	case PROTO_OP_CALIBRATE:
		add(l, " scale=%d", r->u.calibrate.scale);
		break;
	case PROTO_OP_START_SESSION:
	case PROTO_OP_STOP_SESSION:
		add(l, " session=%u", r->u.session.session_id);
		break;
	case PROTO_OP_GET_HOLD:
		add_hold_params(l, &r->u.hold);
		break;
	case PROTO_OP_LOG_INFO:
		add(l, " first=%u end=%u sessions=%u", r->u.log_info.first_record,
		    r->u.log_info.end_record, r->u.log_info.sessions);
		break;
	case PROTO_OP_BATTERY:
		add(l, " mv=%u percent=%u flags=0x%02x", r->u.battery.millivolts, r->u.battery.percent,
		    r->u.battery.flags);
		break;
	case PROTO_OP_LOG_READ:
		add(l, " records=%u", r->u.log_read.records);
		break;
	case PROTO_OP_RESEND_SAMPLES:
		add(l, " count=%u", r->u.resend.count);
		break;
	default:
		break;
	}
}

static void add_frame(struct line *l, const uint8_t *data, size_t len)
{
	struct proto_frame f;
	int r = proto_frame_decode(data, len, &f);

	if (r < 0) {
		add(l, "undecodable (%s) len=%zu hex=", strerror(-r), len);
		add_hex(l, data, len);
		return;
	}
	add(l, "%s", proto_type_str(f.type));
	switch (f.type) {
	case PROTO_TYPE_MEASUREMENT:
		add_measurement(l, &f.u.measurement);
		break;
	case PROTO_TYPE_EVENT:
		add_event(l, &f.u.event);
		break;
	case PROTO_TYPE_CONTROL_REQUEST:
		add_request(l, &f.u.request);
		break;
	case PROTO_TYPE_CONTROL_RESPONSE:
		add_response(l, &f.u.response);
		break;
	case PROTO_TYPE_LOG_CHUNK:
		add(l, " record=%u offset=%u flags=0x%02x len=%u", f.u.chunk.record, f.u.chunk.offset,
		    f.u.chunk.flags, f.u.chunk.len);
		break;
	case PROTO_TYPE_INFO:
		add(l, " proto=%u.%u fw=%u.%u.%u caps=0x%04x period_us=%u channels=%u cal=%s "
		       "full_scale_dn=%u device_id=0x%08x",
		    f.u.info.proto_major, f.u.info.proto_minor, f.u.info.fw_major, f.u.info.fw_minor,
		    f.u.info.fw_patch, f.u.info.capabilities, f.u.info.sample_period_us,
		    f.u.info.channels, proto_calibration_str(f.u.info.calibration), f.u.info.full_scale,
		    f.u.info.device_id);
		break;
	case PROTO_TYPE_SESSION:
		add(l, " %s id=%u region=%s sample=%u time=%u unix_time=%u",
		    f.u.session.kind == PROTO_SESSION_START ? "start" : "end", f.u.session.session_id,
		    proto_region_str(f.u.session.region), f.u.session.sample, f.u.session.time,
		    f.u.session.unix_time);
		break;
	default:
		break;
	}
}

static void print_header(const char *path, const struct rlog_header *h)
{
	char when[64] = "?";
	time_t secs = (time_t)(h->created_unix_ms / 1000u);
	struct tm tm;

	if (gmtime_r(&secs, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("# session log %s\n", path);
	printf("# created %s  roller %s  transport %s  firmware %u.%u.%u  protocol %u.%u\n", when,
	       h->roller_id, h->transport, h->fw_major, h->fw_minor, h->fw_patch, h->proto_major,
	       h->proto_minor);
	printf("# region %s  body weight %.1f kg  plan %u x %u s, rest %u s, band %u-%u dN, "
	       "grace %u ms  sample period %u us  calibration %s\n",
	       proto_region_str(h->region), h->body_weight_dkg / 10.0, h->plan_reps, h->plan_hold_s,
	       h->plan_rest_s, h->band_low_dn, h->band_high_dn, h->grace_ms, h->sample_period_us,
	       proto_calibration_str(h->calibration));
}

static int dump(const char *path)
{
	struct rlog_reader reader;
	struct rlog_record rec;
	struct line l;
	uint64_t t0 = 0;
	bool first = true;
	int r;

	r = rlog_reader_open(&reader, path);
	if (r < 0)
		return app_error(CMD, "%s: %s", path, rlog_strerror(r));
	print_header(path, &reader.header);
	while ((r = rlog_reader_next(&reader, &rec)) > 0) {
		if (first) {
			t0 = rec.mono_us;
			first = false;
		}
		l.len = 0;
		l.buf[0] = '\0';
		add(&l, "%12.6f %-5s %-11s ", (double)(int64_t)(rec.mono_us - t0) / 1e6,
		    kind_str(rec.kind), channel_str(rec.channel));
		switch (rec.kind) {
		case RLOG_FRAME_IN:
		case RLOG_FRAME_OUT:
			add_frame(&l, rec.data, rec.len);
			break;
		case RLOG_NOTE:
			add(&l, "%.*s", (int)rec.len, (const char *)rec.data);
			break;
		case RLOG_INPUT:
			if (rec.len == 1)
				add(&l, "%s", input_str(rec.data[0]));
			else
				add_hex(&l, rec.data, rec.len);
			break;
		default:
			add(&l, "unknown record kind %u len=%u hex=", rec.kind, rec.len);
			add_hex(&l, rec.data, rec.len);
			break;
		}
		puts(l.buf);
	}
	if (r < 0) {
		fflush(stdout);
		app_error(CMD, "%s: damaged record at offset %zu after %llu good records: %s", path,
			  reader.pos, (unsigned long long)reader.records, rlog_strerror(r));
		rlog_reader_close(&reader);
		return APP_EXIT_FAILURE;
	}
	printf("# %llu records", (unsigned long long)reader.records);
	if (reader.torn)
		printf("; torn tail at offset %zu: the last record was cut off while it was written "
		       "(ignored)", reader.torn_offset);
	printf("\n");
	rlog_reader_close(&reader);
	return APP_EXIT_OK;
}

int cmd_log(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	optind = 0;
	/* "+": stop at the subcommand so that its own options are its own. */
	while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		if (c == 'h') {
			help();
			return APP_EXIT_OK;
		}
		return app_usage_error(CMD, "bad option");
	}
	if (optind >= argc)
		return app_usage_error(CMD, "missing subcommand (dump)");
	if (strcmp(argv[optind], "dump") != 0)
		return app_usage_error(CMD, "unknown subcommand '%s' (dump)", argv[optind]);
	optind++;
	if (optind < argc && (strcmp(argv[optind], "--help") == 0 || strcmp(argv[optind], "-h") == 0)) {
		help();
		return APP_EXIT_OK;
	}
	if (optind >= argc)
		return app_usage_error(CMD, "dump: which file?");
	if (optind + 1 < argc)
		return app_usage_error(CMD, "dump: unexpected argument '%s'", argv[optind + 1]);
	if (argv[optind][0] == '-')
		return app_usage_error(CMD, "dump: unknown option '%s'", argv[optind]);
	return dump(argv[optind]);
}
