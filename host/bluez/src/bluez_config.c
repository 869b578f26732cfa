/*
 * The default roller in config.ini ([roller] default=AA:BB:CC:DD:EE:FF).
 * Only that one key is touched: every other line, comment and section is
 * written back as it was, and the file is replaced atomically (write to a
 * temporary file, fsync, rename) so that a crash never leaves half a file.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bluez_internal.h"

static int config_dir(char *out, size_t cap)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	int n;

	if (xdg && xdg[0] == '/')
		n = snprintf(out, cap, "%s/roller", xdg);
	else if (home && home[0])
		n = snprintf(out, cap, "%s/.config/roller", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Section name of a "[name]" line, or NULL. */
static char *section_of(char *line)
{
	char *s = trim(line), *e;

	if (*s != '[')
		return NULL;
	e = strchr(s, ']');
	if (!e)
		return NULL;
	*e = '\0';
	return trim(s + 1);
}

/* "default = value" in a line copy: returns the value or NULL. */
static char *default_value(char *line)
{
	char *s = trim(line), *eq, *v;

	if (*s == ';' || *s == '#')
		return NULL;
	eq = strchr(s, '=');
	if (!eq)
		return NULL;
	*eq = '\0';
	if (strcmp(trim(s), "default") != 0)
		return NULL;
	v = trim(eq + 1);
	if (v[0] == '"' && strlen(v) >= 2 && v[strlen(v) - 1] == '"') {
		v[strlen(v) - 1] = '\0';
		v++;
	}
	return v;
}

int bluez_config_get_default(char *out, size_t cap)
{
	char dir[PATH_MAX], path[PATH_MAX + 16], *line = NULL;
	size_t line_cap = 0;
	bool in_roller = false;
	int r = -ENOENT;
	FILE *f;

	r = config_dir(dir, sizeof(dir));
	if (r)
		return r;
	snprintf(path, sizeof(path), "%s/config.ini", dir);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ENOENT : -errno;
	r = -ENOENT;
	while (getline(&line, &line_cap, f) >= 0) {
		char *copy = strdup(line), *sec, *v;

		if (!copy) {
			r = -ENOMEM;
			break;
		}
		sec = section_of(copy);
		if (sec) {
			in_roller = strcasecmp(sec, "roller") == 0;
		} else if (in_roller) {
			strcpy(copy, line);
			v = default_value(copy);
			if (v && v[0]) {
				if (strlen(v) >= cap)
					r = -ENAMETOOLONG;
				else {
					strcpy(out, v);
					r = 0;
				}
			}
		}
		free(copy);
	}
	free(line);
	fclose(f);
	return r;
}

static int mkdir_parents(const char *dir)
{
	char tmp[PATH_MAX], *p;

	if (strlen(dir) >= sizeof(tmp))
		return -ENAMETOOLONG;
	strcpy(tmp, dir);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int bluez_config_set_default(const char *address)
{
	char dir[PATH_MAX], path[PATH_MAX + 16], tmp[PATH_MAX + 32], *line = NULL;
	size_t line_cap = 0;
	bool in_roller = false, seen_roller = false, written = false;
	FILE *in, *out;
	int fd, r;

	r = config_dir(dir, sizeof(dir));
	if (r)
		return r;
	r = mkdir_parents(dir);
	if (r)
		return r;
	snprintf(path, sizeof(path), "%s/config.ini", dir);
	snprintf(tmp, sizeof(tmp), "%s/.config.ini.XXXXXX", dir);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	fchmod(fd, 0600);
	out = fdopen(fd, "w");
	if (!out) {
		r = -errno;
		close(fd);
		unlink(tmp);
		return r;
	}
	in = fopen(path, "re");
	while (in && getline(&line, &line_cap, in) >= 0) {
		char *copy = strdup(line), *sec;

		if (!copy) {
			r = -ENOMEM;
			break;
		}
		sec = section_of(copy);
		if (sec) {
			if (in_roller && !written && address) {
				fprintf(out, "default=%s\n", address);
				written = true;
			}
			in_roller = strcasecmp(sec, "roller") == 0;
			seen_roller |= in_roller;
		} else if (in_roller) {
			strcpy(copy, line);
			if (default_value(copy)) {
				free(copy);
				if (address && !written)
					fprintf(out, "default=%s\n", address);
				written = true;
				continue;
			}
		}
		free(copy);
		fputs(line, out);
		if (line[0] && line[strlen(line) - 1] != '\n')
			fputc('\n', out);
	}
	free(line);
	if (in)
		fclose(in);
	if (!r && address && !written) {
		if (!seen_roller)
			fprintf(out, "%s[roller]\n", ftell(out) > 0 ? "\n" : "");
		fprintf(out, "default=%s\n", address);
	}
	if (!r && (fflush(out) != 0 || fsync(fileno(out)) < 0))
		r = -errno;
	if (fclose(out) != 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r)
		unlink(tmp);
	return r;
}
