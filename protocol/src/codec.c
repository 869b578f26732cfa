/*
 * Frame header, measurement, event, session, info and log chunk codecs.
 * Layouts: protocol/README.md.
 */
#include <errno.h>

#include "wire.h"

int wire_open(struct wire_reader *r, const uint8_t *buf, size_t len, uint8_t type)
{
	struct proto_header hdr;
	int err = proto_header_decode(buf, len, &hdr);

	if (err)
		return err;
	if (hdr.type != type)
		return -ENOMSG;
	wire_reader_init(r, buf + PROTO_HEADER_SIZE, hdr.length);
	return 0;
}

void wire_begin(struct wire_writer *w, uint8_t *out, size_t cap, uint8_t type)
{
	wire_writer_init(w, out, cap);
	wire_put_u8(w, PROTO_VERSION);
	wire_put_u8(w, type);
	wire_put_u8(w, 0); /* length, patched by wire_close */
}

int wire_close(struct wire_writer *w, size_t *written)
{
	size_t payload;

	if (w->overrun)
		return -ENOBUFS;
	payload = w->pos - PROTO_HEADER_SIZE;
	if (payload > 255u)
		return -ERANGE;
	w->buf[2] = (uint8_t)payload;
	*written = w->pos;
	return 0;
}

int wire_finish(const struct wire_reader *r)
{
	if (r->overrun || r->pos != r->len)
		return -EBADMSG;
	return 0;
}

int proto_frame_peek(const uint8_t *buf, size_t len, size_t *frame_size)
{
	if (!buf || !frame_size)
		return -EINVAL;
	if (len < PROTO_HEADER_SIZE)
		return -EAGAIN;
	if (buf[0] != PROTO_VERSION)
		return -EPROTONOSUPPORT;
	if (len < PROTO_HEADER_SIZE + (size_t)buf[2])
		return -EAGAIN;
	*frame_size = PROTO_HEADER_SIZE + (size_t)buf[2];
	return 0;
}

int proto_header_decode(const uint8_t *buf, size_t len, struct proto_header *hdr)
{
	if (!buf || !hdr)
		return -EINVAL;
	if (len < PROTO_HEADER_SIZE)
		return -EBADMSG;
	if (buf[0] != PROTO_VERSION)
		return -EPROTONOSUPPORT;
	if (len != PROTO_HEADER_SIZE + (size_t)buf[2])
		return -EBADMSG;
	hdr->version = buf[0];
	hdr->type = buf[1];
	hdr->length = buf[2];
	return 0;
}

int32_t proto_seq_diff(uint32_t a, uint32_t b)
{
	uint32_t d = b - a;

	/* Avoid the implementation-defined unsigned->signed conversion. */
	if (d >= 0x80000000u)
		return d == 0x80000000u ? INT32_MIN : -(int32_t)(~d + 1u);
	return (int32_t)d;
}

/* ---- Measurement ---- */

static size_t still_bytes(size_t n)
{
	return (n + 7u) / 8u;
}

size_t proto_measurement_size(size_t n)
{
	return PROTO_HEADER_SIZE + PROTO_MEAS_FIXED_SIZE + still_bytes(n) + 2u * n;
}

size_t proto_measurement_capacity(uint16_t mtu)
{
	size_t room, n;

	if (mtu < PROTO_MTU_MIN)
		return 0;
	if (mtu > PROTO_MTU_MAX)
		mtu = PROTO_MTU_MAX;
	room = (size_t)mtu - PROTO_ATT_OVERHEAD;
	n = PROTO_BATCH_MAX_SAMPLES;
	while (n > 0 && proto_measurement_size(n) > room)
		n--;
	return n;
}

bool proto_measurement_is_still(const struct proto_measurement *m, size_t i)
{
	if (!m || i >= PROTO_BATCH_MAX_SAMPLES)
		return false;
	return ((unsigned)m->still[i / 8u] >> (i % 8u)) & 1u;
}

void proto_measurement_set_still(struct proto_measurement *m, size_t i, bool still)
{
	uint8_t bit;

	if (!m || i >= PROTO_BATCH_MAX_SAMPLES)
		return;
	bit = (uint8_t)(1u << (i % 8u));
	if (still)
		m->still[i / 8u] = (uint8_t)(m->still[i / 8u] | bit);
	else
		m->still[i / 8u] = (uint8_t)(m->still[i / 8u] & (uint8_t)~bit);
}

