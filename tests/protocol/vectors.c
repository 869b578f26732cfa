/* Golden vector loader: see vectors.h for the file formats. */
#include "vectors.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "roller/protocol.h"

#ifndef ROLLER_VECTORS_DIR
#error "ROLLER_VECTORS_DIR must be defined (link the roller_test_vectors target)"
#endif

const char *vectors_dir(void)
{
	return ROLLER_VECTORS_DIR;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int vectors_parse(const char *text, size_t text_len, uint8_t *out, size_t cap,
		  size_t *len)
{
	size_t i = 0, n = 0;

	if (!text || !out || !len)
		return -EINVAL;
	while (i < text_len) {
		char c = text[i];
		int hi, lo;

		if (c == '#') {
			while (i < text_len && text[i] != '\n')
				i++;
			continue;
		}
		if (is_space(c)) {
			i++;
			continue;
		}
		/* A byte is exactly two digits followed by a separator or the end. */
		if (i + 1 >= text_len)
			return -EBADMSG;
		hi = hex_digit(c);
		lo = hex_digit(text[i + 1]);
		if (hi < 0 || lo < 0)
			return -EBADMSG;
		if (i + 2 < text_len && !is_space(text[i + 2]) && text[i + 2] != '#')
			return -EBADMSG;
		if (n == cap)
			return -ENOBUFS;
		out[n++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	*len = n;
	return 0;
}

int vectors_load_file(const char *path, uint8_t *out, size_t cap, size_t *len)
{
	/* static: keeps the 16 KiB off small test-thread stacks. */
	static char text[VECTORS_TEXT_MAX + 1];
	FILE *fp;
	size_t got;
	int err = 0;

	if (!path || !out || !len)
		return -EINVAL;
	fp = fopen(path, "rb");
	if (!fp)
		return -errno;
	got = fread(text, 1, sizeof(text), fp);
	if (ferror(fp))
		err = -EIO;
	else if (got > VECTORS_TEXT_MAX)
		err = -EFBIG;
	fclose(fp);
	if (err)
		return err;
	return vectors_parse(text, got, out, cap, len);
}

static int vectors_path(char *path, size_t cap, const char *name)
{
	int n = snprintf(path, cap, "%s/%s", vectors_dir(), name);

	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	return 0;
}

int vectors_load(const char *name, uint8_t *out, size_t cap, size_t *len)
{
	char path[PATH_MAX];
	int err;

	if (!name)
		return -EINVAL;
	err = vectors_path(path, sizeof(path), name);
	if (err)
		return err;
	return vectors_load_file(path, out, cap, len);
}

static const struct {
	const char *name;
	int err;
} errno_names[] = {
	{ "EINVAL", -EINVAL },
	{ "EBADMSG", -EBADMSG },
	{ "EPROTONOSUPPORT", -EPROTONOSUPPORT },
	{ "ENOMSG", -ENOMSG },
	{ "EOPNOTSUPP", -EOPNOTSUPP },
	{ "ENOBUFS", -ENOBUFS },
	{ "ERANGE", -ERANGE },
	{ "EAGAIN", -EAGAIN },
};

int vectors_errno_parse(const char *name, int *err)
{
	size_t i;

	if (!name || !err)
		return -EINVAL;
	for (i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++) {
		if (strcmp(name, errno_names[i].name) == 0) {
			*err = errno_names[i].err;
			return 0;
		}
	}
	return -EINVAL;
}

const char *vectors_errno_name(int err)
{
	size_t i;

	if (err == 0)
		return "0";
	for (i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++) {
		if (errno_names[i].err == err)
			return errno_names[i].name;
	}
	return "?";
}

static int type_parse(const char *name, uint8_t *type)
{
	unsigned t;

	/* Frame types are 1..7 today; scan a little further so additions only
	 * need a proto_type_str entry. */
	for (t = 1; t < 64; t++) {
		if (strcmp(proto_type_str((uint8_t)t), name) == 0) {
			*type = (uint8_t)t;
			return 0;
		}
	}
	return -EINVAL;
}

static int manifest_line(char *line, struct vectors_entry *e)
{
	char *words[4];
	size_t n = 0;
	char *p = line;

	while (*p && n < 4) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		words[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
	if (n != 3 || strlen(words[0]) >= VECTORS_NAME_MAX)
		return -EBADMSG;
	memset(e, 0, sizeof(*e));
	memcpy(e->name, words[0], strlen(words[0]) + 1);
	if (strcmp(words[1], "valid") == 0) {
		e->valid = true;
		return type_parse(words[2], &e->type) ? -EBADMSG : 0;
	}
	if (strcmp(words[1], "invalid") == 0) {
		e->valid = false;
		return vectors_errno_parse(words[2], &e->err) ? -EBADMSG : 0;
	}
	return -EBADMSG;
}

int vectors_manifest(struct vectors_entry *entries, size_t cap, size_t *count)
{
	char path[PATH_MAX];
	char line[256];
	FILE *fp;
	size_t n = 0;
	int err;

	if (!entries || !count)
		return -EINVAL;
	err = vectors_path(path, sizeof(path), "vectors.txt");
	if (err)
		return err;
	fp = fopen(path, "r");
	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp)) {
		char *hash;
		char *end;

		if (!strchr(line, '\n') && !feof(fp)) {
			err = -EBADMSG; /* a line longer than the buffer */
			break;
		}
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		end = line + strlen(line);
		while (end > line && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' ||
				      end[-1] == '\t'))
			*--end = '\0';
		if (line[strspn(line, " \t")] == '\0')
			continue;
		if (n == cap) {
			err = -ENOBUFS;
			break;
		}
		err = manifest_line(line, &entries[n]);
		if (err)
			break;
		n++;
	}
	fclose(fp);
	if (err)
		return err;
	*count = n;
	return 0;
}

const struct vectors_entry *vectors_find(const struct vectors_entry *entries,
					 size_t count, const char *name)
{
	size_t i;

	if (!entries || !name)
		return NULL;
	for (i = 0; i < count; i++) {
		if (strcmp(entries[i].name, name) == 0)
			return &entries[i];
	}
	return NULL;
}
