/*
 * The link as the core sees it, reconstructed from bluetoothd's objects.
 *
 * Connected / disconnected: the Connected property of the Device1 objects
 * under our adapter (BlueZ 5.66 has no Disconnected signal). The first
 * central that connects is the peer; the core serves one link.
 *
 * Bonded: Device1.Bonded (Paired on a bluetoothd without that property).
 *
 * Encrypted: D-Bus does not say. In order of preference:
 *   1. the kernel (HCIGETCONNINFO on a raw HCI socket, no privileges needed);
 *   2. evidence: bluetoothd delivered an access to an attribute that needs
 *      encryption (Control Point write, Log subscription), or pairing just
 *      completed on this link (Paired went true);
 *   3. a bonded peer that has been connected for ASSUME_ENCRYPTED_US:
 *      BlueZ and the phone stacks encrypt a bonded LE link before any ATT
 *      traffic.
 * Until then the core sends nothing to a bonded peer (core.h, pitfall 10).
 *
 * MTU: the "mtu" option bluetoothd passes to ReadValue, WriteValue and
 * AcquireNotify; 23 until the first such call on a connection.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "periph.h"

#define IFACE_DEVICE "org.bluez.Device1"
#define IFACE_ADAPTER "org.bluez.Adapter1"
#define SECURITY_POLL_US 100000ull
#define ASSUME_ENCRYPTED_US 1000000ull
#define HCI_ENOENT_POLLS 20u

static bool device_bonded(const struct periph_device *d)
{
	return d->have_bonded ? d->bonded : d->paired;
}

static bool is_device_path(const struct periph *p, const char *path)
{
	size_t n = strlen(p->adapter_path);

	return strncmp(path, p->adapter_path, n) == 0 && strncmp(path + n, "/dev_", 5) == 0 &&
	       strchr(path + n + 1, '/') == NULL;
}

static int device_find(const struct periph *p, const char *path)
{
	int i;

	for (i = 0; i < PERIPH_MAX_DEVICES; i++)
		if (p->devices[i].path && strcmp(p->devices[i].path, path) == 0)
			return i;
	return -1;
}

static int device_add(struct periph *p, const char *path)
{
	int i = device_find(p, path);
	const char *s;
	size_t k;

	if (i >= 0)
		return i;
	for (i = 0; i < PERIPH_MAX_DEVICES; i++)
		if (!p->devices[i].path && i != p->peer)
			break;
	if (i == PERIPH_MAX_DEVICES)
		return -ENOSPC;
	memset(&p->devices[i], 0, sizeof(p->devices[i]));
	p->devices[i].path = strdup(path);
	if (!p->devices[i].path)
		return -ENOMEM;
	/* dev_AA_BB_CC_DD_EE_FF -> AA:BB:CC:DD:EE:FF until Address is known */
	s = strrchr(path, '/');
	s = s ? s + 5 : "";
	for (k = 0; k < 17 && s[k]; k++)
		p->devices[i].address[k] = s[k] == '_' ? ':' : s[k];
	p->devices[i].address[k] = '\0';
	return i;
}

static void device_remove(struct periph *p, int i)
{
	free(p->devices[i].path);
	memset(&p->devices[i], 0, sizeof(p->devices[i]));
}

int periph_read_dict(sd_bus_message *m,
		     int (*prop)(sd_bus_message *m, const char *key, void *userdata),
		     void *userdata)
{
	int r;

	r = sd_bus_message_enter_container(m, 'a', "{sv}");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		const char *key;

		r = sd_bus_message_read(m, "s", &key);
		if (r < 0)
			return r;
		r = prop(m, key, userdata);
		if (r < 0)
			return r;
		r = sd_bus_message_exit_container(m);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(m);
}

static int device_prop(sd_bus_message *m, const char *key, void *userdata)
{
	struct periph_device *d = userdata;
	const char *s;
	int b = 0, r;

	if (strcmp(key, "Address") == 0) {
		r = sd_bus_message_read(m, "v", "s", &s);
		if (r >= 0)
			snprintf(d->address, sizeof(d->address), "%s", s);
	} else if (strcmp(key, "Connected") == 0) {
		r = sd_bus_message_read(m, "v", "b", &b);
		d->connected = b;
	} else if (strcmp(key, "Paired") == 0) {
		r = sd_bus_message_read(m, "v", "b", &b);
		d->paired = b;
	} else if (strcmp(key, "Bonded") == 0) {
		r = sd_bus_message_read(m, "v", "b", &b);
		d->bonded = b;
		d->have_bonded = true;
	} else {
		r = sd_bus_message_skip(m, "v");
	}
	return r;
}

