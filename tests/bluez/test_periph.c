/*
 * roller-periph against fakebluez: what a central (and bluetoothd) sees.
 * Registration (application, advertisement, default agent), reads, control
 * writes and their responses, notifications at MTU 23 and 247, NOT_AUTHORIZED
 * on an unbonded link, the AcquireNotify path, traces, clean unregistration.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/wait.h>

#include <cmocka.h>

#include "harness.h"
#include "roller/protocol.h"

#define UUID_MEAS PROTO_UUID_MEASUREMENT
#define UUID_EVENT PROTO_UUID_EVENT
#define UUID_CONTROL PROTO_UUID_CONTROL
#define UUID_LOG PROTO_UUID_LOG
#define UUID_INFO PROTO_UUID_INFO

static struct harness h;

static int start_periph(void **state, const char *a1, const char *a2, const char *a3)
{
	struct harness_options o = { .periph = true };

	(void)state;
	o.periph_args[0] = a1;
	o.periph_args[1] = a1 ? a2 : NULL;
	o.periph_args[2] = a1 && a2 ? a3 : NULL;
	return harness_start(&h, &o);
}

static int setup(void **state)
{
	return start_periph(state, NULL, NULL, NULL);
}

static int teardown(void **state)
{
	(void)state;
	harness_stop(&h);
	return 0;
}

/* Connects hci1 to the roller, pairs (bonded unless told), subscribes. */
static void connect_pair(bool pair)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;

	central_discover(&h, 3000);
	assert_int_equal(central_connect(&h), 0);
	if (pair && central_pair(&h, &e) < 0)
		fail_msg("Pair: %s", e.message);
	sd_bus_error_free(&e);
}

static void control(struct central_notes *n, uint8_t opcode, uint8_t token,
		    struct proto_control_response *rs)
{
	struct proto_control_request rq = { .opcode = opcode, .token = token };
	uint8_t buf[32];
	size_t len;
	unsigned before = n->count;
	sd_bus_error e = SD_BUS_ERROR_NULL;

	if (opcode == PROTO_OP_CALIBRATE)
		rq.u.calibrate.load = 100;
	assert_int_equal(proto_request_encode(&rq, buf, sizeof(buf), &len), 0);
	if (central_write(&h, UUID_CONTROL, buf, len, &e) < 0)
		fail_msg("WriteValue: %s", e.message);
	sd_bus_error_free(&e);
	if (!central_wait_notes(&h, n, before + 1, 5000)) {
		harness_dump_logs(&h);
		fail_msg("no control response to opcode %u", opcode);
	}
	assert_int_equal(proto_response_decode(n->last, n->last_len, rs), 0);
	assert_int_equal(rs->opcode, opcode);
	assert_int_equal(rs->token, token);
}

static void test_registers_app_advert_agent(void **state)
{
	(void)state;
	assert_true(fake_b(&h, "app_registered"));
	assert_int_equal(fake_u(&h, "app_services"), 3);
	assert_true(fake_as_has(&h, "app_chrs", UUID_MEAS " notify"));
	assert_true(fake_as_has(&h, "app_chrs", UUID_EVENT " indicate"));
	assert_true(fake_as_has(&h, "app_chrs", UUID_CONTROL " encrypt-write,indicate"));
	assert_true(fake_as_has(&h, "app_chrs", UUID_LOG " encrypt-notify"));
	assert_true(fake_as_has(&h, "app_chrs", UUID_INFO " read"));
	assert_true(fake_as_has(&h, "app_chrs", "00002a19-0000-1000-8000-00805f9b34fb read,notify"));
	assert_true(fake_as_has(&h, "app_chrs", "00002a29-0000-1000-8000-00805f9b34fb read"));
	assert_true(fake_as_has(&h, "app_chrs", "00002a26-0000-1000-8000-00805f9b34fb read"));
	/* StartNotify by default: no AcquireNotify offered. */
	assert_false(fake_as_has(&h, "app_chrs", UUID_MEAS " notify acquire"));

	assert_true(fake_b(&h, "adv_registered"));
	{
		char s[64];

		fake_s(&h, "adv_type", s, sizeof(s));
		assert_string_equal(s, "peripheral");
		fake_s(&h, "adv_name", s, sizeof(s));
		assert_string_equal(s, "Roller");
	}
	assert_true(fake_as_has(&h, "adv_uuids", PROTO_UUID_SERVICE));
	assert_true(fake_b(&h, "adv_discoverable"));
	assert_in_range(fake_u(&h, "adv_size"), 20, 31);
	assert_true(fake_as_has(&h, "agents", "/org/roller/agent NoInputNoOutput default"));
}

