/*
 * The coaching engine. Everything runs on sample positions (samples since
 * the first one fed); milliseconds appear only when a state or cue is
 * reported, so rounding can never make live and replay differ.
 */
#include <errno.h>
#include <string.h>

#include "roller/coach.h"

#define TEN_SECONDS_MS 10000u

static uint32_t ms_to_samples(uint32_t ms, uint16_t period_us)
{
	/* Round up: a rule of "90 s" must never be cut short by a fraction. */
	return (uint32_t)(((uint64_t)ms * 1000u + period_us - 1u) / period_us);
}

static uint32_t samples_to_ms(const struct coach *c, uint64_t samples)
{
	uint64_t ms = samples * c->config.sample_period_us / 1000u;

	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

static int32_t scale_round(int64_t value, int64_t num, int64_t den)
{
	int64_t v = value * num;

	v = v >= 0 ? (v + den / 2) / den : -((-v + den / 2) / den);
	if (v > INT32_MAX)
		return INT32_MAX;
	if (v < INT32_MIN)
		return INT32_MIN;
	return (int32_t)v;
}

static int32_t permille_to_dn(const struct coach *c, uint32_t permille)
{
	return scale_round(c->weight_dn, permille, 1000);
}

static uint16_t dn_to_permille(const struct coach *c, int32_t dn)
{
	int32_t p;

	if (dn <= 0)
		return 0;
	p = scale_round(dn, 1000, c->weight_dn);
	return p > UINT16_MAX ? UINT16_MAX : (uint16_t)p;
}

static int32_t mean_of(int64_t sum, uint32_t count)
{
	return count ? scale_round(sum, 1, count) : 0;
}

static uint8_t current_rep(const struct coach *c)
{
	uint8_t reps = c->config.plan.reps;

	return c->reps_done < reps ? (uint8_t)(c->reps_done + 1u) : reps;
}

/* ---- Cues ---- */

static void emit_at(struct coach *c, uint8_t kind, int32_t value, uint32_t sample,
		    uint64_t position, int32_t force)
{
	struct coach_cue *q;

	if (c->cue_count == COACH_CUES_MAX) {
		c->state.cues_dropped++;
		return;
	}
	q = &c->cues[c->cue_count++];
	q->kind = kind;
	q->rep = current_rep(c);
	q->sample = sample;
	q->time_ms = samples_to_ms(c, position);
	q->force_dn = force;
	q->value = value;
	if (kind == COACH_CUE_DROP)
		c->totals.drops++;
	else if (kind == COACH_CUE_TOO_MUCH)
		c->totals.over_pressure++;
}

/* At the sample being processed (or the last one, for inputs). */
static void emit(struct coach *c, uint8_t kind, int32_t value)
{
	emit_at(c, kind, value, c->state.sample, c->sample_pos,
		c->state.force_valid ? c->state.force_dn : 0);
}

/* ---- Band ---- */

static void set_band(struct coach *c, int32_t low, int32_t high)
{
	c->state.band_low_dn = low;
	c->state.band_high_dn = high;
	c->state.band_low_permille = dn_to_permille(c, low);
	c->state.band_high_permille = dn_to_permille(c, high);
}

static int32_t absolute_limit_dn(const struct coach *c)
{
	return permille_to_dn(c, c->config.plan.overpressure_permille);
}

static void set_base_band(struct coach *c, int32_t low, int32_t high)
{
	int32_t contact = c->config.contact_dn;
	int32_t over, relative;

	if (low <= contact)
		low = contact + 1;
	if (high <= low)
		high = low + 1;
	c->base_low_dn = low;
	c->base_high_dn = high;
	over = absolute_limit_dn(c);
	relative = scale_round(high, c->config.plan.overpressure_band_percent, 100);
	if (relative < over)
		over = relative;
	if (over <= high)
		over = high + 1;
	c->state.overpressure_dn = over;
	c->rearm_dn = over - over / 10;
	set_band(c, low, high);
}

/*
 * The personal band is centred on the tolerance, but its top never goes past
 * the plan's top (Grabow 2018: more force buys nothing) nor the absolute
 * over-pressure limit; the centre moves down instead. A tolerance under the
 * plan's band is honoured: the user's limit wins.
 */
static void band_from_tolerance(struct coach *c, int32_t tolerance)
{
	int64_t lo_pct = c->config.tolerance_low_percent;
	int64_t hi_pct = c->config.tolerance_high_percent;
	int32_t cap = permille_to_dn(c, c->config.plan.band_high_permille);
	int32_t absolute = absolute_limit_dn(c);
	int32_t centre = tolerance, high;

	if (absolute < cap)
		cap = absolute;
	if ((int64_t)centre * hi_pct > (int64_t)cap * 100)
		centre = (int32_t)((int64_t)cap * 100 / hi_pct);
	high = scale_round(centre, hi_pct, 100);
	if (high > cap)
		high = cap;
	c->state.tolerance_dn = tolerance;
	set_base_band(c, scale_round(centre, lo_pct, 100), high);
}

/* ---- The device-equivalent detector ---- */

/* cause NONE: the session stopped while the hold was running. */
static uint8_t end_reason(const struct coach *c, uint8_t cause, uint32_t in_band)
{
	if (cause == COACH_DIP_NONE)
		return PROTO_END_SESSION;
	if (in_band >= c->hold_samples)
		return PROTO_END_TARGET;
	switch (cause) {
	case COACH_DIP_RELEASED:
		return PROTO_END_RELEASED;
	case COACH_DIP_MOVING:
		return PROTO_END_MOVED;
	default:
		return PROTO_END_DROPPED;
	}
}

static void detector_publish(struct coach *c)
{
	struct coach_detector *d = &c->detector;

	d->hold.duration = (uint32_t)(d->last_good_pos - d->start_pos + 1u);
	d->hold.mean_force_dn = mean_of(d->sum, d->count);
	if (d->has_slot)
		c->detected[COACH_SOURCE_HOST][d->slot] = d->hold;
}

static void detector_end(struct coach *c, uint8_t cause)
{
	struct coach_detector *d = &c->detector;

	d->hold.reason = end_reason(c, cause, d->hold.in_band);
	d->hold.ended = true;
	detector_publish(c);
	d->active = false;
}

static void detector_step(struct coach *c, int32_t f, uint8_t cause)
{
	struct coach_detector *d = &c->detector;

	if (!d->active) {
		if (cause != COACH_DIP_NONE)
			return;
		memset(d, 0, sizeof(*d));
		d->active = true;
		d->hold.start_sample = c->state.sample;
		d->hold.peak_force_dn = f;
		d->hold.in_band = 1;
		d->start_pos = d->last_good_pos = c->position;
		d->sum = f;
		d->count = 1;
		c->totals.host_detected++;
		if (c->detected_count[COACH_SOURCE_HOST] < COACH_DETECTED_MAX) {
			d->has_slot = true;
			d->slot = c->detected_count[COACH_SOURCE_HOST]++;
		}
		detector_publish(c);
		return;
	}
	if (cause == COACH_DIP_NONE) {
		if (d->dip_len) {
			if (d->hold.dips < UINT8_MAX)
				d->hold.dips++;
			d->sum += d->pending_sum;
			d->count += d->pending_count;
			if (d->pending_peak > d->hold.peak_force_dn)
				d->hold.peak_force_dn = d->pending_peak;
			d->dip_len = 0;
		}
		d->hold.in_band++;
		d->sum += f;
		d->count++;
		if (f > d->hold.peak_force_dn)
			d->hold.peak_force_dn = f;
		d->last_good_pos = c->position; /* published by refresh_state() */
		return;
	}
	if (d->dip_len == 0) {
		d->pending_sum = 0;
		d->pending_count = 0;
		d->pending_peak = INT32_MIN;
	}
	d->dip_len++;
	d->pending_sum += f;
	d->pending_count++;
	if (f > d->pending_peak)
		d->pending_peak = f;
	if (d->dip_len > c->grace_samples)
		detector_end(c, cause);
}

/* ---- Coached holds ---- */

static uint8_t dip_cause(const struct coach *c, int32_t f, bool still)
{
	if (f < (int32_t)c->config.contact_dn)
		return COACH_DIP_RELEASED;
	if (!still)
		return COACH_DIP_MOVING;
	if (f < c->state.band_low_dn)
		return COACH_DIP_BELOW;
	if (f > c->state.band_high_dn)
		return COACH_DIP_ABOVE;
	return COACH_DIP_NONE;
}

static void enter_ready(struct coach *c)
{
	c->state.phase = c->state.contact ? COACH_PHASE_POSITIONING : COACH_PHASE_WAITING;
}

static void end_rest(struct coach *c, uint32_t sample, uint64_t position)
{
	c->rest_elapsed = c->rest_samples;
	enter_ready(c);
	emit_at(c, COACH_CUE_REST_OVER, 0, sample, position,
		c->state.force_valid ? c->state.force_dn : 0);
}

/* n samples of rest starting at (sample, position). */
static void rest_advance(struct coach *c, uint32_t n, uint32_t sample, uint64_t position)
{
	uint32_t left = c->rest_samples - c->rest_elapsed;

	if (n < left) {
		c->rest_elapsed += n;
		return;
	}
	end_rest(c, sample + left - 1u, position + left - 1u);
}

static void commit_pending(struct coach_run *r)
{
	r->sum += r->pending_sum;
	r->count += r->pending_count;
	if (r->pending_count && r->pending_peak > r->hold.peak_force_dn)
		r->hold.peak_force_dn = r->pending_peak;
	r->pending_sum = 0;
	r->pending_count = 0;
}

static void finish_hold(struct coach *c, uint8_t result, uint8_t cause,
			uint64_t end_pos, bool include_dip)
{
	struct coach_run *r = &c->run;
	struct coach_hold *h = &r->hold;
	struct coach_summary *t = &c->totals;

	if (include_dip)
		commit_pending(r);
	h->result = result;
	h->end_cause = cause;
	h->duration_ms = samples_to_ms(c, end_pos - r->start_pos);
	h->in_band_ms = samples_to_ms(c, r->credited);
	h->mean_force_dn = mean_of(r->sum, r->count);
	h->mean_force_permille = dn_to_permille(c, h->mean_force_dn);

	t->holds++;
	switch (result) {
	case COACH_HOLD_COMPLETE:
		t->complete++;
		break;
	case COACH_HOLD_EARLY_RELEASE:
		t->early_release++;
		break;
	case COACH_HOLD_PARTIAL:
		t->partial++;
		break;
	case COACH_HOLD_RESET:
		t->reset++;
		break;
	default:
		t->stopped++;
		break;
	}
	c->total_hold_samples += end_pos - r->start_pos;
	c->total_in_band_samples += r->credited;
	c->total_force_sum += r->sum;
	c->total_force_count += r->count;
	if (t->holds == 1 || h->peak_force_dn > t->peak_force_dn)
		t->peak_force_dn = h->peak_force_dn;
	if (c->hold_count < COACH_HOLDS_MAX)
		c->holds[c->hold_count++] = *h;

	memset(r, 0, sizeof(*r));
	set_band(c, c->base_low_dn, c->base_high_dn);
	c->state.dip_cause = COACH_DIP_NONE;

	if (result == COACH_HOLD_RESET) {
		enter_ready(c);
		return;
	}
	if (result == COACH_HOLD_STOPPED) {
		c->state.phase = COACH_PHASE_DONE;
		return;
	}
	c->reps_done++;
	if (c->reps_done >= c->config.plan.reps) {
		c->state.phase = COACH_PHASE_DONE;
		emit(c, COACH_CUE_SESSION_DONE, 0);
		return;
	}
	c->state.phase = COACH_PHASE_REST;
	c->rest_elapsed = 0;
	if (c->rest_samples == 0)
		end_rest(c, c->state.sample, c->sample_pos);
}

static void start_hold(struct coach *c, int32_t f)
{
	struct coach_run *r = &c->run;

	memset(r, 0, sizeof(*r));
	r->hold.rep = current_rep(c);
	r->hold.start_sample = c->state.sample;
	r->hold.band_low_dn = c->state.band_low_dn;
	r->hold.band_high_dn = c->state.band_high_dn;
	r->hold.peak_force_dn = f;
	r->start_pos = c->position;
	c->state.phase = COACH_PHASE_HOLDING;
	emit(c, COACH_CUE_HOLD_START, 0);
}

static void step_up(struct coach *c)
{
	struct coach_run *r = &c->run;
	const struct coach_plan *p = &c->config.plan;
	int32_t step = scale_round(c->base_low_dn, p->step_up_percent, 100);
	uint32_t ramp_ms;

	/* Bounded by the over-pressure limit: a raise that would reach it is
	 * skipped, silently, rather than coaching the user into a warning. */
	if (c->state.band_high_dn + step >= c->state.overpressure_dn)
		return;
	set_band(c, c->state.band_low_dn + step, c->state.band_high_dn + step);
	r->hold.step_ups++;
	ramp_ms = (uint32_t)(((uint64_t)step * 1000u + p->ramp_dn_per_s - 1u) / p->ramp_dn_per_s);
	r->ramp_allowance = ms_to_samples(ramp_ms, c->config.sample_period_us);
	emit(c, COACH_CUE_STEP_UP, c->state.band_low_dn);
}

/* Called after each credited sample: cues at exact credited counts. */
static void hold_milestones(struct coach *c)
{
	uint32_t k = c->run.credited, hold = c->hold_samples;
	unsigned j;

	if (hold >= 2 && k == hold / 2)
		emit(c, COACH_CUE_HALFWAY, 0);
	if (c->effective_samples > 0 && c->effective_samples < hold && k == c->effective_samples)
		emit(c, COACH_CUE_RELIEF_POINT, 0);
	if (hold > c->ten_left_samples && k == hold - c->ten_left_samples)
		emit(c, COACH_CUE_TEN_LEFT, 0);
	for (j = 0; j < c->config.plan.step_ups; j++) {
		if (k == c->step_at[j])
			step_up(c);
	}
	if (k >= hold) {
		emit(c, COACH_CUE_RELEASE, 0);
		finish_hold(c, COACH_HOLD_COMPLETE, COACH_DIP_NONE, c->position + 1u, false);
	}
}

static void long_drop(struct coach *c, uint8_t cause)
{
	struct coach_run *r = &c->run;
	int32_t held = (int32_t)samples_to_ms(c, r->credited);
	uint64_t end = r->last_good_pos + 1u;

	if (r->credited >= c->effective_samples) {
		emit(c, COACH_CUE_HOLD_COUNTED, held);
		finish_hold(c, COACH_HOLD_PARTIAL, cause, end, false);
	} else {
		emit(c, COACH_CUE_HOLD_RESET, held);
		finish_hold(c, COACH_HOLD_RESET, cause, end, false);
	}
}

static void hold_step(struct coach *c, int32_t f, uint8_t cause)
{
	struct coach_run *r = &c->run;

	if (cause == COACH_DIP_NONE) {
		if (r->dip_len) {
			if (r->hold.dips < UINT16_MAX)
				r->hold.dips++;
			commit_pending(r);
			if (r->drop_cued)
				emit(c, COACH_CUE_RESUMED, 0);
			r->dip_len = 0;
			r->drop_cued = false;
		}
		r->ramp_allowance = 0;
		c->state.phase = COACH_PHASE_HOLDING;
		c->state.dip_cause = COACH_DIP_NONE;
		r->credited++;
		r->sum += f;
		r->count++;
		if (f > r->hold.peak_force_dn)
			r->hold.peak_force_dn = f;
		r->last_good_pos = c->position;
		hold_milestones(c);
		return;
	}
	if (r->dip_len == 0) {
		r->pending_sum = 0;
		r->pending_count = 0;
		r->pending_peak = INT32_MIN;
	}
	r->dip_len++;
	r->pending_sum += f;
	r->pending_count++;
	if (f > r->pending_peak)
		r->pending_peak = f;
	c->state.phase = COACH_PHASE_PAUSED;
	c->state.dip_cause = cause;
	/* Right after a step-up, being under the new band is the plan, not a
	 * drop: no cue while the ramp allowance lasts. */
	if (!r->drop_cued && r->dip_len >= c->drop_cue_samples &&
	    !(r->ramp_allowance > 0 && cause == COACH_DIP_BELOW)) {
		emit(c, COACH_CUE_DROP, cause);
		r->drop_cued = true;
	}
	if (r->dip_len > c->grace_samples + r->ramp_allowance)
		long_drop(c, cause);
}

/* ---- Tolerance ---- */

static void tolerance_step(struct coach *c, int32_t f, bool still)
{
	int64_t lo = c->config.tolerance_low_percent, hi = c->config.tolerance_high_percent;
	int64_t sum;
	int64_t n;
	int32_t min, max;
	int32_t measured;

	if (!still || f < (int32_t)c->config.contact_dn) {
		c->tol_count = 0;
		return;
	}
	/* Steady means every sample of the run stays inside the band the run's
	 * mean would set; otherwise the run starts again from this sample. */
	sum = c->tol_sum + f;
	n = (int64_t)c->tol_count + 1;
	min = c->tol_count && c->tol_min < f ? c->tol_min : f;
	max = c->tol_count && c->tol_max > f ? c->tol_max : f;
	if ((int64_t)max * 100 * n > sum * hi || (int64_t)min * 100 * n < sum * lo) {
		sum = f;
		n = 1;
		min = max = f;
	}
	c->tol_sum = sum;
	c->tol_count = (uint32_t)n;
	c->tol_min = min;
	c->tol_max = max;
	if (c->tol_count < c->tolerance_samples)
		return;
	measured = mean_of(c->tol_sum, c->tol_count);
	c->tol_count = 0;
	band_from_tolerance(c, measured);
	enter_ready(c);
	emit(c, COACH_CUE_TOLERANCE_SET, measured);
}

/* ---- Samples ---- */

static void check_overpressure(struct coach *c, int32_t f)
{
	if (f > c->state.overpressure_dn) {
		c->state.over_pressure = true;
		if (c->over_armed) {
			c->over_armed = false;
			emit(c, COACH_CUE_TOO_MUCH, c->state.overpressure_dn);
		}
		return;
	}
	c->state.over_pressure = false;
	if (f <= c->rearm_dn)
		c->over_armed = true;
}

/* Samples whose force is unknown (lost, or a cell fault): time passes for
 * the rest timer; holds and the tolerance run are frozen. */
static void unknown_samples(struct coach *c, uint32_t n, uint32_t sample, uint64_t position)
{
	switch (c->state.phase) {
	case COACH_PHASE_TOLERANCE:
		c->tol_count = 0;
		break;
	case COACH_PHASE_REST:
		rest_advance(c, n, sample, position);
		break;
	default:
		break;
	}
}

static void process_sample(struct coach *c, uint32_t sample, int16_t raw, bool still)
{
	struct coach_state *s = &c->state;
	int32_t f = raw;
	uint8_t cause;

	s->sample = sample;
	c->sample_pos = c->position;
	s->samples++;
	if (raw == PROTO_FORCE_INVALID) {
		s->invalid++;
		s->force_valid = false;
		s->force_dn = 0;
		unknown_samples(c, 1, sample, c->position);
		return;
	}
	s->force_valid = true;
	s->force_dn = f;
	s->still = still;
	s->contact = f >= (int32_t)c->config.contact_dn;
	check_overpressure(c, f);
	cause = dip_cause(c, f, still);
	detector_step(c, f, cause);

	switch (s->phase) {
	case COACH_PHASE_TOLERANCE:
		tolerance_step(c, f, still);
		break;
	case COACH_PHASE_WAITING:
	case COACH_PHASE_POSITIONING:
		if (cause == COACH_DIP_NONE) {
			start_hold(c, f);
			hold_step(c, f, cause);
		} else {
			enter_ready(c);
		}
		break;
	case COACH_PHASE_HOLDING:
	case COACH_PHASE_PAUSED:
		hold_step(c, f, cause);
		break;
	case COACH_PHASE_REST:
		rest_advance(c, 1, sample, c->position);
		break;
	case COACH_PHASE_DONE:
		break;
	}
}

static void refresh_state(struct coach *c)
{
	struct coach_state *s = &c->state;
	bool holding = s->phase == COACH_PHASE_HOLDING || s->phase == COACH_PHASE_PAUSED;

	/* Per call, not per sample: milliseconds and shares are for display. */
	s->time_ms = samples_to_ms(c, c->sample_pos);
	s->force_permille = s->force_valid ? dn_to_permille(c, s->force_dn) : 0;
	if (c->detector.active)
		detector_publish(c);
	s->rep = current_rep(c);
	s->countdown_ms = samples_to_ms(c, c->hold_samples - (holding ? c->run.credited : 0u));
	if (s->phase == COACH_PHASE_DONE)
		s->countdown_ms = 0;
	s->in_band_ms = holding ? samples_to_ms(c, c->run.credited) : 0;
	s->dip_ms = s->phase == COACH_PHASE_PAUSED ? samples_to_ms(c, c->run.dip_len) : 0;
	s->rest_left_ms = s->phase == COACH_PHASE_REST ?
		samples_to_ms(c, c->rest_samples - c->rest_elapsed) : 0;
	s->tolerance_steady_ms = s->phase == COACH_PHASE_TOLERANCE ?
		samples_to_ms(c, c->tol_count) : 0;
}

/* ---- Public ---- */

static int check_config(const struct coach_config *cfg)
{
	int r = coach_plan_check(&cfg->plan);

	if (r < 0)
		return r;
	if (cfg->sample_period_us == 0 || cfg->body_weight_dkg == 0 || cfg->contact_dn == 0)
		return -ERANGE;
	if (cfg->tolerance_ms < 500 || cfg->tolerance_ms > 30000)
		return -ERANGE;
	if (cfg->tolerance_low_percent < 50 || cfg->tolerance_low_percent > 99)
		return -ERANGE;
	if (cfg->tolerance_high_percent < 101 || cfg->tolerance_high_percent > 200)
		return -ERANGE;
	if (cfg->drop_cue_ms > 2000 || cfg->tolerance_dn > INT16_MAX)
		return -ERANGE;
	return 0;
}

int coach_init(struct coach *c, const struct coach_config *cfg)
{
	const struct coach_plan *p;
	uint16_t period;
	unsigned j;
	int r;

	if (!c || !cfg)
		return -EINVAL;
	r = check_config(cfg);
	if (r < 0)
		return r;
	memset(c, 0, sizeof(*c));
	c->config = *cfg;
	p = &c->config.plan;
	period = cfg->sample_period_us;
	c->weight_dn = coach_weight_dn(cfg->body_weight_dkg);
	c->hold_samples = ms_to_samples(p->hold_ms, period);
	c->rest_samples = ms_to_samples(p->rest_ms, period);
	c->effective_samples = ms_to_samples(p->effective_ms, period);
	c->grace_samples = ms_to_samples(p->grace_ms, period);
	c->ten_left_samples = ms_to_samples(TEN_SECONDS_MS, period);
	c->drop_cue_samples = ms_to_samples(cfg->drop_cue_ms, period);
	if (c->drop_cue_samples == 0)
		c->drop_cue_samples = 1;
	c->tolerance_samples = ms_to_samples(cfg->tolerance_ms, period);
	/* Raises evenly spaced through the hold: 1 -> half, 2 -> thirds... */
	for (j = 0; j < p->step_ups; j++)
		c->step_at[j] = (uint32_t)((uint64_t)c->hold_samples * (j + 1u) / (p->step_ups + 1u));
	c->over_armed = true;

	if (cfg->tolerance_dn > 0)
		band_from_tolerance(c, (int32_t)cfg->tolerance_dn);
	else
		set_base_band(c, permille_to_dn(c, p->band_low_permille),
			      permille_to_dn(c, p->band_high_permille));
	c->state.phase = cfg->find_tolerance ? COACH_PHASE_TOLERANCE : COACH_PHASE_WAITING;
	c->state.reps = p->reps;
	c->state.hold_ms = samples_to_ms(c, c->hold_samples);
	c->totals.region = p->region;
	c->totals.reps_planned = p->reps;
	refresh_state(c);
	return 0;
}

int coach_feed_measurement(struct coach *c, const struct proto_measurement *m)
{
	bool resent;
	size_t i;

	if (!c || !m || m->count == 0 || m->count > PROTO_BATCH_MAX_SAMPLES)
		return -EINVAL;
	c->cue_count = 0;
	c->state.calibrated = (m->flags & PROTO_MEAS_CALIBRATED) != 0;
	resent = (m->flags & PROTO_MEAS_RESENT) != 0;
	if (!c->started) {
		c->started = true;
		c->next_sample = m->first_sample;
		c->state.sample = m->first_sample;
		if (!c->prompted && c->state.phase != COACH_PHASE_DONE)
			emit_at(c, c->state.phase == COACH_PHASE_TOLERANCE ?
				COACH_CUE_FIND_TOLERANCE : COACH_CUE_GET_ON,
				0, m->first_sample, 0, 0);
		c->prompted = true;
	}
	for (i = 0; i < m->count; i++) {
		uint32_t sample = m->first_sample + (uint32_t)i;
		int32_t d = proto_seq_diff(c->next_sample, sample);

		if (d < 0) {
			if (resent)
				c->state.resent++;
			else
				c->state.duplicates++;
			continue;
		}
		if (d > 0) {
			/* Cues inside the gap (a rest ending) come first: sample order. */
			unknown_samples(c, (uint32_t)d, c->next_sample, c->position);
			c->position += (uint32_t)d;
			c->state.samples_lost += (uint32_t)d;
			c->state.gaps++;
			emit_at(c, COACH_CUE_DATA_GAP, d, sample, c->position, 0);
		}
		process_sample(c, sample, m->force[i], proto_measurement_is_still(m, i));
		c->next_sample = sample + 1u;
		c->position++;
	}
	refresh_state(c);
	return 0;
}

static struct coach_detected_hold *device_open_hold(struct coach *c)
{
	size_t n = c->detected_count[COACH_SOURCE_DEVICE];
	struct coach_detected_hold *h;

	if (n == 0)
		return NULL;
	h = &c->detected[COACH_SOURCE_DEVICE][n - 1];
	return h->ended ? NULL : h;
}

static struct coach_detected_hold *device_new_hold(struct coach *c)
{
	size_t *n = &c->detected_count[COACH_SOURCE_DEVICE];
	struct coach_detected_hold *h;

	c->totals.device_detected++;
	if (*n == COACH_DETECTED_MAX)
		return NULL;
	h = &c->detected[COACH_SOURCE_DEVICE][(*n)++];
	memset(h, 0, sizeof(*h));
	return h;
}

int coach_feed_event(struct coach *c, const struct proto_event *e)
{
	struct coach_detected_hold *h;

	if (!c || !e)
		return -EINVAL;
	c->cue_count = 0;
	if (c->have_event_seq) {
		uint16_t jump = (uint16_t)(e->seq - c->event_seq);

		if (jump == 0 || jump >= 0x8000u)
			return 0; /* a repeat, or older than the last one */
		c->state.events_lost += jump - 1u;
	}
	c->have_event_seq = true;
	c->event_seq = e->seq;

	switch (e->kind) {
	case PROTO_EVENT_HOLD_START:
		h = device_new_hold(c);
		if (h) {
			h->start_sample = e->sample;
			h->mean_force_dn = h->peak_force_dn = e->u.hold_start.force;
		}
		break;
	case PROTO_EVENT_HOLD_END:
		h = device_open_hold(c);
		if (!h) {
			h = device_new_hold(c);
			if (h)
				h->start_sample = e->sample - e->u.hold_end.duration;
		}
		if (h) {
			h->duration = e->u.hold_end.duration;
			h->in_band = e->u.hold_end.in_band;
			h->mean_force_dn = e->u.hold_end.mean_force;
			h->peak_force_dn = e->u.hold_end.peak_force;
			h->reason = e->u.hold_end.reason;
			h->dips = e->u.hold_end.dips;
			h->ended = true;
		}
		break;
	case PROTO_EVENT_COUNTERS:
		c->state.device_dropped = e->u.counters.samples_dropped;
		break;
	default:
		break;
	}
	return 0;
}

int coach_input(struct coach *c, enum coach_input input)
{
	uint8_t phase;
	bool holding;

	if (!c)
		return -EINVAL;
	phase = c->state.phase;
	holding = phase == COACH_PHASE_HOLDING || phase == COACH_PHASE_PAUSED;
	switch (input) {
	case COACH_INPUT_RELIEF:
		if (!holding)
			return -EAGAIN;
		c->cue_count = 0;
		emit(c, COACH_CUE_EARLY_RELEASE, (int32_t)samples_to_ms(c, c->run.credited));
		finish_hold(c, COACH_HOLD_EARLY_RELEASE, COACH_DIP_NONE, c->position, true);
		break;
	case COACH_INPUT_SKIP:
		if (phase == COACH_PHASE_TOLERANCE) {
			c->cue_count = 0;
			c->tol_count = 0;
			c->prompted = true;
			enter_ready(c);
			emit(c, COACH_CUE_GET_ON, 0);
		} else if (phase == COACH_PHASE_REST) {
			c->cue_count = 0;
			end_rest(c, c->state.sample, c->sample_pos);
		} else {
			return -EAGAIN;
		}
		break;
	case COACH_INPUT_STOP:
		c->cue_count = 0;
		if (holding)
			finish_hold(c, COACH_HOLD_STOPPED, COACH_DIP_NONE, c->position, true);
		if (c->detector.active)
			detector_end(c, COACH_DIP_NONE);
		if (c->state.phase != COACH_PHASE_DONE || holding) {
			c->state.phase = COACH_PHASE_DONE;
			emit(c, COACH_CUE_SESSION_DONE, 0);
		}
		break;
	default:
		return -EINVAL;
	}
	refresh_state(c);
	return 0;
}

const struct coach_cue *coach_cues(const struct coach *c, size_t *count)
{
	if (count)
		*count = c ? c->cue_count : 0;
	return c ? c->cues : NULL;
}

const struct coach_state *coach_state(const struct coach *c)
{
	return c ? &c->state : NULL;
}

const struct coach_hold *coach_holds(const struct coach *c, size_t *count)
{
	if (count)
		*count = c ? c->hold_count : 0;
	return c ? c->holds : NULL;
}

const struct coach_detected_hold *coach_detected_holds(const struct coach *c,
						       enum coach_source source,
						       size_t *count)
{
	bool known = source == COACH_SOURCE_HOST || source == COACH_SOURCE_DEVICE;

	if (count)
		*count = c && known ? c->detected_count[source] : 0;
	if (!c)
		return NULL;
	return c->detected[known ? source : COACH_SOURCE_HOST];
}

int coach_summary(const struct coach *c, struct coach_summary *out)
{
	if (!c || !out)
		return -EINVAL;
	*out = c->totals;
	out->reps_done = c->reps_done;
	out->session_ms = samples_to_ms(c, c->position);
	out->hold_ms = samples_to_ms(c, c->total_hold_samples);
	out->in_band_ms = samples_to_ms(c, c->total_in_band_samples);
	out->mean_force_dn = c->total_force_count ?
		scale_round(c->total_force_sum, 1, (int64_t)c->total_force_count) : 0;
	out->mean_force_permille = dn_to_permille(c, out->mean_force_dn);
	out->band_low_dn = c->base_low_dn;
	out->band_high_dn = c->base_high_dn;
	out->tolerance_dn = c->state.tolerance_dn;
	out->gaps = c->state.gaps;
	out->samples_lost = c->state.samples_lost;
	out->duplicates = c->state.duplicates;
	out->resent = c->state.resent;
	out->invalid = c->state.invalid;
	return 0;
}

static uint32_t wire16(uint32_t v)
{
	return v > UINT16_MAX ? UINT16_MAX : v;
}

static int32_t distance(int32_t a, int32_t b)
{
	return a > b ? a - b : b - a;
}

bool coach_detected_hold_equal(const struct coach_detected_hold *a,
			       const struct coach_detected_hold *b)
{
	if (!a || !b)
		return false;
	return a->start_sample == b->start_sample &&
	       wire16(a->duration) == wire16(b->duration) &&
	       wire16(a->in_band) == wire16(b->in_band) &&
	       a->ended == b->ended &&
	       (!a->ended || a->reason == b->reason) &&
	       a->dips == b->dips &&
	       distance(a->mean_force_dn, b->mean_force_dn) <= 1 &&
	       distance(a->peak_force_dn, b->peak_force_dn) <= 1;
}

static uint16_t clamp16(int64_t v, int64_t lo, int64_t hi)
{
	return (uint16_t)(v < lo ? lo : v > hi ? hi : v);
}

int coach_device_hold_params(const struct coach *c, struct proto_hold_params *p)
{
	if (!c || !p)
		return -EINVAL;
	p->contact = clamp16(c->config.contact_dn, 1, UINT16_MAX - 2);
	p->band_low = clamp16(c->state.band_low_dn, p->contact + 1, UINT16_MAX - 1);
	p->band_high = clamp16(c->state.band_high_dn, p->band_low + 1, UINT16_MAX);
	p->hold_s = clamp16((c->config.plan.hold_ms + 999u) / 1000u, 1, 3600);
	p->grace_ms = clamp16(c->config.plan.grace_ms, 0, 10000);
	return 0;
}
