/*
 * Bluetooth LE glue: the Roller service, the link port, and the callbacks
 * that turn host-stack events into core events (through the roller thread,
 * see worker.h).
 *
 * Security: the Control Point and the Log and Control CCCs need an
 * encrypted link (LE Secure Connections, Just Works: the roller has no IO,
 * so "authenticated" could never be reached); a Control Point write also
 * needs a bond with the writer, otherwise ATT "Insufficient Authorization"
 * and nothing reaches the core. The core checks authorisation of
 * state-changing opcodes again on its own.
 */
#include <errno.h>
#include <string.h>

#include <zephyr/bluetooth/bluetooth.h>
#include <zephyr/bluetooth/conn.h>
#include <zephyr/bluetooth/gatt.h>
#include <zephyr/bluetooth/services/bas.h>
#include <zephyr/bluetooth/uuid.h>
#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>
#include <zephyr/settings/settings.h>
#include <zephyr/spinlock.h>
#include <zephyr/sys/atomic.h>
#include <zephyr/sys/util.h>

#include "roller/protocol.h"

#include "ble.h"
#include "worker.h"

LOG_MODULE_REGISTER(ble, CONFIG_ROLLER_LOG_LEVEL);

/* ---- The Roller service ---------------------------------------------------- */

static ssize_t ble_control_write(struct bt_conn *conn, const struct bt_gatt_attr *attr,
				 const void *buf, uint16_t len, uint16_t offset, uint8_t flags);
static ssize_t ble_info_read(struct bt_conn *conn, const struct bt_gatt_attr *attr, void *buf,
			     uint16_t len, uint16_t offset);

BT_GATT_SERVICE_DEFINE(ble_roller_svc,
	BT_GATT_PRIMARY_SERVICE(BT_UUID_DECLARE_128(BLE_ROLLER_UUID(0x00))),
	/* Measurement: notify. */
	BT_GATT_CHARACTERISTIC(BT_UUID_DECLARE_128(BLE_ROLLER_UUID(0x01)), BT_GATT_CHRC_NOTIFY,
			       BT_GATT_PERM_NONE, NULL, NULL, NULL),
	BT_GATT_CCC(NULL, BT_GATT_PERM_READ | BT_GATT_PERM_WRITE),
	/* Event: indicate. */
	BT_GATT_CHARACTERISTIC(BT_UUID_DECLARE_128(BLE_ROLLER_UUID(0x02)), BT_GATT_CHRC_INDICATE,
			       BT_GATT_PERM_NONE, NULL, NULL, NULL),
	BT_GATT_CCC(NULL, BT_GATT_PERM_READ | BT_GATT_PERM_WRITE),
	/* Control Point: write (encrypted + bonded) + indicate. */
	BT_GATT_CHARACTERISTIC(BT_UUID_DECLARE_128(BLE_ROLLER_UUID(0x03)),
			       BT_GATT_CHRC_WRITE | BT_GATT_CHRC_INDICATE,
			       BT_GATT_PERM_WRITE_ENCRYPT, NULL, ble_control_write, NULL),
	BT_GATT_CCC(NULL, BT_GATT_PERM_READ | BT_GATT_PERM_WRITE_ENCRYPT),
	/* Log: notify, encrypted. */
	BT_GATT_CHARACTERISTIC(BT_UUID_DECLARE_128(BLE_ROLLER_UUID(0x04)), BT_GATT_CHRC_NOTIFY,
			       BT_GATT_PERM_NONE, NULL, NULL, NULL),
	BT_GATT_CCC(NULL, BT_GATT_PERM_READ | BT_GATT_PERM_WRITE_ENCRYPT),
	/* Info: read. */
	BT_GATT_CHARACTERISTIC(BT_UUID_DECLARE_128(BLE_ROLLER_UUID(0x05)), BT_GATT_CHRC_READ,
			       BT_GATT_PERM_READ, ble_info_read, NULL, NULL),
);

