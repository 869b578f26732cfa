/*
 * The sim transport: the real device core in-process, fed by the simulated
 * person, on a virtual clock driven by sd-event timers.
 *
 * Ports: force + gyro from roller/simperson.h, a fake NOR flash in RAM, a
 * clock that reads the virtual time (sample n happens at n x period), a
 * battery that reads 3.95 V, and a link whose notify() queues the frame;
 * the queue is delivered to the transport's user on the matching rlog
 * channel after each core call (never from inside the core: the port rules
 * forbid calling back into it, and the user may write a control request in
 * its frame callback).
 *
 * Speed: the virtual clock runs at `speed` x real time; 0 runs as fast as
 * the loop goes (a batch of samples per loop iteration at idle priority, so
 * keys, signals and control requests still come first). Frame times are
 * the host's monotonic time at creation plus the virtual time, so a session
 * log of an accelerated run replays at 1x in the person's time.
 *
 * The person follows the coach: it starts when the host starts a session
 * (START_SESSION) with the band and hold time the host set (SET_HOLD), gets
 * off at the coach's "release", stays off through the coach's rest until
 * "rest over", and leaves for good at "session done". A person that is never
 * told to start starts after a few seconds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "roller/coach.h"
#include "roller/core.h"
#include "roller/simperson.h"
#include "backends.h"

#define SIM_MTU PROTO_MTU_MAX
#define OUT_MAX 128u
#define REQ_MAX 4u
#define TICK_US 10000u          /* real time between timer ticks at speed > 0 */
#define BATCH_SAMPLES 256u      /* per loop iteration at speed 0 */
#define CATCH_UP_SAMPLES 8192u  /* most samples one tick may run (then skip ahead) */
#define FLASH_PAGE 4096u
#define FLASH_PAGES 64u
#define LEAD_IN_MS 2000u
#define START_FALLBACK_MS 3000u /* start the person when no START_SESSION comes */
#define END_AFTER_DONE_MS 30000u
#define BATTERY_MV 3950

struct sim_frame {
	uint8_t channel;
	uint8_t len;
	uint8_t buf[PROTO_FRAME_MAX];
};

struct sim_request {
	uint16_t len;
	uint8_t buf[PROTO_FRAME_ABS_MAX];
};

struct sim {
	sd_event *ev;
	struct transport_events events;
	void *userdata;
	double speed;

	struct core core;
	struct core_config core_cfg;
	struct port_force_ops force;
	struct port_motion_ops motion;
	struct port_clock_ops clock;
	struct port_storage_ops storage;
	struct port_link_ops link;
	struct port_power_ops power;
	struct core_ports ports;
	uint8_t flash[FLASH_PAGE * FLASH_PAGES];

	struct simperson person;
	struct simperson_config person_cfg;
	uint32_t period_us;
	int32_t counts[SIMPERSON_MAX_CHANNELS];
	int32_t gyro;
	uint32_t noise;

	uint64_t virtual_us;
	uint64_t base_mono_us;
	uint64_t tick_real_us;     /* real time matching tick_virtual_us */
	uint64_t tick_virtual_us;
	uint64_t connected_us;     /* virtual */
	uint64_t done_us;          /* virtual, at "session done" */

	struct sim_frame out[OUT_MAX];
	size_t out_head, out_n;
	struct sim_request req[REQ_MAX];
	size_t req_n;
	bool delivering;

	sd_event_source *connect_source;
	sd_event_source *tick_source;
	sd_event_source *req_source;
	bool connected;
	bool ended;

	/* The person */
	bool started;
	bool frozen;          /* off the roller, waiting for the coach */
	bool release_pending; /* the coach said release; not off yet */
	bool freeze_on_rest;  /* freeze once off */
	bool plan_done;
};

/* ---- Ports --------------------------------------------------------------- */

static int force_read(void *ctx, int32_t *counts, size_t n)
{
	struct sim *s = ctx;

	if (n != s->person_cfg.channels)
		return -EINVAL;
	memcpy(counts, s->counts, n * sizeof(*counts));
	return 0;
}

static int motion_read(void *ctx, int32_t *mdps)
{
	struct sim *s = ctx;

	*mdps = s->gyro;
	return 0;
}

static uint32_t clock_now(void *ctx)
{
	struct sim *s = ctx;

	return (uint32_t)(s->virtual_us / 1000u);
}

