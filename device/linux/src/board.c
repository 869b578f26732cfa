/*
 * The core's ports on Linux: a simulated person or a recorded trace instead of
 * load cells, flash in RAM (optionally mirrored to a file so that sessions
 * and calibration survive a restart), a slowly draining simulated battery,
 * and the GATT link of gatt.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "periph.h"

#define COUNTS_PER_N 400 /* the core's default scale: 2500 micro-newtons per count */
/* A real ADC never returns one code for long, and the core takes a stuck
 * code for a disconnected cell: traces are played with this much noise. */
#define TRACE_NOISE_COUNTS 20
#define BATTERY_FULL_MV 4150u
#define BATTERY_EMPTY_MV 3300u
#define BATTERY_START_MV 4100u

static struct board *board_of(void *ctx)
{
	return ctx;
}

/* ---- force and motion ---------------------------------------------------- */

static int force_read(void *ctx, int32_t *counts, size_t n)
{
	struct board *b = board_of(ctx);

	if (n != b->channels)
		return -EINVAL;
	memcpy(counts, b->counts, n * sizeof(*counts));
	return 0;
}

static int motion_read_rate(void *ctx, int32_t *mdps)
{
	*mdps = board_of(ctx)->gyro_mdps;
	return 0;
}

static uint32_t clock_now_ms(void *ctx)
{
	return board_of(ctx)->now_ms;
}

/* ---- storage: NOR semantics on a RAM image ----------------------------- */

static int flash_sync(struct board *b, size_t offset, size_t len)
{
	ssize_t n;

	if (b->flash_fd < 0)
		return 0;
	n = pwrite(b->flash_fd, b->flash + offset, len, (off_t)offset);
	if (n != (ssize_t)len) {
		periph_log(b->p, 0, "storage file write failed: %s",
			   n < 0 ? strerror(errno) : "short write");
		return -EIO;
	}
	return 0;
}

static int flash_erase(void *ctx, uint32_t page)
{
	struct board *b = board_of(ctx);

	if (page >= PERIPH_STORAGE_PAGES)
		return -EINVAL;
	memset(b->flash + (size_t)page * PERIPH_STORAGE_PAGE, 0xFF, PERIPH_STORAGE_PAGE);
	return flash_sync(b, (size_t)page * PERIPH_STORAGE_PAGE, PERIPH_STORAGE_PAGE);
}

static int flash_write(void *ctx, uint32_t offset, const void *buf, size_t len)
{
	struct board *b = board_of(ctx);
	const uint8_t *src = buf;
	size_t i;

	if (offset % 4 || len % 4 || (size_t)offset + len > b->flash_size ||
	    offset / PERIPH_STORAGE_PAGE != (offset + (len ? len - 1 : 0)) / PERIPH_STORAGE_PAGE)
		return -EINVAL;
	for (i = 0; i < len; i++)
		b->flash[offset + i] &= src[i];
	return flash_sync(b, offset, len);
}

static int flash_read(void *ctx, uint32_t offset, void *buf, size_t len)
{
	struct board *b = board_of(ctx);

	if ((size_t)offset + len > b->flash_size)
		return -EINVAL;
	memcpy(buf, b->flash + offset, len);
	return 0;
}

static int flash_open(struct board *b, const char *path)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	if (st.st_size == 0) {
		b->flash_fd = fd;
		return flash_sync(b, 0, b->flash_size);
	}
	if ((size_t)st.st_size != b->flash_size) {
		close(fd);
		return -EBADMSG;
	}
	if (pread(fd, b->flash, b->flash_size, 0) != (ssize_t)b->flash_size) {
		close(fd);
		return -EIO;
	}
	b->flash_fd = fd;
	return 0;
}

/* ---- link ------------------------------------------------------------------ */

static int link_notify(void *ctx, enum core_char id, const uint8_t *buf, size_t len)
{
	return gatt_notify(board_of(ctx)->p, id, buf, len);
}

