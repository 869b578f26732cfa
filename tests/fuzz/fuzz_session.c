/* libFuzzer target: proto_session_decode (type byte pinned to SESSION), see fuzz_oracle.h. */
#include "fuzz_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_typed_target(PROTO_TYPE_SESSION, data, size);
}
