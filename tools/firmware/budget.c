/*
 * RAM budget unit for the firmware check (tools/firmware-check): the static
 * state a real roller application holds, at its compile-time sizes. Its
 * .data + .bss is what device/core costs in RAM on the roller; the board's
 * own needs (Zephyr, the BLE stack) come on top and are not counted here.
 *
 * budget_app() calls every entry point the way device/zephyr does, so that
 * a linked image (if one is ever made from this unit) keeps all of the core.
 */
#include <stddef.h>
#include <stdint.h>

#include "roller/core.h"

/* The one instance of the core state. */
static struct core roller_core;
/* The application's side: one conversion, an Info read buffer, the ports. */
static int32_t roller_counts[PORT_FORCE_MAX_CHANNELS];
static uint8_t roller_info[PROTO_FRAME_MAX];
static struct port_force_ops roller_force;
static struct port_clock_ops roller_clock;
static struct port_storage_ops roller_storage;
static struct port_link_ops roller_link;
static struct port_power_ops roller_power;
static struct port_motion_ops roller_motion;
static struct core_ports roller_ports;
static struct core_config roller_config;

void budget_app(const uint8_t *write, size_t write_len, int32_t gyro, uint32_t now);

void budget_app(const uint8_t *write, size_t write_len, int32_t gyro, uint32_t now)
{
	struct core_counters counters;
	size_t info_len;

	roller_ports.force = &roller_force;
	roller_ports.clock = &roller_clock;
	roller_ports.storage = &roller_storage;
	roller_ports.link = &roller_link;
	roller_ports.power = &roller_power;
	roller_ports.motion = &roller_motion;
	core_config_defaults(&roller_config);
	if (core_init(&roller_core, &roller_ports, &roller_config) != 0)
		return;
	core_on_connect(&roller_core, true);
	core_on_security_changed(&roller_core, true, true);
	core_on_mtu(&roller_core, 247);
	core_on_sample(&roller_core, roller_counts, roller_force.channels, gyro);
	(void)core_on_control_write(&roller_core, write, write_len);
	(void)core_poll(&roller_core, now);
	(void)core_read_info(&roller_core, roller_info, sizeof(roller_info), &info_len);
	core_counters(&roller_core, &counters);
	core_wake(&roller_core);
	core_on_disconnect(&roller_core);
}
