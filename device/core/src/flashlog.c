/*
 * Settings and the session log in NOR flash (format: device/README.md).
 *
 * Storage pages 0 and 1 hold settings records, appended in fixed-size
 * slots; the newest valid one wins, so a torn write falls back to the
 * previous settings. The other pages form a ring of log pages: each starts
 * with a header naming its first record number, then records (one protocol
 * frame each) with a CRC-32. Every record is written with one write() call
 * into space that was erased before, so a power cut can only leave a prefix
 * of the record in flight: its CRC fails, recovery stops there, and the page
 * is closed (appending resumes on a fresh page; its record number is never
 * reused).
 */
#include "core_internal.h"

#include <string.h>

#define SETTINGS_PAGES 2u
#define SETTINGS_SIZE 60u
#define SETTINGS_PAYLOAD 48u
#define SETTINGS_VERSION 1u
#define LOG_HDR_SIZE 12u
#define LOG_MAGIC 0x474F4C52u /* "RLOG" */
#define REC_MAGIC0 0x52u      /* 'R' */
#define REC_MAGIC1 0x43u      /* 'C' */
#define MEAS_RECORD_SAMPLES PROTO_BATCH_MAX_SAMPLES

static uint32_t round_up(uint32_t v, uint32_t align)
{
	return (v + align - 1u) & ~(align - 1u);
}

static bool valid_bit(const struct core *c, uint32_t p)
{
	return ((uint32_t)c->log.page_valid[p / 8u] >> (p % 8u)) & 1u;
}

static void set_valid(struct core *c, uint32_t p, bool v)
{
	if (v)
		c->log.page_valid[p / 8u] |= (uint8_t)(1u << (p % 8u));
	else
		c->log.page_valid[p / 8u] &= (uint8_t)~(1u << (p % 8u));
}

static uint32_t page_addr(const struct core *c, uint32_t log_page)
{
	return (c->log.first_page + log_page) * c->log.page_size;
}

static int flash_read(struct core *c, uint32_t addr, void *buf, size_t len)
{
	const struct port_storage_ops *s = c->ports.storage;
	int err = s->read(s->ctx, addr, buf, len);

	if (err)
		c->counters.storage_errors++;
	return err;
}

static int flash_write(struct core *c, uint32_t addr, const void *buf, size_t len)
{
	const struct port_storage_ops *s = c->ports.storage;
	int err = s->write(s->ctx, addr, buf, len);

	if (err) {
		c->counters.storage_errors++;
		stream_error(c, PROTO_ERR_STORAGE, 0xFF, 1);
	}
	return err;
}

static int flash_erase(struct core *c, uint32_t page)
{
	const struct port_storage_ops *s = c->ports.storage;
	int err = s->erase(s->ctx, page);

	if (err) {
		c->counters.storage_errors++;
		stream_error(c, PROTO_ERR_STORAGE, 0xFF, 2);
	}
	return err;
}

static bool all_ff(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0xFF)
			return false;
	return true;
}

/* ---- settings ---- */

static bool settings_usable(const struct core *c)
{
	const struct port_storage_ops *s = c->ports.storage;

	return s && s->page_count >= SETTINGS_PAGES &&
	       s->page_size >= round_up(SETTINGS_SIZE, s->write_align);
}

static uint32_t settings_slot(const struct core *c)
{
	return round_up(SETTINGS_SIZE, c->ports.storage->write_align);
}

static void settings_encode(const struct core *c, uint8_t *b, uint32_t seq)
{
	uint8_t *p = b + 8;
	size_t i;

	b[0] = 'S';
	b[1] = 'T';
	b[2] = SETTINGS_VERSION;
	b[3] = SETTINGS_PAYLOAD;
	core_put_u32(b + 4, seq);
	p[0] = c->cal.state == PROTO_CAL_INVALID ? PROTO_CAL_NONE : c->cal.state;
	p[1] = c->ports.force->channels;
	core_put_u16(p + 2, 0);
	for (i = 0; i < PORT_FORCE_MAX_CHANNELS; i++)
		core_put_u32(p + 4 + 4 * i, (uint32_t)c->cal.tare[i]);
	core_put_u32(p + 20, (uint32_t)c->cal.scale_unpc);
	core_put_u16(p + 24, c->hold_params.band_low);
	core_put_u16(p + 26, c->hold_params.band_high);
	core_put_u16(p + 28, c->hold_params.hold_s);
	core_put_u16(p + 30, c->hold_params.grace_ms);
	core_put_u16(p + 32, c->hold_params.contact);
	core_put_u16(p + 34, c->sleep_timeout_s);
	core_put_u32(p + 36, c->log.floor);
	core_put_u32(p + 40, c->log.next_record);
	core_put_u16(p + 44, c->session.next_id);
	core_put_u16(p + 46, 0);
	core_put_u32(b + 8 + SETTINGS_PAYLOAD,
		     proto_crc32(0, b, 8 + SETTINGS_PAYLOAD));
}

