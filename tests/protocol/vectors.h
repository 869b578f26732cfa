/*
 * Golden vector loader for tests (protocol, device and host alike).
 *
 * A vector is one frame in protocol/vectors/<name>.hex: '#' starts a comment
 * that runs to the end of the line, everything else is whitespace-separated
 * pairs of hex digits, one byte each. protocol/vectors/vectors.txt lists every
 * file with what proto_frame_decode() must make of it:
 *   <file> valid <type>      0, and f->type is <type> (as printed by proto_type_str)
 *   <file> invalid <ERRNO>   -ERRNO (EBADMSG, ENOMSG, EPROTONOSUPPORT, EOPNOTSUPP, ...)
 *
 * Link with the CMake target roller_test_vectors; it defines
 * ROLLER_VECTORS_DIR, which vectors_dir() returns.
 * Every function returns 0 or a negative errno and never writes past the
 * capacity it is given.
 */
#ifndef ROLLER_TEST_VECTORS_H
#define ROLLER_TEST_VECTORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest vector file and frame the loader accepts. */
#define VECTORS_TEXT_MAX 16384u
#define VECTORS_FRAME_MAX 512u
#define VECTORS_NAME_MAX 64u
#define VECTORS_MAX 256u

struct vectors_entry {
	char name[VECTORS_NAME_MAX]; /* file name inside vectors_dir() */
	bool valid;
	uint8_t type; /* valid: enum proto_type */
	int err;      /* invalid: the negative errno proto_frame_decode returns */
};

/* The directory holding the .hex files and vectors.txt (never NULL). */
const char *vectors_dir(void);

/*
 * Parses .hex text (text_len bytes, need not be NUL-terminated) into out.
 * Returns 0 and sets *len, -EINVAL (NULL argument), -EBADMSG (a character
 * that is not hex, whitespace or a comment, or an odd digit count in a word),
 * -ENOBUFS (more than cap bytes).
 */
int vectors_parse(const char *text, size_t text_len, uint8_t *out, size_t cap,
		  size_t *len);

/*
 * Reads and parses one .hex file; path is used as is. Returns 0, -EINVAL,
 * -errno from fopen/fread (e.g. -ENOENT), -EFBIG (file larger than
 * VECTORS_TEXT_MAX), or an error of vectors_parse.
 */
int vectors_load_file(const char *path, uint8_t *out, size_t cap, size_t *len);

/* Same, for a file name inside vectors_dir(). -ENAMETOOLONG if the path does
 * not fit PATH_MAX. */
int vectors_load(const char *name, uint8_t *out, size_t cap, size_t *len);

/*
 * Reads vectors_dir()/vectors.txt into entries. Returns 0 and sets *count,
 * -EINVAL, -errno of fopen, -EBADMSG (a malformed line: unknown word, type or
 * errno name, a name longer than VECTORS_NAME_MAX - 1), -ENOBUFS (more than
 * cap entries).
 */
int vectors_manifest(struct vectors_entry *entries, size_t cap, size_t *count);

/* Finds an entry by file name; NULL when absent. */
const struct vectors_entry *vectors_find(const struct vectors_entry *entries,
					 size_t count, const char *name);

/* "EBADMSG" <-> -EBADMSG for the errors the codec returns. The parser returns
 * 0 or -EINVAL; the printer returns "?" for other values. */
int vectors_errno_parse(const char *name, int *err);
const char *vectors_errno_name(int err);

#endif
