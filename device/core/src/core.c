/*
 * Entry points: wiring of the per-sample pipeline, link events, sessions,
 * status, and the read-only views.
 */
#include "core_internal.h"

#include <string.h>

void core_config_defaults(struct core_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->device_id = 0;
	cfg->fw_major = CORE_FW_MAJOR;
	cfg->fw_minor = CORE_FW_MINOR;
	cfg->fw_patch = CORE_FW_PATCH;
	cfg->capabilities = 0;
	cfg->default_scale_unpc = 2500;
	cfg->full_scale_dn = 20000;
	cfg->filter_shift = 2;
	cfg->spike_median = true;
	cfg->stuck_samples = 400;  /* 5 s at 80 SPS: a live 24-bit ADC never repeats that long */
	cfg->recover_samples = 16;
	cfg->still_mdps = 8000;
	cfg->still_var_dn2 = 900;
	cfg->still_samples = 4;
	cfg->hold.band_low = 1500;  /* 150 N: about 20 % of a 75 kg body weight */
	cfg->hold.band_high = 4000; /* 400 N: about 54 %, the individual peaks */
	cfg->hold.hold_s = 90;      /* Hou 2002, Wilke 2018 */
	cfg->hold.grace_ms = 1000;
	cfg->hold.contact = 100;    /* 10 N */
	cfg->tare_samples = 32;
	cfg->batch_ms = 100;
	cfg->auto_session = true;
	cfg->auto_stop_s = 60;
	cfg->sleep_timeout_s = 300;
	cfg->battery_period_ms = 60000;
	cfg->battery_low_pct = 15;
	cfg->battery_hyst_pct = 5;
	cfg->wake_mdps = 30000;
	cfg->first_sample = 0;
}

static void link_ready(struct core *c);

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1u));
}

static int check(const struct core_ports *p, const struct core_config *cfg)
{
	const struct port_force_ops *f = p->force;
	const struct port_storage_ops *s = p->storage;

	if (!f || !p->clock || !p->clock->now_ms || !p->link || !p->link->notify)
		return -EINVAL;
	if (f->channels < 1 || f->channels > PORT_FORCE_MAX_CHANNELS ||
	    f->sample_period_us == 0 || f->rail_low >= f->rail_high)
		return -EINVAL;
	if (s && (!s->erase || !s->write || !s->read || !is_pow2(s->page_size) ||
		  s->page_size < 512 || s->page_count < 4 || !is_pow2(s->write_align) ||
		  s->write_align > 16))
		return -EINVAL;
	if (p->power && (!p->power->battery_mv || !p->power->battery_percent))
		return -EINVAL;
	if (p->motion && !p->motion->read_rate)
		return -EINVAL;
	if (cfg->filter_shift > 7 || cfg->tare_samples < 1 || cfg->tare_samples > 1024 ||
	    cfg->batch_ms < 1 || cfg->batch_ms > 1000 || cfg->battery_low_pct > 100 ||
	    cfg->default_scale_unpc == 0 || proto_hold_params_check(&cfg->hold) != 0)
		return -EINVAL;
	return 0;
}

int core_init(struct core *c, const struct core_ports *ports,
	      const struct core_config *cfg)
{
	const struct port_link_ops *l;

	if (!c || !ports || !cfg || check(ports, cfg) != 0)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	c->ports = *ports;
	c->cfg = *cfg;
	c->now_ms = ports->clock->now_ms(ports->clock->ctx);
	c->hold_params = cfg->hold;
	c->sleep_timeout_s = cfg->sleep_timeout_s;
	c->session.next_id = 1;
	calibration_defaults(c);
	signal_reset(c);
	stream_reset(c);
	c->log.logged_next = c->hist.next;
	flashlog_init(c);
	hold_reset(c);
	power_init(c);

	l = ports->link;
	if (l->connected && l->connected(l->ctx)) {
		c->stream.connected = true;
		c->stream.peer_bonded = l->bonded ? l->bonded(l->ctx) : false;
		c->stream.encrypted = l->encrypted ? l->encrypted(l->ctx) : false;
		c->stream.bonded = c->stream.peer_bonded && c->stream.encrypted;
		if (l->mtu)
			core_on_mtu(c, l->mtu(l->ctx));
		if (core_link_ready(c))
			link_ready(c);
	}
	return 0;
}

bool core_link_ready(const struct core *c)
{
	const struct core_stream_state *s = &c->stream;

	return s->connected && (!s->peer_bonded || s->encrypted);
}

uint16_t core_capabilities(const struct core *c)
{
	uint16_t caps = c->cfg.capabilities | PROTO_CAP_RESEND;

	if (c->ports.motion)
		caps |= PROTO_CAP_IMU;
	if (c->log.usable)
		caps |= PROTO_CAP_LOG;
	if (c->ports.power)
		caps |= PROTO_CAP_BATTERY;
	return caps;
}

uint32_t core_unix_time(const struct core *c)
{
	if (!c->clock_set)
		return 0;
	return c->unix_base + (c->now_ms - c->unix_tick) / 1000u;
}

