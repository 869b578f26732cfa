/*
 * The Bluetooth subcommands: scan, pair, forget, devices, status, tare,
 * calibrate. Each runs its own sd-event loop with asynchronous calls only;
 * status/tare/calibrate go through the bluez transport like `roller coach`.
 * Messages, hints and exit codes: roller/bluez.h and host/bluez/README.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "bluez_internal.h"
#include "roller/protocol.h"

#define MS 1000ull
#define S (1000ull * MS)
#define RESPONSE_TIMEOUT_S 30u

struct cmd;
typedef void (*cmd_fn)(struct cmd *c);

struct cmd {
	const char *name;
	sd_event *ev;
	sd_bus *bus;
	struct bz_model model;
	bool model_started;
	const char *adapter_opt;
	char *adapter_path;
	char adapter_name[16];
	bool json;
	int exit_code;
	bool done;
	cmd_fn ready;
	void (*changed)(struct cmd *c, enum bz_change what, const char *path);
	sd_event_source *deadline;
	sd_bus_slot *call;

	/* scan / pair: discovery */
	bool discovering;
	sd_event_source *restart_timer;
	unsigned announced_at_tick;
	unsigned announced;

	/* the roller the command is about */
	char address[18];
	bool have_address;

	/* pair */
	bool passkey, assume_yes;
	struct bz_agent agent;
	bool agent_started;
	unsigned pair_retries;
	sd_event_source *retry_timer;
	bool unbonded_removed; /* a pairing without a bond was removed: pair anew */

	/* scan results */
	char **seen;
	size_t n_seen;
	unsigned timeout_s;

	/* status / tare / calibrate */
	struct transport *t;
	struct proto_info info;
	bool have_info;
	uint8_t token;
	uint8_t expect_opcode;
	void (*response)(struct cmd *c, const struct proto_control_response *r);
	struct proto_version version;
	bool have_version;
	struct proto_control_response battery;
	bool have_battery;
	double weight_kg;
	bool have_weight;
	sd_event_source *stdin_source;
	char line[128];
	size_t line_len;
	void (*line_done)(struct cmd *c, const char *line, bool eof);
	bool connected_once;
	cmd_fn connected;
	bool already_paired;
	bool paired_ok;
};

/* ---- plumbing ------------------------------------------------------------------- */

static void finish(struct cmd *c, int code)
{
	if (c->done)
		return;
	c->done = true;
	c->exit_code = code;
	sd_event_exit(c->ev, code);
}

