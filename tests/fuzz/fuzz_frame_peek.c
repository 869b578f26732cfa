/*
 * libFuzzer target: a USB-style byte stream split with proto_frame_peek, each
 * frame decoded from its own exact-size copy. The splitter must report
 * exactly 3 + length byte, never more than is there; a wrong version byte
 * makes this reader skip one byte and resynchronise. See fuzz_oracle.h.
 */
#include "fuzz_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *stream = fuzz_copy(data, size);
	size_t pos = 0;

	while (pos < size) {
		size_t left = size - pos, frame_size = 0;
		int err = proto_frame_peek(stream + pos, left, &frame_size);

		if (err == -EAGAIN) {
			FUZZ_CHECK(left < PROTO_HEADER_SIZE ||
				   (stream[pos] == PROTO_VERSION &&
				    left < PROTO_HEADER_SIZE + (size_t)stream[pos + 2]));
			break;
		}
		if (err == -EPROTONOSUPPORT) {
			FUZZ_CHECK(left >= PROTO_HEADER_SIZE && stream[pos] != PROTO_VERSION);
			pos++;
			continue;
		}
		FUZZ_CHECK(err == 0);
		FUZZ_CHECK(frame_size == PROTO_HEADER_SIZE + (size_t)stream[pos + 2]);
		FUZZ_CHECK(frame_size <= left && frame_size <= PROTO_FRAME_ABS_MAX);
		{
			uint8_t *frame = fuzz_copy(stream + pos, frame_size);
			struct proto_frame f;
			struct proto_header h;

			FUZZ_CHECK(proto_header_decode(frame, frame_size, &h) == 0);
			memset(&f, 0, sizeof(f));
			if (proto_frame_decode(frame, frame_size, &f) == 0) {
				fuzz_check_decoded(&f, frame, frame_size);
				fuzz_check_reencode(&f, frame, frame_size);
			}
			free(frame);
		}
		pos += frame_size;
	}
	free(stream);
	return 0;
}
