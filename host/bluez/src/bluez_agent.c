/*
 * Our own org.bluez.Agent1 (pitfall 7): registered by `roller pair` and by
 * the transport while it connects (pitfall 14), so that bluetoothd never
 * depends on a desktop agent that may not exist.
 *
 * NoInputNoOutput (the default): Just Works; authorisations are accepted,
 * since the user asked for this pairing. KeyboardDisplay (pair --passkey):
 * passkeys are typed or shown on the terminal, numeric comparisons asked
 * (or accepted with --yes). A question waits for the terminal without
 * blocking the loop: the D-Bus reply is sent when the line arrives.
 *
 * Who may call: on the system bus only bluetoothd is allowed to send to
 * org.bluez.Agent1 objects (bluetooth.conf), so the methods need no check.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "bluez_internal.h"

static unsigned agent_counter;

static void prompt_end(struct bz_agent *a)
{
	a->stdin_source = sd_event_source_disable_unref(a->stdin_source);
	a->pending = sd_bus_message_unref(a->pending);
	a->line_len = 0;
}

static void answer(struct bz_agent *a, const char *line)
{
	sd_bus_message *m = a->pending;
	const char *member = sd_bus_message_get_member(m);

	if (!strcmp(member, "RequestPasskey")) {
		char *end;
		unsigned long v = strtoul(line, &end, 10);

		if (end == line || *end || v > 999999) {
			fprintf(stderr, "roller: not a 6-digit passkey; pairing refused\n");
			a->declined = true;
			sd_bus_reply_method_errorf(m, "org.bluez.Error.Rejected", "No passkey");
		} else {
			sd_bus_reply_method_return(m, "u", (uint32_t)v);
		}
	} else if (line[0] == 'y' || line[0] == 'Y') {
		sd_bus_reply_method_return(m, "");
	} else {
		a->declined = true;
		sd_bus_reply_method_errorf(m, "org.bluez.Error.Rejected", "Declined by the user");
	}
	prompt_end(a);
}

static int stdin_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct bz_agent *a = userdata;
	char c;

	(void)s;
	for (;;) {
		ssize_t n = read(fd, &c, 1);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
		    (revents & EPOLLHUP && n <= 0)) {
			a->line[a->line_len] = '\0';
			answer(a, a->line);
			return 0;
		}
		if (n < 0)
			return 0;
		if (c == '\n') {
			a->line[a->line_len] = '\0';
			answer(a, a->line);
			return 0;
		}
		if (a->line_len < sizeof(a->line) - 1)
			a->line[a->line_len++] = c;
	}
}

/* Asks on the terminal; the reply to m goes out when a line is read. */
static int ask(struct bz_agent *a, sd_bus_message *m, const char *question)
{
	int r;

	if (a->pending)
		return sd_bus_reply_method_errorf(m, "org.bluez.Error.Rejected", "Busy");
	fputs(question, stdout);
	fflush(stdout);
	r = sd_event_add_io(a->ev, &a->stdin_source, STDIN_FILENO, EPOLLIN, stdin_ready, a);
	if (r < 0) {
		/* stdin is a file that epoll refuses: read it at once. */
		char line[64] = "";

		if (!fgets(line, sizeof(line), stdin))
			line[0] = '\0';
		line[strcspn(line, "\r\n")] = '\0';
		a->pending = sd_bus_message_ref(m);
		answer(a, line);
		return 1;
	}
	a->pending = sd_bus_message_ref(m);
	a->line_len = 0;
	return 1;
}

static int m_release(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bz_agent *a = userdata;

	(void)error;
	a->registered = false;
	return sd_bus_reply_method_return(m, "");
}

static int m_request_passkey(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bz_agent *a = userdata;

	(void)error;
	a->requests++;
	if (!a->interactive)
		return sd_bus_reply_method_errorf(m, "org.bluez.Error.Rejected",
						  "No keyboard (NoInputNoOutput)");
	return ask(a, m, "Enter the passkey shown on the roller: ");
}

static int m_request_pin(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bz_agent *a = userdata;

	(void)error;
	a->requests++;
	return sd_bus_reply_method_errorf(m, "org.bluez.Error.Rejected",
					  "PIN codes are not used by LE rollers");
}

