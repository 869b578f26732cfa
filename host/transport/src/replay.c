/*
 * The replay transport: a session log played back as if it arrived now.
 *
 * FRAME_IN records are delivered on their recorded channel with their
 * recorded time; RLOG_INPUT records through the input callback; "link ..." notes as link
 * state changes. FRAME_OUT records are what the host sent: skipped.
 * Timing: record i is due at start + (mono_i - mono_0) / speed; speed 0
 * plays as fast as the loop goes, a batch per loop iteration so that
 * signals and keys are still served.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roller/protocol.h"
#include "backends.h"

#define BATCH 512u

struct replay {
	sd_event *ev;
	struct transport_events events;
	void *userdata;
	double speed;
	struct rlog_reader reader;
	struct rlog_record next;
	bool have_next;
	bool started;
	bool finished;
	uint64_t t0_us;
	uint64_t start_us;
	sd_event_source *source;
};

static bool is_link_note(const struct rlog_record *rec)
{
	return rec->kind == RLOG_NOTE && rec->len >= 5 && memcmp(rec->data, "link ", 5) == 0;
}

/* Notes written by the session: "link <state>" or "link <state> (<err>): <detail>". */
static void deliver_note(struct replay *r, const struct rlog_record *rec)
{
	char text[RLOG_RECORD_MAX + 1], *word, *end, *detail = NULL;
	enum transport_state st;
	int err = 0;

	if (!is_link_note(rec))
		return;
	memcpy(text, rec->data, rec->len);
	text[rec->len] = '\0';
	word = text + 5;
	end = word + strcspn(word, " ");
	if (*end) {
		*end++ = '\0';
		if (sscanf(end, "(%d)", &err) != 1)
			err = 0;
		detail = strstr(end, "): ");
		if (detail)
			detail += 3;
	}
	if (strcmp(word, "connecting") == 0)
		st = TRANSPORT_CONNECTING;
	else if (strcmp(word, "connected") == 0)
		st = TRANSPORT_CONNECTED;
	else if (strcmp(word, "lost") == 0)
		st = TRANSPORT_LINK_LOST;
	else
		return; /* "ended"/"failed": a replay ends where the file ends */
	r->events.state(r->userdata, st, err, detail && *detail ? detail : NULL);
}

static void deliver(struct replay *r, const struct rlog_record *rec)
{
	switch (rec->kind) {
	case RLOG_FRAME_IN:
		r->events.frame(r->userdata, (enum rlog_channel)rec->channel, rec->data, rec->len,
				rec->mono_us);
		break;
	case RLOG_INPUT:
		if (rec->len == 1 && r->events.input)
			r->events.input(r->userdata, rec->data[0], rec->mono_us);
		break;
	case RLOG_NOTE:
		deliver_note(r, rec);
		break;
	default:
		break;
	}
}

static void finish(struct replay *r, int err)
{
	char detail[160];

	r->finished = true;
	sd_event_source_set_enabled(r->source, SD_EVENT_OFF);
	if (err) {
		snprintf(detail, sizeof(detail), "damaged record at offset %zu: %s", r->reader.pos,
			 rlog_strerror(err));
		r->events.state(r->userdata, TRANSPORT_FAILED, err, detail);
		return;
	}
	if (r->reader.torn) {
		snprintf(detail, sizeof(detail), "the log ends in a torn record at offset %zu (cut off "
			 "while it was written); replayed everything before it", r->reader.torn_offset);
		r->events.state(r->userdata, TRANSPORT_ENDED, 0, detail);
		return;
	}
	r->events.state(r->userdata, TRANSPORT_ENDED, 0, NULL);
}

static void pump(struct replay *r)
{
	uint64_t now = 0;
	unsigned n;
	int k;

	sd_event_now(r->ev, CLOCK_MONOTONIC, &now);
	for (n = 0; n < BATCH && !r->finished; n++) {
		if (!r->have_next) {
			k = rlog_reader_next(&r->reader, &r->next);
			if (k <= 0) {
				finish(r, k);
				return;
			}
			r->have_next = true;
			if (!r->started) {
				r->started = true;
				r->t0_us = r->next.mono_us;
				r->start_us = now;
				/* Logs from elsewhere may not record the link. */
				if (!is_link_note(&r->next))
					r->events.state(r->userdata, TRANSPORT_CONNECTED, 0, NULL);
			}
		}
		if (r->speed > 0) {
			uint64_t offset = r->next.mono_us > r->t0_us ? r->next.mono_us - r->t0_us : 0;
			uint64_t due = r->start_us + (uint64_t)((double)offset / r->speed);

			if (due > now) {
				sd_event_source_set_time(r->source, due);
				sd_event_source_set_enabled(r->source, SD_EVENT_ONESHOT);
				return;
			}
		}
		r->have_next = false;
		deliver(r, &r->next);
	}
	if (r->finished)
		return;
	/* Batch used up: go round the loop once, then carry on. */
	if (r->speed > 0) {
		sd_event_source_set_time(r->source, now);
		sd_event_source_set_enabled(r->source, SD_EVENT_ONESHOT);
	}
}

static int on_time(sd_event_source *src, uint64_t usec, void *userdata)
{
	(void)src;
	(void)usec;
	pump(userdata);
	return 0;
}

static int on_defer(sd_event_source *src, void *userdata)
{
	(void)src;
	pump(userdata);
	return 0;
}

static void replay_destroy(struct transport *t)
{
	struct replay *r = (struct replay *)t;

	if (!r)
		return;
	sd_event_source_disable_unref(r->source);
	rlog_reader_close(&r->reader);
	sd_event_unref(r->ev);
	free(r);
}

static int replay_create(struct transport **out, sd_event *ev, const struct transport_options *opt,
			 const struct transport_events *events, void *userdata)
{
	struct replay *r;
	int err;

	if (!out || !ev || !opt || !opt->path || !events || !events->frame || !events->state ||
	    opt->speed < 0)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->ev = sd_event_ref(ev);
	r->events = *events;
	r->userdata = userdata;
	r->speed = opt->speed;
	err = rlog_reader_open(&r->reader, opt->path);
	if (err < 0) {
		sd_event_unref(r->ev);
		free(r);
		return err;
	}
	if (r->speed > 0) {
		err = sd_event_add_time(ev, &r->source, CLOCK_MONOTONIC, 0, 1000, on_time, r);
	} else {
		err = sd_event_add_defer(ev, &r->source, on_defer, r);
		if (err >= 0) {
			/* Below everything else: keys and signals go first. */
			sd_event_source_set_priority(r->source, SD_EVENT_PRIORITY_IDLE);
			sd_event_source_set_enabled(r->source, SD_EVENT_ON);
		}
	}
	if (err < 0) {
		replay_destroy((struct transport *)r);
		return err;
	}
	*out = (struct transport *)r;
	return 0;
}

static int replay_write_control(struct transport *t, const uint8_t *buf, size_t len)
{
	(void)t;
	(void)buf;
	(void)len;
	return -EROFS;
}

static uint16_t replay_mtu(struct transport *t)
{
	(void)t;
	return PROTO_MTU_MIN;
}

const struct transport_ops transport_replay_ops = {
	.name = "replay",
	.create = replay_create,
	.write_control = replay_write_control,
	.coach_cue = NULL,
	.mtu = replay_mtu,
	.destroy = replay_destroy,
};
