/*
 * Legacy connectable advertising (nRF boards): Bluetooth 4.x laptop
 * adapters see only legacy PDUs. Advertising data, at most 31 bytes:
 * flags (3) + complete list of 128-bit UUIDs with the Roller service (18)
 * + the name (2 + up to 8; shortened when longer). The complete name, when
 * it was shortened, goes in the scan response.
 */
#include <errno.h>

#include <zephyr/bluetooth/bluetooth.h>
#include <zephyr/logging/log.h>
#include <zephyr/sys/util.h>

#include "adv.h"
#include "ble.h"

LOG_MODULE_REGISTER(adv, CONFIG_ROLLER_LOG_LEVEL);

#define ADV_LEGACY_MAX 31
#define ADV_NAME_LEN (sizeof(CONFIG_BT_DEVICE_NAME) - 1)
/* Room for the name after flags (3) and the 128-bit UUID list (18). */
#define ADV_NAME_ROOM (ADV_LEGACY_MAX - 3 - 18 - 2)
#define ADV_NAME_FITS (ADV_NAME_LEN <= ADV_NAME_ROOM)

BUILD_ASSERT(ADV_NAME_LEN > 0, "CONFIG_BT_DEVICE_NAME must not be empty");

static const struct bt_data adv_data[] = {
	BT_DATA_BYTES(BT_DATA_FLAGS, (BT_LE_AD_GENERAL | BT_LE_AD_NO_BREDR)),
	BT_DATA_BYTES(BT_DATA_UUID128_ALL, BLE_ROLLER_UUID(0x00)),
	BT_DATA(ADV_NAME_FITS ? BT_DATA_NAME_COMPLETE : BT_DATA_NAME_SHORTENED,
		CONFIG_BT_DEVICE_NAME, MIN(ADV_NAME_LEN, ADV_NAME_ROOM)),
};

static const struct bt_data adv_scan_response[] = {
	BT_DATA(BT_DATA_NAME_COMPLETE, CONFIG_BT_DEVICE_NAME, ADV_NAME_LEN),
};

BUILD_ASSERT(ADV_NAME_LEN + 2 <= ADV_LEGACY_MAX, "device name too long for a scan response");

int adv_start(void)
{
	int err = bt_le_adv_start(BT_LE_ADV_CONN_FAST_2, adv_data, ARRAY_SIZE(adv_data),
				  adv_scan_response,
				  ADV_NAME_FITS ? 0 : ARRAY_SIZE(adv_scan_response));

	if (err == -EALREADY) {
		return 0;
	}
	if (err != 0) {
		LOG_WRN("advertising not started: %d", err);
	}
	return err;
}

int adv_stop(void)
{
	return bt_le_adv_stop();
}
