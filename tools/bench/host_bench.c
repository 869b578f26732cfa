/*
 * host_bench: the host's costs while coaching (issue 5), each as a ratio to a
 * baseline measured in the same run.
 *
 *   1. CPU of `roller coach --sim --speed 1 --plain` over --seconds S (default
 *      20), as % of one core (getrusage of the child / wall time), against a
 *      forked process that runs the same sim transport on an sd-event loop and
 *      only counts its frames (no session, no coach, no UI, no log).
 *   2. Latency notification -> UI update: a thread runs the sim transport and
 *      sends every frame with a CLOCK_MONOTONIC stamp over a SOCK_SEQPACKET
 *      socket (like the AcquireNotify socket); the session reads it through a
 *      bench transport on its sd-event loop, and ui_status() (wrapped with
 *      --wrap=ui_status) takes the stop time. p50/p99 over --frames N (default
 *      5000) against the same socket path into a no-op consumer.
 *   3. Notification ceiling: measurement frames/s received by the bluez
 *      transport through fakebluez from roller-periph at --speed 1000 (rate
 *      1000 trace), with StartNotify and with AcquireNotify, as a ratio to a
 *      bare signal flood (sd-bus emitter thread -> sd-bus match receiver) on
 *      the same private dbus-daemon in the same run (after roller-periph has
 *      stopped). The AcquireNotify path skips the daemon for the data, so it
 *      can exceed the flood. Skipped without dbus-daemon.
 *
 * Usage: host_bench [--seconds S] [--frames N] [--flood-seconds S]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "harness.h"
#include "roller/bluez.h"
#include "roller/coach.h"
#include "roller/protocol.h"
#include "roller/rlog.h"
#include "roller/session.h"
#include "roller/transport.h"
#include "roller/ui.h"

#ifndef ROLLER_BENCH_BUILD_TYPE
#define ROLLER_BENCH_BUILD_TYPE "unknown"
#endif
#ifndef ROLLER_BENCH_ROLLER
#define ROLLER_BENCH_ROLLER ""
#endif

extern char **environ;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static __attribute__((noreturn)) void die(const char *what, int err)
{
	fprintf(stderr, "host_bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static double rusage_s(const struct rusage *ru)
{
	return (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec * 1e-6 +
	       (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec * 1e-6;
}

/* ---- 1. CPU while coaching ---------------------------------------------------------- */

static uint64_t base_frames;

static void count_frame(void *u, enum rlog_channel ch, const uint8_t *b, size_t l, uint64_t m)
{
	(void)u, (void)ch, (void)b, (void)l, (void)m;
	base_frames++;
}

static void ignore_state(void *u, enum transport_state st, int err, const char *d)
{
	(void)u, (void)st, (void)err, (void)d;
}

/* Child: the sim's frame stream at speed 1 into a counter, until SIGINT. */
static __attribute__((noreturn)) void baseline_child(void)
{
	const struct transport_events ev_cb = { .frame = count_frame, .state = ignore_state };
	struct transport_options opt = { .speed = 1.0, .seed = 1, .body_weight_dkg = 750 };
	const struct transport_ops *ops = transport_find("sim");
	struct transport *t;
	sd_event *ev;
	sigset_t ss;

	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	if (!ops || sd_event_new(&ev) < 0 || sd_event_add_signal(ev, NULL, SIGINT, NULL, NULL) < 0 ||
	    ops->create(&t, ev, &opt, &ev_cb, NULL) < 0)
		_exit(1);
	sd_event_loop(ev);
	ops->destroy(t);
	_exit(base_frames > 0 ? 0 : 1);
}

static pid_t spawn_roller(const char *dir)
{
	char *argv[] = { (char *)ROLLER_BENCH_ROLLER, "coach", "--sim", "--speed", "1",
			 "--plain", NULL };
	posix_spawn_file_actions_t fa;
	char xdg[512];
	pid_t pid;
	int r;

	snprintf(xdg, sizeof(xdg), "%s", dir);
	setenv("XDG_DATA_HOME", xdg, 1);
	setenv("XDG_CONFIG_HOME", xdg, 1);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	r = posix_spawn(&pid, ROLLER_BENCH_ROLLER, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r)
		die("posix_spawn roller", r);
	return pid;
}

