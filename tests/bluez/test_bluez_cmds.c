/*
 * The Bluetooth subcommands, run in-process against fakebluez and
 * roller-periph: what the user reads and the exit code, for scan, pair
 * (through our agent, and each failure), devices, forget, status, tare,
 * calibrate, and the "no Bluetooth" errors with their hints.
 */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "fast_timing.h"
#include "roller/bluez.h"

#define ROLLER_ADDR "00:AA:01:00:00:10"

static struct harness h;
static char out[16384], err[16384];

typedef int (*cmd_fn)(int argc, char **argv);

static void slurp(int fd, char *buf, size_t cap)
{
	ssize_t n;
	size_t len = 0;

	lseek(fd, 0, SEEK_SET);
	while (len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
}

/* Runs a subcommand with stdout/stderr captured and stdin fed from text. */
static int run(cmd_fn fn, const char *input, ...)
{
	char *argv[16];
	int argc = 0, saved[3], fo, fe, p[2], rc;
	char path_o[300], path_e[300];
	va_list ap;

	va_start(ap, input);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;

	snprintf(path_o, sizeof(path_o), "%s/out.txt", h.dir);
	snprintf(path_e, sizeof(path_e), "%s/err.txt", h.dir);
	fo = open(path_o, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	fe = open(path_e, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fo >= 0 && fe >= 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	if (input)
		assert_int_equal(write(p[1], input, strlen(input)), (ssize_t)strlen(input));
	close(p[1]);
	fflush(stdout);
	fflush(stderr);
	saved[0] = dup(0);
	saved[1] = dup(1);
	saved[2] = dup(2);
	dup2(p[0], 0);
	dup2(fo, 1);
	dup2(fe, 2);
	rc = fn(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved[0], 0);
	dup2(saved[1], 1);
	dup2(saved[2], 2);
	close(saved[0]);
	close(saved[1]);
	close(saved[2]);
	close(p[0]);
	clearerr(stdin);
	slurp(fo, out, sizeof(out));
	slurp(fe, err, sizeof(err));
	close(fo);
	close(fe);
	if (getenv("ROLLER_TEST_LOGS"))
		fprintf(stderr, "[%s -> %d]\n--stdout--\n%s--stderr--\n%s", argv[0], rc, out, err);
	return rc;
}

#define expect_in(buf, text)                                                                    \
	do {                                                                                    \
		if (!strstr((buf), (text)))                                                     \
			fail_msg("expected '%s' in:\n%s\n(stderr: %s)", (text), (buf), err);    \
	} while (0)

static int setup(void **state)
{
	struct harness_options o = { .periph = true };

	(void)state;
	return harness_start(&h, &o);
}

static int setup_zero_trace(void **state)
{
	struct harness_options o = { .periph = true, .trace = true, .trace_force_n = 0.0 };

	(void)state;
	return harness_start(&h, &o);
}

static int setup_loaded_trace(void **state)
{
	struct harness_options o = { .periph = true, .trace = true, .trace_force_n = 300.0 };

	(void)state;
	return harness_start(&h, &o);
}

static int teardown(void **state)
{
	(void)state;
	harness_stop(&h);
	return 0;
}

static void pair_ok(void)
{
	int rc = run(bluez_cmd_pair, NULL, "pair", "--adapter", "hci1", ROLLER_ADDR, NULL);

	if (rc != 0)
		fail_msg("pair: %d\n%s%s", rc, out, err);
}

static void read_config(char *buf, size_t cap)
{
	char path[320];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/config/roller/config.ini", h.dir);
	buf[0] = '\0';
	f = fopen(path, "r");
	if (!f)
		return;
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* ---- scan ----------------------------------------------------------------------------- */

static void test_scan(void **state)
{
	(void)state;
	assert_int_equal(run(bluez_cmd_scan, NULL, "scan", "--adapter", "hci1", "--timeout", "2",
			     NULL), 0);
	expect_in(out, "Found Roller");
	expect_in(out, ROLLER_ADDR);
	expect_in(out, "dBm");
	assert_int_equal(run(bluez_cmd_scan, NULL, "scan", "--adapter", "hci1", "--timeout", "2",
			     "--json", NULL), 0);
	expect_in(out, "\"address\":\"" ROLLER_ADDR "\"");
	expect_in(out, "\"name\":\"Roller\"");
	expect_in(out, "\"rssi\":-5");
	expect_in(out, "\"paired\":false");
	assert_true(fake_as_has(&h, "filter_uuids", PROTO_UUID_SERVICE));
}

static void test_scan_restarts_discovery(void **state)
{
	(void)state;
	fake_call(&h, "SetScanMiss", "u", 1);
	assert_int_equal(run(bluez_cmd_scan, NULL, "scan", "--adapter", "hci1", "--timeout", "3",
			     NULL), 0);
	expect_in(out, ROLLER_ADDR);
	assert_true(fake_u(&h, "discovery_starts") >= 2);
}

static void test_scan_nothing(void **state)
{
	(void)state;
	assert_int_equal(harness_stop_periph(&h), 0);
	assert_int_equal(run(bluez_cmd_scan, NULL, "scan", "--adapter", "hci1", "--timeout", "1",
			     NULL), BLUEZ_EXIT_NOT_FOUND);
	expect_in(err, "no roller found");
	expect_in(err, "switched on");
}

/* A child that sends this test process `sig` once the command's stdout (run()
 * writes it to out.txt) holds `needle`; it gives up after 20 s. Returns its
 * pid, for signal_child_done(). */
static pid_t signal_when(const char *needle, int sig)
{
	pid_t parent = getpid(), child;
	char path[300];

	snprintf(path, sizeof(path), "%s/out.txt", h.dir);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		for (int i = 0; i < 2000; i++) {
			char buf[4096] = "";
			FILE *f = fopen(path, "r");

			if (f) {
				size_t n = fread(buf, 1, sizeof(buf) - 1, f);

				buf[n] = '\0';
				fclose(f);
				if (strstr(buf, needle)) {
					kill(parent, sig);
					_exit(0);
				}
			}
			usleep(10000);
		}
		_exit(1);
	}
	return child;
}

static void signal_child_done(pid_t child)
{
	int status;

	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0); /* it saw the line and signalled */
}

/* Ctrl-C ends a scan as its timeout would: what it found is listed, exit 0. */
static void test_scan_ctrl_c(void **state)
{
	pid_t child;

	(void)state;
	child = signal_when(ROLLER_ADDR, SIGINT);
	assert_int_equal(run(bluez_cmd_scan, NULL, "scan", "--adapter", "hci1", "--timeout", "60",
			     NULL), 0);
	signal_child_done(child);
	expect_in(out, "1 roller found");
	assert_true(fake_u(&h, "discovery_stops") >= 1);
}

/* SIGTERM while `roller pair` looks for a roller that is not there: it stops
 * at once with 128 + 15 and says so. */
static void test_pair_sigterm(void **state)
{
	pid_t child;

	(void)state;
	assert_int_equal(harness_stop_periph(&h), 0);
	child = signal_when("Looking for", SIGTERM);
	assert_int_equal(run(bluez_cmd_pair, NULL, "pair", "--adapter", "hci1", "--timeout", "60",
			     ROLLER_ADDR, NULL), 128 + SIGTERM);
	signal_child_done(child);
	expect_in(err, "stopped");
	assert_false(fake_b(&h, "paired"));
}

/* ---- pair ------------------------------------------------------------------------------ */

static void test_pair_and_already_paired(void **state)
{
	char cfg[1024];

	(void)state;
	pair_ok();
	expect_in(out, "Paired with Roller (" ROLLER_ADDR ")");
	expect_in(out, "default roller");
	assert_true(fake_b(&h, "paired"));
	assert_true(fake_b(&h, "bonded"));
	assert_true(fake_b(&h, "trusted"));
	assert_true(fake_b(&h, "responder_agent_called")); /* the roller's default agent */
	{
		char agent[128];

		fake_s(&h, "pair_agent", agent, sizeof(agent));
		assert_true(!strncmp(agent, "/org/roller/agent", 17)); /* ours, not a desktop's */
	}
	read_config(cfg, sizeof(cfg));
	expect_in(cfg, "[roller]");
	expect_in(cfg, "default=" ROLLER_ADDR);
	assert_true(fake_wait_b(&h, "connected", false, 2000)); /* link released */

	assert_int_equal(run(bluez_cmd_pair, NULL, "pair", "--adapter", "hci1", ROLLER_ADDR, NULL),
			 BLUEZ_EXIT_ALREADY_PAIRED);
	expect_in(out, "already paired");
	assert_int_equal(fake_u(&h, "pair_calls"), 1); /* Pair never called on a paired device */
}

/* Paired without a bond (keys not stored): `roller pair` removes that
 * pairing and pairs again, so that the roller takes control writes. */
static void test_pair_repairs_an_unbonded_pairing(void **state)
{
	(void)state;
	fake_call(&h, "AddKnownDevice", "bb", 1, 0);
	assert_int_equal(run(bluez_cmd_pair, NULL, "pair", "--adapter", "hci1", ROLLER_ADDR, NULL),
			 BLUEZ_EXIT_OK);
	expect_in(out, "not bonded");
	expect_in(out, "Paired with");
	assert_int_equal(fake_u(&h, "remove_calls"), 1);
	assert_int_equal(fake_u(&h, "pair_calls"), 1);
	assert_true(fake_b(&h, "paired"));
	assert_true(fake_b(&h, "bonded"));
}

static void test_pair_keeps_other_config(void **state)
{
	char path[320], cfg[1024];
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/config", h.dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/config/roller", h.dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/config/roller/config.ini", h.dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("; mine\n[user]\nweight_kg = 70\n[roller]\ndefault = 11:22:33:44:55:66\n"
	      "[plan.calves]\nhold_s = 60\n", f);
	fclose(f);
	pair_ok();
	read_config(cfg, sizeof(cfg));
	expect_in(cfg, "; mine\n[user]\nweight_kg = 70\n[roller]\ndefault=" ROLLER_ADDR "\n"
		       "[plan.calves]\nhold_s = 60\n");
}

static void pair_fails(const char *mode, int code, const char *words)
{
	fake_call(&h, "SetPairMode", "s", mode);
	assert_int_equal(run(bluez_cmd_pair, NULL, "pair", "--adapter", "hci1", ROLLER_ADDR, NULL),
			 code);
	expect_in(err, words);
	assert_false(fake_b(&h, "paired"));
}

static void test_pair_failures(void **state)
{
	char cfg[256];

	(void)state;
	pair_fails("auth-failed", BLUEZ_EXIT_AUTH_FAILED, "authentication failed");
	pair_fails("rejected", BLUEZ_EXIT_BONDED_ELSEWHERE, "bonded to another computer");
	pair_fails("in-progress", BLUEZ_EXIT_IN_PROGRESS, "already in progress");
	pair_fails("timeout", BLUEZ_EXIT_AUTH_FAILED, "timed out");
	read_config(cfg, sizeof(cfg));
	assert_null(strstr(cfg, "default=")); /* nothing remembered */
}

static void test_pair_not_found(void **state)
{
	(void)state;
	assert_int_equal(harness_stop_periph(&h), 0);
	assert_int_equal(run(bluez_cmd_pair, NULL, "pair", "--adapter", "hci1", "--timeout", "2",
			     ROLLER_ADDR, NULL), BLUEZ_EXIT_NOT_FOUND);
	expect_in(err, "no roller " ROLLER_ADDR " found");
	expect_in(err, "roller scan");
}

static void test_pair_passkey_entry(void **state)
{
	(void)state;
	fake_call(&h, "SetPairMethod", "s", "passkey");
	assert_int_equal(run(bluez_cmd_pair, "111111\n", "pair", "--adapter", "hci1", "--passkey",
			     ROLLER_ADDR, NULL), BLUEZ_EXIT_AUTH_FAILED);
	expect_in(out, "Enter the passkey");
	assert_int_equal(run(bluez_cmd_pair, "123456\n", "pair", "--adapter", "hci1", "--passkey",
			     ROLLER_ADDR, NULL), 0);
	assert_true(fake_as_has(&h, "agent_calls", "initiator:RequestPasskey"));
	assert_true(fake_b(&h, "paired"));
}

static void test_pair_numeric_comparison(void **state)
{
	(void)state;
	fake_call(&h, "SetPairMethod", "s", "confirm");
	assert_int_equal(run(bluez_cmd_pair, "n\n", "pair", "--adapter", "hci1", "--passkey",
			     ROLLER_ADDR, NULL), BLUEZ_EXIT_AUTH_FAILED);
	expect_in(out, "123456");
	expect_in(err, "not confirmed");
	assert_int_equal(run(bluez_cmd_pair, "y\n", "pair", "--adapter", "hci1", "--passkey",
			     ROLLER_ADDR, NULL), 0);
	assert_true(fake_as_has(&h, "agent_calls", "initiator:RequestConfirmation"));
}

static void test_pair_bad_address(void **state)
{
	(void)state;
	assert_int_equal(run(bluez_cmd_pair, NULL, "pair", "roller", NULL), BLUEZ_EXIT_USAGE);
	expect_in(err, "not a Bluetooth address");
	assert_int_equal(run(bluez_cmd_pair, NULL, "pair", "--help", NULL), 0);
	expect_in(out, "Usage: roller pair");
}

/* ---- devices, forget ------------------------------------------------------------------- */

static void test_devices_and_forget(void **state)
{
	char cfg[256];

	(void)state;
	assert_int_equal(run(bluez_cmd_devices, NULL, "devices", "--adapter", "hci1", NULL), 0);
	expect_in(out, "No rollers known");
	pair_ok();
	assert_int_equal(run(bluez_cmd_devices, NULL, "devices", "--adapter", "hci1", NULL), 0);
	expect_in(out, "* " ROLLER_ADDR "  Roller");
	assert_int_equal(run(bluez_cmd_devices, NULL, "devices", "--adapter", "hci1", "--json",
			     NULL), 0);
	expect_in(out, "\"paired\":true,\"bonded\":true,\"trusted\":true");
	expect_in(out, "\"default\":true");

	assert_int_equal(run(bluez_cmd_forget, NULL, "forget", "--adapter", "hci1", ROLLER_ADDR,
			     NULL), 0);
	expect_in(out, "Forgot " ROLLER_ADDR);
	assert_int_equal(fake_u(&h, "remove_calls"), 1);
	assert_false(fake_b(&h, "paired"));
	read_config(cfg, sizeof(cfg));
	assert_null(strstr(cfg, "default="));
	assert_int_equal(run(bluez_cmd_forget, NULL, "forget", "--adapter", "hci1", ROLLER_ADDR,
			     NULL), BLUEZ_EXIT_NOT_FOUND);
	expect_in(err, "not known");
}

/* ---- status, tare, calibrate ------------------------------------------------------------ */

static void test_status(void **state)
{
	(void)state;
	pair_ok();
	assert_int_equal(run(bluez_cmd_status, NULL, "status", "--adapter", "hci1", NULL), 0);
	expect_in(out, "Roller " ROLLER_ADDR " (Roller)");
	expect_in(out, "paired, bonded, trusted; ATT MTU 23");
	expect_in(out, "firmware:");
	expect_in(out, "protocol:     1.");
	expect_in(out, "battery:      ");
	expect_in(out, "calibration:");
	expect_in(out, "80 Hz");
	expect_in(out, "simulated");
	assert_int_equal(run(bluez_cmd_status, NULL, "status", "--adapter", "hci1", "--json",
			     ROLLER_ADDR, NULL), 0);
	expect_in(out, "\"address\":\"" ROLLER_ADDR "\"");
	expect_in(out, "\"battery_percent\":");
	expect_in(out, "\"sample_rate_hz\":80");
	expect_in(out, "\"calibration\":\"");
	assert_true(fake_wait_b(&h, "connected", false, 2000)); /* released afterwards */
}

/* Seen in the QEMU rig: the roller's response arrived before bluetoothd
 * answered the WriteValue, and the next request was refused as busy. */
static void test_status_response_before_write_reply(void **state)
{
	(void)state;
	pair_ok();
	fake_call(&h, "SetWriteReplyDelay", "u", 300);
	assert_int_equal(run(bluez_cmd_status, NULL, "status", "--adapter", "hci1", NULL), 0);
	expect_in(out, "battery:");
}

static void test_status_not_paired_and_no_default(void **state)
{
	(void)state;
	assert_int_equal(run(bluez_cmd_status, NULL, "status", "--adapter", "hci1", NULL),
			 BLUEZ_EXIT_NOT_FOUND);
	expect_in(err, "no default roller");
	assert_int_equal(run(bluez_cmd_status, NULL, "status", "--adapter", "hci1", ROLLER_ADDR,
			     NULL), BLUEZ_EXIT_NOT_PAIRED);
	expect_in(err, "roller pair " ROLLER_ADDR);
	assert_int_equal(fake_u(&h, "connect_calls"), 0);
}

static void test_status_unreachable(void **state)
{
	(void)state;
	pair_ok();
	assert_int_equal(harness_stop_periph(&h), 0);
	assert_int_equal(run(bluez_cmd_status, NULL, "status", "--adapter", "hci1", "--timeout", "3",
			     NULL), BLUEZ_EXIT_UNREACHABLE);
	expect_in(err, "could not connect");
}

/* The core judges stillness over a window of samples: give the freshly
 * started roller a moment before asking for a zero. */
static void settle(void)
{
	usleep(1000000);
}

static void test_tare(void **state)
{
	(void)state;
	pair_ok();
	settle();
	assert_int_equal(run(bluez_cmd_tare, NULL, "tare", "--adapter", "hci1", NULL), 0);
	expect_in(out, "Tared");
}

static void test_calibrate_refused_when_loaded(void **state)
{
	(void)state;
	pair_ok();
	/* 300 N on the roller: the zero cannot be set (busy). */
	assert_int_equal(run(bluez_cmd_calibrate, NULL, "calibrate", "--adapter", "hci1", "--yes",
			     "--weight", "10", NULL), BLUEZ_EXIT_REFUSED);
	expect_in(err, "take everything off the roller");
}

static void test_calibrate_guided_prompts(void **state)
{
	(void)state;
	pair_ok();
	settle();
	/* Enter after step 1; then a mass that is not a number, then EOF. */
	assert_int_equal(run(bluez_cmd_calibrate, "\nten\n", "calibrate", "--adapter", "hci1", NULL),
			 BLUEZ_EXIT_USAGE);
	expect_in(out, "Step 1 of 2");
	expect_in(out, "Step 2 of 2");
	expect_in(out, "Please type the mass in kilograms");
}

/* ---- no Bluetooth ---------------------------------------------------------------------- */

static void test_bluetoothd_not_running(void **state)
{
	(void)state;
	assert_int_equal(run(bluez_cmd_scan, NULL, "scan", NULL), BLUEZ_EXIT_NO_BLUETOOTH);
	expect_in(err, "bluetoothd is not running");
	expect_in(err, "systemctl start bluetooth");
	assert_int_equal(run(bluez_cmd_status, NULL, "status", ROLLER_ADDR, NULL),
			 BLUEZ_EXIT_NO_BLUETOOTH);
}

static void test_no_adapter(void **state)
{
	(void)state;
	assert_int_equal(run(bluez_cmd_devices, NULL, "devices", NULL), BLUEZ_EXIT_NO_BLUETOOTH);
	expect_in(err, "no Bluetooth adapter found");
	expect_in(err, "rfkill");
}

static void test_unknown_adapter(void **state)
{
	(void)state;
	assert_int_equal(run(bluez_cmd_scan, NULL, "scan", "--adapter", "hci7", NULL),
			 BLUEZ_EXIT_NO_BLUETOOTH);
	expect_in(err, "no Bluetooth adapter hci7");
}

static void test_permission_denied(void **state)
{
	(void)state;
	assert_int_equal(run(bluez_cmd_pair, NULL, "pair", ROLLER_ADDR, NULL),
			 BLUEZ_EXIT_NO_BLUETOOTH);
	expect_in(err, "permission denied");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_restarts_discovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_ctrl_c, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pair_sigterm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pair_and_already_paired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pair_keeps_other_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pair_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pair_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pair_passkey_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pair_numeric_comparison, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pair_bad_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pair_repairs_an_unbonded_pairing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_devices_and_forget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_response_before_write_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_not_paired_and_no_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_unreachable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tare, setup_zero_trace, teardown),
		cmocka_unit_test_setup_teardown(test_calibrate_refused_when_loaded, setup_loaded_trace,
						teardown),
		cmocka_unit_test_setup_teardown(test_calibrate_guided_prompts, setup_zero_trace,
						teardown),
		cmocka_unit_test_prestate_setup_teardown(test_bluetoothd_not_running, harness_setup_no_bluez,
							 harness_teardown, &h),
		cmocka_unit_test_prestate_setup_teardown(test_no_adapter, harness_setup_no_adapter,
							 harness_teardown, &h),
		cmocka_unit_test_setup_teardown(test_unknown_adapter, setup, teardown),
		cmocka_unit_test_prestate_setup_teardown(test_permission_denied, harness_setup_denied,
							 harness_teardown, &h),
	};

	harness_require_dbus();
	signal(SIGPIPE, SIG_IGN);
	fast_bluez_timing();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
