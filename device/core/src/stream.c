/*
 * Everything that leaves the device over the link: the sample history
 * (which also feeds the log and RESEND_SAMPLES), live MEASUREMENT batching,
 * the bounded queues of measurement, event and response frames (they drop
 * their oldest entry when full and count it), and the scheduler that shares
 * the link between them and the transfers (see "sharing the link").
 */
#include "core_internal.h"

#include <string.h>

#define HISTORY_MASK (CORE_HISTORY_SAMPLES - 1u)
#define BLOCKS (CORE_HISTORY_SAMPLES / CORE_HISTORY_BLOCK)
/* Byte of a MEASUREMENT frame that holds the sample count. */
#define MEAS_COUNT_AT (PROTO_HEADER_SIZE + 9u)

#if (CORE_HISTORY_SAMPLES & HISTORY_MASK) != 0
#error "CORE_HISTORY_SAMPLES must be a power of two"
#endif

void stream_reset(struct core *c)
{
	struct core_stream_state *s = &c->stream;

	c->hist.next = c->cfg.first_sample;
	c->hist.held = 0;
	s->connected = s->peer_bonded = s->encrypted = s->bonded = false;
	s->mtu = PROTO_MTU_MIN;
	s->capacity = (uint16_t)proto_measurement_capacity(s->mtu);
	s->status_sent = false;
	s->batch_open = false;
	s->txq_head = s->txq_used = s->txq_frames = 0;
	s->overflow_episode = false;
	s->event_overflow = false;
	s->evq_head = s->evq_n = 0;
	s->rspq_head = s->rspq_n = 0;
	s->event_seq = 0;
	s->resend = false;
	s->bulk_owed = false;
	s->log_turn = false;
}

/* ---- history ---- */

static uint32_t offset_ms(const struct core *c, uint32_t index)
{
	return (index % CORE_HISTORY_BLOCK) * c->ports.force->sample_period_us / 1000u;
}

void stream_history_push(struct core *c, uint32_t index, int16_t force,
			 bool still, uint32_t tick)
{
	struct core_history_state *h = &c->hist;
	uint32_t pos = index & HISTORY_MASK;
	uint32_t blk = (index / CORE_HISTORY_BLOCK) % BLOCKS;
	uint32_t off = offset_ms(c, index);
	uint8_t bit = (uint8_t)(1u << (pos % 8u));

	h->force[pos] = force;
	if (still)
		h->still[pos / 8u] |= bit;
	else
		h->still[pos / 8u] &= (uint8_t)~bit;
	if (index % CORE_HISTORY_BLOCK == 0 || h->held == 0) {
		h->anchor[blk] = tick - off;
	} else {
		/* Re-anchor when the clock disagrees with the nominal period by
		 * more than two samples (a stall, a wake from sleep). */
		int32_t d = (int32_t)(tick - (h->anchor[blk] + off));
		int32_t slack = (int32_t)(2u * c->ports.force->sample_period_us / 1000u + 1u);

		if (d > slack || d < -slack)
			h->anchor[blk] = tick - off;
	}
	h->next = index + 1u;
	if (h->held < CORE_HISTORY_SAMPLES)
		h->held++;
	h->last_tick = tick;
}

bool stream_history_has(const struct core *c, uint32_t index)
{
	uint32_t age = c->hist.next - index; /* 1 = newest */

	return age >= 1u && age <= c->hist.held;
}

int16_t stream_history_force(const struct core *c, uint32_t index)
{
	return c->hist.force[index & HISTORY_MASK];
}

bool stream_history_still(const struct core *c, uint32_t index)
{
	uint32_t pos = index & HISTORY_MASK;

	return ((uint32_t)c->hist.still[pos / 8u] >> (pos % 8u)) & 1u;
}

uint32_t stream_history_time(const struct core *c, uint32_t index)
{
	uint32_t blk = (index / CORE_HISTORY_BLOCK) % BLOCKS;

	return c->hist.anchor[blk] + offset_ms(c, index);
}