static int flash_erase(void *ctx, uint32_t page)
{
	struct sim *s = ctx;

	if (page >= FLASH_PAGES)
		return -EINVAL;
	memset(s->flash + (size_t)page * FLASH_PAGE, 0xFF, FLASH_PAGE);
	return 0;
}

static int flash_write(void *ctx, uint32_t offset, const void *buf, size_t len)
{
	struct sim *s = ctx;
	const uint8_t *src = buf;

	if (offset % 4u || len % 4u || offset >= sizeof(s->flash) ||
	    len > sizeof(s->flash) - offset || offset / FLASH_PAGE != (offset + len - 1) / FLASH_PAGE)
		return len == 0 ? 0 : -EINVAL;
	/* NOR: programming only clears bits. */
	for (size_t i = 0; i < len; i++)
		s->flash[offset + i] &= src[i];
	return 0;
}

static int flash_read(void *ctx, uint32_t offset, void *buf, size_t len)
{
	struct sim *s = ctx;

	if (offset > sizeof(s->flash) || len > sizeof(s->flash) - offset)
		return -EINVAL;
	memcpy(buf, s->flash + offset, len);
	return 0;
}

static enum rlog_channel channel_of(enum core_char c)
{
	switch (c) {
	case CORE_CHAR_MEASUREMENT:
		return RLOG_CH_MEASUREMENT;
	case CORE_CHAR_EVENT:
		return RLOG_CH_EVENT;
	case CORE_CHAR_CONTROL:
		return RLOG_CH_CONTROL;
	case CORE_CHAR_LOG:
		return RLOG_CH_LOG;
	case CORE_CHAR_INFO:
		return RLOG_CH_INFO;
	}
	return RLOG_CH_NONE;
}

static int link_notify(void *ctx, enum core_char char_id, const uint8_t *buf, size_t len)
{
	struct sim *s = ctx;
	struct sim_frame *f;

	if (!s->connected || char_id == CORE_CHAR_INFO)
		return -ENOTCONN;
	if (len > SIM_MTU - PROTO_ATT_OVERHEAD)
		return -EMSGSIZE;
	if (s->out_n == OUT_MAX)
		return -EAGAIN;
	f = &s->out[(s->out_head + s->out_n) % OUT_MAX];
	f->channel = (uint8_t)channel_of(char_id);
	f->len = (uint8_t)len;
	memcpy(f->buf, buf, len);
	s->out_n++;
	return 0;
}

static uint16_t link_mtu(void *ctx)
{
	(void)ctx;
	return SIM_MTU;
}

static bool link_up(void *ctx)
{
	return ((struct sim *)ctx)->connected;
}

static int power_battery_mv(void *ctx)
{
	(void)ctx;
	return BATTERY_MV;
}

static int power_battery_percent(void *ctx, uint16_t mv)
{
	int pct = ((int)mv - 3300) * 100 / (4200 - 3300);

	(void)ctx;
	return pct < 0 ? 0 : pct > 100 ? 100 : pct;
}

static int power_sleep(void *ctx)
{
	(void)ctx;
	return 0; /* the sim keeps sampling; the core watches for wake-up itself */
}

static int power_wake(void *ctx)
{
	(void)ctx;
	return 0;
}

/* ---- Delivery ------------------------------------------------------------- */

static void deliver(struct sim *s)
{
	struct sim_frame f;

	/* A frame callback may write a request; that only queues it. */
	if (s->delivering)
		return;
	s->delivering = true;
	while (s->out_n && !s->ended) {
		f = s->out[s->out_head];
		s->out_head = (s->out_head + 1) % OUT_MAX;
		s->out_n--;
		s->events.frame(s->userdata, (enum rlog_channel)f.channel, f.buf, f.len,
				s->base_mono_us + s->virtual_us);
	}
	s->delivering = false;
}

static void poll_core(struct sim *s)
{
	core_poll(&s->core, clock_now(s));
	deliver(s);
}

/* ---- The person ----------------------------------------------------------------- */

