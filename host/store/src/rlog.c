/*
 * Session log files. Layout and crash-safety argument: host/store/README.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "roller/protocol.h"
#include "roller/rlog.h"

#define HEADER_FIELDS_SIZE 78u
#define HEADER_SIZE (4u + 2u + 2u + HEADER_FIELDS_SIZE + 4u)
#define RECORD_MAGIC 0xA5u
#define RECORD_HEAD_SIZE 22u
#define RECORD_OVERHEAD (RECORD_HEAD_SIZE + 4u)
#define FILE_MAX ((size_t)1 << 30)

/* The same CRC-32 as proto_crc32 (zlib's), from zlib itself: a replay checks
 * every byte of the file, and zlib's table-driven code is several times faster
 * than the roller's small-table version. */
static uint32_t log_crc32(const uint8_t *data, size_t len)
{
	return (uint32_t)crc32_z(0, data, len);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) | ((uint32_t)get16(p + 2) << 16);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | ((uint64_t)get32(p + 4) << 32);
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static size_t header_encode(const struct rlog_header *h, uint8_t *out)
{
	uint8_t *p = out;

	memcpy(p, RLOG_MAGIC, 4);
	put16(p + 4, RLOG_FORMAT_VERSION);
	put16(p + 6, HEADER_FIELDS_SIZE);
	p += 8;
	put64(p, h->created_unix_ms);
	p += 8;
	memset(p, 0, 32);
	memcpy(p, h->roller_id, strnlen(h->roller_id, 31));
	p += 32;
	memset(p, 0, 16);
	memcpy(p, h->transport, strnlen(h->transport, 15));
	p += 16;
	*p++ = h->fw_major;
	*p++ = h->fw_minor;
	*p++ = h->fw_patch;
	*p++ = h->proto_major;
	*p++ = h->proto_minor;
	*p++ = h->region;
	*p++ = h->calibration;
	put16(p, h->sample_period_us);
	put16(p + 2, h->body_weight_dkg);
	put16(p + 4, h->plan_hold_s);
	put16(p + 6, h->plan_rest_s);
	p += 8;
	*p++ = h->plan_reps;
	put16(p, h->band_low_dn);
	put16(p + 2, h->band_high_dn);
	put16(p + 4, h->grace_ms);
	p += 6;
	put32(p, log_crc32(out, (size_t)(p - out)));
	p += 4;
	return (size_t)(p - out);
}

