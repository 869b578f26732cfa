/*
 * A mirror of bluetoothd's object tree: adapters, devices, GATT services and
 * characteristics. The matches are installed before GetManagedObjects is
 * sent, so that nothing that changes in between is missed (the bus keeps
 * the order of one connection's messages). bluetoothd restarting is seen
 * through NameOwnerChanged: the mirror empties and loads again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bluez_internal.h"

static void strv_free(char **v)
{
	char **p;

	for (p = v; p && *p; p++)
		free(*p);
	free(v);
}

static int set_str(char **dst, const char *s)
{
	char *n = strdup(s);

	if (!n)
		return -ENOMEM;
	free(*dst);
	*dst = n;
	return 0;
}

/* ---- lists ----------------------------------------------------------------- */

static void adapter_free(struct bz_adapter *a)
{
	free(a->path);
	free(a);
}

static void device_free(struct bz_device *d)
{
	free(d->path);
	free(d->adapter);
	free(d->name);
	strv_free(d->uuids);
	free(d);
}

static void service_free(struct bz_service *s)
{
	free(s->path);
	free(s->uuid);
	free(s->device);
	free(s);
}

static void chr_free(struct bz_chr *c)
{
	free(c->path);
	free(c->uuid);
	free(c->service);
	free(c);
}

#define FIND(list, p)                                         \
	({                                                    \
		__typeof__(list) it_ = (list);                \
		while (it_ && strcmp(it_->path, (p)) != 0)    \
			it_ = it_->next;                      \
		it_;                                          \
	})

#define UNLINK(head, node)                                    \
	do {                                                  \
		__typeof__(head) *pp_ = &(head);              \
		while (*pp_ && *pp_ != (node))                \
			pp_ = &(*pp_)->next;                  \
		if (*pp_)                                     \
			*pp_ = (node)->next;                  \
	} while (0)

static void model_clear(struct bz_model *m)
{
	while (m->adapters) {
		struct bz_adapter *a = m->adapters;

		m->adapters = a->next;
		adapter_free(a);
	}
	while (m->devices) {
		struct bz_device *d = m->devices;

		m->devices = d->next;
		device_free(d);
	}
	while (m->services) {
		struct bz_service *s = m->services;

		m->services = s->next;
		service_free(s);
	}
	while (m->chrs) {
		struct bz_chr *c = m->chrs;

		m->chrs = c->next;
		chr_free(c);
	}
	m->loaded = false;
}

/* ---- property parsers ------------------------------------------------------- */

static int read_strv(sd_bus_message *msg, char ***out)
{
	char **v = NULL;
	int r;

	r = sd_bus_message_enter_container(msg, 'v', "as");
	if (r < 0)
		return r;
	r = sd_bus_message_read_strv(msg, &v);
	if (r < 0)
		return r;
	strv_free(*out);
	*out = v;
	return sd_bus_message_exit_container(msg);
}

static int read_bool(sd_bus_message *msg, bool *out)
{
	int b = 0, r;

	r = sd_bus_message_read(msg, "v", "b", &b);
	if (r >= 0)
		*out = b;
	return r;
}

static int read_string(sd_bus_message *msg, char **out, const char *type)
{
	const char *s;
	int r;

	r = sd_bus_message_read(msg, "v", type, &s);
	if (r < 0)
		return r;
	return set_str(out, s);
}

static int read_fixed_string(sd_bus_message *msg, char *out, size_t cap)
{
	const char *s;
	int r;

	r = sd_bus_message_read(msg, "v", "s", &s);
	if (r >= 0) {
		strncpy(out, s, cap - 1);
		out[cap - 1] = '\0';
	}
	return r;
}

typedef int (*prop_fn)(struct bz_model *m, void *obj, const char *key, sd_bus_message *msg);

/* Walks a{sv}; fn returns 1 when it consumed the variant. */
static int walk_props(struct bz_model *m, void *obj, sd_bus_message *msg, prop_fn fn)
{
	int r;

	r = sd_bus_message_enter_container(msg, 'a', "{sv}");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(msg, 'e', "sv")) > 0) {
		const char *key;

		r = sd_bus_message_read(msg, "s", &key);
		if (r < 0)
			return r;
		r = fn(m, obj, key, msg);
		if (r == 0)
			r = sd_bus_message_skip(msg, "v");
		if (r < 0)
			return r;
		r = sd_bus_message_exit_container(msg);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(msg);
}

