/*
 * USB glue: the roller's vendor-specific bulk interface (protocol/README.md
 * section 11) on Zephyr's "device_next" USB device stack.
 *
 * Why device_next and not the classic stack (CONFIG_USB_DEVICE_STACK with
 * USBD_DEFINE_CFG_DATA): Zephyr 4.1 documents the classic APIs as about to
 * be deprecated and removed; device_next is where the nRF UDC driver and the
 * new classes live, and its class API gives a vendor class exactly what it
 * needs: interface-recipient vendor requests (control_to_dev), per-endpoint
 * net_buf transfers with an explicit ZLP flag, and enable/disable/suspend
 * callbacks for "the link went down".
 *
 *   OPEN (vendor, interface) -> WORKER_USB_OPEN  -> core: connect + secure +
 *                                                   MTU 247, INFO first
 *   bulk OUT transfer        -> WORKER_USB_CONTROL -> core_on_control_write
 *   core notify()            -> TX ring -> bulk IN transfers of whole frames
 *   CLOSE, reset, unconfigure, suspend, VBUS gone -> WORKER_USB_CLOSE
 *
 * Threads: notify() runs on the roller thread; the class callbacks on the
 * USB device stack's thread. The TX ring and the open flag are shared under
 * one spinlock; the core itself is only ever touched by the roller thread
 * (through worker_post()).
 */
#include <errno.h>
#include <string.h>

#include <zephyr/device.h>
#include <zephyr/drivers/usb/udc.h>
#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>
#include <zephyr/spinlock.h>
#include <zephyr/sys/atomic.h>
#include <zephyr/sys/byteorder.h>
#include <zephyr/usb/usbd.h>

#include "roller/protocol.h"

#include "ble.h"
#include "usb_bulk.h"
#include "worker.h"

LOG_MODULE_REGISTER(usb_bulk, CONFIG_ROLLER_LOG_LEVEL);

BUILD_ASSERT(CONFIG_ROLLER_USB_TX_QUEUE >= PROTO_USB_TRANSFER_MAX,
	     "the TX queue must hold at least one whole transfer");

/* ---- Device, strings, configuration ------------------------------------------- */

USBD_DEVICE_DEFINE(usb_bulk_usbd, DEVICE_DT_GET(DT_NODELABEL(zephyr_udc0)), PROTO_USB_VID,
		   PROTO_USB_PID);

USBD_DESC_LANG_DEFINE(usb_bulk_lang);
USBD_DESC_MANUFACTURER_DEFINE(usb_bulk_mfr, "Roller project");
USBD_DESC_PRODUCT_DEFINE(usb_bulk_product, "Roller");
USBD_DESC_SERIAL_NUMBER_DEFINE(usb_bulk_sn);
USBD_DESC_CONFIG_DEFINE(usb_bulk_cfg_desc, "Roller");

/* Bus powered, 100 mA (bMaxPower counts 2 mA units). */
USBD_CONFIGURATION_DEFINE(usb_bulk_fs_config, 0, 50, &usb_bulk_cfg_desc);

/* ---- Class descriptors ------------------------------------------------------------ */

struct usb_bulk_desc {
	struct usb_if_descriptor if0;
	struct usb_ep_descriptor out_ep;
	struct usb_ep_descriptor in_ep;
	struct usb_desc_header nil;
};

/* Interface number and endpoint addresses are placeholders: the stack
 * assigns them when it registers the class (the host reads them back). */
static struct usb_bulk_desc usb_bulk_desc = {
	.if0 = {
		.bLength = sizeof(struct usb_if_descriptor),
		.bDescriptorType = USB_DESC_INTERFACE,
		.bInterfaceNumber = 0,
		.bAlternateSetting = 0,
		.bNumEndpoints = 2,
		.bInterfaceClass = PROTO_USB_CLASS,
		.bInterfaceSubClass = PROTO_USB_SUBCLASS,
		.bInterfaceProtocol = PROTO_USB_PROTOCOL,
		.iInterface = 0,
	},
	.out_ep = {
		.bLength = sizeof(struct usb_ep_descriptor),
		.bDescriptorType = USB_DESC_ENDPOINT,
		.bEndpointAddress = 0x01,
		.bmAttributes = USB_EP_TYPE_BULK,
		.wMaxPacketSize = sys_cpu_to_le16(PROTO_USB_PACKET_SIZE),
		.bInterval = 0,
	},
	.in_ep = {
		.bLength = sizeof(struct usb_ep_descriptor),
		.bDescriptorType = USB_DESC_ENDPOINT,
		.bEndpointAddress = 0x81,
		.bmAttributes = USB_EP_TYPE_BULK,
		.wMaxPacketSize = sys_cpu_to_le16(PROTO_USB_PACKET_SIZE),
		.bInterval = 0,
	},
	.nil = {0},
};

