/*
 * The roller thread: a work queue that alone calls into the core.
 *
 *   sample timer (k_timer, ISR) -> sample work: read force + gyro,
 *                                  core_on_sample(), core_poll()
 *   ble.c callbacks             -> event queue -> event work: core_on_*(),
 *                                  core_poll()
 *   TX completions, timeouts    -> poll work (delayable): core_poll()
 *
 * core_poll() returns when it wants to run again at the latest; the poll
 * work is rescheduled to that. After every round the Info frame is cached
 * for reads from the host stack's thread, and a changed battery level is
 * published in the Battery service.
 */
#include <errno.h>
#include <string.h>

#include <zephyr/drivers/hwinfo.h>
#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>
#include <zephyr/spinlock.h>
#include <zephyr/sys/byteorder.h>
#include <zephyr/sys/util.h>

#include "roller/core.h"

#include "adv.h"
#include "ble.h"
#include "board.h"
#include "usb_bulk.h"
#include "worker.h"

LOG_MODULE_REGISTER(worker, CONFIG_ROLLER_LOG_LEVEL);

/* ---- Board sources a board may lack (board.h) -------------------------------- */

__weak int board_motion_init(const struct port_motion_ops **ops)
{
	*ops = NULL;
	return 0;
}

__weak int board_battery_init(void)
{
	return -ENODEV;
}

__weak int board_battery_mv(void)
{
	return -ENODEV;
}

__weak int board_battery_percent(uint16_t millivolts)
{
	ARG_UNUSED(millivolts);
	return -EINVAL;
}

__weak int board_storage_init(const struct port_storage_ops **ops)
{
	*ops = NULL;
	return 0;
}

/* No USB on this board (CONFIG_ROLLER_USB off): usb_bulk.c is not built. */
__weak int usb_bulk_init(void)
{
	return -ENOTSUP;
}

__weak const struct port_link_ops *usb_bulk_link_ops(void)
{
	return NULL;
}

/* ---- State ---------------------------------------------------------------------- */

static struct core worker_core;
static struct core_ports worker_ports;
static bool worker_ready;

K_THREAD_STACK_DEFINE(worker_stack, CONFIG_ROLLER_THREAD_STACK_SIZE);
static struct k_work_q worker_queue;
static struct k_work worker_sample_work;
static struct k_work worker_event_work;
static struct k_work_delayable worker_poll_work;
static struct k_timer worker_sample_timer;

K_MSGQ_DEFINE(worker_events, sizeof(struct worker_event), CONFIG_ROLLER_EVENT_QUEUE_LEN, 4);

/* Info frame for the host stack's reads. */
static struct k_spinlock worker_info_lock;
static uint8_t worker_info[32];
static size_t worker_info_len;

static int worker_battery_shown = -1; /* level last put in the Battery service */

/* The core has one link: USB while a host has it open, else BLE. Only the
 * roller thread reads or writes this. */
static bool worker_usb_open;

#define WORKER_PERIOD_AWAKE K_USEC(USEC_PER_SEC / CONFIG_ROLLER_SAMPLE_RATE_HZ)
#define WORKER_PERIOD_ASLEEP K_USEC(USEC_PER_SEC / CONFIG_ROLLER_SLEEP_SAMPLE_RATE_HZ)

/* ---- Clock and power ports ---------------------------------------------------- */

static uint32_t worker_now_ms(void *ctx)
{
	ARG_UNUSED(ctx);
	return k_uptime_get_32();
}

static const struct port_clock_ops worker_clock = {
	.ctx = NULL,
	.now_ms = worker_now_ms,
};

static int worker_battery_mv(void *ctx)
{
	ARG_UNUSED(ctx);
	return board_battery_mv();
}

static int worker_battery_percent(void *ctx, uint16_t millivolts)
{
	ARG_UNUSED(ctx);
	return board_battery_percent(millivolts);
}

/*
 * Sleep: slow sampling (the core keeps watching load and motion and calls
 * wake()), no advertising; an open link stays up. The load-cell ADC stays
 * powered: its settling after power-up would cost the first samples of a
 * wake-up.
 */
static int worker_sleep(void *ctx)
{
	ARG_UNUSED(ctx);
	k_timer_start(&worker_sample_timer, WORKER_PERIOD_ASLEEP, WORKER_PERIOD_ASLEEP);
	(void)adv_stop();
	LOG_INF("asleep");
	return 0;
}

static int worker_wake(void *ctx)
{
	ARG_UNUSED(ctx);
	k_timer_start(&worker_sample_timer, WORKER_PERIOD_AWAKE, WORKER_PERIOD_AWAKE);
	/* Advertising that fails now (the last connection object not yet
	 * free) starts on WORKER_LINK_FREE. */
	if (!ble_connected() && !worker_usb_open) {
		(void)adv_start();
	}
	LOG_INF("awake");
	return 0;
}

