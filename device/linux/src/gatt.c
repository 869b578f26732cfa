/*
 * The GATT application registered with GattManager1: the Roller service
 * (protocol/README.md), Device Information (0x180A) and Battery (0x180F).
 * bluetoothd adds Generic Attribute with Service Changed itself.
 *
 * Notifications and indications: bluetoothd turns a PropertiesChanged of a
 * characteristic's Value into a notification or indication to every
 * subscribed central, or reads them from the socket we hand out through
 * AcquireNotify (--notify-fd). It calls Confirm when a central confirmed an
 * indication; until then the link port answers -EAGAIN for that
 * characteristic, as port.h asks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "periph.h"

#define IFACE_SERVICE "org.bluez.GattService1"
#define IFACE_CHR "org.bluez.GattCharacteristic1"
#define IFACE_GATT_MANAGER "org.bluez.GattManager1"

/* An indication not confirmed by then is taken as lost; bluetoothd older
 * than 5.58 never calls Confirm. */
#define CONFIRM_TIMEOUT_US (2 * 1000000ull)
/* More queued outgoing D-Bus messages than this: -EAGAIN (back-pressure). */
#define MAX_QUEUED_WRITES 256u
#define RETRY_US 5000ull

#define UUID16(x) "0000" x "-0000-1000-8000-00805f9b34fb"

struct service_def {
	const char *path;
	const char *uuid;
};

static const struct service_def services[] = {
	{ PERIPH_APP_PATH "/service0", PROTO_UUID_SERVICE },
	{ PERIPH_APP_PATH "/service1", UUID16("180a") },
	{ PERIPH_APP_PATH "/service2", UUID16("180f") },
};

static const char *const flags_notify[] = { "notify", NULL };
static const char *const flags_indicate[] = { "indicate", NULL };
static const char *const flags_control[] = { "encrypt-write", "indicate", NULL };
static const char *const flags_log[] = { "encrypt-notify", NULL };
static const char *const flags_read[] = { "read", NULL };
static const char *const flags_read_notify[] = { "read", "notify", NULL };

static char firmware_revision[16];
static char serial_number[16];

/* ---- value helpers ------------------------------------------------------ */

struct read_options {
	uint16_t offset;
	uint16_t mtu;
	const char *device;
};

static int option_prop(sd_bus_message *m, const char *key, void *userdata)
{
	struct read_options *o = userdata;

	if (strcmp(key, "offset") == 0)
		return sd_bus_message_read(m, "v", "q", &o->offset);
	if (strcmp(key, "mtu") == 0)
		return sd_bus_message_read(m, "v", "q", &o->mtu);
	if (strcmp(key, "device") == 0)
		return sd_bus_message_read(m, "v", "o", &o->device);
	return sd_bus_message_skip(m, "v");
}

static int parse_options(sd_bus_message *m, struct read_options *o)
{
	memset(o, 0, sizeof(*o));
	return periph_read_dict(m, option_prop, o);
}

static struct periph_chr *chr_by_core_id(struct periph *p, enum core_char id)
{
	size_t i;

	for (i = 0; i < p->n_chrs; i++)
		if (p->chrs[i].kind == CHR_CORE && p->chrs[i].core_id == id)
			return &p->chrs[i];
	return NULL;
}

static bool chr_has_flag(const struct periph_chr *c, const char *flag)
{
	const char *const *f;

	for (f = c->flags; *f; f++)
		if (strcmp(*f, flag) == 0)
			return true;
	return false;
}

static int chr_current_value(struct periph_chr *c, uint8_t *out, size_t cap, size_t *len)
{
	struct periph *p = c->p;

	switch (c->kind) {
	case CHR_STATIC:
		*len = strlen(c->static_value);
		if (*len > cap)
			return -ENOBUFS;
		memcpy(out, c->static_value, *len);
		return 0;
	case CHR_BATTERY:
		out[0] = p->battery_percent;
		*len = 1;
		return 0;
	case CHR_CORE:
		if (c->core_id == CORE_CHAR_INFO)
			return core_read_info(&p->core, out, cap, len);
		return -EOPNOTSUPP;
	}
	return -EOPNOTSUPP;
}

/* ---- properties ------------------------------------------------------------ */

