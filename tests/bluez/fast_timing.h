/*
 * The BlueZ transport's retry policy with shorter waits, for the tests that
 * run it against fakebluez (the same steps; a failing case ends in seconds).
 */
#ifndef ROLLER_TESTS_BLUEZ_FAST_TIMING_H
#define ROLLER_TESTS_BLUEZ_FAST_TIMING_H

#include "roller/bluez.h"

static inline void fast_bluez_timing(void)
{
	struct bluez_timing t;

	bluez_get_timing(&t);
	t.scan_restart_ms = 1000;
	t.backoff_first_ms = 100;
	t.backoff_max_ms = 1000;
	t.resolve_ms = 3000;
	t.give_up_ms = 20000;
	t.call_timeout_ms = 10000;
	bluez_set_timing(&t);
}

#endif
