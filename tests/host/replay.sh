#!/usr/bin/env bash
# Replay equals live: the JSON lines of `roller coach --sim --json` and of
# `roller replay --json` of its log are the same, byte for byte.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

log_of() { sed -n 's/^Session log: //p' "$1"; }

# The default calves plan, as fast as possible.
expect_status 0 "coach --sim --json --speed max" -- \
	"$ROLLER" coach --sim --json --speed max --body-weight 75
cp "$WORK/out" "$WORK/live.json"
log=$(log_of "$WORK/err")
[[ -f $log ]] || { fail "no session log reported (stderr: $(cat "$WORK/err"))"; finish; }
pass "session log written: $log"
[[ $(stat -c %a "$log") == 600 ]] && pass "log is 0600" || fail "log mode $(stat -c %a "$log")"
[[ $(stat -c %a "$SESSIONS") == 700 ]] && pass "sessions dir is 0700" || fail "dir mode $(stat -c %a "$SESSIONS")"
expect_in "$WORK/live.json" '"event":"summary"' "live JSON has a summary"
expect_in "$WORK/live.json" '"cue":"hold-start"' "live JSON has cues"
if grep -v '^{.*}$' "$WORK/live.json" | grep -q .; then fail "stdout has non-JSON lines"; else pass "stdout is JSON lines only"; fi

expect_status 0 "replay --max --json" -- "$ROLLER" replay --max --json "$log"
if cmp -s "$WORK/live.json" "$WORK/out"; then
	pass "replay --max --json equals live ($(wc -l <"$WORK/out") lines)"
else
	fail "replay differs from live"
	diff "$WORK/live.json" "$WORK/out" | head -n 20
fi

# A short session replayed with its timing (50x): same lines again.
expect_status 0 "coach --sim --json, short plan, seed 3" -- \
	"$ROLLER" coach --sim --json --speed max --seed 3 --reps 1 --hold 10 --rest 0 --body-weight 60
cp "$WORK/out" "$WORK/short.json"
short=$(log_of "$WORK/err")
expect_status 0 "replay --speed 50 --json" -- "$ROLLER" replay --speed 50 --json "$short"
if cmp -s "$WORK/short.json" "$WORK/out"; then pass "timed replay equals live"; else
	fail "timed replay differs from live"; diff "$WORK/short.json" "$WORK/out" | head -n 20; fi

# --summary prints the summary only.
expect_status 0 "replay --summary" -- "$ROLLER" replay --summary "$log"
expect_in "$WORK/out" "Summary (calves): 3 of 3 repetitions done" "replay --summary shows the summary"
if grep -q '^\[' "$WORK/out"; then fail "replay --summary printed live lines"; else pass "--summary is only the summary"; fi

# The sessions list shows both.
expect_status 0 "sessions" -- "$ROLLER" sessions
expect_in "$WORK/out" "calves" "sessions lists the region"
[[ $(grep -c '\.rlog' "$WORK/out") == 2 ]] && pass "sessions lists 2 logs" || fail "sessions: $(cat "$WORK/out")"

finish