static int prop_service_uuid(sd_bus *bus, const char *path, const char *interface,
			     const char *property, sd_bus_message *reply, void *userdata,
			     sd_bus_error *error)
{
	const struct service_def *s = userdata;

	(void)bus, (void)path, (void)interface, (void)property, (void)error;
	return sd_bus_message_append(reply, "s", s->uuid);
}

static int prop_primary(sd_bus *bus, const char *path, const char *interface,
			const char *property, sd_bus_message *reply, void *userdata,
			sd_bus_error *error)
{
	(void)bus, (void)path, (void)interface, (void)property, (void)userdata, (void)error;
	return sd_bus_message_append(reply, "b", 1);
}

static int prop_chr(sd_bus *bus, const char *path, const char *interface,
		    const char *property, sd_bus_message *reply, void *userdata,
		    sd_bus_error *error)
{
	struct periph_chr *c = userdata;

	(void)bus, (void)path, (void)interface, (void)error;
	if (strcmp(property, "UUID") == 0)
		return sd_bus_message_append(reply, "s", c->uuid);
	if (strcmp(property, "Service") == 0)
		return sd_bus_message_append(reply, "o", c->service_path);
	if (strcmp(property, "Flags") == 0)
		return sd_bus_message_append_strv(reply, (char **)c->flags);
	if (strcmp(property, "Value") == 0)
		return sd_bus_message_append_array(reply, 'y', c->value, c->value_len);
	if (strcmp(property, "Notifying") == 0)
		return sd_bus_message_append(reply, "b", c->sessions > 0 || c->notify_fd >= 0);
	if (strcmp(property, "NotifyAcquired") == 0)
		return sd_bus_message_append(reply, "b", c->notify_fd >= 0);
	return -ENOENT;
}

/* ---- methods ------------------------------------------------------------------ */

bool periph_from_bluez(const struct periph *p, sd_bus_message *m, sd_bus_error *error)
{
	const char *sender = sd_bus_message_get_sender(m);

	if (sender && p->bluez_owner[0] && strcmp(sender, p->bluez_owner) == 0)
		return true;
	sd_bus_error_set(error, "org.bluez.Error.NotPermitted",
			 "Only bluetoothd may call the roller's GATT objects");
	return false;
}


static int reply_bytes(sd_bus_message *m, const uint8_t *buf, size_t len)
{
	sd_bus_message *reply = NULL;
	int r;

	r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sd_bus_message_append_array(reply, 'y', buf, len);
	if (r >= 0)
		r = sd_bus_send(NULL, reply, NULL);
	sd_bus_message_unref(reply);
	return r;
}

static int method_read(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct periph_chr *c = userdata;
	struct periph *p = c->p;
	struct read_options o;
	uint8_t buf[PROTO_FRAME_ABS_MAX];
	size_t len = 0;
	int r;

	if (!periph_from_bluez(p, m, error))
		return -EACCES;
	r = parse_options(m, &o);
	if (r < 0)
		return r;
	if (!chr_has_flag(c, "read") && !chr_has_flag(c, "encrypt-read"))
		return sd_bus_error_set(error, "org.bluez.Error.NotSupported", "Not readable");
	link_access(p, o.device, o.mtu, chr_has_flag(c, "encrypt-read"));
	r = chr_current_value(c, buf, sizeof(buf), &len);
	if (r < 0)
		return sd_bus_error_setf(error, "org.bluez.Error.Failed", "Read failed: %s",
					 strerror(-r));
	if (o.offset > len)
		return sd_bus_error_set(error, "org.bluez.Error.InvalidOffset", "Invalid offset");
	periph_log(p, 2, "read %s: %zu bytes (offset %u, mtu %u)", c->uuid, len, o.offset, o.mtu);
	return reply_bytes(m, buf + o.offset, len - o.offset);
}

static int method_write(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct periph_chr *c = userdata;
	struct periph *p = c->p;
	struct read_options o;
	const void *data = NULL;
	size_t len = 0;
	static const uint8_t empty[1];
	int r;

	if (!periph_from_bluez(p, m, error))
		return -EACCES;
	r = sd_bus_message_read_array(m, 'y', &data, &len);
	if (r < 0)
		return r;
	r = parse_options(m, &o);
	if (r < 0)
		return r;
	if (c->kind != CHR_CORE || c->core_id != CORE_CHAR_CONTROL)
		return sd_bus_error_set(error, "org.bluez.Error.NotSupported", "Not writable");
	if (o.offset)
		return sd_bus_error_set(error, "org.bluez.Error.InvalidOffset",
					"The control point takes whole requests");
	/* The characteristic is encrypt-write: bluetoothd only gets here on
	 * an encrypted link. */
	link_access(p, o.device, o.mtu, true);
	periph_log(p, 2, "control write: %zu bytes (mtu %u)", len, o.mtu);
	core_on_control_write(&p->core, len ? data : empty, len);
	periph_poll_soon(p);
	return sd_bus_reply_method_return(m, "");
}

