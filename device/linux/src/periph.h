/*
 * roller-periph internals: the roller on a BlueZ adapter.
 *
 *   main.c    options, the sd-event loop, start-up and shutdown order
 *   gatt.c    the GATT application objects (GattManager1) and the link port
 *   link.c    which central is connected, its security, the MTU
 *   advert.c  the LE advertisement (LEAdvertisingManager1)
 *   agent.c   the auto-accepting NoInputNoOutput default agent (AgentManager1)
 *   board.c   the core's ports: sensor (simulated person or trace), clock,
 *             storage (RAM, optionally a file), battery
 *   trace.c   the recorded force trace reader (format: device/linux/README.md)
 *   hci.c     asks the kernel whether a link is encrypted (D-Bus cannot tell)
 */
#ifndef ROLLER_PERIPH_H
#define ROLLER_PERIPH_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "roller/core.h"
#include "roller/protocol.h"
#include "roller/simperson.h"

/* The GATT application's root (its ObjectManager); the agent and the
 * advertisement live outside it so that BlueZ sees only GATT objects there. */
#define PERIPH_APP_PATH "/org/roller/gatt"
#define PERIPH_AGENT_PATH "/org/roller/agent"
#define PERIPH_ADV_PATH "/org/roller/advertisement0"


/* Longest advertised name: 31 bytes of legacy advertising data minus flags
 * (3), the complete list of one 128-bit service UUID (18) and the name's
 * own length/type bytes (2). */
#define PERIPH_NAME_MAX 8u
#define PERIPH_ADV_LEGACY_MAX 31u

#define PERIPH_STORAGE_PAGE 4096u
#define PERIPH_STORAGE_PAGES 64u

struct periph_options {
	const char *adapter;    /* "hci0" (required) */
	uint32_t seed;
	const char *trace_path; /* NULL: simulated person */
	bool trace_loop;
	double speed;           /* > 0; 1.0 = real time */
	const char *name;       /* advertised short name */
	const char *storage_path; /* NULL: flash in RAM only */
	bool notify_fd;         /* offer AcquireNotify on Measurement and Log */
	uint16_t body_weight_kg;
	int verbose;
	/* Measurement aids (device/linux/README.md, used by tests/e2e). */
	bool prerecord;              /* fast-forward the person with no host first */
	const char *timestamps_path; /* "index mono_us" per sample, or NULL */
	uint32_t flood_bytes;        /* Log notification flood size; 0 = none */
};

struct trace {
	int16_t *force_dn;   /* one entry per sample */
	int32_t *gyro_mdps;  /* NULL without a gyro column */
	size_t count;
	uint16_t rate_hz;
};

/* The ports handed to the core, and where samples come from. */
struct board {
	struct periph *p;
	struct port_force_ops force;
	struct port_motion_ops motion;
	struct port_clock_ops clock;
	struct port_storage_ops storage;
	struct port_link_ops link;
	struct port_power_ops power;
	struct core_ports ports;

	/* Sample source. */
	struct simperson person;
	struct trace trace;
	bool use_trace;
	bool trace_ended;
	size_t trace_pos;
	uint32_t noise_state;
	uint8_t channels;
	uint16_t rate_hz;
	uint32_t period_us;
	int32_t counts[PORT_FORCE_MAX_CHANNELS];
	int32_t gyro_mdps;

	/* Device time: advances by one sample period per sample, so that a
	 * run is reproducible whatever the host's timer jitter. */
	uint64_t samples;
	uint32_t now_ms;

	/* Flash. */
	uint8_t *flash;
	size_t flash_size;
	int flash_fd;

	bool asleep;
};

enum periph_chr_kind {
	CHR_CORE,      /* a Roller characteristic driven by the core */
	CHR_STATIC,    /* constant value (Device Information) */
	CHR_BATTERY    /* Battery Level */
};

struct periph_chr {
	struct periph *p;
	const char *path;
	const char *service_path;
	const char *uuid;
	const char *const *flags;
	enum periph_chr_kind kind;
	enum core_char core_id;     /* CHR_CORE only */
	bool indicate;              /* indications: one in flight until Confirm */
	bool protected_access;      /* BlueZ only lets an encrypted link use it */
	bool acquire;               /* exposes AcquireNotify (NotifyAcquired) */
	const char *static_value;   /* CHR_STATIC */

	uint8_t value[PROTO_FRAME_ABS_MAX];
	size_t value_len;
	unsigned sessions;          /* StartNotify minus StopNotify */
	int notify_fd;              /* AcquireNotify socket, our end; -1 */
	sd_event_source *notify_fd_source;
	bool awaiting_confirm;
	sd_event_source *confirm_timer;
	uint64_t sent;              /* notifications / indications handed to BlueZ */
	uint32_t xfer_chunks;       /* Log: chunks of the transfer in progress (-v) */
	sd_bus_slot *slot;
};

#define PERIPH_MAX_DEVICES 16

struct periph_device {
	char *path;
	char address[18];
	bool connected, paired, bonded, have_bonded;
};

struct periph {
	struct periph_options opt;
	sd_event *ev;
	sd_bus *bus;
	char adapter_path[64];
	char adapter_address[18];
	char bluez_owner[64];       /* unique name of org.bluez, "" if none */
	bool adapter_found, adapter_powered, adapter_pairable;
	uint32_t core_device_id;