static int header_decode(const uint8_t *buf, size_t len, struct rlog_header *h)
{
	const uint8_t *p;
	uint16_t fields;

	if (len < 8 || memcmp(buf, RLOG_MAGIC, 4) != 0)
		return -EBADMSG;
	if (get16(buf + 4) != RLOG_FORMAT_VERSION)
		return get16(buf + 4) > RLOG_FORMAT_VERSION ? -EPROTONOSUPPORT : -EBADMSG;
	fields = get16(buf + 6);
	if (fields != HEADER_FIELDS_SIZE || len < HEADER_SIZE)
		return -EBADMSG;
	if (get32(buf + 8 + fields) != log_crc32(buf, 8u + fields))
		return -EBADMSG;
	p = buf + 8;
	memset(h, 0, sizeof(*h));
	h->created_unix_ms = get64(p);
	p += 8;
	memcpy(h->roller_id, p, 31);
	p += 32;
	memcpy(h->transport, p, 15);
	p += 16;
	h->fw_major = *p++;
	h->fw_minor = *p++;
	h->fw_patch = *p++;
	h->proto_major = *p++;
	h->proto_minor = *p++;
	h->region = *p++;
	h->calibration = *p++;
	h->sample_period_us = get16(p);
	h->body_weight_dkg = get16(p + 2);
	h->plan_hold_s = get16(p + 4);
	h->plan_rest_s = get16(p + 6);
	p += 8;
	h->plan_reps = *p++;
	h->band_low_dn = get16(p);
	h->band_high_dn = get16(p + 2);
	h->grace_ms = get16(p + 4);
	return 0;
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int mkdir_private(const char *dir)
{
	char path[PATH_MAX];
	size_t i, n = strlen(dir);
	struct stat st;

	if (n == 0 || n >= sizeof(path))
		return -EINVAL;
	memcpy(path, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -errno;
		path[i] = i == n ? '\0' : '/';
	}
	if (stat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	/* Sessions are health data: the leaf directory is private whatever the umask. */
	if ((st.st_mode & 0777) != 0700 && chmod(dir, 0700) < 0)
		return -errno;
	return 0;
}

int rlog_writer_create(struct rlog_writer *w, const char *dir, const char *name,
		       const struct rlog_header *h)
{
	char path[PATH_MAX];
	uint8_t head[HEADER_SIZE];
	int err, n;

	if (!w || !dir || !name || !h || strchr(name, '/'))
		return -EINVAL;
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	w->sync_interval_us = 1000000u;
	err = mkdir_private(dir);
	if (err)
		return err;
	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->fd < 0)
		return -errno;
	header_encode(h, head);
	err = write_all(w->fd, head, sizeof(head));
	if (!err && fsync(w->fd) < 0)
		err = -errno;
	if (err) {
		close(w->fd);
		w->fd = -1;
		unlink(path);
		return err;
	}
	w->bytes = sizeof(head);
	w->last_sync_us = mono_us();
	return 0;
}

int rlog_writer_append(struct rlog_writer *w, const struct rlog_record *r)
{
	uint8_t rec[RECORD_OVERHEAD + RLOG_RECORD_MAX];
	size_t n;
	uint64_t now;
	int err;

	if (!w || !r || r->len > RLOG_RECORD_MAX || (r->len && !r->data))
		return -EINVAL;
	if (w->error)
		return w->error;
	if (w->fd < 0)
		return -EBADF;
	rec[0] = RECORD_MAGIC;
	rec[1] = r->kind;
	rec[2] = r->channel;
	rec[3] = 0;
	put16(rec + 4, r->len);
	put64(rec + 6, r->mono_us);
	put64(rec + 14, r->wall_ms);
	if (r->len)
		memcpy(rec + RECORD_HEAD_SIZE, r->data, r->len);
	n = RECORD_HEAD_SIZE + r->len;
	put32(rec + n, log_crc32(rec, n));
	n += 4;
	/* One write() per record: a process kill never leaves half a record. */
	err = write_all(w->fd, rec, n);
	if (err) {
		/* Cut back to the last complete record so the file stays clean. */
		if (ftruncate(w->fd, (off_t)w->bytes) == 0)
			lseek(w->fd, (off_t)w->bytes, SEEK_SET);
		w->error = err;
		return err;
	}
	w->bytes += n;
	w->records++;
	now = mono_us();
	if (now - w->last_sync_us >= w->sync_interval_us) {
		if (fdatasync(w->fd) < 0) {
			w->error = -errno;
			return w->error;
		}
		w->last_sync_us = now;
	}
	return 0;
}

int rlog_writer_close(struct rlog_writer *w)
{
	int err;

	if (!w)
		return -EINVAL;
	err = w->error;
	if (w->fd >= 0) {
		if (fsync(w->fd) < 0 && !err)
			err = -errno;
		if (close(w->fd) < 0 && !err)
			err = -errno;
		w->fd = -1;
	}
	return err;
}

int rlog_reader_open_buffer(struct rlog_reader *r, const uint8_t *buf, size_t len)
{
	int err;

	if (!r || (!buf && len))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	if (len > FILE_MAX)
		return -EFBIG;
	err = header_decode(buf, len, &r->header);
	if (err)
		return err;
	r->buf = malloc(len ? len : 1);
	if (!r->buf)
		return -ENOMEM;
	memcpy(r->buf, buf, len);
	r->len = len;
	r->pos = HEADER_SIZE;
	return 0;
}

int rlog_reader_open(struct rlog_reader *r, const char *path)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd, err;

	if (!r || !path)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	/* O_NONBLOCK: opening a FIFO (or a device) must not wait for a
	 * writer; such files are refused just below. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	if (S_ISDIR(st.st_mode) || !S_ISREG(st.st_mode)) {
		close(fd);
		return S_ISDIR(st.st_mode) ? -EISDIR : -EBADMSG;
	}
	if ((uint64_t)st.st_size > FILE_MAX) {
		close(fd);
		return -EFBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	err = header_decode(buf, got, &r->header);
	if (err) {
		free(buf);
		return err;
	}
	r->buf = buf;
	r->len = got;
	r->pos = HEADER_SIZE;
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

int rlog_reader_next(struct rlog_reader *r, struct rlog_record *rec)
{
	const uint8_t *p;
	size_t left, size;
	uint16_t len;

	if (!r || !rec || !r->buf)
		return -EINVAL;
	if (r->torn || r->pos >= r->len)
		return 0;
	p = r->buf + r->pos;
	left = r->len - r->pos;
	/* A tail shorter than a record head, or zeros a filesystem left after a
	 * power cut, is a torn tail. */
	if (left < RECORD_OVERHEAD || all_zero(p, left))
		goto torn;
	if (p[0] != RECORD_MAGIC || p[3] != 0)
		return -EBADMSG;
	len = get16(p + 4);
	if (len > RLOG_RECORD_MAX)
		return -EBADMSG;
	size = RECORD_OVERHEAD + len;
	if (size > left)
		goto torn;
	if (get32(p + RECORD_HEAD_SIZE + len) != log_crc32(p, RECORD_HEAD_SIZE + len)) {
		if (size == left)
			goto torn; /* the last record was being written */
		return -EBADMSG;
	}
	rec->kind = p[1];
	rec->channel = p[2];
	rec->len = len;
	rec->mono_us = get64(p + 6);
	rec->wall_ms = get64(p + 14);
	rec->data = p + RECORD_HEAD_SIZE;
	r->pos += size;
	r->records++;
	return 1;
torn:
	r->torn = true;
	r->torn_offset = r->pos;
	return 0;
}

void rlog_reader_close(struct rlog_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	r->buf = NULL;
	r->len = 0;
}

const char *rlog_strerror(int err)
{
	switch (err) {
	case -EBADMSG:
		return "not a roller session log, or it is damaged";
	case -EPROTONOSUPPORT:
		return "written by a newer roller: update roller to read it";
	case -EFBIG:
		return "file too large to be a session log";
	case -ENOSPC:
		return "disk full";
	case -EACCES:
		return "permission denied";
	case -EROFS:
		return "read-only file system";
	case -ENOENT:
		return "no such file or directory";
	case -EEXIST:
		return "a file of that name exists already";
	case -EISDIR:
		return "is a directory";
	default:
		return strerror(-err);
	}
}