static void errorf(struct cmd *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errorf(struct cmd *c, int code, const char *fmt, ...)
{
	va_list ap;

	if (c->done)
		return;
	fprintf(stderr, "roller %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	finish(c, code);
}

static int deadline_hit(sd_event_source *s, uint64_t usec, void *userdata);

static void set_deadline(struct cmd *c, uint64_t usec)
{
	c->deadline = sd_event_source_disable_unref(c->deadline);
	sd_event_add_time_relative(c->ev, &c->deadline, CLOCK_MONOTONIC, usec, MS, deadline_hit, c);
}

static int bus_error_exit(int err)
{
	switch (err) {
	case -EHOSTDOWN:
	case -EACCES:
	case -ENODEV:
	case -ENETDOWN:
		return BLUEZ_EXIT_NO_BLUETOOTH;
	default:
		return BLUEZ_EXIT_FAILURE;
	}
}

static void on_loaded(void *userdata, int err, const sd_bus_error *e)
{
	struct cmd *c = userdata;
	struct bz_adapter *a;

	if (c->done)
		return;
	if (err) {
		if (err == -EHOSTDOWN)
			errorf(c, BLUEZ_EXIT_NO_BLUETOOTH, "bluetoothd is not running.\n"
			       "hint: start it with 'sudo systemctl start bluetooth'");
		else if (err == -EACCES)
			errorf(c, BLUEZ_EXIT_NO_BLUETOOTH, "permission denied talking to bluetoothd "
			       "(%s).\nhint: %s", bz_error_text(e), bz_error_hint(e));
		else
			errorf(c, bus_error_exit(err), "cannot read bluetoothd's objects: %s",
			       e ? bz_error_text(e) : strerror(-err));
		return;
	}
	if (c->adapter_path)
		return; /* bluetoothd came back; the command carries on */
	a = bz_model_adapter(&c->model, c->adapter_opt);
	if (!a) {
		if (c->adapter_opt)
			errorf(c, BLUEZ_EXIT_NO_BLUETOOTH, "no Bluetooth adapter %s.\n"
			       "hint: list them with 'bluetoothctl list'", c->adapter_opt);
		else
			errorf(c, BLUEZ_EXIT_NO_BLUETOOTH, "no Bluetooth adapter found.\n"
			       "hint: is one plugged in and not blocked? 'rfkill list', "
			       "'bluetoothctl list'");
		return;
	}
	if (!a->powered) {
		errorf(c, BLUEZ_EXIT_NO_BLUETOOTH, "Bluetooth adapter %s is powered off.\n"
		       "hint: turn it on with 'bluetoothctl power on'", a->name);
		return;
	}
	c->adapter_path = strdup(a->path);
	snprintf(c->adapter_name, sizeof(c->adapter_name), "%s", a->name);
	c->ready(c);
}

static void on_gone(void *userdata)
{
	struct cmd *c = userdata;

	if (!c->t)
		errorf(c, BLUEZ_EXIT_NO_BLUETOOTH, "bluetoothd stopped while we were talking to it");
}

static void on_changed(void *userdata, enum bz_change what, const char *path)
{
	struct cmd *c = userdata;

	if (!c->done && c->changed && c->adapter_path)
		c->changed(c, what, path);
}

static void scan_end(struct cmd *c);

/* Ctrl-C or SIGTERM: a scan that has started ends as at its timeout (what it
 * found is listed); anything else stops with 128 + the signal, through the
 * same clean-up as a normal end (discovery stopped, agent unregistered, link
 * closed). The signals stay blocked until that clean-up is done; one more
 * during it is delivered then, and ends the program by its default action. */
static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct cmd *c = userdata;

	(void)s;
	if (c->done)
		return 0;
	if (!strcmp(c->name, "scan") && c->deadline) {
		c->deadline = sd_event_source_disable_unref(c->deadline);
		scan_end(c);
		return 0;
	}
	if (!c->json)
		fprintf(stderr, "roller %s: %s: stopped\n", c->name, strsignal((int)si->ssi_signo));
	finish(c, 128 + (int)si->ssi_signo);
	return 0;
}

static int run(struct cmd *c)
{
	static const struct bz_model_callbacks cb = {
		.loaded = on_loaded,
		.gone = on_gone,
		.changed = on_changed,
	};
	sigset_t mask, old_mask;
	int r;

	r = sd_event_new(&c->ev);
	if (r < 0) {
		fprintf(stderr, "roller %s: sd_event: %s\n", c->name, strerror(-r));
		return BLUEZ_EXIT_FAILURE;
	}
	/* sd-event takes signals through a signalfd: they must be blocked. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, &old_mask);
	sd_event_add_signal(c->ev, NULL, SIGINT, on_signal, c);
	sd_event_add_signal(c->ev, NULL, SIGTERM, on_signal, c);
	r = sd_bus_open_system(&c->bus);
	if (r < 0) {
		fprintf(stderr, "roller %s: cannot connect to the system D-Bus (%s).\n"
			"hint: is dbus running? ('systemctl status dbus')\n", c->name, strerror(-r));
		sd_event_unref(c->ev);
		sigprocmask(SIG_SETMASK, &old_mask, NULL);
		return BLUEZ_EXIT_NO_BLUETOOTH;
	}
	sd_bus_attach_event(c->bus, c->ev, SD_EVENT_PRIORITY_NORMAL);
	r = bz_model_start(&c->model, c->bus, &cb, c);
	if (r < 0) {
		fprintf(stderr, "roller %s: D-Bus: %s\n", c->name, strerror(-r));
		c->exit_code = BLUEZ_EXIT_FAILURE;
	} else {
		c->model_started = true;
		r = sd_event_loop(c->ev);
		if (r < 0 && !c->done)
			c->exit_code = BLUEZ_EXIT_FAILURE;
	}
	/* The loop has ended and sd-bus closed our bus in its exit handler
	 * (the transport said goodbye in its own, earlier one): bluetoothd
	 * ends the discovery and drops the agent of a client that leaves. */
	if (c->t)
		bluez_transport_ops.destroy(c->t);
	c->t = NULL;
	if (c->agent_started)
		bz_agent_stop(&c->agent);
	c->call = sd_bus_slot_unref(c->call);
	c->deadline = sd_event_source_disable_unref(c->deadline);
	c->restart_timer = sd_event_source_disable_unref(c->restart_timer);
	c->retry_timer = sd_event_source_disable_unref(c->retry_timer);
	c->stdin_source = sd_event_source_disable_unref(c->stdin_source);
	if (c->model_started)
		bz_model_free(&c->model);
	sd_bus_flush_close_unref(c->bus);
	sd_event_unref(c->ev);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	for (size_t i = 0; i < c->n_seen; i++)
		free(c->seen[i]);
	free(c->seen);
	free(c->adapter_path);
	fflush(stdout);
	return c->exit_code;
}

/* Common options. Returns 0 to go on, or an exit code (help printed: 0). */
struct extra_opt {
	const char *name;
	int has_arg;
	int val;
};

static int parse_common(struct cmd *c, int argc, char **argv, const char *usage,
			const struct extra_opt *extra, int (*on_extra)(struct cmd *, int, const char *))
{
	struct option opts[16];
	int n = 0, o;

	opts[n++] = (struct option){ "adapter", required_argument, NULL, 'a' };
	opts[n++] = (struct option){ "json", no_argument, NULL, 'j' };
	opts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	for (; extra && extra->name && n < 15; extra++)
		opts[n++] = (struct option){ extra->name, extra->has_arg, NULL, extra->val };
	opts[n] = (struct option){ NULL, 0, NULL, 0 };
	optind = 0;
	opterr = 1;
	while ((o = getopt_long(argc, argv, "+a:jh", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			c->adapter_opt = optarg;
			break;
		case 'j':
			c->json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return -1;
		case '?':
			fputs(usage, stderr);
			return BLUEZ_EXIT_USAGE;
		default:
			if (!on_extra || on_extra(c, o, optarg)) {
				fputs(usage, stderr);
				return BLUEZ_EXIT_USAGE;
			}
		}
	}
	return 0;
}

static int parse_seconds(const char *s, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v < 1 || v > 3600)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* Takes the address argument (or the default roller when optional). */
static int take_address(struct cmd *c, int argc, char **argv, bool optional)
{
	char def[64];

	if (optind < argc) {
		if (bluez_parse_address(argv[optind], c->address) < 0) {
			fprintf(stderr, "roller %s: '%s' is not a Bluetooth address "
				"(like 12:34:56:78:9A:BC)\n", c->name, argv[optind]);
			return BLUEZ_EXIT_USAGE;
		}
		optind++;
	} else if (optional && bluez_config_get_default(def, sizeof(def)) == 0 &&
		   bluez_parse_address(def, c->address) == 0) {
		/* default roller */
	} else if (optional) {
		fprintf(stderr, "roller %s: no roller given and no default roller.\n"
			"hint: pair one with 'roller pair <addr>' (find it with 'roller scan')\n",
			c->name);
		return BLUEZ_EXIT_NOT_FOUND;
	} else {
		fprintf(stderr, "roller %s: which roller? Give its address (see 'roller scan').\n",
			c->name);
		return BLUEZ_EXIT_USAGE;
	}
	if (optind < argc) {
		fprintf(stderr, "roller %s: unexpected argument '%s'\n", c->name, argv[optind]);
		return BLUEZ_EXIT_USAGE;
	}
	c->have_address = true;
	return 0;
}

static bool is_default(const char *address)
{
	char def[64], norm[18];

	return bluez_config_get_default(def, sizeof(def)) == 0 &&
	       bluez_parse_address(def, norm) == 0 && !strcmp(norm, address);
}

static struct bz_device *target(struct cmd *c)
{
	return bz_model_device(&c->model, c->adapter_path, c->address);
}

/* ---- discovery (scan, pair) ---------------------------------------------------------- */

static int discovery_restarted(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct cmd *c = userdata;

	(void)m, (void)error;
	if (c->discovering && !c->done)
		sd_bus_call_method_async(c->bus, NULL, "org.bluez", c->adapter_path, BZ_IFACE_ADAPTER,
					 "StartDiscovery", NULL, NULL, "");
	return 0;
}

static int restart_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct cmd *c = userdata;
	struct bluez_timing tm;

	(void)usec;
	bluez_get_timing(&tm);
	if (c->discovering && c->announced == c->announced_at_tick)
		/* Nothing new for a while: stop and start again. */
		sd_bus_call_method_async(c->bus, NULL, "org.bluez", c->adapter_path, BZ_IFACE_ADAPTER,
					 "StopDiscovery", discovery_restarted, c, "");
	c->announced_at_tick = c->announced;
	sd_event_source_set_time_relative(s, tm.scan_restart_ms * MS);
	sd_event_source_set_enabled(s, SD_EVENT_ON);
	return 0;
}

static int discovery_reply(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct cmd *c = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);

	(void)error;
	if (e && bz_error_errno(e) != -EINPROGRESS)
		errorf(c, bus_error_exit(bz_error_errno(e)), "cannot scan on %s: %s%s%s",
		       c->adapter_name, bz_error_text(e), bz_error_hint(e)[0] ? ".\nhint: " : "",
		       bz_error_hint(e));
	return 0;
}