	/* Registration with bluetoothd. */
	bool agent_registered, app_registered, adv_registered;
	bool registering;
	bool active_once;           /* the core has been started */
	bool stopping;
	bool unregistering;         /* stopping, and the unregistration is sent */
	unsigned pending_unregister;
	int exit_code;
	sd_bus_slot *agent_slot, *adv_slot, *om_slot;
	sd_bus_message_handler_t agent_done;
	uint64_t start_us;

	/* Known devices under our adapter, and the one connected peer. */
	struct periph_device devices[PERIPH_MAX_DEVICES];
	int peer;                   /* index into devices, -1 none */
	bool active;                /* the core runs: link events reach it */
	bool encrypted;
	bool last_encrypted, bonded_reported; /* as last told to the core */
	uint16_t mtu;               /* for the core: the ATT MTU, at most PROTO_MTU_MAX */
	uint16_t att_mtu;           /* the ATT MTU bluetoothd reported */
	sd_event_source *security_timer;
	int hci_fd;                 /* raw HCI socket for HCIGETCONNINFO; -1 */
	bool hci_unavailable;
	unsigned security_polls;

	/* The core and its board. */
	struct core core;
	struct board board;
	sd_event_source *sample_timer;
	sd_event_source *poll_event;
	sd_event_source *retry_timer;
	sd_event_source *battery_timer;
	uint8_t battery_percent;
	uint64_t sample_base;       /* samples produced before the timer started */
	FILE *timestamps;           /* --timestamps */

	/* --flood: Log chunks still to send, and what was sent. */
	uint32_t flood_left;
	uint32_t flood_record;
	uint64_t flood_sent, flood_t0_us;

	/* Notification pacing (gatt.c): BlueZ's multiple-notification buffer. */
	size_t pace_bytes;           /* notification bytes in the open window */
	bool pace_pinging;           /* Peer.Ping to bluetoothd unanswered */
	sd_event_source *pace_timer; /* the gap after its answer */

	struct periph_chr *chrs;
	size_t n_chrs;
};

/* main.c */
void periph_log(const struct periph *p, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void periph_fatal(struct periph *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Runs core_poll() soon (from the loop, never re-entrantly). */
void periph_poll_soon(struct periph *p);
/* Stopping: an indication was confirmed or given up; unregisters once none
 * is left unconfirmed. */
void periph_stop_continue(struct periph *p);

/* gatt.c */
int gatt_export(struct periph *p);
void gatt_unexport(struct periph *p);
int gatt_register(struct periph *p, sd_bus_message_handler_t done);
int gatt_unregister(struct periph *p, sd_bus_message_handler_t done);
int gatt_notify(struct periph *p, enum core_char id, const uint8_t *buf, size_t len);
void gatt_battery_changed(struct periph *p, uint8_t percent);
/* The link went down: forget per-link state (pending confirmations). */
void gatt_link_down(struct periph *p);
/* True while an indication we sent waits for its confirmation. */
bool gatt_indication_unconfirmed(const struct periph *p);
/* True if the method call comes from bluetoothd. */
bool periph_from_bluez(const struct periph *p, sd_bus_message *m, sd_bus_error *error);

/* Reads an a{sv} dictionary: calls prop for each key with the message at the
 * variant, which prop must read or skip (sd_bus_message_skip(m, "v")).
 * Returns 0 or the first negative errno from sd-bus or prop. */
int periph_read_dict(sd_bus_message *m,
		     int (*prop)(sd_bus_message *m, const char *key, void *userdata),
		     void *userdata);

/* link.c */
int link_start(struct periph *p);
/* Reads a GetManagedObjects reply: our adapter and its devices. Returns 0
 * or -ENODEV when the adapter is not there. */
int link_seed(struct periph *p, sd_bus_message *reply);
/* The core is ready: from now on link events reach it. */
void link_activate(struct periph *p);
void link_bluez_gone(struct periph *p);
void link_free(struct periph *p);
/* A characteristic access by the peer: options of ReadValue/WriteValue/
 * AcquireNotify ("device", "mtu"); protected: the attribute needs an
 * encrypted link, so BlueZ has checked encryption already. */
void link_access(struct periph *p, const char *device, uint16_t mtu, bool protected_access);
bool link_connected(const struct periph *p);

/* advert.c */
int advert_export(struct periph *p);
int advert_register(struct periph *p, sd_bus_message_handler_t done);
int advert_unregister(struct periph *p, sd_bus_message_handler_t done);
/* Bytes of legacy advertising data our advertisement takes. */
size_t advert_legacy_size(const char *name);

/* agent.c */
int agent_export(struct periph *p);
/* RegisterAgent, then RequestDefaultAgent; done gets the second reply. */
int agent_register(struct periph *p, sd_bus_message_handler_t done);
int agent_unregister(struct periph *p, sd_bus_message_handler_t done);

/* board.c */
int board_init(struct periph *p);
void board_free(struct periph *p);
/* Produces one sample and hands it to the core. */
void board_step(struct periph *p);
/* True once the person's plan (or the trace without --loop) is over. */
bool board_source_done(const struct periph *p);

/* trace.c */
/* Reads a trace file. Returns 0, -errno from open/read, -EBADMSG with a
 * message in err (line number and reason). */
int trace_load(struct trace *t, const char *path, char *err, size_t err_len);
void trace_free(struct trace *t);

/* hci.c */
/* 1 encrypted, 0 not (or no such LE link), -errno when the kernel cannot be
 * asked (no AF_BLUETOOTH, not permitted): the caller falls back. */
int hci_link_encrypted(int *fd, const char *adapter, const char *address);

#endif
