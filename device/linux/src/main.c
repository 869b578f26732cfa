/*
 * roller-periph: the roller on any Linux machine with BlueZ. Runs the
 * firmware core (device/core) with a simulated person or a recorded trace
 * and serves it over a BlueZ adapter as a GATT peripheral. Usage and
 * behaviour: device/linux/README.md.
 *
 * Start-up: GetNameOwner(org.bluez) -> GetManagedObjects (our adapter, its
 * devices) -> the core starts -> RegisterAgent + RequestDefaultAgent ->
 * RegisterApplication -> RegisterAdvertisement. If bluetoothd restarts, the
 * registration is done again. SIGINT/SIGTERM unregister everything, then exit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "periph.h"

#define SHUTDOWN_TIMEOUT_US (3 * 1000000ull)
#define BATTERY_PERIOD_US (10 * 1000000ull)
#define MAX_CATCH_UP 4096u

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void periph_log(const struct periph *p, int level, const char *fmt, ...)
{
	va_list ap;

	if (level > p->opt.verbose)
		return;
	if (p->opt.verbose > 0) {
		uint64_t t = mono_us() - p->start_us;

		fprintf(stderr, "roller-periph [%4llu.%03llu] ", (unsigned long long)(t / 1000000u),
			(unsigned long long)(t / 1000u % 1000u));
	} else {
		fputs("roller-periph: ", stderr);
	}
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void periph_fatal(struct periph *p, const char *fmt, ...)
{
	va_list ap;

	fputs("roller-periph: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	p->exit_code = 1;
	sd_event_exit(p->ev, 1);
}

/* ---- measurement aids: --flood, --prerecord ------------------------------------ */

/*
 * --flood BYTES: once a central listens on Log, send it BYTES of LOG_CHUNK
 * frames, each as large as the MTU allows, as fast as the link takes them
 * (the same gatt_notify() path and back-pressure as a real log transfer).
 * The tests compare a sync's throughput with this ceiling.
 */
static void flood_pump(struct periph *p)
{
	static uint8_t data[PROTO_CHUNK_DATA_MAX];
	uint8_t frame[PROTO_FRAME_ABS_MAX];

	while (p->flood_left > 0) {
		struct proto_log_chunk chunk = { 0 };
		size_t cap = proto_log_chunk_capacity(p->mtu), len;
		int r;

		if (cap > p->flood_left)
			cap = p->flood_left;
		if (cap == 0)
			return;
		for (size_t i = 0; i < cap; i++)
			data[i] = (uint8_t)(p->flood_sent + i);
		chunk.record = p->flood_record;
		chunk.len = (uint8_t)cap;
		chunk.data = data;
		chunk.flags = cap == p->flood_left ? PROTO_CHUNK_LAST_IN_RECORD | PROTO_CHUNK_END : 0;
		if (proto_log_chunk_encode(&chunk, frame, sizeof(frame), &len) < 0)
			return;
		r = gatt_notify(p, CORE_CHAR_LOG, frame, len);
		if (r < 0)
			return; /* -ENOTCONN: nobody listens yet; -EAGAIN: retried */
		if (p->flood_sent == 0)
			p->flood_t0_us = mono_us();
		p->flood_sent += cap;
		p->flood_left -= (uint32_t)cap;
		p->flood_record++;
		if (p->flood_left == 0)
			periph_log(p, 0, "flood: %" PRIu64 " bytes of Log chunks handed to BlueZ in %.3f s",
				   p->flood_sent, (double)(mono_us() - p->flood_t0_us) / 1e6);
	}
}

/*
 * --prerecord: before serving, play the simulated person's whole plan (or
 * the trace) as fast as the CPU goes with no host connected, and then the
 * empty roller until the automatic session ends: the log then holds one
 * complete session recorded on the roller's own.
 */
#define PRERECORD_MAX_S (4u * 3600u)

static int prerecord(struct periph *p)
{
	uint64_t limit = (uint64_t)PRERECORD_MAX_S * 1000000u / p->board.period_us, n;
	uint32_t first, end;
	uint16_t sessions;
	bool recorded = false;

	for (n = 0; n < limit; n++) {
		board_step(p);
		core_poll(&p->core, p->board.now_ms);
		if (core_session_active(&p->core, NULL))
			recorded = true;
		else if (recorded && board_source_done(p))
			break;
	}
	if (n == limit || core_log_info(&p->core, &first, &end, &sessions) < 0) {
		periph_log(p, 0, "--prerecord: no complete session after %u s of device time",
			   PRERECORD_MAX_S);
		return -ETIME;
	}
	p->sample_base = p->board.samples;
	periph_log(p, 0, "prerecorded %.1f s of device time: the log holds records %" PRIu32
		   "..%" PRIu32 " (%u session%s)", (double)p->board.now_ms / 1000.0, first, end,
		   sessions, sessions == 1 ? "" : "s");
	return 0;
}