static uint16_t link_mtu(void *ctx)
{
	return board_of(ctx)->p->mtu;
}

static bool link_is_connected(void *ctx)
{
	return link_connected(board_of(ctx)->p);
}

static bool link_is_encrypted(void *ctx)
{
	const struct periph *p = board_of(ctx)->p;

	return link_connected(p) && p->encrypted;
}

static bool link_is_bonded(void *ctx)
{
	const struct periph *p = board_of(ctx)->p;

	return link_connected(p) && p->devices[p->peer].bonded;
}

/* ---- power: a battery that drains 1 mV per 10 minutes of device time ------ */

static int power_battery_mv(void *ctx)
{
	struct board *b = board_of(ctx);
	uint32_t drained = (uint32_t)(b->now_ms / 600000u);

	if (drained > BATTERY_START_MV - BATTERY_EMPTY_MV)
		drained = BATTERY_START_MV - BATTERY_EMPTY_MV;
	return (int)(BATTERY_START_MV - drained);
}

static int power_battery_percent(void *ctx, uint16_t mv)
{
	(void)ctx;
	if (mv <= BATTERY_EMPTY_MV)
		return 0;
	if (mv >= BATTERY_FULL_MV)
		return 100;
	return (int)((mv - BATTERY_EMPTY_MV) * 100u / (BATTERY_FULL_MV - BATTERY_EMPTY_MV));
}

static int power_sleep(void *ctx)
{
	struct board *b = board_of(ctx);

	b->asleep = true;
	periph_log(b->p, 1, "core asked to sleep (still sampling, still advertising)");
	return 0;
}

static int power_wake(void *ctx)
{
	struct board *b = board_of(ctx);

	b->asleep = false;
	periph_log(b->p, 1, "core woke up");
	return 0;
}

/* ---- set-up ---------------------------------------------------------------- */

