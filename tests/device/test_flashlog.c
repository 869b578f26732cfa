/*
 * Session log in flash: recording without a host, LOG_INFO / LOG_READ
 * (ranges, offsets, resume after a disconnect) / LOG_ERASE, recycling of
 * the oldest sessions, recovery after reboot, and a power cut at every byte
 * of every write.
 *
 * The power-cut test keeps an independent model of what must survive: the
 * fake flash journals every write and erase; a record (its on-flash format
 * is documented in device/README.md) whose write completed is alive until
 * its page is erased. After the cut and a reboot, LOG_READ must return
 * exactly the alive records, plus at most the record that was being written
 * (only if all its bytes made it), plus at most the SESSION end marker the
 * recovery adds for a session the cut left open.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include <cmocka.h>

#include "fakes.h"
#include "flash_record.h"

static struct rig rig;
static uint8_t recs[RIG_MAX_RECORDS][PROTO_FRAME_MAX];
static uint32_t nums[RIG_MAX_RECORDS];
static uint8_t lens[RIG_MAX_RECORDS];

static void request(uint8_t opcode, struct proto_control_request *q, int status)
{
	struct proto_control_request tmp;

	if (!q) {
		memset(&tmp, 0, sizeof(tmp));
		q = &tmp;
	}
	q->opcode = opcode;
	assert_int_equal(rig_request(&rig, q, NULL), status);
}

static void log_info(uint32_t *first, uint32_t *end, uint16_t *sessions)
{
	assert_int_equal(core_log_info(&rig.core, first, end, sessions), 0);
}

static int read_all(void)
{
	uint32_t first, end;
	uint16_t sessions;

	log_info(&first, &end, &sessions);
	return rig_read_log(&rig, first, 0, recs, nums, lens, RIG_MAX_RECORDS);
}

/* A person uses the roller with no laptop around: one automatic session. */
static void use_without_host(void)
{
	rig_samples(&rig, 10, 0, 0);
	rig_samples(&rig, 30, 1500, 20000); /* rolling */
	rig_samples(&rig, 300, 2000, 0);    /* hold */
	rig_samples(&rig, 100, 0, 0);
	rig_idle_ms(&rig, 61000);           /* auto stop after 60 s without contact */
}

static void test_log_session_without_host(void **state)
{
	struct proto_frame f;
	uint32_t first, end, next_sample = 0;
	uint16_t sessions;
	int n, i, holds = 0;
	bool started = false, ended = false;

	(void)state;
	rig_setup(&rig, NULL, false);
	rig_start(&rig);
	use_without_host();
	assert_false(core_session_active(&rig.core, NULL));
	log_info(&first, &end, &sessions);
	assert_int_equal(first, 0);
	assert_int_equal(sessions, 1);

	rig_connect(&rig, 247);
	n = read_all();
	assert_int_equal(n, (int)end);
	for (i = 0; i < n; i++) {
		assert_int_equal(nums[i], (uint32_t)i);
		assert_int_equal(proto_frame_decode(recs[i], lens[i], &f), 0);
		switch (f.type) {
		case PROTO_TYPE_SESSION:
			if (f.u.session.kind == PROTO_SESSION_START) {
				assert_int_equal(i, 0);
				assert_int_equal(f.u.session.sample, 10); /* first contact */
				next_sample = f.u.session.sample;
				started = true;
			} else {
				assert_int_equal(i, n - 1);
				assert_int_equal(f.u.session.sample, next_sample);
				ended = true;
			}
			assert_int_equal(f.u.session.session_id, 1);
			break;
		case PROTO_TYPE_MEASUREMENT:
			assert_true(started && !ended);
			assert_int_equal(f.u.measurement.first_sample, next_sample);
			assert_true(f.u.measurement.flags & PROTO_MEAS_RECORDING);
			next_sample += f.u.measurement.count;
			break;
		case PROTO_TYPE_EVENT:
			/* logged after the samples it refers to */
			assert_true(proto_seq_diff(f.u.event.sample, next_sample) >= 0);
			if (f.u.event.kind == PROTO_EVENT_HOLD_END) {
				assert_int_equal(f.u.event.u.hold_end.duration, 300);
				holds++;
			}
			break;
		default:
			fail();
		}
	}
	assert_true(started && ended);
	assert_int_equal(holds, 1);
	assert_int_equal(next_sample, 440);
}

