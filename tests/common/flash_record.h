/*
 * Tests that damage a roller's flash on purpose: where a log record sits.
 * The record format is the device core's (device/README.md): a 12-byte
 * header 'R' 'C' <frame length> 0x00 <record number u32 LE> <CRC-32>, then
 * the frame, at offsets aligned to 4.
 */
#ifndef ROLLER_TESTS_FLASH_RECORD_H
#define ROLLER_TESTS_FLASH_RECORD_H

#include <stddef.h>
#include <stdint.h>

/* The offset of record `number` in mem[0..size), or SIZE_MAX. */
static inline size_t flash_record_find(const uint8_t *mem, size_t size, uint32_t number)
{
	for (size_t off = 0; off + 12u <= size; off += 4u) {
		const uint8_t *b = mem + off;

		if (b[0] == 'R' && b[1] == 'C' && b[3] == 0 &&
		    ((uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 |
		     (uint32_t)b[7] << 24) == number)
			return off;
	}
	return SIZE_MAX;
}

#endif