/* Runs both for `seconds` (concurrently: same machine state), SIGINT, reaps. */
static void bench_cpu(unsigned seconds)
{
	char dir[] = "/tmp/host_bench.XXXXXX";
	struct rusage ru_r = { 0 }, ru_b = { 0 };
	pid_t roller, base;
	double t0, t_r = 0, t_b = 0;
	int st_r = 0, st_b = 0, left = 2;
	char cmd[600];

	printf("1. CPU while coaching a sim stream at speed 1 (%u s, %% of one core)\n", seconds);
	if (!ROLLER_BENCH_ROLLER[0] || access(ROLLER_BENCH_ROLLER, X_OK) < 0) {
		printf("   (skipped: the roller binary is not built)\n");
		return;
	}
	if (!mkdtemp(dir))
		die("mkdtemp", errno);
	t0 = now_s();
	base = fork();
	if (base < 0)
		die("fork", errno);
	if (base == 0)
		baseline_child();
	roller = spawn_roller(dir);
	while (left) {
		struct rusage ru;
		int st;
		pid_t p = wait4(-1, &st, WNOHANG, &ru);

		if (p == roller) {
			ru_r = ru, st_r = st, t_r = now_s() - t0, left--;
		} else if (p == base) {
			ru_b = ru, st_b = st, t_b = now_s() - t0, left--;
		} else if (p == 0) {
			if (now_s() - t0 >= seconds) {
				if (!t_r)
					kill(roller, SIGINT);
				if (!t_b)
					kill(base, SIGINT);
			}
			usleep(20000);
		} else if (p < 0 && errno != EINTR) {
			die("wait4", errno);
		}
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "host_bench: could not remove %s\n", dir);
	double cpu_r = rusage_s(&ru_r) / t_r * 100.0, cpu_b = rusage_s(&ru_b) / t_b * 100.0;

	printf("   %-52s %7.3f %%  (%.1f s wall, %s %d)\n",
	       "roller coach --sim --speed 1 --plain", cpu_r, t_r,
	       WIFEXITED(st_r) ? "exit" : "signal",
	       WIFEXITED(st_r) ? WEXITSTATUS(st_r) : WTERMSIG(st_r));
	printf("   %-52s %7.3f %%  (%.1f s wall, %s %d)\n",
	       "baseline: sim frames into a counter (sd-event)", cpu_b, t_b,
	       WIFEXITED(st_b) ? "exit" : "signal",
	       WIFEXITED(st_b) ? WEXITSTATUS(st_b) : WTERMSIG(st_b));
	printf("   ratio %.2fx baseline; goal < 1 %%: %s\n", cpu_b > 0 ? cpu_r / cpu_b : 0.0,
	       cpu_r < 1.0 ? "met" : "NOT met");
}

/* ---- 2. Latency notification -> UI -------------------------------------------------- */

/* One notification on the socket. */
struct note_hdr {
	uint64_t t_ns;
	uint8_t kind; /* 0 frame, 1 state */
	uint8_t ch;
	uint8_t st;
	uint8_t pad;
	int32_t err;
};

struct injector {
	int notif_fd, ctl_fd;
	atomic_bool stop;
	const struct transport_ops *ops;
	struct transport *t;
	double speed;
};

static void inj_frame(void *u, enum rlog_channel ch, const uint8_t *buf, size_t len, uint64_t m)
{
	struct injector *in = u;
	uint8_t pkt[sizeof(struct note_hdr) + 512];
	struct note_hdr h = { .kind = 0, .ch = (uint8_t)ch };

	(void)m;
	if (len > 512)
		return;
	memcpy(pkt + sizeof(h), buf, len);
	h.t_ns = now_ns();
	memcpy(pkt, &h, sizeof(h));
	if (send(in->notif_fd, pkt, sizeof(h) + len, MSG_NOSIGNAL) < 0 && errno != EPIPE)
		die("send", errno);
}

static void inj_state(void *u, enum transport_state st, int err, const char *d)
{
	struct injector *in = u;
	struct note_hdr h = { .kind = 1, .st = (uint8_t)st, .err = err };

	(void)d;
	h.t_ns = now_ns();
	(void)send(in->notif_fd, &h, sizeof(h), MSG_NOSIGNAL);
}