static void test_log_read_ranges_and_resume(void **state)
{
	static uint8_t full[RIG_MAX_RECORDS][PROTO_FRAME_MAX];
	static uint8_t full_len[RIG_MAX_RECORDS];
	struct proto_control_request q;
	struct proto_control_response rsp;
	uint32_t first, end;
	uint16_t sessions;
	size_t i, got;
	int n;

	(void)state;
	rig_setup(&rig, NULL, false);
	rig_start(&rig);
	use_without_host();
	rig_connect(&rig, 23); /* 8 data bytes per chunk */
	n = read_all();
	assert_true(n >= 5);
	memcpy(full, recs, sizeof(full));
	memcpy(full_len, lens, sizeof(full_len));
	log_info(&first, &end, &sessions);

	/* a middle range */
	assert_int_equal(rig_read_log(&rig, 2, 2, recs, nums, lens, RIG_MAX_RECORDS), 2);
	assert_int_equal(nums[0], 2);
	assert_int_equal(nums[1], 3);
	assert_memory_equal(recs[1], full[3], full_len[3]);

	/* first == end: nothing, but an END chunk */
	assert_int_equal(rig_read_log(&rig, end, 0, recs, nums, lens, RIG_MAX_RECORDS), 0);
	/* beyond the end, and offsets past the record: refused */
	memset(&q, 0, sizeof(q));
	q.opcode = PROTO_OP_LOG_READ;
	q.u.log_read.first_record = end + 1;
	assert_int_equal(rig_request(&rig, &q, NULL), PROTO_STATUS_NOT_FOUND);
	q.u.log_read.first_record = 1;
	q.u.log_read.offset = full_len[1];
	assert_int_equal(rig_request(&rig, &q, NULL), PROTO_STATUS_BAD_PARAM);

	/* a transfer cut by a disconnect resumes at (record, offset) */
	q.u.log_read.first_record = 1;
	q.u.log_read.count = 0;
	q.u.log_read.offset = 0;
	fake_link_clear(&rig.link);
	rig.link.accept_budget = 5; /* the link dies after 5 chunks */
	assert_int_equal(rig_request(&rig, &q, &rsp), PROTO_STATUS_OK);
	core_on_disconnect(&rig.core);
	got = 0;
	for (i = 0; i < rig.link.n; i++) {
		struct proto_log_chunk ch;

		if (rig.link.frames[i].ch != CORE_CHAR_LOG)
			continue;
		assert_int_equal(proto_log_chunk_decode(rig.link.frames[i].buf, rig.link.frames[i].len, &ch), 0);
		assert_int_equal(ch.record, 1);
		assert_int_equal(ch.offset, got);
		assert_memory_equal(ch.data, full[1] + got, ch.len);
		got += ch.len;
	}
	assert_true(got > 0 && got < full_len[1]);
	rig.link.accept_budget = -1;
	rig_connect(&rig, 23);
	fake_link_clear(&rig.link);
	q.u.log_read.offset = (uint16_t)got;
	assert_int_equal(rig_request(&rig, &q, &rsp), PROTO_STATUS_OK);
	assert_int_equal(rsp.u.log_read.records, end - 1);
	for (i = 0; i < 200; i++)
		rig_poll(&rig);
	{
		struct proto_log_chunk ch;

		assert_int_equal(rig.link.frames[1].ch, CORE_CHAR_LOG);
		assert_int_equal(proto_log_chunk_decode(rig.link.frames[1].buf, rig.link.frames[1].len, &ch), 0);
		assert_int_equal(ch.record, 1);
		assert_int_equal(ch.offset, got);
		assert_memory_equal(ch.data, full[1] + got, ch.len);
	}
}

/* ---- the link shared by a log transfer and the live stream ----------------- */

/* A long automatic session: about 20 records, 560 chunks at MTU 23. */
static int record_long_session(void)
{
	rig_setup(&rig, NULL, false);
	rig_start(&rig);
	rig_samples(&rig, 10, 0, 0);
	rig_samples(&rig, 2000, 2000, 0);
	rig_samples(&rig, 100, 0, 0);
	rig_idle_ms(&rig, 61000);
	return 0;
}

/* What the host sees of the live stream: samples received, the gaps in
 * first_sample, and what COUNTERS / QUEUE_OVERFLOW said about them. */
struct live_view {
	uint32_t next;           /* first sample not seen yet */
	uint32_t received;
	uint32_t gaps;           /* samples skipped by first_sample */
	size_t frames;
	uint32_t counters_dropped; /* samples_dropped of the last COUNTERS */
	bool overflow_reported;
};

/* The transfer as the host reassembles it: every chunk must start at the
 * first byte not received (a gap is a failure here, never resumed). */
struct xfer_view {
	uint8_t (*recs)[PROTO_FRAME_MAX];
	uint8_t *lens;
	uint32_t *nums;
	size_t n;
	uint16_t off;
	size_t chunks;
	bool end;
};

