/*
 * Bounded little-endian reader and writer used by every codec function.
 * Private to protocol/. A reader or writer that runs out of room latches
 * its error flag; later calls do nothing, so a codec can check once at the
 * end instead of after every field.
 */
#ifndef ROLLER_PROTOCOL_WIRE_H
#define ROLLER_PROTOCOL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roller/protocol.h"

struct wire_reader {
	const uint8_t *buf;
	size_t len;
	size_t pos;
	bool overrun;
};

struct wire_writer {
	uint8_t *buf;
	size_t cap;
	size_t pos;
	bool overrun;
};

static inline void wire_reader_init(struct wire_reader *r, const uint8_t *buf, size_t len)
{
	r->buf = buf;
	r->len = len;
	r->pos = 0;
	r->overrun = false;
}

static inline bool wire_take(struct wire_reader *r, size_t n)
{
	if (r->overrun || r->len - r->pos < n) {
		r->overrun = true;
		return false;
	}
	return true;
}

static inline uint8_t wire_u8(struct wire_reader *r)
{
	if (!wire_take(r, 1))
		return 0;
	return r->buf[r->pos++];
}

static inline uint16_t wire_u16(struct wire_reader *r)
{
	uint16_t v;

	if (!wire_take(r, 2))
		return 0;
	v = (uint16_t)(r->buf[r->pos] | (r->buf[r->pos + 1] << 8));
	r->pos += 2;
	return v;
}

static inline uint32_t wire_u32(struct wire_reader *r)
{
	uint32_t v;

	if (!wire_take(r, 4))
		return 0;
	v = (uint32_t)r->buf[r->pos] | ((uint32_t)r->buf[r->pos + 1] << 8) |
	    ((uint32_t)r->buf[r->pos + 2] << 16) | ((uint32_t)r->buf[r->pos + 3] << 24);
	r->pos += 4;
	return v;
}

static inline int16_t wire_i16(struct wire_reader *r)
{
	uint16_t v = wire_u16(r);

	/* Two's complement without implementation-defined conversion. */
	return v >= 0x8000u ? (int16_t)(-(int32_t)(0x10000u - v)) : (int16_t)v;
}

static inline int32_t wire_i32(struct wire_reader *r)
{
	uint32_t v = wire_u32(r);

	if (v >= 0x80000000u)
		return v == 0x80000000u ? INT32_MIN : -(int32_t)(~v + 1u);
	return (int32_t)v;
}

static inline size_t wire_remaining(const struct wire_reader *r)
{
	return r->overrun ? 0 : r->len - r->pos;
}

static inline void wire_writer_init(struct wire_writer *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->pos = 0;
	w->overrun = false;
}

static inline bool wire_room(struct wire_writer *w, size_t n)
{
	if (w->overrun || w->cap - w->pos < n) {
		w->overrun = true;
		return false;
	}
	return true;
}

static inline void wire_put_u8(struct wire_writer *w, uint8_t v)
{
	if (wire_room(w, 1))
		w->buf[w->pos++] = v;
}

static inline void wire_put_u16(struct wire_writer *w, uint16_t v)
{
	if (!wire_room(w, 2))
		return;
	w->buf[w->pos++] = (uint8_t)(v & 0xFFu);
	w->buf[w->pos++] = (uint8_t)(v >> 8);
}

static inline void wire_put_u32(struct wire_writer *w, uint32_t v)
{
	if (!wire_room(w, 4))
		return;
	w->buf[w->pos++] = (uint8_t)(v & 0xFFu);
	w->buf[w->pos++] = (uint8_t)((v >> 8) & 0xFFu);
	w->buf[w->pos++] = (uint8_t)((v >> 16) & 0xFFu);
	w->buf[w->pos++] = (uint8_t)(v >> 24);
}

static inline void wire_put_i16(struct wire_writer *w, int16_t v)
{
	wire_put_u16(w, (uint16_t)v);
}

static inline void wire_put_i32(struct wire_writer *w, int32_t v)
{
	wire_put_u32(w, (uint32_t)v);
}

static inline void wire_put_bytes(struct wire_writer *w, const uint8_t *src, size_t n)
{
	size_t i;

	if (!wire_room(w, n))
		return;
	for (i = 0; i < n; i++)
		w->buf[w->pos++] = src[i];
}

/*
 * Frame helpers shared by the codec files (codec.c, control.c).
 * wire_open checks version, type and that the header's length matches len
 * exactly, then positions the reader on the payload.
 */
int wire_open(struct wire_reader *r, const uint8_t *buf, size_t len, uint8_t type);
/* Reserves the header; wire_close fills in the length. */
void wire_begin(struct wire_writer *w, uint8_t *out, size_t cap, uint8_t type);
/* Returns 0 (and sets *written) or -ENOBUFS. Payloads over 255 are -ERANGE. */
int wire_close(struct wire_writer *w, size_t *written);
/* The payload must be consumed exactly: 0 or -EBADMSG. */
int wire_finish(const struct wire_reader *r);

#endif
