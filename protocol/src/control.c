/*
 * Control point requests and responses, and the one mapping between the
 * wire status codes and errno.
 */
#include <errno.h>

#include "wire.h"

bool proto_opcode_needs_auth(uint8_t opcode)
{
	switch ((enum proto_opcode)opcode) {
	case PROTO_OP_VERSION:
	case PROTO_OP_GET_HOLD:
	case PROTO_OP_LOG_INFO:
	case PROTO_OP_LOG_READ:
	case PROTO_OP_BATTERY:
		return false;
	case PROTO_OP_TARE:
	case PROTO_OP_CALIBRATE:
	case PROTO_OP_SET_CLOCK:
	case PROTO_OP_START_SESSION:
	case PROTO_OP_STOP_SESSION:
	case PROTO_OP_SET_HOLD:
	case PROTO_OP_LOG_ERASE:
	case PROTO_OP_SLEEP:
	case PROTO_OP_RESEND_SAMPLES:
	case PROTO_OP_SET_SLEEP_TIMEOUT:
		return true;
	}
	/* Unknown opcodes are refused by whoever checks first. */
	return true;
}

int proto_hold_params_check(const struct proto_hold_params *p)
{
	if (!p)
		return -EINVAL;
	if (p->contact < 1 || p->band_low <= p->contact || p->band_high <= p->band_low ||
	    p->band_high > PROTO_FORCE_MAX_DN || p->hold_s < 1 || p->hold_s > 3600 ||
	    p->grace_ms > 10000)
		return -ERANGE;
	return 0;
}

static void put_hold(struct wire_writer *w, const struct proto_hold_params *p)
{
	wire_put_u16(w, p->band_low);
	wire_put_u16(w, p->band_high);
	wire_put_u16(w, p->hold_s);
	wire_put_u16(w, p->grace_ms);
	wire_put_u16(w, p->contact);
}

static void get_hold(struct wire_reader *r, struct proto_hold_params *p)
{
	p->band_low = wire_u16(r);
	p->band_high = wire_u16(r);
	p->hold_s = wire_u16(r);
	p->grace_ms = wire_u16(r);
	p->contact = wire_u16(r);
}

static bool opcode_known(uint8_t opcode)
{
	return opcode >= PROTO_OP_VERSION && opcode <= PROTO_OP_LAST;
}

/* Range checks of request parameters; shared by encoder and decoder. */
static int request_check(const struct proto_control_request *r)
{
	switch ((enum proto_opcode)r->opcode) {
	case PROTO_OP_CALIBRATE:
		return r->u.calibrate.load == 0 ? -ERANGE : 0;
	case PROTO_OP_START_SESSION:
		return r->u.start_session.region > PROTO_REGION_LAST ? -ERANGE : 0;
	case PROTO_OP_SET_HOLD:
		return proto_hold_params_check(&r->u.set_hold);
	case PROTO_OP_RESEND_SAMPLES:
		return (r->u.resend.count == 0 || r->u.resend.count > PROTO_RESEND_MAX) ?
			       -ERANGE : 0;
	case PROTO_OP_VERSION:
	case PROTO_OP_TARE:
	case PROTO_OP_SET_CLOCK:
	case PROTO_OP_STOP_SESSION:
	case PROTO_OP_GET_HOLD:
	case PROTO_OP_LOG_INFO:
	case PROTO_OP_LOG_READ:
	case PROTO_OP_LOG_ERASE:
	case PROTO_OP_BATTERY:
	case PROTO_OP_SLEEP:
	case PROTO_OP_SET_SLEEP_TIMEOUT:
		return 0;
	}
	return -EOPNOTSUPP;
}

