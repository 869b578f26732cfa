/*
 * history_probe: what the shell tests of tests/history cannot check with
 * coreutils alone.
 *
 *   history_probe png FILE W H         a W x H PNG with the band colour and
 *                                      the force colour in it
 *   history_probe svg FILE W H         an SVG document of W x H points
 *   history_probe json FILE KEY...     valid JSON; prints the length of each
 *                                      top-level array KEY, one per line
 *   history_probe redate IN DIR NAME YYYY-MM-DD[THH:MM]
 *                                      copies a session log to DIR/NAME with
 *                                      another start date (header and record
 *                                      wall times moved; frames untouched)
 *
 * Exit status 0 when the check holds, 1 (with a reason on stderr) if not.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cairo.h>
#include <json-c/json.h>

#include "roller/rlog.h"

static int fail(const char *fmt, const char *arg)
{
	fprintf(stderr, "history_probe: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return 1;
}

static size_t count_rgb(cairo_surface_t *img, unsigned rgb, int tolerance)
{
	int w = cairo_image_surface_get_width(img), h = cairo_image_surface_get_height(img);
	int stride = cairo_image_surface_get_stride(img);
	int r = (int)(rgb >> 16 & 0xff), g = (int)(rgb >> 8 & 0xff), b = (int)(rgb & 0xff);
	const unsigned char *data = cairo_image_surface_get_data(img);
	size_t n = 0;

	for (int y = 0; y < h; y++) {
		const uint32_t *row = (const uint32_t *)(const void *)(data + y * stride);

		for (int x = 0; x < w; x++)
			n += abs((int)(row[x] >> 16 & 0xff) - r) <= tolerance &&
			     abs((int)(row[x] >> 8 & 0xff) - g) <= tolerance &&
			     abs((int)(row[x] & 0xff) - b) <= tolerance;
	}
	return n;
}

static int probe_png(const char *path, int w, int h)
{
	cairo_surface_t *img = cairo_image_surface_create_from_png(path);
	size_t band, force;
	int ok = 0;

	if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
		cairo_surface_destroy(img);
		return fail("%s: not a PNG cairo can read", path);
	}
	if (cairo_image_surface_get_width(img) != w || cairo_image_surface_get_height(img) != h) {
		fprintf(stderr, "history_probe: %s is %dx%d, not %dx%d\n", path,
			cairo_image_surface_get_width(img), cairo_image_surface_get_height(img), w, h);
		ok = 1;
	}
	band = count_rgb(img, 0xccebcc, 2);
	force = count_rgb(img, 0x1f4f9c, 8);
	if (band < 1000 || force < 100) {
		fprintf(stderr, "history_probe: %s: %zu band pixels, %zu force pixels\n", path, band,
			force);
		ok = 1;
	}
	cairo_surface_destroy(img);
	return ok;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *text;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	if (text && fread(text, 1, (size_t)n, f) != (size_t)n) {
		free(text);
		text = NULL;
	}
	fclose(f);
	return text;
}

static int probe_svg(const char *path, int w, int h)
{
	char *text = slurp(path), want[64];
	int ok;

	if (!text)
		return fail("%s: cannot read", path);
	snprintf(want, sizeof(want), "width=\"%dpt\" height=\"%dpt\"", w, h);
	ok = strncmp(text, "<?xml", 5) == 0 && strstr(text, "<svg") && strstr(text, want) &&
	     strstr(text, "</svg>");
	free(text);
	return ok ? 0 : fail("%s: not an SVG document of that size", path);
}

static int probe_json(const char *path, int nkeys, char **keys)
{
	char *text = slurp(path);
	struct json_tokener *tok = json_tokener_new();
	struct json_object *doc, *v;
	int ok = 0;

	if (!text || !tok) {
		free(text);
		json_tokener_free(tok);
		return fail("%s: cannot read", path);
	}
	doc = json_tokener_parse_ex(tok, text, (int)strlen(text));
	if (!doc || json_tokener_get_error(tok) != json_tokener_success ||
	    text[json_tokener_get_parse_end(tok) + strspn(text + json_tokener_get_parse_end(tok),
							  " \n")] != '\0') {
		free(text);
		json_tokener_free(tok);
		json_object_put(doc);
		return fail("%s: not one valid JSON document", path);
	}
	for (int i = 0; i < nkeys; i++) {
		if (!json_object_object_get_ex(doc, keys[i], &v) ||
		    !json_object_is_type(v, json_type_array)) {
			ok = fail("no array '%s'", keys[i]);
			continue;
		}
		printf("%zu\n", json_object_array_length(v));
	}
	json_object_put(doc);
	json_tokener_free(tok);
	free(text);
	return ok;
}

static int redate(const char *in, const char *dir, const char *name, const char *date)
{
	struct rlog_reader reader;
	struct rlog_writer writer;
	struct rlog_header h;
	struct rlog_record rec;
	struct tm tm;
	char *end;
	int64_t delta;
	time_t t;
	int k, r;

	memset(&tm, 0, sizeof(tm));
	end = strptime(date, "%Y-%m-%d", &tm);
	if (end && *end == 'T')
		end = strptime(end + 1, "%H:%M", &tm);
	if (!end || *end)
		return fail("bad date '%s'", date);
	t = timegm(&tm);
	if (rlog_reader_open(&reader, in) < 0)
		return fail("%s: cannot read", in);
	h = reader.header;
	delta = (int64_t)t * 1000 - (int64_t)h.created_unix_ms;
	h.created_unix_ms = (uint64_t)t * 1000u;
	r = rlog_writer_create(&writer, dir, name, &h);
	if (r < 0) {
		rlog_reader_close(&reader);
		return fail("cannot create %s", name);
	}
	while ((k = rlog_reader_next(&reader, &rec)) > 0 && r == 0) {
		rec.wall_ms = (uint64_t)((int64_t)rec.wall_ms + delta);
		r = rlog_writer_append(&writer, &rec);
	}
	rlog_reader_close(&reader);
	if (rlog_writer_close(&writer) < 0 || r < 0 || k < 0)
		return fail("%s: copy failed", in);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "png") == 0)
		return probe_png(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 5 && strcmp(argv[1], "svg") == 0)
		return probe_svg(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc >= 3 && strcmp(argv[1], "json") == 0)
		return probe_json(argv[2], argc - 3, argv + 3);
	if (argc == 6 && strcmp(argv[1], "redate") == 0)
		return redate(argv[2], argv[3], argv[4], argv[5]);
	fprintf(stderr, "usage: history_probe png|svg FILE W H | json FILE KEY... | "
			"redate IN DIR NAME DATE\n");
	return 2;
}