/* ---- the core's clock: samples ------------------------------------------------ */

static int poll_now(sd_event_source *s, void *userdata)
{
	struct periph *p = userdata;

	(void)s;
	core_poll(&p->core, p->board.now_ms);
	flood_pump(p);
	return 0;
}

void periph_poll_soon(struct periph *p)
{
	if (p->poll_event)
		sd_event_source_set_enabled(p->poll_event, SD_EVENT_ONESHOT);
}

static uint64_t sample_due_us(const struct periph *p, uint64_t sample)
{
	return p->start_us + (uint64_t)llround((double)(sample - p->sample_base) *
					       p->board.period_us / p->opt.speed);
}

static int sample_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct periph *p = userdata;
	uint64_t now = mono_us();
	unsigned n = 0;

	(void)usec;
	while (sample_due_us(p, p->board.samples) <= now && n < MAX_CATCH_UP) {
		uint32_t index = core_next_sample(&p->core);

		board_step(p);
		if (p->timestamps)
			fprintf(p->timestamps, "%" PRIu32 " %" PRIu64 "\n", index, now);
		n++;
	}
	if (n == MAX_CATCH_UP) {
		/* Too slow for this --speed: drop the backlog rather than spin. */
		uint64_t behind = (uint64_t)((double)(now - p->start_us) * p->opt.speed /
					     p->board.period_us);

		periph_log(p, 0, "cannot keep up with --speed %g: skipping %llu samples",
			   p->opt.speed,
			   (unsigned long long)(behind - (p->board.samples - p->sample_base)));
		p->start_us = now - (uint64_t)llround((double)(p->board.samples - p->sample_base) *
						      p->board.period_us / p->opt.speed);
	}
	core_poll(&p->core, p->board.now_ms);
	flood_pump(p);
	sd_event_source_set_time(s, sample_due_us(p, p->board.samples));
	sd_event_source_set_enabled(s, SD_EVENT_ON);
	return 0;
}

static int battery_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct periph *p = userdata;
	uint16_t mv;
	uint8_t percent;

	(void)usec;
	if (core_battery(&p->core, &mv, &percent) == 0)
		gatt_battery_changed(p, percent);
	sd_event_source_set_time_relative(s, BATTERY_PERIOD_US);
	sd_event_source_set_enabled(s, SD_EVENT_ON);
	return 0;
}

static int core_start(struct periph *p)
{
	uint16_t mv;
	uint8_t percent = 100;
	int r;

	r = board_init(p);
	if (r == 0 && p->opt.prerecord && !p->active_once)
		r = prerecord(p);
	if (r)
		return r;
	p->flood_left = p->opt.flood_bytes;
	if (core_battery(&p->core, &mv, &percent) == 0)
		p->battery_percent = percent;
	r = gatt_export(p);
	if (r >= 0)
		r = advert_export(p);
	if (r >= 0)
		r = agent_export(p);
	if (r < 0) {
		periph_log(p, 0, "cannot export the D-Bus objects: %s", strerror(-r));
		return r;
	}
	gatt_battery_changed(p, percent);
	r = sd_event_add_defer(p->ev, &p->poll_event, poll_now, p);
	if (r >= 0)
		r = sd_event_source_set_enabled(p->poll_event, SD_EVENT_OFF);
	if (r >= 0)
		r = sd_event_add_time(p->ev, &p->sample_timer, CLOCK_MONOTONIC,
				      sample_due_us(p, p->board.samples), 1, sample_tick, p);
	if (r >= 0)
		r = sd_event_add_time_relative(p->ev, &p->battery_timer, CLOCK_MONOTONIC,
					       BATTERY_PERIOD_US, 1000, battery_tick, p);
	if (r < 0)
		return r;
	link_activate(p);
	return 0;
}

/* ---- registration -------------------------------------------------------------- */

