/*
 * Private layout of struct core. Included by roller/core.h only so that the
 * application can allocate the state statically (its size is fixed at
 * compile time). Nothing outside device/core may read or write these
 * members; they change without notice. Sizes can be overridden with -D at
 * build time (they must stay powers of two where marked).
 */
#ifndef ROLLER_CORE_STATE_H
#define ROLLER_CORE_STATE_H

#ifndef ROLLER_CORE_H
#error "include roller/core.h, not roller/core_state.h"
#endif

/* Recent samples kept in RAM for batching, logging and RESEND_SAMPLES.
 * Power of two. 2048 samples = 25.6 s at 80 SPS, 4.9 KB. */
#ifndef CORE_HISTORY_SAMPLES
#define CORE_HISTORY_SAMPLES 2048u
#endif
#define CORE_HISTORY_BLOCK 16u /* samples per stored tick anchor (power of two) */

/* Encoded live MEASUREMENT frames waiting for the link (byte ring). */
#ifndef CORE_TXQ_BYTES
#define CORE_TXQ_BYTES 2048u
#endif
/* Encoded EVENT / SESSION frames waiting for the link. */
#ifndef CORE_EVQ_SLOTS
#define CORE_EVQ_SLOTS 16u
#endif
#define CORE_RSPQ_SLOTS 4u
/* Events waiting to be written to the log. */
#define CORE_LOGQ_SLOTS 8u
/* Log pages the RAM index can describe (storage beyond is unused). */
#ifndef CORE_LOG_MAX_PAGES
#define CORE_LOG_MAX_PAGES 128u
#endif

/* Largest EVENT, SESSION or CONTROL_RESPONSE frame (fits MTU 23). */
#define CORE_SMALL_FRAME_MAX 20u
#define CORE_RECORD_HEADER 12u
#define CORE_RECORD_MAX (CORE_RECORD_HEADER + PROTO_FRAME_MAX + 16u)

struct core_small_frame {
	uint32_t sample; /* log queue: samples before this are logged first */
	uint8_t len;
	uint8_t kind;    /* event kind: queued STATUS frames are coalesced */
	uint8_t buf[CORE_SMALL_FRAME_MAX];
};

struct core_calibration_state {
	int32_t tare[PORT_FORCE_MAX_CHANNELS]; /* counts at zero load */
	int32_t scale_unpc;                     /* micro-newtons per summed count */
	uint8_t state;                          /* enum proto_calibration */
	/* A TARE or CALIBRATE being averaged (answered when done). */
	uint8_t op;                             /* 0, PROTO_OP_TARE, PROTO_OP_CALIBRATE */
	uint8_t token;
	uint16_t load_dn;
	uint16_t n;
	int64_t acc[PORT_FORCE_MAX_CHANNELS];
};

struct core_signal_state {
	int32_t last_raw[PORT_FORCE_MAX_CHANNELS];
	uint16_t same_run[PORT_FORCE_MAX_CHANNELS]; /* identical codes in a row */
	uint16_t good_run[PORT_FORCE_MAX_CHANNELS]; /* good samples in a row */
	uint8_t saturated;    /* channel bits: saturation episode open (reported) */
	uint8_t disconnected; /* channel bits: disconnect episode open (reported) */
	bool sensor_fault;    /* sensor failure episode open (reported) */
	uint8_t median_n;
	int32_t median[3];    /* last summed forces (dN) for median of 3 */
	bool iir_primed;
	int32_t iir_q8;       /* filtered force, dN * 256 */
	int16_t force;        /* latest output, dN or PROTO_FORCE_* */
	/* Stillness. */
	int16_t var_win[16];
	uint8_t var_pos, var_n;
	int32_t var_sum;
	int64_t var_sq;
	uint8_t still_run;
	bool still;
};

struct core_hold_state {
	uint8_t state;            /* enum proto_hold_state */
	bool contact;
	bool active;              /* a hold is running */
	bool in_dip;
	uint8_t dips;
	int16_t peak;
	uint32_t start;           /* sample index of HOLD_START */
	uint32_t length;          /* samples in the hold so far (excluding an open dip) */
	uint32_t in_band;
	uint32_t summed;          /* valid forces in sum */
	int64_t sum;
	/* An open dip: folded into the hold if it comes back within grace. */
	uint32_t dip_len;
	uint32_t dip_in_band;
	uint32_t dip_summed;
	int64_t dip_sum;
	int16_t dip_peak;
	uint32_t grace_samples;
	uint32_t target_samples;
};

struct core_history_state {
	int16_t force[CORE_HISTORY_SAMPLES];
	uint8_t still[CORE_HISTORY_SAMPLES / 8u];
	uint32_t anchor[CORE_HISTORY_SAMPLES / CORE_HISTORY_BLOCK]; /* tick of each block's first sample */
	uint32_t next;    /* index the next sample gets */
	uint32_t held;    /* valid samples, <= CORE_HISTORY_SAMPLES */
	uint32_t last_tick;
};