static bool settings_valid(const uint8_t *b)
{
	return b[0] == 'S' && b[1] == 'T' && b[2] == SETTINGS_VERSION &&
	       b[3] == SETTINGS_PAYLOAD &&
	       core_get_u32(b + 8 + SETTINGS_PAYLOAD) == proto_crc32(0, b, 8 + SETTINGS_PAYLOAD);
}

static void settings_apply(struct core *c, const uint8_t *b)
{
	const uint8_t *p = b + 8;
	struct proto_hold_params hp;
	size_t i;

	if (p[1] == c->ports.force->channels && p[0] <= PROTO_CAL_VALID) {
		c->cal.state = p[0];
		for (i = 0; i < PORT_FORCE_MAX_CHANNELS; i++)
			c->cal.tare[i] = (int32_t)core_get_u32(p + 4 + 4 * i);
		c->cal.scale_unpc = (int32_t)core_get_u32(p + 20);
		if (c->cal.scale_unpc == 0) {
			c->cal.scale_unpc = c->cfg.default_scale_unpc;
			c->cal.state = PROTO_CAL_NONE;
		}
	}
	hp.band_low = core_get_u16(p + 24);
	hp.band_high = core_get_u16(p + 26);
	hp.hold_s = core_get_u16(p + 28);
	hp.grace_ms = core_get_u16(p + 30);
	hp.contact = core_get_u16(p + 32);
	if (proto_hold_params_check(&hp) == 0)
		c->hold_params = hp;
	c->sleep_timeout_s = core_get_u16(p + 34);
	c->log.floor = core_get_u32(p + 36);
	c->log.next_record = core_get_u32(p + 40);
	c->session.next_id = core_get_u16(p + 44);
}

/* A slot whose CRC field still ends in erased bytes was cut while being
 * written (the CRC goes last); anything else that fails is corruption. */
static bool settings_torn(const uint8_t *b)
{
	return b[SETTINGS_SIZE - 1u] == 0xFF;
}

static void settings_load(struct core *c)
{
	uint32_t slot = settings_slot(c), size = c->ports.storage->page_size;
	uint32_t used[SETTINGS_PAGES] = { 0, 0 };
	uint32_t best_seq = 0, best_page = 0, p, off;
	bool found = false, corrupt_any = false, corrupt_after_best = false;
	uint8_t *b = c->log.scratch;

	for (p = 0; p < SETTINGS_PAGES; p++) {
		for (off = 0; off + slot <= size; off += slot) {
			if (flash_read(c, p * size + off, b, SETTINGS_SIZE) != 0)
				break;
			if (all_ff(b, SETTINGS_SIZE))
				break;
			used[p] = off + slot;
			if (!settings_valid(b)) {
				if (!settings_torn(b)) {
					corrupt_any = true;
					if (found && p == best_page)
						corrupt_after_best = true;
				}
				continue;
			}
			if (found && (int32_t)(core_get_u32(b + 4) - best_seq) <= 0)
				continue;
			found = true;
			best_seq = core_get_u32(b + 4);
			best_page = p;
			corrupt_after_best = false;
			settings_apply(c, b);
		}
	}
	c->log.settings_seq = best_seq;
	c->log.settings_page = best_page;
	c->log.settings_off = used[best_page];
	if (found ? corrupt_after_best : corrupt_any) {
		/* The newest settings were damaged after they were written: do
		 * not trust any calibration until the host calibrates again. */
		calibration_defaults(c);
		c->cal.state = PROTO_CAL_INVALID;
		stream_error(c, PROTO_ERR_CALIBRATION_INVALID, 0xFF, 0);
	}
}

int flashlog_save_settings(struct core *c)
{
	uint32_t slot, size;
	uint8_t *b = c->log.scratch;

	if (!settings_usable(c))
		return -ENODEV;
	slot = settings_slot(c);
	size = c->ports.storage->page_size;
	if (c->log.settings_off + slot > size) {
		uint32_t other = 1u - c->log.settings_page;

		if (flash_erase(c, other) != 0)
			return -EIO;
		c->log.settings_page = other;
		c->log.settings_off = 0;
	}
	memset(b, 0xFF, slot);
	settings_encode(c, b, c->log.settings_seq + 1u);
	if (flash_write(c, c->log.settings_page * size + c->log.settings_off, b, slot) != 0) {
		c->log.settings_off += slot; /* the slot may be torn: skip it */
		return -EIO;
	}
	c->log.settings_off += slot;
	c->log.settings_seq++;
	return 0;
}

/* ---- log records ---- */

