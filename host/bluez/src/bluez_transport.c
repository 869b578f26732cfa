/*
 * The `bluez` transport: a roller over BlueZ, on the caller's sd-event loop,
 * every D-Bus call asynchronous. One state machine:
 *
 *   SEARCH    the device object is not there (or must be seen again):
 *             discovery filtered by the service UUID, stopped and started
 *             again every scan_restart_ms (the emulator and some controllers
 *             miss advertisers, bluez-vm.md). A known object is used at once,
 *             before or while scanning (pitfall 16).
 *   CONNECT   Device1.Connect. Failures (le-connection-abort-by-local,
 *             "Software caused connection abort", in progress) -> BACKOFF,
 *             doubling up to backoff_max_ms; after connect_attempts failures
 *             the roller must be seen advertising again (SEARCH).
 *   RESOLVE   connected: wait until ServicesResolved AND the characteristic
 *             objects exist; ServicesResolved alone can come first after an
 *             aborted connection (pitfall 3). Characteristics are looked up
 *             by UUID on every connection (pitfall 6).
 *   INFO      read Info, deliver it as a frame on RLOG_CH_INFO.
 *   SUBSCRIBE StartNotify (default) or AcquireNotify (--acquire-notify,
 *             Measurement and Log only: bluetoothd offers it for notify, not
 *             indicate), with the match for PropertiesChanged installed
 *             before, so no early notification is lost (pitfall 5).
 *   UP        CONNECTED. Connected going false (there is no Disconnected
 *             signal, pitfall 4), the device or a characteristic object
 *             going away, or bluetoothd leaving the bus -> LINK_LOST, then
 *             SEARCH again: the object may be gone and need a rescan.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bluez_internal.h"
#include "roller/protocol.h"

static struct bluez_timing timing = {
	.scan_restart_ms = 4000,
	.backoff_first_ms = 500,
	.backoff_max_ms = 8000,
	.connect_attempts = 5,
	.resolve_ms = 10000,
	.give_up_ms = 60000,
	.call_timeout_ms = 30000,
};
static const struct bluez_timing default_timing = {
	.scan_restart_ms = 4000,
	.backoff_first_ms = 500,
	.backoff_max_ms = 8000,
	.connect_attempts = 5,
	.resolve_ms = 10000,
	.give_up_ms = 60000,
	.call_timeout_ms = 30000,
};

void bluez_get_timing(struct bluez_timing *out)
{
	*out = timing;
}

void bluez_set_timing(const struct bluez_timing *t)
{
	timing = t ? *t : default_timing;
}

#define MS 1000ull
#define DROP_SETTLE_MS 300u
/* Control requests waiting for the previous WriteValue to be answered. */
#define WRITE_QUEUE 8u

enum phase {
	PH_LOADING,
	PH_SEARCH,
	PH_CONNECT,
	PH_BACKOFF,
	PH_RESOLVE,
	PH_INFO,
	PH_SUBSCRIBE,
	PH_UP,
	PH_FAILED
};

enum { CH_MEASUREMENT, CH_EVENT, CH_CONTROL, CH_LOG, CH_INFO, CH_COUNT };

static const char *const ch_uuid[CH_COUNT] = {
	PROTO_UUID_MEASUREMENT, PROTO_UUID_EVENT, PROTO_UUID_CONTROL, PROTO_UUID_LOG,
	PROTO_UUID_INFO,
};
static const enum rlog_channel ch_rlog[CH_COUNT] = {
	RLOG_CH_MEASUREMENT, RLOG_CH_EVENT, RLOG_CH_CONTROL, RLOG_CH_LOG, RLOG_CH_INFO,
};

struct sub {
	struct transport *t;
	int ch;
	char *path;
	int fd;
	sd_event_source *fd_source;
	sd_bus_slot *slot;
	bool acquiring;
};

struct transport {
	sd_event *ev;
	sd_bus *bus;
	struct transport_events events;
	void *userdata;
	bool acquire_notify;
	char address[18];
	char *adapter_name;
	char *adapter_path;

	struct bz_model model;
	struct bz_agent agent;
	bool agent_started;
	bool ever_loaded;

	enum phase phase;
	char *device_path;
	struct sub sub[CH_COUNT];
	unsigned pending_subs;
	sd_bus_slot *connect_slot, *info_slot, *write_slot, *disc_slot;
	sd_event_source *timer, *scan_timer, *give_up_timer, *step_event;
	bool discovering;
	bool need_seen;
	unsigned seen_mark;
	unsigned attempts;
	bool ever_up;
	bool lost_reported;
	bool we_connected;
	bool saw_connected;         /* Connected=true seen since the Connect reply */
	uint16_t mtu;
	char last_error[200];

	struct {
		uint8_t buf[PROTO_FRAME_ABS_MAX];
		size_t len;
	} wq[WRITE_QUEUE];
	unsigned wq_head, wq_count;

	sd_event_source *exit_event;
	bool farewell_done;
	unsigned depth;
	bool dead;
};


