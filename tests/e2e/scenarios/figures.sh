# shellcheck shell=bash
# tests/e2e/scenarios/figures.sh: the measured figures of the QEMU tier, after
# roller.sh in the same boot (they use the bond roller_pair / roller_forget_pair
# leave). They assert only what must hold (the measurement ran, matched, saw no
# bad chunk); the figures themselves are metrics in result.txt, never pass/fail
# material (the guest runs under TCG on a shared machine).
#
#   fig_latency     a sample taken by the roller's core -> the Measurement frame
#                   carrying it reaches `roller coach` (both on the guest clock:
#                   roller-periph --timestamps and the session log's arrival
#                   times, joined by e2e_probe latency). The cue follows in the
#                   same callback (tools/bench/host_bench measures that part).
#   fig_sync_flood  `roller sync` of a session the roller recorded on its own
#                   (roller-periph --prerecord), as a ratio to a raw flood of
#                   Log notifications of the same size class (roller-periph
#                   --flood, received by e2e_probe flood through roller's own
#                   Bluetooth transport), in the same boot.

# A seed of its own gives roller-periph a device id of its own, so the sync
# state of roller.sh's roller does not apply to the prerecorded log.
E2E_FIG_SEED=4242
E2E_FIG_FLOOD_BYTES=48000

# _fig_field LINE KEY: REPLY = the value of KEY=VALUE in LINE ("" if none).
_fig_field() {
	local re="(^| )$2=([^ ]*)"
	REPLY=
	[[ $1 =~ $re ]] && REPLY=${BASH_REMATCH[2]}
}

