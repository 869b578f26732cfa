/*
 * Tare and known-load calibration. Force = (sum over cells of raw - tare)
 * * scale, scale in micro-newtons per count, so one multiplication per
 * sample and no floating point on the M4's hot path.
 */
#include "core_internal.h"

/* A known load must move the sum by at least this many counts, or the
 * scale would be mostly noise. */
#define CALIBRATION_MIN_COUNTS 64

void calibration_defaults(struct core *c)
{
	size_t i;

	for (i = 0; i < PORT_FORCE_MAX_CHANNELS; i++)
		c->cal.tare[i] = 0;
	c->cal.scale_unpc = c->cfg.default_scale_unpc;
	c->cal.state = PROTO_CAL_NONE;
	c->cal.op = 0;
}

static int64_t div_round(int64_t num, int64_t den)
{
	/* den > 0 */
	if (num >= 0)
		return (num + den / 2) / den;
	return -((-num + den / 2) / den);
}

int32_t calibration_force_dn(const struct core *c, const int32_t *counts, size_t n)
{
	int64_t sum = 0, dn;
	size_t i;

	for (i = 0; i < n; i++)
		sum += (int64_t)counts[i] - c->cal.tare[i];
	/* micro-newtons -> decinewtons */
	dn = div_round(sum * c->cal.scale_unpc, 100000);
	if (dn > PROTO_FORCE_MAX_DN)
		dn = PROTO_FORCE_MAX_DN;
	if (dn < PROTO_FORCE_MIN_DN)
		dn = PROTO_FORCE_MIN_DN;
	return (int32_t)dn;
}

static bool loaded(const struct core *c)
{
	int16_t f = c->sig.force;

	if (c->cal.state == PROTO_CAL_NONE || c->cal.state == PROTO_CAL_INVALID)
		return false; /* the zero is unknown: only stillness can be judged */
	if (f == PROTO_FORCE_INVALID || f == PROTO_FORCE_SATURATED)
		return true;
	return f >= (int32_t)c->hold_params.contact || f <= -(int32_t)c->hold_params.contact;
}

int calibration_start(struct core *c, uint8_t opcode, uint8_t token, uint16_t load_dn)
{
	size_t i;

	if (c->cal.op)
		return -EBUSY;
	if (!signal_still(c) || c->sig.force == PROTO_FORCE_INVALID ||
	    c->sig.force == PROTO_FORCE_SATURATED)
		return -EBUSY;
	if (opcode == PROTO_OP_TARE) {
		if (loaded(c))
			return -EBUSY;
	} else if (c->cal.state != PROTO_CAL_TARED && c->cal.state != PROTO_CAL_VALID) {
		return -EALREADY;
	}
	c->cal.op = opcode;
	c->cal.token = token;
	c->cal.load_dn = load_dn;
	c->cal.n = 0;
	for (i = 0; i < PORT_FORCE_MAX_CHANNELS; i++)
		c->cal.acc[i] = 0;
	return 0;
}

void calibration_abort(struct core *c)
{
	c->cal.op = 0;
}

static void finish(struct core *c)
{
	struct core_calibration_state old = c->cal;
	size_t i, n = c->ports.force->channels;
	int64_t sum = 0, scale;
	int32_t answer = 0;
	int err = 0;

	c->cal.op = 0;
	if (old.op == PROTO_OP_TARE) {
		for (i = 0; i < n; i++)
			c->cal.tare[i] = (int32_t)div_round(old.acc[i], old.n);
		if (c->cal.state != PROTO_CAL_VALID)
			c->cal.state = PROTO_CAL_TARED;
	} else {
		for (i = 0; i < n; i++)
			sum += old.acc[i] - (int64_t)old.tare[i] * old.n;
		sum = div_round(sum, old.n);
		if (sum < CALIBRATION_MIN_COUNTS && sum > -CALIBRATION_MIN_COUNTS) {
			err = -ERANGE;
			goto out;
		}
		scale = div_round((int64_t)old.load_dn * 100000, sum);
		if (scale == 0 || scale > INT32_MAX || scale < -INT32_MAX) {
			err = -ERANGE;
			goto out;
		}
		c->cal.scale_unpc = (int32_t)scale;
		c->cal.state = PROTO_CAL_VALID;
		answer = (int32_t)scale;
	}
	err = flashlog_save_settings(c);
	if (err == -ENODEV)
		err = 0; /* no storage: calibration lives until reset */
	if (err) {
		/* Keep what is stored and what the host believes the same. */
		c->cal = old;
		c->cal.op = 0;
		err = -EIO;
	} else {
		/* The filter would otherwise glide from the old zero. */
		signal_reset(c);
		core_status_update(c);
	}
out:
	control_answer(c, old.op, old.token, err, answer);
}

void calibration_on_sample(struct core *c, const int32_t *counts, size_t n,
			   bool still, int16_t force)
{
	uint8_t op = c->cal.op;
	size_t i;

	if (!op || c->cal.n >= c->cfg.tare_samples)
		return; /* idle, or averaged and waiting for calibration_poll() */
	if (!counts || !still || force == PROTO_FORCE_INVALID ||
	    force == PROTO_FORCE_SATURATED || (op == PROTO_OP_TARE && loaded(c))) {
		c->cal.op = 0;
		control_answer(c, op, c->cal.token, -EBUSY, 0);
		return;
	}
	for (i = 0; i < n; i++)
		c->cal.acc[i] += counts[i];
	c->cal.n++;
}

void calibration_poll(struct core *c)
{
	/* Here rather than per sample: finishing writes the settings to flash. */
	if (c->cal.op && c->cal.n >= c->cfg.tare_samples)
		finish(c);
}
