/*
 * Names and words the coach shows. The wording gives advice, never a
 * diagnosis (host/coach/README.md, "Safety").
 */
#include "roller/coach.h"

const char *coach_safety_text(void)
{
	return "Roller coaches self-massage; it does not diagnose or treat anything. "
	       "Press only to \"uncomfortable but tolerable\", about 5 to 7 out of 10. "
	       "Stop at once on sharp, shooting or radiating pain, or on numbness or "
	       "tingling. Never hold on a bone or on the spine itself: on the back, "
	       "stay on the muscles beside it. Use only gentle force on the neck.";
}

const char *coach_referral_text(void)
{
	return "See a doctor or physiotherapist if the same spot is still sore after "
	       "many sessions over several weeks, if the pain is getting worse, if it "
	       "keeps you awake, or if it is a deep ache that does not go away. "
	       "Persistent muscle pain can have causes a roller cannot help with; a "
	       "professional can examine it and may offer treatments such as dry "
	       "needling, trigger-point injections, ultrasound or TENS. This app "
	       "cannot tell what causes your pain.";
}

struct cue_words {
	const char *name;
	const char *text;
};

static const struct cue_words cue_words[COACH_CUE_LAST + 1] = {
	[COACH_CUE_FIND_TOLERANCE] = { "find-tolerance",
		"Press until it is uncomfortable but tolerable, 5 to 7 out of 10, and hold still." },
	[COACH_CUE_TOLERANCE_SET] = { "tolerance-set",
		"Got it: your target band is set around that pressure." },
	[COACH_CUE_GET_ON] = { "get-on",
		"Get on the roller and find the tender spot." },
	[COACH_CUE_HOLD_START] = { "hold-start",
		"In the band: hold still, the countdown has started." },
	[COACH_CUE_HALFWAY] = { "halfway", "Halfway. Keep breathing, keep still." },
	[COACH_CUE_RELIEF_POINT] = { "relief-point",
		"If the tenderness has eased, you may release now." },
	[COACH_CUE_TEN_LEFT] = { "ten-left", "10 seconds left." },
	[COACH_CUE_RELEASE] = { "release", "Hold complete: release slowly." },
	[COACH_CUE_EARLY_RELEASE] = { "early-release",
		"Released early as the tenderness eased: that hold counts." },
	[COACH_CUE_DROP] = { "drop",
		"Out of the band: countdown paused. Get back into the band." },
	[COACH_CUE_RESUMED] = { "resumed", "Back in the band: countdown running." },
	[COACH_CUE_HOLD_RESET] = { "hold-reset",
		"The pressure was off too long: the hold starts over." },
	[COACH_CUE_HOLD_COUNTED] = { "hold-counted",
		"Pressure off, but you held long enough: that hold counts." },
	[COACH_CUE_STEP_UP] = { "step-up",
		"The spot has had time to ease: press a little deeper, slowly." },
	[COACH_CUE_REST_OVER] = { "rest-over", "Rest over: next hold." },
	[COACH_CUE_SESSION_DONE] = { "session-done", "Session done. Well done." },
	[COACH_CUE_TOO_MUCH] = { "too-much",
		"Too much pressure: ease off. Stop on sharp or shooting pain, numbness or tingling." },
	[COACH_CUE_DATA_GAP] = { "data-gap",
		"Some measurements were lost; the countdown waited for them." },
};

const char *coach_cue_str(uint8_t kind)
{
	if (kind > COACH_CUE_LAST || !cue_words[kind].name)
		return "?";
	return cue_words[kind].name;
}

const char *coach_cue_text(uint8_t kind)
{
	if (kind > COACH_CUE_LAST || !cue_words[kind].text)
		return "?";
	return cue_words[kind].text;
}

const char *coach_phase_str(uint8_t phase)
{
	static const char *const names[] = {
		[COACH_PHASE_TOLERANCE] = "tolerance",
		[COACH_PHASE_WAITING] = "waiting",
		[COACH_PHASE_POSITIONING] = "positioning",
		[COACH_PHASE_HOLDING] = "holding",
		[COACH_PHASE_PAUSED] = "paused",
		[COACH_PHASE_REST] = "rest",
		[COACH_PHASE_DONE] = "done",
	};

	return phase < sizeof(names) / sizeof(names[0]) ? names[phase] : "?";
}

const char *coach_hold_result_str(uint8_t result)
{
	static const char *const names[] = {
		[COACH_HOLD_COMPLETE] = "complete",
		[COACH_HOLD_EARLY_RELEASE] = "early-release",
		[COACH_HOLD_PARTIAL] = "partial",
		[COACH_HOLD_RESET] = "reset",
		[COACH_HOLD_STOPPED] = "stopped",
	};

	if (result >= sizeof(names) / sizeof(names[0]) || !names[result])
		return "?";
	return names[result];
}

const char *coach_dip_cause_str(uint8_t cause)
{
	static const char *const names[] = {
		[COACH_DIP_NONE] = "none",
		[COACH_DIP_BELOW] = "below",
		[COACH_DIP_ABOVE] = "above",
		[COACH_DIP_MOVING] = "moving",
		[COACH_DIP_RELEASED] = "released",
	};

	return cause < sizeof(names) / sizeof(names[0]) ? names[cause] : "?";
}
