/*
 * libFuzzer target: proto_frame_decode on any bytes (every type, unknown
 * types included). Each typed decoder must agree with it: the same result on
 * frames of its own type, -ENOMSG on a well-formed header of another type.
 * See fuzz_oracle.h.
 */
#include "fuzz_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = fuzz_copy(data, size);
	struct proto_frame f;
	struct proto_header h;
	int err, header;
	uint8_t type;

	memset(&f, 0, sizeof(f));
	err = proto_frame_decode(buf, size, &f);
	header = proto_header_decode(buf, size, &h);
	if (err == 0) {
		FUZZ_CHECK(header == 0 && f.type == h.type);
		fuzz_check_decoded(&f, buf, size);
		fuzz_check_reencode(&f, buf, size);
	} else if (header != 0) {
		FUZZ_CHECK(err == header); /* header errors come first */
	} else if (h.type < PROTO_TYPE_MEASUREMENT || h.type > PROTO_TYPE_SESSION) {
		FUZZ_CHECK(err == -ENOMSG);
	}
	FUZZ_CHECK(err == 0 || fuzz_common_error(err) || err == -EOPNOTSUPP || err == -ERANGE);

	for (type = PROTO_TYPE_MEASUREMENT; type <= PROTO_TYPE_SESSION; type++) {
		int typed = fuzz_one_typed(type, buf, size);

		if (header == 0 && h.type != type)
			FUZZ_CHECK(typed == -ENOMSG);
		else if (header != 0)
			FUZZ_CHECK(typed == header);
	}
	free(buf);
	return 0;
}