/* Reads and checks the record at (page, pos); its frame lands at
 * scratch + CORE_RECORD_HEADER. Returns 0; -EBADMSG when its header is
 * whole but its CRC fails (*len is then its frame length, so that it can be
 * stepped over); or -ENOENT (erased, filler, garbage, a read error, or past
 * the end of the appended area). */
static int record_at(struct core *c, uint32_t page, uint32_t pos, uint32_t *record,
		     uint8_t *len)
{
	uint8_t *b = c->log.scratch;
	uint32_t limit = c->log.page_size, size;

	if (page == c->log.active)
		limit = c->log.write_off;
	if (pos + CORE_RECORD_HEADER > limit)
		return -ENOENT;
	if (flash_read(c, page_addr(c, page) + pos, b, CORE_RECORD_HEADER) != 0)
		return -ENOENT;
	if (b[0] != REC_MAGIC0 || b[1] != REC_MAGIC1 || b[3] != 0 || b[2] < PROTO_HEADER_SIZE)
		return -ENOENT;
	size = round_up(CORE_RECORD_HEADER + b[2], c->log.align);
	if (pos + size > limit)
		return -ENOENT;
	if (flash_read(c, page_addr(c, page) + pos + CORE_RECORD_HEADER,
		       b + CORE_RECORD_HEADER, b[2]) != 0)
		return -ENOENT;
	*len = b[2];
	if (core_get_u32(b + 8) != proto_crc32(proto_crc32(0, b, 8), b + CORE_RECORD_HEADER, b[2]))
		return -EBADMSG;
	*record = core_get_u32(b + 4);
	return 0;
}

static uint32_t record_size(const struct core *c, uint8_t len)
{
	return round_up(CORE_RECORD_HEADER + len, c->log.align);
}

static uint32_t data_start(const struct core *c)
{
	return round_up(LOG_HDR_SIZE, c->log.align);
}

static bool any_valid(const struct core *c)
{
	uint32_t i;

	for (i = 0; i < (c->log.pages + 7u) / 8u; i++)
		if (c->log.page_valid[i])
			return true;
	return false;
}

/* Next valid page after p in ring order, up to the active page; returns
 * false past the active page. */
static bool next_page(const struct core *c, uint32_t *p)
{
	uint32_t q = *p, i;

	if (q == c->log.active)
		return false;
	for (i = 0; i < c->log.pages; i++) {
		q = (q + 1u) % c->log.pages;
		if (valid_bit(c, q)) {
			*p = q;
			return true;
		}
		if (q == c->log.active)
			return false;
	}
	return false;
}

static void find_ends(struct core *c)
{
	uint32_t p, lo = UINT32_MAX, hi = 0;
	bool first = true;

	for (p = 0; p < c->log.pages; p++) {
		if (!valid_bit(c, p))
			continue;
		if (first || c->log.page_first[p] < lo) {
			lo = c->log.page_first[p];
			c->log.oldest = p;
		}
		if (first || c->log.page_first[p] >= hi) {
			hi = c->log.page_first[p];
			c->log.active = p;
		}
		first = false;
	}
}

struct iter {
	uint32_t page, pos, record;
	uint8_t len;
};

/* First record with number >= from. Returns 0 or -ENOENT. */
/* Steps over a filler (zeros written over a torn record, see
 * fill_torn()). Returns true if pos moved. */
static bool skip_filler(struct core *c, uint32_t page, uint32_t *pos)
{
	uint32_t limit = page == c->log.active ? c->log.write_off : c->log.page_size;
	uint32_t unit = c->log.align, start = *pos;
	uint8_t b[16];

	while (*pos + unit <= limit) {
		uint32_t i;

		if (flash_read(c, page_addr(c, page) + *pos, b, unit) != 0)
			break;
		for (i = 0; i < unit && b[i] == 0; i++)
			;
		if (i < unit)
			break;
		*pos += unit;
	}
	return *pos != start;
}

/* Moves it to the next record at or after it->pos. A record that fails its
 * CRC (flash damage) is stepped over by the length in its header; after
 * anything else unreadable the rest of the page is. Either leaves a hole in
 * the numbering, which a transfer reports (PROTO_CHUNK_SKIPPED). */
static int iter_scan(struct core *c, struct iter *it)
{
	for (;;) {
		int err = record_at(c, it->page, it->pos, &it->record, &it->len);

		if (err == 0)
			return 0;
		if (err == -EBADMSG) {
			it->pos += record_size(c, it->len);
			continue;
		}
		if (skip_filler(c, it->page, &it->pos))
			continue;
		if (!next_page(c, &it->page))
			return -ENOENT;
		it->pos = data_start(c);
	}
}

/* First record with number >= from. Returns 0 or -ENOENT. */
static int iter_seek(struct core *c, struct iter *it, uint32_t from)
{
	if (!any_valid(c))
		return -ENOENT;
	it->page = c->log.oldest;
	it->pos = data_start(c);
	for (;;) {
		if (iter_scan(c, it) != 0)
			return -ENOENT;
		if (it->record >= from)
			return 0;
		it->pos += record_size(c, it->len);
	}
}