static const struct usb_desc_header *usb_bulk_fs_desc[] = {
	(struct usb_desc_header *)&usb_bulk_desc.if0,
	(struct usb_desc_header *)&usb_bulk_desc.out_ep,
	(struct usb_desc_header *)&usb_bulk_desc.in_ep,
	(struct usb_desc_header *)&usb_bulk_desc.nil,
};

/* ---- State ------------------------------------------------------------------------- */

static struct k_spinlock usb_bulk_lock;
/* Frames back to back; each frame's own header gives its length. */
static uint8_t usb_bulk_ring[CONFIG_ROLLER_USB_TX_QUEUE];
static size_t usb_bulk_head; /* next byte to send */
static size_t usb_bulk_used; /* bytes queued */
static bool usb_bulk_open;   /* between OPEN and CLOSE (or what stands for it) */

static atomic_t usb_bulk_enabled;  /* the configuration is set */
static atomic_t usb_bulk_in_busy;  /* a bulk IN transfer is queued */
static atomic_t usb_bulk_out_busy; /* a bulk OUT transfer is queued */

static struct usbd_class_data *usb_bulk_class;

/* ---- TX ring ------------------------------------------------------------------------ */

static uint8_t usb_bulk_ring_at(size_t offset)
{
	return usb_bulk_ring[(usb_bulk_head + offset) % sizeof(usb_bulk_ring)];
}

static void usb_bulk_ring_clear(void)
{
	usb_bulk_head = 0;
	usb_bulk_used = 0;
}

/* Moves the whole frames that fit into buf (at most one transfer). Under the lock. */
static void usb_bulk_ring_take(struct net_buf *buf)
{
	while (usb_bulk_used >= PROTO_HEADER_SIZE) {
		const size_t frame = PROTO_HEADER_SIZE + usb_bulk_ring_at(2);

		if (frame > usb_bulk_used || buf->len + frame > PROTO_USB_TRANSFER_MAX ||
		    frame > net_buf_tailroom(buf)) {
			break;
		}
		for (size_t i = 0; i < frame; i++) {
			net_buf_add_u8(buf, usb_bulk_ring_at(i));
		}
		usb_bulk_head = (usb_bulk_head + frame) % sizeof(usb_bulk_ring);
		usb_bulk_used -= frame;
	}
}

/* ---- Endpoints ------------------------------------------------------------------------ */

static uint8_t usb_bulk_ep_in(void)
{
	return usb_bulk_desc.in_ep.bEndpointAddress;
}

static uint8_t usb_bulk_ep_out(void)
{
	return usb_bulk_desc.out_ep.bEndpointAddress;
}

/* Starts a bulk IN transfer when none is queued and frames are waiting. */
static void usb_bulk_tx_kick(void)
{
	if (!atomic_get(&usb_bulk_enabled) || !atomic_cas(&usb_bulk_in_busy, 0, 1)) {
		return;
	}

	struct net_buf *buf =
		usbd_ep_buf_alloc(usb_bulk_class, usb_bulk_ep_in(), PROTO_USB_TRANSFER_MAX);

	if (buf == NULL) {
		/* Pool empty: the next completion or notify() tries again. */
		atomic_clear(&usb_bulk_in_busy);
		return;
	}

	K_SPINLOCK(&usb_bulk_lock) {
		if (usb_bulk_open) {
			usb_bulk_ring_take(buf);
		}
	}
	if (buf->len == 0) {
		net_buf_unref(buf);
		atomic_clear(&usb_bulk_in_busy);
		return;
	}
	/* A transfer ends with a short packet; a multiple of 64 needs a ZLP. */
	if (buf->len % PROTO_USB_PACKET_SIZE == 0) {
		udc_ep_buf_set_zlp(buf);
	}
	if (usbd_ep_enqueue(usb_bulk_class, buf) != 0) {
		LOG_WRN("bulk IN enqueue failed");
		net_buf_unref(buf);
		atomic_clear(&usb_bulk_in_busy);
	}
}

/* Keeps one bulk OUT transfer queued while configured. */
static void usb_bulk_rx_arm(void)
{
	if (!atomic_get(&usb_bulk_enabled) || !atomic_cas(&usb_bulk_out_busy, 0, 1)) {
		return;
	}

	struct net_buf *buf =
		usbd_ep_buf_alloc(usb_bulk_class, usb_bulk_ep_out(), PROTO_USB_PACKET_SIZE);

	if (buf == NULL || usbd_ep_enqueue(usb_bulk_class, buf) != 0) {
		LOG_WRN("bulk OUT not armed");
		if (buf != NULL) {
			net_buf_unref(buf);
		}
		atomic_clear(&usb_bulk_out_busy);
	}
}

/* ---- Link state ------------------------------------------------------------------------ */