static int filter_reply(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct cmd *c = userdata;

	(void)m, (void)error;
	if (!c->done)
		sd_bus_call_method_async(c->bus, NULL, "org.bluez", c->adapter_path, BZ_IFACE_ADAPTER,
					 "StartDiscovery", discovery_reply, c, "");
	return 0;
}

static void discovery_start(struct cmd *c)
{
	sd_bus_message *m = NULL;
	const char *uuids[] = { PROTO_UUID_SERVICE, NULL };
	struct bluez_timing tm;

	if (c->discovering)
		return;
	c->discovering = true;
	bluez_get_timing(&tm);
	if (sd_bus_message_new_method_call(c->bus, &m, "org.bluez", c->adapter_path,
					   BZ_IFACE_ADAPTER, "SetDiscoveryFilter") >= 0 &&
	    sd_bus_message_open_container(m, 'a', "{sv}") >= 0 &&
	    sd_bus_message_open_container(m, 'e', "sv") >= 0 &&
	    sd_bus_message_append(m, "s", "UUIDs") >= 0 &&
	    sd_bus_message_open_container(m, 'v', "as") >= 0 &&
	    sd_bus_message_append_strv(m, (char **)uuids) >= 0 &&
	    sd_bus_message_close_container(m) >= 0 && sd_bus_message_close_container(m) >= 0 &&
	    sd_bus_message_append(m, "{sv}", "Transport", "s", "le") >= 0 &&
	    sd_bus_message_close_container(m) >= 0)
		sd_bus_call_async(c->bus, NULL, m, filter_reply, c, 0);
	sd_bus_message_unref(m);
	sd_event_add_time_relative(c->ev, &c->restart_timer, CLOCK_MONOTONIC,
				   tm.scan_restart_ms * MS, MS, restart_tick, c);
}

static void discovery_stop(struct cmd *c)
{
	if (!c->discovering)
		return;
	c->discovering = false;
	c->restart_timer = sd_event_source_disable_unref(c->restart_timer);
	sd_bus_call_method_async(c->bus, NULL, "org.bluez", c->adapter_path, BZ_IFACE_ADAPTER,
				 "StopDiscovery", NULL, NULL, "");
}

/* ---- scan ------------------------------------------------------------------------------ */

static bool scan_was_seen(struct cmd *c, const char *address)
{
	size_t i;

	for (i = 0; i < c->n_seen; i++)
		if (!strcmp(c->seen[i], address))
			return true;
	return false;
}

static const char *device_name(const struct bz_device *d)
{
	return d->name && d->name[0] ? d->name : "(no name)";
}

static void print_device_json(const struct bz_device *d, bool seen)
{
	printf("{\"address\":");
	bz_json_string(stdout, d->address);
	printf(",\"name\":");
	bz_json_string(stdout, d->name);
	if (seen && d->has_rssi)
		printf(",\"rssi\":%d", d->rssi);
	else
		printf(",\"rssi\":null");
	printf(",\"seen\":%s,\"paired\":%s,\"bonded\":%s,\"trusted\":%s,\"connected\":%s,"
	       "\"default\":%s}\n",
	       seen ? "true" : "false", d->paired ? "true" : "false",
	       bz_device_bonded(d) ? "true" : "false", d->trusted ? "true" : "false",
	       d->connected ? "true" : "false", is_default(d->address) ? "true" : "false");
}

static void scan_changed(struct cmd *c, enum bz_change what, const char *path)
{
	struct bz_device *d;
	char **n;

	if (what != BZ_DEVICE_ADDED && what != BZ_DEVICE_CHANGED)
		return;
	d = bz_model_device_by_path(&c->model, path);
	if (!d || !d->adapter || strcmp(d->adapter, c->adapter_path) ||
	    !bz_device_has_uuid(d, PROTO_UUID_SERVICE) || !d->has_rssi ||
	    scan_was_seen(c, d->address))
		return;
	n = realloc(c->seen, (c->n_seen + 1) * sizeof(*n));
	if (!n)
		return;
	c->seen = n;
	c->seen[c->n_seen++] = strdup(d->address);
	c->announced++;
	if (!c->json) {
		printf("Found %-12s %s  %4d dBm%s\n", device_name(d), d->address, d->rssi,
		       d->paired ? "  (paired)" : "");
		fflush(stdout);
	}
}

static void scan_ready(struct cmd *c)
{
	struct bz_device *d;

	if (!c->json) {
		printf("Scanning for rollers on %s for %u s...\n", c->adapter_name, c->timeout_s);
		fflush(stdout); /* a progress line: seen at once in a pipe or a log */
	}
	/* Devices already reporting an RSSI are being seen right now. */
	for (d = c->model.devices; d; d = d->next)
		scan_changed(c, BZ_DEVICE_CHANGED, d->path);
	discovery_start(c);
	set_deadline(c, c->timeout_s * S);
}

static void scan_end(struct cmd *c)
{
	struct bz_device *d;

	discovery_stop(c);
	for (d = c->model.devices; d; d = d->next) {
		bool seen;

		if (!d->adapter || strcmp(d->adapter, c->adapter_path) ||
		    !bz_device_has_uuid(d, PROTO_UUID_SERVICE))
			continue;
		seen = scan_was_seen(c, d->address);
		if (!seen && !d->paired)
			continue;
		if (c->json)
			print_device_json(d, seen);
		else if (!seen)
			printf("Known, not seen now: %-12s %s%s\n", device_name(d), d->address,
			       d->paired ? "  (paired)" : "");
	}
	if (c->n_seen == 0) {
		errorf(c, BLUEZ_EXIT_NOT_FOUND, "no roller found in %u s.\n"
		       "hint: is it switched on, close by, and not connected to another computer?",
		       c->timeout_s);
		return;
	}
	if (!c->json)
		printf("%zu roller%s found. Pair with: roller pair <address>\n", c->n_seen,
		       c->n_seen == 1 ? "" : "s");
	finish(c, BLUEZ_EXIT_OK);
}

static int scan_extra(struct cmd *c, int o, const char *arg)
{
	if (o == 't')
		return parse_seconds(arg, &c->timeout_s);
	return -EINVAL;
}

int bluez_cmd_scan(int argc, char **argv)
{
	static const char usage[] =
		"Usage: roller scan [--timeout SECONDS] [--json] [--adapter hciN]\n"
		"Lists the rollers in range (found by their service UUID), with name, address,\n"
		"signal strength and whether this computer is paired with them. Ctrl-C ends\n"
		"the scan early and lists what it found.\n";
	static const struct extra_opt extra[] = { { "timeout", required_argument, 't' }, { 0 } };
	struct cmd c = { .name = "scan", .timeout_s = 10 };
	int r;

	r = parse_common(&c, argc, argv, usage, extra, scan_extra);
	if (r)
		return r < 0 ? 0 : r;
	if (optind < argc) {
		fprintf(stderr, "roller scan: unexpected argument '%s'\n", argv[optind]);
		return BLUEZ_EXIT_USAGE;
	}
	c.ready = scan_ready;
	c.changed = scan_changed;
	return run(&c);
}