uint8_t stream_flags(const struct core *c)
{
	uint8_t flags = 0;

	if (c->cal.state == PROTO_CAL_VALID)
		flags |= PROTO_MEAS_CALIBRATED;
	if (c->session.active)
		flags |= PROTO_MEAS_RECORDING;
	return flags;
}

int stream_encode_measurement(struct core *c, uint32_t first, size_t n,
			      uint8_t flags, uint8_t *out, size_t cap,
			      size_t *written)
{
	struct proto_measurement m;
	int16_t last;
	size_t i;

	if (n == 0 || n > PROTO_BATCH_MAX_SAMPLES)
		return -ERANGE;
	m.first_sample = first;
	m.time = stream_history_time(c, first);
	m.count = (uint8_t)n;
	memset(m.still, 0, sizeof(m.still));
	for (i = 0; i < n; i++) {
		uint32_t idx = first + (uint32_t)i;

		m.force[i] = stream_history_force(c, idx);
		if (stream_history_still(c, idx))
			m.still[i / 8u] |= (uint8_t)(1u << (i % 8u));
	}
	/* CONTACT: the last force at or above the contact threshold, the same
	 * rule for live, resent and logged batches. */
	last = m.force[n - 1u];
	if (last != PROTO_FORCE_INVALID && last >= (int32_t)c->hold_params.contact)
		flags |= PROTO_MEAS_CONTACT;
	m.flags = flags;
	return proto_measurement_encode(&m, out, cap, written);
}

/* ---- live measurement queue (byte ring of [len][frame]) ---- */

static void txq_drop_oldest(struct core *c)
{
	struct core_stream_state *s = &c->stream;
	uint32_t len = s->txq[s->txq_head];
	uint8_t count = s->txq[(s->txq_head + 1u + MEAS_COUNT_AT) % CORE_TXQ_BYTES];

	s->txq_head = (s->txq_head + 1u + len) % CORE_TXQ_BYTES;
	s->txq_used -= 1u + len;
	s->txq_frames--;
	c->counters.samples_dropped += count;
	if (!s->overflow_episode) {
		s->overflow_episode = true;
		stream_error(c, PROTO_ERR_QUEUE_OVERFLOW, 0xFF, 0);
	}
}

static void txq_push(struct core *c, const uint8_t *frame, size_t len)
{
	struct core_stream_state *s = &c->stream;
	uint32_t at, i;

	while (CORE_TXQ_BYTES - s->txq_used < len + 1u)
		txq_drop_oldest(c);
	at = (s->txq_head + s->txq_used) % CORE_TXQ_BYTES;
	s->txq[at] = (uint8_t)len;
	for (i = 0; i < len; i++)
		s->txq[(at + 1u + i) % CORE_TXQ_BYTES] = frame[i];
	s->txq_used += (uint32_t)len + 1u;
	s->txq_frames++;
}

static size_t txq_peek(struct core *c, uint8_t *out)
{
	struct core_stream_state *s = &c->stream;
	uint32_t len = s->txq[s->txq_head], i;

	for (i = 0; i < len; i++)
		out[i] = s->txq[(s->txq_head + 1u + i) % CORE_TXQ_BYTES];
	return len;
}

static void txq_pop(struct core *c)
{
	struct core_stream_state *s = &c->stream;
	uint32_t len = s->txq[s->txq_head];

	s->txq_head = (s->txq_head + 1u + len) % CORE_TXQ_BYTES;
	s->txq_used -= 1u + len;
	s->txq_frames--;
}

static void close_batch(struct core *c)
{
	struct core_stream_state *s = &c->stream;
	uint32_t first = s->batch_first, n = c->hist.next - first;
	size_t len;

	s->batch_open = false;
	/* Normally one frame; several if the MTU shrank under an open batch. */
	while (n > 0 && s->capacity > 0) {
		uint32_t k = n < s->capacity ? n : s->capacity;

		if (stream_encode_measurement(c, first, k, stream_flags(c), s->tx,
					      sizeof(s->tx), &len) == 0)
			txq_push(c, s->tx, len);
		first += k;
		n -= k;
	}
}

