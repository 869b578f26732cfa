/*
 * Battery monitoring and the sleep policy: sleep after sleep_timeout_s
 * without contact, motion or a link; wake on load or motion.
 */
#include "core_internal.h"

static void read_battery(struct core *c)
{
	const struct port_power_ops *p = c->ports.power;
	struct core_power_state *s = &c->power;
	int mv, pct;

	if (!p)
		return;
	mv = p->battery_mv(p->ctx);
	if (mv < 0 || mv > UINT16_MAX)
		return;
	pct = p->battery_percent(p->ctx, (uint16_t)mv);
	if (pct < 0)
		return;
	if (pct > 100)
		pct = 100;
	s->battery_read = true;
	s->millivolts = (uint16_t)mv;
	s->percent = (uint8_t)pct;
	s->charging = p->charging ? p->charging(p->ctx) : false;
	if (!s->low && pct <= c->cfg.battery_low_pct) {
		struct proto_event e;

		s->low = true;
		e.kind = PROTO_EVENT_BATTERY_LOW;
		e.sample = c->hist.next;
		e.u.battery_low.millivolts = s->millivolts;
		e.u.battery_low.percent = s->percent;
		stream_event(c, &e);
	} else if (s->low && pct >= c->cfg.battery_low_pct + c->cfg.battery_hyst_pct) {
		s->low = false;
	}
	core_status_update(c);
}

void power_init(struct core *c)
{
	c->power.last_activity_ms = c->now_ms;
	c->power.last_battery_ms = c->now_ms;
	read_battery(c);
}

void power_activity(struct core *c)
{
	c->power.last_activity_ms = c->now_ms;
}

static uint32_t magnitude(int32_t v)
{
	return v < 0 ? (uint32_t)(-(int64_t)v) : (uint32_t)v;
}

bool power_wake_check(struct core *c, const int32_t *counts, size_t n,
		      int32_t gyro_mdps)
{
	int32_t f;

	if (c->ports.motion && gyro_mdps != CORE_GYRO_ABSENT &&
	    magnitude(gyro_mdps) >= c->cfg.wake_mdps)
		return true;
	if (!counts)
		return false;
	/* Load: a change from the first force seen asleep (the board may
	 * sample differently while asleep), so that it works untared too. */
	f = calibration_force_dn(c, counts, n);
	if (!c->power.sleep_force_valid) {
		c->power.sleep_force = f;
		c->power.sleep_force_valid = true;
		return false;
	}
	return magnitude(f - c->power.sleep_force) >= c->hold_params.contact;
}

void power_wake(struct core *c)
{
	const struct port_power_ops *p = c->ports.power;
	const struct port_motion_ops *m = c->ports.motion;

	c->power.sleeping = false;
	c->power.last_activity_ms = c->now_ms;
	if (m && m->wake_on_motion)
		(void)m->wake_on_motion(m->ctx, false, 0);
	if (p && p->wake)
		(void)p->wake(p->ctx);
	/* The filters hold values from before the sleep. */
	signal_reset(c);
	c->sig.still_run = 0;
	c->sig.still = false;
}

int power_sleep(struct core *c)
{
	const struct port_power_ops *p = c->ports.power;
	const struct port_motion_ops *m = c->ports.motion;

	c->power.sleep_pending = false;
	if (!p || !p->sleep) {
		c->power.last_activity_ms = c->now_ms;
		return -ENOTSUP;
	}
	hold_end_now(c, PROTO_END_SESSION);
	if (c->session.active)
		(void)core_session_stop(c);
	(void)flashlog_flush(c);
	calibration_abort(c);
	flashlog_abort_transfer(c);
	if (p->sleep(p->ctx) != 0) {
		c->power.last_activity_ms = c->now_ms;
		return -EIO;
	}
	if (m && m->wake_on_motion)
		(void)m->wake_on_motion(m->ctx, true, c->cfg.wake_mdps);
	c->power.sleep_force_valid = false;
	c->power.sleeping = true;
	return 0;
}

uint32_t power_poll_battery(struct core *c, uint32_t now)
{
	struct core_power_state *s = &c->power;
	uint32_t age;

	if (!c->ports.power || !c->cfg.battery_period_ms)
		return UINT32_MAX;
	age = now - s->last_battery_ms;
	if (age >= c->cfg.battery_period_ms) {
		s->last_battery_ms = now;
		read_battery(c);
		age = 0;
	}
	return c->cfg.battery_period_ms - age;
}

uint32_t power_poll(struct core *c, uint32_t now)
{
	struct core_power_state *s = &c->power;
	uint32_t wait = UINT32_MAX;

	if (s->sleep_pending) {
		if (!stream_responses_pending(c))
			(void)power_sleep(c);
		return UINT32_MAX;
	}
	if (!c->stream.connected && c->sleep_timeout_s && c->ports.power && c->ports.power->sleep) {
		uint32_t idle = now - s->last_activity_ms;
		uint32_t limit = (uint32_t)c->sleep_timeout_s * 1000u;

		if (idle >= limit) {
			if (power_sleep(c) == 0)
				return UINT32_MAX;
			idle = 0;
		}
		wait = limit - idle;
	}
	return wait;
}
