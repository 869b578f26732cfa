#!/usr/bin/env bash
# kill -9 of `roller coach` loses at most the last second; after it the log
# still dumps (a torn tail is reported, not an error), the history reindexes
# it and a replay coaches it. Then hostile files: a clear error, nothing changed.
#
# What "lost" means here: SIGKILL ends the process, not the kernel, so the page
# cache survives it and the file holds exactly what the program had write()n;
# fsync only matters for a power cut, which no test here can make. So this
# tests the user-space side of the bound (host/store/README.md, "Crash
# safety"): the writer must not keep records in its own buffers for more than
# a second. Three ways, each able to fail:
#  - issue bound: every sample the coach printed (--json) more than 1 s before
#    the kill is in the file;
#  - rlog.h contract: every sample it printed at all is in the file (a record
#    reaches the kernel before the coach sees its frame, session.c);
#  - the file, watched while the session runs, never goes more than 1 s
#    without growing (frames come every 25 ms at --speed 4).
# Kill points are found from the JSON lines or the file, never by sleeping;
# the 1.2 s wait after a trigger line is the quantity under test.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
shopt -s nullglob

SPEED=4
COACH=(coach --sim --json --speed "$SPEED" --seed 1 --reps 1 --hold 20 --rest 0 --body-weight 75)
HEADER_SIZE=90     # host/store/README.md
BOUND_US=1000000   # the issue's "last second"
WAIT_US=1200000    # trigger line -> kill, where the bound is checked
RUN_TIMEOUT_US=20000000

# NOW = the wall clock in µs, without a fork (the loop below polls with it).
now() { NOW=${EPOCHREALTIME//[!0-9]/}; NOW=$((10#$NOW)); }

# The highest sample index a dump holds: measurements (first + n - 1) and
# device events (sample=); -1 when there is none.
dump_progress() {
	awk '$2 == "in" && ($3 == "measurement" || $3 == "event") {
		first = ""; n = ""; s = ""
		for (i = 4; i <= NF; i++) {
			if ($i ~ /^first=[0-9]+$/) first = substr($i, 7)
			else if ($i ~ /^n=[0-9]+$/) n = substr($i, 3)
			else if ($i ~ /^sample=[0-9]+$/) s = substr($i, 8)
		}
		if (first != "" && n != "" && first + n - 1 > max) max = first + n - 1
		if (s != "" && s + 0 > max) max = s + 0
	} BEGIN { max = -1 } END { print max }' "$1"
}

# The highest "sample" of the JSON lines ("<arrival µs> <json>") that
# arrived at or before $2 µs; -1 when none did.
printed_progress() {
	awk -v limit="$2" '$1 <= limit && match($0, /"sample":[0-9]+/) {
		s = substr($0, RSTART + 9, RLENGTH - 9) + 0; if (s > max) max = s
	} BEGIN { max = -1 } END { print max }' "$1"
}

