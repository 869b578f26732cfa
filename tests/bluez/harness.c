/* Test harness for tests/bluez: see harness.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "roller/protocol.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static char *find_in_path(const char *name)
{
	const char *path = getenv("PATH");
	static char buf[512];

	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, name);
		if (access(buf, X_OK) == 0)
			return buf;
		path += n;
		if (*path)
			path++;
	}
	return NULL;
}

void harness_require_dbus(void)
{
	if (!find_in_path("dbus-daemon")) {
		printf("SKIP: dbus-daemon not found (install the 'dbus' package: tools/setup)\n");
		exit(HARNESS_SKIP);
	}
}

static pid_t spawn(const char *const *argv, const char *log_path, int out_fd)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid == 0) {
		/* A test program that dies (a crash, a stray signal) takes the
		 * bus, fakebluez and roller-periph with it. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(127);
		int fd = log_path ? open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)
				  : -1;

		if (fd >= 0) {
			dup2(fd, STDERR_FILENO);
			if (out_fd < 0)
				dup2(fd, STDOUT_FILENO);
		}
		if (out_fd == 3)
			fcntl(3, F_SETFD, 0);
		else if (out_fd >= 0)
			dup2(out_fd, 3);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static int reap(pid_t pid, int sig, unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;
	int status;

	if (pid <= 0)
		return -1;
	kill(pid, sig);
	while (now_ms() < end) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static bool name_has_owner(sd_bus *bus, const char *name)
{
	sd_bus_message *reply = NULL;
	int has = 0;

	if (sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
			       "org.freedesktop.DBus", "NameHasOwner", NULL, &reply, "s", name) < 0)
		return false;
	sd_bus_message_read(reply, "b", &has);
	sd_bus_message_unref(reply);
	return has;
}

static void start_fake(struct harness *h)
{
	const char *argv[8] = { FAKEBLUEZ_PATH, "--verbose" };
	char logp[300];
	uint64_t end;
	int i, k = 2;

	for (i = 0; i < 4 && h->fake_args[i]; i++)
		argv[k++] = h->fake_args[i];
	argv[k] = NULL;
	snprintf(logp, sizeof(logp), "%s/fake.log", h->dir);
	h->fake_pid = spawn(argv, logp, -1);
	end = now_ms() + 5000;
	while (!name_has_owner(h->bus, "org.bluez") && now_ms() < end)
		usleep(10000);
	assert_true(name_has_owner(h->bus, "org.bluez"));
}

void harness_restart_fake(struct harness *h)
{
	uint64_t end;

	reap(h->fake_pid, SIGTERM, 3000);
	h->fake_pid = 0;
	end = now_ms() + 3000;
	while (name_has_owner(h->bus, "org.bluez") && now_ms() < end)
		usleep(10000);
	start_fake(h);
}

int harness_start(struct harness *h, const struct harness_options *o)
{
	char conf[300], xdg[300], logp[300];
	const char *dbus = find_in_path("dbus-daemon");
	int pipefd[2], i;
	FILE *f;
	ssize_t n;
	memset(h, 0, sizeof(*h));
	snprintf(h->dir, sizeof(h->dir), "%s/roller-bluez-test.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(h->dir));
	assert_non_null(dbus);
	dbus = strdup(dbus);

	snprintf(conf, sizeof(conf), "%s/system.conf", h->dir);
	f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f,
		"<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
		" \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
		"<busconfig>\n"
		"  <type>system</type>\n"
		"  <listen>unix:path=%s/system_bus_socket</listen>\n"
		"  <auth>EXTERNAL</auth>\n"
		"  <policy context=\"default\">\n"
		"    <allow user=\"*\"/>\n"
		"    <allow own=\"*\"/>\n"
		"    <allow send_type=\"method_call\"/>\n"
		"    <allow send_type=\"signal\"/>\n"
		"    <allow send_type=\"method_return\"/>\n"
		"    <allow send_type=\"error\"/>\n"
		"    <allow receive_type=\"method_call\"/>\n"
		"    <allow receive_type=\"signal\"/>\n"
		"    <allow receive_type=\"method_return\"/>\n"
		"    <allow receive_type=\"error\"/>\n"
		"  </policy>\n"
		"</busconfig>\n", h->dir);
	fclose(f);

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	{
		char conf_arg[320];
		const char *argv[] = { dbus, conf_arg, "--nofork", "--print-address=3", NULL };

		snprintf(conf_arg, sizeof(conf_arg), "--config-file=%s", conf);
		snprintf(logp, sizeof(logp), "%s/dbus.log", h->dir);
		h->dbus_pid = spawn(argv, logp, pipefd[1]);
	}
	free((void *)dbus);
	close(pipefd[1]);
	n = read(pipefd[0], h->address, sizeof(h->address) - 1);
	close(pipefd[0]);
	assert_true(n > 0);
	h->address[n] = '\0';
	h->address[strcspn(h->address, "\n")] = '\0';
	setenv("DBUS_SYSTEM_BUS_ADDRESS", h->address, 1);
	snprintf(xdg, sizeof(xdg), "%s/config", h->dir);
	setenv("XDG_CONFIG_HOME", xdg, 1);

	assert_int_equal(sd_bus_open_system(&h->bus), 0);

	if (!o->no_fake) {
		for (i = 0; i < 4 && o->fake_args[i]; i++)
			h->fake_args[i] = o->fake_args[i];
		start_fake(h);
	}
	if (o->periph) {
#ifdef PERIPH_PATH
		const char *argv[16] = { PERIPH_PATH, "--adapter", "hci0", "-v" };
		int k = 4;

		for (i = 0; i < 8 && o->periph_args[i]; i++)
			argv[k++] = o->periph_args[i];
		if (o->trace) {
			argv[k++] = "--trace";
			argv[k++] = harness_trace(h, "trace.txt", o->trace_force_n, 600);
		}
		argv[k] = NULL;
		snprintf(logp, sizeof(logp), "%s/periph.log", h->dir);
		h->periph_pid = spawn(argv, logp, -1);
		if (!fake_wait_b(h, "adv_registered", true, 5000)) {
			harness_dump_logs(h);
			fail_msg("roller-periph did not register its advertisement");
		}
		fake_s(h, "remote_address", h->remote_address, sizeof(h->remote_address));
#else
		fail_msg("roller-periph was not built");
#endif
	}
	return 0;
}

void harness_dump_logs(struct harness *h)
{
	const char *names[] = { "periph.log", "fake.log" };
	char path[320], line[512];
	size_t i;

	for (i = 0; i < 2; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", h->dir, names[i]);
		f = fopen(path, "r");
		if (!f)
			continue;
		fprintf(stderr, "---- %s ----\n", names[i]);
		while (fgets(line, sizeof(line), f))
			fputs(line, stderr);
		fclose(f);
	}
}

int harness_stop_periph(struct harness *h)
{
	int r = reap(h->periph_pid, SIGTERM, 5000);

	h->periph_pid = 0;
	return r;
}

void harness_stop(struct harness *h)
{
	char cmd[300];
	int periph_status = 0;

	if (getenv("ROLLER_TEST_LOGS"))
		harness_dump_logs(h);
	if (h->periph_pid) {
		/* A clean exit also means no sanitizer report (ASan builds). */
		periph_status = harness_stop_periph(h);
		if (periph_status != 0)
			harness_dump_logs(h);
	}
	h->bus = sd_bus_flush_close_unref(h->bus);
	if (h->fake_pid && getenv("ROLLER_TEST_FAKE_STATUS"))
		fprintf(stderr, "fakebluez exit status %d\n", reap(h->fake_pid, SIGTERM, 3000));
	else if (h->fake_pid)
		reap(h->fake_pid, SIGTERM, 3000);
	if (h->dbus_pid)
		reap(h->dbus_pid, SIGTERM, 3000);
	h->fake_pid = h->dbus_pid = 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
	if (h->dir[0] && strstr(h->dir, "roller-bluez-test."))
		(void)!system(cmd);
	if (periph_status != 0)
		fail_msg("roller-periph exited with status %d on SIGTERM", periph_status);
}