int proto_measurement_encode(const struct proto_measurement *m, uint8_t *out,
			     size_t cap, size_t *written)
{
	struct wire_writer w;
	size_t i, nb;

	if (!m || !out || !written)
		return -EINVAL;
	if (m->count == 0 || m->count > PROTO_BATCH_MAX_SAMPLES ||
	    (m->flags & ~PROTO_MEAS_FLAGS_KNOWN))
		return -ERANGE;
	wire_begin(&w, out, cap, PROTO_TYPE_MEASUREMENT);
	wire_put_u32(&w, m->first_sample);
	wire_put_u32(&w, m->time);
	wire_put_u8(&w, m->flags);
	wire_put_u8(&w, m->count);
	nb = still_bytes(m->count);
	for (i = 0; i < nb; i++) {
		uint8_t bits = m->still[i];

		/* Bits past count are reserved: never put them on the wire. */
		if (i == nb - 1 && (m->count % 8u))
			bits = (uint8_t)(bits & ((1u << (m->count % 8u)) - 1u));
		wire_put_u8(&w, bits);
	}
	for (i = 0; i < m->count; i++)
		wire_put_i16(&w, m->force[i]);
	return wire_close(&w, written);
}

int proto_measurement_decode(const uint8_t *buf, size_t len,
			     struct proto_measurement *m)
{
	struct wire_reader r;
	size_t i, nb;
	int err;

	if (!buf || !m)
		return -EINVAL;
	err = wire_open(&r, buf, len, PROTO_TYPE_MEASUREMENT);
	if (err)
		return err;
	m->first_sample = wire_u32(&r);
	m->time = wire_u32(&r);
	m->flags = wire_u8(&r);
	m->count = wire_u8(&r);
	if (r.overrun)
		return -EBADMSG;
	if (m->count == 0 || m->count > PROTO_BATCH_MAX_SAMPLES ||
	    (m->flags & ~PROTO_MEAS_FLAGS_KNOWN))
		return -EBADMSG;
	if (wire_remaining(&r) != still_bytes(m->count) + 2u * m->count)
		return -EBADMSG;
	nb = still_bytes(m->count);
	for (i = 0; i < PROTO_STILL_BYTES; i++)
		m->still[i] = i < nb ? wire_u8(&r) : 0;
	if (m->count % 8u &&
	    (m->still[nb - 1] & (uint8_t)~((1u << (m->count % 8u)) - 1u)))
		return -EBADMSG;
	for (i = 0; i < m->count; i++)
		m->force[i] = wire_i16(&r);
	return wire_finish(&r);
}

/* ---- Event ---- */

static int event_body_check(const struct proto_event *e)
{
	switch ((enum proto_event_kind)e->kind) {
	case PROTO_EVENT_HOLD_START:
		return 0;
	case PROTO_EVENT_HOLD_END:
		if (e->u.hold_end.reason > PROTO_END_LAST ||
		    e->u.hold_end.in_band > e->u.hold_end.duration)
			return -ERANGE;
		return 0;
	case PROTO_EVENT_STATUS:
		if (e->u.status.state > PROTO_STATE_LAST ||
		    (e->u.status.flags & ~PROTO_STATUS_FLAGS_KNOWN) ||
		    e->u.status.battery_pct > 100)
			return -ERANGE;
		return 0;
	case PROTO_EVENT_ERROR:
		if (e->u.error.code == 0 || e->u.error.code > PROTO_ERR_LAST)
			return -ERANGE;
		return 0;
	case PROTO_EVENT_COUNTERS:
		return 0;
	case PROTO_EVENT_BATTERY_LOW:
		if (e->u.battery_low.percent > 100)
			return -ERANGE;
		return 0;
	}
	return -ENOMSG;
}

