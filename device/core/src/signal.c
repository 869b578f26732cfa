/*
 * Signal conditioning: cell faults, channel sum, spike rejection, low-pass,
 * stillness. Integer only (the filter state is Q8 decinewtons).
 */
#include "core_internal.h"

#define VAR_WINDOW 16u

void signal_reset(struct core *c)
{
	c->sig.median_n = 0;
	c->sig.iir_primed = false;
	c->sig.var_n = 0;
	c->sig.var_pos = 0;
	c->sig.var_sum = 0;
	c->sig.var_sq = 0;
}

bool signal_still(const struct core *c)
{
	return c->sig.still;
}

static int32_t median3(int32_t a, int32_t b, int32_t x)
{
	if (a > b) {
		int32_t t = a;
		a = b;
		b = t;
	}
	if (x <= a)
		return a;
	if (x >= b)
		return b;
	return x;
}

/* Updates the per-cell fault episodes; returns the worst marker or 0. */
static int16_t cells(struct core *c, const int32_t *counts, size_t n)
{
	const struct port_force_ops *f = c->ports.force;
	int16_t marker = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		int32_t raw = counts[i];
		uint8_t bit = (uint8_t)(1u << i);
		bool sat = raw >= f->rail_high;
		bool disc = raw <= f->rail_low;

		if (raw == c->sig.last_raw[i]) {
			if (c->sig.same_run[i] < UINT16_MAX)
				c->sig.same_run[i]++;
		} else {
			c->sig.same_run[i] = 0;
		}
		c->sig.last_raw[i] = raw;
		if (c->cfg.stuck_samples && c->sig.same_run[i] + 1u >= c->cfg.stuck_samples &&
		    !sat)
			disc = true;

		if (sat || disc) {
			c->sig.good_run[i] = 0;
			if (sat && !(c->sig.saturated & bit)) {
				c->sig.saturated |= bit;
				stream_error(c, PROTO_ERR_SATURATED, (uint8_t)i,
					     (uint16_t)((uint32_t)raw >> 8));
			}
			if (disc && !(c->sig.disconnected & bit)) {
				c->sig.disconnected |= bit;
				stream_error(c, PROTO_ERR_CELL_DISCONNECTED, (uint8_t)i,
					     raw <= f->rail_low ? 1u : 2u);
			}
		} else if ((c->sig.saturated | c->sig.disconnected) & bit) {
			if (++c->sig.good_run[i] >= c->cfg.recover_samples) {
				c->sig.saturated &= (uint8_t)~bit;
				c->sig.disconnected &= (uint8_t)~bit;
				c->sig.good_run[i] = 0;
			}
		}
		if (disc)
			marker = PROTO_FORCE_INVALID;
		else if (sat && marker == 0)
			marker = PROTO_FORCE_SATURATED;
	}
	return marker;
}

static bool still_from_variance(struct core *c, int16_t force)
{
	struct core_signal_state *g = &c->sig;
	int64_t var;

	if (force == PROTO_FORCE_INVALID || force == PROTO_FORCE_SATURATED) {
		g->var_n = 0;
		g->var_pos = 0;
		g->var_sum = 0;
		g->var_sq = 0;
		return false;
	}
	/* Running sums over the window: O(1) per sample. */
	if (g->var_n == VAR_WINDOW) {
		int16_t old = g->var_win[g->var_pos];

		g->var_sum -= old;
		g->var_sq -= (int64_t)old * old;
	} else {
		g->var_n++;
	}
	g->var_win[g->var_pos] = force;
	g->var_pos = (uint8_t)((g->var_pos + 1u) % VAR_WINDOW);
	g->var_sum += force;
	g->var_sq += (int64_t)force * force;
	if (g->var_n < VAR_WINDOW)
		return false;
	/* n^2 * variance = n * sum(x^2) - sum(x)^2 */
	var = ((int64_t)VAR_WINDOW * g->var_sq - (int64_t)g->var_sum * g->var_sum) /
	      ((int64_t)VAR_WINDOW * VAR_WINDOW);
	return var < (int64_t)c->cfg.still_var_dn2;
}

int16_t signal_process(struct core *c, const int32_t *counts, size_t n,
		       int32_t gyro_mdps)
{
	int16_t out;
	bool still;

	if (!counts) {
		if (!c->sig.sensor_fault) {
			c->sig.sensor_fault = true;
			stream_error(c, PROTO_ERR_SENSOR, 0xFF, 0);
		}
		out = PROTO_FORCE_INVALID;
	} else {
		c->sig.sensor_fault = false;
		out = cells(c, counts, n);
	}

	if (out == 0) {
		int32_t x = calibration_force_dn(c, counts, n);

		if (c->cfg.spike_median) {
			c->sig.median[0] = c->sig.median[1];
			c->sig.median[1] = c->sig.median[2];
			c->sig.median[2] = x;
			if (c->sig.median_n < 3)
				c->sig.median_n++;
			if (c->sig.median_n == 3)
				x = median3(c->sig.median[0], c->sig.median[1], c->sig.median[2]);
		}
		if (!c->sig.iir_primed || c->cfg.filter_shift == 0) {
			c->sig.iir_q8 = x * 256;
			c->sig.iir_primed = true;
		} else {
			int32_t d = x * 256 - c->sig.iir_q8;
			c->sig.iir_q8 += d / (1 << c->cfg.filter_shift);
		}
		x = c->sig.iir_q8 >= 0 ? (c->sig.iir_q8 + 128) / 256 : -((-c->sig.iir_q8 + 128) / 256);
		out = (int16_t)x;
	} else {
		/* Start the filters afresh once the cells are good again. */
		c->sig.median_n = 0;
		c->sig.iir_primed = false;
	}
	c->sig.force = out;

	{
		bool var_still = still_from_variance(c, out);

		if (c->ports.motion && gyro_mdps != CORE_GYRO_ABSENT) {
			uint32_t mag = gyro_mdps < 0 ? (uint32_t)(-(int64_t)gyro_mdps)
						     : (uint32_t)gyro_mdps;
			still = mag < c->cfg.still_mdps;
		} else {
			still = var_still;
		}
	}
	if (still) {
		if (c->sig.still_run < UINT8_MAX)
			c->sig.still_run++;
	} else {
		c->sig.still_run = 0;
	}
	c->sig.still = still && c->sig.still_run >= c->cfg.still_samples;
	return out;
}
