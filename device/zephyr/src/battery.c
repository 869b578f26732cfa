/*
 * Battery: the ADC channel named "battery" in /zephyr,user (the nRF SAADC on
 * the DKs), optionally behind a resistor divider described by the
 * battery-output-ohms / battery-full-ohms properties of the same node, and
 * a piecewise-linear discharge curve chosen in Kconfig.
 */
#include <errno.h>

#include <zephyr/devicetree.h>
#include <zephyr/drivers/adc.h>
#include <zephyr/logging/log.h>
#include <zephyr/sys/util.h>

#include "board.h"

LOG_MODULE_REGISTER(battery, CONFIG_ROLLER_LOG_LEVEL);

#define BATTERY_NODE DT_PATH(zephyr_user)
/* Divider: V_battery = V_adc * full / output (1/1 when absent). */
#define BATTERY_OUTPUT_OHMS DT_PROP_OR(BATTERY_NODE, battery_output_ohms, 1)
#define BATTERY_FULL_OHMS DT_PROP_OR(BATTERY_NODE, battery_full_ohms, 1)

static const struct adc_dt_spec battery_adc = ADC_DT_SPEC_GET_BY_NAME(BATTERY_NODE, battery);

struct battery_point {
	uint16_t millivolts;
	uint8_t percent;
};

/* Falling voltages; the first point is full, the last empty. */
static const struct battery_point battery_curve[] = {
#if defined(CONFIG_ROLLER_BATTERY_CURVE_COIN)
	{3000, 100}, {2900, 80}, {2800, 60}, {2700, 40}, {2500, 20}, {2200, 5}, {2000, 0},
#else
	{4200, 100}, {4060, 90}, {3980, 80}, {3920, 70}, {3870, 60}, {3820, 50},
	{3790, 40}, {3770, 30}, {3740, 20}, {3680, 10}, {3450, 5}, {3300, 0},
#endif
};

static bool battery_ready;

int board_battery_init(void)
{
	if (!adc_is_ready_dt(&battery_adc)) {
		return -ENODEV;
	}
	if (adc_channel_setup_dt(&battery_adc) != 0) {
		return -ENODEV;
	}
	battery_ready = true;
	return 0;
}

int board_battery_mv(void)
{
	int16_t sample;
	struct adc_sequence sequence = {
		.buffer = &sample,
		.buffer_size = sizeof(sample),
	};

	if (!battery_ready) {
		return -ENODEV;
	}
	if (adc_sequence_init_dt(&battery_adc, &sequence) != 0 ||
	    adc_read_dt(&battery_adc, &sequence) != 0) {
		return -EIO;
	}

	int32_t mv = sample;

	if (adc_raw_to_millivolts_dt(&battery_adc, &mv) != 0) {
		return -EIO;
	}
	/* A single-ended reading can come out slightly negative near 0 V. */
	mv = MAX(mv, 0);
	return (int)((int64_t)mv * BATTERY_FULL_OHMS / BATTERY_OUTPUT_OHMS);
}

int board_battery_percent(uint16_t millivolts)
{
	const size_t n = ARRAY_SIZE(battery_curve);

	if (millivolts >= battery_curve[0].millivolts) {
		return battery_curve[0].percent;
	}
	for (size_t i = 1; i < n; i++) {
		const struct battery_point *hi = &battery_curve[i - 1];
		const struct battery_point *lo = &battery_curve[i];

		if (millivolts >= lo->millivolts) {
			return lo->percent + (int)(millivolts - lo->millivolts) *
						     (hi->percent - lo->percent) /
						     (hi->millivolts - lo->millivolts);
		}
	}
	return battery_curve[n - 1].percent;
}
