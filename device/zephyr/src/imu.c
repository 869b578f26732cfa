/*
 * Motion source: the gyroscope of the sensor device chosen as "roller,imu"
 * (an LSM6DSL on the DKs), through the generic sensor API, so that any
 * Zephyr gyro driver fits.
 */
#include <errno.h>

#include <zephyr/device.h>
#include <zephyr/devicetree.h>
#include <zephyr/drivers/sensor.h>
#include <zephyr/logging/log.h>

#include "board.h"

LOG_MODULE_REGISTER(imu, CONFIG_ROLLER_LOG_LEVEL);

static const struct device *const imu_dev = DEVICE_DT_GET(DT_CHOSEN(roller_imu));

static const enum sensor_channel imu_axis =
	IS_ENABLED(CONFIG_ROLLER_IMU_AXIS_Z)   ? SENSOR_CHAN_GYRO_Z
	: IS_ENABLED(CONFIG_ROLLER_IMU_AXIS_Y) ? SENSOR_CHAN_GYRO_Y
					       : SENSOR_CHAN_GYRO_X;

static int imu_read_rate(void *ctx, int32_t *mdps)
{
	struct sensor_value rate;

	ARG_UNUSED(ctx);

	/* One fetch per sample over I2C (~0.2 ms at 400 kHz for 6 bytes). */
	int err = sensor_sample_fetch_chan(imu_dev, SENSOR_CHAN_GYRO_XYZ);

	if (err == -EBUSY || err == -EAGAIN) {
		return -EAGAIN;
	}
	if (err != 0) {
		return -EIO;
	}
	if (sensor_channel_get(imu_dev, imu_axis, &rate) != 0) {
		return -EIO;
	}
	/* rad/s -> 10 micro-degrees/s -> milli-degrees/s. */
	*mdps = sensor_rad_to_10udegrees(&rate) / 100;
	return 0;
}

static const struct port_motion_ops imu_ops = {
	.ctx = NULL,
	.read_rate = imu_read_rate,
	/* No wake-on-motion trigger: while asleep the core still gets slow
	 * samples and wakes on motion itself (see worker.c). */
	.wake_on_motion = NULL,
};

int board_motion_init(const struct port_motion_ops **ops)
{
	*ops = NULL;
	if (!device_is_ready(imu_dev)) {
		LOG_WRN("%s not ready: stillness from force variance", imu_dev->name);
		return -ENODEV;
	}

	const struct sensor_value odr = {.val1 = CONFIG_ROLLER_IMU_ODR_HZ, .val2 = 0};
	int err = sensor_attr_set(imu_dev, SENSOR_CHAN_GYRO_XYZ,
				  SENSOR_ATTR_SAMPLING_FREQUENCY, &odr);

	/* A driver with a build-time rate says -ENOTSUP; that is fine. */
	if (err != 0 && err != -ENOTSUP) {
		LOG_WRN("%s: gyro rate not set (%d)", imu_dev->name, err);
	}
	*ops = &imu_ops;
	return 0;
}
