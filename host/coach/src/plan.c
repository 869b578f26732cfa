/*
 * Default plans and configuration. Every number comes from the table in
 * host/coach/README.md, which names its source; change both together.
 */
#include <errno.h>
#include <string.h>

#include "roller/coach.h"

/* Shared by every region unless its row says otherwise. */
#define HOLD_MS 90000u        /* Hou 2002: threshold pressure held 90 s */
#define EFFECTIVE_MS 60000u   /* Gemmell 2008: release at 60 s; Hou 2002: 60-90 s */
#define REPS 3u               /* reviews: 1-3 sets per spot; the upper end */
#define REST_MS 20000u        /* not fixed by studies: middle of 10-30 s */
#define GRACE_MS 2000u        /* choice: a breath or a wobble, not a release */
#define STEP_UP_PERCENT 10u   /* choice, for Szajkowski 2025's 1-3 raises */
#define RAMP_DN_PER_S 100u    /* De Meulemeester 2016: about 10 N/s */
#define OVER_PERMILLE 600u    /* Baumgart 2019: peaks 51-55 % of body weight */
#define OVER_BAND_PERCENT 150u /* "well above the band": half as much again */

struct plan_row {
	uint16_t low, high; /* permille of body weight */
	uint32_t hold_ms;
	uint8_t reps;
	const char *hint;
};

/* Indexed by enum proto_region. */
static const struct plan_row plan_rows[PROTO_REGION_LAST + 1] = {
	[PROTO_REGION_CALVES] = { 250, 400, HOLD_MS, REPS,
		"Sit with the roller under one calf, hands on the floor behind you. "
		"Lift the hips; cross the other leg on top for more weight. "
		"Stop on the most tender spot." },
	[PROTO_REGION_SHINS] = { 150, 250, HOLD_MS, REPS,
		"Kneel on all fours with the roller under the front of one shin, on "
		"the muscle just outside the shin bone, never on the bone. Lean "
		"forward to add weight." },
	[PROTO_REGION_HAMSTRINGS] = { 250, 400, HOLD_MS, REPS,
		"Sit with the roller under the back of one thigh, hands behind you. "
		"Lift the hips and stop on the tender spot." },
	[PROTO_REGION_QUADRICEPS] = { 250, 400, HOLD_MS, REPS,
		"Forearm plank with the roller under the front of one thigh. Shift "
		"your weight onto that leg." },
	[PROTO_REGION_IT_BAND] = { 200, 350, HOLD_MS, REPS,
		"Lie on your side with the roller under the outer thigh, between hip "
		"and knee. Put the top foot on the floor in front to control the "
		"weight." },
	[PROTO_REGION_GLUTES] = { 250, 400, HOLD_MS, REPS,
		"Sit on the roller, cross one ankle over the other knee and lean "
		"toward the crossed side." },
	[PROTO_REGION_LOWER_BACK] = { 100, 200, HOLD_MS, REPS,
		"Lie on your back, roller across the lower back, feet on the floor "
		"carrying most of your weight. Lean to one side so it presses the "
		"muscle beside the spine, never the spine itself." },
	[PROTO_REGION_UPPER_BACK] = { 150, 250, HOLD_MS, REPS,
		"Lie on your back, roller across the upper back, hands behind the "
		"head. Lean slightly to one side, onto the muscle beside the spine." },
	[PROTO_REGION_SHOULDERS] = { 100, 200, HOLD_MS, REPS,
		"Lie on your back with the roller under the top of one shoulder "
		"(upper trapezius), head supported. Let the shoulder sink gently." },
	[PROTO_REGION_NECK] = { 50, 120, 60000u, 2,
		"Lie on your back with the roller under the neck muscles on one side "
		"of the spine, head supported. Gentle pressure only; never on the "
		"spine." },
};

int coach_plan_default(uint8_t region, struct coach_plan *plan)
{
	const struct plan_row *row;

	if (!plan || region == PROTO_REGION_NONE || region > PROTO_REGION_LAST)
		return -EINVAL;
	row = &plan_rows[region];
	memset(plan, 0, sizeof(*plan));
	plan->region = region;
	plan->band_low_permille = row->low;
	plan->band_high_permille = row->high;
	plan->hold_ms = row->hold_ms;
	plan->reps = row->reps;
	plan->rest_ms = REST_MS;
	plan->effective_ms = row->hold_ms < EFFECTIVE_MS ? row->hold_ms : EFFECTIVE_MS;
	plan->grace_ms = GRACE_MS;
	plan->step_ups = 0;
	plan->step_up_percent = STEP_UP_PERCENT;
	plan->ramp_dn_per_s = RAMP_DN_PER_S;
	plan->overpressure_permille = OVER_PERMILLE;
	plan->overpressure_band_percent = OVER_BAND_PERCENT;
	plan->hint = row->hint;
	return 0;
}

int coach_plan_check(const struct coach_plan *p)
{
	if (!p)
		return -EINVAL;
	if (p->region == PROTO_REGION_NONE || p->region > PROTO_REGION_LAST)
		return -ERANGE;
	if (p->band_low_permille < 1 || p->band_high_permille <= p->band_low_permille)
		return -ERANGE;
	if (p->overpressure_permille <= p->band_high_permille ||
	    p->overpressure_permille > 2000)
		return -ERANGE;
	if (p->overpressure_band_percent <= 100 || p->overpressure_band_percent > 1000)
		return -ERANGE;
	if (p->hold_ms < 1000 || p->hold_ms > 3600000u)
		return -ERANGE;
	if (p->reps < 1 || p->reps > COACH_REPS_MAX)
		return -ERANGE;
	if (p->rest_ms > 600000u || p->effective_ms > p->hold_ms || p->grace_ms > 10000)
		return -ERANGE;
	if (p->step_ups > COACH_STEP_UPS_MAX)
		return -ERANGE;
	if (p->step_ups > 0 && (p->step_up_percent < 1 || p->step_up_percent > 50))
		return -ERANGE;
	if (p->ramp_dn_per_s < 1)
		return -ERANGE;
	return 0;
}

int coach_config_init(struct coach_config *config, uint8_t region,
		      uint16_t sample_period_us, uint16_t body_weight_dkg)
{
	int r;

	if (!config || sample_period_us == 0 || body_weight_dkg == 0)
		return -EINVAL;
	memset(config, 0, sizeof(*config));
	r = coach_plan_default(region, &config->plan);
	if (r < 0)
		return r;
	config->sample_period_us = sample_period_us;
	config->body_weight_dkg = body_weight_dkg;
	config->contact_dn = 100;          /* 10 N: below any band for 20 kg and up */
	config->tolerance_dn = 0;
	config->find_tolerance = false;
	config->tolerance_ms = 3000;       /* "hold still a few seconds" */
	config->tolerance_low_percent = 85;
	config->tolerance_high_percent = 115;
	config->drop_cue_ms = 250;         /* shorter wobbles pause without a beep */
	return 0;
}

uint32_t coach_weight_dn(uint16_t body_weight_dkg)
{
	/* 0.1 kg x 9.80665 m/s^2 = 0.980665 N = 9.80665 dN */
	return (uint32_t)(((uint64_t)body_weight_dkg * 980665u + 50000u) / 100000u);
}