/* ---- pair ------------------------------------------------------------------------------ */

static void pair_start(struct cmd *c);

static int released(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct cmd *c = userdata;

	(void)m, (void)error;
	c->call = sd_bus_slot_unref(c->call);
	finish(c, BLUEZ_EXIT_OK);
	return 0;
}

static void pair_success(struct cmd *c, bool already)
{
	struct bz_device *d = target(c);
	int r = bluez_config_set_default(c->address);

	if (already)
		printf("%s is already paired with this computer; nothing to do.\n", c->address);
	else
		printf("Paired with %s (%s).\n", d ? device_name(d) : "the roller", c->address);
	if (r < 0)
		fprintf(stderr, "roller pair: could not save the default roller: %s\n",
			strerror(-r));
	else
		printf("It is your default roller now.\n");
	/* Release the link (Pair connected it) so that the roller advertises
	 * again for `roller coach`; finish once bluetoothd has answered. */
	c->paired_ok = true;
	if (!already && d && d->connected &&
	    sd_bus_call_method_async(c->bus, &c->call, "org.bluez", d->path, BZ_IFACE_DEVICE,
				     "Disconnect", released, c, "") >= 0) {
		set_deadline(c, 2 * S);
		return;
	}
	finish(c, already ? BLUEZ_EXIT_ALREADY_PAIRED : BLUEZ_EXIT_OK);
}

static int trusted_reply(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct cmd *c = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);

	(void)error;
	c->call = sd_bus_slot_unref(c->call);
	if (e)
		fprintf(stderr, "roller pair: could not mark %s trusted: %s\n", c->address,
			bz_error_text(e));
	pair_success(c, c->already_paired);
	return 0;
}

static void set_trusted(struct cmd *c, bool already)
{
	struct bz_device *d = target(c);

	c->already_paired = already;
	if (!d || d->trusted) {
		pair_success(c, already);
		return;
	}
	if (sd_bus_call_method_async(c->bus, &c->call, "org.bluez", d->path, BZ_IFACE_PROPS, "Set",
				     trusted_reply, c, "ssv", BZ_IFACE_DEVICE, "Trusted", "b", 1) < 0)
		pair_success(c, already);
}

static int pair_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct cmd *c = userdata;

	(void)s, (void)usec;
	c->retry_timer = sd_event_source_disable_unref(c->retry_timer);
	pair_start(c);
	return 0;
}

static int pair_reply(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct cmd *c = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);
	int err;

	(void)error;
	c->call = sd_bus_slot_unref(c->call);
	if (!e) {
		set_trusted(c, false);
		return 0;
	}
	err = bz_error_errno(e);
	switch (err) {
	case -EEXIST:
		set_trusted(c, true);
		return 0;
	case -EKEYREJECTED:
		if (c->agent.declined)
			errorf(c, BLUEZ_EXIT_AUTH_FAILED, "pairing with %s refused: the passkey was "
			       "not confirmed.", c->address);
		else
			errorf(c, BLUEZ_EXIT_AUTH_FAILED, "pairing with %s failed: authentication "
			       "failed (%s).\nhint: try again close to the roller; if it was paired "
			       "with another computer, reset its pairing first", c->address,
			       bz_error_text(e));
		return 0;
	case -ECONNREFUSED:
		if (c->agent.declined)
			errorf(c, BLUEZ_EXIT_AUTH_FAILED, "pairing with %s refused: the passkey was "
			       "not confirmed.", c->address);
		else
			errorf(c, BLUEZ_EXIT_BONDED_ELSEWHERE, "%s refused to pair (%s): it is "
			       "probably bonded to another computer.\nhint: run 'roller forget %s' "
			       "on that computer or reset the roller's pairing, then try again",
			       c->address, bz_error_text(e), c->address);
		return 0;
	case -ECANCELED:
		errorf(c, BLUEZ_EXIT_AUTH_FAILED, "pairing with %s was canceled.", c->address);
		return 0;
	case -ETIMEDOUT:
		if (!strcmp(e->name, "org.bluez.Error.AuthenticationTimeout") ||
		    c->pair_retries >= 2) {
			errorf(c, BLUEZ_EXIT_AUTH_FAILED, "pairing with %s timed out (%s).\n"
			       "hint: keep the roller switched on and close by, then try again",
			       c->address, bz_error_text(e));
			return 0;
		}
		break;
	case -EINPROGRESS:
		errorf(c, BLUEZ_EXIT_IN_PROGRESS, "a pairing with %s is already in progress.\n"
		       "hint: another program (the desktop's Bluetooth settings?) is pairing; "
		       "wait for it to finish or cancel it", c->address);
		return 0;
	case -ENOENT:
		errorf(c, BLUEZ_EXIT_NOT_FOUND, "%s went away before pairing.\nhint: run "
		       "'roller scan' to see if it is in range", c->address);
		return 0;
	case -ECONNABORTED:
		if (c->pair_retries >= 2) {
			errorf(c, BLUEZ_EXIT_UNREACHABLE, "could not connect to %s to pair (%s).\n"
			       "hint: %s", c->address, bz_error_text(e), bz_error_hint(e));
			return 0;
		}
		break;
	default:
		errorf(c, bus_error_exit(err), "pairing with %s failed: %s%s%s", c->address,
		       bz_error_text(e), bz_error_hint(e)[0] ? ".\nhint: " : "", bz_error_hint(e));
		return 0;
	}
	/* Connection trouble: try again shortly (pitfall 3). */
	c->pair_retries++;
	fprintf(stderr, "roller pair: %s; trying again\n", bz_error_text(e));
	sd_event_add_time_relative(c->ev, &c->retry_timer, CLOCK_MONOTONIC, 1 * S, MS, pair_retry, c);
	return 0;
}

static int unbonded_removed(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct cmd *c = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);

	(void)error;
	c->call = sd_bus_slot_unref(c->call);
	if (e) {
		errorf(c, bus_error_exit(bz_error_errno(e)), "could not remove the pairing without "
		       "a bond with %s: %s\nhint: run 'roller forget %s', then 'roller pair %s'",
		       c->address, bz_error_text(e), c->address, c->address);
		return 0;
	}
	c->unbonded_removed = true;
	/* The device object is gone (or about to be): find the roller again. */
	discovery_start(c);
	return 0;
}