int proto_request_encode(const struct proto_control_request *r, uint8_t *out,
			 size_t cap, size_t *written)
{
	struct wire_writer w;

	if (!r || !out || !written)
		return -EINVAL;
	if (request_check(r))
		return -ERANGE;
	wire_begin(&w, out, cap, PROTO_TYPE_CONTROL_REQUEST);
	wire_put_u8(&w, r->opcode);
	wire_put_u8(&w, r->token);
	switch ((enum proto_opcode)r->opcode) {
	case PROTO_OP_CALIBRATE:
		wire_put_u16(&w, r->u.calibrate.load);
		break;
	case PROTO_OP_SET_CLOCK:
		wire_put_u32(&w, r->u.set_clock.unix_time);
		break;
	case PROTO_OP_START_SESSION:
		wire_put_u8(&w, r->u.start_session.region);
		break;
	case PROTO_OP_SET_HOLD:
		put_hold(&w, &r->u.set_hold);
		break;
	case PROTO_OP_LOG_READ:
		wire_put_u32(&w, r->u.log_read.first_record);
		wire_put_u16(&w, r->u.log_read.count);
		wire_put_u16(&w, r->u.log_read.offset);
		break;
	case PROTO_OP_LOG_ERASE:
		wire_put_u32(&w, r->u.log_erase.end_record);
		break;
	case PROTO_OP_RESEND_SAMPLES:
		wire_put_u32(&w, r->u.resend.first_sample);
		wire_put_u16(&w, r->u.resend.count);
		break;
	case PROTO_OP_SET_SLEEP_TIMEOUT:
		wire_put_u16(&w, r->u.sleep_timeout.seconds);
		break;
	case PROTO_OP_VERSION:
	case PROTO_OP_TARE:
	case PROTO_OP_STOP_SESSION:
	case PROTO_OP_GET_HOLD:
	case PROTO_OP_LOG_INFO:
	case PROTO_OP_BATTERY:
	case PROTO_OP_SLEEP:
		break;
	}
	return wire_close(&w, written);
}

int proto_request_decode(const uint8_t *buf, size_t len,
			 struct proto_control_request *r)
{
	struct wire_reader rd;
	int err;

	if (!buf || !r)
		return -EINVAL;
	err = wire_open(&rd, buf, len, PROTO_TYPE_CONTROL_REQUEST);
	if (err)
		return err;
	r->opcode = wire_u8(&rd);
	r->token = wire_u8(&rd);
	if (rd.overrun)
		return -EBADMSG;
	switch ((enum proto_opcode)r->opcode) {
	case PROTO_OP_CALIBRATE:
		r->u.calibrate.load = wire_u16(&rd);
		break;
	case PROTO_OP_SET_CLOCK:
		r->u.set_clock.unix_time = wire_u32(&rd);
		break;
	case PROTO_OP_START_SESSION:
		r->u.start_session.region = wire_u8(&rd);
		break;
	case PROTO_OP_SET_HOLD:
		get_hold(&rd, &r->u.set_hold);
		break;
	case PROTO_OP_LOG_READ:
		r->u.log_read.first_record = wire_u32(&rd);
		r->u.log_read.count = wire_u16(&rd);
		r->u.log_read.offset = wire_u16(&rd);
		break;
	case PROTO_OP_LOG_ERASE:
		r->u.log_erase.end_record = wire_u32(&rd);
		break;
	case PROTO_OP_RESEND_SAMPLES:
		r->u.resend.first_sample = wire_u32(&rd);
		r->u.resend.count = wire_u16(&rd);
		break;
	case PROTO_OP_SET_SLEEP_TIMEOUT:
		r->u.sleep_timeout.seconds = wire_u16(&rd);
		break;
	case PROTO_OP_VERSION:
	case PROTO_OP_TARE:
	case PROTO_OP_STOP_SESSION:
	case PROTO_OP_GET_HOLD:
	case PROTO_OP_LOG_INFO:
	case PROTO_OP_BATTERY:
	case PROTO_OP_SLEEP:
		break;
	default:
		return -EOPNOTSUPP;
	}
	err = wire_finish(&rd);
	if (err)
		return err;
	/* -ERANGE, not -EBADMSG: the device answers BAD_PARAM, not BAD_LENGTH. */
	return request_check(r) ? -ERANGE : 0;
}

static int response_check(const struct proto_control_response *r)
{
	if (r->status > PROTO_STATUS_LAST)
		return -ERANGE;
	if (r->status != PROTO_STATUS_OK)
		return 0; /* no result; any opcode may be echoed */
	if (!opcode_known(r->opcode))
		return -EOPNOTSUPP;
	if (r->opcode == PROTO_OP_SET_HOLD || r->opcode == PROTO_OP_GET_HOLD)
		return proto_hold_params_check(&r->u.hold);
	if (r->opcode == PROTO_OP_BATTERY && r->u.battery.percent > 100)
		return -ERANGE;
	if (r->opcode == PROTO_OP_VERSION && r->u.version.calibration > PROTO_CAL_INVALID)
		return -ERANGE;
	return 0;
}