static const char *hint_for(const sd_bus_error *e)
{
	if (sd_bus_error_has_name(e, SD_BUS_ERROR_ACCESS_DENIED))
		return " (run as root, or allow this user to talk to org.bluez in the D-Bus policy)";
	if (sd_bus_error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
	    sd_bus_error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
		return " (is bluetoothd running? systemctl start bluetooth)";
	if (sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_OBJECT) ||
	    sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_METHOD))
		return " (is the adapter still there? bluetoothctl list)";
	if (sd_bus_error_has_name(e, "org.bluez.Error.AlreadyExists"))
		return " (another roller-periph on this adapter?)";
	return "";
}

/* At start-up a registration failure ends the program; after a bluetoothd
 * restart it is logged and the roller keeps running (and waits). */
static void registration_failed(struct periph *p, const char *what, const sd_bus_error *e)
{
	p->registering = false;
	if (p->stopping)
		return;
	if (!p->active_once) {
		periph_fatal(p, "%s on %s failed: %s%s", what, p->opt.adapter,
			     e->message ? e->message : e->name, hint_for(e));
		return;
	}
	periph_log(p, 0, "%s on %s failed: %s%s", what, p->opt.adapter,
		   e->message ? e->message : e->name, hint_for(e));
}

static int advert_registered(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct periph *p = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);

	(void)ret_error;
	if (e) {
		registration_failed(p, "RegisterAdvertisement", e);
		return 0;
	}
	p->adv_registered = true;
	p->registering = false;
	periph_log(p, 0, "advertising as \"%s\" on %s (%s); %s", p->opt.name, p->opt.adapter,
		   p->adapter_address,
		   p->board.use_trace ? "playing a trace" : "simulated person");
	return 0;
}

static int app_registered(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct periph *p = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);
	int r;

	(void)ret_error;
	if (e) {
		registration_failed(p, "RegisterApplication", e);
		return 0;
	}
	p->app_registered = true;
	periph_log(p, 1, "GATT application registered");
	r = advert_register(p, advert_registered);
	if (r < 0)
		periph_fatal(p, "RegisterAdvertisement: %s", strerror(-r));
	return 0;
}

static int agent_registered(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct periph *p = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);
	int r;

	(void)ret_error;
	if (e) {
		registration_failed(p, "agent registration", e);
		return 0;
	}
	periph_log(p, 1, "default agent registered (NoInputNoOutput)");
	r = gatt_register(p, app_registered);
	if (r < 0)
		periph_fatal(p, "RegisterApplication: %s", strerror(-r));
	return 0;
}

static void set_adapter_property(struct periph *p, const char *name)
{
	int r = sd_bus_call_method_async(p->bus, NULL, "org.bluez", p->adapter_path,
					 "org.freedesktop.DBus.Properties", "Set", NULL, NULL,
					 "ssv", "org.bluez.Adapter1", name, "b", 1);

	if (r < 0)
		periph_log(p, 0, "cannot set %s on %s: %s", name, p->opt.adapter, strerror(-r));
	else
		periph_log(p, 0, "%s was off: turning %s on", p->opt.adapter, name);
}

static int objects_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct periph *p = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);
	int r;

	(void)ret_error;
	if (e) {
		registration_failed(p, "GetManagedObjects", e);
		return 0;
	}
	r = link_seed(p, m);
	if (r == -ENODEV) {
		if (!p->active_once)
			periph_fatal(p, "no adapter %s (see: bluetoothctl list)", p->opt.adapter);
		else
			periph_log(p, 0, "adapter %s is gone; waiting", p->opt.adapter);
		p->registering = false;
		return 0;
	}
	if (r < 0) {
		periph_fatal(p, "cannot parse bluetoothd's objects: %s", strerror(-r));
		return 0;
	}
	if (!p->active_once) {
		r = core_start(p);
		if (r < 0) {
			periph_fatal(p, "cannot start the roller core (%s)", strerror(-r));
			return 0;
		}
		p->active_once = true;
	} else {
		link_activate(p);
	}
	if (!p->adapter_powered)
		set_adapter_property(p, "Powered");
	if (!p->adapter_pairable)
		set_adapter_property(p, "Pairable");
	r = agent_register(p, agent_registered);
	if (r < 0)
		periph_fatal(p, "RegisterAgent: %s", strerror(-r));
	return 0;
}

static void start_registration(struct periph *p)
{
	int r;

	if (p->registering || p->stopping)
		return;
	p->registering = true;
	r = sd_bus_call_method_async(p->bus, NULL, "org.bluez", "/",
				     "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
				     objects_reply, p, "");
	if (r < 0)
		periph_fatal(p, "GetManagedObjects: %s", strerror(-r));
}

