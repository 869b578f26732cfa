/* libFuzzer target: proto_response_decode (type byte pinned to CONTROL_RESPONSE), see fuzz_oracle.h. */
#include "fuzz_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_typed_target(PROTO_TYPE_CONTROL_RESPONSE, data, size);
}