/* Index of each characteristic's value attribute in ble_roller_svc.attrs,
 * by enum core_char (service, then declaration + value + CCC per char). */
static const uint8_t ble_value_attr[CORE_CHAR_COUNT] = {
	[CORE_CHAR_MEASUREMENT] = 2,
	[CORE_CHAR_EVENT] = 5,
	[CORE_CHAR_CONTROL] = 8,
	[CORE_CHAR_LOG] = 11,
	[CORE_CHAR_INFO] = 14,
};

/* ---- The current connection ------------------------------------------------ */

static struct k_spinlock ble_lock;
static struct bt_conn *ble_conn; /* referenced while connected; under ble_lock */

/* Returns a new reference to the connection, or NULL. */
static struct bt_conn *ble_conn_get(void)
{
	struct bt_conn *conn = NULL;
	k_spinlock_key_t key = k_spin_lock(&ble_lock);

	if (ble_conn != NULL) {
		conn = bt_conn_ref(ble_conn);
	}
	k_spin_unlock(&ble_lock, key);
	return conn;
}

bool ble_connected(void)
{
	struct bt_conn *conn = ble_conn_get();

	if (conn == NULL) {
		return false;
	}
	bt_conn_unref(conn);
	return true;
}

struct ble_bond_match {
	const bt_addr_le_t *addr;
	bool found;
};

static void ble_bond_visit(const struct bt_bond_info *info, void *user_data)
{
	struct ble_bond_match *match = user_data;

	if (bt_addr_le_eq(&info->addr, match->addr)) {
		match->found = true;
	}
}

/* True when the peer of conn (by identity address) has a bond with us. */
static bool ble_peer_bonded(struct bt_conn *conn)
{
	struct bt_conn_info info;
	struct ble_bond_match match = {.found = false};

	if (bt_conn_get_info(conn, &info) != 0 || info.type != BT_CONN_TYPE_LE) {
		return false;
	}
	match.addr = info.le.dst;
	bt_foreach_bond(info.id, ble_bond_visit, &match);
	return match.found;
}

static bool ble_encrypted(struct bt_conn *conn)
{
	return bt_conn_get_security(conn) >= BT_SECURITY_L2;
}

static void ble_post(const struct worker_event *ev)
{
	if (worker_post(ev) != 0) {
		LOG_ERR("event %u lost: roller queue full", ev->kind);
	}
}

/* ---- Link port: notifications ---------------------------------------------- */

/*
 * Notifications handed to the stack and not yet sent. The host stack blocks
 * a thread other than its own when it has no ATT buffer; the credits keep
 * the roller thread from ever waiting there and give the core its -EAGAIN.
 * The generation drops completions of a previous connection (the stack does
 * not call them back for notifications lost to a disconnect).
 */
static atomic_t ble_credits = ATOMIC_INIT(CONFIG_ROLLER_NOTIFY_IN_FLIGHT);
static atomic_t ble_generation;

static bool ble_credit_take(void)
{
	atomic_val_t v;

	do {
		v = atomic_get(&ble_credits);
		if (v <= 0) {
			return false;
		}
	} while (!atomic_cas(&ble_credits, v, v - 1));
	return true;
}

static void ble_credit_give(void)
{
	atomic_val_t v;

	do {
		v = atomic_get(&ble_credits);
		if (v >= CONFIG_ROLLER_NOTIFY_IN_FLIGHT) {
			return;
		}
	} while (!atomic_cas(&ble_credits, v, v + 1));
}

static void ble_notify_sent(struct bt_conn *conn, void *user_data)
{
	ARG_UNUSED(conn);

	if ((atomic_val_t)(uintptr_t)user_data == atomic_get(&ble_generation)) {
		ble_credit_give();
		worker_kick();
	}
}