static const struct port_power_ops worker_power = {
	.ctx = NULL,
	.battery_mv = worker_battery_mv,
	.battery_percent = worker_battery_percent,
	.charging = NULL,
	.sleep = worker_sleep,
	.wake = worker_wake,
};

/* ---- Link port: BLE or USB ------------------------------------------------------- */

static int worker_link_notify(void *ctx, enum core_char char_id, const uint8_t *buf, size_t len)
{
	const struct port_link_ops *link = worker_usb_open ? usb_bulk_link_ops() : ble_link_ops();

	ARG_UNUSED(ctx);
	return link->notify(link->ctx, char_id, buf, len);
}

static const struct port_link_ops worker_link = {
	.ctx = NULL,
	.notify = worker_link_notify,
};

/* A USB link is a connected, encrypted, bonded link at MTU 247 whose first
 * frame is INFO (protocol/README.md section 11.2). */
static void worker_usb_opened(void)
{
	const struct port_link_ops *usb = usb_bulk_link_ops();
	uint8_t info[32];
	size_t len;

	if (worker_usb_open) {
		core_on_disconnect(&worker_core);
	}
	worker_usb_open = true;
	(void)adv_stop();
	core_on_connect(&worker_core, false);
	core_on_security_changed(&worker_core, true, true);
	core_on_mtu(&worker_core, PROTO_USB_MTU);
	if (core_read_info(&worker_core, info, sizeof(info), &len) == 0 &&
	    usb->notify(usb->ctx, CORE_CHAR_INFO, info, len) != 0) {
		LOG_WRN("INFO not queued on USB");
	}
}

static void worker_usb_closed(void)
{
	if (!worker_usb_open) {
		return;
	}
	worker_usb_open = false;
	core_on_disconnect(&worker_core);
	if (!core_sleeping(&worker_core) && !ble_connected()) {
		(void)adv_start();
	}
}

/* ---- The roller thread ---------------------------------------------------------- */

/* After every core call: poll, reschedule, refresh what other threads read. */
static void worker_poll_core(void)
{
	const uint32_t next_ms = core_poll(&worker_core, k_uptime_get_32());

	if (next_ms == UINT32_MAX) {
		(void)k_work_cancel_delayable(&worker_poll_work);
	} else {
		(void)k_work_reschedule_for_queue(&worker_queue, &worker_poll_work,
						  K_MSEC(next_ms));
	}

	uint8_t info[sizeof(worker_info)];
	size_t info_len;

	if (core_read_info(&worker_core, info, sizeof(info), &info_len) == 0) {
		K_SPINLOCK(&worker_info_lock) {
			memcpy(worker_info, info, info_len);
			worker_info_len = info_len;
		}
	}

	uint16_t millivolts;
	uint8_t percent;

	if (core_battery(&worker_core, &millivolts, &percent) == 0 &&
	    percent != worker_battery_shown && ble_battery_level(percent) == 0) {
		worker_battery_shown = percent;
	}
}

static void worker_sample(struct k_work *work)
{
	const struct port_force_ops *force = worker_ports.force;
	const struct port_motion_ops *motion = worker_ports.motion;
	int32_t counts[PORT_FORCE_MAX_CHANNELS];
	int32_t gyro = CORE_GYRO_ABSENT;

	ARG_UNUSED(work);

	const int err = force->read(force->ctx, counts, force->channels);

	if (err == -EAGAIN) {
		/* No new conversion yet: nothing to give the core. */
		worker_poll_core();
		return;
	}
	if (motion != NULL && motion->read_rate(motion->ctx, &gyro) != 0) {
		gyro = CORE_GYRO_ABSENT;
	}
	if (err == 0) {
		core_on_sample(&worker_core, counts, force->channels, gyro);
	} else {
		/* -EIO: the core reports PROTO_ERR_SENSOR. */
		core_on_sample(&worker_core, NULL, 0, gyro);
	}
	worker_poll_core();
}

static void worker_handle(const struct worker_event *ev)
{
	/* While USB has the core, BLE link events are not the core's (OPEN is
	 * refused while a central is connected; this covers the races). */
	const bool ble_event = ev->kind == WORKER_CONNECTED || ev->kind == WORKER_DISCONNECTED ||
			       ev->kind == WORKER_SECURITY || ev->kind == WORKER_MTU ||
			       ev->kind == WORKER_CONTROL;

	if (worker_usb_open && ble_event) {
		LOG_WRN("Bluetooth event %u ignored: the USB link is open", ev->kind);
		return;
	}
	switch (ev->kind) {
	case WORKER_CONNECTED:
		core_on_connect(&worker_core, ev->bonded);
		break;
	case WORKER_DISCONNECTED:
		core_on_disconnect(&worker_core);
		break;
	case WORKER_SECURITY:
		core_on_security_changed(&worker_core, ev->encrypted, ev->bonded);
		break;
	case WORKER_MTU:
		core_on_mtu(&worker_core, ev->mtu);
		break;
	case WORKER_CONTROL:
		(void)core_on_control_write(&worker_core, ev->data, ev->len);
		break;
	case WORKER_LINK_FREE:
		/* The connection object is free again: advertise, unless the
		 * core sleeps (it advertises again on wake) or USB has it. */
		if (!core_sleeping(&worker_core) && !ble_connected() && !worker_usb_open) {
			(void)adv_start();
		}
		break;
	case WORKER_USB_OPEN:
		worker_usb_opened();
		break;
	case WORKER_USB_CLOSE:
		worker_usb_closed();
		break;
	case WORKER_USB_CONTROL:
		if (worker_usb_open) {
			(void)core_on_control_write(&worker_core, ev->data, ev->len);
		}
		break;
	default:
		LOG_ERR("unknown event %u", ev->kind);
		break;
	}
}

