/*
 * The real libusb backend of the usb transport against an emulated roller
 * (usb_emulator.h: umockdev + a usbdevfs ioctl handler running the device
 * core). Runs under libumockdev-preload (ctest sets LD_PRELOAD). What a user
 * would notice: the roller is found and opened although a driver held it,
 * frames and requests flow, a sync stores the roller's sessions byte for
 * byte even when the cable is pulled mid-transfer and put back, a roller
 * that stops taking requests is reopened, and a permission problem ends
 * with the udev rule to install.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <umockdev.h>

#include "roller/protocol.h"
#include "roller/sync.h"
#include "roller/usb.h"

#include "fake_roller.h"
#include "sync_check.h"
#include "usb_emulator.h"

#define DEVICE_ID 0x5B0CAB1Eu

/* ---- Watching a transport ------------------------------------------------------------ */

struct watch {
	enum transport_state state;
	int err;
	char detail[512];
	unsigned connected;
	unsigned lost;
	unsigned frames, info, measurements, responses;
	bool info_first;
	uint8_t response[PROTO_FRAME_MAX];
	size_t response_len;
};

static void on_frame(void *userdata, enum rlog_channel ch, const uint8_t *buf, size_t len,
		     uint64_t mono_us)
{
	struct watch *w = userdata;

	(void)mono_us;
	if (w->frames == 0)
		w->info_first = buf[1] == PROTO_TYPE_INFO && ch == RLOG_CH_INFO;
	w->frames++;
	if (buf[1] == PROTO_TYPE_INFO)
		w->info++;
	if (buf[1] == PROTO_TYPE_MEASUREMENT) {
		assert_int_equal(ch, RLOG_CH_MEASUREMENT);
		w->measurements++;
	}
	if (buf[1] == PROTO_TYPE_CONTROL_RESPONSE) {
		assert_int_equal(ch, RLOG_CH_CONTROL);
		w->responses++;
		memcpy(w->response, buf, len);
		w->response_len = len;
	}
}

static void on_state(void *userdata, enum transport_state st, int err, const char *detail)
{
	struct watch *w = userdata;

	w->state = st;
	w->err = err;
	snprintf(w->detail, sizeof(w->detail), "%s", detail ? detail : "");
	if (st == TRANSPORT_CONNECTED) {
		w->connected++;
		w->frames = 0;
	}
	if (st == TRANSPORT_LINK_LOST)
		w->lost++;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Runs the loop until cond(w) or the deadline; returns cond's last value. */
static bool run_until(sd_event *ev, bool (*cond)(const struct watch *w), const struct watch *w,
		      unsigned timeout_ms)
{
	const uint64_t end = now_ms() + timeout_ms;

	while (!cond(w) && now_ms() < end)
		assert_true(sd_event_run(ev, 10000) >= 0);
	return cond(w);
}

static bool is_streaming(const struct watch *w)
{
	return w->connected && w->info && w->measurements >= 2;
}

static bool has_response(const struct watch *w)
{
	return w->responses > 0;
}

static bool has_failed(const struct watch *w)
{
	return w->state == TRANSPORT_FAILED;
}

static bool reconnected(const struct watch *w)
{
	return w->connected >= 2 && w->info;
}

struct rig {
	struct fake_roller *roller;
	struct usb_emulator *emu;
	sd_event *ev;
	struct transport *t;
	struct watch w;
};

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->roller = malloc(sizeof(*r->roller));
	assert_non_null(r->roller);
	assert_int_equal(fake_roller_init(r->roller, DEVICE_ID), 0);
	assert_int_equal(sd_event_new(&r->ev), 0);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	if (r->t)
		usb_transport_ops.destroy(r->t);
	usb_emulator_stop(r->emu);
	sd_event_unref(r->ev);
	free(r->roller);
	free(r);
	return 0;
}

static void open_transport(struct rig *r)
{
	static const struct transport_events events = { .frame = on_frame, .state = on_state };
	struct transport_options opt = { 0 };

	assert_int_equal(usb_transport_ops.create(&r->t, r->ev, &opt, &events, &r->w), 0);
}

/* ---- Tests -------------------------------------------------------------------------------- */

/* Found, driver detached, opened, INFO first, live frames, a request answered,
 * CLOSE on the way out. */