int harness_setup_no_bluez(void **state)
{
	struct harness_options o = { .no_fake = true };

	return harness_start(*state, &o);
}

int harness_setup_no_adapter(void **state)
{
	struct harness_options o = { .fake_args = { "--adapters", "0" } };

	return harness_start(*state, &o);
}

int harness_setup_denied(void **state)
{
	struct harness_options o = { .fake_args = { "--deny" } };

	return harness_start(*state, &o);
}

int harness_teardown(void **state)
{
	harness_stop(*state);
	return 0;
}

/* ---- fakebluez ------------------------------------------------------------------- */

void fake_call(struct harness *h, const char *method, const char *types, ...)
{
	sd_bus_message *m = NULL, *reply = NULL;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	va_list ap;
	int r;

	r = sd_bus_message_new_method_call(h->bus, &m, "org.bluez", "/org/roller/fakebluez",
					   "org.roller.FakeBluez1", method);
	assert_true(r >= 0);
	va_start(ap, types);
	r = sd_bus_message_appendv(m, types, ap);
	va_end(ap);
	assert_true(r >= 0);
	r = sd_bus_call(h->bus, m, 0, &e, &reply);
	if (r < 0)
		fail_msg("fakebluez %s: %s", method, e.message ? e.message : strerror(-r));
	sd_bus_error_free(&e);
	sd_bus_message_unref(reply);
	sd_bus_message_unref(m);
}