/* The host stack's errors in the port's terms (roller/port.h). */
static int ble_port_errno(int err)
{
	switch (err) {
	case 0:
		return 0;
	case -ENOMEM:
	case -ENOBUFS:
	case -EAGAIN:
	case -EBUSY:
		return -EAGAIN;
	case -ENOTCONN:
		return -ENOTCONN;
	case -EMSGSIZE:
		return -EMSGSIZE;
	default:
		return -EIO;
	}
}

static int ble_send_notification(struct bt_conn *conn, const struct bt_gatt_attr *attr,
				 const uint8_t *buf, size_t len)
{
	if (!ble_credit_take()) {
		return -EAGAIN;
	}

	struct bt_gatt_notify_params params = {
		.attr = attr,
		.data = buf,
		.len = (uint16_t)len,
		.func = ble_notify_sent,
		.user_data = (void *)(uintptr_t)atomic_get(&ble_generation),
	};
	int err = bt_gatt_notify_cb(conn, &params);

	if (err != 0) {
		ble_credit_give();
	}
	return ble_port_errno(err);
}

/* ---- Link port: indications ------------------------------------------------ */

/* One indication in flight per characteristic (Event, Control Point); the
 * next one waits for the peer's confirmation (or the link's end). */
struct ble_indication {
	struct bt_gatt_indicate_params params;
	atomic_t busy;
	uint8_t buf[PROTO_FRAME_MAX];
};

static struct ble_indication ble_event_indication;
static struct ble_indication ble_control_indication;

static void ble_indication_done(struct bt_gatt_indicate_params *params)
{
	struct ble_indication *ind = CONTAINER_OF(params, struct ble_indication, params);

	atomic_clear(&ind->busy);
	worker_kick();
}

static int ble_send_indication(struct bt_conn *conn, struct ble_indication *ind,
			       const struct bt_gatt_attr *attr, const uint8_t *buf, size_t len)
{
	if (!atomic_cas(&ind->busy, 0, 1)) {
		return -EAGAIN;
	}
	/* The stack copies the value when it builds the PDU, but the params
	 * (and so the data they point to) must live until destroy. */
	memcpy(ind->buf, buf, len);
	ind->params = (struct bt_gatt_indicate_params){
		.attr = attr,
		.func = NULL,
		.destroy = ble_indication_done,
		.data = ind->buf,
		.len = (uint16_t)len,
	};

	int err = bt_gatt_indicate(conn, &ind->params);

	if (err != 0) {
		atomic_clear(&ind->busy);
	}
	return ble_port_errno(err);
}

static int ble_notify(void *ctx, enum core_char char_id, const uint8_t *buf, size_t len)
{
	ARG_UNUSED(ctx);

	if ((unsigned int)char_id >= CORE_CHAR_COUNT || char_id == CORE_CHAR_INFO) {
		return -ENOTCONN;
	}

	struct bt_conn *conn = ble_conn_get();

	if (conn == NULL) {
		return -ENOTCONN;
	}

	const struct bt_gatt_attr *attr = &ble_roller_svc.attrs[ble_value_attr[char_id]];
	const bool indicate = char_id == CORE_CHAR_EVENT || char_id == CORE_CHAR_CONTROL;
	int ret;

	if (!bt_gatt_is_subscribed(conn, attr,
				   indicate ? BT_GATT_CCC_INDICATE : BT_GATT_CCC_NOTIFY)) {
		ret = -ENOTCONN;
	} else if (len + PROTO_ATT_OVERHEAD > bt_gatt_get_mtu(conn)) {
		ret = -EMSGSIZE;
	} else if (char_id == CORE_CHAR_EVENT) {
		ret = ble_send_indication(conn, &ble_event_indication, attr, buf, len);
	} else if (char_id == CORE_CHAR_CONTROL) {
		ret = ble_send_indication(conn, &ble_control_indication, attr, buf, len);
	} else {
		ret = ble_send_notification(conn, attr, buf, len);
	}
	bt_conn_unref(conn);
	return ret;
}