static int name_owner_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct periph *p = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);
	const char *owner;

	(void)ret_error;
	if (e) {
		periph_fatal(p, "bluetoothd is not running (no org.bluez on the system bus): "
			     "start it with 'systemctl start bluetooth'");
		return 0;
	}
	if (sd_bus_message_read(m, "s", &owner) < 0) {
		periph_fatal(p, "bad GetNameOwner reply");
		return 0;
	}
	snprintf(p->bluez_owner, sizeof(p->bluez_owner), "%s", owner);
	start_registration(p);
	return 0;
}

static int name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct periph *p = userdata;
	const char *name, *old_owner, *new_owner;

	(void)ret_error;
	if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 ||
	    strcmp(name, "org.bluez") != 0)
		return 0;
	if (old_owner[0] && p->bluez_owner[0]) {
		periph_log(p, 0, "bluetoothd went away; waiting for it to come back");
		p->bluez_owner[0] = '\0';
		p->agent_registered = p->app_registered = p->adv_registered = false;
		p->registering = false;
		if (p->active_once)
			link_bluez_gone(p);
		p->active = false;
	}
	if (new_owner[0]) {
		snprintf(p->bluez_owner, sizeof(p->bluez_owner), "%s", new_owner);
		if (p->active_once) {
			periph_log(p, 0, "bluetoothd is back: registering again");
			start_registration(p);
		}
	}
	return 0;
}

/* ---- shutdown ------------------------------------------------------------------- */

static int unregistered(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct periph *p = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);

	(void)ret_error;
	if (e)
		periph_log(p, 1, "unregistering: %s", e->message ? e->message : e->name);
	if (p->pending_unregister && --p->pending_unregister == 0)
		sd_event_exit(p->ev, p->exit_code);
	return 0;
}

static int shutdown_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct periph *p = userdata;

	(void)s, (void)usec;
	periph_log(p, 0, "bluetoothd did not answer; exiting anyway");
	sd_event_exit(p->ev, p->exit_code);
	return 0;
}

/* Unregistering with an indication unconfirmed would crash bluetoothd 5.66:
 * its late confirmation calls Confirm on the application it has freed by
 * then (libdbus aborts on the dangling name). So a stopping roller sends
 * nothing more (gatt_notify), and unregisters once the central confirmed what
 * it has, the link dropped, or the confirmation timed out (gatt.c); the
 * shutdown timer bounds it all. */
void periph_stop_continue(struct periph *p)
{
	if (!p->stopping || p->unregistering || gatt_indication_unconfirmed(p))
		return;
	p->unregistering = true;
	if (p->bluez_owner[0]) {
		if (p->adv_registered && advert_unregister(p, unregistered) >= 0)
			p->pending_unregister++;
		if (p->app_registered && gatt_unregister(p, unregistered) >= 0)
			p->pending_unregister++;
		if (p->agent_registered && agent_unregister(p, unregistered) >= 0)
			p->pending_unregister++;
	}
	p->adv_registered = p->app_registered = false;
	if (!p->pending_unregister)
		sd_event_exit(p->ev, p->exit_code);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct periph *p = userdata;

	(void)s;
	if (p->stopping) {
		sd_event_exit(p->ev, p->exit_code);
		return 0;
	}
	p->stopping = true;
	periph_log(p, 0, "%s: unregistering and exiting", strsignal((int)si->ssi_signo));
	sd_event_add_time_relative(p->ev, NULL, CLOCK_MONOTONIC, SHUTDOWN_TIMEOUT_US, 1000,
				   shutdown_timeout, p);
	if (gatt_indication_unconfirmed(p))
		periph_log(p, 1, "waiting for the central to confirm the last indication");
	periph_stop_continue(p);
	return 0;
}

