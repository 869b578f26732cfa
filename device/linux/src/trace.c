/*
 * Recorded force traces: a plain text file, one sample per line, so that a
 * trace can be written by hand, exported from a spreadsheet or cut out of a
 * session export. Format: device/linux/README.md ("Trace files").
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "periph.h"

#define TRACE_MAX_SAMPLES (1u << 24) /* 58 h at 80 Hz */
#define TRACE_DEFAULT_RATE 80u

static char *skip_space(char *s)
{
	while (*s == ' ' || *s == '\t' || *s == ',' || *s == ';')
		s++;
	return s;
}

static int parse_number(char **s, double *out)
{
	char *end;
	double v;

	*s = skip_space(*s);
	if (**s == '\0')
		return -ENOENT;
	errno = 0;
	v = strtod(*s, &end);
	if (end == *s || errno || !isfinite(v))
		return -EBADMSG;
	*s = end;
	*out = v;
	return 0;
}

static int grow(struct trace *t, size_t *cap, bool gyro)
{
	size_t ncap = *cap ? *cap * 2 : 1024;
	int16_t *f;

	if (ncap > TRACE_MAX_SAMPLES)
		return -EFBIG;
	f = realloc(t->force_dn, ncap * sizeof(*f));
	if (!f)
		return -ENOMEM;
	t->force_dn = f;
	if (gyro) {
		int32_t *g = realloc(t->gyro_mdps, ncap * sizeof(*g));

		if (!g)
			return -ENOMEM;
		t->gyro_mdps = g;
	}
	*cap = ncap;
	return 0;
}

int trace_load(struct trace *t, const char *path, char *err, size_t err_len)
{
	FILE *f;
	char *line = NULL;
	size_t line_cap = 0, cap = 0;
	unsigned long lineno = 0;
	int columns = 0; /* 1: force only, 2: force and gyro; fixed by the first sample */
	int r = 0;

	memset(t, 0, sizeof(*t));
	t->rate_hz = TRACE_DEFAULT_RATE;
	err[0] = '\0';
	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return r;
	}
	while (getline(&line, &line_cap, f) >= 0) {
		char *s = line, *hash;
		double force, gyro;
		int n;

		lineno++;
		hash = strchr(s, '#');
		if (hash)
			*hash = '\0';
		s[strcspn(s, "\r\n")] = '\0';
		s = skip_space(s);
		if (*s == '\0')
			continue;
		if (strncmp(s, "rate", 4) == 0 && (s[4] == ' ' || s[4] == '\t')) {
			double rate;

			s += 4;
			if (t->count || parse_number(&s, &rate) || rate < 16 || rate > 1000 ||
			    rate != floor(rate) || *skip_space(s) != '\0') {
				snprintf(err, err_len, "%s:%lu: 'rate' takes a whole number of "
					 "samples per second (16..1000) before the first sample",
					 path, lineno);
				r = -EBADMSG;
				goto out;
			}
			t->rate_hz = (uint16_t)rate;
			continue;
		}
		if (parse_number(&s, &force)) {
			snprintf(err, err_len, "%s:%lu: expected a force in newtons", path, lineno);
			r = -EBADMSG;
			goto out;
		}
		n = 1;
		r = parse_number(&s, &gyro);
		if (r == 0)
			n = 2;
		else if (r != -ENOENT) {
			snprintf(err, err_len, "%s:%lu: the second column must be a rotation "
				 "rate in degrees per second", path, lineno);
			r = -EBADMSG;
			goto out;
		}
		r = 0;
		if (*skip_space(s) != '\0') {
			snprintf(err, err_len, "%s:%lu: more than two columns", path, lineno);
			r = -EBADMSG;
			goto out;
		}
		if (!columns)
			columns = n;
		if (n != columns) {
			snprintf(err, err_len, "%s:%lu: %d column(s) here, %d on the first "
				 "sample line", path, lineno, n, columns);
			r = -EBADMSG;
			goto out;
		}
		if (force < -3000.0 || force > 3000.0 || (n == 2 && fabs(gyro) > 2000000.0)) {
			snprintf(err, err_len, "%s:%lu: value out of range (force -3000..3000 N, "
				 "rate +/-2000000 dps)", path, lineno);
			r = -EBADMSG;
			goto out;
		}
		if (t->count == cap) {
			r = grow(t, &cap, columns == 2);
			if (r) {
				snprintf(err, err_len, "%s: %s", path,
					 r == -EFBIG ? "too many samples" : strerror(-r));
				goto out;
			}
		}
		t->force_dn[t->count] = (int16_t)lround(force * PROTO_FORCE_DN_PER_N);
		if (columns == 2)
			t->gyro_mdps[t->count] = (int32_t)lround(gyro * 1000.0);
		t->count++;
	}
	if (ferror(f)) {
		r = -EIO;
		snprintf(err, err_len, "%s: read error", path);
		goto out;
	}
	if (t->count == 0) {
		snprintf(err, err_len, "%s: no samples", path);
		r = -EBADMSG;
	}
out:
	free(line);
	fclose(f);
	if (r)
		trace_free(t);
	return r;
}

void trace_free(struct trace *t)
{
	free(t->force_dn);
	free(t->gyro_mdps);
	t->force_dn = NULL;
	t->gyro_mdps = NULL;
	t->count = 0;
}