# run_kill <name> <trigger> <wait_us> <too_late> <what>
#   Runs `roller coach` into its own XDG_DATA_HOME and SIGKILLs it wait_us
#   after the trigger: "file" (the log holds its complete header) or a
#   string of a JSON line. too_late: a JSON string that must not come first
#   (the kill point would be missed). Then checks everything after the kill.
run_kill() {
	local name=$1 trigger=$2 wait_us=$3 too_late=$4 what=$5
	local dir=$WORK/$name pid fd t start trig_at="" kill_at="" log="" size=-1
	local seen_at=0 last_poll=0 max_stall=0 stale=0 chunk partial="" status=0 rc poll=0.01 comm
	local files sdir=$WORK/$name/data/roller/sessions

	echo "--- kill point: $what"
	[[ $trigger != file ]] || poll=0.001 # aim close to the header
	mkdir -p "$dir"
	mkfifo "$dir/stdout.fifo"
	XDG_DATA_HOME=$dir/data "$ROLLER" "${COACH[@]}" >"$dir/stdout.fifo" 2>"$dir/stderr" &
	pid=$!
	exec {fd}<"$dir/stdout.fifo"
	: >"$dir/lines"
	now
	start=$NOW
	while :; do
		now
		t=$NOW
		if ((t - start > RUN_TIMEOUT_US)); then
			fail "$name: no kill point within $((RUN_TIMEOUT_US / 1000000)) s (trigger '$trigger')"
			kill -9 "$pid" 2>/dev/null || true
			break
		fi
		# The log file and its growth: a size seen by a stat() that ended at
		# seen_at and again by one that began at last_poll means no write()
		# for at least last_poll - seen_at.
		if [[ -z $log ]]; then
			files=("$sdir"/*.rlog)
			((${#files[@]} == 0)) || log=${files[0]}
		fi
		if [[ -n $log ]]; then
			rc=$(stat -c %s "$log")
			if ((rc != size)); then
				size=$rc
				now
				seen_at=$NOW
			else
				last_poll=$t
			fi
			if ((size >= HEADER_SIZE && last_poll - seen_at > max_stall)); then
				max_stall=$((last_poll - seen_at))
			fi
			if [[ -z $trig_at && $trigger == file ]] && ((size >= HEADER_SIZE)); then
				now
				trig_at=$NOW
			fi
		fi
		if [[ -n $trig_at ]] && ((t - trig_at >= wait_us)); then
			comm=gone
			read -r comm <"/proc/$pid/comm" 2>/dev/null || true
			[[ $comm == roller ]] || fail "$name: pid $pid is $comm, not roller"
			now
			kill_at=$NOW
			kill -9 "$pid" 2>/dev/null || true
			stale=$((kill_at - seen_at))
			break
		fi
		# Its output, stamped on arrival (never before it was printed).
		if IFS= read -r -t "$poll" -u "$fd" chunk; then
			now
			t=$NOW
			printf '%s %s\n' "$t" "$partial$chunk" >>"$dir/lines"
			if [[ -z $trig_at && $trigger != file && $partial$chunk == *"$trigger"* ]]; then
				trig_at=$t
			fi
			partial=""
		else
			rc=$?
			if ((rc <= 128)); then
				fail "$name: roller coach ended by itself before the kill point ($what)"
				sed 's/^/  stderr: /' "$dir/stderr" | head -n 10
				break
			fi
			partial+=$chunk
		fi
	done
	{ wait "$pid" || status=$?; } 2>/dev/null # no "Killed" job notice
	# What it printed before dying and we had not read yet: printed before the kill.
	while IFS= read -r -u "$fd" chunk; do
		now
		printf '%s %s\n' "$NOW" "$partial$chunk" >>"$dir/lines"
		partial=""
	done
	exec {fd}<&-
	[[ -n $kill_at ]] || { echo "  $name: not killed; nothing more to check"; return; }
	[[ $status == 137 ]] && pass "$name: roller was killed by SIGKILL (status 137)" ||
		fail "$name: roller exit status $status, expected 137 (killed)"
	if [[ -n $too_late ]] && grep -qF -- "$too_late" "$dir/lines"; then
		fail "$name: kill point missed: '$too_late' was printed before the kill"
	fi

	files=("$sdir"/*.rlog)
	if ((${#files[@]} != 1)); then
		fail "$name: expected one session log in $sdir, found ${#files[@]}"
		return
	fi
	log=${files[0]}
	[[ $(stat -c %a "$log") == 600 ]] && pass "$name: the log is 0600" ||
		fail "$name: log mode $(stat -c %a "$log"), expected 600"
	[[ $(stat -c %a "$sdir") == 700 ]] && pass "$name: the sessions directory is 0700" ||
		fail "$name: directory mode $(stat -c %a "$sdir"), expected 700"

	# The file: its header intact, every record decodes, a torn tail is no error.
	expect_status 0 "$name: log dump after the kill" -- "$ROLLER" log dump "$log"
	cp "$WORK/out" "$dir/dump"
	expect_in "$dir/dump" "roller sim:1  transport sim" "$name: the header names the sim roller"
	expect_in "$dir/dump" "plan 1 x 20 s, rest 0 s" "$name: the header holds the plan"
	local records period_us info=0 on_disk printed_all printed_old
	records=$(sed -n 's/^# \([0-9]*\) records.*/\1/p' "$dir/dump")
	[[ -n $records ]] || fail "$name: the dump has no record count"
	grep -q 'torn tail at offset' "$dir/dump" && echo "  note: $name: torn tail reported"
	grep -q ' in    info ' "$dir/dump" && info=1
	period_us=$(sed -n 's/.*sample period \([0-9]*\) us.*/\1/p' "$dir/dump")
	[[ -n $period_us ]] || { fail "$name: no sample period in the header"; period_us=0; }

	# What was printed vs what is in the file, in sample indexes. The first
	# cue says sample 0 before any measurement: it follows a device event
	# (sample=0) that was logged first, so 0 is checked too.
	on_disk=$(dump_progress "$dir/dump")
	printed_all=$(printed_progress "$dir/lines" 99999999999999999)
	printed_old=$(printed_progress "$dir/lines" $((kill_at - BOUND_US)))
	if ((wait_us >= BOUND_US && printed_old <= 0)); then
		fail "$name: nothing with a sample was printed 1 s before the kill: the bound was not tested"
	fi
	if ((printed_old > on_disk)); then
		fail "$name: printed sample $printed_old more than 1 s before the kill, the file ends at sample $on_disk ($(((printed_old - on_disk) * period_us / 1000)) ms lost)"
	elif ((printed_old >= 0)); then
		pass "$name: what was printed >= 1 s before the kill is in the file (sample $printed_old <= $on_disk)"
	fi
	if ((printed_all > on_disk)); then
		fail "$name: printed sample $printed_all before the kill, the file ends at sample $on_disk: $(((printed_all - on_disk) * period_us / 1000)) ms of printed data not in the file (rlog.h: a record reaches the kernel before append returns)"
	elif ((printed_all >= 0)); then
		pass "$name: everything printed before the kill is in the file (sample $printed_all <= $on_disk)"
	fi
	if ((max_stall > BOUND_US)); then
		fail "$name: the log did not grow for $((max_stall / 1000)) ms while the session ran (bound: 1000 ms of data kept in user space)"
	else
		pass "$name: the log never went more than 1 s without a write (longest: $((max_stall / 1000)) ms)"
	fi
	local ahead=n/a lost=0
	if ((printed_all >= 0)); then
		ahead="$(((on_disk - printed_all) * period_us / 1000)) ms"
		((printed_all <= on_disk)) || lost=$(((printed_all - on_disk) * period_us / 1000))
	fi
	echo "  measured: $name: $records records; killed $(((kill_at - trig_at) / 1000)) ms after the trigger;" \
		"printed up to sample $printed_all, file up to sample $on_disk (file ahead by $ahead" \
		"of device time; lost $lost ms); last growth seen $((stale / 1000)) ms before the kill"

	# The history and a replay take it, as long as the Info frame made it in.
	# The log is created when the Info frame comes: header, fsync, then the
	# records kept until then. A kill during that fsync leaves a header-only
	# file, which has nothing to coach; only the header point may see one.
	if ((info)); then
		XDG_DATA_HOME=$dir/data expect_status 0 "$name: sessions --reindex" -- "$ROLLER" sessions --reindex
		expect_in "$WORK/out" "$log" "$name: the reindexed history lists the killed session"
		expect_in "$WORK/err" "1 sessions indexed, 0 logs left out" "$name: reindex indexed it"
		expect_status 0 "$name: replay --max --summary" -- "$ROLLER" replay --max --summary "$log"
		expect_in "$WORK/out" "Summary (calves)" "$name: the replay prints a summary"
	else
		((wait_us == 0)) || fail "$name: no Info frame in the log $((wait_us / 1000)) ms after the trigger"
		echo "  note: $name: killed before the Info frame was logged: header only"
		XDG_DATA_HOME=$dir/data expect_status 0 "$name: sessions --reindex" -- "$ROLLER" sessions --reindex
		expect_in "$WORK/err" "$(basename "$log"): no Info frame" "$name: reindex names the header-only log"
		expect_status 1 "$name: replay of a header-only log" -- "$ROLLER" replay --max --summary "$log"
		expect_in "$WORK/err" "no Info frame" "$name: the replay says why"
	fi
}

run_kill header file 0 '"cue":"hold-start"' "right after the header is written (the file reaches 90 bytes)"
run_kill streaming '"phase":"positioning"' "$WAIT_US" '"cue":"hold-start"' \
	"streaming before the first hold (1.2 s after 'positioning')"
run_kill mid-hold '"cue":"hold-start"' "$WAIT_US" '"cue":"halfway"' "mid-hold (1.2 s after 'hold-start')"
# 'ten-left' is 10 s of device time (2.5 s at --speed 4) before the release;
# the summary follows the release within a millisecond, too soon to aim at.
run_kill near-end '"cue":"ten-left"' "$WAIT_US" '"cue":"release"' \
	"near the end (1.2 s after 'ten-left', before the release)"

# ---- Hostile files: a clear error (exit 1, the file named, no hang), nothing changed.
# Torn and bit-flipped logs: log_dump.sh, tests/history/history.sh,
# tests/store/test_rlog.c and fuzz_rlog. These are the ones not covered there.
echo "--- hostile files"
H=$WORK/hostile/data/roller/sessions
mkdir -p "$H"
chmod 700 "$H"
expect_status 0 "a complete session to spoil" -- env XDG_DATA_HOME="$WORK/good" \
	"$ROLLER" coach --sim --plain --speed max --reps 1 --hold 5 --rest 0 --body-weight 75
good=$(sed -n 's/^Session log: //p' "$WORK/out")
cp "$good" "$H/20250101T000000Z-calves.rlog"
cp "$good" "$H/future.rlog"
printf '\x02' | dd of="$H/future.rlog" bs=1 seek=4 conv=notrunc status=none
head -c 50 "$good" >"$H/header-cut.rlog"
truncate -s 2G "$H/huge.rlog"
ln -s /dev/zero "$H/device.rlog"
mkfifo "$H/fifo.rlog"
declare -A reason=([future]="written by a newer roller" [header-cut]="not a roller session log"
	[huge]="file too large" [device]="not a roller session log" [fifo]="not a roller session log")
fingerprint() { (cd "$H" && stat -c '%n %F %s %Y %a' -- *.rlog && md5sum -- future.rlog header-cut.rlog); }
fingerprint >"$WORK/before"
for f in future header-cut huge device fifo; do
	for cmd in "log dump" "replay --max --summary"; do
		rc=0
		# shellcheck disable=SC2086
		timeout 3 "$ROLLER" $cmd "$H/$f.rlog" >"$WORK/out" 2>"$WORK/err" || rc=$?
		if [[ $rc == 124 ]]; then
			fail "$cmd $f.rlog: still running after 3 s (blocked opening it?), expected exit 1 at once"
		elif [[ $rc != 1 ]]; then
			fail "$cmd $f.rlog: exit $rc, expected 1"
			sed 's/^/  stderr: /' "$WORK/err" | head -n 5
		else
			expect_in "$WORK/err" "$f.rlog: ${reason[$f]}" "$cmd $f.rlog: exit 1, the file and the reason named"
		fi
	done
done
XDG_DATA_HOME=$WORK/hostile/data expect_status 0 "sessions --reindex among hostile files" -- \
	timeout 20 "$ROLLER" sessions --reindex
expect_in "$WORK/out" "20250101T000000Z-calves.rlog" "the good log is listed"
expect_in "$WORK/err" "1 sessions indexed, 5 logs left out" "the hostile files are left out"
for f in future header-cut huge device fifo; do
	expect_in "$WORK/err" "$f.rlog:" "reindex names $f.rlog"
done
fingerprint >"$WORK/after"
if cmp -s "$WORK/before" "$WORK/after"; then pass "the hostile files are unchanged"; else
	fail "hostile files changed"; diff "$WORK/before" "$WORK/after" | head -n 10; fi

finish