static void test_info_read(void **state)
{
	uint8_t buf[64];
	size_t len = 0;
	struct proto_info info;

	(void)state;
	connect_pair(false);
	/* Info is readable without pairing. */
	assert_int_equal(central_read(&h, UUID_INFO, buf, sizeof(buf), &len), 0);
	assert_int_equal(proto_info_decode(buf, len, &info), 0);
	assert_int_equal(info.proto_major, PROTO_VERSION);
	assert_true(info.capabilities & PROTO_CAP_SIMULATED);
	assert_int_equal(info.sample_period_us, 12500); /* the simulated person at 80 Hz */
	assert_true(info.channels >= 1);
	/* Device Information */
	assert_int_equal(central_read(&h, "00002a24-0000-1000-8000-00805f9b34fb", buf, sizeof(buf),
				      &len), 0);
	assert_memory_equal(buf, "roller-periph", 13);
	assert_int_equal(central_read(&h, "00002a19-0000-1000-8000-00805f9b34fb", buf, sizeof(buf),
				      &len), 0);
	assert_int_equal(len, 1);
	assert_in_range(buf[0], 0, 100);
}

static void test_pairing_asks_default_agent(void **state)
{
	(void)state;
	connect_pair(true);
	assert_true(fake_b(&h, "responder_agent_called"));
	assert_true(fake_b(&h, "paired"));
	assert_true(fake_b(&h, "bonded"));
}

static void test_control_and_notifications_mtu23(void **state)
{
	struct central_notes ctl = { 0 }, meas = { 0 };
	struct proto_control_response rs;
	sd_bus_slot *s1 = NULL, *s2 = NULL;

	(void)state;
	connect_pair(true);
	assert_int_equal(central_start_notify(&h, UUID_CONTROL, &ctl, &s1), 0);
	assert_int_equal(central_start_notify(&h, UUID_MEAS, &meas, &s2), 0);
	control(&ctl, PROTO_OP_VERSION, 7, &rs);
	assert_int_equal(rs.status, PROTO_STATUS_OK);
	assert_int_equal(rs.u.version.proto_major, PROTO_VERSION);
	/* A state-changing request on an encrypted, bonded link. */
	control(&ctl, PROTO_OP_BATTERY, 8, &rs);
	assert_int_equal(rs.status, PROTO_STATUS_OK);
	assert_in_range(rs.u.battery.percent, 1, 100);

	/* 80 Hz, batches within ~100 ms: a second gives several frames. */
	if (!central_wait_notes(&h, &meas, 8, 4000)) {
		harness_dump_logs(&h);
		fail_msg("only %u measurement notifications", meas.count);
	}
	assert_int_equal(meas.gaps, 0);
	assert_true(meas.max_len <= 23 - 3);
	assert_true(fake_u(&h, "confirms") >= 2); /* indications were confirmed */
	sd_bus_slot_unref(s1);
	sd_bus_slot_unref(s2);
}

static void test_mtu247(void **state)
{
	struct central_notes meas = { 0 };
	sd_bus_slot *s = NULL;
	uint8_t buf[64];
	size_t len;

	(void)state;
	fake_call(&h, "SetMtu", "q", (uint16_t)247);
	connect_pair(true);
	/* The roller learns the MTU from the options of the first access. */
	assert_int_equal(central_read(&h, UUID_INFO, buf, sizeof(buf), &len), 0);
	assert_int_equal(central_start_notify(&h, UUID_MEAS, &meas, &s), 0);
	assert_true(central_wait_notes(&h, &meas, 5, 4000));
	assert_int_equal(meas.gaps, 0);
	assert_true(meas.max_len > 20);
	assert_true(meas.max_len <= 247 - 3);
	sd_bus_slot_unref(s);
}

static void test_not_bonded_is_not_authorized(void **state)
{
	struct central_notes ctl = { 0 };
	struct proto_control_response rs;
	sd_bus_slot *s = NULL;

	(void)state;
	fake_call(&h, "SetBondable", "b", 0);
	connect_pair(true); /* paired (encrypted), but not bonded */
	assert_false(fake_b(&h, "bonded"));
	assert_int_equal(central_start_notify(&h, UUID_CONTROL, &ctl, &s), 0);
	control(&ctl, PROTO_OP_TARE, 3, &rs);
	assert_int_equal(rs.status, PROTO_STATUS_NOT_AUTHORIZED);
	/* Reading requests stay allowed. */
	control(&ctl, PROTO_OP_VERSION, 4, &rs);
	assert_int_equal(rs.status, PROTO_STATUS_OK);
	sd_bus_slot_unref(s);
}

static void test_unpaired_control_write_refused_by_bluez(void **state)
{
	uint8_t buf[8];
	size_t len;
	struct proto_control_request rq = { .opcode = PROTO_OP_VERSION, .token = 1 };
	sd_bus_error e = SD_BUS_ERROR_NULL;

	(void)state;
	connect_pair(false);
	assert_int_equal(proto_request_encode(&rq, buf, sizeof(buf), &len), 0);
	/* encrypt-write: bluetoothd refuses before the roller sees it. */
	assert_true(central_write(&h, UUID_CONTROL, buf, len, &e) < 0);
	sd_bus_error_free(&e);
}