static int iter_next(struct core *c, struct iter *it)
{
	it->pos += record_size(c, it->len);
	return iter_scan(c, it);
}

static bool is_session_start(const uint8_t *frame, uint8_t len)
{
	return len > 3 && frame[1] == PROTO_TYPE_SESSION && frame[3] == PROTO_SESSION_START;
}

/* Session starts at or above the floor, in the whole log. */
static uint16_t count_sessions(struct core *c)
{
	struct iter it;
	uint16_t n = 0;

	if (iter_seek(c, &it, c->log.floor) != 0)
		return 0;
	do {
		if (is_session_start(c->log.scratch + CORE_RECORD_HEADER, it.len) && n < UINT16_MAX)
			n++;
	} while (iter_next(c, &it) == 0);
	return n;
}

/* Session starts at or above the floor in one page. */
static uint16_t page_sessions(struct core *c, uint32_t page)
{
	uint32_t pos = data_start(c), rec;
	uint16_t n = 0;
	uint8_t len;

	for (;;) {
		if (record_at(c, page, pos, &rec, &len) == 0) {
			if (rec >= c->log.floor &&
			    is_session_start(c->log.scratch + CORE_RECORD_HEADER, len) && n < UINT16_MAX)
				n++;
			pos += record_size(c, len);
			continue;
		}
		if (!skip_filler(c, page, &pos))
			return n;
	}
}

static void refresh_first(struct core *c)
{
	struct iter it;

	if (iter_seek(c, &it, c->log.floor) == 0)
		c->log.first_held = it.record;
	else
		c->log.first_held = c->log.next_record;
}

/* Opens the page after the active one, recycling the oldest if needed. */
static int open_page(struct core *c)
{
	uint32_t target = (c->log.active + 1u) % c->log.pages;
	uint8_t *b = c->log.scratch;
	uint32_t hdr = data_start(c);

	if (valid_bit(c, target)) {
		uint16_t gone = page_sessions(c, target);

		c->counters.sessions_recycled += gone;
		c->log.sessions = (uint16_t)(c->log.sessions > gone ? c->log.sessions - gone : 0);
		if (c->log.xfer && c->log.xfer_page == target)
			c->log.xfer_broken = true;
	}
	set_valid(c, target, false);
	c->log.active_open = false;
	if (flash_erase(c, c->log.first_page + target) != 0)
		return -EIO;
	if (any_valid(c)) {
		uint32_t active = c->log.active;

		find_ends(c); /* the oldest page may have gone */
		c->log.active = active;
	}
	refresh_first(c);
	memset(b, 0xFF, hdr);
	core_put_u32(b, LOG_MAGIC);
	core_put_u32(b + 4, c->log.next_record);
	core_put_u32(b + 8, proto_crc32(0, b, 8));
	c->log.active = target;
	c->log.write_off = hdr;
	if (flash_write(c, page_addr(c, target), b, hdr) != 0)
		return -EIO;
	c->log.page_first[target] = c->log.next_record;
	set_valid(c, target, true);
	c->log.active_open = true;
	find_ends(c);
	refresh_first(c);
	return 0;
}

/* Makes room for a record of len frame bytes; may open (erase) a page.
 * Must run before the frame is placed in scratch (opening a page reads
 * records through it). */
static int reserve(struct core *c, size_t len)
{
	if (!c->log.active_open || c->log.write_off + record_size(c, (uint8_t)len) > c->log.page_size)
		return open_page(c);
	return 0;
}

/* Appends the frame waiting at scratch + CORE_RECORD_HEADER (after reserve()). */
static int append_scratch(struct core *c, uint8_t len)
{
	uint8_t *b = c->log.scratch;
	uint32_t size = record_size(c, len);
	bool start = is_session_start(b + CORE_RECORD_HEADER, len);
	int err;

	if (!c->log.active_open || c->log.write_off + size > c->log.page_size)
		return -EIO;
	b[0] = REC_MAGIC0;
	b[1] = REC_MAGIC1;
	b[2] = len;
	b[3] = 0;
	core_put_u32(b + 4, c->log.next_record);
	core_put_u32(b + 8, proto_crc32(proto_crc32(0, b, 8), b + CORE_RECORD_HEADER, len));
	memset(b + CORE_RECORD_HEADER + len, 0xFF, size - CORE_RECORD_HEADER - len);
	err = flash_write(c, page_addr(c, c->log.active) + c->log.write_off, b, size);
	/* Spent even when the write failed: numbers are never reused. */
	c->log.next_record++;
	if (err) {
		/* The slot may hold a torn record: close the page. */
		c->log.active_open = false;
		return -EIO;
	}
	c->log.write_off += size;
	c->counters.log_records++;
	if (start && c->log.sessions < UINT16_MAX)
		c->log.sessions++;
	return 0;
}