static void test_umockdev_enumerate_stream_request(void **state)
{
	struct rig *r = *state;
	struct usb_emulator_counters c;
	struct proto_control_request q = { .opcode = PROTO_OP_LOG_INFO, .token = 0x42 };
	struct proto_control_response rsp;
	uint8_t buf[PROTO_REQUEST_MAX];
	size_t len = 0;

	assert_int_equal(usb_emulator_start(&r->emu, r->roller, false), 0);
	open_transport(r);
	assert_true(run_until(r->ev, is_streaming, &r->w, 5000));
	assert_true(r->w.info_first);
	assert_int_equal(usb_transport_ops.mtu(r->t), PROTO_MTU_MAX);
	usb_emulator_counters(r->emu, &c);
	assert_int_equal(c.opens, 1);
	assert_int_equal(c.detaches, 1); /* auto-detach of the bound driver */

	assert_int_equal(proto_request_encode(&q, buf, sizeof(buf), &len), 0);
	assert_int_equal(usb_transport_ops.write_control(r->t, buf, len), 0);
	assert_true(run_until(r->ev, has_response, &r->w, 3000));
	assert_int_equal(proto_response_decode(r->w.response, r->w.response_len, &rsp), 0);
	assert_int_equal(rsp.opcode, PROTO_OP_LOG_INFO);
	assert_int_equal(rsp.token, 0x42);
	assert_int_equal(rsp.status, PROTO_STATUS_OK);

	usb_transport_ops.destroy(r->t);
	r->t = NULL;
	usb_emulator_counters(r->emu, &c);
	assert_int_equal(c.closes, 1);
	assert_true(c.out_transfers >= 1);
}

struct sync_rig {
	struct rig *r;
	struct fake_roller_record *truth;
	size_t truth_n;
	uint32_t first, end;
	char sessions[4096], state[4096];
	struct sync_options opt;
};

static void sync_setup(struct sync_rig *s, struct rig *r)
{
	int n;

	memset(s, 0, sizeof(*s));
	s->r = r;
	assert_int_equal(fake_roller_record(r->roller, 0, 6, 1), 0);
	assert_int_equal(fake_roller_record(r->roller, PROTO_REGION_SHINS, 6, 2), 0);
	s->truth = calloc(CHECK_MAX_RECORDS, sizeof(*s->truth));
	n = fake_roller_read_log(r->roller, s->truth, CHECK_MAX_RECORDS);
	assert_true(n > 0);
	s->truth_n = (size_t)n;
	fake_roller_log_info(r->roller, &s->first, &s->end);
	check_tempdir(s->sessions, sizeof(s->sessions), "usb-sessions");
	check_tempdir(s->state, sizeof(s->state), "usb-state");
	s->opt = (struct sync_options){
		.transport = &usb_transport_ops,
		.sessions_dir = s->sessions,
		.state_dir = s->state,
		.connect_timeout_ms = 5000,
		.reconnect_timeout_ms = 5000,
		.chunk_timeout_ms = 1000,
	};
}

static void sync_check(struct sync_rig *s)
{
	struct check_stored st;

	assert_int_equal(check_read_stored(s->sessions, &st), 0);
	assert_int_equal(st.files, 2);
	assert_string_equal(st.transport[0], "usb");
	assert_int_equal(st.regions[1], PROTO_REGION_SHINS);
	check_same_records(&st, s->truth, s->truth_n, s->first, s->end);
	check_stored_free(&st);
	check_rmtree(s->sessions);
	check_rmtree(s->state);
	free(s->truth);
}

static void test_umockdev_sync(void **state)
{
	struct rig *r = *state;
	struct sync_rig s;
	struct sync_result res;

	sync_setup(&s, r);
	assert_int_equal(usb_emulator_start(&r->emu, r->roller, false), 0);
	assert_int_equal(check_run_sync(&s.opt, &res, NULL), 0);
	assert_int_equal(res.device_id, DEVICE_ID);
	assert_int_equal(res.sessions_written, 2);
	assert_int_equal(res.records, s.truth_n);
	assert_int_equal(res.link_losses, 0);
	sync_check(&s);
}

/* Replugs the cable 200 ms after the emulator pulled it. */
struct replug {
	struct usb_emulator *emu;
	uint64_t gone_since;
	unsigned replugs;
};

static int on_replug_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct replug *p = userdata;

	usb_emulator_tick(p->emu);
	if (!usb_emulator_present(p->emu)) {
		if (!p->gone_since)
			p->gone_since = now_ms();
		else if (now_ms() - p->gone_since >= 200) {
			usb_emulator_plug(p->emu);
			p->gone_since = 0;
			p->replugs++;
		}
	}
	sd_event_source_set_time(src, usec + 20000);
	return 0;
}

