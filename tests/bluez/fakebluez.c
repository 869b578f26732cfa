/*
 * fakebluez: a BlueZ look-alike for tests, on sd-bus. It owns org.bluez on a
 * private bus and behaves like one bluetoothd managing two adapters joined by
 * a perfect radio, as in the QEMU rig: a peripheral program registers its GATT
 * application, advertisement and agent on one adapter; a central program
 * scans, connects, pairs and uses the remote GATT objects on the other
 * adapter. Every remote operation is forwarded to the registered application
 * with the options bluetoothd passes ("device", "mtu", "link"), and the
 * application's notifications and indications come back as PropertiesChanged
 * of Value (or through AcquireNotify sockets) with Confirm for indications.
 *
 * Faults and observations for the tests: org.roller.FakeBluez1 at
 * /org/roller/fakebluez (scan misses, connect failures, pairing outcomes,
 * MTU, early ServicesResolved, dropped links, removed device objects,
 * counters). What it does not model: see tests/bluez/README.md.
 *
 * Usage: fakebluez [--adapters N] [--deny]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#define IFACE_ADAPTER "org.bluez.Adapter1"
#define IFACE_DEVICE "org.bluez.Device1"
#define IFACE_GATT_MANAGER "org.bluez.GattManager1"
#define IFACE_ADV_MANAGER "org.bluez.LEAdvertisingManager1"
#define IFACE_AGENT_MANAGER "org.bluez.AgentManager1"
#define IFACE_SERVICE "org.bluez.GattService1"
#define IFACE_CHR "org.bluez.GattCharacteristic1"
#define IFACE_AGENT "org.bluez.Agent1"
#define IFACE_ADV "org.bluez.LEAdvertisement1"
#define IFACE_FAKE "org.roller.FakeBluez1"
#define FAKE_PATH "/org/roller/fakebluez"

#define MAX_ADAPTERS 2
#define MAX_SERVICES 8
#define MAX_CHRS 24
#define MAX_AGENTS 8
#define MAX_UUIDS 8
#define PASSKEY 123456u

#define MS 1000ull

static int verbose;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	fputs("fakebluez: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

struct strlist {
	char *v[MAX_UUIDS + 1];
	unsigned n;
};

static void strlist_clear(struct strlist *l)
{
	unsigned i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	memset(l, 0, sizeof(*l));
}

static void strlist_add(struct strlist *l, const char *s)
{
	if (l->n < MAX_UUIDS)
		l->v[l->n++] = strdup(s);
	l->v[l->n] = NULL;
}

static bool strlist_has_ci(const struct strlist *l, const char *s)
{
	unsigned i;

	for (i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i], s) == 0)
			return true;
	return false;
}

/* ---- model ------------------------------------------------------------------ */

struct app_chr {          /* a characteristic of the registered application */
	char *path;
	char *uuid;
	char *service;
	struct strlist flags;
	bool acquire;         /* has NotifyAcquired: bluetoothd uses AcquireNotify */
	bool notify, indicate, read, write;
	bool enc_read, enc_write, enc_notify;
	bool ccc;             /* "CCC" enabled for the central (persists when bonded) */
	int fd;               /* socket from the app's AcquireNotify, -1 */
	sd_event_source *fd_source;
	/* The mirror on the central's device. */
	char *rpath;
	sd_bus_slot *rslot;
	uint8_t value[512];
	size_t value_len;
	bool client_notifying;
	int client_fd;        /* socket handed to the central by AcquireNotify, -1 */
	uint64_t delivered;
	struct fake *f;
	int service_index;
	uint16_t handle;
};

struct app_service {
	char *path;
	char *uuid;
	char *rpath;
	sd_bus_slot *rslot;
	uint16_t handle;
	struct fake *f;
};

struct agent {
	char *owner, *path, *capability;
};

struct device {
	struct fake *f;
	struct adapter *a;
	char path[96];
	char address[18];
	char name[64];
	struct strlist uuids;
	int16_t rssi;
	bool has_rssi;
	bool exported;
	sd_bus_slot *slot;
	bool central_view;    /* on the central's adapter (the remote roller) */
};

struct adapter {
	struct fake *f;
	int index;
	char path[32];
	char address[18];
	bool powered, pairable, discovering;
	char *discovery_owner;
	struct strlist filter_uuids;
	char filter_transport[16];
	sd_event_source *scan_timer;
	sd_bus_slot *slot;
};

struct fake {
	sd_event *ev;
	sd_bus *bus;
	bool deny;
	struct adapter adapters[MAX_ADAPTERS];
	int n_adapters;

	/* Peripheral side. */
	int periph;           /* adapter index with the app/advert, -1 */
	char *app_owner, *app_path;
	sd_bus_message *pending_register;
	struct app_service services[MAX_SERVICES];
	int n_services;
	struct app_chr chrs[MAX_CHRS];
	int n_chrs;
	sd_bus_slot *app_match;
	char *adv_owner, *adv_path;
	sd_bus_message *pending_adv;
	char adv_name[64];
	struct strlist adv_uuids;
	char adv_type[32];
	bool adv_discoverable;
	unsigned adv_size;

	struct agent agents[MAX_AGENTS];
	int default_agent;    /* index, -1 */

	/* The one link: central device object (the roller as the central sees
	 * it) and peripheral device object (the central as the roller sees it). */
	struct device remote;  /* on the central adapter */
	struct device peer;    /* on the peripheral adapter */
	bool connected, connecting, paired, bonded, trusted, resolved;
	sd_bus_message *pending_connect;
	sd_bus_message *pending_pair;
	char pair_agent[128];
	sd_event_source *link_timer;

	/* Knobs. */
	unsigned scan_miss;
	bool session_misses;   /* the discovery session in progress reports nothing */
	unsigned connect_failures;
	char connect_error[96], connect_message[128];
	char pair_mode[32];
	char pair_method[32];
	bool bondable;
	uint16_t mtu;
	bool resolved_early;
	bool quiet_connected;  /* no Connected=true signal on the central side */
	unsigned write_reply_delay_ms; /* the WriteValue answer after the indication */
	unsigned connect_delay_ms;

	/* Counters. */
	unsigned discovery_starts, discovery_stops, filter_calls, connect_calls, pair_calls;
	unsigned remove_calls, disconnect_calls, app_start_notify, app_acquire_notify;
	unsigned confirms, client_acquires, client_start_notify;
	bool responder_agent_called;
	/* HoldConfirms: indications delivered but not confirmed yet (Confirm
	 * goes to the application when released); an application gone while
	 * one is held is what crashes bluetoothd 5.66 (its late Confirm). */
	bool hold_confirms;
	char *held[16];
	unsigned n_held;
	bool gone_unconfirmed;
	struct strlist agent_calls;
};

static struct fake fake;

static struct adapter *central_adapter(struct fake *f)
{
	int i;

	for (i = 0; i < f->n_adapters; i++)
		if (i != f->periph)
			return &f->adapters[i];
	return NULL;
}

static void path_for(char *out, size_t cap, const struct adapter *a, const char *address)
{
	size_t n;
	char *p;

	snprintf(out, cap, "%s/dev_%s", a->path, address);
	n = strlen(a->path) + 5;
	for (p = out + n; *p; p++)
		if (*p == ':')
			*p = '_';
}

static int reply_error(sd_bus_message *m, const char *name, const char *message)
{
	return sd_bus_reply_method_errorf(m, name, "%s", message);
}

/* ---- agents -------------------------------------------------------------------- */

static struct agent *agent_of(struct fake *f, const char *owner)
{
	int i;

	for (i = 0; i < MAX_AGENTS; i++)
		if (f->agents[i].owner && strcmp(f->agents[i].owner, owner) == 0)
			return &f->agents[i];
	return NULL;
}

static void agent_free(struct fake *f, struct agent *a)
{
	if (f->default_agent >= 0 && &f->agents[f->default_agent] == a)
		f->default_agent = -1;
	free(a->owner);
	free(a->path);
	free(a->capability);
	memset(a, 0, sizeof(*a));
}

static int m_register_agent(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;
	const char *path, *cap;
	int i;

	(void)error;
	if (sd_bus_message_read(m, "os", &path, &cap) < 0)
		return reply_error(m, "org.bluez.Error.InvalidArguments", "Invalid arguments");
	if (agent_of(f, sd_bus_message_get_sender(m)))
		return reply_error(m, "org.bluez.Error.AlreadyExists", "Already Exists");
	if (strcmp(cap, "") && strcmp(cap, "NoInputNoOutput") && strcmp(cap, "DisplayOnly") &&
	    strcmp(cap, "DisplayYesNo") && strcmp(cap, "KeyboardOnly") &&
	    strcmp(cap, "KeyboardDisplay"))
		return reply_error(m, "org.bluez.Error.InvalidArguments", "Invalid capability");
	for (i = 0; i < MAX_AGENTS; i++)
		if (!f->agents[i].owner)
			break;
	if (i == MAX_AGENTS)
		return reply_error(m, "org.bluez.Error.Failed", "Too many agents");
	f->agents[i].owner = strdup(sd_bus_message_get_sender(m));
	f->agents[i].path = strdup(path);
	f->agents[i].capability = strdup(cap[0] ? cap : "KeyboardDisplay");
	logf_("agent %s %s (%s)", f->agents[i].owner, path, cap);
	return sd_bus_reply_method_return(m, "");
}

static int m_unregister_agent(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;
	struct agent *a = agent_of(f, sd_bus_message_get_sender(m));
	const char *path;

	(void)error;
	if (sd_bus_message_read(m, "o", &path) < 0 || !a || strcmp(a->path, path) != 0)
		return reply_error(m, "org.bluez.Error.DoesNotExist", "Does Not Exist");
	agent_free(f, a);
	return sd_bus_reply_method_return(m, "");
}

static int m_default_agent(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;
	struct agent *a = agent_of(f, sd_bus_message_get_sender(m));
	const char *path;

	(void)error;
	if (sd_bus_message_read(m, "o", &path) < 0 || !a || strcmp(a->path, path) != 0)
		return reply_error(m, "org.bluez.Error.DoesNotExist", "Does Not Exist");
	f->default_agent = (int)(a - f->agents);
	return sd_bus_reply_method_return(m, "");
}