static void pair_start(struct cmd *c)
{
	struct bz_device *d = target(c);
	struct bluez_timing tm;
	sd_bus_message *m = NULL;
	int r;

	if (c->done)
		return;
	if (!d || (c->unbonded_removed && d->paired)) {
		/* Unknown, or the stale object of the pairing just removed. */
		discovery_start(c);
		return;
	}
	if (d->paired && !bz_device_bonded(d)) {
		/* Paired, but its keys were not stored (a central that was not
		 * bondable, e.g. `pairable off`): the roller refuses control
		 * writes on such a link, and Pair cannot be called again on a
		 * paired device. Remove that pairing and pair anew. */
		discovery_stop(c);
		if (!c->json)
			printf("%s is paired with this computer but not bonded (no keys were "
			       "stored): removing that pairing and pairing again.\n", c->address);
		if (sd_bus_call_method_async(c->bus, &c->call, "org.bluez", c->adapter_path,
					     BZ_IFACE_ADAPTER, "RemoveDevice", unbonded_removed, c,
					     "o", d->path) < 0)
			errorf(c, BLUEZ_EXIT_FAILURE, "RemoveDevice failed");
		return;
	}
	if (d->paired) {
		/* Never call Pair on a paired device (pitfall 14). */
		discovery_stop(c);
		set_trusted(c, true);
		return;
	}
	discovery_stop(c);
	bluez_get_timing(&tm);
	if (!c->json)
		printf("Pairing with %s (%s)...\n", device_name(d), c->address);
	fflush(stdout); /* progress: shown now, also when stdout is a file or pipe */
	r = sd_bus_message_new_method_call(c->bus, &m, "org.bluez", d->path, BZ_IFACE_DEVICE, "Pair");
	if (r >= 0)
		r = sd_bus_call_async(c->bus, &c->call, m, pair_reply, c, 3 * tm.call_timeout_ms * MS);
	sd_bus_message_unref(m);
	if (r < 0)
		errorf(c, BLUEZ_EXIT_FAILURE, "Pair: %s", strerror(-r));
}

static void pair_changed(struct cmd *c, enum bz_change what, const char *path)
{
	struct bz_device *d;

	(void)path;
	if (c->call || c->retry_timer || (what != BZ_DEVICE_ADDED && what != BZ_DEVICE_CHANGED))
		return;
	d = target(c);
	if (d && c->discovering) {
		c->deadline = sd_event_source_disable_unref(c->deadline);
		pair_start(c);
	}
}

static void pair_ready(struct cmd *c)
{
	struct bz_device *d = target(c);
	int r;

	if (d && d->paired && bz_device_bonded(d)) {
		pair_start(c);
		return;
	}
	r = bz_agent_start(&c->agent, c->bus, c->ev, c->passkey ? "KeyboardDisplay" : "NoInputNoOutput",
			   c->passkey, c->assume_yes);
	if (r < 0) {
		errorf(c, BLUEZ_EXIT_FAILURE, "cannot set up the pairing agent: %s", strerror(-r));
		return;
	}
	c->agent_started = true;
	if (!d) {
		if (!c->json)
			printf("Looking for %s...\n", c->address);
		fflush(stdout);
		set_deadline(c, c->timeout_s * S);
	}
	pair_start(c);
}

static int pair_extra(struct cmd *c, int o, const char *arg)
{
	switch (o) {
	case 'p':
		c->passkey = true;
		return 0;
	case 'y':
		c->assume_yes = true;
		return 0;
	case 't':
		return parse_seconds(arg, &c->timeout_s);
	default:
		return -EINVAL;
	}
}

int bluez_cmd_pair(int argc, char **argv)
{
	static const char usage[] =
		"Usage: roller pair <address> [--passkey] [--yes] [--timeout SECONDS] [--adapter hciN]\n"
		"Pairs and bonds with a roller (LE Secure Connections), marks it trusted and\n"
		"makes it the default roller. --passkey: offer a keyboard and display, for a\n"
		"roller that shows or asks for a passkey; --yes: accept a numeric comparison\n"
		"without asking. --timeout: how long to look for the roller (default 30 s).\n";
	static const struct extra_opt extra[] = {
		{ "passkey", no_argument, 'p' },
		{ "yes", no_argument, 'y' },
		{ "timeout", required_argument, 't' },
		{ 0 },
	};
	struct cmd c = { .name = "pair", .timeout_s = 30 };
	int r;

	r = parse_common(&c, argc, argv, usage, extra, pair_extra);
	if (r)
		return r < 0 ? 0 : r;
	r = take_address(&c, argc, argv, false);
	if (r)
		return r;
	c.ready = pair_ready;
	c.changed = pair_changed;
	return run(&c);
}

/* ---- forget ------------------------------------------------------------------------------ */

static int remove_reply(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct cmd *c = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);

	(void)error;
	c->call = sd_bus_slot_unref(c->call);
	if (e) {
		errorf(c, bus_error_exit(bz_error_errno(e)), "could not forget %s: %s", c->address,
		       bz_error_text(e));
		return 0;
	}
	if (is_default(c->address))
		bluez_config_set_default(NULL);
	printf("Forgot %s: the bond is removed. Pair again with 'roller pair %s'.\n", c->address,
	       c->address);
	finish(c, BLUEZ_EXIT_OK);
	return 0;
}

static void forget_ready(struct cmd *c)
{
	struct bz_device *d = target(c);

	if (!d) {
		if (is_default(c->address))
			bluez_config_set_default(NULL);
		errorf(c, BLUEZ_EXIT_NOT_FOUND, "%s is not known to this computer; nothing to forget.",
		       c->address);
		return;
	}
	if (sd_bus_call_method_async(c->bus, &c->call, "org.bluez", c->adapter_path, BZ_IFACE_ADAPTER,
				     "RemoveDevice", remove_reply, c, "o", d->path) < 0)
		errorf(c, BLUEZ_EXIT_FAILURE, "RemoveDevice failed");
}

int bluez_cmd_forget(int argc, char **argv)
{
	static const char usage[] =
		"Usage: roller forget <address> [--adapter hciN]\n"
		"Removes the pairing (bond) with a roller; it stops being the default roller.\n";
	struct cmd c = { .name = "forget" };
	int r;

	r = parse_common(&c, argc, argv, usage, NULL, NULL);
	if (r)
		return r < 0 ? 0 : r;
	r = take_address(&c, argc, argv, false);
	if (r)
		return r;
	c.ready = forget_ready;
	return run(&c);
}

/* ---- devices -------------------------------------------------------------------------------- */

static int cmp_device(const void *a, const void *b)
{
	return strcmp((*(struct bz_device *const *)a)->address,
		      (*(struct bz_device *const *)b)->address);
}

