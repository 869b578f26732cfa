/* The fake roller behind the transport vtable (see fake_transport.h). */
#define _GNU_SOURCE
#include "fake_transport.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REQ_MAX 8u
#define PUMP_ROUNDS 64u

struct fake_transport_env fake_transport_env;

struct fake_request {
	uint8_t len;
	uint8_t buf[PROTO_FRAME_MAX];
};

struct fake_transport {
	sd_event *ev;
	struct transport_events events;
	void *userdata;
	sd_event_source *pump;
	sd_event_source *reconnect;
	bool connected;
	struct fake_request req[REQ_MAX];
	size_t req_n;
};

void fake_transport_reset(void)
{
	struct fake_roller *r = fake_transport_env.roller;

	memset(&fake_transport_env, 0, sizeof(fake_transport_env));
	fake_transport_env.roller = r;
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static enum rlog_channel channel_of(uint8_t ch)
{
	switch (ch) {
	case CORE_CHAR_MEASUREMENT:
		return RLOG_CH_MEASUREMENT;
	case CORE_CHAR_EVENT:
		return RLOG_CH_EVENT;
	case CORE_CHAR_CONTROL:
		return RLOG_CH_CONTROL;
	case CORE_CHAR_LOG:
		return RLOG_CH_LOG;
	default:
		return RLOG_CH_INFO;
	}
}

static void link_up(struct fake_transport *t)
{
	struct fake_transport_env *env = &fake_transport_env;
	uint8_t info[PROTO_FRAME_MAX];
	size_t len = 0;

	t->events.state(t->userdata, TRANSPORT_CONNECTING, 0, NULL);
	fake_roller_connect(env->roller, env->mtu ? env->mtu : PROTO_MTU_MAX);
	t->connected = true;
	env->connects++;
	t->events.state(t->userdata, TRANSPORT_CONNECTED, 0, NULL);
	if (fake_roller_info(env->roller, info, sizeof(info), &len) == 0)
		t->events.frame(t->userdata, RLOG_CH_INFO, info, len, mono_us());
	sd_event_source_set_enabled(t->pump, SD_EVENT_ONESHOT);
}

static void link_down(struct fake_transport *t)
{
	struct fake_transport_env *env = &fake_transport_env;
	uint64_t now = 0;

	fake_roller_disconnect(env->roller);
	t->connected = false;
	t->req_n = 0;
	env->drops++;
	t->events.state(t->userdata, TRANSPORT_LINK_LOST, -ECONNRESET, "fake link dropped");
	if (env->no_reconnect)
		return;
	sd_event_now(t->ev, CLOCK_MONOTONIC, &now);
	sd_event_source_set_time(t->reconnect,
				 now + (uint64_t)(env->reconnect_ms ? env->reconnect_ms : 5u) * 1000u);
	sd_event_source_set_enabled(t->reconnect, SD_EVENT_ONESHOT);
}

/* Delivers one frame; false when the link went down after it. */
static bool deliver(struct fake_transport *t, struct fake_roller_frame *f)
{
	struct fake_transport_env *env = &fake_transport_env;
	unsigned long n = 0;

	if (f->ch == CORE_CHAR_LOG) {
		n = ++env->chunks;
		if (n == env->swallow_chunk)
			return true;
		if ((n == env->corrupt_chunk || env->corrupt_all) && f->len > 12)
			f->buf[12] ^= 0x01;
	}
	env->bytes += f->len;
	t->events.frame(t->userdata, channel_of(f->ch), f->buf, f->len, mono_us());
	if (n && n == env->stop_after_chunk && env->on_stop)
		env->on_stop(env->stop_userdata);
	if (n && n == env->drop_after_chunk && t->connected) {
		link_down(t);
		return false;
	}
	return t->connected;
}

static int on_pump(sd_event_source *src, void *userdata)
{
	struct fake_transport *t = userdata;
	struct fake_roller *r = fake_transport_env.roller;
	struct fake_roller_frame f;
	bool busy = false;

	(void)src;
	if (!t->connected) {
		if (!fake_transport_env.connects)
			link_up(t); /* the first connection */
		return 0;
	}
	for (unsigned round = 0; round < PUMP_ROUNDS && t->connected; round++) {
		bool any = false;

		while (t->req_n && t->connected) {
			struct fake_request q = t->req[0];

			memmove(t->req, t->req + 1, (t->req_n - 1) * sizeof(t->req[0]));
			t->req_n--;
			fake_roller_write(r, q.buf, q.len);
			any = true;
		}
		fake_roller_poll(r, 1);
		while (t->connected && fake_roller_pop(r, &f)) {
			any = true;
			if (!deliver(t, &f))
				break;
		}
		if (!any)
			break;
		busy = true;
	}
	if (busy && t->connected)
		sd_event_source_set_enabled(t->pump, SD_EVENT_ONESHOT);
	return 0;
}

static int on_reconnect(sd_event_source *src, uint64_t usec, void *userdata)
{
	(void)src;
	(void)usec;
	link_up(userdata);
	return 0;
}

static void fake_destroy(struct transport *tr)
{
	struct fake_transport *t = (struct fake_transport *)tr;

	if (!t)
		return;
	if (t->connected)
		fake_roller_disconnect(fake_transport_env.roller);
	sd_event_source_disable_unref(t->pump);
	sd_event_source_disable_unref(t->reconnect);
	sd_event_unref(t->ev);
	free(t);
}

static int fake_create(struct transport **out, sd_event *ev, const struct transport_options *opt,
		       const struct transport_events *events, void *userdata)
{
	struct fake_transport *t;
	int r;

	(void)opt;
	if (!fake_transport_env.roller)
		return -ENODEV;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->ev = sd_event_ref(ev);
	t->events = *events;
	t->userdata = userdata;
	fake_transport_env.connects = 0;
	r = sd_event_add_defer(ev, &t->pump, on_pump, t);
	if (r >= 0)
		r = sd_event_source_set_enabled(t->pump, SD_EVENT_ONESHOT);
	if (r >= 0)
		r = sd_event_add_time(ev, &t->reconnect, CLOCK_MONOTONIC, 0, 1, on_reconnect, t);
	if (r >= 0)
		r = sd_event_source_set_enabled(t->reconnect, SD_EVENT_OFF);
	if (r < 0) {
		fake_destroy((struct transport *)t);
		return r;
	}
	*out = (struct transport *)t;
	return 0;
}

static int fake_write_control(struct transport *tr, const uint8_t *buf, size_t len)
{
	struct fake_transport *t = (struct fake_transport *)tr;

	if (!t->connected)
		return -ENOTCONN;
	if (len > PROTO_FRAME_MAX)
		return -EMSGSIZE;
	if (t->req_n == REQ_MAX)
		return -EBUSY;
	memcpy(t->req[t->req_n].buf, buf, len);
	t->req[t->req_n].len = (uint8_t)len;
	t->req_n++;
	sd_event_source_set_enabled(t->pump, SD_EVENT_ONESHOT);
	return 0;
}

static uint16_t fake_mtu(struct transport *tr)
{
	(void)tr;
	return fake_transport_env.mtu ? fake_transport_env.mtu : PROTO_MTU_MAX;
}

const struct transport_ops fake_transport_ops = {
	.name = "fake",
	.create = fake_create,
	.write_control = fake_write_control,
	.coach_cue = NULL,
	.mtu = fake_mtu,
	.destroy = fake_destroy,
};