static void usb_bulk_post(uint8_t kind)
{
	const struct worker_event ev = {.kind = kind};

	if (worker_post(&ev) != 0) {
		LOG_ERR("roller event queue full: USB link event %u lost", kind);
	}
}

/* The link goes down (CLOSE, reset, unconfigure, suspend, VBUS gone). */
static void usb_bulk_close(void)
{
	bool was_open = false;

	K_SPINLOCK(&usb_bulk_lock) {
		was_open = usb_bulk_open;
		usb_bulk_open = false;
		usb_bulk_ring_clear();
	}
	if (was_open) {
		LOG_INF("USB link closed");
		usb_bulk_post(WORKER_USB_CLOSE);
	}
}

static int usb_bulk_open_link(void)
{
	/* One link at a time (section 11.2): a BLE central keeps the roller. */
	if (ble_connected()) {
		LOG_WRN("OPEN refused: a Bluetooth central is connected");
		return -EBUSY;
	}
	K_SPINLOCK(&usb_bulk_lock) {
		/* Nothing of an earlier link goes out after the new INFO. */
		usb_bulk_ring_clear();
		usb_bulk_open = true;
	}
	LOG_INF("USB link open");
	/* The worker re-opens an open link (a new host process). */
	usb_bulk_post(WORKER_USB_OPEN);
	return 0;
}

/* ---- Class API (USB device stack thread) -------------------------------------------- */

static int usb_bulk_control_to_dev(struct usbd_class_data *const c_data,
				   const struct usb_setup_packet *const setup,
				   const struct net_buf *const buf)
{
	ARG_UNUSED(c_data);
	ARG_UNUSED(buf);

	/* device_next reports a protocol STALL through errno. */
	if (setup->RequestType.type != USB_REQTYPE_TYPE_VENDOR ||
	    setup->RequestType.recipient != USB_REQTYPE_RECIPIENT_INTERFACE ||
	    setup->wLength != 0 || setup->wValue != 0) {
		errno = -ENOTSUP;
		return 0;
	}
	switch (setup->bRequest) {
	case PROTO_USB_REQ_OPEN:
		errno = usb_bulk_open_link();
		break;
	case PROTO_USB_REQ_CLOSE:
		usb_bulk_close();
		errno = 0;
		break;
	default:
		errno = -ENOTSUP;
		break;
	}
	return 0;
}

static int usb_bulk_control_to_host(struct usbd_class_data *const c_data,
				    const struct usb_setup_packet *const setup,
				    struct net_buf *const buf)
{
	ARG_UNUSED(c_data);
	ARG_UNUSED(setup);
	ARG_UNUSED(buf);

	/* No IN requests: Info comes first in the stream after OPEN. */
	errno = -ENOTSUP;
	return 0;
}

static int usb_bulk_request(struct usbd_class_data *const c_data, struct net_buf *buf,
			    const int err)
{
	const struct udc_buf_info *bi = (const struct udc_buf_info *)net_buf_user_data(buf);

	ARG_UNUSED(c_data);

	if (bi->ep == usb_bulk_ep_in()) {
		net_buf_unref(buf);
		atomic_clear(&usb_bulk_in_busy);
		if (err == 0) {
			usb_bulk_tx_kick();
			/* Room again: frames the core kept on -EAGAIN can go. */
			worker_kick();
		}
		return 0;
	}

	if (bi->ep == usb_bulk_ep_out()) {
		bool open = false;

		K_SPINLOCK(&usb_bulk_lock) {
			open = usb_bulk_open;
		}
		if (err == 0 && open) {
			struct worker_event ev = {.kind = WORKER_USB_CONTROL};

			/* Longer transfers are not one request: the core answers
			 * BAD_LENGTH for what is passed on (section 11.3). */
			ev.len = (uint8_t)MIN(buf->len, sizeof(ev.data));
			memcpy(ev.data, buf->data, ev.len);
			if (worker_post(&ev) != 0) {
				LOG_WRN("request dropped: roller event queue full");
			}
		}
		net_buf_unref(buf);
		atomic_clear(&usb_bulk_out_busy);
		if (err == 0) {
			usb_bulk_rx_arm();
		}
		return 0;
	}

	net_buf_unref(buf);
	return 0;
}

static void *usb_bulk_get_desc(struct usbd_class_data *const c_data, const enum usbd_speed speed)
{
	ARG_UNUSED(c_data);
	ARG_UNUSED(speed); /* full speed only (nRF52840) */
	return usb_bulk_fs_desc;
}

static void usb_bulk_enable(struct usbd_class_data *const c_data)
{
	ARG_UNUSED(c_data);
	atomic_set(&usb_bulk_enabled, 1);
	usb_bulk_rx_arm();
}

