/*
 * Test harness for tests/bluez: a private dbus-daemon with a system-bus
 * style configuration (exported as DBUS_SYSTEM_BUS_ADDRESS), fakebluez on it,
 * optionally roller-periph on hci0, and helpers that act as the central on
 * hci1 with plain blocking sd-bus calls (fine in a test: fakebluez and
 * roller-periph are other processes).
 *
 * All helpers fail the running cmocka test on errors they cannot recover
 * from; waits take a timeout in milliseconds.
 */
#ifndef ROLLER_TESTS_BLUEZ_HARNESS_H
#define ROLLER_TESTS_BLUEZ_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#define HARNESS_SKIP 77

struct harness_options {
	bool no_fake;             /* no bluetoothd at all */
	const char *fake_args[4]; /* e.g. "--adapters", "0" / "--deny" */
	bool periph;              /* start roller-periph --adapter hci0 */
	const char *periph_args[8];
	bool trace;               /* ... with --trace of a constant force */
	double trace_force_n;
};

struct harness {
	char dir[256];
	char address[256];
	pid_t dbus_pid, fake_pid, periph_pid;
	sd_bus *bus;              /* the test's own connection */
	const char *fake_args[5];
	char remote_path[128];    /* the roller as hci1 sees it */
	char remote_address[18];
};

/* cmocka set-ups of the failure cases, and the tear-down, for the harness
 * that *state points to: cmocka_unit_test_prestate_setup_teardown(test,
 * harness_setup_no_bluez, harness_teardown, &h). No bluetoothd on the bus;
 * a bluetoothd with no adapter; one that refuses every call (as a D-Bus
 * policy would). */
int harness_setup_no_bluez(void **state);
int harness_setup_no_adapter(void **state);
int harness_setup_denied(void **state);
int harness_teardown(void **state);

/* Exits the test program with HARNESS_SKIP (77) when dbus-daemon is missing. */
void harness_require_dbus(void);
/* Starts everything; returns 0 or fails the test. XDG_CONFIG_HOME points
 * into the harness directory. */
int harness_start(struct harness *h, const struct harness_options *o);
void harness_stop(struct harness *h);
/* Stops fakebluez and starts a new one (bluetoothd restarting). */
void harness_restart_fake(struct harness *h);
/* SIGTERM to roller-periph; returns its exit status (or -1). */
int harness_stop_periph(struct harness *h);
/* Waits until roller-periph's log (it runs with -v) has a line containing
 * needle. */
bool harness_wait_periph_log(struct harness *h, const char *needle, unsigned timeout_ms);
/* Dumps the periph log to stderr (on failures). */
void harness_dump_logs(struct harness *h);

/* org.roller.FakeBluez1 calls. */
void fake_call(struct harness *h, const char *method, const char *types, ...);
unsigned fake_u(struct harness *h, const char *key);
bool fake_b(struct harness *h, const char *key);
/* The value of a string entry, copied into out. */
void fake_s(struct harness *h, const char *key, char *out, size_t cap);
/* Does the string-array entry key contain an element starting with prefix? */
bool fake_as_has(struct harness *h, const char *key, const char *prefix);
/* Polls GetState until key is true (or false). */
bool fake_wait_b(struct harness *h, const char *key, bool value, unsigned timeout_ms);
bool fake_wait_u_at_least(struct harness *h, const char *key, unsigned min, unsigned timeout_ms);

/* The central on hci1 (blocking calls on h->bus). */
struct central_notes {
	unsigned count;
	size_t last_len;
	uint8_t last[256];
	uint32_t next_sample;     /* measurement continuity */
	bool have_next;
	unsigned gaps;
	size_t max_len;
};
void central_discover(struct harness *h, unsigned timeout_ms);
int central_connect(struct harness *h);
int central_pair(struct harness *h, sd_bus_error *e);
/* Path of the remote characteristic with this UUID ("" when none). */
void central_chr(struct harness *h, const char *uuid, char *out, size_t cap);
int central_read(struct harness *h, const char *uuid, uint8_t *out, size_t cap, size_t *len);
int central_write(struct harness *h, const char *uuid, const uint8_t *buf, size_t len,
		  sd_bus_error *e);
int central_start_notify(struct harness *h, const char *uuid, struct central_notes *notes,
			 sd_bus_slot **slot);
/* Processes h->bus for ms milliseconds (notifications land in notes). */
void central_pump(struct harness *h, unsigned ms);
/* Pumps until notes->count >= n; returns true when reached. */
bool central_wait_notes(struct harness *h, struct central_notes *notes, unsigned n,
			unsigned timeout_ms);

/* Writes a trace file into the harness dir; returns its path (static). */
const char *harness_trace(struct harness *h, const char *name, double force_n, unsigned seconds);

/* Runs ev until *flag is true or timeout; returns *flag. */
bool run_until(sd_event *ev, const bool *flag, unsigned timeout_ms);
/* Runs ev for ms. */
void run_for(sd_event *ev, unsigned ms);

#endif
