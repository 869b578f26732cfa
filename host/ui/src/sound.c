/*
 * --sound: short tones through ALSA. The PCM is opened non-blocking and a
 * tone is a few thousand frames, well inside the device buffer, so writing
 * it never blocks the event loop; when the buffer is full the tone is
 * dropped (the bell and the screen still show the cue).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <alsa/asoundlib.h>

#include "ui_internal.h"

#define RATE 22050u
#define TONE_MAX_FRAMES (RATE / 2u)

struct sound {
	snd_pcm_t *pcm;
	int16_t buf[TONE_MAX_FRAMES];
};

static void quiet_alsa(const char *file, int line, const char *function, int err,
		       const char *fmt, ...)
{
	/* ALSA prints its own errors on stderr; ours is one clear line. */
	(void)file;
	(void)line;
	(void)function;
	(void)err;
	(void)fmt;
}

int sound_open(struct sound **out, char *err, size_t errlen)
{
	struct sound *s;
	int r;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snd_lib_error_set_handler(quiet_alsa);
	r = snd_pcm_open(&s->pcm, "default", SND_PCM_STREAM_PLAYBACK, SND_PCM_NONBLOCK);
	if (r < 0) {
		snprintf(err, errlen, "no ALSA playback device (%s)", snd_strerror(r));
		free(s);
		return r;
	}
	r = snd_pcm_set_params(s->pcm, SND_PCM_FORMAT_S16, SND_PCM_ACCESS_RW_INTERLEAVED, 1,
			       RATE, 1, 500000);
	if (r < 0) {
		snprintf(err, errlen, "ALSA device refused 22 kHz mono (%s)", snd_strerror(r));
		snd_pcm_close(s->pcm);
		free(s);
		return r;
	}
	*out = s;
	return 0;
}

/* Appends a tone of ms at hz (0 = silence) to the buffer; returns frames. */
static size_t tone(int16_t *buf, size_t at, unsigned hz, unsigned ms)
{
	size_t n = (size_t)RATE * ms / 1000u, i;
	size_t ramp = RATE / 200u; /* 5 ms fade, no clicks */

	if (at + n > TONE_MAX_FRAMES)
		n = TONE_MAX_FRAMES - at;
	for (i = 0; i < n; i++) {
		double amp = 8000.0;

		if (i < ramp)
			amp *= (double)i / (double)ramp;
		else if (n - i < ramp)
			amp *= (double)(n - i) / (double)ramp;
		buf[at + i] = hz ? (int16_t)(amp * sin(2.0 * M_PI * hz * (double)i / RATE)) : 0;
	}
	return at + n;
}

void sound_cue(struct sound *s, uint8_t kind)
{
	size_t n = 0;
	snd_pcm_sframes_t w;

	if (!s)
		return;
	switch (kind) {
	case COACH_CUE_HOLD_START:
	case COACH_CUE_RESUMED:
		n = tone(s->buf, n, 880, 150);
		break;
	case COACH_CUE_RELEASE:
	case COACH_CUE_SESSION_DONE:
		n = tone(s->buf, n, 660, 120);
		n = tone(s->buf, n, 0, 60);
		n = tone(s->buf, n, 990, 200);
		break;
	case COACH_CUE_TOO_MUCH:
	case COACH_CUE_DROP:
	case COACH_CUE_HOLD_RESET:
		n = tone(s->buf, n, 330, 250);
		break;
	case COACH_CUE_TEN_LEFT:
	case COACH_CUE_HALFWAY:
		n = tone(s->buf, n, 740, 80);
		break;
	default:
		n = tone(s->buf, n, 600, 100);
		break;
	}
	w = snd_pcm_writei(s->pcm, s->buf, n);
	if (w == -EPIPE || w == -ESTRPIPE) {
		snd_pcm_prepare(s->pcm);
		snd_pcm_writei(s->pcm, s->buf, n);
	}
}

void sound_close(struct sound *s)
{
	if (!s)
		return;
	snd_pcm_drop(s->pcm);
	snd_pcm_close(s->pcm);
	free(s);
}