static int adapter_prop(struct bz_model *m, void *obj, const char *key, sd_bus_message *msg)
{
	struct bz_adapter *a = obj;
	int r;

	(void)m;
	if (!strcmp(key, "Address"))
		r = read_fixed_string(msg, a->address, sizeof(a->address));
	else if (!strcmp(key, "Powered"))
		r = read_bool(msg, &a->powered);
	else if (!strcmp(key, "Discovering"))
		r = read_bool(msg, &a->discovering);
	else
		return 0;
	return r < 0 ? r : 1;
}

static int device_prop(struct bz_model *m, void *obj, const char *key, sd_bus_message *msg)
{
	struct bz_device *d = obj;
	int r;

	(void)m;
	if (!strcmp(key, "Address")) {
		r = read_fixed_string(msg, d->address, sizeof(d->address));
	} else if (!strcmp(key, "Name")) {
		r = read_string(msg, &d->name, "s");
	} else if (!strcmp(key, "Alias")) {
		const char *s;

		r = sd_bus_message_read(msg, "v", "s", &s);
		if (r >= 0 && !d->name)
			r = set_str(&d->name, s);
	} else if (!strcmp(key, "UUIDs")) {
		r = read_strv(msg, &d->uuids);
	} else if (!strcmp(key, "RSSI")) {
		r = sd_bus_message_read(msg, "v", "n", &d->rssi);
		d->has_rssi = true;
		d->seen++;
	} else if (!strcmp(key, "Paired")) {
		r = read_bool(msg, &d->paired);
	} else if (!strcmp(key, "Bonded")) {
		r = read_bool(msg, &d->bonded);
		d->have_bonded = true;
	} else if (!strcmp(key, "Trusted")) {
		r = read_bool(msg, &d->trusted);
	} else if (!strcmp(key, "Connected")) {
		r = read_bool(msg, &d->connected);
	} else if (!strcmp(key, "ServicesResolved")) {
		r = read_bool(msg, &d->resolved);
		/* BlueZ 5.66 can skip the Connected=true signal when the ATT
		 * link came up first ("is already connected"); services
		 * resolved means connected. */
		if (d->resolved)
			d->connected = true;
	} else if (!strcmp(key, "Adapter")) {
		r = read_string(msg, &d->adapter, "o");
	} else {
		return 0;
	}
	return r < 0 ? r : 1;
}

static int service_prop(struct bz_model *m, void *obj, const char *key, sd_bus_message *msg)
{
	struct bz_service *s = obj;
	int r;

	(void)m;
	if (!strcmp(key, "UUID"))
		r = read_string(msg, &s->uuid, "s");
	else if (!strcmp(key, "Device"))
		r = read_string(msg, &s->device, "o");
	else
		return 0;
	return r < 0 ? r : 1;
}

static int chr_prop(struct bz_model *m, void *obj, const char *key, sd_bus_message *msg)
{
	struct bz_chr *c = obj;
	int r;

	if (!strcmp(key, "UUID")) {
		r = read_string(msg, &c->uuid, "s");
	} else if (!strcmp(key, "Service")) {
		r = read_string(msg, &c->service, "o");
	} else if (!strcmp(key, "MTU")) {
		r = sd_bus_message_read(msg, "v", "q", &c->mtu);
	} else if (!strcmp(key, "Notifying")) {
		r = read_bool(msg, &c->notifying);
	} else if (!strcmp(key, "NotifyAcquired")) {
		c->can_acquire = true;
		return 0;
	} else if (!strcmp(key, "Value") && m->loaded && m->cb.value) {
		/* Handed to cb.value once the whole signal is parsed. */
		r = sd_bus_message_enter_container(msg, 'v', "ay");
		if (r < 0)
			return r;
		r = sd_bus_message_read_array(msg, 'y', &m->value, &m->value_len);
		if (r < 0)
			return r;
		m->have_value = true;
		r = sd_bus_message_exit_container(msg);
	} else {
		return 0;
	}
	return r < 0 ? r : 1;
}

/* ---- objects ---------------------------------------------------------------------- */