static const sd_bus_vtable agent_manager_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("RegisterAgent", "os", "", m_register_agent, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("UnregisterAgent", "o", "", m_unregister_agent, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("RequestDefaultAgent", "o", "", m_default_agent, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END
};

/* ---- device objects ------------------------------------------------------------- */

static int device_prop(sd_bus *bus, const char *path, const char *interface, const char *property,
		       sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	struct device *d = userdata;
	struct fake *f = d->f;

	(void)bus, (void)path, (void)interface, (void)error;
	if (!strcmp(property, "Address"))
		return sd_bus_message_append(reply, "s", d->address);
	if (!strcmp(property, "AddressType"))
		return sd_bus_message_append(reply, "s", "public");
	if (!strcmp(property, "Name") || !strcmp(property, "Alias"))
		return sd_bus_message_append(reply, "s", d->name);
	if (!strcmp(property, "Paired"))
		return sd_bus_message_append(reply, "b", f->paired);
	if (!strcmp(property, "Bonded"))
		return sd_bus_message_append(reply, "b", f->bonded);
	if (!strcmp(property, "Trusted"))
		return sd_bus_message_append(reply, "b", d->central_view ? f->trusted : false);
	if (!strcmp(property, "Blocked"))
		return sd_bus_message_append(reply, "b", false);
	if (!strcmp(property, "Connected"))
		return sd_bus_message_append(reply, "b", f->connected);
	if (!strcmp(property, "ServicesResolved"))
		return sd_bus_message_append(reply, "b", d->central_view && f->resolved);
	if (!strcmp(property, "LegacyPairing"))
		return sd_bus_message_append(reply, "b", false);
	if (!strcmp(property, "UUIDs"))
		return sd_bus_message_append_strv(reply, d->uuids.v);
	if (!strcmp(property, "Adapter"))
		return sd_bus_message_append(reply, "o", d->a->path);
	if (!strcmp(property, "RSSI"))
		return sd_bus_message_append(reply, "n", d->rssi);
	return -ENOENT;
}

static int device_set_trusted(sd_bus *bus, const char *path, const char *interface,
			      const char *property, sd_bus_message *value, void *userdata,
			      sd_bus_error *error)
{
	struct device *d = userdata;
	int b;

	(void)bus, (void)path, (void)interface, (void)property, (void)error;
	if (sd_bus_message_read(value, "b", &b) < 0)
		return -EINVAL;
	if (d->central_view)
		d->f->trusted = b;
	return 0;
}

static int m_connect(sd_bus_message *m, void *userdata, sd_bus_error *error);
static int m_disconnect(sd_bus_message *m, void *userdata, sd_bus_error *error);
static int m_pair(sd_bus_message *m, void *userdata, sd_bus_error *error);
static int m_cancel_pairing(sd_bus_message *m, void *userdata, sd_bus_error *error);

#define DEVICE_COMMON                                                                                   \
	SD_BUS_METHOD("Connect", "", "", m_connect, SD_BUS_VTABLE_UNPRIVILEGED),                        \
	SD_BUS_METHOD("Disconnect", "", "", m_disconnect, SD_BUS_VTABLE_UNPRIVILEGED),                  \
	SD_BUS_METHOD("Pair", "", "", m_pair, SD_BUS_VTABLE_UNPRIVILEGED),                              \
	SD_BUS_METHOD("CancelPairing", "", "", m_cancel_pairing, SD_BUS_VTABLE_UNPRIVILEGED),           \
	SD_BUS_PROPERTY("Address", "s", device_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),                  \
	SD_BUS_PROPERTY("AddressType", "s", device_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),              \
	SD_BUS_PROPERTY("Name", "s", device_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),              \
	SD_BUS_PROPERTY("Alias", "s", device_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),             \
	SD_BUS_PROPERTY("Paired", "b", device_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),            \
	SD_BUS_PROPERTY("Bonded", "b", device_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),            \
	SD_BUS_WRITABLE_PROPERTY("Trusted", "b", device_prop, device_set_trusted, 0,                    \
				 SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE | SD_BUS_VTABLE_UNPRIVILEGED),     \
	SD_BUS_PROPERTY("Blocked", "b", device_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),           \
	SD_BUS_PROPERTY("Connected", "b", device_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),         \
	SD_BUS_PROPERTY("ServicesResolved", "b", device_prop, 0,                                        \
			SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),                                           \
	SD_BUS_PROPERTY("LegacyPairing", "b", device_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),            \
	SD_BUS_PROPERTY("UUIDs", "as", device_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),            \
	SD_BUS_PROPERTY("Adapter", "o", device_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST)

static const sd_bus_vtable device_vtable[] = {
	SD_BUS_VTABLE_START(0),
	DEVICE_COMMON,
	SD_BUS_VTABLE_END
};

/* BlueZ only has RSSI while the device is being seen in a scan. */
static const sd_bus_vtable device_rssi_vtable[] = {
	SD_BUS_VTABLE_START(0),
	DEVICE_COMMON,
	SD_BUS_PROPERTY("RSSI", "n", device_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_VTABLE_END
};

static void device_export(struct device *d)
{
	if (d->exported)
		return;
	sd_bus_add_object_vtable(d->f->bus, &d->slot, d->path, IFACE_DEVICE,
				 d->has_rssi ? device_rssi_vtable : device_vtable, d);
	d->exported = true;
	sd_bus_emit_interfaces_added(d->f->bus, d->path, IFACE_DEVICE, NULL);
	logf_("device %s added", d->path);
}

static void device_unexport(struct device *d)
{
	if (!d->exported)
		return;
	sd_bus_emit_interfaces_removed(d->f->bus, d->path, IFACE_DEVICE, NULL);
	d->slot = sd_bus_slot_unref(d->slot);
	d->exported = false;
	logf_("device %s removed", d->path);
}

static void device_set_rssi(struct device *d, int16_t rssi)
{
	d->rssi = rssi;
	if (!d->has_rssi) {
		d->has_rssi = true;
		if (d->exported) {
			/* Re-register with the RSSI property (keeps the object). */
			d->slot = sd_bus_slot_unref(d->slot);
			sd_bus_add_object_vtable(d->f->bus, &d->slot, d->path, IFACE_DEVICE,
						 device_rssi_vtable, d);
		}
	}
	if (d->exported)
		sd_bus_emit_properties_changed(d->f->bus, d->path, IFACE_DEVICE, "RSSI", NULL);
}

static void device_changed(struct device *d, const char *prop)
{
	if (d->exported)
		sd_bus_emit_properties_changed(d->f->bus, d->path, IFACE_DEVICE, prop, NULL);
}

/* ---- remote GATT objects (the central's view of the application) ------------- */

static int rservice_prop(sd_bus *bus, const char *path, const char *interface,
			 const char *property, sd_bus_message *reply, void *userdata,
			 sd_bus_error *error)
{
	struct app_service *s = userdata;

	(void)bus, (void)path, (void)interface, (void)error;
	if (!strcmp(property, "UUID"))
		return sd_bus_message_append(reply, "s", s->uuid);
	if (!strcmp(property, "Primary"))
		return sd_bus_message_append(reply, "b", true);
	if (!strcmp(property, "Device"))
		return sd_bus_message_append(reply, "o", s->f->remote.path);
	if (!strcmp(property, "Handle"))
		return sd_bus_message_append(reply, "q", s->handle);
	if (!strcmp(property, "Includes"))
		return sd_bus_message_append(reply, "ao", 0);
	return -ENOENT;
}

static const sd_bus_vtable rservice_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("UUID", "s", rservice_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Primary", "b", rservice_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Device", "o", rservice_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Handle", "q", rservice_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Includes", "ao", rservice_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_VTABLE_END
};

static int rchr_prop(sd_bus *bus, const char *path, const char *interface, const char *property,
		     sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	struct app_chr *c = userdata;
	struct fake *f = c->f;

	(void)bus, (void)path, (void)interface, (void)error;
	if (!strcmp(property, "UUID"))
		return sd_bus_message_append(reply, "s", c->uuid);
	if (!strcmp(property, "Service"))
		return sd_bus_message_append(reply, "o", f->services[c->service_index].rpath);
	if (!strcmp(property, "Value"))
		return sd_bus_message_append_array(reply, 'y', c->value, c->value_len);
	if (!strcmp(property, "Notifying"))
		return sd_bus_message_append(reply, "b", c->client_notifying || c->client_fd >= 0);
	if (!strcmp(property, "NotifyAcquired"))
		return sd_bus_message_append(reply, "b", c->client_fd >= 0);
	if (!strcmp(property, "MTU"))
		return sd_bus_message_append(reply, "q", f->mtu);
	if (!strcmp(property, "Handle"))
		return sd_bus_message_append(reply, "q", c->handle);
	if (!strcmp(property, "Flags")) {
		/* The central sees the properties byte, not the server's
		 * permissions. */
		const char *v[6];
		int n = 0;

		if (c->read)
			v[n++] = "read";
		if (c->write)
			v[n++] = "write";
		if (c->notify)
			v[n++] = "notify";
		if (c->indicate)
			v[n++] = "indicate";
		v[n] = NULL;
		return sd_bus_message_append_strv(reply, (char **)v);
	}
	return -ENOENT;
}

static int m_rread(sd_bus_message *m, void *userdata, sd_bus_error *error);
static int m_rwrite(sd_bus_message *m, void *userdata, sd_bus_error *error);
static int m_rstart_notify(sd_bus_message *m, void *userdata, sd_bus_error *error);
static int m_rstop_notify(sd_bus_message *m, void *userdata, sd_bus_error *error);
static int m_racquire_notify(sd_bus_message *m, void *userdata, sd_bus_error *error);

#define RCHR_COMMON                                                                                     \
	SD_BUS_PROPERTY("UUID", "s", rchr_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),                       \
	SD_BUS_PROPERTY("Service", "o", rchr_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),                    \
	SD_BUS_PROPERTY("Value", "ay", rchr_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),              \
	SD_BUS_PROPERTY("Notifying", "b", rchr_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),           \
	SD_BUS_PROPERTY("Flags", "as", rchr_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),                     \
	SD_BUS_PROPERTY("MTU", "q", rchr_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),                 \
	SD_BUS_PROPERTY("Handle", "q", rchr_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),                     \
	SD_BUS_METHOD("ReadValue", "a{sv}", "ay", m_rread, SD_BUS_VTABLE_UNPRIVILEGED),                 \
	SD_BUS_METHOD("WriteValue", "aya{sv}", "", m_rwrite, SD_BUS_VTABLE_UNPRIVILEGED),               \
	SD_BUS_METHOD("StartNotify", "", "", m_rstart_notify, SD_BUS_VTABLE_UNPRIVILEGED),              \
	SD_BUS_METHOD("StopNotify", "", "", m_rstop_notify, SD_BUS_VTABLE_UNPRIVILEGED)

static const sd_bus_vtable rchr_vtable[] = {
	SD_BUS_VTABLE_START(0),
	RCHR_COMMON,
	SD_BUS_VTABLE_END
};

static const sd_bus_vtable rchr_notify_vtable[] = {
	SD_BUS_VTABLE_START(0),
	RCHR_COMMON,
	SD_BUS_PROPERTY("NotifyAcquired", "b", rchr_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_METHOD("AcquireNotify", "a{sv}", "hq", m_racquire_notify, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END
};

static void gatt_mirror_export(struct fake *f)
{
	int i;
	uint16_t handle = 1;

	for (i = 0; i < f->n_services; i++) {
		struct app_service *s = &f->services[i];
		int k;

		s->handle = handle++;
		free(s->rpath);
		if (asprintf(&s->rpath, "%s/service%04x", f->remote.path, s->handle) < 0)
			abort();
		sd_bus_add_object_vtable(f->bus, &s->rslot, s->rpath, IFACE_SERVICE,
					 rservice_vtable, s);
		sd_bus_emit_interfaces_added(f->bus, s->rpath, IFACE_SERVICE, NULL);
		for (k = 0; k < f->n_chrs; k++) {
			struct app_chr *c = &f->chrs[k];

			if (c->service_index != i)
				continue;
			c->handle = handle;
			handle += (uint16_t)(c->notify || c->indicate ? 3 : 2);
			free(c->rpath);
			if (asprintf(&c->rpath, "%s/char%04x", s->rpath, c->handle) < 0)
				abort();
			sd_bus_add_object_vtable(f->bus, &c->rslot, c->rpath, IFACE_CHR,
						 c->notify ? rchr_notify_vtable : rchr_vtable, c);
			sd_bus_emit_interfaces_added(f->bus, c->rpath, IFACE_CHR, NULL);
		}
	}
}

static void client_fd_close(struct app_chr *c)
{
	if (c->client_fd >= 0) {
		close(c->client_fd);
		c->client_fd = -1;
	}
}

static void gatt_mirror_unexport(struct fake *f)
{
	int i;

	for (i = 0; i < f->n_chrs; i++) {
		struct app_chr *c = &f->chrs[i];

		client_fd_close(c);
		c->client_notifying = false;
		if (c->rslot) {
			sd_bus_emit_interfaces_removed(f->bus, c->rpath, IFACE_CHR, NULL);
			c->rslot = sd_bus_slot_unref(c->rslot);
		}
	}
	for (i = 0; i < f->n_services; i++) {
		struct app_service *s = &f->services[i];

		if (s->rslot) {
			sd_bus_emit_interfaces_removed(f->bus, s->rpath, IFACE_SERVICE, NULL);
			s->rslot = sd_bus_slot_unref(s->rslot);
		}
	}
}

/* ---- the application side: subscriptions and notifications ---------------- */

static void append_options(sd_bus_message *m, struct fake *f, uint16_t offset, const char *type)
{
	sd_bus_message_open_container(m, 'a', "{sv}");
	sd_bus_message_append(m, "{sv}", "device", "o", f->peer.path);
	sd_bus_message_append(m, "{sv}", "link", "s", "LE");
	sd_bus_message_append(m, "{sv}", "mtu", "q", f->mtu);
	if (offset)
		sd_bus_message_append(m, "{sv}", "offset", "q", offset);
	if (type)
		sd_bus_message_append(m, "{sv}", "type", "s", type);
	sd_bus_message_close_container(m);
}

static void deliver(struct fake *f, struct app_chr *c, const uint8_t *v, size_t len)
{
	if (!f->connected || !c->ccc || !c->rslot)
		return;
	if (len > (size_t)f->mtu - 3)
		len = (size_t)f->mtu - 3; /* what bt_gatt_server does */
	if (c->client_fd >= 0) {
		if (send(c->client_fd, v, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			logf_("client notify socket: %s", strerror(errno));
	} else if (c->client_notifying) {
		memcpy(c->value, v, len);
		c->value_len = len;
		sd_bus_emit_properties_changed(f->bus, c->rpath, IFACE_CHR, "Value", NULL);
	} else {
		return;
	}
	c->delivered++;
	if (c->indicate && f->hold_confirms) {
		if (f->n_held < sizeof(f->held) / sizeof(f->held[0]))
			f->held[f->n_held++] = strdup(c->path);
	} else if (c->indicate) {
		f->confirms++;
		sd_bus_call_method_async(f->bus, NULL, f->app_owner, c->path, IFACE_CHR, "Confirm",
					 NULL, NULL, "");
	}
}

static int app_fd_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct app_chr *c = userdata;
	uint8_t buf[512];

	(void)s;
	if (revents & EPOLLIN) {
		ssize_t n;

		while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			deliver(c->f, c, buf, (size_t)n);
	}
	if (revents & (EPOLLHUP | EPOLLERR)) {
		c->fd_source = sd_event_source_disable_unref(c->fd_source);
		close(c->fd);
		c->fd = -1;
		c->ccc = false;
	}
	return 0;
}

static int app_acquire_reply(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct app_chr *c = userdata;
	int fd;
	uint16_t mtu;

	(void)error;
	if (sd_bus_message_is_method_error(m, NULL)) {
		logf_("app AcquireNotify failed: %s", sd_bus_message_get_error(m)->message);
		return 0;
	}
	if (sd_bus_message_read(m, "hq", &fd, &mtu) < 0 || !c->ccc)
		return 0;
	c->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	sd_event_add_io(c->f->ev, &c->fd_source, c->fd, EPOLLIN, app_fd_event, c);
	return 0;
}

static void app_subscribe(struct fake *f, struct app_chr *c)
{
	if (c->ccc || !f->app_owner)
		return;
	c->ccc = true;
	if (c->acquire) {
		sd_bus_message *m = NULL;

		f->app_acquire_notify++;
		if (sd_bus_message_new_method_call(f->bus, &m, f->app_owner, c->path, IFACE_CHR,
						   "AcquireNotify") >= 0) {
			append_options(m, f, 0, NULL);
			sd_bus_call_async(f->bus, NULL, m, app_acquire_reply, c, 0);
		}
		sd_bus_message_unref(m);
		return;
	}
	f->app_start_notify++;
	sd_bus_call_method_async(f->bus, NULL, f->app_owner, c->path, IFACE_CHR, "StartNotify",
				 NULL, NULL, "");
}

static void app_unsubscribe(struct fake *f, struct app_chr *c)
{
	if (!c->ccc)
		return;
	c->ccc = false;
	if (c->fd >= 0) {
		c->fd_source = sd_event_source_disable_unref(c->fd_source);
		close(c->fd);
		c->fd = -1;
	} else if (f->app_owner) {
		sd_bus_call_method_async(f->bus, NULL, f->app_owner, c->path, IFACE_CHR,
					 "StopNotify", NULL, NULL, "");
	}
}

static int on_app_properties(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;
	const char *path = sd_bus_message_get_path(m), *iface;
	int i;

	(void)error;
	for (i = 0; i < f->n_chrs; i++)
		if (strcmp(f->chrs[i].path, path) == 0)
			break;
	if (i == f->n_chrs || sd_bus_message_read(m, "s", &iface) < 0 || strcmp(iface, IFACE_CHR))
		return 0;
	if (sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
		return 0;
	while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
		const char *key;

		if (sd_bus_message_read(m, "s", &key) < 0)
			return 0;
		if (strcmp(key, "Value") == 0) {
			const void *v;
			size_t len;

			if (sd_bus_message_enter_container(m, 'v', "ay") < 0 ||
			    sd_bus_message_read_array(m, 'y', &v, &len) < 0)
				return 0;
			deliver(f, &f->chrs[i], v, len);
			return 0;
		}
		if (sd_bus_message_skip(m, "v") < 0 || sd_bus_message_exit_container(m) < 0)
			return 0;
	}
	return 0;
}

/* ---- link --------------------------------------------------------------------- */

/* Sends the held confirmations (send) or drops them (a link that went down
 * cancels unconfirmed indications without a confirmation). */
static void held_confirms_release(struct fake *f, bool send)
{
	unsigned i;

	for (i = 0; i < f->n_held; i++) {
		if (send && f->app_owner) {
			f->confirms++;
			sd_bus_call_method_async(f->bus, NULL, f->app_owner, f->held[i], IFACE_CHR,
						 "Confirm", NULL, NULL, "");
		}
		free(f->held[i]);
	}
	f->n_held = 0;
}

static void link_down(struct fake *f, const char *why)
{
	int i;

	if (!f->connected)
		return;
	held_confirms_release(f, false);
	logf_("link down (%s)", why);
	f->connected = false;
	f->link_timer = sd_event_source_disable_unref(f->link_timer);
	gatt_mirror_unexport(f);
	if (!f->bonded)
		for (i = 0; i < f->n_chrs; i++)
			app_unsubscribe(f, &f->chrs[i]);
	if (f->resolved) {
		f->resolved = false;
		device_changed(&f->remote, "ServicesResolved");
	}
	if (f->paired && !f->bonded) {
		/* Keys of an unbonded pairing die with the link. */
		f->paired = false;
		device_changed(&f->remote, "Paired");
		device_changed(&f->peer, "Paired");
	}
	device_changed(&f->remote, "Connected");
	device_changed(&f->peer, "Connected");
}

static int resolve_step(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct fake *f = userdata;

	(void)s, (void)usec;
	f->link_timer = sd_event_source_disable_unref(f->link_timer);
	if (!f->connected)
		return 0;
	if (!f->services[0].rslot && f->n_services) {
		gatt_mirror_export(f);
		if (f->resolved)
			return 0;
	}
	if (!f->resolved) {
		f->resolved = true;
		device_changed(&f->remote, "ServicesResolved");
		if (!f->services[0].rslot && f->n_services)
			sd_event_add_time_relative(f->ev, &f->link_timer, CLOCK_MONOTONIC, 500 * MS, 1000,
						   resolve_step, f);
	}
	return 0;
}

static void link_up(struct fake *f)
{
	struct adapter *ca = central_adapter(f);
	bool new_peer;

	if (f->connected)
		return;
	f->connected = true;
	new_peer = !f->peer.exported;
	if (new_peer) {
		f->peer.f = f;
		f->peer.a = &f->adapters[f->periph];
		f->peer.central_view = false;
		snprintf(f->peer.address, sizeof(f->peer.address), "%s", ca->address);
		snprintf(f->peer.name, sizeof(f->peer.name), "fake central");
		path_for(f->peer.path, sizeof(f->peer.path), f->peer.a, f->peer.address);
		device_export(&f->peer);
	} else {
		device_changed(&f->peer, "Connected");
	}
	/* BlueZ 5.66 skips it when the ATT link came up before the mgmt
	 * event ("Device ... is already connected"), seen in the QEMU rig. */
	if (!f->quiet_connected)
		device_changed(&f->remote, "Connected");
	logf_("link up (mtu %u)", f->mtu);
	if (f->resolved_early) {
		f->resolved = true;
		device_changed(&f->remote, "ServicesResolved");
		sd_event_add_time_relative(f->ev, &f->link_timer, CLOCK_MONOTONIC, 500 * MS, 1000,
					   resolve_step, f);
	} else {
		sd_event_add_time_relative(f->ev, &f->link_timer, CLOCK_MONOTONIC, 20 * MS, 1000,
					   resolve_step, f);
	}
}

static int connect_done(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct fake *f = userdata;
	sd_bus_message *m = f->pending_connect;

	(void)s, (void)usec;
	f->pending_connect = NULL;
	f->connecting = false;
	if (!m)
		return 0;
	if (f->connect_failures) {
		f->connect_failures--;
		reply_error(m, f->connect_error, f->connect_message);
	} else if (!f->adv_owner || !f->app_owner) {
		reply_error(m, "org.bluez.Error.Failed", "le-connection-abort-by-local");
	} else {
		/* bluetoothd sends property changes from an idle callback:
		 * the Connect reply overtakes Connected=true. */
		sd_bus_reply_method_return(m, "");
		link_up(f);
	}
	sd_bus_message_unref(m);
	return 0;
}

static int m_connect(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct device *d = userdata;
	struct fake *f = d->f;
	uint64_t delay;

	(void)error;
	if (!d->central_view)
		return reply_error(m, "org.bluez.Error.NotSupported", "Not Supported");
	f->connect_calls++;
	if (f->connected)
		return sd_bus_reply_method_return(m, "");
	if (f->connecting)
		return reply_error(m, "org.bluez.Error.InProgress", "In Progress");
	f->connecting = true;
	f->pending_connect = sd_bus_message_ref(m);
	delay = f->connect_failures ? 100 * MS
		: (!f->adv_owner || !f->app_owner) ? 1000 * MS
		: f->connect_delay_ms * MS;
	sd_event_add_time_relative(f->ev, NULL, CLOCK_MONOTONIC, delay, 1000, connect_done, f);
	return 1;
}

static int m_disconnect(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct device *d = userdata;

	(void)error;
	d->f->disconnect_calls++;
	if (!d->f->connected)
		return reply_error(m, "org.bluez.Error.NotConnected", "Not Connected");
	sd_bus_reply_method_return(m, "");
	link_down(d->f, "Disconnect()");
	return 1;
}

/* ---- pairing --------------------------------------------------------------------- */

static void pair_finish(struct fake *f, const char *err, const char *msg)
{
	sd_bus_message *m = f->pending_pair;

	f->pending_pair = NULL;
	if (!m)
		return;
	if (err) {
		logf_("pairing failed: %s", err);
		reply_error(m, err, msg);
	} else {
		f->paired = true;
		f->bonded = f->bondable;
		sd_bus_reply_method_return(m, ""); /* before the signals, as bluetoothd */
		device_changed(&f->remote, "Paired");
		device_changed(&f->remote, "Bonded");
		device_changed(&f->peer, "Paired");
		device_changed(&f->peer, "Bonded");
		logf_("paired (%s)", f->bonded ? "bonded" : "not bonded");
	}
	sd_bus_message_unref(m);
}

static void pair_outcome(struct fake *f)
{
	if (!strcmp(f->pair_mode, "auth-failed"))
		pair_finish(f, "org.bluez.Error.AuthenticationFailed", "Authentication Failed");
	else if (!strcmp(f->pair_mode, "rejected"))
		pair_finish(f, "org.bluez.Error.AuthenticationRejected", "Authentication Rejected");
	else if (!strcmp(f->pair_mode, "timeout"))
		pair_finish(f, "org.bluez.Error.AuthenticationTimeout", "Authentication Timeout");
	else
		pair_finish(f, NULL, NULL);
}

static int responder_reply(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;

	(void)error;
	if (sd_bus_message_is_method_error(m, NULL)) {
		pair_finish(f, "org.bluez.Error.AuthenticationFailed", "Authentication Failed");
		return 0;
	}
	pair_outcome(f);
	return 0;
}

static void pair_responder(struct fake *f)
{
	struct agent *a = f->default_agent >= 0 ? &f->agents[f->default_agent] : NULL;

	if (!a) {
		/* Real bluetoothd times out after ~20 s without an agent. */
		pair_finish(f, "org.bluez.Error.AuthenticationFailed",
			    "Authentication Failed (no default agent on the responder)");
		return;
	}
	f->responder_agent_called = true;
	strlist_add(&f->agent_calls, "responder:RequestAuthorization");
	sd_bus_call_method_async(f->bus, NULL, a->owner, a->path, IFACE_AGENT,
				 "RequestAuthorization", responder_reply, f, "o", f->peer.path);
}

static int initiator_reply(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;

	(void)error;
	if (sd_bus_message_is_method_error(m, NULL)) {
		const sd_bus_error *e = sd_bus_message_get_error(m);

		pair_finish(f, sd_bus_error_has_name(e, "org.bluez.Error.Canceled")
				       ? "org.bluez.Error.AuthenticationCanceled"
				       : "org.bluez.Error.AuthenticationRejected",
			    "Authentication Rejected");
		return 0;
	}
	if (!strcmp(f->pair_method, "passkey")) {
		uint32_t key = 0;

		if (sd_bus_message_read(m, "u", &key) < 0 || key != PASSKEY) {
			pair_finish(f, "org.bluez.Error.AuthenticationFailed", "Authentication Failed");
			return 0;
		}
	}
	pair_responder(f);
	return 0;
}

static void pair_start(struct fake *f)
{
	struct agent *a = agent_of(f, sd_bus_message_get_sender(f->pending_pair));
	const char *cap;

	if (!a && f->default_agent >= 0)
		a = &f->agents[f->default_agent];
	if (!a) {
		pair_finish(f, "org.bluez.Error.AuthenticationFailed",
			    "Authentication Failed (no agent)");
		return;
	}
	snprintf(f->pair_agent, sizeof(f->pair_agent), "%s", a->path);
	cap = a->capability;
	if (!strcmp(f->pair_method, "confirm") &&
	    (!strcmp(cap, "DisplayYesNo") || !strcmp(cap, "KeyboardDisplay"))) {
		strlist_add(&f->agent_calls, "initiator:RequestConfirmation");
		sd_bus_call_method_async(f->bus, NULL, a->owner, a->path, IFACE_AGENT,
					 "RequestConfirmation", initiator_reply, f, "ou",
					 f->remote.path, PASSKEY);
		return;
	}
	if (!strcmp(f->pair_method, "passkey") &&
	    (!strcmp(cap, "KeyboardOnly") || !strcmp(cap, "KeyboardDisplay"))) {
		strlist_add(&f->agent_calls, "initiator:RequestPasskey");
		sd_bus_call_method_async(f->bus, NULL, a->owner, a->path, IFACE_AGENT,
					 "RequestPasskey", initiator_reply, f, "o", f->remote.path);
		return;
	}
	pair_responder(f);
}

static int pair_connected(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct fake *f = userdata;

	(void)s, (void)usec;
	if (!f->pending_pair)
		return 0;
	if (!f->adv_owner || !f->app_owner) {
		pair_finish(f, "org.bluez.Error.ConnectionAttemptFailed", "Page Timeout");
		return 0;
	}
	link_up(f);
	pair_start(f);
	return 0;
}

static int m_pair(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct device *d = userdata;
	struct fake *f = d->f;

	(void)error;
	if (!d->central_view)
		return reply_error(m, "org.bluez.Error.NotSupported", "Not Supported");
	f->pair_calls++;
	if (f->paired)
		return reply_error(m, "org.bluez.Error.AlreadyExists", "Already Exists");
	if (f->pending_pair || !strcmp(f->pair_mode, "in-progress"))
		return reply_error(m, "org.bluez.Error.InProgress", "In Progress");
	f->pending_pair = sd_bus_message_ref(m);
	sd_event_add_time_relative(f->ev, NULL, CLOCK_MONOTONIC, f->connected ? 0 : 30 * MS, 1000,
				   pair_connected, f);
	return 1;
}

static int m_cancel_pairing(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct device *d = userdata;

	(void)error;
	if (!d->f->pending_pair)
		return reply_error(m, "org.bluez.Error.DoesNotExist", "Does Not Exist");
	pair_finish(d->f, "org.bluez.Error.AuthenticationCanceled", "Authentication Canceled");
	return sd_bus_reply_method_return(m, "");
}

/* ---- remote characteristic methods -------------------------------------------- */

struct forward {
	sd_bus_message *call;
	struct app_chr *c;
};

static int delayed_write_reply(sd_event_source *s, uint64_t usec, void *userdata)
{
	sd_bus_message *call = userdata;

	(void)s, (void)usec;
	sd_bus_reply_method_return(call, "");
	sd_bus_message_unref(call);
	return 0;
}

static int forward_reply(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct forward *fw = userdata;

	(void)error;
	if (sd_bus_message_is_method_error(m, NULL)) {
		const sd_bus_error *e = sd_bus_message_get_error(m);

		reply_error(fw->call, e->name, e->message ? e->message : "");
	} else if (!strcmp(sd_bus_message_get_member(fw->call), "ReadValue")) {
		const void *v;
		size_t len = 0;
		sd_bus_message *reply = NULL;

		if (sd_bus_message_read_array(m, 'y', &v, &len) < 0) {
			reply_error(fw->call, "org.bluez.Error.Failed", "bad reply");
		} else {
			if (len > sizeof(fw->c->value))
				len = sizeof(fw->c->value);
			memcpy(fw->c->value, v, len);
			fw->c->value_len = len;
			sd_bus_message_new_method_return(fw->call, &reply);
			sd_bus_message_append_array(reply, 'y', v, len);
			sd_bus_send(NULL, reply, NULL);
			sd_bus_message_unref(reply);
		}
	} else if (fw->c->f->write_reply_delay_ms) {
		/* With EATT the write response and the indication travel on
		 * different bearers: the response can overtake the answer. */
		sd_event_add_time_relative(fw->c->f->ev, NULL, CLOCK_MONOTONIC,
					   fw->c->f->write_reply_delay_ms * MS, 1000,
					   delayed_write_reply, sd_bus_message_ref(fw->call));
	} else {
		sd_bus_reply_method_return(fw->call, "");
	}
	sd_bus_message_unref(fw->call);
	free(fw);
	return 0;
}

static bool link_usable(struct app_chr *c, sd_bus_message *m)
{
	if (!c->f->connected || !c->rslot) {
		reply_error(m, "org.bluez.Error.Failed", "Not connected");
		return false;
	}
	return true;
}

static int forward(struct app_chr *c, sd_bus_message *call, const char *member,
		   const void *data, size_t len, uint16_t offset)
{
	struct fake *f = c->f;
	sd_bus_message *m = NULL;
	struct forward *fw;
	int r;

	r = sd_bus_message_new_method_call(f->bus, &m, f->app_owner, c->path, IFACE_CHR, member);
	if (r < 0)
		return r;
	if (data)
		sd_bus_message_append_array(m, 'y', data, len);
	append_options(m, f, offset, data ? "request" : NULL);
	fw = calloc(1, sizeof(*fw));
	fw->call = sd_bus_message_ref(call);
	fw->c = c;
	r = sd_bus_call_async(f->bus, NULL, m, forward_reply, fw, 0);
	sd_bus_message_unref(m);
	return r < 0 ? r : 1;
}

static int read_offset(sd_bus_message *m, uint16_t *offset)
{
	*offset = 0;
	if (sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
		return -EINVAL;
	while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
		const char *key;

		if (sd_bus_message_read(m, "s", &key) < 0)
			return -EINVAL;
		if (!strcmp(key, "offset")) {
			if (sd_bus_message_read(m, "v", "q", offset) < 0)
				return -EINVAL;
		} else if (sd_bus_message_skip(m, "v") < 0) {
			return -EINVAL;
		}
		sd_bus_message_exit_container(m);
	}
	return 0;
}

static int m_rread(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct app_chr *c = userdata;
	uint16_t offset;

	(void)error;
	if (!link_usable(c, m))
		return 1;
	if (!c->read)
		return reply_error(m, "org.bluez.Error.NotPermitted", "Read not permitted");
	if (c->enc_read && !c->f->paired)
		return reply_error(m, "org.bluez.Error.NotPermitted",
				   "Insufficient encryption (not paired)");
	read_offset(m, &offset);
	return forward(c, m, "ReadValue", NULL, 0, offset);
}

static int m_rwrite(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct app_chr *c = userdata;
	const void *v;
	size_t len;

	(void)error;
	if (!link_usable(c, m))
		return 1;
	if (!c->write)
		return reply_error(m, "org.bluez.Error.NotPermitted", "Write not permitted");
	if (c->enc_write && !c->f->paired)
		return reply_error(m, "org.bluez.Error.NotPermitted",
				   "Insufficient encryption (not paired)");
	if (sd_bus_message_read_array(m, 'y', &v, &len) < 0)
		return reply_error(m, "org.bluez.Error.InvalidArguments", "Invalid arguments");
	if (len > (size_t)c->f->mtu - 3)
		return reply_error(m, "org.bluez.Error.InvalidValueLength", "Invalid Length");
	return forward(c, m, "WriteValue", len ? v : "", len, 0);
}

static int m_rstart_notify(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct app_chr *c = userdata;

	(void)error;
	if (!link_usable(c, m))
		return 1;
	if (!c->notify && !c->indicate)
		return reply_error(m, "org.bluez.Error.NotSupported", "Notify not supported");
	if (c->enc_notify && !c->f->paired)
		return reply_error(m, "org.bluez.Error.NotPermitted",
				   "Insufficient encryption (not paired)");
	if (c->client_fd >= 0)
		return reply_error(m, "org.bluez.Error.NotPermitted", "Notify acquired");
	c->f->client_start_notify++;
	if (!c->client_notifying) {
		c->client_notifying = true;
		sd_bus_emit_properties_changed(c->f->bus, c->rpath, IFACE_CHR, "Notifying", NULL);
	}
	app_subscribe(c->f, c);
	return sd_bus_reply_method_return(m, "");
}

static int m_rstop_notify(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct app_chr *c = userdata;

	(void)error;
	if (!c->client_notifying)
		return reply_error(m, "org.bluez.Error.Failed", "No notify session started");
	c->client_notifying = false;
	sd_bus_emit_properties_changed(c->f->bus, c->rpath, IFACE_CHR, "Notifying", NULL);
	app_unsubscribe(c->f, c);
	return sd_bus_reply_method_return(m, "");
}

static int m_racquire_notify(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct app_chr *c = userdata;
	int sv[2], r;

	(void)error;
	if (!link_usable(c, m))
		return 1;
	if (c->client_fd >= 0 || c->client_notifying)
		return reply_error(m, "org.bluez.Error.NotPermitted", "Notify already started");
	if (c->enc_notify && !c->f->paired)
		return reply_error(m, "org.bluez.Error.NotPermitted",
				   "Insufficient encryption (not paired)");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return reply_error(m, "org.bluez.Error.Failed", strerror(errno));
	c->client_fd = sv[0];
	c->f->client_acquires++;
	r = sd_bus_reply_method_return(m, "hq", sv[1], c->f->mtu);
	close(sv[1]);
	sd_bus_emit_properties_changed(c->f->bus, c->rpath, IFACE_CHR, "NotifyAcquired",
				       "Notifying", NULL);
	app_subscribe(c->f, c);
	return r;
}

/* ---- application registration ---------------------------------------------------- */

static const char *const known_flags[] = {
	"broadcast", "read", "write-without-response", "write", "notify", "indicate",
	"authenticated-signed-writes", "extended-properties", "reliable-write",
	"writable-auxiliaries", "encrypt-read", "encrypt-write", "encrypt-notify",
	"encrypt-indicate", "encrypt-authenticated-read", "encrypt-authenticated-write",
	"encrypt-authenticated-notify", "encrypt-authenticated-indicate", "secure-read",
	"secure-write", "secure-notify", "secure-indicate", "authorize", NULL
};

static bool flag_known(const char *flag)
{
	const char *const *k;

	for (k = known_flags; *k; k++)
		if (!strcmp(*k, flag))
			return true;
	return false;
}

static void app_clear(struct fake *f)
{
	int i;

	if (f->n_held) {
		logf_("application gone with %u indication(s) unconfirmed", f->n_held);
		f->gone_unconfirmed = true;
	}
	link_down(f, "application gone");
	for (i = 0; i < f->n_chrs; i++) {
		struct app_chr *c = &f->chrs[i];

		c->fd_source = sd_event_source_disable_unref(c->fd_source);
		if (c->fd >= 0)
			close(c->fd);
		free(c->path);
		free(c->uuid);
		free(c->service);
		free(c->rpath);
		strlist_clear(&c->flags);
	}
	for (i = 0; i < f->n_services; i++) {
		free(f->services[i].path);
		free(f->services[i].uuid);
		free(f->services[i].rpath);
	}
	memset(f->chrs, 0, sizeof(f->chrs));
	memset(f->services, 0, sizeof(f->services));
	f->n_chrs = f->n_services = 0;
	f->app_match = sd_bus_slot_unref(f->app_match);
	free(f->app_owner);
	free(f->app_path);
	f->app_owner = f->app_path = NULL;
}

static int parse_chr(struct app_chr *c, sd_bus_message *m)
{
	if (sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
		return -EINVAL;
	while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
		const char *key, *s;

		if (sd_bus_message_read(m, "s", &key) < 0)
			return -EINVAL;
		if (!strcmp(key, "UUID")) {
			if (sd_bus_message_read(m, "v", "s", &s) < 0)
				return -EINVAL;
			c->uuid = strdup(s);
		} else if (!strcmp(key, "Service")) {
			if (sd_bus_message_read(m, "v", "o", &s) < 0)
				return -EINVAL;
			c->service = strdup(s);
		} else if (!strcmp(key, "Flags")) {
			if (sd_bus_message_enter_container(m, 'v', "as") < 0 ||
			    sd_bus_message_enter_container(m, 'a', "s") < 0)
				return -EINVAL;
			while (sd_bus_message_read(m, "s", &s) > 0)
				strlist_add(&c->flags, s);
			sd_bus_message_exit_container(m);
			sd_bus_message_exit_container(m);
		} else if (!strcmp(key, "NotifyAcquired")) {
			c->acquire = true;
			sd_bus_message_skip(m, "v");
		} else if (sd_bus_message_skip(m, "v") < 0) {
			return -EINVAL;
		}
		sd_bus_message_exit_container(m);
	}
	return sd_bus_message_exit_container(m);
}

static int cmp_chr(const void *a, const void *b)
{
	return strcmp(((const struct app_chr *)a)->path, ((const struct app_chr *)b)->path);
}

static int cmp_service(const void *a, const void *b)
{
	return strcmp(((const struct app_service *)a)->path,
		      ((const struct app_service *)b)->path);
}

/* Returns NULL or the reason the application is refused. */
static const char *app_parse(struct fake *f, sd_bus_message *m)
{
	int i, k;

	if (sd_bus_message_enter_container(m, 'a', "{oa{sa{sv}}}") < 0)
		return "bad GetManagedObjects reply";
	while (sd_bus_message_enter_container(m, 'e', "oa{sa{sv}}") > 0) {
		const char *path, *iface;

		sd_bus_message_read(m, "o", &path);
		sd_bus_message_enter_container(m, 'a', "{sa{sv}}");
		while (sd_bus_message_enter_container(m, 'e', "sa{sv}") > 0) {
			sd_bus_message_read(m, "s", &iface);
			if (!strcmp(iface, IFACE_SERVICE) && f->n_services < MAX_SERVICES) {
				struct app_service *s = &f->services[f->n_services++];

				s->f = f;
				s->path = strdup(path);
				sd_bus_message_enter_container(m, 'a', "{sv}");
				while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
					const char *key, *u;

					sd_bus_message_read(m, "s", &key);
					if (!strcmp(key, "UUID") &&
					    sd_bus_message_read(m, "v", "s", &u) >= 0)
						s->uuid = strdup(u);
					else
						sd_bus_message_skip(m, "v");
					sd_bus_message_exit_container(m);
				}
				sd_bus_message_exit_container(m);
			} else if (!strcmp(iface, IFACE_CHR) && f->n_chrs < MAX_CHRS) {
				struct app_chr *c = &f->chrs[f->n_chrs++];

				c->f = f;
				c->fd = -1;
				c->client_fd = -1;
				c->path = strdup(path);
				if (parse_chr(c, m) < 0)
					return "bad characteristic properties";
			} else {
				sd_bus_message_skip(m, "a{sv}");
			}
			sd_bus_message_exit_container(m);
		}
		sd_bus_message_exit_container(m);
		sd_bus_message_exit_container(m);
	}
	if (!f->n_services)
		return "no GattService1 objects under the application";
	qsort(f->services, (size_t)f->n_services, sizeof(f->services[0]), cmp_service);
	qsort(f->chrs, (size_t)f->n_chrs, sizeof(f->chrs[0]), cmp_chr);
	for (i = 0; i < f->n_services; i++)
		if (!f->services[i].uuid)
			return "service without UUID";
	for (k = 0; k < f->n_chrs; k++) {
		struct app_chr *c = &f->chrs[k];
		unsigned j;

		if (!c->uuid || !c->service)
			return "characteristic without UUID or Service";
		c->service_index = -1;
		for (i = 0; i < f->n_services; i++)
			if (!strcmp(f->services[i].path, c->service))
				c->service_index = i;
		if (c->service_index < 0)
			return "characteristic of an unknown service";
		for (j = 0; j < c->flags.n; j++) {
			const char *fl = c->flags.v[j];

			if (!flag_known(fl))
				return "unknown characteristic flag";
			if (strstr(fl, "read"))
				c->read = true;
			if (!strcmp(fl, "write") || strstr(fl, "-write"))
				c->write = true;
			if (strstr(fl, "notify"))
				c->notify = true;
			if (strstr(fl, "indicate"))
				c->indicate = true;
			if (strstr(fl, "encrypt") || strstr(fl, "secure")) {
				if (strstr(fl, "read"))
					c->enc_read = true;
				if (strstr(fl, "write"))
					c->enc_write = true;
				if (strstr(fl, "notify") || strstr(fl, "indicate"))
					c->enc_notify = true;
			}
		}
		if (c->acquire && !c->notify)
			return "NotifyAcquired without notify";
	}
	return NULL;
}

static int app_objects_reply(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;
	sd_bus_message *call = f->pending_register;
	const char *why;
	char match[512];

	(void)error;
	f->pending_register = NULL;
	if (sd_bus_message_is_method_error(m, NULL)) {
		reply_error(call, "org.bluez.Error.Failed", "Failed to read the application");
		app_clear(f);
		goto out;
	}
	why = app_parse(f, m);
	if (why) {
		logf_("application refused: %s", why);
		reply_error(call, "org.bluez.Error.InvalidArguments", why);
		app_clear(f);
		goto out;
	}
	snprintf(match, sizeof(match),
		 "type='signal',sender='%s',interface='org.freedesktop.DBus.Properties',"
		 "member='PropertiesChanged',path_namespace='%s'", f->app_owner, f->app_path);
	sd_bus_add_match(f->bus, &f->app_match, match, on_app_properties, f);
	logf_("application %s%s: %d services, %d characteristics", f->app_owner, f->app_path,
	      f->n_services, f->n_chrs);
	sd_bus_reply_method_return(call, "");
out:
	sd_bus_message_unref(call);
	return 0;
}

static int m_register_application(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct adapter *a = userdata;
	struct fake *f = a->f;
	const char *path;

	(void)error;
	if (sd_bus_message_read(m, "o", &path) < 0)
		return reply_error(m, "org.bluez.Error.InvalidArguments", "Invalid arguments");
	if (f->app_owner)
		return reply_error(m, "org.bluez.Error.AlreadyExists", "Already Exists");
	f->periph = a->index;
	f->app_owner = strdup(sd_bus_message_get_sender(m));
	f->app_path = strdup(path);
	f->pending_register = sd_bus_message_ref(m);
	return sd_bus_call_method_async(f->bus, NULL, f->app_owner, path,
					"org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
					app_objects_reply, f, "") < 0 ? -EIO : 1;
}

static int m_unregister_application(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct adapter *a = userdata;
	struct fake *f = a->f;
	const char *path;

	(void)error;
	if (sd_bus_message_read(m, "o", &path) < 0 || !f->app_owner ||
	    strcmp(f->app_owner, sd_bus_message_get_sender(m)) || strcmp(f->app_path, path))
		return reply_error(m, "org.bluez.Error.DoesNotExist", "Does Not Exist");
	app_clear(f);
	return sd_bus_reply_method_return(m, "");
}

/* ---- advertisement ---------------------------------------------------------------- */

static void adv_clear(struct fake *f)
{
	free(f->adv_owner);
	free(f->adv_path);
	f->adv_owner = f->adv_path = NULL;
	strlist_clear(&f->adv_uuids);
	f->adv_name[0] = f->adv_type[0] = '\0';
	f->adv_discoverable = false;
	f->adv_size = 0;
}

static unsigned uuid_ad_size(const char *uuid)
{
	/* 16-bit form for Bluetooth base UUIDs, else 128-bit. */
	return strlen(uuid) == 36 && !strcasecmp(uuid + 8, "-0000-1000-8000-00805f9b34fb") &&
		       !strncmp(uuid, "0000", 4) ? 2u : 16u;
}

static int adv_props_reply(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;
	sd_bus_message *call = f->pending_adv;
	unsigned u16 = 0, u128 = 0, i;

	(void)error;
	f->pending_adv = NULL;
	if (sd_bus_message_is_method_error(m, NULL)) {
		reply_error(call, "org.bluez.Error.Failed", "Failed to read the advertisement");
		adv_clear(f);
		goto out;
	}
	sd_bus_message_enter_container(m, 'a', "{sv}");
	while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
		const char *key, *s;
		int b;

		sd_bus_message_read(m, "s", &key);
		if (!strcmp(key, "Type") && sd_bus_message_read(m, "v", "s", &s) >= 0) {
			snprintf(f->adv_type, sizeof(f->adv_type), "%s", s);
		} else if (!strcmp(key, "LocalName") && sd_bus_message_read(m, "v", "s", &s) >= 0) {
			snprintf(f->adv_name, sizeof(f->adv_name), "%s", s);
		} else if (!strcmp(key, "Discoverable") &&
			   sd_bus_message_read(m, "v", "b", &b) >= 0) {
			f->adv_discoverable = b;
		} else if (!strcmp(key, "ServiceUUIDs")) {
			sd_bus_message_enter_container(m, 'v', "as");
			sd_bus_message_enter_container(m, 'a', "s");
			while (sd_bus_message_read(m, "s", &s) > 0)
				strlist_add(&f->adv_uuids, s);
			sd_bus_message_exit_container(m);
			sd_bus_message_exit_container(m);
		} else {
			sd_bus_message_skip(m, "v");
		}
		sd_bus_message_exit_container(m);
	}
	if (strcmp(f->adv_type, "peripheral") && strcmp(f->adv_type, "broadcast")) {
		reply_error(call, "org.bluez.Error.InvalidArguments", "Invalid Type");
		adv_clear(f);
		goto out;
	}
	for (i = 0; i < f->adv_uuids.n; i++) {
		if (uuid_ad_size(f->adv_uuids.v[i]) == 2)
			u16++;
		else
			u128++;
	}
	f->adv_size = 3u + (u16 ? 2u + 2u * u16 : 0u) + (u128 ? 2u + 16u * u128 : 0u) +
		      (f->adv_name[0] ? 2u + (unsigned)strlen(f->adv_name) : 0u);
	if (f->adv_size > 31) {
		/* What a controller without extended advertising data says. */
		reply_error(call, "org.bluez.Error.InvalidLength", "Advertising data too long");
		adv_clear(f);
		goto out;
	}
	logf_("advertising \"%s\" (%u bytes)", f->adv_name, f->adv_size);
	sd_bus_reply_method_return(call, "");
out:
	sd_bus_message_unref(call);
	return 0;
}

static int m_register_adv(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct adapter *a = userdata;
	struct fake *f = a->f;
	const char *path;

	(void)error;
	if (sd_bus_message_read(m, "o", &path) < 0)
		return reply_error(m, "org.bluez.Error.InvalidArguments", "Invalid arguments");
	if (f->adv_owner)
		return reply_error(m, "org.bluez.Error.AlreadyExists", "Already Exists");
	f->periph = a->index;
	f->adv_owner = strdup(sd_bus_message_get_sender(m));
	f->adv_path = strdup(path);
	f->pending_adv = sd_bus_message_ref(m);
	return sd_bus_call_method_async(f->bus, NULL, f->adv_owner, path,
					"org.freedesktop.DBus.Properties", "GetAll",
					adv_props_reply, f, "s", IFACE_ADV) < 0 ? -EIO : 1;
}

static int m_unregister_adv(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct adapter *a = userdata;
	struct fake *f = a->f;
	const char *path;

	(void)error;
	if (sd_bus_message_read(m, "o", &path) < 0 || !f->adv_owner ||
	    strcmp(f->adv_owner, sd_bus_message_get_sender(m)) || strcmp(f->adv_path, path))
		return reply_error(m, "org.bluez.Error.DoesNotExist", "Does Not Exist");
	adv_clear(f);
	return sd_bus_reply_method_return(m, "");
}

/* ---- adapters and discovery -------------------------------------------------------- */

static bool scan_wanted(struct fake *f, struct adapter *a)
{
	unsigned i;

	if (!a->discovering || a->index == f->periph || !f->adv_owner || f->connected)
		return false;
	if (!a->filter_uuids.n)
		return true;
	for (i = 0; i < f->adv_uuids.n; i++)
		if (strlist_has_ci(&a->filter_uuids, f->adv_uuids.v[i]))
			return true;
	return false;
}

static void remote_init(struct fake *f, struct adapter *ca)
{
	struct device *d = &f->remote;
	unsigned i;

	d->f = f;
	d->a = ca;
	d->central_view = true;
	snprintf(d->address, sizeof(d->address), "%s", f->adapters[f->periph].address);
	path_for(d->path, sizeof(d->path), ca, d->address);
	snprintf(d->name, sizeof(d->name), "%s", f->adv_name[0] ? f->adv_name : "Roller");
	strlist_clear(&d->uuids);
	for (i = 0; i < f->adv_uuids.n; i++)
		strlist_add(&d->uuids, f->adv_uuids.v[i]);
}

static int scan_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct adapter *a = userdata;
	struct fake *f = a->f;
	static int16_t wobble;

	(void)usec;
	if (!a->discovering)
		return 0;
	if (!f->session_misses && scan_wanted(f, a)) {
		if (!f->remote.exported) {
			remote_init(f, a);
			f->remote.has_rssi = true;
			f->remote.rssi = -50;
			device_export(&f->remote);
		} else {
			device_set_rssi(&f->remote, (int16_t)(-50 - (wobble++ % 4)));
		}
	}
	sd_event_source_set_time_relative(s, 1000 * MS);
	sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

static int adapter_prop(sd_bus *bus, const char *path, const char *interface, const char *property,
			sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	struct adapter *a = userdata;

	(void)bus, (void)path, (void)interface, (void)error;
	if (!strcmp(property, "Address"))
		return sd_bus_message_append(reply, "s", a->address);
	if (!strcmp(property, "AddressType"))
		return sd_bus_message_append(reply, "s", "public");
	if (!strcmp(property, "Name") || !strcmp(property, "Alias"))
		return sd_bus_message_append(reply, "s", a->index ? "fake1" : "fake0");
	if (!strcmp(property, "Powered"))
		return sd_bus_message_append(reply, "b", a->powered);
	if (!strcmp(property, "Pairable"))
		return sd_bus_message_append(reply, "b", a->pairable);
	if (!strcmp(property, "Discoverable"))
		return sd_bus_message_append(reply, "b", false);
	if (!strcmp(property, "Discovering"))
		return sd_bus_message_append(reply, "b", a->discovering);
	if (!strcmp(property, "UUIDs"))
		return sd_bus_message_append(reply, "as", 0);
	if (!strcmp(property, "Class"))
		return sd_bus_message_append(reply, "u", 0u);
	if (!strcmp(property, "ActiveInstances"))
		return sd_bus_message_append(reply, "y", (uint8_t)(a->f->adv_owner && a->f->periph == a->index ? 1 : 0));
	if (!strcmp(property, "SupportedInstances"))
		return sd_bus_message_append(reply, "y", (uint8_t)4);
	if (!strcmp(property, "SupportedIncludes"))
		return sd_bus_message_append(reply, "as", 2, "local-name", "appearance");
	return -ENOENT;
}

static int adapter_set(sd_bus *bus, const char *path, const char *interface, const char *property,
		       sd_bus_message *value, void *userdata, sd_bus_error *error)
{
	struct adapter *a = userdata;
	int b;

	(void)bus, (void)path, (void)interface, (void)error;
	if (sd_bus_message_read(value, "b", &b) < 0)
		return -EINVAL;
	if (!strcmp(property, "Powered"))
		a->powered = b;
	else if (!strcmp(property, "Pairable"))
		a->pairable = b;
	return 0;
}

static int m_start_discovery(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct adapter *a = userdata;
	struct fake *f = a->f;

	(void)error;
	if (!a->powered)
		return reply_error(m, "org.bluez.Error.NotReady", "Resource Not Ready");
	if (a->discovering)
		return reply_error(m, "org.bluez.Error.InProgress", "Operation already in progress");
	f->discovery_starts++;
	f->session_misses = f->scan_miss > 0;
	if (f->scan_miss)
		f->scan_miss--;
	a->discovering = true;
	free(a->discovery_owner);
	a->discovery_owner = strdup(sd_bus_message_get_sender(m));
	sd_bus_emit_properties_changed(f->bus, a->path, IFACE_ADAPTER, "Discovering", NULL);
	a->scan_timer = sd_event_source_disable_unref(a->scan_timer);
	sd_event_add_time_relative(f->ev, &a->scan_timer, CLOCK_MONOTONIC, 100 * MS, 1000, scan_tick, a);
	return sd_bus_reply_method_return(m, "");
}

static void discovery_stop(struct adapter *a)
{
	a->discovering = false;
	free(a->discovery_owner);
	a->discovery_owner = NULL;
	a->scan_timer = sd_event_source_disable_unref(a->scan_timer);
	sd_bus_emit_properties_changed(a->f->bus, a->path, IFACE_ADAPTER, "Discovering", NULL);
	/* Devices not paired are forgotten soon after a scan; RSSI goes. */
}

static int m_stop_discovery(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct adapter *a = userdata;

	(void)error;
	if (!a->discovering || strcmp(a->discovery_owner, sd_bus_message_get_sender(m)))
		return reply_error(m, "org.bluez.Error.Failed", "No discovery started");
	a->f->discovery_stops++;
	discovery_stop(a);
	return sd_bus_reply_method_return(m, "");
}

static int m_set_filter(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct adapter *a = userdata;

	(void)error;
	a->f->filter_calls++;
	strlist_clear(&a->filter_uuids);
	a->filter_transport[0] = '\0';
	if (sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
		return reply_error(m, "org.bluez.Error.InvalidArguments", "Invalid arguments");
	while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
		const char *key, *s;

		sd_bus_message_read(m, "s", &key);
		if (!strcmp(key, "UUIDs")) {
			sd_bus_message_enter_container(m, 'v', "as");
			sd_bus_message_enter_container(m, 'a', "s");
			while (sd_bus_message_read(m, "s", &s) > 0)
				strlist_add(&a->filter_uuids, s);
			sd_bus_message_exit_container(m);
			sd_bus_message_exit_container(m);
		} else if (!strcmp(key, "Transport") && sd_bus_message_read(m, "v", "s", &s) >= 0) {
			snprintf(a->filter_transport, sizeof(a->filter_transport), "%s", s);
		} else {
			sd_bus_message_skip(m, "v");
		}
		sd_bus_message_exit_container(m);
	}
	return sd_bus_reply_method_return(m, "");
}

static void remote_forget(struct fake *f)
{
	link_down(f, "device removed");
	device_unexport(&f->remote);
	f->remote.has_rssi = false;
}

static int m_remove_device(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct adapter *a = userdata;
	struct fake *f = a->f;
	const char *path;

	(void)error;
	if (sd_bus_message_read(m, "o", &path) < 0 || !f->remote.exported ||
	    strcmp(path, f->remote.path))
		return reply_error(m, "org.bluez.Error.DoesNotExist", "Does Not Exist");
	f->remove_calls++;
	remote_forget(f);
	f->paired = f->bonded = f->trusted = false;
	return sd_bus_reply_method_return(m, "");
}

static const sd_bus_vtable adapter_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("StartDiscovery", "", "", m_start_discovery, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("StopDiscovery", "", "", m_stop_discovery, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("SetDiscoveryFilter", "a{sv}", "", m_set_filter, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("RemoveDevice", "o", "", m_remove_device, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_PROPERTY("Address", "s", adapter_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("AddressType", "s", adapter_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Name", "s", adapter_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Alias", "s", adapter_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_WRITABLE_PROPERTY("Powered", "b", adapter_prop, adapter_set, 0,
				 SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE | SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_WRITABLE_PROPERTY("Pairable", "b", adapter_prop, adapter_set, 0,
				 SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE | SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_PROPERTY("Discoverable", "b", adapter_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("Discovering", "b", adapter_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("UUIDs", "as", adapter_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Class", "u", adapter_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_VTABLE_END
};

static const sd_bus_vtable gatt_manager_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("RegisterApplication", "oa{sv}", "", m_register_application, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("UnregisterApplication", "o", "", m_unregister_application, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END
};

static const sd_bus_vtable adv_manager_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("RegisterAdvertisement", "oa{sv}", "", m_register_adv, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("UnregisterAdvertisement", "o", "", m_unregister_adv, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_PROPERTY("ActiveInstances", "y", adapter_prop, 0, 0),
	SD_BUS_PROPERTY("SupportedInstances", "y", adapter_prop, 0, 0),
	SD_BUS_PROPERTY("SupportedIncludes", "as", adapter_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_VTABLE_END
};

/* ---- test interface ----------------------------------------------------------------- */

static int m_set_scan_miss(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;

	(void)error;
	sd_bus_message_read(m, "u", &f->scan_miss);
	return sd_bus_reply_method_return(m, "");
}

static int m_set_connect_failures(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;
	const char *name, *msg;

	(void)error;
	if (sd_bus_message_read(m, "uss", &f->connect_failures, &name, &msg) < 0)
		return -EINVAL;
	snprintf(f->connect_error, sizeof(f->connect_error), "%s", name);
	snprintf(f->connect_message, sizeof(f->connect_message), "%s", msg);
	return sd_bus_reply_method_return(m, "");
}

static int m_set_string(sd_bus_message *m, char *dst, size_t cap)
{
	const char *s;

	if (sd_bus_message_read(m, "s", &s) < 0)
		return -EINVAL;
	snprintf(dst, cap, "%s", s);
	return sd_bus_reply_method_return(m, "");
}

static int m_set_pair_mode(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;

	(void)error;
	return m_set_string(m, f->pair_mode, sizeof(f->pair_mode));
}

static int m_set_pair_method(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;

	(void)error;
	return m_set_string(m, f->pair_method, sizeof(f->pair_method));
}

static int m_set_bondable(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;
	int b;

	(void)error;
	sd_bus_message_read(m, "b", &b);
	f->bondable = b;
	return sd_bus_reply_method_return(m, "");
}

static int m_hold_confirms(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;
	int b;

	(void)error;
	sd_bus_message_read(m, "b", &b);
	f->hold_confirms = b;
	if (!b)
		held_confirms_release(f, true);
	return sd_bus_reply_method_return(m, "");
}

static int m_set_mtu(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;

	(void)error;
	sd_bus_message_read(m, "q", &f->mtu);
	return sd_bus_reply_method_return(m, "");
}

static int m_set_resolved_early(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;
	int b;

	(void)error;
	sd_bus_message_read(m, "b", &b);
	f->resolved_early = b;
	return sd_bus_reply_method_return(m, "");
}

static int m_set_write_reply_delay(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;

	(void)error;
	sd_bus_message_read(m, "u", &f->write_reply_delay_ms);
	return sd_bus_reply_method_return(m, "");
}

static int m_set_quiet_connected(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;
	int b;

	(void)error;
	sd_bus_message_read(m, "b", &b);
	f->quiet_connected = b;
	return sd_bus_reply_method_return(m, "");
}

static int m_add_known_device(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;
	struct adapter *ca;
	int paired, bonded;

	(void)error;
	sd_bus_message_read(m, "bb", &paired, &bonded);
	if (f->periph < 0)
		return reply_error(m, "org.roller.Error", "no peripheral registered yet");
	ca = central_adapter(f);
	remote_init(f, ca);
	f->paired = paired;
	f->bonded = bonded;
	f->trusted = paired;
	device_export(&f->remote);
	return sd_bus_reply_method_return(m, "");
}

static int m_drop_link(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;
	int remove_device;

	(void)error;
	sd_bus_message_read(m, "b", &remove_device);
	link_down(f, "link loss");
	if (remove_device)
		remote_forget(f);
	return sd_bus_reply_method_return(m, "");
}

static void kv_u(sd_bus_message *r, const char *k, unsigned v)
{
	sd_bus_message_append(r, "{sv}", k, "u", v);
}

static void kv_b(sd_bus_message *r, const char *k, bool v)
{
	sd_bus_message_append(r, "{sv}", k, "b", (int)v);
}

static void kv_s(sd_bus_message *r, const char *k, const char *v)
{
	sd_bus_message_append(r, "{sv}", k, "s", v ? v : "");
}

static void kv_as(sd_bus_message *r, const char *k, char **v)
{
	sd_bus_message_open_container(r, 'e', "sv");
	sd_bus_message_append(r, "s", k);
	sd_bus_message_open_container(r, 'v', "as");
	sd_bus_message_append_strv(r, v);
	sd_bus_message_close_container(r);
	sd_bus_message_close_container(r);
}

static int m_get_state(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;
	sd_bus_message *r = NULL;
	char *chrs[MAX_CHRS + 1], *agents[MAX_AGENTS + 1];
	struct adapter *ca = central_adapter(f);
	uint64_t delivered = 0;
	int i, n = 0;

	(void)error;
	for (i = 0; i < f->n_chrs; i++) {
		struct app_chr *c = &f->chrs[i];
		char flags[256] = "";
		unsigned j;

		for (j = 0; j < c->flags.n; j++) {
			strcat(flags, j ? "," : "");
			strncat(flags, c->flags.v[j], sizeof(flags) - strlen(flags) - 2);
		}
		if (asprintf(&chrs[i], "%s %s%s", c->uuid, flags, c->acquire ? " acquire" : "") < 0)
			abort();
		delivered += c->delivered;
	}
	chrs[f->n_chrs] = NULL;
	for (i = 0; i < MAX_AGENTS; i++)
		if (f->agents[i].owner &&
		    asprintf(&agents[n++], "%s %s%s", f->agents[i].path, f->agents[i].capability,
			     f->default_agent == i ? " default" : "") < 0)
			abort();
	agents[n] = NULL;

	sd_bus_message_new_method_return(m, &r);
	sd_bus_message_open_container(r, 'a', "{sv}");
	kv_u(r, "discovery_starts", f->discovery_starts);
	kv_u(r, "discovery_stops", f->discovery_stops);
	kv_u(r, "filter_calls", f->filter_calls);
	kv_as(r, "filter_uuids", ca ? ca->filter_uuids.v : NULL);
	kv_s(r, "filter_transport", ca ? ca->filter_transport : "");
	kv_b(r, "discovering", ca && ca->discovering);
	kv_u(r, "connect_calls", f->connect_calls);
	kv_u(r, "disconnect_calls", f->disconnect_calls);
	kv_u(r, "pair_calls", f->pair_calls);
	kv_u(r, "remove_calls", f->remove_calls);
	kv_b(r, "app_registered", f->app_owner && !f->pending_register);
	kv_as(r, "app_chrs", chrs);
	kv_u(r, "app_services", (unsigned)f->n_services);
	kv_b(r, "adv_registered", f->adv_owner && !f->pending_adv);
	kv_s(r, "adv_name", f->adv_name);
	kv_s(r, "adv_type", f->adv_type);
	kv_as(r, "adv_uuids", f->adv_uuids.v);
	kv_b(r, "adv_discoverable", f->adv_discoverable);
	kv_u(r, "adv_size", f->adv_size);
	kv_as(r, "agents", agents);
	kv_s(r, "pair_agent", f->pair_agent);
	kv_b(r, "responder_agent_called", f->responder_agent_called);
	kv_as(r, "agent_calls", f->agent_calls.v);
	kv_b(r, "connected", f->connected);
	kv_b(r, "paired", f->paired);
	kv_b(r, "bonded", f->bonded);
	kv_b(r, "trusted", f->trusted);
	kv_b(r, "device_exported", f->remote.exported);
	kv_u(r, "delivered", (unsigned)delivered);
	kv_u(r, "confirms", f->confirms);
	kv_u(r, "held_confirms", f->n_held);
	kv_b(r, "gone_unconfirmed", f->gone_unconfirmed);
	kv_u(r, "app_start_notify", f->app_start_notify);
	kv_u(r, "client_acquires", f->client_acquires);
	kv_u(r, "client_start_notify", f->client_start_notify);
	kv_u(r, "app_acquire_notify", f->app_acquire_notify);
	kv_u(r, "mtu", f->mtu);
	kv_s(r, "remote_path", f->remote.path);
	kv_s(r, "remote_address", f->remote.address);
	sd_bus_message_close_container(r);
	sd_bus_send(NULL, r, NULL);
	sd_bus_message_unref(r);
	for (i = 0; i < f->n_chrs; i++)
		free(chrs[i]);
	for (i = 0; i < n; i++)
		free(agents[i]);
	return 1;
}

static const sd_bus_vtable fake_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("SetScanMiss", "u", "", m_set_scan_miss, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("SetConnectFailures", "uss", "", m_set_connect_failures, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("SetPairMode", "s", "", m_set_pair_mode, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("SetPairMethod", "s", "", m_set_pair_method, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("SetBondable", "b", "", m_set_bondable, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("SetMtu", "q", "", m_set_mtu, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("HoldConfirms", "b", "", m_hold_confirms, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("SetServicesResolvedEarly", "b", "", m_set_resolved_early, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("SetQuietConnected", "b", "", m_set_quiet_connected, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("SetWriteReplyDelay", "u", "", m_set_write_reply_delay, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("AddKnownDevice", "bb", "", m_add_known_device, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("DropLink", "b", "", m_drop_link, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("GetState", "", "a{sv}", m_get_state, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END
};

/* ---- clients leaving the bus ---------------------------------------------------------- */

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake *f = userdata;
	const char *name, *old, *new_owner;
	int i;

	(void)error;
	if (sd_bus_message_read(m, "sss", &name, &old, &new_owner) < 0 || name[0] != ':' ||
	    new_owner[0])
		return 0;
	for (i = 0; i < MAX_AGENTS; i++)
		if (f->agents[i].owner && !strcmp(f->agents[i].owner, name))
			agent_free(f, &f->agents[i]);
	if (f->app_owner && !strcmp(f->app_owner, name)) {
		logf_("application owner left the bus");
		app_clear(f);
	}
	if (f->adv_owner && !strcmp(f->adv_owner, name))
		adv_clear(f);
	for (i = 0; i < f->n_adapters; i++)
		if (f->adapters[i].discovery_owner && !strcmp(f->adapters[i].discovery_owner, name))
			discovery_stop(&f->adapters[i]);
	return 0;
}

/* --deny: every method call is refused, as by a D-Bus policy. */
static int deny_filter(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	(void)userdata, (void)error;
	if (sd_bus_message_get_type(m, &(uint8_t){ 0 }) >= 0 &&
	    sd_bus_message_is_method_call(m, NULL, NULL) &&
	    strcmp(sd_bus_message_get_interface(m) ?: "", "org.freedesktop.DBus.Peer")) {
		sd_bus_reply_method_errorf(m, SD_BUS_ERROR_ACCESS_DENIED,
					   "Rejected send message (fakebluez --deny)");
		return 1;
	}
	return 0;
}

static int log_filter(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	(void)userdata, (void)error;
	if (sd_bus_message_is_method_call(m, NULL, NULL) &&
	    strcmp(sd_bus_message_get_member(m), "GetState"))
		logf_("call %s.%s %s from %s", sd_bus_message_get_interface(m) ?: "",
		      sd_bus_message_get_member(m), sd_bus_message_get_path(m),
		      sd_bus_message_get_sender(m) ?: "");
	return 0;
}

static int on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	(void)s, (void)si, (void)userdata;
	sd_event_exit(fake.ev, 0);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "adapters", required_argument, NULL, 'a' },
		{ "deny", no_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "scan-miss", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct fake *f = &fake;
	sigset_t mask;
	int c, i, r;

	f->n_adapters = 2;
	while ((c = getopt_long(argc, argv, "a:dvs:", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			f->n_adapters = atoi(optarg);
			if (f->n_adapters < 0 || f->n_adapters > MAX_ADAPTERS)
				return 2;
			break;
		case 'd':
			f->deny = true;
			break;
		case 'v':
			verbose = 1;
			break;
		case 's':
			f->scan_miss = (unsigned)atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: fakebluez [--adapters 0..2] [--deny] [--scan-miss N] [--verbose]\n");
			return 2;
		}
	}
	f->periph = -1;
	f->default_agent = -1;
	f->mtu = 23;
	f->bondable = true;
	f->connect_delay_ms = 30;
	snprintf(f->pair_mode, sizeof(f->pair_mode), "ok");
	snprintf(f->pair_method, sizeof(f->pair_method), "justworks");

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if (sd_event_default(&f->ev) < 0)
		return 1;
	sd_event_add_signal(f->ev, NULL, SIGTERM, on_term, NULL);
	sd_event_add_signal(f->ev, NULL, SIGINT, on_term, NULL);
	r = sd_bus_open_system(&f->bus);
	if (r < 0) {
		fprintf(stderr, "fakebluez: system bus: %s\n", strerror(-r));
		return 1;
	}
	sd_bus_attach_event(f->bus, f->ev, 0);
	if (f->deny)
		sd_bus_add_filter(f->bus, NULL, deny_filter, f);
	if (verbose)
		sd_bus_add_filter(f->bus, NULL, log_filter, f);
	sd_bus_add_object_manager(f->bus, NULL, "/");
	sd_bus_add_object_vtable(f->bus, NULL, "/org/bluez", IFACE_AGENT_MANAGER,
				 agent_manager_vtable, f);
	for (i = 0; i < f->n_adapters; i++) {
		struct adapter *a = &f->adapters[i];

		a->f = f;
		a->index = i;
		a->powered = true;
		a->pairable = true;
		snprintf(a->path, sizeof(a->path), "/org/bluez/hci%d", i);
		snprintf(a->address, sizeof(a->address), "00:AA:01:0%u:00:%02X", (unsigned)i % 10u,
			 0x10u + (unsigned)i % 10u);
		sd_bus_add_object_vtable(f->bus, &a->slot, a->path, IFACE_ADAPTER, adapter_vtable, a);
		sd_bus_add_object_vtable(f->bus, NULL, a->path, IFACE_GATT_MANAGER,
					 gatt_manager_vtable, a);
		sd_bus_add_object_vtable(f->bus, NULL, a->path, IFACE_ADV_MANAGER,
					 adv_manager_vtable, a);
	}
	sd_bus_add_object_vtable(f->bus, NULL, FAKE_PATH, IFACE_FAKE, fake_vtable, f);
	sd_bus_match_signal(f->bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
			    "org.freedesktop.DBus", "NameOwnerChanged", on_name_owner_changed, f);
	r = sd_bus_request_name(f->bus, "org.bluez", 0);
	if (r < 0) {
		fprintf(stderr, "fakebluez: cannot own org.bluez: %s\n", strerror(-r));
		return 1;
	}
	r = sd_event_loop(f->ev);
	sd_bus_flush_close_unref(f->bus);
	sd_event_unref(f->ev);
	return r < 0 ? 1 : 0;
}