static void take_frames(struct live_view *lv, struct xfer_view *xv)
{
	size_t i;

	for (i = 0; i < rig.link.n; i++) {
		struct fake_frame *f = &rig.link.frames[i];

		if (f->ch == CORE_CHAR_LOG) {
			struct proto_log_chunk ch;

			assert_false(xv->end);
			assert_int_equal(proto_log_chunk_decode(f->buf, f->len, &ch), 0);
			xv->chunks++;
			if (ch.len) {
				assert_true(xv->n < RIG_MAX_RECORDS);
				assert_int_equal(ch.offset, xv->off);
				if (xv->off == 0)
					xv->nums[xv->n] = ch.record;
				assert_int_equal(ch.record, xv->nums[xv->n]);
				memcpy(xv->recs[xv->n] + ch.offset, ch.data, ch.len);
				xv->off = (uint16_t)(xv->off + ch.len);
				if (ch.flags & PROTO_CHUNK_LAST_IN_RECORD) {
					xv->lens[xv->n++] = (uint8_t)xv->off;
					xv->off = 0;
				}
			}
			if (ch.flags & PROTO_CHUNK_END)
				xv->end = true;
		} else if (f->ch == CORE_CHAR_MEASUREMENT) {
			struct proto_measurement m;

			assert_int_equal(proto_measurement_decode(f->buf, f->len, &m), 0);
			assert_false(m.flags & PROTO_MEAS_RESENT);
			assert_true(proto_seq_diff(lv->next, m.first_sample) >= 0);
			lv->gaps += m.first_sample - lv->next;
			lv->received += m.count;
			lv->next = m.first_sample + m.count;
			lv->frames++;
		} else if (f->ch == CORE_CHAR_EVENT && f->buf[1] == PROTO_TYPE_EVENT) {
			struct proto_event e;

			assert_int_equal(proto_event_decode(f->buf, f->len, &e), 0);
			if (e.kind == PROTO_EVENT_COUNTERS)
				lv->counters_dropped = e.u.counters.samples_dropped;
			if (e.kind == PROTO_EVENT_ERROR && e.u.error.code == PROTO_ERR_QUEUE_OVERFLOW)
				lv->overflow_reported = true;
		}
	}
	fake_link_clear(&rig.link);
}

/*
 * The host syncs the log (LOG_READ to the end) while the person keeps
 * rolling at the full sample rate, over a link that takes `per_poll`
 * notifications between two polls (then -EAGAIN) and a board that polls
 * after every `poll_every` samples. The transfer must arrive whole, in
 * order, without a gap or a resume, within a bound on polls; the response
 * comes at once; live samples keep flowing and every one of them either
 * arrives or is counted as dropped and reported.
 */
static void log_read_under_live_stream(uint16_t mtu, unsigned poll_every, int per_poll,
				       bool saturated)
{
	static uint8_t full[RIG_MAX_RECORDS][PROTO_FRAME_MAX];
	static uint8_t full_len[RIG_MAX_RECORDS];
	struct proto_control_request q;
	struct proto_control_response rsp;
	struct core_counters before, after;
	struct live_view lv;
	struct xfer_view xv;
	size_t cap = proto_log_chunk_capacity(mtu), need = 0, polls = 0, bound;
	uint32_t first_live;
	int n, i;

	record_long_session();
	rig_connect(&rig, mtu);
	n = read_all(); /* the reference, over an idle link */
	assert_true(n >= 15);
	memcpy(full, recs, sizeof(full));
	memcpy(full_len, lens, sizeof(full_len));
	for (i = 0; i < n; i++)
		need += (full_len[i] + cap - 1u) / cap;
	fake_link_clear(&rig.link);
	core_counters(&rig.core, &before);
	first_live = core_next_sample(&rig.core);
	memset(&lv, 0, sizeof(lv));
	lv.next = first_live;
	memset(&xv, 0, sizeof(xv));
	xv.recs = recs;
	xv.lens = lens;
	xv.nums = nums;

	rig.poll_every = poll_every;
	rig.link.per_poll = per_poll;
	/* the stream is running when the request comes */
	rig_samples(&rig, 20u * poll_every, 2000, 0);
	take_frames(&lv, &xv);
	memset(&q, 0, sizeof(q));
	q.opcode = PROTO_OP_LOG_READ;
	q.u.log_read.first_record = nums[0];
	/* rig_request polls once: the response must be in that poll */
	assert_int_equal(rig_request(&rig, &q, &rsp), PROTO_STATUS_OK);
	assert_int_equal(rsp.u.log_read.records, n);
	polls = 1;
	take_frames(&lv, &xv);
	/* Guaranteed progress: at least every second notification the link
	 * takes while live frames wait is a chunk. */
	bound = (2u * need + (size_t)per_poll - 1u) / (size_t)per_poll + 16u;
	while (!xv.end && polls <= bound) {
		rig_samples(&rig, poll_every, 2000, 0); /* exactly one poll */
		polls++;
		take_frames(&lv, &xv);
	}
	assert_true(xv.end);
	assert_true(polls <= bound);
	assert_int_equal(xv.chunks, need); /* not one chunk resent or missing */
	assert_int_equal(xv.n, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(nums[i], nums[0] + (uint32_t)i);
		assert_int_equal(lens[i], full_len[i]);
		assert_memory_equal(recs[i], full[i], full_len[i]);
	}
	/* live frames went on during the transfer */
	assert_true(lv.frames >= polls / 4u);

	/* the stream pauses, the link recovers: every sample is accounted for */
	rig.poll_every = 1;
	rig.link.per_poll = 0;
	rig.link.accept_budget = -1;
	rig_idle_ms(&rig, 200);
	take_frames(&lv, &xv);
	core_counters(&rig.core, &after);
	assert_int_equal(after.responses_dropped, before.responses_dropped);
	assert_int_equal(lv.next, core_next_sample(&rig.core));
	assert_int_equal(lv.received + lv.gaps, core_next_sample(&rig.core) - first_live);
	assert_int_equal(lv.gaps, after.samples_dropped - before.samples_dropped);
	if (saturated) {
		/* the link was too slow for the stream: drops, counted, reported */
		assert_true(lv.gaps > 0);
		assert_true(lv.overflow_reported);
		assert_int_equal(lv.counters_dropped, after.samples_dropped);
	} else {
		assert_int_equal(lv.gaps, 0);
	}
}