static void chr_notifying_changed(struct periph_chr *c)
{
	sd_bus_emit_properties_changed(c->p->bus, c->path, IFACE_CHR, "Notifying", NULL);
}

static int method_start_notify(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct periph_chr *c = userdata;
	struct periph *p = c->p;

	if (!periph_from_bluez(p, m, error))
		return -EACCES;
	if (!chr_has_flag(c, "notify") && !chr_has_flag(c, "indicate") &&
	    !chr_has_flag(c, "encrypt-notify"))
		return sd_bus_error_set(error, "org.bluez.Error.NotSupported", "No notifications");
	link_access(p, NULL, 0, chr_has_flag(c, "encrypt-notify"));
	c->sessions++;
	periph_log(p, 1, "%s: notifications on (%u session%s)", c->uuid, c->sessions,
		   c->sessions == 1 ? "" : "s");
	if (c->sessions == 1)
		chr_notifying_changed(c);
	periph_poll_soon(p);
	return sd_bus_reply_method_return(m, "");
}

static int method_stop_notify(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct periph_chr *c = userdata;
	struct periph *p = c->p;

	if (!periph_from_bluez(p, m, error))
		return -EACCES;
	if (c->sessions) {
		c->sessions--;
		periph_log(p, 1, "%s: notifications off (%u session%s left)", c->uuid,
			   c->sessions, c->sessions == 1 ? "" : "s");
		if (c->sessions == 0) {
			chr_notifying_changed(c);
			c->xfer_chunks = 0; /* a transfer cut off by the drop */
		}
	}
	return sd_bus_reply_method_return(m, "");
}

static void confirm_done(struct periph_chr *c)
{
	c->awaiting_confirm = false;
	c->confirm_timer = sd_event_source_disable_unref(c->confirm_timer);
	periph_poll_soon(c->p);
	periph_stop_continue(c->p);
}

static int method_confirm(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct periph_chr *c = userdata;

	if (!periph_from_bluez(c->p, m, error))
		return -EACCES;
	if (c->awaiting_confirm)
		confirm_done(c);
	return sd_bus_reply_method_return(m, "");
}

static int confirm_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct periph_chr *c = userdata;
	static bool warned;

	(void)s, (void)usec;
	if (!warned)
		periph_log(c->p, 1, "no indication confirmation within %llu s: continuing",
			   CONFIRM_TIMEOUT_US / 1000000ull);
	warned = true;
	confirm_done(c);
	return 0;
}

static void notify_fd_close(struct periph_chr *c)
{
	c->notify_fd_source = sd_event_source_disable_unref(c->notify_fd_source);
	c->xfer_chunks = 0;
	if (c->notify_fd >= 0) {
		close(c->notify_fd);
		c->notify_fd = -1;
		sd_bus_emit_properties_changed(c->p->bus, c->path, IFACE_CHR, "NotifyAcquired",
					       "Notifying", NULL);
	}
}

static int notify_fd_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct periph_chr *c = userdata;

	(void)s, (void)fd;
	if (revents & (EPOLLHUP | EPOLLERR)) {
		periph_log(c->p, 1, "%s: bluetoothd released the notification socket", c->uuid);
		notify_fd_close(c);
	}
	return 0;
}

