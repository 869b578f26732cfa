/* Fakes of the firmware ports and the test rig (see fakes.h). */
#include "fakes.h"

#include <errno.h>
#include <stdarg.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

/* ---- clock ---- */

static uint32_t clock_now(void *ctx)
{
	return ((struct fake_clock *)ctx)->now;
}

void fake_clock_ops(struct fake_clock *f, struct port_clock_ops *ops)
{
	memset(ops, 0, sizeof(*ops));
	ops->ctx = f;
	ops->now_ms = clock_now;
}

/* ---- flash ---- */

void fake_flash_init(struct fake_flash *f, uint32_t page_size, uint32_t pages,
		     uint32_t align)
{
	assert_true((uint64_t)page_size * pages <= FAKE_FLASH_MAX);
	memset(f, 0, sizeof(*f));
	memset(f->mem, 0xFF, sizeof(f->mem));
	f->page_size = page_size;
	f->page_count = pages;
	f->align = align;
	f->cut_after = UINT64_MAX;
}

static struct fake_flash_op journal_ops[FAKE_JOURNAL_OPS];
static uint8_t journal_bytes[FAKE_JOURNAL_BYTES];

struct fake_flash_op *fake_flash_journal(void)
{
	return journal_ops;
}

const uint8_t *fake_flash_journal_bytes(void)
{
	return journal_bytes;
}

static struct fake_flash_op *journal_add(struct fake_flash *f, bool erase, uint32_t offset,
					 const uint8_t *buf, uint32_t len)
{
	struct fake_flash_op *op;

	if (!f->journal)
		return NULL;
	assert_true(f->ops < FAKE_JOURNAL_OPS);
	op = &journal_ops[f->ops++];
	op->erase = erase;
	op->complete = erase;
	op->offset = offset;
	op->len = len;
	op->data = f->arena_used;
	if (buf) {
		assert_true(f->arena_used + len <= FAKE_JOURNAL_BYTES);
		memcpy(journal_bytes + f->arena_used, buf, len);
		f->arena_used += len;
	}
	return op;
}

static int flash_erase(void *ctx, uint32_t page)
{
	struct fake_flash *f = ctx;

	if (page >= f->page_count)
		return -EINVAL;
	if (f->cut)
		return 0; /* no power: nothing happens (the test stops driving) */
	if (f->fail_erase)
		return f->fail_erase;
	f->erases++;
	journal_add(f, true, page * f->page_size, NULL, 0);
	memset(f->mem + (size_t)page * f->page_size, 0xFF, f->page_size);
	return 0;
}

static int flash_write(void *ctx, uint32_t offset, const void *buf, size_t len)
{
	struct fake_flash *f = ctx;
	const uint8_t *b = buf;
	struct fake_flash_op *op;
	size_t i;

	if (offset % f->align || len % f->align ||
	    (uint64_t)offset + len > (uint64_t)f->page_size * f->page_count ||
	    offset / f->page_size != (offset + len - 1) / f->page_size)
		return -EINVAL;
	if (f->cut)
		return 0;
	if (f->fail_write)
		return f->fail_write;
	f->writes++;
	op = journal_add(f, false, offset, b, (uint32_t)len);
	for (i = 0; i < len; i++) {
		if (f->bytes_written >= f->cut_after) {
			f->cut = true;
			return 0;
		}
		f->mem[offset + i] &= b[i]; /* NOR: only 1 -> 0 */
		f->bytes_written++;
	}
	if (op)
		op->complete = true;
	return 0;
}

static int flash_read(void *ctx, uint32_t offset, void *buf, size_t len)
{
	struct fake_flash *f = ctx;

	if ((uint64_t)offset + len > (uint64_t)f->page_size * f->page_count)
		return -EINVAL;
	f->reads++;
	memcpy(buf, f->mem + offset, len);
	return 0;
}

void fake_flash_ops(struct fake_flash *f, struct port_storage_ops *ops)
{
	memset(ops, 0, sizeof(*ops));
	ops->ctx = f;
	ops->page_size = f->page_size;
	ops->page_count = f->page_count;
	ops->write_align = f->align;
	ops->erase = flash_erase;
	ops->write = flash_write;
	ops->read = flash_read;
}

/* ---- link ---- */

static struct fake_frame link_frames[FAKE_LINK_MAX_FRAMES];

