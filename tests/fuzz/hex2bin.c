/*
 * Converts golden vectors (.hex, see tests/protocol/vectors.h) to raw binary
 * files, the seed corpus of the fuzz targets.
 * Usage: roller_hex2bin OUT_DIR FILE.hex...   (writes OUT_DIR/FILE.bin)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vectors.h"

int main(int argc, char **argv)
{
	uint8_t frame[VECTORS_FRAME_MAX];
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s OUT_DIR FILE.hex...\n", argv[0]);
		return 2;
	}
	for (i = 2; i < argc; i++) {
		const char *base = strrchr(argv[i], '/');
		char out[4096];
		size_t len = 0, stem;
		FILE *fp;
		int err = vectors_load_file(argv[i], frame, sizeof(frame), &len);

		if (err) {
			fprintf(stderr, "hex2bin: %s: %s\n", argv[i], strerror(-err));
			return 1;
		}
		base = base ? base + 1 : argv[i];
		stem = strlen(base);
		if (stem > 4 && strcmp(base + stem - 4, ".hex") == 0)
			stem -= 4;
		if (snprintf(out, sizeof(out), "%s/%.*s.bin", argv[1], (int)stem, base) >= (int)sizeof(out)) {
			fprintf(stderr, "hex2bin: %s: path too long\n", argv[i]);
			return 1;
		}
		fp = fopen(out, "wb");
		if (!fp || (len && fwrite(frame, 1, len, fp) != len) || fclose(fp) != 0) {
			fprintf(stderr, "hex2bin: %s: %s\n", out, strerror(errno));
			return 1;
		}
	}
	return 0;
}