e2e_scenario fig_latency 150 "figure: sample on the roller -> frame in roller coach (guest clock)"
scenario_fig_latency() {
	e2e_require_bin ROLLER_BIN ROLLER_PERIPH_BIN E2E_PROBE_BIN
	local stamps=$E2E_SCENARIO_DIR/timestamps.txt session
	# Real time: the figure is about the link at the roller's own pace.
	start_periph --timestamps "$stamps"
	cursor_open coach "$E2E_SCENARIO_DIR/coach.log"
	roller_bg coach coach --json "$E2E_PERIPHERAL_ADDR"
	cursor_wait coach '"event":"link","state":"connected"' 60 ||
		e2e_fail "roller coach did not connect in 60 s (coach.log)"
	# A line 20 s into the session (the person's plan changes phase every
	# few seconds): some 200 batches by then.
	cursor_wait coach '"t":([2-9][0-9]{4}|[0-9]{6,}),' 120 ||
		e2e_fail "roller coach printed nothing 20 s into the session in 120 s (coach.log)"
	# The roller must have been set up over the link (clock, band, recording).
	! grep -q 'did not take\|did not start recording' "$E2E_SCENARIO_DIR/coach.log" ||
		e2e_fail "roller coach could not set the roller up (coach.log)"
	stop_bg coach INT
	[[ $REPLY == 0 || $REPLY == 130 ]] || e2e_fail "roller coach exited with $REPLY on SIGINT"
	# SIGINT: roller-periph closes (flushes) the timestamps file.
	stop_bg periph INT
	[[ $REPLY == 0 ]] || e2e_fail "roller-periph exited with $REPLY on SIGINT (periph.log)"
	# The log roller coach names on exit ("Session log: PATH").
	wait_for_line "$E2E_SCENARIO_DIR/coach.log" '^Session log: ' 1 ||
		e2e_fail "roller coach named no session log (coach.log)"
	session=${REPLY#Session log: }
	[[ -f $session ]] || e2e_fail "roller coach named $session, which is not there"
	cp "$session" "$E2E_SCENARIO_DIR/session.rlog"
	"$E2E_PROBE_BIN" latency "$session" "$stamps" >"$E2E_SCENARIO_DIR/latency.txt" 2>&1 ||
		e2e_fail "e2e_probe latency failed: $(<"$E2E_SCENARIO_DIR/latency.txt")"
	local line key
	line=$(<"$E2E_SCENARIO_DIR/latency.txt")
	e2e_log "$line"
	_fig_field "$line" batches
	((REPLY >= 100)) || e2e_fail "only $REPLY batches matched a timestamp ($line)"
	for key in batches newest_p50_ms newest_p95_ms newest_max_ms oldest_p50_ms oldest_max_ms; do
		_fig_field "$line" "$key"
		e2e_metric "$key" "$REPLY"
	done
}

e2e_scenario fig_sync_flood 300 "figure: roller sync throughput as a ratio to a raw Log notification flood"
scenario_fig_sync_flood() {
	e2e_require_bin ROLLER_BIN ROLLER_PERIPH_BIN E2E_PROBE_BIN
	local line flood_rate bytes secs saved
	# 1. The ceiling: Log chunks as fast as roller-periph can hand them to BlueZ.
	start_periph --seed "$E2E_FIG_SEED" --flood "$E2E_FIG_FLOOD_BYTES"
	timeout -k 5 150 "$E2E_PROBE_BIN" flood --adapter "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" \
		"$E2E_FIG_FLOOD_BYTES" >"$E2E_SCENARIO_DIR/flood.txt" 2>&1 ||
		e2e_fail "e2e_probe flood failed: $(<"$E2E_SCENARIO_DIR/flood.txt")"
	line=$(<"$E2E_SCENARIO_DIR/flood.txt")
	e2e_log "$line"
	_fig_field "$line" bytes_per_s
	flood_rate=$REPLY
	[[ $flood_rate =~ ^[0-9]+$ ]] && ((flood_rate > 0)) || e2e_fail "no flood rate in: $line"
	e2e_metric flood_bytes_per_s "$flood_rate"
	_fig_field "$line" lost
	e2e_metric flood_lost_bytes "$REPLY"
	stop_bg periph INT

	# 2. A sync of a session recorded with no host (the whole default plan
	# of the simulated person, then the empty roller until it stops).
	start_periph --seed "$E2E_FIG_SEED" --prerecord --storage "$E2E_SCENARIO_DIR/flash.bin"
	wait_for_line "$E2E_SCENARIO_DIR/periph.log" 'prerecorded .* \(1 session\)' 5 ||
		e2e_fail "roller-periph --prerecord did not record one session (periph.log)"
	run_roller sync 150 sync --json --wait 60 "$E2E_PERIPHERAL_ADDR" ||
		e2e_fail "roller sync exited with $E2E_STATUS (sync.log)"
	wait_for_line "$E2E_SCENARIO_DIR/sync.log" '"summary"' 1 || e2e_fail "no JSON summary (sync.log)"
	line=$REPLY
	[[ $line =~ \"sessions_saved\":\ *([0-9]+) ]] && saved=${BASH_REMATCH[1]}
	[[ $line =~ \"bytes\":\ *([0-9]+) ]] && bytes=${BASH_REMATCH[1]}
	[[ $line =~ \"download_seconds\":\ *([0-9.e-]+) ]] && secs=${BASH_REMATCH[1]}
	[[ ${saved:-0} == 1 ]] || e2e_fail "roller sync saved ${saved:-no} sessions, expected the prerecorded one ($line)"
	[[ -n ${bytes:-} && -n ${secs:-} ]] || e2e_fail "no bytes / download_seconds in: $line"
	e2e_metric sync_bytes "$bytes"
	e2e_metric sync_download_s "$secs"
	awk -v b="$bytes" -v s="$secs" -v f="$flood_rate" 'BEGIN {
		if (s <= 0) exit 1
		printf "sync_bytes_per_s=%.0f ratio_to_flood=%.3f\n", b / s, b / s / f
	}' >"$E2E_SCENARIO_DIR/ratio.txt" || e2e_fail "download took no time: $line"
	line=$(<"$E2E_SCENARIO_DIR/ratio.txt")
	e2e_log "$line"
	_fig_field "$line" sync_bytes_per_s
	e2e_metric sync_bytes_per_s "$REPLY"
	_fig_field "$line" ratio_to_flood
	e2e_metric sync_ratio_to_flood "$REPLY"
}
