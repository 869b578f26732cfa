/*
 * The advertisement: connectable, general discoverable, the Roller service
 * UUID and a short name, kept within the 31 bytes of legacy advertising data
 * so that BT 4.x centrals see it (pitfall 15) and so that it fits controllers
 * without extended advertising data (btvirt in the QEMU rig).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "periph.h"

#define IFACE_ADV "org.bluez.LEAdvertisement1"
#define IFACE_ADV_MANAGER "org.bluez.LEAdvertisingManager1"

size_t advert_legacy_size(const char *name)
{
	/* flags (3) + complete list of 128-bit UUIDs (2 + 16) + name (2 + n) */
	return 3u + 18u + 2u + strlen(name);
}

static int prop_adv(sd_bus *bus, const char *path, const char *interface,
		    const char *property, sd_bus_message *reply, void *userdata,
		    sd_bus_error *error)
{
	struct periph *p = userdata;

	(void)bus, (void)path, (void)interface, (void)error;
	if (strcmp(property, "Type") == 0)
		return sd_bus_message_append(reply, "s", "peripheral");
	if (strcmp(property, "ServiceUUIDs") == 0)
		return sd_bus_message_append(reply, "as", 1, PROTO_UUID_SERVICE);
	if (strcmp(property, "LocalName") == 0)
		return sd_bus_message_append(reply, "s", p->opt.name);
	if (strcmp(property, "Discoverable") == 0)
		return sd_bus_message_append(reply, "b", 1);
	if (strcmp(property, "Includes") == 0)
		return sd_bus_message_append(reply, "as", 0);
	return -ENOENT;
}

static int method_release(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct periph *p = userdata;

	if (!periph_from_bluez(p, m, error))
		return -EACCES;
	if (p->adv_registered)
		periph_log(p, 0, "bluetoothd released the advertisement");
	p->adv_registered = false;
	return sd_bus_reply_method_return(m, "");
}

static const sd_bus_vtable adv_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Type", "s", prop_adv, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("ServiceUUIDs", "as", prop_adv, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("LocalName", "s", prop_adv, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Discoverable", "b", prop_adv, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Includes", "as", prop_adv, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_METHOD("Release", "", "", method_release, SD_BUS_VTABLE_METHOD_NO_REPLY | SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END
};

int advert_export(struct periph *p)
{
	return sd_bus_add_object_vtable(p->bus, &p->adv_slot, PERIPH_ADV_PATH, IFACE_ADV,
					adv_vtable, p);
}

int advert_register(struct periph *p, sd_bus_message_handler_t done)
{
	return sd_bus_call_method_async(p->bus, NULL, "org.bluez", p->adapter_path,
					IFACE_ADV_MANAGER, "RegisterAdvertisement", done, p,
					"oa{sv}", PERIPH_ADV_PATH, 0);
}

int advert_unregister(struct periph *p, sd_bus_message_handler_t done)
{
	return sd_bus_call_method_async(p->bus, NULL, "org.bluez", p->adapter_path,
					IFACE_ADV_MANAGER, "UnregisterAdvertisement", done, p,
					"o", PERIPH_ADV_PATH);
}