void core_status_update(struct core *c)
{
	struct core_stream_state *s = &c->stream;
	struct proto_event e;
	uint8_t st[3];

	if (!s->connected)
		return;
	st[0] = c->hold.state;
	st[1] = PROTO_STATUS_CONNECTED;
	if (c->cal.state == PROTO_CAL_VALID)
		st[1] |= PROTO_STATUS_CALIBRATED;
	if (c->session.active)
		st[1] |= PROTO_STATUS_RECORDING;
	if (c->power.low)
		st[1] |= PROTO_STATUS_BATTERY_LOW;
	if (c->power.charging)
		st[1] |= PROTO_STATUS_CHARGING;
	st[2] = c->power.percent;
	if (s->status_sent && memcmp(st, s->status, sizeof(st)) == 0)
		return;
	memcpy(s->status, st, sizeof(st));
	s->status_sent = true;
	e.kind = PROTO_EVENT_STATUS;
	e.sample = c->hist.next;
	e.u.status.state = st[0];
	e.u.status.flags = st[1];
	e.u.status.battery_pct = st[2];
	stream_event(c, &e);
}

/* ---- sessions ---- */

static int session_frame(struct core *c, uint8_t kind, uint8_t *out, size_t *len)
{
	struct proto_session ps;

	ps.kind = kind;
	ps.region = c->session.region;
	ps.session_id = c->session.id;
	ps.sample = c->hist.next;
	ps.time = c->now_ms;
	ps.unix_time = core_unix_time(c);
	return proto_session_encode(&ps, out, CORE_SMALL_FRAME_MAX, len);
}

int core_session_start(struct core *c, uint8_t region, bool automatic)
{
	uint8_t frame[CORE_SMALL_FRAME_MAX];
	size_t len;

	if (c->session.active)
		return -EALREADY;
	c->session.active = true;
	c->session.automatic = automatic;
	c->session.region = region;
	c->session.id = c->session.next_id;
	c->session.next_id = (uint16_t)(c->session.next_id + 1u);
	if (c->session.next_id == 0)
		c->session.next_id = 1;
	c->session.last_contact_ms = c->now_ms;
	flashlog_recording_started(c, c->hist.next);
	if (session_frame(c, PROTO_SESSION_START, frame, &len) != 0)
		return -EFAULT;
	flashlog_queue(c, frame, len, c->hist.next);
	if (!automatic && flashlog_flush(c) != 0) {
		/* Not recorded: as if the request never came. */
		c->session.active = false;
		c->session.next_id = c->session.id;
		return -EIO;
	}
	stream_session(c, frame, len);
	core_status_update(c);
	return 0;
}

int core_session_stop(struct core *c)
{
	uint8_t frame[CORE_SMALL_FRAME_MAX];
	bool automatic = c->session.automatic;
	size_t len;
	int err = 0;

	if (!c->session.active)
		return -EALREADY;
	hold_end_now(c, PROTO_END_SESSION);
	if (session_frame(c, PROTO_SESSION_END, frame, &len) == 0) {
		flashlog_queue(c, frame, len, c->hist.next);
		c->session.active = false;
		if (!automatic && flashlog_flush(c) != 0)
			err = -EIO;
		stream_session(c, frame, len);
	}
	c->session.active = false;
	core_status_update(c);
	return err;
}

/* ---- samples and polling ---- */

