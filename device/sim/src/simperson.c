/*
 * The simulated person. Integer arithmetic only, so a seed gives the same
 * samples on every platform and compiler (no floating-point contraction
 * differences between x86-64 and arm64).
 */
#include "roller/simperson.h"

#include <errno.h>
#include <string.h>

#define MN_PER_KG 9807           /* standard gravity, mN per kg */
#define ADC_MIN (-8388608)
#define ADC_MAX 8388607
#define ROLL_SPEED_MDPS 40000    /* about 5 cm/s on a 14 cm roller */
#define STILL_NOISE_MDPS 600
#define GET_OFF_MS 1000

void simperson_config_defaults(struct simperson_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->seed = 1;
	cfg->channels = 4;
	cfg->sample_rate_hz = 80;
	cfg->body_weight_kg = 75;
	cfg->gain_counts_per_n = 400;
	cfg->noise_dn = 15;
	cfg->count_noise = 20;
	cfg->imu = true;
	cfg->plan.reps = 3;
	cfg->plan.hold_s = 30;
	cfg->plan.rest_s = 10;
	cfg->plan.lead_in_ms = 2000;
	cfg->plan.roll_s = 5;
	cfg->plan.find_ms = 1500;
	cfg->plan.band_low_permille = 350;
	cfg->plan.band_high_permille = 500;
	cfg->plan.ramp_dn_per_s = 100;
	cfg->plan.dips_per_hold = 1;
	cfg->plan.dip_ms = 300;
	cfg->plan.drop_rep = 0;
	cfg->plan.drop_ms = 3000;
	cfg->plan.over_rep = 0;
	cfg->plan.over_ms = 2000;
	cfg->plan.wait_for_release = false;
}