static int inj_ctl(sd_event_source *s, int fd, uint32_t revents, void *u)
{
	struct injector *in = u;
	uint8_t buf[513];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	(void)s, (void)revents;
	/* buf[0]: 0 a control request, 1 a coach cue (the sim person follows). */
	if (n > 1 && buf[0] == 0)
		(void)in->ops->write_control(in->t, buf + 1, (size_t)n - 1);
	else if (n == 2 && buf[0] == 1 && in->ops->coach_cue)
		in->ops->coach_cue(in->t, buf[1]);
	return 0;
}

static void *injector_main(void *arg)
{
	struct injector *in = arg;
	const struct transport_events cb = { .frame = inj_frame, .state = inj_state };
	struct transport_options opt = { .speed = in->speed, .seed = 1, .body_weight_dkg = 750 };
	sd_event *ev;
	int r;

	in->ops = transport_find("sim");
	if (!in->ops || (r = sd_event_new(&ev)) < 0)
		die("injector", -EINVAL);
	if ((r = sd_event_add_io(ev, NULL, in->ctl_fd, EPOLLIN, inj_ctl, in)) < 0 ||
	    (r = in->ops->create(&in->t, ev, &opt, &cb, in)) < 0)
		die("injector sim", r);
	while (!atomic_load(&in->stop))
		if ((r = sd_event_run(ev, 10000)) < 0)
			die("injector loop", r);
	in->ops->destroy(in->t);
	sd_event_unref(ev);
	return NULL;
}

/* The bench transport: reads the socket on the session's loop. */
struct transport {
	const struct transport_events *events;
	void *userdata;
	int notif_fd, ctl_fd;
	sd_event_source *src;
};

static uint64_t cur_t0;            /* stamp of the frame being delivered, 0 = none */
static uint64_t *lat;              /* latencies, ns */
static size_t nlat, lat_cap;

static void lat_add(void)
{
	if (cur_t0 && nlat < lat_cap)
		lat[nlat++] = now_ns() - cur_t0;
	cur_t0 = 0;
}

void __real_ui_status(struct ui *ui, const struct ui_status *status);
void __wrap_ui_status(struct ui *ui, const struct ui_status *status);
void __wrap_ui_status(struct ui *ui, const struct ui_status *status)
{
	__real_ui_status(ui, status);
	lat_add(); /* the UI has been updated for this frame */
}

static int sock_in(sd_event_source *s, int fd, uint32_t revents, void *u)
{
	struct transport *t = u;
	uint8_t pkt[sizeof(struct note_hdr) + 512];
	struct note_hdr h;
	ssize_t n;

	(void)s, (void)revents;
	while ((n = recv(fd, pkt, sizeof(pkt), MSG_DONTWAIT)) >= (ssize_t)sizeof(h)) {
		memcpy(&h, pkt, sizeof(h));
		if (h.kind == 1) {
			t->events->state(t->userdata, (enum transport_state)h.st, h.err, NULL);
			continue;
		}
		cur_t0 = h.ch == RLOG_CH_MEASUREMENT ? h.t_ns : 0;
		t->events->frame(t->userdata, (enum rlog_channel)h.ch, pkt + sizeof(h),
				 (size_t)n - sizeof(h), now_ns() / 1000u);
		cur_t0 = 0;
	}
	return 0;
}

static int sock_fds[2]; /* notif, ctl: set before create() */

static int sock_create(struct transport **out, sd_event *ev, const struct transport_options *opt,
		       const struct transport_events *events, void *userdata)
{
	struct transport *t = calloc(1, sizeof(*t));
	int r;

	(void)opt;
	if (!t)
		return -ENOMEM;
	t->events = events;
	t->userdata = userdata;
	t->notif_fd = sock_fds[0];
	t->ctl_fd = sock_fds[1];
	r = sd_event_add_io(ev, &t->src, t->notif_fd, EPOLLIN, sock_in, t);
	if (r < 0) {
		free(t);
		return r;
	}
	*out = t;
	return 0;
}

