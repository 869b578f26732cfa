/* libFuzzer target: the session log reader must survive any file. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "roller/protocol.h"
#include "roller/rlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rlog_reader r;
	struct rlog_record rec;
	struct proto_frame frame;
	uint8_t *exact = malloc(size ? size : 1);
	int ret;

	if (!exact)
		return 0;
	memcpy(exact, data, size);
	if (rlog_reader_open_buffer(&r, exact, size) == 0) {
		while ((ret = rlog_reader_next(&r, &rec)) == 1) {
			if (rec.len > RLOG_RECORD_MAX || rec.data < r.buf ||
			    rec.data + rec.len > r.buf + r.len)
				abort();
			if (rec.kind == RLOG_FRAME_IN || rec.kind == RLOG_FRAME_OUT)
				(void)proto_frame_decode(rec.data, rec.len, &frame);
		}
		if (ret != 0 && ret != -EBADMSG)
			abort();
		rlog_reader_close(&r);
	}
	free(exact);
	return 0;
}
