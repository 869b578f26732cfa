/*
 * Internals of host/bluez.
 *
 *   bluez_model.c   a mirror of bluetoothd's objects (GetManagedObjects +
 *                   InterfacesAdded/Removed + PropertiesChanged), fed
 *                   asynchronously, with change callbacks
 *   bluez_agent.c   our org.bluez.Agent1 (pairing, and while connecting)
 *   bluez_transport.c  the transport
 *   bluez_cmd.c     the subcommands
 *   bluez_config.c  the default roller in config.ini
 *   bluez_util.c    D-Bus error -> errno + hint, addresses, JSON strings
 */
#ifndef ROLLER_BLUEZ_INTERNAL_H
#define ROLLER_BLUEZ_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "roller/bluez.h"

#define BZ_IFACE_ADAPTER "org.bluez.Adapter1"
#define BZ_IFACE_DEVICE "org.bluez.Device1"
#define BZ_IFACE_SERVICE "org.bluez.GattService1"
#define BZ_IFACE_CHR "org.bluez.GattCharacteristic1"
#define BZ_IFACE_AGENT "org.bluez.Agent1"
#define BZ_IFACE_AGENT_MANAGER "org.bluez.AgentManager1"
#define BZ_IFACE_PROPS "org.freedesktop.DBus.Properties"

/* ---- model ---------------------------------------------------------------- */

struct bz_adapter {
	struct bz_adapter *next;
	char *path;
	char name[16];        /* "hci0" */
	char address[18];
	bool powered, discovering;
};

struct bz_device {
	struct bz_device *next;
	char *path;
	char *adapter;        /* adapter object path */
	char address[18];
	char *name;           /* Alias, else Name; may be NULL */
	char **uuids;         /* NULL-terminated, may be NULL */
	int16_t rssi;
	bool has_rssi;
	unsigned seen;        /* +1 for every advertising report (RSSI update) */
	bool paired, bonded, have_bonded, trusted, connected, resolved;
};

struct bz_service {
	struct bz_service *next;
	char *path;
	char *uuid;
	char *device;
};

struct bz_chr {
	struct bz_chr *next;
	char *path;
	char *uuid;
	char *service;
	uint16_t mtu;         /* 0 when bluetoothd does not say */
	bool notifying;
	bool can_acquire;     /* has NotifyAcquired: AcquireNotify works */
};

enum bz_change {
	BZ_ADAPTER_CHANGED,
	BZ_DEVICE_ADDED,
	BZ_DEVICE_CHANGED,
	BZ_DEVICE_REMOVED,   /* path given; the object is already gone */
	BZ_GATT_ADDED,
	BZ_GATT_REMOVED,
	BZ_CHR_CHANGED
};

struct bz_model_callbacks {
	/* GetManagedObjects answered (err 0) or failed (err -errno; e the
	 * D-Bus error, may be NULL). Called again after bluetoothd restarted. */
	void (*loaded)(void *userdata, int err, const sd_bus_error *e);
	/* org.bluez left the bus: the model is now empty. */
	void (*gone)(void *userdata);
	void (*changed)(void *userdata, enum bz_change what, const char *path);
	/* A characteristic's Value changed (a notification with StartNotify). */
	void (*value)(void *userdata, const char *path, const uint8_t *buf, size_t len);
};

struct bz_model {
	sd_bus *bus;
	struct bz_model_callbacks cb;
	void *userdata;
	struct bz_adapter *adapters;
	struct bz_device *devices;
	struct bz_service *services;
	struct bz_chr *chrs;
	bool loaded;
	bool bluez_present;
	sd_bus_slot *slots[5];
	sd_bus_slot *load_slot;
	sd_bus_slot *refresh_slot;
	char *refresh_path;
	/* A Value seen while parsing PropertiesChanged. */
	const void *value;
	size_t value_len;
	bool have_value;
};

/* Installs the signal matches, then calls GetManagedObjects. Returns 0 or
 * -errno; results come through cb. */
int bz_model_start(struct bz_model *m, sd_bus *bus, const struct bz_model_callbacks *cb,
		   void *userdata);
void bz_model_free(struct bz_model *m);
/* Reads the Device1 properties of path again (GetAll) and reports them as a
 * change: signals can be missing (see bluez_model.c). Returns 0 or -errno. */
int bz_model_refresh_device(struct bz_model *m, const char *path);
/* NULL name: the first adapter by path (hci0 before hci1). */
struct bz_adapter *bz_model_adapter(struct bz_model *m, const char *name);
struct bz_device *bz_model_device(struct bz_model *m, const char *adapter_path,
				  const char *address);
struct bz_device *bz_model_device_by_path(struct bz_model *m, const char *path);
/* The characteristic with this UUID in the service with service_uuid of the
 * device, looked up afresh (pitfall 6). */
struct bz_chr *bz_model_chr(struct bz_model *m, const char *device_path, const char *service_uuid,
			    const char *chr_uuid);
bool bz_device_has_uuid(const struct bz_device *d, const char *uuid);
bool bz_device_bonded(const struct bz_device *d);

/* ---- agent ----------------------------------------------------------------- */

struct bz_agent {
	sd_bus *bus;
	sd_event *ev;
	char path[64];
	const char *capability;  /* "NoInputNoOutput" or "KeyboardDisplay" */
	bool interactive;        /* prompt on the terminal for passkeys/confirmation */
	bool assume_yes;         /* accept a numeric comparison without asking */
	bool registered;
	bool declined;           /* the user said no (or typed nothing) */
	unsigned requests;       /* agent methods bluetoothd called */
	sd_bus_slot *object_slot, *call_slot;
	sd_bus_message *pending; /* a request waiting for the user */
	sd_event_source *stdin_source;
	char line[64];
	size_t line_len;
};

/* Exports the agent object and registers it (not as default: bluetoothd
 * uses the agent of the application that calls Pair). */
int bz_agent_start(struct bz_agent *a, sd_bus *bus, sd_event *ev, const char *capability,
		   bool interactive, bool assume_yes);
/* Unregisters (fire and forget) and frees. */
void bz_agent_stop(struct bz_agent *a);

/* ---- utilities -------------------------------------------------------------------- */

/* Maps a D-Bus error from bluetoothd or the bus to -errno and a hint for
 * the user (never NULL, may be ""). */
int bz_error_errno(const sd_bus_error *e);
const char *bz_error_hint(const sd_bus_error *e);
/* "the roller said: <message>" */
const char *bz_error_text(const sd_bus_error *e);
/* Writes s as a JSON string (quotes included). */
void bz_json_string(FILE *f, const char *s);
/* CLOCK_MONOTONIC in microseconds. */
uint64_t bz_now_us(void);
/* Waits for one round trip to the bus daemon (at most BZ_CLOSE_TIMEOUT_US)
 * so that the calls sent before are routed even if we hang up right after.
 * Only for shutting down: it blocks. */
#define BZ_CLOSE_TIMEOUT_US 500000u
void bz_bus_sync(sd_bus *bus);

#endif