void stream_on_sample(struct core *c, uint32_t index)
{
	struct core_stream_state *s = &c->stream;

	if (!core_link_ready(c))
		return;
	if (!s->batch_open) {
		s->batch_open = true;
		s->batch_first = index;
		s->batch_tick = stream_history_time(c, index);
	}
	if (c->hist.next - s->batch_first >= s->capacity)
		close_batch(c);
}

void stream_mtu_changed(struct core *c)
{
	struct core_stream_state *s = &c->stream;

	s->capacity = (uint16_t)proto_measurement_capacity(s->mtu);
	if (s->batch_open && c->hist.next - s->batch_first >= s->capacity)
		close_batch(c);
}

void stream_link_changed(struct core *c)
{
	struct core_stream_state *s = &c->stream;

	if (!core_link_ready(c)) {
		/* Frames are never sent before the link is ready; a batch in
		 * progress restarts when it is. */
		s->batch_open = false;
		s->resend = false;
	}
	if (!s->connected) {
		s->txq_head = s->txq_used = s->txq_frames = 0;
		s->overflow_episode = false;
		s->evq_n = 0;
		s->rspq_n = 0;
		s->status_sent = false;
	}
}

/* ---- events and responses ---- */

static void small_push(struct core_small_frame *q, uint8_t *head, uint8_t *n,
		       uint8_t slots, const struct core_small_frame *f,
		       uint32_t *dropped)
{
	if (*n == slots) {
		*head = (uint8_t)((*head + 1u) % slots);
		(*n)--;
		(*dropped)++;
	}
	q[(*head + *n) % slots] = *f;
	(*n)++;
}

void stream_event(struct core *c, struct proto_event *e)
{
	struct core_stream_state *s = &c->stream;
	struct core_small_frame f;
	size_t len, i;

	if (e->kind == PROTO_EVENT_STATUS) {
		/* Only the latest state matters: overwrite a queued STATUS. */
		for (i = 0; i < s->evq_n; i++) {
			struct core_small_frame *q = &s->evq[(s->evq_head + i) % CORE_EVQ_SLOTS];

			if (q->kind == PROTO_EVENT_STATUS) {
				e->seq = core_get_u16(&q->buf[PROTO_HEADER_SIZE + 1u]);
				if (proto_event_encode(e, q->buf, sizeof(q->buf), &len) == 0)
					q->len = (uint8_t)len;
				return;
			}
		}
	}
	e->seq = s->event_seq++;
	if (proto_event_encode(e, f.buf, sizeof(f.buf), &len) != 0)
		return;
	f.len = (uint8_t)len;
	f.kind = e->kind;
	f.sample = e->sample + 1u;
	if (s->connected) {
		uint32_t before = c->counters.events_dropped;

		small_push(s->evq, &s->evq_head, &s->evq_n, CORE_EVQ_SLOTS, &f,
			   &c->counters.events_dropped);
		if (before != c->counters.events_dropped)
			s->event_overflow = true;
	}
	/* The log keeps what a replay needs; a storage error is not logged
	 * (writing it could fail the same way, forever). */
	if (c->session.active && e->kind != PROTO_EVENT_STATUS &&
	    e->kind != PROTO_EVENT_COUNTERS &&
	    !(e->kind == PROTO_EVENT_ERROR && e->u.error.code == PROTO_ERR_STORAGE))
		flashlog_queue(c, f.buf, f.len, f.sample);
}

void stream_error(struct core *c, uint8_t code, uint8_t channel, uint16_t detail)
{
	struct proto_event e;

	e.kind = PROTO_EVENT_ERROR;
	e.sample = c->hist.next;
	e.u.error.code = code;
	e.u.error.channel = channel;
	e.u.error.detail = detail;
	stream_event(c, &e);
}

void stream_session(struct core *c, const uint8_t *frame, size_t len)
{
	struct core_stream_state *s = &c->stream;
	struct core_small_frame f;

	if (!s->connected || len > sizeof(f.buf))
		return;
	memcpy(f.buf, frame, len);
	f.len = (uint8_t)len;
	f.kind = CORE_KIND_SESSION;
	f.sample = 0;
	small_push(s->evq, &s->evq_head, &s->evq_n, CORE_EVQ_SLOTS, &f,
		   &c->counters.events_dropped);
}

