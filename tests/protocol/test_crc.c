/* CRC-16/CCITT-FALSE and CRC-32/ISO-HDLC against their catalogue check values. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "roller/protocol.h"

static const uint8_t check_input[] = "123456789";
#define CHECK_LEN 9u

static void test_crc16_ccitt_false_check_value_is_0x29b1(void **state)
{
	(void)state;
	assert_int_equal(proto_crc16(0xFFFF, check_input, CHECK_LEN), 0x29B1);
}

static void test_crc32_check_value_is_0xcbf43926(void **state)
{
	(void)state;
	assert_int_equal(proto_crc32(0, check_input, CHECK_LEN), 0xCBF43926u);
}

static void test_crc_of_nothing_is_the_initial_value(void **state)
{
	(void)state;
	assert_int_equal(proto_crc16(0xFFFF, check_input, 0), 0xFFFF);
	assert_int_equal(proto_crc16(0xFFFF, NULL, 5), 0xFFFF);
	assert_int_equal(proto_crc32(0, check_input, 0), 0);
	assert_int_equal(proto_crc32(0, NULL, 5), 0);
}

static void test_crc_continues_across_split_buffers(void **state)
{
	size_t cut;

	(void)state;
	for (cut = 0; cut <= CHECK_LEN; cut++) {
		uint16_t c16 = proto_crc16(0xFFFF, check_input, cut);
		uint32_t c32 = proto_crc32(0, check_input, cut);

		assert_int_equal(proto_crc16(c16, check_input + cut, CHECK_LEN - cut), 0x29B1);
		assert_int_equal(proto_crc32(c32, check_input + cut, CHECK_LEN - cut), 0xCBF43926u);
	}
}

static void test_crc_known_short_inputs(void **state)
{
	static const uint8_t zero = 0x00, a = 'A';

	(void)state;
	/* Values from the CRC catalogue definitions, computed independently. */
	assert_int_equal(proto_crc16(0xFFFF, &zero, 1), 0xE1F0);
	assert_int_equal(proto_crc16(0xFFFF, &a, 1), 0xB915);
	assert_int_equal(proto_crc32(0, &zero, 1), 0xD202EF8Du);
	assert_int_equal(proto_crc32(0, &a, 1), 0xD3D99E8Bu);
}

static void test_crc16_detects_every_single_bit_flip(void **state)
{
	uint8_t buf[CHECK_LEN];
	size_t i;
	int bit;

	(void)state;
	for (i = 0; i < CHECK_LEN; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(buf, check_input, CHECK_LEN);
			buf[i] ^= (uint8_t)(1u << bit);
			assert_int_not_equal(proto_crc16(0xFFFF, buf, CHECK_LEN), 0x29B1);
			assert_int_not_equal(proto_crc32(0, buf, CHECK_LEN), 0xCBF43926u);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc16_ccitt_false_check_value_is_0x29b1),
		cmocka_unit_test(test_crc32_check_value_is_0xcbf43926),
		cmocka_unit_test(test_crc_of_nothing_is_the_initial_value),
		cmocka_unit_test(test_crc_continues_across_split_buffers),
		cmocka_unit_test(test_crc_known_short_inputs),
		cmocka_unit_test(test_crc16_detects_every_single_bit_flip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