/* Positions reply on the variant of key; returns the reply (unref it) or NULL. */
static sd_bus_message *state_entry(struct harness *h, const char *key, char *type)
{
	sd_bus_message *reply = NULL;
	const char *k;

	if (sd_bus_call_method(h->bus, "org.bluez", "/org/roller/fakebluez", "org.roller.FakeBluez1",
			       "GetState", NULL, &reply, "") < 0)
		return NULL;
	sd_bus_message_enter_container(reply, 'a', "{sv}");
	while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
		const char *contents;

		sd_bus_message_read(reply, "s", &k);
		if (!strcmp(k, key)) {
			sd_bus_message_peek_type(reply, NULL, &contents);
			*type = contents[0];
			sd_bus_message_enter_container(reply, 'v', contents);
			return reply;
		}
		sd_bus_message_skip(reply, "v");
		sd_bus_message_exit_container(reply);
	}
	sd_bus_message_unref(reply);
	fail_msg("fakebluez state has no '%s'", key);
	return NULL;
}

unsigned fake_u(struct harness *h, const char *key)
{
	char type;
	sd_bus_message *m = state_entry(h, key, &type);
	uint32_t v = 0;

	assert_non_null(m);
	if (type == 'u')
		sd_bus_message_read(m, "u", &v);
	sd_bus_message_unref(m);
	return v;
}

bool fake_b(struct harness *h, const char *key)
{
	char type;
	sd_bus_message *m = state_entry(h, key, &type);
	int v = 0;

	if (!m)
		return false;
	sd_bus_message_read(m, "b", &v);
	sd_bus_message_unref(m);
	return v;
}

void fake_s(struct harness *h, const char *key, char *out, size_t cap)
{
	char type;
	sd_bus_message *m = state_entry(h, key, &type);
	const char *s = "";

	assert_non_null(m);
	sd_bus_message_read(m, "s", &s);
	snprintf(out, cap, "%s", s);
	sd_bus_message_unref(m);
}

bool fake_as_has(struct harness *h, const char *key, const char *prefix)
{
	char type;
	sd_bus_message *m = state_entry(h, key, &type);
	const char *s;
	bool found = false;

	assert_non_null(m);
	sd_bus_message_enter_container(m, 'a', "s");
	while (sd_bus_message_read(m, "s", &s) > 0)
		if (!strncmp(s, prefix, strlen(prefix)))
			found = true;
	sd_bus_message_unref(m);
	return found;
}

bool fake_wait_b(struct harness *h, const char *key, bool value, unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;

	do {
		if (fake_b(h, key) == value)
			return true;
		usleep(20000);
	} while (now_ms() < end);
	return false;
}