/* The core learns the link state from the events; no query ops. */
static const struct port_link_ops ble_link = {
	.ctx = NULL,
	.notify = ble_notify,
};

const struct port_link_ops *ble_link_ops(void)
{
	return &ble_link;
}

/* ---- Attribute callbacks (host stack threads) -------------------------------- */

static ssize_t ble_control_write(struct bt_conn *conn, const struct bt_gatt_attr *attr,
				 const void *buf, uint16_t len, uint16_t offset, uint8_t flags)
{
	ARG_UNUSED(attr);

	if (offset != 0) {
		return BT_GATT_ERR(BT_ATT_ERR_INVALID_OFFSET);
	}
	if (len > WORKER_CONTROL_MAX) {
		return BT_GATT_ERR(BT_ATT_ERR_INVALID_ATTRIBUTE_LEN);
	}
	/* The permission already asked for encryption; a bond is the rest. */
	if (!ble_encrypted(conn) || !ble_peer_bonded(conn)) {
		return BT_GATT_ERR(BT_ATT_ERR_AUTHORIZATION);
	}
	if (flags & BT_GATT_WRITE_FLAG_PREPARE) {
		return 0;
	}

	struct worker_event ev = {.kind = WORKER_CONTROL, .len = (uint8_t)len};

	memcpy(ev.data, buf, len);
	if (worker_post(&ev) != 0) {
		/* Not queued: say so rather than drop a request silently. */
		return BT_GATT_ERR(BT_ATT_ERR_INSUFFICIENT_RESOURCES);
	}
	return len;
}

static ssize_t ble_info_read(struct bt_conn *conn, const struct bt_gatt_attr *attr, void *buf,
			     uint16_t len, uint16_t offset)
{
	uint8_t frame[32];
	size_t n;

	if (worker_read_info(frame, sizeof(frame), &n) != 0) {
		return BT_GATT_ERR(BT_ATT_ERR_UNLIKELY);
	}
	return bt_gatt_attr_read(conn, attr, buf, len, offset, frame, n);
}

/* ---- Connection callbacks ---------------------------------------------------- */

static void ble_on_connected(struct bt_conn *conn, uint8_t err)
{
	if (err != 0) {
		LOG_WRN("connection failed: 0x%02x", err);
		return;
	}

	k_spinlock_key_t key = k_spin_lock(&ble_lock);

	if (ble_conn != NULL) {
		/* CONFIG_BT_MAX_CONN=1: cannot happen; keep the first. */
		k_spin_unlock(&ble_lock, key);
		return;
	}
	ble_conn = bt_conn_ref(conn);
	atomic_inc(&ble_generation);
	atomic_set(&ble_credits, CONFIG_ROLLER_NOTIFY_IN_FLIGHT);
	k_spin_unlock(&ble_lock, key);

	const struct worker_event ev = {.kind = WORKER_CONNECTED, .bonded = ble_peer_bonded(conn)};

	LOG_INF("connected (%s)", ev.bonded ? "bonded peer" : "new peer");
	ble_post(&ev);

	/* A bonded peer gets nothing until the link is encrypted again
	 * (BlueZ pitfall 10); ask for it rather than wait for the central. */
	if (ev.bonded) {
		int sec = bt_conn_set_security(conn, BT_SECURITY_L2);

		if (sec != 0) {
			LOG_WRN("security request: %d", sec);
		}
	}
}

static void ble_on_disconnected(struct bt_conn *conn, uint8_t reason)
{
	k_spinlock_key_t key = k_spin_lock(&ble_lock);
	struct bt_conn *old = NULL;

	if (ble_conn == conn) {
		old = ble_conn;
		ble_conn = NULL;
	}
	k_spin_unlock(&ble_lock, key);
	if (old == NULL) {
		return;
	}
	bt_conn_unref(old);
	LOG_INF("disconnected: 0x%02x", reason);

	const struct worker_event ev = {.kind = WORKER_DISCONNECTED};

	ble_post(&ev);
}

