/*
 * Force and motion source of a simulated board (native_sim): the simulated
 * person of device/sim (roller/simperson.h), the same model roller-periph
 * and the host's --sim transport use, stands on the roller.
 *
 * One simperson_step() per force read gives the load-cell counts and the
 * gyro rate of the same sample; the motion read that the worker makes right
 * after it returns that rate. The person follows the plan set in Kconfig
 * (ROLLER_SIM_*) from boot; with ROLLER_SIM_LOOP, a finished plan starts
 * again with the next seed, so a roller left running keeps producing holds.
 * Time is counted in samples: while the core sleeps (slow sampling) the
 * person moves on slowly too.
 */
#include <errno.h>

#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>
#include <zephyr/sys/util.h>

#include "roller/simperson.h"

#include "board.h"

LOG_MODULE_REGISTER(force_sim, CONFIG_ROLLER_LOG_LEVEL);

/* The simulated ADC: 24-bit, as the HX711 the nRF boards carry. */
#define FORCE_SIM_RAIL_LOW (-8388608)
#define FORCE_SIM_RAIL_HIGH 8388607

BUILD_ASSERT(CONFIG_ROLLER_SIM_CHANNELS <= PORT_FORCE_MAX_CHANNELS,
	     "more simulated load cells than the core takes");

/* Only the roller thread touches these (port.h), after board_*_init(). */
static struct simperson force_sim_person;
static struct simperson_config force_sim_config;
static int32_t force_sim_gyro = SIMPERSON_GYRO_ABSENT;

static int force_sim_start(uint32_t seed)
{
	force_sim_config.seed = seed;
	return simperson_init(&force_sim_person, &force_sim_config);
}

static int force_sim_read(void *ctx, int32_t *counts, size_t n)
{
	ARG_UNUSED(ctx);

	if (n != force_sim_config.channels) {
		return -EINVAL;
	}
	if (IS_ENABLED(CONFIG_ROLLER_SIM_LOOP) &&
	    simperson_phase(&force_sim_person) == SIMPERSON_DONE &&
	    force_sim_start(force_sim_config.seed + 1) == 0) {
		LOG_INF("simulated person: plan done, again with seed %u",
			(unsigned int)force_sim_config.seed);
	}
	if (simperson_step(&force_sim_person, counts, n, &force_sim_gyro) < 0) {
		return -EIO;
	}
	return 0;
}

static int force_sim_read_rate(void *ctx, int32_t *mdps)
{
	ARG_UNUSED(ctx);

	if (force_sim_gyro == SIMPERSON_GYRO_ABSENT) {
		return -EAGAIN;
	}
	*mdps = force_sim_gyro;
	return 0;
}

static const struct port_force_ops force_sim_ops = {
	.ctx = NULL,
	.channels = CONFIG_ROLLER_SIM_CHANNELS,
	.sample_period_us = USEC_PER_SEC / CONFIG_ROLLER_SAMPLE_RATE_HZ,
	.rail_low = FORCE_SIM_RAIL_LOW,
	.rail_high = FORCE_SIM_RAIL_HIGH,
	.read = force_sim_read,
};

static const struct port_motion_ops force_sim_motion_ops = {
	.ctx = NULL,
	.read_rate = force_sim_read_rate,
	/* The core wakes itself on the rate it sees in the slow samples. */
	.wake_on_motion = NULL,
};

int board_force_init(const struct port_force_ops **ops)
{
	struct simperson_config *cfg = &force_sim_config;

	*ops = NULL;
	simperson_config_defaults(cfg);
	cfg->channels = CONFIG_ROLLER_SIM_CHANNELS;
	cfg->sample_rate_hz = CONFIG_ROLLER_SAMPLE_RATE_HZ;
	cfg->body_weight_kg = CONFIG_ROLLER_SIM_BODY_WEIGHT_KG;
	cfg->imu = IS_ENABLED(CONFIG_ROLLER_SIM_GYRO);
	cfg->plan.reps = CONFIG_ROLLER_SIM_REPS;
	cfg->plan.hold_s = CONFIG_ROLLER_SIM_HOLD_S;
	cfg->plan.rest_s = CONFIG_ROLLER_SIM_REST_S;

	const int err = force_sim_start(CONFIG_ROLLER_SIM_SEED);

	if (err != 0) {
		LOG_ERR("simulated person: configuration refused (%d)", err);
		return -ENODEV;
	}
	LOG_INF("simulated person: %u kg, %u x %u s holds, %u s rest, seed %u",
		(unsigned int)cfg->body_weight_kg, (unsigned int)cfg->plan.reps,
		(unsigned int)cfg->plan.hold_s, (unsigned int)cfg->plan.rest_s,
		(unsigned int)cfg->seed);
	*ops = &force_sim_ops;
	return 0;
}

int board_motion_init(const struct port_motion_ops **ops)
{
	*ops = IS_ENABLED(CONFIG_ROLLER_SIM_GYRO) ? &force_sim_motion_ops : NULL;
	return 0;
}