void stream_response(struct core *c, const struct proto_control_response *r)
{
	struct core_stream_state *s = &c->stream;
	struct core_small_frame f;
	size_t len;

	if (!s->connected)
		return;
	if (proto_response_encode(r, f.buf, sizeof(f.buf), &len) != 0)
		return;
	f.len = (uint8_t)len;
	f.kind = CORE_KIND_RESPONSE;
	f.sample = 0;
	small_push(s->rspq, &s->rspq_head, &s->rspq_n, CORE_RSPQ_SLOTS, &f,
		   &c->counters.responses_dropped);
}

bool stream_responses_pending(const struct core *c)
{
	return c->stream.rspq_n != 0;
}

int stream_resend_start(struct core *c, uint32_t first, uint16_t count,
			uint16_t *queued)
{
	struct core_stream_state *s = &c->stream;
	uint32_t avail;

	if (!stream_history_has(c, first))
		return -ENOENT;
	avail = c->hist.next - first;
	if (count > avail)
		count = (uint16_t)avail;
	s->resend = true;
	s->resend_next = first;
	s->resend_left = count;
	*queued = count;
	return 0;
}

/* ---- sending ---- */

/* Returns true when the link took the frame or it must be dropped, false
 * to retry later (-EAGAIN). */
static bool send(struct core *c, enum core_char ch, const uint8_t *buf, size_t len)
{
	int err = c->ports.link->notify(c->ports.link->ctx, ch, buf, len);

	if (err == -EAGAIN)
		return false;
	if (err != 0 && err != -ENOTCONN)
		c->counters.notify_errors++;
	return true;
}

static void send_small(struct core *c, enum core_char ch, struct core_small_frame *q,
		       uint8_t *head, uint8_t *n, uint8_t slots)
{
	while (*n) {
		struct core_small_frame *f = &q[*head];

		if (!send(c, ch, f->buf, f->len))
			return;
		*head = (uint8_t)((*head + 1u) % slots);
		(*n)--;
	}
}

static void counters_event(struct core *c)
{
	struct proto_event e;

	e.kind = PROTO_EVENT_COUNTERS;
	e.sample = c->hist.next;
	e.u.counters.samples_dropped = c->counters.samples_dropped;
	e.u.counters.events_dropped = (uint16_t)(c->counters.events_dropped > UINT16_MAX
							 ? UINT16_MAX : c->counters.events_dropped);
	e.u.counters.sessions_recycled = (uint16_t)(c->counters.sessions_recycled > UINT16_MAX
							    ? UINT16_MAX : c->counters.sessions_recycled);
	e.u.counters.rx_errors = (uint16_t)(c->counters.rx_errors > UINT16_MAX
						    ? UINT16_MAX : c->counters.rx_errors);
	stream_event(c, &e);
}

void stream_counters_event(struct core *c)
{
	counters_event(c);
}

/* ---- sharing the link ----
 *
 * Four kinds of frames compete for the link, each with its own bound:
 * control responses (own queue, sent first), events (own queue), live
 * MEASUREMENT batches (the drop-oldest byte ring) and the two transfers the
 * host asked for, RESEND_SAMPLES and LOG_READ ("bulk"). Bulk frames are
 * never queued: each is made from the history or the flash only when the
 * link is about to take it, and its cursor moves only when notify()
 * returned 0, so -EAGAIN costs a re-encode (a re-read for LOG_CHUNK) and
 * nothing of a transfer can be dropped. While live frames and bulk frames
 * are both waiting they take turns, live first: the stream keeps its
 * latency and a transfer gets at least every second notification the link
 * accepts (the turn carries over to the next poll). Live and resent frames
 * share the Measurement characteristic, chunks have Log: after -EAGAIN on
 * one, its lanes rest for the rest of the poll and the other goes on
 * (ports may flow-control each characteristic separately). Bulk waits
 * while a control response is queued, so the answer to LOG_READ /
 * RESEND_SAMPLES always goes out before the first frame of its transfer.
 */

#define LANE_LIVE 1u
#define LANE_RESEND 2u
#define LANE_LOG 4u
#define LANE_BULK (LANE_RESEND | LANE_LOG)