int proto_event_encode(const struct proto_event *e, uint8_t *out, size_t cap,
		       size_t *written)
{
	struct wire_writer w;
	int err;

	if (!e || !out || !written)
		return -EINVAL;
	err = event_body_check(e);
	if (err)
		return -ERANGE;
	wire_begin(&w, out, cap, PROTO_TYPE_EVENT);
	wire_put_u8(&w, e->kind);
	wire_put_u16(&w, e->seq);
	wire_put_u32(&w, e->sample);
	switch ((enum proto_event_kind)e->kind) {
	case PROTO_EVENT_HOLD_START:
		wire_put_i16(&w, e->u.hold_start.force);
		break;
	case PROTO_EVENT_HOLD_END:
		wire_put_u16(&w, e->u.hold_end.duration);
		wire_put_u16(&w, e->u.hold_end.in_band);
		wire_put_i16(&w, e->u.hold_end.mean_force);
		wire_put_i16(&w, e->u.hold_end.peak_force);
		wire_put_u8(&w, e->u.hold_end.reason);
		wire_put_u8(&w, e->u.hold_end.dips);
		break;
	case PROTO_EVENT_STATUS:
		wire_put_u8(&w, e->u.status.state);
		wire_put_u8(&w, e->u.status.flags);
		wire_put_u8(&w, e->u.status.battery_pct);
		break;
	case PROTO_EVENT_ERROR:
		wire_put_u8(&w, e->u.error.code);
		wire_put_u8(&w, e->u.error.channel);
		wire_put_u16(&w, e->u.error.detail);
		break;
	case PROTO_EVENT_COUNTERS:
		wire_put_u32(&w, e->u.counters.samples_dropped);
		wire_put_u16(&w, e->u.counters.events_dropped);
		wire_put_u16(&w, e->u.counters.sessions_recycled);
		wire_put_u16(&w, e->u.counters.rx_errors);
		break;
	case PROTO_EVENT_BATTERY_LOW:
		wire_put_u16(&w, e->u.battery_low.millivolts);
		wire_put_u8(&w, e->u.battery_low.percent);
		break;
	}
	return wire_close(&w, written);
}

int proto_event_decode(const uint8_t *buf, size_t len, struct proto_event *e)
{
	struct wire_reader r;
	int err;

	if (!buf || !e)
		return -EINVAL;
	err = wire_open(&r, buf, len, PROTO_TYPE_EVENT);
	if (err)
		return err;
	e->kind = wire_u8(&r);
	e->seq = wire_u16(&r);
	e->sample = wire_u32(&r);
	if (r.overrun)
		return -EBADMSG;
	switch ((enum proto_event_kind)e->kind) {
	case PROTO_EVENT_HOLD_START:
		e->u.hold_start.force = wire_i16(&r);
		break;
	case PROTO_EVENT_HOLD_END:
		e->u.hold_end.duration = wire_u16(&r);
		e->u.hold_end.in_band = wire_u16(&r);
		e->u.hold_end.mean_force = wire_i16(&r);
		e->u.hold_end.peak_force = wire_i16(&r);
		e->u.hold_end.reason = wire_u8(&r);
		e->u.hold_end.dips = wire_u8(&r);
		break;
	case PROTO_EVENT_STATUS:
		e->u.status.state = wire_u8(&r);
		e->u.status.flags = wire_u8(&r);
		e->u.status.battery_pct = wire_u8(&r);
		break;
	case PROTO_EVENT_ERROR:
		e->u.error.code = wire_u8(&r);
		e->u.error.channel = wire_u8(&r);
		e->u.error.detail = wire_u16(&r);
		break;
	case PROTO_EVENT_COUNTERS:
		e->u.counters.samples_dropped = wire_u32(&r);
		e->u.counters.events_dropped = wire_u16(&r);
		e->u.counters.sessions_recycled = wire_u16(&r);
		e->u.counters.rx_errors = wire_u16(&r);
		break;
	case PROTO_EVENT_BATTERY_LOW:
		e->u.battery_low.millivolts = wire_u16(&r);
		e->u.battery_low.percent = wire_u8(&r);
		break;
	default:
		return -ENOMSG;
	}
	err = wire_finish(&r);
	if (err)
		return err;
	return event_body_check(e) ? -EBADMSG : 0;
}

/* ---- Session ---- */

static int session_check(const struct proto_session *s)
{
	if ((s->kind != PROTO_SESSION_START && s->kind != PROTO_SESSION_END) ||
	    s->region > PROTO_REGION_LAST)
		return -ERANGE;
	return 0;
}