static int sock_write_control(struct transport *t, const uint8_t *buf, size_t len)
{
	uint8_t pkt[513];

	if (len > 512)
		return -EMSGSIZE;
	pkt[0] = 0;
	memcpy(pkt + 1, buf, len);
	return send(t->ctl_fd, pkt, len + 1, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static void sock_coach_cue(struct transport *t, int cue)
{
	uint8_t pkt[2] = { 1, (uint8_t)cue };

	(void)send(t->ctl_fd, pkt, sizeof(pkt), MSG_NOSIGNAL);
}

static uint16_t sock_mtu(struct transport *t)
{
	(void)t;
	return 23;
}

static void sock_destroy(struct transport *t)
{
	if (!t)
		return;
	sd_event_source_disable_unref(t->src);
	free(t);
}

static const struct transport_ops sock_ops = {
	.name = "sim", .create = sock_create, .write_control = sock_write_control,
	.coach_cue = sock_coach_cue,
	.mtu = sock_mtu, .destroy = sock_destroy,
};

static void noop_frame(void *u, enum rlog_channel ch, const uint8_t *b, size_t l, uint64_t m)
{
	(void)u, (void)ch, (void)b, (void)l, (void)m;
	lat_add();
}

static const struct transport_events noop_events = { .frame = noop_frame, .state = ignore_state };

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void session_done(void *u, int err)
{
	(void)err;
	*(bool *)u = true;
}

/* One session (or no-op consumer) fed until n latencies are in or it ends. */
static void latency_segment(bool with_session, size_t n, double speed)
{
	int notif[2], ctl[2];
	struct injector in = { .speed = speed };
	struct transport *bare = NULL;
	struct session *s = NULL;
	struct ui *ui = NULL;
	FILE *devnull = fopen("/dev/null", "w");
	bool done = false;
	pthread_t th;
	sd_event *ev;
	double t0;
	int r;

	if (!devnull || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, notif) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0)
		die("socketpair", errno);
	in.notif_fd = notif[0];
	in.ctl_fd = ctl[0];
	sock_fds[0] = notif[1];
	sock_fds[1] = ctl[1];
	if ((r = sd_event_new(&ev)) < 0)
		die("setup", -ENOMEM);
	if (with_session) {
		struct ui_options uo = { .mode = UI_MODE_PLAIN, .out = devnull, .notices = devnull };
		struct session_options so;
		struct coach_plan plan;

		memset(&so, 0, sizeof(so));
		so.transport = &sock_ops;
		so.transport_options.speed = speed;
		so.transport_options.seed = 1;
		so.transport_options.body_weight_dkg = 750;
		so.header.region = PROTO_REGION_CALVES;
		snprintf(so.header.roller_id, sizeof(so.header.roller_id), "sim:1");
		snprintf(so.header.transport, sizeof(so.header.transport), "sim");
		coach_plan_default(PROTO_REGION_CALVES, &plan);
		session_header_set_plan(&so.header, &plan, 750);
		so.done = session_done;
		so.userdata = &done;
		if ((r = ui_create(&ui, ev, &uo)) < 0 || (r = session_create(&s, ev, ui, &so)) < 0)
			die("session", r);
	} else if ((r = sock_ops.create(&bare, ev, NULL, &noop_events, NULL)) < 0) {
		die("bare transport", r);
	}
	if (pthread_create(&th, NULL, injector_main, &in))
		die("pthread_create", EAGAIN);
	t0 = now_s();
	while (nlat < n && !done && now_s() - t0 < 120)
		if ((r = sd_event_run(ev, 100000)) < 0)
			die("loop", r);
	atomic_store(&in.stop, true);
	pthread_join(th, NULL);
	session_destroy(s);
	ui_destroy(ui);
	sock_destroy(bare);
	sd_event_unref(ev);
	close(notif[0]), close(notif[1]), close(ctl[0]), close(ctl[1]);
	fclose(devnull);
}

/* Runs n measurement frames through the socket into sessions (a new one when
 * the coach has finished) or the no-op consumer; p50/p99 in µs. */
static void latency_run(bool with_session, size_t n, double speed, double *p50, double *p99,
			unsigned *sessions)
{
	size_t before;

	lat = calloc(n, sizeof(*lat));
	lat_cap = n;
	nlat = 0;
	*sessions = 0;
	if (!lat)
		die("calloc", ENOMEM);
	do {
		before = nlat;
		latency_segment(with_session, n, speed);
		(*sessions)++;
	} while (nlat < n && nlat > before);
	if (nlat < n)
		die("too few frames", EIO);
	qsort(lat, nlat, sizeof(*lat), cmp_u64);
	*p50 = (double)lat[nlat / 2] / 1e3;
	*p99 = (double)lat[nlat * 99 / 100] / 1e3;
	free(lat);
	lat = NULL;
}

static void bench_latency(size_t frames)
{
	double s50, s99, b50, b99;
	const double speed = 10.0;
	unsigned ns, nb;

	printf("2. Latency notification -> UI update (%zu measurement frames, sim at speed %g "
	       "over a SOCK_SEQPACKET socket, plain UI)\n", frames, speed);
	latency_run(false, frames, speed, &b50, &b99, &nb);
	latency_run(true, frames, speed, &s50, &s99, &ns);
	printf("   %-52s p50 %8.1f us  p99 %8.1f us  (%u session%s)\n",
	       "session + coach + ui_status", s50, s99, ns, ns == 1 ? "" : "s");
	printf("   %-52s p50 %8.1f us  p99 %8.1f us\n", "baseline: same socket into a no-op consumer",
	       b50, b99);
	printf("   ratio p50 %.2fx, p99 %.2fx baseline\n", b50 > 0 ? s50 / b50 : 0.0,
	       b99 > 0 ? s99 / b99 : 0.0);
}

/* ---- 3. Notification ceiling ---------------------------------------------------------- */

#define ROLLER_ADDR "00:AA:01:00:00:10" /* hci0 of fakebluez */

struct flood {
	char address[256];
	atomic_bool stop;
	atomic_bool ready;
};

static void *flood_emitter(void *arg)
{
	struct flood *f = arg;
	uint8_t payload[20] = { 0 };
	sd_bus *bus = NULL;
	unsigned k = 0;
	int r;

	if ((r = sd_bus_new(&bus)) < 0 || (r = sd_bus_set_address(bus, f->address)) < 0 ||
	    (r = sd_bus_set_bus_client(bus, 1)) < 0 || (r = sd_bus_start(bus)) < 0)
		die("flood emitter bus", r);
	while (!atomic_load(&f->ready))
		usleep(1000);
	while (!atomic_load(&f->stop)) {
		payload[0] = (uint8_t)k;
		r = sd_bus_emit_signal(bus, "/org/roller/bench", "org.roller.Bench1", "Tick", "ay",
				       sizeof(payload), payload);
		if (r < 0 && r != -ENOBUFS)
			die("emit", r);
		if (++k % 32 == 0 || r == -ENOBUFS)
			sd_bus_flush(bus);
	}
	sd_bus_flush_close_unref(bus);
	return NULL;
}

static int on_tick(sd_bus_message *m, void *u, sd_bus_error *e)
{
	(void)m, (void)e;
	(*(uint64_t *)u)++;
	return 0;
}

static double flood_rate(struct harness *h, double seconds)
{
	struct flood f = { 0 };
	sd_bus *bus = NULL;
	uint64_t count = 0, c0;
	pthread_t th;
	double t0, t1;
	int r;

	snprintf(f.address, sizeof(f.address), "%s", h->address);
	if ((r = sd_bus_new(&bus)) < 0 || (r = sd_bus_set_address(bus, h->address)) < 0 ||
	    (r = sd_bus_set_bus_client(bus, 1)) < 0 || (r = sd_bus_start(bus)) < 0 ||
	    (r = sd_bus_match_signal(bus, NULL, NULL, "/org/roller/bench", "org.roller.Bench1",
				     "Tick", on_tick, &count)) < 0)
		die("flood receiver bus", r);
	if (pthread_create(&th, NULL, flood_emitter, &f))
		die("pthread_create", EAGAIN);
	atomic_store(&f.ready, true);
	t0 = now_s();
	while (now_s() - t0 < 0.5) /* warm-up */
		if (sd_bus_process(bus, NULL) == 0)
			sd_bus_wait(bus, 10000);
	c0 = count;
	t0 = now_s();
	while ((t1 = now_s()) - t0 < seconds)
		if ((r = sd_bus_process(bus, NULL)) < 0)
			die("process", r);
		else if (r == 0)
			sd_bus_wait(bus, 10000);
	atomic_store(&f.stop, true);
	pthread_join(th, NULL);
	sd_bus_flush_close_unref(bus);
	return (double)(count - c0) / (t1 - t0);
}

struct rx {
	uint64_t meas;
	bool connected, failed;
};

static void rx_frame(void *u, enum rlog_channel ch, const uint8_t *b, size_t l, uint64_t m)
{
	struct rx *x = u;

	(void)b, (void)l, (void)m;
	if (ch == RLOG_CH_MEASUREMENT)
		x->meas++;
}

static void rx_state(void *u, enum transport_state st, int err, const char *d)
{
	struct rx *x = u;

	(void)d;
	if (st == TRANSPORT_CONNECTED && !err)
		x->connected = true;
	if (st == TRANSPORT_FAILED)
		x->failed = true;
}

static double bluez_rate(struct harness *h, bool acquire, double seconds)
{
	const struct transport_events cb = { .frame = rx_frame, .state = rx_state };
	struct transport_options opt = { .address = ROLLER_ADDR, .adapter = "hci1",
					 .acquire_notify = acquire };
	struct transport *t;
	struct rx x = { 0 };
	uint64_t c0;
	sd_event *ev;
	double t0, t1;
	int r;

	fake_call(h, "AddKnownDevice", "bb", 1, 1);
	if ((r = sd_event_new(&ev)) < 0 || (r = bluez_transport_ops.create(&t, ev, &opt, &cb, &x)) < 0)
		die("bluez transport", r);
	if (!run_until(ev, &x.connected, 15000) || x.failed) {
		harness_dump_logs(h);
		die("bluez transport did not connect", ETIMEDOUT);
	}
	run_for(ev, 500); /* warm-up */
	c0 = x.meas;
	t0 = now_s();
	while ((t1 = now_s()) - t0 < seconds)
		sd_event_run(ev, 50000);
	bluez_transport_ops.destroy(t);
	run_for(ev, 50);
	sd_event_unref(ev);
	return (double)(x.meas - c0) / (t1 - t0);
}

static void bench_ceiling(double seconds)
{
	char trace[] = "/tmp/host_bench_trace.XXXXXX";
	double flood, start_rate, acq_rate;
	struct harness h;
	int fd;
	FILE *f;

	printf("3. Notification ceiling (%.0f s each; roller-periph --speed 1000, rate 1000 trace)\n",
	       seconds);
	if ((fd = mkstemp(trace)) < 0 || !(f = fdopen(fd, "w")))
		die("trace", errno);
	fprintf(f, "# host_bench\nrate 1000\n");
	for (int i = 0; i < 2000; i++)
		fprintf(f, "%.1f\n", 40.0 + (i % 100) * 0.1);
	fclose(f);

	{
		struct harness_options o = { .periph = true,
					     .periph_args = { "--trace", trace, "--loop", "--speed",
							      "1000" } };

		memset(&h, 0, sizeof(h));
		harness_start(&h, &o);
		start_rate = bluez_rate(&h, false, seconds);
		/* The flood on the same daemon, with roller-periph gone (it
		 * produces samples even without a subscriber). */
		harness_stop_periph(&h);
		flood = flood_rate(&h, seconds);
		harness_stop(&h);
	}
	{
		struct harness_options o = { .periph = true,
					     .periph_args = { "--trace", trace, "--loop", "--speed",
							      "1000", "--notify-fd" } };

		memset(&h, 0, sizeof(h));
		harness_start(&h, &o);
		acq_rate = bluez_rate(&h, true, seconds);
		harness_stop(&h);
	}
	unlink(trace);
	printf("   %-52s %10.0f /s\n", "baseline: bare dbus-daemon signal flood (sd-bus)", flood);
	printf("   %-52s %10.0f /s  %.3fx flood\n", "bluez transport, StartNotify (PropertiesChanged)",
	       start_rate, start_rate / flood);
	printf("   %-52s %10.0f /s  %.3fx flood\n", "bluez transport, AcquireNotify (fd)", acq_rate,
	       acq_rate / flood);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "frames", required_argument, NULL, 'f' },
		{ "flood-seconds", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned seconds = 20, frames = 5000;
	double flood_s = 5;
	int c;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			seconds = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'f':
			frames = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			flood_s = strtod(optarg, NULL);
			break;
		default:
			printf("usage: host_bench [--seconds S] [--frames N] [--flood-seconds S]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!seconds || frames < 100 || !(flood_s > 0))
		die("bad arguments", EINVAL);
	printf("host_bench: build type %s; ratios against a baseline of the same run\n",
	       ROLLER_BENCH_BUILD_TYPE);
	fflush(stdout);
	bench_cpu(seconds);
	fflush(stdout);
	bench_latency(frames);
	fflush(stdout);
	if (access("/usr/bin/dbus-daemon", X_OK) == 0 || system("command -v dbus-daemon >/dev/null") == 0)
		bench_ceiling(flood_s);
	else
		printf("3. Notification ceiling: skipped (no dbus-daemon)\n");
	return 0;
}