static uint32_t device_id_from(const char *address, uint32_t seed)
{
	/* FNV-1a of the adapter address: stable per machine, like a chip id. */
	uint32_t h = 2166136261u;
	const char *s;

	for (s = address; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h ^ seed;
}

int board_init(struct periph *p)
{
	struct board *b = &p->board;
	struct core_config cfg;
	bool imu;
	int r;

	b->p = p;
	if (p->opt.trace_path) {
		/* main() loaded it before anything else could fail. */
		b->use_trace = true;
		b->noise_state = p->opt.seed ? p->opt.seed : 0x9E3779B9u;
		b->channels = 1;
		b->rate_hz = b->trace.rate_hz;
		imu = b->trace.gyro_mdps != NULL;
	} else {
		struct simperson_config sc;

		simperson_config_defaults(&sc);
		sc.seed = p->opt.seed;
		if (p->opt.body_weight_kg)
			sc.body_weight_kg = p->opt.body_weight_kg;
		r = simperson_init(&b->person, &sc);
		if (r) {
			periph_log(p, 0, "simulated person: invalid configuration (%s)", strerror(-r));
			return r;
		}
		b->channels = sc.channels;
		b->rate_hz = sc.sample_rate_hz;
		imu = sc.imu;
	}
	b->period_us = 1000000u / b->rate_hz;
	b->gyro_mdps = imu ? 0 : CORE_GYRO_ABSENT;

	b->flash_size = (size_t)PERIPH_STORAGE_PAGE * PERIPH_STORAGE_PAGES;
	b->flash = malloc(b->flash_size);
	if (!b->flash)
		return -ENOMEM;
	memset(b->flash, 0xFF, b->flash_size);
	if (p->opt.storage_path) {
		r = flash_open(b, p->opt.storage_path);
		if (r) {
			periph_log(p, 0, "%s: %s", p->opt.storage_path,
				   r == -EBADMSG ? "not a roller-periph storage file (wrong size)"
						 : strerror(-r));
			return r;
		}
	}

	b->force = (struct port_force_ops){
		.ctx = b,
		.channels = b->channels,
		.sample_period_us = (uint16_t)b->period_us,
		.rail_low = -8388608,
		.rail_high = 8388607,
		.read = force_read,
	};
	b->motion = (struct port_motion_ops){ .ctx = b, .read_rate = motion_read_rate };
	b->clock = (struct port_clock_ops){ .ctx = b, .now_ms = clock_now_ms };
	b->storage = (struct port_storage_ops){
		.ctx = b,
		.page_size = PERIPH_STORAGE_PAGE,
		.page_count = PERIPH_STORAGE_PAGES,
		.write_align = 4,
		.erase = flash_erase,
		.write = flash_write,
		.read = flash_read,
	};
	b->link = (struct port_link_ops){
		.ctx = b,
		.notify = link_notify,
		.mtu = link_mtu,
		.connected = link_is_connected,
		.encrypted = link_is_encrypted,
		.bonded = link_is_bonded,
	};
	b->power = (struct port_power_ops){
		.ctx = b,
		.battery_mv = power_battery_mv,
		.battery_percent = power_battery_percent,
		.sleep = power_sleep,
		.wake = power_wake,
	};
	b->ports = (struct core_ports){
		.force = &b->force,
		.motion = imu ? &b->motion : NULL,
		.clock = &b->clock,
		.storage = &b->storage,
		.link = &b->link,
		.power = &b->power,
	};

	core_config_defaults(&cfg);
	cfg.device_id = device_id_from(p->adapter_address, p->opt.seed);
	p->core_device_id = cfg.device_id;
	cfg.capabilities |= PROTO_CAP_SIMULATED;
	r = core_init(&p->core, &b->ports, &cfg);
	if (r) {
		periph_log(p, 0, "device core refused its configuration (%s)", strerror(-r));
		return r;
	}
	return 0;
}

void board_free(struct periph *p)
{
	struct board *b = &p->board;

	if (b->flash_fd >= 0) {
		fsync(b->flash_fd);
		close(b->flash_fd);
		b->flash_fd = -1;
	}
	free(b->flash);
	b->flash = NULL;
	trace_free(&b->trace);
}

bool board_source_done(const struct periph *p)
{
	const struct board *b = &p->board;

	if (b->use_trace)
		return !p->opt.trace_loop && b->trace_pos >= b->trace.count;
	return simperson_phase(&b->person) == SIMPERSON_DONE;
}

/* xorshift32, seeded by --seed: reproducible. */
static int32_t trace_noise(struct board *b)
{
	uint32_t x = b->noise_state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	b->noise_state = x;
	return (int32_t)(x % (2u * TRACE_NOISE_COUNTS + 1u)) - TRACE_NOISE_COUNTS;
}

void board_step(struct periph *p)
{
	struct board *b = &p->board;

	if (b->use_trace) {
		if (b->trace_pos >= b->trace.count && p->opt.trace_loop)
			b->trace_pos = 0;
		if (b->trace_pos < b->trace.count) {
			int32_t counts = (int32_t)b->trace.force_dn[b->trace_pos] * (COUNTS_PER_N / PROTO_FORCE_DN_PER_N);

			b->counts[0] = counts + trace_noise(b);
			if (b->trace.gyro_mdps)
				b->gyro_mdps = b->trace.gyro_mdps[b->trace_pos];
			b->trace_pos++;
		} else {
			if (!b->trace_ended)
				periph_log(p, 1, "trace ended: the roller is empty from now on");
			b->trace_ended = true;
			b->counts[0] = trace_noise(b);
			if (b->trace.gyro_mdps)
				b->gyro_mdps = 0;
		}
	} else {
		int32_t gyro = CORE_GYRO_ABSENT;

		simperson_step(&b->person, b->counts, b->channels, &gyro);
		b->gyro_mdps = gyro;
	}
	b->now_ms = (uint32_t)(b->samples * b->period_us / 1000u);
	b->samples++;
	core_on_sample(&p->core, b->counts, b->channels, b->gyro_mdps);
}
