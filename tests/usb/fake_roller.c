/* The in-process roller of the USB and sync tests (see fake_roller.h). */
#include "fake_roller.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- Ports ------------------------------------------------------------------ */

static int force_read(void *ctx, int32_t *counts, size_t n)
{
	struct fake_roller *r = ctx;

	if (n != 1)
		return -EINVAL;
	counts[0] = r->counts;
	return 0;
}

static uint32_t clock_now(void *ctx)
{
	return (uint32_t)(((struct fake_roller *)ctx)->now_us / 1000u);
}

static int flash_erase(void *ctx, uint32_t page)
{
	struct fake_roller *r = ctx;

	if (page >= FAKE_ROLLER_PAGES)
		return -EINVAL;
	memset(r->flash + (size_t)page * FAKE_ROLLER_PAGE, 0xFF, FAKE_ROLLER_PAGE);
	return 0;
}

static int flash_write(void *ctx, uint32_t offset, const void *buf, size_t len)
{
	struct fake_roller *r = ctx;
	const uint8_t *src = buf;

	if (offset % 4u || len % 4u || offset > sizeof(r->flash) || len > sizeof(r->flash) - offset)
		return -EINVAL;
	if (r->powered_off)
		return 0; /* the core runs on for a moment; nothing reaches the flash */
	if (r->tear_armed) {
		r->tear_armed = false;
		r->powered_off = true;
		if (len > (r->tear_keep & ~3u))
			len = r->tear_keep & ~3u;
	}
	for (size_t i = 0; i < len; i++)
		r->flash[offset + i] &= src[i];
	return 0;
}

static int flash_read(void *ctx, uint32_t offset, void *buf, size_t len)
{
	struct fake_roller *r = ctx;

	if (offset > sizeof(r->flash) || len > sizeof(r->flash) - offset)
		return -EINVAL;
	memcpy(buf, r->flash + offset, len);
	return 0;
}

static int link_notify(void *ctx, enum core_char ch, const uint8_t *buf, size_t len)
{
	struct fake_roller *r = ctx;
	struct fake_roller_frame *f;

	if (!r->connected || ch == CORE_CHAR_INFO)
		return -ENOTCONN;
	if (len + PROTO_ATT_OVERHEAD > r->mtu)
		return -EMSGSIZE;
	if (r->n == FAKE_ROLLER_QUEUE)
		return -EAGAIN;
	f = &r->queue[(r->head + r->n) % FAKE_ROLLER_QUEUE];
	f->ch = (uint8_t)ch;
	f->len = (uint8_t)len;
	memcpy(f->buf, buf, len);
	r->n++;
	return 0;
}

static void setup_ports(struct fake_roller *r)
{
	r->force = (struct port_force_ops){
		.ctx = r,
		.channels = 1,
		.sample_period_us = FAKE_ROLLER_PERIOD_US,
		.rail_low = -8388608,
		.rail_high = 8388607,
		.read = force_read,
	};
	r->clock = (struct port_clock_ops){ .ctx = r, .now_ms = clock_now };
	r->storage = (struct port_storage_ops){
		.ctx = r,
		.page_size = FAKE_ROLLER_PAGE,
		.page_count = FAKE_ROLLER_PAGES,
		.write_align = 4,
		.erase = flash_erase,
		.write = flash_write,
		.read = flash_read,
	};
	r->link = (struct port_link_ops){ .ctx = r, .notify = link_notify };
	r->ports = (struct core_ports){
		.force = &r->force,
		.clock = &r->clock,
		.storage = &r->storage,
		.link = &r->link,
	};
}

static void config(struct core_config *cfg, uint32_t device_id)
{
	core_config_defaults(cfg);
	cfg->device_id = device_id;
	cfg->capabilities = PROTO_CAP_USB;
	cfg->filter_shift = 0;
	cfg->spike_median = false;
	cfg->stuck_samples = 0;
	cfg->hold.band_low = 200;
	cfg->hold.band_high = 400;
	cfg->hold.hold_s = 2;
	cfg->hold.grace_ms = 500;
	cfg->hold.contact = 50;
	cfg->auto_session = true;
	cfg->auto_stop_s = 3;
	cfg->sleep_timeout_s = 0;
}

