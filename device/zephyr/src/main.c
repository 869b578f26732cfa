/*
 * Roller firmware for Zephyr: brings up the core (with the board's sources),
 * then Bluetooth, then USB (boards with CONFIG_ROLLER_USB), then sampling
 * and advertising. Everything after that runs on the roller work queue
 * (worker.c) and in the host stack's and USB stack's callbacks (ble.c,
 * usb_bulk.c).
 */
#include <errno.h>

#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>

#include "ble.h"
#include "usb_bulk.h"
#include "worker.h"

LOG_MODULE_REGISTER(roller, CONFIG_ROLLER_LOG_LEVEL);

int main(void)
{
	int err = worker_init();

	if (err != 0) {
		LOG_ERR("core not started: %d", err);
		return 0;
	}
	err = ble_init();
	if (err != 0) {
		LOG_ERR("Bluetooth not started: %d", err);
		return 0;
	}
	err = usb_bulk_init();
	if (err != 0 && err != -ENOTSUP) {
		LOG_ERR("USB not started: %d", err);
	}
	err = worker_start();
	if (err != 0) {
		LOG_ERR("sampling not started: %d", err);
	}
	return 0;
}