static void person_setup(struct sim *s, const struct proto_hold_params *hold)
{
	uint32_t weight_dn = (uint32_t)s->person_cfg.body_weight_kg * 98u; /* ~ g = 9.8 m/s2 */
	struct simperson_config cfg = s->person_cfg;

	if (hold && weight_dn) {
		uint32_t low = hold->band_low * 1000u / weight_dn;
		uint32_t high = hold->band_high * 1000u / weight_dn;

		if (low >= 1 && high > low && high <= 1000) {
			cfg.plan.band_low_permille = (uint16_t)low;
			cfg.plan.band_high_permille = (uint16_t)high;
		}
		if (hold->hold_s >= 1 && hold->hold_s <= 3600)
			cfg.plan.hold_s = hold->hold_s;
	}
	if (simperson_init(&s->person, &cfg) == 0)
		s->person_cfg = cfg;
	else
		simperson_init(&s->person, &s->person_cfg);
}

static void person_start(struct sim *s)
{
	s->started = true;
	s->frozen = false;
}

/* Nobody on the roller: ADC noise around zero load, a roller at rest. */
static void idle_sample(struct sim *s, int32_t *counts, int32_t *gyro)
{
	int32_t spread = (int32_t)s->person_cfg.count_noise;

	for (size_t i = 0; i < s->person_cfg.channels; i++) {
		s->noise = s->noise * 1664525u + 1013904223u;
		counts[i] = s->person_cfg.offset[i] +
			    (spread ? (int32_t)((s->noise >> 8) % (uint32_t)(2 * spread + 1)) - spread : 0);
	}
	s->noise = s->noise * 1664525u + 1013904223u;
	*gyro = s->person_cfg.imu ? (int32_t)((s->noise >> 8) % 601u) - 300 : SIMPERSON_GYRO_ABSENT;
}

static void sample(struct sim *s)
{
	int32_t counts[SIMPERSON_MAX_CHANNELS];
	int32_t gyro;
	int phase;

	if (!s->started && s->virtual_us >= s->connected_us + START_FALLBACK_MS * 1000ull)
		person_start(s);
	if (s->frozen || !s->started) {
		idle_sample(s, counts, &gyro);
	} else {
		phase = simperson_step(&s->person, counts, s->person_cfg.channels, &gyro);
		if (s->release_pending) {
			switch (phase) {
			case SIMPERSON_FINDING:
			case SIMPERSON_RAMP:
			case SIMPERSON_HOLDING:
			case SIMPERSON_DIP:
			case SIMPERSON_OVER:
			case SIMPERSON_DROP:
				simperson_release(&s->person);
				break;
			default:
				s->release_pending = false;
				break;
			}
		}
		if (s->freeze_on_rest && !s->release_pending &&
		    (phase == SIMPERSON_RESTING || phase == SIMPERSON_DONE || phase == SIMPERSON_OFF)) {
			s->frozen = true;
			s->freeze_on_rest = false;
		}
	}
	memcpy(s->counts, counts, sizeof(counts));
	s->gyro = gyro;
	core_on_sample(&s->core, counts, s->person_cfg.channels, gyro);
	s->virtual_us += s->period_us;
	poll_core(s);
	if (s->plan_done && s->frozen && !s->ended &&
	    s->virtual_us - s->done_us >= END_AFTER_DONE_MS * 1000ull) {
		s->ended = true;
		sd_event_source_set_enabled(s->tick_source, SD_EVENT_OFF);
		s->events.state(s->userdata, TRANSPORT_ENDED, 0, "the simulated person has left");
	}
}

/* ---- Event sources ---------------------------------------------------------------- */

static int on_tick(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct sim *s = userdata;
	uint64_t target;
	unsigned n = 0;

	target = s->tick_virtual_us + (uint64_t)((double)(usec - s->tick_real_us) * s->speed);
	while (!s->ended && s->virtual_us + s->period_us <= target && n < CATCH_UP_SAMPLES) {
		sample(s);
		n++;
	}
	if (n == CATCH_UP_SAMPLES) {
		/* Far behind (a stopped process, a slow machine): skip ahead. */
		s->tick_real_us = usec;
		s->tick_virtual_us = s->virtual_us;
	}
	if (!s->ended) {
		sd_event_source_set_time(src, usec + TICK_US);
		sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
	}
	return 0;
}

static int on_batch(sd_event_source *src, void *userdata)
{
	struct sim *s = userdata;

	(void)src;
	for (unsigned i = 0; i < BATCH_SAMPLES && !s->ended; i++)
		sample(s);
	return 0;
}

