#!/usr/bin/env bash
# The command line: every --help exits 0, bad usage exits 2 with a hint,
# runtime failures exit 1 with a clear message.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

expect_status 0 "roller --help" -- "$ROLLER" --help
expect_in "$WORK/out" "Commands:" "roller --help lists the commands"
expect_status 0 "roller --version" -- "$ROLLER" --version
for cmd in coach replay sessions log show rm trends export plot sync \
	scan pair forget devices status tare calibrate; do
	expect_status 0 "roller $cmd --help" -- "$ROLLER" "$cmd" --help
	expect_in "$WORK/out" "Usage: roller $cmd" "roller $cmd --help shows its usage"
	expect_status 0 "roller help $cmd" -- "$ROLLER" help "$cmd"
done
expect_status 0 "roller log dump --help" -- "$ROLLER" log dump --help

expect_status 2 "no command" -- "$ROLLER"
expect_status 2 "unknown command" -- "$ROLLER" frobnicate
expect_in "$WORK/err" "Try 'roller --help'" "unknown command hints at --help"
expect_status 2 "unknown option" -- "$ROLLER" --frob
for args in "coach --frob" "coach --sim --speed fast" "coach --sim --speed -1" \
	"coach --sim --region elbows" "coach --sim --reps 0" "coach --sim --reps 11" \
	"coach --sim --hold 0" "coach --sim --rest 601" "coach --sim --body-weight 5" \
	"coach --sim --plain --json" "coach --sim AA:BB:CC:DD:EE:FF" "coach --sim --seed x" \
	"replay" "replay --max" "replay a b" "replay --speed x f.rlog" "replay --plain --json f" \
	"sessions --frob" "sessions extra" "log" "log dump" "log undump x" "log dump a b"; do
	# shellcheck disable=SC2086
	expect_status 2 "roller $args" -- "$ROLLER" $args
	expect_in "$WORK/err" "--help" "roller $args hints at --help"
done
expect_in <(printf '%s\n' "$("$ROLLER" coach --sim --region elbows 2>&1 || true)") \
	"unknown region 'elbows'" "a bad region is named"

# Bluetooth with no roller given and none paired: say how to get one.
expect_status 1 "roller coach without --sim and no default roller" -- "$ROLLER" coach
expect_in "$WORK/err" "no roller given and no default roller" \
	"coach without a roller says so"
expect_in "$WORK/err" "roller pair" "coach without a roller hints at pairing"

# Runtime failures: exit 1 and a message naming the file.
expect_status 1 "replay of a missing file" -- "$ROLLER" replay "$WORK/nope.rlog"
expect_in "$WORK/err" "nope.rlog" "the missing file is named"
echo "not a log" >"$WORK/text.rlog"
expect_status 1 "replay of a file that is not a log" -- "$ROLLER" replay --max "$WORK/text.rlog"
expect_status 1 "log dump of a file that is not a log" -- "$ROLLER" log dump "$WORK/text.rlog"
expect_in "$WORK/err" "text.rlog" "the bad file is named"

# A bad config.ini stops before anything starts, naming file:line.
mkdir -p "$XDG_CONFIG_HOME/roller"
printf '[user]\nbody_weight_kg = 75\n[plan.calves]\nreps = 42\n' >"$XDG_CONFIG_HOME/roller/config.ini"
expect_status 1 "coach with an out-of-range config value" -- "$ROLLER" coach --sim --plain --speed max
expect_in "$WORK/err" "config.ini:4: reps = 42 is out of range (1..10)" "the config error names file:line"
rm "$XDG_CONFIG_HOME/roller/config.ini"

# sessions with no sessions yet
expect_status 0 "sessions with none recorded" -- "$ROLLER" sessions
expect_in "$WORK/out" "No sessions yet" "sessions says there are none"

finish