static int append(struct core *c, const uint8_t *frame, size_t len)
{
	int err;

	if (len < PROTO_HEADER_SIZE || len > PROTO_FRAME_MAX)
		return -EINVAL;
	err = reserve(c, len);
	if (err)
		return err;
	memcpy(c->log.scratch + CORE_RECORD_HEADER, frame, len);
	return append_scratch(c, (uint8_t)len);
}

/* Logs samples [logged_next, upto) in batches of up to 108. */
static int log_samples(struct core *c, uint32_t upto, bool full_only)
{
	int err = 0;

	while ((int32_t)(upto - c->log.logged_next) > 0) {
		uint32_t n = upto - c->log.logged_next;
		size_t len;

		if (!stream_history_has(c, c->log.logged_next)) {
			uint32_t oldest = c->hist.next - c->hist.held;
			uint32_t lost = oldest - c->log.logged_next;

			if (c->hist.held == 0 || (int32_t)(upto - oldest) <= 0)
				lost = upto - c->log.logged_next;
			c->counters.log_samples_lost += lost;
			c->log.logged_next += lost;
			continue;
		}
		if (n > MEAS_RECORD_SAMPLES)
			n = MEAS_RECORD_SAMPLES;
		else if (full_only && n < MEAS_RECORD_SAMPLES)
			break;
		if (reserve(c, proto_measurement_size(n)) != 0) {
			c->counters.log_samples_lost += n;
			c->log.logged_next += n;
			err = -EIO;
			continue;
		}
		if (stream_encode_measurement(c, c->log.logged_next, n,
					      stream_flags(c) | PROTO_MEAS_RECORDING,
					      c->log.scratch + CORE_RECORD_HEADER,
					      PROTO_FRAME_MAX, &len) != 0)
			return -EFAULT;
		c->log.logged_next += n;
		if (append_scratch(c, (uint8_t)len) != 0)
			err = -EIO;
	}
	return err;
}

void flashlog_queue(struct core *c, const uint8_t *frame, size_t len, uint32_t flush_to)
{
	struct core_small_frame *f;

	if (!c->log.usable || len > CORE_SMALL_FRAME_MAX)
		return;
	if (c->log.logq_n == CORE_LOGQ_SLOTS) {
		/* poll() has not run for a while: the oldest event is lost. */
		memmove(&c->log.logq[0], &c->log.logq[1],
			sizeof(c->log.logq[0]) * (CORE_LOGQ_SLOTS - 1u));
		c->log.logq_n--;
		c->counters.events_dropped++;
	}
	f = &c->log.logq[c->log.logq_n++];
	memcpy(f->buf, frame, len);
	f->len = (uint8_t)len;
	f->kind = len > 3 ? frame[1] : 0;
	f->sample = flush_to;
}

void flashlog_recording_started(struct core *c, uint32_t first_sample)
{
	c->log.logged_next = first_sample;
}

int flashlog_flush(struct core *c)
{
	int err = 0;

	if (!c->log.usable) {
		c->log.logq_n = 0;
		return 0;
	}
	while (c->log.logq_n) {
		/* Take the entry out first: a failing write queues an event. */
		struct core_small_frame f = c->log.logq[0];

		memmove(&c->log.logq[0], &c->log.logq[1],
			sizeof(c->log.logq[0]) * (CORE_LOGQ_SLOTS - 1u));
		c->log.logq_n--;
		if ((int32_t)(f.sample - c->log.logged_next) > 0 &&
		    (int32_t)(c->hist.next - c->log.logged_next) > 0) {
			uint32_t upto = f.sample;

			if ((int32_t)(upto - c->hist.next) > 0)
				upto = c->hist.next;
			if (log_samples(c, upto, false) != 0)
				err = -EIO;
		}
		if (append(c, f.buf, f.len) != 0)
			err = -EIO;
	}
	if (c->session.active && log_samples(c, c->hist.next, true) != 0)
		err = -EIO;
	return err;
}

/* ---- recovery ---- */

struct scan {
	bool open;            /* last SESSION record was a start */
	uint8_t region;
	uint16_t id;
	bool have_id;
	uint32_t end_sample;  /* one past the last logged sample */
	uint32_t end_time;
};

static void scan_frame(struct core *c, struct scan *s, const uint8_t *f, uint8_t len)
{
	if (len >= PROTO_HEADER_SIZE + 16u && f[1] == PROTO_TYPE_SESSION) {
		s->open = f[3] == PROTO_SESSION_START;
		s->region = f[4];
		s->id = core_get_u16(f + 5);
		s->have_id = true;
		s->end_sample = core_get_u32(f + 7);
		s->end_time = core_get_u32(f + 11);
	} else if (len >= PROTO_HEADER_SIZE + PROTO_MEAS_FIXED_SIZE && f[1] == PROTO_TYPE_MEASUREMENT) {
		uint8_t n = f[PROTO_HEADER_SIZE + 9];

		s->end_sample = core_get_u32(f + 3) + n;
		s->end_time = core_get_u32(f + 7) +
			      (uint32_t)((uint64_t)n * c->ports.force->sample_period_us / 1000u);
	}
}