static void ble_on_recycled(void)
{
	const struct worker_event ev = {.kind = WORKER_LINK_FREE};

	ble_post(&ev);
}

static void ble_on_security_changed(struct bt_conn *conn, bt_security_t level,
				    enum bt_security_err err)
{
	/* On a first pairing the bond is stored after encryption starts;
	 * ble_on_pairing_complete() reports it then. */
	const struct worker_event ev = {
		.kind = WORKER_SECURITY,
		.encrypted = level >= BT_SECURITY_L2,
		.bonded = ble_peer_bonded(conn),
	};

	if (err != BT_SECURITY_ERR_SUCCESS) {
		LOG_WRN("security failed: %d", err);
	}
	ble_post(&ev);
}

BT_CONN_CB_DEFINE(ble_conn_callbacks) = {
	.connected = ble_on_connected,
	.disconnected = ble_on_disconnected,
	.recycled = ble_on_recycled,
	.security_changed = ble_on_security_changed,
};

static void ble_on_pairing_complete(struct bt_conn *conn, bool bonded)
{
	const struct worker_event ev = {
		.kind = WORKER_SECURITY,
		.encrypted = ble_encrypted(conn),
		.bonded = bonded && ble_peer_bonded(conn),
	};

	LOG_INF("paired (%s)", ev.bonded ? "bonded" : "not bonded");
	ble_post(&ev);
}

static void ble_on_pairing_failed(struct bt_conn *conn, enum bt_security_err reason)
{
	ARG_UNUSED(conn);
	LOG_WRN("pairing failed: %d", reason);
}

static struct bt_conn_auth_info_cb ble_auth_info = {
	.pairing_complete = ble_on_pairing_complete,
	.pairing_failed = ble_on_pairing_failed,
};

static void ble_on_mtu_updated(struct bt_conn *conn, uint16_t tx, uint16_t rx)
{
	ARG_UNUSED(conn);

	const struct worker_event ev = {.kind = WORKER_MTU, .mtu = MIN(tx, rx)};

	ble_post(&ev);
}

static struct bt_gatt_cb ble_gatt_callbacks = {
	.att_mtu_updated = ble_on_mtu_updated,
};

int ble_battery_level(uint8_t percent)
{
	struct bt_conn *conn = ble_conn_get();

	if (conn != NULL) {
		/* Same rule as the core's frames: nothing to a bonded peer
		 * before its link is encrypted again. */
		const bool hold = !ble_encrypted(conn) && ble_peer_bonded(conn);

		bt_conn_unref(conn);
		if (hold) {
			return -EAGAIN;
		}
	}

	int err = bt_bas_set_battery_level(percent);

	/* -ENOTCONN: nobody subscribed; the value is still readable. */
	if (err != 0 && err != -ENOTCONN) {
		LOG_DBG("battery level not notified: %d", err);
	}
	return 0;
}

int ble_init(void)
{
	/* ble_value_attr must follow the service definition above. */
	for (size_t i = 0; i < CORE_CHAR_COUNT; i++) {
		const uint8_t at = ble_value_attr[i];

		if (at >= ble_roller_svc.attr_count ||
		    bt_uuid_cmp(ble_roller_svc.attrs[at - 1].uuid, BT_UUID_GATT_CHRC) != 0) {
			LOG_ERR("attribute table out of step at %u", (unsigned int)i);
			return -EINVAL;
		}
	}

	int err = bt_conn_auth_info_cb_register(&ble_auth_info);

	if (err != 0) {
		return err;
	}
	bt_gatt_cb_register(&ble_gatt_callbacks);

	err = bt_enable(NULL);
	if (err != 0) {
		LOG_ERR("bt_enable: %d", err);
		return err;
	}
	/* Bonds (and their CCC values) before the first advertisement. */
	err = settings_load();
	if (err != 0) {
		LOG_ERR("settings_load: %d", err);
		return err;
	}
	return 0;
}