static void transport_free(struct transport *t);
static void step(struct transport *t);

static const char *const phase_names[] = {
	"loading", "search", "connect", "backoff", "resolve", "info", "subscribe", "up", "failed",
};

/* ROLLER_BLUEZ_DEBUG=1: what the transport does and why, on stderr. */
static void debug(const struct transport *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void debug(const struct transport *t, const char *fmt, ...)
{
	static int enabled = -1;
	va_list ap;

	if (enabled < 0) {
		const char *e = getenv("ROLLER_BLUEZ_DEBUG");

		enabled = e && *e && strcmp(e, "0") != 0;
	}
	if (!enabled)
		return;
	fprintf(stderr, "bluez [%llu.%03llu] %s: ", (unsigned long long)(bz_now_us() / 1000000u),
		(unsigned long long)(bz_now_us() / 1000u % 1000u), phase_names[t->phase]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- callbacks to the user ------------------------------------------------------ */

/* Entry points from sd-bus/sd-event/model bracket their work with
 * enter()/leave() so that a destroy() from inside a user callback frees the
 * transport only once nothing of it is on the stack any more. */
static void enter(struct transport *t)
{
	t->depth++;
}

static void leave(struct transport *t)
{
	if (--t->depth == 0 && t->dead)
		transport_free(t);
}

static bool emit_state(struct transport *t, enum transport_state st, int err, const char *detail)
{
	if (t->dead)
		return false;
	if (t->events.state)
		t->events.state(t->userdata, st, err, detail);
	return !t->dead;
}

static bool emit_frame(struct transport *t, int ch, const uint8_t *buf, size_t len)
{
	if (t->dead)
		return false;
	if (t->events.frame)
		t->events.frame(t->userdata, ch_rlog[ch], buf, len, bz_now_us());
	return !t->dead;
}

/* ---- tearing down ------------------------------------------------------------------- */

static void subs_clear(struct transport *t)
{
	int i;

	for (i = 0; i < CH_COUNT; i++) {
		struct sub *s = &t->sub[i];

		s->slot = sd_bus_slot_unref(s->slot);
		s->fd_source = sd_event_source_disable_unref(s->fd_source);
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		free(s->path);
		s->path = NULL;
	}
	t->pending_subs = 0;
	t->info_slot = sd_bus_slot_unref(t->info_slot);
	t->write_slot = sd_bus_slot_unref(t->write_slot);
	/* Requests not yet written die with the link; the session asks again. */
	t->wq_head = t->wq_count = 0;
}

static void discovery_stop(struct transport *t)
{
	t->scan_timer = sd_event_source_disable_unref(t->scan_timer);
	t->disc_slot = sd_bus_slot_unref(t->disc_slot);
	if (t->discovering && t->adapter_path)
		sd_bus_call_method_async(t->bus, NULL, "org.bluez", t->adapter_path,
					 BZ_IFACE_ADAPTER, "StopDiscovery", NULL, NULL, "");
	t->discovering = false;
}

static void link_clear(struct transport *t)
{
	subs_clear(t);
	t->connect_slot = sd_bus_slot_unref(t->connect_slot);
	t->timer = sd_event_source_disable_unref(t->timer);
}

static void disconnect_device(struct transport *t)
{
	if (t->device_path)
		sd_bus_call_method_async(t->bus, NULL, "org.bluez", t->device_path,
					 BZ_IFACE_DEVICE, "Disconnect", NULL, NULL, "");
}

static void fail(struct transport *t, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct transport *t, int err, const char *fmt, ...)
{
	char detail[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	discovery_stop(t);
	link_clear(t);
	t->give_up_timer = sd_event_source_disable_unref(t->give_up_timer);
	debug(t, "failed: %s", detail);
	t->phase = PH_FAILED;
	emit_state(t, TRANSPORT_FAILED, err, detail);
}

/* ---- timers -------------------------------------------------------------------------- */

static int step_event(sd_event_source *s, void *userdata)
{
	struct transport *t = userdata;

	(void)s;
	enter(t);
	step(t);
	leave(t);
	return 0;
}

static void step_soon(struct transport *t)
{
	if (t->step_event)
		sd_event_source_set_enabled(t->step_event, SD_EVENT_ONESHOT);
}

static void timer_start(struct transport *t, uint64_t ms, sd_event_time_handler_t fn)
{
	t->timer = sd_event_source_disable_unref(t->timer);
	sd_event_add_time_relative(t->ev, &t->timer, CLOCK_MONOTONIC, ms * MS, MS, fn, t);
}

static int backoff_done(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct transport *t = userdata;

	(void)s, (void)usec;
	enter(t);
	t->timer = sd_event_source_disable_unref(t->timer);
	if (t->phase == PH_BACKOFF) {
		t->phase = PH_SEARCH;
		step(t);
	}
	leave(t);
	return 0;
}

/* A connection attempt failed: wait, then try again; after
 * connect_attempts failures insist on seeing the roller advertise first. */
static void backoff(struct transport *t)
{
	struct bz_device *d = t->device_path ? bz_model_device_by_path(&t->model, t->device_path)
					     : NULL;
	uint64_t delay;
	unsigned shift;

	link_clear(t);
	if (t->attempts >= timing.connect_attempts) {
		debug(t, "%u failed attempts (%s): waiting to see the roller advertise",
		      t->attempts, t->last_error);
		t->attempts = 0;
		t->need_seen = true;
		t->seen_mark = d ? d->seen : 0;
		t->phase = PH_SEARCH;
		step_soon(t);
		return;
	}
	shift = t->attempts ? t->attempts - 1 : 0;
	delay = shift > 16 ? timing.backoff_max_ms : (uint64_t)timing.backoff_first_ms << shift;
	if (delay > timing.backoff_max_ms)
		delay = timing.backoff_max_ms;
	t->phase = PH_BACKOFF;
	debug(t, "attempt %u failed (%s): retrying in %llu ms", t->attempts, t->last_error,
	      (unsigned long long)delay);
	timer_start(t, delay, backoff_done);
}

static int give_up(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct transport *t = userdata;

	(void)s, (void)usec;
	enter(t);
	t->give_up_timer = sd_event_source_disable_unref(t->give_up_timer);
	if (!t->ever_up && t->phase != PH_FAILED && t->phase != PH_UP) {
		if (t->last_error[0])
			fail(t, -ETIMEDOUT, "could not connect to %s within %u s (%s); is the roller "
			     "switched on, close by and not connected to another computer?",
			     t->address, timing.give_up_ms / 1000u, t->last_error);
		else
			fail(t, -ETIMEDOUT, "roller %s not found within %u s; is it switched on and "
			     "close by?", t->address, timing.give_up_ms / 1000u);
	}
	leave(t);
	return 0;
}

/* ---- discovery ------------------------------------------------------------------------ */

static int discovery_started(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct transport *t = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);

	(void)error;
	enter(t);
	t->disc_slot = sd_bus_slot_unref(t->disc_slot);
	if (e && bz_error_errno(e) != -EINPROGRESS) {
		snprintf(t->last_error, sizeof(t->last_error), "discovery: %s", bz_error_text(e));
		if (bz_error_errno(e) == -ENETDOWN)
			fail(t, -ENETDOWN, "cannot scan on %s: %s; %s", t->adapter_name,
			     bz_error_text(e), bz_error_hint(e));
	}
	leave(t);
	return 0;
}

/* The answer to SetDiscoveryFilter or StopDiscovery: (re)start scanning.
 * Either's error is ignored: a refused filter still leaves an unfiltered
 * scan, and a refused stop a scan that StartDiscovery joins. */
static int discovery_restarted(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct transport *t = userdata;

	(void)m, (void)error;
	enter(t);
	t->disc_slot = sd_bus_slot_unref(t->disc_slot);
	if (t->discovering)
		sd_bus_call_method_async(t->bus, &t->disc_slot, "org.bluez", t->adapter_path,
					 BZ_IFACE_ADAPTER, "StartDiscovery", discovery_started, t, "");
	leave(t);
	return 0;
}

static int scan_restart(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct transport *t = userdata;

	(void)usec;
	enter(t);
	if (t->discovering && !t->disc_slot) {
		/* Not seen yet: stop and start again (scan race in BlueZ's
		 * emulator and some controllers). */
		debug(t, "not seen: restarting discovery");
		sd_bus_call_method_async(t->bus, &t->disc_slot, "org.bluez", t->adapter_path,
					 BZ_IFACE_ADAPTER, "StopDiscovery", discovery_restarted, t, "");
	}
	sd_event_source_set_time_relative(s, timing.scan_restart_ms * MS);
	sd_event_source_set_enabled(s, SD_EVENT_ON);
	leave(t);
	return 0;
}

static void discovery_start(struct transport *t)
{
	sd_bus_message *m = NULL;
	const char *uuids[] = { PROTO_UUID_SERVICE, NULL };

	if (t->discovering)
		return;
	debug(t, "discovery on %s", t->adapter_name);
	t->discovering = true;
	if (sd_bus_message_new_method_call(t->bus, &m, "org.bluez", t->adapter_path,
					   BZ_IFACE_ADAPTER, "SetDiscoveryFilter") >= 0 &&
	    sd_bus_message_open_container(m, 'a', "{sv}") >= 0 &&
	    sd_bus_message_open_container(m, 'e', "sv") >= 0 &&
	    sd_bus_message_append(m, "s", "UUIDs") >= 0 &&
	    sd_bus_message_open_container(m, 'v', "as") >= 0 &&
	    sd_bus_message_append_strv(m, (char **)uuids) >= 0 &&
	    sd_bus_message_close_container(m) >= 0 && sd_bus_message_close_container(m) >= 0 &&
	    sd_bus_message_append(m, "{sv}", "Transport", "s", "le") >= 0 &&
	    sd_bus_message_close_container(m) >= 0)
		sd_bus_call_async(t->bus, &t->disc_slot, m, discovery_restarted, t, 0);
	sd_bus_message_unref(m);
	t->scan_timer = sd_event_source_disable_unref(t->scan_timer);
	sd_event_add_time_relative(t->ev, &t->scan_timer, CLOCK_MONOTONIC,
				   timing.scan_restart_ms * MS, MS, scan_restart, t);
}

/* ---- the connection ----------------------------------------------------------------- */

static bool service_complete(struct transport *t, const char *device_path)
{
	static const int required[] = { CH_MEASUREMENT, CH_EVENT, CH_CONTROL, CH_INFO };
	size_t i;

	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!bz_model_chr(&t->model, device_path, PROTO_UUID_SERVICE, ch_uuid[required[i]]))
			return false;
	return true;
}

static void link_lost(struct transport *t, const char *why)
{
	bool report = t->phase == PH_UP;

	debug(t, "link lost: %s", why);
	link_clear(t);
	t->phase = PH_BACKOFF;
	t->attempts = 0;
	t->need_seen = false;
	/* Give bluetoothd a moment to finish the disconnection. */
	timer_start(t, DROP_SETTLE_MS, backoff_done);
	if (report) {
		char detail[256];

		t->lost_reported = true;
		snprintf(detail, sizeof(detail), "connection to %s lost (%s); reconnecting",
			 t->address, why);
		emit_state(t, TRANSPORT_LINK_LOST, -ECONNRESET, detail);
	}
}

static bool key_problem(int err)
{
	return err == -EPERM || err == -EKEYREJECTED || err == -EACCES;
}

static void keys_refused(struct transport *t, const sd_bus_error *e)
{
	disconnect_device(t);
	fail(t, -EACCES, "%s refused this computer's keys (%s): it may have been reset or paired "
	     "with another computer; run 'roller forget %s' then 'roller pair %s'", t->address,
	     bz_error_text(e), t->address, t->address);
}

static void up(struct transport *t)
{
	t->phase = PH_UP;
	t->attempts = 0;
	t->need_seen = false;
	t->ever_up = true;
	t->lost_reported = false;
	t->last_error[0] = '\0';
	t->give_up_timer = sd_event_source_disable_unref(t->give_up_timer);
	debug(t, "connected, MTU %u", t->mtu);
	emit_state(t, TRANSPORT_CONNECTED, 0, NULL);
}

static int fd_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct sub *sub = userdata;
	struct transport *t = sub->t;
	uint8_t buf[PROTO_FRAME_ABS_MAX + 16];

	(void)s;
	enter(t);
	if (revents & EPOLLIN) {
		for (;;) {
			ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

			if (n <= 0)
				break;
			if (!emit_frame(t, sub->ch, buf, (size_t)n))
				goto out;
		}
	}
	if (revents & (EPOLLHUP | EPOLLERR)) {
		/* bluetoothd closes it when the link goes; Connected=false
		 * follows. */
		sub->fd_source = sd_event_source_disable_unref(sub->fd_source);
		close(sub->fd);
		sub->fd = -1;
		step_soon(t);
	}
out:
	leave(t);
	return 0;
}

static void subscribed(struct transport *t)
{
	if (t->pending_subs == 0 && t->phase == PH_SUBSCRIBE)
		up(t);
}

static int sub_reply(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct sub *sub = userdata;
	struct transport *t = sub->t;
	const sd_bus_error *e = sd_bus_message_get_error(m);

	(void)error;
	enter(t);
	sub->slot = sd_bus_slot_unref(sub->slot);
	if (t->phase != PH_SUBSCRIBE)
		goto out;
	if (e) {
		int err = bz_error_errno(e);

		if (key_problem(err)) {
			keys_refused(t, e);
			goto out;
		}
		if (sub->ch == CH_LOG) {
			/* Without the log the session still works (no sync). */
			t->pending_subs--;
			subscribed(t);
			goto out;
		}
		snprintf(t->last_error, sizeof(t->last_error), "subscribing: %s", bz_error_text(e));
		debug(t, "%s on %s", t->last_error, sub->path);
		disconnect_device(t);
		backoff(t);
		goto out;
	}
	if (sub->acquiring) {
		int fd;
		uint16_t mtu;

		if (sd_bus_message_read(m, "hq", &fd, &mtu) >= 0) {
			/* The fd belongs to the message: keep a copy. */
			sub->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
			if (mtu > t->mtu)
				t->mtu = mtu;
			if (sub->fd >= 0)
				sd_event_add_io(t->ev, &sub->fd_source, sub->fd, EPOLLIN, fd_ready, sub);
		}
	}
	t->pending_subs--;
	subscribed(t);
out:
	leave(t);
	return 0;
}

static void subscribe(struct transport *t)
{
	int ch;

	t->phase = PH_SUBSCRIBE;
	debug(t, "subscribing (%s)", t->acquire_notify ? "AcquireNotify" : "StartNotify");
	t->pending_subs = 0;
	for (ch = CH_MEASUREMENT; ch <= CH_LOG; ch++) {
		struct bz_chr *c = bz_model_chr(&t->model, t->device_path, PROTO_UUID_SERVICE,
						ch_uuid[ch]);
		struct sub *s = &t->sub[ch];
		int r;

		if (!c)
			continue;
		free(s->path);
		s->path = strdup(c->path);
		s->acquiring = t->acquire_notify && c->can_acquire &&
			       (ch == CH_MEASUREMENT || ch == CH_LOG);
		if (s->acquiring)
			r = sd_bus_call_method_async(t->bus, &s->slot, "org.bluez", c->path, BZ_IFACE_CHR,
						     "AcquireNotify", sub_reply, s, "a{sv}", 0);
		else
			r = sd_bus_call_method_async(t->bus, &s->slot, "org.bluez", c->path, BZ_IFACE_CHR,
						     "StartNotify", sub_reply, s, "");
		if (r >= 0)
			t->pending_subs++;
	}
	subscribed(t);
}

static int info_read(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct transport *t = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);
	const void *v;
	size_t len;

	(void)error;
	enter(t);
	t->info_slot = sd_bus_slot_unref(t->info_slot);
	if (t->phase != PH_INFO)
		goto out;
	if (e) {
		if (key_problem(bz_error_errno(e))) {
			keys_refused(t, e);
			goto out;
		}
		snprintf(t->last_error, sizeof(t->last_error), "reading Info: %s", bz_error_text(e));
		debug(t, "%s", t->last_error);
		disconnect_device(t);
		backoff(t);
		goto out;
	}
	if (sd_bus_message_read_array(m, 'y', &v, &len) < 0) {
		disconnect_device(t);
		backoff(t);
		goto out;
	}
	if (!emit_frame(t, CH_INFO, v, len))
		goto out;
	subscribe(t);
out:
	leave(t);
	return 0;
}

