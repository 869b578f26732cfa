/*
 * The Control Point: one request in, one CONTROL_RESPONSE out. Handlers
 * return 0 or -errno; proto_status_from_errno() turns that into the wire
 * status. A handler either succeeds or leaves every piece of device state as
 * it found it.
 */
#include "core_internal.h"

#include <string.h>

static void respond(struct core *c, struct proto_control_response *r, int err)
{
	r->status = proto_status_from_errno(err);
	stream_response(c, r);
}

void control_answer(struct core *c, uint8_t opcode, uint8_t token, int err,
		    int32_t scale)
{
	struct proto_control_response r;

	memset(&r, 0, sizeof(r));
	r.opcode = opcode;
	r.token = token;
	if (opcode == PROTO_OP_CALIBRATE)
		r.u.calibrate.scale = scale;
	respond(c, &r, err);
}

static int op_version(struct core *c, struct proto_control_response *r)
{
	r->u.version.proto_major = PROTO_VERSION;
	r->u.version.proto_minor = PROTO_VERSION_MINOR;
	r->u.version.fw_major = c->cfg.fw_major;
	r->u.version.fw_minor = c->cfg.fw_minor;
	r->u.version.fw_patch = c->cfg.fw_patch;
	r->u.version.calibration = c->cal.state;
	r->u.version.capabilities = core_capabilities(c);
	return 0;
}

static int op_set_hold(struct core *c, const struct proto_hold_params *p,
		       struct proto_control_response *r)
{
	struct proto_hold_params old = c->hold_params;
	int err;

	c->hold_params = *p;
	err = flashlog_save_settings(c);
	if (err && err != -ENODEV) {
		c->hold_params = old;
		return -EIO;
	}
	hold_configure(c);
	r->u.hold = c->hold_params;
	return 0;
}

static int op_sleep_timeout(struct core *c, uint16_t seconds)
{
	uint16_t old = c->sleep_timeout_s;
	int err;

	c->sleep_timeout_s = seconds;
	err = flashlog_save_settings(c);
	if (err && err != -ENODEV) {
		c->sleep_timeout_s = old;
		return -EIO;
	}
	return 0;
}

static int op_start(struct core *c, uint8_t region, struct proto_control_response *r)
{
	int err;

	if (c->session.active && !c->session.automatic)
		return -EALREADY;
	if (c->session.active) {
		/* The host takes over a session the roller started on its own. */
		err = core_session_stop(c);
		if (err)
			return err;
	}
	err = core_session_start(c, region, false);
	if (err)
		return err;
	r->u.session.session_id = c->session.id;
	return 0;
}

static int op_stop(struct core *c, struct proto_control_response *r)
{
	uint16_t id = c->session.id;
	int err;

	if (!c->session.active)
		return -EALREADY;
	err = core_session_stop(c);
	if (err)
		return err;
	r->u.session.session_id = id;
	return 0;
}

static int op_battery(struct core *c, struct proto_control_response *r)
{
	uint16_t mv;
	uint8_t pct;

	if (core_battery(c, &mv, &pct) != 0)
		return -ENOENT;
	r->u.battery.millivolts = mv;
	r->u.battery.percent = pct;
	r->u.battery.flags = (uint8_t)((c->power.low ? PROTO_STATUS_BATTERY_LOW : 0u) |
				       (c->power.charging ? PROTO_STATUS_CHARGING : 0u));
	return 0;
}

static int dispatch(struct core *c, const struct proto_control_request *q,
		    struct proto_control_response *r, bool *deferred)
{
	switch ((enum proto_opcode)q->opcode) {
	case PROTO_OP_VERSION:
		return op_version(c, r);
	case PROTO_OP_TARE:
	case PROTO_OP_CALIBRATE: {
		int err = calibration_start(c, q->opcode, q->token,
					    q->opcode == PROTO_OP_CALIBRATE ? q->u.calibrate.load : 0);

		*deferred = err == 0;
		return err;
	}
	case PROTO_OP_SET_CLOCK:
		c->clock_set = true;
		c->unix_base = q->u.set_clock.unix_time;
		c->unix_tick = c->ports.clock->now_ms(c->ports.clock->ctx);
		return 0;
	case PROTO_OP_START_SESSION:
		return op_start(c, q->u.start_session.region, r);
	case PROTO_OP_STOP_SESSION:
		return op_stop(c, r);
	case PROTO_OP_SET_HOLD:
		return op_set_hold(c, &q->u.set_hold, r);
	case PROTO_OP_GET_HOLD:
		r->u.hold = c->hold_params;
		return 0;
	case PROTO_OP_LOG_INFO:
		return flashlog_info(c, &r->u.log_info.first_record, &r->u.log_info.end_record,
				     &r->u.log_info.sessions) ? -ENOENT : 0;
	case PROTO_OP_LOG_READ:
		return flashlog_read_start(c, q->u.log_read.first_record, q->u.log_read.count,
					   q->u.log_read.offset, &r->u.log_read.records);
	case PROTO_OP_LOG_ERASE:
		return flashlog_erase(c, q->u.log_erase.end_record);
	case PROTO_OP_BATTERY:
		return op_battery(c, r);
	case PROTO_OP_SLEEP:
		if (!c->ports.power || !c->ports.power->sleep)
			return -EOPNOTSUPP;
		c->power.sleep_pending = true;
		return 0;
	case PROTO_OP_RESEND_SAMPLES:
		return stream_resend_start(c, q->u.resend.first_sample, q->u.resend.count,
					   &r->u.resend.count);
	case PROTO_OP_SET_SLEEP_TIMEOUT:
		return op_sleep_timeout(c, q->u.sleep_timeout.seconds);
	}
	return -EOPNOTSUPP;
}

int control_write(struct core *c, const uint8_t *buf, size_t len)
{
	struct proto_control_request q;
	struct proto_control_response r;
	bool deferred = false;
	int err;

	memset(&q, 0, sizeof(q));
	memset(&r, 0, sizeof(r));
	err = proto_request_decode(buf, len, &q);
	if (err) {
		r.opcode = len > PROTO_HEADER_SIZE ? buf[PROTO_HEADER_SIZE] : 0;
		r.token = len > PROTO_HEADER_SIZE + 1u ? buf[PROTO_HEADER_SIZE + 1u] : 0;
		if (err == -ENOMSG)
			err = -EBADMSG; /* not a request at all */
		c->counters.rx_errors++;
		stream_error(c, PROTO_ERR_BAD_FRAME, 0xFF, (uint16_t)-err);
		respond(c, &r, err);
		return 0;
	}
	r.opcode = q.opcode;
	r.token = q.token;
	if (proto_opcode_needs_auth(q.opcode) &&
	    !(c->stream.encrypted && c->stream.bonded)) {
		respond(c, &r, -EACCES);
		return 0;
	}
	power_activity(c);
	err = dispatch(c, &q, &r, &deferred);
	if (!deferred)
		respond(c, &r, err);
	return 0;
}