static void usb_bulk_disable(struct usbd_class_data *const c_data)
{
	ARG_UNUSED(c_data);
	atomic_set(&usb_bulk_enabled, 0);
	usb_bulk_close();
}

static void usb_bulk_suspended(struct usbd_class_data *const c_data)
{
	ARG_UNUSED(c_data);
	usb_bulk_close();
}

static int usb_bulk_class_init(struct usbd_class_data *const c_data)
{
	usb_bulk_class = c_data;
	return 0;
}

static const struct usbd_class_api usb_bulk_api = {
	.control_to_dev = usb_bulk_control_to_dev,
	.control_to_host = usb_bulk_control_to_host,
	.request = usb_bulk_request,
	.suspended = usb_bulk_suspended,
	.enable = usb_bulk_enable,
	.disable = usb_bulk_disable,
	.init = usb_bulk_class_init,
	.get_desc = usb_bulk_get_desc,
};

USBD_DEFINE_CLASS(roller_bulk, &usb_bulk_api, NULL, NULL);

/* ---- Link port (roller thread) -------------------------------------------------------- */

static int usb_bulk_notify(void *ctx, enum core_char char_id, const uint8_t *buf, size_t len)
{
	int ret = 0;

	ARG_UNUSED(ctx);
	ARG_UNUSED(char_id); /* the type byte tells the host (section 11.3) */

	if (len < PROTO_HEADER_SIZE || len > PROTO_FRAME_MAX ||
	    len != PROTO_HEADER_SIZE + (size_t)buf[2]) {
		return -EMSGSIZE;
	}
	K_SPINLOCK(&usb_bulk_lock) {
		if (!usb_bulk_open) {
			ret = -ENOTCONN;
		} else if (sizeof(usb_bulk_ring) - usb_bulk_used < len) {
			ret = -EAGAIN;
		} else {
			size_t tail = (usb_bulk_head + usb_bulk_used) % sizeof(usb_bulk_ring);

			for (size_t i = 0; i < len; i++) {
				usb_bulk_ring[(tail + i) % sizeof(usb_bulk_ring)] = buf[i];
			}
			usb_bulk_used += len;
		}
	}
	if (ret == 0) {
		usb_bulk_tx_kick();
	}
	return ret;
}

static const struct port_link_ops usb_bulk_link = {
	.ctx = NULL,
	.notify = usb_bulk_notify,
};

const struct port_link_ops *usb_bulk_link_ops(void)
{
	return &usb_bulk_link;
}

/* ---- Bring-up ---------------------------------------------------------------------------- */

static void usb_bulk_msg(struct usbd_context *const ctx, const struct usbd_msg *const msg)
{
	switch (msg->type) {
	case USBD_MSG_VBUS_READY:
		if (usbd_enable(ctx) != 0) {
			LOG_ERR("cannot enable USB");
		}
		break;
	case USBD_MSG_VBUS_REMOVED:
		usb_bulk_close();
		(void)usbd_disable(ctx);
		break;
	case USBD_MSG_RESET:
		usb_bulk_close();
		break;
	default:
		break;
	}
}

int usb_bulk_init(void)
{
	int err;

	err = usbd_add_descriptor(&usb_bulk_usbd, &usb_bulk_lang);
	if (err == 0) {
		err = usbd_add_descriptor(&usb_bulk_usbd, &usb_bulk_mfr);
	}
	if (err == 0) {
		err = usbd_add_descriptor(&usb_bulk_usbd, &usb_bulk_product);
	}
	if (err == 0) {
		err = usbd_add_descriptor(&usb_bulk_usbd, &usb_bulk_sn);
	}
	if (err == 0) {
		err = usbd_add_configuration(&usb_bulk_usbd, USBD_SPEED_FS, &usb_bulk_fs_config);
	}
	if (err == 0) {
		err = usbd_register_class(&usb_bulk_usbd, "roller_bulk", USBD_SPEED_FS, 1);
	}
	if (err != 0) {
		LOG_ERR("USB descriptors: %d", err);
		return err;
	}
	usbd_device_set_code_triple(&usb_bulk_usbd, USBD_SPEED_FS, 0, 0, 0);
	usbd_self_powered(&usb_bulk_usbd, false);

	err = usbd_msg_register_cb(&usb_bulk_usbd, usb_bulk_msg);
	if (err == 0) {
		err = usbd_init(&usb_bulk_usbd);
	}
	if (err != 0) {
		LOG_ERR("USB device stack: %d", err);
		return err;
	}
	/* Without VBUS detection the stack is enabled now; with it, when
	 * VBUS comes (usb_bulk_msg). */
	if (!usbd_can_detect_vbus(&usb_bulk_usbd)) {
		err = usbd_enable(&usb_bulk_usbd);
		if (err != 0) {
			LOG_ERR("cannot enable USB: %d", err);
			return err;
		}
	}
	return 0;
}