static int add_interface(struct bz_model *m, const char *path, const char *iface,
			 sd_bus_message *msg, enum bz_change *change)
{
	if (!strcmp(iface, BZ_IFACE_ADAPTER)) {
		struct bz_adapter *a = FIND(m->adapters, path), **pp;
		const char *slash = strrchr(path, '/');

		if (!a) {
			a = calloc(1, sizeof(*a));
			if (!a || !(a->path = strdup(path))) {
				free(a);
				return -ENOMEM;
			}
			strncpy(a->name, slash ? slash + 1 : path, sizeof(a->name) - 1);
			/* keep adapters sorted by path: hci0 first */
			for (pp = &m->adapters; *pp && strcmp((*pp)->path, path) < 0; pp = &(*pp)->next)
				;
			a->next = *pp;
			*pp = a;
		}
		*change = BZ_ADAPTER_CHANGED;
		return walk_props(m, a, msg, adapter_prop);
	}
	if (!strcmp(iface, BZ_IFACE_DEVICE)) {
		struct bz_device *d = FIND(m->devices, path);

		if (!d) {
			d = calloc(1, sizeof(*d));
			if (!d || !(d->path = strdup(path))) {
				free(d);
				return -ENOMEM;
			}
			d->next = m->devices;
			m->devices = d;
		}
		*change = BZ_DEVICE_ADDED;
		return walk_props(m, d, msg, device_prop);
	}
	if (!strcmp(iface, BZ_IFACE_SERVICE)) {
		struct bz_service *s = FIND(m->services, path);

		if (!s) {
			s = calloc(1, sizeof(*s));
			if (!s || !(s->path = strdup(path))) {
				free(s);
				return -ENOMEM;
			}
			s->next = m->services;
			m->services = s;
		}
		*change = BZ_GATT_ADDED;
		return walk_props(m, s, msg, service_prop);
	}
	if (!strcmp(iface, BZ_IFACE_CHR)) {
		struct bz_chr *c = FIND(m->chrs, path);

		if (!c) {
			c = calloc(1, sizeof(*c));
			if (!c || !(c->path = strdup(path))) {
				free(c);
				return -ENOMEM;
			}
			c->next = m->chrs;
			m->chrs = c;
		}
		*change = BZ_GATT_ADDED;
		return walk_props(m, c, msg, chr_prop);
	}
	*change = (enum bz_change)-1;
	return sd_bus_message_skip(msg, "a{sv}");
}

static int add_object(struct bz_model *m, sd_bus_message *msg, const char *path, bool notify)
{
	int r;

	r = sd_bus_message_enter_container(msg, 'a', "{sa{sv}}");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(msg, 'e', "sa{sv}")) > 0) {
		enum bz_change change;
		const char *iface;

		r = sd_bus_message_read(msg, "s", &iface);
		if (r < 0)
			return r;
		r = add_interface(m, path, iface, msg, &change);
		if (r < 0)
			return r;
		r = sd_bus_message_exit_container(msg);
		if (r < 0)
			return r;
		if (notify && (int)change >= 0 && m->cb.changed)
			m->cb.changed(m->userdata, change, path);
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(msg);
}

static int on_interfaces_added(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
	struct bz_model *m = userdata;
	const char *path;

	(void)error;
	if (!m->loaded || sd_bus_message_read(msg, "o", &path) < 0)
		return 0;
	add_object(m, msg, path, true);
	return 0;
}

static int on_interfaces_removed(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
	struct bz_model *m = userdata;
	const char *path, *iface;

	(void)error;
	if (!m->loaded || sd_bus_message_read(msg, "o", &path) < 0 ||
	    sd_bus_message_enter_container(msg, 'a', "s") < 0)
		return 0;
	while (sd_bus_message_read(msg, "s", &iface) > 0) {
		enum bz_change change;

		if (!strcmp(iface, BZ_IFACE_DEVICE)) {
			struct bz_device *d = FIND(m->devices, path);

			if (!d)
				continue;
			UNLINK(m->devices, d);
			device_free(d);
			change = BZ_DEVICE_REMOVED;
		} else if (!strcmp(iface, BZ_IFACE_SERVICE)) {
			struct bz_service *s = FIND(m->services, path);

			if (!s)
				continue;
			UNLINK(m->services, s);
			service_free(s);
			change = BZ_GATT_REMOVED;
		} else if (!strcmp(iface, BZ_IFACE_CHR)) {
			struct bz_chr *c = FIND(m->chrs, path);

			if (!c)
				continue;
			UNLINK(m->chrs, c);
			chr_free(c);
			change = BZ_GATT_REMOVED;
		} else if (!strcmp(iface, BZ_IFACE_ADAPTER)) {
			struct bz_adapter *a = FIND(m->adapters, path);

			if (!a)
				continue;
			UNLINK(m->adapters, a);
			adapter_free(a);
			change = BZ_ADAPTER_CHANGED;
		} else {
			continue;
		}
		if (m->cb.changed)
			m->cb.changed(m->userdata, change, path);
	}
	return 0;
}