int proto_session_encode(const struct proto_session *s, uint8_t *out, size_t cap,
			 size_t *written)
{
	struct wire_writer w;

	if (!s || !out || !written)
		return -EINVAL;
	if (session_check(s))
		return -ERANGE;
	wire_begin(&w, out, cap, PROTO_TYPE_SESSION);
	wire_put_u8(&w, s->kind);
	wire_put_u8(&w, s->region);
	wire_put_u16(&w, s->session_id);
	wire_put_u32(&w, s->sample);
	wire_put_u32(&w, s->time);
	wire_put_u32(&w, s->unix_time);
	return wire_close(&w, written);
}

int proto_session_decode(const uint8_t *buf, size_t len, struct proto_session *s)
{
	struct wire_reader r;
	int err;

	if (!buf || !s)
		return -EINVAL;
	err = wire_open(&r, buf, len, PROTO_TYPE_SESSION);
	if (err)
		return err;
	s->kind = wire_u8(&r);
	s->region = wire_u8(&r);
	s->session_id = wire_u16(&r);
	s->sample = wire_u32(&r);
	s->time = wire_u32(&r);
	s->unix_time = wire_u32(&r);
	err = wire_finish(&r);
	if (err)
		return err;
	return session_check(s) ? -EBADMSG : 0;
}

/* ---- Info ---- */

static int info_check(const struct proto_info *i)
{
	if (i->sample_period_us == 0 || i->channels == 0 || i->channels > 8 ||
	    i->calibration > PROTO_CAL_INVALID)
		return -ERANGE;
	return 0;
}

int proto_info_encode(const struct proto_info *i, uint8_t *out, size_t cap,
		      size_t *written)
{
	struct wire_writer w;

	if (!i || !out || !written)
		return -EINVAL;
	if (info_check(i))
		return -ERANGE;
	wire_begin(&w, out, cap, PROTO_TYPE_INFO);
	wire_put_u8(&w, i->proto_major);
	wire_put_u8(&w, i->proto_minor);
	wire_put_u8(&w, i->fw_major);
	wire_put_u8(&w, i->fw_minor);
	wire_put_u8(&w, i->fw_patch);
	wire_put_u16(&w, i->capabilities);
	wire_put_u16(&w, i->sample_period_us);
	wire_put_u8(&w, i->channels);
	wire_put_u8(&w, i->calibration);
	wire_put_u16(&w, i->full_scale);
	wire_put_u32(&w, i->device_id);
	return wire_close(&w, written);
}

int proto_info_decode(const uint8_t *buf, size_t len, struct proto_info *i)
{
	struct wire_reader r;
	int err;

	if (!buf || !i)
		return -EINVAL;
	err = wire_open(&r, buf, len, PROTO_TYPE_INFO);
	if (err)
		return err;
	i->proto_major = wire_u8(&r);
	i->proto_minor = wire_u8(&r);
	i->fw_major = wire_u8(&r);
	i->fw_minor = wire_u8(&r);
	i->fw_patch = wire_u8(&r);
	i->capabilities = wire_u16(&r);
	i->sample_period_us = wire_u16(&r);
	i->channels = wire_u8(&r);
	i->calibration = wire_u8(&r);
	i->full_scale = wire_u16(&r);
	i->device_id = wire_u32(&r);
	err = wire_finish(&r);
	if (err)
		return err;
	return info_check(i) ? -EBADMSG : 0;
}

/* ---- Log chunk ---- */

size_t proto_log_chunk_capacity(uint16_t mtu)
{
	if (mtu < PROTO_MTU_MIN)
		return 0;
	if (mtu > PROTO_MTU_MAX)
		mtu = PROTO_MTU_MAX;
	return (size_t)mtu - PROTO_ATT_OVERHEAD - PROTO_HEADER_SIZE - PROTO_CHUNK_FIXED_SIZE;
}

static int chunk_check(const struct proto_log_chunk *c)
{
	if ((c->flags & ~PROTO_CHUNK_FLAGS_KNOWN) || c->len > PROTO_CHUNK_DATA_MAX ||
	    (c->len == 0 && !(c->flags & PROTO_CHUNK_END)) ||
	    ((c->flags & PROTO_CHUNK_SKIPPED) && c->offset != 0))
		return -ERANGE;
	return 0;
}