static void read_info(struct transport *t)
{
	struct bz_chr *info = bz_model_chr(&t->model, t->device_path, PROTO_UUID_SERVICE,
					   ch_uuid[CH_INFO]);
	struct bz_chr *meas = bz_model_chr(&t->model, t->device_path, PROTO_UUID_SERVICE,
					   ch_uuid[CH_MEASUREMENT]);
	sd_bus_message *m = NULL;
	int r;

	t->timer = sd_event_source_disable_unref(t->timer);
	t->phase = PH_INFO;
	debug(t, "reading Info at %s", info->path);
	t->mtu = meas && meas->mtu >= PROTO_MTU_MIN ? meas->mtu : PROTO_MTU_MIN;
	free(t->sub[CH_INFO].path);
	t->sub[CH_INFO].path = strdup(info->path);
	r = sd_bus_message_new_method_call(t->bus, &m, "org.bluez", info->path, BZ_IFACE_CHR,
					   "ReadValue");
	if (r >= 0)
		r = sd_bus_message_append(m, "a{sv}", 0);
	if (r >= 0)
		r = sd_bus_call_async(t->bus, &t->info_slot, m, info_read, t,
				      timing.call_timeout_ms * MS);
	sd_bus_message_unref(m);
	if (r < 0)
		backoff(t);
}