static int m_display_passkey(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bz_agent *a = userdata;
	const char *dev;
	uint32_t passkey;
	uint16_t entered;

	(void)error;
	a->requests++;
	if (sd_bus_message_read(m, "ouq", &dev, &passkey, &entered) >= 0 && entered == 0)
		printf("Type this passkey on the roller: %06u\n", passkey);
	return sd_bus_reply_method_return(m, "");
}

static int m_display_pin(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bz_agent *a = userdata;
	const char *dev, *pin;

	(void)error;
	a->requests++;
	if (sd_bus_message_read(m, "os", &dev, &pin) >= 0)
		printf("PIN code: %s\n", pin);
	return sd_bus_reply_method_return(m, "");
}

static int m_request_confirmation(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bz_agent *a = userdata;
	const char *dev;
	uint32_t passkey = 0;
	char q[128];

	(void)error;
	a->requests++;
	if (sd_bus_message_read(m, "ou", &dev, &passkey) < 0)
		return -EINVAL;
	if (!a->interactive || a->assume_yes) {
		if (a->interactive)
			printf("Passkey %06u: accepted (--yes)\n", passkey);
		return sd_bus_reply_method_return(m, "");
	}
	snprintf(q, sizeof(q), "Does the roller show %06u? [y/N] ", passkey);
	return ask(a, m, q);
}

static int m_accept(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bz_agent *a = userdata;

	(void)error;
	a->requests++;
	/* We initiated this: Just Works authorisation and service access are
	 * what the user asked for. */
	return sd_bus_reply_method_return(m, "");
}

static int m_cancel(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bz_agent *a = userdata;

	(void)error;
	if (a->pending) {
		fputs("\n", stdout);
		fprintf(stderr, "roller: bluetoothd canceled the request\n");
		sd_bus_reply_method_errorf(a->pending, "org.bluez.Error.Canceled", "Canceled");
		prompt_end(a);
	}
	return sd_bus_reply_method_return(m, "");
}

static const sd_bus_vtable agent_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("Release", "", "", m_release, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("RequestPinCode", "o", "s", m_request_pin, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("DisplayPinCode", "os", "", m_display_pin, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("RequestPasskey", "o", "u", m_request_passkey, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("DisplayPasskey", "ouq", "", m_display_passkey, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("RequestConfirmation", "ou", "", m_request_confirmation, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("RequestAuthorization", "o", "", m_accept, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("AuthorizeService", "os", "", m_accept, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("Cancel", "", "", m_cancel, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END
};

static int registered(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bz_agent *a = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);

	(void)error;
	a->call_slot = sd_bus_slot_unref(a->call_slot);
	if (e)
		fprintf(stderr, "roller: could not register the pairing agent: %s\n",
			bz_error_text(e));
	else
		a->registered = true;
	return 0;
}

int bz_agent_start(struct bz_agent *a, sd_bus *bus, sd_event *ev, const char *capability,
		   bool interactive, bool assume_yes)
{
	int r;

	memset(a, 0, sizeof(*a));
	a->bus = bus;
	a->ev = ev;
	a->capability = capability;
	a->interactive = interactive;
	a->assume_yes = assume_yes;
	snprintf(a->path, sizeof(a->path), "/org/roller/agent%u_%u", (unsigned)getpid(),
		 ++agent_counter);
	r = sd_bus_add_object_vtable(bus, &a->object_slot, a->path, BZ_IFACE_AGENT, agent_vtable, a);
	if (r < 0)
		return r;
	return sd_bus_call_method_async(bus, &a->call_slot, "org.bluez", "/org/bluez",
					BZ_IFACE_AGENT_MANAGER, "RegisterAgent", registered, a, "os",
					a->path, capability);
}

void bz_agent_stop(struct bz_agent *a)
{
	if (!a->bus)
		return;
	if (a->pending) {
		sd_bus_reply_method_errorf(a->pending, "org.bluez.Error.Canceled", "Canceled");
		prompt_end(a);
	}
	a->call_slot = sd_bus_slot_unref(a->call_slot);
	if (a->registered)
		sd_bus_call_method_async(a->bus, NULL, "org.bluez", "/org/bluez",
					 BZ_IFACE_AGENT_MANAGER, "UnregisterAgent", NULL, NULL, "o",
					 a->path);
	a->registered = false;
	a->object_slot = sd_bus_slot_unref(a->object_slot);
	a->bus = NULL;
}