static int on_properties_changed(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
	struct bz_model *m = userdata;
	const char *path = sd_bus_message_get_path(msg), *iface, *inval;
	enum bz_change change;
	void *obj;
	prop_fn fn;

	(void)error;
	if (!m->loaded || !path || sd_bus_message_read(msg, "s", &iface) < 0)
		return 0;
	if (!strcmp(iface, BZ_IFACE_CHR)) {
		obj = FIND(m->chrs, path);
		fn = chr_prop;
		change = BZ_CHR_CHANGED;
	} else if (!strcmp(iface, BZ_IFACE_DEVICE)) {
		obj = FIND(m->devices, path);
		fn = device_prop;
		change = BZ_DEVICE_CHANGED;
	} else if (!strcmp(iface, BZ_IFACE_ADAPTER)) {
		obj = FIND(m->adapters, path);
		fn = adapter_prop;
		change = BZ_ADAPTER_CHANGED;
	} else {
		return 0;
	}
	m->have_value = false;
	if (!obj || walk_props(m, obj, msg, fn) < 0)
		return 0;
	if (change == BZ_DEVICE_CHANGED && sd_bus_message_enter_container(msg, 'a', "s") >= 0) {
		while (sd_bus_message_read(msg, "s", &inval) > 0)
			if (!strcmp(inval, "RSSI"))
				((struct bz_device *)obj)->has_rssi = false;
	}
	/* One callback, and nothing after it: it may free the model. A
	 * notification (Value) is the hot path and carries nothing else. */
	if (m->have_value) {
		m->have_value = false;
		m->cb.value(m->userdata, path, m->value, m->value_len);
	} else if (m->cb.changed) {
		m->cb.changed(m->userdata, change, path);
	}
	return 0;
}

static int objects_reply(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
	struct bz_model *m = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(msg);
	int r;

	(void)error;
	m->load_slot = sd_bus_slot_unref(m->load_slot);
	if (e) {
		if (m->cb.loaded)
			m->cb.loaded(m->userdata, bz_error_errno(e), e);
		return 0;
	}
	model_clear(m);
	r = sd_bus_message_enter_container(msg, 'a', "{oa{sa{sv}}}");
	while (r >= 0 && (r = sd_bus_message_enter_container(msg, 'e', "oa{sa{sv}}")) > 0) {
		const char *path;

		r = sd_bus_message_read(msg, "o", &path);
		if (r >= 0)
			r = add_object(m, msg, path, false);
		if (r >= 0)
			r = sd_bus_message_exit_container(msg);
	}
	if (r < 0) {
		model_clear(m);
		if (m->cb.loaded)
			m->cb.loaded(m->userdata, r, NULL);
		return 0;
	}
	m->loaded = true;
	m->bluez_present = true;
	if (m->cb.loaded)
		m->cb.loaded(m->userdata, 0, NULL);
	return 0;
}

static int load(struct bz_model *m)
{
	m->load_slot = sd_bus_slot_unref(m->load_slot);
	return sd_bus_call_method_async(m->bus, &m->load_slot, "org.bluez", "/",
					"org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
					objects_reply, m, "");
}

static int on_name_owner_changed(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
	struct bz_model *m = userdata;
	const char *name, *old_owner, *new_owner;

	(void)error;
	if (sd_bus_message_read(msg, "sss", &name, &old_owner, &new_owner) < 0 ||
	    strcmp(name, "org.bluez") != 0)
		return 0;
	if (new_owner[0])
		load(m);
	if (old_owner[0] && (m->loaded || m->bluez_present)) {
		model_clear(m);
		m->bluez_present = false;
		/* Last: the callback may free the model. */
		if (m->cb.gone)
			m->cb.gone(m->userdata);
	}
	return 0;
}