void core_on_sample(struct core *c, const int32_t *counts, size_t n_channels,
		    int32_t gyro_mdps)
{
	uint32_t index;
	int16_t force;
	bool still;

	if (!c)
		return;
	c->now_ms = c->ports.clock->now_ms(c->ports.clock->ctx);
	if (!counts || n_channels != c->ports.force->channels) {
		c->counters.sensor_errors++;
		counts = NULL;
		n_channels = 0;
	}
	if (c->power.sleeping) {
		if (power_wake_check(c, counts, n_channels, gyro_mdps))
			power_wake(c);
		return;
	}
	index = c->hist.next;
	force = signal_process(c, counts, n_channels, gyro_mdps);
	still = signal_still(c);
	calibration_on_sample(c, counts, n_channels, still, force);
	hold_on_sample(c, index, force, still);
	if (c->hold.contact) {
		c->session.last_contact_ms = c->now_ms;
		power_activity(c);
	} else if (!still) {
		power_activity(c);
	}
	if (c->cfg.auto_session && !c->session.active && c->hold.contact &&
	    !c->stream.connected && c->log.usable)
		(void)core_session_start(c, PROTO_REGION_NONE, true);
	stream_history_push(c, index, force, still, c->now_ms);
	stream_on_sample(c, index);
	c->counters.samples++;
	core_status_update(c);
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

uint32_t core_poll(struct core *c, uint32_t now_ms)
{
	uint32_t wait;

	if (!c)
		return UINT32_MAX;
	c->now_ms = now_ms;
	if (c->power.sleeping)
		return UINT32_MAX;
	if (c->session.active && c->session.automatic) {
		uint32_t idle = now_ms - c->session.last_contact_ms;
		uint32_t limit = (uint32_t)c->cfg.auto_stop_s * 1000u;

		if (idle >= limit)
			(void)core_session_stop(c);
	}
	calibration_poll(c);
	(void)flashlog_flush(c);
	wait = power_poll_battery(c, now_ms);
	wait = min_u32(wait, stream_poll(c, now_ms));
	wait = min_u32(wait, power_poll(c, now_ms));
	if (c->session.active && c->session.automatic && !c->power.sleeping) {
		uint32_t idle = now_ms - c->session.last_contact_ms;
		uint32_t limit = (uint32_t)c->cfg.auto_stop_s * 1000u;

		wait = min_u32(wait, idle < limit ? limit - idle : 0);
	}
	return wait;
}

/* ---- link ---- */

static void link_ready(struct core *c)
{
	c->stream.status_sent = false;
	core_status_update(c);
	stream_counters_event(c);
	if (c->cal.state == PROTO_CAL_INVALID)
		stream_error(c, PROTO_ERR_CALIBRATION_INVALID, 0xFF, 0);
}

void core_on_connect(struct core *c, bool peer_bonded)
{
	if (!c)
		return;
	if (c->power.sleeping)
		power_wake(c);
	c->stream.connected = true;
	c->stream.peer_bonded = peer_bonded;
	c->stream.encrypted = false;
	c->stream.bonded = false;
	c->stream.mtu = PROTO_MTU_MIN;
	stream_mtu_changed(c);
	stream_link_changed(c);
	power_activity(c);
	if (core_link_ready(c))
		link_ready(c);
}

void core_on_disconnect(struct core *c)
{
	if (!c)
		return;
	c->stream.connected = false;
	c->stream.peer_bonded = c->stream.encrypted = c->stream.bonded = false;
	calibration_abort(c);
	flashlog_abort_transfer(c);
	c->power.sleep_pending = false;
	stream_link_changed(c);
	power_activity(c);
}

void core_on_security_changed(struct core *c, bool encrypted, bool bonded)
{
	bool was;

	if (!c || !c->stream.connected)
		return;
	was = core_link_ready(c);
	c->stream.encrypted = encrypted;
	c->stream.bonded = bonded;
	stream_link_changed(c);
	if (!was && core_link_ready(c))
		link_ready(c);
}

void core_on_mtu(struct core *c, uint16_t mtu)
{
	if (!c)
		return;
	if (mtu < PROTO_MTU_MIN)
		mtu = PROTO_MTU_MIN;
	if (mtu > PROTO_MTU_MAX)
		mtu = PROTO_MTU_MAX;
	c->stream.mtu = mtu;
	stream_mtu_changed(c);
}

int core_on_control_write(struct core *c, const uint8_t *buf, size_t len)
{
	if (!c || !buf)
		return -EINVAL;
	return control_write(c, buf, len);
}

void core_wake(struct core *c)
{
	if (c && c->power.sleeping)
		power_wake(c);
}

int core_read_info(const struct core *c, uint8_t *out, size_t cap, size_t *written)
{
	struct proto_info i;

	if (!c || !out || !written)
		return -EINVAL;
	i.proto_major = PROTO_VERSION;
	i.proto_minor = PROTO_VERSION_MINOR;
	i.fw_major = c->cfg.fw_major;
	i.fw_minor = c->cfg.fw_minor;
	i.fw_patch = c->cfg.fw_patch;
	i.capabilities = core_capabilities(c);
	i.sample_period_us = c->ports.force->sample_period_us;
	i.channels = c->ports.force->channels;
	i.calibration = c->cal.state;
	i.full_scale = c->cfg.full_scale_dn;
	i.device_id = c->cfg.device_id;
	return proto_info_encode(&i, out, cap, written);
}

/* ---- views ---- */

void core_counters(const struct core *c, struct core_counters *out)
{
	if (c && out)
		*out = c->counters;
}

enum proto_hold_state core_hold_state(const struct core *c)
{
	return (enum proto_hold_state)c->hold.state;
}

enum proto_calibration core_calibration(const struct core *c)
{
	return (enum proto_calibration)c->cal.state;
}

void core_hold_params(const struct core *c, struct proto_hold_params *out)
{
	*out = c->hold_params;
}

bool core_sleeping(const struct core *c)
{
	return c->power.sleeping;
}

bool core_session_active(const struct core *c, uint16_t *id)
{
	if (id)
		*id = c->session.id;
	return c->session.active;
}

int16_t core_force(const struct core *c)
{
	return c->sig.force;
}

uint32_t core_next_sample(const struct core *c)
{
	return c->hist.next;
}

int core_log_info(const struct core *c, uint32_t *first, uint32_t *end,
		  uint16_t *sessions)
{
	return flashlog_info(c, first, end, sessions);
}

int core_battery(const struct core *c, uint16_t *millivolts, uint8_t *percent)
{
	if (!c->ports.power || !c->power.battery_read)
		return -ENODEV;
	*millivolts = c->power.millivolts;
	*percent = c->power.percent;
	return 0;
}
