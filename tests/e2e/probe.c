/*
 * e2e_probe: the measurements of the QEMU tier's figures (tests/e2e/README.md),
 * run inside the guest next to roller and roller-periph.
 *
 *   e2e_probe latency SESSION.rlog TIMESTAMPS
 *       Joins the Measurement frames of a session log (host CLOCK_MONOTONIC
 *       at arrival, recorded by roller) with roller-periph --timestamps
 *       (CLOCK_MONOTONIC when the core took each sample). Both clocks are the
 *       guest's. Prints, per batch, how long its newest sample (the link and
 *       the stacks) and its oldest sample (plus batching) took to reach
 *       roller, as median / 95th percentile / max in ms. Resent batches (gap
 *       fills) are left out: they are late on purpose.
 *
 *   e2e_probe flood [--adapter hciN] ADDRESS BYTES
 *       Connects through roller's own Bluetooth transport and counts the Log
 *       chunks of a roller-periph --flood BYTES until the END chunk, or
 *       until none came for FLOOD_IDLE_US (notifications are unacknowledged:
 *       the stacks may drop some when their queues are full); prints the
 *       chunk payload bytes per second from the first chunk to the last
 *       (the first chunk's bytes not counted: they start the clock) and
 *       how many of the BYTES never arrived.
 *
 * Output: one line of key=value pairs (easy to grep from a shell); errors on
 * stderr with exit status 1, usage errors 2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-event.h>

#include "roller/protocol.h"
#include "roller/rlog.h"
#include "roller/transport.h"

#define FLOOD_TIMEOUT_US (120u * 1000000u)
#define FLOOD_IDLE_US (5u * 1000000u)

static int usage(void)
{
	fprintf(stderr, "usage: e2e_probe latency SESSION.rlog TIMESTAMPS\n"
			"       e2e_probe flood [--adapter hciN] ADDRESS BYTES\n");
	return 2;
}

/* ---- latency ------------------------------------------------------------------ */

struct stamps {
	uint32_t first;    /* sample index of t[0] */
	uint64_t *t;       /* mono us per sample, 0 = not seen */
	size_t n;
};

static int load_stamps(struct stamps *s, const char *path)
{
	FILE *f = fopen(path, "re");
	uint32_t index;
	uint64_t us;
	size_t cap = 0;

	memset(s, 0, sizeof(*s));
	if (!f) {
		fprintf(stderr, "e2e_probe: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fscanf(f, "%" SCNu32 " %" SCNu64, &index, &us) == 2) {
		size_t at;

		if (s->n == 0)
			s->first = index;
		at = (size_t)(uint32_t)(index - s->first);
		if (at > 100000000u)
			break;
		if (at >= cap) {
			size_t ncap = cap ? cap : 4096;
			uint64_t *t;

			while (ncap <= at)
				ncap *= 2;
			t = realloc(s->t, ncap * sizeof(*t));
			if (!t) {
				fclose(f);
				return -1;
			}
			memset(t + cap, 0, (ncap - cap) * sizeof(*t));
			s->t = t;
			cap = ncap;
		}
		s->t[at] = us;
		if (at + 1 > s->n)
			s->n = at + 1;
	}
	fclose(f);
	if (s->n == 0) {
		fprintf(stderr, "e2e_probe: %s: no timestamps\n", path);
		return -1;
	}
	return 0;
}

static uint64_t stamp_of(const struct stamps *s, uint32_t index)
{
	uint32_t at = index - s->first;

	return at < s->n ? s->t[at] : 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double ms_at(const uint64_t *v, size_t n, double q)
{
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);

	return (double)v[i] / 1000.0;
}

static int cmd_latency(const char *log, const char *stamp_path)
{
	struct stamps st;
	struct rlog_reader r;
	struct rlog_record rec;
	uint64_t *newest = NULL, *oldest = NULL;
	size_t n = 0, cap = 0, unmatched = 0, early = 0;
	int err;

	if (load_stamps(&st, stamp_path) < 0)
		return 1;
	err = rlog_reader_open(&r, log);
	if (err < 0) {
		fprintf(stderr, "e2e_probe: %s: %s\n", log, strerror(-err));
		return 1;
	}
	while ((err = rlog_reader_next(&r, &rec)) > 0) {
		struct proto_measurement m;
		uint64_t t_new, t_old;

		if (rec.kind != RLOG_FRAME_IN || rec.channel != RLOG_CH_MEASUREMENT ||
		    proto_measurement_decode(rec.data, rec.len, &m) < 0 ||
		    (m.flags & PROTO_MEAS_RESENT))
			continue;
		t_old = stamp_of(&st, m.first_sample);
		t_new = stamp_of(&st, m.first_sample + m.count - 1u);
		if (!t_old || !t_new) {
			unmatched++;
			continue;
		}
		if (rec.mono_us < t_new) {
			early++; /* would mean the clocks differ: reported, not used */
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			newest = realloc(newest, cap * sizeof(*newest));
			oldest = realloc(oldest, cap * sizeof(*oldest));
			if (!newest || !oldest) {
				fprintf(stderr, "e2e_probe: out of memory\n");
				return 1;
			}
		}
		newest[n] = rec.mono_us - t_new;
		oldest[n] = rec.mono_us - t_old;
		n++;
	}
	rlog_reader_close(&r);
	free(st.t);
	if (err < 0 || n == 0) {
		fprintf(stderr, "e2e_probe: %s: %s\n", log,
			err < 0 ? strerror(-err) : "no live Measurement frame matches a timestamp");
		return 1;
	}
	qsort(newest, n, sizeof(*newest), cmp_u64);
	qsort(oldest, n, sizeof(*oldest), cmp_u64);
	printf("latency batches=%zu unmatched=%zu early=%zu newest_p50_ms=%.1f newest_p95_ms=%.1f "
	       "newest_max_ms=%.1f oldest_p50_ms=%.1f oldest_p95_ms=%.1f oldest_max_ms=%.1f\n",
	       n, unmatched, early, ms_at(newest, n, 0.5), ms_at(newest, n, 0.95),
	       ms_at(newest, n, 1.0), ms_at(oldest, n, 0.5), ms_at(oldest, n, 0.95),
	       ms_at(oldest, n, 1.0));
	free(newest);
	free(oldest);
	return early ? 1 : 0;
}

/* ---- flood ---------------------------------------------------------------------- */

struct flood {
	sd_event *ev;
	sd_event_source *idle;
	uint64_t want, bytes, frames, bad, first_len;
	uint64_t t_first, t_last;
	bool end;
	int err;
};

static void flood_frame(void *userdata, enum rlog_channel ch, const uint8_t *buf, size_t len,
			uint64_t mono_us)
{
	struct flood *f = userdata;
	struct proto_log_chunk c;

	if (ch != RLOG_CH_LOG)
		return;
	if (proto_log_chunk_decode(buf, len, &c) < 0) {
		f->bad++;
		return;
	}
	if (f->frames == 0) {
		f->t_first = mono_us;
		f->first_len = c.len;
	}
	sd_event_source_set_time_relative(f->idle, FLOOD_IDLE_US);
	sd_event_source_set_enabled(f->idle, SD_EVENT_ONESHOT);
	f->t_last = mono_us;
	f->frames++;
	f->bytes += c.len;
	if (c.flags & PROTO_CHUNK_END) {
		f->end = true;
		sd_event_exit(f->ev, 0);
	}
}

static void flood_state(void *userdata, enum transport_state st, int err, const char *detail)
{
	struct flood *f = userdata;

	if (st == TRANSPORT_FAILED || st == TRANSPORT_ENDED || st == TRANSPORT_LINK_LOST) {
		fprintf(stderr, "e2e_probe: link %s: %s\n",
			st == TRANSPORT_LINK_LOST ? "lost" : "failed",
			detail ? detail : strerror(err < 0 ? -err : EIO));
		f->err = err < 0 ? err : -EIO;
		sd_event_exit(f->ev, 1);
	}
}

static int flood_idle(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct flood *f = userdata;

	(void)s, (void)usec;
	sd_event_exit(f->ev, 0); /* the END chunk was lost */
	return 0;
}

static int flood_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct flood *f = userdata;

	(void)s, (void)usec;
	fprintf(stderr, "e2e_probe: flood: no END chunk after %u s (%" PRIu64 " bytes)\n",
		FLOOD_TIMEOUT_US / 1000000u, f->bytes);
	f->err = -ETIMEDOUT;
	sd_event_exit(f->ev, 1);
	return 0;
}