static int link_notify(void *ctx, enum core_char ch, const uint8_t *buf, size_t len)
{
	struct fake_link *f = ctx;

	f->calls++;
	if ((unsigned)ch < CORE_CHAR_COUNT && f->unsubscribed[ch])
		return -ENOTCONN;
	if (f->busy || ((unsigned)ch < CORE_CHAR_COUNT && f->busy_char[ch]))
		return -EAGAIN;
	if (f->accept_budget == 0)
		return -EAGAIN;
	if (len > (size_t)f->mtu - PROTO_ATT_OVERHEAD) {
		f->oversize = true;
		return -EMSGSIZE;
	}
	if (f->accept_budget > 0)
		f->accept_budget--;
	if (f->n < FAKE_LINK_MAX_FRAMES) {
		struct fake_frame *fr = &f->frames[f->n++];

		fr->ch = (uint8_t)ch;
		fr->len = (uint8_t)len;
		memcpy(fr->buf, buf, len);
	} else {
		f->dropped++;
	}
	return 0;
}

static uint16_t link_mtu(void *ctx)
{
	return ((struct fake_link *)ctx)->mtu;
}

void fake_link_init(struct fake_link *f)
{
	memset(f, 0, sizeof(*f));
	f->frames = link_frames;
	f->mtu = PROTO_MTU_MIN;
	f->accept_budget = -1;
}

void fake_link_clear(struct fake_link *f)
{
	f->n = 0;
	f->dropped = 0;
}

void fake_link_ops(struct fake_link *f, struct port_link_ops *ops)
{
	memset(ops, 0, sizeof(*ops));
	ops->ctx = f;
	ops->notify = link_notify;
	ops->mtu = link_mtu;
}

/* ---- power ---- */

static int power_mv(void *ctx)
{
	return ((struct fake_power *)ctx)->millivolts;
}

static int power_pct(void *ctx, uint16_t mv)
{
	(void)mv;
	return ((struct fake_power *)ctx)->percent;
}

static bool power_charging(void *ctx)
{
	return ((struct fake_power *)ctx)->charging;
}

static int power_sleep(void *ctx)
{
	struct fake_power *f = ctx;

	if (f->fail_sleep)
		return f->fail_sleep;
	f->sleeps++;
	return 0;
}

static int power_wake(void *ctx)
{
	((struct fake_power *)ctx)->wakes++;
	return 0;
}

void fake_power_ops(struct fake_power *f, struct port_power_ops *ops)
{
	memset(ops, 0, sizeof(*ops));
	ops->ctx = f;
	ops->battery_mv = power_mv;
	ops->battery_percent = power_pct;
	ops->charging = power_charging;
	ops->sleep = power_sleep;
	ops->wake = power_wake;
}

/* ---- motion ---- */

static int motion_read(void *ctx, int32_t *mdps)
{
	(void)ctx;
	*mdps = 0;
	return 0;
}

static int motion_wake(void *ctx, bool enable, uint32_t threshold)
{
	struct fake_motion *f = ctx;

	f->armed = enable;
	f->threshold = threshold;
	return 0;
}

void fake_motion_ops(struct fake_motion *f, struct port_motion_ops *ops)
{
	memset(ops, 0, sizeof(*ops));
	ops->ctx = f;
	ops->read_rate = motion_read;
	ops->wake_on_motion = motion_wake;
}

/* ---- rig ---- */

static struct fake_flash rig_flash;
static uint32_t rig_us_carry;

void rig_options_default(struct rig_options *o)
{
	memset(o, 0, sizeof(*o));
	o->channels = 2;
	o->period_us = 12500;
	o->imu = true;
	o->storage = true;
	o->power = true;
	o->page_size = 1024;
	o->pages = 16;
	o->align = 4;
}