static void close_open_session(struct core *c, const struct scan *s)
{
	struct proto_session ps;
	uint8_t frame[CORE_SMALL_FRAME_MAX];
	size_t len;

	ps.kind = PROTO_SESSION_END;
	ps.region = s->region;
	ps.session_id = s->id;
	ps.sample = s->end_sample;
	ps.time = s->end_time;
	ps.unix_time = 0;
	if (proto_session_encode(&ps, frame, sizeof(frame), &len) != 0)
		return;
	/* A nicety, not worth recycling old sessions for: the next SESSION
	 * start ends the open one just as well. */
	if ((!c->log.active_open || c->log.write_off + record_size(c, (uint8_t)len) > c->log.page_size) &&
	    valid_bit(c, (c->log.active + 1u) % c->log.pages))
		return;
	(void)append(c, frame, len);
}

/*
 * A power cut left a prefix of a record at pos (the only place it can be:
 * the end of the appended area). Everything after its last written byte is
 * still erased, so the bytes up to there are overwritten with zeros (NOR can
 * always clear bits) and appending resumes after them; readers step over the
 * zeros. If this write is cut too, the next recovery finds zeros followed by
 * the same torn bytes and does it again. Returns 0 and the new pos, or
 * -ENOSPC / -EIO: the page is then closed.
 */
static int fill_torn(struct core *c, uint32_t page, uint32_t *pos)
{
	uint8_t *b = c->log.scratch;
	uint32_t end = c->log.page_size, resume, at;
	const uint32_t chunk = 64;

	/* Find the last written byte. */
	while (end > *pos) {
		uint32_t from = end > *pos + chunk ? end - chunk : *pos;
		uint32_t i;

		if (flash_read(c, page_addr(c, page) + from, b, end - from) != 0)
			return -EIO;
		for (i = end - from; i > 0 && b[i - 1] == 0xFF; i--)
			;
		if (i > 0) {
			end = from + i;
			break;
		}
		end = from;
	}
	resume = round_up(end, c->log.align);
	if (resume + CORE_RECORD_HEADER + PROTO_HEADER_SIZE > c->log.page_size)
		return -ENOSPC;
	memset(b, 0, CORE_RECORD_MAX);
	for (at = *pos; at < resume;) {
		uint32_t n = resume - at > CORE_RECORD_MAX ? CORE_RECORD_MAX : resume - at;

		if (flash_write(c, page_addr(c, page) + at, b, n) != 0)
			return -EIO;
		at += n;
	}
	*pos = resume;
	return 0;
}

static void log_recover(struct core *c)
{
	uint8_t *b = c->log.scratch;
	uint32_t hdr = data_start(c), p, next = c->log.next_record;
	struct scan s = { false, 0, 0, false, 0, 0 };
	struct iter it;

	for (p = 0; p < c->log.pages; p++) {
		set_valid(c, p, false);
		if (flash_read(c, page_addr(c, p), b, LOG_HDR_SIZE) != 0)
			continue;
		if (core_get_u32(b) != LOG_MAGIC || core_get_u32(b + 8) != proto_crc32(0, b, 8))
			continue;
		c->log.page_first[p] = core_get_u32(b + 4);
		set_valid(c, p, true);
	}
	c->log.active = c->log.pages - 1u; /* so that the first page opened is 0 */
	c->log.active_open = false;
	c->log.write_off = c->log.page_size;
	if (!any_valid(c))
		goto done;
	find_ends(c);

	/* Walk the active page to find where appending resumes. */
	{
		uint32_t pos = hdr, rec, expect = c->log.page_first[c->log.active];
		uint8_t len;

		c->log.write_off = c->log.page_size; /* no limit while scanning */
		c->log.active_open = false;
		for (;;) {
			if (pos + CORE_RECORD_HEADER > c->log.page_size)
				break; /* full */
			int err = record_at(c, c->log.active, pos, &rec, &len);

			if (err == 0 && rec >= expect) {
				/* numbers only grow; spent ones leave gaps */
				pos += record_size(c, len);
				expect = rec + 1u;
				continue;
			}
			if (err == -EBADMSG) {
				/* Damaged, not torn (a tear is always the last
				 * thing written) if a whole record follows it:
				 * step over it. */
				uint32_t after = pos + record_size(c, len);
				uint8_t len2;

				if (after + CORE_RECORD_HEADER <= c->log.page_size &&
				    record_at(c, c->log.active, after, &rec, &len2) == 0 &&
				    rec > expect) {
					pos = after;
					expect++;
					continue;
				}
			}
			if (skip_filler(c, c->log.active, &pos))
				continue;
			if (flash_read(c, page_addr(c, c->log.active) + pos, b, CORE_RECORD_HEADER) == 0 &&
			    all_ff(b, CORE_RECORD_HEADER)) {
				c->log.active_open = true;
				break;
			}
			/* A torn record: its number is spent; cover it and go on. */
			expect++;
			if (fill_torn(c, c->log.active, &pos) != 0)
				break;
		}
		c->log.write_off = pos;
		if (expect > next)
			next = expect;
	}
	if (iter_seek(c, &it, 0) == 0) {
		do {
			if (it.record + 1u > next)
				next = it.record + 1u;
			scan_frame(c, &s, b + CORE_RECORD_HEADER, it.len);
		} while (iter_next(c, &it) == 0);
	}
done:
	c->log.next_record = next;
	if (s.have_id && (uint16_t)(s.id + 1u) != 0 &&
	    (int16_t)(uint16_t)(s.id + 1u - c->session.next_id) > 0)
		c->session.next_id = (uint16_t)(s.id + 1u);
	if (c->session.next_id == 0)
		c->session.next_id = 1;
	c->log.first_held = c->log.next_record;
	if (s.open)
		close_open_session(c, &s);
	refresh_first(c);
	c->log.sessions = count_sessions(c);
}

