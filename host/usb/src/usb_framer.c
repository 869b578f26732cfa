/*
 * Bulk IN transfers -> frames (protocol/README.md section 11.3).
 *
 * The device never splits a frame between transfers, so every transfer
 * starts with a frame header: resynchronising is "drop the rest of this
 * transfer", never a search for something that looks like a header (a
 * LOG_CHUNK's data could look like anything).
 */
#include <errno.h>
#include <string.h>

#include "roller/protocol.h"
#include "roller/usb.h"

void usb_framer_reset(struct usb_framer *f)
{
	f->synced = false;
}

enum rlog_channel usb_framer_channel(uint8_t type)
{
	switch (type) {
	case PROTO_TYPE_MEASUREMENT:
		return RLOG_CH_MEASUREMENT;
	case PROTO_TYPE_EVENT:
	case PROTO_TYPE_SESSION:
		return RLOG_CH_EVENT;
	case PROTO_TYPE_CONTROL_RESPONSE:
		return RLOG_CH_CONTROL;
	case PROTO_TYPE_LOG_CHUNK:
		return RLOG_CH_LOG;
	case PROTO_TYPE_INFO:
		return RLOG_CH_INFO;
	default:
		return RLOG_CH_NONE;
	}
}

void usb_framer_feed(struct usb_framer *f, const uint8_t *buf, size_t len,
		     void (*frame)(void *userdata, enum rlog_channel ch, const uint8_t *buf,
				   size_t len),
		     void *userdata)
{
	size_t pos = 0, size = 0;

	while (pos < len) {
		if (proto_frame_peek(buf + pos, len - pos, &size) < 0) {
			/* Wrong version byte, or a frame cut at the transfer's end. */
			f->garbage_bytes += len - pos;
			f->garbage_transfers++;
			return;
		}
		if (!f->synced && buf[pos + 1] == PROTO_TYPE_INFO)
			f->synced = true;
		if (f->synced) {
			f->frames++;
			/* Unknown types go up too: the receiver counts and skips them
			 * (section 9), as it does on BLE. */
			frame(userdata, usb_framer_channel(buf[pos + 1]), buf + pos, size);
		} else {
			f->stale_frames++;
		}
		pos += size;
	}
}
