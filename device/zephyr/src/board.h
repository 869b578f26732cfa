/*
 * The board seam of the Zephyr application.
 *
 * The glue (main.c, worker.c, ble.c) never names a sensor or a driver: it
 * asks for the ops of each source through the functions below. Each one is
 * implemented by the source file that Kconfig selects for the board
 * (CMakeLists.txt): hx711.c, imu.c, battery.c, storage.c on the nRF DKs;
 * force_sim.c (force and motion), battery_fixed.c, storage.c on native_sim.
 * A source that the board does not have falls back to a weak default in
 * worker.c (no IMU, no battery measurement, no storage), so a new board
 * adds source files and Kconfig defaults, not #ifdefs.
 *
 * All functions run once from main() before the core starts, in thread
 * context; the ops they hand out follow roller/port.h (called from the
 * roller work queue thread only).
 */
#ifndef ROLLER_ZEPHYR_BOARD_H
#define ROLLER_ZEPHYR_BOARD_H

#include <stdint.h>

#include "roller/port.h"

/*
 * Force source (required). Sets *ops to a port_force_ops whose
 * sample_period_us matches CONFIG_ROLLER_SAMPLE_RATE_HZ.
 * Returns 0, -ENODEV (the device is not ready / not answering).
 */
int board_force_init(const struct port_force_ops **ops);

/*
 * Motion source. Sets *ops, or NULL when the board has no gyro (the core
 * then uses force variance). Returns 0 or -ENODEV (the IMU is configured
 * but not ready: *ops is NULL and the application runs without it).
 */
int board_motion_init(const struct port_motion_ops **ops);

/*
 * Battery measurement. Returns 0, or -ENODEV when the board cannot
 * measure its battery (the core then reports no battery).
 */
int board_battery_init(void);

/* Battery voltage in mV (>= 0), or -EIO / -ENODEV. */
int board_battery_mv(void);

/* State of charge 0..100 for millivolts on the board's cell, or -EINVAL. */
int board_battery_percent(uint16_t millivolts);

/*
 * Storage for the core. Sets *ops, or NULL when the board gives the core
 * no flash. Returns 0, -ENODEV (partition or flash device missing),
 * -EINVAL (the partition does not meet port_storage_ops' requirements).
 */
int board_storage_init(const struct port_storage_ops **ops);

#endif
