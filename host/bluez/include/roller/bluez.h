/*
 * The BlueZ side of the host: the `bluez` transport (roller/transport.h)
 * and the Bluetooth subcommands of the `roller` CLI. Everything talks to
 * bluetoothd over the system D-Bus with sd-bus, asynchronously, on one
 * sd-event loop. Behaviour and the BlueZ pitfalls it handles:
 * host/bluez/README.md.
 */
#ifndef ROLLER_BLUEZ_H
#define ROLLER_BLUEZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roller/protocol.h"
#include "roller/transport.h"

/*
 * The transport (transport_find("bluez")).
 *
 * create(): opt->address (NULL: the default roller from the configuration,
 * see bluez_config_get_default()), opt->adapter (NULL: the first adapter),
 * opt->acquire_notify. Returns 0, -ENOMEM, -EINVAL (bad address), or the
 * -errno of sd_bus_open_system(). Everything else is reported through
 * events->state(), never before create() has returned:
 *   CONNECTING  once bluetoothd answered;
 *   CONNECTED   after the Info characteristic was read and delivered as a
 *               frame on RLOG_CH_INFO (on every connection);
 *   LINK_LOST   err -ECONNRESET: the link dropped after CONNECTED; the
 *               transport rescans and reconnects by itself (then
 *               CONNECTED again; the session asks RESEND_SAMPLES);
 *   CONNECTED with err != 0: a control write failed (detail says why);
 *               the link is still up;
 *   FAILED      err: -EHOSTDOWN bluetoothd not running, -EACCES D-Bus
 *               permission denied or the roller refused our keys, -ENODEV
 *               no (such) adapter, -ENETDOWN adapter powered off, -ENOENT
 *               no address and no default roller, -EPERM not paired,
 *               -ETIMEDOUT never reached (bluez_timing.give_up_ms).
 *               detail carries a sentence with a hint.
 * write_control(): requests are written one WriteValue at a time, in order;
 * up to 8 wait while bluetoothd has not answered the previous one (its answer
 * can come after the roller's response). Returns 0, -ENOTCONN, -EBUSY when 8
 * are waiting, -EMSGSIZE when len > MTU - 3, -EIO. Requests still waiting
 * when the link drops are discarded.
 */
extern const struct transport_ops bluez_transport_ops;
/* The same object under the name host/transport's registry uses. */
extern const struct transport_ops transport_bluez_ops;

/* Retry and timeout policy (milliseconds). Defaults in brackets. */
struct bluez_timing {
	uint32_t scan_restart_ms;   /* stop/start discovery when the roller was not seen [4000] */
	uint32_t backoff_first_ms;  /* first delay after a failed connect, doubled each time [500] */
	uint32_t backoff_max_ms;    /* [8000] */
	uint32_t connect_attempts;  /* failed connects before scanning again [5] */
	uint32_t resolve_ms;        /* connected, but no complete GATT service yet: retry [10000] */
	uint32_t give_up_ms;        /* first connection not made by then: FAILED [60000] */
	uint32_t call_timeout_ms;   /* Connect, Pair and GATT calls [30000] */
};

/* The current policy; bluez_set_timing(NULL) restores the defaults. For
 * tests and for the CLI's --timeout options. */
void bluez_get_timing(struct bluez_timing *out);
void bluez_set_timing(const struct bluez_timing *t);

/*
 * Subcommands. argv[0] is the subcommand name; each understands --help and
 * --adapter hciN. They run their own sd-event loop until done, print results
 * on stdout and errors (with a hint) on stderr, and return an exit code:
 */
#define BLUEZ_EXIT_OK 0
#define BLUEZ_EXIT_FAILURE 1           /* anything not listed below */
#define BLUEZ_EXIT_USAGE 2
#define BLUEZ_EXIT_NOT_FOUND 3         /* no such roller seen or known */
#define BLUEZ_EXIT_ALREADY_PAIRED 4    /* pair: nothing to do */
#define BLUEZ_EXIT_AUTH_FAILED 5       /* pair: authentication failed, canceled or timed out */
#define BLUEZ_EXIT_IN_PROGRESS 6       /* pair: another pairing is running */
#define BLUEZ_EXIT_BONDED_ELSEWHERE 7  /* pair: the roller refused (bonded to another host) */
#define BLUEZ_EXIT_NOT_PAIRED 8        /* needs `roller pair` first */
#define BLUEZ_EXIT_NO_BLUETOOTH 9      /* no adapter, adapter off, bluetoothd down, D-Bus denied */
#define BLUEZ_EXIT_UNREACHABLE 10      /* paired, but could not connect in time */
#define BLUEZ_EXIT_REFUSED 11          /* the roller answered a request with an error status */

/* roller scan [--json] [--timeout S]: rollers found by service UUID. */
int bluez_cmd_scan(int argc, char **argv);
/* roller pair <addr> [--passkey] [--yes] [--timeout S]: pairs and bonds, marks
 * the roller trusted and makes it the default roller. */
int bluez_cmd_pair(int argc, char **argv);
/* roller forget <addr>: removes the bond (and the default if it was). */
int bluez_cmd_forget(int argc, char **argv);
/* roller devices [--json]: rollers this computer knows. */
int bluez_cmd_devices(int argc, char **argv);
/* roller status [<addr>] [--json]: connection, battery, versions, calibration. */
int bluez_cmd_status(int argc, char **argv);
/* roller tare [<addr>]: zero the roller (nothing on it, still). */
int bluez_cmd_tare(int argc, char **argv);
/* roller calibrate [<addr>] [--weight KG] [--yes]: tare, then scale with a
 * known weight, guided step by step. */
int bluez_cmd_calibrate(int argc, char **argv);

/*
 * The default roller, kept as `default=` in section [roller] of
 * $XDG_CONFIG_HOME/roller/config.ini (~/.config/roller/config.ini); the rest
 * of the file is preserved.
 * get: 0 and the address in out, -ENOENT when none, -ENAMETOOLONG, -errno.
 * set: 0 or -errno (NULL address removes the entry).
 */
int bluez_config_get_default(char *out, size_t cap);
int bluez_config_set_default(const char *address);

/* Normalises "aa:bb:cc:dd:ee:ff" to upper case into out[18]. Returns 0 or
 * -EINVAL when it is not a Bluetooth address. */
int bluez_parse_address(const char *s, char out[18]);

#endif
