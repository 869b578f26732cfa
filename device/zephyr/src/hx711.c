/*
 * Force source: HX711-class 24-bit load-cell ADCs on two or more GPIOs.
 *
 * Protocol (HX711 datasheet): DOUT low = a conversion is ready. Each rising
 * edge of PD_SCK shifts out one bit, MSB first, two's complement; after the
 * 24 data bits 1 to 3 more pulses select input and gain of the next
 * conversion (25: A/128, 26: B/32, 27: A/64). PD_SCK high for more than
 * 60 us powers the chip down, so a high phase must never be stretched by an
 * interrupt: each pulse runs with interrupts locked (about 2 us), the low
 * phases do not (their length is not bounded by the chip). The glue keeps
 * the chip powered while the core sleeps (see worker.c).
 *
 * Several converters share PD_SCK and are read in parallel, one DOUT each.
 */
#include <errno.h>

#include <zephyr/devicetree.h>
#include <zephyr/drivers/gpio.h>
#include <zephyr/irq.h>
#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>
#include <zephyr/sys/util.h>

#include "board.h"

LOG_MODULE_REGISTER(hx711, CONFIG_ROLLER_LOG_LEVEL);

#define HX711_NODE DT_COMPAT_GET_ANY_STATUS_OKAY(roller_hx711)
#define HX711_CHANNELS DT_PROP_LEN(HX711_NODE, dout_gpios)
#define HX711_DATA_BITS 24
#define HX711_RAIL_LOW (-8388608)
#define HX711_RAIL_HIGH 8388607
/* Poll step while waiting for DOUT to go low. */
#define HX711_POLL_US 250

BUILD_ASSERT(HX711_CHANNELS >= 1 && HX711_CHANNELS <= PORT_FORCE_MAX_CHANNELS,
	     "roller,hx711: 1 to PORT_FORCE_MAX_CHANNELS dout-gpios");

static const struct gpio_dt_spec hx711_sck = GPIO_DT_SPEC_GET(HX711_NODE, sck_gpios);
static const struct gpio_dt_spec hx711_dout[] = {
	DT_FOREACH_PROP_ELEM_SEP(HX711_NODE, dout_gpios, GPIO_DT_SPEC_GET_BY_IDX, (,))
};

/* Pulses after the data bits for the devicetree gain. */
static const uint8_t hx711_gain_pulses =
	DT_PROP(HX711_NODE, gain) == 128 ? 1 : DT_PROP(HX711_NODE, gain) == 32 ? 2 : 3;

/* One PD_SCK pulse; returns the DOUT levels (bit ch) sampled while high. */
static uint32_t hx711_pulse(bool sample)
{
	uint32_t bits = 0;
	unsigned int key = irq_lock();

	gpio_pin_set_dt(&hx711_sck, 1);
	/* Data is valid 0.1 us after the rising edge; the high phase must be
	 * at least 0.2 us. */
	k_busy_wait(1);
	if (sample) {
		for (size_t ch = 0; ch < HX711_CHANNELS; ch++) {
			if (gpio_pin_get_dt(&hx711_dout[ch]) > 0) {
				bits |= BIT(ch);
			}
		}
	}
	gpio_pin_set_dt(&hx711_sck, 0);
	irq_unlock(key);
	k_busy_wait(1);
	return bits;
}

static bool hx711_ready(void)
{
	for (size_t ch = 0; ch < HX711_CHANNELS; ch++) {
		if (gpio_pin_get_dt(&hx711_dout[ch]) != 0) {
			return false;
		}
	}
	return true;
}

static int hx711_read(void *ctx, int32_t *counts, size_t n)
{
	ARG_UNUSED(ctx);

	if (counts == NULL || n != HX711_CHANNELS) {
		return -EINVAL;
	}

	/*
	 * The sample timer runs at the chip's nominal rate, so a conversion is
	 * normally ready or about to be; a converter that stays busy for a
	 * whole period (plus the two clocks' tolerance) is not answering.
	 */
	int32_t waited_us = 0;
	const int32_t limit_us = (int32_t)(USEC_PER_SEC / CONFIG_ROLLER_SAMPLE_RATE_HZ) * 3 / 2;

	while (!hx711_ready()) {
		if (waited_us >= limit_us) {
			return -EIO;
		}
		k_usleep(HX711_POLL_US);
		waited_us += HX711_POLL_US;
	}

	uint32_t raw[HX711_CHANNELS] = {0};

	for (int bit = 0; bit < HX711_DATA_BITS; bit++) {
		uint32_t levels = hx711_pulse(true);

		for (size_t ch = 0; ch < HX711_CHANNELS; ch++) {
			raw[ch] = (raw[ch] << 1) | ((levels >> ch) & 1u);
		}
	}
	for (uint8_t i = 0; i < hx711_gain_pulses; i++) {
		(void)hx711_pulse(false);
	}

	for (size_t ch = 0; ch < HX711_CHANNELS; ch++) {
		/* Sign-extend the 24-bit two's complement code. */
		counts[ch] = (int32_t)(raw[ch] << 8) >> 8;
	}
	return 0;
}

static const struct port_force_ops hx711_ops = {
	.ctx = NULL,
	.channels = HX711_CHANNELS,
	.sample_period_us = USEC_PER_SEC / CONFIG_ROLLER_SAMPLE_RATE_HZ,
	.rail_low = HX711_RAIL_LOW,
	.rail_high = HX711_RAIL_HIGH,
	.read = hx711_read,
};

BUILD_ASSERT(USEC_PER_SEC / CONFIG_ROLLER_SAMPLE_RATE_HZ <= UINT16_MAX,
	     "sample period must fit port_force_ops.sample_period_us");

int board_force_init(const struct port_force_ops **ops)
{
	*ops = NULL;
	if (!gpio_is_ready_dt(&hx711_sck)) {
		return -ENODEV;
	}
	if (gpio_pin_configure_dt(&hx711_sck, GPIO_OUTPUT_INACTIVE) != 0) {
		return -ENODEV;
	}
	for (size_t ch = 0; ch < HX711_CHANNELS; ch++) {
		if (!gpio_is_ready_dt(&hx711_dout[ch]) ||
		    gpio_pin_configure_dt(&hx711_dout[ch], GPIO_INPUT) != 0) {
			return -ENODEV;
		}
	}
	LOG_INF("%u channel(s), gain %u", (unsigned int)HX711_CHANNELS,
		(unsigned int)DT_PROP(HX711_NODE, gain));
	*ops = &hx711_ops;
	return 0;
}