int bz_model_start(struct bz_model *m, sd_bus *bus, const struct bz_model_callbacks *cb,
		   void *userdata)
{
	int r;

	memset(m, 0, sizeof(*m));
	m->bus = bus;
	m->cb = *cb;
	m->userdata = userdata;
	r = sd_bus_match_signal_async(bus, &m->slots[0], "org.bluez", "/",
				      "org.freedesktop.DBus.ObjectManager", "InterfacesAdded",
				      on_interfaces_added, NULL, m);
	if (r >= 0)
		r = sd_bus_match_signal_async(bus, &m->slots[1], "org.bluez", "/",
					      "org.freedesktop.DBus.ObjectManager",
					      "InterfacesRemoved", on_interfaces_removed, NULL, m);
	if (r >= 0)
		r = sd_bus_add_match_async(bus, &m->slots[2],
					   "type='signal',sender='org.bluez',"
					   "interface='org.freedesktop.DBus.Properties',"
					   "member='PropertiesChanged',path_namespace='/org/bluez'",
					   on_properties_changed, NULL, m);
	if (r >= 0)
		r = sd_bus_add_match_async(bus, &m->slots[3],
					   "type='signal',sender='org.freedesktop.DBus',"
					   "path='/org/freedesktop/DBus',"
					   "interface='org.freedesktop.DBus',member='NameOwnerChanged',"
					   "arg0='org.bluez'",
					   on_name_owner_changed, NULL, m);
	if (r >= 0)
		r = load(m);
	if (r < 0)
		bz_model_free(m);
	return r;
}

void bz_model_free(struct bz_model *m)
{
	size_t i;

	for (i = 0; i < sizeof(m->slots) / sizeof(m->slots[0]); i++)
		m->slots[i] = sd_bus_slot_unref(m->slots[i]);
	m->load_slot = sd_bus_slot_unref(m->load_slot);
	m->refresh_slot = sd_bus_slot_unref(m->refresh_slot);
	free(m->refresh_path);
	m->refresh_path = NULL;
	model_clear(m);
}

static int refresh_reply(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
	struct bz_model *m = userdata;
	struct bz_device *d;

	(void)error;
	m->refresh_slot = sd_bus_slot_unref(m->refresh_slot);
	d = m->loaded && m->refresh_path && !sd_bus_message_is_method_error(msg, NULL)
		    ? FIND(m->devices, m->refresh_path) : NULL;
	if (d && walk_props(m, d, msg, device_prop) >= 0 && m->cb.changed)
		m->cb.changed(m->userdata, BZ_DEVICE_CHANGED, d->path);
	return 0;
}

int bz_model_refresh_device(struct bz_model *m, const char *path)
{
	char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	m->refresh_slot = sd_bus_slot_unref(m->refresh_slot);
	free(m->refresh_path);
	m->refresh_path = p;
	return sd_bus_call_method_async(m->bus, &m->refresh_slot, "org.bluez", path, BZ_IFACE_PROPS,
					"GetAll", refresh_reply, m, "s", BZ_IFACE_DEVICE);
}

struct bz_adapter *bz_model_adapter(struct bz_model *m, const char *name)
{
	struct bz_adapter *a;

	for (a = m->adapters; a; a = a->next)
		if (!name || !strcmp(a->name, name))
			return a;
	return NULL;
}

struct bz_device *bz_model_device(struct bz_model *m, const char *adapter_path,
				  const char *address)
{
	struct bz_device *d;

	for (d = m->devices; d; d = d->next)
		if (d->adapter && !strcmp(d->adapter, adapter_path) &&
		    !strcasecmp(d->address, address))
			return d;
	return NULL;
}

struct bz_device *bz_model_device_by_path(struct bz_model *m, const char *path)
{
	return FIND(m->devices, path);
}

struct bz_chr *bz_model_chr(struct bz_model *m, const char *device_path, const char *service_uuid,
			    const char *chr_uuid)
{
	struct bz_service *s;
	struct bz_chr *c;

	for (s = m->services; s; s = s->next) {
		if (!s->device || !s->uuid || strcmp(s->device, device_path) ||
		    strcasecmp(s->uuid, service_uuid))
			continue;
		for (c = m->chrs; c; c = c->next)
			if (c->service && c->uuid && !strcmp(c->service, s->path) &&
			    !strcasecmp(c->uuid, chr_uuid))
				return c;
	}
	return NULL;
}

bool bz_device_has_uuid(const struct bz_device *d, const char *uuid)
{
	char **u;

	for (u = d->uuids; u && *u; u++)
		if (!strcasecmp(*u, uuid))
			return true;
	return false;
}

bool bz_device_bonded(const struct bz_device *d)
{
	return d->have_bonded ? d->bonded : d->paired;
}