/* One notification per poll, a poll per sample (80 SPS, MTU 23: live
 * needs a third of the link). */
static void test_log_read_live_stream_one_per_poll(void **state)
{
	(void)state;
	log_read_under_live_stream(23, 1, 1, false);
}

/* The live stream alone wants more than the link gives (a poll every
 * 100 ms, 2 notifications each: 2.7 live frames are produced per poll). */
static void test_log_read_live_stream_saturated(void **state)
{
	(void)state;
	log_read_under_live_stream(23, 8, 2, true);
}

/* Same at MTU 247: one notification per poll, a poll every 200 ms (live
 * batches close after 100 ms: about 1.8 live frames per poll). */
static void test_log_read_live_stream_saturated_247(void **state)
{
	(void)state;
	log_read_under_live_stream(247, 16, 1, true);
}

/* The Log characteristic waits for the response: no chunk reaches the link
 * before the LOG_READ response, even when the Control Point indication is
 * held up and the Log notifications are not. */
static void test_log_read_chunks_after_response(void **state)
{
	struct proto_control_request q;
	uint8_t buf[PROTO_FRAME_MAX];
	size_t len, i;
	int first_log = -1, response = -1, polls;

	(void)state;
	record_long_session();
	rig_connect(&rig, 23);
	fake_link_clear(&rig.link);
	memset(&q, 0, sizeof(q));
	q.opcode = PROTO_OP_LOG_READ;
	q.token = 0x42;
	assert_int_equal(proto_request_encode(&q, buf, sizeof(buf), &len), 0);
	rig.link.busy_char[CORE_CHAR_CONTROL] = true;
	assert_int_equal(core_on_control_write(&rig.core, buf, len), 0);
	rig_samples(&rig, 30, 2000, 0);
	for (i = 0; i < rig.link.n; i++)
		assert_int_not_equal(rig.link.frames[i].ch, CORE_CHAR_LOG);
	rig.link.busy_char[CORE_CHAR_CONTROL] = false;
	for (polls = 0; polls < 2000; polls++)
		rig_sample(&rig, 2000, 0);
	for (i = 0; i < rig.link.n; i++) {
		if (rig.link.frames[i].ch == CORE_CHAR_CONTROL && response < 0)
			response = (int)i;
		if (rig.link.frames[i].ch == CORE_CHAR_LOG && first_log < 0)
			first_log = (int)i;
	}
	assert_true(response >= 0);
	assert_true(first_log > response);
}

/* Per-characteristic flow control: Measurement refuses for good, Log still
 * completes (a full lane does not stop the others). */
static void test_log_read_measurement_blocked(void **state)
{
	struct live_view lv;
	struct xfer_view xv;
	struct proto_control_request q;
	struct core_counters before, after;
	uint32_t first_live;
	int polls;

	(void)state;
	record_long_session();
	rig_connect(&rig, 23);
	fake_link_clear(&rig.link);
	core_counters(&rig.core, &before);
	first_live = core_next_sample(&rig.core);
	memset(&lv, 0, sizeof(lv));
	lv.next = first_live;
	memset(&xv, 0, sizeof(xv));
	xv.recs = recs;
	xv.lens = lens;
	xv.nums = nums;
	rig.link.busy_char[CORE_CHAR_MEASUREMENT] = true;
	memset(&q, 0, sizeof(q));
	q.opcode = PROTO_OP_LOG_READ;
	assert_int_equal(rig_request(&rig, &q, NULL), PROTO_STATUS_OK);
	for (polls = 0; polls < 1000; polls++) {
		rig_sample(&rig, 2000, 0);
		take_frames(&lv, &xv);
	}
	assert_true(xv.end);
	assert_true(xv.n >= 15);
	assert_int_equal(lv.frames, 0);
	rig.link.busy_char[CORE_CHAR_MEASUREMENT] = false;
	rig_idle_ms(&rig, 200);
	take_frames(&lv, &xv);
	core_counters(&rig.core, &after);
	assert_true(after.samples_dropped > before.samples_dropped);
	assert_int_equal(lv.gaps, after.samples_dropped - before.samples_dropped);
	assert_int_equal(lv.received + lv.gaps, core_next_sample(&rig.core) - first_live);
	assert_true(lv.overflow_reported);
	assert_int_equal(lv.counters_dropped, after.samples_dropped);
}