int fake_roller_init(struct fake_roller *r, uint32_t device_id)
{
	memset(r, 0, sizeof(*r));
	memset(r->flash, 0xFF, sizeof(r->flash));
	r->mtu = PROTO_MTU_MIN;
	r->now_us = 1000000u;
	r->rng = device_id ^ 0x9E3779B9u;
	setup_ports(r);
	config(&r->cfg, device_id);
	return core_init(&r->core, &r->ports, &r->cfg);
}

/* ---- Driving it -------------------------------------------------------------- */

size_t fake_roller_poll(struct fake_roller *r, uint32_t advance_ms)
{
	r->now_us += (uint64_t)advance_ms * 1000u;
	core_poll(&r->core, clock_now(r));
	return r->n;
}

void fake_roller_sample(struct fake_roller *r, int32_t force_dn)
{
	/* default scale 2500 uN per count: 40 counts per dN */
	r->counts = force_dn * 40;
	core_on_sample(&r->core, &r->counts, 1, CORE_GYRO_ABSENT);
	r->now_us += FAKE_ROLLER_PERIOD_US;
	core_poll(&r->core, clock_now(r));
}

static int32_t noise(struct fake_roller *r, int32_t spread)
{
	r->rng = r->rng * 1664525u + 1013904223u;
	return (int32_t)((r->rng >> 8) % (uint32_t)(2 * spread + 1)) - spread;
}

static void press(struct fake_roller *r, unsigned seconds)
{
	const unsigned samples = seconds * (1000000u / FAKE_ROLLER_PERIOD_US);

	for (unsigned i = 0; i < samples; i++) {
		unsigned phase = i % 250u; /* 5 s: 1 s ramp, 3 s hold, 1 s off */
		int32_t f;

		if (phase < 50u)
			f = (int32_t)phase * 6;
		else if (phase < 200u)
			f = 300 + noise(r, 8);
		else
			f = noise(r, 3);
		fake_roller_sample(r, f);
		r->n = 0; /* what a host would have seen live is not the point here */
	}
}

static int host_request(struct fake_roller *r, uint8_t opcode, uint8_t region)
{
	struct proto_control_request q = { .opcode = opcode, .token = ++r->token };
	uint8_t buf[PROTO_REQUEST_MAX];
	size_t len = 0;

	q.u.start_session.region = region;
	if (proto_request_encode(&q, buf, sizeof(buf), &len) < 0)
		return -EINVAL;
	fake_roller_write(r, buf, len);
	r->n = 0;
	return 0;
}

int fake_roller_record(struct fake_roller *r, uint8_t region, unsigned seconds, uint32_t seed)
{
	uint32_t first, end, end_after;

	r->rng ^= seed * 2654435761u;
	fake_roller_log_info(r, &first, &end);
	if (region) {
		fake_roller_connect(r, PROTO_MTU_MAX);
		host_request(r, PROTO_OP_START_SESSION, region);
		press(r, seconds);
		host_request(r, PROTO_OP_STOP_SESSION, 0);
		fake_roller_disconnect(r);
	} else {
		press(r, seconds);
		/* Off the roller: the automatic session ends auto_stop_s later. */
		for (unsigned i = 0; i < (r->cfg.auto_stop_s + 1u) * 50u; i++) {
			fake_roller_sample(r, noise(r, 3));
			r->n = 0;
		}
	}
	for (unsigned i = 0; i < 10; i++)
		fake_roller_poll(r, 100);
	r->n = 0;
	fake_roller_log_info(r, &first, &end_after);
	return end_after > end ? 0 : -EIO;
}

int fake_roller_power_cut(struct fake_roller *r, unsigned seconds, uint32_t keep_bytes,
			  uint32_t seed)
{
	r->rng ^= seed * 2654435761u;
	press(r, seconds);
	r->tear_armed = true;
	r->tear_keep = keep_bytes;
	for (unsigned i = 0; i < 50u * 60u && !r->powered_off; i++) {
		fake_roller_sample(r, 300 + noise(r, 8));
		r->n = 0;
	}
	if (!r->powered_off)
		return -EIO;
	/* The boot: same flash, same clock (the core reads it from the port). */
	r->tear_armed = r->powered_off = false;
	r->n = 0;
	r->connected = false;
	memset(&r->core, 0, sizeof(r->core));
	return core_init(&r->core, &r->ports, &r->cfg);
}