void rig_setup(struct rig *r, const struct rig_options *o, bool keep_flash)
{
	struct rig_options def;

	if (o)
		def = *o; /* o may point into *r */
	else
		rig_options_default(&def);
	o = &def;
	memset(r, 0, sizeof(*r));
	r->opt = *o;
	r->clock.now = 1000;
	rig_us_carry = 0;
	r->flash = &rig_flash;
	if (!keep_flash)
		fake_flash_init(r->flash, o->page_size, o->pages, o->align);
	fake_link_init(&r->link);
	r->power.millivolts = 3900;
	r->power.percent = 80;

	r->force_ops.channels = o->channels;
	r->force_ops.sample_period_us = o->period_us;
	r->force_ops.rail_low = -8388608;
	r->force_ops.rail_high = 8388607;
	fake_clock_ops(&r->clock, &r->clock_ops);
	fake_flash_ops(r->flash, &r->flash_ops);
	fake_link_ops(&r->link, &r->link_ops);
	fake_power_ops(&r->power, &r->power_ops);
	fake_motion_ops(&r->motion, &r->motion_ops);
	r->ports.force = &r->force_ops;
	r->ports.clock = &r->clock_ops;
	r->ports.link = &r->link_ops;
	r->ports.storage = o->storage ? &r->flash_ops : NULL;
	r->ports.power = o->power ? &r->power_ops : NULL;
	r->ports.motion = o->imu ? &r->motion_ops : NULL;

	core_config_defaults(&r->cfg);
	r->cfg.stuck_samples = 0;
	r->cfg.filter_shift = 0;
	r->cfg.spike_median = false;
	r->cfg.still_samples = 1;
	r->cfg.sleep_timeout_s = 0;
	r->cfg.device_id = 0xC0FFEEu;
}

void rig_start(struct rig *r)
{
	assert_int_equal(core_init(&r->core, &r->ports, &r->cfg), 0);
}

void rig_reboot(struct rig *r)
{
	fake_link_init(&r->link);
	rig_start(r);
}

void rig_poll(struct rig *r)
{
	if (r->link.per_poll > 0)
		r->link.accept_budget = r->link.per_poll;
	(void)core_poll(&r->core, r->clock.now);
}

static void advance(struct rig *r)
{
	rig_us_carry += r->opt.period_us;
	r->clock.now += rig_us_carry / 1000u;
	rig_us_carry %= 1000u;
}

void rig_sample_counts(struct rig *r, const int32_t *counts, int32_t gyro)
{
	core_on_sample(&r->core, counts, r->opt.channels, gyro);
	if (++r->unpolled >= r->poll_every) {
		r->unpolled = 0;
		rig_poll(r);
	}
	advance(r);
	r->sample_no++;
}

void rig_sample(struct rig *r, int32_t dn, int32_t gyro)
{
	int32_t counts[PORT_FORCE_MAX_CHANNELS];
	int64_t total = (int64_t)dn * 100000 / r->cfg.default_scale_unpc;
	int64_t given = 0;
	size_t i, n = r->opt.channels;

	for (i = 0; i < n; i++) {
		int64_t share = i + 1 == n ? total - given : total / (int64_t)n;

		given += share;
		counts[i] = (int32_t)(share + r->offset[i]);
	}
	rig_sample_counts(r, counts, gyro);
}

void rig_samples(struct rig *r, size_t n, int32_t dn, int32_t gyro)
{
	size_t i;

	for (i = 0; i < n; i++)
		rig_sample(r, dn, gyro);
}

void rig_idle_ms(struct rig *r, uint32_t ms)
{
	r->clock.now += ms;
	rig_poll(r);
}

void rig_connect(struct rig *r, uint16_t mtu)
{
	r->link.mtu = mtu;
	core_on_connect(&r->core, false);
	core_on_security_changed(&r->core, true, true);
	core_on_mtu(&r->core, mtu);
	rig_poll(r);
}

static int find_response(struct rig *r, size_t from, struct proto_control_response *rsp)
{
	size_t i;

	for (i = from; i < r->link.n; i++) {
		struct fake_frame *f = &r->link.frames[i];
		struct proto_control_response tmp;

		if (f->ch != CORE_CHAR_CONTROL)
			continue;
		assert_int_equal(proto_response_decode(f->buf, f->len, &tmp), 0);
		if (rsp)
			*rsp = tmp;
		return tmp.status;
	}
	return -1;
}

int rig_request_raw(struct rig *r, const uint8_t *buf, size_t len,
		    struct proto_control_response *rsp)
{
	size_t from = r->link.n;

	assert_int_equal(core_on_control_write(&r->core, buf, len), 0);
	rig_poll(r);
	return find_response(r, from, rsp);
}

int rig_request(struct rig *r, struct proto_control_request *q,
		struct proto_control_response *rsp)
{
	uint8_t buf[PROTO_FRAME_MAX];
	size_t len;
	struct proto_control_response tmp;
	int status;