static void test_log_erase(void **state)
{
	uint32_t first, end, first2, end2;
	uint16_t sessions;
	struct proto_control_request q;

	(void)state;
	rig_setup(&rig, NULL, false);
	rig_start(&rig);
	use_without_host();
	use_without_host();
	rig_connect(&rig, 247);
	log_info(&first, &end, &sessions);
	assert_int_equal(sessions, 2);

	/* busy while recording */
	memset(&q, 0, sizeof(q));
	q.u.start_session.region = PROTO_REGION_GLUTES;
	request(PROTO_OP_START_SESSION, &q, PROTO_STATUS_OK);
	memset(&q, 0, sizeof(q));
	q.u.log_erase.end_record = 3;
	request(PROTO_OP_LOG_ERASE, &q, PROTO_STATUS_BUSY);
	request(PROTO_OP_STOP_SESSION, NULL, PROTO_STATUS_OK);

	request(PROTO_OP_LOG_ERASE, &q, PROTO_STATUS_OK);
	log_info(&first2, &end2, &sessions);
	assert_int_equal(first2, 3);
	assert_int_equal(sessions, 2); /* the first session's start is gone */
	memset(&q, 0, sizeof(q));
	q.opcode = PROTO_OP_LOG_READ;
	q.u.log_read.first_record = 2;
	assert_int_equal(rig_request(&rig, &q, NULL), PROTO_STATUS_NOT_FOUND);

	/* survives a reboot */
	rig_setup(&rig, NULL, true);
	rig_start(&rig);
	rig_connect(&rig, 247);
	log_info(&first2, &end2, &sessions);
	assert_int_equal(first2, 3);

	/* erase everything: record numbers carry on, also after a reboot */
	memset(&q, 0, sizeof(q));
	q.u.log_erase.end_record = 0xFFFFFFFFu;
	request(PROTO_OP_LOG_ERASE, &q, PROTO_STATUS_OK);
	log_info(&first2, &end2, &sessions);
	assert_int_equal(first2, end2);
	assert_int_equal(sessions, 0);
	rig_setup(&rig, NULL, true);
	rig_start(&rig);
	log_info(&first2, &end, &sessions);
	assert_int_equal(end, end2);
	use_without_host();
	rig_connect(&rig, 247);
	assert_true(read_all() > 0);
	assert_int_equal(nums[0], end2);
	{
		struct proto_session s;

		assert_int_equal(proto_session_decode(recs[0], lens[0], &s), 0);
		assert_int_equal(s.session_id, 4); /* ids never go back either */
	}
}

static void test_log_recycles_oldest_sessions(void **state)
{
	struct rig_options o;
	struct core_counters cnt;
	uint32_t first, end;
	uint16_t sessions;
	struct proto_event e[4];
	struct proto_frame f;
	int i, n;

	(void)state;
	rig_options_default(&o);
	o.pages = 6; /* 4 log pages of 1 KB */
	rig_setup(&rig, &o, false);
	rig_start(&rig);
	for (i = 0; i < 6; i++)
		use_without_host();
	core_counters(&rig.core, &cnt);
	assert_true(cnt.sessions_recycled > 0);
	log_info(&first, &end, &sessions);
	assert_true(first > 0);
	assert_int_equal(sessions + cnt.sessions_recycled, 6);
	rig_connect(&rig, 247);
	assert_int_equal(rig_events(&rig, PROTO_EVENT_COUNTERS, e, 4), 1);
	assert_int_equal(e[0].u.counters.sessions_recycled, cnt.sessions_recycled);
	n = read_all();
	assert_int_equal(n, (int)(end - first));
	for (i = 0; i < n; i++) {
		assert_int_equal(nums[i], first + (uint32_t)i);
		assert_int_equal(proto_frame_decode(recs[i], lens[i], &f), 0);
	}
}

static void test_log_reboot_closes_open_session(void **state)
{
	struct proto_session s;
	uint32_t first, end;
	uint16_t sessions;
	int n;

	(void)state;
	rig_setup(&rig, NULL, false);
	rig_start(&rig);
	rig_samples(&rig, 300, 2000, 0); /* auto session, never stopped */
	rig_setup(&rig, NULL, true);     /* power gone, back */
	rig_start(&rig);
	assert_false(core_session_active(&rig.core, NULL));
	log_info(&first, &end, &sessions);
	assert_int_equal(sessions, 1);
	rig_connect(&rig, 247);
	n = read_all();
	assert_int_equal(proto_session_decode(recs[n - 1], lens[n - 1], &s), 0);
	assert_int_equal(s.kind, PROTO_SESSION_END);
	assert_int_equal(s.session_id, 1);
	assert_int_equal(s.sample, 216); /* the last logged sample + 1 */
	/* the next session gets the next id */
	core_on_disconnect(&rig.core);
	use_without_host();
	rig_connect(&rig, 247);
	n = read_all();
	assert_int_equal(proto_session_decode(recs[n - 1], lens[n - 1], &s), 0);
	assert_int_equal(s.session_id, 2);
}

/* Where record `number` sits in the fake flash. */
static size_t flash_record_at(uint32_t number)
{
	size_t off = flash_record_find(rig.flash->mem, sizeof(rig.flash->mem), number);

	if (off == SIZE_MAX)
		fail_msg("record %u is not in the flash", number);
	return off;
}

/* A bit flips in a record of the page being appended to: the boot's
 * recovery must not take it for a torn record (which would cover every
 * record after it with zeros), readers step over it, the transfer says
 * SKIPPED (rig_read_log checks), and appending goes on after the last. */