/* One resent frame: 1 sent (or refused for good), 0 nothing to send,
 * -EAGAIN. */
static int resend_next(struct core *c)
{
	struct core_stream_state *s = &c->stream;
	uint32_t n = s->resend_left, avail;
	size_t len;

	if (!s->resend)
		return 0;
	if (n == 0 || !stream_history_has(c, s->resend_next)) {
		s->resend = false;
		return 0;
	}
	avail = c->hist.next - s->resend_next;
	if (n > avail)
		n = avail;
	if (n > s->capacity)
		n = s->capacity;
	if (stream_encode_measurement(c, s->resend_next, n,
				      (uint8_t)(stream_flags(c) | PROTO_MEAS_RESENT),
				      s->tx, sizeof(s->tx), &len) != 0) {
		s->resend = false;
		return 0;
	}
	if (!send(c, CORE_CHAR_MEASUREMENT, s->tx, len))
		return -EAGAIN;
	s->resend_next += n;
	s->resend_left -= n;
	if (s->resend_left == 0)
		s->resend = false;
	return 1;
}

/* The oldest live frame: 1 sent (or refused for good), 0 none, -EAGAIN. */
static int live_next(struct core *c)
{
	struct core_stream_state *s = &c->stream;
	size_t len;

	if (s->txq_frames == 0)
		return 0;
	len = txq_peek(c, s->tx);
	if (!send(c, CORE_CHAR_MEASUREMENT, s->tx, len))
		return -EAGAIN;
	txq_pop(c);
	return 1;
}

static unsigned pick_lane(const struct core_stream_state *s, unsigned open)
{
	unsigned bulk = open & LANE_BULK;

	if (!bulk || ((open & LANE_LIVE) && !s->bulk_owed))
		return LANE_LIVE;
	if (bulk == LANE_BULK)
		return s->log_turn ? LANE_LOG : LANE_RESEND;
	return bulk;
}

static void send_lanes(struct core *c)
{
	struct core_stream_state *s = &c->stream;
	unsigned open = LANE_LIVE;

	if (!stream_responses_pending(c))
		open |= LANE_BULK;
	while (open) {
		unsigned lane = pick_lane(s, open);
		int r;

		if (lane == LANE_LIVE)
			r = live_next(c);
		else if (lane == LANE_RESEND)
			r = resend_next(c);
		else
			r = flashlog_transfer_next(c);
		if (r == 0) {
			open &= ~lane; /* nothing (more) to send */
			continue;
		}
		if (r < 0) {
			/* -EAGAIN: this characteristic is full for now */
			open &= lane == LANE_LOG ? ~LANE_LOG : ~(LANE_LIVE | LANE_RESEND);
			continue;
		}
		if (lane == LANE_LIVE) {
			s->bulk_owed = true;
		} else {
			s->bulk_owed = false;
			s->log_turn = lane == LANE_RESEND;
		}
	}
}

uint32_t stream_poll(struct core *c, uint32_t now)
{
	struct core_stream_state *s = &c->stream;
	uint32_t wait = UINT32_MAX;

	if (!core_link_ready(c))
		return UINT32_MAX;
	if (s->batch_open) {
		uint32_t age = now - s->batch_tick;

		if (age >= c->cfg.batch_ms)
			close_batch(c);
		else
			wait = c->cfg.batch_ms - age;
	}
	send_small(c, CORE_CHAR_CONTROL, s->rspq, &s->rspq_head, &s->rspq_n, CORE_RSPQ_SLOTS);
	send_small(c, CORE_CHAR_EVENT, s->evq, &s->evq_head, &s->evq_n, CORE_EVQ_SLOTS);
	send_lanes(c);
	if (s->txq_frames == 0 && (s->overflow_episode || s->event_overflow)) {
		/* The queue drained: tell the host what was lost. */
		s->overflow_episode = false;
		s->event_overflow = false;
		counters_event(c);
		send_small(c, CORE_CHAR_EVENT, s->evq, &s->evq_head, &s->evq_n, CORE_EVQ_SLOTS);
	}
	return wait;
}