static int read_device_props(sd_bus_message *m, struct periph_device *d)
{
	return periph_read_dict(m, device_prop, d);
}

static int adapter_prop(sd_bus_message *m, const char *key, void *userdata)
{
	struct periph *p = userdata;
	const char *s;
	int b = 0, r;

	if (strcmp(key, "Address") == 0) {
		r = sd_bus_message_read(m, "v", "s", &s);
		if (r >= 0)
			snprintf(p->adapter_address, sizeof(p->adapter_address), "%s", s);
	} else if (strcmp(key, "Powered") == 0) {
		r = sd_bus_message_read(m, "v", "b", &b);
		if (r >= 0 && p->adapter_found && p->adapter_powered != !!b)
			periph_log(p, 0, "%s powered %s", p->opt.adapter, b ? "on" : "off");
		p->adapter_powered = b;
	} else if (strcmp(key, "Pairable") == 0) {
		r = sd_bus_message_read(m, "v", "b", &b);
		p->adapter_pairable = b;
	} else {
		r = sd_bus_message_skip(m, "v");
	}
	return r;
}

static int read_adapter_props(sd_bus_message *m, struct periph *p)
{
	return periph_read_dict(m, adapter_prop, p);
}

/* ---- security ----------------------------------------------------------------- */

static void security_report(struct periph *p)
{
	bool bonded;

	if (p->peer < 0)
		return;
	bonded = device_bonded(&p->devices[p->peer]);
	if (p->encrypted == p->last_encrypted && bonded == p->bonded_reported)
		return;
	p->last_encrypted = p->encrypted;
	p->bonded_reported = bonded;
	periph_log(p, 0, "link to %s: %s, %s", p->devices[p->peer].address,
		   p->encrypted ? "encrypted" : "not encrypted", bonded ? "bonded" : "not bonded");
	core_on_security_changed(&p->core, p->encrypted, bonded);
	periph_poll_soon(p);
}

static void security_stop(struct periph *p)
{
	p->security_timer = sd_event_source_disable_unref(p->security_timer);
}

