/*
 * Shared oracle of the protocol fuzz targets (one LLVMFuzzerTestOneInput per
 * file). Every target decodes from an exact-size heap copy of the input, so
 * ASan catches any read past len, and checks that:
 *   - the decoder returns 0 or one of the errors its header documents;
 *   - a decoded frame re-encodes to the identical bytes, and the encoder
 *     refuses (-ENOBUFS) a capacity one byte short without writing past it;
 *   - the typed decoder and proto_frame_decode agree.
 * A failed check prints what failed and aborts, which libFuzzer reports as a crash.
 */
#ifndef ROLLER_FUZZ_ORACLE_H
#define ROLLER_FUZZ_ORACLE_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roller/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                            \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "fuzz oracle: %s failed at %s:%d\n", #cond, \
				__FILE__, __LINE__);                                \
			abort();                                                    \
		}                                                                   \
	} while (0)

/* Exact-size copy; an empty input still gets a 1-byte block (malloc(0) may
 * return NULL) that the decoders must not read. */
static inline uint8_t *fuzz_copy(const uint8_t *data, size_t size)
{
	uint8_t *p = malloc(size ? size : 1);

	FUZZ_CHECK(p != NULL);
	if (size)
		memcpy(p, data, size);
	return p;
}

/* The errors every decoder may return for arbitrary input. */
static inline int fuzz_common_error(int err)
{
	return err == -EBADMSG || err == -EPROTONOSUPPORT || err == -ENOMSG;
}

/* A decoded frame must encode back to buf[0..len) exactly. */
static inline void fuzz_check_reencode(const struct proto_frame *f, const uint8_t *buf, size_t len)
{
	uint8_t out[PROTO_FRAME_ABS_MAX + 16];
	uint8_t *exact;
	size_t written = 0, i;
	int err;

	memset(out, 0xA5, sizeof(out));
	err = proto_frame_encode(f, out, sizeof(out), &written);
	FUZZ_CHECK(err == 0);
	FUZZ_CHECK(written == len);
	FUZZ_CHECK(memcmp(out, buf, len) == 0);
	for (i = len; i < sizeof(out); i++)
		FUZZ_CHECK(out[i] == 0xA5);

	/* Exactly the size: fits. One byte short: -ENOBUFS, nothing past cap. */
	exact = malloc(len);
	FUZZ_CHECK(exact != NULL);
	written = 0;
	FUZZ_CHECK(proto_frame_encode(f, exact, len, &written) == 0 && written == len);
	FUZZ_CHECK(memcmp(exact, buf, len) == 0);
	written = 4242;
	FUZZ_CHECK(proto_frame_encode(f, exact, len - 1, &written) == -ENOBUFS);
	FUZZ_CHECK(written == 4242);
	free(exact);
}

/* Runs the typed decoder of `type` into f. */
static inline int fuzz_typed_decode(uint8_t type, const uint8_t *buf, size_t len,
				    struct proto_frame *f)
{
	switch (type) {
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
	default:
		break;
	}
	abort();
}

