#!/usr/bin/env bash
# The history commands as a user runs them: sessions recorded with the sim at
# full speed (fixed seeds), some moved to other dates (history_probe redate:
# the header's start time, nothing else), then sessions / show / trends /
# export / plot / rm, a damaged log and a damaged index, and the doctor
# referral hint appearing exactly when the rule says.
# Usage: history.sh path/to/roller path/to/history_probe
source "$(dirname "${BASH_SOURCE[0]}")/../host/lib.sh"
PROBE=${2:?usage: $0 roller history_probe}

log_of() { sed -n 's/^Session log: //p' "$1"; }

# expect_in_text <file> <text> <description>: as expect_in, across line breaks.
expect_in_text() {
	if tr -s ' \n' '  ' <"$1" | grep -qF -- "$2"; then pass "$3"; else
		fail "$3: '$2' not in $(basename "$1")"; sed 's/^/  /' "$1" | head -n 30; fi
}

# Data directories: each scenario gets its own history.
use_data() {
	export XDG_DATA_HOME=$WORK/$1
	SESSIONS=$XDG_DATA_HOME/roller/sessions
	mkdir -p "$SESSIONS"
	chmod 700 "$XDG_DATA_HOME/roller" "$SESSIONS"
}

# record <seed> [coach options...]: a short calves session; prints its log.
record() {
	local seed=$1
	shift
	"$ROLLER" coach --sim --plain --speed max --seed "$seed" --reps 2 --hold 20 --rest 5 \
		--body-weight 70 "$@" >"$WORK/rec.out" 2>"$WORK/rec.err" ||
		echo "FAIL: coach --sim --seed $seed: $(cat "$WORK/rec.err")" >&2
	log_of "$WORK/rec.out"
}

# ---- Every command says how it is used -----------------------------------------
for cmd in sessions show rm trends export plot; do
	expect_status 0 "$cmd --help" -- "$ROLLER" "$cmd" --help
	expect_in "$WORK/out" "Usage: roller $cmd" "$cmd --help shows its usage"
	expect_status 2 "$cmd --frob" -- "$ROLLER" "$cmd" --frob
	expect_in "$WORK/err" "Try 'roller $cmd --help'" "$cmd: a bad option points to --help"
done
expect_status 0 "roller --help lists the history commands" -- "$ROLLER" --help
for cmd in show rm trends export plot; do expect_in "$WORK/out" "  $cmd " "roller --help lists $cmd"; done
expect_status 0 "trends with no sessions" -- "$ROLLER" trends
expect_in "$WORK/out" "No sessions yet" "trends says there are none"

# ---- Recording puts the session in the history ---------------------------------
use_data data
expect_status 0 "coach --sim records a session" -- \
	"$ROLLER" coach --sim --plain --speed max --seed 1 --reps 2 --hold 20 --rest 5 --body-weight 70
expect_in "$WORK/out" "History:     session 1 (roller show 1" "coach says the session's history id"
first=$(log_of "$WORK/out")
[[ -f $XDG_DATA_HOME/roller/index.sqlite ]] && pass "the index exists" || fail "no index.sqlite"
[[ $(stat -c %a "$XDG_DATA_HOME/roller/index.sqlite") == 600 ]] && pass "index is 0600" ||
	fail "index mode $(stat -c %a "$XDG_DATA_HOME/roller/index.sqlite")"
second=$(record 2 --region shins)
third=$(record 3)

expect_status 0 "sessions" -- "$ROLLER" sessions
expect_in "$WORK/out" "ID  START (UTC)" "sessions has a heading"
[[ $(grep -c '\.rlog' "$WORK/out") == 3 ]] && pass "sessions lists 3" || fail "sessions: $(cat "$WORK/out")"
expect_in "$WORK/out" "shins" "sessions shows the region"
grep -qE '^ +1  .*calves .* 2 +2 ' "$WORK/out" && pass "session 1: 2 holds, 2 complete" ||
	fail "session 1 line: $(grep -E '^ +1 ' "$WORK/out")"

expect_status 0 "sessions --json" -- "$ROLLER" sessions --json
cp "$WORK/out" "$WORK/before.json"
[[ $("$PROBE" json "$WORK/before.json" sessions referrals | head -n 1) == 3 ]] &&
	pass "sessions --json: 3 sessions, valid JSON" || fail "sessions --json: $(head -c 300 "$WORK/before.json")"
expect_status 0 "sessions --region shins --json" -- "$ROLLER" sessions --region shins --json
[[ $("$PROBE" json "$WORK/out" sessions | head -n 1) == 1 ]] && pass "--region filters" || fail "--region shins"
expect_status 0 "sessions --since tomorrow" -- "$ROLLER" sessions --since "$(date -u -d tomorrow +%F)"
expect_in "$WORK/out" "No sessions that match" "--since filters"
expect_status 2 "sessions --since garbage" -- "$ROLLER" sessions --since 2026-13-45
expect_status 2 "sessions --region elbow" -- "$ROLLER" sessions --region elbow