int proto_response_encode(const struct proto_control_response *r, uint8_t *out,
			  size_t cap, size_t *written)
{
	struct wire_writer w;

	if (!r || !out || !written)
		return -EINVAL;
	if (response_check(r))
		return -ERANGE;
	wire_begin(&w, out, cap, PROTO_TYPE_CONTROL_RESPONSE);
	wire_put_u8(&w, r->opcode);
	wire_put_u8(&w, r->token);
	wire_put_u8(&w, r->status);
	if (r->status != PROTO_STATUS_OK)
		return wire_close(&w, written);
	switch ((enum proto_opcode)r->opcode) {
	case PROTO_OP_VERSION:
		wire_put_u8(&w, r->u.version.proto_major);
		wire_put_u8(&w, r->u.version.proto_minor);
		wire_put_u8(&w, r->u.version.fw_major);
		wire_put_u8(&w, r->u.version.fw_minor);
		wire_put_u8(&w, r->u.version.fw_patch);
		wire_put_u8(&w, r->u.version.calibration);
		wire_put_u16(&w, r->u.version.capabilities);
		break;
	case PROTO_OP_CALIBRATE:
		wire_put_i32(&w, r->u.calibrate.scale);
		break;
	case PROTO_OP_START_SESSION:
	case PROTO_OP_STOP_SESSION:
		wire_put_u16(&w, r->u.session.session_id);
		break;
	case PROTO_OP_SET_HOLD:
	case PROTO_OP_GET_HOLD:
		put_hold(&w, &r->u.hold);
		break;
	case PROTO_OP_LOG_INFO:
		wire_put_u32(&w, r->u.log_info.first_record);
		wire_put_u32(&w, r->u.log_info.end_record);
		wire_put_u16(&w, r->u.log_info.sessions);
		break;
	case PROTO_OP_LOG_READ:
		wire_put_u32(&w, r->u.log_read.records);
		break;
	case PROTO_OP_BATTERY:
		wire_put_u16(&w, r->u.battery.millivolts);
		wire_put_u8(&w, r->u.battery.percent);
		wire_put_u8(&w, r->u.battery.flags);
		break;
	case PROTO_OP_RESEND_SAMPLES:
		wire_put_u16(&w, r->u.resend.count);
		break;
	case PROTO_OP_TARE:
	case PROTO_OP_SET_CLOCK:
	case PROTO_OP_LOG_ERASE:
	case PROTO_OP_SLEEP:
	case PROTO_OP_SET_SLEEP_TIMEOUT:
		break;
	}
	return wire_close(&w, written);
}

int proto_response_decode(const uint8_t *buf, size_t len,
			  struct proto_control_response *r)
{
	struct wire_reader rd;
	int err;

	if (!buf || !r)
		return -EINVAL;
	err = wire_open(&rd, buf, len, PROTO_TYPE_CONTROL_RESPONSE);
	if (err)
		return err;
	r->opcode = wire_u8(&rd);
	r->token = wire_u8(&rd);
	r->status = wire_u8(&rd);
	if (rd.overrun || r->status > PROTO_STATUS_LAST)
		return -EBADMSG;
	if (r->status != PROTO_STATUS_OK)
		return wire_finish(&rd);
	switch ((enum proto_opcode)r->opcode) {
	case PROTO_OP_VERSION:
		r->u.version.proto_major = wire_u8(&rd);
		r->u.version.proto_minor = wire_u8(&rd);
		r->u.version.fw_major = wire_u8(&rd);
		r->u.version.fw_minor = wire_u8(&rd);
		r->u.version.fw_patch = wire_u8(&rd);
		r->u.version.calibration = wire_u8(&rd);
		r->u.version.capabilities = wire_u16(&rd);
		break;
	case PROTO_OP_CALIBRATE:
		r->u.calibrate.scale = wire_i32(&rd);
		break;
	case PROTO_OP_START_SESSION:
	case PROTO_OP_STOP_SESSION:
		r->u.session.session_id = wire_u16(&rd);
		break;
	case PROTO_OP_SET_HOLD:
	case PROTO_OP_GET_HOLD:
		get_hold(&rd, &r->u.hold);
		break;
	case PROTO_OP_LOG_INFO:
		r->u.log_info.first_record = wire_u32(&rd);
		r->u.log_info.end_record = wire_u32(&rd);
		r->u.log_info.sessions = wire_u16(&rd);
		break;
	case PROTO_OP_LOG_READ:
		r->u.log_read.records = wire_u32(&rd);
		break;
	case PROTO_OP_BATTERY:
		r->u.battery.millivolts = wire_u16(&rd);
		r->u.battery.percent = wire_u8(&rd);
		r->u.battery.flags = wire_u8(&rd);
		break;
	case PROTO_OP_RESEND_SAMPLES:
		r->u.resend.count = wire_u16(&rd);
		break;
	case PROTO_OP_TARE:
	case PROTO_OP_SET_CLOCK:
	case PROTO_OP_LOG_ERASE:
	case PROTO_OP_SLEEP:
	case PROTO_OP_SET_SLEEP_TIMEOUT:
		break;
	default:
		return -EOPNOTSUPP;
	}
	err = wire_finish(&rd);
	if (err)
		return err;
	return response_check(r) ? -EBADMSG : 0;
}