static bool periph_log_has(struct harness *h, const char *needle)
{
	char path[320], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/periph.log", h->dir);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

bool harness_wait_periph_log(struct harness *h, const char *needle, unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;

	do {
		if (periph_log_has(h, needle))
			return true;
		usleep(20000);
	} while (now_ms() < end);
	return false;
}

bool fake_wait_u_at_least(struct harness *h, const char *key, unsigned min, unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;

	do {
		if (fake_u(h, key) >= min)
			return true;
		usleep(20000);
	} while (now_ms() < end);
	return false;
}

/* ---- the central ------------------------------------------------------------------- */

void central_discover(struct harness *h, unsigned timeout_ms)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;

	if (sd_bus_call_method(h->bus, "org.bluez", "/org/bluez/hci1", "org.bluez.Adapter1",
			       "StartDiscovery", &e, NULL, "") < 0)
		fail_msg("StartDiscovery: %s", e.message);
	if (!fake_wait_b(h, "device_exported", true, timeout_ms))
		fail_msg("the roller was not found by discovery");
	sd_bus_call_method(h->bus, "org.bluez", "/org/bluez/hci1", "org.bluez.Adapter1",
			   "StopDiscovery", NULL, NULL, "");
	fake_s(h, "remote_path", h->remote_path, sizeof(h->remote_path));
	fake_s(h, "remote_address", h->remote_address, sizeof(h->remote_address));
}

void central_chr(struct harness *h, const char *uuid, char *out, size_t cap)
{
	sd_bus_message *reply = NULL;

	out[0] = '\0';
	if (sd_bus_call_method(h->bus, "org.bluez", "/", "org.freedesktop.DBus.ObjectManager",
			       "GetManagedObjects", NULL, &reply, "") < 0)
		return;
	sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}");
	while (sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}") > 0) {
		const char *path, *iface;

		sd_bus_message_read(reply, "o", &path);
		sd_bus_message_enter_container(reply, 'a', "{sa{sv}}");
		while (sd_bus_message_enter_container(reply, 'e', "sa{sv}") > 0) {
			sd_bus_message_read(reply, "s", &iface);
			if (!strcmp(iface, "org.bluez.GattCharacteristic1") &&
			    !strncmp(path, h->remote_path, strlen(h->remote_path))) {
				const char *key, *u;

				sd_bus_message_enter_container(reply, 'a', "{sv}");
				while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
					sd_bus_message_read(reply, "s", &key);
					if (!strcmp(key, "UUID")) {
						sd_bus_message_read(reply, "v", "s", &u);
						if (!strcasecmp(u, uuid))
							snprintf(out, cap, "%s", path);
					} else {
						sd_bus_message_skip(reply, "v");
					}
					sd_bus_message_exit_container(reply);
				}
				sd_bus_message_exit_container(reply);
			} else {
				sd_bus_message_skip(reply, "a{sv}");
			}
			sd_bus_message_exit_container(reply);
		}
		sd_bus_message_exit_container(reply);
		sd_bus_message_exit_container(reply);
	}
	sd_bus_message_unref(reply);
}

int central_connect(struct harness *h)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	char path[200];
	uint64_t end;
	int r;

	r = sd_bus_call_method(h->bus, "org.bluez", h->remote_path, "org.bluez.Device1", "Connect",
			       &e, NULL, "");
	if (r < 0) {
		fprintf(stderr, "Connect: %s\n", e.message);
		sd_bus_error_free(&e);
		return r;
	}
	end = now_ms() + 3000;
	do {
		central_chr(h, PROTO_UUID_INFO, path, sizeof(path));
		if (path[0])
			return 0;
		usleep(20000);
	} while (now_ms() < end);
	return -ETIMEDOUT;
}

int central_pair(struct harness *h, sd_bus_error *e)
{
	return sd_bus_call_method(h->bus, "org.bluez", h->remote_path, "org.bluez.Device1", "Pair",
				  e, NULL, "");
}

int central_read(struct harness *h, const char *uuid, uint8_t *out, size_t cap, size_t *len)
{
	char path[200];
	sd_bus_message *reply = NULL;
	const void *v;
	int r;

	central_chr(h, uuid, path, sizeof(path));
	if (!path[0])
		return -ENOENT;
	r = sd_bus_call_method(h->bus, "org.bluez", path, "org.bluez.GattCharacteristic1",
			       "ReadValue", NULL, &reply, "a{sv}", 0);
	if (r < 0)
		return r;
	r = sd_bus_message_read_array(reply, 'y', &v, len);
	if (r >= 0 && *len <= cap)
		memcpy(out, v, *len);
	sd_bus_message_unref(reply);
	return r < 0 ? r : 0;
}