# ---- Reindex reproduces the rows -----------------------------------------------
expect_status 0 "sessions --reindex --json" -- "$ROLLER" sessions --reindex --json
if cmp -s "$WORK/before.json" "$WORK/out"; then pass "reindex gives the same rows"; else
	fail "reindex differs"; diff "$WORK/before.json" "$WORK/out" | head -n 20 || true; fi

# ---- show ------------------------------------------------------------------------
expect_status 0 "show 1" -- "$ROLLER" show 1
expect_in "$WORK/out" "Session 1" "show names the session"
expect_in "$WORK/out" "2 x 20 s holds, 5 s rest" "show has the plan"
expect_in "$WORK/out" "complete" "show lists the holds"
expect_in "$WORK/out" "Summary (calves): 2 of 2 repetitions done" "show has the summary"
expect_status 0 "show <file>" -- "$ROLLER" show "$second"
expect_in "$WORK/out" "region       shins" "show takes a file"
expect_status 1 "show 99" -- "$ROLLER" show 99
expect_in "$WORK/err" "no session 99" "show 99 says there is none"

# ---- export ---------------------------------------------------------------------
expect_status 0 "export 1 --json -o" -- "$ROLLER" export 1 --json -o "$WORK/s1.json"
counts=$("$PROBE" json "$WORK/s1.json" samples holds events) || fail "export JSON does not parse"
samples=$(sed -n 1p <<<"$counts")
holds=$(sed -n 2p <<<"$counts")
events=$(sed -n 3p <<<"$counts")
((samples > 1000)) && pass "JSON has $samples samples" || fail "JSON samples: $samples"
[[ $holds == 2 ]] && pass "JSON has 2 holds" || fail "JSON holds: $holds"
[[ $(stat -c %a "$WORK/s1.json") == 600 ]] && pass "export file is 0600" || fail "export mode"
expect_status 0 "export 1 --csv -o" -- "$ROLLER" export 1 --csv -o "$WORK/s1.csv"
[[ $(wc -l <"$WORK/s1.csv") == $((samples + 1)) ]] && pass "CSV: samples + 1 lines" ||
	fail "CSV has $(wc -l <"$WORK/s1.csv") lines for $samples samples"
[[ $(head -n 1 "$WORK/s1.csv") == "sample,t_s,force_n,percent_bw,still" ]] && pass "CSV header" ||
	fail "CSV header: $(head -n 1 "$WORK/s1.csv")"
awk -F, 'NR > 1 && (NF != 5 || $1 !~ /^[0-9]+$/) { bad = 1 } END { exit bad }' "$WORK/s1.csv" &&
	pass "CSV rows have 5 fields" || fail "CSV rows malformed"
expect_status 0 "export --csv --table holds" -- "$ROLLER" export 1 --csv --table holds
[[ $(wc -l <"$WORK/out") == $((holds + 1)) ]] && pass "holds CSV: holds + 1 lines" || fail "holds CSV: $(cat "$WORK/out")"
expect_status 0 "export --csv --table events" -- "$ROLLER" export "$first" --csv --table events
[[ $(wc -l <"$WORK/out") == $((events + 1)) ]] && pass "events CSV: events + 1 lines" || fail "events CSV"
expect_in "$WORK/out" ",coach,hold-start," "events include the coach's cues"
expect_status 2 "export without a format" -- "$ROLLER" export 1
expect_status 2 "export --csv --json" -- "$ROLLER" export 1 --csv --json

# ---- plot ------------------------------------------------------------------------
expect_status 0 "plot 1 -o png" -- "$ROLLER" plot 1 -o "$WORK/s1.png"
"$PROBE" png "$WORK/s1.png" 1200 600 && pass "PNG 1200x600 with band and force" || fail "PNG check"
expect_status 0 "plot --size 640x360 -o svg" -- "$ROLLER" plot 3 --size 640x360 -o "$WORK/s3.svg"
"$PROBE" svg "$WORK/s3.svg" 640 360 && pass "SVG 640x360" || fail "SVG check"
expect_status 2 "plot -o gif" -- "$ROLLER" plot 1 -o "$WORK/s1.gif"
expect_status 2 "plot --size 10x10" -- "$ROLLER" plot 1 --size 10x10 -o "$WORK/x.png"
expect_status 1 "plot into a missing directory" -- "$ROLLER" plot 1 -o "$WORK/none/x.png"

