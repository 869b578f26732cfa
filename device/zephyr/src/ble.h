/*
 * Bluetooth LE glue: the Roller GATT service (defined statically), Device
 * Information and Battery services, connection and security callbacks, and
 * the link port handed to the core.
 */
#ifndef ROLLER_ZEPHYR_BLE_H
#define ROLLER_ZEPHYR_BLE_H

#include <stdbool.h>
#include <stdint.h>

#include <zephyr/bluetooth/uuid.h>

#include "roller/port.h"
#include "roller/protocol.h"

/* nn: enum proto_gatt_id (protocol/README.md). */
#define BLE_ROLLER_UUID(nn) \
	BT_UUID_128_ENCODE(PROTO_UUID_W0 + (nn), PROTO_UUID_W1, PROTO_UUID_W2, PROTO_UUID_W3, \
			   PROTO_UUID_W4)

/*
 * Enables Bluetooth, loads the bonds from settings and registers the
 * callbacks. Call once from main() after worker_init(). Returns 0 or the
 * negative error of bt_enable() / settings_load().
 */
int ble_init(void);

/* The link port of the core (roller/port.h); valid before ble_init(). */
const struct port_link_ops *ble_link_ops(void);

/* True while a central is connected. */
bool ble_connected(void);

/*
 * Publishes the state of charge in the Battery service (notifies if
 * subscribed). Returns 0, or -EAGAIN while a bonded peer's link is not yet
 * encrypted again (call again later).
 */
int ble_battery_level(uint8_t percent);

#endif