struct core_stream_state {
	/* Link. */
	bool connected, peer_bonded, encrypted, bonded;
	uint16_t mtu;
	uint16_t capacity;        /* samples per MEASUREMENT at this MTU */
	/* Last STATUS queued (state, flags, battery %). */
	bool status_sent;
	uint8_t status[3];
	/* Open live batch. */
	bool batch_open;
	uint32_t batch_first;
	uint32_t batch_tick;
	/* Live MEASUREMENT ring: [len][frame] records. */
	uint8_t txq[CORE_TXQ_BYTES];
	uint32_t txq_head, txq_used, txq_frames;
	bool overflow_episode;    /* live frames dropped since the queue last drained */
	bool event_overflow;
	/* Events and responses. */
	struct core_small_frame evq[CORE_EVQ_SLOTS];
	uint8_t evq_head, evq_n;
	struct core_small_frame rspq[CORE_RSPQ_SLOTS];
	uint8_t rspq_head, rspq_n;
	uint16_t event_seq;
	/* Link sharing: a transfer frame is due before the next live frame;
	 * between the two transfers, LOG_READ's turn. */
	bool bulk_owed;
	bool log_turn;
	/* RESEND_SAMPLES in progress. */
	bool resend;
	uint32_t resend_next;
	uint32_t resend_left;
	uint8_t tx[PROTO_FRAME_MAX]; /* encode / copy-out scratch */
};

struct core_log_state {
	bool usable;              /* storage present and large enough */
	uint32_t page_size, pages;   /* log pages (after the settings pages) */
	uint32_t first_page;         /* storage page of log page 0 */
	uint32_t align;
	/* Per log page: first record number, valid bit. */
	uint32_t page_first[CORE_LOG_MAX_PAGES];
	uint8_t page_valid[CORE_LOG_MAX_PAGES / 8u];
	uint32_t oldest;          /* log page holding the oldest records */
	uint32_t active;          /* log page being appended */
	uint32_t write_off;       /* next free byte in the active page */
	bool active_open;         /* active page has a header and room */
	uint32_t next_record;
	uint32_t first_held;      /* oldest record at or above floor (== next_record: none) */
	uint32_t floor;           /* records below are erased (LOG_ERASE) */
	uint16_t sessions;
	/* Settings (two ping-pong pages at the start of storage). */
	uint32_t settings_seq;
	uint32_t settings_page;   /* 0 or 1 */
	uint32_t settings_off;
	/* Samples/events waiting to be written. */
	uint32_t logged_next;     /* next sample index to log */
	struct core_small_frame logq[CORE_LOGQ_SLOTS];
	uint8_t logq_n;
	/* LOG_READ transfer. */
	bool xfer;
	bool xfer_broken;         /* records vanished under it: send END now */
	uint32_t xfer_first;      /* record asked for */
	uint32_t xfer_last;       /* one past the range asked for */
	uint32_t xfer_expect;     /* number after the last record sent (SKIPPED) */
	uint32_t xfer_left;       /* records still to send, the current one included */
	uint32_t xfer_page;
	uint32_t xfer_pos;        /* byte offset of the current record in its page */
	uint32_t xfer_record;
	uint16_t xfer_offset;     /* next byte of the current record's frame */
	uint8_t scratch[CORE_RECORD_MAX];
};

struct core_session_state {
	bool active;
	bool automatic;
	uint8_t region;
	uint16_t id;
	uint16_t next_id;
	uint32_t last_contact_ms;
};

struct core_power_state {
	bool sleeping;
	bool sleep_pending;       /* SLEEP opcode: sleep once the response is out */
	uint32_t last_activity_ms;
	uint32_t last_battery_ms;
	bool battery_read;
	uint16_t millivolts;
	uint8_t percent;
	bool low;
	bool charging;
	bool sleep_force_valid;
	int32_t sleep_force;      /* first force seen asleep (wake on load) */
};

struct core {
	struct core_ports ports;
	struct core_config cfg;
	struct core_counters counters;
	uint32_t now_ms;              /* latest clock reading */
	bool clock_set;
	uint32_t unix_base;           /* SET_CLOCK: unix time at unix_tick */
	uint32_t unix_tick;
	struct proto_hold_params hold_params; /* in force */
	uint16_t sleep_timeout_s;     /* in force */
	struct core_calibration_state cal;
	struct core_signal_state sig;
	struct core_hold_state hold;
	struct core_history_state hist;
	struct core_stream_state stream;
	struct core_log_state log;
	struct core_session_state session;
	struct core_power_state power;
};

#endif
