/* Human-readable names for dumps, logs and the command line. */
#include <errno.h>
#include <string.h>

#include "roller/protocol.h"

static const char *const region_names[PROTO_REGION_LAST + 1] = {
	"none",     "calves", "shins",      "hamstrings", "quadriceps", "it-band",
	"glutes",   "lower-back", "upper-back", "shoulders", "neck",
};

const char *proto_region_str(uint8_t region)
{
	return region <= PROTO_REGION_LAST ? region_names[region] : "?";
}

int proto_region_parse(const char *name, uint8_t *region)
{
	uint8_t i;

	if (!name || !region)
		return -EINVAL;
	for (i = 0; i <= PROTO_REGION_LAST; i++) {
		if (strcmp(name, region_names[i]) == 0) {
			*region = i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *proto_type_str(uint8_t type)
{
	switch ((enum proto_type)type) {
	case PROTO_TYPE_MEASUREMENT:
		return "measurement";
	case PROTO_TYPE_EVENT:
		return "event";
	case PROTO_TYPE_CONTROL_REQUEST:
		return "control-request";
	case PROTO_TYPE_CONTROL_RESPONSE:
		return "control-response";
	case PROTO_TYPE_LOG_CHUNK:
		return "log-chunk";
	case PROTO_TYPE_INFO:
		return "info";
	case PROTO_TYPE_SESSION:
		return "session";
	}
	return "?";
}

const char *proto_event_str(uint8_t kind)
{
	switch ((enum proto_event_kind)kind) {
	case PROTO_EVENT_HOLD_START:
		return "hold-start";
	case PROTO_EVENT_HOLD_END:
		return "hold-end";
	case PROTO_EVENT_STATUS:
		return "status";
	case PROTO_EVENT_ERROR:
		return "error";
	case PROTO_EVENT_COUNTERS:
		return "counters";
	case PROTO_EVENT_BATTERY_LOW:
		return "battery-low";
	}
	return "?";
}

const char *proto_opcode_str(uint8_t opcode)
{
	switch ((enum proto_opcode)opcode) {
	case PROTO_OP_VERSION:
		return "version";
	case PROTO_OP_TARE:
		return "tare";
	case PROTO_OP_CALIBRATE:
		return "calibrate";
	case PROTO_OP_SET_CLOCK:
		return "set-clock";
	case PROTO_OP_START_SESSION:
		return "start-session";
	case PROTO_OP_STOP_SESSION:
		return "stop-session";
	case PROTO_OP_SET_HOLD:
		return "set-hold";
	case PROTO_OP_GET_HOLD:
		return "get-hold";
	case PROTO_OP_LOG_INFO:
		return "log-info";
	case PROTO_OP_LOG_READ:
		return "log-read";
	case PROTO_OP_LOG_ERASE:
		return "log-erase";
	case PROTO_OP_BATTERY:
		return "battery";
	case PROTO_OP_SLEEP:
		return "sleep";
	case PROTO_OP_RESEND_SAMPLES:
		return "resend-samples";
	case PROTO_OP_SET_SLEEP_TIMEOUT:
		return "set-sleep-timeout";
	}
	return "?";
}

const char *proto_calibration_str(uint8_t calibration)
{
	switch ((enum proto_calibration)calibration) {
	case PROTO_CAL_NONE:
		return "none";
	case PROTO_CAL_TARED:
		return "tared";
	case PROTO_CAL_VALID:
		return "valid";
	case PROTO_CAL_INVALID:
		return "invalid";
	}
	return "?";
}