void fake_roller_connect(struct fake_roller *r, uint16_t mtu)
{
	r->connected = true;
	r->mtu = mtu;
	r->n = 0;
	core_on_connect(&r->core, false);
	core_on_security_changed(&r->core, true, true);
	core_on_mtu(&r->core, mtu);
}

void fake_roller_disconnect(struct fake_roller *r)
{
	r->connected = false;
	r->n = 0;
	core_on_disconnect(&r->core);
	core_poll(&r->core, clock_now(r));
}

int fake_roller_write(struct fake_roller *r, const uint8_t *buf, size_t len)
{
	int ret = core_on_control_write(&r->core, buf, len);

	core_poll(&r->core, clock_now(r));
	return ret;
}

bool fake_roller_pop(struct fake_roller *r, struct fake_roller_frame *f)
{
	if (r->n == 0)
		return false;
	*f = r->queue[r->head];
	r->head = (r->head + 1) % FAKE_ROLLER_QUEUE;
	r->n--;
	return true;
}

int fake_roller_info(struct fake_roller *r, uint8_t *buf, size_t cap, size_t *len)
{
	return core_read_info(&r->core, buf, cap, len);
}

void fake_roller_log_info(const struct fake_roller *r, uint32_t *first, uint32_t *end)
{
	uint16_t sessions;

	if (core_log_info(&r->core, first, end, &sessions) < 0)
		*first = *end = 0;
}

/* ---- Ground truth -------------------------------------------------------------- */

int fake_roller_read_log(const struct fake_roller *r, struct fake_roller_record *out, size_t max)
{
	struct fake_roller *copy = malloc(sizeof(*copy));
	struct proto_control_request q = { .opcode = PROTO_OP_LOG_READ, .token = 1 };
	struct fake_roller_frame f;
	uint8_t buf[PROTO_REQUEST_MAX];
	size_t len = 0, n = 0;
	uint16_t offset = 0;
	uint32_t first, end;
	bool done = false;
	int ret = -EIO;

	if (!copy)
		return -ENOMEM;
	memset(copy, 0, sizeof(*copy));
	memcpy(copy->flash, r->flash, sizeof(copy->flash));
	copy->now_us = r->now_us;
	copy->mtu = PROTO_MTU_MAX;
	setup_ports(copy);
	copy->cfg = r->cfg;
	if (core_init(&copy->core, &copy->ports, &copy->cfg) < 0)
		goto out;
	fake_roller_log_info(copy, &first, &end);
	fake_roller_connect(copy, PROTO_MTU_MAX);
	q.u.log_read.first_record = first;
	q.u.log_read.count = 0;
	if (proto_request_encode(&q, buf, sizeof(buf), &len) < 0)
		goto out;
	fake_roller_write(copy, buf, len);
	for (unsigned rounds = 0; rounds < 1000000u && !done; rounds++) {
		while (!done && fake_roller_pop(copy, &f)) {
			struct proto_log_chunk c;

			if (f.ch != CORE_CHAR_LOG)
				continue;
			if (proto_log_chunk_decode(f.buf, f.len, &c) < 0)
				goto out;
			if (c.len) {
				if (n >= max || c.offset != offset ||
				    (size_t)c.offset + c.len > sizeof(out[n].data))
					goto out;
				out[n].number = c.record;
				memcpy(out[n].data + c.offset, c.data, c.len);
				offset = (uint16_t)(offset + c.len);
				if (c.flags & PROTO_CHUNK_LAST_IN_RECORD) {
					out[n].len = offset;
					offset = 0;
					n++;
				}
			}
			if (c.flags & PROTO_CHUNK_END)
				done = true;
		}
		if (!done)
			fake_roller_poll(copy, 1);
	}
	ret = done ? (int)n : -ETIMEDOUT;
out:
	free(copy);
	return ret;
}