static void test_log_damaged_record_in_active_page(void **state)
{
	static uint8_t before[RIG_MAX_RECORDS][PROTO_FRAME_MAX];
	static uint32_t before_num[RIG_MAX_RECORDS];
	uint32_t first, end, end2;
	uint16_t sessions;
	int n, n2, i, k, v;

	(void)state;
	rig_setup(&rig, NULL, false);
	rig_start(&rig);
	use_without_host();
	rig_connect(&rig, 247);
	n = read_all();
	assert_true(n >= 6);
	memcpy(before, recs, sizeof(before));
	memcpy(before_num, nums, sizeof(before_num));
	log_info(&first, &end, &sessions);
	/* A record in the active page (the last record's) with one after it. */
	v = n - 2;
	while (v > 0 && flash_record_at(nums[v]) / rig.flash->page_size !=
				flash_record_at(nums[n - 1]) / rig.flash->page_size)
		v--;
	assert_true(flash_record_at(nums[v]) / rig.flash->page_size ==
		    flash_record_at(nums[n - 1]) / rig.flash->page_size);
	rig.flash->mem[flash_record_at(nums[v]) + CORE_RECORD_HEADER + 4] ^= 0x01;

	rig_reboot(&rig);
	rig_connect(&rig, 247);
	n2 = read_all();
	assert_int_equal(n2, n - 1);
	for (i = 0, k = 0; i < n; i++) {
		if (i == v)
			continue;
		assert_int_equal(nums[k], before_num[i]);
		assert_memory_equal(recs[k], before[i], lens[k]);
		k++;
	}
	log_info(&first, &end2, &sessions);
	assert_int_equal(end2, end);
	assert_int_equal(sessions, 1);

	/* Recording goes on after the last record. */
	core_on_disconnect(&rig.core);
	use_without_host();
	rig_connect(&rig, 247);
	assert_true(read_all() > n2);
	assert_int_equal(nums[0], before_num[0]);
	assert_int_equal(nums[v], before_num[v + 1]);
	assert_int_equal(nums[n - 2], before_num[n - 1]);
}

static void test_log_storage_failure(void **state)
{
	struct proto_control_request q;
	struct proto_event e[8];
	uint32_t first, end, first2, end2;
	uint16_t sessions;

	(void)state;
	rig_setup(&rig, NULL, false);
	rig_start(&rig);
	rig_connect(&rig, 247);
	log_info(&first, &end, &sessions);
	rig.flash->fail_write = -EIO;
	rig.flash->fail_erase = -EIO;
	memset(&q, 0, sizeof(q));
	q.u.start_session.region = PROTO_REGION_NECK;
	request(PROTO_OP_START_SESSION, &q, PROTO_STATUS_STORAGE_ERROR);
	assert_false(core_session_active(&rig.core, NULL));
	log_info(&first2, &end2, &sessions);
	assert_int_equal(first2, first);
	assert_int_equal(rig_events(&rig, PROTO_EVENT_ERROR, e, 8), 1);
	assert_int_equal(e[0].u.error.code, PROTO_ERR_STORAGE);
	rig.flash->fail_write = 0;
	rig.flash->fail_erase = 0;
	request(PROTO_OP_START_SESSION, &q, PROTO_STATUS_OK);
}

/* ---- power cut at every byte ---- */

struct model_rec {
	uint32_t num;
	uint32_t page;
	uint8_t len;
	bool alive;
	uint8_t frame[PROTO_FRAME_MAX];
};

static struct model_rec model[RIG_MAX_RECORDS];
static size_t model_n;
static struct model_rec cut_rec;
static uint8_t prev_recs[RIG_MAX_RECORDS][PROTO_FRAME_MAX];
static uint32_t prev_nums[RIG_MAX_RECORDS];
static uint8_t prev_lens[RIG_MAX_RECORDS];
static int prev_n;
static bool have_cut_rec;

/* Replays the journal: the records that must be there. */
static void build_model(void)
{
	const struct fake_flash_op *ops = fake_flash_journal();
	const uint8_t *bytes = fake_flash_journal_bytes();
	size_t i, j;

	model_n = 0;
	have_cut_rec = false;
	for (i = 0; i < rig.flash->ops; i++) {
		const struct fake_flash_op *op = &ops[i];
		const uint8_t *d = bytes + op->data;
		struct model_rec *m;

		if (op->erase) {
			for (j = 0; j < model_n; j++)
				if (model[j].page == op->offset / rig.flash->page_size)
					model[j].alive = false;
			continue;
		}
		if (op->len < 12 || d[0] != 'R' || d[1] != 'C')
			continue; /* settings, page headers */
		m = op->complete ? &model[model_n++] : &cut_rec;
		assert_true(model_n < RIG_MAX_RECORDS);
		m->num = (uint32_t)d[4] | (uint32_t)d[5] << 8 | (uint32_t)d[6] << 16 |
			 (uint32_t)d[7] << 24;
		m->page = op->offset / rig.flash->page_size;
		m->len = d[2];
		m->alive = true;
		memcpy(m->frame, d + 12, m->len);
		if (!op->complete)
			have_cut_rec = true;
	}
}

