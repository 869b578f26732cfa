#!/usr/bin/env bash
# roller log dump: every record decoded; a torn tail is reported, a damaged
# file is a clear error (exit 1).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

expect_status 0 "a short sim session" -- \
	"$ROLLER" coach --sim --plain --speed max --reps 1 --hold 5 --rest 0 --body-weight 70
log=$(sed -n 's/^Session log: //p' "$WORK/out")
[[ -f $log ]] || { fail "no session log"; finish; }

expect_status 0 "log dump" -- "$ROLLER" log dump "$log"
cp "$WORK/out" "$WORK/dump"
expect_in "$WORK/dump" "# created" "the header is printed"
expect_in "$WORK/dump" "link connected" "link notes are printed"
expect_in "$WORK/dump" "info proto=1.0" "the Info frame is decoded"
expect_in "$WORK/dump" "control-request start-session" "requests are decoded"
expect_in "$WORK/dump" "status=ok session=" "responses are decoded"
expect_in "$WORK/dump" "measurement first=" "measurements are decoded"
expect_in "$WORK/dump" "event hold-end" "hold events are decoded"
expect_in "$WORK/dump" "session end" "the end-of-session marker is logged"
records=$(sed -n 's/^# \([0-9]*\) records.*/\1/p' "$WORK/dump")
lines=$(grep -vc '^#' "$WORK/dump")
[[ $records == "$lines" && $records -gt 10 ]] && pass "one line per record ($lines)" ||
	fail "records $records, lines $lines"

# kill -9 in the middle of a write: the last record is cut off.
cp "$log" "$WORK/torn.rlog"
truncate -s -7 "$WORK/torn.rlog"
expect_status 0 "log dump of a torn file" -- "$ROLLER" log dump "$WORK/torn.rlog"
expect_in "$WORK/out" "torn tail at offset" "the torn tail is reported"
[[ $(grep -vc '^#' "$WORK/out") == $((lines - 1)) ]] && pass "all complete records dumped" ||
	fail "torn dump has $(grep -vc '^#' "$WORK/out") records, expected $((lines - 1))"
expect_status 0 "replay of a torn file" -- "$ROLLER" replay --max --plain "$WORK/torn.rlog"
expect_in "$WORK/err" "torn record" "replay reports the torn tail"

# A flipped byte in the middle: damaged, exit 1, with the offset.
cp "$log" "$WORK/damaged.rlog"
size=$(stat -c %s "$WORK/damaged.rlog")
printf '\xff' | dd of="$WORK/damaged.rlog" bs=1 seek=$((size / 2)) conv=notrunc status=none
printf '\x00' | dd of="$WORK/damaged.rlog" bs=1 seek=$((size / 2 + 1)) conv=notrunc status=none
expect_status 1 "log dump of a damaged file" -- "$ROLLER" log dump "$WORK/damaged.rlog"
expect_in "$WORK/err" "damaged record at offset" "the damage is reported with its offset"
expect_status 1 "replay of a damaged file" -- "$ROLLER" replay --max --plain "$WORK/damaged.rlog"
expect_in "$WORK/err" "damaged record" "replay reports the damage"

finish
