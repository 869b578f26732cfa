#!/usr/bin/env bash
# The screen as a person sees it: roller coach --sim --speed 20 under tmux,
# read with capture-pane (polled against a deadline, no fixed sleeps).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! command -v tmux >/dev/null 2>&1; then
	if [[ ${CI:-} == true || ${CI:-} == 1 ]]; then echo "FAIL: tmux not installed (CI)"; exit 1; fi
	echo "SKIP: tmux not installed (run tools/setup)"
	exit 77
fi

sock=$WORK/tmux.sock
tmux_() { tmux -S "$sock" "$@"; }
trap 'tmux_ kill-server 2>/dev/null || true; rm -rf "$WORK"' EXIT

tmux_ -f /dev/null new-session -d -s roller -x 100 -y 30 \
	"env LANG=C.UTF-8 HOME='$HOME' XDG_DATA_HOME='$XDG_DATA_HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' \
	 '$ROLLER' coach --sim --speed 20 --body-weight 75 --no-bell --reps 2 --rest 5; \
	 echo EXIT=\$?; sleep 600"

pane() { tmux_ capture-pane -p -t roller; }

# wait_for <seconds> <description> <command...>: polls the pane until the
# command (given the pane text on stdin) succeeds.
wait_for() {
	local deadline=$((SECONDS + $1)) what=$2
	shift 2
	while ((SECONDS < deadline)); do
		if pane | "$@" >/dev/null 2>&1; then
			pass "$what"
			return 0
		fi
		sleep 0.1
	done
	fail "$what (within the deadline)"
	pane | sed 's/^/  | /'
	return 1
}

wait_for 20 "the target band is shown" grep -q "band 25.0-40.0 % of body weight"
wait_for 20 "the force gauge is drawn" grep -q "Force .* N"
wait_for 30 "the countdown starts (HOLDING)" grep -q "HOLDING"
wait_for 30 "a cue is shown" grep -q "Cue: "
first=$(pane | sed -n 's/.* \([0-9]:[0-9][0-9]\) left of.*/\1/p' | head -n 1)
[[ -n $first ]] && pass "countdown text shown ($first left)" || fail "no countdown text"
moved() { local now; now=$(sed -n 's/.* \([0-9]:[0-9][0-9]\) left of.*/\1/p' | head -n 1); [[ -n $now && $now != "$first" ]]; }
wait_for 10 "the countdown moves" moved

# 'r': the tenderness has eased. The hold ends early and counts.
tmux_ send-keys -t roller r
wait_for 10 "'r' releases early (cue)" grep -q "Released early"
wait_for 10 "'r' releases early (hold list)" grep -q "1  early-release"
wait_for 90 "the session ends by itself with a summary" grep -q "Summary (calves): 2 of 2"
wait_for 5 "the summary counts the early release" grep -q "1 released early"
wait_for 10 "the program exits 0" grep -q "EXIT=0"
wait_for 5 "the log is reported" grep -q "Session log: "

# The key press is in the log: a replay releases early at the same point.
log=$(ls -1t "$SESSIONS"/*.rlog | head -n 1)
expect_status 0 "replay of the screen session" -- "$ROLLER" replay --max --plain "$log"
expect_in "$WORK/out" "hold 1 early-release" "the replay releases early too"

finish
