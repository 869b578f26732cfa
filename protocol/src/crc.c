/* Bitwise CRCs: no tables, so no flash or RAM cost on the roller. */
#include "roller/protocol.h"

uint16_t proto_crc16(uint16_t crc, const uint8_t *data, size_t len)
{
	size_t i;
	int bit;

	if (!data)
		return crc;
	for (i = 0; i < len; i++) {
		uint32_t c = (uint32_t)crc ^ ((uint32_t)data[i] << 8);

		for (bit = 0; bit < 8; bit++) {
			c <<= 1;
			if (c & 0x10000u)
				c ^= 0x1021u;
		}
		crc = (uint16_t)(c & 0xFFFFu);
	}
	return crc;
}

uint32_t proto_crc32(uint32_t crc, const uint8_t *data, size_t len)
{
	size_t i;
	int bit;

	if (!data)
		return crc;
	crc = ~crc;
	for (i = 0; i < len; i++) {
		crc ^= data[i];
		for (bit = 0; bit < 8; bit++)
			crc = (crc & 1u) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
	}
	return ~crc;
}