static void devices_ready(struct cmd *c)
{
	struct bz_device *d, **list = NULL;
	size_t n = 0, i;

	for (d = c->model.devices; d; d = d->next) {
		struct bz_device **nl;

		if (!d->adapter || strcmp(d->adapter, c->adapter_path) ||
		    !bz_device_has_uuid(d, PROTO_UUID_SERVICE))
			continue;
		nl = realloc(list, (n + 1) * sizeof(*nl));
		if (!nl)
			break;
		list = nl;
		list[n++] = d;
	}
	if (n)
		qsort(list, n, sizeof(*list), cmp_device);
	if (!c->json && n)
		printf("  %-17s  %-12s  %-6s  %-6s  %-7s  %s\n", "ADDRESS", "NAME", "PAIRED", "BONDED",
		       "TRUSTED", "CONNECTED");
	for (i = 0; i < n; i++) {
		d = list[i];
		if (c->json)
			print_device_json(d, d->has_rssi);
		else
			printf("%c %-17s  %-12s  %-6s  %-6s  %-7s  %s\n",
			       is_default(d->address) ? '*' : ' ', d->address, device_name(d),
			       d->paired ? "yes" : "no", bz_device_bonded(d) ? "yes" : "no",
			       d->trusted ? "yes" : "no", d->connected ? "yes" : "no");
	}
	if (!c->json) {
		if (n)
			printf("(* = default roller)\n");
		else
			printf("No rollers known to this computer.\nFind one with 'roller scan', "
			       "then 'roller pair <address>'.\n");
	}
	free(list);
	finish(c, BLUEZ_EXIT_OK);
}

int bluez_cmd_devices(int argc, char **argv)
{
	static const char usage[] =
		"Usage: roller devices [--json] [--adapter hciN]\n"
		"Lists the rollers this computer knows (paired or recently seen).\n";
	struct cmd c = { .name = "devices" };
	int r;

	r = parse_common(&c, argc, argv, usage, NULL, NULL);
	if (r)
		return r < 0 ? 0 : r;
	if (optind < argc) {
		fprintf(stderr, "roller devices: unexpected argument '%s'\n", argv[optind]);
		return BLUEZ_EXIT_USAGE;
	}
	c.ready = devices_ready;
	return run(&c);
}

/* ---- a session with the roller: status, tare, calibrate ------------------------------------ */

static const char *calibration_str(uint8_t cal)
{
	switch (cal) {
	case PROTO_CAL_NONE:
		return "none (factory: forces are not calibrated)";
	case PROTO_CAL_TARED:
		return "tared (zero set, default scale)";
	case PROTO_CAL_VALID:
		return "calibrated";
	case PROTO_CAL_INVALID:
		return "INVALID (the stored calibration failed its check)";
	default:
		return "unknown";
	}
}

static const char *calibration_word(uint8_t cal)
{
	static const char *const w[] = { "none", "tared", "valid", "invalid" };

	return cal < 4 ? w[cal] : "unknown";
}

static int send_request(struct cmd *c, struct proto_control_request *rq,
			void (*response)(struct cmd *, const struct proto_control_response *))
{
	uint8_t buf[PROTO_FRAME_MAX];
	size_t len;
	int r;

	rq->token = ++c->token;
	r = proto_request_encode(rq, buf, sizeof(buf), &len);
	if (r < 0)
		return r;
	c->expect_opcode = rq->opcode;
	c->response = response;
	/* TARE and CALIBRATE answer after averaging, well within this. */
	set_deadline(c, RESPONSE_TIMEOUT_S * S);
	return bluez_transport_ops.write_control(c->t, buf, len);
}

static void request_failed(struct cmd *c, const char *what, int r)
{
	errorf(c, BLUEZ_EXIT_FAILURE, "could not send %s to %s: %s", what, c->address, strerror(-r));
}

/* A non-OK status: say what it means for the user. */
static void refused(struct cmd *c, const char *what, uint8_t status)
{
	if (status == PROTO_STATUS_NOT_AUTHORIZED)
		errorf(c, BLUEZ_EXIT_NOT_PAIRED, "%s refused %s: the link is not encrypted and bonded.\n"
		       "hint: pair again with 'roller forget %s' and 'roller pair %s'", c->address,
		       what, c->address, c->address);
	else if (status == PROTO_STATUS_BUSY)
		errorf(c, BLUEZ_EXIT_REFUSED, "%s refused %s: it is moving or loaded (busy).\n"
		       "hint: take everything off the roller, keep it still, then try again",
		       c->address, what);
	else
		errorf(c, BLUEZ_EXIT_REFUSED, "%s refused %s: %s", c->address, what,
		       proto_status_str(status));
}

static void t_frame(void *userdata, enum rlog_channel ch, const uint8_t *buf, size_t len,
		    uint64_t mono_us)
{
	struct cmd *c = userdata;
	struct proto_control_response r;

	(void)mono_us;
	if (ch == RLOG_CH_INFO) {
		c->have_info = proto_info_decode(buf, len, &c->info) == 0;
		return;
	}
	if (ch != RLOG_CH_CONTROL || !c->response || proto_response_decode(buf, len, &r) < 0 ||
	    r.token != c->token || r.opcode != c->expect_opcode)
		return;
	{
		void (*fn)(struct cmd *, const struct proto_control_response *) = c->response;

		c->response = NULL;
		fn(c, &r);
	}
}

static void t_state(void *userdata, enum transport_state st, int err, const char *detail)
{
	struct cmd *c = userdata;

	switch (st) {
	case TRANSPORT_CONNECTING:
		break;
	case TRANSPORT_CONNECTED:
		if (err) {
			errorf(c, BLUEZ_EXIT_FAILURE, "%s", detail ? detail : strerror(-err));
			break;
		}
		if (!c->connected_once) {
			c->connected_once = true;
			c->connected(c);
		}
		break;
	case TRANSPORT_LINK_LOST:
		if (!c->json)
			fprintf(stderr, "roller %s: %s\n", c->name, detail ? detail : "link lost");
		break;
	case TRANSPORT_ENDED:
		errorf(c, BLUEZ_EXIT_FAILURE, "the roller ended the session");
		break;
	case TRANSPORT_FAILED:
		errorf(c, err == -EPERM ? BLUEZ_EXIT_NOT_PAIRED
			  : err == -ETIMEDOUT ? BLUEZ_EXIT_UNREACHABLE
			  : err == -EACCES && c->connected_once ? BLUEZ_EXIT_NOT_PAIRED
			  : bus_error_exit(err),
		       "%s", detail ? detail : strerror(-err));
		break;
	}
}

static int deadline_hit(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct cmd *c = userdata;

	(void)s, (void)usec;
	c->deadline = sd_event_source_disable_unref(c->deadline);
	if (!strcmp(c->name, "scan")) {
		scan_end(c);
	} else if (!strcmp(c->name, "pair")) {
		if (c->paired_ok) {
			finish(c, BLUEZ_EXIT_OK); /* Disconnect unanswered: done anyway */
			return 0;
		}
		if (c->call)
			return 0; /* pairing runs: its own timeout applies */
		errorf(c, BLUEZ_EXIT_NOT_FOUND, "no roller %s found within %u s.\n"
		       "hint: is it switched on and close by? 'roller scan' lists the rollers in range",
		       c->address, c->timeout_s);
	} else if (!c->connected_once) {
		errorf(c, BLUEZ_EXIT_UNREACHABLE, "could not connect to %s within %u s.\n"
		       "hint: is it switched on, close by and not connected to another computer?",
		       c->address, c->timeout_s);
	} else {
		errorf(c, BLUEZ_EXIT_FAILURE, "%s did not answer within %u s", c->address,
		       RESPONSE_TIMEOUT_S);
	}
	return 0;
}