# ---- Damaged and foreign logs: clear errors, nothing changed ----------------------
cp "$first" "$WORK/flipped.rlog"
size=$(stat -c %s "$WORK/flipped.rlog")
printf '\xff\xff\xff\xff' | dd of="$WORK/flipped.rlog" bs=1 seek=$((size / 2)) conv=notrunc status=none
cp "$WORK/flipped.rlog" "$SESSIONS/20250101T000000Z-calves.rlog"
printf 'not a session log\n' >"$SESSIONS/20250102T000000Z-calves.rlog"
"$ROLLER" sessions --json >"$WORK/before.json"
expect_status 0 "sessions with damaged logs in the directory" -- "$ROLLER" sessions
expect_in "$WORK/err" "20250101T000000Z-calves.rlog: damaged" "the damaged log is named"
expect_in "$WORK/err" "20250102T000000Z-calves.rlog: not a roller session log" "the foreign file is named"
[[ $(grep -c '\.rlog' "$WORK/out") == 3 ]] && pass "the list is unchanged" || fail "list: $(cat "$WORK/out")"
"$ROLLER" sessions --json >"$WORK/after.json" 2>/dev/null
cmp -s "$WORK/before.json" "$WORK/after.json" && pass "the index is unchanged" || fail "index changed"
for cmd in "show" "export --csv -o $WORK/bad.csv" "export --json -o $WORK/bad.json" "plot -o $WORK/bad.png"; do
	# shellcheck disable=SC2086
	expect_status 1 "$cmd of a damaged log" -- "$ROLLER" $cmd "$WORK/flipped.rlog"
	expect_in "$WORK/err" "damaged" "$cmd says it is damaged"
done
[[ ! -e $WORK/bad.csv && ! -e $WORK/bad.json && ! -e $WORK/bad.png ]] &&
	pass "no output file from a damaged log" || fail "output left behind: $(ls "$WORK"/bad.* 2>&1)"
[[ -z $(find "$WORK" -maxdepth 1 -name 'bad.*') ]] && pass "no temporary files left" || fail "temp files left"
rm -f "$SESSIONS"/2025010*

# A torn tail (kill -9 mid-write) is not damage: it is listed and says so.
head -c -7 "$third" >"$SESSIONS/20250103T000000Z-calves.rlog"
expect_status 0 "sessions with a torn log" -- "$ROLLER" sessions
expect_in "$WORK/out" "(torn tail)" "the torn log is listed as torn"
expect_status 0 "export of a torn log" -- "$ROLLER" export "$SESSIONS/20250103T000000Z-calves.rlog" --csv
expect_in "$WORK/err" "torn record" "export reports the torn tail"
rm -f "$SESSIONS/20250103T000000Z-calves.rlog"

# ---- A damaged index: a clear error, and --reindex repairs it -----------------------
cp "$XDG_DATA_HOME/roller/index.sqlite" "$WORK/index.bak"
head -c 4096 /dev/urandom >"$XDG_DATA_HOME/roller/index.sqlite"
expect_status 1 "sessions with a damaged index" -- "$ROLLER" sessions
expect_in "$WORK/err" "--reindex" "the error says how to repair"
expect_status 0 "sessions --reindex repairs it" -- "$ROLLER" sessions --reindex
[[ $(grep -c '\.rlog' "$WORK/out") == 3 ]] && pass "all 3 sessions back" || fail "after reindex: $(cat "$WORK/out")"

# ---- rm -------------------------------------------------------------------------------
expect_status 2 "rm without a terminal and without --yes" -- "$ROLLER" rm 2 </dev/null
[[ -f $second ]] && pass "the file is still there" || fail "rm deleted without confirmation"
if command -v script >/dev/null; then
	printf 'n\n' | script -qec "'$ROLLER' rm 2" /dev/null >"$WORK/out" 2>&1 && fail "rm answered n: exit 0" ||
		pass "rm on a terminal, answered n: not deleted"
	expect_in "$WORK/out" "[y/N]" "rm asks on a terminal"
	[[ -f $second ]] && pass "the file is still there after n" || fail "deleted after n"
	printf 'y\n' | script -qec "'$ROLLER' rm 2" /dev/null >"$WORK/out" 2>&1 && pass "rm on a terminal, answered y" ||
		fail "rm answered y failed: $(cat "$WORK/out")"
	[[ ! -f $second ]] && pass "the file is gone after y" || fail "file still there after y"
else
	"$ROLLER" rm 2 --yes >/dev/null
fi
expect_status 0 "rm 3 --yes" -- "$ROLLER" rm 3 --yes
[[ ! -f $third ]] && pass "rm deleted the log" || fail "log still there"
expect_status 0 "sessions --json after rm" -- "$ROLLER" sessions --json
[[ $("$PROBE" json "$WORK/out" sessions) == 1 ]] && pass "rm removed the rows" || fail "rows after rm: $(cat "$WORK/out")"
expect_status 1 "rm 3 again" -- "$ROLLER" rm 3 --yes
expect_in "$WORK/err" "no session 3" "rm of an unknown id says so"
expect_status 2 "rm of a file name" -- "$ROLLER" rm "$first" --yes