void flashlog_init(struct core *c)
{
	const struct port_storage_ops *st = c->ports.storage;
	uint32_t pages;

	c->log.usable = false;
	c->log.logq_n = 0;
	c->log.xfer = false;
	c->log.floor = 0;
	c->log.next_record = 0;
	c->log.sessions = 0;
	c->log.settings_seq = 0;
	c->log.settings_page = 0;
	c->log.settings_off = 0;
	memset(c->log.page_valid, 0, sizeof(c->log.page_valid));
	if (!settings_usable(c))
		return;
	settings_load(c);
	pages = st->page_count - SETTINGS_PAGES;
	if (pages > CORE_LOG_MAX_PAGES)
		pages = CORE_LOG_MAX_PAGES;
	if (pages < 2u || st->page_size < 2u * CORE_RECORD_MAX)
		return;
	c->log.page_size = st->page_size;
	c->log.pages = pages;
	c->log.first_page = SETTINGS_PAGES;
	c->log.align = st->write_align;
	c->log.usable = true;
	log_recover(c);
}

/* ---- host requests ---- */

int flashlog_info(const struct core *c, uint32_t *first, uint32_t *end,
		  uint16_t *sessions)
{
	if (!c->log.usable)
		return -ENODEV;
	*first = c->log.first_held;
	*end = c->log.next_record;
	*sessions = c->log.sessions;
	return 0;
}

int flashlog_read_start(struct core *c, uint32_t first, uint16_t count,
			uint16_t offset, uint32_t *records)
{
	uint32_t lo, end, last, n = 0;
	uint16_t sessions;
	struct iter it, start;
	bool have;

	if (flashlog_info(c, &lo, &end, &sessions) != 0)
		return -ENOENT;
	if (first < lo || first > end)
		return -ENOENT;
	last = (count == 0 || (uint64_t)first + count > end) ? end : first + count;
	have = iter_seek(c, &it, first) == 0 && it.record < last;
	start = it;
	if (offset && (!have || it.record != first || offset >= it.len))
		return -ERANGE;
	if (have) {
		do {
			if (it.record >= last)
				break;
			n++;
		} while (iter_next(c, &it) == 0);
	}
	c->log.xfer = true;
	c->log.xfer_broken = false;
	c->log.xfer_first = first;
	c->log.xfer_last = last;
	c->log.xfer_expect = first;
	c->log.xfer_left = n;
	if (n) {
		c->log.xfer_page = start.page;
		c->log.xfer_pos = start.pos;
		c->log.xfer_record = start.record;
	}
	c->log.xfer_offset = offset;
	*records = n;
	return 0;
}

void flashlog_abort_transfer(struct core *c)
{
	c->log.xfer = false;
}

/* Returns 0 (the link took it), -EAGAIN (keep it for later), or another
 * error after ending the transfer (the host resumes with LOG_READ). */
static int send_chunk(struct core *c, const struct proto_log_chunk *ch)
{
	uint8_t *out = c->stream.tx;
	size_t len;
	int err;

	if (proto_log_chunk_encode(ch, out, sizeof(c->stream.tx), &len) != 0) {
		c->log.xfer = false;
		return -EINVAL;
	}
	err = c->ports.link->notify(c->ports.link->ctx, CORE_CHAR_LOG, out, len);
	if (err == 0 || err == -EAGAIN)
		return err;
	if (err != -ENOTCONN)
		c->counters.notify_errors++;
	c->log.xfer = false;
	return err;
}