static void session_ready(struct cmd *c)
{
	static const struct transport_events events = { .frame = t_frame, .state = t_state };
	struct transport_options opt = { 0 };
	struct bz_device *d = target(c);
	int r;

	if (!d || !d->paired) {
		errorf(c, BLUEZ_EXIT_NOT_PAIRED, "%s is not paired with this computer.\n"
		       "hint: pair it first with 'roller pair %s'", c->address, c->address);
		return;
	}
	opt.address = c->address;
	opt.adapter = c->adapter_name;
	r = bluez_transport_ops.create(&c->t, c->ev, &opt, &events, c);
	if (r < 0) {
		errorf(c, BLUEZ_EXIT_FAILURE, "cannot start the Bluetooth transport: %s", strerror(-r));
		return;
	}
	set_deadline(c, c->timeout_s * S);
}

/* status */

static void status_print(struct cmd *c)
{
	struct bz_device *d = target(c);
	const struct proto_info *i = &c->info;
	static const char *const cap_names[] = { "imu", "log", "resend", "battery", "usb",
						 "simulated" };
	unsigned k, rate = i->sample_period_us ? (1000000u + i->sample_period_us / 2) / i->sample_period_us : 0;
	uint16_t caps = c->have_version ? c->version.capabilities : i->capabilities;
	uint8_t cal = c->have_version ? c->version.calibration : i->calibration;
	uint16_t mtu = bluez_transport_ops.mtu(c->t);

	if (c->json) {
		printf("{\"address\":");
		bz_json_string(stdout, c->address);
		printf(",\"name\":");
		bz_json_string(stdout, d ? d->name : NULL);
		printf(",\"connected\":true,\"paired\":%s,\"bonded\":%s,\"trusted\":%s,\"mtu\":%u",
		       d && d->paired ? "true" : "false", d && bz_device_bonded(d) ? "true" : "false",
		       d && d->trusted ? "true" : "false", mtu);
		printf(",\"firmware\":\"%u.%u.%u\",\"protocol\":\"%u.%u\"", i->fw_major, i->fw_minor,
		       i->fw_patch, i->proto_major, i->proto_minor);
		if (c->have_battery)
			printf(",\"battery_percent\":%u,\"battery_mv\":%u,\"charging\":%s,"
			       "\"battery_low\":%s",
			       c->battery.u.battery.percent, c->battery.u.battery.millivolts,
			       c->battery.u.battery.flags & PROTO_STATUS_CHARGING ? "true" : "false",
			       c->battery.u.battery.flags & PROTO_STATUS_BATTERY_LOW ? "true" : "false");
		printf(",\"calibration\":\"%s\",\"sample_rate_hz\":%u,\"channels\":%u,"
		       "\"device_id\":\"%08x\",\"capabilities\":[",
		       calibration_word(cal), rate, i->channels, i->device_id);
		for (k = 0; k < 6; k++)
			if (caps & (1u << k))
				printf("%s\"%s\"", (caps & ((1u << k) - 1)) ? "," : "", cap_names[k]);
		printf("]}\n");
		return;
	}
	printf("Roller %s (%s)\n", c->address, d ? device_name(d) : "?");
	printf("  connection:   connected over %s; %s, %s, %s; ATT MTU %u\n", c->adapter_name,
	       d && d->paired ? "paired" : "not paired",
	       d && bz_device_bonded(d) ? "bonded" : "not bonded",
	       d && d->trusted ? "trusted" : "not trusted", mtu);
	printf("  firmware:     %u.%u.%u\n", i->fw_major, i->fw_minor, i->fw_patch);
	printf("  protocol:     %u.%u%s\n", i->proto_major, i->proto_minor,
	       i->proto_major != PROTO_VERSION ? " (NOT SUPPORTED by this program)" : "");
	if (c->have_battery)
		printf("  battery:      %u %% (%u mV)%s%s\n", c->battery.u.battery.percent,
		       c->battery.u.battery.millivolts,
		       c->battery.u.battery.flags & PROTO_STATUS_CHARGING ? ", charging" : "",
		       c->battery.u.battery.flags & PROTO_STATUS_BATTERY_LOW ? ", LOW" : "");
	printf("  calibration:  %s\n", calibration_str(cal));
	if (cal == PROTO_CAL_NONE || cal == PROTO_CAL_INVALID)
		printf("                (run 'roller calibrate' with a known weight)\n");
	printf("  sensor:       %u Hz, %u load cell%s, device id %08x\n", rate, i->channels,
	       i->channels == 1 ? "" : "s", i->device_id);
	printf("  capabilities:");
	for (k = 0; k < 6; k++)
		if (caps & (1u << k))
			printf(" %s", cap_names[k]);
	printf("\n");
}

static void status_battery(struct cmd *c, const struct proto_control_response *r)
{
	if (r->status == PROTO_STATUS_OK) {
		c->battery = *r;
		c->have_battery = true;
	}
	status_print(c);
	finish(c, BLUEZ_EXIT_OK);
}

static void status_version(struct cmd *c, const struct proto_control_response *r)
{
	struct proto_control_request rq = { .opcode = PROTO_OP_BATTERY };
	int e;

	if (r->status == PROTO_STATUS_OK) {
		c->version = r->u.version;
		c->have_version = true;
	}
	e = send_request(c, &rq, status_battery);
	if (e < 0)
		request_failed(c, "BATTERY", e);
}

static void status_connected(struct cmd *c)
{
	struct proto_control_request rq = { .opcode = PROTO_OP_VERSION };
	int e;

	if (!c->have_info) {
		errorf(c, BLUEZ_EXIT_FAILURE, "%s sent no valid Info", c->address);
		return;
	}
	e = send_request(c, &rq, status_version);
	if (e < 0)
		request_failed(c, "VERSION", e);
}

static int session_extra(struct cmd *c, int o, const char *arg)
{
	char *end;

	switch (o) {
	case 't':
		return parse_seconds(arg, &c->timeout_s);
	case 'w':
		c->weight_kg = strtod(arg, &end);
		if (*end || end == arg || !(c->weight_kg > 0) || c->weight_kg > 660)
			return -EINVAL;
		c->have_weight = true;
		return 0;
	case 'y':
		c->assume_yes = true;
		return 0;
	default:
		return -EINVAL;
	}
}

static int session_cmd(struct cmd *c, int argc, char **argv, const char *usage,
		       const struct extra_opt *extra, void (*connected)(struct cmd *))
{
	int r;

	r = parse_common(c, argc, argv, usage, extra, session_extra);
	if (r)
		return r < 0 ? 0 : r;
	r = take_address(c, argc, argv, true);
	if (r)
		return r;
	c->connected = connected;
	c->ready = session_ready;
	return run(c);
}