/* ---- options --------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: roller-periph --adapter hciN [options]\n"
		"\n"
		"Makes this machine a roller: runs the roller firmware core with a simulated\n"
		"person (or a recorded force trace) and serves it over Bluetooth LE through\n"
		"BlueZ: GATT service, advertisement and an auto-accepting pairing agent.\n"
		"\n"
		"Options:\n"
		"  -a, --adapter hciN     the BlueZ adapter to use (required)\n"
		"  -s, --seed N           seed of the simulated person (default 1)\n"
		"  -w, --weight KG        body weight of the simulated person (default 75)\n"
		"  -t, --trace FILE       play a recorded force trace instead (format: README)\n"
		"      --loop             start the trace again when it ends\n"
		"  -x, --speed X          run time X times faster (default 1)\n"
		"  -n, --name NAME        advertised name, at most %u bytes (default Roller)\n"
		"      --storage FILE     keep the roller's flash (calibration, sessions) in FILE\n"
		"      --notify-fd        offer AcquireNotify for Measurement and Log\n"
		"      --prerecord        first play the whole plan (or trace) with no host,\n"
		"                         at full CPU speed: the log holds a session to sync\n"
		"      --timestamps FILE  write \"sample-index monotonic-us\" per sample to FILE\n"
		"      --flood BYTES      send BYTES of Log chunks as fast as the link takes\n"
		"                         them once a central listens (a throughput ceiling)\n"
		"  -v, --verbose          more messages (twice: every read and write)\n"
		"  -h, --help             this help\n"
		"\n"
		"Stop with Ctrl-C or SIGTERM: the roller unregisters from bluetoothd.\n",
		PERIPH_NAME_MAX);
}

static int parse_options(struct periph_options *o, int argc, char **argv)
{
	enum { OPT_LOOP = 256, OPT_STORAGE, OPT_NOTIFY_FD, OPT_PRERECORD, OPT_TIMESTAMPS, OPT_FLOOD };
	static const struct option longopts[] = {
		{ "adapter", required_argument, NULL, 'a' },
		{ "seed", required_argument, NULL, 's' },
		{ "weight", required_argument, NULL, 'w' },
		{ "trace", required_argument, NULL, 't' },
		{ "loop", no_argument, NULL, OPT_LOOP },
		{ "speed", required_argument, NULL, 'x' },
		{ "name", required_argument, NULL, 'n' },
		{ "storage", required_argument, NULL, OPT_STORAGE },
		{ "notify-fd", no_argument, NULL, OPT_NOTIFY_FD },
		{ "prerecord", no_argument, NULL, OPT_PRERECORD },
		{ "timestamps", required_argument, NULL, OPT_TIMESTAMPS },
		{ "flood", required_argument, NULL, OPT_FLOOD },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->seed = 1;
	o->speed = 1.0;
	o->name = "Roller";
	while ((c = getopt_long(argc, argv, "a:s:w:t:x:n:vh", longopts, NULL)) != -1) {
		char *end;
		unsigned long v;

		switch (c) {
		case 'a':
			o->adapter = optarg;
			break;
		case 's':
			errno = 0;
			v = strtoul(optarg, &end, 0);
			if (errno || *end || end == optarg || v > UINT32_MAX) {
				fprintf(stderr, "roller-periph: --seed wants a number 0..4294967295\n");
				return 2;
			}
			o->seed = (uint32_t)v;
			break;
		case 'w':
			v = strtoul(optarg, &end, 10);
			if (*end || end == optarg || v < 20 || v > 250) {
				fprintf(stderr, "roller-periph: --weight wants kilograms, 20..250\n");
				return 2;
			}
			o->body_weight_kg = (uint16_t)v;
			break;
		case 't':
			o->trace_path = optarg;
			break;
		case OPT_LOOP:
			o->trace_loop = true;
			break;
		case 'x':
			o->speed = strtod(optarg, &end);
			if (*end || end == optarg || !(o->speed > 0.0) || o->speed > 1000.0) {
				fprintf(stderr, "roller-periph: --speed wants a factor > 0 and <= 1000\n");
				return 2;
			}
			break;
		case 'n':
			o->name = optarg;
			break;
		case OPT_STORAGE:
			o->storage_path = optarg;
			break;
		case OPT_NOTIFY_FD:
			o->notify_fd = true;
			break;
		case OPT_PRERECORD:
			o->prerecord = true;
			break;
		case OPT_TIMESTAMPS:
			o->timestamps_path = optarg;
			break;
		case OPT_FLOOD:
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || v == 0 || v > 100000000ul) {
				fprintf(stderr, "roller-periph: --flood wants a byte count, 1..100000000\n");
				return 2;
			}
			o->flood_bytes = (uint32_t)v;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "roller-periph: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!o->adapter) {
		fprintf(stderr, "roller-periph: --adapter is required (see: bluetoothctl list)\n");
		return 2;
	}
	if (strncmp(o->adapter, "hci", 3) != 0 || !o->adapter[3] ||
	    strspn(o->adapter + 3, "0123456789") != strlen(o->adapter + 3)) {
		fprintf(stderr, "roller-periph: --adapter wants a name like hci0\n");
		return 2;
	}
	if (!o->name[0] || advert_legacy_size(o->name) > PERIPH_ADV_LEGACY_MAX) {
		fprintf(stderr, "roller-periph: --name must be 1 to %u bytes so that the "
			"advertisement fits 31 bytes\n", PERIPH_NAME_MAX);
		return 2;
	}
	for (const char *s = o->name; *s; s++)
		if (*s < 0x20 || *s > 0x7e) {
			fprintf(stderr, "roller-periph: --name must be printable ASCII\n");
			return 2;
		}
	if (o->trace_loop && !o->trace_path) {
		fprintf(stderr, "roller-periph: --loop goes with --trace\n");
		return 2;
	}
	if (o->trace_loop && o->prerecord) {
		fprintf(stderr, "roller-periph: --prerecord plays the trace once: it cannot go "
			"with --loop\n");
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct periph p;
	sigset_t mask;
	int r;

	memset(&p, 0, sizeof(p));
	p.peer = -1;
	p.hci_fd = -1;
	p.start_us = mono_us();
	r = parse_options(&p.opt, argc, argv);
	if (r)
		return r < 0 ? 0 : r;
	snprintf(p.adapter_path, sizeof(p.adapter_path), "/org/bluez/%s", p.opt.adapter);
	p.board.flash_fd = -1;
	if (p.opt.trace_path) {
		char err[300];

		r = trace_load(&p.board.trace, p.opt.trace_path, err, sizeof(err));
		if (r) {
			fprintf(stderr, "roller-periph: %s\n", err);
			return 1;
		}
	}

	if (p.opt.timestamps_path) {
		p.timestamps = fopen(p.opt.timestamps_path, "we");
		if (!p.timestamps) {
			fprintf(stderr, "roller-periph: --timestamps %s: %s\n", p.opt.timestamps_path,
				strerror(errno));
			trace_free(&p.board.trace);
			return 1;
		}
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	r = sd_event_default(&p.ev);
	if (r < 0) {
		fprintf(stderr, "roller-periph: sd_event: %s\n", strerror(-r));
		return 1;
	}
	sd_event_add_signal(p.ev, NULL, SIGINT, on_signal, &p);
	sd_event_add_signal(p.ev, NULL, SIGTERM, on_signal, &p);

	r = sd_bus_open_system(&p.bus);
	if (r < 0) {
		fprintf(stderr, "roller-periph: cannot connect to the system D-Bus: %s%s\n",
			strerror(-r), r == -ENOENT ? " (is dbus running?)" : "");
		sd_event_unref(p.ev);
		trace_free(&p.board.trace);
		return 1;
	}
	sd_bus_attach_event(p.bus, p.ev, SD_EVENT_PRIORITY_NORMAL);

	r = link_start(&p);
	if (r >= 0)
		r = sd_bus_match_signal_async(p.bus, NULL, "org.freedesktop.DBus",
					      "/org/freedesktop/DBus", "org.freedesktop.DBus",
					      "NameOwnerChanged", name_owner_changed, NULL, &p);
	if (r >= 0)
		r = sd_bus_call_method_async(p.bus, NULL, "org.freedesktop.DBus",
					     "/org/freedesktop/DBus", "org.freedesktop.DBus",
					     "GetNameOwner", name_owner_reply, &p, "s", "org.bluez");
	if (r < 0) {
		fprintf(stderr, "roller-periph: D-Bus: %s\n", strerror(-r));
		return 1;
	}

	r = sd_event_loop(p.ev);
	if (r < 0 && !p.exit_code)
		p.exit_code = 1;
	else if (r > 0)
		p.exit_code = r;

	p.sample_timer = sd_event_source_disable_unref(p.sample_timer);
	p.poll_event = sd_event_source_disable_unref(p.poll_event);
	p.retry_timer = sd_event_source_disable_unref(p.retry_timer);
	p.battery_timer = sd_event_source_disable_unref(p.battery_timer);
	gatt_unexport(&p);
	p.adv_slot = sd_bus_slot_unref(p.adv_slot);
	p.agent_slot = sd_bus_slot_unref(p.agent_slot);
	link_free(&p);
	board_free(&p);
	if (p.timestamps && fclose(p.timestamps) != 0) {
		fprintf(stderr, "roller-periph: --timestamps %s: %s\n", p.opt.timestamps_path,
			strerror(errno));
		p.exit_code = 1;
	}
	sd_bus_flush_close_unref(p.bus);
	sd_event_unref(p.ev);
	return p.exit_code;
}
