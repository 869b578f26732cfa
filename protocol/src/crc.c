/* Bitwise CRCs: no tables, so no flash or RAM cost on the roller. */
#include "roller/protocol.h"

uint16_t proto_crc16(uint16_t crc, const uint8_t *data, size_t len)
{
	size_t i;
	int bit;

	if (!data)
		return crc;
	for (i = 0; i < len; i++) {
		crc = (uint16_t)(crc ^ (uint16_t)(data[i] << 8));
		for (bit = 0; bit < 8; bit++)
			crc = (crc & 0x8000u) ? (uint16_t)(((unsigned)crc << 1) ^ 0x1021u) :
						(uint16_t)(crc << 1);
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