static int resolve_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct transport *t = userdata;

	(void)s, (void)usec;
	enter(t);
	t->timer = sd_event_source_disable_unref(t->timer);
	if (t->phase == PH_RESOLVE) {
		snprintf(t->last_error, sizeof(t->last_error),
			 "connected, but the roller's GATT service did not appear");
		disconnect_device(t);
		backoff(t);
	}
	leave(t);
	return 0;
}

static void resolve_step(struct transport *t)
{
	struct bz_device *d = bz_model_device_by_path(&t->model, t->device_path);

	if (!d) {
		link_clear(t);
		t->phase = PH_SEARCH;
		step_soon(t);
		return;
	}
	/* bluetoothd emits property changes from an idle callback, after the
	 * Connect reply: Connected may still read false here. Only a fall from
	 * true is a failed attempt; else the resolve timeout decides. */
	if (d->connected) {
		t->saw_connected = true;
	} else {
		if (t->saw_connected) {
			snprintf(t->last_error, sizeof(t->last_error),
				 "disconnected while resolving services");
			backoff(t);
		} else {
			debug(t, "waiting: Connected not yet true");
		}
		return;
	}
	/* Both: ServicesResolved can come before the objects (pitfall 3). */
	if (d->resolved && service_complete(t, d->path))
		read_info(t);
	else
		debug(t, "waiting: ServicesResolved=%d, service %s", d->resolved,
		      service_complete(t, d->path) ? "complete" : "incomplete");
}

