/*
 * Extended connectable advertising (native_sim): the rig's emulated
 * controller (BlueZ btdev, Bluetooth 5.x) is driven by a kernel that scans
 * and connects with the extended commands only, so it reports and connects
 * extended advertisers only (notes/bluez-vm.md). One advertising set,
 * created on the first start and reused; connectable, hence not scannable:
 * everything is in the advertising data, at most 31 bytes (btdev has no
 * LE Read Maximum Advertising Data Length, which caps it there): flags (3)
 * + complete list of 128-bit UUIDs with the Roller service (18) + the name
 * (2 + up to 8; shortened when longer).
 */
#include <errno.h>

#include <zephyr/bluetooth/bluetooth.h>
#include <zephyr/logging/log.h>
#include <zephyr/sys/util.h>

#include "adv.h"
#include "ble.h"

LOG_MODULE_REGISTER(adv, CONFIG_ROLLER_LOG_LEVEL);

#define ADV_DATA_MAX 31
#define ADV_NAME_LEN (sizeof(CONFIG_BT_DEVICE_NAME) - 1)
/* Room for the name after flags (3) and the 128-bit UUID list (18). */
#define ADV_NAME_ROOM (ADV_DATA_MAX - 3 - 18 - 2)
#define ADV_NAME_FITS (ADV_NAME_LEN <= ADV_NAME_ROOM)

BUILD_ASSERT(ADV_NAME_LEN > 0, "CONFIG_BT_DEVICE_NAME must not be empty");

static const struct bt_data adv_data[] = {
	BT_DATA_BYTES(BT_DATA_FLAGS, (BT_LE_AD_GENERAL | BT_LE_AD_NO_BREDR)),
	BT_DATA_BYTES(BT_DATA_UUID128_ALL, BLE_ROLLER_UUID(0x00)),
	BT_DATA(ADV_NAME_FITS ? BT_DATA_NAME_COMPLETE : BT_DATA_NAME_SHORTENED,
		CONFIG_BT_DEVICE_NAME, MIN(ADV_NAME_LEN, ADV_NAME_ROOM)),
};

/* Fast connectable interval (30-60 ms); 1M primary and secondary PHY, the
 * PHYs every BT 5 controller has. */
static const struct bt_le_adv_param adv_param =
	BT_LE_ADV_PARAM_INIT(BT_LE_ADV_OPT_CONN | BT_LE_ADV_OPT_EXT_ADV | BT_LE_ADV_OPT_NO_2M,
			     BT_GAP_ADV_FAST_INT_MIN_1, BT_GAP_ADV_FAST_INT_MAX_1, NULL);

static struct bt_le_ext_adv *adv_set; /* created by the first adv_start() */

static int adv_create(void)
{
	int err = bt_le_ext_adv_create(&adv_param, NULL, &adv_set);

	if (err != 0) {
		/* -ENOTSUP: the controller has no extended advertising. */
		LOG_ERR("advertising set not created: %d", err);
		adv_set = NULL;
		return err;
	}
	err = bt_le_ext_adv_set_data(adv_set, adv_data, ARRAY_SIZE(adv_data), NULL, 0);
	if (err != 0) {
		LOG_ERR("advertising data not set: %d", err);
		(void)bt_le_ext_adv_delete(adv_set);
		adv_set = NULL;
	}
	return err;
}

int adv_start(void)
{
	int err;

	if (adv_set == NULL) {
		err = adv_create();
		if (err != 0) {
			return err;
		}
	}
	err = bt_le_ext_adv_start(adv_set, BT_LE_EXT_ADV_START_DEFAULT);
	if (err == -EALREADY) {
		return 0;
	}
	if (err != 0) {
		LOG_WRN("advertising not started: %d", err);
	} else {
		LOG_INF("advertising (extended)");
	}
	return err;
}

int adv_stop(void)
{
	return adv_set == NULL ? 0 : bt_le_ext_adv_stop(adv_set);
}