int bluez_cmd_status(int argc, char **argv)
{
	static const char usage[] =
		"Usage: roller status [<address>] [--json] [--timeout SECONDS] [--adapter hciN]\n"
		"Connects to the roller (default: the default roller) and shows the connection,\n"
		"battery, firmware and protocol versions and the calibration state.\n";
	static const struct extra_opt extra[] = { { "timeout", required_argument, 't' }, { 0 } };
	struct cmd c = { .name = "status", .timeout_s = 20 };

	return session_cmd(&c, argc, argv, usage, extra, status_connected);
}

/* tare */

static void tare_done(struct cmd *c, const struct proto_control_response *r)
{
	if (r->status != PROTO_STATUS_OK) {
		refused(c, "to tare", r->status);
		return;
	}
	if (!strcmp(c->name, "tare")) {
		printf("Tared: the roller reads zero with nothing on it.\n");
		finish(c, BLUEZ_EXIT_OK);
	}
}

static void tare_connected(struct cmd *c)
{
	struct proto_control_request rq = { .opcode = PROTO_OP_TARE };
	int e;

	if (!c->json)
		printf("Taring %s: keep it still with nothing on it...\n", c->address);
	e = send_request(c, &rq, tare_done);
	if (e < 0)
		request_failed(c, "TARE", e);
}

int bluez_cmd_tare(int argc, char **argv)
{
	static const char usage[] =
		"Usage: roller tare [<address>] [--timeout SECONDS] [--adapter hciN]\n"
		"Sets the roller's zero. Nothing may be on the roller and it must be still.\n";
	static const struct extra_opt extra[] = { { "timeout", required_argument, 't' }, { 0 } };
	struct cmd c = { .name = "tare", .timeout_s = 30 };

	return session_cmd(&c, argc, argv, usage, extra, tare_connected);
}

/* calibrate: tare, then a known weight */

static int stdin_line(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct cmd *c = userdata;
	char ch;

	(void)s, (void)revents;
	for (;;) {
		ssize_t n = read(fd, &ch, 1);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0 || ch == '\n') {
			void (*done)(struct cmd *, const char *, bool) = c->line_done;

			c->line[c->line_len] = '\0';
			c->stdin_source = sd_event_source_disable_unref(c->stdin_source);
			c->line_len = 0;
			c->line_done = NULL;
			if (done)
				done(c, c->line, n <= 0);
			return 0;
		}
		if (c->line_len < sizeof(c->line) - 1)
			c->line[c->line_len++] = ch;
	}
}

static void ask(struct cmd *c, const char *question, void (*done)(struct cmd *, const char *, bool))
{
	/* The user takes the time needed. */
	c->deadline = sd_event_source_disable_unref(c->deadline);
	fputs(question, stdout);
	fflush(stdout);
	c->line_done = done;
	c->line_len = 0;
	if (sd_event_add_io(c->ev, &c->stdin_source, STDIN_FILENO, EPOLLIN, stdin_line, c) < 0) {
		char line[128] = "";
		bool eof = !fgets(line, sizeof(line), stdin);

		line[strcspn(line, "\r\n")] = '\0';
		c->line_done = NULL;
		done(c, line, eof);
	}
}

static void calibrate_done(struct cmd *c, const struct proto_control_response *r)
{
	if (r->status != PROTO_STATUS_OK) {
		refused(c, "to calibrate", r->status);
		return;
	}
	printf("Calibrated with %.2f kg: scale %d micronewtons per count.\n"
	       "Take the weight off the roller.\n", c->weight_kg, r->u.calibrate.scale);
	finish(c, BLUEZ_EXIT_OK);
}

static void calibrate_send(struct cmd *c)
{
	struct proto_control_request rq = { .opcode = PROTO_OP_CALIBRATE };
	double dn = c->weight_kg * 9.80665 * PROTO_FORCE_DN_PER_N;
	int e;

	rq.u.calibrate.load = (uint16_t)lround(dn);
	printf("Measuring %.2f kg (%.1f N): keep it still...\n", c->weight_kg, dn / 10.0);
	e = send_request(c, &rq, calibrate_done);
	if (e < 0)
		request_failed(c, "CALIBRATE", e);
}

static void weight_entered(struct cmd *c, const char *line, bool eof)
{
	char *end;
	double kg = strtod(line, &end);

	while (*end == ' ')
		end++;
	if (!strcasecmp(end, "kg"))
		end += 2;
	if (eof && !line[0]) {
		errorf(c, BLUEZ_EXIT_USAGE, "no weight given; pass --weight KG");
		return;
	}
	if (end == line || *end || !(kg > 0) || kg > 660) {
		ask(c, "Please type the mass in kilograms, e.g. 10 or 12.5: ", weight_entered);
		return;
	}
	c->weight_kg = kg;
	calibrate_send(c);
}

static void ask_weight(struct cmd *c)
{
	if (c->have_weight) {
		if (!c->assume_yes) {
			printf("Step 2 of 2: put the %.2f kg weight on the middle of the roller.\n",
			       c->weight_kg);
		}
		calibrate_send(c);
		return;
	}
	ask(c, "Step 2 of 2: put a known weight on the middle of the roller (a dumbbell, a bag of\n"
	       "known mass), keep it still, type its mass in kg and press Enter: ", weight_entered);
}

static void calibrate_tared(struct cmd *c, const struct proto_control_response *r)
{
	if (r->status != PROTO_STATUS_OK) {
		refused(c, "to tare", r->status);
		return;
	}
	printf("Zero set.\n");
	ask_weight(c);
}

static void calibrate_tare_now(struct cmd *c, const char *line, bool eof)
{
	(void)line, (void)eof;
	tare_connected(c);
	c->response = calibrate_tared;
}

static void calibrate_connected(struct cmd *c)
{
	if (!c->have_weight && !isatty(STDIN_FILENO) && c->assume_yes) {
		errorf(c, BLUEZ_EXIT_USAGE, "--yes needs --weight KG");
		return;
	}
	if (c->assume_yes) {
		calibrate_tare_now(c, "", false);
		return;
	}
	ask(c, "Step 1 of 2: take everything off the roller, keep it still and press Enter: ",
	    calibrate_tare_now);
}

int bluez_cmd_calibrate(int argc, char **argv)
{
	static const char usage[] =
		"Usage: roller calibrate [<address>] [--weight KG] [--yes] [--timeout SECONDS]\n"
		"                        [--adapter hciN]\n"
		"Guided calibration: sets the zero with nothing on the roller, then the scale\n"
		"with a known weight on it. --weight: the mass in kg (else asked);\n"
		"--yes: do not wait for Enter between the steps.\n";
	static const struct extra_opt extra[] = {
		{ "timeout", required_argument, 't' },
		{ "weight", required_argument, 'w' },
		{ "yes", no_argument, 'y' },
		{ 0 },
	};
	struct cmd c = { .name = "calibrate", .timeout_s = 120 };

	return session_cmd(&c, argc, argv, usage, extra, calibrate_connected);
}
