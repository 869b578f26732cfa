/*
 * The one place where bluetoothd's and the bus's errors become -errno and a
 * sentence a user can act on.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "bluez_internal.h"

static bool named(const sd_bus_error *e, const char *name)
{
	return e && e->name && !strcmp(e->name, name);
}

static bool says(const sd_bus_error *e, const char *text)
{
	return e && e->message && strcasestr(e->message, text);
}

int bz_error_errno(const sd_bus_error *e)
{
	int r;

	if (!e || !e->name)
		return -EIO;
	if (named(e, SD_BUS_ERROR_SERVICE_UNKNOWN) || named(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
		return -EHOSTDOWN;
	if (named(e, SD_BUS_ERROR_ACCESS_DENIED) || named(e, "org.freedesktop.DBus.Error.AuthFailed"))
		return -EACCES;
	if (named(e, SD_BUS_ERROR_UNKNOWN_OBJECT) || named(e, SD_BUS_ERROR_UNKNOWN_METHOD) ||
	    named(e, SD_BUS_ERROR_UNKNOWN_INTERFACE) || named(e, "org.bluez.Error.DoesNotExist"))
		return -ENOENT;
	if (named(e, SD_BUS_ERROR_NO_REPLY) || named(e, SD_BUS_ERROR_TIMEOUT) ||
	    named(e, "org.freedesktop.DBus.Error.TimedOut") ||
	    named(e, "org.bluez.Error.AuthenticationTimeout"))
		return -ETIMEDOUT;
	if (named(e, "org.bluez.Error.NotReady"))
		return -ENETDOWN;
	if (named(e, "org.bluez.Error.InProgress"))
		return -EINPROGRESS;
	if (named(e, "org.bluez.Error.AlreadyExists"))
		return -EEXIST;
	if (named(e, "org.bluez.Error.AlreadyConnected"))
		return -EISCONN;
	if (named(e, "org.bluez.Error.NotConnected"))
		return -ENOTCONN;
	if (named(e, "org.bluez.Error.AuthenticationFailed"))
		return -EKEYREJECTED;
	if (named(e, "org.bluez.Error.AuthenticationRejected"))
		return -ECONNREFUSED;
	if (named(e, "org.bluez.Error.AuthenticationCanceled"))
		return -ECANCELED;
	if (named(e, "org.bluez.Error.NotPermitted") || named(e, "org.bluez.Error.NotAuthorized"))
		return -EPERM;
	if (named(e, "org.bluez.Error.NotSupported"))
		return -EOPNOTSUPP;
	if (named(e, "org.bluez.Error.InvalidArguments") || named(e, SD_BUS_ERROR_INVALID_ARGS))
		return -EINVAL;
	if (named(e, "org.bluez.Error.InvalidValueLength"))
		return -EMSGSIZE;
	if (named(e, "org.bluez.Error.ConnectionAttemptFailed") ||
	    says(e, "abort") || says(e, "connection refused"))
		return -ECONNABORTED;
	if (says(e, "timeout") || says(e, "timed out"))
		return -ETIMEDOUT;
	if (says(e, "key missing") || says(e, "pin or key"))
		return -EKEYREJECTED;
	r = sd_bus_error_get_errno(e);
	return r > 0 ? -r : -EIO;
}

const char *bz_error_hint(const sd_bus_error *e)
{
	switch (bz_error_errno(e)) {
	case -EHOSTDOWN:
		return "bluetoothd is not running: start it with 'sudo systemctl start bluetooth'";
	case -EACCES:
		return "the D-Bus policy does not let this user talk to bluetoothd: run as a user "
		       "allowed to use Bluetooth, or with sudo";
	case -ENETDOWN:
		return "the Bluetooth adapter is not ready; is it powered? 'bluetoothctl power on'";
	case -ECONNABORTED:
		return "the connection attempt was aborted; keep the roller switched on and close by";
	case -ETIMEDOUT:
		return "no answer in time; keep the roller switched on and close by";
	case -EKEYREJECTED:
		return "the roller rejected the keys; if it was reset or paired with another "
		       "computer, run 'roller forget <addr>' then 'roller pair <addr>'";
	case -EINPROGRESS:
		return "another program is doing the same right now (the desktop's Bluetooth "
		       "settings?); wait for it or close it";
	case -EPERM:
		return "not permitted by the roller: is it paired? 'roller pair <addr>'";
	default:
		return "";
	}
}

const char *bz_error_text(const sd_bus_error *e)
{
	if (!e)
		return "unknown error";
	if (e->message && e->message[0])
		return e->message;
	return e->name ? e->name : "unknown error";
}

int bluez_parse_address(const char *s, char out[18])
{
	int i;

	if (!s || strlen(s) != 17)
		return -EINVAL;
	for (i = 0; i < 17; i++) {
		if (i % 3 == 2) {
			if (s[i] != ':' && s[i] != '-')
				return -EINVAL;
			out[i] = ':';
		} else {
			if (!isxdigit((unsigned char)s[i]))
				return -EINVAL;
			out[i] = (char)toupper((unsigned char)s[i]);
		}
	}
	out[17] = '\0';
	return 0;
}

void bz_json_string(FILE *f, const char *s)
{
	const unsigned char *p;

	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

uint64_t bz_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void bz_bus_sync(sd_bus *bus)
{
	sd_bus_message *m = NULL;

	/* dbus-daemon drops what a client sent just before hanging up (it
	 * routes messages only from connections still active), so a last
	 * Disconnect could be lost: one round trip to the bus driver, which
	 * answers only after routing everything sent before. (GetId: the
	 * system bus policy refuses Peer.Ping to the driver.) */
	if (sd_bus_message_new_method_call(bus, &m, "org.freedesktop.DBus", "/org/freedesktop/DBus",
					   "org.freedesktop.DBus", "GetId") >= 0)
		sd_bus_call(bus, m, BZ_CLOSE_TIMEOUT_US, NULL, NULL);
	sd_bus_message_unref(m);
}