static int connect_reply(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct transport *t = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);
	int err = e ? bz_error_errno(e) : 0;

	(void)error;
	enter(t);
	t->connect_slot = sd_bus_slot_unref(t->connect_slot);
	if (t->phase != PH_CONNECT)
		goto out;
	if (!e || err == -EISCONN) {
		t->we_connected = true;
		t->saw_connected = false;
		t->phase = PH_RESOLVE;
		/* Read Connected/ServicesResolved afresh: the signals may come
		 * late or, in BlueZ 5.66, not at all. */
		bz_model_refresh_device(&t->model, t->device_path);
		timer_start(t, timing.resolve_ms, resolve_timeout);
		resolve_step(t);
		goto out;
	}
	snprintf(t->last_error, sizeof(t->last_error), "%s", bz_error_text(e));
	debug(t, "Connect: %s", t->last_error);
	if (err == -ENOENT) {
		t->phase = PH_SEARCH;
		step_soon(t);
	} else if (err == -EACCES && !strcmp(e->name, SD_BUS_ERROR_ACCESS_DENIED)) {
		fail(t, -EACCES, "cannot connect to %s: %s; %s", t->address, bz_error_text(e),
		     bz_error_hint(e));
	} else if (err == -EKEYREJECTED) {
		keys_refused(t, e);
	} else {
		backoff(t);
	}