static void test_sigterm_unregisters(void **state)
{
	(void)state;
	assert_int_equal(harness_stop_periph(&h), 0);
	assert_false(fake_b(&h, "app_registered"));
	assert_false(fake_b(&h, "adv_registered"));
	assert_false(fake_as_has(&h, "agents", "/org/roller/agent"));
}

/* SIGTERM while the central has not confirmed an indication: roller-periph
 * sends nothing more and unregisters only after the confirmation (bluetoothd
 * 5.66 aborts on a confirmation for an application that is gone). */
static void test_sigterm_waits_for_confirmation(void **state)
{
	struct central_notes ctl = { 0 }, meas = { 0 };
	struct proto_control_response rs;
	sd_bus_slot *s = NULL, *s2 = NULL;
	unsigned delivered;
	pid_t pid = h.periph_pid;
	int status;

	(void)state;
	connect_pair(true);
	assert_int_equal(central_start_notify(&h, UUID_CONTROL, &ctl, &s), 0);
	assert_int_equal(central_start_notify(&h, UUID_MEAS, &meas, &s2), 0);
	assert_true(central_wait_notes(&h, &meas, 2, 4000)); /* streaming */
	fake_call(&h, "HoldConfirms", "b", 1);
	control(&ctl, PROTO_OP_VERSION, 9, &rs); /* its response is an indication */
	assert_int_equal(fake_u(&h, "held_confirms"), 1);

	assert_int_equal(kill(pid, SIGTERM), 0);
	if (!harness_wait_periph_log(&h, "waiting for the central to confirm", 5000)) {
		harness_dump_logs(&h);
		fail_msg("roller-periph did not wait for the confirmation");
	}
	/* Waiting, it sends nothing: not a measurement in 300 ms (at 80 Hz a
	 * streaming roller notifies about every 100 ms). */
	delivered = fake_u(&h, "delivered");
	central_pump(&h, 300);
	assert_int_equal(fake_u(&h, "delivered"), delivered);
	assert_true(fake_b(&h, "app_registered"));
	assert_true(fake_b(&h, "adv_registered"));

	fake_call(&h, "HoldConfirms", "b", 0);
	assert_true(fake_wait_b(&h, "app_registered", false, 5000));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	h.periph_pid = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_false(fake_b(&h, "gone_unconfirmed"));
	assert_false(fake_b(&h, "adv_registered"));
	sd_bus_slot_unref(s);
	sd_bus_slot_unref(s2);
}

static void test_bluetoothd_restart(void **state)
{
	(void)state;
	harness_restart_fake(&h);
	/* roller-periph sees org.bluez come back and registers again */
	assert_true(fake_wait_b(&h, "adv_registered", true, 5000));
	assert_true(fake_b(&h, "app_registered"));
	assert_true(fake_as_has(&h, "agents", "/org/roller/agent NoInputNoOutput default"));
	connect_pair(true);
	assert_true(fake_b(&h, "responder_agent_called"));
}

static int setup_notify_fd(void **state)
{
	return start_periph(state, "--notify-fd", NULL, NULL);
}

static void test_notify_fd(void **state)
{
	struct central_notes meas = { 0 };
	sd_bus_slot *s = NULL;

	(void)state;
	assert_true(fake_as_has(&h, "app_chrs", UUID_MEAS " notify acquire"));
	assert_true(fake_as_has(&h, "app_chrs", UUID_LOG " encrypt-notify acquire"));
	connect_pair(true);
	assert_int_equal(central_start_notify(&h, UUID_MEAS, &meas, &s), 0);
	assert_true(central_wait_notes(&h, &meas, 8, 4000));
	assert_int_equal(meas.gaps, 0);
	assert_true(fake_u(&h, "app_acquire_notify") >= 1);
	sd_bus_slot_unref(s);
}

static int setup_trace(void **state)
{
	struct harness_options o = { .periph = true, .trace = true, .trace_force_n = 50.0 };

	(void)state;
	return harness_start(&h, &o);
}

static void test_trace_force(void **state)
{
	struct central_notes meas = { 0 };
	struct proto_measurement m;
	sd_bus_slot *s = NULL;
	int i;

	(void)state;
	connect_pair(true);
	assert_int_equal(central_start_notify(&h, UUID_MEAS, &meas, &s), 0);
	assert_true(central_wait_notes(&h, &meas, 20, 6000));
	assert_int_equal(proto_measurement_decode(meas.last, meas.last_len, &m), 0);
	/* 50 N at the default scale (uncalibrated counts -> dN), filter settled. */
	for (i = 0; i < m.count; i++)
		assert_in_range(m.force[i], 450, 550);
	sd_bus_slot_unref(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registers_app_advert_agent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_info_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pairing_asks_default_agent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_and_notifications_mtu23, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mtu247, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_bonded_is_not_authorized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unpaired_control_write_refused_by_bluez, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sigterm_unregisters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigterm_waits_for_confirmation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bluetoothd_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_fd, setup_notify_fd, teardown),
		cmocka_unit_test_setup_teardown(test_trace_force, setup_trace, teardown),
	};

	harness_require_dbus();
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