int proto_log_chunk_encode(const struct proto_log_chunk *c, uint8_t *out,
			   size_t cap, size_t *written)
{
	struct wire_writer w;

	if (!c || !out || !written || (c->len && !c->data))
		return -EINVAL;
	if (chunk_check(c))
		return -ERANGE;
	wire_begin(&w, out, cap, PROTO_TYPE_LOG_CHUNK);
	wire_put_u32(&w, c->record);
	wire_put_u16(&w, c->offset);
	wire_put_u8(&w, c->flags);
	wire_put_u16(&w, proto_crc16(0xFFFFu, c->data, c->len));
	wire_put_bytes(&w, c->data, c->len);
	return wire_close(&w, written);
}

int proto_log_chunk_decode(const uint8_t *buf, size_t len,
			   struct proto_log_chunk *c)
{
	struct wire_reader r;
	size_t n;
	int err;

	if (!buf || !c)
		return -EINVAL;
	err = wire_open(&r, buf, len, PROTO_TYPE_LOG_CHUNK);
	if (err)
		return err;
	c->record = wire_u32(&r);
	c->offset = wire_u16(&r);
	c->flags = wire_u8(&r);
	c->crc = wire_u16(&r);
	if (r.overrun)
		return -EBADMSG;
	n = wire_remaining(&r);
	if (n > PROTO_CHUNK_DATA_MAX)
		return -EBADMSG;
	c->len = (uint8_t)n;
	c->data = r.buf + r.pos;
	if (chunk_check(c))
		return -EBADMSG;
	if (proto_crc16(0xFFFFu, c->data, c->len) != c->crc)
		return -EBADMSG;
	return 0;
}

/* ---- Any frame ---- */

int proto_frame_decode(const uint8_t *buf, size_t len, struct proto_frame *f)
{
	struct proto_header hdr;
	int err;

	if (!buf || !f)
		return -EINVAL;
	err = proto_header_decode(buf, len, &hdr);
	if (err)
		return err;
	f->type = hdr.type;
	switch ((enum proto_type)hdr.type) {
	case PROTO_TYPE_MEASUREMENT:
		return proto_measurement_decode(buf, len, &f->u.measurement);
	case PROTO_TYPE_EVENT:
		return proto_event_decode(buf, len, &f->u.event);
	case PROTO_TYPE_CONTROL_REQUEST:
		return proto_request_decode(buf, len, &f->u.request);
	case PROTO_TYPE_CONTROL_RESPONSE:
		return proto_response_decode(buf, len, &f->u.response);
	case PROTO_TYPE_LOG_CHUNK:
		return proto_log_chunk_decode(buf, len, &f->u.chunk);
	case PROTO_TYPE_INFO:
		return proto_info_decode(buf, len, &f->u.info);
	case PROTO_TYPE_SESSION:
		return proto_session_decode(buf, len, &f->u.session);
	}
	return -ENOMSG;
}

int proto_frame_encode(const struct proto_frame *f, uint8_t *out, size_t cap,
		       size_t *written)
{
	if (!f)
		return -EINVAL;
	switch ((enum proto_type)f->type) {
	case PROTO_TYPE_MEASUREMENT:
		return proto_measurement_encode(&f->u.measurement, out, cap, written);
	case PROTO_TYPE_EVENT:
		return proto_event_encode(&f->u.event, out, cap, written);
	case PROTO_TYPE_CONTROL_REQUEST:
		return proto_request_encode(&f->u.request, out, cap, written);
	case PROTO_TYPE_CONTROL_RESPONSE:
		return proto_response_encode(&f->u.response, out, cap, written);
	case PROTO_TYPE_LOG_CHUNK:
		return proto_log_chunk_encode(&f->u.chunk, out, cap, written);
	case PROTO_TYPE_INFO:
		return proto_info_encode(&f->u.info, out, cap, written);
	case PROTO_TYPE_SESSION:
		return proto_session_encode(&f->u.session, out, cap, written);
	}
	return -ERANGE;
}