static uint32_t next_random(struct simperson *p)
{
	/* xorshift64* */
	uint64_t x = p->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	p->rng = x;
	return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

/* Uniform in [-amp, amp]. */
static int32_t noise(struct simperson *p, int32_t amp)
{
	if (amp <= 0)
		return 0;
	return (int32_t)(next_random(p) % (uint32_t)(2 * amp + 1)) - amp;
}

static uint32_t samples(const struct simperson *p, uint32_t ms)
{
	uint32_t n = (uint32_t)((uint64_t)ms * p->cfg.sample_rate_hz / 1000u);

	return n ? n : 1u;
}

static void enter(struct simperson *p, enum simperson_phase phase, uint32_t ms)
{
	p->phase = (uint8_t)phase;
	p->left = samples(p, ms);
}

static void start_rep(struct simperson *p)
{
	if (p->rep >= p->cfg.plan.reps) {
		p->phase = SIMPERSON_DONE;
		p->left = UINT32_MAX;
		return;
	}
	p->rep++;
	p->hold_elapsed = 0;
	p->dips_done = 0;
	p->dropped = p->overed = p->released = false;
	p->hold_total = samples(p, (uint32_t)p->cfg.plan.hold_s * 1000u);
	if (p->cfg.plan.wait_for_release)
		p->hold_total *= 2u;
	p->roll_dir = 1;
	if (p->cfg.plan.roll_s)
		enter(p, SIMPERSON_ROLLING, (uint32_t)p->cfg.plan.roll_s * 1000u);
	else
		enter(p, SIMPERSON_FINDING, p->cfg.plan.find_ms);
}

int simperson_init(struct simperson *p, const struct simperson_config *cfg)
{
	const struct simperson_plan *pl;

	if (!p || !cfg)
		return -EINVAL;
	pl = &cfg->plan;
	if (cfg->channels < 1 || cfg->channels > SIMPERSON_MAX_CHANNELS ||
	    cfg->sample_rate_hz < 1 || cfg->sample_rate_hz > 1000 ||
	    cfg->body_weight_kg < 20 || cfg->body_weight_kg > 250 ||
	    cfg->gain_counts_per_n < 1 || cfg->gain_counts_per_n > 4000 ||
	    pl->reps < 1 || pl->reps > 1000 || pl->hold_s < 1 || pl->hold_s > 3600 ||
	    pl->band_low_permille < 10 || pl->band_high_permille <= pl->band_low_permille ||
	    pl->band_high_permille > 1500 || pl->ramp_dn_per_s < 1)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	p->cfg = *cfg;
	p->rng = cfg->seed ? ((uint64_t)cfg->seed << 1) ^ 0x9E3779B97F4A7C15ULL : 0x9E3779B97F4A7C15ULL;
	{
		int64_t bw = (int64_t)cfg->body_weight_kg * MN_PER_KG;

		p->low_mn = (int32_t)(bw * pl->band_low_permille / 1000);
		p->high_mn = (int32_t)(bw * pl->band_high_permille / 1000);
		p->target_mn = (p->low_mn + p->high_mn) / 2;
	}
	if (pl->lead_in_ms)
		enter(p, SIMPERSON_OFF, pl->lead_in_ms);
	else
		start_rep(p);
	return 0;
}

static int32_t body_mn(const struct simperson *p)
{
	return (int32_t)p->cfg.body_weight_kg * MN_PER_KG;
}

static void hold_step(struct simperson *p)
{
	const struct simperson_plan *pl = &p->cfg.plan;
	uint32_t dips = pl->dips_per_hold;

	p->hold_elapsed++;
	if (p->released || p->hold_elapsed >= p->hold_total) {
		enter(p, SIMPERSON_GETTING_OFF, GET_OFF_MS);
		return;
	}
	if (pl->drop_rep == p->rep && !p->dropped && p->hold_elapsed >= p->hold_total / 2u) {
		p->dropped = true;
		enter(p, SIMPERSON_DROP, pl->drop_ms);
		return;
	}
	if (pl->over_rep == p->rep && !p->overed && p->hold_elapsed >= p->hold_total / 3u) {
		p->overed = true;
		enter(p, SIMPERSON_OVER, pl->over_ms);
		return;
	}
	if (p->dips_done < dips &&
	    p->hold_elapsed >= (uint32_t)((uint64_t)p->hold_total * (p->dips_done + 1u) / (dips + 1u))) {
		p->dips_done++;
		enter(p, SIMPERSON_DIP, pl->dip_ms);
	}
}

/* Moves the true force toward goal by at most step. */
static void approach(struct simperson *p, int32_t goal, int32_t step)
{
	if (p->force_mn < goal)
		p->force_mn = p->force_mn + step > goal ? goal : p->force_mn + step;
	else
		p->force_mn = p->force_mn - step < goal ? goal : p->force_mn - step;
}

static void advance(struct simperson *p)
{
	const struct simperson_plan *pl = &p->cfg.plan;
	int32_t rate = p->cfg.sample_rate_hz;
	int32_t ramp_step = (int32_t)pl->ramp_dn_per_s * 100 / rate; /* mN per sample */
	int32_t fast_step = p->target_mn / (rate / 4 + 1);           /* ~0.25 s swings */

	if (ramp_step < 1)
		ramp_step = 1;
	switch ((enum simperson_phase)p->phase) {
	case SIMPERSON_OFF:
	case SIMPERSON_RESTING:
	case SIMPERSON_DONE:
		p->force_mn = 0;
		p->gyro_mdps = 0;
		break;
	case SIMPERSON_ROLLING: {
		/* Force wanders around a quarter of body weight; the roller
		 * rolls to and fro, turning every ~1.5 s. */
		int32_t base = body_mn(p) / 4;

		p->roll_pos += p->roll_dir;
		if (p->roll_pos > rate * 3 / 4 || p->roll_pos < -(rate * 3 / 4))
			p->roll_dir = -p->roll_dir;
		approach(p, base + noise(p, body_mn(p) / 12), fast_step / 4 + 1);
		p->gyro_mdps = p->roll_dir * ROLL_SPEED_MDPS + noise(p, 8000);
		break;
	}
	case SIMPERSON_FINDING: {
		uint32_t total = samples(p, pl->find_ms);
		int32_t goal = p->low_mn * 6 / 10;

		approach(p, goal, fast_step / 8 + 1);
		p->gyro_mdps = (int32_t)((int64_t)p->roll_dir * ROLL_SPEED_MDPS * p->left / total) +
			       noise(p, STILL_NOISE_MDPS);
		break;
	}
	case SIMPERSON_RAMP:
		approach(p, p->target_mn, ramp_step);
		p->gyro_mdps = noise(p, STILL_NOISE_MDPS);
		break;
	case SIMPERSON_HOLDING:
		/* back from a dip or an overshoot quickly, as people do */
		approach(p, p->target_mn, fast_step);
		p->gyro_mdps = noise(p, STILL_NOISE_MDPS);
		break;
	case SIMPERSON_DIP:
		approach(p, p->low_mn * 85 / 100, fast_step);
		p->gyro_mdps = noise(p, STILL_NOISE_MDPS);
		break;
	case SIMPERSON_OVER:
		approach(p, p->high_mn * 125 / 100, fast_step);
		p->gyro_mdps = noise(p, STILL_NOISE_MDPS);
		break;
	case SIMPERSON_DROP:
		approach(p, p->low_mn * 4 / 10, fast_step);
		p->gyro_mdps = noise(p, STILL_NOISE_MDPS);
		break;
	case SIMPERSON_GETTING_OFF: {
		int32_t step = p->force_mn / (int32_t)(p->left ? p->left : 1u);

		approach(p, 0, step > 0 ? step : 1);
		p->gyro_mdps = noise(p, 3000);
		break;
	}
	}
	if (p->force_mn < 0)
		p->force_mn = 0;
}

static void transition(struct simperson *p)
{
	const struct simperson_plan *pl = &p->cfg.plan;

	if (p->phase == SIMPERSON_HOLDING) {
		hold_step(p);
		return;
	}
	if (p->phase == SIMPERSON_RAMP) {
		if (p->force_mn >= p->target_mn)
			p->phase = SIMPERSON_HOLDING;
		return;
	}
	if (p->phase == SIMPERSON_DONE || --p->left > 0)
		return;
	switch ((enum simperson_phase)p->phase) {
	case SIMPERSON_OFF:
	case SIMPERSON_RESTING:
		start_rep(p);
		break;
	case SIMPERSON_ROLLING:
		enter(p, SIMPERSON_FINDING, pl->find_ms);
		break;
	case SIMPERSON_FINDING:
		p->phase = SIMPERSON_RAMP;
		break;
	case SIMPERSON_DIP:
	case SIMPERSON_OVER:
		p->phase = SIMPERSON_HOLDING;
		break;
	case SIMPERSON_DROP:
		p->phase = SIMPERSON_RAMP; /* presses again */
		break;
	case SIMPERSON_GETTING_OFF:
		if (p->rep >= pl->reps)
			start_rep(p); /* -> DONE */
		else
			enter(p, SIMPERSON_RESTING, (uint32_t)pl->rest_s * 1000u);
		break;
	case SIMPERSON_RAMP:
	case SIMPERSON_HOLDING:
	case SIMPERSON_DONE:
		break;
	}
}

int simperson_step(struct simperson *p, int32_t *counts, size_t n, int32_t *gyro_mdps)
{
	static const int32_t weight[SIMPERSON_MAX_CHANNELS] = { 220, 260, 240, 280 };
	int32_t total_w = 0, given = 0;
	uint8_t phase;
	size_t i;

	if (!p || !counts || !gyro_mdps || n != p->cfg.channels)
		return -EINVAL;
	phase = p->phase;
	advance(p);
	p->sample++;
	for (i = 0; i < n; i++)
		total_w += weight[i];
	{
		/* Tremor on top of the true force while someone is on it. */
		int32_t f = p->force_mn;

		if (f > 0)
			f += noise(p, (int32_t)p->cfg.noise_dn * 100);
		if (f < 0)
			f = 0;
		for (i = 0; i < n; i++) {
			int32_t share = i + 1 == n ? f - given
						   : (int32_t)((int64_t)f * weight[i] / total_w);
			int64_t v;

			given += share;
			v = p->cfg.offset[i] + (int64_t)share * p->cfg.gain_counts_per_n / 1000 +
			    noise(p, p->cfg.count_noise);
			if (v < ADC_MIN + 1)
				v = ADC_MIN + 1;
			if (v > ADC_MAX - 1)
				v = ADC_MAX - 1;
			counts[i] = (int32_t)v;
		}
	}
	*gyro_mdps = p->cfg.imu ? p->gyro_mdps : SIMPERSON_GYRO_ABSENT;
	transition(p);
	return phase;
}

void simperson_release(struct simperson *p)
{
	if (!p)
		return;
	switch ((enum simperson_phase)p->phase) {
	case SIMPERSON_RAMP:
	case SIMPERSON_HOLDING:
	case SIMPERSON_DIP:
	case SIMPERSON_OVER:
	case SIMPERSON_DROP:
		p->released = true;
		enter(p, SIMPERSON_GETTING_OFF, GET_OFF_MS);
		break;
	case SIMPERSON_OFF:
	case SIMPERSON_ROLLING:
	case SIMPERSON_FINDING:
	case SIMPERSON_GETTING_OFF:
	case SIMPERSON_RESTING:
	case SIMPERSON_DONE:
		break;
	}
}

enum simperson_phase simperson_phase(const struct simperson *p)
{
	return (enum simperson_phase)p->phase;
}

uint16_t simperson_rep(const struct simperson *p)
{
	return p->rep;
}

int32_t simperson_force_mn(const struct simperson *p)
{
	return p->force_mn;
}

int32_t simperson_gyro_mdps(const struct simperson *p)
{
	return p->gyro_mdps;
}

uint32_t simperson_samples(const struct simperson *p)
{
	return p->sample;
}

const char *simperson_phase_str(int phase)
{
	switch (phase) {
	case SIMPERSON_OFF: return "off";
	case SIMPERSON_ROLLING: return "rolling";
	case SIMPERSON_FINDING: return "finding";
	case SIMPERSON_RAMP: return "ramp";
	case SIMPERSON_HOLDING: return "holding";
	case SIMPERSON_DIP: return "dip";
	case SIMPERSON_OVER: return "over-pressure";
	case SIMPERSON_DROP: return "drop";
	case SIMPERSON_GETTING_OFF: return "getting-off";
	case SIMPERSON_RESTING: return "resting";
	case SIMPERSON_DONE: return "done";
	default: return "?";
	}
}
