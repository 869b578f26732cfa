/*
 * A simulated person on the roller: produces, one call per sample, the raw
 * load-cell counts and gyro rate a real roller would see while someone
 * follows a plan (roll around, find a spot, ramp up, hold in a band with
 * small wobbles and short dips, an optional long drop and over-pressure, get
 * off, rest, repeat).
 *
 * Deterministic: the same config (seed included) gives the same samples on
 * every platform (integer arithmetic only, a PRNG inside the struct). No
 * allocation, no globals, no OS calls: linked by device/linux (roller-periph),
 * the host's --sim transport and the tests.
 *
 * Units: forces in millinewtons (mN) inside, decinewtons (dN) in plans,
 * counts as the ADC would give them, gyro in milli-degrees per second.
 */
#ifndef ROLLER_SIMPERSON_H
#define ROLLER_SIMPERSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SIMPERSON_MAX_CHANNELS 4u
/* Value of *gyro_mdps when the simulated roller has no IMU (== CORE_GYRO_ABSENT). */
#define SIMPERSON_GYRO_ABSENT INT32_MIN

enum simperson_phase {
	SIMPERSON_OFF = 0,      /* nobody on the roller (lead-in) */
	SIMPERSON_ROLLING,      /* rolling to and fro, moderate varying force */
	SIMPERSON_FINDING,      /* slowing down on a tender spot */
	SIMPERSON_RAMP,         /* still, force rising at ramp_dn_per_s */
	SIMPERSON_HOLDING,      /* still, in the band, small noise */
	SIMPERSON_DIP,          /* short dip below the band (dip_ms) */
	SIMPERSON_OVER,         /* over-pressure above the band (over_ms) */
	SIMPERSON_DROP,         /* long drop below the band (drop_ms) */
	SIMPERSON_GETTING_OFF,  /* force falling to zero over ~1 s */
	SIMPERSON_RESTING,      /* off the roller between holds (rest_s) */
	SIMPERSON_DONE          /* plan finished: off the roller for good */
};

struct simperson_plan {
	uint16_t reps;           /* holds, 1..1000 */
	uint16_t hold_s;         /* seconds in the band after the ramp, 1..3600 */
	uint16_t rest_s;         /* seconds off the roller between holds */
	uint16_t lead_in_ms;     /* off the roller before the first rep */
	uint16_t roll_s;         /* rolling before each hold (0: straight to finding) */
	uint16_t find_ms;        /* slowing down on the spot */
	/* Target band in tenths of a percent of body weight (350 = 35 %);
	 * the person aims for the middle. */
	uint16_t band_low_permille;
	uint16_t band_high_permille;
	uint16_t ramp_dn_per_s;  /* 100 = 10 N/s (therapy.md) */
	uint8_t dips_per_hold;   /* short dips below the band, spread over each hold */
	uint16_t dip_ms;         /* length of each (keep below the grace window) */
	uint8_t drop_rep;        /* 1-based rep with a long drop halfway; 0 = none */
	uint16_t drop_ms;        /* the drop's length; the person then presses again */
	uint8_t over_rep;        /* 1-based rep with over-pressure at a third; 0 = none */
	uint16_t over_ms;
	/* After hold_s keep holding until simperson_release() (at most
	 * 2 x hold_s), as a person following the coach's "release" cue. */
	bool wait_for_release;
};

struct simperson_config {
	uint32_t seed;                 /* any value; 0 is replaced by a constant */
	uint8_t channels;              /* load cells, 1..SIMPERSON_MAX_CHANNELS */
	uint16_t sample_rate_hz;       /* 1..1000, e.g. 80 */
	uint16_t body_weight_kg;       /* 20..250 */
	/* Counts per newton of the share each cell carries; the summed counts
	 * are force * gain (default 400, matching core's default scale of
	 * 2500 micro-newtons per count). */
	int32_t gain_counts_per_n;
	int32_t offset[SIMPERSON_MAX_CHANNELS]; /* zero-load counts per cell */
	uint16_t noise_dn;             /* hold tremor, +/- dN (uniform) */
	uint16_t count_noise;          /* ADC noise, +/- counts per cell */
	bool imu;                      /* produce a gyro rate (else SIMPERSON_GYRO_ABSENT) */
	struct simperson_plan plan;
};

/* Private state; allocate it, do not touch it. */
struct simperson {
	struct simperson_config cfg;
	uint64_t rng;
	uint8_t phase;           /* enum simperson_phase */
	uint16_t rep;            /* 1-based rep in progress (0 before the first) */
	uint32_t sample;         /* samples produced */
	uint32_t left;           /* samples left in the phase */
	uint32_t hold_elapsed;   /* samples held in this rep */
	uint32_t hold_total;     /* samples this rep's hold should last */
	uint32_t next_dip;       /* hold sample at which the next dip starts */
	uint8_t dips_done;
	bool dropped, overed, released;
	int32_t force_mn;        /* true force now */
	int32_t target_mn;
	int32_t low_mn, high_mn; /* band in mN */
	int32_t gyro_mdps;       /* true rate now */
	int32_t roll_pos;        /* position along the travel, for rolling */
	int32_t roll_dir;
};

/* Defaults: seed 1, 4 cells, 80 Hz, 75 kg, gain 400, zero offsets, 15 dN
 * tremor, 20 counts ADC noise, IMU, 3 reps of 30 s at 35-50 % body weight,
 * 10 s rest, one 300 ms dip per hold, no drop, no over-pressure. */
void simperson_config_defaults(struct simperson_config *cfg);

/* Returns 0 or -EINVAL (NULL, or a config value outside its range). */
int simperson_init(struct simperson *p, const struct simperson_config *cfg);

/*
 * Produces the next sample: counts[0..n-1] (n must equal cfg.channels) and
 * *gyro_mdps. Returns the phase the sample belongs to, or -EINVAL (NULL,
 * wrong n). After SIMPERSON_DONE it keeps producing an empty roller.
 */
int simperson_step(struct simperson *p, int32_t *counts, size_t n,
		   int32_t *gyro_mdps);

/* The coach said "release": a person holding or ramping gets off now; the
 * rest of the plan (rest, next rep) continues. No effect in other phases. */
void simperson_release(struct simperson *p);

enum simperson_phase simperson_phase(const struct simperson *p);
uint16_t simperson_rep(const struct simperson *p);
/* True force (mN) and rate (mdps) of the latest sample, without noise. */
int32_t simperson_force_mn(const struct simperson *p);
int32_t simperson_gyro_mdps(const struct simperson *p);
/* Samples produced so far. */
uint32_t simperson_samples(const struct simperson *p);
/* "holding", ...; never NULL. */
const char *simperson_phase_str(int phase);

#ifdef __cplusplus
}
#endif
#endif