static void test_umockdev_unplug_mid_transfer_then_resume(void **state)
{
	struct rig *r = *state;
	struct sync_rig s;
	struct sync_result res;
	struct replug p = { 0 };
	sd_event_source *timer = NULL;
	sd_event *ev = NULL;

	sync_setup(&s, r);
	assert_int_equal(usb_emulator_start(&r->emu, r->roller, false), 0);
	p.emu = r->emu;
	usb_emulator_unplug_after_chunks(r->emu, 7);
	/* check_run_sync runs the thread's default loop: the replug timer too. */
	assert_true(sd_event_default(&ev) >= 0);
	assert_int_equal(sd_event_add_time_relative(ev, &timer, CLOCK_MONOTONIC, 20000, 1000,
						    on_replug_timer, &p),
			 0);
	sd_event_source_set_enabled(timer, SD_EVENT_ON);
	assert_int_equal(check_run_sync(&s.opt, &res, NULL), 0);
	sd_event_source_disable_unref(timer);
	sd_event_unref(ev);
	assert_int_equal(p.replugs, 1);
	assert_int_equal(res.link_losses, 1);
	assert_true(res.resumes >= 1);
	assert_int_equal(res.records, s.truth_n);
	sync_check(&s);
}

/* A roller that stops taking requests: the OUT transfer times out (1 s), the
 * transport closes the link and opens it again. */
static void test_umockdev_write_timeout_reopens(void **state)
{
	struct rig *r = *state;
	struct usb_emulator_counters c;
	struct usb_transport_counters tc;
	const uint8_t req[] = { 0x01, 0x03, 0x02, 0x09, 0x07 };
	uint64_t t0;

	assert_int_equal(usb_emulator_start(&r->emu, r->roller, false), 0);
	open_transport(r);
	assert_true(run_until(r->ev, is_streaming, &r->w, 5000));
	usb_emulator_hang_out(r->emu, 1);
	r->w.info = 0;
	t0 = now_ms();
	assert_int_equal(usb_transport_ops.write_control(r->t, req, sizeof(req)), 0);
	assert_true(run_until(r->ev, reconnected, &r->w, 5000));
	assert_true(now_ms() - t0 >= USB_OUT_TIMEOUT_MS);
	assert_int_equal(r->w.lost, 1);
	usb_emulator_counters(r->emu, &c);
	assert_true(c.discards >= 1);
	assert_int_equal(c.opens, 2);
	usb_transport_counters(r->t, &tc);
	assert_int_equal(tc.write_timeouts, 1);
	assert_int_equal(tc.reopens, 1);
}

/* Drops CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH from the effective set (root
 * otherwise opens anything); restores them afterwards. */
static bool dac_caps(bool enable)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	if (enable)
		d[0].effective |= d[0].permitted & ((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH));
	else
		d[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH));
	return syscall(SYS_capset, &h, d) == 0;
}

/* No udev rule: the node is not the user's. The transport retries for a
 * while (udev may be late after a hotplug), then says what to install. */
static void test_umockdev_permission_denied(void **state)
{
	struct rig *r = *state;

	assert_int_equal(usb_emulator_start(&r->emu, r->roller, false), 0);
	assert_int_equal(chmod(usb_emulator_node(r->emu), 0), 0);
	assert_true(dac_caps(false));
	open_transport(r);
	run_until(r->ev, has_failed, &r->w, (USB_ACCESS_RETRIES + 4) * USB_ACCESS_RETRY_MS);
	assert_true(dac_caps(true));
	assert_int_equal(r->w.state, TRANSPORT_FAILED);
	assert_int_equal(r->w.err, -EACCES);
	assert_non_null(strstr(r->w.detail, "tools/udev/70-roller.rules"));
	assert_non_null(strstr(r->w.detail, "udevadm"));
	assert_non_null(strstr(r->w.detail, "/dev/bus/usb/001/001"));
	print_message("%s\n", r->w.detail);
}

static void test_umockdev_open_refused_while_on_bluetooth(void **state)
{
	struct rig *r = *state;

	assert_int_equal(usb_emulator_start(&r->emu, r->roller, false), 0);
	usb_emulator_refuse_open(r->emu, true);
	open_transport(r);
	assert_true(run_until(r->ev, has_failed, &r->w, 3000));
	assert_int_equal(r->w.err, -EBUSY);
	assert_non_null(strstr(r->w.detail, "Bluetooth"));
}

static void test_umockdev_other_protocol_major(void **state)
{
	struct rig *r = *state;

	assert_int_equal(usb_emulator_start_with(&r->emu, r->roller, false, 2), 0);
	open_transport(r);
	assert_true(run_until(r->ev, has_failed, &r->w, 3000));
	assert_int_equal(r->w.err, -EPROTONOSUPPORT);
	assert_non_null(strstr(r->w.detail, "protocol 2.x"));
}

/* Runs the roller program with args; its stdout (and stderr) into out.
 * Returns the exit status. The child finds the test bed through
 * UMOCKDEV_DIR and LD_PRELOAD, inherited; the emulator answers it from
 * this process. */
