/*
 * The default agent. A roller has no display and no keyboard: Just Works
 * pairing, and on the responder side bluetoothd asks the *default* agent to
 * authorize it (RequestAuthorization). Without an agent that says yes,
 * pairing from the laptop fails after a timeout. Everything is accepted and
 * logged; passkeys and PIN codes cannot be entered on a roller.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "periph.h"

#define IFACE_AGENT "org.bluez.Agent1"
#define IFACE_AGENT_MANAGER "org.bluez.AgentManager1"

static int agent_reply(sd_bus_message *m, struct periph *p, const char *what,
		       sd_bus_error *error)
{
	const char *device = NULL;

	if (!periph_from_bluez(p, m, error))
		return -EACCES;
	if (sd_bus_message_peek_type(m, NULL, NULL) > 0 &&
	    sd_bus_message_read_basic(m, 'o', &device) < 0)
		device = NULL;
	periph_log(p, 0, "agent: %s %s: accepted", what, device ? device : "");
	return sd_bus_reply_method_return(m, "");
}

static int method_release(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct periph *p = userdata;

	if (!periph_from_bluez(p, m, error))
		return -EACCES;
	if (p->agent_registered)
		periph_log(p, 0, "agent released by bluetoothd");
	p->agent_registered = false;
	return sd_bus_reply_method_return(m, "");
}

static int method_request_authorization(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return agent_reply(m, userdata, "pairing request from", error);
}

static int method_request_confirmation(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return agent_reply(m, userdata, "passkey confirmation for", error);
}

static int method_authorize_service(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return agent_reply(m, userdata, "service authorization for", error);
}

static int method_display(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return agent_reply(m, userdata, "display request for", error);
}

static int method_reject(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct periph *p = userdata;

	if (!periph_from_bluez(p, m, error))
		return -EACCES;
	periph_log(p, 0, "agent: a PIN or passkey was asked for; a roller cannot enter one");
	return sd_bus_error_set(error, "org.bluez.Error.Rejected",
				"The roller has no keyboard (NoInputNoOutput)");
}

static int method_cancel(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct periph *p = userdata;

	if (!periph_from_bluez(p, m, error))
		return -EACCES;
	periph_log(p, 0, "agent: pairing canceled by bluetoothd");
	return sd_bus_reply_method_return(m, "");
}

static const sd_bus_vtable agent_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("Release", "", "", method_release, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("RequestPinCode", "o", "s", method_reject, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("DisplayPinCode", "os", "", method_display, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("RequestPasskey", "o", "u", method_reject, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("DisplayPasskey", "ouq", "", method_display, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("RequestConfirmation", "ou", "", method_request_confirmation, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("RequestAuthorization", "o", "", method_request_authorization, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("AuthorizeService", "os", "", method_authorize_service, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("Cancel", "", "", method_cancel, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END
};

int agent_export(struct periph *p)
{
	return sd_bus_add_object_vtable(p->bus, &p->agent_slot, PERIPH_AGENT_PATH, IFACE_AGENT,
					agent_vtable, p);
}

static int default_agent_reply(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct periph *p = userdata;

	return p->agent_done(m, userdata, error);
}

static int register_reply(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct periph *p = userdata;
	int r;

	if (sd_bus_message_is_method_error(m, NULL))
		return p->agent_done(m, userdata, error);
	p->agent_registered = true;
	r = sd_bus_call_method_async(p->bus, NULL, "org.bluez", "/org/bluez", IFACE_AGENT_MANAGER,
				     "RequestDefaultAgent", default_agent_reply, p, "o",
				     PERIPH_AGENT_PATH);
	if (r < 0)
		periph_fatal(p, "cannot ask for the default agent: %s", strerror(-r));
	return 0;
}

int agent_register(struct periph *p, sd_bus_message_handler_t done)
{
	p->agent_done = done;
	return sd_bus_call_method_async(p->bus, NULL, "org.bluez", "/org/bluez", IFACE_AGENT_MANAGER,
					"RegisterAgent", register_reply, p, "os", PERIPH_AGENT_PATH,
					"NoInputNoOutput");
}

int agent_unregister(struct periph *p, sd_bus_message_handler_t done)
{
	p->agent_registered = false;
	return sd_bus_call_method_async(p->bus, NULL, "org.bluez", "/org/bluez", IFACE_AGENT_MANAGER,
					"UnregisterAgent", done, p, "o", PERIPH_AGENT_PATH);
}
