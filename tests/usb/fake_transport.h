/*
 * A transport (roller/transport.h) to the in-process fake roller, with link
 * faults the sync tests ask for: drop the link after the n-th LOG_CHUNK
 * (and come back), corrupt or swallow the n-th chunk, tell the test after
 * the n-th chunk (to kill a sync there). One roller per test process,
 * set in fake_transport_env before the transport is created.
 */
#ifndef ROLLER_TEST_FAKE_TRANSPORT_H
#define ROLLER_TEST_FAKE_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "roller/transport.h"

#include "fake_roller.h"

struct fake_transport_env {
	struct fake_roller *roller;
	uint16_t mtu;                    /* 0 = PROTO_MTU_MAX */
	/* Faults, by the number of the LOG_CHUNK since the counters were
	 * cleared (1-based; 0 = never). */
	unsigned long drop_after_chunk;  /* link drops right after this one */
	unsigned long corrupt_chunk;     /* one data bit flipped (CRC fails) */
	unsigned long swallow_chunk;     /* never delivered */
	bool corrupt_all;                /* every chunk with data fails its CRC */
	unsigned long stop_after_chunk;  /* on_stop() right after this one */
	bool no_reconnect;               /* after a drop, the roller stays away */
	unsigned reconnect_ms;           /* else back after this long (default 5) */
	void (*on_stop)(void *userdata);
	void *stop_userdata;
	/* Counters */
	unsigned long chunks;            /* LOG_CHUNKs delivered */
	unsigned long drops;
	unsigned long connects;
	uint64_t bytes;                  /* frame bytes delivered */
};

extern struct fake_transport_env fake_transport_env;
extern const struct transport_ops fake_transport_ops;

/* Clears the faults and counters (keeps the roller). */
void fake_transport_reset(void);

#endif
