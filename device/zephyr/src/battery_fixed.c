/*
 * Battery of a simulated board (native_sim): nothing to measure, so the
 * board reports a fixed reading set in Kconfig (ROLLER_BATTERY_FIXED_MV and
 * ROLLER_BATTERY_FIXED_PERCENT). The core still reads it on its battery
 * period and publishes it (Info, Battery service), as on real hardware.
 */
#include <errno.h>

#include <zephyr/sys/util.h>

#include "board.h"

int board_battery_init(void)
{
	return 0;
}

int board_battery_mv(void)
{
	return CONFIG_ROLLER_BATTERY_FIXED_MV;
}

int board_battery_percent(uint16_t millivolts)
{
	ARG_UNUSED(millivolts);
	return CONFIG_ROLLER_BATTERY_FIXED_PERCENT;
}