enum step { SAMPLES, IDLE, CONNECT_SET_HOLD, CONNECT_START, DISCONNECT };
struct segment {
	enum step step;
	uint32_t n;
	int32_t dn, gyro;
};

static const struct segment scenario[] = {
	{ SAMPLES, 10, 0, 0 },
	{ SAMPLES, 250, 2000, 0 },
	{ SAMPLES, 100, 0, 0 },
	{ CONNECT_SET_HOLD, 0, 0, 0 },
	{ DISCONNECT, 0, 0, 0 },
	{ SAMPLES, 150, 2500, 0 },
	{ SAMPLES, 90, 0, 0 },
	{ IDLE, 61000, 0, 0 },
	{ CONNECT_START, 0, 0, 0 },
	{ DISCONNECT, 0, 0, 0 },
	{ SAMPLES, 130, 1800, 0 },
	{ SAMPLES, 60, 0, 0 },
	{ SAMPLES, 300, 2200, 0 },
};

static const struct proto_hold_params new_hold = { 1000, 3000, 60, 500, 50 };

/* Runs the scenario until it ends or the flash loses power. */
static void run_scenario(void)
{
	struct proto_control_request q;
	size_t s;
	uint32_t k;

	for (s = 0; s < sizeof(scenario) / sizeof(scenario[0]); s++) {
		const struct segment *g = &scenario[s];

		switch (g->step) {
		case SAMPLES:
			for (k = 0; k < g->n && !rig.flash->cut; k++)
				rig_sample(&rig, g->dn, g->gyro);
			break;
		case IDLE:
			rig_idle_ms(&rig, g->n);
			break;
		case CONNECT_SET_HOLD:
			rig_connect(&rig, 247);
			memset(&q, 0, sizeof(q));
			q.opcode = PROTO_OP_SET_HOLD;
			q.u.set_hold = new_hold;
			(void)rig_request(&rig, &q, NULL);
			break;
		case CONNECT_START:
			rig_connect(&rig, 247);
			memset(&q, 0, sizeof(q));
			q.opcode = PROTO_OP_START_SESSION;
			q.u.start_session.region = PROTO_REGION_CALVES;
			(void)rig_request(&rig, &q, NULL);
			break;
		case DISCONNECT:
			core_on_disconnect(&rig.core);
			rig_poll(&rig);
			break;
		}
		if (rig.flash->cut)
			return;
	}
}

static bool settings_write_completed(void)
{
	const struct fake_flash_op *ops = fake_flash_journal();
	const uint8_t *bytes = fake_flash_journal_bytes();
	size_t i;

	for (i = 0; i < rig.flash->ops; i++)
		if (!ops[i].erase && ops[i].complete && bytes[ops[i].data] == 'S' &&
		    bytes[ops[i].data + 1] == 'T')
			return true;
	return false;
}

/* Reboots on what the flash holds and checks it against the model. */
/* Reboots on what the flash holds; checks against the model (built);
 * returns the number of records. */
static int verify_after_reboot(uint64_t cut, bool settings_done)
{
	struct proto_hold_params hp;
	size_t m = 0;
	int n, i;

	rig_setup(&rig, &rig.opt, true);
	rig_start(&rig);
	core_hold_params(&rig.core, &hp);
	if (settings_done)
		assert_memory_equal(&hp, &new_hold, sizeof(hp));
	rig_connect(&rig, 247);
	n = read_all();
	for (i = 0; i < n; i++) {
		while (m < model_n && !model[m].alive)
			m++;
		if (m < model_n && model[m].num == nums[i]) {
			assert_int_equal(lens[i], model[m].len);
			assert_memory_equal(recs[i], model[m].frame, lens[i]);
			m++;
			continue;
		}
		if (have_cut_rec && cut_rec.num == nums[i] && lens[i] == cut_rec.len &&
		    memcmp(recs[i], cut_rec.frame, lens[i]) == 0)
			continue; /* all of its bytes made it before the cut */
		/* only the marker closing a session the cut left open */
		if (i != n - 1 || recs[i][1] != PROTO_TYPE_SESSION ||
		    recs[i][3] != PROTO_SESSION_END) {
			fprintf(stderr, "cut after byte %llu: unexpected record %u\n",
				(unsigned long long)cut, nums[i]);
			fail();
		}
	}
	while (m < model_n && !model[m].alive)
		m++;
	if (m != model_n) {
		fprintf(stderr, "cut after byte %llu: record %u lost\n",
			(unsigned long long)cut, model[m].num);
		fail();
	}
	return n;
}

static void power_back(void)
{
	rig.flash->journal = false;
	rig.flash->cut = false;
	rig.flash->cut_after = UINT64_MAX;
}