# ---- The referral hint --------------------------------------------------------------
# Eight sessions of the same spot, moved to dates over three ISO weeks (2026-W02
# to W04), with the same force every time: the rule says see a doctor.
use_data pool
pool=()
for seed in 1 2 3 4 5 6 7 8; do pool+=("$(record "$seed")"); done
dates=(2026-01-05 2026-01-07 2026-01-09 2026-01-12 2026-01-14 2026-01-16 2026-01-19 2026-01-21)

# scenario <name> <count> <dates...>: a history from the first <count> pool logs.
scenario() {
	local name=$1 count=$2 i
	shift 2
	use_data "$name"
	for ((i = 0; i < count; i++)); do
		"$PROBE" redate "${pool[i]}" "$SESSIONS" "${1}T08:00-calves.rlog" "${1}T08:00" ||
			fail "redate ${pool[i]}"
		shift
	done
}

scenario due 8 "${dates[@]}"
expect_status 0 "sessions: 8 sessions over 3 weeks, same force" -- "$ROLLER" sessions
expect_in_text "$WORK/out" "Consider seeing a doctor about your calves: 8 sessions over 3 weeks" "the hint appears"
expect_in_text "$WORK/out" "not a diagnosis" "the hint says it is no diagnosis"
expect_in_text "$WORK/out" "See a doctor or physiotherapist" "the hint carries the referral text"
expect_status 0 "trends" -- "$ROLLER" trends
expect_in "$WORK/out" "2026-W02" "trends has the first week"
expect_in "$WORK/out" "2026-W04" "trends has the last week"
expect_in "$WORK/out" "Consider seeing a doctor about your calves" "trends shows the hint"
expect_status 0 "sessions --trends --json" -- "$ROLLER" sessions --trends --json
[[ $("$PROBE" json "$WORK/out" weeks referrals | tr '\n' ' ') == "3 1 " ]] &&
	pass "trends JSON: 3 weeks, 1 referral" || fail "trends JSON: $(cat "$WORK/out")"
expect_status 0 "sessions --region shins" -- "$ROLLER" sessions --region shins
if grep -q "Consider seeing a doctor" "$WORK/out"; then fail "hint shown for shins"; else pass "no hint for another region"; fi

scenario seven 7 "${dates[@]}"
expect_status 0 "sessions: 7 sessions" -- "$ROLLER" sessions
if grep -q "Consider seeing a doctor" "$WORK/out"; then fail "hint after 7 sessions"; else pass "no hint after 7 sessions"; fi

scenario two_weeks 8 2026-01-05 2026-01-06 2026-01-07 2026-01-08 2026-01-12 2026-01-13 2026-01-14 2026-01-15
expect_status 0 "sessions: 8 sessions in 2 weeks" -- "$ROLLER" sessions
if grep -q "Consider seeing a doctor" "$WORK/out"; then fail "hint after 2 weeks"; else pass "no hint within 2 weeks"; fi

# The same, but the last three sessions held more (the user raised the band as
# the spot eased): no hint.
cat >"$WORK/eased.ini" <<'EOF'
[plan.calves]
band_low_pct = 30
band_high_pct = 45
EOF
use_data pool
eased=()
for seed in 6 7 8; do eased+=("$(record "$seed" --config "$WORK/eased.ini")"); done
scenario eased 5 "${dates[@]}"
for i in 0 1 2; do
	"$PROBE" redate "${eased[i]}" "$SESSIONS" "${dates[5 + i]}T08:00-calves.rlog" "${dates[5 + i]}T08:00" ||
		fail "redate eased $i"
done
expect_status 0 "sessions: 8 sessions, the last 3 at a higher force" -- "$ROLLER" sessions --json
if grep -q "Consider seeing a doctor" "$WORK/out"; then fail "hint although the force went up"; else
	pass "no hint when the force went up"; fi
[[ $("$PROBE" json "$WORK/out" sessions) == 8 ]] && pass "8 sessions listed" || fail "eased: $(cat "$WORK/out")"

# The hint also follows a live session that completes the pattern: seven
# sessions over the last three weeks, then today's.
use_data live
for i in 0 1 2 3 4 5 6; do
	d=$(date -u -d "$((20 - i * 3)) days ago" +%F)
	"$PROBE" redate "${pool[i]}" "$SESSIONS" "${d}T08:00-calves.rlog" "${d}T08:00"
done
expect_status 0 "coach: the 8th session" -- \
	"$ROLLER" coach --sim --plain --speed max --seed 9 --reps 2 --hold 20 --rest 5 --body-weight 70
expect_in_text "$WORK/out" "Consider seeing a doctor about your calves: 8 sessions" "coach ends with the hint"

finish