static int cmd_flood(const char *adapter, const char *address, const char *bytes)
{
	const struct transport_ops *ops = transport_find("bluez");
	const struct transport_events events = { .frame = flood_frame, .state = flood_state };
	struct transport_options opt = { .address = address, .adapter = adapter };
	struct transport *t = NULL;
	struct flood f = { 0 };
	char *end;
	int r;

	f.want = strtoull(bytes, &end, 10);
	if (*end || f.want == 0)
		return usage();
	if (!ops) {
		fprintf(stderr, "e2e_probe: this build has no Bluetooth transport\n");
		return 1;
	}
	r = sd_event_new(&f.ev);
	if (r >= 0)
		r = sd_event_add_time_relative(f.ev, NULL, CLOCK_MONOTONIC, FLOOD_TIMEOUT_US, 0,
					       flood_timeout, &f);
	if (r >= 0)
		r = sd_event_add_time_relative(f.ev, &f.idle, CLOCK_MONOTONIC, FLOOD_IDLE_US, 0,
					       flood_idle, &f);
	if (r >= 0)
		r = sd_event_source_set_enabled(f.idle, SD_EVENT_OFF);
	if (r >= 0)
		r = ops->create(&t, f.ev, &opt, &events, &f);
	if (r < 0) {
		fprintf(stderr, "e2e_probe: flood set-up: %s\n", strerror(-r));
		return 1;
	}
	sd_event_loop(f.ev);
	ops->destroy(t);
	sd_event_source_disable_unref(f.idle);
	sd_event_unref(f.ev);
	if (f.err || f.frames < 2 || f.t_last <= f.t_first) {
		fprintf(stderr, "e2e_probe: flood: %" PRIu64 " chunks received: no rate\n", f.frames);
		return 1;
	}
	printf("flood bytes=%" PRIu64 " lost=%" PRIu64 " end=%s frames=%" PRIu64 " bad=%" PRIu64
	       " seconds=%.3f bytes_per_s=%.0f\n", f.bytes,
	       f.want > f.bytes ? f.want - f.bytes : 0, f.end ? "yes" : "lost", f.frames, f.bad,
	       (double)(f.t_last - f.t_first) / 1e6,
	       (double)(f.bytes - f.first_len) * 1e6 / (double)(f.t_last - f.t_first));
	return f.bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "latency") == 0)
		return cmd_latency(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "flood") == 0)
		return cmd_flood(NULL, argv[2], argv[3]);
	if (argc == 6 && strcmp(argv[1], "flood") == 0 && strcmp(argv[2], "--adapter") == 0)
		return cmd_flood(argv[3], argv[4], argv[5]);
	return usage();
}