out:
	leave(t);
	return 0;
}

static void connect_device(struct transport *t, struct bz_device *d)
{
	sd_bus_message *m = NULL;
	int r;

	free(t->device_path);
	t->device_path = strdup(d->path);
	t->phase = PH_CONNECT;
	t->attempts++;
	debug(t, "Connect %s (attempt %u)", d->path, t->attempts);
	r = sd_bus_message_new_method_call(t->bus, &m, "org.bluez", d->path, BZ_IFACE_DEVICE,
					   "Connect");
	if (r >= 0)
		r = sd_bus_call_async(t->bus, &t->connect_slot, m, connect_reply, t,
				      timing.call_timeout_ms * MS);
	sd_bus_message_unref(m);
	if (r < 0) {
		snprintf(t->last_error, sizeof(t->last_error), "Connect: %s", strerror(-r));
		backoff(t);
	}
}

static void search_step(struct transport *t)
{
	struct bz_device *d = bz_model_device(&t->model, t->adapter_path, t->address);

	if (!d) {
		discovery_start(t);
		return;
	}
	if (!d->paired) {
		/* Never let BlueZ pair implicitly (pitfall 14): say so. */
		fail(t, -EPERM, "%s is not paired with this computer: run 'roller pair %s' first",
		     t->address, t->address);
		return;
	}
	if (t->need_seen && d->seen == t->seen_mark && !d->connected) {
		discovery_start(t);
		return;
	}
	t->need_seen = false;
	discovery_stop(t);
	connect_device(t, d);
}

/* Is the link we use still there? */
static void check_link(struct transport *t)
{
	struct bz_device *d = bz_model_device_by_path(&t->model, t->device_path);
	int ch;

	if (!d) {
		link_lost(t, "the device object was removed");
		return;
	}
	if (!d->connected) {
		link_lost(t, "disconnected");
		return;
	}
	for (ch = 0; ch < CH_COUNT; ch++) {
		struct bz_chr *c;

		if (!t->sub[ch].path)
			continue;
		for (c = t->model.chrs; c && strcmp(c->path, t->sub[ch].path); c = c->next)
			;
		if (!c) {
			link_lost(t, "the roller's services went away");
			return;
		}
	}
}

static void step(struct transport *t)
{
	if (t->dead || !t->model.loaded)
		return;
	switch (t->phase) {
	case PH_SEARCH:
		search_step(t);
		break;
	case PH_RESOLVE:
		resolve_step(t);
		break;
	case PH_CONNECT:
	case PH_BACKOFF:
		if (t->device_path && !bz_model_device_by_path(&t->model, t->device_path)) {
			link_clear(t);
			t->phase = PH_SEARCH;
			search_step(t);
		}
		break;
	case PH_INFO:
	case PH_SUBSCRIBE:
	case PH_UP:
		check_link(t);
		break;
	case PH_LOADING:
	case PH_FAILED:
		break;
	}
}

/* ---- model callbacks ------------------------------------------------------------------- */

