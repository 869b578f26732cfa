/* Synthetic session logs (see synth.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "roller/coach.h"
#include "roller/protocol.h"
#include "roller/rlog.h"

#include "synth.h"

#define MONO0_US 1000000000ull

void synth_defaults(struct synth_options *o)
{
	memset(o, 0, sizeof(*o));
	o->period_us = 20000;
	o->batch = 5;
	o->seconds = 150;
	o->region = PROTO_REGION_CALVES;
	o->body_weight_dkg = 750;
	o->hold_s = 30;
	o->rest_s = 10;
	o->reps = 3;
	o->band_low_permille = 250;
	o->band_high_permille = 400;
	o->level_permille = 320;
	o->created_unix_ms = 1767600000000ull; /* 2026-01-05 08:00:00 UTC, a Monday */
}

struct sample {
	int16_t force;
	bool still;
	bool present;
};

/* The schedule: get on (2 s), ramp (3 s), hold (hold + 1 s), off (rest + 2 s). */
static struct sample sample_at(const struct synth_options *o, uint32_t n, uint32_t *noise)
{
	uint32_t hz = 1000000u / o->period_us;
	/* A dip pauses the countdown: the person holds that much longer. */
	uint32_t on = 2 * hz, ramp = 3 * hz;
	uint32_t hold = ((uint32_t)o->hold_s + 1u) * hz + (uint32_t)o->dip_ms * hz / 1000u;
	uint32_t off = ((uint32_t)o->rest_s + 2u) * hz, cycle = on + ramp + hold + off;
	uint32_t weight_dn = coach_weight_dn(o->body_weight_dkg);
	int32_t level = (int32_t)(weight_dn * o->level_permille / 1000u);
	int32_t dip = (int32_t)(weight_dn * o->band_low_permille / 1000u) * 8 / 10;
	uint32_t rep = n / cycle, at = n % cycle;
	struct sample s = { 0, true, true };

	*noise = *noise * 1664525u + 1013904223u;
	if (rep >= o->reps || at < on)
		return s; /* off the roller */
	at -= on;
	if (at < ramp) {
		s.force = (int16_t)(level * (int32_t)at / (int32_t)ramp);
		s.still = false;
	} else if ((at -= ramp) < hold) {
		uint32_t mid = hold / 2u, dip_samples = o->dip_ms * hz / 1000u;

		s.force = (int16_t)(level + (int32_t)(*noise >> 29) - 4); /* +-0.4 N */
		if (dip_samples && at >= mid && at < mid + dip_samples)
			s.force = (int16_t)dip;
	}
	if (o->gap_samples && n >= o->gap_at_s * hz && n < o->gap_at_s * hz + o->gap_samples)
		s.present = false;
	if (o->invalid_samples && n >= o->invalid_at_s * hz &&
	    n < o->invalid_at_s * hz + o->invalid_samples)
		s.force = PROTO_FORCE_INVALID;
	return s;
}

static int append(struct rlog_writer *w, uint8_t kind, uint8_t ch, const void *data, size_t len,
		  uint64_t mono_us, uint64_t created)
{
	struct rlog_record rec = {
		.kind = kind,
		.channel = ch,
		.mono_us = mono_us,
		.wall_ms = created + (mono_us - MONO0_US) / 1000u,
		.len = (uint16_t)len,
		.data = data,
	};

	return rlog_writer_append(w, &rec);
}

static int flush(struct rlog_writer *w, const struct synth_options *o, struct proto_measurement *m)
{
	uint8_t buf[PROTO_FRAME_ABS_MAX];
	size_t len = 0;
	uint64_t last_us = (uint64_t)(m->first_sample + m->count) * o->period_us;
	int r;

	if (!m->count)
		return 0;
	r = proto_measurement_encode(m, buf, sizeof(buf), &len);
	if (r == 0)
		r = append(w, RLOG_FRAME_IN, RLOG_CH_MEASUREMENT, buf, len, MONO0_US + last_us,
			   o->created_unix_ms);
	m->count = 0;
	return r;
}

int synth_write(const char *dir, const char *name, const struct synth_options *o)
{
	uint32_t weight_dn = coach_weight_dn(o->body_weight_dkg);
	uint32_t total = o->seconds * (1000000u / o->period_us), noise = 12345;
	struct proto_info info = {
		.proto_major = PROTO_VERSION,
		.proto_minor = PROTO_VERSION_MINOR,
		.fw_major = 0, .fw_minor = 1, .fw_patch = 0,
		.capabilities = 0,
		.sample_period_us = o->period_us,
		.channels = 4,
		.calibration = PROTO_CAL_VALID,
		.full_scale = 20000,
		.device_id = 0x53594e54u,
	};
	struct rlog_header h;
	struct rlog_writer w;
	struct proto_measurement m;
	uint8_t buf[PROTO_FRAME_ABS_MAX];
	size_t len = 0;
	int r, err;

	memset(&h, 0, sizeof(h));
	h.created_unix_ms = o->created_unix_ms;
	snprintf(h.roller_id, sizeof(h.roller_id), "synth");
	snprintf(h.transport, sizeof(h.transport), "sim");
	h.fw_minor = 1;
	h.proto_major = PROTO_VERSION;
	h.region = o->region;
	h.calibration = PROTO_CAL_VALID;
	h.sample_period_us = o->period_us;
	h.body_weight_dkg = o->body_weight_dkg;
	h.plan_hold_s = o->hold_s;
	h.plan_rest_s = o->rest_s;
	h.plan_reps = o->reps;
	h.band_low_dn = (uint16_t)(weight_dn * o->band_low_permille / 1000u);
	h.band_high_dn = (uint16_t)(weight_dn * o->band_high_permille / 1000u);
	h.grace_ms = 2000;
	r = rlog_writer_create(&w, dir, name, &h);
	if (r < 0)
		return r;
	r = append(&w, RLOG_NOTE, RLOG_CH_NONE, "link connecting", 15, MONO0_US, o->created_unix_ms);
	if (r == 0)
		r = append(&w, RLOG_NOTE, RLOG_CH_NONE, "link connected", 14, MONO0_US,
			   o->created_unix_ms);
	if (r == 0)
		r = proto_info_encode(&info, buf, sizeof(buf), &len);
	if (r == 0)
		r = append(&w, RLOG_FRAME_IN, RLOG_CH_INFO, buf, len, MONO0_US, o->created_unix_ms);

	memset(&m, 0, sizeof(m));
	for (uint32_t n = 0; n < total && r == 0; n++) {
		struct sample s = sample_at(o, n, &noise);

		if (!s.present) {
			r = flush(&w, o, &m); /* a batch holds consecutive samples only */
			continue;
		}
		if (!m.count) {
			m.first_sample = n;
			m.time = (uint32_t)((uint64_t)n * o->period_us / 1000u);
			m.flags = PROTO_MEAS_CALIBRATED | PROTO_MEAS_RECORDING;
			memset(m.still, 0, sizeof(m.still));
		}
		m.force[m.count] = s.force;
		proto_measurement_set_still(&m, m.count, s.still);
		m.count++;
		if (m.count == o->batch)
			r = flush(&w, o, &m);
	}
	if (r == 0)
		r = flush(&w, o, &m);
	err = rlog_writer_close(&w);
	return r ? r : err;
}