static void worker_events_drain(struct k_work *work)
{
	struct worker_event ev;

	ARG_UNUSED(work);
	while (k_msgq_get(&worker_events, &ev, K_NO_WAIT) == 0) {
		worker_handle(&ev);
	}
	worker_poll_core();
}

static void worker_poll(struct k_work *work)
{
	ARG_UNUSED(work);
	worker_poll_core();
}

static void worker_sample_tick(struct k_timer *timer)
{
	ARG_UNUSED(timer);
	/* Already pending (the last sample still running): this tick is
	 * merged into it, the core sees the time of the actual read. */
	(void)k_work_submit_to_queue(&worker_queue, &worker_sample_work);
}

/* ---- API (worker.h) ------------------------------------------------------------ */

int worker_post(const struct worker_event *ev)
{
	if (k_msgq_put(&worker_events, ev, K_NO_WAIT) != 0) {
		return -ENOBUFS;
	}
	(void)k_work_submit_to_queue(&worker_queue, &worker_event_work);
	return 0;
}

void worker_kick(void)
{
	(void)k_work_reschedule_for_queue(&worker_queue, &worker_poll_work, K_NO_WAIT);
}

int worker_read_info(uint8_t *out, size_t cap, size_t *written)
{
	int ret = 0;

	K_SPINLOCK(&worker_info_lock) {
		if (worker_info_len == 0) {
			ret = -ENODATA;
		} else if (worker_info_len > cap) {
			ret = -ENOBUFS;
		} else {
			memcpy(out, worker_info, worker_info_len);
			*written = worker_info_len;
		}
	}
	return ret;
}

/* The first 4 bytes of the chip's unique id (FICR DEVICEID on nRF), or 0. */
static uint32_t worker_device_id(void)
{
	uint8_t id[8] = {0};

	if (hwinfo_get_device_id(id, sizeof(id)) < 4) {
		return 0;
	}
	return sys_get_le32(id);
}

int worker_init(void)
{
	const struct port_force_ops *force;
	const struct port_motion_ops *motion;
	const struct port_storage_ops *storage;
	struct core_config cfg;
	int err;

	err = board_force_init(&force);
	if (err != 0) {
		LOG_ERR("force source: %d", err);
		return -ENODEV;
	}
	if (board_motion_init(&motion) != 0) {
		motion = NULL;
	}
	if (board_storage_init(&storage) != 0) {
		LOG_WRN("no storage: sessions are not recorded");
		storage = NULL;
	}
	if (board_battery_init() != 0) {
		LOG_WRN("no battery measurement");
	}

	worker_ports = (struct core_ports){
		.force = force,
		.motion = motion,
		.clock = &worker_clock,
		.storage = storage,
		.link = &worker_link,
		.power = &worker_power,
	};

	core_config_defaults(&cfg);
	cfg.device_id = worker_device_id();
	if (usb_bulk_link_ops() != NULL) {
		cfg.capabilities |= PROTO_CAP_USB; /* Info says section 11 is there */
	}

	err = core_init(&worker_core, &worker_ports, &cfg);
	if (err != 0) {
		return err;
	}

	k_work_queue_init(&worker_queue);
	k_work_queue_start(&worker_queue, worker_stack, K_THREAD_STACK_SIZEOF(worker_stack),
			   K_PRIO_PREEMPT(CONFIG_ROLLER_THREAD_PRIORITY), NULL);
	k_thread_name_set(k_work_queue_thread_get(&worker_queue), "roller");
	k_work_init(&worker_sample_work, worker_sample);
	k_work_init(&worker_event_work, worker_events_drain);
	k_work_init_delayable(&worker_poll_work, worker_poll);
	k_timer_init(&worker_sample_timer, worker_sample_tick, NULL);

	/* Info is readable as soon as Bluetooth is up. */
	(void)k_work_submit_to_queue(&worker_queue, &worker_event_work);
	worker_ready = true;
	return 0;
}

int worker_start(void)
{
	if (!worker_ready) {
		return -ENODEV;
	}
	k_timer_start(&worker_sample_timer, WORKER_PERIOD_AWAKE, WORKER_PERIOD_AWAKE);
	(void)adv_start();
	return 0;
}