/* ---- Status ---- */

int proto_status_to_errno(uint8_t status)
{
	switch ((enum proto_status)status) {
	case PROTO_STATUS_OK:
		return 0;
	case PROTO_STATUS_UNKNOWN_OPCODE:
		return -EOPNOTSUPP;
	case PROTO_STATUS_BAD_LENGTH:
		return -EBADMSG;
	case PROTO_STATUS_BAD_PARAM:
		return -ERANGE;
	case PROTO_STATUS_NOT_AUTHORIZED:
		return -EACCES;
	case PROTO_STATUS_BUSY:
		return -EBUSY;
	case PROTO_STATUS_INVALID_STATE:
		return -EALREADY;
	case PROTO_STATUS_NOT_FOUND:
		return -ENOENT;
	case PROTO_STATUS_STORAGE_ERROR:
		return -EIO;
	case PROTO_STATUS_UNSUPPORTED_VERSION:
		return -EPROTONOSUPPORT;
	case PROTO_STATUS_INTERNAL:
		return -EFAULT;
	}
	return -EIO;
}

uint8_t proto_status_from_errno(int err)
{
	if (err > 0)
		err = -err;
	switch (err) {
	case 0:
		return PROTO_STATUS_OK;
	case -EOPNOTSUPP:
		return PROTO_STATUS_UNKNOWN_OPCODE;
	case -EBADMSG:
		return PROTO_STATUS_BAD_LENGTH;
	case -ERANGE:
	case -EINVAL:
		return PROTO_STATUS_BAD_PARAM;
	case -EACCES:
	case -EPERM:
		return PROTO_STATUS_NOT_AUTHORIZED;
	case -EBUSY:
	case -EAGAIN:
		return PROTO_STATUS_BUSY;
	case -EALREADY:
		return PROTO_STATUS_INVALID_STATE;
	case -ENOENT:
		return PROTO_STATUS_NOT_FOUND;
	case -EIO:
	case -ENOSPC:
		return PROTO_STATUS_STORAGE_ERROR;
	case -EPROTONOSUPPORT:
		return PROTO_STATUS_UNSUPPORTED_VERSION;
	default:
		return PROTO_STATUS_INTERNAL;
	}
}

const char *proto_status_str(uint8_t status)
{
	switch ((enum proto_status)status) {
	case PROTO_STATUS_OK:
		return "ok";
	case PROTO_STATUS_UNKNOWN_OPCODE:
		return "unknown opcode";
	case PROTO_STATUS_BAD_LENGTH:
		return "bad length";
	case PROTO_STATUS_BAD_PARAM:
		return "parameter out of range";
	case PROTO_STATUS_NOT_AUTHORIZED:
		return "not authorized (pair and bond first)";
	case PROTO_STATUS_BUSY:
		return "busy";
	case PROTO_STATUS_INVALID_STATE:
		return "not possible in the current state";
	case PROTO_STATUS_NOT_FOUND:
		return "not found (no longer held)";
	case PROTO_STATUS_STORAGE_ERROR:
		return "storage error";
	case PROTO_STATUS_UNSUPPORTED_VERSION:
		return "unsupported protocol version";
	case PROTO_STATUS_INTERNAL:
		return "internal error";
	}
	return "?";
}
