/* libFuzzer target: proto_log_chunk_decode (type byte pinned to LOG_CHUNK), see fuzz_oracle.h. */
#include "fuzz_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_typed_target(PROTO_TYPE_LOG_CHUNK, data, size);
}