static void on_loaded(void *userdata, int err, const sd_bus_error *e)
{
	struct transport *t = userdata;
	struct bz_adapter *a;

	enter(t);
	if (err) {
		if (t->ever_loaded)
			goto out; /* bluetoothd went away again; wait for it */
		if (err == -EHOSTDOWN)
			fail(t, -EHOSTDOWN, "bluetoothd is not running: start it with "
			     "'sudo systemctl start bluetooth'");
		else if (err == -EACCES)
			fail(t, -EACCES, "permission denied talking to bluetoothd (%s); %s",
			     bz_error_text(e), bz_error_hint(e));
		else
			fail(t, err, "cannot read bluetoothd's objects: %s",
			     e ? bz_error_text(e) : strerror(-err));
		goto out;
	}
	if (!t->address[0]) {
		fail(t, -ENOENT, "no roller given and no default roller: pair one with "
		     "'roller pair <addr>' (see 'roller scan')");
		goto out;
	}
	a = bz_model_adapter(&t->model, t->adapter_name);
	if (!a) {
		if (t->adapter_name)
			fail(t, -ENODEV, "no Bluetooth adapter %s (see: bluetoothctl list)",
			     t->adapter_name);
		else
			fail(t, -ENODEV, "no Bluetooth adapter found; is one plugged in and not "
			     "blocked? (rfkill list; bluetoothctl list)");
		goto out;
	}
	if (!a->powered) {
		fail(t, -ENETDOWN, "Bluetooth adapter %s is powered off: turn it on with "
		     "'bluetoothctl power on'", a->name);
		goto out;
	}
	free(t->adapter_path);
	t->adapter_path = strdup(a->path);
	if (!t->adapter_name)
		t->adapter_name = strdup(a->name);
	if (t->agent_started)
		bz_agent_stop(&t->agent);
	/* Our agent stays registered while we connect (pitfall 14). */
	t->agent_started = bz_agent_start(&t->agent, t->bus, t->ev, "NoInputNoOutput", false,
					  false) >= 0;
	t->phase = PH_SEARCH;
	t->discovering = false;
	if (!t->ever_loaded) {
		t->ever_loaded = true;
		if (!emit_state(t, TRANSPORT_CONNECTING, 0, NULL))
			goto out;
	}
	step(t);
out:
	leave(t);
}

static void on_gone(void *userdata)
{
	struct transport *t = userdata;

	enter(t);
	t->scan_timer = sd_event_source_disable_unref(t->scan_timer);
	t->discovering = false;
	if (t->phase != PH_FAILED) {
		bool report = t->phase == PH_UP;

		link_clear(t);
		t->phase = PH_LOADING;
		if (report)
			emit_state(t, TRANSPORT_LINK_LOST, -ECONNRESET,
				   "bluetoothd stopped; waiting for it to come back");
	}
	leave(t);
}

static void on_changed(void *userdata, enum bz_change what, const char *path)
{
	struct transport *t = userdata;

	(void)what, (void)path;
	step_soon(t);
}

static void on_value(void *userdata, const char *path, const uint8_t *buf, size_t len)
{
	struct transport *t = userdata;
	int ch;

	if (t->phase != PH_SUBSCRIBE && t->phase != PH_UP)
		return;
	for (ch = CH_MEASUREMENT; ch <= CH_LOG; ch++)
		if (t->sub[ch].path && !strcmp(t->sub[ch].path, path))
			break;
	if (ch > CH_LOG)
		return;
	enter(t);
	emit_frame(t, ch, buf, len);
	leave(t);
}

/* ---- ops ---------------------------------------------------------------------------------- */

static int loop_exit(sd_event_source *s, void *userdata);

static int bluez_create(struct transport **out, sd_event *ev, const struct transport_options *opt,
			const struct transport_events *events, void *userdata)
{
	static const struct bz_model_callbacks cb = {
		.loaded = on_loaded,
		.gone = on_gone,
		.changed = on_changed,
		.value = on_value,
	};
	struct transport *t;
	char def[64];
	int r, i;

	if (!out || !ev || !events)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (i = 0; i < CH_COUNT; i++) {
		t->sub[i].t = t;
		t->sub[i].ch = i;
		t->sub[i].fd = -1;
	}
	t->events = *events;
	t->userdata = userdata;
	t->acquire_notify = opt && opt->acquire_notify;
	t->mtu = PROTO_MTU_MIN;
	if (opt && opt->address) {
		if (bluez_parse_address(opt->address, t->address) < 0) {
			free(t);
			return -EINVAL;
		}
	} else if (bluez_config_get_default(def, sizeof(def)) == 0 &&
		   bluez_parse_address(def, t->address) == 0) {
		/* the default roller */
	} else {
		t->address[0] = '\0'; /* reported from the loop (FAILED -ENOENT) */
	}
	if (opt && opt->adapter && !(t->adapter_name = strdup(opt->adapter))) {
		free(t);
		return -ENOMEM;
	}
	t->ev = sd_event_ref(ev);
	r = sd_bus_open_system(&t->bus);
	if (r < 0)
		goto err;
	r = sd_bus_attach_event(t->bus, ev, SD_EVENT_PRIORITY_NORMAL);
	if (r < 0)
		goto err;
	r = sd_event_add_defer(ev, &t->step_event, step_event, t);
	if (r < 0)
		goto err;
	sd_event_source_set_enabled(t->step_event, SD_EVENT_OFF);
	/* Before sd-bus's own exit handler (priority NORMAL) closes the bus. */
	r = sd_event_add_exit(ev, &t->exit_event, loop_exit, t);
	if (r < 0)
		goto err;
	sd_event_source_set_priority(t->exit_event, SD_EVENT_PRIORITY_IMPORTANT);
	r = bz_model_start(&t->model, t->bus, &cb, t);
	if (r < 0)
		goto err;
	r = sd_event_add_time_relative(ev, &t->give_up_timer, CLOCK_MONOTONIC,
				       timing.give_up_ms * MS, MS, give_up, t);
	if (r < 0)
		goto err;
	*out = t;
	return 0;
err:
	transport_free(t);
	return r;
}

