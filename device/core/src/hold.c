/*
 * Hold detection: contact (with hysteresis) + stillness + target band ->
 * idle / rolling / pressing / holding / released, with a grace window for
 * brief dips. The host re-derives the same holds from the streamed samples
 * (device/README.md spells the rules out), so every rule here works on the
 * values that go on the wire: the filtered force and the still bit.
 */
#include "core_internal.h"

void hold_configure(struct core *c)
{
	uint32_t period = c->ports.force->sample_period_us;

	c->hold.grace_samples = (uint32_t)((uint64_t)c->hold_params.grace_ms * 1000u / period);
	c->hold.target_samples = (uint32_t)((uint64_t)c->hold_params.hold_s * 1000000u / period);
}

void hold_reset(struct core *c)
{
	c->hold.state = PROTO_STATE_IDLE;
	c->hold.contact = false;
	c->hold.active = false;
	c->hold.in_dip = false;
	hold_configure(c);
}

static void update_contact(struct core *c, int16_t f)
{
	int32_t on = c->hold_params.contact;
	int32_t off = on - on / 4; /* 25 % hysteresis */

	if (f == PROTO_FORCE_INVALID)
		return;
	if (f == PROTO_FORCE_SATURATED)
		c->hold.contact = true;
	else if (!c->hold.contact && f >= on)
		c->hold.contact = true;
	else if (c->hold.contact && f < off)
		c->hold.contact = false;
}

static bool in_band(const struct core *c, int16_t f)
{
	return f != PROTO_FORCE_INVALID && f != PROTO_FORCE_SATURATED &&
	       f >= (int32_t)c->hold_params.band_low && f <= (int32_t)c->hold_params.band_high;
}

static int16_t mean(int64_t sum, uint32_t n)
{
	int64_t m;

	if (n == 0)
		return 0;
	m = sum >= 0 ? (sum + n / 2) / n : -((-sum + n / 2) / n);
	return (int16_t)m;
}

static uint16_t sat16(uint32_t v)
{
	return v > UINT16_MAX ? UINT16_MAX : (uint16_t)v;
}

static void start(struct core *c, uint32_t index, int16_t f)
{
	struct proto_event e;

	c->hold.active = true;
	c->hold.in_dip = false;
	c->hold.start = index;
	c->hold.length = 1;
	c->hold.in_band = 1;
	c->hold.summed = 1;
	c->hold.sum = f;
	c->hold.peak = f;
	c->hold.dips = 0;
	c->hold.state = PROTO_STATE_HOLDING;

	e.kind = PROTO_EVENT_HOLD_START;
	e.sample = index;
	e.u.hold_start.force = f;
	stream_event(c, &e);
}

static void end(struct core *c, uint8_t reason, bool natural)
{
	struct proto_event e;

	if (natural && c->hold.length >= c->hold.target_samples)
		reason = PROTO_END_TARGET;
	e.kind = PROTO_EVENT_HOLD_END;
	e.sample = c->hold.start + c->hold.length; /* first sample after the hold */
	e.u.hold_end.duration = sat16(c->hold.length);
	e.u.hold_end.in_band = sat16(c->hold.in_band);
	e.u.hold_end.mean_force = mean(c->hold.sum, c->hold.summed);
	e.u.hold_end.peak_force = c->hold.peak;
	e.u.hold_end.reason = reason;
	e.u.hold_end.dips = c->hold.dips;
	c->hold.active = false;
	c->hold.in_dip = false;
	c->hold.state = PROTO_STATE_RELEASED;
	stream_event(c, &e);
}

void hold_end_now(struct core *c, uint8_t reason)
{
	if (c->hold.active) {
		end(c, reason, false);
		core_status_update(c);
	}
}

static void add(uint32_t *len, uint32_t *band, uint32_t *summed, int64_t *sum,
		int16_t *peak, int16_t f, bool b)
{
	(*len)++;
	if (b)
		(*band)++;
	if (f != PROTO_FORCE_INVALID) {
		(*summed)++;
		*sum += f == PROTO_FORCE_SATURATED ? PROTO_FORCE_MAX_DN : f;
		if (f > *peak)
			*peak = f;
	}
}

void hold_on_sample(struct core *c, uint32_t index, int16_t f, bool still)
{
	struct core_hold_state *h = &c->hold;
	bool band, good;

	update_contact(c, f);
	band = in_band(c, f);
	good = h->contact && still && band;

	if (!h->active) {
		if (good) {
			start(c, index, f);
		} else if (!h->contact) {
			h->state = PROTO_STATE_IDLE;
		} else {
			h->state = still ? PROTO_STATE_PRESSING : PROTO_STATE_ROLLING;
		}
		return;
	}

	if (good) {
		if (h->in_dip) {
			/* Came back within grace: the dip belongs to the hold. */
			h->length += h->dip_len;
			h->in_band += h->dip_in_band;
			h->summed += h->dip_summed;
			h->sum += h->dip_sum;
			if (h->dip_peak > h->peak)
				h->peak = h->dip_peak;
			if (h->dips < UINT8_MAX)
				h->dips++;
			h->in_dip = false;
		}
		add(&h->length, &h->in_band, &h->summed, &h->sum, &h->peak, f, band);
		h->state = PROTO_STATE_HOLDING;
		return;
	}

	if (!h->in_dip) {
		h->in_dip = true;
		h->dip_len = 0;
		h->dip_in_band = 0;
		h->dip_summed = 0;
		h->dip_sum = 0;
		h->dip_peak = INT16_MIN;
	}
	add(&h->dip_len, &h->dip_in_band, &h->dip_summed, &h->dip_sum, &h->dip_peak, f, band);
	if (h->dip_len > h->grace_samples) {
		uint8_t reason;

		if (!h->contact)
			reason = PROTO_END_RELEASED;
		else if (!still)
			reason = PROTO_END_MOVED;
		else
			reason = PROTO_END_DROPPED;
		end(c, reason, true);
	}
}