static int method_acquire_notify(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct periph_chr *c = userdata;
	struct periph *p = c->p;
	struct read_options o;
	int sv[2], r;
	uint16_t mtu;

	if (!periph_from_bluez(p, m, error))
		return -EACCES;
	r = parse_options(m, &o);
	if (r < 0)
		return r;
	if (c->notify_fd >= 0)
		return sd_bus_error_set(error, "org.bluez.Error.NotPermitted", "Already acquired");
	link_access(p, o.device, o.mtu, chr_has_flag(c, "encrypt-notify"));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return sd_bus_error_set_errno(error, errno);
	r = sd_event_add_io(p->ev, &c->notify_fd_source, sv[0], EPOLLHUP | EPOLLERR,
			    notify_fd_event, c);
	if (r < 0) {
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	c->notify_fd = sv[0];
	mtu = o.mtu >= PROTO_MTU_MIN ? o.mtu : p->mtu;
	r = sd_bus_reply_method_return(m, "hq", sv[1], mtu);
	close(sv[1]); /* sd-bus sent a duplicate */
	if (r < 0) {
		notify_fd_close(c);
		return r;
	}
	periph_log(p, 1, "%s: notifications through a socket (mtu %u)", c->uuid, mtu);
	sd_bus_emit_properties_changed(p->bus, c->path, IFACE_CHR, "NotifyAcquired", "Notifying",
				       NULL);
	periph_poll_soon(p);
	return 0;
}

/*
 * Every method is SD_BUS_VTABLE_UNPRIVILEGED: otherwise sd-bus asks the bus
 * for the caller's credentials with a blocking call before each dispatch
 * (and refuses callers without CAP_SYS_ADMIN under another uid). Who may
 * call is checked against bluetoothd's unique name instead.
 */
static const sd_bus_vtable service_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("UUID", "s", prop_service_uuid, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Primary", "b", prop_primary, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_VTABLE_END
};

#define CHR_COMMON_ENTRIES                                                                              \
	SD_BUS_PROPERTY("UUID", "s", prop_chr, 0, SD_BUS_VTABLE_PROPERTY_CONST),                        \
	SD_BUS_PROPERTY("Service", "o", prop_chr, 0, SD_BUS_VTABLE_PROPERTY_CONST),                     \
	SD_BUS_PROPERTY("Flags", "as", prop_chr, 0, SD_BUS_VTABLE_PROPERTY_CONST),                      \
	SD_BUS_PROPERTY("Value", "ay", prop_chr, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),               \
	SD_BUS_PROPERTY("Notifying", "b", prop_chr, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),            \
	SD_BUS_METHOD("ReadValue", "a{sv}", "ay", method_read, SD_BUS_VTABLE_UNPRIVILEGED),             \
	SD_BUS_METHOD("WriteValue", "aya{sv}", "", method_write, SD_BUS_VTABLE_UNPRIVILEGED),           \
	SD_BUS_METHOD("StartNotify", "", "", method_start_notify, SD_BUS_VTABLE_UNPRIVILEGED),          \
	SD_BUS_METHOD("StopNotify", "", "", method_stop_notify, SD_BUS_VTABLE_UNPRIVILEGED),            \
	SD_BUS_METHOD("Confirm", "", "", method_confirm,                                                \
		      SD_BUS_VTABLE_METHOD_NO_REPLY | SD_BUS_VTABLE_UNPRIVILEGED)

static const sd_bus_vtable chr_vtable[] = {
	SD_BUS_VTABLE_START(0),
	CHR_COMMON_ENTRIES,
	SD_BUS_VTABLE_END
};

/* bluetoothd uses AcquireNotify when the NotifyAcquired property exists. */
static const sd_bus_vtable chr_acquire_vtable[] = {
	SD_BUS_VTABLE_START(0),
	CHR_COMMON_ENTRIES,
	SD_BUS_PROPERTY("NotifyAcquired", "b", prop_chr, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_METHOD("AcquireNotify", "a{sv}", "hq", method_acquire_notify, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END
};

/* ---- export and registration ---------------------------------------------------- */

struct chr_def {
	const char *path;
	size_t service;
	const char *uuid;
	const char *const *flags;
	enum periph_chr_kind kind;
	enum core_char core_id;
	bool indicate;
	bool acquire_capable;
	const char *static_value;
};

int gatt_export(struct periph *p)
{
	const struct chr_def defs[] = {
		{ PERIPH_APP_PATH "/service0/char0", 0, PROTO_UUID_MEASUREMENT, flags_notify,
		  CHR_CORE, CORE_CHAR_MEASUREMENT, false, true, NULL },
		{ PERIPH_APP_PATH "/service0/char1", 0, PROTO_UUID_EVENT, flags_indicate,
		  CHR_CORE, CORE_CHAR_EVENT, true, false, NULL },
		{ PERIPH_APP_PATH "/service0/char2", 0, PROTO_UUID_CONTROL, flags_control,
		  CHR_CORE, CORE_CHAR_CONTROL, true, false, NULL },
		{ PERIPH_APP_PATH "/service0/char3", 0, PROTO_UUID_LOG, flags_log,
		  CHR_CORE, CORE_CHAR_LOG, false, true, NULL },
		{ PERIPH_APP_PATH "/service0/char4", 0, PROTO_UUID_INFO, flags_read,
		  CHR_CORE, CORE_CHAR_INFO, false, false, NULL },
		{ PERIPH_APP_PATH "/service1/char0", 1, UUID16("2a29"), flags_read,
		  CHR_STATIC, 0, false, false, "Roller project" },
		{ PERIPH_APP_PATH "/service1/char1", 1, UUID16("2a24"), flags_read,
		  CHR_STATIC, 0, false, false, "roller-periph" },
		{ PERIPH_APP_PATH "/service1/char2", 1, UUID16("2a26"), flags_read,
		  CHR_STATIC, 0, false, false, firmware_revision },
		{ PERIPH_APP_PATH "/service1/char3", 1, UUID16("2a25"), flags_read,
		  CHR_STATIC, 0, false, false, serial_number },
		{ PERIPH_APP_PATH "/service2/char0", 2, UUID16("2a19"), flags_read_notify,
		  CHR_BATTERY, 0, false, false, NULL },
	};
	size_t i, n = sizeof(defs) / sizeof(defs[0]);
	int r;

	snprintf(firmware_revision, sizeof(firmware_revision), "%u.%u.%u", CORE_FW_MAJOR,
		 CORE_FW_MINOR, CORE_FW_PATCH);
	snprintf(serial_number, sizeof(serial_number), "%08X", p->core_device_id);
	r = sd_bus_add_object_manager(p->bus, &p->om_slot, PERIPH_APP_PATH);
	if (r < 0)
		return r;
	for (i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
		r = sd_bus_add_object_vtable(p->bus, NULL, services[i].path, IFACE_SERVICE,
					     service_vtable, (void *)&services[i]);
		if (r < 0)
			return r;
	}
	p->chrs = calloc(n, sizeof(*p->chrs));
	if (!p->chrs)
		return -ENOMEM;
	p->n_chrs = n;
	for (i = 0; i < n; i++) {
		struct periph_chr *c = &p->chrs[i];

		c->p = p;
		c->path = defs[i].path;
		c->service_path = services[defs[i].service].path;
		c->uuid = defs[i].uuid;
		c->flags = defs[i].flags;
		c->kind = defs[i].kind;
		c->core_id = defs[i].core_id;
		c->indicate = defs[i].indicate;
		c->protected_access = defs[i].flags == flags_control || defs[i].flags == flags_log;
		c->acquire = defs[i].acquire_capable && p->opt.notify_fd;
		c->static_value = defs[i].static_value;
		c->notify_fd = -1;
		r = sd_bus_add_object_vtable(p->bus, &c->slot, c->path, IFACE_CHR,
					     c->acquire ? chr_acquire_vtable : chr_vtable, c);
		if (r < 0)
			return r;
	}
	return 0;
}

void gatt_unexport(struct periph *p)
{
	size_t i;

	for (i = 0; i < p->n_chrs; i++) {
		struct periph_chr *c = &p->chrs[i];

		c->confirm_timer = sd_event_source_disable_unref(c->confirm_timer);
		notify_fd_close(c);
		c->slot = sd_bus_slot_unref(c->slot);
	}
	p->pace_timer = sd_event_source_disable_unref(p->pace_timer);
	free(p->chrs);
	p->chrs = NULL;
	p->n_chrs = 0;
	p->om_slot = sd_bus_slot_unref(p->om_slot);
}

int gatt_register(struct periph *p, sd_bus_message_handler_t done)
{
	return sd_bus_call_method_async(p->bus, NULL, "org.bluez", p->adapter_path,
					IFACE_GATT_MANAGER, "RegisterApplication", done, p,
					"oa{sv}", PERIPH_APP_PATH, 0);
}

int gatt_unregister(struct periph *p, sd_bus_message_handler_t done)
{
	return sd_bus_call_method_async(p->bus, NULL, "org.bluez", p->adapter_path,
					IFACE_GATT_MANAGER, "UnregisterApplication", done, p,
					"o", PERIPH_APP_PATH);
}

void gatt_link_down(struct periph *p)
{
	size_t i;

	for (i = 0; i < p->n_chrs; i++)
		if (p->chrs[i].awaiting_confirm) {
			p->chrs[i].awaiting_confirm = false;
			p->chrs[i].confirm_timer =
				sd_event_source_disable_unref(p->chrs[i].confirm_timer);
		}
	periph_stop_continue(p);
}

bool gatt_indication_unconfirmed(const struct periph *p)
{
	size_t i;

	for (i = 0; i < p->n_chrs; i++)
		if (p->chrs[i].awaiting_confirm)
			return true;
	return false;
}

static int retry_fired(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct periph *p = userdata;

	(void)s, (void)usec;
	p->retry_timer = sd_event_source_disable_unref(p->retry_timer);
	periph_poll_soon(p);
	return 0;
}

static void retry_later(struct periph *p)
{
	if (!p->retry_timer)
		sd_event_add_time_relative(p->ev, &p->retry_timer, CLOCK_MONOTONIC, RETRY_US, 1000,
					   retry_fired, p);
}

static int bus_congested(struct periph *p)
{
	uint64_t queued = 0;

	if (sd_bus_get_n_queued_write(p->bus, &queued) >= 0 && queued > MAX_QUEUED_WRITES) {
		retry_later(p);
		return 1;
	}
	return 0;
}

/*
 * -v: the progress of a log transfer, from the Log chunks handed to BlueZ:
 * its first chunk, every LOG_PROGRESS_EVERY chunks, its END. Tests wait on
 * these lines to interrupt a transfer half-way (tests/e2e roller_sync).
 */
#define LOG_PROGRESS_EVERY 100u

static void log_chunk_sent(struct periph_chr *c, const uint8_t *buf, size_t len)
{
	struct proto_log_chunk ch;

	if (c->p->opt.verbose < 1 || proto_log_chunk_decode(buf, len, &ch) < 0)
		return;
	c->xfer_chunks++;
	if (c->xfer_chunks == 1)
		periph_log(c->p, 1, "log transfer: first chunk, record %u offset %u", ch.record,
			   ch.offset);
	if (ch.flags & PROTO_CHUNK_END) {
		periph_log(c->p, 1, "log transfer: END after %u chunks, record %u", c->xfer_chunks,
			   ch.record);
		c->xfer_chunks = 0;
	} else if (c->xfer_chunks % LOG_PROGRESS_EVERY == 0) {
		periph_log(c->p, 1, "log transfer: %u chunks sent, record %u", c->xfer_chunks,
			   ch.record);
	}
}

/*
 * Pacing of notifications (indications are sent one by one anyway).
 * bluetoothd sends the notifications for a central that supports them (a
 * BlueZ central always says so) as ATT Handle Multiple Value Notifications:
 * it appends each value, with 4 bytes of handle and length, to one buffer of
 * ATT_MTU - 1 bytes and sends that 10 ms after the first value. In BlueZ 5.66
 * (Debian 12, the QEMU rig) a value that does not fit overruns the buffer:
 * the rig saw garbage ATT PDUs, lost notifications, lost indications and log
 * transfers that never completed once notifications came in bursts (a log
 * transfer, re-sent samples). So notifications go in windows of at most half
 * a buffer; a window's first value always goes (two PROTO_MTU_MAX frames fit
 * in the buffer at BlueZ's default MTU of 517). The first value of a window
 * sends a Peer.Ping to bluetoothd, which answers after it has taken that
 * value (D-Bus keeps the order), and the next window opens PACE_GAP_US after
 * the answer: by then the flush timer of the buffer that value went into has
 * expired, and bluetoothd runs expired timers before it dispatches D-Bus
 * messages (GLib priorities), so one buffer never holds more than two
 * windows. Cost: a D-Bus round trip + 12 ms per window.
 */
#define PACE_GAP_US 12000ull
#define PACE_VALUE_OVERHEAD 4u /* handle + length in a multiple notification */

static int pace_gap_done(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct periph *p = userdata;

	(void)s, (void)usec;
	p->pace_timer = sd_event_source_disable_unref(p->pace_timer);
	p->pace_bytes = 0;
	periph_poll_soon(p);
	return 0;
}

static int pace_pong(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct periph *p = userdata;

	/* An error answer (bluetoothd gone) ends the wait as well. */
	(void)m, (void)ret_error;
	p->pace_pinging = false;
	if (sd_event_add_time_relative(p->ev, &p->pace_timer, CLOCK_MONOTONIC, PACE_GAP_US, 1000,
				       pace_gap_done, p) < 0) {
		p->pace_bytes = 0;
		periph_poll_soon(p);
	}
	return 0;
}

/* 0: send now (counted); -EAGAIN: the window is full, wait for the next. */
static int pace_take(struct periph *p, size_t len)
{
	/* BlueZ's buffer follows the ATT MTU itself, not the core's capped one. */
	size_t cost = len + PACE_VALUE_OVERHEAD, window = (p->att_mtu - 1u) / 2u;

	if (p->pace_bytes && p->pace_bytes + cost > window)
		return -EAGAIN;
	if (p->pace_bytes == 0) {
		if (p->pace_pinging || p->pace_timer)
			return -EAGAIN;
		if (sd_bus_call_method_async(p->bus, NULL, "org.bluez", "/",
					     "org.freedesktop.DBus.Peer", "Ping", pace_pong, p,
					     "") >= 0)
			p->pace_pinging = true;
		else
			(void)pace_pong(NULL, p, NULL); /* cannot ask: only the gap */
	}
	p->pace_bytes += cost;
	return 0;
}

int gatt_notify(struct periph *p, enum core_char id, const uint8_t *buf, size_t len)
{
	struct periph_chr *c = chr_by_core_id(p, id);
	int r;

	if (!c || c->core_id == CORE_CHAR_INFO)
		return -EINVAL;
	if (!link_connected(p) || (c->sessions == 0 && c->notify_fd < 0))
		return -ENOTCONN;
	/* Stopping: nothing new, so that the unconfirmed indications run out
	 * (periph_stop_continue). */
	if (p->stopping)
		return -EAGAIN;
	if (len + PROTO_ATT_OVERHEAD > p->mtu || len > sizeof(c->value))
		return -EMSGSIZE;
	if (c->indicate && c->awaiting_confirm)
		return -EAGAIN;
	if (bus_congested(p))
		return -EAGAIN;
	if (!c->indicate && pace_take(p, len) < 0)
		return -EAGAIN;
	if (c->notify_fd >= 0) {
		ssize_t n = send(c->notify_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n == (ssize_t)len) {
			c->sent++;
			if (id == CORE_CHAR_LOG)
				log_chunk_sent(c, buf, len);
			return 0;
		}
		if (n < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
			retry_later(p);
			return -EAGAIN;
		}
		periph_log(p, 1, "%s: notification socket failed (%s); back to D-Bus", c->uuid,
			   n < 0 ? strerror(errno) : "short write");
		notify_fd_close(c);
		if (c->sessions == 0)
			return -ENOTCONN;
	}
	memcpy(c->value, buf, len);
	c->value_len = len;
	r = sd_bus_emit_properties_changed(p->bus, c->path, IFACE_CHR, "Value", NULL);
	if (r < 0) {
		periph_log(p, 1, "%s: could not emit the value: %s", c->uuid, strerror(-r));
		return r == -ENOBUFS ? -EAGAIN : -ENOTCONN;
	}
	c->sent++;
	if (id == CORE_CHAR_LOG)
		log_chunk_sent(c, buf, len);
	if (c->indicate) {
		c->awaiting_confirm = true;
		c->confirm_timer = sd_event_source_disable_unref(c->confirm_timer);
		sd_event_add_time_relative(p->ev, &c->confirm_timer, CLOCK_MONOTONIC,
					   CONFIRM_TIMEOUT_US, 1000, confirm_timeout, c);
	}
	return 0;
}

void gatt_battery_changed(struct periph *p, uint8_t percent)
{
	size_t i;

	if (percent == p->battery_percent)
		return;
	p->battery_percent = percent;
	for (i = 0; i < p->n_chrs; i++) {
		struct periph_chr *c = &p->chrs[i];

		if (c->kind != CHR_BATTERY)
			continue;
		c->value[0] = percent;
		c->value_len = 1;
		if (c->sessions && link_connected(p))
			sd_bus_emit_properties_changed(p->bus, c->path, IFACE_CHR, "Value", NULL);
	}
}