static int write_done(sd_bus_message *m, void *userdata, sd_bus_error *error);

static int write_now(struct transport *t, const uint8_t *buf, size_t len)
{
	sd_bus_message *m = NULL;
	int r;

	r = sd_bus_message_new_method_call(t->bus, &m, "org.bluez", t->sub[CH_CONTROL].path,
					   BZ_IFACE_CHR, "WriteValue");
	if (r >= 0)
		r = sd_bus_message_append_array(m, 'y', buf, len);
	if (r >= 0)
		r = sd_bus_message_append(m, "a{sv}", 1, "type", "s", "request");
	if (r >= 0)
		r = sd_bus_call_async(t->bus, &t->write_slot, m, write_done, t,
				      timing.call_timeout_ms * MS);
	sd_bus_message_unref(m);
	return r;
}

static int write_done(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct transport *t = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);

	(void)error;
	enter(t);
	t->write_slot = sd_bus_slot_unref(t->write_slot);
	if (t->phase == PH_UP && t->wq_count) {
		unsigned i = t->wq_head;

		t->wq_head = (t->wq_head + 1) % WRITE_QUEUE;
		t->wq_count--;
		if (write_now(t, t->wq[i].buf, t->wq[i].len) < 0)
			debug(t, "a queued control request could not be sent");
	}
	if (e && t->phase == PH_UP) {
		char detail[256];

		snprintf(detail, sizeof(detail), "control request not delivered: %s",
			 bz_error_text(e));
		emit_state(t, TRANSPORT_CONNECTED, bz_error_errno(e), detail);
	}
	leave(t);
	return 0;
}

static int bluez_write_control(struct transport *t, const uint8_t *buf, size_t len)
{
	if (!t || !buf)
		return -EINVAL;
	if (t->phase != PH_UP || !t->sub[CH_CONTROL].path)
		return -ENOTCONN;
	if (len + PROTO_ATT_OVERHEAD > t->mtu || len > sizeof(t->wq[0].buf))
		return -EMSGSIZE;
	/* bluetoothd answers a WriteValue after the write response, which can
	 * come after the roller's indication: queue rather than refuse. */
	if (t->write_slot) {
		unsigned i;

		if (t->wq_count == WRITE_QUEUE)
			return -EBUSY;
		i = (t->wq_head + t->wq_count) % WRITE_QUEUE;
		memcpy(t->wq[i].buf, buf, len);
		t->wq[i].len = len;
		t->wq_count++;
		return 0;
	}
	return write_now(t, buf, len) < 0 ? -EIO : 0;
}

static uint16_t bluez_mtu(struct transport *t)
{
	return t && t->mtu >= PROTO_MTU_MIN ? t->mtu : PROTO_MTU_MIN;
}

/* Stops everything and releases the roller while the bus is still open:
 * from destroy(), or when the event loop ends (sd-bus closes an attached
 * bus in its own exit handler, after which nothing could be sent). */
static void farewell(struct transport *t)
{
	if (t->farewell_done || !t->bus)
		return;
	t->farewell_done = true;
	discovery_stop(t);
	link_clear(t);
	if (t->we_connected && t->device_path) {
		struct bz_device *d = bz_model_device_by_path(&t->model, t->device_path);

		if (d && d->connected)
			disconnect_device(t);
	}
	if (t->agent_started)
		bz_agent_stop(&t->agent);
	t->agent_started = false;
	bz_bus_sync(t->bus);
}

static int loop_exit(sd_event_source *s, void *userdata)
{
	(void)s;
	farewell(userdata);
	return 0;
}

static void transport_free(struct transport *t)
{
	farewell(t);
	if (t->bus)
		bz_model_free(&t->model);
	t->give_up_timer = sd_event_source_disable_unref(t->give_up_timer);
	t->step_event = sd_event_source_disable_unref(t->step_event);
	t->exit_event = sd_event_source_disable_unref(t->exit_event);
	t->timer = sd_event_source_disable_unref(t->timer);
	if (t->bus) {
		sd_bus_detach_event(t->bus);
		sd_bus_flush_close_unref(t->bus);
	}
	sd_event_unref(t->ev);
	free(t->device_path);
	free(t->adapter_path);
	free(t->adapter_name);
	free(t);
}

static void bluez_destroy(struct transport *t)
{
	if (!t)
		return;
	if (t->depth) {
		/* Inside one of our callbacks: free when it unwinds. */
		t->dead = true;
		return;
	}
	transport_free(t);
}

const struct transport_ops bluez_transport_ops = {
	.name = "bluez",
	.create = bluez_create,
	.write_control = bluez_write_control,
	.coach_cue = NULL,
	.mtu = bluez_mtu,
	.destroy = bluez_destroy,
};

extern const struct transport_ops transport_bluez_ops __attribute__((alias("bluez_transport_ops")));
