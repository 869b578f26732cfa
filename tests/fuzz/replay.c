/*
 * Runs a fuzz target's LLVMFuzzerTestOneInput over files, without libFuzzer,
 * so the seed corpus and tests/fuzz/regressions/<target>/ run under ctest in
 * every build (gcc, ASan) and not only in the clang fuzz stage.
 * Usage: <target>_replay FILE|DIR...  (hidden files in a DIR are skipped)
 * Exit status 0 when every input ran (a failed oracle aborts), 1 on I/O errors.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_INPUT_MAX (1u << 20)

static int replay_file(const char *path, size_t *count)
{
	static uint8_t buf[REPLAY_INPUT_MAX];
	FILE *fp = fopen(path, "rb");
	size_t n;

	if (!fp) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), fp);
	if (ferror(fp) || !feof(fp)) {
		fprintf(stderr, "replay: %s: read error or larger than %u bytes\n", path,
			REPLAY_INPUT_MAX);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	LLVMFuzzerTestOneInput(buf, n);
	(*count)++;
	return 0;
}

static int replay_path(const char *path, size_t *count)
{
	struct stat st;
	DIR *dir;
	struct dirent *d;
	int err = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path, count);
	dir = opendir(path);
	if (!dir) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((d = readdir(dir)) != NULL) {
		char child[4096];
		int n;

		if (d->d_name[0] == '.')
			continue;
		n = snprintf(child, sizeof(child), "%s/%s", path, d->d_name);
		if (n < 0 || (size_t)n >= sizeof(child) || replay_path(child, count) != 0)
			err = -1;
	}
	closedir(dir);
	return err;
}

int main(int argc, char **argv)
{
	size_t count = 0;
	int i, err = 0;

	for (i = 1; i < argc; i++)
		if (replay_path(argv[i], &count) != 0)
			err = -1;
	printf("replay: %zu input(s)\n", count);
	return err ? 1 : 0;
}