/* The chunk is made from flash each time it is offered: nothing is queued
 * ahead, so a busy link costs a re-read, never a chunk. */
int flashlog_transfer_next(struct core *c)
{
	size_t cap = proto_log_chunk_capacity(c->stream.mtu);
	uint8_t *frame = c->log.scratch + CORE_RECORD_HEADER;
	struct proto_log_chunk ch;
	struct iter it;
	uint32_t rec;
	uint8_t len = 0;
	int err;

	if (!c->log.xfer)
		return 0;
	if (c->log.xfer_left != 0 && !c->log.xfer_broken &&
	    (record_at(c, c->log.xfer_page, c->log.xfer_pos, &rec, &len) != 0 ||
	     rec != c->log.xfer_record || c->log.xfer_offset >= len))
		c->log.xfer_broken = true;
	if (c->log.xfer_left == 0 || c->log.xfer_broken) {
		/* Stopped early: the first record not sent. All sent (only
		 * when there was none to send): the end of the range. */
		ch.record = c->log.xfer_left ? c->log.xfer_record : c->log.xfer_last;
		ch.offset = 0;
		ch.flags = PROTO_CHUNK_END;
		if (ch.record != c->log.xfer_expect)
			ch.flags |= PROTO_CHUNK_SKIPPED;
		ch.len = 0;
		ch.data = frame;
		err = send_chunk(c, &ch);
		if (err == -EAGAIN)
			return err;
		c->log.xfer = false;
		return err == 0 ? 1 : 0;
	}
	ch.record = rec;
	ch.offset = c->log.xfer_offset;
	{
		size_t rest = (size_t)len - c->log.xfer_offset;

		ch.len = (uint8_t)(rest > cap ? cap : rest);
	}
	ch.data = frame + c->log.xfer_offset;
	ch.flags = 0;
	if (ch.offset == 0 && rec != c->log.xfer_expect)
		ch.flags |= PROTO_CHUNK_SKIPPED;
	if (ch.offset + ch.len == len) {
		ch.flags |= PROTO_CHUNK_LAST_IN_RECORD;
		if (c->log.xfer_left == 1)
			ch.flags |= PROTO_CHUNK_END;
	}
	err = send_chunk(c, &ch);
	if (err)
		return err == -EAGAIN ? err : 0;
	c->log.xfer_offset = (uint16_t)(c->log.xfer_offset + ch.len);
	if (!(ch.flags & PROTO_CHUNK_LAST_IN_RECORD))
		return 1;
	c->log.xfer_offset = 0;
	c->log.xfer_expect = rec + 1u;
	if (--c->log.xfer_left == 0) {
		c->log.xfer = false;
		return 1;
	}
	it.page = c->log.xfer_page;
	it.pos = c->log.xfer_pos;
	it.len = len;
	if (iter_next(c, &it) != 0) {
		c->log.xfer_broken = true; /* an empty END next time */
		return 1;
	}
	c->log.xfer_page = it.page;
	c->log.xfer_pos = it.pos;
	c->log.xfer_record = it.record;
	return 1;
}

int flashlog_erase(struct core *c, uint32_t end_record)
{
	uint8_t doomed[CORE_LOG_MAX_PAGES / 8u];
	uint32_t e, old_floor = c->log.floor, p;
	int err;

	if (!c->log.usable)
		return -ENOENT;
	if (c->session.active)
		return -EBUSY;
	e = end_record > c->log.next_record ? c->log.next_record : end_record;
	if (e <= c->log.floor)
		return 0;
	c->log.floor = e;
	err = flashlog_save_settings(c);
	if (err) {
		c->log.floor = old_floor;
		return -EIO;
	}
	if (c->log.xfer)
		c->log.xfer_broken = true;
	/* Pages that now hold only hidden records go, oldest first. */
	memset(doomed, 0, sizeof(doomed));
	for (p = 0; p < c->log.pages; p++) {
		uint32_t upper, q = p;

		if (!valid_bit(c, p))
			continue;
		if (p == c->log.active)
			upper = c->log.next_record;
		else if (next_page(c, &q))
			upper = c->log.page_first[q];
		else
			continue;
		if (upper <= e)
			doomed[p / 8u] |= (uint8_t)(1u << (p % 8u));
	}
	for (p = 0; p < c->log.pages; p++) {
		if (!(((uint32_t)doomed[p / 8u] >> (p % 8u)) & 1u))
			continue;
		set_valid(c, p, false);
		if (p == c->log.active)
			c->log.active_open = false;
		(void)flash_erase(c, c->log.first_page + p);
	}
	if (any_valid(c))
		find_ends(c);
	refresh_first(c);
	c->log.sessions = count_sessions(c);
	return 0;
}