static void inspect_request(struct sim *s, const uint8_t *buf, size_t len)
{
	struct proto_control_request req;

	if (proto_request_decode(buf, len, &req) < 0)
		return;
	if (req.opcode == PROTO_OP_SET_HOLD && !s->started)
		person_setup(s, &req.u.set_hold);
	else if (req.opcode == PROTO_OP_START_SESSION && !s->started)
		person_start(s);
}

static int on_requests(sd_event_source *src, void *userdata)
{
	struct sim *s = userdata;

	(void)src;
	while (s->req_n && !s->ended) {
		struct sim_request r = s->req[0];

		memmove(s->req, s->req + 1, (s->req_n - 1) * sizeof(s->req[0]));
		s->req_n--;
		core_on_control_write(&s->core, r.buf, r.len);
		inspect_request(s, r.buf, r.len);
		poll_core(s);
	}
	return 0;
}

static int on_connect(sd_event_source *src, void *userdata)
{
	struct sim *s = userdata;
	uint8_t info[PROTO_FRAME_MAX];
	size_t len = 0;
	uint64_t now = 0;
	int r;

	(void)src;
	s->events.state(s->userdata, TRANSPORT_CONNECTING, 0, NULL);
	s->connected = true;
	core_on_connect(&s->core, false);
	core_on_security_changed(&s->core, true, true);
	core_on_mtu(&s->core, SIM_MTU);
	s->connected_us = s->virtual_us;
	s->events.state(s->userdata, TRANSPORT_CONNECTED, 0, NULL);
	/* The host's first read: the Info characteristic. */
	r = core_read_info(&s->core, info, sizeof(info), &len);
	if (r == 0)
		s->events.frame(s->userdata, RLOG_CH_INFO, info, len, s->base_mono_us + s->virtual_us);
	poll_core(s);

	sd_event_now(s->ev, CLOCK_MONOTONIC, &now);
	s->tick_real_us = now;
	s->tick_virtual_us = s->virtual_us;
	if (s->speed > 0) {
		r = sd_event_add_time(s->ev, &s->tick_source, CLOCK_MONOTONIC, now + TICK_US, 1000,
				      on_tick, s);
	} else {
		r = sd_event_add_defer(s->ev, &s->tick_source, on_batch, s);
		if (r >= 0) {
			sd_event_source_set_priority(s->tick_source, SD_EVENT_PRIORITY_IDLE);
			r = sd_event_source_set_enabled(s->tick_source, SD_EVENT_ON);
		}
	}
	if (r < 0)
		s->events.state(s->userdata, TRANSPORT_FAILED, r, "cannot start the sample clock");
	return 0;
}

/* ---- Ops ---------------------------------------------------------------------------- */

static void sim_destroy(struct transport *t)
{
	struct sim *s = (struct sim *)t;

	if (!s)
		return;
	sd_event_source_disable_unref(s->connect_source);
	sd_event_source_disable_unref(s->tick_source);
	sd_event_source_disable_unref(s->req_source);
	sd_event_unref(s->ev);
	free(s);
}