int central_write(struct harness *h, const char *uuid, const uint8_t *buf, size_t len,
		  sd_bus_error *e)
{
	char path[200];
	sd_bus_message *m = NULL;
	int r;

	central_chr(h, uuid, path, sizeof(path));
	if (!path[0])
		return -ENOENT;
	r = sd_bus_message_new_method_call(h->bus, &m, "org.bluez", path,
					   "org.bluez.GattCharacteristic1", "WriteValue");
	if (r >= 0)
		r = sd_bus_message_append_array(m, 'y', buf, len);
	if (r >= 0)
		r = sd_bus_message_append(m, "a{sv}", 0);
	if (r >= 0)
		r = sd_bus_call(h->bus, m, 0, e, NULL);
	sd_bus_message_unref(m);
	return r;
}

static int on_value(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct central_notes *n = userdata;
	const char *iface, *key;

	(void)error;
	if (sd_bus_message_read(m, "s", &iface) < 0)
		return 0;
	sd_bus_message_enter_container(m, 'a', "{sv}");
	while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
		sd_bus_message_read(m, "s", &key);
		if (!strcmp(key, "Value")) {
			const void *v;
			size_t len;
			struct proto_measurement meas;

			sd_bus_message_enter_container(m, 'v', "ay");
			sd_bus_message_read_array(m, 'y', &v, &len);
			n->count++;
			n->last_len = len < sizeof(n->last) ? len : sizeof(n->last);
			memcpy(n->last, v, n->last_len);
			if (len > n->max_len)
				n->max_len = len;
			if (proto_measurement_decode(v, len, &meas) == 0 &&
			    !(meas.flags & PROTO_MEAS_RESENT)) {
				if (n->have_next && meas.first_sample != n->next_sample)
					n->gaps++;
				n->next_sample = meas.first_sample + meas.count;
				n->have_next = true;
			}
			return 0;
		}
		sd_bus_message_skip(m, "v");
		sd_bus_message_exit_container(m);
	}
	return 0;
}

int central_start_notify(struct harness *h, const char *uuid, struct central_notes *notes,
			 sd_bus_slot **slot)
{
	char path[200];
	int r;

	central_chr(h, uuid, path, sizeof(path));
	if (!path[0])
		return -ENOENT;
	r = sd_bus_match_signal(h->bus, slot, "org.bluez", path, "org.freedesktop.DBus.Properties",
				"PropertiesChanged", on_value, notes);
	if (r < 0)
		return r;
	r = sd_bus_call_method(h->bus, "org.bluez", path, "org.bluez.GattCharacteristic1",
			       "StartNotify", NULL, NULL, "");
	return r < 0 ? r : 0;
}

void central_pump(struct harness *h, unsigned ms)
{
	uint64_t end = now_ms() + ms;

	for (;;) {
		uint64_t t = now_ms();

		while (sd_bus_process(h->bus, NULL) > 0)
			;
		if (t >= end)
			break;
		sd_bus_wait(h->bus, (end - t) * 1000u);
	}
}

bool central_wait_notes(struct harness *h, struct central_notes *notes, unsigned n,
			unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;

	while (notes->count < n && now_ms() < end)
		central_pump(h, 20);
	return notes->count >= n;
}

const char *harness_trace(struct harness *h, const char *name, double force_n, unsigned seconds)
{
	static char path[320];
	FILE *f;
	unsigned i;

	snprintf(path, sizeof(path), "%s/%s", h->dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "# constant %.1f N\nrate 80\n", force_n);
	for (i = 0; i < seconds * 80u; i++)
		fprintf(f, "%.2f\n", force_n);
	fclose(f);
	return path;
}

bool run_until(sd_event *ev, const bool *flag, unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;

	while (!*flag) {
		uint64_t t = now_ms();

		if (t >= end)
			break;
		sd_event_run(ev, (end - t) * 1000u);
	}
	return *flag;
}

void run_for(sd_event *ev, unsigned ms)
{
	uint64_t end = now_ms() + ms;

	for (;;) {
		uint64_t t = now_ms();

		if (t >= end)
			break;
		sd_event_run(ev, (end - t) * 1000u);
	}
}