static int security_poll(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct periph *p = userdata;
	struct periph_device *d;
	int r;

	(void)usec;
	if (p->peer < 0 || p->encrypted) {
		security_stop(p);
		return 0;
	}
	d = &p->devices[p->peer];
	p->security_polls++;
	if (!p->hci_unavailable) {
		r = hci_link_encrypted(&p->hci_fd, p->opt.adapter, d->address);
		if (r == 1) {
			p->encrypted = true;
			security_report(p);
			security_stop(p);
			return 0;
		}
		if (r < 0 && (r != -ENOENT || p->security_polls >= HCI_ENOENT_POLLS)) {
			p->hci_unavailable = true;
			periph_log(p, 1, "the kernel cannot tell whether the link is encrypted (%s): "
				   "inferring it from bluetoothd", strerror(-r));
		}
	}
	if (p->hci_unavailable) {
		if (device_bonded(d) &&
		    (uint64_t)p->security_polls * SECURITY_POLL_US >= ASSUME_ENCRYPTED_US) {
			periph_log(p, 1, "bonded peer connected for %llu ms: taking the link as "
				   "encrypted", ASSUME_ENCRYPTED_US / 1000ull);
			p->encrypted = true;
			security_report(p);
			security_stop(p);
			return 0;
		}
	}
	sd_event_source_set_time_relative(s, SECURITY_POLL_US);
	sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

/* ---- peer transitions ------------------------------------------------------------ */

static void peer_connected(struct periph *p, int i)
{
	struct periph_device *d = &p->devices[i];
	bool bonded = device_bonded(d);

	p->peer = i;
	p->mtu = p->att_mtu = PROTO_MTU_MIN;
	p->encrypted = false;
	p->last_encrypted = false;
	p->bonded_reported = bonded;
	p->security_polls = 0;
	periph_log(p, 0, "central %s connected (%s)", d->address,
		   bonded ? "bonded: waiting for encryption" : "not bonded");
	core_wake(&p->core);
	core_on_connect(&p->core, bonded);
	security_stop(p);
	sd_event_add_time_relative(p->ev, &p->security_timer, CLOCK_MONOTONIC, SECURITY_POLL_US,
				   1000, security_poll, p);
	periph_poll_soon(p);
}

static void peer_disconnected(struct periph *p)
{
	if (p->peer < 0)
		return;
	periph_log(p, 0, "central %s disconnected", p->devices[p->peer].address);
	p->peer = -1;
	p->encrypted = false;
	p->mtu = p->att_mtu = PROTO_MTU_MIN;
	security_stop(p);
	gatt_link_down(p);
	core_on_disconnect(&p->core);
	periph_poll_soon(p);
}

static void device_changed(struct periph *p, int i, const struct periph_device *old)
{
	struct periph_device *d = &p->devices[i];

	if (!p->active)
		return;
	if (i == p->peer) {
		if (!d->connected) {
			peer_disconnected(p);
			return;
		}
		if (d->paired && !old->paired) {
			/* Pairing completes with the link encrypted by the new keys. */
			periph_log(p, 0, "paired with %s%s", d->address,
				   device_bonded(d) ? " (bonded)" : " (not bonded)");
			p->encrypted = true;
		}
		security_report(p);
		return;
	}
	if (d->connected && !old->connected) {
		if (p->peer < 0)
			peer_connected(p, i);
		else
			periph_log(p, 0, "central %s connected too: the roller serves %s only",
				   d->address, p->devices[p->peer].address);
	}
}

/* ---- signals ------------------------------------------------------------------------- */

static int on_interfaces_added(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct periph *p = userdata;
	const char *path;
	int r;

	(void)error;
	r = sd_bus_message_read(m, "o", &path);
	if (r < 0 || !is_device_path(p, path))
		return 0;
	r = sd_bus_message_enter_container(m, 'a', "{sa{sv}}");
	if (r < 0)
		return 0;
	while (sd_bus_message_enter_container(m, 'e', "sa{sv}") > 0) {
		const char *iface;

		if (sd_bus_message_read(m, "s", &iface) < 0)
			return 0;
		if (strcmp(iface, IFACE_DEVICE) == 0) {
			struct periph_device old;
			int i = device_add(p, path);

			if (i < 0)
				return 0;
			old = p->devices[i];
			if (read_device_props(m, &p->devices[i]) < 0)
				return 0;
			device_changed(p, i, &old);
		} else if (sd_bus_message_skip(m, "a{sv}") < 0) {
			return 0;
		}
		if (sd_bus_message_exit_container(m) < 0)
			return 0;
	}
	return 0;
}

static int on_interfaces_removed(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct periph *p = userdata;
	const char *path, *iface;
	int i;

	(void)error;
	if (sd_bus_message_read(m, "o", &path) < 0 || !is_device_path(p, path))
		return 0;
	i = device_find(p, path);
	if (i < 0 || sd_bus_message_enter_container(m, 'a', "s") < 0)
		return 0;
	while (sd_bus_message_read(m, "s", &iface) > 0) {
		if (strcmp(iface, IFACE_DEVICE) != 0)
			continue;
		if (i == p->peer)
			peer_disconnected(p);
		device_remove(p, i);
		break;
	}
	return 0;
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct periph *p = userdata;
	const char *path = sd_bus_message_get_path(m), *iface;

	(void)error;
	if (!path || sd_bus_message_read(m, "s", &iface) < 0)
		return 0;
	if (strcmp(iface, IFACE_DEVICE) == 0 && is_device_path(p, path)) {
		struct periph_device old;
		int i = device_find(p, path);

		if (i < 0)
			i = device_add(p, path);
		if (i < 0)
			return 0;
		old = p->devices[i];
		if (read_device_props(m, &p->devices[i]) < 0)
			return 0;
		device_changed(p, i, &old);
	} else if (strcmp(iface, IFACE_ADAPTER) == 0 && strcmp(path, p->adapter_path) == 0) {
		read_adapter_props(m, p);
	}
	return 0;
}

int link_start(struct periph *p)
{
	char match[256];
	int r;

	p->peer = -1;
	p->mtu = p->att_mtu = PROTO_MTU_MIN;
	p->hci_fd = -1;
	r = sd_bus_match_signal_async(p->bus, NULL, "org.bluez", "/",
				      "org.freedesktop.DBus.ObjectManager", "InterfacesAdded",
				      on_interfaces_added, NULL, p);
	if (r < 0)
		return r;
	r = sd_bus_match_signal_async(p->bus, NULL, "org.bluez", "/",
				      "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved",
				      on_interfaces_removed, NULL, p);
	if (r < 0)
		return r;
	snprintf(match, sizeof(match),
		 "type='signal',sender='org.bluez',interface='org.freedesktop.DBus.Properties',"
		 "member='PropertiesChanged',path_namespace='%s'", p->adapter_path);
	return sd_bus_add_match_async(p->bus, NULL, match, on_properties_changed, NULL, p);
}

int link_seed(struct periph *p, sd_bus_message *reply)
{
	int r;

	p->adapter_found = false;
	r = sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}")) > 0) {
		const char *path;

		r = sd_bus_message_read(reply, "o", &path);
		if (r < 0)
			return r;
		r = sd_bus_message_enter_container(reply, 'a', "{sa{sv}}");
		if (r < 0)
			return r;
		while ((r = sd_bus_message_enter_container(reply, 'e', "sa{sv}")) > 0) {
			const char *iface;

			r = sd_bus_message_read(reply, "s", &iface);
			if (r < 0)
				return r;
			if (strcmp(iface, IFACE_ADAPTER) == 0 &&
			    strcmp(path, p->adapter_path) == 0) {
				r = read_adapter_props(reply, p);
				p->adapter_found = true;
			} else if (strcmp(iface, IFACE_DEVICE) == 0 && is_device_path(p, path)) {
				int i = device_add(p, path);

				r = i < 0 ? sd_bus_message_skip(reply, "a{sv}")
					  : read_device_props(reply, &p->devices[i]);
			} else {
				r = sd_bus_message_skip(reply, "a{sv}");
			}
			if (r < 0)
				return r;
			r = sd_bus_message_exit_container(reply);
			if (r < 0)
				return r;
		}
		if (r < 0)
			return r;
		r = sd_bus_message_exit_container(reply);
		if (r < 0)
			return r;
		r = sd_bus_message_exit_container(reply);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	return p->adapter_found ? 0 : -ENODEV;
}