static int sim_create(struct transport **out, sd_event *ev, const struct transport_options *opt,
		      const struct transport_events *events, void *userdata)
{
	struct sim *s;
	uint64_t now = 0;
	int r;

	if (!out || !ev || !opt || !events || !events->frame || !events->state || opt->speed < 0)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ev = sd_event_ref(ev);
	s->events = *events;
	s->userdata = userdata;
	s->speed = opt->speed;
	sd_event_now(ev, CLOCK_MONOTONIC, &now);
	s->base_mono_us = now;
	s->noise = opt->seed ^ 0x5EEDu;
	memset(s->flash, 0xFF, sizeof(s->flash));

	simperson_config_defaults(&s->person_cfg);
	s->person_cfg.seed = opt->seed;
	if (opt->body_weight_dkg) {
		unsigned kg = (opt->body_weight_dkg + 5u) / 10u;

		s->person_cfg.body_weight_kg = (uint16_t)(kg < 20 ? 20 : kg > 250 ? 250 : kg);
	}
	/* The coach decides how many holds and how long the rests are. */
	s->person_cfg.plan.reps = 1000;
	s->person_cfg.plan.rest_s = 2;
	s->person_cfg.plan.lead_in_ms = LEAD_IN_MS;
	s->person_cfg.plan.wait_for_release = true;
	r = simperson_init(&s->person, &s->person_cfg);
	if (r < 0)
		goto fail;
	s->period_us = 1000000u / s->person_cfg.sample_rate_hz;

	s->force = (struct port_force_ops){
		.ctx = s,
		.channels = s->person_cfg.channels,
		.sample_period_us = (uint16_t)s->period_us,
		.rail_low = -8388608,
		.rail_high = 8388607,
		.read = force_read,
	};
	s->motion = (struct port_motion_ops){ .ctx = s, .read_rate = motion_read };
	s->clock = (struct port_clock_ops){ .ctx = s, .now_ms = clock_now };
	s->storage = (struct port_storage_ops){
		.ctx = s,
		.page_size = FLASH_PAGE,
		.page_count = FLASH_PAGES,
		.write_align = 4,
		.erase = flash_erase,
		.write = flash_write,
		.read = flash_read,
	};
	s->link = (struct port_link_ops){
		.ctx = s,
		.notify = link_notify,
		.mtu = link_mtu,
		.connected = link_up,
		.encrypted = link_up,
		.bonded = link_up,
	};
	s->power = (struct port_power_ops){
		.ctx = s,
		.battery_mv = power_battery_mv,
		.battery_percent = power_battery_percent,
		.sleep = power_sleep,
		.wake = power_wake,
	};
	s->ports = (struct core_ports){
		.force = &s->force,
		.motion = s->person_cfg.imu ? &s->motion : NULL,
		.clock = &s->clock,
		.storage = &s->storage,
		.link = &s->link,
		.power = &s->power,
	};
	core_config_defaults(&s->core_cfg);
	s->core_cfg.device_id = 0x53494D00u ^ opt->seed; /* "SIM" */
	s->core_cfg.capabilities |= PROTO_CAP_SIMULATED;
	s->core_cfg.sleep_timeout_s = 0;
	r = core_init(&s->core, &s->ports, &s->core_cfg);
	if (r < 0)
		goto fail;

	r = sd_event_add_defer(ev, &s->connect_source, on_connect, s);
	if (r < 0)
		goto fail;
	sd_event_source_set_enabled(s->connect_source, SD_EVENT_ONESHOT);
	r = sd_event_add_defer(ev, &s->req_source, on_requests, s);
	if (r < 0)
		goto fail;
	sd_event_source_set_enabled(s->req_source, SD_EVENT_OFF);
	*out = (struct transport *)s;
	return 0;
fail:
	sim_destroy((struct transport *)s);
	return r;
}

static int sim_write_control(struct transport *t, const uint8_t *buf, size_t len)
{
	struct sim *s = (struct sim *)t;

	if (!s->connected || s->ended)
		return -ENOTCONN;
	if (len > SIM_MTU - PROTO_ATT_OVERHEAD || len > sizeof(s->req[0].buf))
		return -EMSGSIZE;
	if (s->req_n == REQ_MAX)
		return -EBUSY;
	memcpy(s->req[s->req_n].buf, buf, len);
	s->req[s->req_n].len = (uint16_t)len;
	s->req_n++;
	return sd_event_source_set_enabled(s->req_source, SD_EVENT_ONESHOT);
}

static void sim_coach_cue(struct transport *t, int cue)
{
	struct sim *s = (struct sim *)t;

	switch (cue) {
	case COACH_CUE_RELEASE:
	case COACH_CUE_EARLY_RELEASE:
	case COACH_CUE_HOLD_COUNTED:
		s->release_pending = true;
		s->freeze_on_rest = true;
		break;
	case COACH_CUE_SESSION_DONE:
		s->release_pending = true;
		s->freeze_on_rest = true;
		s->plan_done = true;
		s->done_us = s->virtual_us;
		break;
	case COACH_CUE_REST_OVER:
		if (!s->plan_done) {
			s->frozen = false;
			s->freeze_on_rest = false;
		}
		break;
	default:
		break;
	}
}

static uint16_t sim_mtu(struct transport *t)
{
	(void)t;
	return SIM_MTU;
}

const struct transport_ops transport_sim_ops = {
	.name = "sim",
	.create = sim_create,
	.write_control = sim_write_control,
	.coach_cue = sim_coach_cue,
	.mtu = sim_mtu,
	.destroy = sim_destroy,
};