static int run_roller_path(const char *path, const char *xdg, char *const args[], char *out,
			   size_t cap)
{
	int fds[2], status = 0;
	size_t n = 0;
	ssize_t got;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		setenv("XDG_DATA_HOME", xdg, 1);
		setenv("XDG_CONFIG_HOME", xdg, 1);
		execv(path, args);
		_exit(127);
	}
	close(fds[1]);
	while (n + 1 < cap && (got = read(fds[0], out + n, cap - 1 - n)) > 0)
		n += (size_t)got;
	out[n] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int run_roller(const char *xdg, char *const args[], char *out, size_t cap)
{
	return run_roller_path(ROLLER_BIN, xdg, args, out, cap);
}

/* `roller coach --usb`: the live screen over the cable (plain lines), then
 * Ctrl-C: a clean stop. */
static void test_umockdev_cli_coach(void **state)
{
	struct rig *r = *state;
	char xdg[4096], out[16384];
	char *coach[] = { "timeout", "--preserve-status", "-s", "INT", "3", ROLLER_BIN, "coach",
			  "--usb", "--plain", "--no-log", "--body-weight", "70", NULL };
	int code;

	check_tempdir(xdg, sizeof(xdg), "cli-xdg");
	assert_int_equal(usb_emulator_start(&r->emu, r->roller, false), 0);
	code = run_roller_path("/usr/bin/timeout", xdg, coach, out, sizeof(out));
	print_message("%s", out);
	assert_int_equal(code, 0);
	assert_non_null(strstr(out, "connected"));
	check_rmtree(xdg);
}

/* `roller sync --usb` as a user runs it, then again (nothing new), then
 * with --erase; and `roller sync` without Bluetooth in the build. */
static void test_umockdev_cli_sync(void **state)
{
	struct rig *r = *state;
	char xdg[4096], out[16384];
	char *sync_json[] = { "roller", "sync", "--usb", "--json", "--wait", "5", NULL };
	char *sync_plain[] = { "roller", "sync", "--usb", "--erase", NULL };
	char *sync_ble[] = { "roller", "sync", "AA:BB:CC:DD:EE:FF", NULL };
	uint32_t first = 0, end = 0;
	int code;

	assert_int_equal(fake_roller_record(r->roller, 0, 6, 1), 0);
	assert_int_equal(fake_roller_record(r->roller, PROTO_REGION_NECK, 6, 2), 0);
	fake_roller_log_info(r->roller, &first, &end);
	check_tempdir(xdg, sizeof(xdg), "cli-xdg");
	assert_int_equal(usb_emulator_start(&r->emu, r->roller, false), 0);

	code = run_roller(xdg, sync_json, out, sizeof(out));
	print_message("%s", out);
	assert_int_equal(code, 0);
	assert_non_null(strstr(out, "\"session\":"));
	assert_non_null(strstr(out, "\"sessions_saved\":2"));
	{
		/* A synced session replays like a live one. */
		char path[4096], *p = strstr(out, "\"session\":\""), *q;
		char *replay[] = { "roller", "replay", path, "--summary", "--plain", NULL };
		char *dump[] = { "roller", "log", "dump", path, NULL };
		size_t k = 0;

		assert_non_null(p);
		p += strlen("\"session\":\"");
		for (q = p; *q && *q != '"' && k + 1 < sizeof(path); q++)
			if (*q != '\\')
				path[k++] = *q;
		path[k] = '\0';
		code = run_roller(xdg, replay, out, sizeof(out));
		print_message("%s", out);
		assert_int_equal(code, 0);
		code = run_roller(xdg, dump, out, sizeof(out));
		assert_int_equal(code, 0);
		assert_non_null(strstr(out, "info proto=1.0"));
		assert_non_null(strstr(out, "sync: roller 5B0CAB1E over usb, log records 0.."));
	}

	code = run_roller(xdg, sync_plain, out, sizeof(out));
	print_message("%s", out);
	assert_int_equal(code, 0);
	assert_non_null(strstr(out, "0 new sessions"));
	assert_non_null(strstr(out, "erased the roller's log below record"));

	code = run_roller(xdg, sync_ble, out, sizeof(out));
	if (!strstr(out, "no bluez transport")) /* a build with Bluetooth fails otherwise */
		assert_int_not_equal(code, 0);
	else
		assert_int_equal(code, 1);
	check_rmtree(xdg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_umockdev_enumerate_stream_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_umockdev_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_umockdev_unplug_mid_transfer_then_resume, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_umockdev_write_timeout_reopens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_umockdev_permission_denied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_umockdev_open_refused_while_on_bluetooth, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_umockdev_other_protocol_major, setup, teardown),
		cmocka_unit_test_setup_teardown(test_umockdev_cli_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_umockdev_cli_coach, setup, teardown),
	};

	const char *preload = getenv("LD_PRELOAD");

	if (!preload || !strstr(preload, "libumockdev-preload")) {
		fprintf(stderr, "test_usb_umockdev: run under umockdev (LD_PRELOAD=libumockdev-preload.so.0)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