void link_activate(struct periph *p)
{
	int i;

	p->active = true;
	for (i = 0; i < PERIPH_MAX_DEVICES; i++)
		if (p->devices[i].path && p->devices[i].connected && p->peer < 0)
			peer_connected(p, i);
}

void link_bluez_gone(struct periph *p)
{
	int i;

	peer_disconnected(p);
	for (i = 0; i < PERIPH_MAX_DEVICES; i++)
		if (p->devices[i].path)
			device_remove(p, i);
	p->adapter_found = false;
}

void link_free(struct periph *p)
{
	int i;

	security_stop(p);
	for (i = 0; i < PERIPH_MAX_DEVICES; i++)
		if (p->devices[i].path)
			device_remove(p, i);
	if (p->hci_fd >= 0)
		close(p->hci_fd);
	p->hci_fd = -1;
}

void link_access(struct periph *p, const char *device, uint16_t mtu, bool protected_access)
{
	if (!p->active)
		return;
	if (device && is_device_path(p, device) &&
	    (p->peer < 0 || strcmp(p->devices[p->peer].path, device) != 0)) {
		/* An access from a device whose Connected signal we have not
		 * seen (yet): it is connected. */
		int i = device_add(p, device);

		if (i < 0)
			return;
		if (!p->devices[i].connected) {
			struct periph_device old = p->devices[i];

			p->devices[i].connected = true;
			device_changed(p, i, &old);
		}
		if (i != p->peer)
			return;
	}
	if (p->peer < 0)
		return;
	if (mtu >= PROTO_MTU_MIN && mtu != p->att_mtu) {
		p->att_mtu = mtu;
		p->mtu = mtu > PROTO_MTU_MAX ? PROTO_MTU_MAX : mtu;
		periph_log(p, 1, "ATT MTU %u", mtu);
		core_on_mtu(&p->core, p->mtu);
		periph_poll_soon(p);
	}
	if (protected_access && !p->encrypted) {
		p->encrypted = true;
		security_report(p);
	}
}

bool link_connected(const struct periph *p)
{
	return p->peer >= 0;
}