static void check_recovery(uint64_t cut)
{
	bool settings_done;
	size_t m;
	int n, i;

	build_model();
	settings_done = settings_write_completed();
	power_back();
	n = verify_after_reboot(cut, settings_done);

	/* and it keeps working: a new session lands after the old records,
	 * which stay intact (unless recycled to make room) */
	memcpy(prev_recs, recs, sizeof(recs));
	memcpy(prev_nums, nums, sizeof(nums));
	memcpy(prev_lens, lens, sizeof(lens));
	prev_n = n;
	rig_samples(&rig, 1, 0, 0);
	core_on_disconnect(&rig.core);
	rig_samples(&rig, 120, 2000, 0);
	rig_samples(&rig, 10, 0, 0);
	rig_idle_ms(&rig, 61000);
	rig_setup(&rig, &rig.opt, true);
	rig_start(&rig);
	rig_connect(&rig, 247);
	n = read_all();
	assert_true(n > 0);
	for (i = 0, m = 0; i < n; i++) {
		while (m < (size_t)prev_n && prev_nums[m] < nums[i])
			m++;
		if (m < (size_t)prev_n && prev_nums[m] == nums[i]) {
			assert_int_equal(lens[i], prev_lens[m]);
			assert_memory_equal(recs[i], prev_recs[m], lens[i]);
		} else {
			assert_true(prev_n == 0 || nums[i] > prev_nums[prev_n - 1]);
		}
	}
	{
		struct proto_frame f;

		assert_int_equal(proto_frame_decode(recs[n - 1], lens[n - 1], &f), 0);
		assert_int_equal(f.type, PROTO_TYPE_SESSION);
		assert_int_equal(f.u.session.kind, PROTO_SESSION_END);
	}
}

static void power_cut_sweep(uint32_t pages)
{
	struct rig_options o;
	uint64_t total, cut;

	rig_options_default(&o);
	o.pages = pages;
	rig_setup(&rig, &o, false);
	rig.flash->journal = true;
	rig_start(&rig);
	run_scenario();
	total = rig.flash->bytes_written;
	print_message("power cut sweep over %llu bytes, %u erases\n",
		      (unsigned long long)total, rig.flash->erases);
	assert_true(total > 1000);
	if (pages < 8)
		assert_true(rig.flash->erases >= pages - 1); /* it did recycle */

	/* CUT_FROM=<byte> in the environment starts the sweep there (debugging) */
	for (cut = getenv("CUT_FROM") ? strtoull(getenv("CUT_FROM"), NULL, 0) : 0; cut <= total; cut++) {
		rig_setup(&rig, &o, false);
		rig.flash->journal = true;
		rig.flash->cut_after = cut;
		rig_start(&rig);
		run_scenario();
		check_recovery(cut);
	}
}

/* The recovery writes too (zeros over a torn record, the marker closing an
 * open session): cut those at every byte, after cuts spread over the
 * scenario, then recover again. */
static void test_log_power_cut_during_recovery(void **state)
{
	static uint8_t saved[FAKE_FLASH_MAX];
	struct rig_options o;
	uint64_t total, cut, k, rec;
	unsigned recoveries = 0;
	bool settings_done;

	(void)state;
	rig_options_default(&o);
	rig_setup(&rig, &o, false);
	rig_start(&rig);
	run_scenario();
	total = rig.flash->bytes_written;
	for (cut = 0; cut <= total; cut += 41) { /* a spread; each costs ~130 recoveries */
		rig_setup(&rig, &o, false);
		rig.flash->journal = true;
		rig.flash->cut_after = cut;
		rig_start(&rig);
		run_scenario();
		build_model();
		settings_done = settings_write_completed();
		power_back();
		memcpy(saved, rig.flash->mem, sizeof(saved));
		rec = rig.flash->bytes_written;
		rig_setup(&rig, &o, true);
		rig_start(&rig);
		rec = rig.flash->bytes_written - rec;
		for (k = 0; k < rec; k++) {
			memcpy(rig.flash->mem, saved, sizeof(saved));
			rig.flash->cut_after = rig.flash->bytes_written + k;
			rig_setup(&rig, &o, true);
			rig_start(&rig); /* the recovery loses power after k bytes */
			power_back();
			(void)verify_after_reboot(cut, settings_done);
			recoveries++;
		}
	}
	print_message("%u cut recoveries\n", recoveries);
	assert_true(recoveries > 100);
}

static void test_log_power_cut_every_byte(void **state)
{
	(void)state;
	power_cut_sweep(16);
}

static void test_log_power_cut_every_byte_recycling(void **state)
{
	(void)state;
	power_cut_sweep(4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_session_without_host),
		cmocka_unit_test(test_log_read_ranges_and_resume),
		cmocka_unit_test(test_log_read_live_stream_one_per_poll),
		cmocka_unit_test(test_log_read_live_stream_saturated),
		cmocka_unit_test(test_log_read_live_stream_saturated_247),
		cmocka_unit_test(test_log_read_chunks_after_response),
		cmocka_unit_test(test_log_read_measurement_blocked),
		cmocka_unit_test(test_log_erase),
		cmocka_unit_test(test_log_recycles_oldest_sessions),
		cmocka_unit_test(test_log_reboot_closes_open_session),
		cmocka_unit_test(test_log_storage_failure),
		cmocka_unit_test(test_log_damaged_record_in_active_page),
		cmocka_unit_test(test_log_power_cut_every_byte),
		cmocka_unit_test(test_log_power_cut_every_byte_recycling),
		cmocka_unit_test(test_log_power_cut_during_recovery),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