	q->token = ++r->token;
	assert_int_equal(proto_request_encode(q, buf, sizeof(buf), &len), 0);
	status = rig_request_raw(r, buf, len, &tmp);
	if (status >= 0) {
		assert_int_equal(tmp.opcode, q->opcode);
		assert_int_equal(tmp.token, q->token);
		if (rsp)
			*rsp = tmp;
	}
	return status;
}

size_t rig_events(struct rig *r, uint8_t kind, struct proto_event *out, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < r->link.n; i++) {
		struct fake_frame *f = &r->link.frames[i];
		struct proto_event e;

		if (f->ch != CORE_CHAR_EVENT || f->buf[1] != PROTO_TYPE_EVENT)
			continue;
		assert_int_equal(proto_event_decode(f->buf, f->len, &e), 0);
		if (kind && e.kind != kind)
			continue;
		if (n < max && out)
			out[n] = e;
		n++;
	}
	return n;
}

size_t rig_measurements(struct rig *r, struct proto_measurement *out, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < r->link.n; i++) {
		struct fake_frame *f = &r->link.frames[i];

		if (f->ch != CORE_CHAR_MEASUREMENT)
			continue;
		if (n < max && out)
			assert_int_equal(proto_measurement_decode(f->buf, f->len, &out[n]), 0);
		n++;
	}
	return n;
}

size_t rig_sessions(struct rig *r, struct proto_session *out, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < r->link.n; i++) {
		struct fake_frame *f = &r->link.frames[i];

		if (f->ch != CORE_CHAR_EVENT || f->buf[1] != PROTO_TYPE_SESSION)
			continue;
		if (n < max && out)
			assert_int_equal(proto_session_decode(f->buf, f->len, &out[n]), 0);
		n++;
	}
	return n;
}

int rig_read_log(struct rig *r, uint32_t first, uint16_t count,
		 uint8_t (*recs)[PROTO_FRAME_MAX], uint32_t *nums, uint8_t *lens,
		 size_t max)
{
	struct proto_control_request q;
	struct proto_control_response rsp;
	size_t n = 0, i, from;
	bool end = false;
	int status, rounds;
	uint16_t expect_off = 0;
	uint32_t expect_rec = first; /* after the previous record: SKIPPED otherwise */
	uint32_t last = count ? first + count : UINT32_MAX;

	memset(&q, 0, sizeof(q));
	q.opcode = PROTO_OP_LOG_READ;
	q.u.log_read.first_record = first;
	q.u.log_read.count = count;
	fake_link_clear(&r->link);
	status = rig_request(r, &q, &rsp);
	if (status != 0)
		return -status;
	from = 0;
	for (rounds = 0; rounds < 100000 && !end; rounds++) {
		for (i = from; i < r->link.n && !end; i++) {
			struct fake_frame *f = &r->link.frames[i];
			struct proto_log_chunk ch;

			if (f->ch != CORE_CHAR_LOG)
				continue;
			assert_int_equal(proto_log_chunk_decode(f->buf, f->len, &ch), 0);
			/* protocol/README.md 7.3: a chunk that starts a record
			 * other than the one after the previous says SKIPPED, and
			 * no other chunk does; numbers only grow. */
			if (ch.offset == 0 && expect_off == 0) {
				assert_true(ch.record >= expect_rec);
				assert_int_equal(!!(ch.flags & PROTO_CHUNK_SKIPPED), ch.record != expect_rec);
			} else {
				assert_false(ch.flags & PROTO_CHUNK_SKIPPED);
			}
			if (ch.len) {
				assert_true(n < max);
				assert_int_equal(ch.offset, expect_off);
				assert_true(ch.record < last);
				if (expect_off == 0)
					nums[n] = ch.record;
				else
					assert_int_equal(nums[n], ch.record);
				memcpy(recs[n] + ch.offset, ch.data, ch.len);
				expect_off = (uint16_t)(expect_off + ch.len);
				if (ch.flags & PROTO_CHUNK_LAST_IN_RECORD) {
					lens[n] = (uint8_t)expect_off;
					expect_off = 0;
					expect_rec = ch.record + 1u;
					n++;
				}
			}
			if (ch.flags & PROTO_CHUNK_END)
				end = true;
		}
		from = r->link.n;
		if (!end)
			rig_poll(r);
		if (r->link.n > FAKE_LINK_MAX_FRAMES - 300)
			fake_link_clear(&r->link), from = 0;
	}
	assert_true(end);
	assert_int_equal(n, rsp.u.log_read.records);
	return (int)n;
}
