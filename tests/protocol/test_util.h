/*
 * Helpers shared by the protocol test programs (include after cmocka.h).
 * Everything is static: each test program is one translation unit.
 */
#ifndef ROLLER_TEST_UTIL_H
#define ROLLER_TEST_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "roller/protocol.h"

/* Exact-size heap copy, so ASan reports any read past len. An empty copy
 * still gets one byte (malloc(0) may return NULL), which must not be read. */
static inline uint8_t *exact_copy(const uint8_t *src, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	if (len)
		memcpy(p, src, len);
	return p;
}

/* Deterministic xorshift32, so a failure is reproducible. */
static uint32_t rng_state = 0x2545F491u;

static inline uint32_t rng_next(void)
{
	uint32_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	rng_state = x;
	return x;
}

/* Decodes a copy of frame[0..len) with the length byte set to match:
 * proto_frame_decode's result. */
static inline int decode_with_length(const uint8_t *frame, size_t len, struct proto_frame *f)
{
	uint8_t *exact = exact_copy(frame, len);
	int err;

	if (len >= PROTO_HEADER_SIZE)
		exact[2] = (uint8_t)(len - PROTO_HEADER_SIZE);
	err = proto_frame_decode(exact, len, f);
	free(exact);
	return err;
}

/* A valid frame cut at every offset fails: -EBADMSG, both with the header
 * as sent and with the length byte rewritten to match the cut. */
static inline void assert_every_truncation_fails(const uint8_t *frame, size_t len)
{
	struct proto_frame f;
	size_t k;

	for (k = 0; k < len; k++) {
		uint8_t *exact = exact_copy(frame, k);

		assert_int_equal(proto_frame_decode(exact, k, &f), -EBADMSG);
		free(exact);
		assert_int_equal(decode_with_length(frame, k, &f), -EBADMSG);
	}
}

/* Encodes f, checks the size, decodes it back into *back and re-encodes it to
 * the identical bytes. Returns the frame size; the frame is left in out. */
static inline size_t assert_round_trip(const struct proto_frame *f, uint8_t *out, size_t cap,
				struct proto_frame *back)
{
	uint8_t again[PROTO_FRAME_ABS_MAX];
	size_t written = 0, again_written = 0;
	uint8_t *exact;

	assert_int_equal(proto_frame_encode(f, out, cap, &written), 0);
	assert_true(written >= PROTO_HEADER_SIZE && written <= PROTO_FRAME_MAX);
	assert_int_equal(out[0], PROTO_VERSION);
	assert_int_equal(out[1], f->type);
	assert_int_equal(out[2], written - PROTO_HEADER_SIZE);
	exact = exact_copy(out, written);
	memset(back, 0xA5, sizeof(*back));
	assert_int_equal(proto_frame_decode(exact, written, back), 0);
	assert_int_equal(back->type, f->type);
	assert_int_equal(proto_frame_encode(back, again, sizeof(again), &again_written), 0);
	assert_int_equal(again_written, written);
	assert_memory_equal(again, out, written);
	/* Log chunk data points into the decoded buffer: move it to out. */
	if (back->type == PROTO_TYPE_LOG_CHUNK && back->u.chunk.len)
		back->u.chunk.data = out + (back->u.chunk.data - exact);
	free(exact);
	return written;
}

#endif