/* The per-type checks of a successful decode beyond the round trip. */
static inline void fuzz_check_decoded(const struct proto_frame *f, const uint8_t *buf, size_t len)
{
	size_t i;

	switch (f->type) {
	case PROTO_TYPE_MEASUREMENT:
		FUZZ_CHECK(f->u.measurement.count >= 1 &&
			   f->u.measurement.count <= PROTO_BATCH_MAX_SAMPLES);
		FUZZ_CHECK(len == proto_measurement_size(f->u.measurement.count));
		for (i = f->u.measurement.count; i < PROTO_BATCH_MAX_SAMPLES; i++)
			FUZZ_CHECK(!proto_measurement_is_still(&f->u.measurement, i));
		break;
	case PROTO_TYPE_LOG_CHUNK:
		FUZZ_CHECK(f->u.chunk.len <= PROTO_CHUNK_DATA_MAX);
		FUZZ_CHECK(len == PROTO_HEADER_SIZE + PROTO_CHUNK_FIXED_SIZE + f->u.chunk.len);
		FUZZ_CHECK(f->u.chunk.len == 0 ||
			   f->u.chunk.data == buf + PROTO_HEADER_SIZE + PROTO_CHUNK_FIXED_SIZE);
		FUZZ_CHECK(proto_crc16(0xFFFF, f->u.chunk.data, f->u.chunk.len) == f->u.chunk.crc);
		break;
	case PROTO_TYPE_CONTROL_RESPONSE:
		FUZZ_CHECK(f->u.response.status <= PROTO_STATUS_LAST);
		FUZZ_CHECK(f->u.response.status != PROTO_STATUS_OK ||
			   (f->u.response.opcode >= PROTO_OP_VERSION &&
			    f->u.response.opcode <= PROTO_OP_LAST));
		break;
	case PROTO_TYPE_CONTROL_REQUEST:
		FUZZ_CHECK(f->u.request.opcode >= PROTO_OP_VERSION &&
			   f->u.request.opcode <= PROTO_OP_LAST);
		break;
	default:
		break;
	}
}

/*
 * Decodes buf[0..len) (an exact-size heap block) with the typed decoder of
 * `type` and checks everything above. Returns the decoder's result.
 */
static inline int fuzz_one_typed(uint8_t type, const uint8_t *buf, size_t len)
{
	struct proto_frame f, g;
	int err, any;

	memset(&f, 0, sizeof(f));
	f.type = type;
	err = fuzz_typed_decode(type, buf, len, &f);
	switch (err) {
	case 0:
		fuzz_check_decoded(&f, buf, len);
		fuzz_check_reencode(&f, buf, len);
		break;
	case -EOPNOTSUPP:
		/* Control frames only; opcode and token are still filled in. */
		FUZZ_CHECK(type == PROTO_TYPE_CONTROL_REQUEST || type == PROTO_TYPE_CONTROL_RESPONSE);
		FUZZ_CHECK(len >= PROTO_HEADER_SIZE + 2);
		if (type == PROTO_TYPE_CONTROL_REQUEST) {
			FUZZ_CHECK(f.u.request.opcode == buf[3] && f.u.request.token == buf[4]);
			FUZZ_CHECK(buf[3] < PROTO_OP_VERSION || buf[3] > PROTO_OP_LAST);
		}
		break;
	case -ERANGE: {
		/* Requests only: the encoder refuses the same parameters. */
		uint8_t out[PROTO_FRAME_ABS_MAX];
		size_t written;

		FUZZ_CHECK(type == PROTO_TYPE_CONTROL_REQUEST);
		FUZZ_CHECK(proto_request_encode(&f.u.request, out, sizeof(out), &written) == -ERANGE);
		break;
	}
	case -ENOMSG:
		/* Another frame type, or (events) an unknown kind. */
		FUZZ_CHECK(len >= PROTO_HEADER_SIZE);
		FUZZ_CHECK(buf[1] != type || type == PROTO_TYPE_EVENT);
		break;
	default:
		FUZZ_CHECK(fuzz_common_error(err));
		break;
	}

	/* proto_frame_decode agrees with the typed decoder on frames of this type. */
	if (len >= PROTO_HEADER_SIZE && buf[1] == type) {
		memset(&g, 0, sizeof(g));
		any = proto_frame_decode(buf, len, &g);
		FUZZ_CHECK(any == err);
		if (!any)
			FUZZ_CHECK(g.type == type);
	}
	return err;
}

/* Typed targets pin the type byte so the fuzzer spends its time inside one
 * decoder; fuzz_frame covers foreign and unknown types. */
static inline int fuzz_typed_target(uint8_t type, const uint8_t *data, size_t size)
{
	uint8_t *buf = fuzz_copy(data, size);

	if (size >= 2)
		buf[1] = type;
	fuzz_one_typed(type, buf, size);
	free(buf);
	return 0;
}

#endif
